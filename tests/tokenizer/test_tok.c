/*
 * test_tok.c - unit tests of the tokenizer on a small vocab written here, so
 * they run everywhere: WordPiece rules, normalization paths, framing and
 * truncation, invalid UTF-8 offsets, the loaders' errors, the API contract,
 * and several threads sharing one tokenizer.
 * (Parity with HF on a real vocab: parity_tok_cases.c, parity_tok_corpus.c,
 * parity_tok_unicode.c.)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ifs_test.h"
#include "ifs_tok.h"
#include "tok_internal.h"

static const char *const VOCAB[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un",    "##aff", "##able", "a",
    "b",     ",",     ".",     "!",     "hello",  "world", "cafe",  "##s",    "the",
    "##é",   "é",     "h",     "##e",   "##l",    "##o",   "ca",    "##fe",   "我",
    "x",     "##x",   "İ",     "Hello", "i",      "##̇",    "bb",    "##b",    "##f",
};
enum { ID_PAD, ID_UNK, ID_CLS, ID_SEP, ID_MASK };

static char tmpdir[2048];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static char *vocab_text(void)
{
    static char buf[4096];
    buf[0] = 0;
    for (size_t i = 0; i < sizeof VOCAB / sizeof VOCAB[0]; i++) {
        strcat(buf, VOCAB[i]);
        strcat(buf, i == 5 ? " \r\n" : "\n"); /* trailing space and CR are trimmed, as in HF */
    }
    return buf;
}

/* Tokens of `text` as one space-separated string (ids turned back to tokens). */
static const char *tokens_of(const ifs_tok *tok, ifs_tok_state *st, const char *text, size_t len)
{
    static char out[65536];
    const int32_t *ids;
    int32_t n;
    size_t bad;
    int rc = ifs_tok_tokenize(tok, st, text, len, &ids, &n, &bad);
    if (rc) {
        snprintf(out, sizeof out, "<rc %d at %zu>", rc, bad);
        return out;
    }
    out[0] = 0;
    for (int32_t i = 0; i < n; i++) {
        const char *t = ifs_tok_id_to_token(tok, ids[i]);
        if (i)
            strcat(out, " ");
        strncat(out, t ? t : "<null>", sizeof out - strlen(out) - 2);
    }
    return out;
}

typedef struct {
    const char *name;
    int cased;
    const char *text;
    const char *want;
} wp_case;

static const wp_case WP_CASES[] = {
    {"wordpiece splits a word into the longest pieces", 0, "unaffable", "un ##aff ##able"},
    {"wordpiece turns a word with an unknown suffix into one unk", 0, "unaffablez", "[UNK]"},
    {"wordpiece turns a word with an unknown start into one unk", 0, "zzz hello", "[UNK] hello"},
    {"punctuation is split into words of its own", 0, "hello,world!", "hello , world !"},
    {"uncased lowercases ascii", 0, "HELLO World", "hello world"},
    {"uncased strips accents after decomposition", 0, "Café", "cafe"},
    {"cased keeps case and accents", 1, "Hello café", "Hello ca ##f ##é"},
    {"control characters vanish inside a word", 0, "hel\x01lo", "hello"},
    {"nul vanishes inside a word", 0, "hel\0lo wor\x7fld", "hello world"},
    {"tabs and newlines split words", 0, "a\tb\nhello\r\nworld", "a b hello world"},
    {"no break space splits words", 0,
     "a\xc2\xa0"
     "b",
     "a b"},
    {"zero width space vanishes inside a word", 0, "hel\xe2\x80\x8blo", "hello"},
    {"a cjk ideograph is a word of its own", 0, "x\xe6\x88\x91x", "x 我 x"},
    {"special tokens in the raw text are kept whole", 0, "a[SEP]b [MASK]", "a [SEP] b [MASK]"},
    {"a lowercase special token is not special", 0, "[sep]", "[UNK] [UNK] [UNK]"},
    {"a special token split by a control char is not special", 1, "[SE\x01P]", "[UNK] [UNK] [UNK]"},
    {"continuation pieces repeat", 0, "bbbbb", "bb ##b ##b ##b"},
    {"dotted capital i lowercases then loses its dot", 0, "\xc4\xb0", "i"},
    {"cased dotted capital i stays", 1, "\xc4\xb0", "İ"},
    {"empty text gives nothing", 0, "", ""},
    {"whitespace only gives nothing", 0, " \t\n \xe3\x80\x80 ", ""},
};

