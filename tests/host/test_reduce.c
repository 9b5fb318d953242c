/*
 * test_reduce.c - the reducer: Wilson and Newcombe intervals against
 * published values, the decision and near-threshold rules, the plateau
 * definition case by case, the key order, accounting checks, and merging
 * (A+B == one run over everything, in any order, any split, any thread
 * count; refusals of mismatched classifiers and of shards counted twice).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_reduce.h"
#include "ifs_report.h"
#include "ifs_test.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const char *const LABELS[] = {"continuation", "answer"};
static const char *const KEYS2[] = {"model", "step"};

static ifs_reduce_config base_config(void)
{
    ifs_reduce_config c = ifs_reduce_default_config();
    c.weights_sha256 = SHA_A;
    c.n_labels = 2;
    c.labels = LABELS;
    c.answer_label = 1;
    c.n_keys = 2;
    c.keys = KEYS2;
    return c;
}

static ifs_reducer *make(const ifs_reduce_config *c)
{
    ifs_reducer *r = NULL;
    char err[256];
    int rc = ifs_reduce_create(c, &r, err, sizeof err);
    if (rc) {
        fprintf(stderr, "create failed: %s\n", err);
        exit(1);
    }
    return r;
}

/* The JSON of a reducer without timings (caller frees). */
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

/* --- Wilson / Newcombe ----------------------------------------------------- */

static void test_wilson(void)
{
    /* Newcombe (1998), "Two-sided confidence intervals for the single
     * proportion", Stat Med 17:857-872, Table I, method 3 (score, no CC). */
    static const struct {
        const char *name;
        uint64_t k, n;
        double lo, hi;
    } cases[] = {
        {"wilson_matches_newcombe_81_of_263", 81, 263, 0.2553, 0.3662},
        {"wilson_matches_newcombe_15_of_148", 15, 148, 0.0624, 0.1605},
        {"wilson_matches_newcombe_0_of_20", 0, 20, 0.0000, 0.1611},
        {"wilson_matches_newcombe_1_of_29", 1, 29, 0.0061, 0.1718},
        {"wilson_is_symmetric_at_one_half", 5, 10, 0.2366, 0.7634},
        {"wilson_upper_bound_is_one_when_all_succeed", 10, 10, 0.7225, 1.0},
        {"wilson_of_nothing_is_the_whole_unit_interval", 0, 0, 0.0, 1.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double lo, hi;
        ifs_wilson95(cases[i].k, cases[i].n, &lo, &hi);
        IFS_CHECK(fabs(lo - cases[i].lo) < 5e-5 && fabs(hi - cases[i].hi) < 5e-5,
                  "%s: got [%.6f, %.6f], want [%.4f, %.4f]", cases[i].name, lo, hi, cases[i].lo,
                  cases[i].hi);
    }
}

/* --- decision rule and near threshold --------------------------------------- */

static void test_decision(void)
{
    static const struct {
        const char *name;
        double p;
        int answer, near;
    } cases[] = {
        {"p_exactly_at_threshold_is_not_answer_like_but_near", 0.5, 0, 1},
        {"p_just_above_threshold_is_answer_like_and_near", 0.505, 1, 1},
        {"p_just_below_threshold_is_near", 0.4901, 0, 1},
        {"p_a_margin_away_is_not_near", 0.52, 1, 0},
        {"p_zero_is_continuation_like", 0.0, 0, 0},
        {"p_one_is_answer_like", 1.0, 1, 0},
    };
    ifs_reduce_config c = base_config();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ifs_reducer *r = make(&c);
        int32_t in;
        ifs_reduce_add_input(r, "x", 1, SHA_A, &in, NULL, 0);
        const char *vals[] = {"m", "1"};
        ifs_reduce_pred p = {vals, IFS_ITYPE_FULL, cases[i].p, 3, 0};
        IFS_CHECK(ifs_reduce_add(r, in, &p, 1, NULL, 0) == 0, "%s: add failed", cases[i].name);
        ifs_reduce_totals t;
        ifs_reduce_get_totals(r, &t);
        IFS_CHECK((int)t.answer_like == cases[i].answer && (int)t.near_threshold == cases[i].near,
                  "%s: answer %llu near %llu", cases[i].name, (unsigned long long)t.answer_like,
                  (unsigned long long)t.near_threshold);
        IFS_CHECK(ifs_reduce_is_answer_like(r, cases[i].p) == cases[i].answer,
                  "%s: is_answer_like disagrees with the count", cases[i].name);
        ifs_reduce_free(r);
    }
}

