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
#include <pthread.h>
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
#include "ifs_time.h"
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

/* ---- the run's state --------------------------------------------------------- */

typedef struct shard {
    const char *path;
    uint64_t size;
    int is_regular; /* 0: stdin, FIFO: read once, never resumed */
    ifs_resume_fp fp;
    char *path_json; /* the path as a JSON string, quotes included */
    int skip;        /* finished by an earlier run */
    int done;        /* finished now (set by the sink) */
    ifs_reducer *red;
    int32_t input;
    ifs_shard_writer *scores;
    ifs_rejects *rejects;
    uint64_t lines;
    struct shard *redo; /* the second pass's outputs after a checksum failure (owned) */
    char sha[65];       /* the shard's sha256, for its commit */
} shard;

/* K_LINE: a line not parsed yet (the tokenizer worker's prepare_line turns
 * it into K_REC or K_REJECT before it is delivered). K_END: reason 1 =
 * discard the shard's outputs, else commit; detail = the shard's sha256. */
enum { K_REC = 0, K_REJECT = 1, K_END = 2, K_LINE = 3 };

/* One item's payload, handed through the scheduler to the sink: the fields
 * the outputs need, packed in one allocation. */
typedef struct {
    shard *sh;
    uint64_t line, offset;
    uint8_t kind, type, id_is_number, n_group;
    uint16_t reason; /* K_REJECT: ifs_reject_reason */
    uint32_t id_len; /* 0 and no id when has_id == 0 */
    uint8_t has_id;
    uint32_t glen[IFS_RECORD_MAX_GROUP_KEYS];
    char data[]; /* id, group values, detail: each NUL-terminated */
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
    char *keys_json[IFS_RECORD_MAX_GROUP_KEYS]; /* ,"key": */
    char *labels_json[IFS_MAX_LABELS];          /* ,"label":"name" */
    ifs_reduce_config rcfg;
    const char *kind; /* resolved backend */
    ifs_dtype dtype;  /* resolved compute dtype */
    char *cfgtext;
    char tok_sha[65]; /* sha256 of ifs_tok_identity's bytes */
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
    _Atomic int count_mismatch;
    char sink_err[1024];
    ifs_buf line; /* one scores line, reused (sink thread) */
    ifs_reducer *all;

    /* reader threads (read_job) and the jobs they take in order */
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    int rsync; /* rmu/rcv initialised */
    struct rjob *jobs;
    size_t n_jobs, next_job, consumed;
    int n_readers, rquit;
    pthread_t *rth;
    int n_rth;           /* started */
    uint64_t bytes_base; /* bytes_done when the current shard began */

    /* committers: the shard commits (fsync-bound) off the delivery thread */
#define COMMITTERS 4
#define COMMIT_QUEUE 8
    pthread_mutex_t cmu, cbmu; /* cbmu: the callbacks (on_shard, on_warning) one at a time */
    pthread_cond_t ccv;
    shard *cq[COMMIT_QUEUE];
    size_t cq_head, cq_n;
    int cquit, n_cth, commit_failed, commit_inline;
    pthread_t cth[COMMITTERS];
    char commit_err[1024];

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
        for (size_t g = 0; g < rec->n_group; g++)
            need += rec->group_len[g] + 1;
    }
    size_t dlen = detail ? strlen(detail) : 0;
    need += dlen + 1;
    payload *p = malloc(need);
    if (!p)
        return NULL;
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
        if (p->id_len)
            memcpy(d, rec->id, p->id_len);
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
    if (dlen)
        memcpy(d, detail, dlen);
    d[dlen] = '\0';
    return p;
}

/* Pointers into a payload's strings. */
static const char *payload_groups(const payload *p, const char **g)
{
    const char *d = p->data + p->id_len + 1;
    if (p->kind != K_REC)
        d = p->data;
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
    if (!out)
        return NULL;
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
        if (r->logits[k] > r->logits[arg])
            arg = k;
    ifs_buf_puts(b, "{\"shard\":");
    ifs_buf_puts(b, p->sh->path_json);
    ifs_buf_puts(b, ",\"line\":");
    ifs_buf_u64(b, p->line);
    if (p->has_id) {
        ifs_buf_puts(b, ",\"id\":");
        if (p->id_is_number)
            ifs_buf_add(b, p->data, p->id_len);
        else
            ifs_buf_json(b, p->data, p->id_len);
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
        snprintf(R->sink_err, sizeof R->sink_err,
                 "writing the scores of %.300s into %.300s failed: %.300s", p->sh->path,
                 R->state_dir, why);
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
        snprintf(R->sink_err, sizeof R->sink_err,
                 "writing the rejects of %.300s into %.300s failed: %.300s", p->sh->path,
                 R->state_dir, why);
        return -1;
    }
    return 0;
}

static void shard_close(shard *sh)
{
    if (!sh)
        return;
    ifs_shard_writer_free(sh->scores);
    ifs_rejects_free(sh->rejects);
    ifs_reduce_free(sh->red);
    sh->scores = NULL;
    sh->rejects = NULL;
    sh->red = NULL;
}

static void warn(run *R, const char *fmt, ...)
{
    if (!R->o.on_warning)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&R->cbmu);
    R->o.on_warning(R->o.warning_ctx, msg);
    pthread_mutex_unlock(&R->cbmu);
}

/* Commits a shard whose items are all delivered: its parts, then its
 * partial report, then its .done marker, each atomically, in that order.
 * Runs on a committer thread (or the delivery thread when none started);
 * the shard's reducer and writers are no longer touched by anyone else.
 * 0, or -1 with words in e. */
static int finish_shard(run *R, shard *sh, char *e, size_t elen)
{
    char err[512], path[PATH_MAX];
    if (sh->is_regular &&
        ifs_reduce_set_input_sha256(sh->red, sh->input, sh->sha, err, sizeof err)) {
        snprintf(e, elen, "%s: %s", sh->path, err);
        return -1;
    }
    if (ifs_reduce_end_input(sh->red, sh->input, sh->lines, err, sizeof err)) {
        /* Recorded in the partial; the final check reports it (exit 3). */
        atomic_store(&R->count_mismatch, 1);
        warn(R, "%s: %s", sh->path, err);
    }
    if (ifs_shard_writer_close(sh->scores, NULL, err, sizeof err) ||
        ifs_rejects_close(sh->rejects, err, sizeof err)) {
        snprintf(e, elen, "%s: %s", sh->path, err);
        return -1;
    }
    if (!ifs_resume_part_path(R->state, sh->path, "report.json", path, sizeof path) ||
        ifs_report_write(sh->red, path, IFS_REPORT_NO_TIMINGS, err, sizeof err)) {
        snprintf(e, elen, "%s: partial report: %s", sh->path, err);
        return -1;
    }
    if (sh->is_regular && ifs_resume_mark_done(R->state, sh->path, &sh->fp, err, sizeof err)) {
        snprintf(e, elen, "%s: %s", sh->path, err);
        return -1;
    }
    shard_close(sh);
    sh->done = 1;
    atomic_fetch_add(&R->shards_done, 1);
    if (R->o.on_shard) {
        pthread_mutex_lock(&R->cbmu);
        R->o.on_shard(R->o.shard_ctx, sh->path, 0);
        pthread_mutex_unlock(&R->cbmu);
    }
    return 0;
}

