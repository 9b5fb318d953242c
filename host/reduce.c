/*
 * reduce.c - the reducer: integer counts per group and instruction type,
 * per-input accounting, exact merging, and the two pieces of arithmetic the
 * report rests on (Wilson interval, plateau).
 *
 * Decisions:
 *   - Only integers are accumulated. The probability sum is fixed point
 *     (llround(p * 1e9)), so a sum over any order or any split of the input
 *     is the same number; a float sum in arrival order would not be.
 *   - Threshold, margin and plateau epsilon are rounded to 1e-6 at create:
 *     the report prints them with "%.6f", and a value read back must mean
 *     exactly what the run used.
 *   - Groups live in an open-addressing hash table over their key tuple;
 *     order is imposed only when a report is written (ifs_red_sorted_groups),
 *     so arrival order never shows.
 *   - One mutex guards the adders: the scorer calls once per batch, so the
 *     lock is taken thousands of times per second at most.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_decide.h"
#include "ifs_record.h"
#include "ifs_utf8.h"
#include "reduce_impl.h"

const char *ifs_reduce_strerror(int rc)
{
    switch (rc) {
    case IFS_RED_OK: return "ok";
    case IFS_RED_EARG: return "bad argument";
    case IFS_RED_ENOMEM: return "out of memory";
    case IFS_RED_EMISMATCH: return "reports differ in classifier, tokenizer or grouping";
    case IFS_RED_EOVERLAP: return "the same shard is counted twice";
    case IFS_RED_ECOUNT: return "counts do not add up";
    case IFS_RED_EIO: return "input/output error";
    case IFS_RED_EFORMAT: return "malformed report";
    case IFS_RED_EMISSING: return "slices of a sliced run are missing";
    default: return "unknown status";
    }
}

/* The one reject vocabulary is ifs_record.h's: a name outside it is a bug
 * or a hand-made report. */
int ifs_red_known_reason(const char *name)
{
    ifs_reject_reason r = ifs_reject_from_name(name);
    return r != IFS_REJECT__COUNT && r != IFS_REJECT_NONE;
}

int ifs_red_valid_name(const char *name)
{
    if (!name)
        return 0;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return n >= 1 && n <= IFS_RED_REASON_MAX;
}

int ifs_red_valid_utf8(const char *s, size_t len)
{
    return ifs_utf8_check(s, len) == len; /* the one validator (ifs_utf8.h) */
}

/* --- configuration --------------------------------------------------------- */

ifs_reduce_config ifs_reduce_default_config(void)
{
    ifs_reduce_config c;
    memset(&c, 0, sizeof c);
    c.threshold = IFS_DECIDE_DEFAULT_THRESHOLD;
    c.near_margin = 0.01;
    c.do_lower_case = 1;
    c.strip_accents = -1;
    c.tokenize_chinese_chars = 1;
    c.max_length = 512;
    c.curve_key = NULL;
    c.plateau_eps = 0.02;
    c.plateau_min_after = 2;
    return c;
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int set_curve(ifs_reducer *r, const char *curve_key, char *err, size_t errlen)
{
    int mode;
    char *name = NULL;
    if (!curve_key) {
        mode = IFS_CURVE_AUTO;
    } else if (!*curve_key) {
        mode = IFS_CURVE_NONE;
    } else {
        int found = 0;
        for (int32_t k = 0; k < r->n_keys; k++)
            found |= !strcmp(r->keys[k], curve_key);
        if (!found)
            return ifs_errf(err, errlen, IFS_RED_EARG,
                            "curve key '%s' is not one of the group-by keys", curve_key);
        mode = IFS_CURVE_NAMED;
        if (!(name = dupstr(curve_key)))
            return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    free(r->curve_key);
    r->curve_key = name;
    r->curve_mode = mode;
    return IFS_RED_OK;
}

int ifs_reduce_set_curve_key(ifs_reducer *r, const char *curve_key, char *err, size_t errlen)
{
    if (!r)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer");
    return set_curve(r, curve_key, err, errlen);
}

int ifs_reduce_set_plateau(ifs_reducer *r, double eps, int32_t min_after, char *err, size_t errlen)
{
    if (!r)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer");
    if (eps > 1 || eps != eps)
        return ifs_errf(err, errlen, IFS_RED_EARG, "plateau epsilon must be in [0, 1]");
    if (min_after > 1000000)
        return ifs_errf(err, errlen, IFS_RED_EARG, "plateau min_after is too large");
    if (eps >= 0)
        r->eps_u = llround(eps * IFS_RED_MICRO);
    if (min_after >= 0)
        r->min_after = min_after;
    return IFS_RED_OK;
}

int ifs_reduce_create(const ifs_reduce_config *c, ifs_reducer **out, char *err, size_t errlen)
{
    if (!c || !out)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no config or output pointer");
    *out = NULL;
    if (!is_hex64(c->weights_sha256))
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "weights_sha256 must be 64 lowercase hex characters");
    if (c->tokenizer_sha256 && !is_hex64(c->tokenizer_sha256))
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "tokenizer_sha256 must be NULL or 64 lowercase hex characters");
    if (c->n_labels < 2 || c->n_labels > IFS_RED_MAX_LABELS || !c->labels)
        return ifs_errf(err, errlen, IFS_RED_EARG, "n_labels must be 2..%d, got %d",
                        IFS_RED_MAX_LABELS, (int)c->n_labels);
    for (int32_t i = 0; i < c->n_labels; i++)
        if (!c->labels[i] || !*c->labels[i] || strlen(c->labels[i]) > 255 ||
            !ifs_red_valid_utf8(c->labels[i], strlen(c->labels[i])))
            return ifs_errf(err, errlen, IFS_RED_EARG, "label %d must be 1..255 bytes of UTF-8",
                            (int)i);
    if (c->answer_label < 0 || c->answer_label >= c->n_labels)
        return ifs_errf(err, errlen, IFS_RED_EARG, "answer_label %d is not a label index",
                        (int)c->answer_label);
    if (!(c->threshold > 0 && c->threshold < 1))
        return ifs_errf(err, errlen, IFS_RED_EARG, "threshold must be in (0, 1)");
    if (!(c->near_margin >= 0 && c->near_margin < 1))
        return ifs_errf(err, errlen, IFS_RED_EARG, "near_margin must be in [0, 1)");
    if (!(c->plateau_eps >= 0 && c->plateau_eps <= 1))
        return ifs_errf(err, errlen, IFS_RED_EARG, "plateau_eps must be in [0, 1]");
    if (c->plateau_min_after < 0 || c->plateau_min_after > 1000000)
        return ifs_errf(err, errlen, IFS_RED_EARG, "plateau_min_after must be 0..1000000");
    if (c->pair_input != 0 && c->pair_input != 1)
        return ifs_errf(err, errlen, IFS_RED_EARG, "pair_input must be 0 or 1");
    if (c->pair_input ? !c->instruction_field || !*c->instruction_field ||
                            strlen(c->instruction_field) > 255 ||
                            !ifs_red_valid_utf8(c->instruction_field, strlen(c->instruction_field))
                      : c->instruction_field != NULL)
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "instruction_field must be 1..255 bytes of UTF-8 for a pair "
                        "classifier and NULL otherwise");
    if (c->instruction_max_tokens < 0 || (c->instruction_max_tokens && !c->pair_input))
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "instruction_max_tokens must be >= 0, and 0 unless pair_input");
    if ((c->do_lower_case != 0 && c->do_lower_case != 1) ||
        (c->tokenize_chinese_chars != 0 && c->tokenize_chinese_chars != 1) ||
        c->strip_accents < -1 || c->strip_accents > 1 || c->max_length < 2)
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "tokenizer settings out of range (flags 0/1, strip_accents "
                        "-1/0/1, max_length >= 2)");
    if (c->n_keys < 1 || c->n_keys > IFS_RED_MAX_KEYS || !c->keys)
        return ifs_errf(err, errlen, IFS_RED_EARG, "n_keys must be 1..%d", IFS_RED_MAX_KEYS);
    for (int32_t i = 0; i < c->n_keys; i++) {
        if (!c->keys[i] || !*c->keys[i] || strlen(c->keys[i]) > 255 ||
            !ifs_red_valid_utf8(c->keys[i], strlen(c->keys[i])))
            return ifs_errf(err, errlen, IFS_RED_EARG,
                            "group-by key %d must be 1..255 bytes of UTF-8", (int)i);
        for (int32_t j = 0; j < i; j++)
            if (!strcmp(c->keys[i], c->keys[j]))
                return ifs_errf(err, errlen, IFS_RED_EARG, "group-by key '%s' is given twice",
                                c->keys[i]);
    }

    ifs_reducer *r = calloc(1, sizeof *r);
    if (!r)
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    if (pthread_mutex_init(&r->mu, NULL)) {
        free(r);
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "cannot create a mutex");
    }
    memcpy(r->weights_sha, c->weights_sha256, 65);
    if (c->tokenizer_sha256)
        memcpy(r->tokenizer_sha, c->tokenizer_sha256, 65);
    r->n_labels = c->n_labels;
    r->answer_label = c->answer_label;
    r->threshold_u = llround(c->threshold * IFS_RED_MICRO);
    r->margin_u = llround(c->near_margin * IFS_RED_MICRO);
    if (r->threshold_u <= 0 || r->threshold_u >= IFS_RED_MICRO) {
        ifs_reduce_free(r);
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "threshold must be in (0, 1) at 1e-6 resolution");
    }
    r->threshold = (double)r->threshold_u / IFS_RED_MICRO;
    r->margin = (double)r->margin_u / IFS_RED_MICRO;
    r->pair_input = c->pair_input;
    r->instruction_max_tokens = c->instruction_max_tokens;
    r->do_lower_case = c->do_lower_case;
    r->strip_accents = c->strip_accents;
    r->tokenize_chinese_chars = c->tokenize_chinese_chars;
    r->max_length = c->max_length;
    r->eps_u = llround(c->plateau_eps * IFS_RED_MICRO);
    r->min_after = c->plateau_min_after;
    int bad = 0;
    for (int32_t i = 0; i < c->n_labels; i++)
        bad |= !(r->labels[i] = dupstr(c->labels[i]));
    if (c->pair_input)
        bad |= !(r->instruction_field = dupstr(c->instruction_field));
    r->n_keys = c->n_keys;
    for (int32_t i = 0; i < c->n_keys; i++)
        bad |= !(r->keys[i] = dupstr(c->keys[i]));
    if (bad) {
        ifs_reduce_free(r);
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    int rc = set_curve(r, c->curve_key, err, errlen);
    if (rc) {
        ifs_reduce_free(r);
        return rc;
    }
    *out = r;
    return IFS_RED_OK;
}

