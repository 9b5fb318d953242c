/*
 * bench_cuda_forward.c - forward-only throughput of the "cuda" backend on
 * real token ids, with the GPU's measured dense GEMM rate for MFU and the
 * device time of each stage of the forward pass.
 *
 *   bench_cuda_forward --ids ids.bin [--shape minilm|bert-base | --model DIR]
 *                      [--dtype f16|bf16|f32] [--max-batch-tokens 16384]
 *                      [--max-batch-seqs 512] [--handles 1|2] [--repeat 3]
 *                      [--min-seconds 2] [--label NAME] [--no-peak]
 *                      [--no-stages] [--out results.jsonl]
 *
 * ids.bin (written by bench_hf.py ids): int32 n_seqs, then per sequence
 * int32 len followed by len int32 ids ([CLS] ... [SEP], already truncated).
 * Sequences are sorted longest first and packed into batches of at most
 * max-batch-tokens tokens and max-batch-seqs sequences (the scheduler's
 * policy); --handles 2 runs two backend handles on the device from two
 * threads taking batches from one queue (two batches in flight).
 *
 * Weights: --shape builds a random checkpoint of that shape (throughput does
 * not depend on the values); --model loads a checkpoint (a missing
 * classifier gets a random 2-label head).
 *
 * Timing: one warm-up pass over every batch (plans, clocks), then at least
 * --repeat passes and at least --min-seconds of them; seconds is the median
 * pass (best_seconds the fastest). Then, unless --no-stages, one more pass
 * on one handle with per-stage CUDA events (ifs_cuda_backend_profile): the
 * device milliseconds of each stage (embeddings, each GEMM, attention,
 * LayerNorms, GELU, the [CLS]-only last layer, pooler, copies) and its
 * share, so that a throughput short of its goal can be laid at a kernel.
 * Unless --no-peak, the dense GEMM ceiling of the compute dtype,
 * ifs_backend_gemm_peak at 8192^3 on random operands (never zeros).
 *
 * Prints one JSON line (and appends it to --out): GPU, SMs, driver and
 * runtime versions, shape, dtype, data, commit, seconds, sequences/s,
 * tokens/s, TFLOP/s of the work executed (see seq_flops), the ceiling and
 * MFU = their ratio, the stages. scripts/device_check.sh and run_bench.sh
 * add the HF peers' figures from the same run.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime_api.h>

#include "../../kernels/cuda/ifs_cuda_ops.h"
#include "ifs_backend.h"
#include "ifs_commit.h" /* IFS_GIT_COMMIT, written at build time */
#include "ifs_wts.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *fmt, const char *a)
{
    fprintf(stderr, "bench_cuda_forward: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    exit(1);
}

/* --- data ------------------------------------------------------------------------ */

typedef struct {
    int32_t n;
    int32_t *len;
    int32_t **ids;
} seqs;

static seqs read_ids(const char *path)
{
    seqs s;
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open %s", path);
    if (fread(&s.n, 4, 1, f) != 1 || s.n <= 0)
        die("%s: bad header", path);
    s.len = malloc(sizeof(int32_t) * s.n);
    s.ids = malloc(sizeof(int32_t *) * s.n);
    for (int32_t i = 0; i < s.n; i++) {
        if (fread(&s.len[i], 4, 1, f) != 1 || s.len[i] <= 0 || s.len[i] > 4096)
            die("%s: bad sequence length", path);
        s.ids[i] = malloc(sizeof(int32_t) * s.len[i]);
        if (fread(s.ids[i], 4, (size_t)s.len[i], f) != (size_t)s.len[i])
            die("%s: truncated", path);
    }
    fclose(f);
    return s;
}

/* qsort has no context argument: the lengths are reached through a global. */
static const int32_t *g_len;
static int cmp_idx(const void *a, const void *b)
{
    return g_len[*(const int32_t *)b] - g_len[*(const int32_t *)a]; /* longest first */
}

typedef struct {
    ifs_batch b;
    int32_t *ids, *off;
} pbatch;

static pbatch *make_batches(const seqs *s, int32_t max_tokens, int32_t max_seqs, int *n_out)
{
    int32_t *order = malloc(sizeof(int32_t) * s->n);
    for (int32_t i = 0; i < s->n; i++)
        order[i] = i;
    g_len = s->len;
    qsort(order, s->n, sizeof(int32_t), cmp_idx);
    pbatch *out = NULL;
    int n = 0;
    for (int32_t i = 0; i < s->n;) {
        int32_t j = i, tok = 0;
        while (j < s->n && j - i < max_seqs && tok + s->len[order[j]] <= max_tokens)
            tok += s->len[order[j++]];
        if (j == i)
            die("a sequence is longer than the token budget%s", "");
        out = realloc(out, sizeof(pbatch) * (n + 1));
        pbatch *p = &out[n++];
        p->ids = malloc(sizeof(int32_t) * tok);
        p->off = malloc(sizeof(int32_t) * (j - i + 1));
        p->off[0] = 0;
        for (int32_t k = i; k < j; k++) {
            int32_t q = order[k];
            memcpy(p->ids + p->off[k - i], s->ids[q], sizeof(int32_t) * s->len[q]);
            p->off[k - i + 1] = p->off[k - i] + s->len[q];
        }
        p->b.n_seqs = j - i;
        p->b.n_tokens = tok;
        p->b.input_ids = p->ids;
        p->b.type_ids = NULL;
        p->b.seq_off = p->off;
        i = j;
    }
    free(order);
    *n_out = n;
    return out;
}

/* --- model -------------------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static float rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((rng >> 11) * (1.0 / 9007199254740992.0) - 0.5) * 0.1;
}

static float *filled(size_t n)
{
    float *p = malloc(sizeof(float) * n);
    if (!p)
        die("out of memory%s", "");
    for (size_t i = 0; i < n; i++)
        p[i] = rnd();
    return p;
}

static float *ones(size_t n)
{
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        p[i] = 1.0f;
    return p;
}

/* A random checkpoint of a named shape (never freed: the process ends). */
static ifs_bert_weights *synth(const char *shape)
{
    ifs_bert_weights *w = calloc(1, sizeof *w);
    ifs_bert_config *c = &w->cfg;
    if (!strcmp(shape, "minilm")) {
        c->hidden = 384;
        c->n_layers = 6;
        c->n_heads = 12;
        c->intermediate = 1536;
    } else if (!strcmp(shape, "bert-base")) {
        c->hidden = 768;
        c->n_layers = 12;
        c->n_heads = 12;
        c->intermediate = 3072;
    } else {
        die("unknown shape %s (minilm, bert-base)", shape);
    }
    c->vocab_size = 30522;
    c->max_position = 512;
    c->type_vocab = 2;
    c->num_labels = 2;
    c->ln_eps = 1e-12f;
    c->act = IFS_ACT_GELU;
    size_t H = c->hidden, I = c->intermediate;
    w->word_emb = filled(c->vocab_size * H);
    w->pos_emb = filled(c->max_position * H);
    w->type_emb = filled(2 * H);
    w->emb_ln_g = ones(H);
    w->emb_ln_b = filled(H);
    ifs_bert_layer *L = calloc(c->n_layers, sizeof *L);
    for (int l = 0; l < c->n_layers; l++) {
        L[l].q_w = filled(H * H);
        L[l].q_b = filled(H);
        L[l].k_w = filled(H * H);
        L[l].k_b = filled(H);
        L[l].v_w = filled(H * H);
        L[l].v_b = filled(H);
        L[l].ao_w = filled(H * H);
        L[l].ao_b = filled(H);
        L[l].ln1_g = ones(H);
        L[l].ln1_b = filled(H);
        L[l].i_w = filled(I * H);
        L[l].i_b = filled(I);
        L[l].o_w = filled(H * I);
        L[l].o_b = filled(H);
        L[l].ln2_g = ones(H);
        L[l].ln2_b = filled(H);
    }
    w->layers = L;
    w->pool_w = filled(H * H);
    w->pool_b = filled(H);
    w->cls_w = filled(2 * H);
    w->cls_b = filled(2);
    return w;
}

/* FLOPs the backend executes for one sequence of n tokens: every row of
 * every layer but the last, where only K/V (and Q) of every row and the
 * [CLS] row's attention, projections and feed-forward are computed. */
static double seq_flops(const ifs_bert_config *c, double n)
{
    double H = c->hidden, I = c->intermediate;
    double full = 2 * n * (4 * H * H + 2 * H * I) + 4 * n * n * H;
    double last = 2 * n * 3 * H * H + 4 * n * H + 2 * (H * H + 2 * H * I);
    return (c->n_layers - 1) * full + last + 2 * H * H + 2 * H * c->num_labels;
}

/* --- timing -------------------------------------------------------------------------- */

typedef struct {
    ifs_backend *b;
    pbatch *batches;
    int n_batches;
    int *next; /* shared queue position */
    pthread_mutex_t *lock;
    float *logits;
    int rc;
    char err[512];
} worker;

static void *work(void *p)
{
    worker *w = p;
    for (;;) {
        pthread_mutex_lock(w->lock);
        int i = (*w->next)++;
        pthread_mutex_unlock(w->lock);
        if (i >= w->n_batches)
            break;
        int rc = ifs_backend_forward(w->b, &w->batches[i].b, w->logits, NULL);
        if (rc) {
            w->rc = rc;
            snprintf(w->err, sizeof w->err, "%s", ifs_backend_error(w->b));
            break;
        }
    }
    return NULL;
}

static double run_pass(ifs_backend **h, int n_handles, pbatch *batches, int n_batches, float **lg)
{
    int next = 0;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    worker w[2];
    pthread_t th[2];
    double t0 = now();
    for (int k = 0; k < n_handles; k++) {
        w[k] = (worker){h[k], batches, n_batches, &next, &lock, lg[k], 0, ""};
        pthread_create(&th[k], NULL, work, &w[k]);
    }
    for (int k = 0; k < n_handles; k++)
        pthread_join(th[k], NULL);
    double t = now() - t0;
    for (int k = 0; k < n_handles; k++)
        if (w[k].rc)
            die("forward failed: %s", w[k].err);
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *ids_path = NULL, *shape = "minilm", *model = NULL, *out = NULL, *dts = "f16";
    const char *label = NULL;
    int32_t max_tokens = 16384, max_seqs = 512;
    int handles = 1, repeat = 3, want_peak = 1, want_stages = 1;
    double min_seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-peak")) {
            want_peak = 0;
            continue;
        }
        if (!strcmp(a, "--no-stages")) {
            want_stages = 0;
            continue;
        }
        if (!v)
            die("%s needs a value", a);
        if (!strcmp(a, "--ids"))
            ids_path = v;
        else if (!strcmp(a, "--shape"))
            shape = v;
        else if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--dtype"))
            dts = v;
        else if (!strcmp(a, "--max-batch-tokens"))
            max_tokens = atoi(v);
        else if (!strcmp(a, "--max-batch-seqs"))
            max_seqs = atoi(v);
        else if (!strcmp(a, "--handles"))
            handles = atoi(v);
        else if (!strcmp(a, "--repeat"))
            repeat = atoi(v);
        else if (!strcmp(a, "--min-seconds"))
            min_seconds = atof(v);
        else if (!strcmp(a, "--label"))
            label = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else
            die("unknown option %s", a);
        i++;
    }
    if (!ids_path)
        die("--ids FILE is required (see bench_hf.py ids)%s", "");
    if (handles < 1 || handles > 2)
        die("--handles must be 1 or 2%s", "");
    if (repeat < 1 || repeat > 1000)
        die("--repeat must be 1..1000%s", "");
    if (strcmp(dts, "f32") && strcmp(dts, "f16") && strcmp(dts, "bf16"))
        die("unknown --dtype %s", dts);
    ifs_dtype dt = !strcmp(dts, "f32")    ? IFS_DT_F32
                   : !strcmp(dts, "bf16") ? IFS_DT_BF16
                                          : IFS_DT_F16;
    if (!ifs_backend_available("cuda"))
        die("no usable CUDA device%s", "");

    ifs_bert_weights *w;
    char err[512];
    if (model) {
        ifs_wts_model *m = ifs_wts_load(model, IFS_WTS_ENCODER_ONLY, err, sizeof err);
        if (!m)
            die("%s", err);
        w = malloc(sizeof *w);
        *w = *ifs_wts_weights(m);
        if (!w->cls_w) {
            w->cls_w = filled(2 * (size_t)w->cfg.hidden);
            w->cls_b = filled(2);
            w->cfg.num_labels = 2;
        }
        if (!w->pool_w) {
            w->pool_w = filled((size_t)w->cfg.hidden * w->cfg.hidden);
            w->pool_b = filled(w->cfg.hidden);
        }
        shape = model;
    } else {
        w = synth(shape);
    }

    seqs s = read_ids(ids_path);
    int n_batches;
    pbatch *batches = make_batches(&s, max_tokens, max_seqs, &n_batches);
    double n_tokens = 0, flops = 0;
    int32_t longest = 0;
    for (int32_t i = 0; i < s.n; i++) {
        n_tokens += s.len[i];
        flops += seq_flops(&w->cfg, s.len[i]);
        if (s.len[i] > longest)
            longest = s.len[i];
    }

    ifs_backend_opts o = ifs_backend_default_opts();
    o.dtype = dt;
    o.max_batch_tokens = max_tokens;
    o.max_batch_seqs = max_seqs;
    ifs_backend *h[2] = {NULL, NULL};
    float *lg[2];
    for (int k = 0; k < handles; k++) {
        int rc = ifs_backend_create("cuda", w, &o, &h[k], err, sizeof err);
        if (rc)
            die("create: %s", err);
        lg[k] = malloc(sizeof(float) * max_seqs * w->cfg.num_labels);
    }
    /* warm-up: every batch once (GEMM plans, clocks) */
    run_pass(h, handles, batches, n_batches, lg);
    double *t = malloc(sizeof(double) * 1000), total = 0;
    int passes = 0;
    while (passes < 1000 && (passes < repeat || total < min_seconds)) {
        t[passes] = run_pass(h, handles, batches, n_batches, lg);
        total += t[passes++];
    }
    qsort(t, (size_t)passes, sizeof *t, cmp_double);
    const double med = passes % 2 ? t[passes / 2] : 0.5 * (t[passes / 2 - 1] + t[passes / 2]);
    const double best = t[0];

    /* per-stage device time, one profiled pass on one handle */
    char stages[2048] = "null";
    if (want_stages) {
        if (ifs_cuda_backend_profile(h[0], 1))
            die("profile: %s", ifs_backend_error(h[0]));
        run_pass(h, 1, batches, n_batches, lg);
        ifs_cuda_stage_times st;
        ifs_cuda_backend_profile_read(h[0], &st);
        ifs_cuda_backend_profile(h[0], 0);
        double sum = 0;
        for (int i = 0; i < IFS_CUDA_N_STAGES; i++)
            sum += st.ms[i];
        size_t n = (size_t)snprintf(stages, sizeof stages, "{\"total_ms\":%.3f,\"forwards\":%lld",
                                    sum, (long long)st.forwards);
        for (int i = 0; i < IFS_CUDA_N_STAGES && n < sizeof stages; i++)
            n += (size_t)snprintf(stages + n, sizeof stages - n,
                                  ",\"%s\":{\"ms\":%.3f,\"share\":%.4f}", ifs_cuda_stage_name(i),
                                  st.ms[i], sum > 0 ? st.ms[i] / sum : 0.0);
        if (n < sizeof stages)
            snprintf(stages + n, sizeof stages - n, "}");
    }
    for (int k = 0; k < handles; k++)
        ifs_backend_free(h[k]);

    double peak = 0;
    if (want_peak &&
        ifs_backend_gemm_peak("cuda", 0, dt, 8192, 8192, 8192, 10, &peak, err, sizeof err))
        die("gemm peak: %s", err);
    const double tflops = flops / med / 1e12;

    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    static char line[8192];
    snprintf(line, sizeof line,
             "{\"bench\":\"cuda_forward\",\"label\":\"%s\",\"commit\":\"%s\",\"host\":\"%s\","
             "\"gpu\":\"%s\",\"sms\":%d,\"cc\":\"%d.%d\",\"driver\":%d,\"runtime\":%d,"
             "\"shape\":\"%s\",\"hidden\":%d,\"layers\":%d,\"heads\":%d,\"intermediate\":%d,"
             "\"dtype\":\"%s\",\"data\":\"%s\",\"n_seqs\":%d,\"n_tokens\":%.0f,\"longest\":%d,"
             "\"max_batch_tokens\":%d,\"max_batch_seqs\":%d,\"handles\":%d,\"batches\":%d,"
             "\"passes\":%d,\"seconds\":%.4f,\"best_seconds\":%.4f,\"seqs_per_s\":%.1f,"
             "\"tokens_per_s\":%.0f,\"model_tflops\":%.2f,\"gemm_peak_tflops\":%.1f,"
             "\"gemm_peak_note\":\"cuBLASLt 8192^3 %s, random operands, median of 10\","
             "\"mfu\":%.4f,\"stages\":%s}",
             label ? label : shape, IFS_GIT_COMMIT, host, prop.name, prop.multiProcessorCount,
             prop.major, prop.minor, drv, rt, shape, w->cfg.hidden, w->cfg.n_layers, w->cfg.n_heads,
             w->cfg.intermediate, dts, ids_path, s.n, n_tokens, longest, max_tokens, max_seqs,
             handles, n_batches, passes, med, best, s.n / med, n_tokens / med, tflops, peak, dts,
             peak > 0 ? tflops / peak : 0.0, stages);
    puts(line);
    if (out) {
        FILE *f = fopen(out, "a");
        if (!f)
            die("cannot append to %s", out);
        fprintf(f, "%s\n", line);
        fclose(f);
    }
    free(t);
    return 0;
}
