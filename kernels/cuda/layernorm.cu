/*
 * layernorm.cu - the row kernels that end in a LayerNorm: the embedding sum
 * (word + position + token type) and bias + residual, each followed by
 * LayerNorm.
 *
 * Two kernels per op:
 *   *_warp_kernel<T, NV>   one warp per row, 4 rows per 128-thread block. Each
 *       lane owns 16-byte vectors c = lane + 32 j (j < NV) of the row and keeps
 *       their fp32 sums in registers; mean and variance are warp shuffles, no
 *       shared memory and no block barrier. For rows of at most 32 * NV * VEC
 *       elements (VEC = 8 for f16/bf16, 4 for f32; NV <= 8: hidden <= 2048 in
 *       f16/bf16, <= 1024 in f32), a multiple of VEC, on 16-byte aligned
 *       arrays: every BERT width.
 *   *_block_kernel<T>      one 128-thread block per row, the row in dynamic
 *       shared memory, scalar accesses: any other width up to
 *       IFS_CUDA_MAX_ROW, unaligned arrays.
 *
 * Decisions:
 *   - Two-pass statistics (the mean, then the mean of squared deviations)
 *     in fp32: the biased-variance formula of torch and the CPU reference,
 *     without the cancellation of E[x^2] - E[x]^2.
 *   - A lane (or thread) only ever reads back the row elements it summed
 *     itself, so a row is read whole before any of it is written: out may
 *     equal x or residual.
 *   - The block kernel's dynamic shared memory (4 * dim bytes) plus its
 *     static reduction array can pass 48 KiB below IFS_CUDA_MAX_ROW; its
 *     launcher counts both and raises the kernel's limit (opt-in) when it
 *     must, instead of stating a limit the driver would refuse.
 *   - One kernel per fused sequence of ops, named after them in order.
 */
#include "cuda_common.cuh"

static const int LN_THREADS = 128;
static const int LN_WARPS = LN_THREADS / 32; /* rows per block of the warp kernels */
static const int LN_MAX_NV = 8;              /* vectors per lane, warp kernels */
/* The block kernels' static shared memory: block_sum's red[33]. */
static const size_t LN_STATIC_SMEM = 33 * sizeof(float);

// GPU kernels

/* The 16-byte vector c of an fp32 array (gamma, beta) as VEC floats. */
template <int VEC>
__device__ __forceinline__ void load_f32(float (&dst)[VEC], const float *src, int c)
{
#pragma unroll
    for (int q = 0; q < VEC / 4; q++) {
        const vec16<float> v = load16(src + (int64_t)c * VEC + 4 * q);
#pragma unroll
        for (int e = 0; e < 4; e++)
            dst[4 * q + e] = v.v[e];
    }
}

/* Normalises the lane's NV vectors v (fp32 sums of the row, vectors
 * c = lane + 32 j, valid when c < nvec) and writes them to out. s: the
 * lane's partial sum of its valid elements. */
template <typename T, int NV>
__device__ __forceinline__ void layernorm_warp_row(T *out, float (&v)[NV][vec16<T>::N], float s,
                                                   const float *g, const float *b, int dim,
                                                   int nvec, float eps)
{
    constexpr int VEC = vec16<T>::N;
    const int lane = threadIdx.x & 31;
    const float mean = warp_sum(s) / (float)dim;
    float q = 0.0f;
#pragma unroll
    for (int j = 0; j < NV; j++) {
        if (lane + 32 * j < nvec) {
#pragma unroll
            for (int e = 0; e < VEC; e++) {
                const float d = v[j][e] - mean;
                q += d * d;
            }
        }
    }
    const float rstd = rsqrtf(warp_sum(q) / (float)dim + eps);
#pragma unroll
    for (int j = 0; j < NV; j++) {
        const int c = lane + 32 * j;
        if (c < nvec) {
            float gv[VEC], bv[VEC];
            load_f32<VEC>(gv, g, c);
            load_f32<VEC>(bv, b, c);
            vec16<T> o;
#pragma unroll
            for (int e = 0; e < VEC; e++)
                o.v[e] = from_f<T>((v[j][e] - mean) * rstd * gv[e] + bv[e]);
            store16(out + (int64_t)c * VEC, o);
        }
    }
}

