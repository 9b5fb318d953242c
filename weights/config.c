/*
 * config.c - config.json -> ifs_bert_config, and back.
 *
 * Decisions:
 *   - Missing fields take HF BertConfig's defaults (vocab 30522, hidden 768,
 *     12 layers, 12 heads, intermediate 3072, gelu, 512 positions, 2 token
 *     types, eps 1e-12, pad 0, 2 labels), as transformers would; the loader
 *     then checks every tensor's shape against them, so a wrong default
 *     surfaces as a named shape error, never as a half-run.
 *   - Settings this engine does not implement are refused, not ignored:
 *     model_type other than "bert", position_embedding_type other than
 *     "absolute", is_decoder, an unknown hidden_act.
 *   - id2label decides num_labels when present (as in HF); its keys must be
 *     exactly 0..n-1. label2id, when present, must agree with it.
 *   - A key given twice takes its last value, at the top level and inside
 *     id2label / label2id: transformers reads config.json with json.load,
 *     which keeps the last. cJSON keeps both and its lookup finds the first,
 *     so every lookup here goes through wts_json_get. Each pass is linear,
 *     so a hostile file of a million repeated keys costs one pass.
 *   - ifscore's own fields, ifs_input and ifs_instruction_max_tokens, say
 *     whether the classifier reads the response or the (instruction,
 *     response) pair (ifs_wts.h); they are written only for pair
 *     classifiers, so a response classifier's file is what it always was.
 *   - Writing: keys in a fixed order and floats printed as the shortest
 *     decimal that reads back to the same float, so files are byte-stable.
 */
#include "ifs_wts.h"
#include "wts_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    ifs_act act;
} ACTS[] = {
    {"gelu", IFS_ACT_GELU},           {"gelu_python", IFS_ACT_GELU},
    {"gelu_new", IFS_ACT_GELU_TANH},  {"gelu_pytorch_tanh", IFS_ACT_GELU_TANH},
    {"gelu_fast", IFS_ACT_GELU_TANH}, {"relu", IFS_ACT_RELU},
};

const char *ifs_wts_act_name(ifs_act act)
{
    switch (act) {
    case IFS_ACT_GELU: return "gelu";
    case IFS_ACT_GELU_TANH: return "gelu_new";
    case IFS_ACT_RELU: return "relu";
    }
    return "unknown";
}

/* Integer field: absent (or null) keeps *out; otherwise an integral number
 * in [lo, hi]. */
static int get_int(const cJSON *root, const char *key, int32_t lo, int32_t hi, int32_t *out,
                   const char *name, char *err, size_t errlen)
{
    const cJSON *v = wts_json_get(root, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || floor(v->valuedouble) != v->valuedouble || v->valuedouble < lo ||
        v->valuedouble > hi)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: '%s' must be an integer in [%ld, %ld]",
                        name, key, (long)lo, (long)hi);
    *out = (int32_t)v->valuedouble;
    return 0;
}

static void default_config(ifs_bert_config *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = 30522;
    c->hidden = 768;
    c->n_layers = 12;
    c->n_heads = 12;
    c->intermediate = 3072;
    c->max_position = 512;
    c->type_vocab = 2;
    c->num_labels = 2;
    c->pad_token_id = 0;
    c->ln_eps = 1e-12f;
    c->act = IFS_ACT_GELU;
}

