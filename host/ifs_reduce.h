/*
 * ifs_reduce.h - the reducer: per-group integer counts of predictions, the
 * accounting of every input line (scored or rejected, per shard and reason),
 * and the exact merge of partial results from separate runs.
 *
 * Usage (what `ifscore score` does):
 *
 *     const char *labels[] = {"LABEL_0", "LABEL_1"};
 *     const char *keys[] = {"model", "step"};
 *     ifs_reduce_config c = ifs_reduce_default_config();
 *     c.weights_sha256 = ifs_wts_fingerprint(m);
 *     c.n_labels = 2; c.labels = labels; c.answer_label = 1;
 *     c.do_lower_case = 1; c.strip_accents = -1; c.tokenize_chinese_chars = 1;
 *     c.max_length = 512;
 *     c.n_keys = 2; c.keys = keys;
 *     ifs_reducer *r;
 *     char err[256];
 *     if (ifs_reduce_create(&c, &r, err, sizeof err)) { ... }
 *     int32_t in;
 *     ifs_reduce_add_input(r, "a.jsonl.zst", 1234, sha256_hex, &in, err, sizeof err);
 *     const char *vals[] = {"llama-7b", "8000"};
 *     ifs_reduce_pred p = { .keys = vals, .type = IFS_ITYPE_PARTIAL,
 *                           .p_answer = 0.93, .n_tokens = 57 };
 *     ifs_reduce_add(r, in, &p, 1, err, sizeof err);
 *     ifs_reduce_add_reject(r, in, "invalid_json", err, sizeof err);
 *     ifs_reduce_end_input(r, in, 2, err, sizeof err);   // lines read in that shard
 *     if (ifs_reduce_check(r, 0, err, sizeof err)) { ... exit IFS_EXIT_DATA ... }
 *     ifs_report_write(r, "report.json", 0, err, sizeof err);   // ifs_report.h
 *     ifs_reduce_free(r);
 *
 * What is counted, and why (docs/report-schema.md has the full definitions):
 *   - Everything is an integer: per group and instruction type (partial,
 *     full, none) the records, the answer-like ones, the near-threshold ones,
 *     and the sum of the answer-like probability in fixed point (units of
 *     1e-9). Sums of integers do not depend on the order they arrive in, so
 *     given the same per-record probabilities the report is the same for any
 *     thread count, batch shape or shard order, and merging partial results
 *     is exact.
 *   - Decision: a record is answer-like iff p_answer > threshold. It is
 *     near_threshold iff |p_answer - threshold| < near_margin. Threshold and
 *     margin are kept at 1e-6 resolution (rounded at create).
 *   - Groups are keyed by a tuple of strings: the values of the --group-by
 *     fields, in order.
 *
 * Ownership and threads:
 *   - Strings passed in are copied; nothing passed in is kept after a call.
 *   - ifs_reduce_add, _add_reject, _end_input, _set_timing and _set_fact are
 *     thread-safe (one internal mutex; pass whole batches to ifs_reduce_add).
 *     ifs_reduce_merge locks `dst` only: `src` must not change meanwhile.
 *     Reading functions (check, totals, ifs_report_*) must not run while
 *     another thread adds.
 *   - ifs_reduce_free accepts NULL. Nothing here prints or exits.
 *   - Errors: every function that can fail returns a negative IFS_RED_* code;
 *     those with an `err` argument also write a sentence into err[errlen]
 *     when err is non-NULL.
 */
#ifndef IFS_REDUCE_H
#define IFS_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IFS_RED_MAX_LABELS 64
#define IFS_RED_MAX_KEYS 16
#define IFS_RED_REASON_MAX 63 /* reject reason: 1..63 chars of [a-z0-9_] */

