/*
 * cmd_train_head.c - `ifscore train-head`: argv, progress and the report;
 * the work is in the libraries.
 *
 * train-head turns a pretrained BERT-family encoder and a response set
 * (`ifscore build-responses`: JSONL records with text, label 0/1, split
 * train|validation|test and kind R|Ic|Ic+R) into a complete HF
 * BertForSequenceClassification checkpoint whose head (and with
 * --train-layers N its top N encoder layers) ifscore trained:
 *
 *   1. tokenize every record, the response alone or with
 *      --instruction-field the (instruction, response) pair (ifs_rset.h;
 *      truncated to --max-len, which becomes the checkpoint's
 *      model_max_length, so scoring sees what training saw);
 *   2. compute once, with our own forward pass (cpu or cuda), the last
 *      layer's [CLS] rows, or every row entering the lowest trained layer
 *      (ifs_rset_features; cached with --features);
 *   3. train on the train split on the CPU backend's forward, early
 *      stopping on validation (ifs_train.h), and report test accuracy /
 *      precision / recall, also per kind of negative (Ic versus Ic+R);
 *   4. write the checkpoint and with --head-out the head alone
 *      (ifs_train_net_write_checkpoint / ifs_train_net_write_head) with
 *      train_report.json: the part that goes into a repository, since the
 *      encoder has its own source.
 *
 * attach-head (cmd_attach_head.c) joins such a head folder with its
 * encoder into a complete checkpoint.
 */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ifs_backend.h"
#include "ifs_buf.h"
#include "ifs_cli.h"
#include "ifs_time.h"
#include "ifs_version.h"
#include "ifs_io.h"
#include "ifs_rset.h"
#include "ifs_sha256.h"
#include "ifs_tok.h"
#include "ifs_train.h"
#include "ifs_wts.h"

/* CPU seconds of this process (all threads): on a shared machine the wall
 * time says more about the other jobs than about training. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- metrics and report ---------------------------------------------- */

static void add_metrics(cJSON *obj, const float *p1, const int32_t *y, const uint8_t *mask,
                        size_t n)
{
    ifs_train_confusion c = ifs_train_confusion_count(p1, y, mask, n);
    cJSON_AddNumberToObject(obj, "n", (double)(c.tp + c.fp + c.tn + c.fn));
    cJSON_AddNumberToObject(obj, "accuracy", round(ifs_train_confusion_accuracy(&c) * 1e6) / 1e6);
    cJSON_AddNumberToObject(obj, "precision", round(ifs_train_confusion_precision(&c) * 1e6) / 1e6);
    cJSON_AddNumberToObject(obj, "recall", round(ifs_train_confusion_recall(&c) * 1e6) / 1e6);
    cJSON_AddNumberToObject(obj, "tp", (double)c.tp);
    cJSON_AddNumberToObject(obj, "fp", (double)c.fp);
    cJSON_AddNumberToObject(obj, "tn", (double)c.tn);
    cJSON_AddNumberToObject(obj, "fn", (double)c.fn);
}

/* ---- writing checkpoints ---------------------------------------------- */

/* --predictions: one JSON line per record, in the order read: its file and
 * line, split, label, the trained model's logits (as `classify --format
 * jsonl` prints them: %.9g) and p(answer-like). */
static int write_predictions(const char *path, const ifs_rset *d, const char *const *data,
                             const float *logits, char *err, size_t errlen)
{
    static const char *const split_names[IFS_N_SPLITS] = {"train", "validation", "test", "holdout"};
    ifs_buf b;
    ifs_buf_init(&b);
    for (size_t i = 0; i < d->n; i++) {
        const char *base = strrchr(data[d->file[i]], '/');
        double z0 = logits[2 * i], z1 = logits[2 * i + 1];
        double mx = z0 > z1 ? z0 : z1, p1 = exp(z1 - mx) / (exp(z0 - mx) + exp(z1 - mx));
        ifs_buf_puts(&b, "{\"file\":");
        ifs_buf_jstr(&b, base ? base + 1 : data[d->file[i]]);
        ifs_buf_printf(&b,
                       ",\"line\":%llu,\"split\":\"%s\",\"label\":%d,\"logits\":[%.9g,%.9g],"
                       "\"p\":%.6g}\n",
                       (unsigned long long)d->line[i], split_names[d->split[i]], (int)d->label[i],
                       logits[2 * i], logits[2 * i + 1], p1);
    }
    int rc = b.oom ? (snprintf(err, errlen, "out of memory"), -1)
                   : ifs_io_atomic_write(path, b.p ? b.p : "", b.len, err, errlen);
    ifs_buf_free(&b);
    return rc;
}