/* Committer threads: a shard's commit is four fsync'ed atomic writes, which
 * on a busy disk take longer than scoring the shard; done on the delivery
 * thread they stalled delivery (and so the whole pipeline) once per shard.
 * Shards commit independently of each other (each has its own .done), so
 * COMMITTERS threads take them from a queue of COMMIT_QUEUE; the delivery
 * thread waits only when the queue is full. A failed commit stops the run
 * (ifs_score_run reports it); after a cancel, queued shards are not
 * committed (a resumed run scores them again). */
static void *commit_main(void *arg)
{
    run *R = arg;
    pthread_mutex_lock(&R->cmu);
    for (;;) {
        while (!R->cq_n && !R->cquit)
            pthread_cond_wait(&R->ccv, &R->cmu);
        if (!R->cq_n)
            break;
        shard *sh = R->cq[R->cq_head];
        R->cq_head = (R->cq_head + 1) % COMMIT_QUEUE;
        R->cq_n--;
        pthread_cond_broadcast(&R->ccv);
        int skip = R->commit_failed || atomic_load(&R->cancelled);
        pthread_mutex_unlock(&R->cmu);
        char e[1024] = "";
        int rc = skip ? 0 : finish_shard(R, sh, e, sizeof e);
        if (skip)
            shard_close(sh);
        pthread_mutex_lock(&R->cmu);
        if (rc && !R->commit_failed) {
            R->commit_failed = 1;
            snprintf(R->commit_err, sizeof R->commit_err, "%s", e);
            pthread_mutex_unlock(&R->cmu);
            ifs_sched_cancel(R->sched);
            pthread_mutex_lock(&R->cmu);
        }
    }
    pthread_mutex_unlock(&R->cmu);
    return NULL;
}

/* The sink's end of a shard: queue its commit (or commit here when no
 * committer runs). 0, or -1 with R->sink_err set. */
static int queue_commit(run *R, shard *sh, const char *sha)
{
    snprintf(sh->sha, sizeof sh->sha, "%s", sha);
    if (R->commit_inline)
        return finish_shard(R, sh, R->sink_err, sizeof R->sink_err);
    pthread_mutex_lock(&R->cmu);
    while (!R->cquit && !R->commit_failed && R->cq_n == COMMIT_QUEUE)
        pthread_cond_wait(&R->ccv, &R->cmu);
    if (R->commit_failed || R->cquit) {
        snprintf(R->sink_err, sizeof R->sink_err, "%s",
                 R->commit_failed ? R->commit_err : "the run is ending");
        pthread_mutex_unlock(&R->cmu);
        return -1;
    }
    R->cq[(R->cq_head + R->cq_n) % COMMIT_QUEUE] = sh;
    R->cq_n++;
    pthread_cond_broadcast(&R->ccv);
    pthread_mutex_unlock(&R->cmu);
    return 0;
}

static void start_commits(run *R)
{
    for (int i = 0; i < COMMITTERS; i++) {
        if (pthread_create(&R->cth[i], NULL, commit_main, R))
            break; /* fewer (or none: inline) */
        R->n_cth++;
    }
    R->commit_inline = R->n_cth == 0;
}

/* Lets the committers finish the queue and joins them. Idempotent. */
static void stop_commits(run *R)
{
    if (!R->rsync)
        return;
    pthread_mutex_lock(&R->cmu);
    R->cquit = 1;
    pthread_cond_broadcast(&R->ccv);
    pthread_mutex_unlock(&R->cmu);
    for (int i = 0; i < R->n_cth; i++)
        pthread_join(R->cth[i], NULL);
    R->n_cth = 0;
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
    if (p->kind == K_END && p->reason) {
        shard_close(p->sh); /* a first pass a checksum failure voids: nothing committed */
    } else if (p->kind == K_END) {
        rc = queue_commit(R, p->sh, detail);
    } else if (p->kind == K_REJECT) {
        rc = reject_line(R, p, (ifs_reject_reason)p->reason, detail);
    } else if (r->outcome == IFS_SCHED_SCORED) {
        double prob = ifs_sched_prob(r->logits, r->num_labels, R->answer);
        ifs_reduce_pred pred = {.keys = groups,
                                .type = (ifs_itype)p->type,
                                .p_answer = prob,
                                .n_tokens = r->n_tokens,
                                .truncated = r->truncated};
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
        snprintf(err, errlen, "the classifier has %d label(s); at least 2 are needed",
                 c->num_labels);
        return -1;
    }
    return ifs_wts_answer_label(c, R->o.answer_label, &R->answer, err, errlen) ? -1 : 0;
}

/* The checkpoint decides the input: a pair classifier (config.json
 * "ifs_input": "pair") needs the instruction's field, a response-only one
 * refuses it; both refused before anything is read. */
static int check_input_mode(run *R, char *err, size_t errlen)
{
    const char *f =
        R->o.instruction_field && *R->o.instruction_field ? R->o.instruction_field : NULL;
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
    if (!h->rc)
        h->rc = ifs_sha256_update(&h->c, bytes, n);
}

/* The tokenizer's identity (vocab in id order, settings, special and added
 * tokens) as 64 hex characters: what --resume and reduce compare. */
