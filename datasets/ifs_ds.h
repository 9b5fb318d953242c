/*
 * ifs_ds.h - the paper's data sets: cutting instructions into a fragment and
 * its continuation, labels and splits for the response set, prompt variants,
 * and a streaming splitter that turns a JSON array (or JSONL) of any size into
 * one element at a time for the importers.
 *
 * Usage:
 *
 *     // cut "What if people had 40 legs?" into Ip = "What if", Ic = "people ..."
 *     ifs_ds_cut c;
 *     uint64_t key = ifs_ds_key(seed, "cut", text, len);
 *     if (ifs_ds_cut_pick(text, len, IFS_DS_CUT_AUTO, key, &c) == 0)
 *         printf("%.*s | %.*s\n", (int)c.ip_len, text + c.ip_off,
 *                (int)c.ic_len, text + c.ic_off);
 *
 *     // stream the elements of a 100 MB JSON array without holding it
 *     ifs_ds_jsplit *js = ifs_ds_jsplit_create(1 << 24);
 *     ifs_ds_elem e;
 *     size_t used;
 *     while (have_bytes) {
 *         int rc = ifs_ds_jsplit_feed(js, buf, len, &used, &e);
 *         buf += used; len -= used;
 *         if (rc == IFS_DS_ELEM) handle(e.data, e.len);
 *         else if (rc == 0) refill(&buf, &len);          // all consumed
 *         else if (rc == IFS_DS_ETOOBIG) count_skip(e.index);
 *         else { puts(ifs_ds_jsplit_error(js)); break; }  // syntax error
 *     }
 *     ... ifs_ds_jsplit_finish(js, &e) until it returns 0 ...
 *     ifs_ds_jsplit_free(js);
 *
 *     // a command as a call: import AlpacaEval outputs into shards/
 *     ifs_ds_import_opts io = { .format = IFS_DS_FMT_ALPACA_EVAL };
 *     ifs_ds_import_result res;
 *     char *in[] = { "alpaca_eval_outputs" };
 *     int rc = ifs_ds_import(&io, NULL, in, 1, "shards", NULL, NULL, &res, err, sizeof err);
 *
 * Ownership: every handle comes from a *_create and goes to its *_free (which
 * accepts NULL). Element bytes handed out by the splitter are borrowed and
 * stay valid until the next call on the same handle. Strings returned by
 * *_name / *_error functions are static or owned by the handle. The library
 * never prints and never exits. Nothing here is thread-shared: one handle per
 * thread; the pure functions (cut, key, prompt) are reentrant.
 */
#ifndef IFS_DS_H
#define IFS_DS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes (0 = success / "need more input" where documented). */
enum {
    IFS_DS_OK = 0,
    IFS_DS_ELEM = 1,     /* jsplit: one element is ready in *out */
    IFS_DS_ENOCUT = -1,  /* no word boundary the policy accepts */
    IFS_DS_EARG = -2,    /* bad argument */
    IFS_DS_ENOMEM = -3,  /* allocation failed */
    IFS_DS_ESYNTAX = -4, /* jsplit: the stream is not a JSON array / JSONL */
    IFS_DS_ETOOBIG = -5, /* jsplit: one element exceeded max_elem; it was skipped */
    IFS_DS_EIO = -6,     /* a file could not be read / written */
    IFS_DS_ETRUNC = -7,  /* input ended inside a zstd frame or a JSON array */
    IFS_DS_EFORMAT = -8, /* malformed input (zstd corruption, bad manifest) */
};
const char *ifs_ds_strerror(int status); /* static string */

/* ---- deterministic keys ----------------------------------------------------
 * Every random choice of the builders is a pure function of (seed, purpose,
 * some text): the same record gets the same choice whatever order or chunk it
 * arrives in, and duplicates of one instruction are treated alike. */
uint64_t ifs_ds_key(uint64_t seed, const char *purpose, const char *text, size_t len);
/* Uniform double in [0, 1) from a key. */
double ifs_ds_unit(uint64_t key);

