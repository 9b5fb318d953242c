/*
 * shard_reader.c - zstd / plain JSONL stream -> lines, in bounded memory
 * (see ifs_shard.h for the contract).
 *
 * Shape: bytes in (caller's chunks, or read(2) on a file) -> decoded chunk
 * `obuf` (a memcpy for plain text, ZSTD_decompressStream for zstd) -> line
 * splitter. A line that lies wholly inside obuf is delivered in place (its
 * '\n' overwritten by the NUL), so the common case copies nothing; a line
 * that crosses chunks is assembled in `lbuf`, which never grows past
 * max_line_bytes + 2: beyond that the line is only counted, not kept.
 *
 * zstd decisions (docs reliability.md):
 *   - A return of 0 from ZSTD_decompressStream ends one frame; more may
 *     follow. A non-zero last return when the input ends means the shard
 *     was cut inside a frame: that is the only signal zstd gives.
 *   - One call never crosses a frame end, so the bytes a call consumes from
 *     a frame boundary on are that frame's header: we keep its first five
 *     bytes to count frames, skippable frames and checksummed frames.
 *   - Any zstd error ends the shard: we do not hunt for the next frame magic
 *     in a corrupted stream (a false match would invent lines).
 */
#include "ifs_shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h> /* ZSTD_getErrorCode, ZSTD_error_frameParameter_windowTooLarge */

enum { FMT_UNKNOWN = 0, FMT_PLAIN = 1, FMT_ZSTD = 2, FMT_FOREIGN = 3 };
enum {
    ST_RUN = 0, /* decoding */
    ST_FLUSHED, /* input finished cleanly; the last unterminated line may remain */
    ST_ERROR,   /* stream error recorded; deliver what obuf holds, then the error line */
    ST_DONE,    /* nothing more */
};

struct ifs_shard_reader {
    size_t max_line;
    int wlog;
    int fmt;
    int state;

    /* format detection: the first bytes, held until four are seen */
    unsigned char magic[4];
    size_t magic_n, magic_fed;

    /* zstd */
    ZSTD_DCtx *dctx;
    size_t zret;         /* last ZSTD_decompressStream return */
    int zflush;          /* last call filled obuf: the decoder may hold more output */
    int at_frame_start;  /* the next consumed byte starts a frame */
    unsigned char fh[6]; /* current frame's first bytes (magic, descriptor, window byte) */
    size_t fh_n;
    int fh_done;

    /* decoded chunk */
    char *obuf;
    size_t ocap, olen, opos;
    uint64_t obase; /* decoded offset of obuf[0] */
    uint64_t ocomp; /* compressed bytes consumed when obuf was filled */

    /* line in progress */
    char *lbuf;
    size_t lcap, llen;
    int in_line, skipping, release;
    uint64_t skip_len;
    char skip_last;
    uint64_t line_off, line_comp;

    ifs_shard_stats st;

    /* second pass over a frame known to fail its checksum (opts.reject_frame) */
    int reject_frame, in_bad;
    uint64_t bad_at, bad_end;

    /* file mode */
    void (*on_read)(void *, const void *, size_t);
    void *read_ctx;
    size_t read_bytes;
    int fd, own_fd;
    char *path;
    unsigned char *ibuf;
    size_t icap;
    ifs_shard_input fin;
};

const char *ifs_shard_strerror(int status)
{
    switch (status) {
    case IFS_SHARD_END: return "end of shard";
    case IFS_SHARD_LINE: return "line";
    case IFS_SHARD_MORE: return "needs more input";
    case IFS_SHARD_EARG: return "invalid argument";
    case IFS_SHARD_ENOMEM: return "out of memory";
    case IFS_SHARD_EIO: return "cannot open file";
    default: return "unknown shard status";
    }
}

