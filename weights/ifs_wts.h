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
 *   - pytorch_model.bin is not read (a pickle): the loader refuses it with
 *     the one-line conversion command to safetensors.
 *   - SHA-256 for other modules: ifs_sha256.h.
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

/* Loads `dir`/config.json and `dir`/model.safetensors (or, when that is
 * absent, the shards named by model.safetensors.index.json). Tensor names are
 * HF's, with or without the "bert." prefix, LayerNorm.weight/bias or the
 * legacy LayerNorm.gamma/beta; classifier.* has no prefix. Every used tensor
 * must be F32, F16 or BF16 with the shape config.json implies and no NaN/Inf;
 * other tensors (position_ids, MLM heads) are validated by the reader and
 * ignored. Returns NULL on failure with a message in err (file, tensor, byte
 * offset): no config.json, no weights (pytorch_model.bin alone gets the
 * conversion command), a malformed file, an unsupported config, a missing /
 * mis-shaped / non-finite tensor, out of memory. Caller frees with
 * ifs_wts_free. Thread-safe (no shared state). */
ifs_wts_model *ifs_wts_load(const char *dir, unsigned flags, char *err, size_t errlen);
void ifs_wts_free(ifs_wts_model *m);

const ifs_bert_weights *ifs_wts_weights(const ifs_wts_model *m);

/* Hex SHA-256 (64 chars + NUL) over config.json's bytes followed by the
 * weight files' bytes (model.safetensors, or the shards sorted by name), i.e.
 * `cat config.json model.safetensors | sha256sum`. For reports. Borrowed
 * from m. */
const char *ifs_wts_fingerprint(const ifs_wts_model *m);

/* ------------------------------------------------------------------------
 * Status codes returned by the int functions below (0 = success).
 */
enum {
    IFS_WTS_OK = 0,
    IFS_WTS_EIO = -1,      /* cannot open / read / write a file */
    IFS_WTS_EFORMAT = -2,  /* malformed safetensors, config.json or index */
    IFS_WTS_EUNSUP = -3,   /* valid but unsupported (model_type, relative positions, dtype) */
    IFS_WTS_EMODEL = -4,   /* tensor missing, mis-shaped, NaN/Inf */
    IFS_WTS_ENOMEM = -5,
    IFS_WTS_EARG = -6,     /* bad argument from the caller */
};
/* Words for a status; static storage. */
const char *ifs_wts_status_str(int status);

/* Storage dtypes the loader converts from and the writer writes. */
typedef enum { IFS_WTS_F32 = 0, IFS_WTS_F16 = 1, IFS_WTS_BF16 = 2 } ifs_wts_dtype;

/* "gelu" | "gelu_new" | "relu" (the HF hidden_act name written for act). */
const char *ifs_wts_act_name(ifs_act act);

/* ------------------------------------------------------------------------
 * config.json alone. `json` need not be NUL-terminated; `name` is used in
 * messages (e.g. the path). Fills *cfg with HF BertConfig defaults for
 * missing fields. Returns 0, IFS_WTS_EFORMAT or IFS_WTS_EUNSUP.
 */
int ifs_wts_parse_config(const char *json, size_t len, const char *name,
                         ifs_bert_config *cfg, char *err, size_t errlen);

/* ------------------------------------------------------------------------
 * Safetensors files, low level (the loader's reader, exposed for tools,
 * tests and the fuzz target). Validation is complete at parse time: header
 * cap, '{', UTF-8 JSON, known dtypes, shape x size == byte range with
 * overflow checks, offsets in bounds, back-to-back coverage (no overlap, no
 * gap, no trailing bytes), no duplicate names.
 */
typedef struct {
    const char *name;        /* NUL-terminated, borrowed from the handle */
    const char *dtype;       /* "F32", "I64", ... as in the header */
    int ndim;                /* 0..8 */
    int64_t shape[8];
    uint64_t begin, end;     /* byte range relative to the data section */
    uint64_t file_offset;    /* absolute offset of the first byte in the file */
    const void *data;        /* borrowed: points into the mapped/passed bytes */
} ifs_wts_tensor_info;

typedef struct ifs_wts_st ifs_wts_st;

/* Parses bytes[0..len) as a safetensors file. The handle borrows `bytes`
 * (data pointers point into it): keep them alive until ifs_wts_st_free.
 * `name` appears in messages. NULL on failure with the reason in err. */
ifs_wts_st *ifs_wts_st_parse(const void *bytes, size_t len, const char *name,
                             char *err, size_t errlen);
/* Maps `path` read-only and parses it; the handle owns the mapping. */
ifs_wts_st *ifs_wts_st_open(const char *path, char *err, size_t errlen);
void ifs_wts_st_free(ifs_wts_st *st);
size_t ifs_wts_st_count(const ifs_wts_st *st);
/* i-th tensor in file order (sorted by begin); NULL when i is out of range. */
const ifs_wts_tensor_info *ifs_wts_st_tensor(const ifs_wts_st *st, size_t i);
/* Tensor by exact name, or NULL. */
const ifs_wts_tensor_info *ifs_wts_st_find(const ifs_wts_st *st, const char *name);

/* ------------------------------------------------------------------------
 * dtype conversion (exact; round-to-nearest-even on the way down, NaN kept
 * NaN, overflow to Inf, subnormals kept).
 */
float ifs_wts_f16_to_f32(uint16_t h);
float ifs_wts_bf16_to_f32(uint16_t b);
uint16_t ifs_wts_f32_to_f16(float f);
uint16_t ifs_wts_f32_to_bf16(float f);

/* ------------------------------------------------------------------------
 * Writing. All writes are atomic: a temp file in the same folder, fsync,
 * rename, fsync of the folder. Inputs are borrowed.
 */
typedef struct {
    const char *name;
    int ndim;                /* 1..8 */
    int64_t shape[8];
    const float *data;       /* prod(shape) fp32 values, converted to dtype */
} ifs_wts_tensor_out;

/* The 16 tensors of encoder layer l (HF names, "bert.encoder.layer.<l>.*",
 * shapes from c, data borrowed from L) in the order ifs_wts_save writes
 * them. names: 16 * IFS_WTS_NAME_LEN bytes that out[].name points into. */
#define IFS_WTS_NAME_LEN 96
void ifs_wts_layer_tensors(const ifs_bert_config *c, int l, const ifs_bert_layer *L,
                           char *names, ifs_wts_tensor_out out[16]);

/* Writes one safetensors file with tensors in the given order and
 * __metadata__ {"format":"pt"}. Returns 0 or a negative status. */
int ifs_wts_write_safetensors(const char *path, const ifs_wts_tensor_out *t, size_t n,
                              ifs_wts_dtype dtype, char *err, size_t errlen);

/* Writes a BertForSequenceClassification config.json (id2label, label2id,
 * hidden_act, ...) for cfg. Deterministic bytes. */
int ifs_wts_write_config(const char *path, const ifs_bert_config *cfg,
                         char *err, size_t errlen);

/* Writes dir/config.json and dir/model.safetensors for w (fp32 arrays)
 * stored as dtype, with HF's BertForSequenceClassification names ("bert."
 * prefix, "classifier.*"). pool_* / cls_* are written when non-NULL (a
 * checkpoint without them loads only with IFS_WTS_ENCODER_ONLY). Creates
 * dir (one level) if missing. Same inputs -> byte-identical files. */
int ifs_wts_save(const char *dir, const ifs_bert_weights *w, ifs_wts_dtype dtype,
                 char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_WTS_H */
