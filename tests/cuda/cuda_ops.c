/*
 * cuda_ops.c - every CUDA kernel against its fp32 CPU reference, op by op
 * (in the spirit of ggml's test-backend-ops). One table of cases; each has
 * an op, a dtype, shapes, a ragged packed batch, and the error budget of its
 * (op, dtype) pair from tol_for():
 *
 *   |got - ref| <= atol + rtol * |ref|   for every element, and
 *   NMSE = sum (got - ref)^2 / sum ref^2 <= nmse   over the whole output,
 *   non-finite outputs where the reference is finite counted on their own.
 *
 * The reference gets the inputs exactly as the device sees them: values
 * are rounded to the case's dtype on the device and read back before the
 * CPU op runs, so the budget covers the kernel's arithmetic and its output
 * rounding only.
 *
 * Outputs are poisoned (0xff bytes: NaN in every dtype) before the kernel
 * runs and followed by a poisoned guard band checked after it: an element
 * never written fails the comparison, a write past the end fails the
 * guard. A case may name the kernel it must take (path: the vectorised /
 * warp / tensor-core kernel, or the fallback), so both kernels of each op
 * stay covered; `mis` moves an array one element off 16-byte alignment.
 * After the table: the GEMM plan table (hits, misses, eviction, a plan
 * shared by calls with different biases), the random fill and the GEMM
 * ceiling.
 *
 * Without a CUDA device it prints that it did not run and exits 77.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "../../kernels/cpu/ifs_cpu_ops.h"
#include "../../kernels/cuda/ifs_cuda_ops.h"
#include "ifs_test.h"

/* --- plumbing ---------------------------------------------------------------- */

#define CUDA_OK(call)                                                                              \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "FATAL %s:%d: %s: %s\n", __FILE__, __LINE__, #call,                    \
                    cudaGetErrorString(e_));                                                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
    rng_state = s * 0x9E3779B97F4A7C15ull + 1;
}

static uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static float rng_uniform(void)
{
    return ((rng_u32() >> 11) + 0.5f) / 2097152.0f;
} /* (0,1), 21 bits */

static float rng_normal(void)
{
    float u = rng_uniform(), v = rng_uniform();
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

static float *host_normal(size_t n, float mean, float sd)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p)
        exit(1);
    for (size_t i = 0; i < n; i++)
        p[i] = mean + sd * rng_normal();
    return p;
}

static void *dev_alloc(size_t bytes)
{
    void *p = NULL;
    CUDA_OK(cudaMalloc(&p, bytes ? bytes : 1));
    return p;
}

/* Output arrays: `bytes` poisoned bytes starting `mis` bytes past a 256-byte
 * boundary, then a poisoned guard band. Free with cudaFree(out_base(p)). */
enum { GUARD = 512 };
typedef struct {
    unsigned char *base, *p;
    size_t bytes;
} out_buf;

static out_buf out_alloc(size_t bytes, size_t mis)
{
    out_buf o;
    o.base = dev_alloc(bytes + mis + GUARD);
    CUDA_OK(cudaMemset(o.base, 0xff, bytes + mis + GUARD));
    o.p = o.base + mis;
    o.bytes = bytes;
    return o;
}

static int guard_intact(const out_buf *o)
{
    unsigned char g[GUARD];
    CUDA_OK(cudaMemcpy(g, o->p + o->bytes, GUARD, cudaMemcpyDeviceToHost));
    for (int i = 0; i < GUARD; i++)
        if (g[i] != 0xff)
            return 0;
    return 1;
}

static void *dev_copy(const void *host, size_t bytes)
{
    void *p = dev_alloc(bytes);
    CUDA_OK(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice));
    return p;
}

/* Uploads n fp32 values as elements of dt into `d`; `rounded` (host, n)
 * receives the values the device now holds, as fp32. */
static void dev_elems_into(ifs_dtype dt, void *d, const float *host, size_t n, float *rounded)
{
    float *tmp = dev_copy(host, sizeof(float) * n);
    CUDA_OK(ifs_cuda_from_f32(dt, d, tmp, (int64_t)n, 0));
    CUDA_OK(ifs_cuda_to_f32(dt, tmp, d, (int64_t)n, 0));
    CUDA_OK(cudaMemcpy(rounded, tmp, sizeof(float) * n, cudaMemcpyDeviceToHost));
    cudaFree(tmp);
}

/* The same into a fresh device array. */
static void *dev_elems(ifs_dtype dt, const float *host, size_t n, float *rounded)
{
    void *d = dev_alloc(ifs_cuda_dtype_size(dt) * n);
    dev_elems_into(dt, d, host, n, rounded);
    return d;
}

/* Reads n elements of dt from the device as fp32. */
static void host_from_elems(ifs_dtype dt, float *out, const void *d, size_t n)
{
    float *tmp = dev_alloc(sizeof(float) * n);
    CUDA_OK(ifs_cuda_to_f32(dt, tmp, d, (int64_t)n, 0));
    CUDA_OK(cudaMemcpy(out, tmp, sizeof(float) * n, cudaMemcpyDeviceToHost));
    cudaFree(tmp);
}

static const char *dt_name(ifs_dtype dt)
{
    return dt == IFS_DT_F32 ? "f32" : dt == IFS_DT_F16 ? "f16" : "bf16";
}

/* --- batches: ragged packed sequence lengths ------------------------------------ */

enum { B_ONE_TOKEN, B_256_SHORT, B_LONG_MIX, B_40_MEDIUM, B_ONE_512 };

typedef struct {
    int32_t n_seqs, n_tokens, max_len;
    int32_t *off; /* [n_seqs + 1] */
} batch;

static batch make_batch(int kind)
{
    static const int32_t long_mix[] = {512, 511, 300, 129, 65, 64, 63, 17, 2, 1};
    batch b;
    int32_t lens[256];
    int n = 0;
    switch (kind) {
    case B_ONE_TOKEN: lens[n++] = 1; break;
    case B_256_SHORT:
        for (int i = 0; i < 256; i++)
            lens[n++] = 1 + (int32_t)(rng_u32() % 48);
        break;
    case B_LONG_MIX:
        for (size_t i = 0; i < sizeof long_mix / sizeof long_mix[0]; i++)
            lens[n++] = long_mix[i];
        break;
    case B_40_MEDIUM:
        for (int i = 0; i < 40; i++)
            lens[n++] = 1 + (int32_t)(rng_u32() % 200);
        break;
    case B_ONE_512: lens[n++] = 512; break;
    }
    b.n_seqs = n;
    b.off = malloc(sizeof(int32_t) * (n + 1));
    if (!b.off)
        exit(1);
    b.off[0] = 0;
    b.max_len = 0;
    for (int i = 0; i < n; i++) {
        b.off[i + 1] = b.off[i] + lens[i];
        if (lens[i] > b.max_len)
            b.max_len = lens[i];
    }
    b.n_tokens = b.off[n];
    return b;
}

