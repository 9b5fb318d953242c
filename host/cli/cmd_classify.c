/*
 * cmd_classify.c - `ifscore classify`: the first end-to-end use of the
 * engine. Reads texts (one per line, or JSONL records with --field), runs
 * the checkpoint's tokenizer and BertForSequenceClassification on the chosen
 * backend, and prints each text's label and class probabilities, in input
 * order.
 *
 * Decisions:
 *   - Small and sequential on purpose: read a batch of lines, tokenize,
 *     forward, print. Throughput work (sorted batches, worker threads,
 *     shards) is `ifscore score`'s; this command is for trying a model and
 *     for checking results by eye or by script.
 *   - No line is dropped: one that cannot be classified (not JSON, field
 *     missing, invalid UTF-8, non-finite logits) gets an error line in its
 *     place with the reason (the record module's reject names), and the exit
 *     code is 3 (data check failed) when there was any.
 *   - Probabilities are the softmax of the logits, computed in double.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_backend.h"
#include "ifs_cli.h"
#include "ifs_record.h"
#include "ifs_tok.h"
#include "ifs_wts.h"

#define BATCH_SEQS 64

static void usage(FILE *f)
{
    fputs("usage: ifscore classify --model DIR [options] [FILE...]\n"
          "\n"
          "Classifies texts with a BertForSequenceClassification checkpoint and prints\n"
          "each text's label and class probabilities, in input order. Reads FILEs, or\n"
          "standard input when none is given (or FILE is -).\n"
          "\n"
          "  --model DIR          checkpoint folder (config.json, model.safetensors, vocab.txt)\n"
          "  --backend cpu|cuda   where the model runs (default cpu)\n"
          "  --threads N          cpu threads (default 0 = all cores)\n"
          "  --max-len N          truncate to N tokens incl. [CLS]/[SEP] (default: the\n"
          "                       tokenizer's model_max_length, at most max_position_embeddings)\n"
          "  --field NAME         input is JSONL; classify the string field NAME\n"
          "                       (default: each line is a text)\n"
          "  --instruction-field NAME   JSONL, pair classifiers: NAME holds the instruction,\n"
          "                       --field the response: [CLS] instruction [SEP] response\n"
          "                       [SEP], token types 0/1, the instruction cut first to the\n"
          "                       checkpoint's ifs_instruction_max_tokens. Required by a\n"
          "                       pair checkpoint (config.json \"ifs_input\": \"pair\"),\n"
          "                       refused by any other. --pair-field is the same option\n"
          "  --format text|jsonl  output: 'LABEL<TAB>p(LABEL)<TAB>name=p ...' (default) or one\n"
          "                       JSON object per input line\n"
          "  --help\n"
          "\n"
          "A line that cannot be classified gets an error line in its place\n"
          "('ERROR<TAB>reason<TAB>detail', or {\"line\":N,\"error\":...}); the exit code is\n"
          "then 3. Exit codes: 0 ok, 1 failure, 2 usage, 3 some lines not classified.\n",
          f);
}

typedef struct {
    /* setup */
    const ifs_tok *tok;
    ifs_tok_state *st;
    ifs_backend *be;
    const ifs_bert_config *cfg;
    int max_len;
    int jsonl_in, jsonl_out;
    ifs_record_schema sch;
    ifs_record rec;
    /* one batch */
    int n; /* lines in the batch */
    unsigned long long line_no[BATCH_SEQS];
    char err[BATCH_SEQS][256]; /* "" = classified */
    int32_t n_ids[BATCH_SEQS];
    int truncated[BATCH_SEQS];
    int32_t *ids, *types; /* [BATCH_SEQS * max_len] */
    int32_t *pids, *ptypes, off[BATCH_SEQS + 1];
    float *logits;
    unsigned long long n_ok, n_err;
} classify;

static void set_err(classify *c, int i, const char *reason, const char *detail)
{
    snprintf(c->err[i], sizeof c->err[i], "%s\t%s", reason, detail ? detail : "");
}

