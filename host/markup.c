/*
 * markup.c - the text buffer and escapers of markup_impl.h.
 *
 * Decisions:
 *   - open_memstream rather than a buffer of our own: the renderers format
 *     hundreds of numbers per chart and fprintf does it into the stream.
 *   - Escaping works on decoded code points, so invalid UTF-8 and characters
 *     XML 1.0 cannot carry become U+FFFD instead of breaking a JUnit file or
 *     a standalone SVG: reports are untrusted, and their key values reach
 *     every output.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_record.h" /* ifs_json_escape */
#include "markup_impl.h"

static const char REPL[] = "\xEF\xBF\xBD"; /* U+FFFD */

int ifs_mk_open(ifs_mk *b)
{
    memset(b, 0, sizeof *b);
    b->f = open_memstream(&b->p, &b->len);
    if (!b->f) {
        b->bad = 1;
        return -1;
    }
    return 0;
}

void ifs_mk_write(ifs_mk *b, const char *s, size_t n)
{
    if (b->bad || !n)
        return;
    if (fwrite(s, 1, n, b->f) != n)
        b->bad = 1;
}

void ifs_mk_puts(ifs_mk *b, const char *s)
{
    ifs_mk_write(b, s, strlen(s));
}

void ifs_mk_printf(ifs_mk *b, const char *fmt, ...)
{
    if (b->bad)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(b->f, fmt, ap) < 0)
        b->bad = 1;
    va_end(ap);
}

static void fixed(ifs_mk *b, double v, int decimals, int sign)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, sign ? "%+.*f" : "%.*f", decimals, v);
    /* A rounded zero keeps no sign: "-0.000" and "+0.000" say nothing. */
    const char *s = tmp;
    if ((tmp[0] == '-' || tmp[0] == '+') && strspn(tmp + 1, "0.") == strlen(tmp + 1))
        s = tmp + 1;
    ifs_mk_puts(b, s);
}

void ifs_mk_fixed(ifs_mk *b, double v, int decimals)
{
    fixed(b, v, decimals, 0);
}

void ifs_mk_signed(ifs_mk *b, double v, int decimals)
{
    fixed(b, v, decimals, 1);
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
    if ((c & 0xE0) == 0xC0) { need = 1; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { need = 2; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { need = 3; v = c & 0x07; min = 0x10000; }
    else return 0;
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

static void xml(ifs_mk *b, const char *s, size_t max_cp)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, cps = 0;
    while (i < n) {
        if (cps == max_cp) {
            ifs_mk_puts(b, "\xE2\x80\xA6"); /* U+2026 */
            return;
        }
        unsigned cp = 0;
        size_t k = decode(p + i, n - i, &cp);
        cps++;
        if (!k) {
            ifs_mk_puts(b, REPL);
            i++;
            continue;
        }
        switch (cp) {
        case '&': ifs_mk_puts(b, "&amp;"); break;
        case '<': ifs_mk_puts(b, "&lt;"); break;
        case '>': ifs_mk_puts(b, "&gt;"); break;
        case '"': ifs_mk_puts(b, "&quot;"); break;
        case '\'': ifs_mk_puts(b, "&#39;"); break;
        default:
            if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F ||
                cp == 0xFFFE || cp == 0xFFFF)
                ifs_mk_puts(b, REPL);
            else
                ifs_mk_write(b, s + i, k);
        }
        i += k;
    }
}

void ifs_mk_xml(ifs_mk *b, const char *s)
{
    xml(b, s, (size_t)-1);
}

void ifs_mk_xml_cut(ifs_mk *b, const char *s, size_t max_cp)
{
    xml(b, s, max_cp);
}

void ifs_mk_json(ifs_mk *b, const char *s)
{
    size_t n = strlen(s);
    char small[256];
    size_t need = ifs_json_escape(small, sizeof small, s, n);
    ifs_mk_puts(b, "\"");
    if (need < sizeof small) {
        ifs_mk_write(b, small, need);
    } else {
        char *big = malloc(need + 1);
        if (!big) {
            b->bad = 1;
            return;
        }
        ifs_json_escape(big, need + 1, s, n);
        ifs_mk_write(b, big, need);
        free(big);
    }
    ifs_mk_puts(b, "\"");
}

void ifs_mk_md_cell(ifs_mk *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '|': ifs_mk_puts(b, "\\|"); break;
        case '\n':
        case '\r':
        case '\t': ifs_mk_puts(b, " "); break;
        case '<': ifs_mk_puts(b, "&lt;"); break;
        case '>': ifs_mk_puts(b, "&gt;"); break;
        case '&': ifs_mk_puts(b, "&amp;"); break;
        default:
            if ((unsigned char)*p < 0x20)
                ifs_mk_puts(b, " ");
            else
                ifs_mk_write(b, p, 1);
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

int ifs_mk_finish(ifs_mk *b, char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (!b->f)
        return -1;
    int bad = b->bad || ferror(b->f);
    if (fclose(b->f))
        bad = 1;
    b->f = NULL;
    if (bad || !b->p) {
        free(b->p);
        b->p = NULL;
        return -1;
    }
    *out = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    return 0;
}

void ifs_mk_discard(ifs_mk *b)
{
    if (!b)
        return;
    if (b->f)
        fclose(b->f);
    free(b->p);
    memset(b, 0, sizeof *b);
}
