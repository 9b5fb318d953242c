/*
 * train_top.c - AdamW fine-tuning of the top N encoder layers together with
 * the head (pooler + binary classifier), on the frozen hidden states that
 * enter the lowest trained layer.
 *
 * Why these layers: a frozen sentence-embedding encoder's [CLS] row does
 * not say how a text starts (a fragment of a question, then an answer, reads
 * like the answer), and a head on it stays near 0.72 accuracy on the
 * response set. Letting the top layers' attention choose what the [CLS]
 * row gathers is what moves it; the layers below stay frozen, so their
 * output is computed once (train-head's row cache) and a step costs only
 * the trained layers.
 *
 * The forward is the CPU backend's (kernels/cpu/cpu_backend.c), built from
 * the same ops of ifs_cpu_ops.h with the same GEMM blocks: every sequence's
 * rows in blocks of IFS_CPU_ROW_BLOCK from its first token, every [CLS]-only
 * row a block of its own, the fused bias + activation and bias + residual +
 * LayerNorm of the backend split only where the backward needs the value
 * in between (bit-identical: the same float operations in the same order).
 * So a checkpoint written from these parameters gives, under
 * `--backend cpu`, the logits training measured. Per trained layer:
 *
 *   lower layers  (every row)      Q|K|V, attention per (example, head),
 *                                  LN(ctx Wao^T + b + x), LN(act(.) Wo^T + b + .)
 *   top layer     K|V every row; Q, attention, the rest on [CLS] rows only
 *   head          tanh(cls Wp^T + bp) Wc^T + bc, per [CLS] row
 *
 * The backward (only here) is the chain rule over the saved activations;
 * the LayerNorm statistics are recomputed from the saved pre-norm sums.
 * Weight gradients are whole-minibatch GEMMs (their rounding does not
 * matter to the backend). No gradient flows into the frozen input rows.
 *
 * Determinism: a seeded shuffle and fixed-order sums (see train.c); OpenBLAS
 * itself single-threaded, our threads (t->n_threads) over tasks fixed by
 * the data alone (see "threads" below), so a seed gives the same bits at
 * any thread count; the thread count of the feature backend does not
 * change its rows either (cpu_backend.c).
 */
