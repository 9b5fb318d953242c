/*
 * test_html.c - the SVG charts and the HTML page from reducers with known
 * counts: one bar per group in IFS order, one curve per series with two or
 * more checkpoints and a ring per plateau, the partial/full scatter, the
 * baseline deltas with regressions marked, charts with nothing to draw,
 * a page that references nothing outside itself, escaping of hostile
 * names, and figures that come from counts (a hand-edited ratio in the
 * report file changes nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_compare.h"
#include "ifs_html.h"
#include "ifs_reduce.h"
#include "ifs_report.h"
#include "ifs_test.h"

#define SHA_W "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *const LABELS[] = {"LABEL_0", "LABEL_1"};
static const char *const KEYS2[] = {"model", "step"};
static const char *const KEYS1[] = {"model"};

typedef struct {
    const char *model, *step;
    int type, k, n;
} block;

static ifs_reducer *make(int n_keys, const block *b, size_t nb)
{
    ifs_reduce_config c = ifs_reduce_default_config();
    c.weights_sha256 = SHA_W;
    c.n_labels = 2;
    c.labels = LABELS;
    c.answer_label = 1;
    c.n_keys = n_keys;
    c.keys = n_keys == 2 ? KEYS2 : KEYS1;
    ifs_reducer *r;
    char err[256];
    if (ifs_reduce_create(&c, &r, err, sizeof err))
        exit(1);
    int32_t in;
    ifs_reduce_add_input(r, "shards/a.jsonl.zst", 10, SHA_W, &in, NULL, 0);
    uint64_t lines = 0;
    for (size_t i = 0; i < nb; i++)
        for (int j = 0; j < b[i].n; j++) {
            const char *vals[] = {b[i].model, b[i].step};
            ifs_reduce_pred p = {vals, (ifs_itype)b[i].type, j < b[i].k ? 0.8 : 0.3, 10, 0};
            if (ifs_reduce_add(r, in, &p, 1, err, sizeof err))
                exit(1);
            lines++;
        }
    ifs_reduce_add_reject(r, in, "invalid_json", NULL, 0);
    ifs_reduce_end_input(r, in, lines + 1, NULL, 0);
    ifs_reduce_set_timing(r, "wall_s", 2.0);
    ifs_reduce_set_fact(r, "backend", "cpu");
    return r;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = s; p && (p = strstr(p, needle)); p += k)
        n++;
    return n;
}

/* sft-a plateaus at step 2000 (0.90, 0.91, 0.90 after 0.20, 0.60); sft-b
 * rises to the end (no plateau); base has one checkpoint (no curve). */
static const block CURVES[] = {
    {"sft-a", "0", 1, 10, 50},     {"sft-a", "0", 2, 10, 50},    {"sft-a", "1000", 1, 25, 50},
    {"sft-a", "1000", 2, 35, 50},  {"sft-a", "2000", 1, 44, 50}, {"sft-a", "2000", 2, 46, 50},
    {"sft-a", "4000", 1, 45, 50},  {"sft-a", "4000", 2, 46, 50}, {"sft-a", "8000", 1, 44, 50},
    {"sft-a", "8000", 2, 46, 50},  {"sft-b", "0", 0, 10, 100},   {"sft-b", "1000", 0, 50, 100},
    {"sft-b", "2000", 0, 90, 100}, {"base", "0", 0, 13, 100},
};
#define N_CURVES (sizeof CURVES / sizeof CURVES[0])

static char *chart(const ifs_reducer *r, const ifs_comparison *c, ifs_chart which, unsigned flags,
                   int *rc)
{
    char *s = NULL;
    size_t len = 0;
    char err[256];
    *rc = ifs_html_chart(r, c, which, flags, &s, &len, err, sizeof err);
    if (!*rc && strlen(s) != len)
        *rc = 99;
    return s;
}

