/*
 * builders.c - the instruction set and the response set from pair records.
 *
 * Instruction set: each distinct instruction I becomes one record, full (I)
 * or partial (Ip, cut by the policy), about half each. Both choices are keyed
 * by (seed, the instruction's text), so the set is the same whatever order or
 * sharding the pairs come in, and a seed reproduces it byte for byte. An
 * instruction drawn partial that no boundary of the policy accepts (one word,
 * no spaces, CJK) stays full and is counted as `uncuttable`.
 *
 * Response set: each pair (I, R) whose model passes the positive filter
 * gives exactly two records, so the set is balanced by construction:
 *   R          label 1
 *   Ic or Ic+R label 0 (Ic with probability ic_share)
 * where Ic is the continuation after a cut of I keyed by the pair's id (pairs
 * sharing an instruction get different cuts), and Ic+R joins them with a
 * blank line, a newline or a space (keyed), as base models do. The split is
 * keyed by the instruction's text: every record that comes from one
 * instruction (its R, its Ic, and those of every other pair with the same
 * instruction, as in AlpacaEval where 805 instructions have ~230 responses
 * each) lands in one split, so nothing of a pair, nor of its instruction,
 * leaks across splits. Pairs whose instruction cannot be cut are skipped
 * (counted), since they could not give a negative.
 *
 * Ic depends only on the instruction and the cut, so a corpus where each
 * instruction has hundreds of responses (AlpacaEval) would repeat the same
 * few Ic texts hundreds of times. Unless repeat_ic is set, an Ic whose exact
 * text was already written becomes Ic+R instead (always new, since R is),
 * which keeps the balance and leaves every Ic text once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

struct ds_builder {
    int which;
    ifs_ds_build_opts o;
    ds_sink *sink;
    ds_build_stats st;
    ds_set seen, ic_seen;
    ds_buf rec, tmp, id2, txt;
    ds_rset *rset; /* the planned response set, when asked for */
    char err[512];
};

ds_builder *ds_builder_create(int which, const ifs_ds_build_opts *o, ds_sink *sink, char *err,
                              size_t errlen)
{
    if ((which != 'i' && which != 'r') || !o || !sink) {
        snprintf(err, errlen, "bad builder arguments");
        return NULL;
    }
    ds_builder *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->which = which;
    b->o = *o;
    b->sink = sink;
    if (which == 'r' && o->planned && !(b->rset = ds_rset_create(o, err, errlen))) {
        free(b);
        return NULL;
    }
    return b;
}

void ds_builder_free(ds_builder *b)
{
    if (!b)
        return;
    ds_set_free(&b->seen);
    ds_set_free(&b->ic_seen);
    ds_buf_free(&b->rec);
    ds_buf_free(&b->tmp);
    ds_buf_free(&b->id2);
    ds_buf_free(&b->txt);
    ds_rset_free(b->rset);
    free(b);
}

const ds_build_stats *ds_builder_stats(const ds_builder *b)
{
    return &b->st;
}

const ds_rset *ds_builder_rset(const ds_builder *b)
{
    return b ? b->rset : NULL;
}

const char *ds_builder_error(const ds_builder *b)
{
    return b->err;
}

/* The pair's id: "id" as a string or exact integer, else "<shard>:<line>". */
static void pair_id(ds_builder *b, const cJSON *obj, const char *shard, uint64_t line)
{
    ds_buf_reset(&b->tmp);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (cJSON_IsString(v) && v->valuestring) {
        ds_buf_puts(&b->tmp, v->valuestring);
    } else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble) {
        ds_buf_printf(&b->tmp, "%lld", (long long)v->valuedouble);
    } else {
        const char *base = strrchr(shard, '/');
        ds_buf_printf(&b->tmp, "%s:%llu", base ? base + 1 : shard, (unsigned long long)line);
    }
}

static int put(ds_builder *b)
{
    if (b->rec.oom || b->txt.oom || b->id2.oom) {
        snprintf(b->err, sizeof b->err, "out of memory");
        return IFS_DS_ENOMEM;
    }
    int rc = ds_sink_line(b->sink, b->rec.p, b->rec.len, b->err, sizeof b->err);
    if (!rc)
        b->st.written++;
    return rc;
}

