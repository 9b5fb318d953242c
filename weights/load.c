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
 *   - Two phases. First every header is parsed and every used tensor is
 *     found, its shape and dtype checked and its fp32 buffer allocated, so
 *     a wrong checkpoint is refused before any data is read. Then each file
 *     is read once, front to back, through one 4 MiB buffer: its bytes are
 *     hashed for the fingerprint and the used tensors converted into their
 *     buffers as they pass. Files are never mapped (a mapped file that
 *     shrinks kills the process with SIGBUS); a short read, or a file whose
 *     size or mtime changed by the end, is an error naming it.
 *   - The model holds exactly what backends use, in fp32, and no file stays
 *     open after loading.
 *   - Tensors the model does not use (position_ids, MLM heads...) are
 *     validated by the reader, hashed, and otherwise ignored.
 *   - Fingerprint: SHA-256 over config.json's bytes followed by each weight
 *     file's bytes (model.safetensors, or the shards in sorted name order):
 *     the bytes that were parsed and converted, not a second read.
 *   - A name that the index's weight_map lists twice takes its last value,
 *     as json.load does for transformers; only the files of those values
 *     are shards. Lookups are binary searches over sorted arrays, so the
 *     work grows as n log n with the number of tensors.
 *   - A config.json, index or weight file that exists but is not a regular
 *     file (a FIFO, a directory, a device) is refused as what it is, never
 *     reported as absent and never opened in blocking mode.
 */
#include "ifs_sha256.h"
#include "ifs_wts.h"
#include "wts_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_CAP (16u << 20)
#define INDEX_CAP (64u << 20)
#define CHUNK (4u << 20)

struct ifs_wts_model {
    ifs_bert_weights w;
    ifs_bert_layer *layers;
    float **bufs;
    size_t n_bufs, cap_bufs;
    char fingerprint[65];
};

/* A used tensor's destination. */
typedef struct {
    float *dst; /* NULL: the model does not use this tensor */
    int kind;   /* 0 F32, 1 F16, 2 BF16 */
} want;

/* One name of the index's weight_map (its last value). */
typedef struct {
    const char *name; /* borrowed from the parsed index */
    const char *file;
    size_t seq; /* position in the weight_map */
    size_t shard;
} index_entry;

/* Where tensors come from while loading. */
typedef struct {
    const char *dir;
    ifs_wts_st **shards;
    char **shard_names; /* basename of each shard, sorted */
    size_t n_shards;
    want **wants;         /* [shard][tensor in file order] */
    cJSON *index;         /* the parsed index, which entries point into */
    index_entry *entries; /* sorted by name, one per name */
    size_t n_entries;
    const char *prefix; /* "bert." or "" */
    const ifs_bert_config *cfg;
} source;

/* Present in the folder, in whatever form: only "no such entry" is absence.
 * lstat, so a dangling symlink is present (and its open says why it fails). */
static int entry_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 || errno != ENOENT;
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

const ifs_bert_weights *ifs_wts_weights(const ifs_wts_model *m)
{
    return m ? &m->w : NULL;
}

const char *ifs_wts_fingerprint(const ifs_wts_model *m)
{
    return m ? m->fingerprint : NULL;
}