static void test_charts(void)
{
    ifs_reducer *r = make(2, CURVES, N_CURVES);
    int rc;
    char *s = chart(r, NULL, IFS_CHART_GROUPS, 0, &rc);
    IFS_CHECK(rc == 0, "the_groups_chart_draws");
    IFS_CHECK(count(s, "class=\"bar\"") == 9, "the_groups_chart_has_one_bar_per_group: %zu",
              count(s, "class=\"bar\""));
    /* Highest IFS first: sft-a step=4000 (91/100), base last (13/100). */
    const char *top = s ? strstr(s, "model=sft-a, step=4000") : NULL;
    const char *bottom = s ? strstr(s, "model=base, step=0") : NULL;
    const char *mid = s ? strstr(s, "model=sft-b, step=1000") : NULL;
    IFS_CHECK(top && mid && bottom && top < mid && mid < bottom,
              "bars_are_sorted_by_ifs_highest_first");
    IFS_CHECK(s && strstr(s, "IFS 0.910 [0.838, 0.952], 91 of 100 answer-like"),
              "a_bars_tooltip_gives_ifs_wilson_interval_and_counts");
    IFS_CHECK(s && !strncmp(s, "<svg ", 5) && strstr(s, "id=\"chart-groups\""),
              "an_embedded_chart_is_a_bare_svg_element_with_its_id");
    free(s);

    s = chart(r, NULL, IFS_CHART_GROUPS, IFS_HTML_STANDALONE, &rc);
    IFS_CHECK(rc == 0 && !strncmp(s,
                                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "
                                  "xmlns=\"http://www.w3.org/2000/svg\"",
                                  73),
              "a_standalone_chart_is_an_svg_document");
    free(s);

    s = chart(r, NULL, IFS_CHART_CURVES, 0, &rc);
    IFS_CHECK(rc == 0, "the_curves_chart_draws");
    IFS_CHECK(count(s, "class=\"curve\"") == 2,
              "one_curve_per_series_with_two_or_more_checkpoints: %zu",
              count(s, "class=\"curve\""));
    IFS_CHECK(count(s, "class=\"plateau\"") == 1 && strstr(s, "plateau at step 2000"),
              "the_plateau_is_marked_where_the_report_puts_it");
    IFS_CHECK(count(s, "class=\"curve-partial\"") == 1 && count(s, "class=\"curve-full\"") == 1,
              "partial_and_full_curves_are_drawn_where_the_series_has_them");
    IFS_CHECK(s && strstr(s, "no plateau") && strstr(s, "single-checkpoint series not drawn"),
              "the_legend_says_no_plateau_and_the_note_names_what_is_left_out");
    free(s);

    s = chart(r, NULL, IFS_CHART_PARTIAL_FULL, 0, &rc);
    IFS_CHECK(rc == 0 && count(s, "class=\"point\"") == 5 && count(s, "class=\"diagonal\"") == 1,
              "partial_against_full_has_a_point_per_group_with_both_splits_and_the_diagonal");
    free(s);

    s = chart(r, NULL, IFS_CHART_DELTA, 0, &rc);
    IFS_CHECK(rc == IFS_HTML_ENODATA && !s, "the_delta_chart_needs_a_baseline");
    ifs_reduce_free(r);

    block flat[] = {{"a", NULL, 0, 5, 10}, {"b", NULL, 0, 7, 10}};
    r = make(1, flat, 2);
    char err[256] = "";
    char *out = NULL;
    rc = ifs_html_chart(r, NULL, IFS_CHART_CURVES, 0, &out, NULL, err, sizeof err);
    IFS_CHECK(rc == IFS_HTML_ENODATA && !out && strstr(err, "no curve key"),
              "a_report_without_a_checkpoint_key_has_no_curves_chart: %s", err);
    rc = ifs_html_chart(r, NULL, IFS_CHART_PARTIAL_FULL, 0, &out, NULL, err, sizeof err);
    IFS_CHECK(rc == IFS_HTML_ENODATA && strstr(err, "both partial and full"),
              "a_report_without_splits_has_no_scatter");
    rc = ifs_html_chart(r, NULL, (ifs_chart)7, 0, &out, NULL, err, sizeof err);
    IFS_CHECK(rc == IFS_HTML_EARG, "an_unknown_chart_is_refused");
    IFS_CHECK(!strcmp(ifs_chart_name(IFS_CHART_PARTIAL_FULL), "partial-full"),
              "charts_have_file_names");
    ifs_reduce_free(r);
}

