/*
 * ifs_cuda_ops.h - private: the CUDA backend's per-op entry points, one per
 * kernel concept, callable from C. The backend (cuda_backend.cu) is built
 * only from these, and tests/cuda/cuda_ops.c runs each of them against its
 * fp32 reference in kernels/cpu/ifs_cpu_ops.h (same names minus _cuda_).
 *
 * Usage (from a kernel test; every pointer is device memory):
 *
 *     // y = LayerNorm(x + bias + residual) for 2 rows of hidden 384, fp16
 *     cudaError_t e = ifs_cuda_add_bias_residual_layernorm(IFS_DT_F16, y, x, bias,
 *                         res, gamma, beta, 2, 384, 1e-12f, stream);
 *
 * Conventions:
 *   - "Elements" are of the compute dtype `dt`: float (IFS_DT_F32), __half
 *     (IFS_DT_F16) or __nv_bfloat16 (IFS_DT_BF16). LayerNorm gammas/betas,
 *     pooler and classifier weights, logits and cls rows are always fp32.
 *   - Row-major arrays, packed batches (sequence i is rows
 *     [seq_off[i], seq_off[i+1])), HF linear layout W[out][in].
 *   - The entry points only launch work on `stream` (the last argument);
 *     they return the launch status (cudaSuccess, or the error of a bad
 *     launch) and never synchronise, allocate, print or exit. Errors that
 *     happen while a kernel runs surface at the next synchronisation.
 *   - Sizes are the caller's to validate (the backend validates at create).
 *     Each function states the shapes it supports.
 */
#ifndef IFS_CUDA_OPS_H
#define IFS_CUDA_OPS_H

#ifndef IFS_CUDA_EMULATE /* the host emulator (tests/cuda) defines the few types used */
#include <cuda_runtime_api.h>
#endif
#include <stddef.h>
#include <stdint.h>

#include "ifs_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest head dim any attention path supports (the generic kernel). */
#define IFS_CUDA_MAX_HEAD_DIM 256
/* Largest row the LayerNorm kernels take (dim) and twice the largest hidden
 * the pooler takes. Rows up to 2048 (f16/bf16) or 1024 (f32) elements that
 * are a multiple of 8 (4) on 16-byte aligned arrays run warp-per-row in
 * registers; any other row up to this limit runs block-per-row with the row
 * in 4 * dim bytes of shared memory, whose launcher opts into more than
 * 48 KiB (static + dynamic) where the row needs it. */
#define IFS_CUDA_MAX_ROW 12288

/* out[t] = LayerNorm(word[ids[t]] + pos[pos_ids[t]] + type[type_ids[t]]) * g + b.
 * type_ids may be NULL (all 0). Tables are elements; out: [n_tokens][hidden]. */
cudaError_t ifs_cuda_embed_layernorm(ifs_dtype dt, void *out, const int32_t *ids,
                                     const int32_t *type_ids, const int32_t *pos_ids,
                                     int32_t n_tokens, const void *word, const void *pos,
                                     const void *type, const float *g, const float *b, int hidden,
                                     float eps, cudaStream_t stream);

/* out[r] = LayerNorm(x[r] + bias + residual[r]) * g + b; bias may be NULL.
 * out may equal x or residual (each row is read whole before it is written). */
cudaError_t ifs_cuda_add_bias_residual_layernorm(ifs_dtype dt, void *out, const void *x,
                                                 const void *bias, const void *residual,
                                                 const float *g, const float *b, int64_t rows,
                                                 int dim, float eps, cudaStream_t stream);

/* 1 when the LayerNorm entry points take the warp-per-row kernel for rows
 * of dim elements of dt over the n_ptrs arrays (NULLs are ignored): what
 * the kernel tests use to cover both kernels. */
int ifs_cuda_layernorm_uses_warp_kernel(ifs_dtype dt, int dim, const void *const *ptrs, int n_ptrs);

/* y[r][j] = act(y[r][j] + bias[j]) in place over rows x n (contiguous rows);
 * bias may be NULL; act: IFS_ACT_* or -1 for none. 16-byte vectors when n
 * is a multiple of 8 (f16/bf16) or 4 (f32) and y, bias are 16-byte
 * aligned; element by element otherwise. */
cudaError_t ifs_cuda_bias_act(ifs_dtype dt, void *y, const void *bias, int64_t rows, int n, int act,
                              cudaStream_t stream);

/* 1 when ifs_cuda_bias_act takes the 16-byte vector kernel for these
 * arguments (the kernel tests cover both kernels with it). */
