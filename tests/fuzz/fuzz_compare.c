/*
 * fuzz_compare.c - compare and the HTML report read reports as untrusted
 * input and render their strings into text, markdown, JSON, JUnit XML, SVG
 * and HTML. Feeds arbitrary bytes to ifs_report_parse; whatever it accepts
 * is compared with itself and with itself merged twice (the same ratios), and
 * every rendering is made. Properties, checked on every accepted input:
 *   - a report never regresses against itself or against a copy with every
 *     count doubled (equal proportions), and the whole run row is present;
 *   - every rendering has the length it says, and the XML/HTML/SVG outputs
 *     carry no byte XML 1.0 forbids (C0 controls other than tab, newline).
 * A violated property aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_compare.h"
#include "ifs_html.h"
#include "ifs_reduce.h"
#include "ifs_report.h"

static void die(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_compare: %s: %s\n", what, err ? err : "");
    abort();
}

static void xml_clean(const char *s, size_t n, const char *what)
{
    if (strlen(s) != n)
        die(what, "length differs from the text");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\n' && c != '\t')
            die(what, "a control character XML cannot hold");
    }
}

static void exercise(const ifs_reducer *a, const ifs_reducer *b, int expect_clean)
{
    char err[512];
    ifs_compare_opts o;
    ifs_compare_opts_init(&o);
    o.gate = IFS_CMP_GATE_ALL;
    o.require_same_groups = 1;
    ifs_comparison *c = NULL;
    if (ifs_compare(a, b, &o, &c, err, sizeof err))
        die("comparing two reports of one identity failed", err);
    ifs_compare_summary s;
    ifs_compare_get_summary(c, &s);
    if (expect_clean && (s.gate_failed || s.regressions || s.base_only || s.cand_only))
        die("a report regressed against equal proportions of itself", NULL);
    const ifs_compare_row *t = ifs_compare_row_at(c, 0);
    if (!t || !t->is_total || s.n_rows < 1)
        die("the whole-run row is missing", NULL);
    for (int f = IFS_CMP_FMT_TEXT; f <= IFS_CMP_FMT_VERDICT; f++) {
        char *text = NULL;
        size_t len = 0;
        if (ifs_compare_render(c, (ifs_compare_format)f, &text, &len, err, sizeof err))
            die("a rendering failed", err);
        if (f == IFS_CMP_FMT_JUNIT)
            xml_clean(text, len, "junit");
        else if (strlen(text) != len)
            die("a rendering's length is wrong", NULL);
        free(text);
    }
    for (int ch = 0; ch < IFS_CHART_COUNT; ch++) {
        char *svg = NULL;
        size_t len = 0;
        int rc =
            ifs_html_chart(b, c, (ifs_chart)ch, IFS_HTML_STANDALONE, &svg, &len, err, sizeof err);
        if (rc == IFS_HTML_ENODATA)
            continue;
        if (rc)
            die("a chart failed", err);
        xml_clean(svg, len, "svg");
        free(svg);
    }
    ifs_html_opts ho;
    ifs_html_opts_init(&ho);
    ho.comparison = c;
    char *page = NULL;
    size_t len = 0;
    if (ifs_html_page(b, &ho, &page, &len, err, sizeof err))
        die("the page failed", err);
    xml_clean(page, len, "html");
    free(page);
    ifs_compare_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    ifs_reducer *r = NULL, *twice = NULL;
    if (ifs_report_parse((const char *)data, size, &r, err, sizeof err))
        return 0;
    if (ifs_report_parse((const char *)data, size, &twice, err, sizeof err))
        die("a report parsed once does not parse again", err);
    if (ifs_reduce_merge(twice, r, IFS_RED_ALLOW_OVERLAP, err, sizeof err))
        die("a report does not merge with itself", err);
    exercise(r, r, 1);
    exercise(r, twice, 1);
    exercise(twice, r, 1);
    ifs_reduce_free(r);
    ifs_reduce_free(twice);
    return 0;
}
