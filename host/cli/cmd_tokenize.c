/*
 * cmd_tokenize.c - `ifscore tokenize`: a checkpoint's tokenizer on text lines
 * or JSONL records, printing ids (or tokens) one line per input line. It is
 * the README's first step and a way to compare with HF by hand:
 *
 *     ifscore tokenize --model .cache/models/all-MiniLM-L6-v2 - <<< "Hello, world!"
 *     101 7592 1010 2088 999 102
 *
 * A line that cannot be tokenized (invalid UTF-8, bad JSON, missing field)
 * still gets its output line, empty, so outputs stay aligned with inputs; the
 * reason goes to stderr with the line number, and the exit code is 3.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ifs_cli.h"
#include "ifs_io.h"
#include "ifs_tok.h"
#include "ifs_wts.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: ifscore tokenize --model DIR [options] FILE|-\n\n"
               "Tokenizes each line of FILE (or stdin) exactly as HF BertTokenizerFast does with\n"
               "the checkpoint's vocab.txt / tokenizer_config.json, and prints one line per\n"
               "input line: [CLS] ... [SEP] ids, truncated to the max length.\n\n"
               "options:\n"
               "  --model DIR          checkpoint folder (vocab.txt or tokenizer.json)\n"
               "  --max-len N          truncate to N ids incl. specials (default: the\n"
               "                       checkpoint's model_max_length)\n"
               "  --field NAME         input is JSONL; tokenize the string field NAME\n"
               "  --instruction-field NAME  with --field: encode (NAME, --field) as a pair, as\n"
               "                       score and classify feed a pair checkpoint: the\n"
               "                       instruction first, cut to the checkpoint's\n"
               "                       ifs_instruction_max_tokens (config.json), then\n"
               "                       longest_first\n"
               "  --instruction-max-tokens K  the instruction's cap instead (0: none)\n"
               "  --pair-field NAME    with --field: encode (--field, NAME) as a pair, the\n"
               "                       --field text first, truncated longest_first\n"
               "  --tokens             print tokens instead of ids\n"
               "  --type-ids           append ' |' and the token type ids\n"
               "  --cased              force do_lower_case=false (and no accent stripping)\n"
               "  -h, --help           this help\n\n"
               "Exit codes: 0 ok, 1 failure (model, file), 2 usage, 3 some lines were rejected.\n");
}

/* Field NAME of a JSON object line as a string with its true length. cJSON
 * ends strings at an escaped NUL, so a field holding \u0000 is refused rather
 * than silently cut. Returns NULL with *why set. */
static const char *json_field(const cJSON *obj, const char *name, const char *line,
                              const char **why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) {
        *why = "field missing";
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        *why = "field is not a string";
        return NULL;
    }
    if (strstr(line, "\\u0000")) {
        *why = "text contains \\u0000 (would be cut short)";
        return NULL;
    }
    return v->valuestring;
}

