/*
 * run.c - the data-set commands as library calls (ifs_ds.h, "the commands
 * as library calls"): import, build-instructions, build-responses and their
 * manifests, --measure-cuts, prompts and pack. The command line only parses
 * options into the structs these take and prints what they return; what a
 * run did goes into the manifest here, so a set built through the API and
 * one built by `ifscore` carry the same record of themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"
#include "ifs_shard.h"

static int oom(char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory");
    return IFS_DS_ENOMEM;
}

/* ---- import --------------------------------------------------------------------- */

int ifs_ds_import(const ifs_ds_import_opts *o, const ifs_ds_sink_opts *so, char *const *inputs,
                  int n, const char *out, void (*on_error)(const char *, void *), void *user,
                  ifs_ds_import_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (!o || !out || !inputs || n < 1) {
        snprintf(err, errlen, "import: needs options, inputs and an output folder");
        return IFS_DS_EARG;
    }
    ds_importer *im = ds_importer_create(o, err, errlen);
    if (!im)
        return IFS_DS_EARG;
    char **paths = ds_list_inputs(inputs, n, err, errlen);
    if (!paths) {
        ds_importer_free(im);
        return IFS_DS_EIO;
    }
    ds_sink *sink = ds_sink_open(out, so, err, errlen);
    if (!sink) {
        ds_paths_free(paths);
        ds_importer_free(im);
        return IFS_DS_EIO;
    }
    int rc = 0;
    ds_buf errors = {0};
    char e2[512];
    for (size_t i = 0; paths[i]; i++) {
        int r = ds_import_file(im, paths[i], sink, e2, sizeof e2);
        if (!r)
            continue;
        if (ds_importer_stats(im)->output_error || r == IFS_DS_ENOMEM) {
            snprintf(err, errlen, "%s", e2);
            rc = r == IFS_DS_ENOMEM ? r : IFS_DS_EIO;
            break;
        }
        if (on_error)
            on_error(e2, user);
        ds_buf_puts(&errors, errors.len ? "," : "");
        ds_buf_json_str(&errors, e2, strlen(e2));
        rc = IFS_DS_EFORMAT;
    }
    res->st = *ds_importer_stats(im);
    if (rc == 0 || rc == IFS_DS_EFORMAT) {
        ds_buf extra = {0};
        ds_buf_printf(&extra, "\"import\":{\"format\":\"%s\",", ifs_ds_format_name(o->format));
        if (o->instruction_source) {
            ds_buf_puts(&extra, "\"instruction_source\":");
            ds_buf_json_str(&extra, o->instruction_source, strlen(o->instruction_source));
            ds_buf_puts(&extra, ",");
        }
        ds_import_stats_json(&res->st, &extra);
        ds_buf_printf(&extra, ",\"errors\":[%s]}", errors.len ? errors.p : "");
        int r =
            extra.oom || errors.oom ? oom(err, errlen) : ds_sink_finish(sink, extra.p, err, errlen);
        if (r)
            rc = r == IFS_DS_ENOMEM ? r : IFS_DS_EIO;
        ds_buf_free(&extra);
    }
    res->shards = ds_sink_shards(sink);
    ds_buf_free(&errors);
    ds_sink_free(sink);
    ds_importer_free(im);
    ds_paths_free(paths);
    return rc;
}

/* ---- builds ----------------------------------------------------------------------- */

int ifs_ds_check_negative_mix(const char *spec, char *err, size_t errlen)
{
    double w[DS_OUT__COUNT];
    return ds_parse_negative_mix(spec, w, err, errlen);
}

static void json_str_or_null(ds_buf *b, const char *key, const char *v)
{
    ds_buf_printf(b, "\"%s\":", key);
    if (v)
        ds_buf_json_str(b, v, strlen(v));
    else
        ds_buf_puts(b, "null");
    ds_buf_puts(b, ",");
}

static void summary_instructions(const ds_build_stats *st, const ds_read_stats *rs, char *out,
                                 size_t cap)
{
    snprintf(out, cap,
             "%llu pairs -> %llu instructions (%llu full, %llu partial; %llu drawn partial but "
             "uncuttable, %llu duplicates, %llu without instruction); partial endings: "
             "connector %llu, open %llu; %llu input lines rejected",
             (unsigned long long)st->pairs, (unsigned long long)st->written,
             (unsigned long long)st->full, (unsigned long long)st->partial,
             (unsigned long long)st->uncuttable, (unsigned long long)st->duplicate,
             (unsigned long long)st->no_instruction,
             (unsigned long long)st->end_class[IFS_DS_END_CONNECTOR],
             (unsigned long long)st->end_class[IFS_DS_END_OPEN],
             (unsigned long long)rs->rejected_total);
}

