/*
 * test_shard_reader.c - the shard reader against a simple reference splitter,
 * on streams the test builds itself: plain and zstd (one frame, many frames,
 * skippable frames, lines spanning frames), CRLF, empty lines and shards,
 * over-long lines (a 100 MB one too, in bounded memory), every possible
 * truncation point, every single-byte corruption, trailing junk, a window
 * over the limit, and the same bytes fed in random chunk sizes, zero
 * included. File-level reading (ifs_shard_open) is covered by test_shard_files.c.
 */
#include "ifs_shard.h"
#include "ifs_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <zstd.h>
#include <zstd_errors.h> /* ZSTD_getErrorCode */

/* ------------------------------------------------------------------------
 * Helpers: byte buffers, events, a reference splitter, zstd builders.
 */
typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void buf_put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void buf_str(buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

typedef struct {
    ifs_reject_reason reason;
    char *text; /* copy (NULL for rejects) */
    size_t len;
    uint64_t line_no, offset, comp_offset;
} event;

typedef struct {
    event *v;
    size_t n, cap;
    ifs_shard_stats st;
    int rc; /* last return: END, or < 0 */
} events;

static void ev_free(events *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].text);
    free(e->v);
    memset(e, 0, sizeof *e);
}

static void ev_push(events *e, const ifs_shard_line *ln)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->v = realloc(e->v, e->cap * sizeof *e->v);
        if (!e->v)
            abort();
    }
    event *x = &e->v[e->n++];
    x->reason = ln->reason;
    x->len = ln->len;
    x->line_no = ln->line_no;
    x->offset = ln->offset;
    x->comp_offset = ln->comp_offset;
    x->text = NULL;
    if (ln->data) {
        x->text = malloc(ln->len + 1);
        memcpy(x->text, ln->data, ln->len + 1);
    }
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return rng_state >> 33;
}

/* Decode data[0..n) feeding chunks: chunk == 0 means random sizes (zero
 * included) from seed; otherwise fixed size. */
static events decode_opts(const void *data, size_t n, size_t chunk, uint64_t seed,
                          const ifs_shard_opts *o)
{
    events e = {0};
    ifs_shard_reader *r = ifs_shard_create(o);
    if (!r)
        abort();
    rng_state = seed;
    size_t pos = 0;
    ifs_shard_input in = {data, 0, 0, 0};
    ifs_shard_line ln;
    for (;;) {
        int rc = ifs_shard_decode(r, &in, &ln);
        if (rc == IFS_SHARD_LINE) {
            IFS_CHECK(ln.data == NULL || ln.data[ln.len] == 0, "line %llu not NUL-terminated",
                      (unsigned long long)ln.line_no);
            ev_push(&e, &ln);
            continue;
        }
        if (rc != IFS_SHARD_MORE) {
            e.rc = rc;
            break;
        }
        IFS_CHECK(in.pos == in.size, "MORE with %zu bytes unconsumed", in.size - in.pos);
        size_t c = chunk;
        if (!c) {
            uint64_t k = rnd() % 10;
            c = k < 2 ? 0 : k < 5 ? rnd() % 4 : k < 8 ? rnd() % 300 : rnd() % 70000;
        }
        if (c > n - pos)
            c = n - pos;
        in.src = (const unsigned char *)data + pos;
        in.size = c;
        in.pos = 0;
        pos += c;
        in.last = pos == n && (chunk || rnd() % 2); /* last may also come with an empty chunk */
    }
    ifs_shard_get_stats(r, &e.st);
    ifs_shard_free(r);
    return e;
}

static events decode(const void *data, size_t n, size_t chunk, uint64_t seed, size_t max_line,
                     int wlog)
{
    ifs_shard_opts o = {.max_line_bytes = max_line, .window_log_max = wlog};
    return decode_opts(data, n, chunk, seed, &o);
}

/* The reference: split at '\n', drop one '\r' before it, final line without
 * '\n' counts, over max -> too long (no text). */
static events reference(const void *data, size_t n, size_t max_line)
{
    events e = {0};
    const char *s = data;
    size_t start = 0;
    uint64_t no = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '\n')
            continue;
        if (i == n && start == n)
            break;
        size_t len = i - start;
        if (len && s[start + len - 1] == '\r')
            len--;
        ifs_shard_line ln = {0};
        ln.len = len;
        ln.line_no = ++no;
        ln.offset = start;
        char *tmp = NULL;
        if (len > max_line) {
            ln.reason = IFS_REJECT_LINE_TOO_LONG;
        } else {
            tmp = malloc(len + 1);
            memcpy(tmp, s + start, len);
            tmp[len] = 0;
            ln.data = tmp;
        }
        ev_push(&e, &ln);
        free(tmp);
        start = i + 1;
    }
    return e;
}

/* Events equal in reason, text, length, line number and offset (the
 * compressed offsets are checked separately). Returns 1 if equal. */
static int same_lines(const events *a, const events *b, size_t count, const char *what)
{
    for (size_t i = 0; i < count; i++) {
        const event *x = &a->v[i], *y = &b->v[i];
        int ok = x->reason == y->reason && x->len == y->len && x->line_no == y->line_no &&
                 x->offset == y->offset && (x->text == NULL) == (y->text == NULL) &&
                 (!x->text || !memcmp(x->text, y->text, x->len));
        if (!ok) {
            IFS_CHECK(ok, "%s: line %zu differs (reason %s/%s, len %zu/%zu, off %llu/%llu)", what,
                      i + 1, ifs_reject_name(x->reason), ifs_reject_name(y->reason), x->len, y->len,
                      (unsigned long long)x->offset, (unsigned long long)y->offset);
            return 0;
        }
    }
    return 1;
}

