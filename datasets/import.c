/*
 * import.c - chat data in common formats -> ifscore pair records, streamed.
 *
 * Every input file is read as bytes (plain or zstd), split into elements
 * (JSON array elements or JSONL lines) by jsplit, and each element becomes at
 * most one record:
 *   {"id","model","instruction","instruction_type":"full","response",
 *    "source":<file stem>,"source_index":<element number>,
 *    "instruction_source":<where the instruction comes from>, format extras}
 * or is counted under one skip reason. Every element is accounted for:
 *   elements == records + merged + sum(skipped)
 * where `merged` counts oasst messages folded into another record (the reply
 * of a first-turn prompt in the flat messages export).
 *
 * Text checks happen once on the element's raw bytes, before cJSON sees them
 * (see ../shared/docs/reliability.md): invalid UTF-8 (cJSON passes it
 * through) and NUL, raw or as \u0000 (cJSON would cut the string there).
 *
 * The flat oasst messages export scatters a conversation over many lines.
 * The official export lists each tree's messages together, so the importer
 * keeps one tree at a time (memory: one tree) and remembers only a 64-bit
 * hash per finished tree; a tree that shows up again later is counted as
 * tree_split rather than silently producing a wrong pair.
 *
 * instruction_source names the instruction's origin for the builders (which
 * hold out a source and report per source): "alpaca_eval:<dataset>" for
 * AlpacaEval, "hh" for Anthropic's HH transcripts, "oasst1", "sharegpt", the
 * file stem for Alpaca-style files; --instruction-source overrides it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ds_internal.h"
#include "ifs_utf8.h"

static const char *const format_names[IFS_DS_FMT_COUNT] = {
    "alpaca-eval", "alpaca", "oasst", "sharegpt", "json", "hh",
};

int ifs_ds_format_parse(const char *name)
{
    for (int i = 0; name && i < IFS_DS_FMT_COUNT; i++)
        if (!strcmp(name, format_names[i]))
            return i;
    if (name && !strcmp(name, "jsonl"))
        return IFS_DS_FMT_JSON;
    return -1;
}

const char *ifs_ds_format_name(ifs_ds_format f)
{
    return (int)f >= 0 && f < IFS_DS_FMT_COUNT ? format_names[f] : "?";
}

static const char *const skip_names[IFS_DS_SKIP__COUNT] = {
    "invalid_json",
    "not_object",
    "too_large",
    "invalid_utf8",
    "nul_in_text",
    "missing_instruction",
    "missing_response",
    "missing_model",
    "not_string",
    "bad_id",
    "bad_instruction_type",
    "lang_filtered",
    "deleted",
    "no_reply",
    "not_first_turn",
    "reply_not_best",
    "tree_split",
    "no_human_turn",
    "no_assistant_turn",
    "bad_transcript",
};

const char *ifs_ds_skip_name(ifs_ds_skip s)
{
    return (int)s >= 0 && s < IFS_DS_SKIP__COUNT ? skip_names[s] : "?";
}

/* ---- oasst messages: one tree at a time ---------------------------------- */
typedef struct {
    char *id, *parent, *text, *lang;
    double rank; /* HUGE for unranked */
    int bad;     /* deleted or failed review */
    uint64_t index;
} oa_msg;

typedef struct {
    uint64_t tree_hash;
    int active;
    oa_msg root;
    int have_root;
    oa_msg *replies;
    size_t n, cap;
} oa_tree;

struct ds_importer {
    ifs_ds_import_opts o;
    ifs_ds_import_stats st;
    char langs[16][16];
    size_t n_langs;
    ds_buf rec, scratch, idbuf;
    char stem[256];
    oa_tree tree;
    ds_set done; /* hashes of finished trees */
};

ds_importer *ds_importer_create(const ifs_ds_import_opts *o, char *err, size_t errlen)
{
    ds_importer *im = calloc(1, sizeof *im);
    if (!im) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    im->o = *o;
    if (o->langs && *o->langs && strcmp(o->langs, "all")) {
        const char *p = o->langs;
        while (*p) {
            size_t n = strcspn(p, ",");
            if (n == 0 || n >= sizeof im->langs[0] || im->n_langs == 16) {
                snprintf(err, errlen, "--lang: bad list '%s' (up to 16 codes, comma-separated)",
                         o->langs);
                free(im);
                return NULL;
            }
            memcpy(im->langs[im->n_langs], p, n);
            im->langs[im->n_langs++][n] = 0;
            p += n + (p[n] == ',');
        }
    }
    return im;
}

static void msg_free(oa_msg *m)
{
    free(m->id);
    free(m->parent);
    free(m->text);
    free(m->lang);
    memset(m, 0, sizeof *m);
}

static void tree_clear(oa_tree *t)
{
    msg_free(&t->root);
    for (size_t i = 0; i < t->n; i++)
        msg_free(&t->replies[i]);
    t->n = 0;
    t->have_root = 0;
    t->active = 0;
}

