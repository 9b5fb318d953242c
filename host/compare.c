/*
 * compare.c - a baseline report against a candidate (ifs_compare.h): groups
 * paired by key, differences with intervals, the regression rule, and the
 * four renderings.
 *
 * Decisions:
 *   - Everything is recomputed from the two reports' counts with the
 *     reducer's own arithmetic (ifs_wilson95, ifs_newcombe95), so a figure
 *     here is the figure `reduce` prints, and a hand-edited ratio in a
 *     report cannot move a verdict.
 *   - Identities are compared by ifs_reduce_same_identity, the function
 *     merge uses: a field added to the identity later is checked here with
 *     no change. Grouping is checked first and always refuses, because
 *     groups of different keys cannot be paired.
 *   - The gap's change is a difference of two differences; its interval
 *     applies Newcombe's square-and-add step once more to the two gap
 *     intervals (MOVER, Zou & Donner 2008). It is shown, never gated.
 *   - Outputs are pure functions of the counts and options (no clock, no
 *     host), so a nightly job's artefacts can be diffed.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_buf.h"
#include "ifs_compare.h"
#include "markup_impl.h"

struct ifs_comparison {
    ifs_compare_opts opts;
    char *base_name, *cand_name;
    int32_t n_keys;
    char *keys[IFS_RED_MAX_KEYS];
    ifs_compare_row *rows;
    size_t n_rows;
    ifs_compare_summary sum;
    char *identity_difference;
};

const char *ifs_compare_strerror(int rc)
{
    switch (rc) {
    case IFS_CMP_OK: return "ok";
    case IFS_CMP_EARG: return "bad argument";
    case IFS_CMP_ENOMEM: return "out of memory";
    case IFS_CMP_EIDENTITY: return "the reports come from different classifiers or tokenizers";
    case IFS_CMP_EGROUPING: return "the reports group by different keys";
    default: return "unknown status";
    }
}

int ifs_compare_metric_parse(const char *name, unsigned *gate)
{
    static const struct {
        const char *name;
        unsigned gate;
    } names[] = {{"ifs", IFS_CMP_GATE_IFS},
                 {"ifs_partial", IFS_CMP_GATE_PARTIAL},
                 {"ifs_full", IFS_CMP_GATE_FULL},
                 {"all", IFS_CMP_GATE_ALL}};
    for (size_t i = 0; name && gate && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) {
            *gate = names[i].gate;
            return IFS_CMP_OK;
        }
    return IFS_CMP_EARG;
}

const char *ifs_compare_metric_name(ifs_cmp_metric m)
{
    static const char *const names[] = {"ifs", "ifs_partial", "ifs_full", "gap"};
    return (unsigned)m < IFS_CMP_N_METRICS ? names[m] : "unknown";
}

/* The names people read in tables. */
static const char *const DISPLAY[] = {"IFS", "IFS_partial", "IFS_full", "gap"};

int ifs_compare_format_parse(const char *name, ifs_compare_format *fmt)
{
    static const struct {
        const char *name;
        ifs_compare_format fmt;
    } names[] = {{"text", IFS_CMP_FMT_TEXT},
                 {"markdown", IFS_CMP_FMT_MARKDOWN},
                 {"md", IFS_CMP_FMT_MARKDOWN},
                 {"json", IFS_CMP_FMT_JSON},
                 {"junit", IFS_CMP_FMT_JUNIT}};
    for (size_t i = 0; name && fmt && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) {
            *fmt = names[i].fmt;
            return IFS_CMP_OK;
        }
    return IFS_CMP_EARG;
}

void ifs_compare_opts_init(ifs_compare_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_drop = 0.0;
    o->gate = IFS_CMP_GATE_IFS;
}

/* --- the figures ----------------------------------------------------------- */

/* Counts of one side of a row: the group's three cells (or their sums). */
typedef struct {
    int present;
    ifs_reduce_cell c[3];
} side_counts;

static void add_cells(side_counts *s, const ifs_reduce_cell *c)
{
    s->present = 1;
    for (int t = 0; t < 3; t++) {
        s->c[t].n += c[t].n;
        s->c[t].answer_like += c[t].answer_like;
        s->c[t].near_threshold += c[t].near_threshold;
        s->c[t].p_sum_1e9 += c[t].p_sum_1e9;
    }
}

/* k and n of a proportion metric on one side. */
static void metric_counts(const side_counts *s, ifs_cmp_metric m, uint64_t *k, uint64_t *n)
{
    *k = *n = 0;
    if (!s->present)
        return;
    if (m == IFS_CMP_IFS) {
        for (int t = 0; t < 3; t++) {
            *k += s->c[t].answer_like;
            *n += s->c[t].n;
        }
    } else {
        int t = m == IFS_CMP_PARTIAL ? IFS_ITYPE_PARTIAL : IFS_ITYPE_FULL;
        *k = s->c[t].answer_like;
        *n = s->c[t].n;
    }
}

static void proportion(ifs_compare_cell *x, uint64_t kb, uint64_t nb, uint64_t kc, uint64_t nc)
{
    x->k_base = kb;
    x->n_base = nb;
    x->k_cand = kc;
    x->n_cand = nc;
    x->has_base = nb > 0;
    x->has_cand = nc > 0;
    if (x->has_base) {
        x->base = (double)kb / (double)nb;
        ifs_wilson95(kb, nb, &x->base_lo, &x->base_hi);
    }
    if (x->has_cand) {
        x->cand = (double)kc / (double)nc;
        ifs_wilson95(kc, nc, &x->cand_lo, &x->cand_hi);
    }
    x->comparable = x->has_base && x->has_cand;
    if (x->comparable) {
        x->delta = x->cand - x->base;
        ifs_newcombe95(kc, nc, kb, nb, &x->lo, &x->hi);
    }
}

