/*
 * test_cpu_ops.c - each op of ifs_cpu_ops.h against a plain double-precision
 * loop written here from the HF definitions, on small random shapes. A table
 * of cases per op; tolerance atol + rtol * |ref| as in llm.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test_model.h"
#include "ifs_cpu_ops.h"
#include "ifs_test.h"

static int close_enough(double got, double ref, double atol, double rtol)
{
    return isfinite(got) && fabs(got - ref) <= atol + rtol * fabs(ref);
}

/* max |a-b| over n, and whether all are within tolerance */
static int compare(const char *name, const float *got, const double *ref, size_t n, double atol,
                   double rtol)
{
    double worst = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]);
        if (!(d <= worst))
            worst = d;
        if (!close_enough(got[i], ref[i], atol, rtol))
            bad++;
    }
    IFS_CHECK(bad == 0, "%s: %zu of %zu values off (max abs diff %.3g)", name, bad, n, worst);
    return bad == 0;
}

static void ref_layernorm(double *out, const double *v, const float *g, const float *b, int n,
                          double eps)
{
    double m = 0, var = 0;
    for (int j = 0; j < n; j++)
        m += v[j];
    m /= n;
    for (int j = 0; j < n; j++)
        var += (v[j] - m) * (v[j] - m);
    var /= n;
    for (int j = 0; j < n; j++)
        out[j] = (v[j] - m) / sqrt(var + eps) * g[j] + b[j];
}

/* ---- activations ------------------------------------------------------- */
static void activations_match_their_hf_formulas(void)
{
    static const float xs[] = {-12.0f, -3.5f, -1.0f, -0.25f, 0.0f, 1e-4f, 0.5f, 1.0f, 2.7f, 9.0f};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        double x = xs[i];
        double gelu = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        double gnew = 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        IFS_CHECK(close_enough(ifs_cpu_gelu(xs[i]), gelu, 1e-6, 1e-6), "gelu(%g) = %g, want %g", x,
                  ifs_cpu_gelu(xs[i]), gelu);
        IFS_CHECK(close_enough(ifs_cpu_gelu_tanh(xs[i]), gnew, 1e-6, 1e-6),
                  "gelu_tanh(%g) = %g, want %g", x, ifs_cpu_gelu_tanh(xs[i]), gnew);
        IFS_CHECK(ifs_cpu_act(xs[i], IFS_ACT_RELU) == (xs[i] > 0 ? xs[i] : 0), "relu(%g)", x);
        IFS_CHECK(ifs_cpu_act(xs[i], IFS_ACT_GELU) == ifs_cpu_gelu(xs[i]), "act dispatch gelu");
    }
}

/* The row form (ifs_cpu_bias_act) uses fast branch-free activations: bound
 * them against libm in double on a dense grid, in the tails and at 0. */
static void row_activations_stay_within_float_rounding_of_the_exact_values(void)
{
    enum { N = 48001 };
    float *x = malloc(sizeof(float) * (N + 6)), *g = malloc(sizeof(float) * (N + 6));
    float *gt = malloc(sizeof(float) * (N + 6));
    for (int i = 0; i < N; i++)
        x[i] = -12.0f + 24.0f * (float)i / (N - 1);
    static const float tails[6] = {-1e4f, -100.0f, -30.0f, 30.0f, 100.0f, 1e4f};
    memcpy(x + N, tails, sizeof tails);
    memcpy(g, x, sizeof(float) * (N + 6));
    memcpy(gt, x, sizeof(float) * (N + 6));
    ifs_cpu_bias_act(g, N + 6, NULL, 1, N + 6, IFS_ACT_GELU);
    ifs_cpu_bias_act(gt, N + 6, NULL, 1, N + 6, IFS_ACT_GELU_TANH);
    double worst = 0, worst_t = 0, libm = 0, libm_t = 0;
    for (int i = 0; i < N + 6; i++) {
        double v = x[i];
        float lg = ifs_cpu_gelu(x[i]), lgt = ifs_cpu_gelu_tanh(x[i]);
        double ref = 0.5 * v * erfc(-v / sqrt(2.0));
        double reft = 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
        double e = fabs(g[i] - ref) / (1e-6 + fabs(ref)),
               et = fabs(gt[i] - reft) / (1e-6 + fabs(reft));
        worst = fmax(worst, isfinite(g[i]) ? e : INFINITY);
        worst_t = fmax(worst_t, isfinite(gt[i]) ? et : INFINITY);
        libm = fmax(libm, fabs(lg - ref) / (1e-6 + fabs(ref)));
        libm_t = fmax(libm_t, fabs(lgt - reft) / (1e-6 + fabs(reft)));
    }
    /* the float argument's rounding alone costs ~2 z^2 eps (up to ~5e-6)
     * relative in the negative tail, where libm's 1 + erff(z) even cancels
     * entirely: the fast forms must stay within 5e-6 and beat libm there */
    IFS_CHECK(worst <= 5e-6 && worst_t <= 5e-6 && worst <= libm && worst_t <= libm_t,
              "row gelu off by %.3g (libm in float "
              "%.3g), gelu_tanh by %.3g (libm %.3g) (|err| / (1e-6 + |ref|))",
              worst, libm, worst_t, libm_t);
    float z[2] = {0.0f, -0.0f};
    ifs_cpu_bias_act(z, 2, NULL, 1, 2, IFS_ACT_GELU);
    IFS_CHECK(z[0] == 0.0f && z[1] == 0.0f, "gelu(0) = %g, gelu(-0) = %g", z[0], z[1]);
    float nan[1] = {NAN};
    ifs_cpu_bias_act(nan, 1, NULL, 1, 1, IFS_ACT_GELU);
    IFS_CHECK(isnan(nan[0]), "gelu(NaN) must stay NaN so the scheduler can reject it");
    printf("row activations: max error %.3g (gelu; libm in float %.3g), %.3g (gelu_tanh; libm "
           "%.3g)\n",
           worst, libm, worst_t, libm_t);
    free(x);
    free(g);
    free(gt);
}

