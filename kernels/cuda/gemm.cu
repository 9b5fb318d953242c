/*
 * gemm.cu - every dense layer of the encoder, y = x W^T (+ b) (+ relu),
 * through cuBLASLt; and the measured dense GEMM rate (the MFU ceiling).
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
 *   - A plan per exact shape (dtype, rows, n, k, epilogue): its matmul
 *     descriptor, three layouts and the heuristic's algorithm, made once
 *     and reused; a call that hits a plan only sets the bias pointer on
 *     the descriptor (host-side; cuBLASLt reads it when the call is
 *     enqueued) and enqueues. Packed batches have a different row count
 *     from one batch to the next, but the counts repeat over a run (a
 *     token budget filled by length-sorted batches), so exact shapes hit
 *     after the first batches, and an exact shape's algorithm is the one
 *     the heuristic picked for it, with no cublasLtMatmulAlgoCheck needed.
 *     Plans live in an open-addressed table (probe window of 8); a full
 *     window evicts its least recently used plan.
 *   - One context per backend handle (stream): its own workspace, as cuBLAS
 *     requires for concurrent streams.
 */
#include "cuda_common.cuh"

#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_PLANS 1024 /* a power of two */
#define GEMM_PROBE 8

/* Everything one shape needs, made together and destroyed together. */
typedef struct {
    int used;
    ifs_dtype dt;
    int64_t rows;
    int n, k, epi;
    uint64_t last_use;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulAlgo_t algo;
} gemm_plan;

