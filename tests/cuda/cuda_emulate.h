/*
 * cuda_emulate.h - just enough of CUDA, on the host, to run the backend's
 * own kernel source (kernels/cuda/{attention,layernorm,activation,pooler}.cu)
 * where there is no GPU, so that its index arithmetic, shared-memory
 * layout, masking, barriers and launch shapes are checked against the CPU
 * reference in CI (tests/cuda/test_cuda_emulated.cpp).
 *
 * Model:
 *   - A launch runs its blocks one after another. The threads of a block are
 *     coroutines (ucontext) switched at every barrier, round robin: fast and
 *     deterministic. With -DIFS_EMU_OS_THREADS they are one std::thread
 *     each instead, so that ThreadSanitizer sees a missing barrier as a
 *     race (slow: use it by hand, see test_cuda_emulated.cpp).
 *   - __syncthreads / __syncwarp are barriers over the block / the warp; a
 *     thread that returns leaves them (as exited threads do on the GPU).
 *     Shuffles exchange through a per-warp slot array between two warp
 *     barriers.
 *   - __shared__ becomes `static`: one instance per kernel instantiation,
 *     shared by the block's threads, reused by the next block (blocks do
 *     not overlap). Dynamic shared memory is a fresh 128-byte-aligned
 *     buffer per block, filled with a NaN pattern so that reading what was
 *     never written shows up. Arrays declared with IFS_STATIC_SHARED are
 *     counted as the block reaches them: static plus dynamic bytes over
 *     48 KiB without the opt-in (or over the opt-in maximum with it) is a
 *     fault, as the driver would refuse that launch.
 *   - 16-byte accesses (load16 / store16 of cuda_common.cuh) fault unless
 *     the address is 16-byte aligned, as the GPU's would.
 *   - wmma: every lane holds the whole 16x16 tile (fragments are opaque, so
 *     this is observably the same); loads and stores follow the documented
 *     element layouts; a store waits for the warp (as documented), then is
 *     split across lanes so that reading another lane's result without
 *     __syncwarp is a race here too. Pointer
 *     (32-byte) and ldm (8 elements / 4 floats) rules are checked.
 *   - Launch rules are checked: <= 1024 threads, grid.y/z <= 65535, dynamic
 *     shared memory <= 48 KiB unless raised with cudaFuncSetAttribute (to at
 *     most sm_80's 163 KiB). A violation fails the launch with
 *     cudaErrorInvalidConfiguration, as the driver would. The static part
 *     (known only once the kernel runs here) is checked as above.
 * What it cannot show: timing, real tensor-core rounding order, device
 * memory bounds (run the test under ASan for host-side bounds).
 *
 * Include it before any kernel source; it defines IFS_CUDA_EMULATE.
 */
#ifndef IFS_CUDA_EMULATE_H
#define IFS_CUDA_EMULATE_H

#define IFS_CUDA_EMULATE 1

/* Sanitizers do not follow ucontext stack switches: use OS threads there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define IFS_EMU_OS_THREADS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define IFS_EMU_OS_THREADS 1
#endif
#endif

#include <cuda_bf16.h> /* host side: the types and conversions, plus the runtime's types */
#include <cuda_fp16.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include <ucontext.h>

/* The CUDA headers define these for a host compiler as attributes g++
 * would warn about; here they mean what the emulation needs. */
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __forceinline__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __forceinline__ inline
#define __launch_bounds__(...)

namespace ifs_emu
{

static void fiber_yield();

/* A reusable barrier whose members may leave (thread exit). */
class barrier
{
  public:
    void init(int n)
    {
        expected_ = n;
        arrived_ = 0;
        gen_ = 0;
    }
#ifdef IFS_EMU_OS_THREADS
    void wait()
    {
        std::unique_lock<std::mutex> lk(m_);
        unsigned g = gen_;
        if (++arrived_ >= expected_) {
            release();
        } else {
            cv_.wait(lk, [&] { return gen_ != g; });
        }
    }
    void drop()
    {
        std::unique_lock<std::mutex> lk(m_);
        expected_--;
        if (expected_ > 0 && arrived_ >= expected_)
            release();
    }
#else
    void wait()
    {
        unsigned g = gen_;
        if (++arrived_ >= expected_)
            release();
        while (gen_ == g)
            fiber_yield();
    }
    void drop()
    {
        expected_--;
        if (expected_ > 0 && arrived_ >= expected_)
            release();
    }
#endif

