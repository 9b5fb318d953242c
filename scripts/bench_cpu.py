#!/usr/bin/env python3
"""bench_cpu.py - the CPU backend side by side with PyTorch (CPU) and
onnxruntime (CPU) on the same model, the same token ids, the same thread
count, in one run; appends one JSON line per model to
benchmarks/results/cpu.jsonl and prints a short table.

    PYTHONPATH=<dir with onnx> /opt/refenv/bin/python scripts/bench_cpu.py \
        --bench build/benchmarks/cpu/bench_cpu \
        --model minilm=/path/to/minilm-classifier --model base=/path/to/bert-base \
        --tokenizer .cache/models/all-MiniLM-L6-v2 --threads 2

Needs torch, transformers, onnxruntime and onnx (for the export), so it is
run by hand, never by ctest.

Method:
  - Texts: --seqs responses drawn (seeded) from the shared alpaca_eval corpus,
    tokenized by HF BertTokenizerFast with truncation at --max-len (512): the
    lengths the scorer really sees. Sorted by length, as ifscore's scheduler
    sorts them, and cut into batches of at most --batch-tokens tokens.
  - ifscore: benchmarks/cpu/bench_cpu on those batches (packed, no padding).
  - PyTorch: BertForSequenceClassification, fp32, its default attention (sdpa),
    torch.inference_mode, torch.set_num_threads(threads), padded batches
    (the same sequences per batch) with an attention mask.
  - onnxruntime: the same model exported to ONNX (opset 17), fused with
    onnxruntime.transformers.optimizer (model_type bert) when that works, else
    the plain export; intra_op_num_threads = threads; the same padded batches.
  - One untimed warm-up pass each, then --repeats timed passes, interleaved
    (ifscore, torch, ort, ifscore, ...) so that load from other processes
    falls on all three alike. Best and median pass per engine; tokens/s counts
    real tokens (padding excluded) for everyone.
  - Sanity: the sum of all logits must agree between the three (1e-2).
"""
import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import struct
import sys
import tempfile
import time

import numpy as np


def corpus_texts(data_dir, n, seed):
    import zstandard
    files = sorted(glob.glob(os.path.join(data_dir, "*.json.zst")))
    recs = []
    for f in files:
        with open(f, "rb") as fh:
            for r in json.loads(zstandard.ZstdDecompressor().stream_reader(fh).read()):
                recs.append(r.get("output") or "")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(recs), size=n, replace=False)
    return [recs[i] for i in idx], len(files), len(recs)


def batches(seqs, budget):
    """Consecutive sequences (already sorted) while n * longest <= budget."""
    out, cur, longest = [], [], 0
    for s in seqs:
        L = max(longest, len(s))
        if cur and L * (len(cur) + 1) > budget:
            out.append(cur)
            cur, L = [], len(s)
        cur.append(s)
        longest = L
    if cur:
        out.append(cur)
    return out


def padded(batch):
    L = max(len(s) for s in batch)
    ids = np.zeros((len(batch), L), dtype=np.int64)
    am = np.zeros((len(batch), L), dtype=np.int64)
    for r, s in enumerate(batch):
        ids[r, :len(s)] = s
        am[r, :len(s)] = 1
    return ids, am, np.zeros_like(ids)