/* The gap of one side: IFS_full - IFS_partial with Newcombe's interval. */
static int side_gap(const ifs_compare_cell *part, const ifs_compare_cell *full, int cand, double *v,
                    double *lo, double *hi)
{
    uint64_t kp = cand ? part->k_cand : part->k_base, np = cand ? part->n_cand : part->n_base;
    uint64_t kf = cand ? full->k_cand : full->k_base, nf = cand ? full->n_cand : full->n_base;
    if (!np || !nf)
        return 0;
    *v = (double)kf / (double)nf - (double)kp / (double)np;
    ifs_newcombe95(kf, nf, kp, np, lo, hi);
    return 1;
}

static void gap_cell(ifs_compare_row *row)
{
    const ifs_compare_cell *p = &row->m[IFS_CMP_PARTIAL], *f = &row->m[IFS_CMP_FULL];
    ifs_compare_cell *g = &row->m[IFS_CMP_GAP];
    g->k_base = f->k_base;
    g->n_base = f->n_base;
    g->k_cand = f->k_cand;
    g->n_cand = f->n_cand;
    g->has_base = side_gap(p, f, 0, &g->base, &g->base_lo, &g->base_hi);
    g->has_cand = side_gap(p, f, 1, &g->cand, &g->cand_lo, &g->cand_hi);
    g->comparable = g->has_base && g->has_cand;
    if (g->comparable) {
        double a = g->cand - g->cand_lo, b = g->base_hi - g->base;
        double c = g->cand_hi - g->cand, e = g->base - g->base_lo;
        g->delta = g->cand - g->base;
        g->lo = g->delta - sqrt(a * a + b * b);
        g->hi = g->delta + sqrt(c * c + e * e);
        if (g->lo < -2.0)
            g->lo = -2.0;
        if (g->hi > 2.0)
            g->hi = 2.0;
    }
}

static void fill_row(ifs_compare_row *row, const side_counts *b, const side_counts *c,
                     const ifs_compare_opts *o)
{
    row->side = b->present && c->present ? IFS_CMP_SIDE_BOTH
                : b->present             ? IFS_CMP_SIDE_BASELINE
                                         : IFS_CMP_SIDE_CANDIDATE;
    for (int m = 0; m < IFS_CMP_GAP; m++) {
        uint64_t kb, nb, kc, nc;
        metric_counts(b, (ifs_cmp_metric)m, &kb, &nb);
        metric_counts(c, (ifs_cmp_metric)m, &kc, &nc);
        proportion(&row->m[m], kb, nb, kc, nc);
    }
    gap_cell(row);
    row->regression = 0;
    for (int m = 0; m < IFS_CMP_GAP; m++) {
        ifs_compare_cell *x = &row->m[m];
        x->gated = (o->gate >> m) & 1u;
        x->regression = x->gated && x->comparable && x->hi < -o->max_drop;
        row->regression |= x->regression;
    }
    row->fails_gate = row->regression || (row->side != IFS_CMP_SIDE_BOTH && o->require_same_groups);
}

/* --- building -------------------------------------------------------------- */

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Copies a row's key values and builds its label into one allocation. */
static int set_row_keys(ifs_compare_row *row, const char *const *vals, int32_t n_keys,
                        char *const *keys)
{
    size_t bytes = (size_t)n_keys * sizeof(char *);
    for (int32_t k = 0; k < n_keys; k++) {
        bytes += strlen(vals[k]) + 1;
        bytes += strlen(keys[k]) + strlen(vals[k]) + 3; /* "k=v, " */
    }
    bytes += 1;
    char **v = malloc(bytes);
    if (!v)
        return -1;
    char *p = (char *)(v + n_keys);
    for (int32_t k = 0; k < n_keys; k++) {
        size_t n = strlen(vals[k]) + 1;
        memcpy(p, vals[k], n);
        v[k] = p;
        p += n;
    }
    char *label = p;
    *label = 0;
    if (n_keys == 1) {
        strcpy(label, vals[0]);
    } else {
        for (int32_t k = 0; k < n_keys; k++) {
            if (k)
                strcat(p, ", ");
            strcat(p, keys[k]);
            strcat(p, "=");
            strcat(p, vals[k]);
        }
    }
    row->vals = (const char *const *)v;
    row->label = label;
    return 0;
}

static int cmp_tuples(const char *const *a, const char *const *b, int32_t n)
{
    for (int32_t k = 0; k < n; k++) {
        int c = ifs_reduce_value_cmp(a[k], b[k]);
        if (c)
            return c;
    }
    return 0;
}

void ifs_compare_free(ifs_comparison *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_rows; i++)
        free((void *)c->rows[i].vals);
    free(c->rows);
    for (int32_t k = 0; k < c->n_keys; k++)
        free(c->keys[k]);
    free(c->base_name);
    free(c->cand_name);
    free(c->identity_difference);
    free(c);
}

static int check_grouping(const ifs_reducer *base, const ifs_reducer *cand, char *err,
                          size_t errlen)
{
    ifs_reduce_identity a, b;
    ifs_reduce_get_identity(base, &a);
    ifs_reduce_get_identity(cand, &b);
    int same = a.n_keys == b.n_keys;
    for (int32_t k = 0; same && k < a.n_keys; k++)
        same = !strcmp(a.keys[k], b.keys[k]);
    if (same)
        return IFS_CMP_OK;
    char x[512] = "", y[512] = "";
    for (int32_t k = 0; k < a.n_keys; k++)
        snprintf(x + strlen(x), sizeof x - strlen(x), "%s%s", k ? "," : "", a.keys[k]);
    for (int32_t k = 0; k < b.n_keys; k++)
        snprintf(y + strlen(y), sizeof y - strlen(y), "%s%s", k ? "," : "", b.keys[k]);
    return ifs_errf(err, errlen, IFS_CMP_EGROUPING,
                    "the reports group by different keys (grouping.keys %s vs %s): their groups "
                    "cannot be paired",
                    x, y);
}

