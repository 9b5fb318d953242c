/*
 * train_top.c - AdamW fine-tuning of the last encoder layer together with
 * the head (pooler + binary classifier), on the frozen hidden states that
 * enter that layer.
 *
 * Why the last layer: a frozen sentence-embedding encoder's [CLS] row does
 * not say how a text starts (a fragment of a question, then an answer, reads
 * like the answer), and a head on it stays near 0.72 accuracy on the
 * response set. Letting the last layer's attention choose what the [CLS]
 * row gathers is what moves it; the layers below stay frozen, so their
 * output is computed once and the work per step is small:
 *
 *   forward   K, V = x Wk^T, x Wv^T        every row        4 H^2 flops/row
 *             q = x_cls Wq^T               [CLS] rows only
 *             attention of the [CLS] query over its own sequence, per head
 *             LN(ctx Wao^T + x_cls), FFN, LN, pooler, classifier: [CLS] rows
 *   backward  the same in reverse; dWk, dWv = dK^T x, dV^T x   4 H^2 flops/row
 *             no gradient flows into x (the frozen layers below)
 *
 * This is the arithmetic of the CPU backend's [CLS]-only last layer, so a
 * checkpoint written from these parameters scores what training measured
 * (to rounding: the backend blocks its GEMMs differently).
 *
 * Determinism: single-threaded OpenBLAS while training, a seeded shuffle,
 * fixed-order sums (see train.c).
 */
#include "ifs_decide.h"
#include "ifs_train.h"
#include "train_impl.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ------------------------------------------------------ */

enum { N_TENSORS = 20 };

typedef struct {
    size_t off, count;
    int matrix; /* weight decay applies */
    int head;   /* the head's learning rate (else the layer's) */
} slot;

/* The one layout of the parameters, of their gradients and of Adam's
 * moments: the order of ifs_top's fields. */
static void layout(int H, int F, slot s[N_TENSORS], size_t *total)
{
    const size_t h = (size_t)H, i = (size_t)F;
    const size_t counts[N_TENSORS] = { h * h, h, h * h, h, h * h, h, h * h, h, h, h,
                                       i * h, i, h * i, h, h, h, h * h, h, 2 * h, 2 };
    static const int matrix[N_TENSORS] = { 1, 0, 1, 0, 1, 0, 1, 0, 0, 0,
                                           1, 0, 1, 0, 0, 0, 1, 0, 1, 0 };
    size_t off = 0;
    for (int k = 0; k < N_TENSORS; k++) {
        s[k].off = off;
        s[k].count = counts[k];
        s[k].matrix = matrix[k];
        s[k].head = k >= 16;
        off += counts[k];
    }
    *total = off;
}

/* Points t's fields into base (laid out as layout()). */
static void view(ifs_top *t, float *base, int H, int F)
{
    slot s[N_TENSORS];
    size_t total;
    layout(H, F, s, &total);
    float **f[N_TENSORS] = { &t->q_w, &t->q_b, &t->k_w, &t->k_b, &t->v_w, &t->v_b,
                             &t->ao_w, &t->ao_b, &t->ln1_g, &t->ln1_b, &t->i_w, &t->i_b,
                             &t->o_w, &t->o_b, &t->ln2_g, &t->ln2_b, &t->head.pool_w,
                             &t->head.pool_b, &t->head.cls_w, &t->head.cls_b };
    for (int k = 0; k < N_TENSORS; k++) *f[k] = base + s[k].off;
    t->mem = base;
    t->n_params = total;
}

int ifs_top_alloc(ifs_top *t, const ifs_bert_config *cfg)
{
    slot s[N_TENSORS];
    size_t total;
    layout(cfg->hidden, cfg->intermediate, s, &total);
    float *m = calloc(total, sizeof *m);
    if (!m) return -1;
    view(t, m, cfg->hidden, cfg->intermediate);
    return 0;
}

