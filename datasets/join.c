/*
 * join.c - `ifscore join` as a call: a generation stack's outputs (JSONL
 * lines {id, output}) merged back with the instruction set's metadata into
 * scoring shards {id, model, instruction, instruction_type, response,
 * instruction_id, source_id, full_instruction, instruction_source,
 * prompt_variant}. `instruction` is what the model was given (Ip for a
 * partial one), so a classifier that reads the instruction too gets the
 * model's real input.
 *
 * The instruction set is held in memory (a few thousand records: the paper's
 * has 7,340); generations are streamed. Every generation line is joined or
 * counted under a reason; instructions that got no generation are counted
 * too, so a partial run shows up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

typedef struct {
    char *id, *instruction, *type, *source_id;
    char *full, *isrc; /* full_instruction (partial ones), instruction_source */
    int seen;
} instr_rec;

typedef struct {
    instr_rec *recs;
    size_t n, cap;
    size_t *slot; /* hash table: index + 1, 0 = empty */
    size_t slots;
    int bad_type, dup_id, no_fields;
} instr_set;

typedef struct {
    instr_set *set;
    ds_sink *sink;
    const char *model, *variant, *output_field;
    ds_buf rec, id;
    ds_set pairs; /* (model, id) already joined */
    ifs_ds_join_result *res;
    char err[512];
} join_ctx;

static uint64_t hash_id(const char *s, size_t n)
{
    return ifs_ds_key(0, "join-id", s, n);
}

static instr_rec *lookup(const instr_set *s, const char *id, size_t n)
{
    if (!s->slots)
        return NULL;
    for (size_t i = hash_id(id, n) & (s->slots - 1);; i = (i + 1) & (s->slots - 1)) {
        if (!s->slot[i])
            return NULL;
        instr_rec *r = &s->recs[s->slot[i] - 1];
        if (strlen(r->id) == n && !memcmp(r->id, id, n))
            return r;
    }
}

static int load_one(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                    uint64_t line, void *user)
{
    (void)raw;
    (void)raw_len;
    (void)shard;
    (void)line;
    instr_set *s = user;
    size_t idl;
    const char *id = ds_get_str(obj, "id", &idl);
    const char *instr = ds_get_str(obj, "instruction", NULL);
    const char *type = ds_get_str(obj, "instruction_type", NULL);
    const char *src = ds_get_str(obj, "source_id", NULL);
    const char *full = ds_get_str(obj, "full_instruction", NULL);
    const char *isrc = ds_get_str(obj, "instruction_source", NULL);
    if (!id || !instr) {
        s->no_fields++;
        return 0;
    }
    if (type && strcmp(type, "partial") && strcmp(type, "full")) {
        s->bad_type++;
        return 0;
    }
    if (lookup(s, id, idl)) {
        s->dup_id++;
        return 0;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        instr_rec *nr = realloc(s->recs, nc * sizeof *nr);
        if (!nr)
            return IFS_DS_ENOMEM;
        s->recs = nr;
        s->cap = nc;
    }
    if ((s->n + 1) * 2 > s->slots) {
        size_t ns = s->slots ? s->slots * 2 : 2048;
        size_t *nt = calloc(ns, sizeof *nt);
        if (!nt)
            return IFS_DS_ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
            size_t j = hash_id(s->recs[i].id, strlen(s->recs[i].id)) & (ns - 1);
            while (nt[j])
                j = (j + 1) & (ns - 1);
            nt[j] = i + 1;
        }
        free(s->slot);
        s->slot = nt;
        s->slots = ns;
    }
    instr_rec *r = &s->recs[s->n];
    r->id = strdup(id);
    r->instruction = strdup(instr);
    r->type = type ? strdup(type) : NULL;
    r->source_id = src ? strdup(src) : NULL;
    r->full = full ? strdup(full) : NULL;
    r->isrc = isrc ? strdup(isrc) : NULL;
    r->seen = 0;
    if (!r->id || !r->instruction || (type && !r->type) || (src && !r->source_id) ||
        (full && !r->full) || (isrc && !r->isrc))
        return IFS_DS_ENOMEM;
    size_t j = hash_id(id, idl) & (s->slots - 1);
    while (s->slot[j])
        j = (j + 1) & (s->slots - 1);
    s->slot[j] = ++s->n;
    return 0;
}

static void set_free(instr_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->recs[i].id);
        free(s->recs[i].instruction);
        free(s->recs[i].type);
        free(s->recs[i].source_id);
        free(s->recs[i].full);
        free(s->recs[i].isrc);
    }
    free(s->recs);
    free(s->slot);
}

static const char *output_text(const join_ctx *j, const cJSON *obj, size_t *len)
{
    if (j->output_field)
        return ds_get_str(obj, j->output_field, len);
    static const char *const names[] = {"output",     "response", "completion",
                                        "generation", "text",     NULL};
    for (int i = 0; names[i]; i++) {
        const char *s = ds_get_str(obj, names[i], len);
        if (s)
            return s;
    }
    return NULL;
}

