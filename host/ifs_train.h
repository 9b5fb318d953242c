/*
 * ifs_train.h - train the head of a BertForSequenceClassification (pooler
 * dense + tanh, then the classifier) on frozen encoder features: the last
 * encoder layer's [CLS] row of every example, computed once by a backend;
 * or (ifs_train_top) the top N encoder layers and the head together, on the
 * frozen rows entering those layers.
 *
 * Usage:
 *
 *     ifs_train_opts o = ifs_train_default_opts();
 *     ifs_train_cls h;                       // caller-owned arrays, see below
 *     ifs_train_log log;
 *     if (ifs_train_head(X, y, split, n, hidden, &o, &h, &log, err, sizeof err))
 *         ...;
 *     ifs_train_cls_predict(&h, hidden, X_test, n_test, p1);
 *
 * Determinism: the same features, labels, splits, options and seed give
 * bit-identical heads at any thread count (single-threaded BLAS calls on
 * tasks fixed by the data, a seeded shuffle, no thread-order-dependent
 * reductions).
 *
 * Ownership: every array is caller-owned; the functions keep no pointers.
 * Nothing here prints or exits.
 */
#ifndef IFS_TRAIN_H
#define IFS_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_wts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A record's split. IFS_SPLIT_HOLDOUT ("holdout": e.g. an instruction
 * source kept out of training) is neither trained on nor used to stop;
 * train-head measures it apart, like test. */
enum {
    IFS_SPLIT_TRAIN = 0,
    IFS_SPLIT_VALIDATION = 1,
    IFS_SPLIT_TEST = 2,
    IFS_SPLIT_HOLDOUT = 3,
    IFS_N_SPLITS = 4
};

typedef struct {
    int epochs;          /* at most this many passes over the train split */
    int batch;           /* minibatch size */
    float lr;            /* Adam learning rate (the head's) */
    float layer_lr;      /* ifs_train_top: the trained encoder layers' learning rate */
    float weight_decay;  /* decoupled (AdamW) decay on the weight matrices */
    int patience;        /* stop after this many epochs without a better validation score */
    int select_accuracy; /* the best epoch is the one with the highest validation accuracy
                            (ties: lower loss); 0: the lowest validation loss */
    uint64_t seed;       /* shuffle order (and initialisation, see ifs_train_cls_init) */
    /* called after every epoch when non-NULL (the CLI prints progress) */
    void (*on_epoch)(void *ctx, int epoch, double train_loss, double val_loss, double val_acc);
    void *on_epoch_ctx;
} ifs_train_opts;

/* A binary head: pool_w [hidden][hidden], pool_b [hidden], cls_w [2][hidden],
 * cls_b [2], HF layouts (W[out][in]). Label 1 is the positive class. */
typedef struct {
    float *pool_w, *pool_b, *cls_w, *cls_b;
} ifs_train_cls;

typedef struct {
    int epochs_run;
    int best_epoch; /* 1-based epoch whose weights were kept */
    double best_val_loss;
    double best_val_accuracy;
    double final_train_loss; /* mean loss over the last epoch run */
} ifs_train_log;

/* ---- the top encoder layers too --------------------------------------
 *
 * ifs_train_top fine-tunes the top N encoder layers (0 <= N <= n_layers)
 * together with the head. Its inputs are the hidden states entering the
 * lowest trained layer (the output of encoder layer n_layers - N - 1, or of
 * the embeddings when N = n_layers; every token row of every example),
 * computed once by a backend (ifs_backend_encode). The embeddings and the
 * layers below stay frozen.
 *
 * The forward is the CPU backend's, op for op (ifs_cpu_ops.h, blocked as
 * IFS_CPU_ROW_BLOCK says): the trained layers below the top one run on
 * every row; the top layer's keys and values run on every row and the rest
 * of it on the [CLS] rows only, since the pooler reads nothing else. Each
 * example is its own packed sequence, so attention needs no padding mask.
 * A checkpoint written from these parameters therefore scores, under
 * `--backend cpu`, what ifs_train_net_logits computes from the same rows.
 * The backward beside it is plain: every gradient of the mean
 * cross-entropy, no gradient into the frozen input rows.
 *
 *     ifs_train_net t;
 *     if (ifs_train_net_alloc(&t, &cfg, N)) ...;
 *     ifs_train_net_init(&t, &cfg, &w->layers[cfg.n_layers - N], w->pool_w, w->pool_b, seed);
 *     ifs_train_top(&cfg, X, off, y, split, n, &o, &t, &log, err, sizeof err);
 *     ifs_train_net_predict(&t, &cfg, X, off, n, p1);
 *     ifs_train_net_free(&t);
 *
 * X: float [off[n]][hidden]; example i is rows [off[i], off[i+1]), its
 * [CLS] row first. With N = 0 only the [CLS] rows are read (the head
 * alone, on the backend's arithmetic). Same determinism and ownership
 * rules as above; `t` owns its parameters (one allocation) and the layer
 * views. */
