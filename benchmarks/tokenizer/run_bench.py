#!/usr/bin/env python3
"""run_bench.py - our tokenizer beside HF tokenizers, same texts, same run.

Tokenizes the responses of the shared corpus (../shared/data/alpaca_eval_outputs)
into WordPiece ids with no specials and no truncation:
  - ours: bench_tok (C, one shared ifs_tok, per-thread state), best of --repeats;
  - HF: tokenizers' BertWordPieceTokenizer (Rust) on the checkpoint's vocab.txt,
    encode_batch(add_special_tokens=False), with RAYON_NUM_THREADS=1 for the
    per-core figure and =cores for all cores, best of --hf-repeats;
then appends one JSON line per thread count (wall-clock and CPU-time figures) to benchmarks/results/tokenizer.jsonl
with machine, CPU model, cores, load average, commit, texts, bytes, tokens,
tokens/s of each and the ratio. Both sides must produce the same token count.

    python benchmarks/tokenizer/run_bench.py [--limit N] [--bench build/benchmarks/tokenizer/bench_tok]

Needs a Python with tokenizers, zstandard, numpy (the repo's .venv).
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def read_texts_bin(path):
    import struct
    with open(path, "rb") as f:
        b = f.read()
    p = 8
    (ng,) = struct.unpack_from("<I", b, p)
    p += 4
    for _ in range(ng):
        (l,) = struct.unpack_from("<I", b, p)
        p += 4 + l
    (n,) = struct.unpack_from("<I", b, p)
    p += 4
    out = []
    for _ in range(n):
        _, l = struct.unpack_from("<II", b, p)
        p += 8
        out.append(b[p:p + l].decode("utf-8"))
        p += l
    return out


def hf_worker(a):
    """Runs in a child process so RAYON_NUM_THREADS takes effect."""
    from tokenizers import BertWordPieceTokenizer
    texts = read_texts_bin(a.texts)
    tok = BertWordPieceTokenizer(os.path.join(a.model, "vocab.txt"), lowercase=True,
                                 strip_accents=None, clean_text=True, handle_chinese_chars=True)
    best, best_cpu, tokens = 1e30, 1e30, 0
    for _ in range(a.hf_repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        enc = tok.encode_batch(texts, add_special_tokens=False)
        s, c = time.perf_counter() - t0, time.process_time() - c0
        tokens = sum(len(e.ids) for e in enc)
        del enc
        best, best_cpu = min(best, s), min(best_cpu, c)
    print(json.dumps({"tokens": tokens, "seconds": best, "cpu_seconds": best_cpu}))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, ".cache/models/all-MiniLM-L6-v2"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--bench", default=os.path.join(ROOT, "build/benchmarks/tokenizer/bench_tok"))
    ap.add_argument("--limit", type=int, default=0, help="first N texts only (0 = all)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hf-repeats", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks/results/tokenizer.jsonl"))
    ap.add_argument("--hf-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.hf_worker:
        return hf_worker(a)

    from ref_tokenize import read_corpus
    import struct
    gens, texts = read_corpus(a.shared, a.limit)
    tmp = tempfile.mkdtemp(prefix="ifs-bench-tok-")
    tb = os.path.join(tmp, "texts.bin")
    with open(tb, "wb") as f:
        f.write(b"IFSTXT1\0" + struct.pack("<I", len(gens)))
        for g in gens:
            f.write(struct.pack("<I", len(g.encode())) + g.encode())
        f.write(struct.pack("<I", len(texts)))
        for gi, t in texts:
            b = t.encode()
            f.write(struct.pack("<II", gi, len(b)) + b)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "tokenizer"],
                           capture_output=True, text=True).stdout.strip() != ""
    rows = []
    for threads in sorted({1, a.threads}):
        ours = json.loads(subprocess.run([a.bench, a.model, tb, str(threads), str(a.repeats)],
                                         check=True, capture_output=True, text=True).stdout)
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
        hf = json.loads(subprocess.run([sys.executable, __file__, "--hf-worker", "--texts", tb,
                                        "--model", a.model, "--hf-repeats", str(a.hf_repeats)],
                                       check=True, capture_output=True, text=True, env=env).stdout)
        row = {
            "bench": "tokenizer", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.node(), "cpu": cpu_model(), "cores": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2), "commit": commit, "tokenizer_dirty": dirty,
            "model": os.path.basename(os.path.normpath(a.model)), "data": "alpaca_eval_outputs (output field)",
            "texts": ours["texts"], "bytes": ours["bytes"], "threads": threads,
            "tokens": ours["tokens"], "hf_tokens": hf["tokens"], "same_tokens": ours["tokens"] == hf["tokens"],
            "ours_tokens_per_s": round(ours["tokens_per_s"]),
            "hf_tokens_per_s": round(hf["tokens"] / hf["seconds"]),
            "ratio": round(ours["tokens_per_s"] / (hf["tokens"] / hf["seconds"]), 2),
            "ours_seconds": ours["seconds"], "hf_seconds": round(hf["seconds"], 4),
            # per CPU-second (process CPU time, all threads): robust to a loaded machine
            "ours_tokens_per_cpu_s": round(ours["tokens_per_cpu_s"]),
            "hf_tokens_per_cpu_s": round(hf["tokens"] / hf["cpu_seconds"]),
            "ratio_cpu": round(ours["tokens_per_cpu_s"] / (hf["tokens"] / hf["cpu_seconds"]), 2),
            "peer": "tokenizers BertWordPieceTokenizer encode_batch (Rust), RAYON_NUM_THREADS=threads",
        }
        rows.append(row)
        print(f"threads {threads}: ours {row['ours_tokens_per_s']:,} tok/s, HF {row['hf_tokens_per_s']:,} "
              f"tok/s, ratio {row['ratio']}x (per CPU-second: {row['ratio_cpu']}x), "
              f"same tokens: {row['same_tokens']}, load {row['load_avg_1m']}", flush=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    os.remove(tb)
    os.rmdir(tmp)
    if not all(r["same_tokens"] for r in rows):
        print("run_bench: token counts differ between ours and HF", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
