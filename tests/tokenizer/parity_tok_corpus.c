/*
 * parity_tok_corpus.c - our ids against HF BertTokenizerFast's for every
 * response of the shared corpus (../shared/data/alpaca_eval_outputs), in two
 * configs of the real all-MiniLM-L6-v2 checkpoint: uncased (as shipped) and
 * cased (the same vocab with do_lower_case=false, which exercises the path
 * without lowercasing or accent stripping).
 *
 * The references are made at test time by scripts/ref_tokenize.py (run with
 * $IFS_PYTHON) into $IFS_TEST_TMP; both the untruncated WordPiece ids and the
 * [CLS] ... [SEP] encoding truncated to model_max_length are compared, and
 * every text is also encoded at max_len 16, 64 and 128 against [CLS] +
 * HF's WordPiece ids[:max_len - 2] + [SEP] (HF's right truncation of a
 * single text, by definition). The encoder stops early (tok_encode.c), so
 * these check that what it keeps is HF's, and that `truncated` is exact.
 *
 * Then scripts/ref_tok_trunc.py (every 60th record as an (instruction,
 * output) pair, uncased) gives HF's own truncated encodings, made with the
 * HF calls: single texts at 16, 64, 128, 512 and pairs at 16, 64, 65, 128,
 * 512 with first-text caps 0, 8, 40 (ifs_tok_encode_pair_cap; see the call in
 * ifs_tok.h), ids and type ids compared.
 * The first mismatches are printed with text index and generator.
 * Skips (77) when the corpus, the checkpoint or the Python stack is absent.
 * IFS_TOK_PARITY_LIMIT=N compares only the first N texts (for quick runs);
 * IFS_TOK_PARITY_REUSE=1 keeps references already in $IFS_TEST_TMP.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ifs_test.h"
#include "ifs_tok.h"

typedef struct {
    uint8_t *buf;
    size_t len, pos;
} reader;

static int slurp(const char *path, reader *r)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    r->buf = malloc(n > 0 ? (size_t)n : 1);
    r->len = r->buf && n > 0 && fread(r->buf, 1, (size_t)n, f) == (size_t)n ? (size_t)n : 0;
    r->pos = 0;
    fclose(f);
    return r->len ? 0 : -1;
}

static int get_u32(reader *r, uint32_t *v)
{
    if (r->pos + 4 > r->len)
        return -1;
    memcpy(v, r->buf + r->pos, 4); /* little-endian host assumed (x86-64, arm64) */
    r->pos += 4;
    return 0;
}

static int get_bytes(reader *r, size_t n, const uint8_t **p)
{
    if (r->pos + n > r->len)
        return -1;
    *p = r->buf + r->pos;
    r->pos += n;
    return 0;
}

static int check_magic(reader *r, const char *m)
{
    const uint8_t *p;
    return get_bytes(r, 8, &p) || memcmp(p, m, 8) ? -1 : 0;
}

typedef struct {
    uint32_t n_gen;
    char **gen;
    uint32_t n;
    uint32_t *text_gen;
    const char **text;
    uint32_t *text_len;
} corpus;

static int read_texts(const char *path, corpus *c, reader *r)
{
    if (slurp(path, r) || check_magic(r, "IFSTXT1") || get_u32(r, &c->n_gen))
        return -1;
    c->gen = calloc(c->n_gen, sizeof(char *));
    for (uint32_t i = 0; i < c->n_gen; i++) {
        uint32_t l;
        const uint8_t *p;
        if (get_u32(r, &l) || get_bytes(r, l, &p))
            return -1;
        c->gen[i] = strndup((const char *)p, l);
    }
    if (get_u32(r, &c->n))
        return -1;
    c->text_gen = malloc(c->n * sizeof(uint32_t));
    c->text = malloc(c->n * sizeof(char *));
    c->text_len = malloc(c->n * sizeof(uint32_t));
    for (uint32_t i = 0; i < c->n; i++) {
        const uint8_t *p;
        if (get_u32(r, &c->text_gen[i]) || get_u32(r, &c->text_len[i]) ||
            get_bytes(r, c->text_len[i], &p) || c->text_gen[i] >= c->n_gen)
            return -1;
        c->text[i] = (const char *)p;
    }
    return 0;
}

