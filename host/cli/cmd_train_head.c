/*
 * cmd_train_head.c - `ifscore train-head` and `ifscore attach-head`.
 *
 * train-head turns a pretrained BERT-family encoder and a response set
 * (`ifscore build-responses`: JSONL records with text, label 0/1, split
 * train|validation|test and kind R|Ic|Ic+R) into a complete HF
 * BertForSequenceClassification checkpoint whose pooler and classifier
 * ifscore trained on frozen features:
 *
 *   1. tokenize every record (truncated to --max-len, which becomes the
 *      checkpoint's model_max_length, so scoring sees what training saw);
 *   2. compute the last encoder layer's [CLS] row once, with our own forward
 *      pass (cpu or cuda), in length-sorted, token-budgeted batches;
 *   3. train pooler + classifier (ifs_train.h) on the train split, early
 *      stopping on validation, and report test accuracy / precision /
 *      recall, also per kind of negative (Ic versus Ic+R);
 *   4. write the checkpoint (encoder + head, F32), its vocab and tokenizer
 *      config, and with --head-out the head alone (head.safetensors,
 *      config.json, tokenizer_config.json, train_report.json): the part
 *      that goes into a repository, since the encoder has its own source.
 *
 * attach-head joins such a head folder with its encoder into a complete
 * checkpoint (what scripts/setup.sh does for the default classifier).
 */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ifs_backend.h"
#include "ifs_buf.h"
#include "ifs_cli.h"
#include "ifs_version.h"
#include "ifs_io.h"
#include "ifs_sha256.h"
#include "ifs_shard.h"
#include "ifs_tok.h"
#include "ifs_train.h"
#include "ifs_wts.h"

#define ANSWER_LABEL "answer-like"
#define CONT_LABEL "continuation-like"

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ifscore train-head: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return IFS_EXIT_FAIL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- files ------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = (cap ? cap * 2 : 131072);
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return NULL; }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
    size_t n;
    char *buf = read_file(src, &n);
    if (!buf) {
        snprintf(err, errlen, "cannot read %.900s: %s", src, strerror(errno));
        return -1;
    }
    int rc = ifs_io_atomic_write(dst, buf, n, err, errlen);
    free(buf);
    return rc;
}

static int write_json(const char *path, cJSON *j, char *err, size_t errlen)
{
    char *txt = cJSON_Print(j);
    if (!txt) { snprintf(err, errlen, "out of memory"); return -1; }
    size_t n = strlen(txt);
    char *buf = malloc(n + 2);
    if (!buf) { free(txt); snprintf(err, errlen, "out of memory"); return -1; }
    memcpy(buf, txt, n);
    buf[n] = '\n';
    free(txt);
    int rc = ifs_io_atomic_write(path, buf, n + 1, err, errlen);
    free(buf);
    return rc;
}

/* Writes dir/tokenizer_config.json: the encoder's (when it has one) with
 * model_max_length set to max_len, so the checkpoint truncates as trained. */
static int write_tok_config(const char *enc_dir, const char *dir, int max_len,
                            char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", enc_dir);
    size_t n;
    char *txt = read_file(path, &n);
    cJSON *j = txt ? cJSON_ParseWithLength(txt, n) : NULL;
    free(txt);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "do_lower_case", 1);
        cJSON_AddStringToObject(j, "tokenizer_class", "BertTokenizer");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(j, "model_max_length");
    cJSON_AddNumberToObject(j, "model_max_length", max_len);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    int rc = write_json(path, j, err, errlen);
    cJSON_Delete(j);
    return rc;
}

static int mkdir_p1(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0755) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the response set ------------------------------------------------- */

enum { KIND_R = 0, KIND_IC = 1, KIND_ICR = 2, KIND_OTHER = 3, N_KINDS = 4 };
static const char *const kind_names[N_KINDS] = { "R", "Ic", "Ic+R", "other" };

typedef struct {
    size_t n, cap;
    int32_t *label;
    uint8_t *split, *kind;
    uint64_t *line;     /* line number in its file */
    uint16_t *file;     /* index of its --data file */
    int32_t *off;       /* [n+1] into ids */
    int32_t *ids;
    int32_t *types;     /* token type ids beside ids (pairs: 0 instruction, 1 response); NULL: all 0 */
    size_t ids_cap;
    uint64_t lines, skipped;
} dataset;

static int ds_push(dataset *d, int32_t label, uint8_t split, uint8_t kind, uint16_t file,
                   uint64_t line, const int32_t *ids, const int32_t *types, int32_t nids)
{
    if (d->n + 1 >= d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4096;
        int32_t *l = realloc(d->label, cap * sizeof *l);
        if (l) d->label = l;
        uint8_t *s = realloc(d->split, cap);
        if (s) d->split = s;
        uint8_t *k = realloc(d->kind, cap);
        if (k) d->kind = k;
        int32_t *o = realloc(d->off, (cap + 1) * sizeof *o);
        if (o) d->off = o;
        uint64_t *ln = realloc(d->line, cap * sizeof *ln);
        if (ln) d->line = ln;
        uint16_t *fi = realloc(d->file, cap * sizeof *fi);
        if (fi) d->file = fi;
        if (!l || !s || !k || !o || !ln || !fi) return -1;
        if (!d->cap) d->off[0] = 0;
        d->cap = cap;
    }
    size_t need = (size_t)d->off[d->n] + (size_t)nids;
    if (need > d->ids_cap) {
        size_t cap = d->ids_cap ? d->ids_cap * 2 : 1 << 20;
        while (cap < need) cap *= 2;
        int32_t *ni = realloc(d->ids, cap * sizeof *ni);
        if (!ni) return -1;
        d->ids = ni;
        if (types) {
            int32_t *nt = realloc(d->types, cap * sizeof *nt);
            if (!nt) return -1;
            d->types = nt;
        }
        d->ids_cap = cap;
    }
    memcpy(d->ids + d->off[d->n], ids, (size_t)nids * sizeof *ids);
    if (types) memcpy(d->types + d->off[d->n], types, (size_t)nids * sizeof *types);
    d->label[d->n] = label;
    d->split[d->n] = split;
    d->kind[d->n] = kind;
    d->line[d->n] = line;
    d->file[d->n] = file;
    d->off[d->n + 1] = d->off[d->n] + nids;
    d->n++;
    return 0;
}

