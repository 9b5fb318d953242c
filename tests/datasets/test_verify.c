/*
 * test_verify.c - the shard-set check (`ifscore verify`) against manifests
 * and folders that are wrong in one way each: a shard listed twice, a shard
 * file the manifest does not list (which `ifscore score DIR` would read), a
 * FIFO or /dev/zero where a shard should be, a manifest that is a FIFO or too
 * large, and every field of the manifest with the wrong type or value.
 *
 * Each case runs in a child process with a deadline, so a check that blocks
 * (reading a FIFO, or /dev/zero for ever) fails the case instead of hanging
 * the suite. The child sends back the status and the problem lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ds_internal.h"
#include "ifs_test.h"

static char tmpdir[512];

/* ---- a real shard set to spoil ------------------------------------------- */

/* Two shards of 3 and 2 records, written by the sink: <dir>/s-0000{0,1}.jsonl.zst. */
static int make_set(const char *dir)
{
    char err[256];
    ifs_ds_sink_opts so = {.max_records = 3};
    ds_sink *s = ds_sink_open(dir, &so, err, sizeof err);
    if (!s || ds_sink_begin(s, "s", err, sizeof err))
        return -1;
    for (int i = 0; i < 5; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "{\"id\":\"r%d\",\"response\":\"x\"}", i);
        if (ds_sink_line(s, line, (size_t)n, err, sizeof err))
            return -1;
    }
    int rc = ds_sink_finish(s, "\"note\":\"test\"", err, sizeof err);
    ds_sink_free(s);
    return rc;
}

static cJSON *load_manifest(const char *dir)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    return cJSON_Parse(text);
}

static int save_manifest(const char *dir, const cJSON *root)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    char *text = cJSON_PrintUnformatted(root);
    FILE *f = fopen(p, "wb");
    int ok = f && text && fputs(text, f) >= 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    free(text);
    return ok ? 0 : -1;
}

static cJSON *shard(cJSON *root, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(root, "shards"), i);
}

static void set_num(cJSON *obj, const char *key, double v)
{
    cJSON_DeleteItemFromObject(obj, key);
    cJSON_AddNumberToObject(obj, key, v);
}

static void set_str(cJSON *obj, const char *key, const char *v)
{
    cJSON_DeleteItemFromObject(obj, key);
    cJSON_AddStringToObject(obj, key, v);
}

/* ---- the spoilers ---------------------------------------------------------- */

static void edit_none(cJSON *m, const char *dir)
{
    (void)m, (void)dir;
}

/* The first shard listed again, totals raised to match: only the repeat is wrong. */
static void edit_listed_twice(cJSON *m, const char *dir)
{
    (void)dir;
    cJSON *first = cJSON_Duplicate(shard(m, 0), 1);
    double r = cJSON_GetObjectItem(first, "records")->valuedouble;
    double b = cJSON_GetObjectItem(first, "bytes")->valuedouble;
    cJSON_AddItemToArray(cJSON_GetObjectItem(m, "shards"), first);
    set_num(m, "records", cJSON_GetObjectItem(m, "records")->valuedouble + r);
    set_num(m, "bytes", cJSON_GetObjectItem(m, "bytes")->valuedouble + b);
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[4096];
    size_t n;
    while (a && b && (n = fread(buf, 1, sizeof buf, a)) > 0)
        fwrite(buf, 1, n, b);
    if (a)
        fclose(a);
    if (b)
        fclose(b);
}

static void edit_unlisted_shard(cJSON *m, const char *dir)
{
    (void)m;
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s/s-00000.jsonl.zst", dir);
    snprintf(b, sizeof b, "%s/extra.jsonl.zst", dir);
    copy_file(a, b);
}

static void edit_unlisted_plain_shard(cJSON *m, const char *dir)
{
    (void)m;
    char p[2048];
    snprintf(p, sizeof p, "%s/more.jsonl", dir);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("{\"id\":\"x\"}\n", f);
        fclose(f);
    }
}

/* Files score DIR never reads are no business of the manifest. */
static void edit_other_files(cJSON *m, const char *dir)
{
    (void)m;
    const char *names[] = {"notes.txt", ".hidden.jsonl", "shards.jsonl.bak"};
    for (int i = 0; i < 3; i++) {
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "w");
        if (f) {
            fputs("hello\n", f);
            fclose(f);
        }
    }
}