ifs_shard_reader *ifs_shard_create(const ifs_shard_opts *opts)
{
    ifs_shard_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->max_line = opts && opts->max_line_bytes ? opts->max_line_bytes : IFS_SHARD_DEFAULT_MAX_LINE;
    r->wlog =
        opts && opts->window_log_max ? opts->window_log_max : IFS_SHARD_DEFAULT_WINDOW_LOG_MAX;
    /* zstd's limits (ZSTD_WINDOWLOG_MIN / _MAX_64 sit behind its static-only API) */
    if (r->wlog < 10)
        r->wlog = 10;
    if (r->wlog > 31)
        r->wlog = 31;
    r->fd = -1;
    r->at_frame_start = 1;
    if (opts && opts->reject_frame) {
        r->reject_frame = 1;
        r->bad_at = opts->reject_frame_at;
        r->bad_end = opts->reject_frame_end;
    }
    if (opts) {
        r->on_read = opts->on_read;
        r->read_ctx = opts->read_ctx;
        r->read_bytes = opts->read_bytes;
    }
    r->ocap = ZSTD_DStreamOutSize();
    r->obuf = malloc(r->ocap + 1); /* +1: room for a NUL after a line ending at the end */
    if (!r->obuf) {
        free(r);
        return NULL;
    }
    return r;
}

static void fail(ifs_shard_reader *r, ifs_shard_status status, const char *fmt, ...)
{
    if (r->st.status != IFS_SHARD_OK)
        return; /* the first error is the one that matters */
    r->st.status = status;
    r->st.error_comp_offset = r->st.bytes_in;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->st.error, sizeof r->st.error, fmt, ap);
    va_end(ap);
    r->state = ST_ERROR;
}

