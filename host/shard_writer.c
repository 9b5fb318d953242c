/*
 * shard_writer.c - streaming JSONL writer, plain or zstd, atomic at close
 * (see ifs_shard.h).
 *
 * Decisions:
 *   - Single-threaded zstd (no ZSTD_c_nbWorkers): the writers here carry
 *     per-record scores and rejects, far less than what the GPU reads, and
 *     workers would make output bytes depend on timing for nothing.
 *   - Content checksum on by default, so a reader can tell a damaged file
 *     from a damaged stream; the frame header says so (ifs_shard_stats).
 *   - Frames can be cut every `frame_bytes` of input at a line end, so packed
 *     shards can later be split or skipped into at frame boundaries.
 *   - An empty zstd output still gets one (empty) frame: a 0-byte ".zst" is
 *     not a zstd file for other tools.
 *   - The first write error is kept; later calls fail fast and close reports
 *     it, so callers may check only the close.
 */
#include "ifs_shard.h"
#include "ifs_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

struct ifs_shard_writer {
    ifs_atomic *out;
    ZSTD_CCtx *cctx;
    char *zbuf;
    size_t zcap;
    char *stage; /* small writes gather here: one zstd call per ~128 KiB, not two per line */
    size_t scap, slen;
    uint64_t frame_bytes;
    uint64_t frame_in; /* input bytes in the open frame */
    int frame_open;
    int failed, closed;
    char errmsg[256];
    ifs_shard_writer_stats st;
};

