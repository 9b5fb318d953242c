/*
 * train.c - AdamW training of a binary BERT head (pooler dense + tanh +
 * classifier) on frozen [CLS] features.
 *
 * Why a head on frozen features: the encoder is a pretrained checkpoint the
 * user brings; computing its features once and training ~150k parameters
 * takes seconds on a CPU, where fine-tuning the whole encoder would take
 * hours there. The pooler is trained too (not only the classifier) because
 * a sentence-embedding encoder's pretrained pooler was never trained for
 * this task.
 *
 * Determinism: OpenBLAS runs single-threaded while training (its threaded
 * GEMM may split reductions differently), the shuffle comes from a seeded
 * splitmix64, and every sum is in a fixed order, so a seed gives the same
 * bits every run on the same machine and library build.
 */
#include "ifs_decide.h"
#include "ifs_train.h"
#include "train_impl.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ifs_train_opts ifs_train_default_opts(void)
{
    ifs_train_opts o = {
        .epochs = 40, .batch = 64, .lr = 1e-3f, .layer_lr = 5e-5f, .weight_decay = 0.01f,
        .patience = 4, .seed = 1,
    };
    return o;
}

void ifs_head_init(ifs_head *h, int hidden, const float *pool_w_init,
                   const float *pool_b_init, uint64_t seed)
{
    uint64_t s = seed ^ 0x5EEDF00Dull;
    size_t hh = (size_t)hidden * hidden;
    if (pool_w_init) memcpy(h->pool_w, pool_w_init, hh * sizeof(float));
    else train_fill_normal(h->pool_w, hh, 0.02f, &s);
    if (pool_b_init) memcpy(h->pool_b, pool_b_init, (size_t)hidden * sizeof(float));
    else memset(h->pool_b, 0, (size_t)hidden * sizeof(float));
    train_fill_normal(h->cls_w, 2 * (size_t)hidden, 0.02f, &s);
    h->cls_b[0] = h->cls_b[1] = 0.0f;
}

/* ---- forward / backward over a minibatch ------------------------------ */

/* Rows of scratch: the largest minibatch, and the evaluation chunk. */
#define WORK_ROWS 256

typedef struct {
    int hidden;
    float *a, *hh, *dh;   /* [WORK_ROWS][hidden] */
    float *logit, *dl;    /* [WORK_ROWS][2] */
} work;

/* Rows idx[0..b) of X -> w->a; pooled -> w->hh; logits -> w->logit.
 * Returns the summed loss when y != NULL. */
static double forward(const ifs_head *h, const float *X, const size_t *idx, int b,
                      const int32_t *y, work *w, float *p1)
{
    int H = w->hidden;
    for (int r = 0; r < b; r++)
        memcpy(w->a + (size_t)r * H, X + idx[r] * (size_t)H, (size_t)H * sizeof(float));
    for (int r = 0; r < b; r++) memcpy(w->hh + (size_t)r * H, h->pool_b, (size_t)H * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, H, H, 1.0f, w->a, H,
                h->pool_w, H, 1.0f, w->hh, H);
    for (size_t i = 0; i < (size_t)b * H; i++) w->hh[i] = tanhf(w->hh[i]);
    double loss = 0.0;
    for (int r = 0; r < b; r++) {
        const float *x = w->hh + (size_t)r * H;
        double z0 = h->cls_b[0], z1 = h->cls_b[1];
        for (int k = 0; k < H; k++) {
            z0 += (double)h->cls_w[k] * x[k];
            z1 += (double)h->cls_w[H + k] * x[k];
        }
        w->logit[2 * r] = (float)z0;
        w->logit[2 * r + 1] = (float)z1;
        double m = z0 > z1 ? z0 : z1;
        double lse = m + log(exp(z0 - m) + exp(z1 - m));
        double q1 = exp(z1 - lse);
        if (p1) p1[r] = (float)q1;
        if (y) {
            loss += lse - (y[idx[r]] ? z1 : z0);
            w->dl[2 * r] = (float)((1.0 - q1) - (y[idx[r]] == 0));
            w->dl[2 * r + 1] = (float)(q1 - (y[idx[r]] == 1));
        }
    }
    return loss;
}

