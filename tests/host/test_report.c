/*
 * test_report.c - report.json and the tables: exact figures for known
 * counts (IFS, Wilson, Newcombe gap interval, mean probability, curves and
 * plateau), write -> read -> write is byte-identical, every kind of damage
 * to a report is refused with its JSON path, atomic file write and read,
 * and the text/csv/markdown renderings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ifs_reduce.h"
#include "ifs_report.h"
#include "ifs_test.h"

#define SHA_W "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define SHA_T "7777777777777777777777777777777777777777777777777777777777777777"

static const char *const LABELS[] = {"LABEL_0", "LABEL_1"};
static const char *const KEYS[] = {"model", "step"};

/* Adds `n` records of one (model, step, type), `k` of them answer-like. */
static void add_block(ifs_reducer *r, int32_t in, const char *model, const char *step,
                      ifs_itype type, int k, int n)
{
    for (int i = 0; i < n; i++) {
        const char *vals[] = {model, step};
        ifs_reduce_pred p = {vals, type, i < k ? 0.9 : 0.2, 16, 0};
        if (ifs_reduce_add(r, in, &p, 1, NULL, 0))
            exit(1);
    }
}

/* A small run: Newcombe's examples as partial/full splits, an SFT curve. */
static ifs_reducer *sample(void)
{
    ifs_reduce_config c = ifs_reduce_default_config();
    c.weights_sha256 = SHA_W;
    c.tokenizer_sha256 = SHA_T;
    c.n_labels = 2;
    c.labels = LABELS;
    c.answer_label = 1;
    c.n_keys = 2;
    c.keys = KEYS;
    ifs_reducer *r = NULL;
    char err[256];
    if (ifs_reduce_create(&c, &r, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    int32_t a, b;
    ifs_reduce_add_input(r, "shards/b.jsonl.zst", 2000, SHA_2, &b, NULL, 0);
    ifs_reduce_add_input(r, "shards/a.jsonl.zst", 1000, SHA_1, &a, NULL, 0);
    /* Newcombe (1998b) Table II example (a): full 56/70, partial 48/80. */
    add_block(r, a, "base-7b", "0", IFS_ITYPE_FULL, 56, 70);
    add_block(r, a, "base-7b", "0", IFS_ITYPE_PARTIAL, 48, 80);
    /* An SFT curve: 0.4, 0.7, 0.9, 0.92, 0.91 over steps given out of order. */
    static const char *const steps[] = {"16000", "800", "8000", "2000", "4000"};
    static const int ks[] = {91, 40, 92, 70, 90};
    for (int i = 0; i < 5; i++)
        add_block(r, b, "sft-7b", steps[i], IFS_ITYPE_NONE, ks[i], 100);
    ifs_reduce_add_reject(r, a, "invalid_json", NULL, 0);
    ifs_reduce_add_reject(r, a, "invalid_json", NULL, 0);
    ifs_reduce_add_reject(r, b, "missing_text", NULL, 0);
    ifs_reduce_end_input(r, a, 152, NULL, 0);
    ifs_reduce_end_input(r, b, 501, NULL, 0);
    ifs_reduce_set_timing(r, "wall_s", 4.0);
    ifs_reduce_set_fact(r, "backend", "cpu");
    return r;
}

static char *json(const ifs_reducer *r, unsigned flags, size_t *len)
{
    char *s = NULL;
    char err[256];
    if (ifs_report_json(r, flags, &s, len, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return s;
}

static void test_figures(void)
{
    ifs_reducer *r = sample();
    size_t len;
    char *js = json(r, 0, &len);
    static const struct {
        const char *name, *needle;
    } cases[] = {
        {"report_names_its_schema_and_version",
         "\"schema\": \"ifscore-report\",\n  \"schema_version\": 1,"},
        {"report_names_the_answer_like_label", "\"answer_label_name\": \"LABEL_1\""},
        {"ifs_is_answer_like_over_all", "\"ifs\": 0.693333"},
        {"ifs_partial_is_over_partial_instructions_only", "\"ifs_partial\": 0.600000"},
        {"ifs_full_is_over_full_instructions_only", "\"ifs_full\": 0.800000"},
        {"gap_is_full_minus_partial", "\"gap_full_minus_partial\": 0.200000"},
        /* Newcombe (1998b) Table II, example (a): 0.0524 to 0.3339 */
        {"gap_interval_matches_newcombe_method_10",
         "\"gap_full_minus_partial_ci95\": [0.052431, 0.333873]"},
        {"wilson_interval_of_ifs_is_written_with_six_decimals",
         "\"ifs_ci95\": [0.615482, 0.761530]"},
        {"a_ratio_over_no_records_is_null", "\"ifs_partial\": null"},
        {"mean_probability_is_exact", "\"mean_p_answer\": 0.685333"},
        {"rejects_are_totalled_by_reason",
         "\"rejects\": {\"invalid_json\": 2, \"missing_text\": 1}"},
        {"read_equals_scored_plus_rejected_in_the_totals",
         "\"read\": 653,\n    \"scored\": 650,\n    \"rejected\": 3,"},
        {"inputs_are_listed_sorted_by_path",
         "\"inputs\": [\n    {\"path\": \"shards/a.jsonl.zst\""},
        {"the_curve_key_is_found_automatically", "\"curves\": {\n    \"key\": \"step\""},
        {"curve_points_are_in_numeric_order",
         "{\"step\": \"800\", \"n\": 100, \"answer_like\": 40, \"ifs\": 0.400000},\n"
         "                  {\"step\": \"2000\""},
        {"the_plateau_is_the_first_checkpoint_that_stays_flat",
         "\"plateau\": {\"step\": \"4000\", \"index\": 2, \"ifs\": 0.900000}"},
        {"a_single_point_curve_has_no_plateau", "\"plateau\": null"},
        {"throughput_is_derived_from_wall_time", "\"records_per_s\": 162.500"},
        {"facts_are_kept_in_timings", "\"facts\": {\"backend\": \"cpu\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        IFS_CHECK(strstr(js, cases[i].needle) != NULL, "%s: '%s' not in the report", cases[i].name,
                  cases[i].needle);
    /* The sft-7b/0 row is not there; base-7b comes before sft-7b. */
    char *pb = strstr(js, "{\"model\": \"base-7b\""), *ps = strstr(js, "{\"model\": \"sft-7b\"");
    IFS_CHECK(pb && ps && pb < ps, "groups_are_sorted_by_key");
    char *nt = json(r, IFS_REPORT_NO_TIMINGS, NULL);
    IFS_CHECK(!strstr(nt, "timings") && !strncmp(nt, js, strlen(nt) - 3),
              "no_timings_leaves_out_only_the_timings_object");
    free(nt);
    free(js);
    ifs_reduce_free(r);
}

static void test_round_trip(void)
{
    ifs_reducer *r = sample();
    size_t len;
    char *a = json(r, 0, &len);
    ifs_reducer *back = NULL;
    char err[256] = "";
    int rc = ifs_report_parse(a, len, &back, err, sizeof err);
    IFS_CHECK(rc == 0, "a_written_report_reads_back: %s", err);
    IFS_CHECK(strstr(a, "\"tokenizer_sha256\": \"" SHA_T "\""),
              "the_report_carries_the_tokenizer_sha256_in_classifier");
    if (back) {
        ifs_reduce_identity id;
        ifs_reduce_get_identity(back, &id);
        IFS_CHECK(id.tokenizer_sha256 && !strcmp(id.tokenizer_sha256, SHA_T),
                  "the_tokenizer_sha256_reads_back");
        size_t len2;
        char *b = json(back, 0, &len2);
        IFS_CHECK(len == len2 && !memcmp(a, b, len),
                  "write_read_write_is_byte_identical_timings_included");
        free(b);
        IFS_CHECK(ifs_reduce_check(back, 0, err, sizeof err) == 0,
                  "a_read_back_report_passes_the_run_checks: %s", err);
        ifs_reduce_free(back);
    }
    /* Presentation settings survive: no curves, other epsilon. */
    ifs_reduce_set_curve_key(r, "", NULL, 0);
    ifs_reduce_set_plateau(r, 0.05, 1, NULL, 0);
    char *c = json(r, 0, &len);
    rc = ifs_report_parse(c, len, &back, err, sizeof err);
    IFS_CHECK(rc == 0 && strstr(c, "\"curves\": null") && strstr(c, "\"curve_key\": \"\""),
              "no_curves_is_written_and_read_back: %s", err);
    if (back) {
        char *d = json(back, 0, &len);
        IFS_CHECK(!strcmp(c, d), "presentation_settings_survive_a_round_trip");
        free(d);
        ifs_reduce_free(back);
    }
    free(c);
    free(a);
    ifs_reduce_free(r);
}

/* Replaces the first occurrence of `from` with `to`; NULL if absent. */
static char *mutate(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    if (!p)
        return NULL;
    size_t a = (size_t)(p - s), nf = strlen(from), nt = strlen(to), n = strlen(s);
    char *o = malloc(n - nf + nt + 1);
    memcpy(o, s, a);
    memcpy(o + a, to, nt);
    memcpy(o + a + nt, p + nf, n - a - nf + 1);
    return o;
}

static void test_damage(void)
{
    ifs_reducer *r = sample();
    size_t len;
    char *good = json(r, 0, &len);
    ifs_reduce_free(r);
    static const struct {
        const char *name, *from, *to, *why;
    } cases[] = {
        {"a_truncated_report_is_refused", "\"timings\"", "\"timings", "not valid JSON"},
        {"another_schema_is_refused", "ifscore-report", "other-report", "schema"},
        {"a_newer_schema_version_is_refused", "\"schema_version\": 1", "\"schema_version\": 2",
         "schema_version"},
        {"a_short_weights_hash_is_refused", SHA_W, "0123", "weights_sha256"},
        {"a_short_tokenizer_hash_is_refused", SHA_T, "0123", "tokenizer_sha256"},
        {"a_tokenizer_hash_that_is_not_a_string_is_refused", "\"" SHA_T "\"", "7",
         "tokenizer_sha256"},
        {"an_answer_label_out_of_range_is_refused", "\"answer_label\": 1", "\"answer_label\": 5",
         "answer_label"},
        {"a_threshold_of_two_is_refused", "\"threshold\": 0.500000", "\"threshold\": 2",
         "threshold"},
        {"a_string_where_a_flag_belongs_is_refused", "\"do_lower_case\": true",
         "\"do_lower_case\": \"yes\"", "do_lower_case"},
        {"a_fractional_count_is_refused", "\"n\": 70,", "\"n\": 70.5,", "not an integer"},
        {"a_negative_count_is_refused", "\"n\": 70,", "\"n\": -70,", "not an integer"},
        {"a_count_beyond_two_to_the_53_is_refused", "\"n\": 70,", "\"n\": 1e300,",
         "not an integer"},
        {"more_answer_like_than_records_is_refused", "\"answer_like\": 56, \"near",
         "\"answer_like\": 71, \"near", "exceeds n"},
        {"a_probability_sum_beyond_n_is_refused", "\"p_answer_sum_1e9\": \"0\"",
         "\"p_answer_sum_1e9\": \"5\"", "exceeds n"},
        {"a_probability_sum_that_is_not_digits_is_refused", "\"p_answer_sum_1e9\": \"0\"",
         "\"p_answer_sum_1e9\": \"-1\"", "decimal integer"},
        {"a_probability_sum_given_as_a_number_is_refused", "\"p_answer_sum_1e9\": \"0\"",
         "\"p_answer_sum_1e9\": 0", "string of digits"},
        {"group_counts_that_disagree_with_the_inputs_are_refused",
         "\"scored\": 150, \"rejected\": 2", "\"scored\": 149, \"rejected\": 2",
         "read 152 != scored 149"},
        {"rejects_that_disagree_with_their_reasons_are_refused", "\"invalid_json\": 2}}",
         "\"invalid_json\": 1}}", "reasons add up"},
        {"a_reject_reason_outside_the_code_alphabet_is_refused", "\"invalid_json\": 2}}",
         "\"Bad JSON\": 2}}", "reason name"},
        {"totals_that_disagree_with_the_parts_are_refused", "\"read\": 653,", "\"read\": 654,",
         "counts: read 654"},
        {"a_group_key_with_the_wrong_field_is_refused", "{\"model\": \"base-7b\", \"step\"",
         "{\"model\": \"base-7b\", \"epoch\"", "key 1 must be \"step\""},
        {"a_group_key_with_too_few_fields_is_refused", "{\"model\": \"base-7b\", \"step\": \"0\"}",
         "{\"model\": \"base-7b\"}", "group-by keys"},
        {"a_cell_emptied_by_damage_no_longer_matches_the_inputs",
         "\"full\": {\"n\": 70, \"answer_like\": 56, \"near_threshold\": 0, \"p_answer_sum_1e9\": "
         "\"53200000000\"}",
         "\"full\": {\"n\": 0, \"answer_like\": 0, \"near_threshold\": 0, \"p_answer_sum_1e9\": "
         "\"0\"}",
         "do not match"},
        {"the_same_group_twice_is_refused", "{\"model\": \"sft-7b\", \"step\": \"800\"}",
         "{\"model\": \"sft-7b\", \"step\": \"2000\"}", "appears twice"},
        {"a_key_value_that_is_not_utf8_is_refused", "\"base-7b\", \"step\"",
         "\"base-\xff\", \"step\"", "UTF-8"},
        {"a_timing_that_is_not_a_number_is_refused", "\"wall_s\": 4.000000", "\"wall_s\": \"4\"",
         "timings.wall_s"},
        {"an_input_without_a_hash_is_refused", "\"sha256\": \"" SHA_1 "\"", "\"sha\": 1",
         "inputs[].sha256"},
        {"a_reject_reason_ifscore_does_not_have_is_refused", "\"invalid_json\": 2}}",
         "\"bad_json\": 2}}", "not a reject reason"},
        {"reason_totals_that_disagree_with_the_inputs_breakdowns_are_refused",
         "\"rejects\": {\"invalid_json\": 2, \"missing_text\": 1}",
         "\"rejects\": {\"invalid_json\": 1, \"missing_text\": 2}", "inputs' breakdowns add up"},
        {"a_nul_escape_in_a_group_key_is_refused", "\"base-7b\", \"step\"",
         "\"base-7b\\u0000x\", \"step\"", "u0000"},
        {"a_top_level_array_is_refused", "{\n  \"schema\"", "[{\n  \"schema\"", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *bad = mutate(good, cases[i].from, cases[i].to);
        IFS_CHECK(bad != NULL, "%s: the test's anchor '%s' is not in the report", cases[i].name,
                  cases[i].from);
        if (!bad)
            continue;
        ifs_reducer *x = NULL;
        char err[512] = "";
        int rc = ifs_report_parse(bad, strlen(bad), &x, err, sizeof err);
        IFS_CHECK(rc == IFS_RED_EFORMAT && !x && strstr(err, cases[i].why),
                  "%s: rc %d, err '%s', want '%s'", cases[i].name, rc, err, cases[i].why);
        ifs_reduce_free(x);
        free(bad);
    }
    /* Unknown extra members are ignored (forward-compatible additions). */
    char *extra =
        mutate(good, "\"generator\"", "\"comment\": [1, {\"x\": null}],\n  \"generator\"");
    ifs_reducer *x = NULL;
    IFS_CHECK(extra && ifs_report_parse(extra, strlen(extra), &x, NULL, 0) == 0,
              "unknown_members_are_ignored");
    ifs_reduce_free(x);
    free(extra);
    /* Derived figures are recomputed, not trusted. */
    char *lie = mutate(good, "\"ifs\": 0.693333", "\"ifs\": 0.999999");
    x = NULL;
    IFS_CHECK(lie && ifs_report_parse(lie, strlen(lie), &x, NULL, 0) == 0,
              "a_damaged_derived_figure_still_parses");
    if (x) {
        char *again = json(x, 0, NULL);
        IFS_CHECK(!strcmp(again, good), "derived_figures_are_recomputed_from_counts");
        free(again);
    }
    ifs_reduce_free(x);
    free(lie);
    /* Without a terminating NUL, within its length. */
    char *copy = malloc(len);
    memcpy(copy, good, len);
    x = NULL;
    IFS_CHECK(ifs_report_parse(copy, len, &x, NULL, 0) == 0,
              "a_report_without_a_trailing_nul_parses_within_its_length");
    ifs_reduce_free(x);
    IFS_CHECK(ifs_report_parse(copy, len / 2, &x, NULL, 0) == IFS_RED_EFORMAT,
              "half_a_report_is_refused");
    free(copy);
    free(good);
}

static void test_files(void)
{
    const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
    char path[1100], dir[1024];
    snprintf(dir, sizeof dir, "%s/report-files", tmp);
    mkdir(tmp, 0755);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/report.json", dir);
    ifs_reducer *r = sample();
    char err[512] = "";
    IFS_CHECK(ifs_report_write(r, path, 0, err, sizeof err) == 0, "report_is_written: %s", err);
    IFS_CHECK(ifs_report_write(r, path, 0, err, sizeof err) == 0,
              "report_is_replaced_atomically: %s", err);
    ifs_reducer *back = NULL;
    IFS_CHECK(ifs_report_read(path, &back, err, sizeof err) == 0, "report_is_read: %s", err);
    char *a = json(r, 0, NULL), *b = back ? json(back, 0, NULL) : NULL;
    IFS_CHECK(b && !strcmp(a, b), "a_file_round_trip_is_byte_identical");
    free(a);
    free(b);
    ifs_reduce_free(back);
    /* No temp file is left behind. */
    char probe[1200];
    snprintf(probe, sizeof probe, "%s.tmp.%ld", path, (long)getpid());
    struct stat st;
    IFS_CHECK(stat(probe, &st) != 0, "no_temporary_file_is_left_behind");
    snprintf(probe, sizeof probe, "%s/missing.json", dir);
    back = NULL;
    IFS_CHECK(ifs_report_read(probe, &back, err, sizeof err) == IFS_RED_EIO &&
                  strstr(err, "missing.json"),
              "a_missing_report_is_an_io_error_naming_the_path: %s", err);
    snprintf(probe, sizeof probe, "%s/no/such/dir/report.json", dir);
    IFS_CHECK(ifs_report_write(r, probe, 0, err, sizeof err) == IFS_RED_EIO,
              "writing_into_a_missing_folder_is_an_io_error");
    ifs_reduce_free(r);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_tables(void)
{
    ifs_reducer *r = sample();
    char *t = NULL;
    size_t len;
    IFS_CHECK(ifs_report_table(r, IFS_FMT_TEXT, &t, &len, NULL, 0) == 0, "text table");
    IFS_CHECK(
        t &&
            strstr(t, "model    step     n    IFS  IFS_partial  IFS_full    gap          95% CI\n"),
        "text_table_has_aligned_headers:\n%s", t);
    IFS_CHECK(
        t &&
            strstr(t, "base-7b  0      150  0.693        0.600     0.800  0.200  [0.615, 0.762]\n"),
        "text_table_row_shows_ifs_splits_gap_and_interval:\n%s", t);
    IFS_CHECK(t && strstr(t, "read 653 lines from 2 inputs: 650 scored, 3 rejected (invalid_json "
                             "2, missing_text 1)"),
              "text_table_footer_accounts_for_every_line");
    IFS_CHECK(t && strstr(t, "model=sft-7b: 4000 (IFS 0.900, point 3 of 5)"),
              "text_table_names_the_plateau");
    IFS_CHECK(t && strlen(t) == len, "text_length_is_reported");
    free(t);
    IFS_CHECK(ifs_report_table(r, IFS_FMT_CSV, &t, &len, NULL, 0) == 0, "csv table");
    IFS_CHECK(t && count_lines(t) == 7 && !strncmp(t, "model,step,n,n_partial,n_full,n_none,", 37),
              "csv_has_a_header_and_one_row_per_group");
    IFS_CHECK(t && strstr(t, "\r\nbase-7b,0,150,80,70,0,104,48,56,0.693333,"),
              "csv_rows_carry_counts_and_six_decimals");
    IFS_CHECK(t && strstr(t, ",0.400000,0.309401,0.497997,,,,,,,,,,0.480000,0\r\n"),
              "csv_leaves_undefined_ratios_empty");
    free(t);
    IFS_CHECK(ifs_report_table(r, IFS_FMT_MARKDOWN, &t, &len, NULL, 0) == 0, "markdown");
    IFS_CHECK(t && !strncmp(t, "| model | step | n | IFS |", 25) &&
                  strstr(t, "\n|---|---|---:|---:|---:|---:|---:|---:|\n"),
              "markdown_has_a_header_and_alignment_row");
    free(t);
    IFS_CHECK(ifs_report_table(r, IFS_FMT_JSON, &t, &len, NULL, 0) == 0 && t &&
                  !strncmp(t, "{\n  \"schema\": \"ifscore-report\"", 30),
              "json_format_is_the_report");
    free(t);
    ifs_report_format f;
    IFS_CHECK(ifs_report_format_parse("md", &f) == 0 && f == IFS_FMT_MARKDOWN &&
                  ifs_report_format_parse("xml", &f) == IFS_RED_EARG,
              "format_names_parse");
    ifs_reduce_free(r);

    /* Keys with separators are quoted / escaped. */
    ifs_reduce_config c = ifs_reduce_default_config();
    c.weights_sha256 = SHA_W;
    c.n_labels = 2;
    c.labels = LABELS;
    c.answer_label = 1;
    static const char *const k1[] = {"model"};
    c.n_keys = 1;
    c.keys = k1;
    ifs_reduce_create(&c, &r, NULL, 0);
    int32_t in;
    ifs_reduce_add_input(r, "x", 1, SHA_1, &in, NULL, 0);
    const char *vals[] = {"a,\"b\"|c\nd"};
    ifs_reduce_pred p = {vals, IFS_ITYPE_FULL, 0.9, 3, 0};
    ifs_reduce_add(r, in, &p, 1, NULL, 0);
    ifs_reduce_end_input(r, in, 1, NULL, 0);
    {
        ifs_report_table(r, IFS_FMT_CSV, &t, &len, NULL, 0);
        IFS_CHECK(t && strstr(t, "\r\n\"a,\"\"b\"\"|c\nd\",1,"),
                  "csv_quotes_fields_with_separators");
        free(t);
        ifs_report_table(r, IFS_FMT_MARKDOWN, &t, &len, NULL, 0);
        IFS_CHECK(t && strstr(t, "| a,\"b\"\\|c d |"), "markdown_escapes_pipes_and_newlines");
        free(t);
        ifs_report_table(r, IFS_FMT_TEXT, &t, &len, NULL, 0);
        IFS_CHECK(t && strstr(t, "a,\"b\"|c d"), "text_keeps_a_row_on_one_line");
        free(t);
        char *js = json(r, 0, NULL);
        IFS_CHECK(strstr(js, "\"a,\\\"b\\\"|c\\nd\""), "json_escapes_quotes_and_newlines");
        ifs_reducer *back = NULL;
        IFS_CHECK(ifs_report_parse(js, strlen(js), &back, NULL, 0) == 0, "escaped_keys_read_back");
        ifs_reduce_free(back);
        free(js);
    }
    ifs_reduce_free(r);
}

/* The pair identity: written only for a pair classifier, read back, refused
 * when malformed, and part of the one identity comparison merge and compare
 * make (a response-only report against a pair one, another field, another cap). */
static void test_pair_identity(void)
{
    ifs_reducer *plain = sample();
    size_t len;
    char *pj = json(plain, 0, &len);
    IFS_CHECK(!strstr(pj, "\"input\"") && !strstr(pj, "instruction_field"),
              "a_response_only_report_has_no_input_fields");
    static const struct {
        const char *from, *to, *why;
    } pairs[] = {
        {"\"near_margin\": 0.010000\n",
         "\"near_margin\": 0.010000,\n    \"input\": \"pair\",\n    \"instruction_field\": "
         "\"instruction\",\n    \"instruction_max_tokens\": 64\n",
         NULL},
        {"\"near_margin\": 0.010000\n",
         "\"near_margin\": 0.010000,\n    \"input\": \"pair\",\n    \"instruction_field\": "
         "\"prompt\",\n    \"instruction_max_tokens\": 64\n",
         "classifier.instruction_field"},
        {"\"near_margin\": 0.010000\n",
         "\"near_margin\": 0.010000,\n    \"input\": \"pair\",\n    \"instruction_field\": "
         "\"instruction\",\n    \"instruction_max_tokens\": 32\n",
         "classifier.instruction_max_tokens"},
    };
    ifs_reducer *p0 = NULL;
    char err[256] = "";
    char *t0 = mutate(pj, pairs[0].from, pairs[0].to);
    IFS_CHECK(t0 && ifs_report_parse(t0, strlen(t0), &p0, err, sizeof err) == 0,
              "a_pair_report_reads: %s", err);
    if (p0) {
        ifs_reduce_identity id;
        ifs_reduce_get_identity(p0, &id);
        IFS_CHECK(id.pair_input == 1 && id.instruction_field &&
                      !strcmp(id.instruction_field, "instruction") &&
                      id.instruction_max_tokens == 64,
                  "the_pair_identity_reads_back");
        char *back = json(p0, 0, NULL);
        IFS_CHECK(!strcmp(back, t0), "a_pair_report_writes_back_byte_identical");
        free(back);
        IFS_CHECK(ifs_reduce_same_identity(plain, p0, err, sizeof err) == IFS_RED_EMISMATCH &&
                      strstr(err, "classifier.input: response vs pair"),
                  "a_pair_report_is_another_identity_than_a_response_only_one: %s", err);
        for (size_t i = 1; i < sizeof pairs / sizeof pairs[0]; i++) {
            char *t = mutate(pj, pairs[i].from, pairs[i].to);
            ifs_reducer *q = NULL;
            IFS_CHECK(t && ifs_report_parse(t, strlen(t), &q, NULL, 0) == 0, "variant %zu reads",
                      i);
            IFS_CHECK(q && ifs_reduce_same_identity(p0, q, err, sizeof err) == IFS_RED_EMISMATCH &&
                          strstr(err, pairs[i].why),
                      "pair_reports_differing_in_%s_are_other_identities: %s", pairs[i].why, err);
            ifs_reduce_free(q);
            free(t);
        }
        /* merge says the same as the comparison */
        ifs_reducer *q = NULL;
        IFS_CHECK(ifs_report_parse(pj, len, &q, NULL, 0) == 0, "the plain report reads");
        IFS_CHECK(q && ifs_reduce_merge(p0, q, 0, err, sizeof err) == IFS_RED_EMISMATCH,
                  "merge_refuses_a_response_only_report_into_a_pair_one: %s", err);
        ifs_reduce_free(q);
    }
    static const struct {
        const char *to, *why;
    } bad[] = {
        {"\"near_margin\": 0.010000,\n    \"input\": \"pairs\"\n", "classifier.input"},
        {"\"near_margin\": 0.010000,\n    \"input\": 1\n", "classifier.input"},
        {"\"near_margin\": 0.010000,\n    \"input\": \"pair\"\n", "classifier.instruction_field"},
        {"\"near_margin\": 0.010000,\n    \"input\": \"pair\",\n    \"instruction_field\": \"\",\n"
         "    \"instruction_max_tokens\": 0\n",
         "classifier.instruction_field"},
        {"\"near_margin\": 0.010000,\n    \"input\": \"pair\",\n    \"instruction_field\": \"i\"\n",
         "instruction_max_tokens"},
        {"\"near_margin\": 0.010000,\n    \"input\": \"pair\",\n    \"instruction_field\": \"i\",\n"
         "    \"instruction_max_tokens\": -1\n",
         "instruction_max_tokens"},
        {"\"near_margin\": 0.010000,\n    \"instruction_field\": \"i\"\n", "not \"pair\""},
        {"\"near_margin\": 0.010000,\n    \"input\": \"response\",\n    "
         "\"instruction_max_tokens\": 4\n",
         "not \"pair\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = mutate(pj, "\"near_margin\": 0.010000\n", bad[i].to);
        ifs_reducer *x = NULL;
        int rc = t ? ifs_report_parse(t, strlen(t), &x, err, sizeof err) : 0;
        IFS_CHECK(
            rc == IFS_RED_EFORMAT && strstr(err, bad[i].why),
            "a_malformed_pair_identity_is_refused_naming_the_field (%zu, want '%s'): rc %d %s", i,
            bad[i].why, rc, err);
        ifs_reduce_free(x);
        free(t);
    }
    /* "input": "response" is the same identity as no input at all */
    char *tr = mutate(pj, "\"near_margin\": 0.010000\n",
                      "\"near_margin\": 0.010000,\n    \"input\": \"response\"\n");
    ifs_reducer *x = NULL;
    IFS_CHECK(tr && ifs_report_parse(tr, strlen(tr), &x, NULL, 0) == 0 &&
                  ifs_reduce_same_identity(plain, x, NULL, 0) == 0,
              "input_response_is_the_identity_of_a_report_without_input");
    ifs_reduce_free(x);
    free(tr);
    ifs_reduce_free(p0);
    free(t0);
    free(pj);
    ifs_reduce_free(plain);
}

int main(void)
{
    test_figures();
    test_pair_identity();
    test_round_trip();
    test_damage();
    test_files();
    test_tables();
    return ifs_test_done("report");
}