/* "0".."n-1" without sign, spaces or leading zeros. */
static int parse_index(const char *s, int *out)
{
    if (!s[0] || strlen(s) > 6 || (s[0] == '0' && s[1]))
        return -1;
    int v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

static int parse_labels(const cJSON *root, ifs_bert_config *c, const char *name, char *err,
                        size_t errlen)
{
    const cJSON *id2 = wts_json_get(root, "id2label");
    if (id2 && !cJSON_IsNull(id2)) {
        if (!cJSON_IsObject(id2))
            return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: 'id2label' must be an object", name);
        const cJSON *last[IFS_MAX_LABELS] = {0}; /* the value json.load keeps */
        int n = 0, idx;
        for (const cJSON *e = id2->child; e; e = e->next) {
            if (parse_index(e->string, &idx))
                return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                                "%s: id2label key '%.20s' is not a label index (0, 1, ...)", name,
                                e->string);
            if (idx >= IFS_MAX_LABELS)
                return wts_fail(err, errlen, IFS_WTS_EUNSUP,
                                "%s: id2label key '%d': at most %d labels are supported", name, idx,
                                IFS_MAX_LABELS);
            n += !last[idx];
            last[idx] = e;
        }
        if (n < 1)
            return wts_fail(err, errlen, IFS_WTS_EUNSUP,
                            "%s: 'id2label' has 0 labels (1..%d supported)", name, IFS_MAX_LABELS);
        for (const cJSON *e = id2->child; e; e = e->next)
            if (!parse_index(e->string, &idx) && idx >= n)
                return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                                "%s: id2label key '%.20s' is not an index in 0..%d", name,
                                e->string, n - 1);
        for (idx = 0; idx < n; idx++) {
            const cJSON *e = last[idx];
            if (!cJSON_IsString(e))
                return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: id2label['%d'] must be a string",
                                name, idx);
            size_t len = strlen(e->valuestring);
            if (len >= IFS_LABEL_LEN)
                return wts_fail(err, errlen, IFS_WTS_EUNSUP,
                                "%s: id2label['%d'] is %zu bytes long (at most %d)", name, idx, len,
                                IFS_LABEL_LEN - 1);
            if (wts_utf8_invalid_at((const unsigned char *)e->valuestring, len) != len)
                return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                                "%s: id2label['%d'] is not valid UTF-8", name, idx);
            memcpy(c->labels[idx], e->valuestring, len + 1);
        }
        c->num_labels = n;
    } else {
        int32_t n = 2;
        int rc = get_int(root, "num_labels", 1, IFS_MAX_LABELS, &n, name, err, errlen);
        if (rc)
            return rc;
        c->num_labels = n;
        for (int i = 0; i < n; i++)
            snprintf(c->labels[i], IFS_LABEL_LEN, "LABEL_%d", i);
    }
    const cJSON *l2i = wts_json_get(root, "label2id");
    if (!l2i || cJSON_IsNull(l2i))
        return 0;
    if (!cJSON_IsObject(l2i))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: 'label2id' must be an object", name);
    /* Back to front, so the first entry met for a key is the one json.load
       keeps. A kept entry must name a label (checked below), so at most
       IFS_MAX_LABELS distinct keys are kept before one is refused, and the
       pass stays linear however many times a key repeats. */
    const cJSON *tail = l2i->child;
    while (tail && tail->next)
        tail = tail->next;
    const cJSON *kept[IFS_MAX_LABELS];
    int n_kept = 0, overflow = 0;
    for (const cJSON *e = tail; e && !overflow; e = e == l2i->child ? NULL : e->prev) {
        int dup = 0;
        for (int k = 0; k < n_kept && !dup; k++)
            dup = !strcmp(kept[k]->string, e->string);
        if (!dup && n_kept < IFS_MAX_LABELS)
            kept[n_kept++] = e;
        else if (!dup)
            overflow = 1; /* more keys than labels: one of them is wrong */
    }
    /* then front to back, so the first wrong entry is the one named */
    for (const cJSON *e = l2i->child; e; e = e->next) {
        int keep = overflow;
        for (int k = 0; k < n_kept && !keep; k++)
            keep = kept[k] == e;
        if (!keep)
            continue;
        if (!cJSON_IsNumber(e) || floor(e->valuedouble) != e->valuedouble || e->valuedouble < 0 ||
            e->valuedouble >= c->num_labels)
            return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                            "%s: label2id['%.63s'] is not an index in 0..%d", name, e->string,
                            c->num_labels - 1);
        int idx = (int)e->valuedouble;
        if (strcmp(c->labels[idx], e->string))
            return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                            "%s: label2id['%.63s'] = %d but id2label['%d'] = '%s'", name, e->string,
                            idx, idx, c->labels[idx]);
    }
    return 0;
}

