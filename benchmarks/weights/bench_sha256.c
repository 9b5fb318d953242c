/*
 * bench_sha256.c - SHA-256 throughput of the project's API (ifs_sha256.h)
 * beside libcrypto's EVP interface called directly, same bytes, same run,
 * one thread. Three shapes of work, because callers hash all three ways:
 *   large  - one update per 64 MiB buffer (weights, whole input shards);
 *   4k     - a long message fed in 4 KiB updates (a reader hashing what it
 *            decompresses, chunk by chunk);
 *   msg4k  - many 4 KiB messages, each init + update + final (per-call
 *            overhead: context set-up and the padding block).
 * Every figure is the best of --repeats, in MB/s (10^6 bytes) of wall time
 * and of CPU time (the machine is shared: CPU time is the steadier one; only
 * the ratios of one run mean anything). Digests of both sides must agree.
 *
 *     bench_sha256 [--mib N] [--repeats R] [--note TEXT] [--out FILE]
 *
 * Appends one JSON line to FILE (default: stdout only) with the machine (CPU
 * model, whether it has the SHA extensions, cores, load average), the
 * commit, the OpenSSL version and every figure with the ifscore/libcrypto
 * ratio.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ifs_commit.h"
#include "ifs_sha256.h"

#define BUF (64u << 20)
#define SMALL 4096u

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef enum { LARGE, UPD4K, MSG4K } shape;
static const char *const SHAPE_NAME[] = {"large", "4k_updates", "4k_messages"};

/* Hashes `total` bytes of buf the way `s` says; out gets a digest that
 * depends on every byte hashed (the XOR of the per-message digests). */
static void run_ifs(const uint8_t *buf, size_t total, shape s, uint8_t out[32])
{
    memset(out, 0, 32);
    ifs_sha256_ctx c;
    uint8_t d[32];
    int rc = 0;
    if (s == MSG4K) {
        for (size_t off = 0; off < total && !rc; off += SMALL) {
            rc = ifs_sha256_init(&c);
            ifs_sha256_update(&c, buf + off % BUF, SMALL);
            rc = rc ? rc : ifs_sha256_final(&c, d);
            for (int i = 0; i < 32; i++)
                out[i] ^= d[i];
        }
    } else {
        size_t step = s == LARGE ? BUF : SMALL;
        rc = ifs_sha256_init(&c);
        for (size_t off = 0; off < total; off += step)
            ifs_sha256_update(&c, buf + off % BUF, step);
        rc = rc ? rc : ifs_sha256_final(&c, out);
    }
    if (rc) {
        fprintf(stderr, "bench_sha256: %s\n", ifs_sha256_strerror(rc));
        exit(1);
    }
}

static void run_evp(const uint8_t *buf, size_t total, shape s, uint8_t out[32])
{
    memset(out, 0, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    uint8_t d[32];
    unsigned n;
    if (!c || !md) {
        fprintf(stderr, "bench_sha256: libcrypto has no SHA256\n");
        exit(1);
    }
    if (s == MSG4K) {
        for (size_t off = 0; off < total; off += SMALL) {
            EVP_DigestInit_ex(c, md, NULL);
            EVP_DigestUpdate(c, buf + off % BUF, SMALL);
            EVP_DigestFinal_ex(c, d, &n);
            for (int i = 0; i < 32; i++)
                out[i] ^= d[i];
        }
    } else {
        size_t step = s == LARGE ? BUF : SMALL;
        EVP_DigestInit_ex(c, md, NULL);
        for (size_t off = 0; off < total; off += step)
            EVP_DigestUpdate(c, buf + off % BUF, step);
        EVP_DigestFinal_ex(c, out, &n);
    }
    EVP_MD_free(md);
    EVP_MD_CTX_free(c);
}

static void cpu_model(char *model, size_t len, int *sha_ext)
{
    snprintf(model, len, "unknown");
    *sha_ext = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int got = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!got && !strncmp(line, "model name", 10)) {
            char *p = strchr(line, ':');
            if (p) {
                p += 1 + (p[1] == ' ');
                p[strcspn(p, "\n")] = '\0';
                snprintf(model, len, "%s", p);
                got = 1;
            }
        }
        /* x86: sha_ni; arm64: sha2 */
        if ((!strncmp(line, "flags", 5) || !strncmp(line, "Features", 8)) &&
            (strstr(line, " sha_ni") || strstr(line, " sha2")))
            *sha_ext = 1;
    }
    if (f)
        fclose(f);
    for (char *p = model; *p; p++)
        if (*p == '"' || *p == '\\')
            *p = ' ';
}

