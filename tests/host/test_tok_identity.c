/*
 * test_tok_identity.c - the tokenizer identity that keys --resume and the
 * report's classifier.tokenizer_sha256 (ifs_tok_identity hashed with sha256,
 * as host/score.c does): stable across loads, the same for one vocab whether
 * it comes from vocab.txt or tokenizer.json, different after any edit that
 * changes ids (a vocab line, a special token, a flag).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ifs_sha256.h"
#include "ifs_test.h"
#include "ifs_tok.h"

static const char *const VOCAB[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the",
                                    "cat",   "sat",   "##s",   "on",    "mat",    "."};
#define NV (sizeof VOCAB / sizeof VOCAB[0])

static char root[512];

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* A fresh model folder `name` with vocab.txt (swap: ids of "cat" and "sat"
 * exchanged) or tokenizer.json, plus an optional tokenizer_config.json. */
static const char *folder(const char *name, int json, int swap, const char *config)
{
    static char dir[768];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    mkdir(dir, 0777);
    char text[4096] = "";
    size_t n = 0;
    if (json)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
                              "\"continuing_subword_prefix\": \"##\", \"vocab\": {");
    for (size_t i = 0; i < NV; i++) {
        const char *t = VOCAB[i];
        if (swap && !strcmp(t, "cat"))
            t = "sat";
        else if (swap && !strcmp(t, "sat"))
            t = "cat";
        if (json)
            n += (size_t)snprintf(text + n, sizeof text - n, "%s\"%s\": %zu", i ? ", " : "", t, i);
        else
            n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", t);
    }
    if (json)
        snprintf(text + n, sizeof text - n, "}}, \"added_tokens\": []}");
    put_file(dir, json ? "tokenizer.json" : "vocab.txt", text);
    if (config)
        put_file(dir, "tokenizer_config.json", config);
    return dir;
}

typedef struct {
    ifs_sha256_ctx c;
    size_t bytes;
} sink;

static void put(void *ctx, const void *b, size_t n)
{
    sink *s = ctx;
    ifs_sha256_update(&s->c, b, n);
    s->bytes += n;
}

/* The identity hash of the tokenizer in `dir`, into hex; 0 on success. */
static int identity(const char *dir, char hex[65])
{
    char err[256] = "";
    ifs_tok *t = ifs_tok_load(dir, NULL, err, sizeof err);
    if (!t) {
        fprintf(stderr, "load %s: %s\n", dir, err);
        return -1;
    }
    sink s = {.bytes = 0};
    ifs_sha256_init(&s.c);
    int rc = ifs_tok_identity(t, put, &s);
    ifs_sha256_final_hex(&s.c, hex);
    ifs_tok_free(t);
    return rc || s.bytes < NV ? -1 : 0;
}

int main(void)
{
    const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
    snprintf(root, sizeof root, "%s/tok_identity.%ld", tmp, (long)getpid());
    mkdir(root, 0777);

    char base[65], again[65], x[65];
    IFS_CHECK(identity(folder("txt", 0, 0, NULL), base) == 0, "a_vocab_txt_folder_has_an_identity");
    IFS_CHECK(identity(folder("txt", 0, 0, NULL), again) == 0 && !strcmp(base, again),
              "the_identity_is_the_same_across_loads");
    IFS_CHECK(identity(folder("json", 1, 0, NULL), x) == 0 && !strcmp(base, x),
              "one_vocab_from_tokenizer_json_has_the_identity_of_its_vocab_txt");

    static const struct {
        const char *name;
        int json, swap;
        const char *config;
    } changed[] = {
        {"a_swapped_vocab_line_changes_the_identity", 0, 1, NULL},
        {"a_swapped_tokenizer_json_id_changes_the_identity", 1, 1, NULL},
        {"another_mask_token_changes_the_identity", 0, 0, "{\"mask_token\": \"mat\"}"},
        {"an_added_token_changes_the_identity", 0, 0,
         "{\"added_tokens_decoder\": {\"10\": {\"content\": \"mat\", \"special\": true}}}"},
        {"no_lower_casing_changes_the_identity", 0, 0, "{\"do_lower_case\": false}"},
        {"explicit_accent_stripping_changes_the_identity", 0, 0, "{\"strip_accents\": true}"},
        {"no_chinese_splitting_changes_the_identity", 0, 0, "{\"tokenize_chinese_chars\": false}"},
        {"another_model_max_length_changes_the_identity", 0, 0, "{\"model_max_length\": 128}"},
    };
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "c%zu", i);
        int rc = identity(folder(name, changed[i].json, changed[i].swap, changed[i].config), x);
        IFS_CHECK(rc == 0 && strcmp(base, x), "%s", changed[i].name);
    }

    sink s;
    IFS_CHECK(ifs_tok_identity(NULL, put, &s) == IFS_TOK_EARG,
              "a_null_tokenizer_is_refused_with_earg");
    return ifs_test_done("tok_identity");
}
