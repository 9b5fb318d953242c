/*
 * test_load.c - whole checkpoints: save -> load round trips in F32/F16/BF16,
 * byte-identical saves, the fingerprint, HF name variants (no "bert."
 * prefix, legacy LayerNorm gamma/beta), encoder-only checkpoints, sharded
 * checkpoints, and refusals that name the tensor: missing, mis-shaped,
 * wrong dtype, NaN/Inf, bad index, pytorch_model.bin only.
 */
#include <math.h>

#include "ifs_sha256.h"
#include "wts_fixture.h"

/* ---- a raw safetensors writer, so tests control names, dtypes and shapes --- */

typedef struct {
    char name[128];
    const char *dtype;   /* "F32", "F16", "I64", ... */
    int ndim;
    int64_t shape[2];
    const void *data;
    size_t nbytes;
} raw_t;

typedef struct {
    raw_t t[128];
    int n;
    unsigned char *owned[128];
    int n_owned;
} raw_list;

static void raw_add(raw_list *l, const char *name, const float *data, int64_t d0, int64_t d1)
{
    raw_t *t = &l->t[l->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = "F32";
    t->ndim = d1 > 0 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1 > 0 ? d1 : 0;
    t->data = data;
    t->nbytes = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1) * 4;
}

/* Every tensor of m with HF names: prefix "bert." or "", legacy LN names. */
static void raw_from_model(raw_list *l, const fx_model *m, const char *prefix, int legacy)
{
    const ifs_bert_weights *w = &m->w;
    const ifs_bert_config *c = &w->cfg;
    char n[128];
    const char *g = legacy ? "gamma" : "weight", *b = legacy ? "beta" : "bias";
    memset(l, 0, sizeof *l);
#define ADD(d, d0, d1, ...) do { snprintf(n, sizeof n, __VA_ARGS__); raw_add(l, n, d, d0, d1); } while (0)
    ADD(w->word_emb, c->vocab_size, c->hidden, "%sembeddings.word_embeddings.weight", prefix);
    ADD(w->pos_emb, c->max_position, c->hidden, "%sembeddings.position_embeddings.weight", prefix);
    ADD(w->type_emb, c->type_vocab, c->hidden, "%sembeddings.token_type_embeddings.weight", prefix);
    ADD(w->emb_ln_g, c->hidden, 0, "%sembeddings.LayerNorm.%s", prefix, g);
    ADD(w->emb_ln_b, c->hidden, 0, "%sembeddings.LayerNorm.%s", prefix, b);
    for (int i = 0; i < c->n_layers; i++) {
        const ifs_bert_layer *L = &w->layers[i];
        int H = c->hidden, I = c->intermediate;
        ADD(L->q_w, H, H, "%sencoder.layer.%d.attention.self.query.weight", prefix, i);
        ADD(L->q_b, H, 0, "%sencoder.layer.%d.attention.self.query.bias", prefix, i);
        ADD(L->k_w, H, H, "%sencoder.layer.%d.attention.self.key.weight", prefix, i);
        ADD(L->k_b, H, 0, "%sencoder.layer.%d.attention.self.key.bias", prefix, i);
        ADD(L->v_w, H, H, "%sencoder.layer.%d.attention.self.value.weight", prefix, i);
        ADD(L->v_b, H, 0, "%sencoder.layer.%d.attention.self.value.bias", prefix, i);
        ADD(L->ao_w, H, H, "%sencoder.layer.%d.attention.output.dense.weight", prefix, i);
        ADD(L->ao_b, H, 0, "%sencoder.layer.%d.attention.output.dense.bias", prefix, i);
        ADD(L->ln1_g, H, 0, "%sencoder.layer.%d.attention.output.LayerNorm.%s", prefix, i, g);
        ADD(L->ln1_b, H, 0, "%sencoder.layer.%d.attention.output.LayerNorm.%s", prefix, i, b);
        ADD(L->i_w, I, H, "%sencoder.layer.%d.intermediate.dense.weight", prefix, i);
        ADD(L->i_b, I, 0, "%sencoder.layer.%d.intermediate.dense.bias", prefix, i);
        ADD(L->o_w, H, I, "%sencoder.layer.%d.output.dense.weight", prefix, i);
        ADD(L->o_b, H, 0, "%sencoder.layer.%d.output.dense.bias", prefix, i);
        ADD(L->ln2_g, H, 0, "%sencoder.layer.%d.output.LayerNorm.%s", prefix, i, g);
        ADD(L->ln2_b, H, 0, "%sencoder.layer.%d.output.LayerNorm.%s", prefix, i, b);
    }
    ADD(w->pool_w, c->hidden, c->hidden, "%spooler.dense.weight", prefix);
    ADD(w->pool_b, c->hidden, 0, "%spooler.dense.bias", prefix);
    ADD(w->cls_w, c->num_labels, c->hidden, "classifier.weight");
    ADD(w->cls_b, c->num_labels, 0, "classifier.bias");
#undef ADD
}

