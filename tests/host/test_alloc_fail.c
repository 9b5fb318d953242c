/*
 * test_alloc_fail.c - allocation failure is an input too (style.md, after
 * pdjson's tests): every parser of untrusted bytes and the score run are
 * driven with the Nth allocation failing, for N = 1, 2, ... until a run
 * needs fewer than N. Each such run must return a clean error (or succeed:
 * some allocations have fallbacks), never crash, never hang, and leave no
 * allocation behind.
 *
 * How allocations are made to fail: this program is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=strdup,
 * --wrap=posix_memalign
 * (tests/host/CMakeLists.txt), so every call from our static libraries goes
 * through the __wrap_ functions below; cJSON is pointed at them with
 * cJSON_InitHooks. Allocations inside other shared libraries (zstd,
 * OpenBLAS, libc's own) are not counted. Leaks: the wrappers count live
 * blocks, and a run must end with the count it started with; under ASan
 * (scripts/test.sh runs the suite once with -DIFS_SANITIZE=ON) LeakSanitizer
 * checks the same at exit, behind the wrappers.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ifs_record.h"
#include "ifs_report.h"
#include "ifs_score.h"
#include "ifs_test.h"
#include "ifs_tok.h"
#include "ifs_wts.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
char *__real_strdup(const char *s);
int __real_posix_memalign(void **p, size_t align, size_t n);

static _Atomic long g_count;   /* allocations made since arming */
static _Atomic long g_fail_at; /* the allocation that fails (1-based); 0 = none */
static _Atomic long g_failed;  /* how many were refused */
static _Atomic long g_live;    /* blocks allocated and not yet freed */

static int should_fail(void)
{
    long at = atomic_load(&g_fail_at);
    if (!at)
        return 0;
    if (atomic_fetch_add(&g_count, 1) + 1 == at) {
        atomic_fetch_add(&g_failed, 1);
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = __real_malloc(n);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

void *__wrap_calloc(size_t k, size_t n)
{
    if (should_fail())
        return NULL;
    void *p = __real_calloc(k, n);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    void *q = __real_realloc(p, n);
    if (q && !p)
        atomic_fetch_add(&g_live, 1);
    return q;
}

void __wrap_free(void *p)
{
    if (p)
        atomic_fetch_sub(&g_live, 1);
    __real_free(p);
}

int __wrap_posix_memalign(void **out, size_t align, size_t n)
{
    if (should_fail())
        return ENOMEM;
    int rc = __real_posix_memalign(out, align, n);
    if (rc == 0)
        atomic_fetch_add(&g_live, 1);
    return rc;
}

char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = __wrap_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* One operation under test: returns 0 on success, nonzero on a clean error. */
typedef int (*op_fn)(void *ctx, char *err, size_t errlen);

/* Runs op with the Nth allocation failing for every N until a run makes
 * fewer than N allocations; checks leaks after each. */
static void sweep(const char *name, op_fn op, void *ctx, long max_n)
{
    char err[1024];
    long runs = 0, leaks = 0, silent_ok = 0;
    for (long n = 1; n <= max_n; n++) {
        long live0 = atomic_load(&g_live);
        atomic_store(&g_count, 0);
        atomic_store(&g_failed, 0);
        atomic_store(&g_fail_at, n);
        err[0] = '\0';
        int rc = op(ctx, err, sizeof err);
        atomic_store(&g_fail_at, 0);
        runs++;
        long failed = atomic_load(&g_failed), made = atomic_load(&g_count);
        if (atomic_load(&g_live) != live0) {
            if (leaks++ < 3)
                fprintf(stderr, "%s: allocation %ld failing leaked %ld block(s) (rc %d: %s)\n",
                        name, n, atomic_load(&g_live) - live0, rc, err);
        }
        if (failed && rc == 0)
            silent_ok++; /* a fallback absorbed it: allowed */
        if (failed && rc != 0 && !err[0] && strcmp(name, "record_parse"))
            IFS_CHECK(0, "%s: allocation %ld failing gave an error without words", name, n);
        if (made < n)
            break; /* the whole operation ran without reaching n */
    }
    IFS_CHECK(leaks == 0, "%s_leaks_nothing_when_an_allocation_fails (%ld of %ld runs leaked)",
              name, leaks, runs);
    IFS_CHECK(runs > 1, "%s_makes_allocations_the_sweep_can_fail (%ld runs)", name, runs);
    printf("%s: %ld runs, %ld absorbed by fallbacks\n", name, runs, silent_ok);
}

/* ---- the operations ------------------------------------------------------ */

static int op_record(void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    (void)err;
    (void)errlen;
    static const char line[] =
        "{\"id\":\"a-1\",\"model\":\"m\",\"step\":800,\"instruction_type\":\"full\","
        "\"response\":\"Sure! Here is \\u00e9 an answer\",\"x\":[1,{\"y\":null}]}";
    ifs_record_schema s;
    ifs_record_schema_init(&s);
    ifs_record_schema_set_group_by(&s, "model,step", NULL, 0);
    ifs_record r;
    ifs_record_init(&r);
    ifs_reject_reason why = ifs_record_parse(&r, &s, line, sizeof line - 1);
    ifs_record_clear(&r);
    return why != IFS_REJECT_NONE;
}

static int op_report(void *ctx, char *err, size_t errlen)
{
    const char *text = ctx;
    ifs_reducer *r = NULL;
    int rc = ifs_report_parse(text, strlen(text), &r, err, errlen);
    if (rc == 0) {
        char *out = NULL;
        size_t len = 0;
        rc = ifs_report_json(r, 0, &out, &len, err, errlen);
        free(out);
    }
    ifs_reduce_free(r);
    return rc;
}

static int op_model(void *ctx, char *err, size_t errlen)
{
    ifs_wts_model *m = ifs_wts_load(ctx, 0, err, errlen);
    int ok = m != NULL;
    ifs_wts_free(m);
    return !ok;
}

static int op_config(void *ctx, char *err, size_t errlen)
{
    const char *json = ctx;
    ifs_bert_config c;
    return ifs_wts_parse_config(json, strlen(json), "config.json", &c, err, errlen);
}

static int op_tok(void *ctx, char *err, size_t errlen)
{
    ifs_tok *t = ifs_tok_load(ctx, NULL, err, errlen);
    int ok = t != NULL;
    if (t) {
        ifs_tok_state *st = ifs_tok_state_create(t);
        int32_t ids[64], n = 0;
        ifs_tok_result res;
        if (st)
            ifs_tok_encode(t, st, "Hello, world! Café.", 20, 64, ids, NULL, &n, &res);
        ifs_tok_state_free(st);
    }
    ifs_tok_free(t);
    return !ok;
}

typedef struct {
    const char *model, *out;
    const char *const *inputs;
    size_t n;
} score_ctx;

static int op_score(void *ctx, char *err, size_t errlen)
{
    score_ctx *c = ctx;
    ifs_score_opts o = ifs_score_default_opts();
    o.model = c->model;
    o.backend = "cpu";
    o.cpu_threads = 1;
    o.threads = 2;
    o.inputs = c->inputs;
    o.n_inputs = c->n;
    o.out = c->out;
    o.no_timings = 1;
    ifs_score *S = NULL;
    int rc = ifs_score_create(&o, &S, err, errlen);
    if (rc == 0)
        rc = ifs_score_run(S, err, errlen);
    ifs_score_free(S);
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = __real_malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) == (size_t)n)
        b[n] = 0;
    fclose(f);
    return b;
}

