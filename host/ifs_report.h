/*
 * ifs_report.h - report.json (schema in docs/report-schema.md, version 1)
 * written from a reducer, read back into one, and rendered as a table.
 *
 * Usage:
 *
 *     char err[256];
 *     if (ifs_report_write(r, "out/report.json", 0, err, sizeof err)) { ... }
 *     char *txt; size_t len;
 *     if (ifs_report_table(r, IFS_FMT_TEXT, &txt, &len, err, sizeof err) == 0) {
 *         fwrite(txt, 1, len, stdout);
 *         free(txt);
 *     }
 *     ifs_reducer *a, *b;
 *     ifs_report_read("a.json", &a, err, sizeof err);      // untrusted input
 *     ifs_report_read("b.json", &b, err, sizeof err);
 *     ifs_reduce_merge(a, b, 0, err, sizeof err);          // a now holds a+b
 *
 * Byte stability: the JSON is written by hand with fixed number formats
 * ("%.6f" for ratios, integers as integers); groups, inputs, reasons and
 * curve points are sorted, so the text depends only on the counts. Only the
 * `timings` object may differ between runs (IFS_REPORT_NO_TIMINGS leaves it
 * out, for comparisons).
 *
 * Reading: only counts and settings are read; every derived figure (IFS,
 * intervals, gaps, curves, totals) is recomputed, and the counts are checked
 * for consistency (per-type sums, inputs against groups, read == scored +
 * rejected). A malformed file gives IFS_RED_EFORMAT with the JSON path of the
 * first problem, never a crash (tests/fuzz/fuzz_report.c).
 *
 * Ownership: output buffers are malloc'd, caller frees; returned reducers
 * are freed with ifs_reduce_free. Nothing here prints or exits.
 */
#ifndef IFS_REPORT_H
#define IFS_REPORT_H

#include <stddef.h>

#include "ifs_reduce.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IFS_REPORT_SCHEMA_VERSION 1

typedef enum {
    IFS_FMT_TEXT = 0,     /* aligned columns for a terminal */
    IFS_FMT_CSV = 1,      /* RFC 4180, one row per group, more columns */
    IFS_FMT_MARKDOWN = 2, /* a GitHub table */
    IFS_FMT_JSON = 3,     /* the report itself */
} ifs_report_format;

enum { IFS_REPORT_NO_TIMINGS = 1u << 0 };

/* "text", "csv", "markdown" (or "md"), "json" -> *fmt; IFS_RED_EARG otherwise. */
int ifs_report_format_parse(const char *name, ifs_report_format *fmt);

/* The report as JSON text (NUL-terminated, *len excludes the NUL).
 * flags: IFS_REPORT_NO_TIMINGS. Returns IFS_RED_OK, IFS_RED_ENOMEM. */
int ifs_report_json(const ifs_reducer *r, unsigned flags, char **out, size_t *len, char *err,
                    size_t errlen);

/* Writes the report atomically: temp file in the same folder, fsync, rename,
 * fsync of the folder. Returns IFS_RED_OK, IFS_RED_EIO (err names the path
 * and the system's words), IFS_RED_ENOMEM. */
int ifs_report_write(const ifs_reducer *r, const char *path, unsigned flags, char *err,
                     size_t errlen);

/* Parses report text (len bytes, need not be NUL-terminated) into a new
 * reducer. Returns IFS_RED_OK and *out, IFS_RED_EFORMAT (err says where and
 * why), IFS_RED_ENOMEM. */
int ifs_report_parse(const char *text, size_t len, ifs_reducer **out, char *err, size_t errlen);

/* Reads and parses a report file (at most 1 GiB). IFS_RED_EIO when the file
 * cannot be read; otherwise as ifs_report_parse, err prefixed with the path. */
int ifs_report_read(const char *path, ifs_reducer **out, char *err, size_t errlen);

/* The table: one row per group with its key columns, n, IFS, IFS_partial,
 * IFS_full, gap (full - partial) and the IFS 95% interval; then totals and
 * the curves' plateaus (text and markdown). CSV has every count and bound.
 * Returns IFS_RED_OK, IFS_RED_ENOMEM. */
int ifs_report_table(const ifs_reducer *r, ifs_report_format fmt, char **out, size_t *len,
                     char *err, size_t errlen);

/* The IFS curves as the report draws them (docs/report-schema.md, "Curves
 * and the plateau"): one series per tuple of the other keys, its points the
 * groups whose curve value is a number, ascending; points[i].vals[key] is
 * the checkpoint. Views borrow from the reducer (valid until it changes).
 * Returns IFS_RED_OK (key -1 and no series when there are no curves),
 * IFS_RED_EARG, IFS_RED_ENOMEM; release with ifs_report_curves_clear. */
typedef struct {
    const ifs_reduce_group_view *points; /* [n_points] */
    size_t n_points;
    size_t skipped_non_numeric;
    int64_t plateau; /* index into points; -1: not reached */
} ifs_report_series;

typedef struct {
    int32_t key;               /* curve key's index among the group-by keys, or -1 */
    ifs_report_series *series; /* [n_series] */
    size_t n_series;
    ifs_reduce_group_view *storage_; /* private: every series' points */
} ifs_report_curves;

int ifs_report_get_curves(const ifs_reducer *r, ifs_report_curves *out, char *err, size_t errlen);
/* Frees what get_curves allocated and resets *c (no series, key -1); NULL
 * and a zeroed struct are fine. */
void ifs_report_curves_clear(ifs_report_curves *c);

#ifdef __cplusplus
}
#endif
#endif /* IFS_REPORT_H */
