/*
 * bench_cpu.c - sequences/s and tokens/s of the "cpu" backend on a fixed
 * set of token ids, for scripts/bench_cpu.py (which runs PyTorch and
 * onnxruntime on the same ids in the same run and writes the results line).
 *
 *     bench_cpu MODEL_DIR IDS_FILE THREADS BATCH_TOKENS REPEATS
 *
 * IDS_FILE (little-endian u32s): n_batches; per batch its n_seqs, then per
 * sequence its length and ids. The batches are the caller's (bench_cpu.py
 * gives PyTorch and onnxruntime the same ones, padded); BATCH_TOKENS is the
 * backend's max_batch_tokens and must hold the largest batch.
 * One warm-up pass, then REPEATS timed passes; prints one JSON object with
 * the best and median pass.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ifs_backend.h"
#include "ifs_wts.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_cpu MODEL_DIR IDS_FILE THREADS BATCH_TOKENS REPEATS\n");
        return 2;
    }
    int threads = atoi(argv[3]), budget = atoi(argv[4]), repeats = atoi(argv[5]);
    if (budget < 512 || repeats < 1) {
        fprintf(stderr, "bench_cpu: BATCH_TOKENS must be >= 512 and REPEATS >= 1\n");
        return 2;
    }
    FILE *fp = fopen(argv[2], "rb");
    if (!fp) {
        perror(argv[2]);
        return 1;
    }
    uint32_t nb, n = 0;
    if (fread(&nb, 4, 1, fp) != 1) {
        fprintf(stderr, "bench_cpu: short file\n");
        return 1;
    }
    uint32_t *bsize = malloc(sizeof(uint32_t) * (nb + 1));
    size_t lcap = 1024, cap = 1 << 20, total = 0;
    int32_t *len = malloc(sizeof(int32_t) * lcap);
    int32_t *ids = malloc(sizeof(int32_t) * cap);
    for (uint32_t k = 0; k < nb; k++) {
        if (fread(&bsize[k], 4, 1, fp) != 1 || bsize[k] == 0) {
            fprintf(stderr, "bench_cpu: bad batch %u\n", k);
            return 1;
        }
        for (uint32_t j = 0; j < bsize[k]; j++, n++) {
            uint32_t L;
            if (fread(&L, 4, 1, fp) != 1 || L == 0 || L > 512) {
                fprintf(stderr, "bench_cpu: bad length at sequence %u\n", n);
                return 1;
            }
            if (n == lcap) {
                lcap *= 2;
                len = realloc(len, sizeof(int32_t) * lcap);
            }
            if (total + L > cap) {
                cap *= 2;
                ids = realloc(ids, sizeof(int32_t) * cap);
            }
            if (fread(ids + total, 4, L, fp) != L) {
                fprintf(stderr, "bench_cpu: short file\n");
                return 1;
            }
            len[n] = (int32_t)L;
            total += L;
        }
    }
    fclose(fp);

    char err[1024];
    ifs_wts_model *m = ifs_wts_load(argv[1], 0, err, sizeof err);
    if (!m) {
        fprintf(stderr, "bench_cpu: %s\n", err);
        return 1;
    }
    ifs_backend_opts o = ifs_backend_default_opts();
    o.n_threads = threads;
    o.max_batch_tokens = budget;
    o.max_batch_seqs = budget;
    ifs_backend *b;
    if (ifs_backend_create("cpu", ifs_wts_weights(m), &o, &b, err, sizeof err)) {
        fprintf(stderr, "bench_cpu: %s\n", err);
        return 1;
    }
    int C = ifs_wts_weights(m)->cfg.num_labels;
    float *logits = malloc(sizeof(float) * n * C);
    int32_t *off = malloc(sizeof(int32_t) * (n + 1));
    double *times = malloc(sizeof(double) * (repeats + 1));
    for (int r = 0; r <= repeats; r++) {
        double t0 = now();
        size_t tok = 0;
        uint32_t s = 0;
        for (uint32_t k = 0; k < nb; k++) {
            int32_t S = 0, T = 0;
            uint32_t first = s;
            off[0] = 0;
            for (uint32_t j = 0; j < bsize[k]; j++) {
                T += len[s++];
                off[++S] = T;
            }
            ifs_batch batch = {.n_seqs = S,
                               .n_tokens = T,
                               .input_ids = ids + tok,
                               .type_ids = NULL,
                               .seq_off = off};
            if (ifs_backend_forward(b, &batch, logits + (size_t)first * C, NULL)) {
                fprintf(stderr, "bench_cpu: %s\n", ifs_backend_error(b));
                return 1;
            }
            tok += (size_t)T;
        }
        times[r] = now() - t0;
    }
    qsort(times + 1, repeats, sizeof(double), cmp_double);
    double best = times[1], med = times[1 + repeats / 2];
    double sum = 0;
    for (uint32_t i = 0; i < n * (uint32_t)C; i++)
        sum += logits[i];
    printf(
        "{\"batches\": %u, \"seqs\": %u, \"tokens\": %zu, \"threads\": %d, \"batch_tokens\": %d, "
        "\"best_s\": %.4f, \"median_s\": %.4f, \"seqs_per_s\": %.2f, \"tokens_per_s\": %.1f, "
        "\"logit_sum\": %.6f}\n",
        nb, n, total, threads, budget, best, med, n / best, total / best, sum);
    ifs_backend_free(b);
    ifs_wts_free(m);
    free(bsize);
    free(len);
    free(ids);
    free(logits);
    free(off);
    free(times);
    return 0;
}
