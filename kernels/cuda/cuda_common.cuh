/*
 * cuda_common.cuh - private: what every CUDA file of the backend shares.
 *
 *   - Element types: the compute dtype is float, __half or __nv_bfloat16;
 *     kernels are templates over it and convert through to_f / from_f, so
 *     every statistic (LayerNorm mean and variance, softmax max and sum,
 *     pooler dot products) is taken in fp32 whatever the storage type.
 *   - IFS_CUDA_DISPATCH turns the runtime ifs_dtype into a compile-time
 *     type in one place (style.md: runtime choices become compile-time ones
 *     at one dispatch point).
 *   - Block reductions used by the row kernels (LayerNorm, pooler).
 *   - Kernels are launched with IFS_LAUNCH(grid, block, smem, stream, kernel)(args),
 *     take dynamic shared memory with IFS_DYNAMIC_SHARED(type, name), declare
 *     static shared arrays with IFS_STATIC_SHARED(type, name, [dims]) and make
 *     16-byte accesses with load16 / store16, so that the same kernel source
 *     also compiles on the host against tests/cuda/cuda_emulate.h
 *     (IFS_CUDA_EMULATE), where tests/cuda/test_cuda_emulated.cpp runs it
 *     thread by thread against the CPU reference on machines without a GPU.
 *     The emulator counts static shared memory against the launch limit and
 *     faults a 16-byte access that is not 16-byte aligned, which is what
 *     the macros and helpers are for: a plain __shared__ or a plain vector
 *     cast would compile, but the emulator could not see it.
 *
 * Nothing here allocates, prints or exits.
 */
#ifndef IFS_CUDA_COMMON_CUH
#define IFS_CUDA_COMMON_CUH

#ifndef IFS_CUDA_EMULATE
#include <cuda_runtime.h>
#endif
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "ifs_cuda_ops.h"

#ifndef IFS_CUDA_EMULATE
#define IFS_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<grid, block, smem, stream>>>
#define IFS_DYNAMIC_SHARED(type, name) extern __shared__ __align__(128) type name[]
#define IFS_STATIC_SHARED(type, name, dims) __shared__ type name dims
#endif

/* Without an opt-in (cudaFuncSetAttribute) a block's static plus dynamic
 * shared memory must stay within 48 KiB. */
#define IFS_CUDA_SMEM_DEFAULT_LIMIT (48 * 1024)

/* --- fp32 <-> storage type ------------------------------------------------ */
__device__ __forceinline__ float to_f(float x)
{
    return x;
}
__device__ __forceinline__ float to_f(__half x)
{
    return __half2float(x);
}
__device__ __forceinline__ float to_f(__nv_bfloat16 x)
{
    return __bfloat162float(x);
}

template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x)
{
    return x;
}
template <> __device__ __forceinline__ __half from_f<__half>(float x)
{
    return __float2half_rn(x);
}
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x)
{
    return __float2bfloat16_rn(x);
}

/* Calls BODY with `scalar_t` bound to the element type of `dt`; an unknown
 * dtype yields cudaErrorInvalidValue from the enclosing function. */
#define IFS_CUDA_DISPATCH(dt, ...)                                                                 \
    do {                                                                                           \
        switch (dt) {                                                                              \
        case IFS_DT_F32: {                                                                         \
            typedef float scalar_t;                                                                \
            __VA_ARGS__;                                                                           \
            break;                                                                                 \
        }                                                                                          \
        case IFS_DT_F16: {                                                                         \
            typedef __half scalar_t;                                                               \
            __VA_ARGS__;                                                                           \
            break;                                                                                 \
        }                                                                                          \
        case IFS_DT_BF16: {                                                                        \
            typedef __nv_bfloat16 scalar_t;                                                        \
            __VA_ARGS__;                                                                           \
            break;                                                                                 \
        }                                                                                          \
        default: return cudaErrorInvalidValue;                                                     \
        }                                                                                          \
    } while (0)

/* --- 16-byte vectors ---------------------------------------------------------
 * VEC elements of T in one 16-byte access (4 floats, 8 halves or bf16s).
 * A pointer used with load16 / store16 must be 16-byte aligned; launchers
 * check that (aligned16) and take a scalar path otherwise. */
template <typename T> struct alignas(16) vec16 {
    static constexpr int N = 16 / (int)sizeof(T);
    T v[16 / sizeof(T)];
};

__host__ __device__ __forceinline__ bool aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

template <typename T> __device__ __forceinline__ vec16<T> load16(const T *p)
{
    vec16<T> r;
#ifdef IFS_CUDA_EMULATE
    ifs_emu_access16(p, "load16");
    memcpy((void *)&r, (const void *)p, 16);
#else
    *reinterpret_cast<uint4 *>(&r) = *reinterpret_cast<const uint4 *>(p);
#endif
    return r;
}

template <typename T> __device__ __forceinline__ void store16(T *p, const vec16<T> &v)
{
#ifdef IFS_CUDA_EMULATE
    ifs_emu_access16(p, "store16");
    memcpy((void *)p, (const void *)&v, 16);
#else
    *reinterpret_cast<uint4 *>(p) = *reinterpret_cast<const uint4 *>(&v);
#endif
}

/* --- reductions ------------------------------------------------------------ */
__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum of v over the block; every thread gets the result. red: __shared__
 * float[33]. Safe to call back to back: the leading barrier keeps a call's
 * writes from overtaking the previous call's reads. Every thread of the
 * block must call it (it has barriers). */
__device__ __forceinline__ float block_sum(float v, float *red)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int n_warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0)
        red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float t = lane < n_warps ? red[lane] : 0.0f;
        t = warp_sum(t);
        if (lane == 0)
            red[32] = t;
    }
    __syncthreads();
    return red[32];
}

/* Launch error of the kernel just launched (does not synchronise). */
static inline cudaError_t ifs_cuda_launched(void)
{
    return cudaGetLastError();
}

#endif
