/*
 * fuzz_shard.c - the shard reader's decoder and line splitter.
 *
 * Input layout: byte 0 picks the mode and the line limit, bytes 1..2 seed
 * the chunking, the rest is the stream. Modes:
 *   - raw: the bytes are fed as they are (plain text, or whatever zstd makes
 *     of them when they start with a frame magic);
 *   - compressed: the bytes are first compressed by us (several frames,
 *     skippable frames between them), so the zstd path sees valid frames
 *     holding fuzzed text, and then optionally cut or damaged.
 * Checks: the same stream fed whole and fed in random chunks (zeros
 * included) gives the same lines (up to a zstd error, see agree()); line numbers count up by one; offsets
 * rise; data is NUL-terminated with no '\n' inside; a good line is never
 * longer than the limit; plain input gives exactly the reference split;
 * compressed valid input gives the same lines as the text itself; a stream
 * error is always the last line.
 */
#include "ifs_shard.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

typedef struct {
    uint64_t line_no, offset;
    size_t len;
    int reason;
    uint64_t hash; /* of the data */
} ev;

typedef struct {
    ev *v;
    size_t n, cap;
    ifs_shard_stats st;
} evs;

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static void push(evs *e, const ifs_shard_line *ln, size_t max_line)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 32;
        e->v = realloc(e->v, e->cap * sizeof *e->v);
        CHECK(e->v);
    }
    CHECK(ln->line_no == e->n + 1);
    if (e->n)
        CHECK(ln->offset >= e->v[e->n - 1].offset);
    if (ln->reason == IFS_REJECT_NONE) {
        CHECK(ln->data && ln->data[ln->len] == 0);
        CHECK(ln->len <= max_line);
        CHECK(!memchr(ln->data, '\n', ln->len));
    } else {
        CHECK(!ln->data);
    }
    CHECK(e->n == 0 || (e->v[e->n - 1].reason != IFS_REJECT_ZSTD_CORRUPT &&
                        e->v[e->n - 1].reason != IFS_REJECT_ZSTD_TRUNCATED &&
                        e->v[e->n - 1].reason != IFS_REJECT_IO_ERROR &&
                        e->v[e->n - 1].reason != IFS_REJECT_UNSUPPORTED_COMPRESSION));
    ev *x = &e->v[e->n++];
    x->line_no = ln->line_no;
    x->offset = ln->offset;
    x->len = ln->len;
    x->reason = ln->reason;
    x->hash = ln->data ? fnv(ln->data, ln->len) : 0;
}

static uint64_t rng;
static unsigned rnd(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(rng >> 33);
}

static evs run(const uint8_t *data, size_t n, size_t max_line, int chunked, unsigned seed)
{
    evs e = {0};
    ifs_shard_opts o = {.max_line_bytes = max_line, .window_log_max = 20};
    ifs_shard_reader *r = ifs_shard_create(&o);
    CHECK(r);
    rng = seed;
    size_t pos = 0;
    ifs_shard_input in = {data, 0, 0, 0};
    ifs_shard_line ln;
    for (;;) {
        int rc = ifs_shard_decode(r, &in, &ln);
        if (rc == IFS_SHARD_LINE) {
            push(&e, &ln, max_line);
            continue;
        }
        if (rc == IFS_SHARD_END)
            break;
        CHECK(rc == IFS_SHARD_MORE);
        CHECK(in.pos == in.size);
        size_t c = chunked ? (rnd() % 4 == 0 ? 0 : rnd() % 64) : n;
        if (c > n - pos)
            c = n - pos;
        in = (ifs_shard_input){data + pos, c, 0, pos + c == n};
        pos += c;
    }
    ifs_shard_get_stats(r, &e.st);
    CHECK(e.st.lines == e.n);
    ifs_shard_free(r);
    return e;
}

static void same(const evs *a, const evs *b)
{
    CHECK(a->n == b->n);
    for (size_t i = 0; i < a->n; i++)
        CHECK(a->v[i].offset == b->v[i].offset && a->v[i].len == b->v[i].len &&
              a->v[i].reason == b->v[i].reason && a->v[i].hash == b->v[i].hash);
    CHECK(a->st.status == b->st.status && a->st.bytes_out == b->st.bytes_out);
}

/* After a zstd error, how many lines came out depends on the chunking:
 * zstd drops the output of the call that fails. Both runs must then agree
 * on the lines before the shorter one's last line and on the status. */
static void agree(const evs *a, const evs *b)
{
    CHECK(a->st.status == b->st.status);
    if (a->st.status == IFS_SHARD_OK) {
        same(a, b);
        return;
    }
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i + 1 < n; i++)
        CHECK(a->v[i].offset == b->v[i].offset && a->v[i].len == b->v[i].len &&
              a->v[i].reason == b->v[i].reason && a->v[i].hash == b->v[i].hash);
}

