/*
 * test_rset.c - the planned response set, rule by rule: the text of every
 * kind (tables of inputs and what must hold of the output), near-duplicate
 * sketches and their grouping (against a brute-force grouping), and the
 * builder end to end on pair records this test writes: balance per split and
 * length bucket, no duplicate text, holdout by source (and by near-duplicate
 * and by inherited source), no instruction group across splits, the pair
 * form's inputs, terse positives, the cap per group, and the same set
 * whatever order the input comes in.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ds_internal.h"
#include "ifs_sha256.h"
#include "ifs_test.h"
#include "ifs_utf8.h"

static char tmpdir[512];

static ds_str S(const char *s)
{
    return (ds_str){s, strlen(s)};
}

static int starts(const char *s, size_t n, const char *p)
{
    return n >= strlen(p) && !memcmp(s, p, strlen(p));
}

static int contains(const char *s, const char *p)
{
    return strstr(s, p) != NULL;
}

/* ---- the kinds' texts ------------------------------------------------------------ */

static const char I_TEXT[] = "What are the names of some famous actors that started on Broadway?";
static const char R_TEXT[] =
    "Several famous actors started on Broadway.\nHugh Jackman was one of them.\n"
    "Meryl Streep was another, and so was Sarah Jessica Parker.";

static ds_gen_src base_src(int others)
{
    ds_gen_src s = {0};
    s.instr = S(I_TEXT);
    s.ip = (ds_str){I_TEXT, 12}; /* "What are the" */
    s.ic = (ds_str){I_TEXT + 13, strlen(I_TEXT) - 13};
    s.resp = S(R_TEXT);
    s.input = s.instr;
    const char *oi[3] = {"How do I bake sourdough bread at home?",
                         "Write a limerick about a cat named Bob.",
                         "Explain photosynthesis to a child."};
    const char *orr[3] = {"Start with an active starter { and } flour; then fold it.",
                          "There once was a cat named Bob.", "Plants eat light."};
    for (int i = 0; i < others; i++) {
        s.other_instr[i] = S(oi[i]);
        s.other_resp[i] = S(orr[i]);
    }
    s.n_other = (unsigned)others;
    return s;
}

static int one_of_others(const ds_gen_src *s, const char *p, size_t n)
{
    for (unsigned i = 0; i < s->n_other; i++)
        if (s->other_instr[i].n == n && !memcmp(s->other_instr[i].p, p, n))
            return 1;
    return 0;
}

/* text = a run of `others` joined by one separator, the first one first */
static int joined_others(const ds_gen_src *s, const char *t, size_t n)
{
    size_t i = 0;
    int parts = 0;
    while (i < n) {
        size_t e = i;
        int ok = 0;
        for (size_t k = i + 1; k <= n && !ok; k++) {
            if (k == n || t[k] == '\n' || (t[k] == ' ' && one_of_others(s, t + i, k - i))) {
                if (one_of_others(s, t + i, k - i)) {
                    e = k;
                    ok = 1;
                }
            }
        }
        if (!ok)
            return 0;
        if (parts == 0 && (e - i != s->other_instr[0].n))
            return 0;
        parts++;
        i = e;
        while (i < n && (t[i] == '\n' || t[i] == ' '))
            i++;
    }
    return parts >= 1;
}

/* Some unit repeated 3+ times back to back, separated by one glue. */
static int has_loop(const char *t, size_t n)
{
    static const char *const glues[] = {"\n\n", "\n", " "};
    for (int g = 0; g < 3; g++) {
        size_t gl = strlen(glues[g]);
        for (size_t a = 0; a < n; a++) {
            for (size_t len = 1; a + 3 * len + 2 * gl <= n && len < 400; len++) {
                const char *u = t + a;
                if (memcmp(u + len, glues[g], gl) || memcmp(u + len + gl, u, len) ||
                    memcmp(u + 2 * (len + gl) - gl, glues[g], gl) ||
                    memcmp(u + 2 * (len + gl), u, len))
                    continue;
                return 1;
            }
        }
    }
    return 0;
}

