"""hf_reference.py - HF's own readers as the oracle for tests/weights.

    python hf_reference.py [verdict FILE...] [dump DIR...]
      verdict: one line per file, "ACCEPTED" or "REFUSED <reason>" from
               safetensors' reader
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
    if not args or args[0] not in ("verdict", "dump"):
        sys.exit("usage: hf_reference.py [verdict FILE...] [dump DIR...]")
    files, dirs, into = [], [], None
    for a in args:
        if a in ("verdict", "dump"):
            into = files if a == "verdict" else dirs
        else:
            into.append(a)
    verdict(files)
    for d in dirs:
        print("dir " + d)
        dump(d)
