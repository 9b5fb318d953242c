#!/usr/bin/env python3
"""bench_hf.py - the peer of the CUDA benchmarks: HF transformers
BertForSequenceClassification (fp16 or bf16, SDPA attention, length-sorted
padded batches), eager and under torch.compile; plus the token-id file both
sides read.

  bench_hf.py ids --data DIR --tokenizer DIR --n 20000 [--max-len 512] --out ids.bin
      Tokenizes a deterministic sample of the responses of the shared corpus
      (DIR/*.json.zst or DIR/*.json, each a JSON array of objects with
      `output`; every response when --n is at least their number) with HF's
      BertTokenizerFast, truncated to --max-len, and writes ids.bin:
      int32 n, then per sequence int32 len + len int32 ids.

  bench_hf.py cut --ids ids.bin [--max-len 64] [--n 5000] --out cut.bin
      The same file, each sequence truncated to --max-len as the tokenizer
      would have ([CLS], the first max-len - 2 tokens, [SEP]: the last id),
      and/or --n sequences evenly spaced through it. No tokenizer needed.

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

Every command takes --label NAME (recorded in its JSON line). .zst files are
read with the `zstandard` module when it is installed, else through libzstd
with ctypes (IFS_LIBZSTD names the library file; the GPU machine's image has
no `zstandard`, and scripts/device_check.sh points it at the carried one).

Needs torch with CUDA (forward, e2e); it is never run by ctest.
"""
import argparse
import ctypes
import ctypes.util
import glob
import json
import os
import socket
import struct
import sys
import time


class _ZInBuf(ctypes.Structure):
    _fields_ = [("src", ctypes.c_void_p), ("size", ctypes.c_size_t), ("pos", ctypes.c_size_t)]


class _ZOutBuf(ctypes.Structure):
    _fields_ = [("dst", ctypes.c_void_p), ("size", ctypes.c_size_t), ("pos", ctypes.c_size_t)]


_libzstd = None


def _zstd_lib():
    global _libzstd
    if _libzstd is None:
        name = os.environ.get("IFS_LIBZSTD") or ctypes.util.find_library("zstd")
        if not name:
            sys.exit("no zstandard module and no libzstd (set IFS_LIBZSTD)")
        lib = ctypes.CDLL(name)
        lib.ZSTD_createDStream.restype = ctypes.c_void_p
        lib.ZSTD_freeDStream.argtypes = [ctypes.c_void_p]
        lib.ZSTD_decompressStream.argtypes = [ctypes.c_void_p, ctypes.POINTER(_ZOutBuf),
                                              ctypes.POINTER(_ZInBuf)]
        lib.ZSTD_decompressStream.restype = ctypes.c_size_t
        lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
        lib.ZSTD_isError.restype = ctypes.c_uint
        _libzstd = lib
    return _libzstd


def read_zst(path):
    """The whole decompressed file (every frame); a cut-off last frame is an error."""
    try:
        import zstandard
    except ImportError:
        zstandard = None
    if zstandard is not None:
        with open(path, "rb") as f:
            return zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read()
    lib = _zstd_lib()
    with open(path, "rb") as f:
        data = f.read()
    src = ctypes.create_string_buffer(data, len(data))
    inb = _ZInBuf(ctypes.cast(src, ctypes.c_void_p), len(data), 0)
    chunk = 1 << 22
    dst = ctypes.create_string_buffer(chunk)
    ds = lib.ZSTD_createDStream()
    parts, last = [], 0
    try:
        while True:
            outb = _ZOutBuf(ctypes.cast(dst, ctypes.c_void_p), chunk, 0)
            last = lib.ZSTD_decompressStream(ds, ctypes.byref(outb), ctypes.byref(inb))
            if lib.ZSTD_isError(last):
                sys.exit("%s: zstd error at byte %d" % (path, inb.pos))
            parts.append(dst.raw[: outb.pos])
            if inb.pos == inb.size and outb.pos < chunk:
                break
    finally:
        lib.ZSTD_freeDStream(ds)
    if last != 0:
        sys.exit("%s: truncated zstd frame" % path)
    return b"".join(parts)


