#!/usr/bin/python3
"""Random-weight tiny checkpoints of each decoder shape family, and their reference logits.

  make_zoo.py --out DIR [--only NAME,...]

For every case below writes DIR/NAME/{config.json, model.safetensors, reference.json}.
reference.json: {"ids": prompt, "logits": [[vocab floats] per position], "greedy": [ids]}
(greedy = continuation by full recomputation, no cache). Cases whose RoPE follows the length
of each call (*-long: longrope beyond the original context, dynamic NTK) add "decode_logits"
and "decode_greedy": what a cached token-by-token decode computes, each key rotated with the
frequencies of the call that stored it.

The forward passes here are written from the Hugging Face modeling files of each architecture
(modeling_llama / mistral / qwen2 / qwen3 / gemma / gemma2 / gemma3 / smollm3 / phi3 / phi /
mixtral / qwen3_moe), and the RoPE frequencies from modeling_rope_utils.py (linear, dynamic, yarn,
longrope), in plain torch
float32, never from hfkit's C++. Each case is small but has the features that matter: GQA, a
prompt longer than every sliding window, soft-caps that bite (q/k weights scaled up so scores
exceed the cap), NoPE layers, head_dim != hidden / heads.
"""
import argparse
import json
import math
import os
import shutil
import struct

import numpy as np
import torch

torch.set_num_threads(1)

PROMPT_LEN = 23
GREEDY = 6


