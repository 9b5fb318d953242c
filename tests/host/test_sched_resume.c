/*
 * test_sched_resume.c - the state directory of `ifscore score --resume`
 * (host/ifs_resume.h) and the progress line's format (host/ifs_progress.h).
 * Each case is a sentence; files live in IFS_TEST_TMP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "ifs_progress.h"
#include "ifs_resume.h"
#include "ifs_test.h"

static char tmp[1024];

static void write_file(const char *path, const char *fill, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        IFS_SKIP("cannot write %s", path);
    for (size_t i = 0; i < n; i++)
        fputc(fill[i % strlen(fill)], f);
    fclose(f);
}

static void set_mtime(const char *path, long sec)
{
    struct timeval tv[2] = {{sec, 0}, {sec, 0}};
    utimes(path, tv);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Fingerprints: which changes to a shard are seen. */
static void fingerprints(void)
{
    char a[1200];
    snprintf(a, sizeof a, "%s/fp.jsonl", tmp);
    const size_t big = (3u << 20) + 17; /* head, middle and tail are distinct regions */
    static const struct {
        const char *name;
        size_t offset; /* byte to change (SIZE_MAX: append one byte) */
        int restore_mtime;
        int want_same;
    } cases[] = {
        {"an_untouched_shard_keeps_its_fingerprint", 0, 1, 1},
        {"a_changed_first_mib_is_seen_even_with_the_mtime_restored", 100, 1, 0},
        {"a_changed_last_mib_is_seen_even_with_the_mtime_restored", (3u << 20), 1, 0},
        {"a_changed_middle_with_the_mtime_restored_is_not_seen_as_documented", (3u << 20) / 2, 1,
         1},
        {"a_changed_middle_with_a_new_mtime_is_seen", (3u << 20) / 2, 0, 0},
        {"an_appended_byte_is_seen", (size_t)-1, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(a, "{\"response\": \"x\"}\n", big);
        set_mtime(a, 1000000000);
        ifs_resume_fp before, after;
        char err[256];
        IFS_CHECK(ifs_resume_fingerprint(a, &before, err, sizeof err) == 0, "%s: %s", cases[i].name,
                  err);
        if (i > 0) {
            FILE *f = fopen(a, cases[i].offset == (size_t)-1 ? "ab" : "r+b");
            if (cases[i].offset != (size_t)-1)
                fseek(f, (long)cases[i].offset, SEEK_SET);
            fputc('#', f);
            fclose(f);
        }
        set_mtime(a, cases[i].restore_mtime ? 1000000000 : 1000000500);
        IFS_CHECK(ifs_resume_fingerprint(a, &after, err, sizeof err) == 0, "%s: %s", cases[i].name,
                  err);
        int same = before.size == after.size && before.mtime_ns == after.mtime_ns &&
                   !strcmp(before.sample_sha256, after.sample_sha256);
        IFS_CHECK(same == cases[i].want_same, "%s: same=%d", cases[i].name, same);
    }
    ifs_resume_fp fp;
    char err[256] = "";
    snprintf(a, sizeof a, "%s/missing.jsonl", tmp);
    IFS_CHECK(ifs_resume_fingerprint(a, &fp, err, sizeof err) == IFS_RESUME_EIO &&
                  strstr(err, "missing.jsonl"),
              "a_missing_shard_is_an_error_naming_it: %s", err);
}

/* Done markers, configurations, cleaning. */
static void state_dir(void)
{
    char dir[1200], shard[1200], part[1400], err[512];
    snprintf(dir, sizeof dir, "%s/state", tmp);
    snprintf(shard, sizeof shard, "%s/s.jsonl", tmp);
    write_file(shard, "{\"response\": \"hello\"}\n", 1000);
    ifs_resume_fp fp;
    ifs_resume_fingerprint(shard, &fp, err, sizeof err);

    ifs_resume *r = NULL;
    IFS_CHECK(ifs_resume_open(dir, "config A", 0, &r, err, sizeof err) == 0,
              "a_fresh_state_directory_is_created: %s", err);
    if (!r)
        return;
    IFS_CHECK(!ifs_resume_done(r, shard, &fp), "a_shard_without_a_marker_is_not_done");
    IFS_CHECK(ifs_resume_part_path(r, shard, "report.json", part, sizeof part) != NULL &&
                  strstr(part, "/shard-") && strstr(part, ".report.json"),
              "part_paths_live_in_the_state_directory: %s", part);
    write_file(part, "{}", 2);
    IFS_CHECK(ifs_resume_mark_done(r, shard, &fp, err, sizeof err) == 0, "mark done: %s", err);
    IFS_CHECK(ifs_resume_done(r, shard, &fp), "a_marked_shard_is_done");
    char other[1300];
    snprintf(other, sizeof other, "%s/./s.jsonl", tmp);
    IFS_CHECK(ifs_resume_done(r, other, &fp),
              "another_spelling_of_the_same_path_is_the_same_shard");
    ifs_resume_fp fp2 = fp;
    fp2.mtime_ns += 1;
    IFS_CHECK(!ifs_resume_done(r, shard, &fp2), "a_marker_with_another_fingerprint_is_not_done");
    ifs_resume_free(r);

    /* A stray temporary of ours (the atomic writer's name for a part) is
     * removed at open; a file we did not make is never touched. */
    char stray[1500], foreign[1400], foreign2[1400];
    snprintf(stray, sizeof stray, "%s.tmp-1-1", part);
    write_file(stray, "x", 1);
    snprintf(foreign, sizeof foreign, "%s/shard-00001.jsonl.zst", dir);
    write_file(foreign, "x", 1);
    snprintf(foreign2, sizeof foreign2, "%s/notes.tmp-1-1", dir);
    write_file(foreign2, "x", 1);
    r = NULL;
    IFS_CHECK(ifs_resume_open(dir, "config A", 1, &r, err, sizeof err) == 0,
              "resuming_under_the_same_configuration_is_allowed: %s", err);
    IFS_CHECK(r && ifs_resume_done(r, shard, &fp), "resuming_keeps_finished_shards");
    IFS_CHECK(!exists(stray), "stray_temporary_files_are_removed_at_open");
    IFS_CHECK(r && ifs_resume_skipped(r) == 1, "the_skipped_count_counts_done_shards");
    ifs_resume_free(r);

    r = NULL;
    err[0] = '\0';
    IFS_CHECK(ifs_resume_open(dir, "config B", 1, &r, err, sizeof err) == IFS_RESUME_ECONFIG &&
                  r == NULL && strstr(err, "another configuration"),
              "resuming_under_another_configuration_is_refused: %s", err);
    ifs_resume_free(r);

    r = NULL;
    IFS_CHECK(ifs_resume_open(dir, "config B", 0, &r, err, sizeof err) == 0,
              "a_fresh_run_may_take_over_the_directory: %s", err);
    IFS_CHECK(r && !ifs_resume_done(r, shard, &fp) && !exists(part),
              "a_fresh_run_deletes_the_previous_shard_state");
    IFS_CHECK(exists(foreign) && exists(foreign2),
              "files_the_state_directory_did_not_make_are_never_deleted");

    /* One run per state directory: the second open is refused while the
     * first holds it, and allowed once it is freed. */
    ifs_resume *r2 = NULL;
    err[0] = '\0';
    IFS_CHECK(r && ifs_resume_open(dir, "config B", 1, &r2, err, sizeof err) == IFS_RESUME_EBUSY &&
                  r2 == NULL && strstr(err, "in use by another"),
              "a_second_run_on_a_state_directory_in_use_is_refused: %s", err);
    ifs_resume_free(r);
    r2 = NULL;
    IFS_CHECK(ifs_resume_open(dir, "config B", 1, &r2, err, sizeof err) == 0,
              "the_directory_is_free_again_once_the_first_run_ends: %s", err);
    ifs_resume_free(r2);

    /* A folder that is not ours and not empty (a folder of shards) is
     * refused before anything is deleted. */
    char shards[1200], s1[1300];
    snprintf(shards, sizeof shards, "%s/shards", tmp);
    mkdir(shards, 0777);
    snprintf(s1, sizeof s1, "%s/shard-00000.jsonl.zst", shards);
    write_file(s1, "x", 1);
    r = NULL;
    err[0] = '\0';
    IFS_CHECK(ifs_resume_open(shards, "config A", 0, &r, err, sizeof err) == IFS_RESUME_ENOTOURS &&
                  r == NULL && exists(s1) && strstr(err, "not an ifscore state directory"),
              "a_non_empty_folder_that_is_not_ours_is_refused_and_left_alone: %s", err);
    ifs_resume_free(r);
    char empty[1200];
    snprintf(empty, sizeof empty, "%s/empty", tmp);
    mkdir(empty, 0777);
    r = NULL;
    IFS_CHECK(ifs_resume_open(empty, "config A", 0, &r, err, sizeof err) == 0,
              "an_empty_existing_folder_becomes_a_state_directory: %s", err);
    ifs_resume_free(r);

    r = NULL;
    IFS_CHECK(ifs_resume_open(shard, "config B", 0, &r, err, sizeof err) == IFS_RESUME_ENOTOURS &&
                  strstr(err, "not a directory"),
              "a_file_in_place_of_the_directory_is_refused: %s", err);
}

static void progress_lines(void)
{
    static const struct {
        const char *name;
        ifs_progress_snap now, prev;
        double dt, elapsed;
        const char *want[3];
    } cases[] = {
        {"rates_come_from_the_last_interval",
         {3000, 5, 90000, 1, 4, 0, 0},
         {1000, 0, 30000, 0, 4, 0, 0},
         2.0,
         10.0,
         {"shards 1/4", "1000 rec/s", "30.0k tok/s"}},
        {"the_eta_follows_the_bytes_consumed",
         {10, 0, 10, 1, 2, 250, 1000},
         {0, 0, 0, 0, 2, 0, 1000},
         1.0,
         30.0,
         {" 25.0% ETA 0:01:30", "(0 rejected)", "[0:00:30]"}},
        {"no_eta_when_the_total_size_is_unknown",
         {10, 0, 10, 1, 2, 250, 0},
         {0, 0, 0, 0, 2, 0, 0},
         1.0,
         30.0,
         {"records 10 ", "10 rec/s", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256];
        ifs_progress_format(line, sizeof line, &cases[i].now, &cases[i].prev, cases[i].dt,
                            cases[i].elapsed);
        for (int k = 0; k < 3 && cases[i].want[k]; k++)
            IFS_CHECK(strstr(line, cases[i].want[k]) != NULL, "%s: '%s' not in '%s'", cases[i].name,
                      cases[i].want[k], line);
        if (i == 2)
            IFS_CHECK(!strstr(line, "ETA"), "%s: %s", cases[i].name, line);
    }
    IFS_CHECK(ifs_progress_start(stderr, IFS_PROGRESS_OFF, 1.0, NULL, NULL) == NULL,
              "progress_off_starts_nothing");
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "%s", ifs_test_env("IFS_TEST_TMP", "/tmp"));
    fingerprints();
    state_dir();
    progress_lines();
    return ifs_test_done("sched_resume");
}
