/*
 * wts_fixture.h - helpers the weights tests share: raw safetensors bytes from
 * a header string, files in the test's scratch folder, and a tiny seeded
 * BERT in memory. Header-only; tests only.
 */
#ifndef WTS_FIXTURE_H
#define WTS_FIXTURE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ifs_test.h"
#include "ifs_wts.h"

/* 8-byte LE length (hlen, or strlen(header) when hlen == UINT64_MAX), the
 * header, then data_len bytes of `data` (or a counting pattern if NULL). */
static inline unsigned char *fx_st_bytes(const char *header, uint64_t hlen, const void *data,
                                         size_t data_len, size_t *out_len)
{
    size_t k = strlen(header);
    if (hlen == UINT64_MAX)
        hlen = k;
    unsigned char *b = malloc(8 + k + data_len + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + 8, header, k);
    for (size_t i = 0; i < data_len; i++)
        b[8 + k + i] = data ? ((const unsigned char *)data)[i] : (unsigned char)(i * 7 + 1);
    *out_len = 8 + k + data_len;
    return b;
}

static inline void fx_write(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    if (n)
        fwrite(b, 1, n, f);
    fclose(f);
}

static inline void fx_write_text(const char *path, const char *text)
{
    fx_write(path, text, strlen(text));
}

/* A fresh, empty folder under IFS_TEST_TMP; returns a static path. */
static inline const char *fx_dir(const char *name)
{
    static char path[4096];
    const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot make %s\n", path);
        exit(1);
    }
    return path;
}

static inline int fx_contains(const char *s, const char *needle)
{
    return strstr(s, needle) != NULL;
}

/* A tiny BERT whose every value is distinct and seeded, owned by the fixture. */
typedef struct {
    ifs_bert_weights w;
    ifs_bert_layer layers[4];
    float *bufs[128];
    int n;
} fx_model;

static inline float *fx_arr(fx_model *m, size_t n, uint64_t *s, float base)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
        p[i] = base + (float)((double)(*s >> 11) / 9007199254740992.0 - 0.5) * 0.2f;
    }
    m->bufs[m->n++] = p;
    return p;
}

static inline void fx_model_init(fx_model *m, int layers, int labels, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    ifs_bert_config *c = &m->w.cfg;
    c->vocab_size = 20, c->hidden = 8, c->n_layers = layers, c->n_heads = 2;
    c->intermediate = 16, c->max_position = 16, c->type_vocab = 2, c->num_labels = labels;
    c->pad_token_id = 0, c->ln_eps = 1e-12f, c->act = IFS_ACT_GELU;
    for (int i = 0; i < labels; i++)
        snprintf(c->labels[i], IFS_LABEL_LEN, "label-%c", 'a' + i);
    uint64_t s = seed ? seed : 1;
    size_t H = 8, I = 16;
    m->w.word_emb = fx_arr(m, 20 * H, &s, 0);
    m->w.pos_emb = fx_arr(m, 16 * H, &s, 0);
    m->w.type_emb = fx_arr(m, 2 * H, &s, 0);
    m->w.emb_ln_g = fx_arr(m, H, &s, 1);
    m->w.emb_ln_b = fx_arr(m, H, &s, 0);
    for (int l = 0; l < layers; l++) {
        ifs_bert_layer *L = &m->layers[l];
        L->q_w = fx_arr(m, H * H, &s, 0), L->q_b = fx_arr(m, H, &s, 0);
        L->k_w = fx_arr(m, H * H, &s, 0), L->k_b = fx_arr(m, H, &s, 0);
        L->v_w = fx_arr(m, H * H, &s, 0), L->v_b = fx_arr(m, H, &s, 0);
        L->ao_w = fx_arr(m, H * H, &s, 0), L->ao_b = fx_arr(m, H, &s, 0);
        L->ln1_g = fx_arr(m, H, &s, 1), L->ln1_b = fx_arr(m, H, &s, 0);
        L->i_w = fx_arr(m, I * H, &s, 0), L->i_b = fx_arr(m, I, &s, 0);
        L->o_w = fx_arr(m, H * I, &s, 0), L->o_b = fx_arr(m, H, &s, 0);
        L->ln2_g = fx_arr(m, H, &s, 1), L->ln2_b = fx_arr(m, H, &s, 0);
    }
    m->w.layers = m->layers;
    m->w.pool_w = fx_arr(m, H * H, &s, 0);
    m->w.pool_b = fx_arr(m, H, &s, 0);
    m->w.cls_w = fx_arr(m, (size_t)labels * H, &s, 0);
    m->w.cls_b = fx_arr(m, (size_t)labels, &s, 0);
}

static inline void fx_model_free(fx_model *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->bufs[i]);
    m->n = 0;
}

#endif
