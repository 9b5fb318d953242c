/*
 * test_cut.c - the cut policy on tables of instructions: how many boundaries
 * each policy accepts, the class of every boundary, what a pick returns, and
 * that picks are deterministic for a key and cover every accepted boundary.
 */
#include <string.h>

#include "ifs_ds.h"
#include "ifs_test.h"

typedef struct {
    const char *name;
    const char *text;
    size_t loose, incomplete, strict, autoc; /* accepted boundaries per policy */
    const char *classes;                     /* class letter per boundary: s l o c */
} count_case;

static const count_case count_cases[] = {
    {"paper_example_cuts_after_if_under_strict", "What if people had 40 legs?", 5, 5, 1, 1,
     "ocooo"},
    {"sentence_end_is_rejected_except_by_loose", "Write a poem. Make it rhyme.", 5, 4, 1, 1,
     "ocsoo"},
    {"one_word_instruction_cannot_be_cut", "Summarize", 0, 0, 0, 0, ""},
    {"one_word_with_trailing_space_cannot_be_cut", "  Summarize \n", 0, 0, 0, 0, ""},
    {"punctuation_only_instruction_cannot_be_cut", "... ??? !!!", 0, 0, 0, 0, ""},
    {"empty_instruction_cannot_be_cut", "", 0, 0, 0, 0, ""},
    {"punctuation_only_continuation_is_not_a_cut", "What is it ?", 2, 2, 0, 2, "oo"},
    {"punctuation_only_fragment_is_not_a_cut", "-- Explain gravity", 1, 1, 0, 1, "o"},
    {"cjk_without_spaces_has_no_word_boundary", "日本語の文章を翻訳してください", 0, 0, 0, 0, ""},
    {"german_falls_back_to_incomplete_under_auto", "Übersetze den Satz ins Englische.", 4, 4, 0, 4,
     "oooo"},
    {"colon_before_cjk_is_a_connector", "Translate: 你好 世界", 2, 2, 1, 1, "co"},
    {"fullwidth_full_stop_ends_a_sentence", "你好。 请 翻译", 2, 1, 0, 1, "so"},
    {"closing_quote_after_full_stop_ends_a_sentence", "Say \"hi.\" Then stop", 3, 2, 0, 2, "oso"},
    {"closing_bracket_after_a_word_is_open", "Use (carefully) this tool", 3, 3, 0, 3, "ooo"},
    {"line_break_boundary_is_rejected", "List three fruits\nApples pears", 4, 3, 0, 3, "oolo"},
    {"comma_is_a_connector", "Tell me, please", 2, 2, 1, 1, "oc"},
    {"closed_class_words_are_case_insensitive", "THE cat AND dog", 3, 3, 2, 2, "coc"},
    {"ellipsis_character_ends_a_sentence", "Wait\xE2\x80\xA6 then go", 2, 1, 0, 1, "so"},
    {"no_break_space_separates_words", "one\xC2\xA0two", 1, 1, 0, 1, "o"},
    {"ideographic_space_separates_words", "你好\xE3\x80\x80世界", 1, 1, 0, 1, "o"},
    {"question_mark_inside_sentence_rejects_that_cut", "Why? Explain the sky", 3, 2, 1, 1, "soc"},
};

static char class_letter(ifs_ds_end e)
{
    return "sloc"[e];
}

typedef struct {
    char buf[64];
    size_t n;
} classes_acc;

static void collect(const ifs_ds_cut *c, void *user)
{
    classes_acc *a = user;
    if (a->n + 1 < sizeof a->buf)
        a->buf[a->n++] = class_letter(c->end);
    a->buf[a->n] = 0;
}

static void test_counts(void)
{
    for (size_t i = 0; i < sizeof count_cases / sizeof count_cases[0]; i++) {
        const count_case *c = &count_cases[i];
        size_t n = strlen(c->text);
        size_t got[4];
        for (int p = 0; p < 4; p++)
            got[p] = ifs_ds_cut_count(c->text, n, (ifs_ds_cut_policy)p);
        IFS_CHECK(got[0] == c->loose, "%s: loose %zu, want %zu", c->name, got[0], c->loose);
        IFS_CHECK(got[1] == c->incomplete, "%s: incomplete %zu, want %zu", c->name, got[1],
                  c->incomplete);
        IFS_CHECK(got[2] == c->strict, "%s: strict %zu, want %zu", c->name, got[2], c->strict);
        IFS_CHECK(got[3] == c->autoc, "%s: auto %zu, want %zu", c->name, got[3], c->autoc);
        classes_acc a = {.n = 0};
        a.buf[0] = 0;
        size_t each = ifs_ds_cut_each(c->text, n, collect, &a);
        IFS_CHECK(each == c->loose, "%s: each visited %zu", c->name, each);
        IFS_CHECK(!strcmp(a.buf, c->classes), "%s: classes '%s', want '%s'", c->name, a.buf,
                  c->classes);
        ifs_ds_cut cut;
        int rc = ifs_ds_cut_pick(c->text, n, IFS_DS_CUT_AUTO, 12345, &cut);
        IFS_CHECK((rc == 0) == (c->autoc > 0), "%s: pick rc %d", c->name, rc);
        if (!c->autoc)
            IFS_CHECK(rc == IFS_DS_ENOCUT, "%s: expected ENOCUT, got %d", c->name, rc);
    }
}

