/*
 * html.c - SVG charts and the self-contained HTML page of ifs_html.h.
 *
 * Decisions:
 *   - SVG written by hand, like the report's JSON: fixed number formats
 *     (coordinates "%.1f", figures "%.3f"), groups and series in a fixed
 *     order, so the same counts give the same bytes and pages can be diffed.
 *   - Nothing is fetched: styles are inline <style> blocks (each SVG carries
 *     its own, so an exported file looks the same as in the page), fonts are
 *     the reader's system sans-serif, and the page's one inline script only
 *     measures how long the page took to lay out (it writes the figure into
 *     the DOM; the page reads the same without it).
 *   - Bars are horizontal, one 16 px row per group, labels on the left: the
 *     only layout that stays readable from 5 groups to 227 (AlpacaEval) and
 *     beyond; long names are cut with the full name in a <title> tooltip.
 *   - Figures come from the counts through the reducer's own arithmetic
 *     (ifs_wilson95, ifs_report_get_curves for series and plateaus,
 *     ifs_compare for deltas), never from ratios a report file carries.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_html.h"
#include "ifs_report.h"
#include "ifs_version.h"
#include "markup_impl.h"

#define W 960.0         /* width of the wide charts */
#define ROW 16.0        /* one group per row */
#define MAX_LABEL_CP 48 /* code points of a label before it is cut */

static const char *const PALETTE[] = {"#2f6fdb", "#d1495b", "#2a9d55", "#8e5cc4", "#e07a1f",
                                      "#1a98a8", "#b8860b", "#c2469b", "#5c6670", "#6b8e23"};
#define N_PALETTE (sizeof PALETTE / sizeof PALETTE[0])

static const char *const CHART_NAMES[IFS_CHART_COUNT] = {"groups", "partial-full", "curves",
                                                         "delta"};

const char *ifs_html_strerror(int rc)
{
    switch (rc) {
    case IFS_HTML_OK: return "ok";
    case IFS_HTML_EARG: return "bad argument";
    case IFS_HTML_ENOMEM: return "out of memory";
    case IFS_HTML_ENODATA: return "nothing to draw";
    default: return "unknown status";
    }
}

const char *ifs_chart_name(ifs_chart c)
{
    return (unsigned)c < IFS_CHART_COUNT ? CHART_NAMES[c] : "unknown";
}

void ifs_html_opts_init(ifs_html_opts *o)
{
    memset(o, 0, sizeof *o);
}

static int fail(char *err, size_t errlen, int rc, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return rc;
}

/* --- figures from counts ----------------------------------------------------- */

typedef struct {
    uint64_t k, n;
    int ok;
    double v, lo, hi;
} prop;

static prop prop_of(uint64_t k, uint64_t n)
{
    prop p = {k, n, n > 0, 0, 0, 1};
    if (n) {
        p.v = (double)k / (double)n;
        ifs_wilson95(k, n, &p.lo, &p.hi);
    }
    return p;
}

static prop ifs_of(const ifs_reduce_group_view *g)
{
    uint64_t k = 0, n = 0;
    for (int t = 0; t < 3; t++) {
        k += g->c[t].answer_like;
        n += g->c[t].n;
    }
    return prop_of(k, n);
}

static prop split_of(const ifs_reduce_group_view *g, int t)
{
    return prop_of(g->c[t].answer_like, g->c[t].n);
}

/* "value" for one key, "k1=v1, k2=v2" for more; `skip` (or -1) is left out.
 * With every key skipped: "all groups". */
static void put_label(ifs_buf *b, const ifs_reduce_identity *id, const char *const *vals,
                      int32_t skip, int cut)
{
    ifs_buf t;
    if (ifs_mk_open(&t)) {
        b->oom = 1;
        return;
    }
    int shown = 0, several = id->n_keys - (skip >= 0) > 1;
    for (int32_t k = 0; k < id->n_keys; k++) {
        if (k == skip)
            continue;
        if (shown++)
            ifs_buf_puts(&t, ", ");
        if (several) {
            ifs_buf_puts(&t, id->keys[k]);
            ifs_buf_puts(&t, "=");
        }
        ifs_buf_puts(&t, vals[k]);
    }
    if (!shown)
        ifs_buf_puts(&t, "all groups");
    char *s;
    if (ifs_mk_finish(&t, &s, NULL)) {
        b->oom = 1;
        return;
    }
    if (cut)
        ifs_mk_xml_cut(b, s, MAX_LABEL_CP);
    else
        ifs_mk_xml(b, s);
    free(s);
}

static size_t label_width(const ifs_reduce_identity *id, const char *const *vals, int32_t skip)
{
    size_t w = 0;
    int several = id->n_keys - (skip >= 0) > 1, shown = 0;
    for (int32_t k = 0; k < id->n_keys; k++) {
        if (k == skip)
            continue;
        w += (shown++ ? 2 : 0) + ifs_mk_width(vals[k]) +
             (several ? ifs_mk_width(id->keys[k]) + 1 : 0);
    }
    if (!shown)
        w = 10;
    return w > MAX_LABEL_CP ? MAX_LABEL_CP + 1 : w;
}

/* --- SVG scaffolding --------------------------------------------------------- */

static const char SVG_STYLE[] =
    "<style>"
    ".ifs-chart text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',"
    "Arial,sans-serif;font-size:12px;fill:#1f2328}"
    ".ifs-chart .title{font-size:15px;font-weight:600}"
    ".ifs-chart .note{font-size:11px;fill:#57606a}"
    ".ifs-chart .tick{font-size:11px;fill:#57606a}"
    ".ifs-chart .grid{stroke:#d8dee4;stroke-width:1}"
    ".ifs-chart .axis{stroke:#57606a;stroke-width:1}"
    ".ifs-chart .stripe{fill:#f6f8fa}"
    ".ifs-chart .bar{fill:#7ea6e0}"
    ".ifs-chart .ci{stroke:#1f2328;stroke-width:1.2;fill:none}"
    ".ifs-chart .val{font-size:11px;font-variant-numeric:tabular-nums}"
    ".ifs-chart .diagonal{stroke:#8c959f;stroke-width:1.2;stroke-dasharray:5 4}"
    ".ifs-chart .point{fill:#2f6fdb;fill-opacity:.8;stroke:#fff;stroke-width:1}"
    ".ifs-chart .ci-light{stroke:#2f6fdb;stroke-opacity:.35;stroke-width:1}"
    ".ifs-chart .curve{fill:none;stroke-width:2.2}"
    ".ifs-chart .curve-partial{fill:none;stroke-width:1.4;stroke-dasharray:6 4}"
    ".ifs-chart .curve-full{fill:none;stroke-width:1.4;stroke-dasharray:2 3}"
    ".ifs-chart .plateau{fill:none;stroke:#1f2328;stroke-width:2}"
    ".ifs-chart .plateau-line{stroke-width:1;stroke-dasharray:3 3}"
    ".ifs-chart .zero{stroke:#1f2328;stroke-width:1.2}"
    ".ifs-chart .max-drop{stroke:#d1495b;stroke-width:1;stroke-dasharray:4 3}"
    ".ifs-chart .delta{fill:#2f6fdb}"
    ".ifs-chart .regression .delta{fill:#cf222e}"
    ".ifs-chart .regression .ci{stroke:#cf222e;stroke-width:2}"
    ".ifs-chart .regression text{fill:#cf222e;font-weight:600}"
    ".ifs-chart .regression .stripe,.ifs-chart .regression .band{fill:#ffebe9}"
    ".ifs-chart .band{fill:none}"
    "</style>\n";

