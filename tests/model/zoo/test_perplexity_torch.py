"""`hfkit perplexity` against PyTorch (issue 20): the trained aidreams260K checkpoint run by the
torch forward of make_zoo.py (written from transformers' modeling_llama, never from hfkit), over
the same ids, chunked the same way; every token's logprob and the perplexity must agree.

The ids come from the command's --tokens output (tokenization is tested elsewhere); each chunk's
logits are computed by torch from scratch, and log_softmax is numpy's, in float64.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_zoo  # noqa: E402

SOURCE = pathlib.Path(os.environ.get("HFK_SOURCE_DIR", HERE.parents[2]))
MODEL = SOURCE / "models" / "aidreams260K"
CLI = os.environ["HFK_CLI"]

TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the "
        "sunshine. One day, she saw a big red ball in the park and ran to get it. The ball "
        "rolled away and she laughed. Her mom said: \"Be careful!\" Lily smiled and said "
        "she would.\n")


def load_weights():
    raw = (MODEL / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    w = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", name
        a, b = t["data_offsets"]
        arr = np.frombuffer(raw, dtype="<f4", count=(b - a) // 4, offset=8 + n + a)
        w[name] = torch.from_numpy(arr.reshape(t["shape"]).copy())
    return w


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def run_cli(tmp_path, *extra):
    f = tmp_path / "text.txt"
    f.write_text(TEXT)
    out = subprocess.run([CLI, "perplexity", str(MODEL), str(f), "--json", "--tokens", *extra],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def torch_chunk_logprobs(cfg, w, ids):
    with torch.no_grad():
        logits = make_zoo.forward(cfg, w, ids).numpy()
    lp = log_softmax(logits)
    return [float(lp[i - 1][ids[i]]) for i in range(1, len(ids))]


def check(tmp_path, *extra):
    got = run_cli(tmp_path, *extra)
    cfg = json.loads((MODEL / "config.json").read_text())
    w = load_weights()
    nll, scored = 0.0, 0
    for chunk in got["chunks"]:
        want = torch_chunk_logprobs(cfg, w, chunk["ids"])
        assert chunk["logprobs"][0] is None  # the first id of a chunk has no context
        np.testing.assert_allclose(chunk["logprobs"][1:], want, atol=1e-4)
        nll -= sum(want)
        scored += len(want)
    assert scored == got["n_scored"]
    ppl = float(np.exp(nll / scored))
    assert abs(got["perplexity"] - ppl) <= 1e-4 * ppl, (got["perplexity"], ppl)
    return got


def test_perplexity_whole_context_with_bos_agrees_with_torch(tmp_path):
    got = check(tmp_path)
    assert got["n_chunks"] == 2  # the text is longer than the model's 128 positions
    assert all(c["ids"][0] == 1 for c in got["chunks"])  # BOS leads every chunk
    assert got["n_scored"] == got["n_tokens"]


def test_perplexity_small_chunks_without_bos_agrees_with_torch(tmp_path):
    got = check(tmp_path, "--ctx", "16", "--no-bos")
    assert got["n_chunks"] > 1
    assert got["n_scored"] == got["n_tokens"] - got["n_chunks"]
    joined = [i for c in got["chunks"] for i in c["ids"]]
    assert joined == got["ids"]