/* --- comparison ---------------------------------------------------------------- */

typedef struct {
    double atol, rtol, nmse;
} tol;

enum { OP_EMBED_LN, OP_RESID_LN, OP_BIAS_ACT, OP_ATTENTION, OP_ATTN_CLS, OP_POOLER, OP_GEMM };

/* Error budgets per (op, dtype). f16 keeps 11 significant bits (relative
 * step 2^-11 ~ 4.9e-4), bf16 8 (2^-8 ~ 3.9e-3): outputs are rounded once,
 * attention also rounds its probabilities P before P V. */
static tol tol_for(int op, ifs_dtype dt)
{
    if (dt == IFS_DT_F32) {
        switch (op) {
        case OP_GEMM: return (tol){2e-4, 2e-4, 1e-9};
        case OP_ATTENTION:
        case OP_ATTN_CLS: return (tol){1e-4, 1e-4, 1e-9};
        default: return (tol){1e-4, 1e-4, 1e-10};
        }
    }
    if (dt == IFS_DT_F16) {
        switch (op) {
        case OP_ATTENTION:
        case OP_ATTN_CLS: return (tol){4e-3, 4e-3, 2e-6};
        case OP_GEMM: return (tol){2e-3, 2e-3, 1e-6};
        case OP_POOLER: return (tol){1e-4, 1e-4, 1e-10}; /* fp32 math on rounded inputs */
        default: return (tol){3e-3, 2e-3, 1e-6};
        }
    }
    switch (op) {
    case OP_ATTENTION:
    case OP_ATTN_CLS: return (tol){3e-2, 2e-2, 1e-4};
    case OP_GEMM: return (tol){1.5e-2, 1e-2, 3e-5};
    case OP_POOLER: return (tol){1e-4, 1e-4, 1e-10};
    default: return (tol){2e-2, 1e-2, 3e-5};
    }
}

static void compare(const char *name, const float *got, const float *ref, size_t n, tol t)
{
    size_t bad = 0, nonfinite = 0, worst = 0;
    double worst_excess = -1.0, num = 0.0, den = 0.0, max_err = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(ref[i]))
            continue;
        if (!isfinite(got[i])) {
            nonfinite++;
            continue;
        }
        double d = fabs((double)got[i] - ref[i]);
        double lim = t.atol + t.rtol * fabs(ref[i]);
        if (d > lim)
            bad++;
        if (d - lim > worst_excess) {
            worst_excess = d - lim;
            worst = i;
        }
        if (d > max_err)
            max_err = d;
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    double nmse = den > 0 ? num / den : num;
    IFS_CHECK(nonfinite == 0, "%s: %zu outputs are NaN/Inf where the reference is finite", name,
              nonfinite);
    IFS_CHECK(bad == 0, "%s: %zu of %zu outside %g + %g*|ref| (worst [%zu]: got %.7g, ref %.7g)",
              name, bad, n, t.atol, t.rtol, worst, got[worst], ref[worst]);
    IFS_CHECK(nmse <= t.nmse, "%s: NMSE %.3g over budget %.3g", name, nmse, t.nmse);
    printf("%s %-72s n=%-9zu max_err=%.3g nmse=%.3g\n",
           (bad || nonfinite || nmse > t.nmse) ? "FAIL" : "ok  ", name, n, max_err, nmse);
}

/* --- cases ------------------------------------------------------------------------ */

typedef struct {
    const char *name; /* a sentence */
    int op;
    ifs_dtype dt;
    int hidden; /* row width (embed/LN/pooler/attention), k for GEMM */
    int n;      /* attention: heads; bias_act/GEMM: columns; pooler: labels */
    int bkind;  /* B_* : rows come from a ragged batch */
    int flag;   /* LN: 1 = with bias, 2 = in place; act for bias_act;
                         attention: 1 = force the generic kernel; GEMM: 1 bias, 2 bias+relu */
    int path;   /* 0 unchecked; 1 the fast kernel (LN warp, bias_act vectors,
                         attention tensor cores); 2 the fallback */
    int mis;    /* 1: the output (LN, bias_act) or qkv (attention) one element
                         off 16-byte alignment */
} kcase;

static void check_path(const kcase *c, int fast)
{
    if (!c->path)
        return;
    IFS_CHECK(fast == (c->path == 1), "%s: took the %s kernel", c->name,
              fast ? "fast" : "fallback");
}

