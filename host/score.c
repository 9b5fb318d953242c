/*
 * score.c - the score run (ifs_score.h has the way of the data and the
 * guarantees). This file holds the run's state, the reading loop, the sink
 * that commits shard by shard, and the end (merge, outputs); the checks of
 * paths and options made before anything is written are in
 * ifs_score_create.
 */
#include "ifs_score.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ifs_backend.h"
#include "ifs_buf.h"
#include "ifs_decide.h"
#include "ifs_io.h"
#include "ifs_record.h"
#include "ifs_report.h"
#include "ifs_resume.h"
#include "ifs_sched.h"
#include "ifs_sha256.h"
#include "ifs_shard.h"
#include "ifs_slurm.h"
#include "ifs_tok.h"
#include "ifs_version.h"
#include "ifs_wts.h"

ifs_score_opts ifs_score_default_opts(void)
{
    ifs_score_opts o;
    memset(&o, 0, sizeof o);
    o.backend = "auto";
    o.dtype = "auto";
    o.threads = 2;
    o.max_batch_tokens = 16384;
    o.max_batch_seqs = 512;
    o.chunk_records = 4096;
    o.max_chunks = 4;
    o.threshold = IFS_DECIDE_DEFAULT_THRESHOLD;
    o.max_line_bytes = IFS_SHARD_DEFAULT_MAX_LINE;
    return o;
}

const char *ifs_score_strerror(int status)
{
    switch (status) {
    case IFS_SCORE_OK: return "ok";
    case IFS_SCORE_EUSAGE: return "invalid options, model or paths for this run";
    case IFS_SCORE_EFAIL: return "the run failed";
    case IFS_SCORE_EDATA: return "data checks failed";
    case IFS_SCORE_ECANCELLED: return "cancelled (state left resumable)";
    case IFS_SCORE_ENOMEM: return "out of memory";
    default: return "unknown status";
    }
}

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the run's state --------------------------------------------------------- */

typedef struct shard {
    const char *path;
    uint64_t size;
    int is_regular;          /* 0: stdin, FIFO: read once, never resumed */
    ifs_resume_fp fp;
    char *path_json;         /* the path as a JSON string, quotes included */
    int skip;                /* finished by an earlier run */
    int done;                /* finished now (set by the sink) */
    ifs_reducer *red;
    int32_t input;
    ifs_shard_writer *scores;
    ifs_rejects *rejects;
    uint64_t lines;
} shard;

enum { K_REC = 0, K_REJECT = 1, K_END = 2 };

/* One item's payload, handed through the scheduler to the sink: the fields
 * the outputs need, packed in one allocation. */
typedef struct {
    shard *sh;
    uint64_t line, offset;
    uint8_t kind, type, id_is_number, n_group;
    uint16_t reason;         /* K_REJECT: ifs_reject_reason */
    uint32_t id_len;         /* 0 and no id when has_id == 0 */
    uint8_t has_id;
    uint32_t glen[IFS_RECORD_MAX_GROUP_KEYS];
    char data[];             /* id, group values, detail: each NUL-terminated */
} payload;

struct ifs_score {
    ifs_score_opts o;
    ifs_wts_model *model;
    const ifs_bert_weights *w;
    ifs_tok *tok;
    int32_t max_len;
    int32_t answer;
    const char *labels[IFS_MAX_LABELS];
    ifs_record_schema schema;
    const char *keys[IFS_RECORD_MAX_GROUP_KEYS];
    char *keys_json[IFS_RECORD_MAX_GROUP_KEYS];   /* ,"key": */
    char *labels_json[IFS_MAX_LABELS];            /* ,"label":"name" */
    ifs_reduce_config rcfg;
    const char *kind;           /* resolved backend */
    ifs_dtype dtype;            /* resolved compute dtype */
    char *cfgtext;
    char tok_sha[65];           /* sha256 of ifs_tok_identity's bytes */
    char state_dir[PATH_MAX];
    ifs_resume *state;
    ifs_input_list in;
    shard *shards;
    size_t n_shards;
    uint64_t bytes_total;
    void **engines;
    int n_engines;

    ifs_sched *sched;
    _Atomic int cancelled;
    _Atomic uint64_t shards_done, bytes_done;
    int ran;
    int count_mismatch;
    char sink_err[1024];
    ifs_buf line;               /* one scores line, reused (sink thread) */
    ifs_record rec;
    ifs_reducer *all;

    double t_start;
    double t_hash, t_read, t_parse, t_finish, t_wall;
    uint64_t bytes_in, bytes_out, lines_read;
    ifs_sched_stats st;
};

typedef struct ifs_score run;

static payload *payload_new(shard *sh, uint64_t line, uint64_t offset, int kind,
                            const ifs_record *rec, int reason, const char *detail)
{
    size_t need = sizeof(payload) + 1;
    if (rec) {
        need += rec->id_len + 1;
        for (size_t g = 0; g < rec->n_group; g++) need += rec->group_len[g] + 1;
    }
    size_t dlen = detail ? strlen(detail) : 0;
    need += dlen + 1;
    payload *p = malloc(need);
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    p->sh = sh;
    p->line = line;
    p->offset = offset;
    p->kind = (uint8_t)kind;
    p->reason = (uint16_t)reason;
    char *d = p->data;
    if (rec) {
        p->type = (uint8_t)rec->type;
        p->has_id = (uint8_t)(rec->has_id != 0);
        p->id_is_number = (uint8_t)(rec->id_is_number != 0);
        p->id_len = rec->has_id ? (uint32_t)rec->id_len : 0;
        if (p->id_len) memcpy(d, rec->id, p->id_len);
        d[p->id_len] = '\0';
        d += p->id_len + 1;
        p->n_group = (uint8_t)rec->n_group;
        for (size_t g = 0; g < rec->n_group; g++) {
            p->glen[g] = (uint32_t)rec->group_len[g];
            memcpy(d, rec->group[g], rec->group_len[g]);
            d[rec->group_len[g]] = '\0';
            d += rec->group_len[g] + 1;
        }
    }
    if (dlen) memcpy(d, detail, dlen);
    d[dlen] = '\0';
    return p;
}

/* Pointers into a payload's strings. */
static const char *payload_groups(const payload *p, const char **g)
{
    const char *d = p->data + p->id_len + 1;
    if (p->kind != K_REC) d = p->data;
    for (uint8_t i = 0; i < p->n_group; i++) {
        g[i] = d;
        d += p->glen[i] + 1;
    }
    return d; /* the detail */
}

/* ---- outputs of one shard ------------------------------------------------- */