int main(void)
{
    cJSON_Hooks hooks = {__wrap_malloc, __wrap_free};
    cJSON_InitHooks(&hooks);
    const char *src = ifs_test_env("IFS_SOURCE_DIR", NULL);
    const char *bin = ifs_test_env("IFS_BIN", NULL);
    const char *tmp = ifs_test_env("IFS_TEST_TMP", NULL);
    if (!src || !bin || !tmp)
        IFS_SKIP("IFS_SOURCE_DIR, IFS_BIN and IFS_TEST_TMP come from ctest");

    sweep("record_parse", op_record, NULL, 100000);

    char path[2048];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/report/score_model_step.json", src);
    char *report = slurp(path);
    if (!report)
        IFS_SKIP("no report fixture at %s", path);
    sweep("report_parse", op_report, report, 100000);
    __real_free(report);

    snprintf(path, sizeof path, "%s/tests/weights/fixtures/hf_tiny/config.json", src);
    char *config = slurp(path);
    if (!config)
        IFS_SKIP("no config fixture at %s", path);
    sweep("config_parse", op_config, config, 100000);
    __real_free(config);

    snprintf(path, sizeof path, "%s/tests/weights/fixtures/hf_tiny", src);
    sweep("safetensors_load", op_model, path, 100000);

    /* A tiny classifier with a vocabulary, made by gen-model, for the
     * tokenizer and the score run. */
    char model[1200], vocab[1200], cmd[4096], shard[1200], out[1200];
    snprintf(model, sizeof model, "%s/model", tmp);
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", tmp);
    FILE *v = fopen(vocab, "wb");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n,\n!\n.\ncafe\n##s\nthe\n", v);
    fclose(v);
    snprintf(cmd, sizeof cmd,
             "'%s' gen-model --out '%s' --seed 1 --hidden 16 --layers 1 "
             "--heads 2 --intermediate 32 --init test --vocab '%s' > /dev/null",
             bin, model, vocab);
    if (system(cmd) != 0)
        IFS_SKIP("gen-model failed");
    sweep("tokenizer_load", op_tok, model, 100000);

    snprintf(shard, sizeof shard, "%s/s.jsonl", tmp);
    FILE *f = fopen(shard, "wb");
    for (int i = 0; i < 30; i++)
        fprintf(f, "{\"id\":%d,\"model\":\"m%d\",\"response\":\"hello world%s\"}\n", i, i % 2,
                i % 7 ? "" : " the cafes!");
    fputs("not json\n", f);
    fclose(f);
    snprintf(out, sizeof out, "%s/r.json", tmp);
    const char *inputs[] = {shard};
    score_ctx sc = {model, out, inputs, 1};
    sweep("score_run", op_score, &sc, 100000);
    return ifs_test_done("alloc_fail");
}
