/*
 * parity_cpu.h - the CPU backend against committed HF transformers logits
 * (tests/cpu/fixtures/, made by scripts/ref_logits.py with torch). One
 * parity_cpu_*.c per model calls parity_cpu_run, so each model is its own
 * CTest entry (own skip, own time).
 *
 * Steps: regenerate the model with `$IFS_BIN gen-model <args>` into the
 * test's scratch folder; check its model.safetensors sha256 against the
 * fixture's (a different file means the fixture no longer describes this
 * model: regenerate it, see tests/cpu/fixtures/README.md); load it with the
 * weights module (f16 storage converted on load); run the "cpu" backend on
 * the fixture's token ids in token-budgeted batches of mixed lengths; require
 * max |logit - HF| <= 1e-4 and the same argmax for every sequence.
 * Header-only; include from one test program each.
 */
#ifndef IFS_PARITY_CPU_H
#define IFS_PARITY_CPU_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "ifs_backend.h"
#include "ifs_sha256.h"
#include "ifs_test.h"
#include "ifs_wts.h"

#define PARITY_ATOL 1e-4

typedef struct {
    uint32_t n_seqs, num_labels, has_types, n_tokens;
    char sha[65];
    uint16_t *lengths, *ids;
    uint8_t *types;
    float *logits;
    void *raw;
} parity_fixture;

static int parity_read_fixture(const char *path, parity_fixture *f)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    void *comp = malloc((size_t)n);
    if (fread(comp, 1, (size_t)n, fp) != (size_t)n) {
        fclose(fp);
        free(comp);
        return -1;
    }
    fclose(fp);
    unsigned long long size = ZSTD_getFrameContentSize(comp, (size_t)n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size < 88) {
        free(comp);
        return -2;
    }
    uint8_t *raw = malloc(size);
    size_t got = ZSTD_decompress(raw, size, comp, (size_t)n);
    free(comp);
    if (ZSTD_isError(got) || got != size || memcmp(raw, "IFSLGT01", 8)) {
        free(raw);
        return -2;
    }
    uint32_t hdr[4];
    memcpy(hdr, raw + 8, sizeof hdr);
    f->n_seqs = hdr[0];
    f->num_labels = hdr[1];
    f->has_types = hdr[2];
    f->n_tokens = hdr[3];
    memcpy(f->sha, raw + 24, 64);
    f->sha[64] = '\0';
    size_t off = 88;
    size_t need = off + 2ull * f->n_seqs + 2ull * f->n_tokens + (f->has_types ? f->n_tokens : 0) +
                  4ull * f->n_seqs * f->num_labels;
    if (need != size) {
        free(raw);
        return -2;
    }
    /* copy into aligned arrays (the blob's fields are packed) */
    f->lengths = malloc(2ull * f->n_seqs);
    memcpy(f->lengths, raw + off, 2ull * f->n_seqs);
    off += 2ull * f->n_seqs;
    f->ids = malloc(2ull * f->n_tokens);
    memcpy(f->ids, raw + off, 2ull * f->n_tokens);
    off += 2ull * f->n_tokens;
    if (f->has_types) {
        f->types = malloc(f->n_tokens);
        memcpy(f->types, raw + off, f->n_tokens);
        off += f->n_tokens;
    }
    f->logits = malloc(4ull * f->n_seqs * f->num_labels);
    memcpy(f->logits, raw + off, 4ull * f->n_seqs * f->num_labels);
    free(raw);
    return 0;
}

static void parity_free_fixture(parity_fixture *f)
{
    free(f->lengths);
    free(f->ids);
    free(f->types);
    free(f->logits);
}

static int parity_argmax(const float *v, int n)
{
    int k = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[k])
            k = i;
    return k;
}

/* make_args: the ifscore subcommand and options that write the model into
 * the folder given by a trailing --out DIR (gen-model, attach-head), as one
 * shell string ($IFS_MODELS_DIR and $IFS_SOURCE_DIR are expanded by the
 * shell). needs_models: the string uses $IFS_MODELS_DIR/<needs_models>
 * (skip when absent). */
