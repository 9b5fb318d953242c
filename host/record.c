/*
 * record.c - JSONL line -> record, reject reasons, rejects file
 * (see ifs_record.h for the rules).
 *
 * Decisions:
 *   - One pass over the raw line before cJSON sees it, a strict RFC 8259
 *     check that builds nothing: UTF-8 (cJSON passes invalid bytes through),
 *     raw NUL bytes and \u0000 escapes (cJSON cuts a string there without a
 *     word), raw control characters in strings, numbers like 01 or 1. and
 *     text after the value (cJSON takes all of those), and nesting depth
 *     (cJSON recurses up to its compile-time limit of 1000, a deep stack in
 *     a worker thread). It gives the byte offset of the first problem.
 *   - So cJSON only ever sees valid JSON and never takes its failure path,
 *     which writes a process-wide error global (a data race between worker
 *     threads even though we never read it). The fuzz target checks that
 *     cJSON accepts whatever the check accepts.
 *   - Numbers: cJSON holds a double only, so a canonical text is rebuilt
 *     from it, and integers it cannot hold exactly (|x| >= 2^53) are refused
 *     instead of being silently changed.
 */
#include "ifs_record.h"
#include "ifs_shard.h"
#include "ifs_buf.h"
#include "ifs_utf8.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *const reject_names[IFS_REJECT__COUNT] = {
    [IFS_REJECT_NONE] = "none",
    [IFS_REJECT_EMPTY_LINE] = "empty_line",
    [IFS_REJECT_LINE_TOO_LONG] = "line_too_long",
    [IFS_REJECT_INVALID_UTF8] = "invalid_utf8",
    [IFS_REJECT_NUL_IN_TEXT] = "nul_in_text",
    [IFS_REJECT_TOO_DEEP] = "too_deep",
    [IFS_REJECT_INVALID_JSON] = "invalid_json",
    [IFS_REJECT_NOT_OBJECT] = "not_object",
    [IFS_REJECT_MISSING_TEXT] = "missing_text",
    [IFS_REJECT_TEXT_NOT_STRING] = "text_not_string",
    [IFS_REJECT_BAD_ID] = "bad_id",
    [IFS_REJECT_UNKNOWN_INSTRUCTION_TYPE] = "unknown_instruction_type",
    [IFS_REJECT_MISSING_GROUP_KEY] = "missing_group_key",
    [IFS_REJECT_BAD_GROUP_KEY_TYPE] = "bad_group_key_type",
    [IFS_REJECT_MISSING_INSTRUCTION] = "missing_instruction",
    [IFS_REJECT_INSTRUCTION_NOT_STRING] = "instruction_not_string",
    [IFS_REJECT_ZSTD_CORRUPT] = "zstd_corrupt",
    [IFS_REJECT_ZSTD_TRUNCATED] = "zstd_truncated",
    [IFS_REJECT_IO_ERROR] = "io_error",
    [IFS_REJECT_UNSUPPORTED_COMPRESSION] = "unsupported_compression",
    [IFS_REJECT_ZSTD_CHECKSUM] = "zstd_checksum",
    [IFS_REJECT_TOKENIZER_ERROR] = "tokenizer_error",
    [IFS_REJECT_NONFINITE_LOGITS] = "nonfinite_logits",
    [IFS_REJECT_DEVICE_OOM] = "device_oom",
    [IFS_REJECT_BACKEND_REFUSED] = "backend_refused",
};

const char *ifs_reject_name(ifs_reject_reason r)
{
    if ((int)r < 0 || r >= IFS_REJECT__COUNT || !reject_names[r])
        return "unknown";
    return reject_names[r];
}

ifs_reject_reason ifs_reject_from_name(const char *name)
{
    if (name)
        for (int i = 0; i < IFS_REJECT__COUNT; i++)
            if (reject_names[i] && !strcmp(reject_names[i], name))
                return (ifs_reject_reason)i;
    return IFS_REJECT__COUNT;
}

/* ---------------------------------------------------------------------------
 * Schema
 */

