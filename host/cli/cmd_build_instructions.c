/*
 * cmd_build_instructions.c - `ifscore build-instructions`: the instruction set
 * (full and partial instructions, about half each) from pair records.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_ds.h"

static void usage(FILE *f)
{
    fputs(
        "usage: ifscore build-instructions PAIRS... --out DIR --seed N [options]\n"
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

static int measure_cuts(char *const *inputs, int n)
{
    char err[512] = "", *json;
    uint64_t rejected = 0;
    if (ifs_ds_measure_cuts(inputs, n, &json, &rejected, err, sizeof err)) {
        fprintf(stderr, "ifscore build-instructions: %s\n", err);
        return IFS_EXIT_FAIL;
    }
    printf("%s\n", json);
    free(json);
    return rejected ? IFS_EXIT_DATA : IFS_EXIT_OK;
}

int ifs_cmd_build_instructions(int argc, char **argv)
{
    enum { O_SHARE = 256, O_POLICY, O_KEEP, O_SREC, O_MEASURE };
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 's'},
        {"partial-share", required_argument, 0, O_SHARE},
        {"cut-policy", required_argument, 0, O_POLICY},
        {"keep-duplicates", no_argument, 0, O_KEEP},
        {"shard-records", required_argument, 0, O_SREC},
        {"measure-cuts", no_argument, 0, O_MEASURE},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    ifs_ds_build_opts bo = {.policy = IFS_DS_CUT_AUTO, .partial_share = 0.5, .dedupe = 1};
    ifs_ds_sink_opts so = {0};
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
            if (ifs_ds_parse_size(optarg, &so.max_records) || !so.max_records) {
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
    ifs_ds_build_result r;
    char err[512] = "";
    if (ifs_ds_build_instructions(&bo, &so, argv + optind, argc - optind, out, &r, err,
                                  sizeof err)) {
        fprintf(stderr, "ifscore build-instructions: %s\n", err);
        return IFS_EXIT_FAIL;
    }
    fprintf(stderr, "build-instructions: %s\n", r.summary);
    return r.rejected_lines || r.stream_errors ? IFS_EXIT_DATA : IFS_EXIT_OK;
}