/* --- plateau --------------------------------------------------------------- */

static void test_plateau(void)
{
    /* Points given as IFS in thousandths out of 1000 records each, unless m given. */
    static const struct {
        const char *name;
        size_t n;
        uint64_t k[8];
        uint64_t m[8]; /* 0 -> 1000 */
        uint64_t eps;  /* 1e-6 units */
        int32_t min_after;
        int64_t want;
    } cases[] = {
        {"fewer_than_three_points_have_no_plateau", 2, {900, 900}, {0}, 20000, 2, -1},
        {"a_single_point_has_no_plateau", 1, {900}, {0}, 20000, 2, -1},
        {"no_points_have_no_plateau", 0, {0}, {0}, 20000, 2, -1},
        {"three_equal_points_plateau_at_the_first", 3, {900, 900, 900}, {0}, 20000, 2, 0},
        {"rise_then_flat_plateaus_where_flat_begins",
         6,
         {300, 600, 890, 900, 905, 895},
         {0},
         20000,
         2,
         2},
        {"a_rise_beyond_epsilon_at_the_end_means_not_reached",
         5,
         {300, 600, 900, 905, 950},
         {0},
         20000,
         2,
         -1},
        {"a_difference_of_exactly_epsilon_counts_as_flat",
         4,
         {500, 900, 920, 880},
         {0},
         20000,
         2,
         1},
        {"a_later_dip_beyond_epsilon_moves_the_plateau_past_it",
         6,
         {500, 900, 910, 850, 860, 855},
         {0},
         20000,
         2,
         3},
        {"the_last_points_cannot_plateau_without_enough_confirmation",
         4,
         {100, 300, 600, 900},
         {0},
         20000,
         2,
         -1},
        {"min_after_one_lets_the_second_to_last_point_plateau",
         4,
         {100, 300, 600, 610},
         {0},
         20000,
         1,
         2},
        {"zero_epsilon_needs_identical_ratios", 4, {100, 500, 500, 500}, {0}, 0, 2, 1},
        {"ratios_are_compared_exactly_across_sample_sizes",
         3,
         {9, 90, 900},
         {10, 100, 1000},
         0,
         2,
         0},
        {"a_slow_drift_never_plateaus", 6, {800, 815, 830, 845, 860, 875}, {0}, 20000, 2, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t m[8];
        for (size_t j = 0; j < 8; j++)
            m[j] = cases[i].m[j] ? cases[i].m[j] : 1000;
        int64_t got = ifs_plateau(cases[i].k, m, cases[i].n, cases[i].eps, cases[i].min_after);
        IFS_CHECK(got == cases[i].want, "%s: got %lld, want %lld", cases[i].name, (long long)got,
                  (long long)cases[i].want);
    }
}

/* --- key order ------------------------------------------------------------- */

static int key_pos(const char *json, const char *needle)
{
    const char *p = strstr(json, needle);
    return p ? (int)(p - json) : -1;
}

static void test_key_order(void)
{
    /* Values fed in a scrambled order; the report must list them as below. */
    static const char *const want[] = {"-3",  "-0.5", "0",  "0.25", "0.5",      "2",         "10",
                                       "800", "8000", "a2", "a10",  "step-800", "step-8000", "z"};
    static const size_t feed[] = {8, 3, 12, 0, 10, 5, 13, 1, 7, 4, 11, 2, 9, 6};
    const size_t n = sizeof want / sizeof want[0];
    ifs_reduce_config c = base_config();
    static const char *const k1[] = {"model"};
    c.n_keys = 1;
    c.keys = k1;
    c.curve_key = "";
    ifs_reducer *r = make(&c);
    int32_t in;
    ifs_reduce_add_input(r, "x", 1, SHA_A, &in, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        const char *vals[] = {want[feed[i]]};
        ifs_reduce_pred p = {vals, IFS_ITYPE_NONE, 0.9, 1, 0};
        ifs_reduce_add(r, in, &p, 1, NULL, 0);
    }
    char *js = json_of(r);
    int prev = -1, ok = 1;
    for (size_t i = 0; i < n; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "{\"model\": \"%s\"}", want[i]);
        int pos = key_pos(js, needle);
        if (pos <= prev) {
            ok = 0;
            fprintf(stderr, "  %s is out of place\n", want[i]);
        }
        prev = pos;
    }
    IFS_CHECK(ok, "groups_sort_numbers_by_value_then_strings_in_natural_order");
    free(js);
    ifs_reduce_free(r);
}

