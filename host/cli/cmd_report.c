/*
 * cmd_report.c - `ifscore report --html OUT.html REPORT.json [--baseline B]`:
 * the report as one self-contained HTML page of SVG charts, and with --svg
 * each chart as its own file (host/ifs_html.h).
 *
 * Decisions:
 *   - Reports are read as `reduce` and `compare` read them (untrusted, every
 *     ratio recomputed); a baseline is compared exactly as `compare` does, so
 *     the page's verdict is the gate's verdict. The page is for reading: a
 *     regression does not change the exit code (that is `compare`'s job).
 *   - Files are written atomically; a chart with nothing to draw (no curve
 *     key, no partial/full split) is not written as a file and is named on
 *     stderr, and the page says why in its place.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ifs_cli.h"
#include "ifs_compare.h"
#include "ifs_html.h"
#include "ifs_io.h"
#include "ifs_reduce.h"
#include "ifs_report.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore report [options] REPORT.json\n"
          "\n"
          "Draws a report (from `score` or `reduce`) as SVG charts: IFS per group with 95%\n"
          "intervals, IFS_partial against IFS_full, IFS curves over the checkpoint key\n"
          "with the plateau, and with a baseline the per-group change. Every figure is\n"
          "recomputed from the report's counts.\n"
          "\n"
          "      --html FILE          one self-contained HTML page (no network, scripts,\n"
          "                           styles or fonts from elsewhere)\n"
          "      --svg DIR            each chart as DIR/<chart>.svg (groups, partial-full,\n"
          "                           curves, delta); DIR is created if missing\n"
          "      --baseline FILE      compare with this report as `ifscore compare` does\n"
          "      --max-drop D         for the comparison (default 0)\n"
          "      --metric M           ifs (default), ifs_partial, ifs_full, all\n"
          "      --allow-classifier-change  compare despite a classifier difference\n"
          "      --title TEXT         the page's title (default \"ifscore report\")\n"
          "  -f, --format FMT         also print the table: text, csv, markdown, json\n"
          "                           (default: text when neither --html nor --svg)\n"
          "  -h, --help\n"
          "\n"
          "Exit codes: 0 ok (a regression against the baseline is shown, not an error:\n"
          "`compare` gates); 1 a report cannot be read or an output cannot be written;\n"
          "2 usage; 3 the baseline cannot be compared (classifier/tokenizer/grouping).\n"
          "Charts and their DOM: docs/compare.md.\n",
          f);
}

static int read_report(const char *path, ifs_reducer **r)
{
    char err[1024];
    if (ifs_report_read(path, r, err, sizeof err))
        return ifs_cli_fail("report", IFS_EXIT_FAIL, "%s", err);
    char why[512];
    if (ifs_reduce_check(*r, 1, why, sizeof why)) {
        ifs_reduce_free(*r);
        *r = NULL;
        return ifs_cli_fail("report", IFS_EXIT_FAIL, "%s: %s", path, why);
    }
    return IFS_EXIT_OK;
}

static int write_svgs(const ifs_reducer *r, const ifs_comparison *cmp, const char *dir)
{
    if (mkdir(dir, 0777) && errno != EEXIST)
        return ifs_cli_fail("report", IFS_EXIT_FAIL, "--svg %s: cannot create the folder: %s", dir,
                            strerror(errno));
    for (int c = 0; c < IFS_CHART_COUNT; c++) {
        if (c == IFS_CHART_DELTA && !cmp)
            continue;
        char err[512], path[4096];
        char *svg;
        size_t len;
        int rc =
            ifs_html_chart(r, cmp, (ifs_chart)c, IFS_HTML_STANDALONE, &svg, &len, err, sizeof err);
        if (rc == IFS_HTML_ENODATA) {
            fprintf(stderr, "ifscore report: %s.svg not written: %s\n",
                    ifs_chart_name((ifs_chart)c), err);
            continue;
        }
        if (rc)
            return ifs_cli_fail("report", IFS_EXIT_FAIL, "%s", err);
        if (snprintf(path, sizeof path, "%s/%s.svg", dir, ifs_chart_name((ifs_chart)c)) >=
            (int)sizeof path) {
            free(svg);
            return ifs_cli_fail("report", IFS_EXIT_FAIL, "--svg %s: path too long", dir);
        }
        rc = ifs_io_atomic_write(path, svg, len, err, sizeof err);
        free(svg);
        if (rc)
            return ifs_cli_fail("report", IFS_EXIT_FAIL, "%s", err);
    }
    return IFS_EXIT_OK;
}

int ifs_cmd_report(int argc, char **argv)
{
    enum { OPT_HTML = 256, OPT_SVG, OPT_BASE, OPT_MAX_DROP, OPT_METRIC, OPT_ALLOW, OPT_TITLE };
    static const struct option opts[] = {
        {"html", required_argument, NULL, OPT_HTML},
        {"svg", required_argument, NULL, OPT_SVG},
        {"baseline", required_argument, NULL, OPT_BASE},
        {"max-drop", required_argument, NULL, OPT_MAX_DROP},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"allow-classifier-change", no_argument, NULL, OPT_ALLOW},
        {"title", required_argument, NULL, OPT_TITLE},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *html = NULL, *svg = NULL, *baseline = NULL, *title = NULL;
    int table = -1;
    ifs_report_format fmt = IFS_FMT_TEXT;
    ifs_compare_opts co;
    ifs_compare_opts_init(&co);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case OPT_HTML: html = optarg; break;
        case OPT_SVG: svg = optarg; break;
        case OPT_BASE: baseline = optarg; break;
        case OPT_MAX_DROP:
            co.max_drop = strtod(optarg, &end);
            if (end == optarg || *end || !(co.max_drop >= 0 && co.max_drop <= 1))
                return ifs_cli_fail("report", IFS_EXIT_USAGE,
                                    "--max-drop must be a number in [0, 1]");
            break;
        case OPT_METRIC:
            if (ifs_compare_metric_parse(optarg, &co.gate))
                return ifs_cli_fail("report", IFS_EXIT_USAGE,
                                    "--metric must be ifs, ifs_partial, ifs_full or all");
            break;
        case OPT_ALLOW: co.allow_identity_change = 1; break;
        case OPT_TITLE: title = optarg; break;
        case 'f':
            if (ifs_report_format_parse(optarg, &fmt))
                return ifs_cli_fail("report", IFS_EXIT_USAGE,
                                    "--format must be text, csv, markdown or json");
            table = 1;
            break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default:
            usage(stderr);
            return ifs_cli_fail("report", IFS_EXIT_USAGE, "unknown option or missing value: %s",
                                argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return ifs_cli_fail("report", IFS_EXIT_USAGE, "expected one report, got %d", argc - optind);
    }
    if (table < 0)
        table = !html && !svg;
    const char *path = argv[optind];

    ifs_reducer *r = NULL, *base = NULL;
    int rc = read_report(path, &r);
    if (!rc && baseline)
        rc = read_report(baseline, &base);
    if (rc) {
        ifs_reduce_free(r);
        return rc;
    }
    char err[1024];
    ifs_comparison *cmp = NULL;
    if (base) {
        co.baseline_name = baseline;
        co.candidate_name = path;
        int crc = ifs_compare(base, r, &co, &cmp, err, sizeof err);
        ifs_reduce_free(base);
        if (crc) {
            ifs_reduce_free(r);
            return ifs_cli_fail("report",
                                crc == IFS_CMP_EIDENTITY || crc == IFS_CMP_EGROUPING
                                    ? IFS_EXIT_DATA
                                    : IFS_EXIT_FAIL,
                                "cannot compare %s with the baseline %s: %s", path, baseline, err);
        }
    }
    if (html) {
        ifs_html_opts o;
        ifs_html_opts_init(&o);
        o.title = title;
        o.report_name = path;
        o.comparison = cmp;
        char *page;
        size_t len;
        if (ifs_html_page(r, &o, &page, &len, err, sizeof err)) {
            rc = ifs_cli_fail("report", IFS_EXIT_FAIL, "%s", err);
        } else {
            if (ifs_io_atomic_write(html, page, len, err, sizeof err))
                rc = ifs_cli_fail("report", IFS_EXIT_FAIL, "%s", err);
            free(page);
        }
    }
    if (!rc && svg)
        rc = write_svgs(r, cmp, svg);
    if (!rc && table) {
        char *text;
        size_t len;
        if (ifs_report_table(r, fmt, &text, &len, err, sizeof err)) {
            rc = ifs_cli_fail("report", IFS_EXIT_FAIL, "%s", err);
        } else {
            fwrite(text, 1, len, stdout);
            free(text);
            if (fflush(stdout))
                rc = ifs_cli_fail("report", IFS_EXIT_FAIL, "cannot write to stdout");
        }
    }
    ifs_compare_free(cmp);
    ifs_reduce_free(r);
    return rc;
}
