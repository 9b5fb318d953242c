/*
 * test_gen_model.c - `ifscore gen-model`: same seed -> byte-identical files,
 * the requested shape / activation / labels / dtype / vocabulary come out,
 * HF-style init (zero biases, unit gamma, zero pad row, std 0.02) versus
 * --init test, and usage errors exit 2.
 */
#include <math.h>

#include "gen_fixture.h"

static char *p2(const char *dir, const char *f)
{
    static char buf[4][4300];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 4300, "%s/%s", dir, f);
    return p;
}

#define TINY                                                                                       \
    "--hidden 32 --layers 2 --heads 4 --intermediate 64 --max-position 40 "                        \
    "--type-vocab 3 --vocab-size 50"

static void determinism(void)
{
    char a[4200], b[4200], c[4200], args[9000];
    snprintf(a, sizeof a, "%s", fx_dir("gen_a"));
    snprintf(b, sizeof b, "%s", fx_dir("gen_b"));
    snprintf(c, sizeof c, "%s", fx_dir("gen_c"));
    snprintf(args, sizeof args, "--out '%s' --seed 11 " TINY " --dtype f16 --init test --labels 3",
             a);
    IFS_CHECK(gen_run(args) == 0, "gen-model runs: %s", args);
    snprintf(args, sizeof args, "--out '%s' --seed 11 " TINY " --dtype f16 --init test --labels 3",
             b);
    IFS_CHECK(gen_run(args) == 0, "gen-model runs twice");
    snprintf(args, sizeof args, "--out '%s' --seed 12 " TINY " --dtype f16 --init test --labels 3",
             c);
    IFS_CHECK(gen_run(args) == 0, "gen-model runs with another seed");
    static const char *files[] = {"config.json", "model.safetensors", "tokenizer_config.json"};
    for (int i = 0; i < 3; i++)
        IFS_CHECK(gen_files_equal(p2(a, files[i]), p2(b, files[i])),
                  "same_seed_gives_byte_identical_%s", files[i]);
    IFS_CHECK(!gen_files_equal(p2(a, "model.safetensors"), p2(c, "model.safetensors")) &&
                  gen_files_equal(p2(a, "config.json"), p2(c, "config.json")),
              "another_seed_changes_the_weights_but_not_the_config");
}

static double mean_std(const float *x, size_t n, double *std)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i], q += (double)x[i] * x[i];
    double m = s / (double)n;
    *std = sqrt(q / (double)n - m * m);
    return m;
}

static int all_equal(const float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != v)
            return 0;
    return 1;
}

static void shapes_and_init(void)
{
    char d[4200], args[9000], err[1024];
    snprintf(d, sizeof d, "%s", fx_dir("gen_shape"));
    snprintf(args, sizeof args, "--out '%s' --seed 3 " TINY " --labels 3 --act relu", d);
    IFS_CHECK(gen_run(args) == 0, "gen-model runs: %s", args);
    ifs_wts_model *m = ifs_wts_load(d, 0, err, sizeof err);
    IFS_CHECK(m != NULL, "the_generated_folder_loads_as_a_classifier: %s", err);
    if (m) {
        const ifs_bert_weights *w = ifs_wts_weights(m);
        const ifs_bert_config *c = &w->cfg;
        IFS_CHECK(c->hidden == 32 && c->n_layers == 2 && c->n_heads == 4 && c->intermediate == 64 &&
                      c->max_position == 40 && c->type_vocab == 3 && c->vocab_size == 50 &&
                      c->num_labels == 3 && c->act == IFS_ACT_RELU,
                  "explicit_sizes_activation_and_labels_are_written");
        double sd;
        double mean = mean_std(w->word_emb + 32, 49 * 32, &sd);
        IFS_CHECK(fabs(mean) < 0.003 && fabs(sd - 0.02) < 0.002,
                  "hf_init_draws_weights_with_std_0_02 (mean %g std %g)", mean, sd);
        IFS_CHECK(all_equal(w->word_emb, 32, 0.0f), "hf_init_zeroes_the_pad_token_row");
        IFS_CHECK(all_equal(w->layers[1].i_b, 64, 0.0f) && all_equal(w->cls_b, 3, 0.0f) &&
                      all_equal(w->layers[0].ln1_g, 32, 1.0f) && all_equal(w->emb_ln_b, 32, 0.0f),
                  "hf_init_has_zero_biases_and_unit_layernorm");
        FILE *f = fopen(p2(d, "tokenizer_config.json"), "r");
        char text[2048] = "";
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        text[n] = '\0';
        if (f)
            fclose(f);
        IFS_CHECK(fx_contains(text, "\"model_max_length\": 40") &&
                      fx_contains(text, "BertTokenizer"),
                  "a_tokenizer_config_is_written: %s", text);
    }
    ifs_wts_free(m);

    snprintf(d, sizeof d, "%s", fx_dir("gen_test_init"));
    snprintf(args, sizeof args,
             "--out '%s' --seed 3 " TINY " --init test --dtype bf16 --act gelu_new", d);
    IFS_CHECK(gen_run(args) == 0, "gen-model runs: %s", args);
    m = ifs_wts_load(d, 0, err, sizeof err);
    IFS_CHECK(m != NULL, "a_bf16_model_loads: %s", err);
    if (m) {
        const ifs_bert_weights *w = ifs_wts_weights(m);
        IFS_CHECK(!all_equal(w->layers[1].i_b, 64, 0.0f) && !all_equal(w->cls_b, 2, 0.0f) &&
                      !all_equal(w->layers[0].ln1_g, 32, 1.0f) && !all_equal(w->emb_ln_b, 32, 0.0f),
                  "test_init_draws_biases_and_layernorm_too");
        int exact = 1;
        for (size_t i = 0; i < 50 * 32; i++) {
            uint32_t u;
            memcpy(&u, &w->word_emb[i], 4);
            if (u & 0xffff)
                exact = 0;
        }
        IFS_CHECK(exact && w->cfg.act == IFS_ACT_GELU_TANH && w->cfg.num_labels == 2,
                  "bf16_storage_holds_bf16_values_and_gelu_new_is_kept");
    }
    ifs_wts_free(m);

    /* --shape presets */
    snprintf(d, sizeof d, "%s", fx_dir("gen_minilm"));
    snprintf(args, sizeof args,
             "--out '%s' --seed 1 --shape minilm --vocab-size 100 --max-position 8", d);
    IFS_CHECK(gen_run(args) == 0, "gen-model runs: %s", args);
    m = ifs_wts_load(d, 0, err, sizeof err);
    IFS_CHECK(m && ifs_wts_weights(m)->cfg.n_layers == 6 && ifs_wts_weights(m)->cfg.hidden == 384 &&
                  ifs_wts_weights(m)->cfg.intermediate == 1536 &&
                  ifs_wts_weights(m)->cfg.n_heads == 12,
              "shape_minilm_is_6_layers_hidden_384_inter_1536: %s", m ? "" : err);
    ifs_wts_free(m);
}

