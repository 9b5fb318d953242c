"""hf_reference.py - HF's own readers as the oracle for tests/weights.

    python hf_reference.py [verdict FILE...] [dump DIR...] [config FILE...]
      verdict: one line per file, "ACCEPTED" or "REFUSED <reason>" from
               safetensors' reader
      config:  one JSON line per config.json, what transformers' BertConfig
               reads from it: hidden_size, num_attention_heads, num_labels,
               labels (id2label in index order), ifs_input and
               ifs_instruction_max_tokens (null when absent), or
               {"error": reason}
      dump:    per folder, "dir <path>", then what HF reads from it:
               "config <hidden_act> <layer_norm_eps> <num_labels> <label0>|<label1>..."
               and per tensor "tensor <name> <dtype> <shape> <first> <last> <sum>"
    One process for everything: importing transformers takes seconds.

Needs safetensors and numpy (and transformers for the config line); no torch.
BF16 has no numpy dtype, so its bytes are widened by hand (bits << 16), which
is exact; the header is still read and validated by safetensors itself.
"""
import json
import struct
import sys

import numpy as np
from safetensors import safe_open


def verdict(paths):
    for p in paths:
        try:
            with safe_open(p, framework="numpy") as f:
                for k in f.keys():
                    meta = f.get_slice(k)
                    if meta.get_dtype() != "BF16":
                        f.get_tensor(k)
            print("ACCEPTED")
        except Exception as e:  # the reason is only printed
            print("REFUSED " + str(e).replace("\n", " ")[:200])


def config(paths):
    from transformers import BertConfig

    for p in paths:
        try:
            c = BertConfig.from_json_file(p)
            print(json.dumps({
                "hidden_size": c.hidden_size,
                "num_attention_heads": c.num_attention_heads,
                "num_labels": c.num_labels,
                "labels": [c.id2label[i] for i in range(c.num_labels)],
                "ifs_input": getattr(c, "ifs_input", None),
                "ifs_instruction_max_tokens": getattr(c, "ifs_instruction_max_tokens", None),
            }))
        except Exception as e:  # the reason is only printed
            print(json.dumps({"error": str(e)[:200]}))


def raw_header(path):
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
        return 8 + n, header


def dump(d):
    from transformers import BertConfig

    cfg = BertConfig.from_pretrained(d)
    labels = "|".join(cfg.id2label[i] for i in range(cfg.num_labels))
    print("config %s %r %d %s" % (cfg.hidden_act, cfg.layer_norm_eps, cfg.num_labels, labels))
    path = d + "/model.safetensors"
    start, header = raw_header(path)
    with safe_open(path, framework="numpy") as f:
        for k in sorted(f.keys()):
            dt = f.get_slice(k).get_dtype()
            if dt == "BF16":
                b, e = header[k]["data_offsets"]
                with open(path, "rb") as fh:
                    fh.seek(start + b)
                    u = np.frombuffer(fh.read(e - b), dtype="<u2").astype(np.uint32) << 16
                x = u.view(np.float32).reshape(header[k]["shape"])
            else:
                x = f.get_tensor(k)
            x = x.astype(np.float64)
            shape = "x".join(str(s) for s in x.shape)
            print("tensor %s %s %s %.17g %.17g %.17g" % (k, dt, shape, x.flat[0], x.flat[-1], x.sum()))


if __name__ == "__main__":
    args = sys.argv[1:]
    modes = ("verdict", "dump", "config")
    if not args or args[0] not in modes:
        sys.exit("usage: hf_reference.py [verdict FILE...] [dump DIR...] [config FILE...]")
    files, dirs, configs, into = [], [], [], None
    for a in args:
        if a in modes:
            into = {"verdict": files, "dump": dirs, "config": configs}[a]
        else:
            into.append(a)
    verdict(files)
    config(configs)
    for d in dirs:
        print("dir " + d)
        dump(d)
