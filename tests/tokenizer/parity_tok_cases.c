/*
 * parity_tok_cases.c - the hard-case table (tests/tokenizer/hard_cases.json)
 * against HF BertTokenizerFast's ids, for the real all-MiniLM-L6-v2 vocab,
 * uncased (as shipped) and cased (do_lower_case=false): accents, combining
 * marks, CJK, Thai, Hangul, zero-width and control characters, emoji
 * sequences, a 10,000-character word, empty and whitespace-only text,
 * truncation at exactly the limit, pairs with longest_first truncation, and
 * pairs whose first text has its own cap (a_max: ifs_tok_encode_pair_cap, the
 * pair classifier's instruction budget) against the HF call in ifs_tok.h.
 *
 * The expected ids are committed (made by `scripts/ref_tokenize.py cases`, whose
 * header in the JSON names the tokenizers/transformers versions and the vocab's
 * sha256), so this runs without Python. Where the slow Python tokenizer
 * (BertTokenizerLegacy) disagrees with the fast one, the JSON records its ids
 * as slow_ids; we follow the fast one, and this test prints those cases.
 * Skips (77) when the checkpoint is absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "ifs_test.h"
#include "ifs_tok.h"

/* The texts are read from their *_hex twins: cJSON ends strings at \u0000. */
static char *unhex(const cJSON *v, size_t *len)
{
    const char *h = cJSON_IsString(v) ? v->valuestring : "";
    size_t n = strlen(h) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned x = 0;
        sscanf(h + 2 * i, "%2x", &x);
        out[i] = (char)x;
    }
    *len = n;
    return out;
}

static int same_ids(const cJSON *want, const int32_t *got, int32_t n)
{
    if (cJSON_GetArraySize(want) != n)
        return 0;
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, want)
    {
        if (!cJSON_IsNumber(v) || v->valueint != got[i++])
            return 0;
    }
    return 1;
}

static void show(const char *label, const int32_t *ids, int32_t n)
{
    printf("    %s:", label);
    for (int32_t i = 0; i < n && i < 24; i++)
        printf(" %d", ids[i]);
    printf(n > 24 ? " ...\n" : "\n");
}

int main(void)
{
    const char *src = ifs_test_env("IFS_SOURCE_DIR", NULL);
    const char *models = ifs_test_env("IFS_MODELS_DIR", NULL);
    char path[8192], model[4096], err[512];
    struct stat sb;
    if (!src || !models)
        IFS_SKIP("IFS_SOURCE_DIR/IFS_MODELS_DIR not set (run through ctest)");
    snprintf(model, sizeof model, "%s/all-MiniLM-L6-v2", models);
    snprintf(path, sizeof path, "%s/vocab.txt", model);
    if (stat(path, &sb))
        IFS_SKIP("the checkpoint %s is absent (scripts/setup.sh fetches it)", model);
    snprintf(path, sizeof path, "%s/tests/tokenizer/hard_cases.json", src);
    char *text = ifs_test_slurp(path, NULL);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!doc) {
        fprintf(stderr, "FAIL: %s missing or not JSON\n", path);
        return 1;
    }
    ifs_tok *tok[2];
    tok[0] = ifs_tok_load(model, NULL, err, sizeof err);
    IFS_CHECK(tok[0] != NULL, "uncased load: %s", err);
    ifs_tok_config cased = {0, -1, -1, -1};
    tok[1] = ifs_tok_load(model, &cased, err, sizeof err);
    IFS_CHECK(tok[1] != NULL, "cased load: %s", err);
    if (!tok[0] || !tok[1])
        return ifs_test_done("parity_tok_cases");
    static const char *const cfg[2] = {"uncased", "cased"};
    ifs_tok_state *st = ifs_tok_state_create(tok[0]);
    int32_t *ids = malloc(1024 * sizeof(int32_t)), *types = malloc(1024 * sizeof(int32_t));
    int n_cases = 0, n_slow = 0, n_capped = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases"))
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text_hex");
        size_t tl = 0, al = 0, bl = 0;
        char *tx = unhex(t, &tl);
        char *ax = unhex(cJSON_GetObjectItemCaseSensitive(c, "a_hex"), &al);
        char *bx = unhex(cJSON_GetObjectItemCaseSensitive(c, "b_hex"), &bl);
        int32_t max_len = cJSON_GetObjectItemCaseSensitive(c, "max_len")->valueint;
        const cJSON *am = cJSON_GetObjectItemCaseSensitive(c, "a_max"); /* pairs with a cap */
        int32_t a_max = cJSON_IsNumber(am) ? am->valueint : 0;
        n_capped += a_max > 0;
        n_cases++;
        for (int k = 0; k < 2; k++) {
            const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, cfg[k]);
            const cJSON *wids = cJSON_GetObjectItemCaseSensitive(want, "ids");
            const cJSON *wtypes = cJSON_GetObjectItemCaseSensitive(want, "type_ids");
            int32_t n = 0, ml = max_len ? max_len : 1024;
            ifs_tok_result r;
            int rc;
            if (t)
                rc = ifs_tok_encode(tok[k], st, tx, tl, ml, ids, types, &n, &r);
            else if (a_max > 0)
                rc = ifs_tok_encode_pair_cap(tok[k], st, ax, al, bx, bl, ml, a_max, ids, types, &n,
                                             &r, NULL);
            else
                rc = ifs_tok_encode_pair(tok[k], st, ax, al, bx, bl, ml, ids, types, &n, &r, NULL);
            int ok = rc == 0 && same_ids(wids, ids, n) && same_ids(wtypes, types, n);
            IFS_CHECK(ok, "%s (%s): rc %d, %d ids", name, cfg[k], rc, n);
            if (!ok) {
                show("ours", ids, n);
                int32_t w[1024];
                int32_t wn = 0;
                const cJSON *v;
                cJSON_ArrayForEach(v, wids) if (wn < 1024) w[wn++] = v->valueint;
                show("hf  ", w, wn);
            }
            if (cJSON_GetObjectItemCaseSensitive(want, "slow_ids")) {
                n_slow++;
                printf("note: slow and fast HF tokenizers disagree on '%s' (%s); we follow fast\n",
                       name, cfg[k]);
            }
        }
        free(tx);
        free(ax);
        free(bx);
    }
    printf("%d cases x 2 configs, %d slow/fast disagreements recorded\n", n_cases, n_slow);
    IFS_CHECK(n_cases >= 40, "the table holds %d cases", n_cases);
    IFS_CHECK(n_capped >= 10, "the table holds %d pairs with an instruction cap", n_capped);
    free(ids);
    free(types);
    ifs_tok_state_free(st);
    ifs_tok_free(tok[0]);
    ifs_tok_free(tok[1]);
    cJSON_Delete(doc);
    return ifs_test_done("parity_tok_cases");
}
