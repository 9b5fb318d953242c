/*
 * cuda_model.c - the whole "cuda" backend against the "cpu" backend (the
 * reference) through the public interface, plus the backend's contracts:
 *
 *   - logits and [CLS] rows: f32 within 1e-3 of the CPU backend; f16 within
 *     0.02 + 0.02|ref| and bf16 within 0.1 + 0.05|ref| (logits of these
 *     random models are O(1)); argmax equal, except where the CPU's
 *     p(label 1) is within 0.01 of 0.5;
 *   - model shapes: MiniLM-L6 (hidden 384, 12 heads of 32, exact gelu),
 *     BERT-base width (768, 12 heads of 64, tanh gelu, 3 labels, token
 *     types), an odd one (192, 4 heads of 48, relu: the generic attention
 *     kernel), BERT-large width (1024, 16 heads of 64); and the real
 *     all-MiniLM-L6-v2 encoder (IFS_MODELS_DIR/all-MiniLM-L6-v2, or the
 *     folder IFS_MINILM_DIR names) with a seeded random head when it is
 *     present;
 *   - a sequence's logits do not depend on the batch around it;
 *   - ifs_backend_encode (every row after n layers) matches the cpu backend;
 *   - a NaN in one sequence comes back as it is (rc OK, as from the CPU
 *     backend, so the scheduler rejects that record by name), the error
 *     string names the sequence, and every other sequence's logits stay
 *     finite and unchanged;
 *   - two handles on one device share one copy of the weights and give the
 *     same logits, also when run from two threads at once;
 *   - a token budget too large for the device is lowered at create, with a
 *     note, and the backend still runs; a missing device ordinal is refused.
 *
 * Without a CUDA device it prints that it did not run and exits 77.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "ifs_backend.h"
#include "ifs_test.h"
#include "ifs_wts.h"

/* --- random synthetic checkpoints ----------------------------------------------- */