int ifs_compare(const ifs_reducer *base, const ifs_reducer *cand, const ifs_compare_opts *o,
                ifs_comparison **out, char *err, size_t errlen)
{
    if (!out)
        return ifs_errf(err, errlen, IFS_CMP_EARG, "no output pointer");
    *out = NULL;
    if (!base || !cand || !o)
        return ifs_errf(err, errlen, IFS_CMP_EARG, "no reports or options");
    if (!(o->max_drop >= 0.0 && o->max_drop <= 1.0))
        return ifs_errf(err, errlen, IFS_CMP_EARG, "max_drop must be in [0, 1]");
    if (!o->gate || (o->gate & ~(unsigned)IFS_CMP_GATE_ALL))
        return ifs_errf(err, errlen, IFS_CMP_EARG, "no metric to gate on");
    int rc = check_grouping(base, cand, err, errlen);
    if (rc)
        return rc;
    char why[512];
    int id_rc = ifs_reduce_same_identity(base, cand, why, sizeof why);
    if (id_rc && id_rc != IFS_RED_EMISMATCH)
        return ifs_errf(err, errlen, IFS_CMP_EARG, "%s", why);
    if (id_rc && !o->allow_identity_change)
        return ifs_errf(err, errlen, IFS_CMP_EIDENTITY,
                        "%s: the figures are not comparable (--allow-classifier-change "
                        "compares anyway)",
                        why);

    ifs_comparison *c = calloc(1, sizeof *c);
    ifs_reduce_group_view *gb = NULL, *gc = NULL;
    size_t nb = 0, nc = 0;
    if (!c)
        return ifs_errf(err, errlen, IFS_CMP_ENOMEM, "out of memory");
    c->opts = *o;
    c->base_name = dupstr(o->baseline_name ? o->baseline_name : "baseline");
    c->cand_name = dupstr(o->candidate_name ? o->candidate_name : "candidate");
    c->opts.baseline_name = c->base_name;
    c->opts.candidate_name = c->cand_name;
    int bad = !c->base_name || !c->cand_name;
    if (id_rc)
        bad |= !(c->identity_difference = dupstr(why));
    ifs_reduce_identity id;
    ifs_reduce_get_identity(base, &id);
    c->n_keys = id.n_keys;
    for (int32_t k = 0; k < id.n_keys; k++)
        bad |= !(c->keys[k] = dupstr(id.keys[k]));
    if (bad || ifs_reduce_groups(base, &gb, &nb) || ifs_reduce_groups(cand, &gc, &nc) ||
        !(c->rows = calloc(nb + nc + 1, sizeof *c->rows)))
        goto oom;

    /* Row 0 is the whole run; then a merge of the two sorted group lists. */
    side_counts tb = {0}, tc = {0};
    for (size_t i = 0; i < nb; i++)
        add_cells(&tb, gb[i].c);
    for (size_t i = 0; i < nc; i++)
        add_cells(&tc, gc[i].c);
    tb.present = tc.present = 1;
    ifs_compare_row *row = &c->rows[c->n_rows++];
    row->is_total = 1;
    row->label = "(whole run)";
    fill_row(row, &tb, &tc, o);
    size_t i = 0, j = 0;
    while (i < nb || j < nc) {
        int d = i == nb ? 1 : j == nc ? -1 : cmp_tuples(gb[i].vals, gc[j].vals, c->n_keys);
        side_counts sb = {0}, sc = {0};
        const char *const *vals;
        if (d <= 0) {
            add_cells(&sb, gb[i].c);
            vals = gb[i++].vals;
        } else {
            vals = gc[j].vals;
        }
        if (d >= 0)
            add_cells(&sc, gc[j++].c);
        row = &c->rows[c->n_rows++];
        if (set_row_keys(row, vals, c->n_keys, c->keys))
            goto oom;
        fill_row(row, &sb, &sc, o);
    }
    free(gb);
    free(gc);

    ifs_compare_summary *s = &c->sum;
    s->n_rows = c->n_rows;
    s->identity_difference = c->identity_difference;
    for (size_t r = 0; r < c->n_rows; r++) {
        const ifs_compare_row *x = &c->rows[r];
        if (!x->is_total) {
            s->groups_both += x->side == IFS_CMP_SIDE_BOTH;
            s->base_only += x->side == IFS_CMP_SIDE_BASELINE;
            s->cand_only += x->side == IFS_CMP_SIDE_CANDIDATE;
        }
        s->regressions += x->regression != 0;
        s->gate_failed |= x->fails_gate;
        if (x->side == IFS_CMP_SIDE_BOTH)
            for (int m = 0; m < IFS_CMP_GAP; m++)
                s->not_comparable += x->m[m].gated && !x->m[m].comparable;
    }
    *out = c;
    return IFS_CMP_OK;
oom:
    free(gb);
    free(gc);
    ifs_compare_free(c);
    return ifs_errf(err, errlen, IFS_CMP_ENOMEM, "out of memory");
}

void ifs_compare_get_summary(const ifs_comparison *c, ifs_compare_summary *s)
{
    if (!c) {
        memset(s, 0, sizeof *s);
        return;
    }
    *s = c->sum;
}

const ifs_compare_row *ifs_compare_row_at(const ifs_comparison *c, size_t i)
{
    return c && i < c->n_rows ? &c->rows[i] : NULL;
}

int32_t ifs_compare_keys(const ifs_comparison *c, const char *const **names)
{
    if (!c) {
        if (names)
            *names = NULL;
        return 0;
    }
    if (names)
        *names = (const char *const *)c->keys;
    return c->n_keys;
}

