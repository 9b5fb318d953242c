#!/usr/bin/env python3
"""ref_tokenize.py - HF's own token ids, the reference for tests/tokenizer.

Every reference comes from transformers' BertTokenizer (transformers 5: backed
by the Rust `tokenizers` BertTokenizerFast) loaded from the checkpoint folder
with AutoTokenizer.from_pretrained, exactly as a user would; the cased config
is the same checkpoint with do_lower_case=False. We call the configured backend
(`tok.backend_tokenizer`) in batch for speed; its ids are what `tok(...)` returns.

Subcommands (all write into OUT, a scratch folder):

  corpus MODEL SHARED OUT [--limit N]
      Every `output` of SHARED/data/alpaca_eval_outputs/*.json.zst (sorted files,
      array order) to OUT/texts.bin, and for each config C in (uncased, cased)
      OUT/C.wp.bin (WordPiece ids, no specials, no truncation) and OUT/C.enc.bin
      ([CLS] ... [SEP] truncated to model_max_length).
  codepoints MODEL OUT
      For every code point c, the words HF's normalizer + pre-tokenizer make of
      "A" + c + "b", per config: OUT/C.cp.txt, one line per code point
      ("%X\\t" + words joined by spaces).
  cases MODEL OUT_JSON
      The hard-case table (below) with HF fast ids for both configs, plus the
      slow Python BertTokenizerLegacy's, and whether they disagree.

Binary layout (little endian): texts.bin = "IFSTXT1\\0", u32 n_gen, then n_gen
names (u32 len + bytes), u32 n, then n x (u32 gen, u32 len, bytes).
*.bin ids = "IFSIDS1\\0", u32 n, then n x (u32 count, count x u32 id).
"""
import argparse
import glob
import json
import os
import struct
import sys
import time

CONFIGS = {"uncased": {}, "cased": {"do_lower_case": False}}


def load(model, cfg):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model, **CONFIGS[cfg])
    norm = tok.backend_tokenizer.normalizer
    want_lower = cfg == "uncased"
    if f"lowercase={want_lower}" not in repr(norm):
        sys.exit(f"ref_tokenize: {cfg} tokenizer has normalizer {norm!r}")
    return tok


def read_corpus(shared, limit):
    import zstandard
    files = sorted(glob.glob(os.path.join(shared, "data", "alpaca_eval_outputs", "*.json.zst")))
    if not files:
        sys.exit(f"ref_tokenize: no corpus under {shared}")
    gens, texts = [], []
    for gi, f in enumerate(files):
        gens.append(os.path.basename(f)[: -len(".json.zst")])
        with open(f, "rb") as fh:
            data = json.loads(zstandard.ZstdDecompressor().stream_reader(fh).read())
        for r in data:
            texts.append((gi, r["output"]))
            if limit and len(texts) >= limit:
                return gens, texts
    return gens, texts


class IdsWriter:
    """Streams the ids file: header first, then one sequence at a time."""

    def __init__(self, path, n):
        self.f = open(path, "wb")
        self.f.write(b"IFSIDS1\0")
        self.f.write(struct.pack("<I", n))

    def add(self, ids):
        import numpy as np
        self.f.write(struct.pack("<I", len(ids)))
        self.f.write(np.asarray(ids, dtype="<u4").tobytes())

    def close(self):
        self.f.close()


