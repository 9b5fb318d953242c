#!/usr/bin/env python3
"""eval_classifier.py - measure a tone classifier on a response set's held-out
records (issue 18's measures), using `ifscore classify` for the predictions.

usage: scripts/eval_classifier.py --model DIR --set RESPONSE_SET_DIR
           [--splits test,holdout] [--max-len 64] [--ifscore build/ifscore]
           [--work DIR] [--json OUT.json]

Reads the set's *.jsonl.zst shards (records {id,text,label,split,kind,source}),
keeps the records of the named splits, classifies their "text" with
`ifscore classify --format jsonl` (predictions cached in --work by model and
split, so a second run is free), and prints accuracy / precision / recall of
the answer-like label per split, per split x kind, per split x source, and the
share of terse positives (under 20 tokens incl. [CLS]/[SEP], as ifscore counts
them) called answer-like. Python computes metrics only; no model runs here.
A pair classifier (config.json "ifs_input": "pair") is given each record's
"instruction" too (`classify --instruction-field instruction`: the pair form of
build-responses --pairs); a record without one is then an error line.
"""
import argparse, collections, glob, hashlib, json, os, subprocess, sys


def read_set(d, splits):
    try:
        import zstandard
    except ImportError:
        zstandard = None
    recs = []
    for p in sorted(glob.glob(os.path.join(d, "*.jsonl.zst")) + glob.glob(os.path.join(d, "*.jsonl"))):
        if p.endswith(".zst"):
            if zstandard is None:
                raw = subprocess.run(["zstd", "-dc", p], check=True, capture_output=True).stdout
            else:
                raw = zstandard.ZstdDecompressor().stream_reader(open(p, "rb")).read()
        else:
            raw = open(p, "rb").read()
        for line in raw.decode("utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                if r.get("split") in splits:
                    recs.append(r)
    return recs


def metrics(rows):
    tp = sum(1 for y, p in rows if y == 1 and p == 1)
    tn = sum(1 for y, p in rows if y == 0 and p == 0)
    fp = sum(1 for y, p in rows if y == 0 and p == 1)
    fn = sum(1 for y, p in rows if y == 1 and p == 0)
    n = len(rows)
    return {"n": n, "accuracy": (tp + tn) / n if n else None,
            # precision of a group without positives says nothing: left out
            "precision": tp / (tp + fp) if tp + fp and tp + fn else None,
            "recall": tp / (tp + fn) if tp + fn else None,
            "answer_like": (tp + fp) / n if n else None}


def fmt(m):
    f = lambda v: "   -  " if v is None else f"{v:6.3f}"
    return f"{m['n']:6d} acc {f(m['accuracy'])} prec {f(m['precision'])} rec {f(m['recall'])} called-answer {f(m['answer_like'])}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--set", required=True)
    ap.add_argument("--splits", default="test,holdout")
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--ifscore", default="build/ifscore")
    ap.add_argument("--work", default="out/eval-classifier")
    ap.add_argument("--json")
    ap.add_argument("--terse-tokens", type=int, default=20)
    a = ap.parse_args()
    splits = a.splits.split(",")
    recs = read_set(a.set, set(splits))
    os.makedirs(a.work, exist_ok=True)
    with open(os.path.join(a.model, "config.json")) as f:
        pair = json.load(f).get("ifs_input") == "pair"
    key = hashlib.sha256(f"{os.path.realpath(a.model)}|{a.set}|{a.splits}|{a.max_len}|{pair}".encode()).hexdigest()[:12]
    inp, outp = os.path.join(a.work, f"in-{key}.jsonl"), os.path.join(a.work, f"pred-{key}.jsonl")
    if not os.path.exists(outp):
        with open(inp, "w") as f:
            for r in recs:
                rec = {"text": r["text"]}
                if pair and "instruction" in r:
                    rec["instruction"] = r["instruction"]
                f.write(json.dumps(rec) + "\n")
        pair_args = ["--instruction-field", "instruction"] if pair else []
        with open(outp + ".tmp", "w") as f:
            rc = subprocess.run([a.ifscore, "classify", "--model", a.model, "--field", "text",
                                 *pair_args, "--format", "jsonl", "--max-len", str(a.max_len), inp],
                                stdout=f).returncode
        if rc not in (0, 3):
            sys.exit(f"eval_classifier: ifscore classify exited {rc}")
        os.replace(outp + ".tmp", outp)
    preds = [json.loads(l) for l in open(outp) if l.strip()]
    if len(preds) != len(recs):
        sys.exit(f"eval_classifier: {len(preds)} predictions for {len(recs)} records")
    groups = collections.defaultdict(list)
    terse = collections.defaultdict(list)
    for r, p in zip(recs, preds):
        if "label_id" not in p:
            continue
        row = (int(r["label"]), int(p["label_id"]))
        s = r["split"]
        groups[(s, "all", "")].append(row)
        groups[(s, "kind", r.get("kind", "?"))].append(row)
        groups[(s, "source", r.get("source", "?"))].append(row)
        if row[0] == 1 and p.get("n_tokens", 999) < a.terse_tokens:
            terse[s].append(row)
    out = {"model": a.model, "set": a.set, "max_len": a.max_len, "groups": {}, "terse": {}}
    for s in splits:
        print(f"== split {s}")
        for (gs, what, name), rows in sorted(groups.items()):
            if gs != s:
                continue
            m = metrics(rows)
            out["groups"][f"{s}/{what}/{name}"] = m
            print(f"  {what:6} {name:28} {fmt(m)}")
        m = metrics(terse[s])
        out["terse"][s] = m
        print(f"  terse positives (< {a.terse_tokens} tokens): {m['n']} records, called answer-like "
              f"{'-' if m['answer_like'] is None else format(m['answer_like'], '.3f')}")
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
