/*
 * ifs_sched.h - the scoring pipeline between the record reader and the
 * reducer: tokenizer worker threads, length-sorted token-budgeted packed
 * batches, one worker per backend handle, results delivered in input order.
 *
 * Usage:
 *
 *     ifs_sched_opts o = ifs_sched_default_opts();
 *     o.n_threads = 8;                     // tokenizer workers
 *     o.max_batch_tokens = 16384;
 *     ifs_sched *s;
 *     if (ifs_sched_create(&o, tok, cfg, backends, n_backends, sink, ctx,
 *                          &s, err, sizeof err)) { ... }
 *     while (read a record)
 *         if (ifs_sched_submit(s, text, len, rec_payload)) break;   // blocks when full
 *     ifs_sched_pass(s, shard_payload, 1);   // in-order marker, seals the chunk
 *     rc = ifs_sched_finish(s);              // waits until every item is delivered
 *     ifs_sched_free(s);
 *
 * How it works (the decisions behind it):
 *   - Submitted items are grouped, in submission order, into chunks of at
 *     most opts.chunk_records items / opts.chunk_bytes submitted bytes. A chunk is
 *     the sorting window: once sealed, its texts are tokenized by the worker
 *     threads (slices of opts.slice records), then its scorable records are
 *     sorted by (token count, submission index) and cut greedily into packed
 *     batches under max_batch_tokens / max_batch_seqs. Batches go to a queue
 *     that the backend workers (one thread per engine) drain.
 *   - Batch composition depends only on the submission sequence, the chunk
 *     limits and the batch budget: never on thread count or timing.
 *     ifs_sched_pass(..., seal=1) closes the current chunk, so when callers
 *     seal at every shard boundary a shard's batches do not depend on which
 *     shards came before it (shard order, resume).
 *   - Back-pressure: at most opts.max_chunks chunks are in flight; submit
 *     blocks until the oldest is delivered. Memory is therefore bounded by
 *     max_chunks x (chunk_bytes of submitted bytes + chunk_records x max_len ids), not
 *     by the input's size. (One item larger than chunk_bytes forms a chunk
 *     of its own.)
 *   - Delivery: one thread calls the sink for every item in exactly the
 *     order submitted, scored, rejected or passed through. The sink is never
 *     called concurrently with itself.
 *   - Faults: IFS_BK_ENOMEM halves the batch and reruns the same records
 *     (and halves that worker's token cap for later batches); a single
 *     record that still fails is rejected (IFS_SCHED_R_OOM). IFS_BK_EARG is
 *     isolated the same way (IFS_SCHED_R_BACKEND). Logits are checked for
 *     NaN/Inf after every batch; such a record is rejected
 *     (IFS_SCHED_R_NONFINITE), never counted. Any other backend error
 *     (device lost) stops the pipeline: ifs_sched_finish returns
 *     IFS_SCHED_EBACKEND and nothing more is delivered.
 *
 * Ownership and threads:
 *   - tok, cfg and the engines are borrowed; they must outlive the
 *     scheduler. Each engine is used by one backend worker thread only.
 *   - submit copies the text; `user` pointers are opaque and handed back to
 *     the sink untouched (the caller frees them, typically in the sink;
 *     opts.release gets those of items never delivered).
 *   - submit, pass and finish are called from one producer thread.
 *     ifs_sched_cancel may be called from any thread (not from a signal
 *     handler: it takes a mutex).
 *   - A result passed to the sink (and its logits) is valid only during
 *     the call.
 *   - ifs_sched_free accepts NULL; it cancels and joins what is still
 *     running. Nothing here prints or exits.
 */
#ifndef IFS_SCHED_H
#define IFS_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_backend.h"
#include "ifs_tok.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    IFS_SCHED_OK = 0,
    IFS_SCHED_EARG = -1,      /* bad option or argument (message in err) */
    IFS_SCHED_ENOMEM = -2,    /* host allocation failed */
    IFS_SCHED_EBACKEND = -3,  /* a backend failed in a way that stops the run */
    IFS_SCHED_ESINK = -4,     /* the sink returned non-zero */
    IFS_SCHED_ECANCELED = -5, /* ifs_sched_cancel was called */
    IFS_SCHED_ETHREAD = -6,   /* a thread could not be started */
};

typedef struct ifs_sched ifs_sched;

