/*
 * report_table.c - the report as a table for people (text, markdown) or for
 * spreadsheets (csv), and the report JSON itself (json).
 *
 * Decisions:
 *   - Rows are the groups in the report's order (sorted keys), so the table
 *     is as byte-stable as the JSON. Text and markdown show 3 decimals, CSV
 *     6 and every count and bound, empty where a ratio is undefined.
 *   - Text columns are padded by code points, not bytes, so UTF-8 model
 *     names line up in a terminal (wide CJK glyphs excepted).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_report.h"
#include "report_impl.h"

typedef struct {
    char **cell; /* rows * cols strings */
    size_t rows, cols;
    int oom;
} table;

static void set(table *t, size_t row, size_t col, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) {
        t->oom = 1;
        return;
    }
    memcpy(d, s, n);
    t->cell[row * t->cols + col] = d;
}

static void setf(table *t, size_t row, size_t col, const ifs_red_ratio *q, int part, int decimals)
{
    if (!q->ok) {
        set(t, row, col, "");
        return;
    }
    ifs_buf b;
    ifs_buf_init(&b);
    ifs_buf_fixed(&b, part == 0 ? q->v : part == 1 ? q->lo : q->hi, decimals);
    set(t, row, col, b.oom ? "" : b.p);
    t->oom |= b.oom;
    free(b.p);
}

static void setu(table *t, size_t row, size_t col, uint64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    set(t, row, col, tmp);
}

static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void put_pad(ifs_buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ifs_buf_add(b, " ", 1);
}

static void put_csv_field(ifs_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        ifs_buf_puts(b, s);
        return;
    }
    ifs_buf_add(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            ifs_buf_add(b, "\"", 1);
        ifs_buf_add(b, s, 1);
    }
    ifs_buf_add(b, "\"", 1);
}

static void put_md_field(ifs_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            ifs_buf_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r')
            ifs_buf_puts(b, " ");
        else
            ifs_buf_add(b, s, 1);
    }
}

/* Text cells must stay on one line: control characters become spaces. */
static void put_text_field(ifs_buf *b, const char *s)
{
    for (; *s; s++)
        ifs_buf_add(b, (unsigned char)*s < 0x20 ? " " : s, 1);
}

static void footer(ifs_buf *b, const ifs_reducer *r, const ifs_red_curves *cv, int md)
{
    ifs_reduce_totals t;
    ifs_reduce_get_totals(r, &t);
    ifs_buf_printf(b, "\nread %llu lines from %llu inputs: %llu scored, %llu rejected",
                   (unsigned long long)t.read, (unsigned long long)t.n_inputs,
                   (unsigned long long)t.scored, (unsigned long long)t.rejected);
    /* Reject totals per reason, sorted by name. */
    const char *prev = NULL;
    for (int first = 1;; first = 0) {
        const char *best = NULL;
        uint64_t count = 0;
        for (size_t i = 0; i < r->n_inputs; i++)
            for (size_t k = 0; k < r->inputs[i].n_reasons; k++) {
                const char *nm = r->inputs[i].reasons[k].name;
                if ((!prev || strcmp(nm, prev) > 0) && (!best || strcmp(nm, best) <= 0)) {
                    if (!best || strcmp(nm, best))
                        count = 0;
                    best = nm;
                    count += r->inputs[i].reasons[k].count;
                }
            }
        if (!best)
            break;
        ifs_buf_printf(b, "%s%s %llu", first ? " (" : ", ", best, (unsigned long long)count);
        prev = best;
    }
    if (prev)
        ifs_buf_puts(b, ")");
    ifs_buf_printf(b, "%s\nnear threshold (|p - %.3f| < %.3f): %llu of %llu scored%s\n",
                   md ? "  " : "", r->threshold, r->margin, (unsigned long long)t.near_threshold,
                   (unsigned long long)t.scored, md ? "  " : "");
    if (cv->key < 0)
        return;
    ifs_buf_puts(b, "\nplateau over ");
    if (md)
        put_md_field(b, r->keys[cv->key]);
    else
        put_text_field(b, r->keys[cv->key]);
    ifs_buf_printf(b,
                   " (first checkpoint after which IFS stays within %.3f for >= %d later "
                   "checkpoints):\n",
                   (double)r->eps_u / IFS_RED_MICRO, (int)r->min_after);
    for (size_t i = 0; i < cv->n_series; i++) {
        const ifs_red_series *s = &cv->series[i];
        const ifs_red_group *g0 = cv->order[s->first];
        ifs_buf_puts(b, md ? "- " : "  ");
        int any = 0;
        for (int32_t k = 0; k < r->n_keys; k++) {
            if (k == cv->key)
                continue;
            ifs_buf_puts(b, any ? ", " : "");
            any = 1;
            if (md) {
                put_md_field(b, r->keys[k]);
                ifs_buf_puts(b, "=");
                put_md_field(b, g0->vals[k]);
            } else {
                put_text_field(b, r->keys[k]);
                ifs_buf_puts(b, "=");
                put_text_field(b, g0->vals[k]);
            }
        }
        ifs_buf_puts(b, any ? ": " : "all: ");
        if (s->plateau < 0) {
            ifs_buf_printf(b, "not reached (%zu points)", s->n);
        } else {
            const ifs_red_group *g = cv->order[s->first + (size_t)s->plateau];
            ifs_red_stats st;
            ifs_red_stats_of(g, &st);
            if (md)
                put_md_field(b, g->vals[cv->key]);
            else
                put_text_field(b, g->vals[cv->key]);
            ifs_buf_printf(b, " (IFS %.3f, point %lld of %zu)", st.ifs.v, (long long)s->plateau + 1,
                           s->n);
        }
        if (s->skipped)
            ifs_buf_printf(b, ", %zu non-numeric skipped", s->skipped);
        ifs_buf_puts(b, "\n");
    }
}

