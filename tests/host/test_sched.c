/*
 * test_sched.c - the scheduler's contract, case by case: in-order delivery of
 * every item exactly once, logits routed back to the right record after
 * length sorting, token/sequence budgets, back-pressure bound, ENOMEM
 * halving, NaN rejection, device failure, sink failure and cancellation, and
 * text pairs whose token types reach the engine beside single texts.
 *
 * The tokenizer is the real one over a small vocab written here. The forward
 * engine is a deterministic stand-in (the ifs_sched_forward_fn hook) whose
 * logits are a function of each sequence's own ids, so a record that got
 * another record's logits is caught; it also forces the faults a CPU backend
 * cannot produce on demand (ENOMEM, NaN, device loss). The real backends go
 * through this same code in tests/host/e2e_score*.sh.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ifs_sched.h"
#include "ifs_test.h"

/* ---- a vocab and texts -------------------------------------------------- */

static const char *words[] = {"alpha", "beta",  "gamma", "delta", "epsilon", "zeta",
                              "eta",   "theta", "iota",  "kappa", "lambda",  "mu"};
#define N_WORDS ((int)(sizeof words / sizeof words[0]))

static ifs_tok *make_tok(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sched_vocab.txt", ifs_test_env("IFS_TEST_TMP", "/tmp"));
    FILE *f = fopen(path, "w");
    if (!f)
        IFS_SKIP("cannot write %s", path);
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (int i = 0; i < N_WORDS; i++)
        fprintf(f, "%s\n", words[i]);
    fclose(f);
    ifs_tok_config c = {.do_lower_case = 1,
                        .strip_accents = -1,
                        .tokenize_chinese_chars = 1,
                        .model_max_length = 512};
    char err[256] = "";
    ifs_tok *t = ifs_tok_load_vocab(path, &c, err, sizeof err);
    if (!t) {
        fprintf(stderr, "vocab load failed: %s\n", err);
        exit(1);
    }
    return t;
}

/* Text number i: 1 + (i * 7919) % 50 words chosen from i, so lengths vary. */
static size_t make_text(uint64_t i, char *buf, size_t cap)
{
    int nw = 1 + (int)((i * 7919u) % 50u);
    size_t n = 0;
    for (int k = 0; k < nw; k++) {
        const char *w = words[(i + (uint64_t)k * 5u) % N_WORDS];
        size_t wl = strlen(w);
        if (n + wl + 2 > cap)
            break;
        if (k)
            buf[n++] = ' ';
        memcpy(buf + n, w, wl);
        n += wl;
    }
    buf[n] = '\0';
    return n;
}

/* ---- the stand-in engine ----------------------------------------------- */

typedef struct {
    int32_t budget_tokens, budget_seqs; /* to check the scheduler's budgets */
    int32_t oom_above;                  /* > 0: ENOMEM when a batch has more tokens */
    int32_t nan_id;                     /* > 0: NaN logits for a sequence holding this id */
    int device_fail_at;                 /* > 0: EDEVICE on this call (1-based) */
    int calls;
    int violations; /* budget or order violations seen */
    int unsorted;
    pthread_mutex_t mu;
} engine;

/* logit0 = length, logit1 = sum of (position+1)*id: a function of the
 * sequence alone, so misrouted logits are detected. */
static void expected_logits(const int32_t *ids, int32_t n, float out[2])
{
    double sum = 0;
    for (int32_t t = 0; t < n; t++)
        sum += (double)(t + 1) * ids[t];
    out[0] = (float)n;
    out[1] = (float)sum;
}