static void test_wordpiece(const ifs_tok *unc, const ifs_tok *cas)
{
    ifs_tok_state *st = ifs_tok_state_create(unc);
    for (size_t i = 0; i < sizeof WP_CASES / sizeof WP_CASES[0]; i++) {
        const wp_case *c = &WP_CASES[i];
        size_t len = strlen(c->text);
        if (!strcmp(c->name, "nul vanishes inside a word"))
            len = 13;
        const char *got = tokens_of(c->cased ? cas : unc, st, c->text, len);
        IFS_CHECK(!strcmp(got, c->want), "%s: got '%s', want '%s'", c->name, got, c->want);
    }
    ifs_tok_state_free(st);
}

static void test_long_words(const ifs_tok *tok, const ifs_tok *cased)
{
    ifs_tok_state *st = ifs_tok_state_create(tok);
    static char w[10001];
    struct {
        const char *name;
        size_t n;
        const char *want_first;
        int32_t want_n;
    } cases[] = {
        {"a word of exactly 100 chars is split normally", 100, "bb", 99},
        {"a word of 101 chars is a single unk", 101, "[UNK]", 1},
        {"a word of 10000 chars is a single unk", 10000, "[UNK]", 1},
    };
    for (size_t i = 0; i < 3; i++) {
        memset(w, 'b', cases[i].n);
        const int32_t *ids;
        int32_t n;
        int rc = ifs_tok_tokenize(tok, st, w, cases[i].n, &ids, &n, NULL);
        IFS_CHECK(rc == 0 && n == cases[i].want_n &&
                      !strcmp(ifs_tok_id_to_token(tok, ids[0]), cases[i].want_first),
                  "%s: rc %d, n %d", cases[i].name, rc, n);
    }
    /* 101 chars of which some are multi-byte: counted in chars, not bytes */
    char mixed[300];
    size_t k = 0;
    for (int i = 0; i < 50; i++) {
        memcpy(mixed + k, "\xc3\xa9", 2); /* é */
        k += 2;
    }
    const int32_t *ids;
    int32_t n;
    int rc = ifs_tok_tokenize(cased, st, mixed, k, &ids, &n, NULL);
    IFS_CHECK(rc == 0 && n == 50,
              "(cased) fifty two-byte chars are counted as 50 chars, not 100 bytes: n %d", n);
    ifs_tok_state_free(st);
}

typedef struct {
    const char *name;
    const char *bytes;
    size_t len;
    size_t want_offset;
} utf8_case;

static const utf8_case UTF8_CASES[] = {
    {"a lone continuation byte is refused at its offset", "ab\x80", 3, 2},
    {"a truncated two byte sequence at the end is refused at its start", "a\xc3", 2, 1},
    {"a truncated three byte sequence at the end is refused at its start", "a\xe2\x82", 3, 1},
    {"an overlong slash is refused", "\xc0\xaf", 2, 0},
    {"an overlong three byte nul is refused", "xy\xe0\x80\x80", 5, 2},
    {"an encoded surrogate is refused", "\xed\xa0\x80", 3, 0},
    {"a code point above U+10FFFF is refused", "ok \xf4\x90\x80\x80", 7, 3},
    {"a bad continuation inside a sequence is refused", "\xe2\x28\xa1", 3, 0},
    {"0xff is never valid", "hello \xff", 7, 6},
    {"an invalid byte after valid multibyte text is found", "caf\xc3\xa9 \xc3\x28", 8, 6},
};

static void test_utf8(const ifs_tok *tok)
{
    ifs_tok_state *st = ifs_tok_state_create(tok);
    for (size_t i = 0; i < sizeof UTF8_CASES / sizeof UTF8_CASES[0]; i++) {
        const utf8_case *c = &UTF8_CASES[i];
        int32_t ids[16], n = -1;
        ifs_tok_result r = {0};
        int rc = ifs_tok_encode(tok, st, c->bytes, c->len, 16, ids, NULL, &n, &r);
        IFS_CHECK(rc == IFS_TOK_EUTF8 && r.bad_offset == c->want_offset && n == -1,
                  "%s: rc %d offset %zu (want %zu), n %d", c->name, rc, r.bad_offset,
                  c->want_offset, n);
        int bad_in_b = -1;
        rc = ifs_tok_encode_pair(tok, st, "a", 1, c->bytes, c->len, 16, ids, NULL, &n, &r,
                                 &bad_in_b);
        IFS_CHECK(rc == IFS_TOK_EUTF8 && bad_in_b == 1 && r.bad_offset == c->want_offset,
                  "%s (second of a pair): rc %d in_b %d", c->name, rc, bad_in_b);
        rc = ifs_tok_encode_pair(tok, st, c->bytes, c->len, "a", 1, 16, ids, NULL, &n, &r,
                                 &bad_in_b);
        IFS_CHECK(rc == IFS_TOK_EUTF8 && bad_in_b == 0, "%s (first of a pair): rc %d in_b %d",
                  c->name, rc, bad_in_b);
    }
    /* valid edge sequences are accepted */
    const char *ok = "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf";
    const int32_t *ids;
    int32_t n;
    IFS_CHECK(ifs_tok_tokenize(tok, st, ok, strlen(ok), &ids, &n, NULL) == 0,
              "the smallest and largest code points of each length are valid");
    ifs_tok_state_free(st);
}