static const kcase cases[] = {
    {"embedding layernorm in f32 matches the cpu at hidden 384 over 256 short sequences",
     OP_EMBED_LN, IFS_DT_F32, 384, 0, B_256_SHORT, 0, 0, 0},
    {"embedding layernorm in f16 matches the cpu at hidden 768 over long mixed sequences",
     OP_EMBED_LN, IFS_DT_F16, 768, 0, B_LONG_MIX, 0, 0, 0},
    {"embedding layernorm in bf16 matches the cpu at hidden 1024 over 40 medium sequences",
     OP_EMBED_LN, IFS_DT_BF16, 1024, 0, B_40_MEDIUM, 0, 0, 0},
    {"embedding layernorm in f16 handles a single one-token sequence", OP_EMBED_LN, IFS_DT_F16, 384,
     0, B_ONE_TOKEN, 0, 0, 0},

    {"bias residual layernorm in f32 matches the cpu at hidden 384", OP_RESID_LN, IFS_DT_F32, 384,
     0, B_40_MEDIUM, 1, 0, 0},
    {"bias residual layernorm in f16 matches the cpu at hidden 768 in place over the residual",
     OP_RESID_LN, IFS_DT_F16, 768, 0, B_LONG_MIX, 3, 0, 0},
    {"bias residual layernorm in bf16 matches the cpu at hidden 1024 without bias", OP_RESID_LN,
     IFS_DT_BF16, 1024, 0, B_256_SHORT, 0, 0, 0},

    {"bias and exact gelu in f32 match the cpu over 1536 columns", OP_BIAS_ACT, IFS_DT_F32, 0, 1536,
     B_40_MEDIUM, IFS_ACT_GELU, 0, 0},
    {"bias and tanh gelu in f16 match the cpu over 3072 columns", OP_BIAS_ACT, IFS_DT_F16, 0, 3072,
     B_256_SHORT, IFS_ACT_GELU_TANH, 0, 0},
    {"bias and exact gelu in bf16 match the cpu over 4096 columns", OP_BIAS_ACT, IFS_DT_BF16, 0,
     4096, B_40_MEDIUM, IFS_ACT_GELU, 0, 0},
    {"bias and relu in f16 match the cpu over 1536 columns", OP_BIAS_ACT, IFS_DT_F16, 0, 1536,
     B_40_MEDIUM, IFS_ACT_RELU, 0, 0},
    {"bias without activation in f32 matches the cpu over 384 columns", OP_BIAS_ACT, IFS_DT_F32, 0,
     384, B_ONE_TOKEN, -1, 0, 0},

    {"attention in f32 matches the cpu at head dim 32 over 256 short sequences", OP_ATTENTION,
     IFS_DT_F32, 384, 12, B_256_SHORT, 0, 0, 0},
    {"attention in f32 matches the cpu at head dim 64 over long mixed sequences", OP_ATTENTION,
     IFS_DT_F32, 768, 12, B_LONG_MIX, 0, 0, 0},
    {"attention in f16 on tensor cores matches the cpu at head dim 32 over 256 short sequences",
     OP_ATTENTION, IFS_DT_F16, 384, 12, B_256_SHORT, 0, 0, 0},
    {"attention in f16 on tensor cores matches the cpu at head dim 32 over long mixed sequences",
     OP_ATTENTION, IFS_DT_F16, 384, 12, B_LONG_MIX, 0, 0, 0},
    {"attention in f16 on tensor cores matches the cpu at head dim 64 over long mixed sequences",
     OP_ATTENTION, IFS_DT_F16, 768, 12, B_LONG_MIX, 0, 0, 0},
    {"attention in f16 on tensor cores matches the cpu at hidden 1024 head dim 64", OP_ATTENTION,
     IFS_DT_F16, 1024, 16, B_40_MEDIUM, 0, 0, 0},
    {"attention in bf16 on tensor cores matches the cpu at head dim 64 over 256 short sequences",
     OP_ATTENTION, IFS_DT_BF16, 768, 12, B_256_SHORT, 0, 0, 0},
    {"attention in bf16 on tensor cores matches the cpu at head dim 32 over one 512-token sequence",
     OP_ATTENTION, IFS_DT_BF16, 384, 12, B_ONE_512, 0, 0, 0},
    {"attention in f16 on tensor cores handles a single one-token sequence", OP_ATTENTION,
     IFS_DT_F16, 768, 12, B_ONE_TOKEN, 0, 0, 0},
    {"attention in f16 with the generic kernel matches the cpu at head dim 64", OP_ATTENTION,
     IFS_DT_F16, 768, 12, B_40_MEDIUM, 1, 0, 0},
    {"attention in f16 falls back to the generic kernel at head dim 48", OP_ATTENTION, IFS_DT_F16,
     384, 8, B_LONG_MIX, 0, 0, 0},
    {"attention in bf16 with the generic kernel matches the cpu at head dim 128", OP_ATTENTION,
     IFS_DT_BF16, 1024, 8, B_40_MEDIUM, 1, 0, 0},

    {"cls-only attention and cls gather in f32 match the cpu at head dim 32 over 256 short "
     "sequences",
     OP_ATTN_CLS, IFS_DT_F32, 384, 12, B_256_SHORT, 0, 0, 0},
    {"cls-only attention and cls gather in f16 match the cpu at head dim 64 over long mixed "
     "sequences",
     OP_ATTN_CLS, IFS_DT_F16, 768, 12, B_LONG_MIX, 0, 0, 0},
    {"cls-only attention and cls gather in bf16 match the cpu at hidden 1024 head dim 64",
     OP_ATTN_CLS, IFS_DT_BF16, 1024, 16, B_40_MEDIUM, 0, 0, 0},

    {"pooler and classifier in f32 match the cpu at hidden 384 with 2 labels", OP_POOLER,
     IFS_DT_F32, 384, 2, B_256_SHORT, 0, 0, 0},
    {"pooler and classifier in f16 match the cpu at hidden 768 with 3 labels", OP_POOLER,
     IFS_DT_F16, 768, 3, B_LONG_MIX, 0, 0, 0},
    {"pooler and classifier in bf16 match the cpu at hidden 1024 with 2 labels", OP_POOLER,
     IFS_DT_BF16, 1024, 2, B_ONE_TOKEN, 0, 0, 0},

    {"embedding layernorm in f16 takes the warp kernel at hidden 2048 (8 vectors a lane)",
     OP_EMBED_LN, IFS_DT_F16, 2048, 0, B_40_MEDIUM, 0, 1, 0},
    {"embedding layernorm in f16 takes the block kernel at hidden 100", OP_EMBED_LN, IFS_DT_F16,
     100, 0, B_256_SHORT, 0, 2, 0},
    {"embedding layernorm in bf16 takes the block kernel for an output one element off 16 bytes",
     OP_EMBED_LN, IFS_DT_BF16, 384, 0, B_40_MEDIUM, 0, 2, 1},
    {"bias residual layernorm in f16 takes the warp kernel at hidden 384 over 256 short sequences",
     OP_RESID_LN, IFS_DT_F16, 384, 0, B_256_SHORT, 1, 1, 0},
    {"bias residual layernorm in f32 takes the warp kernel at hidden 1024 in place", OP_RESID_LN,
     IFS_DT_F32, 1024, 0, B_LONG_MIX, 3, 1, 0},
    {"bias residual layernorm in f32 takes the block kernel at hidden 2048", OP_RESID_LN,
     IFS_DT_F32, 2048, 0, B_40_MEDIUM, 1, 2, 0},
    {"bias residual layernorm in f16 takes the block kernel at hidden 1003 over a one-token batch",
     OP_RESID_LN, IFS_DT_F16, 1003, 0, B_ONE_TOKEN, 1, 2, 0},
    {"bias residual layernorm in bf16 opts into 48 KiB of shared memory at hidden 12288",
     OP_RESID_LN, IFS_DT_BF16, 12288, 0, B_40_MEDIUM, 1, 2, 0},
    {"bias residual layernorm in f16 takes the block kernel for an output one element off 16 bytes",
     OP_RESID_LN, IFS_DT_F16, 768, 0, B_40_MEDIUM, 1, 2, 1},
    {"bias and exact gelu in f16 take the vector kernel over 1536 columns of 256 short sequences",
     OP_BIAS_ACT, IFS_DT_F16, 0, 1536, B_256_SHORT, IFS_ACT_GELU, 1, 0},
    {"bias and exact gelu in bf16 take the vector kernel over 3072 columns", OP_BIAS_ACT,
     IFS_DT_BF16, 0, 3072, B_LONG_MIX, IFS_ACT_GELU, 1, 0},
    {"bias and exact gelu in f16 take the element kernel over 1003 columns", OP_BIAS_ACT,
     IFS_DT_F16, 0, 1003, B_40_MEDIUM, IFS_ACT_GELU, 2, 0},
    {"bias and tanh gelu in f32 take the element kernel over 386 columns", OP_BIAS_ACT, IFS_DT_F32,
     0, 386, B_256_SHORT, IFS_ACT_GELU_TANH, 2, 0},
    {"bias and exact gelu in f16 take the element kernel for y one element off 16 bytes",
     OP_BIAS_ACT, IFS_DT_F16, 0, 1536, B_40_MEDIUM, IFS_ACT_GELU, 2, 1},
    {"attention in f16 at head dim 64 takes the generic kernel for a qkv one element off 16 bytes",
     OP_ATTENTION, IFS_DT_F16, 768, 12, B_40_MEDIUM, 0, 2, 1},
    {"attention in bf16 at head dim 32 takes the tensor cores over 40 medium sequences",
     OP_ATTENTION, IFS_DT_BF16, 384, 12, B_40_MEDIUM, 0, 1, 0},

    {"gemm with bias in f32 matches the cpu for the fused qkv of hidden 384", OP_GEMM, IFS_DT_F32,
     384, 1152, B_256_SHORT, 1, 0, 0},
    {"gemm without bias in f32 matches the cpu for the output dense of intermediate 1536", OP_GEMM,
     IFS_DT_F32, 1536, 384, B_40_MEDIUM, 0, 0, 0},
    {"gemm with bias in f16 matches the cpu for the fused qkv of hidden 768", OP_GEMM, IFS_DT_F16,
     768, 2304, B_LONG_MIX, 1, 0, 0},
    {"gemm with bias and relu in f16 matches the cpu for the intermediate of hidden 1024", OP_GEMM,
     IFS_DT_F16, 1024, 4096, B_40_MEDIUM, 2, 0, 0},
    {"gemm without bias in bf16 matches the cpu for the output dense of intermediate 3072", OP_GEMM,
     IFS_DT_BF16, 3072, 768, B_40_MEDIUM, 0, 0, 0},
    {"gemm with bias in bf16 matches the cpu for a single row", OP_GEMM, IFS_DT_BF16, 384, 1152,
     B_ONE_TOKEN, 1, 0, 0},
};