static void ds_free(dataset *d)
{
    free(d->label); free(d->split); free(d->kind); free(d->off); free(d->ids);
    free(d->line); free(d->file); free(d->types);
}

/* Reads one response-set file into d. A line that is not a usable record is
 * an error naming the file and line: a training set is our own output, so
 * a bad line means the wrong file, not noise to skip. */
/* What a record is encoded from: the text alone, or with instr_field set the
 * pair (instruction, text) with the instruction cut to instr_max ids first
 * (ifs_tok_encode_pair_cap; 0 = no cap of its own). */
typedef struct {
    const char *text_field, *instr_field;
    int max_len;
    int32_t instr_max;
} encode_opts;

static int load_responses(const char *path, int file_no, const ifs_tok *tok, ifs_tok_state *st,
                          const encode_opts *eo, dataset *d, char *err, size_t errlen)
{
    const char *text_field = eo->text_field;
    const int max_len = eo->max_len;
    ifs_shard_reader *r;
    if (ifs_shard_open(path, NULL, &r, err, errlen)) return -1;
    int32_t *ids = malloc((size_t)max_len * sizeof *ids);
    int32_t *types = malloc((size_t)max_len * sizeof *types);
    int rc = ids && types ? 0 : -1;
    if (rc) snprintf(err, errlen, "out of memory");
    ifs_shard_line ln;
    while (rc == 0 && ifs_shard_next(r, &ln) == IFS_SHARD_LINE) {
        d->lines++;
        if (ln.reason != IFS_REJECT_NONE) {
            snprintf(err, errlen, "%s:%llu (offset %llu): %s %s", path,
                     (unsigned long long)ln.line_no, (unsigned long long)ln.offset,
                     ifs_reject_name(ln.reason), ln.detail);
            rc = -1;
            break;
        }
        if (ln.len == 0) { d->skipped++; continue; }
        cJSON *j = cJSON_ParseWithLength(ln.data, ln.len);
        const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, text_field) : NULL;
        const cJSON *l = j ? cJSON_GetObjectItemCaseSensitive(j, "label") : NULL;
        const cJSON *s = j ? cJSON_GetObjectItemCaseSensitive(j, "split") : NULL;
        const cJSON *k = j ? cJSON_GetObjectItemCaseSensitive(j, "kind") : NULL;
        if (!cJSON_IsString(t) || !cJSON_IsNumber(l) || !cJSON_IsString(s) ||
            (l->valuedouble != 0 && l->valuedouble != 1)) {
            snprintf(err, errlen, "%s:%llu: a response-set record needs string \"%s\", "
                     "label 0 or 1 and string \"split\"", path,
                     (unsigned long long)ln.line_no, text_field);
            cJSON_Delete(j);
            rc = -1;
            break;
        }
        uint8_t split = !strcmp(s->valuestring, "train") ? IFS_SPLIT_TRAIN
                      : !strcmp(s->valuestring, "validation") ? IFS_SPLIT_VALIDATION
                      : !strcmp(s->valuestring, "test") ? IFS_SPLIT_TEST : 255;
        if (split == 255) {
            snprintf(err, errlen, "%s:%llu: split \"%s\" is not train, validation or test",
                     path, (unsigned long long)ln.line_no, s->valuestring);
            cJSON_Delete(j);
            rc = -1;
            break;
        }
        uint8_t kind = KIND_OTHER;
        if (cJSON_IsString(k))
            for (int i = 0; i < KIND_OTHER; i++)
                if (!strcmp(k->valuestring, kind_names[i])) kind = (uint8_t)i;
        int32_t n = 0;
        ifs_tok_result res;
        int trc, bad_in_b = 1;
        if (eo->instr_field) {
            const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, eo->instr_field);
            if (!cJSON_IsString(in)) {
                snprintf(err, errlen, "%s:%llu: no string \"%s\" (the instruction of a pair, "
                         "--instruction-field)", path, (unsigned long long)ln.line_no,
                         eo->instr_field);
                cJSON_Delete(j);
                rc = -1;
                break;
            }
            trc = ifs_tok_encode_pair_cap(tok, st, in->valuestring, strlen(in->valuestring),
                                          t->valuestring, strlen(t->valuestring), max_len,
                                          eo->instr_max, ids, types, &n, &res, &bad_in_b);
        } else {
            trc = ifs_tok_encode(tok, st, t->valuestring, strlen(t->valuestring), max_len,
                                 ids, NULL, &n, &res);
        }
        if (trc) {
            snprintf(err, errlen, "%s:%llu: %s%s", path, (unsigned long long)ln.line_no,
                     ifs_tok_strerror(trc),
                     trc != IFS_TOK_EUTF8 ? "" : bad_in_b ? " in the text" : " in the instruction");
            cJSON_Delete(j);
            rc = -1;
            break;
        }
        if (ds_push(d, (int32_t)l->valuedouble, split, kind, (uint16_t)file_no, ln.line_no, ids,
                    eo->instr_field ? types : NULL, n)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
        cJSON_Delete(j);
    }
    free(ids);
    free(types);
    ifs_shard_free(r);
    return rc;
}

/* ---- features --------------------------------------------------------- */

typedef struct { int32_t len; size_t idx; } by_len;

