/*
 * test_reduce_slices.c - slices in the reducer and the report: the merge of
 * every slice of a run is byte-identical to one unsliced run, a merge with a
 * slice missing is refused naming it, slices of another list or count and a
 * slice given twice are refused leaving the merge target as it was, and the
 * report's "slice" member reads back (and refuses damage) exactly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_reduce.h"
#include "ifs_report.h"
#include "ifs_test.h"

#define SHA_W "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LIST_A "1111111111111111111111111111111111111111111111111111111111111111"
#define LIST_B "2222222222222222222222222222222222222222222222222222222222222222"

static const char *const LABELS[] = {"continuation", "answer"};
static const char *const KEYS[] = {"model"};

static ifs_reducer *make(void)
{
    ifs_reduce_config c = ifs_reduce_default_config();
    c.weights_sha256 = SHA_W;
    c.n_labels = 2;
    c.labels = LABELS;
    c.answer_label = 1;
    c.n_keys = 1;
    c.keys = KEYS;
    ifs_reducer *r = NULL;
    char err[256];
    if (ifs_reduce_create(&c, &r, err, sizeof err)) {
        fprintf(stderr, "create failed: %s\n", err);
        exit(1);
    }
    return r;
}

/* Scores shard k of a made-up run into r: 3 + k records, models by k. */
static void add_shard(ifs_reducer *r, int k)
{
    char path[32], sha[65];
    snprintf(path, sizeof path, "shards/s%02d.jsonl", k);
    for (int i = 0; i < 64; i++)
        sha[i] = "0123456789abcdef"[(k * 7 + i) % 16];
    sha[64] = 0;
    sha[0] = "0123456789abcdef"[k % 16]; /* distinct per shard */
    sha[1] = "0123456789abcdef"[(k / 16) % 16];
    int32_t in;
    if (ifs_reduce_add_input(r, path, 100 + (uint64_t)k, sha, &in, NULL, 0)) {
        fprintf(stderr, "add_input failed\n");
        exit(1);
    }
    const char *m[] = {k % 2 ? "m1" : "m2"};
    for (int i = 0; i < 3 + k; i++) {
        ifs_reduce_pred p = {.keys = m,
                             .type = (ifs_itype)(i % 3),
                             .p_answer = (i * 37 % 100) / 100.0,
                             .n_tokens = 10 + i};
        ifs_reduce_add(r, in, &p, 1, NULL, 0);
    }
    ifs_reduce_end_input(r, in, (uint64_t)(3 + k), NULL, 0);
}

/* Slice `index` of `count` over shards 0..n-1 (shard k goes to k % count). */
static ifs_reducer *slice_run(int n, int index, int count, const char *list)
{
    ifs_reducer *r = make();
    for (int k = 0; k < n; k++)
        if (k % count == index)
            add_shard(r, k);
    char err[256];
    if (ifs_reduce_set_slice(r, index, count, list, err, sizeof err)) {
        fprintf(stderr, "set_slice failed: %s\n", err);
        exit(1);
    }
    return r;
}

static char *json_of(const ifs_reducer *r)
{
    char *s = NULL;
    size_t n;
    char err[256];
    if (ifs_report_json(r, IFS_REPORT_NO_TIMINGS, &s, &n, err, sizeof err)) {
        fprintf(stderr, "json failed: %s\n", err);
        exit(1);
    }
    return s;
}

static ifs_reducer *reparse(const ifs_reducer *r)
{
    char *s = json_of(r);
    ifs_reducer *x = NULL;
    char err[256];
    if (ifs_report_parse(s, strlen(s), &x, err, sizeof err)) {
        fprintf(stderr, "reparse failed: %s\n", err);
        exit(1);
    }
    free(s);
    return x;
}

