/*
 * cuda_backend.cu - the "cuda" backend: create / forward / destroy, the
 * per-device weight cache, streams and staging buffers. The kernels it
 * calls are in attention.cu, layernorm.cu, activation.cu, pooler.cu and
 * gemm.cu (declared in ifs_cuda_ops.h).
 *
 * One forward pass, T packed tokens, H hidden, I intermediate:
 *
 *     x   = embed_layernorm(ids, positions, types)            [T, H]
 *     per layer:
 *       big = x Wqkv^T + bqkv          (cuBLASLt, BIAS epilogue) [T, 3H]
 *       ctx = attention(big)           (packed varlen)          [T, H]
 *       big = ctx Wao^T                                          [T, H]
 *       x   = LayerNorm(big + bao + x)                           [T, H]
 *       big = act(x Wi^T + bi)         (GELU kernel / RELU_BIAS) [T, I]
 *       ctx = big Wo^T                                           [T, H]
 *       x   = LayerNorm(ctx + bo + x)                            [T, H]
 *     (the last layer runs attention onward on the S [CLS] rows only)
 *     logits = classifier(tanh(pooler(x[CLS])))  (fp32)        [S, labels]
 *
 * Three activation buffers (x, ctx, big = T * max(3H, I)) are enough: each
 * step above reads only buffers the previous steps still need.
 *
 * Decisions:
 *   - Weights are uploaded once per (device, weights, dtype) and shared by
 *     every handle on that device through a refcounted cache under a mutex,
 *     so the scheduler can run two handles per GPU (two streams, two
 *     batches in flight) for one copy of the weights. Linear weights and
 *     embeddings are converted to the compute dtype on the device at load;
 *     LayerNorm, pooler and classifier parameters stay fp32.
 *   - Each handle owns its stream (non-blocking), its cuBLASLt context and
 *     workspace, its activations, and pinned staging buffers for the batch
 *     (ids, positions, types, offsets) and the results; copies are
 *     asynchronous on the handle's stream. forward() returns when its
 *     logits are on the host, so overlap comes from several handles in
 *     several threads, which is the scheduler's design.
 *   - Out of device memory at create: the token budget is halved (never
 *     below one sequence of max_position tokens) until the activations fit;
 *     the backend's opts then hold the lowered budget, and a note saying so
 *     is left in the handle's error string (ifs_backend_error) after a
 *     successful create.
 *   - Non-finite logits are returned as they are, with IFS_BK_OK, as the
 *     CPU backend does: a NaN stays inside its own sequence (attention never
 *     mixes sequences), so the caller finds each affected record with
 *     isfinite() and rejects it by name (the scheduler's nonfinite_logits)
 *     without re-running the batch. ifs_backend_error() then says which
 *     batch index was the first affected and how many there were.
 *   - Every CUDA and cuBLAS call is checked; the library never prints or
 *     exits. cudaErrorMemoryAllocation maps to IFS_BK_ENOMEM, anything else
 *     to IFS_BK_EDEVICE (an illegal address poisons the context).
 *   - No call returns with work of its own still queued on the handle's
 *     stream, errors included: the next call rewrites the pinned staging
 *     buffers, which a copy still in flight would be reading.
 *   - Per-stage timing (ifs_cuda_backend_profile, for benchmarks): a CUDA
 *     event after each stage of a forward call, read after the call's own
 *     synchronisation, so it adds no synchronisation of its own.
 */
/* backend_impl.h has no extern "C" guard of its own. */
extern "C" {
#include "backend_impl.h"
}
#include "cuda_common.cuh"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t GEMM_WORKSPACE = 32u << 20;

/* --- errors ---------------------------------------------------------------- */

static int cu_status(cudaError_t e, const char *what, const char *file, int line, char *err,
                     size_t errlen)
{
    if (e == cudaSuccess)
        return IFS_BK_OK;
    snprintf(err, errlen, "%s: %s (%s) at %s:%d", what, cudaGetErrorName(e), cudaGetErrorString(e),
             file, line);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError(); /* not sticky: clear it so a retry can succeed */
        return IFS_BK_ENOMEM;
    }
    return IFS_BK_EDEVICE;
}

#define CU_CHECK(call) cu_status((call), #call, __FILE__, __LINE__, err, errlen)

static void setmsg(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* --- weight cache ------------------------------------------------------------ */

typedef struct {
    void *qkv_w, *qkv_b; /* [3H][H], [3H] elements: q, k, v rows stacked */
    void *ao_w, *ao_b;   /* [H][H], [H] */
    void *i_w, *i_b;     /* [I][H], [I] */
    void *o_w, *o_b;     /* [H][I], [H] */
    float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
} dev_layer;

typedef struct wcache {
    struct wcache *next;
    int device;
    const ifs_bert_weights *w;
    ifs_dtype dt;
    int refs;
    void *word, *pos, *type; /* elements */
    float *eln_g, *eln_b;
    dev_layer *layers; /* host array [n_layers] of device pointers */
    float *pool_w, *pool_b, *cls_w, *cls_b;
    void **allocs; /* every device allocation, for freeing */
    int n_allocs, cap_allocs;
    size_t bytes;
} wcache;

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static wcache *g_cache;

static void wcache_destroy(wcache *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_allocs; i++)
        cudaFree(c->allocs[i]);
    free(c->allocs);
    free(c->layers);
    free(c);
}