/* --- synthetic runs -------------------------------------------------------- */

#define N_REC 3000
#define N_SHARDS 4

typedef struct {
    char model[16], step[16];
    ifs_itype type;
    double p;
    int shard;
} rec;

static rec RECS[N_REC];
static int SHARD_LINES[N_SHARDS], SHARD_REJECTS[N_SHARDS];
static const char *SHARD_SHA[N_SHARDS] = {
    "1111111111111111111111111111111111111111111111111111111111111111",
    "2222222222222222222222222222222222222222222222222222222222222222",
    "3333333333333333333333333333333333333333333333333333333333333333",
    "4444444444444444444444444444444444444444444444444444444444444444"};
static const char *SHARD_PATH[N_SHARDS] = {"s/0.jsonl.zst", "s/1.jsonl.zst", "s/2.jsonl.zst",
                                           "s/3.jsonl.zst"};

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void make_records(void)
{
    static const char *const models[] = {"base-7b", "chat-7b", "sft-13b"};
    static const char *const steps[] = {"800", "8000", "2000", "16000", "4000"};
    uint64_t s = 42;
    for (int i = 0; i < N_REC; i++) {
        rec *x = &RECS[i];
        snprintf(x->model, sizeof x->model, "%s", models[lcg(&s) % 3]);
        snprintf(x->step, sizeof x->step, "%s", steps[lcg(&s) % 5]);
        x->type = (ifs_itype)(lcg(&s) % 3);
        /* a grid of probabilities that hits the threshold band often */
        x->p = (double)(lcg(&s) % 1001) / 1000.0;
        x->shard = (int)(lcg(&s) % N_SHARDS);
        SHARD_LINES[x->shard]++;
    }
    for (int k = 0; k < N_SHARDS; k++) {
        SHARD_REJECTS[k] = k + 1;
        SHARD_LINES[k] += k + 1;
    }
}

static ifs_reduce_pred pred_of(const rec *x, const char **vals)
{
    vals[0] = x->model;
    vals[1] = x->step;
    ifs_reduce_pred p = {vals, x->type, x->p, 10 + (int32_t)(x->p * 100), x->p > 0.99};
    return p;
}

/* One run over the shards in `mask`, records fed in `order` in batches of
 * `batch`. Returns a reducer that passed its checks. */
static ifs_reducer *run(unsigned mask, const int *order, int batch, const char *who)
{
    ifs_reduce_config c = base_config();
    ifs_reducer *r = make(&c);
    int32_t id[N_SHARDS];
    for (int k = N_SHARDS - 1; k >= 0; k--) /* registration order differs from paths */
        if (mask & (1u << k))
            ifs_reduce_add_input(r, SHARD_PATH[k], 1000u + (unsigned)k, SHARD_SHA[k], &id[k], NULL,
                                 0);
    ifs_reduce_pred buf[64];
    const char *vals[64][2];
    int nb = 0, cur = -1;
    for (int i = 0; i <= N_REC; i++) {
        const rec *x = i < N_REC ? &RECS[order ? order[i] : i] : NULL;
        if (x && !(mask & (1u << x->shard)))
            continue;
        if (nb && (!x || x->shard != cur || nb == batch)) {
            char err[256];
            int rc = ifs_reduce_add(r, id[cur], buf, (size_t)nb, err, sizeof err);
            IFS_CHECK(rc == 0, "%s: add failed: %s", who, err);
            nb = 0;
        }
        if (!x)
            break;
        cur = x->shard;
        buf[nb] = pred_of(x, vals[nb]);
        nb++;
    }
    for (int k = 0; k < N_SHARDS; k++) {
        if (!(mask & (1u << k)))
            continue;
        for (int j = 0; j < SHARD_REJECTS[k]; j++)
            ifs_reduce_add_reject(r, id[k], j % 2 ? "invalid_json" : "missing_text", NULL, 0);
        char err[256];
        int rc = ifs_reduce_end_input(r, id[k], (uint64_t)SHARD_LINES[k], err, sizeof err);
        IFS_CHECK(rc == 0, "%s: end_input: %s", who, err);
    }
    char err[256];
    IFS_CHECK(ifs_reduce_check(r, 0, err, sizeof err) == 0, "%s: check: %s", who, err);
    ifs_reduce_set_timing(r, "wall_s", 1.5);
    return r;
}