static void test_kinds(void)
{
    ds_buf out = {0};
    ds_gen_src s = base_src(3);
    char ic[256];
    snprintf(ic, sizeof ic, "%.*s", (int)s.ic.n, s.ic.p);
    for (uint64_t key = 1; key <= 40; key++) {
        char what[64];
        IFS_CHECK(ds_gen_text(DS_OUT_R, &s, key, &out) == 0 && !strcmp(out.p, R_TEXT),
                  "r_is_the_response_verbatim");
        IFS_CHECK(ds_gen_text(DS_OUT_R_TERSE, &s, key, &out) == 0 && !strcmp(out.p, R_TEXT),
                  "r_terse_is_the_response_verbatim");
        IFS_CHECK(ds_gen_text(DS_OUT_IC, &s, key, &out) == 0 && !strcmp(out.p, ic),
                  "ic_is_the_rest_of_the_instruction");
        ds_gen_text(DS_OUT_IC_R, &s, key, &out);
        size_t icl = strlen(ic), rl = strlen(R_TEXT);
        int sep_ok = out.len > icl + rl && starts(out.p, out.len, ic) &&
                     !strcmp(out.p + out.len - rl, R_TEXT);
        size_t gap = out.len - icl - rl;
        sep_ok = sep_ok && ((gap == 2 && !memcmp(out.p + icl, "\n\n", 2)) ||
                            (gap == 1 && (out.p[icl] == '\n' || out.p[icl] == ' ')));
        IFS_CHECK(sep_ok, "ic_plus_r_joins_rest_and_response_with_one_separator: %s", out.p);
        ds_gen_text(DS_OUT_IC_NEXT, &s, key, &out);
        IFS_CHECK(
            starts(out.p, out.len, ic) &&
                joined_others(&s, out.p + icl + 1 + (out.p[icl] == '\n' && out.p[icl + 1] == '\n'),
                              out.len - icl - 1 - (out.p[icl] == '\n' && out.p[icl + 1] == '\n')),
            "ic_next_is_the_rest_then_other_instructions: %s", out.p);
        s.input = (key & 1) ? s.ip : s.instr;
        s.input_partial = (int)(key & 1);
        ds_gen_text(DS_OUT_ECHO, &s, key, &out);
        IFS_CHECK(out.len == s.input.n && !memcmp(out.p, s.input.p, out.len),
                  "echo_is_the_input_verbatim: %s", out.p);
        ds_gen_text(DS_OUT_NEXT, &s, key, &out);
        IFS_CHECK(joined_others(&s, out.p, out.len), "next_is_other_instructions_only: %s", out.p);
        ds_gen_text(DS_OUT_TEMPLATE, &s, key, &out);
        IFS_CHECK(contains(out.p, s.other_instr[0].p) && contains(out.p, ":"),
                  "template_writes_another_instruction_behind_a_field_label: %s", out.p);
        IFS_CHECK(!contains(out.p, ic) || s.input_partial,
                  "template_starts_with_the_rest_only_after_a_fragment: %s", out.p);
        ds_gen_text(DS_OUT_REPEAT, &s, key, &out);
        IFS_CHECK(has_loop(out.p, out.len), "repeat_loops_a_unit_three_times_or_more: %s", out.p);
        ds_gen_text(DS_OUT_GIBBERISH, &s, key, &out);
        int from_source = 1;
        for (size_t i = 0; i < out.len; i++) {
            char c = out.p[i];
            char lc = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            const char *src = s.other_resp[0].p;
            int found = c == ' ' || c == '\n';
            for (const char *q = src; *q && !found; q++)
                found = *q == c || (*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q) == lc;
            from_source &= found;
        }
        IFS_CHECK(from_source && out.len > 0,
                  "gibberish_is_made_of_the_other_responses_characters: %s", out.p);
        snprintf(what, sizeof what, "%llu", (unsigned long long)key);
        (void)what;
    }
    /* kinds that need another instruction say so when there is none */
    ds_gen_src lone = base_src(0);
    const ds_out need[] = {DS_OUT_NEXT, DS_OUT_IC_NEXT, DS_OUT_TEMPLATE};
    for (int i = 0; i < 3; i++)
        IFS_CHECK(ds_gen_text(need[i], &lone, 7, &out) == IFS_DS_ENOCUT,
                  "%s_without_other_instructions_is_not_made", ds_out_name(need[i]));
    IFS_CHECK(ds_gen_text(DS_OUT_GIBBERISH, &lone, 7, &out) == 0,
              "gibberish_without_others_uses_the_pairs_response");
    /* the same key gives the same text; keys vary it */
    const ds_out varied[] = {DS_OUT_TEMPLATE, DS_OUT_REPEAT, DS_OUT_GIBBERISH, DS_OUT_NEXT};
    for (int i = 0; i < 4; i++) {
        ds_buf a = {0}, b = {0};
        int distinct = 0;
        for (uint64_t key = 1; key < 30; key++) {
            ds_gen_text(varied[i], &s, key, &a);
            ds_gen_text(varied[i], &s, key, &b);
            IFS_CHECK(a.len == b.len && !memcmp(a.p, b.p, a.len), "%s_is_a_function_of_its_key",
                      ds_out_name(varied[i]));
            ds_buf c = {0};
            ds_gen_text(varied[i], &s, key + 1000, &c);
            distinct += c.len != a.len || memcmp(c.p, a.p, a.len);
            ds_buf_free(&c);
        }
        IFS_CHECK(distinct > 10, "%s_varies_with_its_key: %d of 29", ds_out_name(varied[i]),
                  distinct);
        ds_buf_free(&a);
        ds_buf_free(&b);
    }
    /* multibyte text stays valid UTF-8 through every kind */
    ds_gen_src u = base_src(1);
    static const char ja[] = "日本語の文章です。 東京は 大きな 都市 です。 ÉTÉ café — naïve";
    u.resp = S(ja);
    u.other_resp[0] = S(ja);
    for (int k = 0; k < DS_OUT__COUNT; k++)
        for (uint64_t key = 1; key < 50; key++) {
            if (ds_gen_text((ds_out)k, &u, key, &out))
                continue;
            IFS_CHECK(ifs_utf8_check(out.p, out.len) == out.len,
                      "%s_keeps_multibyte_text_valid_utf8: %s", ds_out_name((ds_out)k), out.p);
        }
    ds_buf_free(&out);
}