/* Note the consumed input bytes src[0..n) of the zstd stream (frame accounting). */
static void consumed_zstd(ifs_shard_reader *r, const unsigned char *src, size_t n)
{
    if (n && r->at_frame_start) {
        r->at_frame_start = 0;
        r->st.frames++;
        r->fh_n = 0;
        r->fh_done = 0;
    }
    for (size_t i = 0; i < n && r->fh_n < sizeof r->fh; i++)
        r->fh[r->fh_n++] = src[i];
    if (!r->fh_done && r->fh_n >= 5) {
        r->fh_done = 1;
        uint32_t m = (uint32_t)r->fh[0] | (uint32_t)r->fh[1] << 8 | (uint32_t)r->fh[2] << 16 |
                     (uint32_t)r->fh[3] << 24;
        if ((m & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START)
            r->st.skippable_frames++;
        else if (m == ZSTD_MAGICNUMBER && (r->fh[4] & 0x04))
            r->st.checksummed_frames++; /* Frame_Header_Descriptor bit 2 */
    }
    r->st.bytes_in += n;
}

enum { REFILL_FILLED, REFILL_NEED, REFILL_FINISHED, REFILL_ENOMEM };

/* Another compressor's magic at the start of a stream: its name, else NULL.
 * Such a shard is rejected by name rather than read as text (or as corrupt
 * zstd). A JSONL line starts with '{', '[', a space or a letter of a value,
 * never with these bytes (bzip2's "BZh" is followed by a digit 1..9). */
static const char *foreign_format(const unsigned char *b, size_t n)
{
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return "gzip";
    if (n >= 4 && b[0] == 0xfd && b[1] == '7' && b[2] == 'z' && b[3] == 'X')
        return "xz";
    if (n >= 4 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h' && b[3] >= '1' && b[3] <= '9')
        return "bzip2";
    if (n >= 4 && b[0] == 0x04 && b[1] == 0x22 && b[2] == 0x4d && b[3] == 0x18)
        return "lz4";
    return NULL;
}

/* Window size a zstd frame header asks for, from its first bytes h[0..n)
 * (magic, Frame_Header_Descriptor, Window_Descriptor); 0 when unknown (too
 * few bytes, or a single-segment frame, whose window is its content size). */
static unsigned long long frame_window(const unsigned char *h, size_t n)
{
    if (n < 6 || (h[4] & 0x20))
        return 0;
    unsigned wlog = 10u + (h[5] >> 3);
    unsigned long long base = 1ull << wlog;
    return base + (base / 8) * (h[5] & 7u);
}

static int refill(ifs_shard_reader *r, ifs_shard_input *in)
{
    r->obase += r->olen;
    r->olen = r->opos = 0;
    const unsigned char *src = in->src;
    size_t avail = in->size - in->pos;

    if (r->fmt == FMT_UNKNOWN) {
        while (r->magic_n < 4 && avail) {
            r->magic[r->magic_n++] = src[in->pos++];
            avail--;
        }
        if (r->magic_n < 4 && !in->last)
            return REFILL_NEED;
        uint32_t m = 0;
        if (r->magic_n == 4)
            m = (uint32_t)r->magic[0] | (uint32_t)r->magic[1] << 8 | (uint32_t)r->magic[2] << 16 |
                (uint32_t)r->magic[3] << 24;
        const char *foreign = foreign_format(r->magic, r->magic_n);
        if (foreign) {
            r->fmt = FMT_FOREIGN;
            fail(r, IFS_SHARD_FORMAT,
                 "shard is %s-compressed (magic bytes at offset 0), not zstd or plain JSONL: "
                 "decompress it and recompress with zstd",
                 foreign);
            return REFILL_FINISHED;
        }
        int z = r->magic_n == 4 && (m == ZSTD_MAGICNUMBER ||
                                    (m & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START);
        r->fmt = z ? FMT_ZSTD : FMT_PLAIN;
        r->st.is_zstd = z;
        if (z) {
            r->dctx = ZSTD_createDCtx();
            if (!r->dctx)
                return REFILL_ENOMEM;
            ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, r->wlog);
        }
    }

    if (r->fmt == FMT_PLAIN) {
        size_t n = 0;
        r->ocomp = r->st.bytes_in;
        if (r->magic_fed < r->magic_n) {
            n = r->magic_n - r->magic_fed;
            memcpy(r->obuf, r->magic + r->magic_fed, n);
            r->magic_fed = r->magic_n;
        }
        size_t take = r->ocap - n < avail ? r->ocap - n : avail;
        if (take) {
            memcpy(r->obuf + n, src + in->pos, take);
            in->pos += take;
            n += take;
        }
        r->st.bytes_in += n;
        r->st.bytes_out += n;
        if (n) {
            r->olen = n;
            return REFILL_FILLED;
        }
        if (!in->last)
            return REFILL_NEED;
        r->state = ST_FLUSHED;
        return REFILL_FINISHED;
    }

    /* zstd: call until the decoder yields output or needs more input */
    for (;;) {
        ZSTD_inBuffer zin;
        int from_magic = r->magic_fed < r->magic_n;
        if (from_magic)
            zin = (ZSTD_inBuffer){r->magic, r->magic_n, r->magic_fed};
        else
            zin = (ZSTD_inBuffer){in->src, in->size, in->pos};
        int empty = zin.pos == zin.size;
        if (empty && !r->zflush) {
            if (!in->last)
                return REFILL_NEED;
            if (r->zret != 0) {
                fail(r, IFS_SHARD_TRUNCATED,
                     "zstd stream ends inside the frame starting at compressed offset %llu "
                     "(%llu bytes read): truncated shard",
                     (unsigned long long)r->st.error_frame_offset,
                     (unsigned long long)r->st.bytes_in);
                return REFILL_FINISHED;
            }
            r->state = ST_FLUSHED;
            return REFILL_FINISHED;
        }
        ZSTD_outBuffer zout = {r->obuf, r->ocap, 0};
        size_t before = zin.pos;
        if (r->at_frame_start) {
            r->st.error_frame_offset = r->st.bytes_in; /* where the next frame begins */
            if (r->reject_frame && r->st.bytes_in == r->bad_at && !r->in_bad) {
                /* every line from here on holds bytes of the bad frame; decode
                 * it to its end despite the checksum (ZSTD_d_forceIgnoreChecksum,
                 * settable at a frame start), so each of its lines is delivered
                 * (as a reject) whatever path zstd takes. Without it (an old
                 * libzstd) the checksum error below ends the shard instead. */
                r->in_bad = 1;
                ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_experimentalParam3, 1);
            }
        }
        size_t ret = ZSTD_decompressStream(r->dctx, &zout, &zin);
        consumed_zstd(r, (const unsigned char *)zin.src + before, zin.pos - before);
        if (from_magic)
            r->magic_fed = zin.pos;
        else
            in->pos = zin.pos;
        r->st.bytes_out += zout.pos;
        r->olen = zout.pos;
        r->ocomp = r->st.bytes_in;
        if (ZSTD_isError(ret)) {
            /* zstd does not move zin.pos on an error: the bad bytes lie in
             * this call's input, at or after bytes_in */
            if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge) {
                /* the header's bytes: those of this frame zstd already took
                 * (kept in fh), then the ones still in this call's input */
                unsigned char h[6];
                size_t hn = 0;
                if (!r->at_frame_start)
                    for (; hn < r->fh_n && hn < sizeof h; hn++)
                        h[hn] = r->fh[hn];
                for (size_t i = zin.pos; i < zin.size && hn < sizeof h; i++)
                    h[hn++] = ((const unsigned char *)zin.src)[i];
                unsigned long long w = frame_window(h, hn);
                char need[64] = "more";
                if (w)
                    snprintf(need, sizeof need, "%llu bytes", w);
                fail(r, IFS_SHARD_CORRUPT,
                     "zstd frame at compressed offset %llu needs a window of %s, over the "
                     "reader's limit of %llu bytes (window_log_max %d; written with zstd --long?)",
                     (unsigned long long)r->st.error_frame_offset, need, 1ull << r->wlog, r->wlog);
                ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
                return zout.pos ? REFILL_FILLED : REFILL_FINISHED;
            }
            if (ZSTD_getErrorCode(ret) == ZSTD_error_checksum_wrong && r->st.status == IFS_SHARD_OK)
                r->st.checksum_failed = 1;
            fail(r, IFS_SHARD_CORRUPT,
                 "zstd error in the frame starting at compressed offset %llu, "
                 "in the bytes from offset %llu on: %s",
                 (unsigned long long)r->st.error_frame_offset, (unsigned long long)r->st.bytes_in,
                 ZSTD_getErrorName(ret));
            ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
            return zout.pos ? REFILL_FILLED : REFILL_FINISHED;
        }
        r->zret = ret;
        if (ret == 0)
            r->at_frame_start = 1;
        if (ret == 0 && r->in_bad) {
            /* the end of the frame known to fail its checksum: the shard
             * ends here, as it did in the first pass */
            r->st.checksum_failed = 1;
            r->st.error_frame_offset = r->bad_at;
            fail(r, IFS_SHARD_CORRUPT,
                 "zstd frame at compressed bytes %llu..%llu failed its content checksum",
                 (unsigned long long)r->bad_at, (unsigned long long)r->st.bytes_in);
            return zout.pos ? REFILL_FILLED : REFILL_FINISHED;
        }
        /* zstd already keeps one input byte back while a finished frame has
         * output left to flush (its "hostage byte"), so input never looks used
         * up too early; calling again on a full buffer costs nothing and does
         * not lean on that detail. */
        r->zflush = zout.pos == zout.size;
        if (zout.pos)
            return REFILL_FILLED;
        if (!empty && zin.pos == before) {
            /* zstd promises progress while it has room for output; guard
             * against a loop forever anyway. */
            fail(r, IFS_SHARD_CORRUPT, "zstd decoder made no progress at compressed offset %llu",
                 (unsigned long long)r->st.bytes_in);
            return REFILL_FINISHED;
        }
    }
}

