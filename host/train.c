/*
 * train.c - the epochs both trainers share (train_run), the head alone on
 * frozen [CLS] features (ifs_train_net with no layers, train_top.c), the head's
 * initialisation and the confusion counts.
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
        .epochs = 40,
        .batch = 64,
        .lr = 1e-3f,
        .layer_lr = 5e-5f,
        .weight_decay = 0.01f,
        .patience = 4,
        .seed = 1,
    };
    return o;
}

void ifs_train_cls_init(ifs_train_cls *h, int hidden, const float *pool_w_init,
                        const float *pool_b_init, uint64_t seed)
{
    uint64_t s = seed ^ 0x5EEDF00Dull;
    size_t hh = (size_t)hidden * hidden;
    if (pool_w_init)
        memcpy(h->pool_w, pool_w_init, hh * sizeof(float));
    else
        train_fill_normal(h->pool_w, hh, 0.02f, &s);
    if (pool_b_init)
        memcpy(h->pool_b, pool_b_init, (size_t)hidden * sizeof(float));
    else
        memset(h->pool_b, 0, (size_t)hidden * sizeof(float));
    train_fill_normal(h->cls_w, 2 * (size_t)hidden, 0.02f, &s);
    h->cls_b[0] = h->cls_b[1] = 0.0f;
}

int train_run(const train_model *mod, const int32_t *y, const uint8_t *split, size_t n,
              const ifs_train_opts *o, ifs_train_log *log, char *err, size_t errlen)
{
    size_t n_tr = 0, n_va = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1) {
            ifs_errf(err, errlen, 0, "example %zu has label %d (a binary head needs 0 or 1)", i,
                     y[i]);
            return -1;
        }
        n_tr += split[i] == IFS_SPLIT_TRAIN;
        n_va += split[i] == IFS_SPLIT_VALIDATION;
    }
    if (!n_tr || !n_va) {
        ifs_errf(err, errlen, 0, "need train and validation examples (have %zu and %zu)", n_tr,
                 n_va);
        return -1;
    }
    size_t *tr = malloc(n_tr * sizeof *tr), *va = malloc(n_va * sizeof *va);
    if (!tr || !va) {
        free(tr);
        free(va);
        ifs_errf(err, errlen, 0, "out of memory");
        return -1;
    }
    for (size_t i = 0, a = 0, b = 0; i < n; i++) {
        if (split[i] == IFS_SPLIT_TRAIN)
            tr[a++] = i;
        else if (split[i] == IFS_SPLIT_VALIDATION)
            va[b++] = i;
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
            size_t t = tr[i];
            tr[i] = tr[j];
            tr[j] = t;
        }
        double epoch_loss = 0.0;
        for (size_t i = 0; i < n_tr; i += (size_t)o->batch) {
            int b = (int)(n_tr - i < (size_t)o->batch ? n_tr - i : (size_t)o->batch);
            epoch_loss += mod->step(mod->ctx, tr + i, b, ++step);
        }
        last_train = epoch_loss / (double)n_tr;
        if (!isfinite(last_train)) {
            ifs_errf(err, errlen, 0, "training diverged at epoch %d (loss %g)", epoch, last_train);
            rc = -1;
            break;
        }
        double acc;
        double vl = mod->eval(mod->ctx, va, n_va, &acc);
        if (o->on_epoch)
            o->on_epoch(o->on_epoch_ctx, epoch, last_train, vl, acc);
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

/* The head alone is ifs_train_net with no layers over one row per example: one
 * forward (the CPU backend's ops, train_top.c), one backward. */
static ifs_bert_config head_config(int hidden)
{
    ifs_bert_config c;
    memset(&c, 0, sizeof c);
    c.hidden = hidden;
    c.n_heads = 1;
    c.intermediate = 1;
    c.num_labels = 2;
    c.ln_eps = 1e-12f;
    return c;
}

static void head_copy(ifs_train_cls *dst, const ifs_train_cls *src, int H)
{
    const size_t h = (size_t)H;
    memcpy(dst->pool_w, src->pool_w, h * h * sizeof(float));
    memcpy(dst->pool_b, src->pool_b, h * sizeof(float));
    memcpy(dst->cls_w, src->cls_w, 2 * h * sizeof(float));
    memcpy(dst->cls_b, src->cls_b, 2 * sizeof(float));
}

static int64_t *one_row_each(size_t n)
{
    int64_t *off = malloc((n + 1) * sizeof *off);
    for (size_t i = 0; off && i <= n; i++)
        off[i] = (int64_t)i;
    return off;
}

int ifs_train_head(const float *X, const int32_t *y, const uint8_t *split, size_t n, int hidden,
                   const ifs_train_opts *opts, ifs_train_cls *h, ifs_train_log *log, char *err,
                   size_t errlen)
{
    const ifs_bert_config cfg = head_config(hidden);
    ifs_train_net t;
    int64_t *off = one_row_each(n);
    if (!off || ifs_train_net_alloc(&t, &cfg, 0)) {
        free(off);
        ifs_errf(err, errlen, 0, "out of memory");
        return -1;
    }
    head_copy(&t.head, h, hidden);
    int rc = ifs_train_top(&cfg, X, off, y, split, n, opts, &t, log, err, errlen);
    if (rc == 0)
        head_copy(h, &t.head, hidden);
    ifs_train_net_free(&t);
    free(off);
    return rc;
}

void ifs_train_cls_predict(const ifs_train_cls *h, int hidden, const float *X, size_t n, float *p1)
{
    const ifs_bert_config cfg = head_config(hidden);
    ifs_train_net t;
    int64_t *off = one_row_each(n);
    if (!off || ifs_train_net_alloc(&t, &cfg, 0)) {
        for (size_t i = 0; i < n; i++)
            p1[i] = NAN; /* out of memory: no prediction */
        free(off);
        return;
    }
    head_copy(&t.head, h, hidden);
    ifs_train_net_predict(&t, &cfg, X, off, n, p1);
    ifs_train_net_free(&t);
    free(off);
}

ifs_train_confusion ifs_train_confusion_count(const float *p1, const int32_t *y,
                                              const uint8_t *mask, size_t n)
{
    ifs_train_confusion c = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        if (mask && !mask[i])
            continue;
        int pred = ifs_decide_answer(p1[i], IFS_DECIDE_DEFAULT_THRESHOLD);
        if (pred && y[i] == 1)
            c.tp++;
        else if (pred)
            c.fp++;
        else if (y[i] == 1)
            c.fn++;
        else
            c.tn++;
    }
    return c;
}

double ifs_train_confusion_accuracy(const ifs_train_confusion *c)
{
    int64_t n = c->tp + c->fp + c->tn + c->fn;
    return n ? (double)(c->tp + c->tn) / (double)n : 0.0;
}

double ifs_train_confusion_precision(const ifs_train_confusion *c)
{
    return c->tp + c->fp ? (double)c->tp / (double)(c->tp + c->fp) : 0.0;
}

double ifs_train_confusion_recall(const ifs_train_confusion *c)
{
    return c->tp + c->fn ? (double)c->tp / (double)(c->tp + c->fn) : 0.0;
}