void ds_importer_free(ds_importer *im)
{
    if (!im)
        return;
    tree_clear(&im->tree);
    free(im->tree.replies);
    ds_set_free(&im->done);
    ds_buf_free(&im->rec);
    ds_buf_free(&im->scratch);
    ds_buf_free(&im->idbuf);
    free(im);
}

const ifs_ds_import_stats *ds_importer_stats(const ds_importer *im)
{
    return &im->st;
}

void ds_import_stats_json(const ifs_ds_import_stats *st, ds_buf *b)
{
    ds_buf_printf(b,
                  "\"files\":%llu,\"elements\":%llu,\"records\":%llu,\"merged\":%llu,"
                  "\"file_errors\":%llu,\"skipped\":{",
                  (unsigned long long)st->files, (unsigned long long)st->elements,
                  (unsigned long long)st->records, (unsigned long long)st->merged,
                  (unsigned long long)st->file_errors);
    int first = 1;
    for (int i = 0; i < IFS_DS_SKIP__COUNT; i++) {
        if (!st->skipped[i])
            continue;
        ds_buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", skip_names[i],
                      (unsigned long long)st->skipped[i]);
        first = 0;
    }
    ds_buf_puts(b, "}");
}

/* ---- field access --------------------------------------------------------- */

/* Follows a dotted path ("a.b.0.c": digits index arrays). NULL if absent. */
static const cJSON *at_path(const cJSON *obj, const char *path)
{
    const cJSON *cur = obj;
    char seg[128];
    while (cur && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof seg)
            return NULL;
        memcpy(seg, path, n);
        seg[n] = 0;
        path += n + (path[n] == '.');
        if (cJSON_IsArray(cur) && n && strspn(seg, "0123456789") == n)
            cur = cJSON_GetArrayItem(cur, atoi(seg));
        else if (cJSON_IsObject(cur))
            cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
        else
            return NULL;
    }
    return cur;
}

/* 1: string found; 0: absent or null; -1: another type. */
static int get_str(const cJSON *obj, const char *path, const char **s, size_t *n)
{
    const cJSON *v = at_path(obj, path);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring)
        return -1;
    *s = v->valuestring;
    *n = strlen(v->valuestring);
    return 1;
}

/* An id: a string as is, an exact integer as digits. 1 found, 0 absent, -1 bad. */
static int get_id(ds_importer *im, const cJSON *obj, const char *path, const char **s, size_t *n)
{
    const cJSON *v = at_path(obj, path);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsString(v) && v->valuestring) {
        *s = v->valuestring;
        *n = strlen(v->valuestring);
        return 1;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d != (double)(long long)d || d > 9007199254740992.0 || d < -9007199254740992.0)
            return -1;
        ds_buf_reset(&im->idbuf);
        ds_buf_printf(&im->idbuf, "%lld", (long long)d);
        *s = im->idbuf.p;
        *n = im->idbuf.len;
        return 1;
    }
    return -1;
}

static int lang_ok(const ds_importer *im, const char *lang)
{
    if (!im->n_langs)
        return 1;
    if (!lang)
        return 0;
    for (size_t i = 0; i < im->n_langs; i++)
        if (!strcasecmp(im->langs[i], lang))
            return 1;
    return 0;
}

typedef struct {
    const char *key, *val;
    size_t len;
} extra_kv;

/* Writes one pair record to the sink. isrc: the instruction's source (NULL:
 * the format has none to give); --instruction-source replaces it. */
static int emit(ds_importer *im, ds_sink *sink, const char *id, size_t id_len, const char *model,
                size_t model_len, const char *instr, size_t ilen, const char *type,
                const char *resp, size_t rlen, uint64_t index, const char *isrc, size_t isrc_len,
                const extra_kv *ex, size_t n_ex, char *err, size_t errlen)
{
    ds_buf *b = &im->rec;
    ds_buf_reset(b);
    ds_buf_puts(b, "{");
    ds_buf_kv_str(b, "id", id, id_len);
    ds_buf_kv_str(b, "model", model, model_len);
    ds_buf_kv_str(b, "instruction", instr, ilen);
    ds_buf_kv_str(b, "instruction_type", type, strlen(type));
    ds_buf_kv_str(b, "response", resp, rlen);
    ds_buf_kv_str(b, "source", im->stem, strlen(im->stem));
    ds_buf_kv_int(b, "source_index", (long long)index);
    if (im->o.instruction_source) {
        isrc = im->o.instruction_source;
        isrc_len = strlen(isrc);
    }
    if (isrc)
        ds_buf_kv_str(b, "instruction_source", isrc, isrc_len);
    for (size_t i = 0; i < n_ex; i++)
        if (ex[i].val)
            ds_buf_kv_str(b, ex[i].key, ex[i].val, ex[i].len);
    ds_buf_puts(b, "}");
    if (b->oom) {
        snprintf(err, errlen, "out of memory");
        return IFS_DS_ENOMEM;
    }
    int rc = ds_sink_line(sink, b->p, b->len, err, errlen);
    if (!rc)
        im->st.records++;
    else
        im->st.output_error = 1;
    return rc;
}