static int expect_same(const events *got, const events *want, const char *what)
{
    IFS_CHECK(got->n == want->n, "%s: %zu lines, want %zu", what, got->n, want->n);
    IFS_CHECK(got->st.lines == got->n, "%s: stats.lines %llu != %zu delivered", what,
              (unsigned long long)got->st.lines, got->n);
    if (got->n != want->n)
        return 0;
    return same_lines(got, want, got->n, what);
}

typedef struct {
    buf z;
    size_t nframes;
    size_t comp_start[4096]; /* compressed offset where frame i starts */
    size_t raw_start[4096];  /* decoded offset where frame i starts */
} zstream;

/* Compress data in frames of frame_raw input bytes (0 = one frame), each
 * frame a separate ZSTD_compress2 call (so frame boundaries are known). */
static void zbuild(zstream *zs, const void *data, size_t n, size_t frame_raw, int checksum,
                   int level)
{
    memset(zs, 0, sizeof *zs);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum);
    size_t pos = 0;
    do {
        size_t take = frame_raw && n - pos > frame_raw ? frame_raw : n - pos;
        size_t cap = ZSTD_compressBound(take);
        unsigned char *out = malloc(cap);
        size_t got = ZSTD_compress2(c, out, cap, (const char *)data + pos, take);
        if (ZSTD_isError(got))
            abort();
        zs->comp_start[zs->nframes] = zs->z.n;
        zs->raw_start[zs->nframes] = pos;
        zs->nframes++;
        buf_put(&zs->z, out, got);
        free(out);
        pos += take;
    } while (pos < n && zs->nframes < 4095);
    ZSTD_freeCCtx(c);
}

static void put_skippable(buf *b, unsigned variant, const char *payload)
{
    uint32_t magic = 0x184D2A50u + (variant & 15), len = (uint32_t)strlen(payload);
    unsigned char h[8];
    for (int i = 0; i < 4; i++) {
        h[i] = (unsigned char)(magic >> (8 * i));
        h[4 + i] = (unsigned char)(len >> (8 * i));
    }
    buf_put(b, h, 8);
    buf_str(b, payload);
}

/* A JSONL-ish text with varied lines (lengths 0..~300, some CRLF, some
 * non-ASCII), n lines, final newline optional. */
static void sample_text(buf *b, int nlines, int final_newline, uint64_t seed)
{
    rng_state = seed;
    for (int i = 0; i < nlines; i++) {
        int len = (int)(rnd() % 7 == 0 ? 0 : rnd() % 300);
        char tmp[64];
        snprintf(tmp, sizeof tmp, "{\"i\":%d,\"t\":\"", i);
        if (len)
            buf_str(b, tmp);
        for (int k = 0; k < len; k++) {
            char c = (char)('a' + rnd() % 26);
            if (k % 37 == 36)
                buf_str(b, "\xc3\xa9");
            else
                buf_put(b, &c, 1);
        }
        if (len)
            buf_str(b, "\"}");
        if (rnd() % 5 == 0)
            buf_str(b, "\r");
        if (i + 1 < nlines || final_newline)
            buf_str(b, "\n");
    }
}

/* ------------------------------------------------------------------------
 * Cases
 */

static void plain_text_splits_into_lines_with_offsets(void)
{
    const char *s = "{\"a\":1}\nsecond\n\nlast";
    events got = decode(s, strlen(s), 4096, 1, 0, 0);
    IFS_CHECK(got.rc == IFS_SHARD_END, "rc %d", got.rc);
    IFS_CHECK(got.n == 4, "%zu lines", got.n);
    if (got.n == 4) {
        IFS_CHECK(!strcmp(got.v[0].text, "{\"a\":1}") && got.v[0].offset == 0, "line 1");
        IFS_CHECK(!strcmp(got.v[1].text, "second") && got.v[1].offset == 8, "line 2");
        IFS_CHECK(got.v[2].len == 0 && got.v[2].offset == 15 && got.v[2].line_no == 3, "line 3");
        IFS_CHECK(!strcmp(got.v[3].text, "last") && got.v[3].offset == 16, "line 4");
        IFS_CHECK(got.v[3].comp_offset == 16, "plain comp offset equals offset");
    }
    IFS_CHECK(!got.st.is_zstd && got.st.status == IFS_SHARD_OK, "plain, ok");
    IFS_CHECK(got.st.bytes_in == strlen(s) && got.st.bytes_out == strlen(s), "byte counts");
    ev_free(&got);
}