static const index_entry *index_lookup(const source *s, const char *name)
{
    size_t lo = 0, hi = s->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, s->entries[mid].name);
        if (c == 0)
            return &s->entries[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Finds `name` in the sources; *shard gets the shard's index. */
static const ifs_wts_tensor_info *find_one(const source *s, const char *name, size_t *shard)
{
    if (s->entries) {
        const index_entry *e = index_lookup(s, name);
        if (!e)
            return NULL;
        *shard = e->shard;
        return ifs_wts_st_find(s->shards[e->shard], name);
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

/* Finds tensor `name` (without the prefix when `prefixed` is 0), checks that
 * it is [d0] or [d0][d1] in F32/F16/BF16, and gives it a fresh fp32 buffer
 * that the streaming phase fills. `optional`: a missing tensor yields
 * *out = NULL and success. */
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
        const index_entry *e = s->entries ? index_lookup(s, full) : NULL;
        if (e)
            return wts_fail(err, errlen, IFS_WTS_EMODEL,
                            "%s/%s: tensor '%s' is missing (model.safetensors.index.json "
                            "puts it there)",
                            s->dir, e->file, full);
        int head = !strncmp(name, "classifier.", 11) || !strncmp(name, "pooler.", 7);
        return wts_fail(err, errlen, IFS_WTS_EMODEL, "%s/%s: tensor '%s' is missing%s", s->dir,
                        s->entries ? "model.safetensors.index.json" : "model.safetensors", full,
                        head ? " (an encoder-only BertModel checkpoint? add a classification "
                               "head, e.g. ifscore gen-model --encoder DIR)"
                             : "");
    }
    const char *file = s->shard_names[sh];
    int want_nd = d1 >= 0 ? 2 : 1;
    if (t->ndim != want_nd || t->shape[0] != d0 || (want_nd == 2 && t->shape[1] != d1)) {
        char got[160], wanted[64];
        size_t k = (size_t)snprintf(got, sizeof got, "[");
        for (int i = 0; i < t->ndim && k < sizeof got; i++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", i ? ", " : "",
                                  (long long)t->shape[i]);
        if (k < sizeof got)
            snprintf(got + k, sizeof got - k, "]");
        if (want_nd == 2)
            snprintf(wanted, sizeof wanted, "[%lld, %lld]", (long long)d0, (long long)d1);
        else
            snprintf(wanted, sizeof wanted, "[%lld]", (long long)d0);
        return wts_fail(err, errlen, IFS_WTS_EMODEL,
                        "%s/%s: tensor '%s' at byte %llu has shape %s, config.json implies %s",
                        s->dir, file, t->name, (unsigned long long)t->file_offset, got, wanted);
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
    want *w = &s->wants[sh][wts_st_index(s->shards[sh], t)];
    if (!w->dst) {
        size_t n = (size_t)d0 * (size_t)(want_nd == 2 ? d1 : 1);
        float *p = malloc(n ? n * sizeof *p : 1);
        if (!p || add_buf(m, p)) {
            free(p);
            return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory loading '%s'", s->dir,
                            full);
        }
        w->dst = p;
        w->kind = kind;
    }
    *out = w->dst;
    return 0;
}

static int load_tensors(ifs_wts_model *m, const source *s, unsigned flags, char *err, size_t errlen)
{
    const ifs_bert_config *c = s->cfg;
    ifs_bert_weights *w = &m->w;
    int64_t H = c->hidden, I = c->intermediate;
    int rc;
#define GET(name, pre, d0, d1, opt, dst)                                                           \
    do {                                                                                           \
        if ((rc = get(m, s, name, pre, d0, d1, opt, &(dst), err, errlen)))                         \
            return rc;                                                                             \
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
#define LGET(suffix, d0, d1, dst)                                                                  \
    do {                                                                                           \
        snprintf(n, sizeof n, "encoder.layer.%d.%s", l, suffix);                                   \
        GET(n, 1, d0, d1, 0, L->dst);                                                              \
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

static int cmp_entry(const void *a, const void *b)
{
    const index_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int alloc_wants(source *s, size_t i, char *err, size_t errlen)
{
    size_t n = ifs_wts_st_count(s->shards[i]);
    if (!(s->wants[i] = calloc(n ? n : 1, sizeof *s->wants[i])))
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", s->dir);
    return 0;
}

/* Opens the shards of model.safetensors.index.json. */
static int open_index(source *s, const char *path, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int rc =
        wts_read_file(path, "model.safetensors.index.json", INDEX_CAP, &text, &len, err, errlen);
    if (rc)
        return rc;
    size_t bad = wts_utf8_invalid_at((const unsigned char *)text, len);
    if (bad < len || memchr(text, '\0', len)) {
        free(text);
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: not valid UTF-8 text (byte %zu)", path,
                        bad < len ? bad : (size_t)((const char *)memchr(text, 0, len) - text));
    }
    s->index = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *wm = cJSON_IsObject(s->index) ? wts_json_get(s->index, "weight_map") : NULL;
    if (!cJSON_IsObject(wm))
        return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                        "%s: not a JSON object with a 'weight_map' object", path);
    size_t n = 0;
    for (const cJSON *e = wm->child; e; e = e->next)
        n++;
    s->entries = calloc(n ? n : 1, sizeof *s->entries);
    char **files = calloc(n ? n : 1, sizeof *files);
    if (!s->entries || !files) {
        free(files);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
    }
    size_t k = 0;
    for (const cJSON *e = wm->child; e; e = e->next, k++) {
        const char *f = cJSON_IsString(e) ? e->valuestring : NULL;
        if (!f || !f[0] || f[0] == '.' || strchr(f, '/') || strchr(f, '\\')) {
            free(files);
            return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                            "%s: weight_map['%.200s'] must be a plain file name in the same "
                            "folder",
                            path, e->string);
        }
        s->entries[k] = (index_entry){e->string, f, k, 0};
    }
    /* the last value of each name, as json.load keeps it */
    qsort(s->entries, n, sizeof *s->entries, cmp_entry);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && !strcmp(s->entries[u - 1].name, s->entries[i].name))
            u--;
        s->entries[u++] = s->entries[i];
    }
    s->n_entries = u;
    for (size_t i = 0; i < u; i++)
        files[i] = (char *)s->entries[i].file;
    qsort(files, u, sizeof *files, cmp_str);
    size_t nf = 0;
    for (size_t i = 0; i < u; i++)
        if (!nf || strcmp(files[nf - 1], files[i]))
            files[nf++] = files[i];
    if (nf == 0) {
        free(files);
        return wts_fail(err, errlen, IFS_WTS_EFORMAT, "%s: weight_map is empty", path);
    }
    s->shards = calloc(nf, sizeof *s->shards);
    s->shard_names = calloc(nf, sizeof *s->shard_names);
    s->wants = calloc(nf, sizeof *s->wants);
    if (!s->shards || !s->shard_names || !s->wants) {
        free(files);
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < u; i++) {
        const char *f = s->entries[i].file;
        char **hit = bsearch(&f, files, nf, sizeof *files, cmp_str);
        s->entries[i].shard = (size_t)(hit - files);
    }
    for (size_t i = 0; i < nf && !rc; i++) {
        s->shard_names[i] = strdup(files[i]);
        char *p = join(s->dir, files[i]);
        s->n_shards = i + 1;
        if (!s->shard_names[i] || !p)
            rc = wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", path);
        else if (!(s->shards[i] = wts_st_open_stream(p, err, errlen)))
            rc = IFS_WTS_EFORMAT;
        else
            rc = alloc_wants(s, i, err, errlen);
        free(p);
    }
    free(files);
    if (rc)
        return rc;
    /* a name in two shards is ambiguous */
    for (size_t i = 0; i < s->n_shards; i++)
        for (size_t j = 0; j < ifs_wts_st_count(s->shards[i]); j++) {
            const ifs_wts_tensor_info *t = ifs_wts_st_tensor(s->shards[i], j);
            for (size_t o = i + 1; o < s->n_shards; o++)
                if (ifs_wts_st_find(s->shards[o], t->name))
                    return wts_fail(err, errlen, IFS_WTS_EFORMAT,
                                    "%s: tensor '%s' appears in both %s (byte %llu) and %s", s->dir,
                                    t->name, s->shard_names[i], (unsigned long long)t->file_offset,
                                    s->shard_names[o]);
        }
    return 0;
}

