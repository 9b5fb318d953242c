/*
 * test_shard_files.c - shards on disk: the writer (plain / zstd, frames,
 * checksums, atomic close) read back by the reader through ifs_shard_open,
 * a folder of mixed compressed and plain shards listed and read with every
 * line accounted for, stdin ("-"), a missing file, and a read error.
 */
#include "ifs_io.h"
#include "ifs_record.h"
#include "ifs_shard.h"
#include "ifs_test.h"

#include <fcntl.h>
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

/* Write n lines "{\"response\":\"r<i>\",\"model\":\"m<i%3>\"}" with the writer. */
static int write_shard(const char *rel, int n, const ifs_shard_writer_opts *o,
                       ifs_shard_writer_stats *ws)
{
    char p[1200], err[512];
    path_of(p, sizeof p, rel);
    ifs_shard_writer *w;
    if (ifs_shard_writer_open(p, o, &w, err, sizeof err)) {
        fprintf(stderr, "open %s: %s\n", p, err);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char line[128];
        int len = snprintf(line, sizeof line, "{\"response\":\"r%d\",\"model\":\"m%d\"}", i, i % 3);
        if (ifs_shard_writer_line(w, line, (size_t)len))
            return -1;
    }
    IFS_CHECK(access(p, F_OK) != 0, "%s absent before close", rel);
    int rc = ifs_shard_writer_close(w, ws, err, sizeof err);
    IFS_CHECK(rc == 0, "close %s: %s", rel, err);
    ifs_shard_writer_free(w);
    return rc;
}

typedef struct {
    size_t lines, good, rejected;
    int last_ok; /* lines came in order r0, r1, ... */
    ifs_shard_stats st;
} readout;

static readout read_shard(const char *path, size_t max_line)
{
    readout ro = {0, 0, 0, 1, {0}};
    ifs_shard_opts o = {.max_line_bytes = max_line};
    ifs_shard_reader *r;
    char err[512];
    if (ifs_shard_open(path, &o, &r, err, sizeof err)) {
        IFS_CHECK(0, "open %s: %s", path, err);
        return ro;
    }
    ifs_record_schema s;
    ifs_record_schema_init(&s);
    ifs_record rec;
    ifs_record_init(&rec);
    ifs_shard_line ln;
    int rc;
    while ((rc = ifs_shard_next(r, &ln)) == IFS_SHARD_LINE) {
        ro.lines++;
        ifs_reject_reason why = ln.reason ? ln.reason : ifs_record_parse(&rec, &s, ln.data, ln.len);
        if (why) {
            ro.rejected++;
            continue;
        }
        char want[32];
        snprintf(want, sizeof want, "r%zu", ro.good);
        if (strcmp(rec.text, want))
            ro.last_ok = 0;
        ro.good++;
    }
    IFS_CHECK(rc == IFS_SHARD_END, "%s: ended with %d", path, rc);
    ifs_shard_get_stats(r, &ro.st);
    ifs_record_clear(&rec);
    ifs_shard_free(r);
    return ro;
}