static void stream_ending_in_newline_has_no_extra_line(void)
{
    static const struct {
        const char *in;
        size_t lines;
    } cases[] = {
        {"", 0},     {"\n", 1},  {"a\n", 1}, {"a", 1},  {"a\n\n", 2},
        {"\r\n", 1}, {"a\r", 1}, {"abc", 1}, {"ab", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        events got = decode(cases[i].in, strlen(cases[i].in), 1, 1, 0, 0);
        events want = reference(cases[i].in, strlen(cases[i].in), IFS_SHARD_DEFAULT_MAX_LINE);
        IFS_CHECK(got.n == cases[i].lines, "case %zu: %zu lines, want %zu", i, got.n,
                  cases[i].lines);
        expect_same(&got, &want, "short stream");
        ev_free(&got);
        ev_free(&want);
    }
}

static void crlf_drops_only_the_carriage_return_before_newline(void)
{
    const char *s = "a\r\nb\r\r\nc\rd\n\r\n";
    events got = decode(s, strlen(s), 3, 1, 0, 0);
    IFS_CHECK(got.n == 4, "%zu lines", got.n);
    if (got.n == 4) {
        IFS_CHECK(!strcmp(got.v[0].text, "a"), "CRLF dropped");
        IFS_CHECK(!strcmp(got.v[1].text, "b\r"), "only one CR dropped");
        IFS_CHECK(!strcmp(got.v[2].text, "c\rd"), "inner CR kept");
        IFS_CHECK(got.v[3].len == 0, "CRLF alone is an empty line");
    }
    ev_free(&got);
}

static void zstd_single_frame_gives_the_same_lines_as_plain(void)
{
    buf t = {0};
    sample_text(&t, 400, 1, 7);
    zstream zs;
    zbuild(&zs, t.p, t.n, 0, 1, 3);
    events want = reference(t.p, t.n, IFS_SHARD_DEFAULT_MAX_LINE);
    events got = decode(zs.z.p, zs.z.n, 65536, 1, 0, 0);
    expect_same(&got, &want, "zstd one frame");
    IFS_CHECK(got.st.is_zstd && got.st.frames == 1 && got.st.checksummed_frames == 1,
              "zstd %d frames %llu checksummed %llu", got.st.is_zstd,
              (unsigned long long)got.st.frames, (unsigned long long)got.st.checksummed_frames);
    IFS_CHECK(got.st.bytes_in == zs.z.n && got.st.bytes_out == t.n, "byte counts %llu %llu",
              (unsigned long long)got.st.bytes_in, (unsigned long long)got.st.bytes_out);
    for (size_t i = 0; i < got.n; i++)
        IFS_CHECK(got.v[i].comp_offset <= zs.z.n, "comp offset within the file");
    ev_free(&got);
    ev_free(&want);
    free(zs.z.p);
    free(t.p);
}

static void lines_spanning_frame_boundaries_are_joined(void)
{
    buf t = {0};
    sample_text(&t, 300, 0, 11);
    zstream zs;
    zbuild(&zs, t.p, t.n, 97, 0, 1); /* frames cut mid-line */
    events want = reference(t.p, t.n, IFS_SHARD_DEFAULT_MAX_LINE);
    events got = decode(zs.z.p, zs.z.n, 4096, 1, 0, 0);
    expect_same(&got, &want, "zstd many frames");
    IFS_CHECK(got.st.frames == zs.nframes, "frames %llu want %zu",
              (unsigned long long)got.st.frames, zs.nframes);
    IFS_CHECK(got.st.checksummed_frames == 0, "no checksums written, none counted");
    /* comp offsets grow with the lines and point into or after the frame
     * holding the line's start */
    for (size_t i = 1; i < got.n; i++)
        IFS_CHECK(got.v[i].comp_offset >= got.v[i - 1].comp_offset, "comp offsets ascend");
    ev_free(&got);
    ev_free(&want);
    free(zs.z.p);
    free(t.p);
}

static void skippable_frames_are_skipped_anywhere(void)
{
    buf t = {0};
    sample_text(&t, 50, 1, 3);
    zstream a, b;
    size_t half = t.n / 2;
    zbuild(&a, t.p, half, 0, 1, 3);
    zbuild(&b, t.p + half, t.n - half, 0, 1, 3);
    buf z = {0};
    put_skippable(&z, 0, "index: whatever the packer wants");
    buf_put(&z, a.z.p, a.z.n);
    put_skippable(&z, 15, "");
    put_skippable(&z, 7, "\n\n\n not lines \n");
    buf_put(&z, b.z.p, b.z.n);
    put_skippable(&z, 3, "trailer");
    events want = reference(t.p, t.n, IFS_SHARD_DEFAULT_MAX_LINE);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        events got = decode(z.p, z.n, 0, seed, 0, 0);
        expect_same(&got, &want, "skippable frames");
        IFS_CHECK(got.st.status == IFS_SHARD_OK, "status %d: %s", got.st.status, got.st.error);
        IFS_CHECK(got.st.frames == 6 && got.st.skippable_frames == 4, "frames %llu skippable %llu",
                  (unsigned long long)got.st.frames, (unsigned long long)got.st.skippable_frames);
        ev_free(&got);
    }
    ev_free(&want);
    free(z.p);
    free(a.z.p);
    free(b.z.p);
    free(t.p);
}

static void empty_shards_have_no_lines(void)
{
    zstream zs;
    zbuild(&zs, "", 0, 0, 1, 3); /* one empty frame */
    buf only_skip = {0};
    put_skippable(&only_skip, 1, "nothing here");
    struct {
        const char *name;
        const void *p;
        size_t n;
        int zstd;
    } cases[] = {
        {"empty plain", "", 0, 0},
        {"empty zstd frame", zs.z.p, zs.z.n, 1},
        {"skippable frame only", only_skip.p, only_skip.n, 1},
    };
    for (size_t i = 0; i < 3; i++)
        for (size_t chunk = 0; chunk < 3; chunk++) {
            events got = decode(cases[i].p, cases[i].n, chunk, 5, 0, 0);
            IFS_CHECK(got.n == 0 && got.rc == IFS_SHARD_END && got.st.status == IFS_SHARD_OK,
                      "%s: %zu lines rc %d status %d", cases[i].name, got.n, got.rc, got.st.status);
            IFS_CHECK(got.st.is_zstd == cases[i].zstd, "%s: format", cases[i].name);
            ev_free(&got);
        }
    free(zs.z.p);
    free(only_skip.p);
}

static void random_chunk_sizes_including_zero_change_nothing(void)
{
    buf t = {0};
    sample_text(&t, 500, 0, 99);
    zstream zs;
    zbuild(&zs, t.p, t.n, 1000, 1, 3);
    static const size_t maxes[] = {40, 300, IFS_SHARD_DEFAULT_MAX_LINE};
    for (size_t m = 0; m < 3; m++) {
        size_t max = maxes[m];
        events want = reference(t.p, t.n, max);
        for (uint64_t seed = 1; seed <= 60; seed++) {
            events p = decode(t.p, t.n, 0, seed, max, 0);
            events z = decode(zs.z.p, zs.z.n, 0, seed * 7919, max, 0);
            char what[64];
            snprintf(what, sizeof what, "plain seed %llu max %zu", (unsigned long long)seed, max);
            expect_same(&p, &want, what);
            snprintf(what, sizeof what, "zstd seed %llu max %zu", (unsigned long long)seed, max);
            expect_same(&z, &want, what);
            ev_free(&p);
            ev_free(&z);
        }
        ev_free(&want);
    }
    /* one byte at a time as well */
    events want = reference(t.p, t.n, IFS_SHARD_DEFAULT_MAX_LINE);
    events z1 = decode(zs.z.p, zs.z.n, 1, 1, 0, 0);
    expect_same(&z1, &want, "zstd byte by byte");
    ev_free(&z1);
    ev_free(&want);
    free(zs.z.p);
    free(t.p);
}