static void print_ids(const char *label, const uint32_t *ids, size_t n, size_t from)
{
    printf("    %s (%zu ids) from %zu:", label, n, from);
    for (size_t i = from; i < n && i < from + 12; i++)
        printf(" %u", ids[i]);
    printf("\n");
}

static void print_ids32(const char *label, const int32_t *ids, size_t n, size_t from)
{
    printf("    %s (%zu ids) from %zu:", label, n, from);
    for (size_t i = from; i < n && i < from + 12; i++)
        printf(" %d", ids[i]);
    printf("\n");
}

/* Compares one config; returns the number of mismatching texts. */
static long compare(const char *label, const char *cfg_name, const ifs_tok *tok, const corpus *c,
                    const char *dir, uint32_t limit)
{
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/%s.wp.bin", dir, cfg_name);
    snprintf(p2, sizeof p2, "%s/%s.enc.bin", dir, cfg_name);
    reader wp = {0}, enc = {0};
    uint32_t nwp, nenc;
    if (slurp(p1, &wp) || check_magic(&wp, "IFSIDS1") || get_u32(&wp, &nwp) || slurp(p2, &enc) ||
        check_magic(&enc, "IFSIDS1") || get_u32(&enc, &nenc) || nwp != c->n || nenc != c->n) {
        IFS_CHECK(0, "%s: reference files %s / %s unreadable or of the wrong size", cfg_name, p1,
                  p2);
        free(wp.buf);
        free(enc.buf);
        return 1;
    }
    ifs_tok_state *st = ifs_tok_state_create(tok);
    int32_t max_len = ifs_tok_get_config(tok)->model_max_length;
    int32_t *ids = malloc((size_t)(max_len > 128 ? max_len : 128) * sizeof(int32_t));
    long bad = 0, shown = 0;
    uint64_t n_tokens = 0;
    clock_t t0 = clock();
    uint32_t n = limit && limit < c->n ? limit : c->n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t cnt, ecnt;
        const uint8_t *p, *ep;
        if (get_u32(&wp, &cnt) || get_bytes(&wp, (size_t)cnt * 4, &p) || get_u32(&enc, &ecnt) ||
            get_bytes(&enc, (size_t)ecnt * 4, &ep)) {
            IFS_CHECK(0, "%s: reference files end early at text %u", cfg_name, i);
            bad++;
            break;
        }
        const uint32_t *ref = (const uint32_t *)p, *eref = (const uint32_t *)ep;
        const int32_t *got;
        int32_t ng;
        size_t badoff = 0;
        int rc = ifs_tok_tokenize(tok, st, c->text[i], c->text_len[i], &got, &ng, &badoff);
        int ok = rc == IFS_TOK_OK && (uint32_t)ng == cnt && !memcmp(got, ref, (size_t)cnt * 4);
        size_t first = 0;
        if (rc == IFS_TOK_OK && !ok)
            while (first < cnt && first < (size_t)ng && (uint32_t)got[first] == ref[first])
                first++;
        int32_t ne = 0;
        ifs_tok_result res;
        int rc2 =
            ifs_tok_encode(tok, st, c->text[i], c->text_len[i], max_len, ids, NULL, &ne, &res);
        int ok2 = rc2 == IFS_TOK_OK && (uint32_t)ne == ecnt &&
                  !memcmp(ids, eref, (size_t)ecnt * 4) &&
                  res.truncated == (cnt + 2 > (uint32_t)max_len) &&
                  (res.truncated ? res.n_untruncated > ne && res.n_untruncated <= (int32_t)cnt + 2
                                 : res.n_untruncated == (int32_t)cnt + 2);
        /* shorter lengths against HF's WordPiece ids cut as HF cuts */
        static const int32_t LENS[] = {16, 64, 128};
        int32_t bad_len = 0;
        for (size_t li = 0; rc == IFS_TOK_OK && ok && li < sizeof LENS / sizeof LENS[0]; li++) {
            int32_t L = LENS[li], m = 0;
            ifs_tok_result r3;
            uint32_t keep = cnt < (uint32_t)L - 2 ? cnt : (uint32_t)L - 2;
            int rc3 = ifs_tok_encode(tok, st, c->text[i], c->text_len[i], L, ids, NULL, &m, &r3);
            int ok3 = rc3 == IFS_TOK_OK && m == (int32_t)keep + 2 &&
                      ids[0] == ifs_tok_cls_id(tok) && ids[keep + 1] == ifs_tok_sep_id(tok) &&
                      !memcmp(ids + 1, ref, (size_t)keep * 4) && r3.truncated == (cnt > keep) &&
                      r3.n_untruncated > (r3.truncated ? m : m - 1) &&
                      r3.n_untruncated <= (int32_t)cnt + 2;
            if (!ok3 && !bad_len)
                bad_len = L;
        }
        if (bad_len)
            ok2 = 0;
        if (rc == IFS_TOK_OK)
            n_tokens += (uint64_t)ng;
        if (!ok || !ok2) {
            bad++;
            if (shown++ < 5) {
                printf(
                    "MISMATCH %s text %u (generator %s, %u bytes): tokenize rc %d, encode rc %d\n",
                    cfg_name, i, c->gen[c->text_gen[i]], c->text_len[i], rc, rc2);
                if (!ok && rc == IFS_TOK_OK) {
                    print_ids("hf  ", ref, cnt, first > 3 ? first - 3 : 0);
                    print_ids32("ours", got, (size_t)ng, first > 3 ? first - 3 : 0);
                }
                if (!ok2 && rc2 == IFS_TOK_OK)
                    printf("    truncated encoding differs (hf %u ids, ours %d, untruncated %d, "
                           "first bad max_len %d)\n",
                           ecnt, ne, res.n_untruncated, bad_len);
            }
        }
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("%s: %u texts, %llu WordPiece ids, %ld mismatching texts (%.1fs for tokenize+encode)\n",
           label, n, (unsigned long long)n_tokens, bad, secs);
    IFS_CHECK(bad == 0, "%s: %ld of %u texts differ from HF", label, bad, n);
    free(ids);
    ifs_tok_state_free(st);
    free(wp.buf);
    free(enc.buf);
    return bad;
}

