/*
 * ifs_utf8.h - strict UTF-8 validation for untrusted input lines.
 *
 *     size_t bad = ifs_utf8_check(line, len);
 *     if (bad != len) printf("invalid UTF-8 at byte %zu\n", bad);
 *
 * Strict means what RFC 3629 allows and nothing else: no overlong forms, no
 * UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequences. NUL (0x00) is valid UTF-8 and passes; callers that must refuse
 * it look for it themselves. Pure functions: thread-safe, never allocate.
 */
#ifndef IFS_UTF8_H
#define IFS_UTF8_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns len when s[0..len) is valid UTF-8, otherwise the byte offset of
 * the first byte of the first invalid or truncated sequence. s may be NULL
 * when len is 0. */
size_t ifs_utf8_check(const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif
