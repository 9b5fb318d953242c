/*
 * test_config.c - config.json parsing: HF defaults for missing fields,
 * activations, id2label / label2id, repeated keys (the last value counts,
 * as in json.load), the pair-input fields, and clear refusals of what the
 * engine does not implement; then write -> parse round trips and the
 * emitter's bytes. test_config_reference.c checks the same repeated-key
 * files against transformers itself.
 */
#include <math.h>

#include "wts_fixture.h"

typedef struct {
    const char *name;
    const char *json;
    int status;       /* expected return */
    const char *want; /* substring of the error, or NULL */
} cfg_case;

static const cfg_case CASES[] = {
    {"empty_object_takes_bert_base_defaults", "{}", 0, NULL},
    {"minilm_config_parses",
     "{\"model_type\":\"bert\",\"hidden_size\":384,\"num_hidden_layers\":6,"
     "\"num_attention_heads\":12,\"intermediate_size\":1536,\"hidden_act\":\"gelu\","
     "\"layer_norm_eps\":1e-12,\"max_position_embeddings\":512,\"type_vocab_size\":2,"
     "\"vocab_size\":30522,\"pad_token_id\":0,\"position_embedding_type\":\"absolute\"}",
     0, NULL},
    {"another_model_type_is_refused", "{\"model_type\":\"roberta\"}", IFS_WTS_EUNSUP,
     "model_type 'roberta' is not supported"},
    {"relative_key_position_embeddings_are_refused",
     "{\"position_embedding_type\":\"relative_key\"}", IFS_WTS_EUNSUP, "'relative_key'"},
    {"relative_key_query_position_embeddings_are_refused",
     "{\"position_embedding_type\":\"relative_key_query\"}", IFS_WTS_EUNSUP, "relative_key_query"},
    {"decoder_bert_is_refused", "{\"is_decoder\":true}", IFS_WTS_EUNSUP, "is_decoder"},
    {"unknown_activation_is_refused_by_name", "{\"hidden_act\":\"swish\"}", IFS_WTS_EUNSUP,
     "hidden_act 'swish'"},
    {"hidden_size_not_a_multiple_of_heads_is_refused",
     "{\"hidden_size\":100,\"num_attention_heads\":12}", IFS_WTS_EFORMAT, "not a multiple"},
    {"string_hidden_size_is_refused", "{\"hidden_size\":\"768\"}", IFS_WTS_EFORMAT,
     "'hidden_size'"},
    {"fractional_layer_count_is_refused", "{\"num_hidden_layers\":6.5}", IFS_WTS_EFORMAT,
     "'num_hidden_layers'"},
    {"negative_vocab_size_is_refused", "{\"vocab_size\":-3}", IFS_WTS_EFORMAT, "'vocab_size'"},
    {"pad_token_outside_vocab_is_refused", "{\"vocab_size\":10,\"pad_token_id\":10}",
     IFS_WTS_EFORMAT, "pad_token_id 10"},
    {"zero_layer_norm_eps_is_refused", "{\"layer_norm_eps\":0}", IFS_WTS_EFORMAT, "layer_norm_eps"},
    {"layer_norm_eps_that_underflows_fp32_is_refused", "{\"layer_norm_eps\":1e-122}",
     IFS_WTS_EFORMAT, "layer_norm_eps"},
    {"not_json_is_refused", "{\"hidden_size\":", IFS_WTS_EFORMAT, "not a JSON object"},
    {"json_array_is_refused", "[1,2]", IFS_WTS_EFORMAT, "not a JSON object"},
    {"invalid_utf8_is_refused", "{\"x\":\"\xc3\x28\"}", IFS_WTS_EFORMAT,
     "not valid UTF-8 at byte 6"},
    {"id2label_with_a_gap_is_refused", "{\"id2label\":{\"0\":\"a\",\"2\":\"c\"}}", IFS_WTS_EFORMAT,
     "id2label key '2'"},
    {"id2label_with_a_leading_zero_key_is_refused", "{\"id2label\":{\"01\":\"a\"}}",
     IFS_WTS_EFORMAT, "'01'"},
    {"id2label_with_a_non_string_label_is_refused", "{\"id2label\":{\"0\":5}}", IFS_WTS_EFORMAT,
     "id2label['0']"},
    {"label2id_disagreeing_with_id2label_is_refused",
     "{\"id2label\":{\"0\":\"a\",\"1\":\"b\"},\"label2id\":{\"a\":1,\"b\":0}}", IFS_WTS_EFORMAT,
     "label2id['a'] = 1 but id2label['1'] = 'b'"},
    {"label2id_out_of_range_is_refused", "{\"label2id\":{\"LABEL_0\":7}}", IFS_WTS_EFORMAT,
     "label2id['LABEL_0']"},
    {"too_many_labels_are_refused", "{\"num_labels\":65}", IFS_WTS_EFORMAT, "'num_labels'"},
    {"an_id2label_key_past_the_label_cap_is_refused", "{\"id2label\":{\"64\":\"a\"}}",
     IFS_WTS_EUNSUP, "at most 64 labels"},
    {"an_empty_id2label_is_refused", "{\"id2label\":{}}", IFS_WTS_EUNSUP, "0 labels"},
    /* a key given twice: the last value counts (the first would fail) */
    {"a_repeated_key_takes_its_last_value",
     "{\"hidden_size\":100,\"num_attention_heads\":12,\"hidden_size\":48}", 0, NULL},
    {"a_repeated_key_whose_last_value_is_bad_is_refused",
     "{\"hidden_size\":48,\"hidden_size\":\"48\"}", IFS_WTS_EFORMAT, "'hidden_size'"},
    {"a_repeated_model_type_is_judged_by_its_last_value",
     "{\"model_type\":\"bert\",\"model_type\":\"roberta\"}", IFS_WTS_EUNSUP, "'roberta'"},
    {"a_repeated_id2label_key_takes_its_last_label",
     "{\"id2label\":{\"0\":\"a\",\"1\":\"b\",\"1\":\"c\"},\"label2id\":{\"a\":0,\"c\":1}}", 0,
     NULL},
    {"a_repeated_label2id_key_takes_its_last_index",
     "{\"id2label\":{\"0\":\"a\",\"1\":\"b\"},\"label2id\":{\"a\":1,\"a\":0,\"b\":1}}", 0, NULL},
    {"a_repeated_label2id_key_whose_last_index_is_wrong_is_refused",
     "{\"id2label\":{\"0\":\"a\",\"1\":\"b\"},\"label2id\":{\"a\":0,\"a\":1}}", IFS_WTS_EFORMAT,
     "label2id['a'] = 1 but id2label['1'] = 'b'"},
    /* ifscore's pair-input fields */
    {"pair_input_with_an_instruction_cap_parses",
     "{\"ifs_input\":\"pair\",\"ifs_instruction_max_tokens\":64}", 0, NULL},
    {"response_input_parses", "{\"ifs_input\":\"response\"}", 0, NULL},
    {"null_input_means_response", "{\"ifs_input\":null,\"ifs_instruction_max_tokens\":null}", 0,
     NULL},
    {"an_unknown_input_is_refused_by_name", "{\"ifs_input\":\"triple\"}", IFS_WTS_EUNSUP,
     "ifs_input 'triple' is not supported"},
    {"a_non_string_input_is_refused", "{\"ifs_input\":1}", IFS_WTS_EFORMAT,
     "'ifs_input' must be a string"},
    {"an_instruction_cap_of_zero_is_refused",
     "{\"ifs_input\":\"pair\",\"ifs_instruction_max_tokens\":0}", IFS_WTS_EFORMAT,
     "'ifs_instruction_max_tokens' must be an integer in [1, 1048576]"},
    {"a_negative_instruction_cap_is_refused",
     "{\"ifs_input\":\"pair\",\"ifs_instruction_max_tokens\":-5}", IFS_WTS_EFORMAT,
     "'ifs_instruction_max_tokens'"},
    {"a_fractional_instruction_cap_is_refused",
     "{\"ifs_input\":\"pair\",\"ifs_instruction_max_tokens\":1.5}", IFS_WTS_EFORMAT,
     "'ifs_instruction_max_tokens'"},
    {"a_string_instruction_cap_is_refused",
     "{\"ifs_input\":\"pair\",\"ifs_instruction_max_tokens\":\"64\"}", IFS_WTS_EFORMAT,
     "'ifs_instruction_max_tokens'"},
    {"an_instruction_cap_without_pair_input_is_refused", "{\"ifs_instruction_max_tokens\":64}",
     IFS_WTS_EFORMAT, "'ifs_instruction_max_tokens' is set but 'ifs_input' is not \"pair\""},
    {"an_instruction_cap_with_response_input_is_refused",
     "{\"ifs_input\":\"response\",\"ifs_instruction_max_tokens\":64}", IFS_WTS_EFORMAT,
     "is not \"pair\""},
};

