/*
 * cmd_sample.c - `ifscore sample --scores SCORES [options]`: N scored
 * records per group, chosen by a seed and filtered, printed with their
 * response text as JSONL or markdown (host/ifs_sample.h), so a person can
 * read what the classifier called continuation-like.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_io.h"
#include "ifs_sample.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore sample --scores FILE [options]\n"
          "\n"
          "Picks N records per group from the per-record output of `ifscore score\n"
          "--scores`, chosen by a seed (the same seed and filters give the same records,\n"
          "whatever the file's order), and prints them with the response text read back\n"
          "from the shards the scores name.\n"
          "\n"
          "  -s, --scores FILE        the scores file (.jsonl or .jsonl.zst; - for stdin)\n"
          "  -n, --per-group N        records per group (default 5)\n"
          "      --seed S             (default 1)\n"
          "      --group-by KEYS      the run's --group-by fields (default model)\n"
          "      --answer-like        only records called answer-like\n"
          "      --not-answer-like    only records called continuation-like\n"
          "      --label NAME         only records whose argmax label is NAME\n"
          "      --near MARGIN        only records with |p_answer - threshold| < MARGIN\n"
          "      --threshold T        the run's threshold, for --near (default 0.5)\n"
          "      --p-min P, --p-max P only records with P_MIN <= p_answer <= P_MAX\n"
          "      --shard-root DIR     where relative shard paths start (default: here)\n"
          "      --text-field NAME    the shards' response field (default response)\n"
          "      --id-field NAME      (default id)\n"
          "      --instruction-field NAME  shown with the response (default instruction;\n"
          "                           \"\" for none)\n"
          "      --no-text            print the scores lines only (shards not read)\n"
          "  -f, --format FMT         jsonl (default) or markdown\n"
          "  -o, --output FILE        write here (atomically) instead of stdout\n"
          "  -h, --help\n"
          "\n"
          "Exit codes: 0 ok; 1 the scores file or a shard cannot be read, a scores line is\n"
          "malformed, or a shard no longer matches its scores (file and line named);\n"
          "2 usage.\n",
          f);
}

static int parse_prob(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && !*end && *v >= 0 && *v <= 1;
}

int ifs_cmd_sample(int argc, char **argv)
{
    enum {
        OPT_SEED = 256,
        OPT_GROUP,
        OPT_AL,
        OPT_NAL,
        OPT_LABEL,
        OPT_NEAR,
        OPT_TH,
        OPT_PMIN,
        OPT_PMAX,
        OPT_ROOT,
        OPT_TEXT,
        OPT_ID,
        OPT_INSTR,
        OPT_NOTEXT
    };
    static const struct option opts[] = {
        {"scores", required_argument, NULL, 's'},
        {"per-group", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"group-by", required_argument, NULL, OPT_GROUP},
        {"answer-like", no_argument, NULL, OPT_AL},
        {"not-answer-like", no_argument, NULL, OPT_NAL},
        {"label", required_argument, NULL, OPT_LABEL},
        {"near", required_argument, NULL, OPT_NEAR},
        {"threshold", required_argument, NULL, OPT_TH},
        {"p-min", required_argument, NULL, OPT_PMIN},
        {"p-max", required_argument, NULL, OPT_PMAX},
        {"shard-root", required_argument, NULL, OPT_ROOT},
        {"text-field", required_argument, NULL, OPT_TEXT},
        {"id-field", required_argument, NULL, OPT_ID},
        {"instruction-field", required_argument, NULL, OPT_INSTR},
        {"no-text", no_argument, NULL, OPT_NOTEXT},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ifs_sample_opts o;
    ifs_sample_opts_init(&o);
    const char *scores = NULL, *output = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:n:f:o:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's': scores = optarg; break;
        case 'n': {
            long long n = strtoll(optarg, &end, 10);
            if (end == optarg || *end || n < 1 || n > 1000000)
                return ifs_cli_fail("sample", IFS_EXIT_USAGE, "--per-group must be 1..1000000");
            o.per_group = (size_t)n;
            break;
        }
        case OPT_SEED: {
            unsigned long long v = strtoull(optarg, &end, 10);
            if (end == optarg || *end || optarg[0] == '-')
                return ifs_cli_fail("sample", IFS_EXIT_USAGE,
                                    "--seed must be a non-negative integer");
            o.seed = v;
            break;
        }
        case OPT_GROUP: o.group_by = optarg; break;
        case OPT_AL: o.answer_like = 1; break;
        case OPT_NAL: o.answer_like = 0; break;
        case OPT_LABEL: o.label = optarg; break;
        case OPT_NEAR:
            if (!parse_prob(optarg, &o.near_margin) || o.near_margin <= 0 || o.near_margin >= 1)
                return ifs_cli_fail("sample", IFS_EXIT_USAGE, "--near must be a margin in (0, 1)");
            break;
        case OPT_TH:
            if (!parse_prob(optarg, &o.threshold) || o.threshold <= 0 || o.threshold >= 1)
                return ifs_cli_fail("sample", IFS_EXIT_USAGE, "--threshold must be in (0, 1)");
            break;
        case OPT_PMIN:
            if (!parse_prob(optarg, &o.p_min))
                return ifs_cli_fail("sample", IFS_EXIT_USAGE, "--p-min must be in [0, 1]");
            break;
        case OPT_PMAX:
            if (!parse_prob(optarg, &o.p_max))
                return ifs_cli_fail("sample", IFS_EXIT_USAGE, "--p-max must be in [0, 1]");
            break;
        case OPT_ROOT: o.shard_root = optarg; break;
        case OPT_TEXT: o.text_field = optarg; break;
        case OPT_ID: o.id_field = optarg; break;
        case OPT_INSTR: o.instruction_field = optarg; break;
        case OPT_NOTEXT: o.with_text = 0; break;
        case 'f':
            if (!strcmp(optarg, "jsonl"))
                o.format = IFS_SAMPLE_JSONL;
            else if (!strcmp(optarg, "markdown") || !strcmp(optarg, "md"))
                o.format = IFS_SAMPLE_MARKDOWN;
            else
                return ifs_cli_fail("sample", IFS_EXIT_USAGE, "--format must be jsonl or markdown");
            break;
        case 'o': output = optarg; break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default:
            usage(stderr);
            return ifs_cli_fail("sample", IFS_EXIT_USAGE, "unknown option or missing value: %s",
                                argv[optind - 1]);
        }
    }
    if (!scores) {
        usage(stderr);
        return ifs_cli_fail("sample", IFS_EXIT_USAGE, "--scores FILE is required");
    }
    if (optind < argc)
        return ifs_cli_fail("sample", IFS_EXIT_USAGE, "unexpected argument: %s", argv[optind]);
    if (o.p_min > o.p_max)
        return ifs_cli_fail("sample", IFS_EXIT_USAGE, "--p-min is above --p-max");

    char err[1024];
    char *text;
    size_t len;
    ifs_sample_stats st;
    int rc = ifs_sample_run(scores, &o, &text, &len, &st, err, sizeof err);
    if (rc)
        return ifs_cli_fail("sample", rc == IFS_SAMPLE_EARG ? IFS_EXIT_USAGE : IFS_EXIT_FAIL, "%s",
                            err);
    int ex = IFS_EXIT_OK;
    if (output) {
        if (ifs_io_atomic_write(output, text, len, err, sizeof err))
            ex = ifs_cli_fail("sample", IFS_EXIT_FAIL, "%s", err);
    } else {
        fwrite(text, 1, len, stdout);
        if (fflush(stdout))
            ex = ifs_cli_fail("sample", IFS_EXIT_FAIL, "cannot write to stdout");
    }
    free(text);
    if (!ex)
        fprintf(stderr,
                "ifscore sample: %llu records from %llu groups (%llu of %llu scored records "
                "match)\n",
                (unsigned long long)st.sampled, (unsigned long long)st.groups,
                (unsigned long long)st.matched, (unsigned long long)st.lines);
    return ex;
}