static raw_t *raw_find(raw_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->t[i].name, name))
            return &l->t[i];
    fprintf(stderr, "test bug: no tensor %s\n", name);
    exit(1);
}

static void raw_remove(raw_list *l, const char *name)
{
    raw_t *t = raw_find(l, name);
    int i = (int)(t - l->t);
    memmove(&l->t[i], &l->t[i + 1], (size_t)(l->n - i - 1) * sizeof *t);
    l->n--;
}

/* A private copy of a tensor's bytes the case may edit. */
static unsigned char *raw_own(raw_list *l, raw_t *t)
{
    unsigned char *p = malloc(t->nbytes ? t->nbytes : 1);
    memcpy(p, t->data, t->nbytes);
    t->data = p;
    l->owned[l->n_owned++] = p;
    return p;
}

static void raw_free(raw_list *l)
{
    for (int i = 0; i < l->n_owned; i++)
        free(l->owned[i]);
    l->n_owned = 0;
}

/* Writes tensors [from, to) of l to path, offsets back to back. */
static void raw_write(const raw_list *l, int from, int to, const char *path)
{
    size_t cap = 1 << 16, k = 0;
    char *h = malloc(cap);
    k += (size_t)snprintf(h + k, cap - k, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int i = from; i < to; i++) {
        const raw_t *t = &l->t[i];
        k += (size_t)snprintf(h + k, cap - k, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld", t->name,
                              t->dtype, (long long)t->shape[0]);
        if (t->ndim == 2)
            k += (size_t)snprintf(h + k, cap - k, ",%lld", (long long)t->shape[1]);
        k += (size_t)snprintf(h + k, cap - k, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        off += t->nbytes;
    }
    k += (size_t)snprintf(h + k, cap - k, "}");
    unsigned char *data = malloc(off ? off : 1);
    off = 0;
    for (int i = from; i < to; i++) {
        memcpy(data + off, l->t[i].data, l->t[i].nbytes);
        off += l->t[i].nbytes;
    }
    size_t len;
    unsigned char *b = fx_st_bytes(h, UINT64_MAX, data, off, &len);
    fx_write(path, b, len);
    free(b);
    free(data);
    free(h);
}

/* ---- helpers ----------------------------------------------------------- */

static char *path_in(const char *dir, const char *name)
{
    static char buf[4][4300];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 4300, "%s/%s", dir, name);
    return p;
}

static void write_config(const char *dir, const ifs_bert_config *c)
{
    char err[256];
    if (ifs_wts_write_config(path_in(dir, "config.json"), c, err, sizeof err)) {
        fprintf(stderr, "write_config: %s\n", err);
        exit(1);
    }
}

typedef float (*rounder)(float);
static float keep(float f) { return f; }
static float via_f16(float f) { return ifs_wts_f16_to_f32(ifs_wts_f32_to_f16(f)); }
static float via_bf16(float f) { return ifs_wts_bf16_to_f32(ifs_wts_f32_to_bf16(f)); }

static int same(const float *a, const float *b, size_t n, rounder r)
{
    if (!a || !b)
        return a == b;
    for (size_t i = 0; i < n; i++) {
        float x = r(a[i]);
        if (memcmp(&x, &b[i], 4))
            return 0;
    }
    return 1;
}

