/*
 * resume.c - the state directory of `ifscore score` (layout and fingerprint
 * choices are in ifs_resume.h).
 *
 * Markers are compared as exact text: the marker a finished shard would get
 * now is rendered and compared byte for byte with the one on disk, so there
 * is no parser of our own files to get wrong, and any difference (another
 * fingerprint, another configuration, a truncated file) means "redo".
 */
#include "ifs_resume.h"
#include "ifs_buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ifs_io.h"
#include "ifs_sha256.h"

#define SAMPLE_BYTES (1u << 20)

struct ifs_resume {
    char *dir;
    int lock_fd; /* holds the directory's flock; -1 none */
    char config_sha[65];
    uint64_t skipped;
};

/* A small file of ours (run.json, a .done marker), or NULL when it is
 * missing, unreadable or longer than max. */
static char *read_small(const char *path, size_t max, size_t *len)
{
    char *b = NULL;
    return ifs_io_read_file(path, max, &b, len, NULL, 0) ? NULL : b;
}

/* JSON string body for a path (paths are ours to write; escape the few
 * characters that matter and pass other bytes through). */
static void json_path(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
}

/* Names we create in a state directory, and only those get deleted:
 * run.json, lock, shard-<16 hex>.<part> for the four parts, and the
 * temporary files of the atomic writer ("<name>.tmp-<pid>-<n>", ifs_io.h). */
static const char *const part_suffixes[] = {"report.json", "scores.jsonl.zst", "rejects.jsonl.zst",
                                            "done"};

static int is_shard_part(const char *name, size_t len)
{
    if (len < 6 + 16 + 1 || strncmp(name, "shard-", 6))
        return 0;
    for (int k = 0; k < 16; k++)
        if (!strchr("0123456789abcdef", name[6 + k]) || !name[6 + k])
            return 0;
    if (name[22] != '.')
        return 0;
    for (size_t p = 0; p < sizeof part_suffixes / sizeof *part_suffixes; p++)
        if (len - 23 == strlen(part_suffixes[p]) && !strncmp(name + 23, part_suffixes[p], len - 23))
            return 1;
    return 0;
}

/* 1 when name is one of ours followed by ".tmp-<digits>-<digits>". */
static int is_our_temp(const char *name)
{
    const char *t = strstr(name, ".tmp-");
    if (!t)
        return 0;
    size_t base = (size_t)(t - name);
    if (!(base == 8 && !strncmp(name, "run.json", 8)) && !is_shard_part(name, base))
        return 0;
    const char *q = t + 5;
    size_t d1 = strspn(q, "0123456789");
    if (!d1 || q[d1] != '-')
        return 0;
    size_t d2 = strspn(q + d1 + 1, "0123456789");
    return d2 && q[d1 + 1 + d2] == '\0';
}

/* run.json of a state directory written by any version of ifscore. */
static int is_our_run_json(const char *text)
{
    return !strncmp(text, "{\"format\": \"" IFS_RESUME_FORMAT "\"",
                    12 + strlen(IFS_RESUME_FORMAT) + 1) ||
           !strncmp(text, "{\"config_sha256\": \"", 19); /* before the format field */
}

/* Takes the directory's lock: one run per state directory. The lock file
 * holds the owner's pid, for the message a second run gets. */
static int take_lock(ifs_resume *r, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lock", r->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        ifs_errf(err, errlen, 0, "state directory %s: cannot create its lock file: %s", r->dir,
                 strerror(errno));
        return IFS_RESUME_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK) {
            ifs_errf(err, errlen, 0,
                     "state directory %s is in use by another ifscore score run%s%s%s: "
                     "wait for it to finish, or choose another --state-dir",
                     r->dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
            return IFS_RESUME_EBUSY;
        }
        ifs_errf(err, errlen, 0, "state directory %s: cannot lock: %s", r->dir, strerror(e));
        return IFS_RESUME_EIO;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        /* the pid is only for messages: a lock without it still locks */
    }
    r->lock_fd = fd;
    return 0;
}

/* The key (text before '=') of the first ';'-separated entry where two
 * configuration texts differ, into `key`; "" when run.json holds no config. */
static void first_difference(const char *run_json, const char *now, char *key, size_t cap)
{
    key[0] = '\0';
    cJSON *j = cJSON_Parse(run_json);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "config");
    const char *was = cJSON_IsString(c) ? c->valuestring : NULL;
    while (was) {
        size_t la = strcspn(was, ";"), lb = strcspn(now, ";");
        if (la != lb || memcmp(was, now, la)) {
            const char *src = memcmp(was, now, la < lb ? la : lb) || !la ? now : was;
            size_t lk = strcspn(src, "=;");
            if (lk >= cap)
                lk = cap - 1;
            memcpy(key, src, lk);
            key[lk] = '\0';
            break;
        }
        if (!was[la] || !now[lb])
            break;
        was += la + 1;
        now += lb + 1;
    }
    cJSON_Delete(j);
}