#define SKIP(reason) (im->st.skipped[(reason)]++, 0)

/* The id "<prefix>/<index>" in idbuf. */
static void index_id(ds_importer *im, const char *prefix, size_t plen, uint64_t index)
{
    ds_buf_reset(&im->idbuf);
    ds_buf_put(&im->idbuf, prefix, plen);
    ds_buf_printf(&im->idbuf, "/%llu", (unsigned long long)index);
}

/* ---- formats -------------------------------------------------------------- */

static int do_alpaca_eval(ds_importer *im, const cJSON *obj, uint64_t index, ds_sink *sink,
                          char *err, size_t errlen)
{
    const char *instr, *out, *gen, *ds = NULL;
    size_t il, ol, gl, dl = 0;
    int r = get_str(obj, "instruction", &instr, &il);
    if (r <= 0)
        return SKIP(r ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_INSTRUCTION);
    r = get_str(obj, "output", &out, &ol);
    if (r <= 0)
        return SKIP(r ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_RESPONSE);
    r = get_str(obj, "generator", &gen, &gl);
    if (r < 0)
        return SKIP(IFS_DS_SKIP_NOT_STRING);
    if (im->o.model) {
        gen = im->o.model;
        gl = strlen(gen);
    } else if (r == 0) {
        return SKIP(IFS_DS_SKIP_MISSING_MODEL);
    }
    if (get_str(obj, "dataset", &ds, &dl) <= 0)
        ds = NULL;
    /* scratch holds "alpaca_eval[:<dataset>]" */
    ds_buf_reset(&im->scratch);
    ds_buf_puts(&im->scratch, "alpaca_eval");
    if (ds) {
        ds_buf_puts(&im->scratch, ":");
        ds_buf_put(&im->scratch, ds, dl);
    }
    index_id(im, gen, gl, index);
    extra_kv ex[] = {{"dataset", ds, dl}};
    return emit(im, sink, im->idbuf.p, im->idbuf.len, gen, gl, instr, il, "full", out, ol, index,
                im->scratch.p, im->scratch.len, ex, 1, err, errlen);
}

/* Alpaca: instruction + ("\n\n" + input when non-empty). */
static int do_alpaca(ds_importer *im, const cJSON *obj, uint64_t index, ds_sink *sink, char *err,
                     size_t errlen)
{
    const char *instr, *in = NULL, *out;
    size_t il, inl = 0, ol;
    int r = get_str(obj, "instruction", &instr, &il);
    if (r <= 0)
        return SKIP(r ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_INSTRUCTION);
    r = get_str(obj, "input", &in, &inl);
    if (r < 0)
        return SKIP(IFS_DS_SKIP_NOT_STRING);
    r = get_str(obj, "output", &out, &ol);
    if (r <= 0)
        return SKIP(r ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_RESPONSE);
    ds_buf_reset(&im->scratch);
    ds_buf_put(&im->scratch, instr, il);
    if (in && inl) {
        ds_buf_put(&im->scratch, "\n\n", 2);
        ds_buf_put(&im->scratch, in, inl);
    }
    const char *model = im->o.model ? im->o.model : im->stem;
    index_id(im, im->stem, strlen(im->stem), index);
    return emit(im, sink, im->idbuf.p, im->idbuf.len, model, strlen(model), im->scratch.p,
                im->scratch.len, "full", out, ol, index, im->stem, strlen(im->stem), NULL, 0, err,
                errlen);
}

static int do_json(ds_importer *im, const cJSON *obj, uint64_t index, ds_sink *sink, char *err,
                   size_t errlen)
{
    const ifs_ds_import_opts *o = &im->o;
    const char *instr, *resp, *model, *type = "full", *in = NULL, *id;
    size_t il, rl, ml, tl, inl = 0, idl;
    int r = get_str(obj, o->f_instruction ? o->f_instruction : "instruction", &instr, &il);
    if (r <= 0)
        return SKIP(r ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_INSTRUCTION);
    r = get_str(obj, o->f_response ? o->f_response : "response", &resp, &rl);
    if (r <= 0)
        return SKIP(r ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_RESPONSE);
    if (o->model) {
        model = o->model;
        ml = strlen(model);
    } else {
        r = get_str(obj, o->f_model ? o->f_model : "model", &model, &ml);
        if (r <= 0)
            return SKIP(r ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_MODEL);
    }
    const char *t;
    r = get_str(obj, o->f_type ? o->f_type : "instruction_type", &t, &tl);
    if (r < 0 || (r > 0 && strcmp(t, "partial") && strcmp(t, "full")))
        return SKIP(IFS_DS_SKIP_BAD_INSTRUCTION_TYPE);
    if (r > 0)
        type = t;
    if (o->f_input) {
        r = get_str(obj, o->f_input, &in, &inl);
        if (r < 0)
            return SKIP(IFS_DS_SKIP_NOT_STRING);
    }
    if (in && inl) {
        ds_buf_reset(&im->scratch);
        ds_buf_put(&im->scratch, instr, il);
        ds_buf_put(&im->scratch, "\n\n", 2);
        ds_buf_put(&im->scratch, in, inl);
        instr = im->scratch.p;
        il = im->scratch.len;
    }
    const char *isrc = NULL;
    size_t isl = 0;
    r = get_str(obj, o->f_source ? o->f_source : "instruction_source", &isrc, &isl);
    if (r < 0)
        return SKIP(IFS_DS_SKIP_NOT_STRING);
    if (r == 0)
        isrc = NULL;
    r = get_id(im, obj, o->f_id ? o->f_id : "id", &id, &idl);
    if (r < 0)
        return SKIP(IFS_DS_SKIP_BAD_ID);
    if (r == 0) {
        index_id(im, im->stem, strlen(im->stem), index);
        id = im->idbuf.p;
        idl = im->idbuf.len;
    }
    return emit(im, sink, id, idl, model, ml, instr, il, type, resp, rl, index, isrc, isl, NULL, 0,
                err, errlen);
}

