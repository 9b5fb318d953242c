/*
 * ifs_wts.h - load a HuggingFace BertForSequenceClassification checkpoint
 * (config.json + model.safetensors, or a sharded safetensors index) into
 * validated fp32 host arrays that every backend consumes.
 *
 * Usage:
 *
 *     char err[512];
 *     ifs_wts_model *m = ifs_wts_load("models/minilm", 0, err, sizeof err);
 *     if (!m) { fprintf(stderr, "%s\n", err); return 1; }
 *     const ifs_bert_weights *w = ifs_wts_weights(m);
 *     printf("%d layers, hidden %d\n", w->cfg.n_layers, w->cfg.hidden);
 *     ifs_wts_free(m);
 *
 * Ownership:
 *   - ifs_wts_model owns every float array reachable from ifs_bert_weights;
 *     they stay valid and immutable until ifs_wts_free. Share freely across
 *     threads for reading.
 *   - Linear weights keep HF's layout: W[out][in], row-major, y = x W^T + b.
 *   - F16 / BF16 tensors are converted to fp32 on load.
 *   - Every *_free accepts NULL. The library never prints and never exits.
 *   - Error messages name the file, the tensor and the byte offset.
 */
#ifndef IFS_WTS_H
#define IFS_WTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IFS_MAX_LABELS 64
#define IFS_LABEL_LEN 64

typedef enum {
    IFS_ACT_GELU = 0,     /* exact erf form (HF "gelu") */
    IFS_ACT_GELU_TANH = 1,/* tanh approximation (HF "gelu_new", "gelu_pytorch_tanh") */
    IFS_ACT_RELU = 2,
} ifs_act;

typedef struct {
    int32_t vocab_size;
    int32_t hidden;          /* hidden_size */
    int32_t n_layers;        /* num_hidden_layers */
    int32_t n_heads;         /* num_attention_heads; head_dim = hidden / n_heads */
    int32_t intermediate;    /* intermediate_size */
    int32_t max_position;    /* max_position_embeddings */
    int32_t type_vocab;      /* type_vocab_size */
    int32_t num_labels;      /* from id2label / num_labels (default 2) */
    int32_t pad_token_id;
    float ln_eps;            /* layer_norm_eps */
    ifs_act act;             /* hidden_act */
    char labels[IFS_MAX_LABELS][IFS_LABEL_LEN]; /* id2label, "LABEL_i" when absent */
} ifs_bert_config;

typedef struct {
    const float *q_w, *q_b;       /* [hidden][hidden], [hidden] */
    const float *k_w, *k_b;
    const float *v_w, *v_b;
    const float *ao_w, *ao_b;     /* attention.output.dense */
    const float *ln1_g, *ln1_b;   /* attention.output.LayerNorm */
    const float *i_w, *i_b;       /* intermediate.dense [intermediate][hidden] */
    const float *o_w, *o_b;       /* output.dense [hidden][intermediate] */
    const float *ln2_g, *ln2_b;   /* output.LayerNorm */
} ifs_bert_layer;

typedef struct {
    ifs_bert_config cfg;
    const float *word_emb;        /* [vocab_size][hidden] */
    const float *pos_emb;         /* [max_position][hidden] */
    const float *type_emb;        /* [type_vocab][hidden] */
    const float *emb_ln_g, *emb_ln_b;
    const ifs_bert_layer *layers; /* [n_layers] */
    const float *pool_w, *pool_b; /* pooler.dense [hidden][hidden]; NULL if IFS_WTS_ENCODER_ONLY and absent */
    const float *cls_w, *cls_b;   /* classifier [num_labels][hidden]; NULL likewise */
} ifs_bert_weights;

/* Flags for ifs_wts_load. */
enum {
    IFS_WTS_ENCODER_ONLY = 1u << 0, /* accept a checkpoint without pooler / classifier
                                       (BertModel); those pointers are then NULL */
};

typedef struct ifs_wts_model ifs_wts_model;

/* Loads `dir`/config.json and `dir`/model.safetensors (or the shards named by
 * model.safetensors.index.json). Returns NULL on failure with a message in
 * err. Caller frees with ifs_wts_free. */
ifs_wts_model *ifs_wts_load(const char *dir, unsigned flags, char *err, size_t errlen);
void ifs_wts_free(ifs_wts_model *m);

const ifs_bert_weights *ifs_wts_weights(const ifs_wts_model *m);

/* Hex SHA-256 over the weight files' bytes in a fixed order (64 chars + NUL),
 * for reports. Borrowed from m. */
const char *ifs_wts_fingerprint(const ifs_wts_model *m);

#ifdef __cplusplus
}
#endif
#endif /* IFS_WTS_H */
