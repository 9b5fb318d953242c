#!/usr/bin/env python3
"""e2e_score_pair_hf.py - HF transformers as the oracle for pair scoring.

    python e2e_score_pair_hf.py records RECORDS.jsonl
        writes the test's (instruction, response) records (committed as
        tests/host/fixtures/pair_records.jsonl): fixed seed, texts from a word
        list with punctuation, instructions of 0..60 words and responses of
        0..150, so both the cap and longest_first bite
    python e2e_score_pair_hf.py ref FIXTURE NAME MODEL MAX_LEN RECORDS "GEN-MODEL ARGS"
        (needs torch + transformers) adds case NAME to FIXTURE: for every record
        HF's token count and float32 logits of the pair checkpoint MODEL, the ids
        made by the HF call of ifs_tok_encode_pair_cap (scripts/ref_tokenize.py
        pair_cap_ids) with the checkpoint's ifs_instruction_max_tokens, or by
        tok(a, b, truncation=True, max_length=MAX_LEN) when it has none (for an
        empty response the same call without a cap: transformers' __call__
        would drop the empty text_pair, which neither the tokenizers library
        nor the Python tokenizer does), run through
        BertForSequenceClassification with the token type ids
    python e2e_score_pair_hf.py check FIXTURE NAME MODEL MAX_LEN SCORES.jsonl CLASSIFY.jsonl
        (stdlib only) compares `score --scores` (token count, label, p_answer to
        1e-5: printed to 6 decimals) and `classify --format jsonl` (token count,
        label, every logit to 1e-4) with the fixture; the checkpoint must be
        the one it was made from (sha256 of config.json, model.safetensors,
        vocab.txt). One summary line; exit 1 on any difference.

Regenerate (a Python with torch): REGEN=1 IFS_PYTHON=/path/python ctest -R
e2e_score_pair_hf, which runs `ref` for each case before checking.
"""
import json
import math
import os
import random
import sys

WORDS = ("the a cat dog sat on mat what is your name hello world how do you say good evening "
         "in french german please extract address grass valley ca list three reasons why "
         "water boils answer question write poem about sea demo classify this review "
         "bonsoir guten abend unaffable tokenization 2024 3.14 e-mail").split()
PUNCT = [".", ",", "?", "!", ":", ""]


def text(rng, n):
    out = []
    for _ in range(n):
        w = rng.choice(WORDS)
        if rng.random() < 0.15:
            w += rng.choice(PUNCT)
        out.append(w)
    return " ".join(out)


def cmd_records(path):
    rng = random.Random(18)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(60):
            a = text(rng, rng.choice([0, 1, 3, 5, 8, 12, 20, 40, 60]))
            b = text(rng, rng.choice([0, 1, 2, 6, 15, 30, 60, 150]))
            f.write(json.dumps({"id": i, "model": "m%d" % (i % 3), "instruction": a,
                                "response": b}) + "\n")