typedef struct {
    wcache *c;
    float *stage; /* device fp32 staging for conversion, NULL for fp32 */
    cudaStream_t stream;
    char *err;
    size_t errlen;
} uploader;

static int up_alloc(uploader *u, size_t bytes, void **out)
{
    char *err = u->err;
    size_t errlen = u->errlen;
    *out = NULL;
    if (u->c->n_allocs == u->c->cap_allocs) {
        int cap = u->c->cap_allocs ? 2 * u->c->cap_allocs : 64;
        void **a = (void **)realloc(u->c->allocs, sizeof(void *) * cap);
        if (!a) {
            setmsg(err, errlen, "out of host memory");
            return IFS_BK_ENOMEM;
        }
        u->c->allocs = a;
        u->c->cap_allocs = cap;
    }
    int rc = CU_CHECK(cudaMalloc(out, bytes));
    if (rc)
        return rc;
    u->c->allocs[u->c->n_allocs++] = *out;
    u->c->bytes += bytes;
    return IFS_BK_OK;
}

/* Copies n fp32 values from host src to dst (device, elements of `to`). */
static int up_into(uploader *u, ifs_dtype to, void *dst, const float *src, int64_t n)
{
    char *err = u->err;
    size_t errlen = u->errlen;
    int rc;
    if (to == IFS_DT_F32)
        return CU_CHECK(
            cudaMemcpyAsync(dst, src, sizeof(float) * n, cudaMemcpyHostToDevice, u->stream));
    /* Stream order makes reusing the stage safe: the next copy into it waits
     * for this conversion. */
    if ((rc = CU_CHECK(
             cudaMemcpyAsync(u->stage, src, sizeof(float) * n, cudaMemcpyHostToDevice, u->stream))))
        return rc;
    return CU_CHECK(ifs_cuda_from_f32(to, dst, u->stage, n, u->stream));
}

static int up_tensor(uploader *u, ifs_dtype to, const float *src, int64_t n, void **out)
{
    int rc = up_alloc(u, ifs_cuda_dtype_size(to) * n, out);
    return rc ? rc : up_into(u, to, *out, src, n);
}

static int up_f32(uploader *u, const float *src, int64_t n, float **out)
{
    return up_tensor(u, IFS_DT_F32, src, n, (void **)out);
}

