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
 *   - Every file is opened with O_NONBLOCK and must be a regular file (a
 *     symlink to one is fine): a FIFO, a folder or a device is refused as
 *     what it is. Files are read, never mapped, so one that shrinks while
 *     it loads is an error naming it, not a SIGBUS.
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
    IFS_ACT_GELU = 0,      /* exact erf form (HF "gelu") */
    IFS_ACT_GELU_TANH = 1, /* tanh approximation (HF "gelu_new", "gelu_pytorch_tanh") */
    IFS_ACT_RELU = 2,
} ifs_act;

typedef struct {
    int32_t vocab_size;
    int32_t hidden;       /* hidden_size */
    int32_t n_layers;     /* num_hidden_layers */
    int32_t n_heads;      /* num_attention_heads; head_dim = hidden / n_heads */
    int32_t intermediate; /* intermediate_size */
    int32_t max_position; /* max_position_embeddings */
    int32_t type_vocab;   /* type_vocab_size */
    int32_t num_labels;   /* from id2label / num_labels (default 2) */
    int32_t pad_token_id;
    float ln_eps;                               /* layer_norm_eps */
    ifs_act act;                                /* hidden_act */
    char labels[IFS_MAX_LABELS][IFS_LABEL_LEN]; /* id2label, "LABEL_i" when absent */
    /* What the classifier reads, from ifscore's own config.json fields:
     *   "ifs_input": "response" | "pair"  (absent or null = "response", the
     *       paper's: the response alone). "pair": [CLS] instruction [SEP]
     *       response [SEP] with token types 0 / 1, as HF encodes a text pair.
     *   "ifs_instruction_max_tokens": K   (pair only; an integer in
     *       [1, 1048576]): the instruction is cut to at most K tokens before
     *       the response is truncated. Absent or null = 0 = no cap of its own
     *       (the pair is truncated as HF's default, longest_first, does).
     * Refused: another type, a string other than the two, K < 1, and K with
     * an input other than "pair". */
    int pair_input;                 /* 0: response alone, 1: (instruction, response) */
    int32_t instruction_max_tokens; /* K, or 0 */
} ifs_bert_config;

typedef struct {
    const float *q_w, *q_b; /* [hidden][hidden], [hidden] */
    const float *k_w, *k_b;
    const float *v_w, *v_b;
    const float *ao_w, *ao_b;   /* attention.output.dense */
    const float *ln1_g, *ln1_b; /* attention.output.LayerNorm */
    const float *i_w, *i_b;     /* intermediate.dense [intermediate][hidden] */
    const float *o_w, *o_b;     /* output.dense [hidden][intermediate] */
    const float *ln2_g, *ln2_b; /* output.LayerNorm */
} ifs_bert_layer;

typedef struct {
    ifs_bert_config cfg;
    const float *word_emb; /* [vocab_size][hidden] */
    const float *pos_emb;  /* [max_position][hidden] */
    const float *type_emb; /* [type_vocab][hidden] */
    const float *emb_ln_g, *emb_ln_b;
    const ifs_bert_layer *layers; /* [n_layers] */
    const float *pool_w,
        *pool_b; /* pooler.dense [hidden][hidden]; NULL if IFS_WTS_ENCODER_ONLY and absent */
    const float *cls_w, *cls_b; /* classifier [num_labels][hidden]; NULL likewise */
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
 * ignored. Each weight file is read once, front to back, in bounded memory
 * (a 4 MiB buffer besides the fp32 arrays). Returns NULL on failure with a
 * message in err (file, tensor, byte offset): no config.json, no weights
 * (pytorch_model.bin alone gets the conversion command), a file that is
 * there but not regular (said what it is: a FIFO, a directory, a device), a
 * file over its size cap (config.json 16 MiB, the index 64 MiB, a header
 * 100,000,000 bytes; the cap is in the message), a malformed file, an
 * unsupported config, a missing / mis-shaped / non-finite tensor, a weight
 * file that shrinks or is rewritten while it loads, out of memory. Caller
 * frees with ifs_wts_free. Thread-safe (no shared state). */
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
    IFS_WTS_EIO = -1,     /* cannot open / read / write a file */
    IFS_WTS_EFORMAT = -2, /* malformed safetensors, config.json or index */
    IFS_WTS_EUNSUP = -3,  /* valid but unsupported (model_type, relative positions, dtype) */
    IFS_WTS_EMODEL = -4,  /* tensor missing, mis-shaped, NaN/Inf */
    IFS_WTS_ENOMEM = -5,
    IFS_WTS_EARG = -6,   /* bad argument from the caller */
    IFS_WTS_ELABEL = -7, /* the answer label is ambiguous or names no label */
};
/* Words for a status; static storage. */
const char *ifs_wts_strerror(int status);