/* What became of one item. */
typedef enum {
    IFS_SCHED_SCORED = 0,   /* logits are valid and finite */
    IFS_SCHED_REJECTED = 1, /* see reason / detail */
    IFS_SCHED_PASSED = 2,   /* an ifs_sched_pass item: nothing was computed */
} ifs_sched_outcome;

/* Reject reasons the scheduler itself produces. Stable names for rejects
 * files come from ifs_sched_reason_str(). */
typedef enum {
    IFS_SCHED_R_NONE = 0,
    IFS_SCHED_R_UTF8 = 1,      /* "invalid_utf8": the tokenizer refused the text */
    IFS_SCHED_R_TOKENIZE = 2,  /* "tokenizer_error": any other tokenizer failure */
    IFS_SCHED_R_OOM = 3,       /* "backend_oom": out of memory even alone in a batch */
    IFS_SCHED_R_BACKEND = 4,   /* "backend_rejected": the backend refused the record alone */
    IFS_SCHED_R_NONFINITE = 5, /* "nonfinite_logits": NaN or Inf in the logits */
} ifs_sched_reason;

typedef struct {
    uint64_t seq; /* submission index, 0-based, counts every item */
    void *user;   /* as given to submit / pass */
    ifs_sched_outcome outcome;
    ifs_sched_reason reason; /* IFS_SCHED_R_NONE unless REJECTED */
    const char *detail;      /* REJECTED: words (e.g. byte offset); else "" */
    const float *logits;     /* SCORED: [num_labels] raw logits; else NULL */
    int32_t num_labels;
    int32_t n_tokens;      /* tokens fed to the model (incl. [CLS]/[SEP]); 0 if none */
    int32_t n_untruncated; /* tokens before truncation; a lower bound when truncated (ifs_tok.h) */
    int truncated;         /* 1 when the text was cut to max_len */
} ifs_sched_result;

/* Called in submission order from the delivery thread. Return 0 to go on,
 * non-zero to stop the run (finish then returns IFS_SCHED_ESINK). */
typedef int (*ifs_sched_sink)(void *ctx, const ifs_sched_result *r);

/* A forward engine other than ifs_backend (tests use it to force ENOMEM,
 * device errors and NaN). Same contract as ifs_backend_forward; the error
 * words go to err. NULL in opts means the engines are ifs_backend handles. */
typedef int (*ifs_sched_forward_fn)(void *engine, const ifs_batch *batch, float *logits, char *err,
                                    size_t errlen);

/* What opts.prepare hands back (borrowed): the text to tokenize, and for a
 * pair (as ifs_sched_submit_pair's a, b) the first text in pair/pair_len
 * with the second in text/len; pair NULL for a single text. */
typedef struct {
    const char *text;
    size_t len;
    const char *pair;
    size_t pair_len;
} ifs_sched_text;

typedef struct {
    int n_threads;                /* tokenizer workers (>= 1) */
    int32_t max_len;              /* truncation length incl. specials (<= cfg->max_position) */
    int32_t max_batch_tokens;     /* packed tokens per forward call (>= max_len) */
    int32_t max_batch_seqs;       /* records per forward call */
    int32_t chunk_records;        /* items per sorting window */
    size_t chunk_bytes;           /* submitted bytes per sorting window (the items' bytes as
                                  given to submit, before opts.prepare) */
    int max_chunks;               /* chunks in flight (>= 2): the back-pressure bound */
    int32_t slice;                /* records per tokenizer task */
    int32_t pair_a_max;           /* pair items (ifs_sched_submit_pair): the first text's own
                                  cap, ifs_tok_encode_pair_cap's a_max (0 = none) */
    ifs_sched_forward_fn forward; /* NULL: engines are ifs_backend * */
    /* Called by ifs_sched_free (from the calling thread) with the sink's ctx
     * for each item that was submitted but never delivered (a canceled or
     * failed run), so the caller can free its `user` payload. NULL: none. */
    void (*release)(void *ctx, void *user);
    /* Optional: turns a submitted item's bytes into the text to score, on
     * the tokenizer worker that tokenizes it (so a record parser runs in
     * parallel, off the producer thread). Called once per submitted item,
     * in no particular order across items; bytes[len] is a NUL. *wstate is
     * the worker's own slot (NULL at first; the hook may allocate into it;
     * prepare_free gets it when the worker exits). The hook may replace
     * *user (the new pointer is what reaches the sink or release). Returns
     * 1 with out->text/len (valid until the hook's next call on this
     * worker) to tokenize and score, 0 when the item is not to be scored
     * (it is then delivered as IFS_SCHED_PASSED, its batch place unused),
     * -1 when out of memory (the run stops with IFS_SCHED_ENOMEM).
     * NULL: the submitted bytes are the text. */
    int (*prepare)(void *ctx, void **wstate, void **user, const char *bytes, size_t len,
                   ifs_sched_text *out);
    void (*prepare_free)(void *ctx, void *wstate);
} ifs_sched_opts;

