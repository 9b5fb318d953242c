#!/usr/bin/env python3
"""device_report.py - the last step of scripts/device_check.sh: turns its
work folder (steps.tsv, sub.tsv, raw/*.jsonl) into what $OUT returns.

  device_report.py --work DIR --out DIR --gpu NAME --commit C [--budget S] [--elapsed S]

Writes to --out:
  cuda_forward-<gpu>-<commit>-<shape>.jsonl   one line per shape: ours (f16, two
      handles, with per-stage times and MFU), ours f16 one handle and bf16,
      HF eager (SDPA) and torch.compile on the same ids, the ratios, the goals;
      every run it was made from under "runs"
  cuda_e2e-<gpu>-<commit>-<shape>.jsonl       one line per model: `ifscore score`
      from compressed shards, ours forward-only on the same texts, the HF e2e
      peer, the ratios, the goals; the runs
  device_check.json                           steps, sub-results, every row above
  summary.txt                                 the tables device_check.sh prints last

The goals are issue 17's: ours >= 3x HF eager and >= 1.5x torch.compile
(sequences/s, forward only, f16); BERT-base >= 2.7M tokens/s; MiniLM end
to end within 10% of forward only. A goal whose figures are missing is
"n/a", never met.
"""
import argparse
import json
import os
import sys


def read_tsv(path):
    rows = []
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 3:
                rows.append({"name": f[0], "status": f[1], "seconds": f[2],
                             "note": f[3] if len(f) > 3 else ""})
    return rows


def read_jsonl(path):
    rows = []
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


def pick(rows, bench, label_part):
    for r in rows:
        if r.get("bench") == bench and label_part in (r.get("label") or ""):
            return r
    return None


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def goal(value, target):
    if value is None:
        return "n/a"
    return "met" if value >= target else "missed"


def forward_row(kind, shape, rows, gpu, commit):
    ours = pick(rows, "cuda_forward", "ours f16 2 handles")
    one = pick(rows, "cuda_forward", "ours f16 1 handle")
    bf = pick(rows, "cuda_forward", "ours bf16")
    eager = pick(rows, "hf_forward", "hf eager")
    comp = pick(rows, "hf_forward", "hf compile")
    if not (ours or eager or comp):
        return None
    row = {"bench": "cuda_forward", "shape": shape, "gpu": gpu, "commit": commit}
    if ours:
        row.update({k: ours.get(k) for k in ("label", "host", "sms", "cc", "driver", "runtime",
                                            "hidden", "layers", "heads", "intermediate", "dtype",
                                            "data", "n_seqs", "n_tokens", "longest",
                                            "max_batch_tokens", "max_batch_seqs", "handles",
                                            "batches", "passes", "seconds", "best_seconds",
                                            "seqs_per_s", "tokens_per_s", "model_tflops",
                                            "gemm_peak_tflops", "mfu", "stages")})
    if one:
        row["one_handle"] = {k: one.get(k) for k in ("seqs_per_s", "tokens_per_s", "seconds")}
    if bf:
        row["bf16"] = {k: bf.get(k) for k in ("seqs_per_s", "tokens_per_s", "model_tflops",
                                              "gemm_peak_tflops", "mfu")}
    ours_sps = ours.get("seqs_per_s") if ours else None
    row["peers"] = {"hf_eager_sdpa": eager, "hf_compile": comp}
    row["ratio_vs_hf_eager_sdpa"] = ratio(ours_sps, eager and eager.get("seqs_per_s"))
    row["ratio_vs_hf_compile"] = ratio(ours_sps, comp and comp.get("seqs_per_s"))
    goals = {">=3x hf eager": goal(row["ratio_vs_hf_eager_sdpa"], 3.0),
             ">=1.5x torch.compile": goal(row["ratio_vs_hf_compile"], 1.5)}
    if shape == "bert-base":
        goals[">=2.7M tokens/s"] = goal(ours.get("tokens_per_s") if ours else None, 2.7e6)
    row["goals"] = goals
    row["runs"] = rows
    return row


def e2e_row(kind, shape, rows, gpu, commit):
    fwd = pick(rows, "cuda_forward", "ours forward-only")
    ours = pick(rows, "ifscore_score", "ours e2e")
    peer = pick(rows, "hf_e2e", "hf eager e2e")
    if not (fwd or ours or peer):
        return None
    row = {"bench": "cuda_e2e", "shape": shape, "gpu": gpu, "commit": commit,
           "label": (ours or fwd or peer).get("label"),
           "records": ours and ours.get("records"), "seconds": ours and ours.get("seconds"),
           "seqs_per_s": ours and ours.get("seqs_per_s"),
           "forward_only_seqs_per_s": fwd and fwd.get("seqs_per_s"),
           "forward_only_tokens_per_s": fwd and fwd.get("tokens_per_s"),
           "timings": ours and ours.get("timings"), "peer": peer}
    row["e2e_over_forward_only"] = ratio(row["seqs_per_s"], row["forward_only_seqs_per_s"])
    row["ratio_vs_hf_e2e"] = ratio(row["seqs_per_s"], peer and peer.get("seqs_per_s"))
    goals = {}
    if shape == "minilm":
        goals["within 10% of forward-only"] = goal(row["e2e_over_forward_only"], 0.9)
    row["goals"] = goals
    row["runs"] = rows
    return row


