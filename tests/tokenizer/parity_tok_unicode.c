/*
 * parity_tok_unicode.c - every Unicode code point, through normalization and
 * pre-tokenization, against HF tokenizers at test time:
 *   1. scripts/gen_tok_tables.py --check: the committed tables
 *      (tokenizer/tok_tables.c) are what the installed `tokenizers` gives;
 *   2. for each code point c, the words of "A" c "b" (cleaning, CJK spacing,
 *      NFD + accent stripping, lowercasing, whitespace and punctuation
 *      splitting) from `scripts/ref_tokenize.py codepoints` against ours, in the
 *      uncased and cased configs of all-MiniLM-L6-v2.
 * Skips (77) when the checkpoint or the reference Python is absent.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ifs_test.h"
#include "ifs_tok.h"
#include "tok_internal.h"

static int put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static void compare(const char *cfg, const ifs_tok *tok, const char *path)
{
    FILE *f = fopen(path, "rb");
    IFS_CHECK(f != NULL, "%s: cannot open %s", cfg, path);
    if (!f)
        return;
    ifs_tok_state *st = ifs_tok_state_create(tok);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lines = 0, bad = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        uint32_t cp = (uint32_t)strtoul(line, NULL, 16);
        const char *want = tab + 1;
        char text[8];
        size_t k = 0;
        text[k++] = 'A';
        k += (size_t)put_utf8(text + k, cp);
        text[k++] = 'b';
        const char *got;
        size_t glen, boff;
        int rc = ifs_tok_pretokenize_debug(tok, st, text, k, &got, &glen, &boff);
        lines++;
        if (rc || strcmp(got, want)) {
            if (bad++ < 10)
                printf("MISMATCH %s U+%04X: ours '%s' (rc %d), hf '%s'\n", cfg, cp, rc ? "" : got,
                       rc, want);
        }
    }
    printf("%s: %ld code points, %ld differ\n", cfg, lines, bad);
    IFS_CHECK(lines >= 0x110000 - 0x800, "%s: only %ld code points in %s", cfg, lines, path);
    IFS_CHECK(bad == 0, "%s: %ld code points differ from HF", cfg, bad);
    free(line);
    fclose(f);
    ifs_tok_state_free(st);
}

int main(void)
{
    const char *models = ifs_test_env("IFS_MODELS_DIR", NULL);
    const char *py = ifs_test_env("IFS_PYTHON", NULL);
    const char *src = ifs_test_env("IFS_SOURCE_DIR", NULL);
    const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
    char model[4096], path[8192], cmd[32768], err[512];
    struct stat sb;
    if (!models || !py || !src)
        IFS_SKIP("IFS_MODELS_DIR/IFS_PYTHON/IFS_SOURCE_DIR not set (run through ctest)");
    snprintf(model, sizeof model, "%s/all-MiniLM-L6-v2", models);
    snprintf(path, sizeof path, "%s/vocab.txt", model);
    if (stat(path, &sb))
        IFS_SKIP("the checkpoint %s is absent (scripts/setup.sh fetches it)", model);
    if (stat(py, &sb))
        IFS_SKIP("the reference Python %s is absent (scripts/setup.sh makes it)", py);

    snprintf(cmd, sizeof cmd,
             "'%s' '%s/scripts/gen_tok_tables.py' --check '%s/tokenizer/tok_tables.c'", py, src,
             src);
    printf("running: %s\n", cmd);
    fflush(stdout);
    IFS_CHECK(system(cmd) == 0, "the committed tables match the installed HF tokenizers");

    snprintf(cmd, sizeof cmd, "'%s' '%s/scripts/ref_tokenize.py' codepoints '%s' '%s'", py, src,
             model, tmp);
    printf("running: %s\n", cmd);
    fflush(stdout);
    if (system(cmd) != 0) {
        fprintf(stderr, "FAIL: the reference script failed\n");
        return 1;
    }
    ifs_tok *unc = ifs_tok_load(model, NULL, err, sizeof err);
    IFS_CHECK(unc != NULL, "uncased load: %s", err);
    ifs_tok_config cc = {0, -1, -1, -1};
    ifs_tok *cas = ifs_tok_load(model, &cc, err, sizeof err);
    IFS_CHECK(cas != NULL, "cased load: %s", err);
    if (unc) {
        snprintf(path, sizeof path, "%s/uncased.cp.txt", tmp);
        compare("uncased", unc, path);
    }
    if (cas) {
        snprintf(path, sizeof path, "%s/cased.cp.txt", tmp);
        compare("cased", cas, path);
    }
    ifs_tok_free(unc);
    ifs_tok_free(cas);
    return ifs_test_done("parity_tok_unicode");
}
