/*
 * rset.c - the planned response set: the paper's cases (in pair form with
 * --pairs), negatives that imitate what base models write, terse positives,
 * an instruction source held out, near-duplicate instructions kept in one
 * split, exact duplicates removed, and classes balanced within each split
 * and length bucket. It reads its inputs three times:
 *
 *   A. collect: every distinct instruction (a 64-bit hash, its split key,
 *      its most specific source, whether a held-out source names it, and a
 *      shingle sketch), and a pool of instructions with one response each
 *      (the pool_size instructions of smallest key; each with the response of
 *      its smallest-key pair) from which "next" and "template" negatives take
 *      their other instructions. Then near-duplicates are grouped, and each
 *      group gets one split (holdout if any member's source is held out).
 *   B. count: every candidate record of every pair (what C would write) is
 *      generated and remembered by (text hash, record key, cell): exact
 *      duplicates keep the smallest key (a text seen with both labels is
 *      dropped entirely), and each (split, length bucket) cell keeps as
 *      many of each label as the rarer label has, by smallest key.
 *   C. write: the same candidates again; the chosen ones are written.
 *
 * Every choice is a pure function of (seed, text or id), and the pool and
 * the groups depend only on the set of pairs, so the set written is the same
 * whatever order or sharding the input comes in (records appear in input
 * order). Memory: per distinct instruction ~40 bytes plus its sketch (8
 * bytes per shingle, at most 256); the pool (pool_size instructions and
 * responses, responses cut to 2 KiB); 24 bytes per candidate record.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

#define MAX_SOURCES 256
#define POOL_RESP_MAX 2048
#define N_SPLITS 4

typedef struct {
    uint64_t h;         /* ifs_ds_key(0, "dedupe", I): the instruction's identity */
    uint64_t split_key; /* ifs_ds_key(seed, "split", I) */
    uint64_t pool_key;  /* ifs_ds_key(seed, "pool", I) */
    uint32_t src;       /* most specific source seen (index), UINT32_MAX none */
    uint32_t sk_off;
    uint16_t sk_len;
    uint8_t sk_trunc;
    uint8_t held; /* a pair named a held-out source */
    uint8_t split;
    uint32_t group; /* index of the group's first member (after sorting) */
    int32_t pool;   /* slot in the pool heap, -1 */
} instr_ent;

typedef struct {
    uint64_t key;      /* instruction's pool key: max-heap order */
    uint64_t pair_key; /* the chosen response's pair key (smallest) */
    uint64_t h;
    uint32_t ent; /* instruction index */
    char *instr, *resp;
    size_t il, rl;
} pool_ent;

enum { C_WIN = 1, C_CONFLICT = 2, C_WRITTEN = 4, C_CAPPED = 8 };

typedef struct {
    uint64_t hash;  /* text (and input) */
    uint64_t key;   /* the record's selection key */
    uint32_t group; /* the instruction's group */
    uint16_t cell;  /* split * DS_NBUCKETS + bucket */
    uint8_t label, flags;
} cand;

typedef struct {
    uint64_t thr;        /* keep keys <= thr */
    uint64_t keep, have; /* how many to keep, how many winners */
} cell_sel;

struct ds_rset {
    ifs_ds_build_opts o;
    double weight[DS_OUT__COUNT];
    instr_ent *in;
    size_t n_in, cap_in;
    uint32_t *slot; /* hash table: index + 1 */
    size_t slots;
    uint64_t *sk;
    size_t n_sk, cap_sk;
    char *src[MAX_SOURCES];
    size_t n_src;
    pool_ent *pool;
    size_t n_pool;
    uint32_t *split_pool[N_SPLITS]; /* pool slots per split, by (source, pool key) */
    size_t split_pool_n[N_SPLITS];
    /* split_pool[s][src_at[s][k], + src_n[s][k]) are those of source k (the
     * last index: no source) */
    uint32_t src_at[N_SPLITS][MAX_SOURCES + 1], src_n[N_SPLITS][MAX_SOURCES + 1];
    cand *c;
    size_t n_c, cap_c;
    cell_sel sel[N_SPLITS * DS_NBUCKETS][2];
    int pass; /* 'A', 'B', 'C' */
    ds_sink *sink;
    ds_rset_stats st;
    ds_buf pid, kname, txt, rec, key; /* pair id, kind name, text, record, record id */
    char err[512];
};

/* ---- small pieces ---------------------------------------------------------------- */

/* Comma-separated fnmatch patterns; "!pattern" excludes. A model passes when
 * it matches a positive pattern (or there is none) and no exclusion. Shared by
 * build-responses (rset.c) and the streaming builders (builders.c). */
int ds_models_match(const char *list, const char *model)
{
    if (!list)
        return 1;
    if (!model)
        return 0;
    int have_pos = 0, pos = 0, neg = 0;
    const char *p = list;
    char pat[256];
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n && n < sizeof pat) {
            memcpy(pat, p, n);
            pat[n] = 0;
            if (pat[0] == '!') {
                neg |= !fnmatch(pat + 1, model, 0);
            } else {
                have_pos = 1;
                pos |= !fnmatch(pat, model, 0);
            }
        }
        p += n + (p[n] == ',');
    }
    return (pos || !have_pos) && !neg;
}

static const uint32_t bucket_top[DS_NBUCKETS] = {1, 2, 4, 8, 16, 32, 64, UINT32_MAX};
static const char *const bucket_names[DS_NBUCKETS] = {"1",    "2",     "3-4",   "5-8",
                                                      "9-16", "17-32", "33-64", "65+"};

int ds_length_bucket(size_t words)
{
    for (int b = 0; b < DS_NBUCKETS; b++)
        if (words <= bucket_top[b])
            return b;
    return DS_NBUCKETS - 1;
}

const char *ds_length_bucket_name(int b)
{
    return b >= 0 && b < DS_NBUCKETS ? bucket_names[b] : "?";
}

static const char *split_name(int s)
{
    return s == IFS_DS_HOLDOUT ? "holdout" : ifs_ds_split_name((ifs_ds_split)s);
}