static void merge_into(ifs_reducer *dst, const ifs_reducer *src, const char *who)
{
    char err[256];
    int rc = ifs_reduce_merge(dst, src, 0, err, sizeof err);
    IFS_CHECK(rc == 0, "%s: merge failed: %s", who, err);
}

typedef struct {
    ifs_reducer *r;
    int first, step;
} thr_arg;

static void *thr_main(void *p)
{
    thr_arg *a = p;
    /* every thread feeds its own slice of records, one at a time */
    for (int i = a->first; i < N_REC; i += a->step) {
        const char *vals[2];
        ifs_reduce_pred q = pred_of(&RECS[i], vals);
        ifs_reduce_add(a->r, RECS[i].shard, &q, 1, NULL, 0);
    }
    return NULL;
}

static void test_merging(void)
{
    make_records();
    ifs_reducer *all = run(0xF, NULL, 64, "one run");
    char *want = json_of(all);

    int *rev = malloc(N_REC * sizeof *rev), *shuf = malloc(N_REC * sizeof *shuf);
    for (int i = 0; i < N_REC; i++)
        rev[i] = N_REC - 1 - i, shuf[i] = i;
    uint64_t s = 7;
    for (int i = N_REC - 1; i > 0; i--) {
        int j = (int)(lcg(&s) % (uint64_t)(i + 1)), t = shuf[i];
        shuf[i] = shuf[j];
        shuf[j] = t;
    }

    ifs_reducer *r1 = run(0xF, rev, 1, "reversed");
    char *got = json_of(r1);
    IFS_CHECK(!strcmp(got, want), "report_is_identical_when_records_arrive_reversed_one_by_one");
    free(got);
    ifs_reducer *r2 = run(0xF, shuf, 7, "shuffled");
    got = json_of(r2);
    IFS_CHECK(!strcmp(got, want), "report_is_identical_when_records_arrive_shuffled_in_batches");
    free(got);

    /* A + B, B + A, and a three-way split in another order. */
    ifs_reducer *a = run(0x3, NULL, 64, "A"), *b = run(0xC, shuf, 13, "B");
    ifs_reducer *ab = run(0x0, NULL, 64, "empty");
    merge_into(ab, a, "A+B");
    merge_into(ab, b, "A+B");
    got = json_of(ab);
    IFS_CHECK(!strcmp(got, want), "merging_a_then_b_equals_one_run_over_everything");
    free(got);
    ifs_reducer *ba = run(0x0, NULL, 64, "empty");
    merge_into(ba, b, "B+A");
    merge_into(ba, a, "B+A");
    got = json_of(ba);
    IFS_CHECK(!strcmp(got, want), "merging_b_then_a_equals_one_run_over_everything");
    free(got);
    ifs_reducer *x = run(0x4, NULL, 3, "x"), *y = run(0x9, rev, 5, "y"),
                *z = run(0x2, NULL, 64, "z");
    merge_into(y, x, "y+x");
    merge_into(z, y, "z+y+x");
    got = json_of(z);
    IFS_CHECK(!strcmp(got, want), "a_three_way_split_merged_in_any_order_equals_one_run");
    free(got);

    /* Through the files: each part written, read back, merged. */
    char *ja = NULL, *jb = NULL;
    size_t la, lb;
    ifs_report_json(a, 0, &ja, &la, NULL, 0);
    ifs_report_json(b, 0, &jb, &lb, NULL, 0);
    ifs_reducer *pa = NULL, *pb = NULL;
    char err[256];
    IFS_CHECK(ifs_report_parse(ja, la, &pa, err, sizeof err) == 0, "parse A: %s", err);
    IFS_CHECK(ifs_report_parse(jb, lb, &pb, err, sizeof err) == 0, "parse B: %s", err);
    if (pa && pb) {
        merge_into(pb, pa, "read B + read A");
        got = json_of(pb);
        IFS_CHECK(!strcmp(got, want), "reports_read_back_and_merged_equal_one_run");
        free(got);
        IFS_CHECK(ifs_reduce_check(pb, 0, err, sizeof err) == 0,
                  "a_merged_report_passes_the_run_checks: %s", err);
        /* timings are summed */
        char *full = NULL;
        size_t lf;
        ifs_report_json(pb, 0, &full, &lf, NULL, 0);
        IFS_CHECK(full && strstr(full, "\"wall_s\": 3.000000"),
                  "timings_of_merged_reports_are_summed");
        free(full);
    }
    free(ja);
    free(jb);

    /* Threads: four threads adding concurrently into one reducer. */
    ifs_reduce_config c = base_config();
    ifs_reducer *t = make(&c);
    int32_t id;
    for (int k = 0; k < N_SHARDS; k++)
        ifs_reduce_add_input(t, SHARD_PATH[k], 1000u + (unsigned)k, SHARD_SHA[k], &id, NULL, 0);
    pthread_t th[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){t, i, 4};
        pthread_create(&th[i], NULL, thr_main, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int k = 0; k < N_SHARDS; k++) {
        for (int j = 0; j < SHARD_REJECTS[k]; j++)
            ifs_reduce_add_reject(t, k, j % 2 ? "invalid_json" : "missing_text", NULL, 0);
        ifs_reduce_end_input(t, k, (uint64_t)SHARD_LINES[k], NULL, 0);
    }
    got = json_of(t);
    IFS_CHECK(!strcmp(got, want), "four_threads_adding_concurrently_give_the_same_report");
    free(got);

    ifs_reduce_free(t);
    ifs_reduce_free(pa);
    ifs_reduce_free(pb);
    ifs_reduce_free(x);
    ifs_reduce_free(y);
    ifs_reduce_free(z);
    ifs_reduce_free(ab);
    ifs_reduce_free(ba);
    ifs_reduce_free(a);
    ifs_reduce_free(b);
    ifs_reduce_free(r1);
    ifs_reduce_free(r2);
    ifs_reduce_free(all);
    free(want);
    free(rev);
    free(shuf);
}

