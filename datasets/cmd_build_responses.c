/*
 * cmd_build_responses.c - `ifscore build-responses`: the response set that
 * trains the tone classifier (R -> 1, Ic -> 0, Ic+R -> 0, balanced, split by
 * instruction) from pair records.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"
#include "ifs_cli.h"

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
    enum { O_POS = 256, O_IC, O_SPLIT, O_POLICY, O_SREC, O_REPEAT, O_PAIRS, O_MIX, O_NEG,
           O_TERSE_W, O_TERSE_M, O_HOLD, O_NEAR, O_LEN, O_POOL, O_CAP };
    static const struct option opts[] = {
        { "out", required_argument, 0, 'o' },
        { "seed", required_argument, 0, 's' },
        { "positive-models", required_argument, 0, O_POS },
        { "ic-share", required_argument, 0, O_IC },
        { "split", required_argument, 0, O_SPLIT },
        { "cut-policy", required_argument, 0, O_POLICY },
        { "shard-records", required_argument, 0, O_SREC },
        { "repeat-ic", no_argument, 0, O_REPEAT },
        { "pairs", no_argument, 0, O_PAIRS },
        { "negative-mix", required_argument, 0, O_MIX },
        { "negatives", required_argument, 0, O_NEG },
        { "terse-max-words", required_argument, 0, O_TERSE_W },
        { "terse-models", required_argument, 0, O_TERSE_M },
        { "holdout-source", required_argument, 0, O_HOLD },
        { "near-duplicates", required_argument, 0, O_NEAR },
        { "length-match", no_argument, 0, O_LEN },
        { "pool-size", required_argument, 0, O_POOL },
        { "max-per-group", required_argument, 0, O_CAP },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    ds_build_opts bo = { .policy = IFS_DS_CUT_AUTO, .ic_share = 0.5, .train = 0.8,
                         .validation = 0.1, .pool_size = 4096 };
    uint64_t v;
    ds_sink_opts so = { 0 };
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
            double w[DS_OUT__COUNT];
            char e2[256];
            if (ds_parse_negative_mix(optarg, w, e2, sizeof e2)) {
                fprintf(stderr, "ifscore build-responses: --%s\n", e2);
                return IFS_EXIT_USAGE;
            }
            bo.negative_mix = optarg;
            bo.planned = 1;
            break;
        }
        case O_NEG:
            if (ds_parse_size(optarg, &v) || v < 1 || v > 8) {
                fprintf(stderr, "ifscore build-responses: --negatives wants 1..8\n");
                return IFS_EXIT_USAGE;
            }
            bo.negatives = (unsigned)v;
            bo.planned = 1;
            break;
        case O_TERSE_W:
            if (ds_parse_size(optarg, &v) || v < 1 || v > 100000) {
                fprintf(stderr, "ifscore build-responses: --terse-max-words wants N >= 1\n");
                return IFS_EXIT_USAGE;
            }
            bo.terse_max_words = (unsigned)v;
            bo.planned = 1;
            break;
        case O_TERSE_M: bo.terse_models = optarg; bo.planned = 1; break;
        case O_HOLD: bo.holdout_sources = optarg; bo.planned = 1; break;
        case O_NEAR:
            bo.near_dup = strtod(optarg, &end);
            if (*end || !*optarg || !(bo.near_dup >= 0 && bo.near_dup <= 1)) {
                fprintf(stderr, "ifscore build-responses: --near-duplicates wants 0..1\n");
                return IFS_EXIT_USAGE;
            }
            bo.planned = 1;
            break;
        case O_POOL:
            if (ds_parse_size(optarg, &v) || v > 1000000) {
                fprintf(stderr, "ifscore build-responses: --pool-size wants 0..1000000\n");
                return IFS_EXIT_USAGE;
            }
            bo.pool_size = (unsigned)v;
            bo.planned = 1;
            break;
        case O_CAP:
            if (ds_parse_size(optarg, &v) || v < 1 || v > 1000000000) {
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
            if (ds_parse_size(optarg, &so.max_records) || !so.max_records) {
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
    if (bo.terse_models && !bo.terse_max_words) {
        fprintf(stderr, "ifscore build-responses: --terse-models needs --terse-max-words\n");
        return IFS_EXIT_USAGE;
    }
    if (bo.planned && bo.repeat_ic) {
        fprintf(stderr, "ifscore build-responses: --repeat-ic is the single-pass set's; the "
                        "planned set removes every duplicate\n");
        return IFS_EXIT_USAGE;
    }
    ds_sink *sink;
    ds_read_stats rs;
    char err[512] = "";
    ds_builder *b = ds_build_run('r', "responses", &bo, &so, out, argv + optind,
                                 argc - optind, &sink, &rs, err, sizeof err);
    if (!b) {
        fprintf(stderr, "ifscore build-responses: %s\n", err);
        return IFS_EXIT_FAIL;
    }
    const ds_build_stats *st = ds_builder_stats(b);
    ds_buf extra = { 0 };
    ds_buf_printf(&extra, "\"response_set\":{\"seed\":%llu,\"cut_policy\":\"%s\","
                          "\"ic_share\":%g,\"repeat_ic\":%s,\"train\":%g,\"validation\":%g,",
                  (unsigned long long)bo.seed, ifs_ds_cut_policy_name(bo.policy), bo.ic_share,
                  bo.repeat_ic ? "true" : "false", bo.train, bo.validation);
    if (bo.planned) {
        ds_buf_printf(&extra, "\"planned\":true,\"pairs\":%s,\"negatives\":%u,"
                              "\"terse_max_words\":%u,\"near_duplicates\":%g,"
                              "\"length_match\":%s,\"pool_size\":%u,\"max_per_group\":%u,",
                      bo.pairs ? "true" : "false", bo.negatives ? bo.negatives : bo.pairs ? 2 : 1,
                      bo.terse_max_words, bo.near_dup, bo.length_match ? "true" : "false",
                      bo.pool_size, bo.max_per_group);
        const char *const names[] = { "negative_mix", "terse_models", "holdout_source" };
        const char *vals[] = { bo.negative_mix, bo.terse_models, bo.holdout_sources };
        for (int k = 0; k < 3; k++) {
            ds_buf_printf(&extra, "\"%s\":", names[k]);
            if (vals[k])
                ds_buf_json_str(&extra, vals[k], strlen(vals[k]));
            else
                ds_buf_puts(&extra, "null");
            ds_buf_puts(&extra, ",");
        }
    }
    ds_buf_puts(&extra, "\"positive_models\":");
    if (bo.positive_models)
        ds_buf_json_str(&extra, bo.positive_models, strlen(bo.positive_models));
    else
        ds_buf_puts(&extra, "null");
    ds_buf_puts(&extra, ",");
    int exit_code = IFS_EXIT_OK;
    if (ds_build_finish('r', sink, b, &rs, &extra, err, sizeof err)) {
        fprintf(stderr, "ifscore build-responses: %s\n", err);
        exit_code = IFS_EXIT_FAIL;
    } else if (rs.rejected_total || rs.stream_errors) {
        exit_code = IFS_EXIT_DATA;
    }
    const ds_rset *rset = ds_builder_rset(b);
    if (rset) {
        const ds_rset_stats *ps = ds_rset_get_stats(rset);
        fprintf(stderr,
                "build-responses: %llu pairs (%llu used) -> %llu records (label 1: %llu, "
                "label 0: %llu; train %llu, validation %llu, test %llu, holdout %llu); "
                "%llu instructions in %llu groups; dropped %llu duplicates, %llu with both "
                "labels, %llu over the group cap, %llu to balance; skipped %llu not positive, %llu terse-only too long, "
                "%llu uncuttable, %llu empty; %llu input lines rejected\n",
                (unsigned long long)ps->pairs, (unsigned long long)ps->eligible,
                (unsigned long long)ps->written,
                (unsigned long long)(ps->label_split[1][0] + ps->label_split[1][1] +
                                     ps->label_split[1][2] + ps->label_split[1][3]),
                (unsigned long long)(ps->label_split[0][0] + ps->label_split[0][1] +
                                     ps->label_split[0][2] + ps->label_split[0][3]),
                (unsigned long long)(ps->label_split[0][0] + ps->label_split[1][0]),
                (unsigned long long)(ps->label_split[0][1] + ps->label_split[1][1]),
                (unsigned long long)(ps->label_split[0][2] + ps->label_split[1][2]),
                (unsigned long long)(ps->label_split[0][3] + ps->label_split[1][3]),
                (unsigned long long)ps->instructions, (unsigned long long)ps->groups,
                (unsigned long long)ps->duplicates, (unsigned long long)ps->label_conflicts,
                (unsigned long long)ps->group_capped, (unsigned long long)ps->balance_dropped, (unsigned long long)ps->not_positive,
                (unsigned long long)ps->terse_too_long, (unsigned long long)ps->uncuttable,
                (unsigned long long)ps->empty_response, (unsigned long long)rs.rejected_total);
    } else
    fprintf(stderr,
            "build-responses: %llu pairs -> %llu records (R %llu, Ic %llu, Ic+R %llu; "
            "train %llu, validation %llu, test %llu); skipped: %llu not positive, "
            "%llu uncuttable, %llu empty response, %llu without instruction/response; "
            "%llu repeated Ic made Ic+R; %llu input lines rejected\n",
            (unsigned long long)st->pairs, (unsigned long long)st->written,
            (unsigned long long)st->kind[0], (unsigned long long)st->kind[1],
            (unsigned long long)st->kind[2], (unsigned long long)st->split[0],
            (unsigned long long)st->split[1], (unsigned long long)st->split[2],
            (unsigned long long)st->not_positive, (unsigned long long)st->uncuttable,
            (unsigned long long)st->empty_response,
            (unsigned long long)(st->no_instruction + st->no_response),
            (unsigned long long)st->ic_repeats, (unsigned long long)rs.rejected_total);
    ds_buf_free(&extra);
    ds_builder_free(b);
    ds_sink_free(sink);
    return exit_code;
}
