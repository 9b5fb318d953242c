/*
 * test_builders.c - the instruction set and response set builders on pair
 * records this test writes: determinism (same seed, same bytes; another seed,
 * other bytes), about half partial, fragments that are prefixes with their
 * continuation, balance, labels per kind, splits that never share a pair or an
 * instruction, and the positive-model filter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ds_internal.h"
#include "ifs_sha256.h"
#include "ifs_test.h"

static char tmpdir[512];

/* sha256 of responses-00000.jsonl.zst for seed 5 before the planned set existed */
#define LEGACY_RS_SHA "71b3680dacb5d86ce8b54e5e76f0a982bf162def79bbb8d15cce0f68e0cd1c60"
static char pairs_path[1024];

static const char *const topics[] = {"the moon",       "tax law",       "bread",
                                     "a violin",       "Kyoto",         "photosynthesis",
                                     "chess openings", "Rust lifetimes"};
static const char *const forms[] = {
    "Explain %s to a child in three sentences.",
    "Write a short poem about %s and make it rhyme.",
    "What is the history of %s?",
    "Give me, in a list, five facts about %s",
    "Summarize the main ideas of %s.\nKeep it brief",
};

/* 200 instructions x 3 models, plus a one-word and a CJK instruction and
 * duplicates; model "base-x" is the non-instruction-tuned one. */
static void write_pairs(void)
{
    snprintf(pairs_path, sizeof pairs_path, "%s/pairs.jsonl", tmpdir);
    FILE *f = fopen(pairs_path, "w");
    if (!f) {
        fprintf(stderr, "FAIL: cannot write %s\n", pairs_path);
        exit(1);
    }
    const char *models[] = {"chat-a", "chat-b", "base-x"};
    int n = 0;
    for (int m = 0; m < 3; m++) {
        for (int i = 0; i < 200; i++) {
            char instr[256], line[1024];
            snprintf(instr, sizeof instr, forms[i % 5], topics[i % 8]);
            size_t l = strlen(instr);
            snprintf(instr + l, sizeof instr - l, " (%d)", i);
            ds_buf b = {0};
            ds_buf_puts(&b, "{");
            snprintf(line, sizeof line, "%s/%d", models[m], i);
            ds_buf_kv_str(&b, "id", line, strlen(line));
            ds_buf_kv_str(&b, "model", models[m], strlen(models[m]));
            ds_buf_kv_str(&b, "instruction", instr, strlen(instr));
            ds_buf_kv_str(&b, "instruction_type", "full", 4);
            snprintf(line, sizeof line, "Answer %d from %s.", i, models[m]);
            ds_buf_kv_str(&b, "response", line, strlen(line));
            ds_buf_puts(&b, "}\n");
            fputs(b.p, f);
            ds_buf_free(&b);
            n++;
        }
    }
    fputs("{\"id\":\"w1\",\"model\":\"chat-a\",\"instruction\":\"Summarize\",\"response\":\"r\"}\n",
          f);
    fputs("{\"id\":\"w2\",\"model\":\"chat-a\",\"instruction\":\"日本語で説明してください\","
          "\"response\":\"はい\"}\n",
          f);
    fputs("{\"id\":\"w3\",\"model\":\"chat-a\",\"response\":\"no instruction\"}\n", f);
    fputs("not json\n", f);
    fclose(f);
}

static int build(int which, const ifs_ds_build_opts *o, const char *dir, ds_build_stats *st,
                 ds_read_stats *rs)
{
    char err[512];
    char *args[] = {pairs_path};
    ds_sink *sink = ds_sink_open(dir, NULL, err, sizeof err);
    if (!sink || ds_sink_begin(sink, which == 'i' ? "instructions" : "responses", err, sizeof err))
        return -1;
    ds_builder *b = ds_builder_create(which, o, sink, err, sizeof err);
    memset(rs, 0, sizeof *rs);
    int rc = ds_read_records(args, 1, ds_builder_add, b, rs, err, sizeof err);
    *st = *ds_builder_stats(b);
    if (!rc)
        rc = ds_sink_finish(sink, NULL, err, sizeof err);
    ds_builder_free(b);
    ds_sink_free(sink);
    return rc;
}