/* Mean loss (and accuracy) of h over the examples idx[0..n). */
static double eval_split(const ifs_head *h, const float *X, const int32_t *y,
                         const size_t *idx, size_t n, work *w, double *acc)
{
    double loss = 0.0;
    size_t correct = 0;
    float p1[WORK_ROWS];
    for (size_t i = 0; i < n; i += WORK_ROWS) {
        int b = (int)(n - i < WORK_ROWS ? n - i : WORK_ROWS);
        loss += forward(h, X, idx + i, b, y, w, p1);
        for (int r = 0; r < b; r++) correct += (ifs_decide_answer(p1[r], IFS_DECIDE_DEFAULT_THRESHOLD) == (y[idx[i + r]] == 1));
    }
    if (acc) *acc = n ? (double)correct / (double)n : 0.0;
    return n ? loss / (double)n : 0.0;
}

static int work_alloc(work *w, int hidden)
{
    size_t rows = WORK_ROWS, H = (size_t)hidden;
    w->hidden = hidden;
    w->a = malloc(rows * (3 * H + 4) * sizeof(float));
    if (!w->a) return -1;
    w->hh = w->a + rows * H;
    w->dh = w->hh + rows * H;
    w->logit = w->dh + rows * H;
    w->dl = w->logit + 2 * rows;
    return 0;
}

int train_run(const train_model *mod, const int32_t *y, const uint8_t *split, size_t n,
              const ifs_train_opts *o, ifs_train_log *log, char *err, size_t errlen)
{
    size_t n_tr = 0, n_va = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1) {
            train_seterr(err, errlen, "example %zu has label %d (a binary head needs 0 or 1)", i, y[i]);
            return -1;
        }
        n_tr += split[i] == IFS_SPLIT_TRAIN;
        n_va += split[i] == IFS_SPLIT_VALIDATION;
    }
    if (!n_tr || !n_va) {
        train_seterr(err, errlen, "need train and validation examples (have %zu and %zu)", n_tr, n_va);
        return -1;
    }
    size_t *tr = malloc(n_tr * sizeof *tr), *va = malloc(n_va * sizeof *va);
    if (!tr || !va) {
        free(tr); free(va);
        train_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0, a = 0, b = 0; i < n; i++) {
        if (split[i] == IFS_SPLIT_TRAIN) tr[a++] = i;
        else if (split[i] == IFS_SPLIT_VALIDATION) va[b++] = i;
    }
    int saved_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);

    uint64_t s = o->seed;
    double best_loss = INFINITY, best_acc = -1.0, last_train = 0.0;
    int best_epoch = 0, since_best = 0, epoch, step = 0, rc = 0;
    mod->keep_best(mod->ctx);
    for (epoch = 1; epoch <= o->epochs; epoch++) {
        for (size_t i = n_tr - 1; i > 0; i--) { /* Fisher-Yates */
            size_t j = (size_t)(train_splitmix64(&s) % (i + 1));
            size_t t = tr[i]; tr[i] = tr[j]; tr[j] = t;
        }
        double epoch_loss = 0.0;
        for (size_t i = 0; i < n_tr; i += (size_t)o->batch) {
            int b = (int)(n_tr - i < (size_t)o->batch ? n_tr - i : (size_t)o->batch);
            epoch_loss += mod->step(mod->ctx, tr + i, b, ++step);
        }
        last_train = epoch_loss / (double)n_tr;
        if (!isfinite(last_train)) {
            train_seterr(err, errlen, "training diverged at epoch %d (loss %g)", epoch, last_train);
            rc = -1;
            break;
        }
        double acc;
        double vl = mod->eval(mod->ctx, va, n_va, &acc);
        if (o->on_epoch) o->on_epoch(o->on_epoch_ctx, epoch, last_train, vl, acc);
        int better = o->select_accuracy ? acc > best_acc || (acc == best_acc && vl < best_loss)
                                        : vl < best_loss;
        if (better) {
            best_loss = vl;
            best_acc = acc;
            best_epoch = epoch;
            since_best = 0;
            mod->keep_best(mod->ctx);
        } else if (++since_best >= o->patience) {
            epoch++;
            break;
        }
    }
    openblas_set_num_threads(saved_threads);
    if (rc == 0) {
        mod->restore_best(mod->ctx);
        if (log) {
            log->epochs_run = epoch - 1;
            log->best_epoch = best_epoch;
            log->best_val_loss = best_loss;
            log->best_val_accuracy = best_acc;
            log->final_train_loss = last_train;
        }
    }
    free(tr);
    free(va);
    return rc;
}

