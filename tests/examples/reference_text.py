"""Prints the reference greedy text of the default model, decoded without hfkit.

The ids come from shared/reference/forward/aidreams260K/forward_bos_f32.json (field `greedy`,
made by torch); they are decoded here with the model's tokenizer.json decoder, which for this
model is SentencePiece's: Replace("\u2581" -> " "), ByteFallback, Fuse, Strip(1 leading space).
Other consumers (C, libffi, Rust, Python) compare their output with this text.

Usage: reference_text.py MODEL_DIR FORWARD_JSON [N]  (N: only the first N ids)
"""

import json
import re
import sys


def decode(tokenizer: dict, ids) -> str:
    dec = tokenizer["decoder"]
    kinds = [d["type"] for d in dec["decoders"]]
    if kinds != ["Replace", "ByteFallback", "Fuse", "Strip"]:
        raise SystemExit(f"reference_text.py: unexpected decoder {kinds}")
    vocab = {i: t for t, i in tokenizer["model"]["vocab"].items()}
    special = {t["id"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    out = bytearray()
    for i in ids:
        if i in special:
            continue  # skip_special_tokens, as generated text is
        tok = vocab[i]
        m = re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", tok)
        if m:
            out.append(int(m.group(1), 16))
        else:
            out += tok.replace("\u2581", " ").encode()
    text = out.decode("utf-8", errors="replace")
    strip = dec["decoders"][3]
    if strip.get("start", 0) and text.startswith(" "):
        text = text[1:]
    return text


def main() -> None:
    model_dir, forward = sys.argv[1], sys.argv[2]
    ids = json.load(open(forward))["greedy"]
    if len(sys.argv) > 3:
        ids = ids[: int(sys.argv[3])]
    with open(f"{model_dir}/tokenizer.json", encoding="utf-8") as f:
        tokenizer = json.load(f)
    sys.stdout.write(decode(tokenizer, ids))


if __name__ == "__main__":
    main()
