/*
 * ifs_shard.h - shards in and out: a streaming line reader for .jsonl and
 * .jsonl.zst (multi-frame, skippable frames) with bounded memory, and a
 * streaming, atomic writer of .jsonl / .jsonl.zst.
 *
 * Reading a file:
 *
 *     ifs_shard_reader *r;
 *     if (ifs_shard_open("a.jsonl.zst", NULL, &r, err, sizeof err)) die(err);
 *     ifs_shard_line ln;
 *     while (ifs_shard_next(r, &ln) > 0) {
 *         if (ln.reason) ifs_rejects_add(rj, "a.jsonl.zst", ln.line_no, ln.offset, ln.reason, ln.detail);
 *         else           handle(ln.data, ln.len);      // borrowed until the next call
 *     }
 *     ifs_shard_stats st;  ifs_shard_get_stats(r, &st);   // st.lines == lines seen above
 *     ifs_shard_free(r);
 *
 * Feeding bytes yourself (zstd's "call again" style; any chunk size, zero too):
 *
 *     ifs_shard_reader *r = ifs_shard_create(NULL);
 *     ifs_shard_input in = { buf, n, 0, is_last_chunk };
 *     int rc;
 *     while ((rc = ifs_shard_decode(r, &in, &ln)) == IFS_SHARD_LINE) handle(&ln);
 *     // rc == IFS_SHARD_MORE: refill in (src/size, pos = 0) and call again;
 *     // rc == IFS_SHARD_END: the shard is finished (all input read, or a stream error).
 *
 * Format: zstd when the stream starts with a zstd frame magic (28 B5 2F FD)
 * or a skippable frame magic (5? 2A 4D 18); rejected when it starts with
 * another compressor's magic (see below); otherwise plain text. Frames are
 * decoded one after another; skippable frames are skipped; every frame's
 * content joins one text stream (a line may span frames).
 *
 * Lines (every byte of the stream belongs to exactly one delivered line):
 *   - split at '\n'; one '\r' right before the '\n' is dropped (CRLF);
 *   - a last line without '\n' is a line; a stream ending in '\n' has no
 *     extra empty line after it; an empty stream has no lines;
 *   - an empty line is delivered like any other (len 0): the record parser
 *     rejects it as empty_line, so it is counted, never dropped;
 *   - a line longer than max_line_bytes (after dropping '\r') is delivered
 *     once with reason line_too_long, data NULL and len its full length; it
 *     is skipped without being buffered, so memory stays bounded;
 *   - a stream error (corrupt frame, checksum mismatch, stream cut inside a
 *     frame, read error) ends the shard with exactly one more line with
 *     reason zstd_corrupt / zstd_truncated / io_error: it stands for the
 *     unfinished line and whatever could not be read after it (its data is
 *     NULL, its len the bytes of the unfinished line, possibly 0). Lines
 *     delivered before it stay valid. stats.status says what happened.
 *     A frame's content checksum is only checked at the frame's end, so
 *     lines of a frame whose checksum fails have already been delivered by
 *     then: the closing line's reason is then zstd_checksum and
 *     stats.checksum_failed is set; a caller that must not use unverified
 *     lines reads the shard again with opts.reject_frame (ifs score does:
 *     docs/score.md, "Checksums").
 * Offsets: `offset` counts bytes of the decompressed stream (the line's first
 * byte); `comp_offset` counts bytes of the file: for plain files it equals
 * offset; for zstd it is how many compressed bytes the decoder had consumed
 * when the line's first byte came out (the block holding it lies before).
 *
 * Memory: one input buffer (ZSTD_DStreamInSize, ~128 KiB), one output buffer
 * (ZSTD_DStreamOutSize, ~128 KiB), a line buffer that grows to at most
 * max_line_bytes + 2, and zstd's window: what the frame header asks for
 * (capped by the frame's content size when the header states it), at most
 * 2^window_log_max bytes. The default limit is 31, zstd's maximum, so a
 * shard written with `zstd --long=31` is read; such a shard can make one
 * reader hold a window of up to 2 GiB while it is decoded (ifs score reads
 * one shard at a time, so that is the bound per run; a frame written with
 * zstd's levels 1..19 needs at most 8 MiB, plain --long 128 MiB).
 * A frame asking for more than window_log_max is rejected as zstd_corrupt
 * with words naming the frame's window size, the limit and --long.
 *
 * Other compressors: a stream starting with a gzip (1F 8B), xz (FD 37 7A 58
 * 5A 00), bzip2 ("BZh1".."BZh9") or lz4 frame (04 22 4D 18) magic is neither
 * read as text nor as zstd: it yields one line with reason
 * unsupported_compression (data NULL, len 0, line 1) naming the format, then
 * END; stats.status is IFS_SHARD_FORMAT.
 *
 * Ownership and threads: a reader or writer is used by one thread at a time;
 * different readers are independent. ln.data borrows from the reader and is
 * valid until the next ifs_shard_decode/ifs_shard_next/ifs_shard_free; it is
 * NUL-terminated (data[len] == 0). Nothing here prints or exits.
 */
