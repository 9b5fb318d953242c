/*
 * cpu_test_model.h - test-only helpers for tests/cpu: a seeded random
 * generator, and a small random BertForSequenceClassification built in
 * memory (no files), so the forward pass can be tested without the weights
 * loader. Header-only; include from test programs only.
 */
#ifndef IFS_CPU_TEST_MODEL_H
#define IFS_CPU_TEST_MODEL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_wts.h"

/* splitmix64: tiny, seeded, the same on every machine. */
static inline uint64_t tm_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-a, a). */
static inline float tm_uniform(uint64_t *s, float a)
{
    return ((float)(tm_next(s) >> 40) / (float)(1ull << 24) * 2.0f - 1.0f) * a;
}

static inline float *tm_fill(uint64_t *s, size_t n, float a, float center)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = center + tm_uniform(s, a);
    return p;
}

typedef struct {
    ifs_bert_weights w;
    ifs_bert_layer *layers;
    float *arrays[64 * 16 + 16];
    int n_arrays;
} tm_model;

static inline float *tm_keep(tm_model *m, float *p)
{
    m->arrays[m->n_arrays++] = p;
    return p;
}

/* A random model: weights ~ U(-0.1, 0.1) (scaled so activations stay O(1)),
 * LayerNorm gains ~ 1 +- 0.1. */
static inline void tm_model_init(tm_model *m, int vocab, int hidden, int layers, int heads,
                                 int inter, int max_pos, int types, int labels, ifs_act act,
                                 uint64_t seed)
{
    memset(m, 0, sizeof *m);
    ifs_bert_config *c = &m->w.cfg;
    c->vocab_size = vocab;
    c->hidden = hidden;
    c->n_layers = layers;
    c->n_heads = heads;
    c->intermediate = inter;
    c->max_position = max_pos;
    c->type_vocab = types;
    c->num_labels = labels;
    c->ln_eps = 1e-12f;
    c->act = act;
    uint64_t s = seed;
    size_t H = (size_t)hidden, F = (size_t)inter;
    float a = 1.0f / sqrtf((float)hidden), af = 1.0f / sqrtf((float)inter);
    m->w.word_emb = tm_keep(m, tm_fill(&s, (size_t)vocab * H, 0.5f, 0));
    m->w.pos_emb = tm_keep(m, tm_fill(&s, (size_t)max_pos * H, 0.5f, 0));
    m->w.type_emb = tm_keep(m, tm_fill(&s, (size_t)types * H, 0.5f, 0));
    m->w.emb_ln_g = tm_keep(m, tm_fill(&s, H, 0.1f, 1));
    m->w.emb_ln_b = tm_keep(m, tm_fill(&s, H, 0.1f, 0));
    m->layers = calloc((size_t)layers + 1, sizeof *m->layers);
    for (int l = 0; l < layers; l++) {
        ifs_bert_layer *ly = &m->layers[l];
        ly->q_w = tm_keep(m, tm_fill(&s, H * H, a, 0));
        ly->q_b = tm_keep(m, tm_fill(&s, H, 0.1f, 0));
        ly->k_w = tm_keep(m, tm_fill(&s, H * H, a, 0));
        ly->k_b = tm_keep(m, tm_fill(&s, H, 0.1f, 0));
        ly->v_w = tm_keep(m, tm_fill(&s, H * H, a, 0));
        ly->v_b = tm_keep(m, tm_fill(&s, H, 0.1f, 0));
        ly->ao_w = tm_keep(m, tm_fill(&s, H * H, a, 0));
        ly->ao_b = tm_keep(m, tm_fill(&s, H, 0.1f, 0));
        ly->ln1_g = tm_keep(m, tm_fill(&s, H, 0.1f, 1));
        ly->ln1_b = tm_keep(m, tm_fill(&s, H, 0.1f, 0));
        ly->i_w = tm_keep(m, tm_fill(&s, F * H, a, 0));
        ly->i_b = tm_keep(m, tm_fill(&s, F, 0.1f, 0));
        ly->o_w = tm_keep(m, tm_fill(&s, H * F, af, 0));
        ly->o_b = tm_keep(m, tm_fill(&s, H, 0.1f, 0));
        ly->ln2_g = tm_keep(m, tm_fill(&s, H, 0.1f, 1));
        ly->ln2_b = tm_keep(m, tm_fill(&s, H, 0.1f, 0));
    }
    m->w.layers = m->layers;
    m->w.pool_w = tm_keep(m, tm_fill(&s, H * H, a, 0));
    m->w.pool_b = tm_keep(m, tm_fill(&s, H, 0.1f, 0));
    m->w.cls_w = tm_keep(m, tm_fill(&s, (size_t)labels * H, 1.0f, 0));
    m->w.cls_b = tm_keep(m, tm_fill(&s, (size_t)labels, 0.1f, 0));
}

static inline void tm_model_free(tm_model *m)
{
    for (int i = 0; i < m->n_arrays; i++)
        free(m->arrays[i]);
    free(m->layers);
}

#endif
