/*
 * cmd_compare.c - `ifscore compare BASELINE.json CANDIDATE.json`: the
 * nightly regression gate. Reads both reports as untrusted input (the
 * checks `reduce` makes, every ratio recomputed), compares them group by
 * group (host/ifs_compare.h) and exits 4 when the candidate regressed.
 *
 * Decisions:
 *   - Exit codes say what a CI job needs to branch on: 0 no regression, 4
 *     regression (IFS_EXIT_REGRESSION), 3 the reports cannot be compared
 *     (different classifier, tokenizer or grouping), 1 a report cannot be
 *     read or an output cannot be written, 2 usage.
 *   - --json and --junit files are written atomically, and before the exit
 *     code is decided, so a failing gate still leaves its artefacts.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_compare.h"
#include "ifs_io.h"
#include "ifs_reduce.h"
#include "ifs_report.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore compare [options] BASELINE.json CANDIDATE.json\n"
          "\n"
          "Compares a candidate report with a baseline, per group and for the whole run:\n"
          "the change in IFS, IFS_partial, IFS_full and the full-minus-partial gap, each\n"
          "with a 95% interval (Newcombe), and the counts behind them. A regression is a\n"
          "drop whose interval lies wholly below -MAX_DROP.\n"
          "\n"
          "  --max-drop D             tolerated drop, in [0, 1] (default 0: any\n"
          "                           significant drop regresses)\n"
          "  --metric M               what gates: ifs (default), ifs_partial, ifs_full, all\n"
          "  --require-same-groups    a group present on one side only fails the gate\n"
          "  --allow-classifier-change  compare reports of different classifiers or\n"
          "                           tokenizer settings (the difference is reported)\n"
          "  -f, --format FMT         stdout: text (default; regressions first), markdown\n"
          "                           (for a CI job summary), json, junit, none\n"
          "      --json FILE          write the comparison as JSON\n"
          "      --junit FILE         write JUnit XML: one testcase per group, a failure\n"
          "                           per regression\n"
          "      --markdown FILE      write the markdown summary\n"
          "  -h, --help\n"
          "\n"
          "Exit codes: 0 no regression; 4 regression found (or, with\n"
          "--require-same-groups, groups differ); 3 the reports cannot be compared\n"
          "(classifier, tokenizer or grouping differ: the field is named); 1 a report\n"
          "cannot be read or is malformed, or an output cannot be written; 2 usage.\n"
          "Definitions and edge cases: docs/compare.md.\n",
          f);
}

static int read_report(const char *path, ifs_reducer **r)
{
    char err[1024];
    int rc = ifs_report_read(path, r, err, sizeof err);
    if (!rc) {
        /* The checks `reduce` runs on what it merged (shard overlap is a
         * property of the run, allowed when it was made with --allow-overlap). */
        char why[512];
        rc = ifs_reduce_check(*r, 1, why, sizeof why);
        if (rc) {
            snprintf(err, sizeof err, "%s: %s", path, why);
            ifs_reduce_free(*r);
            *r = NULL;
        }
    }
    if (rc)
        return ifs_cli_fail("compare", IFS_EXIT_FAIL, "%s", err);
    return IFS_EXIT_OK;
}

static int write_output(const ifs_comparison *c, ifs_compare_format fmt, const char *path)
{
    char err[512];
    char *text;
    size_t len;
    if (ifs_compare_render(c, fmt, &text, &len, err, sizeof err))
        return ifs_cli_fail("compare", IFS_EXIT_FAIL, "%s", err);
    int rc = IFS_EXIT_OK;
    if (!strcmp(path, "-")) {
        fwrite(text, 1, len, stdout);
        if (fflush(stdout))
            rc = ifs_cli_fail("compare", IFS_EXIT_FAIL, "cannot write to stdout");
    } else if (ifs_io_atomic_write(path, text, len, err, sizeof err)) {
        rc = ifs_cli_fail("compare", IFS_EXIT_FAIL, "%s", err);
    }
    free(text);
    return rc;
}