/* Tokenizes one input line into slot c->n. */
static void add_line(classify *c, const char *line, size_t len, unsigned long long line_no)
{
    int i = c->n++;
    c->line_no[i] = line_no;
    c->err[i][0] = '\0';
    c->n_ids[i] = 0;
    const char *text = line, *pair = NULL;
    size_t text_len = len, pair_len = 0;
    if (c->jsonl_in) {
        ifs_reject_reason why = ifs_record_parse(&c->rec, &c->sch, line, len);
        if (why) {
            set_err(c, i, ifs_reject_name(why), c->rec.detail);
            return;
        }
        text = c->rec.text;
        text_len = c->rec.text_len;
        pair = c->rec.pair;
        pair_len = c->rec.pair_len;
    }
    int32_t *ids = c->ids + (size_t)i * c->max_len, *ty = c->types + (size_t)i * c->max_len;
    ifs_tok_result r;
    int bad_in_b = 0, rc;
    if (pair)
        rc = ifs_tok_encode_pair_cap(c->tok, c->st, pair, pair_len, text, text_len, c->max_len,
                                     c->cfg->instruction_max_tokens, ids, ty, &c->n_ids[i], &r,
                                     &bad_in_b);
    else
        rc = ifs_tok_encode(c->tok, c->st, text, text_len, c->max_len, ids, ty, &c->n_ids[i], &r);
    if (rc == IFS_TOK_EUTF8) {
        char d[128];
        snprintf(d, sizeof d, "invalid UTF-8 at byte %zu of the %s", r.bad_offset,
                 pair ? (bad_in_b ? "text" : "instruction") : "text");
        set_err(c, i, "invalid_utf8", d);
    } else if (rc) {
        set_err(c, i, "tokenizer_error", ifs_tok_strerror(rc));
    } else {
        c->truncated[i] = r.truncated;
    }
    if (c->jsonl_in)
        ifs_record_clear(&c->rec);
}

static void print_json_string(const char *s)
{
    char buf[512];
    size_t need = ifs_json_escape(buf, sizeof buf, s, strlen(s));
    if (need < sizeof buf) {
        printf("\"%s\"", buf);
        return;
    }
    char *big = malloc(need + 1);
    if (!big) {
        fputs("\"\"", stdout);
        return;
    }
    ifs_json_escape(big, need + 1, s, strlen(s));
    printf("\"%s\"", big);
    free(big);
}

/* Runs the batch and prints it in input order. Returns 0 or a backend code. */
static int flush(classify *c)
{
    if (c->n == 0)
        return 0;
    int C = c->cfg->num_labels, S = 0;
    int32_t T = 0;
    c->off[0] = 0;
    for (int i = 0; i < c->n; i++) {
        if (c->err[i][0])
            continue;
        memcpy(c->pids + T, c->ids + (size_t)i * c->max_len, sizeof(int32_t) * c->n_ids[i]);
        memcpy(c->ptypes + T, c->types + (size_t)i * c->max_len, sizeof(int32_t) * c->n_ids[i]);
        T += c->n_ids[i];
        c->off[++S] = T;
    }
    if (S > 0) {
        ifs_batch b = {.n_seqs = S,
                       .n_tokens = T,
                       .input_ids = c->pids,
                       .type_ids = c->ptypes,
                       .seq_off = c->off};
        int rc = ifs_backend_forward(c->be, &b, c->logits, NULL);
        if (rc) {
            ifs_cli_fail("classify", IFS_EXIT_FAIL, "%s backend: %s", ifs_backend_kind(c->be),
                         ifs_backend_error(c->be));
            return rc;
        }
    }
    int s = 0;
    for (int i = 0; i < c->n; i++) {
        double p[IFS_MAX_LABELS] = {0};
        const float *lg = NULL;
        if (!c->err[i][0]) {
            lg = c->logits + (size_t)s++ * C;
            int finite = 1;
            for (int k = 0; k < C; k++)
                finite &= isfinite(lg[k]) != 0;
            if (!finite)
                set_err(c, i, "nonfinite_logits", "the model produced NaN or Inf");
        }
        if (c->err[i][0]) {
            c->n_err++;
            char *tab = strchr(c->err[i], '\t');
            *tab = '\0';
            if (c->jsonl_out) {
                printf("{\"line\":%llu,\"error\":", c->line_no[i]);
                print_json_string(c->err[i]);
                fputs(",\"detail\":", stdout);
                print_json_string(tab + 1);
                fputs("}\n", stdout);
            } else {
                printf("ERROR\t%s\t%s\n", c->err[i], tab + 1);
            }
            continue;
        }
        c->n_ok++;
        double mx = lg[0], sum = 0;
        int best = 0;
        for (int k = 1; k < C; k++)
            if (lg[k] > lg[best])
                best = k;
        mx = lg[best];
        for (int k = 0; k < C; k++)
            sum += (p[k] = exp((double)lg[k] - mx));
        for (int k = 0; k < C; k++)
            p[k] /= sum;
        if (c->jsonl_out) {
            printf("{\"line\":%llu,\"label\":", c->line_no[i]);
            print_json_string(c->cfg->labels[best]);
            printf(",\"label_id\":%d,\"probs\":[", best);
            for (int k = 0; k < C; k++)
                printf("%s%.6g", k ? "," : "", p[k]);
            fputs("],\"logits\":[", stdout);
            for (int k = 0; k < C; k++)
                printf("%s%.9g", k ? "," : "", lg[k]);
            printf("],\"n_tokens\":%d,\"truncated\":%s}\n", c->n_ids[i],
                   c->truncated[i] ? "true" : "false");
        } else {
            printf("%s\t%.6f\t", c->cfg->labels[best], p[best]);
            for (int k = 0; k < C; k++)
                printf("%s%s=%.6f", k ? " " : "", c->cfg->labels[k], p[k]);
            putchar('\n');
        }
    }
    c->n = 0;
    return 0;
}