/* The decoder can hold more output than our buffer takes after it has read
 * the last input byte: it must be drained, not taken for a cut frame. */
static void big_stream_given_in_one_piece_is_drained_to_the_end(void)
{
    buf t = {0};
    sample_text(&t, 20000, 1, 12345); /* ~3 MB */
    events want = reference(t.p, t.n, IFS_SHARD_DEFAULT_MAX_LINE);
    static const size_t frames[] = {0, 300000, 131072};
    for (size_t f = 0; f < 3; f++) {
        zstream *zs = malloc(sizeof *zs);
        zbuild(zs, t.p, t.n, frames[f], 1, 1);
        events got = decode(zs->z.p, zs->z.n, zs->z.n, 1, 0, 0);
        char what[64];
        snprintf(what, sizeof what, "one piece, frames of %zu", frames[f]);
        expect_same(&got, &want, what);
        IFS_CHECK(got.st.status == IFS_SHARD_OK && got.st.bytes_out == t.n, "%s: status %d: %s",
                  what, got.st.status, got.st.error);
        ev_free(&got);
        free(zs->z.p);
        free(zs);
    }
    ev_free(&want);
    free(t.p);
}

static void over_long_lines_are_one_reject_each(void)
{
    /* max 16: lengths around the limit, with and without CR, across chunks */
    buf t = {0};
    for (int len = 0; len <= 40; len++)
        for (int cr = 0; cr < 2; cr++) {
            for (int k = 0; k < len; k++)
                buf_put(&t, "x", 1);
            if (cr)
                buf_str(&t, "\r");
            buf_str(&t, "\n");
        }
    buf_str(&t, "tail-without-newline-longer-than-16");
    events want = reference(t.p, t.n, 16);
    size_t too_long = 0;
    for (size_t i = 0; i < want.n; i++)
        too_long += want.v[i].reason == IFS_REJECT_LINE_TOO_LONG;
    IFS_CHECK(too_long == 24 * 2 + 1, "reference counts %zu over-long lines", too_long);
    for (size_t chunk = 0; chunk <= 20; chunk++) {
        events got = decode(t.p, t.n, chunk, chunk + 1, 16, 0);
        expect_same(&got, &want, "max 16");
        IFS_CHECK(got.st.too_long == too_long, "stats.too_long %llu",
                  (unsigned long long)got.st.too_long);
        ev_free(&got);
    }
    ev_free(&want);
    free(t.p);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A 100 MB line (plain and zstd) costs neither 100 MB of memory nor the next line. */
static void hundred_megabyte_line_is_skipped_in_bounded_memory(void)
{
    const size_t big = 100u * 1000 * 1000, chunk = 1u << 20;
    char *block = malloc(chunk);
    memset(block, 'a', chunk);
    long rss_before = max_rss_kb();
    for (int zstd = 0; zstd < 2; zstd++) {
        ifs_shard_reader *r = ifs_shard_create(NULL);
        ZSTD_CCtx *c = zstd ? ZSTD_createCCtx() : NULL;
        unsigned char *zout = zstd ? malloc(ZSTD_CStreamOutSize()) : NULL;
        ifs_shard_line ln;
        size_t lines = 0, fed = 0;
        int rc = 0, saw_big = 0, saw_after = 0, saw_before = 0;
        /* stream: "{}\n" + 100 MB of 'a' + "\n{\"after\":1}\n" */
        int stage = 0;
        while (stage < 4) {
            const char *piece;
            size_t plen;
            if (stage == 0) {
                piece = "{}\n";
                plen = 3;
                stage = 1;
            } else if (stage == 1) {
                piece = block;
                plen = big - fed < chunk ? big - fed : chunk;
                fed += plen;
                if (fed == big)
                    stage = 2;
            } else {
                piece = "\n{\"after\":1}\n";
                plen = strlen(piece);
                stage = 4;
            }
            int last = stage == 4;
            /* plain: feed the piece; zstd: feed its compressed form */
            ZSTD_inBuffer zin = {piece, plen, 0};
            int done_piece = 0;
            while (!done_piece) {
                ifs_shard_input in;
                if (zstd) {
                    ZSTD_outBuffer zo = {zout, ZSTD_CStreamOutSize(), 0};
                    size_t rem =
                        ZSTD_compressStream2(c, &zo, &zin, last ? ZSTD_e_end : ZSTD_e_continue);
                    done_piece = last ? rem == 0 : zin.pos == zin.size;
                    in = (ifs_shard_input){zout, zo.pos, 0, last && done_piece};
                } else {
                    in = (ifs_shard_input){piece, plen, 0, last};
                    done_piece = 1;
                }
                while ((rc = ifs_shard_decode(r, &in, &ln)) == IFS_SHARD_LINE) {
                    lines++;
                    if (ln.line_no == 1)
                        saw_before = ln.reason == IFS_REJECT_NONE && ln.len == 2;
                    if (ln.line_no == 2)
                        saw_big = ln.reason == IFS_REJECT_LINE_TOO_LONG && ln.len == big &&
                                  ln.offset == 3 && !ln.data;
                    if (ln.line_no == 3)
                        saw_after = ln.reason == IFS_REJECT_NONE &&
                                    !strcmp(ln.data, "{\"after\":1}") && ln.offset == 3 + big + 1;
                }
            }
        }
        IFS_CHECK(rc == IFS_SHARD_END, "%s: rc %d", zstd ? "zstd" : "plain", rc);
        IFS_CHECK(lines == 3 && saw_before && saw_big && saw_after,
                  "%s: lines %zu before %d big %d after %d", zstd ? "zstd" : "plain", lines,
                  saw_before, saw_big, saw_after);
        ifs_shard_stats st;
        ifs_shard_get_stats(r, &st);
        IFS_CHECK(st.bytes_out == 3 + big + 13, "%s: bytes_out %llu", zstd ? "zstd" : "plain",
                  (unsigned long long)st.bytes_out);
        ifs_shard_free(r);
        ZSTD_freeCCtx(c);
        free(zout);
    }
    long grew_kb = max_rss_kb() - rss_before;
    IFS_CHECK(grew_kb < 16 * 1024, "peak memory grew by %ld KiB reading a 100 MB line", grew_kb);
    printf("100 MB line: peak RSS grew by %ld KiB\n", grew_kb);
    free(block);
}

static void truncation_at_every_point_is_reported_once(void)
{
    buf t = {0};
    rng_state = 5;
    for (int i = 0; i < 60; i++) {
        char line[80];
        snprintf(line, sizeof line, "{\"n\":%d,\"pad\":\"%.*s\"}\n", i, (int)(rnd() % 40),
                 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
        buf_str(&t, line);
    }
    zstream zs;
    zbuild(&zs, t.p, t.n, 700, 1, 1);
    events full = reference(t.p, t.n, IFS_SHARD_DEFAULT_MAX_LINE);
    size_t truncated = 0, clean = 0;
    for (size_t cut = 4; cut < zs.z.n; cut++) {
        events got = decode(zs.z.p, cut, cut % 3 ? 0 : 512, cut, 0, 0);
        int boundary = 0;
        size_t frames_done = 0;
        for (size_t f = 0; f < zs.nframes; f++)
            if (zs.comp_start[f] == cut)
                boundary = 1;
        for (size_t f = 0; f + 1 < zs.nframes; f++)
            if (zs.comp_start[f + 1] <= cut)
                frames_done = f + 1;
        size_t raw_done = frames_done < zs.nframes ? zs.raw_start[frames_done] : t.n;
        size_t must_have = 0; /* lines wholly inside completed frames */
        for (size_t i = 0; i < raw_done; i++)
            must_have += t.p[i] == '\n';
        if (boundary) {
            clean++;
            events want = reference(t.p, raw_done, IFS_SHARD_DEFAULT_MAX_LINE);
            IFS_CHECK(got.st.status == IFS_SHARD_OK, "cut %zu at a frame end: status %d", cut,
                      got.st.status);
            expect_same(&got, &want, "cut at a frame end reads as a shorter shard");
            ev_free(&want);
        } else {
            truncated++;
            IFS_CHECK(got.st.status == IFS_SHARD_TRUNCATED, "cut %zu: status %d", cut,
                      got.st.status);
            IFS_CHECK(got.n >= must_have + 1, "cut %zu: %zu lines, want at least %zu", cut, got.n,
                      must_have + 1);
            if (got.n >= 1) {
                const event *last = &got.v[got.n - 1];
                IFS_CHECK(last->reason == IFS_REJECT_ZSTD_TRUNCATED && !last->text,
                          "cut %zu: last line is %s", cut, ifs_reject_name(last->reason));
                size_t good = got.n - 1;
                IFS_CHECK(good <= full.n, "cut %zu: more lines than the whole", cut);
                if (good <= full.n) {
                    same_lines(&got, &full, good, "before the cut");
                    uint64_t want_off = good < full.n ? full.v[good].offset : t.n;
                    IFS_CHECK(last->offset == want_off, "cut %zu: reject at offset %llu, want %llu",
                              cut, (unsigned long long)last->offset, (unsigned long long)want_off);
                }
                IFS_CHECK(last->comp_offset == cut, "cut %zu: comp offset %llu", cut,
                          (unsigned long long)last->comp_offset);
            }
        }
        ev_free(&got);
    }
    IFS_CHECK(truncated > 100 && clean == zs.nframes - 1, "cuts: %zu truncated, %zu clean",
              truncated, clean);
    ev_free(&full);
    free(zs.z.p);
    free(t.p);
}

static void every_single_byte_corruption_is_safe_and_mostly_caught(void)
{
    buf t = {0};
    sample_text(&t, 80, 1, 21);
    zstream zs;
    zbuild(&zs, t.p, t.n, 1500, 1, 3);
    events full = reference(t.p, t.n, IFS_SHARD_DEFAULT_MAX_LINE);
    unsigned char *bad = malloc(zs.z.n);
    size_t caught = 0, total = 0;
    for (size_t p = 4; p < zs.z.n; p++) {
        for (int flip = 0; flip < 2; flip++) {
            memcpy(bad, zs.z.p, zs.z.n);
            bad[p] ^= flip ? 0xFF : 0x01;
            events got = decode(bad, zs.z.n, p % 2 ? 0 : 4096, p, 0, 0);
            total++;
            size_t f = 0;
            while (f + 1 < zs.nframes && zs.comp_start[f + 1] <= p)
                f++;
            size_t safe = 0; /* lines wholly before the damaged frame */
            for (size_t i = 0; i < zs.raw_start[f]; i++)
                safe += t.p[i] == '\n';
            if (got.st.status != IFS_SHARD_OK) {
                caught++;
                IFS_CHECK(got.n >= 1 && got.v[got.n - 1].reason != IFS_REJECT_NONE &&
                              got.v[got.n - 1].reason != IFS_REJECT_LINE_TOO_LONG,
                          "byte %zu: a stream error must end with its reject", p);
                IFS_CHECK(got.st.error_frame_offset <= got.st.error_comp_offset &&
                              got.st.error_comp_offset <= zs.z.n,
                          "byte %zu: error in frame at %llu, from %llu on", p,
                          (unsigned long long)got.st.error_frame_offset,
                          (unsigned long long)got.st.error_comp_offset);
                IFS_CHECK(got.st.error[0], "byte %zu: error has words", p);
            } else {
                /* only header bits that do not touch the content can go unseen */
                expect_same(&got, &full, "undetected change");
            }
            size_t cmp = safe < got.n ? safe : got.n;
            IFS_CHECK(cmp == safe, "byte %zu: lost lines of intact frames (%zu < %zu)", p, got.n,
                      safe);
            same_lines(&got, &full, cmp, "intact frames");
            ev_free(&got);
        }
    }
    printf("corruption: %zu of %zu single-byte changes detected\n", caught, total);
    IFS_CHECK(caught * 10 >= total * 9, "only %zu of %zu detected", caught, total);
    free(bad);
    ev_free(&full);
    free(zs.z.p);
    free(t.p);
}

static void junk_after_the_last_frame_is_corruption(void)
{
    const char *s = "{\"a\":1}\n{\"b\":2}\n";
    zstream zs;
    zbuild(&zs, s, strlen(s), 0, 1, 3);
    buf z = {0};
    buf_put(&z, zs.z.p, zs.z.n);
    buf_str(&z, "garbage that is no frame");
    events got = decode(z.p, z.n, 0, 3, 0, 0);
    IFS_CHECK(got.n == 3, "%zu lines", got.n);
    if (got.n == 3) {
        IFS_CHECK(got.v[0].reason == IFS_REJECT_NONE && got.v[1].reason == IFS_REJECT_NONE,
                  "the frame's lines are good");
        IFS_CHECK(got.v[2].reason == IFS_REJECT_ZSTD_CORRUPT && got.v[2].len == 0,
                  "then one corrupt reject (%s)", ifs_reject_name(got.v[2].reason));
        IFS_CHECK(got.v[2].offset == strlen(s), "at the end of the decoded data");
    }
    IFS_CHECK(got.st.status == IFS_SHARD_CORRUPT && got.st.error_frame_offset == zs.z.n,
              "status %d, frame offset %llu (want %zu): %s", got.st.status,
              (unsigned long long)got.st.error_frame_offset, zs.z.n, got.st.error);
    ev_free(&got);
    free(z.p);
    free(zs.z.p);
}

static void frame_window_over_the_limit_is_rejected_naming_window_limit_and_long(void)
{
    buf t = {0};
    sample_text(&t, 200, 1, 8);
    /* streamed without a known size, so the frame declares a real window */
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 20);
    buf z = {0};
    unsigned char out[1 << 16];
    ZSTD_inBuffer in = {t.p, t.n, 0};
    for (int stage = 0; stage < 2;) {
        ZSTD_outBuffer o = {out, sizeof out, 0};
        size_t rem;
        if (stage == 0) {
            rem = ZSTD_compressStream2(c, &o, &in, ZSTD_e_continue);
            if (in.pos == in.size)
                stage = 1;
        } else {
            rem = ZSTD_compressStream2(c, &o, &in, ZSTD_e_end);
            if (rem == 0)
                stage = 2;
        }
        buf_put(&z, out, o.pos);
    }
    ZSTD_freeCCtx(c);
    events ok = decode(z.p, z.n, 0, 1, 0, 0);
    events want = reference(t.p, t.n, IFS_SHARD_DEFAULT_MAX_LINE);
    expect_same(&ok, &want, "window within the default limit");
    events got = decode(z.p, z.n, 0, 1, 0, 12);
    /* the words name the frame's window (2^20), the limit (2^12) and --long */
    IFS_CHECK(got.st.status == IFS_SHARD_CORRUPT &&
                  strstr(got.st.error, "window of 1048576 bytes") &&
                  strstr(got.st.error, "limit of 4096 bytes") && strstr(got.st.error, "--long"),
              "status %d: %s", got.st.status, got.st.error);
    IFS_CHECK(got.n == 1 && got.v[0].reason == IFS_REJECT_ZSTD_CORRUPT,
              "one corrupt reject, %zu lines", got.n);
    ev_free(&ok);
    ev_free(&want);
    ev_free(&got);
    free(z.p);
    free(t.p);
}

static void frame_written_with_long_31_is_read_with_the_default_limit(void)
{
    buf t = {0};
    sample_text(&t, 300, 1, 9);
    /* like `zstd --long=31` on a pipe: streamed without a known size, so the
     * frame header declares the full 2 GiB window (the decoder's buffer for it
     * is allocated but only the pages the content needs are touched) */
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 31);
    buf z = {0};
    unsigned char out[1 << 16];
    ZSTD_inBuffer in = {t.p, t.n, 0};
    for (int stage = 0; stage < 2;) {
        ZSTD_outBuffer o = {out, sizeof out, 0};
        /* ZSTD_e_continue first, so the compressor does not learn the size */
        size_t rem = ZSTD_compressStream2(c, &o, &in, stage ? ZSTD_e_end : ZSTD_e_continue);
        IFS_CHECK(!ZSTD_isError(rem), "compress: %s", ZSTD_getErrorName(rem));
        if (ZSTD_isError(rem))
            break;
        if (stage == 0 && in.pos == in.size)
            stage = 1;
        else if (stage == 1 && rem == 0)
            stage = 2;
        buf_put(&z, out, o.pos);
    }
    ZSTD_freeCCtx(c);
    /* the fixture really asks for 2^31: descriptor without single-segment,
     * window byte exponent 21 */
    IFS_CHECK(z.n > 6 && !(z.p[4] & 0x20) && (unsigned char)z.p[5] == (21u << 3),
              "fixture declares a 2 GiB window (FHD %02x WD %02x)", (unsigned char)z.p[4],
              (unsigned char)z.p[5]);
    events got = decode(z.p, z.n, 0, 3, 0, 0);
    events want = reference(t.p, t.n, IFS_SHARD_DEFAULT_MAX_LINE);
    expect_same(&got, &want, "--long=31 frame with the default window limit");
    IFS_CHECK(got.st.status == IFS_SHARD_OK, "status %d: %s", got.st.status, got.st.error);
    /* a caller that lowers the limit gets words naming the window, not a bare zstd error */
    events low = decode(z.p, z.n, 0, 3, 0, 27);
    IFS_CHECK(low.n == 1 && low.v[0].reason == IFS_REJECT_ZSTD_CORRUPT &&
                  strstr(low.st.error, "window of 2147483648 bytes") &&
                  strstr(low.st.error, "--long"),
              "limit 27: %zu lines: %s", low.n, low.st.error);
    ev_free(&got);
    ev_free(&want);
    ev_free(&low);
    free(z.p);
    free(t.p);
}

