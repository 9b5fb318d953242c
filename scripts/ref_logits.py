#!/usr/bin/env python3
"""ref_logits.py - reference logits from HF transformers (torch, CPU, fp32,
eager attention) for the CPU parity test (tests/cpu/parity_cpu_logits.c).

It picks responses from the shared alpaca_eval corpus deterministically,
tokenizes them with HF BertTokenizerFast (truncation as HF does it), runs
BertForSequenceClassification on a checkpoint directory and writes one
compact fixture: a zstd-compressed binary with the token ids, type ids and
logits, plus a provenance JSON beside it (this script's arguments, library
versions, sha256 of model.safetensors, the selection rule).

Needs torch, so it is run by hand (CI has no torch) with /opt/refenv/bin/python
or any env with torch + transformers + zstandard; the C test regenerates the
model files and checks their sha256 against the provenance.

Selection rule (seeded, --seed):
  1. the sweep: for every length L in --sweep (default 2..512), one random
     response truncated by HF to max_length=L; responses with fewer tokens
     than L are skipped, so every length really occurs;
  2. then --count minus the sweep further random responses, a fraction
     --whole of them truncated at 512 as in real scoring and the rest at a
     max_length drawn log-uniformly in [2, 512] ([8, 512] for pairs) (short
     texts are cheap and real data has many).
  With --pairs the inputs are (instruction, output) pairs, HF truncation
  'longest_first', type ids 0/1.

The models come from `ifscore gen-model` (seeded, byte-reproducible: a random
BERT, or a seeded head on a real encoder with --encoder); --regen records the
exact command in the provenance.

Fixture format (little-endian, then zstd):
  char magic[8] = "IFSLGT01"; u32 n_seqs, num_labels, has_types, n_tokens;
  char sha256_hex[64];               model.safetensors of the checkpoint
  u16 lengths[n_seqs]; u16 ids[n_tokens]; u8 types[n_tokens] if has_types;
  f32 logits[n_seqs * num_labels]
"""
import argparse
import glob
import hashlib
import json
import math
import os
import platform
import struct
import sys
import time

import numpy as np


def load_corpus(data_dir):
    import zstandard
    files = sorted(glob.glob(os.path.join(data_dir, "*.json.zst")))
    if not files:
        sys.exit(f"ref_logits: no *.json.zst in {data_dir}")
    recs = []
    for f in files:
        with open(f, "rb") as fh:
            arr = json.loads(zstandard.ZstdDecompressor().stream_reader(fh).read())
        for r in arr:
            recs.append((r.get("instruction") or "", r.get("output") or ""))
    return files, recs


