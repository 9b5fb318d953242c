/*
 * load.c - a checkpoint folder -> ifs_wts_model: config.json drives every
 * size; tensors come from model.safetensors or from the shards named by
 * model.safetensors.index.json; HF names are mapped with or without the
 * "bert." prefix and with the legacy LayerNorm gamma/beta names; each used
 * tensor must be F32, F16 or BF16 with exactly the shape the config implies,
 * and holds no NaN/Inf after conversion to fp32.
 *
 * Decisions:
 *   - pytorch_model.bin (a pickle in a zip) is not read: unpickling is the
 *     classic code-execution hole, and a converter already exists. The error
 *     gives the one-line conversion command.
 *   - Every used tensor is copied into its own fp32 buffer and the files are
 *     unmapped after loading: the model then holds exactly what backends use,
 *     in fp32, and no file handle stays open for a long run.
 *   - Tensors the model does not use (position_ids, MLM heads...) are
 *     validated by the reader and otherwise ignored.
 *   - Fingerprint: SHA-256 over config.json's bytes followed by each weight
 *     file's bytes (model.safetensors, or the shards in sorted name order).
 */
#include "ifs_sha256.h"
#include "ifs_wts.h"
#include "wts_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_CAP (16u << 20)
#define INDEX_CAP (64u << 20)

struct ifs_wts_model {
    ifs_bert_weights w;
    ifs_bert_layer *layers;
    float **bufs;
    size_t n_bufs, cap_bufs;
    char fingerprint[65];
};

/* Where tensors come from while loading. */
typedef struct {
    const char *dir;
    ifs_wts_st **shards;
    char **shard_names;   /* basename of each shard, sorted */
    size_t n_shards;
    cJSON *weight_map;    /* index only: name -> shard file */
    const char *prefix;   /* "bert." or "" */
    const ifs_bert_config *cfg;
} source;

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void ifs_wts_free(ifs_wts_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_bufs; i++)
        free(m->bufs[i]);
    free(m->bufs);
    free(m->layers);
    free(m);
}

const ifs_bert_weights *ifs_wts_weights(const ifs_wts_model *m) { return m ? &m->w : NULL; }

const char *ifs_wts_fingerprint(const ifs_wts_model *m) { return m ? m->fingerprint : NULL; }

/* Finds `name` in the sources; *shard gets the shard's index. */
static const ifs_wts_tensor_info *find_one(const source *s, const char *name, size_t *shard)
{
    if (s->weight_map) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(s->weight_map, name);
        if (!cJSON_IsString(f))
            return NULL;
        for (size_t i = 0; i < s->n_shards; i++)
            if (!strcmp(s->shard_names[i], f->valuestring)) {
                *shard = i;
                return ifs_wts_st_find(s->shards[i], name);
            }
        return NULL;
    }
    *shard = 0;
    return ifs_wts_st_find(s->shards[0], name);
}

/* With the legacy LayerNorm names as a fallback. */
static const ifs_wts_tensor_info *find_tensor(const source *s, const char *name, size_t *shard)
{
    const ifs_wts_tensor_info *t = find_one(s, name, shard);
    if (t)
        return t;
    size_t n = strlen(name);
    char alt[512];
    static const char *const pairs[][2] = {{"LayerNorm.weight", "LayerNorm.gamma"},
                                           {"LayerNorm.bias", "LayerNorm.beta"}};
    for (int i = 0; i < 2; i++) {
        size_t k = strlen(pairs[i][0]);
        if (n >= k && n - k + strlen(pairs[i][1]) < sizeof alt &&
            !strcmp(name + n - k, pairs[i][0])) {
            memcpy(alt, name, n - k);
            strcpy(alt + n - k, pairs[i][1]);
            return find_one(s, alt, shard);
        }
    }
    return NULL;
}

static int add_buf(ifs_wts_model *m, float *p)
{
    if (m->n_bufs == m->cap_bufs) {
        size_t cap = m->cap_bufs ? m->cap_bufs * 2 : 64;
        float **nb = realloc(m->bufs, cap * sizeof *nb);
        if (!nb)
            return -1;
        m->bufs = nb;
        m->cap_bufs = cap;
    }
    m->bufs[m->n_bufs++] = p;
    return 0;
}

/* Loads tensor `name` (without the prefix when `prefixed` is 0) of shape
 * [d0] or [d0][d1] into a fresh fp32 buffer. `optional`: a missing tensor
 * yields *out = NULL and success. */
