/*
 * neardup.c - which instructions are near-duplicates of each other, so that
 * the response set can keep each group of them inside one split.
 *
 * Similarity is the Jaccard index of word 3-shingles ("What is the capital
 * of France?" and "what is the capital of france" are identical; the
 * AlpacaEval family "I like to host guests ... recipes ... <dish>" scores
 * ~0.75 between members). Words are runs of ASCII letters and digits
 * (lowercased) or of non-ASCII bytes; punctuation and case do not count.
 * A text keeps at most DS_SKETCH_MAX shingle hashes, the smallest (a
 * bottom-k sketch): the similarity of two texts with fewer shingles than
 * that is exact, longer ones are estimated from the k smallest of the union.
 *
 * Grouping finds every pair at or over the threshold without comparing all
 * pairs: the AllPairs prefix filter (Bayardo et al. 2007). Order each
 * sketch's shingles from the rarest to the most common; two sets with
 * J >= t must share one of the first |x| - ceil(t |x|) + 1 shingles of x.
 * Only pairs sharing such a prefix shingle are compared, exactly; groups
 * are the connected components of "J >= t" (union-find), a function of the
 * set of texts alone, whatever order they were given in.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

static int word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

size_t ds_sketch(const char *text, size_t len, uint64_t *out, int *truncated)
{
    const unsigned char *s = (const unsigned char *)text;
    /* The shingles are collected whole (their number is at most the words'),
     * then sorted and cut to the smallest DS_SKETCH_MAX. */
    size_t cap = 64, n = 0, words = 0;
    uint64_t *all = malloc(cap * sizeof *all);
    uint64_t w[3] = {0, 0, 0};
    size_t i = 0;
    *truncated = 0;
    if (!all)
        return (size_t)-1;
    while (i < len) {
        while (i < len && !word_byte(s[i]))
            i++;
        if (i >= len)
            break;
        uint64_t h = 0xCBF29CE484222325ull;
        while (i < len && word_byte(s[i])) {
            unsigned char c = s[i++];
            if (c >= 'A' && c <= 'Z')
                c = (unsigned char)(c - 'A' + 'a');
            h = (h ^ c) * 0x100000001B3ull;
        }
        w[0] = w[1];
        w[1] = w[2];
        w[2] = h;
        if (++words < 3)
            continue;
        if (n == cap) {
            uint64_t *na = realloc(all, 2 * cap * sizeof *na);
            if (!na) {
                free(all);
                return (size_t)-1;
            }
            all = na;
            cap *= 2;
        }
        all[n++] = ds_mix64(ds_mix64(ds_mix64(w[0]) ^ w[1]) ^ w[2]);
    }
    if (words > 0 && words < 3) {
        /* one shingle of all the words, marked by their number */
        uint64_t h = ds_mix64(words);
        for (size_t k = 3 - words; k < 3; k++)
            h = ds_mix64(h ^ w[k]);
        all[n++] = h;
    }
    qsort(all, n, sizeof *all, cmp_u64);
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (!m || all[k] != all[m - 1])
            all[m++] = all[k];
    if (m > DS_SKETCH_MAX) {
        m = DS_SKETCH_MAX;
        *truncated = 1;
    }
    memcpy(out, all, m * sizeof *out);
    free(all);
    return m;
}

double ds_sketch_jaccard(const uint64_t *a, size_t na, int ta, const uint64_t *b, size_t nb, int tb)
{
    if (!na || !nb)
        return 0.0;
    /* Exact: |A n B| / |A u B|. Estimated: of the k smallest of the union
     * (k = the shorter sketch), the share found in both. */
    size_t k = (ta || tb) ? (na < nb ? na : nb) : na + nb;
    size_t i = 0, j = 0, uni = 0, both = 0;
    while (uni < k && (i < na || j < nb)) {
        if (j >= nb || (i < na && a[i] < b[j])) {
            i++;
        } else if (i >= na || b[j] < a[i]) {
            j++;
        } else {
            i++;
            j++;
            both++;
        }
        uni++;
    }
    return uni ? (double)both / (double)uni : 0.0;
}

/* ---- grouping ---------------------------------------------------------------- */

typedef struct {
    uint64_t *key;
    uint32_t *val;
    size_t cap;
} count_map;