int ifs_cmd_compare(int argc, char **argv)
{
    enum { OPT_MAX_DROP = 256, OPT_METRIC, OPT_SAME, OPT_ALLOW, OPT_JSON, OPT_JUNIT, OPT_MD };
    static const struct option opts[] = {
        {"max-drop", required_argument, NULL, OPT_MAX_DROP},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"require-same-groups", no_argument, NULL, OPT_SAME},
        {"allow-classifier-change", no_argument, NULL, OPT_ALLOW},
        {"format", required_argument, NULL, 'f'},
        {"json", required_argument, NULL, OPT_JSON},
        {"junit", required_argument, NULL, OPT_JUNIT},
        {"markdown", required_argument, NULL, OPT_MD},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ifs_compare_opts o;
    ifs_compare_opts_init(&o);
    const char *json = NULL, *junit = NULL, *md = NULL;
    int quiet = 0;
    ifs_compare_format fmt = IFS_CMP_FMT_TEXT;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case OPT_MAX_DROP:
            o.max_drop = strtod(optarg, &end);
            if (end == optarg || *end || !(o.max_drop >= 0 && o.max_drop <= 1))
                return ifs_cli_fail("compare", IFS_EXIT_USAGE,
                                    "--max-drop must be a number in [0, 1]");
            break;
        case OPT_METRIC:
            if (ifs_compare_metric_parse(optarg, &o.gate))
                return ifs_cli_fail("compare", IFS_EXIT_USAGE,
                                    "--metric must be ifs, ifs_partial, ifs_full or all");
            break;
        case OPT_SAME: o.require_same_groups = 1; break;
        case OPT_ALLOW: o.allow_identity_change = 1; break;
        case 'f':
            if (!strcmp(optarg, "none")) {
                quiet = 1;
            } else if (ifs_compare_format_parse(optarg, &fmt)) {
                return ifs_cli_fail("compare", IFS_EXIT_USAGE,
                                    "--format must be text, markdown, json, junit or none");
            } else {
                quiet = 0;
            }
            break;
        case OPT_JSON: json = optarg; break;
        case OPT_JUNIT: junit = optarg; break;
        case OPT_MD: md = optarg; break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default:
            usage(stderr);
            return ifs_cli_fail("compare", IFS_EXIT_USAGE, "unknown option or missing value: %s",
                                argv[optind - 1]);
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return ifs_cli_fail("compare", IFS_EXIT_USAGE,
                            "expected two reports (BASELINE.json CANDIDATE.json), got %d",
                            argc - optind);
    }
    const char *bpath = argv[optind], *cpath = argv[optind + 1];
    o.baseline_name = bpath;
    o.candidate_name = cpath;

    ifs_reducer *base = NULL, *cand = NULL;
    int rc = read_report(bpath, &base);
    if (!rc)
        rc = read_report(cpath, &cand);
    if (rc) {
        ifs_reduce_free(base);
        return rc;
    }
    char err[1024];
    ifs_comparison *cmp = NULL;
    int crc = ifs_compare(base, cand, &o, &cmp, err, sizeof err);
    ifs_reduce_free(base);
    ifs_reduce_free(cand);
    if (crc == IFS_CMP_EIDENTITY || crc == IFS_CMP_EGROUPING)
        return ifs_cli_fail("compare", IFS_EXIT_DATA, "cannot compare %s with %s: %s", cpath, bpath,
                            err);
    if (crc)
        return ifs_cli_fail("compare", IFS_EXIT_FAIL, "%s", err);

    rc = IFS_EXIT_OK;
    if (json)
        rc = write_output(cmp, IFS_CMP_FMT_JSON, json);
    if (!rc && junit)
        rc = write_output(cmp, IFS_CMP_FMT_JUNIT, junit);
    if (!rc && md)
        rc = write_output(cmp, IFS_CMP_FMT_MARKDOWN, md);
    if (!rc && !quiet)
        rc = write_output(cmp, fmt, "-");
    if (!rc) {
        ifs_compare_summary s;
        ifs_compare_get_summary(cmp, &s);
        rc = s.gate_failed ? IFS_EXIT_REGRESSION : IFS_EXIT_OK;
    }
    ifs_compare_free(cmp);
    return rc;
}
