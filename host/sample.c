/*
 * sample.c - N scored records per group for a person to read (ifs_sample.h).
 *
 * Decisions:
 *   - Two passes. The first streams the scores file (any size) and keeps,
 *     per group, the N matching records of lowest priority in a max-heap:
 *     memory is N per group, whatever the file's length. The second reads
 *     only the shards that hold a kept record, each once, in line order.
 *   - Priority = splitmix64 of the seed, a hash of the shard path and the
 *     line number: a property of the record, not of the file's order.
 *   - Shard lines go through the record parser that scored them
 *     (ifs_record_parse, the same text and id rules), and the id must be
 *     the one the scores line carries, so a shard edited since scoring is
 *     caught instead of printing another record's text.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ifs_buf.h"
#include "ifs_record.h"
#include "ifs_reduce.h"
#include "ifs_rng.h"
#include "ifs_sample.h"
#include "ifs_shard.h"
#include "markup_impl.h"

#define MAX_KEYS IFS_RECORD_MAX_GROUP_KEYS

const char *ifs_sample_strerror(int rc)
{
    switch (rc) {
    case IFS_SAMPLE_OK: return "ok";
    case IFS_SAMPLE_EARG: return "bad argument";
    case IFS_SAMPLE_ENOMEM: return "out of memory";
    case IFS_SAMPLE_EIO: return "the scores file cannot be read";
    case IFS_SAMPLE_EFORMAT: return "malformed scores line";
    case IFS_SAMPLE_ESHARD: return "a shard does not match its scores";
    default: return "unknown status";
    }
}

void ifs_sample_opts_init(ifs_sample_opts *o)
{
    memset(o, 0, sizeof *o);
    o->per_group = 5;
    o->seed = 1;
    o->group_by = "model";
    o->answer_like = IFS_SAMPLE_ANY;
    o->threshold = 0.5;
    o->p_min = 0.0;
    o->p_max = 1.0;
    o->text_field = "response";
    o->id_field = "id";
    o->instruction_field = "instruction";
    o->with_text = 1;
    o->format = IFS_SAMPLE_JSONL;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* splitmix64 of x: the first draw of ifs_rng seeded with x. */
static uint64_t splitmix64(uint64_t x)
{
    return ifs_rng_step(&x);
}

static uint64_t fnv(const char *s, uint64_t h)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (h ^ 0xFFu) * 1099511628211ull; /* 0xFF never occurs in UTF-8 */
}

/* --- what is kept ------------------------------------------------------------ */

typedef struct {
    uint64_t prio;
    size_t shard; /* index into the interned shard paths */
    uint64_t line;
    char *id; /* NULL: the scores line had none */
    int id_is_number;
    double id_number;
    int type; /* ifs_itype */
    char *label;
    double p;
    int answer_like;
    int64_t tokens;           /* -1: absent */
    char *text, *instruction; /* filled by the second pass */
} entry;

typedef struct {
    char *vals[MAX_KEYS];
    uint64_t hash;
    uint64_t matched;
    entry *heap; /* max-heap on prio, at most per_group */
    size_t n;
} group;

typedef struct {
    const ifs_sample_opts *o;
    size_t n_keys;
    char keys[MAX_KEYS][IFS_RECORD_MAX_FIELD_NAME + 1];
    group **groups;
    size_t n_groups, cap_groups;
    size_t *table, table_cap; /* index + 1 into groups; power of two */
    char **shards;
    size_t n_shards, cap_shards;
    size_t *stable, stable_cap; /* index + 1 into shards */
} state;

static void entry_free(entry *e)
{
    free(e->id);
    free(e->label);
    free(e->text);
    free(e->instruction);
}

static void state_free(state *s)
{
    for (size_t i = 0; i < s->n_groups; i++) {
        group *g = s->groups[i];
        for (size_t k = 0; k < s->n_keys; k++)
            free(g->vals[k]);
        for (size_t j = 0; j < g->n; j++)
            entry_free(&g->heap[j]);
        free(g->heap);
        free(g);
    }
    free(s->groups);
    free(s->table);
    for (size_t i = 0; i < s->n_shards; i++)
        free(s->shards[i]);
    free(s->shards);
    free(s->stable);
}

