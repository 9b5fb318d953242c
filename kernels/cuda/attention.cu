/*
 * attention.cu - multi-head self-attention over packed variable-length
 * sequences: no padding, sequence s is rows [seq_off[s], seq_off[s+1]) of
 * the fused QKV activations, and attention never crosses sequences.
 *
 * Two kernels:
 *   attention_wmma_kernel<T, D>   f16 / bf16, head dim D in {32, 64}: one
 *       block = 64 query rows of one (sequence, head), 4 warps of 16 rows.
 *       Scores S = Q K^T and the update O += P V run on tensor cores (wmma
 *       16x16x16, fp32 accumulation); the softmax is the online (flash)
 *       form, row max and row sum in fp32, over key tiles of 64 held in
 *       shared memory. Nothing of size L x L ever reaches global memory.
 *   attention_generic_kernel<T>   any dtype, head dim <= 256 (the fp32
 *       verification path and the fallback): one warp per query row, lanes
 *       own keys for the scores and head-dim columns for the output, the
 *       same online softmax in fp32.
 *
 * Index conventions (both kernels): qkv row t has 3*H elements, [Q | K | V];
 * head h's slice of each part starts at column h*D. ctx row t has H
 * elements, head h at column h*D. H = n_heads * D.
 *
 * Decisions:
 *   - Out-of-range rows of a tile (past the sequence's end) are loaded as
 *     zeros: a zero V row times a zero P weight cannot make a NaN, and a
 *     zero Q row yields finite scores that are never written out.
 *   - Keys past the end get P = 0 explicitly (not -inf arithmetic), so a
 *     tile with one valid key is as exact as a full one.
 *   - The running max is kept in log2 units (scores times scale*log2 e),
 *     so exp becomes exp2f, as flash-attention does.
 *   - The per-row rescale of O by exp(m_old - m_new) needs O's row layout,
 *     which wmma accumulator fragments hide; so O lives in shared memory
 *     (fp32), is scaled there by lane pairs, and is loaded into an
 *     accumulator fragment for each P V update and stored back.
 *   - Every shared-memory region starts at a multiple of 128 bytes and
 *     every wmma pointer at a multiple of 32 bytes (row strides padded by 8
 *     halves / 4 floats, which also staggers banks); see the static_asserts.
 */
#include "cuda_common.cuh"

#ifndef IFS_CUDA_EMULATE
#include <mma.h>
#endif

using namespace nvcuda;

static const int AT_BQ = 64;   /* query rows per block */
static const int AT_BK = 64;   /* keys per tile */
static const int AT_WARPS = 4; /* each warp owns 16 query rows */
static const int GEN_ROWS = 4; /* generic kernel: query rows (warps) per block */

/* Shared-memory map of the wmma kernel for head dim D, in bytes. */
template <int D> struct attn_smem {
    static constexpr int LDH = D + 8;     /* elements per row of Q, K, V tiles */
    static constexpr int LDS = AT_BK + 4; /* floats per row of S */
    static constexpr int LDP = AT_BK + 8; /* elements per row of P */
    static constexpr int LDO = D + 4;     /* floats per row of O */
    static constexpr size_t Q = 0;
    static constexpr size_t K = Q + (size_t)AT_BQ * LDH * 2;
    static constexpr size_t V = K + (size_t)AT_BK * LDH * 2;
    static constexpr size_t S = V + (size_t)AT_BK * LDH * 2;
    static constexpr size_t P = S + (size_t)AT_WARPS * 16 * LDS * 4;
    static constexpr size_t O = P + (size_t)AT_WARPS * 16 * LDP * 2;
    static constexpr size_t ML = O + (size_t)AT_WARPS * 16 * LDO * 4; /* m[64], l[64] */
    static constexpr size_t BYTES = ML + 2 * (size_t)AT_BQ * 4;
    static_assert(K % 128 == 0 && V % 128 == 0 && S % 128 == 0 && P % 128 == 0 && O % 128 == 0 &&
                      ML % 128 == 0,
                  "regions must be 128-byte aligned");
    /* wmma needs 32-byte aligned tile pointers: 16-row steps and 16-column steps */
    static_assert((16 * LDH * 2) % 32 == 0 && (16 * LDS * 4) % 32 == 0 &&
                      (16 * LDP * 2) % 32 == 0 && (16 * LDO * 4) % 32 == 0,
                  "wmma row alignment");
    static_assert((LDH * 2) % 16 == 0, "16-byte vector stores into Q/K/V rows");
    static_assert(D % 16 == 0 && D <= AT_BK, "head dim must be a multiple of 16, <= 64");
};