static void summary_responses(const ds_build_stats *st, const ds_read_stats *rs, char *out,
                              size_t cap)
{
    snprintf(out, cap,
             "%llu pairs -> %llu records (R %llu, Ic %llu, Ic+R %llu; train %llu, validation "
             "%llu, test %llu); skipped: %llu not positive, %llu uncuttable, %llu empty "
             "response, %llu without instruction/response; %llu repeated Ic made Ic+R; %llu "
             "input lines rejected",
             (unsigned long long)st->pairs, (unsigned long long)st->written,
             (unsigned long long)st->kind[0], (unsigned long long)st->kind[1],
             (unsigned long long)st->kind[2], (unsigned long long)st->split[0],
             (unsigned long long)st->split[1], (unsigned long long)st->split[2],
             (unsigned long long)st->not_positive, (unsigned long long)st->uncuttable,
             (unsigned long long)st->empty_response,
             (unsigned long long)(st->no_instruction + st->no_response),
             (unsigned long long)st->ic_repeats, (unsigned long long)rs->rejected_total);
}

static void summary_planned(const ds_rset_stats *ps, const ds_read_stats *rs, char *out, size_t cap)
{
    uint64_t lab[2] = {0, 0}, sp[4] = {0, 0, 0, 0};
    for (int s = 0; s < 4; s++)
        for (int l = 0; l < 2; l++) {
            lab[l] += ps->label_split[l][s];
            sp[s] += ps->label_split[l][s];
        }
    snprintf(out, cap,
             "%llu pairs (%llu used) -> %llu records (label 1: %llu, label 0: %llu; train "
             "%llu, validation %llu, test %llu, holdout %llu); %llu instructions in %llu "
             "groups; dropped %llu duplicates, %llu with both labels, %llu over the group cap, "
             "%llu to balance; skipped %llu not positive, %llu terse-only too long, %llu "
             "echoing their instruction, %llu uncuttable, %llu empty; %llu input lines rejected",
             (unsigned long long)ps->pairs, (unsigned long long)ps->eligible,
             (unsigned long long)ps->written, (unsigned long long)lab[1],
             (unsigned long long)lab[0], (unsigned long long)sp[0], (unsigned long long)sp[1],
             (unsigned long long)sp[2], (unsigned long long)sp[3],
             (unsigned long long)ps->instructions, (unsigned long long)ps->groups,
             (unsigned long long)ps->duplicates, (unsigned long long)ps->label_conflicts,
             (unsigned long long)ps->group_capped, (unsigned long long)ps->balance_dropped,
             (unsigned long long)ps->not_positive, (unsigned long long)ps->terse_too_long,
             (unsigned long long)ps->echoes_instruction, (unsigned long long)ps->uncuttable,
             (unsigned long long)ps->empty_response, (unsigned long long)rs->rejected_total);
}

