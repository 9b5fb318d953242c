/*
 * ifs_html.h - a report as pictures: SVG charts drawn from a reducer's
 * counts, and one self-contained HTML page holding them with the run's
 * facts (no network, no external scripts, styles or fonts).
 *
 * Usage (what `ifscore report --html` does):
 *
 *     ifs_reducer *r;                                   // ifs_report_read
 *     ifs_html_opts o;
 *     ifs_html_opts_init(&o);
 *     o.report_name = "report.json";
 *     o.comparison = cmp;                               // optional (ifs_compare.h)
 *     char *page; size_t len; char err[256];
 *     if (ifs_html_page(r, &o, &page, &len, err, sizeof err)) { ... }
 *     free(page);
 *     char *svg;
 *     int rc = ifs_html_chart(r, NULL, IFS_CHART_CURVES, IFS_HTML_STANDALONE,
 *                             &svg, &len, err, sizeof err);
 *     if (rc == IFS_HTML_ENODATA) { ... this report has no curves ... }
 *
 * The charts (docs/compare.md, "The HTML report"):
 *   - groups: every group's IFS as a bar with its Wilson 95% interval,
 *     sorted by IFS, one row per group (readable at hundreds of groups);
 *   - partial-full: IFS_partial against IFS_full per group, with the
 *     diagonal (the paper's base-versus-instruct signal);
 *   - curves: each series' IFS over the checkpoint key with the plateau
 *     marked, partial and full dashed where the series has them;
 *   - delta: with a comparison, each group's change and its interval for
 *     every gated metric, regressions highlighted.
 * Every figure is recomputed from the counts (ifs_wilson95, the report's
 * curves and plateau), so a hand-edited ratio in a report cannot change
 * the picture. Output is a pure function of the counts and options.
 *
 * DOM contract (what tests and scripts may rely on): chart <svg> elements
 * have id "chart-<name>"; in "groups" each group is one rect.bar; in
 * "curves" each drawn series is one path.curve and each plateau one
 * circle.plateau; in "delta" each row is a g.row, with class "regression"
 * added when it regressed.
 *
 * Ownership: output is malloc'd, the caller frees it; inputs are borrowed
 * for the call. Nothing here prints or exits.
 */
#ifndef IFS_HTML_H
#define IFS_HTML_H

#include <stddef.h>

#include "ifs_compare.h"
#include "ifs_reduce.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    IFS_HTML_OK = 0,
    IFS_HTML_EARG = -1, /* NULL argument, unknown chart */
    IFS_HTML_ENOMEM = -2,
    IFS_HTML_ENODATA = -3, /* the chart has nothing to draw (err says why) */
};
const char *ifs_html_strerror(int rc);

typedef enum {
    IFS_CHART_GROUPS = 0,
    IFS_CHART_PARTIAL_FULL = 1,
    IFS_CHART_CURVES = 2,
    IFS_CHART_DELTA = 3, /* needs a comparison */
} ifs_chart;
#define IFS_CHART_COUNT 4

/* "groups", "partial-full", "curves", "delta" (file and id names). */
const char *ifs_chart_name(ifs_chart c);

/* ifs_html_chart flags. */
enum { IFS_HTML_STANDALONE = 1u << 0 }; /* an .svg file: XML prolog and namespace */

/* One chart as SVG. cmp is needed by IFS_CHART_DELTA only (NULL otherwise).
 * Returns IFS_HTML_OK, IFS_HTML_EARG, IFS_HTML_ENOMEM, IFS_HTML_ENODATA. */
int ifs_html_chart(const ifs_reducer *r, const ifs_comparison *cmp, ifs_chart which, unsigned flags,
                   char **out, size_t *len, char *err, size_t errlen);

typedef struct {
    const char *title;                /* NULL: "ifscore report" */
    const char *report_name;          /* shown as the source (e.g. its path); may be NULL */
    const ifs_comparison *comparison; /* NULL: no baseline section */
    size_t max_inputs;                /* inputs listed before "and N more"; 0: 200 */
} ifs_html_opts;

void ifs_html_opts_init(ifs_html_opts *o);

/* The page (UTF-8 HTML5). Charts with nothing to draw become a sentence
 * saying why. Returns IFS_HTML_OK, IFS_HTML_EARG, IFS_HTML_ENOMEM. */
int ifs_html_page(const ifs_reducer *r, const ifs_html_opts *o, char **out, size_t *len, char *err,
                  size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_HTML_H */
