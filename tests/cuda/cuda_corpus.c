/*
 * cuda_corpus.c - fp16 and bf16 against fp32 over a corpus of AlpacaEval
 * outputs (every `output` of the *.json.zst or *.json files of a folder: by
 * default the whole shared corpus, ../shared/data/alpaca_eval_outputs,
 * 182,723 responses; IFS_CORPUS_DIR names another folder, such as the slice
 * scripts/device_check.sh carries to a GPU machine), with the real
 * all-MiniLM-L6-v2 encoder and our tokenizer:
 *
 *   - argmax agreement with the fp32 run on at least 99.9% of responses;
 *   - every disagreement within 0.01 of p = 0.5 (p = softmax of the fp32
 *     logits, label 1);
 *   - and, on the first IFS_CORPUS_CPU_CHECK (default 512) responses, the
 *     fp32 CUDA logits within 1e-3 of the CPU backend (so the whole-corpus
 *     reference is itself tied to the oracle).
 *
 * The checkpoint has no classifier: a seeded random 2-label head is attached
 * (IFS_CORPUS_MODEL may name a full BertForSequenceClassification checkpoint
 * instead, e.g. the default classifier from attach-head). IFS_CORPUS_LIMIT
 * caps the number of responses (0 = all); IFS_CORPUS_MIN (default 0) fails
 * the test when fewer were read, so a run that must cover a slice cannot
 * pass on less; IFS_CORPUS_MAX_LEN truncates (default 512).
 * Exits 77 with a message when the GPU, the corpus or the checkpoint is
 * missing.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cuda_runtime_api.h>
#include <zstd.h>

#include "ifs_backend.h"
#include "ifs_test.h"
#include "ifs_tok.h"
#include "ifs_wts.h"

/* Whole file as it is (a plain .json). */
static char *read_plain(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, len = 0, n;
    char *out = malloc(cap);
    while (out && (n = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2)
            out = realloc(out, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    if (!out || bad) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    *out_len = len;
    return out;
}

/* Whole file, zstd-decompressed (streaming: frames may not carry their size). */
static char *read_zst(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    ZSTD_DStream *ds = ZSTD_createDStream();
    size_t in_cap = ZSTD_DStreamInSize(), cap = 1 << 20, len = 0;
    char *in = malloc(in_cap), *out = malloc(cap);
    size_t n, last = 0;
    int bad = 0;
    while (!bad && (n = fread(in, 1, in_cap, f)) > 0) {
        ZSTD_inBuffer ib = {in, n, 0};
        while (ib.pos < ib.size) {
            if (cap - len < (1 << 16))
                out = realloc(out, cap *= 2);
            ZSTD_outBuffer ob = {out + len, cap - len - 1, 0};
            last = ZSTD_decompressStream(ds, &ob, &ib);
            if (ZSTD_isError(last)) {
                bad = 1;
                break;
            }
            len += ob.pos;
        }
    }
    fclose(f);
    ZSTD_freeDStream(ds);
    free(in);
    if (bad || last != 0) { /* an error, or a truncated last frame */
        free(out);
        return NULL;
    }
    out[len] = '\0';
    *out_len = len;
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    int32_t n, cap;
    int32_t *len;
    int32_t **ids;
} corpus;

static void corpus_add(corpus *c, const int32_t *ids, int32_t n)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4096;
        c->len = realloc(c->len, sizeof(int32_t) * c->cap);
        c->ids = realloc(c->ids, sizeof(int32_t *) * c->cap);
    }
    c->ids[c->n] = malloc(sizeof(int32_t) * n);
    memcpy(c->ids[c->n], ids, sizeof(int32_t) * n);
    c->len[c->n++] = n;
}

/* Runs seqs [0, n) through b in packed batches; logits [n * L]. */
static int run_all(ifs_backend *b, const corpus *c, int32_t n, int L, int32_t budget, float *logits)
{
    int32_t *ids = malloc(sizeof(int32_t) * budget), *off = malloc(sizeof(int32_t) * 513);
    int rc = IFS_BK_OK;
    for (int32_t i = 0; i < n && rc == IFS_BK_OK;) {
        int32_t j = i, tok = 0;
        off[0] = 0;
        while (j < n && j - i < 512 && tok + c->len[j] <= budget) {
            memcpy(ids + tok, c->ids[j], sizeof(int32_t) * c->len[j]);
            tok += c->len[j++];
            off[j - i] = tok;
        }
        ifs_batch batch = {j - i, tok, ids, NULL, off};
        rc = ifs_backend_forward(b, &batch, logits + (size_t)i * L, NULL);
        if (rc)
            fprintf(stderr, "batch at response %d: %s\n", i, ifs_backend_error(b));
        i = j;
    }
    free(ids);
    free(off);
    return rc;
}

