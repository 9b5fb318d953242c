"""e2e_report_html_check.py - checks for e2e_report_html.sh, stdlib only.

  dom PAGE_DOM REPORT_JSON [COMPARE_JSON]   the DOM chromium dumped, against the
                                             report (and comparison) it was drawn from
  png FILE                                   a screenshot is a PNG that is not blank
  svg DIR                                    every exported chart is a standalone SVG
  console STDERR                             chromium logged no console message
  render PAGE_DOM LIMIT_MS                   the page's own layout time is under LIMIT

Each prints "ok   name" / "FAIL name" lines and exits 1 when a check failed.
"""
import json
import os
import re
import struct
import sys
import zlib
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

fails = 0


def check(name, cond, detail=""):
    global fails
    print(("ok   " if cond else "FAIL ") + name + ("" if cond or not detail else ": " + detail))
    fails += not cond


class Dom(HTMLParser):
    """Counts elements by (tag, class) inside each <svg id="chart-...">."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []          # open svg ids
        self.counts = {}         # (svg id, tag, class) -> n
        self.body = {}
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "body":
            self.body = a
        if tag == "svg":
            self.stack.append(a.get("id", ""))
        where = self.stack[-1] if self.stack else ""
        for cls in (a.get("class") or "").split() or [""]:
            key = (where, tag, cls)
            self.counts[key] = self.counts.get(key, 0) + 1

    def handle_endtag(self, tag):
        if tag == "svg" and self.stack:
            self.stack.pop()

    def n(self, svg, tag, cls):
        return self.counts.get(("chart-" + svg, tag, cls), 0)


def parse_dom(path):
    d = Dom()
    d.feed(open(path, encoding="utf-8").read())
    return d


def cmd_dom(page, report, compare=None):
    d = parse_dom(page)
    r = json.load(open(report))
    groups = [g for g in r["groups"] if g["n"] > 0]
    check("one_bar_per_group", d.n("groups", "rect", "bar") == len(groups),
          "%d bars, %d groups" % (d.n("groups", "rect", "bar"), len(groups)))
    curves = r.get("curves") or {"series": []}
    drawn = [s for s in curves["series"] if len(s["points"]) >= 2]
    if drawn:
        check("one_curve_per_model", d.n("curves", "path", "curve") == len(drawn),
              "%d curves, %d series" % (d.n("curves", "path", "curve"), len(drawn)))
        plateaus = [s for s in drawn if s["plateau"] is not None]
        check("the_plateau_marker_is_present", len(plateaus) > 0 and
              d.n("curves", "circle", "plateau") == len(plateaus),
              "%d markers, %d plateaus" % (d.n("curves", "circle", "plateau"), len(plateaus)))
    else:
        check("no_curve_chart_without_curves", "chart-curves" not in d.ids)
    both = [g for g in groups if g["n_partial"] and g["n_full"]]
    if both:
        check("one_point_per_group_with_both_splits",
              d.n("partial-full", "circle", "point") == len(both))
        check("the_diagonal_is_drawn", d.n("partial-full", "line", "diagonal") == 1)
    check("the_run_facts_are_shown", "section-facts" in d.ids and "inputs" in d.ids)
    if compare:
        c = json.load(open(compare))
        reg = len(c["regressed"]) + (1 if c["result"]["whole_run_regressed"] else 0)
        check("regressions_are_highlighted", d.n("delta", "g", "regression") == reg,
              "%d highlighted, %d regressions" % (d.n("delta", "g", "regression"), reg))
        check("the_verdict_is_shown", "verdict" in d.ids)


def unpng(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError("unexpected PNG format %d/%d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def cmd_png(path):
    try:
        w, h, bpp, rows = unpng(path)
    except Exception as e:  # noqa: BLE001 - any failure to decode is the finding
        check("the_screenshot_is_a_png", False, str(e))
        return
    check("the_screenshot_is_a_png", w > 100 and h > 100, "%dx%d" % (w, h))
    colors, ink = set(), 0
    for row in rows[::4]:
        for x in range(0, w * bpp, bpp * 4):
            px = row[x:x + 3]
            colors.add(px)
            ink += px != b"\xff\xff\xff"
    sampled = len(rows[::4]) * len(range(0, w * bpp, bpp * 4))
    check("the_screenshot_is_not_blank", ink > sampled * 0.02 and len(colors) > 16,
          "%.1f%% non-white, %d colours" % (100.0 * ink / sampled, len(colors)))


def cmd_svg(folder):
    names = sorted(os.listdir(folder))
    check("charts_were_exported", len(names) >= 2, ", ".join(names))
    for n in names:
        root = ET.parse(os.path.join(folder, n)).getroot()
        check(n + "_is_a_standalone_svg", root.tag == "{http://www.w3.org/2000/svg}svg" and
              root.get("id") == "chart-" + n[:-4])
        text = open(os.path.join(folder, n), encoding="utf-8").read()
        check(n + "_references_nothing_outside_itself",
              not re.search(r"href=|src=|url\(|@import", text))


def cmd_console(path):
    lines = [l for l in open(path, errors="replace") if "CONSOLE" in l or "Uncaught" in l]
    check("no_console_messages", not lines, "".join(lines[:3]).strip())


def cmd_console_expect(path):
    lines = [l for l in open(path, errors="replace") if "CONSOLE" in l]
    check("the_console_check_sees_a_console_error", len(lines) > 0)


def cmd_render(page, limit):
    d = parse_dom(page)
    ms = d.body.get("data-render-ms")
    check("the_page_measured_its_layout_time", ms is not None)
    if ms is not None:
        print("     layout %s ms (navigation start to end of layout, in the browser)" % ms)
        check("the_page_lays_out_in_under_%s_ms" % limit, float(ms) < float(limit), ms)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"dom": cmd_dom, "png": cmd_png, "svg": cmd_svg, "console": cmd_console,
     "console-expect": cmd_console_expect, "render": cmd_render}[cmd](*args)
    sys.exit(1 if fails else 0)