static int cm_init(count_map *m, size_t n)
{
    m->cap = 16;
    while (m->cap < 2 * n + 16)
        m->cap *= 2;
    m->key = calloc(m->cap, sizeof *m->key);
    m->val = calloc(m->cap, sizeof *m->val);
    return m->key && m->val ? 0 : -1;
}

static uint32_t *cm_slot(count_map *m, uint64_t k)
{
    k |= 1; /* 0 marks an empty slot */
    for (size_t i = ds_mix64(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->key[i] == k)
            return &m->val[i];
        if (!m->key[i]) {
            m->key[i] = k;
            return &m->val[i];
        }
    }
}

static uint32_t uf_find(uint32_t *p, uint32_t x)
{
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

typedef struct {
    uint64_t token;
    uint32_t item;
} posting;

static int cmp_posting(const void *a, const void *b)
{
    const posting *x = a, *y = b;
    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Rarest first, then by value: the global order of the prefix filter.
 * qsort has no context argument in C11: a thread-local pointer carries the
 * map, as host's input lister does. */
static _Thread_local const count_map *order_map;
static int cmp_by_freq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    uint32_t fx = *cm_slot((count_map *)order_map, x), fy = *cm_slot((count_map *)order_map, y);
    if (fx != fy)
        return fx < fy ? -1 : 1;
    return x < y ? -1 : x > y;
}

int ds_group_near_duplicates(size_t n, const ds_sketch_set *ss, double t, uint32_t *root,
                             ds_group_stats *gs)
{
    ds_group_stats zero = {0};
    if (gs)
        *gs = zero;
    for (size_t i = 0; i < n; i++)
        root[i] = (uint32_t)i;
    if (n < 2 || !(t > 0))
        return 0;
    if (t > 1)
        t = 1;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += ss->len[i];
    count_map freq = {0};
    uint64_t *ord = malloc((total ? total : 1) * sizeof *ord);
    posting *post = malloc((total ? total : 1) * sizeof *post);
    int rc = IFS_DS_ENOMEM;
    if (!ord || !post || cm_init(&freq, total))
        goto out;
    for (size_t i = 0; i < total; i++)
        (*cm_slot(&freq, ss->hash[i]))++;
    order_map = &freq;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t *o = ord + ss->off[i];
        size_t len = ss->len[i];
        memcpy(o, ss->hash + ss->off[i], len * sizeof *o);
        qsort(o, len, sizeof *o, cmp_by_freq);
        if (!len)
            continue;
        size_t need = (size_t)ceil(t * (double)len - 1e-9);
        size_t prefix = len - (need < len ? need : len) + 1;
        if (prefix > len)
            prefix = len;
        for (size_t k = 0; k < prefix; k++)
            post[np++] = (posting){o[k], (uint32_t)i};
    }
    order_map = NULL;
    qsort(post, np, sizeof *post, cmp_posting);
    for (size_t a = 0; a < np;) {
        size_t b = a;
        while (b < np && post[b].token == post[a].token)
            b++;
        for (size_t x = a; x < b; x++) {
            for (size_t y = x + 1; y < b; y++) {
                uint32_t i = post[x].item, j = post[y].item;
                uint32_t ri = uf_find(root, i), rj = uf_find(root, j);
                if (ri == rj)
                    continue;
                size_t li = ss->len[i], lj = ss->len[j];
                int exact = !ss->trunc[i] && !ss->trunc[j];
                /* length filter: J <= min/max for exact sets */
                if (exact && (double)(li < lj ? li : lj) < t * (double)(li < lj ? lj : li) - 1e-9)
                    continue;
                if (gs)
                    gs->compared++;
                double jac = ds_sketch_jaccard(ss->hash + ss->off[i], li, ss->trunc[i],
                                               ss->hash + ss->off[j], lj, ss->trunc[j]);
                if (jac + 1e-12 >= t) {
                    if (ri < rj)
                        root[rj] = ri;
                    else
                        root[ri] = rj;
                    if (gs)
                        gs->merged++;
                }
            }
        }
        a = b;
    }
    for (size_t i = 0; i < n; i++)
        root[i] = uf_find(root, (uint32_t)i);
    rc = 0;
out:
    free(ord);
    free(post);
    free(freq.key);
    free(freq.val);
    return rc;
}