static int fake_forward(void *eng, const ifs_batch *b, float *logits, char *err, size_t errlen)
{
    engine *e = eng;
    pthread_mutex_lock(&e->mu);
    int call = ++e->calls;
    if (b->n_tokens > e->budget_tokens || b->n_seqs > e->budget_seqs)
        e->violations++;
    for (int32_t i = 1; i < b->n_seqs; i++)
        if (b->seq_off[i + 1] - b->seq_off[i] < b->seq_off[i] - b->seq_off[i - 1])
            e->unsorted++;
    pthread_mutex_unlock(&e->mu);
    if (e->device_fail_at && call >= e->device_fail_at) {
        snprintf(err, errlen, "simulated device loss");
        return IFS_BK_EDEVICE;
    }
    if (e->oom_above && b->n_tokens > e->oom_above) {
        snprintf(err, errlen, "simulated out of memory at %d tokens", b->n_tokens);
        return IFS_BK_ENOMEM;
    }
    for (int32_t i = 0; i < b->n_seqs; i++) {
        const int32_t *ids = b->input_ids + b->seq_off[i];
        int32_t n = b->seq_off[i + 1] - b->seq_off[i];
        expected_logits(ids, n, logits + 2 * i);
        if (e->nan_id)
            for (int32_t t = 0; t < n; t++)
                if (ids[t] == e->nan_id)
                    logits[2 * i + 1] = NAN;
    }
    return IFS_BK_OK;
}

/* ---- the sink ------------------------------------------------------------ */

typedef struct {
    const ifs_tok *tok;
    ifs_tok_state *st;
    int32_t max_len;
    uint64_t next_seq; /* the order check */
    uint64_t got, scored, rejected, passed;
    uint64_t order_errors, logit_errors, user_errors;
    uint64_t reasons[8];
    int fail_at;                 /* > 0: return non-zero at this item (1-based) */
    int sleep_us;                /* slow sink, for back-pressure */
    volatile uint64_t delivered; /* read by the producer */
    pthread_mutex_t mu;
} sinkctx;

/* user payload: the item's number, tagged as a pass item by the top bit. */
#define PASS_BIT (UINT64_C(1) << 63)

static int sink(void *ctx, const ifs_sched_result *r)
{
    sinkctx *k = ctx;
    uint64_t u = (uint64_t)(uintptr_t)r->user;
    if (r->seq != k->next_seq)
        k->order_errors++;
    if ((u & ~PASS_BIT) != r->seq)
        k->user_errors++;
    k->next_seq = r->seq + 1;
    k->got++;
    if (r->outcome == IFS_SCHED_PASSED) {
        k->passed++;
        if (!(u & PASS_BIT))
            k->user_errors++;
    } else if (r->outcome == IFS_SCHED_SCORED) {
        k->scored++;
        char text[2048];
        size_t len = make_text(r->seq, text, sizeof text);
        int32_t ids[512], n = 0;
        if (ifs_tok_encode(k->tok, k->st, text, len, k->max_len, ids, NULL, &n, NULL) ||
            n != r->n_tokens) {
            k->logit_errors++;
        } else {
            float want[2];
            expected_logits(ids, n, want);
            if (r->num_labels != 2 || r->logits[0] != want[0] || r->logits[1] != want[1])
                k->logit_errors++;
        }
    } else {
        k->rejected++;
        if (r->reason < 8)
            k->reasons[r->reason]++;
    }
    if (k->sleep_us) {
        struct timespec ts = {0, (long)k->sleep_us * 1000L};
        nanosleep(&ts, NULL);
    }
    __atomic_store_n(&k->delivered, k->got, __ATOMIC_RELEASE);
    if (k->fail_at && (int)k->got == k->fail_at)
        return 1;
    return 0;
}

/* ---- one run -------------------------------------------------------------- */

typedef struct {
    const char *name;
    int threads, engines;
    int32_t max_len, budget_tokens, budget_seqs, chunk_records;
    int max_chunks;
    uint64_t n_items;
    int pass_every;     /* every k-th item is a pass item (0: none) */
    int bad_utf8_every; /* every k-th text gets an invalid byte (0: none) */
    int32_t oom_above, nan_id;
    int device_fail_at, sink_fail_at;
    /* expectations */
    int want_rc;
    int64_t want_rejected; /* -1: do not check */
    int want_oom_splits;   /* 1: expect > 0 */
} scase;

static const ifs_bert_config *config(void)
{
    static ifs_bert_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 5 + N_WORDS;
    c.hidden = 8;
    c.n_layers = 1;
    c.n_heads = 1;
    c.intermediate = 8;
    c.max_position = 512;
    c.type_vocab = 2;
    c.num_labels = 2;
    return &c;
}

