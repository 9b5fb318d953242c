/*
 * cpu_backend.c - the "cpu" backend: BertForSequenceClassification in fp32
 * on packed variable-length batches, built only from the ops of
 * ifs_cpu_ops.h and run over a small thread pool.
 *
 * The way through one forward call:
 *   embeddings + LayerNorm                      row chunks
 *   per layer but the last:
 *     Q|K|V = x Wqkv^T + b                      128-row blocks of each weight
 *     attention per (sequence, head)            one task each, packed rows
 *     x = LN(ctx Wao^T + b + x)                 row blocks, then row chunks
 *     x = LN(gelu(x Wi^T + b) Wo^T + b + x)     row blocks, then row chunks
 *   last layer: K and V for every row, but Q, attention output, LayerNorms
 *     and the feed-forward for the [CLS] rows only, since the pooler reads
 *     nothing else (the same arithmetic per row, a sixth less work on MiniLM)
 *   pooler (dense + tanh on [CLS]) and classifier.
 *
 * Decisions:
 *   - Threads: our pool, with OpenBLAS held to one thread. Every other op
 *     than a GEMM is split by rows or by (sequence, head) and computes each
 *     row on its own; no op reduces across tasks.
 *   - GEMM blocks follow the sequences: a sequence's token rows are cut into
 *     blocks of at most 128 rows counted from its own first token, and each
 *     [CLS] row (last layer, pooler, classifier) is a block of its own.
 *     OpenBLAS's sum for a row depends on the shape of the call and on the
 *     row's place in it, so this is what makes a sequence's logits
 *     bit-identical whatever it is batched with (the report's byte identity
 *     across batch budgets rests on it) and at any thread count. The cost:
 *     short sequences make small GEMMs, and the [CLS]-only rows are
 *     matrix-vector products (about 1% of a batch's work on MiniLM).
 *   - openblas_set_num_threads(1) is process-wide: a side effect of create,
 *     written down in the report and harmless to the rest of ifscore.
 *   - Scratch is sized once from opts (max_batch_tokens / max_batch_seqs)
 *     at create; forward allocates nothing.
 */
#include "backend_impl.h"
#include "cpu_pool.h"
#include "ifs_cpu_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    struct ifs_backend base; /* first: the dispatcher sees this */
    ifs_cpu_pool *pool;
    int n_threads;
    int max_len;                                    /* longest sequence the scratch allows */
    float *x, *qkv, *ctx, *tmp, *inter;             /* [T][...] */
    float *xc, *qc, *ctxc, *tmpc, *interc, *pooled; /* [S][...]: [CLS] rows */
    float *att;                                     /* [n_threads][max_len * max_len] */
    int64_t *tok_blocks; /* block starts over token rows (see below), n + 1 */
    int64_t *cls_blocks; /* 0, 1, ..., n_seqs: one block per [CLS] row */
} cpu_backend;

/* Everything a task needs; one struct for every stage keeps the task
 * functions short. Fields a stage does not use are left alone. */
typedef struct {
    cpu_backend *b;
    const ifs_batch *batch;
    const ifs_bert_layer *ly;
    int64_t rows;       /* rows of the current stage */
    int64_t chunk_rows; /* rows per row task */
    /* generic linear stage: y = act(x W^T + bias) */
    float *y;
    int64_t ldy;
    const float *in;
    int64_t ldx;
    const float *W, *bias;
    int k_in, n_out, act;
    /* layernorm stage: out = LN(x + bias + res) */
    float *ln_out;
    const float *ln_x, *ln_bias, *ln_res, *ln_g, *ln_b;
    int cls_only;          /* attention / qkv on [CLS] queries only */
    const int64_t *blocks; /* linear stage: row block boundaries, nb + 1 */
    int n_tok_blocks;      /* blocks of this batch's token rows */
} stage;

static void *alloc_floats(size_t n)
{
    void *p = NULL;
    if (n == 0)
        n = 1;
    if (posix_memalign(&p, 64, n * sizeof(float)))
        return NULL;
    return p;
}

/* GEMMs run over blocks of at most this many token rows, one sgemm each,
 * cut per sequence from its first token (see Decisions above). 128 rows keep
 * the per-call packing of the weight matrix a few percent of the work. */
