/*
 * cpu_ops.c - the per-op fp32 reference of BertForSequenceClassification
 * (declared in ifs_cpu_ops.h). Each op is plain C over row-major arrays;
 * GEMMs go to OpenBLAS sgemm with W^T, since a hand-written loop would be
 * ten times slower and no more exact.
 *
 * Decisions:
 *   - LayerNorm accumulates mean and variance in double, two-pass: the rows
 *     are short (hidden), so the cost is nil, and it keeps our side of the
 *     1e-4 logits budget against torch tiny.
 *   - Softmax subtracts the row max and sums in double for the same reason.
 *   - No op depends on which rows or columns a thread was given, so the
 *     threaded backend gives bit-identical results at any thread count.
 *   - Activations over whole rows (ifs_cpu_bias_act) use branch-free forms
 *     that the compiler vectorises: libm's erff/tanhf per element cost as
 *     much as a third of the feed-forward GEMM. gelu uses the Chebyshev
 *     erfc fit of Numerical Recipes (erfcc, fractional error < 1.2e-7) and
 *     gelu_new the identity 0.5 x (1 + tanh u) = x / (1 + exp(-2u)), both
 *     over a polynomial exp; test_cpu_ops bounds them against libm in
 *     double. The scalar ifs_cpu_gelu / ifs_cpu_gelu_tanh stay libm's.
 */
#include "ifs_cpu_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

