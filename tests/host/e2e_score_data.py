"""e2e_score_data.py - writes the shards the score end-to-end tests read, and
the exact counts they must produce (expected.json). Python stdlib only; zstd
compression is done by the shell script with the zstd CLI.

Usage: python3 e2e_score_data.py OUTDIR SEED [--no-big]
       python3 e2e_score_data.py --shards OUTDIR SHARDDIR
       python3 e2e_score_data.py --many OUTDIR N_SHARDS N_RECORDS SEED
The second form assembles the shards the tests read into SHARDDIR from the
pieces in OUTDIR (zstd compression through the zstd command line tool).

Shards (plain .jsonl; the script compresses the ones marked 'zst'):
  good-a.jsonl        200 records, models m1/m2, partial/full/no type
  good-b.jsonl        300 records (compressed to good-b.jsonl.zst, 2 frames)
  empty.jsonl         0 bytes; empty-z.jsonl (compressed, empty content)
  bad.jsonl           10 good records and one of each kind of bad line
  frame1.jsonl        50 records: the intact first frame of the damaged shards
  frame2.jsonl        50 records: the second frame (corrupted / truncated)
  big.jsonl           one 100 MB response between two good records
  long31.jsonl        40 records (compressed with zstd --long=31 from a pipe)
  gzipped.jsonl       5 records, gzip-compressed into gzipped.jsonl.zst
Every record's response is made of a small vocabulary so a tiny model runs it.
"""
import gzip
import json
import os
import random
import shutil
import subprocess
import sys

WORDS = ("the a an what if people had legs it seems your question is incomplete "
         "please tell me more about this here are some ideas for you i think that "
         "would be great and then we can see how many cats dogs like to sleep "
         "once upon time there was king who lived in castle near sea").split()


def vocab():
    toks = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    toks += sorted(set(WORDS))
    toks += list("abcdefghijklmnopqrstuvwxyz0123456789.,?!'")
    toks += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"]
    return toks


def record(rng, i, shard):
    n = rng.randint(1, 120)
    text = " ".join(rng.choice(WORDS) for _ in range(n))
    if rng.random() < 0.3:
        text = text.capitalize() + "?"
    r = {"id": f"{shard}-{i}", "model": rng.choice(["m1", "m2", "m3"]), "response": text,
         "instruction": "ignored field"}
    t = rng.random()
    if t < 0.45:
        r["instruction_type"] = "partial"
    elif t < 0.9:
        r["instruction_type"] = "full"
    # else: no type (counts toward IFS only)
    if i % 7 == 0:
        r["step"] = 1000 * (i % 3)
    return r


def main():
    out, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab()) + "\n")
    exp = {"inputs": {}}

    def write(name, lines):
        with open(os.path.join(out, name), "wb") as f:
            for ln in lines:
                f.write(ln if isinstance(ln, bytes) else ln.encode())
                f.write(b"\n")

    groups = {}

    def count(r, times=1):
        g = groups.setdefault(r["model"], {"partial": 0, "full": 0, "none": 0})
        g[r.get("instruction_type", "none")] += times

    def recs(name, n, times=1):
        out = []
        for i in range(n):
            r = record(rng, i, name)
            count(r, times)
            out.append(json.dumps(r))
        return out

    write("good-a.jsonl", recs("good-a", 200))
    exp["inputs"]["good-a.jsonl"] = {"read": 200, "scored": 200, "rejected": 0, "rejects": {}}
    b = recs("good-b", 300)
    write("good-b-1.jsonl", b[:120])
    write("good-b-2.jsonl", b[120:])
    exp["inputs"]["good-b.jsonl.zst"] = {"read": 300, "scored": 300, "rejected": 0, "rejects": {}}
    open(os.path.join(out, "empty.jsonl"), "wb").close()
    open(os.path.join(out, "empty-z.jsonl"), "wb").close()
    exp["inputs"]["empty.jsonl"] = {"read": 0, "scored": 0, "rejected": 0, "rejects": {}}
    exp["inputs"]["empty-z.jsonl.zst"] = {"read": 0, "scored": 0, "rejected": 0, "rejects": {}}

    good = recs("bad", 10)
    bad_lines = [
        (b'{"id": "x1", "model": "m1", "response": "what if"', "invalid_json"),
        (b'{"id": "x2", "model": "m1", response: "what"}', "invalid_json"),
        (b'not json at all', "invalid_json"),
        (b'{"id": "x3", "model": "m1", "response": "caf\xc3 bad"}', "invalid_utf8"),
        (b'{"id": "x4", "model": "m1", "response": "\xed\xa0\x80"}', "invalid_utf8"),
        (b'{"id": "x5", "model": "m1", "text": "no response field"}', "missing_text"),
        (b'{"id": "x6", "model": "m1", "response": null}', "missing_text"),
        (b'{"id": "x7", "response": "no model"}', "missing_group_key"),
        (b'{"id": "x8", "model": "m1", "response": 42}', "text_not_string"),
        (b'{"id": "x9", "model": "m1", "response": "a", "instruction_type": "half"}',
         "unknown_instruction_type"),
        (b'', "empty_line"),
        (b'{"id": "x10", "model": "m1", "response": "cut\\u0000here"}', "nul_in_text"),
        (b'[1, 2, 3]', "not_object"),
    ]
    lines = []
    for i, g in enumerate(good):
        lines.append(g)
        if i < len(bad_lines):
            lines.append(bad_lines[i][0])
    for bl in bad_lines[len(good):]:
        lines.append(bl[0])
    write("bad.jsonl", lines)
    rej = {}
    for _, why in bad_lines:
        rej[why] = rej.get(why, 0) + 1
    exp["inputs"]["bad.jsonl"] = {"read": len(lines), "scored": 10,
                                  "rejected": len(bad_lines), "rejects": rej}

    write("frame1.jsonl", recs("frame1", 50, times=2))  # in corrupt and truncated
    write("frame2.jsonl", recs("frame2", 50, times=0))  # never read
    exp["inputs"]["corrupt.jsonl.zst"] = {"read": 51, "scored": 50, "rejected": 1,
                                          "rejects": {"zstd_corrupt": 1}}
    exp["inputs"]["truncated.jsonl.zst"] = {"read": 51, "scored": 50, "rejected": 1,
                                            "rejects": {"zstd_truncated": 1}}

    # a shard written with zstd --long=31 (frame window 2 GiB) is read whole;
    # a gzip file named .jsonl.zst is one unsupported_compression line
    write("long31.jsonl", recs("long31", 40))
    exp["inputs"]["long31.jsonl.zst"] = {"read": 40, "scored": 40, "rejected": 0, "rejects": {}}
    write("gzipped.jsonl", recs("gzipped", 5, times=0))  # never read
    exp["inputs"]["gzipped.jsonl.zst"] = {"read": 1, "scored": 0, "rejected": 1,
                                          "rejects": {"unsupported_compression": 1}}

    no_big = "--no-big" in sys.argv[3:]
    big = "short" if no_big else "what if " * (100 * 1000 * 1000 // 8)  # 100 MB, 25M words
    b0, b2 = record(rng, 0, "big"), record(rng, 2, "big")
    if not no_big:
        count(b0)
        count(b2)
    write("big.jsonl", [json.dumps(b0),
                        '{"id": "big-1", "model": "m2", "instruction_type": "full", "response": "'
                        + big + '"}',
                        json.dumps(b2)])
    if not no_big:
        exp["inputs"]["big.jsonl"] = {"read": 3, "scored": 2, "rejected": 1,
                                      "rejects": {"line_too_long": 1}}

    tot = {"read": 0, "scored": 0, "rejected": 0}
    for v in exp["inputs"].values():
        for k in tot:
            tot[k] += v[k]
    exp["totals"] = tot
    exp["groups"] = groups
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1, sort_keys=True)