static void gzip_xz_bzip2_and_lz4_shards_are_rejected_by_name(void)
{
    static const struct {
        const char *name;
        unsigned char head[12];
        size_t n;
    } cases[] = {
        {"gzip", {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0xab, 0x56}, 12},
        {"gzip", {0x1f, 0x8b}, 2}, /* cut after the magic */
        {"xz", {0xfd, '7', 'z', 'X', 'Z', 0, 0, 0x04, 0xe6, 0xd6, 0xb4, 0x46}, 12},
        {"bzip2", {'B', 'Z', 'h', '9', '1', 'A', 'Y', '&', 'S', 'Y', 0x12, 0x34}, 12},
        {"lz4", {0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x0d, 0, 0, 0x80, '{'}, 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t chunk = 0; chunk <= 1; chunk++) {
            events got = decode(cases[i].head, cases[i].n, chunk, 5 + i, 0, 0);
            IFS_CHECK(got.n == 1 && got.v[0].reason == IFS_REJECT_UNSUPPORTED_COMPRESSION &&
                          got.v[0].line_no == 1 && !got.v[0].text && got.v[0].len == 0 &&
                          got.rc == IFS_SHARD_END,
                      "%s (%zu bytes, chunk %zu): %zu lines, reason %s", cases[i].name, cases[i].n,
                      chunk, got.n, got.n ? ifs_reject_name(got.v[0].reason) : "-");
            IFS_CHECK(got.st.status == IFS_SHARD_FORMAT && !got.st.is_zstd &&
                          strstr(got.st.error, cases[i].name) && strstr(got.st.error, "zstd"),
                      "%s: status %d: %s", cases[i].name, got.st.status, got.st.error);
            ev_free(&got);
        }
    }
    /* text that merely starts like a magic stays text */
    const char *texts[] = {"BZh\n", "BZhx\n", "{\"text\":\"\\u001f\"}\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        events got = decode(texts[i], strlen(texts[i]), 0, 9, 0, 0);
        IFS_CHECK(got.n == 1 && got.v[0].reason == IFS_REJECT_NONE && got.st.status == IFS_SHARD_OK,
                  "text %zu stays text (%zu lines)", i, got.n);
        ev_free(&got);
    }
}