static int classify_stream(classify *c, FILE *in, const char *name)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned long long no = 0;
    int rc = 0;
    errno = 0;
    while ((got = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)got;
        no++;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        add_line(c, line, len, no);
        if (c->n == BATCH_SEQS && (rc = flush(c)))
            break;
    }
    if (!rc && ferror(in))
        rc = ifs_cli_fail("classify", IFS_EXIT_FAIL, "%s: read error: %s", name, strerror(errno));
    if (!rc)
        rc = flush(c);
    free(line);
    return rc ? IFS_EXIT_FAIL : 0;
}

int ifs_cmd_classify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"backend", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},
        {"max-len", required_argument, NULL, 'L'},
        {"field", required_argument, NULL, 'f'},
        {"pair-field", required_argument, NULL, 'p'},
        {"instruction-field", required_argument, NULL, 'p'},
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *backend = "cpu", *field = NULL, *pair_field = NULL;
    const char *format = "text";
    long threads = 0, max_len = 0;
    char *end;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': model = optarg; break;
        case 'b': backend = optarg; break;
        case 't':
            threads = strtol(optarg, &end, 10);
            if (*end || end == optarg || threads < 0 || threads > 1024)
                return ifs_cli_fail("classify", IFS_EXIT_USAGE, "--threads wants 0..1024, got '%s'",
                                    optarg);
            break;
        case 'L':
            max_len = strtol(optarg, &end, 10);
            if (*end || end == optarg || max_len < 2 || max_len > 1 << 20)
                return ifs_cli_fail("classify", IFS_EXIT_USAGE,
                                    "--max-len wants a number >= 2, got '%s'", optarg);
            break;
        case 'f': field = optarg; break;
        case 'p': pair_field = optarg; break;
        case 'F': format = optarg; break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (!model) {
        usage(stderr);
        return ifs_cli_fail("classify", IFS_EXIT_USAGE, "--model DIR is required");
    }
    if (strcmp(format, "text") && strcmp(format, "jsonl"))
        return ifs_cli_fail("classify", IFS_EXIT_USAGE, "--format wants text or jsonl, got '%s'",
                            format);
    if (strcmp(backend, "cpu") && strcmp(backend, "cuda"))
        return ifs_cli_fail("classify", IFS_EXIT_USAGE, "--backend wants cpu or cuda, got '%s'",
                            backend);
    if (pair_field && !field)
        return ifs_cli_fail("classify", IFS_EXIT_USAGE,
                            "--instruction-field (--pair-field) needs --field (JSONL input)");
    if (pair_field && !*pair_field)
        return ifs_cli_fail("classify", IFS_EXIT_USAGE,
                            "--instruction-field: expected a field name");

    classify c;
    memset(&c, 0, sizeof c);
    c.jsonl_in = field != NULL;
    c.jsonl_out = !strcmp(format, "jsonl");
    char err[1024];
    if (c.jsonl_in) {
        ifs_record_schema_init(&c.sch);
        if (ifs_record_schema_set_field(&c.sch, IFS_FIELD_TEXT, field, err, sizeof err) ||
            ifs_record_schema_set_field(&c.sch, IFS_FIELD_ID, "", err, sizeof err) ||
            ifs_record_schema_set_field(&c.sch, IFS_FIELD_TYPE, "", err, sizeof err) ||
            (pair_field &&
             ifs_record_schema_set_field(&c.sch, IFS_FIELD_PAIR, pair_field, err, sizeof err)))
            return ifs_cli_fail("classify", IFS_EXIT_USAGE, "%s", err);
        c.sch.n_group_fields = 0; /* classify groups nothing */
        ifs_record_init(&c.rec);
    }

    int exit_code = IFS_EXIT_FAIL;
    ifs_wts_model *m = ifs_wts_load(model, 0, err, sizeof err);
    ifs_tok *tok = NULL;
    if (!m) {
        ifs_cli_fail("classify", IFS_EXIT_FAIL, "%s", err);
        goto done;
    }
    c.cfg = &ifs_wts_weights(m)->cfg;
    /* The checkpoint decides the input, as in score. */
    if (c.cfg->pair_input && !pair_field) {
        ifs_cli_fail("classify", IFS_EXIT_USAGE,
                     "%s is a pair classifier (its config.json says \"ifs_input\": \"pair\"): "
                     "give --field RESPONSE --instruction-field INSTRUCTION (JSONL input)",
                     model);
        exit_code = IFS_EXIT_USAGE;
        goto done;
    }
    if (!c.cfg->pair_input && pair_field) {
        ifs_cli_fail("classify", IFS_EXIT_USAGE,
                     "--instruction-field %s: %s reads the response alone (its config.json has "
                     "no \"ifs_input\": \"pair\"); leave --instruction-field out, or use a "
                     "pair classifier",
                     pair_field, model);
        exit_code = IFS_EXIT_USAGE;
        goto done;
    }
    tok = ifs_tok_load(model, NULL, err, sizeof err);
    if (!tok) {
        ifs_cli_fail("classify", IFS_EXIT_FAIL, "%s", err);
        goto done;
    }
    if (ifs_tok_vocab_size(tok) > c.cfg->vocab_size) {
        ifs_cli_fail("classify", IFS_EXIT_FAIL,
                     "%s: the vocabulary has %d tokens but the model only %d embeddings", model,
                     ifs_tok_vocab_size(tok), c.cfg->vocab_size);
        goto done;
    }
    if (max_len == 0) {
        max_len = ifs_tok_get_config(tok)->model_max_length;
        if (max_len <= 0 || max_len > c.cfg->max_position)
            max_len = c.cfg->max_position;
    } else if (max_len > c.cfg->max_position) {
        ifs_cli_fail("classify", IFS_EXIT_USAGE,
                     "--max-len %ld is more than the model's %d positions", max_len,
                     c.cfg->max_position);
        exit_code = IFS_EXIT_USAGE;
        goto done;
    }
    if (pair_field && max_len < 3) {
        ifs_cli_fail("classify", IFS_EXIT_USAGE,
                     "--max-len %ld: a pair needs at least 3 ([CLS] [SEP] [SEP])", max_len);
        exit_code = IFS_EXIT_USAGE;
        goto done;
    }
    c.max_len = (int)max_len;
    c.tok = tok;
    c.st = ifs_tok_state_create(tok);
    size_t cap = (size_t)BATCH_SEQS * c.max_len;
    c.ids = malloc(cap * sizeof *c.ids);
    c.types = malloc(cap * sizeof *c.types);
    c.pids = malloc(cap * sizeof *c.pids);
    c.ptypes = malloc(cap * sizeof *c.ptypes);
    c.logits = malloc((size_t)BATCH_SEQS * c.cfg->num_labels * sizeof *c.logits);
    if (!c.st || !c.ids || !c.types || !c.pids || !c.ptypes || !c.logits) {
        ifs_cli_fail("classify", IFS_EXIT_FAIL, "out of memory");
        goto done;
    }
    ifs_backend_opts bo = ifs_backend_default_opts();
    bo.n_threads = (int)threads;
    bo.max_batch_tokens = (int32_t)cap;
    bo.max_batch_seqs = BATCH_SEQS;
    if (ifs_backend_create(backend, ifs_wts_weights(m), &bo, &c.be, err, sizeof err)) {
        ifs_cli_fail("classify", IFS_EXIT_FAIL, "%s", err);
        goto done;
    }

    exit_code = IFS_EXIT_OK;
    if (optind >= argc) {
        exit_code = classify_stream(&c, stdin, "<stdin>");
    } else {
        for (int i = optind; i < argc && exit_code == IFS_EXIT_OK; i++) {
            if (!strcmp(argv[i], "-")) {
                exit_code = classify_stream(&c, stdin, "<stdin>");
                continue;
            }
            FILE *f = fopen(argv[i], "rb");
            if (!f) {
                exit_code =
                    ifs_cli_fail("classify", IFS_EXIT_FAIL, "%s: %s", argv[i], strerror(errno));
                break;
            }
            exit_code = classify_stream(&c, f, argv[i]);
            fclose(f);
        }
    }
    if (fflush(stdout) && exit_code == IFS_EXIT_OK)
        exit_code =
            ifs_cli_fail("classify", IFS_EXIT_FAIL, "writing the output: %s", strerror(errno));
    fprintf(stderr, "ifscore classify: %llu classified, %llu not classified\n", c.n_ok, c.n_err);
    if (exit_code == IFS_EXIT_OK && c.n_err)
        exit_code = IFS_EXIT_DATA;

done:
    ifs_backend_free(c.be);
    ifs_tok_state_free(c.st);
    ifs_tok_free(tok);
    ifs_wts_free(m);
    if (c.jsonl_in)
        ifs_record_clear(&c.rec);
    free(c.ids);
    free(c.types);
    free(c.pids);
    free(c.ptypes);
    free(c.logits);
    return exit_code;
}