typedef struct {
    int n_layers;           /* N: trained encoder layers, the encoder's top N */
    ifs_bert_layer *layers; /* [N] views into mem, lowest first (layer n_layers - N) */
    ifs_train_cls head;     /* pooler + binary classifier */
    float *mem;             /* owns every parameter: per layer its 16 tensors in
                              ifs_bert_layer's order, then pool_w, pool_b, cls_w, cls_b */
    size_t n_params;
    int n_threads; /* threads of its forward and backward (0 or 1: one; set
                              after ifs_train_net_alloc); the results do not depend on it */
} ifs_train_net;

/* Allocates N layers of cfg's shape (hidden, n_heads, intermediate, ln_eps
 * and act of cfg are used), zeroed. Returns 0, or -1 when out of memory or
 * N is outside [0, cfg->n_layers] (t is then zeroed). */
int ifs_train_net_alloc(ifs_train_net *t, const ifs_bert_config *cfg, int n_layers);
void ifs_train_net_free(ifs_train_net *t); /* t NULL or zeroed: nothing */

/* Copies `top` (the pretrained top N encoder layers, lowest first; may be
 * NULL when N is 0) and the pooler (or initialises it as ifs_train_cls_init
 * does when pool_w is NULL); the classifier is normal(0, 0.02) / 0 from
 * `seed`. */
void ifs_train_net_init(ifs_train_net *t, const ifs_bert_config *cfg, const ifs_bert_layer *top,
                        const float *pool_w, const float *pool_b, uint64_t seed);

/* As ifs_train_head, for the top layers and the head together. The layers'
 * learning rate is opts->layer_lr, the head's opts->lr; decay applies to
 * the weight matrices only. Returns 0, or -1 with a message in err. */
int ifs_train_top(const ifs_bert_config *cfg, const float *X, const int64_t *off, const int32_t *y,
                  const uint8_t *split, size_t n, const ifs_train_opts *opts, ifs_train_net *t,
                  ifs_train_log *log, char *err, size_t errlen);

/* The mean cross-entropy over examples [0, n) and its gradient with
 * respect to every parameter of t, written into grad (from ifs_train_net_alloc
 * with the same N; its values are replaced). What one training step
 * computes, exposed for gradient checks. Returns NAN when out of memory or
 * n is 0. */
double ifs_train_net_loss_grad(const ifs_train_net *t, const ifs_bert_config *cfg, const float *X,
                               const int64_t *off, const int32_t *y, size_t n, ifs_train_net *grad);

/* logits[i][0..1] of example i: the CPU backend's logits for the same rows
 * (see above). Returns 0, or -1 when out of memory (logits untouched). */
int ifs_train_net_logits(const ifs_train_net *t, const ifs_bert_config *cfg, const float *X,
                         const int64_t *off, size_t n, float *logits);

/* p1[i] = softmax(logits of example i)[1], in double (as `classify`);
 * NAN for every example when out of memory. */
void ifs_train_net_predict(const ifs_train_net *t, const ifs_bert_config *cfg, const float *X,
                           const int64_t *off, size_t n, float *p1);

