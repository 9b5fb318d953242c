/*
 * markup.c - the escapers of markup_impl.h, on ifs_buf.
 *
 * Decisions:
 *   - Escaping works on decoded code points, so invalid UTF-8 and characters
 *     XML 1.0 cannot carry become U+FFFD instead of breaking a JUnit file or
 *     a standalone SVG: reports are untrusted, and their key values reach
 *     every output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "markup_impl.h"

static const char REPL[] = "\xEF\xBF\xBD"; /* U+FFFD */

int ifs_mk_open(ifs_buf *b)
{
    ifs_buf_init(b);
    return 0;
}

void ifs_mk_signed(ifs_buf *b, double v, int decimals)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%+.*f", decimals, v);
    /* A rounded zero keeps no sign: "-0.000" and "+0.000" say nothing. */
    const char *s = tmp;
    if (strspn(tmp + 1, "0.") == strlen(tmp + 1))
        s = tmp + 1;
    ifs_buf_puts(b, s);
}

/* Decodes one UTF-8 sequence at p (n bytes left): its length, or 0 when the
 * bytes there are not valid UTF-8 (*cp unset). */
static size_t decode(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned c = p[0], v, min;
    size_t need;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0) {
        need = 1;
        v = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        need = 2;
        v = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        need = 3;
        v = c & 0x07;
        min = 0x10000;
    } else
        return 0;
    if (n < need + 1)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return need + 1;
}

static void xml(ifs_buf *b, const char *s, size_t max_cp)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, cps = 0;
    while (i < n) {
        if (cps == max_cp) {
            ifs_buf_puts(b, "\xE2\x80\xA6"); /* U+2026 */
            return;
        }
        unsigned cp = 0;
        size_t k = decode(p + i, n - i, &cp);
        cps++;
        if (!k) {
            ifs_buf_puts(b, REPL);
            i++;
            continue;
        }
        switch (cp) {
        case '&': ifs_buf_puts(b, "&amp;"); break;
        case '<': ifs_buf_puts(b, "&lt;"); break;
        case '>': ifs_buf_puts(b, "&gt;"); break;
        case '"': ifs_buf_puts(b, "&quot;"); break;
        case '\'': ifs_buf_puts(b, "&#39;"); break;
        case '\r': ifs_buf_puts(b, "&#13;"); break; /* a raw CR would be read back as LF */
        default:
            if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7F || cp == 0xFFFE ||
                cp == 0xFFFF)
                ifs_buf_puts(b, REPL);
            else
                ifs_buf_add(b, s + i, k);
        }
        i += k;
    }
}

void ifs_mk_xml(ifs_buf *b, const char *s)
{
    xml(b, s, (size_t)-1);
}

void ifs_mk_xml_cut(ifs_buf *b, const char *s, size_t max_cp)
{
    xml(b, s, max_cp);
}

void ifs_mk_md_cell(ifs_buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '|': ifs_buf_puts(b, "\\|"); break;
        case '\n':
        case '\r':
        case '\t': ifs_buf_puts(b, " "); break;
        case '<': ifs_buf_puts(b, "&lt;"); break;
        case '>': ifs_buf_puts(b, "&gt;"); break;
        case '&': ifs_buf_puts(b, "&amp;"); break;
        default:
            if ((unsigned char)*p < 0x20)
                ifs_buf_puts(b, " ");
            else
                ifs_buf_add(b, p, 1);
        }
    }
}

size_t ifs_mk_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

int ifs_mk_finish(ifs_buf *b, char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (b->oom) {
        ifs_buf_free(b);
        return -1;
    }
    if (!b->p)
        ifs_buf_add(b, "", 0); /* an empty text is still a string */
    if (b->oom) {
        ifs_buf_free(b);
        return -1;
    }
    *out = b->p;
    if (len)
        *len = b->len;
    ifs_buf_init(b);
    return 0;
}