static int tokenizer_sha(const ifs_tok *tok, char hex[65])
{
    tok_hash h = {.rc = 0};
    if (ifs_sha256_init(&h.c))
        return -1;
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
    if (!s)
        return NULL;
    int n = snprintf(s, cap,
                     "format=ifscore-score-1;weights=%s;tokenizer=%s;labels=%d;answer=%d;"
                     "threshold=%.6f;lower=%d;strip=%d;cjk=%d;max_len=%d;text=%s;id=%s;"
                     "type=%s;max_line=%zu;backend=%s;dtype=%s;group=",
                     ifs_wts_fingerprint(R->model), tok_sha, R->w->cfg.num_labels, R->answer,
                     R->o.threshold, tc->do_lower_case, tc->strip_accents,
                     tc->tokenize_chinese_chars, R->max_len, R->schema.text_field,
                     R->schema.id_field, R->schema.type_field, R->o.max_line_bytes, R->kind,
                     R->dtype == IFS_DT_F16    ? "f16"
                     : R->dtype == IFS_DT_BF16 ? "bf16"
                                               : "f32");
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

/* The hash of a shard that a reader has not computed yet: the partial's
 * reducer is created with it and gets the real one with the shard's end
 * marker (ifs_reduce_set_input_sha256), as the bytes are hashed in the same
 * pass that decodes them. */
static const char sha_pending[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static int open_shard(run *R, shard *sh, char *err, size_t errlen)
{
    char path[PATH_MAX], sha[65];
    if (!sh->is_regular) {
        /* A stream can be read only once: it is recorded under the sha256
         * of its name, not of its bytes (docs/score.md). */
        ifs_sha256_hex(sh->path, strlen(sh->path), sha);
    } else {
        memcpy(sha, sha_pending, sizeof sha);
    }
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

/* opts.prepare of the scheduler: parses a K_LINE item's line on the
 * tokenizer worker, replacing its payload by a K_REC (returns 1, the text
 * to score) or a K_REJECT (returns 0). wstate is the worker's ifs_record. */
static int prepare_line(void *ctx, void **wstate, void **user, const char *bytes, size_t len,
                        ifs_sched_text *out)
{
    run *R = ctx;
    ifs_record *rec = *wstate;
    if (!rec) {
        if (!(rec = malloc(sizeof *rec)))
            return -1;
        ifs_record_init(rec);
        *wstate = rec;
    }
    payload *p = *user;
    ifs_reject_reason why = ifs_record_parse(rec, &R->schema, bytes, len);
    payload *q = why ? payload_new(p->sh, p->line, p->offset, K_REJECT, NULL, why, rec->detail)
                     : payload_new(p->sh, p->line, p->offset, K_REC, rec, 0, NULL);
    if (!q)
        return -1;
    free(p);
    *user = q;
    if (why)
        return 0;
    out->text = rec->text;
    out->len = rec->text_len;
    if (rec->pair) { /* a pair classifier: [CLS] instruction [SEP] response [SEP] */
        out->pair = rec->pair;
        out->pair_len = rec->pair_len;
    }
    return 1;
}

static void prepare_free(void *ctx, void *wstate)
{
    (void)ctx;
    ifs_record_clear(wstate);
    free(wstate);
}

/* Reader threads read shards ahead, in list order, into blocks of lines:
 * each shard's bytes are read once, hashed in that pass (libcrypto) and
 * decoded; the submitting thread takes the blocks in shard order and hands
 * the lines to the scheduler, so the scheduler sees exactly the sequence a
 * single reader would give it. At most n_readers + 1 shards are in flight
 * and at most BLOCK_QUEUE blocks of about BLOCK_BYTES wait per shard: the
 * reader's memory bound is (n_readers + 1) * BLOCK_QUEUE * BLOCK_BYTES
 * (plus one line of up to max_line_bytes). */
enum { BLOCK_BYTES = 1 << 20, BLOCK_LINES = 8192, BLOCK_QUEUE = 4 };

typedef struct {
    uint64_t line_no, offset;
    size_t at, len; /* line: buf[at..at+len) + NUL; reject: its detail at buf[at] */
    uint16_t reason;
} lref;

typedef struct lblock {
    char *buf;
    size_t len, cap;
    lref *ln;
    size_t n, ncap;
    uint64_t comp_done; /* compressed bytes the reader had taken at the block's end */
    struct lblock *next;
} lblock;

struct rjob {
    shard *sh;
    int redo; /* second pass: the frame at bad_at failed its checksum */
    uint64_t bad_at, bad_end;
    char first_sha[65]; /* redo: the first pass's sha256 (the file must not change) */
    int direct;         /* no reader thread: blocks go straight to consume_block */
    lblock *head, *tail;
    int nq;
    int done; /* the reader is finished with it (rjob fields below are set) */
    int rc;   /* 0, or -1 with err */
    char err[512];
    char sha[65];
    ifs_shard_stats st;
    double t_read, t_hash; /* reader thread-seconds (queue waits excluded); of which hashing */
    uint64_t lines;        /* consumer: lines handed on */
    int stopped;           /* consumer only: the run stopped (cancel, or the scheduler refused) */
};

static void block_free(lblock *b)
{
    if (!b)
        return;
    free(b->buf);
    free(b->ln);
    free(b);
}

/* Appends a line (or a reject's detail) to *bp, allocating the block. */
static int block_add(lblock **bp, const ifs_shard_line *ln)
{
    lblock *b = *bp;
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return -1;
        *bp = b;
    }
    const char *bytes = ln->reason ? ln->detail : ln->data;
    size_t len = ln->reason ? strlen(ln->detail) : ln->len;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : BLOCK_BYTES + 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return -1;
        b->buf = nb;
        b->cap = cap;
    }
    if (b->n == b->ncap) {
        size_t cap = b->ncap ? b->ncap * 2 : 1024;
        lref *nl = realloc(b->ln, cap * sizeof *nl);
        if (!nl)
            return -1;
        b->ln = nl;
        b->ncap = cap;
    }
    lref *r = &b->ln[b->n++];
    r->line_no = ln->line_no;
    r->offset = ln->offset;
    r->at = b->len;
    r->len = ln->reason ? ln->len : len;
    r->reason = (uint16_t)ln->reason;
    if (len)
        memcpy(b->buf + b->len, bytes, len);
    b->buf[b->len + len] = '\0';
    b->len += len + 1;
    return 0;
}

static int consume_block(run *R, struct rjob *j, lblock *b);

/* Hands a full block on: to the job's queue (waiting while it is full), or
 * straight to the consumer for a direct job. 0, or -1 when the run is
 * quitting (the block is freed). */
static int push_block(run *R, struct rjob *j, lblock *b, double *waited)
{
    if (j->direct) {
        int rc = consume_block(R, j, b);
        block_free(b);
        return rc;
    }
    double t0 = ifs_time_now();
    pthread_mutex_lock(&R->rmu);
    while (!R->rquit && j->nq >= BLOCK_QUEUE)
        pthread_cond_wait(&R->rcv, &R->rmu);
    if (R->rquit) {
        pthread_mutex_unlock(&R->rmu);
        block_free(b);
        return -1;
    }
    if (j->tail)
        j->tail->next = b;
    else
        j->head = b;
    j->tail = b;
    j->nq++;
    pthread_cond_broadcast(&R->rcv);
    pthread_mutex_unlock(&R->rmu);
    *waited += ifs_time_now() - t0;
    return 0;
}

typedef struct {
    ifs_sha256_ctx c;
    double t;
} read_hash;

static void hash_read(void *ctx, const void *bytes, size_t n)
{
    read_hash *h = ctx;
    double t0 = ifs_time_now();
    ifs_sha256_update(&h->c, bytes, n);
    h->t += ifs_time_now() - t0;
}

/* Reads one shard: every byte once, hashed (regular files) and decoded
 * into blocks of lines. Sets j->rc, j->err, j->sha, j->st, the times. */
static void read_job(run *R, struct rjob *j)
{
    shard *sh = j->sh;
    double t0 = ifs_time_now(), waited = 0;
    read_hash hh = {.t = 0};
    ifs_shard_opts so = {.max_line_bytes = R->o.max_line_bytes, .read_bytes = 1 << 20};
    if (j->redo) {
        so.reject_frame = 1;
        so.reject_frame_at = j->bad_at;
        so.reject_frame_end = j->bad_end;
    }
    if (sh->is_regular) {
        if (ifs_sha256_init(&hh.c)) {
            j->rc = -1;
            snprintf(j->err, sizeof j->err, "%s: cannot start a sha256 (libcrypto)", sh->path);
            return;
        }
        so.on_read = hash_read;
        so.read_ctx = &hh;
    }
    ifs_shard_reader *rd = NULL;
    if (ifs_shard_open(sh->path, &so, &rd, j->err, sizeof j->err)) {
        j->rc = -1;
        ifs_sha256_discard(&hh.c);
        return;
    }
    ifs_shard_line ln;
    lblock *b = NULL;
    int src, stop = 0; /* stop: the run quits, or (direct job) the consumer stopped */
    while ((src = ifs_shard_next(rd, &ln)) == IFS_SHARD_LINE) {
        if (block_add(&b, &ln)) {
            src = IFS_SHARD_ENOMEM;
            break;
        }
        if (b->len >= BLOCK_BYTES || b->n >= BLOCK_LINES) {
            ifs_shard_stats st;
            ifs_shard_get_stats(rd, &st);
            b->comp_done = st.bytes_in;
            lblock *full = b;
            b = NULL;
            if (push_block(R, j, full, &waited)) {
                src = 0;
                stop = 1;
                break;
            }
        }
    }
    ifs_shard_get_stats(rd, &j->st);
    if (b && !stop) {
        b->comp_done = j->st.bytes_in;
        if (push_block(R, j, b, &waited))
            stop = 1;
        b = NULL;
    }
    block_free(b);
    if (src < 0) {
        j->rc = -1;
        snprintf(j->err, sizeof j->err, "%s: %s", sh->path, ifs_shard_strerror(src));
    } else if (sh->is_regular && !stop) {
        /* the bytes after a stream error are hashed too: the digest is the file's */
        if (ifs_shard_read_rest(rd) || j->st.status == IFS_SHARD_IOERR) {
            j->rc = -1;
            snprintf(j->err, sizeof j->err, "%s: cannot read: %s", sh->path,
                     j->st.status == IFS_SHARD_IOERR ? j->st.error : strerror(errno));
        } else if (ifs_sha256_final_hex(&hh.c, j->sha)) {
            j->rc = -1;
            snprintf(j->err, sizeof j->err, "%s: sha256 failed (libcrypto)", sh->path);
        }
    }
    ifs_sha256_discard(&hh.c);
    ifs_shard_free(rd);
    j->t_hash = hh.t;
    j->t_read = ifs_time_now() - t0 - waited;
}

static void *reader_main(void *arg)
{
    run *R = arg;
    pthread_mutex_lock(&R->rmu);
    for (;;) {
        while (!R->rquit && R->next_job < R->n_jobs &&
               R->next_job > R->consumed + (size_t)R->n_readers)
            pthread_cond_wait(&R->rcv, &R->rmu);
        if (R->rquit || R->next_job >= R->n_jobs)
            break;
        struct rjob *j = &R->jobs[R->next_job++];
        pthread_mutex_unlock(&R->rmu);
        read_job(R, j);
        pthread_mutex_lock(&R->rmu);
        j->done = 1;
        pthread_cond_broadcast(&R->rcv);
    }
    pthread_mutex_unlock(&R->rmu);
    return NULL;
}

/* The lines of one block into the scheduler, in order. 0, or -1 when the
 * run stopped (cancel, or the scheduler refused: j->stopped). */
static int consume_block(run *R, struct rjob *j, lblock *b)
{
    shard *sh = j->sh;
    for (size_t i = 0; i < b->n; i++) {
        if (atomic_load(&R->cancelled)) {
            j->stopped = 1;
            return -1;
        }
        const lref *l = &b->ln[i];
        payload *p;
        int s;
        j->lines++;
        if (l->reason) {
            p = payload_new(sh, l->line_no, l->offset, K_REJECT, NULL, l->reason, b->buf + l->at);
            s = p ? ifs_sched_pass(R->sched, p, 0) : IFS_SCHED_ENOMEM;
        } else {
            /* parsed by the tokenizer worker (prepare_line) */
            p = payload_new(sh, l->line_no, l->offset, K_LINE, NULL, 0, NULL);
            s = p ? ifs_sched_submit(R->sched, b->buf + l->at, l->len, p) : IFS_SCHED_ENOMEM;
        }
        if (s) {
            free(p);
            j->stopped = 1;
            return -1;
        }
    }
    atomic_store(&R->bytes_done, R->bytes_base + b->comp_done);
    return 0;
}

/* The end-of-shard marker: commits the shard (with its sha256), or with
 * discard != 0 drops its outputs (a first pass whose frame failed its
 * checksum). 0, or 1 when the scheduler refused (stopped run). */
static int pass_end(run *R, shard *sh, const char *sha, int discard)
{
    payload *p = payload_new(sh, 0, 0, K_END, NULL, discard, sha);
    int s = p ? ifs_sched_pass(R->sched, p, 1) : IFS_SCHED_ENOMEM;
    if (s) {
        free(p);
        return 1;
    }
    return 0;
}

/* Where the zstd frame starting at `at` ends (its compressed size walked
 * from the block headers, RFC 8878 3.1.1), for the words of the rejects;
 * the file's size when the walk does not get there. */
static uint64_t frame_end(const char *path, uint64_t at, uint64_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return size;
    unsigned char h[6];
    uint64_t end = size;
    if (pread(fd, h, 5, (off_t)at) == 5) {
        unsigned fhd = h[4];
        static const unsigned did[4] = {0, 1, 2, 4};
        unsigned single = (fhd >> 5) & 1, fcs = fhd >> 6;
        uint64_t pos = at + 5 + (single ? 0 : 1) + did[fhd & 3] +
                       (fcs == 0   ? single
                        : fcs == 1 ? 2
                        : fcs == 2 ? 4
                                   : 8);
        for (;;) {
            unsigned char bh[3];
            if (pread(fd, bh, 3, (off_t)pos) != 3)
                break;
            uint32_t v = (uint32_t)bh[0] | (uint32_t)bh[1] << 8 | (uint32_t)bh[2] << 16;
            unsigned type = (v >> 1) & 3;
            if (type == 3)
                break;
            pos += 3 + (type == 1 ? 1 : (v >> 3));
            if (v & 1) {
                pos += (fhd & 4) ? 4 : 0;
                if (pos <= size)
                    end = pos;
                break;
            }
        }
    }
    close(fd);
    return end;
}

/* Takes one job's blocks in order (from its reader thread, or reading it
 * here for a direct job), then passes its end marker. A frame that failed
 * its checksum: the first pass is discarded and the shard read again with
 * that frame's lines rejected (zstd_checksum), so none of them counts as
 * scored. Returns 0, 1 when stopped, -1 on a failure (words in err). */
static int consume_job(run *R, struct rjob *j, char *err, size_t errlen)
{
    shard *sh = j->sh;
    if (open_shard(R, sh, err, errlen))
        return -1;
    R->bytes_base = atomic_load(&R->bytes_done);
    if (j->direct) {
        read_job(R, j);
    } else {
        for (;;) {
            pthread_mutex_lock(&R->rmu);
            while (!j->head && !j->done)
                pthread_cond_wait(&R->rcv, &R->rmu);
            lblock *b = j->head;
            if (b) {
                j->head = b->next;
                if (!j->head)
                    j->tail = NULL;
                j->nq--;
                pthread_cond_broadcast(&R->rcv);
            }
            pthread_mutex_unlock(&R->rmu);
            if (!b)
                break;
            int rc = consume_block(R, j, b);
            block_free(b);
            if (rc)
                return 1;
        }
    }
    if (j->stopped)
        return 1;
    if (j->rc) {
        snprintf(err, errlen, "%s", j->err);
        return -1;
    }
    R->bytes_in += j->st.bytes_in;
    R->bytes_out += j->st.bytes_out;
    R->t_hash += j->t_hash;
    R->t_read += j->t_read - j->t_hash;
    atomic_store(&R->bytes_done, R->bytes_base + j->st.bytes_in);
    if (j->st.checksum_failed && !j->redo) {
        if (!sh->is_regular) {
            snprintf(err, errlen,
                     "%s: the zstd frame at compressed offset %llu failed its content checksum; "
                     "its lines were already read from a stream that cannot be read again, so "
                     "the run stops rather than count them (score a copy of it as a file)",
                     sh->path, (unsigned long long)j->st.error_frame_offset);
            return -1;
        }
        if (pass_end(R, sh, "", 1))
            return 1;
        /* the second pass writes outputs of its own (the first pass's are
         * still being delivered): a copy of the shard carries them */
        shard *s2 = malloc(sizeof *s2);
        if (!s2) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        *s2 = *sh;
        s2->red = NULL;
        s2->scores = NULL;
        s2->rejects = NULL;
        s2->redo = NULL;
        sh->redo = s2;
        struct rjob j2;
        memset(&j2, 0, sizeof j2);
        j2.sh = s2;
        j2.redo = 1;
        j2.direct = 1;
        j2.bad_at = j->st.error_frame_offset;
        j2.bad_end = frame_end(sh->path, j2.bad_at, sh->size);
        memcpy(j2.first_sha, j->sha, sizeof j2.first_sha);
        atomic_store(&R->bytes_done, R->bytes_base);
        return consume_job(R, &j2, err, errlen);
    }
    if (j->redo && (!j->st.checksum_failed || j->st.error_frame_offset != j->bad_at ||
                    strcmp(j->sha, j->first_sha))) {
        snprintf(err, errlen,
                 "%s: the shard changed while it was read (its second pass, after the zstd frame "
                 "at compressed offset %llu failed its checksum, read other bytes)",
                 sh->path, (unsigned long long)j->bad_at);
        return -1;
    }
    R->lines_read += j->lines;
    sh->lines = j->lines;
    return pass_end(R, sh, sh->is_regular ? j->sha : "", 0);
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
        if (ifs_atomic_open(out, &a, err, errlen))
            return -1;
        char *buf = malloc(1 << 20);
        int bad = !buf, wbad = 0;
        if (!buf)
            snprintf(err, errlen, "out of memory");
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
                if (ifs_atomic_write(a, buf, n))
                    wbad = 1;
            if (ferror(f)) {
                snprintf(err, errlen, "reading %.700s: %s", path, strerror(errno));
                bad = 1;
            }
            fclose(f);
            if (wbad)
                break;
        }
        free(buf);
        /* A failed write keeps its errno words in the handle; commit says
         * them (and removes the temporary file). */
        if (!bad && ifs_atomic_commit(a, err, errlen))
            bad = 1;
        ifs_atomic_free(a);
        return bad ? -1 : 0;
    }
    ifs_shard_writer_opts wo;
    ifs_shard_writer_opts_init(&wo);
    wo.compress = 0;
    ifs_shard_writer *w;
    if (ifs_shard_writer_open(out, &wo, &w, err, errlen))
        return -1;
    int bad = 0, wbad = 0;
    for (size_t i = 0; i < R->n_shards && !bad && !wbad; i++) {
        ifs_resume_part_path(R->state, R->shards[i].path, suffix, path, sizeof path);
        ifs_shard_opts so = {.max_line_bytes = (size_t)1 << 30, .window_log_max = 0};
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
            if (ifs_shard_writer_line(w, ln.data, ln.len))
                wbad = 1;
        }
        ifs_shard_free(rd);
    }
    /* close reports a failed write with its errno words ("Broken pipe" for a
     * closed stdout, "No space left on device"). */
    if (!bad && ifs_shard_writer_close(w, NULL, err, errlen))
        bad = 1;
    ifs_shard_writer_free(w);
    return bad ? -1 : 0;
}

