/*
 * cuda_paths.c - every kernel path of the cuda backend on small models,
 * small enough to run under compute-sanitizer (memcheck, racecheck,
 * synccheck, initcheck: scripts/device_check.sh runs it under each), and
 * checked against the cpu backend, so that a run under a tool proves the
 * path it exercised also computed the right thing:
 *
 *   - wmma attention at head dims 32 and 64 (f16, bf16) over sequences of
 *     1 to 130 tokens (one and several, full and partial tiles), the
 *     generic kernel at head dims 48 and 25 and in f32;
 *   - LayerNorm warp kernels (hidden 64, 128, 96, and 100 in f32) and block
 *     kernels (hidden 100 in f16/bf16: not a multiple of 8);
 *   - bias + GELU in 16-byte vectors (intermediate 128, 200) and element by
 *     element (intermediate 150), and relu in the GEMM epilogue;
 *   - forward and encode, [CLS]-only last layer, token types;
 *   - two handles on one device (one weight copy, two streams) running
 *     from two threads at once, giving the same logits as each alone.
 *
 * Tolerances are cuda_model.c's: f32 within 1e-3, f16 0.02 + 0.02|ref|,
 * bf16 0.1 + 0.05|ref|. Without a CUDA device it says so and exits 77.
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
    ifs_bert_layer layers[4];
    float *arrays[128];
    int n_arrays;
} model;

static const float *arr(model *m, size_t n, float mean, float sd)
{
    float *p = malloc(sizeof(float) * n);
    if (!p || m->n_arrays == 128)
        exit(1);
    for (size_t i = 0; i < n; i++)
        p[i] = mean + sd * rng_normal();
    m->arrays[m->n_arrays++] = p;
    return p;
}

static void make_model(model *m, int H, int heads, int I, int n_layers, ifs_act act, int labels,
                       uint64_t seed)
{
    memset(m, 0, sizeof *m);
    rng_seed(seed);
    ifs_bert_config *c = &m->w.cfg;
    c->vocab_size = 300;
    c->hidden = H;
    c->n_layers = n_layers;
    c->n_heads = heads;
    c->intermediate = I;
    c->max_position = 160;
    c->type_vocab = 2;
    c->num_labels = labels;
    c->ln_eps = 1e-12f;
    c->act = act;
    const float sh = 1.0f / sqrtf((float)H), si = 1.0f / sqrtf((float)I);
    m->w.word_emb = arr(m, (size_t)c->vocab_size * H, 0, 1);
    m->w.pos_emb = arr(m, (size_t)c->max_position * H, 0, 0.5f);
    m->w.type_emb = arr(m, 2 * (size_t)H, 0, 0.3f);
    m->w.emb_ln_g = arr(m, H, 1, 0.1f);
    m->w.emb_ln_b = arr(m, H, 0, 0.1f);
    for (int l = 0; l < n_layers; l++) {
        ifs_bert_layer *L = &m->layers[l];
        L->q_w = arr(m, (size_t)H * H, 0, 1.5f * sh);
        L->q_b = arr(m, H, 0, 0.1f);
        L->k_w = arr(m, (size_t)H * H, 0, 1.5f * sh);
        L->k_b = arr(m, H, 0, 0.1f);
        L->v_w = arr(m, (size_t)H * H, 0, sh);
        L->v_b = arr(m, H, 0, 0.1f);
        L->ao_w = arr(m, (size_t)H * H, 0, sh);
        L->ao_b = arr(m, H, 0, 0.1f);
        L->ln1_g = arr(m, H, 1, 0.1f);
        L->ln1_b = arr(m, H, 0, 0.1f);
        L->i_w = arr(m, (size_t)I * H, 0, sh);
        L->i_b = arr(m, I, 0, 0.1f);
        L->o_w = arr(m, (size_t)H * I, 0, si);
        L->o_b = arr(m, H, 0, 0.1f);
        L->ln2_g = arr(m, H, 1, 0.1f);
        L->ln2_b = arr(m, H, 0, 0.1f);
    }
    m->w.layers = m->layers;
    m->w.pool_w = arr(m, (size_t)H * H, 0, sh);
    m->w.pool_b = arr(m, H, 0, 0.1f);
    m->w.cls_w = arr(m, (size_t)labels * H, 0, 2.0f * sh);
    m->w.cls_b = arr(m, labels, 0, 0.1f);
}

static void free_model(model *m)
{
    for (int i = 0; i < m->n_arrays; i++)
        free(m->arrays[i]);
}

static const int32_t LENS[] = {1, 5, 64, 65, 130, 2, 17};
#define N_SEQS ((int)(sizeof LENS / sizeof LENS[0]))

typedef struct {
    int32_t ids[512], types[512], off[N_SEQS + 1];
    ifs_batch b;
} batch;

static void make_batch(batch *bt, int vocab, int with_types)
{
    rng_seed(3);
    bt->off[0] = 0;
    for (int s = 0; s < N_SEQS; s++) {
        bt->off[s + 1] = bt->off[s] + LENS[s];
        for (int32_t t = bt->off[s]; t < bt->off[s + 1]; t++) {
            bt->ids[t] = t == bt->off[s] ? 1 : 2 + (int32_t)(rng_u32() % (uint32_t)(vocab - 2));
            bt->types[t] = (t - bt->off[s]) * 2 > LENS[s];
        }
    }
    bt->b.n_seqs = N_SEQS;
    bt->b.n_tokens = bt->off[N_SEQS];
    bt->b.input_ids = bt->ids;
    bt->b.type_ids = with_types ? bt->types : NULL;
    bt->b.seq_off = bt->off;
}

static const char *dname(ifs_dtype dt)
{
    return dt == IFS_DT_F32 ? "f32" : dt == IFS_DT_F16 ? "f16" : "bf16";
}

static ifs_backend *make(const char *kind, const ifs_bert_weights *w, ifs_dtype dt)
{
    ifs_backend_opts o = ifs_backend_default_opts();
    o.dtype = dt;
    o.max_batch_tokens = 512;
    o.max_batch_seqs = 16;
    o.n_threads = 2;
    ifs_backend *b = NULL;
    char err[512] = "";
    int rc = ifs_backend_create(kind, w, &o, &b, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_OK, "create %s %s: %d %s", kind, dname(dt), rc, err);
    return b;
}

/* Count of values of got outside the dtype's budget around ref. */
static int off_budget(ifs_dtype dt, const float *got, const float *ref, size_t n, double *worst)
{
    const double atol = dt == IFS_DT_F32 ? 1e-3 : dt == IFS_DT_F16 ? 0.02 : 0.1;
    const double rtol = dt == IFS_DT_F32 ? 0 : dt == IFS_DT_F16 ? 0.02 : 0.05;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - ref[i]);
        bad += !(d <= atol + rtol * fabs(ref[i])); /* NaN counts */
        if (d > *worst || d != d)
            *worst = d;
    }
    return bad;
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
    for (int i = 0; i < 3 && j->rc == IFS_BK_OK; i++)
        j->rc = ifs_backend_forward(j->b, j->batch, j->logits, NULL);
    return NULL;
}