static void test_delta(void)
{
    block b[] = {{"keep", NULL, 0, 40, 50},
                 {"fell", NULL, 0, 45, 50},
                 {"rose", NULL, 0, 10, 50},
                 {"gone", NULL, 0, 5, 10}};
    block c[] = {{"keep", NULL, 0, 40, 50}, {"fell", NULL, 0, 10, 50}, {"rose", NULL, 0, 30, 50}};
    ifs_reducer *x = make(1, b, 4), *y = make(1, c, 3);
    ifs_compare_opts o;
    ifs_compare_opts_init(&o);
    o.max_drop = 0.05;
    ifs_comparison *cmp;
    char err[256];
    IFS_CHECK(ifs_compare(x, y, &o, &cmp, err, sizeof err) == 0, "delta setup");
    int rc;
    char *s = chart(y, cmp, IFS_CHART_DELTA, 0, &rc);
    IFS_CHECK(rc == 0, "the_delta_chart_draws");
    IFS_CHECK(count(s, "<g class=\"row") == 4,
              "one_delta_row_per_group_on_both_sides_and_the_whole_run: %zu",
              count(s, "<g class=\"row"));
    IFS_CHECK(count(s, "<g class=\"row regression") == 1, "regressions_are_highlighted: %zu",
              count(s, "<g class=\"row regression"));
    IFS_CHECK(count(s, "class=\"max-drop\"") == 1, "the_tolerated_drop_is_drawn");
    const char *fell = s ? strstr(s, ">fell<") : NULL, *rose = s ? strstr(s, ">rose<") : NULL;
    IFS_CHECK(fell && rose && fell < rose, "the_worst_change_comes_first");

    ifs_html_opts ho;
    ifs_html_opts_init(&ho);
    ho.comparison = cmp;
    ho.report_name = "cand.json";
    char *page = NULL;
    IFS_CHECK(ifs_html_page(y, &ho, &page, NULL, err, sizeof err) == 0, "page with baseline");
    IFS_CHECK(page && strstr(page, "<p id=\"verdict\" class=\"verdict fail\">REGRESSION in 1 of 3 "
                                   "groups: fell"),
              "the_page_states_the_gates_verdict");
    IFS_CHECK(page && strstr(page, "id=\"chart-delta\""), "the_page_holds_the_delta_chart");
    IFS_CHECK(page && strstr(page, "<tr><th>tokenizer sha256</th><td>unknown"),
              "the_page_names_the_tokenizer_identity_or_says_it_is_unknown");
    free(page);
    free(s);
    ifs_compare_free(cmp);
    ifs_reduce_free(x);
    ifs_reduce_free(y);
}