static void svg_open(ifs_buf *b, ifs_chart which, double w, double h, unsigned flags,
                     const char *title)
{
    if (flags & IFS_HTML_STANDALONE)
        ifs_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    ifs_buf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"chart-%s\" "
                   "class=\"ifs-chart\" width=\"%.0f\" height=\"%.0f\" "
                   "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
                   CHART_NAMES[which], w, h, w, h);
    ifs_mk_xml(b, title);
    ifs_buf_puts(b, "\">\n<title>");
    ifs_mk_xml(b, title);
    ifs_buf_puts(b, "</title>\n");
    ifs_buf_puts(b, SVG_STYLE);
    ifs_buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
                   w, h);
    ifs_buf_puts(b, "<text class=\"title\" x=\"12\" y=\"22\">");
    ifs_mk_xml(b, title);
    ifs_buf_puts(b, "</text>\n");
}

static void text_at(ifs_buf *b, const char *cls, double x, double y, const char *anchor,
                    const char *s)
{
    ifs_buf_printf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\"%s%s%s>", cls, x, y,
                   anchor ? " text-anchor=\"" : "", anchor ? anchor : "", anchor ? "\"" : "");
    ifs_mk_xml(b, s);
    ifs_buf_puts(b, "</text>\n");
}

static void fixed3(char *buf, size_t n, double v)
{
    snprintf(buf, n, "%.3f", v);
    if (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1))
        memmove(buf, buf + 1, strlen(buf));
}

/* Vertical grid lines and tick labels for [lo, hi] at `step`, above and
 * (when bottom > 0) below the plot. */
static void x_grid(ifs_buf *b, double x0, double x1, double lo, double hi, double step, double top,
                   double bottom, int sign)
{
    int n = (int)floor((hi - lo) / step + 1e-9);
    for (int i = 0; i <= n; i++) {
        double v = lo + i * step;
        if (fabs(v) < 1e-12)
            v = 0;
        double x = x0 + (v - lo) / (hi - lo) * (x1 - x0);
        char t[32];
        if (sign && v != 0)
            snprintf(t, sizeof t, "%+.2g", v);
        else
            snprintf(t, sizeof t, "%.2g", v);
        ifs_buf_printf(b,
                       "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       x, top, x, bottom > 0 ? bottom : top);
        text_at(b, "tick", x, top - 6, "middle", t);
        if (bottom > 0)
            text_at(b, "tick", x, bottom + 14, "middle", t);
    }
}

/* --- groups: IFS per group with intervals, sorted ---------------------------- */

typedef struct {
    size_t i;
    prop p;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p.v != y->p.v)
        return x->p.v > y->p.v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int chart_groups(ifs_buf *b, const ifs_reducer *r, unsigned flags, char *err, size_t errlen)
{
    ifs_reduce_identity id;
    ifs_reduce_get_identity(r, &id);
    ifs_reduce_group_view *g;
    size_t n;
    if (ifs_reduce_groups(r, &g, &n))
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    ranked *rk = malloc((n ? n : 1) * sizeof *rk);
    if (!rk) {
        free(g);
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    }
    size_t m = 0, empty = 0, lw = 0;
    for (size_t i = 0; i < n; i++) {
        prop p = ifs_of(&g[i]);
        if (!p.ok) {
            empty++;
            continue;
        }
        rk[m++] = (ranked){i, p};
        size_t w = label_width(&id, g[i].vals, -1);
        lw = w > lw ? w : lw;
    }
    if (!m) {
        free(g);
        free(rk);
        return fail(err, errlen, IFS_HTML_ENODATA, "the report has no scored records");
    }
    qsort(rk, m, sizeof *rk, cmp_ranked);
    double label_w = 24 + 7.0 * (double)lw;
    if (label_w > 380)
        label_w = 380;
    double x0 = label_w + 8, x1 = W - 150, top = 64, bottom = top + ROW * (double)m;
    double h = bottom + 40;
    svg_open(b, IFS_CHART_GROUPS, W, h, flags, "IFS per group, with 95% intervals");
    char note[160];
    snprintf(note, sizeof note,
             "%zu group%s sorted by IFS; bar = answer-like / n, whisker = Wilson 95%% "
             "interval%s",
             m, m == 1 ? "" : "s", empty ? "; groups without records left out" : "");
    text_at(b, "note", 12, 40, NULL, note);
    for (size_t i = 0; i < m; i += 2)
        ifs_buf_printf(b,
                       "<rect class=\"stripe\" x=\"0\" y=\"%.1f\" width=\"%.0f\" "
                       "height=\"%.0f\"/>\n",
                       top + ROW * (double)i, W, ROW);
    x_grid(b, x0, x1, 0, 1, 0.2, top, bottom, 0);
    for (size_t i = 0; i < m; i++) {
        const prop *p = &rk[i].p;
        const ifs_reduce_group_view *v = &g[rk[i].i];
        double y = top + ROW * (double)i;
        double xv = x0 + p->v * (x1 - x0), xl = x0 + p->lo * (x1 - x0), xh = x0 + p->hi * (x1 - x0);
        char a[32], lo[32], hi[32];
        fixed3(a, sizeof a, p->v);
        fixed3(lo, sizeof lo, p->lo);
        fixed3(hi, sizeof hi, p->hi);
        ifs_buf_puts(b, "<g class=\"group\"><title>");
        put_label(b, &id, v->vals, -1, 0);
        ifs_buf_printf(b, ": IFS %s [%s, %s], %llu of %llu answer-like</title>\n", a, lo, hi,
                       (unsigned long long)p->k, (unsigned long long)p->n);
        ifs_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 8, y + ROW - 4);
        put_label(b, &id, v->vals, -1, 1);
        ifs_buf_puts(b, "</text>\n");
        ifs_buf_printf(b,
                       "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"10\"/>\n",
                       x0, y + 3, xv - x0);
        ifs_buf_printf(b,
                       "<path class=\"ci\" d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fV%.1f\"/>\n",
                       xl, y + 4, y + 12, xl, y + 8, xh, xh, y + 4, y + 12);
        ifs_buf_printf(b, "<text class=\"val\" x=\"%.1f\" y=\"%.1f\">%s  n=%llu</text></g>\n",
                       x1 + 10, y + ROW - 4, a, (unsigned long long)p->n);
    }
    ifs_buf_puts(b, "</svg>\n");
    free(g);
    free(rk);
    return IFS_HTML_OK;
}

/* --- partial against full ---------------------------------------------------- */