static void run_shape(const char *shape, const model *m, int with_types, int dtypes_mask)
{
    const int L = m->w.cfg.num_labels, H = m->w.cfg.hidden;
    batch bt;
    make_batch(&bt, m->w.cfg.vocab_size, with_types);
    const int S = bt.b.n_seqs, T = bt.b.n_tokens;
    float lc[N_SEQS * 3], lg[N_SEQS * 3], l2[N_SEQS * 3];
    float *cc = malloc(sizeof(float) * S * H), *cg = malloc(sizeof(float) * S * H);
    float *hc = malloc(sizeof(float) * T * H), *hg = malloc(sizeof(float) * T * H);
    ifs_backend *cpu = make("cpu", &m->w, IFS_DT_F32);
    if (!cpu || ifs_backend_forward(cpu, &bt.b, lc, cc) != IFS_BK_OK ||
        ifs_backend_encode(cpu, &bt.b, 1, hc) != IFS_BK_OK) {
        IFS_CHECK(0, "%s: cpu reference failed: %s", shape, ifs_backend_error(cpu));
        goto out;
    }
    for (int k = 0; k < 3; k++) {
        if (!(dtypes_mask & (1 << k)))
            continue;
        const ifs_dtype dt = (ifs_dtype)k;
        ifs_backend *a = make("cuda", &m->w, dt), *b = make("cuda", &m->w, dt);
        if (a && b) {
            double worst = 0;
            int rc = ifs_backend_forward(a, &bt.b, lg, cg);
            IFS_CHECK(rc == IFS_BK_OK, "%s %s forward: %s", shape, dname(dt), ifs_backend_error(a));
            int bad = off_budget(dt, lg, lc, (size_t)S * L, &worst) +
                      off_budget(dt, cg, cc, (size_t)S * H, &worst);
            rc = ifs_backend_encode(a, &bt.b, 1, hg);
            IFS_CHECK(rc == IFS_BK_OK, "%s %s encode: %s", shape, dname(dt), ifs_backend_error(a));
            bad += off_budget(dt, hg, hc, (size_t)T * H, &worst);
            IFS_CHECK(bad == 0, "%s %s: %d values off the cpu backend (worst %.3g)", shape,
                      dname(dt), bad, worst);
            /* two handles, two streams, two threads */
            job ja = {a, &bt.b, lg, IFS_BK_OK}, jb = {b, &bt.b, l2, IFS_BK_OK};
            float alone[N_SEQS * 3];
            memcpy(alone, lg, sizeof(float) * S * L);
            pthread_t th;
            pthread_create(&th, NULL, run_job, &jb);
            run_job(&ja);
            pthread_join(th, NULL);
            IFS_CHECK(ja.rc == IFS_BK_OK && jb.rc == IFS_BK_OK, "%s %s concurrent: %s / %s", shape,
                      dname(dt), ifs_backend_error(a), ifs_backend_error(b));
            const int same = !memcmp(lg, alone, sizeof(float) * S * L) &&
                             !memcmp(l2, alone, sizeof(float) * S * L);
            IFS_CHECK(same, "%s %s: two handles at once differ from one alone", shape, dname(dt));
            printf("%s %s in %s matches the cpu backend (worst %.3g), also two handles at once\n",
                   bad || !same ? "FAIL" : "ok  ", shape, dname(dt), worst);
        }
        ifs_backend_free(a);
        ifs_backend_free(b);
    }
out:
    ifs_backend_free(cpu);
    free(cc);
    free(cg);
    free(hc);
    free(hg);
}

