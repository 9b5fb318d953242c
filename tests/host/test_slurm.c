/*
 * test_slurm.c - the slice of a Slurm array task from SLURM_ARRAY_*
 * (ifs_slurm_slice) and the fingerprint of the sliced list.
 *
 * The environments are the ones Slurm 22.05 gives the tasks of each --array
 * spec named in the case (recorded from real arrays; tests/slurm/slurm_array.sh
 * checks the same specs on a running Slurm), plus hand-made ones: missing or
 * malformed variables, values no array has.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ifs_slurm.h"
#include "ifs_test.h"

/* An environment: NULL-terminated "NAME=value" strings. */
typedef struct {
    const char *const *vars;
} env;

static const char *get(void *ctx, const char *name)
{
    const env *e = ctx;
    size_t n = strlen(name);
    for (const char *const *v = e->vars; *v; v++)
        if (!strncmp(*v, name, n) && (*v)[n] == '=')
            return *v + n + 1;
    return NULL;
}

#define ARRAY(id, mn, mx, step, count)                                                             \
    {                                                                                              \
        "SLURM_ARRAY_TASK_ID=" id, "SLURM_ARRAY_TASK_MIN=" mn, "SLURM_ARRAY_TASK_MAX=" mx,         \
            "SLURM_ARRAY_TASK_STEP=" step, "SLURM_ARRAY_TASK_COUNT=" count,                        \
            "SLURM_ARRAY_JOB_ID=41", NULL                                                          \
    }

typedef struct {
    const char *name;
    const char *vars[8];
    int rc;
    int32_t index, count;
    const char *words[4]; /* substrings the error must contain */
} slice_case;

