"""gen_scale.py - writes N_SHARDS plain JSONL shards holding N records in total
for the scale benchmark: short responses (2 to 12 words of a small
vocabulary), models m0..m7, alternating partial/full. Deterministic.

Usage: python3 gen_scale.py OUTDIR N_RECORDS N_SHARDS
Also writes OUTDIR/vocab.txt (the words, for gen-model --vocab).
"""
import os
import sys

WORDS = ("what if people had legs it seems your question is incomplete please tell me "
         "more about this here are some ideas").split()


def main():
    out, n, shards = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(WORDS))) + "\n")
    texts = []
    for k in range(997):
        w = 2 + (k * 7) % 11
        texts.append(" ".join(WORDS[(k + j * 3) % len(WORDS)] for j in range(w)))
    per = (n + shards - 1) // shards
    i = 0
    for s in range(shards):
        with open(os.path.join(out, "scale-%04d.jsonl" % s), "w") as f:
            buf = []
            for _ in range(min(per, n - i)):
                buf.append('{"id":%d,"model":"m%d","instruction_type":"%s","response":"%s"}\n'
                           % (i, i % 8, "partial" if i & 1 else "full", texts[i % 997]))
                i += 1
            f.write("".join(buf))


if __name__ == "__main__":
    main()
