/*
 * cut.c - where an instruction may be cut into a fragment Ip and its
 * continuation Ic, and how sure we are that Ip is incomplete.
 *
 * The paper cuts at any word boundary, so some "partial" instructions are
 * whole sentences ("Write a poem." out of "Write a poem. Make it rhyme.").
 * Here every boundary gets a class from the end of Ip:
 *   sentence  - Ip ends in . ! ? ... (also 。！？ and behind closing quotes or
 *               brackets): reads as complete, rejected by INCOMPLETE/STRICT;
 *   line      - the boundary holds a line break: line ends are item or
 *               sentence ends in instructions ("Rewrite this\nThe cat..."),
 *               rejected likewise;
 *   connector - Ip ends in a connector (, ; : - ( / &) or in a closed-class
 *               word that English does not end sentences with (articles,
 *               possessive determiners, coordinating and subordinating
 *               conjunctions, prepositions that are hardly ever stranded):
 *               certainly incomplete, preferred by STRICT/AUTO;
 *   open      - anything else: an open-class word, which may end a sentence
 *               ("Write a poem") or not ("Write a poem about").
 * The word list is deliberately short: a word that can end a sentence
 * ("it", "to", "for", "is", "how") is left out, because the point of the
 * connector class is certainty. docs/datasets.md measures the classes.
 *
 * Counting, then picking the k-th accepted boundary, means no allocation: the
 * scan runs twice over a string that is already in cache.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "ifs_ds.h"

/* Decodes one code point at s[i]; sets *adv (>= 1). Invalid UTF-8 yields the
 * byte value (callers validate text before; this only has to be safe). */
static uint32_t cp_at(const unsigned char *s, size_t n, size_t i, size_t *adv)
{
    unsigned c = s[i];
    size_t need = c < 0xC0 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : c < 0xF8 ? 3 : 0;
    *adv = 1;
    if (!need || i + need >= n)
        return c;
    uint32_t v = c & (need == 1 ? 0x1F : need == 2 ? 0x0F : 0x07);
    for (size_t k = 1; k <= need; k++) {
        unsigned b = s[i + k];
        if ((b & 0xC0) != 0x80)
            return c;
        v = (v << 6) | (b & 0x3F);
    }
    *adv = need + 1;
    return v;
}

static int is_space_cp(uint32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x85 ||
           c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

static int is_line_break(uint32_t c)
{
    return c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x85 || c == 0x2028 ||
           c == 0x2029;
}

/* Sentence-final marks: . ! ? and the ellipsis, CJK, Arabic, Devanagari forms. */
static int is_final_cp(uint32_t c)
{
    return c == '.' || c == '!' || c == '?' || c == 0x2026 || c == 0x3002 || c == 0xFF01 ||
           c == 0xFF1F || c == 0xFF0E || c == 0x061F || c == 0x06D4 || c == 0x0964 || c == 0x203C ||
           c == 0x2047 || c == 0x2048 || c == 0x2049;
}

/* Closing quotes and brackets that may follow the final mark: `done."` */
static int is_closer_cp(uint32_t c)
{
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}' || c == '*' || c == '_' ||
           c == '`' || c == 0x2019 || c == 0x201D || c == 0x00BB || c == 0x300D || c == 0x300F ||
           c == 0xFF09 || c == 0x3011;
}

/* Marks after which a text cannot stop: it continues past them. */
static int is_connector_cp(uint32_t c)
{
    return c == ',' || c == ';' || c == ':' || c == '-' || c == '(' || c == '[' || c == '{' ||
           c == '/' || c == '&' || c == '+' || c == '=' || c == '<' || c == 0x2013 || c == 0x2014 ||
           c == 0x201C || c == 0x2018 || c == 0x00AB || c == 0x3001 || c == 0xFF0C || c == 0xFF1A ||
           c == 0xFF1B || c == 0x060C || c == 0x300C || c == 0x300E || c == 0xFF08;
}

/* ASCII letters and digits; any other non-ASCII code point that is not a
 * space or one of the marks above counts as a letter (CJK, accents, ...). */
static int is_word_cp(uint32_t c)
{
    if (c < 0x80)
        return isalnum((int)c) != 0;
    if (is_space_cp(c) || is_final_cp(c) || is_closer_cp(c) || is_connector_cp(c))
        return 0;
    /* General Punctuation and CJK Symbols blocks, and the fullwidth ASCII
     * punctuation, are not letters. */
    if ((c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F) ||
        (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) || c == 0xA1 || c == 0xBF ||
        c == 0xA7 || c == 0xB6 || c == 0xB7)
        return 0;
    return 1;
}

