/*
 * report_impl.h - what host/report.c shares with host/report_table.c: a
 * growable text buffer, the derived figures of a group, and the curves.
 * Private to those two files.
 */
#ifndef IFS_REPORT_IMPL_H
#define IFS_REPORT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "reduce_impl.h"

/* Growable NUL-terminated text; on allocation failure `oom` is set and
 * further appends are ignored, so callers check once at the end. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} ifs_rb;

void ifs_rb_init(ifs_rb *b);
void ifs_rb_add(ifs_rb *b, const char *s, size_t n);
void ifs_rb_puts(ifs_rb *b, const char *s);
void ifs_rb_printf(ifs_rb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* "%.*f", with a negative zero printed as zero. */
void ifs_rb_fixed(ifs_rb *b, double v, int decimals);
/* A JSON string literal (UTF-8 kept, control characters escaped). */
void ifs_rb_jstr(ifs_rb *b, const char *s);

/* A proportion with its Wilson 95% interval; ok == 0 when undefined (n = 0). */
typedef struct {
    int ok;
    double v, lo, hi;
} ifs_red_ratio;

typedef struct {
    ifs_red_cell tot;
    ifs_red_ratio ifs, partial, full;
    ifs_red_ratio gap;      /* full - partial, Newcombe hybrid score interval */
    int mean_ok;
    double mean_p;          /* mean answer-like probability */
} ifs_red_stats;

void ifs_red_stats_of(const ifs_red_group *g, ifs_red_stats *s);

typedef struct {
    size_t first;           /* index into ifs_red_curves.order */
    size_t n;               /* numeric points, ascending */
    size_t skipped;         /* groups of this series whose curve value is not a number */
    int64_t plateau;        /* index among the n points, -1 for none */
} ifs_red_series;

typedef struct {
    int32_t key;            /* index of the curve key, -1 when there are no curves */
    ifs_red_group **order;  /* groups sorted by (other keys, curve key) */
    ifs_red_series *series;
    size_t n_series;
} ifs_red_curves;

/* Resolves the curve key (auto / none / named) and builds the series with
 * their plateaus. IFS_RED_OK or IFS_RED_ENOMEM; free with ifs_red_curves_free. */
int ifs_red_curves_of(const ifs_reducer *r, ifs_red_curves *c);
void ifs_red_curves_free(ifs_red_curves *c);

/* The report's "slice" member (host/reduce_slices.c): put writes it, with
 * its trailing comma, only while slices are missing (a complete set is
 * written as nothing); read takes it from the parsed document's top level
 * (absent or null: not sliced). read: IFS_RED_OK, EFORMAT, ENOMEM. */
struct cJSON;
void ifs_red_put_slices(ifs_rb *b, const ifs_reducer *r);
int ifs_red_read_slices(const struct cJSON *root, ifs_reducer *r, char *err, size_t errlen);

/* Temp file + fsync + rename + fsync of the folder. */
int ifs_red_write_atomic(const char *path, const char *data, size_t len, char *err,
                         size_t errlen);

#endif