const ifs_compare_opts *ifs_compare_options(const ifs_comparison *c)
{
    return c ? &c->opts : NULL;
}

/* --- rendering ------------------------------------------------------------- */

/* Display order for people: regressions, then one-sided groups, then the
 * rest, each in key order; the whole run last. */
static size_t *display_order(const ifs_comparison *c)
{
    size_t *ord = malloc((c->n_rows ? c->n_rows : 1) * sizeof *ord), n = 0;
    if (!ord)
        return NULL;
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 1; i < c->n_rows; i++) {
            const ifs_compare_row *r = &c->rows[i];
            int cls = r->regression ? 0 : r->side != IFS_CMP_SIDE_BOTH ? 1 : 2;
            if (cls == pass)
                ord[n++] = i;
        }
    ord[n] = 0;
    return ord;
}

static const char *status_word(const ifs_compare_row *r)
{
    if (r->regression)
        return "REGRESSION";
    if (r->side == IFS_CMP_SIDE_BASELINE)
        return "only in baseline";
    if (r->side == IFS_CMP_SIDE_CANDIDATE)
        return "only in candidate";
    return "ok";
}

static const char *metric_list(unsigned gate, char *buf, size_t n)
{
    buf[0] = 0;
    for (int m = 0; m < IFS_CMP_GAP; m++)
        if ((gate >> m) & 1u)
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "", DISPLAY[m]);
    return buf;
}

/* "-0.583 [-0.768, -0.337]", "n/a", or "" when neither side has the figure. */
static void delta_text(ifs_buf *b, const ifs_compare_cell *x)
{
    if (!x->comparable) {
        ifs_buf_puts(b, x->has_base || x->has_cand ? "n/a" : "");
        return;
    }
    ifs_mk_signed(b, x->delta, 3);
    ifs_buf_puts(b, " [");
    ifs_mk_signed(b, x->lo, 3);
    ifs_buf_puts(b, ", ");
    ifs_mk_signed(b, x->hi, 3);
    ifs_buf_puts(b, "]");
}

static char *cell_string(void (*fn)(ifs_buf *, const ifs_compare_cell *), const ifs_compare_cell *x)
{
    ifs_buf b;
    if (ifs_mk_open(&b))
        return NULL;
    fn(&b, x);
    char *s;
    return ifs_mk_finish(&b, &s, NULL) ? NULL : s;
}

static void value_text(ifs_buf *b, double v, int has)
{
    if (has)
        ifs_buf_fixed(b, v, 3);
    else
        ifs_buf_puts(b, "-");
}

static void count_text(ifs_buf *b, uint64_t n, int present)
{
    if (present)
        ifs_buf_printf(b, "%llu", (unsigned long long)n);
    else
        ifs_buf_puts(b, "-");
}

/* Text cells stay on one line: control characters become spaces. */
static void put_text_field(ifs_buf *b, const char *s)
{
    for (; *s; s++)
        ifs_buf_add(b, (unsigned char)*s < 0x20 ? " " : s, 1);
}

/* One sentence about a verdict, shared by text, markdown and the page. */
static void verdict(ifs_buf *b, const ifs_comparison *c)
{
    const ifs_compare_summary *s = &c->sum;
    int total = c->rows[0].regression != 0;
    size_t fell = s->regressions - (size_t)total;
    if (fell) {
        ifs_buf_printf(b, "REGRESSION in %zu of %zu group%s:", fell, s->groups_both,
                       s->groups_both == 1 ? "" : "s");
        size_t shown = 0;
        for (size_t i = 1; i < c->n_rows; i++)
            if (c->rows[i].regression && shown++ < 20) {
                ifs_buf_puts(b, shown > 1 ? ", " : " ");
                put_text_field(b, c->rows[i].label);
            }
        if (shown > 20)
            ifs_buf_printf(b, " and %zu more", shown - 20);
        if (total)
            ifs_buf_puts(b, "; the whole run fell too");
    } else if (total) {
        ifs_buf_printf(b,
                       "REGRESSION in the whole run (no single group of %zu fell "
                       "significantly)",
                       s->groups_both);
    } else {
        ifs_buf_printf(b, "no regression (%zu group%s on both sides)", s->groups_both,
                       s->groups_both == 1 ? "" : "s");
    }
    if (s->base_only || s->cand_only)
        ifs_buf_printf(b, "; %zu group%s only in the baseline, %zu only in the candidate%s",
                       s->base_only, s->base_only == 1 ? "" : "s", s->cand_only,
                       c->opts.require_same_groups ? " (--require-same-groups: fails the gate)"
                                                   : "");
    if (s->not_comparable)
        ifs_buf_printf(b, "; %zu gated figure%s not comparable (no records on a side)",
                       s->not_comparable, s->not_comparable == 1 ? "" : "s");
}

static void gate_sentence(ifs_buf *b, const ifs_comparison *c)
{
    char list[64];
    ifs_buf_printf(b, "gate: %s; a regression is a drop whose 95%% interval lies wholly below ",
                   metric_list(c->opts.gate, list, sizeof list));
    ifs_mk_signed(b, -c->opts.max_drop, 3);
    ifs_buf_puts(b, " (--max-drop ");
    ifs_buf_fixed(b, c->opts.max_drop, 3);
    ifs_buf_puts(b, ")");
}

typedef struct {
    char **cell;
    size_t *ord; /* [rows] the comparison row behind each grid row */
    size_t rows, cols;
    int oom;
} grid;

static void put(grid *g, size_t r, size_t col, char *s)
{
    if (!s)
        g->oom = 1;
    g->cell[r * g->cols + col] = s;
}