static void shard_sha(const char *dir, const char *stem, char hex[65])
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s-00000.jsonl.zst", dir, stem);
    if (ifs_sha256_file_hex(p, hex))
        strcpy(hex, "unreadable");
}

/* ---- instruction set ------------------------------------------------------ */

typedef struct {
    int n, partial, full, bad_prefix, bad_end, bad_type;
} iset_check;

static int check_instr(const cJSON *obj, const char *raw, size_t rl, const char *shard,
                       uint64_t line, void *user)
{
    (void)raw, (void)rl, (void)shard, (void)line;
    iset_check *c = user;
    c->n++;
    const char *type = ds_get_str(obj, "instruction_type", NULL);
    const char *ins = ds_get_str(obj, "instruction", NULL);
    if (type && !strcmp(type, "partial")) {
        c->partial++;
        const char *full = ds_get_str(obj, "full_instruction", NULL);
        const char *cont = ds_get_str(obj, "continuation", NULL);
        const char *end = ds_get_str(obj, "cut_end", NULL);
        /* Ip is a prefix of I, Ic a suffix, whitespace between */
        if (!full || !cont || strncmp(full, ins, strlen(ins)) ||
            strcmp(full + strlen(full) - strlen(cont), cont) ||
            strlen(ins) + strlen(cont) >= strlen(full))
            c->bad_prefix++;
        if (!end || !strcmp(end, "sentence") || !strcmp(end, "line"))
            c->bad_end++;
    } else if (type && !strcmp(type, "full")) {
        c->full++;
    } else {
        c->bad_type++;
    }
    return 0;
}

static void test_instruction_set(void)
{
    ifs_ds_build_opts o = {
        .seed = 11, .policy = IFS_DS_CUT_AUTO, .partial_share = 0.5, .dedupe = 1};
    char d1[1024], d2[1024], d3[1024];
    snprintf(d1, sizeof d1, "%s/is-1", tmpdir);
    snprintf(d2, sizeof d2, "%s/is-2", tmpdir);
    snprintf(d3, sizeof d3, "%s/is-3", tmpdir);
    ds_build_stats st, st2;
    ds_read_stats rs;
    IFS_CHECK(build('i', &o, d1, &st, &rs) == 0, "instruction_set_builds");
    IFS_CHECK(build('i', &o, d2, &st2, &rs) == 0, "instruction_set_builds_again");
    o.seed = 12;
    IFS_CHECK(build('i', &o, d3, &st2, &rs) == 0, "instruction_set_builds_with_another_seed");
    char h1[65], h2[65], h3[65];
    shard_sha(d1, "instructions", h1);
    shard_sha(d2, "instructions", h2);
    shard_sha(d3, "instructions", h3);
    IFS_CHECK(!strcmp(h1, h2), "same_seed_gives_byte_identical_shards: %s %s", h1, h2);
    IFS_CHECK(strcmp(h1, h3), "different_seed_gives_different_shards");
    IFS_CHECK(st.pairs == 603 && st.written == 202,
              "distinct_instructions_are_kept_once: %llu of %llu", (unsigned long long)st.written,
              (unsigned long long)st.pairs);
    IFS_CHECK(st.duplicate == 400, "duplicates_are_counted: %llu",
              (unsigned long long)st.duplicate);
    IFS_CHECK(st.no_instruction == 1, "pair_without_instruction_is_counted");
    IFS_CHECK(rs.rejected_total == 1, "invalid_line_is_rejected_and_counted");
    IFS_CHECK(st.partial > 80 && st.partial < 122, "about_half_are_partial: %llu of %llu",
              (unsigned long long)st.partial, (unsigned long long)st.written);
    IFS_CHECK(st.full + st.partial == st.written, "every_record_is_full_or_partial");
    IFS_CHECK(st.end_class[IFS_DS_END_SENTENCE] == 0 && st.end_class[IFS_DS_END_LINE] == 0,
              "auto_policy_never_leaves_a_sentence_or_line_end");
    iset_check c = {0};
    char *args[] = {d1};
    char err[256];
    ds_read_stats rs2 = {0};
    ds_read_records(args, 1, check_instr, &c, &rs2, err, sizeof err);
    IFS_CHECK(c.n == 202 && c.bad_type == 0, "records_carry_instruction_type: %d", c.n);
    IFS_CHECK(c.bad_prefix == 0, "fragment_and_continuation_rebuild_the_instruction: %d bad",
              c.bad_prefix);
    IFS_CHECK(c.bad_end == 0, "partial_records_name_a_certain_ending: %d bad", c.bad_end);
    /* The one-word and the CJK instruction can never be partial. */
    o.partial_share = 1.0;
    snprintf(d3, sizeof d3, "%s/is-all", tmpdir);
    build('i', &o, d3, &st2, &rs);
    IFS_CHECK(st2.uncuttable == 2 && st2.full == 2, "uncuttable_instructions_stay_full: %llu",
              (unsigned long long)st2.uncuttable);
    o.policy = IFS_DS_CUT_LOOSE;
    snprintf(d3, sizeof d3, "%s/is-loose", tmpdir);
    build('i', &o, d3, &st2, &rs);
    IFS_CHECK(st2.end_class[IFS_DS_END_SENTENCE] + st2.end_class[IFS_DS_END_LINE] > 0,
              "loose_policy_does_leave_sentence_or_line_ends");
}

