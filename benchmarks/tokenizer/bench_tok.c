/*
 * bench_tok.c - tokenizer throughput: WordPiece ids (no specials, no
 * truncation, like HF encode_batch(add_special_tokens=False)) for every text
 * of a texts.bin (format: scripts/ref_tokenize.py), on T threads sharing one
 * ifs_tok, each with its own state. Prints one JSON object:
 *
 *     bench_tok MODEL_DIR TEXTS_BIN THREADS [REPEATS [MAX_LEN]]
 *     {"threads": 1, "texts": N, "bytes": B, "tokens": K, "seconds": S,
 *      "cpu_seconds": C, "tokens_per_s": K/S, "tokens_per_cpu_s": K/C, ...}
 *
 * With MAX_LEN > 0 each text is instead encoded as the scorer does,
 * ifs_tok_encode(..., MAX_LEN) ([CLS] ... [SEP], truncated): "tokens" then
 * counts the ids kept, and records_per_s / records_per_cpu_s say how many
 * texts a second (tokenizer/tok_encode.c stops once the kept ids are known).
 *
 * The best of REPEATS (default 3) runs is reported (wall and CPU time each);
 * texts are loaded before timing. CPU time (all threads of the process) is the
 * fairer per-core figure on a shared, loaded machine. run_bench.py runs this beside HF tokenizers on the same texts.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ifs_tok.h"

typedef struct {
    uint32_t n;
    const char **text;
    uint32_t *len;
} texts;

static int load_texts(const char *path, texts *t, uint8_t **keep)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz);
    if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(b);
        return -1;
    }
    fclose(f);
    size_t p = 8;
    uint32_t v;
#define U32(x)                                                                                     \
    do {                                                                                           \
        if (p + 4 > (size_t)sz)                                                                    \
            return -1;                                                                             \
        memcpy(&(x), b + p, 4);                                                                    \
        p += 4;                                                                                    \
    } while (0)
    if (sz < 8 || memcmp(b, "IFSTXT1", 8))
        return -1;
    U32(v);
    for (uint32_t i = 0, l; i < v; i++) {
        U32(l);
        p += l;
    }
    U32(t->n);
    t->text = malloc(t->n * sizeof(char *));
    t->len = malloc(t->n * sizeof(uint32_t));
    for (uint32_t i = 0, g; i < t->n; i++) {
        U32(g);
        U32(t->len[i]);
        if (p + t->len[i] > (size_t)sz)
            return -1;
        t->text[i] = (const char *)b + p;
        p += t->len[i];
    }
#undef U32
    *keep = b;
    return 0;
}

typedef struct {
    const ifs_tok *tok;
    const texts *t;
    atomic_uint *next;
    uint64_t tokens;
    int failed;
    int32_t max_len; /* 0: ifs_tok_tokenize; else ifs_tok_encode at max_len */
} worker;

static void *work(void *p)
{
    worker *w = p;
    ifs_tok_state *st = ifs_tok_state_create(w->tok);
    int32_t *buf = w->max_len > 0 ? malloc((size_t)w->max_len * sizeof(int32_t)) : NULL;
    if (w->max_len > 0 && !buf) {
        w->failed = 1;
        ifs_tok_state_free(st);
        return NULL;
    }
    for (;;) {
        uint32_t i0 = atomic_fetch_add(w->next, 64);
        if (i0 >= w->t->n)
            break;
        uint32_t i1 = i0 + 64 < w->t->n ? i0 + 64 : w->t->n;
        for (uint32_t i = i0; i < i1; i++) {
            const int32_t *ids;
            int32_t n;
            int rc = w->max_len > 0 ? ifs_tok_encode(w->tok, st, w->t->text[i], w->t->len[i],
                                                     w->max_len, buf, NULL, &n, NULL)
                                    : ifs_tok_tokenize(w->tok, st, w->t->text[i], w->t->len[i],
                                                       &ids, &n, NULL);
            if (rc)
                w->failed = 1;
            else
                w->tokens += (uint64_t)n;
        }
    }
    free(buf);
    ifs_tok_state_free(st);
    return NULL;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_tok MODEL_DIR TEXTS_BIN THREADS [REPEATS [MAX_LEN]]\n");
        return 2;
    }
    int threads = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 3;
    int max_len = argc > 5 ? atoi(argv[5]) : 0;
    if (threads < 1 || threads > 1024 || reps < 1 || max_len < 0 || max_len == 1) {
        fprintf(stderr, "bench_tok: bad THREADS, REPEATS or MAX_LEN\n");
        return 2;
    }
    char err[512];
    ifs_tok *tok = ifs_tok_load(argv[1], NULL, err, sizeof err);
    if (!tok) {
        fprintf(stderr, "bench_tok: %s\n", err);
        return 1;
    }
    texts t;
    uint8_t *keep = NULL;
    if (load_texts(argv[2], &t, &keep)) {
        fprintf(stderr, "bench_tok: cannot read %s\n", argv[2]);
        return 1;
    }
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < t.n; i++)
        bytes += t.len[i];
    double best = 1e30, best_cpu = 1e30;
    uint64_t tokens = 0;
    for (int r = 0; r < reps; r++) {
        atomic_uint next = 0;
        pthread_t th[1024];
        worker w[1024];
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        for (int k = 0; k < threads; k++) {
            w[k] = (worker){tok, &t, &next, 0, 0, max_len};
            pthread_create(&th[k], NULL, work, &w[k]);
        }
        tokens = 0;
        for (int k = 0; k < threads; k++) {
            pthread_join(th[k], NULL);
            tokens += w[k].tokens;
            if (w[k].failed) {
                fprintf(stderr, "bench_tok: a text failed to tokenize\n");
                return 1;
            }
        }
        double s = clock_s(CLOCK_MONOTONIC) - t0, c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (s < best)
            best = s;
        if (c < best_cpu)
            best_cpu = c;
    }
    printf("{\"threads\": %d, \"texts\": %u, \"bytes\": %llu, \"tokens\": %llu, \"seconds\": %.4f, "
           "\"cpu_seconds\": %.4f, \"tokens_per_s\": %.0f, \"tokens_per_cpu_s\": %.0f, "
           "\"repeats\": %d, \"max_len\": %d, \"records_per_s\": %.0f, "
           "\"records_per_cpu_s\": %.0f}\n",
           threads, t.n, (unsigned long long)bytes, (unsigned long long)tokens, best, best_cpu,
           (double)tokens / best, (double)tokens / best_cpu, reps, max_len, (double)t.n / best,
           (double)t.n / best_cpu);
    ifs_tok_free(tok);
    free(keep);
    free(t.text);
    free(t.len);
    return 0;
}
