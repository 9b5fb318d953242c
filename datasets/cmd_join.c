/*
 * cmd_join.c - `ifscore join INSTRUCTIONS GENERATIONS... --out DIR`: merges a
 * generation stack's outputs (JSONL lines {id, output}) back with the
 * instruction set's metadata into scoring shards {id, model, instruction,
 * instruction_type, response, instruction_id, source_id, prompt_variant}.
 *
 * The instruction set is held in memory (a few thousand records: the paper's
 * has 7,340); generations are streamed. Every generation line is joined or
 * counted under a reason; instructions that got no generation are counted
 * too, so a partial run shows up.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"
#include "ifs_cli.h"

typedef struct {
    char *id, *instruction, *type, *source_id;
    char *full, *isrc;   /* full_instruction (partial ones), instruction_source */
    int seen;
} instr_rec;

typedef struct {
    instr_rec *recs;
    size_t n, cap;
    size_t *slot;        /* hash table: index + 1, 0 = empty */
    size_t slots;
    int bad_type, dup_id, no_fields;
} instr_set;

typedef struct {
    instr_set *set;
    ds_sink *sink;
    const char *model, *variant, *output_field;
    ds_buf rec, id;
    ds_set pairs;        /* (model, id) already joined */
    uint64_t joined, unknown_id, duplicate, no_output, no_model;
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
    static const char *const names[] = { "output", "response", "completion", "generation",
                                         "text", NULL };
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
        j->unknown_id++;
        return 0;
    }
    const char *out = output_text(j, obj, &ol);
    if (!out) {
        j->no_output++;
        return 0;
    }
    const char *model = j->model;
    if (model)
        ml = strlen(model);
    else if (!(model = ds_get_str(obj, "model", &ml)) &&
             !(model = ds_get_str(obj, "generator", &ml))) {
        j->no_model++;
        return 0;
    }
    ds_buf_reset(&j->id);
    ds_buf_put(&j->id, model, ml);
    ds_buf_put(&j->id, "/", 1);
    ds_buf_put(&j->id, id, idl);
    int dup = ds_set_add(&j->pairs, ifs_ds_key(0, "join-pair", j->id.p, j->id.n));
    if (dup < 0)
        return IFS_DS_ENOMEM;
    if (dup) {
        j->duplicate++;
        return 0;
    }
    r->seen = 1;
    ds_buf *b = &j->rec;
    ds_buf_reset(b);
    ds_buf_puts(b, "{");
    ds_buf_kv_str(b, "id", j->id.p, j->id.n);
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
    int rc = ds_sink_line(j->sink, b->p, b->n, j->err, sizeof j->err);
    if (!rc)
        j->joined++;
    return rc;
}

static void usage(FILE *f)
{
    fputs("usage: ifscore join INSTRUCTIONS GENERATIONS... --out DIR [options]\n"
          "\n"
          "INSTRUCTIONS is the instruction set (a shard, folder of shards or manifest'd\n"
          "folder from build-instructions); GENERATIONS are JSONL files of one line per\n"
          "generation, {\"id\": <instruction id>, \"output\": \"...\"} (also read: response,\n"
          "completion, generation, text). Writes scoring shards\n"
          "{id: <model>/<instruction id>, model, instruction, instruction_type, response,\n"
          " instruction_id, source_id, full_instruction (partial ones), instruction_source,\n"
          " prompt_variant} with a manifest: instruction is what the model was given.\n"
          "\n"
          "options:\n"
          "  -o, --out DIR          output folder\n"
          "  -m, --model NAME       model of every generation (default: each line's\n"
          "                         \"model\" or \"generator\")\n"
          "      --variant V        prompt variant to record (A, B, C, short, or any label)\n"
          "      --output-field F   the generation's text field (default: see above)\n"
          "      --shard-records N  records per shard\n"
          "  -h, --help\n"
          "\n"
          "Exit: 0 ok; 1 failure; 2 usage; 3 some generations could not be joined or\n"
          "some instructions got none.\n",
          f);
}

