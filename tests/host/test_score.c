/*
 * test_score.c - the score run as a library (host/ifs_score.h): every record
 * scored or rejected, cancellation at a known shard then --resume giving the
 * uninterrupted run's bytes, slices merged giving the whole run, and the
 * refusals made before anything is written. The checkpoint is a tiny seeded
 * model from `ifscore gen-model` ($IFS_BIN).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ifs_reduce.h"
#include "ifs_report.h"
#include "ifs_score.h"
#include "ifs_test.h"

#define N_SHARDS 6
#define N_RECORDS 40

static char tmp[1024], model[1100], shards[N_SHARDS][1100];
static const char *inputs[N_SHARDS];

static int same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = ifs_test_slurp(a, &la), *y = ifs_test_slurp(b, &lb);
    int same = x && y && la == lb && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

static void make_data(void)
{
    static const char *words[] = {"the",  "model", "answers", "a",    "question", "about",
                                  "cats", "and",   "dogs",    "sure", "here",     "is"};
    char vocab[1200];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", tmp);
    FILE *v = fopen(vocab, "wb");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", v);
    for (size_t w = 0; w < sizeof words / sizeof *words; w++)
        fprintf(v, "%s\n", words[w]);
    fclose(v);
    char cmd[4096];
    const char *bin = getenv("IFS_BIN");
    if (!bin)
        IFS_SKIP("IFS_BIN is not set (run under ctest)");
    snprintf(model, sizeof model, "%s/model", tmp);
    snprintf(cmd, sizeof cmd,
             "'%s' gen-model --out '%s' --seed 7 --hidden 32 --layers 1 "
             "--heads 2 --intermediate 64 --init test --vocab '%s' > /dev/null",
             bin, model, vocab);
    if (system(cmd) != 0)
        IFS_SKIP("gen-model failed: %s", cmd);
    unsigned x = 12345;
    for (int s = 0; s < N_SHARDS; s++) {
        snprintf(shards[s], sizeof shards[s], "%s/s%02d.jsonl", tmp, s);
        inputs[s] = shards[s];
        FILE *f = fopen(shards[s], "wb");
        for (int r = 0; r < N_RECORDS; r++) {
            fprintf(f,
                    "{\"id\":\"%d-%d\",\"model\":\"m%d\",\"instruction_type\":\"%s\","
                    "\"response\":\"",
                    s, r, r % 3, r % 2 ? "full" : "partial");
            int n = 1 + (int)(x % 20);
            for (int k = 0; k < n; k++) {
                x = x * 1103515245u + 12345u;
                fprintf(f, "%s%s", k ? " " : "", words[(x >> 16) % (sizeof words / sizeof *words)]);
            }
            fputs("\"}\n", f);
        }
        if (s == 2)
            fputs("not json\n{\"model\":\"m1\"}\n", f); /* two rejects */
        fclose(f);
    }
}

static ifs_score_opts base_opts(const char *out)
{
    ifs_score_opts o = ifs_score_default_opts();
    o.model = model;
    o.backend = "cpu";
    o.inputs = inputs;
    o.n_inputs = N_SHARDS;
    o.out = out;
    o.no_timings = 1;
    o.threads = 2;
    o.cpu_threads = 1;
    return o;
}

static int run_opts(const ifs_score_opts *o, char *err, size_t errlen, ifs_reduce_totals *t)
{
    ifs_score *S = NULL;
    int rc = ifs_score_create(o, &S, err, errlen);
    if (rc == 0)
        rc = ifs_score_run(S, err, errlen);
    if (t) {
        memset(t, 0, sizeof *t);
        if (ifs_score_report(S))
            ifs_reduce_get_totals(ifs_score_report(S), t);
    }
    ifs_score_free(S);
    return rc;
}