static int parity_cpu_run(const char *name, const char *fixture, const char *make_args,
                          const char *needs_models)
{
    const char *src = ifs_test_env("IFS_SOURCE_DIR", NULL);
    const char *bin = ifs_test_env("IFS_BIN", NULL);
    const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
    const char *models = ifs_test_env("IFS_MODELS_DIR", NULL);
    if (!src || !bin)
        IFS_SKIP("IFS_SOURCE_DIR / IFS_BIN not set (run through ctest)");
    char path[8192], dir[4096], cmd[16384];
    struct stat st;
    if (needs_models) {
        snprintf(path, sizeof path, "%s/%s/model.safetensors", models ? models : "", needs_models);
        if (!models || stat(path, &st))
            IFS_SKIP("%s needs %s (run scripts/setup.sh to fetch it)", name, path);
    }
    snprintf(path, sizeof path, "%s/tests/cpu/fixtures/%s", src, fixture);
    parity_fixture f;
    int rc = parity_read_fixture(path, &f);
    IFS_CHECK(rc == 0, "%s: cannot read fixture %s (%d)", name, path, rc);
    if (rc)
        return ifs_test_done(name);

    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    snprintf(cmd, sizeof cmd,
             "IFS_MODELS_DIR='%s' IFS_SOURCE_DIR='%s' '%s' %s --out '%s' >/dev/null",
             models ? models : "", src, bin, make_args, dir);
    rc = system(cmd);
    IFS_CHECK(rc == 0, "%s: making the model failed: %s", name, cmd);
    if (rc)
        return ifs_test_done(name);
    char sha[65];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    IFS_CHECK(ifs_sha256_file_hex(path, sha) == 0, "%s: cannot hash %s", name, path);
    IFS_CHECK(!strcmp(sha, f.sha),
              "%s: the command wrote a different model (sha256 %s, fixture "
              "made from %s): regenerate the fixture (tests/cpu/fixtures/README.md)",
              name, sha, f.sha);
    if (strcmp(sha, f.sha))
        return ifs_test_done(name);

    char err[1024];
    ifs_wts_model *m = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(m != NULL, "%s: load: %s", name, err);
    if (!m)
        return ifs_test_done(name);
    const ifs_bert_weights *w = ifs_wts_weights(m);
    int C = w->cfg.num_labels;
    IFS_CHECK(C == (int)f.num_labels, "%s: %d labels, fixture has %u", name, C, f.num_labels);

    ifs_backend_opts o = ifs_backend_default_opts();
    o.max_batch_tokens = 8192;
    o.max_batch_seqs = 256;
    ifs_backend *b = NULL;
    rc = ifs_backend_create("cpu", w, &o, &b, err, sizeof err);
    IFS_CHECK(rc == 0, "%s: backend: %s", name, err);
    if (rc || C != (int)f.num_labels) {
        ifs_wts_free(m);
        return ifs_test_done(name);
    }

    int32_t *ids = malloc(sizeof(int32_t) * o.max_batch_tokens);
    int32_t *tys = malloc(sizeof(int32_t) * o.max_batch_tokens);
    int32_t *off = malloc(sizeof(int32_t) * (o.max_batch_seqs + 1));
    float *got = malloc(sizeof(float) * f.n_seqs * C);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint32_t seq = 0;
    size_t tok = 0;
    while (seq < f.n_seqs && rc == 0) {
        /* pack sequences in fixture order until the token budget is full */
        int32_t S = 0, T = 0;
        uint32_t first = seq;
        off[0] = 0;
        while (seq < f.n_seqs && S < o.max_batch_seqs && T + f.lengths[seq] <= o.max_batch_tokens) {
            for (uint32_t t = 0; t < f.lengths[seq]; t++) {
                ids[T + t] = f.ids[tok + t];
                tys[T + t] = f.types ? f.types[tok + t] : 0;
            }
            T += f.lengths[seq];
            tok += f.lengths[seq];
            off[++S] = T;
            seq++;
        }
        ifs_batch batch = {.n_seqs = S,
                           .n_tokens = T,
                           .input_ids = ids,
                           .type_ids = f.types ? tys : NULL,
                           .seq_off = off};
        rc = ifs_backend_forward(b, &batch, got + (size_t)first * C, NULL);
        IFS_CHECK(rc == 0, "%s: forward: %s", name, ifs_backend_error(b));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

    double worst = 0;
    uint32_t worst_seq = 0, label_mismatch = 0, over = 0;
    for (uint32_t i = 0; rc == 0 && i < f.n_seqs; i++) {
        for (int c = 0; c < C; c++) {
            double d = fabs((double)got[(size_t)i * C + c] - f.logits[(size_t)i * C + c]);
            if (!(d <= worst)) {
                worst = d;
                worst_seq = i;
            }
            if (!(d <= PARITY_ATOL))
                over++;
        }
        if (parity_argmax(got + (size_t)i * C, C) != parity_argmax(f.logits + (size_t)i * C, C))
            label_mismatch++;
    }
    IFS_CHECK(over == 0,
              "%s: %u logits differ from HF by more than %g (max %.3g at sequence %u "
              "of length %u)",
              name, over, PARITY_ATOL, worst, worst_seq, f.lengths[worst_seq]);
    IFS_CHECK(label_mismatch == 0, "%s: %u sequences get another label than HF", name,
              label_mismatch);
    /* the budget must be small next to the logits' spread, or the test
     * could pass with a broken model: seeded heads give small logits */
    double mean = 0, var = 0;
    size_t nl = (size_t)f.n_seqs * C;
    for (size_t i = 0; i < nl; i++)
        mean += f.logits[i];
    mean /= (double)nl;
    for (size_t i = 0; i < nl; i++)
        var += (f.logits[i] - mean) * (f.logits[i] - mean);
    double sd = sqrt(var / (double)nl);
    IFS_CHECK(sd >= 100 * PARITY_ATOL,
              "%s: the reference logits spread only %.3g (std): a %g "
              "budget would not catch a broken model",
              name, sd, PARITY_ATOL);
    unsigned seen[513] = {0}, distinct = 0;
    for (uint32_t i = 0; i < f.n_seqs; i++)
        if (f.lengths[i] <= 512 && !seen[f.lengths[i]]++)
            distinct++;
    printf("%s: %u sequences (%u tokens, %u distinct lengths, %u at 512), %d labels: "
           "max |logit - HF| = %.3g (%.2g of the logits' std %.3g; sequence %u, length %u), "
           "labels identical: %s; "
           "forward %.1f s on %d threads\n",
           name, f.n_seqs, f.n_tokens, distinct, seen[512], C, worst, worst / sd, sd, worst_seq,
           f.lengths[worst_seq], label_mismatch ? "no" : "yes", secs,
           (int)sysconf(_SC_NPROCESSORS_ONLN));
    free(ids);
    free(tys);
    free(off);
    free(got);
    ifs_backend_free(b);
    ifs_wts_free(m);
    parity_free_fixture(&f);
    return ifs_test_done(name);
}

#endif