static void check_defaults(const ifs_bert_config *c)
{
    IFS_CHECK(c->vocab_size == 30522 && c->hidden == 768 && c->n_layers == 12 && c->n_heads == 12 &&
                  c->intermediate == 3072 && c->max_position == 512 && c->type_vocab == 2 &&
                  c->num_labels == 2 && c->pad_token_id == 0 && c->act == IFS_ACT_GELU &&
                  c->ln_eps == 1e-12f,
              "missing_fields_take_hf_bert_defaults");
    IFS_CHECK(!strcmp(c->labels[0], "LABEL_0") && !strcmp(c->labels[1], "LABEL_1"),
              "missing_id2label_names_labels_LABEL_i");
}

static int parse(const char *json, ifs_bert_config *c, char *err, size_t errlen)
{
    return ifs_wts_parse_config(json, strlen(json), "dir/config.json", c, err, errlen);
}

static void activations(void)
{
    static const struct {
        const char *name;
        ifs_act act;
    } acts[] = {
        {"gelu", IFS_ACT_GELU},           {"gelu_python", IFS_ACT_GELU},
        {"gelu_new", IFS_ACT_GELU_TANH},  {"gelu_pytorch_tanh", IFS_ACT_GELU_TANH},
        {"gelu_fast", IFS_ACT_GELU_TANH}, {"relu", IFS_ACT_RELU},
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        char json[128], err[256];
        ifs_bert_config c;
        snprintf(json, sizeof json, "{\"hidden_act\":\"%s\"}", acts[i].name);
        int rc = parse(json, &c, err, sizeof err);
        IFS_CHECK(rc == 0 && c.act == acts[i].act, "hidden_act_%s_maps_to_its_kernel (%s)",
                  acts[i].name, rc ? err : "");
    }
}