/* Shard 0 replaced by a FIFO nobody writes to (opening it blocking hangs). */
static void edit_fifo_shard(cJSON *m, const char *dir)
{
    (void)m;
    char p[2048];
    snprintf(p, sizeof p, "%s/s-00000.jsonl.zst", dir);
    unlink(p);
    mkfifo(p, 0666);
}

/* Shard 1 replaced by a link to /dev/zero (reading it never ends). */
static void edit_dev_zero_shard(cJSON *m, const char *dir)
{
    (void)m;
    char p[2048];
    snprintf(p, sizeof p, "%s/s-00001.jsonl.zst", dir);
    unlink(p);
    if (symlink("/dev/zero", p))
        fprintf(stderr, "note: symlink: %s\n", strerror(errno));
}

static void edit_fifo_manifest(cJSON *m, const char *dir)
{
    (void)m;
    char p[2048];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    unlink(p);
    mkfifo(p, 0666);
}

/* A sparse 1 GiB manifest: refused by its size, never read into memory. */
static void edit_huge_manifest(cJSON *m, const char *dir)
{
    (void)m;
    char p[2048];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    if (truncate(p, (off_t)1 << 30))
        fprintf(stderr, "note: truncate: %s\n", strerror(errno));
}

static void edit_records_string(cJSON *m, const char *d)
{
    (void)d;
    set_str(shard(m, 0), "records", "3");
}
static void edit_records_negative(cJSON *m, const char *d)
{
    (void)d;
    set_num(shard(m, 0), "records", -3);
}
static void edit_records_fraction(cJSON *m, const char *d)
{
    (void)d;
    set_num(shard(m, 0), "records", 2.5);
}
static void edit_records_huge(cJSON *m, const char *d)
{
    (void)d;
    set_num(shard(m, 0), "records", 1e300);
}
static void edit_bytes_missing(cJSON *m, const char *d)
{
    (void)d;
    cJSON_DeleteItemFromObject(shard(m, 0), "bytes");
}
static void edit_ubytes_wrong(cJSON *m, const char *d)
{
    (void)d;
    cJSON *u = cJSON_GetObjectItem(shard(m, 1), "uncompressed_bytes");
    set_num(shard(m, 1), "uncompressed_bytes", u->valuedouble + 1);
}
static void edit_ubytes_string(cJSON *m, const char *d)
{
    (void)d;
    set_str(shard(m, 1), "uncompressed_bytes", "54");
}
static void edit_sha_short(cJSON *m, const char *d)
{
    (void)d;
    char sha[65];
    snprintf(sha, sizeof sha, "%s", cJSON_GetObjectItem(shard(m, 0), "sha256")->valuestring);
    sha[63] = 0;
    set_str(shard(m, 0), "sha256", sha);
}
static void edit_sha_number(cJSON *m, const char *d)
{
    (void)d;
    set_num(shard(m, 0), "sha256", 7);
}
static void edit_file_slash(cJSON *m, const char *d)
{
    (void)d;
    set_str(shard(m, 0), "file", "../s-00000.jsonl.zst");
}
static void edit_file_dotdot(cJSON *m, const char *d)
{
    (void)d;
    set_str(shard(m, 0), "file", "..");
}
static void edit_file_not_a_shard_name(cJSON *m, const char *dir)
{
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s/s-00000.jsonl.zst", dir);
    snprintf(b, sizeof b, "%s/s-00000.zst", dir);
    rename(a, b);
    set_str(shard(m, 0), "file", "s-00000.zst");
}
static void edit_file_number(cJSON *m, const char *d)
{
    (void)d;
    set_num(shard(m, 0), "file", 0);
}
static void edit_entry_not_object(cJSON *m, const char *d)
{
    (void)d;
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(m, "shards"), 1, cJSON_CreateString("s-00001"));
}
static void edit_total_records_string(cJSON *m, const char *d)
{
    (void)d;
    set_str(m, "records", "5");
}
static void edit_total_records_wrong(cJSON *m, const char *d)
{
    (void)d;
    set_num(m, "records", 6);
}
static void edit_total_bytes_wrong(cJSON *m, const char *d)
{
    (void)d;
    set_num(m, "bytes", cJSON_GetObjectItem(m, "bytes")->valuedouble + 1);
}
static void edit_total_bytes_missing(cJSON *m, const char *d)
{
    (void)d;
    cJSON_DeleteItemFromObject(m, "bytes");
}
static void edit_format_wrong(cJSON *m, const char *d)
{
    (void)d;
    set_str(m, "format", "other/2");
}
static void edit_format_missing(cJSON *m, const char *d)
{
    (void)d;
    cJSON_DeleteItemFromObject(m, "format");
}
static void edit_shards_not_array(cJSON *m, const char *d)
{
    (void)d;
    cJSON_DeleteItemFromObject(m, "shards");
    cJSON_AddObjectToObject(m, "shards");
}