static void run_embed_ln(const kcase *c, const batch *b, tol t)
{
    const int H = c->hidden, V = 1000, P = 512, TY = 2;
    const int32_t T = b->n_tokens;
    float *word = host_normal((size_t)V * H, 0, 1), *pos = host_normal((size_t)P * H, 0, 0.5f);
    float *type = host_normal((size_t)TY * H, 0, 0.2f);
    float *g = host_normal(H, 1, 0.1f), *beta = host_normal(H, 0, 0.1f);
    int32_t *ids = malloc(sizeof(int32_t) * T), *types = malloc(sizeof(int32_t) * T);
    int32_t *posi = malloc(sizeof(int32_t) * T);
    float *ref = malloc(sizeof(float) * T * H), *got = malloc(sizeof(float) * T * H);
    for (int32_t s = 0; s < b->n_seqs; s++)
        for (int32_t i = b->off[s]; i < b->off[s + 1]; i++) {
            ids[i] = (int32_t)(rng_u32() % V);
            types[i] = (int32_t)(rng_u32() % TY);
            posi[i] = i - b->off[s];
        }
    void *dw = dev_elems(c->dt, word, (size_t)V * H, word);
    void *dp = dev_elems(c->dt, pos, (size_t)P * H, pos);
    void *dty = dev_elems(c->dt, type, (size_t)TY * H, type);
    float *dg = dev_copy(g, sizeof(float) * H), *db = dev_copy(beta, sizeof(float) * H);
    int32_t *dids = dev_copy(ids, sizeof(int32_t) * T),
            *dtypes = dev_copy(types, sizeof(int32_t) * T);
    int32_t *dpos = dev_copy(posi, sizeof(int32_t) * T);
    const size_t esz = ifs_cuda_dtype_size(c->dt);
    out_buf ob = out_alloc(esz * T * H, c->mis ? esz : 0);
    void *dout = ob.p;
    const void *ptrs[] = {dout, dw, dp, dty, dg, db};
    check_path(c, ifs_cuda_layernorm_uses_warp_kernel(c->dt, H, ptrs, 6));
    CUDA_OK(ifs_cuda_embed_layernorm(c->dt, dout, dids, dtypes, dpos, T, dw, dp, dty, dg, db, H,
                                     1e-12f, 0));
    CUDA_OK(cudaDeviceSynchronize());
    IFS_CHECK(guard_intact(&ob), "%s: a write past the end of the output", c->name);
    host_from_elems(c->dt, got, dout, (size_t)T * H);
    ifs_cpu_embed_layernorm(ref, ids, types, b->off, b->n_seqs, 0, T, word, pos, type, g, beta, H,
                            1e-12f);
    compare(c->name, got, ref, (size_t)T * H, t);
    cudaFree(dw);
    cudaFree(dp);
    cudaFree(dty);
    cudaFree(dg);
    cudaFree(db);
    cudaFree(dids);
    cudaFree(dtypes);
    cudaFree(dpos);
    cudaFree(ob.base);
    free(word);
    free(pos);
    free(type);
    free(g);
    free(beta);
    free(ids);
    free(types);
    free(posi);
    free(ref);
    free(got);
}

