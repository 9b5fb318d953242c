/*
 * train_impl.h - private to train.c and train_top.c: the seeded randomness
 * and the AdamW step both trainers use. Not included elsewhere.
 */
#ifndef IFS_TRAIN_IMPL_H
#define IFS_TRAIN_IMPL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ifs_buf.h"
#include "ifs_train.h"
#include "ifs_rng.h"

/* The project's one splitmix64 (ifs_rng.h) over a bare state. */
static inline uint64_t train_splitmix64(uint64_t *s)
{
    return ifs_rng_step(s);
}

static inline double train_uniform01(uint64_t *s) /* in (0, 1] */
{
    return ((train_splitmix64(s) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/* Box-Muller from splitmix64: the same bits on every machine with the same libm. */
static inline void train_fill_normal(float *a, size_t n, float std, uint64_t *s)
{
    for (size_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(train_uniform01(s))), t = 2.0 * M_PI * train_uniform01(s);
        a[i] = (float)(std * r * cos(t));
        if (i + 1 < n)
            a[i + 1] = (float)(std * r * sin(t));
    }
}

/* One AdamW step (b1 0.9, b2 0.999, eps 1e-8) at step t >= 1 on n values;
 * decoupled weight decay wd when `decay`. */
static inline void train_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr,
                               float wd, int t, int decay)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        float upd = (m[i] / c1) / (sqrtf(v[i] / c2) + eps);
        if (decay)
            upd += wd * p[i];
        p[i] -= lr * upd;
    }
}

/* What the epoch driver needs of a model. */
typedef struct {
    void *ctx;
    /* One optimiser step (step_no from 1) on the train examples idx[0..b);
     * returns their summed loss. */
    double (*step)(void *ctx, const size_t *idx, int b, int step_no);
    /* Mean loss over the examples idx[0..n), and their accuracy in *acc. */
    double (*eval)(void *ctx, const size_t *idx, size_t n, double *acc);
    void (*keep_best)(void *ctx);    /* copy the parameters aside */
    void (*restore_best)(void *ctx); /* back to the copy */
} train_model;

/* The epochs both trainers share (train.c): labels checked to be 0/1, a
 * seeded Fisher-Yates shuffle of the train split each epoch, minibatches of
 * o->batch, validation after each epoch with o->on_epoch, early stopping
 * on validation loss with o->patience, the best epoch's parameters
 * restored. OpenBLAS runs single-threaded meanwhile. Returns 0, or -1 with
 * words in err. */
int train_run(const train_model *m, const int32_t *y, const uint8_t *split, size_t n,
              const ifs_train_opts *o, ifs_train_log *log, char *err, size_t errlen);

#endif
