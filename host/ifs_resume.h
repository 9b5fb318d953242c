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
 *   run.json                      {"format": "ifscore-state-1", ...}: marks the
 *                                 folder as ours, with the run's configuration
 *                                 fingerprint (sha256 of config_text) and text
 *   lock                          flock(2)ed by the run using the folder (with
 *                                 its pid): a second run on it is refused
 *   shard-<key>.<part>            a finished shard's parts (report.json,
 *                                 scores.jsonl.zst, rejects.jsonl.zst), each
 *                                 written atomically
 *   shard-<key>.done              written last, atomically: the shard's
 *                                 fingerprint and the configuration's; a part
 *                                 without its .done is ignored and redone
 * <key> is the first 16 hex digits of sha256(realpath(shard)), so keys do
 * not depend on the order or spelling of the shard list.
 *
 * Ownership of the folder: a state directory is ours alone. open refuses a
 * folder that is not empty and has no run.json of ours (a folder of shards,
 * say: pack names them shard-NNNNN.jsonl.zst), and only ever deletes the
 * names above (and the atomic writer's "<name>.tmp-<pid>-<n>" of them);
 * anything else found in our folder is left alone.
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
 * (model hash, tokenizer identity hash, tokenizer settings, max length, field mapping,
 * group keys, answer label, threshold) into config_text. With resume = 1 a
 * state made under another configuration is refused; with resume = 0 the
 * previous shard state in the directory is deleted first.
 *
 * Nothing here prints or exits. Functions return 0 or a negative
 * IFS_RESUME_* status with words in err.
 */
#ifndef IFS_RESUME_H
#define IFS_RESUME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IFS_RESUME_FORMAT "ifscore-state-1"

enum {
    IFS_RESUME_EARG = -1, /* empty path, a path too long */
    IFS_RESUME_EIO = -2,  /* a file cannot be read, written or created */
    IFS_RESUME_ENOMEM = -3,
    IFS_RESUME_ENOTOURS = -4, /* not a directory, or a non-empty folder that is not ours */
    IFS_RESUME_EBUSY = -5,    /* another run holds the folder's lock */
    IFS_RESUME_ECONFIG = -6,  /* --resume on a state made with another configuration */
};

/* Words for a status; static storage. */
const char *ifs_resume_strerror(int status);

typedef struct {
    uint64_t size;
    int64_t mtime_ns;
    char sample_sha256[65]; /* sha256(first MiB | last MiB | size as text) */
} ifs_resume_fp;

typedef struct ifs_resume ifs_resume;

/* Creates `dir` when absent (one level), refuses it when it is not ours
 * (above), takes its lock (held until ifs_resume_free), checks or writes
 * run.json, removes our stray temporary files and, when resume == 0, every
 * shard part of ours. Returns 0 and *out, or IFS_RESUME_EARG, _EIO, _ENOMEM,
 * _ENOTOURS, _EBUSY, _ECONFIG (under --resume, a state made with another
 * configuration), with words in err. */
int ifs_resume_open(const char *dir, const char *config_text, int resume, ifs_resume **out,
                    char *err, size_t errlen);
void ifs_resume_free(ifs_resume *r);

/* sha256 of config_text (64 hex); borrowed from r. */
const char *ifs_resume_config_sha256(const ifs_resume *r);
/* The number of shards found done (and matching) so far by ifs_resume_done. */
uint64_t ifs_resume_skipped(const ifs_resume *r);

/* Fingerprints a shard file. Returns 0, IFS_RESUME_EIO when it cannot be
 * read, IFS_RESUME_ENOMEM. */
int ifs_resume_fingerprint(const char *path, ifs_resume_fp *fp, char *err, size_t errlen);

/* 16 hex digits + NUL from realpath(path) (path itself when that fails). */
void ifs_resume_shard_key(const char *path, char key[17]);

/* Path of one part of a shard's state: <dir>/shard-<key>.<suffix>. Returns
 * buf, or NULL when it does not fit in cap. */
char *ifs_resume_part_path(const ifs_resume *r, const char *shard, const char *suffix, char *buf,
                           size_t cap);

/* 1 when the shard has a .done marker written under this configuration with
 * this fingerprint, else 0. */
int ifs_resume_done(ifs_resume *r, const char *shard, const ifs_resume_fp *fp);

/* Writes the .done marker atomically (after the shard's parts). Returns 0,
 * IFS_RESUME_EARG (path too long) or IFS_RESUME_EIO. */
int ifs_resume_mark_done(ifs_resume *r, const char *shard, const ifs_resume_fp *fp, char *err,
                         size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_RESUME_H */