void ifs_shard_writer_opts_init(ifs_shard_writer_opts *o)
{
    if (!o)
        return;
    o->compress = -1;
    o->level = 3;
    o->checksum = -1;
    o->frame_bytes = 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int ifs_shard_writer_open(const char *path, const ifs_shard_writer_opts *opts,
                          ifs_shard_writer **out, char *err, size_t errlen)
{
    if (!out || !path) {
        if (err && errlen)
            snprintf(err, errlen, "shard writer: no path given");
        return -1;
    }
    *out = NULL;
    ifs_shard_writer_opts o;
    ifs_shard_writer_opts_init(&o);
    if (opts)
        o = *opts;
    int zstd = o.compress < 0 ? ends_with(path, ".zst") : o.compress != 0;
    ifs_shard_writer *w = calloc(1, sizeof *w);
    if (!w) {
        if (err && errlen)
            snprintf(err, errlen, "shard writer %s: out of memory", path);
        return -1;
    }
    w->frame_bytes = o.frame_bytes;
    if (zstd) {
        w->cctx = ZSTD_createCCtx();
        w->zcap = ZSTD_CStreamOutSize();
        w->zbuf = malloc(w->zcap);
        w->scap = ZSTD_CStreamInSize();
        w->stage = malloc(w->scap);
        if (!w->cctx || !w->zbuf || !w->stage) {
            ifs_shard_writer_free(w);
            if (err && errlen)
                snprintf(err, errlen, "shard writer %s: out of memory", path);
            return -1;
        }
        int level = o.level ? o.level : 3;
        size_t rc = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
        if (!ZSTD_isError(rc))
            rc = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, o.checksum != 0);
        if (ZSTD_isError(rc)) {
            if (err && errlen)
                snprintf(err, errlen, "shard writer %s: zstd level %d: %s", path, level,
                         ZSTD_getErrorName(rc));
            ifs_shard_writer_free(w);
            return -1;
        }
    }
    if (ifs_atomic_open(path, &w->out, err, errlen)) {
        ifs_shard_writer_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

static int put(ifs_shard_writer *w, const void *data, size_t len)
{
    if (ifs_atomic_write(w->out, data, len)) {
        w->failed = 1;
        snprintf(w->errmsg, sizeof w->errmsg, "write failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Feed bytes to the compressor with `mode`; for ZSTD_e_end, loop until the
 * frame is fully flushed. */
static int compress(ifs_shard_writer *w, const void *data, size_t len, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = {data, len, 0};
    for (;;) {
        ZSTD_outBuffer zo = {w->zbuf, w->zcap, 0};
        size_t rem = ZSTD_compressStream2(w->cctx, &zo, &in, mode);
        if (ZSTD_isError(rem)) {
            w->failed = 1;
            snprintf(w->errmsg, sizeof w->errmsg, "zstd: %s", ZSTD_getErrorName(rem));
            return -1;
        }
        if (zo.pos && put(w, w->zbuf, zo.pos))
            return -1;
        if (mode == ZSTD_e_end ? rem == 0 : in.pos == in.size)
            return 0;
    }
}

static int flush_stage(ifs_shard_writer *w)
{
    if (!w->slen)
        return 0;
    int rc = compress(w, w->stage, w->slen, ZSTD_e_continue);
    w->slen = 0;
    return rc;
}

int ifs_shard_writer_write(ifs_shard_writer *w, const void *data, size_t len)
{
    if (!w || w->closed || w->failed || (!data && len))
        return -1;
    if (!len)
        return 0;
    w->st.bytes_in += len;
    if (!w->cctx)
        return put(w, data, len);
    w->frame_open = 1;
    w->frame_in += len;
    if (w->slen + len <= w->scap) {
        memcpy(w->stage + w->slen, data, len);
        w->slen += len;
        return 0;
    }
    if (flush_stage(w))
        return -1;
    if (len < w->scap) {
        memcpy(w->stage, data, len);
        w->slen = len;
        return 0;
    }
    return compress(w, data, len, ZSTD_e_continue);
}

int ifs_shard_writer_end_frame(ifs_shard_writer *w)
{
    if (!w || w->closed || w->failed)
        return -1;
    if (!w->cctx || !w->frame_open)
        return 0;
    /* the staged bytes go in with the end directive: one call, not two */
    int rc = compress(w, w->stage, w->slen, ZSTD_e_end);
    w->slen = 0;
    if (rc)
        return -1;
    w->frame_open = 0;
    w->frame_in = 0;
    w->st.frames++;
    return 0;
}

int ifs_shard_writer_line(ifs_shard_writer *w, const char *data, size_t len)
{
    if (!w || (!data && len))
        return -1;
    if (len && memchr(data, '\n', len))
        return -1;
    if (ifs_shard_writer_write(w, data, len) || ifs_shard_writer_write(w, "\n", 1))
        return -1;
    w->st.lines++;
    if (w->frame_bytes && w->frame_in >= w->frame_bytes)
        return ifs_shard_writer_end_frame(w);
    return 0;
}

void ifs_shard_writer_get_stats(const ifs_shard_writer *w, ifs_shard_writer_stats *st)
{
    if (!st)
        return;
    if (!w) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = w->st;
    st->bytes_out = ifs_atomic_bytes(w->out);
}

int ifs_shard_writer_close(ifs_shard_writer *w, ifs_shard_writer_stats *st, char *err,
                           size_t errlen)
{
    if (!w || w->closed) {
        if (err && errlen)
            snprintf(err, errlen, "shard writer: close on a closed writer");
        return -1;
    }
    if (w->cctx && !w->failed && (w->frame_open || w->st.frames == 0)) {
        w->frame_open = 1;
        ifs_shard_writer_end_frame(w);
    }
    w->closed = 1;
    if (w->failed) {
        if (err && errlen)
            snprintf(err, errlen, "shard writer: %s; nothing written", w->errmsg);
        ifs_atomic_free(w->out); /* removes the temporary file */
        w->out = NULL;
        return -1;
    }
    if (ifs_atomic_commit(w->out, err, errlen))
        return -1;
    ifs_shard_writer_get_stats(w, st);
    return 0;
}

void ifs_shard_writer_free(ifs_shard_writer *w)
{
    if (!w)
        return;
    ifs_atomic_free(w->out);
    ZSTD_freeCCtx(w->cctx);
    free(w->zbuf);
    free(w->stage);
    free(w);
}
