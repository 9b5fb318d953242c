/*
 * train_ckpt.c - the checkpoints train-head writes and attach-head joins
 * (ifs_train.h, "checkpoints"): the complete BertForSequenceClassification
 * folder (the encoder with its top N layers replaced, the trained head, the
 * vocab and a tokenizer config that truncates as trained), the head folder
 * that holds only what ifscore trained, and reading such a folder back.
 */
#include "ifs_train.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ifs_io.h"
#include "ifs_wts.h"

/* ---- files ------------------------------------------------------------ */

/* A whole file (ifs_io_read_file) of at most 64 MiB: config files, vocab. */
#define FILE_CAP (64u << 20)

/* A whole file, or NULL with words in err (err may be NULL: ifs_errf). */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    char *p = NULL;
    return ifs_io_read_file(path, FILE_CAP, &p, len, err, errlen) ? NULL : p;
}

static int write_json(const char *path, cJSON *j, char *err, size_t errlen)
{
    char *txt = cJSON_Print(j);
    if (!txt) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = strlen(txt);
    char *buf = malloc(n + 2);
    if (!buf) {
        free(txt);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(buf, txt, n);
    buf[n] = '\n';
    free(txt);
    int rc = ifs_io_atomic_write(path, buf, n + 1, err, errlen);
    free(buf);
    return rc;
}

/* Writes dir/tokenizer_config.json: the encoder's (when it has one) with
 * model_max_length set to max_len, so the checkpoint truncates as trained. */
static int write_tok_config(const char *enc_dir, const char *dir, int max_len, char *err,
                            size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", enc_dir);
    size_t n;
    char *txt = read_file(path, &n, NULL, 0); /* optional */
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

/* HF names and shapes of t's tensors: the 16 of each trained layer
 * (ifs_wts_layer_tensors; t's layer k is encoder layer n_layers - N + k),
 * then the head's 4. names: 16 * N * IFS_WTS_NAME_LEN bytes; out: 16 N + 4.
 * Returns the count. */
static int top_tensors(const ifs_bert_config *c, const ifs_train_net *t, char *names,
                       ifs_wts_tensor_out *out)
{
    const int64_t H = c->hidden;
    const int N = t->n_layers;
    for (int k = 0; k < N; k++)
        ifs_wts_layer_tensors(c, c->n_layers - N + k, &t->layers[k],
                              names + (size_t)16 * k * IFS_WTS_NAME_LEN, out + 16 * k);
    ifs_wts_tensor_out *h = out + 16 * N;
    h[0] = (ifs_wts_tensor_out){"bert.pooler.dense.weight", 2, {H, H}, t->head.pool_w};
    h[1] = (ifs_wts_tensor_out){"bert.pooler.dense.bias", 1, {H}, t->head.pool_b};
    h[2] = (ifs_wts_tensor_out){"classifier.weight", 2, {2, H}, t->head.cls_w};
    h[3] = (ifs_wts_tensor_out){"classifier.bias", 1, {2}, t->head.cls_b};
    return 16 * N + 4;
}

static ifs_bert_config binary_config(const ifs_bert_config *enc, const ifs_train_input *im)
{
    ifs_bert_config c = *enc;
    c.num_labels = 2;
    memset(c.labels, 0, sizeof c.labels);
    snprintf(c.labels[0], IFS_LABEL_LEN, "%s", IFS_TRAIN_LABEL_0);
    snprintf(c.labels[1], IFS_LABEL_LEN, "%s", IFS_TRAIN_LABEL_1);
    c.pair_input = im->pair;
    c.instruction_max_tokens = im->pair ? im->instr_max : 0;
    return c;
}

/* The complete checkpoint: the encoder with its top t->n_layers layers
 * replaced by t's (the pretrained ones stay below them) and t's head. */
int ifs_train_net_write_checkpoint(const char *out, const char *enc_dir,
                                   const ifs_bert_weights *enc, const ifs_train_net *t,
                                   const ifs_train_input *im, int max_len, char *err, size_t errlen)
{
    if (mkdir_p1(out, err, errlen))
        return -1;
    const int nl = enc->cfg.n_layers;
    ifs_bert_layer *layers = malloc((size_t)(nl > 0 ? nl : 1) * sizeof *layers);
    if (!layers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(layers, enc->layers, (size_t)nl * sizeof *layers);
    for (int k = 0; k < t->n_layers; k++)
        layers[nl - t->n_layers + k] = t->layers[k];
    ifs_bert_weights w = *enc;
    w.cfg = binary_config(&enc->cfg, im);
    w.layers = layers;
    w.pool_w = t->head.pool_w;
    w.pool_b = t->head.pool_b;
    w.cls_w = t->head.cls_w;
    w.cls_b = t->head.cls_b;
    int rc = ifs_wts_save(out, &w, IFS_WTS_F32, err, errlen);
    free(layers);
    if (rc)
        return -1;
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/vocab.txt", enc_dir);
    snprintf(dst, sizeof dst, "%s/vocab.txt", out);
    if (ifs_io_copy_file(src, dst, FILE_CAP, err, errlen))
        return -1;
    return write_tok_config(enc_dir, out, max_len, err, errlen);
}

/* Writes what ifscore trained, alone: head.safetensors (HF names: the
 * trained encoder layers, then the pooler and classifier), the config and
 * tokenizer config of the full checkpoint. */
int ifs_train_net_write_head(const char *dir, const char *enc_dir, const ifs_bert_weights *enc,
                             const ifs_train_net *t, const ifs_train_input *im, int max_len,
                             char *err, size_t errlen)
{
    if (mkdir_p1(dir, err, errlen))
        return -1;
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
    if (rc)
        return -1;
    ifs_bert_config cfg = binary_config(&enc->cfg, im);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (ifs_wts_write_config(path, &cfg, err, errlen))
        return -1;
    return write_tok_config(enc_dir, dir, max_len, err, errlen);
}

static int copy_head_tensor(const ifs_wts_st *st, const ifs_wts_tensor_out *want, char *err,
                            size_t errlen)
{
    const ifs_wts_tensor_info *t = ifs_wts_st_find(st, want->name);
    if (!t) {
        snprintf(err, errlen, "head.safetensors has no tensor %s", want->name);
        return -1;
    }
    int same = t->ndim == want->ndim && !strcmp(t->dtype, "F32");
    size_t count = 1;
    for (int i = 0; i < want->ndim; i++) {
        count *= (size_t)want->shape[i];
        same = same && t->shape[i] == want->shape[i];
    }
    if (!same) {
        snprintf(err, errlen,
                 "head tensor %s is %s of %d dims (expected F32 of the "
                 "encoder's shape)",
                 want->name, t->dtype, t->ndim);
        return -1;
    }
    memcpy((float *)want->data, t->data, count * sizeof(float));
    return 0;
}

int ifs_train_net_read_head(const char *head_dir, const ifs_bert_weights *enc, ifs_train_net *t,
                            ifs_train_input *im, int *max_len_out, char *err, size_t errlen)
{
    char path[4096];
    const int nl = enc->cfg.n_layers;
    memset(t, 0, sizeof *t);
    memset(im, 0, sizeof *im);
    snprintf(path, sizeof path, "%s/head.safetensors", head_dir);
    ifs_wts_st *st = ifs_wts_st_open(path, err, errlen);
    if (!st)
        return -1;
    /* The head's 4 tensors, and the 16 of each of the top N encoder layers
     * when the head folder has them (train-head --train-layers N): N from
     * the count, every one of those tensors present, nothing else. */
    size_t cnt = ifs_wts_st_count(st);
    int N = cnt >= 4 && (cnt - 4) % 16 == 0 ? (int)((cnt - 4) / 16) : -1, rc = 0;
    if (N < 0 || N > nl) {
        /* e.g. layers trained on a deeper encoder: never drop them silently */
        snprintf(err, errlen,
                 "%.512s holds %zu tensors; expected the head's 4, and 16 for "
                 "each trained layer of this %d-layer encoder",
                 path, cnt, nl);
        rc = -1;
    }
    if (rc == 0 && ifs_train_net_alloc(t, &enc->cfg, N)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    char *names = NULL;
    ifs_wts_tensor_out *tt = NULL;
    if (rc == 0) {
        names = malloc((size_t)16 * (N ? N : 1) * IFS_WTS_NAME_LEN);
        tt = malloc((size_t)(16 * N + 4) * sizeof *tt);
        if (!names || !tt) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    if (rc == 0) {
        int nt = top_tensors(&enc->cfg, t, names, tt);
        for (int k = 0; k < nt && rc == 0; k++)
            rc = copy_head_tensor(st, &tt[k], err, errlen);
    }
    free(names);
    free(tt);
    ifs_wts_st_free(st);
    int max_len = enc->cfg.max_position;
    if (rc == 0) {
        /* the head's tokenizer_config.json carries the trained max length */
        snprintf(path, sizeof path, "%s/tokenizer_config.json", head_dir);
        size_t n;
        char *txt = read_file(path, &n, NULL, 0); /* optional */
        cJSON *j = txt ? cJSON_ParseWithLength(txt, n) : NULL;
        const cJSON *ml = j ? cJSON_GetObjectItemCaseSensitive(j, "model_max_length") : NULL;
        if (cJSON_IsNumber(ml) && ml->valuedouble >= 2 && ml->valuedouble <= max_len)
            max_len = (int)ml->valuedouble;
        cJSON_Delete(j);
        free(txt);
    }
    if (rc == 0) {
        /* the head's config.json says what the classifier reads (pairs or not) */
        snprintf(path, sizeof path, "%s/config.json", head_dir);
        size_t n;
        char *txt = read_file(path, &n, err, errlen);
        ifs_bert_config hc;
        if (!txt) {
            rc = -1;
        } else if (ifs_wts_parse_config(txt, n, path, &hc, err, errlen)) {
            rc = -1;
        } else if (hc.hidden != enc->cfg.hidden || hc.n_layers != nl ||
                   hc.intermediate != enc->cfg.intermediate || hc.n_heads != enc->cfg.n_heads) {
            snprintf(err, errlen,
                     "%.700s: the head's shape (hidden %d, %d layers) is not the "
                     "encoder's (hidden %d, %d layers)",
                     path, hc.hidden, hc.n_layers, enc->cfg.hidden, nl);
            rc = -1;
        } else {
            im->pair = hc.pair_input;
            im->instr_max = hc.instruction_max_tokens;
        }
        free(txt);
    }
    if (rc) {
        ifs_train_net_free(t);
        return -1;
    }
    if (max_len_out)
        *max_len_out = max_len;
    return 0;
}