static void run_resid_ln(const kcase *c, const batch *b, tol t)
{
    const int H = c->hidden;
    const size_t n = (size_t)b->n_tokens * H;
    const int with_bias = c->flag & 1, in_place = c->flag & 2;
    float *x = host_normal(n, 0, 1), *res = host_normal(n, 0.5f, 2);
    float *bias = host_normal(H, 0, 0.3f), *g = host_normal(H, 1, 0.1f),
          *beta = host_normal(H, 0, 0.1f);
    float *ref = malloc(sizeof(float) * n), *got = malloc(sizeof(float) * n);
    const size_t esz = ifs_cuda_dtype_size(c->dt);
    void *dx = dev_elems(c->dt, x, n, x);
    out_buf rb = out_alloc(esz * n, c->mis && in_place ? esz : 0);
    void *dres = rb.p;
    dev_elems_into(c->dt, dres, res, n, res);
    void *dbias = dev_elems(c->dt, bias, H, bias);
    float *dg = dev_copy(g, sizeof(float) * H), *db = dev_copy(beta, sizeof(float) * H);
    out_buf ob = out_alloc(in_place ? 0 : esz * n, c->mis && !in_place ? esz : 0);
    void *dout = in_place ? dres : ob.p;
    const void *ptrs[] = {dout, dx, with_bias ? dbias : NULL, dres, dg, db};
    check_path(c, ifs_cuda_layernorm_uses_warp_kernel(c->dt, H, ptrs, 6));
    CUDA_OK(ifs_cuda_add_bias_residual_layernorm(c->dt, dout, dx, with_bias ? dbias : NULL, dres,
                                                 dg, db, b->n_tokens, H, 1e-12f, 0));
    CUDA_OK(cudaDeviceSynchronize());
    IFS_CHECK(guard_intact(&rb) && guard_intact(&ob), "%s: a write past the end of the output",
              c->name);
    host_from_elems(c->dt, got, dout, n);
    ifs_cpu_add_bias_residual_layernorm(ref, x, with_bias ? bias : NULL, res, g, beta, b->n_tokens,
                                        H, 1e-12f);
    compare(c->name, got, ref, n, t);
    cudaFree(dx);
    cudaFree(rb.base);
    cudaFree(dbias);
    cudaFree(dg);
    cudaFree(db);
    cudaFree(ob.base);
    free(x);
    free(res);
    free(bias);
    free(g);
    free(beta);
    free(ref);
    free(got);
}

static void run_bias_act(const kcase *c, const batch *b, tol t)
{
    const int N = c->n;
    const size_t n = (size_t)b->n_tokens * N;
    float *y = host_normal(n, 0, 2), *bias = host_normal(N, 0, 0.5f);
    float *got = malloc(sizeof(float) * n);
    const size_t esz = ifs_cuda_dtype_size(c->dt);
    out_buf yb = out_alloc(esz * n, c->mis ? esz : 0);
    void *dy = yb.p, *dbias = dev_elems(c->dt, bias, N, bias);
    dev_elems_into(c->dt, dy, y, n, y);
    check_path(c, ifs_cuda_bias_act_uses_vectors(c->dt, N, dy, dbias));
    CUDA_OK(ifs_cuda_bias_act(c->dt, dy, dbias, b->n_tokens, N, c->flag, 0));
    CUDA_OK(cudaDeviceSynchronize());
    IFS_CHECK(guard_intact(&yb), "%s: a write past the end of y", c->name);
    host_from_elems(c->dt, got, dy, n);
    ifs_cpu_bias_act(y, N, bias, b->n_tokens, N, c->flag); /* y becomes the reference */
    compare(c->name, got, y, n, t);
    cudaFree(yb.base);
    cudaFree(dbias);
    free(y);
    free(bias);
    free(got);
}

static void run_attention(const kcase *c, const batch *b, tol t)
{
    const int H = c->hidden, heads = c->n, D = H / heads;
    const size_t nq = (size_t)b->n_tokens * 3 * H, nc = (size_t)b->n_tokens * H;
    /* sd 1.5 on Q and K makes scores spread (softmax far from uniform) */
    float *qkv = host_normal(nq, 0, 1.5f);
    float *ref = malloc(sizeof(float) * nc), *got = malloc(sizeof(float) * nc);
    float *scratch = malloc(sizeof(float) * (size_t)b->max_len * b->max_len);
    const size_t esz = ifs_cuda_dtype_size(c->dt);
    out_buf qb = out_alloc(esz * nq, c->mis ? esz : 0);
    void *dqkv = qb.p;
    dev_elems_into(c->dt, dqkv, qkv, nq, qkv);
    int32_t *doff = dev_copy(b->off, sizeof(int32_t) * (b->n_seqs + 1));
    out_buf cb = out_alloc(esz * nc, 0); /* NaN: every row must be written */
    void *dctx = cb.p;
    if (!c->flag)
        IFS_CHECK(ifs_cuda_attention_uses_tensor_cores(c->dt, D, dqkv) ==
                      (c->dt != IFS_DT_F32 && (D == 32 || D == 64) && !c->mis),
                  "%s: tensor cores chosen wrongly for %s at head dim %d", c->name, dt_name(c->dt),
                  D);
    if (!c->flag)
        check_path(c, ifs_cuda_attention_uses_tensor_cores(c->dt, D, dqkv));
    CUDA_OK(
        ifs_cuda_attention(c->dt, dctx, dqkv, doff, b->n_seqs, b->max_len, H, heads, c->flag, 0));
    CUDA_OK(cudaDeviceSynchronize());
    IFS_CHECK(guard_intact(&cb), "%s: a write past the end of ctx", c->name);
    host_from_elems(c->dt, got, dctx, nc);
    ifs_cpu_attention(ref, qkv, b->off, b->n_seqs, H, heads, scratch);
    compare(c->name, got, ref, nc, t);
    cudaFree(qb.base);
    cudaFree(doff);
    cudaFree(cb.base);
    free(qkv);
    free(ref);
    free(got);
    free(scratch);
}