#define ROW_BLOCK IFS_CPU_ROW_BLOCK

/* Block boundaries of the batch's token rows: every sequence start, then
 * every ROW_BLOCK rows inside a sequence. Returns the number of blocks. */
static int plan_token_blocks(const ifs_batch *batch, int64_t *starts)
{
    int n = 0;
    for (int32_t i = 0; i < batch->n_seqs; i++)
        for (int64_t r = batch->seq_off[i]; r < batch->seq_off[i + 1]; r += ROW_BLOCK)
            starts[n++] = r;
    starts[n] = batch->n_tokens;
    return n;
}

static void task_embed(void *vctx, int task, int thread)
{
    (void)thread;
    stage *s = vctx;
    const ifs_bert_weights *w = s->b->base.w;
    int64_t r0 = task * s->chunk_rows, r1 = r0 + s->chunk_rows;
    if (r1 > s->rows)
        r1 = s->rows;
    ifs_cpu_embed_layernorm(s->b->x, s->batch->input_ids, s->batch->type_ids, s->batch->seq_off,
                            s->batch->n_seqs, r0, r1, w->word_emb, w->pos_emb, w->type_emb,
                            w->emb_ln_g, w->emb_ln_b, w->cfg.hidden, w->cfg.ln_eps);
}

static void task_linear(void *vctx, int task, int thread)
{
    (void)thread;
    stage *s = vctx;
    int64_t r0 = s->blocks[task], r1 = s->blocks[task + 1];
    ifs_cpu_linear(s->y + r0 * s->ldy, s->ldy, s->in + r0 * s->ldx, s->ldx, s->W, s->bias, r1 - r0,
                   s->k_in, 0, s->n_out, s->act);
}

/* Q, K and V: three weights, each over row blocks (tasks [0, nq) are Q,
 * then K, then V). In a [CLS]-only layer Q reads the gathered [CLS] rows
 * (xc) and writes qc. */
static void task_qkv(void *vctx, int task, int thread)
{
    (void)thread;
    stage *s = vctx;
    cpu_backend *b = s->b;
    int H = b->base.w->cfg.hidden;
    int nkv = s->n_tok_blocks, nq = s->cls_only ? s->batch->n_seqs : nkv;
    if (task < nq) {
        const int64_t *blk = s->cls_only ? b->cls_blocks : b->tok_blocks;
        int64_t r0 = blk[task], r1 = blk[task + 1];
        if (s->cls_only)
            ifs_cpu_linear(b->qc + r0 * H, H, b->xc + r0 * H, H, s->ly->q_w, s->ly->q_b, r1 - r0, H,
                           0, H, -1);
        else
            ifs_cpu_linear(b->qkv + r0 * 3 * H, 3 * H, b->x + r0 * H, H, s->ly->q_w, s->ly->q_b,
                           r1 - r0, H, 0, H, -1);
        return;
    }
    task -= nq;
    int part = task / nkv; /* 0 = K, 1 = V */
    int64_t r0 = b->tok_blocks[task % nkv], r1 = b->tok_blocks[task % nkv + 1];
    const float *W = part ? s->ly->v_w : s->ly->k_w, *bias = part ? s->ly->v_b : s->ly->k_b;
    ifs_cpu_linear(b->qkv + r0 * 3 * H + (part + 1) * H, 3 * H, b->x + r0 * H, H, W, bias, r1 - r0,
                   H, 0, H, -1);
}

static void task_attention(void *vctx, int task, int thread)
{
    stage *s = vctx;
    cpu_backend *b = s->b;
    const ifs_bert_config *c = &b->base.w->cfg;
    int H = c->hidden, d = H / c->n_heads;
    int seq = task / c->n_heads, h = task % c->n_heads;
    int64_t off = s->batch->seq_off[seq];
    int L = s->batch->seq_off[seq + 1] - (int32_t)off;
    float scale = 1.0f / sqrtf((float)d);
    const float *kv = b->qkv + off * 3 * H;
    float *scratch = b->att + (size_t)thread * b->max_len * b->max_len;
    if (s->cls_only)
        ifs_cpu_attention_head(b->ctxc + (int64_t)seq * H + h * d, H,
                               b->qc + (int64_t)seq * H + h * d, H, kv + H + h * d,
                               kv + 2 * H + h * d, 3 * H, 1, L, d, scale, scratch);
    else
        ifs_cpu_attention_head(b->ctx + off * H + h * d, H, kv + h * d, 3 * H, kv + H + h * d,
                               kv + 2 * H + h * d, 3 * H, L, L, d, scale, scratch);
}

