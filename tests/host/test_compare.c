/*
 * test_compare.c - `ifscore compare` as a library, on reports with known
 * counts: Newcombe's published intervals, the regression rule at its
 * boundaries (max drop 0 and above), n = 0 on a side, identical and
 * all-equal counts, groups on one side only, the whole-run row, every
 * identity field, and the four renderings (text regressions first,
 * markdown table shape, JSON, JUnit counts and escaping).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ifs_compare.h"
#include "ifs_reduce.h"
#include "ifs_test.h"

#define SHA_W "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_X "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static const char *const LABELS[] = {"LABEL_0", "LABEL_1"};
static const char *const LABELS_B[] = {"continuation", "answer"};
static const char *const KEYS[] = {"model"};
static const char *const KEYS2[] = {"model", "step"};

/* One block of records of a group: k answer-like out of n, of one type. */
typedef struct {
    const char *model;
    int type; /* ifs_itype */
    int k, n;
} block;

static ifs_reducer *make(const ifs_reduce_config *cfg, const block *b, size_t nb)
{
    ifs_reduce_config c;
    if (cfg) {
        c = *cfg;
    } else {
        c = ifs_reduce_default_config();
        c.weights_sha256 = SHA_W;
        c.n_labels = 2;
        c.labels = LABELS;
        c.answer_label = 1;
        c.n_keys = 1;
        c.keys = KEYS;
    }
    ifs_reducer *r;
    char err[256];
    if (ifs_reduce_create(&c, &r, err, sizeof err)) {
        fprintf(stderr, "create: %s\n", err);
        exit(1);
    }
    int32_t in;
    char sha[65];
    static unsigned serial;
    snprintf(sha, sizeof sha, "%064x", ++serial);
    ifs_reduce_add_input(r, "a.jsonl", 1, sha, &in, NULL, 0);
    uint64_t lines = 0;
    for (size_t i = 0; i < nb; i++)
        for (int j = 0; j < b[i].n; j++) {
            const char *vals[] = {b[i].model, "0"};
            ifs_reduce_pred p = {vals, (ifs_itype)b[i].type, j < b[i].k ? 0.9 : 0.1, 8, 0};
            if (ifs_reduce_add(r, in, &p, 1, err, sizeof err)) {
                fprintf(stderr, "add: %s\n", err);
                exit(1);
            }
            lines++;
        }
    ifs_reduce_end_input(r, in, lines, NULL, 0);
    return r;
}

static ifs_comparison *run(const ifs_reducer *a, const ifs_reducer *b, const ifs_compare_opts *o,
                           int *rc, char *err, size_t errlen)
{
    ifs_compare_opts d;
    ifs_compare_opts_init(&d);
    ifs_comparison *c = NULL;
    *rc = ifs_compare(a, b, o ? o : &d, &c, err, errlen);
    return c;
}

static const ifs_compare_row *row_of(const ifs_comparison *c, const char *label)
{
    ifs_compare_summary s;
    ifs_compare_get_summary(c, &s);
    for (size_t i = 0; i < s.n_rows; i++) {
        const ifs_compare_row *r = ifs_compare_row_at(c, i);
        if (!strcmp(r->label, label))
            return r;
    }
    return NULL;
}

/* --- Newcombe's published intervals ---------------------------------------- */

