/*
 * cmd_build_instructions.c - `ifscore build-instructions`: the instruction set
 * (full and partial instructions, about half each) from pair records.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"
#include "ifs_cli.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore build-instructions PAIRS... --out DIR --seed N [options]\n"
          "\n"
          "Builds the instruction set from pair records (ifscore import output):\n"
          "each distinct instruction once, full or partial (cut at a word boundary),\n"
          "about half each. Deterministic: the same inputs and seed give byte-identical\n"
          "shards. Records: {id, instruction, instruction_type, source_id,\n"
          "source_model, and for partial ones continuation, full_instruction, cut_end}.\n"
          "\n"
          "options:\n"
          "  -o, --out DIR          output folder (shards instructions-NNNNN.jsonl.zst + manifest)\n"
          "  -s, --seed N           seed of every random choice (required)\n"
          "      --partial-share F  share of instructions drawn partial (default 0.5)\n"
          "      --cut-policy P     auto (default), strict, incomplete or loose (the paper's);\n"
          "                         see docs/datasets.md\n"
          "      --keep-duplicates  keep repeated instructions (default: first one only)\n"
          "      --shard-records N  records per shard (default: one shard)\n"
          "      --measure-cuts     write nothing; print, per cut policy, the expected share\n"
          "                         of fragments ending at a sentence end, a line break, an\n"
          "                         open-class word or a connector (JSON on stdout)\n"
          "  -h, --help\n"
          "\n"
          "Exit: 0 ok; 1 failure; 2 usage; 3 input lines were rejected.\n",
          f);
}

static int measure_one(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
                       uint64_t line, void *user)
{
    (void)raw;
    (void)raw_len;
    (void)shard;
    (void)line;
    size_t il;
    const char *instr = ds_get_str(obj, "instruction", &il);
    return instr ? ds_cut_measure_add(user, instr, il) : 0;
}

static int measure_cuts(char *const *inputs, int n)
{
    ds_cut_measure m = { 0 };
    ds_read_stats rs = { 0 };
    char err[512];
    if (ds_read_records(inputs, n, measure_one, &m, &rs, err, sizeof err)) {
        fprintf(stderr, "ifscore build-instructions: %s\n", err);
        ds_set_free(&m.seen);
        return IFS_EXIT_FAIL;
    }
    ds_buf b = { 0 };
    ds_cut_measure_json(&m, &b);
    printf("%s\n", b.p ? b.p : "{}");
    ds_buf_free(&b);
    ds_set_free(&m.seen);
    return IFS_EXIT_OK;
}

int ifs_cmd_build_instructions(int argc, char **argv)
{
    enum { O_SHARE = 256, O_POLICY, O_KEEP, O_SREC, O_MEASURE };
    static const struct option opts[] = {
        { "out", required_argument, 0, 'o' },
        { "seed", required_argument, 0, 's' },
        { "partial-share", required_argument, 0, O_SHARE },
        { "cut-policy", required_argument, 0, O_POLICY },
        { "keep-duplicates", no_argument, 0, O_KEEP },
        { "shard-records", required_argument, 0, O_SREC },
        { "measure-cuts", no_argument, 0, O_MEASURE },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    ds_build_opts bo = { .policy = IFS_DS_CUT_AUTO, .partial_share = 0.5, .dedupe = 1 };
    ds_sink_opts so = { 0 };
    const char *out = NULL;
    int have_seed = 0, measure = 0, c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's':
            bo.seed = strtoull(optarg, &end, 10);
            if (*end || !*optarg) {
                fprintf(stderr, "ifscore build-instructions: --seed wants an integer\n");
                return IFS_EXIT_USAGE;
            }
            have_seed = 1;
            break;
        case O_SHARE:
            bo.partial_share = strtod(optarg, &end);
            if (*end || bo.partial_share < 0 || bo.partial_share > 1) {
                fprintf(stderr, "ifscore build-instructions: --partial-share wants 0..1\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case O_POLICY: {
            int p = ifs_ds_cut_policy_parse(optarg);
            if (p < 0) {
                fprintf(stderr, "ifscore build-instructions: unknown --cut-policy '%s'\n", optarg);
                return IFS_EXIT_USAGE;
            }
            bo.policy = (ifs_ds_cut_policy)p;
            break;
        }
        case O_KEEP: bo.dedupe = 0; break;
        case O_MEASURE: measure = 1; break;
        case O_SREC:
            if (ds_parse_size(optarg, &so.max_records) || !so.max_records) {
                fprintf(stderr, "ifscore build-instructions: --shard-records wants N > 0\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (measure && optind < argc)
        return measure_cuts(argv + optind, argc - optind);
    if (optind >= argc || !out || !have_seed) {
        fprintf(stderr, "ifscore build-instructions: needs PAIRS..., --out and --seed\n");
        return IFS_EXIT_USAGE;
    }
    ds_sink *sink;
    ds_read_stats rs;
    char err[512] = "";
    ds_builder *b = ds_build_run('i', "instructions", &bo, &so, out, argv + optind,
                                 argc - optind, &sink, &rs, err, sizeof err);
    if (!b) {
        fprintf(stderr, "ifscore build-instructions: %s\n", err);
        return IFS_EXIT_FAIL;
    }
    const ds_build_stats *st = ds_builder_stats(b);
    ds_buf extra = { 0 };
    ds_buf_printf(&extra, "\"instruction_set\":{\"seed\":%llu,\"cut_policy\":\"%s\","
                          "\"partial_share\":%g,\"dedupe\":%s,",
                  (unsigned long long)bo.seed, ifs_ds_cut_policy_name(bo.policy),
                  bo.partial_share, bo.dedupe ? "true" : "false");
    int exit_code = IFS_EXIT_OK;
    if (ds_build_finish('i', sink, b, &rs, &extra, err, sizeof err)) {
        fprintf(stderr, "ifscore build-instructions: %s\n", err);
        exit_code = IFS_EXIT_FAIL;
    } else if (rs.rejected_total || rs.stream_errors) {
        exit_code = IFS_EXIT_DATA;
    }
    fprintf(stderr,
            "build-instructions: %llu pairs -> %llu instructions (%llu full, %llu partial; "
            "%llu drawn partial but uncuttable, %llu duplicates, %llu without instruction); "
            "partial endings: connector %llu, open %llu; %llu input lines rejected\n",
            (unsigned long long)st->pairs, (unsigned long long)st->written,
            (unsigned long long)st->full, (unsigned long long)st->partial,
            (unsigned long long)st->uncuttable, (unsigned long long)st->duplicate,
            (unsigned long long)st->no_instruction,
            (unsigned long long)st->end_class[IFS_DS_END_CONNECTOR],
            (unsigned long long)st->end_class[IFS_DS_END_OPEN],
            (unsigned long long)rs.rejected_total);
    ds_buf_free(&extra);
    ds_builder_free(b);
    ds_sink_free(sink);
    return exit_code;
}
