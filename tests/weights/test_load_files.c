/*
 * test_load_files.c - the loader against the file system rather than the
 * bytes: weight files that shrink or are rewritten while they load (through
 * the loader's test hook, between the header checks and the data), entries
 * that are not regular files (FIFO, folder, device, dangling symlink) named
 * for what they are, size caps stated, an index that repeats a name (its
 * last value counts, as in json.load), and chunk sizes that cut tensors and
 * elements anywhere, which must change nothing.
 */
#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include "raw_fixture.h"
#include "wts_internal.h"

static void truncate_hook(void *ctx, const char *dir)
{
    (void)dir;
    if (truncate((const char *)ctx, 100) != 0)
        perror("truncate");
}

/* Same size, other bytes, a later mtime: what cp over the file leaves once
 * it is done. The mtime is set explicitly, since two writes within one
 * clock tick of the file system would share it. */
static void rewrite_hook(void *ctx, const char *dir)
{
    (void)dir;
    const char *path = ctx;
    int fd = open(path, O_WRONLY);
    struct stat sb;
    /* the last float of the data: the classifier's bias */
    if (fd < 0 || fstat(fd, &sb) != 0 || pwrite(fd, "\x7f\x7f\x7f\x7f", 4, sb.st_size - 4) != 4)
        perror("rewrite");
    struct timespec t[2] = {{1000000000, 0}, {1000000000, 0}};
    if (fd >= 0 && futimens(fd, t) != 0)
        perror("futimens");
    if (fd >= 0)
        close(fd);
}

static void files_changing_while_loading(const fx_model *m)
{
    static const struct {
        const char *name;
        void (*hook)(void *, const char *);
        const char *want[2];
    } cases[] = {
        {"a_weight_file_truncated_while_loading_is_an_error_naming_it",
         truncate_hook,
         {"model.safetensors: the file now ends at byte", "shrank while being read"}},
        {"a_weight_file_rewritten_while_loading_is_an_error_naming_it",
         rewrite_hook,
         {"model.safetensors: was modified while being read", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32], err[1024] = "";
        snprintf(name, sizeof name, "changing_%zu", i);
        const char *dir = fx_dir(name);
        IFS_CHECK(ifs_wts_save(dir, &m->w, IFS_WTS_F32, err, sizeof err) == 0, "save: %s", err);
        char *st = path_in(dir, "model.safetensors");
        wts_load_opts o = {cases[i].hook, st, 64};
        ifs_wts_model *got = wts_load_with(dir, 0, &o, err, sizeof err);
        IFS_CHECK(!got && fx_contains(err, cases[i].want[0]) &&
                      (!cases[i].want[1] || fx_contains(err, cases[i].want[1])),
                  "%s: %s", cases[i].name, got ? "loaded" : err);
        ifs_wts_free(got);
    }
}

typedef enum { MK_FIFO, MK_DIR, MK_DEV_ZERO, MK_DANGLING } mk_kind;

static void make_entry(const char *path, mk_kind k)
{
    int rc = 0;
    unlink(path);
    switch (k) {
    case MK_FIFO: rc = mkfifo(path, 0600); break;
    case MK_DIR: rc = mkdir(path, 0700); break;
    case MK_DEV_ZERO: rc = symlink("/dev/zero", path); break;
    case MK_DANGLING: rc = symlink("nowhere.safetensors", path); break;
    }
    if (rc != 0) {
        perror(path);
        exit(1);
    }
}

static void entries_that_are_not_files(const fx_model *m)
{
    static const struct {
        const char *name;
        const char *entry; /* the file replaced by something else */
        mk_kind kind;
        int sharded; /* the checkpoint is an index and two shards */
        const char *want;
    } cases[] = {
        {"a_fifo_model_safetensors_is_named_a_fifo", "model.safetensors", MK_FIFO, 0,
         "model.safetensors: is a FIFO (named pipe), not a regular file"},
        {"a_folder_model_safetensors_is_named_a_directory", "model.safetensors", MK_DIR, 0,
         "model.safetensors: is a directory, not a regular file"},
        {"model_safetensors_linked_to_dev_zero_is_named_a_device", "model.safetensors", MK_DEV_ZERO,
         0, "model.safetensors: is a character device, not a regular file"},
        {"a_dangling_model_safetensors_link_cannot_be_opened", "model.safetensors", MK_DANGLING, 0,
         "model.safetensors: cannot open: No such file or directory"},
        {"a_fifo_config_json_is_named_a_fifo", "config.json", MK_FIFO, 0,
         "config.json: is a FIFO (named pipe), not a regular file"},
        {"a_folder_config_json_is_named_a_directory", "config.json", MK_DIR, 0,
         "config.json: is a directory, not a regular file"},
        {"a_fifo_index_is_named_a_fifo", "model.safetensors.index.json", MK_FIFO, 1,
         "model.safetensors.index.json: is a FIFO (named pipe), not a regular file"},
        {"a_fifo_shard_is_named_a_fifo", "model-00002-of-00002.safetensors", MK_FIFO, 1,
         "model-00002-of-00002.safetensors: is a FIFO (named pipe), not a regular file"},
        {"a_shard_linked_to_dev_zero_is_named_a_device", "model-00001-of-00002.safetensors",
         MK_DEV_ZERO, 1, "model-00001-of-00002.safetensors: is a character device"},
    };
    raw_list l;
    raw_from_model(&l, m, "bert.", 0);
    const char *s1 = "model-00001-of-00002.safetensors", *s2 = "model-00002-of-00002.safetensors";
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[32], err[1024] = "";
        snprintf(name, sizeof name, "kind_%zu", c);
        const char *dir = fx_dir(name);
        write_config(dir, &m->w.cfg);
        if (cases[c].sharded) {
            raw_write(&l, 0, 10, path_in(dir, s1));
            raw_write(&l, 10, l.n, path_in(dir, s2));
            char index[16384];
            size_t k = (size_t)snprintf(index, sizeof index, "{\"weight_map\":{");
            for (int i = 0; i < l.n; i++)
                k += (size_t)snprintf(index + k, sizeof index - k, "%s\"%s\":\"%s\"", i ? "," : "",
                                      l.t[i].name, i < 10 ? s1 : s2);
            snprintf(index + k, sizeof index - k, "}}");
            fx_write_text(path_in(dir, "model.safetensors.index.json"), index);
        } else {
            raw_write(&l, 0, l.n, path_in(dir, "model.safetensors"));
        }
        make_entry(path_in(dir, cases[c].entry), cases[c].kind);
        ifs_wts_model *got = ifs_wts_load(dir, 0, err, sizeof err);
        IFS_CHECK(!got && fx_contains(err, cases[c].want) && !fx_contains(err, "no model"),
                  "%s: %s", cases[c].name, got ? "loaded" : err);
        ifs_wts_free(got);
    }
    raw_free(&l);

    char err[1024];
    ifs_wts_model *got = ifs_wts_load("/nonexistent/ifscore/ckpt", 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "/nonexistent/ifscore/ckpt: cannot open the checkpoint "
                                       "folder: No such file or directory"),
              "a_missing_folder_is_named_missing: %s", err);
    const char *dir = fx_dir("kind_file");
    fx_write_text(path_in(dir, "plain"), "x");
    got = ifs_wts_load(path_in(dir, "plain"), 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "is a regular file, not a checkpoint folder"),
              "a_file_given_as_the_folder_is_named_a_file: %s", err);
}

