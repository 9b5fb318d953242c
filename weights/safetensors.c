/*
 * safetensors.c - the safetensors reader: maps a file and trusts nothing.
 *
 * Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (an object: tensor name -> {dtype, shape, data_offsets}, plus an optional
 * "__metadata__"), then the data section. Every check the reference reader
 * makes is made here, before any tensor is handed out, plus the ones
 * reliability.md adds:
 *   - N <= 100,000,000 and 8 + N <= file size; the header starts with '{',
 *     is valid UTF-8, holds no \u0000 escape (cJSON would cut a name short
 *     at it), and is one JSON object followed only by whitespace;
 *   - every dtype the format defines is accepted here (an unused I64
 *     position_ids tensor must not stop a load); others are refused by name.
 *     Whether a tensor's dtype is usable as a weight is the loader's call;
 *   - shape entries and offsets are non-negative integers below 2^53 (cJSON
 *     holds numbers as doubles), prod(shape) * size is computed with
 *     overflow checks and must equal end - begin;
 *   - sorted by offset, tensors cover the data section back to back from 0
 *     to its end: an overlap, a gap or trailing bytes is refused;
 *   - no name appears twice.
 * Every message names the file, the tensor and a byte offset in the file.
 */
#include "ifs_wts.h"
#include "wts_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_HEADER_CAP 100000000ull
#define ST_MAX_INT 9007199254740992.0 /* 2^53: above it a double is not exact */

struct ifs_wts_st {
    void *map;                 /* owned mapping (ifs_wts_st_open) or NULL */
    size_t map_len;
    ifs_wts_tensor_info *t;    /* sorted by begin */
    size_t n;
    char **names;              /* owned copies, t[i].name points here */
    char *file;                /* name for messages */
    const void *bytes;         /* what was parsed (borrowed or == map) */
    size_t len;
};

const void *wts_st_bytes(const struct ifs_wts_st *st, size_t *len)
{
    *len = st->len;
    return st->bytes;
}

static const struct { const char *name; unsigned size; } DTYPES[] = {
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
    {"I32", 4}, {"U32", 4}, {"F32", 4},
    {"I64", 8}, {"U64", 8}, {"F64", 8}, {"C64", 8},
};

static int dtype_lookup(const char *s, const char **canon, unsigned *size)
{
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (!strcmp(s, DTYPES[i].name)) {
            *canon = DTYPES[i].name;
            *size = DTYPES[i].size;
            return 0;
        }
    return -1;
}

void ifs_wts_st_free(ifs_wts_st *st)
{
    if (!st)
        return;
    if (st->map)
        munmap(st->map, st->map_len);
    if (st->names)
        for (size_t i = 0; i < st->n; i++)
            free(st->names[i]);
    free(st->names);
    free(st->t);
    free(st->file);
    free(st);
}

size_t ifs_wts_st_count(const ifs_wts_st *st) { return st ? st->n : 0; }

const ifs_wts_tensor_info *ifs_wts_st_tensor(const ifs_wts_st *st, size_t i)
{
    return st && i < st->n ? &st->t[i] : NULL;
}

const ifs_wts_tensor_info *ifs_wts_st_find(const ifs_wts_st *st, const char *name)
{
    if (!st || !name)
        return NULL;
    for (size_t i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name))
            return &st->t[i];
    return NULL;
}

/* Byte offset in the file of a tensor's entry in the header: the first
 * occurrence of its quoted name. Good enough to point a person at it. */
static uint64_t header_pos(const char *hdr, size_t n, const char *name)
{
    size_t k = strlen(name);
    for (size_t i = 0; k + 2 <= n && i + k + 2 <= n; i++)
        if (hdr[i] == '"' && !memcmp(hdr + i + 1, name, k) && hdr[i + 1 + k] == '"')
            return 8 + i;
    return 8;
}

