/*
 * cmd_reduce.c - `ifscore reduce`: merge report.json files from separate runs
 * (Slurm array tasks, nightly slices) into the report one run over all their
 * inputs would have written, and print it as a table.
 *
 * Decisions:
 *   - Reports carry counts, never only ratios, so the merge is a sum; every
 *     figure is then recomputed from the sums (ifs_report.h).
 *   - Refuses reports from different classifiers, tokenizer settings or
 *     group-by keys, and a shard present in two reports (same sha256, with
 *     lines), since that would count it twice. --allow-overlap merges anyway,
 *     for deliberate re-scoring of the same data; the shard is then listed
 *     and counted twice.
 *   - Refuses a merge of slices (score --slice, Slurm array tasks) with a
 *     slice missing, naming it: a merge that silently lacks a task's shards
 *     would look complete. --allow-partial merges anyway and keeps the
 *     record of which slices are in (docs/slurm.md).
 *   - The order of the arguments does not matter: the output is sorted.
 *   - Curves and plateaus are presentation: they follow the first report's
 *     settings unless --curve-key/--no-curves/--plateau-* say otherwise.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_reduce.h"
#include "ifs_report.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore reduce [options] REPORT.json [REPORT.json ...]\n"
          "\n"
          "Merges reports written by `ifscore score` (or by reduce) into one, exactly the\n"
          "report a single run over all their inputs gives (timings aside), and prints it.\n"
          "\n"
          "  -o, --output PATH        write the merged report.json here (atomically)\n"
          "  -f, --format FMT         table on stdout: text (default), csv, markdown, json\n"
          "  -q, --quiet              print no table\n"
          "      --allow-overlap      merge even when a shard (same sha256) is in two\n"
          "                           reports; it is then counted twice\n"
          "      --allow-partial      merge slices of a sliced run (score --slice, Slurm\n"
          "                           array tasks) even when some are missing; the report\n"
          "                           then lists the slices it holds\n"
          "      --no-timings         leave run timings out of the report (-o, -f json)\n"
          "      --curve-key KEY      draw IFS curves over this group-by key\n"
          "      --no-curves          draw no curves\n"
          "      --auto-curves        curve key = last group-by key whose values are all\n"
          "                           numbers (the default when `score` was not told)\n"
          "      --plateau-eps E      plateau tolerance on IFS (default: the first report's)\n"
          "      --plateau-min-after N  later checkpoints that must confirm a plateau\n"
          "  -h, --help\n"
          "\n"
          "Exit codes: 0 ok; 1 a report cannot be read or is malformed; 2 usage;\n"
          "3 reports cannot be merged (different classifier/tokenizer/grouping, a shard\n"
          "counted twice, counts that do not add up, a slice missing).\n"
          "Schema: docs/report-schema.md.\n",
          f);
}

static int exit_code(int rc)
{
    switch (rc) {
    case IFS_RED_OK: return IFS_EXIT_OK;
    case IFS_RED_EMISMATCH:
    case IFS_RED_EOVERLAP:
    case IFS_RED_ECOUNT:
    case IFS_RED_EMISSING: return IFS_EXIT_DATA;
    default: return IFS_EXIT_FAIL;
    }
}

int ifs_cmd_reduce(int argc, char **argv)
{
    enum {
        OPT_OVERLAP = 256,
        OPT_CURVE,
        OPT_NO_CURVES,
        OPT_AUTO,
        OPT_EPS,
        OPT_MIN_AFTER,
        OPT_PARTIAL,
        OPT_NO_TIMINGS
    };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"allow-overlap", no_argument, NULL, OPT_OVERLAP},
        {"allow-partial", no_argument, NULL, OPT_PARTIAL},
        {"no-timings", no_argument, NULL, OPT_NO_TIMINGS},
        {"curve-key", required_argument, NULL, OPT_CURVE},
        {"no-curves", no_argument, NULL, OPT_NO_CURVES},
        {"auto-curves", no_argument, NULL, OPT_AUTO},
        {"plateau-eps", required_argument, NULL, OPT_EPS},
        {"plateau-min-after", required_argument, NULL, OPT_MIN_AFTER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL, *curve_key = NULL;
    int quiet = 0, allow_overlap = 0, curve_set = 0, allow_partial = 0, no_timings = 0;
    double eps = -1;
    long min_after = -1;
    ifs_report_format fmt = IFS_FMT_TEXT;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:f:qh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'o': output = optarg; break;
        case 'f':
            if (ifs_report_format_parse(optarg, &fmt))
                return ifs_cli_fail("reduce", IFS_EXIT_USAGE,
                                    "--format must be text, csv, markdown or json");
            break;
        case 'q': quiet = 1; break;
        case OPT_OVERLAP: allow_overlap = 1; break;
        case OPT_PARTIAL: allow_partial = 1; break;
        case OPT_NO_TIMINGS: no_timings = 1; break;
        case OPT_CURVE:
            if (!*optarg)
                return ifs_cli_fail("reduce", IFS_EXIT_USAGE, "--curve-key needs a key name");
            curve_key = optarg;
            curve_set = 1;
            break;
        case OPT_NO_CURVES:
            curve_key = "";
            curve_set = 1;
            break;
        case OPT_AUTO:
            curve_key = NULL;
            curve_set = 1;
            break;
        case OPT_EPS:
            eps = strtod(optarg, &end);
            if (end == optarg || *end || !(eps >= 0 && eps <= 1))
                return ifs_cli_fail("reduce", IFS_EXIT_USAGE,
                                    "--plateau-eps must be a number in [0, 1]");
            break;
        case OPT_MIN_AFTER:
            min_after = strtol(optarg, &end, 10);
            if (end == optarg || *end || min_after < 0 || min_after > 1000000)
                return ifs_cli_fail("reduce", IFS_EXIT_USAGE,
                                    "--plateau-min-after must be 0..1000000");
            break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default:
            usage(stderr);
            return ifs_cli_fail("reduce", IFS_EXIT_USAGE, "unknown option or missing value: %s",
                                argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return ifs_cli_fail("reduce", IFS_EXIT_USAGE, "no report given");
    }

    char err[512];
    ifs_reducer *acc = NULL;
    int rc = ifs_report_read(argv[optind], &acc, err, sizeof err);
    if (rc)
        return ifs_cli_fail("reduce", exit_code(rc), "%s", err);
    for (int i = optind + 1; i < argc; i++) {
        ifs_reducer *r;
        rc = ifs_report_read(argv[i], &r, err, sizeof err);
        if (rc) {
            ifs_reduce_free(acc);
            return ifs_cli_fail("reduce", exit_code(rc), "%s", err);
        }
        char why[512];
        rc = ifs_reduce_merge(acc, r, allow_overlap ? IFS_RED_ALLOW_OVERLAP : 0, why, sizeof why);
        ifs_reduce_free(r);
        if (rc) {
            ifs_reduce_free(acc);
            return ifs_cli_fail("reduce", exit_code(rc), "cannot merge %s into %s: %s", argv[i],
                                argv[optind], why);
        }
    }
    if ((curve_set && (rc = ifs_reduce_set_curve_key(acc, curve_key, err, sizeof err))) ||
        (rc = ifs_reduce_set_plateau(acc, eps, (int32_t)min_after, err, sizeof err))) {
        ifs_reduce_free(acc);
        return ifs_cli_fail("reduce", IFS_EXIT_USAGE, "%s", err);
    }
    rc = ifs_reduce_check(acc, allow_overlap, err, sizeof err);
    if (rc) {
        ifs_reduce_free(acc);
        return ifs_cli_fail("reduce", exit_code(rc), "merged counts fail the checks: %s", err);
    }
    if (!allow_partial && (rc = ifs_reduce_check_slices(acc, err, sizeof err))) {
        ifs_reduce_free(acc);
        return ifs_cli_fail("reduce", exit_code(rc), "%s", err);
    }
    if (output) {
        rc = ifs_report_write(acc, output, no_timings ? IFS_REPORT_NO_TIMINGS : 0, err, sizeof err);
        if (rc) {
            ifs_reduce_free(acc);
            return ifs_cli_fail("reduce", exit_code(rc), "%s", err);
        }
    }
    if (!quiet) {
        char *text;
        size_t len;
        /* -f json prints the report itself: the same bytes as -o writes. */
        rc = fmt == IFS_FMT_JSON ? ifs_report_json(acc, no_timings ? IFS_REPORT_NO_TIMINGS : 0,
                                                   &text, &len, err, sizeof err)
                                 : ifs_report_table(acc, fmt, &text, &len, err, sizeof err);
        if (rc) {
            ifs_reduce_free(acc);
            return ifs_cli_fail("reduce", exit_code(rc), "%s", err);
        }
        fwrite(text, 1, len, stdout);
        free(text);
        if (fflush(stdout)) {
            ifs_reduce_free(acc);
            return ifs_cli_fail("reduce", IFS_EXIT_FAIL, "cannot write to stdout");
        }
    }
    ifs_reduce_free(acc);
    return IFS_EXIT_OK;
}