static uint64_t rng_state;
static void rng_seed(uint64_t s)
{
    rng_state = s * 0x9E3779B97F4A7C15ull + 1;
}
static uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static float rng_normal(void)
{
    float u = ((rng_u32() >> 11) + 0.5f) / 2097152.0f, v = ((rng_u32() >> 11) + 0.5f) / 2097152.0f;
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

typedef struct {
    ifs_bert_weights w;
    ifs_bert_layer *layers;
    float **arrays; /* everything allocated, for freeing */
    int n_arrays;
} synth;

static const float *arr(synth *m, size_t n, float mean, float sd)
{
    float *p = malloc(sizeof(float) * n);
    if (!p)
        exit(1);
    for (size_t i = 0; i < n; i++)
        p[i] = mean + sd * rng_normal();
    m->arrays = realloc(m->arrays, sizeof(float *) * (m->n_arrays + 1));
    if (!m->arrays)
        exit(1);
    m->arrays[m->n_arrays++] = p;
    return p;
}

/* Weights scaled by 1/sqrt(fan_in) so activations stay O(1) through the
 * layers and the softmax of attention is far from uniform. */
static void synth_model(synth *m, int hidden, int heads, int inter, int layers, ifs_act act,
                        int labels, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    rng_seed(seed);
    ifs_bert_config *c = &m->w.cfg;
    c->vocab_size = 2000;
    c->hidden = hidden;
    c->n_layers = layers;
    c->n_heads = heads;
    c->intermediate = inter;
    c->max_position = 512;
    c->type_vocab = 2;
    c->num_labels = labels;
    c->pad_token_id = 0;
    c->ln_eps = 1e-12f;
    c->act = act;
    for (int i = 0; i < labels; i++)
        snprintf(c->labels[i], IFS_LABEL_LEN, "LABEL_%d", i);
    const size_t H = hidden, I = inter;
    const float sh = 1.0f / sqrtf((float)H), si = 1.0f / sqrtf((float)I);
    m->w.word_emb = arr(m, c->vocab_size * H, 0, 1);
    m->w.pos_emb = arr(m, c->max_position * H, 0, 0.5f);
    m->w.type_emb = arr(m, c->type_vocab * H, 0, 0.3f);
    m->w.emb_ln_g = arr(m, H, 1, 0.1f);
    m->w.emb_ln_b = arr(m, H, 0, 0.1f);
    m->layers = calloc(layers, sizeof(ifs_bert_layer));
    for (int l = 0; l < layers; l++) {
        ifs_bert_layer *L = &m->layers[l];
        L->q_w = arr(m, H * H, 0, 1.5f * sh);
        L->q_b = arr(m, H, 0, 0.1f);
        L->k_w = arr(m, H * H, 0, 1.5f * sh);
        L->k_b = arr(m, H, 0, 0.1f);
        L->v_w = arr(m, H * H, 0, sh);
        L->v_b = arr(m, H, 0, 0.1f);
        L->ao_w = arr(m, H * H, 0, sh);
        L->ao_b = arr(m, H, 0, 0.1f);
        L->ln1_g = arr(m, H, 1, 0.1f);
        L->ln1_b = arr(m, H, 0, 0.1f);
        L->i_w = arr(m, I * H, 0, sh);
        L->i_b = arr(m, I, 0, 0.1f);
        L->o_w = arr(m, H * I, 0, si);
        L->o_b = arr(m, H, 0, 0.1f);
        L->ln2_g = arr(m, H, 1, 0.1f);
        L->ln2_b = arr(m, H, 0, 0.1f);
    }
    m->w.layers = m->layers;
    m->w.pool_w = arr(m, H * H, 0, sh);
    m->w.pool_b = arr(m, H, 0, 0.1f);
    m->w.cls_w = arr(m, (size_t)labels * H, 0, 2.0f * sh);
    m->w.cls_b = arr(m, labels, 0, 0.1f);
}

static void synth_free(synth *m)
{
    for (int i = 0; i < m->n_arrays; i++)
        free(m->arrays[i]);
    free(m->arrays);
    free(m->layers);
}

/* --- batches -------------------------------------------------------------------------- */

typedef struct {
    ifs_batch b;
    int32_t *ids, *types, *off;
} owned_batch;

/* lens: n sequence lengths; ids random in [1000, vocab) after a [CLS] of 101. */
static owned_batch make_batch(const int32_t *lens, int n, int vocab, int with_types, uint64_t seed)
{
    owned_batch o;
    rng_seed(seed);
    o.off = malloc(sizeof(int32_t) * (n + 1));
    o.off[0] = 0;
    for (int i = 0; i < n; i++)
        o.off[i + 1] = o.off[i] + lens[i];
    int32_t T = o.off[n];
    o.ids = malloc(sizeof(int32_t) * T);
    o.types = with_types ? malloc(sizeof(int32_t) * T) : NULL;
    for (int i = 0; i < n; i++)
        for (int32_t t = o.off[i]; t < o.off[i + 1]; t++) {
            o.ids[t] = t == o.off[i] ? 101 : 1000 + (int32_t)(rng_u32() % (uint32_t)(vocab - 1000));
            if (o.types)
                o.types[t] = (t - o.off[i]) > lens[i] / 2;
        }
    o.b.n_seqs = n;
    o.b.n_tokens = T;
    o.b.input_ids = o.ids;
    o.b.type_ids = o.types;
    o.b.seq_off = o.off;
    return o;
}

static void batch_free(owned_batch *o)
{
    free(o->ids);
    free(o->types);
    free(o->off);
}

/* 24 ragged sequences from 1 to 512 tokens. */
static const int32_t ragged[] = {512, 1,   37,  128, 129, 255, 256, 300, 2,   64, 65,  63,
                                 17,  400, 511, 90,  3,   33,  31,  200, 150, 8,  100, 77};
#define N_RAGGED ((int)(sizeof ragged / sizeof ragged[0]))

/* --- helpers ---------------------------------------------------------------------------- */

static ifs_backend *make_backend(const char *kind, const ifs_bert_weights *w, ifs_dtype dt,
                                 int32_t max_tokens)
{
    ifs_backend_opts o = ifs_backend_default_opts();
    o.dtype = dt;
    o.max_batch_tokens = max_tokens;
    o.max_batch_seqs = 256;
    ifs_backend *b = NULL;
    char err[512];
    int rc = ifs_backend_create(kind, w, &o, &b, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_OK, "creating the %s backend (dtype %d): %d %s", kind, (int)dt, rc, err);
    return rc == IFS_BK_OK ? b : NULL;
}

static const char *dt_name(ifs_dtype dt)
{
    return dt == IFS_DT_F32 ? "f32" : dt == IFS_DT_F16 ? "f16" : "bf16";
}

typedef struct {
    double atol, rtol;
} tol;

static tol tol_for(ifs_dtype dt)
{
    return dt == IFS_DT_F32   ? (tol){1e-3, 0}
           : dt == IFS_DT_F16 ? (tol){0.02, 0.02}
                              : (tol){0.1, 0.05};
}

/* Compares logits (S x L) and cls rows (S x H) of cuda against cpu. */
static void compare_outputs(const char *name, ifs_dtype dt, const float *got, const float *ref,
                            const float *got_cls, const float *ref_cls, int S, int L, int H)
{
    tol t = tol_for(dt);
    double max_err = 0, max_cls = 0;
    int bad = 0, bad_cls = 0, flips = 0, bad_flips = 0;
    for (int i = 0; i < S * L; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= t.atol + t.rtol * fabs(ref[i])))
            bad++;
        if (d > max_err || d != d)
            max_err = d;
    }
    for (int i = 0; i < S * H; i++) {
        double d = fabs((double)got_cls[i] - ref_cls[i]);
        if (!(d <= t.atol + t.rtol * fabs(ref_cls[i])))
            bad_cls++;
        if (d > max_cls || d != d)
            max_cls = d;
    }
    for (int s = 0; s < S; s++) {
        int ag = 0, ar = 0;
        for (int j = 1; j < L; j++) {
            if (got[s * L + j] > got[s * L + ag])
                ag = j;
            if (ref[s * L + j] > ref[s * L + ar])
                ar = j;
        }
        if (ag != ar) {
            flips++;
            /* the criterion of the issue: a disagreement is only allowed at p ~ 0.5 */
            double p1 = L == 2 ? 1.0 / (1.0 + exp((double)ref[s * L] - ref[s * L + 1])) : 0.0;
            if (L != 2 || fabs(p1 - 0.5) > 0.01)
                bad_flips++;
        }
    }
    IFS_CHECK(bad == 0, "%s: %d of %d logits outside %g + %g|ref| (max error %.3g)", name, bad,
              S * L, t.atol, t.rtol, max_err);
    IFS_CHECK(bad_cls == 0, "%s: %d of %d [CLS] values outside %g + %g|ref| (max error %.3g)", name,
              bad_cls, S * H, t.atol, t.rtol, max_cls);
    IFS_CHECK(bad_flips == 0, "%s: %d argmax disagreements away from p = 0.5", name, bad_flips);
    printf("%s %-70s max|dlogit|=%.3g max|dcls|=%.3g argmax flips=%d/%d\n",
           bad || bad_cls || bad_flips ? "FAIL" : "ok  ", name, max_err, max_cls, flips, S);
}