void ifs_reduce_free(ifs_reducer *r)
{
    if (!r)
        return;
    for (int32_t i = 0; i < IFS_RED_MAX_LABELS; i++)
        free(r->labels[i]);
    for (int32_t i = 0; i < IFS_RED_MAX_KEYS; i++)
        free(r->keys[i]);
    free(r->curve_key);
    free(r->instruction_field);
    for (size_t i = 0; i < r->n_groups; i++)
        free(r->groups[i]);
    free(r->groups);
    free(r->table);
    for (size_t i = 0; i < r->n_inputs; i++) {
        free(r->inputs[i].path);
        free(r->inputs[i].reasons);
    }
    free(r->inputs);
    free(r->sha_table);
    free(r->timings);
    for (size_t i = 0; i < r->n_facts; i++)
        free(r->facts[i].value);
    free(r->facts);
    ifs_red_slices_clear(&r->slices);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* --- groups ---------------------------------------------------------------- */

static uint64_t hash_vals(const char *const *vals, int32_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int32_t k = 0; k < n; k++) {
        for (const unsigned char *p = (const unsigned char *)vals[k]; *p; p++)
            h = (h ^ *p) * 1099511628211ull;
        h = (h ^ 0xFFu) * 1099511628211ull; /* separator: 0xFF never occurs in UTF-8 */
    }
    return h;
}

static int table_grow(ifs_reducer *r)
{
    size_t cap = r->table_cap ? r->table_cap * 2 : 64;
    size_t *t = calloc(cap, sizeof *t);
    if (!t)
        return IFS_RED_ENOMEM;
    for (size_t i = 0; i < r->n_groups; i++) {
        size_t s = (size_t)r->groups[i]->hash & (cap - 1);
        while (t[s])
            s = (s + 1) & (cap - 1);
        t[s] = i + 1;
    }
    free(r->table);
    r->table = t;
    r->table_cap = cap;
    return IFS_RED_OK;
}

/* Rebuilds the table after groups were dropped from the end (rollback). */
static void table_rebuild(ifs_reducer *r)
{
    if (!r->table)
        return; /* no table yet (its first allocation failed): nothing to rebuild */
    memset(r->table, 0, r->table_cap * sizeof *r->table);
    for (size_t i = 0; i < r->n_groups; i++) {
        size_t s = (size_t)r->groups[i]->hash & (r->table_cap - 1);
        while (r->table[s])
            s = (s + 1) & (r->table_cap - 1);
        r->table[s] = i + 1;
    }
}

ifs_red_group *ifs_red_group_get(ifs_reducer *r, const char *const *vals)
{
    uint64_t h = hash_vals(vals, r->n_keys);
    if (r->table_cap) {
        size_t s = (size_t)h & (r->table_cap - 1);
        while (r->table[s]) {
            ifs_red_group *g = r->groups[r->table[s] - 1];
            if (g->hash == h) {
                int32_t k = 0;
                while (k < r->n_keys && !strcmp(g->vals[k], vals[k]))
                    k++;
                if (k == r->n_keys)
                    return g;
            }
            s = (s + 1) & (r->table_cap - 1);
        }
    }
    if ((r->n_groups + 1) * 10 > r->table_cap * 7 && table_grow(r))
        return NULL;
    if (r->n_groups == r->cap_groups) {
        size_t cap = r->cap_groups ? r->cap_groups * 2 : 16;
        ifs_red_group **g = realloc(r->groups, cap * sizeof *g);
        if (!g)
            return NULL;
        r->groups = g;
        r->cap_groups = cap;
    }
    size_t bytes = sizeof(ifs_red_group) + (size_t)r->n_keys * sizeof(char *);
    for (int32_t k = 0; k < r->n_keys; k++)
        bytes += strlen(vals[k]) + 1;
    ifs_red_group *g = calloc(1, bytes);
    if (!g)
        return NULL;
    g->vals = (char **)(g + 1);
    char *p = (char *)(g->vals + r->n_keys);
    for (int32_t k = 0; k < r->n_keys; k++) {
        size_t n = strlen(vals[k]) + 1;
        memcpy(p, vals[k], n);
        g->vals[k] = p;
        p += n;
    }
    g->hash = h;
    r->groups[r->n_groups++] = g;
    size_t s = (size_t)h & (r->table_cap - 1);
    while (r->table[s])
        s = (s + 1) & (r->table_cap - 1);
    r->table[s] = r->n_groups;
    return g;
}