# --------------------------------------------------------------------------- checkpoints
def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().to(torch.float32).contiguous().numpy().astype("<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_weights(cfg, gen, qk_gain=1.0, norm_jitter=True):
    """HF tensor names for a Llama-shaped decoder. Norm weights are jittered around their
    neutral value (1 for Llama, 0 for Gemma's (1 + w)) so that a norm applied wrongly shows."""
    h, v = cfg["hidden_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or h // nh
    ffn = cfg["intermediate_size"]
    gemma = cfg["model_type"].startswith("gemma")
    neutral = 0.0 if gemma else 1.0

    def rnd(*shape, std=0.08):
        return torch.randn(*shape, generator=gen) * std

    def norm(n):
        return neutral + (rnd(n, std=0.1) if norm_jitter else torch.zeros(n))

    # A tied head reads the embedding back: a small one keeps the residual stream from echoing
    # the input token, so that greedy continuations vary.
    tied = cfg.get("tie_word_embeddings", False)
    w = {"model.embed_tokens.weight": rnd(v, h, std=0.04 if tied else 0.5)}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = norm(h)
        if cfg["model_type"] == "phi3":  # Phi3Attention.qkv_proj: [q; k; v] output rows
            w[p + "self_attn.qkv_proj.weight"] = torch.cat(
                [rnd(nh * hd, h) * qk_gain, rnd(nkv * hd, h) * qk_gain, rnd(nkv * hd, h)])
        else:
            w[p + "self_attn.q_proj.weight"] = rnd(nh * hd, h) * qk_gain
            w[p + "self_attn.k_proj.weight"] = rnd(nkv * hd, h) * qk_gain
            w[p + "self_attn.v_proj.weight"] = rnd(nkv * hd, h)
        w[p + "self_attn.o_proj.weight"] = rnd(h, nh * hd, std=0.3 if tied else 0.08)
        if cfg["model_type"] == "qwen2":
            w[p + "self_attn.q_proj.bias"] = rnd(nh * hd)
            w[p + "self_attn.k_proj.bias"] = rnd(nkv * hd)
            w[p + "self_attn.v_proj.bias"] = rnd(nkv * hd)
        if cfg["model_type"] in ("qwen3", "qwen3_moe", "gemma3_text"):
            w[p + "self_attn.q_norm.weight"] = norm(hd)
            w[p + "self_attn.k_norm.weight"] = norm(hd)
        w[p + "post_attention_layernorm.weight"] = norm(h)
        if cfg["model_type"] in ("gemma2", "gemma3_text"):
            w[p + "pre_feedforward_layernorm.weight"] = norm(h)
            w[p + "post_feedforward_layernorm.weight"] = norm(h)
        if sparse_layer(cfg, l):  # MixtralSparseMoeBlock / Qwen3MoeSparseMoeBlock
            router, experts, (gate, up, down), e_ffn = moe_names(cfg)
            # A router wide enough that tokens go different ways (and top-k gaps are not ties).
            w[p + router + ".weight"] = rnd(moe_count(cfg), h, std=0.5)
            for e in range(moe_count(cfg)):
                q = f"{p}{experts}{e}."
                w[q + gate + ".weight"] = rnd(e_ffn, h)
                w[q + up + ".weight"] = rnd(e_ffn, h)
                w[q + down + ".weight"] = rnd(h, e_ffn, std=0.3 if tied else 0.08)
            continue
        if cfg["model_type"] == "phi3":  # Phi3MLP.gate_up_proj: [gate; up] output rows
            w[p + "mlp.gate_up_proj.weight"] = torch.cat([rnd(ffn, h), rnd(ffn, h)])
        else:
            w[p + "mlp.gate_proj.weight"] = rnd(ffn, h)
            w[p + "mlp.up_proj.weight"] = rnd(ffn, h)
        w[p + "mlp.down_proj.weight"] = rnd(h, ffn, std=0.3 if tied else 0.08)
    w["model.norm.weight"] = norm(h)
    if not cfg.get("tie_word_embeddings", False):
        w["lm_head.weight"] = rnd(v, h, std=0.2)
    return w


# --------------------------------------------------------------------------- sparse MoE
def sparse_layer(cfg, l):
    """Whether layer l's MLP is the routed experts (MixtralDecoderLayer: always;
    Qwen3MoeDecoderLayer: not in mlp_only_layers and (l + 1) % decoder_sparse_step == 0)."""
    t = cfg["model_type"]
    if t == "mixtral":
        return True
    if t == "qwen3_moe":
        return (l not in cfg.get("mlp_only_layers", [])) and (
            cfg["num_experts"] > 0 and (l + 1) % cfg.get("decoder_sparse_step", 1) == 0)
    return False


def moe_count(cfg):
    return cfg["num_local_experts"] if cfg["model_type"] == "mixtral" else cfg["num_experts"]


def moe_names(cfg):
    """(router, experts prefix, (gate, up, down), expert intermediate size) inside the layer."""
    if cfg["model_type"] == "mixtral":  # MixtralBlockSparseTop2MLP: w1 gate, w3 up, w2 down
        return ("block_sparse_moe.gate", "block_sparse_moe.experts.", ("w1", "w3", "w2"),
                cfg["intermediate_size"])
    return ("mlp.gate", "mlp.experts.", ("gate_proj", "up_proj", "down_proj"),
            cfg["moe_intermediate_size"])


def sparse_moe(cfg, w, p, hidden_states, act):
    """MixtralSparseMoeBlock.forward / Qwen3MoeSparseMoeBlock.forward (inference)."""
    router, experts, (gate, up, down), _ = moe_names(cfg)
    n_exp, top_k = moe_count(cfg), cfg["num_experts_per_tok"]
    renorm = cfg["model_type"] == "mixtral" or cfg.get("norm_topk_prob", False)
    hidden_dim = hidden_states.shape[-1]
    router_logits = hidden_states @ w[p + router + ".weight"].T
    routing_weights = torch.nn.functional.softmax(router_logits, dim=1, dtype=torch.float)
    routing_weights, selected_experts = torch.topk(routing_weights, top_k, dim=-1)
    if renorm:
        routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
    final = torch.zeros_like(hidden_states)
    expert_mask = torch.nn.functional.one_hot(selected_experts, num_classes=n_exp).permute(2, 1, 0)
    expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
    for expert_idx in expert_hit:
        e = int(expert_idx)
        idx, top_x = torch.where(expert_mask[e])
        current = hidden_states[None, top_x].reshape(-1, hidden_dim)
        q = f"{p}{experts}{e}."
        y = (act(current @ w[q + gate + ".weight"].T) * (current @ w[q + up + ".weight"].T)) \
            @ w[q + down + ".weight"].T
        final.index_add_(0, top_x, y * routing_weights[top_x, idx, None])
    return final


# --------------------------------------------------------------------------- modeling code
ACT = {
    "silu": torch.nn.functional.silu,
    "gelu": torch.nn.functional.gelu,  # exact (erf)
    "gelu_pytorch_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    "relu": torch.relu,
}


def rms_norm(x, w, eps, plus_one):
    # LlamaRMSNorm: w * (x * rsqrt(mean(x^2) + eps)); Gemma*RMSNorm: (x * rsqrt(...)) * (1 + w)
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * (1.0 + w) if plus_one else w * y


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def default_inv_freq(base, dim):
    # compute_default_rope_parameters: 1 / base^(arange(0, dim, 2) / dim) in float32
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def scaled_inv_freq(cfg, base, dim, seq_len):
    """(inv_freq, attention_factor) for a forward over seq_len positions."""
    inv = default_inv_freq(base, dim)
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv, 1.0
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":  # _compute_linear_scaling_rope_parameters
        return inv / rs["factor"], 1.0
    if kind in ("longrope", "su"):  # _compute_longrope_parameters + longrope_frequency_update
        original = cfg.get("original_max_position_embeddings")
        if original:
            factor = cfg["max_position_embeddings"] / original
        else:
            original, factor = cfg["max_position_embeddings"], rs.get("factor")
        att = rs.get("attention_factor")
        if att is None:
            att = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))
        ext = torch.tensor(rs["long_factor"] if seq_len > original else rs["short_factor"],
                           dtype=torch.float32)
        shape = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
        return 1.0 / (ext * base ** shape), att
    if kind == "llama3":  # _compute_llama3_parameters
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old_ctx = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        out = torch.where(wavelen > old_ctx / low, inv / factor, inv)
        smooth = (old_ctx / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wavelen < old_ctx / high) * ~(wavelen > old_ctx / low)
        return torch.where(medium, smoothed, out), 1.0
    if kind == "dynamic":  # _compute_dynamic_ntk_parameters, seq_len = max(position_ids) + 1
        max_pos, factor = cfg["max_position_embeddings"], rs["factor"]
        if seq_len > max_pos:
            base = base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))
        return default_inv_freq(base, dim), 1.0
    if kind == "yarn":  # _compute_yarn_parameters
        factor = rs["factor"]
        original = rs.get("original_max_position_embeddings") or cfg["max_position_embeddings"]

        def get_mscale(scale, m=1):
            return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0
        att = rs.get("attention_factor")
        if att is None:
            if rs.get("mscale") and rs.get("mscale_all_dim"):
                att = get_mscale(factor, rs["mscale"]) / get_mscale(factor, rs["mscale_all_dim"])
            else:
                att = get_mscale(factor)
        beta_fast, beta_slow = rs.get("beta_fast") or 32, rs.get("beta_slow") or 1

        def correction_dim(rot):
            return (dim * math.log(original / (rot * 2 * math.pi))) / (2 * math.log(base))
        low, high = correction_dim(beta_fast), correction_dim(beta_slow)
        if rs.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
        pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
        extra = 1 - ramp
        inv = (1.0 / (factor * pos_freqs)) * (1 - extra) + (1.0 / pos_freqs) * extra
        return inv, att
    raise ValueError(f"rope type {kind} not in this reference")


