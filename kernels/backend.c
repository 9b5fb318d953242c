/*
 * backend.c - dispatch from a backend name to its implementation, the
 * batch checks every backend shares (so a malformed batch is refused the
 * same way whatever runs it), and the GEMM ceiling of each kind.
 */
#include "backend_impl.h"
#include "cpu_pool.h"
#ifdef IFS_HAVE_CUDA
#include "cuda/ifs_cuda_ops.h"
#endif

#include <cblas.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

ifs_backend_opts ifs_backend_default_opts(void)
{
    ifs_backend_opts o;
    memset(&o, 0, sizeof o);
    o.device = 0;
    o.n_threads = 0;
    o.dtype = IFS_DT_F32;
    o.max_batch_tokens = 8192;
    o.max_batch_seqs = 256;
    return o;
}

int ifs_backend_available(const char *kind)
{
    if (!kind)
        return 0;
    if (!strcmp(kind, "cpu"))
        return 1;
#ifdef IFS_HAVE_CUDA
    if (!strcmp(kind, "cuda"))
        return ifs_cuda_device_count() > 0;
#endif
    return 0;
}

int ifs_backend_create(const char *kind, const ifs_bert_weights *w, const ifs_backend_opts *opts,
                       ifs_backend **out, char *err, size_t errlen)
{
    if (!kind || !w || !out) {
        seterr(err, errlen, "ifs_backend_create: NULL argument");
        return IFS_BK_EARG;
    }
    *out = NULL;
    if (!w->pool_w || !w->pool_b || !w->cls_w || !w->cls_b) {
        seterr(err, errlen,
               "checkpoint has no pooler/classifier head: "
               "a BertForSequenceClassification checkpoint is needed (see train-head)");
        return IFS_BK_EARG;
    }
    ifs_backend_opts o = opts ? *opts : ifs_backend_default_opts();
    if (o.max_batch_tokens <= 0 || o.max_batch_seqs <= 0) {
        seterr(err, errlen, "max_batch_tokens and max_batch_seqs must be positive");
        return IFS_BK_EARG;
    }
    if (!strcmp(kind, "cpu"))
        return ifs_cpu_backend_create(w, &o, out, err, errlen);
    if (!strcmp(kind, "cuda")) {
#ifdef IFS_HAVE_CUDA
        return ifs_cuda_backend_create(w, &o, out, err, errlen);
#else
        seterr(err, errlen, "this ifscore was built without CUDA (configure with -DIFS_CUDA=ON)");
        return IFS_BK_EUNSUP;
#endif
    }
    seterr(err, errlen, "unknown backend '%s' (expected cpu or cuda)", kind);
    return IFS_BK_EUNSUP;
}

/* A batch the backend's config and limits accept: IFS_BK_OK, or an error
 * with words in b->err. */
static int check_batch(ifs_backend *b, const ifs_batch *batch)
{
    int rc = ifs_batch_validate(batch, &b->w->cfg, b->err, sizeof b->err);
    if (rc)
        return rc;
    if (batch->n_tokens > b->opts.max_batch_tokens || batch->n_seqs > b->opts.max_batch_seqs) {
        seterr(b->err, sizeof b->err,
               "batch of %d seqs / %d tokens exceeds the backend's "
               "limits (%d seqs / %d tokens)",
               batch->n_seqs, batch->n_tokens, b->opts.max_batch_seqs, b->opts.max_batch_tokens);
        return IFS_BK_EARG;
    }
    return IFS_BK_OK;
}

int ifs_backend_forward(ifs_backend *b, const ifs_batch *batch, float *logits, float *cls_hidden)
{
    if (!b || !batch || !logits)
        return IFS_BK_EARG;
    b->err[0] = '\0';
    int rc = check_batch(b, batch);
    if (rc || batch->n_seqs == 0)
        return rc;
    return b->vt->forward(b, batch, logits, cls_hidden);
}