static void test_page(void)
{
    block b[] = {{"<script>alert(1)</script>", "0", 1, 3, 10},
                 {"<script>alert(1)</script>", "0", 2, 9, 10},
                 {"m\x01x", "1", 0, 5, 10},
                 {"cr\rlf", "1", 0, 5, 10}};
    ifs_reducer *r = make(2, b, 4);
    ifs_html_opts o;
    ifs_html_opts_init(&o);
    o.title = "nightly & <b>";
    char *page = NULL;
    size_t len = 0;
    char err[256];
    IFS_CHECK(ifs_html_page(r, &o, &page, &len, err, sizeof err) == 0 && len == strlen(page),
              "the_page_renders");
    if (page) {
        IFS_CHECK(!strstr(page, "<script>alert") && strstr(page, "&lt;script&gt;alert(1)"),
                  "names_are_escaped_in_the_page");
        IFS_CHECK(strstr(page, "<title>nightly &amp; &lt;b&gt;</title>") != NULL,
                  "the_title_is_escaped");
        IFS_CHECK(!strchr(page, '\x01'), "control_characters_never_reach_the_page");
        IFS_CHECK(!strchr(page, '\r') && strstr(page, "cr&#13;lf"),
                  "a_carriage_return_is_a_reference_not_a_raw_byte_xml_reads_back_as_lf");
        IFS_CHECK(!strstr(page, " src=") && !strstr(page, "<link") && !strstr(page, "url(") &&
                      !strstr(page, "@import"),
                  "the_page_loads_nothing_from_elsewhere");
        IFS_CHECK(count(page, "http") == count(page, "xmlns=\"http://www.w3.org/2000/svg\""),
                  "the_only_urls_are_the_svg_namespace");
        IFS_CHECK(count(page, "<script>") == 1, "one_inline_script_measures_layout_time");
        IFS_CHECK(strstr(page, "id=\"chart-groups\"") &&
                      strstr(page, "id=\"chart-partial-full\"") &&
                      strstr(page, "Not drawn: no series has two or more checkpoints"),
                  "the_page_holds_every_chart_or_says_why_not");
        IFS_CHECK(strstr(page, "<code>invalid_json</code></td><td class=\"num\">1</td>") &&
                      strstr(page, "backend") && strstr(page, "records/s"),
                  "the_page_lists_rejects_by_reason_and_throughput");
        IFS_CHECK(strstr(page, "<html lang=\"en\">") && strstr(page, "<meta charset=\"utf-8\">"),
                  "the_page_is_utf8_html5");
    }
    free(page);
    ifs_reduce_free(r);
    IFS_CHECK(ifs_html_page(NULL, &o, &page, NULL, err, sizeof err) == IFS_HTML_EARG && !page,
              "no_report_is_refused");
}

/* The picture comes from counts: editing a ratio in the file changes nothing. */
static void test_counts_not_ratios(void)
{
    ifs_reducer *r = make(2, CURVES, N_CURVES);
    char *js = NULL;
    size_t len = 0;
    char err[256];
    if (ifs_report_json(r, 0, &js, &len, err, sizeof err))
        exit(1);
    char *tampered = malloc(len + 1);
    memcpy(tampered, js, len + 1);
    size_t edits = 0;
    for (char *p = tampered; (p = strstr(p, "\"ifs\": 0.")); p += 9, edits++)
        memcpy(p + 9, "999999", 6);
    ifs_reducer *a = NULL, *b = NULL;
    IFS_CHECK(edits > 5 && ifs_report_parse(js, len, &a, err, sizeof err) == 0 &&
                  ifs_report_parse(tampered, len, &b, err, sizeof err) == 0,
              "the_tampered_report_still_reads: %s", err);
    ifs_html_opts o;
    ifs_html_opts_init(&o);
    char *pa = NULL, *pb = NULL;
    if (a && b) {
        ifs_html_page(a, &o, &pa, NULL, NULL, 0);
        ifs_html_page(b, &o, &pb, NULL, NULL, 0);
    }
    IFS_CHECK(pa && pb && !strcmp(pa, pb) && !strstr(pb, "0.999"),
              "a_hand_edited_ratio_does_not_change_the_page");
    char *pc = NULL;
    ifs_html_page(r, &o, &pc, NULL, NULL, 0);
    IFS_CHECK(pa && pc && !strcmp(pa, pc), "the_page_is_a_pure_function_of_the_counts");
    free(pa);
    free(pb);
    free(pc);
    free(js);
    free(tampered);
    ifs_reduce_free(a);
    ifs_reduce_free(b);
    ifs_reduce_free(r);
}

int main(void)
{
    test_charts();
    test_delta();
    test_page();
    test_counts_not_ratios();
    return ifs_test_done("html");
}
