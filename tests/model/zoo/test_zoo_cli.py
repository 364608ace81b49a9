"""New architectures (Qwen3, Phi-2, Mixtral and a multimodal Gemma 3 checkpoint: make_zoo.py's
*-tok cases) through the hfkit command: `run` prints the torch reference's greedy text (and, for
Gemma 3, the warning that only its language model runs), `inspect --json` counts the parameters
exactly (MoE: the active ones too) and calls the model runnable. Nothing in the CLI is
architecture-specific: model_type dispatch does it."""
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

SOURCE_DIR = Path(os.environ["HFK_SOURCE_DIR"])
sys.path.insert(0, str(SOURCE_DIR / "tests" / "examples"))
import pytest  # noqa: E402
from reference_text import decode  # noqa: E402

ZOO = Path(os.environ["HFK_ZOO_DIR"])
MODELS = ["qwen3-tok", "phi2-tok", "gemma3-mm-tok", "mixtral-tok"]


def hfkit(*args):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(ZOO / "hf-home"))
    return subprocess.run([os.environ["HFK_CLI"], *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.parametrize("name", MODELS)
def test_run_prints_the_torch_greedy_text(name):
    model = ZOO / name
    ref = json.loads((model / "reference.json").read_text())
    tokenizer = json.loads((model / "tokenizer.json").read_text())
    expected = decode(tokenizer, ref["greedy_from_bos"])
    n = len(ref["greedy_from_bos"])
    assert n >= 4, ref["greedy_from_bos"]
    r = hfkit("run", str(model), "", "--max-tokens", str(n), "--temperature", "0", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout == expected + "\n"


def test_multimodal_gemma3_warns_that_only_its_language_model_runs():
    r = hfkit("run", str(ZOO / "gemma3-mm-tok"), "", "--max-tokens", "2", "--temperature", "0",
              "--quiet")
    assert r.returncode == 0, r.stderr
    assert "hfkit: warning: gemma3: only the language model" in r.stderr
    assert "vision tower is ignored" in r.stderr
    r = hfkit("run", str(ZOO / "phi2-tok"), "", "--max-tokens", "2", "--temperature", "0",
              "--quiet")
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    r = hfkit("inspect", str(ZOO / "gemma3-mm-tok"))
    assert r.returncode == 0, r.stderr
    assert "yes (the language model runs alone)" in r.stdout, r.stdout


@pytest.mark.parametrize("name", MODELS[:2])
def test_inspect_counts_the_parameters_exactly(name):
    model = ZOO / name
    r = hfkit("inspect", str(model), "--json")
    assert r.returncode == 0, r.stderr
    [info] = json.loads(r.stdout)
    blob = (model / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    elements = 0
    for name, t in header.items():
        if name != "__metadata__":
            size = 1
            for d in t["shape"]:
                size *= d
            elements += size
    assert info["parameters"] == elements
    assert info["supported_for_inference"] is True, info


def test_inspect_counts_mixtral_total_and_active_exactly():
    """Active = every tensor outside the experts + top-k experts of each layer (expert 0's size),
    from the checkpoint's header alone."""
    model = ZOO / "mixtral-tok"
    r = hfkit("inspect", str(model), "--json")
    assert r.returncode == 0, r.stderr
    [info] = json.loads(r.stdout)
    config = json.loads((model / "config.json").read_text())
    blob = (model / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    total = shared = expert0 = 0
    for name, t in header.items():
        if name == "__metadata__":
            continue
        size = 1
        for d in t["shape"]:
            size *= d
        total += size
        if ".experts." not in name:
            shared += size
        elif ".experts.0." in name:
            expert0 += size
    assert info["parameters"] == total
    assert info["active_parameters"] == shared + config["num_experts_per_tok"] * expert0
    assert info["active_parameters"] < total
    assert info["num_experts"] == 4 and info["experts_per_token"] == 2
    assert info["supported_for_inference"] is True, info