def rope_cos_sin(cfg, base, dim, n, per_position):
    """cos/sin of positions 0..n-1. One whole-sequence call computes every row with the
    frequencies of seq_len n; a cached decode (per_position) computed row j in the call that
    ended at position j, with the frequencies of seq_len j + 1 (dynamic and longrope
    recompute them from max(position_ids) + 1 on every forward)."""
    if not per_position:
        return cos_sin(scaled_inv_freq(cfg, base, dim, n), n)
    rows = [cos_sin(scaled_inv_freq(cfg, base, dim, j + 1), j + 1) for j in range(n)]
    return (torch.stack([c[j] for j, (c, _) in enumerate(rows)]),
            torch.stack([s[j] for j, (_, s) in enumerate(rows)]))


def cos_sin(inv_and_scale, n):
    inv_freq, scale = inv_and_scale if isinstance(inv_and_scale, tuple) else (inv_and_scale, 1.0)
    pos = torch.arange(n).float()
    freqs = torch.outer(pos, inv_freq.float())
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * scale, emb.sin() * scale


def layer_types(cfg):
    t = cfg["model_type"]
    n = cfg["num_hidden_layers"]
    if "layer_types" in cfg:
        return cfg["layer_types"]
    if t in ("mistral", "mixtral", "phi3") and cfg.get("sliding_window"):
        return ["sliding_attention"] * n
    if t in ("qwen2", "qwen3"):
        sw = cfg.get("sliding_window") if cfg.get("use_sliding_window") else None
        return ["sliding_attention" if sw is not None and i >= cfg["max_window_layers"]
                else "full_attention" for i in range(n)]
    if t == "gemma2":
        return ["sliding_attention" if bool((i + 1) % 2) else "full_attention" for i in range(n)]
    if t == "gemma3_text":
        p = cfg.get("sliding_window_pattern", 6)
        return ["sliding_attention" if bool((i + 1) % p) else "full_attention" for i in range(n)]
    return ["full_attention"] * n