/* "Ic=2,echo=1": weights of the negative kinds. */
int ds_parse_negative_mix(const char *spec, double w[DS_OUT__COUNT], char *err, size_t errlen)
{
    for (int k = 0; k < DS_OUT__COUNT; k++)
        w[k] = 0;
    const char *p = spec;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        int k = eq ? ds_out_parse(p, (size_t)(eq - p)) : -1;
        char num[32];
        size_t nl = eq ? n - (size_t)(eq - p) - 1 : 0;
        double v = -1;
        if (eq && nl && nl < sizeof num) {
            memcpy(num, eq + 1, nl);
            num[nl] = 0;
            char *end;
            v = strtod(num, &end);
            if (*end)
                v = -1;
        }
        if (k < 0 || ds_out_label((ds_out)k) || !(v >= 0 && v <= 1e6)) {
            snprintf(err, errlen,
                     "negative mix: '%.*s' is not KIND=WEIGHT with KIND one of Ic, "
                     "Ic+R, Ic+next, echo, next, template, repeat, gibberish",
                     (int)n, p);
            return -1;
        }
        w[k] = v;
        p += n + (p[n] == ',');
    }
    double sum = 0;
    for (int k = 0; k < DS_OUT__COUNT; k++)
        sum += w[k];
    if (!(sum > 0)) {
        snprintf(err, errlen, "negative mix: no kind has a weight above 0");
        return -1;
    }
    return 0;
}

/* Sources: interned. An instruction seen under several keeps the most
 * specific (more ':'-separated parts, then the first in byte order), so an
 * AlpacaEval file without the dataset field inherits the subset the others
 * name for the same instruction. */
static uint32_t intern(ds_rset *r, const char *s)
{
    for (size_t i = 0; i < r->n_src; i++)
        if (!strcmp(r->src[i], s))
            return (uint32_t)i;
    if (r->n_src == MAX_SOURCES) {
        r->st.sources_overflow++;
        return UINT32_MAX;
    }
    char *d = strdup(s);
    if (!d)
        return UINT32_MAX;
    r->src[r->n_src] = d;
    return (uint32_t)r->n_src++;
}

static size_t colons(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == ':';
    return n;
}

static int more_specific(const char *a, const char *b)
{
    size_t ca = colons(a), cb = colons(b);
    return ca != cb ? ca > cb : strcmp(a, b) < 0;
}

/* ---- the instruction table ----------------------------------------------------------- */