#include "ifs_cpu_ops.h"
#include "ifs_decide.h"
#include "ifs_train.h"
#include "train_impl.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- threads ----------------------------------------------------------
 *
 * Every parallel piece is a list of tasks fixed by the data alone (a GEMM
 * block of one example, an (example, head) pair, a fixed chunk of a weight
 * gradient's rows), each computed by one single-threaded call into its own
 * outputs; threads only choose which task they take next. So the bits do
 * not depend on the thread count. */
typedef void (*task_fn)(void *ctx, int task, int thread);

typedef struct {
    task_fn fn;
    void *ctx;
    int n_tasks, thread;
    atomic_int *next;
} par_arg;

static void *par_worker(void *v)
{
    par_arg *a = v;
    for (int t; (t = atomic_fetch_add(a->next, 1)) < a->n_tasks;)
        a->fn(a->ctx, t, a->thread);
    return NULL;
}

enum { MAX_THREADS = 64 };

static void par_for(int n_threads, int n_tasks, task_fn fn, void *ctx)
{
    if (n_threads > MAX_THREADS)
        n_threads = MAX_THREADS;
    if (n_threads > n_tasks)
        n_threads = n_tasks;
    if (n_threads <= 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    atomic_int next = 0;
    pthread_t th[MAX_THREADS];
    par_arg a[MAX_THREADS];
    int started = 1;
    for (int i = 0; i < n_threads; i++)
        a[i] = (par_arg){fn, ctx, n_tasks, i, &next};
    for (int i = 1; i < n_threads; i++, started++)
        if (pthread_create(&th[i], NULL, par_worker, &a[i]))
            break; /* fewer threads: same bits */
    par_worker(&a[0]);
    for (int i = 1; i < started; i++)
        pthread_join(th[i], NULL);
}

/* ---- parameters ------------------------------------------------------ */

enum { LAYER_TENSORS = 16, HEAD_TENSORS = 4 };

typedef struct {
    size_t off, count;
    int matrix; /* weight decay applies */
    int head;   /* the head's learning rate (else the layers') */
} slot;

/* Mutable views of one layer's 16 tensors, in ifs_bert_layer's order. */
typedef struct {
    float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *ao_w, *ao_b, *ln1_g, *ln1_b;
    float *i_w, *i_b, *o_w, *o_b, *ln2_g, *ln2_b;
} mlayer;

/* The one layout of the parameters, of their gradients and of Adam's
 * moments: per layer its 16 tensors, then the head's 4. s: [16 N + 4]. */
static size_t layout(int H, int F, int N, slot *s)
{
    const size_t h = (size_t)H, i = (size_t)F;
    const size_t lc[LAYER_TENSORS] = {h * h, h, h * h, h, h * h, h, h * h, h,
                                      h,     h, i * h, i, h * i, h, h,     h};
    static const int lm[LAYER_TENSORS] = {1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0};
    const size_t hc[HEAD_TENSORS] = {h * h, h, 2 * h, 2};
    static const int hm[HEAD_TENSORS] = {1, 0, 1, 0};
    size_t off = 0;
    int k = 0;
    for (int l = 0; l < N; l++)
        for (int j = 0; j < LAYER_TENSORS; j++, k++) {
            s[k] = (slot){off, lc[j], lm[j], 0};
            off += lc[j];
        }
    for (int j = 0; j < HEAD_TENSORS; j++, k++) {
        s[k] = (slot){off, hc[j], hm[j], 1};
        off += hc[j];
    }
    return off;
}

static int n_slots(int N)
{
    return LAYER_TENSORS * N + HEAD_TENSORS;
}

static mlayer mlayer_at(float *base, const slot *s)
{
    mlayer m;
    float **f[LAYER_TENSORS] = {&m.q_w,  &m.q_b,  &m.k_w,   &m.k_b,   &m.v_w, &m.v_b,
                                &m.ao_w, &m.ao_b, &m.ln1_g, &m.ln1_b, &m.i_w, &m.i_b,
                                &m.o_w,  &m.o_b,  &m.ln2_g, &m.ln2_b};
    for (int j = 0; j < LAYER_TENSORS; j++)
        *f[j] = base + s[j].off;
    return m;
}

static ifs_bert_layer as_layer(const mlayer *m)
{
    ifs_bert_layer L = {m->q_w,   m->q_b,   m->k_w, m->k_b, m->v_w, m->v_b, m->ao_w,  m->ao_b,
                        m->ln1_g, m->ln1_b, m->i_w, m->i_b, m->o_w, m->o_b, m->ln2_g, m->ln2_b};
    return L;
}

/* Mutable views of layer l of t (t->mem is the caller's to write). */
static mlayer mut_layer(const ifs_train_net *t, int H, int F, int l)
{
    slot s[LAYER_TENSORS + HEAD_TENSORS];
    layout(H, F, 1, s);
    const size_t per = s[LAYER_TENSORS].off; /* one layer's floats */
    return mlayer_at(t->mem + (size_t)l * per, s);
}

int ifs_train_net_alloc(ifs_train_net *t, const ifs_bert_config *cfg, int n_layers)
{
    memset(t, 0, sizeof *t);
    if (n_layers < 0 || n_layers > cfg->n_layers)
        return -1;
    slot *s = malloc((size_t)n_slots(n_layers) * sizeof *s);
    if (!s)
        return -1;
    size_t total = layout(cfg->hidden, cfg->intermediate, n_layers, s);
    t->mem = calloc(total, sizeof *t->mem);
    t->layers = malloc((size_t)(n_layers ? n_layers : 1) * sizeof *t->layers);
    if (!t->mem || !t->layers) {
        free(s);
        ifs_train_net_free(t);
        return -1;
    }
    t->n_layers = n_layers;
    t->n_params = total;
    for (int l = 0; l < n_layers; l++) {
        mlayer m = mlayer_at(t->mem, s + (size_t)l * LAYER_TENSORS);
        t->layers[l] = as_layer(&m);
    }
    const slot *h = s + (size_t)n_layers * LAYER_TENSORS;
    t->head.pool_w = t->mem + h[0].off;
    t->head.pool_b = t->mem + h[1].off;
    t->head.cls_w = t->mem + h[2].off;
    t->head.cls_b = t->mem + h[3].off;
    free(s);
    return 0;
}

void ifs_train_net_free(ifs_train_net *t)
{
    if (!t)
        return;
    free(t->mem);
    free(t->layers);
    memset(t, 0, sizeof *t);
}

void ifs_train_net_init(ifs_train_net *t, const ifs_bert_config *cfg, const ifs_bert_layer *top,
                        const float *pool_w, const float *pool_b, uint64_t seed)
{
    const int H = cfg->hidden, F = cfg->intermediate;
    slot s[LAYER_TENSORS + HEAD_TENSORS];
    layout(H, F, 1, s);
    for (int l = 0; l < t->n_layers && top; l++) {
        const ifs_bert_layer *L = &top[l];
        const float *src[LAYER_TENSORS] = {L->q_w,  L->q_b,  L->k_w,   L->k_b,   L->v_w, L->v_b,
                                           L->ao_w, L->ao_b, L->ln1_g, L->ln1_b, L->i_w, L->i_b,
                                           L->o_w,  L->o_b,  L->ln2_g, L->ln2_b};
        mlayer m = mut_layer(t, H, F, l);
        float *dst[LAYER_TENSORS] = {m.q_w,  m.q_b,  m.k_w,   m.k_b,   m.v_w, m.v_b,
                                     m.ao_w, m.ao_b, m.ln1_g, m.ln1_b, m.i_w, m.i_b,
                                     m.o_w,  m.o_b,  m.ln2_g, m.ln2_b};
        for (int j = 0; j < LAYER_TENSORS; j++)
            memcpy(dst[j], src[j], s[j].count * sizeof(float));
    }
    ifs_train_cls_init(&t->head, H, pool_w, pool_b, seed);
}

/* ---- activations' derivatives (the forward's are ifs_cpu_bias_act) ---- */

static float act_df(float x, ifs_act a)
{
    switch (a) {
    case IFS_ACT_GELU:
        return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) +
               x * 0.39894228040143268f * expf(-0.5f * x * x);
    case IFS_ACT_GELU_TANH: {
        const float c = 0.79788456080286536f;
        float th = tanhf(c * (x + 0.044715f * x * x * x));
        return 0.5f * (1.0f + th) +
               0.5f * x * (1.0f - th * th) * c * (1.0f + 3.0f * 0.044715f * x * x);
    }
    case IFS_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    }
    return 1.0f;
}

/* ---- work space ------------------------------------------------------- */

/* One trained layer's saved activations. Q: its query rows (every row, or
 * the b [CLS] rows of the top layer). */
typedef struct {
    float *qkv;           /* [R][3H]: Q (lower layers) | K | V */
    float *xq, *qc;       /* top layer: [b][H] [CLS] input rows, their queries */
    float *P;             /* attention probabilities, per (example, head) [Lq][L] */
    float *ctx, *s1, *h1; /* [Q][H]: context, pre-LN1 sum, LN1 output */
    float *u, *a;         /* [Q][F]: pre-activation (bias added), activation */
    float *s2, *out;      /* [Q][H]: pre-LN2 sum, layer output */
} lstate;

typedef struct {
    int H, NH, D, F, N, B; /* B: examples per call */
    int n_threads;
    int64_t R, maxL; /* rows per call, longest example */
    float eps, scale;
    ifs_act act;
    int b;                /* examples of the current call */
    int64_t *boff;        /* [B + 1] row offsets of the examples in xb */
    int64_t *poff;        /* [B + 1] offsets of each example's probabilities (per head) */
    int64_t *tblk, *cblk; /* token blocks (ntb + 1), [CLS] blocks 0..b */
    int ntb;
    float *xb;                  /* [R][H] the gathered input rows */
    float *xc;                  /* [B][H] their [CLS] rows (the head's input when N = 0) */
    lstate *ls;                 /* [N] */
    float *pooled, *logit, *dl; /* [B][H], [B][2], [B][2] */
    /* backward */
    float *dy, *dx;                    /* [R][H]: gradient at a layer's output / input */
    float *dqkv, *dqc;                 /* [R][3H], [B][H] */
    float *dctx, *dh1, *da, *dP, *tmp; /* [R][H], [R][H], [R][F], [threads][maxL^2], [B][H] */
    float *arena;
} work;

static void work_free(work *w)
{
    free(w->boff);
    free(w->poff);
    free(w->tblk);
    free(w->cblk);
    free(w->ls);
    free(w->arena);
    memset(w, 0, sizeof *w);
}

static int work_alloc(work *w, const ifs_bert_config *cfg, int N, int B, int64_t maxL,
                      int n_threads)
{
    memset(w, 0, sizeof *w);
    w->n_threads = n_threads < 1 ? 1 : n_threads > MAX_THREADS ? MAX_THREADS : n_threads;
    w->H = cfg->hidden;
    w->NH = cfg->n_heads;
    w->D = cfg->hidden / cfg->n_heads;
    w->F = cfg->intermediate;
    w->N = N;
    w->B = B;
    w->maxL = maxL;
    w->R = (int64_t)B * maxL;
    w->eps = cfg->ln_eps;
    w->scale = 1.0f / sqrtf((float)w->D);
    w->act = cfg->act;
    const size_t H = (size_t)w->H, F = (size_t)w->F, b = (size_t)B, r = (size_t)w->R;
    const size_t np = (size_t)w->NH * r * (size_t)maxL; /* probabilities, full layer */
    const size_t per_layer = r * 3 * H + 2 * b * H + np + r * (5 * H + 2 * F);
    const size_t total = r * H + b * H + (size_t)N * per_layer + b * H + 4 * b + 2 * r * H +
                         r * 3 * H + b * H + 2 * r * H + r * F +
                         (size_t)w->n_threads * (size_t)maxL * (size_t)maxL + b * H;
    w->boff = malloc((b + 1) * sizeof *w->boff);
    w->poff = malloc((b + 1) * sizeof *w->poff);
    w->tblk = malloc((r + b + 2) * sizeof *w->tblk);
    w->cblk = malloc((b + 1) * sizeof *w->cblk);
    w->ls = calloc((size_t)(N ? N : 1), sizeof *w->ls);
    w->arena = malloc(total * sizeof(float));
    if (!w->boff || !w->poff || !w->tblk || !w->cblk || !w->ls || !w->arena) {
        work_free(w);
        return -1;
    }
    for (size_t i = 0; i <= b; i++)
        w->cblk[i] = (int64_t)i;
    float *f = w->arena;
#define TAKE(p, n)                                                                                 \
    do {                                                                                           \
        (p) = f;                                                                                   \
        f += (n);                                                                                  \
    } while (0)
    TAKE(w->xb, r * H);
    TAKE(w->xc, b * H);
    for (int l = 0; l < N; l++) {
        lstate *s = &w->ls[l];
        TAKE(s->qkv, r * 3 * H);
        TAKE(s->xq, b * H);
        TAKE(s->qc, b * H);
        TAKE(s->P, np);
        TAKE(s->ctx, r * H);
        TAKE(s->s1, r * H);
        TAKE(s->h1, r * H);
        TAKE(s->u, r * F);
        TAKE(s->a, r * F);
        TAKE(s->s2, r * H);
        TAKE(s->out, r * H);
    }
    TAKE(w->pooled, b * H);
    TAKE(w->logit, 2 * b);
    TAKE(w->dl, 2 * b);
    TAKE(w->dy, r * H);
    TAKE(w->dx, r * H);
    TAKE(w->dqkv, r * 3 * H);
    TAKE(w->dqc, b * H);
    TAKE(w->dctx, r * H);
    TAKE(w->dh1, r * H);
    TAKE(w->da, r * F);
    TAKE(w->dP, (size_t)w->n_threads * (size_t)maxL * (size_t)maxL);
    TAKE(w->tmp, b * H);
#undef TAKE
    return 0;
}

/* Rows of examples idx[0..b) from X into w->xb, [CLS] rows into w->xc; the
 * token blocks as the backend plans them. */
static void gather(work *w, const float *X, const int64_t *off, const size_t *idx, int b)
{
    const size_t H = (size_t)w->H;
    int64_t r = 0, p = 0;
    w->b = b;
    w->ntb = 0;
    for (int e = 0; e < b; e++) {
        int64_t len = off[idx[e] + 1] - off[idx[e]];
        w->boff[e] = r;
        w->poff[e] = p;
        memcpy(w->xb + (size_t)r * H, X + (size_t)off[idx[e]] * H, (size_t)len * H * sizeof(float));
        memcpy(w->xc + (size_t)e * H, X + (size_t)off[idx[e]] * H, H * sizeof(float));
        for (int64_t k = 0; k < len; k += IFS_CPU_ROW_BLOCK)
            w->tblk[w->ntb++] = r + k;
        r += len;
        p += len * len; /* a lower layer's [L][L]; the top layer uses [1][L] of it */
    }
    w->boff[b] = r;
    w->poff[b] = p;
    w->tblk[w->ntb] = r;
}

typedef struct {
    float *y;
    int64_t ldy, ldx;
    const float *x, *W, *bias;
    int in, out, act;
    const int64_t *blk;
} lin_job;

static void lin_task(void *v, int i, int thread)
{
    (void)thread;
    const lin_job *j = v;
    ifs_cpu_linear(j->y + j->blk[i] * j->ldy, j->ldy, j->x + j->blk[i] * j->ldx, j->ldx, j->W,
                   j->bias, j->blk[i + 1] - j->blk[i], j->in, 0, j->out, j->act);
}

/* y = act(x W^T + bias) over row blocks blk[0..nb], as the backend's run_linear. */
static void lin_blocks(const work *w, float *y, int64_t ldy, const float *x, int64_t ldx,
                       const float *W, const float *bias, int in, int out, int act,
                       const int64_t *blk, int nb)
{
    lin_job j = {y, ldy, ldx, x, W, bias, in, out, act, blk};
    par_for(w->n_threads, nb, lin_task, &j);
}

/* s = tmp + bias + res (ifs_cpu_add_bias_residual_layernorm's sum, in its
 * order) kept in s, then out = LN(s): that function's result, bit for bit. */
static void sum_layernorm(float *out, float *s, const float *bias, const float *res, const float *g,
                          const float *beta, int64_t rows, int H, float eps)
{
    for (int64_t r = 0; r < rows; r++) {
        float *sr = s + r * H;
        const float *rr = res + r * H;
        for (int j = 0; j < H; j++)
            sr[j] = sr[j] + bias[j] + rr[j];
    }
    ifs_cpu_layernorm(out, s, g, beta, rows, H, eps);
}

typedef struct {
    work *w;
    const lstate *s;
    int cls_only;
} att_job;

/* Attention of one (example, head), as the backend's task_attention. */
static void att_fwd_task(void *v, int task, int thread)
{
    (void)thread;
    const att_job *j = v;
    const work *w = j->w;
    const lstate *s = j->s;
    const int H = w->H, D = w->D, NH = w->NH, e = task / NH, h = task % NH;
    const int64_t H3 = 3 * (int64_t)H, r0 = w->boff[e];
    const int L = (int)(w->boff[e + 1] - r0), Lq = j->cls_only ? 1 : L;
    const float *kv = s->qkv + r0 * H3;
    float *P = s->P + (size_t)NH * w->poff[e] + (size_t)h * Lq * L;
    if (j->cls_only)
        ifs_cpu_attention_head(s->ctx + (int64_t)e * H + h * D, H, s->qc + (int64_t)e * H + h * D,
                               H, kv + H + h * D, kv + 2 * H + h * D, H3, 1, L, D, w->scale, P);
    else
        ifs_cpu_attention_head(s->ctx + r0 * H + h * D, H, kv + h * D, H3, kv + H + h * D,
                               kv + 2 * H + h * D, H3, L, L, D, w->scale, P);
}

/* One trained layer over the gathered examples: x [R][H] in; s->out is
 * [R][H] (lower layer) or [b][H] (top layer: cls_only). */
static void layer_fwd(const ifs_bert_layer *ly, lstate *s, const float *x, work *w, int cls_only)
{
    const int H = w->H, NH = w->NH, F = w->F, b = w->b;
    const int64_t H3 = 3 * (int64_t)H;
    if (!cls_only)
        lin_blocks(w, s->qkv, H3, x, H, ly->q_w, ly->q_b, H, H, -1, w->tblk, w->ntb);
    lin_blocks(w, s->qkv + H, H3, x, H, ly->k_w, ly->k_b, H, H, -1, w->tblk, w->ntb);
    lin_blocks(w, s->qkv + 2 * H, H3, x, H, ly->v_w, ly->v_b, H, H, -1, w->tblk, w->ntb);
    if (cls_only) {
        for (int e = 0; e < b; e++)
            memcpy(s->xq + (size_t)e * H, x + (size_t)w->boff[e] * H, sizeof(float) * (size_t)H);
        lin_blocks(w, s->qc, H, s->xq, H, ly->q_w, ly->q_b, H, H, -1, w->cblk, b);
    }
    att_job aj = {w, s, cls_only};
    par_for(w->n_threads, b * NH, att_fwd_task, &aj);
    const int64_t *blk = cls_only ? w->cblk : w->tblk;
    const int nb = cls_only ? b : w->ntb;
    const int64_t rows = cls_only ? b : w->boff[b];
    const float *xq = cls_only ? s->xq : x;
    lin_blocks(w, s->s1, H, s->ctx, H, ly->ao_w, NULL, H, H, -1, blk, nb);
    sum_layernorm(s->h1, s->s1, ly->ao_b, xq, ly->ln1_g, ly->ln1_b, rows, H, w->eps);
    lin_blocks(w, s->u, F, s->h1, H, ly->i_w, ly->i_b, H, F, -1, blk, nb);
    memcpy(s->a, s->u, sizeof(float) * (size_t)rows * F);
    ifs_cpu_bias_act(s->a, F, NULL, rows, F, (int)w->act);
    lin_blocks(w, s->s2, H, s->a, F, ly->o_w, NULL, F, H, -1, blk, nb);
    sum_layernorm(s->out, s->s2, ly->o_b, s->h1, ly->ln2_g, ly->ln2_b, rows, H, w->eps);
}

/* Forward over the gathered examples; logits into w->logit. Returns the
 * summed loss when y != NULL (and leaves dl = dloss/dlogits, unscaled). */
static double forward(const ifs_train_net *t, work *w, const int32_t *y, const size_t *idx,
                      float *p1)
{
    const int H = w->H, b = w->b, N = w->N;
    const float *x = w->xb;
    for (int l = 0; l < N; l++) {
        layer_fwd(&t->layers[l], &w->ls[l], x, w, l == N - 1);
        x = w->ls[l].out;
    }
    const float *cls = N ? w->ls[N - 1].out : w->xc;
    lin_blocks(w, w->pooled, H, cls, H, t->head.pool_w, t->head.pool_b, H, H, -1, w->cblk, b);
    for (size_t i = 0; i < (size_t)b * H; i++)
        w->pooled[i] = tanhf(w->pooled[i]);
    lin_blocks(w, w->logit, 2, w->pooled, H, t->head.cls_w, t->head.cls_b, H, 2, -1, w->cblk, b);
    double loss = 0.0;
    for (int e = 0; e < b; e++) {
        double z0 = w->logit[2 * e], z1 = w->logit[2 * e + 1];
        double m = z0 > z1 ? z0 : z1, lse = m + log(exp(z0 - m) + exp(z1 - m));
        double q1 = exp(z1 - lse);
        if (p1)
            p1[e] = (float)q1;
        if (y) {
            int lab = y[idx[e]];
            loss += lse - (lab ? z1 : z0);
            w->dl[2 * e] = (float)((1.0 - q1) - (lab == 0));
            w->dl[2 * e + 1] = (float)(q1 - (lab == 1));
        }
    }
    return loss;
}

/* ---- backward --------------------------------------------------------- */

static void col_sums(float *acc, const float *x, int64_t ldx, int64_t rows, int n)
{
    for (int64_t r = 0; r < rows; r++)
        for (int j = 0; j < n; j++)
            acc[j] += x[r * ldx + j];
}

/* Fixed task sizes of the gradient GEMMs (see "threads"). */
enum { GW_ROWS = 64, GX_ROWS = 256 };

typedef struct {
    float *out;
    const float *dy, *x;
    int64_t ld_out, ldy, ldx, rows;
    int n, k;
    float beta;
} gemm_job;

static void grad_w_task(void *v, int t, int thread)
{
    (void)thread;
    const gemm_job *j = v;
    const int n0 = t * GW_ROWS, n1 = n0 + GW_ROWS < j->n ? n0 + GW_ROWS : j->n;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n1 - n0, j->k, (int)j->rows, 1.0f,
                j->dy + n0, (int)j->ldy, j->x, (int)j->ldx, 1.0f, j->out + (int64_t)n0 * j->k,
                j->k);
}