static void test_newcombe(void)
{
    /* Newcombe (1998), "Interval estimation for the difference between
     * independent proportions: comparison of eleven methods", Stat Med
     * 17:873-890, Table II, method 10 (hybrid score, no continuity
     * correction); 4 decimals. */
    static const struct {
        const char *name;
        uint64_t k1, n1, k2, n2;
        double lo, hi;
    } cases[] = {
        {"newcombe_a_56_of_70_minus_48_of_80", 56, 70, 48, 80, 0.0524, 0.3339},
        {"newcombe_b_9_of_10_minus_3_of_10", 9, 10, 3, 10, 0.1705, 0.8090},
        {"newcombe_c_6_of_7_minus_2_of_7", 6, 7, 2, 7, 0.0582, 0.8062},
        {"newcombe_d_5_of_56_minus_0_of_29", 5, 56, 0, 29, -0.0381, 0.1926},
        {"newcombe_e_0_of_10_minus_0_of_20", 0, 10, 0, 20, -0.1611, 0.2775},
        {"newcombe_f_0_of_10_minus_0_of_10", 0, 10, 0, 10, -0.2775, 0.2775},
        {"newcombe_g_10_of_10_minus_0_of_20", 10, 10, 0, 20, 0.6791, 1.0000},
        {"newcombe_h_10_of_10_minus_0_of_10", 10, 10, 0, 10, 0.6075, 1.0000},
        {"a_difference_with_no_records_on_a_side_is_the_whole_range", 3, 5, 0, 0, -1.0, 1.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double lo, hi;
        ifs_newcombe95(cases[i].k1, cases[i].n1, cases[i].k2, cases[i].n2, &lo, &hi);
        IFS_CHECK(fabs(lo - cases[i].lo) < 5e-5 && fabs(hi - cases[i].hi) < 5e-5,
                  "%s: [%.6f, %.6f], want [%.4f, %.4f]", cases[i].name, lo, hi, cases[i].lo,
                  cases[i].hi);
    }
}

/* --- the regression rule ----------------------------------------------------- */

static void test_rule(void)
{
    /* Baseline 80 of 100 answer-like. Candidate k of 100: Newcombe's upper
     * bound for k/100 - 0.8 is -0.007490 at k = 67 and +0.001782 at k = 68
     * (python, from the same published formula), -0.073119 at k = 60. */
    static const struct {
        const char *name;
        int k_cand, n_cand;
        double max_drop;
        int regression;
    } cases[] = {
        {"a_drop_whose_interval_lies_below_zero_regresses", 67, 100, 0.0, 1},
        {"a_drop_whose_interval_reaches_zero_does_not_regress", 68, 100, 0.0, 0},
        {"an_upper_bound_just_below_minus_max_drop_regresses", 67, 100, 0.0074, 1},
        {"an_upper_bound_just_above_minus_max_drop_does_not_regress", 67, 100, 0.0075, 0},
        {"a_large_drop_regresses_past_a_tolerated_drop", 60, 100, 0.07, 1},
        {"a_large_drop_within_the_tolerated_drop_does_not_regress", 60, 100, 0.08, 0},
        {"a_rise_never_regresses", 95, 100, 0.0, 0},
        {"identical_counts_never_regress", 80, 100, 0.0, 0},
        {"a_small_sample_cannot_show_a_drop", 2, 3, 0.0, 0},
        {"a_collapse_to_zero_regresses", 0, 20, 0.0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        block b = {"m", IFS_ITYPE_NONE, 80, 100};
        block c = {"m", IFS_ITYPE_NONE, cases[i].k_cand, cases[i].n_cand};
        ifs_reducer *rb = make(NULL, &b, 1), *rc_ = make(NULL, &c, 1);
        ifs_compare_opts o;
        ifs_compare_opts_init(&o);
        o.max_drop = cases[i].max_drop;
        int rc;
        char err[256];
        ifs_comparison *cmp = run(rb, rc_, &o, &rc, err, sizeof err);
        IFS_CHECK(rc == IFS_CMP_OK, "%s: compare failed: %s", cases[i].name, err);
        if (!rc) {
            const ifs_compare_row *r = row_of(cmp, "m");
            ifs_compare_summary s;
            ifs_compare_get_summary(cmp, &s);
            IFS_CHECK(r && r->regression == cases[i].regression,
                      "%s: regression %d, want %d (hi %.6f)", cases[i].name, r ? r->regression : -1,
                      cases[i].regression, r ? r->m[0].hi : 0.0);
            IFS_CHECK(s.gate_failed == cases[i].regression, "%s: gate_failed %d", cases[i].name,
                      s.gate_failed);
            IFS_CHECK(r && fabs(r->m[0].delta - ((double)cases[i].k_cand / cases[i].n_cand - 0.8)) <
                               1e-12,
                      "%s: delta %.6f", cases[i].name, r ? r->m[0].delta : 0.0);
        }
        ifs_compare_free(cmp);
        ifs_reduce_free(rb);
        ifs_reduce_free(rc_);
    }
}

/* --- edge cases --------------------------------------------------------------- */

static void test_edges(void)
{
    int rc;
    char err[512];
    ifs_compare_summary s;
    const ifs_compare_row *r;

    /* All-equal counts at the extremes, with one record and with many. */
    {
        block b[] = {
            {"zero1", 0, 0, 1}, {"one1", 0, 1, 1}, {"zero50", 0, 0, 50}, {"all50", 0, 50, 50}};
        ifs_reducer *x = make(NULL, b, 4), *y = make(NULL, b, 4);
        ifs_compare_opts o;
        ifs_compare_opts_init(&o);
        o.gate = IFS_CMP_GATE_ALL;
        ifs_comparison *c = run(x, y, &o, &rc, err, sizeof err);
        ifs_compare_get_summary(c, &s);
        IFS_CHECK(rc == 0 && !s.gate_failed && s.regressions == 0,
                  "all_equal_counts_at_0_and_n_never_regress: rc %d, %zu regressions", rc,
                  s.regressions);
        r = row_of(c, "all50");
        IFS_CHECK(r && r->m[0].delta == 0 && r->m[0].lo < 0 && r->m[0].hi > 0,
                  "an_all_equal_interval_contains_zero_on_both_sides");
        IFS_CHECK(s.groups_both == 4 && s.base_only == 0 && s.cand_only == 0,
                  "identical_reports_pair_every_group");
        ifs_compare_free(c);
        ifs_reduce_free(x);
        ifs_reduce_free(y);
    }
    /* n = 0 on one side for the gated split. */
    {
        block b[] = {{"m", IFS_ITYPE_PARTIAL, 40, 40}, {"m", IFS_ITYPE_FULL, 40, 40}};
        block c2[] = {{"m", IFS_ITYPE_FULL, 40, 40}};
        ifs_reducer *x = make(NULL, b, 2), *y = make(NULL, c2, 1);
        ifs_compare_opts o;
        ifs_compare_opts_init(&o);
        o.gate = IFS_CMP_GATE_PARTIAL;
        ifs_comparison *c = run(x, y, &o, &rc, err, sizeof err);
        ifs_compare_get_summary(c, &s);
        r = row_of(c, "m");
        IFS_CHECK(r && !r->m[IFS_CMP_PARTIAL].comparable && r->m[IFS_CMP_PARTIAL].has_base &&
                      !r->m[IFS_CMP_PARTIAL].has_cand && !r->regression,
                  "a_split_with_no_records_on_a_side_is_not_comparable_and_never_regresses");
        IFS_CHECK(s.not_comparable == 2 && !s.gate_failed,
                  "not_comparable_figures_are_counted_and_pass_the_gate: %zu", s.not_comparable);
        IFS_CHECK(r && !r->m[IFS_CMP_GAP].comparable, "the_gap_needs_both_splits_on_both_sides");
        ifs_compare_free(c);
        ifs_reduce_free(x);
        ifs_reduce_free(y);
    }
    /* Groups on one side only. */
    {
        block b[] = {{"both", 0, 5, 10}, {"old", 0, 5, 10}};
        block c2[] = {{"both", 0, 5, 10}, {"new", 0, 5, 10}};
        ifs_reducer *x = make(NULL, b, 2), *y = make(NULL, c2, 2);
        ifs_comparison *c = run(x, y, NULL, &rc, err, sizeof err);
        ifs_compare_get_summary(c, &s);
        IFS_CHECK(rc == 0 && s.base_only == 1 && s.cand_only == 1 && s.groups_both == 1 &&
                      !s.gate_failed,
                  "groups_on_one_side_are_listed_and_pass_the_gate_by_default");
        r = row_of(c, "old");
        IFS_CHECK(r && r->side == IFS_CMP_SIDE_BASELINE && !r->fails_gate,
                  "a_group_only_in_the_baseline_is_marked_so");
        r = row_of(c, "new");
        IFS_CHECK(r && r->side == IFS_CMP_SIDE_CANDIDATE && !r->m[0].comparable,
                  "a_group_only_in_the_candidate_is_marked_so");
        ifs_compare_free(c);
        ifs_compare_opts o;
        ifs_compare_opts_init(&o);
        o.require_same_groups = 1;
        c = run(x, y, &o, &rc, err, sizeof err);
        ifs_compare_get_summary(c, &s);
        IFS_CHECK(rc == 0 && s.gate_failed && s.regressions == 0,
                  "require_same_groups_fails_the_gate_without_a_regression");
        ifs_compare_free(c);
        ifs_reduce_free(x);
        ifs_reduce_free(y);
    }
    /* What gates. */
    {
        /* partial 30/30 -> 18/30 (significant), full 35/70 -> 45/70 (rise),
         * IFS 65/100 -> 63/100 (not significant). */
        block b[] = {{"m", IFS_ITYPE_PARTIAL, 30, 30}, {"m", IFS_ITYPE_FULL, 35, 70}};
        block c2[] = {{"m", IFS_ITYPE_PARTIAL, 18, 30}, {"m", IFS_ITYPE_FULL, 45, 70}};
        ifs_reducer *x = make(NULL, b, 2), *y = make(NULL, c2, 2);
        static const struct {
            const char *name;
            const char *metric;
            int regression;
        } gates[] = {
            {"gating_on_ifs_ignores_a_drop_in_one_split", "ifs", 0},
            {"gating_on_ifs_partial_catches_it", "ifs_partial", 1},
            {"gating_on_ifs_full_ignores_a_drop_elsewhere", "ifs_full", 0},
            {"gating_on_all_catches_any_split", "all", 1},
        };
        for (size_t i = 0; i < sizeof gates / sizeof gates[0]; i++) {
            ifs_compare_opts o;
            ifs_compare_opts_init(&o);
            IFS_CHECK(ifs_compare_metric_parse(gates[i].metric, &o.gate) == 0, "%s: parse",
                      gates[i].name);
            ifs_comparison *c = run(x, y, &o, &rc, err, sizeof err);
            r = row_of(c, "m");
            IFS_CHECK(r && r->regression == gates[i].regression, "%s: %d", gates[i].name,
                      r ? r->regression : -1);
            IFS_CHECK(r && r->m[IFS_CMP_PARTIAL].regression == (gates[i].regression != 0),
                      "%s: only gated metrics are flagged", gates[i].name);
            ifs_compare_free(c);
        }
        unsigned g;
        IFS_CHECK(ifs_compare_metric_parse("gap", &g) == IFS_CMP_EARG,
                  "the_gap_is_not_a_gate_metric");
        ifs_reduce_free(x);
        ifs_reduce_free(y);
    }
    /* The gap's change: identical gaps give 0 and the square-and-add
     * interval of the two Newcombe gap intervals: +-0.199244 for full
     * 56/70, partial 48/80 on both sides. */
    {
        block b[] = {{"m", IFS_ITYPE_PARTIAL, 48, 80}, {"m", IFS_ITYPE_FULL, 56, 70}};
        ifs_reducer *x = make(NULL, b, 2), *y = make(NULL, b, 2);
        ifs_comparison *c = run(x, y, NULL, &rc, err, sizeof err);
        r = row_of(c, "m");
        IFS_CHECK(r && r->m[IFS_CMP_GAP].comparable && fabs(r->m[IFS_CMP_GAP].base - 0.2) < 1e-12 &&
                      fabs(r->m[IFS_CMP_GAP].hi - 0.199244) < 1e-6 &&
                      fabs(r->m[IFS_CMP_GAP].lo + 0.199244) < 1e-6,
                  "the_gap_change_interval_adds_the_two_gap_intervals_in_squares: [%f, %f]",
                  r ? r->m[IFS_CMP_GAP].lo : 0, r ? r->m[IFS_CMP_GAP].hi : 0);
        IFS_CHECK(r && fabs(r->m[IFS_CMP_GAP].base_lo - 0.052431) < 1e-6,
                  "each_sides_gap_interval_is_newcombes: %f", r ? r->m[IFS_CMP_GAP].base_lo : 0);
        ifs_compare_free(c);
        ifs_reduce_free(x);
        ifs_reduce_free(y);
    }
    /* The whole run: 10 groups each 8/10 -> 6/10, none significant alone. */
    {
        block b[10], c2[10];
        static const char *names[] = {"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"};
        for (int i = 0; i < 10; i++) {
            b[i] = (block){names[i], 0, 8, 10};
            c2[i] = (block){names[i], 0, 6, 10};
        }
        ifs_reducer *x = make(NULL, b, 10), *y = make(NULL, c2, 10);
        ifs_comparison *c = run(x, y, NULL, &rc, err, sizeof err);
        ifs_compare_get_summary(c, &s);
        const ifs_compare_row *t = ifs_compare_row_at(c, 0);
        IFS_CHECK(t && t->is_total && t->regression && s.regressions == 1 && s.gate_failed,
                  "the_whole_run_regresses_when_no_single_group_does");
        IFS_CHECK(t && t->m[0].n_base == 100 && t->m[0].k_cand == 60,
                  "the_whole_run_sums_every_group");
        char *v;
        ifs_compare_render(c, IFS_CMP_FMT_VERDICT, &v, NULL, NULL, 0);
        IFS_CHECK(v && strstr(v, "REGRESSION in the whole run"),
                  "the_verdict_says_the_whole_run_fell: %s", v ? v : "");
        free(v);
        ifs_compare_free(c);
        ifs_reduce_free(x);
        ifs_reduce_free(y);
    }
    /* Bad options. */
    {
        block b = {"m", 0, 1, 2};
        ifs_reducer *x = make(NULL, &b, 1);
        ifs_compare_opts o;
        ifs_compare_opts_init(&o);
        o.max_drop = 1.5;
        ifs_comparison *c = run(x, x, &o, &rc, err, sizeof err);
        IFS_CHECK(rc == IFS_CMP_EARG && !c, "a_max_drop_above_one_is_refused");
        o.max_drop = NAN;
        c = run(x, x, &o, &rc, err, sizeof err);
        IFS_CHECK(rc == IFS_CMP_EARG && !c, "a_nan_max_drop_is_refused");
        ifs_compare_opts_init(&o);
        o.gate = 0;
        c = run(x, x, &o, &rc, err, sizeof err);
        IFS_CHECK(rc == IFS_CMP_EARG && !c, "no_gated_metric_is_refused");
        ifs_reduce_free(x);
        ifs_compare_free(NULL);
    }
}

/* --- identity ---------------------------------------------------------------- */

static void test_identity(void)
{
    static const struct {
        const char *name;
        int what;
        const char *field; /* must appear in the message */
    } cases[] = {
        {"different_weights_are_refused", 0, "classifier.weights_sha256"},
        {"different_label_names_are_refused", 1, "classifier.labels"},
        {"a_different_answer_label_is_refused", 2, "classifier.answer_label"},
        {"a_different_threshold_is_refused", 3, "threshold"},
        {"a_different_near_margin_is_refused", 4, "near_margin"},
        {"a_different_lowercasing_is_refused", 5, "tokenizer"},
        {"different_accent_stripping_is_refused", 6, "tokenizer"},
        {"different_chinese_splitting_is_refused", 7, "tokenizer"},
        {"a_different_max_length_is_refused", 8, "max_length"},
    };
    block b = {"m", 0, 5, 10};
    ifs_reducer *base = make(NULL, &b, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ifs_reduce_config c = ifs_reduce_default_config();
        c.weights_sha256 = SHA_W;
        c.n_labels = 2;
        c.labels = LABELS;
        c.answer_label = 1;
        c.n_keys = 1;
        c.keys = KEYS;
        switch (cases[i].what) {
        case 0: c.weights_sha256 = SHA_X; break;
        case 1: c.labels = LABELS_B; break;
        case 2: c.answer_label = 0; break;
        case 3: c.threshold = 0.6; break;
        case 4: c.near_margin = 0.02; break;
        case 5: c.do_lower_case = 0; break;
        case 6: c.strip_accents = 1; break;
        case 7: c.tokenize_chinese_chars = 0; break;
        case 8: c.max_length = 128; break;
        }
        ifs_reducer *cand = make(&c, &b, 1);
        int rc;
        char err[512] = "";
        ifs_comparison *cmp = run(base, cand, NULL, &rc, err, sizeof err);
        IFS_CHECK(rc == IFS_CMP_EIDENTITY && !cmp && strstr(err, cases[i].field),
                  "%s: rc %d, err '%s'", cases[i].name, rc, err);
        ifs_compare_opts o;
        ifs_compare_opts_init(&o);
        o.allow_identity_change = 1;
        cmp = run(base, cand, &o, &rc, err, sizeof err);
        ifs_compare_summary s;
        ifs_compare_get_summary(cmp, &s);
        IFS_CHECK(rc == 0 && s.identity_difference && strstr(s.identity_difference, cases[i].field),
                  "%s: allowed, the difference is reported", cases[i].name);
        ifs_compare_free(cmp);
        ifs_reduce_free(cand);
    }
    /* Grouping: never comparable, even when allowed. */
    ifs_reduce_config c = ifs_reduce_default_config();
    c.weights_sha256 = SHA_W;
    c.n_labels = 2;
    c.labels = LABELS;
    c.answer_label = 1;
    c.n_keys = 2;
    c.keys = KEYS2;
    ifs_reducer *cand = make(&c, &b, 1);
    ifs_compare_opts o;
    ifs_compare_opts_init(&o);
    o.allow_identity_change = 1;
    int rc;
    char err[512] = "";
    ifs_comparison *cmp = run(base, cand, &o, &rc, err, sizeof err);
    IFS_CHECK(rc == IFS_CMP_EGROUPING && !cmp && strstr(err, "model vs model,step"),
              "different_group_by_keys_are_refused_even_when_allowed: %s", err);
    ifs_reduce_free(cand);
    ifs_reduce_free(base);
}

/* --- renderings -------------------------------------------------------------- */

static size_t count(const char *s, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = s; (p = strstr(p, needle)); p += k)
        n++;
    return n;
}

static void test_render(void)
{
    /* Two regressions (b-fell, d<&fell), one unchanged, one only in the
     * baseline; a control character and XML specials in a name. */
    block b[] = {{"a-same", 0, 40, 50},
                 {"b-fell", 0, 45, 50},
                 {"c-old", 0, 5, 10},
                 {"d<&\x01\"fell", 0, 50, 50}};
    block c2[] = {{"a-same", 0, 40, 50}, {"b-fell", 0, 10, 50}, {"d<&\x01\"fell", 0, 20, 50}};
    ifs_reducer *x = make(NULL, b, 4), *y = make(NULL, c2, 3);
    ifs_compare_opts o;
    ifs_compare_opts_init(&o);
    o.baseline_name = "base&.json";
    o.candidate_name = "cand.json";
    int rc;
    char err[256];
    ifs_comparison *c = run(x, y, &o, &rc, err, sizeof err);
    IFS_CHECK(rc == 0, "render setup: %s", err);
    char *t = NULL;
    size_t len = 0;

    IFS_CHECK(ifs_compare_render(c, IFS_CMP_FMT_TEXT, &t, &len, err, sizeof err) == 0 &&
                  len == strlen(t),
              "text_renders");
    const char *first = t ? strstr(t, "\nREGRESSION") : NULL;
    const char *ok = t ? strstr(t, "\nok ") : NULL;
    const char *old = t ? strstr(t, "only in baseline") : NULL;
    IFS_CHECK(first && ok && old && first < old && old < ok,
              "text_lists_regressions_first_then_one_sided_groups_then_the_rest");
    IFS_CHECK(t && strstr(t, "REGRESSION in 2 of 3 groups: b-fell, d<&"),
              "text_names_the_regressed_groups");
    IFS_CHECK(t && !strchr(t, '\x01'), "text_has_no_control_characters");
    free(t);

    IFS_CHECK(ifs_compare_render(c, IFS_CMP_FMT_MARKDOWN, &t, &len, err, sizeof err) == 0,
              "markdown_renders");
    if (t) {
        IFS_CHECK(strstr(t, "### ifscore compare: ") && strstr(t, "regression"),
                  "markdown_opens_with_the_verdict");
        /* Every table line has as many cells as the header. */
        const char *hdr = strstr(t, "\n| status |");
        size_t cols = 0, lines = 0, bad = 0;
        for (const char *p = hdr ? hdr + 1 : NULL; p && *p == '|';) {
            const char *e = strchr(p, '\n');
            size_t n = 0;
            for (const char *q = p; q < e; q++)
                n += *q == '|' && (q == p || q[-1] != '\\');
            if (!cols)
                cols = n;
            bad += n != cols;
            lines++;
            p = e + 1;
        }
        IFS_CHECK(hdr && cols == 11 && lines == 2 + 5 && !bad,
                  "markdown_table_rows_have_the_headers_cell_count: %zu cols, %zu lines, %zu bad",
                  cols, lines, bad);
        IFS_CHECK(strstr(t, "| **REGRESSION** | b-fell |") != NULL,
                  "markdown_marks_regressions_in_bold_first");
        IFS_CHECK(strstr(t, "d&lt;&amp;") && !strstr(t, "d<&"), "markdown_escapes_html");
        IFS_CHECK(count(t, "**") >= 8, "markdown_bolds_the_regressed_deltas");
    }
    free(t);

    IFS_CHECK(ifs_compare_render(c, IFS_CMP_FMT_JSON, &t, &len, err, sizeof err) == 0,
              "json_renders");
    cJSON *j = t ? cJSON_ParseWithLength(t, len) : NULL;
    IFS_CHECK(j != NULL, "json_is_valid_json");
    if (j) {
        const cJSON *res = cJSON_GetObjectItem(j, "result");
        const cJSON *reg = cJSON_GetObjectItem(j, "regressed");
        const cJSON *groups = cJSON_GetObjectItem(j, "groups");
        IFS_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(res, "gate_failed")) &&
                      cJSON_GetObjectItem(res, "regressed_groups")->valuedouble == 2 &&
                      cJSON_IsTrue(cJSON_GetObjectItem(res, "whole_run_regressed")),
                  "json_result_counts_the_regressed_groups_and_the_run");
        IFS_CHECK(cJSON_GetArraySize(reg) == 2 &&
                      !strcmp(cJSON_GetArrayItem(reg, 0)->valuestring, "b-fell"),
                  "json_lists_the_regressed_groups");
        IFS_CHECK(cJSON_GetArraySize(groups) == 4, "json_has_every_group");
        const cJSON *g1 = cJSON_GetArrayItem(groups, 1);
        const cJSON *ifs = cJSON_GetObjectItem(cJSON_GetObjectItem(g1, "metrics"), "ifs");
        IFS_CHECK(ifs &&
                      cJSON_GetObjectItem(cJSON_GetObjectItem(ifs, "baseline"), "n")->valuedouble ==
                          50 &&
                      fabs(cJSON_GetObjectItem(ifs, "delta")->valuedouble + 0.7) < 1e-9 &&
                      cJSON_IsTrue(cJSON_GetObjectItem(ifs, "regression")),
                  "json_carries_counts_delta_and_verdict_per_metric");
        const cJSON *g2 = cJSON_GetArrayItem(groups, 2);
        IFS_CHECK(!strcmp(cJSON_GetObjectItem(g2, "side")->valuestring, "baseline") &&
                      cJSON_IsNull(cJSON_GetObjectItem(
                          cJSON_GetObjectItem(cJSON_GetObjectItem(g2, "metrics"), "ifs"), "delta")),
                  "json_marks_one_sided_groups_with_null_deltas");
    }
    cJSON_Delete(j);
    free(t);

    IFS_CHECK(ifs_compare_render(c, IFS_CMP_FMT_JUNIT, &t, &len, err, sizeof err) == 0,
              "junit_renders");
    if (t) {
        IFS_CHECK(count(t, "<testcase ") == 5, "junit_has_one_testcase_per_group_and_the_run");
        IFS_CHECK(count(t, "<failure type=\"regression\"") == 3,
                  "junit_has_a_failure_per_regression: %zu",
                  count(t, "<failure type=\"regression\""));
        IFS_CHECK(strstr(t, "tests=\"5\" failures=\"3\" errors=\"0\" skipped=\"1\"") != NULL,
                  "junit_suite_counts_agree_with_its_testcases");
        IFS_CHECK(count(t, "<skipped ") == 1, "junit_skips_a_group_on_one_side");
        IFS_CHECK(!strchr(t, '\x01') && strstr(t, "d&lt;&amp;\xEF\xBF\xBD&quot;fell"),
                  "junit_escapes_names_and_replaces_characters_xml_cannot_hold");
        IFS_CHECK(strstr(t, "value=\"base&amp;.json\"") != NULL, "junit_names_the_baseline");
        IFS_CHECK(strstr(t, "IFS 0.900 (45/50) -&gt; 0.200 (10/50): -0.700") != NULL,
                  "junit_failure_message_gives_the_counts_and_the_change");
    }
    free(t);
    ifs_compare_format f;
    IFS_CHECK(ifs_compare_format_parse("junit", &f) == 0 && f == IFS_CMP_FMT_JUNIT &&
                  ifs_compare_format_parse("xml", &f) == IFS_CMP_EARG,
              "format_names_parse");
    IFS_CHECK(ifs_compare_render(c, (ifs_compare_format)99, &t, &len, err, sizeof err) ==
                      IFS_CMP_EARG &&
                  !t,
              "an_unknown_format_is_refused");
    ifs_compare_free(c);
    ifs_reduce_free(x);
    ifs_reduce_free(y);
}

int main(void)
{
    test_newcombe();
    test_rule();
    test_edges();
    test_identity();
    test_render();
    return ifs_test_done("compare");
}