static void run_case(const ifs_tok *tok, const scase *c)
{
    engine e[4];
    void *eng[4];
    for (int i = 0; i < c->engines; i++) {
        memset(&e[i], 0, sizeof e[i]);
        pthread_mutex_init(&e[i].mu, NULL);
        e[i].budget_tokens = c->budget_tokens;
        e[i].budget_seqs = c->budget_seqs;
        e[i].oom_above = c->oom_above;
        e[i].nan_id = c->nan_id;
        e[i].device_fail_at = c->device_fail_at;
        eng[i] = &e[i];
    }
    sinkctx k;
    memset(&k, 0, sizeof k);
    k.tok = tok;
    k.st = ifs_tok_state_create(tok);
    k.max_len = c->max_len;
    k.fail_at = c->sink_fail_at;

    ifs_sched_opts o = ifs_sched_default_opts();
    o.n_threads = c->threads;
    o.max_len = c->max_len;
    o.max_batch_tokens = c->budget_tokens;
    o.max_batch_seqs = c->budget_seqs;
    o.chunk_records = c->chunk_records;
    o.max_chunks = c->max_chunks;
    o.slice = 16;
    o.forward = fake_forward;
    ifs_sched *s = NULL;
    char err[512] = "";
    int rc = ifs_sched_create(&o, tok, config(), eng, c->engines, sink, &k, &s, err, sizeof err);
    IFS_CHECK(rc == 0, "%s: create failed: %s", c->name, err);
    if (rc)
        return;

    uint64_t bound = (uint64_t)c->max_chunks * (uint64_t)c->chunk_records;
    uint64_t max_inflight = 0;
    char text[2048];
    for (uint64_t i = 0; i < c->n_items && rc == 0; i++) {
        uint64_t inflight = i - __atomic_load_n(&k.delivered, __ATOMIC_ACQUIRE);
        if (inflight > max_inflight)
            max_inflight = inflight;
        if (c->pass_every && i % (uint64_t)c->pass_every == 0) {
            rc = ifs_sched_pass(s, (void *)(uintptr_t)(i | PASS_BIT), (i / c->pass_every) % 3 == 0);
            continue;
        }
        size_t len = make_text(i, text, sizeof text);
        if (c->bad_utf8_every && i % (uint64_t)c->bad_utf8_every == 1)
            text[len / 2] = (char)0xff;
        rc = ifs_sched_submit(s, text, len, (void *)(uintptr_t)i);
    }
    if (rc == 0)
        rc = ifs_sched_finish(s);
    ifs_sched_stats st;
    ifs_sched_get_stats(s, &st);
    IFS_CHECK(rc == c->want_rc, "%s: run returned %d (%s: %s), expected %d", c->name, rc,
              ifs_sched_strerror(rc), ifs_sched_error(s), c->want_rc);
    IFS_CHECK(k.order_errors == 0, "%s: %llu items out of order", c->name,
              (unsigned long long)k.order_errors);
    IFS_CHECK(k.user_errors == 0, "%s: %llu items with the wrong payload", c->name,
              (unsigned long long)k.user_errors);
    IFS_CHECK(k.logit_errors == 0, "%s: %llu records got logits that are not theirs", c->name,
              (unsigned long long)k.logit_errors);
    IFS_CHECK(max_inflight <= bound + 1, "%s: %llu items in flight, bound %llu", c->name,
              (unsigned long long)max_inflight, (unsigned long long)bound);
    int viol = 0, unsorted = 0;
    for (int i = 0; i < c->engines; i++) {
        viol += e[i].violations;
        unsorted += e[i].unsorted;
    }
    IFS_CHECK(viol == 0, "%s: %d batches over the token/seq budget", c->name, viol);
    IFS_CHECK(unsorted == 0, "%s: %d batches not sorted by length", c->name, unsorted);
    if (c->want_rc == 0) {
        IFS_CHECK(k.got == c->n_items, "%s: delivered %llu of %llu", c->name,
                  (unsigned long long)k.got, (unsigned long long)c->n_items);
        IFS_CHECK(st.scored + st.rejected + st.passed == c->n_items && st.delivered == c->n_items,
                  "%s: stats %llu+%llu+%llu, delivered %llu", c->name,
                  (unsigned long long)st.scored, (unsigned long long)st.rejected,
                  (unsigned long long)st.passed, (unsigned long long)st.delivered);
    } else {
        IFS_CHECK(k.got < c->n_items, "%s: a failed run delivered everything", c->name);
    }
    if (c->want_rejected >= 0)
        IFS_CHECK(k.rejected == (uint64_t)c->want_rejected, "%s: %llu rejected, expected %lld",
                  c->name, (unsigned long long)k.rejected, (long long)c->want_rejected);
    if (c->want_oom_splits)
        IFS_CHECK(st.oom_splits > 0, "%s: no batch was split after ENOMEM", c->name);
    if (c->bad_utf8_every && c->want_rc == 0)
        IFS_CHECK(k.reasons[IFS_SCHED_R_UTF8] == k.rejected && k.rejected > 0,
                  "%s: %llu utf8 rejects of %llu", c->name,
                  (unsigned long long)k.reasons[IFS_SCHED_R_UTF8], (unsigned long long)k.rejected);
    if (c->nan_id && c->want_rc == 0)
        IFS_CHECK(k.reasons[IFS_SCHED_R_NONFINITE] == k.rejected && k.rejected > 0,
                  "%s: nonfinite rejects %llu of %llu", c->name,
                  (unsigned long long)k.reasons[IFS_SCHED_R_NONFINITE],
                  (unsigned long long)k.rejected);
    ifs_sched_free(s);
    ifs_tok_state_free(k.st);
    for (int i = 0; i < c->engines; i++)
        pthread_mutex_destroy(&e[i].mu);
}