/* ---- layernorm and the fused residual form ------------------------------ */
static const struct {
    const char *name;
    int rows, dim;
    float eps;
    float scale;
} ln_cases[] = {
    {"layernorm_of_a_single_value_row_is_its_bias", 3, 1, 1e-12f, 1.0f},
    {"layernorm_normalises_small_rows", 4, 7, 1e-5f, 1.0f},
    {"layernorm_normalises_minilm_width_rows", 5, 384, 1e-12f, 3.0f},
    {"layernorm_normalises_rows_with_large_offsets", 2, 768, 1e-12f, 100.0f},
};

static void layernorm_cases(void)
{
    for (size_t c = 0; c < sizeof ln_cases / sizeof ln_cases[0]; c++) {
        int R = ln_cases[c].rows, D = ln_cases[c].dim;
        uint64_t s = 100 + c;
        size_t n = (size_t)R * D;
        float *x = tm_fill(&s, n, ln_cases[c].scale, ln_cases[c].scale * 0.5f);
        float *res = tm_fill(&s, n, 1.0f, 0);
        float *bias = tm_fill(&s, (size_t)D, 0.5f, 0);
        float *g = tm_fill(&s, (size_t)D, 0.2f, 1);
        float *b = tm_fill(&s, (size_t)D, 0.2f, 0);
        float *out = malloc(n * sizeof *out), *alias = malloc(n * sizeof *alias);
        double *ref = malloc(n * sizeof *ref), *v = malloc((size_t)D * sizeof *v);
        char name[160];

        for (int r = 0; r < R; r++) {
            for (int j = 0; j < D; j++)
                v[j] = x[(size_t)r * D + j];
            ref_layernorm(ref + (size_t)r * D, v, g, b, D, ln_cases[c].eps);
        }
        ifs_cpu_layernorm(out, x, g, b, R, D, ln_cases[c].eps);
        snprintf(name, sizeof name, "%s (plain)", ln_cases[c].name);
        compare(name, out, ref, n, 1e-5, 1e-5);
        memcpy(alias, x, n * sizeof *x);
        ifs_cpu_layernorm(alias, alias, g, b, R, D, ln_cases[c].eps);
        IFS_CHECK(!memcmp(alias, out, n * sizeof *out), "%s: in-place differs", ln_cases[c].name);

        for (int r = 0; r < R; r++) {
            for (int j = 0; j < D; j++)
                v[j] = (double)x[(size_t)r * D + j] + bias[j] + res[(size_t)r * D + j];
            ref_layernorm(ref + (size_t)r * D, v, g, b, D, ln_cases[c].eps);
        }
        ifs_cpu_add_bias_residual_layernorm(out, x, bias, res, g, b, R, D, ln_cases[c].eps);
        snprintf(name, sizeof name, "%s (bias + residual)", ln_cases[c].name);
        compare(name, out, ref, n, 1e-5, 1e-5);
        /* out aliasing the residual is how the backend calls it */
        memcpy(alias, res, n * sizeof *res);
        ifs_cpu_add_bias_residual_layernorm(alias, x, bias, alias, g, b, R, D, ln_cases[c].eps);
        IFS_CHECK(!memcmp(alias, out, n * sizeof *out), "%s: residual-aliased differs",
                  ln_cases[c].name);
        free(x);
        free(res);
        free(bias);
        free(g);
        free(b);
        free(out);
        free(alias);
        free(ref);
        free(v);
    }
}

