/*
 * tok_internal.h - private: the tokenizer's structures, shared by tok_load.c
 * (vocab, trie, config) and tok_encode.c (the hot path). Tests may include
 * it for ifs_tok_pretokenize_debug; nothing else should.
 */
#ifndef IFS_TOK_INTERNAL_H
#define IFS_TOK_INTERNAL_H

#include <stdint.h>
#include <stddef.h>

#include "ifs_tok.h"

#define IFS_TOK_NONE 0xFFFFFFFFu
#define IFS_TOK_MAX_WORD_CHARS 100 /* HF WordPiece max_input_chars_per_word */
#define IFS_TOK_MAX_SPECIALS 64
#define IFS_TOK_NORM_CHUNK 512 /* norm mode: bytes of normalized text handled at a time */

/* ASCII byte classes, derived from the generated tables at load. */
enum { IFS_TOK_A_WORD = 0, IFS_TOK_A_SPACE, IFS_TOK_A_DEL, IFS_TOK_A_PUNCT };

typedef struct {
    char *text; /* owned, NUL-terminated: what is matched (for a normalized
                       token, its content after the normalizer) */
    size_t len;
    int32_t id;
    char *raw; /* normalized tokens: owned, the content as written; else NULL */
} ifs_tok_special;

/* One slot of the trie's edge hash: key, child and the child's token id side
 * by side, so a step of a word's walk touches one cache line (the table is
 * megabytes; a walk is one probe per byte). */
typedef struct {
    uint32_t key, child;
    int32_t id; /* node_id[child] */
} ifs_tok_edge;

/* One slot of the whole-token hash: the hash's high 32 bits (0 = empty
 * slot, never a stored value), the token id, and the key's kind and length
 * (ifs_tok_word_key), so a lookup compares only a key of its own kind and
 * length. */
typedef struct {
    uint32_t tag;
    int32_t id;
    uint32_t key;
} ifs_tok_word;

/* Bytes hashed (< 2^24: the trie's cap) and bit 31 for the rest of a "##". */
static inline uint32_t ifs_tok_word_key(int cont, size_t n)
{
    return (uint32_t)n | (cont ? 0x80000000u : 0u);
}

/* The key of the whole-token hash: `cont` 1 for the rest of a "##" token. */
static inline uint64_t ifs_tok_word_hash(int cont, const uint8_t *p, size_t n)
{
    uint64_t h = cont ? 0x9AE16A3B2F90404Full : 0xCBF29CE484222325ull; /* FNV-1a 64 */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

static inline uint32_t ifs_tok_word_tag(uint64_t h)
{
    uint32_t t = (uint32_t)(h >> 32);
    return t ? t : 1;
}

struct ifs_tok {
    ifs_tok_config cfg;
    int strip; /* resolved strip_accents */

    /* vocab: id -> token (pool of NUL-terminated strings); NULL gaps allowed */
    int32_t n_vocab;
    char **id2tok;
    char *pool;

    /* Byte trie of every token. Node 0 is the root. Edges from the root and
     * from the "##" node are direct arrays; the rest live in one
     * open-addressing hash keyed by (node << 8 | byte), so each byte of a
     * word costs one probe and no string is ever hashed as a whole. */
    uint32_t n_nodes;
    int32_t *node_id; /* token id ending at node, or -1 */
    uint32_t root_next[256];
    uint32_t cont_next[256]; /* children of the "##" node */
    uint32_t cont_node;      /* IFS_TOK_NONE when the vocab has no "##" */
    ifs_tok_edge *edges;     /* hash: key (node << 8 | byte) + 1, 0 = empty */
    uint32_t emask;

    /* Whole tokens by a hash of their bytes, so that a word that is itself a
     * token (most words: the first thing HF's greedy longest match tries) is
     * one probe instead of a walk of one probe per byte. A token "##rest" is
     * keyed as a continuation of "rest"; everything else by its bytes. */
    ifs_tok_word *words;
    uint32_t wmask;

    int32_t cls_id, sep_id, pad_id, unk_id;
    ifs_tok_special specials[IFS_TOK_MAX_SPECIALS];
    int n_specials;
    uint8_t special_first[256]; /* 1 when some special token starts with the byte */
    /* Added tokens with normalized=true (HF AddedVocabulary's second pass):
     * matched leftmost-longest in the normalized text of each piece between
     * raw matches; text is their normalized content. */
    ifs_tok_special nspecials[IFS_TOK_MAX_SPECIALS];
    int n_nspecials;
    size_t nspecial_maxlen; /* bytes of the longest normalized form */
    uint8_t nspecial_first[256];

    uint8_t ascii_class[128];
    uint8_t ascii_map[128]; /* lowercased when do_lower_case */
};

struct ifs_tok_state {
    int32_t *ids; /* WordPiece output of the current text */
    size_t ids_cap;
    int32_t *ids_b; /* second text of a pair */
    size_t ids_b_cap;
    char *word; /* current word, UTF-8 */
    size_t word_len, word_cap;
    int32_t word_chars;
    uint32_t *run; /* non-ASCII code points awaiting NFD ordering */
    size_t run_cap;
    /* normalized text of the current piece, when the tokenizer has
     * normalized added tokens (or when normalizing a token's content) */
    char *norm;
    size_t norm_len, norm_cap;
    int norm_only; /* ifs_tok_normalize: collect only, no added tokens */
    /* debug mode (tests): words are collected as text instead of ids */
    char *dbg;
    size_t dbg_len, dbg_cap;
    int debug;
};

/* Tests only: normalizes and pre-tokenizes `text` exactly as encoding does and
 * returns the words separated by single spaces (special tokens as written) in
 * *out, borrowed from st until the next call. Returns IFS_TOK_OK,
 * IFS_TOK_EUTF8 (with *bad_offset), IFS_TOK_ENOMEM. */
int ifs_tok_pretokenize_debug(const ifs_tok *tok, ifs_tok_state *st, const char *text, size_t len,
                              const char **out, size_t *out_len, size_t *bad_offset);

/* The normalizer alone (BertNormalizer: clean_text, CJK spacing, NFD +
 * accent stripping, lowercasing as configured), no added-token matching:
 * HF normalizes a normalized added token's content this way. *out is
 * borrowed from st until the next call. Returns IFS_TOK_OK, IFS_TOK_EUTF8,
 * IFS_TOK_ENOMEM. */
int ifs_tok_normalize(const ifs_tok *tok, ifs_tok_state *st, const char *text, size_t len,
                      const char **out, size_t *out_len);

#endif
