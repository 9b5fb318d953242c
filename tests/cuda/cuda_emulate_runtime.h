/*
 * cuda_emulate_runtime.h - the few CUDA runtime calls of
 * kernels/cuda/cuda_backend.cu, on the host, plus a plain-loop stand-in for
 * the cuBLASLt wrapper (gemm.cu), so that the backend's own create /
 * forward / destroy (weight upload and cache, staging, buffer plan, the
 * [CLS]-only last layer, NaN reporting, budget lowering) run against the
 * CPU backend without a GPU (tests/cuda/test_cuda_emulated_backend.cpp).
 *
 * "Device" memory is host memory, counted against ifs_emu_rt::device_limit
 * so that out-of-memory can be provoked; streams are synchronous (every
 * launch completes before it returns), one device of compute capability
 * 8.0. The GEMM stand-in computes in fp32 from the dtype's values and rounds
 * its output to the dtype, as cuBLASLt does with CUBLAS_COMPUTE_32F; it is
 * not cuBLASLt (tests/cuda/cuda_ops.c checks the real one on a GPU).
 *
 * What a GPU would make asynchronous is tracked: every cudaMemcpyAsync
 * counts as in flight on its stream until that stream is synchronised
 * (ifs_emu_rt::in_flight()), so a test can see a call return while a copy
 * from pinned memory would still be running; ifs_emu_rt::fail_memcpy_at = N
 * makes the N-th next cudaMemcpyAsync fail, to drive the error paths.
 * Events record the host clock (launches complete synchronously, so the
 * time between two events is the time of the work between them).
 *
 * Include after cuda_emulate.h and before the kernel sources.
 */
#ifndef IFS_CUDA_EMULATE_RUNTIME_H
#define IFS_CUDA_EMULATE_RUNTIME_H

#include "cuda_emulate.h"

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>

namespace ifs_emu_rt
{
static std::mutex lock;
static std::map<void *, size_t> live; /* device allocations */
static size_t device_used, device_limit = (size_t)8 << 30;
static int n_devices = 1;
static std::map<cudaStream_t, int> pending; /* copies in flight per stream */
static int fail_memcpy_at;                  /* > 0: that many calls from now fails */
static int memcpy_calls;
static inline int in_flight()
{
    int n = 0;
    for (auto &p : pending)
        n += p.second;
    return n;
}
} // namespace ifs_emu_rt

cudaError_t CUDARTAPI cudaMalloc(void **p, size_t n)
{
    std::lock_guard<std::mutex> g(ifs_emu_rt::lock);
    *p = nullptr;
    if (ifs_emu_rt::device_used + n > ifs_emu_rt::device_limit)
        return cudaErrorMemoryAllocation;
    *p = malloc(n ? n : 1);
    if (!*p)
        return cudaErrorMemoryAllocation;
    memset(*p, 0xff, n); /* fresh device memory is garbage: NaN pattern */
    ifs_emu_rt::live[*p] = n;
    ifs_emu_rt::device_used += n;
    return cudaSuccess;
}
template <class T> static cudaError_t cudaMalloc(T **p, size_t n)
{
    return cudaMalloc((void **)p, n);
}

cudaError_t CUDARTAPI cudaFree(void *p)
{
    std::lock_guard<std::mutex> g(ifs_emu_rt::lock);
    if (!p)
        return cudaSuccess;
    auto it = ifs_emu_rt::live.find(p);
    if (it == ifs_emu_rt::live.end())
        return cudaErrorInvalidValue; /* not ours, or twice */
    ifs_emu_rt::device_used -= it->second;
    ifs_emu_rt::live.erase(it);
    free(p);
    return cudaSuccess;
}