static ifs_reducer *merge_partials(run *R, char *err, size_t errlen)
{
    ifs_reducer *all;
    if (ifs_reduce_create(&R->rcfg, &all, err, errlen))
        return NULL;
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
    if (!strcmp(opt, "auto"))
        *out = !strcmp(kind, "cuda") ? IFS_DT_F16 : IFS_DT_F32;
    else if (!strcmp(opt, "f16"))
        *out = IFS_DT_F16;
    else if (!strcmp(opt, "bf16"))
        *out = IFS_DT_BF16;
    else if (!strcmp(opt, "f32"))
        *out = IFS_DT_F32;
    else {
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "dtype %s: expected auto, f16, bf16 or f32",
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
                return ifs_errf(err, errlen, IFS_SCORE_EUSAGE,
                                "devices %s: expected a comma-separated list of ordinals",
                                R->o.devices);
            }
            devs[nd++] = (int)v;
            s = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') {
                return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "devices %s: unexpected '%c'",
                                R->o.devices, *end);
            }
        }
    } else if (strcmp(kind, "cpu")) {
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "backend %s: expected cpu, cuda or auto",
                        kind);
    } else {
        devs[nd++] = 0;
    }
    int per = !strcmp(kind, "cuda") ? 2 : 1; /* two handles per GPU: copy/compute overlap */
    void **eng = calloc((size_t)(nd * per), sizeof *eng);
    if (!eng)
        return ifs_errf(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
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
                for (int i = 0; i < n; i++)
                    ifs_backend_free(eng[i]);
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
    char name[NAME_MAX + 1]; /* the last component, when !exists */
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
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "%.200s...: path too long", path);
    strcpy(a, path);
    strcpy(b, path);
    const char *dir = dirname(a), *base = basename(b);
    if (stat(dir, &sb) != 0)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "%s: its folder %s: %s", path, dir,
                        strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "%s: %s is not a folder", path, dir);
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
    if (!path || !strcmp(path, "-"))
        return 0;
    if (!*path)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "%s: empty path", flag);
    int rc = path_identity(path, id, err, errlen);
    if (rc) {
        char e2[1024];
        snprintf(e2, sizeof e2, "%s %s", flag, err);
        return ifs_errf(err, errlen, rc, "%s", e2);
    }
    struct stat sb;
    if (id->exists && stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "%s %s exists and is not a regular file",
                        flag, path);
    for (size_t i = 0; i < R->in.n; i++) {
        const ifs_input_file *f = &R->in.files[i];
        if (f->is_stdin)
            continue;
        struct stat ib;
        if (id->exists && stat(f->path, &ib) == 0 && ib.st_dev == id->dev && ib.st_ino == id->ino)
            return ifs_errf(err, errlen, IFS_SCORE_EUSAGE,
                            "%s %s is the input shard %s (same file): it would be overwritten; "
                            "choose another output path",
                            flag, path, f->path);
    }
    /* Writable folder: the atomic writer creates a temporary file there. */
    char a[PATH_MAX];
    snprintf(a, sizeof a, "%s", path);
    const char *dir = dirname(a);
    if (access(dir, W_OK | X_OK) != 0)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "%s %s: its folder %s is not writable: %s",
                        flag, path, dir, strerror(errno));
    return 0;
}