static int build(int which, const ifs_ds_build_opts *o, const ifs_ds_sink_opts *so,
                 char *const *inputs, int n, const char *out, ifs_ds_build_result *res, char *err,
                 size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (!o || !out || !inputs || n < 1) {
        snprintf(err, errlen, "build: needs options, inputs and an output folder");
        return IFS_DS_EARG;
    }
    if (which == 'r') {
        if (o->terse_models && !o->terse_max_words) {
            snprintf(err, errlen, "terse models need a terse word limit (--terse-max-words)");
            return IFS_DS_EARG;
        }
        if (o->planned && o->repeat_ic) {
            snprintf(err, errlen,
                     "--repeat-ic is the single-pass set's; the planned set "
                     "removes every duplicate");
            return IFS_DS_EARG;
        }
        if (o->planned && o->negative_mix &&
            ifs_ds_check_negative_mix(o->negative_mix, err, errlen))
            return IFS_DS_EARG;
    }
    ds_sink *sink;
    ds_read_stats rs;
    ds_builder *b = ds_build_run(which, which == 'i' ? "instructions" : "responses", o, so, out,
                                 inputs, n, &sink, &rs, err, errlen);
    if (!b)
        return IFS_DS_EIO;
    ds_buf x = {0};
    if (which == 'i') {
        ds_buf_printf(&x,
                      "\"instruction_set\":{\"seed\":%llu,\"cut_policy\":\"%s\","
                      "\"partial_share\":%g,\"dedupe\":%s,",
                      (unsigned long long)o->seed, ifs_ds_cut_policy_name(o->policy),
                      o->partial_share, o->dedupe ? "true" : "false");
    } else {
        ds_buf_printf(&x,
                      "\"response_set\":{\"seed\":%llu,\"cut_policy\":\"%s\","
                      "\"ic_share\":%g,\"repeat_ic\":%s,\"train\":%g,\"validation\":%g,",
                      (unsigned long long)o->seed, ifs_ds_cut_policy_name(o->policy), o->ic_share,
                      o->repeat_ic ? "true" : "false", o->train, o->validation);
        if (o->planned) {
            ds_buf_printf(&x,
                          "\"planned\":true,\"pairs\":%s,\"negatives\":%u,"
                          "\"terse_max_words\":%u,\"near_duplicates\":%g,"
                          "\"length_match\":%s,\"pool_size\":%u,\"max_per_group\":%u,",
                          o->pairs ? "true" : "false",
                          o->negatives ? o->negatives
                          : o->pairs   ? 2
                                       : 1,
                          o->terse_max_words, o->near_dup, o->length_match ? "true" : "false",
                          o->pool_size, o->max_per_group);
            json_str_or_null(&x, "negative_mix", o->negative_mix);
            json_str_or_null(&x, "terse_models", o->terse_models);
            json_str_or_null(&x, "holdout_source", o->holdout_sources);
        }
        json_str_or_null(&x, "positive_models", o->positive_models);
    }
    int rc = x.oom ? oom(err, errlen) : ds_build_finish(which, sink, b, &rs, &x, err, errlen);
    const ds_rset *rset = ds_builder_rset(b);
    const ds_build_stats *st = ds_builder_stats(b);
    if (rset) {
        const ds_rset_stats *ps = ds_rset_get_stats(rset);
        res->pairs = ps->pairs;
        res->written = ps->written;
        summary_planned(ps, &rs, res->summary, sizeof res->summary);
    } else {
        res->pairs = st->pairs;
        res->written = st->written;
        (which == 'i' ? summary_instructions : summary_responses)(st, &rs, res->summary,
                                                                  sizeof res->summary);
    }
    res->rejected_lines = rs.rejected_total;
    res->stream_errors = rs.stream_errors;
    ds_buf_free(&x);
    ds_builder_free(b);
    ds_sink_free(sink);
    return rc;
}

int ifs_ds_build_instructions(const ifs_ds_build_opts *o, const ifs_ds_sink_opts *so,
                              char *const *inputs, int n, const char *out, ifs_ds_build_result *res,
                              char *err, size_t errlen)
{
    return build('i', o, so, inputs, n, out, res, err, errlen);
}

int ifs_ds_build_responses(const ifs_ds_build_opts *o, const ifs_ds_sink_opts *so,
                           char *const *inputs, int n, const char *out, ifs_ds_build_result *res,
                           char *err, size_t errlen)
{
    return build('r', o, so, inputs, n, out, res, err, errlen);
}

static int measure_one(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                       uint64_t line, void *user)
{
    (void)raw;
    (void)raw_len;
    (void)shard;
    (void)line;
    size_t il;
    const char *instr = ds_get_str(obj, "instruction", &il);
    return instr ? ds_cut_measure_add(user, instr, il) : 0;
}

int ifs_ds_measure_cuts(char *const *inputs, int n, char **json, uint64_t *rejected_lines,
                        char *err, size_t errlen)
{
    *json = NULL;
    ds_cut_measure m = {0};
    ds_read_stats rs = {0};
    int rc = ds_read_records(inputs, n, measure_one, &m, &rs, err, errlen);
    if (rejected_lines)
        *rejected_lines = rs.rejected_total;
    if (rc) {
        ds_set_free(&m.seen);
        if (rc == IFS_DS_ENOMEM)
            return oom(err, errlen);
        return IFS_DS_EIO;
    }
    ds_buf b = {0};
    ds_cut_measure_json(&m, &b);
    ds_set_free(&m.seen);
    if (b.oom) {
        ds_buf_free(&b);
        return oom(err, errlen);
    }
    *json = b.p; /* ownership passes to the caller */
    return 0;
}

/* ---- prompts ---------------------------------------------------------------------- */

typedef struct {
    ifs_shard_writer *w;
    ifs_ds_prompt variant;
    char *pbuf; /* the rendered prompt; grows, never shrinks */
    size_t pcap;
    ds_buf line;
    ifs_ds_prompts_result *res;
} prompts_ctx;

