/*
 * write.c - safetensors and checkpoint writing.
 *
 * Decisions:
 *   - Files are written atomically (util.c) and deterministically: tensors in
 *     the caller's order, the header built by hand (no float formatting, no
 *     key reordering), padded with spaces to a multiple of 8 bytes as HF's
 *     writer does so the data section is aligned.
 *   - The bytes are produced once, by the emitters, through a write
 *     callback; the path-taking functions hand the emitters the atomic
 *     writer's callback, and other callers may hand their own.
 *   - "__metadata__": {"format": "pt"} is always written: transformers
 *     refuses a safetensors file without it.
 *   - ifs_wts_save uses the names BertForSequenceClassification.save_pretrained
 *     writes ("bert." prefix, LayerNorm.weight/bias, top-level classifier.*),
 *     in state_dict order.
 */
#include "ifs_wts.h"
#include "wts_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const ifs_wts_tensor_out *t;
    size_t n;
    ifs_wts_dtype dtype;
    char *header;
    size_t header_len; /* padded */
} st_job;

/* Appends to a growing string; returns -1 on out-of-memory. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int sb_str(sbuf *b, const char *s)
{
    return sb_put(b, s, strlen(s));
}

static int sb_json_string(sbuf *b, const char *s)
{
    if (sb_put(b, "\"", 1))
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            if (sb_put(b, esc, 2))
                return -1;
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            if (sb_str(b, esc))
                return -1;
        } else if (sb_put(b, (const char *)p, 1)) {
            return -1;
        }
    }
    return sb_put(b, "\"", 1);
}

static const char *dtype_name(ifs_wts_dtype d)
{
    return d == IFS_WTS_F16 ? "F16" : d == IFS_WTS_BF16 ? "BF16" : "F32";
}

static uint64_t count_of(const ifs_wts_tensor_out *t)
{
    uint64_t c = 1;
    for (int i = 0; i < t->ndim; i++)
        c *= (uint64_t)t->shape[i];
    return c;
}

static int cmp_out_name(const void *a, const void *b)
{
    const ifs_wts_tensor_out *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Writes the 8-byte length, the header and every tensor's bytes. */
static int emit_data(const st_job *j, ifs_wts_write_fn write, void *ctx)
{
    uint64_t hl = j->header_len;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(hl >> (8 * i));
    int rc;
    if ((rc = write(ctx, len8, 8)) || (rc = write(ctx, j->header, j->header_len)))
        return rc;
    enum { CHUNK = 4096 };
    unsigned char buf[CHUNK * 2];
    for (size_t k = 0; k < j->n; k++) {
        const float *src = j->t[k].data;
        uint64_t n = count_of(&j->t[k]);
        if (j->dtype == IFS_WTS_F32) {
            if (n && (rc = write(ctx, src, (size_t)n * 4)))
                return rc;
            continue;
        }
        for (uint64_t i = 0; i < n; i += CHUNK) {
            size_t m = n - i < CHUNK ? (size_t)(n - i) : CHUNK;
            for (size_t e = 0; e < m; e++) {
                uint16_t h = j->dtype == IFS_WTS_F16 ? ifs_wts_f32_to_f16(src[i + e])
                                                     : ifs_wts_f32_to_bf16(src[i + e]);
                buf[2 * e] = (unsigned char)h;
                buf[2 * e + 1] = (unsigned char)(h >> 8);
            }
            if ((rc = write(ctx, buf, 2 * m)))
                return rc;
        }
    }
    return 0;
}