/* prefix + s as a JSON string (quoted, escaped) + suffix; malloc'd. */
static char *json_quoted(const char *prefix, const char *str, const char *suffix)
{
    size_t len = strlen(str), esc = ifs_json_escape(NULL, 0, str, len);
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *out = malloc(pl + esc + sl + 3);
    if (!out) return NULL;
    memcpy(out, prefix, pl);
    out[pl] = '"';
    ifs_json_escape(out + pl + 1, esc + 1, str, len);
    out[pl + 1 + esc] = '"';
    memcpy(out + pl + 2 + esc, suffix, sl + 1);
    return out;
}

static const char *itype_name(int t)
{
    return t == IFS_ITYPE_PARTIAL ? "partial" : t == IFS_ITYPE_FULL ? "full" : NULL;
}

/* One scores line: {"shard":..,"line":..,"id":..,<keys>..,"instruction_type":..,
 * "label":..,"p_answer":..,"answer_like":..,"tokens":..}. Built by hand:
 * this runs once per record on the delivery thread, where printf's cost
 * showed in profiles of small models. */
static int write_score(run *R, const payload *p, const ifs_sched_result *r, double prob,
                       int answer_like, const char **groups)
{
    ifs_buf *b = &R->line;
    ifs_buf_reset(b);
    int32_t L = r->num_labels, arg = 0;
    for (int32_t k = 1; k < L; k++)
        if (r->logits[k] > r->logits[arg]) arg = k;
    ifs_buf_puts(b, "{\"shard\":");
    ifs_buf_puts(b, p->sh->path_json);
    ifs_buf_puts(b, ",\"line\":");
    ifs_buf_u64(b, p->line);
    if (p->has_id) {
        ifs_buf_puts(b, ",\"id\":");
        if (p->id_is_number) ifs_buf_add(b, p->data, p->id_len);
        else ifs_buf_json(b, p->data, p->id_len);
    }
    for (uint8_t g = 0; g < p->n_group; g++) {
        ifs_buf_puts(b, R->keys_json[g]);
        ifs_buf_json(b, groups[g], p->glen[g]);
    }
    const char *tn = itype_name(p->type);
    ifs_buf_puts(b, ",\"instruction_type\":");
    ifs_buf_puts(b, tn ? (*tn == 'p' ? "\"partial\"" : "\"full\"") : "null");
    ifs_buf_puts(b, R->labels_json[arg]);
    ifs_buf_printf(b, ",\"p_answer\":%.6f", prob);
    ifs_buf_puts(b, answer_like ? ",\"answer_like\":true,\"tokens\":"
                                : ",\"answer_like\":false,\"tokens\":");
    ifs_buf_u64(b, (uint64_t)(r->n_tokens > 0 ? r->n_tokens : 0));
    ifs_buf_puts(b, "}");
    if (b->oom) {
        snprintf(R->sink_err, sizeof R->sink_err, "out of memory formatting a scores line");
        return -1;
    }
    if (ifs_shard_writer_line(p->sh->scores, b->p, b->len)) {
        char why[512] = "";
        ifs_shard_writer_close(p->sh->scores, NULL, why, sizeof why); /* the kept error's words */
        snprintf(R->sink_err, sizeof R->sink_err, "writing the scores of %.300s into %.300s failed: %.300s",
                 p->sh->path, R->state_dir, why);
        return -1;
    }
    return 0;
}

static int reject_line(run *R, const payload *p, ifs_reject_reason reason, const char *detail)
{
    char err[256];
    if (ifs_reduce_add_reject(p->sh->red, p->sh->input, ifs_reject_name(reason), err, sizeof err)) {
        snprintf(R->sink_err, sizeof R->sink_err, "%s line %llu: %s", p->sh->path,
                 (unsigned long long)p->line, err);
        return -1;
    }
    if (ifs_rejects_add(p->sh->rejects, p->sh->path, p->line, p->offset, reason, detail)) {
        char why[512] = "";
        ifs_rejects_close(p->sh->rejects, why, sizeof why); /* the kept error's words */
        snprintf(R->sink_err, sizeof R->sink_err, "writing the rejects of %.300s into %.300s failed: %.300s",
                 p->sh->path, R->state_dir, why);
        return -1;
    }
    return 0;
}

static void shard_close(shard *sh)
{
    ifs_shard_writer_free(sh->scores);
    ifs_rejects_free(sh->rejects);
    ifs_reduce_free(sh->red);
    sh->scores = NULL;
    sh->rejects = NULL;
    sh->red = NULL;
}

static void warn(run *R, const char *fmt, ...)
{
    if (!R->o.on_warning) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    R->o.on_warning(R->o.warning_ctx, msg);
}

/* The shard-end marker: commit the parts, then the partial report, then
 * the .done marker, each atomically, in that order. */
static int finish_shard(run *R, shard *sh)
{
    char err[512], path[PATH_MAX];
    if (ifs_reduce_end_input(sh->red, sh->input, sh->lines, err, sizeof err)) {
        /* Recorded in the partial; the final check reports it (exit 3). */
        R->count_mismatch = 1;
        warn(R, "%s: %s", sh->path, err);
    }
    if (ifs_shard_writer_close(sh->scores, NULL, err, sizeof err) ||
        ifs_rejects_close(sh->rejects, err, sizeof err)) {
        snprintf(R->sink_err, sizeof R->sink_err, "%s: %s", sh->path, err);
        return -1;
    }
    if (!ifs_resume_part_path(R->state, sh->path, "report.json", path, sizeof path) ||
        ifs_report_write(sh->red, path, IFS_REPORT_NO_TIMINGS, err, sizeof err)) {
        snprintf(R->sink_err, sizeof R->sink_err, "%s: partial report: %s", sh->path, err);
        return -1;
    }
    if (sh->is_regular && ifs_resume_mark_done(R->state, sh->path, &sh->fp, err, sizeof err)) {
        snprintf(R->sink_err, sizeof R->sink_err, "%s: %s", sh->path, err);
        return -1;
    }
    shard_close(sh);
    sh->done = 1;
    atomic_fetch_add(&R->shards_done, 1);
    if (R->o.on_shard) R->o.on_shard(R->o.shard_ctx, sh->path, 0);
    return 0;
}

static ifs_reject_reason sched_reason(ifs_sched_reason r)
{
    switch (r) {
    case IFS_SCHED_R_UTF8: return IFS_REJECT_INVALID_UTF8;
    case IFS_SCHED_R_OOM: return IFS_REJECT_DEVICE_OOM;
    case IFS_SCHED_R_NONFINITE: return IFS_REJECT_NONFINITE_LOGITS;
    case IFS_SCHED_R_BACKEND: return IFS_REJECT_BACKEND_REFUSED;
    case IFS_SCHED_R_TOKENIZE:
    default: return IFS_REJECT_TOKENIZER_ERROR;
    }
}