typedef struct {
    const char *name;
    const char *a, *b; /* b NULL: single text */
    int32_t max_len;
    const char *want; /* tokens incl. specials, then '|' and type ids */
    int32_t a_max;    /* pairs: the first text's own cap (0 = none) */
} frame_case;

static const frame_case FRAME_CASES[] = {
    {"a single text is framed by cls and sep", "a b", NULL, 0, "[CLS] a b [SEP]|0000", 0},
    {"truncation at exactly the limit keeps every token", "a b a", NULL, 5,
     "[CLS] a b a [SEP]|00000", 0},
    {"truncation one over the limit drops the last token", "a b a b", NULL, 5,
     "[CLS] a b a [SEP]|00000", 0},
    {"max length two keeps only the framing", "a b", NULL, 2, "[CLS] [SEP]|00", 0},
    {"a pair has two separators and type ids", "a", "b", 0, "[CLS] a [SEP] b [SEP]|00011", 0},
    {"longest first trims the longer text of a pair", "a", "b b b b", 7,
     "[CLS] a [SEP] b b b [SEP]|0001111", 0},
    {"longest first halves the room when both are long", "a a a a", "b b b b", 8,
     "[CLS] a a [SEP] b b b [SEP]|00001111", 0},
    {"longest first gives the odd token to the longer first text", "a a a a a", "b b b b", 8,
     "[CLS] a a a [SEP] b b [SEP]|00000111", 0},
    {"a pair at max length three keeps only specials", "a", "b", 3, "[CLS] [SEP] [SEP]|001", 0},
    {"a first-text cap cuts the instruction first", "a a a a", "b b b b", 0,
     "[CLS] a a [SEP] b b b b [SEP]|000011111", 2},
    {"under a cap the response fills the rest", "a a a a", "b b b b", 8,
     "[CLS] a a [SEP] b b b [SEP]|00001111", 2},
    {"a cap keeps the start of a long response", "a a a a a a", "b b b b b b", 8,
     "[CLS] a [SEP] b b b b [SEP]|00011111", 1},
    {"a cap larger than the text changes nothing", "a", "b b b b", 7,
     "[CLS] a [SEP] b b b [SEP]|0001111", 5},
    {"a cap above half the room still truncates longest first", "a a a a a", "b b b b", 8,
     "[CLS] a a [SEP] b b b [SEP]|00001111", 4},
};

static void test_framing(const ifs_tok *tok)
{
    ifs_tok_state *st = ifs_tok_state_create(tok);
    for (size_t i = 0; i < sizeof FRAME_CASES / sizeof FRAME_CASES[0]; i++) {
        const frame_case *c = &FRAME_CASES[i];
        int32_t ids[64], types[64], n = 0;
        ifs_tok_result r;
        int rc = c->b ? ifs_tok_encode_pair_cap(tok, st, c->a, strlen(c->a), c->b, strlen(c->b),
                                                c->max_len, c->a_max, ids, types, &n, &r, NULL)
                      : ifs_tok_encode(tok, st, c->a, strlen(c->a), c->max_len, ids, types, &n, &r);
        char got[512] = "";
        for (int32_t k = 0; k < n; k++) {
            if (k)
                strcat(got, " ");
            strcat(got, ifs_tok_id_to_token(tok, ids[k]));
        }
        strcat(got, "|");
        for (int32_t k = 0; k < n; k++)
            strcat(got, types[k] ? "1" : "0");
        IFS_CHECK(rc == 0 && !strcmp(got, c->want), "%s: rc %d got '%s' want '%s'", c->name, rc,
                  got, c->want);
        IFS_CHECK(r.truncated == (r.n_untruncated > n), "%s: truncated flag %d with %d of %d ids",
                  c->name, r.truncated, n, r.n_untruncated);
    }
    ifs_tok_state_free(st);
}

