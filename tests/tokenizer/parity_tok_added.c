/*
 * parity_tok_added.c - checkpoints with added tokens (tokenizer_config.json's
 * added_tokens_decoder: special and non-special, normalized=false,
 * lstrip/rstrip, tokens starting with letters, digits and non-ASCII,
 * overlapping tokens, tokens inside words) against HF BertTokenizerFast's
 * ids, committed in tests/tokenizer/added_cases.json by
 * scripts/ref_added_tokens.py (its header names the HF versions). The folders
 * are rebuilt here from the JSON, so this needs no Python. Where the legacy
 * slow tokenizer differs (slow_ids) we follow the fast one and say so.
 * Every case runs under alarm(): a hang (issue 11 item 5) is a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ifs_test.h"
#include "ifs_tok.h"

int main(void)
{
    const char *src = ifs_test_env("IFS_SOURCE_DIR", NULL);
    const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
    if (!src) {
        printf("SKIP: IFS_SOURCE_DIR not set\n");
        return 77;
    }
    char path[8192], dir[4096], err[512];
    snprintf(path, sizeof path, "%s/tests/tokenizer/added_cases.json", src);
    char *txt = ifs_test_slurp(path, NULL);
    cJSON *root = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    if (!root) {
        fprintf(stderr, "FAIL: cannot read %s\n", path);
        return 1;
    }
    int ci = 0, slow_diff = 0;
    const cJSON *ck;
    cJSON_ArrayForEach(ck, cJSON_GetObjectItem(root, "checkpoints"))
    {
        snprintf(dir, sizeof dir, "%s/added-%d", tmp, ci++);
        mkdir(dir, 0755);
        snprintf(path, sizeof path, "%s/vocab.txt", dir);
        FILE *f = fopen(path, "wb");
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(ck, "vocab")) fprintf(f, "%s\n", v->valuestring);
        fclose(f);
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        f = fopen(path, "wb");
        char *cfg = cJSON_PrintUnformatted(cJSON_GetObjectItem(ck, "tokenizer_config"));
        fputs(cfg, f);
        free(cfg);
        fclose(f);
        const char *name = cJSON_GetObjectItem(ck, "name")->valuestring;
        ifs_tok *tok = ifs_tok_load(dir, NULL, err, sizeof err);
        IFS_CHECK(tok != NULL, "the checkpoint '%s' loads: %s", name, err);
        if (!tok)
            continue;
        ifs_tok_state *st = ifs_tok_state_create(tok);
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(ck, "cases"))
        {
            const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
            const cJSON *want = cJSON_GetObjectItem(c, "ids");
            int32_t ids[512], n = 0;
            alarm(10);
            int rc = ifs_tok_encode(tok, st, text, strlen(text), 512, ids, NULL, &n, NULL);
            alarm(0);
            int same = rc == 0 && n == cJSON_GetArraySize(want);
            for (int32_t k = 0; same && k < n; k++)
                same = ids[k] == cJSON_GetArrayItem(want, k)->valueint;
            char got[2048] = "";
            for (int32_t k = 0; k < n && strlen(got) < 2000; k++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%d ", ids[k]);
            IFS_CHECK(same, "'%s' in '%s' gives HF's ids (got %s rc %d)", text, name, got, rc);
            if (cJSON_GetObjectItem(c, "slow_ids")) {
                slow_diff++;
                printf("note: the slow tokenizer differs on '%s' (%s); we follow the fast one\n",
                       text, name);
            }
        }
        ifs_tok_state_free(st);
        ifs_tok_free(tok);
    }
    cJSON_Delete(root);
    printf("%d case(s) where the slow tokenizer differs\n", slow_diff);
    return ifs_test_done("parity_tok_added");
}