/* Number of texts (of the first n, skipping pass items) whose token count
 * with [CLS]/[SEP] exceeds `above`, or that hold word `w` (id 5 + w). */
static int64_t count_texts(const ifs_tok *tok, uint64_t n, int pass_every, int32_t max_len,
                           int32_t above, int32_t id)
{
    ifs_tok_state *st = ifs_tok_state_create(tok);
    int64_t cnt = 0;
    char text[2048];
    int32_t ids[512], m;
    for (uint64_t i = 0; i < n; i++) {
        if (pass_every && i % (uint64_t)pass_every == 0)
            continue;
        size_t len = make_text(i, text, sizeof text);
        if (ifs_tok_encode(tok, st, text, len, max_len, ids, NULL, &m, NULL))
            continue;
        int hit = above > 0 && m > above;
        for (int32_t t = 0; id > 0 && t < m; t++)
            hit |= ids[t] == id;
        cnt += hit;
    }
    ifs_tok_state_free(st);
    return cnt;
}

/* ---- cancellation ---------------------------------------------------------- */

typedef struct {
    ifs_sched *s;
    int rc;
    uint64_t taken;
} producer;

static void *produce_forever(void *arg)
{
    producer *p = arg;
    char text[2048];
    p->rc = 0;
    for (uint64_t i = 0;; i++) {
        size_t len = make_text(i, text, sizeof text);
        p->rc = ifs_sched_submit(p->s, text, len, (void *)(uintptr_t)i);
        if (p->rc)
            break;
        p->taken++;
    }
    return NULL;
}

/* Items never delivered come back through opts.release: counted by number,
 * and each must come after the delivered ones. */
static uint64_t released, released_bad;
static uint64_t first_released = UINT64_MAX;

static void release(void *ctx, void *user)
{
    sinkctx *k = ctx;
    uint64_t u = (uint64_t)(uintptr_t)user;
    if (u < k->got)
        released_bad++;
    if (u < first_released)
        first_released = u;
    released++;
}