static ifs_backend *make(const char *kind, const ifs_bert_weights *w, ifs_dtype dt, int32_t budget)
{
    ifs_backend_opts o = ifs_backend_default_opts();
    o.dtype = dt;
    o.max_batch_tokens = budget;
    o.max_batch_seqs = 512;
    ifs_backend *b = NULL;
    char err[512];
    int rc = ifs_backend_create(kind, w, &o, &b, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_OK, "create %s: %s", kind, err);
    return b;
}

int main(void)
{
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0)
        IFS_SKIP("no CUDA device visible: the whole-corpus fp16/bf16 agreement test did not run");
    char data[1024], model_dir[1024], err[512];
    const char *corpus_dir = getenv("IFS_CORPUS_DIR");
    if (corpus_dir && *corpus_dir)
        snprintf(data, sizeof data, "%s", corpus_dir);
    else
        snprintf(data, sizeof data, "%s/data/alpaca_eval_outputs",
                 ifs_test_env("IFS_SHARED_DIR", "../shared"));
    const char *custom = getenv("IFS_CORPUS_MODEL");
    snprintf(model_dir, sizeof model_dir, "%s", custom && *custom ? custom : "");
    if (!model_dir[0])
        snprintf(model_dir, sizeof model_dir, "%s/all-MiniLM-L6-v2",
                 ifs_test_env("IFS_MODELS_DIR", ".cache/models"));
    DIR *d = opendir(data);
    if (!d)
        IFS_SKIP("the shared corpus is not at %s", data);
    ifs_wts_model *m = ifs_wts_load(model_dir, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    if (!m)
        IFS_SKIP("no checkpoint: %s", err);
    ifs_tok *tok = ifs_tok_load(model_dir, NULL, err, sizeof err);
    if (!tok)
        IFS_SKIP("no tokenizer in %s: %s", model_dir, err);
    const long limit = atol(ifs_test_env("IFS_CORPUS_LIMIT", "0"));
    const long min_n = atol(ifs_test_env("IFS_CORPUS_MIN", "0"));
    const int max_len = atoi(ifs_test_env("IFS_CORPUS_MAX_LEN", "512"));
    if (max_len < 2 || max_len > 512)
        IFS_SKIP("IFS_CORPUS_MAX_LEN %d is outside 2..512", max_len);
    const int32_t cpu_check = (int32_t)atol(ifs_test_env("IFS_CORPUS_CPU_CHECK", "512"));

    /* the weights, with a seeded random head when the checkpoint has none */
    ifs_bert_weights w = *ifs_wts_weights(m);
    const int H = w.cfg.hidden;
    float *head = NULL;
    if (!w.cls_w || !w.pool_w) {
        head = malloc(sizeof(float) * ((size_t)H * H + H + 2 * (size_t)H + 2));
        uint64_t r = 12345;
        for (size_t i = 0; i < (size_t)H * H + H + 2 * (size_t)H + 2; i++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            head[i] = (float)(((r >> 11) * (1.0 / 9007199254740992.0) - 0.5) * 2.0 * sqrt(3.0 / H));
        }
        if (!w.pool_w) {
            w.pool_w = head;
            w.pool_b = head + (size_t)H * H;
        }
        w.cls_w = head + (size_t)H * H + H;
        w.cls_b = head + (size_t)H * H + 3 * (size_t)H;
        w.cfg.num_labels = 2;
    }
    const int L = w.cfg.num_labels;
    if (L != 2)
        IFS_SKIP("the checkpoint has %d labels; this test reads p(label 1) of two", L);

    /* tokenize every response, files in sorted order */
    char *names[1024];
    int n_files = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n_files < 1024) {
        size_t ln = strlen(e->d_name);
        if ((ln > 9 && !strcmp(e->d_name + ln - 9, ".json.zst")) ||
            (ln > 5 && !strcmp(e->d_name + ln - 5, ".json")))
            names[n_files++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n_files, sizeof(char *), cmp_str);
    corpus c = {0, 0, NULL, NULL};
    ifs_tok_state *st = ifs_tok_state_create(tok);
    int32_t ids[512], n_ids, unreadable = 0, rejected = 0;
    for (int f = 0; f < n_files && (!limit || c.n < limit); f++) {
        char path[2048];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", data, names[f]);
        const size_t ln = strlen(names[f]);
        char *text =
            !strcmp(names[f] + ln - 4, ".zst") ? read_zst(path, &len) : read_plain(path, &len);
        cJSON *arr = text ? cJSON_ParseWithLength(text, len) : NULL;
        if (!arr) {
            unreadable++;
            free(text);
            continue;
        }
        cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            if (limit && c.n >= limit)
                break;
            cJSON *o = cJSON_GetObjectItemCaseSensitive(it, "output");
            if (!cJSON_IsString(o)) {
                rejected++;
                continue;
            }
            if (ifs_tok_encode(tok, st, o->valuestring, strlen(o->valuestring), max_len, ids, NULL,
                               &n_ids, NULL) != IFS_TOK_OK) {
                rejected++;
                continue;
            }
            corpus_add(&c, ids, n_ids);
        }
        cJSON_Delete(arr);
        free(text);
    }
    ifs_tok_state_free(st);
    IFS_CHECK(unreadable == 0, "%d corpus files could not be read", unreadable);
    printf("corpus: %d responses tokenized from %d files of %s (%d without a usable output), "
           "truncated to %d tokens, model %s\n",
           c.n, n_files, data, rejected, max_len, model_dir);
    IFS_CHECK(c.n >= min_n, "only %d responses read; IFS_CORPUS_MIN asks for %ld", c.n, min_n);

    const int32_t budget = 16384;
    float *l32 = malloc(sizeof(float) * c.n * L), *llo = malloc(sizeof(float) * c.n * L);
    ifs_backend *b32 = make("cuda", &w, IFS_DT_F32, budget);
    if (b32 && run_all(b32, &c, c.n, L, budget, l32) == IFS_BK_OK) {
        /* the fp32 reference against the oracle on a prefix */
        int32_t nc = cpu_check < c.n ? cpu_check : c.n;
        float *lc = malloc(sizeof(float) * (nc ? nc : 1) * L);
        ifs_backend *cpu = make("cpu", &w, IFS_DT_F32, budget);
        if (cpu && nc && run_all(cpu, &c, nc, L, budget, lc) == IFS_BK_OK) {
            double mx = 0;
            for (int32_t i = 0; i < nc * L; i++)
                mx = fmax(mx, fabs((double)lc[i] - l32[i]));
            IFS_CHECK(mx <= 1e-3, "cuda f32 vs cpu on %d responses: max |dlogit| %.3g > 1e-3", nc,
                      mx);
            printf("%s cuda f32 matches the cpu backend on the first %d responses (max %.3g)\n",
                   mx <= 1e-3 ? "ok  " : "FAIL", nc, mx);
        }
        ifs_backend_free(cpu);
        free(lc);
        static const ifs_dtype lo[] = {IFS_DT_F16, IFS_DT_BF16};
        for (int k = 0; k < 2; k++) {
            ifs_backend *b = make("cuda", &w, lo[k], budget);
            if (!b || run_all(b, &c, c.n, L, budget, llo) != IFS_BK_OK) {
                IFS_CHECK(0, "the %s run failed", k ? "bf16" : "f16");
                ifs_backend_free(b);
                continue;
            }
            int32_t flips = 0, bad = 0;
            double max_d = 0;
            for (int32_t i = 0; i < c.n; i++) {
                int a32 = l32[i * 2 + 1] > l32[i * 2], alo = llo[i * 2 + 1] > llo[i * 2];
                max_d = fmax(max_d, fabs((double)llo[i * 2] - l32[i * 2]));
                max_d = fmax(max_d, fabs((double)llo[i * 2 + 1] - l32[i * 2 + 1]));
                if (a32 != alo) {
                    flips++;
                    double p = 1.0 / (1.0 + exp((double)l32[i * 2] - l32[i * 2 + 1]));
                    if (fabs(p - 0.5) > 0.01)
                        bad++;
                }
            }
            double agree = c.n ? 1.0 - (double)flips / c.n : 1.0;
            const char *nm = k ? "bf16" : "f16";
            IFS_CHECK(agree >= 0.999, "%s: argmax agrees with f32 on %.4f%% < 99.9%%", nm,
                      100 * agree);
            IFS_CHECK(bad == 0, "%s: %d disagreements farther than 0.01 from p = 0.5", nm, bad);
            printf(
                "%s %s vs f32 over %d responses: argmax agreement %.4f%%, %d flips (%d away from "
                "p=0.5), max |dlogit| %.3g\n",
                agree >= 0.999 && !bad ? "ok  " : "FAIL", nm, c.n, 100 * agree, flips, bad, max_d);
            ifs_backend_free(b);
        }
    }
    ifs_backend_free(b32);
    for (int32_t i = 0; i < c.n; i++)
        free(c.ids[i]);
    free(c.ids);
    free(c.len);
    free(l32);
    free(llo);
    free(head);
    for (int f = 0; f < n_files; f++)
        free(names[f]);
    ifs_tok_free(tok);
    ifs_wts_free(m);
    return ifs_test_done("cuda_corpus");
}