/* Counters; thread-seconds are summed over the threads of a stage. */
typedef struct {
    uint64_t items; /* submitted (scored + rejected + passed once delivered) */
    uint64_t delivered;
    uint64_t scored, rejected, passed;
    uint64_t text_bytes; /* bytes of text tokenized (submitted bytes without opts.prepare) */
    uint64_t tokens;     /* tokens run through the model */
    uint64_t truncated;
    uint64_t batches;    /* successful forward calls */
    uint64_t oom_splits; /* batches split after IFS_BK_ENOMEM */
    double prepare_s;    /* thread-seconds in opts.prepare (in the tokenizer workers) */
    double tokenize_s;   /* tokenizer thread-seconds, prepare_s excluded */
    double forward_s;    /* backend thread-seconds inside forward */
    double sink_s;       /* delivery thread-seconds inside the sink */
} ifs_sched_stats;

ifs_sched_opts ifs_sched_default_opts(void);

/* Creates the scheduler and starts its threads.
 * tok: tokenizer (borrowed). cfg: the model's config (borrowed; num_labels,
 * max_position, vocab_size are used). engines: n_engines >= 1 handles
 * (borrowed), one worker thread each. sink/ctx: the delivery callback.
 * Returns IFS_SCHED_OK and *out, or an error with words in err. */
int ifs_sched_create(const ifs_sched_opts *opts, const ifs_tok *tok, const ifs_bert_config *cfg,
                     void *const *engines, int n_engines, ifs_sched_sink sink, void *ctx,
                     ifs_sched **out, char *err, size_t errlen);

/* Queues one text to score (copied; need not be NUL-terminated). Blocks
 * while max_chunks chunks are in flight. Returns IFS_SCHED_OK when the item
 * was taken (`user` then reaches the sink, or opts.release if the run
 * stops first), or the status that stopped the run (ECANCELED, EBACKEND,
 * ESINK, ENOMEM) when it was not (the caller keeps `user`). */
int ifs_sched_submit(ifs_sched *s, const char *text, size_t len, void *user);

/* As ifs_sched_submit for a text pair (a pair classifier's instruction a and
 * response b, both copied): tokenized by ifs_tok_encode_pair_cap with
 * opts.pair_a_max as [CLS] a [SEP] b [SEP], token types 0 then 1, which the
 * batch carries to the backend (type_ids). A pair and single texts may share
 * a batch (the singles get types 0). The item's text bytes are alen + blen. */
int ifs_sched_submit_pair(ifs_sched *s, const char *a, size_t alen, const char *b, size_t blen,
                          void *user);

/* Queues an item that is not scored but delivered in order (a record the
 * parser rejected, a shard-end marker). seal != 0 closes the current chunk
 * after it. Same returns as submit. */
int ifs_sched_pass(ifs_sched *s, void *user, int seal);

/* Seals the last chunk and waits until every item is delivered. Returns
 * IFS_SCHED_OK or the status that stopped the run. Call once. After a stop
 * it still waits for the chunk the sink is being handed, so no sink call
 * runs once it has returned. */
int ifs_sched_finish(ifs_sched *s);

/* Stops the run as soon as possible: nothing more is delivered, blocked
 * calls return IFS_SCHED_ECANCELED. Safe from any thread. */
void ifs_sched_cancel(ifs_sched *s);

/* Copies the counters (consistent enough for a progress line). */
void ifs_sched_get_stats(ifs_sched *s, ifs_sched_stats *st);

/* The words of the error that stopped the run ("" if none). Owned by s. */
const char *ifs_sched_error(const ifs_sched *s);

/* Cancels if still running, joins the threads, frees. Accepts NULL. */
void ifs_sched_free(ifs_sched *s);

const char *ifs_sched_strerror(int rc);
const char *ifs_sched_reason_str(ifs_sched_reason r);

/* Softmax probability of label `answer` from raw logits (computed in double,
 * max-subtracted). */
double ifs_sched_prob(const float *logits, int32_t num_labels, int32_t answer);

#ifdef __cplusplus
}
#endif
#endif /* IFS_SCHED_H */
