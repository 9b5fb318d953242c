/*
 * dtype.c - fp16 / bf16 <-> fp32, bit-exact and branch-simple.
 *
 * Widening is exact for every input (fp32 holds every f16 and bf16 value,
 * subnormals included). Narrowing rounds to nearest, ties to even, as
 * torch's .half() / .bfloat16() do, so a checkpoint written here matches one
 * HF would write from the same fp32 values. NaN stays NaN (quieted), values
 * past the largest finite round to Inf.
 */
#include "ifs_wts.h"

#include <math.h>
#include <string.h>

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float ifs_wts_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in fp32 */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (exp == 31)
        return u2f(sign | 0x7f800000u | (mant << 13)); /* Inf or NaN (payload kept) */
    return u2f(sign | ((exp + 112u) << 23) | (mant << 13));
}

float ifs_wts_bf16_to_f32(uint16_t b)
{
    return u2f((uint32_t)b << 16);
}

uint16_t ifs_wts_f32_to_f16(float f)
{
    uint32_t x = f2u(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u)
        return sign | 0x7e00u; /* NaN */
    if (x >= 0x477ff000u)
        return sign | 0x7c00u; /* >= 65520 rounds to Inf */
    if (x < 0x38800000u) {     /* below 2^-14: f16 subnormal or zero */
        uint32_t e = x >> 23;
        if (e < 102) /* below 2^-25: rounds to zero */
            return sign;
        uint32_t m = (x & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = ((x >> 23) - 112) << 10 | ((x & 0x7fffffu) >> 13);
    uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1)))
        r++; /* a carry into the exponent is right */
    return sign | (uint16_t)r;
}

uint16_t ifs_wts_f32_to_bf16(float f)
{
    uint32_t x = f2u(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u); /* NaN, quieted */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}