static uint64_t slot_hash(uint64_t h)
{
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

static int table_rebuild(ds_rset *r, size_t want)
{
    size_t ns = 1024;
    while (ns < 2 * want + 2)
        ns *= 2;
    uint32_t *t = calloc(ns, sizeof *t);
    if (!t)
        return IFS_DS_ENOMEM;
    for (size_t i = 0; i < r->n_in; i++) {
        size_t j = slot_hash(r->in[i].h) & (ns - 1);
        while (t[j])
            j = (j + 1) & (ns - 1);
        t[j] = (uint32_t)i + 1;
    }
    free(r->slot);
    r->slot = t;
    r->slots = ns;
    return 0;
}

static instr_ent *lookup(const ds_rset *r, uint64_t h)
{
    if (!r->slots)
        return NULL;
    for (size_t j = slot_hash(h) & (r->slots - 1);; j = (j + 1) & (r->slots - 1)) {
        if (!r->slot[j])
            return NULL;
        if (r->in[r->slot[j] - 1].h == h)
            return &r->in[r->slot[j] - 1];
    }
}

static instr_ent *add_instr(ds_rset *r, uint64_t h, const char *instr, size_t il)
{
    instr_ent *e = lookup(r, h);
    if (e)
        return e;
    if (r->n_in == r->cap_in) {
        size_t nc = r->cap_in ? r->cap_in * 2 : 1024;
        instr_ent *ni = realloc(r->in, nc * sizeof *ni);
        if (!ni)
            return NULL;
        r->in = ni;
        r->cap_in = nc;
    }
    if ((r->n_in + 1) * 2 > r->slots && table_rebuild(r, r->n_in + 1))
        return NULL;
    e = &r->in[r->n_in];
    memset(e, 0, sizeof *e);
    e->h = h;
    e->split_key = ifs_ds_key(r->o.seed, "split", instr, il);
    e->pool_key = ifs_ds_key(r->o.seed, "pool", instr, il);
    e->src = UINT32_MAX;
    e->pool = -1;
    if (r->o.near_dup > 0) {
        uint64_t tmp[DS_SKETCH_MAX];
        int trunc;
        size_t n = ds_sketch(instr, il, tmp, &trunc);
        if (n == (size_t)-1)
            return NULL;
        if (r->n_sk + n > r->cap_sk) {
            size_t nc = r->cap_sk ? r->cap_sk * 2 : 1 << 16;
            while (nc < r->n_sk + n)
                nc *= 2;
            uint64_t *ns = realloc(r->sk, nc * sizeof *ns);
            if (!ns)
                return NULL;
            r->sk = ns;
            r->cap_sk = nc;
        }
        memcpy(r->sk + r->n_sk, tmp, n * sizeof *tmp);
        e->sk_off = (uint32_t)r->n_sk;
        e->sk_len = (uint16_t)n;
        e->sk_trunc = (uint8_t)trunc;
        r->n_sk += n;
    }
    size_t j = slot_hash(h) & (r->slots - 1);
    while (r->slot[j])
        j = (j + 1) & (r->slots - 1);
    r->slot[j] = (uint32_t)++r->n_in;
    return e;
}

/* ---- the pool: the pool_size instructions of smallest pool key ------------------------
 * A max-heap on the key. An instruction that belongs to the final pool is among
 * the smallest keys of every subset holding it, so it enters at its first pair
 * and never leaves: every one of its pairs is seen, and the response kept (that
 * of the smallest pair key) does not depend on the order of the input. */

static int pool_less(const pool_ent *a, const pool_ent *b)
{
    return a->key != b->key ? a->key < b->key : a->h < b->h;
}

static void pool_swap(ds_rset *r, size_t i, size_t j)
{
    pool_ent t = r->pool[i];
    r->pool[i] = r->pool[j];
    r->pool[j] = t;
    r->in[r->pool[i].ent].pool = (int32_t)i;
    r->in[r->pool[j].ent].pool = (int32_t)j;
}

static void pool_up(ds_rset *r, size_t i)
{
    while (i && pool_less(&r->pool[(i - 1) / 2], &r->pool[i])) {
        pool_swap(r, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void pool_down(ds_rset *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->n_pool && pool_less(&r->pool[m], &r->pool[l]))
            m = l;
        if (l + 1 < r->n_pool && pool_less(&r->pool[m], &r->pool[l + 1]))
            m = l + 1;
        if (m == i)
            return;
        pool_swap(r, i, m);
        i = m;
    }
}

static int set_text(char **dst, size_t *dl, const char *s, size_t n, size_t cap)
{
    if (n > cap) {
        n = cap;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80) /* a whole code point */
            n--;
    }
    char *d = malloc(n + 1);
    if (!d)
        return IFS_DS_ENOMEM;
    memcpy(d, s, n);
    d[n] = 0;
    free(*dst);
    *dst = d;
    *dl = n;
    return 0;
}

static int pool_offer(ds_rset *r, instr_ent *e, const char *instr, size_t il, const char *resp,
                      size_t rl, uint64_t pair_key)
{
    if (!r->o.pool_size)
        return 0;
    if (e->pool >= 0) {
        pool_ent *p = &r->pool[e->pool];
        if (pair_key < p->pair_key) {
            p->pair_key = pair_key;
            return set_text(&p->resp, &p->rl, resp, rl, POOL_RESP_MAX);
        }
        return 0;
    }
    pool_ent cand = {.key = e->pool_key, .h = e->h, .pair_key = pair_key};
    if (r->n_pool == r->o.pool_size) {
        if (!pool_less(&cand, &r->pool[0]))
            return 0;
        /* evict the largest */
        r->in[r->pool[0].ent].pool = -1;
        free(r->pool[0].instr);
        free(r->pool[0].resp);
        r->pool[0] = r->pool[--r->n_pool];
        if (r->n_pool) {
            r->in[r->pool[0].ent].pool = 0;
            pool_down(r, 0);
        }
    }
    size_t i = r->n_pool++;
    pool_ent *p = &r->pool[i];
    *p = cand;
    p->ent = (uint32_t)(e - r->in);
    e->pool = (int32_t)i;
    if (set_text(&p->instr, &p->il, instr, il, (size_t)1 << 20) ||
        set_text(&p->resp, &p->rl, resp, rl, POOL_RESP_MAX))
        return IFS_DS_ENOMEM;
    pool_up(r, i);
    return 0;
}

/* ---- create / free ------------------------------------------------------------------------ */

ds_rset *ds_rset_create(const ifs_ds_build_opts *o, char *err, size_t errlen)
{
    ds_rset *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->o = *o;
    if (!r->o.negatives)
        r->o.negatives = r->o.pairs ? 2 : 1;
    if (r->o.negative_mix) {
        if (ds_parse_negative_mix(r->o.negative_mix, r->weight, err, errlen)) {
            free(r);
            return NULL;
        }
    } else {
        r->weight[DS_OUT_IC] = r->o.ic_share;
        r->weight[DS_OUT_IC_R] = 1 - r->o.ic_share;
    }
    if (r->o.pool_size) {
        r->pool = calloc(r->o.pool_size, sizeof *r->pool);
        if (!r->pool) {
            snprintf(err, errlen, "out of memory");
            free(r);
            return NULL;
        }
    }
    return r;
}

void ds_rset_free(ds_rset *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_pool; i++) {
        free(r->pool[i].instr);
        free(r->pool[i].resp);
    }
    free(r->pool);
    for (int s = 0; s < N_SPLITS; s++)
        free(r->split_pool[s]);
    for (size_t i = 0; i < r->n_src; i++)
        free(r->src[i]);
    free(r->in);
    free(r->slot);
    free(r->sk);
    free(r->c);
    ds_buf_free(&r->pid);
    ds_buf_free(&r->kname);
    ds_buf_free(&r->txt);
    ds_buf_free(&r->rec);
    ds_buf_free(&r->key);
    free(r);
}

const ds_rset_stats *ds_rset_get_stats(const ds_rset *r)
{
    return &r->st;
}

/* ---- one pair ------------------------------------------------------------------------------- */

typedef struct {
    const char *id, *instr, *resp, *model, *isrc;
    size_t idl, il, rl;
    ifs_ds_cut cut;
    int terse;
} pair_view;

/* A response that starts by repeating the instruction (all of it, or its
 * first 60 bytes) does what the echo negatives imitate: AlpacaEval's
 * aligner-2b runs and phi-2 do it. It is no positive. */
static int echoes(const char *instr, size_t il, const char *resp, size_t rl)
{
    while (il && (*instr == ' ' || *instr == '\n' || *instr == '\t' || *instr == '\r')) {
        instr++;
        il--;
    }
    while (rl && (*resp == ' ' || *resp == '\n' || *resp == '\t' || *resp == '\r')) {
        resp++;
        rl--;
    }
    size_t k = il < 60 ? il : 60;
    return k && rl >= k && !memcmp(instr, resp, k);
}