static int check_outputs(run *R, char *err, size_t errlen)
{
    const char *flags[3] = {"--out", "--scores", "--rejects"};
    const char *paths[3] = {R->o.out, R->o.scores, R->o.rejects};
    path_id ids[3];
    int stdout_users = 0;
    for (int i = 0; i < 3; i++) {
        int rc = check_output(R, flags[i], paths[i], &ids[i], err, errlen);
        if (rc)
            return rc;
        if (paths[i] && !strcmp(paths[i], "-"))
            stdout_users++;
    }
    if (stdout_users > 1)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE,
                        "only one of --out, --scores and --rejects can be '-' (standard output)");
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (paths[i] && paths[j] && strcmp(paths[i], "-") && strcmp(paths[j], "-") &&
                same_file(&ids[i], &ids[j]))
                return ifs_errf(err, errlen, IFS_SCORE_EUSAGE,
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
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "a model folder is required");
    if (!o->inputs || !o->n_inputs)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "no shards given");
    if (o->threads < 1 || o->threads > 1024)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "threads %d: expected 1..1024", o->threads);
    if (o->readers < 0 || o->readers > 8)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "readers %d: expected 0..8", o->readers);
    if (o->cpu_threads < 0 || o->cpu_threads > 1024)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "cpu threads %d: expected 0..1024",
                        o->cpu_threads);
    if (o->max_batch_tokens < 2 || o->max_batch_seqs < 1 || o->chunk_records < 1 ||
        o->max_chunks < 2 || o->max_chunks > 1024 || o->max_line_bytes < 1)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE,
                        "batch budget, chunk or line limits out of range");
    if (o->max_len != 0 && o->max_len < 2)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "max length %d: expected >= 2", o->max_len);
    if (!(o->threshold > 0 && o->threshold < 1))
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "threshold %g: expected a number in (0,1)",
                        o->threshold);
    if (o->slice_count < 0 ||
        (o->slice_count && (o->slice_index < 0 || o->slice_index >= o->slice_count)))
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "slice %d/%d: expected 0 <= I < N",
                        o->slice_index, o->slice_count);
    return 0;
}

