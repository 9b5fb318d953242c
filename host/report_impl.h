/*
 * report_impl.h - what host/report.c shares with host/report_table.c:
 * the derived figures of a group, and the curves.
 * Private to those two files.
 */
#ifndef IFS_REPORT_IMPL_H
#define IFS_REPORT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_buf.h"
#include "reduce_impl.h"

/* A proportion with its Wilson 95% interval; ok == 0 when undefined (n = 0). */
typedef struct {
    int ok;
    double v, lo, hi;
} ifs_red_ratio;

typedef struct {
    ifs_red_cell tot;
    ifs_red_ratio ifs, partial, full;
    ifs_red_ratio gap; /* full - partial, Newcombe hybrid score interval */
    int mean_ok;
    double mean_p; /* mean answer-like probability */
} ifs_red_stats;

void ifs_red_stats_of(const ifs_red_group *g, ifs_red_stats *s);

typedef struct {
    size_t first;    /* index into ifs_red_curves.order */
    size_t n;        /* numeric points, ascending */
    size_t skipped;  /* groups of this series whose curve value is not a number */
    int64_t plateau; /* index among the n points, -1 for none */
} ifs_red_series;

typedef struct {
    int32_t key;           /* index of the curve key, -1 when there are no curves */
    ifs_red_group **order; /* groups sorted by (other keys, curve key) */
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
void ifs_red_put_slices(ifs_buf *b, const ifs_reducer *r);
int ifs_red_read_slices(const struct cJSON *root, ifs_reducer *r, char *err, size_t errlen);

#endif