enum {
    IFS_RED_OK = 0,
    IFS_RED_EARG = -1,      /* bad argument: NULL, p_answer NaN or outside [0,1],
                               unknown input id, malformed reason or config */
    IFS_RED_ENOMEM = -2,    /* allocation failed; the reducer is unchanged */
    IFS_RED_EMISMATCH = -3, /* merge: different classifier, tokenizer or grouping */
    IFS_RED_EOVERLAP = -4,  /* the same shard (sha256, with lines) counted twice */
    IFS_RED_ECOUNT = -5,    /* accounting: read != scored + rejected, or a shard
                               was never ended */
    IFS_RED_EIO = -6,       /* report file cannot be read or written */
    IFS_RED_EFORMAT = -7,   /* report file malformed or its counts inconsistent */
    IFS_RED_EMISSING = -8,  /* slices of a sliced run are missing (ifs_reduce_check_slices) */
};

/* ifs_itype (a record's instruction_type) is ifs_record.h's. */

typedef struct {
    /* Classifier identity (merging refuses reports that differ here). */
    const char *weights_sha256;   /* 64 lowercase hex chars, e.g. ifs_wts_fingerprint() */
    const char *tokenizer_sha256; /* NULL (unknown: a report written before the field) or
                                    64 lowercase hex chars, the sha256 of
                                    ifs_tok_identity's bytes (copied). NULL and a value
                                    are different identities. */
    int32_t n_labels;             /* 2..IFS_RED_MAX_LABELS */
    const char *const *labels;    /* [n_labels] id2label names (copied) */
    int32_t answer_label;         /* index of the answer-like label */
    double threshold;             /* in (0,1); default 0.5 */
    double near_margin;           /* in [0,1); default 0.01 */
    /* What the classifier read (merging refuses reports that differ here):
     * 0 the response alone (default; the report carries no "input"), 1 a
     * pair (instruction, response) from the records' instruction_field
     * (1..255 bytes of UTF-8, copied; NULL when pair_input is 0), the
     * instruction cut first to instruction_max_tokens (0 = no cap of its own). */
    int pair_input;
    const char *instruction_field;
    int32_t instruction_max_tokens;
    /* Tokenizer settings (merging refuses reports that differ here). */
    int do_lower_case;          /* 0/1 */
    int strip_accents;          /* -1 = follow do_lower_case (HF None), 0, 1 */
    int tokenize_chinese_chars; /* 0/1 */
    int32_t max_length;         /* truncation length incl. [CLS]/[SEP] */
    /* Grouping (merging refuses reports that differ here). */
    int32_t n_keys;          /* 1..IFS_RED_MAX_KEYS */
    const char *const *keys; /* [n_keys] field names, distinct (copied) */
    /* Presentation: how curves are drawn; not part of the identity. */
    const char *curve_key;     /* NULL = auto (last key whose values are all
                                    numbers), "" = no curves, else a key name */
    double plateau_eps;        /* default 0.02, kept at 1e-6 resolution */
    int32_t plateau_min_after; /* later checkpoints that must confirm; default 2 */
} ifs_reduce_config;

/* One scored record. */
typedef struct {
    const char *const *keys; /* [n_keys] group values, NUL-terminated UTF-8
                                    (borrowed for the call) */
    ifs_itype type;
    double p_answer;   /* softmax probability of the answer-like label */
    int32_t n_tokens;  /* ids the model saw, incl. [CLS]/[SEP] (>= 0) */
    int32_t truncated; /* 1 when the tokenizer dropped tokens */
} ifs_reduce_pred;

/* Totals over the whole reducer (for summaries and tests). */
typedef struct {
    uint64_t read, scored, rejected;
    uint64_t answer_like, near_threshold, tokens, truncated;
    uint64_t n_groups, n_inputs;
} ifs_reduce_totals;

typedef struct ifs_reducer ifs_reducer;

/* Defaults: threshold 0.5, margin 0.01, strip_accents -1, do_lower_case 1,
 * tokenize_chinese_chars 1, max_length 512, curve auto, eps 0.02, min_after 2;
 * everything else zero/NULL (must be filled). */
ifs_reduce_config ifs_reduce_default_config(void);

/* Validates and copies `cfg`. Returns IFS_RED_OK and *out (free with
 * ifs_reduce_free), IFS_RED_EARG (err says which field), IFS_RED_ENOMEM. */