/* Whether the pair gives records, with the reason counted (pass A only). */
static int eligible(ds_rset *r, const cJSON *obj, const char *shard, uint64_t line, pair_view *pv)
{
    int count = r->pass == 'A';
    ds_rset_stats *st = &r->st;
    memset(pv, 0, sizeof *pv);
    pv->instr = ds_get_str(obj, "instruction", &pv->il);
    pv->resp = ds_get_str(obj, "response", &pv->rl);
    pv->model = ds_get_str(obj, "model", NULL);
    pv->isrc = ds_get_str(obj, "instruction_source", NULL);
    if (count)
        st->pairs++;
    if (!pv->instr) {
        st->no_instruction += count;
        return 0;
    }
    if (!pv->resp) {
        st->no_response += count;
        return 0;
    }
    size_t words = ifs_ds_word_count(pv->resp, pv->rl);
    int pos = ds_models_match(r->o.positive_models, pv->model);
    int terse_model =
        r->o.terse_max_words &&
        ds_models_match(r->o.terse_models ? r->o.terse_models : r->o.positive_models, pv->model);
    pv->terse = r->o.terse_max_words && words && words <= r->o.terse_max_words;
    if (!pos && !(terse_model && pv->terse)) {
        if (terse_model)
            st->terse_too_long += count;
        else
            st->not_positive += count;
        return 0;
    }
    if (!words) {
        st->empty_response += count;
        return 0;
    }
    if (echoes(pv->instr, pv->il, pv->resp, pv->rl)) {
        st->echoes_instruction += count;
        return 0;
    }
    /* the pair's id, as the legacy builder makes it */
    ds_buf_reset(&r->pid);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (cJSON_IsString(v) && v->valuestring) {
        ds_buf_puts(&r->pid, v->valuestring);
    } else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble) {
        ds_buf_printf(&r->pid, "%lld", (long long)v->valuedouble);
    } else {
        const char *base = strrchr(shard, '/');
        ds_buf_printf(&r->pid, "%s:%llu", base ? base + 1 : shard, (unsigned long long)line);
    }
    if (r->pid.oom)
        return 0;
    pv->id = r->pid.p;
    pv->idl = r->pid.len;
    if (ifs_ds_cut_pick(pv->instr, pv->il, r->o.policy,
                        ifs_ds_key(r->o.seed, "cut", pv->id, pv->idl), &pv->cut)) {
        st->uncuttable += count;
        return 0;
    }
    return 1;
}

static int pass_a(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                  uint64_t line, void *user)
{
    (void)raw;
    (void)raw_len;
    ds_rset *r = user;
    pair_view pv;
    if (!eligible(r, obj, shard, line, &pv))
        return 0;
    r->st.eligible++;
    uint64_t h = ifs_ds_key(0, "dedupe", pv.instr, pv.il);
    instr_ent *e = add_instr(r, h, pv.instr, pv.il);
    if (!e) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return IFS_DS_ENOMEM;
    }
    if (pv.isrc) {
        if (r->o.holdout_sources && ds_models_match(r->o.holdout_sources, pv.isrc))
            e->held = 1;
        if (e->src == UINT32_MAX ||
            (strcmp(r->src[e->src], pv.isrc) && more_specific(pv.isrc, r->src[e->src])))
            e->src = intern(r, pv.isrc);
    }
    int rc = pool_offer(r, e, pv.instr, pv.il, pv.resp, pv.rl,
                        ifs_ds_key(r->o.seed, "pool-pair", pv.id, pv.idl));
    if (rc)
        snprintf(r->err, sizeof r->err, "out of memory");
    return rc;
}

static int cmp_ent(const void *a, const void *b)
{
    uint64_t x = ((const instr_ent *)a)->h, y = ((const instr_ent *)b)->h;
    return x < y ? -1 : x > y;
}

static uint32_t src_index(const instr_ent *e)
{
    return e->src == UINT32_MAX ? MAX_SOURCES : e->src;
}

static _Thread_local const ds_rset *pool_sort_ctx;
static int cmp_pool_slot(const void *a, const void *b)
{
    const ds_rset *r = pool_sort_ctx;
    const pool_ent *x = &r->pool[*(const uint32_t *)a];
    const pool_ent *y = &r->pool[*(const uint32_t *)b];
    uint32_t sx = src_index(&r->in[x->ent]), sy = src_index(&r->in[y->ent]);
    if (sx != sy)
        return sx < sy ? -1 : 1;
    return pool_less(x, y) ? -1 : pool_less(y, x);
}

/* Between A and B: canonical order, groups, splits, per-split pools. */
static int plan(ds_rset *r)
{
    /* sorted by hash: the same order whatever order the input came in */
    qsort(r->in, r->n_in, sizeof *r->in, cmp_ent);
    if (table_rebuild(r, r->n_in))
        return IFS_DS_ENOMEM;
    for (size_t i = 0; i < r->n_in; i++)
        r->in[i].pool = -1;
    for (size_t p = 0; p < r->n_pool; p++) {
        instr_ent *e = lookup(r, r->pool[p].h);
        r->pool[p].ent = (uint32_t)(e - r->in);
        e->pool = (int32_t)p;
    }
    uint32_t *root = malloc((r->n_in ? r->n_in : 1) * sizeof *root);
    if (!root)
        return IFS_DS_ENOMEM;
    int rc = 0;
    if (r->o.near_dup > 0 && r->n_in) {
        uint32_t *off = malloc(r->n_in * sizeof *off);
        uint16_t *len = malloc(r->n_in * sizeof *len);
        uint8_t *tr = malloc(r->n_in);
        if (!off || !len || !tr) {
            rc = IFS_DS_ENOMEM;
        } else {
            for (size_t i = 0; i < r->n_in; i++) {
                off[i] = r->in[i].sk_off;
                len[i] = r->in[i].sk_len;
                tr[i] = r->in[i].sk_trunc;
            }
            ds_sketch_set ss = {r->sk, off, len, tr};
            ds_group_stats gs;
            rc = ds_group_near_duplicates(r->n_in, &ss, r->o.near_dup, root, &gs);
            r->st.compared = gs.compared;
        }
        free(off);
        free(len);
        free(tr);
    } else {
        for (size_t i = 0; i < r->n_in; i++)
            root[i] = (uint32_t)i;
    }
    if (rc) {
        free(root);
        return rc;
    }
    /* a group is held out when any member is; its split is its first member's */
    for (size_t i = 0; i < r->n_in; i++) {
        r->in[i].group = root[i];
        if (r->in[i].held)
            r->in[root[i]].held = 1;
    }
    r->st.instructions = r->n_in;
    for (size_t i = 0; i < r->n_in; i++) {
        instr_ent *g = &r->in[root[i]];
        int s = g->held ? IFS_DS_HOLDOUT
                        : (int)ifs_ds_split_of(g->split_key, r->o.train, r->o.validation);
        r->in[i].split = (uint8_t)s;
        r->st.instr_split[s]++;
        if (root[i] == i) {
            r->st.groups++;
            r->st.group_split[s]++;
        }
        if (r->in[i].src != UINT32_MAX)
            r->st.src_instructions[r->in[i].src]++;
    }
    free(root);
    for (size_t p = 0; p < r->n_pool; p++) {
        int s = r->in[r->pool[p].ent].split;
        if (!r->split_pool[s] && !(r->split_pool[s] = malloc(r->n_pool * sizeof *r->split_pool[s])))
            return IFS_DS_ENOMEM;
        r->split_pool[s][r->split_pool_n[s]++] = (uint32_t)p;
    }
    pool_sort_ctx = r;
    for (int s = 0; s < N_SPLITS; s++) {
        qsort(r->split_pool[s], r->split_pool_n[s], sizeof *r->split_pool[s], cmp_pool_slot);
        r->st.pool[s] = r->split_pool_n[s];
        for (size_t i = r->split_pool_n[s]; i-- > 0;) {
            uint32_t k = src_index(&r->in[r->pool[r->split_pool[s][i]].ent]);
            r->src_at[s][k] = (uint32_t)i;
            r->src_n[s][k]++;
        }
    }
    pool_sort_ctx = NULL;
    return 0;
}