static const slice_case CASES[] = {
    /* What real arrays give. */
    {"range_0_3_task_2_is_slice_2_of_4", ARRAY("2", "0", "3", "1", "4"), 0, 2, 4, {NULL}},
    {"range_0_3_task_0_is_slice_0_of_4", ARRAY("0", "0", "3", "1", "4"), 0, 0, 4, {NULL}},
    {"step_0_6_2_task_0_is_slice_0_of_4", ARRAY("0", "0", "6", "2", "4"), 0, 0, 4, {NULL}},
    {"step_0_6_2_task_4_is_slice_2_of_4", ARRAY("4", "0", "6", "2", "4"), 0, 2, 4, {NULL}},
    {"step_0_6_2_task_6_is_slice_3_of_4", ARRAY("6", "0", "6", "2", "4"), 0, 3, 4, {NULL}},
    {"step_1_5_2_task_5_is_slice_2_of_3", ARRAY("5", "1", "5", "2", "3"), 0, 2, 3, {NULL}},
    {"step_1_7_3_task_4_is_slice_1_of_3", ARRAY("4", "1", "7", "3", "3"), 0, 1, 3, {NULL}},
    {"throttled_3_9_3_pct_2_task_9_is_slice_2_of_3",
     ARRAY("9", "3", "9", "3", "3"),
     0,
     2,
     3,
     {NULL}},
    {"a_single_index_array_is_slice_0_of_1", ARRAY("5", "5", "5", "1", "1"), 0, 0, 1, {NULL}},
    {"a_range_that_starts_high_counts_from_its_minimum",
     ARRAY("1003", "1000", "1009", "1", "10"),
     0,
     3,
     10,
     {NULL}},
    /* Lists and mixes: refused with the values and what to do. */
    {"list_1_3_7_is_refused_naming_the_variables",
     ARRAY("3", "1", "7", "1", "3"),
     IFS_SLURM_EUNMAPPABLE,
     0,
     0,
     {"SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=7", "SLURM_ARRAY_TASK_COUNT=3",
      "--slice I/N"}},
    {"evenly_spaced_list_0_2_4_is_refused_slurm_says_step_1",
     ARRAY("2", "0", "4", "1", "3"),
     IFS_SLURM_EUNMAPPABLE,
     0,
     0,
     {"SLURM_ARRAY_TASK_STEP=1", "one range", NULL}},
    {"mix_2_4_and_8_is_refused",
     ARRAY("8", "2", "8", "1", "4"),
     IFS_SLURM_EUNMAPPABLE,
     0,
     0,
     {"SLURM_ARRAY_TASK_MAX=8", NULL}},
    {"mix_1_5_2_and_9_is_refused",
     ARRAY("9", "1", "9", "2", "4"),
     IFS_SLURM_EUNMAPPABLE,
     0,
     0,
     {"SLURM_ARRAY_TASK_STEP=2", NULL}},
    {"mix_0_2_2_3_6_off_the_grid_task_is_refused",
     ARRAY("3", "0", "6", "2", "4"),
     IFS_SLURM_EUNMAPPABLE,
     0,
     0,
     {"SLURM_ARRAY_TASK_ID=3", "grid", NULL}},
    {"mix_0_2_2_3_6_on_the_grid_task_passes_reduce_catches_the_gap",
     ARRAY("6", "0", "6", "2", "4"),
     0,
     3,
     4,
     {NULL}},
    {"a_task_below_the_minimum_is_refused",
     ARRAY("2", "3", "5", "1", "3"),
     IFS_SLURM_EUNMAPPABLE,
     0,
     0,
     {"SLURM_ARRAY_TASK_ID=2", "outside", NULL}},
    {"a_task_above_the_maximum_is_refused",
     ARRAY("6", "3", "5", "1", "3"),
     IFS_SLURM_EUNMAPPABLE,
     0,
     0,
     {"SLURM_ARRAY_TASK_ID=6", "outside", NULL}},
    {"huge_step_and_count_do_not_overflow",
     ARRAY("2147483647", "0", "2147483647", "2147483647", "2"),
     0,
     1,
     2,
     {NULL}},
    {"huge_step_times_count_is_refused_not_wrapped",
     ARRAY("0", "0", "2147483647", "2147483647", "2147483647"),
     IFS_SLURM_EUNMAPPABLE,
     0,
     0,
     {NULL}},
    /* Not an array task. */
    {"no_task_id_is_not_an_array_task",
     {"SLURM_JOB_ID=7", NULL},
     IFS_SLURM_ENOARRAY,
     0,
     0,
     {"SLURM_ARRAY_TASK_ID", NULL}},
    {"an_empty_task_id_is_not_an_array_task",
     {"SLURM_ARRAY_TASK_ID=", "SLURM_ARRAY_TASK_COUNT=4", "SLURM_ARRAY_TASK_MIN=0", NULL},
     IFS_SLURM_ENOARRAY,
     0,
     0,
     {NULL}},
    /* Hand-made environments. */
    {"without_max_and_step_the_range_is_min_plus_count",
     {"SLURM_ARRAY_TASK_ID=4", "SLURM_ARRAY_TASK_MIN=3", "SLURM_ARRAY_TASK_COUNT=3", NULL},
     0,
     1,
     3,
     {NULL}},
    {"without_max_a_task_past_min_plus_count_is_refused",
     {"SLURM_ARRAY_TASK_ID=6", "SLURM_ARRAY_TASK_MIN=3", "SLURM_ARRAY_TASK_COUNT=3", NULL},
     IFS_SLURM_EUNMAPPABLE,
     0,
     0,
     {"SLURM_ARRAY_TASK_ID=6", "3 .. 5", NULL}},
    {"a_task_id_without_a_count_names_the_count",
     {"SLURM_ARRAY_TASK_ID=4", "SLURM_ARRAY_TASK_MIN=3", NULL},
     IFS_SLURM_EVAR,
     0,
     0,
     {"SLURM_ARRAY_TASK_COUNT", "--slice I/N", NULL}},
    {"a_task_id_without_a_minimum_names_the_minimum",
     {"SLURM_ARRAY_TASK_ID=4", "SLURM_ARRAY_TASK_COUNT=3", NULL},
     IFS_SLURM_EVAR,
     0,
     0,
     {"SLURM_ARRAY_TASK_MIN", NULL}},
    {"a_task_id_with_letters_is_refused",
     ARRAY("4x", "0", "6", "2", "4"),
     IFS_SLURM_EVAR,
     0,
     0,
     {"SLURM_ARRAY_TASK_ID='4x'", NULL}},
    {"a_negative_task_id_is_refused",
     ARRAY("-1", "0", "6", "2", "4"),
     IFS_SLURM_EVAR,
     0,
     0,
     {"SLURM_ARRAY_TASK_ID='-1'", NULL}},
    {"a_task_id_with_a_space_is_refused",
     ARRAY(" 4", "0", "6", "2", "4"),
     IFS_SLURM_EVAR,
     0,
     0,
     {"SLURM_ARRAY_TASK_ID", NULL}},
    {"a_task_id_past_int32_is_refused",
     ARRAY("2147483648", "0", "6", "2", "4"),
     IFS_SLURM_EVAR,
     0,
     0,
     {"SLURM_ARRAY_TASK_ID", NULL}},
    {"a_malformed_step_is_refused",
     ARRAY("4", "0", "6", "two", "4"),
     IFS_SLURM_EVAR,
     0,
     0,
     {"SLURM_ARRAY_TASK_STEP='two'", NULL}},
    {"a_step_of_zero_is_refused",
     ARRAY("4", "0", "6", "0", "4"),
     IFS_SLURM_EVAR,
     0,
     0,
     {"SLURM_ARRAY_TASK_STEP=0", NULL}},
    {"a_count_of_zero_is_refused",
     ARRAY("0", "0", "0", "1", "0"),
     IFS_SLURM_EVAR,
     0,
     0,
     {"SLURM_ARRAY_TASK_COUNT=0", NULL}},
};

