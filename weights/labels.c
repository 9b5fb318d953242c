/*
 * labels.c - which label of a classifier is the answer-like one
 * (ifs_wts_answer_label; the rules are written down in ifs_wts.h).
 *
 * Decisions:
 *   - Words, not substrings: "answer" inside "unanswerable" or "nonanswer"
 *     is the opposite of an answer, and "not" inside "annotated" is no
 *     negation. Substring rules read "no answer" as the answer label.
 *   - Refuse rather than guess: two labels that both name the answer, or a
 *     label that mentions an answer only negatively, stop the run with the
 *     labels listed and the flag that settles it. Index 1 is the default
 *     only when no label says anything about answers (LABEL_0 / LABEL_1).
 *   - ASCII case folding only; other bytes are letters of their word, so a
 *     UTF-8 label is cut only at ASCII punctuation and spaces.
 */
#include "ifs_wts.h"
#include "wts_internal.h"

#include <string.h>

/* Bytes of one word, folded to lower case. */
#define WORD_MAX IFS_LABEL_LEN

static int is_letter(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch >= 0x80;
}

static int is_lower(unsigned char ch)
{
    return ch >= 'a' && ch <= 'z';
}
static int is_upper(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z';
}
static char fold(unsigned char ch)
{
    return (char)(is_upper(ch) ? ch - 'A' + 'a' : ch);
}

typedef struct {
    int names;    /* a word begins with "answer" */
    int mentions; /* a word contains "answer" */
    int negated;  /* a negation word, or "answer" inside a word */
} reading;

static int negation(const char *w)
{
    static const char *const NEG[] = {"no",    "not",     "non", "un",     "none",
                                      "never", "without", "nor", "neither"};
    for (size_t i = 0; i < sizeof NEG / sizeof NEG[0]; i++)
        if (!strcmp(w, NEG[i]))
            return 1;
    return 0;
}

static void read_word(const char *w, reading *r)
{
    const char *a = strstr(w, "answer");
    if (a) {
        r->mentions = 1;
        if (a == w)
            r->names = 1;
        else
            r->negated = 1;
    }
    if (negation(w))
        r->negated = 1;
}

static reading read_label(const char *label)
{
    reading r = {0, 0, 0};
    char w[WORD_MAX];
    size_t k = 0;
    const unsigned char *p = (const unsigned char *)label;
    for (size_t i = 0;; i++) {
        unsigned char ch = p[i];
        /* a word ends at a separator, at the end, or before an upper-case
           letter that follows a lower-case one (camelCase) */
        int cut = !ch || !is_letter(ch) || (k && is_upper(ch) && is_lower(p[i - 1]));
        if (cut && k) {
            w[k] = '\0';
            read_word(w, &r);
            k = 0;
        }
        if (!ch)
            break;
        if (is_letter(ch) && k + 1 < sizeof w)
            w[k++] = fold(ch);
    }
    return r;
}

/* ASCII case-insensitive equality. */
static int same_folded(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (fold((unsigned char)*a) != fold((unsigned char)*b))
            return 0;
    return *a == *b;
}

/* Appends "'name' (i)" items to buf, comma-separated. */
static void list_label(char *buf, size_t len, const ifs_bert_config *c, int32_t i)
{
    size_t k = strlen(buf);
    if (k + 1 < len)
        snprintf(buf + k, len - k, "%s'%s' (%d)", k ? ", " : "", c->labels[i], (int)i);
}

