#!/usr/bin/env python3
"""bench_hf.py - the peer of the CUDA benchmarks: HF transformers
BertForSequenceClassification (fp16 or bf16, SDPA attention, length-sorted
padded batches), eager and under torch.compile; plus the token-id file both
sides read.

  bench_hf.py ids --data DIR --tokenizer DIR --n 20000 --out ids.bin
      Tokenizes a deterministic sample of the responses of the shared corpus
      (DIR/*.json.zst, each a JSON array of objects with `output`) with HF's
      BertTokenizerFast, truncated to 512, and writes ids.bin:
      int32 n, then per sequence int32 len + len int32 ids.

  bench_hf.py forward --ids ids.bin (--shape minilm|bert-base | --model DIR)
                      [--dtype f16|bf16] [--max-batch-tokens 16384]
                      [--max-batch-seqs 512] [--compile] [--repeat 3]
      Forward-only throughput on the same ids as bench_cuda_forward: longest
      first, batches of at most max-batch-seqs sequences and max-batch-tokens
      *padded* tokens, ids copied host->device and logits device->host per
      batch as the C backend does. Prints one JSON line.

  bench_hf.py e2e --shards FILE... --model DIR [--dtype f16] [--max-len 512]
      End to end from .jsonl / .jsonl.zst shards with a `response` field:
      decompress, parse, tokenize (fast tokenizer, batched), sort, forward,
      argmax. Prints one JSON line.

Needs torch with CUDA; it is never run by ctest.
"""
import argparse
import glob
import io
import json
import os
import socket
import struct
import sys
import time