template <typename T, int NV>
__global__ void __launch_bounds__(LN_THREADS)
    embed_layernorm_warp_kernel(T *out, const int32_t *ids, const int32_t *type_ids,
                                const int32_t *pos_ids, int32_t n_tokens, const T *word,
                                const T *pos, const T *type, const float *g, const float *b,
                                int hidden, float eps)
{
    constexpr int VEC = vec16<T>::N;
    const int64_t t = (int64_t)blockIdx.x * LN_WARPS + (threadIdx.x >> 5);
    if (t >= n_tokens)
        return; /* the whole warp leaves: only warp shuffles follow */
    const int lane = threadIdx.x & 31, nvec = hidden / VEC;
    const T *wr = word + (int64_t)ids[t] * hidden;
    const T *pr = pos + (int64_t)pos_ids[t] * hidden;
    const T *tr = type + (int64_t)(type_ids ? type_ids[t] : 0) * hidden;
    float v[NV][VEC];
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < NV; j++) {
        const int c = lane + 32 * j;
        if (c < nvec) {
            const vec16<T> a = load16(wr + (int64_t)c * VEC), p = load16(pr + (int64_t)c * VEC),
                           y = load16(tr + (int64_t)c * VEC);
#pragma unroll
            for (int e = 0; e < VEC; e++) {
                v[j][e] = to_f(a.v[e]) + to_f(p.v[e]) + to_f(y.v[e]);
                s += v[j][e];
            }
        } else {
#pragma unroll
            for (int e = 0; e < VEC; e++)
                v[j][e] = 0.0f; /* never read */
        }
    }
    layernorm_warp_row<T, NV>(out + t * hidden, v, s, g, b, hidden, nvec, eps);
}

template <typename T, int NV>
__global__ void __launch_bounds__(LN_THREADS)
    add_bias_residual_layernorm_warp_kernel(T *out, const T *x, const T *bias, const T *residual,
                                            const float *g, const float *b, int64_t rows, int dim,
                                            float eps)
{
    constexpr int VEC = vec16<T>::N;
    const int64_t r = (int64_t)blockIdx.x * LN_WARPS + (threadIdx.x >> 5);
    if (r >= rows)
        return; /* the whole warp leaves: only warp shuffles follow */
    const int lane = threadIdx.x & 31, nvec = dim / VEC;
    const T *xr = x + r * dim;
    const T *rr = residual + r * dim;
    float v[NV][VEC];
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < NV; j++) {
        const int c = lane + 32 * j;
        if (c < nvec) {
            const vec16<T> a = load16(xr + (int64_t)c * VEC), y = load16(rr + (int64_t)c * VEC);
            vec16<T> bb = a; /* read only when there is a bias */
            if (bias)
                bb = load16(bias + (int64_t)c * VEC);
#pragma unroll
            for (int e = 0; e < VEC; e++) {
                v[j][e] = to_f(a.v[e]) + (bias ? to_f(bb.v[e]) : 0.0f) + to_f(y.v[e]);
                s += v[j][e];
            }
        } else {
#pragma unroll
            for (int e = 0; e < VEC; e++)
                v[j][e] = 0.0f; /* never read */
        }
    }
    layernorm_warp_row<T, NV>(out + r * dim, v, s, g, b, dim, nvec, eps);
}

/* Normalises the fp32 row in smem (already holding the summed inputs) and
 * writes it to out. Every thread of the block calls it. */
template <typename T>
__device__ __forceinline__ void layernorm_block_row(T *out, const float *row, float partial_sum,
                                                    const float *g, const float *b, int dim,
                                                    float eps, float *red)
{
    const float mean = block_sum(partial_sum, red) / (float)dim;
    float q = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float d = row[i] - mean;
        q += d * d;
    }
    const float var = block_sum(q, red) / (float)dim;
    const float rstd = rsqrtf(var + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        out[i] = from_f<T>((row[i] - mean) * rstd * g[i] + b[i]);
}

template <typename T>
__global__ void __launch_bounds__(LN_THREADS)
    embed_layernorm_block_kernel(T *out, const int32_t *ids, const int32_t *type_ids,
                                 const int32_t *pos_ids, const T *word, const T *pos, const T *type,
                                 const float *g, const float *b, int hidden, float eps)
{
    IFS_DYNAMIC_SHARED(float, row);
    IFS_STATIC_SHARED(float, red, [33]);
    const int64_t t = blockIdx.x;
    const T *wr = word + (int64_t)ids[t] * hidden;
    const T *pr = pos + (int64_t)pos_ids[t] * hidden;
    const T *tr = type + (int64_t)(type_ids ? type_ids[t] : 0) * hidden;
    float s = 0.0f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        const float v = to_f(wr[i]) + to_f(pr[i]) + to_f(tr[i]);
        row[i] = v;
        s += v;
    }
    layernorm_block_row(out + t * hidden, row, s, g, b, hidden, eps, red);
}