  private:
    void release()
    {
        arrived_ = 0;
        gen_++;
#ifdef IFS_EMU_OS_THREADS
        cv_.notify_all();
#endif
    }
#ifdef IFS_EMU_OS_THREADS
    std::mutex m_;
    std::condition_variable cv_;
#endif
    int expected_ = 0, arrived_ = 0;
    unsigned gen_ = 0;
};

struct warp_state {
    barrier bar;
    float slot[2][32]; /* shuffles alternate buffers: one barrier each */
    int phase[32];     /* per lane: which buffer its next shuffle uses */
};

struct block_state {
    barrier bar;
    warp_state warps[32];
    unsigned char *dyn = nullptr;
    size_t dyn_bytes = 0;   /* dynamic shared memory of the launch */
    int opt_in = -1;        /* the kernel's raised dynamic limit, -1 if none */
    std::mutex static_lock; /* OS-thread mode: several threads count at once */
    std::vector<std::pair<const void *, size_t>> statics; /* arrays seen this launch */
    size_t static_bytes = 0;
    bool static_fault = false;
};

static thread_local block_state *tl_block;
static thread_local int tl_lane, tl_warp;
static std::map<const void *, int> smem_optin; /* kernel -> raised dynamic smem limit */
static std::atomic<int> faults{0};             /* rule violations seen by kernels */
static cudaError_t last_error = cudaSuccess;
static char fault_msg[256];

static void fault(const char *what)
{
    if (faults++ == 0)
        snprintf(fault_msg, sizeof fault_msg, "%s", what);
}

static const size_t SMEM_DEFAULT = 48 * 1024, SMEM_OPTIN_MAX = 166912; /* sm_80 */

/* An IFS_STATIC_SHARED array of `bytes` at addr, reached by a thread of the
 * current block: counted once per launch against the block's limit. */
static void static_smem(const void *addr, size_t bytes);

static inline int n_threads(dim3 b)
{
    return (int)(b.x * b.y * b.z);
}

/* Fibers (the default): the block's threads are ucontext coroutines on the
 * calling thread, switched at barriers; deterministic and fast. Build with
 * IFS_EMU_OS_THREADS for one OS thread each (for ThreadSanitizer). */
struct fiber_set {
    ucontext_t main;
    std::vector<ucontext_t> ctx;
    char *stacks = nullptr;
    std::vector<char> done;
    int current = 0;
    const std::function<void(int)> *body = nullptr;
};
static fiber_set *tl_fibers;
static const size_t FIBER_STACK = 256 * 1024;

static void fiber_yield()
{
    fiber_set *f = tl_fibers;
    swapcontext(&f->ctx[f->current], &f->main);
}

static void fiber_entry()
{
    fiber_set *f = tl_fibers;
    (*f->body)(f->current);
    f->done[f->current] = 1; /* returning resumes f->main (uc_link) */
}

} /* namespace ifs_emu */

static thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace ifs_emu
{
static void static_smem(const void *addr, size_t bytes)
{
    block_state *st = tl_block;
    std::lock_guard<std::mutex> g(st->static_lock);
    for (auto &s : st->statics)
        if (s.first == addr)
            return;
    st->statics.emplace_back(addr, bytes);
    st->static_bytes += bytes;
    const size_t total = st->static_bytes + st->dyn_bytes;
    const bool bad = st->opt_in < 0 ? total > SMEM_DEFAULT
                                    : st->static_bytes + (size_t)st->opt_in > SMEM_OPTIN_MAX ||
                                          st->static_bytes > SMEM_DEFAULT;
    if (bad && !st->static_fault) {
        st->static_fault = true;
        char msg[200];
        snprintf(msg, sizeof msg,
                 "shared memory: %zu static + %zu dynamic bytes exceed the "
                 "%s limit of %zu",
                 st->static_bytes, st->dyn_bytes, st->opt_in < 0 ? "default (no opt-in)" : "opt-in",
                 st->opt_in < 0 ? SMEM_DEFAULT : SMEM_OPTIN_MAX);
        fault(msg);
    }
}
} /* namespace ifs_emu */

#define IFS_STATIC_SHARED(type, name, dims)                                                        \
    static type name dims;                                                                         \
    ifs_emu::static_smem(&name, sizeof name)

/* 16-byte accesses of cuda_common.cuh (load16 / store16). */
static inline void ifs_emu_access16(const void *p, const char *what)
{
    if ((uintptr_t)p & 15u) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: address %p is not 16-byte aligned", what, p);
        ifs_emu::fault(msg);
    }
}