/* Stacks three [n]-element tensors into one [3n] allocation. */
static int up_stack3(uploader *u, ifs_dtype to, const float *a, const float *b, const float *c,
                     int64_t n, void **out)
{
    int rc = up_alloc(u, ifs_cuda_dtype_size(to) * 3 * n, out);
    char *base = (char *)*out;
    const size_t step = ifs_cuda_dtype_size(to) * n;
    if (!rc)
        rc = up_into(u, to, base, a, n);
    if (!rc)
        rc = up_into(u, to, base + step, b, n);
    if (!rc)
        rc = up_into(u, to, base + 2 * step, c, n);
    return rc;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Uploads every tensor of w for dtype dt on the current device. */
static int wcache_upload(wcache *c, cudaStream_t stream, char *err, size_t errlen)
{
    const ifs_bert_weights *w = c->w;
    const ifs_bert_config *cfg = &w->cfg;
    const int64_t H = cfg->hidden, I = cfg->intermediate;
    const ifs_dtype dt = c->dt;
    uploader u = {c, NULL, stream, err, errlen};
    int rc = IFS_BK_OK;

    c->layers = (dev_layer *)calloc((size_t)cfg->n_layers, sizeof(dev_layer));
    if (!c->layers) {
        setmsg(err, errlen, "out of host memory");
        return IFS_BK_ENOMEM;
    }
    int64_t most = max64((int64_t)cfg->vocab_size * H, (int64_t)cfg->max_position * H);
    most = max64(most, (int64_t)cfg->type_vocab * H);
    most = max64(most, I * H); /* the largest tensor converted in one piece */
    if (dt != IFS_DT_F32) {
        void *stage;
        if ((rc = up_alloc(&u, sizeof(float) * most, &stage)))
            return rc;
        u.stage = (float *)stage;
    }
    if ((rc = up_tensor(&u, dt, w->word_emb, (int64_t)cfg->vocab_size * H, &c->word)) ||
        (rc = up_tensor(&u, dt, w->pos_emb, (int64_t)cfg->max_position * H, &c->pos)) ||
        (rc = up_tensor(&u, dt, w->type_emb, (int64_t)cfg->type_vocab * H, &c->type)) ||
        (rc = up_f32(&u, w->emb_ln_g, H, &c->eln_g)) ||
        (rc = up_f32(&u, w->emb_ln_b, H, &c->eln_b)))
        return rc;
    for (int l = 0; l < cfg->n_layers; l++) {
        const ifs_bert_layer *s = &w->layers[l];
        dev_layer *d = &c->layers[l];
        if ((rc = up_stack3(&u, dt, s->q_w, s->k_w, s->v_w, H * H, &d->qkv_w)) ||
            (rc = up_stack3(&u, dt, s->q_b, s->k_b, s->v_b, H, &d->qkv_b)) ||
            (rc = up_tensor(&u, dt, s->ao_w, H * H, &d->ao_w)) ||
            (rc = up_tensor(&u, dt, s->ao_b, H, &d->ao_b)) ||
            (rc = up_tensor(&u, dt, s->i_w, I * H, &d->i_w)) ||
            (rc = up_tensor(&u, dt, s->i_b, I, &d->i_b)) ||
            (rc = up_tensor(&u, dt, s->o_w, H * I, &d->o_w)) ||
            (rc = up_tensor(&u, dt, s->o_b, H, &d->o_b)) ||
            (rc = up_f32(&u, s->ln1_g, H, &d->ln1_g)) ||
            (rc = up_f32(&u, s->ln1_b, H, &d->ln1_b)) ||
            (rc = up_f32(&u, s->ln2_g, H, &d->ln2_g)) || (rc = up_f32(&u, s->ln2_b, H, &d->ln2_b)))
            return rc;
    }
    if ((rc = up_f32(&u, w->pool_w, H * H, &c->pool_w)) ||
        (rc = up_f32(&u, w->pool_b, H, &c->pool_b)) ||
        (rc = up_f32(&u, w->cls_w, (int64_t)cfg->num_labels * H, &c->cls_w)) ||
        (rc = up_f32(&u, w->cls_b, cfg->num_labels, &c->cls_b)))
        return rc;
    if ((rc = CU_CHECK(cudaStreamSynchronize(stream))))
        return rc;
    if (u.stage) { /* the stage is only needed while loading: drop it from the list */
        for (int i = 0; i < c->n_allocs; i++) {
            if (c->allocs[i] == (void *)u.stage) {
                c->allocs[i] = c->allocs[--c->n_allocs];
                break;
            }
        }
        cudaFree(u.stage);
        c->bytes -= sizeof(float) * (size_t)most;
    }
    return IFS_BK_OK;
}

/* Returns the cache entry for (device, w, dt), uploading it on first use.
 * The caller has set the device. */
static int wcache_acquire(int device, const ifs_bert_weights *w, ifs_dtype dt, cudaStream_t stream,
                          wcache **out, char *err, size_t errlen)
{
    *out = NULL;
    pthread_mutex_lock(&g_cache_lock);
    for (wcache *c = g_cache; c; c = c->next) {
        if (c->device == device && c->w == w && c->dt == dt) {
            c->refs++;
            *out = c;
            pthread_mutex_unlock(&g_cache_lock);
            return IFS_BK_OK;
        }
    }
    /* Uploading under the lock: a second handle for the same weights waits
     * for this copy instead of making its own. */
    wcache *c = (wcache *)calloc(1, sizeof *c);
    int rc = IFS_BK_ENOMEM;
    if (!c) {
        setmsg(err, errlen, "out of host memory");
    } else {
        c->device = device;
        c->w = w;
        c->dt = dt;
        c->refs = 1;
        rc = wcache_upload(c, stream, err, errlen);
        if (rc) {
            cudaStreamSynchronize(stream); /* nothing may still write into c's buffers */
            wcache_destroy(c);
            c = NULL;
        } else {
            c->next = g_cache;
            g_cache = c;
            *out = c;
        }
    }
    pthread_mutex_unlock(&g_cache_lock);
    return rc;
}

static void wcache_release(wcache *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g_cache_lock);
    if (--c->refs == 0) {
        for (wcache **p = &g_cache; *p; p = &(*p)->next) {
            if (*p == c) {
                *p = c->next;
                break;
            }
        }
        wcache_destroy(c);
    }
    pthread_mutex_unlock(&g_cache_lock);
}

/* --- the backend --------------------------------------------------------------- */

typedef struct {
    ifs_backend base; /* first: the dispatcher frees through it */
    int device;
    ifs_dtype dt;
    size_t esz;
    wcache *wc;
    cudaStream_t stream;
    ifs_cuda_gemm *gemm;
    int32_t max_tokens, max_seqs;
    void *x, *ctx, *big; /* device activations, elements */
    int32_t *d_ints; /* device: ids | types | positions [max_tokens each] | seq_off [max_seqs+1] */
    float *d_out;    /* device: logits [max_seqs * labels] | cls [max_seqs * hidden] */
    int32_t *h_ints; /* pinned mirrors of the two above */
    float *h_out;
    /* per-stage timing, off unless ifs_cuda_backend_profile enabled it */
    int prof;
    int prof_cap, n_ev; /* events created / recorded in this call */
    cudaEvent_t *ev;    /* [prof_cap]; ev[0] marks the start of a call */
    int *ev_stage;      /* [prof_cap]: the stage that ends at ev[i] */
    ifs_cuda_stage_times times;
} cuda_backend;

static int cuda_forward(ifs_backend *bb, const ifs_batch *batch, float *logits, float *cls_hidden);
static void cuda_destroy(ifs_backend *bb);
static int cuda_encode(ifs_backend *bb, const ifs_batch *batch, int n_layers, float *hidden);

static const ifs_backend_vt cuda_vt = {"cuda", cuda_forward, cuda_destroy, cuda_encode};
static int prof_collect(cuda_backend *b);

static void free_buffers(cuda_backend *b)
{
    if (b->x)
        cudaFree(b->x);
    if (b->ctx)
        cudaFree(b->ctx);
    if (b->big)
        cudaFree(b->big);
    if (b->d_ints)
        cudaFree(b->d_ints);
    if (b->d_out)
        cudaFree(b->d_out);
    if (b->h_ints)
        cudaFreeHost(b->h_ints);
    if (b->h_out)
        cudaFreeHost(b->h_out);
    b->x = b->ctx = b->big = NULL;
    b->d_ints = NULL;
    b->d_out = NULL;
    b->h_ints = NULL;
    b->h_out = NULL;
}