void ifs_top_free(ifs_top *t)
{
    free(t->mem);
    memset(t, 0, sizeof *t);
}

void ifs_top_init(ifs_top *t, const ifs_bert_config *cfg, const ifs_bert_layer *last,
                  const float *pool_w, const float *pool_b, uint64_t seed)
{
    const size_t H = (size_t)cfg->hidden, F = (size_t)cfg->intermediate;
    const float *src[16] = { last->q_w, last->q_b, last->k_w, last->k_b, last->v_w, last->v_b,
                             last->ao_w, last->ao_b, last->ln1_g, last->ln1_b, last->i_w,
                             last->i_b, last->o_w, last->o_b, last->ln2_g, last->ln2_b };
    float *dst[16] = { t->q_w, t->q_b, t->k_w, t->k_b, t->v_w, t->v_b, t->ao_w, t->ao_b,
                       t->ln1_g, t->ln1_b, t->i_w, t->i_b, t->o_w, t->o_b, t->ln2_g, t->ln2_b };
    slot s[N_TENSORS];
    size_t total;
    layout((int)H, (int)F, s, &total);
    for (int k = 0; k < 16; k++) memcpy(dst[k], src[k], s[k].count * sizeof(float));
    ifs_head_init(&t->head, (int)H, pool_w, pool_b, seed);
}

/* ---- activations ------------------------------------------------------ */

static float act_f(float x, ifs_act a)
{
    switch (a) {
    case IFS_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case IFS_ACT_GELU_TANH: {
        const float c = 0.79788456080286536f;
        return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
    }
    case IFS_ACT_RELU: return x > 0.0f ? x : 0.0f;
    }
    return x;
}

static float act_df(float x, ifs_act a)
{
    switch (a) {
    case IFS_ACT_GELU:
        return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) +
               x * 0.39894228040143268f * expf(-0.5f * x * x);
    case IFS_ACT_GELU_TANH: {
        const float c = 0.79788456080286536f;
        float th = tanhf(c * (x + 0.044715f * x * x * x));
        return 0.5f * (1.0f + th) +
               0.5f * x * (1.0f - th * th) * c * (1.0f + 3.0f * 0.044715f * x * x);
    }
    case IFS_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    }
    return 1.0f;
}

/* ---- work space ------------------------------------------------------- */

typedef struct {
    int H, NH, D, F, B; /* B: examples per call */
    int64_t R;          /* rows per call */
    float eps, scale;
    ifs_act act;
    int64_t *boff;      /* [B + 1] row offsets of the examples in xb */
    /* per row */
    float *xb, *k, *v, *dk, *dv, *p; /* p: [R][NH] probabilities of the [CLS] query */
    /* per example */
    float *xc, *q, *ctx, *xh1, *rs1, *h1, *u, *g, *xh2, *rs2, *h2, *pooled, *logit, *dl;
    float *dq, *dctx, *dh, *dr, *dg;
} work;

static void work_free(work *w)
{
    free(w->boff);
    free(w->xb);
    free(w->xc);
}

static int work_alloc(work *w, const ifs_bert_config *cfg, int B, int64_t R)
{
    memset(w, 0, sizeof *w);
    w->H = cfg->hidden;
    w->NH = cfg->n_heads;
    w->D = cfg->hidden / cfg->n_heads;
    w->F = cfg->intermediate;
    w->B = B;
    w->R = R;
    w->eps = cfg->ln_eps;
    w->scale = 1.0f / sqrtf((float)w->D);
    w->act = cfg->act;
    const size_t H = (size_t)w->H, F = (size_t)w->F, b = (size_t)B, r = (size_t)R;
    w->boff = malloc((b + 1) * sizeof *w->boff);
    w->xb = malloc(r * (5 * H + (size_t)w->NH) * sizeof(float));
    w->xc = malloc(b * (12 * H + 3 * F + 6) * sizeof(float)); /* xc + per_h[11], see below */
    if (!w->boff || !w->xb || !w->xc) {
        work_free(w);
        return -1;
    }
    w->k = w->xb + r * H;
    w->v = w->k + r * H;
    w->dk = w->v + r * H;
    w->dv = w->dk + r * H;
    w->p = w->dv + r * H;
    float *f = w->xc + b * H;
    float **per_h[] = { &w->q, &w->ctx, &w->xh1, &w->h1, &w->xh2, &w->h2, &w->pooled,
                        &w->dq, &w->dctx, &w->dh, &w->dr };
    for (size_t k = 0; k < sizeof per_h / sizeof *per_h; k++, f += b * H) *per_h[k] = f;
    w->u = f; f += b * F;
    w->g = f; f += b * F;
    w->dg = f; f += b * F;
    w->rs1 = f; f += b;
    w->rs2 = f; f += b;
    w->logit = f; f += 2 * b;
    w->dl = f;
    return 0;
}

