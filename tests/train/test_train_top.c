/*
 * test_train_top.c - fine-tuning of the top encoder layers (ifs_train_top):
 *
 *   - every gradient of ifs_train_net_loss_grad against central finite
 *     differences of the loss, for each activation (exact gelu, tanh gelu,
 *     relu), over ragged examples of 1 to 7 rows, with the last layer
 *     trained (N = 1) and with two whole layers (N = 2: attention q/k/v/o,
 *     both LayerNorms and the feed-forward of the lower layer on every row,
 *     its gradient reaching it through the top layer's keys, values and
 *     residual), and the head alone (N = 0); every tensor kind of every
 *     trained layer gets a gradient;
 *   - ifs_train_net_predict on the rows ifs_backend_encode returns equals the cpu
 *     backend's forward of the same model (what `score` will compute from
 *     the checkpoint train-head writes), within 2e-6 in probability, for
 *     N = 0, 1, 2 of a 2-layer model (N = 2: from the embeddings' rows); the
 *     logits are bit-identical (the same ops, the same GEMM blocks);
 *   - encode after every layer gives the rows whose [CLS] is the backend's
 *     cls_hidden, and a depth beyond the model is refused;
 *   - training learns a label that only the non-[CLS] rows carry (a head
 *     on the frozen [CLS] row cannot: checked too), and the same seed gives
 *     the same bits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_backend.h"
#include "ifs_test.h"
#include "ifs_train.h"
#include "../cpu/cpu_test_model.h"

static void copy_classifier(ifs_train_net *t, const tm_model *m)
{
    const size_t H = (size_t)m->w.cfg.hidden;
    memcpy(t->head.cls_w, m->w.cls_w, 2 * H * sizeof(float));
    memcpy(t->head.cls_b, m->w.cls_b, 2 * sizeof(float));
}

static void gradients_match_finite_differences(ifs_act act, const char *name, int n_model, int N)
{
    tm_model m;
    tm_model_init(&m, 40, 8, n_model, 2, 16, 16, 1, 2, act, 7 + (uint64_t)act);
    const ifs_bert_config *cfg = &m.w.cfg;
    const int H = cfg->hidden, F = cfg->intermediate;
    static const int lens[] = {1, 3, 7, 2, 5};
    static const int32_t y[] = {0, 1, 1, 0, 1};
    int64_t off[6] = {0};
    for (int i = 0; i < 5; i++)
        off[i + 1] = off[i] + lens[i];
    uint64_t s = 99 + (uint64_t)act;
    float *X = tm_fill(&s, (size_t)off[5] * H, 1.5f, 0);
    ifs_train_net t, g, scratch;
    IFS_CHECK(!ifs_train_net_alloc(&t, cfg, N) && !ifs_train_net_alloc(&g, cfg, N) &&
                  !ifs_train_net_alloc(&scratch, cfg, N),
              "alloc");
    ifs_train_net_init(&t, cfg, &m.layers[n_model - N], m.w.pool_w, m.w.pool_b, 3);
    copy_classifier(&t, &m); /* O(1) weights, so every gradient is well above rounding */
    double loss = ifs_train_net_loss_grad(&t, cfg, X, off, y, 5, &g);
    IFS_CHECK(isfinite(loss) && loss > 0, "%s N=%d: loss %g", name, N, loss);
    /* the same bits from 3 threads */
    t.n_threads = 3;
    double loss3 = ifs_train_net_loss_grad(&t, cfg, X, off, y, 5, &scratch);
    t.n_threads = 1;
    IFS_CHECK(loss3 == loss && !memcmp(scratch.mem, g.mem, g.n_params * sizeof(float)),
              "%s N=%d: 3 threads gave other gradients", name, N);
    size_t bad = 0, worst_k = 0;
    double worst = 0;
    const float h = 4e-3f;
    for (size_t k = 0; k < t.n_params; k++) {
        float keep = t.mem[k];
        t.mem[k] = keep + h;
        double lp = ifs_train_net_loss_grad(&t, cfg, X, off, y, 5, &scratch);
        t.mem[k] = keep - h;
        double lm = ifs_train_net_loss_grad(&t, cfg, X, off, y, 5, &scratch);
        t.mem[k] = keep;
        double fd = (lp - lm) / (2.0 * h), an = g.mem[k];
        double e = fabs(fd - an) / (1e-3 + 2e-2 * fabs(fd));
        if (e > 1)
            bad++;
        if (e > worst) {
            worst = e;
            worst_k = k;
        }
    }
    /* relu has kinks a finite difference may straddle: allow one in 200 */
    size_t allowed = act == IFS_ACT_RELU ? t.n_params / 200 : 0;
    IFS_CHECK(bad <= allowed,
              "%s N=%d: %zu of %zu gradients off (worst: parameter %zu, %.2f x tolerance)", name, N,
              bad, t.n_params, worst_k, worst);
    /* every tensor kind of every trained layer moves (none is silently skipped) */
    for (int l = 0; l < N; l++) {
        const ifs_bert_layer *G = &g.layers[l];
        const float *ts[16] = {G->q_w,  G->q_b,  G->k_w,   G->k_b,   G->v_w, G->v_b,
                               G->ao_w, G->ao_b, G->ln1_g, G->ln1_b, G->i_w, G->i_b,
                               G->o_w,  G->o_b,  G->ln2_g, G->ln2_b};
        const size_t cnt[16] = {(size_t)H * H, (size_t)H, (size_t)H * H, (size_t)H,
                                (size_t)H * H, (size_t)H, (size_t)H * H, (size_t)H,
                                (size_t)H,     (size_t)H, (size_t)F * H, (size_t)F,
                                (size_t)H * F, (size_t)H, (size_t)H,     (size_t)H};
        for (int j = 0; j < 16; j++) {
            double sum = 0;
            for (size_t i = 0; i < cnt[j]; i++)
                sum += fabs(ts[j][i]);
            /* the top layer's key bias has no effect on a softmax over keys */
            if (j == 3)
                continue;
            IFS_CHECK(sum > 1e-5, "%s N=%d: layer %d tensor %d has gradient %g", name, N, l, j,
                      sum);
        }
    }
    printf(
        "%s %s N=%d: %zu gradients against finite differences, %zu off (worst %.2f x tolerance)\n",
        bad <= allowed ? "ok  " : "FAIL", name, N, t.n_params, bad, worst);
    ifs_train_net_free(&t);
    ifs_train_net_free(&g);
    ifs_train_net_free(&scratch);
    free(X);
    tm_model_free(&m);
}

