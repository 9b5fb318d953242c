/*
 * ifs_score.h - the main job as a library: shards in, report.json, per-record
 * scores and rejects out, with resume, slices and cancellation.
 * `ifscore score` (host/cli/cmd_score.c) is argv parsing and printing over
 * this; tests and benchmarks call it directly.
 *
 * Usage:
 *
 *     ifs_score_opts o = ifs_score_default_opts();
 *     const char *in[] = { "shards/" };
 *     o.model = "clf/"; o.inputs = in; o.n_inputs = 1;
 *     o.out = "report.json"; o.scores = "scores.jsonl.zst"; o.resume = 1;
 *     ifs_score *S;
 *     char err[1024];
 *     int rc = ifs_score_create(&o, &S, err, sizeof err);   // loads, checks, opens state
 *     if (rc == 0) rc = ifs_score_run(S, err, sizeof err);
 *     // rc: 0 done; IFS_SCORE_ECANCELLED (resumable); IFS_SCORE_EDATA (report
 *     // written, counts do not add up); another negative status: failed
 *     const ifs_reducer *rep = ifs_score_report(S);          // tables, tests
 *     ifs_score_free(S);
 *
 * The way of the data:
 *   reader threads (opts.readers): shards of the slice ahead, in sorted
 *     order: each shard's bytes read once, hashed (sha256) in that pass and
 *     decompressed and split into lines (ifs_shard), in blocks of lines.
 *   run's thread: takes the blocks in shard order and submits every line to
 *     the scheduler; reader rejects go through as pass items so they keep
 *     their place; a shard-end marker (with the sha256) seals the shard.
 *   scheduler (ifs_sched): tokenizer workers, which parse each line into a
 *     record (ifs_record, through ifs_sched_opts.prepare; a bad line becomes
 *     a pass item in place) and tokenize its text; length-sorted packed
 *     batches, one backend worker per engine, in-order delivery to the sink.
 *   sink (delivery thread): counts each record into the shard's own reducer
 *     and writes its scores / rejects lines into the shard's parts in the
 *     state directory; at the shard-end marker it hands the shard to the
 *     committer threads, which commit the parts, the shard's partial report,
 *     then the shard's .done marker, each atomically. A shard with a zstd
 *     frame that fails its checksum is read a second time with that frame's
 *     lines rejected (zstd_checksum), its first pass discarded uncommitted.
 *   end: the partials of every shard of the slice are merged in sorted shard
 *     order, checked, and written; the scores and rejects parts are
 *     concatenated in the same order.
 * Because the final report is always the merge of per-shard partials in the
 * same order, a resumed run and an uninterrupted one write the same bytes
 * (timings aside), whatever the thread count or batch budget.
 *
 * What ifs_score_create refuses (IFS_SCORE_EUSAGE, err says which and why),
 * before anything is read or written: options out of range, a model that
 * does not load, a pair checkpoint without opts.instruction_field or a
 * response-only checkpoint with one, an output path that is an input (compared by device and
 * inode, so "./x", symlinks and hard links count) or another output, an
 * output whose folder is missing or not writable, a state directory that is
 * not ifscore's own (ifs_resume.h) or is in use by another run. Outputs:
 *   out     the report (NULL: not written; the caller renders
 *           ifs_score_report itself, e.g. to stdout)
 *   scores, rejects   per-record lines (.jsonl, .jsonl.zst, "-" = stdout)
 *
 * Threads and ownership: a handle is used by one thread, except
 * ifs_score_cancel and ifs_score_snapshot, which any thread may call at any
 * time between create and free (not from a signal handler). Every string in
 * the options is borrowed: it must stay valid until ifs_score_free. The
 * library never prints and never exits; warnings go to opts.on_warning.
 */
#ifndef IFS_SCORE_H
#define IFS_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_reduce.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Statuses (0 = done). */
enum {
    IFS_SCORE_OK = 0,
    IFS_SCORE_EUSAGE = -1,     /* the options, model or paths are wrong for this run */
    IFS_SCORE_EFAIL = -2,      /* runtime failure: unreadable input, device, disk */
    IFS_SCORE_EDATA = -3,      /* finished and written, but the data checks failed
                                  (read != scored + rejected, a shard counted twice) */
    IFS_SCORE_ECANCELLED = -4, /* stopped by ifs_score_cancel: the state is resumable */
    IFS_SCORE_ENOMEM = -5,
};