/* dW[n][k] += dy[rows][n]^T x[rows][k], in chunks of GW_ROWS rows of dW */
static void grad_w(const work *w, float *dW, const float *dy, int64_t ldy, const float *x,
                   int64_t ldx, int64_t rows, int n, int k)
{
    if (rows <= 0)
        return;
    gemm_job j = {dW, dy, x, k, ldy, ldx, rows, n, k, 1.0f};
    par_for(w->n_threads, (n + GW_ROWS - 1) / GW_ROWS, grad_w_task, &j);
}

static void grad_x_task(void *v, int t, int thread)
{
    (void)thread;
    const gemm_job *j = v; /* x is W here */
    const int64_t r0 = (int64_t)t * GX_ROWS, r1 = r0 + GX_ROWS < j->rows ? r0 + GX_ROWS : j->rows;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r1 - r0), j->k, j->n, 1.0f,
                j->dy + r0 * j->ldy, (int)j->ldy, j->x, j->k, j->beta, j->out + r0 * j->ld_out,
                (int)j->ld_out);
}

/* dx[rows][k] = dy[rows][n] W[n][k] (+ dx when accumulate), in chunks of GX_ROWS rows */
static void grad_x(const work *w, float *dx, int64_t lddx, const float *dy, int64_t ldy,
                   const float *W, int64_t rows, int n, int k, int accumulate)
{
    if (rows <= 0)
        return;
    gemm_job j = {dx, dy, W, lddx, ldy, k, rows, n, k, accumulate ? 1.0f : 0.0f};
    par_for(w->n_threads, (int)((rows + GX_ROWS - 1) / GX_ROWS), grad_x_task, &j);
}

