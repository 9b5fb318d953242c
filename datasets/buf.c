/*
 * buf.c - the growable buffer the datasets module writes records into, with
 * the few JSON helpers it needs: host's ifs_buf (ifs_buf.h) underneath, so
 * growth, escaping (ifs_json_escape) and oom are the project's one buffer's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"
#include "ifs_record.h"

/* Empties the text but, unlike ifs_buf_reset, keeps oom set: a builder checks
 * it once, after many records. */
void ds_buf_reset(ds_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = 0;
}

void ds_buf_free(ds_buf *b)
{
    ifs_buf_free(b);
}

void ds_buf_put(ds_buf *b, const void *data, size_t n)
{
    ifs_buf_add(b, data, n);
}

void ds_buf_puts(ds_buf *b, const char *s)
{
    ifs_buf_puts(b, s);
}

void ds_buf_printf(ds_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0 || ifs_buf_reserve(b, (size_t)need))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

void ds_buf_json_str(ds_buf *b, const char *s, size_t n)
{
    ifs_buf_json(b, s, n);
}

static void key(ds_buf *b, const char *k)
{
    if (b->len && b->p[b->len - 1] != '{')
        ds_buf_put(b, ",", 1);
    ds_buf_json_str(b, k, strlen(k));
    ds_buf_put(b, ":", 1);
}

void ds_buf_kv_str(ds_buf *b, const char *k, const char *s, size_t n)
{
    key(b, k);
    ds_buf_json_str(b, s, n);
}

void ds_buf_kv_int(ds_buf *b, const char *k, long long v)
{
    key(b, k);
    ds_buf_printf(b, "%lld", v);
}

void ds_buf_kv_raw(ds_buf *b, const char *k, const char *json, size_t n)
{
    key(b, k);
    ds_buf_put(b, json, n);
}

int ds_has_nul(const char *data, size_t len)
{
    if (memchr(data, 0, len))
        return 1;
    for (const char *p = data; (p = memchr(p, '\\', (size_t)(data + len - p))) != NULL;) {
        /* A run of backslashes: an odd one escapes what follows. */
        size_t run = 0;
        while (p + run < data + len && p[run] == '\\')
            run++;
        const char *after = p + run;
        if ((run & 1) && data + len - after >= 5 && after[0] == 'u' &&
            !memcmp(after + 1, "0000", 4))
            return 1;
        p = after;
        if (p >= data + len)
            break;
    }
    return 0;
}

int ifs_ds_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1ull << 10;
    else if (*end == 'M' || *end == 'm')
        mul = 1ull << 20;
    else if (*end == 'G' || *end == 'g')
        mul = 1ull << 30;
    else if (*end)
        return -1;
    if (*end && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
        return -1;
    if (end == s || v > UINT64_MAX / mul)
        return -1;
    *out = (uint64_t)v * mul;
    return 0;
}

int ds_set_has(const ds_set *s, uint64_t h)
{
    h |= 1;
    if (!s->cap)
        return 0;
    for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slot[i])
            return 0;
        if (s->slot[i] == h)
            return 1;
    }
}

int ds_set_add(ds_set *s, uint64_t h)
{
    h |= 1;
    if ((s->n + 1) * 2 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        uint64_t *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return IFS_DS_ENOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i])
                continue;
            size_t j = s->slot[i] & (nc - 1);
            while (ns[j])
                j = (j + 1) & (nc - 1);
            ns[j] = s->slot[i];
        }
        free(s->slot);
        s->slot = ns;
        s->cap = nc;
    }
    size_t j = h & (s->cap - 1);
    while (s->slot[j]) {
        if (s->slot[j] == h)
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    s->slot[j] = h;
    s->n++;
    return 0;
}

void ds_set_free(ds_set *s)
{
    free(s->slot);
    memset(s, 0, sizeof *s);
}