static int add_instruction(ds_builder *b, const cJSON *obj, const char *instr, size_t il,
                           const char *model)
{
    const ifs_ds_build_opts *o = &b->o;
    if (o->dedupe) {
        int r = ds_set_add(&b->seen, ifs_ds_key(0, "dedupe", instr, il));
        if (r < 0) {
            snprintf(b->err, sizeof b->err, "out of memory");
            return r;
        }
        if (r) {
            b->st.duplicate++;
            return 0;
        }
    }
    int partial = ifs_ds_unit(ifs_ds_key(o->seed, "type", instr, il)) < o->partial_share;
    ifs_ds_cut cut;
    if (partial &&
        ifs_ds_cut_pick(instr, il, o->policy, ifs_ds_key(o->seed, "cut", instr, il), &cut)) {
        partial = 0;
        b->st.uncuttable++;
    }
    ds_buf_reset(&b->id2);
    ds_buf_put(&b->id2, b->tmp.p, b->tmp.len); /* b->tmp holds the pair id */
    ds_buf_puts(&b->id2, partial ? "/Ip" : "/I");
    ds_buf *r = &b->rec;
    ds_buf_reset(r);
    ds_buf_puts(r, "{");
    ds_buf_kv_str(r, "id", b->id2.p, b->id2.len);
    if (partial) {
        ds_buf_kv_str(r, "instruction", instr + cut.ip_off, cut.ip_len);
        ds_buf_kv_str(r, "instruction_type", "partial", 7);
        ds_buf_kv_str(r, "continuation", instr + cut.ic_off, cut.ic_len);
        ds_buf_kv_str(r, "full_instruction", instr, il);
        ds_buf_kv_str(r, "cut_end", ifs_ds_end_name(cut.end), strlen(ifs_ds_end_name(cut.end)));
        b->st.partial++;
        b->st.end_class[cut.end]++;
    } else {
        ds_buf_kv_str(r, "instruction", instr, il);
        ds_buf_kv_str(r, "instruction_type", "full", 4);
        b->st.full++;
    }
    ds_buf_kv_str(r, "source_id", b->tmp.p, b->tmp.len);
    if (model)
        ds_buf_kv_str(r, "source_model", model, strlen(model));
    size_t sl;
    const char *isrc = ds_get_str(obj, "instruction_source", &sl);
    if (isrc)
        ds_buf_kv_str(r, "instruction_source", isrc, sl);
    ds_buf_puts(r, "}");
    return put(b);
}

static const char *const seps[3] = {"\n\n", "\n", " "};

static int add_responses(ds_builder *b, const char *instr, size_t il, const char *resp, size_t rl,
                         const char *model)
{
    const ifs_ds_build_opts *o = &b->o;
    if (!ds_models_match(o->positive_models, model)) {
        b->st.not_positive++;
        return 0;
    }
    if (!rl) {
        b->st.empty_response++;
        return 0;
    }
    const char *id = b->tmp.p;
    size_t idl = b->tmp.len;
    ifs_ds_cut cut;
    if (ifs_ds_cut_pick(instr, il, o->policy, ifs_ds_key(o->seed, "cut", id, idl), &cut)) {
        b->st.uncuttable++;
        return 0;
    }
    b->st.end_class[cut.end]++;
    ifs_ds_split sp =
        ifs_ds_split_of(ifs_ds_key(o->seed, "split", instr, il), o->train, o->validation);
    ifs_ds_kind neg = ifs_ds_unit(ifs_ds_key(o->seed, "kind", id, idl)) < o->ic_share
                          ? IFS_DS_KIND_IC
                          : IFS_DS_KIND_IC_R;
    if (neg == IFS_DS_KIND_IC && !o->repeat_ic) {
        int r = ds_set_add(&b->ic_seen, ifs_ds_key(0, "ic-text", instr + cut.ic_off, cut.ic_len));
        if (r < 0) {
            snprintf(b->err, sizeof b->err, "out of memory");
            return r;
        }
        if (r) {
            neg = IFS_DS_KIND_IC_R;
            b->st.ic_repeats++;
        }
    }
    for (int k = 0; k < 2; k++) {
        ifs_ds_kind kind = k == 0 ? IFS_DS_KIND_R : neg;
        const char *kname = ifs_ds_kind_name(kind);
        ds_buf_reset(&b->id2);
        ds_buf_put(&b->id2, id, idl);
        ds_buf_printf(&b->id2, "/%s", kname);
        ds_buf *t = &b->txt;
        ds_buf_reset(t);
        if (kind == IFS_DS_KIND_R) {
            ds_buf_put(t, resp, rl);
        } else {
            ds_buf_put(t, instr + cut.ic_off, cut.ic_len);
            if (kind == IFS_DS_KIND_IC_R) {
                ds_buf_puts(t, seps[ifs_ds_key(o->seed, "sep", id, idl) % 3]);
                ds_buf_put(t, resp, rl);
            }
        }
        ds_buf *r = &b->rec;
        ds_buf_reset(r);
        ds_buf_puts(r, "{");
        ds_buf_kv_str(r, "id", b->id2.p, b->id2.len);
        ds_buf_kv_str(r, "text", t->p, t->len);
        ds_buf_kv_int(r, "label", ifs_ds_kind_label(kind));
        ds_buf_kv_str(r, "source_id", id, idl);
        ds_buf_kv_str(r, "split", ifs_ds_split_name(sp), strlen(ifs_ds_split_name(sp)));
        ds_buf_kv_str(r, "kind", kname, strlen(kname));
        if (model)
            ds_buf_kv_str(r, "model", model, strlen(model));
        ds_buf_puts(r, "}");
        int rc = put(b);
        if (rc)
            return rc;
        b->st.kind[kind]++;
        b->st.split[sp]++;
    }
    return 0;
}

