/*
 * tok_identity.c - a canonical byte serialization of everything in a loaded
 * tokenizer that changes the ids it produces, for callers to hash (the resume
 * fingerprint, the report's classifier identity). The tokenizer hashes
 * nothing itself: it includes nothing outside tokenizer/.
 *
 * Format "ifscore-tok-identity-2" (every integer a 4-byte little-endian
 * two's-complement value, every string a 4-byte length then its bytes):
 *   magic "ifscore-tok-identity-2\n"
 *   do_lower_case, strip_accents (as configured, -1/0/1), resolved strip,
 *   tokenize_chinese_chars, model_max_length
 *   cls_id, sep_id, pad_id, unk_id
 *   n_vocab, then per id in id order: the token (length 0xFFFFFFFF for a gap)
 *   n_specials, then per special/added token matched raw (normalized=false)
 *   in load order: text, id
 *   n_normalized, then per added token with normalized=true in load order:
 *   its content as written, its normalized form (what is matched), id
 * Version 1 had no normalized list (the loader refused normalized=true).
 * The other flags are not kept: single_word=true is refused at load, and
 * lstrip/rstrip never change ids (tok_load.c). A change to the loader that
 * keeps a flag must add it here and bump the version.
 */
#include <string.h>

#include "tok_internal.h"

static void put_i32(void (*put)(void *, const void *, size_t), void *ctx, int64_t v)
{
    uint32_t u = (uint32_t)v;
    unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                          (unsigned char)(u >> 24)};
    put(ctx, b, 4);
}

static void put_str(void (*put)(void *, const void *, size_t), void *ctx, const char *s, size_t n)
{
    put_i32(put, ctx, (int64_t)n);
    if (n)
        put(ctx, s, n);
}

int ifs_tok_identity(const ifs_tok *t, void (*put)(void *ctx, const void *bytes, size_t n),
                     void *ctx)
{
    if (!t || !put)
        return IFS_TOK_EARG;
    static const char magic[] = IFS_TOK_IDENTITY_FORMAT "\n";
    put(ctx, magic, sizeof magic - 1);
    put_i32(put, ctx, t->cfg.do_lower_case);
    put_i32(put, ctx, t->cfg.strip_accents);
    put_i32(put, ctx, t->strip);
    put_i32(put, ctx, t->cfg.tokenize_chinese_chars);
    put_i32(put, ctx, t->cfg.model_max_length);
    put_i32(put, ctx, t->cls_id);
    put_i32(put, ctx, t->sep_id);
    put_i32(put, ctx, t->pad_id);
    put_i32(put, ctx, t->unk_id);
    put_i32(put, ctx, t->n_vocab);
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (!t->id2tok[i])
            put_i32(put, ctx, (int64_t)0xFFFFFFFFu);
        else
            put_str(put, ctx, t->id2tok[i], strlen(t->id2tok[i]));
    }
    put_i32(put, ctx, t->n_specials);
    for (int i = 0; i < t->n_specials; i++) {
        put_str(put, ctx, t->specials[i].text, t->specials[i].len);
        put_i32(put, ctx, t->specials[i].id);
    }
    put_i32(put, ctx, t->n_nspecials);
    for (int i = 0; i < t->n_nspecials; i++) {
        put_str(put, ctx, t->nspecials[i].raw, strlen(t->nspecials[i].raw));
        put_str(put, ctx, t->nspecials[i].text, t->nspecials[i].len);
        put_i32(put, ctx, t->nspecials[i].id);
    }
    return IFS_TOK_OK;
}
