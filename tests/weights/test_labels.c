/*
 * test_labels.c - ifs_wts_answer_label: which label is the answer-like one,
 * from --answer-label or from the names in id2label. The cases marked
 * "substring rule" are the ones the rule this replaced got wrong (a label
 * containing "answer" and neither "not" nor "non"; several such labels or
 * none meant index 1): it read "no answer" as the answer and, for
 * {"answer", "no answer"}, picked "no answer".
 */
#include "wts_fixture.h"

typedef struct {
    const char *name;
    const char *labels[4]; /* NULL-terminated */
    const char *flag;
    int status;         /* 0 or IFS_WTS_ELABEL */
    int32_t want;       /* the index, when status is 0 */
    const char *msg[2]; /* substrings of the refusal */
} label_case;

static const label_case CASES[] = {
    /* from the names */
    {"the_paper_style_answer_like_label_is_found",
     {"continuation-like", "answer-like"},
     NULL,
     0,
     1,
     {0}},
    {"an_answer_label_at_index_0_is_found", {"answer-like", "continuation-like"}, NULL, 0, 0, {0}},
    {"no_answer_is_not_the_answer_label_and_nothing_else_is_named",
     {"no answer", "b"},
     NULL,
     IFS_WTS_ELABEL,
     0,
     {"'no answer' (0)", "--answer-label"}},
    {"no_answer_second_is_refused_rather_than_picked_as_index_1",
     {"b", "no answer"},
     NULL,
     IFS_WTS_ELABEL,
     0,
     {"'no answer' (1)", "negatively"}},
    {"answer_beside_no_answer_is_the_answer (substring rule: no answer)",
     {"answer", "no answer"},
     NULL,
     0,
     0,
     {0}},
    {"unanswerable_is_negated_and_answerable_names_the_answer",
     {"unanswerable", "answerable"},
     NULL,
     0,
     1,
     {0}},
    {"unanswerable_alone_is_refused",
     {"unanswerable", "b"},
     NULL,
     IFS_WTS_ELABEL,
     0,
     {"'unanswerable' (0)", "--answer-label"}},
    {"non_answer_is_negated", {"non-answer", "answer"}, NULL, 0, 1, {0}},
    {"not_answer_is_negated", {"not_answer", "Answer"}, NULL, 0, 1, {0}},
    {"camel_case_no_answer_is_negated", {"NoAnswer", "IsAnswer"}, NULL, 0, 1, {0}},
    {"a_glued_noanswer_is_negated", {"noanswer", "answer"}, NULL, 0, 1, {0}},
    {"answer_not_found_is_negated",
     {"answer_not_found", "found"},
     NULL,
     IFS_WTS_ELABEL,
     0,
     {"'answer_not_found' (0)", "--answer-label"}},
    {"annotated_answer_is_an_answer (substring rule: not inside annotated)",
     {"annotated answer", "continuation"},
     NULL,
     0,
     0,
     {0}},
    {"two_labels_naming_an_answer_are_refused",
     {"answer", "answer-like"},
     NULL,
     IFS_WTS_ELABEL,
     0,
     {"'answer' (0), 'answer-like' (1)", "--answer-label NAME|INDEX"}},
    {"default_labels_give_index_1", {"LABEL_0", "LABEL_1"}, NULL, 0, 1, {0}},
    {"labels_that_say_nothing_of_answers_give_index_1", {"continuation", "other"}, NULL, 0, 1, {0}},
    {"upper_case_answer_is_found", {"ANSWER", "other"}, NULL, 0, 0, {0}},
    {"plural_answers_is_found", {"answers", "questions"}, NULL, 0, 0, {0}},
    {"three_labels_with_one_answer", {"question", "continuation", "answer"}, NULL, 0, 2, {0}},
    {"a_utf8_label_beside_answer", {"r\xc3\xa9ponse-non", "answer"}, NULL, 0, 1, {0}},
    {"one_label_is_refused", {"answer"}, NULL, IFS_WTS_ELABEL, 0, {"1 label(s)"}},
    /* from the flag */
    {"an_index_flag_is_taken", {"a", "b", "c"}, "2", 0, 2, {0}},
    {"an_index_flag_wins_over_the_names", {"answer", "b"}, "1", 0, 1, {0}},
    {"an_index_past_the_labels_is_refused",
     {"a", "b"},
     "2",
     IFS_WTS_ELABEL,
     0,
     {"--answer-label 2", "labels 0..1"}},
    {"an_exact_name_flag_is_taken",
     {"continuation-like", "answer-like"},
     "continuation-like",
     0,
     0,
     {0}},
    {"a_name_flag_matches_ignoring_case",
     {"continuation-like", "answer-like"},
     "ANSWER-Like",
     0,
     1,
     {0}},
    {"an_exact_name_wins_over_a_case_insensitive_one", {"answer", "ANSWER"}, "ANSWER", 0, 1, {0}},
    {"a_name_flag_matching_two_labels_ignoring_case_is_refused",
     {"answer", "ANSWER"},
     "Answer",
     IFS_WTS_ELABEL,
     0,
     {"'answer' (0), 'ANSWER' (1)", "ignoring case"}},
    {"an_index_flag_that_is_also_another_labels_name_is_refused",
     {"1", "0"},
     "1",
     IFS_WTS_ELABEL,
     0,
     {"label 0 is named '1'", "--answer-label index:1 or name:1"}},
    {"an_index_flag_naming_its_own_label_is_fine", {"0", "1"}, "1", 0, 1, {0}},
    {"index_prefix_settles_the_ambiguity_as_an_index", {"1", "0"}, "index:1", 0, 1, {0}},
    {"name_prefix_settles_the_ambiguity_as_a_name", {"1", "0"}, "name:1", 0, 0, {0}},
    {"index_prefix_needs_digits",
     {"a", "b"},
     "index:b",
     IFS_WTS_ELABEL,
     0,
     {"'index:' takes a label index (0..1)"}},
    {"name_prefix_matches_ignoring_case_too",
     {"continuation-like", "answer-like"},
     "name:Answer-Like",
     0,
     1,
     {0}},
    {"a_label_named_with_the_prefix_is_reached_through_it",
     {"name:x", "b"},
     "name:name:x",
     0,
     0,
     {0}},
    {"an_unknown_name_flag_lists_the_labels",
     {"a", "b"},
     "zzz",
     IFS_WTS_ELABEL,
     0,
     {"--answer-label zzz", "'a' (0), 'b' (1)"}},
    {"a_negative_index_flag_is_an_unknown_name",
     {"a", "b"},
     "-1",
     IFS_WTS_ELABEL,
     0,
     {"--answer-label -1", "not an index"}},
    {"an_empty_flag_means_no_flag", {"continuation-like", "answer-like"}, "", 0, 1, {0}},
};