def select(args, tok, recs):
    rng = np.random.default_rng(args.seed)
    sweep = list(range(args.sweep[0], args.sweep[1] + 1, args.sweep_step))
    chosen = []  # (ids, types, rule)

    def encode(i, max_len):
        ins, out = recs[i]
        if args.pairs:
            e = tok(ins, out, truncation="longest_first", max_length=max_len,
                    return_token_type_ids=True)
        else:
            e = tok(out, truncation=True, max_length=max_len, return_token_type_ids=True)
        return e["input_ids"], e["token_type_ids"]

    for L in sweep:
        for _ in range(10000):
            i = int(rng.integers(len(recs)))
            ids, types = encode(i, L)
            if len(ids) == L:
                chosen.append((ids, types, i, L))
                break
        else:
            sys.exit(f"ref_logits: no response reaches {L} tokens")
    # HF cannot truncate a pair below its 3 specials + 1 token each (it logs
    # an error and returns the pair untruncated), so pairs start at 8.
    lo = 8 if args.pairs else 2
    n_rest = max(0, args.count - len(chosen))
    for k in range(n_rest):
        i = int(rng.integers(len(recs)))
        if rng.random() < args.whole:
            L = 512
        else:
            L = int(round(math.exp(rng.uniform(math.log(lo), math.log(512)))))
        ids, types = encode(i, L)
        chosen.append((ids, types, i, L))
    for ids, types, i, L in chosen:
        if len(ids) > L:
            sys.exit(f"ref_logits: record {i} has {len(ids)} tokens after truncation to {L}")
    return chosen


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint dir (config.json, model.safetensors)")
    ap.add_argument("--tokenizer", required=True, help="dir with vocab.txt/tokenizer files")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                    "shared", "data", "alpaca_eval_outputs"))
    ap.add_argument("--out", required=True, help="fixture path, e.g. tests/cpu/fixtures/minilm.bin.zst")
    ap.add_argument("--name", required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--sweep", type=int, nargs=2, default=[2, 512])
    ap.add_argument("--sweep-step", type=int, default=1)
    ap.add_argument("--whole", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--pairs", action="store_true")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--regen", default="", help="command that regenerates the model (provenance)")
    args = ap.parse_args()

    import torch
    import transformers
    import tokenizers
    from transformers import BertForSequenceClassification, BertTokenizerFast

    torch.set_num_threads(args.threads)
    t0 = time.time()
    tok = BertTokenizerFast.from_pretrained(args.tokenizer)
    files, recs = load_corpus(args.data)
    chosen = select(args, tok, recs)
    print(f"{args.name}: {len(chosen)} sequences, {sum(len(c[0]) for c in chosen)} tokens "
          f"selected in {time.time() - t0:.1f}s", file=sys.stderr)

    # fp32 whatever the storage dtype (an f16 checkpoint is upcast on load,
    # as ifscore's loader does).
    model = BertForSequenceClassification.from_pretrained(
        args.model, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    C = model.config.num_labels

    # Batches of similar lengths, padded with an attention mask (HF's usual way).
    order = sorted(range(len(chosen)), key=lambda k: len(chosen[k][0]))
    logits = np.zeros((len(chosen), C), dtype=np.float32)
    t1 = time.time()
    budget = 8192
    pos = 0
    with torch.no_grad():
        while pos < len(order):
            Lmax = len(chosen[order[min(len(order) - 1, pos)]][0])
            n = 1
            while pos + n < len(order) and (n + 1) * len(chosen[order[pos + n]][0]) <= budget:
                n += 1
            idx = order[pos:pos + n]
            Lmax = max(len(chosen[k][0]) for k in idx)
            ids = torch.zeros((n, Lmax), dtype=torch.long)
            tys = torch.zeros((n, Lmax), dtype=torch.long)
            mask = torch.zeros((n, Lmax), dtype=torch.long)
            for r, k in enumerate(idx):
                L = len(chosen[k][0])
                ids[r, :L] = torch.tensor(chosen[k][0])
                tys[r, :L] = torch.tensor(chosen[k][1])
                mask[r, :L] = 1
            out = model(input_ids=ids, token_type_ids=tys, attention_mask=mask).logits
            logits[idx] = out.numpy()
            pos += n
    t_fwd = time.time() - t1
    print(f"{args.name}: forward {t_fwd:.1f}s", file=sys.stderr)

    with open(os.path.join(args.model, "model.safetensors"), "rb") as fh:
        sha = hashlib.sha256(fh.read()).hexdigest()
    has_types = 1 if args.pairs else 0
    lengths = np.array([len(c[0]) for c in chosen], dtype=np.uint16)
    all_ids = np.concatenate([np.array(c[0], dtype=np.uint16) for c in chosen])
    all_tys = np.concatenate([np.array(c[1], dtype=np.uint8) for c in chosen])
    blob = bytearray()
    blob += b"IFSLGT01"
    blob += struct.pack("<IIII", len(chosen), C, has_types, int(all_ids.size))
    blob += sha.encode()
    blob += lengths.tobytes() + all_ids.tobytes()
    if has_types:
        blob += all_tys.tobytes()
    blob += logits.astype("<f4").tobytes()
    import zstandard
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as fh:
        fh.write(zstandard.ZstdCompressor(level=19).compress(bytes(blob)))

    hist = np.bincount(lengths, minlength=513)
    prov = {
        "fixture": os.path.basename(args.out),
        "name": args.name,
        "script": "scripts/ref_logits.py",
        "argv": sys.argv[1:],
        "regenerate_model": args.regen,
        "model_sha256": sha,
        "model_config": json.load(open(os.path.join(args.model, "config.json"))),
        "selection": {
            "seed": args.seed, "sweep": args.sweep, "sweep_step": args.sweep_step,
            "count": len(chosen), "whole_fraction": args.whole, "pairs": args.pairs,
            "corpus_files": len(files), "corpus_records": len(recs),
            "tokens": int(all_ids.size),
            "distinct_lengths": int((hist > 0).sum()),
            "min_length": int(lengths.min()), "max_length": int(lengths.max()),
            "at_512": int(hist[512]),
        },
        "reference": {"library": "transformers BertForSequenceClassification",
                      "attn_implementation": "eager", "dtype": "float32", "device": "cpu",
                      "padding": "right, attention_mask, batches of <= 8192 tokens"},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__, "numpy": np.__version__},
        "forward_seconds": round(t_fwd, 1),
        "machine": platform.processor() or platform.machine(),
    }
    with open(args.out.replace(".bin.zst", "") + ".json", "w") as fh:
        json.dump(prov, fh, indent=1)
        fh.write("\n")
    print(json.dumps(prov["selection"]), file=sys.stderr)


if __name__ == "__main__":
    main()