static void cancel_unblocks_a_producer_waiting_for_room(const ifs_tok *tok)
{
    engine e;
    memset(&e, 0, sizeof e);
    pthread_mutex_init(&e.mu, NULL);
    e.budget_tokens = 4096;
    e.budget_seqs = 64;
    void *eng[1] = {&e};
    sinkctx k;
    memset(&k, 0, sizeof k);
    k.tok = tok;
    k.st = ifs_tok_state_create(tok);
    k.max_len = 64;
    k.sleep_us = 2000; /* slow output: the producer soon waits for room */
    ifs_sched_opts o = ifs_sched_default_opts();
    o.max_len = 64;
    o.max_batch_tokens = 4096;
    o.max_batch_seqs = 64;
    o.chunk_records = 32;
    o.max_chunks = 2;
    o.forward = fake_forward;
    o.release = release;
    ifs_sched *s = NULL;
    char err[256];
    int rc = ifs_sched_create(&o, tok, config(), eng, 1, sink, &k, &s, err, sizeof err);
    IFS_CHECK(rc == 0, "cancel: create: %s", err);
    if (rc)
        return;
    producer p = {s, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, produce_forever, &p);
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    ifs_sched_cancel(s);
    pthread_join(th, NULL);
    IFS_CHECK(p.rc == IFS_SCHED_ECANCELED, "cancel: submit returned %d, expected ECANCELED", p.rc);
    IFS_CHECK(ifs_sched_finish(s) == IFS_SCHED_ECANCELED, "cancel: finish does not say canceled");
    uint64_t got_at_finish = __atomic_load_n(&k.delivered, __ATOMIC_ACQUIRE);
    IFS_CHECK(k.order_errors == 0 && k.logit_errors == 0, "cancel: delivered items were wrong");
    ifs_sched_free(s);
    /* The slow sink is mid-chunk when the cancel lands: finish must wait for
     * that chunk, since callers read the sink's counts once it returns. */
    IFS_CHECK(k.got == got_at_finish,
              "a_canceled_finish_returns_only_after_the_sink_is_done: %llu delivered when finish "
              "returned, %llu after",
              (unsigned long long)got_at_finish, (unsigned long long)k.got);
    IFS_CHECK(k.got + released == p.taken && released_bad == 0 && released > 0 &&
                  first_released == k.got,
              "every_taken_item_is_delivered_or_released_exactly_once: taken %llu, delivered "
              "%llu, released %llu (first %llu, %llu before the delivered ones)",
              (unsigned long long)p.taken, (unsigned long long)k.got, (unsigned long long)released,
              (unsigned long long)first_released, (unsigned long long)released_bad);
    ifs_tok_state_free(k.st);
    pthread_mutex_destroy(&e.mu);
}

static void create_refuses_bad_options(const ifs_tok *tok)
{
    static const struct {
        const char *name;
        int threads;
        int32_t max_len, budget;
        int max_chunks;
    } cases[] = {
        {"zero_threads_are_refused", 0, 64, 1024, 4},
        {"max_len_beyond_the_models_positions_is_refused", 1, 513, 4096, 4},
        {"budget_below_max_len_is_refused", 1, 128, 64, 4},
        {"one_chunk_in_flight_is_refused", 1, 64, 1024, 1},
    };
    engine e;
    memset(&e, 0, sizeof e);
    void *eng[1] = {&e};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ifs_sched_opts o = ifs_sched_default_opts();
        o.n_threads = cases[i].threads;
        o.max_len = cases[i].max_len;
        o.max_batch_tokens = cases[i].budget;
        o.max_chunks = cases[i].max_chunks;
        o.forward = fake_forward;
        ifs_sched *s = (ifs_sched *)&e;
        char err[256] = "";
        int rc = ifs_sched_create(&o, tok, config(), eng, 1, sink, NULL, &s, err, sizeof err);
        IFS_CHECK(rc == IFS_SCHED_EARG && s == NULL && err[0], "%s: rc %d", cases[i].name, rc);
        ifs_sched_free(s);
    }
}

/* ---- opts.prepare: the per-item hook on the tokenizer workers ------------- */

#define RAW_BIT (UINT64_C(1) << 62) /* a payload the hook has not replaced yet */

static int prep_bad_nul, prep_states, prep_freed;
static pthread_mutex_t prep_mu = PTHREAD_MUTEX_INITIALIZER;

/* Items arrive as "K|text" (score the text after '|') or "R|..." (not to be
 * scored); the payload i|RAW_BIT becomes i or i|PASS_BIT. */
static int prepare_item(void *ctx, void **wstate, void **user, const char *bytes, size_t len,
                        ifs_sched_text *out)
{
    (void)ctx;
    if (!*wstate) {
        *wstate = malloc(sizeof(uint64_t));
        if (!*wstate)
            return -1;
        *(uint64_t *)*wstate = 0;
        pthread_mutex_lock(&prep_mu);
        prep_states++;
        pthread_mutex_unlock(&prep_mu);
    }
    (*(uint64_t *)*wstate)++;
    if (bytes[len] != '\0' || len < 2 || bytes[1] != '|') {
        pthread_mutex_lock(&prep_mu);
        prep_bad_nul++;
        pthread_mutex_unlock(&prep_mu);
    }
    uint64_t u = (uint64_t)(uintptr_t)*user & ~RAW_BIT;
    if (bytes[0] == 'R') {
        *user = (void *)(uintptr_t)(u | PASS_BIT);
        return 0;
    }
    *user = (void *)(uintptr_t)u;
    out->text = bytes + 2;
    out->len = len - 2;
    return 1;
}