/* A non-negative integer below 2^53, or -1. */
static int get_u53(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_INT || floor(d) != d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int cmp_offset(const void *a, const void *b)
{
    const ifs_wts_tensor_info *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name_ptr(const void *a, const void *b)
{
    const ifs_wts_tensor_info *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static void fmt_shape(char *buf, size_t len, const int64_t *shape, int ndim)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < len)
        snprintf(buf + k, len - k, "]");
}

/* Parses one tensor entry into *t (name already set). */
static int parse_entry(const cJSON *e, ifs_wts_tensor_info *t, const char *file, const char *hdr,
                       size_t hlen, uint64_t data_len, uint64_t data_start, char *err, size_t errlen)
{
    uint64_t at = header_pos(hdr, hlen, t->name);
    if (!cJSON_IsObject(e))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): entry is not a JSON object", file,
                        t->name, (unsigned long long)at);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): needs string 'dtype', array "
                        "'shape' and array 'data_offsets'",
                        file, t->name, (unsigned long long)at);
    unsigned size;
    if (dtype_lookup(dt->valuestring, &t->dtype, &size))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): unknown dtype '%.32s'", file,
                        t->name, (unsigned long long)at, dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > 8)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): %d dimensions (at most 8)", file,
                        t->name, (unsigned long long)at, nd);
    t->ndim = nd;
    uint64_t count = 1;
    int overflow = 0;
    int i = 0;
    for (const cJSON *d = sh->child; d; d = d->next, i++) {
        uint64_t v;
        if (get_u53(d, &v))
            return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                            "%s: tensor '%s' (header byte %llu): shape[%d] is not a "
                            "non-negative integer below 2^53",
                            file, t->name, (unsigned long long)at, i);
        t->shape[i] = (int64_t)v;
        if (v && count > UINT64_MAX / v)
            overflow = 1;
        count *= v;
    }
    if (!overflow && count > UINT64_MAX / size)
        overflow = 1;
    uint64_t bytes = count * size;
    if (cJSON_GetArraySize(off) != 2 || get_u53(off->child, &t->begin) ||
        get_u53(off->child->next, &t->end))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): data_offsets must be two "
                        "non-negative integers below 2^53",
                        file, t->name, (unsigned long long)at);
    t->file_offset = data_start + t->begin;
    if (t->end < t->begin)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): data_offsets [%llu, %llu] end "
                        "before they begin",
                        file, t->name, (unsigned long long)at, (unsigned long long)t->begin,
                        (unsigned long long)t->end);
    if (t->end > data_len)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' at byte %llu: data_offsets [%llu, %llu] run past the "
                        "end of the %llu-byte data section",
                        file, t->name, (unsigned long long)t->file_offset,
                        (unsigned long long)t->begin, (unsigned long long)t->end,
                        (unsigned long long)data_len);
    if (overflow || bytes != t->end - t->begin) {
        char s[160];
        fmt_shape(s, sizeof s, t->shape, t->ndim);
        if (overflow)
            return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                            "%s: tensor '%s' at byte %llu: shape %s x %u bytes overflows 64 bits",
                            file, t->name, (unsigned long long)t->file_offset, s, size);
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' at byte %llu: shape %s x %u bytes (%s) = %llu bytes, "
                        "but data_offsets span %llu",
                        file, t->name, (unsigned long long)t->file_offset, s, size, t->dtype,
                        (unsigned long long)bytes, (unsigned long long)(t->end - t->begin));
    }
    return 0;
}

