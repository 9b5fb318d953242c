/*
 * ifs_sample.h - records to read by hand: from the per-record scores file
 * `ifscore score --scores` writes, N records per group chosen by a seed,
 * filtered by decision, label, nearness to the threshold or a probability
 * range, printed with the response text read back from the shards the
 * scores name (how the default classifier's calls were judged by hand).
 *
 * Usage (what `ifscore sample` does):
 *
 *     ifs_sample_opts o;
 *     ifs_sample_opts_init(&o);            // 5 per group, seed 1, by model, JSONL
 *     o.answer_like = 0;                   // only records called continuation-like
 *     char *text; size_t len; ifs_sample_stats st; char err[512];
 *     if (ifs_sample_run("scores.jsonl.zst", &o, &text, &len, &st, err, sizeof err)) ...
 *     fwrite(text, 1, len, stdout);
 *     free(text);
 *
 * Choice: every scores line that passes the filters gets a priority from a
 * hash of (seed, shard path, line number); a group keeps its N lowest. The
 * sample therefore depends only on the seed and on which records match, not
 * on the order of the scores file (a resumed or re-sliced run samples the
 * same records), and a larger N extends a smaller one's sample.
 *
 * Untrusted input: a scores line that is not what `score` writes (not JSON,
 * a field missing or of the wrong type, p_answer outside [0, 1]) is an
 * IFS_SAMPLE_EFORMAT error naming the file, line and byte offset. A shard
 * that cannot be read, is shorter than the line a score names, or whose
 * record there no longer parses or carries another id is IFS_SAMPLE_ESHARD,
 * naming the shard and line: texts are never silently mismatched.
 *
 * Ownership: output is malloc'd, the caller frees it. Options are borrowed
 * for the call. Nothing here prints or exits; one call is single-threaded.
 */
#ifndef IFS_SAMPLE_H
#define IFS_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    IFS_SAMPLE_OK = 0,
    IFS_SAMPLE_EARG = -1, /* bad option: per_group 0, bad range, too many keys */
    IFS_SAMPLE_ENOMEM = -2,
    IFS_SAMPLE_EIO = -3,     /* the scores file cannot be opened or read */
    IFS_SAMPLE_EFORMAT = -4, /* a scores line is malformed (file, line, offset) */
    IFS_SAMPLE_ESHARD = -5,  /* a shard is missing, short, or does not match its score */
};
const char *ifs_sample_strerror(int rc);

typedef enum {
    IFS_SAMPLE_JSONL = 0,    /* one JSON object per record */
    IFS_SAMPLE_MARKDOWN = 1, /* a heading per group, the texts in fenced blocks */
} ifs_sample_format;

#define IFS_SAMPLE_ANY (-1)

typedef struct {
    size_t per_group;              /* N >= 1; default 5 */
    uint64_t seed;                 /* default 1 */
    const char *group_by;          /* comma-separated fields of a scores line (the run's
                                      --group-by); default "model" */
    int answer_like;               /* IFS_SAMPLE_ANY (default), 0 or 1 */
    const char *label;             /* only records whose argmax label is this; NULL: any */
    double near_margin;            /* > 0: only |p_answer - threshold| < near_margin */
    double threshold;              /* for near_margin; default 0.5 (the run's --threshold) */
    double p_min, p_max;           /* only p_min <= p_answer <= p_max; default 0 and 1 */
    const char *shard_root;        /* relative shard paths are resolved against this
                                      folder; NULL: as written (relative to the cwd) */
    const char *text_field;        /* the shards' response field; default "response" */
    const char *id_field;          /* default "id" */
    const char *instruction_field; /* shown when a record has it; default "instruction";
                                      "" shows none */
    int with_text;                 /* 1 (default): read the texts; 0: scores lines only */
    ifs_sample_format format;      /* default JSONL */
} ifs_sample_opts;

void ifs_sample_opts_init(ifs_sample_opts *o);

typedef struct {
    uint64_t lines;   /* scores lines read */
    uint64_t matched; /* lines that passed the filters */
    uint64_t groups;  /* groups with a match */
    uint64_t sampled; /* records in the output */
    uint64_t shards;  /* shards read for texts */
} ifs_sample_stats;

/* Samples scores_path (.jsonl or .jsonl.zst; "-" = stdin). Returns
 * IFS_SAMPLE_OK with *out (NUL-terminated, *len bytes) and *st (may be
 * NULL), or a negative status with err saying what and where. */
int ifs_sample_run(const char *scores_path, const ifs_sample_opts *o, char **out, size_t *len,
                   ifs_sample_stats *st, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_SAMPLE_H */