/* ---- embeddings ------------------------------------------------------- */
static void embeddings_restart_positions_at_each_sequence(void)
{
    const int V = 50, P = 16, TY = 2, H = 24;
    const int32_t off[] = {0, 3, 4, 13, 20};
    const int32_t S = 4, T = 20;
    uint64_t s = 7;
    float *word = tm_fill(&s, (size_t)V * H, 1, 0), *pos = tm_fill(&s, (size_t)P * H, 1, 0);
    float *type = tm_fill(&s, (size_t)TY * H, 1, 0);
    float *g = tm_fill(&s, H, 0.2f, 1), *b = tm_fill(&s, H, 0.2f, 0);
    int32_t ids[20], tys[20];
    for (int t = 0; t < T; t++) {
        ids[t] = (int32_t)(tm_next(&s) % V);
        tys[t] = (t % 3 == 0);
    }
    float out[20 * 24], split[20 * 24];
    double ref[20 * 24], v[24];
    for (int i = 0; i < S; i++)
        for (int t = off[i]; t < off[i + 1]; t++) {
            for (int j = 0; j < H; j++)
                v[j] =
                    (double)word[ids[t] * H + j] + pos[(t - off[i]) * H + j] + type[tys[t] * H + j];
            ref_layernorm(ref + t * H, v, g, b, H, 1e-12);
        }
    ifs_cpu_embed_layernorm(out, ids, tys, off, S, 0, T, word, pos, type, g, b, H, 1e-12f);
    compare("embeddings_restart_positions_at_each_sequence", out, ref, (size_t)T * H, 1e-5, 1e-5);
    /* any row split gives the same bits */
    static const int cuts[][2] = {{0, 1}, {1, 4}, {4, 11}, {11, 20}};
    for (size_t k = 0; k < 4; k++)
        ifs_cpu_embed_layernorm(split, ids, tys, off, S, cuts[k][0], cuts[k][1], word, pos, type, g,
                                b, H, 1e-12f);
    IFS_CHECK(!memcmp(out, split, sizeof out), "embeddings computed by row ranges differ");
    /* NULL type ids mean type 0 */
    for (int t = 0; t < T; t++)
        tys[t] = 0;
    ifs_cpu_embed_layernorm(split, ids, tys, off, S, 0, T, word, pos, type, g, b, H, 1e-12f);
    ifs_cpu_embed_layernorm(out, ids, NULL, off, S, 0, T, word, pos, type, g, b, H, 1e-12f);
    IFS_CHECK(!memcmp(out, split, sizeof out), "NULL type ids differ from all-zero type ids");
    free(word);
    free(pos);
    free(type);
    free(g);
    free(b);
}

/* ---- linear -------------------------------------------------------------- */
static const struct {
    const char *name;
    int rows, in, out, act;
} lin_cases[] = {
    {"linear_of_one_row_matches_the_dot_products", 1, 16, 8, -1},
    {"linear_with_gelu_matches_loop", 13, 32, 48, IFS_ACT_GELU},
    {"linear_with_gelu_tanh_matches_loop", 9, 64, 40, IFS_ACT_GELU_TANH},
    {"linear_with_relu_matches_loop", 5, 24, 17, IFS_ACT_RELU},
    {"linear_at_minilm_ffn_shape_matches_loop", 37, 384, 1536, IFS_ACT_GELU},
};