void ifs_record_schema_init(ifs_record_schema *s)
{
    memset(s, 0, sizeof *s);
    strcpy(s->text_field, "response");
    strcpy(s->id_field, "id");
    strcpy(s->type_field, "instruction_type");
    strcpy(s->group_fields[0], "model");
    s->n_group_fields = 1;
    s->max_depth = IFS_RECORD_DEFAULT_MAX_DEPTH;
}

int ifs_record_schema_set_field(ifs_record_schema *s, ifs_record_field which, const char *name,
                                char *err, size_t errlen)
{
    if (!s || !name) {
        ifs_errf(err, errlen, 0, "field name missing");
        return IFS_RECORD_EARG;
    }
    char *dst;
    switch (which) {
    case IFS_FIELD_TEXT: dst = s->text_field; break;
    case IFS_FIELD_ID: dst = s->id_field; break;
    case IFS_FIELD_TYPE: dst = s->type_field; break;
    case IFS_FIELD_PAIR: dst = s->pair_field; break;
    default: ifs_errf(err, errlen, 0, "unknown field kind %d", (int)which); return IFS_RECORD_EARG;
    }
    size_t n = strlen(name);
    if (which == IFS_FIELD_TEXT && n == 0) {
        ifs_errf(err, errlen, 0, "the text field name cannot be empty");
        return IFS_RECORD_EARG;
    }
    if (n > IFS_RECORD_MAX_FIELD_NAME) {
        ifs_errf(err, errlen, 0, "field name of %zu bytes is longer than %d", n,
                 IFS_RECORD_MAX_FIELD_NAME);
        return IFS_RECORD_EARG;
    }
    memcpy(dst, name, n + 1);
    return 0;
}

int ifs_record_schema_set_group_by(ifs_record_schema *s, const char *list, char *err, size_t errlen)
{
    if (!s || !list) {
        ifs_errf(err, errlen, 0, "--group-by: no keys given");
        return IFS_RECORD_EARG;
    }
    char names[IFS_RECORD_MAX_GROUP_KEYS][IFS_RECORD_MAX_FIELD_NAME + 1];
    size_t n = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            ifs_errf(err, errlen, 0, "--group-by \"%s\": empty key name", list);
            return IFS_RECORD_EARG;
        }
        if (len > IFS_RECORD_MAX_FIELD_NAME) {
            ifs_errf(err, errlen, 0, "--group-by: a key name is longer than %d bytes",
                     IFS_RECORD_MAX_FIELD_NAME);
            return IFS_RECORD_EARG;
        }
        if (n == IFS_RECORD_MAX_GROUP_KEYS) {
            ifs_errf(err, errlen, 0, "--group-by: more than %d keys", IFS_RECORD_MAX_GROUP_KEYS);
            return IFS_RECORD_EARG;
        }
        memcpy(names[n], p, len);
        names[n][len] = 0;
        for (size_t k = 0; k < n; k++)
            if (!strcmp(names[k], names[n])) {
                ifs_errf(err, errlen, 0, "--group-by: key \"%s\" named twice", names[n]);
                return IFS_RECORD_EARG;
            }
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    memcpy(s->group_fields, names, sizeof names);
    s->n_group_fields = n;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Parsing
 */

void ifs_record_init(ifs_record *r)
{
    memset(r, 0, sizeof *r);
}

void ifs_record_clear(ifs_record *r)
{
    if (!r)
        return;
    cJSON_Delete(r->root_);
    r->root_ = NULL;
    r->text = r->pair = r->id = NULL;
    r->text_len = r->pair_len = r->id_len = 0;
    r->has_id = r->id_is_number = 0;
    r->n_group = 0;
}