/* The last layer's attention for each [CLS] query only, and the gather of
 * each sequence's first row (both exact row bookkeeping, packed by s). */
static void run_attn_cls(const kcase *c, const batch *b, tol t)
{
    const int H = c->hidden, heads = c->n, D = H / heads, S = b->n_seqs;
    const size_t nq = (size_t)b->n_tokens * 3 * H;
    float *qkv = host_normal(nq, 0, 1.5f);
    float *ref = malloc(sizeof(float) * S * H), *got = malloc(sizeof(float) * S * H);
    float *scratch = malloc(sizeof(float) * (size_t)b->max_len);
    void *dqkv = dev_elems(c->dt, qkv, nq, qkv);
    int32_t *doff = dev_copy(b->off, sizeof(int32_t) * (S + 1));
    void *dctx = dev_alloc(ifs_cuda_dtype_size(c->dt) * S * H);
    CUDA_OK(cudaMemset(dctx, 0xff, ifs_cuda_dtype_size(c->dt) * S * H));
    CUDA_OK(ifs_cuda_attention_cls(c->dt, dctx, dqkv, doff, S, H, heads, 0));
    CUDA_OK(cudaDeviceSynchronize());
    host_from_elems(c->dt, got, dctx, (size_t)S * H);
    const int64_t ld = 3 * (int64_t)H;
    for (int s = 0; s < S; s++) {
        const float *base = qkv + (int64_t)b->off[s] * ld;
        for (int h = 0; h < heads; h++)
            ifs_cpu_attention_head(ref + (int64_t)s * H + h * D, H, base + h * D, ld,
                                   base + H + h * D, base + 2 * H + h * D, ld, 1,
                                   b->off[s + 1] - b->off[s], D, 1.0f / sqrtf((float)D), scratch);
    }
    compare(c->name, got, ref, (size_t)S * H, t);

    /* gather: rows of the qkv array viewed as [n_tokens][3H] */
    void *dg = dev_alloc(ifs_cuda_dtype_size(c->dt) * S * ld);
    float *gg = malloc(sizeof(float) * S * ld);
    CUDA_OK(ifs_cuda_gather_cls_rows(c->dt, dg, dqkv, doff, S, (int)ld, 0));
    CUDA_OK(cudaDeviceSynchronize());
    host_from_elems(c->dt, gg, dg, (size_t)S * ld);
    int same = 1;
    for (int s = 0; s < S; s++)
        same &=
            memcmp(gg + (int64_t)s * ld, qkv + (int64_t)b->off[s] * ld, sizeof(float) * ld) == 0;
    IFS_CHECK(same, "%s: gathered rows are not each sequence's first row", c->name);
    cudaFree(dqkv);
    cudaFree(doff);
    cudaFree(dctx);
    cudaFree(dg);
    free(qkv);
    free(ref);
    free(got);
    free(scratch);
    free(gg);
}

static void run_pooler(const kcase *c, const batch *b, tol t)
{
    const int H = c->hidden, Lb = c->n, S = b->n_seqs;
    const size_t n = (size_t)b->n_tokens * H;
    float *hs = host_normal(n, 0, 1);
    float *pw = host_normal((size_t)H * H, 0, 1.0f / sqrtf((float)H)),
          *pb = host_normal(H, 0, 0.1f);
    float *cw = host_normal((size_t)Lb * H, 0, 1.0f / sqrtf((float)H)),
          *cb = host_normal(Lb, 0, 0.1f);
    float *cls = malloc(sizeof(float) * S * H), *pooled = malloc(sizeof(float) * S * H);
    float *ref = malloc(sizeof(float) * S * Lb), *got = malloc(sizeof(float) * S * Lb);
    float *got_cls = malloc(sizeof(float) * S * H);
    void *dhs = dev_elems(c->dt, hs, n, hs);
    float *dpw = dev_copy(pw, sizeof(float) * H * H), *dpb = dev_copy(pb, sizeof(float) * H);
    float *dcw = dev_copy(cw, sizeof(float) * Lb * H), *dcb = dev_copy(cb, sizeof(float) * Lb);
    int32_t *doff = dev_copy(b->off, sizeof(int32_t) * (S + 1));
    float *dlog = dev_alloc(sizeof(float) * S * Lb), *dcls = dev_alloc(sizeof(float) * S * H);
    CUDA_OK(
        ifs_cuda_pooler_classifier(c->dt, dlog, dcls, dhs, doff, S, H, dpw, dpb, dcw, dcb, Lb, 0));
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(got, dlog, sizeof(float) * S * Lb, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(got_cls, dcls, sizeof(float) * S * H, cudaMemcpyDeviceToHost));
    for (int s = 0; s < S; s++)
        memcpy(cls + (size_t)s * H, hs + (size_t)b->off[s] * H, sizeof(float) * H);
    ifs_bert_weights w;
    memset(&w, 0, sizeof w);
    w.cfg.hidden = H;
    w.cfg.num_labels = Lb;
    w.pool_w = pw;
    w.pool_b = pb;
    w.cls_w = cw;
    w.cls_b = cb;
    ifs_cpu_pooler_classifier(ref, pooled, cls, S, &w);
    compare(c->name, got, ref, (size_t)S * Lb, t);
    IFS_CHECK(memcmp(got_cls, cls, sizeof(float) * S * H) == 0,
              "%s: the [CLS] rows handed back differ from the rows of each sequence's start",
              c->name);
    cudaFree(dhs);
    cudaFree(dpw);
    cudaFree(dpb);
    cudaFree(dcw);
    cudaFree(dcb);
    cudaFree(doff);
    cudaFree(dlog);
    cudaFree(dcls);
    free(hs);
    free(pw);
    free(pb);
    free(cw);
    free(cb);
    free(cls);
    free(pooled);
    free(ref);
    free(got);
    free(got_cls);
}