/* ifs_input and ifs_instruction_max_tokens (ifs_wts.h). */
static int parse_input(const cJSON *root, ifs_bert_config *c, const char *name, char *err,
                       size_t errlen)
{
    const cJSON *v = wts_json_get(root, "ifs_input");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v))
            return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                            "%s: 'ifs_input' must be a string, \"response\" or \"pair\"", name);
        if (!strcmp(v->valuestring, "pair"))
            c->pair_input = 1;
        else if (strcmp(v->valuestring, "response"))
            return wts_fail(err, errlen, IFS_WTS_EUNSUP,
                            "%s: ifs_input '%.40s' is not supported (\"response\" or \"pair\")",
                            name, v->valuestring);
    }
    int32_t k = 0;
    int rc = get_int(root, "ifs_instruction_max_tokens", 1, 1 << 20, &k, name, err, errlen);
    if (rc)
        return rc;
    if (k && !c->pair_input)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: 'ifs_instruction_max_tokens' is set but 'ifs_input' is not \"pair\"",
                        name);
    c->instruction_max_tokens = k;
    return 0;
}

int ifs_wts_parse_config(const char *json, size_t len, const char *name, ifs_bert_config *cfg,
                         char *err, size_t errlen)
{
    if (!name)
        name = "config.json";
    if (!json || !cfg)
        return wts_fail(err, errlen, IFS_WTS_EARG, "%s: no input", name);
    default_config(cfg);
    size_t bad = wts_utf8_invalid_at((const unsigned char *)json, len);
    if (bad < len)
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: not valid UTF-8 at byte %zu", name, bad);
    if (memchr(json, '\0', len))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: holds a NUL byte", name);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: not a JSON object", name);
    }
    int rc = 0;
    const cJSON *v = wts_json_get(root, "model_type");
    if (v && !cJSON_IsNull(v) && (!cJSON_IsString(v) || strcmp(v->valuestring, "bert"))) {
        rc = wts_fail(err, errlen, IFS_WTS_EUNSUP,
                      "%s: model_type '%.40s' is not supported (only 'bert')", name,
                      cJSON_IsString(v) ? v->valuestring : "(not a string)");
        goto out;
    }
    v = wts_json_get(root, "position_embedding_type");
    if (v && !cJSON_IsNull(v) && (!cJSON_IsString(v) || strcmp(v->valuestring, "absolute"))) {
        rc = wts_fail(err, errlen, IFS_WTS_EUNSUP,
                      "%s: position_embedding_type '%.40s' is not supported (only 'absolute')",
                      name, cJSON_IsString(v) ? v->valuestring : "(not a string)");
        goto out;
    }
    v = wts_json_get(root, "is_decoder");
    if (cJSON_IsTrue(v)) {
        rc = wts_fail(err, errlen, IFS_WTS_EUNSUP,
                      "%s: is_decoder is true (causal BERT) and is not supported", name);
        goto out;
    }
    if ((rc = get_int(root, "vocab_size", 1, 1 << 24, &cfg->vocab_size, name, err, errlen)) ||
        (rc = get_int(root, "hidden_size", 1, 1 << 16, &cfg->hidden, name, err, errlen)) ||
        (rc = get_int(root, "num_hidden_layers", 1, 1024, &cfg->n_layers, name, err, errlen)) ||
        (rc = get_int(root, "num_attention_heads", 1, 1 << 16, &cfg->n_heads, name, err, errlen)) ||
        (rc = get_int(root, "intermediate_size", 1, 1 << 20, &cfg->intermediate, name, err,
                      errlen)) ||
        (rc = get_int(root, "max_position_embeddings", 1, 1 << 20, &cfg->max_position, name, err,
                      errlen)) ||
        (rc = get_int(root, "type_vocab_size", 1, 1 << 16, &cfg->type_vocab, name, err, errlen)) ||
        (rc = get_int(root, "pad_token_id", 0, 1 << 24, &cfg->pad_token_id, name, err, errlen)))
        goto out;
    if (cfg->hidden % cfg->n_heads) {
        rc = wts_fail(err, errlen, IFS_WTS_EFORMAT,
                      "%s: hidden_size %d is not a multiple of num_attention_heads %d", name,
                      cfg->hidden, cfg->n_heads);
        goto out;
    }
    if (cfg->pad_token_id >= cfg->vocab_size) {
        rc = wts_fail(err, errlen, IFS_WTS_EFORMAT,
                      "%s: pad_token_id %d is outside the vocabulary (vocab_size %d)", name,
                      cfg->pad_token_id, cfg->vocab_size);
        goto out;
    }
    v = wts_json_get(root, "layer_norm_eps");
    if (v && !cJSON_IsNull(v)) {
        /* the kernels use it as fp32: a value that underflows to 0 is refused too */
        if (!cJSON_IsNumber(v) || !(v->valuedouble < 1) || !((float)v->valuedouble > 0)) {
            rc = wts_fail(err, errlen, IFS_WTS_EFORMAT,
                          "%s: 'layer_norm_eps' must be a number in (0, 1) above fp32's "
                          "smallest value",
                          name);
            goto out;
        }
        cfg->ln_eps = (float)v->valuedouble;
    }
    v = wts_json_get(root, "hidden_act");
    if (v && !cJSON_IsNull(v)) {
        size_t i, n = sizeof ACTS / sizeof ACTS[0];
        for (i = 0; cJSON_IsString(v) && i < n; i++)
            if (!strcmp(v->valuestring, ACTS[i].name))
                break;
        if (!cJSON_IsString(v) || i == n) {
            rc = wts_fail(err, errlen, IFS_WTS_EUNSUP,
                          "%s: hidden_act '%.40s' is not supported (gelu, gelu_python, gelu_new, "
                          "gelu_pytorch_tanh, gelu_fast, relu)",
                          name, cJSON_IsString(v) ? v->valuestring : "(not a string)");
            goto out;
        }
        cfg->act = ACTS[i].act;
    }
    if (!(rc = parse_labels(root, cfg, name, err, errlen)))
        rc = parse_input(root, cfg, name, err, errlen);