/* ---- the cut policy (docs/datasets.md explains and measures it) ------------
 * A cut is a whitespace run between two words of I: Ip is everything before
 * it, Ic everything after it (both trimmed of outer whitespace). A "word" is a
 * maximal run of non-whitespace; whitespace is ASCII and Unicode spaces
 * (U+00A0, U+2000..U+200A, U+3000, ...). Both sides must hold at least one
 * letter or digit (any non-ASCII code point that is not punctuation or space
 * counts as a letter), so "?" alone is never a continuation. */
typedef enum {
    IFS_DS_CUT_LOOSE = 0,  /* the paper's: any such boundary */
    IFS_DS_CUT_INCOMPLETE, /* no boundary after sentence-final punctuation
                                (. ! ? ... and CJK forms, also behind closing
                                quotes/brackets) nor across a line break */
    IFS_DS_CUT_STRICT,     /* INCOMPLETE, and Ip must end in a connector
                                (, ; : - ( and the like) or a closed-class word
                                that cannot end a sentence (the, of, and, if...) */
    IFS_DS_CUT_AUTO,       /* STRICT when any boundary qualifies, else
                                INCOMPLETE (the default) */
} ifs_ds_cut_policy;

/* How the fragment Ip ends: the measurable side of the policy. */
typedef enum {
    IFS_DS_END_SENTENCE = 0, /* sentence-final punctuation: looks complete */
    IFS_DS_END_LINE,         /* the boundary holds a line break */
    IFS_DS_END_OPEN,         /* an open-class word: may or may not be complete */
    IFS_DS_END_CONNECTOR,    /* a closed-class word or connector punctuation:
                                certainly incomplete */
    IFS_DS_END_COUNT
} ifs_ds_end;
const char *ifs_ds_end_name(ifs_ds_end e); /* "sentence", "line", "open", "connector" */

typedef struct {
    size_t ip_off, ip_len; /* Ip = text[ip_off, ip_off + ip_len) */
    size_t ic_off, ic_len; /* Ic = text[ic_off, ic_off + ic_len) */
    size_t ip_words;       /* words in Ip (>= 1) */
    size_t n_words;        /* words in I */
    ifs_ds_end end;        /* class of Ip's ending */
} ifs_ds_cut;

/* Parses an ifs_ds_cut_policy name ("loose", "incomplete", "strict", "auto");
 * returns -1 for an unknown name. */
int ifs_ds_cut_policy_parse(const char *name);
const char *ifs_ds_cut_policy_name(ifs_ds_cut_policy p);

/* Number of boundaries of text[0, len) that `policy` accepts (AUTO: those of
 * STRICT if any, else those of INCOMPLETE). No allocation. */
size_t ifs_ds_cut_count(const char *text, size_t len, ifs_ds_cut_policy policy);

/* Picks one accepted boundary, uniformly from `key`, into *out.
 * Returns 0, IFS_DS_ENOCUT when none is accepted (one word, no spaces,
 * punctuation only, every boundary rejected), IFS_DS_EARG on NULL. */
int ifs_ds_cut_pick(const char *text, size_t len, ifs_ds_cut_policy policy, uint64_t key,
                    ifs_ds_cut *out);

/* Calls fn for every word boundary (whatever the policy) with its class, in
 * order; for measuring policies. Returns the number of boundaries. */
size_t ifs_ds_cut_each(const char *text, size_t len, void (*fn)(const ifs_ds_cut *c, void *user),
                       void *user);

/* Words of text[0, len): maximal runs of non-whitespace (the cut's Unicode
 * spaces), zero-width characters (U+200B..U+200D, U+2060, U+FEFF) counting
 * as neither word nor space, so a text of only U+200B has 0 words. */
size_t ifs_ds_word_count(const char *text, size_t len);

