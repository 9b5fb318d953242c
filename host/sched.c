/*
 * sched.c - the scoring pipeline: chunks of submitted items, tokenizer
 * workers, length-sorted packed batches, backend workers, in-order delivery.
 *
 * Decisions (see ifs_sched.h for the contract):
 *   - One mutex guards every queue and counter. The work done outside it
 *     (tokenizing a slice, sorting a chunk, a forward call, the sink) is
 *     orders of magnitude longer than the critical sections, so a finer
 *     scheme would buy nothing measurable and cost clarity.
 *   - A chunk moves through: filling (producer only, no lock) -> sealed
 *     (tokenizer slices queued) -> cut (batches queued) -> done -> delivered
 *     and freed by the delivery thread. Whoever finishes a chunk's last
 *     slice sorts and cuts it, outside the lock; whoever finishes its last
 *     batch marks it done. Chunks are freed only by the delivery thread, or
 *     by ifs_sched_free after every thread has been joined, so a worker
 *     never sees a freed chunk.
 *   - Batches are cut from one chunk at a time, so batch composition is a
 *     function of the submission sequence and the budgets alone.
 */
#include "ifs_sched.h"
#include "ifs_buf.h"
#include "ifs_time.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ST_PENDING = 255 };

typedef struct {
    void *user;
    char *text;   /* owned until tokenized; a pair: a's bytes then b's */
    size_t len;   /* all the text's bytes (a pair: alen + blen) */
    size_t alen;  /* a pair: bytes of the first text (the instruction) */
    int32_t *ids; /* owned; NULL until tokenized */
    int32_t n_ids, n_untrunc;
    int32_t n_type0; /* ids of token type 0 (a pair's [CLS] a [SEP]; else all) */
    uint8_t pass, is_pair, truncated, outcome, reason;
    char *detail; /* owned; rejects only */
} item;

typedef struct chunk {
    uint64_t first_seq;
    item *it;
    int32_t n, cap;
    int32_t n_delivered; /* items handed to the sink (delivery thread) */
    size_t bytes;
    float *logits; /* [n * num_labels], allocated at cut */
    int32_t slices_left;
    int32_t batches_left;
    int done;
    struct chunk *next;
} chunk;

typedef struct task {
    chunk *c;
    int32_t lo, hi;
    struct task *next;
} task;

typedef struct fbatch {
    chunk *c;
    int32_t n;
    int32_t *idx; /* item indices in the chunk, sorted by length */
    struct fbatch *next;
} fbatch;

struct ifs_sched;

typedef struct {
    struct ifs_sched *s;
    void *engine;
    pthread_t th;
    int started;
    int32_t cap_tokens; /* shrinks after ENOMEM */
    int32_t *ids, *types, *off;
    float *logits;
    char err[512];
} bworker;

typedef struct {
    struct ifs_sched *s;
    pthread_t th;
    int started;
} tworker;

struct ifs_sched {
    ifs_sched_opts o;
    const ifs_tok *tok;
    const ifs_bert_config *cfg;
    int32_t L;
    ifs_sched_sink sink;
    void *ctx;

    pthread_mutex_t mu;
    pthread_cond_t cv_tok, cv_fwd, cv_deliver, cv_space;

    chunk *head, *tail; /* in flight, submission order (incl. the filling one) */
    int n_chunks;
    chunk *cur; /* being filled by the producer; also in the list */
    task *tq_head, *tq_tail;
    fbatch *bq_head, *bq_tail;
    uint64_t next_seq;

    int stop; /* cancel or failure: everyone leaves */
    int quit; /* ifs_sched_free: threads exit */
    int finishing;
    int status;
    char errmsg[768];

    ifs_sched_stats st;

    tworker *tw;
    int n_tw;
    bworker *bw;
    int n_bw;
    pthread_t dth;
    int dstarted;
    int delivering; /* the delivery thread is handing a chunk to the sink (unlocked) */
};

static char *strdupf(const char *fmt, ...)
{
    char buf[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, buf, n);
    return p;
}

/* Caller holds mu. The first failure wins; later ones keep its words. */
static void fail_locked(ifs_sched *s, int status, const char *fmt, ...)
{
    if (!s->stop) {
        s->stop = 1;
        s->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
        va_end(ap);
    }
    pthread_cond_broadcast(&s->cv_tok);
    pthread_cond_broadcast(&s->cv_fwd);
    pthread_cond_broadcast(&s->cv_deliver);
    pthread_cond_broadcast(&s->cv_space);
}