static ifs_reject_reason reject(ifs_record *r, ifs_reject_reason why, const char *fmt, ...)
{
    r->reason = why;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    r->text = r->pair = r->id = NULL;
    r->text_len = r->pair_len = r->id_len = 0;
    r->has_id = 0;
    r->n_group = 0;
    return why;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* Scan a JSON string starting at s[*pi] == '"'; on success *pi is just past
 * the closing quote. Returns NONE, NUL_IN_TEXT or INVALID_JSON (r->detail set). */
static ifs_reject_reason scan_string(ifs_record *r, const char *s, size_t len, size_t *pi)
{
    size_t i = *pi + 1;
    for (;;) {
        /* ordinary bytes first: the bulk of a response. Eight at a time while
         * no byte is '"', '\\' or below 0x20 (the zero-byte tests from "Bit
         * Twiddling Hacks"; a false alarm only drops to the byte loop). */
        const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t t = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w);
            if (t & highs)
                break;
            i += 8;
        }
        while (i < len && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20)
            i++;
        if (i >= len)
            return reject(r, IFS_REJECT_INVALID_JSON,
                          "invalid JSON: string starting at byte %zu is not closed", *pi);
        char c = s[i];
        if (c == '"') {
            *pi = i + 1;
            return IFS_REJECT_NONE;
        }
        if (c != '\\')
            return reject(r, IFS_REJECT_INVALID_JSON,
                          "invalid JSON: control character 0x%02x in a string at byte %zu",
                          (unsigned)(unsigned char)c, i);
        if (i + 1 >= len)
            break;
        char e = s[i + 1];
        if (e != 'u') {
            if (!strchr("\"\\/bfnrt", e) || e == 0)
                return reject(r, IFS_REJECT_INVALID_JSON, "invalid JSON: bad escape at byte %zu",
                              i);
            i += 2;
            continue;
        }
        if (i + 6 > len || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) || !is_hex(s[i + 4]) ||
            !is_hex(s[i + 5]))
            return reject(r, IFS_REJECT_INVALID_JSON, "invalid JSON: bad \\u escape at byte %zu",
                          i);
        unsigned u = hex4(s + i + 2);
        if (u == 0)
            return reject(r, IFS_REJECT_NUL_IN_TEXT, "\\u0000 escape at byte %zu of the line", i);
        if (u >= 0xDC00 && u <= 0xDFFF)
            return reject(r, IFS_REJECT_INVALID_JSON,
                          "invalid JSON: lone low surrogate escape at byte %zu", i);
        if (u >= 0xD800 && u <= 0xDBFF) {
            /* a high surrogate must be followed by a low one */
            if (i + 12 > len || s[i + 6] != '\\' || s[i + 7] != 'u' || !is_hex(s[i + 8]) ||
                !is_hex(s[i + 9]) || !is_hex(s[i + 10]) || !is_hex(s[i + 11]))
                return reject(r, IFS_REJECT_INVALID_JSON,
                              "invalid JSON: lone high surrogate escape at byte %zu", i);
            unsigned lo = hex4(s + i + 8);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return reject(r, IFS_REJECT_INVALID_JSON,
                              "invalid JSON: lone high surrogate escape at byte %zu", i);
            i += 12;
            continue;
        }
        i += 6;
    }
    return reject(r, IFS_REJECT_INVALID_JSON,
                  "invalid JSON: string starting at byte %zu is not closed", *pi);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 8259 number at s[*pi]; returns 0 and moves *pi past it, or -1. */
static int scan_number(const char *s, size_t len, size_t *pi)
{
    size_t i = *pi;
    if (i < len && s[i] == '-')
        i++;
    if (i < len && s[i] == '0') {
        i++;
    } else if (i < len && s[i] >= '1' && s[i] <= '9') {
        while (i < len && is_digit(s[i]))
            i++;
    } else {
        return -1;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || !is_digit(s[i]))
            return -1;
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || !is_digit(s[i]))
            return -1;
        while (i < len && is_digit(s[i]))
            i++;
    }
    *pi = i;
    return 0;
}

#define MAX_DEPTH_CAP 512

/* The raw-line pass (see the file comment): a strict RFC 8259 check without
 * building anything, so cJSON only ever sees valid JSON (and so never takes
 * its failure path, which writes a process-wide global). Returns NONE or the
 * reason, with the byte offset in r->detail. */