/* --- refusals -------------------------------------------------------------- */

static void test_refusals(void)
{
    static const char *const other_keys[] = {"model", "variant"};
    static const char *const other_labels[] = {"continuation", "reply"};
    static const struct {
        const char *name;
        int field;
    } cases[] = {
        {"merge_refuses_a_different_weights_hash", 0},
        {"merge_refuses_different_labels", 1},
        {"merge_refuses_a_different_answer_label", 2},
        {"merge_refuses_a_different_threshold", 3},
        {"merge_refuses_a_different_max_length", 4},
        {"merge_refuses_a_different_lower_casing", 5},
        {"merge_refuses_different_group_by_keys", 6},
        {"merge_refuses_a_different_near_margin", 7},
    };
    ifs_reduce_config c0 = base_config();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ifs_reduce_config c = base_config();
        switch (cases[i].field) {
        case 0: c.weights_sha256 = SHA_B; break;
        case 1: c.labels = other_labels; break;
        case 2: c.answer_label = 0; break;
        case 3: c.threshold = 0.6; break;
        case 4: c.max_length = 256; break;
        case 5: c.do_lower_case = 0; break;
        case 6: c.keys = other_keys; break;
        case 7: c.near_margin = 0.02; break;
        }
        ifs_reducer *a = make(&c0), *b = make(&c);
        char err[256] = "";
        int rc = ifs_reduce_merge(a, b, 0, err, sizeof err);
        IFS_CHECK(rc == IFS_RED_EMISMATCH && strstr(err, "differ"), "%s: rc %d (%s)", cases[i].name,
                  rc, err);
        ifs_reduce_free(a);
        ifs_reduce_free(b);
    }

    /* The tokenizer's identity: two values differ, and a report without one
     * (written before the field existed) differs from one with it. */
    static const struct {
        const char *name;
        const char *ta, *tb;
        int want;
    } toks[] = {
        {"merge_refuses_reports_differing_only_in_tokenizer_sha256", SHA_A, SHA_B,
         IFS_RED_EMISMATCH},
        {"merge_refuses_a_report_without_tokenizer_sha256_and_one_with_it", NULL, SHA_A,
         IFS_RED_EMISMATCH},
        {"merge_accepts_reports_with_the_same_tokenizer_sha256", SHA_B, SHA_B, IFS_RED_OK},
    };
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
        ifs_reduce_config ca = base_config(), cb = base_config();
        ca.tokenizer_sha256 = toks[i].ta;
        cb.tokenizer_sha256 = toks[i].tb;
        ifs_reducer *ra = make(&ca), *rb = make(&cb);
        char err[256] = "";
        int rc = ifs_reduce_merge(ra, rb, 0, err, sizeof err);
        IFS_CHECK(rc == toks[i].want &&
                      (rc == IFS_RED_OK || strstr(err, "classifier.tokenizer_sha256")),
                  "%s: rc %d (%s)", toks[i].name, rc, err);
        ifs_reduce_free(ra);
        ifs_reduce_free(rb);
    }
    {
        ifs_reduce_config cb = base_config();
        cb.tokenizer_sha256 = "abc";
        ifs_reducer *rb = NULL;
        char err[256] = "";
        int rc = ifs_reduce_create(&cb, &rb, err, sizeof err);
        IFS_CHECK(rc == IFS_RED_EARG && strstr(err, "tokenizer_sha256"),
                  "create_refuses_a_tokenizer_sha256_that_is_not_64_hex: rc %d (%s)", rc, err);
        ifs_reduce_free(rb);
    }

    /* The same shard in two reports. */
    ifs_reducer *a = make(&c0), *b = make(&c0);
    int32_t ia, ib;
    const char *vals[] = {"m", "1"};
    ifs_reduce_pred p = {vals, IFS_ITYPE_PARTIAL, 0.9, 5, 0};
    ifs_reduce_add_input(a, "one/x.zst", 10, SHA_A, &ia, NULL, 0);
    ifs_reduce_add_input(b, "two/x.zst", 10, SHA_A, &ib, NULL, 0);
    ifs_reduce_add(a, ia, &p, 1, NULL, 0);
    ifs_reduce_add(b, ib, &p, 1, NULL, 0);
    ifs_reduce_end_input(a, ia, 1, NULL, 0);
    ifs_reduce_end_input(b, ib, 1, NULL, 0);
    char err[256] = "";
    int rc = ifs_reduce_merge(a, b, 0, err, sizeof err);
    IFS_CHECK(rc == IFS_RED_EOVERLAP && strstr(err, "two/x.zst"),
              "merge_refuses_a_shard_present_in_both_reports: rc %d (%s)", rc, err);
    ifs_reduce_totals t;
    ifs_reduce_get_totals(a, &t);
    IFS_CHECK(t.scored == 1 && t.n_inputs == 1, "a_refused_merge_leaves_the_target_unchanged");
    rc = ifs_reduce_merge(a, b, IFS_RED_ALLOW_OVERLAP, err, sizeof err);
    ifs_reduce_get_totals(a, &t);
    IFS_CHECK(rc == 0 && t.scored == 2 && t.n_inputs == 2,
              "allow_overlap_merges_and_counts_the_shard_twice: rc %d", rc);
    IFS_CHECK(ifs_reduce_check(a, 0, err, sizeof err) == IFS_RED_EOVERLAP,
              "the_run_check_still_names_the_overlap_without_allow_overlap");
    IFS_CHECK(ifs_reduce_check(a, 1, err, sizeof err) == 0,
              "the_run_check_accepts_the_overlap_when_allowed: %s", err);
    ifs_reduce_free(a);
    ifs_reduce_free(b);

    /* Two empty shards share a hash harmlessly. */
    a = make(&c0);
    b = make(&c0);
    ifs_reduce_add_input(a, "e1", 0, SHA_B, &ia, NULL, 0);
    ifs_reduce_add_input(b, "e2", 0, SHA_B, &ib, NULL, 0);
    ifs_reduce_end_input(a, ia, 0, NULL, 0);
    ifs_reduce_end_input(b, ib, 0, NULL, 0);
    rc = ifs_reduce_merge(a, b, 0, err, sizeof err);
    IFS_CHECK(rc == 0, "empty_shards_with_the_same_hash_do_not_count_as_overlap: %s", err);
    IFS_CHECK(ifs_reduce_check(a, 0, err, sizeof err) == 0,
              "the_run_check_accepts_empty_shards_with_the_same_hash: %s", err);
    ifs_reduce_free(a);
    ifs_reduce_free(b);

    /* One path with other bytes in each report: the file changed between
     * the runs; refused whatever the flags. */
    a = make(&c0);
    b = make(&c0);
    ifs_reduce_add_input(a, "s/x.zst", 10, SHA_A, &ia, NULL, 0);
    ifs_reduce_add_input(b, "s/x.zst", 10, SHA_B, &ib, NULL, 0);
    ifs_reduce_add(a, ia, &p, 1, NULL, 0);
    ifs_reduce_add(b, ib, &p, 1, NULL, 0);
    ifs_reduce_end_input(a, ia, 1, NULL, 0);
    ifs_reduce_end_input(b, ib, 1, NULL, 0);
    rc = ifs_reduce_merge(a, b, IFS_RED_ALLOW_OVERLAP, err, sizeof err);
    IFS_CHECK(rc == IFS_RED_EMISMATCH && strstr(err, "s/x.zst") && strstr(err, "changed"),
              "merge_refuses_one_path_with_different_contents: rc %d (%s)", rc, err);
    ifs_reduce_get_totals(a, &t);
    IFS_CHECK(t.scored == 1 && t.n_inputs == 1, "that_refusal_leaves_the_target_unchanged");
    ifs_reduce_free(a);
    ifs_reduce_free(b);

    /* One run given the same non-empty shard twice. */
    a = make(&c0);
    ifs_reduce_add_input(a, "x.zst", 10, SHA_A, &ia, NULL, 0);
    ifs_reduce_add_input(a, "./x.zst", 10, SHA_A, &ib, NULL, 0);
    ifs_reduce_add(a, ia, &p, 1, NULL, 0);
    ifs_reduce_add(a, ib, &p, 1, NULL, 0);
    ifs_reduce_end_input(a, ia, 1, NULL, 0);
    ifs_reduce_end_input(a, ib, 1, NULL, 0);
    rc = ifs_reduce_check(a, 0, err, sizeof err);
    IFS_CHECK(rc == IFS_RED_EOVERLAP && strstr(err, "./x.zst") && strstr(err, "counted twice"),
              "the_run_check_refuses_one_shard_given_twice: rc %d (%s)", rc, err);
    ifs_reduce_free(a);
}