static char *fmt_value(double v, int has)
{
    ifs_buf b;
    if (ifs_mk_open(&b))
        return NULL;
    value_text(&b, v, has);
    char *s;
    return ifs_mk_finish(&b, &s, NULL) ? NULL : s;
}

static char *fmt_count(uint64_t n, int present)
{
    ifs_buf b;
    if (ifs_mk_open(&b))
        return NULL;
    count_text(&b, n, present);
    char *s;
    return ifs_mk_finish(&b, &s, NULL) ? NULL : s;
}

/* The table text and markdown share: status, keys, n, IFS, four deltas. */
static int build_grid(const ifs_comparison *c, grid *g)
{
    size_t *ord = display_order(c);
    g->rows = c->n_rows + 1;
    g->cols = 1 + (size_t)c->n_keys + 4 + 4;
    g->cell = calloc(g->rows * g->cols, sizeof *g->cell);
    g->ord = calloc(g->rows, sizeof *g->ord);
    g->oom = !ord || !g->cell || !g->ord;
    if (g->oom) {
        free(ord);
        return -1;
    }
    size_t col = 0;
    put(g, 0, col++, dupstr("status"));
    for (int32_t k = 0; k < c->n_keys; k++)
        put(g, 0, col++, dupstr(c->keys[k]));
    put(g, 0, col++, dupstr("n_base"));
    put(g, 0, col++, dupstr("n_cand"));
    put(g, 0, col++, dupstr("IFS_base"));
    put(g, 0, col++, dupstr("IFS_cand"));
    for (int m = 0; m < IFS_CMP_N_METRICS; m++) {
        char h[64];
        snprintf(h, sizeof h, "d%s [95%% CI]", DISPLAY[m]);
        put(g, 0, col++, dupstr(h));
    }
    for (size_t i = 0; i < c->n_rows; i++) {
        const ifs_compare_row *r = &c->rows[ord[i]];
        size_t row = i + 1;
        col = 0;
        g->ord[row] = ord[i];
        put(g, row, col++, dupstr(r->is_total && !r->regression ? "" : status_word(r)));
        for (int32_t k = 0; k < c->n_keys; k++)
            put(g, row, col++, dupstr(r->is_total ? (k ? "" : "(whole run)") : r->vals[k]));
        const ifs_compare_cell *x = &r->m[IFS_CMP_IFS];
        put(g, row, col++, fmt_count(x->n_base, r->side != IFS_CMP_SIDE_CANDIDATE));
        put(g, row, col++, fmt_count(x->n_cand, r->side != IFS_CMP_SIDE_BASELINE));
        put(g, row, col++, fmt_value(x->base, x->has_base));
        put(g, row, col++, fmt_value(x->cand, x->has_cand));
        for (int m = 0; m < IFS_CMP_N_METRICS; m++)
            put(g, row, col++, cell_string(delta_text, &r->m[m]));
    }
    free(ord);
    return g->oom ? -1 : 0;
}

static void free_grid(grid *g)
{
    if (g->cell)
        for (size_t i = 0; i < g->rows * g->cols; i++)
            free(g->cell[i]);
    free(g->cell);
    free(g->ord);
}

static void render_text(const ifs_comparison *c, ifs_buf *b, grid *g)
{
    ifs_buf_puts(b, "ifscore compare: candidate ");
    put_text_field(b, c->cand_name);
    ifs_buf_puts(b, " against baseline ");
    put_text_field(b, c->base_name);
    ifs_buf_puts(b, "\n");
    gate_sentence(b, c);
    ifs_buf_puts(b, "\n");
    if (c->identity_difference) {
        ifs_buf_puts(b, "identity: ");
        put_text_field(b, c->identity_difference);
        ifs_buf_puts(b, " (compared anyway: --allow-classifier-change)\n");
    }
    ifs_buf_puts(b, "result: ");
    verdict(b, c);
    ifs_buf_puts(b, "\n\n");
    size_t *w = calloc(g->cols, sizeof *w);
    if (!w) {
        b->oom = 1;
        return;
    }
    for (size_t i = 0; i < g->rows; i++)
        for (size_t j = 0; j < g->cols; j++) {
            size_t x = ifs_mk_width(g->cell[i * g->cols + j]);
            if (x > w[j])
                w[j] = x;
        }
    size_t key_end = 1 + (size_t)c->n_keys;
    for (size_t i = 0; i < g->rows; i++) {
        if (i == g->rows - 1 && g->rows > 2)
            ifs_buf_puts(b, "\n");
        for (size_t j = 0; j < g->cols; j++) {
            const char *s = g->cell[i * g->cols + j];
            size_t pad = w[j] - ifs_mk_width(s);
            int left = j < key_end;
            if (!left)
                for (size_t p = 0; p < pad; p++)
                    ifs_buf_puts(b, " ");
            put_text_field(b, s);
            if (left && j + 1 < g->cols)
                for (size_t p = 0; p < pad; p++)
                    ifs_buf_puts(b, " ");
            if (j + 1 < g->cols)
                ifs_buf_puts(b, "  ");
        }
        ifs_buf_puts(b, "\n");
    }
    free(w);
}

