#!/usr/bin/env python3
"""ref_tok_trunc.py - HF's truncated encodings, the reference for the early
stop of tokenizer/tok_encode.c (tests/tokenizer/parity_tok_corpus.c).

Subcommands:

  trunc MODEL SHARED OUT [--every K] [--limit N]
      Every K-th record (default 60) of SHARED/data/alpaca_eval_outputs/*.json.zst
      (sorted files, array order; record r is taken when r % K == 0) as an
      (instruction, output) pair into OUT/pairs.bin, and into OUT/trunc.bin
      HF's ids and type ids for each case of CASES, uncased config (the
      checkpoint as shipped):
        single, max_len L:   tok(output, truncation=True, max_length=L)
        pair, L, a_max = 0:  tok(instruction, output, truncation="longest_first",
                                 max_length=L)
        pair, L, a_max > 0:  the fast tokenizer's call written in
                             tokenizer/ifs_tok.h above ifs_tok_encode_pair_cap:
                             ea = bt.encode(a, add_special_tokens=False)
                             ea.truncate(a_max); eb = bt.encode(b, ...)
                             bt.enable_truncation(L, strategy="longest_first")
                             bt.post_process(ea, eb, add_special_tokens=True)
      For speed each text is encoded once (no truncation) and every case is
      made with post_process on it, which is what tok() does inside; on a
      sample of records the tok() calls above are made too and must agree.
  texts SHARED OUT_FILE
      Every `output` of the corpus into OUT_FILE in ref_tokenize.py's texts.bin
      format (no tokenizing): the input of benchmarks/tokenizer/bench_tok.

Layout (little endian):
  pairs.bin = "IFSPAIR\\0", u32 n, n x (u32 record, u32 alen, a bytes, u32 blen,
              b bytes)
  trunc.bin = "IFSTRC1\\0", u32 n_cases, n_cases x (u32 kind (0 single, 1 pair),
              u32 max_len, u32 a_max), u32 n, then per case, per record:
              u32 count, count x u32 id, count x u32 type id
"""
import argparse
import glob
import json
import os
import struct
import sys
import time

SINGLE_LENS = (16, 64, 128, 512)
PAIR_LENS = (16, 64, 65, 128, 512)  # 65: an even room (62); the others odd
PAIR_CAPS = (0, 8, 40)
CASES = [(0, L, 0) for L in SINGLE_LENS] + [(1, L, c) for L in PAIR_LENS for c in PAIR_CAPS]


def records(shared):
    import zstandard
    files = sorted(glob.glob(os.path.join(shared, "data", "alpaca_eval_outputs", "*.json.zst")))
    if not files:
        sys.exit(f"ref_tok_trunc: no corpus under {shared}")
    for f in files:
        with open(f, "rb") as fh:
            data = json.loads(zstandard.ZstdDecompressor().stream_reader(fh).read())
        yield os.path.basename(f)[: -len(".json.zst")], data


def cmd_texts(a):
    gens, texts = [], []
    for gi, (g, data) in enumerate(records(a.shared)):
        gens.append(g)
        texts.extend((gi, r["output"]) for r in data)
    with open(a.out_file, "wb") as f:
        f.write(b"IFSTXT1\0" + struct.pack("<I", len(gens)))
        for g in gens:
            b = g.encode()
            f.write(struct.pack("<I", len(b)) + b)
        f.write(struct.pack("<I", len(texts)))
        for gi, t in texts:
            b = t.encode("utf-8")
            f.write(struct.pack("<II", gi, len(b)) + b)
    print(f"ref_tok_trunc: {len(texts)} texts to {a.out_file}")


def cmd_trunc(a):
    import numpy as np
    from transformers import AutoTokenizer
    t0 = time.time()
    pairs, r = [], 0
    for _, data in records(a.shared):
        for rec in data:
            if r % a.every == 0:
                pairs.append((r, rec["instruction"], rec["output"]))
            r += 1
            if a.limit and r >= a.limit:
                break
        if a.limit and r >= a.limit:
            break
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "pairs.bin"), "wb") as f:
        f.write(b"IFSPAIR\0" + struct.pack("<I", len(pairs)))
        for idx, ins, out in pairs:
            x, y = ins.encode("utf-8"), out.encode("utf-8")
            f.write(struct.pack("<II", idx, len(x)) + x + struct.pack("<I", len(y)) + y)
    tok = AutoTokenizer.from_pretrained(a.model)
    bt = tok.backend_tokenizer
    bt.no_padding()
    bt.no_truncation()
    enc_a = bt.encode_batch([p[1] for p in pairs], add_special_tokens=False)
    enc_b = bt.encode_batch([p[2] for p in pairs], add_special_tokens=False)
    print(f"ref_tok_trunc: {len(pairs)} pairs encoded in {time.time() - t0:.1f}s", flush=True)
    capped = {}
    for c in PAIR_CAPS:
        if c:
            capped[c] = bt.encode_batch([p[1] for p in pairs], add_special_tokens=False)
            for e in capped[c]:
                e.truncate(c)
    sample_step = max(1, len(pairs) // 100)
    with open(os.path.join(a.out, "trunc.bin"), "wb") as f:
        f.write(b"IFSTRC1\0" + struct.pack("<I", len(CASES)))
        for kind, L, cap in CASES:
            f.write(struct.pack("<III", kind, L, cap))
        f.write(struct.pack("<I", len(pairs)))
        for kind, L, cap in CASES:
            bt.enable_truncation(L, strategy="longest_first")
            ea_list = capped[cap] if cap else enc_a
            for i in range(len(pairs)):
                if kind == 0:
                    e = bt.post_process(enc_b[i], None, add_special_tokens=True)
                else:
                    e = bt.post_process(ea_list[i], enc_b[i], add_special_tokens=True)
                ids, types = e.ids, e.type_ids
                if i % sample_step == 0:  # the user-level calls give the same
                    if kind == 0:
                        ref = tok(pairs[i][2], truncation=True, max_length=L)
                    elif cap == 0:
                        ref = tok(pairs[i][1], pairs[i][2], truncation="longest_first",
                                  max_length=L)
                    else:
                        ref = None
                    if ref is not None and (ref["input_ids"] != ids or
                                            ref["token_type_ids"] != types):
                        sys.exit(f"ref_tok_trunc: post_process and tok() disagree on "
                                 f"record {pairs[i][0]}, case {(kind, L, cap)}")
                f.write(struct.pack("<I", len(ids)))
                f.write(np.asarray(ids, dtype="<u4").tobytes())
                f.write(np.asarray(types, dtype="<u4").tobytes())
    print(f"ref_tok_trunc: {len(CASES)} cases in {time.time() - t0:.1f}s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("trunc")
    p.add_argument("model")
    p.add_argument("shared")
    p.add_argument("out")
    p.add_argument("--every", type=int, default=60)
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(fn=cmd_trunc)
    p = sub.add_parser("texts")
    p.add_argument("shared")
    p.add_argument("out_file")
    p.set_defaults(fn=cmd_texts)
    a = ap.parse_args()
    if getattr(a, "every", 1) < 1:
        sys.exit("ref_tok_trunc: --every must be >= 1")
    a.fn(a)


if __name__ == "__main__":
    main()