static void test_kind_names(void)
{
    static const struct {
        const char *name;
        ds_out kind;
        int label;
    } cases[] = {
        {"R", DS_OUT_R, 1},
        {"R-terse", DS_OUT_R_TERSE, 1},
        {"Ic", DS_OUT_IC, 0},
        {"Ic+R", DS_OUT_IC_R, 0},
        {"Ic+next", DS_OUT_IC_NEXT, 0},
        {"echo", DS_OUT_ECHO, 0},
        {"next", DS_OUT_NEXT, 0},
        {"template", DS_OUT_TEMPLATE, 0},
        {"repeat", DS_OUT_REPEAT, 0},
        {"gibberish", DS_OUT_GIBBERISH, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        IFS_CHECK(!strcmp(ds_out_name(cases[i].kind), cases[i].name), "kind_%s_has_its_name",
                  cases[i].name);
        IFS_CHECK(ds_out_parse(cases[i].name, strlen(cases[i].name)) == (int)cases[i].kind,
                  "kind_%s_parses", cases[i].name);
        IFS_CHECK(ds_out_label(cases[i].kind) == cases[i].label, "kind_%s_has_label_%d",
                  cases[i].name, cases[i].label);
    }
    double w[DS_OUT__COUNT];
    char err[256];
    IFS_CHECK(ds_parse_negative_mix("Ic=2,Ic+R=1,gibberish=0.5", w, err, sizeof err) == 0 &&
                  w[DS_OUT_IC] == 2 && w[DS_OUT_IC_R] == 1 && w[DS_OUT_GIBBERISH] == 0.5 &&
                  w[DS_OUT_ECHO] == 0,
              "a_negative_mix_sets_its_weights: %s", err);
    const char *bad[] = {"R=1", "Ic", "Ic=-1", "nope=1", "Ic=0", "Ic=1x", ""};
    for (int i = 0; i < 7; i++)
        IFS_CHECK(ds_parse_negative_mix(bad[i], w, err, sizeof err) == -1,
                  "negative_mix_'%s'_is_refused", bad[i]);
    static const struct {
        size_t words;
        const char *bucket;
    } buckets[] = {{0, "1"},      {1, "1"},    {2, "2"},       {3, "3-4"},
                   {4, "3-4"},    {5, "5-8"},  {16, "9-16"},   {17, "17-32"},
                   {64, "33-64"}, {65, "65+"}, {100000, "65+"}};
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++)
        IFS_CHECK(
            !strcmp(ds_length_bucket_name(ds_length_bucket(buckets[i].words)), buckets[i].bucket),
            "%zu_words_fall_in_bucket_%s", buckets[i].words, buckets[i].bucket);
    static const struct {
        const char *text;
        size_t words;
    } wc[] = {{"", 0},
              {"\xe2\x80\x8b", 0},
              {"  Bonsoir.  ", 1},
              {"a\xc2\xa0"
               "b",
               2},
              {"x\xe2\x80\x8by", 1},
              {"1. a\n2. b", 4},
              {"日本語", 1}};
    for (size_t i = 0; i < sizeof wc / sizeof wc[0]; i++)
        IFS_CHECK(ifs_ds_word_count(wc[i].text, strlen(wc[i].text)) == wc[i].words,
                  "word_count_of_case_%zu_is_%zu", i, wc[i].words);
}

/* ---- near-duplicates ---------------------------------------------------------------- */

static double jac(const char *a, const char *b)
{
    uint64_t x[DS_SKETCH_MAX], y[DS_SKETCH_MAX];
    int tx, ty;
    size_t nx = ds_sketch(a, strlen(a), x, &tx), ny = ds_sketch(b, strlen(b), y, &ty);
    return ds_sketch_jaccard(x, nx, tx, y, ny, ty);
}

