/*
 * cmd_score.c - `ifscore score`: the main job. Streams shards, classifies
 * every response, writes report.json (IFS, IFS_partial, IFS_full per group),
 * optional per-record scores and rejects, and keeps a resumable state.
 *
 * The way of the data (docs/score.md has the user's view):
 *   main thread: for each shard in sorted order: decompress + split lines
 *     (ifs_shard), parse records (ifs_record), submit texts to the scheduler;
 *     bad lines go through the scheduler as pass items so they keep their
 *     place; a shard-end marker seals the shard's last chunk.
 *   scheduler (ifs_sched): tokenizer workers, length-sorted packed batches,
 *     one backend worker per engine, in-order delivery to the sink below.
 *   sink (delivery thread): counts each record into the shard's own
 *     reducer, writes its scores / rejects lines into the shard's parts in
 *     the state directory; at the shard-end marker it commits the parts and
 *     the shard's partial report atomically, then the shard's .done marker.
 *   end: the partial reports of every shard of the slice are merged in
 *     sorted shard order (ifs_reduce_merge), checked, and written; the
 *     scores and rejects parts are concatenated in the same order.
 * Because the final report is always the merge of per-shard partials in the
 * same order, a resumed run and an uninterrupted one write the same bytes
 * (timings aside), whatever the thread count or batch budget.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ifs_backend.h"
#include "ifs_cli.h"
#include "ifs_version.h"
#include "ifs_io.h"
#include "ifs_progress.h"
#include "ifs_record.h"
#include "ifs_resume.h"
#include "ifs_sched.h"
#include "ifs_sha256.h"
#include "ifs_shard.h"
#include "ifs_tok.h"
#include "ifs_wts.h"
#include "ifs_reduce.h"
#include "ifs_report.h"

/* ---- options ------------------------------------------------------------- */

typedef struct {
    const char *model;
    const char *backend;
    const char *dtype;       /* f32 | f16 | bf16 | auto (f16 on cuda, f32 on cpu) */
    const char *devices;
    int threads;
    int cpu_threads;
    int32_t max_batch_tokens, max_batch_seqs, max_len;
    int32_t chunk_records;
    int max_chunks;
    const char *text_field, *type_field, *id_field, *group_by;
    const char *answer_label;
    double threshold;
    const char *out, *scores, *rejects;
    const char *format;
    int resume;
    const char *state_dir;
    int progress;          /* -1 auto, 0 off, 1 on */
    int stats;
    size_t max_line_bytes;
    int slice_i, slice_n;
    int no_timings;
    int quiet;
} options;