static ifs_reject_reason prescan(ifs_record *r, const char *s, size_t len, int max_depth)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i == len)
        return reject(r, IFS_REJECT_EMPTY_LINE, "empty line");
    size_t bad = ifs_utf8_check(s, len);
    if (bad != len)
        return reject(r, IFS_REJECT_INVALID_UTF8, "invalid UTF-8 at byte %zu of the line", bad);
    const char *nul = memchr(s, 0, len);
    if (nul)
        return reject(r, IFS_REJECT_NUL_IN_TEXT, "NUL byte at byte %zu of the line",
                      (size_t)(nul - s));

    enum { VALUE, VALUE_OR_END, KEY_OR_END, KEY, COLON, AFTER } st = VALUE;
    char stack[MAX_DEPTH_CAP];
    int depth = 0;
    if (max_depth > MAX_DEPTH_CAP)
        max_depth = MAX_DEPTH_CAP;
    for (;;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i >= len)
            break;
        char c = s[i];
        ifs_reject_reason why;
        switch (st) {
        case VALUE_OR_END:
            if (c == ']') {
                depth--;
                i++;
                st = AFTER;
                break;
            }
            /* fall through */
        case VALUE:
            if (c == '{' || c == '[') {
                if (depth >= max_depth)
                    return reject(r, IFS_REJECT_TOO_DEEP, "nesting deeper than %d at byte %zu",
                                  max_depth, i);
                stack[depth++] = c;
                i++;
                st = c == '{' ? KEY_OR_END : VALUE_OR_END;
            } else if (c == '"') {
                if ((why = scan_string(r, s, len, &i)))
                    return why;
                st = AFTER;
            } else if (c == '-' || is_digit(c)) {
                if (scan_number(s, len, &i))
                    return reject(r, IFS_REJECT_INVALID_JSON,
                                  "invalid JSON: bad number at byte %zu", i);
                st = AFTER;
            } else if (len - i >= 4 && !memcmp(s + i, "true", 4)) {
                i += 4;
                st = AFTER;
            } else if (len - i >= 5 && !memcmp(s + i, "false", 5)) {
                i += 5;
                st = AFTER;
            } else if (len - i >= 4 && !memcmp(s + i, "null", 4)) {
                i += 4;
                st = AFTER;
            } else {
                return reject(r, IFS_REJECT_INVALID_JSON,
                              "invalid JSON: unexpected character at byte %zu", i);
            }
            break;
        case KEY_OR_END:
            if (c == '}') {
                depth--;
                i++;
                st = AFTER;
                break;
            }
            /* fall through */
        case KEY:
            if (c != '"')
                return reject(r, IFS_REJECT_INVALID_JSON,
                              "invalid JSON: expected a key at byte %zu", i);
            if ((why = scan_string(r, s, len, &i)))
                return why;
            st = COLON;
            break;
        case COLON:
            if (c != ':')
                return reject(r, IFS_REJECT_INVALID_JSON, "invalid JSON: expected ':' at byte %zu",
                              i);
            i++;
            st = VALUE;
            break;
        case AFTER:
            if (depth == 0)
                return reject(r, IFS_REJECT_INVALID_JSON,
                              "invalid JSON: extra characters after the value at byte %zu", i);
            if (c == ',') {
                st = stack[depth - 1] == '{' ? KEY : VALUE;
            } else if ((c == '}' && stack[depth - 1] == '{') ||
                       (c == ']' && stack[depth - 1] == '[')) {
                depth--;
            } else {
                return reject(r, IFS_REJECT_INVALID_JSON,
                              "invalid JSON: expected ',' or a closing bracket at byte %zu", i);
            }
            i++;
            break;
        }
    }
    if (st != AFTER || depth != 0)
        return reject(r, IFS_REJECT_INVALID_JSON,
                      "invalid JSON: the line ends at byte %zu "
                      "inside a value",
                      len);
    return IFS_REJECT_NONE;
}

/* Canonical text of a JSON number into buf (40 bytes). Returns 0, or -1 when
 * the double cannot stand for the number exactly enough to be a key. */
static int number_text(double v, char *buf, size_t cap)
{
    if (!isfinite(v))
        return -1;
    if (v == floor(v)) {
        if (fabs(v) >= 9007199254740992.0) /* 2^53: neighbours are no longer distinct */
            return -1;
        snprintf(buf, cap, "%lld", (long long)v);
        return 0;
    }
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, cap, "%.17g", v);
    return 0;
}

/* The raw text of the value of top-level member `key` of a JSON object
 * known to be valid (the prescan passed): [*b, *e). Keys are compared as
 * written, so a key spelled with escapes is not found (returns 0). */