static void test_sketches(void)
{
    static const struct {
        const char *name, *a, *b;
        double lo, hi;
    } cases[] = {
        {"case_and_punctuation_do_not_count", "What is the capital of France?",
         "what is the capital of france", 1, 1},
        {"one_word_changed_in_a_long_sentence_stays_similar",
         "I like to host guests at my home from time to time and I am gathering recipes of "
         "different dishes and drinks to keep things interesting, today Danish dishes",
         "I like to host guests at my home from time to time and I am gathering recipes of "
         "different dishes and drinks to keep things interesting, today Somali dishes",
         0.75, 0.95},
        {"different_questions_share_nothing", "How do I bake bread?",
         "Explain the rules of cricket.", 0, 0},
        {"two_word_texts_match_only_whole", "Hello there", "hello, THERE!", 1, 1},
        {"two_word_texts_differ_by_a_word", "Hello there", "Hello you", 0, 0},
        {"a_text_without_words_is_nobodys_duplicate", "?!...", "?!...", 0, 0},
        {"shingles_are_ordered", "a b c d", "d c b a", 0, 0},
        {"non_ascii_words_count", "Что такое любовь и зачем она", "Что, такое любовь и зачем она?",
         1, 1},
        {"only_ascii_letters_are_case_folded", "Что такое любовь и зачем она",
         "что такое любовь и зачем она", 0.6, 0.6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double j = jac(cases[i].a, cases[i].b);
        IFS_CHECK(j >= cases[i].lo - 1e-9 && j <= cases[i].hi + 1e-9, "%s: J = %.3f", cases[i].name,
                  j);
    }
    /* a long text keeps the 256 smallest shingles */
    ds_buf b = {0};
    for (int i = 0; i < 600; i++)
        ds_buf_printf(&b, "w%d ", i);
    uint64_t x[DS_SKETCH_MAX];
    int tr;
    size_t n = ds_sketch(b.p, b.len, x, &tr);
    IFS_CHECK(n == DS_SKETCH_MAX && tr, "a_long_text_keeps_a_bottom_256_sketch: %zu %d", n, tr);
    int sorted = 1;
    for (size_t i = 1; i < n; i++)
        sorted &= x[i - 1] < x[i];
    IFS_CHECK(sorted, "a_sketch_is_sorted_and_distinct");
    IFS_CHECK(fabs(jac(b.p, b.p) - 1) < 1e-12, "a_truncated_sketch_is_similar_to_itself");
    ds_buf_free(&b);
}

/* Texts drawn from a small vocabulary, so that many pairs are near each other. */
static void random_text(ds_rng *r, ds_buf *b)
{
    static const char *const vocab[] = {"the", "cat", "sat", "on",   "a",
                                        "mat", "dog", "ran", "fast", "slow"};
    ds_buf_reset(b);
    size_t n = 1 + ds_rng_below(r, 9);
    for (size_t i = 0; i < n; i++)
        ds_buf_printf(b, "%s%s", i ? " " : "", vocab[ds_rng_below(r, 10)]);
}

static uint32_t find_root(uint32_t *p, uint32_t x)
{
    while (p[x] != x)
        x = p[x];
    return x;
}

static void test_grouping(void)
{
    enum { N = 300 };
    ds_rng r = ds_rng_seed(42);
    uint64_t *hash = malloc(N * DS_SKETCH_MAX * sizeof *hash);
    uint32_t off[N];
    uint16_t len[N];
    uint8_t tr[N];
    ds_buf b = {0};
    size_t at = 0;
    for (int i = 0; i < N; i++) {
        random_text(&r, &b);
        int t;
        size_t n = ds_sketch(b.p, b.len, hash + at, &t);
        off[i] = (uint32_t)at;
        len[i] = (uint16_t)n;
        tr[i] = (uint8_t)t;
        at += n;
    }
    ds_sketch_set ss = {hash, off, len, tr};
    const double ts[] = {0.3, 0.5, 0.6, 0.8, 1.0};
    for (int k = 0; k < 5; k++) {
        uint32_t root[N], brute[N];
        ds_group_stats gs;
        IFS_CHECK(ds_group_near_duplicates(N, &ss, ts[k], root, &gs) == 0, "grouping_runs");
        /* brute force: every pair compared, union-find by smallest index */
        for (int i = 0; i < N; i++)
            brute[i] = (uint32_t)i;
        for (int i = 0; i < N; i++)
            for (int j = i + 1; j < N; j++) {
                double jj =
                    ds_sketch_jaccard(hash + off[i], len[i], tr[i], hash + off[j], len[j], tr[j]);
                if (jj + 1e-12 >= ts[k]) {
                    uint32_t a = find_root(brute, (uint32_t)i), c = find_root(brute, (uint32_t)j);
                    if (a < c)
                        brute[c] = a;
                    else
                        brute[a] = c;
                }
            }
        int same = 1;
        for (int i = 0; i < N; i++)
            same &= root[i] == find_root(brute, (uint32_t)i);
        IFS_CHECK(same, "prefix_filtered_groups_equal_brute_force_groups_at_J_%.1f", ts[k]);
        IFS_CHECK(gs.compared < (uint64_t)N * (N - 1) / 2 || ts[k] < 0.5,
                  "the_prefix_filter_compares_fewer_pairs_than_all_at_J_%.1f: %llu", ts[k],
                  (unsigned long long)gs.compared);
    }
    /* a ~ b and b ~ c put a and c together even when a is not near c */
    const char *chain[] = {"one two three four five six seven eight",
                           "one two three four five six seven nine",
                           "zero two three four five six seven nine"};
    at = 0;
    for (int i = 0; i < 3; i++) {
        int t;
        size_t n = ds_sketch(chain[i], strlen(chain[i]), hash + at, &t);
        off[i] = (uint32_t)at;
        len[i] = (uint16_t)n;
        tr[i] = (uint8_t)t;
        at += n;
    }
    uint32_t root[3];
    ds_group_near_duplicates(3, &ss, 0.7, root, NULL);
    IFS_CHECK(root[0] == 0 && root[1] == 0 && root[2] == 0,
              "near_duplicates_group_transitively: %u %u %u", root[0], root[1], root[2]);
    IFS_CHECK(jac(chain[0], chain[2]) < 0.7, "the_chain_ends_are_not_near_each_other");
    ds_group_near_duplicates(3, &ss, 0, root, NULL);
    IFS_CHECK(root[1] == 1 && root[2] == 2, "threshold_0_groups_nothing");
    ds_buf_free(&b);
    free(hash);
}

/* ---- the builder end to end ------------------------------------------------------------ */

typedef struct {
    const char *instr, *src, *resp;
} pair_spec;

static const char *const forms[] = {
    "Explain %s to a child in three short sentences please.",
    "Write a short poem about %s and make it rhyme with care.",
    "What is the long history of %s, in a few paragraphs?",
    "Give me, in a list, five surprising facts about %s",
};

/* Instruction i: a form around three words of its own, so that no two are
 * near-duplicates (they share only the form's shingles, J < 0.5). */
static void instruction_text(int i, char *out, size_t cap)
{
    char topic[64];
    snprintf(topic, sizeof topic, "w%03d w%03d w%03d", 3 * i, 3 * i + 1, 3 * i + 2);
    snprintf(out, cap, forms[i % 4], topic);
}

/* Writes pair records: 48 instructions x 3 chat models (long answers) + one
 * terse-only model (short answers, 16 too long) + a base model; 12 held-out
 * instructions (source "set:held"), a near-duplicate of each from another
 * source, an instruction once seen without a source and one first seen with
 * a less specific one, and one echoing positive. */
static void write_corpus(const char *path, int reverse)
{
    ds_buf all = {0};
    const char *models[] = {"chat-a", "chat-b", "chat-c", "tiny-d", "base-x"};
    for (int m = 0; m < 5; m++)
        for (int i = 0; i < 48; i++) {
            char instr[256], resp[1024], id[64];
            instruction_text(i, instr, sizeof instr);
            const char *src = i < 12 ? "set:held" : (i % 2 ? "set:odd" : "other");
            if (m == 3 && i % 3 == 2) /* terse-only model, answer too long: 16 of them */
                snprintf(resp, sizeof resp, "This answer %d has more than six words in it.", i);
            else if (m == 3)
                snprintf(resp, sizeof resp, i % 3 ? "Answer %d." : "Sure: item %d, then more.", i);
            else
                snprintf(resp, sizeof resp,
                         "Here is a careful answer number %d from %s. It covers the topic in "
                         "depth, with examples, caveats and a summary at the end, as a helpful "
                         "assistant would write it for anyone who asks. Line two follows.\n"
                         "Line two of answer %d has more words to make it long enough.",
                         i, models[m], i);
            snprintf(id, sizeof id, "%s/%d", models[m], i);
            ds_buf_puts(&all, "{");
            ds_buf_kv_str(&all, "id", id, strlen(id));
            ds_buf_kv_str(&all, "model", models[m], strlen(models[m]));
            ds_buf_kv_str(&all, "instruction", instr, strlen(instr));
            ds_buf_kv_str(&all, "response", resp, strlen(resp));
            if (i == 21 && m == 0) /* a less specific name first: "set:odd" must win */
                src = "set";
            if (!(i == 20 && m == 1)) /* one pair of an instruction without its source */
                ds_buf_kv_str(&all, "instruction_source", src, strlen(src));
            ds_buf_puts(&all, "}\n");
        }
    /* a near-duplicate of each held instruction (upper case, other
     * punctuation), from a source that is not held: whichever of the two
     * comes first in the group, both are held out */
    for (int i = 0; i < 12; i++) {
        char nd[256], id[32];
        instruction_text(i, nd, sizeof nd);
        for (char *q = nd; *q; q++)
            *q = (char)(*q >= 'a' && *q <= 'z' ? *q - 'a' + 'A' : *q == ',' ? ';' : *q);
        snprintf(id, sizeof id, "nd/%d", i);
        ds_buf_puts(&all, "{");
        ds_buf_kv_str(&all, "id", id, strlen(id));
        ds_buf_puts(&all, ",\"model\":\"chat-a\"");
        ds_buf_kv_str(&all, "instruction", nd, strlen(nd));
        ds_buf_puts(&all, ",\"response\":\"A near duplicate's answer, long enough to be kept "
                          "as a record of the set.\",\"instruction_source\":\"other\"}\n");
    }
    /* a positive that starts by echoing its instruction */
    ds_buf_puts(&all, "{\"id\":\"echo/1\",\"model\":\"chat-a\",\"instruction\":\"Tell me a "
                      "story about a brave knight\",\"response\":\"Tell me a story about a brave "
                      "knight and the dragon.\",\"instruction_source\":\"other\"}\n");
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "FAIL: cannot write %s\n", path);
        exit(1);
    }
    if (!reverse) {
        fputs(all.p, f);
    } else {
        /* the same lines, last first */
        size_t n = all.len;
        while (n) {
            size_t e = n - 1, b = e;
            while (b > 0 && all.p[b - 1] != '\n')
                b--;
            fwrite(all.p + b, 1, e - b + 1, f);
            n = b;
        }
    }
    fclose(f);
    ds_buf_free(&all);
}