static void short_inputs_that_look_like_a_magic_prefix_are_plain(void)
{
    /* fewer than 4 bytes cannot be a frame: plain text, one line */
    const unsigned char p3[] = {0x28, 0xB5, 0x2F};
    events got = decode(p3, 3, 1, 1, 0, 0);
    IFS_CHECK(got.n == 1 && !got.st.is_zstd && got.v[0].len == 3, "3 magic bytes: %zu lines",
              got.n);
    ev_free(&got);
    /* exactly the magic: a zstd frame cut at once */
    const unsigned char p4[] = {0x28, 0xB5, 0x2F, 0xFD};
    got = decode(p4, 4, 0, 2, 0, 0);
    IFS_CHECK(got.n == 1 && got.st.is_zstd && got.st.status == IFS_SHARD_TRUNCATED,
              "4 magic bytes: %zu lines status %d", got.n, got.st.status);
    ev_free(&got);
}

static void calls_after_the_end_return_end_and_consume_nothing(void)
{
    ifs_shard_reader *r = ifs_shard_create(NULL);
    ifs_shard_input in = {"a\n", 2, 0, 1};
    ifs_shard_line ln;
    IFS_CHECK(ifs_shard_decode(r, &in, &ln) == IFS_SHARD_LINE, "first line");
    IFS_CHECK(ifs_shard_decode(r, &in, &ln) == IFS_SHARD_END, "then end");
    ifs_shard_input more = {"b\n", 2, 0, 1};
    IFS_CHECK(ifs_shard_decode(r, &more, &ln) == IFS_SHARD_END && more.pos == 0,
              "end again, nothing consumed");
    ifs_shard_input badpos = {"b\n", 2, 3, 1};
    IFS_CHECK(ifs_shard_decode(r, &badpos, &ln) == IFS_SHARD_EARG, "pos past size");
    IFS_CHECK(ifs_shard_decode(NULL, &in, &ln) == IFS_SHARD_EARG, "NULL reader");
    ifs_shard_free(r);
    ifs_shard_free(NULL);
    IFS_CHECK(!strcmp(ifs_shard_strerror(IFS_SHARD_ENOMEM), "out of memory"), "strerror");
}