int ifs_score_create(const ifs_score_opts *opts, ifs_score **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = check_opts(opts, err, errlen);
    if (rc)
        return rc;
    run *R = calloc(1, sizeof *R);
    if (!R)
        return ifs_errf(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
    R->o = *opts;
    R->t_start = ifs_time_now();
    pthread_mutex_init(&R->rmu, NULL);
    pthread_cond_init(&R->rcv, NULL);
    pthread_mutex_init(&R->cmu, NULL);
    pthread_mutex_init(&R->cbmu, NULL);
    pthread_cond_init(&R->ccv, NULL);
    R->rsync = 1;
    /* Model and tokenizer: a checkpoint that does not load is a runtime
     * failure (a missing or broken file), not a usage error. */
    rc = IFS_SCORE_EFAIL;
    R->model = ifs_wts_load(R->o.model, 0, err, errlen);
    if (!R->model)
        goto fail;
    R->w = ifs_wts_weights(R->model);
    R->tok = ifs_tok_load(R->o.model, NULL, err, errlen);
    if (!R->tok)
        goto fail;
    rc = IFS_SCORE_EUSAGE;
    R->max_len = R->o.max_len;
    if (!R->max_len) {
        int32_t m = ifs_tok_get_config(R->tok)->model_max_length;
        R->max_len = m > 0 && m < R->w->cfg.max_position ? m : R->w->cfg.max_position;
    }
    if (R->max_len > R->w->cfg.max_position) {
        ifs_errf(err, errlen, rc, "max length %d exceeds the model's max_position_embeddings %d",
                 R->max_len, R->w->cfg.max_position);
        goto fail;
    }
    if (R->o.max_batch_tokens < R->max_len)
        R->o.max_batch_tokens = R->max_len;
    if (check_input_mode(R, err, errlen))
        goto fail;
    if (resolve_answer(R, err, errlen))
        goto fail;
    for (int32_t i = 0; i < R->w->cfg.num_labels; i++)
        R->labels[i] = R->w->cfg.labels[i];

    /* Record schema. */
    ifs_record_schema_init(&R->schema);
    if ((R->o.text_field &&
         ifs_record_schema_set_field(&R->schema, IFS_FIELD_TEXT, R->o.text_field, err, errlen)) ||
        (R->o.id_field &&
         ifs_record_schema_set_field(&R->schema, IFS_FIELD_ID, R->o.id_field, err, errlen)) ||
        (R->o.type_field &&
         ifs_record_schema_set_field(&R->schema, IFS_FIELD_TYPE, R->o.type_field, err, errlen)) ||
        (R->o.group_by && ifs_record_schema_set_group_by(&R->schema, R->o.group_by, err, errlen)) ||
        (R->w->cfg.pair_input && ifs_record_schema_set_field(&R->schema, IFS_FIELD_PAIR,
                                                             R->o.instruction_field, err, errlen)))
        goto fail;
    rc = IFS_SCORE_ENOMEM;
    for (size_t g = 0; g < R->schema.n_group_fields; g++) {
        R->keys[g] = R->schema.group_fields[g];
        if (!(R->keys_json[g] = json_quoted(",", R->keys[g], ":")))
            goto nomem;
    }
    for (int32_t i = 0; i < R->w->cfg.num_labels; i++)
        if (!(R->labels_json[i] = json_quoted(",\"label\":", R->labels[i], "")))
            goto nomem;

    /* Reducer configuration: identity of the classifier, tokenizer, grouping. */
    {
        const ifs_tok_config *tc = ifs_tok_get_config(R->tok);
        R->rcfg = ifs_reduce_default_config();
        R->rcfg.weights_sha256 = ifs_wts_fingerprint(R->model);
        if (tokenizer_sha(R->tok, R->tok_sha))
            goto nomem;
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
    if (ifs_io_list_inputs(R->o.inputs, R->o.n_inputs, &R->in, err, errlen))
        goto fail;
    if (check_outputs(R, err, errlen))
        goto fail;
    int unknown_size = 0;
    R->shards = calloc(R->in.n ? R->in.n : 1, sizeof *R->shards);
    if (!R->shards)
        goto nomem;
    for (size_t i = 0; i < R->in.n; i++) {
        if (R->o.slice_count && (int)(i % (size_t)R->o.slice_count) != R->o.slice_index)
            continue;
        shard *sh = &R->shards[R->n_shards++];
        sh->path = R->in.files[i].path;
        sh->size = R->in.files[i].size;
        sh->is_regular = R->in.files[i].is_regular;
        if (!(sh->path_json = json_quoted("", sh->path, "")))
            goto nomem;
        if (R->in.files[i].is_regular)
            R->bytes_total += R->in.files[i].size;
        else
            unknown_size = 1;
    }
    if (unknown_size)
        R->bytes_total = 0; /* no ETA */

    /* Backend and dtype are part of the configuration: f16 and f32
     * probabilities differ in the last digits, so a resumed run must not mix
     * them in one report. */
    R->kind = resolve_backend(R->o.backend ? R->o.backend : "auto");
    if (resolve_dtype(R->o.dtype ? R->o.dtype : "auto", R->kind, &R->dtype, err, errlen))
        goto fail;

    /* State directory and what is already done. */
    {
        R->cfgtext = config_text(R, R->tok_sha);
        if (!R->cfgtext)
            goto nomem;
        if (R->o.state_dir)
            snprintf(R->state_dir, sizeof R->state_dir, "%s", R->o.state_dir);
        else if (!R->o.out || !strcmp(R->o.out, "-"))
            snprintf(R->state_dir, sizeof R->state_dir, "ifscore.state");
        else
            snprintf(R->state_dir, sizeof R->state_dir, "%s.state", R->o.out);
        if (ifs_resume_open(R->state_dir, R->cfgtext, R->o.resume, &R->state, err, errlen)) {
            rc = IFS_SCORE_EFAIL;
            goto fail;
        }
        for (size_t i = 0; i < R->n_shards; i++) {
            shard *sh = &R->shards[i];
            if (!sh->is_regular)
                continue;
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
    so.prepare = prepare_line;
    so.prepare_free = prepare_free;
    so.pair_a_max = R->w->cfg.instruction_max_tokens;
    rc = make_engines(R, &so, R->kind, R->dtype, &R->engines, &R->n_engines, err, errlen);
    if (rc)
        goto fail;
    rc = IFS_SCORE_EFAIL;
    if (ifs_sched_create(&so, R->tok, &R->w->cfg, R->engines, R->n_engines, sink, R, &R->sched, err,
                         errlen))
        goto fail;
    *out = R;
    return 0;
nomem:
    rc = ifs_errf(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
fail:
    ifs_score_free(R);
    return rc;
}

/* ---- run ----------------------------------------------------------------------- */

/* Ends the reader threads (they leave their shard where it is) and frees
 * what they queued. Idempotent. */
static void stop_readers(run *R)
{
    if (!R->rsync)
        return;
    pthread_mutex_lock(&R->rmu);
    R->rquit = 1;
    pthread_cond_broadcast(&R->rcv);
    pthread_mutex_unlock(&R->rmu);
    for (int i = 0; i < R->n_rth; i++)
        pthread_join(R->rth[i], NULL);
    R->n_rth = 0;
    free(R->rth);
    R->rth = NULL;
    for (size_t i = 0; i < R->n_jobs; i++)
        while (R->jobs[i].head) {
            lblock *b = R->jobs[i].head;
            R->jobs[i].head = b->next;
            block_free(b);
        }
    free(R->jobs);
    R->jobs = NULL;
    R->n_jobs = 0;
}

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
    if (!R || R->ran)
        return ifs_errf(err, errlen, IFS_SCORE_EUSAGE, "ifs_score_run: called twice");
    R->ran = 1;
    for (size_t i = 0; i < R->n_shards; i++)
        if (R->shards[i].skip && R->o.on_shard)
            R->o.on_shard(R->o.shard_ctx, R->shards[i].path, 1);

    /* Read everything (reader threads ahead, lines into the scheduler in
     * shard order here); the sink commits shard by shard. */
    int stopped = 0;
    R->jobs = calloc(R->n_shards ? R->n_shards : 1, sizeof *R->jobs);
    if (!R->jobs)
        return ifs_errf(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
    for (size_t i = 0; i < R->n_shards; i++)
        if (!R->shards[i].skip)
            R->jobs[R->n_jobs++].sh = &R->shards[i];
    start_commits(R);
    R->n_readers = R->o.readers > 0 ? R->o.readers : 1 + R->o.threads / 4;
    if (R->n_readers > 8)
        R->n_readers = 8;
    if ((size_t)R->n_readers > R->n_jobs)
        R->n_readers = (int)(R->n_jobs ? R->n_jobs : 1);
    R->rth = calloc((size_t)R->n_readers, sizeof *R->rth);
    if (!R->rth)
        return ifs_errf(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
    for (int i = 0; i < R->n_readers && R->n_jobs; i++) {
        if (pthread_create(&R->rth[i], NULL, reader_main, R)) {
            stop_readers(R);
            ifs_sched_cancel(R->sched);
            ifs_sched_finish(R->sched);
            return ifs_errf(err, errlen, IFS_SCORE_EFAIL, "could not start a reader thread");
        }
        R->n_rth++;
    }
    for (size_t i = 0; i < R->n_jobs && !stopped; i++) {
        pthread_mutex_lock(&R->rmu);
        R->consumed = i;
        pthread_cond_broadcast(&R->rcv);
        pthread_mutex_unlock(&R->rmu);
        int rc = consume_job(R, &R->jobs[i], err, errlen);
        if (rc < 0) {
            stop_readers(R);
            ifs_sched_cancel(R->sched);
            ifs_sched_finish(R->sched);
            return IFS_SCORE_EFAIL;
        }
        if (rc)
            stopped = 1;
    }
    stop_readers(R);
    int src = ifs_sched_finish(R->sched);
    stop_commits(R);
    ifs_sched_get_stats(R->sched, &R->st);
    R->t_parse = R->st.prepare_s;
    if (R->commit_failed)
        return ifs_errf(err, errlen, IFS_SCORE_EFAIL, "%s", R->commit_err);
    if (atomic_load(&R->cancelled))
        return ifs_errf(
            err, errlen, IFS_SCORE_ECANCELLED, "stopped after %llu of %zu shards; state in %s",
            (unsigned long long)atomic_load(&R->shards_done), R->n_shards, R->state_dir);
    if (src) {
        if (src == IFS_SCHED_ESINK && R->sink_err[0])
            return ifs_errf(err, errlen, IFS_SCORE_EFAIL, "%s", R->sink_err);
        return ifs_errf(err, errlen, src == IFS_SCHED_ENOMEM ? IFS_SCORE_ENOMEM : IFS_SCORE_EFAIL,
                        "%s: %s", ifs_sched_strerror(src), ifs_sched_error(R->sched));
    }

    /* Merge the partials of every shard of the slice, in sorted order. */
    double t_fin = ifs_time_now();
    R->all = merge_partials(R, err, errlen);
    if (!R->all)
        return IFS_SCORE_EFAIL;
    if (R->o.slice_count) {
        /* The report says which slice of which list it is, so reduce can
         * refuse a merge with a slice missing (docs/slurm.md). */
        const char **paths = malloc((R->in.n ? R->in.n : 1) * sizeof *paths);
        if (!paths)
            return ifs_errf(err, errlen, IFS_SCORE_ENOMEM, "out of memory");
        for (size_t i = 0; i < R->in.n; i++)
            paths[i] = R->in.files[i].path;
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
        return ifs_errf(err, errlen, IFS_SCORE_EFAIL, "%s", e2);
    }
    if (R->o.rejects && assemble(R, "rejects.jsonl.zst", R->o.rejects, err, errlen)) {
        char e2[1024];
        snprintf(e2, sizeof e2, "--rejects %s: %s", R->o.rejects, err);
        return ifs_errf(err, errlen, IFS_SCORE_EFAIL, "%s", e2);
    }
    R->t_finish = ifs_time_now() - t_fin;
    R->t_wall = ifs_time_now() - R->t_start;
    if (!R->o.no_timings)
        set_run_facts(R);
    if (R->o.out && ifs_report_write(R->all, R->o.out, R->o.no_timings ? IFS_REPORT_NO_TIMINGS : 0,
                                     err, errlen)) {
        char e2[1024];
        snprintf(e2, sizeof e2, "--out %s: %s", R->o.out, err);
        return ifs_errf(err, errlen, IFS_SCORE_EFAIL, "%s", e2);
    }
    if (data_bad)
        return ifs_errf(err, errlen, IFS_SCORE_EDATA, "data check failed: %s", check);
    if (R->count_mismatch)
        return ifs_errf(err, errlen, IFS_SCORE_EDATA,
                        "data check failed: a shard's lines read differ from scored + rejected");
    return IFS_SCORE_OK;
}

void ifs_score_cancel(ifs_score *R)
{
    if (!R)
        return;
    atomic_store(&R->cancelled, 1);
    ifs_sched_cancel(R->sched);
}

const ifs_reducer *ifs_score_report(const ifs_score *R)
{
    return R ? R->all : NULL;
}

void ifs_score_snapshot(ifs_score *R, ifs_score_snap *s)
{
    memset(s, 0, sizeof *s);
    if (!R)
        return;
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
    if (!R)
        return;
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
    s->wall_s = R->t_wall ? R->t_wall : ifs_time_now() - R->t_start;
}

void ifs_score_free(ifs_score *R)
{
    if (!R)
        return;
    stop_commits(R); /* first: a sink waiting for queue room then gives up */
    ifs_sched_free(R->sched);
    for (size_t i = 0; i < R->n_shards; i++) {
        shard_close(&R->shards[i]);
        shard_close(R->shards[i].redo);
        free(R->shards[i].redo); /* shares path_json with its shard */
        free(R->shards[i].path_json);
    }
    free_keys(R);
    for (int i = 0; i < R->n_engines; i++)
        ifs_backend_free(R->engines[i]);
    free(R->engines);
    ifs_reduce_free(R->all);
    stop_readers(R);
    if (R->rsync) {
        pthread_mutex_destroy(&R->rmu);
        pthread_cond_destroy(&R->rcv);
        pthread_mutex_destroy(&R->cmu);
        pthread_mutex_destroy(&R->cbmu);
        pthread_cond_destroy(&R->ccv);
    }
    ifs_resume_free(R->state);
    free(R->cfgtext);
    free(R->shards);
    ifs_buf_free(&R->line);
    ifs_input_list_free(&R->in);
    ifs_tok_free(R->tok);
    ifs_wts_free(R->model);
    free(R);
}