/* Storage dtypes the loader converts from and the writer writes. */
typedef enum { IFS_WTS_F32 = 0, IFS_WTS_F16 = 1, IFS_WTS_BF16 = 2 } ifs_wts_dtype;

/* "gelu" | "gelu_new" | "relu" (the HF hidden_act name written for act). */
const char *ifs_wts_act_name(ifs_act act);

/* ------------------------------------------------------------------------
 * config.json alone. `json` need not be NUL-terminated; `name` is used in
 * messages (e.g. the path). Fills *cfg with HF BertConfig defaults for
 * missing fields. A key given twice takes its last value, at every level
 * (id2label and label2id included), as Python's json and so transformers
 * do. Returns 0, IFS_WTS_EFORMAT, IFS_WTS_EUNSUP or IFS_WTS_EARG (NULL).
 */
int ifs_wts_parse_config(const char *json, size_t len, const char *name, ifs_bert_config *cfg,
                         char *err, size_t errlen);

/* ------------------------------------------------------------------------
 * The answer-like label of a classifier: the one whose probability score
 * and classify compare with the threshold. *out gets its index.
 *
 * With `flag` (the user's --answer-label; NULL or "" when not given):
 *   1. decimal digits only ("0", "1", ...): that index, which must be below
 *      num_labels; refused as ambiguous when another label is named exactly
 *      that text (id2label {"0": "1", "1": "0"});
 *   2. otherwise the label named exactly `flag`; else the one label named
 *      so ignoring ASCII case (two such labels: refused);
 *   3. "index:N" is N as an index and "name:TEXT" is TEXT as a name (rule 2
 *      alone), never ambiguous: the way out of rule 1's refusal. The prefix
 *      is always taken as one, so a label named "name:x" is "name:name:x".
 * Without it, from the names in id2label:
 *   - a name is cut into words at every byte that is not an ASCII letter or
 *     digit (bytes >= 0x80 count as letters) and between a lower-case and
 *     an upper-case letter ("NoAnswer" = "No" "Answer"); words compare
 *     ignoring ASCII case;
 *   - a name *mentions* an answer when a word contains "answer";
 *   - it is *negated* when a word is one of no, not, non, un, none, never,
 *     without, nor, neither, or when a word contains "answer" but does not
 *     begin with it ("unanswerable", "nonanswer", "noanswer");
 *   - it *names* the answer when a word begins with "answer" ("answer",
 *     "answers", "answer-like", "answerable") and it is not negated.
 *   Exactly one label names the answer: that one. Two or more: refused,
 *   naming them. None, but some label mentions an answer ("no answer",
 *   "unanswerable"): refused, since the other label is only a guess. None
 *   and no mention (LABEL_0 / LABEL_1, "continuation" / "other"): index 1,
 *   the paper's convention for binary classifiers.
 * Every refusal is IFS_WTS_ELABEL with a message that names the labels and
 * says to choose with --answer-label NAME|INDEX. Fewer than 2 labels:
 * IFS_WTS_ELABEL too. NULL c / out: IFS_WTS_EARG.
 */
int ifs_wts_answer_label(const ifs_bert_config *c, const char *flag, int32_t *out, char *err,
                         size_t errlen);

/* ------------------------------------------------------------------------
 * Safetensors files, low level (the loader's reader, exposed for tools,
 * tests and the fuzz target). Validation is complete at parse time: header
 * cap, '{', UTF-8 JSON, known dtypes, shape x size == byte range with
 * overflow checks, offsets in bounds, back-to-back coverage (no overlap, no
 * gap, no trailing bytes), no duplicate names.
 */
typedef struct {
    const char *name;  /* NUL-terminated, borrowed from the handle */
    const char *dtype; /* "F32", "I64", ... as in the header */
    int ndim;          /* 0..8 */
    int64_t shape[8];
    uint64_t begin, end;  /* byte range relative to the data section */
    uint64_t file_offset; /* absolute offset of the first byte in the file */
    const void *data;     /* borrowed: points into the handle's bytes (the
                                caller's for ifs_wts_st_parse) */
} ifs_wts_tensor_info;

typedef struct ifs_wts_st ifs_wts_st;

/* Parses bytes[0..len) as a safetensors file, in time linear in the
 * header's size. The handle borrows `bytes` (data pointers point into it):
 * keep them alive until ifs_wts_st_free. `name` appears in messages. NULL
 * on failure with the reason in err. */
