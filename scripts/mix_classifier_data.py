#!/usr/bin/env python3
"""mix_classifier_data.py - the "mix" training file of docs/classifier.md: the
issue-18 response set's train and validation records plus a balanced sample of
the old AlpacaEval-only set (scripts/train_default_head.sh's build-responses
output), restricted so that nothing held out leaks in.

usage: scripts/mix_classifier_data.py --new OUT/responses --old OLD_SET_DIR
           --pairs OUT/pairs/ae --out mix.jsonl [--per-label 4000]
           [--val-per-label 450] [--seed 1]

An old record is kept only when
  - its instruction (looked up through source_id in the AlpacaEval pair
    records) is not a selfinstruct one,
  - that exact instruction is in the new set's train or validation split (the
    record takes that split, so near-duplicate groups stay whole),
  - its text is not a text of the new set (any split, so no test or holdout
    text and no label conflict).
Then --per-label records of each label are drawn for train and --val-per-label
for validation (random.Random(seed), from the kept records in input order) and
shuffled; the output is the new train+validation records (in set order) followed
by them, as JSONL. Python only reads and writes JSON here; no model runs.
"""
import argparse, collections, glob, json, os, random, subprocess


def read_dir(d):
    out = []
    for p in sorted(glob.glob(os.path.join(d, "*.jsonl.zst"))):
        raw = subprocess.run(["zstd", "-dc", p], check=True, capture_output=True).stdout
        out += [json.loads(l) for l in raw.decode("utf-8").splitlines() if l.strip()]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--new", required=True)
    ap.add_argument("--old", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-label", type=int, default=4000)
    ap.add_argument("--val-per-label", type=int, default=450)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    pairs = {r["id"]: (r["instruction"], r.get("dataset")) for r in read_dir(a.pairs)}
    old, new = read_dir(a.old), read_dir(a.new)
    split_of = {}
    for r in new:
        if r["source_id"] in pairs:
            split_of.setdefault(pairs[r["source_id"]][0], r["split"])
    new_texts = {r["text"] for r in new}
    keep, why = [], collections.Counter()
    for r in old:
        ins, ds = pairs[r["source_id"]]
        s = split_of.get(ins)
        if ds == "selfinstruct":
            why["selfinstruct"] += 1
        elif s not in ("train", "validation"):
            why[f"instruction in new {s}"] += 1
        elif r["text"] in new_texts:
            why["text in new set"] += 1
        else:
            r = dict(r, split=s, source="alpaca_eval:" + ds)
            keep.append(r)
    rng = random.Random(a.seed)
    by = collections.defaultdict(list)
    for r in keep:
        by[(r["split"], r["label"])].append(r)
    sel = []
    for (s, l), rs in sorted(by.items()):
        sel += rng.sample(rs, min(len(rs), a.per_label if s == "train" else a.val_per_label))
    rng.shuffle(sel)
    tv = [r for r in new if r["split"] in ("train", "validation")]
    with open(a.out, "w") as f:
        for r in tv + sel:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"mix_classifier_data: {len(tv)} new + {len(sel)} old records -> {a.out}; "
          f"old dropped: {dict(why)}")


if __name__ == "__main__":
    main()
