"""e2e_score_check.py - checks one `ifscore score` run against the counts
e2e_score_data.py wrote (exact), and the report against the per-record
outputs (two separate code paths: the reducer and the scores writer).

Usage: python3 e2e_score_check.py expected.json report.json scores.jsonl rejects.jsonl [--big]
Exits 1 with one line per problem. Python stdlib only.
"""
import json
import os
import sys


def main():
    exp = json.load(open(sys.argv[1]))
    rep = json.load(open(sys.argv[2]))
    scores = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
    rejects = [json.loads(l) for l in open(sys.argv[4], encoding="utf-8")]
    big = "--big" in sys.argv[5:]
    bad = []

    def eq(what, got, want):
        if got != want:
            bad.append(f"{what}: got {got!r}, want {want!r}")

    tot = dict(exp["totals"])
    groups = json.loads(json.dumps(exp["groups"]))
    inputs = exp["inputs"]
    if big:  # the 100 MB line is scored (truncated) instead of rejected
        tot["scored"] += 1
        tot["rejected"] -= 1
        groups["m2"]["full"] += 1
        inputs["big.jsonl"] = {"read": 3, "scored": 3, "rejected": 0, "rejects": {}}
    c = rep["counts"]
    for k in ("read", "scored", "rejected"):
        eq(f"counts.{k}", c[k], tot[k])
    eq("counts.inputs", c["inputs"], len(inputs))
    want_rej = {}
    for v in inputs.values():
        for r, n in v["rejects"].items():
            want_rej[r] = want_rej.get(r, 0) + n
    eq("counts.rejects", c["rejects"], want_rej)
    if big:
        eq("counts.truncated", c["truncated"], 1)
    seen = {}
    for i in rep["inputs"]:
        name = os.path.basename(i["path"])
        seen[name] = i
    eq("input names", sorted(seen), sorted(inputs))
    for name, want in inputs.items():
        got = seen.get(name)
        if not got:
            continue
        for k in ("read", "scored", "rejected", "rejects"):
            eq(f"input {name}.{k}", got[k], want[k])
    gmap = {g["key"]["model"]: g for g in rep["groups"]}
    eq("groups", sorted(gmap), sorted(groups))
    for m, want in groups.items():
        g = gmap.get(m)
        if not g:
            continue
        for t in ("partial", "full", "none"):
            eq(f"group {m}.{t}.n", g["counts"][t]["n"], want[t])

    # The per-record output: one line per scored record, in input order
    # (shards sorted by path, lines increasing), agreeing with the report.
    eq("scores lines", len(scores), tot["scored"])
    order = [(s["shard"], s["line"]) for s in scores]
    if order != sorted(order):
        bad.append("scores are not in input order")
    al = {}
    for s in scores:
        key = (s["model"], s["instruction_type"] or "none")
        n = al.setdefault(key, [0, 0])
        n[0] += 1
        n[1] += 1 if s["answer_like"] else 0
        want_al = s["p_answer"] > rep["classifier"]["threshold"]
        if abs(s["p_answer"] - rep["classifier"]["threshold"]) > 2e-6 and want_al != s["answer_like"]:
            bad.append(f"record {s['id']}: answer_like disagrees with p_answer")
    for m, g in gmap.items():
        for t in ("partial", "full", "none"):
            n, a = al.get((m, t), [0, 0])
            eq(f"scores {m}/{t} n", n, g["counts"][t]["n"])
            eq(f"scores {m}/{t} answer_like", a, g["counts"][t]["answer_like"])
    eq("rejects lines", len(rejects), tot["rejected"])
    rr = {}
    for r in rejects:
        rr[r["reason"]] = rr.get(r["reason"], 0) + 1
    eq("rejects reasons", rr, want_rej)
    order = [(r["shard"], r["line"]) for r in rejects]
    if order != sorted(order):
        bad.append("rejects are not in input order")
    for b in bad:
        print("FAIL", b)
    if bad:
        sys.exit(1)
    print(f"ok: {c['read']} read, {c['scored']} scored, {c['rejected']} rejected, "
          f"{c['answer_like']} answer-like")


if __name__ == "__main__":
    main()
