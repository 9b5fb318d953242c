/*
 * buf.c - the growable text buffer and the JSON string escaper (ifs_buf.h).
 */
#include "ifs_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_utf8.h"

void ifs_buf_init(ifs_buf *b)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void ifs_buf_free(ifs_buf *b)
{
    if (!b)
        return;
    free(b->p);
    ifs_buf_init(b);
}

void ifs_buf_reset(ifs_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->p)
        b->p[0] = 0;
}

int ifs_buf_reserve(ifs_buf *b, size_t more)
{
    if (b->oom)
        return -1;
    if (more > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return -1;
    }
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void ifs_buf_add(ifs_buf *b, const void *data, size_t n)
{
    if (ifs_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

void ifs_buf_puts(ifs_buf *b, const char *s)
{
    ifs_buf_add(b, s, strlen(s));
}

void ifs_buf_printf(ifs_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        ifs_buf_add(b, tmp, (size_t)n);
        return;
    }
    if (ifs_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ifs_buf_u64(ifs_buf *b, uint64_t v)
{
    char tmp[24];
    size_t k = sizeof tmp;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ifs_buf_add(b, tmp + k, sizeof tmp - k);
}

void ifs_buf_fixed(ifs_buf *b, double v, int decimals)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    const char *s = tmp;
    if (tmp[0] == '-' && strspn(tmp + 1, "0.") == strlen(tmp + 1))
        s = tmp + 1;
    ifs_buf_puts(b, s);
}

void ifs_buf_json(ifs_buf *b, const char *s, size_t n)
{
    size_t need = ifs_json_escape(NULL, 0, s, n);
    if (ifs_buf_reserve(b, need + 2))
        return;
    b->p[b->len++] = '"';
    ifs_json_escape(b->p + b->len, need + 1, s, n);
    b->len += need;
    b->p[b->len++] = '"';
    b->p[b->len] = 0;
}

void ifs_buf_jstr(ifs_buf *b, const char *s)
{
    ifs_buf_json(b, s, strlen(s));
}

size_t ifs_json_escape(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 < cap)                                                                           \
            dst[n] = (c);                                                                          \
        n++;                                                                                       \
    } while (0)
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 0x80) {
            /* one sequence at a time, checked in a window of at most 4 bytes
             * so the cost stays linear; a bad byte becomes U+FFFD */
            size_t w = len - i < 4 ? len - i : 4;
            size_t seq = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (ifs_utf8_check(src + i, w) == 0 || seq > w) {
                PUT((char)0xEF);
                PUT((char)0xBF);
                PUT((char)0xBD);
                i++;
                continue;
            }
            for (size_t k = 0; k < seq; k++, i++)
                PUT(src[i]); /* PUT may skip evaluating its argument: no i++ inside */
            continue;
        }
        switch (c) {
        case '"':
            PUT('\\');
            PUT('"');
            break;
        case '\\':
            PUT('\\');
            PUT('\\');
            break;
        case '\n':
            PUT('\\');
            PUT('n');
            break;
        case '\r':
            PUT('\\');
            PUT('r');
            break;
        case '\t':
            PUT('\\');
            PUT('t');
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                PUT('\\');
                PUT('u');
                PUT('0');
                PUT('0');
                PUT(hex[c >> 4]);
                PUT(hex[c & 15]);
            } else {
                PUT((char)c);
            }
        }
        i++;
    }
#undef PUT
    if (cap)
        dst[n < cap ? n : cap - 1] = 0;
    return n;
}

int ifs_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
