/*
 * cmd_score.c - `ifscore score`: argv to ifs_score_opts, signals to
 * ifs_score_cancel, the progress line, the table and --stats on the
 * terminal, statuses to exit codes. The run itself is host/score.c
 * (ifs_score.h); what it guarantees is in docs/score.md.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ifs_cli.h"
#include "ifs_progress.h"
#include "ifs_report.h"
#include "ifs_score.h"
#include "ifs_shard.h"
#include "ifs_slurm.h"

/* After a stop request, how long the run may take to wind down before the
 * process leaves anyway: 20 s by default, under Slurm's default KillWait
 * (30 s) so a preempted task exits by itself with 130 before SIGKILL;
 * IFS_STOP_GRACE_S overrides it (1..3600). */
#define STOP_GRACE_DEFAULT_MS 20000
static int stop_grace_ms(void)
{
    const char *v = getenv("IFS_STOP_GRACE_S");
    char *end;
    long s = v ? strtol(v, &end, 10) : 0;
    return v && end != v && !*end && s >= 1 && s <= 3600 ? (int)s * 1000 : STOP_GRACE_DEFAULT_MS;
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
        "  --chunk-records N       sorting window: records sorted by length together (default "
        "4096)\n"
        "  --max-chunks N          windows in flight, the memory bound (default 4)\n"
        "  --readers N             reader threads: shards read, hashed and decompressed ahead\n"
        "                          (default 1 + threads/4, at most 8)\n"
        "records:\n"
        "  --text-field NAME       default response\n"
        "  --type-field NAME       default instruction_type (\"\" = none)\n"
        "  --id-field NAME         default id (\"\" = none)\n"
        "  --group-by LIST         comma-separated group keys (default model)\n"
        "  --instruction-field NAME  pair mode: NAME holds the instruction; each record\n"
        "                          feeds [CLS] instruction [SEP] response [SEP] (token types\n"
        "                          0/1, the instruction cut first to the checkpoint's\n"
        "                          ifs_instruction_max_tokens). Required by a pair checkpoint\n"
        "                          (config.json \"ifs_input\": \"pair\"), refused by any other;\n"
        "                          a record without it is rejected as missing_instruction\n"
        "  --max-line-bytes N      longer lines are rejected as line_too_long (default 1 MiB)\n"
        "decision:\n"
        "  --answer-label NAME|INDEX  the answer-like label (also index:N, name:TEXT;\n"
        "                          default: the one id2label entry whose words name an\n"
        "                          answer, never 'no answer'/'unanswerable'; labels that\n"
        "                          say nothing of answers mean index 1; ambiguity refused)\n"
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
        "                          SLURM_ARRAY_TASK_ID/_MIN/_STEP/_COUNT under a Slurm\n"
        "                          job array: steps honoured, lists refused; docs/slurm.md)\n"
        "  --help\n"
        "\n"
        "Exit: 0 ok (rejected lines are not a failure), 1 failure, 2 usage, 3 counts do\n"
        "not add up, 130 interrupted (rerun with --resume to continue).\n",
        f);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_slice(const char *s, int *i, int *n)
{
    long a, b;
    const char *slash = strchr(s, '/');
    if (!slash)
        return -1;
    char left[32];
    size_t l = (size_t)(slash - s);
    if (l == 0 || l >= sizeof left)
        return -1;
    memcpy(left, s, l);
    left[l] = '\0';
    if (parse_int(left, 0, INT_MAX, &a) || parse_int(slash + 1, 1, INT_MAX, &b) || a >= b)
        return -1;
    *i = (int)a;
    *n = (int)b;
    return 0;
}

/* ---- signals: a handler and a self-pipe ------------------------------------
 * Libraries start threads of their own (OpenBLAS, the CPU backend's pool)
 * that do not block signals, so a SIGINT may land on any thread: a handler
 * (async-signal-safe: a flag and one write) wakes a watcher thread through a
 * pipe, and the watcher does the rest (words on stderr, cancel). A signal the
 * parent left ignored (nohup, a background job of a script) stays ignored. */

static volatile sig_atomic_t g_signal;
static int g_sigpipe[2] = {-1, -1};

static void on_signal(int sig)
{
    if (g_signal)
        _exit(IFS_EXIT_INTERRUPTED); /* second signal: out now; the state is resumable */
    g_signal = sig;
    char c = 1;
    ssize_t n = write(g_sigpipe[1], &c, 1);
    (void)n;
}