int ifs_wts_emit_safetensors(const char *name, const ifs_wts_tensor_out *t, size_t n,
                             ifs_wts_dtype dtype, ifs_wts_write_fn write, void *ctx, char *err,
                             size_t errlen)
{
    if (!name)
        name = "model.safetensors";
    if (!write || (n && !t) ||
        (dtype != IFS_WTS_F32 && dtype != IFS_WTS_F16 && dtype != IFS_WTS_BF16))
        return wts_fail(err, errlen, IFS_WTS_EARG, "%s: bad arguments to write safetensors", name);
    unsigned esize = dtype == IFS_WTS_F32 ? 4 : 2;
    for (size_t k = 0; k < n; k++) {
        const ifs_wts_tensor_out *x = &t[k];
        if (!x->name || x->ndim < 1 || x->ndim > 8 || !x->data || !strcmp(x->name, "__metadata__"))
            return wts_fail(err, errlen, IFS_WTS_EARG, "%s: tensor %zu ('%s') is malformed", name,
                            k, x->name ? x->name : "(null)");
        uint64_t c = 1;
        for (int i = 0; i < x->ndim; i++) {
            if (x->shape[i] < 0 || (x->shape[i] && c > (UINT64_MAX >> 4) / (uint64_t)x->shape[i]))
                return wts_fail(err, errlen, IFS_WTS_EARG, "%s: tensor '%s' has a bad shape", name,
                                x->name);
            c *= (uint64_t)x->shape[i];
        }
    }
    /* repeated names, by sorting (a pairwise check is quadratic) */
    if (n > 1) {
        const ifs_wts_tensor_out **by = malloc(n * sizeof *by);
        if (!by)
            return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", name);
        for (size_t k = 0; k < n; k++)
            by[k] = &t[k];
        qsort(by, n, sizeof *by, cmp_out_name);
        for (size_t k = 1; k < n; k++)
            if (!strcmp(by[k]->name, by[k - 1]->name)) {
                int rc = wts_fail(err, errlen, IFS_WTS_EARG, "%s: tensor '%s' given twice", name,
                                  by[k]->name);
                free(by);
                return rc;
            }
        free(by);
    }
    sbuf b = {0};
    int oom = sb_str(&b, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t k = 0; k < n && !oom; k++) {
        const ifs_wts_tensor_out *x = &t[k];
        uint64_t c = count_of(x);
        char num[64];
        oom |= sb_str(&b, ",");
        oom |= sb_json_string(&b, x->name);
        oom |= sb_str(&b, ":{\"dtype\":\"");
        oom |= sb_str(&b, dtype_name(dtype));
        oom |= sb_str(&b, "\",\"shape\":[");
        for (int i = 0; i < x->ndim; i++) {
            snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)x->shape[i]);
            oom |= sb_str(&b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + c * esize));
        oom |= sb_str(&b, num);
        off += c * esize;
    }
    oom |= sb_str(&b, "}");
    while (!oom && b.len % 8)
        oom |= sb_str(&b, " ");
    if (oom) {
        free(b.p);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", name);
    }
    st_job j = {t, n, dtype, b.p, b.len};
    int rc = emit_data(&j, write, ctx);
    free(b.p);
    if (rc)
        return wts_fail(err, errlen, rc < 0 ? rc : IFS_WTS_EIO,
                        "%s: the write callback failed (%d)", name, rc);
    return 0;
}

typedef struct {
    const char *name;
    const ifs_wts_tensor_out *t;
    size_t n;
    ifs_wts_dtype dtype;
} emit_job;

static int produce_st(void *ctx, ifs_wts_write_fn write, void *wctx, char *err, size_t errlen)
{
    const emit_job *j = ctx;
    return ifs_wts_emit_safetensors(j->name, j->t, j->n, j->dtype, write, wctx, err, errlen);
}

int ifs_wts_write_safetensors(const char *path, const ifs_wts_tensor_out *t, size_t n,
                              ifs_wts_dtype dtype, char *err, size_t errlen)
{
    if (!path)
        return wts_fail(err, errlen, IFS_WTS_EARG, "(null): bad arguments to write safetensors");
    emit_job j = {path, t, n, dtype};
    return wts_write_atomic(path, produce_st, &j, err, errlen);
}

void ifs_wts_layer_tensors(const ifs_bert_config *c, int l, const ifs_bert_layer *L, char *names,
                           ifs_wts_tensor_out out[16])
{
    static const char *const sfx[16] = {
        "attention.self.query.weight",
        "attention.self.query.bias",
        "attention.self.key.weight",
        "attention.self.key.bias",
        "attention.self.value.weight",
        "attention.self.value.bias",
        "attention.output.dense.weight",
        "attention.output.dense.bias",
        "attention.output.LayerNorm.weight",
        "attention.output.LayerNorm.bias",
        "intermediate.dense.weight",
        "intermediate.dense.bias",
        "output.dense.weight",
        "output.dense.bias",
        "output.LayerNorm.weight",
        "output.LayerNorm.bias",
    };
    const int64_t H = c->hidden, I = c->intermediate;
    const int64_t rows[16] = {H, H, H, H, H, H, H, H, H, H, I, I, H, H, H, H};
    const int64_t cols[16] = {H, 0, H, 0, H, 0, H, 0, 0, 0, H, 0, I, 0, 0, 0};
    const float *data[16] = {L->q_w,  L->q_b,  L->k_w,   L->k_b,   L->v_w, L->v_b,
                             L->ao_w, L->ao_b, L->ln1_g, L->ln1_b, L->i_w, L->i_b,
                             L->o_w,  L->o_b,  L->ln2_g, L->ln2_b};
    for (int k = 0; k < 16; k++) {
        char *nm = names + IFS_WTS_NAME_LEN * k;
        snprintf(nm, IFS_WTS_NAME_LEN, "bert.encoder.layer.%d.%s", l, sfx[k]);
        memset(&out[k], 0, sizeof out[k]);
        out[k].name = nm;
        out[k].ndim = cols[k] ? 2 : 1;
        out[k].shape[0] = rows[k];
        out[k].shape[1] = cols[k];
        out[k].data = data[k];
    }
}

/* Tensor list for w in state_dict order; names live in one block (*names,
 * freed with *t by the caller). */