/* Allocates the activations and staging for (tokens, seqs). */
static int alloc_buffers(cuda_backend *b, int32_t tokens, int32_t seqs, char *err, size_t errlen)
{
    const ifs_bert_config *c = &b->base.w->cfg;
    const size_t T = (size_t)tokens, H = (size_t)c->hidden, I = (size_t)c->intermediate;
    const size_t wide = 3 * H > I ? 3 * H : I;
    const size_t n_ints = 3 * T + (size_t)seqs + 1;
    const size_t n_out = (size_t)seqs * ((size_t)c->num_labels + H);
    int rc;
    if ((rc = CU_CHECK(cudaMalloc(&b->x, b->esz * T * H))) ||
        (rc = CU_CHECK(cudaMalloc(&b->ctx, b->esz * T * H))) ||
        (rc = CU_CHECK(cudaMalloc(&b->big, b->esz * T * wide))) ||
        (rc = CU_CHECK(cudaMalloc(&b->d_ints, sizeof(int32_t) * n_ints))) ||
        (rc = CU_CHECK(cudaMalloc(&b->d_out, sizeof(float) * n_out))) ||
        (rc =
             CU_CHECK(cudaHostAlloc(&b->h_ints, sizeof(int32_t) * n_ints, cudaHostAllocDefault))) ||
        (rc = CU_CHECK(cudaHostAlloc(&b->h_out, sizeof(float) * n_out, cudaHostAllocDefault)))) {
        free_buffers(b);
        return rc;
    }
    b->max_tokens = tokens;
    b->max_seqs = seqs;
    return IFS_BK_OK;
}

extern "C" int ifs_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

/* Shapes the kernels support; anything else is refused at create. */
static int check_config(const ifs_bert_config *c, char *err, size_t errlen)
{
    if (c->n_heads <= 0 || c->hidden % c->n_heads != 0) {
        setmsg(err, errlen, "hidden %d is not a multiple of %d heads", c->hidden, c->n_heads);
        return IFS_BK_EUNSUP;
    }
    if (c->hidden / c->n_heads > IFS_CUDA_MAX_HEAD_DIM) {
        setmsg(err, errlen, "head dim %d: the cuda backend supports at most %d",
               c->hidden / c->n_heads, IFS_CUDA_MAX_HEAD_DIM);
        return IFS_BK_EUNSUP;
    }
    if (2 * c->hidden > IFS_CUDA_MAX_ROW) {
        setmsg(err, errlen, "hidden %d: the cuda backend supports at most %d", c->hidden,
               IFS_CUDA_MAX_ROW / 2);
        return IFS_BK_EUNSUP;
    }
    if (c->n_heads > 65535 || c->num_labels <= 0 || c->intermediate <= 0) {
        setmsg(err, errlen, "unsupported config: %d heads, %d labels, intermediate %d", c->n_heads,
               c->num_labels, c->intermediate);
        return IFS_BK_EUNSUP;
    }
    return IFS_BK_OK;
}

extern "C" int ifs_cuda_backend_create(const ifs_bert_weights *w, const ifs_backend_opts *opts,
                                       ifs_backend **out, char *err, size_t errlen)
{
    char scratch[8];
    if (!err || !errlen) { /* the caller may not want words: keep ours off NULL */
        err = scratch;
        errlen = sizeof scratch;
    }
    *out = NULL;
    const ifs_bert_config *cfg = &w->cfg;
    int rc = check_config(cfg, err, errlen);
    if (rc)
        return rc;
    if (opts->dtype != IFS_DT_F32 && opts->dtype != IFS_DT_F16 && opts->dtype != IFS_DT_BF16) {
        setmsg(err, errlen, "unknown compute dtype %d", (int)opts->dtype);
        return IFS_BK_EUNSUP;
    }
    const int n_dev = ifs_cuda_device_count();
    if (n_dev <= 0) {
        setmsg(err, errlen,
               "no CUDA device is visible (check the driver and "
               "CUDA_VISIBLE_DEVICES)");
        return IFS_BK_EUNSUP;
    }
    if (opts->device < 0 || opts->device >= n_dev) {
        setmsg(err, errlen, "CUDA device %d does not exist (%d visible)", opts->device, n_dev);
        return IFS_BK_EARG;
    }
    if ((rc = CU_CHECK(cudaSetDevice(opts->device))))
        return rc;
    cudaDeviceProp prop;
    if ((rc = CU_CHECK(cudaGetDeviceProperties(&prop, opts->device))))
        return rc;
    if (prop.major < 8) {
        setmsg(err, errlen,
               "CUDA device %d (%s) has compute capability %d.%d; the cuda "
               "backend needs 8.0 or newer (bf16 tensor cores)",
               opts->device, prop.name, prop.major, prop.minor);
        return IFS_BK_EUNSUP;
    }

    cuda_backend *b = (cuda_backend *)calloc(1, sizeof *b);
    if (!b) {
        setmsg(err, errlen, "out of host memory");
        return IFS_BK_ENOMEM;
    }
    b->base.vt = &cuda_vt;
    b->base.w = w;
    b->base.opts = *opts;
    b->device = opts->device;
    b->dt = opts->dtype;
    b->esz = ifs_cuda_dtype_size(opts->dtype);

    if ((rc = CU_CHECK(cudaStreamCreateWithFlags(&b->stream, cudaStreamNonBlocking))))
        goto fail;
    if ((rc = wcache_acquire(b->device, w, b->dt, b->stream, &b->wc, err, errlen)))
        goto fail;
    if ((rc = ifs_cuda_gemm_create(&b->gemm, GEMM_WORKSPACE, err, errlen)))
        goto fail;

    {
        /* Activations for the requested budget; halve it while the device
         * says no, down to one longest sequence. */
        int32_t tokens = opts->max_batch_tokens;
        int32_t floor_tokens = cfg->max_position < tokens ? cfg->max_position : tokens;
        for (;;) {
            int32_t seqs = opts->max_batch_seqs < tokens ? opts->max_batch_seqs : tokens;
            if (seqs > 65535)
                seqs = 65535; /* grid.z of the attention kernels */
            rc = alloc_buffers(b, tokens, seqs, err, errlen);
            if (rc != IFS_BK_ENOMEM || tokens <= floor_tokens)
                break;
            tokens = tokens / 2 > floor_tokens ? tokens / 2 : floor_tokens;
        }
        if (rc)
            goto fail;
        b->base.opts.max_batch_tokens = b->max_tokens;
        b->base.opts.max_batch_seqs = b->max_seqs;
        b->base.err[0] = '\0';
        if (b->max_tokens != opts->max_batch_tokens || b->max_seqs != opts->max_batch_seqs)
            setmsg(b->base.err, sizeof b->base.err,
                   "note: cuda device %d: batch budget lowered from %d tokens / %d seqs to "
                   "%d tokens / %d seqs (device memory; see opts.max_batch_tokens)",
                   b->device, opts->max_batch_tokens, opts->max_batch_seqs, b->max_tokens,
                   b->max_seqs);
    }
    *out = &b->base;
    return IFS_BK_OK;

fail:
    cuda_destroy(&b->base);
    free(b);
    return rc;
}