/* 1 when every array of `got` equals `want` after rounding by r. */
static int weights_equal(const ifs_bert_weights *want, const ifs_bert_weights *got, rounder r)
{
    const ifs_bert_config *c = &want->cfg;
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate;
    int ok = same(want->word_emb, got->word_emb, (size_t)c->vocab_size * H, r) &&
             same(want->pos_emb, got->pos_emb, (size_t)c->max_position * H, r) &&
             same(want->type_emb, got->type_emb, (size_t)c->type_vocab * H, r) &&
             same(want->emb_ln_g, got->emb_ln_g, H, r) && same(want->emb_ln_b, got->emb_ln_b, H, r);
    for (int l = 0; ok && l < c->n_layers; l++) {
        const ifs_bert_layer *a = &want->layers[l], *b = &got->layers[l];
        ok = same(a->q_w, b->q_w, H * H, r) && same(a->q_b, b->q_b, H, r) &&
             same(a->k_w, b->k_w, H * H, r) && same(a->k_b, b->k_b, H, r) &&
             same(a->v_w, b->v_w, H * H, r) && same(a->v_b, b->v_b, H, r) &&
             same(a->ao_w, b->ao_w, H * H, r) && same(a->ao_b, b->ao_b, H, r) &&
             same(a->ln1_g, b->ln1_g, H, r) && same(a->ln1_b, b->ln1_b, H, r) &&
             same(a->i_w, b->i_w, I * H, r) && same(a->i_b, b->i_b, I, r) &&
             same(a->o_w, b->o_w, H * I, r) && same(a->o_b, b->o_b, H, r) &&
             same(a->ln2_g, b->ln2_g, H, r) && same(a->ln2_b, b->ln2_b, H, r);
    }
    return ok && same(want->pool_w, got->pool_w, H * H, r) &&
           same(want->pool_b, got->pool_b, H, r) &&
           same(want->cls_w, got->cls_w, (size_t)c->num_labels * H, r) &&
           same(want->cls_b, got->cls_b, (size_t)c->num_labels, r) &&
           got->cfg.n_layers == c->n_layers && got->cfg.num_labels == c->num_labels &&
           !strcmp(got->cfg.labels[1], c->labels[1]);
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int x = fgetc(fa), y = fgetc(fb);
        if (x != y)
            eq = 0;
        if (x == EOF || y == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return eq;
}

static void hash_files(char hex[65], const char *const *paths, int n)
{
    ifs_sha256_ctx c;
    ifs_sha256_init(&c);
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        unsigned char buf[4096];
        size_t k;
        while (f && (k = fread(buf, 1, sizeof buf, f)) > 0)
            ifs_sha256_update(&c, buf, k);
        if (f)
            fclose(f);
    }
    ifs_sha256_final_hex(&c, hex);
}

/* ---- cases ---------------------------------------------------------------- */

