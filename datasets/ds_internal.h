/*
 * ds_internal.h - what the datasets module's files share with each other and
 * with its subcommands (datasets/cmd_*.c): a growable byte buffer with JSON
 * helpers, the shard-set sink (rolling .jsonl.zst shards + manifest.json),
 * the importers, and the builders. Not installed; the stable public API is
 * ifs_ds.h (what the commands use: option structs, statistics and one call
 * per command).
 *
 * Conventions as everywhere: 0 / negative IFS_DS_* status, words in a caller
 * buffer (err, errlen), nothing prints, nothing exits.
 */
#ifndef IFS_DS_INTERNAL_H
#define IFS_DS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ifs_ds.h"
#include "ifs_buf.h"
#include "ifs_rng.h"

/* ---- growable buffer ------------------------------------------------------ */
/* host's ifs_buf (ifs_buf.h); the ds_buf_* names below are datasets' few
 * JSON helpers over it. */
typedef ifs_buf ds_buf;

void ds_buf_reset(ds_buf *b);
void ds_buf_free(ds_buf *b);
void ds_buf_put(ds_buf *b, const void *data, size_t n);
void ds_buf_puts(ds_buf *b, const char *s);
void ds_buf_printf(ds_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "escaped" with quotes (ifs_json_escape: invalid UTF-8 becomes U+FFFD). */
void ds_buf_json_str(ds_buf *b, const char *s, size_t n);
/* ,"key":"value" (a leading comma unless b ends in '{'). */
void ds_buf_kv_str(ds_buf *b, const char *key, const char *s, size_t n);
void ds_buf_kv_int(ds_buf *b, const char *key, long long v);
/* ,"key":<raw JSON> */
void ds_buf_kv_raw(ds_buf *b, const char *key, const char *json, size_t n);

/* A set of non-zero 64-bit hashes (open addressing): 8-16 bytes per member. */
typedef struct {
    uint64_t *slot;
    size_t n, cap;
} ds_set;
/* 1 when h (made non-zero) was already in, 0 when added, IFS_DS_ENOMEM. */
int ds_set_add(ds_set *s, uint64_t h);
int ds_set_has(const ds_set *s, uint64_t h);
void ds_set_free(ds_set *s);

/* splitmix64's step: z + golden ratio, then its finaliser, i.e. the first
 * draw of host's ifs_rng (ifs_rng.h) seeded with z. Every hash of the module
 * mixes with it (ifs_ds_key, shingles); frozen by test_core's keys. */
static inline uint64_t ds_mix64(uint64_t z)
{
    ifs_rng r = ifs_rng_seed(z);
    return ifs_rng_u64(&r);
}

/* The stream every seeded choice of the builders draws from: host's ifs_rng
 * (the project's one splitmix64). Only the two derivations below are the
 * module's own, kept because every dataset's bytes depend on them:
 * ds_rng_below is multiply-high (ifs_rng_below is a modulo) and ds_rng_unit
 * is in [0, 1) (ifs_rng_unit is in (0, 1]). */
typedef ifs_rng ds_rng;
static inline ds_rng ds_rng_seed(uint64_t seed)
{
    return ifs_rng_seed(seed);
}
static inline uint64_t ds_rng_next(ds_rng *r)
{
    return ifs_rng_u64(r);
}
/* Uniform in [0, n) (n > 0; multiply-high, no modulo). */
static inline uint32_t ds_rng_below(ds_rng *r, uint32_t n)
{
    return (uint32_t)(((ds_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}
static inline double ds_rng_unit(ds_rng *r)
{
    return (double)(ds_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- text checks ---------------------------------------------------------- */
/* 1 when data holds a raw NUL or a \u0000 escape (cJSON would cut a string
 * there), 0 otherwise. */
int ds_has_nul(const char *data, size_t len);

/* ---- shard-set sink --------------------------------------------------------
 * Writes records as lines into DIR/<stem>-NNNNN.jsonl.zst, starting a new
 * shard after max_records lines or max_bytes uncompressed bytes (0 = no
 * limit), and at the end DIR/manifest.json:
 *   {"format":"ifscore-shards/1","records":R,"bytes":B,
 *    "shards":[{"file":"x-00000.jsonl.zst","records":r,"bytes":b,
 *               "uncompressed_bytes":u,"sha256":"..."}],
 *    <extra members from the caller>}
 * Every shard and the manifest are written atomically (host's writer). */
typedef struct ds_sink ds_sink;
ds_sink *ds_sink_open(const char *dir, const ifs_ds_sink_opts *o, char *err, size_t errlen);
/* Starts a new series of shards named after stem (ends the open shard). */
int ds_sink_begin(ds_sink *s, const char *stem, char *err, size_t errlen);
/* One record line (no '\n' inside). */
int ds_sink_line(ds_sink *s, const char *line, size_t len, char *err, size_t errlen);
/* Ends the open shard (if any). */
int ds_sink_end(ds_sink *s, char *err, size_t errlen);
/* Ends the open shard and writes manifest.json with `extra` (JSON members
 * without braces, e.g. "\"import\":{...}", or NULL) appended. */
int ds_sink_finish(ds_sink *s, const char *extra, char *err, size_t errlen);
uint64_t ds_sink_records(const ds_sink *s);
size_t ds_sink_shards(const ds_sink *s);
void ds_sink_free(ds_sink *s); /* removes a shard left open (never half a file) */

/* ---- importers ------------------------------------------------------------ */
typedef struct ds_importer ds_importer;
ds_importer *ds_importer_create(const ifs_ds_import_opts *o, char *err, size_t errlen);
void ds_importer_free(ds_importer *im);
/* Imports one input file into the sink (a series named after the file).
 * Element-level problems are counted as skips and the import goes on; a
 * file-level problem (not JSON at all, truncated, corrupt zstd) returns
 * IFS_DS_ESYNTAX / ETRUNC / EFORMAT / EIO with words naming the file and
 * offset, after the records read before it were written. */
int ds_import_file(ds_importer *im, const char *path, ds_sink *sink, char *err, size_t errlen);
const ifs_ds_import_stats *ds_importer_stats(const ds_importer *im);
/* The element-level steps of ds_import_file, for callers that split bytes
 * themselves (the fuzz target): one element (stem names the source), and the
 * end of a source (resolves a pending oasst tree). */
int ds_import_element(ds_importer *im, const char *stem, const ifs_ds_elem *e, ds_sink *sink,
                      char *err, size_t errlen);
int ds_import_end(ds_importer *im, ds_sink *sink, char *err, size_t errlen);
/* The first exchange of an HH transcript ("\n\nHuman: ...\n\nAssistant: ...").
 * Offsets into the transcript, texts trimmed of outer whitespace. */
typedef struct {
    size_t human_off, human_len, reply_off, reply_len;
} ds_hh_exchange;
/* Returns IFS_DS_SKIP__COUNT when the exchange is usable, else the skip reason:
 * no_human_turn (does not start with "Human:"), no_assistant_turn (no
 * "\n\nAssistant:" before a second human turn), missing_instruction (empty
 * human turn), bad_transcript (a turn label at the start of a line inside
 * either text). An empty reply is usable (imported as an empty response). */
int ds_hh_first_exchange(const char *t, size_t n, ds_hh_exchange *x);
/* Appends the stats as JSON members "elements":..,"records":..,"skipped":{..} */
void ds_import_stats_json(const ifs_ds_import_stats *st, ds_buf *b);

/* Expands importer inputs: files as given, directories to their *.json,
 * *.jsonl, *.json.zst, *.jsonl.zst files (sorted, not hidden, not
 * recursive). Returns a NULL-terminated array (free with ds_paths_free) or
 * NULL with words in err. */
char **ds_list_inputs(char *const *args, int n, char *err, size_t errlen);
void ds_paths_free(char **paths);
/* "dir/Conifer-7B.json.zst" -> "Conifer-7B" into out. */
void ds_stem(const char *path, char *out, size_t cap);

/* ---- reading ifscore shards (JSONL / .jsonl.zst) ---------------------------
 * Every line of every input (ifs_io_list_inputs: files, folders of *.jsonl
 * and *.jsonl.zst, globs, "-") through host's shard reader; each line that is
 * a JSON object (UTF-8, no NUL) goes to fn; the rest are counted by host's
 * reject reasons. fn returns 0 to go on, non-zero to stop (that status is
 * returned). */
typedef struct {
    uint64_t lines, objects;
    uint64_t rejected[32]; /* by ifs_reject_reason */
    uint64_t rejected_total;
    uint64_t stream_errors; /* shards cut short (corrupt / truncated) */
} ds_read_stats;

/* raw[0, raw_len) is the line as read (for verbatim copies). */
typedef int (*ds_record_fn)(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                            uint64_t line, void *user);
int ds_read_records(char *const *args, int nargs, ds_record_fn fn, void *user, ds_read_stats *st,
                    char *err, size_t errlen);
/* Appends "read":{"lines":..,"rejected":{reason:n}} members. */
void ds_read_stats_json(const ds_read_stats *st, ds_buf *b);

/* A string member of obj (NULL when absent or not a string); len set. */
const char *ds_get_str(const cJSON *obj, const char *key, size_t *len);

/* ---- near-duplicate instructions (neardup.c) ---------------------------------- */
#define DS_SKETCH_MAX 256
/* The sorted distinct hashes of text's word 3-shingles (words: runs of ASCII
 * letters/digits, lowercased, or of non-ASCII bytes; fewer than 3 words make
 * one shingle of them all; no word, no shingle), at most DS_SKETCH_MAX, the
 * smallest (*truncated set when there were more). Returns the count, or
 * (size_t)-1 when out of memory. */
size_t ds_sketch(const char *text, size_t len, uint64_t *out, int *truncated);
/* Jaccard similarity of two sketches: exact when neither is truncated, else
 * estimated over the k smallest of the union (k = the shorter sketch). */
double ds_sketch_jaccard(const uint64_t *a, size_t na, int ta, const uint64_t *b, size_t nb,
                         int tb);
typedef struct {
    const uint64_t *hash; /* all sketches, one after another */
    const uint32_t *off;  /* item i: hash[off[i], off[i] + len[i]) */
    const uint16_t *len;
    const uint8_t *trunc;
} ds_sketch_set;
typedef struct {
    uint64_t compared, merged; /* pairs whose similarity was computed / that joined groups */
} ds_group_stats;
/* Groups the n items whose sketches have Jaccard >= threshold, transitively
 * (connected components): root[i] = the smallest index of i's group. Every
 * pair at or over the threshold is found (prefix filtering; exact for
 * untruncated sketches). threshold <= 0 leaves every item alone. Returns 0
 * or IFS_DS_ENOMEM. */
int ds_group_near_duplicates(size_t n, const ds_sketch_set *ss, double threshold, uint32_t *root,
                             ds_group_stats *gs);

/* ---- response-set kinds (negatives.c) ---------------------------------------- */
typedef enum {
    DS_OUT_R = 0,     /* a real response of an instruction-tuned model: label 1 */
    DS_OUT_R_TERSE,   /* the same, at most terse_max_words words: label 1 */
    DS_OUT_IC,        /* the rest of the instruction (the paper's Ic) */
    DS_OUT_IC_R,      /* the rest, then the response (the paper's Ic + R) */
    DS_OUT_IC_NEXT,   /* the rest, then the next question(s) */
    DS_OUT_ECHO,      /* the input echoed */
    DS_OUT_NEXT,      /* the next question(s) instead of an answer */
    DS_OUT_TEMPLATE,  /* a data-set template: "Input: <another instruction>\nOutput: ..." */
    DS_OUT_REPEAT,    /* a repetition loop of a line / words of real text */
    DS_OUT_GIBBERISH, /* token soup from a real response (NullModel) */
    DS_OUT__COUNT
} ds_out;
const char *ds_out_name(ds_out k); /* "R", "R-terse", "Ic", "Ic+R", "Ic+next", "echo", ... */
int ds_out_parse(const char *name, size_t len); /* -1 if unknown */
int ds_out_label(ds_out k);                     /* 1 for R, R-terse; 0 otherwise */

typedef struct {
    const char *p;
    size_t n;
} ds_str;
/* What a record's text is made from (all borrowed). */
typedef struct {
    ds_str instr, ip, ic, resp; /* the pair: I, Ip, Ic, R */
    ds_str input;               /* the model's input: I or Ip (echo repeats it) */
    int input_partial;          /* input is Ip */
    ds_str other_instr[3];      /* other instructions of the same split, other groups */
    ds_str other_resp[3];       /* a real response to each */
    unsigned n_other;
} ds_gen_src;
/* The text of `kind` into out (reset first), every choice drawn from key.
 * Returns 0, IFS_DS_ENOCUT when the kind cannot be made from these texts (no
 * other instruction for next/template/Ic+next, or an empty result), or
 * IFS_DS_ENOMEM. Texts are cut at whitespace or code point boundaries only,
 * so valid UTF-8 in gives valid UTF-8 out. */
int ds_gen_text(ds_out kind, const ds_gen_src *src, uint64_t key, ds_buf *out);

/* Length buckets of the balance (words, ifs_ds_word_count): 1, 2, 3-4, 5-8,
 * 9-16, 17-32, 33-64, 65+ (0 words goes with 1). */
#define DS_NBUCKETS 8
int ds_length_bucket(size_t words);
const char *ds_length_bucket_name(int b);
/* Comma-separated fnmatch patterns, "!p" excludes; NULL list matches all. */
int ds_models_match(const char *list, const char *model);
/* "Ic=2,echo=1" -> w (negative kinds only). 0, or -1 with words in err. */
int ds_parse_negative_mix(const char *spec, double w[DS_OUT__COUNT], char *err, size_t errlen);

/* ---- builders --------------------------------------------------------------- */
typedef struct ds_rset ds_rset;
#define DS_RSET_MAX_SOURCES 256
typedef struct {
    uint64_t pairs, eligible, written;
    uint64_t no_instruction, no_response, not_positive, terse_too_long, empty_response,
        echoes_instruction, uncuttable;
    uint64_t instructions, groups, compared;
    uint64_t instr_split[4], group_split[4], pool[4]; /* by split, holdout last */
    uint64_t candidates[2 * DS_OUT__COUNT];           /* by (kind, input partial) */
    uint64_t not_generated[2 * DS_OUT__COUNT];
    uint64_t duplicates, label_conflicts, group_capped, balance_dropped;
    uint64_t kind_split[2 * DS_OUT__COUNT][4];
    uint64_t label_split[2][4];
    uint64_t hist[4][2][DS_NBUCKETS]; /* split, label, words bucket */
    uint64_t kind_hist[2 * DS_OUT__COUNT][DS_NBUCKETS];
    uint64_t src_instructions[DS_RSET_MAX_SOURCES];
    uint64_t src_split[DS_RSET_MAX_SOURCES][4][2];
    uint64_t sources_overflow; /* pairs of sources past the limit */
} ds_rset_stats;

ds_rset *ds_rset_create(const ifs_ds_build_opts *o, char *err, size_t errlen);
void ds_rset_free(ds_rset *r);
/* Reads files[0..n) three times (see rset.c) and writes the chosen records
 * to sink. rs: the read statistics of the first pass. */
int ds_rset_run(ds_rset *r, char *const *files, int n, ds_sink *sink, ds_read_stats *rs, char *err,
                size_t errlen);
const ds_rset_stats *ds_rset_get_stats(const ds_rset *r);
void ds_rset_stats_json(const ds_rset *r, ds_buf *b);

typedef struct {
    uint64_t pairs, written;
    uint64_t full, partial, uncuttable; /* instruction set */
    uint64_t duplicate, no_instruction, no_response, not_positive, empty_response;
    uint64_t kind[3], split[3];           /* response set: records per kind / split */
    uint64_t ic_repeats;                  /* response set: Ic drawn but seen before -> Ic+R */
    uint64_t end_class[IFS_DS_END_COUNT]; /* class of each fragment cut */
} ds_build_stats;

typedef struct ds_builder ds_builder;
/* which: 'i' instruction set, 'r' response set. The builder writes to sink. */
ds_builder *ds_builder_create(int which, const ifs_ds_build_opts *o, ds_sink *sink, char *err,
                              size_t errlen);
/* A ds_record_fn: feed it pair records. */
int ds_builder_add(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                   uint64_t line, void *builder);
const ds_build_stats *ds_builder_stats(const ds_builder *b);
/* The planned response set's state (NULL for the other builders). */
const ds_rset *ds_builder_rset(const ds_builder *b);
const char *ds_builder_error(const ds_builder *b);
void ds_build_stats_json(int which, const ds_build_stats *st, ds_buf *b);
void ds_builder_free(ds_builder *b);

/* The part both build commands share: open the output folder's sink as
 * `stem`, feed every pair record of files[0..n) to a builder of `which`.
 * On success returns the builder with *sink_out and *rs filled (the caller
 * writes the manifest with ds_build_finish and frees both); on failure
 * writes the reason into err, frees everything and returns NULL. */
ds_builder *ds_build_run(int which, const char *stem, const ifs_ds_build_opts *bo,
                         const ifs_ds_sink_opts *so, const char *out, char *const *files, int n,
                         ds_sink **sink_out, ds_read_stats *rs, char *err, size_t errlen);
/* The shared end of both build commands: close the set's manifest object
 * in `extra` (opened by the caller with its settings) with the builder's
 * and the reader's statistics and write the manifest. Returns 0, or
 * IFS_DS_EIO with the reason in err when the manifest could not be written.
 * Whether rejected input lines fail the command is the caller's decision
 * (rs->rejected_total, rs->stream_errors). Frees nothing. */
int ds_build_finish(int which, ds_sink *sink, const ds_builder *b, const ds_read_stats *rs,
                    ds_buf *extra, char *err, size_t errlen);

/* Cut-policy measurement over distinct instructions: for each policy, the
 * expected share of fragments (a uniform pick among accepted boundaries, as
 * the builders do) ending in each class, and the share of instructions that
 * the policy cannot cut. Exact expectations, no sampling. */
typedef struct {
    uint64_t instructions;
    double expect[4][IFS_DS_END_COUNT]; /* [policy][class], summed over instructions */
    uint64_t uncuttable[4];
    ds_set seen;
} ds_cut_measure;
int ds_cut_measure_add(ds_cut_measure *m, const char *instr, size_t len);
void ds_cut_measure_json(const ds_cut_measure *m, ds_buf *b);

#endif /* IFS_DS_INTERNAL_H */
