/* bench.c - synthetic forward timing and BERT FLOP counts (ifs_bench.h). */
#define _POSIX_C_SOURCE 200809L
#include "ifs_bench.h"
#include "ifs_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

int ifs_bench_parse_lengths(const char *spec, int32_t max_len, ifs_bench_lengths *out, char *err,
                            size_t errlen)
{
    char *end;
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) {
        snprintf(err, errlen, "--lengths: empty; want N, uniform:A-B or normal:MEAN,SD");
        return IFS_BENCH_EUSAGE;
    }
    if (strncmp(spec, "uniform:", 8) == 0) {
        long a = strtol(spec + 8, &end, 10), b;
        if (end == spec + 8 || *end != '-')
            goto bad;
        const char *p = end + 1;
        b = strtol(p, &end, 10);
        if (end == p || *end)
            goto bad;
        if (a < 2 || b < a || b > max_len) {
            snprintf(err, errlen, "--lengths '%s': want 2 <= A <= B <= max-len %d", spec,
                     (int)max_len);
            return IFS_BENCH_EUSAGE;
        }
        out->kind = 1;
        out->a = (double)a;
        out->b = (double)b;
        return 0;
    }
    if (strncmp(spec, "normal:", 7) == 0) {
        double m = strtod(spec + 7, &end), sd;
        if (end == spec + 7 || *end != ',')
            goto bad;
        const char *p = end + 1;
        sd = strtod(p, &end);
        if (end == p || *end)
            goto bad;
        if (!(m >= 2 && m <= max_len) || !(sd >= 0 && sd <= 1e6)) {
            snprintf(err, errlen, "--lengths '%s': want 2 <= MEAN <= max-len %d and SD >= 0", spec,
                     (int)max_len);
            return IFS_BENCH_EUSAGE;
        }
        out->kind = 2;
        out->a = m;
        out->b = sd;
        return 0;
    }
    {
        long n = strtol(spec, &end, 10);
        if (end == spec || *end)
            goto bad;
        if (n < 2 || n > max_len) {
            snprintf(err, errlen, "--lengths '%s': want 2 <= N <= max-len %d", spec, (int)max_len);
            return IFS_BENCH_EUSAGE;
        }
        out->kind = 0;
        out->a = (double)n;
        return 0;
    }
bad:
    snprintf(err, errlen, "--lengths '%s': not understood; want N, uniform:A-B or normal:MEAN,SD",
             spec);
    return IFS_BENCH_EUSAGE;
}

double ifs_bench_seq_flops(const ifs_bert_config *c, int32_t len)
{
    double T = len, h = c->hidden, i = c->intermediate;
    double layer = 2.0 * T * (4.0 * h * h + 2.0 * h * i) + 4.0 * T * T * h;
    return c->n_layers * layer + 2.0 * h * h + 2.0 * h * c->num_labels;
}

ifs_bench_opts ifs_bench_default_opts(void)
{
    ifs_bench_opts o;
    memset(&o, 0, sizeof o);
    o.backend = "cpu";
    o.dtype = IFS_DT_F32;
    o.max_len = 512;
    o.max_batch_tokens = 16384;
    o.n_seqs = 512;
    o.warmup = 1;
    o.repeats = 5;
    o.seed = 1;
    o.lengths.kind = 0;
    o.lengths.a = 128;
    return o;
}

static int32_t draw_len(const ifs_bench_lengths *L, int32_t max_len, uint64_t *s)
{
    double v;
    if (L->kind == 0)
        v = L->a;
    else if (L->kind == 1)
        v = L->a + floor(unit(s) * (L->b - L->a + 1));
    else {
        double u1 = unit(s), u2 = unit(s);
        if (u1 < 1e-300)
            u1 = 1e-300;
        v = floor(L->a + L->b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) + 0.5);
    }
    if (v < 2)
        v = 2;
    if (v > max_len)
        v = max_len;
    return (int32_t)v;
}

