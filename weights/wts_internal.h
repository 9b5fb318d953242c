/*
 * wts_internal.h - helpers shared by the weights module's files; not public.
 */
#ifndef IFS_WTS_INTERNAL_H
#define IFS_WTS_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weights/: safetensors data is little-endian; this host is not"
#endif

/* Formats into err (if any) and returns status, so a failure is one line:
 *     return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: ...", name); */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static inline int wts_fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* Offset of the first byte that is not part of a valid UTF-8 sequence
 * (overlongs, surrogates and values above U+10FFFF are invalid), or len. */
size_t wts_utf8_invalid_at(const unsigned char *s, size_t len);

/* Reads a whole (small) file into a NUL-terminated malloc'd buffer; refuses
 * files over cap bytes. Returns 0, IFS_WTS_EIO, IFS_WTS_EFORMAT (too big) or
 * IFS_WTS_ENOMEM. */
int wts_read_file(const char *path, size_t cap, char **out, size_t *out_len,
                  char *err, size_t errlen);

/* Atomic replace of `path` with bytes produced by write_fn: temp file in the
 * same folder, fsync, rename, fsync of the folder. write_fn returns 0 or -1
 * (errno set). */
/* The whole file's bytes a safetensors handle was parsed from (borrowed). */
struct ifs_wts_st;
const void *wts_st_bytes(const struct ifs_wts_st *st, size_t *len);

typedef int (*wts_writer_fn)(FILE *f, void *ctx);
int wts_write_atomic(const char *path, wts_writer_fn fn, void *ctx, char *err, size_t errlen);

#endif