def model_sha(model_dir):
    import hashlib
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "vocab.txt"):
        with open(os.path.join(model_dir, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def hf_case(model_dir, max_len, records):
    """HF's token count, first-segment length and float32 logits per record."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "scripts"))
    from ref_tokenize import pair_cap_ids

    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    k = cfg.get("ifs_instruction_max_tokens") or 0
    assert cfg.get("ifs_input") == "pair", "not a pair checkpoint"
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    out = []
    n_capped = n_trunc = 0
    for r in (json.loads(x) for x in open(records, encoding="utf-8")):
        a, b = r["instruction"], r["response"]
        if k:
            enc = pair_cap_ids(tok, a, b, max_len, k)
        elif b == "":
            # transformers' fast __call__ drops an empty text_pair and encodes the
            # instruction alone ([CLS] a [SEP]); the tokenizers library's own
            # encode(a, "") and the Python tokenizer keep the pair ([CLS] a [SEP]
            # [SEP]), as ifscore does: the reference is theirs (no cap of its own)
            enc = pair_cap_ids(tok, a, b, max_len, 1 << 30)
        else:
            e = tok(a, b, truncation=True, max_length=max_len)
            enc = {"input_ids": e["input_ids"], "token_type_ids": e["token_type_ids"]}
        ids, types = enc["input_ids"], enc["token_type_ids"]
        n_a = len(tok(a, add_special_tokens=False)["input_ids"])
        n_b = len(tok(b, add_special_tokens=False)["input_ids"])
        n_capped += bool(k) and n_a > k
        n_trunc += len(ids) < n_a + n_b + 3
        with torch.no_grad():
            lg = model(input_ids=torch.tensor([ids]), token_type_ids=torch.tensor([types]),
                       attention_mask=torch.ones(1, len(ids), dtype=torch.long)).logits[0]
        out.append({"id": r["id"], "n_tokens": len(ids), "n_type0": types.count(0),
                    "logits": [float("%.9g" % v) for v in lg.tolist()]})
    return {"max_len": max_len, "cap": k, "model_sha256": model_sha(model_dir),
            "instructions_cut_by_the_cap": n_capped, "truncated": n_trunc, "records": out}


def cmd_ref(fixture, name, model_dir, max_len, records, regen):
    import tokenizers
    import torch
    import transformers
    doc = json.load(open(fixture)) if os.path.exists(fixture) else {}
    doc["generated_by"] = "tests/host/e2e_score_pair_hf.py ref (see its docstring)"
    doc["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                       "tokenizers": tokenizers.__version__}
    doc.setdefault("cases", {})[name] = dict(hf_case(model_dir, max_len, records), gen_model=regen)
    with open(fixture, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")
    c = doc["cases"][name]
    print("%s: %d records, %d cut by the cap, %d truncated -> %s" % (
        name, len(c["records"]), c["instructions_cut_by_the_cap"], c["truncated"], fixture))


def softmax(lg):
    m = max(lg)
    e = [math.exp(v - m) for v in lg]
    s = sum(e)
    return [v / s for v in e]


def cmd_check(fixture, name, model_dir, max_len, scores, classify):
    case = json.load(open(fixture))["cases"][name]
    if case["model_sha256"] != model_sha(model_dir):
        print("%s: the checkpoint is not the one the fixture was made from (gen-model changed?);"
              " regenerate the fixture (docstring)" % name)
        return 1
    if case["max_len"] != max_len:
        print("%s: max_len %d, the fixture's is %d" % (name, max_len, case["max_len"]))
        return 1
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    sc = {}
    for x in open(scores, encoding="utf-8"):
        r = json.loads(x)
        sc[r["id"]] = r
    cl = [json.loads(x) for x in open(classify, encoding="utf-8")]
    bad = 0
    worst_p = worst_l = 0.0
    for i, ref in enumerate(case["records"]):
        lg = ref["logits"]
        p = softmax(lg)
        label = max(range(len(lg)), key=lambda j: (lg[j], -j))
        s = sc.get(ref["id"])
        c = cl[i]
        why = []
        if s is None:
            why.append("no scores line")
        else:
            if s["tokens"] != ref["n_tokens"]:
                why.append("score tokens %d vs HF %d" % (s["tokens"], ref["n_tokens"]))
            if s["label"] != cfg["id2label"][str(label)]:
                why.append("score label %s vs HF %s" % (s["label"], label))
            d = abs(s["p_answer"] - p[1])
            worst_p = max(worst_p, d)
            if d > 1e-5:
                why.append("score p_answer %.6f vs HF %.6f" % (s["p_answer"], p[1]))
        if c.get("n_tokens") != ref["n_tokens"]:
            why.append("classify n_tokens %s vs HF %d" % (c.get("n_tokens"), ref["n_tokens"]))
        if c.get("label_id") != label:
            why.append("classify label %s vs HF %d" % (c.get("label_id"), label))
        for j, v in enumerate(c.get("logits", [])):
            d = abs(v - lg[j])
            worst_l = max(worst_l, d)
            if d > 1e-4:
                why.append("classify logit %d %.6g vs HF %.6g" % (j, v, lg[j]))
        if why:
            bad += 1
            if bad <= 5:
                print("record %s: %s" % (ref["id"], "; ".join(why)))
    print("%s (max_len %d, cap %d): %d records (%d instructions cut by the cap, %d truncated), "
          "%d differ from HF; max |dp| %.2e, max |dlogit| %.2e" % (
              name, max_len, case["cap"], len(case["records"]),
              case["instructions_cut_by_the_cap"], case["truncated"], bad, worst_p, worst_l))
    if case["cap"] and not case["instructions_cut_by_the_cap"]:
        print("the records never reach the cap: the check proves nothing about it")
        return 1
    return 1 if bad else 0


def main():
    if sys.argv[1] == "records":
        cmd_records(sys.argv[2])
        return 0
    if sys.argv[1] == "ref":
        cmd_ref(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7])
        return 0
    if sys.argv[1] == "check":
        f, name, model, max_len, scores, classify = sys.argv[2:8]
        return cmd_check(f, name, model, int(max_len), scores, classify)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