static uint64_t tuple_hash(const char *const *vals, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < n; k++)
        h = fnv(vals[k], h);
    return h;
}

static int grow_table(size_t **t, size_t *cap, size_t n, uint64_t (*hash_of)(state *, size_t),
                      state *s)
{
    size_t nc = *cap ? *cap * 2 : 64;
    size_t *nt = calloc(nc, sizeof *nt);
    if (!nt)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t slot = (size_t)hash_of(s, i) & (nc - 1);
        while (nt[slot])
            slot = (slot + 1) & (nc - 1);
        nt[slot] = i + 1;
    }
    free(*t);
    *t = nt;
    *cap = nc;
    return 0;
}

static uint64_t group_hash_at(state *s, size_t i)
{
    return s->groups[i]->hash;
}
static uint64_t shard_hash_at(state *s, size_t i)
{
    return fnv(s->shards[i], 0);
}

static group *group_get(state *s, const char *const *vals)
{
    uint64_t h = tuple_hash(vals, s->n_keys);
    if (s->table_cap) {
        size_t slot = (size_t)h & (s->table_cap - 1);
        for (; s->table[slot]; slot = (slot + 1) & (s->table_cap - 1)) {
            group *g = s->groups[s->table[slot] - 1];
            size_t k = 0;
            while (g->hash == h && k < s->n_keys && !strcmp(g->vals[k], vals[k]))
                k++;
            if (g->hash == h && k == s->n_keys)
                return g;
        }
    }
    if ((s->n_groups + 1) * 10 > s->table_cap * 7 &&
        grow_table(&s->table, &s->table_cap, s->n_groups, group_hash_at, s))
        return NULL;
    if (s->n_groups == s->cap_groups) {
        size_t cap = s->cap_groups ? s->cap_groups * 2 : 16;
        group **ng = realloc(s->groups, cap * sizeof *ng);
        if (!ng)
            return NULL;
        s->groups = ng;
        s->cap_groups = cap;
    }
    group *g = calloc(1, sizeof *g);
    if (!g || !(g->heap = malloc(s->o->per_group * sizeof *g->heap))) {
        free(g);
        return NULL;
    }
    int bad = 0;
    for (size_t k = 0; k < s->n_keys; k++)
        bad |= !(g->vals[k] = dupstr(vals[k]));
    if (bad) {
        for (size_t k = 0; k < s->n_keys; k++)
            free(g->vals[k]);
        free(g->heap);
        free(g);
        return NULL;
    }
    g->hash = h;
    s->groups[s->n_groups++] = g;
    size_t slot = (size_t)h & (s->table_cap - 1);
    while (s->table[slot])
        slot = (slot + 1) & (s->table_cap - 1);
    s->table[slot] = s->n_groups;
    return g;
}

/* Index of an interned shard path, or (size_t)-1 when out of memory. */
static size_t shard_intern(state *s, const char *path)
{
    uint64_t h = fnv(path, 0);
    if (s->stable_cap) {
        size_t slot = (size_t)h & (s->stable_cap - 1);
        for (; s->stable[slot]; slot = (slot + 1) & (s->stable_cap - 1))
            if (!strcmp(s->shards[s->stable[slot] - 1], path))
                return s->stable[slot] - 1;
    }
    if ((s->n_shards + 1) * 10 > s->stable_cap * 7 &&
        grow_table(&s->stable, &s->stable_cap, s->n_shards, shard_hash_at, s))
        return (size_t)-1;
    if (s->n_shards == s->cap_shards) {
        size_t cap = s->cap_shards ? s->cap_shards * 2 : 16;
        char **ns = realloc(s->shards, cap * sizeof *ns);
        if (!ns)
            return (size_t)-1;
        s->shards = ns;
        s->cap_shards = cap;
    }
    char *d = dupstr(path);
    if (!d)
        return (size_t)-1;
    s->shards[s->n_shards++] = d;
    size_t slot = (size_t)h & (s->stable_cap - 1);
    while (s->stable[slot])
        slot = (slot + 1) & (s->stable_cap - 1);
    s->stable[slot] = s->n_shards;
    return s->n_shards - 1;
}