static void prepare_free_item(void *ctx, void *wstate)
{
    (void)ctx;
    free(wstate);
    pthread_mutex_lock(&prep_mu);
    prep_freed++;
    pthread_mutex_unlock(&prep_mu);
}

static void prepare_hook_runs_on_the_workers_and_keeps_the_order(const ifs_tok *tok)
{
    engine e;
    memset(&e, 0, sizeof e);
    pthread_mutex_init(&e.mu, NULL);
    e.budget_tokens = 256;
    e.budget_seqs = 16;
    void *eng[1] = {&e};
    sinkctx k;
    memset(&k, 0, sizeof k);
    k.tok = tok;
    k.st = ifs_tok_state_create(tok);
    k.max_len = 64;
    ifs_sched_opts o = ifs_sched_default_opts();
    o.n_threads = 3;
    o.max_len = 64;
    o.max_batch_tokens = 256;
    o.max_batch_seqs = 16;
    o.chunk_records = 100;
    o.max_chunks = 3;
    o.slice = 16;
    o.forward = fake_forward;
    o.prepare = prepare_item;
    o.prepare_free = prepare_free_item;
    ifs_sched *s = NULL;
    char err[512] = "";
    int rc = ifs_sched_create(&o, tok, config(), eng, 1, sink, &k, &s, err, sizeof err);
    IFS_CHECK(rc == 0, "prepare: create failed: %s", err);
    if (rc)
        return;
    const uint64_t n = 3000;
    uint64_t kept_bytes = 0, rejected = 0;
    char text[2100];
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        int rej = i % 5 == 3;
        text[0] = rej ? 'R' : 'K';
        text[1] = '|';
        size_t len = make_text(i, text + 2, sizeof text - 2);
        if (rej)
            rejected++;
        else
            kept_bytes += len;
        rc = ifs_sched_submit(s, text, len + 2, (void *)(uintptr_t)(i | RAW_BIT));
    }
    if (rc == 0)
        rc = ifs_sched_finish(s);
    ifs_sched_stats st;
    ifs_sched_get_stats(s, &st);
    ifs_sched_free(s);
    IFS_CHECK(rc == 0, "prepare: run returned %d (%s)", rc, ifs_sched_strerror(rc));
    IFS_CHECK(k.got == n && k.order_errors == 0 && k.user_errors == 0 && k.logit_errors == 0,
              "prepare: %llu delivered, %llu out of order, %llu wrong payloads (the hook's "
              "replacement must reach the sink), %llu wrong logits",
              (unsigned long long)k.got, (unsigned long long)k.order_errors,
              (unsigned long long)k.user_errors, (unsigned long long)k.logit_errors);
    IFS_CHECK(k.passed == rejected && k.scored == n - rejected && k.rejected == 0,
              "prepare: %llu passed (want %llu), %llu scored", (unsigned long long)k.passed,
              (unsigned long long)rejected, (unsigned long long)k.scored);
    IFS_CHECK(st.text_bytes == kept_bytes, "prepare: text_bytes %llu, the hook's texts %llu",
              (unsigned long long)st.text_bytes, (unsigned long long)kept_bytes);
    IFS_CHECK(prep_bad_nul == 0, "prepare: %d items not NUL-terminated", prep_bad_nul);
    IFS_CHECK(prep_states >= 1 && prep_states <= 3 && prep_freed == prep_states,
              "prepare: %d worker states made, %d freed", prep_states, prep_freed);
    ifs_tok_state_free(k.st);
    pthread_mutex_destroy(&e.mu);
}

/* ---- pairs: token types reach the engine ---------------------------------- */

/* logit0 = sum of (position+1)*id, logit1 = sum of (position+1)*(type+1) with
 * NULL types read as 0: both are functions of what the engine was given. */
