/*
 * st_cases.h - the hostile (and two valid) safetensors files, as a table
 * shared by test_safetensors.c (our reader's verdict and message) and
 * test_st_reference.c (the reference reader's verdict). Tests only.
 */
#ifndef ST_CASES_H
#define ST_CASES_H

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
    size_t cut;           /* > 0: the file is cut to this many bytes */
} st_case;

static const st_case CASES[] = {
    {"valid_file_with_metadata_int64_and_empty_tensor_parses",
     "{\"__metadata__\":{\"format\":\"pt\"},\"pos\":{\"dtype\":\"I64\",\"shape\":[1,2],"
     "\"data_offsets\":[0,16]},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
     "\"e\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[24,24]}}    ",
     NOLEN, 24, 1, {0}, -1, 0},
    {"file_shorter_than_the_length_prefix_is_refused", "", 5, 0, 0, {"too short"}, -1, 5},
    {"header_length_over_the_cap_is_refused", "{}", 100000001, 0, 0,
     {"header length 100000001", "exceeds the 100000000-byte cap", "byte 0"}, -1, 0},
    {"header_length_past_end_of_file_is_refused", "{}", 1000, 4, 0,
     {"header length 1000", "runs past the end"}, -1, 0},
    {"header_not_starting_with_brace_is_refused", "[\"x\"]", NOLEN, 0, 0,
     {"does not start with '{'", "byte 8"}, -1, 0},
    {"header_that_is_not_json_is_refused", "{\"w\": nope}", NOLEN, 0, 0, {"not a JSON object"}, -1, 0},
    {"header_with_invalid_utf8_is_refused_with_its_offset", "{\"w\xff\":1}", NOLEN, 0, 0,
     {"not valid UTF-8 at byte 11"}, -1, 0},
    {"header_with_a_nul_escape_is_refused", "{\"w\\u0000x\":{}}", NOLEN, 0, 0, {"\\u0000", "byte 11"},
     -1, 0},
    {"header_with_bytes_after_the_object_is_refused", "{} junk", NOLEN, 0, 0,
     {"bytes after its JSON object", "byte 11"}, -1, 0},
    {"tensor_entry_that_is_not_an_object_is_refused", "{\"w\":[1,2]}", NOLEN, 0, 0,
     {"'w'", "not a JSON object", "header byte 9"}, -1, 0},
    {"missing_dtype_is_refused", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", NOLEN, 4, 0,
     {"'w'", "dtype"}, -1, 0},
    {"unknown_dtype_is_refused_by_name",
     "{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", NOLEN, 16, 0,
     {"'w'", "unknown dtype 'F128'"}, -1, 0},
    {"offsets_out_of_bounds_are_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", NOLEN, 4, 0,
     {"'w'", "run past the end of the 4-byte data section"}, 0, 0},
    {"offsets_that_end_before_they_begin_are_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", NOLEN, 4, 0,
     {"'w'", "end before they begin"}, -1, 0},
    {"negative_offset_is_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", NOLEN, 4, 0,
     {"'w'", "data_offsets must be two non-negative integers"}, -1, 0},
    {"fractional_shape_is_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,6]}}", NOLEN, 6, 0,
     {"'w'", "shape[0]"}, -1, 0},
    {"offset_beyond_two_to_the_53_is_refused",
     "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1e300]}}", NOLEN, 1, 0,
     {"'w'", "below 2^53"}, -1, 0},
    {"shape_times_size_mismatch_is_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", NOLEN, 8, 0,
     {"'w'", "shape [3] x 4 bytes (F32) = 12 bytes, but data_offsets span 8"}, 0, 0},
    {"shape_product_overflowing_64_bits_is_refused",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}",
     NOLEN, 0, 0, {"'w'", "overflows 64 bits"}, 0, 0},
    {"shape_times_dtype_size_overflowing_is_refused",
     "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,2147483648],\"data_offsets\":[0,0]}}", NOLEN,
     0, 0, {"'w'", "overflows 64 bits"}, 0, 0},
    {"too_many_dimensions_are_refused",
     "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", NOLEN, 1, 0,
     {"'w'", "9 dimensions"}, -1, 0},
    {"overlapping_tensors_are_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     NOLEN, 12, 0, {"'b'", "overlaps tensor 'a'"}, 4, 0},
    {"a_gap_between_tensors_is_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
     NOLEN, 20, 0, {"'b'", "4-byte gap after tensor 'a'"}, 12, 0},
    {"a_gap_before_the_first_tensor_is_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", NOLEN, 8, 0,
     {"'a'", "gap after the header"}, 4, 0},
    {"trailing_bytes_after_the_last_tensor_are_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", NOLEN, 12, 0,
     {"4 trailing bytes", "'a'"}, 8, 0},
    {"trailing_bytes_with_no_tensor_are_refused", "{}", NOLEN, 3, 0, {"3 trailing bytes"}, 0, 0},
    {"duplicate_tensor_names_are_refused",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     NOLEN, 8, 0, {"'a' appears twice"}, -1, 0},
    {"metadata_that_is_not_an_object_is_refused", "{\"__metadata__\":\"x\"}", NOLEN, 0, 0,
     {"__metadata__", "header byte 9"}, -1, 0},
    {"empty_file_with_only_metadata_parses", "{\"__metadata__\":{}}", NOLEN, 0, 1, {0}, -1, 0},
};

#define N_ST_CASES (sizeof CASES / sizeof CASES[0])

/* The case's file bytes (malloc'd). */
static inline unsigned char *st_case_bytes(const st_case *c, size_t *len)
{
    unsigned char *b = fx_st_bytes(c->header, c->hlen, NULL, c->data_len, len);
    if (c->cut && c->cut < *len)
        *len = c->cut;
    return b;
}

#endif