def mask(n, window):
    # create_causal_mask / sliding_window_overlay: kv_idx <= q_idx and q_idx - kv_idx < window
    q = torch.arange(n)[:, None]
    k = torch.arange(n)[None, :]
    ok = k <= q
    if window:
        ok = ok & (q - k < window)
    return torch.where(ok, 0.0, float("-inf"))


def forward(cfg, w, ids, per_position=False):
    """Logits [n, vocab] of a Llama-shaped decoder, as the HF modeling files compute them."""
    t = cfg["model_type"]
    gemma = t.startswith("gemma")
    sandwich = t in ("gemma2", "gemma3_text")
    h, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or h // nh
    eps = cfg["rms_norm_eps"]
    act = ACT[cfg.get("hidden_activation") if gemma else cfg.get("hidden_act", "silu")]
    n = len(ids)
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    if gemma:  # normalizer = torch.tensor(hidden_size**0.5, dtype=hidden_states.dtype)
        x = x * torch.tensor(h ** 0.5, dtype=x.dtype)
    scaling = cfg["query_pre_attn_scalar"] ** -0.5 if sandwich else hd ** -0.5
    attn_cap = cfg.get("attn_logit_softcapping") if t == "gemma2" else None
    types = layer_types(cfg)
    rot = int(hd * cfg.get("partial_rotary_factor", 1.0))  # Phi3: int(head_dim * factor)
    global_cs = rope_cos_sin(cfg, cfg.get("rope_theta", 10000.0), rot, n, per_position)
    local_cs = cos_sin(default_inv_freq(cfg.get("rope_local_base_freq", 10000.0), hd), n)
    if t == "smollm3":
        use_rope = cfg.get("no_rope_layers") or [
            int((i + 1) % cfg.get("no_rope_layer_interval", 4) != 0)
            for i in range(cfg["num_hidden_layers"])]
    else:
        use_rope = [1] * cfg["num_hidden_layers"]

    def lin(name, v):
        y = v @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        sliding = types[l] == "sliding_attention"
        res = x
        hs = rms_norm(x, w[p + "input_layernorm.weight"], eps, gemma)
        if t == "phi3":
            qkv = lin(p + "self_attn.qkv_proj", hs)
            qp = nh * hd
            q = qkv[..., :qp].reshape(n, nh, hd).transpose(0, 1)
            k = qkv[..., qp:qp + nkv * hd].reshape(n, nkv, hd).transpose(0, 1)
            v = qkv[..., qp + nkv * hd:].reshape(n, nkv, hd).transpose(0, 1)
        else:
            q = lin(p + "self_attn.q_proj", hs).view(n, nh, hd).transpose(0, 1)
            k = lin(p + "self_attn.k_proj", hs).view(n, nkv, hd).transpose(0, 1)
            v = lin(p + "self_attn.v_proj", hs).view(n, nkv, hd).transpose(0, 1)
        if t in ("qwen3", "qwen3_moe", "gemma3_text"):
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps, gemma)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps, gemma)
        if use_rope[l]:
            cos, sin = local_cs if (t == "gemma3_text" and sliding) else global_cs
            r = cos.shape[-1]  # partial rotary: rotate the first r dims, pass the rest
            q = torch.cat([q[..., :r] * cos + rotate_half(q[..., :r]) * sin, q[..., r:]], -1)
            k = torch.cat([k[..., :r] * cos + rotate_half(k[..., :r]) * sin, k[..., r:]], -1)
        rep = nh // nkv
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        s = (q @ k.transpose(1, 2)) * scaling
        if attn_cap is not None:
            s = torch.tanh(s / attn_cap) * attn_cap
        s = s + mask(n, cfg["sliding_window"] if sliding else None)
        a = torch.softmax(s, dim=-1, dtype=torch.float32) @ v
        a = a.transpose(0, 1).reshape(n, nh * hd)
        o = lin(p + "self_attn.o_proj", a)
        if sandwich:
            o = rms_norm(o, w[p + "post_attention_layernorm.weight"], eps, True)
        x = res + o
        res = x
        pre = p + ("pre_feedforward_layernorm" if sandwich else "post_attention_layernorm")
        hs = rms_norm(x, w[pre + ".weight"], eps, gemma)
        if sparse_layer(cfg, l):
            m = sparse_moe(cfg, w, p, hs, act)
        elif t == "phi3":
            gate, up = lin(p + "mlp.gate_up_proj", hs).chunk(2, dim=-1)
            m = lin(p + "mlp.down_proj", up * act(gate))
        else:
            m = lin(p + "mlp.down_proj",
                    act(lin(p + "mlp.gate_proj", hs)) * lin(p + "mlp.up_proj", hs))
        if sandwich:
            m = rms_norm(m, w[p + "post_feedforward_layernorm.weight"], eps, True)
        x = res + m
    x = rms_norm(x, w["model.norm.weight"], eps, gemma)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
    logits = x @ head.T
    cap = cfg.get("final_logit_softcapping")
    if cap is not None and t in ("gemma2", "gemma3_text"):
        logits = torch.tanh(logits / cap) * cap
    return logits