static int grow_lbuf(ifs_shard_reader *r, size_t need)
{
    if (need <= r->lcap)
        return 0;
    size_t cap = r->lcap ? r->lcap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > r->max_line + 2)
        cap = r->max_line + 2;
    if (cap < need)
        cap = need;
    char *p = realloc(r->lbuf, cap);
    if (!p)
        return -1;
    r->lbuf = p;
    r->lcap = cap;
    return 0;
}

static void emit(ifs_shard_reader *r, ifs_shard_line *line, const char *data, size_t len,
                 uint64_t off, uint64_t comp)
{
    line->data = data;
    line->len = len;
    line->line_no = ++r->st.lines;
    line->offset = off;
    line->comp_offset = comp;
    line->reason = IFS_REJECT_NONE;
    line->detail[0] = 0;
    if (r->in_bad) {
        line->data = NULL;
        line->reason = IFS_REJECT_ZSTD_CHECKSUM;
        snprintf(line->detail, sizeof line->detail,
                 "zstd frame at compressed bytes %llu..%llu failed its content checksum: "
                 "its lines are not scored",
                 (unsigned long long)r->bad_at, (unsigned long long)r->bad_end);
    }
}

static void emit_too_long(ifs_shard_reader *r, ifs_shard_line *line, uint64_t len)
{
    emit(r, line, NULL, (size_t)len, r->line_off, r->line_comp);
    if (r->in_bad)
        return; /* the frame's failure is the reason */
    line->reason = IFS_REJECT_LINE_TOO_LONG;
    r->st.too_long++;
    snprintf(line->detail, sizeof line->detail, "line of %llu bytes is over the limit of %zu bytes",
             (unsigned long long)len, r->max_line);
}