int ifs_cmd_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"max-len", required_argument, NULL, 'l'},
        {"field", required_argument, NULL, 'f'},
        {"pair-field", required_argument, NULL, 'p'},
        {"instruction-field", required_argument, NULL, 'i'},
        {"instruction-max-tokens", required_argument, NULL, 'k'},
        {"tokens", no_argument, NULL, 't'},
        {"type-ids", no_argument, NULL, 'y'},
        {"cased", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *field = NULL, *pair = NULL, *instr = NULL;
    long max_len = 0, icap = -1;
    int tokens = 0, show_types = 0, cased = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'l': {
            char *end;
            max_len = strtol(optarg, &end, 10);
            if (*end || max_len < 2 || max_len > 1 << 20) {
                fprintf(stderr, "ifscore tokenize: --max-len wants an integer from 2 to %d\n",
                        1 << 20);
                return IFS_EXIT_USAGE;
            }
            break;
        }
        case 'f': field = optarg; break;
        case 'p': pair = optarg; break;
        case 'i': instr = optarg; break;
        case 'k': {
            char *end;
            icap = strtol(optarg, &end, 10);
            if (*end || !*optarg || icap < 0 || icap > 1 << 20) {
                fprintf(stderr,
                        "ifscore tokenize: --instruction-max-tokens wants an integer "
                        "from 0 to %d\n",
                        1 << 20);
                return IFS_EXIT_USAGE;
            }
            break;
        }
        case 't': tokens = 1; break;
        case 'y': show_types = 1; break;
        case 'c': cased = 1; break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (!model || optind != argc - 1) {
        fprintf(stderr, "ifscore tokenize: need --model DIR and one input (FILE or -)\n");
        usage(stderr);
        return IFS_EXIT_USAGE;
    }
    if ((pair || instr) && !field) {
        fprintf(stderr, "ifscore tokenize: --%s needs --field\n",
                pair ? "pair-field" : "instruction-field");
        return IFS_EXIT_USAGE;
    }
    if (pair && instr) {
        fprintf(stderr, "ifscore tokenize: --pair-field and --instruction-field are two orders "
                        "of one pair; give one\n");
        return IFS_EXIT_USAGE;
    }
    if (icap >= 0 && !instr) {
        fprintf(stderr, "ifscore tokenize: --instruction-max-tokens needs --instruction-field\n");
        return IFS_EXIT_USAGE;
    }
    if ((pair || instr) && max_len == 2) {
        fprintf(stderr, "ifscore tokenize: a pair needs --max-len of at least 3\n");
        return IFS_EXIT_USAGE;
    }
    char err[1024];
    if (instr && icap < 0) { /* the checkpoint's own cap, as score uses it */
        char path[4096], *json = NULL;
        size_t jlen = 0;
        snprintf(path, sizeof path, "%s/config.json", model);
        icap = 0;
        if (access(path, F_OK) == 0) {
            ifs_bert_config cfg;
            if (ifs_io_read_file(path, 1 << 20, &json, &jlen, err, sizeof err) ||
                ifs_wts_parse_config(json, jlen, path, &cfg, err, sizeof err)) {
                free(json);
                fprintf(stderr, "ifscore tokenize: %s\n", err);
                return IFS_EXIT_FAIL;
            }
            free(json);
            icap = cfg.instruction_max_tokens;
        }
    }
    if (instr) { /* the instruction is the first text of the pair, --field the second */
        pair = field;
        field = instr;
    }
    ifs_tok_config ov = {cased ? 0 : -1, cased ? 0 : -1, -1, -1};
    ifs_tok *tok = ifs_tok_load(model, &ov, err, sizeof err);
    if (!tok) {
        fprintf(stderr, "ifscore tokenize: %s\n", err);
        return IFS_EXIT_FAIL;
    }
    const char *in_path = argv[optind];
    FILE *in = strcmp(in_path, "-") ? fopen(in_path, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "ifscore tokenize: cannot open %s\n", in_path);
        ifs_tok_free(tok);
        return IFS_EXIT_FAIL;
    }
    int32_t ml = max_len ? (int32_t)max_len : ifs_tok_get_config(tok)->model_max_length;
    if (ml > 1 << 20)
        ml = 1 << 20; /* checkpoints that say "no limit" (1e30) */
    int32_t *ids = malloc((size_t)ml * sizeof(int32_t));
    int32_t *types = malloc((size_t)ml * sizeof(int32_t));
    ifs_tok_state *st = ifs_tok_state_create(tok);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0, rejected = 0;
    int rc = IFS_EXIT_OK;
    if (!ids || !types || !st) {
        fprintf(stderr, "ifscore tokenize: out of memory\n");
        rc = IFS_EXIT_FAIL;
        goto done;
    }
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        line[len] = 0;
        const char *a = line, *b = NULL, *why = NULL, *bad_field = field;
        size_t alen = len, blen = 0;
        cJSON *obj = NULL;
        if (field) {
            obj = cJSON_ParseWithLength(line, len);
            if (!cJSON_IsObject(obj)) {
                why = "not a JSON object";
            } else if ((a = json_field(obj, field, line, &why))) {
                alen = strlen(a);
                bad_field = pair;
                if (pair && (b = json_field(obj, pair, line, &why)))
                    blen = strlen(b);
            }
        }
        int32_t cnt = 0;
        ifs_tok_result res;
        int bad_b = 0, trc = IFS_TOK_OK;
        if (!why) {
            trc = b ? ifs_tok_encode_pair_cap(tok, st, a, alen, b, blen, ml,
                                              icap > 0 ? (int32_t)icap : 0, ids, types, &cnt, &res,
                                              &bad_b)
                    : ifs_tok_encode(tok, st, a, alen, ml, ids, types, &cnt, &res);
        }
        if (why || trc) {
            rejected++;
            if (why)
                fprintf(stderr, "ifscore tokenize: line %ld: %s%s%s\n", lineno, why,
                        field ? " for " : "", field ? bad_field : "");
            else if (trc == IFS_TOK_EUTF8)
                fprintf(stderr, "ifscore tokenize: line %ld: invalid UTF-8 at byte %zu of %s\n",
                        lineno, res.bad_offset, field ? (bad_b ? pair : field) : "the line");
            else
                fprintf(stderr, "ifscore tokenize: line %ld: %s\n", lineno, ifs_tok_strerror(trc));
            putchar('\n');
        } else {
            for (int32_t i = 0; i < cnt; i++) {
                if (i)
                    putchar(' ');
                if (tokens)
                    fputs(ifs_tok_id_to_token(tok, ids[i]), stdout);
                else
                    printf("%d", ids[i]);
            }
            if (show_types) {
                fputs(" |", stdout);
                for (int32_t i = 0; i < cnt; i++)
                    printf(" %d", types[i]);
            }
            putchar('\n');
        }
        cJSON_Delete(obj);
        if (trc == IFS_TOK_ENOMEM) {
            rc = IFS_EXIT_FAIL;
            break;
        }
    }
    if (ferror(in)) {
        fprintf(stderr, "ifscore tokenize: read error on %s\n", in_path);
        rc = IFS_EXIT_FAIL;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "ifscore tokenize: write error\n");
        rc = IFS_EXIT_FAIL;
    }
    if (rc == IFS_EXIT_OK && rejected) {
        fprintf(stderr, "ifscore tokenize: %ld of %ld lines rejected\n", rejected, lineno);
        rc = IFS_EXIT_DATA;
    }
done:
    free(line);
    free(ids);
    free(types);
    ifs_tok_state_free(st);
    ifs_tok_free(tok);
    if (in != stdin)
        fclose(in);
    return rc;
}
