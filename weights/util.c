/*
 * util.c - small helpers the weights module's files share: UTF-8
 * validation (cJSON passes bad bytes through), opening files that must be
 * regular (O_NONBLOCK, then fstat), reads that notice a file shrinking or
 * being rewritten under them, bounded whole-file reads for JSON files, the
 * atomic-write recipe (temp file in the same folder, fsync, rename, fsync
 * the folder) so a crash never leaves half a checkpoint, and the words for
 * each status.
 */
#include "wts_internal.h"
#include "ifs_wts.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t wts_utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 2;
            cp = c & 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            cp = c & 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else
            return i;
        if (len - i < n)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n;
    }
    return len;
}

const struct cJSON *wts_json_get(const struct cJSON *obj, const char *key)
{
    const cJSON *hit = NULL;
    for (const cJSON *e = obj ? obj->child : NULL; e; e = e->next)
        if (e->string && !strcmp(e->string, key))
            hit = e;
    return hit;
}

const char *wts_file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

int wts_open_regular(const char *path, struct stat *sb, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return wts_fail(err, errlen, IFS_WTS_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, sb) != 0) {
        int e = errno;
        close(fd);
        return wts_fail(err, errlen, IFS_WTS_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb->st_mode)) {
        close(fd);
        return wts_fail(err, errlen, IFS_WTS_EIO, "%s: is %s, not a regular file", path,
                        wts_file_kind(sb->st_mode));
    }
    return fd;
}

int wts_pread_full(int fd, const char *path, void *buf, size_t n, uint64_t off, uint64_t file_len,
                   char *err, size_t errlen)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return wts_fail(err, errlen, IFS_WTS_EIO, "%s: read error at byte %llu: %s", path,
                            (unsigned long long)(off + got), strerror(errno));
        if (k == 0)
            return wts_fail(err, errlen, IFS_WTS_EIO,
                            "%s: the file now ends at byte %llu but was %llu bytes when opened: "
                            "it shrank while being read (replaced in place?)",
                            path, (unsigned long long)(off + got), (unsigned long long)file_len);
        got += (size_t)k;
    }
    return 0;
}

int wts_check_unchanged(int fd, const struct stat *a, const char *path, char *err, size_t errlen)
{
    struct stat b;
    if (fstat(fd, &b) != 0)
        return wts_fail(err, errlen, IFS_WTS_EIO, "%s: cannot stat: %s", path, strerror(errno));
    if (b.st_size != a->st_size)
        return wts_fail(err, errlen, IFS_WTS_EIO,
                        "%s: changed size while being read (%llu bytes, now %llu)", path,
                        (unsigned long long)a->st_size, (unsigned long long)b.st_size);
    if (b.st_ino != a->st_ino || b.st_dev != a->st_dev || b.st_mtim.tv_sec != a->st_mtim.tv_sec ||
        b.st_mtim.tv_nsec != a->st_mtim.tv_nsec)
        return wts_fail(err, errlen, IFS_WTS_EIO,
                        "%s: was modified while being read (rewritten in place?)", path);
    return 0;
}

int wts_read_file(const char *path, const char *what, size_t cap, char **out, size_t *out_len,
                  char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    struct stat sb;
    int fd = wts_open_regular(path, &sb, err, errlen);
    if (fd < 0)
        return fd;
    if ((uint64_t)sb.st_size > cap) {
        close(fd);
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: %llu bytes, over the %zu-byte cap for %s", path,
                        (unsigned long long)sb.st_size, cap, what);
    }
    /* one byte more than fstat said, to tell a file that grew since */
    size_t want = (size_t)sb.st_size, n = 0;
    char *buf = malloc(want + 2);
    if (!buf) {
        close(fd);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
    }
    while (n < want + 1) {
        ssize_t k = read(fd, buf + n, want + 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return wts_fail(err, errlen, IFS_WTS_EIO, "%s: read error at byte %zu: %s", path, n,
                            strerror(e));
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    if (n != want) {
        free(buf);
        return wts_fail(err, errlen, IFS_WTS_EIO,
                        "%s: changed size while being read (%zu bytes when opened, %s%zu read)",
                        path, want, n > want ? "more than " : "", n > want ? want : n);
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
}

typedef struct {
    FILE *f;
    int err_no;
} file_sink;

static int file_write(void *ctx, const void *p, size_t n)
{
    file_sink *s = ctx;
    if (n && fwrite(p, 1, n, s->f) != n) {
        s->err_no = errno ? errno : EIO;
        return IFS_WTS_EIO;
    }
    return 0;
}

int wts_write_atomic(const char *path, wts_producer_fn produce, void *ctx, char *err, size_t errlen)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16), *dcopy = strdup(path);
    if (!tmp || !dcopy) {
        free(tmp);
        free(dcopy);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int rc = 0;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = wts_fail(err, errlen, IFS_WTS_EIO, "%s: cannot create a temp file: %s", path,
                      strerror(errno));
        goto out;
    }
    fchmod(fd, 0644);
    file_sink s = {fdopen(fd, "wb"), 0};
    if (!s.f) {
        rc = wts_fail(err, errlen, IFS_WTS_EIO, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    rc = produce(ctx, file_write, &s, err, errlen);
    if (rc == 0 && fflush(s.f) != 0) {
        rc = IFS_WTS_EIO;
        s.err_no = errno;
    }
    if (rc == 0 && fsync(fileno(s.f)) != 0) {
        rc = IFS_WTS_EIO;
        s.err_no = errno;
    }
    if (fclose(s.f) != 0 && rc == 0) {
        rc = IFS_WTS_EIO;
        s.err_no = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        if (s.err_no) /* the file failed: its errno says more than the producer */
            wts_fail(err, errlen, IFS_WTS_EIO, "%s: write failed: %s", path, strerror(s.err_no));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        rc = wts_fail(err, errlen, IFS_WTS_EIO, "%s: rename failed: %s", path, strerror(e));
        goto out;
    }
    int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd); /* best effort: some filesystems refuse fsync on folders */
        close(dfd);
    }
out:
    free(tmp);
    free(dcopy);
    return rc;
}

const char *ifs_wts_strerror(int status)
{
    switch (status) {
    case IFS_WTS_OK: return "ok";
    case IFS_WTS_EIO: return "I/O error";
    case IFS_WTS_EFORMAT: return "malformed file";
    case IFS_WTS_EUNSUP: return "unsupported model";
    case IFS_WTS_EMODEL: return "bad or missing tensor";
    case IFS_WTS_ENOMEM: return "out of memory";
    case IFS_WTS_EARG: return "bad argument";
    case IFS_WTS_ELABEL: return "answer label not determined";
    default: return "unknown status";
    }
}