static int build_planned(const char *in, const char *dir, const ifs_ds_build_opts *o,
                         ds_rset_stats *st)
{
    char err[512] = "";
    char *args[] = {(char *)in};
    ds_sink *sink = ds_sink_open(dir, NULL, err, sizeof err);
    if (!sink || ds_sink_begin(sink, "responses", err, sizeof err))
        return -1;
    ds_rset *r = ds_rset_create(o, err, sizeof err);
    ds_read_stats rs;
    int rc = r ? ds_rset_run(r, args, 1, sink, &rs, err, sizeof err) : -1;
    if (!rc) {
        ds_buf ex = {0};
        ds_buf_puts(&ex, "\"response_set\":{");
        ds_rset_stats_json(r, &ex);
        ds_buf_puts(&ex, "}");
        rc = ds_sink_finish(sink, ex.p, err, sizeof err);
        ds_buf_free(&ex);
        *st = *ds_rset_get_stats(r);
    }
    if (rc)
        fprintf(stderr, "build_planned: %s\n", err);
    ds_rset_free(r);
    ds_sink_free(sink);
    return rc;
}

typedef struct {
    int n, bad_label, bad_kind, dup_text, bad_input, held_wrong, nd_not_held, inherit_wrong;
    int terse_long, not_terse_short, echo_kept, split_of[64]; /* by instruction number */
    int groups_across, base_seen;
    int count[4][DS_NBUCKETS][2];
    ds_set texts;
    ds_buf lines;
    int pairs;
    unsigned terse_max;
} out_check;

