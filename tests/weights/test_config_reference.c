/*
 * test_config_reference.c - transformers as the oracle for config.json:
 * files that repeat keys (at the top level, inside id2label, the id2label
 * object itself) and files with ifscore's pair-input fields must read the
 * same in BertConfig.from_json_file as in ifs_wts_parse_config: hidden
 * size, heads, labels, and the two ifs_* fields, which transformers keeps
 * as plain attributes. Skips (77) when $IFS_PYTHON lacks transformers.
 */
#include <cjson/cJSON.h>
#include <unistd.h>

#include "wts_fixture.h"

static const struct {
    const char *name, *json;
} CASES[] = {
    {"a_repeated_top_level_key_reads_as_in_transformers",
     "{\"hidden_size\": 100, \"num_attention_heads\": 4, \"hidden_size\": 48}"},
    {"a_repeated_id2label_key_reads_as_in_transformers",
     "{\"id2label\": {\"0\": \"a\", \"1\": \"b\", \"1\": \"answer\"}}"},
    {"a_repeated_id2label_object_reads_as_in_transformers",
     "{\"id2label\": {\"0\": \"x\"}, \"id2label\": {\"0\": \"no answer\", \"1\": \"b\", \"2\": "
     "\"c\"}}"},
    {"a_repeated_head_count_reads_as_in_transformers",
     "{\"num_attention_heads\": 5, \"hidden_size\": 64, \"num_attention_heads\": 8}"},
    {"pair_fields_read_as_in_transformers",
     "{\"ifs_input\": \"pair\", \"ifs_instruction_max_tokens\": 96}"},
    {"a_repeated_pair_field_reads_as_in_transformers",
     "{\"ifs_input\": \"response\", \"ifs_input\": \"pair\"}"},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

int main(void)
{
    const char *src = ifs_test_env("IFS_SOURCE_DIR", NULL);
    const char *py = ifs_test_env("IFS_PYTHON", "");
    if (!src || !py[0] || access(py, X_OK) != 0)
        IFS_SKIP("no Python reference stack ($IFS_PYTHON '%s' is not executable)", py);
    char cmd[70000];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import transformers' 2>/dev/null", py);
    if (system(cmd) != 0)
        IFS_SKIP("%s lacks transformers (scripts/setup.sh installs it)", py);
    const char *dir = fx_dir("config_reference");
    size_t k = (size_t)snprintf(cmd, sizeof cmd, "'%s' '%s/tests/weights/hf_reference.py' config",
                                py, src);
    for (size_t i = 0; i < N_CASES; i++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/case_%zu.json", dir, i);
        fx_write_text(path, CASES[i].json);
        k += (size_t)snprintf(cmd + k, sizeof cmd - k, " '%s'", path);
    }
    snprintf(cmd + k, sizeof cmd - k, " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    IFS_CHECK(p != NULL, "cannot run %s", py);
    size_t i = 0;
    char line[4096];
    while (p && i < N_CASES && fgets(line, sizeof line, p)) {
        cJSON *hf = cJSON_Parse(line);
        ifs_bert_config c;
        char err[512] = "";
        int rc =
            ifs_wts_parse_config(CASES[i].json, strlen(CASES[i].json), "case", &c, err, sizeof err);
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(hf, "labels");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(hf, "ifs_input");
        const cJSON *kk = cJSON_GetObjectItemCaseSensitive(hf, "ifs_instruction_max_tokens");
        int same =
            hf && rc == 0 && cJSON_IsArray(labels) &&
            cJSON_GetObjectItemCaseSensitive(hf, "hidden_size")->valueint == c.hidden &&
            cJSON_GetObjectItemCaseSensitive(hf, "num_attention_heads")->valueint == c.n_heads &&
            cJSON_GetArraySize(labels) == c.num_labels &&
            (cJSON_IsString(in) ? (strcmp(in->valuestring, "pair") == 0) == c.pair_input
                                : c.pair_input == 0) &&
            (cJSON_IsNumber(kk) ? kk->valueint == c.instruction_max_tokens
                                : c.instruction_max_tokens == 0);
        for (int l = 0; same && l < c.num_labels; l++) {
            const cJSON *x = cJSON_GetArrayItem(labels, l);
            same = cJSON_IsString(x) && !strcmp(x->valuestring, c.labels[l]);
        }
        IFS_CHECK(same,
                  "%s: transformers reads %s; ours: rc %d (%s) hidden %d heads %d labels %d "
                  "pair %d k %d",
                  CASES[i].name, line, rc, err, c.hidden, c.n_heads, c.num_labels, c.pair_input,
                  c.instruction_max_tokens);
        cJSON_Delete(hf);
        i++;
    }
    IFS_CHECK(i == N_CASES, "transformers_read_every_case (%zu of %zu)", i, N_CASES);
    if (p)
        IFS_CHECK(pclose(p) == 0, "the reference script exits cleanly");
    return ifs_test_done("config_reference");
}
