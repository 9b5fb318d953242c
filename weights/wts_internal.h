/*
 * wts_internal.h - helpers shared by the weights module's files, and the
 * loader's test hook; not public (tests of this module may include it).
 */
#ifndef IFS_WTS_INTERNAL_H
#define IFS_WTS_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "ifs_wts.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weights/: safetensors data is little-endian; this host is not"
#endif

/* Formats into err (if any) and returns status, so a failure is one line:
 *     return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: ...", name); */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static inline int
wts_fail(char *err, size_t errlen, int status, const char *fmt, ...)
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

/* The last member named `key` (case-sensitive) of a JSON object, or NULL:
 * a repeated key takes its last value, as Python's json.load does. */
struct cJSON;
const struct cJSON *wts_json_get(const struct cJSON *obj, const char *key);

/* ---- files ----------------------------------------------------------------
 * Every file the module reads is opened here: O_RDONLY | O_NONBLOCK (a FIFO
 * must not block the open), then fstat, and refused unless regular, with
 * what it is instead ("is a FIFO (named pipe), not a regular file").
 * Returns the descriptor (>= 0, *sb filled) or IFS_WTS_EIO. */
int wts_open_regular(const char *path, struct stat *sb, char *err, size_t errlen);

/* "a directory", "a FIFO (named pipe)", "a character device", ... for a
 * mode that is not a regular file. */
const char *wts_file_kind(mode_t mode);

/* Reads exactly n bytes at offset off of a file that was file_len bytes long
 * when opened. A short read means the file shrank while being read (a
 * checkpoint replaced in place): IFS_WTS_EIO naming the file and where it
 * now ends. */
int wts_pread_full(int fd, const char *path, void *buf, size_t n, uint64_t off, uint64_t file_len,
                   char *err, size_t errlen);

/* IFS_WTS_EIO when the open file's size, modification time, inode or device
 * differ from *at_open (it was rewritten while being read), else 0. */
int wts_check_unchanged(int fd, const struct stat *at_open, const char *path, char *err,
                        size_t errlen);

/* Reads a whole small regular file (config.json, the index) into a
 * NUL-terminated malloc'd buffer. `what` names the file in the cap message.
 * Returns 0, IFS_WTS_EIO, IFS_WTS_EFORMAT (over cap bytes, the cap stated)
 * or IFS_WTS_ENOMEM. */
int wts_read_file(const char *path, const char *what, size_t cap, char **out, size_t *out_len,
                  char *err, size_t errlen);

/* Atomic replace of `path` with the bytes `produce` hands to its write
 * callback: temp file in the same folder, fsync, rename, fsync of the
 * folder. produce returns 0 or a negative IFS_WTS_* status (with a message
 * in err); a failed write is reported with the path and errno. */
typedef int (*wts_producer_fn)(void *ctx, ifs_wts_write_fn write, void *wctx, char *err,
                               size_t errlen);
int wts_write_atomic(const char *path, wts_producer_fn produce, void *ctx, char *err,
                     size_t errlen);

/* ---- safetensors, for the loader ---------------------------------------- */
struct ifs_wts_st;

/* Bytes per element of a safetensors dtype name, 0 if unknown. */
unsigned wts_dtype_size(const char *dtype);

/* Opens `path` and parses its header only, reading nothing else: tensors'
 * data pointers are NULL and wts_st_read fetches their bytes. The handle
 * keeps the file open until ifs_wts_st_free. */
struct ifs_wts_st *wts_st_open_stream(const char *path, char *err, size_t errlen);

/* What wts_st_open_stream parses, from memory: b holds the first `avail`
 * bytes of a file of file_len bytes (avail >= min(8, file_len), and 8 + N
 * when the length prefix is acceptable); the handle borrows b. Data
 * pointers are set only when avail == file_len. For the fuzz target. */
struct ifs_wts_st *wts_st_parse_prefix(const void *b, size_t avail, uint64_t file_len,
                                       const char *name, char *err, size_t errlen);

/* n bytes at absolute file offset off: from the file (stream handles) or
 * from the parsed bytes. 0 or IFS_WTS_EIO (the file shrank) / EARG. */
int wts_st_read(const struct ifs_wts_st *st, uint64_t off, void *buf, size_t n, char *err,
                size_t errlen);

/* For stream handles: wts_check_unchanged on the open file; 0 otherwise. */
int wts_st_check_unchanged(const struct ifs_wts_st *st, char *err, size_t errlen);

/* The first 8 + N bytes (length and header) as read and parsed (borrowed). */
const void *wts_st_header(const struct ifs_wts_st *st, size_t *len);

/* Length of the whole file when it was opened. */
uint64_t wts_st_file_len(const struct ifs_wts_st *st);

/* Position of t (a pointer from ifs_wts_st_tensor / _find) in file order. */
size_t wts_st_index(const struct ifs_wts_st *st, const ifs_wts_tensor_info *t);

/* ---- the loader, with knobs for tests ------------------------------------
 * ifs_wts_load is wts_load_with(dir, flags, NULL, ...). `hook`, when set,
 * runs once every header has been parsed and every used tensor's shape and
 * dtype checked, just before the data is read: tests use it to change the
 * files under the loader (truncate one, rewrite one). `chunk` is the read
 * buffer's size (0: 4 MiB; at least 8), small in tests so that chunk
 * boundaries fall inside tensors and elements. */
typedef struct {
    void (*hook)(void *ctx, const char *dir);
    void *ctx;
    size_t chunk;
} wts_load_opts;
ifs_wts_model *wts_load_with(const char *dir, unsigned flags, const wts_load_opts *opts, char *err,
                             size_t errlen);

#endif