static int cmp_len(const void *a, const void *b)
{
    const by_len *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* depth < 0: X[i] = the last layer's [CLS] row of example i.
 * depth >= 0: X rows [off[i], off[i+1]) = every row of example i after
 * `depth` encoder layers (ifs_backend_encode).
 * Batches are length-sorted and token-budgeted; the features do not depend
 * on batch composition (the backends keep sequences independent). */
static int compute_features(ifs_backend *bk, const dataset *d, int hidden, int depth,
                            int32_t max_tokens, int32_t max_seqs, float *X, char *err,
                            size_t errlen)
{
    by_len *order = malloc(d->n * sizeof *order);
    int32_t *seq_off = malloc(((size_t)max_seqs + 1) * sizeof *seq_off);
    int32_t *ids = malloc((size_t)max_tokens * sizeof *ids);
    int32_t *types = malloc((size_t)max_tokens * sizeof *types);
    float *logits = malloc((size_t)max_seqs * IFS_MAX_LABELS * sizeof *logits);
    float *cls = malloc((size_t)(depth < 0 ? max_seqs : max_tokens) * hidden * sizeof *cls);
    int rc = 0;
    if (!order || !seq_off || !ids || !types || !logits || !cls) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < d->n; i++) {
        order[i].len = d->off[i + 1] - d->off[i];
        order[i].idx = i;
    }
    qsort(order, d->n, sizeof *order, cmp_len);
    double t0 = now_s();
    size_t done = 0;
    for (size_t i = 0; i < d->n && rc == 0;) {
        int32_t ns = 0, nt = 0;
        seq_off[0] = 0;
        while (i + (size_t)ns < d->n && ns < max_seqs) {
            const by_len *e = &order[i + (size_t)ns];
            if (nt + e->len > max_tokens) break;
            memcpy(ids + nt, d->ids + d->off[e->idx], (size_t)e->len * sizeof *ids);
            if (d->types)
                memcpy(types + nt, d->types + d->off[e->idx], (size_t)e->len * sizeof *types);
            nt += e->len;
            seq_off[++ns] = nt;
        }
        ifs_batch b = { .n_seqs = ns, .n_tokens = nt, .input_ids = ids,
                        .type_ids = d->types ? types : NULL,
                        .seq_off = seq_off };
        if (depth < 0 ? ifs_backend_forward(bk, &b, logits, cls)
                      : ifs_backend_encode(bk, &b, depth, cls)) {
            snprintf(err, errlen, "forward failed: %s", ifs_backend_error(bk));
            rc = -1;
            break;
        }
        for (int32_t s = 0; s < ns; s++) {
            size_t e = order[i + (size_t)s].idx;
            if (depth < 0)
                memcpy(X + e * (size_t)hidden, cls + (size_t)s * hidden,
                       (size_t)hidden * sizeof(float));
            else
                memcpy(X + (size_t)d->off[e] * hidden, cls + (size_t)seq_off[s] * hidden,
                       (size_t)(seq_off[s + 1] - seq_off[s]) * hidden * sizeof(float));
        }
        i += (size_t)ns;
        done += (size_t)ns;
        if (isatty(2))
            fprintf(stderr, "\rfeatures: %zu/%zu (%.0f seq/s)   ", done, d->n,
                    done / (now_s() - t0 + 1e-9));
    }
    if (isatty(2)) fputc('\n', stderr);
out:
    free(order); free(seq_off); free(ids); free(types); free(logits); free(cls);
    return rc;
}

/* ---- feature cache ---------------------------------------------------- */

/* Features depend only on the encoder and the token ids, so a cache keyed
 * by both lets training be rerun (other seeds, learning rates) without the
 * forward passes, which are nearly all of train-head's time on a CPU.
 * File: "IFSFEAT1", u64 n, u32 hidden, 64 hex encoder fingerprint, 64 hex
 * sha256 of the ids and offsets, then float X[n][hidden]; or, for
 * --train-layers 1, "IFSHIDnn" (nn: the layers run) and then every token's
 * row, float X[total tokens][hidden]. */
#define FEAT_MAGIC "IFSFEAT1"
#define FEAT_HDR (8 + 8 + 4 + 64 + 64)

static void ids_digest(const dataset *d, char hex[65])
{
    ifs_sha256_ctx c;
    ifs_sha256_init(&c);
    ifs_sha256_update(&c, d->off, (d->n + 1) * sizeof *d->off);
    ifs_sha256_update(&c, d->ids, (size_t)d->off[d->n] * sizeof *d->ids);
    if (d->types) { /* pairs: their token types too, after a marker */
        ifs_sha256_update(&c, "pair", 4);
        ifs_sha256_update(&c, d->types, (size_t)d->off[d->n] * sizeof *d->types);
    }
    ifs_sha256_final_hex(&c, hex);
}

static void feat_header(unsigned char *h, int depth, uint64_t n, uint32_t hidden,
                        const char *enc_fp, const char *ids_fp)
{
    char magic[9];
    if (depth < 0) memcpy(magic, FEAT_MAGIC, 9);
    else snprintf(magic, sizeof magic, "IFSHID%02d", depth % 100); /* every row, `depth` layers */
    memcpy(h, magic, 8);
    memcpy(h + 8, &n, 8);
    memcpy(h + 16, &hidden, 4);
    memcpy(h + 20, enc_fp, 64);
    memcpy(h + 84, ids_fp, 64);
}

/* 1 when `path` holds features for exactly these inputs (loaded into X),
 * 0 when it is absent or for other inputs (then it will be rewritten). */
static int feat_load(const char *path, const unsigned char *want, float *X, size_t nfloats)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char h[FEAT_HDR];
    int ok = fread(h, 1, FEAT_HDR, f) == FEAT_HDR && !memcmp(h, want, FEAT_HDR) &&
             fread(X, sizeof(float), nfloats, f) == nfloats && fgetc(f) == EOF;
    fclose(f);
    return ok;
}