/* ---- train-head ------------------------------------------------------- */

typedef struct {
    double t0;
} feat_progress;

static void print_features(void *ctx, size_t done, size_t total)
{
    const feat_progress *p = ctx;
    fprintf(stderr, "\rfeatures: %zu/%zu (%.0f seq/s)   ", done, total,
            done / (ifs_time_now() - p->t0 + 1e-9));
}

/* The report, pretty-printed with a final newline, written atomically. */
static int write_report(const char *path, cJSON *j, char *err, size_t errlen)
{
    char *txt = cJSON_Print(j);
    if (!txt) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = strlen(txt);
    char *buf = realloc(txt, n + 2);
    if (!buf) {
        free(txt);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    buf[n] = '\n';
    int rc = ifs_io_atomic_write(path, buf, n + 1, err, errlen);
    free(buf);
    return rc;
}

static void print_epoch(void *ctx, int epoch, double train_loss, double val_loss, double val_acc)
{
    (void)ctx;
    fprintf(stderr, "train-head: epoch %d  train loss %.4f  validation loss %.4f  accuracy %.4f\n",
            epoch, train_loss, val_loss, val_acc);
}

static void usage_train(FILE *f)
{
    fprintf(
        f,
        "usage: ifscore train-head --encoder DIR --data FILE [--data FILE...] --out DIR "
        "[options]\n\n"
        "Train the pooler and classifier of a BertForSequenceClassification on frozen\n"
        "encoder features (and with --train-layers N the top N encoder layers too), from a\n"
        "response set (ifscore build-responses: JSONL with text, label 0|1, split\n"
        "train|validation|test|holdout, kind R|Ic|Ic+R|...; holdout is neither trained\n"
        "on nor used to stop, and measured apart).\n\n"
        "  --encoder DIR        pretrained BERT checkpoint (config.json, vocab.txt, safetensors)\n"
        "  --data FILE          response set shard(s) (.jsonl or .jsonl.zst); repeatable\n"
        "  --out DIR            write the complete checkpoint here\n"
        "  --head-out DIR       also write the head alone (+ train_report.json)\n"
        "  --report FILE        write the training report (JSON) here too\n"
        "  --predictions FILE   write every record's logits and p(answer-like) under the\n"
        "                       trained model (JSONL: file, line, split, label, logits, p)\n"
        "  --text-field NAME    text field of the records (default text)\n"
        "  --instruction-field NAME  train a pair classifier: each record is encoded as\n"
        "                       [CLS] NAME [SEP] text [SEP] (token types 0/1); a record\n"
        "                       without it is an error. config.json gets \"ifs_input\": \"pair\"\n"
        "  --instruction-max-tokens K  pairs: the instruction is cut to K WordPiece ids\n"
        "                       before the pair is truncated (ifs_instruction_max_tokens)\n"
        "  --max-len N          truncation length, becomes model_max_length (default 128)\n"
        "  --seed N             initialisation and shuffle seed (default 1)\n"
        "  --epochs N           at most N epochs (default 40)\n"
        "  --lr X               AdamW learning rate of the head (default 0.001)\n"
        "  --train-layers N     also fine-tune the top N encoder layers (0 to all), on the\n"
        "                       frozen output of the layers below (computed once); the\n"
        "                       head alone is 0 (default)\n"
        "  --layer-lr X         learning rate of those layers (default 5e-05)\n"
        "  --batch N            minibatch size (default 64)\n"
        "  --patience N         early-stopping patience in epochs (default 4)\n"
        "  --select loss|accuracy  keep the epoch with the lowest validation loss\n"
        "                       (default) or the highest validation accuracy\n"
        "  --backend cpu|cuda   feature backend (default cpu)\n"
        "  --threads N          cpu threads of the features and of training (default: all\n"
        "                       cores; the same bytes at any count)\n"
        "  --max-batch-tokens N token budget of a feature batch (default 8192)\n"
        "  --features FILE      cache of the encoder features (with --train-layers N: the\n"
        "                       rows entering the top N layers): reused when it was made\n"
        "                       from the same encoder and token ids, else (re)written\n"
        "  -h, --help\n");
}

int ifs_cmd_train_head(int argc, char **argv)
{
    const char *enc_dir = NULL, *out = NULL, *head_out = NULL, *report_path = NULL;
    const char *backend = "cpu", *text_field = "text", *feat_path = NULL, *pred_path = NULL;
    const char *instr_field = NULL;
    long instr_max = 0;
    const char *data[64];
    int n_data = 0, max_len = 128, threads = 0, train_layers = 0;
    int32_t max_tokens = 8192;
    ifs_train_opts o = ifs_train_default_opts();
    o.on_epoch = print_epoch;
    static const struct option lo[] = {
        {"encoder", required_argument, 0, 'e'},
        {"data", required_argument, 0, 'd'},
        {"out", required_argument, 0, 'o'},
        {"head-out", required_argument, 0, 'H'},
        {"report", required_argument, 0, 'r'},
        {"text-field", required_argument, 0, 'f'},
        {"max-len", required_argument, 0, 'm'},
        {"seed", required_argument, 0, 's'},
        {"epochs", required_argument, 0, 'E'},
        {"lr", required_argument, 0, 'l'},
        {"batch", required_argument, 0, 'b'},
        {"patience", required_argument, 0, 'p'},
        {"backend", required_argument, 0, 'B'},
        {"threads", required_argument, 0, 't'},
        {"max-batch-tokens", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},
        {"features", required_argument, 0, 'F'},
        {"train-layers", required_argument, 0, 'L'},
        {"layer-lr", required_argument, 0, 'R'},
        {"select", required_argument, 0, 'S'},
        {"predictions", required_argument, 0, 'P'},
        {"instruction-field", required_argument, 0, 'I'},
        {"instruction-max-tokens", required_argument, 0, 'K'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'F': feat_path = optarg; break;
        case 'P': pred_path = optarg; break;
        case 'I': instr_field = optarg; break;
        case 'K': {
            char *end;
            errno = 0;
            instr_max = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || instr_max < 1 || instr_max > (1 << 20)) {
                fprintf(stderr,
                        "ifscore train-head: --instruction-max-tokens %s: expected an "
                        "integer from 1 to 1048576\n",
                        optarg);
                return IFS_EXIT_USAGE;
            }
            break;
        }
        case 'L': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || v > 1000) {
                fprintf(stderr,
                        "ifscore train-head: --train-layers %s: expected 0 or a number "
                        "of encoder layers\n",
                        optarg);
                return IFS_EXIT_USAGE;
            }
            train_layers = (int)v;
            break;
        }
        case 'R': o.layer_lr = strtof(optarg, NULL); break;
        case 'S':
            if (strcmp(optarg, "loss") && strcmp(optarg, "accuracy")) {
                fprintf(stderr, "ifscore train-head: --select %s: expected loss or accuracy\n",
                        optarg);
                return IFS_EXIT_USAGE;
            }
            o.select_accuracy = !strcmp(optarg, "accuracy");
            break;
        case 'e': enc_dir = optarg; break;
        case 'd':
            if (n_data == 64) {
                fprintf(stderr, "ifscore train-head: at most 64 --data\n");
                return IFS_EXIT_USAGE;
            }
            data[n_data++] = optarg;
            break;
        case 'o': out = optarg; break;
        case 'H': head_out = optarg; break;
        case 'r': report_path = optarg; break;
        case 'f': text_field = optarg; break;
        case 'm': max_len = atoi(optarg); break;
        case 's': o.seed = strtoull(optarg, NULL, 10); break;
        case 'E': o.epochs = atoi(optarg); break;
        case 'l': o.lr = strtof(optarg, NULL); break;
        case 'b': o.batch = atoi(optarg); break;
        case 'p': o.patience = atoi(optarg); break;
        case 'B': backend = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'T': max_tokens = (int32_t)atol(optarg); break;
        case 'h': usage_train(stdout); return IFS_EXIT_OK;
        default: usage_train(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (!enc_dir || !out || !n_data || optind != argc || max_len < 2 || o.epochs < 1 || o.lr <= 0 ||
        o.layer_lr <= 0 || o.batch < 1 || o.patience < 1 || max_tokens < max_len ||
        train_layers < 0) {
        usage_train(stderr);
        return IFS_EXIT_USAGE;
    }
    if (instr_max && !instr_field) {
        fprintf(stderr, "ifscore train-head: --instruction-max-tokens needs --instruction-field\n");
        return IFS_EXIT_USAGE;
    }
    const ifs_train_input im = {instr_field != NULL, (int32_t)instr_max};

    char err[1024];
    double t_start = ifs_time_now();
    ifs_wts_model *m = ifs_wts_load(enc_dir, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    if (!m)
        return ifs_cli_fail("train-head", IFS_EXIT_FAIL, "%s", err);
    const ifs_bert_weights *enc = ifs_wts_weights(m);
    int H = enc->cfg.hidden, nl = enc->cfg.n_layers;
    if (train_layers > nl) {
        ifs_wts_free(m);
        fprintf(stderr,
                "ifscore train-head: --train-layers %d: the encoder has %d layers "
                "(0 to %d can be trained)\n",
                train_layers, nl, nl);
        return IFS_EXIT_USAGE;
    }
    if (max_len > enc->cfg.max_position)
        max_len = enc->cfg.max_position;
    ifs_tok_config tc = {-1, -1, -1, max_len};
    ifs_tok *tok = ifs_tok_load(enc_dir, &tc, err, sizeof err);
    if (!tok) {
        ifs_wts_free(m);
        return ifs_cli_fail("train-head", IFS_EXIT_FAIL, "%s", err);
    }
    ifs_tok_state *st = ifs_tok_state_create(tok);

    ifs_rset d = {0};
    int rc = 0;
    const ifs_rset_opts eo = {text_field, instr_field, max_len, (int32_t)instr_max};
    for (int i = 0; i < n_data && rc == 0; i++)
        rc = ifs_rset_load(&d, data[i], i, tok, st, &eo, err, sizeof err);
    ifs_tok_state_free(st);
    if (rc)
        goto fail_early;
    size_t n_split[IFS_N_SPLITS] = {0, 0, 0, 0}, n_pos = 0;
    for (size_t i = 0; i < d.n; i++) {
        n_split[d.split[i]]++;
        n_pos += d.label[i] == 1;
    }
    fprintf(stderr,
            "train-head: %zu examples (train %zu, validation %zu, test %zu, holdout %zu; "
            "%zu answer-like)\n",
            d.n, n_split[0], n_split[1], n_split[2], n_split[3], n_pos);

    /* Features, through a backend over the encoder with a placeholder head
     * (the [CLS] row comes before the pooler, so the head does not matter):
     * the last layer's [CLS] rows, or every row entering the lowest trained
     * layer (after the nl - train_layers frozen ones). */
    const int depth = train_layers ? nl - train_layers : -1;
    const size_t n_rows = ifs_rset_feature_rows(&d, depth);
    float *X = malloc(n_rows * (size_t)H * sizeof *X);
    int64_t *off64 = malloc((d.n + 1) * sizeof *off64);
    for (size_t i = 0; off64 && i <= d.n; i++)
        off64[i] = depth < 0 ? (int64_t)i : d.off[i];
    float *zeros = calloc((size_t)H * H + 4 * (size_t)H, sizeof *zeros);
    ifs_bert_weights fw = *enc;
    fw.cfg.num_labels = 2;
    if (!fw.pool_w) {
        fw.pool_w = zeros;
        fw.pool_b = zeros;
    }
    fw.cls_w = zeros;
    fw.cls_b = zeros;
    ifs_backend_opts bo = ifs_backend_default_opts();
    bo.n_threads = threads;
    bo.max_batch_tokens = max_tokens;
    bo.max_batch_seqs = max_tokens / 2 < 1024 ? max_tokens / 2 : 1024;
    ifs_backend *bk = NULL;
    if (!X || !zeros || !off64) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    if (rc == 0 && ifs_backend_create(backend, &fw, &bo, &bk, err, sizeof err))
        rc = -1;
    double t_feat = ifs_time_now();
    unsigned char fhdr[IFS_RSET_CACHE_HDR];
    ifs_rset_cache_header(&d, depth, (uint32_t)H, ifs_wts_fingerprint(m), fhdr);
    int cached =
        rc == 0 && feat_path && ifs_rset_cache_load(feat_path, fhdr, X, n_rows * (size_t)H);
    if (rc == 0 && !cached) {
        feat_progress fp = {ifs_time_now()};
        rc = ifs_rset_features(bk, &d, H, depth, max_tokens, bo.max_batch_seqs, X,
                               isatty(2) ? print_features : NULL, &fp, err, sizeof err);
        if (isatty(2))
            fputc('\n', stderr);
        if (rc == 0 && feat_path)
            rc = ifs_rset_cache_save(feat_path, fhdr, X, n_rows * (size_t)H, err, sizeof err);
    }
    t_feat = ifs_time_now() - t_feat;
    ifs_backend_free(bk);
    if (rc) {
        free(X);
        free(zeros);
        free(off64);
        goto fail_early;
    }
    if (cached)
        fprintf(stderr, "train-head: features from %s\n", feat_path);
    else
        fprintf(stderr, "train-head: features in %.1f s (%.0f seq/s)\n", t_feat,
                d.n / (t_feat + 1e-9));

    /* Train the top train_layers layers and the head (the head alone when
     * 0), on the CPU backend's forward (ifs_train.h). */
    ifs_train_net t;
    ifs_train_log log;
    double t_train = ifs_time_now(), c_train = cpu_s();
    if (ifs_train_net_alloc(&t, &enc->cfg, train_layers)) {
        free(X);
        free(zeros);
        free(off64);
        snprintf(err, sizeof err, "out of memory");
        goto fail_early;
    }
    ifs_train_net_init(&t, &enc->cfg, enc->layers + (nl - train_layers), enc->pool_w, enc->pool_b,
                       o.seed);
    t.n_threads = bo.n_threads > 0 ? bo.n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    rc = ifs_train_top(&enc->cfg, X, off64, d.label, d.split, d.n, &o, &t, &log, err, sizeof err);
    t_train = ifs_time_now() - t_train;
    c_train = cpu_s() - c_train;
    if (rc) {
        free(X);
        free(zeros);
        free(off64);
        ifs_train_net_free(&t);
        goto fail_early;
    }

    /* Evaluate. */
    float *p1 = malloc(d.n * sizeof *p1);
    uint8_t *mask = malloc(d.n);
    cJSON *rep = cJSON_CreateObject();
    if (!p1 || !mask || !rep) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    if (rc == 0) {
        ifs_train_net_predict(&t, &enc->cfg, X, off64, d.n, p1);
        cJSON_AddStringToObject(rep, "ifscore", ifs_version());
        cJSON_AddStringToObject(rep, "encoder_fingerprint", ifs_wts_fingerprint(m));
        cJSON *src = cJSON_AddArrayToObject(rep, "data");
        for (int i = 0; i < n_data; i++) {
            char hex[65] = "";
            cJSON *e = cJSON_CreateObject();
            const char *base = strrchr(data[i], '/');
            cJSON_AddStringToObject(e, "file", base ? base + 1 : data[i]);
            if (ifs_sha256_file_hex(data[i], hex) == 0)
                cJSON_AddStringToObject(e, "sha256", hex);
            cJSON_AddItemToArray(src, e);
        }
        cJSON *oo = cJSON_AddObjectToObject(rep, "options");
        cJSON_AddNumberToObject(oo, "seed", (double)o.seed);
        cJSON_AddNumberToObject(oo, "max_len", max_len);
        cJSON_AddNumberToObject(oo, "epochs", o.epochs);
        cJSON_AddNumberToObject(oo, "lr", round((double)o.lr * 1e9) / 1e9);
        cJSON_AddNumberToObject(oo, "train_layers", train_layers);
        cJSON_AddStringToObject(oo, "input", im.pair ? "pair" : "response");
        if (im.pair) {
            cJSON_AddStringToObject(oo, "instruction_field", instr_field);
            cJSON_AddNumberToObject(oo, "instruction_max_tokens", im.instr_max);
        }
        if (train_layers)
            cJSON_AddNumberToObject(oo, "layer_lr", round((double)o.layer_lr * 1e9) / 1e9);
        cJSON_AddNumberToObject(oo, "batch", o.batch);
        cJSON_AddNumberToObject(oo, "patience", o.patience);
        cJSON_AddStringToObject(oo, "select", o.select_accuracy ? "accuracy" : "loss");
        cJSON_AddNumberToObject(oo, "weight_decay", round((double)o.weight_decay * 1e9) / 1e9);
        cJSON *cnt = cJSON_AddObjectToObject(rep, "examples");
        cJSON_AddNumberToObject(cnt, "train", (double)n_split[0]);
        cJSON_AddNumberToObject(cnt, "validation", (double)n_split[1]);
        cJSON_AddNumberToObject(cnt, "test", (double)n_split[2]);
        if (n_split[IFS_SPLIT_HOLDOUT])
            cJSON_AddNumberToObject(cnt, "holdout", (double)n_split[IFS_SPLIT_HOLDOUT]);
        cJSON *tr = cJSON_AddObjectToObject(rep, "training");
        cJSON_AddNumberToObject(tr, "epochs_run", log.epochs_run);
        cJSON_AddNumberToObject(tr, "best_epoch", log.best_epoch);
        cJSON_AddNumberToObject(tr, "best_validation_loss", round(log.best_val_loss * 1e6) / 1e6);
        cJSON_AddNumberToObject(tr, "best_validation_accuracy",
                                round(log.best_val_accuracy * 1e6) / 1e6);
        const char *names[IFS_N_SPLITS] = {"train", "validation", "test", "holdout"};
        cJSON *met = cJSON_AddObjectToObject(rep, "metrics");
        for (int s = 0; s < IFS_N_SPLITS; s++) {
            if (s == IFS_SPLIT_HOLDOUT && !n_split[s])
                continue;
            for (size_t i = 0; i < d.n; i++)
                mask[i] = d.split[i] == s;
            add_metrics(cJSON_AddObjectToObject(met, names[s]), p1, d.label, mask, d.n);
        }
        /* Per kind of negative, on the test split: positives plus only that
         * kind's negatives, so precision/recall say how each negative source
         * is told apart from answers; "accuracy_on_kind" is that kind alone. */
        cJSON *pk = cJSON_AddObjectToObject(rep, "test_by_negative_kind");
        for (int k = IFS_RSET_KIND_IC; k <= IFS_RSET_KIND_ICR; k++) {
            for (size_t i = 0; i < d.n; i++)
                mask[i] = d.split[i] == IFS_SPLIT_TEST && (d.label[i] == 1 || d.kind[i] == k);
            cJSON *e = cJSON_AddObjectToObject(pk, ifs_rset_kind_name(&d, k));
            add_metrics(e, p1, d.label, mask, d.n);
            for (size_t i = 0; i < d.n; i++)
                mask[i] = d.split[i] == IFS_SPLIT_TEST && d.label[i] == 0 && d.kind[i] == k;
            ifs_train_confusion cc = ifs_train_confusion_count(p1, d.label, mask, d.n);
            cJSON_AddNumberToObject(e, "accuracy_on_kind",
                                    round(ifs_train_confusion_accuracy(&cc) * 1e6) / 1e6);
        }
        /* Every kind alone (the share called right), on test and holdout. */
        for (int s = IFS_SPLIT_TEST; s <= IFS_SPLIT_HOLDOUT; s++) {
            if (!n_split[s])
                continue;
            cJSON *bk = cJSON_AddObjectToObject(rep, s == IFS_SPLIT_TEST ? "test_by_kind"
                                                                         : "holdout_by_kind");
            for (int k = 0; k < d.n_kinds; k++) {
                for (size_t i = 0; i < d.n; i++)
                    mask[i] = d.split[i] == s && d.kind[i] == k;
                ifs_train_confusion cc = ifs_train_confusion_count(p1, d.label, mask, d.n);
                if (cc.tp + cc.fp + cc.tn + cc.fn == 0)
                    continue;
                cJSON *e = cJSON_AddObjectToObject(bk, ifs_rset_kind_name(&d, k));
                cJSON_AddNumberToObject(e, "n", (double)(cc.tp + cc.fp + cc.tn + cc.fn));
                cJSON_AddNumberToObject(e, "accuracy_on_kind",
                                        round(ifs_train_confusion_accuracy(&cc) * 1e6) / 1e6);
            }
        }
        cJSON *tm = cJSON_AddObjectToObject(rep, "timings_s");
        cJSON_AddNumberToObject(tm, "features", round(t_feat * 100) / 100);
        cJSON_AddNumberToObject(tm, "training", round(t_train * 100) / 100);
        cJSON_AddNumberToObject(tm, "training_cpu", round(c_train * 100) / 100);
        if (log.epochs_run > 0)
            cJSON_AddNumberToObject(tm, "training_cpu_per_epoch",
                                    round(c_train / log.epochs_run * 100) / 100);

        cJSON *test = cJSON_GetObjectItemCaseSensitive(met, "test");
        printf(
            "test split: n %d  accuracy %.4f  precision %.4f  recall %.4f  (best epoch %d of %d)\n",
            cJSON_GetObjectItemCaseSensitive(test, "n")->valueint,
            cJSON_GetObjectItemCaseSensitive(test, "accuracy")->valuedouble,
            cJSON_GetObjectItemCaseSensitive(test, "precision")->valuedouble,
            cJSON_GetObjectItemCaseSensitive(test, "recall")->valuedouble, log.best_epoch,
            log.epochs_run);
        cJSON *ho = cJSON_GetObjectItemCaseSensitive(met, "holdout");
        if (ho)
            printf("holdout split: n %d  accuracy %.4f  precision %.4f  recall %.4f\n",
                   cJSON_GetObjectItemCaseSensitive(ho, "n")->valueint,
                   cJSON_GetObjectItemCaseSensitive(ho, "accuracy")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(ho, "precision")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(ho, "recall")->valuedouble);
        for (int k = IFS_RSET_KIND_IC; k <= IFS_RSET_KIND_ICR; k++) {
            cJSON *e = cJSON_GetObjectItemCaseSensitive(pk, ifs_rset_kind_name(&d, k));
            printf("  negatives %-5s accuracy %.4f  precision %.4f  recall %.4f  (on that kind "
                   "alone %.4f)\n",
                   ifs_rset_kind_name(&d, k),
                   cJSON_GetObjectItemCaseSensitive(e, "accuracy")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(e, "precision")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(e, "recall")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(e, "accuracy_on_kind")->valuedouble);
        }
    }
    if (rc == 0)
        rc = ifs_train_net_write_checkpoint(out, enc_dir, enc, &t, &im, max_len, err, sizeof err);
    if (rc == 0 && head_out) {
        rc = ifs_train_net_write_head(head_out, enc_dir, enc, &t, &im, max_len, err, sizeof err);
        char path[4096];
        snprintf(path, sizeof path, "%s/train_report.json", head_out);
        if (rc == 0)
            rc = write_report(path, rep, err, sizeof err);
    }
    if (rc == 0 && report_path)
        rc = write_report(report_path, rep, err, sizeof err);
    if (rc == 0 && pred_path) {
        float *lg = malloc(sizeof *lg * 2 * (d.n ? d.n : 1));
        if (!lg || ifs_train_net_logits(&t, &enc->cfg, X, off64, d.n, lg)) {
            snprintf(err, sizeof err, "out of memory");
            rc = -1;
        }
        if (rc == 0)
            rc = write_predictions(pred_path, &d, data, lg, err, sizeof err);
        free(lg);
    }
    if (rc == 0)
        fprintf(stderr, "train-head: wrote %s%s%s in %.1f s\n", out, head_out ? " and " : "",
                head_out ? head_out : "", ifs_time_now() - t_start);
    cJSON_Delete(rep);
    free(p1);
    free(mask);
    free(X);
    free(zeros);
    free(off64);
    ifs_train_net_free(&t);
    ifs_rset_free(&d);
    ifs_tok_free(tok);
    ifs_wts_free(m);
    return rc ? ifs_cli_fail("train-head", IFS_EXIT_FAIL, "%s", err) : IFS_EXIT_OK;

fail_early:
    ifs_rset_free(&d);
    ifs_tok_free(tok);
    ifs_wts_free(m);
    return ifs_cli_fail("train-head", IFS_EXIT_FAIL, "%s", err);
}