static int raw_member(const char *line, size_t len, const char *key, size_t *b, size_t *e)
{
    size_t klen = strlen(key), i = 0;
    int depth = 0;
    while (i < len) {
        char c = line[i];
        if (c == '"') {
            size_t st = ++i;
            while (i < len && line[i] != '"')
                i += line[i] == '\\' ? 2 : 1;
            size_t en = i++;
            if (depth != 1)
                continue;
            size_t j = i;
            while (j < len &&
                   (line[j] == ' ' || line[j] == '\t' || line[j] == '\n' || line[j] == '\r'))
                j++;
            if (j >= len || line[j] != ':')
                continue; /* a string value, not a key */
            if (en - st != klen || memcmp(line + st, key, klen))
                continue;
            j++;
            while (j < len &&
                   (line[j] == ' ' || line[j] == '\t' || line[j] == '\n' || line[j] == '\r'))
                j++;
            *b = j;
            while (j < len && strchr("+-.0123456789eE", line[j]))
                j++;
            *e = j;
            return *e > *b;
        }
        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        i++;
    }
    return 0;
}

/* 1 when a number literal has a nonzero digit in its mantissa. */
static int literal_nonzero(const char *p, const char *end)
{
    for (; p < end && *p != 'e' && *p != 'E'; p++)
        if (*p >= '1' && *p <= '9')
            return 1;
    return 0;
}