/* The kind index of the statistics: (output kind, input partial). Only the
 * pair form names the input, so the response form counts both as one. */
static int kidx(const ds_rset *r, ds_out k, int partial)
{
    return (int)k * 2 + (r->o.pairs && partial);
}

static void kind_name(const ds_rset *r, ds_out k, int partial, ds_buf *b)
{
    ds_buf_reset(b);
    if (r->o.pairs)
        ds_buf_puts(b, partial ? "Ip+" : "I+");
    ds_buf_puts(b, ds_out_name(k));
}

typedef struct {
    ds_out kind;
    int partial;
} plan_item;

/* The candidates of one pair: its positives, then `negatives` distinct kinds
 * drawn by weight without replacement. */
static size_t plan_pair(const ds_rset *r, const pair_view *pv, plan_item *items)
{
    size_t n = 0;
    ds_out pos = pv->terse ? DS_OUT_R_TERSE : DS_OUT_R;
    items[n++] = (plan_item){pos, 0};
    if (r->o.pairs)
        items[n++] = (plan_item){pos, 1};
    double w[DS_OUT__COUNT];
    memcpy(w, r->weight, sizeof w);
    ds_rng rng = ds_rng_seed(ifs_ds_key(r->o.seed, "kinds", pv->id, pv->idl));
    for (unsigned k = 0; k < r->o.negatives; k++) {
        double sum = 0;
        for (int i = 0; i < DS_OUT__COUNT; i++)
            sum += w[i];
        if (!(sum > 0))
            break;
        double u = ds_rng_unit(&rng) * sum;
        int pick = -1;
        for (int i = 0; i < DS_OUT__COUNT; i++) {
            if (w[i] <= 0)
                continue;
            pick = i;
            if (u < w[i])
                break;
            u -= w[i];
        }
        w[pick] = 0;
        ds_out kind = (ds_out)pick;
        int partial;
        if (kind == DS_OUT_IC_R || kind == DS_OUT_IC_NEXT)
            partial = 1; /* these complete the fragment first */
        else
            partial = (int)(ds_rng_next(&rng) >> 63);
        items[n++] = (plan_item){kind, partial};
    }
    return n;
}

/* Up to 3 pool entries of the pair's split, from instructions of other
 * groups, walked from a keyed start: of the pair's own source when it has
 * any (the next question of an HH user is another HH question), else of any. */
static unsigned walk_pool(const ds_rset *r, const instr_ent *e, const uint32_t *slots, size_t n,
                          uint64_t key, ds_gen_src *src)
{
    unsigned got = 0;
    if (!n)
        return 0;
    ds_rng rng = ds_rng_seed(key);
    size_t start = (size_t)(ds_rng_next(&rng) % n);
    uint32_t used[3];
    for (size_t k = 0; k < n && got < 3; k++) {
        const pool_ent *p = &r->pool[slots[(start + k) % n]];
        uint32_t g = r->in[p->ent].group;
        int dup = g == e->group;
        for (unsigned j = 0; j < got && !dup; j++)
            dup = used[j] == g;
        if (dup)
            continue;
        used[got] = g;
        src->other_instr[got] = (ds_str){p->instr, p->il};
        src->other_resp[got] = (ds_str){p->resp, p->rl};
        got++;
    }
    return got;
}

static unsigned pick_others(const ds_rset *r, const instr_ent *e, uint64_t key, ds_gen_src *src)
{
    int s = e->split;
    uint32_t k = src_index(e);
    unsigned got = walk_pool(r, e, r->split_pool[s] + r->src_at[s][k], r->src_n[s][k], key, src);
    return got ? got : walk_pool(r, e, r->split_pool[s], r->split_pool_n[s], key, src);
}

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int add_cand(ds_rset *r, const cand *c)
{
    if (r->n_c == r->cap_c) {
        size_t nc = r->cap_c ? r->cap_c * 2 : 1 << 14;
        cand *n = realloc(r->c, nc * sizeof *n);
        if (!n)
            return IFS_DS_ENOMEM;
        r->c = n;
        r->cap_c = nc;
    }
    r->c[r->n_c++] = *c;
    return 0;
}

static cand *find_cand(ds_rset *r, uint64_t hash, uint64_t key)
{
    cand k = {.hash = hash, .key = key};
    return bsearch(&k, r->c, r->n_c, sizeof *r->c, cmp_cand);
}