/* y[b][n] = x[b][k] W[n][k]^T + bias */
static void linear(float *y, const float *x, const float *W, const float *bias, int64_t b,
                   int n, int k)
{
    for (int64_t r = 0; r < b; r++) memcpy(y + r * n, bias, (size_t)n * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, n, k, 1.0f, x, k, W, k, 1.0f,
                y, n);
}

/* out = LN(x) * g + beta per row; keeps the normalised rows and 1/std. */
static void layernorm_fwd(float *out, float *xh, float *rstd, const float *x, const float *g,
                          const float *beta, int b, int H, float eps)
{
    for (int r = 0; r < b; r++) {
        const float *xr = x + (size_t)r * H;
        double mean = 0.0, var = 0.0;
        for (int j = 0; j < H; j++) mean += xr[j];
        mean /= H;
        for (int j = 0; j < H; j++) var += (xr[j] - mean) * (xr[j] - mean);
        var /= H;
        float rs = (float)(1.0 / sqrt(var + eps));
        rstd[r] = rs;
        for (int j = 0; j < H; j++) {
            float n = (float)(xr[j] - mean) * rs;
            xh[(size_t)r * H + j] = n;
            out[(size_t)r * H + j] = n * g[j] + beta[j];
        }
    }
}

/* dx = d(LN)/dx . dy in place of dy; accumulates dg, dbeta. */
static void layernorm_bwd(float *dy, const float *xh, const float *rstd, const float *g,
                          float *dg, float *dbeta, int b, int H)
{
    for (int r = 0; r < b; r++) {
        float *d = dy + (size_t)r * H;
        const float *n = xh + (size_t)r * H;
        double m1 = 0.0, m2 = 0.0;
        for (int j = 0; j < H; j++) {
            float dn = d[j] * g[j];
            dg[j] += d[j] * n[j];
            dbeta[j] += d[j];
            m1 += dn;
            m2 += (double)dn * n[j];
        }
        m1 /= H;
        m2 /= H;
        for (int j = 0; j < H; j++)
            d[j] = rstd[r] * (d[j] * g[j] - (float)m1 - n[j] * (float)m2);
    }
}

/* Rows of examples idx[0..b) from X into w->xb; [CLS] rows into w->xc. */
static void gather(work *w, const float *X, const int64_t *off, const size_t *idx, int b)
{
    const size_t H = (size_t)w->H;
    int64_t r = 0;
    for (int e = 0; e < b; e++) {
        int64_t len = off[idx[e] + 1] - off[idx[e]];
        w->boff[e] = r;
        memcpy(w->xb + (size_t)r * H, X + (size_t)off[idx[e]] * H, (size_t)len * H * sizeof(float));
        memcpy(w->xc + (size_t)e * H, X + (size_t)off[idx[e]] * H, H * sizeof(float));
        r += len;
    }
    w->boff[b] = r;
}

/* Forward over examples idx[0..b) (already gathered). Returns the summed
 * loss when y != NULL (and leaves dl = dloss/dlogits, unscaled). */