/* d in place: from d(LN(s)) to d(s), with LN's statistics recomputed from
 * the pre-norm sums s as ifs_cpu_layernorm computes them; accumulates dg,
 * dbeta. */
static void layernorm_bwd(float *d, const float *s, const float *g, float *dg, float *dbeta,
                          int64_t rows, int H, float eps)
{
    for (int64_t r = 0; r < rows; r++) {
        float *dr = d + r * H;
        const float *sr = s + r * H;
        float m, rs;
        ifs_cpu_layernorm_stats(sr, H, eps, &m, &rs);
        double m1 = 0.0, m2 = 0.0;
        for (int j = 0; j < H; j++) {
            float n = (sr[j] - m) * rs, dn = dr[j] * g[j];
            dg[j] += dr[j] * n;
            dbeta[j] += dr[j];
            m1 += dn;
            m2 += (double)dn * n;
        }
        m1 /= H;
        m2 /= H;
        for (int j = 0; j < H; j++) {
            float n = (sr[j] - m) * rs;
            dr[j] = rs * (dr[j] * g[j] - (float)m1 - n * (float)m2);
        }
    }
}

/* Attention backward of one (example, head): dP = dC V^T, dV = P^T dC,
 * dS = P (dP - rowsum(P dP)), dQ = scale dS K, dK = scale dS^T Q. Writes
 * only that pair's columns of dQ, dK, dV; dP is the thread's own. */
