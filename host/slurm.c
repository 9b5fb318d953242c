/*
 * slurm.c - the slice of a Slurm array task, from SLURM_ARRAY_*, and the
 * fingerprint of the sliced list (ifs_slurm.h has the mapping and why).
 *
 * Decisions:
 *   - Strict numbers: plain decimal digits, no sign, no spaces, at most
 *     INT32_MAX (Slurm's indexes are below MaxArraySize, 4000001 at most).
 *     A value Slurm would never write is a hand-made environment, and a
 *     guess there would silently score the wrong shards.
 *   - What cannot be numbered 0..COUNT-1 exactly is refused: a slice index
 *     that two tasks share, or that no task has, loses or doubles shards.
 *     The message carries every variable's value and the two ways out (one
 *     range, or --slice I/N per task).
 *   - The arithmetic is in int64: STEP * (COUNT - 1) can pass INT32_MAX.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_sha256.h"
#include "ifs_buf.h"
#include "ifs_slurm.h"

const char *ifs_slurm_strerror(int rc)
{
    switch (rc) {
    case IFS_SLURM_OK: return "ok";
    case IFS_SLURM_ENOARRAY: return "not a Slurm array task (SLURM_ARRAY_TASK_ID is unset)";
    case IFS_SLURM_EVAR: return "a Slurm array variable is missing or not a number";
    case IFS_SLURM_EUNMAPPABLE: return "the Slurm array's indexes do not make slices 0..N-1";
    case IFS_SLURM_EARG: return "bad argument";
    default: return "unknown status";
    }
}

const char *ifs_slurm_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

/* 0 and *v for a plain decimal number in 0..INT32_MAX, else -1. */
static int parse_u31(const char *s, int64_t *v)
{
    if (!s || !*s)
        return -1;
    int64_t x = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        x = x * 10 + (*p - '0');
        if (x > INT32_MAX)
            return -1;
    }
    *v = x;
    return 0;
}

/* Reads one variable. present: 0 when unset or empty. */
static int get_var(ifs_slurm_get_fn get, void *ctx, const char *name, int required, int64_t *v,
                   int *present, char *err, size_t errlen)
{
    const char *s = get(ctx, name);
    *present = s && *s;
    if (!*present) {
        if (required)
            return ifs_errf(err, errlen, IFS_SLURM_EVAR,
                            "SLURM_ARRAY_TASK_ID is set but %s is not, so the slice cannot be "
                            "told; run under sbatch --array, or give --slice I/N",
                            name);
        return 0;
    }
    if (parse_u31(s, v))
        return ifs_errf(err, errlen, IFS_SLURM_EVAR,
                        "%s='%.40s' is not an array index (a decimal number up to %d)", name, s,
                        (int)INT32_MAX);
    return 0;
}

int ifs_slurm_slice(ifs_slurm_get_fn get, void *ctx, int32_t *index, int32_t *count, char *err,
                    size_t errlen)
{
    if (!get || !index || !count)
        return ifs_errf(err, errlen, IFS_SLURM_EARG, "no getter, index or count pointer");
    *index = 0;
    *count = 0;
    const char *id_s = get(ctx, "SLURM_ARRAY_TASK_ID");
    if (!id_s || !*id_s)
        return ifs_errf(err, errlen, IFS_SLURM_ENOARRAY,
                        "not a Slurm array task: SLURM_ARRAY_TASK_ID is unset");
    int64_t id, cnt, mn, mx = 0, step = 1;
    int has, has_max, has_step;
    int rc;
    if ((rc = get_var(get, ctx, "SLURM_ARRAY_TASK_ID", 1, &id, &has, err, errlen)) ||
        (rc = get_var(get, ctx, "SLURM_ARRAY_TASK_COUNT", 1, &cnt, &has, err, errlen)) ||
        (rc = get_var(get, ctx, "SLURM_ARRAY_TASK_MIN", 1, &mn, &has, err, errlen)) ||
        (rc = get_var(get, ctx, "SLURM_ARRAY_TASK_MAX", 0, &mx, &has_max, err, errlen)) ||
        (rc = get_var(get, ctx, "SLURM_ARRAY_TASK_STEP", 0, &step, &has_step, err, errlen)))
        return rc;
    if (cnt < 1)
        return ifs_errf(err, errlen, IFS_SLURM_EVAR,
                        "SLURM_ARRAY_TASK_COUNT=0: an array has at least one task");
    if (step < 1)
        return ifs_errf(err, errlen, IFS_SLURM_EVAR,
                        "SLURM_ARRAY_TASK_STEP=0: a step is at least 1");
    int64_t last = mn + step * (cnt - 1); /* the highest index of one range with this step */
    if (has_max && mx != last)
        return ifs_errf(err, errlen, IFS_SLURM_EUNMAPPABLE,
                        "the array's indexes are not one range with one step "
                        "(SLURM_ARRAY_TASK_MIN=%lld, SLURM_ARRAY_TASK_MAX=%lld, "
                        "SLURM_ARRAY_TASK_STEP=%lld, SLURM_ARRAY_TASK_COUNT=%lld: MAX - MIN is "
                        "not STEP * (COUNT - 1)), as with a list such as --array=1,3,7; its "
                        "tasks cannot be numbered 0..COUNT-1. Submit one range (--array=A-B or "
                        "A-B:S; a %%K throttle is fine) or give each task --slice I/N",
                        (long long)mn, (long long)mx, (long long)step, (long long)cnt);
    if (id < mn || id > last)
        return ifs_errf(err, errlen, IFS_SLURM_EUNMAPPABLE,
                        "SLURM_ARRAY_TASK_ID=%lld is outside the array's range "
                        "SLURM_ARRAY_TASK_MIN=%lld .. %lld (MIN + SLURM_ARRAY_TASK_STEP=%lld * "
                        "(SLURM_ARRAY_TASK_COUNT=%lld - 1)); give --slice I/N",
                        (long long)id, (long long)mn, (long long)last, (long long)step,
                        (long long)cnt);
    if ((id - mn) % step)
        return ifs_errf(err, errlen, IFS_SLURM_EUNMAPPABLE,
                        "SLURM_ARRAY_TASK_ID=%lld is not on the array's grid "
                        "SLURM_ARRAY_TASK_MIN=%lld + k * SLURM_ARRAY_TASK_STEP=%lld, as in a mix "
                        "of ranges such as --array=0-2:2,3,6; submit one range (--array=A-B or "
                        "A-B:S) or give each task --slice I/N",
                        (long long)id, (long long)mn, (long long)step);
    *index = (int32_t)((id - mn) / step);
    *count = (int32_t)cnt;
    return IFS_SLURM_OK;
}

void ifs_slurm_inputs_sha256(const char *const *paths, size_t n, char hex[65])
{
    ifs_sha256_ctx c;
    ifs_sha256_init(&c);
    for (size_t i = 0; i < n; i++)
        ifs_sha256_update(&c, paths[i], strlen(paths[i]) + 1); /* the NUL separates */
    ifs_sha256_final_hex(&c, hex);
}