def fmt(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--gpu", default="nogpu")
    p.add_argument("--commit", default="unknown")
    p.add_argument("--budget", type=float, default=0)
    p.add_argument("--elapsed", type=float, default=0)
    a = p.parse_args()
    gpu = (a.gpu or "nogpu").replace(" ", "-")
    commit = a.commit or "unknown"
    os.makedirs(a.out, exist_ok=True)
    steps = read_tsv(os.path.join(a.work, "steps.tsv"))
    subs = read_tsv(os.path.join(a.work, "sub.tsv"))
    raw = os.path.join(a.work, "raw")

    results = {}
    for kind, shape, make, bench in (("fwd_minilm", "minilm", forward_row, "cuda_forward"),
                                     ("fwd_bert", "bert-base", forward_row, "cuda_forward"),
                                     ("e2e_minilm", "minilm", e2e_row, "cuda_e2e"),
                                     ("e2e_bert", "bert-base", e2e_row, "cuda_e2e")):
        row = make(kind, shape, read_jsonl(os.path.join(raw, kind + ".jsonl")), gpu, commit)
        if row is None:
            continue
        results[kind] = row
        name = "%s-%s-%s-%s.jsonl" % (bench, gpu, commit, shape)
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    lines = []
    lines.append("ifscore device check: commit %s, GPU %s, %.0f s of a %.0f s budget"
                 % (commit, gpu, a.elapsed, a.budget))
    lines.append("")
    lines.append("%-12s %-10s %5s  %s" % ("step", "status", "s", "note"))
    for s in steps:
        lines.append("%-12s %-10s %5s  %s" % (s["name"], s["status"], s["seconds"], s["note"][:90]))
    if subs:
        lines.append("")
        lines.append("%-18s %-10s %5s  %s" % ("check", "status", "s", "summary"))
        for s in subs:
            lines.append("%-18s %-10s %5s  %s" % (s["name"], s["status"], s["seconds"], s["note"][:100]))
    fw = [(k, results[k]) for k in ("fwd_minilm", "fwd_bert") if k in results]
    if fw:
        lines.append("")
        lines.append("forward only, f16 (ours: two handles)    seq/s    tok/s    MFU   1 handle  bf16 seq/s"
                     "  eager seq/s  compile seq/s  x eager  x compile")
        for k, r in fw:
            lines.append("%-38s %8s %9s %6s %10s %11s %12s %14s %8s %10s" % (
                r["shape"] + " (" + str(r.get("n_seqs")) + " seqs)", fmt(r.get("seqs_per_s"), ".0f"),
                fmt(r.get("tokens_per_s"), ".3g"), fmt(r.get("mfu"), ".3f"),
                fmt((r.get("one_handle") or {}).get("seqs_per_s"), ".0f"),
                fmt((r.get("bf16") or {}).get("seqs_per_s"), ".0f"),
                fmt((r["peers"]["hf_eager_sdpa"] or {}).get("seqs_per_s"), ".0f"),
                fmt((r["peers"]["hf_compile"] or {}).get("seqs_per_s"), ".0f"),
                fmt(r.get("ratio_vs_hf_eager_sdpa"), ".2f"), fmt(r.get("ratio_vs_hf_compile"), ".2f")))
        for k, r in fw:
            st = r.get("stages") or {}
            parts = sorted(((v["share"], n) for n, v in st.items() if isinstance(v, dict)), reverse=True)
            if parts:
                lines.append("  stages %-9s %s" % (r["shape"], ", ".join("%s %.0f%%" % (n, 100 * sh)
                                                                       for sh, n in parts[:7])))
    ee = [(k, results[k]) for k in ("e2e_minilm", "e2e_bert") if k in results]
    if ee:
        lines.append("")
        lines.append("end to end, f16 (ifscore score)           records   e2e seq/s  fwd-only seq/s"
                     "  e2e/fwd  hf e2e seq/s  x hf")
        for k, r in ee:
            lines.append("%-40s %8s %11s %15s %8s %13s %5s" % (
                (r.get("label") or r["shape"])[:40], fmt(r.get("records"), "d"),
                fmt(r.get("seqs_per_s"), ".0f"), fmt(r.get("forward_only_seqs_per_s"), ".0f"),
                fmt(r.get("e2e_over_forward_only"), ".2f"),
                fmt((r.get("peer") or {}).get("seqs_per_s"), ".0f"), fmt(r.get("ratio_vs_hf_e2e"), ".2f")))
    goals = [(r["shape"] + " " + ("forward" if k.startswith("fwd") else "e2e"), g, v)
             for k, r in results.items() for g, v in r.get("goals", {}).items()]
    if goals:
        lines.append("")
        lines.append("goals (issue 17): " + "; ".join("%s %s: %s" % (w, g, v) for w, g, v in goals))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "summary.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(a.out, "device_check.json"), "w", encoding="utf-8") as f:
        json.dump({"commit": commit, "gpu": gpu, "elapsed_s": a.elapsed, "budget_s": a.budget,
                   "steps": steps, "checks": subs, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