static int write_record(ds_rset *r, const pair_view *pv, const instr_ent *e, const plan_item *it,
                        ds_str input, size_t words)
{
    ds_buf *b = &r->rec;
    int s = e->split;
    ds_buf_reset(b);
    ds_buf_puts(b, "{");
    ds_buf_kv_str(b, "id", r->key.p, r->key.len);
    if (r->o.pairs)
        ds_buf_kv_str(b, "instruction", input.p, input.n);
    ds_buf_kv_str(b, "text", r->txt.p, r->txt.len);
    ds_buf_kv_int(b, "label", ds_out_label(it->kind));
    ds_buf_kv_str(b, "split", split_name(s), strlen(split_name(s)));
    ds_buf_kv_str(b, "kind", r->kname.p, r->kname.len);
    if (e->src != UINT32_MAX)
        ds_buf_kv_str(b, "source", r->src[e->src], strlen(r->src[e->src]));
    ds_buf_kv_str(b, "source_id", pv->id, pv->idl);
    if (pv->model)
        ds_buf_kv_str(b, "model", pv->model, strlen(pv->model));
    ds_buf_puts(b, "}");
    if (b->oom) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return IFS_DS_ENOMEM;
    }
    int rc = ds_sink_line(r->sink, b->p, b->len, r->err, sizeof r->err);
    if (rc)
        return rc;
    ds_rset_stats *st = &r->st;
    int lab = ds_out_label(it->kind);
    int bk = ds_length_bucket(words);
    st->written++;
    st->kind_split[kidx(r, it->kind, it->partial)][s]++;
    st->label_split[lab][s]++;
    st->hist[s][lab][bk]++;
    st->kind_hist[kidx(r, it->kind, it->partial)][bk]++;
    if (e->src != UINT32_MAX)
        st->src_split[e->src][s][lab]++;
    return 0;
}

/* Passes B and C: every candidate of the pair. */
static int gen_pair(ds_rset *r, const cJSON *obj, const char *shard, uint64_t line)
{
    pair_view pv;
    if (!eligible(r, obj, shard, line, &pv))
        return 0;
    instr_ent *e = lookup(r, ifs_ds_key(0, "dedupe", pv.instr, pv.il));
    int rc = 0;
    if (!e) { /* only when an input changed between the passes */
        snprintf(r->err, sizeof r->err, "%s: changed while it was being read", shard);
        return IFS_DS_EFORMAT;
    }
    ds_gen_src src = {0};
    src.instr = (ds_str){pv.instr, pv.il};
    src.ip = (ds_str){pv.instr + pv.cut.ip_off, pv.cut.ip_len};
    src.ic = (ds_str){pv.instr + pv.cut.ic_off, pv.cut.ic_len};
    src.resp = (ds_str){pv.resp, pv.rl};
    src.n_other = pick_others(r, e, ifs_ds_key(r->o.seed, "others", pv.id, pv.idl), &src);
    plan_item items[2 + DS_OUT__COUNT];
    size_t n = plan_pair(r, &pv, items);
    for (size_t i = 0; i < n && !rc; i++) {
        const plan_item *it = &items[i];
        src.input_partial = it->partial;
        src.input = it->partial ? src.ip : src.instr;
        kind_name(r, it->kind, it->partial, &r->kname);
        ds_buf_reset(&r->key);
        ds_buf_put(&r->key, pv.id, pv.idl);
        ds_buf_puts(&r->key, "/");
        ds_buf_put(&r->key, r->kname.p, r->kname.len);
        uint64_t gkey = ifs_ds_key(r->o.seed, "text", r->key.p, r->key.len);
        int g = ds_gen_text(it->kind, &src, gkey, &r->txt);
        if (g == IFS_DS_ENOMEM || r->key.oom || r->kname.oom) {
            snprintf(r->err, sizeof r->err, "out of memory");
            rc = IFS_DS_ENOMEM;
            break;
        }
        int k = kidx(r, it->kind, it->partial);
        if (g) {
            if (r->pass == 'B')
                r->st.not_generated[k]++;
            continue;
        }
        /* identity of the record for duplicates: its text, and its input in pair form */
        uint64_t hash = ifs_ds_key(0, "text", r->txt.p, r->txt.len);
        if (r->o.pairs)
            hash = ifs_ds_key(hash, "pair", src.input.p, src.input.n);
        uint64_t key = ifs_ds_key(r->o.seed, "keep", r->key.p, r->key.len);
        size_t words = ifs_ds_word_count(r->txt.p, r->txt.len);
        int bucket = r->o.length_match ? ds_length_bucket(words) : 0;
        int lab = ds_out_label(it->kind);
        uint16_t cell = (uint16_t)(e->split * DS_NBUCKETS + bucket);
        if (r->pass == 'B') {
            r->st.candidates[k]++;
            cand c = {hash, key, e->group, cell, (uint8_t)lab, 0};
            if ((rc = add_cand(r, &c)))
                snprintf(r->err, sizeof r->err, "out of memory");
            continue;
        }
        cand *c = find_cand(r, hash, key);
        if (!c || !(c->flags & C_WIN) || (c->flags & (C_CONFLICT | C_WRITTEN | C_CAPPED)))
            continue;
        const cell_sel *sel = &r->sel[cell][lab];
        if (!sel->keep || key > sel->thr)
            continue;
        c->flags |= C_WRITTEN;
        rc = write_record(r, &pv, e, it, src.input, words);
    }
    return rc;
}

static int pass_bc(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                   uint64_t line, void *user)
{
    (void)raw;
    (void)raw_len;
    return gen_pair(user, obj, shard, line);
}

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static _Thread_local const cand *cap_sort_ctx;
static int cmp_group_label_key(const void *a, const void *b)
{
    const cand *x = &cap_sort_ctx[*(const uint32_t *)a], *y = &cap_sort_ctx[*(const uint32_t *)b];
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->label != y->label)
        return x->label < y->label ? -1 : 1;
    if (x->cell != y->cell)
        return x->cell < y->cell ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* At most max_per_group records of each label per instruction group (and
 * length bucket, with length_match: a group's few short answers are not
 * crowded out by its many long ones), by smallest key. AlpacaEval has ~220
 * answers per instruction, GPTeacher and HH one: a set drawn from them
 * unchecked is mostly the same 553 instructions. */
static int cap_groups(ds_rset *r)
{
    if (!r->o.max_per_group)
        return 0;
    size_t nw = 0;
    for (size_t i = 0; i < r->n_c; i++)
        nw += (r->c[i].flags & C_WIN) != 0;
    uint32_t *idx = malloc((nw ? nw : 1) * sizeof *idx);
    if (!idx)
        return IFS_DS_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < r->n_c; i++)
        if (r->c[i].flags & C_WIN)
            idx[m++] = (uint32_t)i;
    cap_sort_ctx = r->c;
    qsort(idx, m, sizeof *idx, cmp_group_label_key);
    cap_sort_ctx = NULL;
    for (size_t a = 0; a < m;) {
        size_t b = a;
        while (b < m && r->c[idx[b]].group == r->c[idx[a]].group &&
               r->c[idx[b]].label == r->c[idx[a]].label && r->c[idx[b]].cell == r->c[idx[a]].cell)
            b++;
        for (size_t i = a + r->o.max_per_group; i < b; i++) {
            r->c[idx[i]].flags |= C_CAPPED;
            r->st.group_capped++;
        }
        a = b;
    }
    free(idx);
    return 0;
}