int ifs_backend_encode(ifs_backend *b, const ifs_batch *batch, int n_layers, float *hidden)
{
    if (!b || !batch || !hidden)
        return IFS_BK_EARG;
    b->err[0] = '\0';
    if (!b->vt->encode) {
        seterr(b->err, sizeof b->err,
               "the %s backend cannot return hidden states "
               "(use the cpu backend)",
               b->vt->kind);
        return IFS_BK_EUNSUP;
    }
    if (n_layers < 0 || n_layers > b->w->cfg.n_layers) {
        seterr(b->err, sizeof b->err, "encode: %d layers asked of a model with %d", n_layers,
               b->w->cfg.n_layers);
        return IFS_BK_EARG;
    }
    int rc = check_batch(b, batch);
    if (rc || batch->n_seqs == 0)
        return rc;
    return b->vt->encode(b, batch, n_layers, hidden);
}

const char *ifs_backend_error(const ifs_backend *b)
{
    return b ? b->err : "NULL backend";
}

const char *ifs_backend_strerror(int status)
{
    switch (status) {
    case IFS_BK_OK: return "ok";
    case IFS_BK_EARG: return "malformed batch (offsets, an id out of the vocabulary, too long)";
    case IFS_BK_ENOMEM: return "out of host or device memory";
    case IFS_BK_EDEVICE: return "device error (the context may be unusable)";
    case IFS_BK_EUNSUP: return "backend, dtype or shape not supported or not built";
    default: return "unknown status";
    }
}
const char *ifs_backend_kind(const ifs_backend *b)
{
    return b ? b->vt->kind : "none";
}

void ifs_backend_free(ifs_backend *b)
{
    if (!b)
        return;
    b->vt->destroy(b);
    free(b);
}

int ifs_batch_validate(const ifs_batch *batch, const ifs_bert_config *cfg, char *err, size_t errlen)
{
    if (batch->n_seqs < 0 || batch->n_tokens < 0 ||
        (batch->n_seqs > 0 && (!batch->input_ids || !batch->seq_off))) {
        seterr(err, errlen, "batch: negative size or NULL array");
        return IFS_BK_EARG;
    }
    if (batch->n_seqs == 0)
        return IFS_BK_OK;
    if (batch->seq_off[0] != 0 || batch->seq_off[batch->n_seqs] != batch->n_tokens) {
        seterr(err, errlen, "batch: seq_off must start at 0 and end at n_tokens (%d)",
               batch->n_tokens);
        return IFS_BK_EARG;
    }
    for (int32_t i = 0; i < batch->n_seqs; i++) {
        int32_t len = batch->seq_off[i + 1] - batch->seq_off[i];
        if (len <= 0 || len > cfg->max_position) {
            seterr(err, errlen, "batch: sequence %d has length %d (must be 1..%d)", i, len,
                   cfg->max_position);
            return IFS_BK_EARG;
        }
    }
    for (int32_t t = 0; t < batch->n_tokens; t++) {
        if (batch->input_ids[t] < 0 || batch->input_ids[t] >= cfg->vocab_size) {
            seterr(err, errlen, "batch: token %d has id %d outside the vocabulary (%d)", t,
                   batch->input_ids[t], cfg->vocab_size);
            return IFS_BK_EARG;
        }
        if (batch->type_ids && (batch->type_ids[t] < 0 || batch->type_ids[t] >= cfg->type_vocab)) {
            seterr(err, errlen, "batch: token %d has type id %d outside 0..%d", t,
                   batch->type_ids[t], cfg->type_vocab - 1);
            return IFS_BK_EARG;
        }
    }
    return IFS_BK_OK;
}

/* --- the GEMM ceiling ---------------------------------------------------------- */

typedef struct {
    const float *x, *w;
    float *y;
    int m, n, k;
} peak_task_ctx;

enum { PEAK_ROWS = 128 }; /* the cpu backend's GEMM block height */

static void peak_task(void *vctx, int task, int thread)
{
    (void)thread;
    const peak_task_ctx *c = vctx;
    const int r0 = task * PEAK_ROWS;
    const int r1 = r0 + PEAK_ROWS < c->m ? r0 + PEAK_ROWS : c->m;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, c->n, c->k, 1.0f,
                c->x + (size_t)r0 * c->k, c->k, c->w, c->k, 0.0f, c->y + (size_t)r0 * c->n, c->n);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Magnitudes in [0.25, 1), random signs: never zero. */
static void fill_random_f32(float *p, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        const float u = (float)(s >> 40) * (1.0f / 16777216.0f);
        p[i] = (s & 1u) ? -(0.25f + 0.75f * u) : 0.25f + 0.75f * u;
    }
}

