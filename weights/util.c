/*
 * util.c - small helpers the weights module's files share: UTF-8
 * validation (cJSON passes bad bytes through), bounded whole-file reads for
 * JSON files, and the atomic-write recipe (temp file in the same folder,
 * fsync, rename, fsync the folder) so a crash never leaves half a checkpoint.
 */
#include "wts_internal.h"
#include "ifs_wts.h"

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
        if (c < 0x80) { i++; continue; }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) { n = 2; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { n = 3; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { n = 4; cp = c & 0x07; min = 0x10000; }
        else return i;
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

int wts_read_file(const char *path, size_t cap, char **out, size_t *out_len,
                  char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return wts_fail(err, errlen, IFS_WTS_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap_buf = 4096, n = 0;
    char *buf = malloc(cap_buf);
    if (!buf) {
        fclose(f);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n + 1 >= cap_buf) {
            if (cap_buf > cap) {
                free(buf);
                fclose(f);
                return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                                "%s: larger than the %zu-byte limit for this file", path, cap);
            }
            char *nb = realloc(buf, cap_buf * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap_buf *= 2;
        }
        size_t got = fread(buf + n, 1, cap_buf - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return wts_fail(err, errlen, IFS_WTS_EIO, "%s: read error", path);
    }
    if (n > cap) {
        free(buf);
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: larger than the %zu-byte limit for this file", path, cap);
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
}

int wts_write_atomic(const char *path, wts_writer_fn fn, void *ctx, char *err, size_t errlen)
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
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        rc = wts_fail(err, errlen, IFS_WTS_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    int wrc = fn(f, ctx);
    int e = errno;
    if (wrc == 0 && fflush(f) != 0) { wrc = -1; e = errno; }
    if (wrc == 0 && fsync(fileno(f)) != 0) { wrc = -1; e = errno; }
    if (fclose(f) != 0 && wrc == 0) { wrc = -1; e = errno; }
    if (wrc != 0) {
        unlink(tmp);
        rc = wts_fail(err, errlen, IFS_WTS_EIO, "%s: write failed: %s", path,
                      e ? strerror(e) : "error");
        goto out;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
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

const char *ifs_wts_status_str(int status)
{
    switch (status) {
    case IFS_WTS_OK: return "ok";
    case IFS_WTS_EIO: return "I/O error";
    case IFS_WTS_EFORMAT: return "malformed file";
    case IFS_WTS_EUNSUP: return "unsupported model";
    case IFS_WTS_EMODEL: return "bad or missing tensor";
    case IFS_WTS_ENOMEM: return "out of memory";
    case IFS_WTS_EARG: return "bad argument";
    default: return "unknown status";
    }
}
