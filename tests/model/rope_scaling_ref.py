#!/usr/bin/python3
"""Checkpoints with rope_scaling and their torch references, written at test time (issue 23).

usage: rope_scaling_ref.py OUT_DIR [SHARED_DIR]

For each RoPE scaling type the engine supports (linear, llama3) this writes OUT_DIR/<type>/ with
  config.json         tiny-llama-gqa-f32's config (4 query / 2 KV heads, head_dim 8) with
                      rope_scaling set and max_position_embeddings 512
  model.safetensors   a symlink to ../shared/models/tiny/tiny-llama-gqa-f32/model.safetensors
  reference.json      {"ids": [...], "logits": [[...vocab...] per position]}, float64 torch

The forward pass below is written here from transformers' LlamaForCausalLM (RMSNorm, rotate_half
RoPE, GQA, SiLU-gated MLP) and the inverse frequencies from transformers' modeling_rope_utils.py
(_compute_default_rope_parameters, _compute_linear_scaling_rope_parameters,
_compute_llama3_parameters); it shares no code with hfkit or with ../shared/tools/ref_forward.py.

The llama3 parameters put the four frequencies of head_dim 8 (wavelengths 6.3, 63, 628 and 6283
positions with theta 1e4) into all three bands of Llama 3.1's rule with an original context of
128: kept (< 32), smoothed (32..128), divided by the factor (> 128). The script checks that each
scaled reference differs from the unscaled model's logits, so a test against it cannot pass with
the scaling ignored.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

BASE = "tiny-llama-gqa-f32"
SCALINGS = {
    "linear": {"rope_type": "linear", "factor": 4.0},
    "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 128},
}
N_POSITIONS = 100


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        arr = np.frombuffer(blob[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float64))
    return out


def inv_freq(cfg, head_dim):
    # _compute_default_rope_parameters
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":  # _compute_linear_scaling_rope_parameters: inv_freq /= factor
        return inv / rs["factor"]
    if kind == "llama3":  # _compute_llama3_parameters
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old_ctx = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
        wavelen = 2 * math.pi / inv
        out = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old_ctx / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, out)
    raise ValueError("unsupported rope_scaling %r" % rs)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, W, ids):
    """LlamaForCausalLM logits at every position, float64."""
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or H // nh
    eps = cfg["rms_norm_eps"]
    T = len(ids)
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq(cfg, hd))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()  # attention_factor is 1 for linear and llama3
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for layer in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % layer
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, nh, hd).transpose(0, 1)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, nkv, hd).transpose(0, 1)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, nkv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=0)
        v = v.repeat_interleave(nh // nkv, dim=0)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(T, nh * hd)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].T)
        x = x + (g * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["lm_head.weight"] if "lm_head.weight" in W else W["model.embed_tokens.weight"]
    return x @ head.T


def main():
    out_dir = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("HFK_SHARED_DIR", "../shared")
    src = os.path.join(shared, "models", "tiny", BASE)
    with open(os.path.join(src, "config.json")) as f:
        base_cfg = json.load(f)
    W = read_safetensors(os.path.join(src, "model.safetensors"))
    rng = np.random.default_rng(23)
    ids = [int(i) for i in rng.integers(3, base_cfg["vocab_size"], N_POSITIONS)]
    # This forward pass agrees with the shared float64 reference of the unscaled model.
    shared_ref = os.path.join(shared, "reference", "forward", BASE, "forward_f64.json")
    with open(shared_ref) as f:
        ref = json.load(f)
    err = float((forward(base_cfg, W, ref["ids"])[-1] - torch.tensor(ref["last_logits"], dtype=torch.float64)).abs().max())
    if err > 1e-9:
        sys.exit("the forward pass here differs from %s by %g" % (shared_ref, err))
    plain = forward(base_cfg, W, ids)
    for name, scaling in SCALINGS.items():
        cfg = dict(base_cfg, rope_scaling=scaling, max_position_embeddings=512)
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        link = os.path.join(d, "model.safetensors")
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.abspath(os.path.join(src, "model.safetensors")), link)
        logits = forward(cfg, W, ids)
        gap = float((logits - plain).abs().max())
        if gap < 1e-2:
            sys.exit("%s: the scaled reference is within %g of the unscaled model" % (name, gap))
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump({"ids": ids, "rope_scaling": scaling, "logits": logits.tolist(),
                       "unscaled_max_difference": gap}, f)
        print("%s: %d positions, max difference from the unscaled model %.3g" % (name, len(ids), gap))
    return 0


if __name__ == "__main__":
    sys.exit(main())