static int prompt_one(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                      uint64_t line, void *user)
{
    (void)raw;
    (void)raw_len;
    (void)shard;
    (void)line;
    prompts_ctx *p = user;
    size_t il, idl;
    const char *instr = ds_get_str(obj, "instruction", &il);
    const char *id = ds_get_str(obj, "id", &idl);
    if (!instr || !id) {
        p->res->missing++;
        return 0;
    }
    size_t need = ifs_ds_prompt_render(p->variant, instr, il, NULL, 0);
    if (p->pcap < need + 1) {
        char *np = realloc(p->pbuf, need + 1);
        if (!np)
            return IFS_DS_ENOMEM;
        p->pbuf = np;
        p->pcap = need + 1;
    }
    size_t plen = ifs_ds_prompt_render(p->variant, instr, il, p->pbuf, p->pcap);
    ds_buf_reset(&p->line);
    ds_buf_puts(&p->line, "{");
    ds_buf_kv_str(&p->line, "id", id, idl);
    ds_buf_kv_str(&p->line, "prompt", p->pbuf, plen);
    ds_buf_puts(&p->line, "}");
    if (p->line.oom)
        return IFS_DS_ENOMEM;
    if (ifs_shard_writer_line(p->w, p->line.p, p->line.len))
        return IFS_DS_EIO;
    p->res->written++;
    return 0;
}

int ifs_ds_prompts(char *const *inputs, int n, ifs_ds_prompt variant, const char *out,
                   ifs_ds_prompts_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    prompts_ctx p = {.variant = variant, .res = res};
    if (ifs_shard_writer_open(out ? out : "-", NULL, &p.w, err, errlen))
        return IFS_DS_EIO;
    ds_read_stats rs = {0};
    char e2[512] = "";
    int rc = ds_read_records(inputs, n, prompt_one, &p, &rs, e2, sizeof e2);
    res->rejected_lines = rs.rejected_total;
    res->stream_errors = rs.stream_errors;
    if (rc) {
        snprintf(err, errlen, "%s",
                 rc == IFS_DS_ENOMEM ? "out of memory"
                 : e2[0]             ? e2
                                     : "write failed");
        rc = rc == IFS_DS_ENOMEM ? rc : IFS_DS_EIO;
    } else if (ifs_shard_writer_close(p.w, NULL, err, errlen)) {
        rc = IFS_DS_EIO;
    }
    ifs_shard_writer_free(p.w);
    free(p.pbuf);
    ds_buf_free(&p.line);
    return rc;
}

/* ---- pack ------------------------------------------------------------------------- */

typedef struct {
    ds_sink *sink;
    char err[512];
} pack_ctx;

static int pack_one(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                    uint64_t line, void *user)
{
    (void)obj;
    (void)shard;
    (void)line;
    pack_ctx *p = user;
    return ds_sink_line(p->sink, raw, raw_len, p->err, sizeof p->err);
}

int ifs_ds_pack(char *const *inputs, int n, const char *out, const char *stem,
                const ifs_ds_sink_opts *so, ifs_ds_pack_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    pack_ctx p = {0};
    p.sink = ds_sink_open(out, so, err, errlen);
    if (!p.sink || ds_sink_begin(p.sink, stem ? stem : "shard", err, errlen)) {
        ds_sink_free(p.sink);
        return IFS_DS_EIO;
    }
    ds_read_stats rs = {0};
    int rc = ds_read_records(inputs, n, pack_one, &p, &rs, err, errlen);
    res->lines = rs.lines;
    res->rejected_lines = rs.rejected_total;
    res->stream_errors = rs.stream_errors;
    if (rc) {
        if (p.err[0])
            snprintf(err, errlen, "%s", p.err);
        ds_sink_free(p.sink);
        return rc == IFS_DS_ENOMEM ? rc : IFS_DS_EIO;
    }
    ds_buf extra = {0};
    ds_buf_puts(&extra, "\"pack\":{");
    ds_read_stats_json(&rs, &extra);
    ds_buf_puts(&extra, "}");
    rc = extra.oom ? oom(err, errlen) : ds_sink_finish(p.sink, extra.p, err, errlen);
    res->records = ds_sink_records(p.sink);
    res->shards = ds_sink_shards(p.sink);
    ds_buf_free(&extra);
    ds_sink_free(p.sink);
    return rc ? (rc == IFS_DS_ENOMEM ? rc : IFS_DS_EIO) : 0;
}
