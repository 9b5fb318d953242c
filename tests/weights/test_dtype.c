/*
 * test_dtype.c - fp16 / bf16 <-> fp32: exact widening of every bit pattern,
 * round-to-nearest-even narrowing at the edges (ties, subnormals, overflow,
 * NaN), and, where the compiler has _Float16, agreement with the hardware /
 * compiler conversion on a few million values.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ifs_test.h"
#include "ifs_wts.h"

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

typedef struct {
    const char *name;
    uint16_t bits;
    float value;
} widen_case;

static const widen_case F16_WIDEN[] = {
    {"f16_positive_zero_widens_to_zero", 0x0000, 0.0f},
    {"f16_smallest_subnormal_is_two_to_minus_24", 0x0001, 5.9604644775390625e-08f},
    {"f16_largest_subnormal_is_1023_times_two_to_minus_24", 0x03ff, 6.097555160522461e-05f},
    {"f16_smallest_normal_is_two_to_minus_14", 0x0400, 6.103515625e-05f},
    {"f16_one_widens_to_one", 0x3c00, 1.0f},
    {"f16_one_third_widens_exactly", 0x3555, 0.333251953125f},
    {"f16_largest_finite_is_65504", 0x7bff, 65504.0f},
    {"f16_negative_two_widens_to_negative_two", 0xc000, -2.0f},
    {"f16_infinity_widens_to_infinity", 0x7c00, INFINITY},
    {"f16_negative_infinity_widens_to_negative_infinity", 0xfc00, -INFINITY},
};

typedef struct {
    const char *name;
    uint32_t f32_bits;
    uint16_t want;
} narrow_case;

static const narrow_case F16_NARROW[] = {
    {"one_plus_half_ulp_ties_to_even_one", 0x3f801000u, 0x3c00},
    {"one_plus_three_half_ulps_ties_up_to_even", 0x3f803000u, 0x3c02},
    {"just_above_a_tie_rounds_up", 0x3f801001u, 0x3c01},
    {"65519_rounds_down_to_65504", 0x477fefffu, 0x7bff},
    {"65520_is_a_tie_that_rounds_to_infinity", 0x477ff000u, 0x7c00},
    {"float_max_overflows_to_infinity", 0x7f7fffffu, 0x7c00},
    {"negative_overflow_gives_negative_infinity", 0xff7fffffu, 0xfc00},
    {"two_to_minus_25_is_a_tie_that_rounds_to_zero", 0x33000000u, 0x0000},
    {"just_above_two_to_minus_25_rounds_to_smallest_subnormal", 0x33000001u, 0x0001},
    {"three_times_two_to_minus_25_ties_to_even_subnormal_two", 0x33c00000u, 0x0002},
    {"largest_subnormal_plus_half_ulp_ties_up_to_smallest_normal", 0x387fe000u, 0x0400},
    {"negative_tiny_value_keeps_its_sign", 0xb3000001u, 0x8001},
    {"float_subnormal_flushes_to_signed_zero", 0x80000001u, 0x8000},
    {"largest_f16_subnormal_is_exact", 0x387fc000u, 0x03ff},
    {"infinity_stays_infinity", 0x7f800000u, 0x7c00},
};

static const narrow_case BF16_NARROW[] = {
    {"bf16_one_is_exact", 0x3f800000u, 0x3f80},
    {"bf16_half_ulp_above_one_ties_to_even_one", 0x3f808000u, 0x3f80},
    {"bf16_half_ulp_above_odd_ties_up", 0x3f818000u, 0x3f82},
    {"bf16_just_below_a_tie_rounds_down", 0x3f807fffu, 0x3f80},
    {"bf16_float_max_rounds_to_infinity", 0x7f7fffffu, 0x7f80},
    {"bf16_subnormal_rounds_within_subnormals", 0x00018000u, 0x0002},
    {"bf16_negative_infinity_stays", 0xff800000u, 0xff80},
};

int main(void)
{
    for (size_t i = 0; i < sizeof F16_WIDEN / sizeof F16_WIDEN[0]; i++) {
        const widen_case *c = &F16_WIDEN[i];
        float got = ifs_wts_f16_to_f32(c->bits);
        IFS_CHECK(f2u(got) == f2u(c->value), "%s: 0x%04x -> %.9g, want %.9g", c->name, c->bits, got,
                  c->value);
    }
    IFS_CHECK(f2u(ifs_wts_f16_to_f32(0x8000)) == 0x80000000u, "f16 negative zero keeps its sign");
    IFS_CHECK(isnan(ifs_wts_f16_to_f32(0x7e00)) && isnan(ifs_wts_f16_to_f32(0xfc01)),
              "f16 NaN patterns widen to NaN");

    /* every non-NaN f16 survives f16 -> f32 -> f16 unchanged */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue;
        if (ifs_wts_f32_to_f16(ifs_wts_f16_to_f32((uint16_t)h)) != h && bad++ < 5)
            IFS_CHECK(0, "f16 0x%04x does not round-trip", h);
    }
    IFS_CHECK(bad == 0, "every_finite_and_infinite_f16_round_trips_through_f32 (%d failed)", bad);

    for (size_t i = 0; i < sizeof F16_NARROW / sizeof F16_NARROW[0]; i++) {
        const narrow_case *c = &F16_NARROW[i];
        uint16_t got = ifs_wts_f32_to_f16(u2f(c->f32_bits));
        IFS_CHECK(got == c->want, "%s: 0x%08x -> 0x%04x, want 0x%04x", c->name, c->f32_bits, got,
                  c->want);
    }
    uint16_t hn = ifs_wts_f32_to_f16(NAN);
    IFS_CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff), "nan_narrows_to_an_f16_nan (0x%04x)", hn);

    for (size_t i = 0; i < sizeof BF16_NARROW / sizeof BF16_NARROW[0]; i++) {
        const narrow_case *c = &BF16_NARROW[i];
        uint16_t got = ifs_wts_f32_to_bf16(u2f(c->f32_bits));
        IFS_CHECK(got == c->want, "%s: 0x%08x -> 0x%04x, want 0x%04x", c->name, c->f32_bits, got,
                  c->want);
    }
    uint16_t bn = ifs_wts_f32_to_bf16(u2f(0x7f800001u)); /* signalling NaN with a low payload */
    IFS_CHECK((bn & 0x7f80) == 0x7f80 && (bn & 0x7f),
              "bf16_nan_with_low_payload_stays_nan (0x%04x)", bn);
    bad = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = ifs_wts_bf16_to_f32((uint16_t)b);
        if (f2u(f) != b << 16 && bad++ < 5)
            IFS_CHECK(0, "bf16 0x%04x widens to 0x%08x", b, f2u(f));
        if (!isnan(f) && ifs_wts_f32_to_bf16(f) != b && bad++ < 5)
            IFS_CHECK(0, "bf16 0x%04x does not round-trip", b);
    }
    IFS_CHECK(bad == 0, "every_non_nan_bf16_widens_exactly_and_round_trips (%d failed)", bad);

#if defined(FLT16_MAX) || defined(__FLT16_MAX__)
    /* the compiler's own conversion (IEEE round-to-nearest-even) as an oracle */
    uint64_t s = 0x243f6a8885a308d3ull;
    bad = 0;
    for (int i = 0; i < 4000000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint32_t u = (uint32_t)s;
        /* bias towards the f16 range so subnormals and ties are common */
        if (i & 1)
            u = (u & 0x80ffffffu) | ((uint32_t)(0x60 + (s >> 40) % 0x30) << 24);
        float f = u2f(u);
        if (isnan(f))
            continue;
        _Float16 h = (_Float16)f;
        uint16_t hb;
        memcpy(&hb, &h, 2);
        if (ifs_wts_f32_to_f16(f) != hb && bad++ < 5)
            IFS_CHECK(0, "0x%08x: ours 0x%04x, compiler 0x%04x", u, ifs_wts_f32_to_f16(f), hb);
    }
    IFS_CHECK(bad == 0, "f16_narrowing_matches_the_compiler_on_random_floats (%d differ)", bad);
#else
    printf("note: no _Float16 in this compiler; compiler cross-check not run\n");
#endif
    return ifs_test_done("dtype");
}