static void prof_free(cuda_backend *b)
{
    for (int i = 0; i < b->prof_cap; i++)
        if (b->ev[i])
            cudaEventDestroy(b->ev[i]);
    free(b->ev);
    free(b->ev_stage);
    b->ev = NULL;
    b->ev_stage = NULL;
    b->prof_cap = b->n_ev = 0;
    b->prof = 0;
}

static void cuda_destroy(ifs_backend *bb)
{
    cuda_backend *b = (cuda_backend *)bb;
    cudaSetDevice(b->device);
    if (b->stream)
        cudaStreamSynchronize(b->stream);
    prof_free(b);
    free_buffers(b);
    ifs_cuda_gemm_free(b->gemm);
    b->gemm = NULL;
    wcache_release(b->wc);
    b->wc = NULL;
    if (b->stream)
        cudaStreamDestroy(b->stream);
    b->stream = NULL;
}

/* Profiling: records the event that ends `stage` (no-op when off). */
static int mark(cuda_backend *b, int stage)
{
    if (!b->prof || b->n_ev >= b->prof_cap)
        return IFS_BK_OK;
    char *err = b->base.err;
    const size_t errlen = sizeof b->base.err;
    b->ev_stage[b->n_ev] = stage;
    return CU_CHECK(cudaEventRecord(b->ev[b->n_ev++], b->stream));
}

/* big[0:rows] = act(in Wi^T + bi): the relu epilogue, or our GELU kernel.
 * marks: record the two stages' events (not inside the last layer). */
static int feed_forward(cuda_backend *b, const dev_layer *L, void *big, const void *in,
                        int32_t rows, int marks)
{
    char *err = b->base.err;
    const size_t errlen = sizeof b->base.err;
    const ifs_bert_config *c = &b->base.w->cfg;
    const int H = c->hidden, I = c->intermediate;
    int rc;
    if (c->act == IFS_ACT_RELU) {
        rc = ifs_cuda_gemm_run(b->gemm, b->dt, big, in, L->i_w, L->i_b, rows, I, H, 1, b->stream,
                               err, errlen);
        return rc || !marks ? rc : mark(b, IFS_CUDA_ST_FFN_IN_GEMM);
    }
    if ((rc = ifs_cuda_gemm_run(b->gemm, b->dt, big, in, L->i_w, NULL, rows, I, H, 0, b->stream,
                                err, errlen)) ||
        (marks && (rc = mark(b, IFS_CUDA_ST_FFN_IN_GEMM))) ||
        (rc = CU_CHECK(ifs_cuda_bias_act(b->dt, big, L->i_b, rows, I, (int)c->act, b->stream))))
        return rc;
    return marks ? mark(b, IFS_CUDA_ST_BIAS_ACT) : IFS_BK_OK;
}

/* The last layer for the [CLS] rows only (the pooler reads nothing else),
 * as the CPU backend does: K and V of every row are in big already; the
 * rest runs on S rows. Buffers, rows [0, S) each:
 *   ctx = attention of each [CLS] query      big = the [CLS] rows of x
 *   x   = ctx Wao^T                          ctx = LN(x + bao + big)
 *   big = act(ctx Wi^T + bi)                 x   = big Wo^T
 *   ctx = LN(x + bo + ctx)   -> the final [CLS] hidden states, packed. */