static int is_role(const char *r, const char *const *names)
{
    for (; *names; names++)
        if (!strcasecmp(r, *names))
            return 1;
    return 0;
}

static int do_sharegpt(ds_importer *im, const cJSON *obj, uint64_t index, ds_sink *sink, char *err,
                       size_t errlen)
{
    static const char *const conv_keys[] = {"conversations", "conversation", "messages", NULL};
    static const char *const human[] = {"human", "user", "prompter", NULL};
    static const char *const bot[] = {"gpt",  "assistant", "chatgpt", "bard",
                                      "bing", "model",     "bot",     NULL};
    const cJSON *conv = NULL;
    for (int i = 0; conv_keys[i] && !conv; i++) {
        conv = cJSON_GetObjectItemCaseSensitive(obj, conv_keys[i]);
        if (conv && !cJSON_IsArray(conv))
            return SKIP(IFS_DS_SKIP_NOT_STRING);
    }
    if (!conv)
        return SKIP(IFS_DS_SKIP_MISSING_INSTRUCTION);
    const char *turn_text[2] = {0};
    size_t turn_len[2] = {0};
    int stage = 0; /* 0: want human, 1: want assistant */
    const cJSON *t;
    cJSON_ArrayForEach(t, conv)
    {
        const char *role = NULL, *text = NULL;
        size_t rl = 0, tl = 0;
        int r1 = get_str(t, "from", &role, &rl);
        if (r1 == 0)
            r1 = get_str(t, "role", &role, &rl);
        int r2 = get_str(t, "value", &text, &tl);
        if (r2 == 0)
            r2 = get_str(t, "content", &text, &tl);
        if (r1 < 0 || r2 < 0 || !cJSON_IsObject(t))
            return SKIP(IFS_DS_SKIP_NOT_STRING);
        if (r1 == 0)
            return SKIP(stage ? IFS_DS_SKIP_NO_ASSISTANT_TURN : IFS_DS_SKIP_NO_HUMAN_TURN);
        if (stage == 0 && !strcasecmp(role, "system"))
            continue;
        if (stage == 0) {
            if (!is_role(role, human) || r2 == 0)
                return SKIP(IFS_DS_SKIP_NO_HUMAN_TURN);
            turn_text[0] = text;
            turn_len[0] = tl;
            stage = 1;
            continue;
        }
        if (!is_role(role, bot) || r2 == 0)
            return SKIP(IFS_DS_SKIP_NO_ASSISTANT_TURN);
        turn_text[1] = text;
        turn_len[1] = tl;
        stage = 2;
        break;
    }
    if (stage < 2)
        return SKIP(stage ? IFS_DS_SKIP_NO_ASSISTANT_TURN : IFS_DS_SKIP_NO_HUMAN_TURN);
    const char *model, *id;
    size_t ml, idl;
    if (im->o.model) {
        model = im->o.model;
        ml = strlen(model);
    } else if (get_str(obj, "model", &model, &ml) <= 0) {
        model = im->stem;
        ml = strlen(model);
    }
    int r = get_id(im, obj, "id", &id, &idl);
    if (r < 0)
        return SKIP(IFS_DS_SKIP_BAD_ID);
    if (r == 0) {
        index_id(im, im->stem, strlen(im->stem), index);
        id = im->idbuf.p;
        idl = im->idbuf.len;
    }
    return emit(im, sink, id, idl, model, ml, turn_text[0], turn_len[0], "full", turn_text[1],
                turn_len[1], index, "sharegpt", 8, NULL, 0, err, errlen);
}

/* ---- Anthropic HH transcripts -------------------------------------------- */

static int hh_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* The first occurrence of needle in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *needle)
{
    size_t k = strlen(needle);
    for (; p && p <= end && (size_t)(end - p) >= k; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) - k + 1);
        if (!p)
            return NULL;
        if (!memcmp(p, needle, k))
            return p;
    }
    return NULL;
}