/* Reference split of plain text. */
static evs reference(const uint8_t *s, size_t n, size_t max_line)
{
    evs e = {0};
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '\n')
            continue;
        if (i == n && start == n)
            break;
        size_t len = i - start;
        if (len && s[start + len - 1] == '\r')
            len--;
        ifs_shard_line ln = {0};
        ln.line_no = e.n + 1;
        ln.offset = start;
        ln.len = len;
        char *tmp = NULL;
        if (len > max_line) {
            ln.reason = IFS_REJECT_LINE_TOO_LONG;
        } else {
            tmp = malloc(len + 1);
            memcpy(tmp, s + start, len);
            tmp[len] = 0;
            ln.data = tmp;
        }
        push(&e, &ln, max_line);
        free(tmp);
        start = i + 1;
    }
    e.st.bytes_out = n;
    e.st.lines = e.n;
    return e;
}

static int looks_zstd(const uint8_t *p, size_t n)
{
    if (n < 4)
        return 0;
    uint32_t m = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return m == ZSTD_MAGICNUMBER || (m & 0xFFFFFFF0u) == 0x184D2A50u;
}

/* Another compressor's magic (gzip, xz, bzip2, lz4): the reader rejects the
 * shard as unsupported_compression instead of splitting it as text. */
static int looks_foreign(const uint8_t *p, size_t n)
{
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return 1;
    if (n < 4)
        return 0;
    return (p[0] == 0xfd && p[1] == '7' && p[2] == 'z' && p[3] == 'X') ||
           (p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' && p[3] <= '9') ||
           (p[0] == 0x04 && p[1] == 0x22 && p[2] == 0x4d && p[3] == 0x18);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const size_t limits[] = {1, 8, 64, 1 << 20};
    unsigned mode = data[0];
    size_t max_line = limits[mode & 3];
    unsigned seed = (unsigned)data[1] | (unsigned)data[2] << 8;
    const uint8_t *body = data + 3;
    size_t n = size - 3;

    if (!(mode & 4)) {
        evs whole = run(body, n, max_line, 0, seed);
        evs parts = run(body, n, max_line, 1, seed);
        agree(&whole, &parts);
        if (looks_foreign(body, n)) {
            CHECK(whole.st.status == IFS_SHARD_FORMAT && whole.n == 1 &&
                  whole.v[0].reason == IFS_REJECT_UNSUPPORTED_COMPRESSION);
        } else if (!looks_zstd(body, n)) {
            evs ref = reference(body, n, max_line);
            CHECK(!whole.st.is_zstd && whole.st.status == IFS_SHARD_OK);
            same(&whole, &ref);
            free(ref.v);
        }
        free(whole.v);
        free(parts.v);
        return 0;
    }

    /* compressed mode: frames of (seed % 200 + 1) bytes with skippable frames between */
    size_t frame = seed % 200 + 1;
    size_t cap = n + (n / frame + 2) * (ZSTD_compressBound(frame) + 16) + 64;
    uint8_t *z = malloc(cap);
    size_t zn = 0;
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    size_t pos = 0;
    do {
        size_t take = n - pos < frame ? n - pos : frame;
        size_t got = ZSTD_compress2(c, z + zn, cap - zn, body + pos, take);
        CHECK(!ZSTD_isError(got));
        zn += got;
        pos += take;
        if (mode & 8) { /* an empty skippable frame */
            static const uint8_t skip[8] = {0x5A, 0x2A, 0x4D, 0x18, 0, 0, 0, 0};
            memcpy(z + zn, skip, 8);
            zn += 8;
        }
    } while (pos < n);
    ZSTD_freeCCtx(c);

    evs ref = reference(body, n, max_line);
    evs got = run(z, zn, max_line, 1, seed);
    CHECK(got.st.is_zstd && got.st.status == IFS_SHARD_OK);
    same(&got, &ref);
    free(got.v);

    if (mode & 16) { /* cut it short: lines before the cut are a prefix, then one reject */
        size_t cut = seed % zn;
        evs cutr = run(z, cut, max_line, 1, seed);
        if (cutr.st.status != IFS_SHARD_OK) {
            CHECK(cutr.n >= 1);
            for (size_t i = 0; i + 1 < cutr.n; i++)
                CHECK(i < ref.n && cutr.v[i].hash == ref.v[i].hash &&
                      cutr.v[i].len == ref.v[i].len);
        }
        free(cutr.v);
    }
    if (mode & 32) { /* damage one byte: whatever happens, no crash, and the invariants hold */
        z[seed % zn] ^= (uint8_t)(mode | 1);
        evs bad = run(z, zn, max_line, 1, seed);
        evs bad2 = run(z, zn, max_line, 0, seed);
        agree(&bad, &bad2);
        free(bad.v);
        free(bad2.v);
    }
    free(ref.v);
    free(z);
    return 0;
}