/* Runs w on both backends over the ragged batch and compares. */
static void parity_case(const char *name, const ifs_bert_weights *w, ifs_dtype dt, int with_types)
{
    const int L = w->cfg.num_labels, H = w->cfg.hidden;
    owned_batch ob = make_batch(ragged, N_RAGGED, w->cfg.vocab_size, with_types, 7);
    const int S = ob.b.n_seqs;
    float *lc = calloc((size_t)S * L, 4), *lg = calloc((size_t)S * L, 4);
    float *cc = calloc((size_t)S * H, 4), *cg = calloc((size_t)S * H, 4);
    ifs_backend *cpu = make_backend("cpu", w, IFS_DT_F32, ob.b.n_tokens);
    ifs_backend *gpu = make_backend("cuda", w, dt, ob.b.n_tokens);
    if (cpu && gpu) {
        int rc1 = ifs_backend_forward(cpu, &ob.b, lc, cc);
        int rc2 = ifs_backend_forward(gpu, &ob.b, lg, cg);
        IFS_CHECK(rc1 == IFS_BK_OK, "%s: cpu forward: %s", name, ifs_backend_error(cpu));
        IFS_CHECK(rc2 == IFS_BK_OK, "%s: cuda forward: %s", name, ifs_backend_error(gpu));
        if (rc1 == IFS_BK_OK && rc2 == IFS_BK_OK)
            compare_outputs(name, dt, lg, lc, cg, cc, S, L, H);
    }
    ifs_backend_free(cpu);
    ifs_backend_free(gpu);
    free(lc);
    free(lg);
    free(cc);
    free(cg);
    batch_free(&ob);
}