/* Closed-class words that do not end an English sentence (lowercase). */
static const char *const closed_words[] = {
    "a",        "an",     "the",     "my",     "your",  "our",     "their",
    "its",      "every",  "and",     "or",     "but",   "nor",     "because",
    "although", "though", "whereas", "unless", "if",    "whether", "than",
    "of",       "into",   "onto",    "upon",   "among", "amongst", "between",
    "during",   "toward", "towards", "via",    "very",  "whose",
};

static int is_closed_word(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof closed_words / sizeof closed_words[0]; i++)
        if (strlen(closed_words[i]) == n && !strncasecmp(closed_words[i], w, n))
            return 1;
    return 0;
}

/* Class of a fragment text[0, end) (end = after Ip's last byte), given that
 * the boundary that follows holds a line break or not. */
static ifs_ds_end classify(const unsigned char *s, size_t ws, size_t we, int line)
{
    /* Last word is s[ws, we). Walk back over closers, then look at the mark. */
    size_t e = we;
    uint32_t last = 0;
    int stripped = 0;
    while (e > ws) {
        size_t b = e - 1;
        while (b > ws && (s[b] & 0xC0) == 0x80)
            b--;
        size_t adv;
        uint32_t c = cp_at(s, we, b, &adv);
        if (is_closer_cp(c)) {
            e = b;
            stripped = 1;
            continue;
        }
        last = c;
        break;
    }
    if (e > ws && is_final_cp(last))
        return IFS_DS_END_SENTENCE;
    if (line)
        return IFS_DS_END_LINE;
    if (e > ws && !stripped && is_connector_cp(last))
        return IFS_DS_END_CONNECTOR;
    if (!stripped && is_closed_word((const char *)s + ws, we - ws))
        return IFS_DS_END_CONNECTOR;
    return IFS_DS_END_OPEN;
}

/* One scan over the words; calls visit for each boundary with a word (letter
 * or digit) on both sides somewhere. Returns the number of boundaries. */
typedef int (*visit_fn)(const ifs_ds_cut *c, void *user); /* non-zero stops */

static size_t scan(const char *text, size_t len, visit_fn visit, void *user)
{
    const unsigned char *s = (const unsigned char *)text;
    /* Pass 1: word spans, the first/last "alnum" word, the total. Words are
     * few and the string small; recomputing beats allocating. */
    size_t n_words = 0, first_off = len, last_end = 0;
    size_t first_alnum_end = (size_t)-1; /* end of the first word holding a letter */
    size_t last_alnum_start = 0;         /* start of the last word holding a letter */
    int have_alnum = 0;
    size_t i = 0;
    while (i < len) {
        size_t adv;
        uint32_t c = cp_at(s, len, i, &adv);
        if (is_space_cp(c)) {
            i += adv;
            continue;
        }
        size_t ws = i;
        int alnum = 0;
        while (i < len) {
            c = cp_at(s, len, i, &adv);
            if (is_space_cp(c))
                break;
            if (is_word_cp(c))
                alnum = 1;
            i += adv;
        }
        n_words++;
        if (first_off == len)
            first_off = ws;
        last_end = i;
        if (alnum) {
            if (!have_alnum)
                first_alnum_end = i;
            have_alnum = 1;
            last_alnum_start = ws;
        }
    }
    if (!have_alnum || n_words < 2)
        return 0;
    /* Pass 2: each boundary between word k and k+1 whose Ip reaches the first
     * alnum word and whose Ic reaches the last one. */
    size_t count = 0, k = 0;
    i = first_off;
    while (i < len) {
        size_t ws = i, adv;
        uint32_t c;
        while (i < len) {
            c = cp_at(s, len, i, &adv);
            if (is_space_cp(c))
                break;
            i += adv;
        }
        size_t we = i;
        k++;
        int line = 0;
        while (i < len) {
            c = cp_at(s, len, i, &adv);
            if (!is_space_cp(c))
                break;
            if (is_line_break(c))
                line = 1;
            i += adv;
        }
        if (i >= len)
            break; /* no word after */
        if (we < first_alnum_end || i > last_alnum_start)
            continue;
        ifs_ds_cut cut = {
            .ip_off = first_off,
            .ip_len = we - first_off,
            .ic_off = i,
            .ic_len = last_end - i,
            .ip_words = k,
            .n_words = n_words,
            .end = classify(s, ws, we, line),
        };
        count++;
        if (visit && visit(&cut, user))
            break;
    }
    return count;
}