static int join_one(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                    uint64_t line, void *user)
{
    (void)raw;
    (void)raw_len;
    (void)shard;
    (void)line;
    join_ctx *j = user;
    size_t idl, ol, ml;
    const char *id = ds_get_str(obj, "id", &idl);
    instr_rec *r = id ? lookup(j->set, id, idl) : NULL;
    if (!r) {
        j->res->unknown_id++;
        return 0;
    }
    const char *out = output_text(j, obj, &ol);
    if (!out) {
        j->res->no_output++;
        return 0;
    }
    const char *model = j->model;
    if (model)
        ml = strlen(model);
    else if (!(model = ds_get_str(obj, "model", &ml)) &&
             !(model = ds_get_str(obj, "generator", &ml))) {
        j->res->no_model++;
        return 0;
    }
    ds_buf_reset(&j->id);
    ds_buf_put(&j->id, model, ml);
    ds_buf_put(&j->id, "/", 1);
    ds_buf_put(&j->id, id, idl);
    int dup = ds_set_add(&j->pairs, ifs_ds_key(0, "join-pair", j->id.p, j->id.len));
    if (dup < 0)
        return IFS_DS_ENOMEM;
    if (dup) {
        j->res->duplicate++;
        return 0;
    }
    r->seen = 1;
    ds_buf *b = &j->rec;
    ds_buf_reset(b);
    ds_buf_puts(b, "{");
    ds_buf_kv_str(b, "id", j->id.p, j->id.len);
    ds_buf_kv_str(b, "model", model, ml);
    ds_buf_kv_str(b, "instruction", r->instruction, strlen(r->instruction));
    if (r->type)
        ds_buf_kv_str(b, "instruction_type", r->type, strlen(r->type));
    ds_buf_kv_str(b, "response", out, ol);
    ds_buf_kv_str(b, "instruction_id", id, idl);
    if (r->source_id)
        ds_buf_kv_str(b, "source_id", r->source_id, strlen(r->source_id));
    if (r->full)
        ds_buf_kv_str(b, "full_instruction", r->full, strlen(r->full));
    if (r->isrc)
        ds_buf_kv_str(b, "instruction_source", r->isrc, strlen(r->isrc));
    if (j->variant)
        ds_buf_kv_str(b, "prompt_variant", j->variant, strlen(j->variant));
    ds_buf_puts(b, "}");
    if (b->oom || j->id.oom)
        return IFS_DS_ENOMEM;
    int rc = ds_sink_line(j->sink, b->p, b->len, j->err, sizeof j->err);
    if (!rc)
        j->res->joined++;
    return rc;
}

int ifs_ds_join(const ifs_ds_join_opts *o, const char *instructions, char *const *gens, int n,
                const char *out, const ifs_ds_sink_opts *so, ifs_ds_join_result *res, char *err,
                size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (!instructions || !gens || n < 1 || !out) {
        snprintf(err, errlen, "join: needs an instruction set, generations and an output folder");
        return IFS_DS_EARG;
    }
    instr_set set = {0};
    ds_read_stats rs_i = {0}, rs_g = {0};
    char *const ins[] = {(char *)instructions};
    join_ctx j = {0};
    if (o) {
        j.model = o->model;
        j.variant = o->variant;
        j.output_field = o->output_field;
    }
    j.res = res;
    int rc = ds_read_records(ins, 1, load_one, &set, &rs_i, err, errlen);
    res->instr_rejected = rs_i.rejected_total;
    res->instr_no_fields = (uint64_t)set.no_fields;
    res->instr_bad_type = (uint64_t)set.bad_type;
    res->instr_dup_id = (uint64_t)set.dup_id;
    res->instructions = set.n;
    if (rc) {
        char e2[600];
        snprintf(e2, sizeof e2, "instruction set: %s", rc == IFS_DS_ENOMEM ? "out of memory" : err);
        snprintf(err, errlen, "%s", e2);
        set_free(&set);
        return rc == IFS_DS_ENOMEM ? rc : IFS_DS_EIO;
    }
    j.set = &set;
    j.sink = ds_sink_open(out, so, err, errlen);
    if (!j.sink || ds_sink_begin(j.sink, j.model ? j.model : "joined", err, errlen)) {
        ds_sink_free(j.sink);
        set_free(&set);
        return IFS_DS_EIO;
    }
    rc = ds_read_records(gens, n, join_one, &j, &rs_g, err, errlen);
    res->rejected_lines = rs_g.rejected_total;
    if (rc) {
        if (j.err[0])
            snprintf(err, errlen, "%s", j.err);
        else if (rc == IFS_DS_ENOMEM)
            snprintf(err, errlen, "out of memory");
        rc = rc == IFS_DS_ENOMEM ? rc : IFS_DS_EIO;
    }
    for (size_t i = 0; i < set.n; i++)
        res->without_generation += !set.recs[i].seen;
    if (!rc) {
        ds_buf extra = {0};
        ds_buf_printf(&extra,
                      "\"join\":{\"instructions\":%zu,\"joined\":%llu,\"unknown_id\":%llu,"
                      "\"duplicate\":%llu,\"no_output\":%llu,\"no_model\":%llu,"
                      "\"instructions_without_generation\":%llu,",
                      set.n, (unsigned long long)res->joined, (unsigned long long)res->unknown_id,
                      (unsigned long long)res->duplicate, (unsigned long long)res->no_output,
                      (unsigned long long)res->no_model,
                      (unsigned long long)res->without_generation);
        ds_read_stats_json(&rs_g, &extra);
        ds_buf_puts(&extra, "}");
        if (extra.oom) {
            snprintf(err, errlen, "out of memory");
            rc = IFS_DS_ENOMEM;
        } else if (ds_sink_finish(j.sink, extra.p, err, errlen)) {
            rc = IFS_DS_EIO;
        }
        ds_buf_free(&extra);
    }
    ds_buf_free(&j.rec);
    ds_buf_free(&j.id);
    ds_set_free(&j.pairs);
    ds_sink_free(j.sink);
    set_free(&set);
    return rc;
}