ifs_red_cell ifs_red_group_total(const ifs_red_group *g)
{
    ifs_red_cell t = {0, 0, 0, 0};
    for (int i = 0; i < 3; i++) {
        t.n += g->c[i].n;
        t.answer += g->c[i].answer;
        t.near += g->c[i].near;
        t.psum += g->c[i].psum;
    }
    return t;
}

/* --- inputs ---------------------------------------------------------------- */

/* The first 16 hex digits of a sha256: already uniformly distributed. */
static uint64_t sha_hash(const char *sha)
{
    uint64_t h = 0;
    for (int i = 0; i < 16; i++)
        h = (h << 4) | (uint64_t)(sha[i] <= '9' ? sha[i] - '0' : sha[i] - 'a' + 10);
    return h;
}

static void sha_insert(size_t *t, size_t cap, const char *sha, size_t idx)
{
    size_t s = (size_t)sha_hash(sha) & (cap - 1);
    while (t[s])
        s = (s + 1) & (cap - 1);
    t[s] = idx + 1;
}

/* Index of an input of r with this sha256 and with lines, or -1. */
static int64_t sha_find_with_lines(const ifs_reducer *r, const char *sha)
{
    if (!r->sha_cap)
        return -1;
    size_t s = (size_t)sha_hash(sha) & (r->sha_cap - 1);
    for (; r->sha_table[s]; s = (s + 1) & (r->sha_cap - 1)) {
        const ifs_red_input *in = &r->inputs[r->sha_table[s] - 1];
        if ((!in->ended || in->lines > 0) && !strcmp(in->sha, sha))
            return (int64_t)r->sha_table[s] - 1;
    }
    return -1;
}

int ifs_red_input_append(ifs_reducer *r, const char *path, uint64_t bytes, const char *sha,
                         int32_t *id)
{
    if (r->n_inputs >= INT32_MAX)
        return IFS_RED_ENOMEM;
    if ((r->n_inputs + 1) * 10 > r->sha_cap * 7) {
        size_t cap = r->sha_cap ? r->sha_cap * 2 : 64;
        size_t *t = calloc(cap, sizeof *t);
        if (!t)
            return IFS_RED_ENOMEM;
        for (size_t i = 0; i < r->n_inputs; i++)
            sha_insert(t, cap, r->inputs[i].sha, i);
        free(r->sha_table);
        r->sha_table = t;
        r->sha_cap = cap;
    }
    if (r->n_inputs == r->cap_inputs) {
        size_t cap = r->cap_inputs ? r->cap_inputs * 2 : 16;
        ifs_red_input *in = realloc(r->inputs, cap * sizeof *in);
        if (!in)
            return IFS_RED_ENOMEM;
        r->inputs = in;
        r->cap_inputs = cap;
    }
    ifs_red_input *in = &r->inputs[r->n_inputs];
    memset(in, 0, sizeof *in);
    if (!(in->path = dupstr(path)))
        return IFS_RED_ENOMEM;
    in->bytes = bytes;
    memcpy(in->sha, sha, 65);
    sha_insert(r->sha_table, r->sha_cap, in->sha, r->n_inputs);
    *id = (int32_t)r->n_inputs++;
    return IFS_RED_OK;
}

int ifs_red_input_add_reason(ifs_red_input *in, const char *reason, uint64_t count)
{
    for (size_t i = 0; i < in->n_reasons; i++)
        if (!strcmp(in->reasons[i].name, reason)) {
            in->reasons[i].count += count;
            in->rejected += count;
            return IFS_RED_OK;
        }
    if (in->n_reasons == in->cap_reasons) {
        size_t cap = in->cap_reasons ? in->cap_reasons * 2 : 4;
        ifs_red_reason *rs = realloc(in->reasons, cap * sizeof *rs);
        if (!rs)
            return IFS_RED_ENOMEM;
        in->reasons = rs;
        in->cap_reasons = cap;
    }
    ifs_red_reason *rs = &in->reasons[in->n_reasons++];
    memset(rs, 0, sizeof *rs);
    snprintf(rs->name, sizeof rs->name, "%s", reason);
    rs->count = count;
    in->rejected += count;
    return IFS_RED_OK;
}

int ifs_reduce_add_input(ifs_reducer *r, const char *path, uint64_t bytes, const char *sha256,
                         int32_t *id, char *err, size_t errlen)
{
    if (!r || !path || !id)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer, path or id pointer");
    if (!is_hex64(sha256))
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "input %s: sha256 must be 64 lowercase hex characters", path);
    if (!ifs_red_valid_utf8(path, strlen(path)))
        return ifs_errf(err, errlen, IFS_RED_EARG, "input path is not valid UTF-8");
    pthread_mutex_lock(&r->mu);
    int rc = ifs_red_input_append(r, path, bytes, sha256, id);
    pthread_mutex_unlock(&r->mu);
    if (rc)
        return ifs_errf(err, errlen, rc, "out of memory");
    return IFS_RED_OK;
}

int ifs_reduce_set_input_sha256(ifs_reducer *r, int32_t id, const char *sha256, char *err,
                                size_t errlen)
{
    if (!r || id < 0 || (size_t)id >= r->n_inputs)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer, or input %d unknown", (int)id);
    if (!is_hex64(sha256))
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "input %s: sha256 must be 64 lowercase hex characters", r->inputs[id].path);
    pthread_mutex_lock(&r->mu);
    memcpy(r->inputs[id].sha, sha256, 65);
    /* the table is keyed by sha: rebuild it (open addressing, no deletion) */
    memset(r->sha_table, 0, r->sha_cap * sizeof *r->sha_table);
    for (size_t i = 0; i < r->n_inputs; i++)
        sha_insert(r->sha_table, r->sha_cap, r->inputs[i].sha, i);
    pthread_mutex_unlock(&r->mu);
    return IFS_RED_OK;
}

/* --- counting -------------------------------------------------------------- */

int ifs_reduce_is_answer_like(const ifs_reducer *r, double p)
{
    return ifs_decide_answer(p, r->threshold);
}