static void task_layernorm(void *vctx, int task, int thread)
{
    (void)thread;
    stage *s = vctx;
    int H = s->b->base.w->cfg.hidden;
    int64_t r0 = task * s->chunk_rows, r1 = r0 + s->chunk_rows;
    if (r1 > s->rows)
        r1 = s->rows;
    ifs_cpu_add_bias_residual_layernorm(s->ln_out + r0 * H, s->ln_x + r0 * H, s->ln_bias,
                                        s->ln_res + r0 * H, s->ln_g, s->ln_b, r1 - r0, H,
                                        s->b->base.w->cfg.ln_eps);
}

static void task_tanh(void *vctx, int task, int thread)
{
    (void)thread;
    stage *s = vctx;
    int H = s->b->base.w->cfg.hidden;
    int64_t r0 = task * s->chunk_rows, r1 = r0 + s->chunk_rows;
    if (r1 > s->rows)
        r1 = s->rows;
    for (int64_t i = r0 * H; i < r1 * H; i++)
        s->y[i] = tanhf(s->y[i]);
}

/* Row tasks: about four per thread so uneven rows still balance, but never
 * below 8 rows each. Returns the number of tasks and sets s->chunk_rows. */
static int row_tasks(stage *s, int64_t rows)
{
    s->rows = rows;
    int64_t want = (int64_t)s->b->n_threads * 4;
    int64_t chunk = (rows + want - 1) / want;
    if (chunk < 8)
        chunk = 8;
    s->chunk_rows = chunk;
    return (int)((rows + chunk - 1) / chunk);
}

/* y = act(in W^T + bias) over the row blocks `blocks[0..nb]`. */
static void run_linear(cpu_backend *b, stage *s, const int64_t *blocks, int nb, float *y,
                       int64_t ldy, const float *in, int64_t ldx, const float *W, const float *bias,
                       int k_in, int n_out, int act)
{
    s->y = y;
    s->ldy = ldy;
    s->in = in;
    s->ldx = ldx;
    s->W = W;
    s->bias = bias;
    s->blocks = blocks;
    s->rows = blocks[nb];
    s->k_in = k_in;
    s->n_out = n_out;
    s->act = act;
    ifs_cpu_pool_run(b->pool, nb, task_linear, s);
}

static void run_layernorm(cpu_backend *b, stage *s, float *out, const float *x, const float *bias,
                          const float *res, const float *g, const float *beta, int64_t rows)
{
    s->ln_out = out;
    s->ln_x = x;
    s->ln_bias = bias;
    s->ln_res = res;
    s->ln_g = g;
    s->ln_b = beta;
    int n = row_tasks(s, rows);
    ifs_cpu_pool_run(b->pool, n, task_layernorm, s);
}

/* One encoder layer. In a [CLS]-only layer the rows after attention are the
 * n_seqs gathered [CLS] rows (xc); otherwise all n_tokens rows (x). */