/* ---- response set --------------------------------------------------------- */

typedef struct {
    int n, pos, neg, bad_label, bad_model, bad_text;
    ds_set split_of_source[3], split_of_instr[3], ic_texts;
    int leaks, ic_dup;
} rset_check;

static int check_resp(const cJSON *obj, const char *raw, size_t rl, const char *shard,
                      uint64_t line, void *user)
{
    (void)raw, (void)rl, (void)shard, (void)line;
    rset_check *c = user;
    c->n++;
    const char *kind = ds_get_str(obj, "kind", NULL);
    const char *split = ds_get_str(obj, "split", NULL);
    const char *src = ds_get_str(obj, "source_id", NULL);
    const char *model = ds_get_str(obj, "model", NULL);
    const char *text = ds_get_str(obj, "text", NULL);
    const cJSON *label = cJSON_GetObjectItem(obj, "label");
    int want = kind && !strcmp(kind, "R") ? 1 : 0;
    if (!cJSON_IsNumber(label) || label->valueint != want || !kind)
        c->bad_label++;
    want ? c->pos++ : c->neg++;
    if (!model || !strncmp(model, "base", 4))
        c->bad_model++;
    /* R texts are "Answer i from model."; Ic never holds the answer; Ic+R ends in it */
    if (!text || (!strcmp(kind, "R") && strncmp(text, "Answer ", 7)) ||
        (!strcmp(kind, "Ic") && strstr(text, "Answer ")) ||
        (!strcmp(kind, "Ic+R") && !strstr(text, "Answer ")))
        c->bad_text++;
    if (text && kind && !strcmp(kind, "Ic") &&
        ds_set_add(&c->ic_texts, ifs_ds_key(0, "t", text, strlen(text))) == 1)
        c->ic_dup++;
    int s = !split ? -1 : !strcmp(split, "train") ? 0 : !strcmp(split, "validation") ? 1 : 2;
    if (s < 0 || !src)
        return 0;
    uint64_t hs = ifs_ds_key(0, "src", src, strlen(src));
    /* the pair number i identifies the instruction (same text across models) */
    const char *slash = strrchr(src, '/');
    uint64_t hi = ifs_ds_key(0, "ins", slash ? slash : src, strlen(slash ? slash : src));
    for (int o = 0; o < 3; o++)
        if (o != s &&
            (ds_set_has(&c->split_of_source[o], hs) || ds_set_has(&c->split_of_instr[o], hi)))
            c->leaks++;
    ds_set_add(&c->split_of_source[s], hs);
    ds_set_add(&c->split_of_instr[s], hi);
    return 0;
}