static void test_slices(void)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const slice_case *c = &CASES[i];
        env e = {c->vars};
        int32_t index = -7, count = -7;
        char err[768] = "";
        int rc = ifs_slurm_slice(get, &e, &index, &count, err, sizeof err);
        IFS_CHECK(rc == c->rc, "%s: rc %d (%s), want %d", c->name, rc, err, c->rc);
        IFS_CHECK(index == c->index && count == c->count, "%s: slice %d/%d, want %d/%d", c->name,
                  (int)index, (int)count, (int)c->index, (int)c->count);
        for (int w = 0; w < 4 && c->words[w]; w++)
            IFS_CHECK(strstr(err, c->words[w]) != NULL, "%s: the error does not say '%s': %s",
                      c->name, c->words[w], err);
    }
}

/* Every task of a range array gets a distinct slice, and together they are
 * 0..COUNT-1: the property the whole mapping exists for. */
static void test_every_slice_exactly_once(void)
{
    static const struct {
        int mn, step, count;
    } arrays[] = {{0, 1, 4}, {0, 2, 4}, {1, 2, 3}, {3, 3, 3}, {7, 5, 11}, {100, 1, 1}};
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) {
        int seen[16] = {0};
        int mn = arrays[a].mn, step = arrays[a].step, cnt = arrays[a].count;
        int mx = mn + step * (cnt - 1);
        for (int id = mn; id <= mx; id += step) {
            char v[5][48];
            snprintf(v[0], sizeof v[0], "SLURM_ARRAY_TASK_ID=%d", id);
            snprintf(v[1], sizeof v[1], "SLURM_ARRAY_TASK_MIN=%d", mn);
            snprintf(v[2], sizeof v[2], "SLURM_ARRAY_TASK_MAX=%d", mx);
            snprintf(v[3], sizeof v[3], "SLURM_ARRAY_TASK_STEP=%d", step);
            snprintf(v[4], sizeof v[4], "SLURM_ARRAY_TASK_COUNT=%d", cnt);
            const char *vars[] = {v[0], v[1], v[2], v[3], v[4], NULL};
            env e = {vars};
            int32_t index, count;
            char err[512];
            int rc = ifs_slurm_slice(get, &e, &index, &count, err, sizeof err);
            IFS_CHECK(rc == 0 && count == cnt && index >= 0 && index < cnt,
                      "every_task_of_%d_%d_%d_gets_a_slice: task %d: rc %d %s", mn, mx, step, id,
                      rc, err);
            if (rc == 0 && index >= 0 && index < 16)
                seen[index]++;
        }
        for (int k = 0; k < cnt; k++)
            IFS_CHECK(seen[k] == 1,
                      "every_slice_of_%d_%d_%d_is_taken_once: slice %d taken %d "
                      "times",
                      mn, mx, step, k, seen[k]);
    }
}