ifs_sched_opts ifs_sched_default_opts(void)
{
    ifs_sched_opts o;
    memset(&o, 0, sizeof o);
    o.n_threads = 2;
    o.max_len = 512;
    o.max_batch_tokens = 16384;
    o.max_batch_seqs = 512;
    o.chunk_records = 4096;
    o.chunk_bytes = (size_t)32 << 20;
    o.max_chunks = 4;
    o.slice = 64;
    o.forward = NULL;
    return o;
}

const char *ifs_sched_strerror(int rc)
{
    switch (rc) {
    case IFS_SCHED_OK: return "ok";
    case IFS_SCHED_EARG: return "bad argument";
    case IFS_SCHED_ENOMEM: return "out of host memory";
    case IFS_SCHED_EBACKEND: return "backend failure";
    case IFS_SCHED_ESINK: return "output failure";
    case IFS_SCHED_ECANCELED: return "canceled";
    case IFS_SCHED_ETHREAD: return "could not start a thread";
    default: return "unknown scheduler status";
    }
}

const char *ifs_sched_reason_str(ifs_sched_reason r)
{
    switch (r) {
    case IFS_SCHED_R_NONE: return "none";
    case IFS_SCHED_R_UTF8: return "invalid_utf8";
    case IFS_SCHED_R_TOKENIZE: return "tokenizer_error";
    case IFS_SCHED_R_OOM: return "backend_oom";
    case IFS_SCHED_R_BACKEND: return "backend_rejected";
    case IFS_SCHED_R_NONFINITE: return "nonfinite_logits";
    }
    return "unknown";
}

double ifs_sched_prob(const float *logits, int32_t num_labels, int32_t answer)
{
    if (!logits || num_labels <= 0 || answer < 0 || answer >= num_labels)
        return NAN;
    double mx = logits[0];
    for (int32_t i = 1; i < num_labels; i++)
        if (logits[i] > mx)
            mx = logits[i];
    double sum = 0;
    for (int32_t i = 0; i < num_labels; i++)
        sum += exp((double)logits[i] - mx);
    return exp((double)logits[answer] - mx) / sum;
}

/* ---- chunks ------------------------------------------------------------ */

static void chunk_free(chunk *c)
{
    if (!c)
        return;
    for (int32_t i = 0; i < c->n; i++) {
        free(c->it[i].text);
        free(c->it[i].ids);
        free(c->it[i].detail);
    }
    free(c->it);
    free(c->logits);
    free(c);
}

/* Producer: gets the chunk being filled, opening one (and waiting for room)
 * when there is none. Returns NULL with s->status set when the run stopped. */