static int checkpoint_tensors(const char *name, const ifs_bert_weights *w, ifs_wts_tensor_out **tp,
                              char **namesp, size_t *np, char *err, size_t errlen)
{
    *tp = NULL;
    *namesp = NULL;
    *np = 0;
    if (!w || !w->layers)
        return wts_fail(err, errlen, IFS_WTS_EARG, "%s: no weights given", name);
    const ifs_bert_config *c = &w->cfg;
    if (c->n_layers < 1 || c->hidden < 1 || c->intermediate < 1 || c->vocab_size < 1 ||
        c->max_position < 1 || c->type_vocab < 1 || c->num_labels < 1 ||
        c->num_labels > IFS_MAX_LABELS)
        return wts_fail(err, errlen, IFS_WTS_EARG, "%s: inconsistent config to save", name);
    if ((!w->pool_w) != (!w->pool_b) || (!w->cls_w) != (!w->cls_b))
        return wts_fail(err, errlen, IFS_WTS_EARG,
                        "%s: pooler / classifier need both weight and bias, or neither", name);
    size_t cap = 5 + 16 * (size_t)c->n_layers + 4;
    ifs_wts_tensor_out *t = calloc(cap, sizeof *t);
    char *names = calloc(cap, IFS_WTS_NAME_LEN);
    if (!t || !names) {
        free(t);
        free(names);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", name);
    }
    size_t n = 0;
    int64_t H = c->hidden;
#define PUT(d, d0, d1, ...)                                                                        \
    do {                                                                                           \
        snprintf(names + IFS_WTS_NAME_LEN * n, IFS_WTS_NAME_LEN, __VA_ARGS__);                     \
        t[n].name = names + IFS_WTS_NAME_LEN * n;                                                  \
        t[n].data = (d);                                                                           \
        t[n].ndim = (d1) > 0 ? 2 : 1;                                                              \
        t[n].shape[0] = (d0);                                                                      \
        t[n].shape[1] = (d1) > 0 ? (d1) : 0;                                                       \
        n++;                                                                                       \
    } while (0)
    PUT(w->word_emb, c->vocab_size, H, "bert.embeddings.word_embeddings.weight");
    PUT(w->pos_emb, c->max_position, H, "bert.embeddings.position_embeddings.weight");
    PUT(w->type_emb, c->type_vocab, H, "bert.embeddings.token_type_embeddings.weight");
    PUT(w->emb_ln_g, H, 0, "bert.embeddings.LayerNorm.weight");
    PUT(w->emb_ln_b, H, 0, "bert.embeddings.LayerNorm.bias");
    for (int l = 0; l < c->n_layers; l++, n += 16)
        ifs_wts_layer_tensors(c, l, &w->layers[l], names + IFS_WTS_NAME_LEN * n, t + n);
    if (w->pool_w) {
        PUT(w->pool_w, H, H, "bert.pooler.dense.weight");
        PUT(w->pool_b, H, 0, "bert.pooler.dense.bias");
    }
    if (w->cls_w) {
        PUT(w->cls_w, c->num_labels, H, "classifier.weight");
        PUT(w->cls_b, c->num_labels, 0, "classifier.bias");
    }
#undef PUT
    for (size_t k = 0; k < n; k++)
        if (!t[k].data) {
            int rc =
                wts_fail(err, errlen, IFS_WTS_EARG, "%s: tensor '%s' has no data", name, t[k].name);
            free(t);
            free(names);
            return rc;
        }
    *tp = t;
    *namesp = names;
    *np = n;
    return 0;
}

int ifs_wts_save_to(const char *name, const ifs_bert_weights *w, ifs_wts_dtype dtype,
                    ifs_wts_write_fn write, void *ctx, char *err, size_t errlen)
{
    if (!name)
        name = "model.safetensors";
    ifs_wts_tensor_out *t;
    char *names;
    size_t n;
    int rc = checkpoint_tensors(name, w, &t, &names, &n, err, errlen);
    if (!rc)
        rc = ifs_wts_emit_safetensors(name, t, n, dtype, write, ctx, err, errlen);
    free(t);
    free(names);
    return rc;
}

static int write_nothing(void *ctx, const void *p, size_t n)
{
    (void)ctx, (void)p, (void)n;
    return 0;
}

int ifs_wts_save(const char *dir, const ifs_bert_weights *w, ifs_wts_dtype dtype, char *err,
                 size_t errlen)
{
    if (!dir || !w || !w->layers)
        return wts_fail(err, errlen, IFS_WTS_EARG, "save: no folder or weights given");
    /* what cannot be written is refused before the folder or a file exists */
    ifs_wts_tensor_out *t;
    char *names;
    size_t n;
    int rc = ifs_wts_emit_config(dir, &w->cfg, write_nothing, NULL, err, errlen);
    if (rc || (rc = checkpoint_tensors(dir, w, &t, &names, &n, err, errlen)))
        return rc;
    size_t dl = strlen(dir);
    char *path = malloc(dl + 32);
    if (!path)
        rc = wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", dir);
    else if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        rc = wts_fail(err, errlen, IFS_WTS_EIO, "%s: cannot create: %s", dir, strerror(errno));
    if (!rc) {
        snprintf(path, dl + 32, "%s/model.safetensors", dir);
        emit_job j = {path, t, n, dtype};
        rc = wts_write_atomic(path, produce_st, &j, err, errlen);
    }
    if (!rc) {
        snprintf(path, dl + 32, "%s/config.json", dir);
        rc = ifs_wts_write_config(path, &w->cfg, err, errlen);
    }
    free(path);
    free(t);
    free(names);
    return rc;
}