static void pair_logits(const int32_t *ids, const int32_t *types, int32_t n, float out[2])
{
    double a = 0, b = 0;
    for (int32_t t = 0; t < n; t++) {
        a += (double)(t + 1) * ids[t];
        b += (double)(t + 1) * ((types ? types[t] : 0) + 1);
    }
    out[0] = (float)a;
    out[1] = (float)b;
}

static int types_forward(void *eng, const ifs_batch *b, float *logits, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    int *mixed = eng;
    int pairs = 0, singles = 0;
    for (int32_t i = 0; i < b->n_seqs; i++) {
        int32_t o = b->seq_off[i], n = b->seq_off[i + 1] - o;
        pair_logits(b->input_ids + o, b->type_ids ? b->type_ids + o : NULL, n, logits + 2 * i);
        int has1 = 0;
        for (int32_t t = 0; b->type_ids && t < n; t++)
            has1 |= b->type_ids[o + t] == 1;
        pairs += has1;
        singles += !has1;
    }
    if (pairs && singles)
        __atomic_fetch_add(mixed, 1, __ATOMIC_RELAXED);
    return IFS_BK_OK;
}

typedef struct {
    float (*want)[2];
    int32_t *want_n;
    uint64_t got, wrong;
} pairsink;

static int pair_sink(void *ctx, const ifs_sched_result *r)
{
    pairsink *k = ctx;
    uint64_t i = (uint64_t)(uintptr_t)r->user;
    k->got++;
    if (r->outcome != IFS_SCHED_SCORED || r->seq != i || r->n_tokens != k->want_n[i] ||
        r->logits[0] != k->want[i][0] || r->logits[1] != k->want[i][1])
        k->wrong++;
    return 0;
}

/* Pairs and single texts mixed in one run: every pair is encoded by
 * ifs_tok_encode_pair_cap with opts.pair_a_max, its token types reach the
 * engine in the batch (0 for [CLS] a [SEP], 1 after), singles get 0. */
static void pairs_carry_their_token_types_to_the_engine(const ifs_tok *tok)
{
    enum { N = 600, MAXLEN = 24, CAP = 5 };
    pairsink k = {calloc(N, sizeof *k.want), calloc(N, sizeof *k.want_n), 0, 0};
    ifs_tok_state *st = ifs_tok_state_create(tok);
    int mixed = 0;
    void *eng[1] = {&mixed};
    ifs_sched_opts o = ifs_sched_default_opts();
    o.n_threads = 3;
    o.max_len = MAXLEN;
    o.max_batch_tokens = 96;
    o.max_batch_seqs = 8;
    o.chunk_records = 50;
    o.slice = 7;
    o.forward = types_forward;
    o.pair_a_max = CAP;
    ifs_sched *s = NULL;
    char err[512] = "";
    int rc = ifs_sched_create(&o, tok, config(), eng, 1, pair_sink, &k, &s, err, sizeof err);
    IFS_CHECK(rc == IFS_SCHED_OK, "create for pairs: %s", err);
    int32_t ids[MAXLEN], types[MAXLEN], n;
    char a[1024], b[1024];
    int capped = 0;
    for (uint64_t i = 0; s && i < N; i++) {
        size_t al = make_text(i * 3 + 1, a, sizeof a), bl = make_text(i * 5 + 2, b, sizeof b);
        ifs_tok_result r;
        int pair = i % 3 != 0;
        if (pair) {
            ifs_tok_encode_pair_cap(tok, st, a, al, b, bl, MAXLEN, CAP, ids, types, &n, &r, NULL);
            int32_t n0 = 0;
            while (n0 < n && types[n0] == 0)
                n0++;
            capped += n0 - 2 == CAP;
            pair_logits(ids, types, n, k.want[i]);
            k.want_n[i] = n; /* before submit: the item may be delivered before it returns */
            rc = ifs_sched_submit_pair(s, a, al, b, bl, (void *)(uintptr_t)i);
        } else {
            ifs_tok_encode(tok, st, b, bl, MAXLEN, ids, NULL, &n, &r);
            pair_logits(ids, NULL, n, k.want[i]);
            k.want_n[i] = n;
            rc = ifs_sched_submit(s, b, bl, (void *)(uintptr_t)i);
        }
        if (rc)
            break;
    }
    IFS_CHECK(s && ifs_sched_finish(s) == IFS_SCHED_OK, "the pair run finishes");
    IFS_CHECK(k.got == N && k.wrong == 0,
              "pairs_and_singles_get_the_logits_of_their_own_ids_and_token_types "
              "(%llu delivered, %llu wrong)",
              (unsigned long long)k.got, (unsigned long long)k.wrong);
    IFS_CHECK(capped > 50, "the_instruction_cap_bites (%d pairs cut to it)", capped);
    IFS_CHECK(mixed > 0, "pairs_and_singles_shared_batches (%d)", mixed);
    ifs_sched_free(s);
    ifs_tok_state_free(st);
    free(k.want);
    free(k.want_n);
}

