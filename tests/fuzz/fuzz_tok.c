/*
 * fuzz_tok.c - libFuzzer target for the tokenizer's entry points
 * (ifs_tok_tokenize, ifs_tok_encode, ifs_tok_encode_pair) on arbitrary bytes.
 *
 * Input: byte 0 picks one of 8 configs (lowercase x strip_accents x CJK
 * splitting), byte 1 the max length, byte 2 where a pair is cut; the rest is
 * the text. Besides memory errors (ASan/UBSan) it traps when:
 *   - the status disagrees with an independent strict UTF-8 check, or the
 *     reported offset is not where that check finds the first bad sequence;
 *   - an encoding breaks its frame ([CLS] first, [SEP] last, length within
 *     max_len, ids inside the vocab, type ids 0 then 1);
 *   - encode is not [CLS] + the first tokenize ids + [SEP], or its
 *     truncated flag is not exact, or n_untruncated is not the count (a
 *     lower bound above the ids kept when truncated: encoding stops early);
 *   - ifs_tok_encode_pair_cap (first-text cap from byte 0's high nibble, 0 =
 *     none) is not [CLS] a[:ka] [SEP] b[:kb] [SEP] of the untruncated ids,
 *     with ka, kb from longest_first written independently below.
 * The vocab is written at start-up: specials, every printable ASCII char with
 * and without "##", and a few multi-byte and multi-char tokens.
 *
 * Added tokens (issue 11 item 5): when byte 0 has bit 3 set, byte 3 gives a
 * count of 1..4 added tokens, each a length byte (1..4) then its bytes; they
 * are written into a checkpoint folder's tokenizer_config.json
 * (added_tokens_decoder, alternately special, normalized=true when the
 * length byte's bit 7 is set: matched on the normalized text) and loaded
 * with ifs_tok_load (a refused list skips the input); the rest is the text,
 * checked the same way. A hang is caught by libFuzzer's -timeout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ifs_tok.h"

static ifs_tok *toks[8];
static ifs_tok_state *st;
static char vocab_path[] = "/tmp/ifs-fuzz-tok-XXXXXX";
static char ckpt_dir[] = "/tmp/ifs-fuzz-tokdir-XXXXXX";

/* Independent strict UTF-8 check: offset of the first ill-formed sequence, or
 * SIZE_MAX when valid. Written as a table of allowed second-byte ranges. */
static size_t first_bad(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF)
            need = 1;
        else if (b == 0xE0) {
            need = 2;
            lo = 0xA0;
        } else if (b == 0xED) {
            need = 2;
            hi = 0x9F;
        } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
            need = 2;
        else if (b == 0xF0) {
            need = 3;
            lo = 0x90;
        } else if (b >= 0xF1 && b <= 0xF3)
            need = 3;
        else if (b == 0xF4) {
            need = 3;
            hi = 0x8F;
        } else
            return i;
        if (i + need >= n)
            return i; /* truncated: Python reports the sequence's start */
        for (size_t k = 1; k <= need; k++) {
            uint8_t c = s[i + k];
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF))
                return i;
        }
        i += need + 1;
    }
    return SIZE_MAX;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *path = vocab_path;
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    FILE *f = fdopen(fd, "w");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (int c = 33; c < 127; c++)
        fprintf(f, "%c\n##%c\n", c, c);
    fputs("the\n##ing\nun\n##aff\n##able\né\n##é\n我\nü\n##ü\ni̇\n##̇\nİ\n한\n##국\nᄒ\n##ᅡ\n", f);
    fclose(f);
    for (int k = 0; k < 8; k++) {
        ifs_tok_config c = {k & 1, (k & 2) ? 1 : -1, (k & 4) ? 0 : 1, 64};
        char err[256];
        toks[k] = ifs_tok_load_vocab(path, &c, err, sizeof err);
        if (!toks[k]) {
            fprintf(stderr, "fuzz_tok: %s\n", err);
            abort();
        }
    }
    /* the checkpoint folder for added-token inputs: the same vocab */
    if (!mkdtemp(ckpt_dir))
        abort();
    char vp[256], buf[4096];
    snprintf(vp, sizeof vp, "%s/vocab.txt", ckpt_dir);
    FILE *in = fopen(path, "rb"), *out = fopen(vp, "wb");
    if (!in || !out)
        abort();
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, r, out);
    fclose(in);
    fclose(out);
    unlink(path);
    st = ifs_tok_state_create(toks[0]);
    return 0;
}