static void linear_cases(void)
{
    for (size_t c = 0; c < sizeof lin_cases / sizeof lin_cases[0]; c++) {
        int R = lin_cases[c].rows, K = lin_cases[c].in, N = lin_cases[c].out;
        uint64_t s = 300 + c;
        float *x = tm_fill(&s, (size_t)R * K, 1, 0), *W = tm_fill(&s, (size_t)N * K, 0.2f, 0);
        float *bias = tm_fill(&s, (size_t)N, 0.5f, 0);
        float *y = malloc(sizeof(float) * R * N), *y2 = malloc(sizeof(float) * R * N);
        double *ref = malloc(sizeof(double) * R * N);
        for (int r = 0; r < R; r++)
            for (int n = 0; n < N; n++) {
                double acc = bias[n];
                for (int k = 0; k < K; k++)
                    acc += (double)x[r * K + k] * W[n * K + k];
                double a = acc;
                if (lin_cases[c].act == IFS_ACT_GELU)
                    a = 0.5 * acc * (1 + erf(acc / sqrt(2.0)));
                if (lin_cases[c].act == IFS_ACT_GELU_TANH)
                    a = 0.5 * acc * (1 + tanh(sqrt(2 / M_PI) * (acc + 0.044715 * acc * acc * acc)));
                if (lin_cases[c].act == IFS_ACT_RELU)
                    a = acc > 0 ? acc : 0;
                ref[r * N + n] = a;
            }
        ifs_cpu_linear(y, N, x, K, W, bias, R, K, 0, N, lin_cases[c].act);
        compare(lin_cases[c].name, y, ref, (size_t)R * N, 1e-5, 1e-5);
        /* column slabs compute the same values (to rounding: OpenBLAS may
         * order a sum differently for another call shape) */
        int cuts[] = {0, 16, 16, N / 2 / 16 * 16 + 16, N};
        memset(y2, 0, sizeof(float) * R * N);
        for (int k = 0; k < 4; k++) {
            int a = cuts[k] < N ? cuts[k] : N, b = cuts[k + 1] < N ? cuts[k + 1] : N;
            ifs_cpu_linear(y2, N, x, K, W, bias, R, K, a, b, lin_cases[c].act);
        }
        compare(lin_cases[c].name, y2, ref, (size_t)R * N, 1e-5, 1e-5);
        free(x);
        free(W);
        free(bias);
        free(y);
        free(y2);
        free(ref);
    }
}

/* ---- softmax and attention --------------------------------------------- */
static void softmax_rows_sum_to_one_and_match_exp(void)
{
    float x[3 * 5] = {0, 1, 2, 3, 4, -100, 0, 100, 0, 0, 88, 88, 88, 88, 87};
    double ref[15];
    for (int r = 0; r < 3; r++) {
        double mx = -1e300, sum = 0;
        for (int j = 0; j < 5; j++)
            mx = fmax(mx, x[r * 5 + j]);
        for (int j = 0; j < 5; j++)
            sum += exp(x[r * 5 + j] - mx);
        for (int j = 0; j < 5; j++)
            ref[r * 5 + j] = exp(x[r * 5 + j] - mx) / sum;
    }
    ifs_cpu_softmax_rows(x, 3, 5);
    compare("softmax_rows_sum_to_one_and_match_exp", x, ref, 15, 1e-7, 1e-6);
}

static void ref_attention_head(double *out, const float *q, const float *k, const float *v, int ld,
                               int Lq, int L, int d)
{
    double *p = malloc(sizeof(double) * L);
    for (int i = 0; i < Lq; i++) {
        double mx = -1e300, sum = 0;
        for (int j = 0; j < L; j++) {
            double acc = 0;
            for (int e = 0; e < d; e++)
                acc += (double)q[i * ld + e] * k[j * ld + e];
            p[j] = acc / sqrt((double)d);
            mx = fmax(mx, p[j]);
        }
        for (int j = 0; j < L; j++) {
            p[j] = exp(p[j] - mx);
            sum += p[j];
        }
        for (int e = 0; e < d; e++) {
            double acc = 0;
            for (int j = 0; j < L; j++)
                acc += p[j] / sum * v[j * ld + e];
            out[i * d + e] = acc;
        }
    }
    free(p);
}

static const struct {
    const char *name;
    int L, d;
} att_cases[] = {
    {"attention_over_one_token_returns_its_value", 1, 8},
    {"attention_over_five_tokens_matches_loop", 5, 32},
    {"attention_over_37_tokens_with_head_dim_64_matches_loop", 37, 64},
    {"attention_over_128_tokens_matches_loop", 128, 32},
};