static void vocab(void)
{
    char d[4200], v[4300], args[9000], err[1024];
    snprintf(d, sizeof d, "%s", fx_dir("gen_vocab"));
    snprintf(v, sizeof v, "%s/my_vocab.txt", fx_dir("gen_vocab_src"));
    fx_write_text(v, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s");
    snprintf(args, sizeof args,
             "--out '%s' --seed 5 --hidden 16 --heads 2 --intermediate 32 "
             "--layers 1 --vocab '%s'",
             d, v);
    IFS_CHECK(gen_run(args) == 0, "gen-model runs: %s", args);
    ifs_wts_model *m = ifs_wts_load(d, 0, err, sizeof err);
    IFS_CHECK(m && ifs_wts_weights(m)->cfg.vocab_size == 8,
              "vocab_size_is_the_vocab_files_line_count (a last line without newline counts)");
    ifs_wts_free(m);
    IFS_CHECK(gen_files_equal(v, p2(d, "vocab.txt")), "the_vocab_file_is_copied_as_is");
    snprintf(args, sizeof args,
             "--out '%s' --seed 5 --hidden 16 --heads 2 --vocab '%s' --vocab-size 9", d, v);
    IFS_CHECK(gen_run(args) == 2, "a_vocab_size_disagreeing_with_the_vocab_file_is_a_usage_error");
}

static void usage_errors(void)
{
    const char *d = fx_dir("gen_usage");
    static const struct {
        const char *name;
        const char *args;
        int code;
    } cases[] = {
        {"help_exits_zero", "--help", 0},
        {"missing_seed_is_a_usage_error", "--out D", 2},
        {"missing_out_is_a_usage_error", "--seed 1", 2},
        {"a_negative_seed_is_a_usage_error", "--out D --seed -1", 2},
        {"an_unknown_activation_is_a_usage_error", "--out D --seed 1 --act swish", 2},
        {"an_unknown_dtype_is_a_usage_error", "--out D --seed 1 --dtype f8", 2},
        {"an_unknown_shape_is_a_usage_error", "--out D --seed 1 --shape large", 2},
        {"hidden_not_divisible_by_heads_is_a_usage_error", "--out D --seed 1 --hidden 30 --heads 4",
         2},
        {"zero_layers_is_a_usage_error", "--out D --seed 1 --layers 0", 2},
        {"too_many_labels_is_a_usage_error", "--out D --seed 1 --labels 65", 2},
        {"sizes_with_an_encoder_are_a_usage_error", "--out D --seed 1 --encoder D --hidden 64", 2},
        {"an_unknown_option_is_a_usage_error", "--out D --seed 1 --bogus", 2},
        {"a_missing_encoder_folder_is_a_failure", "--out D --seed 1 --encoder /nonexistent/enc", 1},
        {"a_missing_vocab_file_is_a_failure", "--out D --seed 1 --vocab /nonexistent/vocab.txt", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[9000];
        const char *s = cases[i].args;
        size_t k = 0;
        for (; *s && k + 4300 < sizeof args; s++) {
            if (*s == 'D' && (s[1] == '\0' || s[1] == ' ') && s[-1] == ' ')
                k += (size_t)snprintf(args + k, sizeof args - k, "'%s'", d);
            else
                args[k++] = *s;
        }
        args[k] = '\0';
        int rc = gen_run(args);
        IFS_CHECK(rc == cases[i].code, "%s: exit %d, want %d", cases[i].name, rc, cases[i].code);
    }
}

int main(void)
{
    gen_need_binary();
    determinism();
    shapes_and_init();
    vocab();
    usage_errors();
    return ifs_test_done("gen_model");
}