# --------------------------------------------------------------------------- Phi-2 (modeling_phi)
def make_phi_weights(cfg, gen):
    """PhiForCausalLM's tensors: every Linear biased, LayerNorms with weight and bias."""
    h, v, ffn = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = h // nh

    def rnd(*shape, std=0.08):
        return torch.randn(*shape, generator=gen) * std

    def ln(p, n):
        w[p + ".weight"] = 1.0 + rnd(n, std=0.1)
        w[p + ".bias"] = rnd(n, std=0.1)

    def linear(p, n_out, n_in, std=0.08):
        w[p + ".weight"] = rnd(n_out, n_in, std=std)
        w[p + ".bias"] = rnd(n_out, std=0.05)

    w = {"model.embed_tokens.weight": rnd(v, h, std=0.5)}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        ln(p + "input_layernorm", h)
        linear(p + "self_attn.q_proj", nh * hd, h, std=0.2)
        linear(p + "self_attn.k_proj", nkv * hd, h, std=0.2)
        linear(p + "self_attn.v_proj", nkv * hd, h)
        linear(p + "self_attn.dense", h, nh * hd)
        if cfg.get("qk_layernorm"):
            ln(p + "self_attn.q_layernorm", hd)
            ln(p + "self_attn.k_layernorm", hd)
        linear(p + "mlp.fc1", ffn, h)
        linear(p + "mlp.fc2", h, ffn)
    ln("model.final_layernorm", h)
    linear("lm_head", v, h, std=0.2)
    return w


