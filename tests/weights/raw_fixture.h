/*
 * raw_fixture.h - whole-checkpoint helpers for the loader's tests: a raw
 * safetensors writer (tests control names, dtypes, shapes and order), the
 * fixture model's tensors under HF's names, and exact comparisons of loaded
 * weights. Header-only; tests only.
 */
#ifndef RAW_FIXTURE_H
#define RAW_FIXTURE_H

#include <math.h>

#include "ifs_sha256.h"
#include "wts_fixture.h"

/* ---- a raw safetensors writer, so tests control names, dtypes and shapes --- */

typedef struct {
    char name[128];
    const char *dtype; /* "F32", "F16", "I64", ... */
    int ndim;
    int64_t shape[2];
    const void *data;
    size_t nbytes;
} raw_t;

typedef struct {
    raw_t t[128];
    int n;
    unsigned char *owned[128];
    int n_owned;
} raw_list;

static inline void raw_add(raw_list *l, const char *name, const float *data, int64_t d0, int64_t d1)
{
    raw_t *t = &l->t[l->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = "F32";
    t->ndim = d1 > 0 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1 > 0 ? d1 : 0;
    t->data = data;
    t->nbytes = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1) * 4;
}

/* Every tensor of m with HF names: prefix "bert." or "", legacy LN names. */
static inline void raw_from_model(raw_list *l, const fx_model *m, const char *prefix, int legacy)
{
    const ifs_bert_weights *w = &m->w;
    const ifs_bert_config *c = &w->cfg;
    char n[128];
    const char *g = legacy ? "gamma" : "weight", *b = legacy ? "beta" : "bias";
    memset(l, 0, sizeof *l);
#define ADD(d, d0, d1, ...)                                                                        \
    do {                                                                                           \
        snprintf(n, sizeof n, __VA_ARGS__);                                                        \
        raw_add(l, n, d, d0, d1);                                                                  \
    } while (0)
    ADD(w->word_emb, c->vocab_size, c->hidden, "%sembeddings.word_embeddings.weight", prefix);
    ADD(w->pos_emb, c->max_position, c->hidden, "%sembeddings.position_embeddings.weight", prefix);
    ADD(w->type_emb, c->type_vocab, c->hidden, "%sembeddings.token_type_embeddings.weight", prefix);
    ADD(w->emb_ln_g, c->hidden, 0, "%sembeddings.LayerNorm.%s", prefix, g);
    ADD(w->emb_ln_b, c->hidden, 0, "%sembeddings.LayerNorm.%s", prefix, b);
    for (int i = 0; i < c->n_layers; i++) {
        const ifs_bert_layer *L = &w->layers[i];
        int H = c->hidden, I = c->intermediate;
        ADD(L->q_w, H, H, "%sencoder.layer.%d.attention.self.query.weight", prefix, i);
        ADD(L->q_b, H, 0, "%sencoder.layer.%d.attention.self.query.bias", prefix, i);
        ADD(L->k_w, H, H, "%sencoder.layer.%d.attention.self.key.weight", prefix, i);
        ADD(L->k_b, H, 0, "%sencoder.layer.%d.attention.self.key.bias", prefix, i);
        ADD(L->v_w, H, H, "%sencoder.layer.%d.attention.self.value.weight", prefix, i);
        ADD(L->v_b, H, 0, "%sencoder.layer.%d.attention.self.value.bias", prefix, i);
        ADD(L->ao_w, H, H, "%sencoder.layer.%d.attention.output.dense.weight", prefix, i);
        ADD(L->ao_b, H, 0, "%sencoder.layer.%d.attention.output.dense.bias", prefix, i);
        ADD(L->ln1_g, H, 0, "%sencoder.layer.%d.attention.output.LayerNorm.%s", prefix, i, g);
        ADD(L->ln1_b, H, 0, "%sencoder.layer.%d.attention.output.LayerNorm.%s", prefix, i, b);
        ADD(L->i_w, I, H, "%sencoder.layer.%d.intermediate.dense.weight", prefix, i);
        ADD(L->i_b, I, 0, "%sencoder.layer.%d.intermediate.dense.bias", prefix, i);
        ADD(L->o_w, H, I, "%sencoder.layer.%d.output.dense.weight", prefix, i);
        ADD(L->o_b, H, 0, "%sencoder.layer.%d.output.dense.bias", prefix, i);
        ADD(L->ln2_g, H, 0, "%sencoder.layer.%d.output.LayerNorm.%s", prefix, i, g);
        ADD(L->ln2_b, H, 0, "%sencoder.layer.%d.output.LayerNorm.%s", prefix, i, b);
    }
    ADD(w->pool_w, c->hidden, c->hidden, "%spooler.dense.weight", prefix);
    ADD(w->pool_b, c->hidden, 0, "%spooler.dense.bias", prefix);
    ADD(w->cls_w, c->num_labels, c->hidden, "classifier.weight");
    ADD(w->cls_b, c->num_labels, 0, "classifier.bias");
#undef ADD
}

static inline raw_t *raw_find(raw_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->t[i].name, name))
            return &l->t[i];
    fprintf(stderr, "test bug: no tensor %s\n", name);
    exit(1);
}

static inline void raw_remove(raw_list *l, const char *name)
{
    raw_t *t = raw_find(l, name);
    int i = (int)(t - l->t);
    memmove(&l->t[i], &l->t[i + 1], (size_t)(l->n - i - 1) * sizeof *t);
    l->n--;
}