int ifs_resume_open(const char *dir, const char *config_text, int resume, ifs_resume **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    if (!dir || !*dir || !config_text) {
        ifs_errf(err, errlen, 0, "state directory: empty path");
        return IFS_RESUME_EARG;
    }
    struct stat sb;
    if (lstat(dir, &sb) != 0) {
        if (mkdir(dir, 0777) != 0) {
            ifs_errf(err, errlen, 0, "state directory %s: cannot create: %s", dir, strerror(errno));
            return IFS_RESUME_EIO;
        }
    } else if (!S_ISDIR(sb.st_mode)) {
        ifs_errf(err, errlen, 0, "state directory %s exists and is not a directory", dir);
        return IFS_RESUME_ENOTOURS;
    }
    ifs_resume *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        ifs_errf(err, errlen, 0, "out of memory");
        return IFS_RESUME_ENOMEM;
    }
    r->lock_fd = -1;
    ifs_sha256_hex(config_text, strlen(config_text), r->config_sha);

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/run.json", dir);
    size_t len = 0;
    char *old = read_small(path, 1u << 20, &len);
    int same = 0, ours = old && is_our_run_json(old);
    char differs[64] = "";
    if (ours) {
        char *p = strstr(old, "\"config_sha256\": \"");
        same = p && !strncmp(p + 18, r->config_sha, 64);
        if (!same)
            first_difference(old, config_text, differs, sizeof differs);
    }
    free(old);
    /* A folder that is not ours must be empty: we delete files here, and a
     * folder of shards (pack names them shard-NNNNN.jsonl.zst) is not ours
     * to clean. */
    DIR *d = opendir(dir);
    if (!d) {
        ifs_errf(err, errlen, 0, "state directory %s: %s", dir, strerror(errno));
        ifs_resume_free(r);
        return IFS_RESUME_EIO;
    }
    struct dirent *e;
    if (!ours) {
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                break;
        if (e) {
            ifs_errf(err, errlen, 0,
                     "state directory %s is not empty and is not an ifscore state "
                     "directory (it has no ifscore run.json; it holds %s): ifscore would delete "
                     "files there; choose a new or empty --state-dir",
                     dir, e->d_name);
            closedir(d);
            ifs_resume_free(r);
            return IFS_RESUME_ENOTOURS;
        }
        rewinddir(d);
    }
    int rc = take_lock(r, err, errlen);
    if (rc) {
        closedir(d);
        ifs_resume_free(r);
        return rc;
    }
    if (resume && ours && !same) {
        ifs_errf(err, errlen, 0,
                 "state directory %s was made with another configuration "
                 "(%s%s%sdiffer%s: model, tokenizer, fields, group keys, label, threshold, backend "
                 "or dtype; see its run.json): rerun without --resume, or choose another "
                 "--state-dir",
                 dir, *differs ? "'" : "", differs, *differs ? "' " : "", *differs ? "s" : "");
        closedir(d);
        ifs_resume_free(r);
        return IFS_RESUME_ECONFIG;
    }
    /* Clean what we made: stray temporaries always; previous shard state
     * unless resuming. Anything else in the folder is left alone. */
    while ((e = readdir(d))) {
        int tmp = is_our_temp(e->d_name);
        int part = is_shard_part(e->d_name, strlen(e->d_name));
        if (tmp || (part && !resume)) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    if (!same) {
        size_t cap = strlen(config_text) * 6 + 256;
        char *txt = malloc(cap), *esc = malloc(strlen(config_text) * 6 + 8);
        if (!txt || !esc) {
            free(txt);
            free(esc);
            ifs_errf(err, errlen, 0, "out of memory");
            ifs_resume_free(r);
            return IFS_RESUME_ENOMEM;
        }
        json_path(esc, strlen(config_text) * 6 + 8, config_text);
        int n = snprintf(txt, cap,
                         "{\"format\": \"" IFS_RESUME_FORMAT "\", \"config_sha256\": \"%s\", "
                         "\"config\": \"%s\"}\n",
                         r->config_sha, esc);
        snprintf(path, sizeof path, "%s/run.json", dir);
        int wrc = ifs_io_atomic_write(path, txt, (size_t)n, err, errlen);
        free(txt);
        free(esc);
        if (wrc) {
            ifs_resume_free(r);
            return IFS_RESUME_EIO;
        }
    }
    *out = r;
    return 0;
}

const char *ifs_resume_strerror(int status)
{
    switch (status) {
    case 0: return "ok";
    case IFS_RESUME_EARG: return "invalid argument";
    case IFS_RESUME_EIO: return "the state directory or a shard cannot be read or written";
    case IFS_RESUME_ENOMEM: return "out of memory";
    case IFS_RESUME_ENOTOURS: return "the folder is not an ifscore state directory";
    case IFS_RESUME_EBUSY: return "the state directory is in use by another run";
    case IFS_RESUME_ECONFIG: return "the state was made with another configuration";
    default: return "unknown status";
    }
}

void ifs_resume_free(ifs_resume *r)
{
    if (!r)
        return;
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* releases the flock */
    free(r->dir);
    free(r);
}