static void test_api(const ifs_tok *tok)
{
    ifs_tok_state *st = ifs_tok_state_create(tok);
    int32_t ids[8], n;
    const int32_t *pids;
    IFS_CHECK(ifs_tok_encode(NULL, st, "a", 1, 8, ids, NULL, &n, NULL) == IFS_TOK_EARG,
              "encode refuses a NULL tokenizer");
    IFS_CHECK(ifs_tok_encode(tok, NULL, "a", 1, 8, ids, NULL, &n, NULL) == IFS_TOK_EARG,
              "encode refuses a NULL state");
    IFS_CHECK(ifs_tok_encode(tok, st, NULL, 1, 8, ids, NULL, &n, NULL) == IFS_TOK_EARG,
              "encode refuses NULL text with a length");
    IFS_CHECK(ifs_tok_encode(tok, st, NULL, 0, 8, ids, NULL, &n, NULL) == 0 && n == 2,
              "encode accepts NULL text of length zero");
    IFS_CHECK(ifs_tok_encode(tok, st, "a", 1, 1, ids, NULL, &n, NULL) == IFS_TOK_EARG,
              "encode refuses max length one");
    IFS_CHECK(ifs_tok_encode_pair(tok, st, "a", 1, "b", 1, 2, ids, NULL, &n, NULL, NULL) ==
                  IFS_TOK_EARG,
              "a pair refuses max length two");
    IFS_CHECK(ifs_tok_encode_pair_cap(tok, st, "a", 1, "b", 1, 8, -1, ids, NULL, &n, NULL, NULL) ==
                  IFS_TOK_EARG,
              "a pair refuses a negative first-text cap");
    IFS_CHECK(ifs_tok_tokenize(tok, st, "a", 1, &pids, NULL, NULL) == IFS_TOK_EARG,
              "tokenize refuses a NULL count");
    IFS_CHECK(ifs_tok_id_to_token(tok, -1) == NULL && ifs_tok_id_to_token(tok, 1 << 30) == NULL,
              "id_to_token returns NULL out of range");
    IFS_CHECK(ifs_tok_cls_id(tok) == ID_CLS && ifs_tok_sep_id(tok) == ID_SEP &&
                  ifs_tok_pad_id(tok) == ID_PAD && ifs_tok_unk_id(tok) == ID_UNK,
              "special ids come from the vocab");
    IFS_CHECK(ifs_tok_vocab_size(tok) == (int32_t)(sizeof VOCAB / sizeof VOCAB[0]),
              "vocab size counts every line");
    IFS_CHECK(!strcmp(ifs_tok_id_to_token(tok, 5), "un"),
              "trailing whitespace of a vocab line is trimmed");
    for (int rc = 0; rc >= -6; rc--)
        IFS_CHECK(ifs_tok_strerror(rc) && *ifs_tok_strerror(rc), "strerror names status %d", rc);
    /* max_len <= 0 takes the config's */
    IFS_CHECK(ifs_tok_get_config(tok)->model_max_length == 512, "default model_max_length is 512");
    /* the state grows for a long text then still serves a short one */
    size_t big = 1 << 20;
    char *t = malloc(big);
    for (size_t i = 0; i < big; i++)
        t[i] = i % 2 ? ' ' : 'a';
    int32_t nn;
    IFS_CHECK(ifs_tok_tokenize(tok, st, t, big, &pids, &nn, NULL) == 0 && nn == (int32_t)(big / 2),
              "a megabyte of one-letter words gives one id per word");
    IFS_CHECK(ifs_tok_tokenize(tok, st, "hello", 5, &pids, &nn, NULL) == 0 && nn == 1,
              "the state is reusable after a large text");
    free(t);
    ifs_tok_state_free(st);
    ifs_tok_state_free(NULL);
    ifs_tok_free(NULL);
}

