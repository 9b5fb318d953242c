/*
 * test_record.c - record parsing (one table of lines and what they must give),
 * schema options, reject names, JSON escaping, and the rejects file.
 */
#include "ifs_record.h"
#include "ifs_shard.h"
#include "ifs_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

typedef struct {
    const char *name;
    const char *line;  /* NUL-terminated unless len is set */
    size_t len;        /* 0: strlen(line) */
    const char *group; /* --group-by, NULL = default "model" */
    ifs_reject_reason want;
    const char *text; /* expected text when accepted */
    const char *id;   /* expected id, NULL = no id */
    ifs_itype type;
    const char *g0, *g1; /* expected group values */
} rcase;

static const rcase cases[] = {
    {"plain_record_gives_text_id_type_and_model",
     "{\"id\":\"oasst-00017-p\",\"model\":\"llama-7b\",\"instruction\":\"What if\","
     "\"instruction_type\":\"partial\",\"response\":\"It seems your question is incomplete\"}",
     0, NULL, IFS_REJECT_NONE, "It seems your question is incomplete", "oasst-00017-p",
     IFS_ITYPE_PARTIAL, "llama-7b", NULL},
    {"full_type_is_recognised",
     "{\"response\":\"x\",\"model\":\"m\",\"instruction_type\":\"full\"}", 0, NULL, IFS_REJECT_NONE,
     "x", NULL, IFS_ITYPE_FULL, "m", NULL},
    {"absent_type_counts_toward_ifs_only", "{\"response\":\"x\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_NONE, "x", NULL, IFS_ITYPE_NONE, "m", NULL},
    {"null_type_is_like_absent", "{\"response\":\"x\",\"model\":\"m\",\"instruction_type\":null}",
     0, NULL, IFS_REJECT_NONE, "x", NULL, IFS_ITYPE_NONE, "m", NULL},
    {"empty_response_is_scored", "{\"response\":\"\",\"model\":\"m\"}", 0, NULL, IFS_REJECT_NONE,
     "", NULL, IFS_ITYPE_NONE, "m", NULL},
    {"escapes_are_decoded",
     "{\"response\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_NONE, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80", NULL, IFS_ITYPE_NONE, "m", NULL},
    {"numeric_id_is_rendered_as_an_integer", "{\"id\":17,\"response\":\"x\",\"model\":\"m\"}", 0,
     NULL, IFS_REJECT_NONE, "x", "17", IFS_ITYPE_NONE, "m", NULL},
    {"integral_float_id_is_an_integer", "{\"id\":1.7e1,\"response\":\"x\",\"model\":\"m\"}", 0,
     NULL, IFS_REJECT_NONE, "x", "17", IFS_ITYPE_NONE, "m", NULL},
    {"null_id_means_no_id", "{\"id\":null,\"response\":\"x\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_NONE, "x", NULL, IFS_ITYPE_NONE, "m", NULL},
    {"two_group_keys_with_a_numeric_step", "{\"response\":\"x\",\"model\":\"m\",\"step\":8000.0}",
     0, "model,step", IFS_REJECT_NONE, "x", NULL, IFS_ITYPE_NONE, "m", "8000"},
    {"fractional_group_value_keeps_its_shortest_form",
     "{\"response\":\"x\",\"model\":\"m\",\"step\":0.1}", 0, "model,step", IFS_REJECT_NONE, "x",
     NULL, IFS_ITYPE_NONE, "m", "0.1"},
    {"negative_integer_group_value", "{\"response\":\"x\",\"model\":-3}", 0, NULL, IFS_REJECT_NONE,
     "x", NULL, IFS_ITYPE_NONE, "-3", NULL},
    {"unknown_keys_are_ignored",
     "{\"response\":\"x\",\"model\":\"m\",\"extra\":{\"deep\":[1,2,{\"a\":null}]},\"z\":true}", 0,
     NULL, IFS_REJECT_NONE, "x", NULL, IFS_ITYPE_NONE, "m", NULL},
    {"surrounding_whitespace_is_fine", "  {\"response\":\"x\",\"model\":\"m\"}  \t", 0, NULL,
     IFS_REJECT_NONE, "x", NULL, IFS_ITYPE_NONE, "m", NULL},
    {"duplicate_key_takes_the_first",
     "{\"response\":\"first\",\"response\":\"second\",\"model\":\"m\"}", 0, NULL, IFS_REJECT_NONE,
     "first", NULL, IFS_ITYPE_NONE, "m", NULL},
    {"keys_are_case_sensitive", "{\"Response\":\"x\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_MISSING_TEXT, NULL, NULL, 0, NULL, NULL},

    {"empty_line_is_rejected", "", 0, NULL, IFS_REJECT_EMPTY_LINE, NULL, NULL, 0, NULL, NULL},
    {"blank_line_is_rejected_as_empty", " \t ", 0, NULL, IFS_REJECT_EMPTY_LINE, NULL, NULL, 0, NULL,
     NULL},
    {"truncated_json_is_invalid", "{\"response\":\"x\",\"model\":\"m\"", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"trailing_characters_are_invalid", "{\"response\":\"x\",\"model\":\"m\"} x", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"two_objects_on_one_line_are_invalid", "{\"response\":\"x\",\"model\":\"m\"}{}", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"lone_surrogate_escape_is_invalid", "{\"response\":\"\\ud800\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"raw_control_character_in_a_string_is_invalid", "{\"response\":\"a\x01b\",\"model\":\"m\"}", 0,
     NULL, IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"raw_tab_in_a_string_is_invalid", "{\"response\":\"a\tb\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"leading_zero_number_is_invalid", "{\"response\":\"x\",\"model\":01}", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"number_ending_in_a_dot_is_invalid", "{\"response\":\"x\",\"model\":1.}", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"trailing_comma_is_invalid", "{\"response\":\"x\",\"model\":\"m\",}", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"unknown_escape_is_invalid", "{\"response\":\"\\x41\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"high_surrogate_without_its_pair_is_invalid",
     "{\"response\":\"\\ud83d\\u0041\",\"model\":\"m\"}", 0, NULL, IFS_REJECT_INVALID_JSON, NULL,
     NULL, 0, NULL, NULL},
    {"vertical_tab_is_not_whitespace", "{\"response\":\"x\",\v\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_INVALID_JSON, NULL, NULL, 0, NULL, NULL},
    {"single_quotes_are_invalid", "{'response':'x','model':'m'}", 0, NULL, IFS_REJECT_INVALID_JSON,
     NULL, NULL, 0, NULL, NULL},
    {"numbers_true_false_null_and_nesting_are_valid",
     "{\"response\":\"x\",\"model\":\"m\",\"a\":[-0,0.5e+3,1E-2,true,false,null,{},[],{\"k\":[]}]}",
     0, NULL, IFS_REJECT_NONE, "x", NULL, IFS_ITYPE_NONE, "m", NULL},
    {"array_is_not_an_object", "[{\"response\":\"x\"}]", 0, NULL, IFS_REJECT_NOT_OBJECT, NULL, NULL,
     0, NULL, NULL},
    {"string_is_not_an_object", "\"response\"", 0, NULL, IFS_REJECT_NOT_OBJECT, NULL, NULL, 0, NULL,
     NULL},
    {"invalid_utf8_is_rejected", "{\"response\":\"caf\xe9\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_INVALID_UTF8, NULL, NULL, 0, NULL, NULL},
    {"overlong_utf8_is_rejected", "{\"response\":\"\xc0\xaf\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_INVALID_UTF8, NULL, NULL, 0, NULL, NULL},
    {"utf8_surrogate_bytes_are_rejected", "{\"response\":\"\xed\xa0\x80\",\"model\":\"m\"}", 0,
     NULL, IFS_REJECT_INVALID_UTF8, NULL, NULL, 0, NULL, NULL},
    {"invalid_utf8_in_an_ignored_key_is_still_rejected",
     "{\"response\":\"x\",\"model\":\"m\",\"x\":\"\xff\"}", 0, NULL, IFS_REJECT_INVALID_UTF8, NULL,
     NULL, 0, NULL, NULL},
    {"nul_escape_in_text_is_rejected", "{\"response\":\"ab\\u0000cd\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_NUL_IN_TEXT, NULL, NULL, 0, NULL, NULL},
    {"nul_escape_in_a_group_value_is_rejected", "{\"response\":\"x\",\"model\":\"m\\u0000n\"}", 0,
     NULL, IFS_REJECT_NUL_IN_TEXT, NULL, NULL, 0, NULL, NULL},
    {"escaped_backslash_before_u0000_text_is_not_nul",
     "{\"response\":\"\\\\u0000\",\"model\":\"m\"}", 0, NULL, IFS_REJECT_NONE, "\\u0000", NULL,
     IFS_ITYPE_NONE, "m", NULL},
    {"raw_nul_byte_is_rejected", "{\"response\":\"a\0b\",\"model\":\"m\"}",
     sizeof "{\"response\":\"a\0b\",\"model\":\"m\"}" - 1, NULL, IFS_REJECT_NUL_IN_TEXT, NULL, NULL,
     0, NULL, NULL},
    {"nesting_past_the_limit_is_too_deep",
     "{\"response\":\"x\",\"model\":\"m\",\"a\":"
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
     0, NULL, IFS_REJECT_TOO_DEEP, NULL, NULL, 0, NULL, NULL},
    {"brackets_inside_strings_do_not_count_as_nesting",
     "{\"response\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\","
     "\"model\":\"m\"}",
     0, NULL, IFS_REJECT_NONE,
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", NULL, IFS_ITYPE_NONE,
     "m", NULL},
    {"missing_response_is_rejected", "{\"model\":\"m\"}", 0, NULL, IFS_REJECT_MISSING_TEXT, NULL,
     NULL, 0, NULL, NULL},
    {"null_response_is_missing", "{\"response\":null,\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_MISSING_TEXT, NULL, NULL, 0, NULL, NULL},
    {"numeric_response_is_not_a_string", "{\"response\":42,\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_TEXT_NOT_STRING, NULL, NULL, 0, NULL, NULL},
    {"object_response_is_not_a_string", "{\"response\":{\"t\":\"x\"},\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_TEXT_NOT_STRING, NULL, NULL, 0, NULL, NULL},
    {"boolean_id_is_rejected", "{\"id\":true,\"response\":\"x\",\"model\":\"m\"}", 0, NULL,
     IFS_REJECT_BAD_ID, NULL, NULL, 0, NULL, NULL},
    {"id_too_big_for_a_double_is_rejected",
     "{\"id\":12345678901234567890,\"response\":\"x\",\"model\":\"m\"}", 0, NULL, IFS_REJECT_BAD_ID,
     NULL, NULL, 0, NULL, NULL},
    {"unknown_instruction_type_is_rejected",
     "{\"response\":\"x\",\"model\":\"m\",\"instruction_type\":\"Partial\"}", 0, NULL,
     IFS_REJECT_UNKNOWN_INSTRUCTION_TYPE, NULL, NULL, 0, NULL, NULL},
    {"numeric_instruction_type_is_rejected",
     "{\"response\":\"x\",\"model\":\"m\",\"instruction_type\":1}", 0, NULL,
     IFS_REJECT_UNKNOWN_INSTRUCTION_TYPE, NULL, NULL, 0, NULL, NULL},
    {"missing_model_is_rejected", "{\"response\":\"x\"}", 0, NULL, IFS_REJECT_MISSING_GROUP_KEY,
     NULL, NULL, 0, NULL, NULL},
    {"null_model_is_missing", "{\"response\":\"x\",\"model\":null}", 0, NULL,
     IFS_REJECT_MISSING_GROUP_KEY, NULL, NULL, 0, NULL, NULL},
    {"missing_second_group_key_is_rejected", "{\"response\":\"x\",\"model\":\"m\"}", 0,
     "model,step", IFS_REJECT_MISSING_GROUP_KEY, NULL, NULL, 0, NULL, NULL},
    {"boolean_group_value_is_a_bad_type", "{\"response\":\"x\",\"model\":false}", 0, NULL,
     IFS_REJECT_BAD_GROUP_KEY_TYPE, NULL, NULL, 0, NULL, NULL},
    {"array_group_value_is_a_bad_type", "{\"response\":\"x\",\"model\":[\"m\"]}", 0, NULL,
     IFS_REJECT_BAD_GROUP_KEY_TYPE, NULL, NULL, 0, NULL, NULL},
    {"huge_numeric_group_value_is_a_bad_type", "{\"response\":\"x\",\"model\":1e300}", 0, NULL,
     IFS_REJECT_BAD_GROUP_KEY_TYPE, NULL, NULL, 0, NULL, NULL},
    {"a_numeric_group_value_that_underflows_to_zero_is_a_bad_type",
     "{\"response\":\"x\",\"model\":1e-400}", 0, NULL, IFS_REJECT_BAD_GROUP_KEY_TYPE, NULL, NULL, 0,
     NULL, NULL},
    {"a_subnormal_numeric_group_value_is_a_bad_type",
     "{\"response\":\"x\",\"step\":{\"model\":1},\"model\":1e-310}", 0, NULL,
     IFS_REJECT_BAD_GROUP_KEY_TYPE, NULL, NULL, 0, NULL, NULL},
    {"a_numeric_zero_group_value_is_kept_as_zero",
     "{\"response\":\"x\",\"note\":\"model\",\"model\":0.0e-5}", 0, NULL, IFS_REJECT_NONE, "x",
     NULL, 0, "0", NULL},
};

static void table_of_lines_gives_the_expected_records(void)
{
    ifs_record rec;
    ifs_record_init(&rec); /* one struct reused for every line, as a worker thread would */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rcase *c = &cases[i];
        ifs_record_schema s;
        ifs_record_schema_init(&s);
        char err[128];
        if (c->group)
            IFS_CHECK(!ifs_record_schema_set_group_by(&s, c->group, err, sizeof err), "%s: %s",
                      c->name, err);
        size_t len = c->len ? c->len : strlen(c->line);
        /* parse from an exact-length heap copy, so reading past len would show under ASan */
        char *copy = malloc(len ? len : 1);
        memcpy(copy, c->line, len);
        ifs_reject_reason got = ifs_record_parse(&rec, &s, copy, len);
        IFS_CHECK(got == c->want, "%s: got %s (%s), want %s", c->name, ifs_reject_name(got),
                  rec.detail, ifs_reject_name(c->want));
        IFS_CHECK(rec.reason == got, "%s: rec.reason matches the return", c->name);
        if (got == IFS_REJECT_NONE && c->want == IFS_REJECT_NONE) {
            IFS_CHECK(rec.text && !strcmp(rec.text, c->text) && rec.text_len == strlen(c->text),
                      "%s: text \"%s\"", c->name, rec.text ? rec.text : "(null)");
            if (c->id)
                IFS_CHECK(rec.has_id && !strcmp(rec.id, c->id) && rec.id_len == strlen(c->id),
                          "%s: id \"%s\"", c->name, rec.id ? rec.id : "(null)");
            else
                IFS_CHECK(!rec.has_id && !rec.id, "%s: expected no id", c->name);
            IFS_CHECK(rec.type == c->type, "%s: type %d", c->name, rec.type);
            IFS_CHECK(rec.n_group == (c->g1 ? 2u : 1u), "%s: %zu group values", c->name,
                      rec.n_group);
            IFS_CHECK(rec.n_group >= 1 && !strcmp(rec.group[0], c->g0) &&
                          rec.group_len[0] == strlen(c->g0),
                      "%s: group 0 \"%s\"", c->name, rec.n_group ? rec.group[0] : "");
            if (c->g1 && rec.n_group == 2)
                IFS_CHECK(!strcmp(rec.group[1], c->g1), "%s: group 1 \"%s\"", c->name,
                          rec.group[1]);
            IFS_CHECK(rec.detail[0] == 0, "%s: no detail when accepted", c->name);
        }
        if (got != IFS_REJECT_NONE)
            IFS_CHECK(rec.detail[0] && !rec.text && rec.n_group == 0,
                      "%s: a reject has words and no fields", c->name);
        free(copy);
    }
    ifs_record_clear(&rec);
}

static void reject_details_name_the_byte_offset(void)
{
    static const struct {
        const char *line;
        const char *words;
    } cases[] = {
        {"{\"response\":\"x\",\"model\":01}", "byte 25"},
        {"{\"response\":\"caf\xe9\"}", "byte 16"},
        {"{\"response\":\"ab\\u0000\"}", "byte 15"},
        {"{\"response\":\"x\"} ]", "byte 17"},
        {"{\"response\":\"x", "byte 12"},
        {"{\"response\" \"x\"}", "byte 12"},
    };
    ifs_record_schema s;
    ifs_record_schema_init(&s);
    ifs_record r;
    ifs_record_init(&r);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ifs_record_parse(&r, &s, cases[i].line, strlen(cases[i].line));
        IFS_CHECK(strstr(r.detail, cases[i].words), "line %zu: detail \"%s\" should say %s", i,
                  r.detail, cases[i].words);
    }
    ifs_record_clear(&r);
}

static void *parse_table_repeatedly(void *arg)
{
    long *mismatches = arg;
    ifs_record_schema s;
    ifs_record_schema_init(&s);
    ifs_record rec;
    ifs_record_init(&rec);
    for (int round = 0; round < 200; round++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (cases[i].group)
                continue; /* default schema only */
            size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);
            if (ifs_record_parse(&rec, &s, cases[i].line, len) != cases[i].want)
                (*mismatches)++;
        }
    ifs_record_clear(&rec);
    return NULL;
}

/* Worker threads parse side by side, each into its own record, and get the
 * table's answers. Under -fsanitize=thread this also shows our code shares
 * nothing (clean with gcc 12). TSan cannot see inside the uninstrumented
 * libcjson; its error global is avoided by construction (cJSON only gets
 * lines our check passed, which fuzz_record verifies). */
static void records_parse_in_parallel_threads(void)
{
    pthread_t th[4];
    long mism[4] = {0};
    for (int t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, parse_table_repeatedly, &mism[t]);
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        IFS_CHECK(mism[t] == 0, "thread %d: %ld answers differ from the table", t, mism[t]);
    }
}

static void field_names_are_configurable(void)
{
    ifs_record_schema s;
    ifs_record_schema_init(&s);
    char err[128];
    IFS_CHECK(!ifs_record_schema_set_field(&s, IFS_FIELD_TEXT, "output", err, sizeof err), "text");
    IFS_CHECK(!ifs_record_schema_set_field(&s, IFS_FIELD_ID, "uid", err, sizeof err), "id");
    IFS_CHECK(!ifs_record_schema_set_field(&s, IFS_FIELD_TYPE, "kind", err, sizeof err), "type");
    IFS_CHECK(!ifs_record_schema_set_field(&s, IFS_FIELD_PAIR, "instruction", err, sizeof err),
              "pair");
    IFS_CHECK(!ifs_record_schema_set_group_by(&s, "generator", err, sizeof err), "group");
    ifs_record r;
    ifs_record_init(&r);
    const char *ok = "{\"output\":\"o\",\"uid\":\"u1\",\"kind\":\"full\",\"instruction\":\"i\","
                     "\"generator\":\"g\",\"response\":7,\"id\":[]}";
    IFS_CHECK(ifs_record_parse(&r, &s, ok, strlen(ok)) == IFS_REJECT_NONE, "renamed fields: %s",
              r.detail);
    IFS_CHECK(r.text && !strcmp(r.text, "o") && r.id && !strcmp(r.id, "u1") &&
                  r.type == IFS_ITYPE_FULL && r.pair && !strcmp(r.pair, "i") && r.pair_len == 1 &&
                  r.n_group == 1 && !strcmp(r.group[0], "g"),
              "renamed fields read from their new names");
    const char *nopair = "{\"output\":\"o\",\"generator\":\"g\"}";
    IFS_CHECK(ifs_record_parse(&r, &s, nopair, strlen(nopair)) == IFS_REJECT_MISSING_INSTRUCTION,
              "a configured pair field is required");
    const char *badpair = "{\"output\":\"o\",\"instruction\":1,\"generator\":\"g\"}";
    IFS_CHECK(ifs_record_parse(&r, &s, badpair, strlen(badpair)) ==
                  IFS_REJECT_INSTRUCTION_NOT_STRING,
              "pair must be a string");
    /* disabling id and type: their fields are ignored whatever they hold */
    IFS_CHECK(!ifs_record_schema_set_field(&s, IFS_FIELD_ID, "", err, sizeof err), "no id");
    IFS_CHECK(!ifs_record_schema_set_field(&s, IFS_FIELD_TYPE, "", err, sizeof err), "no type");
    const char *odd = "{\"output\":\"o\",\"instruction\":\"i\",\"uid\":true,\"kind\":\"?\","
                      "\"generator\":\"g\"}";
    IFS_CHECK(ifs_record_parse(&r, &s, odd, strlen(odd)) == IFS_REJECT_NONE && !r.has_id &&
                  r.type == IFS_ITYPE_NONE,
              "disabled id/type fields are ignored: %s", r.detail);
    ifs_record_clear(&r);
}

static void bad_schema_options_are_refused_with_words(void)
{
    static const struct {
        const char *list;
        int ok;
        size_t n;
    } groups[] = {
        {"model", 1, 1},
        {"model,step", 1, 2},
        {"a,b,c,d,e,f,g,h", 1, 8},
        {"a,b,c,d,e,f,g,h,i", 0, 0},
        {"", 0, 0},
        {"model,", 0, 0},
        {",model", 0, 0},
        {"model,,step", 0, 0},
        {"model,model", 0, 0},
        {"prompt variant", 1, 1},
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        ifs_record_schema s;
        ifs_record_schema_init(&s);
        char err[128] = "";
        int rc = ifs_record_schema_set_group_by(&s, groups[i].list, err, sizeof err);
        IFS_CHECK((rc == 0) == groups[i].ok, "--group-by \"%s\": rc %d", groups[i].list, rc);
        if (groups[i].ok)
            IFS_CHECK(s.n_group_fields == groups[i].n, "--group-by \"%s\": %zu keys",
                      groups[i].list, s.n_group_fields);
        else
            IFS_CHECK(err[0] && s.n_group_fields == 1 && !strcmp(s.group_fields[0], "model"),
                      "--group-by \"%s\": refused with words, schema unchanged", groups[i].list);
    }
    ifs_record_schema s;
    ifs_record_schema_init(&s);
    char err[128];
    char longname[200];
    memset(longname, 'k', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    IFS_CHECK(ifs_record_schema_set_field(&s, IFS_FIELD_TEXT, "", err, sizeof err) ==
                  IFS_RECORD_EARG,
              "empty text name");
    IFS_CHECK(ifs_record_schema_set_field(&s, IFS_FIELD_TEXT, longname, err, sizeof err) ==
                  IFS_RECORD_EARG,
              "long name");
    IFS_CHECK(ifs_record_schema_set_field(&s, (ifs_record_field)99, "x", err, sizeof err) ==
                  IFS_RECORD_EARG,
              "unknown kind");
    IFS_CHECK(!strcmp(s.text_field, "response"), "text field unchanged after refusals");
}

static void reject_names_are_stable_and_round_trip(void)
{
    static const struct {
        ifs_reject_reason r;
        const char *name;
    } names[] = {
        {IFS_REJECT_NONE, "none"},
        {IFS_REJECT_EMPTY_LINE, "empty_line"},
        {IFS_REJECT_LINE_TOO_LONG, "line_too_long"},
        {IFS_REJECT_INVALID_UTF8, "invalid_utf8"},
        {IFS_REJECT_NUL_IN_TEXT, "nul_in_text"},
        {IFS_REJECT_TOO_DEEP, "too_deep"},
        {IFS_REJECT_INVALID_JSON, "invalid_json"},
        {IFS_REJECT_NOT_OBJECT, "not_object"},
        {IFS_REJECT_MISSING_TEXT, "missing_text"},
        {IFS_REJECT_TEXT_NOT_STRING, "text_not_string"},
        {IFS_REJECT_BAD_ID, "bad_id"},
        {IFS_REJECT_UNKNOWN_INSTRUCTION_TYPE, "unknown_instruction_type"},
        {IFS_REJECT_MISSING_GROUP_KEY, "missing_group_key"},
        {IFS_REJECT_BAD_GROUP_KEY_TYPE, "bad_group_key_type"},
        {IFS_REJECT_MISSING_INSTRUCTION, "missing_instruction"},
        {IFS_REJECT_INSTRUCTION_NOT_STRING, "instruction_not_string"},
        {IFS_REJECT_ZSTD_CORRUPT, "zstd_corrupt"},
        {IFS_REJECT_ZSTD_TRUNCATED, "zstd_truncated"},
        {IFS_REJECT_IO_ERROR, "io_error"},
        {IFS_REJECT_TOKENIZER_ERROR, "tokenizer_error"},
        {IFS_REJECT_NONFINITE_LOGITS, "nonfinite_logits"},
        {IFS_REJECT_DEVICE_OOM, "device_oom"},
        {IFS_REJECT_BACKEND_REFUSED, "backend_refused"},
        {IFS_REJECT_UNSUPPORTED_COMPRESSION, "unsupported_compression"},
        {IFS_REJECT_ZSTD_CHECKSUM, "zstd_checksum"},
    };
    IFS_CHECK(sizeof names / sizeof names[0] == IFS_REJECT__COUNT,
              "every reason is listed here (%d reasons)", (int)IFS_REJECT__COUNT);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        IFS_CHECK(!strcmp(ifs_reject_name(names[i].r), names[i].name), "name of %d is %s",
                  (int)names[i].r, ifs_reject_name(names[i].r));
        IFS_CHECK(ifs_reject_from_name(names[i].name) == names[i].r, "%s reads back",
                  names[i].name);
    }
    IFS_CHECK(!strcmp(ifs_reject_name(IFS_REJECT__COUNT), "unknown"), "out of range");
    IFS_CHECK(!strcmp(ifs_reject_name((ifs_reject_reason)-1), "unknown"), "negative");
    IFS_CHECK(ifs_reject_from_name("nope") == IFS_REJECT__COUNT, "unknown name");
}

static void json_escape_always_gives_valid_json(void)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"plain", 5, "plain"},
        {"q\"b\\", 4, "q\\\"b\\\\"},
        {"\n\r\t\x01\x7f", 5, "\\n\\r\\t\\u0001\\u007f"},
        {"caf\xc3\xa9 \xf0\x9f\x98\x80", 10, "caf\xc3\xa9 \xf0\x9f\x98\x80"},
        {"bad\xff\xfe!", 6, "bad\xef\xbf\xbd\xef\xbf\xbd!"},
        {"cut\xe2\x82", 5, "cut\xef\xbf\xbd\xef\xbf\xbd"},
        {"a\0b", 3, "a\\u0000b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        size_t need = ifs_json_escape(out, sizeof out, cases[i].in, cases[i].len);
        IFS_CHECK(need == strlen(cases[i].out) && !strcmp(out, cases[i].out),
                  "escape case %zu: \"%s\"", i, out);
        /* the result parses back as a JSON string */
        char doc[80];
        snprintf(doc, sizeof doc, "\"%s\"", out);
        cJSON *j = cJSON_Parse(doc);
        IFS_CHECK(j && cJSON_IsString(j), "escape case %zu parses back", i);
        cJSON_Delete(j);
        /* snprintf-like truncation */
        char small[4];
        size_t need2 = ifs_json_escape(small, sizeof small, cases[i].in, cases[i].len);
        IFS_CHECK(need2 == need && strlen(small) <= 3, "escape case %zu truncates safely", i);
        IFS_CHECK(ifs_json_escape(NULL, 0, cases[i].in, cases[i].len) == need,
                  "escape case %zu measures", i);
    }
}

typedef struct {
    ifs_rejects *rj;
    int tid;
} thread_arg;

static void *add_many(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 500; i++)
        ifs_rejects_add(a->rj, "dir/shärd\x01.jsonl.zst", (uint64_t)i + 1,
                        (uint64_t)a->tid * 1000000u + (uint64_t)i, (ifs_reject_reason)(1 + (i % 5)),
                        "detail with \"quotes\"\nand newline");
    return NULL;
}

static void rejects_file_is_jsonl_written_atomically_from_several_threads(void)
{
    const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
    static const char *const names[] = {"rejects.jsonl", "rejects.jsonl.zst"};
    for (int z = 0; z < 2; z++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", tmp, names[z]);
        unlink(path);
        ifs_rejects *rj;
        char err[256];
        IFS_CHECK(!ifs_rejects_open(path, &rj, err, sizeof err), "open: %s", err);
        if (!rj)
            return;
        IFS_CHECK(access(path, F_OK) != 0, "%s does not exist before close", names[z]);
        pthread_t th[4];
        thread_arg args[4];
        for (int t = 0; t < 4; t++) {
            args[t] = (thread_arg){rj, t};
            pthread_create(&th[t], NULL, add_many, &args[t]);
        }
        for (int t = 0; t < 4; t++)
            pthread_join(th[t], NULL);
        IFS_CHECK(ifs_rejects_total(rj) == 2000, "total %llu",
                  (unsigned long long)ifs_rejects_total(rj));
        IFS_CHECK(ifs_rejects_count(rj, IFS_REJECT_EMPTY_LINE) == 400, "per-reason count");
        IFS_CHECK(!ifs_rejects_close(rj, err, sizeof err), "close: %s", err);
        ifs_rejects_free(rj);
        /* read it back through our own reader (zstd or plain) and cJSON */
        ifs_shard_reader *r;
        IFS_CHECK(!ifs_shard_open(path, NULL, &r, err, sizeof err), "reopen: %s", err);
        if (!r)
            return;
        ifs_shard_line ln;
        size_t lines = 0, good = 0;
        while (ifs_shard_next(r, &ln) == IFS_SHARD_LINE) {
            lines++;
            cJSON *j = cJSON_ParseWithLength(ln.data, ln.len);
            const cJSON *shard = cJSON_GetObjectItemCaseSensitive(j, "shard");
            const cJSON *line = cJSON_GetObjectItemCaseSensitive(j, "line");
            const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "offset");
            const cJSON *reason = cJSON_GetObjectItemCaseSensitive(j, "reason");
            const cJSON *detail = cJSON_GetObjectItemCaseSensitive(j, "detail");
            if (cJSON_IsString(shard) && !strcmp(shard->valuestring, "dir/shärd\x01.jsonl.zst") &&
                cJSON_IsNumber(line) && cJSON_IsNumber(off) && cJSON_IsString(reason) &&
                ifs_reject_from_name(reason->valuestring) < IFS_REJECT__COUNT &&
                cJSON_IsString(detail) &&
                !strcmp(detail->valuestring, "detail with \"quotes\"\nand newline"))
                good++;
            cJSON_Delete(j);
        }
        ifs_shard_stats st;
        ifs_shard_get_stats(r, &st);
        IFS_CHECK(st.is_zstd == z, "%s: compressed iff .zst", names[z]);
        ifs_shard_free(r);
        IFS_CHECK(lines == 2000 && good == 2000, "%s: %zu lines, %zu well-formed", names[z], lines,
                  good);
    }
    /* NULL path: counts only */
    ifs_rejects *rj;
    IFS_CHECK(!ifs_rejects_open(NULL, &rj, NULL, 0), "count-only rejects");
    IFS_CHECK(!ifs_rejects_add(rj, "s", 1, 0, IFS_REJECT_INVALID_JSON, NULL), "add");
    IFS_CHECK(ifs_rejects_total(rj) == 1 && ifs_rejects_count(rj, IFS_REJECT_INVALID_JSON) == 1,
              "counted");
    IFS_CHECK(!ifs_rejects_close(rj, NULL, 0), "close");
    ifs_rejects_free(rj);
    ifs_rejects_free(NULL);
    /* unwritable directory: open fails with words */
    char err[256] = "";
    IFS_CHECK(ifs_rejects_open("/nonexistent-dir/r.jsonl", &rj, err, sizeof err) ==
                      IFS_RECORD_EIO &&
                  err[0],
              "open in a missing folder fails: %s", err);
}

int main(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
#define CASE(f) {#f, f}
        CASE(table_of_lines_gives_the_expected_records),
        CASE(reject_details_name_the_byte_offset),
        CASE(records_parse_in_parallel_threads),
        CASE(field_names_are_configurable),
        CASE(bad_schema_options_are_refused_with_words),
        CASE(reject_names_are_stable_and_round_trip),
        CASE(json_escape_always_gives_valid_json),
        CASE(rejects_file_is_jsonl_written_atomically_from_several_threads),
#undef CASE
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = ifs_test_failures;
        tests[i].fn();
        printf("%s %s\n", ifs_test_failures == before ? "ok  " : "FAIL", tests[i].name);
    }
    return ifs_test_done("record");
}