static int parse_index(const char *s, int32_t *out)
{
    if (!s[0] || strlen(s) > 9)
        return -1;
    int32_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

static int by_flag(const ifs_bert_config *c, const char *flag, int32_t *out, char *err,
                   size_t errlen)
{
    int32_t n = c->num_labels, idx;
    char all[IFS_MAX_LABELS * (IFS_LABEL_LEN + 12)] = "";
    int forced = 0; /* 1: "index:N", 2: "name:TEXT" */
    const char *arg = flag;
    if (!strncmp(flag, "index:", 6))
        forced = 1, arg = flag + 6;
    else if (!strncmp(flag, "name:", 5))
        forced = 2, arg = flag + 5;
    if (forced == 1 && parse_index(arg, &idx))
        return wts_fail(err, errlen, IFS_WTS_ELABEL,
                        "--answer-label %s: 'index:' takes a label index (0..%d)", flag,
                        (int)n - 1);
    if (forced != 2 && !parse_index(arg, &idx)) {
        if (idx >= n)
            return wts_fail(err, errlen, IFS_WTS_ELABEL,
                            "--answer-label %s: the classifier has labels 0..%d", flag, (int)n - 1);
        for (int32_t i = 0; i < n && !forced; i++)
            if (i != idx && !strcmp(c->labels[i], arg))
                return wts_fail(err, errlen, IFS_WTS_ELABEL,
                                "--answer-label %s is ambiguous: index %s is '%s', but label %d "
                                "is named '%s'; say which with --answer-label index:%s or "
                                "name:%s",
                                flag, arg, c->labels[idx], (int)i, arg, arg, arg);
        *out = idx;
        return 0;
    }
    for (int32_t i = 0; i < n; i++)
        if (!strcmp(c->labels[i], arg)) {
            *out = i;
            return 0;
        }
    int found = -1, hits = 0;
    for (int32_t i = 0; i < n; i++)
        if (same_folded(c->labels[i], arg)) {
            list_label(all, sizeof all, c, i);
            found = i;
            hits++;
        }
    if (hits == 1) {
        *out = found;
        return 0;
    }
    if (hits > 1)
        return wts_fail(err, errlen, IFS_WTS_ELABEL,
                        "--answer-label %s matches %s ignoring case; give the exact name or the "
                        "index",
                        flag, all);
    for (int32_t i = 0; i < n; i++)
        list_label(all, sizeof all, c, i);
    return wts_fail(err, errlen, IFS_WTS_ELABEL,
                    "--answer-label %s: not an index 0..%d nor a label of id2label (%s)", flag,
                    (int)n - 1, all);
}

int ifs_wts_answer_label(const ifs_bert_config *c, const char *flag, int32_t *out, char *err,
                         size_t errlen)
{
    if (!c || !out)
        return wts_fail(err, errlen, IFS_WTS_EARG, "answer label: no config given");
    if (c->num_labels < 2 || c->num_labels > IFS_MAX_LABELS)
        return wts_fail(err, errlen, IFS_WTS_ELABEL,
                        "the classifier has %d label(s); an answer label needs 2 to %d",
                        (int)c->num_labels, IFS_MAX_LABELS);
    for (int32_t i = 0; i < c->num_labels; i++)
        if (!memchr(c->labels[i], '\0', IFS_LABEL_LEN))
            return wts_fail(err, errlen, IFS_WTS_EARG, "answer label: label %d is not terminated",
                            (int)i);
    if (flag && flag[0])
        return by_flag(c, flag, out, err, errlen);

    char named[IFS_MAX_LABELS * (IFS_LABEL_LEN + 12)] = "";
    char mentioned[sizeof named] = "";
    int found = -1, n_named = 0, n_mentioned = 0;
    for (int32_t i = 0; i < c->num_labels; i++) {
        reading r = read_label(c->labels[i]);
        if (r.names && !r.negated) {
            found = i;
            n_named++;
            list_label(named, sizeof named, c, i);
        } else if (r.mentions) {
            n_mentioned++;
            list_label(mentioned, sizeof mentioned, c, i);
        }
    }
    if (n_named == 1) {
        *out = found;
        return 0;
    }
    if (n_named > 1)
        return wts_fail(err, errlen, IFS_WTS_ELABEL,
                        "id2label has %d labels that name an answer, %s; choose one with "
                        "--answer-label NAME|INDEX",
                        n_named, named);
    if (n_mentioned)
        return wts_fail(err, errlen, IFS_WTS_ELABEL,
                        "no label of id2label names the answer: %s mention%s it negatively; "
                        "choose the answer-like label with --answer-label NAME|INDEX",
                        mentioned, n_mentioned > 1 ? "" : "s");
    *out = 1;
    return 0;
}