cudaError_t CUDARTAPI cudaHostAlloc(void **p, size_t n, unsigned int flags)
{
    (void)flags;
    *p = malloc(n ? n : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
template <class T> static cudaError_t cudaHostAlloc(T **p, size_t n, unsigned int flags)
{
    return cudaHostAlloc((void **)p, n, flags);
}
cudaError_t CUDARTAPI cudaFreeHost(void *p)
{
    free(p);
    return cudaSuccess;
}

cudaError_t CUDARTAPI cudaMemcpyAsync(void *dst, const void *src, size_t n,
                                      enum cudaMemcpyKind kind, cudaStream_t stream)
{
    (void)kind;
    ifs_emu_rt::memcpy_calls++;
    if (ifs_emu_rt::fail_memcpy_at > 0 && --ifs_emu_rt::fail_memcpy_at == 0)
        return cudaErrorInvalidValue; /* the injected failure: nothing is queued */
    memcpy(dst, src, n);
    ifs_emu_rt::pending[stream]++;
    return cudaSuccess;
}

cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int flags)
{
    (void)flags;
    static char tokens[64]; /* a distinct handle per stream (never dereferenced) */
    static int next;
    *s = (cudaStream_t)&tokens[next++ % 64];
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t s)
{
    (void)s;
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamSynchronize(cudaStream_t s)
{
    ifs_emu_rt::pending[s] = 0;
    return cudaSuccess;
}

/* Events hold the host clock of their record, in ms. */
cudaError_t CUDARTAPI cudaEventCreate(cudaEvent_t *e)
{
    *e = (cudaEvent_t) new double(0.0);
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t e)
{
    delete (double *)e;
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
    (void)s;
    *(double *)e = std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    *ms = (float)(*(double *)b - *(double *)a);
    return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDeviceCount(int *n)
{
    *n = ifs_emu_rt::n_devices;
    return ifs_emu_rt::n_devices ? cudaSuccess : cudaErrorNoDevice;
}
cudaError_t CUDARTAPI cudaSetDevice(int d)
{
    return d >= 0 && d < ifs_emu_rt::n_devices ? cudaSuccess : cudaErrorInvalidDevice;
}
cudaError_t CUDARTAPI cudaGetDeviceProperties(struct cudaDeviceProp *p, int d)
{
    (void)d;
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "emulated sm_80");
    p->major = 8;
    p->minor = 0;
    return cudaSuccess;
}
const char *CUDARTAPI cudaGetErrorName(cudaError_t e)
{
    return e == cudaErrorMemoryAllocation ? "cudaErrorMemoryAllocation" : "cudaError(emulated)";
}
const char *CUDARTAPI cudaGetErrorString(cudaError_t e)
{
    return e == cudaErrorMemoryAllocation ? "out of memory" : "emulated error";
}

#include "ifs_cuda_ops.h"

#include <algorithm>

/* --- the GEMM stand-in -------------------------------------------------------- */
struct ifs_cuda_gemm {
    int calls;
};

extern "C" int ifs_cuda_gemm_create(ifs_cuda_gemm **out, size_t workspace_bytes, char *err,
                                    size_t errlen)
{
    { /* the workspace counts against device memory, like the real one's */
        std::lock_guard<std::mutex> g(ifs_emu_rt::lock);
        if (ifs_emu_rt::device_used + workspace_bytes > ifs_emu_rt::device_limit) {
            snprintf(err, errlen, "cudaMalloc of the workspace: out of memory");
            *out = nullptr;
            return IFS_BK_ENOMEM;
        }
    }
    *out = new ifs_cuda_gemm{0};
    return IFS_BK_OK;
}

extern "C" void ifs_cuda_gemm_free(ifs_cuda_gemm *g)
{
    delete g;
}

extern "C" void ifs_cuda_gemm_get_stats(const ifs_cuda_gemm *g, ifs_cuda_gemm_stats *out)
{
    memset(out, 0, sizeof *out); /* the stand-in keeps no plans */
    if (g)
        out->hits = (uint64_t)g->calls;
}

template <class T> static float emu_load(const void *p, int64_t i)
{
    return nvcuda::wmma::elem(((const T *)p)[i]);
}
template <class T> static void emu_store(void *p, int64_t i, float v);
template <> void emu_store<float>(void *p, int64_t i, float v)
{
    ((float *)p)[i] = v;
}
template <> void emu_store<__half>(void *p, int64_t i, float v)
{
    ((__half *)p)[i] = __float2half_rn(v);
}
template <> void emu_store<__nv_bfloat16>(void *p, int64_t i, float v)
{
    ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
}

template <class T>
static void emu_gemm(void *y, const void *x, const void *w, const void *bias, int64_t rows, int n,
                     int k, int relu)
{
    std::vector<float> xr(k);
    for (int64_t r = 0; r < rows; r++) {
        for (int i = 0; i < k; i++)
            xr[i] = emu_load<T>(x, r * k + i);
        for (int j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int i = 0; i < k; i++)
                acc += xr[i] * emu_load<T>(w, (int64_t)j * k + i);
            if (bias)
                acc += emu_load<T>(bias, j);
            if (relu && acc < 0.0f)
                acc = 0.0f;
            emu_store<T>(y, r * n + j, acc);
        }
    }
}

extern "C" int ifs_cuda_gemm_run(ifs_cuda_gemm *g, ifs_dtype dt, void *y, const void *x,
                                 const void *w, const void *bias, int64_t rows, int n, int k,
                                 int relu, cudaStream_t stream, char *err, size_t errlen)
{
    (void)stream;
    (void)err;
    (void)errlen;
    g->calls++;
    if (dt == IFS_DT_F16)
        emu_gemm<__half>(y, x, w, bias, rows, n, k, relu);
    else if (dt == IFS_DT_BF16)
        emu_gemm<__nv_bfloat16>(y, x, w, bias, rows, n, k, relu);
    else
        emu_gemm<float>(y, x, w, bias, rows, n, k, relu);
    return IFS_BK_OK;
}

/* The GEMM ceiling through the stand-in: the same contract as gemm.cu's
 * (random never-zero operands, warm-up, median of `repeats`), timed on the
 * host clock. Only for small shapes: it is a plain loop. */
extern "C" int ifs_cuda_gemm_peak(int device, ifs_dtype dt, int m, int n, int k, int repeats,
                                  double *tflops, char *err, size_t errlen)
{
    if (cudaSetDevice(device) != cudaSuccess) {
        snprintf(err, errlen, "gemm peak: no device %d", device);
        return IFS_BK_EARG;
    }
    const size_t es = ifs_cuda_dtype_size(dt);
    std::vector<unsigned char> x(es * (size_t)m * k), w(es * (size_t)n * k), y(es * (size_t)m * n);
    ifs_cuda_fill_random(dt, x.data(), (int64_t)m * k, 1, 0);
    ifs_cuda_fill_random(dt, w.data(), (int64_t)n * k, 2, 0);
    ifs_cuda_gemm g{0};
    std::vector<double> t;
    for (int i = 0; i < repeats + 1; i++) {
        auto t0 = std::chrono::steady_clock::now();
        ifs_cuda_gemm_run(&g, dt, y.data(), x.data(), w.data(), nullptr, m, n, k, 0, 0, err,
                          errlen);
        if (i)
            t.push_back(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    const double med =
        t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
    *tflops = med > 0 ? 2.0 * m * (double)n * k / med / 1e12 : 0.0;
    return IFS_BK_OK;
}

#endif