static void predict_matches_the_backend(void)
{
    tm_model m;
    tm_model_init(&m, 50, 16, 2, 4, 32, 160, 2, 2, IFS_ACT_GELU, 11);
    const ifs_bert_config *cfg = &m.w.cfg;
    const int H = cfg->hidden;
    /* 150: more rows than one GEMM block of the backend (IFS_CPU_ROW_BLOCK) */
    static const int lens[] = {1, 5, 150, 9, 2, 13};
    enum { S = 6 };
    int32_t off[S + 1] = {0};
    for (int i = 0; i < S; i++)
        off[i + 1] = off[i] + lens[i];
    const int T = off[S];
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)T);
    uint64_t s = 5;
    for (int i = 0; i < T; i++)
        ids[i] = (int32_t)(tm_next(&s) % 50);
    ifs_batch b = {.n_seqs = S, .n_tokens = T, .input_ids = ids, .type_ids = NULL, .seq_off = off};
    ifs_backend_opts o = ifs_backend_default_opts();
    o.n_threads = 2;
    o.max_batch_tokens = 256;
    o.max_batch_seqs = 16;
    ifs_backend *bk = NULL;
    char err[512];
    int rc = ifs_backend_create("cpu", &m.w, &o, &bk, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_OK, "create: %s", err);
    float *X = malloc(sizeof(float) * (size_t)T * H), *Xall = malloc(sizeof(float) * (size_t)T * H);
    float *X0 = malloc(sizeof(float) * (size_t)T * H);
    float logits[2 * S], cls[S * 16], p1[S];
    rc = ifs_backend_encode(bk, &b, 0, X0);
    IFS_CHECK(rc == IFS_BK_OK, "encode 0 layers: %s", ifs_backend_error(bk));
    rc = ifs_backend_encode(bk, &b, 1, X);
    IFS_CHECK(rc == IFS_BK_OK, "encode 1 layer: %s", ifs_backend_error(bk));
    rc = ifs_backend_encode(bk, &b, 2, Xall);
    IFS_CHECK(rc == IFS_BK_OK, "encode 2 layers: %s", ifs_backend_error(bk));
    rc = ifs_backend_forward(bk, &b, logits, cls);
    IFS_CHECK(rc == IFS_BK_OK, "forward: %s", ifs_backend_error(bk));
    IFS_CHECK(ifs_backend_encode(bk, &b, 3, X) == IFS_BK_EARG, "3 layers of 2 were not refused");

    double dcls = 0;
    for (int i = 0; i < S; i++)
        for (int k = 0; k < H; k++)
            dcls = fmax(dcls, fabs(Xall[(size_t)off[i] * H + k] - cls[i * H + k]));
    IFS_CHECK(dcls <= 1e-5, "encode's [CLS] rows differ from cls_hidden by %g", dcls);

    int64_t off64[S + 1];
    for (int i = 0; i <= S; i++)
        off64[i] = off[i];
    for (int N = 0; N <= 2; N++) {
        /* the rows entering the lowest trained layer; N = 0: the backend's
         * cls_hidden, one row per example (train-head's IFSFEAT1 features) */
        float *in = N == 0 ? cls : N == 1 ? X : X0;
        int64_t one[S + 1];
        for (int i = 0; i <= S; i++)
            one[i] = i;
        const int64_t *ro = N == 0 ? one : off64;
        ifs_train_net t;
        IFS_CHECK(!ifs_train_net_alloc(&t, cfg, N), "alloc");
        ifs_train_net_init(&t, cfg, N ? &m.layers[2 - N] : NULL, m.w.pool_w, m.w.pool_b, 1);
        copy_classifier(&t, &m);
        float lg[2 * S];
        t.n_threads = 2 + N; /* threads do not change the bits */
        IFS_CHECK(ifs_train_net_logits(&t, cfg, in, ro, S, lg) == 0, "logits");
        ifs_train_net_predict(&t, cfg, in, ro, S, p1);
        double dp = 0;
        int same = !memcmp(lg, logits, sizeof lg);
        for (int i = 0; i < S; i++) {
            double ref = 1.0 / (1.0 + exp((double)logits[2 * i] - logits[2 * i + 1]));
            dp = fmax(dp, fabs(ref - p1[i]));
        }
        IFS_CHECK(dp <= 2e-6, "N=%d: ifs_train_net_predict differs from the backend by %g in p", N,
                  dp);
        IFS_CHECK(same, "N=%d: the trainer's logits are not the backend's bits", N);
        printf("%s N=%d: the trainer's forward equals the cpu backend's (max |dp| %.2g, logits %s, "
               "|d cls| %.2g)\n",
               dp <= 2e-6 && same && dcls <= 1e-5 ? "ok  " : "FAIL", N, dp,
               same ? "bit-identical" : "differ", dcls);
        ifs_train_net_free(&t);
    }
    ifs_backend_free(bk);
    free(X);
    free(X0);
    free(Xall);
    free(ids);
    tm_model_free(&m);
}