/* --- accounting and bad arguments ----------------------------------------- */

static void test_accounting(void)
{
    ifs_reduce_config c = base_config();
    ifs_reducer *r = make(&c);
    int32_t in, in2;
    char err[256] = "";
    ifs_reduce_add_input(r, "a", 5, SHA_A, &in, NULL, 0);
    ifs_reduce_add_input(r, "b", 5, SHA_B, &in2, NULL, 0);
    const char *vals[] = {"m", "1"};
    const char *novals[] = {"m", NULL};
    ifs_reduce_pred good = {vals, IFS_ITYPE_FULL, 0.7, 4, 0};
    ifs_reduce_pred batch[3] = {good, good, good};
    batch[2].p_answer = NAN;
    int rc = ifs_reduce_add(r, in, batch, 3, err, sizeof err);
    ifs_reduce_totals t;
    ifs_reduce_get_totals(r, &t);
    IFS_CHECK(rc == IFS_RED_EARG && t.scored == 0 && strstr(err, "prediction 2"),
              "a_nan_probability_rejects_the_whole_batch_and_counts_nothing: rc %d scored %llu", rc,
              (unsigned long long)t.scored);
    batch[2].p_answer = 1.5;
    IFS_CHECK(ifs_reduce_add(r, in, batch, 3, NULL, 0) == IFS_RED_EARG,
              "a_probability_above_one_is_refused");
    batch[2] = good;
    batch[2].keys = novals;
    IFS_CHECK(ifs_reduce_add(r, in, batch, 3, NULL, 0) == IFS_RED_EARG,
              "a_missing_key_value_is_refused");
    const char *badutf[] = {"m\xc3(", "1"};
    batch[2].keys = badutf;
    IFS_CHECK(ifs_reduce_add(r, in, batch, 3, NULL, 0) == IFS_RED_EARG,
              "a_key_value_that_is_not_utf8_is_refused");
    batch[2] = good;
    batch[2].type = (ifs_itype)7;
    IFS_CHECK(ifs_reduce_add(r, in, batch, 3, NULL, 0) == IFS_RED_EARG,
              "an_unknown_instruction_type_is_refused");
    IFS_CHECK(ifs_reduce_add(r, 9, &good, 1, NULL, 0) == IFS_RED_EARG,
              "an_unknown_input_id_is_refused");
    IFS_CHECK(ifs_reduce_add_reject(r, in, "Bad JSON", NULL, 0) == IFS_RED_EARG,
              "a_reject_reason_outside_the_code_alphabet_is_refused");
    IFS_CHECK(ifs_reduce_add(r, in, &good, 1, NULL, 0) == 0, "add one");
    IFS_CHECK(ifs_reduce_add_reject(r, in, "invalid_json", NULL, 0) == 0, "reject one");
    IFS_CHECK(ifs_reduce_check(r, 0, err, sizeof err) == IFS_RED_ECOUNT &&
                  strstr(err, "never finished"),
              "check_fails_while_a_shard_is_unfinished: %s", err);
    rc = ifs_reduce_end_input(r, in, 3, err, sizeof err);
    IFS_CHECK(rc == IFS_RED_ECOUNT && strstr(err, "read 3 lines but scored 1 + rejected 1"),
              "ending_a_shard_with_lines_unaccounted_for_fails: %s", err);
    IFS_CHECK(ifs_reduce_add(r, in, &good, 1, NULL, 0) == IFS_RED_EARG,
              "an_ended_shard_takes_no_more_records");
    ifs_reduce_end_input(r, in2, 0, NULL, 0);
    IFS_CHECK(ifs_reduce_check(r, 0, err, sizeof err) == IFS_RED_ECOUNT,
              "check_fails_when_read_differs_from_scored_plus_rejected");
    ifs_reduce_free(r);

    /* Config validation. */
    static const struct {
        const char *name;
        int what;
    } bad[] = {
        {"create_refuses_a_short_weights_hash", 0},
        {"create_refuses_one_label", 1},
        {"create_refuses_an_answer_label_out_of_range", 2},
        {"create_refuses_a_threshold_of_one", 3},
        {"create_refuses_repeated_keys", 4},
        {"create_refuses_a_curve_key_that_is_not_grouped_by", 5},
        {"create_refuses_zero_keys", 6},
    };
    static const char *const dup[] = {"model", "model"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ifs_reduce_config b = base_config();
        switch (bad[i].what) {
        case 0: b.weights_sha256 = "abc"; break;
        case 1: b.n_labels = 1; break;
        case 2: b.answer_label = 2; break;
        case 3: b.threshold = 1.0; break;
        case 4: b.keys = dup; break;
        case 5: b.curve_key = "epoch"; break;
        case 6: b.n_keys = 0; break;
        }
        ifs_reducer *x = NULL;
        rc = ifs_reduce_create(&b, &x, err, sizeof err);
        IFS_CHECK(rc == IFS_RED_EARG && !x && err[0], "%s: rc %d", bad[i].name, rc);
        ifs_reduce_free(x);
    }
}