static inline void __syncthreads()
{
    ifs_emu::tl_block->bar.wait();
}
static inline void __syncwarp(unsigned mask = 0xffffffffu)
{
    (void)mask;
    ifs_emu::tl_block->warps[ifs_emu::tl_warp].bar.wait();
}
static inline float ifs_emu_exchange(float v, int src)
{
    /* Lanes write buffer p, meet, read it. Buffer p is written again two
     * shuffles later, after the next shuffle's barrier, which every lane
     * reaches only once it has read this one. */
    ifs_emu::warp_state &w = ifs_emu::tl_block->warps[ifs_emu::tl_warp];
    const int lane = ifs_emu::tl_lane, p = w.phase[lane];
    w.phase[lane] = p ^ 1;
    w.slot[p][lane] = v;
    w.bar.wait();
    return w.slot[p][src & 31];
}
static inline float __shfl_xor_sync(unsigned mask, float v, int o)
{
    (void)mask;
    return ifs_emu_exchange(v, ifs_emu::tl_lane ^ o);
}
static inline float __shfl_sync(unsigned mask, float v, int src)
{
    (void)mask;
    return ifs_emu_exchange(v, src);
}
static inline float rsqrtf(float x)
{
    return 1.0f / sqrtf(x);
}
static inline int min(int a, int b)
{
    return a < b ? a : b;
}

/* Defines the runtime's own declaration (no libcudart is linked). */
cudaError_t CUDARTAPI cudaGetLastError(void)
{
    cudaError_t e = ifs_emu::last_error;
    ifs_emu::last_error = cudaSuccess;
    return e;
}

template <class F>
static cudaError_t cudaFuncSetAttribute(F *kernel, cudaFuncAttribute attr, int value)
{
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > 166912)
        return cudaErrorInvalidValue;
    ifs_emu::smem_optin[(const void *)kernel] = value;
    return cudaSuccess;
}

namespace ifs_emu
{

template <class F> struct launcher {
    dim3 grid, block;
    size_t smem;
    F *kernel;
    template <class... A> void operator()(A... args) const
    {
        int limit = 48 * 1024;
        auto it = smem_optin.find((const void *)kernel);
        if (it != smem_optin.end())
            limit = it->second;
        const int nt = n_threads(block);
        if (nt < 1 || nt > 1024 || nt % 32 || grid.x < 1 || grid.y < 1 || grid.z < 1 ||
            grid.y > 65535 || grid.z > 65535 || smem > (size_t)limit) {
            last_error = cudaErrorInvalidConfiguration;
            return;
        }
        const unsigned n_blocks = grid.x * grid.y * grid.z;
        block_state st;
        st.dyn_bytes = smem;
        st.opt_in = it != smem_optin.end() ? it->second : -1;
        const size_t bytes = (smem + 127) / 128 * 128;
        std::vector<unsigned char> raw(bytes + 128);
        st.dyn = raw.data() + (128 - ((uintptr_t)raw.data() & 127)) % 128;
        auto reset = [&] {
            st.bar.init(nt);
            for (int w = 0; w < nt / 32; w++) {
                st.warps[w].bar.init(32);
                memset(st.warps[w].phase, 0, sizeof st.warps[w].phase);
            }
            memset(st.dyn, 0xff, bytes); /* NaN in every float / half / bf16 */
        };
        auto enter = [&](int t, unsigned b) {
            tl_block = &st;
            tl_lane = t & 31;
            tl_warp = t >> 5;
            threadIdx = dim3((unsigned)t % block.x, ((unsigned)t / block.x) % block.y,
                             (unsigned)t / (block.x * block.y));
            blockIdx = dim3(b % grid.x, (b / grid.x) % grid.y, b / (grid.x * grid.y));
            blockDim = block;
            gridDim = grid;
        };
        auto leave = [&] { /* an exited thread leaves the barriers */
                           st.warps[tl_warp].bar.drop();
                           st.bar.drop();
        };
#ifdef IFS_EMU_OS_THREADS
        /* One OS thread per CUDA thread of a block, kept for the whole grid;
         * blocks run one after another, separated by two rendezvous. */
        barrier between;
        between.init(nt);
        reset();
        std::vector<std::thread> th;
        th.reserve(nt);
        for (int t = 0; t < nt; t++) {
            th.emplace_back([&, t] {
                for (unsigned b = 0; b < n_blocks; b++) {
                    enter(t, b);
                    kernel(args...);
                    leave();
                    between.wait(); /* the whole block is done */
                    if (t == 0)
                        reset();
                    between.wait(); /* the next block starts clean */
                }
            });
        }
        for (auto &x : th)
            x.join();
#else
        fiber_set fs;
        fs.ctx.resize(nt);
        /* stacks: one buffer, grown as needed and kept (not zeroed: cheap) */
        static std::unique_ptr<char[]> stack_mem;
        static size_t stack_len;
        if (stack_len < (size_t)nt * FIBER_STACK) {
            stack_len = (size_t)nt * FIBER_STACK;
            stack_mem.reset(new char[stack_len]);
        }
        fs.stacks = stack_mem.get();
        fs.done.assign(nt, 0);
        unsigned cur_block = 0;
        std::function<void(int)> body = [&](int t) {
            (void)t;
            kernel(args...);
            leave();
        };
        fs.body = &body;
        tl_fibers = &fs;
        for (unsigned b = 0; b < n_blocks; b++) {
            cur_block = b;
            reset();
            for (int t = 0; t < nt; t++) {
                getcontext(&fs.ctx[t]);
                fs.ctx[t].uc_stack.ss_sp = fs.stacks + (size_t)t * FIBER_STACK;
                fs.ctx[t].uc_stack.ss_size = FIBER_STACK;
                fs.ctx[t].uc_link = &fs.main;
                makecontext(&fs.ctx[t], fiber_entry, 0);
                fs.done[t] = 0;
            }
            for (int live = nt; live > 0;) { /* round robin until every thread returned */
                live = 0;
                for (int t = 0; t < nt; t++) {
                    if (fs.done[t])
                        continue;
                    fs.current = t;
                    enter(t, cur_block);
                    swapcontext(&fs.main, &fs.ctx[t]);
                    live += !fs.done[t];
                }
            }
        }
        tl_fibers = nullptr;
#endif
    }
};

template <class F> launcher<F> launch(dim3 g, dim3 b, size_t smem, F *k)
{
    return launcher<F>{g, b, smem, k};
}

} /* namespace ifs_emu */

