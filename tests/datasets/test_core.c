/*
 * test_core.c - labels, splits, keys and prompt variants on tables of cases.
 */
#include <string.h>

#include "ifs_ds.h"
#include "ifs_test.h"

static void test_labels(void)
{
    static const struct {
        const char *name;
        ifs_ds_kind kind;
        const char *word;
        int label;
    } cases[] = {
        {"response_is_answer_like", IFS_DS_KIND_R, "R", 1},
        {"continuation_is_continuation_like", IFS_DS_KIND_IC, "Ic", 0},
        {"continuation_then_response_is_continuation_like", IFS_DS_KIND_IC_R, "Ic+R", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        IFS_CHECK(ifs_ds_kind_label(cases[i].kind) == cases[i].label, "%s", cases[i].name);
        IFS_CHECK(!strcmp(ifs_ds_kind_name(cases[i].kind), cases[i].word), "%s: name",
                  cases[i].name);
    }
}

/* Keys are frozen: a change would silently change every built data set. */
static void test_keys(void)
{
    static const struct {
        const char *name;
        uint64_t seed;
        const char *purpose, *text;
        uint64_t want;
    } cases[] = {
        {"cut_key_of_abc_with_seed_0_is_frozen", 0, "cut", "abc", 0xfd48bc6f150f7ad2ull},
        {"type_key_with_seed_42_is_frozen", 42, "type", "What if", 0xde28aba9367dbd38ull},
        {"split_key_with_seed_42_is_frozen", 42, "split", "What if", 0xf92a584d77e98ac8ull},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t k =
            ifs_ds_key(cases[i].seed, cases[i].purpose, cases[i].text, strlen(cases[i].text));
        IFS_CHECK(k == cases[i].want, "%s: %llx", cases[i].name, (unsigned long long)k);
    }
    IFS_CHECK(ifs_ds_key(1, "cut", "x", 1) != ifs_ds_key(2, "cut", "x", 1),
              "different_seeds_give_different_keys");
    IFS_CHECK(ifs_ds_key(1, "cut", "x", 1) != ifs_ds_key(1, "type", "x", 1),
              "different_purposes_give_different_keys");
    /* The purpose ends where the text starts: ("ab","c") differs from ("a","bc"). */
    IFS_CHECK(ifs_ds_key(1, "ab", "c", 1) != ifs_ds_key(1, "a", "bc", 2),
              "purpose_and_text_do_not_run_together");
}

static void test_splits(void)
{
    size_t n[3] = {0};
    for (uint64_t i = 0; i < 100000; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "pair-%llu", (unsigned long long)i);
        n[ifs_ds_split_of(ifs_ds_key(7, "split", buf, (size_t)len), 0.8, 0.1)]++;
    }
    IFS_CHECK(n[0] > 79000 && n[0] < 81000, "split_fractions_are_respected: train %zu", n[0]);
    IFS_CHECK(n[1] > 9500 && n[1] < 10500, "split_fractions_are_respected: validation %zu", n[1]);
    IFS_CHECK(n[2] > 9500 && n[2] < 10500, "split_fractions_are_respected: test %zu", n[2]);
    IFS_CHECK(ifs_ds_split_of(0, 0.8, 0.1) == IFS_DS_TRAIN, "key_zero_is_train");
    IFS_CHECK(ifs_ds_split_of(UINT64_MAX, 0.8, 0.1) == IFS_DS_TEST, "largest_key_is_test");
    IFS_CHECK(ifs_ds_split_of(UINT64_MAX, 1.0, 0.0) == IFS_DS_TRAIN, "all_train_takes_every_key");
    IFS_CHECK(!strcmp(ifs_ds_split_name(IFS_DS_VALIDATION), "validation"),
              "split_names_are_hf_names");
}

static void test_prompts(void)
{
    static const struct {
        const char *name, *variant, *instr, *want;
    } cases[] = {
        {"variant_a_is_the_full_alpaca_wrapper", "A", "What if",
         "Below is an instruction that describes a task. Write a response that appropriately "
         "completes the request.\n\n### Instruction:\nWhat if\n\n### Response:"},
        {"variant_b_is_the_suffix_only", "B", "What if", "What if\n\n### Response:"},
        {"variant_c_is_the_bare_instruction", "C", "What if", "What if"},
        {"short_form_has_no_blank_line", "short", "What if", "What if### Response:"},
        {"unicode_instruction_is_copied_byte_for_byte", "B", "你好 ñ", "你好 ñ\n\n### Response:"},
        {"empty_instruction_renders_the_wrapper_alone", "short", "", "### Response:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int v = ifs_ds_prompt_parse(cases[i].variant);
        IFS_CHECK(v >= 0, "%s: variant parses", cases[i].name);
        char out[512];
        size_t n = ifs_ds_prompt_render((ifs_ds_prompt)v, cases[i].instr, strlen(cases[i].instr),
                                        out, sizeof out);
        IFS_CHECK(n == strlen(cases[i].want) && !strcmp(out, cases[i].want), "%s: got '%s'",
                  cases[i].name, out);
        IFS_CHECK(!strcmp(ifs_ds_prompt_name((ifs_ds_prompt)v), cases[i].variant) ||
                      !strcmp(cases[i].variant, "short"),
                  "%s: name round trips", cases[i].name);
        /* Too small a buffer: snprintf semantics. */
        char small[5];
        size_t m = ifs_ds_prompt_render((ifs_ds_prompt)v, cases[i].instr, strlen(cases[i].instr),
                                        small, sizeof small);
        IFS_CHECK(m == n && strlen(small) == (n < 4 ? n : 4) && !strncmp(small, cases[i].want, 4),
                  "%s: short buffer is cut and NUL-terminated", cases[i].name);
    }
    IFS_CHECK(ifs_ds_prompt_parse("D") == -1, "unknown_variant_is_refused");
}

int main(void)
{
    test_labels();
    test_keys();
    test_splits();
    test_prompts();
    return ifs_test_done("core");
}