static void source_free(source *s)
{
    for (size_t i = 0; i < s->n_shards; i++) {
        ifs_wts_st_free(s->shards[i]);
        free(s->shard_names[i]);
        if (s->wants)
            free(s->wants[i]);
    }
    free(s->shards);
    free(s->shard_names);
    free(s->wants);
    free(s->entries);
    cJSON_Delete(s->index);
}

/* Converts n bytes of tensor t, starting at its element `first`, into w. */
static int convert(const source *s, size_t sh, const ifs_wts_tensor_info *t, const want *w,
                   const unsigned char *src, size_t n, size_t first, char *err, size_t errlen)
{
    size_t esize = w->kind == 0 ? 4 : 2, count = n / esize;
    float *d = w->dst + first;
    if (w->kind == 0) {
        memcpy(d, src, n);
    } else {
        for (size_t i = 0; i < count; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            d[i] = w->kind == 1 ? ifs_wts_f16_to_f32(h) : ifs_wts_bf16_to_f32(h);
        }
    }
    for (size_t i = 0; i < count; i++)
        if (!isfinite(d[i]))
            return wts_fail(err, errlen, IFS_WTS_EMODEL,
                            "%s/%s: tensor '%s' element %zu (byte %llu) is %s", s->dir,
                            s->shard_names[sh], t->name, first + i,
                            (unsigned long long)(t->file_offset + (first + i) * esize),
                            isnan(d[i]) ? "NaN" : "Inf");
    return 0;
}

