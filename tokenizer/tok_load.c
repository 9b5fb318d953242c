/*
 * tok_load.c - builds an immutable ifs_tok from a checkpoint folder: the
 * vocab (vocab.txt, else tokenizer.json's model.vocab), the settings HF reads
 * (tokenizer_config.json, else tokenizer.json's normalizer, else BERT uncased
 * defaults with 512), the special tokens, and the byte trie used by WordPiece.
 *
 * Decisions:
 * - vocab.txt lines are trimmed at the end like HF's WordPiece::read_file
 *   (trim_end); a token listed twice maps to its last line, as HF's HashMap
 *   insert does.
 * - Special and added tokens are matched in raw text before normalization,
 *   leftmost-longest anywhere (inside words too), as HF's AddedVocabulary does
 *   for added tokens with normalized=false (parity_tok_added). Tokens with
 *   normalized=true are matched as HF's second pass does: their content run
 *   through our normalizer, matched in the normalized text of each piece
 *   between raw matches (tok_encode.c, norm mode). single_word=true is not
 *   supported and refused at load, rather than silently mis-tokenized;
 *   lstrip/rstrip are accepted (they only move whitespace, which BERT drops).
 * - Files must be regular and at most IFS_TOK_MAX_FILE_BYTES (ifs_tok.h).
 * - Duplicate JSON keys: the last wins (Python's json, so HF), in every object.
 * - model_max_length must be an integer >= 2; past INT32_MAX (HF's 1e30
 *   "no limit") it reads as INT32_MAX.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tok_internal.h"
#include "tok_tables.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Reads a whole regular file of at most IFS_TOK_MAX_FILE_BYTES; NULL on
 * failure with errno set (ENOENT when missing) and *why naming the reason.
 * The open is non-blocking so a FIFO cannot hang the load; fstat then refuses
 * anything but a regular file (FIFO, directory, device such as a /dev/zero
 * symlink), and the read stops at the cap. Caller frees. */
static char *read_file(const char *path, size_t *len, const char **why)
{
    *why = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        *why = strerror(e);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        errno = EINVAL;
        *why = S_ISDIR(sb.st_mode)    ? "is a directory, not a regular file"
               : S_ISFIFO(sb.st_mode) ? "is a FIFO, not a regular file"
                                      : "is not a regular file (device or socket)";
        return NULL;
    }
    if ((uint64_t)sb.st_size > IFS_TOK_MAX_FILE_BYTES) {
        close(fd);
        errno = EFBIG;
        *why = "is larger than the 64 MiB limit for tokenizer files";
        return NULL;
    }
    size_t cap = (size_t)sb.st_size + 1, n = 0; /* +1 sees growth past st_size */
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        *why = "out of memory";
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            if (cap > IFS_TOK_MAX_FILE_BYTES) {
                free(buf);
                close(fd);
                errno = EFBIG;
                *why = "is larger than the 64 MiB limit for tokenizer files";
                return NULL;
            }
            size_t nc = cap * 2 > IFS_TOK_MAX_FILE_BYTES + 1 ? IFS_TOK_MAX_FILE_BYTES + 1 : cap * 2;
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                free(buf);
                close(fd);
                errno = ENOMEM;
                *why = "out of memory";
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            *why = strerror(e);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *len = n;
    return buf;
}

void ifs_tok_free(ifs_tok *tok)
{
    if (!tok)
        return;
    free(tok->id2tok);
    free(tok->pool);
    free(tok->node_id);
    free(tok->edges);
    free(tok->words);
    for (int i = 0; i < tok->n_specials; i++)
        free(tok->specials[i].text);
    for (int i = 0; i < tok->n_nspecials; i++) {
        free(tok->nspecials[i].text);
        free(tok->nspecials[i].raw);
    }
    free(tok);
}

/* ---- trie ---------------------------------------------------------------------- */

static uint32_t edge_get(const ifs_tok *tok, uint32_t node, uint8_t b)
{
    if (node == 0)
        return tok->root_next[b];
    uint32_t key = ((node << 8) | b) + 1;
    uint32_t h = (key * 0x9E3779B1u) & tok->emask;
    while (tok->edges[h].key) {
        if (tok->edges[h].key == key)
            return tok->edges[h].child;
        h = (h + 1) & tok->emask;
    }
    return IFS_TOK_NONE;
}