static void sift_down(entry *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].prio > h[m].prio)
            m = l;
        if (r < n && h[r].prio > h[m].prio)
            m = r;
        if (m == i)
            return;
        entry t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(entry *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].prio >= h[i].prio)
            return;
        entry t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

/* --- pass 1: the scores file ------------------------------------------------- */

static const cJSON *member(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* Parses and filters one scores line; keeps it when it wins a place. */
static int take_line(state *s, const char *path, const ifs_shard_line *ln, uint64_t *matched,
                     char *err, size_t errlen)
{
    const ifs_sample_opts *o = s->o;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        char why_[256];                                                                            \
        snprintf(why_, sizeof why_, __VA_ARGS__);                                                  \
        rc = ifs_errf(err, errlen, IFS_SAMPLE_EFORMAT, "%s line %llu (byte %llu): %s", path,       \
                      (unsigned long long)ln->line_no, (unsigned long long)ln->offset, why_);      \
        goto done;                                                                                 \
    } while (0)
    int rc = IFS_SAMPLE_OK;
    cJSON *root = NULL;
    if (ln->reason)
        return ifs_errf(err, errlen, IFS_SAMPLE_EFORMAT, "%s line %llu (byte %llu): %s", path,
                        (unsigned long long)ln->line_no, (unsigned long long)ln->offset,
                        ln->detail[0] ? ln->detail : ifs_reject_name(ln->reason));
    if (!(root = cJSON_ParseWithLength(ln->data, ln->len)))
        BAD("not valid JSON");
    if (!cJSON_IsObject(root))
        BAD("not a JSON object");
    const cJSON *sh = member(root, "shard"), *li = member(root, "line"),
                *p = member(root, "p_answer"), *al = member(root, "answer_like"),
                *lab = member(root, "label"), *ty = member(root, "instruction_type"),
                *id = member(root, "id"), *tok = member(root, "tokens");
    if (!cJSON_IsString(sh) || !*sh->valuestring)
        BAD("\"shard\" is missing or not a string");
    if (!cJSON_IsNumber(li) || !(li->valuedouble >= 1 && li->valuedouble <= 9007199254740992.0) ||
        li->valuedouble != floor(li->valuedouble))
        BAD("\"line\" is missing or not a line number");
    if (!cJSON_IsNumber(p) || !(p->valuedouble >= 0 && p->valuedouble <= 1))
        BAD("\"p_answer\" is missing or not a probability");
    if (!cJSON_IsBool(al))
        BAD("\"answer_like\" is missing or not true/false");
    if (lab && !cJSON_IsString(lab))
        BAD("\"label\" is not a string");
    if (ty && !cJSON_IsNull(ty) &&
        !(cJSON_IsString(ty) &&
          (!strcmp(ty->valuestring, "partial") || !strcmp(ty->valuestring, "full"))))
        BAD("\"instruction_type\" is not \"partial\", \"full\" or null");
    if (id && !cJSON_IsNull(id) && !cJSON_IsString(id) && !cJSON_IsNumber(id))
        BAD("\"id\" is neither a string nor a number");
    if (tok && !cJSON_IsNumber(tok))
        BAD("\"tokens\" is not a number");
    const char *vals[MAX_KEYS];
    for (size_t k = 0; k < s->n_keys; k++) {
        const cJSON *v = member(root, s->keys[k]);
        if (!cJSON_IsString(v))
            BAD("no string field \"%s\" (--group-by must name the run's group keys)", s->keys[k]);
        vals[k] = v->valuestring;
    }
    double pa = p->valuedouble;
    int is_al = cJSON_IsTrue(al);
    if ((o->answer_like != IFS_SAMPLE_ANY && is_al != o->answer_like) ||
        (o->label && (!lab || strcmp(lab->valuestring, o->label))) ||
        (o->near_margin > 0 && !(fabs(pa - o->threshold) < o->near_margin)) || pa < o->p_min ||
        pa > o->p_max)
        goto done;
    (*matched)++;
    group *g = group_get(s, vals);
    if (!g) {
        rc = ifs_errf(err, errlen, IFS_SAMPLE_ENOMEM, "out of memory");
        goto done;
    }
    g->matched++;
    uint64_t line = (uint64_t)li->valuedouble;
    uint64_t prio = splitmix64(o->seed ^ splitmix64(fnv(sh->valuestring, 0) ^ line));
    if (g->n == o->per_group && prio >= g->heap[0].prio)
        goto done;
    entry e;
    memset(&e, 0, sizeof e);
    e.prio = prio;
    e.line = line;
    e.p = pa;
    e.answer_like = is_al;
    e.tokens = tok ? (int64_t)tok->valuedouble : -1;
    e.type = cJSON_IsString(ty) ? (ty->valuestring[0] == 'p' ? IFS_ITYPE_PARTIAL : IFS_ITYPE_FULL)
                                : IFS_ITYPE_NONE;
    e.shard = shard_intern(s, sh->valuestring);
    int bad = e.shard == (size_t)-1;
    if (lab)
        bad |= !(e.label = dupstr(lab->valuestring));
    if (cJSON_IsString(id)) {
        bad |= !(e.id = dupstr(id->valuestring));
    } else if (cJSON_IsNumber(id)) {
        char t[40];
        snprintf(t, sizeof t, "%.15g", id->valuedouble);
        if (strtod(t, NULL) != id->valuedouble)
            snprintf(t, sizeof t, "%.17g", id->valuedouble);
        e.id_is_number = 1;
        e.id_number = id->valuedouble;
        bad |= !(e.id = dupstr(t));
    }
    if (bad) {
        entry_free(&e);
        rc = ifs_errf(err, errlen, IFS_SAMPLE_ENOMEM, "out of memory");
        goto done;
    }
    if (g->n < o->per_group) {
        g->heap[g->n++] = e;
        sift_up(g->heap, g->n - 1);
    } else {
        entry_free(&g->heap[0]);
        g->heap[0] = e;
        sift_down(g->heap, g->n, 0);
    }
done:
    cJSON_Delete(root);
    return rc;
#undef BAD
}