static void test_loaders(void)
{
    char path[8192], err[512];
    ifs_tok *t = ifs_tok_load("/nonexistent/ifs-tok", NULL, err, sizeof err);
    IFS_CHECK(!t && strstr(err, "/nonexistent/ifs-tok"),
              "a missing folder is reported with its name: %s", err);
    snprintf(path, sizeof path, "%s/novocab.txt", tmpdir);
    write_file(path, "a\nb\n[CLS]\n[SEP]\n");
    t = ifs_tok_load_vocab(path, NULL, err, sizeof err);
    IFS_CHECK(!t && strstr(err, "[UNK]"), "a vocab without [UNK] is refused: %s", err);
    snprintf(path, sizeof path, "%s/empty.txt", tmpdir);
    write_file(path, "");
    t = ifs_tok_load_vocab(path, NULL, err, sizeof err);
    IFS_CHECK(!t, "an empty vocab is refused");

    /* a folder with only tokenizer.json (vocab in model.vocab, settings in normalizer) */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/jsononly", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_file(
        path,
        "{\"added_tokens\":[{\"id\":3,\"content\":\"[SEP]\",\"special\":true,\"normalized\":false}]"
        ","
        "\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":false,\"strip_accents\":null,"
        "\"handle_chinese_chars\":true,\"clean_text\":true},"
        "\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,"
        "\"[SEP]\":3,\"Hi\":4,\"hi\":5}}}");
    t = ifs_tok_load(dir, NULL, err, sizeof err);
    IFS_CHECK(t != NULL, "a folder with only tokenizer.json loads: %s", err);
    if (t) {
        ifs_tok_state *st = ifs_tok_state_create(t);
        const char *got = tokens_of(t, st, "Hi hi[SEP]", 10);
        IFS_CHECK(!strcmp(got, "Hi hi [SEP]"),
                  "tokenizer.json's normalizer settings apply (cased): %s", got);
        IFS_CHECK(ifs_tok_get_config(t)->do_lower_case == 0,
                  "lowercase=false is read from tokenizer.json");
        ifs_tok_state_free(st);
        ifs_tok_free(t);
    }
    /* tokenizer_config.json overrides, and an explicit override beats it */
    snprintf(dir, sizeof dir, "%s/withcfg", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    write_file(path, vocab_text());
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    write_file(path, "{\"do_lower_case\": false, \"model_max_length\": 128, \"unk_token\": "
                     "{\"content\": \"[UNK]\"}}");
    t = ifs_tok_load(dir, NULL, err, sizeof err);
    IFS_CHECK(t && ifs_tok_get_config(t)->do_lower_case == 0 &&
                  ifs_tok_get_config(t)->model_max_length == 128,
              "tokenizer_config.json settings are read: %s", t ? "" : err);
    ifs_tok_free(t);
    ifs_tok_config o = {1, -1, -1, 64};
    t = ifs_tok_load(dir, &o, err, sizeof err);
    IFS_CHECK(t && ifs_tok_get_config(t)->do_lower_case == 1 &&
                  ifs_tok_get_config(t)->model_max_length == 64,
              "an override beats the config file");
    ifs_tok_free(t);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    write_file(path, "{\"do_lower_case\": fals");
    t = ifs_tok_load(dir, NULL, err, sizeof err);
    IFS_CHECK(!t && strstr(err, "tokenizer_config.json"),
              "malformed JSON is refused with the file name: %s", err);
}

/* Issue 11 item 5: an added token starting with a letter made encoding loop
 * forever when that letter appeared inside a word. alarm() turns a hang into
 * a failure (SIGALRM kills the test). */
