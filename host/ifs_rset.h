/*
 * ifs_rset.h - a response set loaded for training (train-head): the records
 * of `ifscore build-responses` (JSONL: text, label 0|1, split
 * train|validation|test|holdout, kind, and for pairs an instruction)
 * tokenized once, the encoder features a backend computes from them, and
 * the file cache of those features.
 *
 *     ifs_rset d = { 0 };
 *     ifs_rset_opts o = { "text", NULL, 64, 0 };
 *     if (ifs_rset_load(&d, "rs.jsonl", 0, tok, st, &o, err, sizeof err)) ...;
 *     float *X = malloc(ifs_rset_feature_rows(&d, depth) * hidden * sizeof *X);
 *     unsigned char hdr[IFS_RSET_CACHE_HDR];
 *     ifs_rset_cache_header(&d, depth, hidden, ifs_wts_fingerprint(m), hdr);
 *     if (!ifs_rset_cache_load(path, hdr, X, n_floats)
 *         && !ifs_rset_features(bk, &d, hidden, depth, 8192, 1024, X, NULL, NULL, err, sizeof err))
 *         ifs_rset_cache_save(path, hdr, X, n_floats, err, sizeof err);
 *     ifs_rset_free(&d);
 *
 * Ownership: an ifs_rset owns its arrays (ifs_rset_free); every other
 * pointer is the caller's and is not kept. Nothing here prints or exits;
 * errors name the file and line (or byte offset) in the caller's buffer.
 */
#ifndef IFS_RSET_H
#define IFS_RSET_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_backend.h"
#include "ifs_tok.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A record's "kind": its source in the response set. The first four are
 * fixed; every other kind string a set holds gets the next number, in the
 * order first seen (up to IFS_RSET_MAX_KINDS; later ones are "other"). */
typedef enum {
    IFS_RSET_KIND_R = 0,     /* a response to its instruction (label 1) */
    IFS_RSET_KIND_IC = 1,    /* a cut instruction (label 0) */
    IFS_RSET_KIND_ICR = 2,   /* a cut instruction, then the response (label 0) */
    IFS_RSET_KIND_OTHER = 3, /* absent, not a string, or beyond the table */
    IFS_RSET_FIXED_KINDS = 4
} ifs_rset_kind;
#define IFS_RSET_MAX_KINDS 64
#define IFS_RSET_KIND_LEN 32 /* longer kind strings are "other" */

/* How records are encoded. */
typedef struct {
    const char *text_field;  /* the response (train-head --text-field, "text") */
    const char *instr_field; /* NULL: the response alone; else the instruction of a pair:
                                [CLS] instruction [SEP] response [SEP], types 0 / 1 */
    int max_len;             /* ids per record, specials included */
    int32_t instr_max;       /* pairs: the instruction cut to this many ids first
                                (ifs_tok_encode_pair_cap); 0 = no cap of its own */
} ifs_rset_opts;

typedef struct {
    size_t n;       /* records */
    int32_t *label; /* [n] 0 or 1 */
    uint8_t *split; /* [n] IFS_SPLIT_* (ifs_train.h) */
    uint8_t *kind;  /* [n] ifs_rset_kind or a later number (ifs_rset_kind_name) */
    uint64_t *line; /* [n] line number in its file */
    uint16_t *file; /* [n] the file_no it was loaded with */
    int32_t *off;   /* [n + 1] record i is ids[off[i], off[i+1]) */
    int32_t *ids;
    int32_t *types;          /* beside ids for pairs (0 instruction, 1 response); NULL: all 0 */
    uint64_t lines, skipped; /* lines read, blank lines skipped */
    int n_kinds;             /* kinds named so far (0 before the first load: the fixed four) */
    char kind_names[IFS_RSET_MAX_KINDS][IFS_RSET_KIND_LEN];
    size_t cap, ids_cap; /* private */
} ifs_rset;

/* The name of kind k of d ("R", "Ic", "Ic+R", "other", then the set's
 * own); NULL outside [0, n_kinds). */
const char *ifs_rset_kind_name(const ifs_rset *d, int k);

/* Appends the records of one response-set file (.jsonl or .jsonl.zst) to
 * d (zeroed before the first call). A line that is not a usable record is
 * an error naming the file and line (a training set is our own output, so
 * a bad line means the wrong file, not noise to skip): not JSON, no string
 * text field, a label other than 0/1, a split other than train,
 * validation, test and holdout, no
 * string instruction in pair mode, invalid UTF-8 (which text says), bad
 * bytes from the reader. Returns 0, or -1 with words in err (d keeps the
 * records before the bad line). */
int ifs_rset_load(ifs_rset *d, const char *path, int file_no, const ifs_tok *tok, ifs_tok_state *st,
                  const ifs_rset_opts *o, char *err, size_t errlen);
void ifs_rset_free(ifs_rset *d); /* NULL ok; d is zeroed */

/* Rows of features: n for depth < 0 (one [CLS] row each), else every
 * token (off[n]). */
size_t ifs_rset_feature_rows(const ifs_rset *d, int depth);

/* Called after each feature batch when non-NULL. */
typedef void (*ifs_rset_progress)(void *ctx, size_t done, size_t total);

/* depth < 0: X[i] = the last encoder layer's [CLS] row of record i
 * (ifs_backend_forward's cls_hidden). depth >= 0: X rows [off[i], off[i+1])
 * = every row of record i after `depth` encoder layers (ifs_backend_encode).
 * Token types go with the ids. Batches are length-sorted and
 * token-budgeted (max_tokens, max_seqs: at most the backend's); the
 * features do not depend on batch composition (the backends keep sequences
 * independent). Returns 0, or -1 with words in err. */
int ifs_rset_features(ifs_backend *bk, const ifs_rset *d, int hidden, int depth, int32_t max_tokens,
                      int32_t max_seqs, float *X, ifs_rset_progress progress, void *ctx, char *err,
                      size_t errlen);

/* The feature cache. Features depend only on the encoder and the token ids
 * (and types), so a cache keyed by both lets training be rerun (other
 * seeds, learning rates) without the forward passes, nearly all of
 * train-head's time on a CPU. File: 8 bytes of magic ("IFSFEAT1" for
 * [CLS] features, "IFSHIDnn" for every row after nn layers), u64 n, u32
 * hidden, the encoder fingerprint (64 hex), the sha256 (64 hex) of the
 * offsets, ids and, for pairs, "pair" and the types; then the floats. */
#define IFS_RSET_CACHE_HDR (8 + 8 + 4 + 64 + 64)
void ifs_rset_cache_header(const ifs_rset *d, int depth, uint32_t hidden, const char *enc_fp,
                           unsigned char hdr[IFS_RSET_CACHE_HDR]);
/* 1 when `path` holds features for exactly this header (loaded into X,
 * n_floats of them), 0 when it is absent or for other inputs. */
int ifs_rset_cache_load(const char *path, const unsigned char *hdr, float *X, size_t n_floats);
/* Writes the cache atomically. Returns 0, or -1 with words in err. */
int ifs_rset_cache_save(const char *path, const unsigned char *hdr, const float *X, size_t n_floats,
                        char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_RSET_H */