def zstd(path):
    return subprocess.run(["zstd", "-q", "-c", path], check=True, stdout=subprocess.PIPE).stdout


def shards(gen, out):
    """good-a, empty, bad, big as they are; good-b in two zstd frames; an
    empty zstd shard; corrupt = intact frame + a frame with a junk magic
    number; truncated = intact frame + the first 3 bytes of another."""
    os.makedirs(out, exist_ok=True)
    for name in ("good-a.jsonl", "empty.jsonl", "bad.jsonl"):
        shutil.copy(os.path.join(gen, name), os.path.join(out, name))
    if os.path.exists(os.path.join(gen, "expected.json")) and \
            "big.jsonl" in open(os.path.join(gen, "expected.json")).read():
        shutil.move(os.path.join(gen, "big.jsonl"), os.path.join(out, "big.jsonl"))
    g = lambda n: os.path.join(gen, n)
    with open(os.path.join(out, "good-b.jsonl.zst"), "wb") as f:
        f.write(zstd(g("good-b-1.jsonl")) + zstd(g("good-b-2.jsonl")))
    with open(os.path.join(out, "empty-z.jsonl.zst"), "wb") as f:
        f.write(zstd(g("empty-z.jsonl")))
    f1, f2 = zstd(g("frame1.jsonl")), zstd(g("frame2.jsonl"))
    with open(os.path.join(out, "corrupt.jsonl.zst"), "wb") as f:
        f.write(f1 + b"JUNK" + f2[4:])
    with open(os.path.join(out, "truncated.jsonl.zst"), "wb") as f:
        f.write(f1 + f2[:3])
    with open(g("long31.jsonl"), "rb") as src:  # from a pipe: the frame keeps the 2^31 window
        z = subprocess.run(["zstd", "-q", "--long=31", "-c"], check=True, stdin=src,
                           stdout=subprocess.PIPE).stdout
    assert z[5] == 21 << 3, "zstd --long=31 fixture does not declare a 2 GiB window"
    with open(os.path.join(out, "long31.jsonl.zst"), "wb") as f:
        f.write(z)
    with open(g("gzipped.jsonl"), "rb") as src, \
            open(os.path.join(out, "gzipped.jsonl.zst"), "wb") as f:
        f.write(gzip.compress(src.read()))


def many(out, n_shards, n_rec, seed):
    """n_shards plain shards s00.jsonl... of n_rec good records each, and the
    vocab, for the resume and budget tests."""
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab()) + "\n")
    for k in range(n_shards):
        with open(os.path.join(out, "s%02d.jsonl" % k), "w") as f:
            for i in range(n_rec):
                f.write(json.dumps(record(rng, i, "s%02d" % k)) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "--shards":
        shards(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "--many":
        many(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
