/*
 * reduce_slices.c - which slices of a sliced run a reducer holds: set by
 * the score run, unioned by merges, written to and read from report.json's
 * "slice" member, and checked by `ifscore reduce` so that a merge with a
 * slice missing is refused, naming it (docs/report-schema.md, "Slices").
 *
 * Decisions:
 *   - A slice is named by its index, the slice count and the fingerprint of
 *     the whole sorted input list it was cut from. Two slices "of the same
 *     run" are slices of the same list and count; nothing else (job ids,
 *     hosts) is needed or trusted.
 *   - The indexes present are kept as a sorted array, not a bitmap of
 *     `count` bits: a report may claim any count up to INT32_MAX, and the
 *     memory must stay proportional to what the file lists.
 *   - A complete set is written as nothing at all, so the merge of every
 *     slice is byte-identical to one unsliced run over the same inputs.
 *   - Merging is checked and built before dst changes (prepare), then moved
 *     in (apply): a refused merge leaves dst as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ifs_reduce.h"
#include "report_impl.h"

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

void ifs_red_slices_clear(ifs_red_slices *s)
{
    free(s->idx);
    memset(s, 0, sizeof *s);
}

int ifs_reduce_set_slice(ifs_reducer *r, int32_t index, int32_t count, const char *inputs_sha256,
                         char *err, size_t errlen)
{
    if (!r)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer");
    if (count < 1 || index < 0 || index >= count)
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "slice %d of %d: want a count >= 1 and 0 <= index < count", (int)index,
                        (int)count);
    if (!is_hex64(inputs_sha256))
        return ifs_errf(err, errlen, IFS_RED_EARG,
                        "the sliced list's sha256 must be 64 lowercase hex characters");
    int32_t *idx = malloc(sizeof *idx);
    if (!idx)
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    idx[0] = index;
    ifs_red_slices_clear(&r->slices);
    r->slices.count = count;
    memcpy(r->slices.sha, inputs_sha256, 65);
    r->slices.idx = idx;
    r->slices.n = 1;
    return IFS_RED_OK;
}

int ifs_red_slices_prepare(const ifs_reducer *dst, const ifs_reducer *src, int allow_overlap,
                           ifs_red_slices *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const ifs_red_slices *a = &dst->slices, *b = &src->slices;
    if (!b->count) /* nothing to add: dst keeps what it has */
        return IFS_RED_OK;
    if (a->count && strcmp(a->sha, b->sha))
        return ifs_errf(err, errlen, IFS_RED_EMISMATCH,
                        "reports differ in slice.inputs_sha256: %.16s... vs %.16s... "
                        "(slices of two different input lists; reduce each run's "
                        "slices on their own first)",
                        a->sha, b->sha);
    if (a->count && a->count != b->count)
        return ifs_errf(err, errlen, IFS_RED_EMISMATCH,
                        "reports differ in slice.count: %d vs %d (the same inputs cut "
                        "into a different number of slices)",
                        (int)a->count, (int)b->count);
    size_t n = a->n + b->n;
    int32_t *u = malloc((n ? n : 1) * sizeof *u);
    if (!u)
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    size_t i = 0, j = 0, k = 0;
    while (i < a->n || j < b->n) {
        int32_t v;
        if (j == b->n || (i < a->n && a->idx[i] < b->idx[j])) {
            v = a->idx[i++];
        } else if (i == a->n || b->idx[j] < a->idx[i]) {
            v = b->idx[j++];
        } else {
            if (!allow_overlap) {
                free(u);
                return ifs_errf(err, errlen, IFS_RED_EOVERLAP,
                                "slice %d of %d is in both reports: merging would count "
                                "it twice; --allow-overlap merges anyway",
                                (int)a->idx[i], (int)a->count);
            }
            v = a->idx[i++];
            j++;
        }
        u[k++] = v;
    }
    out->count = b->count;
    memcpy(out->sha, b->sha, 65);
    out->idx = u;
    out->n = k;
    return IFS_RED_OK;
}

void ifs_red_slices_apply(ifs_reducer *dst, ifs_red_slices *u)
{
    if (!u->count)
        return;
    ifs_red_slices_clear(&dst->slices);
    dst->slices = *u;
    memset(u, 0, sizeof *u);
}

/* A list of index ranges "0, 2-5, 9" with at most `max` ranges shown and
 * "and N more" for the indexes of the rest. */
typedef struct {
    ifs_buf *b;
    int shown, max;
    uint64_t total, more;
} range_list;

static void add_range(range_list *l, int64_t lo, int64_t hi)
{
    if (lo > hi)
        return;
    l->total += (uint64_t)(hi - lo + 1);
    if (l->shown == l->max) {
        l->more += (uint64_t)(hi - lo + 1);
        return;
    }
    ifs_buf_printf(l->b, "%s%lld", l->shown ? ", " : "", (long long)lo);
    if (hi > lo)
        ifs_buf_printf(l->b, "-%lld", (long long)hi);
    l->shown++;
}