static void att_bwd_task(void *v, int task, int thread)
{
    const att_job *j = v;
    work *w = j->w;
    const lstate *s = j->s;
    const int cls_only = j->cls_only;
    const int H = w->H, D = w->D, NH = w->NH, e = task / NH, h = task % NH;
    const int64_t H3 = 3 * (int64_t)H, r0 = w->boff[e];
    const int L = (int)(w->boff[e + 1] - r0), Lq = cls_only ? 1 : L;
    const int64_t qrow = cls_only ? e : r0, ldq = cls_only ? H : H3;
    float *dP = w->dP + (size_t)thread * (size_t)w->maxL * (size_t)w->maxL;
    const float *P = s->P + (size_t)NH * w->poff[e] + (size_t)h * Lq * L;
    const float *dc = w->dctx + qrow * H + h * D;
    const float *q = (cls_only ? s->qc : s->qkv) + qrow * ldq + h * D;
    const float *k = s->qkv + r0 * H3 + H + h * D, *vv = k + H;
    float *dq = (cls_only ? w->dqc : w->dqkv) + qrow * ldq + h * D;
    float *dk = w->dqkv + r0 * H3 + H + h * D, *dv = dk + H;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Lq, L, D, 1.0f, dc, H, vv, (int)H3, 0.0f,
                dP, L);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, D, Lq, 1.0f, P, L, dc, H, 0.0f, dv,
                (int)H3);
    for (int i = 0; i < Lq; i++) {
        float *dpr = dP + (size_t)i * L;
        const float *pr = P + (size_t)i * L;
        double dot = 0.0;
        for (int jj = 0; jj < L; jj++)
            dot += (double)pr[jj] * dpr[jj];
        for (int jj = 0; jj < L; jj++)
            dpr[jj] = pr[jj] * (dpr[jj] - (float)dot);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Lq, D, L, w->scale, dP, L, k, (int)H3,
                0.0f, dq, (int)ldq);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, D, Lq, w->scale, dP, L, q, (int)ldq,
                0.0f, dk, (int)H3);
}