static void run_gemm(const kcase *c, const batch *b, ifs_cuda_gemm *g, tol t)
{
    const int K = c->hidden, N = c->n;
    const int64_t R = b->n_tokens;
    float *x = host_normal((size_t)R * K, 0, 1),
          *w = host_normal((size_t)N * K, 0, 1.0f / sqrtf((float)K));
    float *bias = host_normal(N, 0, 0.5f);
    float *ref = malloc(sizeof(float) * R * N), *got = malloc(sizeof(float) * R * N);
    void *dx = dev_elems(c->dt, x, (size_t)R * K, x), *dw = dev_elems(c->dt, w, (size_t)N * K, w);
    void *db = dev_elems(c->dt, bias, N, bias);
    void *dy = dev_alloc(ifs_cuda_dtype_size(c->dt) * R * N);
    char err[256] = "";
    int rc = ifs_cuda_gemm_run(g, c->dt, dy, dx, dw, c->flag ? db : NULL, R, N, K, c->flag == 2, 0,
                               err, sizeof err);
    IFS_CHECK(rc == IFS_BK_OK, "%s: gemm returned %d: %s", c->name, rc, err);
    CUDA_OK(cudaDeviceSynchronize());
    host_from_elems(c->dt, got, dy, (size_t)R * N);
    ifs_cpu_linear(ref, N, x, K, w, c->flag ? bias : NULL, R, K, 0, N,
                   c->flag == 2 ? IFS_ACT_RELU : -1);
    compare(c->name, got, ref, (size_t)R * N, t);
    cudaFree(dx);
    cudaFree(dw);
    cudaFree(db);
    cudaFree(dy);
    free(x);
    free(w);
    free(bias);
    free(ref);
    free(got);
}

/* dtype conversion is what every case's "rounded inputs" rest on. */
static void check_conversions(void)
{
    static const float in[] = {1.0f,        1.0009765625f, 1.00048828125f, 1.0078125f,
                               1.00390625f, 65504.0f,      -2.5f,          0.0f};
    /* expected after f16 and bf16 round-to-nearest-even */
    static const float f16[] = {1.0f,        1.0009765625f, 1.0f,  1.0078125f,
                                1.00390625f, 65504.0f,      -2.5f, 0.0f};
    static const float bf16[] = {1.0f, 1.0f, 1.0f, 1.0078125f, 1.0f, 65536.0f, -2.5f, 0.0f};
    const size_t n = sizeof in / sizeof in[0];
    float got[8];
    for (int k = 0; k < 2; k++) {
        ifs_dtype dt = k ? IFS_DT_BF16 : IFS_DT_F16;
        void *d = dev_elems(dt, in, n, got);
        cudaFree(d);
        for (size_t i = 0; i < n; i++)
            IFS_CHECK(got[i] == (k ? bf16 : f16)[i],
                      "conversion to %s rounds %.10g to %.10g, expected %.10g", dt_name(dt), in[i],
                      got[i], (k ? bf16 : f16)[i]);
    }
    printf("ok   conversions to f16 and bf16 round to nearest even\n");
}

/* A NaN in one row stays in that row: LayerNorm must not spread or hide it. */
static void check_nan_stays_in_its_row(void)
{
    const int H = 384, R = 3;
    float *x = host_normal((size_t)R * H, 0, 1), *res = host_normal((size_t)R * H, 0, 1);
    float *g = host_normal(H, 1, 0.1f), *beta = host_normal(H, 0, 0.1f);
    float got[3 * 384];
    x[H + 7] = NAN;
    for (int k = 0; k < 3; k++) {
        ifs_dtype dt = (ifs_dtype)k;
        void *dx = dev_elems(dt, x, (size_t)R * H, got),
             *dres = dev_elems(dt, res, (size_t)R * H, got);
        float *dg = dev_copy(g, sizeof(float) * H), *db = dev_copy(beta, sizeof(float) * H);
        CUDA_OK(
            ifs_cuda_add_bias_residual_layernorm(dt, dx, dx, NULL, dres, dg, db, R, H, 1e-12f, 0));
        CUDA_OK(cudaDeviceSynchronize());
        host_from_elems(dt, got, dx, (size_t)R * H);
        int row0 = 0, row1 = 0, row2 = 0;
        for (int i = 0; i < H; i++) {
            row0 += isfinite(got[i]) != 0;
            row1 += isnan(got[H + i]) != 0;
            row2 += isfinite(got[2 * H + i]) != 0;
        }
        IFS_CHECK(row0 == H && row1 == H && row2 == H,
                  "%s: NaN in row 1 gave %d/%d finite in row 0, %d/%d NaN in row 1, "
                  "%d/%d finite in row 2",
                  dt_name(dt), row0, H, row1, H, row2, H);
        cudaFree(dx);
        cudaFree(dres);
        cudaFree(dg);
        cudaFree(db);
    }
    printf("ok   a NaN in one row of layernorm stays in that row, in every dtype\n");
    free(x);
    free(res);
    free(g);
    free(beta);
}

/* The plan table: a shape is planned once and hit after; a plan is shared
 * by calls with different bias pointers queued back to back (the pointer is
 * per call, read when the call is enqueued); more shapes than the table
 * holds evict, and an evicted shape is planned again and still right. */