int ifs_cuda_bias_act_uses_vectors(ifs_dtype dt, int n, const void *y, const void *bias);

/* Packed variable-length multi-head attention. qkv: [n_tokens][3*hidden]
 * rows [Q | K | V], head h at columns h*head_dim of each part; ctx:
 * [n_tokens][hidden]. seq_off is device memory [n_seqs + 1]; max_len is the
 * longest sequence (host value, sizes the grid). Scale 1/sqrt(head_dim).
 * f16/bf16 with head_dim 32 or 64 and a 16-byte aligned qkv run the
 * tensor-core (wmma) kernel; every other case, and any case with
 * force_generic, the scalar fp32-math kernel.
 * Supports head_dim <= IFS_CUDA_MAX_HEAD_DIM, n_seqs <= 65535. */
cudaError_t ifs_cuda_attention(ifs_dtype dt, void *ctx, const void *qkv, const int32_t *seq_off,
                               int32_t n_seqs, int32_t max_len, int hidden, int n_heads,
                               int force_generic, cudaStream_t stream);

/* The same attention for query row 0 ([CLS]) of each sequence only, over
 * all of its keys: ctx_cls[s] ([n_seqs][hidden]) receives that row. The
 * last layer needs nothing else, since the pooler reads only [CLS].
 * Generic (scalar) kernel, every dtype, head_dim <= IFS_CUDA_MAX_HEAD_DIM. */
cudaError_t ifs_cuda_attention_cls(ifs_dtype dt, void *ctx_cls, const void *qkv,
                                   const int32_t *seq_off, int32_t n_seqs, int hidden, int n_heads,
                                   cudaStream_t stream);

/* dst[s] = src[seq_off[s]] for n_seqs rows of dim elements: each sequence's
 * [CLS] row, packed. dst must not overlap src. */
cudaError_t ifs_cuda_gather_cls_rows(ifs_dtype dt, void *dst, const void *src,
                                     const int32_t *seq_off, int32_t n_seqs, int dim,
                                     cudaStream_t stream);

/* 1 when ifs_cuda_attention takes the tensor-core path for these shapes
 * and this qkv array (NULL: any 16-byte aligned array). */
int ifs_cuda_attention_uses_tensor_cores(ifs_dtype dt, int head_dim, const void *qkv);

/* For each sequence s: cls = hs[seq_off[s]] (its [CLS] row, elements; row s
 * when seq_off is NULL, for already gathered rows);
 * cls_out[s] = cls in fp32 (cls_out may be NULL); pooled = tanh(cls Wp^T + bp);
 * logits[s] = pooled Wc^T + bc. Weights fp32, HF layout. seq_off device or NULL. */
cudaError_t ifs_cuda_pooler_classifier(ifs_dtype dt, float *logits, float *cls_out, const void *hs,
                                       const int32_t *seq_off, int32_t n_seqs, int hidden,
                                       const float *pool_w, const float *pool_b, const float *cls_w,
                                       const float *cls_b, int num_labels, cudaStream_t stream);

/* dst[i] = (element) src[i], round to nearest even; and back to fp32. */
cudaError_t ifs_cuda_from_f32(ifs_dtype dt, void *dst, const float *src, int64_t n,
                              cudaStream_t stream);
cudaError_t ifs_cuda_to_f32(ifs_dtype dt, float *dst, const void *src, int64_t n,
                            cudaStream_t stream);

/* dst[i] = a value of magnitude in [0.25, 1) with a random sign, a function
 * of (seed, i) only: never zero (benchmarks and the GEMM ceiling must not
 * run on zeros, which run faster and draw less power), the same on every
 * device and launch shape. n elements of dt. */
cudaError_t ifs_cuda_fill_random(ifs_dtype dt, void *dst, int64_t n, uint64_t seed,
                                 cudaStream_t stream);

/* Bytes of one element of dt (4 or 2). */
size_t ifs_cuda_dtype_size(ifs_dtype dt);

/* --- GEMM (cuBLASLt) ----------------------------------------------------- */
/* One per backend handle (one stream): owns a cuBLASLt handle, a device
 * workspace of `workspace_bytes` and a table of plans, one per exact shape
 * (descriptors, layouts and the heuristic's algorithm, made on first use). */
typedef struct ifs_cuda_gemm ifs_cuda_gemm;

typedef struct {
    uint64_t hits;      /* calls that found their shape's plan */
    uint64_t misses;    /* calls that made a plan (one heuristic query each) */
    uint64_t evictions; /* plans dropped to make room */
    int plans;          /* plans held now */
} ifs_cuda_gemm_stats;