static double forward(const ifs_top *t, work *w, int b, const int32_t *y, const size_t *idx,
                      float *p1)
{
    const int H = w->H, D = w->D, NH = w->NH, F = w->F;
    const int64_t R = w->boff[b];
    linear(w->k, w->xb, t->k_w, t->k_b, R, H, H);
    linear(w->v, w->xb, t->v_w, t->v_b, R, H, H);
    linear(w->q, w->xc, t->q_w, t->q_b, b, H, H);
    for (int e = 0; e < b; e++) {
        const int64_t r0 = w->boff[e], L = w->boff[e + 1] - r0;
        for (int h = 0; h < NH; h++) {
            const float *q = w->q + (size_t)e * H + h * D;
            float mx = -INFINITY;
            for (int64_t j = 0; j < L; j++) {
                const float *k = w->k + (size_t)(r0 + j) * H + h * D;
                float s = 0.0f;
                for (int d = 0; d < D; d++) s += q[d] * k[d];
                s *= w->scale;
                w->p[(size_t)(r0 + j) * NH + h] = s;
                if (s > mx) mx = s;
            }
            double sum = 0.0;
            for (int64_t j = 0; j < L; j++) {
                float *pj = &w->p[(size_t)(r0 + j) * NH + h];
                *pj = expf(*pj - mx);
                sum += *pj;
            }
            float inv = (float)(1.0 / sum);
            float *c = w->ctx + (size_t)e * H + h * D;
            memset(c, 0, (size_t)D * sizeof(float));
            for (int64_t j = 0; j < L; j++) {
                float *pj = &w->p[(size_t)(r0 + j) * NH + h];
                *pj *= inv;
                const float *v = w->v + (size_t)(r0 + j) * H + h * D;
                for (int d = 0; d < D; d++) c[d] += *pj * v[d];
            }
        }
    }
    /* attention output + residual + LN1 (dh is scratch for the sum) */
    linear(w->dh, w->ctx, t->ao_w, t->ao_b, b, H, H);
    for (size_t i = 0; i < (size_t)b * H; i++) w->dh[i] += w->xc[i];
    layernorm_fwd(w->h1, w->xh1, w->rs1, w->dh, t->ln1_g, t->ln1_b, b, H, w->eps);
    linear(w->u, w->h1, t->i_w, t->i_b, b, F, H);
    for (size_t i = 0; i < (size_t)b * F; i++) w->g[i] = act_f(w->u[i], w->act);
    linear(w->dh, w->g, t->o_w, t->o_b, b, H, F);
    for (size_t i = 0; i < (size_t)b * H; i++) w->dh[i] += w->h1[i];
    layernorm_fwd(w->h2, w->xh2, w->rs2, w->dh, t->ln2_g, t->ln2_b, b, H, w->eps);
    linear(w->pooled, w->h2, t->head.pool_w, t->head.pool_b, b, H, H);
    for (size_t i = 0; i < (size_t)b * H; i++) w->pooled[i] = tanhf(w->pooled[i]);
    double loss = 0.0;
    const float *cw = t->head.cls_w, *cb = t->head.cls_b;
    for (int e = 0; e < b; e++) {
        const float *x = w->pooled + (size_t)e * H;
        double z0 = cb[0], z1 = cb[1];
        for (int k = 0; k < H; k++) {
            z0 += (double)cw[k] * x[k];
            z1 += (double)cw[H + k] * x[k];
        }
        w->logit[2 * e] = (float)z0;
        w->logit[2 * e + 1] = (float)z1;
        double m = z0 > z1 ? z0 : z1, lse = m + log(exp(z0 - m) + exp(z1 - m));
        double q1 = exp(z1 - lse);
        if (p1) p1[e] = (float)q1;
        if (y) {
            int lab = y[idx[e]];
            loss += lse - (lab ? z1 : z0);
            w->dl[2 * e] = (float)((1.0 - q1) - (lab == 0));
            w->dl[2 * e + 1] = (float)(q1 - (lab == 1));
        }
    }
    return loss;
}