static void labels(void)
{
    ifs_bert_config c;
    char err[256];
    int rc = parse("{\"id2label\":{\"2\":\"c\",\"0\":\"answer\",\"1\":\"continuation\"},"
                   "\"label2id\":{\"answer\":0,\"continuation\":1,\"c\":2},\"num_labels\":2}",
                   &c, err, sizeof err);
    IFS_CHECK(rc == 0 && c.num_labels == 3 && !strcmp(c.labels[0], "answer") &&
                  !strcmp(c.labels[1], "continuation") && !strcmp(c.labels[2], "c"),
              "id2label_in_any_order_decides_num_labels_and_names (%s)", rc ? err : "");
    rc = parse("{\"num_labels\":5}", &c, err, sizeof err);
    IFS_CHECK(rc == 0 && c.num_labels == 5 && !strcmp(c.labels[4], "LABEL_4"),
              "num_labels_without_id2label_gives_LABEL_i (%s)", rc ? err : "");
    rc = parse("{\"layer_norm_eps\":1e-5,\"pad_token_id\":null}", &c, err, sizeof err);
    IFS_CHECK(rc == 0 && c.ln_eps == 1e-5f && c.pad_token_id == 0,
              "layer_norm_eps_is_read_and_null_pad_keeps_default (%s)", rc ? err : "");
    char big[128];
    snprintf(big, sizeof big, "{\"id2label\":{\"0\":\"%070d\"}}", 0);
    rc = parse(big, &c, err, sizeof err);
    IFS_CHECK(rc == IFS_WTS_EUNSUP && fx_contains(err, "bytes long"),
              "a_label_longer_than_the_struct_holds_is_refused (%s)", err);
    IFS_CHECK(ifs_wts_parse_config("{\"hidden_size\":48}garbage", 18, "x", &c, err, sizeof err) ==
                      0 &&
                  c.hidden == 48,
              "the_explicit_length_is_honoured (bytes past it are not read)");
}