#define IFS_LAUNCH(grid, block, smem, stream, ...)                                                 \
    ((void)(stream), ifs_emu::launch(dim3(grid), dim3(block), (size_t)(smem), __VA_ARGS__))
#define IFS_DYNAMIC_SHARED(type, name) type *name = reinterpret_cast<type *>(ifs_emu::tl_block->dyn)

/* --- wmma ------------------------------------------------------------------------ */
namespace nvcuda
{
namespace wmma
{
struct row_major {
};
struct col_major {
};
struct matrix_a {
};
struct matrix_b {
};
struct accumulator {
};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void> struct fragment {
    static_assert(M == 16 && N == 16 && K == 16, "the emulator knows 16x16x16 only");
    float x[16][16];
};

static inline float elem(float v)
{
    return v;
}
static inline float elem(__half v)
{
    return __half2float(v);
}
static inline float elem(__nv_bfloat16 v)
{
    return __bfloat162float(v);
}

template <class T> static void check(const T *p, unsigned ldm, const char *what)
{
    if ((uintptr_t)p % 32)
        ifs_emu::fault(what);
    if (ldm % (sizeof(T) == 2 ? 8 : 4))
        ifs_emu::fault(what);
}

template <class Use, class T, class L>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, L> &f, const T *p, unsigned ldm)
{
    static_assert(std::is_same<Use, matrix_a>::value || std::is_same<Use, matrix_b>::value,
                  "accumulators take a layout argument");
    check(p, ldm, "wmma load: pointer not 32-byte aligned or bad ldm");
    const bool row = std::is_same<L, row_major>::value;
    for (int r = 0; r < 16; r++) /* r, c: the fragment's row and column */
        for (int c = 0; c < 16; c++)
            f.x[r][c] = elem(row ? p[r * ldm + c] : p[r + c * ldm]);
}

static inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, const float *p,
                                    unsigned ldm, layout_t l)
{
    check(p, ldm, "wmma accumulator load: pointer not 32-byte aligned or bad ldm");
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++)
            f.x[r][c] = l == mem_row_major ? p[r * ldm + c] : p[r + c * ldm];
}

static inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f,
                                     unsigned ldm, layout_t l)
{
    check(p, ldm, "wmma store: pointer not 32-byte aligned or bad ldm");
    /* "Waits until all warp lanes have arrived at store_matrix_sync" (CUDA
     * guide): no lane's store overtakes another lane's earlier load of the
     * same tile. Loads get no such barrier here, so data that other lanes
     * wrote must still be published with __syncwarp. */
    __syncwarp();
    for (int e = ifs_emu::tl_lane; e < 256; e += 32) { /* each lane stores its share */
        int r = e / 16, c = e % 16;
        (l == mem_row_major ? p[r * ldm + c] : p[r + c * ldm]) = f.x[r][c];
    }
}

static inline void fill_fragment(fragment<accumulator, 16, 16, 16, float> &f, float v)
{
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++)
            f.x[r][c] = v;
}

template <class T, class LA, class LB>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d,
              const fragment<matrix_a, 16, 16, 16, T, LA> &a,
              const fragment<matrix_b, 16, 16, 16, T, LB> &b,
              const fragment<accumulator, 16, 16, 16, float> &c)
{
    float out[16][16];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float s = c.x[i][j];
            for (int k = 0; k < 16; k++)
                s += a.x[i][k] * b.x[k][j];
            out[i][j] = s;
        }
    memcpy(d.x, out, sizeof out);
}
} /* namespace wmma */
} /* namespace nvcuda */

#endif
