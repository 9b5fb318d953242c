/*
 * reduce_impl.h - the reducer's insides, shared by host/reduce.c (counting,
 * merging) and host/report.c, host/report_table.c (writing, reading,
 * tables). Private to those files: nothing else includes it.
 */
#ifndef IFS_REDUCE_IMPL_H
#define IFS_REDUCE_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "ifs_reduce.h"
#include "ifs_buf.h"

/* Fixed-point unit of the probability sums: 1e-9. */
#define IFS_RED_P_SCALE 1000000000.0
/* Resolution of threshold, margin and plateau epsilon: 1e-6. */
#define IFS_RED_MICRO 1000000

/* Counts of one (group, instruction type) cell. psum is the sum of
 * llround(p_answer * 1e9), so the mean is psum / n / 1e9, exactly mergeable. */
typedef struct {
    uint64_t n, answer, near, psum;
} ifs_red_cell;

typedef struct {
    char **vals; /* [n_keys] NUL-terminated, point into the same block */
    uint64_t hash;
    ifs_red_cell c[3]; /* indexed by ifs_itype */
} ifs_red_group;

typedef struct {
    char name[IFS_RED_REASON_MAX + 1];
    uint64_t count;
} ifs_red_reason;

typedef struct {
    char *path;
    uint64_t bytes;
    char sha[65];
    uint64_t lines; /* valid when ended */
    int ended;
    uint64_t scored, rejected;
    ifs_red_reason *reasons;
    size_t n_reasons, cap_reasons;
} ifs_red_input;

/* Timings are kept as integers in micro-units, so that printing ("%.6f"),
 * reading back and summing are exact and a report is a fixed point of
 * write -> read -> write. |value| <= IFS_RED_TIMING_MAX. */
#define IFS_RED_TIMING_MAX 1e9
typedef struct {
    char name[IFS_RED_REASON_MAX + 1];
    int64_t value_u;
} ifs_red_timing;

/* Saturating sum of two timings in micro-units. */
int64_t ifs_red_timing_add(int64_t a, int64_t b);

typedef struct {
    char name[IFS_RED_REASON_MAX + 1];
    char *value;
} ifs_red_fact;

enum { IFS_CURVE_AUTO = 0, IFS_CURVE_NONE = 1, IFS_CURVE_NAMED = 2 };

/* The slices of one input list a reducer holds (host/reduce_slices.c):
 * count == 0 when the run was not sliced; idx ascending, distinct, each
 * < count; sha = ifs_slurm_inputs_sha256 of the sliced list. */
typedef struct {
    int32_t count;
    char sha[65];
    int32_t *idx;
    size_t n;
} ifs_red_slices;

struct ifs_reducer {
    pthread_mutex_t mu;
    /* identity */
    char weights_sha[65];
    char tokenizer_sha[65]; /* "" = unknown (no tokenizer_sha256) */
    int32_t n_labels;
    char *labels[IFS_RED_MAX_LABELS];
    int32_t answer_label;
    int64_t threshold_u, margin_u; /* micro-units */
    double threshold, margin;      /* threshold_u / 1e6, margin_u / 1e6 */
    int pair_input;                /* 0 response alone, 1 (instruction, response) */
    char *instruction_field;       /* pair_input only, else NULL */
    int32_t instruction_max_tokens;
    int do_lower_case, strip_accents, tokenize_chinese_chars;
    int32_t max_length;
    int32_t n_keys;
    char *keys[IFS_RED_MAX_KEYS];
    /* presentation */
    int curve_mode;
    char *curve_key; /* IFS_CURVE_NAMED only */
    int64_t eps_u;
    int32_t min_after;
    /* groups, in creation order; table holds index + 1 (0 = empty) */
    ifs_red_group **groups;
    size_t n_groups, cap_groups;
    size_t *table;
    size_t table_cap; /* power of two */
    /* inputs, in registration order; sha_table indexes them by sha256
     * (index + 1, 0 = empty) so overlap checks in a merge are O(1) each */
    ifs_red_input *inputs;
    size_t n_inputs, cap_inputs;
    size_t *sha_table;
    size_t sha_cap; /* power of two */
    uint64_t tokens, truncated;
    ifs_red_timing *timings;
    size_t n_timings;
    ifs_red_fact *facts;
    size_t n_facts;
    ifs_red_slices slices;
};

/* Finds or creates the group with these values; NULL on ENOMEM. Not locked. */
ifs_red_group *ifs_red_group_get(ifs_reducer *r, const char *const *vals);
/* Adds `count` rejects of `reason` to an input. Not locked. */
int ifs_red_input_add_reason(ifs_red_input *in, const char *reason, uint64_t count);
/* Appends a copy of an input record (path, bytes, sha; counts zero). Not locked. */
int ifs_red_input_append(ifs_reducer *r, const char *path, uint64_t bytes, const char *sha,
                         int32_t *id);

/* Merging slices, in two steps so that a refusal leaves dst unchanged:
 * _prepare checks src's slices against dst's (IFS_RED_EMISMATCH for another
 * list or count, IFS_RED_EOVERLAP for a slice in both unless allow_overlap)
 * and builds the union into *out (free with ifs_red_slices_clear); _apply
 * moves it into dst. IFS_RED_OK, EMISMATCH, EOVERLAP, ENOMEM. Not locked. */
int ifs_red_slices_prepare(const ifs_reducer *dst, const ifs_reducer *src, int allow_overlap,
                           ifs_red_slices *out, char *err, size_t errlen);
void ifs_red_slices_apply(ifs_reducer *dst, ifs_red_slices *u);
void ifs_red_slices_clear(ifs_red_slices *s);

/* 1 iff s is a plain decimal number: -?[0-9]+(\.[0-9]+)? */
int ifs_red_is_number(const char *s);
/* Total order on key values: numbers first, by exact value; then other
 * strings in natural order (digit runs by value); ties by bytes. */
int ifs_red_value_cmp(const char *a, const char *b);
/* Groups sorted by their key tuples; malloc'd array of borrowed pointers
 * (NULL with n_groups == 0 is fine); NULL on ENOMEM when n_groups > 0. */
ifs_red_group **ifs_red_sorted_groups(const ifs_reducer *r);
/* Input indices sorted by (path, sha256); malloc'd, NULL on ENOMEM if n > 0. */
size_t *ifs_red_sorted_inputs(const ifs_reducer *r);
/* Sum of a group's three cells. */
ifs_red_cell ifs_red_group_total(const ifs_red_group *g);
/* 1 when name is a reject reason of ifs_record.h (not "none"). */
int ifs_red_known_reason(const char *name);
/* 1 iff name matches [a-z0-9_]{1,63}. */
int ifs_red_valid_name(const char *name);
/* Checks a string is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
int ifs_red_valid_utf8(const char *s, size_t len);
/* Errors are formatted with ifs_errf (ifs_buf.h). */

#endif