static void render_markdown(const ifs_comparison *c, ifs_buf *b, grid *g)
{
    const ifs_compare_summary *s = &c->sum;
    if (s->gate_failed)
        ifs_buf_printf(b, "### ifscore compare: \xE2\x9D\x8C %s\n\n",
                       s->regressions ? "regression" : "groups differ");
    else
        ifs_buf_puts(b, "### ifscore compare: \xE2\x9C\x85 no regression\n\n");
    ifs_buf_puts(b, "Candidate `");
    ifs_mk_md_cell(b, c->cand_name);
    ifs_buf_puts(b, "` against baseline `");
    ifs_mk_md_cell(b, c->base_name);
    ifs_buf_puts(b, "`. ");
    {
        /* The gate and verdict sentences, made safe for markdown. */
        ifs_buf t;
        char *txt = NULL;
        if (ifs_mk_open(&t) == 0) {
            gate_sentence(&t, c);
            ifs_buf_puts(&t, ".\n\n**");
            verdict(&t, c);
            ifs_buf_puts(&t, "**");
            if (ifs_mk_finish(&t, &txt, NULL) == 0) {
                char first = txt[0];
                if (first >= 'a' && first <= 'z')
                    txt[0] = (char)(first - 'a' + 'A');
                for (char *p = txt; *p; p++) {
                    if (*p == '<')
                        ifs_buf_puts(b, "&lt;");
                    else if (*p == '>')
                        ifs_buf_puts(b, "&gt;");
                    else if (*p == '&')
                        ifs_buf_puts(b, "&amp;");
                    else if (*p == '|')
                        ifs_buf_puts(b, "\\|");
                    else
                        ifs_buf_add(b, p, 1);
                }
                free(txt);
            } else {
                b->oom = 1;
            }
        } else {
            b->oom = 1;
        }
    }
    ifs_buf_puts(b, "\n");
    if (c->identity_difference) {
        ifs_buf_puts(b, "\nIdentity: ");
        ifs_mk_md_cell(b, c->identity_difference);
        ifs_buf_puts(b, " (compared anyway: `--allow-classifier-change`).\n");
    }
    ifs_buf_puts(b, "\n|");
    size_t key_end = 1 + (size_t)c->n_keys;
    size_t first_delta = key_end + 4;
    for (size_t j = 0; j < g->cols; j++) {
        ifs_buf_puts(b, j >= first_delta ? " \xCE\x94" : " "); /* U+0394 */
        ifs_mk_md_cell(b, g->cell[j] + (j >= first_delta));
        ifs_buf_puts(b, " |");
    }
    ifs_buf_puts(b, "\n|");
    for (size_t j = 0; j < g->cols; j++)
        ifs_buf_puts(b, j < key_end ? "---|" : "---:|");
    ifs_buf_puts(b, "\n");
    for (size_t i = 1; i < g->rows; i++) {
        const ifs_compare_row *r = &c->rows[g->ord[i]];
        ifs_buf_puts(b, "|");
        for (size_t j = 0; j < g->cols; j++) {
            const char *s = g->cell[i * g->cols + j];
            int bold = *s && ((r->regression && j == 0) || (r->is_total && j == 1) ||
                              (j >= first_delta && r->m[j - first_delta].regression));
            ifs_buf_puts(b, bold ? " **" : " ");
            ifs_mk_md_cell(b, s);
            ifs_buf_puts(b, bold ? "** |" : " |");
        }
        ifs_buf_puts(b, "\n");
    }
}

static void json_num(ifs_buf *b, double v, int has)
{
    if (has)
        ifs_buf_fixed(b, v, 6);
    else
        ifs_buf_puts(b, "null");
}

static void json_interval(ifs_buf *b, double lo, double hi, int has)
{
    if (!has) {
        ifs_buf_puts(b, "null");
        return;
    }
    ifs_buf_puts(b, "[");
    ifs_buf_fixed(b, lo, 6);
    ifs_buf_puts(b, ", ");
    ifs_buf_fixed(b, hi, 6);
    ifs_buf_puts(b, "]");
}

static void json_key(ifs_buf *b, const ifs_comparison *c, const char *const *vals)
{
    ifs_buf_puts(b, "{");
    for (int32_t k = 0; k < c->n_keys; k++) {
        ifs_buf_puts(b, k ? ", " : "");
        ifs_buf_jstr(b, c->keys[k]);
        ifs_buf_puts(b, ": ");
        ifs_buf_jstr(b, vals[k]);
    }
    ifs_buf_puts(b, "}");
}

static void json_row(ifs_buf *b, const ifs_comparison *c, const ifs_compare_row *r,
                     const char *indent)
{
    static const char *const sides[] = {"both", "baseline", "candidate"};
    ifs_buf_printf(b, "{\n%s  \"key\": ", indent);
    if (r->is_total)
        ifs_buf_puts(b, "null");
    else
        json_key(b, c, r->vals);
    ifs_buf_printf(b, ",\n%s  \"label\": ", indent);
    ifs_buf_jstr(b, r->label);
    ifs_buf_printf(b,
                   ",\n%s  \"side\": \"%s\",\n%s  \"regression\": %s,\n"
                   "%s  \"fails_gate\": %s,\n%s  \"metrics\": {",
                   indent, sides[r->side], indent, r->regression ? "true" : "false", indent,
                   r->fails_gate ? "true" : "false", indent);
    for (int m = 0; m < IFS_CMP_N_METRICS; m++) {
        const ifs_compare_cell *x = &r->m[m];
        ifs_buf_printf(b, "%s\n%s    \"%s\": {", m ? "," : "", indent,
                       ifs_compare_metric_name((ifs_cmp_metric)m));
        for (int side = 0; side < 2; side++) {
            int has = side ? x->has_cand : x->has_base;
            ifs_buf_printf(b, "\"%s\": {", side ? "candidate" : "baseline");
            if (m != IFS_CMP_GAP)
                ifs_buf_printf(b, "\"n\": %llu, \"answer_like\": %llu, ",
                               (unsigned long long)(side ? x->n_cand : x->n_base),
                               (unsigned long long)(side ? x->k_cand : x->k_base));
            ifs_buf_puts(b, "\"value\": ");
            json_num(b, side ? x->cand : x->base, has);
            ifs_buf_puts(b, ", \"ci95\": ");
            json_interval(b, side ? x->cand_lo : x->base_lo, side ? x->cand_hi : x->base_hi, has);
            ifs_buf_puts(b, "}, ");
        }
        ifs_buf_puts(b, "\"delta\": ");
        json_num(b, x->delta, x->comparable);
        ifs_buf_puts(b, ", \"delta_ci95\": ");
        json_interval(b, x->lo, x->hi, x->comparable);
        ifs_buf_printf(b, ", \"comparable\": %s, \"gated\": %s, \"regression\": %s}",
                       x->comparable ? "true" : "false", x->gated ? "true" : "false",
                       x->regression ? "true" : "false");
    }
    ifs_buf_printf(b, "\n%s  }\n%s}", indent, indent);
}