def read_maybe_zst(path):
    if path.endswith(".zst"):
        return read_zst(path)
    with open(path, "rb") as f:
        return f.read()


def read_ids(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<i", f.read(4))
        seqs = []
        for _ in range(n):
            (ln,) = struct.unpack("<i", f.read(4))
            seqs.append(list(struct.unpack("<%di" % ln, f.read(4 * ln))))
    return seqs


def cmd_ids(a):
    from transformers import BertTokenizerFast

    tok = BertTokenizerFast.from_pretrained(a.tokenizer)
    files = sorted(glob.glob(os.path.join(a.data, "*.json.zst")) +
                   glob.glob(os.path.join(a.data, "*.json")))
    if not files:
        sys.exit("no *.json.zst or *.json under %s" % a.data)
    texts = []
    per_file = max(1, a.n // len(files) + 1)
    for path in files:
        recs = json.loads(read_maybe_zst(path))
        step = max(1, len(recs) // per_file)
        texts += [r.get("output") or "" for r in recs[::step][:per_file]]
    texts = texts[: a.n]
    enc = tok(texts, truncation=True, max_length=a.max_len)["input_ids"]
    write_ids(a.out, enc)
    n_tok = sum(len(e) for e in enc)
    print(json.dumps({"ids": a.out, "n_seqs": len(enc), "n_tokens": n_tok, "max_len": a.max_len,
                      "files": len(files), "tokenizer": a.tokenizer, "label": a.label}))


def write_ids(path, seqs):
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(seqs)))
        for ids in seqs:
            f.write(struct.pack("<i", len(ids)))
            f.write(struct.pack("<%di" % len(ids), *ids))


def cmd_cut(a):
    seqs = read_ids(a.ids)
    if a.n and a.n < len(seqs):
        step = len(seqs) / a.n
        seqs = [seqs[int(i * step)] for i in range(a.n)]
    if a.max_len:
        if a.max_len < 2:
            sys.exit("--max-len must be at least 2")
        seqs = [s if len(s) <= a.max_len else s[: a.max_len - 1] + [s[-1]] for s in seqs]
    write_ids(a.out, seqs)
    print(json.dumps({"ids": a.out, "from": a.ids, "n_seqs": len(seqs),
                      "n_tokens": sum(len(s) for s in seqs), "max_len": a.max_len,
                      "label": a.label}))


def make_model(a, torch):
    """The peer: HF BertForSequenceClassification with SDPA attention, in the
    compute dtype, on a.device. Returns (model, shape name)."""
    from transformers import BertConfig, BertForSequenceClassification

    dtype = torch.float16 if a.dtype == "f16" else torch.bfloat16
    if a.model:
        m = BertForSequenceClassification.from_pretrained(a.model, attn_implementation="sdpa")
        shape = a.model
    else:
        dims = {"minilm": (384, 6, 12, 1536), "bert-base": (768, 12, 12, 3072)}[a.shape]
        cfg = BertConfig(hidden_size=dims[0], num_hidden_layers=dims[1],
                         num_attention_heads=dims[2], intermediate_size=dims[3], num_labels=2,
                         attn_implementation="sdpa")
        m = BertForSequenceClassification(cfg)
        shape = a.shape
    impl = getattr(m.config, "_attn_implementation", None)
    if impl != "sdpa":
        sys.exit("the peer asked for SDPA attention and got %r" % impl)
    return m.to(a.device, dtype).eval(), shape


def sync(torch, device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def device_name(torch, device):
    return torch.cuda.get_device_name(0) if device.startswith("cuda") else device


def padded_batches(seqs, max_tokens, max_seqs):
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    out, i = [], 0
    while i < len(order):
        longest = len(seqs[order[i]])
        n = max(1, min(max_seqs, max_tokens // longest))
        out.append([seqs[k] for k in order[i:i + n]])
        i += n
    return out


def to_tensors(batch, torch, pin=True):
    L = max(len(s) for s in batch)
    ids = torch.zeros((len(batch), L), dtype=torch.long)
    am = torch.zeros((len(batch), L), dtype=torch.long)
    for r, s in enumerate(batch):
        ids[r, : len(s)] = torch.tensor(s)
        am[r, : len(s)] = 1
    return (ids.pin_memory(), am.pin_memory()) if pin else (ids, am)


def cmd_forward(a):
    import torch

    seqs = read_ids(a.ids)
    model, shape = make_model(a, torch)
    if a.compile:
        model = torch.compile(model, dynamic=True)
    pin = a.device.startswith("cuda")
    batches = [to_tensors(b, torch, pin) for b in padded_batches(seqs, a.max_batch_tokens, a.max_batch_seqs)]

    def one_pass():
        sync(torch, a.device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            for ids, am in batches:
                logits = model(input_ids=ids.to(a.device, non_blocking=True),
                               attention_mask=am.to(a.device, non_blocking=True)).logits
                logits.float().cpu()
        sync(torch, a.device)
        return time.perf_counter() - t0

    one_pass()  # warm-up (and compilation)
    if a.compile:
        one_pass()
    best = min(one_pass() for _ in range(a.repeat))
    n_tok = sum(len(s) for s in seqs)
    print(json.dumps({
        "bench": "hf_forward", "peer": "hf-compile" if a.compile else "hf-eager-sdpa",
        "label": a.label, "passes": a.repeat, "attn_implementation": "sdpa",
        "host": socket.gethostname(), "gpu": device_name(torch, a.device), "shape": shape,
        "dtype": a.dtype, "data": a.ids, "n_seqs": len(seqs), "n_tokens": n_tok,
        "batches": len(batches), "seconds": round(best, 4), "seqs_per_s": round(len(seqs) / best, 1),
        "tokens_per_s": round(n_tok / best), "torch": torch.__version__,
        "transformers": __import__("transformers").__version__}))


def read_shard(path):
    lines = read_maybe_zst(path).decode("utf-8").splitlines()
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
        pin = a.device.startswith("cuda")
        for ids, am in (to_tensors(b, torch, pin)
                        for b in padded_batches(enc, a.max_batch_tokens, a.max_batch_seqs)):
            logits = model(input_ids=ids.to(a.device, non_blocking=True),
                           attention_mask=am.to(a.device, non_blocking=True)).logits
            n_pos += int((logits.float().argmax(-1) == 1).sum())
    sync(torch, a.device)
    t = time.perf_counter() - t0
    n_tok = sum(len(e) for e in enc)
    print(json.dumps({
        "bench": "hf_e2e", "peer": "hf-eager-sdpa", "label": a.label, "max_len": a.max_len,
        "host": socket.gethostname(),
        "gpu": device_name(torch, a.device), "shape": shape, "dtype": a.dtype,
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
    s.add_argument("--max-len", type=int, default=512)
    s.add_argument("--out", required=True)
    s.add_argument("--label", default="")
    s = sub.add_parser("cut")
    s.add_argument("--ids", required=True)
    s.add_argument("--max-len", type=int, default=0)
    s.add_argument("--n", type=int, default=0)
    s.add_argument("--out", required=True)
    s.add_argument("--label", default="")
    for name in ("forward", "e2e"):
        s = sub.add_parser(name)
        s.add_argument("--label", default="")
        s.add_argument("--device", default="cuda",
                       help="torch device (cuda; cpu only to rehearse this script)")
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
    {"ids": cmd_ids, "cut": cmd_cut, "forward": cmd_forward, "e2e": cmd_e2e}[a.cmd](a)


if __name__ == "__main__":
    main()