/* ---- the head on [CLS] features ------------------------------------------ */

typedef struct {
    ifs_head *h;
    const float *X;
    const int32_t *y;
    const ifs_train_opts *o;
    int H;
    work w;
    float *g, *m, *v, *best; /* [nparam] each, laid out as pool_w | pool_b | cls_w | cls_b */
} head_ctx;

static double head_step(void *vc, const size_t *idx, int b, int step)
{
    head_ctx *c = vc;
    ifs_head *h = c->h;
    work *w = &c->w;
    const int H = c->H;
    const size_t hh = (size_t)H * H;
    float *gpw = c->g, *gpb = gpw + hh, *gcw = gpb + H, *gcb = gcw + 2 * (size_t)H;
    double loss = forward(h, c->X, idx, b, c->y, w, NULL);
    float inv = 1.0f / (float)b;
    for (int r = 0; r < 2 * b; r++) w->dl[r] *= inv;
    /* classifier grads */
    memset(gcw, 0, 2 * (size_t)H * sizeof(float));
    gcb[0] = gcb[1] = 0.0f;
    for (int r = 0; r < b; r++) {
        const float *x = w->hh + (size_t)r * H;
        for (int k = 0; k < H; k++) {
            gcw[k] += w->dl[2 * r] * x[k];
            gcw[H + k] += w->dl[2 * r + 1] * x[k];
        }
        gcb[0] += w->dl[2 * r];
        gcb[1] += w->dl[2 * r + 1];
    }
    /* back through tanh: dz = (dl . Cw) * (1 - hh^2) */
    for (int r = 0; r < b; r++) {
        float *d = w->dh + (size_t)r * H;
        const float *x = w->hh + (size_t)r * H;
        for (int k = 0; k < H; k++)
            d[k] = (w->dl[2 * r] * h->cls_w[k] + w->dl[2 * r + 1] * h->cls_w[H + k])
                   * (1.0f - x[k] * x[k]);
    }
    /* pooler grads: gpw = dz^T a, gpb = sum dz */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, b, 1.0f, w->dh, H, w->a, H,
                0.0f, gpw, H);
    for (int k = 0; k < H; k++) {
        float acc = 0.0f;
        for (int r = 0; r < b; r++) acc += w->dh[(size_t)r * H + k];
        gpb[k] = acc;
    }
    const float lr = c->o->lr, wd = c->o->weight_decay;
    float *m = c->m, *v = c->v;
    train_adamw(h->pool_w, gpw, m, v, hh, lr, wd, step, 1);
    train_adamw(h->pool_b, gpb, m + hh, v + hh, (size_t)H, lr, wd, step, 0);
    train_adamw(h->cls_w, gcw, m + hh + H, v + hh + H, 2 * (size_t)H, lr, wd, step, 1);
    train_adamw(h->cls_b, gcb, m + hh + 3 * (size_t)H, v + hh + 3 * (size_t)H, 2, lr, wd, step, 0);
    return loss;
}

static double head_eval(void *vc, const size_t *idx, size_t n, double *acc)
{
    head_ctx *c = vc;
    return eval_split(c->h, c->X, c->y, idx, n, &c->w, acc);
}