def run_ifscore(bench, model_dir, ids_file, threads, budget, repeats):
    out = subprocess.run([bench, model_dir, ids_file, str(threads), str(budget), str(repeats)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True, help="path of the bench_cpu binary")
    ap.add_argument("--model", action="append", required=True, help="NAME=DIR")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                    "shared", "data", "alpaca_eval_outputs"))
    ap.add_argument("--seqs", type=int, nargs="+", default=[256],
                    help="sequences per model (one number, or one per --model)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch-tokens", type=int, default=8192)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "benchmarks",
                                                   "results", "cpu.jsonl"))
    args = ap.parse_args()

    import torch
    import transformers
    import onnxruntime as ort
    from transformers import BertForSequenceClassification, BertTokenizerFast

    torch.set_num_threads(args.threads)
    tok = BertTokenizerFast.from_pretrained(args.tokenizer)
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                            text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    for mi, spec in enumerate(args.model):
        name, model_dir = spec.split("=", 1)
        n = args.seqs[mi] if mi < len(args.seqs) else args.seqs[-1]
        texts, n_files, n_recs = corpus_texts(args.data, n, args.seed)
        seqs = [tok(t, truncation=True, max_length=args.max_len)["input_ids"] for t in texts]
        seqs.sort(key=len)
        n_tok = sum(len(s) for s in seqs)
        bs = batches(seqs, args.batch_tokens)
        tmp = tempfile.mkdtemp(prefix="bench_cpu_")
        ids_file = os.path.join(tmp, "ids.bin")
        with open(ids_file, "wb") as fh:
            fh.write(struct.pack("<I", len(bs)))
            for b in bs:
                fh.write(struct.pack("<I", len(b)))
                for s in b:
                    fh.write(struct.pack("<I", len(s)))
                    fh.write(np.asarray(s, dtype="<u4").tobytes())

        model = BertForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32).eval()
        cfg = model.config
        onnx_path = os.path.join(tmp, "model.onnx")
        ex = padded(bs[0][:2])
        torch.onnx.export(model, tuple(torch.from_numpy(a) for a in ex), onnx_path,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={k: {0: "b", 1: "s"} for k in
                                        ["input_ids", "attention_mask", "token_type_ids"]})
        ort_kind = "plain export"
        try:
            from onnxruntime.transformers import optimizer
            opt = optimizer.optimize_model(onnx_path, model_type="bert",
                                           num_heads=cfg.num_attention_heads,
                                           hidden_size=cfg.hidden_size)
            opt_path = os.path.join(tmp, "model.opt.onnx")
            opt.save_model_to_file(opt_path)
            onnx_path, ort_kind = opt_path, "onnxruntime.transformers.optimizer (bert fusions)"
        except Exception as e:  # the plain export still runs; say so
            print(f"bench_cpu: ort optimizer failed ({e!r}); using the plain export",
                  file=sys.stderr)
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        pads = [padded(b) for b in bs]

        def torch_pass():
            s = 0.0
            with torch.inference_mode():
                for ids, am, tt in pads:
                    s += float(model(input_ids=torch.from_numpy(ids),
                                     attention_mask=torch.from_numpy(am),
                                     token_type_ids=torch.from_numpy(tt)).logits.sum())
            return s

        def ort_pass():
            s = 0.0
            for ids, am, tt in pads:
                s += float(sess.run(None, {"input_ids": ids, "attention_mask": am,
                                           "token_type_ids": tt})[0].sum())
            return s

        load0 = os.getloadavg()
        times = {"ifscore": [], "torch": [], "onnxruntime": []}
        sums = {}
        sums["torch"] = torch_pass()         # warm-up passes (ifscore warms up
        sums["onnxruntime"] = ort_pass()     # inside bench_cpu)
        ours = []
        for r in range(args.repeats):
            o = run_ifscore(args.bench, model_dir, ids_file, args.threads, args.batch_tokens, 1)
            ours.append(o)
            times["ifscore"].append(o["best_s"])
            t = time.perf_counter(); torch_pass(); times["torch"].append(time.perf_counter() - t)
            t = time.perf_counter(); ort_pass(); times["onnxruntime"].append(time.perf_counter() - t)
        sums["ifscore"] = ours[0]["logit_sum"]
        load1 = os.getloadavg()

        res = {}
        for k, v in times.items():
            best = min(v)
            res[k] = {"best_s": round(best, 4), "median_s": round(statistics.median(v), 4),
                      "seqs_per_s": round(len(seqs) / best, 2),
                      "tokens_per_s": round(n_tok / best, 1), "logit_sum": round(sums[k], 5)}
        agree = max(abs(sums[a] - sums["torch"]) for a in sums) <= 1e-2 * max(1.0, len(seqs) / 100)
        line = {
            "bench": "cpu", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": commit,
            "machine": {"cpu": cpu, "cores": os.cpu_count(), "host": platform.node(),
                        "loadavg_before": [round(x, 2) for x in load0],
                        "loadavg_after": [round(x, 2) for x in load1]},
            "model": {"name": name, "layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size,
                      "heads": cfg.num_attention_heads, "intermediate": cfg.intermediate_size,
                      "labels": cfg.num_labels, "act": cfg.hidden_act},
            "data": {"source": "alpaca_eval_outputs responses", "files": n_files,
                     "records": n_recs, "seqs": len(seqs), "tokens": n_tok,
                     "mean_len": round(n_tok / len(seqs), 1), "max_len": args.max_len,
                     "seed": args.seed, "batches": len(bs),
                     "padded_tokens": int(sum(p[0].size for p in pads))},
            "threads": args.threads, "batch_tokens": args.batch_tokens, "repeats": args.repeats,
            "ifscore": res["ifscore"], "torch": res["torch"], "onnxruntime": res["onnxruntime"],
            "ort_model": ort_kind,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "onnxruntime": ort.__version__},
            "ratio_tokens_per_s_vs_torch": round(res["ifscore"]["tokens_per_s"] /
                                                 res["torch"]["tokens_per_s"], 3),
            "ratio_tokens_per_s_vs_onnxruntime": round(res["ifscore"]["tokens_per_s"] /
                                                       res["onnxruntime"]["tokens_per_s"], 3),
            "logit_sums_agree": agree,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "a") as fh:
            fh.write(json.dumps(line) + "\n")
        print(f"{name}: {len(seqs)} seqs, {n_tok} tokens (mean {n_tok / len(seqs):.0f}), "
              f"{args.threads} threads, load {load0[0]:.1f}->{load1[0]:.1f}")
        for k in ("ifscore", "torch", "onnxruntime"):
            print(f"  {k:12s} {res[k]['seqs_per_s']:9.2f} seq/s {res[k]['tokens_per_s']:10.1f} tok/s"
                  f"  (best {res[k]['best_s']:.2f}s, median {res[k]['median_s']:.2f}s)")
        print(f"  ifscore / torch = {line['ratio_tokens_per_s_vs_torch']:.2f}x, "
              f"ifscore / onnxruntime = {line['ratio_tokens_per_s_vs_onnxruntime']:.2f}x, "
              f"logit sums agree: {agree}")


if __name__ == "__main__":
    main()