/* ---- labels of the response set ------------------------------------------ */
typedef enum {
    IFS_DS_KIND_R = 0, /* the response: label 1 (answer-like) */
    IFS_DS_KIND_IC,    /* the continuation of the instruction: label 0 */
    IFS_DS_KIND_IC_R,  /* continuation then response: label 0 */
} ifs_ds_kind;
const char *ifs_ds_kind_name(ifs_ds_kind k); /* "R", "Ic", "Ic+R" */
int ifs_ds_kind_label(ifs_ds_kind k);        /* 1, 0, 0 */

typedef enum { IFS_DS_TRAIN = 0, IFS_DS_VALIDATION, IFS_DS_TEST, IFS_DS_HOLDOUT } ifs_ds_split;
/* "train", "validation", "test", "holdout" (an instruction source kept out
 * of training and validation) */
const char *ifs_ds_split_name(ifs_ds_split s);
/* The split of a group from its key: [0, train) train, then validation, rest
 * test (fractions in [0, 1], train + validation <= 1); never holdout. */
ifs_ds_split ifs_ds_split_of(uint64_t key, double train, double validation);

/* ---- prompt variants ------------------------------------------------------ */
typedef enum {
    IFS_DS_PROMPT_A = 0, /* the full Alpaca wrapper */
    IFS_DS_PROMPT_B,     /* "{instruction}\n\n### Response:" */
    IFS_DS_PROMPT_C,     /* "{instruction}" */
    IFS_DS_PROMPT_SHORT, /* "{instruction}### Response:" (the paper's SFT form) */
} ifs_ds_prompt;
int ifs_ds_prompt_parse(const char *name); /* "A", "B", "C", "short"; -1 if unknown */
const char *ifs_ds_prompt_name(ifs_ds_prompt p);
/* Writes the prompt into out[0, cap) with a NUL; returns the length it needs
 * (without the NUL), like snprintf: a return >= cap means it was cut short. */
size_t ifs_ds_prompt_render(ifs_ds_prompt p, const char *instr, size_t len, char *out, size_t cap);

/* ---- streaming JSON array / JSONL splitter -------------------------------- */
typedef struct ifs_ds_jsplit ifs_ds_jsplit;

typedef struct {
    const char *data; /* the element's bytes (borrowed; NULL for ETOOBIG) */
    size_t len;       /* its length in bytes (the full length for ETOOBIG) */
    uint64_t index;   /* 0-based element number in the stream */
    uint64_t offset;  /* byte offset of its first byte in the stream */
    uint64_t line;    /* 1-based line of its first byte */
} ifs_ds_elem;

/* max_elem bounds the memory per element (0 = 16 MiB). The mode is chosen
 * from the first non-whitespace byte (a UTF-8 BOM is skipped): '[' reads one
 * JSON array, element by element; anything else reads JSONL, one non-blank
 * line per element (CR before LF stripped). Returns NULL on no memory. */
ifs_ds_jsplit *ifs_ds_jsplit_create(size_t max_elem);
void ifs_ds_jsplit_free(ifs_ds_jsplit *js);

/* Feeds buf[0, len). Sets *used to the bytes consumed and returns:
 *   IFS_DS_ELEM     an element is in *out (more may follow: call again with
 *                   the rest of the buffer);
 *   0               every byte was consumed, feed more;
 *   IFS_DS_ETOOBIG  the element in *out (data NULL) was longer than max_elem
 *                   and was skipped; call again;
 *   IFS_DS_ESYNTAX  the array is malformed (message in ifs_ds_jsplit_error);
 *                   the handle is then dead: every later call returns it.
 * Array mode checks the array's structure (commas, brackets, strings,
 * nothing but whitespace after ']'), not each element's grammar: elements go
 * to a JSON parser next. */
int ifs_ds_jsplit_feed(ifs_ds_jsplit *js, const char *buf, size_t len, size_t *used,
                       ifs_ds_elem *out);
