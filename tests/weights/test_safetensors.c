/*
 * test_safetensors.c - the safetensors reader against hostile files: each
 * case builds the bytes, parses them, and checks that the refusal names the
 * file, the tensor and the byte offset it should (or that a valid file
 * parses to the right tensors). Also the mmap path on real files.
 */
#include "st_cases.h"

static void run_case(const st_case *c)
{
    size_t len;
    unsigned char *b = st_case_bytes(c, &len);
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