/* ifs_backend_encode after the second-to-last and the last layer (in full)
 * over the ragged batch, against the cpu backend, in the dtype's tolerance. */
static void check_encode(const ifs_bert_weights *w, ifs_dtype dt)
{
    const int H = w->cfg.hidden;
    owned_batch ob = make_batch(ragged, N_RAGGED, w->cfg.vocab_size, 0, 9);
    const size_t n = (size_t)ob.b.n_tokens * H;
    float *hc = malloc(n * 4), *hg = malloc(n * 4);
    ifs_backend *cpu = make_backend("cpu", w, IFS_DT_F32, ob.b.n_tokens);
    ifs_backend *gpu = make_backend("cuda", w, dt, ob.b.n_tokens);
    tol t = tol_for(dt);
    for (int depth = w->cfg.n_layers - 1; cpu && gpu && depth <= w->cfg.n_layers; depth++) {
        for (size_t i = 0; i < n; i++)
            hg[i] = NAN;
        int rc1 = ifs_backend_encode(cpu, &ob.b, depth, hc);
        int rc2 = ifs_backend_encode(gpu, &ob.b, depth, hg);
        IFS_CHECK(rc1 == IFS_BK_OK && rc2 == IFS_BK_OK, "encode %d: %s / %s", depth,
                  ifs_backend_error(cpu), ifs_backend_error(gpu));
        size_t bad = 0;
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)hg[i] - hc[i]);
            if (!(d <= t.atol + t.rtol * fabs(hc[i])))
                bad++;
            if (d > worst || d != d)
                worst = d;
        }
        IFS_CHECK(bad == 0, "%s encode after %d layers: %zu of %zu values off (max %.3g)",
                  dt_name(dt), depth, bad, n, worst);
        printf("%s %s: every row after %d layers matches the cpu backend (max|d| %.3g)\n",
               bad ? "FAIL" : "ok  ", dt_name(dt), depth, worst);
    }
    ifs_backend_free(cpu);
    ifs_backend_free(gpu);
    free(hc);
    free(hg);
    batch_free(&ob);
}

/* Sequence 3 alone gives the logits it gets inside the ragged batch. */
static void check_batch_invariance(const ifs_bert_weights *w)
{
    const int L = w->cfg.num_labels, s = 3;
    owned_batch all = make_batch(ragged, N_RAGGED, w->cfg.vocab_size, 0, 7);
    ifs_backend *gpu = make_backend("cuda", w, IFS_DT_F32, all.b.n_tokens);
    float *la = calloc((size_t)N_RAGGED * L, 4), l1[IFS_MAX_LABELS];
    int32_t off1[2] = {0, ragged[s]};
    ifs_batch one = {1, ragged[s], all.ids + all.off[s], NULL, off1};
    if (gpu) {
        int rc = ifs_backend_forward(gpu, &all.b, la, NULL);
        IFS_CHECK(rc == IFS_BK_OK, "batch invariance: %s", ifs_backend_error(gpu));
        rc = ifs_backend_forward(gpu, &one, l1, NULL);
        IFS_CHECK(rc == IFS_BK_OK, "batch invariance: %s", ifs_backend_error(gpu));
        double d = 0;
        for (int j = 0; j < L; j++)
            d = fmax(d, fabs((double)l1[j] - la[s * L + j]));
        IFS_CHECK(d <= 1e-4, "a sequence alone and inside a batch differ by %.3g in f32", d);
        printf("%s a sequence's f32 logits do not depend on its batch (max diff %.3g)\n",
               d <= 1e-4 ? "ok  " : "FAIL", d);
    }
    free(la);
    ifs_backend_free(gpu);
    batch_free(&all);
}