const char *ifs_resume_config_sha256(const ifs_resume *r)
{
    return r ? r->config_sha : "";
}
uint64_t ifs_resume_skipped(const ifs_resume *r)
{
    return r ? r->skipped : 0;
}

int ifs_resume_fingerprint(const char *path, ifs_resume_fp *fp, char *err, size_t errlen)
{
    memset(fp, 0, sizeof *fp);
    /* O_NONBLOCK: a FIFO must not block here (only regular files are read). */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        ifs_errf(err, errlen, 0, "%s: %s", path, strerror(errno));
        return IFS_RESUME_EIO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        ifs_errf(err, errlen, 0, "%s: %s", path, strerror(errno));
        close(fd);
        return IFS_RESUME_EIO;
    }
    fp->size = (uint64_t)sb.st_size;
    fp->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    unsigned char *buf = malloc(SAMPLE_BYTES);
    if (!buf) {
        close(fd);
        ifs_errf(err, errlen, 0, "out of memory");
        return IFS_RESUME_ENOMEM;
    }
    ifs_sha256_ctx c;
    ifs_sha256_init(&c);
    int bad = 0;
    /* Head, then tail (when the file is longer than one sample). */
    off_t starts[2] = {0, sb.st_size > (off_t)SAMPLE_BYTES ? sb.st_size - (off_t)SAMPLE_BYTES : -1};
    for (int k = 0; k < 2 && !bad; k++) {
        if (starts[k] < 0 || !S_ISREG(sb.st_mode))
            continue;
        size_t got = 0;
        while (got < SAMPLE_BYTES) {
            ssize_t n = pread(fd, buf + got, SAMPLE_BYTES - got, starts[k] + (off_t)got);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                bad = 1;
                break;
            }
            if (n == 0)
                break;
            got += (size_t)n;
        }
        ifs_sha256_update(&c, buf, got);
    }
    if (bad) {
        ifs_errf(err, errlen, 0, "%s: %s", path, strerror(errno));
        ifs_sha256_discard(&c);
        free(buf);
        close(fd);
        return IFS_RESUME_EIO;
    }
    char sz[32];
    int n = snprintf(sz, sizeof sz, "|%llu", (unsigned long long)fp->size);
    ifs_sha256_update(&c, sz, (size_t)n);
    ifs_sha256_final_hex(&c, fp->sample_sha256);
    free(buf);
    close(fd);
    return 0;
}

void ifs_resume_shard_key(const char *path, char key[17])
{
    char real[PATH_MAX];
    const char *p = realpath(path, real) ? real : path;
    char hex[65];
    ifs_sha256_hex(p, strlen(p), hex);
    memcpy(key, hex, 16);
    key[16] = '\0';
}

char *ifs_resume_part_path(const ifs_resume *r, const char *shard, const char *suffix, char *buf,
                           size_t cap)
{
    char key[17];
    ifs_resume_shard_key(shard, key);
    int n = snprintf(buf, cap, "%s/shard-%s.%s", r->dir, key, suffix);
    return n >= 0 && (size_t)n < cap ? buf : NULL;
}

static int render_marker(const ifs_resume *r, const char *shard, const ifs_resume_fp *fp, char *buf,
                         size_t cap)
{
    char real[PATH_MAX], esc[PATH_MAX * 2];
    json_path(esc, sizeof esc, realpath(shard, real) ? real : shard);
    return snprintf(buf, cap,
                    "{\"shard\": \"%s\", \"size\": %llu, \"mtime_ns\": %lld, "
                    "\"sample_sha256\": \"%s\", \"config_sha256\": \"%s\"}\n",
                    esc, (unsigned long long)fp->size, (long long)fp->mtime_ns, fp->sample_sha256,
                    r->config_sha);
}

int ifs_resume_done(ifs_resume *r, const char *shard, const ifs_resume_fp *fp)
{
    char path[PATH_MAX];
    if (!ifs_resume_part_path(r, shard, "done", path, sizeof path))
        return 0;
    char want[PATH_MAX * 3];
    int n = render_marker(r, shard, fp, want, sizeof want);
    if (n < 0 || (size_t)n >= sizeof want)
        return 0;
    size_t len = 0;
    char *have = read_small(path, sizeof want, &len);
    int same = have && len == (size_t)n && !memcmp(have, want, len);
    free(have);
    if (same)
        r->skipped++;
    return same;
}

int ifs_resume_mark_done(ifs_resume *r, const char *shard, const ifs_resume_fp *fp, char *err,
                         size_t errlen)
{
    char path[PATH_MAX];
    if (!ifs_resume_part_path(r, shard, "done", path, sizeof path)) {
        ifs_errf(err, errlen, 0, "state path too long for %s", shard);
        return IFS_RESUME_EARG;
    }
    char txt[PATH_MAX * 3];
    int n = render_marker(r, shard, fp, txt, sizeof txt);
    if (n < 0 || (size_t)n >= sizeof txt) {
        ifs_errf(err, errlen, 0, "shard path too long: %s", shard);
        return IFS_RESUME_EARG;
    }
    return ifs_io_atomic_write(path, txt, (size_t)n, err, errlen) ? IFS_RESUME_EIO : 0;
}
