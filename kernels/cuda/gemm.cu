/*
 * gemm.cu - every dense layer of the encoder, y = x W^T (+ b) (+ relu),
 * through cuBLASLt.
 *
 * Layout: our arrays are row-major with HF's W[out][in]. cuBLAS is
 * column-major, so a row-major [rows][k] array is a column-major k x rows
 * matrix. We ask for the column-major n x rows result D = op(A) B with
 * A = W seen as a k x n column-major matrix (lda = k) and op = transpose,
 * B = x seen as k x rows (ldb = k), D = y seen as n x rows (ldd = n): that
 * is exactly y = x W^T, row-major, with no copies. The bias epilogue adds a
 * vector of length m = n to every column of D, i.e. bias[j] to feature j.
 *
 * Decisions:
 *   - Compute type CUBLAS_COMPUTE_32F for every dtype: fp32 accumulation
 *     for fp16/bf16, and strict fp32 (no TF32) for the fp32 verification
 *     mode.
 *   - Epilogues used: BIAS (fused QKV, and the rows-only layers whose
 *     bias is not folded into a LayerNorm kernel) and RELU_BIAS. GELU is
 *     left to activation.cu (see the note there).
 *   - The algorithm chosen by the heuristic is cached per (dtype, n, k,
 *     epilogue, rows rounded up to a power of two): packed batches have a
 *     different row count every call, and a heuristic query per GEMM would
 *     cost tens of microseconds each. A cached algorithm is used for another
 *     row count of its bucket only after cublasLtMatmulAlgoCheck accepts it
 *     for the exact shape (and our workspace); otherwise the heuristic is
 *     asked for that shape.
 *   - One context per backend handle (stream): its own workspace, as cuBLAS
 *     requires for concurrent streams.
 */
#include "cuda_common.cuh"

#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_CACHE 256

typedef struct {
    int used;
    ifs_dtype dt;
    int64_t rows; /* the row bucket (a power of two) */
    int n, k, epi;
    cublasLtMatmulAlgo_t algo;
} gemm_algo_entry;

struct ifs_cuda_gemm {
    cublasLtHandle_t lt;
    void *workspace; /* device, workspace_bytes */
    size_t workspace_bytes;
    gemm_algo_entry cache[GEMM_CACHE];
    int next_slot; /* round-robin replacement */
};

static int lt_status(cublasStatus_t st)
{
    switch (st) {
    case CUBLAS_STATUS_SUCCESS: return IFS_BK_OK;
    case CUBLAS_STATUS_ALLOC_FAILED: return IFS_BK_ENOMEM;
    case CUBLAS_STATUS_NOT_SUPPORTED:
    case CUBLAS_STATUS_ARCH_MISMATCH: return IFS_BK_EUNSUP;
    default: return IFS_BK_EDEVICE;
    }
}

extern "C" int ifs_cuda_gemm_create(ifs_cuda_gemm **out, size_t workspace_bytes, char *err,
                                    size_t errlen)
{
    *out = NULL;
    ifs_cuda_gemm *g = (ifs_cuda_gemm *)calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of host memory for the GEMM context");
        return IFS_BK_ENOMEM;
    }
    cublasStatus_t st = cublasLtCreate(&g->lt);
    if (st != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errlen, "cublasLtCreate: %s", cublasLtGetStatusString(st));
        free(g);
        return lt_status(st);
    }
    if (workspace_bytes) {
        cudaError_t e = cudaMalloc(&g->workspace, workspace_bytes);
        if (e != cudaSuccess) {
            snprintf(err, errlen, "cudaMalloc of a %zu-byte cuBLASLt workspace: %s",
                     workspace_bytes, cudaGetErrorString(e));
            cublasLtDestroy(g->lt);
            free(g);
            (void)cudaGetLastError(); /* allocation errors are not sticky; clear it */
            return e == cudaErrorMemoryAllocation ? IFS_BK_ENOMEM : IFS_BK_EDEVICE;
        }
    }
    g->workspace_bytes = workspace_bytes;
    *out = g;
    return IFS_BK_OK;
}

extern "C" void ifs_cuda_gemm_free(ifs_cuda_gemm *g)
{
    if (!g) return;
    if (g->workspace) cudaFree(g->workspace);
    if (g->lt) cublasLtDestroy(g->lt);
    free(g);
}

static int64_t rows_bucket(int64_t rows)
{
    int64_t b = 1;
    while (b < rows) b <<= 1;
    return b;
}