/* Token 1500's embedding is NaN; it appears only in sequence 1. */
static void check_nan_is_named(const ifs_bert_weights *clean, ifs_dtype dt)
{
    const int H = clean->cfg.hidden, L = clean->cfg.num_labels;
    ifs_bert_weights w = *clean;
    float *word = malloc(sizeof(float) * (size_t)clean->cfg.vocab_size * H);
    memcpy(word, clean->word_emb, sizeof(float) * (size_t)clean->cfg.vocab_size * H);
    for (int i = 0; i < H; i++)
        word[(size_t)1500 * H + i] = NAN;
    w.word_emb = word;
    static const int32_t lens[] = {40, 30, 50};
    owned_batch ob = make_batch(lens, 3, 1400, 0, 11); /* ids < 1400: no NaN token yet */
    ob.ids[ob.off[1] + 5] = 1500;
    float ln[3 * IFS_MAX_LABELS], lc[3 * IFS_MAX_LABELS];
    ifs_backend *bad = make_backend("cuda", &w, dt, 1024);
    ifs_backend *good = make_backend("cuda", clean, dt, 1024);
    if (bad && good) {
        int rc = ifs_backend_forward(bad, &ob.b, ln, NULL);
        const char *msg = ifs_backend_error(bad);
        IFS_CHECK(rc == IFS_BK_OK, "%s: NaN logits gave rc %d: %s", dt_name(dt), rc, msg);
        IFS_CHECK(strstr(msg, "sequence 1 ") != NULL, "%s: the error does not name sequence 1: %s",
                  dt_name(dt), msg);
        rc = ifs_backend_forward(good, &ob.b, lc, NULL);
        IFS_CHECK(rc == IFS_BK_OK, "%s: clean model: %s", dt_name(dt), ifs_backend_error(good));
        int ok = 1;
        for (int s = 0; s < 3; s++)
            for (int j = 0; j < L; j++) {
                float v = ln[s * L + j];
                if (s == 1)
                    ok &= !isfinite(v);
                else
                    ok &= isfinite(v) && fabsf(v - lc[s * L + j]) <= 1e-5f;
            }
        IFS_CHECK(ok, "%s: the NaN of sequence 1 reached another sequence, or was lost",
                  dt_name(dt));
        printf("%s %s: NaN in one sequence is returned in place and named; the others are "
               "untouched (%s)\n",
               ok ? "ok  " : "FAIL", dt_name(dt), msg);
    }
    ifs_backend_free(bad);
    ifs_backend_free(good);
    batch_free(&ob);
    free(word);
}

typedef struct {
    ifs_backend *b;
    const ifs_batch *batch;
    float *logits;
    int rc;
} job;

static void *run_job(void *p)
{
    job *j = p;
    for (int it = 0; it < 5 && j->rc == IFS_BK_OK; it++)
        j->rc = ifs_backend_forward(j->b, j->batch, j->logits, NULL);
    return NULL;
}

/* Two handles over the same weights and dtype: one device copy, same logits,
 * alone and from two threads at once. */
static void check_shared_weights(const ifs_bert_weights *w, size_t weight_bytes)
{
    const int L = w->cfg.num_labels;
    owned_batch ob = make_batch(ragged, N_RAGGED, w->cfg.vocab_size, 0, 5);
    const int S = ob.b.n_seqs;
    size_t free0, free1, free2, total;
    cudaMemGetInfo(&free0, &total);
    ifs_backend *a = make_backend("cuda", w, IFS_DT_F32, ob.b.n_tokens);
    cudaMemGetInfo(&free1, &total);
    ifs_backend *b = make_backend("cuda", w, IFS_DT_F32, ob.b.n_tokens);
    cudaMemGetInfo(&free2, &total);
    if (a && b) {
        /* the first handle paid for weights + its own buffers, the second for
         * its own buffers only */
        double first = (double)free0 - (double)free1, second = (double)free1 - (double)free2;
        IFS_CHECK(first - second >= 0.9 * (double)weight_bytes,
                  "the first handle took %.0f MiB, the second %.0f MiB: the %zu MiB of weights "
                  "were not shared",
                  first / 1048576, second / 1048576, weight_bytes >> 20);
        float *la = calloc((size_t)S * L, 4), *lb = calloc((size_t)S * L, 4);
        float *ta = calloc((size_t)S * L, 4), *tb = calloc((size_t)S * L, 4);
        ifs_backend_forward(a, &ob.b, la, NULL);
        ifs_backend_forward(b, &ob.b, lb, NULL);
        IFS_CHECK(memcmp(la, lb, sizeof(float) * S * L) == 0,
                  "two handles on shared weights give different logits");
        job ja = {a, &ob.b, ta, IFS_BK_OK}, jb = {b, &ob.b, tb, IFS_BK_OK};
        pthread_t th;
        pthread_create(&th, NULL, run_job, &jb);
        run_job(&ja);
        pthread_join(th, NULL);
        IFS_CHECK(ja.rc == IFS_BK_OK && jb.rc == IFS_BK_OK, "concurrent forwards failed: %s / %s",
                  ifs_backend_error(a), ifs_backend_error(b));
        IFS_CHECK(memcmp(ta, la, sizeof(float) * S * L) == 0 &&
                      memcmp(tb, la, sizeof(float) * S * L) == 0,
                  "two handles run from two threads at once give different logits");
        printf("ok   two handles share one weight copy (first %.0f MiB, second %.0f MiB, weights "
               "%zu MiB) and agree, also concurrently\n",
               first / 1048576, second / 1048576, weight_bytes >> 20);
        free(la);
        free(lb);
        free(ta);
        free(tb);
    }
    ifs_backend_free(a);
    ifs_backend_free(b);
    batch_free(&ob);
}