/* Reads shard sh front to back through buf (chunk bytes): every byte into
 * the hash, the used tensors' bytes into their buffers. Chunks end on an
 * element boundary of the tensor they cut, so no element straddles two. */
static int stream_shard(const source *s, size_t sh, ifs_sha256_ctx *hash, unsigned char *buf,
                        size_t chunk, char *err, size_t errlen)
{
    const ifs_wts_st *st = s->shards[sh];
    const want *wants = s->wants[sh];
    size_t hl;
    const void *hdr = wts_st_header(st, &hl);
    ifs_sha256_update(hash, hdr, hl);
    uint64_t data_start = hl, data_len = wts_st_file_len(st) - data_start, pos = 0;
    size_t n = ifs_wts_st_count(st), ti = 0;
    while (pos < data_len) {
        uint64_t end = data_len - pos > chunk ? pos + chunk : data_len;
        if (end < data_len) {
            size_t j = ti;
            while (j < n && ifs_wts_st_tensor(st, j)->end <= end)
                j++;
            const ifs_wts_tensor_info *t = ifs_wts_st_tensor(st, j);
            if (t && t->begin < end) {
                unsigned es = wts_dtype_size(t->dtype);
                uint64_t cut = t->begin + (end - t->begin) / es * es;
                if (cut > pos)
                    end = cut;
            }
        }
        int rc = wts_st_read(st, data_start + pos, buf, (size_t)(end - pos), err, errlen);
        if (rc)
            return rc;
        ifs_sha256_update(hash, buf, (size_t)(end - pos));
        for (size_t k = ti; k < n; k++) {
            const ifs_wts_tensor_info *t = ifs_wts_st_tensor(st, k);
            if (t->begin >= end && t->end > t->begin)
                break;
            uint64_t lo = t->begin > pos ? t->begin : pos, hi = t->end < end ? t->end : end;
            if (hi > lo && wants[k].dst &&
                (rc = convert(s, sh, t, &wants[k], buf + (lo - pos), (size_t)(hi - lo),
                              (size_t)((lo - t->begin) / (wants[k].kind == 0 ? 4 : 2)), err,
                              errlen)))
                return rc;
            if (t->end > end)
                break;
            ti = k + 1;
        }
        pos = end;
    }
    return wts_st_check_unchanged(st, err, errlen);
}

/* Opens model.safetensors alone. */
static int open_single(source *s, const char *path, char *err, size_t errlen)
{
    s->shards = calloc(1, sizeof *s->shards);
    s->shard_names = calloc(1, sizeof *s->shard_names);
    s->wants = calloc(1, sizeof *s->wants);
    if (!s->shards || !s->shard_names || !s->wants ||
        !(s->shard_names[0] = strdup("model.safetensors")))
        return wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", s->dir);
    s->n_shards = 1;
    if (!(s->shards[0] = wts_st_open_stream(path, err, errlen)))
        return IFS_WTS_EFORMAT;
    return alloc_wants(s, 0, err, errlen);
}

