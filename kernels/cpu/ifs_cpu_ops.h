/*
 * ifs_cpu_ops.h - the per-op fp32 reference functions of the CPU backend.
 * The CPU forward pass (cpu_backend.c) is built only from these, so they are
 * the oracle the CUDA kernels are compared against, op by op, and the
 * forward that train-head trains (host/train_top.c) is built from them too.
 *
 * Usage (from a kernel test):
 *
 *     // 2 rows of hidden 4: y = LayerNorm(x + bias + residual)
 *     ifs_cpu_add_bias_residual_layernorm(y, x, bias, res, gamma, beta, 2, 4, 1e-12f);
 *
 * Conventions, shared by every function here:
 *   - Row-major fp32 arrays; "rows" are tokens of a packed batch, no padding.
 *     Sequence i of a packed batch is rows [seq_off[i], seq_off[i+1]).
 *   - Linear weights keep HF's layout W[out][in]: y = x W^T + b.
 *   - Every function is single-threaded, pure (no global state, no
 *     allocation) and deterministic; callers parallelise by handing disjoint
 *     row or column ranges to different threads. Outputs may alias inputs
 *     only where a comment says so.
 *   - Nothing here prints, exits or checks sizes: callers validate.
 * These names are stable: kernel tests in tests/cuda/ link against them.
 */
#ifndef IFS_CPU_OPS_H
#define IFS_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_wts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The CPU backend cuts each sequence's token rows into GEMM blocks of at
 * most this many rows, counted from the sequence's first token, and runs
 * each [CLS]-only row (the last layer, pooler, classifier) as a block of
 * its own. A caller that blocks its ifs_cpu_linear calls the same way gets
 * the backend's bits (OpenBLAS's sum for a row depends on the call's shape). */
#define IFS_CPU_ROW_BLOCK 128

/* Activations on one value: HF "gelu" (erf form), "gelu_new" (tanh form), relu. */
float ifs_cpu_gelu(float x);
float ifs_cpu_gelu_tanh(float x);
float ifs_cpu_act(float x, ifs_act act);

/* The statistics every LayerNorm here uses, of one row v[0..dim): mean and
 * 1 / sqrt(biased variance + eps), accumulated in double in a fixed order (8
 * partial sums, then the tail). Backward passes that recompute them call this
 * so that they see the forward's exact values. */
void ifs_cpu_layernorm_stats(const float *v, int dim, float eps, float *mean, float *rstd);

/* out[r] = LayerNorm(x[r]) * g + b over `dim` columns, for `rows` rows, with
 * the biased variance (as torch), statistics as ifs_cpu_layernorm_stats.
 * out may equal x. */
void ifs_cpu_layernorm(float *out, const float *x, const float *g, const float *b, int64_t rows,
                       int dim, float eps);

/* out[r] = LayerNorm(x[r] + bias + residual[r]) * g + b. `bias` may be NULL.
 * out may equal x or residual. This is BertSelfOutput / BertOutput after
 * their dense layer. */
void ifs_cpu_add_bias_residual_layernorm(float *out, const float *x, const float *bias,
                                         const float *residual, const float *g, const float *b,
                                         int64_t rows, int dim, float eps);

/* BertEmbeddings for a packed batch: row t of sequence i (position
 * p = t - seq_off[i]) is LayerNorm(word[ids[t]] + pos[p] + type[type_ids[t]]).
 * type_ids may be NULL (all 0). out: [seq_off[n_seqs]][hidden]. Rows
 * [row0, row1) only are written (row ranges let threads share the work);
 * pass 0 and seq_off[n_seqs] for all. */
void ifs_cpu_embed_layernorm(float *out, const int32_t *ids, const int32_t *type_ids,
                             const int32_t *seq_off, int32_t n_seqs, int64_t row0, int64_t row1,
                             const float *word, const float *pos, const float *type, const float *g,
                             const float *b, int hidden, float eps);

/* y[r][j] = act(y[r][j] + bias[j]) in place for `rows` rows of `n` columns
 * with row stride ldy; bias may be NULL; IFS_ACT_* via `act`, or -1 for none. */
void ifs_cpu_bias_act(float *y, int64_t ldy, const float *bias, int64_t rows, int n, int act);

/* y = x W^T (+ bias) with an optional activation (act = -1 for none), via
 * OpenBLAS sgemm: x [rows][in] (row stride ldx), W [out][in] (HF layout),
 * y [rows][out] (row stride ldy). Only output columns [n0, n1) are computed,
 * using weight rows [n0, n1) (pass 0, out for all). OpenBLAS may sum a
 * value in a different order when the call's shape changes, so the same row
 * computed in calls of different shapes agrees to rounding, not bits. */
void ifs_cpu_linear(float *y, int64_t ldy, const float *x, int64_t ldx, const float *W,
                    const float *bias, int64_t rows, int in, int n0, int n1, int act);

/* In-place softmax of each of `rows` rows of `n` values (max-subtracted). */
void ifs_cpu_softmax_rows(float *x, int64_t rows, int n);

/* Scaled dot-product attention of one head over one sequence of L tokens:
 * ctx[i] = sum_j softmax_j(scale * q[i].k[j]) v[j], for i in [0, Lq).
 * q, k, v point at the head's first column of the sequence's first row and
 * step by ld_q / ld_kv floats per row; ctx steps by ld_ctx. Lq is the number
 * of query rows (L for a whole layer, 1 for the [CLS]-only last layer).
 * scratch: at least Lq * L floats. No mask is needed: the batch is packed,
 * so every key is a real token of the same sequence. */
void ifs_cpu_attention_head(float *ctx, int64_t ld_ctx, const float *q, int64_t ld_q,
                            const float *k, const float *v, int64_t ld_kv, int Lq, int L,
                            int head_dim, float scale, float *scratch);

/* Whole-batch attention: qkv rows are [Q | K | V] (3 * hidden floats, head
 * h at columns h*head_dim of each part); ctx: [n_tokens][hidden]. scratch:
 * max sequence length squared floats. The reference for a CUDA attention
 * kernel (the backend itself runs ifs_cpu_attention_head per (seq, head)). */
void ifs_cpu_attention(float *ctx, const float *qkv, const int32_t *seq_off, int32_t n_seqs,
                       int hidden, int n_heads, float *scratch);

/* pooled[s] = tanh(cls[s] Wp^T + bp); logits[s] = pooled[s] Wc^T + bc, for
 * n_seqs rows of cls [n_seqs][hidden]. pooled: [n_seqs][hidden] scratch. */
void ifs_cpu_pooler_classifier(float *logits, float *pooled, const float *cls, int32_t n_seqs,
                               const ifs_bert_weights *w);

/* The whole forward pass, single-threaded, on every row of every layer (no
 * [CLS]-only shortcut): the plainest statement of the model, used by tests
 * to check the threaded backend. logits [n_seqs][num_labels]; cls_hidden
 * NULL or [n_seqs][hidden]. Allocates its own scratch; returns 0, or -1 when
 * out of memory. */
int ifs_cpu_forward_reference(const ifs_bert_weights *w, const int32_t *ids,
                              const int32_t *type_ids, const int32_t *seq_off, int32_t n_seqs,
                              float *logits, float *cls_hidden);

#ifdef __cplusplus
}
#endif
#endif /* IFS_CPU_OPS_H */
