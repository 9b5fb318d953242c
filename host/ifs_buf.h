/*
 * ifs_buf.h - the one growable text buffer of host/ (reports, tables,
 * per-record output lines, manifests) and the one JSON string escaper.
 *
 *     ifs_buf b;
 *     ifs_buf_init(&b);
 *     ifs_buf_puts(&b, "{\"model\": ");
 *     ifs_buf_json(&b, name, strlen(name));     // "quoted, escaped"
 *     ifs_buf_printf(&b, ", \"n\": %d}", n);
 *     if (b.oom) ...;                           // one check at the end
 *     use(b.p, b.len);                          // NUL-terminated
 *     ifs_buf_free(&b);
 *
 * Allocation failure is sticky: `oom` is set, later appends do nothing, so a
 * writer checks once. b.p is owned by the buffer (NULL until the first
 * append), valid until the next append, reset or free. Not thread-safe;
 * nothing here prints or exits.
 */
#ifndef IFS_BUF_H
#define IFS_BUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *p; /* NUL-terminated after every append (when not NULL) */
    size_t len, cap;
    int oom; /* an append failed; the text is incomplete */
} ifs_buf;

void ifs_buf_init(ifs_buf *b);
/* Frees the text and re-initialises. NULL ok. */
void ifs_buf_free(ifs_buf *b);
/* Empties the text, keeps the memory, clears oom. */
void ifs_buf_reset(ifs_buf *b);
/* Makes room for `more` bytes (and the NUL). 0, or -1 (oom set). */
int ifs_buf_reserve(ifs_buf *b, size_t more);
void ifs_buf_add(ifs_buf *b, const void *data, size_t n);
void ifs_buf_puts(ifs_buf *b, const char *s);
void ifs_buf_printf(ifs_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ifs_buf_u64(ifs_buf *b, uint64_t v);
/* "%.*f", with a negative zero printed as zero ("-0.000000" carries no
 * information and would make equal reports differ). */
void ifs_buf_fixed(ifs_buf *b, double v, int decimals);
/* s[0..n) as a JSON string literal, quotes included (ifs_json_escape). */
void ifs_buf_json(ifs_buf *b, const char *s, size_t n);
/* The same for a NUL-terminated string. */
void ifs_buf_jstr(ifs_buf *b, const char *s);

/* Writes src[0..len) as a JSON string body (no quotes) into dst, snprintf
 * style: returns the length the escaped text needs (excluding the NUL), writes
 * at most cap-1 bytes plus a NUL when cap > 0. Escapes '"', '\\', control
 * bytes and DEL; bytes that are not valid UTF-8 become U+FFFD, so the output
 * is always valid JSON even for file names that are not UTF-8. */
size_t ifs_json_escape(char *dst, size_t cap, const char *src, size_t len);

/* The one error formatter of host/: writes the message into err (snprintf
 * style, truncated to errlen; nothing when err is NULL or errlen is 0) and
 * returns rc, so a failure reads `return ifs_errf(err, errlen, IFS_X_EIO,
 * "%s: %s", path, strerror(errno));`. */
int ifs_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif /* IFS_BUF_H */