static void size_caps_are_stated(const fx_model *m)
{
    char err[1024];
    const char *dir = fx_dir("cap_config");
    IFS_CHECK(ifs_wts_save(dir, &m->w, IFS_WTS_F32, err, sizeof err) == 0, "save: %s", err);
    /* sparse: 17 MiB of nothing, no disk used */
    IFS_CHECK(truncate(path_in(dir, "config.json"), 17 << 20) == 0, "truncate config.json");
    ifs_wts_model *got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "config.json: 17825792 bytes, over the 16777216-byte cap "
                                       "for config.json"),
              "a_config_over_its_cap_states_the_cap: %s", err);
    ifs_wts_free(got);

    dir = fx_dir("cap_index");
    write_config(dir, &m->w.cfg);
    fx_write_text(path_in(dir, "model.safetensors.index.json"), "{}");
    IFS_CHECK(truncate(path_in(dir, "model.safetensors.index.json"), 65 << 20) == 0,
              "truncate the index");
    got = ifs_wts_load(dir, 0, err, sizeof err);
    IFS_CHECK(!got && fx_contains(err, "over the 67108864-byte cap for "
                                       "model.safetensors.index.json"),
              "an_index_over_its_cap_states_the_cap: %s", err);
    ifs_wts_free(got);
}

/* json.load keeps a repeated key's last value, and transformers opens only
 * the files those values name. */