static int get(ifs_wts_model *m, const source *s, const char *name, int prefixed, int64_t d0,
               int64_t d1, int optional, const float **out, char *err, size_t errlen)
{
    char full[512];
    snprintf(full, sizeof full, "%s%s", prefixed ? s->prefix : "", name);
    *out = NULL;
    size_t sh = 0;
    const ifs_wts_tensor_info *t = find_tensor(s, full, &sh);
    if (!t) {
        if (optional)
            return 0;
        if (s->weight_map) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(s->weight_map, full);
            if (cJSON_IsString(f))
                return wts_fail(err, errlen, IFS_WTS_EMODEL,
                                "%s/%s: tensor '%s' is missing (model.safetensors.index.json "
                                "puts it there)",
                                s->dir, f->valuestring, full);
        }
        int head = !strncmp(name, "classifier.", 11) || !strncmp(name, "pooler.", 7);
        return wts_fail(err, errlen, IFS_WTS_EMODEL, "%s/%s: tensor '%s' is missing%s", s->dir,
                        s->weight_map ? "model.safetensors.index.json" : "model.safetensors",
                        full,
                        head ? " (an encoder-only BertModel checkpoint? add a classification "
                               "head, e.g. ifscore gen-model --encoder DIR)"
                             : "");
    }
    const char *file = s->shard_names[sh];
    int want_nd = d1 >= 0 ? 2 : 1;
    if (t->ndim != want_nd || t->shape[0] != d0 || (want_nd == 2 && t->shape[1] != d1)) {
        char got[160], want[64];
        size_t k = (size_t)snprintf(got, sizeof got, "[");
        for (int i = 0; i < t->ndim && k < sizeof got; i++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", i ? ", " : "",
                                  (long long)t->shape[i]);
        if (k < sizeof got)
            snprintf(got + k, sizeof got - k, "]");
        if (want_nd == 2)
            snprintf(want, sizeof want, "[%lld, %lld]", (long long)d0, (long long)d1);
        else
            snprintf(want, sizeof want, "[%lld]", (long long)d0);
        return wts_fail(err, errlen, IFS_WTS_EMODEL,
                        "%s/%s: tensor '%s' at byte %llu has shape %s, config.json implies %s",
                        s->dir, file, t->name, (unsigned long long)t->file_offset, got, want);
    }
    int kind;
    if (!strcmp(t->dtype, "F32"))
        kind = 0;
    else if (!strcmp(t->dtype, "F16"))
        kind = 1;
    else if (!strcmp(t->dtype, "BF16"))
        kind = 2;
    else
        return wts_fail(err, errlen, IFS_WTS_EUNSUP,
                        "%s/%s: tensor '%s' at byte %llu has dtype %s; weights must be F32, F16 "
                        "or BF16",
                        s->dir, file, t->name, (unsigned long long)t->file_offset, t->dtype);
    size_t n = (size_t)d0 * (size_t)(want_nd == 2 ? d1 : 1);
    float *p = malloc(n ? n * sizeof *p : 1);
    if (!p || add_buf(m, p)) {
        free(p);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory loading '%s'", s->dir,
                        full);
    }
    const unsigned char *src = t->data;
    if (kind == 0) {
        memcpy(p, src, n * 4);
    } else {
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            p[i] = kind == 1 ? ifs_wts_f16_to_f32(h) : ifs_wts_bf16_to_f32(h);
        }
    }
    size_t esize = kind == 0 ? 4 : 2;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return wts_fail(err, errlen, IFS_WTS_EMODEL,
                            "%s/%s: tensor '%s' element %zu (byte %llu) is %s", s->dir, file,
                            t->name, i, (unsigned long long)(t->file_offset + i * esize),
                            isnan(p[i]) ? "NaN" : "Inf");
    *out = p;
    return 0;
}