static void loadavg(double l[3])
{
    l[0] = l[1] = l[2] = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
            l[0] = l[1] = l[2] = -1;
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    size_t mib = 512;
    int repeats = 3;
    const char *note = "", *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mib") && i + 1 < argc)
            mib = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--note") && i + 1 < argc)
            note = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr,
                    "usage: bench_sha256 [--mib N] [--repeats R] [--note TEXT] [--out FILE]\n");
            return 2;
        }
    }
    if (mib < 64 || mib % 64 || repeats < 1) {
        fprintf(stderr, "bench_sha256: --mib must be a multiple of 64, --repeats >= 1\n");
        return 2;
    }
    size_t total = mib << 20;
    uint8_t *buf = malloc(BUF);
    if (!buf) {
        fprintf(stderr, "bench_sha256: out of memory\n");
        return 1;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < BUF; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)(x >> 32);
    }
    char model[256];
    int sha_ext;
    cpu_model(model, sizeof model, &sha_ext);
    double l0[3], l1[3];
    loadavg(l0);

    double best[3][2][2]; /* shape, impl (0 ifscore, 1 libcrypto), wall/cpu seconds */
    int agree = 1;
    for (int s = 0; s < 3; s++) {
        for (int k = 0; k < 2; k++)
            best[s][k][0] = best[s][k][1] = 1e300;
        for (int r = 0; r < repeats; r++) {
            uint8_t d[2][32];
            for (int k = 0; k < 2; k++) {
                double w = wall(), c = cpu();
                if (k == 0)
                    run_ifs(buf, total, (shape)s, d[0]);
                else
                    run_evp(buf, total, (shape)s, d[1]);
                w = wall() - w, c = cpu() - c;
                if (w < best[s][k][0])
                    best[s][k][0] = w;
                if (c < best[s][k][1])
                    best[s][k][1] = c;
            }
            if (memcmp(d[0], d[1], 32))
                agree = 0;
        }
    }
    loadavg(l1);

    char line[4096];
    size_t n = 0;
    time_t now = time(NULL);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    n += (size_t)snprintf(
        line + n, sizeof line - n,
        "{\"bench\": \"sha256\", \"time\": \"%s\", \"commit\": \"%s\", \"note\": \"%s\", "
        "\"machine\": {\"cpu\": \"%s\", \"sha_extensions\": %s, \"threads\": 1, "
        "\"loadavg_before\": [%.2f, %.2f, %.2f], \"loadavg_after\": [%.2f, %.2f, %.2f]}, "
        "\"openssl\": \"%s\", \"data\": {\"bytes_per_run\": %zu, \"buffer_bytes\": %u, "
        "\"small_bytes\": %u, \"repeats\": %d}",
        ts, IFS_GIT_COMMIT, note, model, sha_ext ? "true" : "false", l0[0], l0[1], l0[2], l1[0],
        l1[1], l1[2], OpenSSL_version(OPENSSL_VERSION), total, BUF, SMALL, repeats);
    for (int s = 0; s < 3; s++) {
        double mb = (double)total / 1e6;
        n += (size_t)snprintf(
            line + n, sizeof line - n,
            ", \"%s\": {\"ifscore_mb_s\": %.1f, \"libcrypto_mb_s\": %.1f, "
            "\"ifscore_cpu_mb_s\": %.1f, \"libcrypto_cpu_mb_s\": %.1f, "
            "\"ratio_ifscore_vs_libcrypto\": %.3f, \"ratio_cpu_ifscore_vs_libcrypto\": %.3f}",
            SHAPE_NAME[s], mb / best[s][0][0], mb / best[s][1][0], mb / best[s][0][1],
            mb / best[s][1][1], best[s][1][0] / best[s][0][0], best[s][1][1] / best[s][0][1]);
    }
    snprintf(line + n, sizeof line - n, ", \"digests_agree\": %s}\n", agree ? "true" : "false");
    fputs(line, stdout);
    if (out) {
        FILE *f = fopen(out, "a");
        if (!f || fputs(line, f) == EOF || fclose(f) != 0) {
            fprintf(stderr, "bench_sha256: cannot append to %s\n", out);
            return 1;
        }
    }
    free(buf);
    return agree ? 0 : 1;
}