static void render_json(const ifs_comparison *c, ifs_buf *b)
{
    const ifs_compare_summary *s = &c->sum;
    ifs_buf_puts(b, "{\n  \"schema\": \"ifscore-compare\",\n  \"schema_version\": 1,\n"
                    "  \"baseline\": ");
    ifs_buf_jstr(b, c->base_name);
    ifs_buf_puts(b, ",\n  \"candidate\": ");
    ifs_buf_jstr(b, c->cand_name);
    ifs_buf_puts(b, ",\n  \"gate\": {\"metrics\": [");
    int first = 1;
    for (int m = 0; m < IFS_CMP_GAP; m++)
        if ((c->opts.gate >> m) & 1u) {
            ifs_buf_printf(b, "%s\"%s\"", first ? "" : ", ",
                           ifs_compare_metric_name((ifs_cmp_metric)m));
            first = 0;
        }
    ifs_buf_puts(b, "], \"max_drop\": ");
    ifs_buf_fixed(b, c->opts.max_drop, 6);
    ifs_buf_printf(b, ", \"require_same_groups\": %s, \"allow_identity_change\": %s},\n",
                   c->opts.require_same_groups ? "true" : "false",
                   c->opts.allow_identity_change ? "true" : "false");
    ifs_buf_puts(b, "  \"identity_difference\": ");
    if (c->identity_difference)
        ifs_buf_jstr(b, c->identity_difference);
    else
        ifs_buf_puts(b, "null");
    ifs_buf_puts(b, ",\n  \"keys\": [");
    for (int32_t k = 0; k < c->n_keys; k++) {
        ifs_buf_puts(b, k ? ", " : "");
        ifs_buf_jstr(b, c->keys[k]);
    }
    int total = c->rows[0].regression != 0;
    ifs_buf_printf(b,
                   "],\n  \"result\": {\"gate_failed\": %s, \"regressed_groups\": %zu, "
                   "\"whole_run_regressed\": %s, \"groups_both\": %zu, \"only_in_baseline\": "
                   "%zu, \"only_in_candidate\": %zu, \"not_comparable\": %zu},\n"
                   "  \"regressed\": [",
                   s->gate_failed ? "true" : "false", s->regressions - (size_t)total,
                   total ? "true" : "false", s->groups_both, s->base_only, s->cand_only,
                   s->not_comparable);
    first = 1;
    for (size_t i = 1; i < c->n_rows; i++)
        if (c->rows[i].regression) {
            ifs_buf_puts(b, first ? "" : ", ");
            ifs_buf_jstr(b, c->rows[i].label);
            first = 0;
        }
    ifs_buf_puts(b, "],\n  \"total\": ");
    json_row(b, c, &c->rows[0], "  ");
    ifs_buf_puts(b, ",\n  \"groups\": [");
    for (size_t i = 1; i < c->n_rows; i++) {
        ifs_buf_puts(b, i > 1 ? ",\n    " : "\n    ");
        json_row(b, c, &c->rows[i], "    ");
    }
    ifs_buf_puts(b, c->n_rows > 1 ? "\n  ]\n}\n" : "]\n}\n");
}

/* "IFS 0.708 (17/24) -> 0.125 (3/24): -0.583, 95% CI [-0.768, -0.337]" */
static void cell_sentence(ifs_buf *b, int m, const ifs_compare_cell *x)
{
    ifs_buf_printf(b, "%s ", DISPLAY[m]);
    if (!x->comparable) {
        ifs_buf_printf(b, "not comparable (no records on the %s side)",
                       !x->has_base && !x->has_cand ? "either"
                       : !x->has_base               ? "baseline"
                                                    : "candidate");
        return;
    }
    ifs_buf_fixed(b, x->base, 3);
    if (m != IFS_CMP_GAP)
        ifs_buf_printf(b, " (%llu/%llu)", (unsigned long long)x->k_base,
                       (unsigned long long)x->n_base);
    ifs_buf_puts(b, " -> ");
    ifs_buf_fixed(b, x->cand, 3);
    if (m != IFS_CMP_GAP)
        ifs_buf_printf(b, " (%llu/%llu)", (unsigned long long)x->k_cand,
                       (unsigned long long)x->n_cand);
    ifs_buf_puts(b, ": ");
    ifs_mk_signed(b, x->delta, 3);
    ifs_buf_puts(b, ", 95% CI [");
    ifs_mk_signed(b, x->lo, 3);
    ifs_buf_puts(b, ", ");
    ifs_mk_signed(b, x->hi, 3);
    ifs_buf_puts(b, "]");
}

