/*
 * backend.c - dispatch from a backend name to its implementation, and the
 * batch checks every backend shares (so a malformed batch is refused the
 * same way whatever runs it).
 */
#include "backend_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

ifs_backend_opts ifs_backend_default_opts(void)
{
    ifs_backend_opts o;
    memset(&o, 0, sizeof o);
    o.device = 0;
    o.n_threads = 0;
    o.dtype = IFS_DT_F32;
    o.max_batch_tokens = 8192;
    o.max_batch_seqs = 256;
    return o;
}

int ifs_backend_available(const char *kind)
{
    if (!kind) return 0;
    if (!strcmp(kind, "cpu")) return 1;
#ifdef IFS_HAVE_CUDA
    if (!strcmp(kind, "cuda")) return ifs_cuda_device_count() > 0;
#endif
    return 0;
}

int ifs_backend_create(const char *kind, const ifs_bert_weights *w,
                       const ifs_backend_opts *opts, ifs_backend **out,
                       char *err, size_t errlen)
{
    if (!kind || !w || !out) {
        seterr(err, errlen, "ifs_backend_create: NULL argument");
        return IFS_BK_EARG;
    }
    *out = NULL;
    if (!w->pool_w || !w->pool_b || !w->cls_w || !w->cls_b) {
        seterr(err, errlen, "checkpoint has no pooler/classifier head: "
               "a BertForSequenceClassification checkpoint is needed (see train-head)");
        return IFS_BK_EARG;
    }
    ifs_backend_opts o = opts ? *opts : ifs_backend_default_opts();
    if (o.max_batch_tokens <= 0 || o.max_batch_seqs <= 0) {
        seterr(err, errlen, "max_batch_tokens and max_batch_seqs must be positive");
        return IFS_BK_EARG;
    }
    if (!strcmp(kind, "cpu")) return ifs_cpu_backend_create(w, &o, out, err, errlen);
    if (!strcmp(kind, "cuda")) {
#ifdef IFS_HAVE_CUDA
        return ifs_cuda_backend_create(w, &o, out, err, errlen);
#else
        seterr(err, errlen, "this ifscore was built without CUDA (configure with -DIFS_CUDA=ON)");
        return IFS_BK_EUNSUP;
#endif
    }
    seterr(err, errlen, "unknown backend '%s' (expected cpu or cuda)", kind);
    return IFS_BK_EUNSUP;
}

/* A batch the backend's config and limits accept: IFS_BK_OK, or an error
 * with words in b->err. */
static int check_batch(ifs_backend *b, const ifs_batch *batch)
{
    int rc = ifs_batch_validate(batch, &b->w->cfg, b->err, sizeof b->err);
    if (rc) return rc;
    if (batch->n_tokens > b->opts.max_batch_tokens || batch->n_seqs > b->opts.max_batch_seqs) {
        seterr(b->err, sizeof b->err, "batch of %d seqs / %d tokens exceeds the backend's "
               "limits (%d seqs / %d tokens)", batch->n_seqs, batch->n_tokens,
               b->opts.max_batch_seqs, b->opts.max_batch_tokens);
        return IFS_BK_EARG;
    }
    return IFS_BK_OK;
}

int ifs_backend_forward(ifs_backend *b, const ifs_batch *batch, float *logits, float *cls_hidden)
{
    if (!b || !batch || !logits) return IFS_BK_EARG;
    b->err[0] = '\0';
    int rc = check_batch(b, batch);
    if (rc || batch->n_seqs == 0) return rc;
    return b->vt->forward(b, batch, logits, cls_hidden);
}

int ifs_backend_encode(ifs_backend *b, const ifs_batch *batch, int n_layers, float *hidden)
{
    if (!b || !batch || !hidden) return IFS_BK_EARG;
    b->err[0] = '\0';
    if (!b->vt->encode) {
        seterr(b->err, sizeof b->err, "the %s backend cannot return hidden states "
               "(use the cpu backend)", b->vt->kind);
        return IFS_BK_EUNSUP;
    }
    if (n_layers < 0 || n_layers > b->w->cfg.n_layers) {
        seterr(b->err, sizeof b->err, "encode: %d layers asked of a model with %d", n_layers,
               b->w->cfg.n_layers);
        return IFS_BK_EARG;
    }
    int rc = check_batch(b, batch);
    if (rc || batch->n_seqs == 0) return rc;
    return b->vt->encode(b, batch, n_layers, hidden);
}

const char *ifs_backend_error(const ifs_backend *b) { return b ? b->err : "NULL backend"; }
const char *ifs_backend_kind(const ifs_backend *b) { return b ? b->vt->kind : "none"; }

void ifs_backend_free(ifs_backend *b)
{
    if (!b) return;
    b->vt->destroy(b);
    free(b);
}

int ifs_batch_validate(const ifs_batch *batch, const ifs_bert_config *cfg, char *err, size_t errlen)
{
    if (batch->n_seqs < 0 || batch->n_tokens < 0 || (batch->n_seqs > 0 &&
        (!batch->input_ids || !batch->seq_off))) {
        seterr(err, errlen, "batch: negative size or NULL array");
        return IFS_BK_EARG;
    }
    if (batch->n_seqs == 0) return IFS_BK_OK;
    if (batch->seq_off[0] != 0 || batch->seq_off[batch->n_seqs] != batch->n_tokens) {
        seterr(err, errlen, "batch: seq_off must start at 0 and end at n_tokens (%d)", batch->n_tokens);
        return IFS_BK_EARG;
    }
    for (int32_t i = 0; i < batch->n_seqs; i++) {
        int32_t len = batch->seq_off[i + 1] - batch->seq_off[i];
        if (len <= 0 || len > cfg->max_position) {
            seterr(err, errlen, "batch: sequence %d has length %d (must be 1..%d)",
                   i, len, cfg->max_position);
            return IFS_BK_EARG;
        }
    }
    for (int32_t t = 0; t < batch->n_tokens; t++) {
        if (batch->input_ids[t] < 0 || batch->input_ids[t] >= cfg->vocab_size) {
            seterr(err, errlen, "batch: token %d has id %d outside the vocabulary (%d)",
                   t, batch->input_ids[t], cfg->vocab_size);
            return IFS_BK_EARG;
        }
        if (batch->type_ids && (batch->type_ids[t] < 0 || batch->type_ids[t] >= cfg->type_vocab)) {
            seterr(err, errlen, "batch: token %d has type id %d outside 0..%d",
                   t, batch->type_ids[t], cfg->type_vocab - 1);
            return IFS_BK_EARG;
        }
    }
    return IFS_BK_OK;
}