/* HF's truncated encodings of scripts/ref_tok_trunc.py (pairs.bin, trunc.bin)
 * against ours; returns the number of mismatching encodings. */
static long compare_trunc(const ifs_tok *tok, const char *dir)
{
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/pairs.bin", dir);
    snprintf(p2, sizeof p2, "%s/trunc.bin", dir);
    reader pr = {0}, tr = {0};
    uint32_t np = 0, ncase = 0, nt = 0;
    if (slurp(p1, &pr) || check_magic(&pr, "IFSPAIR") || get_u32(&pr, &np) || slurp(p2, &tr) ||
        check_magic(&tr, "IFSTRC1") || get_u32(&tr, &ncase) || ncase > 64) {
        IFS_CHECK(0, "trunc: reference files %s / %s unreadable", p1, p2);
        free(pr.buf);
        free(tr.buf);
        return 1;
    }
    const char **ta = malloc(np * sizeof(char *)), **tb = malloc(np * sizeof(char *));
    uint32_t *la = malloc(np * sizeof(uint32_t)), *lb = malloc(np * sizeof(uint32_t));
    uint32_t kind[64], mlen[64], amax[64];
    long bad = 0, shown = 0, total = 0;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t rec;
        const uint8_t *p;
        if (get_u32(&pr, &rec) || get_u32(&pr, &la[i]) || get_bytes(&pr, la[i], &p)) {
            bad++;
            goto out;
        }
        ta[i] = (const char *)p;
        if (get_u32(&pr, &lb[i]) || get_bytes(&pr, lb[i], &p)) {
            bad++;
            goto out;
        }
        tb[i] = (const char *)p;
    }
    for (uint32_t k = 0; k < ncase; k++)
        if (get_u32(&tr, &kind[k]) || get_u32(&tr, &mlen[k]) || get_u32(&tr, &amax[k]) ||
            mlen[k] < 3 || mlen[k] > 4096) {
            bad++;
            goto out;
        }
    if (get_u32(&tr, &nt) || nt != np) {
        bad++;
        goto out;
    }
    ifs_tok_state *st = ifs_tok_state_create(tok);
    int32_t ids[4096], types[4096];
    clock_t t0 = clock();
    for (uint32_t k = 0; k < ncase; k++) {
        long case_bad = 0, case_trunc = 0;
        for (uint32_t i = 0; i < np; i++) {
            uint32_t cnt;
            const uint8_t *p, *q;
            if (get_u32(&tr, &cnt) || cnt > 4096 || get_bytes(&tr, (size_t)cnt * 4, &p) ||
                get_bytes(&tr, (size_t)cnt * 4, &q)) {
                IFS_CHECK(0, "trunc: %s ends early", p2);
                bad++;
                goto done;
            }
            int32_t n = 0;
            ifs_tok_result r;
            int bad_b = 0;
            int rc =
                kind[k]
                    ? ifs_tok_encode_pair_cap(tok, st, ta[i], la[i], tb[i], lb[i], (int32_t)mlen[k],
                                              (int32_t)amax[k], ids, types, &n, &r, &bad_b)
                    : ifs_tok_encode(tok, st, tb[i], lb[i], (int32_t)mlen[k], ids, types, &n, &r);
            total++;
            int ok = rc == IFS_TOK_OK && (uint32_t)n == cnt && !memcmp(ids, p, (size_t)cnt * 4) &&
                     !memcmp(types, q, (size_t)cnt * 4) && r.n_untruncated >= n &&
                     r.truncated == (r.n_untruncated > n);
            case_trunc += rc == IFS_TOK_OK && r.truncated;
            if (!ok) {
                case_bad++;
                if (shown++ < 5) {
                    printf("MISMATCH trunc %s max_len %u a_max %u, pair %u: rc %d, hf %u ids, "
                           "ours %d\n",
                           kind[k] ? "pair" : "single", mlen[k], amax[k], i, rc, cnt, n);
                    print_ids("hf  ", (const uint32_t *)p, cnt, 0);
                    print_ids32("ours", ids, (size_t)n, 0);
                }
            }
        }
        printf("trunc: %s max_len %u a_max %u: %u encodings (%ld truncated), %ld mismatching\n",
               kind[k] ? "pair" : "single", mlen[k], amax[k], np, case_trunc, case_bad);
        bad += case_bad;
    }
