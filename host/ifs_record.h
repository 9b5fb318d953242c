/*
 * ifs_record.h - one JSONL input line -> one record (text, id, instruction
 * type, group keys), the fixed list of reject reasons, and the rejects file.
 *
 * Usage:
 *
 *     ifs_record_schema sch;
 *     ifs_record_schema_init(&sch);                        // response/id/instruction_type, group by model
 *     if (ifs_record_schema_set_group_by(&sch, "model,step", err, sizeof err)) ...
 *     ifs_record rec;
 *     ifs_record_init(&rec);                               // one per thread, reused
 *     ifs_reject_reason why = ifs_record_parse(&rec, &sch, line, len);
 *     if (why) ifs_rejects_add(rj, shard, line_no, offset, why, rec.detail);
 *     else     use(rec.text, rec.text_len, rec.group[0], ...);
 *     ifs_record_clear(&rec);                              // at the end
 *
 * The record rules (the schema of docs/architecture.md, names configurable):
 *   - text field (default "response"): a JSON string, required. "" is a valid
 *     text and is scored. Absent or null: missing_text; any other type:
 *     text_not_string.
 *   - id field (default "id"): optional; a string or a number. Absent or null:
 *     has_id = 0. Numbers are rendered canonically (below). Any other type, or
 *     an integer beyond +-2^53 (cJSON keeps numbers as doubles, so its digits
 *     would silently change): bad_id.
 *   - type field (default "instruction_type"): optional; absent or null ->
 *     IFS_ITYPE_NONE (counts toward IFS, not toward a split); "partial" or
 *     "full" (exact, case-sensitive); anything else: unknown_instruction_type.
 *   - group keys (default one key, "model"; 1..IFS_RECORD_MAX_GROUP_KEYS):
 *     each a string or a number; absent or null: missing_group_key; any other
 *     type (bool, array, object) or an inexact big integer: bad_group_key_type.
 *     Numbers become text canonically: an integral value as a plain integer
 *     ("8000", also for 8000.0 and 8e3), otherwise the shortest of %.15g /
 *     %.17g that reads back to the same double ("0.5").
 *   - pair field (default none; score/classify --instruction-field): when set,
 *     a required string, the instruction, the first text of a pair
 *     classifier's input. Absent or null: missing_instruction; any other
 *     type: instruction_not_string. (Named so before any report could
 *     carry them: score had no pair mode while they were missing_pair /
 *     pair_not_string.)
 *   - unknown keys are ignored; keys are matched case-sensitively; a duplicate
 *     key takes its first occurrence (cJSON's lookup order).
 * Whole-line checks come first: empty line (only spaces/tabs or nothing:
 * empty_line), then UTF-8 (the whole line must be UTF-8, as RFC 8259 asks:
 * invalid_utf8), then raw 0x00 bytes (nul_in_text), then one strict RFC 8259
 * pass that reports the first of, by position: a \u0000 escape (nul_in_text,
 * because cJSON would silently cut that string, be it the text, an id or a
 * group value), nesting deeper than schema.max_depth (too_deep; capped at
 * 512), or any syntax error (invalid_json; this also refuses raw control
 * characters in strings, numbers like 01 and 1., and text after the value,
 * which cJSON alone lets through). Then a top-level
 * object (not_object), then the fields in the order listed above.
 *
 * Ownership and threads:
 *   - ifs_record_schema is a plain value (field names are copied into it); it
 *     is read-only during parsing and may be shared by threads.
 *   - ifs_record is per-thread scratch: the pointers it exposes borrow from its
 *     own parse tree and number buffers, and stay valid until the next
 *     ifs_record_parse or ifs_record_clear on the same struct. Text pointers
 *     are NUL-terminated (the text holds no NUL: that line would be rejected).
 *   - ifs_rejects is thread-safe (one mutex), and may be called from several.
 *   - Nothing here prints or exits.
 */
#ifndef IFS_RECORD_H
#define IFS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "ifs_buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why a line was not scored. The names (ifs_reject_name) are stable: they are
 * what rejects files and reports contain. Append only; never renumber. */