static int sink(void *ctx, const ifs_sched_result *r)
{
    run *R = ctx;
    payload *p = r->user;
    int rc = 0;
    const char *groups[IFS_RECORD_MAX_GROUP_KEYS];
    const char *detail = payload_groups(p, groups);
    if (p->kind == K_END) {
        rc = finish_shard(R, p->sh);
    } else if (p->kind == K_REJECT) {
        rc = reject_line(R, p, (ifs_reject_reason)p->reason, detail);
    } else if (r->outcome == IFS_SCHED_SCORED) {
        double prob = ifs_sched_prob(r->logits, r->num_labels, R->answer);
        ifs_reduce_pred pred = { .keys = groups, .type = (ifs_itype)p->type, .p_answer = prob,
                                 .n_tokens = r->n_tokens, .truncated = r->truncated };
        char err[256];
        if (ifs_reduce_add(p->sh->red, p->sh->input, &pred, 1, err, sizeof err)) {
            snprintf(R->sink_err, sizeof R->sink_err, "%s line %llu: %s", p->sh->path,
                     (unsigned long long)p->line, err);
            rc = -1;
        } else {
            rc = write_score(R, p, r, prob, ifs_reduce_is_answer_like(p->sh->red, prob), groups);
        }
    } else {
        rc = reject_line(R, p, sched_reason(r->reason), r->detail);
    }
    free(p);
    return rc;
}

/* Payloads of items a stopped run never delivered. */
static void release_payload(void *ctx, void *user)
{
    (void)ctx;
    free(user);
}

/* The answer-like label: the flag's, else the one id2label entry naming an
 * answer (ifs_wts_answer_label has the rules), else index 1. */
static int resolve_answer(run *R, char *err, size_t errlen)
{
    const ifs_bert_config *c = &R->w->cfg;
    if (c->num_labels < 2) {
        snprintf(err, errlen, "the classifier has %d label(s); at least 2 are needed", c->num_labels);
        return -1;
    }
    return ifs_wts_answer_label(c, R->o.answer_label, &R->answer, err, errlen) ? -1 : 0;
}

/* The checkpoint decides the input: a pair classifier (config.json
 * "ifs_input": "pair") needs the instruction's field, a response-only one
 * refuses it; both refused before anything is read. */
static int check_input_mode(run *R, char *err, size_t errlen)
{
    const char *f = R->o.instruction_field && *R->o.instruction_field ? R->o.instruction_field
                                                                       : NULL;
    if (R->w->cfg.pair_input && !f) {
        snprintf(err, errlen,
                 "%s is a pair classifier (its config.json says \"ifs_input\": \"pair\"): it "
                 "reads [CLS] instruction [SEP] response [SEP]; give --instruction-field NAME, "
                 "the records' field holding the instruction",
                 R->o.model);
        return -1;
    }
    if (!R->w->cfg.pair_input && f) {
        snprintf(err, errlen,
                 "--instruction-field %s: %s reads the response alone (its config.json has no "
                 "\"ifs_input\": \"pair\"); leave --instruction-field out, or use a pair "
                 "classifier",
                 f, R->o.model);
        return -1;
    }
    if (f && R->max_len < 3) {
        snprintf(err, errlen, "max length %d: a pair needs at least 3 ([CLS] [SEP] [SEP])",
                 R->max_len);
        return -1;
    }
    return 0;
}

/* ifs_tok_identity's sink: feeds the bytes to a sha256; the first failure sticks. */
typedef struct {
    ifs_sha256_ctx c;
    int rc;
} tok_hash;

static void tok_hash_put(void *ctx, const void *bytes, size_t n)
{
    tok_hash *h = ctx;
    if (!h->rc) h->rc = ifs_sha256_update(&h->c, bytes, n);
}

/* The tokenizer's identity (vocab in id order, settings, special and added
 * tokens) as 64 hex characters: what --resume and reduce compare. */
static int tokenizer_sha(const ifs_tok *tok, char hex[65])
{
    tok_hash h = {.rc = 0};
    if (ifs_sha256_init(&h.c)) return -1;
    if (ifs_tok_identity(tok, tok_hash_put, &h) || h.rc || ifs_sha256_final_hex(&h.c, hex)) {
        ifs_sha256_discard(&h.c);
        return -1;
    }
    return 0;
}

/* Everything that changes a result, as text: its sha256 keys the state. */
static char *config_text(run *R, const char *tok_sha)
{
    const ifs_tok_config *tc = ifs_tok_get_config(R->tok);
    size_t cap = 8192;
    char *s = malloc(cap);
    if (!s) return NULL;
    int n = snprintf(s, cap,
                     "format=ifscore-score-1;weights=%s;tokenizer=%s;labels=%d;answer=%d;"
                     "threshold=%.6f;lower=%d;strip=%d;cjk=%d;max_len=%d;text=%s;id=%s;"
                     "type=%s;max_line=%zu;backend=%s;dtype=%s;group=",
                     ifs_wts_fingerprint(R->model), tok_sha, R->w->cfg.num_labels, R->answer,
                     R->o.threshold, tc->do_lower_case, tc->strip_accents,
                     tc->tokenize_chinese_chars, R->max_len, R->schema.text_field,
                     R->schema.id_field, R->schema.type_field, R->o.max_line_bytes, R->kind,
                     R->dtype == IFS_DT_F16 ? "f16" : R->dtype == IFS_DT_BF16 ? "bf16" : "f32");
    /* Pair mode only (a response-only run's text, and so its state, is as
     * before): the input, the instruction field and the checkpoint's cap. */
    if (R->w->cfg.pair_input && n > 0 && (size_t)n < cap)
        n += snprintf(s + n, cap - (size_t)n, "input=pair;instruction=%s;instruction_max=%d;",
                      R->schema.pair_field, (int)R->w->cfg.instruction_max_tokens);
    for (size_t g = 0; g < R->schema.n_group_fields && n > 0 && (size_t)n < cap; g++)
        n += snprintf(s + n, cap - (size_t)n, "%s%s", g ? "," : "", R->schema.group_fields[g]);
    for (int32_t i = 0; i < R->w->cfg.num_labels && n > 0 && (size_t)n < cap; i++)
        n += snprintf(s + n, cap - (size_t)n, ";label%d=%s", i, R->w->cfg.labels[i]);
    return s;
}

/* ---- reading ----------------------------------------------------------------- */

static int open_shard(run *R, shard *sh, char *err, size_t errlen)
{
    char path[PATH_MAX], sha[65];
    double t0 = mono();
    if (!sh->is_regular) {
        /* A stream can be read only once: it is recorded under the sha256
         * of its name, not of its bytes (docs/score.md). */
        ifs_sha256_hex(sh->path, strlen(sh->path), sha);
    } else if (ifs_sha256_file_hex(sh->path, sha)) {
        snprintf(err, errlen, "%s: cannot read: %s", sh->path, strerror(errno));
        return -1;
    }
    R->t_hash += mono() - t0;
    if (ifs_reduce_create(&R->rcfg, &sh->red, err, errlen) ||
        ifs_reduce_add_input(sh->red, sh->path, sh->size, sha, &sh->input, err, errlen))
        return -1;
    ifs_shard_writer_opts wo;
    ifs_shard_writer_opts_init(&wo);
    wo.compress = 1;
    if (!ifs_resume_part_path(R->state, sh->path, "scores.jsonl.zst", path, sizeof path) ||
        ifs_shard_writer_open(path, &wo, &sh->scores, err, errlen))
        return -1;
    if (!ifs_resume_part_path(R->state, sh->path, "rejects.jsonl.zst", path, sizeof path) ||
        ifs_rejects_open(path, &sh->rejects, err, errlen))
        return -1;
    return 0;
}

