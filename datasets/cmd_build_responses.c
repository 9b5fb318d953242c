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
          "Exit: 0 ok; 1 failure; 2 usage; 3 input lines were rejected.\n",
          f);
}

int ifs_cmd_build_responses(int argc, char **argv)
{
    enum { O_POS = 256, O_IC, O_SPLIT, O_POLICY, O_SREC, O_REPEAT };
    static const struct option opts[] = {
        { "out", required_argument, 0, 'o' },
        { "seed", required_argument, 0, 's' },
        { "positive-models", required_argument, 0, O_POS },
        { "ic-share", required_argument, 0, O_IC },
        { "split", required_argument, 0, O_SPLIT },
        { "cut-policy", required_argument, 0, O_POLICY },
        { "shard-records", required_argument, 0, O_SREC },
        { "repeat-ic", no_argument, 0, O_REPEAT },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    ds_build_opts bo = { .policy = IFS_DS_CUT_AUTO, .ic_share = 0.5, .train = 0.8,
                         .validation = 0.1 };
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