/* What the repeated keys and the pair fields leave in the struct. */
static void values(void)
{
    static const struct {
        const char *name, *json;
        int32_t hidden, labels, pair, k;
        const char *label1;
    } V[] = {
        {"the_last_hidden_size_is_the_one_kept",
         "{\"hidden_size\":100,\"num_attention_heads\":12,\"hidden_size\":48}", 48, 2, 0, 0,
         "LABEL_1"},
        {"the_last_id2label_object_is_the_one_kept",
         "{\"id2label\":{\"0\":\"x\"},\"id2label\":{\"0\":\"a\",\"1\":\"b\"}}", 768, 2, 0, 0, "b"},
        {"a_repeated_id2label_key_counts_once_with_its_last_label",
         "{\"id2label\":{\"0\":\"a\",\"1\":\"b\",\"1\":\"c\"}}", 768, 2, 0, 0, "c"},
        {"pair_input_and_its_cap_are_read",
         "{\"ifs_input\":\"pair\",\"ifs_instruction_max_tokens\":64}", 768, 2, 1, 64, "LABEL_1"},
        {"pair_input_without_a_cap_has_cap_zero", "{\"ifs_input\":\"pair\"}", 768, 2, 1, 0,
         "LABEL_1"},
        {"no_input_field_means_response", "{}", 768, 2, 0, 0, "LABEL_1"},
        {"the_last_ifs_input_is_the_one_kept",
         "{\"ifs_input\":\"pair\",\"ifs_input\":\"response\"}", 768, 2, 0, 0, "LABEL_1"},
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        ifs_bert_config c;
        char err[256] = "";
        int rc = parse(V[i].json, &c, err, sizeof err);
        IFS_CHECK(rc == 0 && c.hidden == V[i].hidden && c.num_labels == V[i].labels &&
                      c.pair_input == V[i].pair && c.instruction_max_tokens == V[i].k &&
                      !strcmp(c.labels[1], V[i].label1),
                  "%s (%s; hidden %d labels %d pair %d k %d label1 %s)", V[i].name, err, c.hidden,
                  c.num_labels, c.pair_input, c.instruction_max_tokens, c.labels[1]);
    }
}

typedef struct {
    char buf[16384];
    size_t n;
    int fail_after; /* calls before a failure; -1 never */
} sink;

static int to_sink(void *ctx, const void *p, size_t n)
{
    sink *s = ctx;
    if (s->fail_after == 0)
        return IFS_WTS_EIO;
    if (s->fail_after > 0)
        s->fail_after--;
    if (s->n + n > sizeof s->buf)
        return IFS_WTS_ENOMEM;
    memcpy(s->buf + s->n, p, n);
    s->n += n;
    return 0;
}