/* At end of input: returns IFS_DS_ELEM for a last JSONL line without newline
 * (call again), 0 when done, IFS_DS_ETOOBIG likewise, IFS_DS_ETRUNC when the
 * array never closed (or an element was cut off), IFS_DS_ESYNTAX as above. */
int ifs_ds_jsplit_finish(ifs_ds_jsplit *js, ifs_ds_elem *out);
const char *ifs_ds_jsplit_error(const ifs_ds_jsplit *js);
int ifs_ds_jsplit_is_array(const ifs_ds_jsplit *js); /* 1 array, 0 JSONL, -1 not yet known */

/* ---- byte source: a plain, zstd- or gzip-compressed file, streamed --------
 * Importers read JSON arrays, whose elements span lines, so they need bytes
 * rather than the shard reader's lines. zstd is detected by magic (regular
 * and skippable frames) and so is gzip (1f 8b); several frames / members
 * are read in order. */
typedef struct ifs_ds_src ifs_ds_src;
/* path "-" is stdin. Returns NULL with a message in err. */
ifs_ds_src *ifs_ds_src_open(const char *path, char *err, size_t errlen);
/* Reads up to cap decompressed bytes; *n = 0 at the end. Returns 0, or
 * IFS_DS_EIO / IFS_DS_EFORMAT (corrupt frame or member, or junk after the
 * last gzip member) / IFS_DS_ETRUNC (the file ended inside a frame or
 * member) / IFS_DS_ENOMEM, with the message in ifs_ds_src_error naming the
 * file and the compressed byte offset. */
int ifs_ds_src_read(ifs_ds_src *s, char *buf, size_t cap, size_t *n);
const char *ifs_ds_src_error(const ifs_ds_src *s);
int ifs_ds_src_is_zstd(const ifs_ds_src *s);
int ifs_ds_src_is_gzip(const ifs_ds_src *s);
uint64_t ifs_ds_src_compressed_bytes(const ifs_ds_src *s); /* read so far */
void ifs_ds_src_close(ifs_ds_src *s);

/* ==== the commands as library calls ==========================================
 * One call per `ifscore` data-set command; the command line (host/cli/
 * cmd_*.c) only parses options into these structs and prints the results.
 * Every call writes a shard set (shards + manifest.json, atomically, the
 * manifest last) into `out`, takes caller-owned option structs (only read
 * during the call; strings borrowed), fills a caller-owned result, and
 * returns 0 or a negative IFS_DS_* status with words in err. Inputs
 * (char *const *inputs, n of them) are files, folders, globs or "-" as
 * documented per call; they are only read. Nothing prints, nothing exits. */

/* "64M", "1G", "4096" -> bytes (K/M/G are powers of 1024). 0 ok, -1 bad. */
int ifs_ds_parse_size(const char *s, uint64_t *out);

/* How output shards are cut (every call that writes a shard set). */
typedef struct {
    uint64_t max_records;
    uint64_t max_bytes;
    int level;   /* zstd level, 0 = 3 */
    int plain;   /* 1: write .jsonl instead of .jsonl.zst */
    int dry_run; /* 1: count records, write nothing (fuzzing, --dry-run) */
} ifs_ds_sink_opts;

/* ---- manifest check ------------------------------------------------------- */
typedef struct {
    size_t shards;     /* entries in the manifest's "shards" */
    size_t bad_shards; /* entries that are malformed, repeated, or do not match */
    size_t unlisted;   /* shard files in the folder the manifest does not list */
    size_t problems;   /* everything reported (the above and the top-level fields) */
    uint64_t records;  /* records counted in the shards read */
} ifs_ds_verify_stats;
/* Checks DIR/manifest.json (or a manifest path; its folder is DIR) against
 * the folder: the manifest's fields have their types (format
 * "ifscore-shards/1"; records, bytes and each shard's records, bytes and
 * uncompressed_bytes integers in [0, 2^53]; file a plain name; sha256 64
 * lowercase hex digits); no shard is listed twice; each listed shard is a
 * regular file (FIFOs and devices are refused without blocking) with the
 * listed size, SHA-256, record count (lines, read through the shard reader,
 * which also catches corrupt or truncated frames) and decompressed size; the
 * totals add up; and every file `ifscore score DIR` would read (*.jsonl,
 * *.jsonl.zst, not hidden) is listed. The manifest is read only if it is a
 * regular file of at most 64 MiB. report(line, user) gets one line of words
 * per problem (may be NULL). Returns 0 when all match, IFS_DS_EFORMAT on
 * problems (or, with words in err, when the file is no manifest at all),
 * IFS_DS_EIO when the manifest cannot be read (err), IFS_DS_ENOMEM. */