def gelu_new(x):
    # NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def phi_forward(cfg, w, ids, per_position=False):
    """PhiForCausalLM: h = LN(x); x = x + dense(attn(h)) + fc2(gelu_new(fc1(h)))."""
    h, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = h // nh
    eps = cfg["layer_norm_eps"]
    n = len(ids)
    rot = int(hd * cfg.get("partial_rotary_factor", 0.5))
    cos, sin = rope_cos_sin(cfg, cfg.get("rope_theta", 10000.0), rot, n, per_position)

    def lin(name, v):
        return v @ w[name + ".weight"].T + w[name + ".bias"]

    def ln(name, v):
        return torch.nn.functional.layer_norm(v, (v.shape[-1],), w[name + ".weight"],
                                              w[name + ".bias"], eps)

    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        res = x
        hs = ln(p + "input_layernorm", x)
        q = lin(p + "self_attn.q_proj", hs).view(n, nh, hd).transpose(0, 1)
        k = lin(p + "self_attn.k_proj", hs).view(n, nkv, hd).transpose(0, 1)
        v = lin(p + "self_attn.v_proj", hs).view(n, nkv, hd).transpose(0, 1)
        if cfg.get("qk_layernorm"):
            q = ln(p + "self_attn.q_layernorm", q)
            k = ln(p + "self_attn.k_layernorm", k)
        q = torch.cat([q[..., :rot] * cos + rotate_half(q[..., :rot]) * sin, q[..., rot:]], -1)
        k = torch.cat([k[..., :rot] * cos + rotate_half(k[..., :rot]) * sin, k[..., rot:]], -1)
        k = k.repeat_interleave(nh // nkv, dim=0)
        v = v.repeat_interleave(nh // nkv, dim=0)
        s = (q @ k.transpose(1, 2)) * hd ** -0.5 + mask(n, None)
        a = (torch.softmax(s, dim=-1, dtype=torch.float32) @ v).transpose(0, 1).reshape(n, nh * hd)
        attn = lin(p + "self_attn.dense", a)
        ff = lin(p + "mlp.fc2", gelu_new(lin(p + "mlp.fc1", hs)))
        x = attn + ff + res
    return lin("lm_head", ln("model.final_layernorm", x))


# --------------------------------------------------------------------------- the cases
def base(model_type, **kw):
    c = dict(model_type=model_type, vocab_size=97, hidden_size=48, intermediate_size=80,
             num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=2,
             rms_norm_eps=1e-6, rope_theta=10000.0, max_position_embeddings=256,
             tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, torch_dtype="float32")
    c.update(kw)
    return c


CASES = {
    # issue 15 item 4: the configured activation, not SiLU
    "llama-gelu": (base("llama", hidden_act="gelu"), 1.0),
    "llama-relu": (base("llama", hidden_act="relu"), 1.0),
    "llama-gelu-tanh": (base("llama", hidden_act="gelu_pytorch_tanh"), 1.0),
    # Mistral: every layer slides, window shorter than the prompt
    "mistral-window": (base("mistral", hidden_act="silu", sliding_window=5), 1.5),
    # Qwen2 with use_sliding_window: layers >= max_window_layers slide
    "qwen2-window": (base("qwen2", hidden_act="silu", use_sliding_window=True, sliding_window=4,
                          max_window_layers=1), 1.5),
    # Qwen3: q/k norm, head_dim (16) != hidden / heads (8)
    "qwen3": (base("qwen3", hidden_act="silu", head_dim=16, attention_bias=False), 1.0),
    "gemma": (base("gemma", hidden_act="gelu", hidden_activation="gelu_pytorch_tanh",
                   head_dim=16, num_key_value_heads=1, tie_word_embeddings=True), 1.0),
    # Gemma 2: soft-caps that bite (cap 1.5 on scores, 3 on logits), window 4 on even layers
    "gemma2": (base("gemma2", hidden_activation="gelu_pytorch_tanh", head_dim=16,
                    num_hidden_layers=4, query_pre_attn_scalar=12, sliding_window=4,
                    attn_logit_softcapping=1.5, final_logit_softcapping=3.0,
                    tie_word_embeddings=True), 4.0),
    # Gemma 3: 2 sliding : 1 global (pattern 3), q/k norm, local RoPE base, final cap
    "gemma3": (base("gemma3_text", hidden_activation="gelu_pytorch_tanh", head_dim=16,
                    num_hidden_layers=4, query_pre_attn_scalar=16, sliding_window=4,
                    sliding_window_pattern=3, rope_theta=1000000.0, rope_local_base_freq=100.0,
                    final_logit_softcapping=4.0, attn_logit_softcapping=None,
                    rope_scaling={"rope_type": "linear", "factor": 2.0},
                    tie_word_embeddings=True), 1.0),
    # Qwen3 with a real tokenizer (aidreams260K's 512-token BPE, copied from --tokenizer-dir):
    # the CLI / C API run it by text (test_zoo_cli.py).
    "qwen3-tok": (base("qwen3", hidden_act="silu", head_dim=16, vocab_size=512), 1.0),
    # Phi-3 / Phi-4-mini shape: fused qkv / gate_up, partial rotary (0.75 of 16 dims), LongRoPE
    # with its attention factor (max 256 / original 32), window 6. The prompt (23) stays within
    # the original context, so every call uses short_factor, as generate would.
    "phi3": (base("phi3", hidden_act="silu", head_dim=16, partial_rotary_factor=0.75,
                  sliding_window=6, original_max_position_embeddings=32,
                  rope_scaling={"type": "longrope",
                                "short_factor": [1.0, 1.3, 1.7, 2.0, 3.5, 5.0],
                                "long_factor": [1.2, 2.0, 4.0, 8.0, 16.0, 30.0]}), 1.5),
    # Beyond the original context (8) a whole-prompt call uses long_factor: prefill only (the
    # reference recomputes the whole sequence, which token-by-token decoding does not).
    "phi3-long": (base("phi3", hidden_act="silu", head_dim=16, partial_rotary_factor=0.75,
                       original_max_position_embeddings=8,
                       rope_scaling={"type": "longrope",
                                     "short_factor": [1.0, 1.3, 1.7, 2.0, 3.5, 5.0],
                                     "long_factor": [1.2, 2.0, 4.0, 8.0, 16.0, 30.0]}), 1.5),
    # Mixtral: 4 experts, top-2 (always renormalized), GQA, window 6 on every layer
    "mixtral": (base("mixtral", hidden_act="silu", num_local_experts=4, num_experts_per_tok=2,
                     intermediate_size=40, sliding_window=6), 1.5),
    # Qwen3-MoE: q/k norm, head_dim 16, 6 experts top-2 of moe_intermediate_size 24,
    # norm_topk_prob; layer 2 is mlp_only (a dense MLP of intermediate_size 80)
    "qwen3-moe": (base("qwen3_moe", hidden_act="silu", head_dim=16, num_hidden_layers=4,
                       num_experts=6, num_experts_per_tok=2, moe_intermediate_size=24,
                       norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[2]), 1.0),
    # decoder_sparse_step 2 (experts on layers 1 and 3 only), top-3 weights not renormalized
    "qwen3-moe-step": (base("qwen3_moe", hidden_act="silu", head_dim=16, num_hidden_layers=4,
                            num_experts=5, num_experts_per_tok=3, moe_intermediate_size=24,
                            norm_topk_prob=False, decoder_sparse_step=2, mlp_only_layers=[]),
                       1.0),
    # Mixtral with a real tokenizer, for the CLI and Python (test_zoo_cli.py, test_zoo_python.py)
    "mixtral-tok": (base("mixtral", hidden_act="silu", num_local_experts=4, num_experts_per_tok=2,
                         intermediate_size=40, vocab_size=512), 1.0),
    # Phi-2 shape: parallel attention + MLP off one LayerNorm, RoPE over half of each head,
    # biases everywhere, gelu_new, biased lm_head.
    "phi2": (dict(model_type="phi", vocab_size=97, hidden_size=48, intermediate_size=96,
                  num_hidden_layers=3, num_attention_heads=4, layer_norm_eps=1e-5,
                  partial_rotary_factor=0.5, hidden_act="gelu_new", rope_theta=10000.0,
                  max_position_embeddings=256, bos_token_id=1, eos_token_id=2,
                  torch_dtype="float32"), 1.0),
    # Phi-2 with a real tokenizer, run by text through the CLI (test_zoo_cli.py).
    "phi2-tok": (dict(model_type="phi", vocab_size=512, hidden_size=48, intermediate_size=96,
                      num_hidden_layers=2, num_attention_heads=4, layer_norm_eps=1e-5,
                      partial_rotary_factor=0.5, hidden_act="gelu_new", rope_theta=10000.0,
                      max_position_embeddings=256, bos_token_id=1, eos_token_id=2,
                      torch_dtype="float32"), 1.0),
    # Phi with GQA, q/k LayerNorm, 0.75 partial rotary (6 of 8 dims) and YaRN scaling.
    "phi-qkln-yarn": (dict(model_type="phi", vocab_size=97, hidden_size=48, intermediate_size=96,
                           num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=2,
                           layer_norm_eps=1e-5, partial_rotary_factor=0.75, qk_layernorm=True,
                           hidden_act="gelu_new", rope_theta=100.0, max_position_embeddings=256,
                           rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                         "original_max_position_embeddings": 64,
                                         "beta_fast": 8.0, "beta_slow": 1.0},
                           bos_token_id=1, eos_token_id=2, torch_dtype="float32"), 1.0),
    # YaRN (Qwen long context): factor 4 over an original 64 positions (max_position 256 =
    # factor * original, so both transformers readings of the factor agree), beta_fast 8 and
    # theta 100 so that the ramp spans several of the 8 frequencies; the attention factor
    # 0.1 ln 4 + 1 scales cos and sin.
    "qwen3-yarn": (base("qwen3", hidden_act="silu", head_dim=16, rope_theta=100.0,
                        rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                      "original_max_position_embeddings": 64,
                                      "beta_fast": 8.0, "beta_slow": 1.0}), 1.5),
    # Dynamic NTK: max_position_embeddings 16 < the 23-token prompt, so the whole-prompt call
    # recomputes the base for seq_len 23 (prefill only, as phi3-long); the context runs to
    # 16 * factor 4 = 64 positions.
    "llama-dynamic-long": (base("llama", hidden_act="silu", max_position_embeddings=16,
                                rope_scaling={"rope_type": "dynamic", "factor": 4.0}), 1.5),
    # A multimodal Gemma 3 checkpoint (Gemma3ForConditionalGeneration): model_type gemma3, the
    # language model's settings in text_config, its weights under language_model., and dummy
    # vision tower / projector tensors that hfkit must leave alone; with a real tokenizer so
    # that the CLI and Python run it by text.
    "gemma3-mm-tok": (dict(model_type="gemma3", architectures=["Gemma3ForConditionalGeneration"],
                       text_config=base("gemma3_text", hidden_activation="gelu_pytorch_tanh",
                                        vocab_size=512,
                                        head_dim=16, num_hidden_layers=3,
                                        query_pre_attn_scalar=16, sliding_window=4,
                                        sliding_window_pattern=3, rope_local_base_freq=100.0,
                                        tie_word_embeddings=False),
                       vision_config={"model_type": "siglip_vision_model", "hidden_size": 8,
                                      "image_size": 8, "patch_size": 4,
                                      "num_hidden_layers": 1, "num_attention_heads": 2,
                                      "intermediate_size": 8},
                       mm_tokens_per_image=4, torch_dtype="float32"), 1.0),
    # SmolLM3: every 2nd layer is NoPE
    "smollm3": (base("smollm3", hidden_act="silu", num_hidden_layers=4, no_rope_layer_interval=2,
                     tie_word_embeddings=True), 1.0),
}