static void edge_put(ifs_tok *tok, uint32_t node, uint8_t b, uint32_t child)
{
    if (node == 0) {
        tok->root_next[b] = child;
        return;
    }
    uint32_t key = ((node << 8) | b) + 1;
    uint32_t h = (key * 0x9E3779B1u) & tok->emask;
    while (tok->edges[h].key)
        h = (h + 1) & tok->emask;
    tok->edges[h].key = key;
    tok->edges[h].child = child;
    tok->edges[h].id = -1; /* set once the trie is complete */
}

static int32_t vocab_find(const ifs_tok *tok, const char *s);

static int build_trie(ifs_tok *tok, char *err, size_t errlen)
{
    size_t total = 1;
    for (int32_t i = 0; i < tok->n_vocab; i++)
        if (tok->id2tok[i])
            total += strlen(tok->id2tok[i]);
    if (total >= (1u << 24)) {
        set_err(err, errlen, "vocab too large for the trie (%zu bytes of tokens)", total);
        return IFS_TOK_EFORMAT;
    }
    size_t cap = 1024;
    while (cap < 2 * total)
        cap *= 2;
    tok->emask = (uint32_t)cap - 1;
    tok->edges = calloc(cap, sizeof *tok->edges);
    tok->node_id = malloc(total * sizeof(int32_t));
    if (!tok->edges || !tok->node_id) {
        set_err(err, errlen, "out of memory building the vocab trie");
        return IFS_TOK_ENOMEM;
    }
    for (int b = 0; b < 256; b++)
        tok->root_next[b] = IFS_TOK_NONE;
    tok->n_nodes = 1;
    tok->node_id[0] = -1;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        const uint8_t *t = (const uint8_t *)tok->id2tok[id];
        if (!t || !*t)
            continue;
        uint32_t node = 0;
        for (; *t; t++) {
            uint32_t c = edge_get(tok, node, *t);
            if (c == IFS_TOK_NONE) {
                c = tok->n_nodes++;
                tok->node_id[c] = -1;
                edge_put(tok, node, *t, c);
            }
            node = c;
        }
        tok->node_id[node] = id; /* later duplicates win, as in HF */
    }
    for (size_t h = 0; h < cap; h++)
        if (tok->edges[h].key)
            tok->edges[h].id = tok->node_id[tok->edges[h].child];

    /* The whole-token hash: every id the trie keeps (a duplicate token
     * string keeps the later id, as the trie does), at most half full. */
    size_t wcap = 1024;
    while (wcap < 2 * (size_t)tok->n_vocab)
        wcap *= 2;
    tok->wmask = (uint32_t)wcap - 1;
    tok->words = calloc(wcap, sizeof *tok->words);
    if (!tok->words) {
        set_err(err, errlen, "out of memory building the vocab hash");
        return IFS_TOK_ENOMEM;
    }
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        const char *t = tok->id2tok[id];
        if (!t || !*t || vocab_find(tok, t) != id)
            continue; /* empty, or a duplicate string that a later id owns */
        size_t len = strlen(t);
        int cont = len > 2 && t[0] == '#' && t[1] == '#';
        uint64_t hv = cont ? ifs_tok_word_hash(1, (const uint8_t *)t + 2, len - 2)
                           : ifs_tok_word_hash(0, (const uint8_t *)t, len);
        uint32_t h = (uint32_t)hv & tok->wmask;
        while (tok->words[h].tag)
            h = (h + 1) & tok->wmask;
        tok->words[h].tag = ifs_tok_word_tag(hv);
        tok->words[h].id = id;
        tok->words[h].key = ifs_tok_word_key(cont, cont ? len - 2 : len);
    }
    tok->cont_node = edge_get(tok, 0, '#');
    if (tok->cont_node != IFS_TOK_NONE)
        tok->cont_node = edge_get(tok, tok->cont_node, '#');
    for (int b = 0; b < 256; b++)
        tok->cont_next[b] = tok->cont_node == IFS_TOK_NONE
                                ? IFS_TOK_NONE
                                : edge_get(tok, tok->cont_node, (uint8_t)b);
    return 0;
}