static void save_load_round_trips(void)
{
    static const struct { const char *name; ifs_wts_dtype dt; rounder r; } dts[] = {
        {"f32_save_then_load_is_bit_exact", IFS_WTS_F32, keep},
        {"f16_save_then_load_equals_the_f16_rounded_values", IFS_WTS_F16, via_f16},
        {"bf16_save_then_load_equals_the_bf16_rounded_values", IFS_WTS_BF16, via_bf16},
    };
    fx_model m;
    fx_model_init(&m, 2, 3, 42);
    for (size_t i = 0; i < 3; i++) {
        char name[64], err[1024];
        snprintf(name, sizeof name, "rt_%zu", i);
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", fx_dir(name));
        int rc = ifs_wts_save(dir, &m.w, dts[i].dt, err, sizeof err);
        IFS_CHECK(rc == 0, "%s: save failed: %s", dts[i].name, err);
        ifs_wts_model *got = ifs_wts_load(dir, 0, err, sizeof err);
        IFS_CHECK(got != NULL, "%s: load failed: %s", dts[i].name, err);
        if (got) {
            IFS_CHECK(weights_equal(&m.w, ifs_wts_weights(got), dts[i].r), "%s", dts[i].name);
            const char *files[] = {path_in(dir, "config.json"), path_in(dir, "model.safetensors")};
            char hex[65];
            hash_files(hex, files, 2);
            IFS_CHECK(!strcmp(hex, ifs_wts_fingerprint(got)),
                      "fingerprint_is_sha256_of_config_then_weights (%s vs %s)", hex,
                      ifs_wts_fingerprint(got));
        }
        ifs_wts_free(got);
        /* a second save into another folder gives the same bytes */
        snprintf(name, sizeof name, "rt_again_%zu", i);
        char dir2[4200];
        snprintf(dir2, sizeof dir2, "%s", fx_dir(name));
        rc = ifs_wts_save(dir2, &m.w, dts[i].dt, err, sizeof err);
        IFS_CHECK(rc == 0 && files_equal(path_in(dir, "model.safetensors"),
                                         path_in(dir2, "model.safetensors")) &&
                      files_equal(path_in(dir, "config.json"), path_in(dir2, "config.json")),
                  "same_weights_save_to_byte_identical_files (%zu)", i);
    }
    /* encoder-only checkpoints */
    fx_model e;
    fx_model_init(&e, 1, 2, 7);
    e.w.cls_w = e.w.cls_b = NULL;
    const char *dir = fx_dir("encoder_only");
    char err[1024];
    IFS_CHECK(ifs_wts_save(dir, &e.w, IFS_WTS_F32, err, sizeof err) == 0, "save encoder: %s", err);
    ifs_wts_model *got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "'classifier.weight' is missing") &&
                  fx_contains(err, "gen-model --encoder"),
              "a_checkpoint_without_classifier_needs_encoder_only: %s", err);
    ifs_wts_free(got);
    got = ifs_wts_load(dir, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    IFS_CHECK(got && ifs_wts_weights(got)->cls_w == NULL && ifs_wts_weights(got)->pool_w != NULL &&
                  weights_equal(&e.w, ifs_wts_weights(got), keep),
              "encoder_only_loads_the_pooler_and_leaves_the_classifier_null: %s", got ? "" : err);
    ifs_wts_free(got);
    e.w.pool_w = e.w.pool_b = NULL;
    dir = fx_dir("encoder_no_pooler");
    IFS_CHECK(ifs_wts_save(dir, &e.w, IFS_WTS_F32, err, sizeof err) == 0, "save encoder: %s", err);
    got = ifs_wts_load(dir, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    IFS_CHECK(got && !ifs_wts_weights(got)->pool_w && !ifs_wts_weights(got)->cls_w,
              "encoder_only_without_pooler_loads_with_null_pooler: %s", got ? "" : err);
    ifs_wts_free(got);
    fx_model_free(&e);
    fx_model_free(&m);
}

typedef enum { EDIT_NONE, EDIT_REMOVE, EDIT_RESHAPE, EDIT_NAN, EDIT_INF, EDIT_F64, EDIT_F16_INF,
               EDIT_ADD_I64, EDIT_ADD_UNUSED_F32, EDIT_HALF_POOLER } edit_kind;

typedef struct {
    const char *name;
    const char *prefix;
    int legacy;
    edit_kind edit;
    const char *tensor;   /* the tensor the edit applies to (full name) */
    unsigned flags;
    int status;           /* 0 = loads (and equals the model) */
    const char *want[3];
} ckpt_case;

static const ckpt_case CKPT[] = {
    {"names_without_the_bert_prefix_load", "", 0, EDIT_NONE, NULL, 0, 0, {0}},
    {"legacy_layernorm_gamma_beta_names_load", "bert.", 1, EDIT_NONE, NULL, 0, 0, {0}},
    {"legacy_names_without_prefix_load", "", 1, EDIT_NONE, NULL, 0, 0, {0}},
    {"an_unused_int64_tensor_is_ignored", "", 0, EDIT_ADD_I64, "embeddings.position_ids", 0, 0, {0}},
    {"an_unused_extra_f32_tensor_is_ignored", "bert.", 0, EDIT_ADD_UNUSED_F32,
     "cls.predictions.bias", 0, 0, {0}},
    {"a_missing_tensor_is_named", "bert.", 0, EDIT_REMOVE, "bert.encoder.layer.1.output.dense.bias",
     0, IFS_WTS_EMODEL, {"'bert.encoder.layer.1.output.dense.bias' is missing", "model.safetensors"}},
    {"a_missing_pooler_is_named_without_encoder_only", "bert.", 0, EDIT_REMOVE,
     "bert.pooler.dense.weight", 0, IFS_WTS_EMODEL, {"'bert.pooler.dense.weight' is missing"}},
    {"half_a_pooler_is_refused_even_encoder_only", "bert.", 0, EDIT_HALF_POOLER,
     "bert.pooler.dense.bias", IFS_WTS_ENCODER_ONLY, IFS_WTS_EMODEL, {"pooler"}},
    {"a_mis_shaped_tensor_is_named_with_both_shapes", "bert.", 0, EDIT_RESHAPE,
     "bert.encoder.layer.0.intermediate.dense.weight", 0, IFS_WTS_EMODEL,
     {"'bert.encoder.layer.0.intermediate.dense.weight'", "has shape [8, 16]",
      "config.json implies [16, 8]"}},
    {"a_classifier_disagreeing_with_id2label_is_refused", "bert.", 0, EDIT_RESHAPE,
     "classifier.weight", 0, IFS_WTS_EMODEL, {"'classifier.weight'", "implies [3, 8]"}},
    {"a_nan_weight_is_named_with_its_element_and_byte", "bert.", 0, EDIT_NAN,
     "bert.encoder.layer.1.attention.self.key.weight", 0, IFS_WTS_EMODEL,
     {"'bert.encoder.layer.1.attention.self.key.weight' element 5", "is NaN", "(byte "}},
    {"an_infinite_bias_is_named", "bert.", 0, EDIT_INF, "classifier.bias", 0, IFS_WTS_EMODEL,
     {"'classifier.bias' element 2", "is Inf"}},
    {"an_f16_overflow_to_inf_is_refused_after_conversion", "bert.", 0, EDIT_F16_INF,
     "bert.embeddings.LayerNorm.weight", 0, IFS_WTS_EMODEL,
     {"'bert.embeddings.LayerNorm.weight' element 5", "is Inf"}},
    {"a_used_tensor_in_f64_is_refused_by_dtype", "bert.", 0, EDIT_F64,
     "bert.embeddings.token_type_embeddings.weight", 0, IFS_WTS_EUNSUP,
     {"'bert.embeddings.token_type_embeddings.weight'", "dtype F64", "F32, F16 or BF16"}},
};

static void run_ckpt_case(const ckpt_case *k, const fx_model *m)
{
    raw_list l;
    raw_from_model(&l, m, k->prefix, k->legacy);
    raw_t *t = k->tensor && k->edit != EDIT_ADD_I64 && k->edit != EDIT_ADD_UNUSED_F32
                   ? raw_find(&l, k->tensor)
                   : NULL;
    static const int64_t pos_ids[4] = {0, 1, 2, 3};
    static const float extra[3] = {1, 2, 3};
    switch (k->edit) {
    case EDIT_NONE: break;
    case EDIT_REMOVE: raw_remove(&l, k->tensor); break;
    case EDIT_HALF_POOLER: raw_remove(&l, k->tensor);
        raw_remove(&l, "classifier.weight");
        raw_remove(&l, "classifier.bias");
        break;
    case EDIT_RESHAPE: {
        int64_t d = t->shape[0];
        t->shape[0] = t->shape[1];
        t->shape[1] = d;
        if (!strcmp(k->tensor, "classifier.weight")) { /* 2 rows instead of 3 */
            t->shape[0] = 2;
            t->shape[1] = 8;
            t->nbytes = 2 * 8 * 4;
        }
        break;
    }
    case EDIT_NAN:
    case EDIT_INF: {
        float v = k->edit == EDIT_NAN ? NAN : -INFINITY;
        size_t at = t->nbytes / 4 > 5 ? 5 : t->nbytes / 4 - 1; /* the last of a short one */
        memcpy(raw_own(&l, t) + at * 4, &v, 4);
        break;
    }
    case EDIT_F16_INF: {
        size_t n = t->nbytes / 4;
        unsigned char *p = raw_own(&l, t);
        const float *src = t == NULL ? NULL : (const float *)m->w.emb_ln_g;
        for (size_t i = 0; i < n; i++) {
            uint16_t h = ifs_wts_f32_to_f16(i == 5 ? 1e6f : src[i]);
            p[2 * i] = (unsigned char)h;
            p[2 * i + 1] = (unsigned char)(h >> 8);
        }
        t->dtype = "F16";
        t->nbytes = n * 2;
        break;
    }
    case EDIT_F64: {
        size_t n = t->nbytes / 4;
        double *p = malloc(n * sizeof *p);
        for (size_t i = 0; i < n; i++)
            p[i] = ((const float *)t->data)[i];
        t->data = p;
        l.owned[l.n_owned++] = (unsigned char *)p;
        t->dtype = "F64";
        t->nbytes = n * 8;
        break;
    }
    case EDIT_ADD_I64: {
        raw_t *x = &l.t[l.n++];
        snprintf(x->name, sizeof x->name, "%s", k->tensor);
        x->dtype = "I64", x->ndim = 2, x->shape[0] = 1, x->shape[1] = 4;
        x->data = pos_ids, x->nbytes = sizeof pos_ids;
        /* put it first, as the real MiniLM file has it */
        raw_t tmp = *x;
        memmove(&l.t[1], &l.t[0], (size_t)(l.n - 1) * sizeof tmp);
        l.t[0] = tmp;
        break;
    }
    case EDIT_ADD_UNUSED_F32:
        raw_add(&l, k->tensor, extra, 3, 0);
        break;
    }
    char name[64];
    snprintf(name, sizeof name, "ck_%s", k->name);
    name[40] = '\0';
    const char *dir = fx_dir(name);
    write_config(dir, &m->w.cfg);
    raw_write(&l, 0, l.n, path_in(dir, "model.safetensors"));
    char err[1024] = "";
    ifs_wts_model *got = ifs_wts_load(dir, k->flags, err, sizeof err);
    if (k->status == 0) {
        IFS_CHECK(got != NULL, "%s: refused: %s", k->name, err);
        if (got)
            IFS_CHECK(weights_equal(&m->w, ifs_wts_weights(got), keep), "%s: values differ",
                      k->name);
    } else {
        IFS_CHECK(got == NULL, "%s: loaded a bad checkpoint", k->name);
        for (int i = 0; i < 3 && k->want[i]; i++)
            IFS_CHECK(fx_contains(err, k->want[i]), "%s: message lacks \"%s\": %s", k->name,
                      k->want[i], err);
        IFS_CHECK(fx_contains(err, dir), "%s: message does not name the folder: %s", k->name, err);
    }
    ifs_wts_free(got);
    raw_free(&l);
}

static void sharded(const fx_model *m)
{
    raw_list l;
    raw_from_model(&l, m, "bert.", 0);
    int cut = 5 + 16; /* embeddings + layer 0 in shard 1 */
    const char *s1 = "model-00001-of-00002.safetensors", *s2 = "model-00002-of-00002.safetensors";
    char index[16384];
    struct { const char *name; int mode; const char *want; } cases[] = {
        {"a_sharded_checkpoint_with_an_index_loads", 0, NULL},
        {"an_index_pointing_outside_the_folder_is_refused", 1, "plain file name"},
        {"an_index_naming_the_wrong_shard_names_the_tensor", 2,
         "'bert.encoder.layer.1.output.dense.bias' is missing (model.safetensors.index.json"},
        {"an_index_naming_a_missing_shard_is_refused", 3, "cannot open"},
        {"a_tensor_in_two_shards_is_refused", 4, "appears in both"},
        {"an_index_without_weight_map_is_refused", 5, "'weight_map'"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[32];
        snprintf(name, sizeof name, "shard_%zu", c);
        const char *dir = fx_dir(name);
        write_config(dir, &m->w.cfg);
        raw_write(&l, 0, cut, path_in(dir, s1));
        raw_write(&l, cases[c].mode == 4 ? cut - 1 : cut, l.n, path_in(dir, s2));
        size_t k = (size_t)snprintf(index, sizeof index,
                                    "{\"metadata\":{\"total_size\":1},\"weight_map\":{");
        for (int i = 0; i < l.n; i++) {
            const char *file = i < cut ? s1 : s2;
            if (cases[c].mode == 1 && i == 3)
                file = "../escape.safetensors";
            if (cases[c].mode == 2 && !strcmp(l.t[i].name, "bert.encoder.layer.1.output.dense.bias"))
                file = s1;
            if (cases[c].mode == 3 && i == l.n - 1)
                file = "model-00003-of-00002.safetensors";
            k += (size_t)snprintf(index + k, sizeof index - k, "%s\"%s\":\"%s\"", i ? "," : "",
                                  l.t[i].name, file);
        }
        snprintf(index + k, sizeof index - k, "}}");
        if (cases[c].mode == 5)
            snprintf(index, sizeof index, "{\"metadata\":{}}");
        fx_write_text(path_in(dir, "model.safetensors.index.json"), index);
        char err[1024] = "";
        ifs_wts_model *got = ifs_wts_load(dir, 0, err, sizeof err);
        if (!cases[c].want) {
            IFS_CHECK(got && weights_equal(&m->w, ifs_wts_weights(got), keep), "%s: %s",
                      cases[c].name, got ? "values differ" : err);
            if (got) {
                const char *files[] = {path_in(dir, "config.json"), path_in(dir, s1),
                                       path_in(dir, s2)};
                char hex[65];
                hash_files(hex, files, 3);
                IFS_CHECK(!strcmp(hex, ifs_wts_fingerprint(got)),
                          "sharded_fingerprint_hashes_config_then_shards_in_name_order");
            }
        } else {
            IFS_CHECK(!got && fx_contains(err, cases[c].want), "%s: %s", cases[c].name,
                      got ? "loaded" : err);
        }
        ifs_wts_free(got);
    }
    raw_free(&l);
}

static void folder_level_refusals(const fx_model *m)
{
    char err[1024];
    const char *dir = fx_dir("only_bin");
    write_config(dir, &m->w.cfg);
    fx_write_text(path_in(dir, "pytorch_model.bin"), "PK\003\004 not really");
    ifs_wts_model *got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "pytorch_model.bin") && fx_contains(err, "save_pretrained") &&
                  fx_contains(err, "safe_serialization=True"),
              "pytorch_model_bin_only_is_refused_with_the_conversion_command: %s", err);
    dir = fx_dir("no_weights");
    write_config(dir, &m->w.cfg);
    got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "no model.safetensors"), "a_folder_without_weights_is_refused: %s",
              err);
    dir = fx_dir("no_config");
    got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "no config.json"), "a_folder_without_config_is_refused: %s", err);
    got = ifs_wts_load(NULL, 0, err, sizeof err);
    IFS_CHECK(!got, "a_null_folder_is_refused");

    dir = fx_dir("roberta");
    fx_write_text(path_in(dir, "config.json"), "{\"model_type\":\"roberta\"}");
    fx_write_text(path_in(dir, "model.safetensors"), "");
    got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "roberta") && fx_contains(err, "config.json"),
              "an_unsupported_config_stops_the_load_before_the_weights: %s", err);

    /* a corrupt weights file: the reader's message comes through with the path */
    dir = fx_dir("trailing");
    char e2[1024];
    IFS_CHECK(ifs_wts_save(dir, &m->w, IFS_WTS_F32, e2, sizeof e2) == 0, "save: %s", e2);
    FILE *f = fopen(path_in(dir, "model.safetensors"), "ab");
    if (f) {
        fputs("xx", f);
        fclose(f);
    }
    got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "model.safetensors") && fx_contains(err, "2 trailing bytes"),
              "a_corrupt_weights_file_is_refused_with_its_path: %s", err);
    ifs_wts_free(NULL);
    IFS_CHECK(ifs_wts_weights(NULL) == NULL && ifs_wts_fingerprint(NULL) == NULL,
              "accessors_accept_null");
}

int main(void)
{
    save_load_round_trips();
    fx_model m;
    fx_model_init(&m, 2, 3, 99);
    for (size_t i = 0; i < sizeof CKPT / sizeof CKPT[0]; i++)
        run_ckpt_case(&CKPT[i], &m);
    sharded(&m);
    folder_level_refusals(&m);
    fx_model_free(&m);
    return ifs_test_done("load");
}