/* ---- checkpoints ------------------------------------------------------
 *
 * What train-head writes and attach-head joins. The complete checkpoint is
 * a BertForSequenceClassification folder (model.safetensors F32,
 * config.json with labels IFS_TRAIN_LABEL_0 / _1 and the input mode,
 * vocab.txt copied from the encoder, tokenizer_config.json with
 * model_max_length = the trained max_len): the encoder with its top
 * t->n_layers layers replaced by t's and t's head. The head folder holds
 * only what ifscore trained: head.safetensors (the trained layers' 16
 * tensors each under their HF names, then the pooler and classifier), the
 * same config.json and tokenizer_config.json. Files are written
 * atomically; folders are created (one level). Returns 0, or -1 with words
 * in err. */
#define IFS_TRAIN_LABEL_0 "continuation-like"
#define IFS_TRAIN_LABEL_1 "answer-like"

/* What the classifier reads: config.json's ifs_input / ifs_instruction_max_tokens. */
typedef struct {
    int pair;          /* 0: the response alone, 1: (instruction, response) */
    int32_t instr_max; /* pairs: the instruction's own cap, 0 = none */
} ifs_train_input;

int ifs_train_net_write_checkpoint(const char *out, const char *enc_dir,
                                   const ifs_bert_weights *enc, const ifs_train_net *t,
                                   const ifs_train_input *in, int max_len, char *err,
                                   size_t errlen);
int ifs_train_net_write_head(const char *dir, const char *enc_dir, const ifs_bert_weights *enc,
                             const ifs_train_net *t, const ifs_train_input *in, int max_len,
                             char *err, size_t errlen);

/* Reads a head folder for the encoder `enc`: allocates t (ifs_train_net_free)
 * with N = the trained layers head.safetensors holds (its tensor count:
 * 4 + 16 N, each present with the encoder's shape, F32), fills it, and
 * sets the input mode (config.json, whose shape must be the encoder's) and
 * *max_len (tokenizer_config.json's model_max_length, else the encoder's
 * max_position). Returns 0, or -1 with words in err (t then zeroed). */
int ifs_train_net_read_head(const char *head_dir, const ifs_bert_weights *enc, ifs_train_net *t,
                            ifs_train_input *in, int *max_len, char *err, size_t errlen);

/* Confusion counts for label 1 = positive. */
typedef struct {
    int64_t tp, fp, tn, fn;
} ifs_train_confusion;

ifs_train_opts ifs_train_default_opts(void);

/* Initialises a head: the pooler from pool_w_init/pool_b_init when non-NULL
 * (a pretrained pooler), else normal(0, 0.02) / 0; the classifier
 * normal(0, 0.02) / 0. All from `seed`. */
void ifs_train_cls_init(ifs_train_cls *h, int hidden, const float *pool_w_init,
                        const float *pool_b_init, uint64_t seed);

/* Trains h in place (it must be initialised) with AdamW on cross-entropy
 * over the examples with split == IFS_SPLIT_TRAIN, keeping the weights of
 * the epoch with the lowest validation loss, or the highest validation
 * accuracy with select_accuracy (early stopping with `patience`). X: [n][hidden] features; y: labels 0/1; split: per example.
 * Returns 0, or -1 with a message in err (no train or validation examples,
 * a label outside 0/1, non-finite features or loss). */
int ifs_train_head(const float *X, const int32_t *y, const uint8_t *split, size_t n, int hidden,
                   const ifs_train_opts *opts, ifs_train_cls *h, ifs_train_log *log, char *err,
                   size_t errlen);

/* p1[i] = softmax(head(X[i]))[1] for n examples. */
void ifs_train_cls_predict(const ifs_train_cls *h, int hidden, const float *X, size_t n, float *p1);

/* Counts predictions (p1 >= 0.5 means label 1) against labels over the
 * examples where mask is NULL or mask[i] != 0. */
ifs_train_confusion ifs_train_confusion_count(const float *p1, const int32_t *y,
                                              const uint8_t *mask, size_t n);
double ifs_train_confusion_accuracy(const ifs_train_confusion *c);
double ifs_train_confusion_precision(const ifs_train_confusion *c);
double ifs_train_confusion_recall(const ifs_train_confusion *c);

#ifdef __cplusplus
}
#endif
#endif /* IFS_TRAIN_H */
