/*
 * test_jsplit.c - the streaming JSON array / JSONL splitter on a table of
 * inputs, each fed whole, byte by byte, and in random chunks (zero-sized
 * chunks included), which must all give the same elements and status.
 */
#include <stdlib.h>
#include <string.h>

#include "ifs_ds.h"
#include "ifs_test.h"

typedef struct {
    const char *name;
    const char *input;
    size_t max_elem;
    const char *want; /* elements joined by '|'; "#<len>" stands for a skipped too-big one */
    int final;        /* 0, IFS_DS_ESYNTAX or IFS_DS_ETRUNC */
    int is_array;
} split_case;

static const split_case cases[] = {
    {"array_of_objects_yields_each_object", "[{\"a\":1},{\"b\":[1,2]}]", 0,
     "{\"a\":1}|{\"b\":[1,2]}", 0, 1},
    {"empty_array_yields_nothing", " [ ] ", 0, "", 0, 1},
    {"scalars_and_spaces_are_elements", "  [ 1 , \"x,]\" , true , null ]\n", 0,
     "1|\"x,]\"|true|null", 0, 1},
    {"escaped_quote_inside_string_does_not_end_it", "[{\"s\":\"a\\\"}b\"}]", 0,
     "{\"s\":\"a\\\"}b\"}", 0, 1},
    {"brackets_inside_strings_are_not_structure", "[[\"]\"],{\"k\":\"{\"}]", 0,
     "[\"]\"]|{\"k\":\"{\"}", 0, 1},
    {"pretty_printed_array_spans_lines", "[\n  {\n    \"a\": \"x\\ny\"\n  },\n  {}\n]\n", 0,
     "{\n    \"a\": \"x\\ny\"\n  }|{}", 0, 1},
    {"trailing_comma_is_a_syntax_error", "[1,]", 0, "1", IFS_DS_ESYNTAX, 1},
    {"leading_comma_is_a_syntax_error", "[,1]", 0, "", IFS_DS_ESYNTAX, 1},
    {"missing_comma_is_a_syntax_error", "[1 2]", 0, "1", IFS_DS_ESYNTAX, 1},
    {"data_after_the_array_is_a_syntax_error", "[1]x", 0, "1", IFS_DS_ESYNTAX, 1},
    {"unclosed_array_is_truncated", "[{\"a\":1}", 0, "{\"a\":1}", IFS_DS_ETRUNC, 1},
    {"array_cut_inside_an_element_is_truncated", "[{\"a\":1},{\"b\":", 0, "{\"a\":1}",
     IFS_DS_ETRUNC, 1},
    {"empty_input_yields_nothing", "", 0, "", 0, -1},
    {"jsonl_lines_are_elements_and_blank_lines_are_skipped",
     "{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\":3}", 0, "{\"a\":1}|{\"b\":2}|{\"c\":3}", 0, 0},
    {"jsonl_invalid_line_is_still_one_element", "{\"a\":\n{\"b\":2}\n", 0, "{\"a\":|{\"b\":2}", 0,
     0},
    {"byte_order_mark_is_skipped", "\xEF\xBB\xBF[1]", 0, "1", 0, 1},
    {"too_big_array_element_is_skipped_and_the_next_kept", "[{\"a\":\"xxxxxxxx\"},{\"b\":1}]", 8,
     "#16|{\"b\":1}", 0, 1},
    {"too_big_jsonl_line_is_skipped_and_the_next_kept", "0123456789abcdef\n{\"b\":1}\n", 8,
     "#16|{\"b\":1}", 0, 0},
    {"element_of_exactly_max_bytes_is_kept", "[12345678]", 8, "12345678", 0, 1},
};

/* Runs one case with a chunking rule; writes the joined elements to out. */
static int run(const split_case *c, int mode, unsigned seed, char *out, size_t cap, int *is_array)
{
    ifs_ds_jsplit *js = ifs_ds_jsplit_create(c->max_elem);
    size_t n = strlen(c->input), pos = 0, olen = 0;
    out[0] = 0;
    int final = 0;
    ifs_ds_elem e;
    srand(seed);
    while (pos < n || mode == 2) {
        size_t chunk = mode == 0 ? n - pos : mode == 1 ? 1 : (size_t)(rand() % 4);
        if (chunk > n - pos)
            chunk = n - pos;
        const char *p = c->input + pos;
        size_t left = chunk;
        for (;;) {
            size_t used;
            int rc = ifs_ds_jsplit_feed(js, p, left, &used, &e);
            p += used;
            left -= used;
            if (rc == IFS_DS_ELEM || rc == IFS_DS_ETOOBIG) {
                olen += (size_t)snprintf(out + olen, cap - olen, "%s", olen ? "|" : "");
                if (rc == IFS_DS_ELEM)
                    olen += (size_t)snprintf(out + olen, cap - olen, "%.*s", (int)e.len, e.data);
                else
                    olen += (size_t)snprintf(out + olen, cap - olen, "#%zu", e.len);
                continue;
            }
            if (rc < 0) {
                final = rc;
                goto done;
            }
            break;
        }
        pos += chunk;
        if (mode == 2 && pos >= n)
            break;
    }
    for (;;) {
        int rc = ifs_ds_jsplit_finish(js, &e);
        if (rc == IFS_DS_ELEM) {
            olen += (size_t)snprintf(out + olen, cap - olen, "%s%.*s", olen ? "|" : "", (int)e.len,
                                     e.data);
            continue;
        }
        if (rc == IFS_DS_ETOOBIG) {
            olen += (size_t)snprintf(out + olen, cap - olen, "%s#%zu", olen ? "|" : "", e.len);
            continue;
        }
        final = rc;
        break;
    }
done:
    *is_array = ifs_ds_jsplit_is_array(js);
    IFS_CHECK(final == 0 || ifs_ds_jsplit_error(js)[0], "%s: an error has words", c->name);
    ifs_ds_jsplit_free(js);
    return final;
}