/* Reads one shard into the scheduler. Returns 0, 1 when stopped (signal or
 * scheduler failure), -1 on a setup failure (words in err). */
static int read_shard(run *R, shard *sh, ifs_record *rec, char *err, size_t errlen)
{
    if (open_shard(R, sh, err, errlen)) return -1;
    ifs_shard_opts so = { .max_line_bytes = R->o.max_line_bytes, .window_log_max = 0 };
    ifs_shard_reader *rd;
    if (ifs_shard_open(sh->path, &so, &rd, err, errlen)) return -1;
    ifs_shard_line ln;
    uint64_t lines = 0, base = atomic_load(&R->bytes_done);
    int rc = 0, src;
    double tr = 0, tp = 0;
    for (;;) {
        if (atomic_load(&R->cancelled)) {
            rc = 1;
            break;
        }
        double t0 = mono();
        src = ifs_shard_next(rd, &ln);
        double t1 = mono();
        tr += t1 - t0;
        if (src != IFS_SHARD_LINE) break;
        lines++;
        int s;
        if (ln.reason != IFS_REJECT_NONE) {
            payload *p = payload_new(sh, ln.line_no, ln.offset, K_REJECT, NULL, ln.reason, ln.detail);
            s = p ? ifs_sched_pass(R->sched, p, 0) : IFS_SCHED_ENOMEM;
            if (s && p) free(p);
        } else {
            ifs_reject_reason why = ifs_record_parse(rec, &R->schema, ln.data, ln.len);
            tp += mono() - t1;
            if (why) {
                payload *p = payload_new(sh, ln.line_no, ln.offset, K_REJECT, NULL, why, rec->detail);
                s = p ? ifs_sched_pass(R->sched, p, 0) : IFS_SCHED_ENOMEM;
                if (s && p) free(p);
            } else {
                payload *p = payload_new(sh, ln.line_no, ln.offset, K_REC, rec, 0, NULL);
                s = !p ? IFS_SCHED_ENOMEM
                    : rec->pair ? ifs_sched_submit_pair(R->sched, rec->pair, rec->pair_len,
                                                        rec->text, rec->text_len, p)
                                : ifs_sched_submit(R->sched, rec->text, rec->text_len, p);
                if (s && p) free(p);
            }
        }
        if (s) {
            rc = 1;
            break;
        }
        if ((lines & 1023) == 0) {
            ifs_shard_stats st;
            ifs_shard_get_stats(rd, &st);
            atomic_store(&R->bytes_done, base + st.bytes_in);
        }
    }
    ifs_shard_stats st;
    ifs_shard_get_stats(rd, &st);
    atomic_store(&R->bytes_done, base + st.bytes_in);
    R->bytes_in += st.bytes_in;
    R->bytes_out += st.bytes_out;
    R->lines_read += lines;
    R->t_read += tr;
    R->t_parse += tp;
    ifs_shard_free(rd);
    if (rc == 0 && src < 0) {
        snprintf(err, errlen, "%s: %s", sh->path, ifs_shard_strerror(src));
        return -1;
    }
    if (rc) return 1;
    sh->lines = lines;
    payload *p = payload_new(sh, 0, 0, K_END, NULL, 0, NULL);
    int s = p ? ifs_sched_pass(R->sched, p, 1) : IFS_SCHED_ENOMEM;
    if (s) {
        free(p);
        return 1;
    }
    return 0;
}

/* ---- the end: merge partials, write outputs --------------------------------- */

/* Concatenates the shards' parts of one kind into `out`: raw bytes when out
 * is zstd (frames concatenate), decompressed lines otherwise. */
static int assemble(run *R, const char *suffix, const char *out, char *err, size_t errlen)
{
    size_t ol = strlen(out);
    int zst = ol > 4 && !strcmp(out + ol - 4, ".zst");
    char path[PATH_MAX];
    if (zst) {
        ifs_atomic *a;
        if (ifs_atomic_open(out, &a, err, errlen)) return -1;
        char *buf = malloc(1 << 20);
        int bad = !buf, wbad = 0;
        if (!buf) snprintf(err, errlen, "out of memory");
        for (size_t i = 0; i < R->n_shards && !bad; i++) {
            ifs_resume_part_path(R->state, R->shards[i].path, suffix, path, sizeof path);
            FILE *f = fopen(path, "rb");
            if (!f) {
                snprintf(err, errlen, "%.700s: %s", path, strerror(errno));
                bad = 1;
                break;
            }
            size_t n;
            while (!wbad && (n = fread(buf, 1, 1 << 20, f)) > 0)
                if (ifs_atomic_write(a, buf, n)) wbad = 1;
            if (ferror(f)) {
                snprintf(err, errlen, "reading %.700s: %s", path, strerror(errno));
                bad = 1;
            }
            fclose(f);
            if (wbad) break;
        }
        free(buf);
        /* A failed write keeps its errno words in the handle; commit says
         * them (and removes the temporary file). */
        if (!bad && ifs_atomic_commit(a, err, errlen)) bad = 1;
        ifs_atomic_free(a);
        return bad ? -1 : 0;
    }
    ifs_shard_writer_opts wo;
    ifs_shard_writer_opts_init(&wo);
    wo.compress = 0;
    ifs_shard_writer *w;
    if (ifs_shard_writer_open(out, &wo, &w, err, errlen)) return -1;
    int bad = 0, wbad = 0;
    for (size_t i = 0; i < R->n_shards && !bad && !wbad; i++) {
        ifs_resume_part_path(R->state, R->shards[i].path, suffix, path, sizeof path);
        ifs_shard_opts so = { .max_line_bytes = (size_t)1 << 30, .window_log_max = 0 };
        ifs_shard_reader *rd;
        if (ifs_shard_open(path, &so, &rd, err, errlen)) {
            bad = 1;
            break;
        }
        ifs_shard_line ln;
        while (!wbad && ifs_shard_next(rd, &ln) == IFS_SHARD_LINE) {
            if (ln.reason != IFS_REJECT_NONE) {
                snprintf(err, errlen, "%.600s line %llu: %s", path, (unsigned long long)ln.line_no,
                         ln.detail);
                bad = 1;
                break;
            }
            if (ifs_shard_writer_line(w, ln.data, ln.len)) wbad = 1;
        }
        ifs_shard_free(rd);
    }
    /* close reports a failed write with its errno words ("Broken pipe" for a
     * closed stdout, "No space left on device"). */
    if (!bad && ifs_shard_writer_close(w, NULL, err, errlen)) bad = 1;
    ifs_shard_writer_free(w);
    return bad ? -1 : 0;
}