def read_ids(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<i", f.read(4))
        seqs = []
        for _ in range(n):
            (ln,) = struct.unpack("<i", f.read(4))
            seqs.append(list(struct.unpack("<%di" % ln, f.read(4 * ln))))
    return seqs


def cmd_ids(a):
    import zstandard
    from transformers import BertTokenizerFast

    tok = BertTokenizerFast.from_pretrained(a.tokenizer)
    files = sorted(glob.glob(os.path.join(a.data, "*.json.zst")))
    if not files:
        sys.exit("no *.json.zst under %s" % a.data)
    texts = []
    per_file = max(1, a.n // len(files) + 1)
    for path in files:
        with open(path, "rb") as f:
            raw = zstandard.ZstdDecompressor().stream_reader(f).read()
        recs = json.loads(raw)
        step = max(1, len(recs) // per_file)
        texts += [r.get("output") or "" for r in recs[::step][:per_file]]
    texts = texts[: a.n]
    enc = tok(texts, truncation=True, max_length=512)["input_ids"]
    with open(a.out, "wb") as f:
        f.write(struct.pack("<i", len(enc)))
        for ids in enc:
            f.write(struct.pack("<i", len(ids)))
            f.write(struct.pack("<%di" % len(ids), *ids))
    n_tok = sum(len(e) for e in enc)
    print(json.dumps({"ids": a.out, "n_seqs": len(enc), "n_tokens": n_tok,
                      "files": len(files), "tokenizer": a.tokenizer}))


def make_model(a, torch):
    from transformers import BertConfig, BertForSequenceClassification

    dtype = torch.float16 if a.dtype == "f16" else torch.bfloat16
    if a.model:
        cfg = BertConfig.from_pretrained(a.model)
        cfg._attn_implementation = "sdpa"
        m = BertForSequenceClassification.from_pretrained(a.model, config=cfg)
        shape = a.model
    else:
        dims = {"minilm": (384, 6, 12, 1536), "bert-base": (768, 12, 12, 3072)}[a.shape]
        cfg = BertConfig(hidden_size=dims[0], num_hidden_layers=dims[1],
                         num_attention_heads=dims[2], intermediate_size=dims[3], num_labels=2)
        cfg._attn_implementation = "sdpa"
        m = BertForSequenceClassification(cfg)
        shape = a.shape
    return m.to("cuda", dtype).eval(), shape


def padded_batches(seqs, max_tokens, max_seqs):
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    out, i = [], 0
    while i < len(order):
        longest = len(seqs[order[i]])
        n = max(1, min(max_seqs, max_tokens // longest))
        out.append([seqs[k] for k in order[i:i + n]])
        i += n
    return out


def to_tensors(batch, torch):
    L = max(len(s) for s in batch)
    ids = torch.zeros((len(batch), L), dtype=torch.long)
    am = torch.zeros((len(batch), L), dtype=torch.long)
    for r, s in enumerate(batch):
        ids[r, : len(s)] = torch.tensor(s)
        am[r, : len(s)] = 1
    return ids.pin_memory(), am.pin_memory()


def cmd_forward(a):
    import torch

    seqs = read_ids(a.ids)
    model, shape = make_model(a, torch)
    if a.compile:
        model = torch.compile(model, dynamic=True)
    batches = [to_tensors(b, torch) for b in padded_batches(seqs, a.max_batch_tokens, a.max_batch_seqs)]

    def one_pass():
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.inference_mode():
            for ids, am in batches:
                logits = model(input_ids=ids.to("cuda", non_blocking=True),
                               attention_mask=am.to("cuda", non_blocking=True)).logits
                logits.float().cpu()
        torch.cuda.synchronize()
        return time.perf_counter() - t0

    one_pass()  # warm-up (and compilation)
    if a.compile:
        one_pass()
    best = min(one_pass() for _ in range(a.repeat))
    n_tok = sum(len(s) for s in seqs)
    print(json.dumps({
        "bench": "hf_forward", "peer": "hf-compile" if a.compile else "hf-eager-sdpa",
        "host": socket.gethostname(), "gpu": torch.cuda.get_device_name(0), "shape": shape,
        "dtype": a.dtype, "data": a.ids, "n_seqs": len(seqs), "n_tokens": n_tok,
        "batches": len(batches), "seconds": round(best, 4), "seqs_per_s": round(len(seqs) / best, 1),
        "tokens_per_s": round(n_tok / best), "torch": torch.__version__,
        "transformers": __import__("transformers").__version__}))


def read_shard(path):
    import zstandard

    with open(path, "rb") as f:
        if path.endswith(".zst"):
            data = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f), encoding="utf-8")
            lines = data.read().splitlines()
        else:
            lines = f.read().decode("utf-8").splitlines()
    return [json.loads(line)["response"] for line in lines if line.strip()]


def cmd_e2e(a):
    import torch
    from transformers import BertTokenizerFast

    t0 = time.perf_counter()
    tok = BertTokenizerFast.from_pretrained(a.model)
    model, shape = make_model(a, torch)
    texts = []
    for path in a.shards:
        texts += read_shard(path)
    enc = tok(texts, truncation=True, max_length=a.max_len)["input_ids"]
    n_pos = 0
    with torch.inference_mode():
        for ids, am in (to_tensors(b, torch) for b in padded_batches(enc, a.max_batch_tokens, a.max_batch_seqs)):
            logits = model(input_ids=ids.to("cuda", non_blocking=True),
                           attention_mask=am.to("cuda", non_blocking=True)).logits
            n_pos += int((logits.float().argmax(-1) == 1).sum())
    torch.cuda.synchronize()
    t = time.perf_counter() - t0
    n_tok = sum(len(e) for e in enc)
    print(json.dumps({
        "bench": "hf_e2e", "peer": "hf-eager-sdpa", "host": socket.gethostname(),
        "gpu": torch.cuda.get_device_name(0), "shape": shape, "dtype": a.dtype,
        "shards": len(a.shards), "n_seqs": len(texts), "n_tokens": n_tok, "answer_like": n_pos,
        "seconds": round(t, 3), "seqs_per_s": round(len(texts) / t, 1),
        "tokens_per_s": round(n_tok / t)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("ids")
    s.add_argument("--data", required=True)
    s.add_argument("--tokenizer", required=True)
    s.add_argument("--n", type=int, default=20000)
    s.add_argument("--out", required=True)
    for name in ("forward", "e2e"):
        s = sub.add_parser(name)
        s.add_argument("--model")
        s.add_argument("--dtype", choices=["f16", "bf16"], default="f16")
        s.add_argument("--max-batch-tokens", type=int, default=16384)
        s.add_argument("--max-batch-seqs", type=int, default=512)
        if name == "forward":
            s.add_argument("--ids", required=True)
            s.add_argument("--shape", choices=["minilm", "bert-base"], default="minilm")
            s.add_argument("--compile", action="store_true")
            s.add_argument("--repeat", type=int, default=3)
        else:
            s.add_argument("--shards", nargs="+", required=True)
            s.add_argument("--max-len", type=int, default=512)
    a = p.parse_args()
    {"ids": cmd_ids, "forward": cmd_forward, "e2e": cmd_e2e}[a.cmd](a)


if __name__ == "__main__":
    main()