static int run_last_layer(cuda_backend *b, const dev_layer *L, int32_t S, const int32_t *d_off)
{
    char *err = b->base.err;
    const size_t errlen = sizeof b->base.err;
    const ifs_bert_config *c = &b->base.w->cfg;
    const int H = c->hidden, I = c->intermediate;
    const ifs_dtype dt = b->dt;
    cudaStream_t st = b->stream;
    int rc;
    if ((rc = CU_CHECK(ifs_cuda_attention_cls(dt, b->ctx, b->big, d_off, S, H, c->n_heads, st))) ||
        (rc = CU_CHECK(ifs_cuda_gather_cls_rows(dt, b->big, b->x, d_off, S, H, st))) ||
        (rc = ifs_cuda_gemm_run(b->gemm, dt, b->x, b->ctx, L->ao_w, NULL, S, H, H, 0, st, err,
                                errlen)) ||
        (rc = CU_CHECK(ifs_cuda_add_bias_residual_layernorm(
             dt, b->ctx, b->x, L->ao_b, b->big, L->ln1_g, L->ln1_b, S, H, c->ln_eps, st))) ||
        (rc = feed_forward(b, L, b->big, b->ctx, S, 0)) ||
        (rc = ifs_cuda_gemm_run(b->gemm, dt, b->x, b->big, L->o_w, NULL, S, H, I, 0, st, err,
                                errlen)) ||
        (rc = CU_CHECK(ifs_cuda_add_bias_residual_layernorm(
             dt, b->ctx, b->x, L->o_b, b->ctx, L->ln2_g, L->ln2_b, S, H, c->ln_eps, st))))
        return rc;
    return IFS_BK_OK;
}

/* Runs the encoder, pooler and classifier for a validated batch whose ids,
 * types, positions and offsets are already on the device. encode >= 0: the
 * embeddings and the first `encode` layers only, every row (no [CLS]-only
 * last layer), leaving their output in b->x (ifs_backend_encode). */
static int run_model(cuda_backend *b, int32_t T, int32_t S, int32_t max_len, int has_types,
                     int encode)
{
    char *err = b->base.err;
    const size_t errlen = sizeof b->base.err;
    const ifs_bert_config *c = &b->base.w->cfg;
    const wcache *wc = b->wc;
    const int H = c->hidden, I = c->intermediate;
    const ifs_dtype dt = b->dt;
    cudaStream_t st = b->stream;
    const int32_t *d_ids = b->d_ints;
    const int32_t *d_types = has_types ? b->d_ints + b->max_tokens : NULL;
    const int32_t *d_pos = b->d_ints + 2 * (size_t)b->max_tokens;
    const int32_t *d_off = b->d_ints + 3 * (size_t)b->max_tokens;
    int rc;

    if ((rc = CU_CHECK(ifs_cuda_embed_layernorm(dt, b->x, d_ids, d_types, d_pos, T, wc->word,
                                                wc->pos, wc->type, wc->eln_g, wc->eln_b, H,
                                                c->ln_eps, st))) ||
        (rc = mark(b, IFS_CUDA_ST_EMBED_LN)))
        return rc;
    const void *final_rows = b->x; /* where the last hidden states end up */
    const int32_t *final_off = d_off;
    const int n_run = encode >= 0 ? encode : c->n_layers;
    for (int l = 0; l < n_run; l++) {
        const dev_layer *L = &wc->layers[l];
        if ((rc = ifs_cuda_gemm_run(b->gemm, dt, b->big, b->x, L->qkv_w, L->qkv_b, T, 3 * H, H, 0,
                                    st, err, errlen)) ||
            (rc = mark(b, IFS_CUDA_ST_QKV_GEMM)))
            return rc;
        if (encode < 0 && l == c->n_layers - 1) { /* the [CLS] rows only: see run_last_layer */
            if ((rc = run_last_layer(b, L, S, d_off)) || (rc = mark(b, IFS_CUDA_ST_LAST_LAYER)))
                return rc;
            final_rows = b->ctx;
            final_off = NULL;
            break;
        }
        if ((rc = CU_CHECK(ifs_cuda_attention(dt, b->ctx, b->big, d_off, S, max_len, H, c->n_heads,
                                              0, st))) ||
            (rc = mark(b, IFS_CUDA_ST_ATTENTION)))
            return rc;
        if ((rc = ifs_cuda_gemm_run(b->gemm, dt, b->big, b->ctx, L->ao_w, NULL, T, H, H, 0, st, err,
                                    errlen)) ||
            (rc = mark(b, IFS_CUDA_ST_AO_GEMM)))
            return rc;
        if ((rc = CU_CHECK(ifs_cuda_add_bias_residual_layernorm(
                 dt, b->x, b->big, L->ao_b, b->x, L->ln1_g, L->ln1_b, T, H, c->ln_eps, st))) ||
            (rc = mark(b, IFS_CUDA_ST_LN1)))
            return rc;
        if ((rc = feed_forward(b, L, b->big, b->x, T, 1)) ||
            (rc = ifs_cuda_gemm_run(b->gemm, dt, b->ctx, b->big, L->o_w, NULL, T, H, I, 0, st, err,
                                    errlen)) ||
            (rc = mark(b, IFS_CUDA_ST_FFN_OUT_GEMM)))
            return rc;
        if ((rc = CU_CHECK(ifs_cuda_add_bias_residual_layernorm(
                 dt, b->x, b->ctx, L->o_b, b->x, L->ln2_g, L->ln2_b, T, H, c->ln_eps, st))) ||
            (rc = mark(b, IFS_CUDA_ST_LN2)))
            return rc;
    }
    if (encode >= 0)
        return IFS_BK_OK;
    float *d_logits = b->d_out;
    float *d_cls = b->d_out + (size_t)b->max_seqs * c->num_labels;
    if ((rc = CU_CHECK(ifs_cuda_pooler_classifier(dt, d_logits, d_cls, final_rows, final_off, S, H,
                                                  wc->pool_w, wc->pool_b, wc->cls_w, wc->cls_b,
                                                  c->num_labels, st))))
        return rc;
    return mark(b, IFS_CUDA_ST_POOLER);
}