static ifs_reducer *merge_partials(run *R, char *err, size_t errlen)
{
    ifs_reducer *all;
    if (ifs_reduce_create(&R->rcfg, &all, err, errlen)) return NULL;
    char path[PATH_MAX], e2[512];
    for (size_t i = 0; i < R->n_shards; i++) {
        ifs_reducer *part;
        ifs_resume_part_path(R->state, R->shards[i].path, "report.json", path, sizeof path);
        if (ifs_report_read(path, &part, e2, sizeof e2)) {
            snprintf(err, errlen, "partial of %s: %s", R->shards[i].path, e2);
            ifs_reduce_free(all);
            return NULL;
        }
        /* Overlap (two shards with the same bytes) is left to ifs_reduce_check,
         * which reports it as a data problem (exit 3) after the report is written. */
        int rc = ifs_reduce_merge(all, part, IFS_RED_ALLOW_OVERLAP, e2, sizeof e2);
        ifs_reduce_free(part);
        if (rc) {
            snprintf(err, errlen, "merging the partial of %s: %s", R->shards[i].path, e2);
            ifs_reduce_free(all);
            return NULL;
        }
    }
    return all;
}

/* --backend auto: cuda when a device is usable, else cpu. */
static const char *resolve_backend(const char *opt)
{
    return strcmp(opt, "auto") ? opt : ifs_backend_available("cuda") ? "cuda" : "cpu";
}

/* --dtype auto: f16 on cuda, f32 on cpu. */
static int resolve_dtype(const char *opt, const char *kind, ifs_dtype *out, char *err,
                         size_t errlen)
{
    if (!strcmp(opt, "auto")) *out = !strcmp(kind, "cuda") ? IFS_DT_F16 : IFS_DT_F32;
    else if (!strcmp(opt, "f16")) *out = IFS_DT_F16;
    else if (!strcmp(opt, "bf16")) *out = IFS_DT_BF16;
    else if (!strcmp(opt, "f32")) *out = IFS_DT_F32;
    else {
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "dtype %s: expected auto, f16, bf16 or f32",
                      opt);
    }
    return 0;
}

/* Engines of backend `kind` ("cuda" or "cpu", resolved) computing in dtype. */
static int make_engines(run *R, const ifs_sched_opts *so, const char *kind, ifs_dtype dtype,
                        void ***engines_out, int *n_out, char *err, size_t errlen)
{
    int devs[64], nd = 0;
    if (!strcmp(kind, "cuda")) {
        const char *s = R->o.devices ? R->o.devices : "0";
        while (*s && nd < 64) {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 0 || v > 1024) {
                return seterr(err, errlen, IFS_SCORE_EUSAGE,
                              "devices %s: expected a comma-separated list of ordinals",
                              R->o.devices);
            }
            devs[nd++] = (int)v;
            s = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') {
                return seterr(err, errlen, IFS_SCORE_EUSAGE, "devices %s: unexpected '%c'",
                              R->o.devices, *end);
            }
        }
    } else if (strcmp(kind, "cpu")) {
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "backend %s: expected cpu, cuda or auto",
                      kind);
    } else {
        devs[nd++] = 0;
    }
    int per = !strcmp(kind, "cuda") ? 2 : 1; /* two handles per GPU: copy/compute overlap */
    void **eng = calloc((size_t)(nd * per), sizeof *eng);
    if (!eng) return seterr(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
    int n = 0;
    for (int d = 0; d < nd; d++)
        for (int k = 0; k < per; k++) {
            ifs_backend_opts bo = ifs_backend_default_opts();
            bo.device = devs[d];
            bo.dtype = dtype;
            bo.n_threads = R->o.cpu_threads;
            bo.max_batch_tokens = so->max_batch_tokens;
            bo.max_batch_seqs = so->max_batch_seqs;
            ifs_backend *b;
            if (ifs_backend_create(kind, R->w, &bo, &b, err, errlen)) {
                for (int i = 0; i < n; i++) ifs_backend_free(eng[i]);
                free(eng);
                return IFS_SCORE_EFAIL;
            }
            eng[n++] = b;
        }
    *engines_out = eng;
    *n_out = n;
    return 0;
}

/* ---- paths: what an output may not be -------------------------------------- */

/* Where a path leads, as (device, inode): of the file itself when it exists
 * (through symlinks), else of its folder plus its last name. Two paths with
 * equal identities name the same file, whatever their spelling. */
typedef struct {
    dev_t dev;
    ino_t ino;
    int exists;
    char name[NAME_MAX + 1];    /* the last component, when !exists */
} path_id;

static int path_identity(const char *path, path_id *id, char *err, size_t errlen)
{
    memset(id, 0, sizeof *id);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        id->dev = sb.st_dev;
        id->ino = sb.st_ino;
        id->exists = 1;
        return 0;
    }
    char a[PATH_MAX], b[PATH_MAX];
    if (strlen(path) >= sizeof a)
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "%.200s...: path too long", path);
    strcpy(a, path);
    strcpy(b, path);
    const char *dir = dirname(a), *base = basename(b);
    if (stat(dir, &sb) != 0)
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "%s: its folder %s: %s", path, dir,
                      strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "%s: %s is not a folder", path, dir);
    id->dev = sb.st_dev;
    id->ino = sb.st_ino;
    snprintf(id->name, sizeof id->name, "%s", base);
    return 0;
}

static int same_file(const path_id *a, const path_id *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           (a->exists || !strcmp(a->name, b->name));
}

/* An output must be writable where it goes, must not be an input, another
 * output or something that is not a regular file (a folder, a device). */
static int check_output(run *R, const char *flag, const char *path, path_id *id, char *err,
                        size_t errlen)
{
    if (!path || !strcmp(path, "-")) return 0;
    if (!*path) return seterr(err, errlen, IFS_SCORE_EUSAGE, "%s: empty path", flag);
    int rc = path_identity(path, id, err, errlen);
    if (rc) {
        char e2[1024];
        snprintf(e2, sizeof e2, "%s %s", flag, err);
        return seterr(err, errlen, rc, "%s", e2);
    }
    struct stat sb;
    if (id->exists && stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return seterr(err, errlen, IFS_SCORE_EUSAGE,
                      "%s %s exists and is not a regular file", flag, path);
    for (size_t i = 0; i < R->in.n; i++) {
        const ifs_input_file *f = &R->in.files[i];
        if (f->is_stdin) continue;
        struct stat ib;
        if (id->exists && stat(f->path, &ib) == 0 && ib.st_dev == id->dev && ib.st_ino == id->ino)
            return seterr(err, errlen, IFS_SCORE_EUSAGE,
                          "%s %s is the input shard %s (same file): it would be overwritten; "
                          "choose another output path", flag, path, f->path);
    }
    /* Writable folder: the atomic writer creates a temporary file there. */
    char a[PATH_MAX];
    snprintf(a, sizeof a, "%s", path);
    const char *dir = dirname(a);
    if (access(dir, W_OK | X_OK) != 0)
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "%s %s: its folder %s is not writable: %s",
                      flag, path, dir, strerror(errno));
    return 0;
}