ifs_wts_st *ifs_wts_st_parse(const void *bytes, size_t len, const char *name, char *err,
                             size_t errlen);
/* Reads the regular file `path` whole into memory (the handle owns the
 * copy; data pointers point into it) and parses it. Refused as EIO: not a
 * regular file (said what it is), a file that shrinks or changes while
 * being read. Meant for tools and small files: ifs_wts_load streams
 * instead and never holds a whole file. NULL on failure, reason in err. */
ifs_wts_st *ifs_wts_st_open(const char *path, char *err, size_t errlen);
void ifs_wts_st_free(ifs_wts_st *st);          /* accepts NULL */
size_t ifs_wts_st_count(const ifs_wts_st *st); /* 0 for NULL */
/* i-th tensor in file order (sorted by begin); NULL when i is out of range. */
const ifs_wts_tensor_info *ifs_wts_st_tensor(const ifs_wts_st *st, size_t i);
/* Tensor by exact name (a binary search), or NULL. */
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
 * Writing. The functions that take a path write atomically: a temp file in
 * the same folder, fsync, rename, fsync of the folder. The ifs_wts_emit_* /
 * ifs_wts_save_to variants hand the same bytes to a caller's write callback
 * instead (for a project-wide atomic writer, a socket, a hash). Inputs are
 * borrowed.
 */

/* A sink for emitted bytes: writes p[0..n) and returns 0, or a negative
 * status, which stops the emission and is returned by the emitter. */
typedef int (*ifs_wts_write_fn)(void *ctx, const void *p, size_t n);
typedef struct {
    const char *name;
    int ndim; /* 1..8 */
    int64_t shape[8];
    const float *data; /* prod(shape) fp32 values, converted to dtype */
} ifs_wts_tensor_out;

/* The 16 tensors of encoder layer l (HF names, "bert.encoder.layer.<l>.*",
 * shapes from c, data borrowed from L) in the order ifs_wts_save writes
 * them. names: 16 * IFS_WTS_NAME_LEN bytes that out[].name points into. */
#define IFS_WTS_NAME_LEN 96
void ifs_wts_layer_tensors(const ifs_bert_config *c, int l, const ifs_bert_layer *L, char *names,
                           ifs_wts_tensor_out out[16]);

/* Writes one safetensors file with tensors in the given order and
 * __metadata__ {"format":"pt"}. Returns 0 or a negative status:
 * IFS_WTS_EARG (a malformed or repeated tensor), IFS_WTS_ENOMEM,
 * IFS_WTS_EIO. */
int ifs_wts_write_safetensors(const char *path, const ifs_wts_tensor_out *t, size_t n,
                              ifs_wts_dtype dtype, char *err, size_t errlen);
/* The same bytes through write(ctx, ...); `name` is for messages. Returns
 * as ifs_wts_write_safetensors, or the callback's first failure. */
int ifs_wts_emit_safetensors(const char *name, const ifs_wts_tensor_out *t, size_t n,
                             ifs_wts_dtype dtype, ifs_wts_write_fn write, void *ctx, char *err,
                             size_t errlen);

/* Writes a BertForSequenceClassification config.json (id2label, label2id,
 * hidden_act, ...; ifs_input / ifs_instruction_max_tokens for a pair
 * classifier) for cfg. Deterministic bytes. */
int ifs_wts_write_config(const char *path, const ifs_bert_config *cfg, char *err, size_t errlen);
/* The same bytes through write(ctx, ...). */
int ifs_wts_emit_config(const char *name, const ifs_bert_config *cfg, ifs_wts_write_fn write,
                        void *ctx, char *err, size_t errlen);

/* Writes dir/config.json and dir/model.safetensors for w (fp32 arrays)
 * stored as dtype, with HF's BertForSequenceClassification names ("bert."
 * prefix, "classifier.*"). pool_* / cls_* are written when non-NULL (a
 * checkpoint without them loads only with IFS_WTS_ENCODER_ONLY). Creates
 * dir (one level) if missing. Same inputs -> byte-identical files. */
int ifs_wts_save(const char *dir, const ifs_bert_weights *w, ifs_wts_dtype dtype, char *err,
                 size_t errlen);
/* The model.safetensors bytes ifs_wts_save writes for w, through
 * write(ctx, ...) (config.json: ifs_wts_emit_config(&w->cfg, ...)). `name`
 * is for messages. */
int ifs_wts_save_to(const char *name, const ifs_bert_weights *w, ifs_wts_dtype dtype,
                    ifs_wts_write_fn write, void *ctx, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_WTS_H */