float ifs_cpu_gelu(float x)
{
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

float ifs_cpu_gelu_tanh(float x)
{
    const float c = 0.79788456080286536f; /* sqrt(2 / pi) */
    return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

float ifs_cpu_act(float x, ifs_act act)
{
    switch (act) {
    case IFS_ACT_GELU: return ifs_cpu_gelu(x);
    case IFS_ACT_GELU_TANH: return ifs_cpu_gelu_tanh(x);
    case IFS_ACT_RELU: return x > 0.0f ? x : 0.0f;
    }
    return x;
}

/* Bit views of a float, for selects written as integer masks: the loops
 * then vectorise without the compiler having to prove that evaluating both
 * sides of a ?: cannot trap. */
static inline int32_t f2i(float f)
{
    union {
        float f;
        int32_t i;
    } u = {.f = f};
    return u.i;
}

static inline float i2f(int32_t i)
{
    union {
        int32_t i;
        float f;
    } u = {.i = i};
    return u.f;
}

/* min(|x|, lim) with x's sign kept (lim > 0): non-negative floats order
 * like their bit patterns. */
static inline float clamp_abs(float x, float lim)
{
    int32_t b = f2i(x), sign = b & (int32_t)0x80000000, mag = b & 0x7fffffff, l = f2i(lim);
    int32_t less = (mag - l) >> 31; /* all ones when mag < l */
    return i2f(sign | (mag & less) | (l & ~less));
}

/* exp(x) for |x| <= 87, branch-free: n = round(x / ln2) by the 1.5 * 2^23
 * trick, r = x - n ln2 in two parts (Cody-Waite), a degree-7 Taylor
 * polynomial for e^r (|r| <= 0.35: error < 1e-8 relative), and 2^n written
 * into the exponent bits. */
static inline float act_exp(float x)
{
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    return p * i2f(((int32_t)n + 127) << 23);
}

/* 0.5 x (1 + erf(z)), z = x / sqrt 2, with erfc(a) = t exp(P(t) - a^2),
 * t = 1 / (1 + a / 2), a = min(|z|, 9) (erfc(9) < 1e-36, and it keeps the
 * exp argument in range). For x < 0 the factor is erfc(a) itself, so there
 * is no cancellation on the negative side; for x >= 0 it is 2 - erfc(a). */
static inline float act_gelu(float x)
{
    float a = clamp_abs(x * 0.70710678118654752f, 9.0f);
    a = i2f(f2i(a) & 0x7fffffff);
    float t = 1.0f / (1.0f + 0.5f * a);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float e = t * act_exp(p - a * a);
    int32_t neg = f2i(x) >> 31; /* all ones when x < 0 */
    float factor = i2f((f2i(e) & neg) | (f2i(2.0f - e) & ~neg));
    return 0.5f * x * factor;
}

/* 0.5 x (1 + tanh u) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3),
 * u clamped to +-40 (tanh(40) is 1 in float). */
static inline float act_gelu_tanh(float x)
{
    float u = clamp_abs(0.79788456080286536f * (x + 0.044715f * x * x * x), 40.0f);
    return x / (1.0f + act_exp(-2.0f * u));
}

/* One chain of dependent double adds per row costs ~4 cycles an element,
 * which on a small hidden size (32) was more than the row's GEMM work: the
 * sums run in IFS_LN_LANES independent lanes, combined in lane order. */
#define IFS_LN_LANES 8
void ifs_cpu_layernorm_stats(const float *v, int dim, float eps, float *mean_out, float *rstd_out)
{
    double acc[IFS_LN_LANES] = {0};
    int j = 0, body = dim - dim % IFS_LN_LANES;
    for (; j < body; j += IFS_LN_LANES)
        for (int k = 0; k < IFS_LN_LANES; k++)
            acc[k] += v[j + k];
    double mean = 0.0;
    for (int k = 0; k < IFS_LN_LANES; k++)
        mean += acc[k];
    for (; j < dim; j++)
        mean += v[j];
    mean /= dim;
    for (int k = 0; k < IFS_LN_LANES; k++)
        acc[k] = 0.0;
    for (j = 0; j < body; j += IFS_LN_LANES)
        for (int k = 0; k < IFS_LN_LANES; k++) {
            double d = v[j + k] - mean;
            acc[k] += d * d;
        }
    double var = 0.0;
    for (int k = 0; k < IFS_LN_LANES; k++)
        var += acc[k];
    for (; j < dim; j++) {
        double d = v[j] - mean;
        var += d * d;
    }
    var /= dim;
    *mean_out = (float)mean;
    *rstd_out = (float)(1.0 / sqrt(var + (double)eps));
}

/* Normalises one row already summed into `v` (may equal out). */
static void layernorm_row(float *out, const float *v, const float *g, const float *b, int dim,
                          float eps)
{
    float m, rstd;
    ifs_cpu_layernorm_stats(v, dim, eps, &m, &rstd);
    for (int j = 0; j < dim; j++)
        out[j] = (v[j] - m) * rstd * g[j] + b[j];
}

void ifs_cpu_layernorm(float *out, const float *x, const float *g, const float *b, int64_t rows,
                       int dim, float eps)
{
    for (int64_t r = 0; r < rows; r++)
        layernorm_row(out + r * dim, x + r * dim, g, b, dim, eps);
}

void ifs_cpu_add_bias_residual_layernorm(float *out, const float *x, const float *bias,
                                         const float *residual, const float *g, const float *b,
                                         int64_t rows, int dim, float eps)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim, *rr = residual + r * dim;
        float *o = out + r * dim;
        /* Sum into out first: out may alias x or residual, and each element
         * is read before it is written. */
        if (bias)
            for (int j = 0; j < dim; j++)
                o[j] = xr[j] + bias[j] + rr[j];
        else
            for (int j = 0; j < dim; j++)
                o[j] = xr[j] + rr[j];
        layernorm_row(o, o, g, b, dim, eps);
    }
}

#define IFS_EMBED_PREFETCH 4
void ifs_cpu_embed_layernorm(float *out, const int32_t *ids, const int32_t *type_ids,
                             const int32_t *seq_off, int32_t n_seqs, int64_t row0, int64_t row1,
                             const float *word, const float *pos, const float *type, const float *g,
                             const float *b, int hidden, float eps)
{
    if (row0 >= row1)
        return;
    /* Find the sequence holding row0 (binary search), then walk. */
    int32_t lo = 0, hi = n_seqs - 1;
    while (lo < hi) {
        int32_t mid = (lo + hi + 1) / 2;
        if (seq_off[mid] <= row0)
            lo = mid;
        else
            hi = mid - 1;
    }
    int32_t s = lo;
    for (int64_t t = row0; t < row1; t++) {
        while (t >= seq_off[s + 1])
            s++;
        int64_t p = t - seq_off[s];
        /* The word table is megabytes and the ids jump across it: ask for
         * a row a few tokens ahead, as the normalisation of this one hides
         * the load (a rarely used word's row is a DRAM miss). */
        if (t + IFS_EMBED_PREFETCH < row1) {
            const float *ahead = word + (int64_t)ids[t + IFS_EMBED_PREFETCH] * hidden;
            __builtin_prefetch(ahead);
            __builtin_prefetch(ahead + hidden - 1); /* the row's last line */
        }
        const float *we = word + (int64_t)ids[t] * hidden;
        const float *pe = pos + p * hidden;
        const float *te = type + (int64_t)(type_ids ? type_ids[t] : 0) * hidden;
        float *o = out + t * hidden;
        for (int j = 0; j < hidden; j++)
            o[j] = we[j] + te[j] + pe[j];
        layernorm_row(o, o, g, b, hidden, eps);
    }
}

