/*
 * test_real_checkpoint.c - the real all-MiniLM-L6-v2 checkpoint (a
 * BertModel: no "bert." prefix, an I64 position_ids tensor, a pooler, no
 * classifier) loads in IFS_WTS_ENCODER_ONLY mode with the right sizes, its
 * arrays equal the file's bytes, and the fingerprint is the SHA-256 of
 * config.json followed by model.safetensors. Skips (77) when setup has not
 * unpacked the checkpoint.
 */
#include <sys/stat.h>

#include "ifs_sha256.h"
#include "wts_fixture.h"

static int raw_equal(const ifs_wts_st *st, const char *name, const float *x, size_t n)
{
    const ifs_wts_tensor_info *t = ifs_wts_st_find(st, name);
    return t && !strcmp(t->dtype, "F32") && t->end - t->begin == n * 4 &&
           !memcmp(t->data, x, n * 4);
}

int main(void)
{
    char dir[4096], path[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/all-MiniLM-L6-v2",
             ifs_test_env("IFS_MODELS_DIR", ".cache/models"));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct stat sb;
    if (stat(path, &sb) != 0)
        IFS_SKIP("no %s (scripts/setup.sh unpacks all-MiniLM-L6-v2)", path);

    ifs_wts_model *m = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!m && fx_contains(err, "'classifier.weight' is missing"),
              "minilm_without_encoder_only_is_refused_naming_the_classifier: %s", err);
    ifs_wts_free(m);

    m = ifs_wts_load(dir, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    IFS_CHECK(m != NULL, "minilm_loads_encoder_only: %s", err);
    if (!m)
        return ifs_test_done("real_checkpoint");
    const ifs_bert_weights *w = ifs_wts_weights(m);
    const ifs_bert_config *c = &w->cfg;
    IFS_CHECK(c->n_layers == 6 && c->hidden == 384 && c->n_heads == 12 && c->intermediate == 1536 &&
                  c->vocab_size == 30522 && c->max_position == 512 && c->type_vocab == 2 &&
                  c->ln_eps == 1e-12f && c->act == IFS_ACT_GELU && c->num_labels == 2,
              "minilm_config_sizes_are_read");
    IFS_CHECK(w->pool_w && w->pool_b && !w->cls_w && !w->cls_b,
              "minilm_has_a_pooler_and_no_classifier");

    ifs_wts_st *st = ifs_wts_st_open(path, err, sizeof err);
    IFS_CHECK(st != NULL, "the reader opens the file alone: %s", err);
    if (st) {
        const ifs_wts_tensor_info *pid = ifs_wts_st_find(st, "embeddings.position_ids");
        IFS_CHECK(pid && !strcmp(pid->dtype, "I64"),
                  "the_i64_position_ids_tensor_is_validated_and_kept");
        size_t H = 384;
        IFS_CHECK(
            raw_equal(st, "embeddings.word_embeddings.weight", w->word_emb, 30522 * H) &&
                raw_equal(st, "embeddings.position_embeddings.weight", w->pos_emb, 512 * H) &&
                raw_equal(st, "encoder.layer.0.attention.self.query.weight", w->layers[0].q_w,
                          H * H) &&
                raw_equal(st, "encoder.layer.5.output.dense.weight", w->layers[5].o_w, H * 1536) &&
                raw_equal(st, "encoder.layer.5.output.LayerNorm.bias", w->layers[5].ln2_b, H) &&
                raw_equal(st, "pooler.dense.weight", w->pool_w, H * H),
            "loaded_f32_arrays_equal_the_file_bytes");
        ifs_wts_st_free(st);
    }

    ifs_sha256_ctx h;
    ifs_sha256_init(&h);
    const char *files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "rb");
        static unsigned char buf[1 << 16];
        size_t n;
        while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
            ifs_sha256_update(&h, buf, n);
        if (f)
            fclose(f);
    }
    char hex[65];
    ifs_sha256_final_hex(&h, hex);
    IFS_CHECK(!strcmp(hex, ifs_wts_fingerprint(m)),
              "fingerprint_is_sha256_of_config_then_weights (%s vs %s)", hex,
              ifs_wts_fingerprint(m));
    ifs_wts_free(m);
    return ifs_test_done("real_checkpoint");
}