ifs_wts_st *ifs_wts_st_parse(const void *bytes, size_t len, const char *name, char *err,
                             size_t errlen)
{
    const unsigned char *b = bytes;
    const char *file = name ? name : "<memory>";
    if (err && errlen)
        err[0] = '\0';
    if (len < 8) {
        wts_fail(err, errlen, IFS_WTS_EFORMAT,
                 "%s: %zu bytes, too short for the 8-byte header length at byte 0", file, len);
        return NULL;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    if (n > ST_HEADER_CAP) {
        wts_fail(err, errlen, IFS_WTS_EFORMAT,
                 "%s: header length %llu at byte 0 exceeds the %llu-byte cap", file,
                 (unsigned long long)n, ST_HEADER_CAP);
        return NULL;
    }
    if (n > len - 8) {
        wts_fail(err, errlen, IFS_WTS_EFORMAT,
                 "%s: header length %llu at byte 0 runs past the end of the %zu-byte file",
                 file, (unsigned long long)n, len);
        return NULL;
    }
    const char *hdr = (const char *)b + 8;
    size_t hlen = (size_t)n;
    if (hlen == 0 || hdr[0] != '{') {
        wts_fail(err, errlen, IFS_WTS_EFORMAT,
                 "%s: header at byte 8 does not start with '{' (not a safetensors file?)", file);
        return NULL;
    }
    size_t bad = wts_utf8_invalid_at((const unsigned char *)hdr, hlen);
    if (bad < hlen) {
        wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: header is not valid UTF-8 at byte %zu", file,
                 8 + bad);
        return NULL;
    }
    for (size_t i = 0; i + 6 <= hlen; i++)
        if (hdr[i] == '\\' && hdr[i + 1] == 'u' && hdr[i + 2] == '0' && hdr[i + 3] == '0' &&
            hdr[i + 4] == '0' && hdr[i + 5] == '0') {
            /* a \\u0000 (escaped backslash then u0000) is harmless but rare;
               count preceding backslashes to tell them apart */
            size_t k = 0;
            while (k < i && hdr[i - 1 - k] == '\\')
                k++;
            if (k % 2 == 0) {
                wts_fail(err, errlen, IFS_WTS_EFORMAT,
                         "%s: header holds a \\u0000 escape at byte %zu", file, 8 + i);
                return NULL;
            }
        }
    for (size_t i = 0; i < hlen; i++)
        if (hdr[i] == '\0') {
            wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: header holds a NUL byte at byte %zu",
                     file, 8 + i);
            return NULL;
        }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        wts_fail(err, errlen, IFS_WTS_EFORMAT,
                 "%s: header (bytes 8..%llu) is not a JSON object", file,
                 (unsigned long long)(8 + n));
        return NULL;
    }
    for (const char *p = end; p && p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            wts_fail(err, errlen, IFS_WTS_EFORMAT,
                     "%s: header has bytes after its JSON object at byte %llu", file,
                     (unsigned long long)(8 + (size_t)(p - hdr)));
            return NULL;
        }

    ifs_wts_st *st = calloc(1, sizeof *st);
    size_t cap = (size_t)cJSON_GetArraySize(root);
    if (st) {
        st->file = strdup(file);
        st->t = calloc(cap ? cap : 1, sizeof *st->t);
        st->names = calloc(cap ? cap : 1, sizeof *st->names);
    }
    if (!st || !st->file || !st->t || !st->names) {
        cJSON_Delete(root);
        ifs_wts_st_free(st);
        wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", file);
        return NULL;
    }
    st->bytes = bytes;
    st->len = len;
    uint64_t data_start = 8 + n, data_len = (uint64_t)len - data_start;
    int seen_meta = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (seen_meta || !cJSON_IsObject(e)) {
                wts_fail(err, errlen, IFS_WTS_EFORMAT,
                         "%s: '__metadata__' (header byte %llu) must appear once, as an object",
                         file, (unsigned long long)header_pos(hdr, hlen, "__metadata__"));
                goto fail;
            }
            seen_meta = 1;
            continue;
        }
        ifs_wts_tensor_info *t = &st->t[st->n];
        st->names[st->n] = strdup(e->string);
        if (!st->names[st->n]) {
            wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", file);
            goto fail;
        }
        t->name = st->names[st->n];
        st->n++;
        if (parse_entry(e, t, file, hdr, hlen, data_len, data_start, err, errlen))
            goto fail;
        t->data = b + t->file_offset;
    }
    cJSON_Delete(root);
    root = NULL;

    /* duplicate names: cJSON keeps both entries of a repeated key */
    if (st->n > 1) {
        const ifs_wts_tensor_info **byname = malloc(st->n * sizeof *byname);
        if (!byname) {
            wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", file);
            goto fail;
        }
        for (size_t i = 0; i < st->n; i++)
            byname[i] = &st->t[i];
        qsort(byname, st->n, sizeof *byname, cmp_name_ptr);
        for (size_t i = 1; i < st->n; i++)
            if (!strcmp(byname[i]->name, byname[i - 1]->name)) {
                wts_fail(err, errlen, IFS_WTS_EFORMAT,
                         "%s: tensor '%s' appears twice in the header (data at bytes %llu and %llu)",
                         file, byname[i]->name, (unsigned long long)byname[i - 1]->file_offset,
                         (unsigned long long)byname[i]->file_offset);
                free(byname);
                goto fail;
            }
        free(byname);
    }

    /* coverage: back to back from 0 to the end of the data section */
    qsort(st->t, st->n, sizeof *st->t, cmp_offset);
    uint64_t expect = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < st->n; i++) {
        const ifs_wts_tensor_info *t = &st->t[i];
        if (t->begin < expect) {
            wts_fail(err, errlen, IFS_WTS_EFORMAT,
                     "%s: tensor '%s' at byte %llu overlaps tensor '%s' (which ends at byte %llu)",
                     file, t->name, (unsigned long long)t->file_offset, prev,
                     (unsigned long long)(data_start + expect));
            goto fail;
        }
        if (t->begin > expect) {
            wts_fail(err, errlen, IFS_WTS_EFORMAT,
                     "%s: tensor '%s' at byte %llu leaves a %llu-byte gap after %s%s%s (bytes "
                     "%llu..%llu are not covered)",
                     file, t->name, (unsigned long long)t->file_offset,
                     (unsigned long long)(t->begin - expect), prev ? "tensor '" : "the header",
                     prev ? prev : "", prev ? "'" : "", (unsigned long long)(data_start + expect),
                     (unsigned long long)t->file_offset);
            goto fail;
        }
        expect = t->end;
        prev = t->name;
    }
    if (expect != data_len) {
        wts_fail(err, errlen, IFS_WTS_EFORMAT,
                 "%s: %llu trailing bytes at byte %llu after %s%s%s", file,
                 (unsigned long long)(data_len - expect), (unsigned long long)(data_start + expect),
                 prev ? "the last tensor '" : "the header (no tensors)", prev ? prev : "",
                 prev ? "'" : "");
        goto fail;
    }
    return st;

fail:
    cJSON_Delete(root);
    ifs_wts_st_free(st);
    return NULL;
}

ifs_wts_st *ifs_wts_st_open(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        wts_fail(err, errlen, IFS_WTS_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        wts_fail(err, errlen, IFS_WTS_EIO, "%s: not a regular file", path);
        return NULL;
    }
    size_t len = (size_t)sb.st_size;
    void *map = NULL;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            wts_fail(err, errlen, IFS_WTS_EIO, "%s: cannot map: %s", path, strerror(e));
            return NULL;
        }
    }
    close(fd);
    static const unsigned char empty[1];
    ifs_wts_st *st = ifs_wts_st_parse(map ? map : empty, len, path, err, errlen);
    if (!st) {
        if (map)
            munmap(map, len);
        return NULL;
    }
    st->map = map;
    st->map_len = len;
    return st;
}
