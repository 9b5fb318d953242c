/*
 * test_shard_real.c - the shard reader on the real corpus in
 * $IFS_SHARED_DIR/data/alpaca_eval_outputs (227 *.json.zst files written by
 * another zstd encoder, Python's zstandard): every file decodes without a
 * stream error, and its lines (count, lengths, offsets, content hash) equal
 * a plain split of libzstd's own one-shot decoding of the same file. These
 * files are pretty-printed JSON arrays, not JSONL, so records are not
 * parsed here (the datasets importers turn them into shards). Skips when
 * the corpus is absent, as in CI.
 */
#include "ifs_io.h"
#include "ifs_shard.h"
#include "ifs_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, len = 0;
    unsigned char *p = malloc(cap);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            p = realloc(p, cap);
        }
        size_t got = fread(p + len, 1, cap - len, f);
        if (!got)
            break;
        len += got;
    }
    fclose(f);
    *n = len;
    return p;
}

/* libzstd one-shot-ish decode of a whole file (all frames). */
static unsigned char *zstd_whole(const unsigned char *z, size_t zn, size_t *out_n)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t cap = zn * 4 + 1024, len = 0;
    unsigned char *out = malloc(cap);
    ZSTD_inBuffer in = {z, zn, 0};
    size_t ret = 1;
    while (in.pos < in.size || ret != 0) {
        if (len == cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        ZSTD_outBuffer o = {out + len, cap - len, 0};
        ret = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(ret)) {
            free(out);
            out = NULL;
            break;
        }
        len += o.pos;
        if (o.pos == 0 && in.pos == in.size && ret != 0)
            break; /* truncated: leave it to the caller to notice */
    }
    ZSTD_freeDCtx(d);
    *out_n = len;
    return out;
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

int main(void)
{
    const char *shared = ifs_test_env("IFS_SHARED_DIR", NULL);
    if (!shared)
        IFS_SKIP("IFS_SHARED_DIR is not set");
    char pattern[2048];
    snprintf(pattern, sizeof pattern, "%s/data/alpaca_eval_outputs/*.json.zst", shared);
    ifs_input_list l;
    char err[512];
    const char *args[] = {pattern};
    if (ifs_io_list_inputs(args, 1, &l, err, sizeof err))
        IFS_SKIP("real corpus absent (%s)", err);
    uint64_t total_lines = 0, total_bytes = 0, total_comp = 0;
    size_t files_ok = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *path = l.files[i].path;
        size_t zn, rn;
        unsigned char *z = read_all(path, &zn);
        unsigned char *raw = z ? zstd_whole(z, zn, &rn) : NULL;
        IFS_CHECK(raw != NULL, "%s: libzstd cannot decode it", path);
        if (!raw) {
            free(z);
            continue;
        }
        /* expected lines: plain split of libzstd's output */
        uint64_t want_lines = 0, want_hash = 1469598103934665603ull;
        size_t start = 0;
        for (size_t k = 0; k <= rn; k++) {
            if (k < rn && raw[k] != '\n')
                continue;
            if (k == rn && start == rn)
                break;
            size_t len = k - start;
            if (len && raw[start + len - 1] == '\r')
                len--;
            want_lines++;
            want_hash = fnv(&start, sizeof start, fnv(raw + start, len, want_hash));
            start = k + 1;
        }
        /* one file holds its whole array on one 1.7 MB line: no line limit here */
        ifs_shard_opts o = {.max_line_bytes = 64u << 20};
        ifs_shard_reader *r;
        IFS_CHECK(!ifs_shard_open(path, &o, &r, err, sizeof err), "%s: %s", path, err);
        ifs_shard_line ln;
        uint64_t lines = 0, hash = 1469598103934665603ull;
        while (ifs_shard_next(r, &ln) == IFS_SHARD_LINE) {
            lines++;
            IFS_CHECK(ln.reason == IFS_REJECT_NONE, "%s line %llu: %s", path,
                      (unsigned long long)ln.line_no, ln.detail);
            size_t off = (size_t)ln.offset;
            if (ln.data)
                hash = fnv(&off, sizeof off, fnv(ln.data, ln.len, hash));
        }
        ifs_shard_stats st;
        ifs_shard_get_stats(r, &st);
        ifs_shard_free(r);
        int ok = st.status == IFS_SHARD_OK && st.is_zstd && lines == want_lines &&
                 hash == want_hash && st.bytes_out == rn && st.bytes_in == zn;
        IFS_CHECK(ok, "%s: status %d, %llu lines (want %llu), %llu bytes (want %zu), hash %s", path,
                  st.status, (unsigned long long)lines, (unsigned long long)want_lines,
                  (unsigned long long)st.bytes_out, rn, hash == want_hash ? "same" : "differs");
        files_ok += ok;
        total_lines += lines;
        total_bytes += st.bytes_out;
        total_comp += st.bytes_in;
        free(raw);
        free(z);
    }
    printf("real corpus: %zu of %zu files identical to libzstd's decoding; %llu lines, "
           "%llu bytes from %llu compressed\n",
           files_ok, l.n, (unsigned long long)total_lines, (unsigned long long)total_bytes,
           (unsigned long long)total_comp);
    IFS_CHECK(l.n >= 1, "no files");
    ifs_input_list_free(&l);
    return ifs_test_done("shard_real");
}