int ds_builder_add(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                   uint64_t line, void *user)
{
    (void)raw;
    (void)raw_len;
    ds_builder *b = user;
    b->st.pairs++;
    size_t il = 0, rl = 0;
    const char *instr = ds_get_str(obj, "instruction", &il);
    const char *resp = ds_get_str(obj, "response", &rl);
    const char *model = ds_get_str(obj, "model", NULL);
    if (!instr) {
        b->st.no_instruction++;
        return 0;
    }
    pair_id(b, obj, shard, line);
    if (b->which == 'i')
        return add_instruction(b, obj, instr, il, model);
    if (!resp) {
        b->st.no_response++;
        return 0;
    }
    return add_responses(b, instr, il, resp, rl, model);
}

void ds_build_stats_json(int which, const ds_build_stats *st, ds_buf *b)
{
    ds_buf_printf(b,
                  "\"pairs\":%llu,\"written\":%llu,\"uncuttable\":%llu,"
                  "\"skipped\":{\"no_instruction\":%llu",
                  (unsigned long long)st->pairs, (unsigned long long)st->written,
                  (unsigned long long)st->uncuttable, (unsigned long long)st->no_instruction);
    if (which == 'i')
        ds_buf_printf(b, ",\"duplicate\":%llu},\"full\":%llu,\"partial\":%llu",
                      (unsigned long long)st->duplicate, (unsigned long long)st->full,
                      (unsigned long long)st->partial);
    else
        ds_buf_printf(
            b,
            ",\"no_response\":%llu,\"empty_response\":%llu,\"not_positive\":%llu"
            "},\"ic_repeats_made_ic_plus_r\":%llu,\"kinds\":{\"R\":%llu,\"Ic\":%llu,\"Ic+R\":%llu},"
            "\"splits\":{\"train\":%llu,\"validation\":%llu,\"test\":%llu}",
            (unsigned long long)st->no_response, (unsigned long long)st->empty_response,
            (unsigned long long)st->not_positive, (unsigned long long)st->ic_repeats,
            (unsigned long long)st->kind[0], (unsigned long long)st->kind[1],
            (unsigned long long)st->kind[2], (unsigned long long)st->split[0],
            (unsigned long long)st->split[1], (unsigned long long)st->split[2]);
    ds_buf_puts(b, ",\"cut_end\":{");
    for (int e = 0; e < IFS_DS_END_COUNT; e++)
        ds_buf_printf(b, "%s\"%s\":%llu", e ? "," : "", ifs_ds_end_name((ifs_ds_end)e),
                      (unsigned long long)st->end_class[e]);
    ds_buf_puts(b, "}");
}