static void every_record_is_scored_or_rejected(const char *ref)
{
    char err[1024] = "", scores[1200];
    snprintf(scores, sizeof scores, "%s/ref.scores.jsonl", tmp);
    ifs_score_opts o = base_opts(ref);
    o.scores = scores;
    ifs_reduce_totals t;
    int rc = run_opts(&o, err, sizeof err, &t);
    IFS_CHECK(rc == IFS_SCORE_OK, "a_clean_run_returns_ok: %d %s", rc, err);
    IFS_CHECK(t.read == N_SHARDS * N_RECORDS + 2 && t.scored == N_SHARDS * N_RECORDS &&
                  t.rejected == 2 && t.n_inputs == N_SHARDS,
              "every_line_is_scored_or_rejected: read %llu scored %llu rejected %llu",
              (unsigned long long)t.read, (unsigned long long)t.scored,
              (unsigned long long)t.rejected);
    size_t len = 0;
    char *sc = ifs_test_slurp(scores, &len);
    size_t lines = 0;
    for (size_t i = 0; sc && i < len; i++)
        lines += sc[i] == '\n';
    free(sc);
    IFS_CHECK(lines == N_SHARDS * N_RECORDS, "the_scores_file_has_one_line_per_scored_record: %zu",
              lines);
}

typedef struct {
    ifs_score *S;
    int committed, cancel_after;
} cancel_ctx;

static void cancel_on_shard(void *ctx, const char *path, int skipped)
{
    (void)path;
    cancel_ctx *c = ctx;
    if (!skipped && ++c->committed == c->cancel_after)
        ifs_score_cancel(c->S);
}

static void cancel_then_resume_gives_the_same_bytes(const char *ref)
{
    char err[1024] = "", out[1200];
    snprintf(out, sizeof out, "%s/resumed.json", tmp);
    unlink(out); /* from an earlier run of this test */
    cancel_ctx c = {NULL, 0, 2};
    ifs_score_opts o = base_opts(out);
    o.on_shard = cancel_on_shard;
    o.shard_ctx = &c;
    int rc = ifs_score_create(&o, &c.S, err, sizeof err);
    IFS_CHECK(rc == 0, "create: %s", err);
    if (rc)
        return;
    rc = ifs_score_run(c.S, err, sizeof err);
    IFS_CHECK(rc == IFS_SCORE_ECANCELLED, "a_cancelled_run_says_so: %d %s", rc, err);
    ifs_score_stats st;
    ifs_score_get_stats(c.S, &st);
    IFS_CHECK(st.shards_done >= 2 && st.shards_done < N_SHARDS,
              "the_run_stops_after_the_shard_it_was_cancelled_at: %llu done",
              (unsigned long long)st.shards_done);
    ifs_score_free(c.S);
    struct stat sb;
    IFS_CHECK(stat(out, &sb) != 0, "a_cancelled_run_writes_no_report");

    ifs_score_opts r = base_opts(out);
    r.resume = 1;
    ifs_score *S = NULL;
    rc = ifs_score_create(&r, &S, err, sizeof err);
    if (rc == 0)
        rc = ifs_score_run(S, err, sizeof err);
    IFS_CHECK(rc == IFS_SCORE_OK, "the_resumed_run_finishes: %d %s", rc, err);
    ifs_score_get_stats(S, &st);
    IFS_CHECK(st.shards_skipped >= 2, "resume_skips_the_committed_shards: %llu",
              (unsigned long long)st.shards_skipped);
    ifs_score_free(S);
    IFS_CHECK(same_file(ref, out), "resume_after_cancel_writes_the_uninterrupted_report");

    /* Cancelled before it starts: returns at once, nothing written. */
    char out2[1200];
    snprintf(out2, sizeof out2, "%s/never.json", tmp);
    unlink(out2);
    ifs_score_opts n = base_opts(out2);
    S = NULL;
    rc = ifs_score_create(&n, &S, err, sizeof err);
    ifs_score_cancel(S);
    if (rc == 0)
        rc = ifs_score_run(S, err, sizeof err);
    ifs_score_free(S);
    IFS_CHECK(rc == IFS_SCORE_ECANCELLED && stat(out2, &sb) != 0,
              "a_run_cancelled_before_it_starts_returns_cancelled: %d", rc);
}