int ifs_report_table(const ifs_reducer *r, ifs_report_format fmt, char **out, size_t *len,
                     char *err, size_t errlen)
{
    if (!r || !out)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer or output pointer");
    if (fmt == IFS_FMT_JSON)
        return ifs_report_json(r, 0, out, len, err, errlen);
    if (fmt != IFS_FMT_TEXT && fmt != IFS_FMT_CSV && fmt != IFS_FMT_MARKDOWN)
        return ifs_errf(err, errlen, IFS_RED_EARG, "unknown table format %d", (int)fmt);
    *out = NULL;
    if (len)
        *len = 0;

    static const char *const short_cols[] = {"n",        "IFS", "IFS_partial",
                                             "IFS_full", "gap", "95% CI"};
    static const char *const csv_cols[] = {"n",
                                           "n_partial",
                                           "n_full",
                                           "n_none",
                                           "answer_like",
                                           "answer_like_partial",
                                           "answer_like_full",
                                           "ifs",
                                           "ifs_lo",
                                           "ifs_hi",
                                           "ifs_partial",
                                           "ifs_partial_lo",
                                           "ifs_partial_hi",
                                           "ifs_full",
                                           "ifs_full_lo",
                                           "ifs_full_hi",
                                           "gap_full_minus_partial",
                                           "gap_lo",
                                           "gap_hi",
                                           "mean_p_answer",
                                           "near_threshold"};
    int csv = fmt == IFS_FMT_CSV;
    size_t nfix = csv ? sizeof csv_cols / sizeof *csv_cols : sizeof short_cols / sizeof *short_cols;
    const char *const *fix = csv ? csv_cols : short_cols;
    int dec = csv ? 6 : 3;

    ifs_red_group **groups = ifs_red_sorted_groups(r);
    ifs_red_curves cv;
    int crc = ifs_red_curves_of(r, &cv);
    table t = {NULL, r->n_groups + 1, (size_t)r->n_keys + nfix, 0};
    t.cell = calloc(t.rows * t.cols, sizeof *t.cell);
    if (!groups || crc || !t.cell) {
        free(groups);
        free(t.cell);
        if (!crc)
            ifs_red_curves_free(&cv);
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    for (int32_t k = 0; k < r->n_keys; k++)
        set(&t, 0, (size_t)k, r->keys[k]);
    for (size_t c = 0; c < nfix; c++)
        set(&t, 0, (size_t)r->n_keys + c, fix[c]);
    for (size_t i = 0; i < r->n_groups; i++) {
        const ifs_red_group *g = groups[i];
        size_t row = i + 1, c = (size_t)r->n_keys;
        ifs_red_stats s;
        ifs_red_stats_of(g, &s);
        for (int32_t k = 0; k < r->n_keys; k++)
            set(&t, row, (size_t)k, g->vals[k]);
        if (!csv) {
            setu(&t, row, c++, s.tot.n);
            setf(&t, row, c++, &s.ifs, 0, dec);
            setf(&t, row, c++, &s.partial, 0, dec);
            setf(&t, row, c++, &s.full, 0, dec);
            setf(&t, row, c++, &s.gap, 0, dec);
            char ci[64];
            snprintf(ci, sizeof ci, "[%.3f, %.3f]", s.ifs.lo, s.ifs.hi);
            set(&t, row, c++, ci);
            continue;
        }
        setu(&t, row, c++, s.tot.n);
        setu(&t, row, c++, g->c[IFS_ITYPE_PARTIAL].n);
        setu(&t, row, c++, g->c[IFS_ITYPE_FULL].n);
        setu(&t, row, c++, g->c[IFS_ITYPE_NONE].n);
        setu(&t, row, c++, s.tot.answer);
        setu(&t, row, c++, g->c[IFS_ITYPE_PARTIAL].answer);
        setu(&t, row, c++, g->c[IFS_ITYPE_FULL].answer);
        const ifs_red_ratio *qs[] = {&s.ifs, &s.partial, &s.full, &s.gap};
        for (size_t q = 0; q < 4; q++)
            for (int part = 0; part < 3; part++)
                setf(&t, row, c++, qs[q], part, dec);
        ifs_red_ratio mean = {s.mean_ok, s.mean_p, 0, 0};
        setf(&t, row, c++, &mean, 0, dec);
        setu(&t, row, c++, s.tot.near);
    }

    ifs_buf b;
    ifs_buf_init(&b);
    if (!t.oom) {
        size_t *w = calloc(t.cols, sizeof *w);
        if (!w)
            t.oom = 1;
        for (size_t c = 0; w && c < t.cols; c++)
            for (size_t row = 0; row < t.rows; row++) {
                size_t x = width(t.cell[row * t.cols + c]);
                w[c] = x > w[c] ? x : w[c];
            }
        for (size_t row = 0; w && row < t.rows; row++) {
            if (fmt == IFS_FMT_MARKDOWN)
                ifs_buf_puts(&b, "| ");
            for (size_t c = 0; c < t.cols; c++) {
                const char *s = t.cell[row * t.cols + c];
                int numeric = c >= (size_t)r->n_keys;
                if (csv) {
                    ifs_buf_puts(&b, c ? "," : "");
                    put_csv_field(&b, s);
                    continue;
                }
                size_t pad = w[c] - width(s);
                if (fmt == IFS_FMT_MARKDOWN) {
                    ifs_buf_puts(&b, c ? " | " : "");
                    put_md_field(&b, s);
                    continue;
                }
                /* keys left-aligned, figures (and their headers) right-aligned */
                ifs_buf_puts(&b, c ? "  " : "");
                if (numeric)
                    put_pad(&b, pad);
                put_text_field(&b, s);
                if (!numeric && c + 1 < t.cols)
                    put_pad(&b, pad);
            }
            ifs_buf_puts(&b, fmt == IFS_FMT_MARKDOWN ? " |\n" : csv ? "\r\n" : "\n");
            if (row == 0 && fmt == IFS_FMT_MARKDOWN) {
                ifs_buf_puts(&b, "|");
                for (size_t c = 0; c < t.cols; c++)
                    ifs_buf_puts(&b, c >= (size_t)r->n_keys ? "---:|" : "---|");
                ifs_buf_puts(&b, "\n");
            }
        }
        free(w);
        if (!csv)
            footer(&b, r, &cv, fmt == IFS_FMT_MARKDOWN);
    }
    for (size_t i = 0; i < t.rows * t.cols; i++)
        free(t.cell[i]);
    free(t.cell);
    free(groups);
    ifs_red_curves_free(&cv);
    if (t.oom || b.oom) {
        free(b.p);
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    if (!b.p) {
        b.p = calloc(1, 1);
        if (!b.p)
            return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return IFS_RED_OK;
}
