/*
 * src.c - a byte source over a plain, zstd- or gzip-compressed file, for the
 * importers' JSON arrays (the shard reader hands out lines, and one array
 * element spans many lines, or one minified line holds a whole 100 MB array).
 * gzip is there because chat data is published that way (Anthropic's HH
 * transcripts are .jsonl.gz); ifscore writes zstd only.
 *
 * Follows ../shared/docs/reliability.md on zstd: a file that ends inside a
 * frame is an error (ZSTD_decompressStream's last hint was non-zero), frames
 * are read back to back until the file ends, skippable frames are passed
 * over by the library, and errors name the file and the compressed offset.
 * Buffers are ZSTD_DStreamInSize() and the caller's: memory is constant.
 * gzip gets the same rules through zlib: members are read back to back
 * (concatenated .gz files are one stream, as gunzip reads them), a file that
 * ends inside a member is truncated, and bytes after a member that do not
 * start another one are corruption (gunzip only warns about them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "ifs_ds.h"

struct ifs_ds_src {
    FILE *f;
    int own;  /* fclose at the end (not stdin) */
    int zstd; /* -1 until the first bytes are seen */
    int gzip; /* 1: gzip members (zstd is then 0) */
    ZSTD_DCtx *dctx;
    z_stream zs;
    int zs_init;   /* inflateInit2 succeeded */
    int in_member; /* gzip: inside a member (its end not reached yet) */
    char *in;
    size_t in_cap, in_len, in_pos;
    uint64_t consumed; /* compressed bytes handed to zstd (or read, when plain) */
    size_t last_hint;  /* ZSTD_decompressStream's last return */
    int eof;
    char path[256];
    char err[384];
};

ifs_ds_src *ifs_ds_src_open(const char *path, char *err, size_t errlen)
{
    ifs_ds_src *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    if (!strcmp(path, "-")) {
        s->f = stdin;
    } else {
        s->f = fopen(path, "rb");
        s->own = 1;
    }
    s->in_cap = ZSTD_DStreamInSize();
    s->in = malloc(s->in_cap);
    if (!s->f || !s->in) {
        snprintf(err, errlen, "%s: %s", path, s->f ? "out of memory" : strerror(errno));
        ifs_ds_src_close(s);
        return NULL;
    }
    s->zstd = -1;
    return s;
}

void ifs_ds_src_close(ifs_ds_src *s)
{
    if (!s)
        return;
    if (s->f && s->own)
        fclose(s->f);
    ZSTD_freeDCtx(s->dctx);
    if (s->zs_init)
        inflateEnd(&s->zs);
    free(s->in);
    free(s);
}

const char *ifs_ds_src_error(const ifs_ds_src *s)
{
    return s ? s->err : "no source";
}

int ifs_ds_src_is_zstd(const ifs_ds_src *s)
{
    return s && s->zstd == 1;
}

int ifs_ds_src_is_gzip(const ifs_ds_src *s)
{
    return s && s->gzip;
}

uint64_t ifs_ds_src_compressed_bytes(const ifs_ds_src *s)
{
    return s ? s->consumed : 0;
}

/* Refills the input buffer; 0 ok (in_len may be 0 at EOF), else EIO. */
static int refill(ifs_ds_src *s)
{
    if (s->in_pos < s->in_len)
        return 0;
    s->in_pos = s->in_len = 0;
    if (s->eof)
        return 0;
    size_t n = fread(s->in, 1, s->in_cap, s->f);
    if (n < s->in_cap) {
        if (ferror(s->f)) {
            snprintf(s->err, sizeof s->err, "%s: read error at byte %llu: %s", s->path,
                     (unsigned long long)s->consumed, strerror(errno));
            return IFS_DS_EIO;
        }
        s->eof = 1;
    }
    s->in_len = n;
    return 0;
}

static int is_zstd_magic(const unsigned char *b)
{
    uint32_t m = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return m == 0xFD2FB528u || (m & 0xFFFFFFF0u) == 0x184D2A50u;
}