static int split_index(const char *s)
{
    return !s                         ? -1
           : !strcmp(s, "train")      ? 0
           : !strcmp(s, "validation") ? 1
           : !strcmp(s, "test")       ? 2
           : !strcmp(s, "holdout")    ? 3
                                      : -1;
}

static int check_out(const cJSON *obj, const char *raw, size_t rl, const char *shard, uint64_t line,
                     void *user)
{
    (void)shard, (void)line;
    out_check *c = user;
    c->n++;
    ds_buf_put(&c->lines, raw, rl);
    ds_buf_puts(&c->lines, "\n");
    size_t tl;
    const char *text = ds_get_str(obj, "text", &tl);
    const char *kind = ds_get_str(obj, "kind", NULL);
    const char *split = ds_get_str(obj, "split", NULL);
    const char *src = ds_get_str(obj, "source", NULL);
    const char *sid = ds_get_str(obj, "source_id", NULL);
    const char *model = ds_get_str(obj, "model", NULL);
    const char *instr = ds_get_str(obj, "instruction", NULL);
    const cJSON *lab = cJSON_GetObjectItem(obj, "label");
    int s = split_index(split);
    if (!text || !kind || s < 0 || !sid || !cJSON_IsNumber(lab)) {
        c->bad_kind++;
        return 0;
    }
    const char *out = kind;
    if (c->pairs) {
        if (!strncmp(kind, "I+", 2))
            out = kind + 2;
        else if (!strncmp(kind, "Ip+", 3))
            out = kind + 3;
        else
            c->bad_kind++;
        if (!instr)
            c->bad_input++;
    } else if (instr) {
        c->bad_input++;
    }
    int k = ds_out_parse(out, strlen(out));
    if (k < 0)
        c->bad_kind++;
    else if (ds_out_label((ds_out)k) != lab->valueint)
        c->bad_label++;
    uint64_t h = ifs_ds_key(0, "t", text, tl);
    if (c->pairs && instr)
        h = ifs_ds_key(h, "i", instr, strlen(instr));
    if (ds_set_add(&c->texts, h) == 1)
        c->dup_text++;
    size_t words = ifs_ds_word_count(text, tl);
    c->count[s][ds_length_bucket(words)][lab->valueint]++;
    if (k == DS_OUT_R_TERSE && words > c->terse_max)
        c->terse_long++;
    if (k == DS_OUT_R && words <= c->terse_max)
        c->not_terse_short++;
    if (model && !strcmp(model, "base-x"))
        c->base_seen++;
    if (!strncmp(sid, "echo/", 5) && lab->valueint == 1)
        c->echo_kept++;
    /* which instruction: "<model>/<i>" */
    const char *slash = strrchr(sid, '/');
    int i = slash ? atoi(slash + 1) : -1;
    int numbered = slash && strncmp(sid, "nd/", 3) && strncmp(sid, "echo/", 5);
    if (numbered && i >= 0 && i < 48) {
        if ((i < 12) != (s == 3))
            c->held_wrong++;
        if (c->split_of[i] >= 0 && c->split_of[i] != s)
            c->groups_across++;
        c->split_of[i] = s;
        const char *want = i < 12 ? "set:held" : (i % 2 ? "set:odd" : "other");
        if (!src || strcmp(src, want))
            c->inherit_wrong++;
    }
    if (!strncmp(sid, "nd/", 3) && s != 3)
        c->nd_not_held++;
    if (c->pairs && instr && numbered && i >= 0 && i < 48) {
        /* the input is the full instruction (I+...) or a proper prefix (Ip+...) */
        char full[256];
        instruction_text(i, full, sizeof full);
        size_t il = strlen(instr);
        int is_full = !strcmp(instr, full);
        int is_prefix = il < strlen(full) && !strncmp(full, instr, il);
        if (!strncmp(kind, "I+", 2) ? !is_full : !is_prefix)
            c->bad_input++;
    }
    return 0;
}

/* Recounts the records per split and kind and compares with the manifest's
 * "kinds" (each kind named once per split). Returns the mismatches. */
static int manifest_kinds_match(const char *dir, const out_check *c)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    FILE *f = fopen(p, "rb");
    static char text[1 << 20];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = 0;
    cJSON *m = cJSON_Parse(text);
    const cJSON *kinds = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "response_set"), "kinds");
    int bad = !kinds;
    long total = 0;
    const cJSON *split, *k;
    cJSON_ArrayForEach(split, kinds)
    {
        int seen = 0;
        cJSON_ArrayForEach(k, split)
        {
            total += (long)k->valuedouble;
            /* a key written twice would be found twice by this walk */
            const cJSON *other;
            int same = 0;
            cJSON_ArrayForEach(other, split) same += !strcmp(other->string, k->string);
            bad += same != 1;
            seen++;
        }
        (void)seen;
    }
    bad += total != c->n;
    /* recount from the lines */
    const char *q = c->lines.p;
    cJSON_ArrayForEach(split, kinds)
    {
        cJSON_ArrayForEach(k, split)
        {
            char needle[128];
            snprintf(needle, sizeof needle, "\"split\":\"%s\",\"kind\":\"%s\"", split->string,
                     k->string);
            long cnt = 0;
            for (const char *x = q; x && (x = strstr(x, needle)); x += strlen(needle))
                cnt++;
            bad += cnt != (long)k->valuedouble;
        }
    }
    cJSON_Delete(m);
    return bad;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The records of a shard set as a sorted list of lines, hashed. */