static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ifscore score: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static void usage(FILE *f)
{
    fputs(
"usage: ifscore score --model DIR [options] SHARD|DIR|GLOB...\n"
"\n"
"Classifies every response of the shards (*.jsonl, *.jsonl.zst, '-' for stdin)\n"
"with a BertForSequenceClassification checkpoint and reports IFS, IFS_partial\n"
"and IFS_full per group. Shards are processed in sorted path order.\n"
"\n"
"model and backend:\n"
"  --model DIR             checkpoint folder (config.json, model.safetensors, vocab.txt)\n"
"  --backend cpu|cuda|auto auto = cuda when a GPU is usable, else cpu (default auto)\n"
"  --devices LIST          cuda: GPU ordinals, e.g. 0,1 (two handles per GPU; default 0)\n"
"  --dtype auto|f16|bf16|f32  compute dtype (default auto: f16 on cuda, f32 on cpu;\n"
"                          the cpu backend computes in f32 only; cuda f32 is for checks)\n"
"  --cpu-threads N         cpu: threads inside the forward pass (default: all cores)\n"
"  --threads N             tokenizer worker threads (default 2)\n"
"  --max-batch-tokens N    packed tokens per forward call (default 16384)\n"
"  --max-batch-seqs N      records per forward call (default 512)\n"
"  --max-len N             truncation length incl. [CLS]/[SEP] (default: the\n"
"                          tokenizer's model_max_length, at most max_position_embeddings)\n"
"  --chunk-records N       sorting window: records sorted by length together (default 4096)\n"
"  --max-chunks N          windows in flight, the memory bound (default 4)\n"
"records:\n"
"  --text-field NAME       default response\n"
"  --type-field NAME       default instruction_type (\"\" = none)\n"
"  --id-field NAME         default id (\"\" = none)\n"
"  --group-by LIST         comma-separated group keys (default model)\n"
"  --max-line-bytes N      longer lines are rejected as line_too_long (default 1 MiB)\n"
"decision:\n"
"  --answer-label NAME|INDEX  the answer-like label (default: the id2label entry\n"
"                          naming 'answer', else index 1)\n"
"  --threshold P           answer-like iff p(answer) > P (default 0.5, i.e. argmax\n"
"                          for two labels, ties going to label 0 as torch.argmax does)\n"
"outputs:\n"
"  --out FILE              report.json (default report.json)\n"
"  --scores FILE           per-record output in input order (.jsonl or .jsonl.zst)\n"
"  --rejects FILE          rejected lines with reasons (.jsonl or .jsonl.zst)\n"
"  --format text|csv|markdown|json|none   table printed on stdout (default text)\n"
"  --no-timings            leave run timings out of report.json (byte-comparable)\n"
"  --stats                 per-stage throughput on stderr\n"
"  --progress, --no-progress   progress line on stderr (default: only on a terminal)\n"
"faults and scale-out:\n"
"  --resume                skip shards finished by an earlier run with the same\n"
"                          configuration (state in --state-dir)\n"
"  --state-dir DIR         default: <out>.state\n"
"  --slice I/N             score files[I::N] of the sorted list (default from\n"
"                          SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN and\n"
"                          SLURM_ARRAY_TASK_COUNT when set)\n"
"  --help\n"
"\n"
"Exit: 0 ok (rejected lines are not a failure), 1 failure, 2 usage, 3 counts do\n"
"not add up, 130 interrupted (rerun with --resume to continue).\n", f);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_slice(const char *s, int *i, int *n)
{
    long a, b;
    const char *slash = strchr(s, '/');
    if (!slash) return -1;
    char left[32];
    size_t l = (size_t)(slash - s);
    if (l == 0 || l >= sizeof left) return -1;
    memcpy(left, s, l);
    left[l] = '\0';
    if (parse_int(left, 0, INT_MAX, &a) || parse_int(slash + 1, 1, INT_MAX, &b) || a >= b)
        return -1;
    *i = (int)a;
    *n = (int)b;
    return 0;
}

/* ---- the run --------------------------------------------------------------- */

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

typedef struct {
    options o;
    ifs_wts_model *model;
    const ifs_bert_weights *w;
    ifs_tok *tok;
    int32_t answer;
    const char *labels[IFS_MAX_LABELS];
    ifs_record_schema schema;
    const char *keys[IFS_RECORD_MAX_GROUP_KEYS];
    char *keys_json[IFS_RECORD_MAX_GROUP_KEYS];   /* ,"key": */
    char *labels_json[IFS_MAX_LABELS];            /* ,"label":"name" */
    ifs_reduce_config rcfg;
    ifs_resume *state;
    shard *shards;
    size_t n_shards;
    uint64_t bytes_total;

    ifs_sched *sched;
    _Atomic int stop_signal;
    _Atomic uint64_t shards_done, bytes_done;
    int count_mismatch;
    char sink_err[1024];
    char *line_buf;
    size_t line_cap;

    double t_hash, t_read, t_parse, t_finish;
    uint64_t bytes_in, bytes_out, lines_read;
} run;

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

static int buf_reserve(run *R, size_t need)
{
    if (need <= R->line_cap) return 0;
    size_t cap = R->line_cap ? R->line_cap : 4096;
    while (cap < need) cap *= 2;
    char *nb = realloc(R->line_buf, cap);
    if (!nb) return -1;
    R->line_buf = nb;
    R->line_cap = cap;
    return 0;
}

/* Appends s as a JSON string (with quotes) at *n. */
static int put_str(run *R, size_t *n, const char *s, size_t len)
{
    size_t need = ifs_json_escape(NULL, 0, s, len);
    if (buf_reserve(R, *n + need + 3)) return -1;
    R->line_buf[(*n)++] = '"';
    ifs_json_escape(R->line_buf + *n, need + 1, s, len);
    *n += need;
    R->line_buf[(*n)++] = '"';
    return 0;
}

static int put_mem(run *R, size_t *n, const char *s, size_t len)
{
    if (buf_reserve(R, *n + len + 1)) return -1;
    memcpy(R->line_buf + *n, s, len);
    *n += len;
    return 0;
}

static int put_lit(run *R, size_t *n, const char *s) { return put_mem(R, n, s, strlen(s)); }

static int put_u64(run *R, size_t *n, uint64_t v)
{
    char tmp[24];
    size_t k = sizeof tmp;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return put_mem(R, n, tmp + k, sizeof tmp - k);
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
    size_t n = 0;
    int32_t L = r->num_labels, arg = 0;
    for (int32_t k = 1; k < L; k++)
        if (r->logits[k] > r->logits[arg]) arg = k;
    char pbuf[32];
    int pl = snprintf(pbuf, sizeof pbuf, "%.6f", prob);
    int bad = put_lit(R, &n, "{\"shard\":") || put_lit(R, &n, p->sh->path_json) ||
              put_lit(R, &n, ",\"line\":") || put_u64(R, &n, p->line);
    if (!bad && p->has_id) {
        bad = put_lit(R, &n, ",\"id\":");
        if (!bad) bad = p->id_is_number ? put_mem(R, &n, p->data, p->id_len)
                                        : put_str(R, &n, p->data, p->id_len);
    }
    for (uint8_t g = 0; g < p->n_group && !bad; g++)
        bad = put_lit(R, &n, R->keys_json[g]) || put_str(R, &n, groups[g], p->glen[g]);
    const char *tn = itype_name(p->type);
    if (!bad) bad = put_lit(R, &n, ",\"instruction_type\":") ||
                    put_lit(R, &n, tn ? (*tn == 'p' ? "\"partial\"" : "\"full\"") : "null");
    if (!bad) bad = put_lit(R, &n, R->labels_json[arg]) || put_lit(R, &n, ",\"p_answer\":") ||
                    put_mem(R, &n, pbuf, pl > 0 ? (size_t)pl : 0) ||
                    put_lit(R, &n, answer_like ? ",\"answer_like\":true,\"tokens\":"
                                               : ",\"answer_like\":false,\"tokens\":") ||
                    put_u64(R, &n, (uint64_t)(r->n_tokens > 0 ? r->n_tokens : 0)) ||
                    put_lit(R, &n, "}");
    if (bad) {
        snprintf(R->sink_err, sizeof R->sink_err, "out of memory formatting a scores line");
        return -1;
    }
    if (ifs_shard_writer_line(p->sh->scores, R->line_buf, n)) {
        snprintf(R->sink_err, sizeof R->sink_err, "writing the scores of %s failed", p->sh->path);
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
        snprintf(R->sink_err, sizeof R->sink_err, "writing the rejects of %s failed", p->sh->path);
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

/* The shard-end marker: commit the parts, then the partial report, then
 * the .done marker, each atomically, in that order. */
static int finish_shard(run *R, shard *sh)
{
    char err[512], path[PATH_MAX];
    if (ifs_reduce_end_input(sh->red, sh->input, sh->lines, err, sizeof err)) {
        /* Recorded in the partial; the final check reports it (exit 3). */
        R->count_mismatch = 1;
        fprintf(stderr, "ifscore score: %s: %s\n", sh->path, err);
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
    return 0;
}

static ifs_reject_reason sched_reason(ifs_sched_reason r)
{
    switch (r) {
    case IFS_SCHED_R_UTF8: return IFS_REJECT_INVALID_UTF8;
    case IFS_SCHED_R_OOM: return IFS_REJECT_DEVICE_OOM;
    case IFS_SCHED_R_NONFINITE: return IFS_REJECT_NONFINITE_LOGITS;
    case IFS_SCHED_R_TOKENIZE:
    case IFS_SCHED_R_BACKEND:   /* ids the model refused: reported as a tokenizer problem */
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

/* ---- setup ----------------------------------------------------------------- */

static int resolve_answer(run *R, char *err, size_t errlen)
{
    const ifs_bert_config *c = &R->w->cfg;
    const char *a = R->o.answer_label;
    if (c->num_labels < 2) {
        snprintf(err, errlen, "the classifier has %d label(s); at least 2 are needed", c->num_labels);
        return -1;
    }
    if (a) {
        long v;
        if (!parse_int(a, 0, c->num_labels - 1, &v)) {
            R->answer = (int32_t)v;
            return 0;
        }
        for (int pass = 0; pass < 2; pass++)
            for (int32_t i = 0; i < c->num_labels; i++)
                if (pass == 0 ? !strcmp(c->labels[i], a) : !strcasecmp(c->labels[i], a)) {
                    R->answer = i;
                    return 0;
                }
        snprintf(err, errlen, "--answer-label %s: not an index 0..%d nor a label of id2label",
                 a, c->num_labels - 1);
        return -1;
    }
    int found = -1, n = 0;
    for (int32_t i = 0; i < c->num_labels; i++) {
        char low[IFS_LABEL_LEN];
        size_t k;
        for (k = 0; c->labels[i][k] && k + 1 < sizeof low; k++)
            low[k] = (char)tolower((unsigned char)c->labels[i][k]);
        low[k] = '\0';
        if (strstr(low, "answer") && !strstr(low, "not") && !strstr(low, "non")) {
            found = i;
            n++;
        }
    }
    R->answer = n == 1 ? found : 1;
    return 0;
}

/* Everything that changes a result, as text: its sha256 keys the state. */
static char *config_text(run *R, const char *vocab_sha, const char *backend, ifs_dtype dtype)
{
    const ifs_tok_config *tc = ifs_tok_get_config(R->tok);
    size_t cap = 8192;
    char *s = malloc(cap);
    if (!s) return NULL;
    int n = snprintf(s, cap,
                     "format=ifscore-score-1;weights=%s;vocab=%s;labels=%d;answer=%d;"
                     "threshold=%.6f;lower=%d;strip=%d;cjk=%d;max_len=%d;text=%s;id=%s;"
                     "type=%s;max_line=%zu;backend=%s;dtype=%s;group=",
                     ifs_wts_fingerprint(R->model), vocab_sha, R->w->cfg.num_labels, R->answer,
                     R->o.threshold, tc->do_lower_case, tc->strip_accents,
                     tc->tokenize_chinese_chars, R->o.max_len, R->schema.text_field,
                     R->schema.id_field, R->schema.type_field, R->o.max_line_bytes, backend,
                     dtype == IFS_DT_F16 ? "f16" : dtype == IFS_DT_BF16 ? "bf16" : "f32");
    for (size_t g = 0; g < R->schema.n_group_fields && n > 0 && (size_t)n < cap; g++)
        n += snprintf(s + n, cap - (size_t)n, "%s%s", g ? "," : "", R->schema.group_fields[g]);
    for (int32_t i = 0; i < R->w->cfg.num_labels && n > 0 && (size_t)n < cap; i++)
        n += snprintf(s + n, cap - (size_t)n, ";label%d=%s", i, R->w->cfg.labels[i]);
    return s;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- signals: a handler and a self-pipe ------------------------------------
 * Libraries start threads of their own (OpenBLAS, the CPU backend's pool)
 * that do not block signals, so a SIGINT may land on any thread: a handler
 * (async-signal-safe: a flag and one write) wakes a watcher thread through a
 * pipe, and the watcher does the rest (words on stderr, cancel). A signal the
 * parent left ignored (nohup, a background job of a script) stays ignored. */

static volatile sig_atomic_t g_signal;
static int g_sigpipe[2] = { -1, -1 };

static void on_signal(int sig)
{
    if (g_signal) _exit(IFS_EXIT_INTERRUPTED); /* second signal: out now; the state is resumable */
    g_signal = sig;
    char c = 1;
    ssize_t n = write(g_sigpipe[1], &c, 1);
    (void)n;
}

typedef struct {
    run *R;
    _Atomic int quit;
    struct sigaction old_int, old_term;
    int installed_int, installed_term;
} sigctx;

static void *signal_main(void *arg)
{
    sigctx *c = arg;
    while (!atomic_load(&c->quit)) {
        struct pollfd pf = { .fd = g_sigpipe[0], .events = POLLIN };
        if (poll(&pf, 1, 200) <= 0) continue;
        char b;
        if (read(g_sigpipe[0], &b, 1) != 1) continue;
        int sig = g_signal;
        atomic_store(&c->R->stop_signal, sig);
        fprintf(stderr, "\nifscore score: %s: stopping; rerun with --resume to continue\n",
                sig == SIGINT ? "interrupted" : "terminated");
        ifs_sched_cancel(c->R->sched);
    }
    return NULL;
}

/* Installs the handlers (unless the signal is ignored). Returns 0 or -1. */
static int signals_install(sigctx *c)
{
    if (pipe(g_sigpipe) != 0) return -1;
    g_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    struct sigaction cur;
    sigaction(SIGINT, NULL, &cur);
    if (cur.sa_handler != SIG_IGN) c->installed_int = sigaction(SIGINT, &sa, &c->old_int) == 0;
    sigaction(SIGTERM, NULL, &cur);
    if (cur.sa_handler != SIG_IGN) c->installed_term = sigaction(SIGTERM, &sa, &c->old_term) == 0;
    return 0;
}

static void signals_restore(sigctx *c)
{
    if (c->installed_int) sigaction(SIGINT, &c->old_int, NULL);
    if (c->installed_term) sigaction(SIGTERM, &c->old_term, NULL);
    c->installed_int = c->installed_term = 0;
    for (int i = 0; i < 2; i++) {
        if (g_sigpipe[i] >= 0) close(g_sigpipe[i]);
        g_sigpipe[i] = -1;
    }
}

static void fill_progress(void *ctx, ifs_progress_snap *s)
{
    run *R = ctx;
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
        if (atomic_load(&R->stop_signal)) {
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
                s = p ? ifs_sched_submit(R->sched, rec->text, rec->text_len, p) : IFS_SCHED_ENOMEM;
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
        int bad = !buf;
        for (size_t i = 0; i < R->n_shards && !bad; i++) {
            ifs_resume_part_path(R->state, R->shards[i].path, suffix, path, sizeof path);
            FILE *f = fopen(path, "rb");
            if (!f) {
                snprintf(err, errlen, "%.700s: %s", path, strerror(errno));
                bad = 1;
                break;
            }
            size_t n;
            while ((n = fread(buf, 1, 1 << 20, f)) > 0)
                if (ifs_atomic_write(a, buf, n)) bad = 1;
            if (ferror(f)) bad = 1;
            fclose(f);
            if (bad && !err[0]) snprintf(err, errlen, "copying %.500s into %.400s failed", path, out);
        }
        free(buf);
        if (!bad && ifs_atomic_commit(a, err, errlen)) bad = 1;
        ifs_atomic_free(a);
        return bad ? -1 : 0;
    }
    ifs_shard_writer_opts wo;
    ifs_shard_writer_opts_init(&wo);
    wo.compress = 0;
    ifs_shard_writer *w;
    if (ifs_shard_writer_open(out, &wo, &w, err, errlen)) return -1;
    int bad = 0;
    for (size_t i = 0; i < R->n_shards && !bad; i++) {
        ifs_resume_part_path(R->state, R->shards[i].path, suffix, path, sizeof path);
        ifs_shard_opts so = { .max_line_bytes = (size_t)1 << 30, .window_log_max = 0 };
        ifs_shard_reader *rd;
        if (ifs_shard_open(path, &so, &rd, err, errlen)) {
            bad = 1;
            break;
        }
        ifs_shard_line ln;
        while (ifs_shard_next(rd, &ln) == IFS_SHARD_LINE) {
            if (ln.reason != IFS_REJECT_NONE) {
                snprintf(err, errlen, "%.600s line %llu: %s", path, (unsigned long long)ln.line_no,
                         ln.detail);
                bad = 1;
                break;
            }
            if (ifs_shard_writer_line(w, ln.data, ln.len)) bad = 1;
        }
        ifs_shard_free(rd);
    }
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

static void print_stats(run *R, const ifs_sched_stats *st, double wall, int n_engines)
{
    double mb_in = (double)R->bytes_in / 1e6, mb_out = (double)R->bytes_out / 1e6;
    double rec = (double)(st->scored + st->rejected);
    fprintf(stderr, "ifscore score --stats (thread-seconds per stage; rates per thread-second)\n");
    fprintf(stderr, "  %-11s %9s  %s\n", "stage", "seconds", "throughput");
    fprintf(stderr, "  %-11s %9.3f  %.1f MB/s of input\n", "hash", R->t_hash,
            R->t_hash > 0 ? mb_in / R->t_hash : 0);
    fprintf(stderr, "  %-11s %9.3f  %.1f MB/s out, %.0f lines/s (%llu lines, %.1f MB -> %.1f MB)\n",
            "decompress", R->t_read, R->t_read > 0 ? mb_out / R->t_read : 0,
            R->t_read > 0 ? (double)R->lines_read / R->t_read : 0,
            (unsigned long long)R->lines_read, mb_in, mb_out);
    fprintf(stderr, "  %-11s %9.3f  %.0f records/s\n", "parse", R->t_parse,
            R->t_parse > 0 ? (double)R->lines_read / R->t_parse : 0);
    fprintf(stderr, "  %-11s %9.3f  %.0f records/s, %.1f MB/s of text (%d threads)\n", "tokenize",
            st->tokenize_s, st->tokenize_s > 0 ? (double)st->items / st->tokenize_s : 0,
            st->tokenize_s > 0 ? (double)st->text_bytes / 1e6 / st->tokenize_s : 0, R->o.threads);
    fprintf(stderr, "  %-11s %9.3f  %.0f tokens/s, %.0f records/s (%llu batches, %llu OOM splits, %d engines)\n",
            "forward", st->forward_s, st->forward_s > 0 ? (double)st->tokens / st->forward_s : 0,
            st->forward_s > 0 ? (double)st->scored / st->forward_s : 0,
            (unsigned long long)st->batches, (unsigned long long)st->oom_splits, n_engines);
    fprintf(stderr, "  %-11s %9.3f  %.0f records/s (reduce + scores/rejects output)\n", "reduce",
            st->sink_s, st->sink_s > 0 ? rec / st->sink_s : 0);
    fprintf(stderr, "  %-11s %9.3f  merge partials, write report and outputs\n", "finish", R->t_finish);
    fprintf(stderr, "  %-11s %9.3f  %.0f records/s, %.0f tokens/s end to end\n", "wall", wall,
            wall > 0 ? rec / wall : 0, wall > 0 ? (double)st->tokens / wall : 0);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        fprintf(stderr, "  peak RSS %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
}

/* ---- main -------------------------------------------------------------------- */

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
        snprintf(err, errlen, "--dtype %s: expected auto, f16, bf16 or f32", opt);
        return -1;
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
                snprintf(err, errlen, "--devices %s: expected a comma-separated list of ordinals",
                         R->o.devices);
                return -1;
            }
            devs[nd++] = (int)v;
            s = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') {
                snprintf(err, errlen, "--devices %s: unexpected '%c'", R->o.devices, *end);
                return -1;
            }
        }
    } else if (strcmp(kind, "cpu")) {
        snprintf(err, errlen, "--backend %s: expected cpu, cuda or auto", kind);
        return -1;
    } else {
        devs[nd++] = 0;
    }
    int per = !strcmp(kind, "cuda") ? 2 : 1; /* two handles per GPU: copy/compute overlap */
    void **eng = calloc((size_t)(nd * per), sizeof *eng);
    if (!eng) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
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
                return -1;
            }
            eng[n++] = b;
        }
    *engines_out = eng;
    *n_out = n;
    return 0;
}

int ifs_cmd_score(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    o.backend = "auto";
    o.dtype = "auto";
    o.threads = 2;
    o.max_batch_tokens = 16384;
    o.max_batch_seqs = 512;
    o.chunk_records = 4096;
    o.max_chunks = 4;
    o.threshold = 0.5;
    o.out = "report.json";
    o.format = "text";
    o.progress = -1;
    o.max_line_bytes = IFS_SHARD_DEFAULT_MAX_LINE;
    o.slice_n = 0;
    enum { O_BACKEND = 256, O_DEVICES, O_THREADS, O_CPU_THREADS, O_MBT, O_MBS, O_MAXLEN,
           O_CHUNK, O_MAXCHUNKS, O_TEXT, O_TYPE, O_ID, O_GROUP, O_ANSWER, O_THRESH, O_SCORES,
           O_REJECTS, O_FORMAT, O_RESUME, O_STATE, O_PROGRESS, O_NOPROGRESS, O_STATS, O_MAXLINE,
           O_SLICE, O_NOTIMINGS, O_HELP, O_DTYPE };
    static const struct option lo[] = {
        { "model", required_argument, 0, 'm' }, { "out", required_argument, 0, 'o' },
        { "backend", required_argument, 0, O_BACKEND }, { "devices", required_argument, 0, O_DEVICES },
        { "threads", required_argument, 0, O_THREADS }, { "cpu-threads", required_argument, 0, O_CPU_THREADS },
        { "max-batch-tokens", required_argument, 0, O_MBT }, { "max-batch-seqs", required_argument, 0, O_MBS },
        { "max-len", required_argument, 0, O_MAXLEN }, { "chunk-records", required_argument, 0, O_CHUNK },
        { "max-chunks", required_argument, 0, O_MAXCHUNKS }, { "text-field", required_argument, 0, O_TEXT },
        { "type-field", required_argument, 0, O_TYPE }, { "id-field", required_argument, 0, O_ID },
        { "group-by", required_argument, 0, O_GROUP }, { "answer-label", required_argument, 0, O_ANSWER },
        { "threshold", required_argument, 0, O_THRESH }, { "scores", required_argument, 0, O_SCORES },
        { "rejects", required_argument, 0, O_REJECTS }, { "format", required_argument, 0, O_FORMAT },
        { "resume", no_argument, 0, O_RESUME }, { "state-dir", required_argument, 0, O_STATE },
        { "progress", no_argument, 0, O_PROGRESS }, { "no-progress", no_argument, 0, O_NOPROGRESS },
        { "stats", no_argument, 0, O_STATS }, { "max-line-bytes", required_argument, 0, O_MAXLINE },
        { "slice", required_argument, 0, O_SLICE }, { "no-timings", no_argument, 0, O_NOTIMINGS },
        { "help", no_argument, 0, O_HELP }, { "dtype", required_argument, 0, O_DTYPE },
        { 0, 0, 0, 0 } };
    int c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:o:", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'o': o.out = optarg; break;
        case O_BACKEND: o.backend = optarg; break;
        case O_DTYPE: o.dtype = optarg; break;
        case O_DEVICES: o.devices = optarg; break;
        case O_THREADS:
            if (parse_int(optarg, 1, 1024, &v)) return fail(IFS_EXIT_USAGE, "--threads %s: expected 1..1024", optarg);
            o.threads = (int)v; break;
        case O_CPU_THREADS:
            if (parse_int(optarg, 0, 1024, &v)) return fail(IFS_EXIT_USAGE, "--cpu-threads %s: expected 0..1024", optarg);
            o.cpu_threads = (int)v; break;
        case O_MBT:
            if (parse_int(optarg, 2, 1 << 26, &v)) return fail(IFS_EXIT_USAGE, "--max-batch-tokens %s: expected 2..67108864", optarg);
            o.max_batch_tokens = (int32_t)v; break;
        case O_MBS:
            if (parse_int(optarg, 1, 1 << 20, &v)) return fail(IFS_EXIT_USAGE, "--max-batch-seqs %s: expected 1..1048576", optarg);
            o.max_batch_seqs = (int32_t)v; break;
        case O_MAXLEN:
            if (parse_int(optarg, 2, 1 << 20, &v)) return fail(IFS_EXIT_USAGE, "--max-len %s: expected >= 2", optarg);
            o.max_len = (int32_t)v; break;
        case O_CHUNK:
            if (parse_int(optarg, 1, 1 << 24, &v)) return fail(IFS_EXIT_USAGE, "--chunk-records %s: expected >= 1", optarg);
            o.chunk_records = (int32_t)v; break;
        case O_MAXCHUNKS:
            if (parse_int(optarg, 2, 1024, &v)) return fail(IFS_EXIT_USAGE, "--max-chunks %s: expected 2..1024", optarg);
            o.max_chunks = (int)v; break;
        case O_TEXT: o.text_field = optarg; break;
        case O_TYPE: o.type_field = optarg; break;
        case O_ID: o.id_field = optarg; break;
        case O_GROUP: o.group_by = optarg; break;
        case O_ANSWER: o.answer_label = optarg; break;
        case O_THRESH: {
            char *end;
            o.threshold = strtod(optarg, &end);
            if (end == optarg || *end || !(o.threshold > 0 && o.threshold < 1))
                return fail(IFS_EXIT_USAGE, "--threshold %s: expected a number in (0,1)", optarg);
            break;
        }
        case O_SCORES: o.scores = optarg; break;
        case O_REJECTS: o.rejects = optarg; break;
        case O_FORMAT: o.format = optarg; break;
        case O_RESUME: o.resume = 1; break;
        case O_STATE: o.state_dir = optarg; break;
        case O_PROGRESS: o.progress = 1; break;
        case O_NOPROGRESS: o.progress = 0; break;
        case O_STATS: o.stats = 1; break;
        case O_MAXLINE:
            if (parse_int(optarg, 1, LONG_MAX, &v)) return fail(IFS_EXIT_USAGE, "--max-line-bytes %s: expected >= 1", optarg);
            o.max_line_bytes = (size_t)v; break;
        case O_SLICE:
            if (parse_slice(optarg, &o.slice_i, &o.slice_n))
                return fail(IFS_EXIT_USAGE, "--slice %s: expected I/N with 0 <= I < N", optarg);
            break;
        case O_NOTIMINGS: o.no_timings = 1; break;
        case O_HELP: usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (!o.model) return fail(IFS_EXIT_USAGE, "--model DIR is required (see --help)");
    if (optind >= argc) return fail(IFS_EXIT_USAGE, "no shards given (see --help)");
    ifs_report_format fmt = IFS_FMT_TEXT;
    int no_table = !strcmp(o.format, "none");
    if (!no_table && ifs_report_format_parse(o.format, &fmt))
        return fail(IFS_EXIT_USAGE, "--format %s: expected text, csv, markdown, json or none", o.format);
    if (!o.slice_n && getenv("SLURM_ARRAY_TASK_ID") && getenv("SLURM_ARRAY_TASK_COUNT")) {
        long id, cnt, mn = 0;
        if (parse_int(getenv("SLURM_ARRAY_TASK_ID"), 0, INT_MAX, &id) ||
            parse_int(getenv("SLURM_ARRAY_TASK_COUNT"), 1, INT_MAX, &cnt) ||
            (getenv("SLURM_ARRAY_TASK_MIN") &&
             parse_int(getenv("SLURM_ARRAY_TASK_MIN"), 0, INT_MAX, &mn)) || id - mn < 0 ||
            id - mn >= cnt)
            return fail(IFS_EXIT_USAGE, "SLURM_ARRAY_TASK_ID/COUNT/MIN do not make a slice");
        o.slice_i = (int)(id - mn);
        o.slice_n = (int)cnt;
    }

    run *R = calloc(1, sizeof *R);
    if (!R) return fail(IFS_EXIT_FAIL, "out of memory");
    R->o = o;
    char err[1024] = "";
    int code = IFS_EXIT_FAIL;
    ifs_input_list in;
    memset(&in, 0, sizeof in);
    void **engines = NULL;
    int n_engines = 0;
    const char *kind = "cpu";         /* resolved --backend */
    ifs_dtype dtype = IFS_DT_F32;     /* resolved --dtype */
    ifs_record rec;
    ifs_record_init(&rec);
    char *cfgtext = NULL;
    char state_dir[PATH_MAX];
    sigctx sc;
    memset(&sc, 0, sizeof sc);
    pthread_t sig_th;
    int sig_started = 0;
    ifs_progress *prog = NULL;
    ifs_reducer *all = NULL;
    double t_start = mono();

    /* Model and tokenizer. */
    R->model = ifs_wts_load(o.model, 0, err, sizeof err);
    if (!R->model) { fail(IFS_EXIT_FAIL, "%s", err); goto out; }
    R->w = ifs_wts_weights(R->model);
    R->tok = ifs_tok_load(o.model, NULL, err, sizeof err);
    if (!R->tok) { fail(IFS_EXIT_FAIL, "%s", err); goto out; }
    if (!R->o.max_len) {
        int32_t m = ifs_tok_get_config(R->tok)->model_max_length;
        R->o.max_len = m > 0 && m < R->w->cfg.max_position ? m : R->w->cfg.max_position;
    }
    if (R->o.max_len > R->w->cfg.max_position) {
        fail(IFS_EXIT_USAGE, "--max-len %d exceeds the model's max_position_embeddings %d",
             R->o.max_len, R->w->cfg.max_position);
        code = IFS_EXIT_USAGE;
        goto out;
    }
    if (R->o.max_batch_tokens < R->o.max_len) R->o.max_batch_tokens = R->o.max_len;
    if (resolve_answer(R, err, sizeof err)) { code = fail(IFS_EXIT_USAGE, "%s", err); goto out; }
    for (int32_t i = 0; i < R->w->cfg.num_labels; i++) R->labels[i] = R->w->cfg.labels[i];

    /* Record schema. */
    ifs_record_schema_init(&R->schema);
    if ((o.text_field && ifs_record_schema_set_field(&R->schema, 't', o.text_field, err, sizeof err)) ||
        (o.id_field && ifs_record_schema_set_field(&R->schema, 'i', o.id_field, err, sizeof err)) ||
        (o.type_field && ifs_record_schema_set_field(&R->schema, 'y', o.type_field, err, sizeof err)) ||
        (o.group_by && ifs_record_schema_set_group_by(&R->schema, o.group_by, err, sizeof err))) {
        code = fail(IFS_EXIT_USAGE, "%s", err);
        goto out;
    }
    for (size_t g = 0; g < R->schema.n_group_fields; g++) {
        R->keys[g] = R->schema.group_fields[g];
        if (!(R->keys_json[g] = json_quoted(",", R->keys[g], ":"))) {
            fail(IFS_EXIT_FAIL, "out of memory");
            goto out;
        }
    }
    for (int32_t i = 0; i < R->w->cfg.num_labels; i++)
        if (!(R->labels_json[i] = json_quoted(",\"label\":", R->labels[i], ""))) {
            fail(IFS_EXIT_FAIL, "out of memory");
            goto out;
        }

    /* Reducer configuration: identity of the classifier, tokenizer, grouping. */
    {
        const ifs_tok_config *tc = ifs_tok_get_config(R->tok);
        R->rcfg = ifs_reduce_default_config();
        R->rcfg.weights_sha256 = ifs_wts_fingerprint(R->model);
        R->rcfg.n_labels = R->w->cfg.num_labels;
        R->rcfg.labels = R->labels;
        R->rcfg.answer_label = R->answer;
        R->rcfg.threshold = o.threshold;
        R->rcfg.do_lower_case = tc->do_lower_case;
        R->rcfg.strip_accents = tc->strip_accents;
        R->rcfg.tokenize_chinese_chars = tc->tokenize_chinese_chars;
        R->rcfg.max_length = R->o.max_len;
        R->rcfg.n_keys = (int32_t)R->schema.n_group_fields;
        R->rcfg.keys = R->keys;
    }

    /* Inputs: sorted, then this slice. */
    if (ifs_io_list_inputs((const char *const *)argv + optind, (size_t)(argc - optind), &in,
                           err, sizeof err)) {
        code = fail(IFS_EXIT_USAGE, "%s", err);
        goto out;
    }
    int unknown_size = 0;
    R->shards = calloc(in.n ? in.n : 1, sizeof *R->shards);
    if (!R->shards) { fail(IFS_EXIT_FAIL, "out of memory"); goto out; }
    for (size_t i = 0; i < in.n; i++) {
        if (o.slice_n && (int)(i % (size_t)o.slice_n) != o.slice_i) continue;
        shard *sh = &R->shards[R->n_shards++];
        sh->path = in.files[i].path;
        sh->size = in.files[i].size;
        sh->is_regular = in.files[i].is_regular;
        if (!(sh->path_json = json_quoted("", sh->path, ""))) {
            fail(IFS_EXIT_FAIL, "out of memory");
            goto out;
        }
        if (in.files[i].is_regular) R->bytes_total += in.files[i].size;
        else unknown_size = 1;
    }
    if (unknown_size) R->bytes_total = 0; /* no ETA */

    /* State directory and what is already done. */
    {
        char vocab[PATH_MAX], vsha[65] = "none";
        snprintf(vocab, sizeof vocab, "%s/vocab.txt", o.model);
        if (ifs_sha256_file_hex(vocab, vsha)) strcpy(vsha, "none");
        /* The backend and dtype are part of the configuration: f16 and f32
         * probabilities differ in the last digits, so a resumed run must not
         * mix them in one report. */
        kind = resolve_backend(o.backend);
        if (resolve_dtype(o.dtype, kind, &dtype, err, sizeof err)) {
            fail(IFS_EXIT_USAGE, "%s", err);
            goto out;
        }
        cfgtext = config_text(R, vsha, kind, dtype);
        if (!cfgtext) { fail(IFS_EXIT_FAIL, "out of memory"); goto out; }
        if (o.state_dir) snprintf(state_dir, sizeof state_dir, "%s", o.state_dir);
        else if (!strcmp(o.out, "-")) snprintf(state_dir, sizeof state_dir, "ifscore.state");
        else snprintf(state_dir, sizeof state_dir, "%s.state", o.out);
        if (ifs_resume_open(state_dir, cfgtext, o.resume, &R->state, err, sizeof err)) {
            fail(IFS_EXIT_FAIL, "%s", err);
            goto out;
        }
        for (size_t i = 0; i < R->n_shards; i++) {
            shard *sh = &R->shards[i];
            if (!sh->is_regular) continue;
            if (ifs_resume_fingerprint(sh->path, &sh->fp, err, sizeof err)) {
                fail(IFS_EXIT_FAIL, "%s", err);
                goto out;
            }
            if (o.resume && ifs_resume_done(R->state, sh->path, &sh->fp)) {
                sh->skip = 1;
                atomic_fetch_add(&R->shards_done, 1);
                atomic_fetch_add(&R->bytes_done, sh->size); /* for the ETA */
            }
        }
    }

    /* Scheduler and engines. */
    ifs_sched_opts so = ifs_sched_default_opts();
    so.n_threads = o.threads;
    so.max_len = R->o.max_len;
    so.max_batch_tokens = R->o.max_batch_tokens;
    so.max_batch_seqs = o.max_batch_seqs;
    so.chunk_records = o.chunk_records;
    so.max_chunks = o.max_chunks;
    so.release = release_payload;
    if (make_engines(R, &so, kind, dtype, &engines, &n_engines, err, sizeof err)) {
        fail(IFS_EXIT_FAIL, "%s", err);
        goto out;
    }
    if (ifs_sched_create(&so, R->tok, &R->w->cfg, engines, n_engines, sink, R, &R->sched,
                         err, sizeof err)) {
        fail(IFS_EXIT_FAIL, "%s", err);
        goto out;
    }
    sc.R = R;
    if (signals_install(&sc) == 0) {
        sig_started = pthread_create(&sig_th, NULL, signal_main, &sc) == 0;
        if (!sig_started) signals_restore(&sc);
    }
    prog = ifs_progress_start(stderr, o.progress < 0 ? IFS_PROGRESS_AUTO
                                      : o.progress ? IFS_PROGRESS_ON : IFS_PROGRESS_OFF,
                              1.0, fill_progress, R);

    /* Read everything; the sink commits shard by shard. */
    int stopped = 0;
    for (size_t i = 0; i < R->n_shards && !stopped; i++) {
        shard *sh = &R->shards[i];
        if (sh->skip) continue;
        int rc = read_shard(R, sh, &rec, err, sizeof err);
        if (rc < 0) {
            ifs_sched_cancel(R->sched);
            ifs_progress_stop(prog);
            prog = NULL;
            fail(IFS_EXIT_FAIL, "%s", err);
            goto out;
        }
        if (rc) stopped = 1;
    }
    int src = ifs_sched_finish(R->sched);
    ifs_sched_stats st;
    ifs_sched_get_stats(R->sched, &st);
    ifs_progress_stop(prog);
    prog = NULL;
    if (atomic_load(&R->stop_signal)) {
        fprintf(stderr, "ifscore score: stopped after %llu of %zu shards; state in %s\n",
                (unsigned long long)atomic_load(&R->shards_done), R->n_shards, state_dir);
        code = IFS_EXIT_INTERRUPTED;
        goto out;
    }
    if (src) {
        if (src == IFS_SCHED_ESINK && R->sink_err[0])
            fail(IFS_EXIT_FAIL, "%s", R->sink_err);
        else
            fail(IFS_EXIT_FAIL, "%s: %s", ifs_sched_strerror(src), ifs_sched_error(R->sched));
        goto out;
    }

    /* Merge the partials of every shard of the slice, in sorted order. */
    double t_fin = mono();
    all = merge_partials(R, err, sizeof err);
    if (!all) { fail(IFS_EXIT_FAIL, "%s", err); goto out; }
    int data_bad = 0;
    if (ifs_reduce_check(all, 0, err, sizeof err)) {
        fprintf(stderr, "ifscore score: data check failed: %s\n", err);
        data_bad = 1;
    }
    if (o.scores && assemble(R, "scores.jsonl.zst", o.scores, err, sizeof err)) {
        fail(IFS_EXIT_FAIL, "--scores %s: %s", o.scores, err);
        goto out;
    }
    if (o.rejects && assemble(R, "rejects.jsonl.zst", o.rejects, err, sizeof err)) {
        fail(IFS_EXIT_FAIL, "--rejects %s: %s", o.rejects, err);
        goto out;
    }
    R->t_finish = mono() - t_fin;
    double wall = mono() - t_start;
    if (!o.no_timings) {
        char num[32];
        ifs_reduce_set_fact(all, "backend", kind);
        ifs_reduce_set_fact(all, "ifscore", ifs_version());
        snprintf(num, sizeof num, "%d", o.threads);
        ifs_reduce_set_fact(all, "tokenizer_threads", num);
        snprintf(num, sizeof num, "%d", n_engines);
        ifs_reduce_set_fact(all, "engines", num);
        snprintf(num, sizeof num, "%d", R->o.max_batch_tokens);
        ifs_reduce_set_fact(all, "max_batch_tokens", num);
        snprintf(num, sizeof num, "%llu", (unsigned long long)ifs_resume_skipped(R->state));
        ifs_reduce_set_fact(all, "shards_resumed", num);
        ifs_reduce_set_timing(all, "wall_s", wall);
        ifs_reduce_set_timing(all, "hash_s", R->t_hash);
        ifs_reduce_set_timing(all, "decompress_s", R->t_read);
        ifs_reduce_set_timing(all, "parse_s", R->t_parse);
        ifs_reduce_set_timing(all, "tokenize_s", st.tokenize_s);
        ifs_reduce_set_timing(all, "forward_s", st.forward_s);
        ifs_reduce_set_timing(all, "reduce_s", st.sink_s);
        ifs_reduce_set_timing(all, "records_this_run", (double)(st.scored + st.rejected));
        ifs_reduce_set_timing(all, "tokens_this_run", (double)st.tokens);
    }
    if (ifs_report_write(all, o.out, o.no_timings ? IFS_REPORT_NO_TIMINGS : 0, err, sizeof err)) {
        fail(IFS_EXIT_FAIL, "--out %s: %s", o.out, err);
        goto out;
    }
    if (!no_table) {
        char *txt = NULL;
        size_t len = 0;
        if (ifs_report_table(all, fmt, &txt, &len, err, sizeof err) == 0) {
            fwrite(txt, 1, len, stdout);
            fflush(stdout);
        }
        free(txt);
    }
    if (o.stats) print_stats(R, &st, wall, n_engines);
    code = (data_bad || R->count_mismatch) ? IFS_EXIT_DATA : IFS_EXIT_OK;

out:
    ifs_progress_stop(prog);
    if (sig_started) {
        atomic_store(&sc.quit, 1);
        pthread_join(sig_th, NULL);
        signals_restore(&sc);
    }
    ifs_sched_free(R->sched);
    for (size_t i = 0; i < R->n_shards; i++) {
        shard_close(&R->shards[i]);
        free(R->shards[i].path_json);
    }
    for (size_t g = 0; g < IFS_RECORD_MAX_GROUP_KEYS; g++) free(R->keys_json[g]);
    for (int32_t i = 0; i < IFS_MAX_LABELS; i++) free(R->labels_json[i]);
    for (int i = 0; i < n_engines; i++) ifs_backend_free(engines[i]);
    free(engines);
    ifs_reduce_free(all);
    ifs_record_clear(&rec);
    ifs_resume_free(R->state);
    free(cfgtext);
    free(R->shards);
    free(R->line_buf);
    ifs_input_list_free(&in);
    ifs_tok_free(R->tok);
    ifs_wts_free(R->model);
    free(R);
    return code;
}
