/*
 * ifs_resume.h - the state directory that lets `ifscore score --resume`
 * continue after a crash, kill -9 or Ctrl-C, at shard granularity.
 *
 * Usage:
 *
 *     ifs_resume *st;
 *     if (ifs_resume_open("out/report.json.state", config_text, resume, &st,
 *                         err, sizeof err)) die(err);
 *     ifs_resume_fp fp;
 *     ifs_resume_fingerprint("a.jsonl.zst", &fp, err, sizeof err);
 *     if (!ifs_resume_done(st, "a.jsonl.zst", &fp)) {
 *         score it, writing ifs_resume_part_path(st, "a.jsonl.zst", "report.json", ...)
 *         and the other parts atomically, then
 *         ifs_resume_mark_done(st, "a.jsonl.zst", &fp, err, sizeof err);
 *     }
 *     ifs_resume_free(st);
 *
 * Layout of the directory:
 *   run.json                      the run's configuration fingerprint (sha256
 *                                 of config_text) and the text itself
 *   shard-<key>.<suffix>          a finished shard's parts (partial report,
 *                                 scores, rejects), each written atomically
 *   shard-<key>.done              written last, atomically: the shard's
 *                                 fingerprint and the configuration's; a part
 *                                 without its .done is ignored and redone
 * <key> is the first 16 hex digits of sha256(realpath(shard)), so keys do
 * not depend on the order or spelling of the shard list.
 *
 * Shard fingerprint (the choice and why): size, mtime in nanoseconds, and
 * sha256 of the first and last MiB with the size. Reading 2 MiB per shard
 * keeps a resume over thousands of multi-GB shards cheap, while a shard
 * rewritten in place (same size, mtime restored by rsync -t or cp -p) is
 * still caught when its head or tail changed. A change confined to the
 * middle with size and mtime restored is not caught; the report's per-input
 * sha256 (computed over whole shards when they are scored) records what was
 * actually read.
 *
 * Configuration: the caller serializes everything that changes a result
 * (model hash, vocab hash, tokenizer settings, max length, field mapping,
 * group keys, answer label, threshold) into config_text. With resume = 1 a
 * state made under another configuration is refused; with resume = 0 the
 * previous shard state in the directory is deleted first.
 *
 * Nothing here prints or exits. Functions return 0 or -1 with words in err.
 */
#ifndef IFS_RESUME_H
#define IFS_RESUME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t size;
    int64_t mtime_ns;
    char sample_sha256[65]; /* sha256(first MiB | last MiB | size as text) */
} ifs_resume_fp;

typedef struct ifs_resume ifs_resume;

/* Creates `dir` when absent (one level), checks or writes run.json, removes
 * stray temporary files (*.tmp-*) and, when resume == 0, every shard-* file.
 * Returns 0 and *out, or -1 with words in err (not a directory, not
 * writable, state from another configuration under --resume). */
int ifs_resume_open(const char *dir, const char *config_text, int resume,
                    ifs_resume **out, char *err, size_t errlen);
void ifs_resume_free(ifs_resume *r);

/* sha256 of config_text (64 hex); borrowed from r. */
const char *ifs_resume_config_sha256(const ifs_resume *r);
/* The number of shards found done (and matching) so far by ifs_resume_done. */
uint64_t ifs_resume_skipped(const ifs_resume *r);

/* Fingerprints a shard file. Returns 0, or -1 when it cannot be read. */
int ifs_resume_fingerprint(const char *path, ifs_resume_fp *fp, char *err, size_t errlen);

/* 16 hex digits + NUL from realpath(path) (path itself when that fails). */
void ifs_resume_shard_key(const char *path, char key[17]);

/* Path of one part of a shard's state: <dir>/shard-<key>.<suffix>. Returns
 * buf, or NULL when it does not fit in cap. */
char *ifs_resume_part_path(const ifs_resume *r, const char *shard, const char *suffix,
                           char *buf, size_t cap);

/* 1 when the shard has a .done marker written under this configuration with
 * this fingerprint, else 0. */
int ifs_resume_done(ifs_resume *r, const char *shard, const ifs_resume_fp *fp);

/* Writes the .done marker atomically (after the shard's parts). */
int ifs_resume_mark_done(ifs_resume *r, const char *shard, const ifs_resume_fp *fp,
                         char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_RESUME_H */