typedef enum {
    IFS_REJECT_NONE = 0,                 /* "none": the line is a record */
    IFS_REJECT_EMPTY_LINE,               /* "empty_line": nothing but spaces/tabs */
    IFS_REJECT_LINE_TOO_LONG,            /* "line_too_long": over max_line_bytes (reader) */
    IFS_REJECT_INVALID_UTF8,             /* "invalid_utf8" */
    IFS_REJECT_NUL_IN_TEXT,              /* "nul_in_text": raw 0x00 or \u0000 escape */
    IFS_REJECT_TOO_DEEP,                 /* "too_deep": nesting over max_depth */
    IFS_REJECT_INVALID_JSON,             /* "invalid_json" */
    IFS_REJECT_NOT_OBJECT,               /* "not_object": valid JSON, not an object */
    IFS_REJECT_MISSING_TEXT,             /* "missing_text" */
    IFS_REJECT_TEXT_NOT_STRING,          /* "text_not_string" */
    IFS_REJECT_BAD_ID,                   /* "bad_id": id neither string nor exact number */
    IFS_REJECT_UNKNOWN_INSTRUCTION_TYPE, /* "unknown_instruction_type" */
    IFS_REJECT_MISSING_GROUP_KEY,        /* "missing_group_key" */
    IFS_REJECT_BAD_GROUP_KEY_TYPE,       /* "bad_group_key_type" */
    IFS_REJECT_MISSING_INSTRUCTION,      /* "missing_instruction": pair mode, the record has no
                                          instruction field (absent or null) */
    IFS_REJECT_INSTRUCTION_NOT_STRING,   /* "instruction_not_string": pair mode, the instruction
                                          field is not a string */
    IFS_REJECT_ZSTD_CORRUPT,             /* "zstd_corrupt": undecodable frame (reader) */
    IFS_REJECT_ZSTD_TRUNCATED,           /* "zstd_truncated": shard ends inside a frame (reader) */
    IFS_REJECT_IO_ERROR,                 /* "io_error": read(2) failed (reader) */
    IFS_REJECT_TOKENIZER_ERROR,          /* "tokenizer_error": set by the scheduler */
    IFS_REJECT_NONFINITE_LOGITS,         /* "nonfinite_logits": NaN/Inf logits (scheduler) */
    IFS_REJECT_DEVICE_OOM,              /* "device_oom": one record alone did not fit (scheduler) */
    IFS_REJECT_BACKEND_REFUSED,         /* "backend_refused": the backend refused the record's ids
                                          (e.g. a token type the model does not have), alone */
    IFS_REJECT_UNSUPPORTED_COMPRESSION, /* "unsupported_compression": the shard is gzip, xz,
                                          bzip2 or lz4, not zstd or plain (reader) */
    IFS_REJECT_ZSTD_CHECKSUM, /* "zstd_checksum": the line's zstd frame failed its content checksum (score) */
    IFS_REJECT__COUNT
} ifs_reject_reason;

/* Stable lowercase name of a reason ("invalid_json"); "unknown" for values
 * out of range. Static storage. */
const char *ifs_reject_name(ifs_reject_reason r);
/* Reverse lookup; returns IFS_REJECT__COUNT when the name is not one of ours. */
ifs_reject_reason ifs_reject_from_name(const char *name);

/* A record's instruction_type: the one enum for it in ifscore (the reducer
 * counts by it too). */
typedef enum {
    IFS_ITYPE_NONE = 0, /* absent or null: counts toward IFS only */
    IFS_ITYPE_PARTIAL = 1,
    IFS_ITYPE_FULL = 2,
} ifs_itype;

#define IFS_RECORD_MAX_GROUP_KEYS 8
#define IFS_RECORD_MAX_FIELD_NAME 127 /* bytes, excluding the NUL */
#define IFS_RECORD_DEFAULT_MAX_DEPTH 64

typedef struct {
    char text_field[IFS_RECORD_MAX_FIELD_NAME + 1]; /* "response" */
    char id_field[IFS_RECORD_MAX_FIELD_NAME + 1];   /* "id"; "" = no id */
    char type_field[IFS_RECORD_MAX_FIELD_NAME + 1]; /* "instruction_type"; "" = no type */
    char pair_field[IFS_RECORD_MAX_FIELD_NAME + 1]; /* ""; set for pair models */
    char group_fields[IFS_RECORD_MAX_GROUP_KEYS][IFS_RECORD_MAX_FIELD_NAME + 1]; /* {"model"} */
    size_t n_group_fields;                                                       /* 1 */
    int max_depth; /* IFS_RECORD_DEFAULT_MAX_DEPTH */
} ifs_record_schema;

/* Statuses of the schema setters and the rejects file (0 = ok). */
enum {
    IFS_RECORD_EARG = -1, /* a bad name, list or argument; err says which */
    IFS_RECORD_EIO = -2,  /* the rejects file could not be written */
    IFS_RECORD_ENOMEM = -3,
};

/* The configurable fields of a record. */
typedef enum {
    IFS_FIELD_TEXT, /* --text-field: what the classifier reads */
    IFS_FIELD_ID,   /* --id-field */
    IFS_FIELD_TYPE, /* --type-field: instruction_type */
    IFS_FIELD_PAIR, /* --pair-field / --instruction-field: the first text of a pair */
} ifs_record_field;

