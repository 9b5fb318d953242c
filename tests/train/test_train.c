/*
 * test_train.c - the head trainer: learns a separable problem, keeps the
 * best validation epoch, is bit-for-bit deterministic for a seed, refuses
 * bad input, and counts confusion metrics right.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_decide.h"
#include "ifs_test.h"
#include "ifs_train.h"

enum { H = 24, N = 1200 };

static uint64_t rng = 42;
static double urand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((rng >> 11) + 1) * (1.0 / 9007199254740992.0);
}
static double nrand(void)
{
    return sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand());
}

/* Two overlapping Gaussian clouds whose means differ along a few axes, so
 * the Bayes accuracy is high but not 1. */
static void make_data(float *X, int32_t *y, uint8_t *split)
{
    for (int i = 0; i < N; i++) {
        y[i] = i % 2;
        split[i] = i % 10 < 7   ? IFS_SPLIT_TRAIN
                   : i % 10 < 8 ? IFS_SPLIT_VALIDATION
                                : IFS_SPLIT_TEST;
        for (int k = 0; k < H; k++) {
            double mu = (k < 4) ? (y[i] ? 0.8 : -0.8) : 0.0;
            X[i * H + k] = (float)(mu + nrand());
        }
    }
}

typedef struct {
    float pw[H * H], pb[H], cw[2 * H], cb[2];
} head_store;

static ifs_train_cls view(head_store *s)
{
    ifs_train_cls h = {s->pw, s->pb, s->cw, s->cb};
    return h;
}

static void trainer_learns_a_separable_problem(const float *X, const int32_t *y,
                                               const uint8_t *split)
{
    head_store s;
    ifs_train_cls h = view(&s);
    ifs_train_cls_init(&h, H, NULL, NULL, 7);
    ifs_train_opts o = ifs_train_default_opts();
    ifs_train_log log;
    char err[256] = "";
    int rc = ifs_train_head(X, y, split, N, H, &o, &h, &log, err, sizeof err);
    IFS_CHECK(rc == 0, "train failed: %s", err);
    float p1[N];
    ifs_train_cls_predict(&h, H, X, N, p1);
    uint8_t test[N];
    for (int i = 0; i < N; i++)
        test[i] = split[i] == IFS_SPLIT_TEST;
    ifs_train_confusion c = ifs_train_confusion_count(p1, y, test, N);
    double acc = ifs_train_confusion_accuracy(&c);
    IFS_CHECK(acc >= 0.93, "test accuracy %.3f below 0.93", acc);
    IFS_CHECK(log.best_epoch >= 1 && log.best_epoch <= log.epochs_run,
              "best epoch %d outside 1..%d", log.best_epoch, log.epochs_run);
    IFS_CHECK(log.best_val_accuracy >= 0.9, "validation accuracy %.3f", log.best_val_accuracy);
    IFS_CHECK(c.tp + c.fp + c.tn + c.fn == N / 10 * 2, "test count %lld",
              (long long)(c.tp + c.fp + c.tn + c.fn));
}

static void same_seed_gives_identical_bits_and_another_seed_differs(const float *X,
                                                                    const int32_t *y,
                                                                    const uint8_t *split)
{
    static head_store a, b, c;
    ifs_train_cls ha = view(&a), hb = view(&b), hc = view(&c);
    ifs_train_opts o = ifs_train_default_opts();
    o.epochs = 5;
    ifs_train_cls_init(&ha, H, NULL, NULL, 3);
    ifs_train_cls_init(&hb, H, NULL, NULL, 3);
    ifs_train_cls_init(&hc, H, NULL, NULL, 3);
    o.seed = 11;
    IFS_CHECK(ifs_train_head(X, y, split, N, H, &o, &ha, NULL, NULL, 0) == 0, "run a");
    IFS_CHECK(ifs_train_head(X, y, split, N, H, &o, &hb, NULL, NULL, 0) == 0, "run b");
    o.seed = 12;
    IFS_CHECK(ifs_train_head(X, y, split, N, H, &o, &hc, NULL, NULL, 0) == 0, "run c");
    IFS_CHECK(memcmp(&a, &b, sizeof a) == 0, "same seed gave different heads");
    IFS_CHECK(memcmp(&a, &c, sizeof a) != 0, "different shuffle seeds gave identical heads");
}

typedef struct {
    int n;
    double loss[64], acc[64];
} epochs_seen;

static void record_epoch(void *ctx, int epoch, double train_loss, double val_loss, double val_acc)
{
    (void)train_loss;
    epochs_seen *e = ctx;
    if (epoch == e->n + 1 && e->n < 64) {
        e->loss[e->n] = val_loss;
        e->acc[e->n] = val_acc;
        e->n++;
    }
}

/* The kept epoch is the argmin of validation loss, or with select_accuracy
 * the argmax of validation accuracy (ties to the lower loss), and the hook
 * sees every epoch run. */
