/*
 * fuzz_record.c - the record parser (raw-line checks + cJSON + field rules)
 * and the JSON string escaper.
 *
 * Input layout: byte 0 picks the schema (group keys, pair field, depth
 * limit), the rest is one line. Checks: parsing twice into the same struct
 * gives the same answer; an accepted record's text, id, pair and group
 * values are valid UTF-8 without NUL and their lengths match; a reject
 * always has a reason name and words; escaping any bytes gives valid UTF-8
 * that cJSON reads back as one string, equal to the input when the input was
 * valid UTF-8 without NUL.
 */
#include "ifs_record.h"
#include "ifs_utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void check_str(const char *s, size_t len)
{
    CHECK(s);
    CHECK(strlen(s) == len);
    CHECK(ifs_utf8_check(s, len) == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    const char *line = (const char *)data + 1;
    size_t len = size - 1;

    ifs_record_schema s;
    ifs_record_schema_init(&s);
    if (mode & 1)
        CHECK(!ifs_record_schema_set_group_by(&s, "model,step", NULL, 0));
    if (mode & 2)
        CHECK(!ifs_record_schema_set_field(&s, IFS_FIELD_PAIR, "instruction", NULL, 0));
    if (mode & 4)
        CHECK(!ifs_record_schema_set_field(&s, IFS_FIELD_TEXT, "output", NULL, 0));
    s.max_depth = (mode & 8) ? 4 : 0;

    static ifs_record r; /* reused across inputs, as a worker thread would */
    static int inited;
    if (!inited) {
        ifs_record_init(&r);
        inited = 1;
    }
    /* exact-size copy so ASan sees any read past len */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, line, len);
    ifs_reject_reason a = ifs_record_parse(&r, &s, copy, len);
    CHECK(strcmp(ifs_reject_name(a), "unknown"));
    CHECK(r.reason == a);
    /* whatever our RFC 8259 check lets through, cJSON must accept */
    CHECK(strncmp(r.detail, "cJSON refused", 13) != 0);
    if (a == IFS_REJECT_NONE) {
        check_str(r.text, r.text_len);
        if (r.has_id)
            check_str(r.id, r.id_len);
        if (s.pair_field[0])
            check_str(r.pair, r.pair_len);
        CHECK(r.n_group == s.n_group_fields);
        for (size_t k = 0; k < r.n_group; k++)
            check_str(r.group[k], r.group_len[k]);
        CHECK(r.type == IFS_ITYPE_NONE || r.type == IFS_ITYPE_PARTIAL || r.type == IFS_ITYPE_FULL);
        CHECK(r.detail[0] == 0);
        CHECK(ifs_utf8_check(copy, len) == len);
    } else {
        CHECK(r.detail[0] && !r.text);
    }
    ifs_reject_reason b = ifs_record_parse(&r, &s, copy, len);
    CHECK(a == b);

    /* escaping */
    size_t need = ifs_json_escape(NULL, 0, copy, len);
    char *esc = malloc(need + 3);
    esc[0] = '"';
    CHECK(ifs_json_escape(esc + 1, need + 1, copy, len) == need);
    esc[need + 1] = '"';
    esc[need + 2] = 0;
    CHECK(ifs_utf8_check(esc, need + 2) == need + 2);
    cJSON *j = cJSON_ParseWithLength(esc, need + 2);
    CHECK(j && cJSON_IsString(j));
    if (ifs_utf8_check(copy, len) == len && !memchr(copy, 0, len))
        CHECK(strlen(j->valuestring) == len && !memcmp(j->valuestring, copy, len));
    cJSON_Delete(j);
    free(esc);
    free(copy);
    return 0;
}