static void end_ranges(range_list *l)
{
    if (l->more)
        ifs_buf_printf(l->b, " and %llu more", (unsigned long long)l->more);
}

/* The present indexes (sorted idx[n]) as ranges. */
static void present_ranges(range_list *l, const int32_t *idx, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && idx[j + 1] == idx[j] + 1)
            j++;
        add_range(l, idx[i], idx[j]);
        i = j + 1;
    }
    end_ranges(l);
}

/* The indexes of 0..count-1 absent from the sorted idx[n], as ranges. */
static void missing_ranges(range_list *l, const int32_t *idx, size_t n, int32_t count)
{
    int64_t prev = -1;
    for (size_t i = 0; i <= n; i++) {
        int64_t next = i < n ? idx[i] : count;
        add_range(l, prev + 1, next - 1);
        prev = next;
    }
    end_ranges(l);
}

int ifs_reduce_check_slices(const ifs_reducer *r, char *err, size_t errlen)
{
    if (!r)
        return ifs_errf(err, errlen, IFS_RED_EARG, "no reducer");
    const ifs_red_slices *s = &r->slices;
    if (!s->count || s->n == (size_t)s->count)
        return IFS_RED_OK;
    ifs_buf miss, have;
    ifs_buf_init(&miss);
    ifs_buf_init(&have);
    range_list m = {&miss, 0, 12, 0, 0}, h = {&have, 0, 12, 0, 0};
    missing_ranges(&m, s->idx, s->n, s->count);
    present_ranges(&h, s->idx, s->n);
    int rc = ifs_errf(err, errlen, IFS_RED_EMISSING,
                      "%s %s of %d %s missing (the reports hold %s %s of the input "
                      "list %.16s...): rerun %s (docs/slurm.md), or merge anyway with "
                      "--allow-partial",
                      m.total == 1 ? "slice" : "slices", miss.oom ? "?" : miss.p, (int)s->count,
                      m.total == 1 ? "is" : "are", h.total == 1 ? "slice" : "slices",
                      have.oom ? "?" : have.p, s->sha, m.total == 1 ? "that task" : "those tasks");
    free(miss.p);
    free(have.p);
    return rc;
}

/* --- report.json ----------------------------------------------------------- */

void ifs_red_put_slices(ifs_buf *b, const ifs_reducer *r)
{
    const ifs_red_slices *s = &r->slices;
    if (!s->count || s->n == (size_t)s->count)
        return; /* complete: the report of one unsliced run */
    ifs_buf_printf(b, "  \"slice\": {\n    \"count\": %d,\n    \"indexes\": [", (int)s->count);
    for (size_t i = 0; i < s->n; i++)
        ifs_buf_printf(b, "%s%d", i ? ", " : "", (int)s->idx[i]);
    ifs_buf_printf(b, "],\n    \"inputs_sha256\": \"%s\"\n  },\n", s->sha);
}

/* An integer in [0, INT32_MAX] held exactly by a JSON number. */
static int get_i32(const cJSON *x, int32_t *v)
{
    if (!cJSON_IsNumber(x))
        return -1;
    double d = x->valuedouble;
    if (!(d >= 0 && d <= 2147483647.0) || d != (double)(int32_t)d)
        return -1;
    *v = (int32_t)d;
    return 0;
}

int ifs_red_read_slices(const struct cJSON *root, ifs_reducer *r, char *err, size_t errlen)
{
#define BAD(...) ifs_errf(err, errlen, IFS_RED_EFORMAT, __VA_ARGS__)
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "slice");
    if (!s || cJSON_IsNull(s))
        return IFS_RED_OK;
    if (!cJSON_IsObject(s))
        return BAD("slice: not an object");
    int32_t count;
    if (get_i32(cJSON_GetObjectItemCaseSensitive(s, "count"), &count) || count < 1)
        return BAD("slice.count: missing or not an integer in 1..2147483647");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(s, "inputs_sha256");
    if (!cJSON_IsString(sha) || !is_hex64(sha->valuestring))
        return BAD("slice.inputs_sha256: missing or not 64 lowercase hex characters");
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(s, "indexes");
    if (!cJSON_IsArray(ix) || !ix->child)
        return BAD("slice.indexes: missing, not an array or empty");
    size_t n = 0;
    for (const cJSON *x = ix->child; x; x = x->next)
        n++;
    int32_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return ifs_errf(err, errlen, IFS_RED_ENOMEM, "out of memory");
    size_t k = 0;
    for (const cJSON *x = ix->child; x; x = x->next, k++) {
        if (get_i32(x, &idx[k]) || idx[k] >= count || (k && idx[k] <= idx[k - 1])) {
            free(idx);
            return BAD("slice.indexes[%zu]: not an integer in 0..count-1 above the one before", k);
        }
    }
    ifs_red_slices_clear(&r->slices);
    r->slices.count = count;
    memcpy(r->slices.sha, sha->valuestring, 65);
    r->slices.idx = idx;
    r->slices.n = n;
    return IFS_RED_OK;
#undef BAD
}