int ifs_reduce_create(const ifs_reduce_config *cfg, ifs_reducer **out, char *err, size_t errlen);
void ifs_reduce_free(ifs_reducer *r);

/* Registers one input shard: its path as given, its size in bytes and the
 * SHA-256 (64 hex) of its bytes. *id receives the handle to pass to add,
 * add_reject and end_input. Returns IFS_RED_OK, IFS_RED_EARG, IFS_RED_ENOMEM.
 * (A shard listed twice is caught by ifs_reduce_check, once its lines are
 * known: empty shards may share a hash harmlessly.) */
int ifs_reduce_add_input(ifs_reducer *r, const char *path, uint64_t bytes, const char *sha256,
                         int32_t *id, char *err, size_t errlen);
/* Replaces the SHA-256 (64 lowercase hex) of an input registered above, for
 * a caller that hashes a shard in the same pass that reads it and knows the
 * digest only at its end (ifs score). Returns IFS_RED_OK or IFS_RED_EARG. */
int ifs_reduce_set_input_sha256(ifs_reducer *r, int32_t id, const char *sha256, char *err,
                                size_t errlen);

/* Counts n scored records of input `input`. All or nothing: returns
 * IFS_RED_EARG (err names the index of the bad record; nothing counted:
 * p_answer NaN or outside [0,1], unknown type, n_tokens < 0, a key value
 * NULL or not valid UTF-8, input unknown or ended) or IFS_RED_ENOMEM
 * (nothing counted). */
int ifs_reduce_add(ifs_reducer *r, int32_t input, const ifs_reduce_pred *preds, size_t n, char *err,
                   size_t errlen);

/* Counts one rejected line of `input` under `reason` ([a-z0-9_]{1,63}, a
 * reason of ifs_record.h, e.g. "invalid_json"). IFS_RED_EARG, ENOMEM. */
int ifs_reduce_add_reject(ifs_reducer *r, int32_t input, const char *reason, char *err,
                          size_t errlen);

/* Declares that `input` is finished after `lines_read` lines. Returns
 * IFS_RED_ECOUNT when lines_read != scored + rejected for that input (the
 * lines are recorded anyway, so the report shows the difference),
 * IFS_RED_EARG for an unknown or already ended input. */
int ifs_reduce_end_input(ifs_reducer *r, int32_t input, uint64_t lines_read, char *err,
                         size_t errlen);

/* The run's final checks: every input ended, read == scored + rejected per
 * input and in total, groups and inputs agree, and no shard with lines is
 * present twice (same sha256) unless `allow_overlap`. Returns IFS_RED_OK,
 * IFS_RED_ECOUNT or IFS_RED_EOVERLAP with the first problem in err. */
int ifs_reduce_check(const ifs_reducer *r, int allow_overlap, char *err, size_t errlen);

/* Merges src's counts, inputs and timings into dst. Flags: */
enum { IFS_RED_ALLOW_OVERLAP = 1u << 0 };
/* Returns IFS_RED_OK; IFS_RED_EMISMATCH when classifier, tokenizer settings or
 * group-by keys differ (err names the field and both values); IFS_RED_EOVERLAP
 * when a shard with lines (same sha256) is in both, without
 * IFS_RED_ALLOW_OVERLAP; IFS_RED_ENOMEM (dst may then hold part of src: free
 * it). dst keeps its own presentation settings. */
int ifs_reduce_merge(ifs_reducer *dst, const ifs_reducer *src, unsigned flags, char *err,
                     size_t errlen);

/* Run facts for the report's `timings` object, the one part of a report that
 * may differ between runs. Numbers (seconds, or any figure) are summed when
 * reports merge; facts (strings: backend, device, threads, commit) are kept
 * when equal and become "(mixed)" otherwise. name: [a-z0-9_]{1,63}; a
 * number must be within +-1e9 and is kept at 1e-6 resolution (sums saturate
 * at +-1e9). Setting a name again replaces its value.
 * Returns IFS_RED_OK, IFS_RED_EARG, IFS_RED_ENOMEM. */