/* Exact lookup of a whole token; -1 when absent. */
static int32_t vocab_find(const ifs_tok *tok, const char *s)
{
    uint32_t node = 0;
    if (!*s)
        return -1;
    for (const uint8_t *p = (const uint8_t *)s; *p; p++) {
        node = edge_get(tok, node, *p);
        if (node == IFS_TOK_NONE)
            return -1;
    }
    return tok->node_id[node];
}

/* ---- vocab sources ------------------------------------------------------------------ */

static int load_vocab_txt(ifs_tok *tok, const char *path, char *err, size_t errlen)
{
    size_t len;
    const char *why;
    char *buf = read_file(path, &len, &why);
    if (!buf) {
        set_err(err, errlen, "%s: %s", path, why);
        return errno == ENOMEM ? IFS_TOK_ENOMEM : IFS_TOK_EIO;
    }
    int32_t lines = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n')
            lines++;
    if (len && buf[len - 1] != '\n')
        lines++;
    if (lines == 0) {
        free(buf);
        set_err(err, errlen, "%s: empty vocab", path);
        return IFS_TOK_EFORMAT;
    }
    tok->pool = buf;
    tok->id2tok = calloc((size_t)lines, sizeof(char *));
    if (!tok->id2tok) {
        set_err(err, errlen, "out of memory reading %s", path);
        return IFS_TOK_ENOMEM;
    }
    char *p = buf, *end = buf + len;
    int32_t id = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        char *t = e;
        while (t > p &&
               (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r' || t[-1] == '\v' || t[-1] == '\f'))
            t--;
        *t = 0;
        if (memchr(p, 0, (size_t)(t - p))) {
            set_err(err, errlen, "%s:%d: NUL byte in token", path, id + 1);
            return IFS_TOK_EFORMAT;
        }
        tok->id2tok[id++] = p;
        p = e + 1;
    }
    tok->n_vocab = id;
    return 0;
}

static int load_vocab_json(ifs_tok *tok, const cJSON *model, const char *path, char *err,
                           size_t errlen)
{
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsObject(vocab) ||
        (cJSON_IsString(type) && strcmp(type->valuestring, "WordPiece"))) {
        set_err(err, errlen, "%s: model is not a WordPiece vocab", path);
        return IFS_TOK_EFORMAT;
    }
    int32_t max_id = -1;
    size_t bytes = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab)
    {
        if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) || it->valuedouble > 1e8 ||
            it->valuedouble != (double)(int64_t)it->valuedouble) {
            set_err(err, errlen, "%s: vocab entry '%s' has a bad id", path, it->string);
            return IFS_TOK_EFORMAT;
        }
        if (it->valueint > max_id)
            max_id = it->valueint;
        bytes += strlen(it->string) + 1;
    }
    if (max_id < 0) {
        set_err(err, errlen, "%s: empty vocab", path);
        return IFS_TOK_EFORMAT;
    }
    tok->n_vocab = max_id + 1;
    tok->id2tok = calloc((size_t)tok->n_vocab, sizeof(char *));
    tok->pool = malloc(bytes ? bytes : 1);
    if (!tok->id2tok || !tok->pool) {
        set_err(err, errlen, "out of memory reading %s", path);
        return IFS_TOK_ENOMEM;
    }
    char *p = tok->pool;
    cJSON_ArrayForEach(it, vocab)
    {
        size_t n = strlen(it->string);
        memcpy(p, it->string, n + 1);
        tok->id2tok[it->valueint] = p;
        p += n + 1;
    }
    return 0;
}

/* ---- config ------------------------------------------------------------------------ */

/* A special-token setting may be a string or {"content": ...}. */
static const char *token_text(const cJSON *v)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c))
            return c->valuestring;
    }
    return NULL;
}

/* Strict UTF-8 (no overlongs, surrogates, or past U+10FFFF). cJSON does not
 * check, and a token of invalid bytes would let invalid text through. */
static int valid_utf8(const uint8_t *s)
{
    while (*s) {
        uint8_t b = *s;
        int need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b < 0x80) {
            s++;
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
            return 0;
        for (int k = 1; k <= need; k++) /* a NUL fails the range test: no overrun */
            if (s[k] < (k == 1 ? lo : 0x80) || s[k] > (k == 1 ? hi : 0xBF))
                return 0;
        s += need + 1;
    }
    return 1;
}

