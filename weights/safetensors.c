/*
 * safetensors.c - the safetensors reader: reads a file and trusts nothing.
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
 *
 * Decisions:
 *   - Linear in the header's size: one cJSON parse, one sort by offset, one
 *     by name (kept: lookups are binary searches). The byte offset of an
 *     entry, for messages, is found by one scan of the header and only when
 *     a message needs it; a scan per tensor made a 20k-tensor header take
 *     seconds and one near the 100 MB cap take hours.
 *   - Files are read, never mapped: a mapped file that shrinks under the
 *     reader (a checkpoint replaced in place with cp) kills the process
 *     with SIGBUS, while a short read is an error that names the file.
 *     ifs_wts_st_open reads the whole file; the loader reads the header
 *     alone (wts_st_open_stream) and streams the data itself.
 *   - Files are opened with O_NONBLOCK and must be regular: a FIFO would
 *     block, /dev/zero would never end; both are named for what they are.
 */
#include "ifs_wts.h"
#include "wts_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_HEADER_CAP 100000000ull
#define ST_MAX_INT 9007199254740992.0 /* 2^53: above it a double is not exact */

struct ifs_wts_st {
    unsigned char *owned;               /* bytes read from the file (whole, or the header) */
    const unsigned char *bytes;         /* what was parsed: owned, or the caller's bytes */
    size_t avail;                       /* bytes available at `bytes` */
    uint64_t file_len;                  /* length of the whole file */
    uint64_t data_start;                /* 8 + N */
    ifs_wts_tensor_info *t;             /* sorted by begin */
    const ifs_wts_tensor_info **byname; /* sorted by name */
    size_t n;
    char *names;    /* every name, NUL-terminated, back to back */
    char *file;     /* name for messages */
    int fd;         /* wts_st_open_stream: the open file; else -1 */
    struct stat sb; /* wts_st_open_stream: the file at open */
};

static const struct {
    const char *name;
    unsigned size;
} DTYPES[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
    {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8},     {"C64", 8},
};

static const char *dtype_lookup(const char *s, unsigned *size)
{
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (!strcmp(s, DTYPES[i].name)) {
            *size = DTYPES[i].size;
            return DTYPES[i].name;
        }
    return NULL;
}

unsigned wts_dtype_size(const char *dtype)
{
    unsigned size = 0;
    return dtype && dtype_lookup(dtype, &size) ? size : 0;
}

void ifs_wts_st_free(ifs_wts_st *st)
{
    if (!st)
        return;
    if (st->fd >= 0)
        close(st->fd);
    free(st->owned);
    free(st->byname);
    free(st->t);
    free(st->names);
    free(st->file);
    free(st);
}

size_t ifs_wts_st_count(const ifs_wts_st *st)
{
    return st ? st->n : 0;
}

const ifs_wts_tensor_info *ifs_wts_st_tensor(const ifs_wts_st *st, size_t i)
{
    return st && i < st->n ? &st->t[i] : NULL;
}

const ifs_wts_tensor_info *ifs_wts_st_find(const ifs_wts_st *st, const char *name)
{
    if (!st || !name)
        return NULL;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->byname[mid]->name);
        if (c == 0)
            return st->byname[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t wts_st_index(const ifs_wts_st *st, const ifs_wts_tensor_info *t)
{
    return (size_t)(t - st->t);
}

const void *wts_st_header(const ifs_wts_st *st, size_t *len)
{
    *len = (size_t)st->data_start;
    return st->bytes;
}

uint64_t wts_st_file_len(const ifs_wts_st *st)
{
    return st->file_len;
}

/* Byte offset in the file of the k-th top-level key of the header (document
 * order, as cJSON lists them). The header is known to be valid JSON here,
 * so tracking strings and depth is enough. */
static uint64_t key_offset(const char *h, size_t n, size_t k)
{
    int depth = 0, in_str = 0, expect_key = 0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == '"') {
            if (depth == 1 && expect_key) {
                if (count++ == k)
                    return 8 + i;
                expect_key = 0;
            }
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth == 1)
                expect_key = 1;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',' && depth == 1) {
            expect_key = 1;
        }
    }
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