static int load_tensors(ifs_wts_model *m, const source *s, unsigned flags, char *err,
                        size_t errlen)
{
    const ifs_bert_config *c = s->cfg;
    ifs_bert_weights *w = &m->w;
    int64_t H = c->hidden, I = c->intermediate;
    int rc;
#define GET(name, pre, d0, d1, opt, dst)                                                      \
    do {                                                                                      \
        if ((rc = get(m, s, name, pre, d0, d1, opt, &(dst), err, errlen)))                    \
            return rc;                                                                        \
    } while (0)
    GET("embeddings.word_embeddings.weight", 1, c->vocab_size, H, 0, w->word_emb);
    GET("embeddings.position_embeddings.weight", 1, c->max_position, H, 0, w->pos_emb);
    GET("embeddings.token_type_embeddings.weight", 1, c->type_vocab, H, 0, w->type_emb);
    GET("embeddings.LayerNorm.weight", 1, H, -1, 0, w->emb_ln_g);
    GET("embeddings.LayerNorm.bias", 1, H, -1, 0, w->emb_ln_b);
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers)
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", s->dir);
    w->layers = m->layers;
    for (int l = 0; l < c->n_layers; l++) {
        ifs_bert_layer *L = &m->layers[l];
        char n[128];
#define LGET(suffix, d0, d1, dst)                                                             \
    do {                                                                                      \
        snprintf(n, sizeof n, "encoder.layer.%d.%s", l, suffix);                              \
        GET(n, 1, d0, d1, 0, L->dst);                                                         \
    } while (0)
        LGET("attention.self.query.weight", H, H, q_w);
        LGET("attention.self.query.bias", H, -1, q_b);
        LGET("attention.self.key.weight", H, H, k_w);
        LGET("attention.self.key.bias", H, -1, k_b);
        LGET("attention.self.value.weight", H, H, v_w);
        LGET("attention.self.value.bias", H, -1, v_b);
        LGET("attention.output.dense.weight", H, H, ao_w);
        LGET("attention.output.dense.bias", H, -1, ao_b);
        LGET("attention.output.LayerNorm.weight", H, -1, ln1_g);
        LGET("attention.output.LayerNorm.bias", H, -1, ln1_b);
        LGET("intermediate.dense.weight", I, H, i_w);
        LGET("intermediate.dense.bias", I, -1, i_b);
        LGET("output.dense.weight", H, I, o_w);
        LGET("output.dense.bias", H, -1, o_b);
        LGET("output.LayerNorm.weight", H, -1, ln2_g);
        LGET("output.LayerNorm.bias", H, -1, ln2_b);
#undef LGET
    }
    int opt = (flags & IFS_WTS_ENCODER_ONLY) != 0;
    GET("pooler.dense.weight", 1, H, H, opt, w->pool_w);
    GET("pooler.dense.bias", 1, H, -1, opt, w->pool_b);
    if (opt && (!w->pool_w) != (!w->pool_b))
        return wts_fail(err, errlen, IFS_WTS_EMODEL,
                        "%s: the pooler has only one of pooler.dense.weight / .bias", s->dir);
    GET("classifier.weight", 0, c->num_labels, H, opt, w->cls_w);
    GET("classifier.bias", 0, c->num_labels, -1, opt, w->cls_b);
    if (opt && (!w->cls_w) != (!w->cls_b))
        return wts_fail(err, errlen, IFS_WTS_EMODEL,
                        "%s: the classifier has only one of classifier.weight / .bias", s->dir);
#undef GET
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Opens the shards of model.safetensors.index.json. */
static int open_index(source *s, const char *path, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int rc = wts_read_file(path, INDEX_CAP, &text, &len, err, errlen);
    if (rc)
        return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: not a JSON object with a 'weight_map' object", path);
    }
    size_t n = (size_t)cJSON_GetArraySize(wm);
    char **names = calloc(n ? n : 1, sizeof *names);
    size_t k = 0;
    if (!names) {
        cJSON_Delete(root);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
    }
    for (const cJSON *e = wm->child; e; e = e->next) {
        const char *f = cJSON_IsString(e) ? e->valuestring : NULL;
        if (!f || !f[0] || f[0] == '.' || strchr(f, '/') || strchr(f, '\\')) {
            wts_fail(err, errlen, IFS_WTS_EFORMAT,
                     "%s: weight_map['%.200s'] must be a plain file name in the same folder",
                     path, e->string);
            free(names);
            cJSON_Delete(root);
            return IFS_WTS_EFORMAT;
        }
        names[k++] = (char *)f;
    }
    qsort(names, k, sizeof *names, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (!u || strcmp(names[u - 1], names[i]))
            names[u++] = names[i];
    if (u == 0) {
        free(names);
        cJSON_Delete(root);
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: weight_map is empty", path);
    }
    s->shards = calloc(u, sizeof *s->shards);
    s->shard_names = calloc(u, sizeof *s->shard_names);
    if (!s->shards || !s->shard_names) {
        free(names);
        cJSON_Delete(root);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
    }
    s->weight_map = (cJSON *)wm;
    rc = 0;
    for (size_t i = 0; i < u && !rc; i++) {
        s->shard_names[i] = strdup(names[i]);
        char *p = join(s->dir, names[i]);
        if (!s->shard_names[i] || !p) {
            free(p);
            rc = wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
            break;
        }
        s->n_shards = i + 1;
        s->shards[i] = ifs_wts_st_open(p, err, errlen);
        free(p);
        if (!s->shards[i])
            rc = IFS_WTS_EFORMAT;
    }
    free(names);
    /* root stays alive through s->weight_map; freed by the caller via
       cJSON_Delete on the detached root below */
    if (rc) {
        s->weight_map = NULL;
        cJSON_Delete(root);
        return rc;
    }
    /* keep only the weight_map: detach it so the rest can go */
    cJSON_DetachItemViaPointer(root, (cJSON *)wm);
    cJSON_Delete(root);
    /* a name in two shards is ambiguous */
    for (size_t i = 0; i < s->n_shards; i++)
        for (size_t j = 0; j < ifs_wts_st_count(s->shards[i]); j++) {
            const ifs_wts_tensor_info *t = ifs_wts_st_tensor(s->shards[i], j);
            for (size_t o = i + 1; o < s->n_shards; o++)
                if (ifs_wts_st_find(s->shards[o], t->name))
                    return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                                    "%s: tensor '%s' appears in both %s (byte %llu) and %s",
                                    s->dir, t->name, s->shard_names[i],
                                    (unsigned long long)t->file_offset, s->shard_names[o]);
        }
    return 0;
}