struct ifs_cuda_gemm {
    cublasLtHandle_t lt;
    void *workspace; /* device, workspace_bytes */
    size_t workspace_bytes;
    uint64_t tick;
    ifs_cuda_gemm_stats stats;
    gemm_plan plans[GEMM_PLANS];
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

static void plan_free(gemm_plan *p)
{
    if (p->d)
        cublasLtMatrixLayoutDestroy(p->d);
    if (p->b)
        cublasLtMatrixLayoutDestroy(p->b);
    if (p->a)
        cublasLtMatrixLayoutDestroy(p->a);
    if (p->op)
        cublasLtMatmulDescDestroy(p->op);
    memset(p, 0, sizeof *p);
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
    if (!g)
        return;
    for (int i = 0; i < GEMM_PLANS; i++)
        if (g->plans[i].used)
            plan_free(&g->plans[i]);
    if (g->workspace)
        cudaFree(g->workspace);
    if (g->lt)
        cublasLtDestroy(g->lt);
    free(g);
}

extern "C" void ifs_cuda_gemm_get_stats(const ifs_cuda_gemm *g, ifs_cuda_gemm_stats *out)
{
    if (!out)
        return;
    if (!g) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = g->stats;
    out->plans = 0;
    for (int i = 0; i < GEMM_PLANS; i++)
        out->plans += g->plans[i].used;
}

static cudaDataType_t cuda_type(ifs_dtype dt)
{
    return dt == IFS_DT_F16 ? CUDA_R_16F : dt == IFS_DT_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

static unsigned plan_hash(ifs_dtype dt, int64_t rows, int n, int k, int epi)
{
    uint64_t h = (uint64_t)rows * 0x9E3779B97F4A7C15ull;
    h ^= ((uint64_t)(uint32_t)n << 32 | (uint32_t)k) * 0xBF58476D1CE4E5B9ull;
    h ^= (uint64_t)(dt * 16 + epi) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    return (unsigned)h & (GEMM_PLANS - 1);
}

#define LT_TRY(call)                                                                               \
    do {                                                                                           \
        cublasStatus_t st_ = (call);                                                               \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                                        \
            snprintf(err, errlen, "%s failed (%s) for GEMM rows=%lld n=%d k=%d", #call,            \
                     cublasLtGetStatusString(st_), (long long)rows, n, k);                         \
            if (pref)                                                                              \
                cublasLtMatmulPreferenceDestroy(pref);                                             \
            plan_free(p);                                                                          \
            return lt_status(st_);                                                                 \
        }                                                                                          \
    } while (0)

/* Fills the empty plan p for the shape: descriptors, layouts, algorithm. */
static int plan_make(ifs_cuda_gemm *g, gemm_plan *p, ifs_dtype dt, int64_t rows, int n, int k,
                     cublasLtEpilogue_t epi, char *err, size_t errlen)
{
    const cudaDataType_t ty = cuda_type(dt);
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasLtMatmulPreference_t pref = NULL;
    memset(p, 0, sizeof *p);
    LT_TRY(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    LT_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LT_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    LT_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    LT_TRY(cublasLtMatrixLayoutCreate(&p->a, ty, (uint64_t)k, (uint64_t)n, (int64_t)k));
    LT_TRY(cublasLtMatrixLayoutCreate(&p->b, ty, (uint64_t)k, (uint64_t)rows, (int64_t)k));
    LT_TRY(cublasLtMatrixLayoutCreate(&p->d, ty, (uint64_t)n, (uint64_t)rows, (int64_t)n));
    LT_TRY(cublasLtMatmulPreferenceCreate(&pref));
    LT_TRY(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                &g->workspace_bytes, sizeof g->workspace_bytes));
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    memset(&res, 0, sizeof res);
    LT_TRY(cublasLtMatmulAlgoGetHeuristic(g->lt, p->op, p->a, p->b, p->d, p->d, pref, 1, &res,
                                          &found));
    cublasLtMatmulPreferenceDestroy(pref);
    if (found < 1) {
        snprintf(err, errlen,
                 "cuBLASLt has no algorithm for GEMM rows=%lld n=%d k=%d "
                 "dtype=%d epilogue=%d",
                 (long long)rows, n, k, (int)dt, (int)epi);
        plan_free(p);
        return IFS_BK_EUNSUP;
    }
    p->algo = res.algo;
    p->dt = dt;
    p->rows = rows;
    p->n = n;
    p->k = k;
    p->epi = (int)epi;
    p->used = 1;
    return IFS_BK_OK;
}

/* The plan of this shape, made on first use (evicting the least recently
 * used plan of a full probe window). */
static int plan_get(ifs_cuda_gemm *g, ifs_dtype dt, int64_t rows, int n, int k,
                    cublasLtEpilogue_t epi, gemm_plan **out, char *err, size_t errlen)
{
    const unsigned h = plan_hash(dt, rows, n, k, (int)epi);
    gemm_plan *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < GEMM_PROBE; i++) {
        gemm_plan *p = &g->plans[(h + i) & (GEMM_PLANS - 1)];
        if (!p->used) {
            if (!free_slot)
                free_slot = p;
            continue;
        }
        if (p->dt == dt && p->rows == rows && p->n == n && p->k == k && p->epi == (int)epi) {
            p->last_use = ++g->tick;
            g->stats.hits++;
            *out = p;
            return IFS_BK_OK;
        }
        if (!oldest || p->last_use < oldest->last_use)
            oldest = p;
    }
    gemm_plan *slot = free_slot;
    if (!slot) {
        plan_free(oldest);
        g->stats.evictions++;
        slot = oldest;
    }
    int rc = plan_make(g, slot, dt, rows, n, k, epi, err, errlen);
    if (rc)
        return rc;
    slot->last_use = ++g->tick;
    g->stats.misses++;
    *out = slot;
    return IFS_BK_OK;
}

extern "C" int ifs_cuda_gemm_run(ifs_cuda_gemm *g, ifs_dtype dt, void *y, const void *x,
                                 const void *w, const void *bias, int64_t rows, int n, int k,
                                 int relu, cudaStream_t stream, char *err, size_t errlen)
{
    if (rows <= 0)
        return IFS_BK_OK;
    if (n <= 0 || k <= 0 || rows > INT32_MAX) {
        snprintf(err, errlen, "GEMM shape out of range: rows=%lld n=%d k=%d", (long long)rows, n,
                 k);
        return IFS_BK_EARG;
    }
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (bias)
        epi = relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    else if (relu)
        epi = CUBLASLT_EPILOGUE_RELU;
    gemm_plan *p = NULL;
    int rc = plan_get(g, dt, rows, n, k, epi, &p, err, errlen);
    if (rc)
        return rc;
    cublasStatus_t st;
    if (bias) {
        /* the plan is shared by every layer of this shape: the bias is per call */
        st = cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                            sizeof bias);
        if (st != CUBLAS_STATUS_SUCCESS) {
            snprintf(err, errlen,
                     "setting the bias pointer failed (%s) for GEMM rows=%lld n=%d "
                     "k=%d",
                     cublasLtGetStatusString(st), (long long)rows, n, k);
            return lt_status(st);
        }
    }
    const float alpha = 1.0f, beta = 0.0f;
    st = cublasLtMatmul(g->lt, p->op, &alpha, w, p->a, x, p->b, &beta, y, p->d, y, p->d, &p->algo,
                        g->workspace, g->workspace_bytes, stream);
    if (st != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errlen, "cublasLtMatmul failed (%s) for GEMM rows=%lld n=%d k=%d",
                 cublasLtGetStatusString(st), (long long)rows, n, k);
        return lt_status(st);
    }
    return IFS_BK_OK;
}