static int add_special(ifs_tok *tok, const char *text, int32_t id, char *err, size_t errlen)
{
    if (!text || !*text || id < 0)
        return 0;
    if (!valid_utf8((const uint8_t *)text)) {
        set_err(err, errlen, "special or added token with id %d is not valid UTF-8", id);
        return IFS_TOK_EFORMAT;
    }
    for (int i = 0; i < tok->n_specials; i++)
        if (!strcmp(tok->specials[i].text, text))
            return 0;
    if (tok->n_specials == IFS_TOK_MAX_SPECIALS) {
        set_err(err, errlen, "more than %d special tokens", IFS_TOK_MAX_SPECIALS);
        return IFS_TOK_EFORMAT;
    }
    ifs_tok_special *sp = &tok->specials[tok->n_specials];
    sp->text = strdup(text);
    if (!sp->text)
        return IFS_TOK_ENOMEM;
    sp->len = strlen(text);
    sp->id = id;
    tok->special_first[(uint8_t)text[0]] = 1;
    tok->n_specials++;
    return 0;
}

/* An added token with normalized=true. HF normalizes its content with the
 * tokenizer's normalizer (AddedVocabulary::refresh_added_tokens) and
 * matches that; so do we (ifs_tok_normalize: the settings and tables are in
 * place by now). The first of several tokens with the same content wins, as
 * in add_special. */
static int add_normalized(ifs_tok *tok, const char *text, int32_t id, const char *file, char *err,
                          size_t errlen)
{
    if (!text || !*text || id < 0)
        return 0;
    for (int i = 0; i < tok->n_specials; i++)
        if (!strcmp(tok->specials[i].text, text))
            return 0;
    for (int i = 0; i < tok->n_nspecials; i++)
        if (!strcmp(tok->nspecials[i].raw, text))
            return 0;
    if (tok->n_nspecials == IFS_TOK_MAX_SPECIALS) {
        set_err(err, errlen, "%s: more than %d added tokens with normalized=true", file,
                IFS_TOK_MAX_SPECIALS);
        return IFS_TOK_EFORMAT;
    }
    ifs_tok_state *st = ifs_tok_state_create(tok);
    if (!st)
        return IFS_TOK_ENOMEM;
    const char *out;
    size_t n = 0;
    int rc = ifs_tok_normalize(tok, st, text, strlen(text), &out, &n);
    if (!rc && !n) { /* HF would match an empty pattern everywhere */
        set_err(err, errlen, "%s: added token '%s' (normalized=true) is empty once normalized",
                file, text);
        rc = IFS_TOK_EFORMAT;
    }
    ifs_tok_special *sp = &tok->nspecials[tok->n_nspecials];
    if (!rc) {
        sp->raw = strdup(text);
        sp->text = malloc(n + 1);
        if (!sp->raw || !sp->text) {
            free(sp->raw);
            free(sp->text);
            sp->raw = sp->text = NULL;
            rc = IFS_TOK_ENOMEM;
        }
    }
    if (!rc) {
        memcpy(sp->text, out, n);
        sp->text[n] = 0;
        sp->len = n;
        sp->id = id;
        tok->nspecial_first[(uint8_t)sp->text[0]] = 1;
        if (n > tok->nspecial_maxlen)
            tok->nspecial_maxlen = n;
        tok->n_nspecials++;
    }
    ifs_tok_state_free(st);
    return rc;
}

/* ---- duplicate JSON keys: the last one wins, as in Python's json (HF) ---- */

typedef struct {
    const char *key;
    size_t idx;
    cJSON *item;
} key_ref;