/* A byte of frame 1 (of 3) whose flip zstd decodes without complaint but
 * for the content checksum: the first pass says so (checksum_failed, the
 * frame's start, a closing zstd_checksum line); the second pass with
 * reject_frame rejects every line holding a byte of that frame, keeps the
 * lines before it as they are, and ends with the frame. */
static void checksum_failure_is_flagged_and_second_pass_rejects_the_frame(void)
{
    buf text = {0};
    sample_text(&text, 900, 1, 77);
    zstream zs;
    zbuild(&zs, text.p, text.n, text.n / 3 + 1, 1, 3);
    IFS_CHECK(zs.nframes == 3, "%zu frames", zs.nframes);
    size_t lo = zs.comp_start[1], hi = zs.comp_start[2];
    size_t found = 0;
    unsigned char *out = malloc(text.n + 1);
    for (size_t pos = lo + (hi - lo) / 2; pos + 4 < hi && !found; pos++) {
        zs.z.p[pos] ^= 0x20;
        size_t got = ZSTD_decompress(out, text.n + 1, zs.z.p + lo, hi - lo);
        if (ZSTD_isError(got) && ZSTD_getErrorCode(got) == ZSTD_error_checksum_wrong)
            found = pos;
        else
            zs.z.p[pos] ^= 0x20;
    }
    free(out);
    IFS_CHECK(found, "no byte whose flip only the checksum catches");
    if (!found) {
        free(text.p);
        free(zs.z.p);
        return;
    }
    events ref = reference(text.p, text.n, IFS_SHARD_DEFAULT_MAX_LINE);
    for (int chunk = 0; chunk < 2; chunk++) {
        /* chunk 0: random sizes; 1: the whole stream in one call */
        size_t csz = chunk ? zs.z.n : 0;
        events a = decode(zs.z.p, zs.z.n, csz, 5, 0, 0);
        IFS_CHECK(a.st.checksum_failed && a.st.status == IFS_SHARD_CORRUPT &&
                      a.st.error_frame_offset == lo,
                  "first pass: checksum_failed %d status %d frame %llu (want %zu)",
                  a.st.checksum_failed, (int)a.st.status,
                  (unsigned long long)a.st.error_frame_offset, lo);
        IFS_CHECK(a.n && a.v[a.n - 1].reason == IFS_REJECT_ZSTD_CHECKSUM,
                  "first pass ends with a zstd_checksum line");
        ifs_shard_opts o = {.reject_frame = 1, .reject_frame_at = lo, .reject_frame_end = hi};
        events b = decode_opts(zs.z.p, zs.z.n, csz, 9, &o);
        IFS_CHECK(b.st.checksum_failed && b.st.error_frame_offset == lo,
                  "second pass: checksum_failed %d frame %llu", b.st.checksum_failed,
                  (unsigned long long)b.st.error_frame_offset);
        size_t good = 0, bad = 0;
        int order = 1;
        for (size_t i = 0; i + 1 < b.n; i++) {
            const event *x = &b.v[i];
            int touches = x->offset + x->len + 1 > zs.raw_start[1];
            if (!touches) {
                order &= good == i && i < ref.n && x->len == ref.v[i].len &&
                         x->line_no == ref.v[i].line_no && x->offset == ref.v[i].offset &&
                         x->reason == IFS_REJECT_NONE;
                good++;
            } else {
                order &= x->reason == IFS_REJECT_ZSTD_CHECKSUM && x->text == NULL && i < ref.n &&
                         x->line_no == ref.v[i].line_no && x->offset == ref.v[i].offset &&
                         x->offset < zs.raw_start[2];
                bad++;
            }
        }
        IFS_CHECK(order, "lines before the frame intact, those touching it zstd_checksum");
        /* every line of the frame was delivered: the next reference line starts in frame 2 */
        size_t seen = b.n - 1;
        IFS_CHECK(seen < ref.n && ref.v[seen].offset + ref.v[seen].len + 1 > zs.raw_start[2],
                  "the frame's lines all delivered (%zu good, %zu rejected)", good, bad);
        IFS_CHECK(bad > 100 && good > 100, "%zu good, %zu rejected", good, bad);
        IFS_CHECK(b.n && b.v[b.n - 1].reason == IFS_REJECT_ZSTD_CHECKSUM && !b.v[b.n - 1].text,
                  "second pass ends with a zstd_checksum line");
        ev_free(&a);
        ev_free(&b);
    }
    ev_free(&ref);
    free(text.p);
    free(zs.z.p);
}