/* Between B and C: duplicates, conflicts, the cap per group, and the
 * balance of every cell. */
static int select_records(ds_rset *r)
{
    qsort(r->c, r->n_c, sizeof *r->c, cmp_cand);
    size_t ncell = N_SPLITS * DS_NBUCKETS;
    for (size_t a = 0; a < r->n_c;) {
        size_t b = a;
        int labels = 0;
        while (b < r->n_c && r->c[b].hash == r->c[a].hash) {
            labels |= 1 << r->c[b].label;
            b++;
        }
        if (labels == 3) {
            for (size_t i = a; i < b; i++)
                r->c[i].flags |= C_CONFLICT;
            r->st.label_conflicts += b - a;
        } else {
            r->c[a].flags |= C_WIN;
            /* the same record twice (one pair given twice) is one record */
            for (size_t i = a + 1; i < b; i++)
                r->st.duplicates += 1;
        }
        a = b;
    }
    if (cap_groups(r))
        return IFS_DS_ENOMEM;
    for (size_t i = 0; i < r->n_c; i++)
        if ((r->c[i].flags & C_WIN) && !(r->c[i].flags & C_CAPPED))
            r->sel[r->c[i].cell][r->c[i].label].have++;
    /* the keys of each cell's winners, to find the keep-th smallest */
    uint64_t *keys = NULL;
    int rc = 0;
    for (size_t cell = 0; cell < ncell && !rc; cell++) {
        uint64_t keep = r->sel[cell][0].have < r->sel[cell][1].have ? r->sel[cell][0].have
                                                                    : r->sel[cell][1].have;
        for (int lab = 0; lab < 2; lab++) {
            cell_sel *s = &r->sel[cell][lab];
            s->keep = keep;
            r->st.balance_dropped += s->have - keep;
            if (!keep || keep == s->have) {
                s->thr = UINT64_MAX;
                continue;
            }
            free(keys);
            keys = malloc(s->have * sizeof *keys);
            if (!keys) {
                rc = IFS_DS_ENOMEM;
                break;
            }
            size_t m = 0;
            for (size_t i = 0; i < r->n_c; i++)
                if ((r->c[i].flags & (C_WIN | C_CAPPED)) == C_WIN && r->c[i].cell == cell &&
                    r->c[i].label == lab)
                    keys[m++] = r->c[i].key;
            qsort(keys, m, sizeof *keys, cmp_key);
            s->thr = keys[keep - 1];
        }
    }
    free(keys);
    return rc;
}

int ds_rset_run(ds_rset *r, char *const *files, int n, ds_sink *sink, ds_read_stats *rs, char *err,
                size_t errlen)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(files[i], "-")) {
            snprintf(err, errlen,
                     "the planned response set reads its inputs three times: "
                     "give files, not - (stdin)");
            return IFS_DS_EARG;
        }
    r->sink = sink;
    ds_read_stats scratch;
    int rc;
    r->pass = 'A';
    memset(rs, 0, sizeof *rs);
    if ((rc = ds_read_records(files, n, pass_a, r, rs, err, errlen)))
        goto fail;
    if ((rc = plan(r))) {
        snprintf(r->err, sizeof r->err, "out of memory");
        goto fail;
    }
    r->pass = 'B';
    memset(&scratch, 0, sizeof scratch);
    if ((rc = ds_read_records(files, n, pass_bc, r, &scratch, err, errlen)))
        goto fail;
    if ((rc = select_records(r))) {
        snprintf(r->err, sizeof r->err, "out of memory");
        goto fail;
    }
    r->pass = 'C';
    memset(&scratch, 0, sizeof scratch);
    if ((rc = ds_read_records(files, n, pass_bc, r, &scratch, err, errlen)))
        goto fail;
    return 0;
fail:
    if (r->err[0])
        snprintf(err, errlen, "%s", r->err);
    return rc;
}

/* ---- statistics --------------------------------------------------------------------------- */

/* {"<kind>":n,...} of the kinds with a count, by_kidx[kidx * stride]. */
static void json_kind_obj(const ds_rset *r, ds_buf *b, const uint64_t *by_kidx, size_t stride)
{
    ds_buf_puts(b, "{");
    int first = 1;
    ds_buf kn = {0};
    for (int k = 0; k < DS_OUT__COUNT; k++)
        for (int p = 0; p < (r->o.pairs ? 2 : 1); p++) {
            uint64_t v = by_kidx[(size_t)kidx(r, (ds_out)k, p) * stride];
            if (!v)
                continue;
            kind_name(r, (ds_out)k, p, &kn);
            ds_buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", kn.p, (unsigned long long)v);
            first = 0;
        }
    ds_buf_free(&kn);
    ds_buf_puts(b, "}");
}

static void json_kinds(const ds_rset *r, ds_buf *b, const char *name, const uint64_t *by_kidx)
{
    ds_buf_printf(b, ",\"%s\":", name);
    json_kind_obj(r, b, by_kidx, 1);
}