/* --- the dense GEMM ceiling -------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

#define PEAK_TRY(call)                                                                             \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            snprintf(err, errlen, "gemm peak: %s: %s", #call, cudaGetErrorString(e_));             \
            rc = e_ == cudaErrorMemoryAllocation ? IFS_BK_ENOMEM : IFS_BK_EDEVICE;                 \
            (void)cudaGetLastError();                                                              \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

extern "C" int ifs_cuda_gemm_peak(int device, ifs_dtype dt, int m, int n, int k, int repeats,
                                  double *tflops, char *err, size_t errlen)
{
    int rc = IFS_BK_OK;
    ifs_cuda_gemm *g = NULL;
    void *a = NULL, *w = NULL, *y = NULL;
    cudaStream_t st = NULL;
    cudaEvent_t *ev = NULL;
    float *ms = NULL;
    *tflops = 0.0;
    const size_t es = ifs_cuda_dtype_size(dt);
    PEAK_TRY(cudaSetDevice(device));
    PEAK_TRY(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    if ((rc = ifs_cuda_gemm_create(&g, 32u << 20, err, errlen)))
        goto done;
    PEAK_TRY(cudaMalloc(&a, es * (size_t)m * k));
    PEAK_TRY(cudaMalloc(&w, es * (size_t)n * k));
    PEAK_TRY(cudaMalloc(&y, es * (size_t)m * n));
    /* random operands, never zero: zeros run faster and draw less power */
    PEAK_TRY(ifs_cuda_fill_random(dt, a, (int64_t)m * k, 0x5eed0001u, st));
    PEAK_TRY(ifs_cuda_fill_random(dt, w, (int64_t)n * k, 0x5eed0002u, st));
    ev = (cudaEvent_t *)calloc((size_t)repeats + 1, sizeof *ev);
    ms = (float *)calloc((size_t)repeats, sizeof *ms);
    if (!ev || !ms) {
        snprintf(err, errlen, "gemm peak: out of host memory");
        rc = IFS_BK_ENOMEM;
        goto done;
    }
    for (int i = 0; i <= repeats; i++)
        PEAK_TRY(cudaEventCreate(&ev[i]));
    for (int i = 0; i < 3; i++) /* warm-up: plan, clocks */
        if ((rc = ifs_cuda_gemm_run(g, dt, y, a, w, NULL, m, n, k, 0, st, err, errlen)))
            goto done;
    PEAK_TRY(cudaEventRecord(ev[0], st));
    for (int i = 0; i < repeats; i++) {
        if ((rc = ifs_cuda_gemm_run(g, dt, y, a, w, NULL, m, n, k, 0, st, err, errlen)))
            goto done;
        PEAK_TRY(cudaEventRecord(ev[i + 1], st));
    }
    PEAK_TRY(cudaEventSynchronize(ev[repeats]));
    for (int i = 0; i < repeats; i++)
        PEAK_TRY(cudaEventElapsedTime(&ms[i], ev[i], ev[i + 1]));
    qsort(ms, (size_t)repeats, sizeof *ms, cmp_float);
    {
        const double med =
            repeats % 2 ? ms[repeats / 2] : 0.5 * ((double)ms[repeats / 2 - 1] + ms[repeats / 2]);
        if (!(med > 0)) {
            snprintf(err, errlen, "gemm peak: a %dx%dx%d product timed at %g ms", m, n, k, med);
            rc = IFS_BK_EDEVICE;
            goto done;
        }
        *tflops = 2.0 * m * (double)n * k / (med * 1e-3) / 1e12;
    }
done:
    if (st)
        cudaStreamSynchronize(st);
    if (ev)
        for (int i = 0; i <= repeats; i++)
            if (ev[i])
                cudaEventDestroy(ev[i]);
    free(ev);
    free(ms);
    cudaFree(a);
    cudaFree(w);
    cudaFree(y);
    ifs_cuda_gemm_free(g);
    if (st)
        cudaStreamDestroy(st);
    return rc;
}
