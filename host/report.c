/*
 * report.c - report.json: written from a reducer's counts, read back into a
 * reducer (untrusted input), written atomically. The schema is
 * docs/report-schema.md (version 1).
 *
 * Decisions:
 *   - Written by hand, not with cJSON's printer: numbers get fixed formats
 *     ("%.6f" for ratios and settings, integers as integers, fixed-point sums
 *     as decimal strings because they can pass 2^53), so the text is a pure
 *     function of the counts and byte-stable across runs and machines.
 *   - Read with cJSON (explicit length), then walked with checks at every
 *     step; a problem is reported with its JSON path. Only counts and
 *     settings are read; derived figures are recomputed, so a hand-edited
 *     ratio cannot leak into a merge.
 *   - Integers read back must be exact in a double (<= 2^53); counts of
 *     records never come near that.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ifs_io.h"
#include "ifs_report.h"
#include "report_impl.h"

#ifndef IFS_VERSION
#define IFS_VERSION "0.0.0"
#endif

/* --- growable text buffer -------------------------------------------------- */

/* --- derived figures ------------------------------------------------------- */

static void ratio(uint64_t k, uint64_t n, ifs_red_ratio *r)
{
    r->ok = n > 0;
    r->v = n ? (double)k / (double)n : 0.0;
    ifs_wilson95(k, n, &r->lo, &r->hi);
}

void ifs_red_stats_of(const ifs_red_group *g, ifs_red_stats *s)
{
    memset(s, 0, sizeof *s);
    s->tot = ifs_red_group_total(g);
    ratio(s->tot.answer, s->tot.n, &s->ifs);
    ratio(g->c[IFS_ITYPE_PARTIAL].answer, g->c[IFS_ITYPE_PARTIAL].n, &s->partial);
    ratio(g->c[IFS_ITYPE_FULL].answer, g->c[IFS_ITYPE_FULL].n, &s->full);
    s->gap.ok = s->partial.ok && s->full.ok;
    if (s->gap.ok) {
        /* Newcombe's hybrid score interval (his method 10): one function,
         * the one compare uses too. */
        s->gap.v = s->full.v - s->partial.v;
        ifs_newcombe95(g->c[IFS_ITYPE_FULL].answer, g->c[IFS_ITYPE_FULL].n,
                       g->c[IFS_ITYPE_PARTIAL].answer, g->c[IFS_ITYPE_PARTIAL].n, &s->gap.lo,
                       &s->gap.hi);
    }
    s->mean_ok = s->tot.n > 0;
    s->mean_p = s->tot.n ? (double)s->tot.psum / IFS_RED_P_SCALE / (double)s->tot.n : 0.0;
}

static int32_t curve_cmp_key;
static int32_t curve_nkeys;
static int cmp_curve(const void *a, const void *b)
{
    const ifs_red_group *x = *(ifs_red_group *const *)a, *y = *(ifs_red_group *const *)b;
    for (int32_t k = 0; k < curve_nkeys; k++) {
        if (k == curve_cmp_key)
            continue;
        int c = ifs_red_value_cmp(x->vals[k], y->vals[k]);
        if (c)
            return c;
    }
    return ifs_red_value_cmp(x->vals[curve_cmp_key], y->vals[curve_cmp_key]);
}

void ifs_red_curves_free(ifs_red_curves *c)
{
    if (!c)
        return;
    free(c->order);
    free(c->series);
    memset(c, 0, sizeof *c);
}

int ifs_red_curves_of(const ifs_reducer *r, ifs_red_curves *cv)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    memset(cv, 0, sizeof *cv);
    cv->key = -1;
    if (r->curve_mode == IFS_CURVE_NONE || !r->n_groups)
        return IFS_RED_OK;
    if (r->curve_mode == IFS_CURVE_NAMED) {
        for (int32_t k = 0; k < r->n_keys; k++)
            if (!strcmp(r->keys[k], r->curve_key))
                cv->key = k;
    } else {
        for (int32_t k = r->n_keys - 1; k >= 0 && cv->key < 0; k--) {
            size_t i = 0;
            while (i < r->n_groups && ifs_red_is_number(r->groups[i]->vals[k]))
                i++;
            if (i == r->n_groups)
                cv->key = k;
        }
    }
    if (cv->key < 0)
        return IFS_RED_OK;
    cv->order = malloc(r->n_groups * sizeof *cv->order);
    cv->series = malloc(r->n_groups * sizeof *cv->series);
    uint64_t *k = malloc(r->n_groups * sizeof *k), *m = malloc(r->n_groups * sizeof *m);
    if (!cv->order || !cv->series || !k || !m) {
        free(k);
        free(m);
        ifs_red_curves_free(cv);
        return IFS_RED_ENOMEM;
    }
    memcpy(cv->order, r->groups, r->n_groups * sizeof *cv->order);
    pthread_mutex_lock(&mu);
    curve_cmp_key = cv->key;
    curve_nkeys = r->n_keys;
    qsort(cv->order, r->n_groups, sizeof *cv->order, cmp_curve);
    pthread_mutex_unlock(&mu);
    /* Runs of equal non-curve keys form one series; numbers sort first, so
     * a series' numeric points are a prefix of its run. */
    for (size_t i = 0; i < r->n_groups;) {
        size_t j = i + 1;
        for (; j < r->n_groups; j++) {
            int same = 1;
            for (int32_t q = 0; q < r->n_keys && same; q++)
                same = q == cv->key || !strcmp(cv->order[i]->vals[q], cv->order[j]->vals[q]);
            if (!same)
                break;
        }
        ifs_red_series *s = &cv->series[cv->n_series++];
        s->first = i;
        s->n = 0;
        while (i + s->n < j && ifs_red_is_number(cv->order[i + s->n]->vals[cv->key]))
            s->n++;
        s->skipped = j - i - s->n;
        for (size_t p = 0; p < s->n; p++) {
            ifs_red_cell c = ifs_red_group_total(cv->order[i + p]);
            k[p] = c.answer;
            m[p] = c.n;
        }
        s->plateau = ifs_plateau(k, m, s->n, (uint64_t)r->eps_u, r->min_after);
        i = j;
    }
    free(k);
    free(m);
    return IFS_RED_OK;
}

/* --- writing --------------------------------------------------------------- */