static int check_outputs(run *R, char *err, size_t errlen)
{
    const char *flags[3] = { "--out", "--scores", "--rejects" };
    const char *paths[3] = { R->o.out, R->o.scores, R->o.rejects };
    path_id ids[3];
    int stdout_users = 0;
    for (int i = 0; i < 3; i++) {
        int rc = check_output(R, flags[i], paths[i], &ids[i], err, errlen);
        if (rc) return rc;
        if (paths[i] && !strcmp(paths[i], "-")) stdout_users++;
    }
    if (stdout_users > 1)
        return seterr(err, errlen, IFS_SCORE_EUSAGE,
                      "only one of --out, --scores and --rejects can be '-' (standard output)");
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (paths[i] && paths[j] && strcmp(paths[i], "-") && strcmp(paths[j], "-") &&
                same_file(&ids[i], &ids[j]))
                return seterr(err, errlen, IFS_SCORE_EUSAGE,
                              "%s %s and %s %s are the same file: one would overwrite the other",
                              flags[i], paths[i], flags[j], paths[j]);
    return 0;
}

/* ---- create ------------------------------------------------------------------ */

static void free_keys(run *R)
{
    for (size_t g = 0; g < IFS_RECORD_MAX_GROUP_KEYS; g++) {
        free(R->keys_json[g]);
        R->keys_json[g] = NULL;
    }
    for (int32_t i = 0; i < IFS_MAX_LABELS; i++) {
        free(R->labels_json[i]);
        R->labels_json[i] = NULL;
    }
}

static int check_opts(const ifs_score_opts *o, char *err, size_t errlen)
{
    if (!o->model || !*o->model)
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "a model folder is required");
    if (!o->inputs || !o->n_inputs)
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "no shards given");
    if (o->threads < 1 || o->threads > 1024)
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "threads %d: expected 1..1024", o->threads);
    if (o->cpu_threads < 0 || o->cpu_threads > 1024)
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "cpu threads %d: expected 0..1024",
                      o->cpu_threads);
    if (o->max_batch_tokens < 2 || o->max_batch_seqs < 1 || o->chunk_records < 1 ||
        o->max_chunks < 2 || o->max_chunks > 1024 || o->max_line_bytes < 1)
        return seterr(err, errlen, IFS_SCORE_EUSAGE,
                      "batch budget, chunk or line limits out of range");
    if (o->max_len != 0 && o->max_len < 2)
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "max length %d: expected >= 2", o->max_len);
    if (!(o->threshold > 0 && o->threshold < 1))
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "threshold %g: expected a number in (0,1)",
                      o->threshold);
    if (o->slice_count < 0 || (o->slice_count && (o->slice_index < 0 ||
                                                  o->slice_index >= o->slice_count)))
        return seterr(err, errlen, IFS_SCORE_EUSAGE, "slice %d/%d: expected 0 <= I < N",
                      o->slice_index, o->slice_count);
    return 0;
}

