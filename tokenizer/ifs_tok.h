/*
 * ifs_tok.h - BERT tokenizer (BasicTokenizer + WordPiece), token-for-token
 * identical to HuggingFace BertTokenizerFast (tokenizers 0.23): special and
 * added tokens matched in the raw text (normalized=true ones in the normalized
 * text; single_word=true is refused at load), clean_text, CJK splitting, NFD + accent stripping,
 * Rust lowercasing, BERT punctuation, greedy WordPiece with "##", words over
 * 100 chars to [UNK]. Where the slow Python BertTokenizer differs (final
 * sigma, private-use and unassigned code points) we follow the fast one; see
 * tests/tokenizer/hard_cases.json. Character classes are probed from HF itself
 * (scripts/gen_tok_tables.py), so Unicode versions match HF's, not utf8proc's.
 *
 * Usage:
 *
 *     char err[256];
 *     ifs_tok *tok = ifs_tok_load("models/minilm", NULL, err, sizeof err);
 *     if (!tok) { fprintf(stderr, "%s\n", err); return 1; }
 *     ifs_tok_state *st = ifs_tok_state_create(tok);     // one per thread
 *     int32_t ids[512], n;
 *     ifs_tok_result r;
 *     int rc = ifs_tok_encode(tok, st, text, len, 512, ids, NULL, &n, &r);
 *     if (rc == IFS_TOK_EUTF8) printf("invalid UTF-8 at byte %zu\n", r.bad_offset);
 *     ifs_tok_state_free(st);
 *     ifs_tok_free(tok);
 *
 * Ownership and threads:
 *   - ifs_tok is immutable after ifs_tok_load: share one across threads.
 *   - ifs_tok_state is per-thread scratch (grows, never shrinks); never shared.
 *   - Every *_free accepts NULL.
 *   - Output arrays are caller-owned; the library never keeps pointers to them.
 *   - The library never prints and never exits.
 */
#ifndef IFS_TOK_H
#define IFS_TOK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Files read by the loaders (vocab.txt, tokenizer.json,
 * tokenizer_config.json) must be regular files (a FIFO, directory or device,
 * e.g. a symlink to /dev/zero, is refused without blocking: opened with
 * O_NONBLOCK, then fstat) of at most this many bytes; errors name the file. */
#define IFS_TOK_MAX_FILE_BYTES ((uint64_t)64 << 20) /* 64 MiB */

/* Status codes (0 = success). ifs_tok_strerror() names them. */
enum {
    IFS_TOK_OK = 0,
    IFS_TOK_EUTF8 = -1,   /* input is not valid UTF-8; result.bad_offset is set */
    IFS_TOK_EARG = -2,    /* bad argument (NULL, max_len < 2 or 3 for pairs) */
    IFS_TOK_ENOMEM = -3,  /* allocation failed */
    IFS_TOK_EIO = -4,     /* vocab / config could not be read (load only) */
    IFS_TOK_EFORMAT = -5, /* vocab / config malformed (load only) */
};

/* Settings that HF reads from tokenizer_config.json. ifs_tok_load fills a
 * default (BERT uncased, 512) then overrides from tokenizer_config.json (or,
 * when that is absent, tokenizer.json's BertNormalizer); pass a non-NULL
 * `override` to force settings (fields < 0 mean "keep"; so an override can set
 * strip_accents to 0 or 1 but not back to -1). A checkpoint that says "no
 * limit" (model_max_length 1e30) gets INT32_MAX: pass an explicit max_len. */
typedef struct {
    int do_lower_case;          /* 1 lowercases (and strips accents unless strip_accents == 0) */
    int strip_accents;          /* -1 = follow do_lower_case (HF's None), 0, 1 */
    int tokenize_chinese_chars; /* 1 puts spaces around CJK ideographs */
    int model_max_length;       /* default truncation length incl. [CLS]/[SEP] */
} ifs_tok_config;