static void source_free(source *s)
{
    for (size_t i = 0; i < s->n_shards; i++) {
        ifs_wts_st_free(s->shards[i]);
        free(s->shard_names[i]);
    }
    free(s->shards);
    free(s->shard_names);
    cJSON_Delete(s->weight_map);
}

/* Hashes the mapped bytes that were validated and converted, not a second
 * read of the files, so the fingerprint names exactly what was loaded. */
static void fingerprint(ifs_wts_model *m, const source *s, const char *cfg_text, size_t cfg_len)
{
    ifs_sha256_ctx c;
    ifs_sha256_init(&c);
    ifs_sha256_update(&c, cfg_text, cfg_len);
    for (size_t i = 0; i < s->n_shards; i++) {
        size_t len;
        const void *bytes = wts_st_bytes(s->shards[i], &len);
        ifs_sha256_update(&c, bytes, len);
    }
    ifs_sha256_final_hex(&c, m->fingerprint);
}

ifs_wts_model *ifs_wts_load(const char *dir, unsigned flags, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!dir) {
        wts_fail(err, errlen, IFS_WTS_EARG, "no checkpoint folder given");
        return NULL;
    }
    ifs_wts_model *m = calloc(1, sizeof *m);
    source s = {.dir = dir, .prefix = ""};
    char *cfg_text = NULL, *cpath = join(dir, "config.json");
    char *st_path = join(dir, "model.safetensors");
    char *ix_path = join(dir, "model.safetensors.index.json");
    char *bin_path = join(dir, "pytorch_model.bin");
    size_t cfg_len = 0;
    int rc = 0;
    if (!m || !cpath || !st_path || !ix_path || !bin_path) {
        wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", dir);
        goto fail;
    }
    if (!file_exists(cpath)) {
        wts_fail(err, errlen, IFS_WTS_EIO, "%s: no config.json (not a HF checkpoint folder?)",
                 dir);
        goto fail;
    }
    if ((rc = wts_read_file(cpath, CONFIG_CAP, &cfg_text, &cfg_len, err, errlen)))
        goto fail;
    if ((rc = ifs_wts_parse_config(cfg_text, cfg_len, cpath, &m->w.cfg, err, errlen)))
        goto fail;
    s.cfg = &m->w.cfg;
    if (file_exists(st_path)) {
        s.shards = calloc(1, sizeof *s.shards);
        s.shard_names = calloc(1, sizeof *s.shard_names);
        if (!s.shards || !s.shard_names || !(s.shard_names[0] = strdup("model.safetensors"))) {
            wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", dir);
            goto fail;
        }
        s.n_shards = 1;
        if (!(s.shards[0] = ifs_wts_st_open(st_path, err, errlen)))
            goto fail;
    } else if (file_exists(ix_path)) {
        if (open_index(&s, ix_path, err, errlen))
            goto fail;
    } else if (file_exists(bin_path)) {
        wts_fail(err, errlen, IFS_WTS_EUNSUP,
                 "%s: only pytorch_model.bin (a pickle) is present; ifscore reads safetensors "
                 "only. Convert once with: python -c \"import sys; from transformers import "
                 "AutoModelForSequenceClassification as M; "
                 "M.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[1], "
                 "safe_serialization=True)\" %s",
                 dir, dir);
        goto fail;
    } else {
        wts_fail(err, errlen, IFS_WTS_EIO,
                 "%s: no model.safetensors or model.safetensors.index.json", dir);
        goto fail;
    }
    size_t sh;
    s.prefix = find_one(&s, "bert.embeddings.word_embeddings.weight", &sh) ? "bert." : "";
    if (load_tensors(m, &s, flags, err, errlen))
        goto fail;
    fingerprint(m, &s, cfg_text, cfg_len);
    source_free(&s);
    free(cfg_text);
    free(cpath);
    free(st_path);
    free(ix_path);
    free(bin_path);
    return m;
fail:
    source_free(&s);
    free(cfg_text);
    free(cpath);
    free(st_path);
    free(ix_path);
    free(bin_path);
    ifs_wts_free(m);
    return NULL;
}