int ifs_ds_verify(const char *path, ifs_ds_verify_stats *st,
                  void (*report)(const char *line, void *user), void *user, char *err,
                  size_t errlen);

/* ---- import ----------------------------------------------------------------- */
typedef enum {
    IFS_DS_FMT_ALPACA_EVAL = 0,
    IFS_DS_FMT_ALPACA,
    IFS_DS_FMT_OASST, /* trees export or messages export, detected per element */
    IFS_DS_FMT_SHAREGPT,
    IFS_DS_FMT_JSON, /* generic JSON / JSONL with a field map */
    IFS_DS_FMT_HH,   /* Anthropic HH transcripts: the first human turn and its reply */
    IFS_DS_FMT_COUNT
} ifs_ds_format;
int ifs_ds_format_parse(const char *name); /* -1 if unknown */
const char *ifs_ds_format_name(ifs_ds_format f);

/* Reasons an input element was not imported; stable names (ifs_ds_skip_name). */
typedef enum {
    IFS_DS_SKIP_INVALID_JSON = 0,
    IFS_DS_SKIP_NOT_OBJECT,
    IFS_DS_SKIP_TOO_LARGE,
    IFS_DS_SKIP_INVALID_UTF8,
    IFS_DS_SKIP_NUL_IN_TEXT,
    IFS_DS_SKIP_MISSING_INSTRUCTION,
    IFS_DS_SKIP_MISSING_RESPONSE,
    IFS_DS_SKIP_MISSING_MODEL,
    IFS_DS_SKIP_NOT_STRING, /* a mapped field has the wrong type */
    IFS_DS_SKIP_BAD_ID,
    IFS_DS_SKIP_BAD_INSTRUCTION_TYPE,
    IFS_DS_SKIP_LANG_FILTERED,
    IFS_DS_SKIP_DELETED,           /* oasst: deleted or failed review */
    IFS_DS_SKIP_NO_REPLY,          /* oasst: first prompt without an usable assistant reply */
    IFS_DS_SKIP_NOT_FIRST_TURN,    /* oasst messages: deeper than the first reply */
    IFS_DS_SKIP_REPLY_NOT_BEST,    /* oasst messages: a first reply ranked below the best */
    IFS_DS_SKIP_TREE_SPLIT,        /* oasst messages: tree not contiguous in the file */
    IFS_DS_SKIP_NO_HUMAN_TURN,     /* sharegpt: no human turn first */
    IFS_DS_SKIP_NO_ASSISTANT_TURN, /* sharegpt, hh: the human turn has no reply */
    IFS_DS_SKIP_BAD_TRANSCRIPT,    /* hh: a turn label inside the first turn's text */
    IFS_DS_SKIP__COUNT
} ifs_ds_skip;
const char *ifs_ds_skip_name(ifs_ds_skip s);

typedef struct {
    ifs_ds_format format;
    const char *model;              /* --model: constant model name (NULL = per format) */
    const char *langs;              /* oasst: comma list, "all" or NULL = no filter */
    const char *instruction_source; /* constant instruction_source (NULL = per format) */
    /* generic JSON field paths (dotted, digits index arrays); NULL = default */
    const char *f_id, *f_model, *f_instruction, *f_response, *f_type, *f_input, *f_source;
    const char *f_transcript; /* hh: the transcript field (NULL = "chosen") */
    size_t max_elem;          /* 0 = 16 MiB */
} ifs_ds_import_opts;