ifs_reject_reason ifs_record_parse(ifs_record *r, const ifs_record_schema *s, const char *line,
                                   size_t len)
{
    ifs_record_clear(r);
    r->reason = IFS_REJECT_NONE;
    r->detail[0] = 0;
    r->type = IFS_ITYPE_NONE;
    if (!line && len)
        return reject(r, IFS_REJECT_INVALID_JSON, "no data");
    if (!line)
        line = "";
    int max_depth = s->max_depth > 0 ? s->max_depth : IFS_RECORD_DEFAULT_MAX_DEPTH;
    ifs_reject_reason why = prescan(r, line, len, max_depth);
    if (why)
        return why;

    /* The line is valid JSON now, so a NULL here is cJSON running out of
     * memory (or disagreeing with RFC 8259, which the fuzz target checks). */
    cJSON *root = cJSON_ParseWithLength(line, len);
    if (!root)
        return reject(r, IFS_REJECT_INVALID_JSON,
                      "cJSON refused a line that is valid JSON "
                      "(out of memory?)");
    r->root_ = root;
    if (!cJSON_IsObject(root))
        return reject(r, IFS_REJECT_NOT_OBJECT, "the line is JSON but not an object");

    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, s->text_field);
    if (!t || cJSON_IsNull(t))
        return reject(r, IFS_REJECT_MISSING_TEXT, "no \"%s\" field", s->text_field);
    if (!cJSON_IsString(t) || !t->valuestring)
        return reject(r, IFS_REJECT_TEXT_NOT_STRING, "\"%s\" is not a string", s->text_field);

    const char *pair = NULL;
    if (s->pair_field[0]) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, s->pair_field);
        if (!p || cJSON_IsNull(p))
            return reject(r, IFS_REJECT_MISSING_INSTRUCTION,
                          "no \"%s\" field (the instruction a pair classifier reads)",
                          s->pair_field);
        if (!cJSON_IsString(p) || !p->valuestring)
            return reject(r, IFS_REJECT_INSTRUCTION_NOT_STRING,
                          "\"%s\" (the instruction) is not a string", s->pair_field);
        pair = p->valuestring;
    }

    const char *id = NULL;
    int id_num = 0;
    if (s->id_field[0]) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, s->id_field);
        if (v && !cJSON_IsNull(v)) {
            if (cJSON_IsString(v) && v->valuestring) {
                id = v->valuestring;
            } else if (cJSON_IsNumber(v)) {
                char *buf = r->numbuf_[IFS_RECORD_MAX_GROUP_KEYS];
                if (number_text(v->valuedouble, buf, sizeof r->numbuf_[0]))
                    return reject(r, IFS_REJECT_BAD_ID,
                                  "\"%s\" is a number too large to keep exactly; quote it",
                                  s->id_field);
                id = buf;
                id_num = 1;
            } else {
                return reject(r, IFS_REJECT_BAD_ID, "\"%s\" is neither a string nor a number",
                              s->id_field);
            }
        }
    }

    ifs_itype type = IFS_ITYPE_NONE;
    if (s->type_field[0]) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, s->type_field);
        if (v && !cJSON_IsNull(v)) {
            if (cJSON_IsString(v) && v->valuestring && !strcmp(v->valuestring, "partial"))
                type = IFS_ITYPE_PARTIAL;
            else if (cJSON_IsString(v) && v->valuestring && !strcmp(v->valuestring, "full"))
                type = IFS_ITYPE_FULL;
            else if (cJSON_IsString(v) && v->valuestring)
                return reject(r, IFS_REJECT_UNKNOWN_INSTRUCTION_TYPE,
                              "\"%s\" is \"%.60s\", not \"partial\", \"full\" or null",
                              s->type_field, v->valuestring);
            else
                return reject(r, IFS_REJECT_UNKNOWN_INSTRUCTION_TYPE, "\"%s\" is not a string",
                              s->type_field);
        }
    }

    size_t ng = s->n_group_fields;
    if (ng > IFS_RECORD_MAX_GROUP_KEYS)
        ng = IFS_RECORD_MAX_GROUP_KEYS;
    for (size_t k = 0; k < ng; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, s->group_fields[k]);
        if (!v || cJSON_IsNull(v))
            return reject(r, IFS_REJECT_MISSING_GROUP_KEY, "no \"%s\" field (a group key)",
                          s->group_fields[k]);
        if (cJSON_IsString(v) && v->valuestring) {
            r->group[k] = v->valuestring;
        } else if (cJSON_IsNumber(v)) {
            if (number_text(v->valuedouble, r->numbuf_[k], sizeof r->numbuf_[k]))
                return reject(r, IFS_REJECT_BAD_GROUP_KEY_TYPE,
                              "group key \"%s\" is a number too large to keep exactly",
                              s->group_fields[k]);
            /* A number too small for a double (1e-400 reads as 0, 1e-310 as a
             * subnormal with lost digits) would merge into another group. */
            size_t nb, ne;
            if (fpclassify(v->valuedouble) == FP_SUBNORMAL ||
                (v->valuedouble == 0 && raw_member(line, len, s->group_fields[k], &nb, &ne) &&
                 literal_nonzero(line + nb, line + ne)))
                return reject(r, IFS_REJECT_BAD_GROUP_KEY_TYPE,
                              "group key \"%s\" is a number too small to keep exactly; quote it",
                              s->group_fields[k]);
            r->group[k] = r->numbuf_[k];
        } else {
            return reject(r, IFS_REJECT_BAD_GROUP_KEY_TYPE,
                          "group key \"%s\" is neither a string nor a number", s->group_fields[k]);
        }
        r->group_len[k] = strlen(r->group[k]);
    }

    r->n_group = ng;
    r->text = t->valuestring;
    r->text_len = strlen(t->valuestring);
    if (pair) {
        r->pair = pair;
        r->pair_len = strlen(pair);
    }
    if (id) {
        r->id = id;
        r->id_len = strlen(id);
        r->has_id = 1;
        r->id_is_number = id_num;
    }
    r->type = type;
    return IFS_REJECT_NONE;
}

/* ---------------------------------------------------------------------------
 * JSON string escaping
 */

/* ---------------------------------------------------------------------------
 * Rejects file
 */

struct ifs_rejects {
    pthread_mutex_t mu;
    ifs_shard_writer *w; /* NULL: count only */
    uint64_t total;
    uint64_t by_reason[IFS_REJECT__COUNT];
    int failed;
    char *buf;
    size_t cap;
};

int ifs_rejects_open(const char *path, ifs_rejects **out, char *err, size_t errlen)
{
    if (!out)
        return IFS_RECORD_EARG;
    *out = NULL;
    ifs_rejects *rj = calloc(1, sizeof *rj);
    if (!rj) {
        ifs_errf(err, errlen, 0, "rejects file: out of memory");
        return IFS_RECORD_ENOMEM;
    }
    pthread_mutex_init(&rj->mu, NULL);
    if (path && ifs_shard_writer_open(path, NULL, &rj->w, err, errlen)) {
        ifs_rejects_free(rj);
        return IFS_RECORD_EIO;
    }
    *out = rj;
    return 0;
}