/* A turn label where a turn's own text should be: at its start or after a
 * line break. HH holds such transcripts (the reply "Human: Do you think...",
 * labels out of step with the text); their first reply is no assistant's. */
static int has_label(const char *p, size_t n)
{
    static const char *const labels[] = {"Human:", "Assistant:"};
    for (int i = 0; i < 2; i++) {
        size_t k = strlen(labels[i]);
        if (n >= k && !memcmp(p, labels[i], k))
            return 1;
        const char *end = p + n;
        for (const char *q = p; (q = find(q, end, labels[i])) != NULL; q++)
            if (q > p && q[-1] == '\n')
                return 1;
    }
    return 0;
}

int ds_hh_first_exchange(const char *t, size_t n, ds_hh_exchange *x)
{
    const char *end = t + n, *p = t;
    memset(x, 0, sizeof *x);
    while (p < end && hh_space(*p))
        p++;
    if ((size_t)(end - p) < 6 || memcmp(p, "Human:", 6))
        return IFS_DS_SKIP_NO_HUMAN_TURN;
    p += 6;
    const char *a = find(p, end, "\n\nAssistant:");
    const char *h2 = find(p, end, "\n\nHuman:");
    if (!a || (h2 && h2 < a))
        return IFS_DS_SKIP_NO_ASSISTANT_TURN;
    const char *hs = p, *he = a;
    while (hs < he && hh_space(*hs))
        hs++;
    while (he > hs && hh_space(he[-1]))
        he--;
    const char *rs = a + strlen("\n\nAssistant:");
    const char *re = find(rs, end, "\n\nHuman:");
    const char *a2 = find(rs, end, "\n\nAssistant:");
    if (!re || (a2 && a2 < re))
        re = a2 ? a2 : end;
    while (rs < re && hh_space(*rs))
        rs++;
    while (re > rs && hh_space(re[-1]))
        re--;
    x->human_off = (size_t)(hs - t);
    x->human_len = (size_t)(he - hs);
    x->reply_off = (size_t)(rs - t);
    x->reply_len = (size_t)(re - rs);
    if (!x->human_len)
        return IFS_DS_SKIP_MISSING_INSTRUCTION;
    if (has_label(t + x->human_off, x->human_len) || has_label(t + x->reply_off, x->reply_len))
        return IFS_DS_SKIP_BAD_TRANSCRIPT;
    return IFS_DS_SKIP__COUNT;
}

/* {"chosen": "\n\nHuman: ...\n\nAssistant: ...", "rejected": ...}: the first
 * human turn and the assistant's reply to it, from `chosen` (or the
 * transcript field given with --map transcript=PATH). */
static int do_hh(ds_importer *im, const cJSON *obj, uint64_t index, ds_sink *sink, char *err,
                 size_t errlen)
{
    const char *t;
    size_t tl;
    int r = get_str(obj, im->o.f_transcript ? im->o.f_transcript : "chosen", &t, &tl);
    if (r <= 0)
        return SKIP(r ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_INSTRUCTION);
    ds_hh_exchange x;
    int why = ds_hh_first_exchange(t, tl, &x);
    if (why != IFS_DS_SKIP__COUNT)
        return SKIP((ifs_ds_skip)why);
    const char *model = im->o.model ? im->o.model : im->stem;
    index_id(im, im->stem, strlen(im->stem), index);
    return emit(im, sink, im->idbuf.p, im->idbuf.len, model, strlen(model), t + x.human_off,
                x.human_len, "full", t + x.reply_off, x.reply_len, index, "hh", 2, NULL, 0, err,
                errlen);
}

/* oasst: deleted, or explicitly failed review. */
static int oa_bad(const cJSON *m)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "deleted")) ||
           cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "review_result"));
}

static double oa_rank(const cJSON *m)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "rank");
    return cJSON_IsNumber(r) ? r->valuedouble : 1e300;
}