done:
    printf("trunc: %ld encodings, %ld mismatching (%.1fs)\n", total, bad,
           (double)(clock() - t0) / CLOCKS_PER_SEC);
    ifs_tok_state_free(st);
out:
    IFS_CHECK(bad == 0, "trunc: %ld encodings differ from HF (or the files are malformed)", bad);
    free(ta);
    free(tb);
    free(la);
    free(lb);
    free(pr.buf);
    free(tr.buf);
    return bad;
}

int main(void)
{
    const char *shared = ifs_test_env("IFS_SHARED_DIR", NULL);
    const char *models = ifs_test_env("IFS_MODELS_DIR", NULL);
    const char *py = ifs_test_env("IFS_PYTHON", NULL);
    const char *src = ifs_test_env("IFS_SOURCE_DIR", NULL);
    const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
    const char *lim = ifs_test_env("IFS_TOK_PARITY_LIMIT", "0");
    char model[4096], path[8192], cmd[32768];
    struct stat sb;
    if (!shared || !models || !py || !src)
        IFS_SKIP(
            "IFS_SHARED_DIR/IFS_MODELS_DIR/IFS_PYTHON/IFS_SOURCE_DIR not set (run through ctest)");
    snprintf(path, sizeof path, "%s/data/alpaca_eval_outputs", shared);
    if (stat(path, &sb))
        IFS_SKIP("the shared corpus %s is absent", path);
    snprintf(model, sizeof model, "%s/all-MiniLM-L6-v2", models);
    snprintf(path, sizeof path, "%s/vocab.txt", model);
    if (stat(path, &sb))
        IFS_SKIP("the checkpoint %s is absent (scripts/setup.sh fetches it)", model);
    if (stat(py, &sb))
        IFS_SKIP("the reference Python %s is absent (scripts/setup.sh makes it)", py);

    snprintf(path, sizeof path, "%s/cased.enc.bin", tmp);
    if (!getenv("IFS_TOK_PARITY_REUSE") || stat(path, &sb)) {
        snprintf(cmd, sizeof cmd,
                 "'%s' '%s/scripts/ref_tokenize.py' corpus '%s' '%s' '%s' --limit %s", py, src,
                 model, shared, tmp, lim);
        printf("running: %s\n", cmd);
        fflush(stdout);
        int rc = system(cmd);
        if (rc != 0) {
            fprintf(stderr, "FAIL: the reference script failed (status %d)\n", rc);
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/trunc.bin", tmp);
    if (!getenv("IFS_TOK_PARITY_REUSE") || stat(path, &sb)) {
        snprintf(cmd, sizeof cmd,
                 "'%s' '%s/scripts/ref_tok_trunc.py' trunc '%s' '%s' '%s' --limit %s", py, src,
                 model, shared, tmp, lim);
        printf("running: %s\n", cmd);
        fflush(stdout);
        int rc = system(cmd);
        if (rc != 0) {
            fprintf(stderr, "FAIL: the reference script failed (status %d)\n", rc);
            return 1;
        }
    }
    corpus c = {0};
    reader tr = {0};
    snprintf(path, sizeof path, "%s/texts.bin", tmp);
    if (read_texts(path, &c, &tr)) {
        fprintf(stderr, "FAIL: %s unreadable\n", path);
        return 1;
    }
    char err[512];
    ifs_tok *unc = ifs_tok_load(model, NULL, err, sizeof err);
    IFS_CHECK(unc != NULL, "loading %s: %s", model, err);
    ifs_tok_config cased = {0, -1, -1, -1};
    ifs_tok *cas = ifs_tok_load(model, &cased, err, sizeof err);
    IFS_CHECK(cas != NULL, "loading %s cased: %s", model, err);
    uint32_t limit = (uint32_t)strtoul(lim, NULL, 10);
    if (unc)
        compare("uncased", "uncased", unc, &c, tmp, limit);
    if (cas)
        compare("cased", "cased", cas, &c, tmp, limit);
    /* The path for checkpoints with normalized=true added tokens (each piece
     * normalized into a buffer, then matched, pre-tokenized, WordPiece'd) on
     * the whole corpus: the same vocab plus one normalized token that no
     * text contains, so HF's ids are those of the plain checkpoint. */
    snprintf(path, sizeof path, "%s/normtok", tmp);
    mkdir(path, 0755);
    snprintf(cmd, sizeof cmd, "%s/normtok/vocab.txt", tmp);
    unlink(cmd);
    char vsrc[8192];
    snprintf(vsrc, sizeof vsrc, "%s/vocab.txt", model);
    IFS_CHECK(symlink(vsrc, cmd) == 0, "linking %s", cmd);
    snprintf(cmd, sizeof cmd, "%s/normtok/tokenizer_config.json", tmp);
    FILE *cf = fopen(cmd, "wb");
    if (cf) {
        fputs("{\"do_lower_case\": true, \"model_max_length\": 512, \"added_tokens_decoder\": "
              "{\"1\": {\"content\": \"QxzqXzq\", \"special\": false, \"normalized\": true}}}",
              cf);
        fclose(cf);
    }
    ifs_tok *nt = ifs_tok_load(path, NULL, err, sizeof err);
    IFS_CHECK(nt != NULL, "loading %s: %s", path, err);
    if (nt) {
        compare("uncased, normalized-token path", "uncased", nt, &c, tmp, limit);
        compare_trunc(nt, tmp);
    }
    ifs_tok_free(nt);
    if (unc)
        compare_trunc(unc, tmp);
    ifs_tok_free(unc);
    ifs_tok_free(cas);
    for (uint32_t i = 0; i < c.n_gen; i++)
        free(c.gen[i]);
    free(c.gen);
    free(c.text_gen);
    free(c.text);
    free(c.text_len);
    free(tr.buf);
    return ifs_test_done("parity_tok_corpus");
}