static void sorted_hash(ds_buf *lines, char hex[65])
{
    size_t n = 0;
    for (size_t i = 0; i < lines->len; i++)
        n += lines->p[i] == '\n';
    char **v = malloc((n + 1) * sizeof *v);
    size_t k = 0;
    char *p = lines->p;
    for (size_t i = 0; i < lines->len; i++)
        if (lines->p[i] == '\n') {
            lines->p[i] = 0;
            v[k++] = p;
            p = lines->p + i + 1;
        }
    qsort(v, k, sizeof *v, cmp_line);
    ifs_sha256_ctx c;
    ifs_sha256_init(&c);
    for (size_t i = 0; i < k; i++)
        ifs_sha256_update(&c, v[i], strlen(v[i]) + 1);
    ifs_sha256_final_hex(&c, hex);
    free(v);
}

static void read_check(const char *dir, out_check *c, int pairs, unsigned terse_max)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 64; i++)
        c->split_of[i] = -1;
    c->pairs = pairs;
    c->terse_max = terse_max;
    char err[256];
    char *args[] = {(char *)dir};
    ds_read_stats rs = {0};
    ds_read_records(args, 1, check_out, c, &rs, err, sizeof err);
}

static void test_builder(void)
{
    char in[1024], in_rev[1024], d[1024], d2[1024];
    snprintf(in, sizeof in, "%s/corpus.jsonl", tmpdir);
    snprintf(in_rev, sizeof in_rev, "%s/corpus-reversed.jsonl", tmpdir);
    write_corpus(in, 0);
    write_corpus(in_rev, 1);
    for (int pairs = 0; pairs < 2; pairs++) {
        const char *mode = pairs ? "pairs" : "responses";
        ifs_ds_build_opts o = {.seed = 9,
                               .policy = IFS_DS_CUT_AUTO,
                               .ic_share = 0.5,
                               .train = 0.6,
                               .validation = 0.2,
                               .planned = 1,
                               .pairs = pairs,
                               .positive_models = "chat-*",
                               .terse_models = "*,!base-*",
                               .terse_max_words = 6,
                               .negative_mix = "Ic=2,Ic+R=2,Ic+next=1,echo=1,next=1,template=1,"
                                               "repeat=1,gibberish=1",
                               .negatives = pairs ? 3 : 2,
                               .holdout_sources = "*:held",
                               .near_dup = 0.6,
                               .length_match = 1,
                               .pool_size = 4096};
        ds_rset_stats st, st2;
        snprintf(d, sizeof d, "%s/%s-1", tmpdir, mode);
        snprintf(d2, sizeof d2, "%s/%s-rev", tmpdir, mode);
        IFS_CHECK(build_planned(in, d, &o, &st) == 0, "%s: the_planned_set_builds", mode);
        IFS_CHECK(build_planned(in_rev, d2, &o, &st2) == 0, "%s: it_builds_from_reversed_input",
                  mode);
        out_check c, c2;
        read_check(d, &c, pairs, o.terse_max_words);
        read_check(d2, &c2, pairs, o.terse_max_words);
        IFS_CHECK(c.n > 100 && (uint64_t)c.n == st.written, "%s: records_are_written: %d", mode,
                  c.n);
        IFS_CHECK(c.bad_kind == 0 && c.bad_label == 0, "%s: every_kind_has_its_label: %d %d", mode,
                  c.bad_kind, c.bad_label);
        IFS_CHECK(c.bad_input == 0, "%s: only_the_pair_form_carries_the_input: %d", mode,
                  c.bad_input);
        IFS_CHECK(c.dup_text == 0, "%s: no_text_is_written_twice: %d", mode, c.dup_text);
        IFS_CHECK(manifest_kinds_match(d, &c) == 0,
                  "%s: the_manifest_counts_each_kind_once_and_right", mode);
        int unbalanced = 0;
        for (int s = 0; s < 4; s++)
            for (int b = 0; b < DS_NBUCKETS; b++)
                unbalanced += c.count[s][b][0] != c.count[s][b][1];
        IFS_CHECK(unbalanced == 0, "%s: labels_are_balanced_in_every_split_and_length_bucket",
                  mode);
        IFS_CHECK(c.held_wrong == 0, "%s: held_out_sources_are_in_holdout_and_nothing_else: %d",
                  mode, c.held_wrong);
        IFS_CHECK(c.nd_not_held == 0, "%s: a_near_duplicate_of_a_held_instruction_is_held_out",
                  mode);
        IFS_CHECK(c.groups_across == 0, "%s: no_instruction_spans_two_splits: %d", mode,
                  c.groups_across);
        IFS_CHECK(c.inherit_wrong == 0,
                  "%s: a_pair_without_a_source_takes_its_instructions_source: %d", mode,
                  c.inherit_wrong);
        IFS_CHECK(c.terse_long == 0 && c.not_terse_short == 0,
                  "%s: r_terse_is_every_positive_of_at_most_6_words: %d %d", mode, c.terse_long,
                  c.not_terse_short);
        IFS_CHECK(c.base_seen == 0, "%s: models_outside_both_lists_give_nothing", mode);
        IFS_CHECK(c.echo_kept == 0 && st.echoes_instruction == 1,
                  "%s: a_response_echoing_its_instruction_is_no_positive: %llu", mode,
                  (unsigned long long)st.echoes_instruction);
        IFS_CHECK(st.terse_too_long == 16,
                  "%s: long_answers_of_terse_only_models_are_counted: "
                  "%llu",
                  mode, (unsigned long long)st.terse_too_long);
        IFS_CHECK(st.instructions == 60 && st.groups == 48,
                  "%s: 60_instructions_make_48_groups: %llu %llu", mode,
                  (unsigned long long)st.instructions, (unsigned long long)st.groups);
        uint64_t kinds = 0;
        for (int k = 0; k < 2 * DS_OUT__COUNT; k++)
            kinds += st.candidates[k] != 0;
        IFS_CHECK(kinds >= (pairs ? 14u : 9u), "%s: every_kind_is_drawn: %llu kinds", mode,
                  (unsigned long long)kinds);
        char h1[65], h2[65];
        sorted_hash(&c.lines, h1);
        sorted_hash(&c2.lines, h2);
        IFS_CHECK(!strcmp(h1, h2), "%s: the_set_does_not_depend_on_the_input_order", mode);
        snprintf(d2, sizeof d2, "%s/%s-again", tmpdir, mode);
        build_planned(in, d2, &o, &st2);
        char p1[2048], p2[2048], s1[65], s2[65];
        snprintf(p1, sizeof p1, "%s/responses-00000.jsonl.zst", d);
        snprintf(p2, sizeof p2, "%s/responses-00000.jsonl.zst", d2);
        ifs_sha256_file_hex(p1, s1);
        ifs_sha256_file_hex(p2, s2);
        IFS_CHECK(!strcmp(s1, s2), "%s: the_same_seed_gives_byte_identical_shards", mode);
        char err[256];
        ifs_ds_verify_stats vs;
        IFS_CHECK(ifs_ds_verify(d, &vs, NULL, NULL, err, sizeof err) == 0,
                  "%s: the_set_verifies: %s", mode, err);
        /* the cap: at most 2 per group, label and bucket */
        ifs_ds_build_opts oc = o;
        oc.max_per_group = 2;
        snprintf(d2, sizeof d2, "%s/%s-cap", tmpdir, mode);
        build_planned(in, d2, &oc, &st2);
        IFS_CHECK(st2.group_capped > 0 && st2.written < st.written,
                  "%s: the_group_cap_drops_records: %llu", mode,
                  (unsigned long long)st2.group_capped);
        ds_set_free(&c.texts);
        ds_set_free(&c2.texts);
        ds_buf_free(&c.lines);
        ds_buf_free(&c2.lines);
    }
    /* without near-duplicate grouping the variant is its own group, not held */
    ifs_ds_build_opts o = {.seed = 9,
                           .policy = IFS_DS_CUT_AUTO,
                           .ic_share = 0.5,
                           .train = 0.6,
                           .validation = 0.2,
                           .planned = 1,
                           .positive_models = "chat-*",
                           .holdout_sources = "*:held",
                           .pool_size = 64};
    ds_rset_stats st;
    snprintf(d, sizeof d, "%s/exact", tmpdir);
    build_planned(in, d, &o, &st);
    IFS_CHECK(st.instructions == 60 && st.groups == 60,
              "exact_grouping_keeps_the_near_duplicate_apart: %llu", (unsigned long long)st.groups);
    IFS_CHECK(st.group_split[3] == 12, "twelve_instructions_are_held_out: %llu",
              (unsigned long long)st.group_split[3]);
    char err[256];
    char *dash[] = {"-"};
    ds_rset *r = ds_rset_create(&o, err, sizeof err);
    ds_read_stats rs;
    IFS_CHECK(ds_rset_run(r, dash, 1, NULL, &rs, err, sizeof err) == IFS_DS_EARG,
              "stdin_is_refused_since_the_input_is_read_three_times");
    ds_rset_free(r);
    /* the public call refuses contradicting options before reading anything */
    ifs_ds_build_result res;
    char *inputs[] = {in};
    ifs_ds_build_opts bad = o;
    bad.terse_models = "*";
    snprintf(d, sizeof d, "%s/bad", tmpdir);
    IFS_CHECK(ifs_ds_build_responses(&bad, NULL, inputs, 1, d, &res, err, sizeof err) ==
                  IFS_DS_EARG,
              "terse_models_without_a_word_limit_are_refused");
    bad = o;
    bad.repeat_ic = 1;
    IFS_CHECK(ifs_ds_build_responses(&bad, NULL, inputs, 1, d, &res, err, sizeof err) ==
                  IFS_DS_EARG,
              "repeat_ic_with_the_planned_set_is_refused");
    bad = o;
    bad.negative_mix = "R=1";
    IFS_CHECK(ifs_ds_build_responses(&bad, NULL, inputs, 1, d, &res, err, sizeof err) ==
                      IFS_DS_EARG &&
                  strstr(err, "KIND=WEIGHT"),
              "a_positive_kind_in_the_mix_is_refused");
    IFS_CHECK(ifs_ds_build_responses(&o, NULL, inputs, 1, d, &res, err, sizeof err) == 0 &&
                  res.written == st.written && strstr(res.summary, "records"),
              "the_public_call_builds_the_same_set: %llu %s", (unsigned long long)res.written, err);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/rset", ifs_test_env("IFS_TEST_TMP", "/tmp"));
    mkdir(tmpdir, 0777);
    test_kind_names();
    test_kinds();
    test_sketches();
    test_grouping();
    test_builder();
    return ifs_test_done("rset");
}