typedef struct {
    uint64_t files, elements, records, merged; /* merged: oasst replies folded into a record */
    uint64_t skipped[IFS_DS_SKIP__COUNT];
    uint64_t file_errors; /* files that ended early (syntax, truncation, corruption) */
    uint64_t bytes_in;    /* compressed bytes read */
    uint64_t bytes_text;  /* decompressed bytes read */
    int output_error;     /* the sink failed: stop, nothing more can be written */
} ifs_ds_import_stats;

typedef struct {
    ifs_ds_import_stats st; /* every element: elements == records + merged + skipped */
    size_t shards;          /* shards written */
} ifs_ds_import_result;
/* `ifscore import`: inputs are files (plain, .zst, .gz) or folders of
 * *.json / *.jsonl (and those compressed), sorted, not recursive, or "-".
 * Each input gets its own series of shards named after it. A file that
 * ends early (not JSON, truncated, corrupt) is reported through on_error
 * (words naming the file and byte offset; may be NULL), counted, listed in
 * the manifest's "errors", and the next file is read: the call then returns
 * IFS_DS_EFORMAT after writing the manifest. Other returns: 0; IFS_DS_EARG
 * (bad options, e.g. the --lang list); IFS_DS_EIO / IFS_DS_ENOMEM when the
 * inputs cannot be listed or the output cannot be written (no manifest). */
int ifs_ds_import(const ifs_ds_import_opts *o, const ifs_ds_sink_opts *so, char *const *inputs,
                  int n, const char *out, void (*on_error)(const char *words, void *user),
                  void *user, ifs_ds_import_result *res, char *err, size_t errlen);

/* ---- instruction and response sets ----------------------------------------------- */
typedef struct {
    uint64_t seed;
    ifs_ds_cut_policy policy;
    double partial_share;        /* instruction set: share of partial (0.5) */
    int dedupe;                  /* instruction set: drop repeated instructions (1) */
    double ic_share;             /* response set: share of Ic among negatives (0.5) */
    double train, validation;    /* response set: split fractions (0.8, 0.1) */
    const char *positive_models; /* response set: comma list of fnmatch patterns, NULL = all */
    int repeat_ic;               /* response set: allow the same Ic text twice (0) */
    /* The planned response set (rset.c), on when `planned` is set: */
    int planned;
    int pairs;                   /* records carry "instruction" (I or Ip): the five cases */
    const char *negative_mix;    /* KIND=W,...; NULL: Ic=ic_share, Ic+R=1-ic_share */
    unsigned negatives;          /* negative candidates per pair (0: 1, or 2 with pairs) */
    const char *terse_models;    /* patterns whose short responses are positives too
                                 (NULL: positive_models) */
    unsigned terse_max_words;    /* R-terse: responses of at most this many words (0 off) */
    const char *holdout_sources; /* instruction_source patterns kept out: split holdout */
    double near_dup;             /* instructions with shingle Jaccard >= this share a split */
    int length_match;            /* balance labels per split x length bucket (else per split) */
    unsigned pool_size;          /* instructions kept for next/template/gibberish (4096) */
    unsigned max_per_group;      /* records of each label per instruction group (0 = any) */
} ifs_ds_build_opts;

/* What a build did (the manifest holds every count). */
typedef struct {
    uint64_t pairs;          /* pair records read */
    uint64_t written;        /* records written */
    uint64_t rejected_lines; /* input lines that were no JSON object record */
    uint64_t stream_errors;  /* inputs cut short (corrupt or truncated shards) */
    char summary[1024];      /* one line of words: what was made, dropped, skipped */
} ifs_ds_build_result;
/* `ifscore build-instructions` / `build-responses` over pair records
 * (inputs: shards, folders of them, globs, "-"; the planned response set
 * reads its inputs three times and refuses "-"). Returns 0, IFS_DS_EARG
 * (contradicting options: err says which), IFS_DS_EIO / IFS_DS_ENOMEM. */
