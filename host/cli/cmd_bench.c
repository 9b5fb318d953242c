/*
 * cmd_bench.c - `ifscore bench`: how fast the classifier runs on this
 * machine. Forward-only on synthetic lengths (ifs_bench.h), or end to end
 * over the shards given, through the score API with every output discarded.
 * Prints a table; --json FILE writes the figures. docs/bench.md.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ifs_bench.h"
#include "ifs_cli.h"
#include "ifs_score.h"
#include "ifs_version.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore bench --model DIR [options] [SHARD|DIR|GLOB...]\n"
          "\n"
          "Times the classifier on this machine. Without shards: the forward pass alone\n"
          "on synthetic sequences (random token ids from the vocabulary, never zero,\n"
          "seeded). With shards: the whole `score` pipeline (read, decompress, parse,\n"
          "tokenize, forward, reduce) with every output discarded; nothing is written\n"
          "but a temporary state folder, removed after each repeat.\n"
          "\n"
          "  --model DIR             classifier checkpoint (required)\n"
          "  --lengths SPEC          forward-only lengths, incl. [CLS]/[SEP]: N, uniform:A-B\n"
          "                          or normal:MEAN,SD (clipped to 2..max-len; default 128)\n"
          "  --seqs N                forward-only: sequences per repeat (default 512)\n"
          "  --seed N                forward-only: seed of lengths and ids (default 1)\n"
          "  --warmup N              untimed passes first (default 1)\n"
          "  --repeats N             timed passes (default 5); medians and min/max reported\n"
          "  --backend cpu|cuda      (default cpu)\n"
          "  --dtype f32|f16|bf16    compute dtype (default f32 on cpu, f16 on cuda)\n"
          "  --max-len N             truncation / longest synthetic length (default 512,\n"
          "                          at most the model's max_position_embeddings)\n"
          "  --max-batch-tokens N    packed tokens per forward call (default 16384)\n"
          "  --threads N             end to end: tokenizer workers (default 2)\n"
          "  --cpu-threads N         cpu backend: threads in the forward (0 = all cores)\n"
          "  --no-peak               skip the GEMM ceiling measurement (MFU)\n"
          "  --json FILE             also write the figures as JSON\n"
          "\n"
          "Exit codes: 0 ok, 1 failure (model, device, input), 2 usage error.\n",
          f);
}

/* ---- machine facts ---- */
static void cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                p[strcspn(p, "\n")] = 0;
                snprintf(out, n, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static const char *dt_name(ifs_dtype d)
{
    return d == IFS_DT_F16 ? "f16" : d == IFS_DT_BF16 ? "bf16" : "f32";
}

static int rm_cb(const char *p, const struct stat *sb, int fl, struct FTW *ftw)
{
    (void)sb;
    (void)fl;
    (void)ftw;
    remove(p);
    return 0;
}

static int parse_int(const char *name, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return ifs_cli_fail("bench", IFS_EXIT_USAGE, "%s '%s': want an integer in %ld..%ld", name,
                            v, lo, hi);
    *out = x;
    return 0;
}

/* stages of the end-to-end mode, from ifs_score_stats */
enum { ST_HASH, ST_DECOMP, ST_PARSE, ST_TOK, ST_FWD, ST_REDUCE, ST_FINISH, ST_WALL, ST_N };
static const char *st_name[ST_N] = {"hash",    "decompress", "parse",  "tokenize",
                                    "forward", "reduce",     "finish", "wall"};

int ifs_cmd_bench(int argc, char **argv)
{
    const char *model = NULL, *lengths = "128", *backend = "cpu", *dtype = NULL, *json = NULL;
    long seqs = 512, seed = 1, warmup = 1, repeats = 5, max_len = 512, mbt = 16384;
    long threads = 2, cpu_threads = 0;
    int no_peak = 0, rc;
    static const struct option lo[] = {{"model", 1, 0, 'm'},   {"lengths", 1, 0, 'L'},
                                       {"seqs", 1, 0, 'n'},    {"seed", 1, 0, 's'},
                                       {"warmup", 1, 0, 'w'},  {"repeats", 1, 0, 'r'},
                                       {"backend", 1, 0, 'b'}, {"dtype", 1, 0, 'd'},
                                       {"max-len", 1, 0, 'l'}, {"max-batch-tokens", 1, 0, 't'},
                                       {"threads", 1, 0, 'T'}, {"cpu-threads", 1, 0, 'C'},
                                       {"no-peak", 0, 0, 'P'}, {"json", 1, 0, 'j'},
                                       {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'L': lengths = optarg; break;
        case 'n':
            if ((rc = parse_int("--seqs", optarg, 1, 10000000, &seqs)))
                return rc;
            break;
        case 's':
            if ((rc = parse_int("--seed", optarg, 0, 0x7fffffffL, &seed)))
                return rc;
            break;
        case 'w':
            if ((rc = parse_int("--warmup", optarg, 0, 1000, &warmup)))
                return rc;
            break;
        case 'r':
            if ((rc = parse_int("--repeats", optarg, 1, 10000, &repeats)))
                return rc;
            break;
        case 'b': backend = optarg; break;
        case 'd': dtype = optarg; break;
        case 'l':
            if ((rc = parse_int("--max-len", optarg, 2, 65536, &max_len)))
                return rc;
            break;
        case 't':
            if ((rc = parse_int("--max-batch-tokens", optarg, 2, 1 << 24, &mbt)))
                return rc;
            break;
        case 'T':
            if ((rc = parse_int("--threads", optarg, 1, 256, &threads)))
                return rc;
            break;
        case 'C':
            if ((rc = parse_int("--cpu-threads", optarg, 0, 1024, &cpu_threads)))
                return rc;
            break;
        case 'P': no_peak = 1; break;
        case 'j': json = optarg; break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (!model)
        return ifs_cli_fail("bench", IFS_EXIT_USAGE, "--model DIR is required (see --help)");
    if (strcmp(backend, "cpu") && strcmp(backend, "cuda"))
        return ifs_cli_fail("bench", IFS_EXIT_USAGE, "--backend '%s': want cpu or cuda", backend);
    ifs_dtype dt = strcmp(backend, "cuda") == 0 ? IFS_DT_F16 : IFS_DT_F32;
    if (dtype) {
        if (!strcmp(dtype, "f32"))
            dt = IFS_DT_F32;
        else if (!strcmp(dtype, "f16"))
            dt = IFS_DT_F16;
        else if (!strcmp(dtype, "bf16"))
            dt = IFS_DT_BF16;
        else
            return ifs_cli_fail("bench", IFS_EXIT_USAGE, "--dtype '%s': want f32, f16 or bf16",
                                dtype);
    }
    int e2e = optind < argc;
    char err[1024];
    ifs_bench_lengths L;
    if (!e2e && ifs_bench_parse_lengths(lengths, (int32_t)max_len, &L, err, sizeof err))
        return ifs_cli_fail("bench", IFS_EXIT_USAGE, "%s", err);

    ifs_wts_model *M = ifs_wts_load(model, 0, err, sizeof err);
    if (!M)
        return ifs_cli_fail("bench", IFS_EXIT_FAIL, "--model %s: %s", model, err);
    const ifs_bert_weights *W = ifs_wts_weights(M);
    const ifs_bert_config *cfg = &W->cfg;
    if (max_len > cfg->max_position) {
        if (!e2e) {
            ifs_wts_free(M);
            return ifs_cli_fail("bench", IFS_EXIT_USAGE,
                                "--max-len %ld: over the model's max_position_embeddings %d",
                                max_len, (int)cfg->max_position);
        }
        max_len = cfg->max_position;
    }

    double *sec = calloc((size_t)repeats, sizeof *sec);
    double *stage = calloc((size_t)repeats * ST_N, sizeof *stage);
    if (!sec || !stage) {
        free(sec);
        free(stage);
        ifs_wts_free(M);
        return ifs_cli_fail("bench", IFS_EXIT_FAIL, "out of memory");
    }
    uint64_t seqs_per = 0, tokens_per = 0, batches_per = 0, rejected = 0;
    double flops_per = 0;
    int exit_code = IFS_EXIT_OK;

    if (!e2e) {
        ifs_bench_opts o = ifs_bench_default_opts();
        o.backend = backend;
        o.dtype = dt;
        o.cpu_threads = (int)cpu_threads;
        o.max_len = (int32_t)max_len;
        o.max_batch_tokens = (int32_t)mbt;
        o.n_seqs = (int32_t)seqs;
        o.warmup = (int)warmup;
        o.repeats = (int)repeats;
        o.seed = (uint64_t)seed;
        o.lengths = L;
        ifs_bench_result r;
        rc = ifs_bench_forward(W, &o, &r, err, sizeof err);
        if (rc) {
            exit_code = ifs_cli_fail(
                "bench", rc == IFS_BENCH_EUSAGE ? IFS_EXIT_USAGE : IFS_EXIT_FAIL, "%s", err);
            goto out;
        }
        memcpy(sec, r.seconds, (size_t)repeats * sizeof *sec);
        seqs_per = r.seqs;
        tokens_per = r.tokens;
        batches_per = r.batches;
        flops_per = r.flops;
        ifs_bench_result_free(&r);
    } else {
        const char *tmp = getenv("TMPDIR");
        char tmpl[4096];
        for (long pass = 0; pass < warmup + repeats; pass++) {
            snprintf(tmpl, sizeof tmpl, "%s/ifscore-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
            if (!mkdtemp(tmpl)) {
                exit_code =
                    ifs_cli_fail("bench", IFS_EXIT_FAIL,
                                 "cannot create a temporary folder under %s", tmp ? tmp : "/tmp");
                goto out;
            }
            char state[4200];
            snprintf(state, sizeof state, "%s/state", tmpl);
            ifs_score_opts so = ifs_score_default_opts();
            so.model = model;
            so.backend = backend;
            so.dtype = dtype ? dtype : "auto";
            so.threads = (int)threads;
            so.cpu_threads = (int)cpu_threads;
            so.max_batch_tokens = (int32_t)mbt;
            so.max_len = (int32_t)max_len;
            so.inputs = (const char *const *)(argv + optind);
            so.n_inputs = (size_t)(argc - optind);
            so.out = NULL;
            so.scores = NULL;
            so.rejects = NULL;
            so.state_dir = state;
            so.no_timings = 1;
            ifs_score *S = NULL;
            rc = ifs_score_create(&so, &S, err, sizeof err);
            if (rc == 0)
                rc = ifs_score_run(S, err, sizeof err);
            if (rc && rc != IFS_SCORE_EDATA) {
                ifs_score_free(S);
                nftw(tmpl, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
                exit_code = ifs_cli_fail(
                    "bench", rc == IFS_SCORE_EUSAGE ? IFS_EXIT_USAGE : IFS_EXIT_FAIL, "%s", err);
                goto out;
            }
            ifs_score_stats st;
            ifs_score_get_stats(S, &st);
            ifs_score_free(S);
            nftw(tmpl, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
            if (pass < warmup)
                continue;
            long k = pass - warmup;
            sec[k] = st.wall_s;
            double v[ST_N] = {st.hash_s,    st.decompress_s, st.parse_s,  st.tokenize_s,
                              st.forward_s, st.reduce_s,     st.finish_s, st.wall_s};
            memcpy(stage + k * ST_N, v, sizeof v);
            seqs_per = st.scored + st.rejected;
            rejected = st.rejected;
            tokens_per = st.tokens;
            batches_per = st.batches;
            max_len = st.max_len;
        }
    }

    /* the GEMM ceiling at the encoder's intermediate shape */
    double peak = 0;
    char peak_err[512] = "";
    if (!no_peak) {
        if (ifs_backend_gemm_peak(backend, 0, dt, (int)(mbt < 4096 ? mbt : 4096), cfg->intermediate,
                                  cfg->hidden, 10, &peak, peak_err, sizeof peak_err))
            peak = 0;
    }

    double med, mn, mx;
    ifs_bench_summary(sec, (int)repeats, &med, &mn, &mx);
    char host[256] = "unknown", cpu[256];
    gethostname(host, sizeof host - 1);
    cpu_model(cpu, sizeof cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    printf("ifscore bench: %s, %s %s, model %d layers / hidden %d / heads %d / intermediate %d / "
           "vocab %d\n",
           e2e ? "end to end" : "forward only", backend, dt_name(dt), (int)cfg->n_layers,
           (int)cfg->hidden, (int)cfg->n_heads, (int)cfg->intermediate, (int)cfg->vocab_size);
    printf("machine: %s, %s, %ld cores; %s\n", host, cpu, cores, ifs_version());
    printf("per repeat: %llu records, %llu tokens, %llu batches; warm-up %ld, repeats %ld\n",
           (unsigned long long)seqs_per, (unsigned long long)tokens_per,
           (unsigned long long)batches_per, warmup, repeats);
    printf("%-14s %12s %12s %12s\n", "figure", "median", "min", "max");
    printf("%-14s %12.4f %12.4f %12.4f\n", "seconds", med, mn, mx);
    printf("%-14s %12.1f %12.1f %12.1f\n", "records/s", seqs_per / med, seqs_per / mx,
           seqs_per / mn);
    printf("%-14s %12.0f %12.0f %12.0f\n", "tokens/s", tokens_per / med, tokens_per / mx,
           tokens_per / mn);
    if (!e2e) {
        printf("%-14s %12.2f %12.2f %12.2f\n", "GFLOP/s", flops_per / med / 1e9,
               flops_per / mx / 1e9, flops_per / mn / 1e9);
        if (peak > 0)
            printf("%-14s %12.1f%%  (GEMM ceiling %.3f TFLOP/s)\n", "MFU",
                   100.0 * flops_per / med / 1e12 / peak, peak);
        else if (!no_peak)
            printf("GEMM ceiling not measured: %s\n", peak_err);
    } else {
        printf("stage thread-seconds (median over repeats):\n");
        for (int s = 0; s < ST_N; s++) {
            double col[10000];
            for (long k = 0; k < repeats; k++)
                col[k] = stage[k * ST_N + s];
            double m1, m2, m3;
            ifs_bench_summary(col, (int)repeats, &m1, &m2, &m3);
            printf("  %-12s %10.4f s  %12.1f records/s\n", st_name[s], m1,
                   m1 > 0 ? seqs_per / m1 : 0.0);
        }
        if (rejected)
            printf("rejected records: %llu\n", (unsigned long long)rejected);
    }

    if (json) {
        FILE *f = strcmp(json, "-") ? fopen(json, "w") : stdout;
        if (!f) {
            exit_code =
                ifs_cli_fail("bench", IFS_EXIT_FAIL, "--json %s: cannot open for writing", json);
            goto out;
        }
        fprintf(f, "{\"mode\":\"%s\",\"machine\":{\"hostname\":", e2e ? "end_to_end" : "forward");
        jstr(f, host);
        fprintf(f, ",\"cpu\":");
        jstr(f, cpu);
        fprintf(f, ",\"cores\":%ld,\"gpu\":%s},", cores,
                strcmp(backend, "cuda") ? "null" : "\"cuda device 0\"");
        fprintf(f, "\"model\":{\"dir\":");
        jstr(f, model);
        fprintf(f,
                ",\"layers\":%d,\"hidden\":%d,\"heads\":%d,\"intermediate\":%d,\"vocab\":%d,"
                "\"labels\":%d,\"dtype\":\"%s\"},\"commit\":",
                (int)cfg->n_layers, (int)cfg->hidden, (int)cfg->n_heads, (int)cfg->intermediate,
                (int)cfg->vocab_size, (int)cfg->num_labels, dt_name(dt));
        jstr(f, ifs_version());
        fprintf(f,
                ",\"settings\":{\"backend\":\"%s\",\"max_len\":%ld,\"max_batch_tokens\":%ld,"
                "\"threads\":%ld,\"cpu_threads\":%ld,\"warmup\":%ld,\"repeats\":%ld",
                backend, max_len, mbt, threads, cpu_threads, warmup, repeats);
        if (!e2e) {
            fprintf(f, ",\"lengths\":");
            jstr(f, lengths);
            fprintf(f, ",\"seqs\":%ld,\"seed\":%ld", seqs, seed);
        }
        fprintf(
            f,
            "},\"records\":%llu,\"tokens\":%llu,\"batches\":%llu,\"rejected\":%llu,\"seconds\":[",
            (unsigned long long)seqs_per, (unsigned long long)tokens_per,
            (unsigned long long)batches_per, (unsigned long long)rejected);
        for (long k = 0; k < repeats; k++)
            fprintf(f, "%s%.6f", k ? "," : "", sec[k]);
        fprintf(f,
                "],\"median\":{\"seconds\":%.6f,\"min_seconds\":%.6f,\"max_seconds\":%.6f,"
                "\"records_per_s\":%.3f,\"tokens_per_s\":%.3f",
                med, mn, mx, seqs_per / med, tokens_per / med);
        if (!e2e) {
            fprintf(f, ",\"flops_per_repeat\":%.6g,\"gflops_per_s\":%.4f", flops_per,
                    flops_per / med / 1e9);
            if (peak > 0)
                fprintf(f, ",\"gemm_peak_tflops\":%.4f,\"mfu\":%.5f", peak,
                        flops_per / med / 1e12 / peak);
        } else {
            fprintf(f, ",\"stages_s\":{");
            for (int s = 0; s < ST_N; s++) {
                double col[10000];
                for (long k = 0; k < repeats; k++)
                    col[k] = stage[k * ST_N + s];
                double m1, m2, m3;
                ifs_bench_summary(col, (int)repeats, &m1, &m2, &m3);
                fprintf(f, "%s\"%s\":%.6f", s ? "," : "", st_name[s], m1);
            }
            fputc('}', f);
        }
        fprintf(f, "}}\n");
        if (f != stdout && fclose(f))
            exit_code = ifs_cli_fail("bench", IFS_EXIT_FAIL, "--json %s: write failed", json);
    }
out:
    free(sec);
    free(stage);
    ifs_wts_free(M);
    return exit_code;
}