static int accepts(ifs_ds_cut_policy p, ifs_ds_end e)
{
    switch (p) {
    case IFS_DS_CUT_LOOSE: return 1;
    case IFS_DS_CUT_INCOMPLETE: return e == IFS_DS_END_OPEN || e == IFS_DS_END_CONNECTOR;
    case IFS_DS_CUT_STRICT: return e == IFS_DS_END_CONNECTOR;
    default: return 0;
    }
}

typedef struct {
    ifs_ds_cut_policy p;
    size_t count, target;
    ifs_ds_cut *out;
} pick_ctx;

static int count_visit(const ifs_ds_cut *c, void *user)
{
    pick_ctx *x = user;
    if (accepts(x->p, c->end)) {
        if (x->out && x->count == x->target) {
            *x->out = *c;
            return 1;
        }
        x->count++;
    }
    return 0;
}

static size_t count_policy(const char *text, size_t len, ifs_ds_cut_policy p)
{
    pick_ctx x = {.p = p};
    scan(text, len, count_visit, &x);
    return x.count;
}

size_t ifs_ds_cut_count(const char *text, size_t len, ifs_ds_cut_policy policy)
{
    if (!text)
        return 0;
    if (policy == IFS_DS_CUT_AUTO) {
        size_t n = count_policy(text, len, IFS_DS_CUT_STRICT);
        return n ? n : count_policy(text, len, IFS_DS_CUT_INCOMPLETE);
    }
    return count_policy(text, len, policy);
}

int ifs_ds_cut_pick(const char *text, size_t len, ifs_ds_cut_policy policy, uint64_t key,
                    ifs_ds_cut *out)
{
    if (!text || !out || (int)policy < 0 || policy > IFS_DS_CUT_AUTO)
        return IFS_DS_EARG;
    ifs_ds_cut_policy p = policy;
    size_t n;
    if (policy == IFS_DS_CUT_AUTO) {
        p = IFS_DS_CUT_STRICT;
        n = count_policy(text, len, p);
        if (!n) {
            p = IFS_DS_CUT_INCOMPLETE;
            n = count_policy(text, len, p);
        }
    } else {
        n = count_policy(text, len, p);
    }
    if (!n)
        return IFS_DS_ENOCUT;
    /* Multiply-high maps the key onto [0, n) without modulo bias worth naming. */
    size_t target = (size_t)(((unsigned __int128)key * n) >> 64);
    pick_ctx x = {.p = p, .target = target, .out = out};
    scan(text, len, count_visit, &x);
    return 0;
}

typedef struct {
    void (*fn)(const ifs_ds_cut *, void *);
    void *user;
} each_ctx;

static int each_visit(const ifs_ds_cut *c, void *user)
{
    each_ctx *x = user;
    x->fn(c, x->user);
    return 0;
}

size_t ifs_ds_cut_each(const char *text, size_t len, void (*fn)(const ifs_ds_cut *c, void *user),
                       void *user)
{
    if (!text)
        return 0;
    each_ctx x = {fn, user};
    return scan(text, len, fn ? each_visit : NULL, &x);
}

static const char *const policy_names[] = {"loose", "incomplete", "strict", "auto"};

int ifs_ds_cut_policy_parse(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, policy_names[i]))
            return i;
    return -1;
}

const char *ifs_ds_cut_policy_name(ifs_ds_cut_policy p)
{
    return (int)p >= 0 && p <= IFS_DS_CUT_AUTO ? policy_names[p] : "?";
}

const char *ifs_ds_end_name(ifs_ds_end e)
{
    static const char *const names[] = {"sentence", "line", "open", "connector"};
    return (int)e >= 0 && e < IFS_DS_END_COUNT ? names[e] : "?";
}

/* Zero-width and format characters: no word on their own (an answer of only
 * U+200B is empty), no separator between letters either. */
static int is_invisible_cp(uint32_t c)
{
    return (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF;
}

size_t ifs_ds_word_count(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, i = 0;
    int in_word = 0;
    while (s && i < len) {
        size_t adv;
        uint32_t c = cp_at(s, len, i, &adv);
        i += adv;
        if (is_space_cp(c)) {
            in_word = 0;
        } else if (!is_invisible_cp(c) && !in_word) {
            in_word = 1;
            n++;
        }
    }
    return n;
}