/* The checkpoint folder itself, with what it is when it is not one. */
static int check_folder(const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return wts_fail(err, errlen, IFS_WTS_EIO, "%s: cannot open the checkpoint folder: %s", dir,
                        strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return wts_fail(err, errlen, IFS_WTS_EIO, "%s: is %s, not a checkpoint folder", dir,
                        S_ISREG(sb.st_mode) ? "a regular file" : wts_file_kind(sb.st_mode));
    return 0;
}

ifs_wts_model *wts_load_with(const char *dir, unsigned flags, const wts_load_opts *opts, char *err,
                             size_t errlen)
{
    size_t chunk = opts && opts->chunk ? opts->chunk : CHUNK;
    if (chunk < 8)
        chunk = 8; /* every element (at most 8 bytes) must fit in one chunk */
    if (err && errlen)
        err[0] = '\0';
    if (!dir) {
        wts_fail(err, errlen, IFS_WTS_EARG, "no checkpoint folder given");
        return NULL;
    }
    if (check_folder(dir, err, errlen))
        return NULL;
    ifs_wts_model *m = calloc(1, sizeof *m);
    source s = {.dir = dir, .prefix = ""};
    char *cfg_text = NULL, *cpath = join(dir, "config.json");
    char *st_path = join(dir, "model.safetensors");
    char *ix_path = join(dir, "model.safetensors.index.json");
    char *bin_path = join(dir, "pytorch_model.bin");
    unsigned char *buf = malloc(chunk);
    size_t cfg_len = 0;
    int hashing = 0;
    ifs_sha256_ctx hash;
    if (!m || !cpath || !st_path || !ix_path || !bin_path || !buf) {
        wts_fail(err, errlen, IFS_WTS_ENOMEM, "%s: out of memory", dir);
        goto fail;
    }
    if (!entry_exists(cpath)) {
        wts_fail(err, errlen, IFS_WTS_EIO, "%s: no config.json (not a HF checkpoint folder?)", dir);
        goto fail;
    }
    if (wts_read_file(cpath, "config.json", CONFIG_CAP, &cfg_text, &cfg_len, err, errlen) ||
        ifs_wts_parse_config(cfg_text, cfg_len, cpath, &m->w.cfg, err, errlen))
        goto fail;
    s.cfg = &m->w.cfg;
    if (entry_exists(st_path)) {
        if (open_single(&s, st_path, err, errlen))
            goto fail;
    } else if (entry_exists(ix_path)) {
        if (open_index(&s, ix_path, err, errlen))
            goto fail;
    } else if (entry_exists(bin_path)) {
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
    if (opts && opts->hook)
        opts->hook(opts->ctx, dir);
    int hrc = ifs_sha256_init(&hash);
    if (hrc)
        goto hash_fail;
    hashing = 1;
    ifs_sha256_update(&hash, cfg_text, cfg_len);
    for (size_t i = 0; i < s.n_shards; i++)
        if (stream_shard(&s, i, &hash, buf, chunk, err, errlen))
            goto fail;
    hashing = 0;
    if ((hrc = ifs_sha256_final_hex(&hash, m->fingerprint)))
        goto hash_fail;
    source_free(&s);
    free(buf);
    free(cfg_text);
    free(cpath);
    free(st_path);
    free(ix_path);
    free(bin_path);
    return m;
hash_fail:
    wts_fail(err, errlen, hrc == IFS_SHA256_ENOMEM ? IFS_WTS_ENOMEM : IFS_WTS_EIO,
             "%s: SHA-256 of the checkpoint: %s", dir, ifs_sha256_strerror(hrc));
fail:
    if (hashing)
        ifs_sha256_discard(&hash);
    source_free(&s);
    free(buf);
    free(cfg_text);
    free(cpath);
    free(st_path);
    free(ix_path);
    free(bin_path);
    ifs_wts_free(m);
    return NULL;
}

ifs_wts_model *ifs_wts_load(const char *dir, unsigned flags, char *err, size_t errlen)
{
    return wts_load_with(dir, flags, NULL, err, errlen);
}