static void run_layer(cpu_backend *b, stage *s, const ifs_bert_layer *ly, int cls_only)
{
    const ifs_bert_config *c = &b->base.w->cfg;
    int H = c->hidden, F = c->intermediate;
    const ifs_batch *batch = s->batch;
    s->ly = ly;
    s->cls_only = cls_only;
    if (cls_only)
        for (int32_t i = 0; i < batch->n_seqs; i++)
            memcpy(b->xc + (int64_t)i * H, b->x + (int64_t)batch->seq_off[i] * H,
                   sizeof(float) * H);
    int nq = cls_only ? batch->n_seqs : s->n_tok_blocks;
    ifs_cpu_pool_run(b->pool, nq + 2 * s->n_tok_blocks, task_qkv, s);
    ifs_cpu_pool_run(b->pool, batch->n_seqs * c->n_heads, task_attention, s);

    float *x = cls_only ? b->xc : b->x, *ctx = cls_only ? b->ctxc : b->ctx;
    float *tmp = cls_only ? b->tmpc : b->tmp, *inter = cls_only ? b->interc : b->inter;
    int64_t rows = cls_only ? batch->n_seqs : batch->n_tokens;
    const int64_t *blk = cls_only ? b->cls_blocks : b->tok_blocks;
    int nb = cls_only ? batch->n_seqs : s->n_tok_blocks;
    run_linear(b, s, blk, nb, tmp, H, ctx, H, ly->ao_w, NULL, H, H, -1);
    run_layernorm(b, s, x, tmp, ly->ao_b, x, ly->ln1_g, ly->ln1_b, rows);
    run_linear(b, s, blk, nb, inter, F, x, H, ly->i_w, ly->i_b, H, F, (int)c->act);
    run_linear(b, s, blk, nb, tmp, H, inter, F, ly->o_w, NULL, F, H, -1);
    run_layernorm(b, s, x, tmp, ly->o_b, x, ly->ln2_g, ly->ln2_b, rows);
}

/* Checks the lengths against the scratch, sets up the stage and runs the
 * embeddings into b->x. */
static int embed(cpu_backend *b, const ifs_batch *batch, stage *s)
{
    for (int32_t i = 0; i < batch->n_seqs; i++)
        if (batch->seq_off[i + 1] - batch->seq_off[i] > b->max_len) {
            snprintf(b->base.err, sizeof b->base.err,
                     "cpu: sequence %d is longer than the "
                     "backend's scratch allows (%d tokens)",
                     i, b->max_len);
            return IFS_BK_EARG;
        }
    memset(s, 0, sizeof *s);
    s->b = b;
    s->batch = batch;
    s->n_tok_blocks = plan_token_blocks(batch, b->tok_blocks);
    ifs_cpu_pool_run(b->pool, row_tasks(s, batch->n_tokens), task_embed, s);
    return IFS_BK_OK;
}

static int cpu_forward(ifs_backend *base, const ifs_batch *batch, float *logits, float *cls_hidden)
{
    cpu_backend *b = (cpu_backend *)base;
    const ifs_bert_weights *w = base->w;
    const ifs_bert_config *c = &w->cfg;
    int H = c->hidden, S = batch->n_seqs;
    stage s;
    int rc = embed(b, batch, &s);
    if (rc)
        return rc;
    for (int l = 0; l < c->n_layers; l++)
        run_layer(b, &s, &w->layers[l], l == c->n_layers - 1);
    if (c->n_layers == 0)
        for (int32_t i = 0; i < S; i++)
            memcpy(b->xc + (int64_t)i * H, b->x + (int64_t)batch->seq_off[i] * H,
                   sizeof(float) * H);
    if (cls_hidden)
        memcpy(cls_hidden, b->xc, sizeof(float) * (size_t)S * H);

    /* Pooler: tanh(xc Wp^T + bp); classifier: a few columns, one task. */
    run_linear(b, &s, b->cls_blocks, S, b->pooled, H, b->xc, H, w->pool_w, w->pool_b, H, H, -1);
    int n = row_tasks(&s, S);
    s.y = b->pooled;
    ifs_cpu_pool_run(b->pool, n, task_tanh, &s);
    for (int32_t i = 0; i < S; i++) /* one row per call, as every [CLS] row */
        ifs_cpu_linear(logits + (int64_t)i * c->num_labels, c->num_labels,
                       b->pooled + (int64_t)i * H, H, w->cls_w, w->cls_b, 1, H, 0, c->num_labels,
                       -1);
    return IFS_BK_OK;
}

/* The same per-row arithmetic as cpu_forward's layers, every row kept. */
static int cpu_encode(ifs_backend *base, const ifs_batch *batch, int n_layers, float *hidden)
{
    cpu_backend *b = (cpu_backend *)base;
    const ifs_bert_weights *w = base->w;
    stage s;
    int rc = embed(b, batch, &s);
    if (rc)
        return rc;
    for (int l = 0; l < n_layers; l++)
        run_layer(b, &s, &w->layers[l], 0);
    memcpy(hidden, b->x, sizeof(float) * (size_t)batch->n_tokens * w->cfg.hidden);
    return IFS_BK_OK;
}