static void check_gemm_plans(void)
{
    const int K = 64, N = 96, R = 37;
    float *x = host_normal((size_t)R * K, 0, 1), *w = host_normal((size_t)N * K, 0, 0.125f);
    float *b1 = host_normal(N, 0, 0.5f), *b2 = host_normal(N, 3, 0.5f);
    float *ref1 = malloc(sizeof(float) * R * N), *ref2 = malloc(sizeof(float) * R * N);
    float *got1 = malloc(sizeof(float) * R * N), *got2 = malloc(sizeof(float) * R * N);
    const ifs_dtype dt = IFS_DT_F16;
    void *dx = dev_elems(dt, x, (size_t)R * K, x), *dw = dev_elems(dt, w, (size_t)N * K, w);
    void *db1 = dev_elems(dt, b1, N, b1), *db2 = dev_elems(dt, b2, N, b2);
    void *dy1 = dev_alloc(2 * (size_t)R * N), *dy2 = dev_alloc(2 * (size_t)R * N);
    ifs_cuda_gemm *g = NULL;
    char err[256] = "";
    if (ifs_cuda_gemm_create(&g, 32u << 20, err, sizeof err)) {
        IFS_CHECK(0, "gemm create: %s", err);
        return;
    }
    ifs_cuda_gemm_stats st;
    int rc = ifs_cuda_gemm_run(g, dt, dy1, dx, dw, db1, R, N, K, 0, 0, err, sizeof err);
    rc |= ifs_cuda_gemm_run(g, dt, dy2, dx, dw, db2, R, N, K, 0, 0, err, sizeof err);
    CUDA_OK(cudaDeviceSynchronize());
    ifs_cuda_gemm_get_stats(g, &st);
    IFS_CHECK(rc == 0 && st.misses == 1 && st.hits == 1 && st.plans == 1,
              "two calls of one shape: rc %d, %llu misses, %llu hits, %d plans (%s)", rc,
              (unsigned long long)st.misses, (unsigned long long)st.hits, st.plans, err);
    host_from_elems(dt, got1, dy1, (size_t)R * N);
    host_from_elems(dt, got2, dy2, (size_t)R * N);
    ifs_cpu_linear(ref1, N, x, K, w, b1, R, K, 0, N, -1);
    ifs_cpu_linear(ref2, N, x, K, w, b2, R, K, 0, N, -1);
    tol t = tol_for(OP_GEMM, dt);
    compare("gemm: the first of two calls sharing a plan adds its own bias", got1, ref1,
            (size_t)R * N, t);
    compare("gemm: the second of two calls sharing a plan adds its own bias", got2, ref2,
            (size_t)R * N, t);
    /* 1200 distinct shapes (k fixed, n varies) > the 1024 plans the table holds */
    void *dbig = dev_alloc(2 * (size_t)R * 2048), *dwb = dev_alloc(2 * (size_t)2048 * K);
    CUDA_OK(ifs_cuda_fill_random(dt, dwb, (int64_t)2048 * K, 3, 0));
    for (int n = 1; n <= 1200 && rc == 0; n++)
        rc = ifs_cuda_gemm_run(g, dt, dbig, dx, dwb, NULL, R, n, K, 0, 0, err, sizeof err);
    CUDA_OK(cudaDeviceSynchronize());
    ifs_cuda_gemm_get_stats(g, &st);
    IFS_CHECK(rc == 0 && st.evictions > 0 && st.plans <= 1024,
              "1200 shapes: rc %d, %llu evictions, %d plans (%s)", rc,
              (unsigned long long)st.evictions, st.plans, err);
    /* the first shape again, planned anew or not, still right */
    CUDA_OK(cudaMemset(dy1, 0xff, 2 * (size_t)R * N));
    rc = ifs_cuda_gemm_run(g, dt, dy1, dx, dw, db1, R, N, K, 0, 0, err, sizeof err);
    CUDA_OK(cudaDeviceSynchronize());
    host_from_elems(dt, got1, dy1, (size_t)R * N);
    compare("gemm: a shape run again after 1200 others is still right", got1, ref1, (size_t)R * N,
            t);
    printf("%s gemm plans: %llu hits, %llu misses, %llu evictions, %d plans held\n",
           rc == 0 ? "ok  " : "FAIL", (unsigned long long)st.hits, (unsigned long long)st.misses,
           (unsigned long long)st.evictions, st.plans);
    ifs_cuda_gemm_free(g);
    cudaFree(dx);
    cudaFree(dw);
    cudaFree(db1);
    cudaFree(db2);
    cudaFree(dy1);
    cudaFree(dy2);
    cudaFree(dbig);
    cudaFree(dwb);
    free(x);
    free(w);
    free(b1);
    free(b2);
    free(ref1);
    free(ref2);
    free(got1);
    free(got2);
}

/* Never-zero random operands, and the GEMM ceiling measured on them. */
static void check_fill_and_peak(void)
{
    const size_t n = 1 << 20;
    float *h = malloc(sizeof(float) * n);
    for (int k = 0; k < 3; k++) {
        ifs_dtype dt = (ifs_dtype)k;
        void *d = dev_alloc(ifs_cuda_dtype_size(dt) * n);
        CUDA_OK(ifs_cuda_fill_random(dt, d, (int64_t)n, 11, 0));
        CUDA_OK(cudaDeviceSynchronize());
        host_from_elems(dt, h, d, n);
        size_t bad = 0, neg = 0;
        for (size_t i = 0; i < n; i++) {
            bad += !(fabsf(h[i]) >= 0.25f && fabsf(h[i]) <= 1.0f);
            neg += h[i] < 0;
        }
        IFS_CHECK(bad == 0 && neg > n / 3 && neg < 2 * n / 3,
                  "%s random fill: %zu values outside +-[0.25, 1], %zu negative of %zu",
                  dt_name(dt), bad, neg, n);
        cudaFree(d);
    }
    free(h);
    char err[256] = "";
    double tf = 0;
    int rc =
        ifs_backend_gemm_peak("cuda", 0, IFS_DT_F16, 2048, 2048, 2048, 5, &tf, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_OK && tf > 0 && isfinite(tf), "gemm peak: %d %g %s", rc, tf, err);
    printf("%s random fills are never zero; f16 GEMM ceiling at 2048^3: %.1f TFLOP/s\n",
           rc == IFS_BK_OK ? "ok  " : "FAIL", tf);
}

int main(void)
{
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0)
        IFS_SKIP("no CUDA device visible: the CUDA kernel tests did not run");
    CUDA_OK(cudaSetDevice(0));
    ifs_cuda_gemm *g = NULL;
    char err[256];
    if (ifs_cuda_gemm_create(&g, 32u << 20, err, sizeof err)) {
        fprintf(stderr, "FATAL: %s\n", err);
        return 1;
    }
    check_conversions();
    check_nan_stays_in_its_row();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const kcase *c = &cases[i];
        rng_seed(1000 + i);
        batch b = make_batch(c->bkind);
        tol t = tol_for(c->op, c->dt);
        switch (c->op) {
        case OP_EMBED_LN: run_embed_ln(c, &b, t); break;
        case OP_RESID_LN: run_resid_ln(c, &b, t); break;
        case OP_BIAS_ACT: run_bias_act(c, &b, t); break;
        case OP_ATTENTION: run_attention(c, &b, t); break;
        case OP_ATTN_CLS: run_attn_cls(c, &b, t); break;
        case OP_POOLER: run_pooler(c, &b, t); break;
        case OP_GEMM: run_gemm(c, &b, g, t); break;
        }
        free(b.off);
    }
    ifs_cuda_gemm_free(g);
    check_gemm_plans();
    check_fill_and_peak();
    return ifs_test_done("cuda_ops");
}