typedef struct {
    /* classifier and backend */
    const char *model;        /* checkpoint folder (required) */
    const char *backend;      /* "cpu", "cuda" or "auto" (default auto: cuda when usable) */
    const char *dtype;        /* "auto" (f16 on cuda, f32 on cpu), "f16", "bf16", "f32" */
    const char *devices;      /* cuda: comma-separated ordinals (NULL = "0") */
    int threads;              /* tokenizer workers (default 2) */
    int cpu_threads;          /* cpu backend: threads in the forward (0 = all cores) */
    int32_t max_batch_tokens; /* packed tokens per forward call (default 16384) */
    int32_t max_batch_seqs;   /* records per forward call (default 512) */
    int32_t max_len;          /* truncation incl. [CLS]/[SEP]; 0 = the tokenizer's
                                   model_max_length, at most max_position_embeddings */
    int32_t chunk_records;    /* sorting window (default 4096) */
    int max_chunks;           /* windows in flight, the memory bound (default 4) */
    int readers;              /* reader threads (read, hash, decompress, split shards
                                   ahead of the scheduler); 0 = 1 + threads / 4, at most 8 */
    /* records */
    const char *text_field;        /* NULL = "response" */
    const char *type_field;        /* NULL = "instruction_type"; "" = none */
    const char *id_field;          /* NULL = "id"; "" = none */
    const char *group_by;          /* comma-separated keys; NULL = "model" */
    const char *instruction_field; /* pair mode: the record field holding the instruction
                                   (score --instruction-field); NULL or "" = none. Required
                                   by a pair checkpoint (config.json "ifs_input": "pair"),
                                   refused by a response-only one: ifs_score_create says
                                   which (IFS_SCORE_EUSAGE). Each record then feeds
                                   [CLS] instruction [SEP] response [SEP], token types 0/1,
                                   the instruction cut first to the checkpoint's
                                   ifs_instruction_max_tokens (ifs_tok_encode_pair_cap); a
                                   record without it is rejected as missing_instruction, one
                                   whose value is not a string as instruction_not_string */
    size_t max_line_bytes;         /* longer lines are rejected (default 1 MiB) */
    /* decision */
    const char *answer_label; /* name or index; NULL = from id2label, else 1 */
    double threshold;         /* answer-like iff p > threshold (default 0.5) */
    /* inputs: files, folders, globs, "-" (ifs_io.h's rules), then files[i::n] */
    const char *const *inputs;
    size_t n_inputs;
    int slice_index, slice_count; /* slice_count 0 = all files */
    /* outputs */
    const char *out;       /* report.json; NULL = none (see above) */
    const char *scores;    /* NULL = none */
    const char *rejects;   /* NULL = none */
    const char *state_dir; /* NULL = "<out>.state" ("ifscore.state" without out) */
    int resume;            /* skip shards finished by an earlier run with the
                                   same configuration */
    int no_timings;        /* leave run timings out of the report */
    /* called with one sentence per non-fatal problem (a shard whose counts do
       not add up), from a committer thread, one call at a time; NULL = dropped */
    void (*on_warning)(void *ctx, const char *msg);
    void *warning_ctx;
    /* called after each shard is committed (or found done), from a committer
       thread or the run's thread, one call at a time, in commit order (not
       always list order); tests use it to cancel at a known place */
    void (*on_shard)(void *ctx, const char *path, int skipped);
    void *shard_ctx;
} ifs_score_opts;

/* The defaults listed above. */
ifs_score_opts ifs_score_default_opts(void);

typedef struct ifs_score ifs_score;

/* Loads the classifier and tokenizer, lists and slices the inputs, checks
 * every path (see above), opens and locks the state directory, creates the
 * engines. Returns 0 and *out, or a negative status with words in err and
 * *out NULL (nothing was written but the state directory's lock, released). */
int ifs_score_create(const ifs_score_opts *opts, ifs_score **out, char *err, size_t errlen);

/* Scores every shard not already done, then writes the outputs. Returns
 * IFS_SCORE_OK, IFS_SCORE_EDATA (outputs written; err says what failed the
 * check), IFS_SCORE_ECANCELLED (nothing final written; the shards committed
 * so far are kept for --resume), or another negative status with err. Call
 * once per handle. */
int ifs_score_run(ifs_score *S, char *err, size_t errlen);

/* Asks a running ifs_score_run to stop: it returns IFS_SCORE_ECANCELLED
 * within about one batch's time. Safe from any thread; idempotent. */
void ifs_score_cancel(ifs_score *S);

/* The merged report of the run (after ifs_score_run returned OK or EDATA;
 * NULL before). Borrowed: valid until ifs_score_free. */
const ifs_reducer *ifs_score_report(const ifs_score *S);

/* Counters for a progress line; any thread, any time. */
typedef struct {
    uint64_t records, rejected, tokens;
    uint64_t shards_done, shards_total;
    uint64_t bytes_done, bytes_total; /* input bytes; total 0 = unknown (stdin) */
} ifs_score_snap;
void ifs_score_snapshot(ifs_score *S, ifs_score_snap *snap);

/* What the run did and where its time went (after ifs_score_run). Seconds
 * are thread-seconds of each stage; rates are the caller's to compute. */
typedef struct {
    const char *backend;   /* "cpu" or "cuda" (resolved); static storage */
    const char *dtype;     /* "f32", "f16", "bf16"; static storage */
    const char *state_dir; /* borrowed from the handle */
    int engines, threads;
    int32_t max_len, max_batch_tokens;
    uint64_t shards, shards_done, shards_skipped;
    uint64_t lines_read, bytes_in, bytes_out; /* this run: compressed in, text out */
    uint64_t scored, rejected, tokens, batches, oom_splits, items, text_bytes;
    double hash_s, decompress_s, parse_s, tokenize_s, forward_s, reduce_s, finish_s, wall_s;
} ifs_score_stats;
void ifs_score_get_stats(const ifs_score *S, ifs_score_stats *st);

/* Frees everything and releases the state directory. NULL ok. */
void ifs_score_free(ifs_score *S);

/* Words for a status; static storage. */
const char *ifs_score_strerror(int status);

#ifdef __cplusplus
}
#endif
#endif /* IFS_SCORE_H */