static void pair_round_trip_and_emit(void)
{
    const char *dir = fx_dir("config_pair");
    char path[4200], err[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    ifs_bert_config c, back;
    IFS_CHECK(parse("{}", &c, err, sizeof err) == 0, "defaults");
    IFS_CHECK(ifs_wts_write_config(path, &c, err, sizeof err) == 0, "write response config");
    char text[8192] = "";
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    IFS_CHECK(!fx_contains(text, "ifs_"), "a_response_config_is_written_without_ifs_fields");
    static sink s;
    s.n = 0, s.fail_after = -1;
    IFS_CHECK(ifs_wts_emit_config("c", &c, to_sink, &s, err, sizeof err) == 0 && s.n == n &&
                  !memcmp(s.buf, text, n),
              "emit_config_gives_the_bytes_write_config_writes");
    s.n = 0, s.fail_after = 0;
    IFS_CHECK(ifs_wts_emit_config("c.json", &c, to_sink, &s, err, sizeof err) == IFS_WTS_EIO &&
                  fx_contains(err, "c.json") && fx_contains(err, "write callback failed"),
              "a_failing_write_callback_stops_the_emitter_with_its_status: %s", err);

    c.pair_input = 1;
    c.instruction_max_tokens = 32;
    IFS_CHECK(ifs_wts_write_config(path, &c, err, sizeof err) == 0, "write pair config: %s", err);
    f = fopen(path, "rb");
    n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    int rc = ifs_wts_parse_config(text, n, path, &back, err, sizeof err);
    IFS_CHECK(rc == 0 && back.pair_input == 1 && back.instruction_max_tokens == 32 &&
                  fx_contains(text, "\"ifs_input\":\t\"pair\"") &&
                  fx_contains(text, "\"ifs_instruction_max_tokens\":\t32"),
              "a_pair_config_round_trips_its_fields (%s): %s", err, text);
    c.instruction_max_tokens = 0;
    IFS_CHECK(ifs_wts_write_config(path, &c, err, sizeof err) == 0, "write pair, no cap");
    f = fopen(path, "rb");
    n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    IFS_CHECK(fx_contains(text, "\"ifs_input\"") && !fx_contains(text, "ifs_instruction"),
              "a_pair_config_without_a_cap_writes_no_cap");
    c.pair_input = 0;
    c.instruction_max_tokens = 8;
    IFS_CHECK(ifs_wts_write_config(path, &c, err, sizeof err) == IFS_WTS_EARG,
              "write_config_refuses_a_cap_without_pair_input");
    c.pair_input = 2;
    c.instruction_max_tokens = 0;
    IFS_CHECK(ifs_wts_write_config(path, &c, err, sizeof err) == IFS_WTS_EARG,
              "write_config_refuses_an_input_mode_that_is_not_0_or_1");
}

static void round_trip(void)
{
    const char *dir = fx_dir("config_rt");
    char path[4200], err[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    ifs_bert_config c, back;
    memset(&c, 0, sizeof c);
    c.vocab_size = 1234, c.hidden = 96, c.n_layers = 3, c.n_heads = 4, c.intermediate = 200;
    c.max_position = 77, c.type_vocab = 3, c.num_labels = 3, c.pad_token_id = 5;
    c.ln_eps = 1e-7f, c.act = IFS_ACT_GELU_TANH;
    strcpy(c.labels[0], "continuation-like");
    strcpy(c.labels[1], "answer-like");
    strcpy(c.labels[2], "quote\"d \\ label");
    int rc = ifs_wts_write_config(path, &c, err, sizeof err);
    IFS_CHECK(rc == 0, "write_config_succeeds (%s)", err);
    FILE *f = fopen(path, "rb");
    char text[8192] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    rc = ifs_wts_parse_config(text, n, path, &back, err, sizeof err);
    IFS_CHECK(rc == 0, "written_config_parses (%s)", err);
    IFS_CHECK(back.vocab_size == 1234 && back.hidden == 96 && back.n_layers == 3 &&
                  back.n_heads == 4 && back.intermediate == 200 && back.max_position == 77 &&
                  back.type_vocab == 3 && back.num_labels == 3 && back.pad_token_id == 5 &&
                  back.ln_eps == 1e-7f && back.act == IFS_ACT_GELU_TANH &&
                  !strcmp(back.labels[2], "quote\"d \\ label") &&
                  !strcmp(back.labels[1], "answer-like"),
              "round_trip_keeps_sizes_eps_act_and_labels");
    IFS_CHECK(fx_contains(text, "\"layer_norm_eps\":\t1e-07") &&
                  fx_contains(text, "\"hidden_act\":\t\"gelu_new\"") &&
                  fx_contains(text, "\"model_type\":\t\"bert\"") &&
                  fx_contains(text, "BertForSequenceClassification"),
              "written_config_uses_hf_names_and_the_shortest_eps: %s", text);
    strcpy(c.labels[0], "bad \xff label");
    IFS_CHECK(ifs_wts_write_config(path, &c, err, sizeof err) == IFS_WTS_EARG,
              "write_config_refuses_a_label_that_is_not_utf8");
    strcpy(c.labels[0], "ok");
    c.n_heads = 5;
    IFS_CHECK(ifs_wts_write_config(path, &c, err, sizeof err) == IFS_WTS_EARG,
              "write_config_refuses_an_inconsistent_config");
}

int main(void)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const cfg_case *k = &CASES[i];
        ifs_bert_config c;
        char err[512] = "";
        int rc = parse(k->json, &c, err, sizeof err);
        IFS_CHECK(rc == k->status, "%s: status %d, want %d (%s)", k->name, rc, k->status, err);
        if (k->want)
            IFS_CHECK(fx_contains(err, k->want) && fx_contains(err, "dir/config.json"),
                      "%s: message lacks \"%s\" or the file name: %s", k->name, k->want, err);
        if (i == 0)
            check_defaults(&c);
        if (i == 1)
            IFS_CHECK(c.hidden == 384 && c.n_layers == 6 && c.intermediate == 1536,
                      "minilm_sizes_are_read");
    }
    activations();
    labels();
    values();
    round_trip();
    pair_round_trip_and_emit();
    return ifs_test_done("config");
}