/* Escaped text appended at buf+n; returns the new length or (size_t)-1. */
static size_t append_escaped(ifs_rejects *rj, size_t n, const char *s)
{
    size_t len = strlen(s);
    size_t need = ifs_json_escape(NULL, 0, s, len);
    if (n + need + 256 > rj->cap) {
        size_t cap = rj->cap ? rj->cap : 1024;
        while (cap < n + need + 256)
            cap *= 2;
        char *b = realloc(rj->buf, cap);
        if (!b)
            return (size_t)-1;
        rj->buf = b;
        rj->cap = cap;
    }
    ifs_json_escape(rj->buf + n, rj->cap - n, s, len);
    return n + need;
}

int ifs_rejects_add(ifs_rejects *rj, const char *shard, uint64_t line, uint64_t offset,
                    ifs_reject_reason reason, const char *detail)
{
    if (!rj)
        return IFS_RECORD_EARG;
    pthread_mutex_lock(&rj->mu);
    __atomic_add_fetch(&rj->total, 1, __ATOMIC_RELAXED);
    if ((int)reason >= 0 && reason < IFS_REJECT__COUNT)
        __atomic_add_fetch(&rj->by_reason[reason], 1, __ATOMIC_RELAXED);
    int rc = 0;
    if (rj->w && !rj->failed) {
        size_t n = append_escaped(rj, 0, "");
        if (n != (size_t)-1) {
            memcpy(rj->buf, "{\"shard\":\"", 10);
            n = append_escaped(rj, 10, shard ? shard : "");
        }
        if (n != (size_t)-1) {
            n += (size_t)snprintf(
                rj->buf + n, rj->cap - n,
                "\",\"line\":%llu,\"offset\":%llu,\"reason\":\"%s\",\"detail\":\"",
                (unsigned long long)line, (unsigned long long)offset, ifs_reject_name(reason));
            n = append_escaped(rj, n, detail ? detail : "");
        }
        if (n == (size_t)-1) {
            rj->failed = 1;
        } else {
            memcpy(rj->buf + n, "\"}", 2);
            n += 2;
            if (ifs_shard_writer_line(rj->w, rj->buf, n))
                rj->failed = 1;
        }
        rc = rj->failed ? IFS_RECORD_EIO : 0;
    }
    pthread_mutex_unlock(&rj->mu);
    return rc;
}

uint64_t ifs_rejects_total(const ifs_rejects *rj)
{
    return rj ? __atomic_load_n(&rj->total, __ATOMIC_RELAXED) : 0;
}

uint64_t ifs_rejects_count(const ifs_rejects *rj, ifs_reject_reason reason)
{
    if (!rj || (int)reason < 0 || reason >= IFS_REJECT__COUNT)
        return 0;
    return __atomic_load_n(&rj->by_reason[reason], __ATOMIC_RELAXED);
}

int ifs_rejects_close(ifs_rejects *rj, char *err, size_t errlen)
{
    if (!rj)
        return IFS_RECORD_EARG;
    pthread_mutex_lock(&rj->mu);
    int rc = 0;
    if (rj->w) {
        if (rj->failed) {
            /* The writer kept the failed write's words (errno); say them. */
            char why[256] = "";
            ifs_shard_writer_close(rj->w, NULL, why, sizeof why);
            ifs_errf(err, errlen, 0, "rejects file: a write failed (%s); nothing written",
                     why[0] ? why : "no reason given");
            ifs_shard_writer_free(rj->w);
            rc = IFS_RECORD_EIO;
        } else {
            rc = ifs_shard_writer_close(rj->w, NULL, err, errlen) ? IFS_RECORD_EIO : 0;
            ifs_shard_writer_free(rj->w);
        }
        rj->w = NULL;
    }
    pthread_mutex_unlock(&rj->mu);
    return rc;
}

void ifs_rejects_free(ifs_rejects *rj)
{
    if (!rj)
        return;
    ifs_shard_writer_free(rj->w);
    pthread_mutex_destroy(&rj->mu);
    free(rj->buf);
    free(rj);
}