out:
    cJSON_Delete(root);
    return rc;
}

/* Shortest "%.Ng" that reads back as the same float. */
static void fmt_float(char *buf, size_t len, float f)
{
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, len, "%.*g", p, (double)f);
        if (strtof(buf, NULL) == f)
            return;
    }
}

static int valid_config(const ifs_bert_config *c)
{
    return c->vocab_size > 0 && c->hidden > 0 && c->n_layers > 0 && c->n_heads > 0 &&
           c->hidden % c->n_heads == 0 && c->intermediate > 0 && c->max_position > 0 &&
           c->type_vocab > 0 && c->num_labels > 0 && c->num_labels <= IFS_MAX_LABELS &&
           c->ln_eps > 0 && c->pad_token_id >= 0 && c->pad_token_id < c->vocab_size &&
           (c->pair_input == 0 || c->pair_input == 1) && c->instruction_max_tokens >= 0 &&
           c->instruction_max_tokens <= (1 << 20) &&
           (c->instruction_max_tokens == 0 || c->pair_input);
}

/* The config.json text (cJSON_free it), or NULL with the reason in err. */
static char *config_text(const char *name, const ifs_bert_config *c, int *rc, char *err,
                         size_t errlen)
{
    *rc = IFS_WTS_EARG;
    if (!c || !valid_config(c)) {
        wts_fail(err, errlen, IFS_WTS_EARG, "%s: inconsistent config to write", name);
        return NULL;
    }
    for (int i = 0; i < c->num_labels; i++) {
        const char *nul = memchr(c->labels[i], '\0', IFS_LABEL_LEN);
        size_t len = nul ? (size_t)(nul - c->labels[i]) : 0;
        if (!nul || wts_utf8_invalid_at((const unsigned char *)c->labels[i], len) != len) {
            wts_fail(err, errlen, IFS_WTS_EARG, "%s: label %d is not a terminated UTF-8 string",
                     name, i);
            return NULL;
        }
    }
    *rc = IFS_WTS_ENOMEM;
    cJSON *root = cJSON_CreateObject();
    cJSON *arch = cJSON_CreateArray();
    cJSON *id2 = cJSON_CreateObject(), *l2i = cJSON_CreateObject();
    if (!root || !arch || !id2 || !l2i) {
        cJSON_Delete(root);
        cJSON_Delete(arch);
        cJSON_Delete(id2);
        cJSON_Delete(l2i);
        wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    char eps[32];
    fmt_float(eps, sizeof eps, c->ln_eps);
    cJSON_AddItemToArray(arch, cJSON_CreateString("BertForSequenceClassification"));
    cJSON_AddItemToObject(root, "architectures", arch);
    cJSON_AddNumberToObject(root, "attention_probs_dropout_prob", 0.1);
    cJSON_AddStringToObject(root, "hidden_act", ifs_wts_act_name(c->act));
    cJSON_AddNumberToObject(root, "hidden_dropout_prob", 0.1);
    cJSON_AddNumberToObject(root, "hidden_size", c->hidden);
    for (int i = 0; i < c->num_labels; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        cJSON_AddStringToObject(id2, key, c->labels[i]);
        cJSON_AddNumberToObject(l2i, c->labels[i], i);
    }
    cJSON_AddItemToObject(root, "id2label", id2);
    if (c->pair_input) {
        cJSON_AddStringToObject(root, "ifs_input", "pair");
        if (c->instruction_max_tokens)
            cJSON_AddNumberToObject(root, "ifs_instruction_max_tokens", c->instruction_max_tokens);
    }
    cJSON_AddNumberToObject(root, "initializer_range", 0.02);
    cJSON_AddNumberToObject(root, "intermediate_size", c->intermediate);
    cJSON_AddItemToObject(root, "label2id", l2i);
    cJSON_AddRawToObject(root, "layer_norm_eps", eps);
    cJSON_AddNumberToObject(root, "max_position_embeddings", c->max_position);
    cJSON_AddStringToObject(root, "model_type", "bert");
    cJSON_AddNumberToObject(root, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(root, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(root, "pad_token_id", c->pad_token_id);
    cJSON_AddStringToObject(root, "position_embedding_type", "absolute");
    cJSON_AddNumberToObject(root, "type_vocab_size", c->type_vocab);
    cJSON_AddNumberToObject(root, "vocab_size", c->vocab_size);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    *rc = 0;
    return text;
}

int ifs_wts_emit_config(const char *name, const ifs_bert_config *c, ifs_wts_write_fn write,
                        void *ctx, char *err, size_t errlen)
{
    if (!name)
        name = "config.json";
    if (!write)
        return wts_fail(err, errlen, IFS_WTS_EARG, "%s: no write callback", name);
    int rc;
    char *text = config_text(name, c, &rc, err, errlen);
    if (!text)
        return rc;
    if ((rc = write(ctx, text, strlen(text))) == 0)
        rc = write(ctx, "\n", 1);
    cJSON_free(text);
    if (rc)
        return wts_fail(err, errlen, rc < 0 ? rc : IFS_WTS_EIO,
                        "%s: the write callback failed (%d)", name, rc);
    return 0;
}

typedef struct {
    const char *name;
    const ifs_bert_config *c;
} config_job;

static int produce_config(void *ctx, ifs_wts_write_fn write, void *wctx, char *err, size_t errlen)
{
    const config_job *j = ctx;
    return ifs_wts_emit_config(j->name, j->c, write, wctx, err, errlen);
}

int ifs_wts_write_config(const char *path, const ifs_bert_config *c, char *err, size_t errlen)
{
    if (!path || !c)
        return wts_fail(err, errlen, IFS_WTS_EARG, "%s: inconsistent config to write",
                        path ? path : "config.json");
    config_job j = {path, c};
    return wts_write_atomic(path, produce_config, &j, err, errlen);
}