/* What parse_entry needs to word its messages. */
typedef struct {
    const char *file;
    const char *hdr;
    size_t hlen;
    size_t key; /* index of the entry among the header's keys */
    uint64_t data_len, data_start;
} entry_ctx;

/* Parses one tensor entry into *t (name already set). */
static int parse_entry(const cJSON *e, ifs_wts_tensor_info *t, const entry_ctx *x, char *err,
                       size_t errlen)
{
    const char *file = x->file;
#define AT ((unsigned long long)key_offset(x->hdr, x->hlen, x->key))
    if (!cJSON_IsObject(e))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): entry is not a JSON object", file,
                        t->name, AT);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): needs string 'dtype', array "
                        "'shape' and array 'data_offsets'",
                        file, t->name, AT);
    unsigned size = 0;
    if (!(t->dtype = dtype_lookup(dt->valuestring, &size)))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): unknown dtype '%.32s'", file, t->name,
                        AT, dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > 8)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): %d dimensions (at most 8)", file,
                        t->name, AT, nd);
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
                            file, t->name, AT, i);
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
                        file, t->name, AT);
#undef AT
    t->file_offset = x->data_start + t->begin;
    if (t->end < t->begin)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' (header byte %llu): data_offsets [%llu, %llu] end "
                        "before they begin",
                        file, t->name, (unsigned long long)key_offset(x->hdr, x->hlen, x->key),
                        (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > x->data_len)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: tensor '%s' at byte %llu: data_offsets [%llu, %llu] run past the "
                        "end of the %llu-byte data section",
                        file, t->name, (unsigned long long)t->file_offset,
                        (unsigned long long)t->begin, (unsigned long long)t->end,
                        (unsigned long long)x->data_len);
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

/* Checks the 8-byte length and the header's bytes; *hlen gets N. Needs only
 * min(avail, 8) bytes when the length itself is refused. */
static int check_prefix(const unsigned char *b, size_t avail, uint64_t file_len, const char *file,
                        uint64_t *hlen, char *err, size_t errlen)
{
    if (file_len < 8)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: %llu bytes, too short for the 8-byte header length at byte 0", file,
                        (unsigned long long)file_len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    if (n > ST_HEADER_CAP)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: header length %llu at byte 0 exceeds the %llu-byte cap", file,
                        (unsigned long long)n, ST_HEADER_CAP);
    if (n > file_len - 8)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: header length %llu at byte 0 runs past the end of the %llu-byte "
                        "file",
                        file, (unsigned long long)n, (unsigned long long)file_len);
    *hlen = n;
    if (avail < 8 + n)
        return 0; /* the caller reads the header and calls again */
    const char *hdr = (const char *)b + 8;
    if (n == 0 || hdr[0] != '{')
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: header at byte 8 does not start with '{' (not a safetensors file?)",
                        file);
    size_t bad = wts_utf8_invalid_at((const unsigned char *)hdr, (size_t)n);
    if (bad < n)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: header is not valid UTF-8 at byte %zu",
                        file, 8 + bad);
    for (size_t i = 0; i + 6 <= n; i++)
        if (hdr[i] == '\\' && hdr[i + 1] == 'u' && hdr[i + 2] == '0' && hdr[i + 3] == '0' &&
            hdr[i + 4] == '0' && hdr[i + 5] == '0') {
            /* an escaped backslash followed by "u0000" is harmless text: count the
               backslashes before this one (runs are disjoint, so this stays linear) */
            size_t k = 0;
            while (k < i && hdr[i - 1 - k] == '\\')
                k++;
            if (k % 2 == 0)
                return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                                "%s: header holds a \\u0000 escape at byte %zu", file, 8 + i);
        }
    const char *nul = memchr(hdr, '\0', (size_t)n);
    if (nul)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: header holds a NUL byte at byte %zu",
                        file, 8 + (size_t)(nul - hdr));
    return 0;
}

