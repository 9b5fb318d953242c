/*
 * ifs_compare.h - a baseline report against a candidate: per group (and for
 * the whole run) the change in IFS, IFS_partial, IFS_full and the
 * full-minus-partial gap with 95% intervals, the regression rule that gates
 * a nightly job, and the result as text, markdown, JSON or JUnit XML.
 * docs/compare.md defines every figure and edge case.
 *
 * Usage (what `ifscore compare` does):
 *
 *     ifs_reducer *base, *cand;                       // ifs_report_read (untrusted input)
 *     ifs_compare_opts o;
 *     ifs_compare_opts_init(&o);                      // gate on IFS, max drop 0
 *     o.baseline_name = "nightly-1.json"; o.candidate_name = "nightly-2.json";
 *     ifs_comparison *c;
 *     char err[512];
 *     int rc = ifs_compare(base, cand, &o, &c, err, sizeof err);
 *     if (rc == IFS_CMP_EIDENTITY) { ... err names the field that differs ... }
 *     ifs_compare_summary s;
 *     ifs_compare_get_summary(c, &s);                 // s.gate_failed -> exit 4
 *     char *txt; size_t len;
 *     ifs_compare_render(c, IFS_CMP_FMT_JUNIT, &txt, &len, err, sizeof err);
 *     free(txt);
 *     ifs_compare_free(c);
 *
 * The rule (docs/compare.md, "The regression rule"): for a gated metric of a
 * row with records on both sides, delta = candidate - baseline and [lo, hi]
 * its Newcombe 95% interval; the row regresses iff hi < -max_drop (the whole
 * interval lies below -max_drop; a bound equal to it does not regress). A
 * metric with no records on a side is "not comparable" and never regresses.
 * Identical counts never regress (their interval always contains 0).
 *
 * Ownership: the comparison copies what it needs (key names and values,
 * display names); the reducers may be freed once ifs_compare returns. Rows
 * and strings it hands out are borrowed until ifs_compare_free. Rendered
 * text is malloc'd; the caller frees it. Nothing here prints or exits.
 */
#ifndef IFS_COMPARE_H
#define IFS_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_reduce.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    IFS_CMP_OK = 0,
    IFS_CMP_EARG = -1, /* NULL argument, max_drop outside [0, 1], no metric gated */
    IFS_CMP_ENOMEM = -2,
    IFS_CMP_EIDENTITY = -3, /* classifier or tokenizer differ (err names the field and
                               both values); allow_identity_change compares anyway */
    IFS_CMP_EGROUPING = -4, /* group-by keys differ: groups cannot be paired */
};
/* Words for a status; static storage. */
const char *ifs_compare_strerror(int rc);

/* The four figures compared, in this order everywhere. */
typedef enum {
    IFS_CMP_IFS = 0,
    IFS_CMP_PARTIAL = 1,
    IFS_CMP_FULL = 2,
    IFS_CMP_GAP = 3, /* IFS_full - IFS_partial; shown, never gated */
} ifs_cmp_metric;
#define IFS_CMP_N_METRICS 4

/* Gate bits: which metrics decide the verdict. */
enum {
    IFS_CMP_GATE_IFS = 1u << IFS_CMP_IFS,
    IFS_CMP_GATE_PARTIAL = 1u << IFS_CMP_PARTIAL,
    IFS_CMP_GATE_FULL = 1u << IFS_CMP_FULL,
    IFS_CMP_GATE_ALL = IFS_CMP_GATE_IFS | IFS_CMP_GATE_PARTIAL | IFS_CMP_GATE_FULL,
};
/* "ifs", "ifs_partial", "ifs_full", "all" -> *gate. IFS_CMP_EARG otherwise. */
int ifs_compare_metric_parse(const char *name, unsigned *gate);
/* "ifs", "ifs_partial", "ifs_full", "gap": the JSON names; static storage. */
const char *ifs_compare_metric_name(ifs_cmp_metric m);

typedef struct {
    double max_drop;            /* in [0, 1]; default 0 ("significantly lower") */
    unsigned gate;              /* IFS_CMP_GATE_* bits; default IFS_CMP_GATE_IFS */
    int require_same_groups;    /* a group on one side only fails the gate */
    int allow_identity_change;  /* compare despite a classifier/tokenizer difference */
    const char *baseline_name;  /* shown in every output (copied); NULL: "baseline" */
    const char *candidate_name; /* NULL: "candidate" */
} ifs_compare_opts;

