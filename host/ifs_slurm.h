/*
 * ifs_slurm.h - the slice of the shard list a Slurm job-array task scores,
 * read from the array's environment variables, and the fingerprint of the
 * list that was sliced (so `ifscore reduce` can tell that it got every
 * slice of one list; docs/slurm.md).
 *
 * Usage (what `ifscore score` and `ifscore slurm-slice` do):
 *
 *     int32_t index, count;
 *     char err[512];
 *     int rc = ifs_slurm_slice(ifs_slurm_getenv, NULL, &index, &count,
 *                              err, sizeof err);
 *     if (rc == IFS_SLURM_ENOARRAY) { ... not an array task: no slice ... }
 *     else if (rc) { ... usage error: err names the variables ... }
 *     else { ... score files[i] of the sorted list where i % count == index ... }
 *
 *     char list[65];
 *     ifs_slurm_inputs_sha256(sorted_paths, n_paths, list);
 *     ifs_reduce_set_slice(reducer, index, count, list, err, sizeof err);
 *
 * What Slurm sets, and the mapping (checked on Slurm 22.05 by
 * tests/slurm/slurm_array.sh; the variables are computed by sbatch from
 * --array and by slurmctld for the count):
 *   SLURM_ARRAY_TASK_ID     this task's index, as written in --array
 *   SLURM_ARRAY_TASK_MIN    the lowest index of the array
 *   SLURM_ARRAY_TASK_MAX    the highest index
 *   SLURM_ARRAY_TASK_STEP   the step of a range A-B:S (1 without one); for a
 *                           list or a mix (1,3,7 or 0-4:2,9) it is 1 or the
 *                           first range's step, which says nothing of the rest
 *   SLURM_ARRAY_TASK_COUNT  the number of tasks
 * A throttle (%K) changes none of them. The slice index is
 * (ID - MIN) / STEP and the slice count is COUNT. That numbering is exact
 * when the indexes are one range with one step, which holds iff
 * MAX - MIN == STEP * (COUNT - 1) and ID sits on the grid MIN + k * STEP.
 * Anything else (a list, a mix of ranges) is refused with the variables'
 * values and what to do, never guessed. A mix can pass the range test
 * (0-2:2,3,6 has MIN 0, MAX 6, STEP 2, COUNT 4) with one task off the grid:
 * that task is refused, and `reduce` refuses the merge that lacks its slice.
 *
 * Ownership: strings from `get` are borrowed for the call; nothing is kept.
 * Nothing here prints or exits. Thread-safe (ifs_slurm_getenv reads the
 * process environment: do not setenv meanwhile).
 */
#ifndef IFS_SLURM_H
#define IFS_SLURM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    IFS_SLURM_OK = 0,
    IFS_SLURM_ENOARRAY = -1,    /* SLURM_ARRAY_TASK_ID is unset or empty: not an array
                                  task (the caller scores everything); not a failure */
    IFS_SLURM_EVAR = -2,        /* a variable is missing or not a number (err names it) */
    IFS_SLURM_EUNMAPPABLE = -3, /* the array's indexes are not one range with one step,
                                  or this task's index is off it (err names the values) */
    IFS_SLURM_EARG = -4,        /* NULL get, index or count */
};

/* Reads a variable: returns its value (borrowed, NULL when unset). */
typedef const char *(*ifs_slurm_get_fn)(void *ctx, const char *name);

/* getenv(name), ignoring ctx: the getter for real runs. */
const char *ifs_slurm_getenv(void *ctx, const char *name);

/* The slice of this array task: *index in 0..*count-1. Needs
 * SLURM_ARRAY_TASK_ID, _COUNT and _MIN; _MAX and _STEP are used when set
 * (Slurm always sets them; a hand-made environment may leave them out: STEP
 * is then 1 and the range is MIN .. MIN + COUNT - 1).
 * Returns IFS_SLURM_OK; IFS_SLURM_ENOARRAY with *index = *count = 0;
 * IFS_SLURM_EVAR or IFS_SLURM_EUNMAPPABLE with a sentence in err (*index,
 * *count = 0); IFS_SLURM_EARG. */
int ifs_slurm_slice(ifs_slurm_get_fn get, void *ctx, int32_t *index, int32_t *count, char *err,
                    size_t errlen);

/* The fingerprint of the input list a slice was cut from: SHA-256 over each
 * path's bytes followed by one NUL byte, in the given order (pass the sorted
 * list the slices are taken from, spelled as the report's inputs spell
 * them), as 64 lowercase hex digits + NUL in hex[65]. */
void ifs_slurm_inputs_sha256(const char *const *paths, size_t n, char hex[65]);

/* Words for a status; static storage. */
const char *ifs_slurm_strerror(int rc);

#ifdef __cplusplus
}
#endif
#endif /* IFS_SLURM_H */