static void the_kept_epoch_is_the_selected_best(const float *X, const int32_t *y,
                                                const uint8_t *split)
{
    for (int sel = 0; sel < 2; sel++) {
        static head_store s;
        ifs_train_cls h = view(&s);
        ifs_train_cls_init(&h, H, NULL, NULL, 5);
        ifs_train_opts o = ifs_train_default_opts();
        o.epochs = 12;
        o.patience = 12;
        o.lr = 3e-3f;
        o.select_accuracy = sel;
        epochs_seen e = {0};
        o.on_epoch = record_epoch;
        o.on_epoch_ctx = &e;
        ifs_train_log log;
        IFS_CHECK(ifs_train_head(X, y, split, N, H, &o, &h, &log, NULL, 0) == 0, "train");
        IFS_CHECK(e.n == log.epochs_run, "hook saw %d epochs of %d", e.n, log.epochs_run);
        int best = 0;
        for (int i = 1; i < e.n; i++) {
            int better = sel ? e.acc[i] > e.acc[best] ||
                                   (e.acc[i] == e.acc[best] && e.loss[i] < e.loss[best])
                             : e.loss[i] < e.loss[best];
            if (better)
                best = i;
        }
        IFS_CHECK(log.best_epoch == best + 1 && log.best_val_accuracy == e.acc[best] &&
                      log.best_val_loss == e.loss[best],
                  "select %s: kept epoch %d, expected %d", sel ? "accuracy" : "loss",
                  log.best_epoch, best + 1);
    }
}

static void pretrained_pooler_is_copied_at_init(void)
{
    static head_store s;
    static float pw[H * H], pb[H];
    for (int i = 0; i < H * H; i++)
        pw[i] = (float)i;
    for (int i = 0; i < H; i++)
        pb[i] = -(float)i;
    ifs_train_cls h = view(&s);
    ifs_train_cls_init(&h, H, pw, pb, 1);
    IFS_CHECK(memcmp(s.pw, pw, sizeof pw) == 0 && memcmp(s.pb, pb, sizeof pb) == 0,
              "pooler not copied");
    IFS_CHECK(s.cb[0] == 0 && s.cb[1] == 0, "classifier bias not zero");
}

static void bad_labels_and_missing_splits_are_refused(const float *X)
{
    static head_store s;
    ifs_train_cls h = view(&s);
    ifs_train_cls_init(&h, H, NULL, NULL, 1);
    int32_t y[4] = {0, 1, 2, 0};
    uint8_t sp[4] = {0, 0, 1, 1};
    char err[256] = "";
    IFS_CHECK(ifs_train_head(X, y, sp, 4, H, NULL, &h, NULL, err, sizeof err) != 0 &&
                  strstr(err, "label 2"),
              "label 2 accepted (%s)", err);
    int32_t y2[4] = {0, 1, 0, 1};
    uint8_t only_train[4] = {0, 0, 0, 0};
    IFS_CHECK(ifs_train_head(X, y2, only_train, 4, H, NULL, &h, NULL, err, sizeof err) != 0 &&
                  strstr(err, "validation"),
              "no validation split accepted (%s)", err);
    float bad[4 * H];
    memcpy(bad, X, sizeof bad);
    bad[5] = NAN;
    IFS_CHECK(ifs_train_head(bad, y2, sp, 4, H, NULL, &h, NULL, err, sizeof err) != 0 &&
                  strstr(err, "non-finite"),
              "NaN feature accepted (%s)", err);
}

static void confusion_metrics_follow_their_definitions(void)
{
    /* 0.5 sits exactly at the threshold: continuation-like, as the reducer
     * decides (ifs_decide.h), so that (label 1) is a false negative. */
    float p[6] = {0.9f, 0.6f, 0.5f, 0.2f, 0.1f, 0.7f};
    int32_t y[6] = {1, 0, 1, 1, 0, 1};
    ifs_train_confusion c = ifs_train_confusion_count(p, y, NULL, 6);
    IFS_CHECK(c.tp == 2 && c.fp == 1 && c.fn == 2 && c.tn == 1, "tp %lld fp %lld fn %lld tn %lld",
              (long long)c.tp, (long long)c.fp, (long long)c.fn, (long long)c.tn);
    IFS_CHECK(fabs(ifs_train_confusion_accuracy(&c) - 3.0 / 6) < 1e-12, "accuracy");
    IFS_CHECK(fabs(ifs_train_confusion_precision(&c) - 2.0 / 3) < 1e-12, "precision");
    IFS_CHECK(fabs(ifs_train_confusion_recall(&c) - 0.5) < 1e-12, "recall");
    IFS_CHECK(ifs_decide_answer(0.5, 0.5) == 0 && ifs_decide_answer(0.5000001, 0.5) == 1,
              "a probability at the threshold is continuation-like, above it answer-like");
    ifs_train_confusion z = {0, 0, 0, 0};
    IFS_CHECK(ifs_train_confusion_accuracy(&z) == 0 && ifs_train_confusion_precision(&z) == 0,
              "empty");
}

int main(void)
{
    static float X[N * H];
    static int32_t y[N];
    static uint8_t split[N];
    make_data(X, y, split);
    trainer_learns_a_separable_problem(X, y, split);
    same_seed_gives_identical_bits_and_another_seed_differs(X, y, split);
    the_kept_epoch_is_the_selected_best(X, y, split);
    pretrained_pooler_is_copied_at_init();
    bad_labels_and_missing_splits_are_refused(X);
    confusion_metrics_follow_their_definitions();
    return ifs_test_done("train");
}
