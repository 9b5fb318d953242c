#!/usr/bin/env python3
"""ref_added_tokens.py - HF reference ids for checkpoints with added tokens
(issue 11 item 5), written to tests/tokenizer/added_cases.json.

Each checkpoint is a small vocab.txt plus a tokenizer_config.json with
added_tokens_decoder (special and non-special, normalized=false and true,
lstrip/rstrip, tokens that start with letters, digits and non-ASCII,
overlapping tokens).
We tokenize with transformers' BertTokenizerFast and record the ids; where the
legacy slow tokenizer (BertTokenizerLegacy, if present) differs, its ids are
recorded as slow_ids. parity_tok_added.c rebuilds the folders from this JSON
and compares, so the test needs no Python.

Usage: .venv/bin/python scripts/ref_added_tokens.py > tests/tokenizer/added_cases.json
"""
import json, os, sys, tempfile
import tokenizers, transformers
from transformers import BertTokenizerFast

BASE = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "##a", "##b", "hello", "##1", "1",
        "x", "##x", "é", "!", "ab", "##llo", "he", "##l", "##o", "h", "##e", "我"]
CKPTS = [
    {"name": "uncased, letter/digit/unicode/overlapping added tokens", "lower": True,
     "added": [
         {"content": "ab1", "special": False, "normalized": False},
         {"content": "ab12", "special": False, "normalized": False},
         {"content": "1x", "special": False, "normalized": False},
         {"content": "é!", "special": False, "normalized": False},
         {"content": "[X]", "special": True, "normalized": False},
         {"content": "[Y]", "special": True, "normalized": False, "lstrip": True, "rstrip": True},
         {"content": "Hel", "special": False, "normalized": False},
         {"content": "我a", "special": True, "normalized": False},
     ]},
    {"name": "cased, the same tokens", "lower": False, "same_as": 0},
    # normalized=true (matched on the normalized text, HF's second pass),
    # next to raw ones; "XA" has no "normalized" key (transformers: not special
    # means normalized)
    {"name": "uncased, normalized added tokens beside raw ones", "lower": True, "more_texts": True,
     "added": [
         {"content": "Héllo", "special": False, "normalized": True},
         {"content": "b!", "special": False, "normalized": True},
         {"content": "a b", "special": False, "normalized": True},
         {"content": "[Z]", "special": True, "normalized": False},
         {"content": "XA", "special": False},
         {"content": "我x", "special": False, "normalized": True},
         {"content": "ab1", "special": False, "normalized": False},
         {"content": "AB12", "special": False, "normalized": True},
         {"content": "1x", "special": False, "normalized": True, "lstrip": True, "rstrip": True},
         {"content": "é!", "special": True, "normalized": True},
         {"content": "x\tb", "special": False, "normalized": True},
     ]},
    {"name": "cased, the same normalized tokens", "lower": False, "same_as": 2, "more_texts": True},
]
MORE_TEXTS = ["HELLO hello héllo xhellox Héllo", "ab! b! B!", "a b", "a  b", "A B", "a\tb", "a\u00a0b",
              "[Z]a b", "a[Z]b!", "xa XA xax", "我x 我 x 我X", "ab12 AB12 ab1 aB12", "ab1ab12",
              "1x 1X x1x1x", "é! e! É!", "x b x\tb xb", "hel lo", "a b!", "a b b!", "éa b", "a\u0301 b",
              "[Z][Z]a b[Z]", "hello!hello", "a\x01 b", "a\u200b b", "ﬀ a b",
              # longer than tok_encode.c's 512-byte chunks of normalized text,
              # so that tokens straddle chunk ends at many offsets
              "Héllo a b " * 100, "x " + "HÉLLO a\tb b!" * 90, "a" + " a b" * 200 + "我x" * 30]
TEXTS = ["ba", "hello xab1 ab", "xab12ab1", "ab1ab1ab1", "1x1x", "11x", "é!é", "éé!", "[X]hello[X]",
         "  [Y]  a", "a[Y]b", "HELLO AB1", "Hello Hel hel", "hhel", "我a我", "a我a", "ab", "abab12",
         "[X", "[X][Y][X]", "x1xab1é!", "", "   ", "Héllo", "aaaaaaaaaaaaab1"]


def build(d, ck, added):
    vocab = BASE + [t["content"] for t in added]
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    dec = {}
    for i, t in enumerate(added):
        e = {"content": t["content"], "special": t["special"]}
        if "normalized" in t:  # absent: transformers decides (not special -> normalized)
            e["normalized"] = t["normalized"]
        e.update({"lstrip": t.get("lstrip", False), "rstrip": t.get("rstrip", False),
                  "single_word": t.get("single_word", False)})
        dec[str(len(BASE) + i)] = e
    cfg = {"do_lower_case": ck["lower"], "model_max_length": 512, "added_tokens_decoder": dec,
           "tokenizer_class": "BertTokenizer"}
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False)
    return vocab, cfg


def main():
    out = {"provenance": {"script": "scripts/ref_added_tokens.py", "tokenizers": tokenizers.__version__,
                          "transformers": transformers.__version__,
                          "reference": "BertTokenizerFast (slow_ids: BertTokenizerLegacy where it differs)"},
           "base_vocab": BASE, "checkpoints": []}
    slow_cls = getattr(transformers, "BertTokenizerLegacy", None)
    for ck in CKPTS:
        added = CKPTS[ck["same_as"]]["added"] if "same_as" in ck else ck["added"]
        with tempfile.TemporaryDirectory() as d:
            vocab, cfg = build(d, ck, added)
            fast = BertTokenizerFast.from_pretrained(d)
            slow = slow_cls.from_pretrained(d) if slow_cls else None
            cases = []
            for t in TEXTS + (MORE_TEXTS if ck.get("more_texts") else []):
                ids = fast(t)["input_ids"]
                c = {"text": t, "ids": ids}
                if slow is not None:
                    s = slow(t)["input_ids"]
                    if s != ids:
                        c["slow_ids"] = s
                cases.append(c)
        out["checkpoints"].append({"name": ck["name"], "vocab": vocab, "tokenizer_config": cfg, "cases": cases})
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