/* Loads the checkpoint folder with the added tokens taken from data; NULL when
 * they are not usable (bad UTF-8 or refused). *used is the bytes consumed. */
static ifs_tok *load_with_added(const uint8_t *d, size_t n, int lower, size_t *used)
{
    size_t i = 0;
    if (n < 1)
        return NULL;
    int k = 1 + d[i++] % 4;
    char json[1024];
    size_t j =
        (size_t)snprintf(json, sizeof json, "{\"do_lower_case\": %s, \"added_tokens_decoder\": {",
                         lower ? "true" : "false");
    for (int t = 0; t < k; t++) {
        if (i >= n)
            return NULL;
        int norm = d[i] >= 0x80; /* bit 7 of the length byte: normalized=true */
        size_t L = 1 + d[i++] % 4;
        if (i + L > n || first_bad(d + i, L) != SIZE_MAX)
            return NULL;
        j += (size_t)snprintf(json + j, sizeof json - j, "%s\"%d\": {\"content\": \"",
                              t ? ", " : "", 5 + t);
        for (size_t q = 0; q < L; q++) {
            uint8_t c = d[i + q];
            if (c < 0x20 || c == '"' || c == '\\')
                j += (size_t)snprintf(json + j, sizeof json - j, "\\u%04x", c);
            else
                json[j++] = (char)c;
        }
        i += L;
        j += (size_t)snprintf(json + j, sizeof json - j, "\", \"special\": %s, \"normalized\": %s}",
                              (t & 1) ? "true" : "false", norm ? "true" : "false");
    }
    j += (size_t)snprintf(json + j, sizeof json - j, "}}");
    char cp[256];
    snprintf(cp, sizeof cp, "%s/tokenizer_config.json", ckpt_dir);
    FILE *f = fopen(cp, "wb");
    if (!f)
        abort();
    fwrite(json, 1, j, f);
    fclose(f);
    char err[256];
    ifs_tok_config o = {lower, -1, -1, 64};
    *used = i;
    return ifs_tok_load(ckpt_dir, &o, err, sizeof err);
}

static void check_frame(const ifs_tok *tok, const int32_t *ids, const int32_t *types, int32_t n,
                        int32_t max_len, int pair)
{
    if (n < (pair ? 3 : 2) || n > max_len || ids[0] != ifs_tok_cls_id(tok) ||
        ids[n - 1] != ifs_tok_sep_id(tok))
        __builtin_trap();
    int seen_one = 0;
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= ifs_tok_vocab_size(tok))
            __builtin_trap();
        if (types[i] != 0 && types[i] != 1)
            __builtin_trap();
        if (!pair && types[i])
            __builtin_trap();
        if (seen_one && !types[i])
            __builtin_trap();
        seen_one |= types[i];
    }
}

/* The whole WordPiece ids of text[0..n) (valid UTF-8), copied; NULL on OOM. */
static int32_t *all_ids(const ifs_tok *tok, const char *text, size_t n, int32_t *count)
{
    const int32_t *wp;
    if (ifs_tok_tokenize(tok, st, text, n, &wp, count, NULL))
        __builtin_trap();
    int32_t *c = malloc(((size_t)*count + 1) * sizeof(int32_t));
    if (c && *count)
        memcpy(c, wp, (size_t)*count * sizeof(int32_t));
    return c;
}

/* HF tokenizers' LongestFirst, said differently from tok_encode.c: when the
 * shorter text fits in half the room it stays whole and the other gets the
 * rest; else each gets half, the longer one (b on a tie) the odd id. */
static void ref_longest_first(int32_t x, int32_t y, int32_t room, int32_t *kx, int32_t *ky)
{
    if (x + y <= room) {
        *kx = x;
        *ky = y;
    } else if (2 * (x < y ? x : y) <= room) {
        *kx = x < y ? x : room - y;
        *ky = x < y ? room - x : y;
    } else {
        *kx = x > y ? room - room / 2 : room / 2;
        *ky = room - *kx;
    }
}