/* Parses the header in b[0..8+N) of a file of file_len bytes; when the whole
 * file is at b (avail == file_len) tensors get data pointers into it. */
static ifs_wts_st *parse_core(const unsigned char *b, size_t avail, uint64_t file_len,
                              const char *file, char *err, size_t errlen)
{
    uint64_t n = 0;
    if (check_prefix(b, avail, file_len, file, &n, err, errlen))
        return NULL;
    const char *hdr = (const char *)b + 8;
    size_t hlen = (size_t)n;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: header (bytes 8..%llu) is not a JSON object",
                 file, (unsigned long long)(8 + n));
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

    size_t cap = 0, name_bytes = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        cap++;
        name_bytes += strlen(e->string) + 1;
    }
    ifs_wts_st *st = calloc(1, sizeof *st);
    if (st) {
        st->fd = -1;
        st->file = strdup(file);
        st->t = calloc(cap ? cap : 1, sizeof *st->t);
        st->names = malloc(name_bytes ? name_bytes : 1);
    }
    if (!st || !st->file || !st->t || !st->names) {
        cJSON_Delete(root);
        ifs_wts_st_free(st);
        wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", file);
        return NULL;
    }
    st->bytes = b;
    st->avail = avail;
    st->file_len = file_len;
    st->data_start = 8 + n;
    entry_ctx x = {file, hdr, hlen, 0, file_len - st->data_start, st->data_start};
    int seen_meta = 0;
    char *name = st->names;
    for (const cJSON *e = root->child; e; e = e->next, x.key++) {
        if (!strcmp(e->string, "__metadata__")) {
            if (seen_meta || !cJSON_IsObject(e)) {
                wts_fail(err, errlen, IFS_WTS_EFORMAT,
                         "%s: '__metadata__' (header byte %llu) must appear once, as an object",
                         file, (unsigned long long)key_offset(hdr, hlen, x.key));
                goto fail;
            }
            seen_meta = 1;
            continue;
        }
        ifs_wts_tensor_info *t = &st->t[st->n++];
        size_t k = strlen(e->string) + 1;
        memcpy(name, e->string, k);
        t->name = name;
        name += k;
        if (parse_entry(e, t, &x, err, errlen))
            goto fail;
        t->data = avail == file_len ? b + t->file_offset : NULL;
    }
    cJSON_Delete(root);
    root = NULL;

    /* in file order; then a by-name index, which also finds duplicates
       (cJSON keeps both entries of a repeated key) */
    qsort(st->t, st->n, sizeof *st->t, cmp_offset);
    st->byname = malloc((st->n ? st->n : 1) * sizeof *st->byname);
    if (!st->byname) {
        wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", file);
        goto fail;
    }
    for (size_t i = 0; i < st->n; i++)
        st->byname[i] = &st->t[i];
    qsort(st->byname, st->n, sizeof *st->byname, cmp_name_ptr);
    for (size_t i = 1; i < st->n; i++)
        if (!strcmp(st->byname[i]->name, st->byname[i - 1]->name)) {
            const ifs_wts_tensor_info *a = st->byname[i - 1], *z = st->byname[i];
            if (a->file_offset > z->file_offset) {
                const ifs_wts_tensor_info *tmp = a;
                a = z;
                z = tmp;
            }
            wts_fail(err, errlen, IFS_WTS_EFORMAT,
                     "%s: tensor '%s' appears twice in the header (data at bytes %llu and %llu)",
                     file, a->name, (unsigned long long)a->file_offset,
                     (unsigned long long)z->file_offset);
            goto fail;
        }

    /* coverage: back to back from 0 to the end of the data section */
    uint64_t expect = 0, data_len = x.data_len, data_start = x.data_start;
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
        wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: %llu trailing bytes at byte %llu after %s%s%s",
                 file, (unsigned long long)(data_len - expect),
                 (unsigned long long)(data_start + expect),
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

ifs_wts_st *ifs_wts_st_parse(const void *bytes, size_t len, const char *name, char *err,
                             size_t errlen)
{
    static const unsigned char empty[8];
    if (err && errlen)
        err[0] = '\0';
    return parse_core(bytes && len ? bytes : empty, len, len, name ? name : "<memory>", err,
                      errlen);
}

