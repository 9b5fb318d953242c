/*
 * markup_impl.h - text output shared by the renderers of compare.c, html.c
 * and sample.c: a growing buffer (POSIX open_memstream, so fprintf formats
 * straight into it), escaping for XML/HTML, JSON and markdown, and fixed
 * decimals without a negative zero. Private to those files.
 *
 * A buffer records its first failure and ignores later writes, so callers
 * check once, at ifs_mk_finish.
 */
#ifndef IFS_MARKUP_IMPL_H
#define IFS_MARKUP_IMPL_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    char *p;
    size_t len;
    int bad;
} ifs_mk;

/* 0, or -1 when no stream could be made (out of memory). */
int ifs_mk_open(ifs_mk *b);
void ifs_mk_puts(ifs_mk *b, const char *s);
void ifs_mk_write(ifs_mk *b, const char *s, size_t n);
void ifs_mk_printf(ifs_mk *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* "%.*f" with "-0.000" printed as "0.000". */
void ifs_mk_fixed(ifs_mk *b, double v, int decimals);
/* The same with an explicit sign: "+0.120", "-0.045", "0.000". */
void ifs_mk_signed(ifs_mk *b, double v, int decimals);
/* Text for XML 1.0 / HTML content and attribute values: & < > " ' escaped;
 * bytes XML 1.0 forbids even as references (C0 controls other than tab,
 * newline and carriage return, DEL, U+FFFE, U+FFFF) and invalid UTF-8
 * become U+FFFD, so any input gives a well-formed document. */
void ifs_mk_xml(ifs_mk *b, const char *s);
/* At most max_cp code points of s as XML text, "..." (one U+2026) when cut. */
void ifs_mk_xml_cut(ifs_mk *b, const char *s, size_t max_cp);
/* A JSON string literal, quotes included (ifs_json_escape's rules). */
void ifs_mk_json(ifs_mk *b, const char *s);
/* A markdown table cell: '|' escaped, line breaks as spaces, HTML-special
 * characters escaped so a cell cannot open a tag. */
void ifs_mk_md_cell(ifs_mk *b, const char *s);
/* Code points in s (UTF-8). */
size_t ifs_mk_width(const char *s);
/* Closes the stream: 0 with *out (malloc'd, NUL-terminated; caller frees)
 * and *len, or -1 (out of memory or a write failed; nothing to free). */
int ifs_mk_finish(ifs_mk *b, char **out, size_t *len);
/* Closes and frees without a result (error paths). NULL-safe. */
void ifs_mk_discard(ifs_mk *b);

#endif