static int key_ref_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* cJSON keeps every duplicate and GetObjectItem returns the first; this
 * deletes all but the last of each key, in every object (recursion depth is
 * bounded by cJSON's nesting limit). O(n log n) per object. */
static int dedupe_keys(cJSON *j)
{
    if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
        return 0;
    size_t n = 0;
    for (cJSON *c = j->child; c; c = c->next) {
        if (dedupe_keys(c))
            return IFS_TOK_ENOMEM;
        n++;
    }
    if (!cJSON_IsObject(j) || n < 2)
        return 0;
    key_ref *r = malloc(n * sizeof *r);
    if (!r)
        return IFS_TOK_ENOMEM;
    size_t k = 0;
    for (cJSON *c = j->child; c; c = c->next, k++)
        r[k] = (key_ref){c->string ? c->string : "", k, c};
    qsort(r, n, sizeof *r, key_ref_cmp);
    for (size_t i = 0; i + 1 < n; i++)
        if (!strcmp(r[i].key, r[i + 1].key))
            cJSON_Delete(cJSON_DetachItemViaPointer(j, r[i].item));
    free(r);
    return 0;
}

static cJSON *read_json(const char *path, int *rc, char *err, size_t errlen)
{
    size_t len;
    const char *why;
    char *buf = read_file(path, &len, &why);
    *rc = 0;
    if (!buf) {
        if (errno != ENOENT) {
            set_err(err, errlen, "%s: %s", path, why);
            *rc = errno == ENOMEM ? IFS_TOK_ENOMEM : IFS_TOK_EIO;
        }
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!j) {
        set_err(err, errlen, "%s: not valid JSON", path);
        *rc = IFS_TOK_EFORMAT;
    } else if (dedupe_keys(j)) {
        cJSON_Delete(j);
        j = NULL;
        *rc = IFS_TOK_ENOMEM;
    }
    return j;
}

static void apply_override(ifs_tok_config *c, const ifs_tok_config *o)
{
    if (!o)
        return;
    if (o->do_lower_case >= 0)
        c->do_lower_case = o->do_lower_case;
    if (o->strip_accents >= 0)
        c->strip_accents = o->strip_accents;
    if (o->tokenize_chinese_chars >= 0)
        c->tokenize_chinese_chars = o->tokenize_chinese_chars;
    if (o->model_max_length > 0)
        c->model_max_length = o->model_max_length;
}

/* Everything after the vocab is in place: specials, ids, tables, trie. */
static int finish(ifs_tok *tok, const cJSON *cfg, const cJSON *tj, char *err, size_t errlen)
{
    /* ASCII classes and case map from the generated tables (first: the
     * normalizer is needed for normalized added tokens) */
    for (int b = 0; b < 128; b++) {
        unsigned f = ifs_tok_props((uint32_t)b);
        tok->ascii_class[b] = (f & IFS_TOK_F_DEL)     ? IFS_TOK_A_DEL
                              : (f & IFS_TOK_F_WS)    ? IFS_TOK_A_SPACE
                              : (f & IFS_TOK_F_PUNCT) ? IFS_TOK_A_PUNCT
                                                      : IFS_TOK_A_WORD;
        tok->ascii_map[b] = (uint8_t)b;
        if (tok->cfg.do_lower_case && b >= 'A' && b <= 'Z')
            tok->ascii_map[b] = (uint8_t)(b + 32);
    }
    tok->strip =
        tok->cfg.strip_accents < 0 ? tok->cfg.do_lower_case != 0 : tok->cfg.strip_accents != 0;
    int rc = build_trie(tok, err, errlen);
    if (rc)
        return rc;
    static const char *const keys[] = {"unk_token", "sep_token", "pad_token", "cls_token",
                                       "mask_token"};
    static const char *const dflt[] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
    int32_t ids[5];
    for (int k = 0; k < 5; k++) {
        const char *t = cfg ? token_text(cJSON_GetObjectItemCaseSensitive(cfg, keys[k])) : NULL;
        if (!t)
            t = dflt[k];
        ids[k] = vocab_find(tok, t);
        if (ids[k] < 0 && k != 4 && k != 2) {
            set_err(err, errlen, "%s '%s' is not in the vocab", keys[k], t);
            return IFS_TOK_EFORMAT;
        }
        if ((rc = add_special(tok, t, ids[k], err, errlen)))
            return rc;
    }
    tok->unk_id = ids[0];
    tok->sep_id = ids[1];
    tok->pad_id = ids[2] >= 0 ? ids[2] : 0;
    tok->cls_id = ids[3];
    /* added tokens of tokenizer.json (and tokenizer_config.json's decoder) */
    const cJSON *lists[2] = {tj ? cJSON_GetObjectItemCaseSensitive(tj, "added_tokens") : NULL,
                             NULL};
    const cJSON *dec = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder") : NULL;
    lists[1] = dec;
    for (int l = 0; l < 2; l++) {
        const cJSON *it;
        cJSON_ArrayForEach(it, lists[l])
        {
            const char *t = token_text(it);
            const cJSON *norm = cJSON_GetObjectItemCaseSensitive(it, "normalized");
            const cJSON *idv = cJSON_GetObjectItemCaseSensitive(it, "id");
            if (!t)
                continue;
            /* the id: "id" in tokenizer.json, the key in added_tokens_decoder;
             * it must be a whole number naming a vocab entry */
            double d = -1;
            int have = 0;
            if (cJSON_IsNumber(idv)) {
                d = idv->valuedouble;
                have = 1;
            } else if (l == 1 && it->string) {
                char *end;
                errno = 0;
                long long v = strtoll(it->string, &end, 10);
                if (end == it->string || *end || errno || v < 0 || v > INT32_MAX) {
                    set_err(err, errlen,
                            "tokenizer_config.json: added_tokens_decoder key '%s' is not an id",
                            it->string);
                    return IFS_TOK_EFORMAT;
                }
                d = (double)v;
                have = 1;
            }
            int32_t id;
            if (have) {
                if (d != d || d < 0 || d >= (double)tok->n_vocab || d != (double)(int64_t)d) {
                    set_err(err, errlen,
                            "%s: added token '%s' has id %g, not a whole number in [0, %d)",
                            l ? "tokenizer_config.json" : "tokenizer.json", t, d, tok->n_vocab);
                    return IFS_TOK_EFORMAT;
                }
                id = (int32_t)d;
            } else {
                id = vocab_find(tok, t);
            }
            if (!valid_utf8((const uint8_t *)t)) {
                set_err(err, errlen, "%s: an added token is not valid UTF-8",
                        l ? "tokenizer_config.json" : "tokenizer.json");
                return IFS_TOK_EFORMAT;
            }
            /* single_word drops matches next to word characters (Rust
             * regex \w, a Unicode class we do not have); not implemented, so
             * refused rather than mis-tokenized. lstrip and rstrip only move
             * whitespace into the match, which BERT drops anyway. */
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "single_word"))) {
                set_err(err, errlen, "%s: added token '%s' has single_word=true: not supported",
                        l ? "tokenizer_config.json" : "tokenizer.json", t);
                return IFS_TOK_EFORMAT;
            }
            /* no "normalized": transformers' AddedToken default, not special */
            int normalized = cJSON_IsBool(norm)
                                 ? cJSON_IsTrue(norm)
                                 : !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special"));
            rc = normalized
                     ? add_normalized(tok, t, id, l ? "tokenizer_config.json" : "tokenizer.json",
                                      err, errlen)
                     : add_special(tok, t, id, err, errlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static ifs_tok *new_tok(void)
{
    ifs_tok *tok = calloc(1, sizeof *tok);
    if (!tok)
        return NULL;
    tok->cfg.do_lower_case = 1;
    tok->cfg.strip_accents = -1;
    tok->cfg.tokenize_chinese_chars = 1;
    tok->cfg.model_max_length = 512;
    tok->cont_node = IFS_TOK_NONE;
    return tok;
}

/* model_max_length must be an integer >= 2 (null or absent: the default).
 * Values past INT32_MAX, among them HF's "no limit" sentinel int(1e30), read
 * as INT32_MAX; callers cap it at max_position_embeddings, as before. */
static int read_settings(ifs_tok_config *c, const cJSON *cfg, const cJSON *tj, const char *cfg_path,
                         char *err, size_t errlen)
{
    const cJSON *src = cfg;
    int from_tj = 0;
    if (!src && tj) { /* no tokenizer_config.json: use tokenizer.json's normalizer */
        src = cJSON_GetObjectItemCaseSensitive(tj, "normalizer");
        from_tj = 1;
    }
    if (!src)
        return 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, from_tj ? "lowercase" : "do_lower_case");
    if (cJSON_IsBool(v))
        c->do_lower_case = cJSON_IsTrue(v);
    v = cJSON_GetObjectItemCaseSensitive(src, "strip_accents");
    if (cJSON_IsBool(v))
        c->strip_accents = cJSON_IsTrue(v);
    v = cJSON_GetObjectItemCaseSensitive(src, from_tj ? "handle_chinese_chars"
                                                      : "tokenize_chinese_chars");
    if (cJSON_IsBool(v))
        c->tokenize_chinese_chars = cJSON_IsTrue(v);
    v = cJSON_GetObjectItemCaseSensitive(cfg, "model_max_length");
    if (v && !cJSON_IsNull(v)) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
        if (!cJSON_IsNumber(v) || d != d || d < 2 ||
            (d < 4294967296.0 && d != (double)(int64_t)d)) {
            char *txt = cJSON_PrintUnformatted(v);
            set_err(err, errlen, "%s: model_max_length %s is not an integer >= 2", cfg_path,
                    txt ? txt : "?");
            free(txt);
            return IFS_TOK_EFORMAT;
        }
        c->model_max_length = d > 2147483647.0 ? 2147483647 : (int)d;
    }
    return 0;
}