typedef struct {
    size_t n[IFS_DS_END_COUNT];
} class_counts;

static void count_class(const ifs_ds_cut *c, void *user)
{
    ((class_counts *)user)->n[c->end]++;
}

int ds_cut_measure_add(ds_cut_measure *m, const char *instr, size_t len)
{
    int r = ds_set_add(&m->seen, ifs_ds_key(0, "dedupe", instr, len));
    if (r)
        return r < 0 ? r : 0;
    m->instructions++;
    class_counts cc = {{0}};
    ifs_ds_cut_each(instr, len, count_class, &cc);
    for (int p = 0; p < 4; p++) {
        /* which classes the policy accepts, AUTO resolved per instruction */
        int acc[IFS_DS_END_COUNT] = {p == 0, p == 0, p != 2, 1};
        if (p == 3 && cc.n[IFS_DS_END_CONNECTOR])
            acc[IFS_DS_END_OPEN] = 0;
        if (p == 2)
            acc[IFS_DS_END_OPEN] = 0;
        size_t tot = 0;
        for (int e = 0; e < IFS_DS_END_COUNT; e++)
            tot += acc[e] ? cc.n[e] : 0;
        if (!tot) {
            m->uncuttable[p]++;
            continue;
        }
        for (int e = 0; e < IFS_DS_END_COUNT; e++)
            if (acc[e])
                m->expect[p][e] += (double)cc.n[e] / (double)tot;
    }
    return 0;
}

void ds_cut_measure_json(const ds_cut_measure *m, ds_buf *b)
{
    ds_buf_printf(b, "{\"instructions\":%llu", (unsigned long long)m->instructions);
    for (int p = 0; p < 4; p++) {
        uint64_t cut = m->instructions - m->uncuttable[p];
        ds_buf_printf(b, ",\"%s\":{\"uncuttable\":%llu",
                      ifs_ds_cut_policy_name((ifs_ds_cut_policy)p),
                      (unsigned long long)m->uncuttable[p]);
        for (int e = 0; e < IFS_DS_END_COUNT; e++)
            ds_buf_printf(b, ",\"%s\":%.4f", ifs_ds_end_name((ifs_ds_end)e),
                          cut ? m->expect[p][e] / (double)cut : 0.0);
        ds_buf_puts(b, "}");
    }
    ds_buf_puts(b, "}");
}

ds_builder *ds_build_run(int which, const char *stem, const ifs_ds_build_opts *bo,
                         const ifs_ds_sink_opts *so, const char *out, char *const *files, int n,
                         ds_sink **sink_out, ds_read_stats *rs, char *err, size_t errlen)
{
    *sink_out = NULL;
    memset(rs, 0, sizeof *rs);
    ds_sink *sink = ds_sink_open(out, so, err, errlen);
    if (!sink || ds_sink_begin(sink, stem, err, errlen)) {
        ds_sink_free(sink);
        return NULL;
    }
    ds_builder *b = ds_builder_create(which, bo, sink, err, errlen);
    int rc;
    if (!b)
        rc = IFS_DS_EARG; /* err says why */
    else if (b->rset)
        rc = ds_rset_run(b->rset, files, n, sink, rs, err, errlen);
    else
        rc = ds_read_records(files, n, ds_builder_add, b, rs, err, errlen);
    if (rc) {
        if (b && ds_builder_error(b)[0])
            snprintf(err, errlen, "%s", ds_builder_error(b));
        else if (!err[0])
            snprintf(err, errlen, "%s", ifs_ds_strerror(rc));
        ds_builder_free(b);
        ds_sink_free(sink);
        return NULL;
    }
    *sink_out = sink;
    return b;
}

int ds_build_finish(int which, ds_sink *sink, const ds_builder *b, const ds_read_stats *rs,
                    ds_buf *extra, char *err, size_t errlen)
{
    if (b->rset)
        ds_rset_stats_json(b->rset, extra);
    else
        ds_build_stats_json(which, ds_builder_stats(b), extra);
    ds_buf_puts(extra, ",");
    ds_read_stats_json(rs, extra);
    ds_buf_puts(extra, "}");
    return ds_sink_finish(sink, extra->p, err, errlen) ? IFS_DS_EIO : 0;
}