/* Defaults as commented above. */
void ifs_record_schema_init(ifs_record_schema *s);
/* Set one field name. name "" disables id/type/pair (not text). Returns 0,
 * or IFS_RECORD_EARG with words in err (empty name for text, name longer
 * than IFS_RECORD_MAX_FIELD_NAME, unknown field). */
int ifs_record_schema_set_field(ifs_record_schema *s, ifs_record_field which, const char *name,
                                char *err, size_t errlen);
/* --group-by "model,step": comma-separated, 1..IFS_RECORD_MAX_GROUP_KEYS
 * names, no empty names, no duplicates, spaces around names kept as part of
 * the name (JSON keys may contain spaces). Returns 0, or IFS_RECORD_EARG with words in err;
 * on error the schema's group keys are unchanged. */
int ifs_record_schema_set_group_by(ifs_record_schema *s, const char *list, char *err,
                                   size_t errlen);

/* One parsed record. Public fields are read-only for callers. */
typedef struct {
    const char *text; /* borrowed (see above); NULL after a reject */
    size_t text_len;
    const char *pair; /* NULL when the schema has no pair field */
    size_t pair_len;
    const char *id; /* NULL when has_id == 0 */
    size_t id_len;
    int has_id;
    int id_is_number; /* 1: id came from a JSON number (rendered canonically) */
    ifs_itype type;
    size_t n_group; /* = schema n_group_fields after a successful parse */
    const char *group[IFS_RECORD_MAX_GROUP_KEYS];
    size_t group_len[IFS_RECORD_MAX_GROUP_KEYS];
    ifs_reject_reason reason; /* same as the last parse's return */
    char detail[192];         /* words about the reject ("" when accepted) */
    /* private */
    void *root_;                                     /* cJSON tree of the last parse */
    char numbuf_[IFS_RECORD_MAX_GROUP_KEYS + 1][40]; /* canonical numbers */
} ifs_record;

void ifs_record_init(ifs_record *r);
/* Parse one line (without its '\n'; len bytes, need not be NUL-terminated).
 * Returns IFS_REJECT_NONE and fills the record, or the reason and fills
 * r->detail (which names the byte offset in the line where that makes sense).
 * Never fails otherwise: cJSON failing on a line the strict pass accepted can
 * only be a failed allocation; it reads as invalid_json with a detail that
 * starts "cJSON refused" (cJSON does not say why). */
ifs_reject_reason ifs_record_parse(ifs_record *r, const ifs_record_schema *s, const char *line,
                                   size_t len);
/* Free the parse tree; the struct can be parsed into again. NULL is fine. */
void ifs_record_clear(ifs_record *r);

/* ifs_json_escape (JSON string bodies) is in ifs_buf.h. */

/* ---------------------------------------------------------------------------
 * Rejects file: one JSON object per line,
 *   {"shard":"a.jsonl.zst","line":17,"offset":10423,"reason":"invalid_json","detail":"..."}
 * `line` is 1-based, `offset` the byte offset of the line's start in the
 * shard's decompressed stream. The file is written atomically (temporary file
 * in the same directory, renamed at ifs_rejects_close), compressed when the
 * path ends in ".zst"; "-" writes to stdout; NULL path counts without writing.
 */
typedef struct ifs_rejects ifs_rejects;

/* Returns 0 and *out (free with ifs_rejects_free), or IFS_RECORD_EARG, _ENOMEM or _EIO with words in err. */
int ifs_rejects_open(const char *path, ifs_rejects **out, char *err, size_t errlen);
/* Append one reject; detail may be NULL. Thread-safe. Returns 0, or
 * IFS_RECORD_EIO when writing failed (the error is kept and reported again,
 * with its errno words, by close). */
int ifs_rejects_add(ifs_rejects *rj, const char *shard, uint64_t line, uint64_t offset,
                    ifs_reject_reason reason, const char *detail);
/* Total rejects added so far, and per reason (reason out of range: 0). */
uint64_t ifs_rejects_total(const ifs_rejects *rj);
uint64_t ifs_rejects_count(const ifs_rejects *rj, ifs_reject_reason reason);
/* Flush, fsync and rename into place. Returns 0, or IFS_RECORD_EIO with words in err (the
 * temporary file is removed). Does not free: call ifs_rejects_free after. */
int ifs_rejects_close(ifs_rejects *rj, char *err, size_t errlen);
/* Frees; if not closed, removes the temporary file (nothing appears). NULL ok. */
void ifs_rejects_free(ifs_rejects *rj);

#ifdef __cplusplus
}
#endif

#endif