static chunk *cur_chunk(ifs_sched *s, int *rc)
{
    if (s->cur)
        return s->cur;
    pthread_mutex_lock(&s->mu);
    while (!s->stop && s->n_chunks >= s->o.max_chunks)
        pthread_cond_wait(&s->cv_space, &s->mu);
    if (s->stop) {
        *rc = s->status;
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    pthread_mutex_unlock(&s->mu);
    chunk *c = calloc(1, sizeof *c);
    item *it = c ? calloc((size_t)s->o.chunk_records, sizeof *it) : NULL;
    if (!it) {
        free(c);
        pthread_mutex_lock(&s->mu);
        fail_locked(s, IFS_SCHED_ENOMEM, "out of memory for a chunk of %d records",
                    s->o.chunk_records);
        *rc = s->status;
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    c->it = it;
    c->cap = s->o.chunk_records;
    pthread_mutex_lock(&s->mu);
    c->first_seq = s->next_seq;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    s->n_chunks++;
    pthread_mutex_unlock(&s->mu);
    s->cur = c;
    return c;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts the chunk's tokenized records by (length, index) and cuts them into
 * batches. Called outside the lock by the thread that finished the last
 * slice (or by the producer for a chunk with nothing to tokenize). */
static void cut_chunk(ifs_sched *s, chunk *c)
{
    int32_t n = 0;
    int32_t *idx = malloc(sizeof *idx * (size_t)(c->n ? c->n : 1));
    float *lg = malloc(sizeof *lg * (size_t)(c->n ? c->n : 1) * (size_t)s->L);
    if (!idx || !lg) {
        free(idx);
        free(lg);
        pthread_mutex_lock(&s->mu);
        fail_locked(s, IFS_SCHED_ENOMEM, "out of memory cutting a chunk into batches");
        pthread_mutex_unlock(&s->mu);
        return;
    }
    c->logits = lg;
    for (int32_t i = 0; i < c->n; i++)
        if (!c->it[i].pass && c->it[i].outcome == ST_PENDING)
            idx[n++] = i;
    /* Sort keys (length << 32 | index): deterministic, ties by index. */
    uint64_t *key = malloc(sizeof *key * (size_t)(n ? n : 1));
    if (!key) {
        free(idx);
        pthread_mutex_lock(&s->mu);
        fail_locked(s, IFS_SCHED_ENOMEM, "out of memory sorting a chunk");
        pthread_mutex_unlock(&s->mu);
        return;
    }
    for (int32_t i = 0; i < n; i++)
        key[i] = ((uint64_t)(uint32_t)c->it[idx[i]].n_ids << 32) | (uint32_t)idx[i];
    qsort(key, (size_t)n, sizeof *key, cmp_u64);
    for (int32_t i = 0; i < n; i++)
        idx[i] = (int32_t)(key[i] & 0xffffffffu);
    free(key);
    fbatch *first = NULL, *last = NULL;
    int32_t nb = 0;
    int32_t i = 0;
    int oom = 0;
    while (i < n) {
        int32_t j = i, tokens = 0;
        while (j < n && j - i < s->o.max_batch_seqs &&
               tokens + c->it[idx[j]].n_ids <= s->o.max_batch_tokens) {
            tokens += c->it[idx[j]].n_ids;
            j++;
        }
        fbatch *b = malloc(sizeof *b);
        int32_t *bi = b ? malloc(sizeof *bi * (size_t)(j - i)) : NULL;
        if (!bi) {
            free(b);
            oom = 1;
            break;
        }
        memcpy(bi, idx + i, sizeof *bi * (size_t)(j - i));
        b->c = c;
        b->n = j - i;
        b->idx = bi;
        b->next = NULL;
        if (last)
            last->next = b;
        else
            first = b;
        last = b;
        nb++;
        i = j;
    }
    free(idx);
    pthread_mutex_lock(&s->mu);
    if (oom) {
        while (first) {
            fbatch *nx = first->next;
            free(first->idx);
            free(first);
            first = nx;
        }
        fail_locked(s, IFS_SCHED_ENOMEM, "out of memory queueing batches");
        pthread_mutex_unlock(&s->mu);
        return;
    }
    c->batches_left = nb;
    if (nb == 0) {
        c->done = 1;
        pthread_cond_broadcast(&s->cv_deliver);
    } else {
        if (s->bq_tail)
            s->bq_tail->next = first;
        else
            s->bq_head = first;
        s->bq_tail = last;
        pthread_cond_broadcast(&s->cv_fwd);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Producer: closes the chunk being filled and queues its tokenizer slices. */
static void seal(ifs_sched *s)
{
    chunk *c = s->cur;
    if (!c)
        return;
    s->cur = NULL;
    int32_t slice = s->o.slice;
    task *first = NULL, *last = NULL;
    int32_t ns = 0;
    for (int32_t lo = 0; lo < c->n; lo += slice) {
        int32_t hi = lo + slice < c->n ? lo + slice : c->n;
        int any = 0;
        for (int32_t i = lo; i < hi && !any; i++)
            any = !c->it[i].pass;
        if (!any)
            continue;
        task *t = malloc(sizeof *t);
        if (!t) {
            while (first) {
                task *nx = first->next;
                free(first);
                first = nx;
            }
            pthread_mutex_lock(&s->mu);
            fail_locked(s, IFS_SCHED_ENOMEM, "out of memory queueing tokenizer tasks");
            pthread_mutex_unlock(&s->mu);
            return;
        }
        t->c = c;
        t->lo = lo;
        t->hi = hi;
        t->next = NULL;
        if (last)
            last->next = t;
        else
            first = t;
        last = t;
        ns++;
    }
    if (ns == 0) {
        cut_chunk(s, c);
        return;
    }
    pthread_mutex_lock(&s->mu);
    c->slices_left = ns;
    if (s->tq_tail)
        s->tq_tail->next = first;
    else
        s->tq_head = first;
    s->tq_tail = last;
    pthread_cond_broadcast(&s->cv_tok);
    pthread_mutex_unlock(&s->mu);
}

/* ---- tokenizer workers ------------------------------------------------- */

static void *tok_main(void *arg)
{
    tworker *w = arg;
    ifs_sched *s = w->s;
    ifs_tok_state *st = ifs_tok_state_create(s->tok);
    int32_t *buf = malloc(sizeof *buf * (size_t)s->o.max_len);
    int32_t *tbuf = malloc(sizeof *tbuf * (size_t)s->o.max_len); /* a pair's token types */
    void *wstate = NULL; /* opts.prepare's slot for this worker */
    if (!st || !buf || !tbuf) {
        pthread_mutex_lock(&s->mu);
        fail_locked(s, IFS_SCHED_ENOMEM, "out of memory starting a tokenizer worker");
        pthread_mutex_unlock(&s->mu);
        ifs_tok_state_free(st);
        free(buf);
        free(tbuf);
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->tq_head && !s->stop && !s->quit)
            pthread_cond_wait(&s->cv_tok, &s->mu);
        if (s->stop || s->quit)
            break;
        task *t = s->tq_head;
        s->tq_head = t->next;
        if (!s->tq_head)
            s->tq_tail = NULL;
        pthread_mutex_unlock(&s->mu);

        double t0 = ifs_time_now();
        chunk *c = t->c;
        uint64_t trunc = 0, tbytes = 0;
        double prep = 0;
        int nomem = 0;
        for (int32_t i = t->lo; i < t->hi; i++) {
            item *it = &c->it[i];
            if (it->pass)
                continue;
            /* the text (and a pair's first text) to tokenize: as submitted, or
             * what opts.prepare makes of the submitted bytes */
            ifs_sched_text tx = {it->text, it->len, NULL, 0};
            if (it->is_pair)
                tx = (ifs_sched_text){it->text + it->alen, it->len - it->alen, it->text, it->alen};
            if (s->o.prepare) {
                double p0 = ifs_time_now();
                int pr = s->o.prepare(s->ctx, &wstate, &it->user, it->text, it->len, &tx);
                prep += ifs_time_now() - p0;
                if (pr < 0) {
                    nomem = 1;
                    break;
                }
                if (pr == 0) {
                    /* not to be scored: delivered as a pass (cut_chunk skips it) */
                    free(it->text);
                    it->text = NULL;
                    it->pass = 1;
                    continue;
                }
                it->is_pair = (uint8_t)(tx.pair != NULL);
            }
            tbytes += tx.len + tx.pair_len;
            int32_t n = 0;
            ifs_tok_result r;
            memset(&r, 0, sizeof r);
            int rc, bad_in_b = 0;
            if (tx.pair)
                rc = ifs_tok_encode_pair_cap(s->tok, st, tx.pair, tx.pair_len, tx.text, tx.len,
                                             s->o.max_len, s->o.pair_a_max, buf, tbuf, &n, &r,
                                             &bad_in_b);
            else
                rc = ifs_tok_encode(s->tok, st, tx.text, tx.len, s->o.max_len, buf, NULL, &n, &r);
            free(it->text);
            it->text = NULL;
            if (rc == IFS_TOK_OK && n >= 1) {
                it->ids = malloc(sizeof *it->ids * (size_t)n);
                if (!it->ids) {
                    nomem = 1;
                    break;
                }
                memcpy(it->ids, buf, sizeof *buf * (size_t)n);
                it->n_ids = n;
                it->n_type0 = n;
                if (it->is_pair) /* types are 0...0 1...1: keep where the 1s start */
                    for (int32_t k = 0; k < n; k++)
                        if (tbuf[k]) {
                            it->n_type0 = k;
                            break;
                        }
                it->n_untrunc = r.n_untruncated;
                it->truncated = (uint8_t)(r.truncated != 0);
                trunc += it->truncated;
            } else if (rc == IFS_TOK_EUTF8) {
                it->outcome = IFS_SCHED_REJECTED;
                it->reason = IFS_SCHED_R_UTF8;
                it->detail =
                    it->is_pair && !bad_in_b
                        ? strdupf("invalid UTF-8 at byte %zu of the instruction", r.bad_offset)
                        : strdupf("invalid UTF-8 at byte %zu of the text", r.bad_offset);
            } else if (rc == IFS_TOK_ENOMEM) {
                nomem = 1;
                break;
            } else {
                it->outcome = IFS_SCHED_REJECTED;
                it->reason = IFS_SCHED_R_TOKENIZE;
                it->detail = strdupf("tokenizer: %s", ifs_tok_strerror(rc));
            }
        }
        double dt = ifs_time_now() - t0 - prep;
        free(t);
        pthread_mutex_lock(&s->mu);
        s->st.tokenize_s += dt;
        s->st.prepare_s += prep;
        if (s->o.prepare)
            s->st.text_bytes += tbytes;
        s->st.truncated += trunc;
        if (nomem) {
            fail_locked(s, IFS_SCHED_ENOMEM, "out of memory tokenizing");
            break;
        }
        if (--c->slices_left == 0) {
            pthread_mutex_unlock(&s->mu);
            cut_chunk(s, c);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (s->o.prepare_free && wstate)
        s->o.prepare_free(s->ctx, wstate);
    ifs_tok_state_free(st);
    free(buf);
    free(tbuf);
    return NULL;
}

/* ---- backend workers --------------------------------------------------- */

static int do_forward(bworker *w, const ifs_batch *b)
{
    ifs_sched *s = w->s;
    w->err[0] = '\0';
    if (s->o.forward)
        return s->o.forward(w->engine, b, w->logits, w->err, sizeof w->err);
    int rc = ifs_backend_forward((ifs_backend *)w->engine, b, w->logits, NULL);
    if (rc)
        ifs_errf(w->err, sizeof w->err, 0, "%s", ifs_backend_error((ifs_backend *)w->engine));
    return rc;
}

static void reject(item *it, ifs_sched_reason r, const char *fmt, const char *msg)
{
    it->outcome = IFS_SCHED_REJECTED;
    it->reason = (uint8_t)r;
    free(it->detail);
    it->detail = strdupf(fmt, msg);
}

/* Runs records idx[0..n) of chunk c. Returns 0, or -1 after a failure that
 * stops the run (already recorded in s). */
static int run_records(bworker *w, chunk *c, const int32_t *idx, int32_t n)
{
    ifs_sched *s = w->s;
    int32_t tokens = 0;
    for (int32_t i = 0; i < n; i++)
        tokens += c->it[idx[i]].n_ids;
    if (n > 1 && tokens > w->cap_tokens) {
        int32_t h = n / 2;
        if (run_records(w, c, idx, h))
            return -1;
        return run_records(w, c, idx + h, n - h);
    }
    w->off[0] = 0;
    int any_pair = 0;
    for (int32_t i = 0; i < n; i++) {
        const item *it = &c->it[idx[i]];
        memcpy(w->ids + w->off[i], it->ids, sizeof *w->ids * (size_t)it->n_ids);
        w->off[i + 1] = w->off[i] + it->n_ids;
        any_pair |= it->is_pair;
    }
    if (any_pair) /* token types: 0 up to each pair's second text, 1 after */
        for (int32_t i = 0; i < n; i++) {
            const item *it = &c->it[idx[i]];
            int32_t *t = w->types + w->off[i];
            for (int32_t k = 0; k < it->n_ids; k++)
                t[k] = k >= it->n_type0;
        }
    ifs_batch b = {.n_seqs = n,
                   .n_tokens = tokens,
                   .input_ids = w->ids,
                   .type_ids = any_pair ? w->types : NULL,
                   .seq_off = w->off};
    double t0 = ifs_time_now();
    int rc = do_forward(w, &b);
    double dt = ifs_time_now() - t0;
    if (rc == IFS_BK_OK) {
        int32_t L = s->L;
        for (int32_t i = 0; i < n; i++) {
            item *it = &c->it[idx[i]];
            const float *src = w->logits + (size_t)i * L;
            int finite = 1;
            for (int32_t k = 0; k < L; k++)
                finite &= isfinite(src[k]) != 0;
            if (finite) {
                memcpy(c->logits + (size_t)idx[i] * L, src, sizeof *src * (size_t)L);
                it->outcome = IFS_SCHED_SCORED;
            } else {
                reject(it, IFS_SCHED_R_NONFINITE, "%s", "the model produced NaN or Inf logits");
            }
        }
        pthread_mutex_lock(&s->mu);
        s->st.forward_s += dt;
        s->st.batches++;
        s->st.tokens += (uint64_t)tokens;
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    if (rc == IFS_BK_ENOMEM || rc == IFS_BK_EARG) {
        if (n == 1) {
            if (rc == IFS_BK_ENOMEM)
                reject(&c->it[idx[0]], IFS_SCHED_R_OOM, "out of memory alone in a batch: %s",
                       w->err);
            else
                reject(&c->it[idx[0]], IFS_SCHED_R_BACKEND, "backend refused the record: %s",
                       w->err);
            return 0;
        }
        pthread_mutex_lock(&s->mu);
        s->st.forward_s += dt;
        if (rc == IFS_BK_ENOMEM) {
            s->st.oom_splits++;
            int32_t cap = tokens / 2;
            if (cap < 1)
                cap = 1;
            if (cap < w->cap_tokens)
                w->cap_tokens = cap;
        }
        pthread_mutex_unlock(&s->mu);
        int32_t h = n / 2;
        if (run_records(w, c, idx, h))
            return -1;
        return run_records(w, c, idx + h, n - h);
    }
    pthread_mutex_lock(&s->mu);
    fail_locked(s, IFS_SCHED_EBACKEND, "backend failed on a batch of %d records / %d tokens: %s", n,
                tokens, w->err[0] ? w->err : "(no message)");
    pthread_mutex_unlock(&s->mu);
    return -1;
}

static void *fwd_main(void *arg)
{
    bworker *w = arg;
    ifs_sched *s = w->s;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->bq_head && !s->stop && !s->quit)
            pthread_cond_wait(&s->cv_fwd, &s->mu);
        if (s->stop || s->quit)
            break;
        fbatch *b = s->bq_head;
        s->bq_head = b->next;
        if (!s->bq_head)
            s->bq_tail = NULL;
        pthread_mutex_unlock(&s->mu);
        int rc = run_records(w, b->c, b->idx, b->n);
        chunk *c = b->c;
        free(b->idx);
        free(b);
        pthread_mutex_lock(&s->mu);
        if (rc)
            break;
        if (--c->batches_left == 0) {
            c->done = 1;
            pthread_cond_broadcast(&s->cv_deliver);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- delivery ---------------------------------------------------------- */

static void *deliver_main(void *arg)
{
    ifs_sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && !s->quit && !(s->head && s->head->done) && !(s->finishing && !s->head))
            pthread_cond_wait(&s->cv_deliver, &s->mu);
        if (s->stop || s->quit || !s->head)
            break;
        chunk *c = s->head;
        s->delivering = 1;
        pthread_mutex_unlock(&s->mu);

        double t0 = ifs_time_now();
        uint64_t sc = 0, rj = 0, ps = 0;
        int sink_rc = 0;
        int32_t i;
        for (i = 0; i < c->n; i++) {
            item *it = &c->it[i];
            ifs_sched_result r;
            memset(&r, 0, sizeof r);
            r.seq = c->first_seq + (uint64_t)i;
            r.user = it->user;
            r.num_labels = s->L;
            r.detail = "";
            r.n_tokens = it->n_ids;
            r.n_untruncated = it->n_untrunc;
            r.truncated = it->truncated;
            if (it->pass) {
                r.outcome = IFS_SCHED_PASSED;
                ps++;
            } else if (it->outcome == IFS_SCHED_SCORED) {
                r.outcome = IFS_SCHED_SCORED;
                r.logits = c->logits + (size_t)i * s->L;
                sc++;
            } else {
                r.outcome = IFS_SCHED_REJECTED;
                r.reason = (ifs_sched_reason)it->reason;
                r.detail = it->detail ? it->detail : "";
                rj++;
            }
            sink_rc = s->sink(s->ctx, &r);
            if (sink_rc)
                break;
        }
        double dt = ifs_time_now() - t0;
        pthread_mutex_lock(&s->mu);
        s->delivering = 0;
        c->n_delivered = i < c->n ? i + 1 : c->n; /* the failing item went to the sink */
        s->st.sink_s += dt;
        s->st.scored += sc;
        s->st.rejected += rj;
        s->st.passed += ps;
        s->st.delivered += (uint64_t)i;
        if (sink_rc) {
            fail_locked(s, IFS_SCHED_ESINK, "the output stage stopped the run at item %llu",
                        (unsigned long long)(c->first_seq + (uint64_t)i));
            break;
        }
        if (s->stop)
            break;
        s->head = c->next;
        if (!s->head)
            s->tail = NULL;
        s->n_chunks--;
        chunk_free(c);
        pthread_cond_broadcast(&s->cv_space);
    }
    pthread_cond_broadcast(&s->cv_space);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- public API -------------------------------------------------------- */

int ifs_sched_create(const ifs_sched_opts *opts, const ifs_tok *tok, const ifs_bert_config *cfg,
                     void *const *engines, int n_engines, ifs_sched_sink sink, void *ctx,
                     ifs_sched **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!tok || !cfg || !engines || n_engines < 1 || !sink || !out) {
        ifs_errf(err, errlen, 0, "ifs_sched_create: NULL argument or no engine");
        return IFS_SCHED_EARG;
    }
    ifs_sched_opts o = opts ? *opts : ifs_sched_default_opts();
    if (o.n_threads < 1 || o.n_threads > 1024) {
        ifs_errf(err, errlen, 0, "threads must be 1..1024 (got %d)", o.n_threads);
        return IFS_SCHED_EARG;
    }
    if (o.max_len < 2 || o.max_len > cfg->max_position) {
        ifs_errf(err, errlen, 0,
                 "max length %d must be 2..%d (the model's max_position_embeddings)", o.max_len,
                 cfg->max_position);
        return IFS_SCHED_EARG;
    }
    if (o.max_batch_tokens < o.max_len) {
        ifs_errf(err, errlen, 0, "max batch tokens %d must be at least the max length %d",
                 o.max_batch_tokens, o.max_len);
        return IFS_SCHED_EARG;
    }
    if (o.max_batch_seqs < 1 || o.chunk_records < 1 || o.chunk_bytes < 1 || o.max_chunks < 2 ||
        o.slice < 1) {
        ifs_errf(err, errlen, 0,
                 "batch seqs, chunk records/bytes and slice must be >= 1, "
                 "max chunks >= 2");
        return IFS_SCHED_EARG;
    }
    if (ifs_tok_vocab_size(tok) > cfg->vocab_size) {
        ifs_errf(err, errlen, 0,
                 "the tokenizer's vocabulary (%d) is larger than the model's "
                 "(%d): wrong vocab.txt for this checkpoint?",
                 ifs_tok_vocab_size(tok), cfg->vocab_size);
        return IFS_SCHED_EARG;
    }
    if (cfg->num_labels < 1 || cfg->num_labels > IFS_MAX_LABELS) {
        ifs_errf(err, errlen, 0, "num_labels %d out of range", cfg->num_labels);
        return IFS_SCHED_EARG;
    }
    ifs_sched *s = calloc(1, sizeof *s);
    if (!s) {
        ifs_errf(err, errlen, 0, "out of memory");
        return IFS_SCHED_ENOMEM;
    }
    s->o = o;
    s->tok = tok;
    s->cfg = cfg;
    s->L = cfg->num_labels;
    s->sink = sink;
    s->ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_tok, NULL);
    pthread_cond_init(&s->cv_fwd, NULL);
    pthread_cond_init(&s->cv_deliver, NULL);
    pthread_cond_init(&s->cv_space, NULL);
    s->tw = calloc((size_t)o.n_threads, sizeof *s->tw);
    s->bw = calloc((size_t)n_engines, sizeof *s->bw);
    if (!s->tw || !s->bw) {
        ifs_sched_free(s);
        ifs_errf(err, errlen, 0, "out of memory");
        return IFS_SCHED_ENOMEM;
    }
    s->n_tw = o.n_threads;
    s->n_bw = n_engines;
    for (int i = 0; i < n_engines; i++) {
        bworker *w = &s->bw[i];
        w->s = s;
        w->engine = engines[i];
        w->cap_tokens = o.max_batch_tokens;
        w->ids = malloc(sizeof *w->ids * (size_t)o.max_batch_tokens);
        w->types = malloc(sizeof *w->types * (size_t)o.max_batch_tokens);
        w->off = malloc(sizeof *w->off * ((size_t)o.max_batch_seqs + 1));
        w->logits = malloc(sizeof *w->logits * (size_t)o.max_batch_seqs * (size_t)s->L);
        if (!w->ids || !w->types || !w->off || !w->logits) {
            ifs_sched_free(s);
            ifs_errf(err, errlen, 0, "out of memory for batch buffers");
            return IFS_SCHED_ENOMEM;
        }
    }
    int bad = 0;
    for (int i = 0; i < s->n_tw && !bad; i++) {
        s->tw[i].s = s;
        bad = pthread_create(&s->tw[i].th, NULL, tok_main, &s->tw[i]) != 0;
        s->tw[i].started = !bad;
    }
    for (int i = 0; i < s->n_bw && !bad; i++) {
        bad = pthread_create(&s->bw[i].th, NULL, fwd_main, &s->bw[i]) != 0;
        s->bw[i].started = !bad;
    }
    if (!bad) {
        bad = pthread_create(&s->dth, NULL, deliver_main, s) != 0;
        s->dstarted = !bad;
    }
    if (bad) {
        ifs_sched_free(s);
        ifs_errf(err, errlen, 0, "could not start the scheduler's threads");
        return IFS_SCHED_ETHREAD;
    }
    *out = s;
    return IFS_SCHED_OK;
}

/* Takes one item, or none when the run has stopped (then returns the
 * status that stopped it, and the caller keeps its payload). */
static int add_item(ifs_sched *s, const char *text, size_t len, const char *b, size_t blen,
                    void *user, int pass)
{
    int rc = IFS_SCHED_OK;
    chunk *c = cur_chunk(s, &rc);
    if (!c)
        return rc;
    char *copy = NULL;
    if (!pass) {
        /* NUL-terminated: opts.prepare may rely on it */
        copy = len + blen < len || len + blen + 1 == 0 ? NULL : malloc(len + blen + 1);
        if (!copy) {
            pthread_mutex_lock(&s->mu);
            fail_locked(s, IFS_SCHED_ENOMEM, "out of memory copying a text of %zu bytes", len);
            rc = s->status;
            pthread_mutex_unlock(&s->mu);
            return rc;
        }
        if (len)
            memcpy(copy, text, len);
        if (blen)
            memcpy(copy + len, b, blen);
        copy[len + blen] = '\0';
    }
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        rc = s->status;
        pthread_mutex_unlock(&s->mu);
        free(copy);
        return rc;
    }
    s->next_seq++;
    s->st.items++;
    if (!pass && !s->o.prepare)
        s->st.text_bytes += len + blen;
    pthread_mutex_unlock(&s->mu);
    item *it = &c->it[c->n];
    memset(it, 0, sizeof *it);
    it->user = user;
    it->pass = (uint8_t)pass;
    it->outcome = ST_PENDING;
    it->text = copy;
    it->len = len + blen;
    it->alen = len;
    it->is_pair = (uint8_t)(b != NULL);
    c->bytes += len + blen;
    c->n++;
    if (c->n == c->cap || c->bytes >= s->o.chunk_bytes)
        seal(s);
    return IFS_SCHED_OK;
}

int ifs_sched_submit(ifs_sched *s, const char *text, size_t len, void *user)
{
    if (!s || (!text && len))
        return IFS_SCHED_EARG;
    return add_item(s, text ? text : "", len, NULL, 0, user, 0);
}

int ifs_sched_submit_pair(ifs_sched *s, const char *a, size_t alen, const char *b, size_t blen,
                          void *user)
{
    if (!s || (!a && alen) || (!b && blen))
        return IFS_SCHED_EARG;
    return add_item(s, a ? a : "", alen, b ? b : "", blen, user, 0);
}

int ifs_sched_pass(ifs_sched *s, void *user, int seal_after)
{
    if (!s)
        return IFS_SCHED_EARG;
    int rc = add_item(s, NULL, 0, NULL, 0, user, 1);
    if (rc == IFS_SCHED_OK && seal_after)
        seal(s);
    return rc;
}

int ifs_sched_finish(ifs_sched *s)
{
    if (!s)
        return IFS_SCHED_EARG;
    seal(s);
    pthread_mutex_lock(&s->mu);
    s->finishing = 1;
    pthread_cond_broadcast(&s->cv_deliver);
    /* A stopped run still waits for the chunk the sink is being handed: the
     * caller reads the sink's counts (shards committed) after this returns. */
    while ((!s->stop && s->n_chunks > 0) || s->delivering)
        pthread_cond_wait(&s->cv_space, &s->mu);
    int rc = s->stop ? s->status : IFS_SCHED_OK;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void ifs_sched_cancel(ifs_sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    fail_locked(s, IFS_SCHED_ECANCELED, "canceled");
    pthread_mutex_unlock(&s->mu);
}

void ifs_sched_get_stats(ifs_sched *s, ifs_sched_stats *st)
{
    if (!s || !st)
        return;
    pthread_mutex_lock(&s->mu);
    *st = s->st;
    pthread_mutex_unlock(&s->mu);
}

const char *ifs_sched_error(const ifs_sched *s)
{
    return s ? s->errmsg : "NULL scheduler";
}

void ifs_sched_free(ifs_sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->cv_tok);
    pthread_cond_broadcast(&s->cv_fwd);
    pthread_cond_broadcast(&s->cv_deliver);
    pthread_cond_broadcast(&s->cv_space);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_tw; i++)
        if (s->tw[i].started)
            pthread_join(s->tw[i].th, NULL);
    for (int i = 0; i < s->n_bw; i++)
        if (s->bw[i].started)
            pthread_join(s->bw[i].th, NULL);
    if (s->dstarted)
        pthread_join(s->dth, NULL);
    while (s->tq_head) {
        task *t = s->tq_head;
        s->tq_head = t->next;
        free(t);
    }
    while (s->bq_head) {
        fbatch *b = s->bq_head;
        s->bq_head = b->next;
        free(b->idx);
        free(b);
    }
    while (s->head) {
        chunk *c = s->head;
        s->head = c->next;
        if (s->o.release)
            for (int32_t i = c->n_delivered; i < c->n; i++)
                s->o.release(s->ctx, c->it[i].user);
        chunk_free(c);
    }
    for (int i = 0; s->bw && i < s->n_bw; i++) {
        free(s->bw[i].ids);
        free(s->bw[i].types);
        free(s->bw[i].off);
        free(s->bw[i].logits);
    }
    free(s->tw);
    free(s->bw);
    pthread_cond_destroy(&s->cv_tok);
    pthread_cond_destroy(&s->cv_fwd);
    pthread_cond_destroy(&s->cv_deliver);
    pthread_cond_destroy(&s->cv_space);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
