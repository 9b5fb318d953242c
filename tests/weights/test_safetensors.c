/*
 * test_safetensors.c - the safetensors reader against hostile files: each
 * case builds the bytes, parses them, and checks that the refusal names the
 * file, the tensor and the byte offset it should (or that a valid file
 * parses to the right tensors). Also real files: ifs_wts_st_open reads
 * them (a file truncated after opening is no SIGBUS), refuses what is not a
 * regular file by what it is, and the loader's header-only reader gives the
 * same verdict and tensors as the whole-file one on every case.
 */
#include <fcntl.h>
#include <unistd.h>

#include "st_cases.h"
#include "wts_internal.h"

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

static void open_reads_real_files(void)
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
    IFS_CHECK(!st && fx_contains(err, "is a directory, not a regular file"),
              "open_refuses_a_folder_saying_it_is_one: %s", err);
}

/* What is not a regular file is named for what it is, at once: opening a
 * FIFO without O_NONBLOCK waits for a writer forever, and /dev/zero never
 * ends. */
static void open_names_what_is_not_a_file(void)
{
    const char *dir = fx_dir("st_kinds");
    char path[4200], err[512];
    snprintf(path, sizeof path, "%s/fifo.safetensors", dir);
    IFS_CHECK(mkfifo(path, 0600) == 0, "mkfifo %s", path);
    ifs_wts_st *st = ifs_wts_st_open(path, err, sizeof err);
    IFS_CHECK(!st && fx_contains(err, "fifo.safetensors") && fx_contains(err, "is a FIFO"),
              "open_refuses_a_fifo_without_blocking: %s", err);
    st = wts_st_open_stream(path, err, sizeof err);
    IFS_CHECK(!st && fx_contains(err, "is a FIFO"), "the_stream_reader_refuses_a_fifo: %s", err);
    st = ifs_wts_st_open("/dev/zero", err, sizeof err);
    IFS_CHECK(!st && fx_contains(err, "/dev/zero: is a character device"),
              "open_refuses_dev_zero_as_a_device: %s", err);
    ifs_wts_st_free(st);
}

/* The handle holds a copy: a file cut short after opening (a checkpoint
 * replaced in place with cp) cannot fault the reader. With the old mapped
 * reader this test died of SIGBUS at the memcmp. */
static void open_survives_truncation_after_open(void)
{
    const char *dir = fx_dir("st_trunc");
    char path[4200], err[512];
    size_t len;
    unsigned char *b = fx_st_bytes(CASES[0].header, NOLEN, NULL, 24, &len);
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    /* pad so the data lies on a page of its own, past the truncation */
    size_t pad = 8192;
    unsigned char *big = calloc(1, len + pad);
    memcpy(big, b, 8);
    uint64_t hl = strlen(CASES[0].header) + pad;
    for (int i = 0; i < 8; i++)
        big[i] = (unsigned char)(hl >> (8 * i));
    memcpy(big + 8, b + 8, strlen(CASES[0].header));
    memset(big + 8 + strlen(CASES[0].header), ' ', pad);
    memcpy(big + 8 + hl, b + 8 + strlen(CASES[0].header), 24);
    fx_write(path, big, len + pad);
    ifs_wts_st *st = ifs_wts_st_open(path, err, sizeof err);
    IFS_CHECK(st != NULL, "open the padded file: %s", err);
    IFS_CHECK(truncate(path, 8) == 0, "truncate %s", path);
    const ifs_wts_tensor_info *w = st ? ifs_wts_st_find(st, "w") : NULL;
    IFS_CHECK(w && !memcmp(w->data, big + w->file_offset, 8),
              "data_stays_readable_after_the_file_is_truncated");
    ifs_wts_st_free(st);
    free(big);
    free(b);
}

/* The loader's reader parses the header alone from the file: same verdict,
 * same words, same tensors as parsing the whole bytes. */
static void stream_reader_agrees_with_parse(void)
{
    const char *dir = fx_dir("st_stream");
    for (size_t i = 0; i < N_ST_CASES; i++) {
        size_t len;
        unsigned char *b = st_case_bytes(&CASES[i], &len);
        char path[4200], e1[1024] = "", e2[1024] = "";
        snprintf(path, sizeof path, "%s/case.safetensors", dir);
        fx_write(path, b, len);
        ifs_wts_st *a = ifs_wts_st_parse(b, len, path, e1, sizeof e1);
        ifs_wts_st *z = wts_st_open_stream(path, e2, sizeof e2);
        int same = (a == NULL) == (z == NULL) && !strcmp(e1, e2);
        for (size_t k = 0; same && a && k < ifs_wts_st_count(a); k++) {
            const ifs_wts_tensor_info *x = ifs_wts_st_tensor(a, k), *y = ifs_wts_st_tensor(z, k);
            same = y && !strcmp(x->name, y->name) && x->begin == y->begin && x->end == y->end &&
                   y->data == NULL;
            unsigned char got[64];
            size_t n = (size_t)(x->end - x->begin);
            if (same && n <= sizeof got)
                same = wts_st_read(z, y->file_offset, got, n, e2, sizeof e2) == 0 &&
                       !memcmp(got, x->data, n);
        }
        IFS_CHECK(same, "%s: the_header_only_reader_agrees (%s | %s)", CASES[i].name, e1, e2);
        ifs_wts_st_free(a);
        ifs_wts_st_free(z);
        free(b);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        run_case(&CASES[i]);
    valid_file_exposes_its_tensors();
    open_reads_real_files();
    open_names_what_is_not_a_file();
    open_survives_truncation_after_open();
    stream_reader_agrees_with_parse();
    ifs_wts_st_free(NULL);
    return ifs_test_done("safetensors");
}