int ifs_score_create(const ifs_score_opts *opts, ifs_score **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = check_opts(opts, err, errlen);
    if (rc) return rc;
    run *R = calloc(1, sizeof *R);
    if (!R) return seterr(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
    R->o = *opts;
    R->t_start = mono();
    ifs_record_init(&R->rec);
    /* Model and tokenizer: a checkpoint that does not load is a runtime
     * failure (a missing or broken file), not a usage error. */
    rc = IFS_SCORE_EFAIL;
    R->model = ifs_wts_load(R->o.model, 0, err, errlen);
    if (!R->model) goto fail;
    R->w = ifs_wts_weights(R->model);
    R->tok = ifs_tok_load(R->o.model, NULL, err, errlen);
    if (!R->tok) goto fail;
    rc = IFS_SCORE_EUSAGE;
    R->max_len = R->o.max_len;
    if (!R->max_len) {
        int32_t m = ifs_tok_get_config(R->tok)->model_max_length;
        R->max_len = m > 0 && m < R->w->cfg.max_position ? m : R->w->cfg.max_position;
    }
    if (R->max_len > R->w->cfg.max_position) {
        seterr(err, errlen, rc, "max length %d exceeds the model's max_position_embeddings %d",
               R->max_len, R->w->cfg.max_position);
        goto fail;
    }
    if (R->o.max_batch_tokens < R->max_len) R->o.max_batch_tokens = R->max_len;
    if (check_input_mode(R, err, errlen)) goto fail;
    if (resolve_answer(R, err, errlen)) goto fail;
    for (int32_t i = 0; i < R->w->cfg.num_labels; i++) R->labels[i] = R->w->cfg.labels[i];

    /* Record schema. */
    ifs_record_schema_init(&R->schema);
    if ((R->o.text_field &&
         ifs_record_schema_set_field(&R->schema, IFS_FIELD_TEXT, R->o.text_field, err, errlen)) ||
        (R->o.id_field && ifs_record_schema_set_field(&R->schema, IFS_FIELD_ID, R->o.id_field, err, errlen)) ||
        (R->o.type_field &&
         ifs_record_schema_set_field(&R->schema, IFS_FIELD_TYPE, R->o.type_field, err, errlen)) ||
        (R->o.group_by && ifs_record_schema_set_group_by(&R->schema, R->o.group_by, err, errlen)) ||
        (R->w->cfg.pair_input && ifs_record_schema_set_field(&R->schema, IFS_FIELD_PAIR,
                                                             R->o.instruction_field, err, errlen)))
        goto fail;
    rc = IFS_SCORE_ENOMEM;
    for (size_t g = 0; g < R->schema.n_group_fields; g++) {
        R->keys[g] = R->schema.group_fields[g];
        if (!(R->keys_json[g] = json_quoted(",", R->keys[g], ":"))) goto nomem;
    }
    for (int32_t i = 0; i < R->w->cfg.num_labels; i++)
        if (!(R->labels_json[i] = json_quoted(",\"label\":", R->labels[i], ""))) goto nomem;

    /* Reducer configuration: identity of the classifier, tokenizer, grouping. */
    {
        const ifs_tok_config *tc = ifs_tok_get_config(R->tok);
        R->rcfg = ifs_reduce_default_config();
        R->rcfg.weights_sha256 = ifs_wts_fingerprint(R->model);
        if (tokenizer_sha(R->tok, R->tok_sha)) goto nomem;
        R->rcfg.tokenizer_sha256 = R->tok_sha;
        R->rcfg.n_labels = R->w->cfg.num_labels;
        R->rcfg.labels = R->labels;
        R->rcfg.answer_label = R->answer;
        R->rcfg.threshold = R->o.threshold;
        R->rcfg.do_lower_case = tc->do_lower_case;
        R->rcfg.strip_accents = tc->strip_accents;
        R->rcfg.tokenize_chinese_chars = tc->tokenize_chinese_chars;
        R->rcfg.max_length = R->max_len;
        R->rcfg.n_keys = (int32_t)R->schema.n_group_fields;
        R->rcfg.keys = R->keys;
        if (R->w->cfg.pair_input) {
            R->rcfg.pair_input = 1;
            R->rcfg.instruction_field = R->schema.pair_field;
            R->rcfg.instruction_max_tokens = R->w->cfg.instruction_max_tokens;
        }
    }

    /* Inputs: sorted, then this slice. */
    rc = IFS_SCORE_EUSAGE;
    if (ifs_io_list_inputs(R->o.inputs, R->o.n_inputs, &R->in, err, errlen)) goto fail;
    if (check_outputs(R, err, errlen)) goto fail;
    int unknown_size = 0;
    R->shards = calloc(R->in.n ? R->in.n : 1, sizeof *R->shards);
    if (!R->shards) goto nomem;
    for (size_t i = 0; i < R->in.n; i++) {
        if (R->o.slice_count && (int)(i % (size_t)R->o.slice_count) != R->o.slice_index) continue;
        shard *sh = &R->shards[R->n_shards++];
        sh->path = R->in.files[i].path;
        sh->size = R->in.files[i].size;
        sh->is_regular = R->in.files[i].is_regular;
        if (!(sh->path_json = json_quoted("", sh->path, ""))) goto nomem;
        if (R->in.files[i].is_regular) R->bytes_total += R->in.files[i].size;
        else unknown_size = 1;
    }
    if (unknown_size) R->bytes_total = 0; /* no ETA */

    /* Backend and dtype are part of the configuration: f16 and f32
     * probabilities differ in the last digits, so a resumed run must not mix
     * them in one report. */
    R->kind = resolve_backend(R->o.backend ? R->o.backend : "auto");
    if (resolve_dtype(R->o.dtype ? R->o.dtype : "auto", R->kind, &R->dtype, err, errlen)) goto fail;

    /* State directory and what is already done. */
    {
        R->cfgtext = config_text(R, R->tok_sha);
        if (!R->cfgtext) goto nomem;
        if (R->o.state_dir) snprintf(R->state_dir, sizeof R->state_dir, "%s", R->o.state_dir);
        else if (!R->o.out || !strcmp(R->o.out, "-"))
            snprintf(R->state_dir, sizeof R->state_dir, "ifscore.state");
        else snprintf(R->state_dir, sizeof R->state_dir, "%s.state", R->o.out);
        if (ifs_resume_open(R->state_dir, R->cfgtext, R->o.resume, &R->state, err, errlen)) {
            rc = IFS_SCORE_EFAIL;
            goto fail;
        }
        for (size_t i = 0; i < R->n_shards; i++) {
            shard *sh = &R->shards[i];
            if (!sh->is_regular) continue;
            if (ifs_resume_fingerprint(sh->path, &sh->fp, err, errlen)) {
                rc = IFS_SCORE_EFAIL;
                goto fail;
            }
            if (R->o.resume && ifs_resume_done(R->state, sh->path, &sh->fp)) {
                sh->skip = 1;
                atomic_fetch_add(&R->shards_done, 1);
                atomic_fetch_add(&R->bytes_done, sh->size); /* for the ETA */
            }
        }
    }

    /* Scheduler and engines. */
    ifs_sched_opts so = ifs_sched_default_opts();
    so.n_threads = R->o.threads;
    so.max_len = R->max_len;
    so.max_batch_tokens = R->o.max_batch_tokens;
    so.max_batch_seqs = R->o.max_batch_seqs;
    so.chunk_records = R->o.chunk_records;
    so.max_chunks = R->o.max_chunks;
    so.release = release_payload;
    so.pair_a_max = R->w->cfg.instruction_max_tokens;
    rc = make_engines(R, &so, R->kind, R->dtype, &R->engines, &R->n_engines, err, errlen);
    if (rc) goto fail;
    rc = IFS_SCORE_EFAIL;
    if (ifs_sched_create(&so, R->tok, &R->w->cfg, R->engines, R->n_engines, sink, R, &R->sched,
                         err, errlen))
        goto fail;
    *out = R;
    return 0;
nomem:
    rc = seterr(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
fail:
    ifs_score_free(R);
    return rc;
}

/* ---- run ----------------------------------------------------------------------- */

static void set_run_facts(run *R)
{
    char num[32];
    ifs_reducer *all = R->all;
    ifs_reduce_set_fact(all, "backend", R->kind);
    ifs_reduce_set_fact(all, "ifscore", ifs_version());
    snprintf(num, sizeof num, "%d", R->o.threads);
    ifs_reduce_set_fact(all, "tokenizer_threads", num);
    snprintf(num, sizeof num, "%d", R->n_engines);
    ifs_reduce_set_fact(all, "engines", num);
    snprintf(num, sizeof num, "%d", R->o.max_batch_tokens);
    ifs_reduce_set_fact(all, "max_batch_tokens", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)ifs_resume_skipped(R->state));
    ifs_reduce_set_fact(all, "shards_resumed", num);
    ifs_reduce_set_timing(all, "wall_s", R->t_wall);
    ifs_reduce_set_timing(all, "hash_s", R->t_hash);
    ifs_reduce_set_timing(all, "decompress_s", R->t_read);
    ifs_reduce_set_timing(all, "parse_s", R->t_parse);
    ifs_reduce_set_timing(all, "tokenize_s", R->st.tokenize_s);
    ifs_reduce_set_timing(all, "forward_s", R->st.forward_s);
    ifs_reduce_set_timing(all, "reduce_s", R->st.sink_s);
    ifs_reduce_set_timing(all, "records_this_run", (double)(R->st.scored + R->st.rejected));
    ifs_reduce_set_timing(all, "tokens_this_run", (double)R->st.tokens);
}

int ifs_score_run(ifs_score *R, char *err, size_t errlen)
{
    if (!R || R->ran) return seterr(err, errlen, IFS_SCORE_EUSAGE, "ifs_score_run: called twice");
    R->ran = 1;
    for (size_t i = 0; i < R->n_shards; i++)
        if (R->shards[i].skip && R->o.on_shard) R->o.on_shard(R->o.shard_ctx, R->shards[i].path, 1);

    /* Read everything; the sink commits shard by shard. */
    int stopped = 0;
    for (size_t i = 0; i < R->n_shards && !stopped; i++) {
        shard *sh = &R->shards[i];
        if (sh->skip) continue;
        int rc = read_shard(R, sh, &R->rec, err, errlen);
        if (rc < 0) {
            ifs_sched_cancel(R->sched);
            ifs_sched_finish(R->sched);
            return IFS_SCORE_EFAIL;
        }
        if (rc) stopped = 1;
    }
    int src = ifs_sched_finish(R->sched);
    ifs_sched_get_stats(R->sched, &R->st);
    if (atomic_load(&R->cancelled))
        return seterr(err, errlen, IFS_SCORE_ECANCELLED,
                      "stopped after %llu of %zu shards; state in %s",
                      (unsigned long long)atomic_load(&R->shards_done), R->n_shards, R->state_dir);
    if (src) {
        if (src == IFS_SCHED_ESINK && R->sink_err[0])
            return seterr(err, errlen, IFS_SCORE_EFAIL, "%s", R->sink_err);
        return seterr(err, errlen, src == IFS_SCHED_ENOMEM ? IFS_SCORE_ENOMEM : IFS_SCORE_EFAIL,
                      "%s: %s", ifs_sched_strerror(src), ifs_sched_error(R->sched));
    }

    /* Merge the partials of every shard of the slice, in sorted order. */
    double t_fin = mono();
    R->all = merge_partials(R, err, errlen);
    if (!R->all) return IFS_SCORE_EFAIL;
    if (R->o.slice_count) {
        /* The report says which slice of which list it is, so reduce can
         * refuse a merge with a slice missing (docs/slurm.md). */
        const char **paths = malloc((R->in.n ? R->in.n : 1) * sizeof *paths);
        if (!paths) return seterr(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
        for (size_t i = 0; i < R->in.n; i++) paths[i] = R->in.files[i].path;
        char list[65];
        ifs_slurm_inputs_sha256(paths, R->in.n, list);
        free(paths);
        if (ifs_reduce_set_slice(R->all, R->o.slice_index, R->o.slice_count, list, err, errlen))
            return IFS_SCORE_EFAIL;
    }
    char check[1024] = "";
    int data_bad = ifs_reduce_check(R->all, 0, check, sizeof check) != 0;
    if (R->o.scores && assemble(R, "scores.jsonl.zst", R->o.scores, err, errlen)) {
        char e2[1024];
        snprintf(e2, sizeof e2, "--scores %s: %s", R->o.scores, err);
        return seterr(err, errlen, IFS_SCORE_EFAIL, "%s", e2);
    }
    if (R->o.rejects && assemble(R, "rejects.jsonl.zst", R->o.rejects, err, errlen)) {
        char e2[1024];
        snprintf(e2, sizeof e2, "--rejects %s: %s", R->o.rejects, err);
        return seterr(err, errlen, IFS_SCORE_EFAIL, "%s", e2);
    }
    R->t_finish = mono() - t_fin;
    R->t_wall = mono() - R->t_start;
    if (!R->o.no_timings) set_run_facts(R);
    if (R->o.out && ifs_report_write(R->all, R->o.out, R->o.no_timings ? IFS_REPORT_NO_TIMINGS : 0,
                                     err, errlen)) {
        char e2[1024];
        snprintf(e2, sizeof e2, "--out %s: %s", R->o.out, err);
        return seterr(err, errlen, IFS_SCORE_EFAIL, "%s", e2);
    }
    if (data_bad) return seterr(err, errlen, IFS_SCORE_EDATA, "data check failed: %s", check);
    if (R->count_mismatch)
        return seterr(err, errlen, IFS_SCORE_EDATA,
                      "data check failed: a shard's lines read differ from scored + rejected");
    return IFS_SCORE_OK;
}

void ifs_score_cancel(ifs_score *R)
{
    if (!R) return;
    atomic_store(&R->cancelled, 1);
    ifs_sched_cancel(R->sched);
}

const ifs_reducer *ifs_score_report(const ifs_score *R) { return R ? R->all : NULL; }

void ifs_score_snapshot(ifs_score *R, ifs_score_snap *s)
{
    memset(s, 0, sizeof *s);
    if (!R) return;
    ifs_sched_stats st;
    ifs_sched_get_stats(R->sched, &st);
    s->records = st.scored + st.rejected;
    s->rejected = st.rejected;
    s->tokens = st.tokens;
    s->shards_done = atomic_load(&R->shards_done);
    s->shards_total = R->n_shards;
    s->bytes_done = atomic_load(&R->bytes_done);
    s->bytes_total = R->bytes_total;
}

void ifs_score_get_stats(const ifs_score *R, ifs_score_stats *s)
{
    memset(s, 0, sizeof *s);
    if (!R) return;
    s->backend = R->kind;
    s->dtype = R->dtype == IFS_DT_F16 ? "f16" : R->dtype == IFS_DT_BF16 ? "bf16" : "f32";
    s->state_dir = R->state_dir;
    s->engines = R->n_engines;
    s->threads = R->o.threads;
    s->max_len = R->max_len;
    s->max_batch_tokens = R->o.max_batch_tokens;
    s->shards = R->n_shards;
    s->shards_done = atomic_load(&((run *)R)->shards_done);
    s->shards_skipped = ifs_resume_skipped(R->state);
    s->lines_read = R->lines_read;
    s->bytes_in = R->bytes_in;
    s->bytes_out = R->bytes_out;
    s->scored = R->st.scored;
    s->rejected = R->st.rejected;
    s->tokens = R->st.tokens;
    s->batches = R->st.batches;
    s->oom_splits = R->st.oom_splits;
    s->items = R->st.items;
    s->text_bytes = R->st.text_bytes;
    s->hash_s = R->t_hash;
    s->decompress_s = R->t_read;
    s->parse_s = R->t_parse;
    s->tokenize_s = R->st.tokenize_s;
    s->forward_s = R->st.forward_s;
    s->reduce_s = R->st.sink_s;
    s->finish_s = R->t_finish;
    s->wall_s = R->t_wall ? R->t_wall : mono() - R->t_start;
}

void ifs_score_free(ifs_score *R)
{
    if (!R) return;
    ifs_sched_free(R->sched);
    for (size_t i = 0; i < R->n_shards; i++) {
        shard_close(&R->shards[i]);
        free(R->shards[i].path_json);
    }
    free_keys(R);
    for (int i = 0; i < R->n_engines; i++) ifs_backend_free(R->engines[i]);
    free(R->engines);
    ifs_reduce_free(R->all);
    ifs_record_clear(&R->rec);
    ifs_resume_free(R->state);
    free(R->cfgtext);
    free(R->shards);
    ifs_buf_free(&R->line);
    ifs_input_list_free(&R->in);
    ifs_tok_free(R->tok);
    ifs_wts_free(R->model);
    free(R);
}