static int chart_partial_full(ifs_buf *b, const ifs_reducer *r, unsigned flags, char *err,
                              size_t errlen)
{
    ifs_reduce_identity id;
    ifs_reduce_get_identity(r, &id);
    ifs_reduce_group_view *g;
    size_t n;
    if (ifs_reduce_groups(r, &g, &n))
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    size_t both = 0;
    for (size_t i = 0; i < n; i++)
        both += g[i].c[IFS_ITYPE_PARTIAL].n && g[i].c[IFS_ITYPE_FULL].n;
    if (!both) {
        free(g);
        return fail(err, errlen, IFS_HTML_ENODATA,
                    "no group has both partial and full instructions");
    }
    const double S = 600, x0 = 70, x1 = 560, y0 = 70, y1 = 560;
    svg_open(b, IFS_CHART_PARTIAL_FULL, S + 60, S + 30, flags,
             "IFS_partial against IFS_full per group");
    char note[200];
    snprintf(note, sizeof note,
             "%zu group%s with both splits; above the diagonal = worse on partial "
             "instructions (the base-model sign)",
             both, both == 1 ? "" : "s");
    text_at(b, "note", 12, 40, NULL, note);
    for (int i = 0; i <= 5; i++) {
        double v = i * 0.2, x = x0 + v * (x1 - x0), y = y1 - v * (y1 - y0);
        char t[16];
        snprintf(t, sizeof t, "%.1f", v);
        ifs_buf_printf(b,
                       "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       x, y0, x, y1);
        ifs_buf_printf(b,
                       "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       x0, y, x1, y);
        text_at(b, "tick", x, y1 + 16, "middle", t);
        text_at(b, "tick", x0 - 8, y + 4, "end", t);
    }
    ifs_buf_printf(b,
                   "<rect class=\"axis\" fill=\"none\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                   "height=\"%.1f\"/>\n",
                   x0, y0, x1 - x0, y1 - y0);
    ifs_buf_printf(b,
                   "<line class=\"diagonal\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                   x0, y1, x1, y0);
    text_at(b, "note", x1 - 4, y0 + 14, "end", "IFS_full = IFS_partial");
    text_at(b, "tick", (x0 + x1) / 2, y1 + 36, "middle", "IFS_partial");
    ifs_buf_printf(b,
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                   "transform=\"rotate(-90 %.1f %.1f)\">IFS_full</text>\n",
                   x0 - 40, (y0 + y1) / 2, x0 - 40, (y0 + y1) / 2);
    int labels = both <= 40;
    /* Labels go right of their point, else left; one that would overlap a
     * label already placed is left to the point's tooltip. */
    double(*boxes)[4] = labels ? malloc(both * sizeof *boxes) : NULL;
    size_t nbox = 0;
    labels = labels && boxes;
    for (size_t i = 0; i < n; i++) {
        prop p = split_of(&g[i], IFS_ITYPE_PARTIAL), f = split_of(&g[i], IFS_ITYPE_FULL);
        if (!p.ok || !f.ok)
            continue;
        double x = x0 + p.v * (x1 - x0), y = y1 - f.v * (y1 - y0);
        char a[32], c[32];
        fixed3(a, sizeof a, p.v);
        fixed3(c, sizeof c, f.v);
        ifs_buf_puts(b, "<g class=\"pf\"><title>");
        put_label(b, &id, g[i].vals, -1, 0);
        ifs_buf_printf(b, ": IFS_partial %s (%llu/%llu), IFS_full %s (%llu/%llu)</title>\n", a,
                       (unsigned long long)p.k, (unsigned long long)p.n, c, (unsigned long long)f.k,
                       (unsigned long long)f.n);
        ifs_buf_printf(b, "<path class=\"ci-light\" d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1f\"/>\n",
                       x0 + p.lo * (x1 - x0), y, x0 + p.hi * (x1 - x0), x, y1 - f.lo * (y1 - y0),
                       y1 - f.hi * (y1 - y0));
        ifs_buf_printf(b, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>\n", x, y);
        if (labels) {
            double lw = 6.2 * (double)label_width(&id, g[i].vals, -1);
            int placed = 0;
            for (int side = 0; side < 2 && !placed; side++) {
                double bx0 = side ? x - 8 - lw : x + 8, by0 = y - 17;
                if (bx0 < 4 || bx0 + lw > S + 56)
                    continue;
                int clash = 0;
                for (size_t q = 0; q < nbox && !clash; q++)
                    clash = bx0 < boxes[q][2] && boxes[q][0] < bx0 + lw && by0 < boxes[q][3] &&
                            boxes[q][1] < by0 + 14;
                if (clash)
                    continue;
                boxes[nbox][0] = bx0;
                boxes[nbox][1] = by0;
                boxes[nbox][2] = bx0 + lw;
                boxes[nbox++][3] = by0 + 14;
                ifs_buf_printf(b, "<text class=\"val\" x=\"%.1f\" y=\"%.1f\">", bx0, y - 6);
                put_label(b, &id, g[i].vals, -1, 1);
                ifs_buf_puts(b, "</text>\n");
                placed = 1;
            }
        }
        ifs_buf_puts(b, "</g>\n");
    }
    ifs_buf_puts(b, "</svg>\n");
    free(boxes);
    free(g);
    return IFS_HTML_OK;
}

/* --- curves ------------------------------------------------------------------ */

/* Nice step for about `want` intervals over `range`. */
static double nice_step(double range, int want)
{
    if (!(range > 0))
        return 1;
    double raw = range / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void curve_path(ifs_buf *b, const ifs_report_series *s, int t, double (*px)(double, void *),
                       void *ctx, double y0, double y1, const char *cls, const char *color,
                       int32_t key)
{
    /* t: -1 all records, else the instruction type. */
    int started = 0;
    size_t drawn = 0;
    for (size_t p = 0; p < s->n_points; p++)
        drawn += t < 0 || s->points[p].c[t].n > 0;
    if (drawn < 2)
        return;
    ifs_buf_printf(b, "<path class=\"%s\" stroke=\"%s\" d=\"", cls, color);
    for (size_t p = 0; p < s->n_points; p++) {
        prop q = t < 0 ? ifs_of(&s->points[p]) : split_of(&s->points[p], t);
        if (!q.ok)
            continue;
        double x = px(strtod(s->points[p].vals[key], NULL), ctx);
        double y = y1 - q.v * (y1 - y0);
        ifs_buf_printf(b, "%s%.1f %.1f", started ? "L" : "M", x, y);
        started = 1;
    }
    ifs_buf_puts(b, "\"/>\n");
}

typedef struct {
    double lo, hi, x0, x1;
} xscale;

static double xs_map(double v, void *ctx)
{
    const xscale *s = ctx;
    return s->hi > s->lo ? s->x0 + (v - s->lo) / (s->hi - s->lo) * (s->x1 - s->x0)
                         : (s->x0 + s->x1) / 2;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int chart_curves(ifs_buf *b, const ifs_reducer *r, unsigned flags, char *err, size_t errlen)
{
    ifs_reduce_identity id;
    ifs_reduce_get_identity(r, &id);
    ifs_report_curves cv;
    if (ifs_report_get_curves(r, &cv, NULL, 0))
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    if (cv.key < 0) {
        ifs_report_curves_clear(&cv);
        return fail(err, errlen, IFS_HTML_ENODATA,
                    "the report has no curve key (group by a checkpoint key, e.g. "
                    "--group-by model,step)");
    }
    size_t drawn = 0, single = 0, npts = 0;
    for (size_t i = 0; i < cv.n_series; i++) {
        drawn += cv.series[i].n_points >= 2;
        single += cv.series[i].n_points < 2;
        npts += cv.series[i].n_points >= 2 ? cv.series[i].n_points : 0;
    }
    if (!drawn) {
        ifs_report_curves_clear(&cv);
        return fail(err, errlen, IFS_HTML_ENODATA,
                    "no series has two or more checkpoints to draw a curve through");
    }
    double *xs = malloc(npts * sizeof *xs);
    if (!xs) {
        ifs_report_curves_clear(&cv);
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    }
    size_t nx = 0;
    for (size_t i = 0; i < cv.n_series; i++)
        if (cv.series[i].n_points >= 2)
            for (size_t p = 0; p < cv.series[i].n_points; p++)
                xs[nx++] = strtod(cv.series[i].points[p].vals[cv.key], NULL);
    qsort(xs, nx, sizeof *xs, cmp_double);
    size_t distinct = 0;
    for (size_t i = 0; i < nx; i++)
        if (!i || xs[i] != xs[i - 1])
            xs[distinct++] = xs[i];

    size_t legend_rows = drawn > 24 ? 25 : drawn;
    double x0 = 64, x1 = W - 250, y0 = 70, y1 = 400;
    double h = y1 + 60;
    double lh = 70 + 18.0 * (double)legend_rows + 60;
    if (lh > h)
        h = lh;
    xscale sc = {xs[0], xs[distinct - 1], x0, x1};
    const char *key = id.keys[cv.key];
    char title[300];
    snprintf(title, sizeof title, "IFS over %.200s, per series, with the plateau", key);
    svg_open(b, IFS_CHART_CURVES, W, h, flags, title);
    char note[240];
    snprintf(note, sizeof note,
             "solid = all records, dashed = partial, dotted = full instructions; ring = "
             "plateau (eps %.3f, %d later points)%s",
             id.plateau_eps, (int)id.plateau_min_after,
             single ? "; single-checkpoint series not drawn" : "");
    text_at(b, "note", 12, 40, NULL, note);
    for (int i = 0; i <= 5; i++) {
        double v = i * 0.2, y = y1 - v * (y1 - y0);
        char t[16];
        snprintf(t, sizeof t, "%.1f", v);
        ifs_buf_printf(b,
                       "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       x0, y, x1, y);
        text_at(b, "tick", x0 - 8, y + 4, "end", t);
    }
    if (distinct <= 12) {
        /* A tick per checkpoint; a label that would touch the previous one
         * is dropped (its grid line stays). */
        double last_right = -1e9;
        for (size_t i = 0; i < distinct; i++) {
            char t[40];
            snprintf(t, sizeof t, "%.10g", xs[i]);
            double x = xs_map(xs[i], &sc), half = 3.4 * (double)strlen(t);
            ifs_buf_printf(b,
                           "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                           "y2=\"%.1f\"/>\n",
                           x, y0, x, y1);
            if (x - half > last_right + 6) {
                text_at(b, "tick", x, y1 + 16, "middle", t);
                last_right = x + half;
            }
        }
    } else {
        double step = nice_step(sc.hi - sc.lo, 6);
        for (double v = ceil(sc.lo / step) * step; v <= sc.hi + step * 1e-9; v += step) {
            char t[40];
            snprintf(t, sizeof t, "%.6g", fabs(v) < step * 1e-9 ? 0.0 : v);
            double x = xs_map(v, &sc);
            ifs_buf_printf(b,
                           "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                           "y2=\"%.1f\"/>\n",
                           x, y0, x, y1);
            text_at(b, "tick", x, y1 + 16, "middle", t);
        }
    }
    ifs_buf_printf(b, "<path class=\"axis\" fill=\"none\" d=\"M%.1f %.1fV%.1fH%.1f\"/>\n", x0, y0,
                   y1, x1);
    ifs_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                   (x0 + x1) / 2, y1 + 36);
    ifs_mk_xml(b, key);
    ifs_buf_puts(b, "</text>\n");
    ifs_buf_printf(b,
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                   "transform=\"rotate(-90 %.1f %.1f)\">IFS</text>\n",
                   x0 - 42, (y0 + y1) / 2, x0 - 42, (y0 + y1) / 2);

    size_t color = 0, legend = 0;
    for (size_t i = 0; i < cv.n_series; i++) {
        const ifs_report_series *s = &cv.series[i];
        if (s->n_points < 2)
            continue;
        const char *col = PALETTE[color++ % N_PALETTE];
        ifs_buf_puts(b, "<g class=\"series\"><title>");
        put_label(b, &id, s->points[0].vals, cv.key, 0);
        ifs_buf_puts(b, "</title>\n");
        curve_path(b, s, IFS_ITYPE_PARTIAL, xs_map, &sc, y0, y1, "curve-partial", col, cv.key);
        curve_path(b, s, IFS_ITYPE_FULL, xs_map, &sc, y0, y1, "curve-full", col, cv.key);
        curve_path(b, s, -1, xs_map, &sc, y0, y1, "curve", col, cv.key);
        for (size_t p = 0; p < s->n_points; p++) {
            prop q = ifs_of(&s->points[p]);
            double x = xs_map(strtod(s->points[p].vals[cv.key], NULL), &sc);
            double y = y1 - q.v * (y1 - y0);
            char a[32], lo[32], hi[32];
            fixed3(a, sizeof a, q.v);
            fixed3(lo, sizeof lo, q.lo);
            fixed3(hi, sizeof hi, q.hi);
            ifs_buf_printf(b,
                           "<circle class=\"pt\" fill=\"%s\" cx=\"%.1f\" cy=\"%.1f\" "
                           "r=\"3.5\"><title>",
                           col, x, y);
            ifs_mk_xml(b, key);
            ifs_buf_puts(b, " ");
            ifs_mk_xml(b, s->points[p].vals[cv.key]);
            ifs_buf_printf(b, ": IFS %s [%s, %s], n=%llu</title></circle>\n", a, lo, hi,
                           (unsigned long long)q.n);
        }
        if (s->plateau >= 0) {
            const ifs_reduce_group_view *pp = &s->points[s->plateau];
            prop q = ifs_of(pp);
            double x = xs_map(strtod(pp->vals[cv.key], NULL), &sc);
            double y = y1 - q.v * (y1 - y0);
            ifs_buf_printf(b,
                           "<line class=\"plateau-line\" stroke=\"%s\" x1=\"%.1f\" "
                           "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                           col, x, y + 9, x, y1);
            ifs_buf_printf(b,
                           "<circle class=\"plateau\" cx=\"%.1f\" cy=\"%.1f\" r=\"8\">"
                           "<title>plateau at ",
                           x, y);
            ifs_mk_xml(b, key);
            ifs_buf_puts(b, " ");
            ifs_mk_xml(b, pp->vals[cv.key]);
            ifs_buf_puts(b, "</title></circle>\n");
        }
        ifs_buf_puts(b, "</g>\n");
        if (legend < legend_rows) {
            double ly = y0 + 18.0 * (double)legend;
            if (legend == 24 && drawn > 25) {
                char more[64];
                snprintf(more, sizeof more, "and %zu more series", drawn - 24);
                text_at(b, "note", x1 + 26, ly + 4, NULL, more);
            } else {
                ifs_buf_printf(b,
                               "<line stroke=\"%s\" stroke-width=\"3\" x1=\"%.1f\" y1=\"%.1f\" "
                               "x2=\"%.1f\" y2=\"%.1f\"/>\n",
                               col, x1 + 24, ly, x1 + 44, ly);
                ifs_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x1 + 50, ly + 4);
                put_label(b, &id, s->points[0].vals, cv.key, 1);
                ifs_buf_puts(b, "</text>\n");
                ifs_buf_printf(b, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">", x1 + 50, ly + 16);
                if (s->plateau >= 0) {
                    ifs_buf_puts(b, "plateau at ");
                    ifs_mk_xml_cut(b, s->points[s->plateau].vals[cv.key], 24);
                } else {
                    ifs_buf_puts(b, "no plateau");
                }
                ifs_buf_puts(b, "</text>\n");
            }
            legend++;
        }
    }
    ifs_buf_puts(b, "</svg>\n");
    free(xs);
    ifs_report_curves_clear(&cv);
    return IFS_HTML_OK;
}

/* --- delta: candidate minus baseline ----------------------------------------- */

typedef struct {
    size_t row;
    double delta;
} drow;

static int cmp_drow(const void *a, const void *b)
{
    const drow *x = a, *y = b;
    if (x->delta != y->delta)
        return x->delta < y->delta ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static int chart_delta(ifs_buf *b, const ifs_comparison *c, unsigned flags, char *err,
                       size_t errlen)
{
    if (!c)
        return fail(err, errlen, IFS_HTML_ENODATA, "no baseline to compare with");
    const ifs_compare_opts *o = ifs_compare_options(c);
    ifs_compare_summary s;
    ifs_compare_get_summary(c, &s);
    static const char *const names[] = {"IFS", "IFS_partial", "IFS_full"};
    drow *rows = malloc(s.n_rows * sizeof *rows);
    if (!rows)
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    /* Panels: one per gated metric with at least one comparable row. */
    int metrics[3], nm = 0;
    size_t counts[3] = {0, 0, 0}, lw = 11;
    double span = 0.1;
    for (int m = 0; m < 3; m++) {
        if (!((o->gate >> m) & 1u))
            continue;
        for (size_t i = 0; i < s.n_rows; i++) {
            const ifs_compare_row *r = ifs_compare_row_at(c, i);
            const ifs_compare_cell *x = &r->m[m];
            if (!x->comparable)
                continue;
            counts[nm]++;
            span = fmax(span, fmax(fabs(x->lo), fabs(x->hi)));
            size_t w = ifs_mk_width(r->label);
            lw = w > lw ? w : lw;
        }
        if (counts[nm])
            metrics[nm++] = m;
    }
    if (!nm) {
        free(rows);
        return fail(err, errlen, IFS_HTML_ENODATA,
                    "no group has records on both sides for the gated metrics");
    }
    span = fmin(1.0, ceil(span * 10 - 1e-9) / 10);
    if (lw > MAX_LABEL_CP)
        lw = MAX_LABEL_CP + 1;
    double label_w = fmin(380, 24 + 7.0 * (double)lw);
    double x0 = label_w + 8, x1 = W - 190;
    double h = 50;
    for (int p = 0; p < nm; p++)
        h += 56 + ROW * (double)counts[p] + 24;
    svg_open(b, IFS_CHART_DELTA, W, h, flags, "Change from the baseline, with 95% intervals");
    char note[200], md[32];
    fixed3(md, sizeof md, -o->max_drop);
    snprintf(note, sizeof note,
             "candidate - baseline, Newcombe 95%% interval; red = regression (interval wholly "
             "below %s)",
             md);
    text_at(b, "note", 12, 40, NULL, note);
    double top = 50;
    double step = span > 0.5 ? 0.25 : span > 0.2 ? 0.1 : 0.05;
    for (int p = 0; p < nm; p++) {
        int m = metrics[p];
        size_t k = 0;
        for (size_t i = 0; i < s.n_rows; i++) {
            const ifs_compare_row *r = ifs_compare_row_at(c, i);
            if (r->m[m].comparable)
                rows[k++] = (drow){i, r->m[m].delta};
        }
        /* The whole run first, then the groups, worst change first. */
        if (k > 1 && ifs_compare_row_at(c, rows[0].row)->is_total)
            qsort(rows + 1, k - 1, sizeof *rows, cmp_drow);
        else
            qsort(rows, k, sizeof *rows, cmp_drow);
        char head[80];
        snprintf(head, sizeof head, "\xCE\x94 %s", names[m]);
        ifs_buf_printf(b, "<g class=\"panel\" data-metric=\"%s\">\n",
                       ifs_compare_metric_name((ifs_cmp_metric)m));
        text_at(b, "title", 12, top + 22, NULL, head);
        double pt = top + 50, pb = pt + ROW * (double)k;
        double lo = -span, hi = span;
        for (size_t i = 0; i < k; i += 2)
            ifs_buf_printf(b,
                           "<rect class=\"stripe\" x=\"0\" y=\"%.1f\" width=\"%.0f\" "
                           "height=\"%.0f\"/>\n",
                           pt + ROW * (double)i, W, ROW);
        x_grid(b, x0, x1, lo, hi, step, pt, pb, 1);
        double zx = x0 + (0 - lo) / (hi - lo) * (x1 - x0);
        ifs_buf_printf(b,
                       "<line class=\"zero\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       zx, pt, zx, pb);
        if (o->max_drop > 0) {
            double mx = x0 + (-o->max_drop - lo) / (hi - lo) * (x1 - x0);
            ifs_buf_printf(b,
                           "<line class=\"max-drop\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                           "y2=\"%.1f\"/>\n",
                           mx, pt, mx, pb);
        }
        for (size_t i = 0; i < k; i++) {
            const ifs_compare_row *r = ifs_compare_row_at(c, rows[i].row);
            const ifs_compare_cell *x = &r->m[m];
            double y = pt + ROW * (double)i;
            double xd = x0 + (x->delta - lo) / (hi - lo) * (x1 - x0);
            double xl = x0 + (x->lo - lo) / (hi - lo) * (x1 - x0);
            double xh = x0 + (x->hi - lo) / (hi - lo) * (x1 - x0);
            ifs_buf_printf(b, "<g class=\"row%s%s\">", x->regression ? " regression" : "",
                           r->is_total ? " total" : "");
            ifs_buf_printf(b,
                           "<rect class=\"band\" x=\"0\" y=\"%.1f\" width=\"%.0f\" "
                           "height=\"%.0f\"/>",
                           y, W, ROW);
            ifs_buf_puts(b, "<title>");
            ifs_mk_xml(b, r->label);
            ifs_buf_printf(b, ": %s %.3f (%llu/%llu) -> %.3f (%llu/%llu)%s</title>\n", names[m],
                           x->base, (unsigned long long)x->k_base, (unsigned long long)x->n_base,
                           x->cand, (unsigned long long)x->k_cand, (unsigned long long)x->n_cand,
                           x->regression ? ", regression" : "");
            ifs_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 8,
                           y + ROW - 4);
            ifs_mk_xml_cut(b, r->label, MAX_LABEL_CP);
            ifs_buf_puts(b, "</text>\n");
            ifs_buf_printf(b,
                           "<path class=\"ci\" d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f "
                           "%.1fV%.1f\"/>\n",
                           xl, y + 4, y + 12, xl, y + 8, xh, xh, y + 4, y + 12);
            ifs_buf_printf(b, "<circle class=\"delta\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"/>\n", xd,
                           y + 8);
            ifs_buf_printf(b, "<text class=\"val\" x=\"%.1f\" y=\"%.1f\">", x1 + 10, y + ROW - 4);
            ifs_mk_signed(b, x->delta, 3);
            ifs_buf_puts(b, " [");
            ifs_mk_signed(b, x->lo, 3);
            ifs_buf_puts(b, ", ");
            ifs_mk_signed(b, x->hi, 3);
            ifs_buf_puts(b, "]</text></g>\n");
        }
        ifs_buf_puts(b, "</g>\n");
        top = pb + 24;
    }
    ifs_buf_puts(b, "</svg>\n");
    free(rows);
    return IFS_HTML_OK;
}

/* --- entry points ------------------------------------------------------------ */

static int draw(ifs_buf *b, const ifs_reducer *r, const ifs_comparison *cmp, ifs_chart which,
                unsigned flags, char *err, size_t errlen)
{
    switch (which) {
    case IFS_CHART_GROUPS: return chart_groups(b, r, flags, err, errlen);
    case IFS_CHART_PARTIAL_FULL: return chart_partial_full(b, r, flags, err, errlen);
    case IFS_CHART_CURVES: return chart_curves(b, r, flags, err, errlen);
    case IFS_CHART_DELTA: return chart_delta(b, cmp, flags, err, errlen);
    default: return fail(err, errlen, IFS_HTML_EARG, "unknown chart");
    }
}

int ifs_html_chart(const ifs_reducer *r, const ifs_comparison *cmp, ifs_chart which, unsigned flags,
                   char **out, size_t *len, char *err, size_t errlen)
{
    if (!out)
        return fail(err, errlen, IFS_HTML_EARG, "no output pointer");
    *out = NULL;
    if (len)
        *len = 0;
    if (!r || (unsigned)which >= IFS_CHART_COUNT)
        return fail(err, errlen, IFS_HTML_EARG, !r ? "no report" : "unknown chart");
    ifs_buf b;
    if (ifs_mk_open(&b))
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    int rc = draw(&b, r, cmp, which, flags, err, errlen);
    if (rc) {
        ifs_buf_free(&b);
        return rc;
    }
    if (ifs_mk_finish(&b, out, len))
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    return IFS_HTML_OK;
}

static const char PAGE_STYLE[] =
    "<style>\n"
    "body{margin:0;background:#fff;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"
    "'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif}\n"
    "main{max-width:1000px;margin:0 auto;padding:16px 20px 40px}\n"
    "h1{font-size:24px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;"
    "border-bottom:1px solid #d8dee4;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}\n"
    ".sub{color:#57606a;margin:0 0 12px}\n"
    "nav a{margin-right:14px;color:#0969da;text-decoration:none}\n"
    "svg.ifs-chart{max-width:100%;height:auto;display:block;border:1px solid #d8dee4;"
    "border-radius:6px}\n"
    ".nodata{color:#57606a;font-style:italic}\n"
    ".verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:10px 0}\n"
    ".verdict.pass{background:#dafbe1;border:1px solid #4ac26b}\n"
    ".verdict.fail{background:#ffebe9;border:1px solid #ff8182;color:#82071e}\n"
    "table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}\n"
    "th,td{border:1px solid #d8dee4;padding:3px 8px;text-align:left;vertical-align:top}\n"
    "th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "code{font-size:12px;word-break:break-all}\n"
    "footer{color:#57606a;font-size:12px;margin-top:30px}\n"
    "details summary{cursor:pointer;color:#0969da}\n"
    "</style>\n";

static void td_num(ifs_buf *b, uint64_t v)
{
    ifs_buf_printf(b, "<td class=\"num\">%llu</td>", (unsigned long long)v);
}

static void td_prop(ifs_buf *b, const prop *p, int with_ci)
{
    if (!p->ok) {
        ifs_buf_puts(b, "<td class=\"num\"></td>");
        return;
    }
    ifs_buf_puts(b, "<td class=\"num\">");
    ifs_buf_fixed(b, p->v, 3);
    if (with_ci) {
        ifs_buf_puts(b, " [");
        ifs_buf_fixed(b, p->lo, 3);
        ifs_buf_puts(b, ", ");
        ifs_buf_fixed(b, p->hi, 3);
        ifs_buf_puts(b, "]");
    }
    ifs_buf_puts(b, "</td>");
}

static void kv(ifs_buf *b, const char *k, const char *v)
{
    ifs_buf_puts(b, "<tr><th>");
    ifs_mk_xml(b, k);
    ifs_buf_puts(b, "</th><td>");
    ifs_mk_xml(b, v);
    ifs_buf_puts(b, "</td></tr>\n");
}

static void kv_u(ifs_buf *b, const char *k, uint64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    kv(b, k, t);
}

static void section_chart(ifs_buf *b, const ifs_reducer *r, const ifs_comparison *cmp,
                          ifs_chart which, const char *heading, int *rc)
{
    ifs_buf_printf(b, "<section id=\"section-%s\">\n<h2>", CHART_NAMES[which]);
    ifs_mk_xml(b, heading);
    ifs_buf_puts(b, "</h2>\n");
    char why[256];
    int x = draw(b, r, cmp, which, 0, why, sizeof why);
    if (x == IFS_HTML_ENODATA) {
        ifs_buf_puts(b, "<p class=\"nodata\">Not drawn: ");
        ifs_mk_xml(b, why);
        ifs_buf_puts(b, ".</p>\n");
    } else if (x) {
        *rc = x;
    }
    ifs_buf_puts(b, "</section>\n");
}

static void facts(ifs_buf *b, const ifs_reducer *r, const ifs_html_opts *o, int *rc)
{
    ifs_reduce_identity id;
    ifs_reduce_get_identity(r, &id);
    ifs_reduce_totals t;
    ifs_reduce_get_totals(r, &t);
    char v[256];
    ifs_buf_puts(b, "<section id=\"section-facts\">\n<h2>The run</h2>\n<h3>Classifier and "
                    "tokenizer</h3>\n<table>\n");
    kv(b, "weights sha256", id.weights_sha256);
    ifs_buf_puts(b, "<tr><th>labels</th><td>");
    for (int32_t i = 0; i < id.n_labels; i++) {
        ifs_buf_puts(b, i ? ", " : "");
        ifs_mk_xml(b, id.labels[i]);
    }
    ifs_buf_puts(b, "</td></tr>\n");
    snprintf(v, sizeof v, "%d (%.200s)", (int)id.answer_label, id.labels[id.answer_label]);
    kv(b, "answer-like label", v);
    snprintf(v, sizeof v, "%.6f (answer-like iff p > threshold)", id.threshold);
    kv(b, "threshold", v);
    snprintf(v, sizeof v, "%.6f", id.near_margin);
    kv(b, "near-threshold margin", v);
    if (id.pair_input) {
        if (id.instruction_max_tokens)
            snprintf(v, sizeof v,
                     "pair: [CLS] instruction [SEP] response [SEP], the "
                     "instruction (field %.120s) cut to %d tokens first",
                     id.instruction_field, (int)id.instruction_max_tokens);
        else
            snprintf(v, sizeof v,
                     "pair: [CLS] instruction [SEP] response [SEP], the "
                     "instruction from field %.120s",
                     id.instruction_field);
        kv(b, "input", v);
    }
    snprintf(v, sizeof v, "do_lower_case %s, strip_accents %s, tokenize_chinese_chars %s",
             id.do_lower_case ? "true" : "false",
             id.strip_accents < 0 ? "null"
             : id.strip_accents   ? "true"
                                  : "false",
             id.tokenize_chinese_chars ? "true" : "false");
    kv(b, "tokenizer", v);
    kv(b, "tokenizer sha256",
       id.tokenizer_sha256 ? id.tokenizer_sha256 : "unknown (a report written before the field)");
    snprintf(v, sizeof v, "%d tokens", (int)id.max_length);
    kv(b, "max length", v);
    ifs_buf_puts(b, "<tr><th>group-by keys</th><td>");
    for (int32_t k = 0; k < id.n_keys; k++) {
        ifs_buf_puts(b, k ? ", " : "");
        ifs_mk_xml(b, id.keys[k]);
    }
    ifs_buf_puts(b, "</td></tr>\n");
    snprintf(v, sizeof v, "epsilon %.6f, %d later points must confirm", id.plateau_eps,
             (int)id.plateau_min_after);
    kv(b, "plateau rule", v);
    ifs_buf_puts(b, "</table>\n<h3>Counts</h3>\n<table>\n");
    kv_u(b, "lines read", t.read);
    kv_u(b, "scored", t.scored);
    kv_u(b, "rejected", t.rejected);
    kv_u(b, "answer-like", t.answer_like);
    kv_u(b, "near threshold", t.near_threshold);
    kv_u(b, "tokens", t.tokens);
    kv_u(b, "truncated", t.truncated);
    kv_u(b, "inputs", t.n_inputs);
    kv_u(b, "groups", t.n_groups);
    ifs_buf_puts(b, "</table>\n");

    ifs_reduce_reason_count *rs = NULL;
    size_t nr = 0;
    if (ifs_reduce_reject_totals(r, &rs, &nr)) {
        *rc = IFS_HTML_ENOMEM;
        return;
    }
    ifs_buf_puts(b, "<h3>Rejects by reason</h3>\n");
    if (!nr) {
        ifs_buf_puts(b, "<p>None: every line read was scored.</p>\n");
    } else {
        ifs_buf_puts(b, "<table id=\"rejects\">\n<tr><th>reason</th><th>lines</th></tr>\n");
        for (size_t i = 0; i < nr; i++) {
            ifs_buf_puts(b, "<tr><td><code>");
            ifs_mk_xml(b, rs[i].name);
            ifs_buf_puts(b, "</code></td>");
            td_num(b, rs[i].count);
            ifs_buf_puts(b, "</tr>\n");
        }
        ifs_buf_puts(b, "</table>\n");
    }
    free(rs);

    ifs_reduce_timing_view *tv = NULL;
    size_t nt = 0;
    if (ifs_reduce_timings(r, &tv, &nt)) {
        *rc = IFS_HTML_ENOMEM;
        return;
    }
    ifs_buf_puts(b, "<h3>Throughput and run facts</h3>\n");
    if (!nt) {
        ifs_buf_puts(b, "<p>The report carries no timings (written with --no-timings).</p>\n");
    } else {
        ifs_buf_puts(b, "<table id=\"timings\">\n");
        double wall = -1;
        for (size_t i = 0; i < nt; i++)
            if (!tv[i].is_fact && !strcmp(tv[i].name, "wall_s"))
                wall = tv[i].value;
        if (wall > 0) {
            snprintf(v, sizeof v, "%.1f records/s, %.1f tokens/s (over wall_s %.3f)",
                     (double)t.scored / wall, (double)t.tokens / wall, wall);
            kv(b, "throughput", v);
        }
        for (size_t i = 0; i < nt; i++) {
            if (tv[i].is_fact) {
                kv(b, tv[i].name, tv[i].fact);
            } else {
                snprintf(v, sizeof v, "%.6f", tv[i].value);
                kv(b, tv[i].name, v);
            }
        }
        ifs_buf_puts(b, "</table>\n");
    }
    free(tv);

    ifs_reduce_input_view *in = NULL;
    size_t ni = 0;
    if (ifs_reduce_inputs(r, &in, &ni)) {
        *rc = IFS_HTML_ENOMEM;
        return;
    }
    size_t cap = o->max_inputs ? o->max_inputs : 200;
    ifs_buf_printf(b,
                   "<h3>Inputs (%zu)</h3>\n<table id=\"inputs\">\n<tr><th>path</th>"
                   "<th>bytes</th><th>sha256</th><th>read</th><th>scored</th>"
                   "<th>rejected</th></tr>\n",
                   ni);
    for (size_t i = 0; i < ni && i < cap; i++) {
        ifs_buf_puts(b, "<tr><td><code>");
        ifs_mk_xml(b, in[i].path);
        ifs_buf_puts(b, "</code></td>");
        td_num(b, in[i].bytes);
        ifs_buf_printf(b, "<td><code title=\"%s\">%.12s</code></td>", in[i].sha256, in[i].sha256);
        td_num(b, in[i].read);
        td_num(b, in[i].scored);
        td_num(b, in[i].rejected);
        ifs_buf_puts(b, "</tr>\n");
    }
    ifs_buf_puts(b, "</table>\n");
    if (ni > cap)
        ifs_buf_printf(b, "<p>and %zu more inputs (the report lists them all).</p>\n", ni - cap);
    free(in);
    ifs_buf_puts(b, "</section>\n");
}

static void groups_table(ifs_buf *b, const ifs_reducer *r, int *rc)
{
    ifs_reduce_identity id;
    ifs_reduce_get_identity(r, &id);
    ifs_reduce_group_view *g;
    size_t n;
    if (ifs_reduce_groups(r, &g, &n)) {
        *rc = IFS_HTML_ENOMEM;
        return;
    }
    ifs_buf_printf(b,
                   "<details id=\"groups-table\"%s><summary>Every group's counts and figures "
                   "(%zu)</summary>\n<table>\n<tr>",
                   n <= 30 ? " open" : "", n);
    for (int32_t k = 0; k < id.n_keys; k++) {
        ifs_buf_puts(b, "<th>");
        ifs_mk_xml(b, id.keys[k]);
        ifs_buf_puts(b, "</th>");
    }
    ifs_buf_puts(b, "<th>n</th><th>answer-like</th><th>IFS [95% CI]</th><th>IFS_partial</th>"
                    "<th>IFS_full</th><th>gap</th><th>near threshold</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        ifs_buf_puts(b, "<tr>");
        for (int32_t k = 0; k < id.n_keys; k++) {
            ifs_buf_puts(b, "<td>");
            ifs_mk_xml(b, g[i].vals[k]);
            ifs_buf_puts(b, "</td>");
        }
        prop all = ifs_of(&g[i]), p = split_of(&g[i], IFS_ITYPE_PARTIAL),
             f = split_of(&g[i], IFS_ITYPE_FULL);
        uint64_t near = 0;
        for (int t = 0; t < 3; t++)
            near += g[i].c[t].near_threshold;
        td_num(b, all.n);
        td_num(b, all.k);
        td_prop(b, &all, 1);
        td_prop(b, &p, 0);
        td_prop(b, &f, 0);
        if (p.ok && f.ok) {
            ifs_buf_puts(b, "<td class=\"num\">");
            ifs_mk_signed(b, f.v - p.v, 3);
            ifs_buf_puts(b, "</td>");
        } else {
            ifs_buf_puts(b, "<td class=\"num\"></td>");
        }
        td_num(b, near);
        ifs_buf_puts(b, "</tr>\n");
    }
    ifs_buf_puts(b, "</table>\n</details>\n");
    free(g);
}

/* Measures navigation start to the end of layout and writes it into the DOM:
 * how long this page took to show, taken by the browser itself. */
static const char RENDER_SCRIPT[] =
    "<script>\n"
    "(function(){var b=document.body;b.getBoundingClientRect();"
    "var t=performance.now();b.setAttribute('data-render-ms',t.toFixed(1));"
    "var e=document.getElementById('render-ms');"
    "if(e)e.textContent=' Laid out in '+t.toFixed(0)+' ms.';})();\n"
    "</script>\n";

int ifs_html_page(const ifs_reducer *r, const ifs_html_opts *o, char **out, size_t *len, char *err,
                  size_t errlen)
{
    if (!out)
        return fail(err, errlen, IFS_HTML_EARG, "no output pointer");
    *out = NULL;
    if (len)
        *len = 0;
    if (!r)
        return fail(err, errlen, IFS_HTML_EARG, "no report");
    ifs_html_opts dflt;
    ifs_html_opts_init(&dflt);
    if (!o)
        o = &dflt;
    const char *title = o->title ? o->title : "ifscore report";
    ifs_buf b;
    if (ifs_mk_open(&b))
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    int rc = IFS_HTML_OK;
    ifs_reduce_totals t;
    ifs_reduce_get_totals(r, &t);

    ifs_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<meta name=\"generator\" content=\"ifscore ");
    ifs_mk_xml(&b, ifs_version_release());
    ifs_buf_puts(&b, "\">\n<title>");
    ifs_mk_xml(&b, title);
    ifs_buf_puts(&b, "</title>\n");
    ifs_buf_puts(&b, PAGE_STYLE);
    ifs_buf_puts(&b, "</head>\n<body>\n<main>\n<h1>");
    ifs_mk_xml(&b, title);
    ifs_buf_puts(&b, "</h1>\n<p class=\"sub\">");
    if (o->report_name) {
        ifs_buf_puts(&b, "<code>");
        ifs_mk_xml(&b, o->report_name);
        ifs_buf_puts(&b, "</code>: ");
    }
    ifs_buf_printf(&b,
                   "%llu lines read from %llu input%s, %llu scored, %llu rejected; "
                   "%llu group%s.",
                   (unsigned long long)t.read, (unsigned long long)t.n_inputs,
                   t.n_inputs == 1 ? "" : "s", (unsigned long long)t.scored,
                   (unsigned long long)t.rejected, (unsigned long long)t.n_groups,
                   t.n_groups == 1 ? "" : "s");
    ifs_buf_puts(&b, "</p>\n<nav>");
    if (o->comparison)
        ifs_buf_puts(&b, "<a href=\"#section-delta\">baseline</a>");
    ifs_buf_puts(&b, "<a href=\"#section-groups\">per group</a>"
                     "<a href=\"#section-partial-full\">partial vs full</a>"
                     "<a href=\"#section-curves\">curves</a>"
                     "<a href=\"#section-facts\">the run</a></nav>\n");

    if (o->comparison) {
        const ifs_compare_opts *co = ifs_compare_options(o->comparison);
        ifs_compare_summary s;
        ifs_compare_get_summary(o->comparison, &s);
        char *v = NULL;
        if (ifs_compare_render(o->comparison, IFS_CMP_FMT_VERDICT, &v, NULL, NULL, 0)) {
            rc = IFS_HTML_ENOMEM;
        } else {
            ifs_buf_puts(&b, "<section id=\"section-delta\">\n<h2>Against the baseline</h2>\n"
                             "<p>Candidate <code>");
            ifs_mk_xml(&b, co->candidate_name);
            ifs_buf_puts(&b, "</code> (this report) against baseline <code>");
            ifs_mk_xml(&b, co->baseline_name);
            ifs_buf_puts(&b, "</code>.</p>\n");
            if (s.identity_difference) {
                ifs_buf_puts(&b, "<p>Identity: ");
                ifs_mk_xml(&b, s.identity_difference);
                ifs_buf_puts(&b, " (compared anyway).</p>\n");
            }
            ifs_buf_printf(&b, "<p id=\"verdict\" class=\"verdict %s\">",
                           s.gate_failed ? "fail" : "pass");
            ifs_mk_xml(&b, v);
            ifs_buf_puts(&b, "</p>\n");
            free(v);
            char why[256];
            int x = draw(&b, r, o->comparison, IFS_CHART_DELTA, 0, why, sizeof why);
            if (x == IFS_HTML_ENODATA) {
                ifs_buf_puts(&b, "<p class=\"nodata\">Not drawn: ");
                ifs_mk_xml(&b, why);
                ifs_buf_puts(&b, ".</p>\n");
            } else if (x) {
                rc = x;
            }
            ifs_buf_puts(&b, "</section>\n");
        }
    }
    section_chart(&b, r, NULL, IFS_CHART_GROUPS, "IFS per group", &rc);
    groups_table(&b, r, &rc);
    section_chart(&b, r, NULL, IFS_CHART_PARTIAL_FULL, "Partial against full instructions", &rc);
    section_chart(&b, r, NULL, IFS_CHART_CURVES, "IFS over checkpoints", &rc);
    facts(&b, r, o, &rc);
    ifs_buf_puts(&b, "<footer>Written by ifscore ");
    ifs_mk_xml(&b, ifs_version_release());
    ifs_buf_puts(&b, " from the report's counts: every ratio, interval, curve and plateau "
                     "is recomputed (docs/report-schema.md, docs/compare.md).<span "
                     "id=\"render-ms\"></span></footer>\n</main>\n");
    ifs_buf_puts(&b, RENDER_SCRIPT);
    ifs_buf_puts(&b, "</body>\n</html>\n");
    if (rc) {
        ifs_buf_free(&b);
        return fail(err, errlen, rc, rc == IFS_HTML_ENOMEM ? "out of memory" : "bad argument");
    }
    if (ifs_mk_finish(&b, out, len))
        return fail(err, errlen, IFS_HTML_ENOMEM, "out of memory");
    return IFS_HTML_OK;
}