static const char *str_or_null(const cJSON *m, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *oa_model(const ds_importer *im)
{
    return im->o.model ? im->o.model : "oasst1";
}

/* Trees export: {"message_tree_id", "prompt": {..., "replies": [...]}}. */
static int do_oasst_tree(ds_importer *im, const cJSON *obj, const cJSON *prompt, uint64_t index,
                         ds_sink *sink, char *err, size_t errlen)
{
    const char *text, *role;
    size_t tl, rl;
    if (get_str(prompt, "role", &role, &rl) > 0 && strcmp(role, "prompter"))
        return SKIP(IFS_DS_SKIP_NO_HUMAN_TURN);
    int r = get_str(prompt, "text", &text, &tl);
    if (r <= 0)
        return SKIP(r ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_INSTRUCTION);
    if (oa_bad(prompt))
        return SKIP(IFS_DS_SKIP_DELETED);
    const char *lang = str_or_null(prompt, "lang");
    if (!lang_ok(im, lang))
        return SKIP(IFS_DS_SKIP_LANG_FILTERED);
    const cJSON *replies = cJSON_GetObjectItemCaseSensitive(prompt, "replies");
    const cJSON *best = NULL, *rep;
    double best_rank = 0;
    cJSON_ArrayForEach(rep, replies)
    {
        const char *rr = str_or_null(rep, "role");
        if (!rr || strcmp(rr, "assistant") || !str_or_null(rep, "text") || oa_bad(rep))
            continue;
        const char *rlang = str_or_null(rep, "lang");
        if (rlang && !lang_ok(im, rlang))
            continue;
        double rank = oa_rank(rep);
        if (!best || rank < best_rank) {
            best = rep;
            best_rank = rank;
        }
    }
    if (!best)
        return SKIP(IFS_DS_SKIP_NO_REPLY);
    const char *id = str_or_null(prompt, "message_id");
    if (!id)
        id = str_or_null(obj, "message_tree_id");
    if (!id) {
        index_id(im, im->stem, strlen(im->stem), index);
        id = im->idbuf.p;
    }
    const char *resp = str_or_null(best, "text"), *reply_id = str_or_null(best, "message_id");
    const char *tree = str_or_null(obj, "message_tree_id");
    extra_kv ex[] = {
        {"lang", lang, lang ? strlen(lang) : 0},
        {"message_tree_id", tree, tree ? strlen(tree) : 0},
        {"reply_id", reply_id, reply_id ? strlen(reply_id) : 0},
    };
    const char *model = oa_model(im);
    return emit(im, sink, id, strlen(id), model, strlen(model), text, tl, "full", resp,
                strlen(resp), index, "oasst1", 6, ex, 3, err, errlen);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Resolves the current tree: one record or skips, every message counted. */
static int oa_flush(ds_importer *im, ds_sink *sink, char *err, size_t errlen)
{
    oa_tree *t = &im->tree;
    if (!t->active)
        return 0;
    int rc = 0;
    if (!t->have_root) {
        im->st.skipped[IFS_DS_SKIP_NOT_FIRST_TURN] += t->n;
    } else {
        ifs_ds_skip root_skip = IFS_DS_SKIP__COUNT;
        if (t->root.bad)
            root_skip = IFS_DS_SKIP_DELETED;
        else if (!lang_ok(im, t->root.lang))
            root_skip = IFS_DS_SKIP_LANG_FILTERED;
        oa_msg *best = NULL;
        for (size_t i = 0; i < t->n; i++) {
            oa_msg *m = &t->replies[i];
            if (!m->parent || strcmp(m->parent, t->root.id)) {
                im->st.skipped[IFS_DS_SKIP_NOT_FIRST_TURN]++;
                continue;
            }
            if (root_skip != IFS_DS_SKIP__COUNT) {
                im->st.skipped[root_skip]++;
                continue;
            }
            if (m->bad) {
                im->st.skipped[IFS_DS_SKIP_DELETED]++;
                continue;
            }
            if (m->lang && !lang_ok(im, m->lang)) {
                im->st.skipped[IFS_DS_SKIP_LANG_FILTERED]++;
                continue;
            }
            if (best)
                im->st.skipped[IFS_DS_SKIP_REPLY_NOT_BEST]++; /* one of the two loses */
            if (!best || m->rank < best->rank)
                best = m;
        }
        if (root_skip != IFS_DS_SKIP__COUNT) {
            im->st.skipped[root_skip]++;
        } else if (!best) {
            im->st.skipped[IFS_DS_SKIP_NO_REPLY]++;
        } else {
            im->st.merged++;
            extra_kv ex[] = {
                {"lang", t->root.lang, t->root.lang ? strlen(t->root.lang) : 0},
                {"reply_id", best->id, best->id ? strlen(best->id) : 0},
            };
            const char *model = oa_model(im);
            rc = emit(im, sink, t->root.id, strlen(t->root.id), model, strlen(model), t->root.text,
                      strlen(t->root.text), "full", best->text, strlen(best->text), t->root.index,
                      "oasst1", 6, ex, 2, err, errlen);
        }
    }
    int rc2 = ds_set_add(&im->done, t->tree_hash) < 0 ? IFS_DS_ENOMEM : 0;
    tree_clear(t);
    return rc ? rc : rc2;
}

/* Messages export: one message per element. */
static int do_oasst_message(ds_importer *im, const cJSON *obj, uint64_t index, ds_sink *sink,
                            char *err, size_t errlen)
{
    const char *id = str_or_null(obj, "message_id");
    const char *parent = str_or_null(obj, "parent_id");
    const char *tree = str_or_null(obj, "message_tree_id");
    const char *role = str_or_null(obj, "role");
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(obj, "text");
    if (!tree)
        tree = parent ? NULL : id;
    if (!id || !tree || !role)
        return SKIP(IFS_DS_SKIP_MISSING_INSTRUCTION);
    if (!cJSON_IsString(tv))
        return SKIP(tv ? IFS_DS_SKIP_NOT_STRING : IFS_DS_SKIP_MISSING_INSTRUCTION);
    uint64_t h = ifs_ds_key(0, "oasst-tree", tree, strlen(tree)) | 1;
    if (!im->tree.active || im->tree.tree_hash != h) {
        int rc = oa_flush(im, sink, err, errlen);
        if (rc)
            return rc;
        if (ds_set_has(&im->done, h))
            return SKIP(IFS_DS_SKIP_TREE_SPLIT);
        im->tree.active = 1;
        im->tree.tree_hash = h;
    }
    oa_tree *t = &im->tree;
    oa_msg m = {0};
    m.rank = oa_rank(obj);
    m.bad = oa_bad(obj);
    m.index = index;
    if (!parent && !strcmp(role, "prompter") && !t->have_root) {
        m.id = strdup(id);
        m.text = strdup(tv->valuestring);
        m.lang = dup_or_null(str_or_null(obj, "lang"));
        if (!m.id || !m.text) {
            msg_free(&m);
            snprintf(err, errlen, "out of memory");
            return IFS_DS_ENOMEM;
        }
        t->root = m;
        t->have_root = 1;
        return 0;
    }
    if (!parent || strcmp(role, "assistant"))
        return SKIP(IFS_DS_SKIP_NOT_FIRST_TURN);
    /* Only replies can become the pair's response; keep them for the flush. */
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 8;
        oa_msg *nr = realloc(t->replies, nc * sizeof *nr);
        if (!nr) {
            snprintf(err, errlen, "out of memory");
            return IFS_DS_ENOMEM;
        }
        t->replies = nr;
        t->cap = nc;
    }
    m.id = strdup(id);
    m.parent = strdup(parent);
    m.text = strdup(tv->valuestring);
    m.lang = dup_or_null(str_or_null(obj, "lang"));
    if (!m.id || !m.parent || !m.text) {
        msg_free(&m);
        snprintf(err, errlen, "out of memory");
        return IFS_DS_ENOMEM;
    }
    t->replies[t->n++] = m;
    return 0;
}

/* ---- the file loop -------------------------------------------------------- */

static int handle(ds_importer *im, const ifs_ds_elem *e, ds_sink *sink, char *err, size_t errlen)
{
    im->st.elements++;
    if (ifs_utf8_check(e->data, e->len) != e->len)
        return SKIP(IFS_DS_SKIP_INVALID_UTF8);
    if (ds_has_nul(e->data, e->len))
        return SKIP(IFS_DS_SKIP_NUL_IN_TEXT);
    cJSON *obj = cJSON_ParseWithLength(e->data, e->len);
    if (!obj)
        return SKIP(IFS_DS_SKIP_INVALID_JSON);
    int rc;
    if (!cJSON_IsObject(obj)) {
        rc = SKIP(IFS_DS_SKIP_NOT_OBJECT);
    } else {
        switch (im->o.format) {
        case IFS_DS_FMT_ALPACA_EVAL:
            rc = do_alpaca_eval(im, obj, e->index, sink, err, errlen);
            break;
        case IFS_DS_FMT_ALPACA: rc = do_alpaca(im, obj, e->index, sink, err, errlen); break;
        case IFS_DS_FMT_SHAREGPT: rc = do_sharegpt(im, obj, e->index, sink, err, errlen); break;
        case IFS_DS_FMT_HH: rc = do_hh(im, obj, e->index, sink, err, errlen); break;
        case IFS_DS_FMT_OASST: {
            const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(obj, "prompt");
            if (cJSON_IsObject(prompt))
                rc = do_oasst_tree(im, obj, prompt, e->index, sink, err, errlen);
            else
                rc = do_oasst_message(im, obj, e->index, sink, err, errlen);
            break;
        }
        default: rc = do_json(im, obj, e->index, sink, err, errlen); break;
        }
    }
    cJSON_Delete(obj);
    return rc;
}

int ds_import_element(ds_importer *im, const char *stem, const ifs_ds_elem *e, ds_sink *sink,
                      char *err, size_t errlen)
{
    snprintf(im->stem, sizeof im->stem, "%s", stem);
    if (!e->data) {
        im->st.elements++;
        im->st.skipped[IFS_DS_SKIP_TOO_LARGE]++;
        return 0;
    }
    return handle(im, e, sink, err, errlen);
}

int ds_import_end(ds_importer *im, ds_sink *sink, char *err, size_t errlen)
{
    return im->o.format == IFS_DS_FMT_OASST ? oa_flush(im, sink, err, errlen) : 0;
}

void ds_stem(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!strcmp(path, "-"))
        base = "stdin";
    snprintf(out, cap, "%s", base);
    static const char *const exts[] = {".zst", ".gz", ".jsonl", ".json"};
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(out), k = strlen(exts[i]);
        if (n > k && !strcmp(out + n - k, exts[i]))
            out[n - k] = 0;
    }
}