int main(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {
#define CASE(f) {#f, f}
        CASE(plain_text_splits_into_lines_with_offsets),
        CASE(stream_ending_in_newline_has_no_extra_line),
        CASE(crlf_drops_only_the_carriage_return_before_newline),
        CASE(zstd_single_frame_gives_the_same_lines_as_plain),
        CASE(lines_spanning_frame_boundaries_are_joined),
        CASE(skippable_frames_are_skipped_anywhere),
        CASE(empty_shards_have_no_lines),
        CASE(random_chunk_sizes_including_zero_change_nothing),
        CASE(big_stream_given_in_one_piece_is_drained_to_the_end),
        CASE(over_long_lines_are_one_reject_each),
        CASE(hundred_megabyte_line_is_skipped_in_bounded_memory),
        CASE(truncation_at_every_point_is_reported_once),
        CASE(every_single_byte_corruption_is_safe_and_mostly_caught),
        CASE(junk_after_the_last_frame_is_corruption),
        CASE(frame_window_over_the_limit_is_rejected_naming_window_limit_and_long),
        CASE(frame_written_with_long_31_is_read_with_the_default_limit),
        CASE(gzip_xz_bzip2_and_lz4_shards_are_rejected_by_name),
        CASE(short_inputs_that_look_like_a_magic_prefix_are_plain),
        CASE(calls_after_the_end_return_end_and_consume_nothing),
        CASE(checksum_failure_is_flagged_and_second_pass_rejects_the_frame),
#undef CASE
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int before = ifs_test_failures;
        cases[i].fn();
        printf("%s %s\n", ifs_test_failures == before ? "ok  " : "FAIL", cases[i].name);
    }
    return ifs_test_done("shard_reader");
}