typedef struct {
    ifs_score *S;
    _Atomic int quit;
    _Atomic int signal;
    struct sigaction old_int, old_term;
    int installed_int, installed_term;
} sigctx;

static void *signal_main(void *arg)
{
    sigctx *c = arg;
    while (!atomic_load(&c->quit)) {
        struct pollfd pf = {.fd = g_sigpipe[0], .events = POLLIN};
        if (poll(&pf, 1, 200) <= 0)
            continue;
        char b;
        if (read(g_sigpipe[0], &b, 1) != 1)
            continue;
        int sig = g_signal;
        atomic_store(&c->signal, sig);
        fprintf(stderr, "\nifscore score: %s: stopping; rerun with --resume to continue\n",
                sig == SIGINT ? "interrupted" : "terminated");
        ifs_score_cancel(c->S);
        /* A stop request ends the process within a bounded time, whatever
         * the run is doing: every committed shard is on disk, so leaving now
         * keeps the state resumable. */
        int grace = stop_grace_ms();
        for (int waited = 0; !atomic_load(&c->quit); waited += 200) {
            if (waited >= grace) {
                fprintf(stderr,
                        "ifscore score: did not stop within %d s; exiting now "
                        "(the state is resumable)\n",
                        grace / 1000);
                _exit(IFS_EXIT_INTERRUPTED);
            }
            poll(NULL, 0, 200);
        }
    }
    return NULL;
}

/* Installs the handlers (unless the signal is ignored). Returns 0 or -1. */
static int signals_install(sigctx *c)
{
    if (pipe(g_sigpipe) != 0)
        return -1;
    g_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    struct sigaction cur;
    sigaction(SIGINT, NULL, &cur);
    if (cur.sa_handler != SIG_IGN)
        c->installed_int = sigaction(SIGINT, &sa, &c->old_int) == 0;
    sigaction(SIGTERM, NULL, &cur);
    if (cur.sa_handler != SIG_IGN)
        c->installed_term = sigaction(SIGTERM, &sa, &c->old_term) == 0;
    return 0;
}

static void signals_restore(sigctx *c)
{
    if (c->installed_int)
        sigaction(SIGINT, &c->old_int, NULL);
    if (c->installed_term)
        sigaction(SIGTERM, &c->old_term, NULL);
    c->installed_int = c->installed_term = 0;
    for (int i = 0; i < 2; i++) {
        if (g_sigpipe[i] >= 0)
            close(g_sigpipe[i]);
        g_sigpipe[i] = -1;
    }
}

static void fill_progress(void *ctx, ifs_progress_snap *p)
{
    ifs_score_snap s;
    ifs_score_snapshot(ctx, &s);
    p->records = s.records;
    p->rejected = s.rejected;
    p->tokens = s.tokens;
    p->shards_done = s.shards_done;
    p->shards_total = s.shards_total;
    p->bytes_done = s.bytes_done;
    p->bytes_total = s.bytes_total;
}

static void on_warning(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "ifscore score: %s\n", msg);
}