// GPU kernels

/* Copies rows [row0, row0 + 64) of one head's slice (src points at column
 * h*D of sequence row 0, row stride ld elements) into a tile with row
 * stride LDH, zero-filling rows at or past len. 16-byte vectors. */
template <typename T, int D>
__device__ __forceinline__ void load_tile(T *tile, const T *src, int64_t ld, int row0, int len)
{
    constexpr int VEC = vec16<T>::N; /* elements per 16-byte vector */
    constexpr int PER_ROW = D / VEC;
    for (int c = threadIdx.x; c < 64 * PER_ROW; c += blockDim.x) {
        const int r = c / PER_ROW, col = (c % PER_ROW) * VEC;
        vec16<T> v;
        if (row0 + r < len) {
            v = load16(src + (int64_t)(row0 + r) * ld + col);
        } else {
#pragma unroll
            for (int e = 0; e < VEC; e++)
                v.v[e] = from_f<T>(0.0f);
        }
        store16(tile + r * attn_smem<D>::LDH + col, v);
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(AT_WARPS * 32)
    attention_wmma_kernel(T *ctx, const T *qkv, const int32_t *seq_off, int H, float scale_log2)
{
    typedef attn_smem<D> SM;
    IFS_DYNAMIC_SHARED(unsigned char, smem);
    T *Qs = reinterpret_cast<T *>(smem + SM::Q);
    T *Ks = reinterpret_cast<T *>(smem + SM::K);
    T *Vs = reinterpret_cast<T *>(smem + SM::V);

    const int s = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * AT_BQ;
    const int start = seq_off[s], len = seq_off[s + 1] - start;
    if (q0 >= len)
        return; /* the whole block leaves together: no barrier is skipped */

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t ld = 3 * (int64_t)H;
    const T *qbase = qkv + (int64_t)start * ld + (int64_t)h * D;
    const T *kbase = qbase + H;
    const T *vbase = qbase + 2 * (int64_t)H;

    float *Sw = reinterpret_cast<float *>(smem + SM::S) + warp * 16 * SM::LDS;
    T *Pw = reinterpret_cast<T *>(smem + SM::P) + warp * 16 * SM::LDP;
    float *Ow = reinterpret_cast<float *>(smem + SM::O) + warp * 16 * SM::LDO;
    float *Mw = reinterpret_cast<float *>(smem + SM::ML) + warp * 16; /* running max, log2 units */
    float *Lw = Mw + AT_BQ;                                           /* running sum */

    load_tile<T, D>(Qs, qbase, ld, q0, len);
    for (int i = lane; i < 16 * SM::LDO; i += 32)
        Ow[i] = 0.0f;
    if (lane < 16) {
        Mw[lane] = -INFINITY;
        Lw[lane] = 0.0f;
    }
    __syncthreads();

    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qf[D / 16];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
        wmma::load_matrix_sync(qf[kk], Qs + (warp * 16) * SM::LDH + kk * 16, SM::LDH);

    /* Softmax work split: lane pair (2r, 2r+1) owns row r of the warp's 16,
     * the even lane columns [0, 32) of S and [0, D/2) of O, the odd lane the rest. */
    const int r = lane >> 1, half = lane & 1;

    for (int k0 = 0; k0 < len; k0 += AT_BK) {
        __syncthreads(); /* every warp is done with the previous K/V tile */
        load_tile<T, D>(Ks, kbase, ld, k0, len);
        load_tile<T, D>(Vs, vbase, ld, k0, len);
        __syncthreads();

        /* S (16 x 64) = Q (16 x D) K^T: K^T is K's tile read column-major. */
#pragma unroll
        for (int n = 0; n < AT_BK / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
            wmma::fill_fragment(sf, 0.0f);
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kf;
                wmma::load_matrix_sync(kf, Ks + (n * 16) * SM::LDH + kk * 16, SM::LDH);
                wmma::mma_sync(sf, qf[kk], kf, sf);
            }
            wmma::store_matrix_sync(Sw + n * 16, sf, SM::LDS, wmma::mem_row_major);
        }
        __syncwarp();

        /* Online softmax on row r; keys >= n_valid are outside the sequence. */
        const int n_valid = min(AT_BK, len - k0);
        const float *srow = Sw + r * SM::LDS + half * 32;
        T *prow = Pw + r * SM::LDP + half * 32;
        float mx = -INFINITY;
        for (int j = 0; j < 32; j++)
            if (half * 32 + j < n_valid)
                mx = fmaxf(mx, srow[j]);
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        const float m_old = Mw[r];
        const float m_new = fmaxf(m_old, mx * scale_log2); /* finite: n_valid >= 1 */
        float sum = 0.0f;
        for (int j = 0; j < 32; j++) {
            float p = 0.0f;
            if (half * 32 + j < n_valid)
                p = exp2f(srow[j] * scale_log2 - m_new);
            const T pt = from_f<T>(p);
            prow[j] = pt;
            sum += to_f(pt); /* normalise by the weights actually applied */
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        const float alpha = exp2f(m_old - m_new); /* 0 on the first tile */
        __syncwarp();                             /* both lanes of the pair have read Mw[r] */
        if (half == 0) {
            Mw[r] = m_new;
            Lw[r] = Lw[r] * alpha + sum;
        }
        float *orow = Ow + r * SM::LDO + half * (D / 2);
        for (int j = 0; j < D / 2; j++)
            orow[j] *= alpha;
        __syncwarp();

        /* O (16 x D) += P (16 x 64) V (64 x D) */
#pragma unroll
        for (int n = 0; n < D / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
            wmma::load_matrix_sync(of, Ow + n * 16, SM::LDO, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < AT_BK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pf;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vf;
                wmma::load_matrix_sync(pf, Pw + kk * 16, SM::LDP);
                wmma::load_matrix_sync(vf, Vs + (kk * 16) * SM::LDH + n * 16, SM::LDH);
                wmma::mma_sync(of, pf, vf, of);
            }
            wmma::store_matrix_sync(Ow + n * 16, of, SM::LDO, wmma::mem_row_major);
        }
        __syncwarp();
    }

    const int qi = q0 + warp * 16 + r;
    if (qi < len) {
        const float inv = 1.0f / Lw[r];
        const float *orow = Ow + r * SM::LDO + half * (D / 2);
        T *out = ctx + (int64_t)(start + qi) * H + (int64_t)h * D + half * (D / 2);
        for (int j = 0; j < D / 2; j++)
            out[j] = from_f<T>(orow[j] * inv);
    }
}

/* One warp per query row. Lane l scores key j0 + l of each 32-key chunk;
 * for the output, lane l owns columns l, l + 32, ... of the head.
 * cls_only: launched with one warp per (sequence, head); only query row 0
 * (the [CLS] token) is computed, and it is written to row s of ctx. */
template <typename T>
__global__ void __launch_bounds__(GEN_ROWS * 32)
    attention_generic_kernel(T *ctx, const T *qkv, const int32_t *seq_off, int H, int D,
                             float scale, int cls_only)
{
    constexpr int MAXC = IFS_CUDA_MAX_HEAD_DIM / 32;
    IFS_STATIC_SHARED(float, qs, [GEN_ROWS][IFS_CUDA_MAX_HEAD_DIM]);
    const int s = blockIdx.z, h = blockIdx.y;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int start = seq_off[s], len = seq_off[s + 1] - start;
    const int i = blockIdx.x * (blockDim.x >> 5) + warp; /* 0 when cls_only */
    if (i >= len)
        return; /* per warp: only warp-level syncs below */

    const int64_t ld = 3 * (int64_t)H;
    const T *q = qkv + (int64_t)(start + i) * ld + (int64_t)h * D;
    const T *kb = qkv + (int64_t)start * ld + H + (int64_t)h * D;
    const T *vb = kb + H;
    float *qw = qs[warp];
    for (int d = lane; d < D; d += 32)
        qw[d] = to_f(q[d]) * scale;
    __syncwarp();

    float acc[MAXC];
#pragma unroll
    for (int c = 0; c < MAXC; c++)
        acc[c] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int j0 = 0; j0 < len; j0 += 32) {
        const int j = j0 + lane;
        float sc = -INFINITY;
        if (j < len) {
            const T *kr = kb + (int64_t)j * ld;
            float dot = 0.0f;
            for (int d = 0; d < D; d++)
                dot += qw[d] * to_f(kr[d]);
            sc = dot;
        }
        const float m_new = fmaxf(m, warp_max(sc)); /* finite: key j0 is valid */
        const float p = j < len ? expf(sc - m_new) : 0.0f;
        const float alpha = expf(m - m_new); /* 0 on the first chunk */
        l = l * alpha + warp_sum(p);
#pragma unroll
        for (int c = 0; c < MAXC; c++)
            acc[c] *= alpha;
        const int n = min(32, len - j0);
        for (int jj = 0; jj < n; jj++) {
            const float pj = __shfl_sync(0xffffffffu, p, jj);
            const T *vr = vb + (int64_t)(j0 + jj) * ld;
#pragma unroll
            for (int c = 0; c < MAXC; c++) {
                const int d = lane + 32 * c;
                if (d < D)
                    acc[c] += pj * to_f(vr[d]);
            }
        }
        m = m_new;
    }
    T *out = ctx + (int64_t)(cls_only ? s : start + i) * H + (int64_t)h * D;
    const float inv = 1.0f / l;
#pragma unroll
    for (int c = 0; c < MAXC; c++) {
        const int d = lane + 32 * c;
        if (d < D)
            out[d] = from_f<T>(acc[c] * inv);
    }
}

// launchers

template <typename T, int D>
static cudaError_t launch_attention_wmma(T *ctx, const T *qkv, const int32_t *seq_off,
                                         int32_t n_seqs, int32_t max_len, int H, int n_heads,
                                         cudaStream_t stream)
{
    const size_t bytes = attn_smem<D>::BYTES;
    /* Over 48 KiB of dynamic shared memory needs an opt-in, per device:
     * set it on every launch (cheap) rather than track devices. */
    cudaError_t e = cudaFuncSetAttribute(attention_wmma_kernel<T, D>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
    if (e != cudaSuccess)
        return e;
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    dim3 grid((unsigned)((max_len + AT_BQ - 1) / AT_BQ), (unsigned)n_heads, (unsigned)n_seqs);
    IFS_LAUNCH(grid, AT_WARPS * 32, bytes, stream, attention_wmma_kernel<T, D>)
    (ctx, qkv, seq_off, H, scale_log2);
    return ifs_cuda_launched();
}

template <typename T>
static cudaError_t launch_attention_generic(T *ctx, const T *qkv, const int32_t *seq_off,
                                            int32_t n_seqs, int32_t max_len, int H, int n_heads,
                                            cudaStream_t stream)
{
    const int D = H / n_heads;
    dim3 grid((unsigned)((max_len + GEN_ROWS - 1) / GEN_ROWS), (unsigned)n_heads, (unsigned)n_seqs);
    IFS_LAUNCH(grid, GEN_ROWS * 32, 0, stream, attention_generic_kernel<T>)
    (ctx, qkv, seq_off, H, D, 1.0f / sqrtf((float)D), 0);
    return ifs_cuda_launched();
}

/* One warp per (sequence, head), query row 0 only. */
template <typename T>
static cudaError_t launch_attention_cls(T *ctx_cls, const T *qkv, const int32_t *seq_off,
                                        int32_t n_seqs, int H, int n_heads, cudaStream_t stream)
{
    const int D = H / n_heads;
    dim3 grid(1u, (unsigned)n_heads, (unsigned)n_seqs);
    IFS_LAUNCH(grid, 32, 0, stream, attention_generic_kernel<T>)
    (ctx_cls, qkv, seq_off, H, D, 1.0f / sqrtf((float)D), 1);
    return ifs_cuda_launched();
}

/* The one place where (dtype, head dim) become template arguments. The
 * wmma kernel reads Q, K and V rows in 16-byte vectors: qkv must be 16-byte
 * aligned (row strides 3H and head offsets h*D keep that for D in {32, 64});
 * an array that is not (a caller's offset view) takes the generic kernel. */
template <typename T>
static cudaError_t dispatch_attention(T *ctx, const T *qkv, const int32_t *seq_off, int32_t n_seqs,
                                      int32_t max_len, int H, int n_heads, int force_generic,
                                      cudaStream_t stream)
{
    const int D = H / n_heads;
    if (sizeof(T) == 2 && !force_generic && aligned16(qkv)) {
        if (D == 32)
            return launch_attention_wmma<T, 32>(ctx, qkv, seq_off, n_seqs, max_len, H, n_heads,
                                                stream);
        if (D == 64)
            return launch_attention_wmma<T, 64>(ctx, qkv, seq_off, n_seqs, max_len, H, n_heads,
                                                stream);
    }
    return launch_attention_generic<T>(ctx, qkv, seq_off, n_seqs, max_len, H, n_heads, stream);
}

/* float has no wmma path (the fp32 mode is for verification). */
template <>
cudaError_t dispatch_attention<float>(float *ctx, const float *qkv, const int32_t *seq_off,
                                      int32_t n_seqs, int32_t max_len, int H, int n_heads,
                                      int force_generic, cudaStream_t stream)
{
    (void)force_generic;
    return launch_attention_generic<float>(ctx, qkv, seq_off, n_seqs, max_len, H, n_heads, stream);
}

// entry points

extern "C" int ifs_cuda_attention_uses_tensor_cores(ifs_dtype dt, int head_dim, const void *qkv)
{
    return (dt == IFS_DT_F16 || dt == IFS_DT_BF16) && (head_dim == 32 || head_dim == 64) &&
           (!qkv || aligned16(qkv));
}

extern "C" cudaError_t ifs_cuda_attention(ifs_dtype dt, void *ctx, const void *qkv,
                                          const int32_t *seq_off, int32_t n_seqs, int32_t max_len,
                                          int hidden, int n_heads, int force_generic,
                                          cudaStream_t stream)
{
    if (n_seqs <= 0 || max_len <= 0)
        return cudaSuccess;
    if (n_heads <= 0 || hidden % n_heads != 0 || hidden / n_heads > IFS_CUDA_MAX_HEAD_DIM ||
        n_seqs > 65535 || n_heads > 65535)
        return cudaErrorInvalidValue;
    IFS_CUDA_DISPATCH(dt, return dispatch_attention<scalar_t>(
                              (scalar_t *)ctx, (const scalar_t *)qkv, seq_off, n_seqs, max_len,
                              hidden, n_heads, force_generic, stream));
    return cudaErrorInvalidValue;
}

extern "C" cudaError_t ifs_cuda_attention_cls(ifs_dtype dt, void *ctx_cls, const void *qkv,
                                              const int32_t *seq_off, int32_t n_seqs, int hidden,
                                              int n_heads, cudaStream_t stream)
{
    if (n_seqs <= 0)
        return cudaSuccess;
    if (n_heads <= 0 || hidden % n_heads != 0 || hidden / n_heads > IFS_CUDA_MAX_HEAD_DIM ||
        n_seqs > 65535 || n_heads > 65535)
        return cudaErrorInvalidValue;
    IFS_CUDA_DISPATCH(dt, return launch_attention_cls<scalar_t>((scalar_t *)ctx_cls,
                                                                (const scalar_t *)qkv, seq_off,
                                                                n_seqs, hidden, n_heads, stream));
    return cudaErrorInvalidValue;
}