/* Creates a GEMM context on the current device. Returns IFS_BK_OK, or
 * IFS_BK_ENOMEM / IFS_BK_EDEVICE with words in err. Free with
 * ifs_cuda_gemm_free (accepts NULL). */
int ifs_cuda_gemm_create(ifs_cuda_gemm **out, size_t workspace_bytes, char *err, size_t errlen);
void ifs_cuda_gemm_free(ifs_cuda_gemm *g);

/* y[rows][n] = x[rows][k] W^T (+ bias[n]) (then relu when relu != 0), with
 * W [n][k] in HF layout, all elements of dt, contiguous rows; accumulation in
 * fp32 (strict fp32, no TF32, for IFS_DT_F32). Enqueued on `stream`.
 * Returns IFS_BK_OK, or IFS_BK_ENOMEM / IFS_BK_EUNSUP / IFS_BK_EDEVICE with
 * words naming the shape in err. */
int ifs_cuda_gemm_run(ifs_cuda_gemm *g, ifs_dtype dt, void *y, const void *x, const void *w,
                      const void *bias, int64_t rows, int n, int k, int relu, cudaStream_t stream,
                      char *err, size_t errlen);

/* The plan table's counters since create (g may be NULL: all zero). */
void ifs_cuda_gemm_get_stats(const ifs_cuda_gemm *g, ifs_cuda_gemm_stats *out);

/* The dense GEMM rate of `device` in dt: y[m][n] = x[m][k] W[n][k]^T through
 * ifs_cuda_gemm_run on random operands (ifs_cuda_fill_random), 3 warm-up
 * products, then `repeats` products each timed with CUDA events; *tflops =
 * 2mnk / median time. Allocates its own stream, context and operands and
 * frees them before returning; sets the calling thread's device. Returns
 * IFS_BK_OK, IFS_BK_ENOMEM or IFS_BK_EDEVICE with words in err.
 * ifs_backend_gemm_peak("cuda", ...) is the public way in. */
int ifs_cuda_gemm_peak(int device, ifs_dtype dt, int m, int n, int k, int repeats, double *tflops,
                       char *err, size_t errlen);

/* --- per-stage timing of the cuda backend (benchmarks) ----------------------- */
/* Stages of one forward call, in the order they run. */
enum {
    IFS_CUDA_ST_H2D,          /* the batch's ids, positions, offsets to the device */
    IFS_CUDA_ST_EMBED_LN,     /* embeddings + LayerNorm */
    IFS_CUDA_ST_QKV_GEMM,     /* fused Q|K|V projection + bias, every layer */
    IFS_CUDA_ST_ATTENTION,    /* attention, every layer but the last */
    IFS_CUDA_ST_AO_GEMM,      /* attention output projection */
    IFS_CUDA_ST_LN1,          /* bias + residual + LayerNorm after attention */
    IFS_CUDA_ST_FFN_IN_GEMM,  /* intermediate projection (+ relu epilogue) */
    IFS_CUDA_ST_BIAS_ACT,     /* bias + GELU */
    IFS_CUDA_ST_FFN_OUT_GEMM, /* output projection */
    IFS_CUDA_ST_LN2,          /* bias + residual + LayerNorm after the feed-forward */
    IFS_CUDA_ST_LAST_LAYER,   /* the last layer's [CLS]-only part, after its QKV */
    IFS_CUDA_ST_POOLER,       /* pooler + classifier */
    IFS_CUDA_ST_D2H,          /* logits (and [CLS] rows) to the host */
    IFS_CUDA_N_STAGES
};

typedef struct {
    double ms[IFS_CUDA_N_STAGES]; /* device time per stage, summed over calls */
    int64_t forwards;             /* forward calls timed */
} ifs_cuda_stage_times;

/* Name of a stage ("qkv_gemm", ...), or "?" */
const char *ifs_cuda_stage_name(int stage);

/* enable != 0: from the next forward call on, b (a "cuda" backend) records
 * a CUDA event after each stage and adds the time between consecutive
 * events to its stage (the events add a few microseconds of host time per
 * stage: time throughput with profiling off); 0 stops it. Resets the sums.
 * Returns IFS_BK_OK, IFS_BK_EARG (not a cuda backend) or IFS_BK_ENOMEM /
 * IFS_BK_EDEVICE (event creation), with words in ifs_backend_error(b). */
int ifs_cuda_backend_profile(ifs_backend *b, int enable);
/* The sums since profiling was enabled. */
int ifs_cuda_backend_profile_read(const ifs_backend *b, ifs_cuda_stage_times *out);

#ifdef __cplusplus
}
#endif
#endif