static long file_size(const char *rel)
{
    char p[1200];
    path_of(p, sizeof p, rel);
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void writer_output_reads_back_line_for_line(void)
{
    static const struct {
        const char *name;
        const char *file;
        int compress, checksum;
        uint64_t frame_bytes;
        int zstd_expected;
    } cases[] = {
        {"plain_by_extension", "w/a.jsonl", -1, -1, 0, 0},
        {"zstd_by_extension_with_checksums", "w/b.jsonl.zst", -1, -1, 0, 1},
        {"zstd_in_many_frames", "w/c.jsonl.zst", -1, -1, 4096, 1},
        {"zstd_without_checksums", "w/d.jsonl.zst", -1, 0, 1000, 1},
        {"zstd_forced_on_a_plain_name", "w/e.jsonl", 1, -1, 0, 1},
        {"plain_forced_on_a_zst_name", "w/f.jsonl.zst", 0, -1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ifs_shard_writer_opts o;
        ifs_shard_writer_opts_init(&o);
        o.compress = cases[i].compress;
        o.checksum = cases[i].checksum;
        o.frame_bytes = cases[i].frame_bytes;
        o.level = 5;
        ifs_shard_writer_stats ws;
        if (write_shard(cases[i].file, 5000, &o, &ws))
            continue;
        char p[1200];
        path_of(p, sizeof p, cases[i].file);
        readout ro = read_shard(p, 0);
        IFS_CHECK(ro.lines == 5000 && ro.good == 5000 && ro.last_ok, "%s: %zu lines %zu good",
                  cases[i].name, ro.lines, ro.good);
        IFS_CHECK(ro.st.is_zstd == cases[i].zstd_expected, "%s: format", cases[i].name);
        IFS_CHECK(ws.lines == 5000 && ws.bytes_in == ro.st.bytes_out,
                  "%s: writer counted %llu bytes, reader %llu", cases[i].name,
                  (unsigned long long)ws.bytes_in, (unsigned long long)ro.st.bytes_out);
        IFS_CHECK((long)ws.bytes_out == file_size(cases[i].file) && ro.st.bytes_in == ws.bytes_out,
                  "%s: bytes_out %llu is the file size %ld", cases[i].name,
                  (unsigned long long)ws.bytes_out, file_size(cases[i].file));
        if (cases[i].zstd_expected) {
            IFS_CHECK(ro.st.frames == ws.frames && ws.frames >= 1, "%s: frames %llu / %llu",
                      cases[i].name, (unsigned long long)ro.st.frames,
                      (unsigned long long)ws.frames);
            IFS_CHECK(cases[i].frame_bytes == 0 || ws.frames > 10, "%s: several frames",
                      cases[i].name);
            IFS_CHECK(ro.st.checksummed_frames == (cases[i].checksum ? ws.frames : 0),
                      "%s: %llu checksummed", cases[i].name,
                      (unsigned long long)ro.st.checksummed_frames);
            IFS_CHECK(ws.bytes_out < ws.bytes_in, "%s: compressed", cases[i].name);
        } else {
            IFS_CHECK(ws.frames == 0 && ws.bytes_out == ws.bytes_in, "%s: plain bytes",
                      cases[i].name);
        }
    }
}

static void empty_outputs_are_valid_empty_shards(void)
{
    ifs_shard_writer_stats ws;
    IFS_CHECK(!write_shard("w/empty.jsonl.zst", 0, NULL, &ws), "write");
    IFS_CHECK(ws.frames == 1 && ws.bytes_out > 0, "an empty zstd file still holds one frame");
    char p[1200];
    path_of(p, sizeof p, "w/empty.jsonl.zst");
    readout ro = read_shard(p, 0);
    IFS_CHECK(ro.lines == 0 && ro.st.is_zstd && ro.st.status == IFS_SHARD_OK, "reads as empty");
    IFS_CHECK(!write_shard("w/empty.jsonl", 0, NULL, &ws) && ws.bytes_out == 0, "plain empty");
    path_of(p, sizeof p, "w/empty.jsonl");
    ro = read_shard(p, 0);
    IFS_CHECK(ro.lines == 0 && !ro.st.is_zstd, "plain empty reads as empty");
}

static void writer_refuses_newlines_and_aborts_cleanly(void)
{
    char p[1200], err[512];
    path_of(p, sizeof p, "w/aborted.jsonl.zst");
    ifs_shard_writer *w;
    IFS_CHECK(!ifs_shard_writer_open(p, NULL, &w, err, sizeof err), "open");
    IFS_CHECK(ifs_shard_writer_line(w, "a\nb", 3) == -1, "a line holding a newline is refused");
    IFS_CHECK(!ifs_shard_writer_line(w, "ok", 2), "a normal line");
    IFS_CHECK(!ifs_shard_writer_end_frame(w) && !ifs_shard_writer_end_frame(w),
              "ending a frame twice is harmless");
    ifs_shard_writer_free(w); /* never closed */
    IFS_CHECK(access(p, F_OK) != 0, "an unclosed writer leaves no file");
    err[0] = 0;
    path_of(p, sizeof p, "missing-folder/x.jsonl");
    IFS_CHECK(ifs_shard_writer_open(p, NULL, &w, err, sizeof err) == -1 && err[0],
              "open in a missing folder: %s", err);
    ifs_shard_writer_free(NULL);
}

/* A folder with zstd, plain, empty, truncated and corrupt shards: every line
 * is good or rejected, and the counts add up to the lines read. */
static void mixed_folder_accounts_for_every_line(void)
{
    ifs_shard_writer_opts o;
    ifs_shard_writer_opts_init(&o);
    o.frame_bytes = 2048;
    ifs_shard_writer_stats ws;
    write_shard("mix/01.jsonl.zst", 700, &o, &ws);
    write_shard("mix/02.jsonl", 300, NULL, &ws);
    write_shard("mix/03-empty.jsonl", 0, NULL, &ws);
    write_shard("mix/04.jsonl.zst", 500, &o, &ws);
    /* 05: a copy of 04 cut short; 06: a copy of 04 with a damaged byte;
     * 07: plain with bad lines */
    char src[1200], p[1200];
    path_of(src, sizeof src, "mix/04.jsonl.zst");
    FILE *f = fopen(src, "rb");
    unsigned char *buf = malloc(1 << 20);
    size_t n = f ? fread(buf, 1, 1 << 20, f) : 0;
    if (f)
        fclose(f);
    path_of(p, sizeof p, "mix/05-truncated.jsonl.zst");
    char err[512];
    IFS_CHECK(!ifs_io_atomic_write(p, buf, n * 2 / 3, err, sizeof err), "write 05");
    buf[n / 2] ^= 0x5a;
    path_of(p, sizeof p, "mix/06-corrupt.jsonl.zst");
    IFS_CHECK(!ifs_io_atomic_write(p, buf, n, err, sizeof err), "write 06");
    free(buf);
    static const char bad[] = "{\"response\":\"r0\",\"model\":\"m\"}\n"
                              "not json\n"
                              "\n"
                              "{\"response\":\"caf\xe9\",\"model\":\"m\"}\r\n"
                              "{\"model\":\"m\"}\n"
                              "{\"response\":\"r1\",\"model\":\"m\",\"instruction_type\":\"x\"}\n"
                              "{\"response\":\"r1\",\"model\":\"m\",\"pad\":"
                              "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n"
                              "{\"response\":\"r1\",\"model\":\"m\"}";
    path_of(p, sizeof p, "mix/07-bad.jsonl");
    IFS_CHECK(!ifs_io_atomic_write(p, bad, sizeof bad - 1, err, sizeof err), "write 07");

    char dir[1200];
    path_of(dir, sizeof dir, "mix");
    const char *args[] = {dir};
    ifs_input_list l;
    IFS_CHECK(!ifs_io_list_inputs(args, 1, &l, err, sizeof err), "list: %s", err);
    IFS_CHECK(l.n == 7, "7 shards listed, got %zu", l.n);
    static const struct {
        size_t lines, good;
        ifs_shard_status status;
    } want[] = {
        {700, 700, IFS_SHARD_OK}, {300, 300, IFS_SHARD_OK},    {0, 0, IFS_SHARD_OK},
        {500, 500, IFS_SHARD_OK}, {0, 0, IFS_SHARD_TRUNCATED}, {0, 0, IFS_SHARD_CORRUPT},
        {8, 2, IFS_SHARD_OK},
    };
    size_t total_lines = 0, total_good = 0, total_rej = 0;
    for (size_t i = 0; i < l.n && i < 7; i++) {
        readout ro = read_shard(l.files[i].path, 80);
        total_lines += ro.lines;
        total_good += ro.good;
        total_rej += ro.rejected;
        IFS_CHECK(ro.lines == ro.good + ro.rejected, "%s: lines add up", l.files[i].path);
        IFS_CHECK(ro.st.status == want[i].status, "%s: status %d (%s)", l.files[i].path,
                  ro.st.status, ro.st.error);
        if (want[i].status == IFS_SHARD_OK)
            IFS_CHECK(ro.lines == want[i].lines && ro.good == want[i].good,
                      "%s: %zu lines %zu good", l.files[i].path, ro.lines, ro.good);
        else
            IFS_CHECK(ro.rejected >= 1 && ro.lines < 500 + 1 && ro.last_ok,
                      "%s: damaged: %zu lines, %zu good, in order %d", l.files[i].path, ro.lines,
                      ro.good, ro.last_ok);
    }
    IFS_CHECK(total_lines == total_good + total_rej, "all shards: %zu = %zu + %zu", total_lines,
              total_good, total_rej);
    ifs_input_list_free(&l);
}

static void stdin_is_read_with_a_dash(void)
{
    ifs_shard_writer_stats ws;
    write_shard("stdin.jsonl.zst", 1234, NULL, &ws);
    char p[1200];
    path_of(p, sizeof p, "stdin.jsonl.zst");
    int fd = open(p, O_RDONLY);
    int saved = dup(STDIN_FILENO);
    dup2(fd, STDIN_FILENO);
    close(fd);
    readout ro = read_shard("-", 0);
    dup2(saved, STDIN_FILENO);
    close(saved);
    IFS_CHECK(ro.lines == 1234 && ro.good == 1234 && ro.st.is_zstd, "stdin: %zu lines", ro.lines);
}

static void missing_file_and_read_errors_are_reported(void)
{
    char p[1200], err[512] = "";
    path_of(p, sizeof p, "nope.jsonl");
    ifs_shard_reader *r = NULL;
    IFS_CHECK(ifs_shard_open(p, NULL, &r, err, sizeof err) == IFS_SHARD_EIO && !r &&
                  strstr(err, "nope.jsonl"),
              "missing file: %s", err);
    /* a folder opens but read(2) fails (EISDIR): one io_error line, then the end */
    path_of(p, sizeof p, "w");
    IFS_CHECK(ifs_shard_open(p, NULL, &r, err, sizeof err) == 0, "open a folder: %s", err);
    if (r) {
        ifs_shard_line ln;
        int rc = ifs_shard_next(r, &ln);
        IFS_CHECK(rc == IFS_SHARD_LINE && ln.reason == IFS_REJECT_IO_ERROR && ln.line_no == 1,
                  "io_error line (rc %d reason %s)", rc, ifs_reject_name(ln.reason));
        IFS_CHECK(ifs_shard_next(r, &ln) == IFS_SHARD_END, "then the end");
        ifs_shard_stats st;
        ifs_shard_get_stats(r, &st);
        IFS_CHECK(st.status == IFS_SHARD_IOERR && st.lines == 1 && strstr(st.error, "read"),
                  "status %d: %s", st.status, st.error);
        ifs_shard_free(r);
    }
}

int main(void)
{
    const char *tmp = ifs_test_env("IFS_TEST_TMP", NULL);
    if (tmp) {
        snprintf(root, sizeof root, "%s/shard-files", tmp);
    } else {
        snprintf(root, sizeof root, "/tmp/ifs-test-shard-XXXXXX");
        if (!mkdtemp(root))
            IFS_SKIP("no scratch folder (set IFS_TEST_TMP)");
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/w' '%s/mix'", root, root, root);
    if (system(cmd) != 0)
        IFS_SKIP("cannot prepare scratch folder %s", root);
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
#define CASE(f) {#f, f}
        CASE(writer_output_reads_back_line_for_line),
        CASE(empty_outputs_are_valid_empty_shards),
        CASE(writer_refuses_newlines_and_aborts_cleanly),
        CASE(mixed_folder_accounts_for_every_line),
        CASE(stdin_is_read_with_a_dash),
        CASE(missing_file_and_read_errors_are_reported),
#undef CASE
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = ifs_test_failures;
        tests[i].fn();
        printf("%s %s\n", ifs_test_failures == before ? "ok  " : "FAIL", tests[i].name);
    }
    return ifs_test_done("shard_files");
}