ifs_tok *ifs_tok_load(const char *dir, const ifs_tok_config *override, char *err, size_t errlen)
{
    if (!dir) {
        set_err(err, errlen, "no checkpoint folder given");
        return NULL;
    }
    ifs_tok *tok = new_tok();
    if (!tok) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    size_t plen = strlen(dir) + 32;
    char *path = malloc(plen);
    cJSON *cfg = NULL, *tj = NULL;
    int rc = path ? 0 : IFS_TOK_ENOMEM;
    if (!rc) {
        snprintf(path, plen, "%s/tokenizer_config.json", dir);
        cfg = read_json(path, &rc, err, errlen);
    }
    if (!rc) {
        snprintf(path, plen, "%s/tokenizer.json", dir);
        tj = read_json(path, &rc, err, errlen);
    }
    if (!rc) {
        snprintf(path, plen, "%s/tokenizer_config.json", dir);
        rc = read_settings(&tok->cfg, cfg, tj, path, err, errlen);
    }
    if (!rc) {
        apply_override(&tok->cfg, override);
        snprintf(path, plen, "%s/vocab.txt", dir);
        struct stat vs; /* present in any form: load_vocab_txt refuses non-regular files */
        if (lstat(path, &vs) == 0) {
            rc = load_vocab_txt(tok, path, err, errlen);
        } else if (tj) {
            snprintf(path, plen, "%s/tokenizer.json", dir);
            rc = load_vocab_json(tok, cJSON_GetObjectItemCaseSensitive(tj, "model"), path, err,
                                 errlen);
        } else {
            set_err(err, errlen, "%s: neither vocab.txt nor tokenizer.json found", dir);
            rc = IFS_TOK_EIO;
        }
    }
    if (!rc)
        rc = finish(tok, cfg, tj, err, errlen);
    if (rc == IFS_TOK_ENOMEM)
        set_err(err, errlen, "out of memory loading the tokenizer from %s", dir);
    cJSON_Delete(cfg);
    cJSON_Delete(tj);
    free(path);
    if (rc) {
        ifs_tok_free(tok);
        return NULL;
    }
    return tok;
}

