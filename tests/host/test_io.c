/*
 * test_io.c - atomic output (nothing visible before commit, nothing left
 * after an abort, the old file kept when a commit fails) and the input
 * listing (directories, globs, stdin, duplicates, errors), on files the test
 * makes in its own scratch folder.
 */
#include "ifs_io.h"
#include "ifs_test.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[1024];

static void path_of(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", root, rel);
}

static void write_file(const char *rel, const char *content)
{
    char p[1200];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "wb");
    if (!f) {
        fprintf(stderr, "cannot create %s: %s\n", p, strerror(errno));
        exit(1);
    }
    fputs(content, f);
    fclose(f);
}

static int read_equals(const char *path, const char *want)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return n == strlen(want) && !memcmp(buf, want, n);
}

/* Files in dir whose name contains ".tmp-" (our temporaries). */
static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp-") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void atomic_file_appears_only_at_commit(void)
{
    char p[1200], err[512];
    path_of(p, sizeof p, "out/report.json");
    ifs_atomic *a;
    IFS_CHECK(!ifs_atomic_open(p, &a, err, sizeof err), "open: %s", err);
    IFS_CHECK(!ifs_atomic_write(a, "{\"ifs\":", 7), "write");
    fprintf(ifs_atomic_file(a), "%.2f}\n", 0.5);
    IFS_CHECK(access(p, F_OK) != 0, "target absent before commit");
    IFS_CHECK(count_temps(root) == 0, "temporary is beside the target, not in the parent");
    char dir[1200];
    path_of(dir, sizeof dir, "out");
    IFS_CHECK(count_temps(dir) == 1, "one temporary beside the target");
    IFS_CHECK(!ifs_atomic_commit(a, err, sizeof err), "commit: %s", err);
    IFS_CHECK(ifs_atomic_bytes(a) == 13, "bytes %llu", (unsigned long long)ifs_atomic_bytes(a));
    ifs_atomic_free(a);
    IFS_CHECK(read_equals(p, "{\"ifs\":0.50}\n"), "content after commit");
    IFS_CHECK(count_temps(dir) == 0, "no temporary left after commit");
    struct stat st;
    mode_t mask = umask(0);
    umask(mask);
    IFS_CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask),
              "mode %o follows the umask", (unsigned)(st.st_mode & 0777));
    /* replacing: the old content stays until the new commit */
    IFS_CHECK(!ifs_atomic_open(p, &a, err, sizeof err), "reopen");
    ifs_atomic_write(a, "new\n", 4);
    IFS_CHECK(read_equals(p, "{\"ifs\":0.50}\n"), "old content while the new one is written");
    IFS_CHECK(!ifs_atomic_commit(a, err, sizeof err), "commit 2: %s", err);
    ifs_atomic_free(a);
    IFS_CHECK(read_equals(p, "new\n"), "replaced at commit");
}

static void abort_leaves_nothing_and_keeps_the_old_file(void)
{
    char p[1200], dir[1200], err[512];
    path_of(p, sizeof p, "out/report.json");
    path_of(dir, sizeof dir, "out");
    ifs_atomic *a;
    IFS_CHECK(!ifs_atomic_open(p, &a, err, sizeof err), "open: %s", err);
    ifs_atomic_write(a, "half", 4);
    ifs_atomic_free(a); /* no commit: abort */
    IFS_CHECK(read_equals(p, "new\n"), "old content kept after an abort");
    IFS_CHECK(count_temps(dir) == 0, "temporary removed by the abort");
    char q[1200];
    path_of(q, sizeof q, "out/never.json");
    IFS_CHECK(!ifs_atomic_open(q, &a, err, sizeof err), "open 2");
    ifs_atomic_free(a);
    IFS_CHECK(access(q, F_OK) != 0, "aborted new file never appears");
    ifs_atomic_free(NULL);
}