int ifs_reduce_set_timing(ifs_reducer *r, const char *name, double value);
int ifs_reduce_set_fact(ifs_reducer *r, const char *name, const char *value);

/* Slices (docs/report-schema.md, "Slices"; docs/slurm.md). A run over
 * slice `index` of `count` of an input list (score --slice I/N, one task of
 * a Slurm array) says so, naming the list it sliced by `inputs_sha256`
 * (ifs_slurm_inputs_sha256 of the sorted paths, ifs_slurm.h). Merging then
 * unions the slice indexes of reports of the same list and count and
 * refuses, leaving dst unchanged: slices of another list or count
 * (IFS_RED_EMISMATCH), a slice in both reports unless IFS_RED_ALLOW_OVERLAP
 * (IFS_RED_EOVERLAP). A report without slices merged with one with slices
 * keeps the slices. Once every index 0..count-1 is present the report is
 * written without a slice record, exactly as one unsliced run's.
 *
 * set_slice: IFS_RED_OK, IFS_RED_EARG (count < 1, index outside
 * 0..count-1, inputs_sha256 not 64 lowercase hex), IFS_RED_ENOMEM; setting
 * again replaces. Not for use while another thread adds. */
int ifs_reduce_set_slice(ifs_reducer *r, int32_t index, int32_t count, const char *inputs_sha256,
                         char *err, size_t errlen);

/* IFS_RED_OK when r holds no slices or every slice 0..count-1 of its list;
 * IFS_RED_EMISSING when some are missing, err naming them (as ranges, e.g.
 * "1, 3-5 of 8") and the list; IFS_RED_EARG for NULL. */
int ifs_reduce_check_slices(const ifs_reducer *r, char *err, size_t errlen);

/* Presentation overrides (ifscore reduce --curve-key/--plateau-*):
 * curve_key as in the config (NULL auto, "" none, else a key name): IFS_RED_OK
 * or IFS_RED_EARG for a name that is not a group-by key. For the plateau,
 * eps < 0 or min_after < 0 keep the current value; IFS_RED_EARG when eps > 1
 * or min_after > 1000000. */
int ifs_reduce_set_curve_key(ifs_reducer *r, const char *curve_key, char *err, size_t errlen);
int ifs_reduce_set_plateau(ifs_reducer *r, double eps, int32_t min_after, char *err, size_t errlen);

/* The decision rule, for writers of per-record output: 1 iff p > threshold. */
int ifs_reduce_is_answer_like(const ifs_reducer *r, double p_answer);

void ifs_reduce_get_totals(const ifs_reducer *r, ifs_reduce_totals *t);

/* Words for a status; static storage. */
const char *ifs_reduce_strerror(int rc);

/* Wilson score interval at 95% (z = 1.959963984540054) for k successes out
 * of n. n == 0 gives [0, 1]. Exposed for tests and for the table. */
void ifs_wilson95(uint64_t k, uint64_t n, double *lo, double *hi);

/* Plateau of a curve (docs/report-schema.md, "Plateau"): points i = 0..n-1
 * in ascending checkpoint order with IFS = k[i]/m[i] (every m[i] > 0). Returns
 * the index of the first point i with at least min_after later points such
 * that every later point j satisfies |k[j]/m[j] - k[i]/m[i]| <= eps_1e6/1e6,
 * compared exactly in integers; -1 when there is none. */
int64_t ifs_plateau(const uint64_t *k, const uint64_t *m, size_t n, uint64_t eps_1e6,
                    int32_t min_after);

/* --- Reading a reducer (compare, report --html, sample) ---------------------
 * Views borrow the reducer's strings: they stay valid until the reducer is
 * changed (add, merge, set_*) or freed. Arrays these functions return are
 * malloc'd (possibly NULL when *n == 0); the caller free()s them. */

/* The counts of one (group, instruction type) cell, as the report has them. */
typedef struct {
    uint64_t n, answer_like, near_threshold;
    uint64_t p_sum_1e9; /* sum of llround(p_answer * 1e9) */
} ifs_reduce_cell;