ifs_tok *ifs_tok_load_vocab(const char *vocab_path, const ifs_tok_config *cfg, char *err,
                            size_t errlen)
{
    if (!vocab_path) {
        set_err(err, errlen, "no vocab path given");
        return NULL;
    }
    ifs_tok *tok = new_tok();
    if (!tok) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    apply_override(&tok->cfg, cfg);
    int rc = load_vocab_txt(tok, vocab_path, err, errlen);
    if (!rc)
        rc = finish(tok, NULL, NULL, err, errlen);
    if (rc) {
        ifs_tok_free(tok);
        return NULL;
    }
    return tok;
}

const ifs_tok_config *ifs_tok_get_config(const ifs_tok *tok)
{
    return tok ? &tok->cfg : NULL;
}
int32_t ifs_tok_vocab_size(const ifs_tok *tok)
{
    return tok ? tok->n_vocab : 0;
}
int32_t ifs_tok_cls_id(const ifs_tok *tok)
{
    return tok ? tok->cls_id : -1;
}
int32_t ifs_tok_sep_id(const ifs_tok *tok)
{
    return tok ? tok->sep_id : -1;
}
int32_t ifs_tok_pad_id(const ifs_tok *tok)
{
    return tok ? tok->pad_id : -1;
}
int32_t ifs_tok_unk_id(const ifs_tok *tok)
{
    return tok ? tok->unk_id : -1;
}

const char *ifs_tok_id_to_token(const ifs_tok *tok, int32_t id)
{
    if (!tok || id < 0 || id >= tok->n_vocab)
        return NULL;
    return tok->id2tok[id];
}