static void test_complete_merge_equals_one_run(void)
{
    ifs_reducer *one = make();
    for (int k = 0; k < 10; k++)
        add_shard(one, k);
    char *want = json_of(one);
    static const int orders[][4] = {{0, 1, 2, 3}, {3, 1, 0, 2}, {2, 3, 1, 0}};
    for (size_t o = 0; o < 3; o++) {
        ifs_reducer *acc = NULL;
        for (int t = 0; t < 4; t++) {
            ifs_reducer *s = slice_run(10, orders[o][t], 4, LIST_A);
            /* Through the file format, as `reduce` sees them. */
            ifs_reducer *p = reparse(s);
            ifs_reduce_free(s);
            if (!acc) {
                acc = p;
                continue;
            }
            char err[256];
            IFS_CHECK(ifs_reduce_merge(acc, p, 0, err, sizeof err) == 0,
                      "four_slices_merge_in_any_order: %s", err);
            ifs_reduce_free(p);
        }
        char err[256];
        IFS_CHECK(ifs_reduce_check_slices(acc, err, sizeof err) == 0,
                  "four_of_four_slices_pass_the_check: %s", err);
        char *got = json_of(acc);
        IFS_CHECK(!strcmp(got, want),
                  "four_slices_merged_are_byte_identical_to_one_run "
                  "(order %zu)",
                  o);
        IFS_CHECK(!strstr(got, "\"slice\""), "a_complete_merge_has_no_slice_record");
        free(got);
        ifs_reduce_free(acc);
    }
    /* Slice 0 of 1 is the whole run. */
    ifs_reducer *whole = slice_run(10, 0, 1, LIST_A);
    char *got = json_of(whole);
    IFS_CHECK(!strcmp(got, want), "slice_0_of_1_is_written_as_an_unsliced_run");
    free(got);
    ifs_reduce_free(whole);
    free(want);
    ifs_reduce_free(one);
}

static void test_missing_slices(void)
{
    ifs_reducer *acc = slice_run(10, 0, 4, LIST_A);
    ifs_reducer *b = slice_run(10, 1, 4, LIST_A), *d = slice_run(10, 3, 4, LIST_A);
    char err[512];
    IFS_CHECK(ifs_reduce_check_slices(acc, err, sizeof err) == IFS_RED_EMISSING &&
                  strstr(err, "slices 1-3 of 4 are missing") && strstr(err, "slice 0 of"),
              "one_slice_alone_is_missing_the_other_three: %s", err);
    ifs_reduce_merge(acc, b, 0, NULL, 0);
    ifs_reduce_merge(acc, d, 0, NULL, 0);
    int rc = ifs_reduce_check_slices(acc, err, sizeof err);
    IFS_CHECK(rc == IFS_RED_EMISSING, "three_of_four_slices_are_refused: %d", rc);
    IFS_CHECK(strstr(err, "slice 2 of 4 is missing") != NULL,
              "the_refusal_names_the_missing_slice: %s", err);
    IFS_CHECK(strstr(err, "slices 0-1, 3 of the input list 1111111111111111") != NULL,
              "the_refusal_names_the_slices_held_and_the_list: %s", err);
    IFS_CHECK(strstr(err, "--allow-partial") != NULL, "the_refusal_says_how_to_merge_anyway");
    IFS_CHECK(ifs_reduce_check(acc, 0, err, sizeof err) == 0,
              "missing_slices_are_not_a_counting_error: %s", err);
    char *j = json_of(acc);
    IFS_CHECK(strstr(j, "  \"slice\": {\n    \"count\": 4,\n    \"indexes\": [0, 1, 3],\n"
                        "    \"inputs_sha256\": \"" LIST_A "\"\n  },\n  \"counts\"") != NULL,
              "a_partial_merge_lists_the_slices_it_holds:\n%.600s", j);
    free(j);
    /* The partial report, read back and completed, is the one run. */
    ifs_reducer *p = reparse(acc);
    ifs_reducer *c = slice_run(10, 2, 4, LIST_A);
    IFS_CHECK(ifs_reduce_merge(p, c, 0, err, sizeof err) == 0 &&
                  ifs_reduce_check_slices(p, err, sizeof err) == 0,
              "a_partial_report_completed_later_passes: %s", err);
    ifs_reducer *one = make();
    for (int k = 0; k < 10; k++)
        add_shard(one, k);
    char *a = json_of(p), *w = json_of(one);
    IFS_CHECK(!strcmp(a, w), "a_partial_report_completed_later_equals_one_run");
    free(a);
    free(w);
    ifs_reduce_free(one);
    ifs_reduce_free(p);
    ifs_reduce_free(c);
    ifs_reduce_free(acc);
    ifs_reduce_free(b);
    ifs_reduce_free(d);
}