void ds_rset_stats_json(const ds_rset *r, ds_buf *b)
{
    const ds_rset_stats *st = &r->st;
    ds_buf_printf(b,
                  "\"pairs\":%llu,\"eligible_pairs\":%llu,\"written\":%llu,"
                  "\"skipped\":{\"no_instruction\":%llu,\"no_response\":%llu,"
                  "\"not_positive\":%llu,\"terse_too_long\":%llu,\"empty_response\":%llu,"
                  "\"echoes_instruction\":%llu,\"uncuttable\":%llu}",
                  (unsigned long long)st->pairs, (unsigned long long)st->eligible,
                  (unsigned long long)st->written, (unsigned long long)st->no_instruction,
                  (unsigned long long)st->no_response, (unsigned long long)st->not_positive,
                  (unsigned long long)st->terse_too_long, (unsigned long long)st->empty_response,
                  (unsigned long long)st->echoes_instruction, (unsigned long long)st->uncuttable);
    ds_buf_printf(b,
                  ",\"instructions\":%llu,\"groups\":%llu,\"near_duplicates_merged\":%llu,"
                  "\"near_duplicate_pairs_compared\":%llu",
                  (unsigned long long)st->instructions, (unsigned long long)st->groups,
                  (unsigned long long)(st->instructions - st->groups),
                  (unsigned long long)st->compared);
    ds_buf_puts(b, ",\"instructions_per_split\":{");
    for (int s = 0; s < N_SPLITS; s++)
        ds_buf_printf(b, "%s\"%s\":%llu", s ? "," : "", split_name(s),
                      (unsigned long long)st->instr_split[s]);
    ds_buf_puts(b, "},\"groups_per_split\":{");
    for (int s = 0; s < N_SPLITS; s++)
        ds_buf_printf(b, "%s\"%s\":%llu", s ? "," : "", split_name(s),
                      (unsigned long long)st->group_split[s]);
    ds_buf_puts(b, "},\"pool_per_split\":{");
    for (int s = 0; s < N_SPLITS; s++)
        ds_buf_printf(b, "%s\"%s\":%llu", s ? "," : "", split_name(s),
                      (unsigned long long)st->pool[s]);
    ds_buf_puts(b, "}");
    json_kinds(r, b, "candidates", st->candidates);
    json_kinds(r, b, "not_generated", st->not_generated);
    ds_buf_printf(b,
                  ",\"dropped\":{\"duplicate\":%llu,\"label_conflict\":%llu,"
                  "\"over_group_cap\":%llu,\"balance\":%llu}",
                  (unsigned long long)st->duplicates, (unsigned long long)st->label_conflicts,
                  (unsigned long long)st->group_capped, (unsigned long long)st->balance_dropped);
    ds_buf_puts(b, ",\"labels\":{");
    for (int s = 0; s < N_SPLITS; s++)
        ds_buf_printf(b, "%s\"%s\":{\"0\":%llu,\"1\":%llu}", s ? "," : "", split_name(s),
                      (unsigned long long)st->label_split[0][s],
                      (unsigned long long)st->label_split[1][s]);
    ds_buf_puts(b, "},\"kinds\":{");
    for (int s = 0; s < N_SPLITS; s++) {
        ds_buf_printf(b, "%s\"%s\":", s ? "," : "", split_name(s));
        json_kind_obj(r, b, &st->kind_split[0][s], N_SPLITS);
    }
    ds_buf_puts(b, "},\"sources\":{");
    for (size_t i = 0; i < r->n_src; i++) {
        ds_buf_puts(b, i ? "," : "");
        ds_buf_json_str(b, r->src[i], strlen(r->src[i]));
        ds_buf_printf(b, ":{\"instructions\":%llu", (unsigned long long)st->src_instructions[i]);
        for (int s = 0; s < N_SPLITS; s++)
            ds_buf_printf(b, ",\"%s\":{\"0\":%llu,\"1\":%llu}", split_name(s),
                          (unsigned long long)st->src_split[i][s][0],
                          (unsigned long long)st->src_split[i][s][1]);
        ds_buf_puts(b, "}");
    }
    ds_buf_printf(b, "},\"sources_over_the_limit\":%llu", (unsigned long long)st->sources_overflow);
    ds_buf_puts(b, ",\"length_buckets\":[");
    for (int k = 0; k < DS_NBUCKETS; k++)
        ds_buf_printf(b, "%s\"%s\"", k ? "," : "", bucket_names[k]);
    /* what each cell had (winners per label) and kept: where the balance bit */
    ds_buf_puts(b, "],\"balance_cells\":{");
    for (int s = 0; s < N_SPLITS; s++) {
        ds_buf_printf(b, "%s\"%s\":{", s ? "," : "", split_name(s));
        const char *what[] = {"had_0", "had_1", "kept_each"};
        for (int w = 0; w < 3; w++) {
            ds_buf_printf(b, "%s\"%s\":[", w ? "," : "", what[w]);
            for (int k = 0; k < (r->o.length_match ? DS_NBUCKETS : 1); k++) {
                const cell_sel *c = r->sel[s * DS_NBUCKETS + k];
                ds_buf_printf(b, "%s%llu", k ? "," : "",
                              (unsigned long long)(w < 2 ? c[w].have : c[0].keep));
            }
            ds_buf_puts(b, "]");
        }
        ds_buf_puts(b, "}");
    }
    ds_buf_puts(b, "},\"words_per_label\":{");
    for (int s = 0; s < N_SPLITS; s++) {
        ds_buf_printf(b, "%s\"%s\":{", s ? "," : "", split_name(s));
        for (int lab = 0; lab < 2; lab++) {
            ds_buf_printf(b, "%s\"%d\":[", lab ? "," : "", lab);
            for (int k = 0; k < DS_NBUCKETS; k++)
                ds_buf_printf(b, "%s%llu", k ? "," : "", (unsigned long long)st->hist[s][lab][k]);
            ds_buf_puts(b, "]");
        }
        ds_buf_puts(b, "}");
    }
    ds_buf_puts(b, "},\"words_per_kind\":{");
    int first = 1;
    ds_buf kn = {0};
    for (int k = 0; k < DS_OUT__COUNT; k++)
        for (int p = 0; p < (r->o.pairs ? 2 : 1); p++) {
            const uint64_t *h = st->kind_hist[kidx(r, (ds_out)k, p)];
            uint64_t any = 0;
            for (int q = 0; q < DS_NBUCKETS; q++)
                any += h[q];
            if (!any)
                continue;
            kind_name(r, (ds_out)k, p, &kn);
            ds_buf_printf(b, "%s\"%s\":[", first ? "" : ",", kn.p);
            for (int q = 0; q < DS_NBUCKETS; q++)
                ds_buf_printf(b, "%s%llu", q ? "," : "", (unsigned long long)h[q]);
            ds_buf_puts(b, "]");
            first = 0;
        }
    ds_buf_free(&kn);
    ds_buf_puts(b, "}");
}