static void index_repeating_a_name(const fx_model *m)
{
    static const struct {
        const char *name;
        const char *first, *last; /* the two files given for the repeated tensor */
        const char *want;         /* NULL: loads */
    } cases[] = {
        {"a_repeated_index_name_takes_its_last_file", "model-00009-of-00002.safetensors",
         "model-00002-of-00002.safetensors", NULL},
        {"a_repeated_index_name_pointing_last_to_the_wrong_shard_is_refused",
         "model-00002-of-00002.safetensors", "model-00001-of-00002.safetensors",
         "model-00001-of-00002.safetensors: tensor 'classifier.bias' is missing "
         "(model.safetensors.index.json puts it there)"},
    };
    raw_list l;
    raw_from_model(&l, m, "bert.", 0);
    const char *s1 = "model-00001-of-00002.safetensors", *s2 = "model-00002-of-00002.safetensors";
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[32], err[1024] = "", index[16384];
        snprintf(name, sizeof name, "index_dup_%zu", c);
        const char *dir = fx_dir(name);
        write_config(dir, &m->w.cfg);
        raw_write(&l, 0, 10, path_in(dir, s1));
        raw_write(&l, 10, l.n, path_in(dir, s2));
        size_t k = (size_t)snprintf(index, sizeof index,
                                    "{\"weight_map\":{\"classifier.bias\":\"%s\"", cases[c].first);
        for (int i = 0; i < l.n; i++)
            k += (size_t)snprintf(index + k, sizeof index - k, ",\"%s\":\"%s\"", l.t[i].name,
                                  !strcmp(l.t[i].name, "classifier.bias") ? cases[c].last
                                  : i < 10                                ? s1
                                                                          : s2);
        snprintf(index + k, sizeof index - k, "},\"weight_map\":");
        /* a repeated top-level key too: the first weight_map is the real one
           only if the last is ignored, so the last must be the real one */
        char both[40000];
        snprintf(both, sizeof both, "{\"weight_map\":{\"x\":\"gone.safetensors\"},%s", index + 1);
        size_t bl = strlen(both);
        snprintf(both + bl - strlen(",\"weight_map\":"), sizeof both - bl, "}");
        fx_write_text(path_in(dir, "model.safetensors.index.json"), both);
        ifs_wts_model *got = ifs_wts_load(dir, 0, err, sizeof err);
        if (!cases[c].want)
            IFS_CHECK(got && weights_equal(&m->w, ifs_wts_weights(got), keep), "%s: %s",
                      cases[c].name, got ? "values differ" : err);
        else
            IFS_CHECK(!got && fx_contains(err, cases[c].want), "%s: %s", cases[c].name,
                      got ? "loaded" : err);
        ifs_wts_free(got);
    }
    raw_free(&l);
}

/* Every dtype the loader converts, behind an odd-sized tensor so that
 * elements sit at odd offsets, read with chunks that cut tensors and
 * elements anywhere: the weights and the fingerprint do not change. */
static void chunk_boundaries_change_nothing(const fx_model *m)
{
    static const struct {
        const char *dtype;
        rounder r;
    } dts[] = {
        {"F32", keep},
        {"F16", via_f16},
        {"BF16", via_bf16},
    };
    static const size_t chunks[] = {8, 9, 13, 64, 100, 4097, 0};
    static const unsigned char odd[3] = {1, 2, 3};
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        raw_list l;
        raw_from_model(&l, m, "bert.", 0);
        raw_t *o = &l.t[l.n++];
        snprintf(o->name, sizeof o->name, "zz.odd");
        o->dtype = "U8", o->ndim = 1, o->shape[0] = 3, o->data = odd, o->nbytes = 3;
        raw_t tmp = *o; /* first in the file */
        memmove(&l.t[1], &l.t[0], (size_t)(l.n - 1) * sizeof tmp);
        l.t[0] = tmp;
        for (int i = 1; i < l.n && d > 0; i++) {
            raw_t *t = &l.t[i];
            size_t n = t->nbytes / 4;
            const float *src = t->data;
            unsigned char *p = malloc(n * 2 + 1);
            for (size_t e = 0; e < n; e++) {
                uint16_t h = d == 1 ? ifs_wts_f32_to_f16(src[e]) : ifs_wts_f32_to_bf16(src[e]);
                p[2 * e] = (unsigned char)h;
                p[2 * e + 1] = (unsigned char)(h >> 8);
            }
            l.owned[l.n_owned++] = p;
            t->data = p, t->nbytes = n * 2, t->dtype = dts[d].dtype;
        }
        char name[32];
        snprintf(name, sizeof name, "chunks_%s", dts[d].dtype);
        const char *dir = fx_dir(name);
        write_config(dir, &m->w.cfg);
        raw_write(&l, 0, l.n, path_in(dir, "model.safetensors"));
        char first[65] = "";
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            char err[1024] = "";
            wts_load_opts opts = {NULL, NULL, chunks[c]};
            ifs_wts_model *got = wts_load_with(dir, 0, &opts, err, sizeof err);
            IFS_CHECK(got && weights_equal(&m->w, ifs_wts_weights(got), dts[d].r),
                      "%s_read_in_%zu_byte_chunks_loads_the_same_values: %s", dts[d].dtype,
                      chunks[c], got ? "values differ" : err);
            if (got && !first[0])
                memcpy(first, ifs_wts_fingerprint(got), 65);
            IFS_CHECK(got && !strcmp(first, ifs_wts_fingerprint(got)),
                      "%s_read_in_%zu_byte_chunks_has_the_same_fingerprint", dts[d].dtype,
                      chunks[c]);
            ifs_wts_free(got);
        }
        raw_free(&l);
    }
}

int main(void)
{
    fx_model m;
    fx_model_init(&m, 2, 3, 1234);
    files_changing_while_loading(&m);
    entries_that_are_not_files(&m);
    size_caps_are_stated(&m);
    index_repeating_a_name(&m);
    chunk_boundaries_change_nothing(&m);
    fx_model_free(&m);
    return ifs_test_done("load_files");
}