/* A private copy of a tensor's bytes the case may edit. */
static inline unsigned char *raw_own(raw_list *l, raw_t *t)
{
    unsigned char *p = malloc(t->nbytes ? t->nbytes : 1);
    memcpy(p, t->data, t->nbytes);
    t->data = p;
    l->owned[l->n_owned++] = p;
    return p;
}

static inline void raw_free(raw_list *l)
{
    for (int i = 0; i < l->n_owned; i++)
        free(l->owned[i]);
    l->n_owned = 0;
}

/* Writes tensors [from, to) of l to path, offsets back to back. */
static inline void raw_write(const raw_list *l, int from, int to, const char *path)
{
    size_t cap = 1 << 16, k = 0;
    char *h = malloc(cap);
    k += (size_t)snprintf(h + k, cap - k, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int i = from; i < to; i++) {
        const raw_t *t = &l->t[i];
        k += (size_t)snprintf(h + k, cap - k, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld", t->name,
                              t->dtype, (long long)t->shape[0]);
        if (t->ndim == 2)
            k += (size_t)snprintf(h + k, cap - k, ",%lld", (long long)t->shape[1]);
        k +=
            (size_t)snprintf(h + k, cap - k, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        off += t->nbytes;
    }
    k += (size_t)snprintf(h + k, cap - k, "}");
    unsigned char *data = malloc(off ? off : 1);
    off = 0;
    for (int i = from; i < to; i++) {
        memcpy(data + off, l->t[i].data, l->t[i].nbytes);
        off += l->t[i].nbytes;
    }
    size_t len;
    unsigned char *b = fx_st_bytes(h, UINT64_MAX, data, off, &len);
    fx_write(path, b, len);
    free(b);
    free(data);
    free(h);
}

/* ---- helpers ----------------------------------------------------------- */

static inline char *path_in(const char *dir, const char *name)
{
    static char buf[4][4300];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 4300, "%s/%s", dir, name);
    return p;
}

static inline void write_config(const char *dir, const ifs_bert_config *c)
{
    char err[256];
    if (ifs_wts_write_config(path_in(dir, "config.json"), c, err, sizeof err)) {
        fprintf(stderr, "write_config: %s\n", err);
        exit(1);
    }
}

typedef float (*rounder)(float);
static inline float keep(float f)
{
    return f;
}
static inline float via_f16(float f)
{
    return ifs_wts_f16_to_f32(ifs_wts_f32_to_f16(f));
}
static inline float via_bf16(float f)
{
    return ifs_wts_bf16_to_f32(ifs_wts_f32_to_bf16(f));
}

static inline int same(const float *a, const float *b, size_t n, rounder r)
{
    if (!a || !b)
        return a == b;
    for (size_t i = 0; i < n; i++) {
        float x = r(a[i]);
        if (memcmp(&x, &b[i], 4))
            return 0;
    }
    return 1;
}

/* 1 when every array of `got` equals `want` after rounding by r. */
static inline int weights_equal(const ifs_bert_weights *want, const ifs_bert_weights *got,
                                rounder r)
{
    const ifs_bert_config *c = &want->cfg;
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate;
    int ok = same(want->word_emb, got->word_emb, (size_t)c->vocab_size * H, r) &&
             same(want->pos_emb, got->pos_emb, (size_t)c->max_position * H, r) &&
             same(want->type_emb, got->type_emb, (size_t)c->type_vocab * H, r) &&
             same(want->emb_ln_g, got->emb_ln_g, H, r) && same(want->emb_ln_b, got->emb_ln_b, H, r);
    for (int l = 0; ok && l < c->n_layers; l++) {
        const ifs_bert_layer *a = &want->layers[l], *b = &got->layers[l];
        ok = same(a->q_w, b->q_w, H * H, r) && same(a->q_b, b->q_b, H, r) &&
             same(a->k_w, b->k_w, H * H, r) && same(a->k_b, b->k_b, H, r) &&
             same(a->v_w, b->v_w, H * H, r) && same(a->v_b, b->v_b, H, r) &&
             same(a->ao_w, b->ao_w, H * H, r) && same(a->ao_b, b->ao_b, H, r) &&
             same(a->ln1_g, b->ln1_g, H, r) && same(a->ln1_b, b->ln1_b, H, r) &&
             same(a->i_w, b->i_w, I * H, r) && same(a->i_b, b->i_b, I, r) &&
             same(a->o_w, b->o_w, H * I, r) && same(a->o_b, b->o_b, H, r) &&
             same(a->ln2_g, b->ln2_g, H, r) && same(a->ln2_b, b->ln2_b, H, r);
    }
    return ok && same(want->pool_w, got->pool_w, H * H, r) &&
           same(want->pool_b, got->pool_b, H, r) &&
           same(want->cls_w, got->cls_w, (size_t)c->num_labels * H, r) &&
           same(want->cls_b, got->cls_b, (size_t)c->num_labels, r) &&
           got->cfg.n_layers == c->n_layers && got->cfg.num_labels == c->num_labels &&
           !strcmp(got->cfg.labels[1], c->labels[1]);
}

static inline int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int x = fgetc(fa), y = fgetc(fb);
        if (x != y)
            eq = 0;
        if (x == EOF || y == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return eq;
}

static inline void hash_files(char hex[65], const char *const *paths, int n)
{
    ifs_sha256_ctx c;
    ifs_sha256_init(&c);
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        unsigned char buf[4096];
        size_t k;
        while (f && (k = fread(buf, 1, sizeof buf, f)) > 0)
            ifs_sha256_update(&c, buf, k);
        if (f)
            fclose(f);
    }
    ifs_sha256_final_hex(&c, hex);
}

#endif