void ifs_compare_opts_init(ifs_compare_opts *o);

/* One metric of one row. Counts are answer-like (k) over records (n) of the
 * metric's instruction types; for the gap they are the full split's (the
 * partial split's are in IFS_CMP_PARTIAL). */
typedef struct {
    uint64_t k_base, n_base, k_cand, n_cand;
    int has_base, has_cand;                    /* the figure is defined on that side (n > 0) */
    double base, cand;                         /* the figures, valid where has_* */
    double base_lo, base_hi, cand_lo, cand_hi; /* their own 95% intervals */
    int comparable;                            /* has_base && has_cand */
    double delta, lo, hi; /* cand - base and its 95% interval (comparable only) */
    int gated;            /* the gate looks at this metric */
    int regression;       /* gated && comparable && hi < -max_drop */
} ifs_compare_cell;

typedef enum {
    IFS_CMP_SIDE_BOTH = 0,
    IFS_CMP_SIDE_BASELINE = 1,  /* the group is only in the baseline */
    IFS_CMP_SIDE_CANDIDATE = 2, /* only in the candidate */
} ifs_cmp_side;

typedef struct {
    int is_total;            /* the whole run (every group of each side) */
    const char *const *vals; /* [n_keys] key values; NULL for the total */
    const char *label;       /* "value" for one key, "k1=v1, k2=v2" for more,
                                   "(whole run)" for the total */
    ifs_cmp_side side;
    ifs_compare_cell m[IFS_CMP_N_METRICS];
    int regression; /* some gated metric regressed */
    int fails_gate; /* regression, or one-sided with require_same_groups */
} ifs_compare_row;

typedef struct {
    size_t n_rows; /* the total (row 0) + every group of either side */
    size_t groups_both, base_only, cand_only;
    size_t regressions;              /* rows that regressed, the total included */
    size_t not_comparable;           /* gated metrics of two-sided rows without records
                                   on a side */
    int gate_failed;                 /* some row fails the gate: `compare` exits 4 */
    const char *identity_difference; /* NULL, or the first identity field that
                                   differs (allow_identity_change) */
} ifs_compare_summary;

typedef struct ifs_comparison ifs_comparison;

/* Compares. Returns IFS_CMP_OK and *out (free with ifs_compare_free),
 * IFS_CMP_EARG, IFS_CMP_ENOMEM, IFS_CMP_EGROUPING, or IFS_CMP_EIDENTITY
 * (unless allow_identity_change); err says why. */
int ifs_compare(const ifs_reducer *base, const ifs_reducer *cand, const ifs_compare_opts *o,
                ifs_comparison **out, char *err, size_t errlen);
void ifs_compare_free(ifs_comparison *c);

void ifs_compare_get_summary(const ifs_comparison *c, ifs_compare_summary *s);
/* Row i in report order: 0 is the whole run, then the groups of both sides
 * in key order. NULL when i >= n_rows. */
const ifs_compare_row *ifs_compare_row_at(const ifs_comparison *c, size_t i);
/* The group-by keys (borrowed): *names gets [n] names. */
int32_t ifs_compare_keys(const ifs_comparison *c, const char *const **names);
/* The options the comparison ran with (names resolved, borrowed). */
const ifs_compare_opts *ifs_compare_options(const ifs_comparison *c);

typedef enum {
    IFS_CMP_FMT_TEXT = 0,     /* aligned table, regressions first */
    IFS_CMP_FMT_MARKDOWN = 1, /* a verdict line and a GitHub table (CI job summaries) */
    IFS_CMP_FMT_JSON = 2,     /* every figure and count (docs/compare.md) */
    IFS_CMP_FMT_JUNIT = 3,    /* one testcase per row, a failure per regression */
    IFS_CMP_FMT_VERDICT = 4,  /* the verdict sentence alone, one line (no newline) */
} ifs_compare_format;

/* "text", "markdown" (or "md"), "json", "junit" -> *fmt; IFS_CMP_EARG otherwise. */
int ifs_compare_format_parse(const char *name, ifs_compare_format *fmt);

/* Renders (NUL-terminated; *len excludes the NUL). IFS_CMP_OK, EARG, ENOMEM. */
int ifs_compare_render(const ifs_comparison *c, ifs_compare_format fmt, char **out, size_t *len,
                       char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_COMPARE_H */