static void test_arguments(void)
{
    env e = {(const char *const[]){"SLURM_ARRAY_TASK_ID=1", NULL}};
    int32_t i, n;
    IFS_CHECK(ifs_slurm_slice(NULL, &e, &i, &n, NULL, 0) == IFS_SLURM_EARG,
              "a_null_getter_is_refused");
    IFS_CHECK(ifs_slurm_slice(get, &e, NULL, &n, NULL, 0) == IFS_SLURM_EARG,
              "a_null_index_is_refused");
    /* err may be NULL: the status alone still says what happened. */
    IFS_CHECK(ifs_slurm_slice(get, &e, &i, &n, NULL, 0) == IFS_SLURM_EVAR,
              "a_null_error_buffer_is_allowed");
    char small[8];
    IFS_CHECK(ifs_slurm_slice(get, &e, &i, &n, small, sizeof small) == IFS_SLURM_EVAR &&
                  strlen(small) == sizeof small - 1,
              "a_short_error_buffer_is_truncated_not_overrun");
    static const int rcs[] = {IFS_SLURM_OK, IFS_SLURM_ENOARRAY, IFS_SLURM_EVAR,
                              IFS_SLURM_EUNMAPPABLE, IFS_SLURM_EARG};
    for (size_t k = 0; k < sizeof rcs / sizeof rcs[0]; k++)
        IFS_CHECK(strcmp(ifs_slurm_strerror(rcs[k]), "unknown status") != 0,
                  "every_status_has_words: %d", rcs[k]);
    IFS_CHECK(!strcmp(ifs_slurm_strerror(12345), "unknown status"), "an_unknown_status_says_so");
}

static void test_getenv(void)
{
    /* The real getter reads the process environment. */
    setenv("SLURM_ARRAY_TASK_ID", "4", 1);
    setenv("SLURM_ARRAY_TASK_MIN", "0", 1);
    setenv("SLURM_ARRAY_TASK_MAX", "6", 1);
    setenv("SLURM_ARRAY_TASK_STEP", "2", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
    int32_t i, n;
    char err[256];
    int rc = ifs_slurm_slice(ifs_slurm_getenv, NULL, &i, &n, err, sizeof err);
    IFS_CHECK(rc == 0 && i == 2 && n == 4, "getenv_reads_the_process_environment: %d %d/%d", rc,
              (int)i, (int)n);
    unsetenv("SLURM_ARRAY_TASK_ID");
    rc = ifs_slurm_slice(ifs_slurm_getenv, NULL, &i, &n, err, sizeof err);
    IFS_CHECK(rc == IFS_SLURM_ENOARRAY && n == 0, "getenv_without_a_task_id_is_no_array");
}

static void test_inputs_sha256(void)
{
    /* Values from Python: hashlib.sha256(b"shards/s00.jsonl\0shards/s01.jsonl\0"). */
    const char *two[] = {"shards/s00.jsonl", "shards/s01.jsonl"};
    char hex[65];
    ifs_slurm_inputs_sha256(two, 2, hex);
    IFS_CHECK(!strcmp(hex, "e94e2b028acec737d65952002aa158ba8204ebe8922346b447193204271a2be3"),
              "the_list_hash_is_sha256_of_nul_terminated_paths: %s", hex);
    ifs_slurm_inputs_sha256(NULL, 0, hex);
    IFS_CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
              "the_empty_list_hashes_to_sha256_of_nothing: %s", hex);
    /* The NUL separator keeps ["ab", "c"] and ["a", "bc"] apart. */
    const char *x[] = {"ab", "c"}, *y[] = {"a", "bc"};
    char hx[65], hy[65];
    ifs_slurm_inputs_sha256(x, 2, hx);
    ifs_slurm_inputs_sha256(y, 2, hy);
    IFS_CHECK(strcmp(hx, hy) != 0, "paths_split_differently_hash_differently");
}

int main(void)
{
    test_slices();
    test_every_slice_exactly_once();
    test_arguments();
    test_getenv();
    test_inputs_sha256();
    return ifs_test_done("test_slurm");
}