static void attention_head_cases(void)
{
    for (size_t c = 0; c < sizeof att_cases / sizeof att_cases[0]; c++) {
        int L = att_cases[c].L, d = att_cases[c].d, ld = 3 * d + 5; /* strided like qkv */
        uint64_t s = 500 + c;
        float *qkv = tm_fill(&s, (size_t)L * ld, 2.0f, 0);
        float *ctx = malloc(sizeof(float) * L * d), *c1 = malloc(sizeof(float) * d);
        float *scratch = malloc(sizeof(float) * L * L);
        double *ref = malloc(sizeof(double) * L * d);
        ref_attention_head(ref, qkv, qkv + d, qkv + 2 * d, ld, L, L, d);
        ifs_cpu_attention_head(ctx, d, qkv, ld, qkv + d, qkv + 2 * d, ld, L, L, d,
                               1.0f / sqrtf((float)d), scratch);
        compare(att_cases[c].name, ctx, ref, (size_t)L * d, 1e-5, 1e-5);
        /* the [CLS]-only form (one query row) gives the first row */
        ifs_cpu_attention_head(c1, d, qkv, ld, qkv + d, qkv + 2 * d, ld, 1, L, d,
                               1.0f / sqrtf((float)d), scratch);
        compare(att_cases[c].name, c1, ref, (size_t)d, 1e-5, 1e-5);
        if (L == 1)
            for (int e = 0; e < d; e++)
                IFS_CHECK(fabsf(ctx[e] - qkv[2 * d + e]) < 1e-6f, "one token: ctx != v");
        free(qkv);
        free(ctx);
        free(c1);
        free(scratch);
        free(ref);
    }
}

static void attention_never_crosses_sequences(void)
{
    const int H = 16, NH = 2, d = 8;
    const int32_t off[] = {0, 4, 5, 11};
    const int T = 11;
    uint64_t s = 900;
    float *qkv = tm_fill(&s, (size_t)T * 3 * H, 1.5f, 0);
    float ctx[11 * 16], ctx2[11 * 16], scratch[64];
    double ref[6 * 8];
    ifs_cpu_attention(ctx, qkv, off, 3, H, NH, scratch);
    /* each (sequence, head) equals the loop over that sequence alone */
    for (int i = 0; i < 3; i++)
        for (int h = 0; h < NH; h++) {
            int L = off[i + 1] - off[i];
            const float *base = qkv + (size_t)off[i] * 3 * H + h * d;
            ref_attention_head(ref, base, base + H, base + 2 * H, 3 * H, L, L, d);
            float got[6 * 8];
            for (int t = 0; t < L; t++)
                memcpy(got + t * d, ctx + (off[i] + t) * H + h * d, sizeof(float) * d);
            compare("attention_never_crosses_sequences", got, ref, (size_t)L * d, 1e-5, 1e-5);
        }
    /* changing the third sequence leaves the first two bit-identical */
    for (int t = off[2]; t < T; t++)
        for (int j = 0; j < 3 * H; j++)
            qkv[t * 3 * H + j] += 1.0f;
    ifs_cpu_attention(ctx2, qkv, off, 3, H, NH, scratch);
    IFS_CHECK(!memcmp(ctx, ctx2, sizeof(float) * off[2] * H),
              "editing sequence 3 changed sequences 1-2");
    free(qkv);
}

static void pooler_and_classifier_match_loop(void)
{
    tm_model m;
    tm_model_init(&m, 10, 32, 0, 4, 64, 8, 2, 3, IFS_ACT_GELU, 77);
    uint64_t s = 78;
    float *cls = tm_fill(&s, 5 * 32, 1, 0);
    float logits[5 * 3], pooled[5 * 32];
    double ref[5 * 3];
    for (int r = 0; r < 5; r++) {
        double p[32];
        for (int n = 0; n < 32; n++) {
            double acc = m.w.pool_b[n];
            for (int k = 0; k < 32; k++)
                acc += (double)cls[r * 32 + k] * m.w.pool_w[n * 32 + k];
            p[n] = tanh(acc);
        }
        for (int c = 0; c < 3; c++) {
            double acc = m.w.cls_b[c];
            for (int k = 0; k < 32; k++)
                acc += p[k] * m.w.cls_w[c * 32 + k];
            ref[r * 3 + c] = acc;
        }
    }
    ifs_cpu_pooler_classifier(logits, pooled, cls, 5, &m.w);
    compare("pooler_and_classifier_match_loop", logits, ref, 15, 1e-5, 1e-5);
    free(cls);
    tm_model_free(&m);
}

int main(void)
{
    activations_match_their_hf_formulas();
    row_activations_stay_within_float_rounding_of_the_exact_values();
    layernorm_cases();
    embeddings_restart_positions_at_each_sequence();
    linear_cases();
    softmax_rows_sum_to_one_and_match_exp();
    attention_head_cases();
    attention_never_crosses_sequences();
    pooler_and_classifier_match_loop();
    return ifs_test_done("cpu ops");
}