typedef struct {
    size_t bad_offset;     /* IFS_TOK_EUTF8: byte offset where the first ill-formed UTF-8
                             sequence starts (as Python's UnicodeDecodeError.start) */
    int32_t n_untruncated; /* truncated == 0: the tokens of the text (incl. specials), exactly.
                             truncated == 1: a lower bound, > *n_ids: encoding stops once
                             the ids that survive truncation are known (at the next word
                             boundary), so the rest is never counted. No output of ifscore
                             shows it; use `truncated` as the flag. */
    int truncated;         /* 1 when tokens were dropped (exact) */
} ifs_tok_result;

typedef struct ifs_tok ifs_tok;
typedef struct ifs_tok_state ifs_tok_state;

/* Loads vocab.txt (or, when absent, the WordPiece vocab of tokenizer.json) and
 * tokenizer_config.json from checkpoint directory `dir`. `override` may be
 * NULL. Returns NULL on failure with a message naming the file and line in
 * err (err may be NULL). Caller frees with ifs_tok_free. */
ifs_tok *ifs_tok_load(const char *dir, const ifs_tok_config *override, char *err, size_t errlen);
/* Loads from an explicit vocab.txt path with explicit settings. */
ifs_tok *ifs_tok_load_vocab(const char *vocab_path, const ifs_tok_config *cfg, char *err,
                            size_t errlen);
void ifs_tok_free(ifs_tok *tok);

const ifs_tok_config *ifs_tok_get_config(const ifs_tok *tok);
int32_t ifs_tok_vocab_size(const ifs_tok *tok);
int32_t ifs_tok_cls_id(const ifs_tok *tok);
int32_t ifs_tok_sep_id(const ifs_tok *tok);
int32_t ifs_tok_pad_id(const ifs_tok *tok);
int32_t ifs_tok_unk_id(const ifs_tok *tok);
/* Token string for an id, or NULL when out of range. Borrowed from tok. */
const char *ifs_tok_id_to_token(const ifs_tok *tok, int32_t id);

ifs_tok_state *ifs_tok_state_create(const ifs_tok *tok);
void ifs_tok_state_free(ifs_tok_state *st);

/* Encodes one text as [CLS] tokens [SEP], truncated to max_len ids
 * (max_len <= 0 means the config's model_max_length). Only the start of the
 * text is encoded: it stops after the word that gives max_len - 1 WordPiece
 * ids (one more than fit, so `truncated` is exact); the rest is only checked
 * for valid UTF-8, so the status is that of encoding the whole text.
 * ids: caller array of at least max_len entries; type_ids: NULL or same size
 * (all 0 for a single text). *n_ids receives the count. `res` may be NULL.
 * Returns IFS_TOK_OK, IFS_TOK_EUTF8 (nothing written to ids), IFS_TOK_EARG,
 * IFS_TOK_ENOMEM. */
int ifs_tok_encode(const ifs_tok *tok, ifs_tok_state *st, const char *text, size_t len,
                   int32_t max_len, int32_t *ids, int32_t *type_ids, int32_t *n_ids,
                   ifs_tok_result *res);

/* Encodes a pair as [CLS] a [SEP] b [SEP] with type ids 0.../1..., truncated
 * with HF's default `longest_first` strategy. Same contract as
 * ifs_tok_encode; on IFS_TOK_EUTF8 res->bad_offset is the offset in the
 * invalid text and *bad_in_b (may be NULL) is 0 for a, 1 for b (a is checked
 * whole before b). Equals HF's tok(a, b, truncation="longest_first",
 * max_length=max_len). Work is bounded as in ifs_tok_encode_pair_cap. */
int ifs_tok_encode_pair(const ifs_tok *tok, ifs_tok_state *st, const char *a, size_t alen,
                        const char *b, size_t blen, int32_t max_len, int32_t *ids,
                        int32_t *type_ids, int32_t *n_ids, ifs_tok_result *res, int *bad_in_b);