/* Split from obuf. Returns 1 when *line is ready, 0 when obuf is used up. */
static int split(ifs_shard_reader *r, ifs_shard_line *line, int *oom)
{
    char *p = r->obuf + r->opos;
    size_t avail = r->olen - r->opos;
    char *nl = memchr(p, '\n', avail);
    size_t seg = nl ? (size_t)(nl - p) : avail;
    if (!r->in_line) {
        r->in_line = 1;
        r->line_off = r->obase + r->opos;
        r->line_comp = r->fmt == FMT_PLAIN ? r->line_off : r->ocomp;
        if (nl) {
            /* whole line in obuf: deliver in place */
            size_t len = seg;
            if (len && p[len - 1] == '\r')
                len--;
            r->opos += seg + 1;
            r->in_line = 0;
            if (len > r->max_line) {
                emit_too_long(r, line, len);
            } else {
                p[len] = 0;
                emit(r, line, p, len, r->line_off, r->line_comp);
            }
            return 1;
        }
    }
    if (r->skipping) {
        r->skip_len += seg;
        if (seg)
            r->skip_last = p[seg - 1];
    } else if (r->llen + seg > r->max_line + 1) {
        /* over the limit even if a '\r' ends it: stop keeping bytes */
        r->skipping = 1;
        r->skip_len = r->llen + seg;
        r->skip_last = seg ? p[seg - 1] : (r->llen ? r->lbuf[r->llen - 1] : 0);
        r->llen = 0;
    } else if (seg) {
        if (grow_lbuf(r, r->llen + seg + 1)) {
            *oom = 1;
            return 0;
        }
        memcpy(r->lbuf + r->llen, p, seg);
        r->llen += seg;
    }
    r->opos += seg;
    if (!nl)
        return 0;
    r->opos++;
    r->in_line = 0;
    if (r->skipping) {
        r->skipping = 0;
        emit_too_long(r, line, r->skip_len - (r->skip_last == '\r'));
        return 1;
    }
    size_t len = r->llen;
    if (len && r->lbuf[len - 1] == '\r')
        len--;
    r->release = 1;
    if (len > r->max_line) {
        emit_too_long(r, line, len);
        return 1;
    }
    r->lbuf[len] = 0;
    emit(r, line, r->lbuf, len, r->line_off, r->line_comp);
    return 1;
}

/* The line in progress at the end of a clean stream (no final '\n'). */
static int finish_last(ifs_shard_reader *r, ifs_shard_line *line, int *oom)
{
    if (!r->in_line)
        return 0;
    r->in_line = 0;
    if (r->skipping) {
        r->skipping = 0;
        emit_too_long(r, line, r->skip_len - (r->skip_last == '\r'));
        return 1;
    }
    if (grow_lbuf(r, r->llen + 1)) {
        *oom = 1;
        return 0;
    }
    size_t len = r->llen;
    if (len && r->lbuf[len - 1] == '\r')
        len--;
    r->release = 1;
    if (len > r->max_line) {
        emit_too_long(r, line, len);
        return 1;
    }
    r->lbuf[len] = 0;
    emit(r, line, r->lbuf, len, r->line_off, r->line_comp);
    return 1;
}

static void emit_error(ifs_shard_reader *r, ifs_shard_line *line)
{
    uint64_t len = r->skipping ? r->skip_len : r->llen;
    uint64_t off = r->in_line ? r->line_off : r->obase + r->olen;
    emit(r, line, NULL, (size_t)len, off, r->st.error_comp_offset);
    line->reason = r->st.checksum_failed                 ? IFS_REJECT_ZSTD_CHECKSUM
                   : r->st.status == IFS_SHARD_TRUNCATED ? IFS_REJECT_ZSTD_TRUNCATED
                   : r->st.status == IFS_SHARD_IOERR     ? IFS_REJECT_IO_ERROR
                   : r->st.status == IFS_SHARD_FORMAT    ? IFS_REJECT_UNSUPPORTED_COMPRESSION
                                                         : IFS_REJECT_ZSTD_CORRUPT;
    snprintf(line->detail, sizeof line->detail, "%s", r->st.error);
    r->in_line = r->skipping = 0;
    r->llen = 0;
}