int ds_import_file(ds_importer *im, const char *path, ds_sink *sink, char *err, size_t errlen)
{
    ds_stem(path, im->stem, sizeof im->stem);
    int rc = ds_sink_begin(sink, im->stem, err, errlen);
    if (rc) {
        im->st.output_error = 1;
        return rc;
    }
    ifs_ds_src *src = ifs_ds_src_open(path, err, errlen);
    if (!src) {
        im->st.file_errors++;
        return IFS_DS_EIO;
    }
    ifs_ds_jsplit *js = ifs_ds_jsplit_create(im->o.max_elem);
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    if (!js || !buf) {
        snprintf(err, errlen, "out of memory");
        rc = IFS_DS_ENOMEM;
        goto out;
    }
    im->st.files++;
    ifs_ds_elem e;
    for (;;) {
        size_t n;
        rc = ifs_ds_src_read(src, buf, cap, &n);
        if (rc) {
            snprintf(err, errlen, "%s", ifs_ds_src_error(src));
            goto out;
        }
        im->st.bytes_text += n;
        int fin = n == 0;
        const char *p = buf;
        for (;;) {
            size_t used = 0;
            int r = fin ? ifs_ds_jsplit_finish(js, &e) : ifs_ds_jsplit_feed(js, p, n, &used, &e);
            p += used;
            n -= used;
            if (r == IFS_DS_ELEM) {
                rc = handle(im, &e, sink, err, errlen);
                if (rc)
                    goto out;
                continue;
            }
            if (r == IFS_DS_ETOOBIG) {
                im->st.elements++;
                im->st.skipped[IFS_DS_SKIP_TOO_LARGE]++;
                continue;
            }
            if (r < 0) {
                snprintf(err, errlen, "%s: %s", path, ifs_ds_jsplit_error(js));
                rc = r;
                goto out;
            }
            break;
        }
        if (fin)
            break;
    }
    rc = 0;
out:
    if (im->o.format == IFS_DS_FMT_OASST && rc != IFS_DS_ENOMEM) {
        char e2[256];
        int r2 = oa_flush(im, sink, e2, sizeof e2);
        if (r2 && !rc) {
            snprintf(err, errlen, "%s", e2);
            rc = r2;
        }
    }
    if (rc && rc != IFS_DS_ENOMEM && !im->st.output_error)
        im->st.file_errors++;
    im->st.bytes_in += ifs_ds_src_compressed_bytes(src);
    free(buf);
    ifs_ds_jsplit_free(js);
    ifs_ds_src_close(src);
    return rc;
}