int ifs_reduce_add(ifs_reducer *r, int32_t input, const ifs_reduce_pred *preds, size_t n, char *err,
                   size_t errlen)
{
    if (!r || (!preds && n))
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer or predictions");
    for (size_t i = 0; i < n; i++) {
        const ifs_reduce_pred *p = &preds[i];
        if (!(p->p_answer >= 0.0 && p->p_answer <= 1.0))
            return ifs_errf(err, errlen, IFS_RED_EARG,
                            "prediction %zu: p_answer %g is not a probability", i, p->p_answer);
        if (p->type != IFS_ITYPE_NONE && p->type != IFS_ITYPE_PARTIAL && p->type != IFS_ITYPE_FULL)
            return ifs_errf(err, errlen, IFS_RED_EARG,
                            "prediction %zu: unknown instruction type %d", i, (int)p->type);
        if (p->n_tokens < 0)
            return ifs_errf(err, errlen, IFS_RED_EARG, "prediction %zu: n_tokens < 0", i);
        if (!p->keys)
            return ifs_errf(err, errlen, IFS_RED_EARG, "prediction %zu: no keys", i);
        for (int32_t k = 0; k < r->n_keys; k++) {
            if (!p->keys[k])
                return ifs_errf(err, errlen, IFS_RED_EARG, "prediction %zu: value of '%s' is NULL",
                                i, r->keys[k]);
            /* A report must read back: its text must be UTF-8. */
            if (!ifs_red_valid_utf8(p->keys[k], strlen(p->keys[k])))
                return ifs_errf(err, errlen, IFS_RED_EARG,
                                "prediction %zu: value of '%s' is not valid UTF-8", i, r->keys[k]);
        }
    }
    pthread_mutex_lock(&r->mu);
    if (input < 0 || (size_t)input >= r->n_inputs || r->inputs[input].ended) {
        pthread_mutex_unlock(&r->mu);
        return ifs_errf(err, errlen, IFS_RED_EARG, "input %d is unknown or already ended",
                        (int)input);
    }
    size_t groups_before = r->n_groups;
    size_t done = 0;
    for (; done < n; done++) {
        const ifs_reduce_pred *p = &preds[done];
        ifs_red_group *g = ifs_red_group_get(r, p->keys);
        if (!g)
            break;
        ifs_red_cell *c = &g->c[p->type];
        c->n++;
        c->answer += ifs_decide_answer(p->p_answer, r->threshold);
        c->near += fabs(p->p_answer - r->threshold) < r->margin;
        c->psum += (uint64_t)llround(p->p_answer * IFS_RED_P_SCALE);
    }
    if (done < n) {
        /* Out of memory: take back what this call counted. */
        for (size_t i = 0; i < done; i++) {
            const ifs_reduce_pred *p = &preds[i];
            ifs_red_group *g = ifs_red_group_get(r, p->keys); /* exists: no allocation */
            ifs_red_cell *c = &g->c[p->type];
            c->n--;
            c->answer -= ifs_decide_answer(p->p_answer, r->threshold);
            c->near -= fabs(p->p_answer - r->threshold) < r->margin;
            c->psum -= (uint64_t)llround(p->p_answer * IFS_RED_P_SCALE);
        }
        while (r->n_groups > groups_before)
            free(r->groups[--r->n_groups]);
        table_rebuild(r);
        pthread_mutex_unlock(&r->mu);
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        r->tokens += (uint64_t)preds[i].n_tokens;
        r->truncated += preds[i].truncated != 0;
    }
    r->inputs[input].scored += n;
    pthread_mutex_unlock(&r->mu);
    return IFS_RED_OK;
}