static int cpu_gemm_peak(int m, int n, int k, int repeats, double *tflops, char *err, size_t errlen)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    float *x = malloc(sizeof(float) * (size_t)m * k), *w = malloc(sizeof(float) * (size_t)n * k);
    float *y = malloc(sizeof(float) * (size_t)m * n);
    double *t = malloc(sizeof(double) * (size_t)repeats);
    ifs_cpu_pool *pool = ifs_cpu_pool_create((int)cores);
    int rc = IFS_BK_OK;
    if (!x || !w || !y || !t || !pool) {
        seterr(err, errlen, "gemm peak: out of host memory (or threads) for a %dx%dx%d product", m,
               n, k);
        rc = IFS_BK_ENOMEM;
        goto done;
    }
    fill_random_f32(x, (size_t)m * k, 1);
    fill_random_f32(w, (size_t)n * k, 2);
    openblas_set_num_threads(1); /* our pool owns the cores, as in the cpu backend */
    peak_task_ctx c = {x, w, y, m, n, k};
    const int tasks = (m + PEAK_ROWS - 1) / PEAK_ROWS;
    ifs_cpu_pool_run(pool, tasks, peak_task, &c); /* warm-up: pages, caches, clocks */
    for (int i = 0; i < repeats; i++) {
        const double t0 = wall_now();
        ifs_cpu_pool_run(pool, tasks, peak_task, &c);
        t[i] = wall_now() - t0;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    const double med = repeats % 2 ? t[repeats / 2] : 0.5 * (t[repeats / 2 - 1] + t[repeats / 2]);
    if (!(med > 0)) {
        seterr(err, errlen, "gemm peak: a %dx%dx%d product timed at %g s", m, n, k, med);
        rc = IFS_BK_EDEVICE;
        goto done;
    }
    *tflops = 2.0 * m * (double)n * k / med / 1e12;
done:
    ifs_cpu_pool_free(pool);
    free(x);
    free(w);
    free(y);
    free(t);
    return rc;
}

int ifs_backend_gemm_peak(const char *kind, int device, ifs_dtype dtype, int m, int n, int k,
                          int repeats, double *tflops, char *err, size_t errlen)
{
    if (!kind || !tflops) {
        seterr(err, errlen, "ifs_backend_gemm_peak: NULL argument");
        return IFS_BK_EARG;
    }
    *tflops = 0.0;
    if (m < 1 || n < 1 || k < 1 || m > 65536 || n > 65536 || k > 65536 || repeats < 1 ||
        repeats > 10000) {
        seterr(err, errlen,
               "gemm peak: sizes %dx%dx%d and %d repeats (sizes 1..65536, "
               "repeats 1..10000)",
               m, n, k, repeats);
        return IFS_BK_EARG;
    }
    if (dtype != IFS_DT_F32 && dtype != IFS_DT_F16 && dtype != IFS_DT_BF16) {
        seterr(err, errlen, "gemm peak: unknown dtype %d", (int)dtype);
        return IFS_BK_EUNSUP;
    }
    if (!strcmp(kind, "cpu")) {
        if (dtype != IFS_DT_F32) {
            seterr(err, errlen, "gemm peak: the cpu backend computes in f32 only");
            return IFS_BK_EUNSUP;
        }
        return cpu_gemm_peak(m, n, k, repeats, tflops, err, errlen);
    }
    if (!strcmp(kind, "cuda")) {
#ifdef IFS_HAVE_CUDA
        const int n_dev = ifs_cuda_device_count();
        if (n_dev <= 0) {
            seterr(err, errlen, "gemm peak: no CUDA device is visible");
            return IFS_BK_EUNSUP;
        }
        if (device < 0 || device >= n_dev) {
            seterr(err, errlen, "gemm peak: CUDA device %d does not exist (%d visible)", device,
                   n_dev);
            return IFS_BK_EARG;
        }
        return ifs_cuda_gemm_peak(device, dtype, m, n, k, repeats, tflops, err, errlen);
#else
        (void)device;
        seterr(err, errlen, "this ifscore was built without CUDA (configure with -DIFS_CUDA=ON)");
        return IFS_BK_EUNSUP;
#endif
    }
    seterr(err, errlen, "unknown backend '%s' (expected cpu or cuda)", kind);
    return IFS_BK_EUNSUP;
}