template <typename T>
__global__ void __launch_bounds__(LN_THREADS)
    add_bias_residual_layernorm_block_kernel(T *out, const T *x, const T *bias, const T *residual,
                                             const float *g, const float *b, int dim, float eps)
{
    IFS_DYNAMIC_SHARED(float, row);
    IFS_STATIC_SHARED(float, red, [33]);
    const int64_t r = blockIdx.x;
    const T *xr = x + r * dim;
    const T *rr = residual + r * dim;
    float s = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float v = to_f(xr[i]) + (bias ? to_f(bias[i]) : 0.0f) + to_f(rr[i]);
        row[i] = v;
        s += v;
    }
    layernorm_block_row(out + r * dim, row, s, g, b, dim, eps, red);
}

// launchers

/* Vectors per lane for a warp kernel over rows of dim elements of T, or 0
 * when the row or a pointer does not suit the warp kernels. */
template <typename T> static int warp_nv(int dim, const void *const *ptrs, int n_ptrs)
{
    constexpr int VEC = vec16<T>::N;
    if (dim <= 0 || dim % VEC)
        return 0;
    for (int i = 0; i < n_ptrs; i++)
        if (ptrs[i] && !aligned16(ptrs[i]))
            return 0;
    const int nv = (dim / VEC + 31) / 32;
    return nv <= LN_MAX_NV ? nv : 0;
}

/* Calls BODY with the compile-time constant NV_ bound to nv (1..LN_MAX_NV). */
#define IFS_LN_NV_DISPATCH(nv, BODY)                                                               \
    switch (nv) {                                                                                  \
    case 1: {                                                                                      \
        constexpr int NV_ = 1;                                                                     \
        BODY;                                                                                      \
        break;                                                                                     \
    }                                                                                              \
    case 2: {                                                                                      \
        constexpr int NV_ = 2;                                                                     \
        BODY;                                                                                      \
        break;                                                                                     \
    }                                                                                              \
    case 3: {                                                                                      \
        constexpr int NV_ = 3;                                                                     \
        BODY;                                                                                      \
        break;                                                                                     \
    }                                                                                              \
    case 4: {                                                                                      \
        constexpr int NV_ = 4;                                                                     \
        BODY;                                                                                      \
        break;                                                                                     \
    }                                                                                              \
    case 5: {                                                                                      \
        constexpr int NV_ = 5;                                                                     \
        BODY;                                                                                      \
        break;                                                                                     \
    }                                                                                              \
    case 6: {                                                                                      \
        constexpr int NV_ = 6;                                                                     \
        BODY;                                                                                      \
        break;                                                                                     \
    }                                                                                              \
    case 7: {                                                                                      \
        constexpr int NV_ = 7;                                                                     \
        BODY;                                                                                      \
        break;                                                                                     \
    }                                                                                              \
    case 8: {                                                                                      \
        constexpr int NV_ = 8;                                                                     \
        BODY;                                                                                      \
        break;                                                                                     \
    }                                                                                              \
    default: return cudaErrorInvalidValue;                                                         \
    }

/* Dynamic shared memory of a block kernel over rows of dim floats, after
 * raising the kernel's limit when dynamic + static memory passes 48 KiB. */
template <class K> static cudaError_t block_smem(K *kernel, int dim, size_t *bytes)
{
    *bytes = sizeof(float) * (size_t)dim;
    if (*bytes + LN_STATIC_SMEM <= IFS_CUDA_SMEM_DEFAULT_LIMIT)
        return cudaSuccess;
    return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)*bytes);
}