/* ---- input listing -------------------------------------------------------- */

static int wanted_name(const char *n)
{
    static const char *const exts[] = {".json",      ".jsonl",   ".json.zst",
                                       ".jsonl.zst", ".json.gz", ".jsonl.gz"};
    if (n[0] == '.' || !strcmp(n, "manifest.json"))
        return 0;
    for (int i = 0; i < 6; i++) {
        size_t a = strlen(n), b = strlen(exts[i]);
        if (a > b && !strcmp(n + a - b, exts[i]))
            return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void ds_paths_free(char **paths)
{
    for (size_t i = 0; paths && paths[i]; i++)
        free(paths[i]);
    free(paths);
}

char **ds_list_inputs(char *const *args, int n, char *err, size_t errlen)
{
    size_t cnt = 0, cap = 16;
    char **out = calloc(cap + 1, sizeof *out);
    if (!out)
        goto oom;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (strcmp(args[i], "-") && stat(args[i], &st)) {
            snprintf(err, errlen, "%s: no such file or folder", args[i]);
            ds_paths_free(out);
            return NULL;
        }
        size_t first = cnt;
        if (strcmp(args[i], "-") && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(args[i]);
            if (!d) {
                snprintf(err, errlen, "%s: cannot list the folder", args[i]);
                ds_paths_free(out);
                return NULL;
            }
            struct dirent *de;
            while ((de = readdir(d))) {
                if (!wanted_name(de->d_name))
                    continue;
                if (cnt == cap) {
                    char **no = realloc(out, (cap * 2 + 1) * sizeof *no);
                    if (!no) {
                        closedir(d);
                        goto oom;
                    }
                    out = no;
                    cap *= 2;
                }
                size_t len = strlen(args[i]) + strlen(de->d_name) + 2;
                out[cnt] = malloc(len);
                if (!out[cnt]) {
                    closedir(d);
                    goto oom;
                }
                snprintf(out[cnt], len, "%s/%s", args[i], de->d_name);
                out[++cnt] = NULL;
            }
            closedir(d);
            if (cnt == first) {
                snprintf(err, errlen, "%s: no .json or .jsonl files (plain, .zst or .gz)", args[i]);
                ds_paths_free(out);
                return NULL;
            }
            qsort(out + first, cnt - first, sizeof *out, cmp_str);
        } else {
            if (cnt == cap) {
                char **no = realloc(out, (cap * 2 + 1) * sizeof *no);
                if (!no)
                    goto oom;
                out = no;
                cap *= 2;
            }
            if (!(out[cnt] = strdup(args[i])))
                goto oom;
            out[++cnt] = NULL;
        }
    }
    return out;
oom:
    snprintf(err, errlen, "out of memory");
    ds_paths_free(out);
    return NULL;
}