static void test_cases(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const split_case *c = &cases[i];
        for (int mode = 0; mode < 3; mode++) {
            for (unsigned seed = 1; seed <= (mode == 2 ? 20u : 1u); seed++) {
                char out[512];
                int arr;
                int final = run(c, mode, seed, out, sizeof out, &arr);
                IFS_CHECK(!strcmp(out, c->want), "%s (mode %d seed %u): got '%s' want '%s'",
                          c->name, mode, seed, out, c->want);
                IFS_CHECK(final == c->final, "%s (mode %d seed %u): status %d want %d", c->name,
                          mode, seed, final, c->final);
                IFS_CHECK(arr == c->is_array, "%s: mode detected %d", c->name, arr);
            }
        }
    }
}

/* Elements carry their index, byte offset and line. */
static void test_positions(void)
{
    const char *in = "[\n {\"a\":1},\n {\"b\":2}\n]";
    ifs_ds_jsplit *js = ifs_ds_jsplit_create(0);
    ifs_ds_elem e;
    size_t used, pos = 0, n = strlen(in);
    uint64_t offs[2] = {0}, lines[2] = {0}, idx = 0;
    while (pos < n) {
        int rc = ifs_ds_jsplit_feed(js, in + pos, n - pos, &used, &e);
        pos += used;
        if (rc == IFS_DS_ELEM && idx < 2) {
            IFS_CHECK(e.index == idx, "elements_are_numbered_in_order: %llu",
                      (unsigned long long)e.index);
            offs[idx] = e.offset;
            lines[idx++] = e.line;
        } else if (rc != IFS_DS_ELEM) {
            break;
        }
    }
    IFS_CHECK(offs[0] == 3 && offs[1] == 13, "element_offsets_point_at_their_first_byte: %llu %llu",
              (unsigned long long)offs[0], (unsigned long long)offs[1]);
    IFS_CHECK(lines[0] == 2 && lines[1] == 3, "element_lines_are_one_based: %llu %llu",
              (unsigned long long)lines[0], (unsigned long long)lines[1]);
    ifs_ds_jsplit_free(js);
}

/* A 64 MiB array of small objects goes through with one element's memory:
 * the buffer never grows past the element cap. */
static void test_big_array_bounded(void)
{
    ifs_ds_jsplit *js = ifs_ds_jsplit_create(1024);
    const char *el = "{\"instruction\":\"x\",\"output\":\"yyyyyyyyyyyyyyyyyyyyyyyy\"},";
    size_t el_len = strlen(el);
    char chunk[65536];
    size_t per = sizeof chunk / el_len, clen = per * el_len;
    for (size_t i = 0; i < per; i++)
        memcpy(chunk + i * el_len, el, el_len);
    uint64_t elems = 0, rounds = (64u << 20) / clen;
    ifs_ds_elem e;
    size_t used;
    int bad = 0;
    bad |= ifs_ds_jsplit_feed(js, "[", 1, &used, &e) != 0;
    for (uint64_t r = 0; r < rounds && !bad; r++) {
        const char *p = chunk;
        size_t left = clen;
        for (;;) {
            int rc = ifs_ds_jsplit_feed(js, p, left, &used, &e);
            p += used;
            left -= used;
            if (rc == IFS_DS_ELEM) {
                elems++;
                continue;
            }
            bad |= rc != 0;
            break;
        }
    }
    bad |= ifs_ds_jsplit_feed(js, "{}]", 3, &used, &e) != IFS_DS_ELEM;
    IFS_CHECK(!bad, "big_array_streams_without_error: %s", ifs_ds_jsplit_error(js));
    IFS_CHECK(elems == rounds * per, "big_array_yields_every_element: %llu",
              (unsigned long long)elems);
    ifs_ds_jsplit_free(js);
}

int main(void)
{
    test_cases();
    test_positions();
    test_big_array_bounded();
    return ifs_test_done("jsplit");
}