/* Stages the batch in pinned memory (ids | types | positions | offsets) and
 * queues its copy to the device. The previous call synchronised, so the
 * staging buffers are free; and when a copy cannot be queued, this one
 * waits for the copies it did queue before returning, so that the next
 * call does not rewrite pinned memory a DMA is still reading. */
static int stage_batch(cuda_backend *b, const ifs_batch *batch, int32_t *max_len_out)
{
    char *err = b->base.err;
    const size_t errlen = sizeof b->base.err;
    const int32_t T = batch->n_tokens, S = batch->n_seqs;
    int rc;
    if ((rc = CU_CHECK(cudaSetDevice(b->device))))
        return rc;
    int32_t *h_ids = b->h_ints, *h_types = h_ids + b->max_tokens;
    int32_t *h_pos = h_types + b->max_tokens, *h_off = h_pos + b->max_tokens;
    const int has_types = batch->type_ids != NULL;
    int32_t max_len = 0;
    memcpy(h_ids, batch->input_ids, sizeof(int32_t) * T);
    if (has_types)
        memcpy(h_types, batch->type_ids, sizeof(int32_t) * T);
    for (int32_t s = 0; s < S; s++) {
        const int32_t a = batch->seq_off[s], len = batch->seq_off[s + 1] - a;
        for (int32_t p = 0; p < len; p++)
            h_pos[a + p] = p;
        if (len > max_len)
            max_len = len;
    }
    memcpy(h_off, batch->seq_off, sizeof(int32_t) * (S + 1));
    int32_t *d_ids = b->d_ints, *d_types = d_ids + b->max_tokens;
    int32_t *d_pos = d_types + b->max_tokens, *d_off = d_pos + b->max_tokens;
    if ((rc = CU_CHECK(cudaMemcpyAsync(d_ids, h_ids, sizeof(int32_t) * T, cudaMemcpyHostToDevice,
                                       b->stream))) ||
        (has_types && (rc = CU_CHECK(cudaMemcpyAsync(d_types, h_types, sizeof(int32_t) * T,
                                                     cudaMemcpyHostToDevice, b->stream)))) ||
        (rc = CU_CHECK(cudaMemcpyAsync(d_pos, h_pos, sizeof(int32_t) * T, cudaMemcpyHostToDevice,
                                       b->stream))) ||
        (rc = CU_CHECK(cudaMemcpyAsync(d_off, h_off, sizeof(int32_t) * (S + 1),
                                       cudaMemcpyHostToDevice, b->stream)))) {
        cudaStreamSynchronize(b->stream);
        return rc;
    }
    *max_len_out = max_len;
    return IFS_BK_OK;
}

/* Every row after n_layers layers, converted to fp32 on the device (into
 * `big`, which holds T * max(3H, I) elements of the compute dtype: at least
 * T * H floats) and copied to the caller. */
static int cuda_encode(ifs_backend *bb, const ifs_batch *batch, int n_layers, float *hidden)
{
    cuda_backend *b = (cuda_backend *)bb;
    char *err = b->base.err;
    const size_t errlen = sizeof b->base.err;
    const int32_t T = batch->n_tokens;
    const int64_t n = (int64_t)T * b->base.w->cfg.hidden;
    int32_t max_len;
    int rc;
    const int prof = b->prof; /* stage timing is for forward calls only */
    b->prof = 0;
    if ((rc = stage_batch(b, batch, &max_len)) ||
        (rc = run_model(b, T, batch->n_seqs, max_len, batch->type_ids != NULL, n_layers)) ||
        (rc = CU_CHECK(ifs_cuda_to_f32(b->dt, (float *)b->big, b->x, n, b->stream))) ||
        (rc = CU_CHECK(cudaMemcpyAsync(hidden, b->big, sizeof(float) * (size_t)n,
                                       cudaMemcpyDeviceToHost, b->stream))) ||
        (rc = CU_CHECK(cudaStreamSynchronize(b->stream)))) {
        cudaStreamSynchronize(b->stream);
        b->prof = prof;
        return rc;
    }
    b->prof = prof;
    return IFS_BK_OK;
}