static void failed_commit_keeps_the_target_and_says_why(void)
{
    char p[1200], err[512] = "";
    /* rename onto a directory fails: the target (a folder) is left alone */
    path_of(p, sizeof p, "out/adir");
    mkdir(p, 0777);
    ifs_atomic *a;
    IFS_CHECK(!ifs_atomic_open(p, &a, err, sizeof err), "open: %s", err);
    ifs_atomic_write(a, "x", 1);
    IFS_CHECK(ifs_atomic_commit(a, err, sizeof err) == IFS_IO_EIO && strstr(err, "rename"),
              "commit onto a directory fails with words: %s", err);
    ifs_atomic_free(a);
    char dir[1200];
    path_of(dir, sizeof dir, "out");
    IFS_CHECK(count_temps(dir) == 0, "temporary removed after a failed commit");
    struct stat st;
    IFS_CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "target untouched");
    /* missing folder: open fails */
    path_of(p, sizeof p, "no/such/folder/x.json");
    err[0] = 0;
    IFS_CHECK(ifs_atomic_open(p, &a, err, sizeof err) == IFS_IO_EIO && err[0] && !a,
              "open in a missing folder fails: %s", err);
}

static void whole_buffer_helper_writes_exactly(void)
{
    char p[1200], err[512];
    path_of(p, sizeof p, "out/blob.bin");
    static const char data[] = "a\0b\nc";
    IFS_CHECK(!ifs_io_atomic_write(p, data, sizeof data - 1, err, sizeof err), "write: %s", err);
    FILE *f = fopen(p, "rb");
    char buf[16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    IFS_CHECK(n == sizeof data - 1 && !memcmp(buf, data, n), "exact bytes, NUL included");
    IFS_CHECK(!ifs_io_atomic_write(p, "", 0, err, sizeof err), "empty write");
    struct stat st;
    IFS_CHECK(stat(p, &st) == 0 && st.st_size == 0, "empty file");
}

static void dash_writes_to_stdout(void)
{
    char p[1200], err[512];
    path_of(p, sizeof p, "out/stdout.txt");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *f = fopen(p, "wb");
    if (!f || saved < 0) {
        IFS_CHECK(0, "cannot redirect stdout");
        return;
    }
    dup2(fileno(f), STDOUT_FILENO);
    ifs_atomic *a;
    int ok = !ifs_atomic_open("-", &a, err, sizeof err);
    if (ok) {
        ifs_atomic_write(a, "to stdout\n", 10);
        ok = !ifs_atomic_commit(a, err, sizeof err);
        ifs_atomic_free(a);
    }
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    fclose(f);
    IFS_CHECK(ok, "\"-\" opens and commits: %s", err);
    IFS_CHECK(read_equals(p, "to stdout\n"), "bytes went to stdout");
}

static void make_inputs(void)
{
    char p[1200];
    path_of(p, sizeof p, "in");
    mkdir(p, 0777);
    path_of(p, sizeof p, "in/sub");
    mkdir(p, 0777);
    path_of(p, sizeof p, "empty");
    mkdir(p, 0777);
    write_file("in/b.jsonl", "{}\n");
    write_file("in/a.jsonl.zst", "not really zstd, listing does not care");
    write_file("in/c.json.zst", "a JSON array, not JSONL: skipped in folders");
    write_file("in/.hidden.jsonl", "{}\n");
    write_file("in/notes.txt", "x");
    write_file("in/sub/deep.jsonl", "{}\n");
    write_file("in/Z.jsonl", "{}\n");
    write_file("other.jsonl", "12345");
}

static int list_is(const ifs_input_list *l, const char *const *want, size_t n)
{
    if (l->n != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char p[1200];
        if (!strcmp(want[i], "-"))
            snprintf(p, sizeof p, "-");
        else
            path_of(p, sizeof p, want[i]);
        if (strcmp(l->files[i].path, p))
            return 0;
    }
    return 1;
}

static void input_listing_expands_sorts_and_dedupes(void)
{
    make_inputs();
    char in[1200], other[1200], glob1[1200], glob2[1200], dup[1200], missing[1200], empty[1200],
        noglob[1200], txt[1200];
    path_of(in, sizeof in, "in");
    path_of(other, sizeof other, "other.jsonl");
    path_of(glob1, sizeof glob1, "in/*.jsonl");
    path_of(glob2, sizeof glob2, "i?/[ab]*");
    path_of(dup, sizeof dup, "in/../in/b.jsonl");
    path_of(missing, sizeof missing, "in/missing.jsonl");
    path_of(empty, sizeof empty, "empty");
    path_of(noglob, sizeof noglob, "in/*.parquet");
    path_of(txt, sizeof txt, "in/notes.txt");
    static const char *const dir_want[] = {"in/Z.jsonl", "in/a.jsonl.zst", "in/b.jsonl"};
    static const char *const mix_want[] = {"-", "in/Z.jsonl", "in/a.jsonl.zst", "in/b.jsonl",
                                           "other.jsonl"};
    static const char *const glob_want[] = {"in/Z.jsonl", "in/b.jsonl"};
    static const char *const glob2_want[] = {"in/a.jsonl.zst", "in/b.jsonl"};
    static const char *const txt_want[] = {"in/notes.txt"};
    struct {
        const char *name;
        const char *args[4];
        size_t nargs;
        int ok;
        const char *const *want;
        size_t nwant;
    } cases[] = {
        {"a_folder_lists_its_jsonl_and_jsonl_zst_files_sorted", {in}, 1, 1, dir_want, 3},
        {"stdin_sorts_first_and_files_follow_bytewise", {other, in, "-"}, 3, 1, mix_want, 5},
        {"a_glob_lists_its_matches", {glob1}, 1, 1, glob_want, 2},
        {"a_glob_with_classes_and_question_marks", {glob2}, 1, 1, glob2_want, 2},
        {"a_file_named_twice_is_listed_once", {in, dup}, 2, 1, dir_want, 3},
        {"an_explicit_file_is_taken_whatever_its_name", {txt}, 1, 1, txt_want, 1},
        {"a_missing_file_is_an_error", {in, missing}, 2, 0, NULL, 0},
        {"a_glob_matching_nothing_is_an_error", {noglob}, 1, 0, NULL, 0},
        {"a_folder_without_shards_is_an_error", {empty}, 1, 0, NULL, 0},
        {"stdin_twice_is_an_error", {"-", "-"}, 2, 0, NULL, 0},
        {"no_inputs_is_an_error", {NULL}, 0, 0, NULL, 0},
        {"an_empty_argument_is_an_error", {""}, 1, 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ifs_input_list l;
        char err[512] = "";
        int rc = ifs_io_list_inputs(cases[i].args, cases[i].nargs, &l, err, sizeof err);
        IFS_CHECK((rc == 0) == cases[i].ok, "%s: rc %d (%s)", cases[i].name, rc, err);
        if (cases[i].ok && rc == 0) {
            int same = list_is(&l, cases[i].want, cases[i].nwant);
            IFS_CHECK(same, "%s: list differs (%zu entries)", cases[i].name, l.n);
            if (!same)
                for (size_t k = 0; k < l.n; k++)
                    fprintf(stderr, "    %s\n", l.files[k].path);
        }
        if (!cases[i].ok)
            IFS_CHECK(err[0] && l.n == 0 && !l.files, "%s: error has words, list empty",
                      cases[i].name);
        ifs_input_list_free(&l);
    }
    ifs_input_list l;
    const char *args[] = {other, "-"};
    IFS_CHECK(!ifs_io_list_inputs(args, 2, &l, NULL, 0), "sizes");
    IFS_CHECK(l.n == 2 && l.files[0].is_stdin && l.files[0].size == 0 && l.files[1].size == 5 &&
                  l.files[1].is_regular && l.total_bytes == 5,
              "stdin has no size, files their st_size");
    ifs_input_list_free(&l);
    ifs_input_list_free(NULL);
}

static void read_file_reads_regular_files_within_the_cap(void)
{
    char p[1200], err[512];
    char *b = NULL;
    size_t n = 0;
    write_file("small.txt", "hello\n");
    path_of(p, sizeof p, "small.txt");
    IFS_CHECK(ifs_io_read_file(p, 6, &b, &n, err, sizeof err) == 0 && b && n == 6 &&
                  !strcmp(b, "hello\n"),
              "a file of exactly the cap is read whole: %s", err);
    free(b);
    IFS_CHECK(ifs_io_read_file(p, 5, &b, &n, err, sizeof err) == IFS_IO_EIO && !b &&
                  strstr(err, "small.txt") && strstr(err, "more than the 5"),
              "a file over the cap is refused naming it: %s", err);
    write_file("empty.txt", "");
    path_of(p, sizeof p, "empty.txt");
    IFS_CHECK(ifs_io_read_file(p, 5, &b, &n, err, sizeof err) == 0 && b && n == 0 && !*b,
              "an empty file is an empty string");
    free(b);
    path_of(p, sizeof p, "out");
    IFS_CHECK(ifs_io_read_file(p, 1 << 20, &b, &n, err, sizeof err) == IFS_IO_EIO && !b &&
                  strstr(err, "is a directory"),
              "a directory is refused: %s", err);
    path_of(p, sizeof p, "no-such-file");
    IFS_CHECK(ifs_io_read_file(p, 1 << 20, &b, &n, err, sizeof err) == IFS_IO_EIO &&
                  strstr(err, "no-such-file") && strstr(err, "No such file"),
              "a missing file names the path and errno: %s", err);
    IFS_CHECK(ifs_io_read_file("/dev/zero", 1 << 20, &b, &n, err, sizeof err) == IFS_IO_EIO &&
                  strstr(err, "not a regular file"),
              "a device is refused without reading it: %s", err);
    path_of(p, sizeof p, "fifo");
    if (mkfifo(p, 0600) == 0) /* opened O_NONBLOCK: refused at once, never blocks */
        IFS_CHECK(ifs_io_read_file(p, 1 << 20, &b, &n, err, sizeof err) == IFS_IO_EIO &&
                      strstr(err, "not a regular file"),
                  "a FIFO is refused without blocking: %s", err);
    IFS_CHECK(ifs_io_read_file(NULL, 1, &b, &n, err, sizeof err) == IFS_IO_EARG,
              "a NULL path is a bad argument");
    char src[1200], dst[1200];
    path_of(src, sizeof src, "small.txt");
    path_of(dst, sizeof dst, "out/copy.txt");
    IFS_CHECK(ifs_io_copy_file(src, dst, 1 << 20, err, sizeof err) == 0 &&
                  read_equals(dst, "hello\n"),
              "copy_file copies the bytes: %s", err);
    IFS_CHECK(ifs_io_copy_file(src, dst, 2, err, sizeof err) == IFS_IO_EIO &&
                  strstr(err, "more than the 2") && read_equals(dst, "hello\n"),
              "copy_file refuses a source over the cap and keeps the old target: %s", err);
}

int main(void)
{
    const char *tmp = ifs_test_env("IFS_TEST_TMP", NULL);
    if (tmp) {
        snprintf(root, sizeof root, "%s/io", tmp);
    } else {
        snprintf(root, sizeof root, "/tmp/ifs-test-io-XXXXXX");
        if (!mkdtemp(root))
            IFS_SKIP("no scratch folder (set IFS_TEST_TMP)");
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/out'", root, root);
    if (system(cmd) != 0)
        IFS_SKIP("cannot prepare scratch folder %s", root);
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
#define CASE(f) {#f, f}
        CASE(atomic_file_appears_only_at_commit),
        CASE(abort_leaves_nothing_and_keeps_the_old_file),
        CASE(failed_commit_keeps_the_target_and_says_why),
        CASE(whole_buffer_helper_writes_exactly),
        CASE(dash_writes_to_stdout),
        CASE(input_listing_expands_sorts_and_dedupes),
        CASE(read_file_reads_regular_files_within_the_cap),
#undef CASE
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = ifs_test_failures;
        tests[i].fn();
        printf("%s %s\n", ifs_test_failures == before ? "ok  " : "FAIL", tests[i].name);
    }
    return ifs_test_done("io");
}