/* Label = sign of feature 0 on every non-[CLS] row; the [CLS] row is noise. */
static void learns_what_only_other_rows_carry(int n_model, int N)
{
    tm_model m;
    tm_model_init(&m, 40, 16, n_model, 4, 32, 16, 1, 2, IFS_ACT_GELU, 21);
    const ifs_bert_config *cfg = &m.w.cfg;
    const int H = cfg->hidden;
    enum { NX = 600 };
    int64_t *off = malloc(sizeof(int64_t) * (NX + 1));
    int32_t *y = malloc(sizeof(int32_t) * NX);
    uint8_t *split = malloc(NX);
    uint64_t s = 1234;
    off[0] = 0;
    for (int i = 0; i < NX; i++)
        off[i + 1] = off[i] + 2 + (int64_t)(tm_next(&s) % 5);
    float *X = tm_fill(&s, (size_t)off[NX] * H, 1.0f, 0);
    float *Xc = malloc(sizeof(float) * NX * (size_t)H);
    for (int i = 0; i < NX; i++) {
        y[i] = (int32_t)(tm_next(&s) & 1);
        split[i] = i % 5 == 4   ? IFS_SPLIT_VALIDATION
                   : i % 5 == 3 ? IFS_SPLIT_TEST
                                : IFS_SPLIT_TRAIN;
        for (int64_t r = off[i] + 1; r < off[i + 1]; r++)
            X[r * H] = y[i] ? 2.0f : -2.0f;
        memcpy(Xc + (size_t)i * H, X + off[i] * H, sizeof(float) * (size_t)H);
    }
    ifs_train_opts o = ifs_train_default_opts();
    o.epochs = 30;
    o.batch = 32;
    o.layer_lr = 3e-3f;
    o.patience = 30;
    ifs_train_net a, b;
    IFS_CHECK(!ifs_train_net_alloc(&a, cfg, N) && !ifs_train_net_alloc(&b, cfg, N), "alloc");
    ifs_train_net_init(&a, cfg, &m.layers[n_model - N], NULL, NULL, 9);
    ifs_train_net_init(&b, cfg, &m.layers[n_model - N], NULL, NULL, 9);
    b.n_threads = 3; /* the same bits from 3 threads as from 1 */
    ifs_train_log la, lb, lh;
    char err[256];
    int rc = ifs_train_top(cfg, X, off, y, split, NX, &o, &a, &la, err, sizeof err);
    IFS_CHECK(rc == 0, "train: %s", err);
    rc = ifs_train_top(cfg, X, off, y, split, NX, &o, &b, &lb, err, sizeof err);
    IFS_CHECK(rc == 0 && !memcmp(a.mem, b.mem, a.n_params * sizeof(float)),
              "the same seed (1 and 3 threads) gave other parameters");
    float *p1 = malloc(sizeof(float) * NX);
    ifs_train_net_predict(&a, cfg, X, off, NX, p1);
    uint8_t *test = malloc(NX);
    for (int i = 0; i < NX; i++)
        test[i] = split[i] == IFS_SPLIT_TEST;
    ifs_train_confusion c = ifs_train_confusion_count(p1, y, test, NX);
    double acc = ifs_train_confusion_accuracy(&c);
    IFS_CHECK(acc >= 0.95, "test accuracy %.3f with %d layers trained", acc, N);
    /* the head alone, on the [CLS] rows, has nothing to learn from */
    ifs_train_net_init(&b, cfg, &m.layers[n_model - N], NULL, NULL, 9);
    rc = ifs_train_head(Xc, y, split, NX, H, &o, &b.head, &lh, err, sizeof err);
    ifs_train_cls_predict(&b.head, H, Xc, NX, p1);
    ifs_train_confusion ch = ifs_train_confusion_count(p1, y, test, NX);
    double acch = ifs_train_confusion_accuracy(&ch);
    IFS_CHECK(rc == 0 && acch < 0.75, "the head alone reached %.3f on [CLS] noise", acch);
    printf("%s %d of %d layers learn what only non-[CLS] rows carry: test accuracy %.3f "
           "(head alone %.3f); same seed, same bits at 1 and 3 threads\n",
           acc >= 0.95 && acch < 0.75 ? "ok  " : "FAIL", N, n_model, acc, acch);
    ifs_train_net_free(&a);
    ifs_train_net_free(&b);
    free(off);
    free(y);
    free(split);
    free(X);
    free(Xc);
    free(p1);
    free(test);
    tm_model_free(&m);
}

int main(void)
{
    gradients_match_finite_differences(IFS_ACT_GELU, "gelu", 1, 1);
    gradients_match_finite_differences(IFS_ACT_GELU_TANH, "gelu_tanh", 1, 1);
    gradients_match_finite_differences(IFS_ACT_RELU, "relu", 1, 1);
    gradients_match_finite_differences(IFS_ACT_GELU, "gelu", 2, 2);
    gradients_match_finite_differences(IFS_ACT_GELU_TANH, "gelu_tanh", 3, 2);
    gradients_match_finite_differences(IFS_ACT_RELU, "relu", 2, 2);
    gradients_match_finite_differences(IFS_ACT_GELU, "gelu", 2, 0);
    predict_matches_the_backend();
    learns_what_only_other_rows_carry(1, 1);
    learns_what_only_other_rows_carry(2, 2);
    return ifs_test_done("train_top");
}