# Fixed seeds where the draw matters beyond the logits (a clean greedy text for the CLI).
SEEDS = {"qwen3-tok": 7}
# Cases with their own seed that do not shift the sorted-index seeds of the others.
OWN_SEEDS = {"mixtral": 2001, "mixtral-tok": 2002, "qwen3-moe": 2003, "qwen3-moe-step": 2004}


def any_forward(cfg, w, ids, per_position=False):
    return (phi_forward if cfg["model_type"] == "phi" else forward)(cfg, w, ids, per_position)


def greedy(cfg, w, ids, n, per_position=False):
    out = list(ids)
    for _ in range(n):
        out.append(int(torch.argmax(any_forward(cfg, w, out, per_position)[-1])))
    return out[len(ids):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--tokenizer-dir", default="",
                    help="tokenizer files for the *-tok cases (shared/models/aidreams260K)")
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    indexed = [n for n in sorted(CASES) if n not in OWN_SEEDS]
    for name, (cfg, qk_gain) in sorted(CASES.items()):
        if only and name not in only:
            continue
        seed = OWN_SEEDS[name] if name in OWN_SEEDS else SEEDS.get(name, 1000 + indexed.index(name))
        gen = torch.Generator().manual_seed(seed)
        phi = cfg["model_type"] == "phi"
        full_cfg, cfg = cfg, cfg.get("text_config", cfg)  # gemma3: its language model
        w = make_phi_weights(cfg, gen) if phi else make_weights(cfg, gen, qk_gain=qk_gain)
        if name.endswith("-tok"):
            # Zero head rows for special and byte-fallback tokens: their logits are 0 while
            # ~250 others are random, so greedy text is plain tokens (this case checks the
            # architecture through the CLI, not how a stream renders partial UTF-8).
            with open(os.path.join(args.tokenizer_dir, "tokenizer.json")) as f:
                vocab = json.load(f)["model"]["vocab"]
            for tok, tid in vocab.items():
                if tid < 3 or tok.startswith("<0x"):
                    if "lm_head.weight" in w:
                        w["lm_head.weight"][tid] = 0.0
                    if "lm_head.bias" in w:
                        w["lm_head.bias"][tid] = 0.0
        ids = [int(x) for x in torch.randint(3, cfg["vocab_size"], (PROMPT_LEN,), generator=gen)]
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        with torch.no_grad():
            logits = any_forward(cfg, w, ids)
            cont = greedy(cfg, w, ids, GREEDY)
        stored = w
        if full_cfg is not cfg:  # Gemma3ForConditionalGeneration's names, dummy vision tensors
            stored = {"language_model." + k: t for k, t in w.items()}
            stored["vision_tower.vision_model.embeddings.patch_embedding.weight"] = \
                torch.randn(8, 3, 4, 4, generator=gen)
            stored["multi_modal_projector.mm_input_projection_weight"] = \
                torch.randn(8, cfg["hidden_size"], generator=gen)
        write_safetensors(os.path.join(d, "model.safetensors"), stored)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(full_cfg, f, indent=1)
        ref = {"ids": ids, "logits": logits.tolist(), "greedy": cont}
        if name.endswith("-long"):
            # The RoPE follows each call's length: decoding token by token through the cache
            # (each key rotated in its own call) differs from the whole-prompt call.
            with torch.no_grad():
                ref["decode_logits"] = any_forward(cfg, w, ids, per_position=True).tolist()
                ref["decode_greedy"] = greedy(cfg, w, ids, GREEDY, per_position=True)
        if name.endswith("-tok"):
            if not args.tokenizer_dir:
                raise SystemExit(f"{name} needs --tokenizer-dir")
            for fn in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
                shutil.copyfile(os.path.join(args.tokenizer_dir, fn), os.path.join(d, fn))
            # What `hfkit run DIR ""` generates greedily: from BOS alone, up to EOS.
            with torch.no_grad():
                from_bos = greedy(cfg, w, [cfg["bos_token_id"]], 16)
            if cfg["eos_token_id"] in from_bos:
                from_bos = from_bos[:from_bos.index(cfg["eos_token_id"])]
            ref["greedy_from_bos"] = from_bos
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(ref, f)


if __name__ == "__main__":
    main()