#ifndef IFS_SHARD_H
#define IFS_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_record.h" /* ifs_reject_reason */

#ifdef __cplusplus
extern "C" {
#endif

#define IFS_SHARD_DEFAULT_MAX_LINE (1u << 20) /* 1 MiB */
#define IFS_SHARD_DEFAULT_WINDOW_LOG_MAX                                                           \
    31 /* zstd's format maximum (64-bit): 2 GiB, so
                                                  shards written with zstd --long=31 are read */

typedef struct {
    size_t max_line_bytes; /* 0 -> IFS_SHARD_DEFAULT_MAX_LINE */
    int window_log_max;    /* 0 -> IFS_SHARD_DEFAULT_WINDOW_LOG_MAX (10..31) */
    /* A second pass over a shard whose frame failed its checksum in a first
     * pass (stats.checksum_failed): with reject_frame set, every line
     * delivered once the zstd frame starting at compressed offset
     * reject_frame_at has begun (each holds at least one byte of it) is
     * delivered with reason zstd_checksum, data NULL, its detail naming the
     * frame's bytes [reject_frame_at, reject_frame_end). That frame is
     * decoded to its end with its checksum ignored (so every line of it is
     * delivered whatever path zstd takes), and the shard ends there as in
     * the first pass: stats.checksum_failed, one closing zstd_checksum line
     * for what follows (not read). */
    int reject_frame;
    uint64_t reject_frame_at, reject_frame_end;
    /* ifs_shard_open/next only: bytes per read(2) (0 -> ZSTD_DStreamInSize,
     * ~128 KiB), and a callback that sees every byte read from the file,
     * in order (e.g. to hash the file in the same pass); NULL: none. */
    size_t read_bytes;
    void (*on_read)(void *ctx, const void *bytes, size_t n);
    void *read_ctx;
} ifs_shard_opts;

/* Return values of ifs_shard_decode / ifs_shard_next. */
enum {
    IFS_SHARD_END = 0,   /* no more lines: end of stream or after a stream-error line */
    IFS_SHARD_LINE = 1,  /* *line filled */
    IFS_SHARD_MORE = 2,  /* decode only: input used up, give more (or set last) */
    IFS_SHARD_EARG = -1, /* NULL argument, or in->pos > in->size */
    IFS_SHARD_ENOMEM = -2,
    IFS_SHARD_EIO = -3, /* open only: the file could not be opened */
};
/* Words for the status codes above; static storage. */
const char *ifs_shard_strerror(int status);

typedef struct {
    const char *data;         /* borrowed, NUL-terminated; NULL when reason != NONE */
    size_t len;               /* bytes, without '\n' and a dropped '\r' */
    uint64_t line_no;         /* 1-based */
    uint64_t offset;          /* decompressed byte offset of the line's first byte */
    uint64_t comp_offset;     /* compressed offset (see above) */
    ifs_reject_reason reason; /* NONE, LINE_TOO_LONG, ZSTD_CORRUPT, ZSTD_CHECKSUM,
                                 ZSTD_TRUNCATED, IO_ERROR, UNSUPPORTED_COMPRESSION */
    char detail[192];         /* words for a reject ("" for a good line) */
} ifs_shard_line;

typedef enum {
    IFS_SHARD_OK = 0, /* read to the end, or still reading */
    IFS_SHARD_CORRUPT =
        1, /* a zstd error (corruption, checksum, window too large, junk after a frame) */
    IFS_SHARD_TRUNCATED = 2, /* input ended inside a zstd frame */
    IFS_SHARD_IOERR = 3,     /* read(2) failed */
    IFS_SHARD_FORMAT = 4,    /* starts with another compressor's magic (gzip, xz, bzip2, lz4) */
} ifs_shard_status;

typedef struct {
    int is_zstd;     /* format detected (0 before the first bytes) */
    uint64_t frames; /* zstd frames started (skippable ones included) */
    uint64_t skippable_frames;
    uint64_t checksummed_frames; /* frames whose header sets the content checksum flag */
    uint64_t bytes_in;           /* compressed (file) bytes consumed */
    uint64_t bytes_out;          /* decompressed bytes */
    uint64_t lines;              /* lines delivered, rejects included */
    uint64_t too_long;           /* of which line_too_long */
    ifs_shard_status status;
    int checksum_failed;         /* status CORRUPT because a frame's content checksum did not
                                match: error_frame_offset is where that frame starts */
    uint64_t error_comp_offset;  /* status != OK: compressed offset the decoder had reached;
                                   a corrupt byte lies at or after it (zstd does not say
                                   where inside the chunk it was given); for a truncation,
                                   the end of the input */
    uint64_t error_frame_offset; /* status != OK: compressed offset where the frame being
                                   decoded began (for junk after a frame: where the junk starts) */
    char error[192];             /* status != OK: words, naming the offsets */
} ifs_shard_stats;

typedef struct ifs_shard_reader ifs_shard_reader;

/* A reader without a file, for ifs_shard_decode. opts may be NULL (defaults).
 * Returns NULL when out of memory. */
ifs_shard_reader *ifs_shard_create(const ifs_shard_opts *opts);

typedef struct {
    const void *src; /* borrowed for the call */
    size_t size;
    size_t pos; /* updated: bytes of src consumed */
    int last; /* 1: no bytes follow this chunk's (set it with the final chunk, which may be empty) */
} ifs_shard_input;

/* Deliver the next line from the input given so far. Returns IFS_SHARD_LINE
 * (line filled), IFS_SHARD_MORE (every byte of in consumed and last == 0:
 * call again with more; lines already decoded are never held back), or
 * IFS_SHARD_END (finished; further calls return END and consume nothing),
 * or IFS_SHARD_EARG / IFS_SHARD_ENOMEM. */
int ifs_shard_decode(ifs_shard_reader *r, ifs_shard_input *in, ifs_shard_line *line);

/* Open a file ("-" = stdin, which is not closed at free). Returns 0 and *out,
 * or IFS_SHARD_EIO / IFS_SHARD_ENOMEM with words in err naming the path. */
int ifs_shard_open(const char *path, const ifs_shard_opts *opts, ifs_shard_reader **out, char *err,
                   size_t errlen);
/* Next line of an opened file: IFS_SHARD_LINE, IFS_SHARD_END, or < 0.
 * A read(2) failure is an io_error line followed by END (not a return < 0). */
int ifs_shard_next(ifs_shard_reader *r, ifs_shard_line *line);
/* After END: reads what is left of the opened file (bytes after a stream
 * error, which the decoder never takes) through opts.on_read, so a hash
 * fed by it covers the whole file. Returns 0, or -1 with errno set. */
int ifs_shard_read_rest(ifs_shard_reader *r);

void ifs_shard_get_stats(const ifs_shard_reader *r, ifs_shard_stats *st);
/* Closes the file (not stdin) and frees. NULL ok. */
void ifs_shard_free(ifs_shard_reader *r);

/* ---------------------------------------------------------------------------
 * Writer: lines or raw bytes out, plain or zstd (content checksum on), to a
 * temporary file renamed into place by ifs_shard_writer_close (see ifs_io.h).
 * "-" writes to stdout.
 *
 *     ifs_shard_writer *w;
 *     ifs_shard_writer_open("scores.jsonl.zst", NULL, &w, err, sizeof err);
 *     ifs_shard_writer_line(w, "{\"id\":\"a\",\"p\":0.93}", 20);
 *     ifs_shard_writer_close(w, &ws, err, sizeof err);   // atomic: now it exists
 *     ifs_shard_writer_free(w);
 */
typedef struct {
    int compress;         /* -1 (default): zstd when the path ends in ".zst"; 0 plain; 1 zstd */
    int level;            /* zstd level; 0 -> 3 */
    int checksum;         /* -1 (default) -> on; 0 off; 1 on */
    uint64_t frame_bytes; /* end a frame after this many input bytes, at a line end
                            when writing lines; 0 = one frame */
} ifs_shard_writer_opts;

/* Defaults: compress -1, level 3, checksum on, frame_bytes 0. */
void ifs_shard_writer_opts_init(ifs_shard_writer_opts *o);

typedef struct {
    uint64_t lines;     /* ifs_shard_writer_line calls */
    uint64_t bytes_in;  /* uncompressed bytes written */
    uint64_t bytes_out; /* bytes in the file (compressed size for zstd) */
    uint64_t frames;    /* zstd frames written (0 for plain) */
} ifs_shard_writer_stats;

typedef struct ifs_shard_writer ifs_shard_writer;

/* opts NULL = defaults. Returns 0 and *out, or -1 with words in err. */
int ifs_shard_writer_open(const char *path, const ifs_shard_writer_opts *opts,
                          ifs_shard_writer **out, char *err, size_t errlen);
/* Raw bytes (no newline added). Returns 0, or -1 (error kept for close). */
int ifs_shard_writer_write(ifs_shard_writer *w, const void *data, size_t len);
/* One line: data[0..len) then '\n'. data must not contain '\n' (-1 if it does). */
int ifs_shard_writer_line(ifs_shard_writer *w, const char *data, size_t len);
/* End the current zstd frame now (no-op for plain or when nothing was written
 * since the last frame). Returns 0 or -1. */
int ifs_shard_writer_end_frame(ifs_shard_writer *w);
void ifs_shard_writer_get_stats(const ifs_shard_writer *w, ifs_shard_writer_stats *st);
/* Finish the frame, flush, fsync, rename, fsync the directory. Returns 0 and
 * fills st (may be NULL), or -1 with words in err (nothing appears at path).
 * Call once; free after. */
int ifs_shard_writer_close(ifs_shard_writer *w, ifs_shard_writer_stats *st, char *err,
                           size_t errlen);
/* Frees; when not closed successfully, removes the temporary file. NULL ok. */
void ifs_shard_writer_free(ifs_shard_writer *w);

#ifdef __cplusplus
}
#endif

#endif