/* Backward through one trained layer. dy: d(output) [Q][H], consumed.
 * dx: [R][H] receives d(input) when non-NULL (it may not alias dy). */
static void layer_bwd(const ifs_bert_layer *ly, const mlayer *G, const lstate *s, const float *x,
                      work *w, int cls_only, float *dy, float *dx)
{
    const int H = w->H, NH = w->NH, F = w->F, b = w->b;
    const int64_t H3 = 3 * (int64_t)H, R = w->boff[b], Q = cls_only ? b : R;
    const float *xq = cls_only ? s->xq : x;
    /* LN2, output dense, activation, intermediate dense; dh1 = the residual path + FFN */
    layernorm_bwd(dy, s->s2, ly->ln2_g, G->ln2_g, G->ln2_b, Q, H, w->eps);
    grad_w(w, G->o_w, dy, H, s->a, F, Q, H, F);
    col_sums(G->o_b, dy, H, Q, H);
    grad_x(w, w->da, F, dy, H, ly->o_w, Q, H, F, 0);
    for (size_t i = 0; i < (size_t)Q * F; i++)
        w->da[i] *= act_df(s->u[i], w->act);
    grad_w(w, G->i_w, w->da, F, s->h1, H, Q, F, H);
    col_sums(G->i_b, w->da, F, Q, F);
    memcpy(w->dh1, dy, sizeof(float) * (size_t)Q * H);
    grad_x(w, w->dh1, H, w->da, F, ly->i_w, Q, F, H, 1);
    /* LN1, attention output dense; the residual goes to the query rows' input */
    layernorm_bwd(w->dh1, s->s1, ly->ln1_g, G->ln1_g, G->ln1_b, Q, H, w->eps);
    grad_w(w, G->ao_w, w->dh1, H, s->ctx, H, Q, H, H);
    col_sums(G->ao_b, w->dh1, H, Q, H);
    grad_x(w, w->dctx, H, w->dh1, H, ly->ao_w, Q, H, H, 0);
    /* attention per (example, head): dP = dC V^T, dV = P^T dC,
     * dS = P (dP - rowsum(P dP)), dQ = scale dS K, dK = scale dS^T Q */
    att_job aj = {w, s, cls_only};
    par_for(w->n_threads, b * NH, att_bwd_task, &aj);
    const float *dQ = cls_only ? w->dqc : w->dqkv;
    const int64_t lddq = cls_only ? H : H3;
    grad_w(w, G->q_w, dQ, lddq, xq, H, Q, H, H);
    col_sums(G->q_b, dQ, lddq, Q, H);
    grad_w(w, G->k_w, w->dqkv + H, H3, x, H, R, H, H);
    col_sums(G->k_b, w->dqkv + H, H3, R, H);
    grad_w(w, G->v_w, w->dqkv + 2 * H, H3, x, H, R, H, H);
    col_sums(G->v_b, w->dqkv + 2 * H, H3, R, H);
    if (!dx)
        return;
    grad_x(w, dx, H, w->dqkv + H, H3, ly->k_w, R, H, H, 0);
    grad_x(w, dx, H, w->dqkv + 2 * H, H3, ly->v_w, R, H, H, 1);
    if (!cls_only) {
        grad_x(w, dx, H, w->dqkv, H3, ly->q_w, R, H, H, 1);
        for (size_t i = 0; i < (size_t)R * H; i++)
            dx[i] += w->dh1[i];
    } else {
        grad_x(w, w->tmp, H, w->dqc, H, ly->q_w, b, H, H, 0);
        for (int e = 0; e < b; e++) {
            float *d = dx + w->boff[e] * H;
            const float *a = w->tmp + (size_t)e * H, *c = w->dh1 + (size_t)e * H;
            for (int j = 0; j < H; j++)
                d[j] += a[j] + c[j];
        }
    }
}

