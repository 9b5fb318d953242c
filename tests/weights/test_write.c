/*
 * test_write.c - the writers' callback variants: ifs_wts_save_to and
 * ifs_wts_emit_safetensors hand over exactly the bytes the path-taking
 * functions write, stop at the callback's first failure with its status,
 * and refuse bad tensor lists before writing a byte; ifs_wts_save refuses a
 * config it cannot write before it creates the folder.
 */
#include <unistd.h>

#include "raw_fixture.h"

typedef struct {
    unsigned char *p;
    size_t n, cap;
    int calls, fail_at; /* the call that fails (1-based), 0: none */
    int status;         /* what the failing call returns */
} sink;

static int to_sink(void *ctx, const void *p, size_t n)
{
    sink *s = ctx;
    if (++s->calls == s->fail_at)
        return s->status;
    if (s->n + n > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->n + n)
            cap *= 2;
        unsigned char *q = realloc(s->p, cap);
        if (!q)
            return IFS_WTS_ENOMEM;
        s->p = q, s->cap = cap;
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
    return 0;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    *n = 0;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static void save_to_gives_the_saved_bytes(const fx_model *m)
{
    static const ifs_wts_dtype dts[] = {IFS_WTS_F32, IFS_WTS_F16, IFS_WTS_BF16};
    for (size_t d = 0; d < 3; d++) {
        char name[32], err[1024];
        snprintf(name, sizeof name, "save_to_%zu", d);
        const char *dir = fx_dir(name);
        IFS_CHECK(ifs_wts_save(dir, &m->w, dts[d], err, sizeof err) == 0, "save: %s", err);
        size_t n;
        unsigned char *file = slurp(path_in(dir, "model.safetensors"), &n);
        sink s = {0};
        int rc = ifs_wts_save_to("x", &m->w, dts[d], to_sink, &s, err, sizeof err);
        IFS_CHECK(rc == 0 && file && s.n == n && !memcmp(s.p, file, n),
                  "save_to_emits_the_bytes_save_writes (dtype %zu): %s", d, rc ? err : "");
        free(s.p);
        free(file);
    }
}

static void a_failing_callback_stops_the_emitter(const fx_model *m)
{
    static const struct {
        const char *name;
        int fail_at, status;
    } C[] = {
        {"a_failure_on_the_length_prefix_is_returned", 1, IFS_WTS_EIO},
        {"a_failure_on_the_header_is_returned", 2, IFS_WTS_EIO},
        {"a_failure_on_the_data_is_returned", 3, IFS_WTS_EIO},
        {"the_callbacks_own_status_is_returned", 3, IFS_WTS_ENOMEM},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        sink s = {0};
        s.fail_at = C[i].fail_at, s.status = C[i].status;
        char err[512] = "";
        int rc =
            ifs_wts_save_to("out.safetensors", &m->w, IFS_WTS_F16, to_sink, &s, err, sizeof err);
        IFS_CHECK(rc == C[i].status && s.calls == C[i].fail_at &&
                      fx_contains(err, "out.safetensors") &&
                      fx_contains(err, "write callback failed"),
                  "%s: status %d after %d calls: %s", C[i].name, rc, s.calls, err);
        free(s.p);
    }
}

static void bad_tensor_lists_write_nothing(void)
{
    static const float x[4] = {1, 2, 3, 4};
    ifs_wts_tensor_out t[3] = {
        {"a", 1, {4}, x},
        {"b", 1, {2}, x},
        {"a", 1, {1}, x},
    };
    sink s = {0};
    char err[512] = "";
    int rc =
        ifs_wts_emit_safetensors("t.safetensors", t, 3, IFS_WTS_F32, to_sink, &s, err, sizeof err);
    IFS_CHECK(rc == IFS_WTS_EARG && s.calls == 0 && fx_contains(err, "tensor 'a' given twice"),
              "a_repeated_tensor_name_is_refused_before_any_byte: %s", err);
    t[2].name = "c";
    t[1].shape[0] = -1;
    rc = ifs_wts_emit_safetensors("t.safetensors", t, 3, IFS_WTS_F32, to_sink, &s, err, sizeof err);
    IFS_CHECK(rc == IFS_WTS_EARG && s.calls == 0 && fx_contains(err, "'b' has a bad shape"),
              "a_negative_dimension_is_refused_before_any_byte: %s", err);
    t[1].shape[0] = 2;
    rc = ifs_wts_emit_safetensors("t.safetensors", t, 3, IFS_WTS_F32, NULL, NULL, err, sizeof err);
    IFS_CHECK(rc == IFS_WTS_EARG, "a_missing_callback_is_a_bad_argument");
    rc = ifs_wts_emit_safetensors("t.safetensors", t, 3, IFS_WTS_F32, to_sink, &s, err, sizeof err);
    char perr[512];
    ifs_wts_st *st = rc ? NULL : ifs_wts_st_parse(s.p, s.n, "t", perr, sizeof perr);
    IFS_CHECK(st && ifs_wts_st_count(st) == 3 && ifs_wts_st_find(st, "c"),
              "the_emitted_bytes_parse_back: %s",
              rc   ? err
              : st ? ""
                   : perr);
    ifs_wts_st_free(st);
    free(s.p);
}

static void save_refuses_before_creating_anything(const fx_model *m)
{
    char dir[4300], err[512];
    snprintf(dir, sizeof dir, "%s/never_made", fx_dir("save_refuses"));
    fx_model bad = *m;
    bad.w.cfg.instruction_max_tokens = 16; /* without pair input */
    int rc = ifs_wts_save(dir, &bad.w, IFS_WTS_F32, err, sizeof err);
    IFS_CHECK(rc == IFS_WTS_EARG && access(dir, F_OK) != 0,
              "a_config_that_cannot_be_written_is_refused_before_the_folder_exists: %s", err);
    bad.w.cfg.instruction_max_tokens = 0;
    bad.w.cls_b = NULL;
    rc = ifs_wts_save(dir, &bad.w, IFS_WTS_F32, err, sizeof err);
    IFS_CHECK(rc == IFS_WTS_EARG && access(dir, F_OK) != 0,
              "half_a_classifier_is_refused_before_the_folder_exists: %s", err);
    bad.w.cls_b = m->w.cls_b;
    bad.w.cfg.pair_input = 1;
    bad.w.cfg.instruction_max_tokens = 24;
    rc = ifs_wts_save(dir, &bad.w, IFS_WTS_F32, err, sizeof err);
    ifs_wts_model *got = rc ? NULL : ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(got && ifs_wts_weights(got)->cfg.pair_input == 1 &&
                  ifs_wts_weights(got)->cfg.instruction_max_tokens == 24,
              "a_pair_classifier_saves_and_loads_with_its_fields: %s", got ? "" : err);
    ifs_wts_free(got);
}

int main(void)
{
    fx_model m;
    fx_model_init(&m, 1, 2, 77);
    save_to_gives_the_saved_bytes(&m);
    a_failing_callback_stops_the_emitter(&m);
    bad_tensor_lists_write_nothing();
    save_refuses_before_creating_anything(&m);
    fx_model_free(&m);
    return ifs_test_done("write");
}