int main(void)
{
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0)
        IFS_SKIP("no CUDA device visible: the kernel-path tests did not run");
    static const struct {
        const char *name;
        int H, heads, I, layers;
        ifs_act act;
        int labels, types, dtypes;
    } shapes[] = {
        {"hidden 64, head dim 32 (wmma), vector gelu over 128", 64, 2, 128, 2, IFS_ACT_GELU, 2, 0,
         7},
        {"hidden 128, head dim 64 (wmma), vector tanh gelu over 200, types, 3 labels", 128, 2, 200,
         2, IFS_ACT_GELU_TANH, 3, 1, 7},
        {"hidden 96, head dim 48 (generic), element gelu over 150", 96, 2, 150, 2, IFS_ACT_GELU, 2,
         0, 7},
        {"hidden 100, head dim 25 (generic), block layernorm, relu epilogue", 100, 4, 104, 2,
         IFS_ACT_RELU, 2, 0, 7},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        model m;
        make_model(&m, shapes[i].H, shapes[i].heads, shapes[i].I, shapes[i].layers, shapes[i].act,
                   shapes[i].labels, 50 + i);
        run_shape(shapes[i].name, &m, shapes[i].types, shapes[i].dtypes);
        free_model(&m);
    }
    return ifs_test_done("cuda_paths");
}