typedef struct {
    const char *name;
    void (*edit)(cJSON *m, const char *dir);
    int want_rc;      /* ds_verify's status */
    const char *want; /* words expected in a problem line or err ("" = none) */
} verify_case;

static const verify_case cases[] = {
    {"a_set_as_written_verifies", edit_none, 0, ""},
    {"files_score_would_not_read_are_ignored", edit_other_files, 0, ""},
    {"a_shard_listed_twice_is_a_problem", edit_listed_twice, IFS_DS_EFORMAT, "listed twice"},
    {"a_shard_file_the_manifest_does_not_list_is_a_problem", edit_unlisted_shard, IFS_DS_EFORMAT,
     "extra.jsonl.zst: not listed in the manifest"},
    {"an_unlisted_plain_jsonl_shard_is_a_problem", edit_unlisted_plain_shard, IFS_DS_EFORMAT,
     "more.jsonl: not listed in the manifest"},
    {"a_fifo_in_place_of_a_shard_is_refused_without_blocking", edit_fifo_shard, IFS_DS_EFORMAT,
     "not a regular file"},
    {"dev_zero_in_place_of_a_shard_is_refused_without_reading_it", edit_dev_zero_shard,
     IFS_DS_EFORMAT, "not a regular file"},
    {"a_manifest_that_is_a_fifo_is_refused_without_blocking", edit_fifo_manifest, IFS_DS_EIO,
     "not a regular file"},
    {"a_manifest_over_the_size_cap_is_refused", edit_huge_manifest, IFS_DS_EIO, "larger than"},
    {"shard_records_as_a_string_is_a_problem", edit_records_string, IFS_DS_EFORMAT,
     "\"records\" is not a non-negative integer"},
    {"negative_shard_records_is_a_problem", edit_records_negative, IFS_DS_EFORMAT,
     "\"records\" is not a non-negative integer"},
    {"fractional_shard_records_is_a_problem", edit_records_fraction, IFS_DS_EFORMAT,
     "\"records\" is not a non-negative integer"},
    {"shard_records_beyond_2_to_the_53_is_a_problem", edit_records_huge, IFS_DS_EFORMAT,
     "\"records\" is not a non-negative integer"},
    {"missing_shard_bytes_is_a_problem", edit_bytes_missing, IFS_DS_EFORMAT,
     "\"bytes\" is not a non-negative integer"},
    {"wrong_uncompressed_bytes_is_a_problem", edit_ubytes_wrong, IFS_DS_EFORMAT,
     "uncompressed bytes, manifest says"},
    {"uncompressed_bytes_as_a_string_is_a_problem", edit_ubytes_string, IFS_DS_EFORMAT,
     "\"uncompressed_bytes\" is not a non-negative integer"},
    {"a_short_sha256_is_a_problem", edit_sha_short, IFS_DS_EFORMAT,
     "\"sha256\" is not 64 lowercase hex digits"},
    {"a_numeric_sha256_is_a_problem", edit_sha_number, IFS_DS_EFORMAT,
     "\"sha256\" is not 64 lowercase hex digits"},
    {"a_file_name_with_a_slash_is_a_problem", edit_file_slash, IFS_DS_EFORMAT,
     "\"file\" is not a plain file name"},
    {"a_file_name_of_dotdot_is_a_problem", edit_file_dotdot, IFS_DS_EFORMAT,
     "\"file\" is not a plain file name"},
    {"a_listed_file_score_would_not_read_is_a_problem", edit_file_not_a_shard_name, IFS_DS_EFORMAT,
     "not a shard name"},
    {"a_numeric_file_name_is_a_problem", edit_file_number, IFS_DS_EFORMAT,
     "\"file\" is not a plain file name"},
    {"a_shard_entry_that_is_not_an_object_is_a_problem", edit_entry_not_object, IFS_DS_EFORMAT,
     "shard entry 1 is not an object"},
    {"total_records_as_a_string_is_a_problem", edit_total_records_string, IFS_DS_EFORMAT,
     "\"records\" is not a non-negative integer"},
    {"a_wrong_total_of_records_is_a_problem", edit_total_records_wrong, IFS_DS_EFORMAT,
     "manifest total says 6"},
    {"a_wrong_total_of_bytes_is_a_problem", edit_total_bytes_wrong, IFS_DS_EFORMAT,
     "bytes, manifest total says"},
    {"a_missing_total_of_bytes_is_a_problem", edit_total_bytes_missing, IFS_DS_EFORMAT,
     "\"bytes\" is not a non-negative integer"},
    {"another_format_is_a_problem", edit_format_wrong, IFS_DS_EFORMAT,
     "\"format\" is not \"ifscore-shards/1\""},
    {"a_missing_format_is_a_problem", edit_format_missing, IFS_DS_EFORMAT,
     "\"format\" is not \"ifscore-shards/1\""},
    {"shards_that_are_not_an_array_make_it_no_manifest", edit_shards_not_array, IFS_DS_EFORMAT,
     "not an ifscore manifest"},
};