static void put_ratio(ifs_buf *b, const char *name, const ifs_red_ratio *q, int last)
{
    ifs_buf_printf(b, "      \"%s\": ", name);
    if (q->ok)
        ifs_buf_fixed(b, q->v, 6);
    else
        ifs_buf_puts(b, "null");
    ifs_buf_printf(b, ",\n      \"%s_ci95\": ", name);
    if (q->ok) {
        ifs_buf_puts(b, "[");
        ifs_buf_fixed(b, q->lo, 6);
        ifs_buf_puts(b, ", ");
        ifs_buf_fixed(b, q->hi, 6);
        ifs_buf_puts(b, "]");
    } else {
        ifs_buf_puts(b, "null");
    }
    ifs_buf_puts(b, last ? "\n" : ",\n");
}

static void put_key_object(ifs_buf *b, const ifs_reducer *r, const ifs_red_group *g, int skip)
{
    ifs_buf_puts(b, "{");
    int first = 1;
    for (int32_t k = 0; k < r->n_keys; k++) {
        if (k == skip)
            continue;
        ifs_buf_puts(b, first ? "" : ", ");
        first = 0;
        ifs_buf_jstr(b, r->keys[k]);
        ifs_buf_puts(b, ": ");
        ifs_buf_jstr(b, g->vals[k]);
    }
    ifs_buf_puts(b, "}");
}

static void put_reasons(ifs_buf *b, const ifs_red_reason *rs, size_t n)
{
    /* Sorted by name, selection style: reason lists are a handful long. */
    ifs_buf_puts(b, "{");
    const char *prev = NULL;
    for (size_t out = 0; out < n; out++) {
        const ifs_red_reason *best = NULL;
        for (size_t i = 0; i < n; i++)
            if ((!prev || strcmp(rs[i].name, prev) > 0) &&
                (!best || strcmp(rs[i].name, best->name) < 0))
                best = &rs[i];
        if (!best)
            break;
        ifs_buf_printf(b, "%s\"%s\": %llu", out ? ", " : "", best->name,
                       (unsigned long long)best->count);
        prev = best->name;
    }
    ifs_buf_puts(b, "}");
}

/* Totals of rejects per reason over all inputs, merged into one list. */
static int total_reasons(const ifs_reducer *r, ifs_red_input *acc)
{
    memset(acc, 0, sizeof *acc);
    for (size_t i = 0; i < r->n_inputs; i++)
        for (size_t k = 0; k < r->inputs[i].n_reasons; k++)
            if (ifs_red_input_add_reason(acc, r->inputs[i].reasons[k].name,
                                         r->inputs[i].reasons[k].count))
                return IFS_RED_ENOMEM;
    return IFS_RED_OK;
}

static void put_cell(ifs_buf *b, const char *name, const ifs_red_cell *c, int last)
{
    ifs_buf_printf(b,
                   "        \"%s\": {\"n\": %llu, \"answer_like\": %llu, \"near_threshold\": %llu, "
                   "\"p_answer_sum_1e9\": \"%llu\"}%s\n",
                   name, (unsigned long long)c->n, (unsigned long long)c->answer,
                   (unsigned long long)c->near, (unsigned long long)c->psum, last ? "" : ",");
}

static void put_timings(ifs_buf *b, const ifs_reducer *r, const ifs_reduce_totals *t)
{
    ifs_buf_puts(b, ",\n  \"timings\": {\n");
    /* Names sorted; numbers then the two throughputs, then facts. */
    const char *prev = NULL;
    int64_t wall_u = -1;
    for (size_t out = 0; out < r->n_timings; out++) {
        const ifs_red_timing *best = NULL;
        for (size_t i = 0; i < r->n_timings; i++)
            if ((!prev || strcmp(r->timings[i].name, prev) > 0) &&
                (!best || strcmp(r->timings[i].name, best->name) < 0))
                best = &r->timings[i];
        int64_t u = best->value_u;
        uint64_t a = u < 0 ? (uint64_t)0 - (uint64_t)u : (uint64_t)u;
        ifs_buf_printf(b, "    \"%s\": %s%llu.%06llu,\n", best->name, u < 0 ? "-" : "",
                       (unsigned long long)(a / IFS_RED_MICRO),
                       (unsigned long long)(a % IFS_RED_MICRO));
        if (!strcmp(best->name, "wall_s"))
            wall_u = u;
        prev = best->name;
    }
    if (wall_u > 0) {
        double wall = (double)wall_u / IFS_RED_MICRO;
        ifs_buf_puts(b, "    \"records_per_s\": ");
        ifs_buf_fixed(b, (double)t->scored / wall, 3);
        ifs_buf_puts(b, ",\n    \"tokens_per_s\": ");
        ifs_buf_fixed(b, (double)t->tokens / wall, 3);
        ifs_buf_puts(b, ",\n");
    }
    ifs_buf_puts(b, "    \"facts\": {");
    prev = NULL;
    for (size_t out = 0; out < r->n_facts; out++) {
        const ifs_red_fact *best = NULL;
        for (size_t i = 0; i < r->n_facts; i++)
            if ((!prev || strcmp(r->facts[i].name, prev) > 0) &&
                (!best || strcmp(r->facts[i].name, best->name) < 0))
                best = &r->facts[i];
        ifs_buf_printf(b, "%s\"%s\": ", out ? ", " : "", best->name);
        ifs_buf_jstr(b, best->value);
        prev = best->name;
    }
    ifs_buf_puts(b, "}\n  }");
}