static void col_sums(float *acc, const float *x, int64_t rows, int n)
{
    for (int64_t r = 0; r < rows; r++)
        for (int j = 0; j < n; j++) acc[j] += x[(size_t)r * n + j];
}

/* dW[n][k] += dy[rows][n]^T x[rows][k] */
static void grad_w(float *dW, const float *dy, const float *x, int64_t rows, int n, int k)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, k, (int)rows, 1.0f, dy, n, x, k,
                1.0f, dW, k);
}

/* dx[rows][k] = dy[rows][n] W[n][k] (+ dx when accumulate) */
static void grad_x(float *dx, const float *dy, const float *W, int64_t rows, int n, int k,
                   int accumulate)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, k, n, 1.0f, dy, n, W, k,
                accumulate ? 1.0f : 0.0f, dx, k);
}

/* Gradients of the mean loss over the b examples of the last forward into
 * G (zeroed here). */
static void backward(const ifs_top *t, ifs_top *G, work *w, int b)
{
    const int H = w->H, D = w->D, NH = w->NH, F = w->F;
    const int64_t R = w->boff[b];
    memset(G->mem, 0, G->n_params * sizeof(float));
    const float inv = 1.0f / (float)b;
    for (int i = 0; i < 2 * b; i++) w->dl[i] *= inv;
    /* classifier, tanh, pooler */
    for (int e = 0; e < b; e++) {
        const float *x = w->pooled + (size_t)e * H;
        const float d0 = w->dl[2 * e], d1 = w->dl[2 * e + 1];
        float *dz = w->dr + (size_t)e * H;
        for (int k = 0; k < H; k++) {
            G->head.cls_w[k] += d0 * x[k];
            G->head.cls_w[H + k] += d1 * x[k];
            dz[k] = (d0 * t->head.cls_w[k] + d1 * t->head.cls_w[H + k]) * (1.0f - x[k] * x[k]);
        }
        G->head.cls_b[0] += d0;
        G->head.cls_b[1] += d1;
    }
    grad_w(G->head.pool_w, w->dr, w->h2, b, H, H);
    col_sums(G->head.pool_b, w->dr, b, H);
    grad_x(w->dh, w->dr, t->head.pool_w, b, H, H, 0);
    /* LN2: dh becomes d(o + h1) */
    layernorm_bwd(w->dh, w->xh2, w->rs2, t->ln2_g, G->ln2_g, G->ln2_b, b, H);
    grad_w(G->o_w, w->dh, w->g, b, H, F);
    col_sums(G->o_b, w->dh, b, H);
    grad_x(w->dg, w->dh, t->o_w, b, H, F, 0);
    for (size_t i = 0; i < (size_t)b * F; i++) w->dg[i] *= act_df(w->u[i], w->act);
    grad_w(G->i_w, w->dg, w->h1, b, F, H);
    col_sums(G->i_b, w->dg, b, F);
    grad_x(w->dh, w->dg, t->i_w, b, F, H, 1); /* + the residual path already in dh */
    /* LN1: dh becomes d(attention output + x_cls); x_cls is frozen input */
    layernorm_bwd(w->dh, w->xh1, w->rs1, t->ln1_g, G->ln1_g, G->ln1_b, b, H);
    grad_w(G->ao_w, w->dh, w->ctx, b, H, H);
    col_sums(G->ao_b, w->dh, b, H);
    grad_x(w->dctx, w->dh, t->ao_w, b, H, H, 0);
    /* attention of each [CLS] query */
    memset(w->dq, 0, (size_t)b * H * sizeof(float));
    for (int e = 0; e < b; e++) {
        const int64_t r0 = w->boff[e], L = w->boff[e + 1] - r0;
        for (int h = 0; h < NH; h++) {
            const float *dc = w->dctx + (size_t)e * H + h * D, *q = w->q + (size_t)e * H + h * D;
            float *dq = w->dq + (size_t)e * H + h * D;
            double dot = 0.0; /* sum_j p_j dP_j */
            for (int64_t j = 0; j < L; j++) {
                const float *v = w->v + (size_t)(r0 + j) * H + h * D;
                float dp = 0.0f;
                for (int d = 0; d < D; d++) dp += dc[d] * v[d];
                w->dk[(size_t)(r0 + j) * H + h * D] = dp; /* dP_j, parked in dk */
                dot += (double)w->p[(size_t)(r0 + j) * NH + h] * dp;
            }
            for (int64_t j = 0; j < L; j++) {
                const float pj = w->p[(size_t)(r0 + j) * NH + h];
                float *dk = w->dk + (size_t)(r0 + j) * H + h * D;
                float *dv = w->dv + (size_t)(r0 + j) * H + h * D;
                const float *k = w->k + (size_t)(r0 + j) * H + h * D;
                const float ds = pj * (dk[0] - (float)dot) * w->scale;
                for (int d = 0; d < D; d++) {
                    dv[d] = pj * dc[d];
                    dq[d] += ds * k[d];
                    dk[d] = ds * q[d];
                }
            }
        }
    }
    grad_w(G->q_w, w->dq, w->xc, b, H, H);
    col_sums(G->q_b, w->dq, b, H);
    grad_w(G->k_w, w->dk, w->xb, R, H, H);
    col_sums(G->k_b, w->dk, R, H);
    grad_w(G->v_w, w->dv, w->xb, R, H, H);
    col_sums(G->v_b, w->dv, R, H);
}

