/*
 * test_gen_model_encoder.c - `ifscore gen-model --encoder`: a real encoder
 * (all-MiniLM-L6-v2) plus a seeded head. The encoder's arrays and pooler are
 * kept bit for bit, only the classifier is drawn, the tokenizer files are
 * copied, and the same seed gives byte-identical files. Skips (77) without
 * the checkpoint or the binary.
 */
#include <sys/stat.h>

#include "gen_fixture.h"

static int same(const float *a, const float *b, size_t n)
{
    return a && b && !memcmp(a, b, n * 4);
}

int main(void)
{
    gen_need_binary();
    char enc[4096], path[4200], err[1024];
    snprintf(enc, sizeof enc, "%s/all-MiniLM-L6-v2",
             ifs_test_env("IFS_MODELS_DIR", ".cache/models"));
    snprintf(path, sizeof path, "%s/model.safetensors", enc);
    struct stat sb;
    if (stat(path, &sb) != 0)
        IFS_SKIP("no %s (scripts/setup.sh unpacks all-MiniLM-L6-v2)", path);

    char a[4200], b[4200], args[9000];
    snprintf(a, sizeof a, "%s", fx_dir("genc_a"));
    snprintf(b, sizeof b, "%s", fx_dir("genc_b"));
    snprintf(args, sizeof args, "--out '%s' --seed 21 --encoder '%s' --labels 3", a, enc);
    IFS_CHECK(gen_run(args) == 0, "gen-model --encoder runs: %s", args);
    snprintf(args, sizeof args, "--out '%s' --seed 21 --encoder '%s' --labels 3", b, enc);
    IFS_CHECK(gen_run(args) == 0, "gen-model --encoder runs twice");
    static const char *files[] = {"config.json", "model.safetensors", "vocab.txt",
                                  "tokenizer_config.json"};
    char pa[4300], pb[4300], pe[4300];
    for (int i = 0; i < 4; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        IFS_CHECK(gen_files_equal(pa, pb), "same_seed_gives_byte_identical_%s", files[i]);
    }
    for (int i = 2; i < 4; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pe, sizeof pe, "%s/%s", enc, files[i]);
        struct stat s2;
        if (stat(pe, &s2) == 0)
            IFS_CHECK(gen_files_equal(pa, pe), "the_encoders_%s_is_copied", files[i]);
    }

    ifs_wts_model *src = ifs_wts_load(enc, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    IFS_CHECK(src != NULL, "the encoder loads: %s", err);
    ifs_wts_model *got = ifs_wts_load(a, 0, err, sizeof err);
    IFS_CHECK(got != NULL, "the_result_loads_as_a_full_classifier: %s", err);
    if (src && got) {
        const ifs_bert_weights *s = ifs_wts_weights(src), *g = ifs_wts_weights(got);
        size_t H = (size_t)s->cfg.hidden, I = (size_t)s->cfg.intermediate;
        int ok = same(s->word_emb, g->word_emb, (size_t)s->cfg.vocab_size * H) &&
                 same(s->pos_emb, g->pos_emb, (size_t)s->cfg.max_position * H) &&
                 same(s->type_emb, g->type_emb, (size_t)s->cfg.type_vocab * H) &&
                 same(s->emb_ln_g, g->emb_ln_g, H) && same(s->emb_ln_b, g->emb_ln_b, H) &&
                 same(s->pool_w, g->pool_w, H * H) && same(s->pool_b, g->pool_b, H);
        for (int l = 0; ok && l < s->cfg.n_layers; l++) {
            const ifs_bert_layer *x = &s->layers[l], *y = &g->layers[l];
            ok = same(x->q_w, y->q_w, H * H) && same(x->k_b, y->k_b, H) &&
                 same(x->v_w, y->v_w, H * H) && same(x->ao_w, y->ao_w, H * H) &&
                 same(x->ln1_g, y->ln1_g, H) && same(x->i_w, y->i_w, I * H) &&
                 same(x->o_w, y->o_w, H * I) && same(x->ln2_b, y->ln2_b, H);
        }
        IFS_CHECK(ok, "the_encoder_and_its_pooler_are_kept_bit_for_bit");
        IFS_CHECK(g->cfg.num_labels == 3 && g->cls_w && g->cls_b &&
                      g->cfg.n_layers == s->cfg.n_layers && g->cfg.ln_eps == s->cfg.ln_eps,
                  "a_three_label_classifier_is_added_with_the_encoders_config");
    }
    ifs_wts_free(src);
    ifs_wts_free(got);
    return ifs_test_done("gen_model_encoder");
}
