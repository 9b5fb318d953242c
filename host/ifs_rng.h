/*
 * ifs_rng.h - the one pseudo-random generator of ifscore: splitmix64
 * (Steele, Lea, Flood 2014), seeded, the same sequence on every machine.
 * What it draws: shuffles and initial weights in training, random
 * checkpoints (gen-model), data-set sampling. Not for anything secret.
 *
 *     ifs_rng r = ifs_rng_seed(42);
 *     uint64_t x = ifs_rng_u64(&r);
 *     size_t j = ifs_rng_below(&r, n);        // uniform in [0, n), n >= 1
 *     double z = ifs_rng_normal(&r);          // N(0, 1), Box-Muller
 *
 * Normals come in pairs from one Box-Muller draw (u1 in (0, 1], u2 in
 * [0, 1)); the second is kept for the next call. They use libm's log, sqrt,
 * sin and cos, so their bits are the same wherever libm rounds the same
 * (glibc: every x86-64 machine). Header-only, no allocation; a generator is
 * used by one thread.
 */
#ifndef IFS_RNG_H
#define IFS_RNG_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s;
    int has_spare;
    double spare;
} ifs_rng;

static inline ifs_rng ifs_rng_seed(uint64_t seed)
{
    ifs_rng r = {seed, 0, 0.0};
    return r;
}

/* splitmix64's finaliser: a 64-bit mixer (bijective), for hashing a key
 * into a seed or a priority. ifs_rng_mix(s + golden) is the draw after s. */
static inline uint64_t ifs_rng_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One step of a bare splitmix64 state (for callers that keep a uint64_t). */
static inline uint64_t ifs_rng_step(uint64_t *state)
{
    return ifs_rng_mix(*state += 0x9e3779b97f4a7c15ull);
}

static inline uint64_t ifs_rng_u64(ifs_rng *r)
{
    return ifs_rng_step(&r->s);
}

/* Uniform in (0, 1], 53 bits. */
static inline double ifs_rng_unit(ifs_rng *r)
{
    return ((double)(ifs_rng_u64(r) >> 11) + 1.0) * 0x1.0p-53;
}

/* Uniform in [0, n) for n >= 1 (modulo bias below 2^-40 for n < 2^24). */
static inline uint64_t ifs_rng_below(ifs_rng *r, uint64_t n)
{
    return ifs_rng_u64(r) % n;
}

/* Standard normal. */
static inline double ifs_rng_normal(ifs_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = ifs_rng_unit(r);                            /* (0, 1] */
    double u2 = (double)(ifs_rng_u64(r) >> 11) * 0x1.0p-53; /* [0, 1) */
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

#endif /* IFS_RNG_H */