static void cpu_destroy(ifs_backend *base)
{
    cpu_backend *b = (cpu_backend *)base;
    ifs_cpu_pool_free(b->pool);
    free(b->x);
    free(b->qkv);
    free(b->ctx);
    free(b->tmp);
    free(b->inter);
    free(b->xc);
    free(b->qc);
    free(b->ctxc);
    free(b->tmpc);
    free(b->interc);
    free(b->pooled);
    free(b->att);
    free(b->tok_blocks);
    free(b->cls_blocks);
}

static const ifs_backend_vt cpu_vt = {"cpu", cpu_forward, cpu_destroy, cpu_encode};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int ifs_cpu_backend_create(const ifs_bert_weights *w, const ifs_backend_opts *opts,
                           ifs_backend **out, char *err, size_t errlen)
{
    const ifs_bert_config *c = &w->cfg;
    if (opts->dtype != IFS_DT_F32) {
        seterr(err, errlen, "cpu backend computes in fp32 only (asked for dtype %d)",
               (int)opts->dtype);
        return IFS_BK_EUNSUP;
    }
    if (c->hidden <= 0 || c->n_heads <= 0 || c->hidden % c->n_heads || c->intermediate <= 0 ||
        c->num_labels <= 0 || c->n_layers < 0 || c->max_position <= 0) {
        seterr(err, errlen,
               "cpu backend: unusable config (hidden %d, heads %d, "
               "intermediate %d, labels %d, layers %d)",
               c->hidden, c->n_heads, c->intermediate, c->num_labels, c->n_layers);
        return IFS_BK_EARG;
    }
    int nt = opts->n_threads;
    if (nt <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        nt = cores > 0 ? (int)cores : 1;
    }
    if (nt > 256)
        nt = 256;

    cpu_backend *b = calloc(1, sizeof *b);
    if (!b) {
        seterr(err, errlen, "cpu backend: out of memory");
        return IFS_BK_ENOMEM;
    }
    b->base.vt = &cpu_vt;
    b->base.w = w;
    b->base.opts = *opts;
    b->base.opts.n_threads = nt;
    b->n_threads = nt;
    int64_t T = opts->max_batch_tokens, S = opts->max_batch_seqs;
    int64_t H = c->hidden, F = c->intermediate;
    b->max_len = c->max_position < T ? c->max_position : (int)T;
    b->x = alloc_floats(T * H);
    b->qkv = alloc_floats(T * 3 * H);
    b->ctx = alloc_floats(T * H);
    b->tmp = alloc_floats(T * H);
    b->inter = alloc_floats(T * F);
    b->xc = alloc_floats(S * H);
    b->qc = alloc_floats(S * H);
    b->ctxc = alloc_floats(S * H);
    b->tmpc = alloc_floats(S * H);
    b->interc = alloc_floats(S * F);
    b->pooled = alloc_floats(S * H);
    b->att = alloc_floats((size_t)nt * b->max_len * b->max_len);
    b->pool = ifs_cpu_pool_create(nt);
    /* token blocks: at most one per sequence plus one per ROW_BLOCK rows */
    b->tok_blocks = malloc(sizeof(int64_t) * (size_t)(S + T / ROW_BLOCK + 2));
    b->cls_blocks = malloc(sizeof(int64_t) * (size_t)(S + 1));
    if (b->cls_blocks)
        for (int64_t i = 0; i <= S; i++)
            b->cls_blocks[i] = i;
    if (!b->tok_blocks || !b->cls_blocks || !b->x || !b->qkv || !b->ctx || !b->tmp || !b->inter ||
        !b->xc || !b->qc || !b->ctxc || !b->tmpc || !b->interc || !b->pooled || !b->att ||
        !b->pool) {
        cpu_destroy(&b->base);
        free(b);
        seterr(err, errlen,
               "cpu backend: out of memory for scratch of %lld tokens x hidden "
               "%lld (lower max_batch_tokens)",
               (long long)T, (long long)H);
        return IFS_BK_ENOMEM;
    }
    /* Our pool owns the cores; OpenBLAS's own threads would oversubscribe
     * them and make the result depend on its partitioning. */
    openblas_set_num_threads(1);
    *out = &b->base;
    return IFS_BK_OK;
}