/* Gradients of the mean loss over the b examples of the last forward into
 * G (zeroed here). */
static void backward(const ifs_train_net *t, ifs_train_net *G, work *w)
{
    const int H = w->H, F = w->F, b = w->b, N = w->N;
    memset(G->mem, 0, G->n_params * sizeof(float));
    const float inv = 1.0f / (float)b;
    for (int i = 0; i < 2 * b; i++)
        w->dl[i] *= inv;
    /* classifier, tanh, pooler */
    float *dz = w->tmp;
    for (int e = 0; e < b; e++) {
        const float *x = w->pooled + (size_t)e * H;
        const float d0 = w->dl[2 * e], d1 = w->dl[2 * e + 1];
        float *d = dz + (size_t)e * H;
        for (int k = 0; k < H; k++) {
            G->head.cls_w[k] += d0 * x[k];
            G->head.cls_w[H + k] += d1 * x[k];
            d[k] = (d0 * t->head.cls_w[k] + d1 * t->head.cls_w[H + k]) * (1.0f - x[k] * x[k]);
        }
        G->head.cls_b[0] += d0;
        G->head.cls_b[1] += d1;
    }
    const float *cls = N ? w->ls[N - 1].out : w->xc;
    grad_w(w, G->head.pool_w, dz, H, cls, H, b, H, H);
    col_sums(G->head.pool_b, dz, H, b, H);
    if (!N)
        return;
    grad_x(w, w->dy, H, dz, H, t->head.pool_w, b, H, H, 0);
    for (int l = N - 1; l >= 0; l--) {
        mlayer g = mut_layer(G, H, F, l);
        const float *x = l ? w->ls[l - 1].out : w->xb;
        layer_bwd(&t->layers[l], &g, &w->ls[l], x, w, l == N - 1, w->dy, l ? w->dx : NULL);
        float *sw = w->dy;
        w->dy = w->dx;
        w->dx = sw;
    }
}

/* ---- driver ----------------------------------------------------------- */

/* Mean loss and accuracy over idx[0..n), in calls of at most w->B examples. */
static double eval_split(const ifs_train_net *t, work *w, const float *X, const int64_t *off,
                         const int32_t *y, const size_t *idx, size_t n, float *p1buf, double *acc)
{
    double loss = 0.0;
    size_t correct = 0;
    for (size_t i = 0; i < n; i += (size_t)w->B) {
        int b = (int)(n - i < (size_t)w->B ? n - i : (size_t)w->B);
        gather(w, X, off, idx + i, b);
        loss += forward(t, w, y, idx + i, p1buf);
        for (int e = 0; e < b; e++)
            correct +=
                (ifs_decide_answer(p1buf[e], IFS_DECIDE_DEFAULT_THRESHOLD) == (y[idx[i + e]] == 1));
    }
    if (acc)
        *acc = n ? (double)correct / (double)n : 0.0;
    return n ? loss / (double)n : 0.0;
}

static int64_t max_example_rows(const int64_t *off, size_t n)
{
    int64_t m = 1;
    for (size_t i = 0; i < n; i++)
        if (off[i + 1] - off[i] > m)
            m = off[i + 1] - off[i];
    return m;
}

typedef struct {
    ifs_train_net *t, G;
    const float *X;
    const int64_t *off;
    const int32_t *y;
    const ifs_train_opts *o;
    work w;
    slot *sl;
    int nsl;
    float *m, *v, *best, *p1;
} top_ctx;

static double top_step(void *vc, const size_t *idx, int b, int step)
{
    top_ctx *c = vc;
    gather(&c->w, c->X, c->off, idx, b);
    double loss = forward(c->t, &c->w, c->y, idx, NULL);
    backward(c->t, &c->G, &c->w);
    for (int k = 0; k < c->nsl; k++) {
        const slot *s = &c->sl[k];
        train_adamw(c->t->mem + s->off, c->G.mem + s->off, c->m + s->off, c->v + s->off, s->count,
                    s->head ? c->o->lr : c->o->layer_lr, c->o->weight_decay, step, s->matrix);
    }
    return loss;
}