int ifs_shard_decode(ifs_shard_reader *r, ifs_shard_input *in, ifs_shard_line *line)
{
    if (!r || !in || !line || in->pos > in->size || (!in->src && in->size))
        return IFS_SHARD_EARG;
    if (r->release) {
        r->llen = 0;
        r->release = 0;
    }
    for (;;) {
        if (r->state == ST_DONE)
            return IFS_SHARD_END;
        int oom = 0;
        if (r->opos < r->olen) {
            if (split(r, line, &oom))
                return IFS_SHARD_LINE;
            if (oom)
                return IFS_SHARD_ENOMEM;
            continue;
        }
        if (r->state == ST_ERROR) {
            emit_error(r, line);
            r->state = ST_DONE;
            return IFS_SHARD_LINE;
        }
        if (r->state == ST_FLUSHED) {
            r->obase += r->olen;
            r->olen = r->opos = 0;
            r->state = ST_DONE;
            if (finish_last(r, line, &oom))
                return IFS_SHARD_LINE;
            if (oom)
                return IFS_SHARD_ENOMEM;
            return IFS_SHARD_END;
        }
        switch (refill(r, in)) {
        case REFILL_NEED: return IFS_SHARD_MORE;
        case REFILL_ENOMEM: return IFS_SHARD_ENOMEM;
        default: break; /* FILLED or FINISHED: the loop looks at obuf and state */
        }
    }
}

int ifs_shard_open(const char *path, const ifs_shard_opts *opts, ifs_shard_reader **out, char *err,
                   size_t errlen)
{
    if (!path || !out) {
        if (err && errlen)
            snprintf(err, errlen, "shard: no path given");
        return IFS_SHARD_EARG;
    }
    *out = NULL;
    ifs_shard_reader *r = ifs_shard_create(opts);
    if (r) {
        r->icap = r->read_bytes ? r->read_bytes : ZSTD_DStreamInSize();
        r->ibuf = malloc(r->icap);
        r->path = strdup(path);
    }
    if (!r || !r->ibuf || !r->path) {
        ifs_shard_free(r);
        if (err && errlen)
            snprintf(err, errlen, "shard %s: out of memory", path);
        return IFS_SHARD_ENOMEM;
    }
    if (!strcmp(path, "-")) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            if (err && errlen)
                snprintf(err, errlen, "cannot open shard %s: %s", path, strerror(errno));
            ifs_shard_free(r);
            return IFS_SHARD_EIO;
        }
        r->own_fd = 1;
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    r->fin = (ifs_shard_input){r->ibuf, 0, 0, 0};
    *out = r;
    return 0;
}

int ifs_shard_next(ifs_shard_reader *r, ifs_shard_line *line)
{
    if (!r || !r->ibuf || !line)
        return IFS_SHARD_EARG;
    for (;;) {
        int rc = ifs_shard_decode(r, &r->fin, line);
        if (rc != IFS_SHARD_MORE)
            return rc;
        ssize_t n;
        do
            n = read(r->fd, r->ibuf, r->icap);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            fail(r, IFS_SHARD_IOERR, "read error in %s after %llu bytes: %s", r->path,
                 (unsigned long long)r->st.bytes_in, strerror(errno));
            /* no bytes are pending (MORE means all were used): the next decode
             * call emits the io_error line */
            r->fin = (ifs_shard_input){r->ibuf, 0, 0, 1};
            continue;
        }
        if (n > 0 && r->on_read)
            r->on_read(r->read_ctx, r->ibuf, (size_t)n);
        r->fin = (ifs_shard_input){r->ibuf, (size_t)n, 0, n == 0};
    }
}

int ifs_shard_read_rest(ifs_shard_reader *r)
{
    if (!r || !r->ibuf || r->fd < 0) {
        errno = EINVAL;
        return -1;
    }
    if (r->fin.last)
        return 0; /* the file was read to its end */
    for (;;) {
        ssize_t n = read(r->fd, r->ibuf, r->icap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (r->on_read)
            r->on_read(r->read_ctx, r->ibuf, (size_t)n);
    }
}

void ifs_shard_get_stats(const ifs_shard_reader *r, ifs_shard_stats *st)
{
    if (!st)
        return;
    if (!r) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = r->st;
    if (st->status == IFS_SHARD_OK)
        st->error_frame_offset = 0;
}

void ifs_shard_free(ifs_shard_reader *r)
{
    if (!r)
        return;
    if (r->own_fd && r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->obuf);
    free(r->lbuf);
    free(r->ibuf);
    free(r->path);
    free(r);
}