static cudaDataType_t cuda_type(ifs_dtype dt)
{
    return dt == IFS_DT_F16 ? CUDA_R_16F : dt == IFS_DT_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

/* Everything a call needs, destroyed together. */
typedef struct {
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulPreference_t pref;
} gemm_descs;

static void descs_free(gemm_descs *x)
{
    if (x->pref) cublasLtMatmulPreferenceDestroy(x->pref);
    if (x->d) cublasLtMatrixLayoutDestroy(x->d);
    if (x->b) cublasLtMatrixLayoutDestroy(x->b);
    if (x->a) cublasLtMatrixLayoutDestroy(x->a);
    if (x->op) cublasLtMatmulDescDestroy(x->op);
}

#define LT_TRY(call)                                                           \
    do {                                                                       \
        cublasStatus_t st_ = (call);                                           \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                    \
            snprintf(err, errlen, "%s failed (%s) for GEMM rows=%lld n=%d k=%d", \
                     #call, cublasLtGetStatusString(st_), (long long)rows, n, k); \
            descs_free(&ds);                                                   \
            return lt_status(st_);                                             \
        }                                                                      \
    } while (0)

extern "C" int ifs_cuda_gemm_run(ifs_cuda_gemm *g, ifs_dtype dt, void *y, const void *x,
                                 const void *w, const void *bias, int64_t rows, int n, int k,
                                 int relu, cudaStream_t stream, char *err, size_t errlen)
{
    if (rows <= 0) return IFS_BK_OK;
    if (n <= 0 || k <= 0 || rows > INT32_MAX) {
        snprintf(err, errlen, "GEMM shape out of range: rows=%lld n=%d k=%d", (long long)rows,
                 n, k);
        return IFS_BK_EARG;
    }
    gemm_descs ds;
    memset(&ds, 0, sizeof ds);
    const cudaDataType_t ty = cuda_type(dt);
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (bias) epi = relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    else if (relu) epi = CUBLASLT_EPILOGUE_RELU;

    LT_TRY(cublasLtMatmulDescCreate(&ds.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    LT_TRY(cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LT_TRY(cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    LT_TRY(cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (bias)
        LT_TRY(cublasLtMatmulDescSetAttribute(ds.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                              sizeof bias));
    LT_TRY(cublasLtMatrixLayoutCreate(&ds.a, ty, (uint64_t)k, (uint64_t)n, (int64_t)k));
    LT_TRY(cublasLtMatrixLayoutCreate(&ds.b, ty, (uint64_t)k, (uint64_t)rows, (int64_t)k));
    LT_TRY(cublasLtMatrixLayoutCreate(&ds.d, ty, (uint64_t)n, (uint64_t)rows, (int64_t)n));

    /* cached algorithm of the shape's row bucket, if valid for these rows */
    const int64_t bucket = rows_bucket(rows);
    gemm_algo_entry *hit = NULL;
    for (int i = 0; i < GEMM_CACHE; i++) {
        gemm_algo_entry *c = &g->cache[i];
        if (c->used && c->dt == dt && c->rows == bucket && c->n == n && c->k == k &&
            c->epi == (int)epi) {
            hit = c;
            break;
        }
    }
    cublasLtMatmulAlgo_t algo;
    int have = 0;
    if (hit) {
        cublasLtMatmulHeuristicResult_t chk;
        memset(&chk, 0, sizeof chk);
        if (cublasLtMatmulAlgoCheck(g->lt, ds.op, ds.a, ds.b, ds.d, ds.d, &hit->algo, &chk) ==
                CUBLAS_STATUS_SUCCESS &&
            chk.workspaceSize <= g->workspace_bytes) {
            algo = hit->algo;
            have = 1;
        }
    }
    if (!have) {
        LT_TRY(cublasLtMatmulPreferenceCreate(&ds.pref));
        LT_TRY(cublasLtMatmulPreferenceSetAttribute(ds.pref,
                                                    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &g->workspace_bytes,
                                                    sizeof g->workspace_bytes));
        cublasLtMatmulHeuristicResult_t res;
        int found = 0;
        memset(&res, 0, sizeof res);
        LT_TRY(cublasLtMatmulAlgoGetHeuristic(g->lt, ds.op, ds.a, ds.b, ds.d, ds.d, ds.pref, 1,
                                              &res, &found));
        if (found < 1) {
            snprintf(err, errlen, "cuBLASLt has no algorithm for GEMM rows=%lld n=%d k=%d "
                     "dtype=%d epilogue=%d", (long long)rows, n, k, (int)dt, (int)epi);
            descs_free(&ds);
            return IFS_BK_EUNSUP;
        }
        algo = res.algo;
        if (!hit) { /* a new bucket; a rejected entry keeps the first shape's choice */
            hit = &g->cache[g->next_slot];
            g->next_slot = (g->next_slot + 1) % GEMM_CACHE;
            hit->used = 1;
            hit->dt = dt;
            hit->rows = bucket;
            hit->n = n;
            hit->k = k;
            hit->epi = (int)epi;
            hit->algo = algo;
        }
    }
    const float alpha = 1.0f, beta = 0.0f;
    LT_TRY(cublasLtMatmul(g->lt, ds.op, &alpha, w, ds.a, x, ds.b, &beta, y, ds.d, y, ds.d,
                          &algo, g->workspace, g->workspace_bytes, stream));
    descs_free(&ds);
    return IFS_BK_OK;
}
