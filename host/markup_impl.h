/*
 * markup_impl.h - the text the renderers of compare.c, html.c and sample.c
 * share, on the project's one buffer (ifs_buf.h): escaping for XML/HTML and
 * markdown, signed fixed decimals, and handing a finished buffer's text to
 * the caller. Private to those files.
 *
 * A buffer records its first failure (ifs_buf.oom) and ignores later
 * writes, so callers check once, at ifs_mk_finish.
 */
#ifndef IFS_MARKUP_IMPL_H
#define IFS_MARKUP_IMPL_H

#include <stddef.h>

#include "ifs_buf.h"

/* ifs_buf_init, returning 0 (it cannot fail: the first append allocates). */
int ifs_mk_open(ifs_buf *b);
/* "%+.*f" with an explicit sign: "+0.120", "-0.045", "0.000". */
void ifs_mk_signed(ifs_buf *b, double v, int decimals);
/* Text for XML 1.0 / HTML content and attribute values: & < > " ' escaped;
 * a carriage return as &#13; (a raw one is read back as a newline); bytes
 * XML 1.0 forbids even as references (C0 controls other than tab, newline
 * and carriage return, DEL, U+FFFE, U+FFFF) and invalid UTF-8 become
 * U+FFFD, so any input gives a well-formed document. */
void ifs_mk_xml(ifs_buf *b, const char *s);
/* At most max_cp code points of s as XML text, "..." (one U+2026) when cut. */
void ifs_mk_xml_cut(ifs_buf *b, const char *s, size_t max_cp);
/* A markdown table cell: '|' escaped, line breaks as spaces, HTML-special
 * characters escaped so a cell cannot open a tag. */
void ifs_mk_md_cell(ifs_buf *b, const char *s);
/* Code points in s (UTF-8). */
size_t ifs_mk_width(const char *s);
/* 0 with *out (malloc'd, NUL-terminated, "" for an empty buffer; caller
 * frees) and *len (may be NULL), or -1 when an append failed (the buffer is
 * freed, nothing to free). The buffer is left empty either way. */
int ifs_mk_finish(ifs_buf *b, char **out, size_t *len);

#endif
