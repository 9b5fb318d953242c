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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ifs_io.h"
#include "ifs_sha256.h"

#define SAMPLE_BYTES (1u << 20)

struct ifs_resume {
    char *dir;
    char config_sha[65];
    uint64_t skipped;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *read_small(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    size_t n = fread(buf, 1, max, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    if (more) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
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

int ifs_resume_open(const char *dir, const char *config_text, int resume,
                    ifs_resume **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!dir || !*dir || !config_text) {
        seterr(err, errlen, "state directory: empty path");
        return -1;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (mkdir(dir, 0777) != 0) {
            seterr(err, errlen, "state directory %s: cannot create: %s", dir, strerror(errno));
            return -1;
        }
    } else if (!S_ISDIR(sb.st_mode)) {
        seterr(err, errlen, "state directory %s exists and is not a directory", dir);
        return -1;
    }
    ifs_resume *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        seterr(err, errlen, "out of memory");
        return -1;
    }
    ifs_sha256_hex(config_text, strlen(config_text), r->config_sha);

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/run.json", dir);
    size_t len = 0;
    char *old = read_small(path, 1u << 20, &len);
    int same = 0, had_old = old != NULL;
    if (old) {
        char *p = strstr(old, "\"config_sha256\": \"");
        same = p && !strncmp(p + 18, r->config_sha, 64);
    }
    free(old);
    if (resume && had_old && !same) {
        seterr(err, errlen, "state directory %s was made with another configuration "
               "(model, tokenizer, fields, group keys, label, threshold, backend or dtype differ; "
               "see its run.json): rerun without --resume, or choose another --state-dir", dir);
        ifs_resume_free(r);
        return -1;
    }
    /* Clean: stray temporaries always; previous shard state unless resuming. */
    DIR *d = opendir(dir);
    if (!d) {
        seterr(err, errlen, "state directory %s: %s", dir, strerror(errno));
        ifs_resume_free(r);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        int tmp = strstr(e->d_name, ".tmp-") != NULL;
        int shard = !strncmp(e->d_name, "shard-", 6);
        if (tmp || (shard && !resume)) {
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
            seterr(err, errlen, "out of memory");
            ifs_resume_free(r);
            return -1;
        }
        json_path(esc, strlen(config_text) * 6 + 8, config_text);
        int n = snprintf(txt, cap, "{\"config_sha256\": \"%s\", \"config\": \"%s\"}\n",
                         r->config_sha, esc);
        snprintf(path, sizeof path, "%s/run.json", dir);
        int rc = ifs_io_atomic_write(path, txt, (size_t)n, err, errlen);
        free(txt);
        free(esc);
        if (rc) {
            ifs_resume_free(r);
            return -1;
        }
    }
    *out = r;
    return 0;
}

void ifs_resume_free(ifs_resume *r)
{
    if (!r) return;
    free(r->dir);
    free(r);
}

const char *ifs_resume_config_sha256(const ifs_resume *r) { return r ? r->config_sha : ""; }
uint64_t ifs_resume_skipped(const ifs_resume *r) { return r ? r->skipped : 0; }

int ifs_resume_fingerprint(const char *path, ifs_resume_fp *fp, char *err, size_t errlen)
{
    memset(fp, 0, sizeof *fp);
    /* O_NONBLOCK: a FIFO must not block here (only regular files are read). */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    fp->size = (uint64_t)sb.st_size;
    fp->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    unsigned char *buf = malloc(SAMPLE_BYTES);
    if (!buf) {
        close(fd);
        seterr(err, errlen, "out of memory");
        return -1;
    }
    ifs_sha256_ctx c;
    ifs_sha256_init(&c);
    int bad = 0;
    /* Head, then tail (when the file is longer than one sample). */
    off_t starts[2] = { 0, sb.st_size > (off_t)SAMPLE_BYTES ? sb.st_size - (off_t)SAMPLE_BYTES : -1 };
    for (int k = 0; k < 2 && !bad; k++) {
        if (starts[k] < 0 || !S_ISREG(sb.st_mode)) continue;
        size_t got = 0;
        while (got < SAMPLE_BYTES) {
            ssize_t n = pread(fd, buf + got, SAMPLE_BYTES - got, starts[k] + (off_t)got);
            if (n < 0) {
                if (errno == EINTR) continue;
                bad = 1;
                break;
            }
            if (n == 0) break;
            got += (size_t)n;
        }
        ifs_sha256_update(&c, buf, got);
    }
    if (bad) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        free(buf);
        close(fd);
        return -1;
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

char *ifs_resume_part_path(const ifs_resume *r, const char *shard, const char *suffix,
                           char *buf, size_t cap)
{
    char key[17];
    ifs_resume_shard_key(shard, key);
    int n = snprintf(buf, cap, "%s/shard-%s.%s", r->dir, key, suffix);
    return n >= 0 && (size_t)n < cap ? buf : NULL;
}

static int render_marker(const ifs_resume *r, const char *shard, const ifs_resume_fp *fp,
                         char *buf, size_t cap)
{
    char real[PATH_MAX], esc[PATH_MAX * 2];
    json_path(esc, sizeof esc, realpath(shard, real) ? real : shard);
    return snprintf(buf, cap,
                    "{\"shard\": \"%s\", \"size\": %llu, \"mtime_ns\": %lld, "
                    "\"sample_sha256\": \"%s\", \"config_sha256\": \"%s\"}\n",
                    esc, (unsigned long long)fp->size, (long long)fp->mtime_ns,
                    fp->sample_sha256, r->config_sha);
}

int ifs_resume_done(ifs_resume *r, const char *shard, const ifs_resume_fp *fp)
{
    char path[PATH_MAX];
    if (!ifs_resume_part_path(r, shard, "done", path, sizeof path)) return 0;
    char want[PATH_MAX * 3];
    int n = render_marker(r, shard, fp, want, sizeof want);
    if (n < 0 || (size_t)n >= sizeof want) return 0;
    size_t len = 0;
    char *have = read_small(path, sizeof want, &len);
    int same = have && len == (size_t)n && !memcmp(have, want, len);
    free(have);
    if (same) r->skipped++;
    return same;
}

int ifs_resume_mark_done(ifs_resume *r, const char *shard, const ifs_resume_fp *fp,
                         char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (!ifs_resume_part_path(r, shard, "done", path, sizeof path)) {
        seterr(err, errlen, "state path too long for %s", shard);
        return -1;
    }
    char txt[PATH_MAX * 3];
    int n = render_marker(r, shard, fp, txt, sizeof txt);
    if (n < 0 || (size_t)n >= sizeof txt) {
        seterr(err, errlen, "shard path too long: %s", shard);
        return -1;
    }
    return ifs_io_atomic_write(path, txt, (size_t)n, err, errlen);
}