int ifs_report_json(const ifs_reducer *r, unsigned flags, char **out, size_t *len, char *err,
                    size_t errlen)
{
    if (!r || !out)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer or output pointer");
    *out = NULL;
    if (len)
        *len = 0;
    ifs_red_group **groups = ifs_red_sorted_groups(r);
    size_t *inputs = ifs_red_sorted_inputs(r);
    ifs_red_curves cv;
    int crc = ifs_red_curves_of(r, &cv);
    ifs_red_input rej;
    int rrc = total_reasons(r, &rej);
    if (!groups || !inputs || crc || rrc) {
        free(groups);
        free(inputs);
        if (!crc)
            ifs_red_curves_free(&cv);
        free(rej.reasons);
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    ifs_reduce_totals t;
    ifs_reduce_get_totals(r, &t);
    ifs_buf b;
    ifs_buf_init(&b);

    ifs_buf_printf(&b, "{\n  \"schema\": \"ifscore-report\",\n  \"schema_version\": %d,\n",
                   IFS_REPORT_SCHEMA_VERSION);
    ifs_buf_puts(&b, "  \"generator\": \"ifscore " IFS_VERSION "\",\n");

    ifs_buf_printf(&b, "  \"classifier\": {\n    \"weights_sha256\": \"%s\",\n", r->weights_sha);
    if (*r->tokenizer_sha)
        ifs_buf_printf(&b, "    \"tokenizer_sha256\": \"%s\",\n", r->tokenizer_sha);
    ifs_buf_puts(&b, "    \"labels\": [");
    for (int32_t i = 0; i < r->n_labels; i++) {
        ifs_buf_puts(&b, i ? ", " : "");
        ifs_buf_jstr(&b, r->labels[i]);
    }
    ifs_buf_printf(
        &b, "],\n    \"answer_label\": %d,\n    \"answer_label_name\": ", (int)r->answer_label);
    ifs_buf_jstr(&b, r->labels[r->answer_label]);
    ifs_buf_puts(&b, ",\n    \"threshold\": ");
    ifs_buf_fixed(&b, r->threshold, 6);
    ifs_buf_puts(&b, ",\n    \"near_margin\": ");
    ifs_buf_fixed(&b, r->margin, 6);
    if (r->pair_input) { /* a response-only report has no "input": its bytes are as before */
        ifs_buf_puts(&b, ",\n    \"input\": \"pair\",\n    \"instruction_field\": ");
        ifs_buf_jstr(&b, r->instruction_field);
        ifs_buf_printf(&b, ",\n    \"instruction_max_tokens\": %d", (int)r->instruction_max_tokens);
    }
    ifs_buf_puts(&b, "\n  },\n");

    static const char *const tri[] = {"null", "false", "true"};
    ifs_buf_printf(&b,
                   "  \"tokenizer\": {\n    \"do_lower_case\": %s,\n    \"strip_accents\": %s,\n"
                   "    \"tokenize_chinese_chars\": %s,\n    \"max_length\": %d\n  },\n",
                   tri[r->do_lower_case + 1], tri[r->strip_accents + 1],
                   tri[r->tokenize_chinese_chars + 1], (int)r->max_length);

    ifs_buf_puts(&b, "  \"grouping\": {\n    \"keys\": [");
    for (int32_t k = 0; k < r->n_keys; k++) {
        ifs_buf_puts(&b, k ? ", " : "");
        ifs_buf_jstr(&b, r->keys[k]);
    }
    ifs_buf_puts(&b, "],\n    \"curve_key\": ");
    if (r->curve_mode == IFS_CURVE_AUTO)
        ifs_buf_puts(&b, "null");
    else
        ifs_buf_jstr(&b, r->curve_mode == IFS_CURVE_NONE ? "" : r->curve_key);
    ifs_buf_puts(&b, ",\n    \"plateau_epsilon\": ");
    ifs_buf_fixed(&b, (double)r->eps_u / IFS_RED_MICRO, 6);
    ifs_buf_printf(&b, ",\n    \"plateau_min_after\": %d\n  },\n", (int)r->min_after);
    ifs_red_put_slices(&b, r);

    ifs_buf_printf(&b,
                   "  \"counts\": {\n    \"read\": %llu,\n    \"scored\": %llu,\n"
                   "    \"rejected\": %llu,\n    \"answer_like\": %llu,\n"
                   "    \"near_threshold\": %llu,\n    \"tokens\": %llu,\n"
                   "    \"truncated\": %llu,\n    \"inputs\": %llu,\n    \"groups\": %llu,\n"
                   "    \"rejects\": ",
                   (unsigned long long)t.read, (unsigned long long)t.scored,
                   (unsigned long long)t.rejected, (unsigned long long)t.answer_like,
                   (unsigned long long)t.near_threshold, (unsigned long long)t.tokens,
                   (unsigned long long)t.truncated, (unsigned long long)t.n_inputs,
                   (unsigned long long)t.n_groups);
    put_reasons(&b, rej.reasons, rej.n_reasons);
    ifs_buf_puts(&b, "\n  },\n");

    ifs_buf_puts(&b, "  \"inputs\": [");
    for (size_t i = 0; i < r->n_inputs; i++) {
        const ifs_red_input *in = &r->inputs[inputs[i]];
        ifs_buf_puts(&b, i ? ",\n    {\"path\": " : "\n    {\"path\": ");
        ifs_buf_jstr(&b, in->path);
        ifs_buf_printf(&b,
                       ", \"bytes\": %llu, \"sha256\": \"%s\", \"read\": %llu, "
                       "\"scored\": %llu, \"rejected\": %llu, \"rejects\": ",
                       (unsigned long long)in->bytes, in->sha, (unsigned long long)in->lines,
                       (unsigned long long)in->scored, (unsigned long long)in->rejected);
        put_reasons(&b, in->reasons, in->n_reasons);
        ifs_buf_puts(&b, "}");
    }
    ifs_buf_puts(&b, r->n_inputs ? "\n  ],\n" : "],\n");

    ifs_buf_puts(&b, "  \"groups\": [");
    for (size_t i = 0; i < r->n_groups; i++) {
        const ifs_red_group *g = groups[i];
        ifs_red_stats s;
        ifs_red_stats_of(g, &s);
        ifs_buf_puts(&b, i ? ",\n    {\n      \"key\": " : "\n    {\n      \"key\": ");
        put_key_object(&b, r, g, -1);
        ifs_buf_puts(&b, ",\n      \"counts\": {\n");
        put_cell(&b, "partial", &g->c[IFS_ITYPE_PARTIAL], 0);
        put_cell(&b, "full", &g->c[IFS_ITYPE_FULL], 0);
        put_cell(&b, "none", &g->c[IFS_ITYPE_NONE], 1);
        ifs_buf_printf(&b,
                       "      },\n      \"n\": %llu,\n      \"n_partial\": %llu,\n"
                       "      \"n_full\": %llu,\n      \"answer_like\": %llu,\n"
                       "      \"answer_like_partial\": %llu,\n      \"answer_like_full\": %llu,\n"
                       "      \"near_threshold\": %llu,\n",
                       (unsigned long long)s.tot.n, (unsigned long long)g->c[IFS_ITYPE_PARTIAL].n,
                       (unsigned long long)g->c[IFS_ITYPE_FULL].n, (unsigned long long)s.tot.answer,
                       (unsigned long long)g->c[IFS_ITYPE_PARTIAL].answer,
                       (unsigned long long)g->c[IFS_ITYPE_FULL].answer,
                       (unsigned long long)s.tot.near);
        put_ratio(&b, "ifs", &s.ifs, 0);
        put_ratio(&b, "ifs_partial", &s.partial, 0);
        put_ratio(&b, "ifs_full", &s.full, 0);
        put_ratio(&b, "gap_full_minus_partial", &s.gap, 0);
        ifs_buf_puts(&b, "      \"mean_p_answer\": ");
        if (s.mean_ok)
            ifs_buf_fixed(&b, s.mean_p, 6);
        else
            ifs_buf_puts(&b, "null");
        ifs_buf_puts(&b, "\n    }");
    }
    ifs_buf_puts(&b, r->n_groups ? "\n  ],\n" : "],\n");

    ifs_buf_puts(&b, "  \"curves\": ");
    if (cv.key < 0) {
        ifs_buf_puts(&b, "null");
    } else {
        ifs_buf_puts(&b, "{\n    \"key\": ");
        ifs_buf_jstr(&b, r->keys[cv.key]);
        ifs_buf_puts(&b, ",\n    \"series\": [");
        for (size_t i = 0; i < cv.n_series; i++) {
            const ifs_red_series *se = &cv.series[i];
            ifs_buf_puts(&b, i ? ",\n      {\"group\": " : "\n      {\"group\": ");
            put_key_object(&b, r, cv.order[se->first], cv.key);
            ifs_buf_puts(&b, ",\n       \"points\": [");
            for (size_t p = 0; p < se->n; p++) {
                const ifs_red_group *g = cv.order[se->first + p];
                ifs_red_stats s;
                ifs_red_stats_of(g, &s);
                ifs_buf_puts(&b, p ? ",\n                  {" : "{");
                ifs_buf_jstr(&b, r->keys[cv.key]);
                ifs_buf_puts(&b, ": ");
                ifs_buf_jstr(&b, g->vals[cv.key]);
                ifs_buf_printf(&b, ", \"n\": %llu, \"answer_like\": %llu, \"ifs\": ",
                               (unsigned long long)s.tot.n, (unsigned long long)s.tot.answer);
                ifs_buf_fixed(&b, s.ifs.v, 6);
                ifs_buf_puts(&b, "}");
            }
            ifs_buf_printf(&b, "],\n       \"skipped_non_numeric\": %llu,\n       \"plateau\": ",
                           (unsigned long long)se->skipped);
            if (se->plateau < 0) {
                ifs_buf_puts(&b, "null}");
            } else {
                const ifs_red_group *g = cv.order[se->first + (size_t)se->plateau];
                ifs_red_stats s;
                ifs_red_stats_of(g, &s);
                ifs_buf_puts(&b, "{");
                ifs_buf_jstr(&b, r->keys[cv.key]);
                ifs_buf_puts(&b, ": ");
                ifs_buf_jstr(&b, g->vals[cv.key]);
                ifs_buf_printf(&b, ", \"index\": %lld, \"ifs\": ", (long long)se->plateau);
                ifs_buf_fixed(&b, s.ifs.v, 6);
                ifs_buf_puts(&b, "}}");
            }
        }
        ifs_buf_puts(&b, cv.n_series ? "\n    ]\n  }" : "]\n  }");
    }
    if (!(flags & IFS_REPORT_NO_TIMINGS))
        put_timings(&b, r, &t);
    ifs_buf_puts(&b, "\n}\n");

    free(groups);
    free(inputs);
    ifs_red_curves_free(&cv);
    free(rej.reasons);
    if (b.oom) {
        free(b.p);
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return IFS_RED_OK;
}

int ifs_report_write(const ifs_reducer *r, const char *path, unsigned flags, char *err,
                     size_t errlen)
{
    if (!r || !path)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer or path");
    char *text;
    size_t len;
    int rc = ifs_report_json(r, flags, &text, &len, err, errlen);
    if (rc)
        return rc;
    rc = ifs_io_atomic_write(path, text, len, err, errlen) ? IFS_RED_EIO : IFS_RED_OK;
    free(text);
    return rc;
}

/* --- reading --------------------------------------------------------------- */

#define BAD(...) ifs_errf(err, errlen, IFS_RED_EFORMAT, __VA_ARGS__)
#define MAX_EXACT 9007199254740992.0 /* 2^53 */

static const cJSON *member(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static int get_u64(const cJSON *obj, const char *name, const char *where, uint64_t *v, char *err,
                   size_t errlen)
{
    const cJSON *x = member(obj, name);
    if (!cJSON_IsNumber(x))
        return BAD("%s.%s: missing or not a number", where, name);
    double d = x->valuedouble;
    if (!(d >= 0 && d <= MAX_EXACT) || d != floor(d))
        return BAD("%s.%s: %g is not an integer in [0, 2^53]", where, name, d);
    *v = (uint64_t)d;
    return 0;
}

static int get_str(const cJSON *x, const char *where, const char **v, char *err, size_t errlen)
{
    if (!cJSON_IsString(x) || !x->valuestring)
        return BAD("%s: missing or not a string", where);
    if (!ifs_red_valid_utf8(x->valuestring, strlen(x->valuestring)))
        return BAD("%s: not valid UTF-8", where);
    *v = x->valuestring;
    return 0;
}

static int get_bool(const cJSON *obj, const char *name, int *v, char *err, size_t errlen)
{
    const cJSON *x = member(obj, name);
    if (!cJSON_IsBool(x))
        return BAD("tokenizer.%s: missing or not true/false", name);
    *v = cJSON_IsTrue(x) ? 1 : 0;
    return 0;
}

static int add_ok(uint64_t *acc, uint64_t v)
{
    if (*acc > UINT64_MAX - v)
        return 0;
    *acc += v;
    return 1;
}

static int read_reasons(const cJSON *obj, const char *where, ifs_red_input *in, uint64_t *sum,
                        char *err, size_t errlen)
{
    if (!cJSON_IsObject(obj))
        return BAD("%s.rejects: missing or not an object", where);
    *sum = 0;
    for (const cJSON *x = obj->child; x; x = x->next) {
        if (!ifs_red_valid_name(x->string))
            return BAD("%s.rejects: reason name is not [a-z0-9_]{1,63}", where);
        if (!ifs_red_known_reason(x->string))
            return BAD("%s.rejects: '%s' is not a reject reason of ifscore", where, x->string);
        for (size_t i = 0; i < in->n_reasons; i++)
            if (!strcmp(in->reasons[i].name, x->string))
                return BAD("%s.rejects: reason '%s' appears twice", where, x->string);
        uint64_t v;
        int rc = get_u64(obj, x->string, where, &v, err, errlen);
        if (rc)
            return rc;
        if (!add_ok(sum, v))
            return BAD("%s.rejects: counts overflow", where);
        if (v && ifs_red_input_add_reason(in, x->string, v))
            return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    return 0;
}

static int read_identity(const cJSON *root, ifs_reducer **out, char *err, size_t errlen)
{
    const cJSON *cls = member(root, "classifier"), *tok = member(root, "tokenizer"),
                *grp = member(root, "grouping");
    if (!cJSON_IsObject(cls) || !cJSON_IsObject(tok) || !cJSON_IsObject(grp))
        return BAD("classifier, tokenizer and grouping must be objects");
    ifs_reduce_config c = ifs_reduce_default_config();
    const char *labels[IFS_RED_MAX_LABELS], *keys[IFS_RED_MAX_KEYS];
    int rc;
    const cJSON *x = member(cls, "weights_sha256");
    if ((rc = get_str(x, "classifier.weights_sha256", &c.weights_sha256, err, errlen)))
        return rc;
    x = member(cls, "tokenizer_sha256"); /* absent in reports before it existed */
    if (x && (rc = get_str(x, "classifier.tokenizer_sha256", &c.tokenizer_sha256, err, errlen)))
        return rc;
    const cJSON *ls = member(cls, "labels");
    if (!cJSON_IsArray(ls))
        return BAD("classifier.labels: missing or not an array");
    int n = cJSON_GetArraySize(ls);
    if (n < 2 || n > IFS_RED_MAX_LABELS)
        return BAD("classifier.labels: %d labels, expected 2..%d", n, IFS_RED_MAX_LABELS);
    int i = 0;
    for (x = ls->child; x; x = x->next, i++)
        if ((rc = get_str(x, "classifier.labels[]", &labels[i], err, errlen)))
            return rc;
    c.n_labels = n;
    c.labels = labels;
    uint64_t v;
    if ((rc = get_u64(cls, "answer_label", "classifier", &v, err, errlen)))
        return rc;
    if (v >= (uint64_t)n)
        return BAD("classifier.answer_label: %llu is not a label index", (unsigned long long)v);
    c.answer_label = (int32_t)v;
    x = member(cls, "threshold");
    if (!cJSON_IsNumber(x))
        return BAD("classifier.threshold: missing or not a number");
    c.threshold = x->valuedouble;
    x = member(cls, "near_margin");
    if (!cJSON_IsNumber(x))
        return BAD("classifier.near_margin: missing or not a number");
    c.near_margin = x->valuedouble;
    /* What the classifier read: absent (reports before pair mode) or
     * "response" = the response alone; "pair" names the instruction's field
     * and the cap. */
    x = member(cls, "input");
    if (x && !(cJSON_IsString(x) &&
               (!strcmp(x->valuestring, "response") || !strcmp(x->valuestring, "pair"))))
        return BAD("classifier.input: not \"response\" or \"pair\"");
    c.pair_input = x && !strcmp(x->valuestring, "pair");
    if (c.pair_input) {
        if ((rc = get_str(member(cls, "instruction_field"), "classifier.instruction_field",
                          &c.instruction_field, err, errlen)))
            return rc;
        if (!*c.instruction_field || strlen(c.instruction_field) > 255)
            return BAD("classifier.instruction_field: expected 1..255 bytes");
        if ((rc = get_u64(cls, "instruction_max_tokens", "classifier", &v, err, errlen)))
            return rc;
        if (v > INT32_MAX)
            return BAD("classifier.instruction_max_tokens: %llu is out of range",
                       (unsigned long long)v);
        c.instruction_max_tokens = (int32_t)v;
    } else if (member(cls, "instruction_field") || member(cls, "instruction_max_tokens")) {
        return BAD("classifier.instruction_field/instruction_max_tokens: given, but "
                   "classifier.input is not \"pair\"");
    }

    if ((rc = get_bool(tok, "do_lower_case", &c.do_lower_case, err, errlen)) ||
        (rc = get_bool(tok, "tokenize_chinese_chars", &c.tokenize_chinese_chars, err, errlen)))
        return rc;
    x = member(tok, "strip_accents");
    if (cJSON_IsNull(x))
        c.strip_accents = -1;
    else if (cJSON_IsBool(x))
        c.strip_accents = cJSON_IsTrue(x) ? 1 : 0;
    else
        return BAD("tokenizer.strip_accents: missing or not null/true/false");
    if ((rc = get_u64(tok, "max_length", "tokenizer", &v, err, errlen)))
        return rc;
    if (v < 2 || v > INT32_MAX)
        return BAD("tokenizer.max_length: %llu is out of range", (unsigned long long)v);
    c.max_length = (int32_t)v;

    const cJSON *ks = member(grp, "keys");
    if (!cJSON_IsArray(ks))
        return BAD("grouping.keys: missing or not an array");
    n = cJSON_GetArraySize(ks);
    if (n < 1 || n > IFS_RED_MAX_KEYS)
        return BAD("grouping.keys: %d keys, expected 1..%d", n, IFS_RED_MAX_KEYS);
    i = 0;
    for (x = ks->child; x; x = x->next, i++)
        if ((rc = get_str(x, "grouping.keys[]", &keys[i], err, errlen)))
            return rc;
    c.n_keys = n;
    c.keys = keys;
    x = member(grp, "curve_key");
    if (cJSON_IsNull(x))
        c.curve_key = NULL;
    else if ((rc = get_str(x, "grouping.curve_key", &c.curve_key, err, errlen)))
        return rc;
    x = member(grp, "plateau_epsilon");
    if (!cJSON_IsNumber(x))
        return BAD("grouping.plateau_epsilon: missing or not a number");
    c.plateau_eps = x->valuedouble;
    if ((rc = get_u64(grp, "plateau_min_after", "grouping", &v, err, errlen)))
        return rc;
    if (v > 1000000)
        return BAD("grouping.plateau_min_after: %llu is too large", (unsigned long long)v);
    c.plateau_min_after = (int32_t)v;

    char why[200];
    rc = ifs_reduce_create(&c, out, why, sizeof why);
    if (rc == IFS_RED_EARG)
        return BAD("settings rejected: %s", why);
    if (rc)
        return ifs_errf(err, errlen, rc, "%s", why);
    return 0;
}

static int read_inputs(const cJSON *root, ifs_reducer *r, char *err, size_t errlen)
{
    const cJSON *ins = member(root, "inputs");
    if (!cJSON_IsArray(ins))
        return BAD("inputs: missing or not an array");
    size_t i = 0;
    for (const cJSON *x = ins->child; x; x = x->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "inputs[%zu]", i);
        if (!cJSON_IsObject(x))
            return BAD("%s: not an object", where);
        const char *path = NULL, *sha = NULL;
        uint64_t bytes, read, scored, rejected, sum = 0;
        int rc;
        if ((rc = get_str(member(x, "path"), "inputs[].path", &path, err, errlen)) ||
            (rc = get_str(member(x, "sha256"), "inputs[].sha256", &sha, err, errlen)) ||
            (rc = get_u64(x, "bytes", where, &bytes, err, errlen)) ||
            (rc = get_u64(x, "read", where, &read, err, errlen)) ||
            (rc = get_u64(x, "scored", where, &scored, err, errlen)) ||
            (rc = get_u64(x, "rejected", where, &rejected, err, errlen)))
            return rc;
        int32_t id;
        char why[160];
        rc = ifs_reduce_add_input(r, path, bytes, sha, &id, why, sizeof why);
        if (rc == IFS_RED_EARG)
            return BAD("%s: %s", where, why);
        if (rc)
            return ifs_errf(err, errlen, rc, "%s", why);
        ifs_red_input *in = &r->inputs[id];
        if ((rc = read_reasons(member(x, "rejects"), where, in, &sum, err, errlen)))
            return rc;
        if (sum != rejected)
            return BAD("%s: rejected is %llu but the reasons add up to %llu", where,
                       (unsigned long long)rejected, (unsigned long long)sum);
        if (scored > UINT64_MAX - rejected || read != scored + rejected)
            return BAD("%s: read %llu != scored %llu + rejected %llu", where,
                       (unsigned long long)read, (unsigned long long)scored,
                       (unsigned long long)rejected);
        in->scored = scored;
        in->lines = read;
        in->ended = 1;
    }
    /* One report names one file's bytes once: the same path with two
     * sha256s is a report no run writes (and one reduce would refuse to
     * merge even with itself). */
    size_t *idx = ifs_red_sorted_inputs(r);
    if (!idx)
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    int dup = 0;
    for (size_t i = 1; i < r->n_inputs && !dup; i++) {
        const ifs_red_input *a = &r->inputs[idx[i - 1]], *b = &r->inputs[idx[i]];
        if (!strcmp(a->path, b->path) && strcmp(a->sha, b->sha)) {
            dup = 1;
            BAD("inputs: %s is listed twice with different sha256 (%.16s... and %.16s...)", a->path,
                a->sha, b->sha);
        }
    }
    free(idx);
    return dup ? IFS_RED_EFORMAT : 0;
}

static int read_cell(const cJSON *counts, const char *name, size_t gi, ifs_red_cell *c, char *err,
                     size_t errlen)
{
    char where[64];
    snprintf(where, sizeof where, "groups[%zu].counts.%s", gi, name);
    const cJSON *x = member(counts, name);
    if (!cJSON_IsObject(x))
        return BAD("%s: missing or not an object", where);
    int rc;
    if ((rc = get_u64(x, "n", where, &c->n, err, errlen)) ||
        (rc = get_u64(x, "answer_like", where, &c->answer, err, errlen)) ||
        (rc = get_u64(x, "near_threshold", where, &c->near, err, errlen)))
        return rc;
    const cJSON *s = member(x, "p_answer_sum_1e9");
    if (!cJSON_IsString(s) || !s->valuestring)
        return BAD("%s.p_answer_sum_1e9: missing or not a string of digits", where);
    const char *p = s->valuestring;
    size_t len = strlen(p);
    if (len < 1 || len > 20 || strspn(p, "0123456789") != len || (len > 1 && p[0] == '0'))
        return BAD("%s.p_answer_sum_1e9: \"%.24s\" is not a decimal integer", where, p);
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return BAD("%s.p_answer_sum_1e9: too large", where);
        v = v * 10 + d;
    }
    c->psum = v;
    if (c->answer > c->n || c->near > c->n)
        return BAD("%s: answer_like or near_threshold exceeds n", where);
    /* Each record adds at most 1e9 to the sum. */
    if ((unsigned __int128)c->psum > (unsigned __int128)c->n * 1000000000u)
        return BAD("%s: p_answer_sum_1e9 exceeds n * 1e9", where);
    return 0;
}

static int read_groups(const cJSON *root, ifs_reducer *r, char *err, size_t errlen)
{
    const cJSON *gs = member(root, "groups");
    if (!cJSON_IsArray(gs))
        return BAD("groups: missing or not an array");
    size_t gi = 0;
    for (const cJSON *x = gs->child; x; x = x->next, gi++) {
        if (!cJSON_IsObject(x))
            return BAD("groups[%zu]: not an object", gi);
        const cJSON *key = member(x, "key");
        if (!cJSON_IsObject(key) || cJSON_GetArraySize(key) != r->n_keys)
            return BAD("groups[%zu].key: must be an object with the %d group-by keys", gi,
                       (int)r->n_keys);
        const char *vals[IFS_RED_MAX_KEYS];
        int32_t k = 0;
        for (const cJSON *v = key->child; v; v = v->next, k++) {
            if (!v->string || strcmp(v->string, r->keys[k]))
                return BAD("groups[%zu].key: key %d must be \"%s\"", gi, (int)k, r->keys[k]);
            int rc = get_str(v, "groups[].key value", &vals[k], err, errlen);
            if (rc)
                return rc;
        }
        const cJSON *counts = member(x, "counts");
        if (!cJSON_IsObject(counts))
            return BAD("groups[%zu].counts: missing or not an object", gi);
        ifs_red_cell c[3];
        int rc;
        if ((rc = read_cell(counts, "none", gi, &c[IFS_ITYPE_NONE], err, errlen)) ||
            (rc = read_cell(counts, "partial", gi, &c[IFS_ITYPE_PARTIAL], err, errlen)) ||
            (rc = read_cell(counts, "full", gi, &c[IFS_ITYPE_FULL], err, errlen)))
            return rc;
        uint64_t n = 0, psum = 0;
        for (int t = 0; t < 3; t++)
            if (!add_ok(&n, c[t].n) || !add_ok(&psum, c[t].psum))
                return BAD("groups[%zu].counts: sums overflow", gi);
        if (n == 0)
            return BAD("groups[%zu]: a group with no records", gi);
        size_t before = r->n_groups;
        ifs_red_group *g = ifs_red_group_get(r, vals);
        if (!g)
            return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
        if (r->n_groups == before)
            return BAD("groups[%zu]: the same key appears twice", gi);
        memcpy(g->c, c, sizeof c);
    }
    return 0;
}

static int read_timings(const cJSON *root, ifs_reducer *r, char *err, size_t errlen)
{
    const cJSON *t = member(root, "timings");
    if (!t || cJSON_IsNull(t))
        return 0;
    if (!cJSON_IsObject(t))
        return BAD("timings: not an object");
    for (const cJSON *x = t->child; x; x = x->next) {
        if (!x->string)
            return BAD("timings: member without a name");
        if (!strcmp(x->string, "facts")) {
            if (!cJSON_IsObject(x))
                return BAD("timings.facts: not an object");
            for (const cJSON *f = x->child; f; f = f->next) {
                const char *v = NULL;
                int rc = get_str(f, "timings.facts value", &v, err, errlen);
                if (rc)
                    return rc;
                if (!ifs_red_valid_name(f->string))
                    return BAD("timings.facts: name is not [a-z0-9_]{1,63}");
                if ((rc = ifs_reduce_set_fact(r, f->string, v)))
                    return ifs_errf(err, errlen, rc, "out of memory");
            }
            continue;
        }
        if (!strcmp(x->string, "records_per_s") || !strcmp(x->string, "tokens_per_s"))
            continue; /* derived */
        if (!cJSON_IsNumber(x) || !(fabs(x->valuedouble) <= IFS_RED_TIMING_MAX))
            return BAD("timings.%.64s: not a number within +-1e9", x->string);
        if (!ifs_red_valid_name(x->string))
            return BAD("timings: name is not [a-z0-9_]{1,63}");
        int rc = ifs_reduce_set_timing(r, x->string, x->valuedouble);
        if (rc)
            return ifs_errf(err, errlen, rc, "out of memory");
    }
    return 0;
}

/* Offset of the first "\u0000" escape in text (escapes are skipped whole,
 * so an escaped backslash followed by "u0000" is not one), SIZE_MAX when
 * there is none. Outside strings a backslash is invalid JSON anyway. */
static size_t nul_escape_at(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '\\')
            continue;
        if (i + 5 < len && text[i + 1] == 'u' && !memcmp(text + i + 2, "0000", 4))
            return i;
        i++; /* the escaped character */
    }
    return SIZE_MAX;
}

