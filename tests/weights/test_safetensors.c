/*
 * test_safetensors.c - the safetensors reader against hostile files: each
 * case builds the bytes, parses them, and checks that the refusal names the
 * file, the tensor and the byte offset it should (or that a valid file
 * parses to the right tensors). Also the mmap path on real files.
 */
#include <stdint.h>

#include "wts_fixture.h"

#define NOLEN UINT64_MAX

typedef struct {
    const char *name;
    const char *header;
    uint64_t hlen;        /* NOLEN: strlen(header) */
    size_t data_len;
    int ok;
    const char *want[3];  /* substrings the error must contain */
    long data_off;        /* >= 0: the error says "at byte <data start + data_off>" */
} st_case;

static const st_case CASES[] = {
    {"valid_file_with_metadata_int64_and_empty_tensor_parses",
     "{\"__metadata__\":{\"format\":\"pt\"},\"pos\":{\"dtype\":\"I64\",\"shape\":[1,2],"
     "\"data_offsets\":[0,16]},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
     "\"e\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[24,24]}}    ",
     NOLEN, 24, 1, {0}, -1},
    {"file_shorter_than_the_length_prefix_is_refused", "", 5, 0, 0, {"too short"}, -1},
    {"header_length_over_the_cap_is_refused", "{}", 100000001, 0, 0,
     {"header length 100000001", "exceeds the 100000000-byte cap", "byte 0"}, -1},
    {"header_length_past_end_of_file_is_refused", "{}", 1000, 4, 0,
     {"header length 1000", "runs past the end"}, -1},
    {"header_not_starting_with_brace_is_refused", "[\"x\"]", NOLEN, 0, 0,
     {"does not start with '{'", "byte 8"}, -1},
    {"header_that_is_not_json_is_refused", "{\"w\": nope}", NOLEN, 0, 0, {"not a JSON object"}, -1},
    {"header_with_invalid_utf8_is_refused_with_its_offset", "{\"w\xff\":1}", NOLEN, 0, 0,
     {"not valid UTF-8 at byte 11"}, -1},
    {"header_with_a_nul_escape_is_refused", "{\"w\\u0000x\":{}}", NOLEN, 0, 0, {"\\u0000", "byte 11"},
     -1},
    {"header_with_bytes_after_the_object_is_refused", "{} junk", NOLEN, 0, 0,
     {"bytes after its JSON object", "byte 11"}, -1},
    {"tensor_entry_that_is_not_an_object_is_refused", "{\"w\":[1,2]}", NOLEN, 0, 0,
     {"'w'", "not a JSON object", "header byte 9"}, -1},
    {"missing_dtype_is_refused", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", NOLEN, 4, 0,
     {"'w'", "dtype"}, -1},
    {"unknown_dtype_is_refused_by_name",
     "{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", NOLEN, 16, 0,
     {"'w'", "unknown dtype 'F128'"}, -1},
    {"offsets_out_of_bounds_are_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", NOLEN, 4, 0,
     {"'w'", "run past the end of the 4-byte data section"}, 0},
    {"offsets_that_end_before_they_begin_are_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", NOLEN, 4, 0,
     {"'w'", "end before they begin"}, -1},
    {"negative_offset_is_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", NOLEN, 4, 0,
     {"'w'", "data_offsets must be two non-negative integers"}, -1},
    {"fractional_shape_is_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,6]}}", NOLEN, 6, 0,
     {"'w'", "shape[0]"}, -1},
    {"offset_beyond_two_to_the_53_is_refused",
     "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1e300]}}", NOLEN, 1, 0,
     {"'w'", "below 2^53"}, -1},
    {"shape_times_size_mismatch_is_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", NOLEN, 8, 0,
     {"'w'", "shape [3] x 4 bytes (F32) = 12 bytes, but data_offsets span 8"}, 0},
    {"shape_product_overflowing_64_bits_is_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}",
     NOLEN, 0, 0, {"'w'", "overflows 64 bits"}, 0},
    {"shape_times_dtype_size_overflowing_is_refused",
     "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,2147483648],\"data_offsets\":[0,0]}}", NOLEN,
     0, 0, {"'w'", "overflows 64 bits"}, 0},
    {"too_many_dimensions_are_refused",
     "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", NOLEN, 1, 0,
     {"'w'", "9 dimensions"}, -1},
    {"overlapping_tensors_are_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     NOLEN, 12, 0, {"'b'", "overlaps tensor 'a'"}, 4},
    {"a_gap_between_tensors_is_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
     NOLEN, 20, 0, {"'b'", "4-byte gap after tensor 'a'"}, 12},
    {"a_gap_before_the_first_tensor_is_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", NOLEN, 8, 0,
     {"'a'", "gap after the header"}, 4},
    {"trailing_bytes_after_the_last_tensor_are_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", NOLEN, 12, 0,
     {"4 trailing bytes", "'a'"}, 8},
    {"trailing_bytes_with_no_tensor_are_refused", "{}", NOLEN, 3, 0, {"3 trailing bytes"}, 0},
    {"duplicate_tensor_names_are_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     NOLEN, 8, 0, {"'a' appears twice"}, -1},
    {"metadata_that_is_not_an_object_is_refused", "{\"__metadata__\":\"x\"}", NOLEN, 0, 0,
     {"__metadata__", "header byte 9"}, -1},
    {"empty_file_with_only_metadata_parses", "{\"__metadata__\":{}}", NOLEN, 0, 1, {0}, -1},
};

static void run_case(const st_case *c)
{
    size_t len;
    unsigned char *b = fx_st_bytes(c->header, c->hlen, NULL, c->data_len, &len);
    if (!strcmp(c->name, "file_shorter_than_the_length_prefix_is_refused"))
        len = 5;
    char err[1024] = "";
    ifs_wts_st *st = ifs_wts_st_parse(b, len, "case.safetensors", err, sizeof err);
    if (c->ok) {
        IFS_CHECK(st != NULL, "%s: refused: %s", c->name, err);
    } else {
        IFS_CHECK(st == NULL, "%s: accepted a bad file", c->name);
        IFS_CHECK(fx_contains(err, "case.safetensors"), "%s: message does not name the file: %s",
                  c->name, err);
        for (int i = 0; i < 3 && c->want[i]; i++)
            IFS_CHECK(fx_contains(err, c->want[i]), "%s: message lacks \"%s\": %s", c->name,
                      c->want[i], err);
        if (c->data_off >= 0) {
            char at[64];
            snprintf(at, sizeof at, "at byte %llu",
                     (unsigned long long)(8 + strlen(c->header) + (size_t)c->data_off));
            IFS_CHECK(fx_contains(err, at), "%s: message lacks \"%s\": %s", c->name, at, err);
        }
    }
    ifs_wts_st_free(st);
    free(b);
}

static void valid_file_exposes_its_tensors(void)
{
    const char *h = CASES[0].header;
    size_t len;
    unsigned char *b = fx_st_bytes(h, NOLEN, NULL, 24, &len);
    char err[512];
    ifs_wts_st *st = ifs_wts_st_parse(b, len, "ok.safetensors", err, sizeof err);
    IFS_CHECK(st && ifs_wts_st_count(st) == 3, "three tensors, __metadata__ not counted");
    if (st) {
        const ifs_wts_tensor_info *t0 = ifs_wts_st_tensor(st, 0);
        IFS_CHECK(!strcmp(t0->name, "pos") && !strcmp(t0->dtype, "I64") && t0->ndim == 2 &&
                      t0->shape[1] == 2,
                  "tensors come in offset order with dtype and shape");
        const ifs_wts_tensor_info *w = ifs_wts_st_find(st, "w");
        size_t ds = 8 + strlen(h);
        IFS_CHECK(w && w->begin == 16 && w->end == 24 && w->file_offset == ds + 16 &&
                      w->data == b + ds + 16,
                  "find gives offsets and a pointer into the bytes");
        IFS_CHECK(ifs_wts_st_find(st, "nope") == NULL, "an absent name is NULL");
        IFS_CHECK(ifs_wts_st_tensor(st, 3) == NULL, "an index past the end is NULL");
        const ifs_wts_tensor_info *e = ifs_wts_st_find(st, "e");
        IFS_CHECK(e && e->shape[0] == 0 && e->begin == e->end, "an empty tensor is accepted");
    }
    ifs_wts_st_free(st);
    free(b);
}

static void open_maps_real_files(void)
{
    const char *dir = fx_dir("st_open");
    char path[4200], err[512];
    size_t len;
    unsigned char *b = fx_st_bytes(CASES[0].header, NOLEN, NULL, 24, &len);
    snprintf(path, sizeof path, "%s/ok.safetensors", dir);
    fx_write(path, b, len);
    ifs_wts_st *st = ifs_wts_st_open(path, err, sizeof err);
    IFS_CHECK(st && ifs_wts_st_count(st) == 3, "open_parses_a_valid_file: %s", st ? "" : err);
    if (st) {
        const ifs_wts_tensor_info *w = ifs_wts_st_find(st, "w");
        IFS_CHECK(w && !memcmp(w->data, b + w->file_offset, 8), "mapped data matches the file");
    }
    ifs_wts_st_free(st);
    free(b);

    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    fx_write(path, "", 0);
    st = ifs_wts_st_open(path, err, sizeof err);
    IFS_CHECK(!st && fx_contains(err, "empty.safetensors") && fx_contains(err, "too short"),
              "open_refuses_an_empty_file: %s", err);
    ifs_wts_st_free(st);

    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    st = ifs_wts_st_open(path, err, sizeof err);
    IFS_CHECK(!st && fx_contains(err, "missing.safetensors") && fx_contains(err, "cannot open"),
              "open_names_a_missing_file: %s", err);
    st = ifs_wts_st_open(dir, err, sizeof err);
    IFS_CHECK(!st && fx_contains(err, "not a regular file"), "open_refuses_a_folder: %s", err);
}

int main(void)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        run_case(&CASES[i]);
    valid_file_exposes_its_tensors();
    open_maps_real_files();
    ifs_wts_st_free(NULL);
    return ifs_test_done("safetensors");
}
