/*
 * ifs_backend.h - the BertForSequenceClassification forward pass behind one
 * interface, with two implementations: "cpu" (plain C fp32, the reference)
 * and "cuda" (hand-written kernels + cuBLAS; built when a toolkit is found).
 *
 * Usage:
 *
 *     ifs_backend_opts o = ifs_backend_default_opts();
 *     o.max_batch_tokens = 16384;
 *     ifs_backend *b;
 *     char err[256];
 *     if (ifs_backend_create("cpu", w, &o, &b, err, sizeof err)) { ... }
 *     int32_t ids[] = {101, 7592, 102, 101, 102};
 *     int32_t off[] = {0, 3, 5};
 *     ifs_batch batch = { .n_seqs = 2, .n_tokens = 5, .input_ids = ids,
 *                         .type_ids = NULL, .seq_off = off };
 *     float logits[2 * 2];
 *     if (ifs_backend_forward(b, &batch, logits, NULL)) puts(ifs_backend_error(b));
 *     ifs_backend_free(b);
 *
 * Batches are packed: no padding. Sequence i is tokens
 * [seq_off[i], seq_off[i+1]) of input_ids; attention never crosses sequences.
 *
 * Ownership and threads:
 *   - The weights passed to create are borrowed and must outlive the backend
 *     (the cuda backend copies them to the device once, at create).
 *   - One backend handle is used by one thread at a time. The cpu backend
 *     parallelises inside forward over opts.n_threads threads. Several
 *     handles (one per worker) may exist at once over the same weights.
 *   - Batch arrays and output arrays are caller-owned host memory; the
 *     backend keeps no pointer to them after forward returns.
 *   - The error string is owned by the handle, valid until its next call.
 *   - ifs_backend_free accepts NULL. Nothing here prints or exits.
 */
#ifndef IFS_BACKEND_H
#define IFS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_wts.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    IFS_BK_OK = 0,
    IFS_BK_EARG = -1,    /* malformed batch (bad offsets, id out of vocab, too long) */
    IFS_BK_ENOMEM = -2,  /* host or device out of memory: retry with a smaller batch */
    IFS_BK_EDEVICE = -3, /* device error: the context may be unusable, stop */
    IFS_BK_EUNSUP = -4,  /* backend / dtype / shape not supported or not built */
};

typedef enum { IFS_DT_F32 = 0, IFS_DT_F16 = 1, IFS_DT_BF16 = 2 } ifs_dtype;

typedef struct {
    int32_t n_seqs;
    int32_t n_tokens;         /* == seq_off[n_seqs] */
    const int32_t *input_ids; /* [n_tokens]; each sequence begins with [CLS] */
    const int32_t *type_ids;  /* [n_tokens] or NULL for all zero */
    const int32_t *seq_off;   /* [n_seqs + 1]; seq_off[0] = 0, strictly increasing,
                                   each length <= cfg.max_position */
} ifs_batch;

typedef struct {
    int device;               /* cuda: device ordinal; cpu: ignored */
    int n_threads;            /* cpu: threads inside forward, 0 = all cores */
    ifs_dtype dtype;          /* compute dtype; cpu supports IFS_DT_F32 only */
    int32_t max_batch_tokens; /* largest n_tokens a forward call will see */
    int32_t max_batch_seqs;   /* largest n_seqs a forward call will see */
} ifs_backend_opts;

typedef struct ifs_backend ifs_backend;

ifs_backend_opts ifs_backend_default_opts(void);

/* 1 when backend `kind` ("cpu", "cuda") is built and has a usable device. */
int ifs_backend_available(const char *kind);

/* Creates a backend over weights `w` (must have pooler and classifier).
 * Returns IFS_BK_OK and *out, or an error code with a message in err. */
int ifs_backend_create(const char *kind, const ifs_bert_weights *w, const ifs_backend_opts *opts,
                       ifs_backend **out, char *err, size_t errlen);

/* Runs the model on `batch`. logits: caller array [n_seqs * num_labels],
 * raw classifier outputs (before softmax). cls_hidden: NULL, or caller array
 * [n_seqs * hidden] receiving the last encoder layer's [CLS] row (before the
 * pooler), which train-head uses as frozen features.
 * Returns IFS_BK_OK or an error code (see ifs_backend_error). */
int ifs_backend_forward(ifs_backend *b, const ifs_batch *batch, float *logits, float *cls_hidden);

/* Runs the embeddings and the first n_layers encoder layers (0 <= n_layers
 * <= cfg.n_layers) on every token of `batch`, writing their output rows to
 * hidden [n_tokens][hidden]: what enters layer n_layers. train-head
 * fine-tunes the last layer on these. Returns IFS_BK_OK or IFS_BK_EARG (a
 * bad batch or n_layers); cuda rows are computed in the backend's dtype and
 * converted to fp32. */
int ifs_backend_encode(ifs_backend *b, const ifs_batch *batch, int n_layers, float *hidden);

const char *ifs_backend_error(const ifs_backend *b);
const char *ifs_backend_kind(const ifs_backend *b);
void ifs_backend_free(ifs_backend *b);

/* The dense matrix-product rate of backend `kind` on this machine, the
 * ceiling that MFU is measured against: y[m][n] = x[m][k] W[n][k]^T (the
 * encoder's layer shape) on random operands, never zero (zeros run faster
 * and draw less power), warmed up, then `repeats` products timed;
 * *tflops = 2mnk / median time / 1e12.
 *   cuda: cuBLASLt as the backend calls it (fp32 accumulation; f32 is strict
 *         fp32, no TF32), on `device`, timed with CUDA events. dtype any.
 *   cpu:  OpenBLAS sgemm held to one thread, on a pool of one thread per
 *         online core, each task a block of 128 output rows: how the cpu
 *         backend runs its GEMMs. Wall-clock timing. dtype IFS_DT_F32 only.
 * Threads and ownership: allocates and frees everything it uses (operands,
 * for cuda a stream and a GEMM context; it sets the calling thread's
 * device); call it while no backend is busy on the same device or cores,
 * or both are slowed. The cpu path sets OpenBLAS to one thread, as creating
 * a cpu backend does (process-wide). Nothing is printed.
 * Returns IFS_BK_OK; IFS_BK_EARG (sizes outside 1..65536, repeats outside
 * 1..10000, NULL tflops, a missing device ordinal); IFS_BK_EUNSUP (unknown
 * kind, cuda not built or no device, a dtype the kind lacks); IFS_BK_ENOMEM;
 * IFS_BK_EDEVICE; each with words in err. */
int ifs_backend_gemm_peak(const char *kind, int device, ifs_dtype dtype, int m, int n, int k,
                          int repeats, double *tflops, char *err, size_t errlen);

/* Words for a status; static storage. */
const char *ifs_backend_strerror(int status);

/* Checks a batch against a config; returns IFS_BK_OK or IFS_BK_EARG with a
 * message in err. Backends call it; callers may too. */
int ifs_batch_validate(const ifs_batch *batch, const ifs_bert_config *cfg, char *err,
                       size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_BACKEND_H */