/* --- pass 2: texts from the shards ------------------------------------------- */

static int cmp_entry_ptr_loc(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int same_id(const entry *e, const ifs_record *rec)
{
    if (!e->id)
        return 1; /* the scores line had none: nothing to check */
    if (!rec->has_id)
        return 0;
    if (e->id_is_number)
        return rec->id_is_number && strtod(rec->id, NULL) == e->id_number;
    return !rec->id_is_number && rec->id_len == strlen(e->id) &&
           !memcmp(rec->id, e->id, rec->id_len);
}

static int fetch_texts(state *s, entry **all, size_t n, uint64_t *shards_read, char *err,
                       size_t errlen)
{
    const ifs_sample_opts *o = s->o;
    ifs_record_schema sch;
    ifs_record_schema_init(&sch);
    char why[256];
    if (ifs_record_schema_set_field(&sch, IFS_FIELD_TEXT, o->text_field, why, sizeof why) ||
        ifs_record_schema_set_field(&sch, IFS_FIELD_ID, o->id_field, why, sizeof why) ||
        ifs_record_schema_set_field(&sch, IFS_FIELD_TYPE, "", why, sizeof why) ||
        ifs_record_schema_set_group_by(&sch, o->group_by, why, sizeof why))
        return ifs_errf(err, errlen, IFS_SAMPLE_EARG, "%s", why);
    qsort(all, n, sizeof *all, cmp_entry_ptr_loc);
    ifs_record rec;
    ifs_record_init(&rec);
    int rc = IFS_SAMPLE_OK;
    for (size_t i = 0; i < n && !rc;) {
        const char *name = s->shards[all[i]->shard];
        char path[4096];
        if (o->shard_root && *o->shard_root && name[0] != '/')
            snprintf(path, sizeof path, "%s/%s", o->shard_root, name);
        else
            snprintf(path, sizeof path, "%s", name);
        ifs_shard_reader *rd;
        if (ifs_shard_open(path, NULL, &rd, why, sizeof why)) {
            rc = ifs_errf(err, errlen, IFS_SAMPLE_ESHARD, "%s (named by the scores file): %s%s",
                          path, why,
                          o->shard_root ? "" : " (--shard-root says where the shards are)");
            break;
        }
        (*shards_read)++;
        size_t j = i;
        ifs_shard_line ln;
        int got = 0;
        while (j < n && all[j]->shard == all[i]->shard && (got = ifs_shard_next(rd, &ln)) > 0) {
            if (ln.line_no != all[j]->line)
                continue;
            if (ln.reason) {
                rc = ifs_errf(err, errlen, IFS_SAMPLE_ESHARD, "%s line %llu: %s", path,
                              (unsigned long long)ln.line_no,
                              ln.detail[0] ? ln.detail : ifs_reject_name(ln.reason));
                break;
            }
            ifs_reject_reason r = ifs_record_parse(&rec, &sch, ln.data, ln.len);
            if (r) {
                rc = ifs_errf(err, errlen, IFS_SAMPLE_ESHARD,
                              "%s line %llu: the record scored there does not parse now (%s: %s): "
                              "was the shard changed since scoring?",
                              path, (unsigned long long)ln.line_no, ifs_reject_name(r), rec.detail);
                break;
            }
            if (!same_id(all[j], &rec)) {
                rc = ifs_errf(err, errlen, IFS_SAMPLE_ESHARD,
                              "%s line %llu: the record there has id %.*s, the scores file says "
                              "%s: was the shard changed since scoring?",
                              path, (unsigned long long)ln.line_no,
                              rec.has_id ? (int)(rec.id_len > 80 ? 80 : rec.id_len) : 6,
                              rec.has_id ? rec.id : "(none)", all[j]->id);
                break;
            }
            all[j]->text = malloc(rec.text_len + 1);
            if (!all[j]->text) {
                rc = ifs_errf(err, errlen, IFS_SAMPLE_ENOMEM, "out of memory");
                break;
            }
            memcpy(all[j]->text, rec.text, rec.text_len);
            all[j]->text[rec.text_len] = 0;
            if (o->instruction_field && *o->instruction_field) {
                cJSON *root = cJSON_ParseWithLength(ln.data, ln.len);
                const cJSON *in = root ? member(root, o->instruction_field) : NULL;
                if (cJSON_IsString(in) && !(all[j]->instruction = dupstr(in->valuestring)))
                    rc = ifs_errf(err, errlen, IFS_SAMPLE_ENOMEM, "out of memory");
                cJSON_Delete(root);
            }
            /* The same line may be named twice (a scores file with repeats). */
            while (!rc && j + 1 < n && all[j + 1]->shard == all[j]->shard &&
                   all[j + 1]->line == all[j]->line) {
                j++;
                all[j]->text = dupstr(all[j - 1]->text);
                if (!all[j]->text || (all[j - 1]->instruction &&
                                      !(all[j]->instruction = dupstr(all[j - 1]->instruction))))
                    rc = ifs_errf(err, errlen, IFS_SAMPLE_ENOMEM, "out of memory");
            }
            j++;
        }
        if (!rc && j < n && all[j]->shard == all[i]->shard) {
            ifs_shard_stats st;
            ifs_shard_get_stats(rd, &st);
            rc = ifs_errf(err, errlen, IFS_SAMPLE_ESHARD,
                          "%s has %llu lines, but the scores file names line %llu: was the shard "
                          "changed since scoring?",
                          path, (unsigned long long)st.lines, (unsigned long long)all[j]->line);
        }
        ifs_shard_free(rd);
        while (j < n && all[j]->shard == all[i]->shard)
            j++;
        i = j;
    }
    ifs_record_clear(&rec);
    return rc;
}

/* --- output ------------------------------------------------------------------ */

/* qsort has no context argument in C11: the key count is set under a mutex. */
static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t sort_keys_n;
static int cmp_groups(const void *a, const void *b)
{
    const group *x = *(group *const *)a, *y = *(group *const *)b;
    for (size_t k = 0; k < sort_keys_n; k++) {
        int c = ifs_reduce_value_cmp(x->vals[k], y->vals[k]);
        if (c)
            return c;
    }
    return 0;
}

static int cmp_prio(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->prio != y->prio)
        return x->prio < y->prio ? -1 : 1;
    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static const char *type_name(int t)
{
    return t == IFS_ITYPE_PARTIAL ? "partial" : t == IFS_ITYPE_FULL ? "full" : NULL;
}

static void put_jsonl(ifs_buf *b, const state *s, const group *g, const entry *e)
{
    ifs_buf_puts(b, "{\"group\":{");
    for (size_t k = 0; k < s->n_keys; k++) {
        ifs_buf_puts(b, k ? "," : "");
        ifs_buf_jstr(b, s->keys[k]);
        ifs_buf_puts(b, ":");
        ifs_buf_jstr(b, g->vals[k]);
    }
    ifs_buf_puts(b, "},\"shard\":");
    ifs_buf_jstr(b, s->shards[e->shard]);
    ifs_buf_printf(b, ",\"line\":%llu,\"id\":", (unsigned long long)e->line);
    if (!e->id)
        ifs_buf_puts(b, "null");
    else if (e->id_is_number)
        ifs_buf_puts(b, e->id);
    else
        ifs_buf_jstr(b, e->id);
    const char *t = type_name(e->type);
    ifs_buf_printf(b, ",\"instruction_type\":%s%s%s,\"label\":", t ? "\"" : "", t ? t : "null",
                   t ? "\"" : "");
    if (e->label)
        ifs_buf_jstr(b, e->label);
    else
        ifs_buf_puts(b, "null");
    ifs_buf_printf(b, ",\"p_answer\":%.6f,\"answer_like\":%s", e->p,
                   e->answer_like ? "true" : "false");
    if (e->tokens >= 0)
        ifs_buf_printf(b, ",\"tokens\":%lld", (long long)e->tokens);
    if (s->o->with_text) {
        ifs_buf_puts(b, ",\"instruction\":");
        if (e->instruction)
            ifs_buf_jstr(b, e->instruction);
        else
            ifs_buf_puts(b, "null");
        ifs_buf_puts(b, ",\"response\":");
        ifs_buf_jstr(b, e->text ? e->text : "");
    }
    ifs_buf_puts(b, "}\n");
}

/* A fenced block that no run of backticks inside the text can close. */
static void put_fenced(ifs_buf *b, const char *text)
{
    size_t run = 0, longest = 0;
    for (const char *p = text; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        longest = run > longest ? run : longest;
    }
    size_t fence = longest >= 3 ? longest + 1 : 3;
    for (size_t i = 0; i < fence; i++)
        ifs_buf_puts(b, "`");
    ifs_buf_puts(b, "text\n");
    ifs_buf_puts(b, text);
    if (!*text || text[strlen(text) - 1] != '\n')
        ifs_buf_puts(b, "\n");
    for (size_t i = 0; i < fence; i++)
        ifs_buf_puts(b, "`");
    ifs_buf_puts(b, "\n");
}

static void put_group_label(ifs_buf *b, const state *s, const group *g)
{
    for (size_t k = 0; k < s->n_keys; k++) {
        ifs_buf_puts(b, k ? ", " : "");
        if (s->n_keys > 1) {
            ifs_mk_md_cell(b, s->keys[k]);
            ifs_buf_puts(b, "=");
        }
        ifs_mk_md_cell(b, g->vals[k]);
    }
}

static void put_markdown_head(ifs_buf *b, const state *s, const char *path,
                              const ifs_sample_stats *st)
{
    const ifs_sample_opts *o = s->o;
    ifs_buf_puts(b, "# Sample of `");
    ifs_mk_md_cell(b, path);
    ifs_buf_printf(b, "`\n\nUp to %zu records per group, chosen by seed %llu", o->per_group,
                   (unsigned long long)o->seed);
    int f = 0;
    if (o->answer_like != IFS_SAMPLE_ANY) {
        ifs_buf_printf(b, "%s %s", f++ ? "," : "; only",
                       o->answer_like ? "answer-like" : "not answer-like");
    }
    if (o->label) {
        ifs_buf_printf(b, "%s label ", f++ ? "," : "; only");
        ifs_mk_md_cell(b, o->label);
    }
    if (o->near_margin > 0)
        ifs_buf_printf(b, "%s |p_answer - %.3f| < %.3f", f++ ? "," : "; only", o->threshold,
                       o->near_margin);
    if (o->p_min > 0 || o->p_max < 1)
        ifs_buf_printf(b, "%s p_answer in [%.3f, %.3f]", f++ ? "," : "; only", o->p_min, o->p_max);
    ifs_buf_printf(b, ". %llu of %llu scored records match, in %llu group%s.\n",
                   (unsigned long long)st->matched, (unsigned long long)st->lines,
                   (unsigned long long)st->groups, st->groups == 1 ? "" : "s");
}

static void put_markdown_entry(ifs_buf *b, const state *s, const entry *e, size_t i)
{
    ifs_buf_printf(b, "\n### %zu. ", i + 1);
    if (e->id) {
        ifs_buf_puts(b, "`");
        ifs_mk_md_cell(b, e->id);
        ifs_buf_puts(b, "`: ");
    }
    ifs_buf_printf(b, "%s, p_answer %.3f\n\n", e->answer_like ? "answer-like" : "not answer-like",
                   e->p);
    ifs_buf_puts(b, "`");
    ifs_mk_md_cell(b, s->shards[e->shard]);
    ifs_buf_printf(b, "` line %llu", (unsigned long long)e->line);
    const char *t = type_name(e->type);
    if (t)
        ifs_buf_printf(b, " · %s instruction", t);
    if (e->label) {
        ifs_buf_puts(b, " · label ");
        ifs_mk_md_cell(b, e->label);
    }
    if (e->tokens >= 0)
        ifs_buf_printf(b, " · %lld tokens", (long long)e->tokens);
    ifs_buf_puts(b, "\n");
    if (!s->o->with_text)
        return;
    if (e->instruction) {
        ifs_buf_puts(b, "\nInstruction:\n\n");
        put_fenced(b, e->instruction);
    }
    ifs_buf_puts(b, "\nResponse:\n\n");
    put_fenced(b, e->text ? e->text : "");
}

int ifs_sample_run(const char *scores_path, const ifs_sample_opts *o, char **out, size_t *len,
                   ifs_sample_stats *st_out, char *err, size_t errlen)
{
    if (!out)
        return ifs_errf(err, errlen, IFS_SAMPLE_EARG, "no output pointer");
    *out = NULL;
    if (len)
        *len = 0;
    if (!scores_path || !o)
        return ifs_errf(err, errlen, IFS_SAMPLE_EARG, "no scores file or options");
    if (o->per_group < 1 || o->per_group > 1000000)
        return ifs_errf(err, errlen, IFS_SAMPLE_EARG, "per_group must be 1..1000000");
    if (!(o->p_min >= 0 && o->p_max <= 1 && o->p_min <= o->p_max))
        return ifs_errf(err, errlen, IFS_SAMPLE_EARG, "the probability range must lie in [0, 1]");
    if (!(o->near_margin >= 0 && o->near_margin < 1) || !(o->threshold > 0 && o->threshold < 1))
        return ifs_errf(err, errlen, IFS_SAMPLE_EARG,
                        "the threshold must be in (0, 1) and the margin in [0, 1)");
    if (o->answer_like != IFS_SAMPLE_ANY && o->answer_like != 0 && o->answer_like != 1)
        return ifs_errf(err, errlen, IFS_SAMPLE_EARG, "answer_like must be -1, 0 or 1");
    if (!o->text_field || !o->id_field || !o->group_by)
        return ifs_errf(err, errlen, IFS_SAMPLE_EARG, "field names must be given");

    state s;
    memset(&s, 0, sizeof s);
    s.o = o;
    {
        /* The group-by list is split by the record schema's own rules. */
        ifs_record_schema sch;
        ifs_record_schema_init(&sch);
        char why[256];
        if (ifs_record_schema_set_group_by(&sch, o->group_by, why, sizeof why))
            return ifs_errf(err, errlen, IFS_SAMPLE_EARG, "--group-by: %s", why);
        s.n_keys = sch.n_group_fields;
        memcpy(s.keys, sch.group_fields, sizeof s.keys);
    }
    ifs_sample_stats st;
    memset(&st, 0, sizeof st);
    ifs_shard_reader *rd;
    char why[256];
    if (ifs_shard_open(scores_path, NULL, &rd, why, sizeof why))
        return ifs_errf(err, errlen, IFS_SAMPLE_EIO, "%s", why);
    int rc = IFS_SAMPLE_OK, got = 0;
    ifs_shard_line ln;
    while (!rc && (got = ifs_shard_next(rd, &ln)) > 0) {
        st.lines++;
        rc = take_line(&s, scores_path, &ln, &st.matched, err, errlen);
    }
    if (!rc && got < 0)
        rc = ifs_errf(err, errlen, IFS_SAMPLE_ENOMEM, "%s: %s", scores_path,
                      ifs_shard_strerror(got));
    ifs_shard_free(rd);

    entry **all = NULL;
    size_t n_all = 0;
    if (!rc) {
        st.groups = s.n_groups;
        for (size_t i = 0; i < s.n_groups; i++)
            n_all += s.groups[i]->n;
        all = malloc((n_all ? n_all : 1) * sizeof *all);
        if (!all) {
            rc = ifs_errf(err, errlen, IFS_SAMPLE_ENOMEM, "out of memory");
        } else {
            size_t k = 0;
            for (size_t i = 0; i < s.n_groups; i++)
                for (size_t j = 0; j < s.groups[i]->n; j++)
                    all[k++] = &s.groups[i]->heap[j];
        }
    }
    if (!rc && o->with_text)
        rc = fetch_texts(&s, all, n_all, &st.shards, err, errlen);
    free(all);

    ifs_buf b;
    if (!rc && ifs_mk_open(&b))
        rc = ifs_errf(err, errlen, IFS_SAMPLE_ENOMEM, "out of memory");
    if (!rc) {
        pthread_mutex_lock(&sort_mu);
        sort_keys_n = s.n_keys;
        if (s.n_groups) /* qsort of (NULL, 0) is undefined */
            qsort(s.groups, s.n_groups, sizeof *s.groups, cmp_groups);
        pthread_mutex_unlock(&sort_mu);
        st.sampled = n_all;
        if (o->format == IFS_SAMPLE_MARKDOWN)
            put_markdown_head(&b, &s, scores_path, &st);
        for (size_t i = 0; i < s.n_groups; i++) {
            group *g = s.groups[i];
            if (g->n)
                qsort(g->heap, g->n, sizeof *g->heap, cmp_prio);
            if (o->format == IFS_SAMPLE_MARKDOWN) {
                ifs_buf_puts(&b, "\n## ");
                put_group_label(&b, &s, g);
                ifs_buf_printf(&b, "\n\n%zu of %llu matching record%s.\n", g->n,
                               (unsigned long long)g->matched, g->matched == 1 ? "" : "s");
            }
            for (size_t j = 0; j < g->n; j++) {
                if (o->format == IFS_SAMPLE_MARKDOWN)
                    put_markdown_entry(&b, &s, &g->heap[j], j);
                else
                    put_jsonl(&b, &s, g, &g->heap[j]);
            }
        }
        if (ifs_mk_finish(&b, out, len))
            rc = ifs_errf(err, errlen, IFS_SAMPLE_ENOMEM, "out of memory");
    }
    state_free(&s);
    if (!rc && st_out)
        *st_out = st;
    return rc;
}