/* --- the mean probability is exact ----------------------------------------- */

static void test_mean(void)
{
    ifs_reduce_config c = base_config();
    static const double ps[] = {0.1, 0.2, 0.3, 0.7, 0.123456789, 0.876543211};
    const size_t n = sizeof ps / sizeof ps[0];
    char *first = NULL;
    for (int order = 0; order < 3; order++) {
        ifs_reducer *r = make(&c);
        int32_t in;
        ifs_reduce_add_input(r, "a", 5, SHA_A, &in, NULL, 0);
        for (size_t i = 0; i < n; i++) {
            size_t j = order == 0 ? i : order == 1 ? n - 1 - i : (i * 5) % n;
            const char *vals[] = {"m", "1"};
            ifs_reduce_pred p = {vals, IFS_ITYPE_PARTIAL, ps[j], 4, 0};
            ifs_reduce_add(r, in, &p, 1, NULL, 0);
        }
        char *js = json_of(r);
        if (order == 0) {
            IFS_CHECK(strstr(js, "\"p_answer_sum_1e9\": \"2300000000\"") &&
                          strstr(js, "\"mean_p_answer\": 0.383333"),
                      "the_probability_sum_is_exact_in_fixed_point");
            first = js;
        } else {
            IFS_CHECK(!strcmp(js, first), "the_mean_probability_does_not_depend_on_order (%d)",
                      order);
            free(js);
        }
        ifs_reduce_free(r);
    }
    free(first);
}

int main(void)
{
    test_wilson();
    test_decision();
    test_plateau();
    test_key_order();
    test_merging();
    test_refusals();
    test_accounting();
    test_mean();
    return ifs_test_done("reduce");
}