def cmd_corpus(a):
    t0 = time.time()
    gens, texts = read_corpus(a.shared, a.limit)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "texts.bin"), "wb") as f:
        f.write(b"IFSTXT1\0")
        f.write(struct.pack("<I", len(gens)))
        for g in gens:
            b = g.encode()
            f.write(struct.pack("<I", len(b)) + b)
        f.write(struct.pack("<I", len(texts)))
        for gi, t in texts:
            b = t.encode("utf-8")
            f.write(struct.pack("<II", gi, len(b)) + b)
    plain = [t for _, t in texts]
    print(f"ref_tokenize: {len(texts)} texts read in {time.time() - t0:.1f}s", flush=True)
    for cfg in CONFIGS:
        t1 = time.time()
        tok = load(a.model, cfg)
        be = tok.backend_tokenizer
        be.no_padding()  # MiniLM's tokenizer.json pads to 128; tok() does not by default
        # One pass gives both references: with truncation (stride 0) HF returns
        # the [CLS] a[:max-2] [SEP] encoding plus the rest as `overflowing`
        # chunks, whose inner ids concatenate back to the untruncated sequence
        # (checked against a no-truncation encode on a sample below).
        be.enable_truncation(tok.model_max_length)
        wpw = IdsWriter(os.path.join(a.out, f"{cfg}.wp.bin"), len(plain))
        encw = IdsWriter(os.path.join(a.out, f"{cfg}.enc.bin"), len(plain))
        step = max(1, len(plain) // 200)
        n_ids = 0
        # in chunks: HF Encoding objects are large (tokens, offsets, masks)
        for c0 in range(0, len(plain), 4096):
            be.enable_truncation(tok.model_max_length)
            encs = be.encode_batch(plain[c0:c0 + 4096], add_special_tokens=True)
            sample = [i for i in range(c0, c0 + len(encs)) if i % step == 0]
            be.no_truncation()
            full = be.encode_batch([plain[i] for i in sample], add_special_tokens=False)
            full = {i: e.ids for i, e in zip(sample, full)}
            for k, e in enumerate(encs):
                i = c0 + k
                wp = e.ids[1:-1] + [x for o in e.overflowing for x in o.ids[1:-1]]
                n_ids += len(wp)
                if i in full:
                    if full[i] != wp:
                        sys.exit(f"ref_tokenize: overflow reconstruction differs on text {i}")
                    if i % (10 * step) == 0:
                        ref = tok(plain[i], truncation=True, max_length=tok.model_max_length)["input_ids"]
                        if ref != e.ids:
                            sys.exit(f"ref_tokenize: backend and tok() disagree on text {i}")
                wpw.add(wp)
                encw.add(e.ids)
        wpw.close()
        encw.close()
        print(f"ref_tokenize: {cfg}: {n_ids} WordPiece ids in {time.time() - t1:.1f}s",
              flush=True)


def cmd_codepoints(a):
    os.makedirs(a.out, exist_ok=True)
    sep = "zqzsepzqz"  # a word no single code point can produce or touch
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    for cfg in CONFIGS:
        be = load(a.model, cfg).backend_tokenizer
        norm, pre = be.normalizer, be.pre_tokenizer
        with open(os.path.join(a.out, f"{cfg}.cp.txt"), "w", encoding="utf-8", newline="\n") as f:
            for i in range(0, len(cps), 8192):
                chunk = cps[i:i + 8192]
                # one call per chunk: "A c b" pieces between separator words
                text = (" " + sep + " ").join("A" + chr(cp) + "b" for cp in chunk)
                words = [w for w, _ in pre.pre_tokenize_str(norm.normalize_str(text))]
                groups, cur = [], []
                for w in words:
                    if w == sep:
                        groups.append(cur)
                        cur = []
                    else:
                        cur.append(w)
                groups.append(cur)
                if len(groups) != len(chunk):
                    sys.exit(f"ref_tokenize: codepoint chunk at U+{chunk[0]:04X} did not split cleanly")
                for cp, g in zip(chunk, groups):
                    f.write(f"{cp:X}\t{' '.join(g)}\n")


# The hard cases: (name as a sentence, text or [text_a, text_b], max_length or None).
def hard_cases():
    long_word = "a" * 10000
    cases = [
        ("empty text gives only the framing tokens", "", None),
        ("whitespace only text gives no tokens", " \t\n\r\u3000\u00a0\u2028 ", None),
        ("plain english lowercases and splits punctuation", "Hello, World! It's 3.14.", None),
        ("accents are stripped after nfd in the uncased config", "Café naïve résumé Ångström", None),
        ("combining marks following ascii letters are stripped", "e\u0301 a\u0308 n\u0303", None),
        ("combining marks are reordered canonically before stripping", "a\u0323\u0302 q\u0307\u0323", None),
        ("musical combining marks survive stripping in canonical order", "x\U0001D165\U0001D16D\U0001D165", None),
        ("dotted capital i lowercases to i plus a dot", "İstanbul İ", None),
        ("greek final sigma and german sharp s", "ΟΔΥΣΣΕΥΣ Straße ẞ", None),
        ("cjk ideographs become single words", "我爱北京天安门abc中文", None),
        ("cjk extension b and compatibility ideographs split too", "\U00020000x\uF900y\U0002F800", None),
        ("japanese kana are not split like ideographs", "ひらがなカタカナ漢字", None),
        ("korean hangul decomposes into jamo when uncased", "한국어 텍스트", None),
        ("thai script has no spaces and stays one word", "ภาษาไทยง่ายนิดเดียว", None),
        ("arabic and hebrew with marks", "مَرْحَبًا שָׁלוֹם", None),
        ("devanagari with vowel signs", "हिन्दी नमस्ते", None),
        ("zero width characters are removed inside words", "zero\u200bwidth\u200cjoin\u200dword\ufeffbom", None),
        ("soft hyphen and bidi controls are removed", "soft\u00adhyphen \u202eright\u202c \u2066iso\u2069", None),
        ("control characters and nul are removed", "a\x00b\x01c\x7fd\x1be\x85f\x0bg\x0ch", None),
        ("replacement character is removed", "bad\ufffdchar \ufffd", None),
        ("unicode spaces split words", "a\u2003b\u2009c\u202fd\u205fe\u3000f\u1680g", None),
        ("line and paragraph separators split words", "a\u2028b\u2029c", None),
        ("emoji are unknown single tokens", "I ❤️ NY 😀👍🏽", None),
        ("emoji zwj sequences lose their joiners", "👨‍👩‍👧‍👦 🏳️‍🌈", None),
        ("regional indicator flags", "🇺🇸🇫🇷", None),
        ("math and symbols split as punctuation when they are", "x² ≤ ∑∞ → © ® ™ € £ ¥ § ¶ • …", None),
        ("unicode punctuation splits words", "«quote» “smart” ‘single’ — – ¿qué? ¡sí!", None),
        ("ascii symbols that are punctuation for bert", "a$b^c`d|e~f+g<h=i>j", None),
        ("a word of ten thousand characters is one unk", long_word, None),
        ("a word of exactly one hundred characters is still split", "b" * 100, None),
        ("a word of one hundred and one characters is unk", "b" * 101, None),
        ("special tokens written in the text are kept", "x [SEP] y [CLS][MASK]z [unk] [PAD", None),
        ("wordpiece splits long words into pieces", "unaffable tokenization antidisestablishmentarianism", None),
        ("digits and mixed alphanumerics", "abc123def 2024-01-01 0x1F 3.14159e10", None),
        ("urls and emails", "https://example.com/a?b=c&d=e mail@example.org", None),
        ("code with braces and operators", "int main(){return a->b&&c||!d;}", None),
        ("fullwidth letters and digits", "ＡＢＣ１２３ｆｕｌｌ", None),
        ("ligatures and compatibility characters are not nfkc folded", "ﬁﬂ ﬃ Ⅻ ①", None),
        ("private use and unassigned code points", "a\ue000b\U000F0000c\U0010FFFDd\u0378e", None),
        ("supplementary plane letters", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝", None),
        ("truncation at exactly the limit keeps everything", "one two three four five six", 8),
        ("truncation one token over the limit drops the last", "one two three four five six seven", 8),
        ("truncation to the minimum length keeps only the framing", "one two three", 2),
        ("pair gets type ids and separators", ["What is 2+2?", "It is four."], None),
        ("pair truncation longest first trims the longer text", ["short question", "a much longer answer with many many words in it"], 12),
        ("pair truncation when both texts are long splits the room", ["a b c d e f g h i j", "k l m n o p q r s t u"], 11),
        ("pair truncation with an even room and equal lengths", ["a b c d e f", "g h i j k l"], 9),
        ("pair with an empty first text", ["", "answer here"], None),
        ("pair truncation to exactly three keeps only specials", ["a b", "c d"], 3),
    ]
    return cases


def pair_cap_cases():
    """Pairs with the first text's own cap (the pair classifier's instruction
    budget, ifs_instruction_max_tokens = a_max): (name, [a, b], max_len, a_max).
    Several max lengths and caps, caps below, at and above half the room
    ((max_len - 3) / 2), caps longer than the instruction, an empty one."""
    q = "how do you say good evening in french and in german please"   # 12+ ids
    r = "bonsoir is french and guten abend is german for good evening"  # 12+ ids
    return [
        ("pair cap cuts a long instruction before longest_first", [q, r], 32, 4),
        ("pair cap below half the room keeps the cap and the response fills the rest", [q, r], 16, 3),
        ("pair cap at half the room", [q, r], 17, 7),
        ("pair cap above half the room is then cut by longest_first", [q, r], 16, 10),
        ("pair cap far above half the room with a short response", [q, "Demo"], 12, 8),
        ("pair cap above the whole room", [q, r], 10, 50),
        ("pair cap longer than the instruction changes nothing", ["extract the address", r], 24, 20),
        ("pair cap equal to the instruction length", ["extract the address", r], 24, 3),
        ("pair cap of one id", [q, r], 16, 1),
        ("pair cap with an empty instruction", ["", r], 12, 4),
        ("pair cap with an empty response", [q, ""], 12, 4),
        ("pair cap without truncation of the response", [q, "Grass Valley, CA"], 64, 5),
        ("pair cap with a long response truncated to the room", [q, " ".join([r] * 8)], 64, 16),
        ("pair cap at the minimum length keeps only specials", [q, r], 3, 2),
    ]


def pair_cap_ids(tok, a, b, max_len, a_max):
    """The HF call ifs_tok_encode_pair_cap equals (tokenizer/ifs_tok.h):
        ids_a = tok(a, add_special_tokens=False)["input_ids"][:a_max]
        ids_b = tok(b, add_special_tokens=False)["input_ids"]
        tok.prepare_for_model(ids_a, ids_b, truncation="longest_first", max_length=max_len)
    In transformers 5 prepare_for_model is the Python tokenizer's (BertTokenizerLegacy,
    the `slow` reference here); for the fast one the same steps are the `tokenizers`
    library's own: encode without specials, Encoding.truncate(a_max) on the first text,
    then Tokenizer.post_process with longest_first truncation to max_len (what
    tok(a, b, truncation=True) runs after encoding)."""
    if hasattr(tok, "prepare_for_model"):
        ids_a = tok(a, add_special_tokens=False)["input_ids"][:a_max]
        ids_b = tok(b, add_special_tokens=False)["input_ids"]
        enc = tok.prepare_for_model(ids_a, ids_b, truncation="longest_first",
                                    max_length=max_len, return_token_type_ids=True)
        return {"input_ids": enc["input_ids"], "token_type_ids": enc["token_type_ids"]}
    from tokenizers import Tokenizer
    bt = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    bt.no_truncation()
    bt.no_padding()
    ea = bt.encode(a, add_special_tokens=False)
    eb = bt.encode(b, add_special_tokens=False)
    ea.truncate(a_max)
    bt.enable_truncation(max_len, strategy="longest_first")
    out = bt.post_process(ea, eb, add_special_tokens=True)
    return {"input_ids": out.ids, "token_type_ids": out.type_ids}


def cmd_cases(a):
    from transformers import BertTokenizerLegacy
    toks = {cfg: load(a.model, cfg) for cfg in CONFIGS}
    vocab = os.path.join(a.model, "vocab.txt")
    slow = {"uncased": BertTokenizerLegacy(vocab_file=vocab, do_lower_case=True),
            "cased": BertTokenizerLegacy(vocab_file=vocab, do_lower_case=False)}
    out = []
    for name, text, max_len in hard_cases():
        row = {"name": name}
        # the UTF-8 bytes in hex as well: JSON readers (cJSON) stop at \u0000
        if isinstance(text, list):
            row["a"], row["b"] = text
            row["a_hex"], row["b_hex"] = (x.encode().hex() for x in text)
        else:
            row["text"] = text
            row["text_hex"] = text.encode().hex()
        row["max_len"] = max_len or 0
        for cfg in CONFIGS:
            kw = {"truncation": True, "max_length": max_len} if max_len else {}
            args = text if isinstance(text, list) else [text]
            fast = toks[cfg](*args, **kw)
            sl = slow[cfg](*args, **kw)
            row[cfg] = {"ids": fast["input_ids"], "type_ids": fast["token_type_ids"]}
            if sl["input_ids"] != fast["input_ids"]:
                row[cfg]["slow_ids"] = sl["input_ids"]
        out.append(row)
    for name, (ta, tb), max_len, a_max in pair_cap_cases():
        row = {"name": name, "a": ta, "b": tb, "a_hex": ta.encode().hex(),
               "b_hex": tb.encode().hex(), "max_len": max_len, "a_max": a_max}
        for cfg in CONFIGS:
            fast = pair_cap_ids(toks[cfg], ta, tb, max_len, a_max)
            sl = pair_cap_ids(slow[cfg], ta, tb, max_len, a_max)
            row[cfg] = {"ids": fast["input_ids"], "type_ids": fast["token_type_ids"]}
            if sl["input_ids"] != fast["input_ids"]:
                row[cfg]["slow_ids"] = sl["input_ids"]
        out.append(row)
    import tokenizers
    import transformers
    doc = {"generated_by": "scripts/ref_tokenize.py cases",
           "tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
           "model": os.path.basename(os.path.normpath(a.model)),
           "vocab_sha256": sha256(vocab),
           "note": "ids are BertTokenizerFast's (what we match); slow_ids appear only where "
                   "the slow Python BertTokenizerLegacy disagrees",
           "cases": out}
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=True, indent=1)
        f.write("\n")
    n = sum(1 for r in out for c in CONFIGS if "slow_ids" in r[c])
    print(f"ref_tokenize: {len(out)} cases, {n} slow/fast disagreements -> {a.out}")


def sha256(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("corpus")
    p.add_argument("model")
    p.add_argument("shared")
    p.add_argument("out")
    p.add_argument("--limit", type=int, default=0)
    p = sub.add_parser("codepoints")
    p.add_argument("model")
    p.add_argument("out")
    p = sub.add_parser("cases")
    p.add_argument("model")
    p.add_argument("out")
    a = ap.parse_args()
    {"corpus": cmd_corpus, "codepoints": cmd_codepoints, "cases": cmd_cases}[a.cmd](a)


if __name__ == "__main__":
    main()