static void check_budget_and_device(const ifs_bert_weights *w)
{
    ifs_backend_opts o = ifs_backend_default_opts();
    o.max_batch_tokens = 1 << 30; /* ~10 TB of activations at hidden 384 */
    o.max_batch_seqs = 256;
    ifs_backend *b = NULL;
    char err[512] = "";
    int rc = ifs_backend_create("cuda", w, &o, &b, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_OK, "an oversized token budget was not lowered: %d %s", rc, err);
    if (b) {
        char note[512]; /* forward() rewrites the error string */
        snprintf(note, sizeof note, "%s", ifs_backend_error(b));
        IFS_CHECK(strstr(note, "lowered") != NULL, "no note says the budget was lowered: '%s'",
                  note);
        static const int32_t lens[] = {512, 100};
        owned_batch ob = make_batch(lens, 2, w->cfg.vocab_size, 0, 3);
        float lg[2 * IFS_MAX_LABELS];
        rc = ifs_backend_forward(b, &ob.b, lg, NULL);
        IFS_CHECK(rc == IFS_BK_OK, "forward after a lowered budget: %s", ifs_backend_error(b));
        printf("ok   an oversized budget is lowered at create and says so: %s\n", note);
        batch_free(&ob);
        ifs_backend_free(b);
    }
    o = ifs_backend_default_opts();
    o.device = 4096;
    rc = ifs_backend_create("cuda", w, &o, &b, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_EARG && b == NULL, "device 4096 was not refused (rc %d)", rc);
    printf("%s a missing device ordinal is refused: %s\n", rc == IFS_BK_EARG ? "ok  " : "FAIL",
           err);
}

/* The real all-MiniLM-L6-v2 encoder (no classifier in the checkpoint) with a
 * seeded random 2-label head. */
