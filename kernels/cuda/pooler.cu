/*
 * pooler.cu - the head of BertForSequenceClassification: [CLS] gather,
 * pooler dense + tanh, classifier dense, one block per sequence.
 *
 * Decisions:
 *   - Everything in fp32 with fp32 weights: it is n_seqs x hidden^2 work
 *     (tiny next to the encoder), and the logits are what the IFS counts
 *     threshold, so no rounding is spent here.
 *   - One warp per output feature, lanes striding the input: the weight row
 *     is read coalesced; the [CLS] row and the pooled row sit in shared
 *     memory.
 *   - Raw logits come out (the interface's contract); softmax is the
 *     caller's, on the host, from these fp32 values.
 */
#include "cuda_common.cuh"

static const int POOL_THREADS = 256;

// GPU kernel

template <typename T>
__global__ void __launch_bounds__(POOL_THREADS)
    cls_pooler_classifier_kernel(float *logits, float *cls_out, const T *hs, const int32_t *seq_off,
                                 int hidden, const float *pool_w, const float *pool_b,
                                 const float *cls_w, const float *cls_b, int num_labels)
{
    IFS_DYNAMIC_SHARED(float, sm);
    float *x = sm;               /* [hidden] the [CLS] row */
    float *pooled = sm + hidden; /* [hidden] */
    const int s = blockIdx.x;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int n_warps = blockDim.x >> 5;
    const T *row = hs + (int64_t)(seq_off ? seq_off[s] : s) * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        const float v = to_f(row[i]);
        x[i] = v;
        if (cls_out)
            cls_out[(int64_t)s * hidden + i] = v;
    }
    __syncthreads();
    for (int j = warp; j < hidden; j += n_warps) {
        const float *wr = pool_w + (int64_t)j * hidden;
        float acc = 0.0f;
        for (int k = lane; k < hidden; k += 32)
            acc += wr[k] * x[k];
        acc = warp_sum(acc);
        if (lane == 0)
            pooled[j] = tanhf(acc + pool_b[j]);
    }
    __syncthreads();
    for (int j = warp; j < num_labels; j += n_warps) {
        const float *wr = cls_w + (int64_t)j * hidden;
        float acc = 0.0f;
        for (int k = lane; k < hidden; k += 32)
            acc += wr[k] * pooled[k];
        acc = warp_sum(acc);
        if (lane == 0)
            logits[(int64_t)s * num_labels + j] = acc + cls_b[j];
    }
}

/* dst[s] = src[seq_off[s]]: each sequence's first ([CLS]) row, packed. */
template <typename T>
__global__ void gather_cls_rows_kernel(T *dst, const T *src, const int32_t *seq_off, int dim)
{
    const int s = blockIdx.x;
    const T *row = src + (int64_t)seq_off[s] * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        dst[(int64_t)s * dim + i] = row[i];
}

// launchers

template <typename T>
static cudaError_t launch_gather_cls_rows(T *dst, const T *src, const int32_t *seq_off,
                                          int32_t n_seqs, int dim, cudaStream_t stream)
{
    if (n_seqs <= 0)
        return cudaSuccess;
    IFS_LAUNCH(n_seqs, 128, 0, stream, gather_cls_rows_kernel<T>)(dst, src, seq_off, dim);
    return ifs_cuda_launched();
}

template <typename T>
static cudaError_t launch_pooler_classifier(float *logits, float *cls_out, const T *hs,
                                            const int32_t *seq_off, int32_t n_seqs, int hidden,
                                            const float *pool_w, const float *pool_b,
                                            const float *cls_w, const float *cls_b, int num_labels,
                                            cudaStream_t stream)
{
    if (n_seqs <= 0)
        return cudaSuccess;
    if (hidden <= 0 || 2 * hidden > IFS_CUDA_MAX_ROW || num_labels <= 0)
        return cudaErrorInvalidValue;
    IFS_LAUNCH(n_seqs, POOL_THREADS, 2 * sizeof(float) * hidden, stream,
               cls_pooler_classifier_kernel<T>)
    (logits, cls_out, hs, seq_off, hidden, pool_w, pool_b, cls_w, cls_b, num_labels);
    return ifs_cuda_launched();
}

// entry points

extern "C" cudaError_t ifs_cuda_gather_cls_rows(ifs_dtype dt, void *dst, const void *src,
                                                const int32_t *seq_off, int32_t n_seqs, int dim,
                                                cudaStream_t stream)
{
    IFS_CUDA_DISPATCH(dt, return launch_gather_cls_rows<scalar_t>((scalar_t *)dst,
                                                                  (const scalar_t *)src, seq_off,
                                                                  n_seqs, dim, stream));
    return cudaErrorInvalidValue;
}

extern "C" cudaError_t ifs_cuda_pooler_classifier(ifs_dtype dt, float *logits, float *cls_out,
                                                  const void *hs, const int32_t *seq_off,
                                                  int32_t n_seqs, int hidden, const float *pool_w,
                                                  const float *pool_b, const float *cls_w,
                                                  const float *cls_b, int num_labels,
                                                  cudaStream_t stream)
{
    IFS_CUDA_DISPATCH(dt, return launch_pooler_classifier<scalar_t>(
                              logits, cls_out, (const scalar_t *)hs, seq_off, n_seqs, hidden,
                              pool_w, pool_b, cls_w, cls_b, num_labels, stream));
    return cudaErrorInvalidValue;
}