int ifs_reduce_add_reject(ifs_reducer *r, int32_t input, const char *reason, char *err,
                          size_t errlen)
{
    if (!r || !ifs_red_valid_name(reason))
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "reject reason must be 1..63 characters of [a-z0-9_]");
    if (!ifs_red_known_reason(reason))
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "reject reason '%s' is not one of ifscore's (ifs_record.h)", reason);
    pthread_mutex_lock(&r->mu);
    int rc;
    if (input < 0 || (size_t)input >= r->n_inputs || r->inputs[input].ended)
        rc =
            ifs_errf(err, errlen, IFS_RED_EARG, "input %d is unknown or already ended", (int)input);
    else if ((rc = ifs_red_input_add_reason(&r->inputs[input], reason, 1)))
        ifs_errf(err, errlen, rc, "out of memory");
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int ifs_reduce_end_input(ifs_reducer *r, int32_t input, uint64_t lines_read, char *err,
                         size_t errlen)
{
    if (!r)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer");
    pthread_mutex_lock(&r->mu);
    int rc = IFS_RED_OK;
    if (input < 0 || (size_t)input >= r->n_inputs || r->inputs[input].ended) {
        rc =
            ifs_errf(err, errlen, IFS_RED_EARG, "input %d is unknown or already ended", (int)input);
    } else {
        ifs_red_input *in = &r->inputs[input];
        in->ended = 1;
        in->lines = lines_read;
        if (lines_read != in->scored + in->rejected)
            rc = ifs_errf(err, errlen, IFS_RED_ECOUNT,
                          "%s: read %llu lines but scored %llu + rejected %llu", in->path,
                          (unsigned long long)lines_read, (unsigned long long)in->scored,
                          (unsigned long long)in->rejected);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* --- checks and merging ---------------------------------------------------- */

/* qsort has no context argument in C11: the sorts below set a file-level
 * context under this mutex. */
static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
static const ifs_reducer *sort_ctx;

static int cmp_by_sha(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(sort_ctx->inputs[i].sha, sort_ctx->inputs[j].sha);
    return c ? c : (i < j ? -1 : i > j);
}

/* A shard "has lines" unless it ended with none (an empty shard often
 * shares its hash with others and contributes nothing). */
static int has_lines(const ifs_red_input *in)
{
    return !in->ended || in->lines > 0;
}

/* Returns IFS_RED_OK, ENOMEM, or EOVERLAP with *a, *b set. */
static int find_overlap(const ifs_reducer *r, size_t *a, size_t *b)
{
    size_t *idx = NULL, m = 0;
    if (r->n_inputs) {
        idx = malloc(r->n_inputs * sizeof *idx);
        if (!idx)
            return IFS_RED_ENOMEM;
    }
    for (size_t i = 0; i < r->n_inputs; i++)
        if (has_lines(&r->inputs[i]))
            idx[m++] = i;
    pthread_mutex_lock(&sort_mu);
    sort_ctx = r;
    if (m > 1)
        qsort(idx, m, sizeof *idx, cmp_by_sha);
    pthread_mutex_unlock(&sort_mu);
    int rc = IFS_RED_OK;
    for (size_t i = 1; i < m; i++)
        if (!strcmp(r->inputs[idx[i - 1]].sha, r->inputs[idx[i]].sha)) {
            *a = idx[i - 1];
            *b = idx[i];
            rc = IFS_RED_EOVERLAP;
            break;
        }
    free(idx);
    return rc;
}

int ifs_reduce_check(const ifs_reducer *r, int allow_overlap, char *err, size_t errlen)
{
    if (!r)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer");
    uint64_t read = 0, scored = 0, rejected = 0, in_groups = 0;
    for (size_t i = 0; i < r->n_inputs; i++) {
        const ifs_red_input *in = &r->inputs[i];
        if (!in->ended)
            return ifs_errf(err, errlen, IFS_RED_ECOUNT, "%s: the shard was never finished",
                            in->path);
        if (in->lines != in->scored + in->rejected)
            return ifs_errf(err, errlen, IFS_RED_ECOUNT,
                            "%s: read %llu lines but scored %llu + rejected %llu", in->path,
                            (unsigned long long)in->lines, (unsigned long long)in->scored,
                            (unsigned long long)in->rejected);
        read += in->lines;
        scored += in->scored;
        rejected += in->rejected;
    }
    for (size_t i = 0; i < r->n_groups; i++)
        in_groups += ifs_red_group_total(r->groups[i]).n;
    if (in_groups != scored)
        return ifs_errf(err, errlen, IFS_RED_ECOUNT,
                        "groups hold %llu records but the inputs scored %llu",
                        (unsigned long long)in_groups, (unsigned long long)scored);
    if (read != scored + rejected)
        return ifs_errf(err, errlen, IFS_RED_ECOUNT,
                        "read %llu lines but scored %llu + rejected %llu", (unsigned long long)read,
                        (unsigned long long)scored, (unsigned long long)rejected);
    if (!allow_overlap) {
        size_t a = 0, b = 0;
        int rc = find_overlap(r, &a, &b);
        if (rc == IFS_RED_ENOMEM)
            return ifs_errf(err, errlen, rc, "out of memory");
        if (rc)
            return ifs_errf(err, errlen, rc,
                            "shards %s and %s have the same content (sha256 %.16s...): "
                            "counted twice",
                            r->inputs[a].path, r->inputs[b].path, r->inputs[a].sha);
    }
    return IFS_RED_OK;
}

static int same_identity(const ifs_reducer *a, const ifs_reducer *b, char *err, size_t errlen)
{
#define MISMATCH(field, fa, fb)                                                                    \
    ifs_errf(err, errlen, IFS_RED_EMISMATCH, "reports differ in %s: %s vs %s", field, fa, fb)
    char x[32], y[32];
    if (strcmp(a->weights_sha, b->weights_sha))
        return MISMATCH("classifier.weights_sha256", a->weights_sha, b->weights_sha);
    /* A report without the field (older ifscore) may have used any tokenizer:
     * it is a different identity from every report that has one. */
    if (strcmp(a->tokenizer_sha, b->tokenizer_sha))
        return MISMATCH("classifier.tokenizer_sha256",
                        *a->tokenizer_sha ? a->tokenizer_sha : "(absent)",
                        *b->tokenizer_sha ? b->tokenizer_sha : "(absent)");
    if (a->n_labels != b->n_labels) {
        snprintf(x, sizeof x, "%d", (int)a->n_labels);
        snprintf(y, sizeof y, "%d", (int)b->n_labels);
        return MISMATCH("the number of labels", x, y);
    }
    for (int32_t i = 0; i < a->n_labels; i++)
        if (strcmp(a->labels[i], b->labels[i]))
            return MISMATCH("classifier.labels", a->labels[i], b->labels[i]);
    if (a->answer_label != b->answer_label) {
        snprintf(x, sizeof x, "%d", (int)a->answer_label);
        snprintf(y, sizeof y, "%d", (int)b->answer_label);
        return MISMATCH("classifier.answer_label", x, y);
    }
    if (a->threshold_u != b->threshold_u || a->margin_u != b->margin_u) {
        snprintf(x, sizeof x, "%.6f/%.6f", a->threshold, a->margin);
        snprintf(y, sizeof y, "%.6f/%.6f", b->threshold, b->margin);
        return MISMATCH("classifier.threshold/near_margin", x, y);
    }
    /* What the classifier read: a pair run and a response-only run score
     * different inputs (and a field or cap changed, different pairs). */
    if (a->pair_input != b->pair_input)
        return MISMATCH("classifier.input", a->pair_input ? "pair" : "response",
                        b->pair_input ? "pair" : "response");
    if (a->pair_input && strcmp(a->instruction_field, b->instruction_field))
        return MISMATCH("classifier.instruction_field", a->instruction_field, b->instruction_field);
    if (a->instruction_max_tokens != b->instruction_max_tokens) {
        snprintf(x, sizeof x, "%d", (int)a->instruction_max_tokens);
        snprintf(y, sizeof y, "%d", (int)b->instruction_max_tokens);
        return MISMATCH("classifier.instruction_max_tokens", x, y);
    }
    if (a->do_lower_case != b->do_lower_case || a->strip_accents != b->strip_accents ||
        a->tokenize_chinese_chars != b->tokenize_chinese_chars || a->max_length != b->max_length) {
        snprintf(x, sizeof x, "%d/%d/%d/%d", a->do_lower_case, a->strip_accents,
                 a->tokenize_chinese_chars, (int)a->max_length);
        snprintf(y, sizeof y, "%d/%d/%d/%d", b->do_lower_case, b->strip_accents,
                 b->tokenize_chinese_chars, (int)b->max_length);
        return MISMATCH("tokenizer (lower/strip_accents/chinese/max_length)", x, y);
    }
    if (a->n_keys != b->n_keys) {
        snprintf(x, sizeof x, "%d keys", (int)a->n_keys);
        snprintf(y, sizeof y, "%d keys", (int)b->n_keys);
        return MISMATCH("grouping.keys", x, y);
    }
    for (int32_t k = 0; k < a->n_keys; k++)
        if (strcmp(a->keys[k], b->keys[k]))
            return MISMATCH("grouping.keys", a->keys[k], b->keys[k]);
#undef MISMATCH
    return IFS_RED_OK;
}

static int merge_timings(ifs_reducer *dst, const ifs_reducer *src)
{
    for (size_t i = 0; i < src->n_timings; i++) {
        size_t j = 0;
        while (j < dst->n_timings && strcmp(dst->timings[j].name, src->timings[i].name))
            j++;
        if (j < dst->n_timings) {
            dst->timings[j].value_u =
                ifs_red_timing_add(dst->timings[j].value_u, src->timings[i].value_u);
            continue;
        }
        ifs_red_timing *t = realloc(dst->timings, (dst->n_timings + 1) * sizeof *t);
        if (!t)
            return IFS_RED_ENOMEM;
        dst->timings = t;
        dst->timings[dst->n_timings++] = src->timings[i];
    }
    for (size_t i = 0; i < src->n_facts; i++) {
        size_t j = 0;
        while (j < dst->n_facts && strcmp(dst->facts[j].name, src->facts[i].name))
            j++;
        if (j < dst->n_facts) {
            if (strcmp(dst->facts[j].value, src->facts[i].value)) {
                char *m = dupstr("(mixed)");
                if (!m)
                    return IFS_RED_ENOMEM;
                free(dst->facts[j].value);
                dst->facts[j].value = m;
            }
            continue;
        }
        ifs_red_fact *f = realloc(dst->facts, (dst->n_facts + 1) * sizeof *f);
        if (!f)
            return IFS_RED_ENOMEM;
        dst->facts = f;
        char *v = dupstr(src->facts[i].value);
        if (!v)
            return IFS_RED_ENOMEM;
        memcpy(dst->facts[dst->n_facts].name, src->facts[i].name, sizeof f->name);
        dst->facts[dst->n_facts++].value = v;
    }
    return IFS_RED_OK;
}

static int cmp_input_path(const void *a, const void *b)
{
    const ifs_red_input *x = *(const ifs_red_input *const *)a,
                        *y = *(const ifs_red_input *const *)b;
    return strcmp(x->path, y->path);
}

/* A path in both reducers must name the same bytes: a shard that changed
 * between two runs makes their counts incomparable, whatever the flags.
 * O((n + m) log n) with a sorted index of dst's paths. */
static int same_path_same_bytes(const ifs_reducer *dst, const ifs_reducer *src, char *err,
                                size_t errlen)
{
    if (!dst->n_inputs || !src->n_inputs)
        return IFS_RED_OK;
    const ifs_red_input **idx = malloc(dst->n_inputs * sizeof *idx);
    if (!idx)
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    for (size_t i = 0; i < dst->n_inputs; i++)
        idx[i] = &dst->inputs[i];
    qsort(idx, dst->n_inputs, sizeof *idx, cmp_input_path);
    int rc = IFS_RED_OK;
    for (size_t i = 0; i < src->n_inputs && !rc; i++) {
        const ifs_red_input *s = &src->inputs[i], *key = s;
        const ifs_red_input **hit = bsearch(&key, idx, dst->n_inputs, sizeof *idx, cmp_input_path);
        if (!hit)
            continue;
        /* equal paths sit together in idx: check every one */
        while (hit > idx && !strcmp(hit[-1]->path, s->path))
            hit--;
        for (; hit < idx + dst->n_inputs && !strcmp((*hit)->path, s->path); hit++)
            if (strcmp((*hit)->sha, s->sha)) {
                rc = ifs_errf(err, errlen, IFS_RED_EMISMATCH,
                              "input %s is in both reports with different contents "
                              "(sha256 %.16s... and %.16s...): the file changed between "
                              "the runs; rescore it rather than merge",
                              s->path, (*hit)->sha, s->sha);
                break;
            }
    }
    free(idx);
    return rc;
}

int ifs_reduce_merge(ifs_reducer *dst, const ifs_reducer *src, unsigned flags, char *err,
                     size_t errlen)
{
    if (!dst || !src || dst == src)
        return ifs_errf(err, errlen, IFS_RED_EARG, "merge needs two distinct reducers");
    int rc = same_identity(dst, src, err, errlen);
    if (rc)
        return rc;
    pthread_mutex_lock(&dst->mu);
    rc = same_path_same_bytes(dst, src, err, errlen);
    if (rc) {
        pthread_mutex_unlock(&dst->mu);
        return rc;
    }
    if (!(flags & IFS_RED_ALLOW_OVERLAP)) {
        /* Each src shard with lines looked up among dst's by hash. */
        for (size_t i = 0; i < src->n_inputs && !rc; i++) {
            const ifs_red_input *s = &src->inputs[i];
            int64_t j = has_lines(s) ? sha_find_with_lines(dst, s->sha) : -1;
            if (j >= 0)
                rc = ifs_errf(err, errlen, IFS_RED_EOVERLAP,
                              "shard %s (sha256 %.16s...) is in both reports (there as "
                              "%s): merging would count it twice; --allow-overlap "
                              "merges anyway",
                              s->path, s->sha, dst->inputs[j].path);
        }
        if (rc) {
            pthread_mutex_unlock(&dst->mu);
            return rc;
        }
    }
    ifs_red_slices slices; /* the union, moved into dst at the end */
    rc = ifs_red_slices_prepare(dst, src, (flags & IFS_RED_ALLOW_OVERLAP) != 0, &slices, err,
                                errlen);
    if (rc) {
        pthread_mutex_unlock(&dst->mu);
        return rc;
    }
    for (size_t i = 0; i < src->n_groups && !rc; i++) {
        const ifs_red_group *sg = src->groups[i];
        ifs_red_group *g = ifs_red_group_get(dst, (const char *const *)sg->vals);
        if (!g) {
            rc = IFS_RED_ENOMEM;
            break;
        }
        for (int t = 0; t < 3; t++) {
            g->c[t].n += sg->c[t].n;
            g->c[t].answer += sg->c[t].answer;
            g->c[t].near += sg->c[t].near;
            g->c[t].psum += sg->c[t].psum;
        }
    }
    for (size_t i = 0; i < src->n_inputs && !rc; i++) {
        const ifs_red_input *s = &src->inputs[i];
        int32_t id;
        if ((rc = ifs_red_input_append(dst, s->path, s->bytes, s->sha, &id)))
            break;
        ifs_red_input *d = &dst->inputs[id];
        d->lines = s->lines;
        d->ended = s->ended;
        d->scored = s->scored;
        for (size_t k = 0; k < s->n_reasons && !rc; k++)
            rc = ifs_red_input_add_reason(d, s->reasons[k].name, s->reasons[k].count);
    }
    if (!rc) {
        dst->tokens += src->tokens;
        dst->truncated += src->truncated;
        rc = merge_timings(dst, src);
    }
    if (!rc)
        ifs_red_slices_apply(dst, &slices);
    ifs_red_slices_clear(&slices);
    pthread_mutex_unlock(&dst->mu);
    if (rc)
        return ifs_errf(err, errlen, rc, "out of memory while merging");
    return IFS_RED_OK;
}

/* --- timings --------------------------------------------------------------- */

int64_t ifs_red_timing_add(int64_t a, int64_t b)
{
    const int64_t max = (int64_t)(IFS_RED_TIMING_MAX * IFS_RED_MICRO);
    int64_t s = a + b; /* |a|, |b| <= 1e15: no overflow */
    return s > max ? max : s < -max ? -max : s;
}

int ifs_reduce_set_timing(ifs_reducer *r, const char *name, double value)
{
    if (!r || !ifs_red_valid_name(name) || !(fabs(value) <= IFS_RED_TIMING_MAX))
        return IFS_RED_EARG;
    pthread_mutex_lock(&r->mu);
    int rc = IFS_RED_OK;
    size_t j = 0;
    while (j < r->n_timings && strcmp(r->timings[j].name, name))
        j++;
    if (j == r->n_timings) {
        ifs_red_timing *t = realloc(r->timings, (r->n_timings + 1) * sizeof *t);
        if (!t) {
            rc = IFS_RED_ENOMEM;
        } else {
            r->timings = t;
            memset(&t[j], 0, sizeof t[j]);
            snprintf(t[j].name, sizeof t[j].name, "%s", name);
            r->n_timings++;
        }
    }
    if (!rc)
        r->timings[j].value_u = llround(value * IFS_RED_MICRO);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int ifs_reduce_set_fact(ifs_reducer *r, const char *name, const char *value)
{
    if (!r || !ifs_red_valid_name(name) || !value || !ifs_red_valid_utf8(value, strlen(value)))
        return IFS_RED_EARG;
    char *v = dupstr(value);
    if (!v)
        return IFS_RED_ENOMEM;
    pthread_mutex_lock(&r->mu);
    int rc = IFS_RED_OK;
    size_t j = 0;
    while (j < r->n_facts && strcmp(r->facts[j].name, name))
        j++;
    if (j == r->n_facts) {
        ifs_red_fact *f = realloc(r->facts, (r->n_facts + 1) * sizeof *f);
        if (!f) {
            rc = IFS_RED_ENOMEM;
        } else {
            r->facts = f;
            memset(&f[j], 0, sizeof f[j]);
            snprintf(f[j].name, sizeof f[j].name, "%s", name);
            r->n_facts++;
        }
    }
    if (!rc) {
        free(r->facts[j].value);
        r->facts[j].value = v;
    } else {
        free(v);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void ifs_reduce_get_totals(const ifs_reducer *r, ifs_reduce_totals *t)
{
    memset(t, 0, sizeof *t);
    if (!r)
        return;
    for (size_t i = 0; i < r->n_inputs; i++) {
        t->read += r->inputs[i].lines;
        t->scored += r->inputs[i].scored;
        t->rejected += r->inputs[i].rejected;
    }
    for (size_t i = 0; i < r->n_groups; i++) {
        ifs_red_cell c = ifs_red_group_total(r->groups[i]);
        t->answer_like += c.answer;
        t->near_threshold += c.near;
    }
    t->tokens = r->tokens;
    t->truncated = r->truncated;
    t->n_groups = r->n_groups;
    t->n_inputs = r->n_inputs;
}

/* --- ordering -------------------------------------------------------------- */

int ifs_red_is_number(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == 0;
}

static int isdig(char c)
{
    return c >= '0' && c <= '9';
}

/* Compares two unsigned digit runs by value (leading zeros ignored). */
static int cmp_digits(const char *a, size_t na, const char *b, size_t nb)
{
    while (na > 0 && *a == '0') {
        a++;
        na--;
    }
    while (nb > 0 && *b == '0') {
        b++;
        nb--;
    }
    if (na != nb)
        return na < nb ? -1 : 1;
    int c = memcmp(a, b, na);
    return (c > 0) - (c < 0);
}

/* Compares two fraction digit strings by value (trailing zeros ignored). */
static int cmp_frac(const char *a, size_t na, const char *b, size_t nb)
{
    size_t n = na > nb ? na : nb;
    for (size_t i = 0; i < n; i++) {
        char x = i < na ? a[i] : '0', y = i < nb ? b[i] : '0';
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

static int is_zero_number(const char *s)
{
    for (; *s; s++)
        if (isdig(*s) && *s != '0')
            return 0;
    return 1;
}

/* Exact comparison of two strings that ifs_red_is_number accepts. */
static int cmp_numbers(const char *a, const char *b)
{
    int za = is_zero_number(a), zb = is_zero_number(b);
    int na = *a == '-' && !za, nb = *b == '-' && !zb;
    if (na != nb)
        return na ? -1 : 1;
    if (*a == '-')
        a++;
    if (*b == '-')
        b++;
    size_t ia = strspn(a, "0123456789"), ib = strspn(b, "0123456789");
    int c = cmp_digits(a, ia, b, ib);
    if (!c) {
        const char *fa = a[ia] == '.' ? a + ia + 1 : a + ia;
        const char *fb = b[ib] == '.' ? b + ib + 1 : b + ib;
        c = cmp_frac(fa, strlen(fa), fb, strlen(fb));
    }
    return na ? -c : c;
}

/* Natural order: a maximal digit run is one token ordered by value, placed
 * where the byte '0' would be among the other bytes. */
static int cmp_natural(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
    while (*p && *q) {
        int dp = isdig((char)*p), dq = isdig((char)*q);
        if (dp && dq) {
            size_t np = strspn((const char *)p, "0123456789");
            size_t nq = strspn((const char *)q, "0123456789");
            int c = cmp_digits((const char *)p, np, (const char *)q, nq);
            if (c)
                return c;
            p += np;
            q += nq;
            continue;
        }
        unsigned x = dp ? '0' : *p, y = dq ? '0' : *q;
        if (x != y)
            return x < y ? -1 : 1;
        p++;
        q++;
    }
    return (*p != 0) - (*q != 0);
}

int ifs_red_value_cmp(const char *a, const char *b)
{
    int na = ifs_red_is_number(a), nb = ifs_red_is_number(b);
    int c;
    if (na && nb)
        c = cmp_numbers(a, b);
    else if (na != nb)
        c = na ? -1 : 1;
    else
        c = cmp_natural(a, b);
    if (!c) {
        c = strcmp(a, b);
        c = (c > 0) - (c < 0);
    }
    return c;
}

static int32_t sort_nkeys;
static int cmp_groups(const void *a, const void *b)
{
    const ifs_red_group *x = *(ifs_red_group *const *)a, *y = *(ifs_red_group *const *)b;
    for (int32_t k = 0; k < sort_nkeys; k++) {
        int c = ifs_red_value_cmp(x->vals[k], y->vals[k]);
        if (c)
            return c;
    }
    return 0;
}

ifs_red_group **ifs_red_sorted_groups(const ifs_reducer *r)
{
    if (!r->n_groups)
        return calloc(1, sizeof(ifs_red_group *));
    ifs_red_group **g = malloc(r->n_groups * sizeof *g);
    if (!g)
        return NULL;
    memcpy(g, r->groups, r->n_groups * sizeof *g);
    pthread_mutex_lock(&sort_mu);
    sort_nkeys = r->n_keys;
    qsort(g, r->n_groups, sizeof *g, cmp_groups);
    pthread_mutex_unlock(&sort_mu);
    return g;
}

static const ifs_red_input *sort_inputs;
static int cmp_inputs(const void *a, const void *b)
{
    const ifs_red_input *x = &sort_inputs[*(const size_t *)a];
    const ifs_red_input *y = &sort_inputs[*(const size_t *)b];
    int c = strcmp(x->path, y->path);
    if (!c)
        c = strcmp(x->sha, y->sha);
    if (!c)
        c = x->lines < y->lines ? -1 : x->lines > y->lines;
    if (!c)
        c = x->scored < y->scored ? -1 : x->scored > y->scored;
    if (!c)
        c = x->bytes < y->bytes ? -1 : x->bytes > y->bytes;
    return c;
}

size_t *ifs_red_sorted_inputs(const ifs_reducer *r)
{
    size_t *idx = malloc((r->n_inputs ? r->n_inputs : 1) * sizeof *idx);
    if (!idx)
        return NULL;
    for (size_t i = 0; i < r->n_inputs; i++)
        idx[i] = i;
    pthread_mutex_lock(&sort_mu);
    sort_inputs = r->inputs;
    if (r->n_inputs > 1)
        qsort(idx, r->n_inputs, sizeof *idx, cmp_inputs);
    pthread_mutex_unlock(&sort_mu);
    return idx;
}

/* --- arithmetic ------------------------------------------------------------ */

void ifs_wilson95(uint64_t k, uint64_t n, double *lo, double *hi)
{
    if (n == 0 || k > n) {
        *lo = 0.0;
        *hi = 1.0;
        return;
    }
    const double z = 1.959963984540054;
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double denom = 1.0 + z2 / nn;
    double centre = (p + z2 / (2.0 * nn)) / denom;
    double half = z / denom * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    double l = centre - half, h = centre + half;
    /* The exact bounds are 0 at k == 0 and 1 at k == n; keep rounding out. */
    *lo = k == 0 ? 0.0 : (l < 0.0 ? 0.0 : l);
    *hi = k == n ? 1.0 : (h > 1.0 ? 1.0 : h);
}

typedef unsigned __int128 u128;

int64_t ifs_plateau(const uint64_t *k, const uint64_t *m, size_t n, uint64_t eps_1e6,
                    int32_t min_after)
{
    if (min_after < 0 || n <= (size_t)min_after || eps_1e6 > IFS_RED_MICRO)
        return -1;
    for (size_t i = 0; i + (size_t)min_after < n; i++) {
        if (!m[i] || k[i] > m[i] || m[i] > (1ull << 53))
            return -1;
        int ok = 1;
        for (size_t j = i + 1; j < n && ok; j++) {
            if (!m[j] || k[j] > m[j] || m[j] > (1ull << 53))
                return -1;
            /* |k_j/m_j - k_i/m_i| <= eps/1e6
             *   <=>  |k_j m_i - k_i m_j| * 1e6 <= eps m_i m_j
             * with m <= 2^53 and eps, 1e6 < 2^20 both sides stay below 2^127. */
            u128 a = (u128)k[j] * m[i], b = (u128)k[i] * m[j];
            u128 d = a > b ? a - b : b - a;
            ok = d * IFS_RED_MICRO <= (u128)eps_1e6 * m[i] * m[j];
        }
        if (ok)
            return (int64_t)i;
    }
    return -1;
}

/* --- reading a reducer ----------------------------------------------------- */

static void view_of(const ifs_red_group *g, ifs_reduce_group_view *v)
{
    v->vals = (const char *const *)g->vals;
    for (int t = 0; t < 3; t++) {
        v->c[t].n = g->c[t].n;
        v->c[t].answer_like = g->c[t].answer;
        v->c[t].near_threshold = g->c[t].near;
        v->c[t].p_sum_1e9 = g->c[t].psum;
    }
}

int ifs_reduce_groups(const ifs_reducer *r, ifs_reduce_group_view **out, size_t *n)
{
    if (!r || !out || !n)
        return IFS_RED_EARG;
    *out = NULL;
    *n = 0;
    ifs_red_group **g = ifs_red_sorted_groups(r);
    ifs_reduce_group_view *v = malloc((r->n_groups ? r->n_groups : 1) * sizeof *v);
    if (!g || !v) {
        free(g);
        free(v);
        return IFS_RED_ENOMEM;
    }
    for (size_t i = 0; i < r->n_groups; i++)
        view_of(g[i], &v[i]);
    free(g);
    *out = v;
    *n = r->n_groups;
    return IFS_RED_OK;
}

void ifs_reduce_get_identity(const ifs_reducer *r, ifs_reduce_identity *id)
{
    memset(id, 0, sizeof *id);
    if (!r)
        return;
    id->weights_sha256 = r->weights_sha;
    id->tokenizer_sha256 = *r->tokenizer_sha ? r->tokenizer_sha : NULL;
    id->n_labels = r->n_labels;
    id->labels = (const char *const *)r->labels;
    id->answer_label = r->answer_label;
    id->threshold = r->threshold;
    id->near_margin = r->margin;
    id->pair_input = r->pair_input;
    id->instruction_field = r->instruction_field;
    id->instruction_max_tokens = r->instruction_max_tokens;
    id->do_lower_case = r->do_lower_case;
    id->strip_accents = r->strip_accents;
    id->tokenize_chinese_chars = r->tokenize_chinese_chars;
    id->max_length = r->max_length;
    id->n_keys = r->n_keys;
    id->keys = (const char *const *)r->keys;
    id->curve_key = r->curve_mode == IFS_CURVE_AUTO   ? NULL
                    : r->curve_mode == IFS_CURVE_NONE ? ""
                                                      : r->curve_key;
    id->plateau_eps = (double)r->eps_u / IFS_RED_MICRO;
    id->plateau_min_after = r->min_after;
}

int ifs_reduce_same_identity(const ifs_reducer *a, const ifs_reducer *b, char *err, size_t errlen)
{
    if (!a || !b)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer");
    return same_identity(a, b, err, errlen);
}

int ifs_reduce_inputs(const ifs_reducer *r, ifs_reduce_input_view **out, size_t *n)
{
    if (!r || !out || !n)
        return IFS_RED_EARG;
    *out = NULL;
    *n = 0;
    size_t *idx = ifs_red_sorted_inputs(r);
    ifs_reduce_input_view *v = malloc((r->n_inputs ? r->n_inputs : 1) * sizeof *v);
    if (!idx || !v) {
        free(idx);
        free(v);
        return IFS_RED_ENOMEM;
    }
    for (size_t i = 0; i < r->n_inputs; i++) {
        const ifs_red_input *in = &r->inputs[idx[i]];
        v[i].path = in->path;
        v[i].sha256 = in->sha;
        v[i].bytes = in->bytes;
        v[i].read = in->lines;
        v[i].scored = in->scored;
        v[i].rejected = in->rejected;
    }
    free(idx);
    *out = v;
    *n = r->n_inputs;
    return IFS_RED_OK;
}

static int cmp_reason_counts(const void *a, const void *b)
{
    return strcmp(((const ifs_reduce_reason_count *)a)->name,
                  ((const ifs_reduce_reason_count *)b)->name);
}

int ifs_reduce_reject_totals(const ifs_reducer *r, ifs_reduce_reason_count **out, size_t *n)
{
    if (!r || !out || !n)
        return IFS_RED_EARG;
    *out = NULL;
    *n = 0;
    size_t cap = 0, m = 0;
    for (size_t i = 0; i < r->n_inputs; i++)
        cap += r->inputs[i].n_reasons;
    ifs_reduce_reason_count *v = malloc((cap ? cap : 1) * sizeof *v);
    if (!v)
        return IFS_RED_ENOMEM;
    /* Reason lists are a handful long: a linear merge is enough. */
    for (size_t i = 0; i < r->n_inputs; i++)
        for (size_t k = 0; k < r->inputs[i].n_reasons; k++) {
            const ifs_red_reason *rs = &r->inputs[i].reasons[k];
            size_t j = 0;
            while (j < m && strcmp(v[j].name, rs->name))
                j++;
            if (j == m) {
                v[m].name = rs->name;
                v[m++].count = 0;
            }
            v[j].count += rs->count;
        }
    if (m > 1)
        qsort(v, m, sizeof *v, cmp_reason_counts);
    *out = v;
    *n = m;
    return IFS_RED_OK;
}

static int cmp_timing_views(const void *a, const void *b)
{
    const ifs_reduce_timing_view *x = a, *y = b;
    if (x->is_fact != y->is_fact)
        return x->is_fact - y->is_fact;
    return strcmp(x->name, y->name);
}

int ifs_reduce_timings(const ifs_reducer *r, ifs_reduce_timing_view **out, size_t *n)
{
    if (!r || !out || !n)
        return IFS_RED_EARG;
    *out = NULL;
    *n = 0;
    size_t m = r->n_timings + r->n_facts;
    ifs_reduce_timing_view *v = malloc((m ? m : 1) * sizeof *v);
    if (!v)
        return IFS_RED_ENOMEM;
    for (size_t i = 0; i < r->n_timings; i++)
        v[i] = (ifs_reduce_timing_view){r->timings[i].name, 0,
                                        (double)r->timings[i].value_u / IFS_RED_MICRO, NULL};
    for (size_t i = 0; i < r->n_facts; i++)
        v[r->n_timings + i] = (ifs_reduce_timing_view){r->facts[i].name, 1, 0.0, r->facts[i].value};
    if (m > 1)
        qsort(v, m, sizeof *v, cmp_timing_views);
    *out = v;
    *n = m;
    return IFS_RED_OK;
}

int ifs_reduce_value_cmp(const char *a, const char *b)
{
    return ifs_red_value_cmp(a, b);
}

void ifs_newcombe95(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, double *lo, double *hi)
{
    if (!n1 || !n2 || k1 > n1 || k2 > n2) {
        *lo = -1.0;
        *hi = 1.0;
        return;
    }
    double l1, h1, l2, h2;
    ifs_wilson95(k1, n1, &l1, &h1);
    ifs_wilson95(k2, n2, &l2, &h2);
    double p1 = (double)k1 / (double)n1, p2 = (double)k2 / (double)n2, d = p1 - p2;
    double a = p1 - l1, b = h2 - p2, c = h1 - p1, e = p2 - l2;
    double l = d - sqrt(a * a + b * b), h = d + sqrt(c * c + e * e);
    *lo = l < -1.0 ? -1.0 : l;
    *hi = h > 1.0 ? 1.0 : h;
}
