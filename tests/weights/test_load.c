/*
 * test_load.c - whole checkpoints: save -> load round trips in F32/F16/BF16,
 * byte-identical saves, the fingerprint, HF name variants (no "bert."
 * prefix, legacy LayerNorm gamma/beta), encoder-only checkpoints, sharded
 * checkpoints, and refusals that name the tensor: missing, mis-shaped,
 * wrong dtype, NaN/Inf, bad index, pytorch_model.bin only.
 */
#include "raw_fixture.h"

/* ---- cases ---------------------------------------------------------------- */

static void save_load_round_trips(void)
{
    static const struct {
        const char *name;
        ifs_wts_dtype dt;
        rounder r;
    } dts[] = {
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
        IFS_CHECK(rc == 0 &&
                      files_equal(path_in(dir, "model.safetensors"),
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

typedef enum {
    EDIT_NONE,
    EDIT_REMOVE,
    EDIT_RESHAPE,
    EDIT_NAN,
    EDIT_INF,
    EDIT_F64,
    EDIT_F16_INF,
    EDIT_ADD_I64,
    EDIT_ADD_UNUSED_F32,
    EDIT_HALF_POOLER
} edit_kind;

typedef struct {
    const char *name;
    const char *prefix;
    int legacy;
    edit_kind edit;
    const char *tensor; /* the tensor the edit applies to (full name) */
    unsigned flags;
    int status; /* 0 = loads (and equals the model) */
    const char *want[3];
} ckpt_case;

static const ckpt_case CKPT[] = {
    {"names_without_the_bert_prefix_load", "", 0, EDIT_NONE, NULL, 0, 0, {0}},
    {"legacy_layernorm_gamma_beta_names_load", "bert.", 1, EDIT_NONE, NULL, 0, 0, {0}},
    {"legacy_names_without_prefix_load", "", 1, EDIT_NONE, NULL, 0, 0, {0}},
    {"an_unused_int64_tensor_is_ignored",
     "",
     0,
     EDIT_ADD_I64,
     "embeddings.position_ids",
     0,
     0,
     {0}},
    {"an_unused_extra_f32_tensor_is_ignored",
     "bert.",
     0,
     EDIT_ADD_UNUSED_F32,
     "cls.predictions.bias",
     0,
     0,
     {0}},
    {"a_missing_tensor_is_named",
     "bert.",
     0,
     EDIT_REMOVE,
     "bert.encoder.layer.1.output.dense.bias",
     0,
     IFS_WTS_EMODEL,
     {"'bert.encoder.layer.1.output.dense.bias' is missing", "model.safetensors"}},
    {"a_missing_pooler_is_named_without_encoder_only",
     "bert.",
     0,
     EDIT_REMOVE,
     "bert.pooler.dense.weight",
     0,
     IFS_WTS_EMODEL,
     {"'bert.pooler.dense.weight' is missing"}},
    {"half_a_pooler_is_refused_even_encoder_only",
     "bert.",
     0,
     EDIT_HALF_POOLER,
     "bert.pooler.dense.bias",
     IFS_WTS_ENCODER_ONLY,
     IFS_WTS_EMODEL,
     {"pooler"}},
    {"a_mis_shaped_tensor_is_named_with_both_shapes",
     "bert.",
     0,
     EDIT_RESHAPE,
     "bert.encoder.layer.0.intermediate.dense.weight",
     0,
     IFS_WTS_EMODEL,
     {"'bert.encoder.layer.0.intermediate.dense.weight'", "has shape [8, 16]",
      "config.json implies [16, 8]"}},
    {"a_classifier_disagreeing_with_id2label_is_refused",
     "bert.",
     0,
     EDIT_RESHAPE,
     "classifier.weight",
     0,
     IFS_WTS_EMODEL,
     {"'classifier.weight'", "implies [3, 8]"}},
    {"a_nan_weight_is_named_with_its_element_and_byte",
     "bert.",
     0,
     EDIT_NAN,
     "bert.encoder.layer.1.attention.self.key.weight",
     0,
     IFS_WTS_EMODEL,
     {"'bert.encoder.layer.1.attention.self.key.weight' element 5", "is NaN", "(byte "}},
    {"an_infinite_bias_is_named",
     "bert.",
     0,
     EDIT_INF,
     "classifier.bias",
     0,
     IFS_WTS_EMODEL,
     {"'classifier.bias' element 2", "is Inf"}},
    {"an_f16_overflow_to_inf_is_refused_after_conversion",
     "bert.",
     0,
     EDIT_F16_INF,
     "bert.embeddings.LayerNorm.weight",
     0,
     IFS_WTS_EMODEL,
     {"'bert.embeddings.LayerNorm.weight' element 5", "is Inf"}},
    {"a_used_tensor_in_f64_is_refused_by_dtype",
     "bert.",
     0,
     EDIT_F64,
     "bert.embeddings.token_type_embeddings.weight",
     0,
     IFS_WTS_EUNSUP,
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
    case EDIT_HALF_POOLER:
        raw_remove(&l, k->tensor);
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
    case EDIT_ADD_UNUSED_F32: raw_add(&l, k->tensor, extra, 3, 0); break;
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
    struct {
        const char *name;
        int mode;
        const char *want;
    } cases[] = {
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
            if (cases[c].mode == 2 &&
                !strcmp(l.t[i].name, "bert.encoder.layer.1.output.dense.bias"))
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
    IFS_CHECK(!got && fx_contains(err, "pytorch_model.bin") &&
                  fx_contains(err, "save_pretrained") &&
                  fx_contains(err, "safe_serialization=True"),
              "pytorch_model_bin_only_is_refused_with_the_conversion_command: %s", err);
    dir = fx_dir("no_weights");
    write_config(dir, &m->w.cfg);
    got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "no model.safetensors"),
              "a_folder_without_weights_is_refused: %s", err);
    dir = fx_dir("no_config");
    got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "no config.json"), "a_folder_without_config_is_refused: %s",
              err);
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