typedef struct {
    const char *name;
    const char *text;
    ifs_ds_cut_policy policy;
    const char *ip, *ic;
    ifs_ds_end end;
} pick_case;

static const pick_case pick_cases[] = {
    {"paper_example_gives_what_if", "What if people had 40 legs?", IFS_DS_CUT_AUTO, "What if",
     "people had 40 legs?", IFS_DS_END_CONNECTOR},
    {"outer_whitespace_is_trimmed_from_both_sides", "  leading and trailing  \n", IFS_DS_CUT_STRICT,
     "leading and", "trailing", IFS_DS_END_CONNECTOR},
    {"whitespace_run_inside_is_dropped_at_the_cut", "Tell me,\t  please", IFS_DS_CUT_STRICT,
     "Tell me,", "please", IFS_DS_END_CONNECTOR},
    {"multibyte_words_are_kept_whole", "Translate: 你好 世界", IFS_DS_CUT_AUTO,
     "Translate:", "你好 世界", IFS_DS_END_CONNECTOR},
    {"single_open_boundary_is_the_only_choice", "one\xC2\xA0two", IFS_DS_CUT_AUTO, "one", "two",
     IFS_DS_END_OPEN},
};

static void test_picks(void)
{
    for (size_t i = 0; i < sizeof pick_cases / sizeof pick_cases[0]; i++) {
        const pick_case *c = &pick_cases[i];
        ifs_ds_cut cut;
        int rc = ifs_ds_cut_pick(c->text, strlen(c->text), c->policy, 777, &cut);
        IFS_CHECK(rc == 0, "%s: rc %d", c->name, rc);
        if (rc)
            continue;
        IFS_CHECK(cut.ip_len == strlen(c->ip) && !memcmp(c->text + cut.ip_off, c->ip, cut.ip_len),
                  "%s: Ip '%.*s'", c->name, (int)cut.ip_len, c->text + cut.ip_off);
        IFS_CHECK(cut.ic_len == strlen(c->ic) && !memcmp(c->text + cut.ic_off, c->ic, cut.ic_len),
                  "%s: Ic '%.*s'", c->name, (int)cut.ic_len, c->text + cut.ic_off);
        IFS_CHECK(cut.end == c->end, "%s: end %s", c->name, ifs_ds_end_name(cut.end));
    }
}

/* Same key, same cut; over many keys every accepted boundary comes up, and
 * never a rejected one. */
static void test_pick_is_deterministic_and_covers_every_boundary(void)
{
    const char *t = "Please write a short story about a dragon, and make it funny. Thanks";
    size_t n = strlen(t);
    size_t want = ifs_ds_cut_count(t, n, IFS_DS_CUT_INCOMPLETE);
    size_t seen[64] = {0};
    for (uint64_t k = 0; k < 4000; k++) {
        uint64_t key = ifs_ds_key(k, "cut", t, n);
        ifs_ds_cut a, b;
        int ra = ifs_ds_cut_pick(t, n, IFS_DS_CUT_INCOMPLETE, key, &a);
        int rb = ifs_ds_cut_pick(t, n, IFS_DS_CUT_INCOMPLETE, key, &b);
        IFS_CHECK(ra == 0 && rb == 0 && a.ip_len == b.ip_len && a.ic_off == b.ic_off,
                  "pick_is_deterministic_for_a_key: key %llu", (unsigned long long)key);
        IFS_CHECK(a.end == IFS_DS_END_OPEN || a.end == IFS_DS_END_CONNECTOR,
                  "pick_never_returns_a_rejected_boundary: %s", ifs_ds_end_name(a.end));
        if (a.ip_words < 64)
            seen[a.ip_words]++;
    }
    size_t distinct = 0;
    for (int i = 0; i < 64; i++)
        distinct += seen[i] > 0;
    IFS_CHECK(distinct == want, "pick_covers_every_accepted_boundary: %zu of %zu", distinct, want);
    IFS_CHECK(seen[12] == 0 && seen[11] > 0, "boundary_after_sentence_end_is_never_picked: %zu",
              seen[12]);
}

static void test_policy_names(void)
{
    const char *names[] = {"loose", "incomplete", "strict", "auto"};
    for (int i = 0; i < 4; i++) {
        IFS_CHECK(ifs_ds_cut_policy_parse(names[i]) == i, "policy_name_round_trips: %s", names[i]);
        IFS_CHECK(!strcmp(ifs_ds_cut_policy_name((ifs_ds_cut_policy)i), names[i]),
                  "policy_name_round_trips: %d", i);
    }
    IFS_CHECK(ifs_ds_cut_policy_parse("paper") == -1, "unknown_policy_name_is_refused");
    IFS_CHECK(ifs_ds_cut_pick(NULL, 0, IFS_DS_CUT_AUTO, 1, NULL) == IFS_DS_EARG,
              "null_arguments_are_refused");
}

int main(void)
{
    test_counts();
    test_picks();
    test_pick_is_deterministic_and_covers_every_boundary();
    test_policy_names();
    return ifs_test_done("cut");
}