int ifs_cmd_join(int argc, char **argv)
{
    enum { O_VARIANT = 256, O_FIELD, O_SREC };
    static const struct option opts[] = {
        { "out", required_argument, 0, 'o' },
        { "model", required_argument, 0, 'm' },
        { "variant", required_argument, 0, O_VARIANT },
        { "output-field", required_argument, 0, O_FIELD },
        { "shard-records", required_argument, 0, O_SREC },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    join_ctx j = { 0 };
    ds_sink_opts so = { 0 };
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'm': j.model = optarg; break;
        case O_VARIANT: j.variant = optarg; break;
        case O_FIELD: j.output_field = optarg; break;
        case O_SREC:
            if (ds_parse_size(optarg, &so.max_records) || !so.max_records) {
                fprintf(stderr, "ifscore join: --shard-records wants N > 0\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (argc - optind < 2 || !out) {
        fprintf(stderr, "ifscore join: needs INSTRUCTIONS, GENERATIONS... and --out DIR\n");
        return IFS_EXIT_USAGE;
    }
    instr_set set = { 0 };
    ds_read_stats rs_i = { 0 }, rs_g = { 0 };
    char err[512];
    int exit_code = IFS_EXIT_OK;
    int rc = ds_read_records(argv + optind, 1, load_one, &set, &rs_i, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ifscore join: instruction set: %s\n",
                rc == IFS_DS_ENOMEM ? "out of memory" : err);
        set_free(&set);
        return IFS_EXIT_FAIL;
    }
    j.set = &set;
    j.sink = ds_sink_open(out, &so, err, sizeof err);
    if (!j.sink || ds_sink_begin(j.sink, j.model ? j.model : "joined", err, sizeof err)) {
        fprintf(stderr, "ifscore join: %s\n", err);
        ds_sink_free(j.sink);
        set_free(&set);
        return IFS_EXIT_FAIL;
    }
    rc = ds_read_records(argv + optind + 1, argc - optind - 1, join_one, &j, &rs_g, err,
                         sizeof err);
    if (rc) {
        fprintf(stderr, "ifscore join: %s\n", j.err[0] ? j.err : rc == IFS_DS_ENOMEM ? "out of memory" : err);
        exit_code = IFS_EXIT_FAIL;
    }
    uint64_t missing = 0;
    for (size_t i = 0; i < set.n; i++)
        missing += !set.recs[i].seen;
    if (exit_code == IFS_EXIT_OK) {
        ds_buf extra = { 0 };
        ds_buf_printf(&extra,
                      "\"join\":{\"instructions\":%zu,\"joined\":%llu,\"unknown_id\":%llu,"
                      "\"duplicate\":%llu,\"no_output\":%llu,\"no_model\":%llu,"
                      "\"instructions_without_generation\":%llu,",
                      set.n, (unsigned long long)j.joined, (unsigned long long)j.unknown_id,
                      (unsigned long long)j.duplicate, (unsigned long long)j.no_output,
                      (unsigned long long)j.no_model, (unsigned long long)missing);
        ds_read_stats_json(&rs_g, &extra);
        ds_buf_puts(&extra, "}");
        if (ds_sink_finish(j.sink, extra.p, err, sizeof err)) {
            fprintf(stderr, "ifscore join: %s\n", err);
            exit_code = IFS_EXIT_FAIL;
        }
        ds_buf_free(&extra);
    }
    fprintf(stderr,
            "join: %zu instructions, %llu generations joined; %llu unknown id, %llu duplicate, "
            "%llu without output, %llu without model; %llu instructions got no generation; "
            "%llu generation lines rejected; instruction set: %d without id/instruction, "
            "%d bad instruction_type, %d duplicate ids\n",
            set.n, (unsigned long long)j.joined, (unsigned long long)j.unknown_id,
            (unsigned long long)j.duplicate, (unsigned long long)j.no_output,
            (unsigned long long)j.no_model, (unsigned long long)missing,
            (unsigned long long)rs_g.rejected_total, set.no_fields, set.bad_type, set.dup_id);
    if (exit_code == IFS_EXIT_OK &&
        (j.unknown_id || j.duplicate || j.no_output || j.no_model || missing ||
         rs_g.rejected_total || rs_i.rejected_total || set.no_fields || set.bad_type ||
         set.dup_id))
        exit_code = IFS_EXIT_DATA;
    ds_buf_free(&j.rec);
    ds_buf_free(&j.id);
    ds_set_free(&j.pairs);
    ds_sink_free(j.sink);
    set_free(&set);
    return exit_code;
}
