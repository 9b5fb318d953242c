/*
 * fuzz_report.c - report.json read back by `ifscore reduce` is untrusted
 * input. Feeds arbitrary bytes to ifs_report_parse; whatever it accepts must
 *   - write back to JSON that parses again, to the same bytes (a fixed point
 *     after one round, timings included),
 *   - render as every table format,
 *   - merge with itself (allowing the overlap) and pass or fail the run
 *     checks without crashing.
 * A violated property aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_reduce.h"
#include "ifs_report.h"

static void die(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_report: %s: %s\n", what, err ? err : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    ifs_reducer *r = NULL;
    if (ifs_report_parse((const char *)data, size, &r, err, sizeof err))
        return 0;
    char *a = NULL;
    size_t la = 0;
    if (ifs_report_json(r, 0, &a, &la, err, sizeof err))
        die("writing an accepted report failed", err);
    ifs_reducer *r2 = NULL;
    if (ifs_report_parse(a, la, &r2, err, sizeof err))
        die("a written report does not read back", err);
    char *b = NULL;
    size_t lb = 0;
    if (ifs_report_json(r2, 0, &b, &lb, err, sizeof err))
        die("writing the re-read report failed", err);
    if (la != lb || memcmp(a, b, la))
        die("write -> read -> write is not byte-identical", NULL);
    for (int f = IFS_FMT_TEXT; f <= IFS_FMT_JSON; f++) {
        char *t = NULL;
        size_t lt = 0;
        if (ifs_report_table(r, (ifs_report_format)f, &t, &lt, err, sizeof err))
            die("a table failed", err);
        if (strlen(t) != lt)
            die("a table's length is wrong", NULL);
        free(t);
    }
    if (ifs_reduce_merge(r2, r, IFS_RED_ALLOW_OVERLAP, err, sizeof err))
        die("a report does not merge with itself", err);
    ifs_reduce_totals t1, t2;
    ifs_reduce_get_totals(r, &t1);
    ifs_reduce_get_totals(r2, &t2);
    if (t2.scored != 2 * t1.scored || t2.read != 2 * t1.read || t2.n_groups != t1.n_groups)
        die("a self-merge does not double the counts", NULL);
    (void)ifs_reduce_check(r2, 0, err, sizeof err);
    (void)ifs_reduce_check(r2, 1, err, sizeof err);
    free(a);
    free(b);
    ifs_reduce_free(r);
    ifs_reduce_free(r2);
    return 0;
}
