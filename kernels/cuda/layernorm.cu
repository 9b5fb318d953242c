/*
 * layernorm.cu - the row kernels that end in a LayerNorm: the embedding sum
 * (word + position + token type) and bias + residual, each followed by
 * LayerNorm, one block per row.
 *
 * Decisions:
 *   - The row is summed in fp32 into shared memory first, then normalised
 *     two-pass (mean, then the mean of squared deviations): the same
 *     biased-variance formula as torch and the CPU reference, and no
 *     cancellation from E[x^2] - E[x]^2.
 *   - One kernel per fused sequence of ops, named after them in order.
 *   - A thread only ever reads back the row elements it wrote itself, so
 *     the only barriers needed are those inside block_sum; that is also
 *     what makes out == x or out == residual safe.
 */
#include "cuda_common.cuh"

static const int LN_THREADS = 128;

// GPU kernels

/* Normalises the fp32 row in smem (already holding the summed inputs) and
 * writes it to out. Every thread of the block calls it. */
template <typename T>
__device__ __forceinline__ void layernorm_row(T *out, const float *row, float partial_sum,
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
embed_layernorm_kernel(T *out, const int32_t *ids, const int32_t *type_ids,
                       const int32_t *pos_ids, const T *word, const T *pos, const T *type,
                       const float *g, const float *b, int hidden, float eps)
{
    IFS_DYNAMIC_SHARED(float, row);
    __shared__ float red[33];
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
    layernorm_row(out + t * hidden, row, s, g, b, hidden, eps, red);
}

template <typename T>
__global__ void __launch_bounds__(LN_THREADS)
add_bias_residual_layernorm_kernel(T *out, const T *x, const T *bias, const T *residual,
                                   const float *g, const float *b, int dim, float eps)
{
    IFS_DYNAMIC_SHARED(float, row);
    __shared__ float red[33];
    const int64_t r = blockIdx.x;
    const T *xr = x + r * dim;
    const T *rr = residual + r * dim;
    float s = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float v = to_f(xr[i]) + (bias ? to_f(bias[i]) : 0.0f) + to_f(rr[i]);
        row[i] = v;
        s += v;
    }
    layernorm_row(out + r * dim, row, s, g, b, dim, eps, red);
}

// launchers

template <typename T>
static cudaError_t launch_embed_layernorm(T *out, const int32_t *ids, const int32_t *type_ids,
                                          const int32_t *pos_ids, int32_t n_tokens,
                                          const T *word, const T *pos, const T *type,
                                          const float *g, const float *b, int hidden,
                                          float eps, cudaStream_t stream)
{
    if (n_tokens <= 0) return cudaSuccess;
    if (hidden <= 0 || hidden > IFS_CUDA_MAX_ROW) return cudaErrorInvalidValue;
    IFS_LAUNCH(n_tokens, LN_THREADS, sizeof(float) * hidden, stream, embed_layernorm_kernel<T>)(
        out, ids, type_ids, pos_ids, word, pos, type, g, b, hidden, eps);
    return ifs_cuda_launched();
}

template <typename T>
static cudaError_t launch_add_bias_residual_layernorm(T *out, const T *x, const T *bias,
                                                      const T *residual, const float *g,
                                                      const float *b, int64_t rows, int dim,
                                                      float eps, cudaStream_t stream)
{
    if (rows <= 0) return cudaSuccess;
    if (dim <= 0 || dim > IFS_CUDA_MAX_ROW || rows > INT32_MAX) return cudaErrorInvalidValue;
    IFS_LAUNCH((unsigned)rows, LN_THREADS, sizeof(float) * dim, stream,
               add_bias_residual_layernorm_kernel<T>)(out, x, bias, residual, g, b, dim, eps);
    return ifs_cuda_launched();
}

// entry points

extern "C" cudaError_t ifs_cuda_embed_layernorm(ifs_dtype dt, void *out, const int32_t *ids,
                                                const int32_t *type_ids,
                                                const int32_t *pos_ids, int32_t n_tokens,
                                                const void *word, const void *pos,
                                                const void *type, const float *g,
                                                const float *b, int hidden, float eps,
                                                cudaStream_t stream)
{
    IFS_CUDA_DISPATCH(dt, return launch_embed_layernorm<scalar_t>(
        (scalar_t *)out, ids, type_ids, pos_ids, n_tokens, (const scalar_t *)word,
        (const scalar_t *)pos, (const scalar_t *)type, g, b, hidden, eps, stream));
    return cudaErrorInvalidValue;
}

extern "C" cudaError_t ifs_cuda_add_bias_residual_layernorm(ifs_dtype dt, void *out,
                                                            const void *x, const void *bias,
                                                            const void *residual,
                                                            const float *g, const float *b,
                                                            int64_t rows, int dim, float eps,
                                                            cudaStream_t stream)
{
    IFS_CUDA_DISPATCH(dt, return launch_add_bias_residual_layernorm<scalar_t>(
        (scalar_t *)out, (const scalar_t *)x, (const scalar_t *)bias,
        (const scalar_t *)residual, g, b, rows, dim, eps, stream));
    return cudaErrorInvalidValue;
}