static double top_eval(void *vc, const size_t *idx, size_t n, double *acc)
{
    top_ctx *c = vc;
    return eval_split(c->t, &c->w, c->X, c->off, c->y, idx, n, c->p1, acc);
}

static void top_keep(void *vc)
{
    top_ctx *c = vc;
    memcpy(c->best, c->t->mem, c->t->n_params * sizeof(float));
}

static void top_restore(void *vc)
{
    top_ctx *c = vc;
    memcpy(c->t->mem, c->best, c->t->n_params * sizeof(float));
}

int ifs_train_top(const ifs_bert_config *cfg, const float *X, const int64_t *off, const int32_t *y,
                  const uint8_t *split, size_t n, const ifs_train_opts *opts, ifs_train_net *t,
                  ifs_train_log *log, char *err, size_t errlen)
{
    ifs_train_opts o = opts ? *opts : ifs_train_default_opts();
    if (o.batch < 1)
        o.batch = 1;
    if (o.batch > 1024)
        o.batch = 1024;
    const size_t H = (size_t)cfg->hidden;
    for (size_t i = 0; i < n; i++) {
        if (off[i + 1] <= off[i]) {
            ifs_errf(err, errlen, 0, "example %zu has no rows", i);
            return -1;
        }
        for (size_t k = (size_t)off[i] * H; k < (size_t)off[i + 1] * H; k++)
            if (!isfinite(X[k])) {
                ifs_errf(err, errlen, 0, "example %zu has a non-finite hidden state", i);
                return -1;
            }
    }
    top_ctx c = {.t = t, .X = X, .off = off, .y = y, .o = &o};
    c.nsl = n_slots(t->n_layers);
    c.sl = malloc((size_t)c.nsl * sizeof *c.sl);
    int grc = ifs_train_net_alloc(&c.G, cfg, t->n_layers);
    size_t np = t->n_params;
    float *buf = calloc(3 * np, sizeof(float)); /* m | v | best */
    c.p1 = malloc((size_t)o.batch * sizeof *c.p1);
    int wrc = work_alloc(&c.w, cfg, t->n_layers, o.batch, max_example_rows(off, n), t->n_threads);
    if (!c.sl || grc || !buf || !c.p1 || wrc) {
        free(c.sl);
        free(buf);
        free(c.p1);
        ifs_train_net_free(&c.G);
        work_free(&c.w);
        ifs_errf(err, errlen, 0, "out of memory");
        return -1;
    }
    layout(cfg->hidden, cfg->intermediate, t->n_layers, c.sl);
    c.m = buf;
    c.v = c.m + np;
    c.best = c.v + np;
    train_model mod = {&c, top_step, top_eval, top_keep, top_restore};
    int rc = train_run(&mod, y, split, n, &o, log, err, errlen);
    free(c.sl);
    free(buf);
    free(c.p1);
    ifs_train_net_free(&c.G);
    work_free(&c.w);
    return rc;
}

double ifs_train_net_loss_grad(const ifs_train_net *t, const ifs_bert_config *cfg, const float *X,
                               const int64_t *off, const int32_t *y, size_t n, ifs_train_net *grad)
{
    work w;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx || n == 0 || n > INT32_MAX ||
        work_alloc(&w, cfg, t->n_layers, (int)n, max_example_rows(off, n), t->n_threads)) {
        free(idx);
        return NAN;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    int saved_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    gather(&w, X, off, idx, (int)n);
    double loss = forward(t, &w, y, idx, NULL) / (double)n;
    backward(t, grad, &w);
    openblas_set_num_threads(saved_threads);
    work_free(&w);
    free(idx);
    return loss;
}

int ifs_train_net_logits(const ifs_train_net *t, const ifs_bert_config *cfg, const float *X,
                         const int64_t *off, size_t n, float *logits)
{
    enum { CHUNK = 64 };
    work w;
    if (work_alloc(&w, cfg, t->n_layers, CHUNK, max_example_rows(off, n), t->n_threads))
        return -1;
    int saved_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    size_t idx[CHUNK];
    for (size_t i = 0; i < n; i += CHUNK) {
        int b = (int)(n - i < CHUNK ? n - i : CHUNK);
        for (int e = 0; e < b; e++)
            idx[e] = i + (size_t)e;
        gather(&w, X, off, idx, b);
        forward(t, &w, NULL, idx, NULL);
        memcpy(logits + 2 * i, w.logit, sizeof(float) * 2 * (size_t)b);
    }
    openblas_set_num_threads(saved_threads);
    work_free(&w);
    return 0;
}

void ifs_train_net_predict(const ifs_train_net *t, const ifs_bert_config *cfg, const float *X,
                           const int64_t *off, size_t n, float *p1)
{
    float *lg = malloc(sizeof(float) * 2 * (n ? n : 1));
    if (!lg || ifs_train_net_logits(t, cfg, X, off, n, lg)) {
        for (size_t i = 0; i < n; i++)
            p1[i] = NAN; /* out of memory: no prediction */
        free(lg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double z0 = lg[2 * i], z1 = lg[2 * i + 1];
        double m = z0 > z1 ? z0 : z1, lse = m + log(exp(z0 - m) + exp(z1 - m));
        p1[i] = (float)exp(z1 - lse);
    }
    free(lg);
}