static int cuda_forward(ifs_backend *bb, const ifs_batch *batch, float *logits, float *cls_hidden)
{
    cuda_backend *b = (cuda_backend *)bb;
    char *err = b->base.err;
    const size_t errlen = sizeof b->base.err;
    const ifs_bert_config *c = &b->base.w->cfg;
    const int32_t S = batch->n_seqs;
    const int L = c->num_labels, H = c->hidden;
    int32_t max_len;
    int rc;
    b->n_ev = 0;
    if ((rc = CU_CHECK(cudaSetDevice(b->device))) || (rc = mark(b, -1)))
        return rc;
    if ((rc = stage_batch(b, batch, &max_len)) || (rc = mark(b, IFS_CUDA_ST_H2D))) {
        cudaStreamSynchronize(b->stream);
        return rc;
    }

    rc = run_model(b, batch->n_tokens, S, max_len, batch->type_ids != NULL, -1);
    if (rc) {
        cudaStreamSynchronize(b->stream); /* leave nothing running on our buffers */
        return rc;
    }
    float *h_logits = b->h_out, *h_cls = b->h_out + (size_t)b->max_seqs * L;
    const float *d_logits = b->d_out, *d_cls = b->d_out + (size_t)b->max_seqs * L;
    if ((rc = CU_CHECK(cudaMemcpyAsync(h_logits, d_logits, sizeof(float) * S * L,
                                       cudaMemcpyDeviceToHost, b->stream))) ||
        (cls_hidden && (rc = CU_CHECK(cudaMemcpyAsync(h_cls, d_cls, sizeof(float) * S * H,
                                                      cudaMemcpyDeviceToHost, b->stream)))) ||
        (rc = mark(b, IFS_CUDA_ST_D2H)) || (rc = CU_CHECK(cudaStreamSynchronize(b->stream)))) {
        cudaStreamSynchronize(b->stream);
        return rc;
    }
    if (b->prof && (rc = prof_collect(b)))
        return rc;
    memcpy(logits, h_logits, sizeof(float) * S * L);
    if (cls_hidden)
        memcpy(cls_hidden, h_cls, sizeof(float) * S * H);

    int32_t first_bad = -1, n_bad = 0;
    for (int32_t s = 0; s < S; s++) {
        for (int j = 0; j < L; j++) {
            if (!isfinite(logits[(size_t)s * L + j])) {
                if (first_bad < 0)
                    first_bad = s;
                n_bad++;
                break;
            }
        }
    }
    err[0] = '\0';
    if (n_bad)
        setmsg(err, errlen,
               "non-finite logits (NaN or Inf) for sequence %d of the batch "
               "(tokens %d..%d) and %d more",
               first_bad, batch->seq_off[first_bad], batch->seq_off[first_bad + 1] - 1, n_bad - 1);
    return IFS_BK_OK;
}

/* --- per-stage timing ------------------------------------------------------------ */

/* Adds the recorded call's event intervals to their stages (after the
 * call's synchronisation: every event has completed). */
static int prof_collect(cuda_backend *b)
{
    char *err = b->base.err;
    const size_t errlen = sizeof b->base.err;
    int rc;
    for (int i = 1; i < b->n_ev; i++) {
        float ms = 0.0f;
        if ((rc = CU_CHECK(cudaEventElapsedTime(&ms, b->ev[i - 1], b->ev[i]))))
            return rc;
        const int st = b->ev_stage[i];
        if (st >= 0 && st < IFS_CUDA_N_STAGES)
            b->times.ms[st] += ms;
    }
    b->times.forwards++;
    b->n_ev = 0;
    return IFS_BK_OK;
}

extern "C" const char *ifs_cuda_stage_name(int stage)
{
    static const char *const names[IFS_CUDA_N_STAGES] = {
        "h2d",      "embed_ln",     "qkv_gemm", "attention",  "attn_out_gemm", "ln1", "ffn_in_gemm",
        "bias_act", "ffn_out_gemm", "ln2",      "last_layer", "pooler",        "d2h"};
    return stage >= 0 && stage < IFS_CUDA_N_STAGES ? names[stage] : "?";
}

extern "C" int ifs_cuda_backend_profile(ifs_backend *bb, int enable)
{
    if (!bb || strcmp(ifs_backend_kind(bb), "cuda") != 0)
        return IFS_BK_EARG;
    cuda_backend *b = (cuda_backend *)bb;
    char *err = b->base.err;
    const size_t errlen = sizeof b->base.err;
    int rc;
    memset(&b->times, 0, sizeof b->times);
    b->n_ev = 0;
    if (!enable) {
        prof_free(b);
        return IFS_BK_OK;
    }
    if (b->ev) {
        b->prof = 1;
        return IFS_BK_OK;
    }
    if ((rc = CU_CHECK(cudaSetDevice(b->device))))
        return rc;
    /* start, h2d, embeddings, 9 per layer, pooler, d2h, and room to spare */
    const int cap = 9 * b->base.w->cfg.n_layers + 8;
    b->ev = (cudaEvent_t *)calloc((size_t)cap, sizeof *b->ev);
    b->ev_stage = (int *)calloc((size_t)cap, sizeof *b->ev_stage);
    if (!b->ev || !b->ev_stage) {
        free(b->ev);
        free(b->ev_stage);
        b->ev = NULL;
        b->ev_stage = NULL;
        setmsg(err, errlen, "out of host memory");
        return IFS_BK_ENOMEM;
    }
    b->prof_cap = cap;
    for (int i = 0; i < cap; i++) {
        if ((rc = CU_CHECK(cudaEventCreate(&b->ev[i])))) {
            prof_free(b);
            return rc;
        }
    }
    b->prof = 1;
    return IFS_BK_OK;
}

extern "C" int ifs_cuda_backend_profile_read(const ifs_backend *bb, ifs_cuda_stage_times *out)
{
    if (!bb || !out || strcmp(ifs_backend_kind(bb), "cuda") != 0)
        return IFS_BK_EARG;
    *out = ((const cuda_backend *)bb)->times;
    return IFS_BK_OK;
}