/* ---- driver ----------------------------------------------------------- */

/* Mean loss and accuracy over idx[0..n), in calls of at most w->B examples. */
static double eval_split(const ifs_top *t, work *w, const float *X, const int64_t *off,
                         const int32_t *y, const size_t *idx, size_t n, float *p1buf,
                         double *acc)
{
    double loss = 0.0;
    size_t correct = 0;
    for (size_t i = 0; i < n; i += (size_t)w->B) {
        int b = (int)(n - i < (size_t)w->B ? n - i : (size_t)w->B);
        gather(w, X, off, idx + i, b);
        loss += forward(t, w, b, y, idx + i, p1buf);
        for (int e = 0; e < b; e++) correct += (ifs_decide_answer(p1buf[e], IFS_DECIDE_DEFAULT_THRESHOLD) == (y[idx[i + e]] == 1));
    }
    if (acc) *acc = n ? (double)correct / (double)n : 0.0;
    return n ? loss / (double)n : 0.0;
}

static int64_t max_example_rows(const int64_t *off, size_t n)
{
    int64_t m = 1;
    for (size_t i = 0; i < n; i++)
        if (off[i + 1] - off[i] > m) m = off[i + 1] - off[i];
    return m;
}

typedef struct {
    ifs_top *t, G;
    const float *X;
    const int64_t *off;
    const int32_t *y;
    const ifs_train_opts *o;
    work w;
    slot sl[N_TENSORS];
    float *m, *v, *best, *p1;
} top_ctx;

static double top_step(void *vc, const size_t *idx, int b, int step)
{
    top_ctx *c = vc;
    gather(&c->w, c->X, c->off, idx, b);
    double loss = forward(c->t, &c->w, b, c->y, idx, NULL);
    backward(c->t, &c->G, &c->w, b);
    for (int k = 0; k < N_TENSORS; k++) {
        const slot *s = &c->sl[k];
        train_adamw(c->t->mem + s->off, c->G.mem + s->off, c->m + s->off, c->v + s->off,
                    s->count, s->head ? c->o->lr : c->o->layer_lr, c->o->weight_decay, step,
                    s->matrix);
    }
    return loss;
}

static double top_eval(void *vc, const size_t *idx, size_t n, double *acc)
{
    top_ctx *c = vc;
    return eval_split(c->t, &c->w, c->X, c->off, c->y, idx, n, c->p1, acc);
}