static void check_real_minilm(void)
{
    char dir[1024], err[512];
    const char *own = getenv("IFS_MINILM_DIR"); /* e.g. the encoder a GPU machine was sent */
    if (own && *own)
        snprintf(dir, sizeof dir, "%s", own);
    else
        snprintf(dir, sizeof dir, "%s/all-MiniLM-L6-v2",
                 ifs_test_env("IFS_MODELS_DIR", ".cache/models"));
    ifs_wts_model *m = ifs_wts_load(dir, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    if (!m) {
        printf("skip the real all-MiniLM-L6-v2 checkpoint is not there (%s)\n", err);
        return;
    }
    ifs_bert_weights w = *ifs_wts_weights(m);
    const int H = w.cfg.hidden;
    rng_seed(99);
    float *pw = NULL, *pb = NULL, *cw = malloc(sizeof(float) * 2 * H),
          *cb = malloc(sizeof(float) * 2);
    if (!w.pool_w) { /* the pooler is in the checkpoint; a random one if not */
        pw = malloc(sizeof(float) * H * H);
        pb = calloc(H, sizeof(float));
        for (int i = 0; i < H * H; i++)
            pw[i] = rng_normal() / sqrtf((float)H);
        w.pool_w = pw;
        w.pool_b = pb;
    }
    for (int i = 0; i < 2 * H; i++)
        cw[i] = 2.0f * rng_normal() / sqrtf((float)H);
    cb[0] = 0.05f;
    cb[1] = -0.05f;
    w.cls_w = cw;
    w.cls_b = cb;
    w.cfg.num_labels = 2;
    parity_case("the real all-MiniLM-L6-v2 encoder in f32 matches the cpu backend", &w, IFS_DT_F32,
                0);
    parity_case("the real all-MiniLM-L6-v2 encoder in f16 matches the cpu backend", &w, IFS_DT_F16,
                0);
    parity_case("the real all-MiniLM-L6-v2 encoder in bf16 matches the cpu backend", &w,
                IFS_DT_BF16, 0);
    free(pw);
    free(pb);
    free(cw);
    free(cb);
    ifs_wts_free(m);
}

int main(void)
{
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        /* What can be checked without a device: the backend says so plainly. */
        synth m;
        synth_model(&m, 64, 2, 128, 1, IFS_ACT_GELU, 2, 1);
        ifs_backend *b = NULL;
        char err[512] = "";
        int rc = ifs_backend_create("cuda", &m.w, NULL, &b, err, sizeof err);
        IFS_CHECK(rc == IFS_BK_EUNSUP && b == NULL && strstr(err, "no CUDA device"),
                  "without a device, creating the cuda backend gave %d: '%s'", rc, err);
        IFS_CHECK(!ifs_backend_available("cuda"), "cuda reported available without a device");
        synth_free(&m);
        if (ifs_test_failures)
            return ifs_test_done("cuda_model");
        IFS_SKIP("no CUDA device visible: the CUDA whole-model tests did not run "
                 "(checked only that the backend refuses plainly: %s)",
                 err);
    }
    cudaSetDevice(0);
    cudaFree(0); /* make the context now, so memory measurements exclude it */
    static const struct {
        const char *shape;
        int hidden, heads, inter, layers;
        ifs_act act;
        int labels, types;
    } shapes[] = {
        {"minilm-l6 shape (384, 12 heads of 32, 6 layers, gelu)", 384, 12, 1536, 6, IFS_ACT_GELU, 2,
         0},
        {"bert-base width (768, 12 heads of 64, 2 layers, tanh gelu, 3 labels, types)", 768, 12,
         3072, 2, IFS_ACT_GELU_TANH, 3, 1},
        {"odd shape (192, 4 heads of 48, 2 layers, relu)", 192, 4, 768, 2, IFS_ACT_RELU, 2, 0},
        {"bert-large width (1024, 16 heads of 64, 1 layer, gelu)", 1024, 16, 4096, 1, IFS_ACT_GELU,
         2, 0},
    };
    static const ifs_dtype dts[] = {IFS_DT_F32, IFS_DT_F16, IFS_DT_BF16};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        synth m;
        synth_model(&m, shapes[i].hidden, shapes[i].heads, shapes[i].inter, shapes[i].layers,
                    shapes[i].act, shapes[i].labels, 42 + i);
        for (size_t d = 0; d < 3; d++) {
            char name[256];
            snprintf(name, sizeof name, "%s in %s matches the cpu backend", shapes[i].shape,
                     dt_name(dts[d]));
            parity_case(name, &m.w, dts[d], shapes[i].types);
        }
        if (i == 0) {
            size_t H = 384, I = 1536, V = 2000;
            size_t weight_bytes = 4 * (V * H + 512 * H + 6 * (4 * H * H + 2 * H * I) + H * H);
            check_batch_invariance(&m.w);
            check_nan_is_named(&m.w, IFS_DT_F32);
            check_nan_is_named(&m.w, IFS_DT_F16);
            check_encode(&m.w, IFS_DT_F32);
            check_encode(&m.w, IFS_DT_F16);
            check_shared_weights(&m.w, weight_bytes);
            check_budget_and_device(&m.w);
        }
        synth_free(&m);
    }
    check_real_minilm();
    return ifs_test_done("cuda_model");
}