static int read_gzip(ifs_ds_src *s, char *buf, size_t cap, size_t *n)
{
    while (*n == 0 && cap) {
        int rc = refill(s);
        if (rc)
            return rc;
        if (s->in_len == 0) {
            if (s->in_member) {
                snprintf(s->err, sizeof s->err,
                         "%s: truncated gzip member: the file ends at byte %llu inside it", s->path,
                         (unsigned long long)s->consumed);
                return IFS_DS_ETRUNC;
            }
            return 0;
        }
        if (!s->in_member) {
            /* Between members: the next bytes must start another one. A
             * lone last byte cannot be judged yet: wait for more or EOF. */
            if (s->in_len - s->in_pos < 2 && !s->eof) {
                memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
                s->in_len -= s->in_pos;
                s->in_pos = 0;
                size_t got = fread(s->in + s->in_len, 1, s->in_cap - s->in_len, s->f);
                if (got == 0) {
                    if (ferror(s->f)) {
                        snprintf(s->err, sizeof s->err, "%s: read error: %s", s->path,
                                 strerror(errno));
                        return IFS_DS_EIO;
                    }
                    s->eof = 1;
                }
                s->in_len += got;
                continue;
            }
            const unsigned char *b = (const unsigned char *)s->in + s->in_pos;
            if (s->in_len - s->in_pos < 2 || b[0] != 0x1f || b[1] != 0x8b) {
                snprintf(s->err, sizeof s->err,
                         "%s: bytes after the gzip data at byte %llu are not another gzip member",
                         s->path, (unsigned long long)s->consumed);
                return IFS_DS_EFORMAT;
            }
            inflateReset(&s->zs);
            s->in_member = 1;
        }
        s->zs.next_in = (Bytef *)s->in + s->in_pos;
        s->zs.avail_in = (uInt)(s->in_len - s->in_pos);
        s->zs.next_out = (Bytef *)buf;
        s->zs.avail_out = (uInt)(cap < (size_t)1 << 30 ? cap : (size_t)1 << 30);
        int zr = inflate(&s->zs, Z_NO_FLUSH);
        size_t used = (s->in_len - s->in_pos) - s->zs.avail_in;
        s->in_pos += used;
        s->consumed += used;
        *n = (size_t)((char *)s->zs.next_out - buf);
        if (zr == Z_STREAM_END) {
            s->in_member = 0;
        } else if (zr != Z_OK && !(zr == Z_BUF_ERROR && (used || *n))) {
            snprintf(s->err, sizeof s->err, "%s: gzip error near compressed byte %llu: %s", s->path,
                     (unsigned long long)s->consumed,
                     s->zs.msg           ? s->zs.msg
                     : zr == Z_MEM_ERROR ? "out of memory"
                                         : "corrupt data");
            return zr == Z_MEM_ERROR ? IFS_DS_ENOMEM : IFS_DS_EFORMAT;
        }
    }
    return 0;
}

int ifs_ds_src_read(ifs_ds_src *s, char *buf, size_t cap, size_t *n)
{
    *n = 0;
    if (!s || !buf)
        return IFS_DS_EARG;
    if (s->zstd < 0) {
        /* Gather up to 4 bytes to look for a magic number. */
        while (s->in_len < 4 && !s->eof) {
            size_t got = fread(s->in + s->in_len, 1, 4 - s->in_len, s->f);
            if (got == 0) {
                if (ferror(s->f)) {
                    snprintf(s->err, sizeof s->err, "%s: read error: %s", s->path, strerror(errno));
                    return IFS_DS_EIO;
                }
                s->eof = 1;
            }
            s->in_len += got;
        }
        s->zstd = s->in_len == 4 && is_zstd_magic((const unsigned char *)s->in);
        s->gzip =
            s->in_len >= 2 && (unsigned char)s->in[0] == 0x1f && (unsigned char)s->in[1] == 0x8b;
        if (s->gzip) {
            /* 16 + MAX_WBITS: gzip wrapper only (no raw deflate, no zlib) */
            if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK) {
                snprintf(s->err, sizeof s->err, "out of memory");
                return IFS_DS_ENOMEM;
            }
            s->zs_init = 1;
        }
        if (s->zstd) {
            s->dctx = ZSTD_createDCtx();
            if (!s->dctx) {
                snprintf(s->err, sizeof s->err, "out of memory");
                return IFS_DS_ENOMEM;
            }
        }
    }
    if (s->gzip)
        return read_gzip(s, buf, cap, n);
    if (!s->zstd) {
        while (*n == 0) {
            int rc = refill(s);
            if (rc)
                return rc;
            if (s->in_len == 0)
                return 0;
            size_t k = s->in_len - s->in_pos < cap ? s->in_len - s->in_pos : cap;
            memcpy(buf, s->in + s->in_pos, k);
            s->in_pos += k;
            s->consumed += k;
            *n = k;
        }
        return 0;
    }
    while (*n == 0 && cap) {
        int rc = refill(s);
        if (rc)
            return rc;
        if (s->in_len == 0) {
            if (s->last_hint != 0) {
                snprintf(s->err, sizeof s->err,
                         "%s: truncated zstd frame: the file ends at byte %llu inside a frame",
                         s->path, (unsigned long long)s->consumed);
                return IFS_DS_ETRUNC;
            }
            return 0;
        }
        ZSTD_inBuffer in = {s->in, s->in_len, s->in_pos};
        ZSTD_outBuffer out = {buf, cap, 0};
        size_t before = in.pos;
        size_t r = ZSTD_decompressStream(s->dctx, &out, &in);
        if (ZSTD_isError(r)) {
            snprintf(s->err, sizeof s->err, "%s: zstd error near compressed byte %llu: %s", s->path,
                     (unsigned long long)s->consumed, ZSTD_getErrorName(r));
            ZSTD_DCtx_reset(s->dctx, ZSTD_reset_session_only);
            return IFS_DS_EFORMAT;
        }
        s->consumed += in.pos - before;
        s->in_pos = in.pos;
        s->last_hint = r;
        *n = out.pos;
    }
    return 0;
}