static int feat_save(const char *path, const unsigned char *hdr, const float *X, size_t nfloats,
                     char *err, size_t errlen)
{
    ifs_atomic *a;
    if (ifs_atomic_open(path, &a, err, errlen)) return -1;
    int rc = ifs_atomic_write(a, hdr, FEAT_HDR) || ifs_atomic_write(a, X, nfloats * sizeof *X);
    if (rc) snprintf(err, errlen, "cannot write %s", path);
    if (!rc) rc = ifs_atomic_commit(a, err, errlen);
    ifs_atomic_free(a);
    return rc;
}

/* ---- metrics and report ---------------------------------------------- */

static void add_metrics(cJSON *obj, const float *p1, const int32_t *y, const uint8_t *mask,
                        size_t n)
{
    ifs_confusion c = ifs_confusion_count(p1, y, mask, n);
    cJSON_AddNumberToObject(obj, "n", (double)(c.tp + c.fp + c.tn + c.fn));
    cJSON_AddNumberToObject(obj, "accuracy", round(ifs_confusion_accuracy(&c) * 1e6) / 1e6);
    cJSON_AddNumberToObject(obj, "precision", round(ifs_confusion_precision(&c) * 1e6) / 1e6);
    cJSON_AddNumberToObject(obj, "recall", round(ifs_confusion_recall(&c) * 1e6) / 1e6);
    cJSON_AddNumberToObject(obj, "tp", (double)c.tp);
    cJSON_AddNumberToObject(obj, "fp", (double)c.fp);
    cJSON_AddNumberToObject(obj, "tn", (double)c.tn);
    cJSON_AddNumberToObject(obj, "fn", (double)c.fn);
}

/* ---- writing checkpoints ---------------------------------------------- */

/* HF names and shapes of t's tensors: the 16 of each trained layer
 * (ifs_wts_layer_tensors; t's layer k is encoder layer n_layers - N + k),
 * then the head's 4. names: 16 * N * IFS_WTS_NAME_LEN bytes; out: 16 N + 4.
 * Returns the count. */
static int top_tensors(const ifs_bert_config *c, const ifs_top *t, char *names,
                       ifs_wts_tensor_out *out)
{
    const int64_t H = c->hidden;
    const int N = t->n_layers;
    for (int k = 0; k < N; k++)
        ifs_wts_layer_tensors(c, c->n_layers - N + k, &t->layers[k],
                              names + (size_t)16 * k * IFS_WTS_NAME_LEN, out + 16 * k);
    ifs_wts_tensor_out *h = out + 16 * N;
    h[0] = (ifs_wts_tensor_out){ "bert.pooler.dense.weight", 2, { H, H }, t->head.pool_w };
    h[1] = (ifs_wts_tensor_out){ "bert.pooler.dense.bias", 1, { H }, t->head.pool_b };
    h[2] = (ifs_wts_tensor_out){ "classifier.weight", 2, { 2, H }, t->head.cls_w };
    h[3] = (ifs_wts_tensor_out){ "classifier.bias", 1, { 2 }, t->head.cls_b };
    return 16 * N + 4;
}

/* What the classifier reads (config.json's ifs_input and
 * ifs_instruction_max_tokens, ifs_wts.h). */
typedef struct {
    int pair;          /* 0: the response alone, 1: (instruction, response) */
    int32_t instr_max; /* pairs: the instruction's own cap, 0 = none */
} input_mode;

static ifs_bert_config binary_config(const ifs_bert_config *enc, const input_mode *im)
{
    ifs_bert_config c = *enc;
    c.num_labels = 2;
    memset(c.labels, 0, sizeof c.labels);
    snprintf(c.labels[0], IFS_LABEL_LEN, "%s", CONT_LABEL);
    snprintf(c.labels[1], IFS_LABEL_LEN, "%s", ANSWER_LABEL);
    c.pair_input = im->pair;
    c.instruction_max_tokens = im->pair ? im->instr_max : 0;
    return c;
}

/* The complete checkpoint: the encoder with its top t->n_layers layers
 * replaced by t's (the pretrained ones stay below them) and t's head. */
static int write_checkpoint(const char *out, const char *enc_dir, const ifs_bert_weights *enc,
                            const ifs_top *t, const input_mode *im, int max_len, char *err,
                            size_t errlen)
{
    if (mkdir_p1(out, err, errlen)) return -1;
    const int nl = enc->cfg.n_layers;
    ifs_bert_layer *layers = malloc((size_t)(nl > 0 ? nl : 1) * sizeof *layers);
    if (!layers) { snprintf(err, errlen, "out of memory"); return -1; }
    memcpy(layers, enc->layers, (size_t)nl * sizeof *layers);
    for (int k = 0; k < t->n_layers; k++) layers[nl - t->n_layers + k] = t->layers[k];
    ifs_bert_weights w = *enc;
    w.cfg = binary_config(&enc->cfg, im);
    w.layers = layers;
    w.pool_w = t->head.pool_w;
    w.pool_b = t->head.pool_b;
    w.cls_w = t->head.cls_w;
    w.cls_b = t->head.cls_b;
    int rc = ifs_wts_save(out, &w, IFS_WTS_F32, err, errlen);
    free(layers);
    if (rc) return -1;
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/vocab.txt", enc_dir);
    snprintf(dst, sizeof dst, "%s/vocab.txt", out);
    if (copy_file(src, dst, err, errlen)) return -1;
    return write_tok_config(enc_dir, out, max_len, err, errlen);
}

/* Writes what ifscore trained, alone: head.safetensors (HF names: the
 * trained encoder layers, then the pooler and classifier), the config and
 * tokenizer config of the full checkpoint. */
