/*
 * cmd_build_responses.c - `ifscore build-responses`: the response set that
 * trains the tone classifier (R -> 1, Ic -> 0, Ic+R -> 0, balanced, split by
 * instruction) from pair records.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_ds.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore build-responses PAIRS... --out DIR --seed N [options]\n"
          "\n"
          "Builds the classifier's response set from pair records (ifscore import\n"
          "output). Each pair gives two records: R (label 1) and one negative, Ic or\n"
          "Ic+R (label 0), so the set is balanced. Records: {id, text, label, source_id,\n"
          "split, kind, model}. Splits are drawn per instruction text, so no pair and no\n"
          "instruction appears in two splits. Deterministic for a seed.\n"
          "\n"
          "Any of the options under \"planned set\" builds it in three passes over the\n"
          "inputs (files, not stdin) instead: candidates of every kind are generated,\n"
          "exact duplicates removed (a text seen with both labels is dropped), and each\n"
          "label kept as often as the other within each split (and length bucket with\n"
          "--length-match), so the set is balanced and does not depend on input order.\n"
          "Records then also carry source (the instruction's instruction_source) and,\n"
          "with --pairs, instruction (the input: I or Ip). docs/datasets.md has the rules.\n"
          "\n"
          "options:\n"
          "  -o, --out DIR             output folder (responses-NNNNN.jsonl.zst + manifest)\n"
          "  -s, --seed N              seed (required)\n"
          "      --positive-models P   only pairs whose model matches one of these\n"
          "                            comma-separated fnmatch patterns give records\n"
          "                            (instruction-tuned generators; default: all);\n"
          "                            !PATTERN excludes: '*,!phi-2,!NullModel'\n"
          "      --ic-share F          share of Ic among negatives, the rest Ic+R (0.5)\n"
          "      --repeat-ic           allow the same Ic text more than once (by default a\n"
          "                            repeated Ic becomes Ic+R, which is always new)\n"
          "      --split T,V           train and validation fractions (0.8,0.1; test = rest)\n"
          "      --cut-policy P        auto (default), strict, incomplete or loose\n"
          "      --shard-records N     records per shard (default: one shard)\n"
          "  -h, --help\n"
          "\n"
          "planned set:\n"
          "      --pairs               the paper's five cases with their inputs:\n"
          "                            I+R, Ip+R (1); Ip+Ic, I+Ic, Ip+Ic+R (0); kinds are\n"
          "                            named <input>+<output>\n"
          "      --negative-mix SPEC   negative kinds and weights, KIND=W,... with KIND in\n"
          "                            Ic, Ic+R, Ic+next, echo, next, template, repeat,\n"
          "                            gibberish (default Ic=ic-share,Ic+R=1-ic-share)\n"
          "      --negatives N         distinct negative kinds drawn per pair (1; 2 with\n"
          "                            --pairs)\n"
          "      --terse-max-words N   positives of at most N words are kind R-terse; with\n"
          "      --terse-models P      these models give their short responses (only) as\n"
          "                            positives too (default: --positive-models)\n"
          "      --holdout-source P    instructions whose instruction_source matches these\n"
          "                            patterns (and their near-duplicates) go to split\n"
          "                            holdout, never train/validation/test\n"
          "      --near-duplicates J   instructions whose word-3-shingle Jaccard similarity\n"
          "                            is at least J share a split (0 = identical only)\n"
          "      --length-match        balance labels within each length bucket (words:\n"
          "                            1, 2, 3-4, 5-8, 9-16, 17-32, 33-64, 65+)\n"
          "      --pool-size N         instructions kept for next/template/gibberish\n"
          "                            negatives (4096)\n"
          "      --max-per-group N     at most N records of each label per group of\n"
          "                            (near-duplicate) instructions, by key (default: any)\n"
          "\n"
          "Exit: 0 ok; 1 failure; 2 usage; 3 input lines were rejected.\n",
          f);
}

int ifs_cmd_build_responses(int argc, char **argv)
{
    enum {
        O_POS = 256,
        O_IC,
        O_SPLIT,
        O_POLICY,
        O_SREC,
        O_REPEAT,
        O_PAIRS,
        O_MIX,
        O_NEG,
        O_TERSE_W,
        O_TERSE_M,
        O_HOLD,
        O_NEAR,
        O_LEN,
        O_POOL,
        O_CAP
    };
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 's'},
        {"positive-models", required_argument, 0, O_POS},
        {"ic-share", required_argument, 0, O_IC},
        {"split", required_argument, 0, O_SPLIT},
        {"cut-policy", required_argument, 0, O_POLICY},
        {"shard-records", required_argument, 0, O_SREC},
        {"repeat-ic", no_argument, 0, O_REPEAT},
        {"pairs", no_argument, 0, O_PAIRS},
        {"negative-mix", required_argument, 0, O_MIX},
        {"negatives", required_argument, 0, O_NEG},
        {"terse-max-words", required_argument, 0, O_TERSE_W},
        {"terse-models", required_argument, 0, O_TERSE_M},
        {"holdout-source", required_argument, 0, O_HOLD},
        {"near-duplicates", required_argument, 0, O_NEAR},
        {"length-match", no_argument, 0, O_LEN},
        {"pool-size", required_argument, 0, O_POOL},
        {"max-per-group", required_argument, 0, O_CAP},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    ifs_ds_build_opts bo = {.policy = IFS_DS_CUT_AUTO,
                            .ic_share = 0.5,
                            .train = 0.8,
                            .validation = 0.1,
                            .pool_size = 4096};
    uint64_t v;
    ifs_ds_sink_opts so = {0};
    const char *out = NULL;
    int have_seed = 0, c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's':
            bo.seed = strtoull(optarg, &end, 10);
            if (*end || !*optarg) {
                fprintf(stderr, "ifscore build-responses: --seed wants an integer\n");
                return IFS_EXIT_USAGE;
            }
            have_seed = 1;
            break;
        case O_POS: bo.positive_models = optarg; break;
        case O_PAIRS: bo.pairs = bo.planned = 1; break;
        case O_LEN: bo.length_match = bo.planned = 1; break;
        case O_MIX: {
            char e2[256];
            if (ifs_ds_check_negative_mix(optarg, e2, sizeof e2)) {
                fprintf(stderr, "ifscore build-responses: --%s\n", e2);
                return IFS_EXIT_USAGE;
            }
            bo.negative_mix = optarg;
            bo.planned = 1;
            break;
        }
        case O_NEG:
            if (ifs_ds_parse_size(optarg, &v) || v < 1 || v > 8) {
                fprintf(stderr, "ifscore build-responses: --negatives wants 1..8\n");
                return IFS_EXIT_USAGE;
            }
            bo.negatives = (unsigned)v;
            bo.planned = 1;
            break;
        case O_TERSE_W:
            if (ifs_ds_parse_size(optarg, &v) || v < 1 || v > 100000) {
                fprintf(stderr, "ifscore build-responses: --terse-max-words wants N >= 1\n");
                return IFS_EXIT_USAGE;
            }
            bo.terse_max_words = (unsigned)v;
            bo.planned = 1;
            break;
        case O_TERSE_M:
            bo.terse_models = optarg;
            bo.planned = 1;
            break;
        case O_HOLD:
            bo.holdout_sources = optarg;
            bo.planned = 1;
            break;
        case O_NEAR:
            bo.near_dup = strtod(optarg, &end);
            if (*end || !*optarg || !(bo.near_dup >= 0 && bo.near_dup <= 1)) {
                fprintf(stderr, "ifscore build-responses: --near-duplicates wants 0..1\n");
                return IFS_EXIT_USAGE;
            }
            bo.planned = 1;
            break;
        case O_POOL:
            if (ifs_ds_parse_size(optarg, &v) || v > 1000000) {
                fprintf(stderr, "ifscore build-responses: --pool-size wants 0..1000000\n");
                return IFS_EXIT_USAGE;
            }
            bo.pool_size = (unsigned)v;
            bo.planned = 1;
            break;
        case O_CAP:
            if (ifs_ds_parse_size(optarg, &v) || v < 1 || v > 1000000000) {
                fprintf(stderr, "ifscore build-responses: --max-per-group wants N >= 1\n");
                return IFS_EXIT_USAGE;
            }
            bo.max_per_group = (unsigned)v;
            bo.planned = 1;
            break;
        case O_REPEAT: bo.repeat_ic = 1; break;
        case O_IC:
            bo.ic_share = strtod(optarg, &end);
            if (*end || bo.ic_share < 0 || bo.ic_share > 1) {
                fprintf(stderr, "ifscore build-responses: --ic-share wants 0..1\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case O_SPLIT:
            if (sscanf(optarg, "%lf,%lf", &bo.train, &bo.validation) != 2 || bo.train < 0 ||
                bo.validation < 0 || bo.train + bo.validation > 1.0 + 1e-9) {
                fprintf(stderr, "ifscore build-responses: --split wants T,V with T+V <= 1\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case O_POLICY: {
            int p = ifs_ds_cut_policy_parse(optarg);
            if (p < 0) {
                fprintf(stderr, "ifscore build-responses: unknown --cut-policy '%s'\n", optarg);
                return IFS_EXIT_USAGE;
            }
            bo.policy = (ifs_ds_cut_policy)p;
            break;
        }
        case O_SREC:
            if (ifs_ds_parse_size(optarg, &so.max_records) || !so.max_records) {
                fprintf(stderr, "ifscore build-responses: --shard-records wants N > 0\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (optind >= argc || !out || !have_seed) {
        fprintf(stderr, "ifscore build-responses: needs PAIRS..., --out and --seed\n");
        return IFS_EXIT_USAGE;
    }
    ifs_ds_build_result r;
    char err[512] = "";
    int rc =
        ifs_ds_build_responses(&bo, &so, argv + optind, argc - optind, out, &r, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ifscore build-responses: %s\n", err);
        return rc == IFS_DS_EARG ? IFS_EXIT_USAGE : IFS_EXIT_FAIL;
    }
    fprintf(stderr, "build-responses: %s\n", r.summary);
    return r.rejected_lines || r.stream_errors ? IFS_EXIT_DATA : IFS_EXIT_OK;
}