static void slices_merge_into_the_whole_run(const char *ref)
{
    char err[1024] = "";
    ifs_reducer *all = NULL;
    size_t rlen = 0;
    char *want = ifs_test_slurp(ref, &rlen);
    for (int i = 0; i < 3; i++) {
        char out[1200];
        snprintf(out, sizeof out, "%s/slice%d.json", tmp, i);
        ifs_score_opts o = base_opts(out);
        o.slice_index = i;
        o.slice_count = 3;
        ifs_score *S = NULL;
        int rc = ifs_score_create(&o, &S, err, sizeof err);
        if (rc == 0)
            rc = ifs_score_run(S, err, sizeof err);
        IFS_CHECK(rc == IFS_SCORE_OK, "slice %d/3: %d %s", i, rc, err);
        ifs_score_stats st;
        ifs_score_get_stats(S, &st);
        IFS_CHECK(st.shards == N_SHARDS / 3, "each_slice_takes_every_third_shard: %llu",
                  (unsigned long long)st.shards);
        ifs_score_free(S);
        ifs_reducer *part = NULL;
        if (ifs_report_read(out, &part, err, sizeof err) == 0) {
            if (!all)
                all = part;
            else {
                IFS_CHECK(ifs_reduce_merge(all, part, 0, err, sizeof err) == 0, "merge: %s", err);
                ifs_reduce_free(part);
            }
        }
    }
    char *got = NULL;
    size_t glen = 0;
    IFS_CHECK(all && ifs_report_json(all, IFS_REPORT_NO_TIMINGS, &got, &glen, err, sizeof err) == 0,
              "render the merge: %s", err);
    IFS_CHECK(want && got && glen == rlen && !memcmp(want, got, glen),
              "three_slices_merged_equal_the_whole_run");
    free(want);
    free(got);
    ifs_reduce_free(all);
}

static void refusals_come_before_anything_is_written(void)
{
    char err[1024] = "";
    ifs_score_opts o = base_opts(shards[0]);
    int rc = run_opts(&o, err, sizeof err, NULL);
    IFS_CHECK(rc == IFS_SCORE_EUSAGE && strstr(err, "is the input shard"),
              "an_output_that_is_an_input_is_refused: %d %s", rc, err);
    char nowhere[1200];
    snprintf(nowhere, sizeof nowhere, "%s/missing-dir/r.json", tmp);
    o = base_opts(nowhere);
    rc = run_opts(&o, err, sizeof err, NULL);
    IFS_CHECK(rc == IFS_SCORE_EUSAGE && strstr(err, "missing-dir"),
              "an_output_in_a_missing_folder_is_refused_at_create: %d %s", rc, err);
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/no-model", tmp);
    o = base_opts(NULL);
    o.model = bad;
    rc = run_opts(&o, err, sizeof err, NULL);
    IFS_CHECK(rc == IFS_SCORE_EFAIL && strstr(err, "no-model"),
              "a_model_that_does_not_load_is_a_runtime_failure_naming_it: %d %s", rc, err);
    o = base_opts(NULL);
    o.threshold = 1.5;
    rc = run_opts(&o, err, sizeof err, NULL);
    IFS_CHECK(rc == IFS_SCORE_EUSAGE, "a_threshold_outside_0_1_is_refused: %d", rc);
    IFS_CHECK(!strcmp(ifs_score_strerror(IFS_SCORE_ECANCELLED), "cancelled (state left resumable)"),
              "statuses_have_words");
    ifs_score_free(NULL);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "%s", ifs_test_env("IFS_TEST_TMP", "/tmp/ifs_test_score"));
    mkdir(tmp, 0777);
    make_data();
    char ref[1200];
    snprintf(ref, sizeof ref, "%s/ref.json", tmp);
    every_record_is_scored_or_rejected(ref);
    cancel_then_resume_gives_the_same_bytes(ref);
    slices_merge_into_the_whole_run(ref);
    refusals_come_before_anything_is_written();
    return ifs_test_done("score");
}