static int write_head(const char *dir, const char *enc_dir, const ifs_bert_weights *enc,
                      const ifs_top *t, const input_mode *im, int max_len, char *err,
                      size_t errlen)
{
    if (mkdir_p1(dir, err, errlen)) return -1;
    const int N = t->n_layers;
    char *names = malloc((size_t)16 * (N ? N : 1) * IFS_WTS_NAME_LEN), path[4096];
    ifs_wts_tensor_out *tt = malloc((size_t)(16 * N + 4) * sizeof *tt);
    if (!names || !tt) {
        free(names);
        free(tt);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int nt = top_tensors(&enc->cfg, t, names, tt);
    snprintf(path, sizeof path, "%s/head.safetensors", dir);
    int rc = ifs_wts_write_safetensors(path, tt, (size_t)nt, IFS_WTS_F32, err, errlen);
    free(names);
    free(tt);
    if (rc) return -1;
    ifs_bert_config cfg = binary_config(&enc->cfg, im);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (ifs_wts_write_config(path, &cfg, err, errlen)) return -1;
    return write_tok_config(enc_dir, dir, max_len, err, errlen);
}

/* --predictions: one JSON line per record, in the order read: its file and
 * line, split, label, the trained model's logits (as `classify --format
 * jsonl` prints them: %.9g) and p(answer-like). */
static int write_predictions(const char *path, const dataset *d, const char *const *data,
                             const float *logits, char *err, size_t errlen)
{
    static const char *const split_names[3] = { "train", "validation", "test" };
    ifs_buf b;
    ifs_buf_init(&b);
    for (size_t i = 0; i < d->n; i++) {
        const char *base = strrchr(data[d->file[i]], '/');
        double z0 = logits[2 * i], z1 = logits[2 * i + 1];
        double mx = z0 > z1 ? z0 : z1, p1 = exp(z1 - mx) / (exp(z0 - mx) + exp(z1 - mx));
        ifs_buf_puts(&b, "{\"file\":");
        ifs_buf_jstr(&b, base ? base + 1 : data[d->file[i]]);
        ifs_buf_printf(&b, ",\"line\":%llu,\"split\":\"%s\",\"label\":%d,\"logits\":[%.9g,%.9g],"
                       "\"p\":%.6g}\n", (unsigned long long)d->line[i], split_names[d->split[i]],
                       (int)d->label[i], logits[2 * i], logits[2 * i + 1], p1);
    }
    int rc = b.oom ? (snprintf(err, errlen, "out of memory"), -1)
                   : ifs_io_atomic_write(path, b.p ? b.p : "", b.len, err, errlen);
    ifs_buf_free(&b);
    return rc;
}

/* ---- train-head ------------------------------------------------------- */

static void print_epoch(void *ctx, int epoch, double train_loss, double val_loss, double val_acc)
{
    (void)ctx;
    fprintf(stderr, "train-head: epoch %d  train loss %.4f  validation loss %.4f  accuracy %.4f\n",
            epoch, train_loss, val_loss, val_acc);
}

static void usage_train(FILE *f)
{
    fprintf(f,
        "usage: ifscore train-head --encoder DIR --data FILE [--data FILE...] --out DIR [options]\n\n"
        "Train the pooler and classifier of a BertForSequenceClassification on frozen\n"
        "encoder features (and with --train-layers N the top N encoder layers too), from a\n"
        "response set (ifscore build-responses: JSONL with text, label 0|1, split\n"
        "train|validation|test, kind R|Ic|Ic+R).\n\n"
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
        "  --threads N          cpu threads (default: all cores)\n"
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
        { "encoder", required_argument, 0, 'e' }, { "data", required_argument, 0, 'd' },
        { "out", required_argument, 0, 'o' }, { "head-out", required_argument, 0, 'H' },
        { "report", required_argument, 0, 'r' }, { "text-field", required_argument, 0, 'f' },
        { "max-len", required_argument, 0, 'm' }, { "seed", required_argument, 0, 's' },
        { "epochs", required_argument, 0, 'E' }, { "lr", required_argument, 0, 'l' },
        { "batch", required_argument, 0, 'b' }, { "patience", required_argument, 0, 'p' },
        { "backend", required_argument, 0, 'B' }, { "threads", required_argument, 0, 't' },
        { "max-batch-tokens", required_argument, 0, 'T' }, { "help", no_argument, 0, 'h' },
        { "features", required_argument, 0, 'F' }, { "train-layers", required_argument, 0, 'L' },
        { "layer-lr", required_argument, 0, 'R' }, { "select", required_argument, 0, 'S' },
        { "predictions", required_argument, 0, 'P' },
        { "instruction-field", required_argument, 0, 'I' },
        { "instruction-max-tokens", required_argument, 0, 'K' },
        { 0, 0, 0, 0 },
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
                fprintf(stderr, "ifscore train-head: --instruction-max-tokens %s: expected an "
                        "integer from 1 to 1048576\n", optarg);
                return IFS_EXIT_USAGE;
            }
            break;
        }
        case 'L': train_layers = atoi(optarg); break;
        case 'R': o.layer_lr = strtof(optarg, NULL); break;
        case 'S':
            if (strcmp(optarg, "loss") && strcmp(optarg, "accuracy")) {
                fprintf(stderr, "ifscore train-head: --select %s: expected loss or accuracy\n", optarg);
                return IFS_EXIT_USAGE;
            }
            o.select_accuracy = !strcmp(optarg, "accuracy");
            break;
        case 'e': enc_dir = optarg; break;
        case 'd':
            if (n_data == 64) { fprintf(stderr, "ifscore train-head: at most 64 --data\n"); return IFS_EXIT_USAGE; }
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
    if (!enc_dir || !out || !n_data || optind != argc || max_len < 2 || o.epochs < 1 ||
        o.lr <= 0 || o.layer_lr <= 0 || o.batch < 1 || o.patience < 1 ||
        max_tokens < max_len || train_layers < 0) {
        usage_train(stderr);
        return IFS_EXIT_USAGE;
    }
    if (instr_max && !instr_field) {
        fprintf(stderr, "ifscore train-head: --instruction-max-tokens needs --instruction-field\n");
        return IFS_EXIT_USAGE;
    }
    const input_mode im = { instr_field != NULL, (int32_t)instr_max };

    char err[1024];
    double t_start = now_s();
    ifs_wts_model *m = ifs_wts_load(enc_dir, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    if (!m) return fail("%s", err);
    const ifs_bert_weights *enc = ifs_wts_weights(m);
    int H = enc->cfg.hidden, nl = enc->cfg.n_layers;
    if (train_layers > nl) {
        ifs_wts_free(m);
        fprintf(stderr, "ifscore train-head: --train-layers %d: the encoder has %d layers "
                "(0 to %d can be trained)\n", train_layers, nl, nl);
        return IFS_EXIT_USAGE;
    }
    if (max_len > enc->cfg.max_position) max_len = enc->cfg.max_position;
    ifs_tok_config tc = { -1, -1, -1, max_len };
    ifs_tok *tok = ifs_tok_load(enc_dir, &tc, err, sizeof err);
    if (!tok) { ifs_wts_free(m); return fail("%s", err); }
    ifs_tok_state *st = ifs_tok_state_create(tok);

    dataset d = { 0 };
    int rc = 0;
    const encode_opts eo = { text_field, instr_field, max_len, (int32_t)instr_max };
    for (int i = 0; i < n_data && rc == 0; i++)
        rc = load_responses(data[i], i, tok, st, &eo, &d, err, sizeof err);
    ifs_tok_state_free(st);
    if (rc) goto fail_early;
    size_t n_split[3] = { 0, 0, 0 }, n_pos = 0;
    for (size_t i = 0; i < d.n; i++) { n_split[d.split[i]]++; n_pos += d.label[i] == 1; }
    fprintf(stderr, "train-head: %zu examples (train %zu, validation %zu, test %zu; %zu answer-like)\n",
            d.n, n_split[0], n_split[1], n_split[2], n_pos);

    /* Features, through a backend over the encoder with a placeholder head
     * (the [CLS] row comes before the pooler, so the head does not matter):
     * the last layer's [CLS] rows, or every row entering the lowest trained
     * layer (after the nl - train_layers frozen ones). */
    const int depth = train_layers ? nl - train_layers : -1;
    const size_t n_rows = depth < 0 ? d.n : (size_t)d.off[d.n];
    float *X = malloc(n_rows * (size_t)H * sizeof *X);
    int64_t *off64 = malloc((d.n + 1) * sizeof *off64);
    for (size_t i = 0; off64 && i <= d.n; i++) off64[i] = depth < 0 ? (int64_t)i : d.off[i];
    float *zeros = calloc((size_t)H * H + 4 * (size_t)H, sizeof *zeros);
    ifs_bert_weights fw = *enc;
    fw.cfg.num_labels = 2;
    if (!fw.pool_w) { fw.pool_w = zeros; fw.pool_b = zeros; }
    fw.cls_w = zeros;
    fw.cls_b = zeros;
    ifs_backend_opts bo = ifs_backend_default_opts();
    bo.n_threads = threads;
    bo.max_batch_tokens = max_tokens;
    bo.max_batch_seqs = max_tokens / 2 < 1024 ? max_tokens / 2 : 1024;
    ifs_backend *bk = NULL;
    if (!X || !zeros || !off64) { snprintf(err, sizeof err, "out of memory"); rc = -1; }
    if (rc == 0 && ifs_backend_create(backend, &fw, &bo, &bk, err, sizeof err)) rc = -1;
    double t_feat = now_s();
    unsigned char fhdr[FEAT_HDR];
    char ids_fp[65];
    ids_digest(&d, ids_fp);
    feat_header(fhdr, depth, d.n, (uint32_t)H, ifs_wts_fingerprint(m), ids_fp);
    int cached = rc == 0 && feat_path && feat_load(feat_path, fhdr, X, n_rows * (size_t)H);
    if (rc == 0 && !cached) {
        rc = compute_features(bk, &d, H, depth, max_tokens, bo.max_batch_seqs, X, err,
                              sizeof err);
        if (rc == 0 && feat_path) rc = feat_save(feat_path, fhdr, X, n_rows * (size_t)H, err, sizeof err);
    }
    t_feat = now_s() - t_feat;
    ifs_backend_free(bk);
    if (rc) { free(X); free(zeros); free(off64); goto fail_early; }
    if (cached)
        fprintf(stderr, "train-head: features from %s\n", feat_path);
    else
        fprintf(stderr, "train-head: features in %.1f s (%.0f seq/s)\n", t_feat, d.n / (t_feat + 1e-9));

    /* Train the top train_layers layers and the head (the head alone when
     * 0), on the CPU backend's forward (ifs_train.h). */
    ifs_top t;
    ifs_train_log log;
    double t_train = now_s();
    if (ifs_top_alloc(&t, &enc->cfg, train_layers)) {
        free(X); free(zeros); free(off64);
        snprintf(err, sizeof err, "out of memory");
        goto fail_early;
    }
    ifs_top_init(&t, &enc->cfg, enc->layers + (nl - train_layers), enc->pool_w, enc->pool_b,
                 o.seed);
    rc = ifs_train_top(&enc->cfg, X, off64, d.label, d.split, d.n, &o, &t, &log, err,
                       sizeof err);
    t_train = now_s() - t_train;
    if (rc) { free(X); free(zeros); free(off64); ifs_top_free(&t); goto fail_early; }

    /* Evaluate. */
    float *p1 = malloc(d.n * sizeof *p1);
    uint8_t *mask = malloc(d.n);
    cJSON *rep = cJSON_CreateObject();
    if (!p1 || !mask || !rep) { snprintf(err, sizeof err, "out of memory"); rc = -1; }
    if (rc == 0) {
        ifs_top_predict(&t, &enc->cfg, X, off64, d.n, p1);
        cJSON_AddStringToObject(rep, "ifscore", ifs_version());
        cJSON_AddStringToObject(rep, "encoder_fingerprint", ifs_wts_fingerprint(m));
        cJSON *src = cJSON_AddArrayToObject(rep, "data");
        for (int i = 0; i < n_data; i++) {
            char hex[65] = "";
            cJSON *e = cJSON_CreateObject();
            const char *base = strrchr(data[i], '/');
            cJSON_AddStringToObject(e, "file", base ? base + 1 : data[i]);
            if (ifs_sha256_file_hex(data[i], hex) == 0) cJSON_AddStringToObject(e, "sha256", hex);
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
        cJSON *tr = cJSON_AddObjectToObject(rep, "training");
        cJSON_AddNumberToObject(tr, "epochs_run", log.epochs_run);
        cJSON_AddNumberToObject(tr, "best_epoch", log.best_epoch);
        cJSON_AddNumberToObject(tr, "best_validation_loss", round(log.best_val_loss * 1e6) / 1e6);
        cJSON_AddNumberToObject(tr, "best_validation_accuracy", round(log.best_val_accuracy * 1e6) / 1e6);
        const char *names[3] = { "train", "validation", "test" };
        cJSON *met = cJSON_AddObjectToObject(rep, "metrics");
        for (int s = 0; s < 3; s++) {
            for (size_t i = 0; i < d.n; i++) mask[i] = d.split[i] == s;
            add_metrics(cJSON_AddObjectToObject(met, names[s]), p1, d.label, mask, d.n);
        }
        /* Per kind of negative, on the test split: positives plus only that
         * kind's negatives, so precision/recall say how each negative source
         * is told apart from answers; "accuracy_on_kind" is that kind alone. */
        cJSON *pk = cJSON_AddObjectToObject(rep, "test_by_negative_kind");
        for (int k = KIND_IC; k <= KIND_ICR; k++) {
            for (size_t i = 0; i < d.n; i++)
                mask[i] = d.split[i] == IFS_SPLIT_TEST && (d.label[i] == 1 || d.kind[i] == k);
            cJSON *e = cJSON_AddObjectToObject(pk, kind_names[k]);
            add_metrics(e, p1, d.label, mask, d.n);
            for (size_t i = 0; i < d.n; i++)
                mask[i] = d.split[i] == IFS_SPLIT_TEST && d.label[i] == 0 && d.kind[i] == k;
            ifs_confusion cc = ifs_confusion_count(p1, d.label, mask, d.n);
            cJSON_AddNumberToObject(e, "accuracy_on_kind",
                                    round(ifs_confusion_accuracy(&cc) * 1e6) / 1e6);
        }
        cJSON *tm = cJSON_AddObjectToObject(rep, "timings_s");
        cJSON_AddNumberToObject(tm, "features", round(t_feat * 100) / 100);
        cJSON_AddNumberToObject(tm, "training", round(t_train * 100) / 100);

        cJSON *test = cJSON_GetObjectItemCaseSensitive(met, "test");
        printf("test split: n %d  accuracy %.4f  precision %.4f  recall %.4f  (best epoch %d of %d)\n",
               cJSON_GetObjectItemCaseSensitive(test, "n")->valueint,
               cJSON_GetObjectItemCaseSensitive(test, "accuracy")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(test, "precision")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(test, "recall")->valuedouble,
               log.best_epoch, log.epochs_run);
        for (int k = KIND_IC; k <= KIND_ICR; k++) {
            cJSON *e = cJSON_GetObjectItemCaseSensitive(pk, kind_names[k]);
            printf("  negatives %-5s accuracy %.4f  precision %.4f  recall %.4f  (on that kind alone %.4f)\n",
                   kind_names[k], cJSON_GetObjectItemCaseSensitive(e, "accuracy")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(e, "precision")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(e, "recall")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(e, "accuracy_on_kind")->valuedouble);
        }
    }
    if (rc == 0) rc = write_checkpoint(out, enc_dir, enc, &t, &im, max_len, err, sizeof err);
    if (rc == 0 && head_out) {
        rc = write_head(head_out, enc_dir, enc, &t, &im, max_len, err, sizeof err);
        char path[4096];
        snprintf(path, sizeof path, "%s/train_report.json", head_out);
        if (rc == 0) rc = write_json(path, rep, err, sizeof err);
    }
    if (rc == 0 && report_path) rc = write_json(report_path, rep, err, sizeof err);
    if (rc == 0 && pred_path) {
        float *lg = malloc(sizeof *lg * 2 * (d.n ? d.n : 1));
        if (!lg || ifs_top_logits(&t, &enc->cfg, X, off64, d.n, lg)) {
            snprintf(err, sizeof err, "out of memory");
            rc = -1;
        }
        if (rc == 0) rc = write_predictions(pred_path, &d, data, lg, err, sizeof err);
        free(lg);
    }
    if (rc == 0)
        fprintf(stderr, "train-head: wrote %s%s%s in %.1f s\n", out, head_out ? " and " : "",
                head_out ? head_out : "", now_s() - t_start);
    cJSON_Delete(rep);
    free(p1); free(mask); free(X); free(zeros); free(off64);
    ifs_top_free(&t);
    ds_free(&d);
    ifs_tok_free(tok);
    ifs_wts_free(m);
    return rc ? fail("%s", err) : IFS_EXIT_OK;

fail_early:
    ds_free(&d);
    ifs_tok_free(tok);
    ifs_wts_free(m);
    return fail("%s", err);
}

/* ---- attach-head ------------------------------------------------------ */

static void usage_attach(FILE *f)
{
    fprintf(f,
        "usage: ifscore attach-head --encoder DIR --head DIR --out DIR\n\n"
        "Join a head written by 'train-head --head-out' (head.safetensors, config.json,\n"
        "tokenizer_config.json) with its encoder into a complete checkpoint that\n"
        "ifscore and HF transformers load. When head.safetensors holds the top N encoder\n"
        "layers (train-head --train-layers N), they replace the encoder's own.\n"
        "The head's config must match the encoder's\n"
        "shape; train_report.json names the encoder fingerprint it was trained on.\n");
}

static int copy_head_tensor(const ifs_wts_st *st, const ifs_wts_tensor_out *want, char *err,
                            size_t errlen)
{
    const ifs_wts_tensor_info *t = ifs_wts_st_find(st, want->name);
    if (!t) { snprintf(err, errlen, "head.safetensors has no tensor %s", want->name); return -1; }
    int same = t->ndim == want->ndim && !strcmp(t->dtype, "F32");
    size_t count = 1;
    for (int i = 0; i < want->ndim; i++) {
        count *= (size_t)want->shape[i];
        same = same && t->shape[i] == want->shape[i];
    }
    if (!same) {
        snprintf(err, errlen, "head tensor %s is %s of %d dims (expected F32 of the "
                 "encoder's shape)", want->name, t->dtype, t->ndim);
        return -1;
    }
    memcpy((float *)want->data, t->data, count * sizeof(float));
    return 0;
}

int ifs_cmd_attach_head(int argc, char **argv)
{
    const char *enc_dir = NULL, *head_dir = NULL, *out = NULL;
    static const struct option lo[] = {
        { "encoder", required_argument, 0, 'e' }, { "head", required_argument, 0, 'H' },
        { "out", required_argument, 0, 'o' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'e': enc_dir = optarg; break;
        case 'H': head_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage_attach(stdout); return IFS_EXIT_OK;
        default: usage_attach(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (!enc_dir || !head_dir || !out || optind != argc) {
        usage_attach(stderr);
        return IFS_EXIT_USAGE;
    }
    char err[1024], path[4096];
    ifs_wts_model *m = ifs_wts_load(enc_dir, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    if (!m) {
        fprintf(stderr, "ifscore attach-head: %s\n", err);
        return IFS_EXIT_FAIL;
    }
    const ifs_bert_weights *enc = ifs_wts_weights(m);
    const int nl = enc->cfg.n_layers;
    snprintf(path, sizeof path, "%s/head.safetensors", head_dir);
    ifs_wts_st *st = ifs_wts_st_open(path, err, sizeof err);
    /* The head's 4 tensors, and the 16 of each of the top N encoder layers
     * when the head folder has them (train-head --train-layers N): N from
     * the count, every one of those tensors present, nothing else. */
    ifs_top t;
    int rc = st ? 0 : -1, have_t = 0, N = 0;
    if (rc == 0) {
        size_t cnt = ifs_wts_st_count(st);
        N = cnt >= 4 && (cnt - 4) % 16 == 0 ? (int)((cnt - 4) / 16) : -1;
        if (N < 0 || N > nl) {
            /* e.g. layers trained on a deeper encoder: never drop them silently */
            snprintf(err, sizeof err, "%.512s holds %zu tensors; expected the head's 4, and "
                     "16 for each trained layer of this %d-layer encoder", path, cnt, nl);
            rc = -1;
        }
    }
    if (rc == 0 && ifs_top_alloc(&t, &enc->cfg, N)) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    have_t = rc == 0;
    char *names = NULL;
    ifs_wts_tensor_out *tt = NULL;
    if (rc == 0) {
        names = malloc((size_t)16 * (N ? N : 1) * IFS_WTS_NAME_LEN);
        tt = malloc((size_t)(16 * N + 4) * sizeof *tt);
        if (!names || !tt) {
            snprintf(err, sizeof err, "out of memory");
            rc = -1;
        }
    }
    if (rc == 0) {
        int nt = top_tensors(&enc->cfg, &t, names, tt);
        for (int k = 0; k < nt && rc == 0; k++)
            rc = copy_head_tensor(st, &tt[k], err, sizeof err);
    }
    free(names);
    free(tt);
    int max_len = enc->cfg.max_position;
    if (rc == 0) {
        /* the head's tokenizer_config.json carries the trained max length */
        snprintf(path, sizeof path, "%s/tokenizer_config.json", head_dir);
        size_t n;
        char *txt = read_file(path, &n);
        cJSON *j = txt ? cJSON_ParseWithLength(txt, n) : NULL;
        const cJSON *ml = j ? cJSON_GetObjectItemCaseSensitive(j, "model_max_length") : NULL;
        if (cJSON_IsNumber(ml) && ml->valuedouble >= 2 && ml->valuedouble <= max_len)
            max_len = (int)ml->valuedouble;
        cJSON_Delete(j);
        free(txt);
    }
    input_mode im = { 0, 0 };
    if (rc == 0) {
        /* the head's config.json says what the classifier reads (pairs or not) */
        snprintf(path, sizeof path, "%s/config.json", head_dir);
        size_t n;
        char *txt = read_file(path, &n);
        ifs_bert_config hc;
        if (!txt) {
            snprintf(err, sizeof err, "cannot read %.900s: %s", path, strerror(errno));
            rc = -1;
        } else if (ifs_wts_parse_config(txt, n, path, &hc, err, sizeof err)) {
            rc = -1;
        } else if (hc.hidden != enc->cfg.hidden || hc.n_layers != enc->cfg.n_layers ||
                   hc.intermediate != enc->cfg.intermediate || hc.n_heads != enc->cfg.n_heads) {
            snprintf(err, sizeof err, "%.700s: the head's shape (hidden %d, %d layers) is not "
                     "the encoder's (hidden %d, %d layers)", path, hc.hidden, hc.n_layers,
                     enc->cfg.hidden, enc->cfg.n_layers);
            rc = -1;
        } else {
            im.pair = hc.pair_input;
            im.instr_max = hc.instruction_max_tokens;
        }
        free(txt);
    }
    if (rc == 0) rc = write_checkpoint(out, enc_dir, enc, &t, &im, max_len, err, sizeof err);
    ifs_wts_st_free(st);
    if (have_t) ifs_top_free(&t);
    ifs_wts_free(m);
    if (rc) {
        fprintf(stderr, "ifscore attach-head: %s\n", err);
        return IFS_EXIT_FAIL;
    }
    return IFS_EXIT_OK;
}