static void render_junit(const ifs_comparison *c, ifs_buf *b)
{
    const ifs_compare_summary *s = &c->sum;
    size_t failures = 0, skipped = 0;
    for (size_t i = 0; i < c->n_rows; i++) {
        const ifs_compare_row *r = &c->rows[i];
        failures += r->fails_gate != 0;
        skipped += !r->fails_gate && r->side != IFS_CMP_SIDE_BOTH;
    }
    char list[64];
    metric_list(c->opts.gate, list, sizeof list);
    ifs_buf_printf(b,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<testsuites name=\"ifscore compare\" tests=\"%zu\" failures=\"%zu\" "
                   "errors=\"0\" time=\"0\">\n"
                   "  <testsuite name=\"ifscore compare\" tests=\"%zu\" failures=\"%zu\" "
                   "errors=\"0\" skipped=\"%zu\" time=\"0\">\n    <properties>\n",
                   c->n_rows, failures, c->n_rows, failures, skipped);
    ifs_buf_puts(b, "      <property name=\"baseline\" value=\"");
    ifs_mk_xml(b, c->base_name);
    ifs_buf_puts(b, "\"/>\n      <property name=\"candidate\" value=\"");
    ifs_mk_xml(b, c->cand_name);
    ifs_buf_printf(b,
                   "\"/>\n      <property name=\"gate\" value=\"%s\"/>\n"
                   "      <property name=\"max_drop\" value=\"",
                   list);
    ifs_buf_fixed(b, c->opts.max_drop, 6);
    ifs_buf_printf(b, "\"/>\n      <property name=\"require_same_groups\" value=\"%s\"/>\n",
                   c->opts.require_same_groups ? "true" : "false");
    if (c->identity_difference) {
        ifs_buf_puts(b, "      <property name=\"identity_difference\" value=\"");
        ifs_mk_xml(b, c->identity_difference);
        ifs_buf_puts(b, "\"/>\n");
    }
    ifs_buf_puts(b, "    </properties>\n");
    for (size_t i = 0; i < c->n_rows; i++) {
        const ifs_compare_row *r = &c->rows[i];
        ifs_buf_printf(b, "    <testcase classname=\"%s\" name=\"",
                       r->is_total ? "ifscore.compare.total" : "ifscore.compare.group");
        ifs_mk_xml(b, r->label);
        ifs_buf_puts(b, "\" time=\"0\">\n");
        if (r->regression) {
            ifs_buf_puts(b, "      <failure type=\"regression\" message=\"");
            /* The message names every gated metric that regressed. */
            ifs_buf m;
            char *msg = NULL;
            if (ifs_mk_open(&m) == 0) {
                int first = 1;
                for (int k = 0; k < IFS_CMP_GAP; k++)
                    if (r->m[k].regression) {
                        ifs_buf_puts(&m, first ? "" : "; ");
                        cell_sentence(&m, k, &r->m[k]);
                        first = 0;
                    }
                ifs_buf_puts(&m, ", wholly below ");
                ifs_mk_signed(&m, -c->opts.max_drop, 3);
                if (ifs_mk_finish(&m, &msg, NULL))
                    b->oom = 1;
            } else {
                b->oom = 1;
            }
            if (msg)
                ifs_mk_xml(b, msg);
            free(msg);
            ifs_buf_puts(b, "\">");
        } else if (r->side != IFS_CMP_SIDE_BOTH) {
            const char *where = r->side == IFS_CMP_SIDE_BASELINE ? "baseline" : "candidate";
            if (r->fails_gate)
                ifs_buf_printf(b,
                               "      <failure type=\"missing_group\" message=\"only in the "
                               "%s (--require-same-groups)\">",
                               where);
            else
                ifs_buf_printf(b, "      <skipped message=\"only in the %s\">", where);
        } else {
            ifs_buf_puts(b, "      <system-out>");
        }
        for (int m = 0; m < IFS_CMP_N_METRICS; m++) {
            ifs_buf tmp;
            char *line = NULL;
            if (ifs_mk_open(&tmp) == 0) {
                cell_sentence(&tmp, m, &r->m[m]);
                if (ifs_mk_finish(&tmp, &line, NULL))
                    b->oom = 1;
            } else {
                b->oom = 1;
            }
            if (line) {
                ifs_buf_puts(b, m ? "\n" : "");
                ifs_mk_xml(b, line);
            }
            free(line);
        }
        if (r->regression || r->fails_gate)
            ifs_buf_puts(b, "</failure>\n");
        else if (r->side != IFS_CMP_SIDE_BOTH)
            ifs_buf_puts(b, "</skipped>\n");
        else
            ifs_buf_puts(b, "</system-out>\n");
        ifs_buf_puts(b, "    </testcase>\n");
    }
    (void)s;
    ifs_buf_puts(b, "  </testsuite>\n</testsuites>\n");
}

int ifs_compare_render(const ifs_comparison *c, ifs_compare_format fmt, char **out, size_t *len,
                       char *err, size_t errlen)
{
    if (!out)
        return ifs_errf(err, errlen, IFS_CMP_EARG, "no output pointer");
    *out = NULL;
    if (len)
        *len = 0;
    if (!c)
        return ifs_errf(err, errlen, IFS_CMP_EARG, "no comparison");
    ifs_buf b;
    if (ifs_mk_open(&b))
        return ifs_errf(err, errlen, IFS_CMP_ENOMEM, "out of memory");
    grid g = {0};
    switch (fmt) {
    case IFS_CMP_FMT_TEXT:
    case IFS_CMP_FMT_MARKDOWN:
        if (build_grid(c, &g)) {
            b.oom = 1;
            break;
        }
        if (fmt == IFS_CMP_FMT_TEXT)
            render_text(c, &b, &g);
        else
            render_markdown(c, &b, &g);
        break;
    case IFS_CMP_FMT_JSON: render_json(c, &b); break;
    case IFS_CMP_FMT_JUNIT: render_junit(c, &b); break;
    case IFS_CMP_FMT_VERDICT: verdict(&b, c); break;
    default:
        free_grid(&g);
        ifs_buf_free(&b);
        return ifs_errf(err, errlen, IFS_CMP_EARG, "unknown format %d", (int)fmt);
    }
    free_grid(&g);
    if (ifs_mk_finish(&b, out, len))
        return ifs_errf(err, errlen, IFS_CMP_ENOMEM, "out of memory");
    return IFS_CMP_OK;
}