template <typename T>
static cudaError_t
launch_embed_layernorm(T *out, const int32_t *ids, const int32_t *type_ids, const int32_t *pos_ids,
                       int32_t n_tokens, const T *word, const T *pos, const T *type, const float *g,
                       const float *b, int hidden, float eps, cudaStream_t stream)
{
    if (n_tokens <= 0)
        return cudaSuccess;
    if (hidden <= 0 || hidden > IFS_CUDA_MAX_ROW)
        return cudaErrorInvalidValue;
    const void *ptrs[] = {out, word, pos, type, g, b};
    const int nv = warp_nv<T>(hidden, ptrs, 6);
    if (nv) {
        const unsigned blocks = (unsigned)((n_tokens + LN_WARPS - 1) / LN_WARPS);
        IFS_LN_NV_DISPATCH(
            nv, IFS_LAUNCH(blocks, LN_THREADS, 0, stream, embed_layernorm_warp_kernel<T, NV_>)(
                    out, ids, type_ids, pos_ids, n_tokens, word, pos, type, g, b, hidden, eps));
        return ifs_cuda_launched();
    }
    size_t bytes;
    cudaError_t e = block_smem(embed_layernorm_block_kernel<T>, hidden, &bytes);
    if (e != cudaSuccess)
        return e;
    IFS_LAUNCH(n_tokens, LN_THREADS, bytes, stream, embed_layernorm_block_kernel<T>)
    (out, ids, type_ids, pos_ids, word, pos, type, g, b, hidden, eps);
    return ifs_cuda_launched();
}

template <typename T>
static cudaError_t launch_add_bias_residual_layernorm(T *out, const T *x, const T *bias,
                                                      const T *residual, const float *g,
                                                      const float *b, int64_t rows, int dim,
                                                      float eps, cudaStream_t stream)
{
    if (rows <= 0)
        return cudaSuccess;
    if (dim <= 0 || dim > IFS_CUDA_MAX_ROW || rows > INT32_MAX)
        return cudaErrorInvalidValue;
    const void *ptrs[] = {out, x, bias, residual, g, b};
    const int nv = warp_nv<T>(dim, ptrs, 6);
    if (nv) {
        const unsigned blocks = (unsigned)((rows + LN_WARPS - 1) / LN_WARPS);
        IFS_LN_NV_DISPATCH(nv, IFS_LAUNCH(blocks, LN_THREADS, 0, stream,
                                          add_bias_residual_layernorm_warp_kernel<T, NV_>)(
                                   out, x, bias, residual, g, b, rows, dim, eps));
        return ifs_cuda_launched();
    }
    size_t bytes;
    cudaError_t e = block_smem(add_bias_residual_layernorm_block_kernel<T>, dim, &bytes);
    if (e != cudaSuccess)
        return e;
    IFS_LAUNCH((unsigned)rows, LN_THREADS, bytes, stream,
               add_bias_residual_layernorm_block_kernel<T>)
    (out, x, bias, residual, g, b, dim, eps);
    return ifs_cuda_launched();
}

// entry points

extern "C" int ifs_cuda_layernorm_uses_warp_kernel(ifs_dtype dt, int dim, const void *const *ptrs,
                                                   int n_ptrs)
{
    switch (dt) {
    case IFS_DT_F32: return warp_nv<float>(dim, ptrs, n_ptrs) > 0;
    case IFS_DT_F16: return warp_nv<__half>(dim, ptrs, n_ptrs) > 0;
    case IFS_DT_BF16: return warp_nv<__nv_bfloat16>(dim, ptrs, n_ptrs) > 0;
    default: return 0;
    }
}

extern "C" cudaError_t ifs_cuda_embed_layernorm(ifs_dtype dt, void *out, const int32_t *ids,
                                                const int32_t *type_ids, const int32_t *pos_ids,
                                                int32_t n_tokens, const void *word, const void *pos,
                                                const void *type, const float *g, const float *b,
                                                int hidden, float eps, cudaStream_t stream)
{
    IFS_CUDA_DISPATCH(dt, return launch_embed_layernorm<scalar_t>(
                              (scalar_t *)out, ids, type_ids, pos_ids, n_tokens,
                              (const scalar_t *)word, (const scalar_t *)pos, (const scalar_t *)type,
                              g, b, hidden, eps, stream));
    return cudaErrorInvalidValue;
}

extern "C" cudaError_t ifs_cuda_add_bias_residual_layernorm(ifs_dtype dt, void *out, const void *x,
                                                            const void *bias, const void *residual,
                                                            const float *g, const float *b,
                                                            int64_t rows, int dim, float eps,
                                                            cudaStream_t stream)
{
    IFS_CUDA_DISPATCH(dt, return launch_add_bias_residual_layernorm<scalar_t>(
                              (scalar_t *)out, (const scalar_t *)x, (const scalar_t *)bias,
                              (const scalar_t *)residual, g, b, rows, dim, eps, stream));
    return cudaErrorInvalidValue;
}