void ifs_bench_result_free(ifs_bench_result *r)
{
    if (!r)
        return;
    free(r->seconds);
    memset(r, 0, sizeof *r);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void ifs_bench_summary(const double *v, int n, double *med, double *mn, double *mx)
{
    double *t = malloc((size_t)n * sizeof *t);
    if (!t || n < 1) {
        free(t);
        *med = *mn = *mx = 0;
        return;
    }
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    *mn = t[0];
    *mx = t[n - 1];
    *med = (n % 2) ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    free(t);
}

int ifs_bench_forward(const ifs_bert_weights *w, const ifs_bench_opts *o, ifs_bench_result *res,
                      char *err, size_t errlen)
{
    const ifs_bert_config *c = &w->cfg;
    int32_t max_len = o->max_len;
    memset(res, 0, sizeof *res);
    if (max_len < 2 || max_len > c->max_position) {
        snprintf(err, errlen, "--max-len %d: want 2..%d (the model's max_position_embeddings)",
                 (int)max_len, (int)c->max_position);
        return IFS_BENCH_EUSAGE;
    }
    if (o->n_seqs < 1 || o->repeats < 1 || o->repeats > 10000 || o->warmup < 0 ||
        o->max_batch_tokens < max_len) {
        snprintf(err, errlen,
                 "bench: want --seqs >= 1, --repeats 1..10000, --warmup >= 0 and "
                 "--max-batch-tokens >= --max-len (%d)",
                 (int)max_len);
        return IFS_BENCH_EUSAGE;
    }
    if (c->vocab_size < 2) {
        snprintf(err, errlen, "bench: the model's vocab_size %d is too small", (int)c->vocab_size);
        return IFS_BENCH_EUSAGE;
    }
    uint64_t s = o->seed;
    int32_t *lens = malloc((size_t)o->n_seqs * sizeof *lens);
    if (!lens)
        goto nomem;
    uint64_t total = 0;
    for (int32_t k = 0; k < o->n_seqs; k++) {
        lens[k] = draw_len(&o->lengths, max_len, &s);
        total += (uint64_t)lens[k];
        res->flops += ifs_bench_seq_flops(c, lens[k]);
    }
    int32_t *ids = malloc((size_t)total * sizeof *ids);
    int32_t *off = malloc(((size_t)o->n_seqs + 1) * sizeof *off);
    float *logits = malloc((size_t)o->n_seqs * (size_t)c->num_labels * sizeof *logits);
    res->seconds = calloc((size_t)o->repeats, sizeof *res->seconds);
    if (!ids || !off || !logits || !res->seconds) {
        free(ids);
        free(off);
        free(logits);
        free(lens);
        goto nomem;
    }
    for (uint64_t t = 0; t < total; t++)
        ids[t] = 1 + (int32_t)(splitmix(&s) % (uint64_t)(c->vocab_size - 1));
    /* batches: consecutive sequences until the token budget is full */
    int32_t max_seqs = 0, nb = 0;
    {
        int32_t start = 0;
        int64_t tok = 0;
        for (int32_t k = 0; k <= o->n_seqs; k++) {
            if (k == o->n_seqs || tok + lens[k] > o->max_batch_tokens) {
                if (k - start > max_seqs)
                    max_seqs = k - start;
                nb++;
                start = k;
                tok = 0;
            }
            if (k < o->n_seqs)
                tok += lens[k];
        }
    }
    ifs_backend_opts bo = ifs_backend_default_opts();
    bo.n_threads = o->cpu_threads;
    bo.dtype = o->dtype;
    bo.max_batch_tokens = o->max_batch_tokens;
    bo.max_batch_seqs = max_seqs;
    ifs_backend *b = NULL;
    int rc = ifs_backend_create(o->backend, w, &bo, &b, err, errlen);
    if (rc) {
        free(ids);
        free(off);
        free(logits);
        free(lens);
        ifs_bench_result_free(res);
        return rc == IFS_BK_ENOMEM   ? IFS_BENCH_ENOMEM
               : rc == IFS_BK_EUNSUP ? IFS_BENCH_EUSAGE
                                     : IFS_BENCH_EFAIL;
    }
    rc = 0;
    for (int pass = 0; pass < o->warmup + o->repeats && !rc; pass++) {
        double t0 = ifs_time_now();
        int32_t start = 0;
        uint64_t tok_at = 0;
        while (start < o->n_seqs && !rc) {
            int32_t k = start, tok = 0;
            off[0] = 0;
            while (k < o->n_seqs && tok + lens[k] <= o->max_batch_tokens) {
                tok += lens[k];
                off[k - start + 1] = tok;
                k++;
            }
            ifs_batch bt = {.n_seqs = k - start,
                            .n_tokens = tok,
                            .input_ids = ids + tok_at,
                            .type_ids = NULL,
                            .seq_off = off};
            if (ifs_backend_forward(b, &bt, logits, NULL)) {
                snprintf(err, errlen, "bench: forward failed: %s", ifs_backend_error(b));
                rc = IFS_BENCH_EFAIL;
            }
            tok_at += (uint64_t)tok;
            start = k;
        }
        if (pass >= o->warmup)
            res->seconds[pass - o->warmup] = ifs_time_now() - t0;
    }
    ifs_backend_free(b);
    free(ids);
    free(off);
    free(logits);
    free(lens);
    if (rc) {
        ifs_bench_result_free(res);
        return rc;
    }
    res->repeats = o->repeats;
    res->seqs = (uint64_t)o->n_seqs;
    res->tokens = total;
    res->batches = (uint64_t)nb;
    return 0;
nomem:
    ifs_bench_result_free(res);
    snprintf(err, errlen, "bench: out of memory for %d sequences", (int)o->n_seqs);
    return IFS_BENCH_ENOMEM;
}