int ifs_ds_build_instructions(const ifs_ds_build_opts *o, const ifs_ds_sink_opts *so,
                              char *const *inputs, int n, const char *out, ifs_ds_build_result *res,
                              char *err, size_t errlen);
int ifs_ds_build_responses(const ifs_ds_build_opts *o, const ifs_ds_sink_opts *so,
                           char *const *inputs, int n, const char *out, ifs_ds_build_result *res,
                           char *err, size_t errlen);
/* 0 when spec is a valid --negative-mix ("Ic=2,echo=1", negative kinds
 * only, some weight above 0), else -1 with words in err. */
int ifs_ds_check_negative_mix(const char *spec, char *err, size_t errlen);
/* `build-instructions --measure-cuts`: per cut policy, the expected share of
 * fragments ending in each class over the distinct instructions of the
 * inputs. *json is a malloc'd NUL-terminated JSON object (the caller
 * frees it). Returns 0, IFS_DS_EIO, IFS_DS_ENOMEM. */
int ifs_ds_measure_cuts(char *const *inputs, int n, char **json, uint64_t *rejected_lines,
                        char *err, size_t errlen);

/* ---- prompts, join, pack ----------------------------------------------------------- */
typedef struct {
    uint64_t written; /* prompts written */
    uint64_t missing; /* records without id or instruction (left out) */
    uint64_t rejected_lines, stream_errors;
} ifs_ds_prompts_result;
/* `ifscore prompts`: one {"id","prompt"} line per instruction record, to
 * out (a .jsonl or .jsonl.zst file, or "-" for stdout), written atomically.
 * Returns 0, IFS_DS_EIO, IFS_DS_ENOMEM. */
int ifs_ds_prompts(char *const *inputs, int n, ifs_ds_prompt variant, const char *out,
                   ifs_ds_prompts_result *res, char *err, size_t errlen);

typedef struct {
    const char *model;        /* model of every generation (NULL: each line's model/generator) */
    const char *variant;      /* prompt variant to record (NULL: none) */
    const char *output_field; /* the generation's text field (NULL: output, response, ...) */
} ifs_ds_join_opts;
typedef struct {
    uint64_t instructions, joined, unknown_id, duplicate, no_output, no_model;
    uint64_t without_generation; /* instructions no generation was joined to */
    uint64_t rejected_lines;     /* generation lines that were no record */
    uint64_t instr_rejected;     /* instruction-set lines that were no record */
    uint64_t instr_no_fields, instr_bad_type, instr_dup_id;
} ifs_ds_join_result;
/* `ifscore join`: the instruction set (one input: a shard, folder or
 * manifest'd folder) held in memory, the generations streamed. The manifest
 * is written whenever the generations could all be read; that something did
 * not join shows in the result's counts. Returns 0, IFS_DS_EIO,
 * IFS_DS_ENOMEM. */
int ifs_ds_join(const ifs_ds_join_opts *o, const char *instructions, char *const *gens, int n,
                const char *out, const ifs_ds_sink_opts *so, ifs_ds_join_result *res, char *err,
                size_t errlen);

typedef struct {
    uint64_t lines, records;
    size_t shards;
    uint64_t rejected_lines, stream_errors; /* lines left out, inputs cut short */
} ifs_ds_pack_result;
/* `ifscore pack`: record lines copied verbatim into <stem>-NNNNN shards.
 * Returns 0, IFS_DS_EIO, IFS_DS_ENOMEM. */
int ifs_ds_pack(char *const *inputs, int n, const char *out, const char *stem,
                const ifs_ds_sink_opts *so, ifs_ds_pack_result *res, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* IFS_DS_H */