ifs_wts_st *wts_st_parse_prefix(const void *b, size_t avail, uint64_t file_len, const char *name,
                                char *err, size_t errlen)
{
    const char *file = name ? name : "<memory>";
    if (err && errlen)
        err[0] = '\0';
    uint64_t n = 0;
    if (!b || avail > file_len || avail < (file_len < 8 ? file_len : 8)) {
        wts_fail(err, errlen, IFS_WTS_EARG, "%s: bad prefix arguments", file);
        return NULL;
    }
    if (check_prefix(b, avail, file_len, file, &n, err, errlen))
        return NULL;
    if (avail < 8 + n) {
        wts_fail(err, errlen, IFS_WTS_EARG, "%s: the prefix lacks the header's %llu bytes", file,
                 (unsigned long long)n);
        return NULL;
    }
    return parse_core(b, avail, file_len, file, err, errlen);
}

ifs_wts_st *ifs_wts_st_open(const char *path, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!path) {
        wts_fail(err, errlen, IFS_WTS_EARG, "no safetensors path given");
        return NULL;
    }
    struct stat sb;
    int fd = wts_open_regular(path, &sb, err, errlen);
    if (fd < 0)
        return NULL;
    uint64_t len = (uint64_t)sb.st_size;
    unsigned char *b = len <= SIZE_MAX - 1 ? malloc(len ? (size_t)len : 1) : NULL;
    if (!b) {
        close(fd);
        wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory for its %llu bytes", path,
                 (unsigned long long)len);
        return NULL;
    }
    ifs_wts_st *st = NULL;
    if (!wts_pread_full(fd, path, b, (size_t)len, 0, len, err, errlen) &&
        !wts_check_unchanged(fd, &sb, path, err, errlen))
        st = parse_core(b, (size_t)len, len, path, err, errlen);
    close(fd);
    if (!st) {
        free(b);
        return NULL;
    }
    st->owned = b;
    return st;
}

ifs_wts_st *wts_st_open_stream(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    int fd = wts_open_regular(path, &sb, err, errlen);
    if (fd < 0)
        return NULL;
    uint64_t len = (uint64_t)sb.st_size, n = 0;
    unsigned char pre[8];
    size_t got = len < 8 ? (size_t)len : 8;
    unsigned char *b = NULL;
    ifs_wts_st *st = NULL;
    if (wts_pread_full(fd, path, pre, got, 0, len, err, errlen) ||
        check_prefix(pre, got, len, path, &n, err, errlen))
        goto out;
    if (!(b = malloc(8 + (size_t)n))) {
        wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory for its %llu-byte header", path,
                 (unsigned long long)n);
        goto out;
    }
    memcpy(b, pre, 8);
    if (wts_pread_full(fd, path, b + 8, (size_t)n, 8, len, err, errlen))
        goto out;
    st = parse_core(b, 8 + (size_t)n, len, path, err, errlen);
out:
    if (!st) {
        free(b);
        close(fd);
        return NULL;
    }
    st->owned = b;
    st->fd = fd;
    st->sb = sb;
    return st;
}

int wts_st_read(const ifs_wts_st *st, uint64_t off, void *buf, size_t n, char *err, size_t errlen)
{
    if (st->fd < 0) {
        if (off > st->avail || n > st->avail - off)
            return wts_fail(err, errlen, IFS_WTS_EARG, "%s: bytes %llu..%llu are not in memory",
                            st->file, (unsigned long long)off, (unsigned long long)(off + n));
        memcpy(buf, st->bytes + off, n);
        return 0;
    }
    return wts_pread_full(st->fd, st->file, buf, n, off, st->file_len, err, errlen);
}

int wts_st_check_unchanged(const ifs_wts_st *st, char *err, size_t errlen)
{
    return st->fd < 0 ? 0 : wts_check_unchanged(st->fd, &st->sb, st->file, err, errlen);
}