int ifs_report_parse(const char *text, size_t len, ifs_reducer **out, char *err, size_t errlen)
{
    if (!text || !out)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no text or output pointer");
    *out = NULL;
    size_t nul = nul_escape_at(text, len);
    if (nul != SIZE_MAX)
        return BAD("byte %zu: a \\u0000 escape (NUL), which cJSON would cut a string at; no "
                   "report of ifscore holds one",
                   nul);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root)
        return BAD("not valid JSON");
    ifs_reducer *r = NULL;
    int rc = 0;
    const cJSON *x;
    if (!cJSON_IsObject(root)) {
        rc = BAD("the top level is not an object");
        goto done;
    }
    x = member(root, "schema");
    if (!cJSON_IsString(x) || strcmp(x->valuestring, "ifscore-report")) {
        rc = BAD("schema: expected \"ifscore-report\"");
        goto done;
    }
    x = member(root, "schema_version");
    if (!cJSON_IsNumber(x) || x->valuedouble != IFS_REPORT_SCHEMA_VERSION) {
        rc = BAD("schema_version: expected %d", IFS_REPORT_SCHEMA_VERSION);
        goto done;
    }
    if ((rc = read_identity(root, &r, err, errlen)) || (rc = read_inputs(root, r, err, errlen)) ||
        (rc = read_groups(root, r, err, errlen)) || (rc = read_timings(root, r, err, errlen)) ||
        (rc = ifs_red_read_slices(root, r, err, errlen)))
        goto done;

    /* The totals must agree with the parts. */
    const cJSON *counts = member(root, "counts");
    if (!cJSON_IsObject(counts)) {
        rc = BAD("counts: missing or not an object");
        goto done;
    }
    uint64_t read, scored, rejected, tokens, truncated, in_groups = 0, in_inputs = 0;
    if ((rc = get_u64(counts, "read", "counts", &read, err, errlen)) ||
        (rc = get_u64(counts, "scored", "counts", &scored, err, errlen)) ||
        (rc = get_u64(counts, "rejected", "counts", &rejected, err, errlen)) ||
        (rc = get_u64(counts, "tokens", "counts", &tokens, err, errlen)) ||
        (rc = get_u64(counts, "truncated", "counts", &truncated, err, errlen)))
        goto done;
    for (size_t i = 0; i < r->n_groups; i++)
        if (!add_ok(&in_groups, ifs_red_group_total(r->groups[i]).n)) {
            rc = BAD("groups: counts overflow");
            goto done;
        }
    uint64_t sr = 0, sj = 0;
    for (size_t i = 0; i < r->n_inputs; i++)
        if (!add_ok(&in_inputs, r->inputs[i].lines) || !add_ok(&sr, r->inputs[i].scored) ||
            !add_ok(&sj, r->inputs[i].rejected)) {
            rc = BAD("inputs: counts overflow");
            goto done;
        }
    if (in_groups != sr || sr != scored || sj != rejected || in_inputs != read ||
        read != scored + rejected) {
        rc = BAD("counts: read %llu, scored %llu, rejected %llu do not match the inputs "
                 "(%llu, %llu, %llu) and groups (%llu scored)",
                 (unsigned long long)read, (unsigned long long)scored, (unsigned long long)rejected,
                 (unsigned long long)in_inputs, (unsigned long long)sr, (unsigned long long)sj,
                 (unsigned long long)in_groups);
        goto done;
    }
    if (truncated > scored) {
        rc = BAD("counts.truncated exceeds counts.scored");
        goto done;
    }
    /* The per-reason totals must be the sums of the inputs' breakdowns. */
    {
        ifs_red_input tot, acc;
        memset(&tot, 0, sizeof tot);
        memset(&acc, 0, sizeof acc);
        uint64_t sum = 0;
        rc = read_reasons(member(counts, "rejects"), "counts", &tot, &sum, err, errlen);
        if (!rc && total_reasons(r, &acc))
            rc = ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
        if (!rc && tot.n_reasons != acc.n_reasons)
            rc = BAD("counts.rejects lists %zu reasons but the inputs' breakdowns have %zu",
                     tot.n_reasons, acc.n_reasons);
        for (size_t i = 0; !rc && i < tot.n_reasons; i++) {
            uint64_t want = 0;
            for (size_t k = 0; k < acc.n_reasons; k++)
                if (!strcmp(acc.reasons[k].name, tot.reasons[i].name))
                    want = acc.reasons[k].count;
            if (want != tot.reasons[i].count)
                rc = BAD("counts.rejects.%s is %llu but the inputs' breakdowns add up to %llu",
                         tot.reasons[i].name, (unsigned long long)tot.reasons[i].count,
                         (unsigned long long)want);
        }
        free(tot.reasons);
        free(acc.reasons);
        if (rc)
            goto done;
    }
    r->tokens = tokens;
    r->truncated = truncated;
