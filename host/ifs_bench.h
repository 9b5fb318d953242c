/*
 * ifs_bench.h - `ifscore bench` as a library: the forward pass timed on
 * synthetic sequences (random token ids from the vocabulary, never zero,
 * seeded), and the FLOP count of a BERT forward. The end-to-end mode of the
 * command runs the score API (ifs_score.h) itself; this header only gives
 * what that API does not: synthetic batches, timing, FLOPs, medians.
 * Nothing here prints or exits. Every function is thread-safe (no shared
 * state) except that ifs_bench_forward creates a backend (see ifs_backend.h
 * for what that does process-wide).
 */
#ifndef IFS_BENCH_H
#define IFS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_backend.h"
#include "ifs_wts.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    IFS_BENCH_OK = 0,
    IFS_BENCH_EUSAGE = -1, /* a bad length spec or option */
    IFS_BENCH_EFAIL = -2,  /* the backend failed (err has its words) */
    IFS_BENCH_ENOMEM = -3,
};

/* A length distribution: "N" (every sequence N tokens), "uniform:A-B"
 * (integers A..B inclusive, equally likely), "normal:MEAN,SD" (rounded,
 * clipped to [2, max_len]). Lengths include [CLS] and [SEP]. */
typedef struct {
    int kind;    /* 0 fixed, 1 uniform, 2 normal */
    double a, b; /* fixed: a; uniform: a..b; normal: mean a, sd b */
} ifs_bench_lengths;

/* Parses spec into *out; every length must lie in [2, max_len]. Returns 0
 * or IFS_BENCH_EUSAGE with words in err naming the spec. */
int ifs_bench_parse_lengths(const char *spec, int32_t max_len, ifs_bench_lengths *out, char *err,
                            size_t errlen);

/* FLOPs of one forward of a sequence of `len` tokens through `cfg`
 * (multiply-add = 2; docs/bench.md has the formula): per layer
 * 2*T*(4h^2 + 2h*i) for the linears + 4*T^2*h for QK^T and PV, plus the
 * pooler and classifier on [CLS]: 2h^2 + 2h*labels. */
double ifs_bench_seq_flops(const ifs_bert_config *cfg, int32_t len);

typedef struct {
    const char *backend; /* "cpu" or "cuda" */
    ifs_dtype dtype;
    int cpu_threads;          /* cpu: 0 = all cores */
    int32_t max_len;          /* cap on lengths (<= max_position) */
    int32_t max_batch_tokens; /* packed tokens per forward call */
    int32_t n_seqs;           /* sequences per repeat */
    int warmup, repeats;      /* repeats 1..10000 */
    uint64_t seed;
    ifs_bench_lengths lengths;
} ifs_bench_opts;

ifs_bench_opts ifs_bench_default_opts(void); /* cpu f32, 512 seqs, 1 warm-up, 5 repeats */

typedef struct {
    int repeats;
    double *seconds;       /* [repeats] wall time of each repeat; owned */
    uint64_t seqs, tokens; /* per repeat */
    uint64_t batches;      /* forward calls per repeat */
    double flops;          /* per repeat */
} ifs_bench_result;

/* Builds n_seqs sequences (lengths from the distribution, ids uniform in
 * [1, vocab), [CLS]=first id kept random too: the cost does not depend on
 * the values), packs them into batches of at most max_batch_tokens, runs
 * `warmup` untimed passes then `repeats` timed passes over the same batches.
 * Fills *res (free with ifs_bench_result_free). Returns 0, EUSAGE, EFAIL or
 * ENOMEM with words in err. w is borrowed. */
int ifs_bench_forward(const ifs_bert_weights *w, const ifs_bench_opts *o, ifs_bench_result *res,
                      char *err, size_t errlen);

void ifs_bench_result_free(ifs_bench_result *res); /* NULL ok; zeroes it */

/* Median, minimum, maximum of v[n] (n >= 1; v is not modified). */
void ifs_bench_summary(const double *v, int n, double *median, double *min, double *max);

#ifdef __cplusplus
}
#endif
#endif