void ifs_cpu_bias_act(float *y, int64_t ldy, const float *bias, int64_t rows, int n, int act)
{
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * ldy;
        if (bias)
            for (int j = 0; j < n; j++)
                yr[j] += bias[j];
        switch (act) {
        case IFS_ACT_GELU:
            for (int j = 0; j < n; j++)
                yr[j] = act_gelu(yr[j]);
            break;
        case IFS_ACT_GELU_TANH:
            for (int j = 0; j < n; j++)
                yr[j] = act_gelu_tanh(yr[j]);
            break;
        case IFS_ACT_RELU:
            for (int j = 0; j < n; j++)
                yr[j] = yr[j] > 0.0f ? yr[j] : 0.0f;
            break;
        default: break;
        }
    }
}

void ifs_cpu_linear(float *y, int64_t ldy, const float *x, int64_t ldx, const float *W,
                    const float *bias, int64_t rows, int in, int n0, int n1, int act)
{
    if (rows <= 0 || n1 <= n0)
        return;
    int n = n1 - n0;
    float beta = 0.0f;
    if (bias) {
        /* y starts as the bias and the GEMM adds to it (beta 1): one pass
         * over y instead of OpenBLAS's zeroing pass and then a bias pass. */
        for (int64_t r = 0; r < rows; r++)
            memcpy(y + r * ldy + n0, bias + n0, (size_t)n * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, n, in, 1.0f, x, (int)ldx,
                W + (int64_t)n0 * in, in, beta, y + n0, (int)ldy);
    if (act >= 0) /* -1: none */
        ifs_cpu_bias_act(y + n0, ldy, NULL, rows, n, act);
}

void ifs_cpu_softmax_rows(float *x, int64_t rows, int n)
{
    for (int64_t r = 0; r < rows; r++) {
        float *xr = x + r * n;
        float mx = xr[0];
        for (int j = 1; j < n; j++)
            mx = xr[j] > mx ? xr[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < n; j++) {
            xr[j] = expf(xr[j] - mx);
            sum += xr[j];
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < n; j++)
            xr[j] *= inv;
    }
}

void ifs_cpu_attention_head(float *ctx, int64_t ld_ctx, const float *q, int64_t ld_q,
                            const float *k, const float *v, int64_t ld_kv, int Lq, int L,
                            int head_dim, float scale, float *scratch)
{
    /* scores [Lq][L] = scale * q k^T, softmax over keys, ctx = scores v. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Lq, L, head_dim, scale, q, (int)ld_q, k,
                (int)ld_kv, 0.0f, scratch, L);
    ifs_cpu_softmax_rows(scratch, Lq, L);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Lq, head_dim, L, 1.0f, scratch, L, v,
                (int)ld_kv, 0.0f, ctx, (int)ld_ctx);
}

void ifs_cpu_attention(float *ctx, const float *qkv, const int32_t *seq_off, int32_t n_seqs,
                       int hidden, int n_heads, float *scratch)
{
    int d = hidden / n_heads;
    float scale = 1.0f / sqrtf((float)d);
    int64_t ld = 3 * (int64_t)hidden;
    for (int32_t s = 0; s < n_seqs; s++) {
        int L = seq_off[s + 1] - seq_off[s];
        const float *base = qkv + (int64_t)seq_off[s] * ld;
        for (int h = 0; h < n_heads; h++)
            ifs_cpu_attention_head(ctx + (int64_t)seq_off[s] * hidden + h * d, hidden, base + h * d,
                                   ld, base + hidden + h * d, base + 2 * hidden + h * d, ld, L, L,
                                   d, scale, scratch);
    }
}

void ifs_cpu_pooler_classifier(float *logits, float *pooled, const float *cls, int32_t n_seqs,
                               const ifs_bert_weights *w)
{
    int H = w->cfg.hidden, C = w->cfg.num_labels;
    ifs_cpu_linear(pooled, H, cls, H, w->pool_w, w->pool_b, n_seqs, H, 0, H, -1);
    for (int64_t i = 0; i < (int64_t)n_seqs * H; i++)
        pooled[i] = tanhf(pooled[i]);
    ifs_cpu_linear(logits, C, pooled, H, w->cls_w, w->cls_b, n_seqs, H, 0, C, -1);
}

int ifs_cpu_forward_reference(const ifs_bert_weights *w, const int32_t *ids,
                              const int32_t *type_ids, const int32_t *seq_off, int32_t n_seqs,
                              float *logits, float *cls_hidden)
{
    const ifs_bert_config *c = &w->cfg;
    int H = c->hidden, F = c->intermediate;
    int64_t T = seq_off[n_seqs];
    int maxL = 0;
    for (int32_t s = 0; s < n_seqs; s++)
        if (seq_off[s + 1] - seq_off[s] > maxL)
            maxL = seq_off[s + 1] - seq_off[s];
    float *x = malloc(sizeof(float) * T * H);
    float *qkv = malloc(sizeof(float) * T * 3 * H);
    float *ctx = malloc(sizeof(float) * T * H);
    float *tmp = malloc(sizeof(float) * T * H);
    float *inter = malloc(sizeof(float) * T * F);
    float *sc = malloc(sizeof(float) * (size_t)maxL * maxL);
    float *cls = malloc(sizeof(float) * (size_t)n_seqs * H);
    float *pooled = malloc(sizeof(float) * (size_t)n_seqs * H);
    int rc = -1;
    if (!x || !qkv || !ctx || !tmp || !inter || !sc || !cls || !pooled)
        goto done;

    ifs_cpu_embed_layernorm(x, ids, type_ids, seq_off, n_seqs, 0, T, w->word_emb, w->pos_emb,
                            w->type_emb, w->emb_ln_g, w->emb_ln_b, H, c->ln_eps);
    for (int l = 0; l < c->n_layers; l++) {
        const ifs_bert_layer *ly = &w->layers[l];
        ifs_cpu_linear(qkv, 3 * H, x, H, ly->q_w, ly->q_b, T, H, 0, H, -1);
        ifs_cpu_linear(qkv + H, 3 * H, x, H, ly->k_w, ly->k_b, T, H, 0, H, -1);
        ifs_cpu_linear(qkv + 2 * H, 3 * H, x, H, ly->v_w, ly->v_b, T, H, 0, H, -1);
        ifs_cpu_attention(ctx, qkv, seq_off, n_seqs, H, c->n_heads, sc);
        ifs_cpu_linear(tmp, H, ctx, H, ly->ao_w, NULL, T, H, 0, H, -1);
        ifs_cpu_add_bias_residual_layernorm(x, tmp, ly->ao_b, x, ly->ln1_g, ly->ln1_b, T, H,
                                            c->ln_eps);
        ifs_cpu_linear(inter, F, x, H, ly->i_w, ly->i_b, T, H, 0, F, (int)c->act);
        ifs_cpu_linear(tmp, H, inter, F, ly->o_w, NULL, T, F, 0, H, -1);
        ifs_cpu_add_bias_residual_layernorm(x, tmp, ly->o_b, x, ly->ln2_g, ly->ln2_b, T, H,
                                            c->ln_eps);
    }
    for (int32_t s = 0; s < n_seqs; s++)
        memcpy(cls + (int64_t)s * H, x + (int64_t)seq_off[s] * H, sizeof(float) * H);
    if (cls_hidden)
        memcpy(cls_hidden, cls, sizeof(float) * (size_t)n_seqs * H);
    ifs_cpu_pooler_classifier(logits, pooled, cls, n_seqs, w);
    rc = 0;
done:
    free(x);
    free(qkv);
    free(ctx);
    free(tmp);
    free(inter);
    free(sc);
    free(cls);
    free(pooled);
    return rc;
}
