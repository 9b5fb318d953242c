/*
 * backend_impl.h - private: the vtable every backend implements. Not
 * installed, not included outside kernels/.
 */
#ifndef IFS_BACKEND_IMPL_H
#define IFS_BACKEND_IMPL_H

#include "ifs_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *kind;
    int (*forward)(ifs_backend *b, const ifs_batch *batch, float *logits, float *cls_hidden);
    void (*destroy)(ifs_backend *b); /* frees everything but the base struct */
    /* NULL when the backend has no ifs_backend_encode */
    int (*encode)(ifs_backend *b, const ifs_batch *batch, int n_layers, float *hidden);
} ifs_backend_vt;

/* Every backend struct starts with this base. */
struct ifs_backend {
    const ifs_backend_vt *vt;
    const ifs_bert_weights *w;
    ifs_backend_opts opts;
    char err[512];
};

/* Implemented in cpu/ and cuda/. They allocate the whole backend struct
 * (base first), fill base.vt / w / opts, and return IFS_BK_* codes. */
int ifs_cpu_backend_create(const ifs_bert_weights *w, const ifs_backend_opts *opts,
                           ifs_backend **out, char *err, size_t errlen);
#ifdef IFS_HAVE_CUDA
int ifs_cuda_backend_create(const ifs_bert_weights *w, const ifs_backend_opts *opts,
                            ifs_backend **out, char *err, size_t errlen);
int ifs_cuda_device_count(void);
#endif

#ifdef __cplusplus
}
#endif
#endif