static void run(const label_case *k)
{
    ifs_bert_config c;
    memset(&c, 0, sizeof c);
    while (c.num_labels < 4 && k->labels[c.num_labels]) {
        snprintf(c.labels[c.num_labels], IFS_LABEL_LEN, "%s", k->labels[c.num_labels]);
        c.num_labels++;
    }
    int32_t got = -1;
    char err[1024] = "";
    int rc = ifs_wts_answer_label(&c, k->flag, &got, err, sizeof err);
    if (k->status == 0) {
        IFS_CHECK(rc == 0 && got == k->want, "%s: status %d index %d, want %d (%s)", k->name, rc,
                  (int)got, (int)k->want, err);
        return;
    }
    IFS_CHECK(rc == k->status, "%s: status %d (index %d), want %d", k->name, rc, (int)got,
              k->status);
    for (int i = 0; i < 2 && k->msg[i]; i++)
        IFS_CHECK(fx_contains(err, k->msg[i]), "%s: message lacks \"%s\": %s", k->name, k->msg[i],
                  err);
}

int main(void)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        run(&CASES[i]);
    int32_t out;
    char err[128];
    IFS_CHECK(ifs_wts_answer_label(NULL, NULL, &out, err, sizeof err) == IFS_WTS_EARG,
              "a_null_config_is_a_bad_argument");
    IFS_CHECK(strcmp(ifs_wts_strerror(IFS_WTS_ELABEL), "unknown status") != 0,
              "the_label_status_has_words");
    return ifs_test_done("labels");
}