static void print_stats(const ifs_score_stats *st)
{
    double mb_in = (double)st->bytes_in / 1e6, mb_out = (double)st->bytes_out / 1e6;
    double rec = (double)(st->scored + st->rejected), wall = st->wall_s;
    fprintf(stderr, "ifscore score --stats (thread-seconds per stage; rates per thread-second)\n");
    fprintf(stderr, "  %-11s %9s  %s\n", "stage", "seconds", "throughput");
    fprintf(stderr, "  %-11s %9.3f  %.1f MB/s of input\n", "hash", st->hash_s,
            st->hash_s > 0 ? mb_in / st->hash_s : 0);
    fprintf(stderr, "  %-11s %9.3f  %.1f MB/s out, %.0f lines/s (%llu lines, %.1f MB -> %.1f MB)\n",
            "decompress", st->decompress_s, st->decompress_s > 0 ? mb_out / st->decompress_s : 0,
            st->decompress_s > 0 ? (double)st->lines_read / st->decompress_s : 0,
            (unsigned long long)st->lines_read, mb_in, mb_out);
    fprintf(stderr, "  %-11s %9.3f  %.0f records/s\n", "parse", st->parse_s,
            st->parse_s > 0 ? (double)st->lines_read / st->parse_s : 0);
    fprintf(stderr, "  %-11s %9.3f  %.0f records/s, %.1f MB/s of text (%d threads)\n", "tokenize",
            st->tokenize_s, st->tokenize_s > 0 ? (double)st->items / st->tokenize_s : 0,
            st->tokenize_s > 0 ? (double)st->text_bytes / 1e6 / st->tokenize_s : 0, st->threads);
    fprintf(stderr,
            "  %-11s %9.3f  %.0f tokens/s, %.0f records/s (%llu batches, %llu OOM splits, %d "
            "engines)\n",
            "forward", st->forward_s, st->forward_s > 0 ? (double)st->tokens / st->forward_s : 0,
            st->forward_s > 0 ? (double)st->scored / st->forward_s : 0,
            (unsigned long long)st->batches, (unsigned long long)st->oom_splits, st->engines);
    fprintf(stderr, "  %-11s %9.3f  %.0f records/s (reduce + scores/rejects output)\n", "reduce",
            st->reduce_s, st->reduce_s > 0 ? rec / st->reduce_s : 0);
    fprintf(stderr, "  %-11s %9.3f  merge partials, write report and outputs\n", "finish",
            st->finish_s);
    fprintf(stderr, "  %-11s %9.3f  %.0f records/s, %.0f tokens/s end to end\n", "wall", wall,
            wall > 0 ? rec / wall : 0, wall > 0 ? (double)st->tokens / wall : 0);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        fprintf(stderr, "  peak RSS %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
}

/* The report as JSON on stdout (--out -). */
static int print_report(const ifs_reducer *r, int no_timings)
{
    char *txt = NULL, err[512];
    size_t len = 0;
    if (ifs_report_json(r, no_timings ? IFS_REPORT_NO_TIMINGS : 0, &txt, &len, err, sizeof err))
        return ifs_cli_fail("score", IFS_EXIT_FAIL, "--out -: %s", err);
    size_t put = fwrite(txt, 1, len, stdout);
    free(txt);
    if (put != len || fflush(stdout) != 0)
        return ifs_cli_fail("score", IFS_EXIT_FAIL,
                            "--out -: writing to standard output failed: %s", strerror(errno));
    return IFS_EXIT_OK;
}

static int exit_code(int rc)
{
    switch (rc) {
    case IFS_SCORE_OK: return IFS_EXIT_OK;
    case IFS_SCORE_EUSAGE: return IFS_EXIT_USAGE;
    case IFS_SCORE_EDATA: return IFS_EXIT_DATA;
    case IFS_SCORE_ECANCELLED: return IFS_EXIT_INTERRUPTED;
    default: return IFS_EXIT_FAIL;
    }
}

int ifs_cmd_score(int argc, char **argv)
{
    ifs_score_opts o = ifs_score_default_opts();
    o.out = "report.json";
    const char *format = "text";
    int progress = -1, stats = 0, slice_given = 0;
    enum {
        O_BACKEND = 256,
        O_DEVICES,
        O_THREADS,
        O_CPU_THREADS,
        O_MBT,
        O_MBS,
        O_MAXLEN,
        O_CHUNK,
        O_MAXCHUNKS,
        O_TEXT,
        O_TYPE,
        O_ID,
        O_GROUP,
        O_ANSWER,
        O_THRESH,
        O_SCORES,
        O_REJECTS,
        O_FORMAT,
        O_RESUME,
        O_STATE,
        O_PROGRESS,
        O_NOPROGRESS,
        O_STATS,
        O_MAXLINE,
        O_SLICE,
        O_NOTIMINGS,
        O_HELP,
        O_DTYPE,
        O_INSTR,
        O_READERS
    };
    static const struct option lo[] = {{"model", required_argument, 0, 'm'},
                                       {"out", required_argument, 0, 'o'},
                                       {"backend", required_argument, 0, O_BACKEND},
                                       {"devices", required_argument, 0, O_DEVICES},
                                       {"threads", required_argument, 0, O_THREADS},
                                       {"cpu-threads", required_argument, 0, O_CPU_THREADS},
                                       {"max-batch-tokens", required_argument, 0, O_MBT},
                                       {"max-batch-seqs", required_argument, 0, O_MBS},
                                       {"max-len", required_argument, 0, O_MAXLEN},
                                       {"chunk-records", required_argument, 0, O_CHUNK},
                                       {"max-chunks", required_argument, 0, O_MAXCHUNKS},
                                       {"readers", required_argument, 0, O_READERS},
                                       {"text-field", required_argument, 0, O_TEXT},
                                       {"type-field", required_argument, 0, O_TYPE},
                                       {"id-field", required_argument, 0, O_ID},
                                       {"group-by", required_argument, 0, O_GROUP},
                                       {"answer-label", required_argument, 0, O_ANSWER},
                                       {"threshold", required_argument, 0, O_THRESH},
                                       {"scores", required_argument, 0, O_SCORES},
                                       {"rejects", required_argument, 0, O_REJECTS},
                                       {"format", required_argument, 0, O_FORMAT},
                                       {"resume", no_argument, 0, O_RESUME},
                                       {"state-dir", required_argument, 0, O_STATE},
                                       {"progress", no_argument, 0, O_PROGRESS},
                                       {"no-progress", no_argument, 0, O_NOPROGRESS},
                                       {"stats", no_argument, 0, O_STATS},
                                       {"max-line-bytes", required_argument, 0, O_MAXLINE},
                                       {"slice", required_argument, 0, O_SLICE},
                                       {"no-timings", no_argument, 0, O_NOTIMINGS},
                                       {"help", no_argument, 0, O_HELP},
                                       {"dtype", required_argument, 0, O_DTYPE},
                                       {"instruction-field", required_argument, 0, O_INSTR},
                                       {0, 0, 0, 0}};
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
            if (parse_int(optarg, 1, 1024, &v))
                return ifs_cli_fail("score", IFS_EXIT_USAGE, "--threads %s: expected 1..1024",
                                    optarg);
            o.threads = (int)v;
            break;
        case O_CPU_THREADS:
            if (parse_int(optarg, 0, 1024, &v))
                return ifs_cli_fail("score", IFS_EXIT_USAGE, "--cpu-threads %s: expected 0..1024",
                                    optarg);
            o.cpu_threads = (int)v;
            break;
        case O_MBT:
            if (parse_int(optarg, 2, 1 << 26, &v))
                return ifs_cli_fail("score", IFS_EXIT_USAGE,
                                    "--max-batch-tokens %s: expected 2..67108864", optarg);
            o.max_batch_tokens = (int32_t)v;
            break;
        case O_MBS:
            if (parse_int(optarg, 1, 1 << 20, &v))
                return ifs_cli_fail("score", IFS_EXIT_USAGE,
                                    "--max-batch-seqs %s: expected 1..1048576", optarg);
            o.max_batch_seqs = (int32_t)v;
            break;
        case O_MAXLEN:
            if (parse_int(optarg, 2, 1 << 20, &v))
                return ifs_cli_fail("score", IFS_EXIT_USAGE, "--max-len %s: expected >= 2", optarg);
            o.max_len = (int32_t)v;
            break;
        case O_CHUNK:
            if (parse_int(optarg, 1, 1 << 24, &v))
                return ifs_cli_fail("score", IFS_EXIT_USAGE, "--chunk-records %s: expected >= 1",
                                    optarg);
            o.chunk_records = (int32_t)v;
            break;
        case O_MAXCHUNKS:
            if (parse_int(optarg, 2, 1024, &v))
                return ifs_cli_fail("score", IFS_EXIT_USAGE, "--max-chunks %s: expected 2..1024",
                                    optarg);
            o.max_chunks = (int)v;
            break;
        case O_READERS:
            if (parse_int(optarg, 1, 8, &v))
                return ifs_cli_fail("score", IFS_EXIT_USAGE, "--readers %s: expected 1..8", optarg);
            o.readers = (int)v;
            break;
        case O_TEXT: o.text_field = optarg; break;
        case O_TYPE: o.type_field = optarg; break;
        case O_ID: o.id_field = optarg; break;
        case O_GROUP: o.group_by = optarg; break;
        case O_INSTR:
            if (!*optarg)
                return ifs_cli_fail("score", IFS_EXIT_USAGE,
                                    "--instruction-field: expected a field name");
            o.instruction_field = optarg;
            break;
        case O_ANSWER: o.answer_label = optarg; break;
        case O_THRESH: {
            char *end;
            o.threshold = strtod(optarg, &end);
            if (end == optarg || *end || !(o.threshold > 0 && o.threshold < 1))
                return ifs_cli_fail("score", IFS_EXIT_USAGE,
                                    "--threshold %s: expected a number in (0,1)", optarg);
            break;
        }
        case O_SCORES: o.scores = optarg; break;
        case O_REJECTS: o.rejects = optarg; break;
        case O_FORMAT: format = optarg; break;
        case O_RESUME: o.resume = 1; break;
        case O_STATE: o.state_dir = optarg; break;
        case O_PROGRESS: progress = 1; break;
        case O_NOPROGRESS: progress = 0; break;
        case O_STATS: stats = 1; break;
        case O_MAXLINE:
            if (parse_int(optarg, 1, LONG_MAX, &v))
                return ifs_cli_fail("score", IFS_EXIT_USAGE, "--max-line-bytes %s: expected >= 1",
                                    optarg);
            o.max_line_bytes = (size_t)v;
            break;
        case O_SLICE:
            if (parse_slice(optarg, &o.slice_index, &o.slice_count))
                return ifs_cli_fail("score", IFS_EXIT_USAGE,
                                    "--slice %s: expected I/N with 0 <= I < N", optarg);
            slice_given = 1;
            break;
        case O_NOTIMINGS: o.no_timings = 1; break;
        case O_HELP: usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (!o.model)
        return ifs_cli_fail("score", IFS_EXIT_USAGE, "--model DIR is required (see --help)");
    if (optind >= argc)
        return ifs_cli_fail("score", IFS_EXIT_USAGE, "no shards given (see --help)");
    ifs_report_format fmt = IFS_FMT_TEXT;
    int no_table = !strcmp(format, "none");
    if (!no_table && ifs_report_format_parse(format, &fmt))
        return ifs_cli_fail("score", IFS_EXIT_USAGE,
                            "--format %s: expected text, csv, markdown, json or none", format);
    if (!slice_given) {
        /* Under a Slurm job array the slice comes from its variables (steps
         * honoured; what cannot be numbered 0..N-1 exactly is refused). */
        int32_t si, sn;
        char se[768];
        int r = ifs_slurm_slice(ifs_slurm_getenv, NULL, &si, &sn, se, sizeof se);
        if (r == IFS_SLURM_OK) {
            o.slice_index = si;
            o.slice_count = sn;
        } else if (r != IFS_SLURM_ENOARRAY) {
            return ifs_cli_fail("score", IFS_EXIT_USAGE, "%s", se);
        }
    }

    o.inputs = (const char *const *)argv + optind;
    o.n_inputs = (size_t)(argc - optind);
    int report_to_stdout = o.out && !strcmp(o.out, "-");
    if (report_to_stdout) {
        if (!no_table && fmt != IFS_FMT_JSON)
            no_table = 1; /* stdout carries the report; a table would corrupt it */
        o.out = NULL;
    }
    o.on_warning = on_warning;
    /* A closed stdout (--scores - | head) makes writes fail with EPIPE, said
     * by the run as an error, instead of killing the process silently. */
    signal(SIGPIPE, SIG_IGN);

    char err[1024] = "";
    ifs_score *S = NULL;
    int rc = ifs_score_create(&o, &S, err, sizeof err);
    if (rc)
        return ifs_cli_fail("score", exit_code(rc), "%s", err);

    sigctx sc;
    memset(&sc, 0, sizeof sc);
    sc.S = S;
    pthread_t sig_th;
    int sig_started = 0;
    if (signals_install(&sc) == 0) {
        sig_started = pthread_create(&sig_th, NULL, signal_main, &sc) == 0;
        if (!sig_started)
            signals_restore(&sc);
    }
    ifs_progress *prog = ifs_progress_start(stderr,
                                            progress < 0 ? IFS_PROGRESS_AUTO
                                            : progress   ? IFS_PROGRESS_ON
                                                         : IFS_PROGRESS_OFF,
                                            1.0, fill_progress, S);
    rc = ifs_score_run(S, err, sizeof err);
    ifs_progress_stop(prog);
    if (sig_started) {
        atomic_store(&sc.quit, 1);
        pthread_join(sig_th, NULL);
        signals_restore(&sc);
    }
    int code = exit_code(rc);
    if (rc == IFS_SCORE_OK || rc == IFS_SCORE_EDATA) {
        const ifs_reducer *rep = ifs_score_report(S);
        if (rc == IFS_SCORE_EDATA)
            fprintf(stderr, "ifscore score: %s\n", err);
        if (report_to_stdout) {
            int pc = print_report(rep, o.no_timings);
            if (pc)
                code = pc;
        } else if (!no_table) {
            char *txt = NULL;
            size_t len = 0;
            if (ifs_report_table(rep, fmt, &txt, &len, err, sizeof err) == 0) {
                fwrite(txt, 1, len, stdout);
                fflush(stdout);
            }
            free(txt);
        }
        if (stats) {
            ifs_score_stats st;
            ifs_score_get_stats(S, &st);
            print_stats(&st);
        }
    } else {
        ifs_cli_fail("score", code, "%s", err);
    }
    ifs_score_free(S);
    return code;
}