typedef struct {
    const char *const *vals; /* [n_keys] the group's key values (borrowed) */
    ifs_reduce_cell c[3];    /* indexed by ifs_itype: none, partial, full */
} ifs_reduce_group_view;

/* The groups in report order (key tuples sorted as docs/report-schema.md
 * says). Returns IFS_RED_OK, IFS_RED_EARG (NULL argument), IFS_RED_ENOMEM. */
int ifs_reduce_groups(const ifs_reducer *r, ifs_reduce_group_view **out, size_t *n);

/* The identity a report carries, borrowed (for display; to compare two
 * identities use ifs_reduce_same_identity, which knows every field). */
typedef struct {
    const char *weights_sha256;
    const char *tokenizer_sha256; /* NULL when the report has none */
    int32_t n_labels;
    const char *const *labels; /* [n_labels] */
    int32_t answer_label;
    double threshold, near_margin;
    int pair_input;                /* 0 response alone, 1 (instruction, response) */
    const char *instruction_field; /* NULL unless pair_input */
    int32_t instruction_max_tokens;
    int do_lower_case, strip_accents, tokenize_chinese_chars;
    int32_t max_length;
    int32_t n_keys;
    const char *const *keys; /* [n_keys] group-by fields */
    const char *curve_key;   /* presentation: NULL auto, "" none, else a key */
    double plateau_eps;
    int32_t plateau_min_after;
} ifs_reduce_identity;
void ifs_reduce_get_identity(const ifs_reducer *r, ifs_reduce_identity *id);

/* The one comparison of identities, the same ifs_reduce_merge makes:
 * IFS_RED_OK when a and b agree on every classifier, tokenizer and grouping
 * field the reducer has; IFS_RED_EMISMATCH with err = "reports differ in
 * FIELD: A vs B" for the first field that differs; IFS_RED_EARG for NULL. */
int ifs_reduce_same_identity(const ifs_reducer *a, const ifs_reducer *b, char *err, size_t errlen);

typedef struct {
    const char *path;   /* as given to the run (borrowed) */
    const char *sha256; /* 64 hex (borrowed) */
    uint64_t bytes, read, scored, rejected;
} ifs_reduce_input_view;

/* The inputs in report order (path, then sha256). IFS_RED_OK, EARG, ENOMEM. */
int ifs_reduce_inputs(const ifs_reducer *r, ifs_reduce_input_view **out, size_t *n);

typedef struct {
    const char *name; /* reject reason code (borrowed) */
    uint64_t count;
} ifs_reduce_reason_count;

/* Rejects per reason over all inputs, sorted by name. IFS_RED_OK, EARG, ENOMEM. */
int ifs_reduce_reject_totals(const ifs_reducer *r, ifs_reduce_reason_count **out, size_t *n);

typedef struct {
    const char *name; /* borrowed */
    int is_fact;      /* 1: a string fact (value in `fact`) */
    double value;     /* a number (is_fact == 0) */
    const char *fact; /* borrowed (is_fact == 1) */
} ifs_reduce_timing_view;

/* The `timings` object: numbers sorted by name, then facts sorted by name.
 * IFS_RED_OK, EARG, ENOMEM. */
int ifs_reduce_timings(const ifs_reducer *r, ifs_reduce_timing_view **out, size_t *n);

/* The total order of key values reports sort by (numbers first by exact
 * value, then natural order, ties bytewise): < 0, 0, > 0 like strcmp. */
int ifs_reduce_value_cmp(const char *a, const char *b);

/* Newcombe's hybrid score interval at 95% (method 10 of Newcombe 1998) for
 * the difference k1/n1 - k2/n2 of two independent proportions, from their
 * Wilson intervals, clipped to [-1, 1]. Either n == 0 gives [-1, 1]. */
void ifs_newcombe95(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, double *lo, double *hi);

#ifdef __cplusplus
}
#endif
#endif /* IFS_REDUCE_H */
