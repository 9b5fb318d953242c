/*
 * test_st_scale.c - sizes that are fast only when the readers are linear
 * (n log n at worst) in the number of tensors or keys. Not a timed test:
 * each case runs in well under a second when linear, while the quadratic
 * header scan this replaced took about an hour for the 200k-tensor header
 * (10k: 6.7 s, 20k: 35 s, 40k: 147 s on the development machine); CTest's
 * TIMEOUT for this test (tests/weights/CMakeLists.txt) is what fails it.
 *   - a 200,000-tensor safetensors header parses, finds every tensor, and an
 *     error at its very end names the exact byte of the last entry;
 *   - a sharded checkpoint whose second shard carries 200,000 unused
 *     tensors (and whose index lists every one of them) loads;
 *   - a config.json whose label2id repeats a key 200,000 times parses.
 */
#include "wts_fixture.h"

#define N_BIG 200000

/* "t0000000".."t0199999", one U8 byte each; `bad_last` gives the last
 * entry an unknown dtype. */
static unsigned char *big_file(size_t n, int bad_last, size_t *len, size_t *last_key_at)
{
    size_t cap = n * 80 + 64, k = 0;
    char *h = malloc(cap);
    k += (size_t)snprintf(h + k, cap - k, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < n; i++) {
        *last_key_at = 8 + k + 1; /* the key's opening quote, after the comma */
        k += (size_t)snprintf(
            h + k, cap - k,
            ",\"t%07zu\":{\"dtype\":\"%s\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}", i,
            bad_last && i == n - 1 ? "Q8" : "U8", i, i + 1);
    }
    k += (size_t)snprintf(h + k, cap - k, "}");
    unsigned char *b = fx_st_bytes(h, UINT64_MAX, NULL, n, len);
    free(h);
    return b;
}

static void big_header_parses(void)
{
    size_t len, last;
    unsigned char *b = big_file(N_BIG, 0, &len, &last);
    char err[512] = "";
    ifs_wts_st *st = ifs_wts_st_parse(b, len, "big.safetensors", err, sizeof err);
    IFS_CHECK(st && ifs_wts_st_count(st) == N_BIG, "a_200k_tensor_header_parses_in_linear_time: %s",
              st ? "" : err);
    int all = st != NULL;
    for (size_t i = 0; st && i < N_BIG; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%07zu", i);
        const ifs_wts_tensor_info *t = ifs_wts_st_find(st, name);
        if (!t || t->begin != i || ifs_wts_st_tensor(st, i) != t)
            all = 0;
    }
    IFS_CHECK(all, "every_one_of_200k_tensors_is_found_by_name_at_its_offset");
    ifs_wts_st_free(st);
    free(b);

    b = big_file(N_BIG, 1, &len, &last);
    st = ifs_wts_st_parse(b, len, "big.safetensors", err, sizeof err);
    char at[64];
    snprintf(at, sizeof at, "(header byte %zu)", last);
    IFS_CHECK(!st && fx_contains(err, "'t0199999'") && fx_contains(err, at) &&
                  fx_contains(err, "unknown dtype 'Q8'"),
              "an_error_in_the_last_of_200k_entries_names_its_exact_byte (%s): %s", at, err);
    ifs_wts_st_free(st);
    free(b);
}

static void big_sharded_checkpoint_loads(void)
{
    fx_model m;
    fx_model_init(&m, 1, 2, 5);
    const char *dir = fx_dir("big_sharded");
    char err[1024] = "", path[4300];
    IFS_CHECK(ifs_wts_save(dir, &m.w, IFS_WTS_F32, err, sizeof err) == 0, "save: %s", err);
    char from[4300], shard1[4300];
    snprintf(from, sizeof from, "%s/model.safetensors", dir);
    snprintf(shard1, sizeof shard1, "%s/model-00001-of-00002.safetensors", dir);
    IFS_CHECK(rename(from, shard1) == 0, "rename %s", from);
    size_t len, last;
    unsigned char *b = big_file(N_BIG, 0, &len, &last);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    fx_write(path, b, len);
    free(b);

    /* the index: the model's tensors in shard 1, the 200k in shard 2 */
    char err2[512];
    ifs_wts_st *one = ifs_wts_st_open(shard1, err2, sizeof err2);
    IFS_CHECK(one != NULL, "reopen shard 1: %s", err2);
    size_t cap = (size_t)N_BIG * 64 + 65536, k = 0;
    char *ix = malloc(cap);
    k += (size_t)snprintf(ix + k, cap - k, "{\"metadata\":{},\"weight_map\":{");
    for (size_t i = 0; one && i < ifs_wts_st_count(one); i++)
        k += (size_t)snprintf(ix + k, cap - k, "%s\"%s\":\"model-00001-of-00002.safetensors\"",
                              i ? "," : "", ifs_wts_st_tensor(one, i)->name);
    for (size_t i = 0; i < N_BIG; i++)
        k += (size_t)snprintf(ix + k, cap - k, ",\"t%07zu\":\"model-00002-of-00002.safetensors\"",
                              i);
    snprintf(ix + k, cap - k, "}}");
    ifs_wts_st_free(one);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    fx_write_text(path, ix);
    free(ix);
    ifs_wts_model *got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(got != NULL && !memcmp(ifs_wts_weights(got)->cls_b, m.w.cls_b, 2 * sizeof(float)),
              "a_sharded_checkpoint_with_200k_extra_tensors_and_index_entries_loads: %s",
              got ? "" : err);
    ifs_wts_free(got);
    fx_model_free(&m);
}

static void repeated_config_keys_are_linear(void)
{
    size_t cap = (size_t)N_BIG * 16 + 256, k = 0;
    char *j = malloc(cap);
    k += (size_t)snprintf(j + k, cap - k, "{\"id2label\":{\"0\":\"a\",\"1\":\"b\"},\"label2id\":{");
    for (size_t i = 0; i < N_BIG; i++)
        k += (size_t)snprintf(j + k, cap - k, "%s\"a\":%d", i ? "," : "", i == N_BIG - 1 ? 0 : 1);
    k += (size_t)snprintf(j + k, cap - k, ",\"b\":1}}");
    ifs_bert_config c;
    char err[512] = "";
    int rc = ifs_wts_parse_config(j, k, "big/config.json", &c, err, sizeof err);
    IFS_CHECK(rc == 0 && c.num_labels == 2,
              "a_label2id_key_repeated_200k_times_parses_and_its_last_value_counts: %s", err);
    free(j);
}

int main(void)
{
    big_header_parses();
    big_sharded_checkpoint_loads();
    repeated_config_keys_are_linear();
    return ifs_test_done("st_scale");
}