static void check_pair_cap(const ifs_tok *tok, const char *text, size_t cut, size_t len,
                           int32_t max_len, int32_t a_max)
{
    int32_t na, nb, ka, kb, ids[64], types[64], n = 0;
    int32_t *ia = all_ids(tok, text, cut, &na), *ib = all_ids(tok, text + cut, len - cut, &nb);
    if (ia && ib) {
        int32_t ca = a_max && na > a_max ? a_max : na;
        ref_longest_first(ca, nb, max_len - 3, &ka, &kb);
        ifs_tok_result r;
        if (ifs_tok_encode_pair_cap(tok, st, text, cut, text + cut, len - cut, max_len, a_max, ids,
                                    types, &n, &r, NULL))
            __builtin_trap();
        check_frame(tok, ids, types, n, max_len, 1);
        int truncated = ka < na || kb < nb;
        if (n != ka + kb + 3 || memcmp(ids + 1, ia, (size_t)ka * sizeof(int32_t)) ||
            ids[ka + 1] != ifs_tok_sep_id(tok) ||
            memcmp(ids + ka + 2, ib, (size_t)kb * sizeof(int32_t)) || types[ka + 1] != 0 ||
            types[ka + 2] != 1 || r.truncated != truncated ||
            (truncated ? r.n_untruncated <= n || r.n_untruncated > na + nb + 3
                       : r.n_untruncated != na + nb + 3))
            __builtin_trap();
    }
    free(ia);
    free(ib);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const ifs_tok *tok = toks[data[0] & 7];
    int32_t max_len = 3 + data[1] % 62; /* 3..64 */
    const char *text = (const char *)data + 3;
    size_t len = size - 3;
    ifs_tok *added = NULL;
    if (data[0] & 8) {
        size_t used = 0;
        added = load_with_added(data + 3, size - 3, data[0] & 1, &used);
        if (!added)
            return 0;
        tok = added;
        text += used;
        len -= used;
    }
    size_t cut = len ? data[2] % (len + 1) : 0;
    int32_t ids[64], types[64], n = 0;
    ifs_tok_result r;

    size_t want_bad = first_bad((const uint8_t *)text, len);
    const int32_t *wp;
    int32_t nwp = 0;
    size_t off = 0;
    int rc = ifs_tok_tokenize(tok, st, text, len, &wp, &nwp, &off);
    if ((rc == IFS_TOK_EUTF8) != (want_bad != SIZE_MAX))
        __builtin_trap();
    if (rc == IFS_TOK_EUTF8 && off != want_bad)
        __builtin_trap();
    if (rc != IFS_TOK_OK && rc != IFS_TOK_EUTF8)
        __builtin_trap();
    int32_t keep = nwp < max_len - 2 ? nwp : max_len - 2;
    int32_t *copy = NULL;
    if (rc == IFS_TOK_OK) {
        copy = malloc(((size_t)keep + 1) * sizeof(int32_t));
        if (!copy)
            return 0;
        if (keep > 0) /* wp may be NULL when there are no wordpieces */
            memcpy(copy, wp, (size_t)keep * sizeof(int32_t));
    }

    int rc2 = ifs_tok_encode(tok, st, text, len, max_len, ids, types, &n, &r);
    if (rc2 != rc)
        __builtin_trap();
    if (rc2 == IFS_TOK_OK) {
        check_frame(tok, ids, types, n, max_len, 0);
        if (n != keep + 2 || memcmp(ids + 1, copy, (size_t)keep * sizeof(int32_t)) ||
            r.truncated != (nwp > keep) ||
            (r.truncated ? r.n_untruncated <= n || r.n_untruncated > nwp + 2
                         : r.n_untruncated != nwp + 2))
            __builtin_trap();
    } else if (r.bad_offset != want_bad) {
        __builtin_trap();
    }
    free(copy);

    int bad_in_b = -1;
    int rc3 = ifs_tok_encode_pair(tok, st, text, cut, text + cut, len - cut, max_len, ids, types,
                                  &n, &r, &bad_in_b);
    size_t bad_a = first_bad((const uint8_t *)text, cut);
    size_t bad_b = first_bad((const uint8_t *)text + cut, len - cut);
    if (bad_a != SIZE_MAX) {
        if (rc3 != IFS_TOK_EUTF8 || bad_in_b != 0 || r.bad_offset != bad_a)
            __builtin_trap();
    } else if (bad_b != SIZE_MAX) {
        if (rc3 != IFS_TOK_EUTF8 || bad_in_b != 1 || r.bad_offset != bad_b)
            __builtin_trap();
    } else {
        if (rc3 != IFS_TOK_OK)
            __builtin_trap();
        check_frame(tok, ids, types, n, max_len, 1);
        check_pair_cap(tok, text, cut, len, max_len, (int32_t)(data[0] >> 4));
    }
    ifs_tok_free(added);
    return 0;
}