/* ---- running a case in a child with a deadline ------------------------------ */

typedef struct {
    char *buf;
    size_t n, cap;
} text;

static void collect(const char *line, void *user)
{
    text *t = user;
    size_t k = strlen(line);
    if (t->n + k + 2 > t->cap) {
        t->cap = (t->n + k + 2) * 2;
        t->buf = realloc(t->buf, t->cap);
    }
    memcpy(t->buf + t->n, line, k);
    t->n += k;
    t->buf[t->n++] = '\n';
    t->buf[t->n] = 0;
}

/* Runs ifs_ds_verify(dir) in a child; returns 0 and fills rc/out, or -1 when the
 * child did not finish within `seconds` (it is killed). */
static int verify_in_child(const char *dir, int seconds, int *rc, char *out, size_t outlen)
{
    int fd[2];
    if (pipe(fd))
        return -2;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        text t = {0};
        char err[512] = "";
        ifs_ds_verify_stats vs;
        int r = ifs_ds_verify(dir, &vs, collect, &t, err, sizeof err);
        dprintf(fd[1], "%d\n%s\n%s", r, err, t.buf ? t.buf : "");
        _exit(0);
    }
    close(fd[1]);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status, done = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            done = 1;
            break;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec >= seconds)
            break;
        usleep(20000);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        close(fd[0]);
        return -1;
    }
    size_t n = 0;
    ssize_t k;
    while (n + 1 < outlen && (k = read(fd[0], out + n, outlen - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = 0;
    close(fd[0]);
    *rc = atoi(out);
    return 0;
}

static void run_case(const verify_case *c, size_t i)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/set-%02zu", tmpdir, i);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
        IFS_CHECK(0, "%s: cannot clear %s", c->name, dir);
        return;
    }
    if (make_set(dir)) {
        IFS_CHECK(0, "%s: cannot write the shard set", c->name);
        return;
    }
    cJSON *m = load_manifest(dir);
    IFS_CHECK(m != NULL, "%s: manifest unreadable", c->name);
    if (!m)
        return;
    /* edits that replace manifest.json itself run after it is saved */
    int replaces = c->edit == edit_fifo_manifest || c->edit == edit_huge_manifest;
    if (!replaces)
        c->edit(m, dir);
    save_manifest(dir, m);
    if (replaces)
        c->edit(m, dir);
    cJSON_Delete(m);
    int rc = 0;
    static char out[1 << 16];
    int r = verify_in_child(dir, 10, &rc, out, sizeof out);
    IFS_CHECK(r == 0, "%s: verify did not return within 10 s", c->name);
    if (r)
        return;
    IFS_CHECK(rc == c->want_rc, "%s: status %d, want %d; said:\n%s", c->name, rc, c->want_rc, out);
    if (*c->want)
        IFS_CHECK(strstr(out, c->want) != NULL, "%s: no '%s' in:\n%s", c->name, c->want, out);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/verify", ifs_test_env("IFS_TEST_TMP", "/tmp"));
    struct stat st;
    if (mkdir(tmpdir, 0777) && (stat(tmpdir, &st) || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "FAIL: cannot create the scratch folder %s\n", tmpdir);
        return 1;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], i);
    return ifs_test_done("verify");
}
