"""`hfkit inspect` on zoo checkpoints (make_zoo.py: a multimodal Gemma 3, Phi-2, Mixtral, Qwen3-MoE
with mlp_only layers and with decoder_sparse_step 2) against the tensors each really holds, read from its
safetensors header here: with the weights (the headers' exact sum) and from config.json alone
(the family's formula, which must give the same total), the MoE active count (every tensor
outside the experts, plus top-k experts of each sparse layer) both ways, and the stored bytes
(the file's size with the headers; 4 bytes a parameter from a float32 config alone)."""
import json
import os
import re
import struct
import subprocess
from pathlib import Path

import pytest

ZOO = Path(os.environ["HFK_ZOO_DIR"])
# The formula of every zoo case is checked in C++ (test_zoo_forward's InspectorCounts...); here
# the command's two paths on what they add: the MoE active counts off the header total, a
# multimodal checkpoint (language model only from its config), and a dense one with biases.
CASES = ["gemma3-mm-tok", "mixtral", "phi2", "qwen3-moe", "qwen3-moe-step"]


def hfkit(*args):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(ZOO / "hf-home"))
    r = subprocess.run([os.environ["HFK_CLI"], *args], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    [info] = json.loads(r.stdout)
    return info


def header(model):
    with open(model / "model.safetensors", "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h, (model / "model.safetensors").stat().st_size - 8 - n


def numel(t):
    size = 1
    for d in t["shape"]:
        size *= d
    return size


def counts(model):
    """(total, language model only, active) from the header: a layer's experts are the tensors
    named ...layers.L...experts.E...; a token visits num_experts_per_tok of them."""
    h, data_bytes = header(model)
    config = json.loads((model / "config.json").read_text())
    text = config.get("text_config", config)
    k = text.get("num_experts_per_tok", 0)
    total = sum(numel(t) for t in h.values())
    language = sum(numel(t) for name, t in h.items()
                   if not name.startswith(("vision_tower.", "multi_modal_projector.")))
    experts = {}  # layer -> {expert -> size}
    for name, t in h.items():
        m = re.search(r"layers\.(\d+)\..*experts\.(\d+)\.", name)
        if m:
            layer = experts.setdefault(int(m.group(1)), {})
            layer[int(m.group(2))] = layer.get(int(m.group(2)), 0) + numel(t)
    idle = 0
    for sizes in experts.values():
        assert len(set(sizes.values())) == 1, sizes  # every expert of a layer has one size
        idle += (len(sizes) - k) * next(iter(sizes.values()))
    return total, language, total - idle, data_bytes


@pytest.mark.parametrize("name", CASES)
def test_inspect_counts_what_the_checkpoint_holds(name, tmp_path):
    model = ZOO / name
    total, language, active, data_bytes = counts(model)
    info = hfkit("inspect", str(model), "--json")
    assert info["parameters_source"] == "safetensors_headers"
    assert info["parameters"] == total
    assert info["active_parameters"] == active
    assert data_bytes == 4 * total  # F32 tensors, nothing else in the data
    assert info["stored_weight_bytes"] == (model / "model.safetensors").stat().st_size
    assert info["supported_for_inference"] is True, info

    # config.json alone: the formula must give the language model's exact count.
    (tmp_path / "config.json").write_text((model / "config.json").read_text())
    info = hfkit("inspect", str(tmp_path), "--json")
    assert info["parameters_source"] == "config", info
    assert info["parameters"] == language
    assert info["active_parameters"] == active - (total - language)
    assert info["stored_weight_bytes"] == 4 * language


def test_moe_active_counts_are_below_the_totals():
    for name in ("mixtral", "qwen3-moe", "qwen3-moe-step"):
        total, _, active, _ = counts(ZOO / name)
        assert active < total, name