done:
    cJSON_Delete(root);
    if (rc) {
        ifs_reduce_free(r);
        return rc;
    }
    *out = r;
    return IFS_RED_OK;
}

int ifs_report_read(const char *path, ifs_reducer **out, char *err, size_t errlen)
{
    if (!path || !out)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no path or output pointer");
    *out = NULL;
    /* Reports are untrusted input: a regular file only (O_NONBLOCK so a FIFO
     * cannot block the open), read up to a stated cap. */
    const size_t limit = (size_t)1 << 30;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ifs_errf(err, errlen, IFS_RED_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ifs_errf(err, errlen, IFS_RED_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > limit) {
        close(fd);
        return ifs_errf(err, errlen, IFS_RED_EIO, "%s: larger than the 1 GiB a report may be",
                        path);
    }
    size_t cap = (size_t)sb.st_size + 1, len = 0;
    char *buf = malloc(cap);
    int rc = IFS_RED_OK;
    while (buf && len < cap) {
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = ifs_errf(err, errlen, IFS_RED_EIO, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (!buf)
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    if (!rc && len == cap)
        rc = ifs_errf(err, errlen, IFS_RED_EIO, "%s: grew while it was read", path);
    if (!rc) {
        char why[400];
        rc = ifs_report_parse(buf, len, out, why, sizeof why);
        if (rc)
            ifs_errf(err, errlen, rc, "%s: %s", path, why);
    }
    free(buf);
    return rc;
}

int ifs_report_format_parse(const char *name, ifs_report_format *fmt)
{
    static const struct {
        const char *name;
        ifs_report_format fmt;
    } names[] = {{"text", IFS_FMT_TEXT},
                 {"csv", IFS_FMT_CSV},
                 {"markdown", IFS_FMT_MARKDOWN},
                 {"md", IFS_FMT_MARKDOWN},
                 {"json", IFS_FMT_JSON}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) {
            *fmt = names[i].fmt;
            return IFS_RED_OK;
        }
    return IFS_RED_EARG;
}

/* --- curves for other renderers (report --html) ---------------------------- */

int ifs_report_get_curves(const ifs_reducer *r, ifs_report_curves *out, char *err, size_t errlen)
{
    if (!out)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no output pointer");
    memset(out, 0, sizeof *out);
    out->key = -1;
    if (!r)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer");
    ifs_red_curves cv;
    if (ifs_red_curves_of(r, &cv))
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    if (cv.key < 0) {
        ifs_red_curves_free(&cv);
        return IFS_RED_OK;
    }
    size_t n = 0;
    for (size_t i = 0; i < cv.n_series; i++)
        n += cv.series[i].n;
    out->storage_ = malloc((n ? n : 1) * sizeof *out->storage_);
    out->series = malloc((cv.n_series ? cv.n_series : 1) * sizeof *out->series);
    if (!out->storage_ || !out->series) {
        ifs_red_curves_free(&cv);
        ifs_report_curves_clear(out);
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < cv.n_series; i++) {
        const ifs_red_series *se = &cv.series[i];
        ifs_report_series *o = &out->series[i];
        o->points = out->storage_ + at;
        o->n_points = se->n;
        o->skipped_non_numeric = se->skipped;
        o->plateau = se->plateau;
        for (size_t p = 0; p < se->n; p++) {
            const ifs_red_group *g = cv.order[se->first + p];
            ifs_reduce_group_view *v = &out->storage_[at++];
            v->vals = (const char *const *)g->vals;
            for (int t = 0; t < 3; t++) {
                v->c[t].n = g->c[t].n;
                v->c[t].answer_like = g->c[t].answer;
                v->c[t].near_threshold = g->c[t].near;
                v->c[t].p_sum_1e9 = g->c[t].psum;
            }
        }
    }
    out->n_series = cv.n_series;
    out->key = cv.key;
    ifs_red_curves_free(&cv);
    return IFS_RED_OK;
}

void ifs_report_curves_clear(ifs_report_curves *c)
{
    if (!c)
        return;
    free(c->series);
    free(c->storage_);
    memset(c, 0, sizeof *c);
    c->key = -1;
}