/* best <-> the head's four arrays */
static void head_copy(head_ctx *c, int to_best)
{
    const size_t H = (size_t)c->H, hh = H * H;
    float *p[4] = { c->h->pool_w, c->h->pool_b, c->h->cls_w, c->h->cls_b };
    const size_t cnt[4] = { hh, H, 2 * H, 2 };
    float *b = c->best;
    for (int k = 0; k < 4; b += cnt[k], k++) {
        if (to_best) memcpy(b, p[k], cnt[k] * sizeof(float));
        else memcpy(p[k], b, cnt[k] * sizeof(float));
    }
}
static void head_keep(void *vc) { head_copy(vc, 1); }
static void head_restore(void *vc) { head_copy(vc, 0); }

int ifs_train_head(const float *X, const int32_t *y, const uint8_t *split, size_t n,
                   int hidden, const ifs_train_opts *opts, ifs_head *h,
                   ifs_train_log *log, char *err, size_t errlen)
{
    ifs_train_opts o = opts ? *opts : ifs_train_default_opts();
    if (o.batch < 1) o.batch = 1;
    if (o.batch > WORK_ROWS) o.batch = WORK_ROWS;
    const int H = hidden;
    for (size_t i = 0; i < n * (size_t)H; i++)
        if (!isfinite(X[i])) {
            train_seterr(err, errlen, "example %zu has a non-finite feature", i / (size_t)H);
            return -1;
        }
    size_t nparam = (size_t)H * H + 3 * (size_t)H + 2;
    head_ctx c = { .h = h, .X = X, .y = y, .o = &o, .H = H };
    float *buf = calloc(4 * nparam, sizeof(float)); /* grads | m | v | best */
    if (!buf || work_alloc(&c.w, H)) {
        free(buf);
        train_seterr(err, errlen, "out of memory");
        return -1;
    }
    c.g = buf;
    c.m = buf + nparam;
    c.v = c.m + nparam;
    c.best = c.v + nparam;
    train_model mod = { &c, head_step, head_eval, head_keep, head_restore };
    int rc = train_run(&mod, y, split, n, &o, log, err, errlen);
    free(buf);
    free(c.w.a);
    return rc;
}

void ifs_head_predict(const ifs_head *h, int hidden, const float *X, size_t n, float *p1)
{
    size_t idx[WORK_ROWS];
    work w;
    if (work_alloc(&w, hidden)) {
        for (size_t i = 0; i < n; i++) p1[i] = NAN; /* out of memory: no prediction */
        return;
    }
    for (size_t i = 0; i < n; i += WORK_ROWS) {
        int b = (int)(n - i < WORK_ROWS ? n - i : WORK_ROWS);
        for (int r = 0; r < b; r++) idx[r] = i + (size_t)r;
        forward(h, X, idx, b, NULL, &w, p1 + i);
    }
    free(w.a);
}

ifs_confusion ifs_confusion_count(const float *p1, const int32_t *y, const uint8_t *mask, size_t n)
{
    ifs_confusion c = { 0, 0, 0, 0 };
    for (size_t i = 0; i < n; i++) {
        if (mask && !mask[i]) continue;
        int pred = ifs_decide_answer(p1[i], IFS_DECIDE_DEFAULT_THRESHOLD);
        if (pred && y[i] == 1) c.tp++;
        else if (pred) c.fp++;
        else if (y[i] == 1) c.fn++;
        else c.tn++;
    }
    return c;
}

double ifs_confusion_accuracy(const ifs_confusion *c)
{
    int64_t n = c->tp + c->fp + c->tn + c->fn;
    return n ? (double)(c->tp + c->tn) / (double)n : 0.0;
}

double ifs_confusion_precision(const ifs_confusion *c)
{
    return c->tp + c->fp ? (double)c->tp / (double)(c->tp + c->fp) : 0.0;
}

double ifs_confusion_recall(const ifs_confusion *c)
{
    return c->tp + c->fn ? (double)c->tp / (double)(c->tp + c->fn) : 0.0;
}