int main(void)
{
    ifs_tok *tok = make_tok();
    pairs_carry_their_token_types_to_the_engine(tok);
    /* name, threads, engines, max_len, budget tokens, budget seqs, chunk, max chunks,
     * items, pass_every, bad_utf8_every, oom_above, nan_id, device_fail_at, sink_fail_at,
     * want_rc, want_rejected, want_oom_splits */
    scase cases[] = {
        {"every_item_is_delivered_once_in_order_with_one_thread", 1, 1, 64, 256, 16, 100, 3, 5000,
         0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"every_item_is_delivered_once_in_order_with_eight_threads_and_two_engines", 8, 2, 64, 256,
         16, 100, 3, 5000, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"pass_items_and_seals_keep_their_place_in_the_order", 2, 1, 64, 512, 64, 57, 2, 4000, 7, 0,
         0, 0, 0, 0, 0, 0, 0},
        {"truncation_to_a_short_max_len_still_routes_logits", 4, 1, 8, 64, 8, 200, 4, 3000, 0, 0, 0,
         0, 0, 0, 0, 0, 0},
        {"a_chunk_larger_than_a_batch_is_cut_into_many_budgeted_batches", 2, 1, 64, 64, 512, 1000,
         2, 3000, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"invalid_utf8_texts_are_rejected_with_their_reason", 2, 1, 64, 512, 64, 100, 3, 1000, 0,
         10, 0, 0, 0, 0, 0, 100, 0},
        {"enomem_halves_the_batch_and_rejects_records_too_big_alone", 2, 1, 64, 1024, 64, 100, 3,
         2000, 0, 0, 40, 0, 0, 0, 0, -2, 1},
        {"nan_logits_reject_only_the_records_that_produced_them", 2, 2, 64, 512, 64, 100, 3, 2000,
         0, 0, 0, 5 + 11, 0, 0, 0, -3, 0},
        {"a_device_failure_stops_the_run_with_a_backend_error", 2, 1, 64, 256, 16, 100, 3, 5000, 0,
         0, 0, 0, 3, 0, IFS_SCHED_EBACKEND, -1, 0},
        {"a_sink_failure_stops_the_run", 2, 1, 64, 256, 16, 100, 3, 5000, 0, 0, 0, 0, 0, 150,
         IFS_SCHED_ESINK, -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scase *c = &cases[i];
        if (c->want_rejected == -2)
            c->want_rejected =
                count_texts(tok, c->n_items, c->pass_every, c->max_len, c->oom_above, 0);
        else if (c->want_rejected == -3)
            c->want_rejected =
                count_texts(tok, c->n_items, c->pass_every, c->max_len, 0, c->nan_id);
        if (!strcmp(c->name, "enomem_halves_the_batch_and_rejects_records_too_big_alone"))
            IFS_CHECK(c->want_rejected > 0, "the OOM case has no record over 40 tokens");
        run_case(tok, c);
    }
    cancel_unblocks_a_producer_waiting_for_room(tok);
    prepare_hook_runs_on_the_workers_and_keeps_the_order(tok);
    create_refuses_bad_options(tok);
    IFS_CHECK(fabs(ifs_sched_prob((const float[]){0.0f, 0.0f}, 2, 1) - 0.5) < 1e-12,
              "equal logits give probability 0.5");
    IFS_CHECK(fabs(ifs_sched_prob((const float[]){1000.0f, 0.0f}, 2, 1)) < 1e-12,
              "large logits do not overflow the softmax");
    ifs_tok_free(tok);
    return ifs_test_done("sched");
}