/* As ifs_tok_encode_pair, with a cap of the first text's own: a's WordPiece
 * ids are cut to at most a_max (a_max 0 = no cap) before the pair is
 * truncated longest_first to max_len. It gives the fast (Rust) tokenizer's
 *   bt = tok.backend_tokenizer            # tok = AutoTokenizer.from_pretrained
 *   bt.no_padding(); bt.no_truncation()
 *   ea = bt.encode(a, add_special_tokens=False); ea.truncate(a_max)  # if a_max
 *   eb = bt.encode(b, add_special_tokens=False)
 *   bt.enable_truncation(max_len, strategy="longest_first")
 *   bt.post_process(ea, eb, add_special_tokens=True).ids
 * (with a_max 0, the same as tok(a, b, truncation="longest_first",
 * max_length=max_len); tests/tokenizer/parity_tok_corpus checks both on the
 * corpus, parity_tok_cases on tests/tokenizer/hard_cases.json's capped pairs
 * (scripts/ref_tokenize.py pair_cap_ids)). When a_max <= (max_len - 3) / 2 the instruction keeps its first
 * a_max ids and the response fills the rest (its start is kept).
 * Note: transformers 5's slow BertTokenizerLegacy.prepare_for_model(ids_a,
 * ids_b, truncation="longest_first") differs when both texts are longer than
 * half the room and the room is odd: it gives the odd id to a always, the
 * fast tokenizer (and we) to the longer text (b on a tie).
 * Work: a is encoded to min(a_max, max_len - 3) + 1 ids, b to max_len - 2
 * (tok_encode.c proves that enough from longest_first's definition), except
 * when both exceed the room and the room is odd: then the longer one gets the
 * odd id and the rest of each is counted (ids not stored).
 * res->n_untruncated counts a's ids before the cap (a lower bound when
 * truncated, as for ifs_tok_encode); res->truncated is 1 when either text lost
 * ids (the cap included). a_max < 0 is IFS_TOK_EARG. */
int ifs_tok_encode_pair_cap(const ifs_tok *tok, ifs_tok_state *st, const char *a, size_t alen,
                            const char *b, size_t blen, int32_t max_len, int32_t a_max,
                            int32_t *ids, int32_t *type_ids, int32_t *n_ids, ifs_tok_result *res,
                            int *bad_in_b);

/* WordPiece ids of one text with no specials and no truncation, into the
 * state's buffer. *ids is borrowed from st until the next call on st.
 * Returns IFS_TOK_OK, IFS_TOK_EUTF8 (*bad_offset set when bad_offset is not
 * NULL), IFS_TOK_EARG (NULL tok/st/ids/n_ids, or NULL text with len > 0),
 * IFS_TOK_ENOMEM. */
int ifs_tok_tokenize(const ifs_tok *tok, ifs_tok_state *st, const char *text, size_t len,
                     const int32_t **ids, int32_t *n_ids, size_t *bad_offset);

const char *ifs_tok_strerror(int rc);

#ifdef __cplusplus
}
#endif
/* ---- identity (appended) -------------------------------------------------------
 * ifs_tok_identity streams a canonical, versioned byte serialization of
 * everything in `tok` that changes ids (format IFS_TOK_IDENTITY_FORMAT,
 * described in tok_identity.c): settings, special ids, the vocab in id order,
 * special and added tokens with their ids (normalized ones with their
 * normalized form). Callers hash the bytes (the
 * tokenizer hashes nothing). `put` is called synchronously, any number of
 * times, with bytes borrowed for the call; `ctx` is passed through. Returns
 * IFS_TOK_OK, or IFS_TOK_EARG for a NULL tok or put (put never called). */
#define IFS_TOK_IDENTITY_FORMAT "ifscore-tok-identity-2"
#ifdef __cplusplus
extern "C" {
#endif
int ifs_tok_identity(const ifs_tok *tok, void (*put)(void *ctx, const void *bytes, size_t n),
                     void *ctx);
#ifdef __cplusplus
}
#endif
#endif /* IFS_TOK_H */
