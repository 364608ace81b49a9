#!/usr/bin/python3
"""Pre-quantized checkpoints (MLX affine, GPTQ, AWQ) and their torch references, written at test time.

usage: make_prequant.py OUT_DIR SHARED_DIR

Each OUT_DIR/<case>/ holds
  config.json               the source checkpoint's config with the format's quantization block
  model.safetensors         the quantized layers packed as the format publishes them, the rest F32
  dequantized/model.safetensors  the quantized layers' weights dequantized here (F32,
                            "<layer>.weight")
  reference.json            {"ids", "logits" (every position, float64 forward over the dequantized
                            weights), "greedy_prompt", "greedy" (ids after the prompt, recomputed
                            without a cache), "layers": {layer: the form hfkit should hold it in}}

The packing and the dequantization below are written from each format's published description
(read through the project's search tool; no code copied):
  MLX (mlx.core.quantize, mode "affine", mlx-lm nn.quantize): weight uint32 [out, in*bits/32], the
    codes of a row as a little-endian bit stream; scales, biases [out, in/group] in the model's
    float type; w = scales * q + biases. mlx-lm quantizes a Linear/Embedding only when its input
    size is a multiple of the group, and writes "quantization" (and the same "quantization_config")
    with per-module entries (false, or {group_size, bits}) when a recipe overrides a module.
  GPTQ (AutoGPTQ/optimum QuantLinear.pack, checkpoint format "gptq"): qweight int32
    [in*bits/32, out] packed along the input; qzeros int32 [groups, out*bits/32] packed along the
    output, storing zero - 1 (read back as (stored & mask) + 1, so a zero of 0 comes back as 16);
    scales fp16 [groups, out]; g_idx int32 [in]; w = scales[g_idx] * (q - zeros[g_idx]).
    With desc_act the groups follow a permutation of the inputs.
  AWQ (AutoAWQ WQLinear_GEMM): qweight int32 [in, out/8] packed along the OUTPUT with the nibble
    order [0, 2, 4, 6, 1, 3, 5, 7]; qzeros int32 [in/group, out/8] the same; scales fp16
    [in/group, out]; w = scales * (q - zeros).
The quantization itself is round-to-nearest (the loaders only see the layout, not how GPTQ or AWQ
chose the codes). The forward pass is tests/model/rope_scaling_ref.py's (LlamaForCausalLM, float64).
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rope_scaling_ref import forward, read_safetensors  # noqa: E402

LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
N_POSITIONS = 24
N_GREEDY = 12


def write_safetensors(path, tensors):
    """tensors: name -> numpy array (float32, float16, int32, uint32) or torch bfloat16 tensor."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        if isinstance(t, torch.Tensor):
            assert t.dtype == torch.bfloat16
            data, dtype, shape = t.contiguous().view(torch.int16).numpy().tobytes(), "BF16", list(t.shape)
        else:
            dtype = {np.dtype("float32"): "F32", np.dtype("float16"): "F16",
                     np.dtype("int32"): "I32", np.dtype("uint32"): "U32"}[t.dtype]
            data, shape = np.ascontiguousarray(t).astype(t.dtype.newbyteorder("<")).tobytes(), list(t.shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def as_f32(x):
    return x.to(torch.float32) if isinstance(x, torch.Tensor) else torch.from_numpy(x.astype(np.float32))


# ---- MLX -------------------------------------------------------------------------------------

def mlx_quantize(w, group, bits, scale_dtype):
    out, inp = w.shape
    g = w.reshape(out, inp // group, group)
    lo, hi = g.min(axis=2), g.max(axis=2)
    n = 2 ** bits - 1
    scales, biases = (hi - lo) / n, lo
    if scale_dtype == "bf16":
        s_t, b_t = torch.from_numpy(scales).to(torch.bfloat16), torch.from_numpy(biases).to(torch.bfloat16)
    else:
        s_t, b_t = scales.astype(np.float16), biases.astype(np.float16)
    s, b = as_f32(s_t).numpy(), as_f32(b_t).numpy()
    q = np.clip(np.rint((g - b[:, :, None]) / np.where(s == 0, 1, s)[:, :, None]), 0, n).astype(np.uint64)
    q = q.reshape(out, inp)
    words = np.zeros((out, inp * bits // 32), dtype=np.uint64)
    for c in range(inp):  # little-endian bit stream per row
        words[:, c * bits // 32] |= q[:, c] << np.uint64((c * bits) % 32)
    return words.astype(np.uint32), s_t, b_t


def mlx_dequantize(words, scales, biases, group, bits):
    """From the packed tensors, as mlx.core.dequantize defines it, in float32."""
    words = torch.from_numpy(words.astype(np.int64))
    out = words.shape[0]
    inp = words.shape[1] * 32 // bits
    c = torch.arange(inp)
    q = (words[:, (c * bits) // 32] >> ((c * bits) % 32)) & (2 ** bits - 1)
    s = as_f32(scales).repeat_interleave(group, dim=1)
    b = as_f32(biases).repeat_interleave(group, dim=1)
    return (s * q.to(torch.float32)) + b  # two float32 operations, as MLX does them


# ---- GPTQ ------------------------------------------------------------------------------------

def rtn_groups(w, groups, n_groups, sym, bits=4):
    """w [out, in], groups[in]: scales fp16 [n_groups, out], zeros int [n_groups, out], q [out, in]."""
    out, inp = w.shape
    maxq = 2 ** bits - 1
    scales = np.zeros((n_groups, out), np.float16)
    zeros = np.zeros((n_groups, out), np.int64)
    for g in range(n_groups):
        cols = w[:, groups == g]
        lo, hi = np.minimum(cols.min(axis=1), 0), np.maximum(cols.max(axis=1), 0)
        if sym:
            amax = np.maximum(-lo, hi)
            s = (2 * amax / maxq).astype(np.float16)
            z = np.full(out, (maxq + 1) // 2)
        else:
            s = ((hi - lo) / maxq).astype(np.float16)
            z = np.clip(np.rint(-lo / np.where(s == 0, 1, s.astype(np.float32))), 0, maxq).astype(np.int64)
        s[s == 0] = np.float16(1e-3)
        scales[g], zeros[g] = s, z
    s_full = scales.astype(np.float32)[groups].T  # [out, in]
    z_full = zeros[groups].T
    q = np.clip(np.rint(w / s_full) + z_full, 0, maxq).astype(np.int64)
    return scales, zeros, q


def gptq_pack(q, zeros, bits=4):
    """q [out, in] -> qweight [in*bits/32, out]; zeros [groups, out] -> qzeros (stored zero - 1)."""
    per = 32 // bits
    out, inp = q.shape
    qweight = np.zeros((inp // per, out), np.uint64)
    for i in range(inp):
        qweight[i // per] |= q[:, i].astype(np.uint64) << np.uint64(bits * (i % per))
    stored = (zeros - 1) & (2 ** bits - 1)  # AutoGPTQ's zero - 1 (0 wraps to 15)
    qzeros = np.zeros((zeros.shape[0], out // per), np.uint64)
    for j in range(out):
        qzeros[:, j // per] |= stored[:, j].astype(np.uint64) << np.uint64(bits * (j % per))
    return qweight.astype(np.uint32).view(np.int32), qzeros.astype(np.uint32).view(np.int32)


def gptq_dequantize(qweight, qzeros, scales, g_idx, bits=4):
    per = 32 // bits
    qw = torch.from_numpy(qweight.view(np.uint32).astype(np.int64))
    qz = torch.from_numpy(qzeros.view(np.uint32).astype(np.int64))
    inp, out = qw.shape[0] * per, qw.shape[1]
    i, j = torch.arange(inp), torch.arange(out)
    q = (qw[i // per, :] >> (bits * (i % per))[:, None]) & (2 ** bits - 1)  # [in, out]
    z = ((qz[:, j // per] >> (bits * (j % per))[None, :]) & (2 ** bits - 1)) + 1  # [groups, out]
    g = torch.from_numpy(g_idx.astype(np.int64))
    s = as_f32(scales)
    w = s[g, :] * (q - z[g, :]).to(torch.float32)  # [in, out]
    return w.T.contiguous()


# ---- AWQ -------------------------------------------------------------------------------------

AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def awq_pack(t):
    """t [rows, out] ints < 16 -> [rows, out/8] int32, nibble k of word j = column 8j + AWQ_ORDER[k]."""
    rows, out = t.shape
    packed = np.zeros((rows, out // 8), np.uint64)
    for j in range(out // 8):
        for k in range(8):
            packed[:, j] |= t[:, 8 * j + AWQ_ORDER[k]].astype(np.uint64) << np.uint64(4 * k)
    return packed.astype(np.uint32).view(np.int32)


def awq_unpack(p):
    p = torch.from_numpy(p.view(np.uint32).astype(np.int64))
    rows, words = p.shape
    out = torch.zeros((rows, words * 8), dtype=torch.int64)
    for k in range(8):
        out[:, [8 * j + AWQ_ORDER[k] for j in range(words)]] = (p >> (4 * k)) & 15
    return out


def awq_dequantize(qweight, qzeros, scales, group):
    q = awq_unpack(qweight)  # [in, out]
    z = awq_unpack(qzeros).repeat_interleave(group, dim=0)
    s = as_f32(scales).repeat_interleave(group, dim=0)
    return (s * (q - z).to(torch.float32)).T.contiguous()


# ---- cases -----------------------------------------------------------------------------------

def layer_names(cfg):
    return ["model.layers.%d.%s" % (l, m) for l in range(cfg["num_hidden_layers"]) for m in LINEARS]


def make_mlx(W, cfg, group, bits, scale_dtype, overrides):
    tensors, deq, forms = {}, {}, {}
    qcfg = {"group_size": group, "bits": bits}
    qcfg.update(overrides)
    names = layer_names(cfg) + ["model.embed_tokens"]
    for name in names:
        w = W[name + ".weight"].numpy().astype(np.float32)
        o = overrides.get(name)
        g, b = (o["group_size"], o["bits"]) if isinstance(o, dict) else (group, bits)
        if o is False or w.shape[1] % g != 0:
            continue
        words, s, bi = mlx_quantize(w, g, b, scale_dtype)
        tensors[name + ".weight"], tensors[name + ".scales"], tensors[name + ".biases"] = words, s, bi
        deq[name + ".weight"] = mlx_dequantize(words, s, bi, g, b)
        exact16 = all(bool((as_f32(x).to(torch.float16).to(torch.float32) == as_f32(x)).all()) for x in (s, bi))
        forms[name] = ("q4_1" if exact16 else "q4_1f") if b == 4 else "f16"
    extra = {"quantization": qcfg, "quantization_config": qcfg}
    return tensors, deq, forms, extra


def make_gptq(W, cfg, group, sym, desc_act, rng):
    tensors, deq, forms = {}, {}, {}
    for n, name in enumerate(layer_names(cfg)):
        w = W[name + ".weight"].numpy().astype(np.float32).copy()
        out, inp = w.shape
        if n == 0:
            w[:, :group] = np.abs(w[:, :group])  # a group with zero 0: stored as 15, read back 16
        n_groups = (inp + group - 1) // group
        if desc_act:
            perm = rng.permutation(inp)
            g_idx = np.zeros(inp, np.int32)
            g_idx[perm] = np.arange(inp) // group
        else:
            g_idx = (np.arange(inp) // group).astype(np.int32)
        scales, zeros, q = rtn_groups(w, g_idx, n_groups, sym)
        qweight, qzeros = gptq_pack(q.astype(np.uint64), zeros)
        tensors.update({name + ".qweight": qweight, name + ".qzeros": qzeros,
                        name + ".scales": scales, name + ".g_idx": g_idx})
        deq[name + ".weight"] = gptq_dequantize(qweight, qzeros, scales, g_idx)
        blockable = all(len(set(g_idx[c - c % 32:min(inp, c - c % 32 + 32)])) == 1 for c in range(inp))
        if blockable:
            z = ((zeros - 1) & 15) + 1
            m = -(scales.astype(np.float32) * z.astype(np.float32))
            forms[name] = "q4_1" if np.all(m.astype(np.float16).astype(np.float32) == m) else "q4_1f"
        else:
            forms[name] = "f16"
    extra = {"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": group,
                                     "desc_act": desc_act, "sym": sym, "checkpoint_format": "gptq",
                                     "damp_percent": 0.01, "true_sequential": True}}
    return tensors, deq, forms, extra


def make_awq(W, cfg, group):
    tensors, deq, forms = {}, {}, {}
    skip = "down_proj"
    for name in layer_names(cfg):
        w = W[name + ".weight"].numpy().astype(np.float32)
        out, inp = w.shape
        if name.endswith(skip):
            continue
        g_idx = np.arange(inp) // group
        scales, zeros, q = rtn_groups(w, g_idx, inp // group, sym=False)
        qweight = awq_pack(q.T.astype(np.uint64))  # [in, out/8]
        qzeros = awq_pack(zeros.astype(np.uint64))  # [groups, out/8]
        tensors.update({name + ".qweight": qweight, name + ".qzeros": qzeros, name + ".scales": scales})
        deq[name + ".weight"] = awq_dequantize(qweight, qzeros, scales, group)
        m = -(scales.astype(np.float32) * zeros.astype(np.float32))
        forms[name] = "q4_1" if np.all(m.astype(np.float16).astype(np.float32) == m) else "q4_1f"
    extra = {"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": group,
                                     "zero_point": True, "version": "gemm",
                                     "modules_to_not_convert": [skip]}}
    return tensors, deq, forms, extra


def greedy(cfg, W, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        logits = forward(cfg, W, ids)[-1]
        ids.append(int(torch.argmax(logits)))  # ties: the lower id, as torch.argmax returns
    return ids[len(prompt):]


def write_case(out_dir, name, cfg, W, made, rng):
    tensors, deq, forms, extra = made
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    full = {}
    for k, v in W.items():  # everything not quantized stays F32 as stored
        base = k[:-len(".weight")] if k.endswith(".weight") else None
        if base is not None and base in forms:
            continue
        full[k] = v.numpy().astype(np.float32)
    full.update(tensors)
    write_safetensors(os.path.join(d, "model.safetensors"), full)
    os.makedirs(os.path.join(d, "dequantized"), exist_ok=True)
    write_safetensors(os.path.join(d, "dequantized", "model.safetensors"),
                      {k: v.numpy().astype(np.float32) for k, v in deq.items()})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dict(cfg, **extra), f, indent=2)
    Wd = {k: v.to(torch.float64) for k, v in W.items()}
    for k, v in deq.items():
        Wd[k] = v.to(torch.float64)
    ids = [int(i) for i in rng.integers(3, cfg["vocab_size"], N_POSITIONS)]
    logits = forward(cfg, Wd, ids)
    plain = forward(cfg, {k: v.to(torch.float64) for k, v in W.items()}, ids)
    prompt = ids[:6]
    ref = {"ids": ids, "logits": logits.tolist(), "greedy_prompt": prompt,
           "greedy": greedy(cfg, Wd, prompt, N_GREEDY), "layers": forms,
           "quantization_error": float((logits - plain).abs().max())}
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    print("%s: %d layers quantized (%s), logits differ from the unquantized model by %.3g" % (
        name, len(forms), ", ".join(sorted(set(forms.values()))), ref["quantization_error"]))


def main():
    out_dir, shared = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(18)
    src = {"aidreams": os.path.join(shared, "models", "aidreams260K"),
           "gqa": os.path.join(shared, "models", "tiny", "tiny-llama-gqa-f32")}
    cfgs, Ws = {}, {}
    for k, p in src.items():
        with open(os.path.join(p, "config.json")) as f:
            cfgs[k] = json.load(f)
        Ws[k] = {n: t.to(torch.float32) for n, t in read_safetensors(os.path.join(p, "model.safetensors")).items()}
    # MLX on the trained model: 172-input down_proj is not a multiple of the group (left as F32).
    write_case(out_dir, "mlx-4bit-g64-f16", cfgs["aidreams"], Ws["aidreams"],
               make_mlx(Ws["aidreams"], cfgs["aidreams"], 64, 4, "f16", {}), rng)
    write_case(out_dir, "mlx-4bit-g32-bf16-mixed", cfgs["aidreams"], Ws["aidreams"],
               make_mlx(Ws["aidreams"], cfgs["aidreams"], 32, 4, "bf16",
                        {"model.layers.0.mlp.gate_proj": {"group_size": 64, "bits": 8},
                         "model.layers.1.self_attn.o_proj": False}), rng)
    write_case(out_dir, "mlx-8bit-g64-bf16", cfgs["aidreams"], Ws["aidreams"],
               make_mlx(Ws["aidreams"], cfgs["aidreams"], 64, 8, "bf16", {}), rng)
    # GPTQ and AWQ on the GQA model (inputs 32 and 48: a 48-input layer with groups of 32 ends in
    # a partial group).
    write_case(out_dir, "gptq-4bit-g32", cfgs["gqa"], Ws["gqa"],
               make_gptq(Ws["gqa"], cfgs["gqa"], 32, sym=False, desc_act=False, rng=rng), rng)
    write_case(out_dir, "gptq-4bit-g16-actorder", cfgs["gqa"], Ws["gqa"],
               make_gptq(Ws["gqa"], cfgs["gqa"], 16, sym=True, desc_act=True, rng=rng), rng)
    write_case(out_dir, "awq-4bit-g32", cfgs["gqa"], Ws["gqa"], make_awq(Ws["gqa"], cfgs["gqa"], 32), rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