static void top_keep(void *vc)
{
    top_ctx *c = vc;
    memcpy(c->best, c->t->mem, c->t->n_params * sizeof(float));
}

static void top_restore(void *vc)
{
    top_ctx *c = vc;
    memcpy(c->t->mem, c->best, c->t->n_params * sizeof(float));
}

int ifs_train_top(const ifs_bert_config *cfg, const float *X, const int64_t *off,
                  const int32_t *y, const uint8_t *split, size_t n,
                  const ifs_train_opts *opts, ifs_top *t, ifs_train_log *log,
                  char *err, size_t errlen)
{
    ifs_train_opts o = opts ? *opts : ifs_train_default_opts();
    if (o.batch < 1) o.batch = 1;
    if (o.batch > 1024) o.batch = 1024;
    const size_t H = (size_t)cfg->hidden;
    for (size_t i = 0; i < n; i++) {
        if (off[i + 1] <= off[i]) {
            train_seterr(err, errlen, "example %zu has no rows", i);
            return -1;
        }
        for (size_t k = (size_t)off[i] * H; k < (size_t)off[i + 1] * H; k++)
            if (!isfinite(X[k])) {
                train_seterr(err, errlen, "example %zu has a non-finite hidden state", i);
                return -1;
            }
    }
    top_ctx c = { .t = t, .X = X, .off = off, .y = y, .o = &o };
    size_t np;
    layout(cfg->hidden, cfg->intermediate, c.sl, &np);
    float *buf = calloc(4 * np, sizeof(float)); /* grads | m | v | best */
    c.p1 = malloc((size_t)o.batch * sizeof *c.p1);
    int wrc = work_alloc(&c.w, cfg, o.batch, (int64_t)o.batch * max_example_rows(off, n));
    if (!buf || !c.p1 || wrc) {
        free(buf);
        free(c.p1);
        if (!wrc) work_free(&c.w);
        train_seterr(err, errlen, "out of memory");
        return -1;
    }
    view(&c.G, buf, cfg->hidden, cfg->intermediate);
    c.m = buf + np;
    c.v = c.m + np;
    c.best = c.v + np;
    train_model mod = { &c, top_step, top_eval, top_keep, top_restore };
    int rc = train_run(&mod, y, split, n, &o, log, err, errlen);
    free(buf);
    free(c.p1);
    work_free(&c.w);
    return rc;
}

double ifs_top_loss_grad(const ifs_top *t, const ifs_bert_config *cfg, const float *X,
                         const int64_t *off, const int32_t *y, size_t n, ifs_top *grad)
{
    work w;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx || n == 0 || n > INT32_MAX || work_alloc(&w, cfg, (int)n, off[n] - off[0])) {
        free(idx);
        return NAN;
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    int saved_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    gather(&w, X, off, idx, (int)n);
    double loss = forward(t, &w, (int)n, y, idx, NULL) / (double)n;
    backward(t, grad, &w, (int)n);
    openblas_set_num_threads(saved_threads);
    work_free(&w);
    free(idx);
    return loss;
}

void ifs_top_predict(const ifs_top *t, const ifs_bert_config *cfg, const float *X,
                     const int64_t *off, size_t n, float *p1)
{
    enum { CHUNK = 64 };
    work w;
    if (work_alloc(&w, cfg, CHUNK, CHUNK * max_example_rows(off, n))) {
        for (size_t i = 0; i < n; i++) p1[i] = NAN; /* out of memory: no prediction */
        return;
    }
    size_t idx[CHUNK];
    for (size_t i = 0; i < n; i += CHUNK) {
        int b = (int)(n - i < CHUNK ? n - i : CHUNK);
        for (int e = 0; e < b; e++) idx[e] = i + (size_t)e;
        gather(&w, X, off, idx, b);
        forward(t, &w, b, NULL, idx, p1 + i);
    }
    work_free(&w);
}