/* A refused merge leaves dst's report as it was. */
static void test_refusals(void)
{
    static const struct {
        const char *name;
        int index, count;
        const char *list;
        unsigned flags;
        int rc;
        const char *words;
    } cases[] = {
        {"slices_of_another_list_are_refused", 1, 4, LIST_B, 0, IFS_RED_EMISMATCH,
         "slice.inputs_sha256"},
        {"slices_of_another_count_are_refused", 1, 3, LIST_A, 0, IFS_RED_EMISMATCH,
         "slice.count: 4 vs 3"},
        {"a_slice_given_twice_is_refused", 0, 4, LIST_A, 0, IFS_RED_EOVERLAP,
         "slice 0 of 4 is in both reports"},
        {"a_slice_given_twice_merges_with_allow_overlap", 0, 4, LIST_A, IFS_RED_ALLOW_OVERLAP, 0,
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* Slices over no shards: only the slice record can refuse them. */
        ifs_reducer *dst = slice_run(0, 0, 4, LIST_A);
        ifs_reducer *src = slice_run(0, cases[i].index, cases[i].count, cases[i].list);
        char *before = json_of(dst);
        char err[512] = "";
        int rc = ifs_reduce_merge(dst, src, cases[i].flags, err, sizeof err);
        IFS_CHECK(rc == cases[i].rc, "%s: rc %d (%s)", cases[i].name, rc, err);
        if (cases[i].words)
            IFS_CHECK(strstr(err, cases[i].words) != NULL, "%s: says '%s'? %s", cases[i].name,
                      cases[i].words, err);
        char *after = json_of(dst);
        if (rc)
            IFS_CHECK(!strcmp(before, after), "%s: the refused merge changed dst", cases[i].name);
        else
            IFS_CHECK(!strcmp(before, after) && strstr(after, "\"indexes\": [0]"),
                      "%s: the union holds slice 0 once", cases[i].name);
        free(before);
        free(after);
        ifs_reduce_free(dst);
        ifs_reduce_free(src);
    }
    /* An unsliced report merged with a slice keeps the slice (and its gaps). */
    ifs_reducer *plain = make(), *s = slice_run(0, 2, 4, LIST_A);
    add_shard(plain, 40);
    char err[512];
    IFS_CHECK(ifs_reduce_merge(plain, s, 0, err, sizeof err) == 0 &&
                  ifs_reduce_check_slices(plain, err, sizeof err) == IFS_RED_EMISSING &&
                  strstr(err, "slices 0-1, 3 of 4"),
              "an_unsliced_report_merged_with_a_slice_keeps_the_slice: %s", err);
    ifs_reducer *plain2 = make();
    add_shard(plain2, 41);
    IFS_CHECK(ifs_reduce_merge(s, plain2, 0, err, sizeof err) == 0 &&
                  ifs_reduce_check_slices(s, err, sizeof err) == IFS_RED_EMISSING,
              "a_slice_merged_with_an_unsliced_report_keeps_the_slice: %s", err);
    ifs_reduce_free(plain);
    ifs_reduce_free(plain2);
    ifs_reduce_free(s);
}

static void test_set_slice(void)
{
    static const struct {
        const char *name;
        int index, count;
        const char *list;
        int rc;
    } cases[] = {
        {"slice_2_of_4_is_accepted", 2, 4, LIST_A, 0},
        {"a_count_of_zero_is_refused", 0, 0, LIST_A, IFS_RED_EARG},
        {"a_negative_index_is_refused", -1, 4, LIST_A, IFS_RED_EARG},
        {"an_index_equal_to_the_count_is_refused", 4, 4, LIST_A, IFS_RED_EARG},
        {"a_short_list_hash_is_refused", 0, 4, "abc", IFS_RED_EARG},
        {"an_uppercase_list_hash_is_refused", 0, 4,
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", IFS_RED_EARG},
        {"a_null_list_hash_is_refused", 0, 4, NULL, IFS_RED_EARG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ifs_reducer *r = make();
        char err[256] = "";
        int rc =
            ifs_reduce_set_slice(r, cases[i].index, cases[i].count, cases[i].list, err, sizeof err);
        IFS_CHECK(rc == cases[i].rc, "%s: rc %d (%s)", cases[i].name, rc, err);
        IFS_CHECK(rc == 0 || *err, "%s: a refusal says why", cases[i].name);
        ifs_reduce_free(r);
    }
    ifs_reducer *r = make();
    ifs_reduce_set_slice(r, 1, 4, LIST_A, NULL, 0);
    ifs_reduce_set_slice(r, 2, 3, LIST_B, NULL, 0);
    char *j = json_of(r);
    IFS_CHECK(strstr(j, "\"count\": 3,\n    \"indexes\": [2],\n    \"inputs_sha256\": \"" LIST_B),
              "setting_a_slice_again_replaces_it");
    free(j);
    ifs_reduce_free(r);
    IFS_CHECK(ifs_reduce_set_slice(NULL, 0, 1, LIST_A, NULL, 0) == IFS_RED_EARG,
              "set_slice_refuses_null");
    IFS_CHECK(ifs_reduce_check_slices(NULL, NULL, 0) == IFS_RED_EARG, "check_slices_refuses_null");
    IFS_CHECK(strcmp(ifs_reduce_strerror(IFS_RED_EMISSING), "unknown status") != 0,
              "the_missing_status_has_words");
    ifs_reducer *none = make();
    IFS_CHECK(ifs_reduce_check_slices(none, NULL, 0) == 0, "an_unsliced_run_passes_the_check");
    ifs_reduce_free(none);
}

/* The words for many gaps stay short; the counts stay right. */
static void test_range_words(void)
{
    static const struct {
        const char *name;
        int count;
        int present[8];
        int n;
        const char *words;
    } cases[] = {
        {"gaps_are_written_as_ranges",
         10,
         {0, 4, 5, 9},
         4,
         "slices 1-3, 6-8 of 10 are missing (the reports hold slices 0, 4-5, 9 "},
        {"a_huge_count_is_written_as_two_ranges",
         1000000,
         {5},
         1,
         "slices 0-4, 6-999999 of 1000000 are missing (the reports hold slice 5 "},
        {"a_last_slice_missing_is_named", 3, {0, 1}, 2, "slice 2 of 3 is missing"},
        {"a_first_slice_missing_is_named", 3, {1, 2}, 2, "slice 0 of 3 is missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ifs_reducer *acc = NULL;
        for (int k = 0; k < cases[i].n; k++) {
            ifs_reducer *s = slice_run(0, cases[i].present[k], cases[i].count, LIST_A);
            if (!acc) {
                acc = s;
                continue;
            }
            ifs_reduce_merge(acc, s, 0, NULL, 0);
            ifs_reduce_free(s);
        }
        char err[512] = "";
        int rc = ifs_reduce_check_slices(acc, err, sizeof err);
        IFS_CHECK(rc == IFS_RED_EMISSING && strstr(err, cases[i].words), "%s: %s", cases[i].name,
                  err);
        ifs_reduce_free(acc);
    }
    /* Every other slice of 100: 50 gaps, 12 shown. */
    ifs_reducer *acc = slice_run(0, 0, 100, LIST_A);
    for (int k = 2; k < 100; k += 2) {
        ifs_reducer *s = slice_run(0, k, 100, LIST_A);
        ifs_reduce_merge(acc, s, 0, NULL, 0);
        ifs_reduce_free(s);
    }
    char err[512] = "";
    ifs_reduce_check_slices(acc, err, sizeof err);
    IFS_CHECK(strstr(err, "slices 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23 and 38 more of 100 "
                          "are missing") != NULL,
              "many_gaps_are_cut_short_with_a_count: %s", err);
    ifs_reduce_free(acc);
}

/* A report with the given slice member text in place of none. */
static int parse_with(const char *member, char *err, size_t errlen, ifs_reducer **out)
{
    ifs_reducer *r = make();
    add_shard(r, 0);
    char *j = NULL;
    size_t len;
    if (ifs_report_json(r, IFS_REPORT_NO_TIMINGS, &j, &len, err, errlen)) {
        ifs_reduce_free(r);
        return -100;
    }
    ifs_reduce_free(r);
    const char *at = strstr(j, "  \"counts\"");
    size_t need = strlen(j) + strlen(member) + 1;
    char *t = malloc(need);
    size_t head = (size_t)(at - j);
    memcpy(t, j, head);
    strcpy(t + head, member);
    strcat(t, at);
    *out = NULL;
    int rc = ifs_report_parse(t, strlen(t), out, err, errlen);
    free(t);
    free(j);
    return rc;
}

static void test_reading(void)
{
    static const struct {
        const char *name;
        const char *member;
        int rc;
        const char *words;
    } cases[] = {
        {"a_slice_record_reads_back",
         "\"slice\": {\"count\": 4, \"indexes\": [1, 3], \"inputs_sha256\": \"" LIST_A "\"},", 0,
         NULL},
        {"a_null_slice_is_no_slice", "\"slice\": null,", 0, NULL},
        {"a_slice_that_is_not_an_object_is_refused", "\"slice\": 3,", IFS_RED_EFORMAT,
         "slice: not an object"},
        {"a_count_of_zero_is_refused",
         "\"slice\": {\"count\": 0, \"indexes\": [0], \"inputs_sha256\": \"" LIST_A "\"},",
         IFS_RED_EFORMAT, "slice.count"},
        {"a_fractional_count_is_refused",
         "\"slice\": {\"count\": 2.5, \"indexes\": [0], \"inputs_sha256\": \"" LIST_A "\"},",
         IFS_RED_EFORMAT, "slice.count"},
        {"a_count_past_int32_is_refused",
         "\"slice\": {\"count\": 2147483648, \"indexes\": [0], \"inputs_sha256\": \"" LIST_A "\"},",
         IFS_RED_EFORMAT, "slice.count"},
        {"unsorted_indexes_are_refused",
         "\"slice\": {\"count\": 4, \"indexes\": [3, 1], \"inputs_sha256\": \"" LIST_A "\"},",
         IFS_RED_EFORMAT, "slice.indexes[1]"},
        {"a_repeated_index_is_refused",
         "\"slice\": {\"count\": 4, \"indexes\": [1, 1], \"inputs_sha256\": \"" LIST_A "\"},",
         IFS_RED_EFORMAT, "slice.indexes[1]"},
        {"an_index_past_the_count_is_refused",
         "\"slice\": {\"count\": 4, \"indexes\": [4], \"inputs_sha256\": \"" LIST_A "\"},",
         IFS_RED_EFORMAT, "slice.indexes[0]"},
        {"a_negative_index_is_refused",
         "\"slice\": {\"count\": 4, \"indexes\": [-1], \"inputs_sha256\": \"" LIST_A "\"},",
         IFS_RED_EFORMAT, "slice.indexes[0]"},
        {"a_string_index_is_refused",
         "\"slice\": {\"count\": 4, \"indexes\": [\"1\"], \"inputs_sha256\": \"" LIST_A "\"},",
         IFS_RED_EFORMAT, "slice.indexes[0]"},
        {"no_indexes_is_refused",
         "\"slice\": {\"count\": 4, \"indexes\": [], \"inputs_sha256\": \"" LIST_A "\"},",
         IFS_RED_EFORMAT, "slice.indexes"},
        {"a_bad_list_hash_is_refused",
         "\"slice\": {\"count\": 4, \"indexes\": [1], \"inputs_sha256\": \"xyz\"},",
         IFS_RED_EFORMAT, "slice.inputs_sha256"},
        {"a_missing_list_hash_is_refused", "\"slice\": {\"count\": 4, \"indexes\": [1]},",
         IFS_RED_EFORMAT, "slice.inputs_sha256"},
        {"a_complete_record_is_accepted_and_dropped",
         "\"slice\": {\"count\": 2, \"indexes\": [0, 1], \"inputs_sha256\": \"" LIST_A "\"},", 0,
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        ifs_reducer *r;
        int rc = parse_with(cases[i].member, err, sizeof err, &r);
        IFS_CHECK(rc == cases[i].rc, "%s: rc %d (%s)", cases[i].name, rc, err);
        if (cases[i].words)
            IFS_CHECK(strstr(err, cases[i].words) != NULL, "%s: says '%s'? %s", cases[i].name,
                      cases[i].words, err);
        if (!rc) {
            /* Written back, read again, written again: the same bytes. */
            char *a = json_of(r);
            ifs_reducer *r2 = reparse(r);
            char *b = json_of(r2);
            IFS_CHECK(!strcmp(a, b), "%s: write -> read -> write differs", cases[i].name);
            int sliced = strstr(cases[i].member, "[1, 3]") != NULL;
            IFS_CHECK(!!strstr(a, "\"slice\"") == sliced, "%s: slice record %s", cases[i].name,
                      sliced ? "lost" : "kept");
            free(a);
            free(b);
            ifs_reduce_free(r2);
        }
        ifs_reduce_free(r);
    }
}

int main(void)
{
    test_complete_merge_equals_one_run();
    test_missing_slices();
    test_refusals();
    test_set_slice();
    test_range_words();
    test_reading();
    return ifs_test_done("test_reduce_slices");
}