static void test_added_letter_token(void)
{
    char dir[4096], path[8192], err[512];
    snprintf(dir, sizeof dir, "%s/addedletter", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    write_file(path, vocab_text());
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    write_file(path,
               "{\"added_tokens_decoder\": {\"36\": {\"content\": \"ab1\", \"special\": false,"
               " \"normalized\": false}}}");
    /* the added token needs an id: add it to the vocab as line 36 */
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    {
        char v[4096];
        snprintf(v, sizeof v, "%sab1\n", vocab_text());
        write_file(path, v);
    }
    ifs_tok *t = ifs_tok_load(dir, NULL, err, sizeof err);
    IFS_CHECK(t != NULL, "a checkpoint with an added token starting with a letter loads: %s", err);
    if (!t)
        return;
    ifs_tok_state *st = ifs_tok_state_create(t);
    alarm(10);
    const char *got = tokens_of(t, st, "ba", 2);
    IFS_CHECK(!strcmp(got, "b ##a") || strstr(got, "[UNK]") != NULL,
              "a letter that starts an added token, inside a word, does not hang: %s", got);
    got = tokens_of(t, st, "hello xab1 ab", 13);
    IFS_CHECK(!strcmp(got, "hello x ab1 a ##b"),
              "an added token inside a word is split out, as HF does: %s", got);
    alarm(0);
    ifs_tok_state_free(st);
    ifs_tok_free(t);
}

/* Issue 11 item 6: tokenizer files must be regular files of bounded size;
 * a FIFO must not block the load. alarm() turns a block into a failure. */
static void test_file_kinds(void)
{
    char dir[4096], path[8192], err[512];
    static const char *const names[] = {"vocab.txt", "tokenizer_config.json", "tokenizer.json"};
    alarm(20);
    for (int k = 0; k < 4; k++) { /* FIFO, directory, /dev/zero link, oversize */
        for (int f = 0; f < 3; f++) {
            static const char *const kind[] = {"fifo", "dir", "zero", "big"};
            snprintf(dir, sizeof dir, "%s/kind-%s-%d", tmpdir, kind[k], f);
            mkdir(dir, 0755);
            if (f != 0) { /* a good vocab beside the bad file */
                snprintf(path, sizeof path, "%s/vocab.txt", dir);
                write_file(path, vocab_text());
            }
            snprintf(path, sizeof path, "%s/%s", dir, names[f]);
            unlink(path);
            rmdir(path);
            int made = 0;
            if (k == 0)
                made = mkfifo(path, 0644) == 0;
            else if (k == 1)
                made = mkdir(path, 0755) == 0;
            else if (k == 2)
                made = symlink("/dev/zero", path) == 0;
            else {
                FILE *fp = fopen(path, "wb");
                made = fp && fseek(fp, (long)IFS_TOK_MAX_FILE_BYTES, SEEK_SET) == 0 &&
                       fputc('\n', fp) != EOF;
                if (fp)
                    fclose(fp);
            }
            if (!made) {
                fprintf(stderr, "note: cannot make a %s at %s, case skipped\n", kind[k], path);
                continue;
            }
            ifs_tok *t = ifs_tok_load(dir, NULL, err, sizeof err);
            IFS_CHECK(!t && strstr(err, names[f]) != NULL,
                      "a %s as %s is refused with the file named: %s", kind[k], names[f], err);
            ifs_tok_free(t);
            if (f == 0) {
                t = ifs_tok_load_vocab(path, NULL, err, sizeof err);
                IFS_CHECK(!t && strstr(err, names[f]) != NULL,
                          "ifs_tok_load_vocab refuses a %s: %s", kind[k], err);
                ifs_tok_free(t);
            }
            if (k == 3)
                unlink(path); /* sparse, but do not leave 64 MiB around */
        }
    }
    alarm(0);
}

/* Issue 11 item 15: bad model_max_length values and ids are refused with a
 * message; duplicate JSON keys: the last wins, as in Python's json (HF). */
static void test_config_values(void)
{
    char dir[4096], path[8192], err[512];
    static const struct {
        const char *cfg;
        int ok, max_len, lower;
        const char *what;
    } cases[] = {
        {"{\"model_max_length\": 0}", 0, 0, 1, "model_max_length 0 is refused"},
        {"{\"model_max_length\": 1}", 0, 0, 1, "model_max_length 1 is refused"},
        {"{\"model_max_length\": -5}", 0, 0, 1, "a negative model_max_length is refused"},
        {"{\"model_max_length\": 12.5}", 0, 0, 1, "a fractional model_max_length is refused"},
        {"{\"model_max_length\": \"128\"}", 0, 0, 1, "a string model_max_length is refused"},
        {"{\"model_max_length\": null}", 1, 512, 1,
         "a null model_max_length means the default 512"},
        {"{\"model_max_length\": 1000000000000000019884624838656}", 1, 2147483647, 1,
         "HF's no-limit sentinel 1e30 reads as no limit (INT32_MAX, capped by the caller)"},
        {"{\"model_max_length\": 2}", 1, 2, 1, "model_max_length 2 is accepted"},
        {"{\"model_max_length\": 64, \"model_max_length\": 128}", 1, 128, 1,
         "of two model_max_length keys the last wins"},
        {"{\"do_lower_case\": true, \"do_lower_case\": false}", 1, 512, 0,
         "of two do_lower_case keys the last wins"},
        {"{\"added_tokens_decoder\": {\"5\": {\"content\": \"un\", \"single_word\": true}}}", 0, 0,
         1, "an added token with single_word=true is refused (not implemented)"},
        {"{\"added_tokens_decoder\": {\"5\": {\"content\": \"\\u0001\", \"normalized\": true}}}", 0,
         0, 1, "a normalized added token that normalizes to nothing is refused"},
        {"{\"added_tokens_decoder\": {\"5\": {\"content\": \"\xff\"}}}", 0, 0, 1,
         "an added token that is not valid UTF-8 is refused"},
        {"{\"added_tokens_decoder\": {\"1.5\": {\"content\": \"zz\"}}}", 0, 0, 1,
         "a fractional added_tokens_decoder id is refused"},
        {"{\"added_tokens_decoder\": {\"-1\": {\"content\": \"zz\"}}}", 0, 0, 1,
         "a negative added_tokens_decoder id is refused"},
        {"{\"added_tokens_decoder\": {\"99999\": {\"content\": \"zz\"}}}", 0, 0, 1,
         "an added_tokens_decoder id past the vocab is refused"},
    };
    snprintf(dir, sizeof dir, "%s/cfgvalues", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    write_file(path, vocab_text());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        write_file(path, cases[i].cfg);
        err[0] = 0;
        ifs_tok *t = ifs_tok_load(dir, NULL, err, sizeof err);
        if (cases[i].ok)
            IFS_CHECK(t && ifs_tok_get_config(t)->model_max_length == cases[i].max_len &&
                          ifs_tok_get_config(t)->do_lower_case == cases[i].lower,
                      "%s (%s)", cases[i].what, t ? "" : err);
        else
            IFS_CHECK(!t && strstr(err, "tokenizer_config.json") != NULL, "%s: %s", cases[i].what,
                      err);
        ifs_tok_free(t);
    }
    /* tokenizer.json ids */
    static const struct {
        const char *vocab_extra, *added;
        int ok;
        const char *what;
    } tj[] = {
        {",\"hi\":4.5", "", 0, "a fractional tokenizer.json vocab id is refused"},
        {",\"hi\":-4", "", 0, "a negative tokenizer.json vocab id is refused"},
        {",\"hi\":4", ",{\"id\":4.5,\"content\":\"hi\"}", 0,
         "a fractional added_tokens id is refused"},
        {",\"hi\":4", ",{\"id\":-2,\"content\":\"hi\"}", 0,
         "a negative added_tokens id is refused"},
        {",\"hi\":4", ",{\"id\":7,\"content\":\"hi\"}", 0,
         "an added_tokens id past the vocab is refused"},
        {",\"hi\":4,\"hi\":5", "", 1, "of two vocab keys the last wins"},
    };
    snprintf(dir, sizeof dir, "%s/tjvalues", tmpdir);
    mkdir(dir, 0755);
    for (size_t i = 0; i < sizeof tj / sizeof tj[0]; i++) {
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        char body[2048];
        snprintf(body, sizeof body,
                 "{\"added_tokens\":[{\"id\":3,\"content\":\"[SEP]\",\"special\":true,"
                 "\"normalized\":false}%s],"
                 "\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,"
                 "\"[SEP]\":3%s}}}",
                 tj[i].added, tj[i].vocab_extra);
        write_file(path, body);
        err[0] = 0;
        ifs_tok *t = ifs_tok_load(dir, NULL, err, sizeof err);
        if (tj[i].ok) {
            int good = t != NULL;
            if (t) {
                ifs_tok_state *st = ifs_tok_state_create(t);
                const int32_t *ids;
                int32_t n;
                good =
                    ifs_tok_tokenize(t, st, "hi", 2, &ids, &n, NULL) == 0 && n == 1 && ids[0] == 5;
                ifs_tok_state_free(st);
            }
            IFS_CHECK(good, "%s (%s)", tj[i].what, t ? "" : err);
        } else {
            IFS_CHECK(!t && strstr(err, "tokenizer.json") != NULL, "%s: %s", tj[i].what, err);
        }
        ifs_tok_free(t);
    }
}

/* ---- threads: one shared tokenizer, one state each, same results ---- */
typedef struct {
    const ifs_tok *tok;
    const char **texts;
    int n;
    uint64_t sum;
} thr_arg;

static void *thr_main(void *p)
{
    thr_arg *a = p;
    ifs_tok_state *st = ifs_tok_state_create(a->tok);
    for (int rep = 0; rep < 200; rep++)
        for (int i = 0; i < a->n; i++) {
            const int32_t *ids;
            int32_t n;
            if (ifs_tok_tokenize(a->tok, st, a->texts[i], strlen(a->texts[i]), &ids, &n, NULL) == 0)
                for (int32_t k = 0; k < n; k++)
                    a->sum = a->sum * 31 + (uint64_t)ids[k] + 1;
        }
    ifs_tok_state_free(st);
    return NULL;
}

static void test_threads(const ifs_tok *tok)
{
    const char *texts[] = {"unaffable hello, world!", "Café x我x [SEP] bbbbb", "a b a b a b"};
    thr_arg one = {tok, texts, 3, 0};
    thr_main(&one);
    pthread_t th[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = one;
        args[i].sum = 0;
        pthread_create(&th[i], NULL, thr_main, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        IFS_CHECK(args[i].sum == one.sum, "thread %d sharing the tokenizer gets the same ids", i);
    }
}

/* Encoding stops once the kept ids are known (tok_encode.c): what it keeps,
 * the truncated flag, and UTF-8 errors past the stop must be as if the whole
 * text had been encoded. */
static void test_early_stop(const ifs_tok *tok)
{
    ifs_tok_state *st = ifs_tok_state_create(tok);
    int32_t ids[64], types[64], n = 0;
    ifs_tok_result r;
    static const struct {
        const char *name, *text;
        int32_t max_len;
        const char *want;
        int truncated;
    } C[] = {
        {"a text that fits exactly is not truncated", "a b", 4, "[CLS] a b [SEP]", 0},
        {"one id over is truncated", "a b a", 4, "[CLS] a b [SEP]", 1},
        {"a word across the limit keeps its first pieces", "hello unaffable", 4,
         "[CLS] hello un [SEP]", 1},
        {"a word that ends unknown past its first pieces is one [UNK]", "a unaffz b", 4,
         "[CLS] a [UNK] [SEP]", 1},
        {"ids before punctuation and an added token", "a,[MASK] b", 5, "[CLS] a , [MASK] [SEP]", 1},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        int rc =
            ifs_tok_encode(tok, st, C[i].text, strlen(C[i].text), C[i].max_len, ids, NULL, &n, &r);
        char got[512] = "";
        for (int32_t k = 0; k < n; k++) {
            if (k)
                strcat(got, " ");
            strcat(got, ifs_tok_id_to_token(tok, ids[k]));
        }
        IFS_CHECK(rc == 0 && !strcmp(got, C[i].want) && r.truncated == C[i].truncated &&
                      r.n_untruncated > (C[i].truncated ? n : n - 1),
                  "%s: rc %d got '%s' want '%s', truncated %d, untruncated %d", C[i].name, rc, got,
                  C[i].want, r.truncated, r.n_untruncated);
    }
    /* bytes after the stop are still checked */
    const char *bad = "a a a a \xff";
    int rc = ifs_tok_encode(tok, st, bad, strlen(bad), 4, ids, NULL, &n, &r);
    IFS_CHECK(rc == IFS_TOK_EUTF8 && r.bad_offset == 8,
              "invalid UTF-8 after the kept ids: rc %d offset %zu (want -1 at 8)", rc,
              r.bad_offset);
    int in_b = -1;
    rc =
        ifs_tok_encode_pair_cap(tok, st, bad, strlen(bad), "b", 1, 16, 1, ids, NULL, &n, &r, &in_b);
    IFS_CHECK(rc == IFS_TOK_EUTF8 && in_b == 0 && r.bad_offset == 8,
              "invalid UTF-8 in a past its cap: rc %d in_b %d offset %zu", rc, in_b, r.bad_offset);
    const char *badb = "b b b b b b b \xc3";
    rc = ifs_tok_encode_pair(tok, st, "a", 1, badb, strlen(badb), 6, ids, NULL, &n, &r, &in_b);
    IFS_CHECK(rc == IFS_TOK_EUTF8 && in_b == 1 && r.bad_offset == 14,
              "invalid UTF-8 in b past the room: rc %d in_b %d offset %zu", rc, in_b, r.bad_offset);
    /* both texts longer than an odd room: the longer one gets the odd id,
     * which needs both lengths (counted past the stop) */
    static const struct {
        const char *a, *b;
        int32_t a_max;
        int ka;
    } P[] = {
        {"a a a a a a a a", "b b b b b b b b b", 0, 2},   /* b longer */
        {"a a a a a a a a a", "b b b b b b b b", 0, 3},   /* a longer */
        {"a a a a a a a a", "b b b b b b b b", 0, 2},     /* a tie goes to b */
        {"a a a a a a a a a", "b b b b b b b b", 100, 3}, /* a cap above the room */
        {"a a a a a a a a a", "b b b b b b b b", 8, 2},   /* a cut to 8 ties with b */
    };
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) {
        rc = ifs_tok_encode_pair_cap(tok, st, P[i].a, strlen(P[i].a), P[i].b, strlen(P[i].b), 8,
                                     P[i].a_max, ids, types, &n, &r, NULL);
        int ka = 0;
        while (ka + 1 < n && ids[ka + 1] != ID_SEP)
            ka++;
        IFS_CHECK(rc == 0 && n == 8 && ka == P[i].ka && r.truncated && r.n_untruncated > n,
                  "pair %zu (room 5): rc %d, %d ids, a keeps %d (want %d)", i, rc, n, ka, P[i].ka);
    }
    ifs_tok_state_free(st);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s", ifs_test_env("IFS_TEST_TMP", "/tmp"));
    char path[8192], err[512];
    snprintf(path, sizeof path, "%s/vocab.txt", tmpdir);
    write_file(path, vocab_text());
    ifs_tok *unc = ifs_tok_load_vocab(path, NULL, err, sizeof err);
    ifs_tok_config cc = {0, -1, -1, -1};
    ifs_tok *cas = ifs_tok_load_vocab(path, &cc, err, sizeof err);
    if (!unc || !cas) {
        fprintf(stderr, "FAIL: cannot load the test vocab: %s\n", err);
        return 1;
    }
    test_wordpiece(unc, cas);
    test_long_words(unc, cas);
    test_utf8(unc);
    test_framing(unc);
    test_early_stop(unc);
    test_api(unc);
    test_loaders();
    test_added_letter_token();
    test_file_kinds();
    test_config_values();
    test_threads(unc);
    ifs_tok_free(unc);
    ifs_tok_free(cas);
    return ifs_test_done("test_tok");
}