static void test_response_set(void)
{
    ifs_ds_build_opts o = {.seed = 5,
                           .policy = IFS_DS_CUT_AUTO,
                           .ic_share = 0.5,
                           .train = 0.6,
                           .validation = 0.2,
                           .positive_models = "chat-*"};
    char d1[1024], d2[1024], d3[1024];
    snprintf(d1, sizeof d1, "%s/rs-1", tmpdir);
    snprintf(d2, sizeof d2, "%s/rs-2", tmpdir);
    snprintf(d3, sizeof d3, "%s/rs-3", tmpdir);
    ds_build_stats st, st2;
    ds_read_stats rs;
    IFS_CHECK(build('r', &o, d1, &st, &rs) == 0, "response_set_builds");
    build('r', &o, d2, &st2, &rs);
    o.seed = 6;
    build('r', &o, d3, &st2, &rs);
    char h1[65], h2[65], h3[65];
    shard_sha(d1, "responses", h1);
    shard_sha(d2, "responses", h2);
    shard_sha(d3, "responses", h3);
    IFS_CHECK(!strcmp(h1, h2), "response_set_same_seed_gives_byte_identical_shards");
    IFS_CHECK(strcmp(h1, h3), "response_set_different_seed_gives_different_shards");
    /* The single-pass set is what the shipped classifier was trained on: its
     * bytes are frozen (the planned set is another code path). */
    IFS_CHECK(!strcmp(h1, LEGACY_RS_SHA), "single_pass_response_set_is_unchanged: %s", h1);
    IFS_CHECK(st.not_positive == 200, "pairs_of_models_outside_the_pattern_are_left_out: %llu",
              (unsigned long long)st.not_positive);
    IFS_CHECK(st.uncuttable == 2, "pairs_whose_instruction_cannot_be_cut_are_left_out: %llu",
              (unsigned long long)st.uncuttable);
    IFS_CHECK(st.written == 800, "each_kept_pair_gives_two_records: %llu",
              (unsigned long long)st.written);
    IFS_CHECK(st.kind[IFS_DS_KIND_IC] > 120 && st.kind[IFS_DS_KIND_IC_R] > 120,
              "negatives_mix_ic_and_ic_plus_r: %llu %llu",
              (unsigned long long)st.kind[IFS_DS_KIND_IC],
              (unsigned long long)st.kind[IFS_DS_KIND_IC_R]);
    rset_check c = {0};
    char *args[] = {d1};
    char err[256];
    ds_read_stats rs2 = {0};
    ds_read_records(args, 1, check_resp, &c, &rs2, err, sizeof err);
    IFS_CHECK(c.pos == c.neg && c.pos == 400, "response_set_is_balanced: %d vs %d", c.pos, c.neg);
    IFS_CHECK(c.bad_label == 0, "labels_follow_kinds: %d bad", c.bad_label);
    IFS_CHECK(c.bad_model == 0, "no_record_comes_from_a_non_positive_model: %d", c.bad_model);
    IFS_CHECK(c.bad_text == 0, "texts_match_their_kind: %d bad", c.bad_text);
    IFS_CHECK(c.leaks == 0, "no_pair_or_instruction_spans_two_splits: %d", c.leaks);
    IFS_CHECK(c.ic_dup == 0 && st.ic_repeats > 0,
              "a_repeated_ic_text_becomes_ic_plus_r: %d duplicates, %llu turned", c.ic_dup,
              (unsigned long long)st.ic_repeats);
    ds_set_free(&c.ic_texts);
    IFS_CHECK(st.split[0] > 0 && st.split[1] > 0 && st.split[2] > 0, "all_three_splits_are_used");
    /* exclusions: everything but base-* is the same set as chat-* */
    o.seed = 5;
    o.positive_models = "*,!base-*";
    snprintf(d2, sizeof d2, "%s/rs-excl", tmpdir);
    build('r', &o, d2, &st2, &rs);
    shard_sha(d2, "responses", h2);
    IFS_CHECK(!strcmp(h1, h2), "exclusion_patterns_select_the_same_models_as_inclusions");
    for (int i = 0; i < 3; i++) {
        ds_set_free(&c.split_of_source[i]);
        ds_set_free(&c.split_of_instr[i]);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/builders", ifs_test_env("IFS_TEST_TMP", "/tmp"));
    mkdir(tmpdir, 0777);
    write_pairs();
    test_instruction_set();
    test_response_set();
    return ifs_test_done("builders");
}
