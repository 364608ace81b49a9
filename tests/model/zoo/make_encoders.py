#!/usr/bin/python3
"""Random-weight tiny encoders (BERT, RoBERTa, XLM-RoBERTa, DistilBERT), some shaped as
sentence-transformers repositories, and their torch reference embeddings and logits.

  make_encoders.py --out DIR

For every case writes DIR/NAME/{config.json, model.safetensors, tokenizer.json, reference.json}
(+ modules.json, 1_Pooling/config.json, 2_Normalize/, sentence_bert_config.json for the
sentence-transformers cases). reference.json:
  {"texts": [...], "ids": [[...] per text, after truncation], "truncated": [bool per text],
   "pooled": {"mean"|"cls"|"lasttoken"|"max": [[raw vector] per text]},
   "default": [[what SentenceTransformer.encode gives] per text],
   "logits": [[classifier logits] per text] (classifier cases), "parameters": base-model count,
   "pairs": [{"query", "documents", "ids", "type_ids", "truncated", "logits", "scores"}]
   (classifier cases: cross-encoder (query, document) pairs, tokenized with the pair template
   and truncated longest first as the Rust tokenizers library does; "scores" is what
   sentence-transformers' CrossEncoder.predict gives: the sigmoid of a one-label head)}

The forward passes are written from transformers' modeling_bert / modeling_roberta /
modeling_distilbert (create_position_ids_from_input_ids, create_sinusoidal_embeddings, the
classification heads), the pooling from sentence-transformers' Pooling and Normalize modules,
in plain torch float32, never from hfkit's C++. The tokenizer is a WordLevel one ("w<i>" is id
i) so the ids of each text are known here without a tokenizer implementation.
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_zoo import write_safetensors  # noqa: E402

torch.set_num_threads(1)

H, HEADS, FFN, LAYERS, VOCAB = 32, 4, 48, 2, 60


def texts_for(case):
    """Four texts: short, medium, one holding the pad token (RoBERTa positions skip it), and one
    longer than the case's maximum (truncated)."""
    w = lambda *ids: " ".join(f"w{i}" for i in ids)  # noqa: E731
    pad_word = case["pad_word"]
    return [w(7), w(9, 14, 21, 33, 8), w(11, 12) + f" {pad_word} " + w(13, 40),
            w(*[(5 * k + 3) % (VOCAB - 8) + 8 for k in range(case["long"])])]


# --------------------------------------------------------------------------- tokenizer
def tokenizer_json(kind):
    """WordLevel over "w<i>" plus the special tokens; BERT or RoBERTa post-processing."""
    if kind == "bert":
        specials = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
        post = {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}
        unk = "[UNK]"
    else:
        specials = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        post = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                "trim_offsets": True, "add_prefix_space": False}
        unk = "<unk>"
    if kind == "xlmr":  # XLM-RoBERTa's tokenizer.json: the same pair as a TemplateProcessing
        def sp(t):
            return {"SpecialToken": {"id": t, "type_id": 0}}

        def sq(t):
            return {"Sequence": {"id": t, "type_id": 0}}
        post = {"type": "TemplateProcessing", "single": [sp("<s>"), sq("A"), sp("</s>")],
                "pair": [sp("<s>"), sq("A"), sp("</s>"), sp("</s>"), sq("B"), sp("</s>")],
                "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]}
                                   for t, i in (("<s>", 0), ("</s>", 2))}}
    vocab = dict(specials)
    for i in range(len(specials), VOCAB):
        vocab[f"w{i}"] = i
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t, i in specials.items()]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"},
            "post_processor": post, "decoder": None,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": unk}}


def encode(text, kind, max_tokens):
    """What the tokenizer above gives, truncated like transformers (the text, not the
    special tokens)."""
    vocab = {t["content"]: t["id"] for t in tokenizer_json(kind)["added_tokens"]}
    ids = [vocab[t] if t in vocab else int(t[1:]) for t in text.split()]
    cut = len(ids) > max_tokens - 2
    ids = ids[:max_tokens - 2]
    return ([2] + ids + [3] if kind == "bert" else [0] + ids + [2]), cut


def encode_pair(a, b, kind, max_tokens):
    """The pair template (BERT: [CLS] a [SEP] b [SEP], b's part of type 1; RoBERTa / XLM-R:
    <s> a </s></s> b </s>, all type 0) after tokenizers' truncate_encodings with LongestFirst
    (tokenizers/src/utils/truncation.rs): the texts share max_tokens minus the special tokens,
    the shorter kept whole when it fits in half, else both cut to half (the odd one to b)."""
    vocab = {t["content"]: t["id"] for t in tokenizer_json(kind)["added_tokens"]}
    ea = [vocab[t] if t in vocab else int(t[1:]) for t in a.split()]
    eb = [vocab[t] if t in vocab else int(t[1:]) for t in b.split()]
    added = 3 if kind == "bert" else 4
    limit = max_tokens - added
    cut = len(ea) + len(eb) > limit
    if cut:
        n1, n2 = len(ea), len(eb)
        swap = n1 > n2
        if swap:
            n1, n2 = n2, n1
        n2 = n1 if n1 > limit else max(n1, limit - n1)
        if n1 + n2 > limit:
            n1 = limit // 2
            n2 = n1 + limit % 2
        if swap:
            n1, n2 = n2, n1
        ea, eb = ea[:n1], eb[:n2]
    if kind == "bert":
        return [2] + ea + [3] + eb + [3], [0] * (len(ea) + 2) + [1] * (len(eb) + 1), cut
    return [0] + ea + [2, 2] + eb + [2], [0] * (len(ea) + len(eb) + 4), cut


# --------------------------------------------------------------------------- weights
def rnd(gen, *shape, std=0.2):
    return torch.randn(*shape, generator=gen) * std


def layer_weights(gen, names, prefix):
    t = {}
    for key, (rows, cols) in names.items():
        if key.endswith("norm"):
            t[f"{prefix}{names_map(key)}.weight"] = 1 + rnd(gen, rows, std=0.1)
            t[f"{prefix}{names_map(key)}.bias"] = rnd(gen, rows, std=0.1)
        else:
            t[f"{prefix}{names_map(key)}.weight"] = rnd(gen, rows, cols)
            t[f"{prefix}{names_map(key)}.bias"] = rnd(gen, rows, std=0.1)
    return t


_NAMES = {}


def names_map(key):
    return _NAMES[key]


BERT_LAYER = {"q": "attention.self.query", "k": "attention.self.key",
              "v": "attention.self.value", "o": "attention.output.dense",
              "attn_norm": "attention.output.LayerNorm", "in": "intermediate.dense",
              "out": "output.dense", "ffn_norm": "output.LayerNorm"}
DISTIL_LAYER = {"q": "attention.q_lin", "k": "attention.k_lin", "v": "attention.v_lin",
                "o": "attention.out_lin", "attn_norm": "sa_layer_norm", "in": "ffn.lin1",
                "out": "ffn.lin2", "ffn_norm": "output_layer_norm"}
SHAPES = {"q": (H, H), "k": (H, H), "v": (H, H), "o": (H, H), "attn_norm": (H, None),
          "in": (FFN, H), "out": (H, FFN), "ffn_norm": (H, None)}


def make_modernbert_tensors(case, gen):
    """ModernBertForSequenceClassification names (model.*, head.*, classifier.*)."""
    nb, ab, mb = case["norm_bias"], case["attention_bias"], case["mlp_bias"]

    def norm(name, t):
        t[name + ".weight"] = 1 + rnd(gen, H, std=0.1)
        if nb:
            t[name + ".bias"] = rnd(gen, H, std=0.1)

    t = {"embeddings.tok_embeddings.weight": rnd(gen, VOCAB, H, std=0.5)}
    norm("embeddings.norm", t)
    for i in range(case["layers"]):
        p = f"layers.{i}."
        if i:
            norm(p + "attn_norm", t)
        t[p + "attn.Wqkv.weight"] = rnd(gen, 3 * H, H, std=0.3)
        t[p + "attn.Wo.weight"] = rnd(gen, H, H)
        if ab:
            t[p + "attn.Wqkv.bias"] = rnd(gen, 3 * H, std=0.1)
            t[p + "attn.Wo.bias"] = rnd(gen, H, std=0.1)
        norm(p + "mlp_norm", t)
        t[p + "mlp.Wi.weight"] = rnd(gen, 2 * FFN, H)
        t[p + "mlp.Wo.weight"] = rnd(gen, H, FFN)
        if mb:
            t[p + "mlp.Wi.bias"] = rnd(gen, 2 * FFN, std=0.1)
            t[p + "mlp.Wo.bias"] = rnd(gen, H, std=0.1)
    norm("final_norm", t)
    heads = {}
    if case.get("labels"):
        heads["head.dense.weight"] = rnd(gen, H, H)
        norm("head.norm", heads)
        heads["classifier.weight"] = rnd(gen, case["labels"], H, std=0.5)
        heads["classifier.bias"] = rnd(gen, case["labels"], std=0.1)
    return t, heads, "model."


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def modernbert_forward(case, t, ids):
    """modeling_modernbert (eager attention) for one unpadded sequence."""
    n, hd = len(ids), H // HEADS
    eps = 1e-5

    def ln(x, name, src=t):
        return F.layer_norm(x, (H,), src[name + ".weight"], src.get(name + ".bias"), eps)

    def lin(x, name, src=t):
        return F.linear(x, src[name + ".weight"], src.get(name + ".bias"))

    x = ln(F.embedding(torch.tensor([ids]), t["embeddings.tok_embeddings.weight"]),
           "embeddings.norm")
    pos = torch.arange(n).float()
    dist = (pos[:, None] - pos[None, :]).abs()
    window = dist <= case["local_attention"] // 2
    for i in range(case["layers"]):
        p = f"layers.{i}."
        local = i % case["global_every"] != 0
        theta = case["local_theta"] if local else case["global_theta"]
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        freqs = torch.outer(pos, inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        h = ln(x, p + "attn_norm") if i else x
        qkv = lin(h, p + "attn.Wqkv").view(1, n, 3, HEADS, hd)
        q, k, v = qkv.transpose(3, 1).unbind(dim=2)  # [1, heads, n, hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(2, 3)) * hd ** -0.5
        if local:
            scores = scores.masked_fill(~window, torch.finfo(scores.dtype).min)
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(1, n, H)
        x = x + lin(ctx, p + "attn.Wo")
        inp, gate = lin(ln(x, p + "mlp_norm"), p + "mlp.Wi").chunk(2, dim=-1)
        x = x + lin(F.gelu(inp) * gate, p + "mlp.Wo")
    return ln(x, "final_norm")[0]


def modernbert_logits(case, t, heads, hidden):
    pooled = hidden[0] if case["classifier_pooling"] == "cls" else hidden.mean(0)
    d = F.gelu(F.linear(pooled, heads["head.dense.weight"]))
    d = F.layer_norm(d, (H,), heads["head.norm.weight"], heads.get("head.norm.bias"), 1e-5)
    return F.linear(d, heads["classifier.weight"], heads["classifier.bias"])


def make_tensors(case, gen):
    arch = case["arch"]
    if arch == "modernbert":
        return make_modernbert_tensors(case, gen)
    distil = arch == "distilbert"
    base = {"bert": "bert.", "roberta": "roberta.", "xlm-roberta": "roberta.",
            "distilbert": "distilbert."}[arch]
    _NAMES.clear()
    _NAMES.update(DISTIL_LAYER if distil else BERT_LAYER)
    t = {}
    t["embeddings.word_embeddings.weight"] = rnd(gen, VOCAB, H, std=0.5)
    t["embeddings.position_embeddings.weight"] = rnd(gen, case["n_pos"], H, std=0.5)
    if not distil:
        t["embeddings.token_type_embeddings.weight"] = rnd(gen, case["types"], H, std=0.5)
    t["embeddings.LayerNorm.weight"] = 1 + rnd(gen, H, std=0.1)
    t["embeddings.LayerNorm.bias"] = rnd(gen, H, std=0.1)
    lp = "transformer.layer." if distil else "encoder.layer."
    for i in range(LAYERS):
        t.update(layer_weights(gen, SHAPES, f"{lp}{i}."))
    if case.get("pooler"):
        t["pooler.dense.weight"] = rnd(gen, H, H)
        t["pooler.dense.bias"] = rnd(gen, H, std=0.1)
    if case.get("sinusoidal"):
        t["embeddings.position_embeddings.weight"] = sinusoidal(case["n_pos"], H)
    heads = {}
    n = case.get("labels", 0)
    if n:
        dense, out = {"bert": ("pooler.dense", "classifier"),
                      "distilbert": ("pre_classifier", "classifier")}.get(
            arch, ("classifier.dense", "classifier.out_proj"))
        if arch != "bert":
            heads[dense + ".weight"] = rnd(gen, H, H)
            heads[dense + ".bias"] = rnd(gen, H, std=0.1)
        heads[out + ".weight"] = rnd(gen, n, H, std=0.5)
        heads[out + ".bias"] = rnd(gen, n, std=0.1)
    return t, heads, base


def sinusoidal(n_pos, dim):
    """modeling_distilbert.create_sinusoidal_embeddings."""
    enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)]
                    for pos in range(n_pos)])
    out = torch.zeros(n_pos, dim)
    out[:, 0::2] = torch.FloatTensor(np.sin(enc[:, 0::2]))
    out[:, 1::2] = torch.FloatTensor(np.cos(enc[:, 1::2]))
    return out


# --------------------------------------------------------------------------- forward
def layer_norm(x, t, name, eps=1e-12):
    return F.layer_norm(x, (H,), t[name + ".weight"], t[name + ".bias"], eps)


def linear(x, t, name):
    return F.linear(x, t[name + ".weight"], t[name + ".bias"])


def forward(case, t, ids, type_ids=None):
    """The base model's last_hidden_state for one unpadded sequence [n, H]. type_ids: the
    tokenizer's token types (BERT pairs), else zeros; models without a token-type input
    (DistilBERT, ModernBERT) ignore them, as their tokenizers do not return them."""
    arch = case["arch"]
    if arch == "modernbert":
        return modernbert_forward(case, t, ids)
    distil = arch == "distilbert"
    ids_t = torch.tensor([ids])
    if arch in ("roberta", "xlm-roberta"):
        pad = case["pad"]
        mask = ids_t.ne(pad).int()
        pos = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + pad
    else:
        pos = torch.arange(len(ids)).unsqueeze(0)
    x = F.embedding(ids_t, t["embeddings.word_embeddings.weight"])
    x = x + F.embedding(pos, t["embeddings.position_embeddings.weight"])
    if not distil:
        types = torch.tensor([type_ids]) if type_ids is not None else torch.zeros_like(ids_t)
        x = x + F.embedding(types, t["embeddings.token_type_embeddings.weight"])
    x = layer_norm(x, t, "embeddings.LayerNorm")
    names = DISTIL_LAYER if distil else BERT_LAYER
    lp = "transformer.layer." if distil else "encoder.layer."
    hd = H // HEADS
    act = {"gelu": lambda v: F.gelu(v), "relu": F.relu,
           "gelu_new": lambda v: F.gelu(v, approximate="tanh")}[case["act"]]
    for i in range(LAYERS):
        p = f"{lp}{i}."
        n = len(ids)

        def heads(v):
            return v.view(1, n, HEADS, hd).transpose(1, 2)

        q = heads(linear(x, t, p + names["q"]))
        k = heads(linear(x, t, p + names["k"]))
        v = heads(linear(x, t, p + names["v"]))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd)
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(1, n, H)
        x = layer_norm(linear(ctx, t, p + names["o"]) + x, t, p + names["attn_norm"])
        hmid = act(linear(x, t, p + names["in"]))
        x = layer_norm(linear(hmid, t, p + names["out"]) + x, t, p + names["ffn_norm"])
    return x[0]


def head_logits(case, t, heads, hidden):
    first = hidden[0:1]
    arch = case["arch"]
    if arch == "modernbert":
        return modernbert_logits(case, t, heads, hidden)
    if arch == "bert":  # BertPooler then classifier
        pooled = torch.tanh(linear(first, t, "pooler.dense"))
        return linear(pooled, heads, "classifier")[0]
    if arch == "distilbert":  # pre_classifier, ReLU, classifier
        return linear(F.relu(linear(first, heads, "pre_classifier")), heads, "classifier")[0]
    # RobertaClassificationHead: dense, tanh, out_proj on <s>
    return linear(torch.tanh(linear(first, heads, "classifier.dense")), heads,
                  "classifier.out_proj")[0]


def pool(hidden, mode):
    """sentence_transformers.models.Pooling for one unpadded sequence (mask all ones)."""
    mask = torch.ones(hidden.shape[0], 1)
    if mode == "cls":
        return hidden[0]
    if mode == "mean":
        return (hidden * mask).sum(0) / torch.clamp(mask.sum(0), min=1e-9)
    if mode == "max":
        return torch.max(hidden.masked_fill(mask == 0, -1e9), 0).values
    if mode == "lasttoken":
        return hidden[int(mask.sum()) - 1]
    raise ValueError(mode)


# --------------------------------------------------------------------------- cases
CASES = [
    # sentence-transformers shaped: pooling from 1_Pooling, Normalize, max_seq_length 9
    {"name": "bert-st-cls", "arch": "bert", "act": "gelu", "n_pos": 24, "types": 2,
     "pooler": True, "st": {"pooling": "cls", "normalize": True, "max_seq_length": 9},
     "long": 12, "pad_word": "[PAD]"},
    {"name": "roberta-st-mean", "arch": "roberta", "act": "gelu", "n_pos": 26, "types": 1,
     "pad": 1, "pooler": True, "st": {"pooling": "mean", "normalize": False},
     "long": 30, "pad_word": "<pad>"},
    {"name": "xlm-roberta-st-lasttoken", "arch": "xlm-roberta", "act": "gelu", "n_pos": 20,
     "types": 1, "pad": 1, "st": {"pooling": "lasttoken", "normalize": True,
                                   "max_seq_length": 12}, "long": 14, "pad_word": "<pad>"},
    {"name": "distilbert-st-max", "arch": "distilbert", "act": "gelu", "n_pos": 20,
     "st": {"pooling": "max", "normalize": True}, "long": 25, "pad_word": "[PAD]", "labels": 3},
    # plain checkpoints: mean + normalised by default, truncated at the position table
    {"name": "distilbert-sinusoidal", "arch": "distilbert", "act": "relu", "n_pos": 16,
     "sinusoidal": True, "long": 20, "pad_word": "[PAD]"},
    # cross-encoder rerankers: one logit
    {"name": "roberta-reranker", "arch": "roberta", "act": "gelu_new", "n_pos": 22, "types": 1,
     "pad": 1, "labels": 1, "long": 25, "pad_word": "<pad>"},
    # ModernBERT: 3 layers (global, local, global), a window (+-2) shorter than the texts,
    # GeGLU, no biases (one case) or all of them (the other), mean-pooled classifier.
    {"name": "modernbert-st-cls", "arch": "modernbert", "layers": 3, "n_pos": 64,
     "local_attention": 4, "global_every": 2, "global_theta": 160000.0, "local_theta": 10000.0,
     "norm_bias": False, "attention_bias": False, "mlp_bias": False,
     "st": {"pooling": "cls", "normalize": True, "max_seq_length": 11}, "long": 14,
     "pad_word": "[PAD]", "labels": 2, "classifier_pooling": "mean"},
    {"name": "modernbert-biased", "arch": "modernbert", "layers": 3, "n_pos": 16,
     "local_attention": 6, "global_every": 3, "global_theta": 80000.0, "local_theta": 500.0,
     "norm_bias": True, "attention_bias": True, "mlp_bias": True, "long": 20,
     "pad_word": "[PAD]", "labels": 1, "classifier_pooling": "cls"},
    {"name": "bert-classifier", "arch": "bert", "act": "gelu", "n_pos": 24, "types": 2,
     "pooler": True, "labels": 2, "long": 30, "pad_word": "[PAD]"},
    # cross-encoder rerankers on pairs: BERT (token types 1 for the document) and XLM-RoBERTa
    # (a TemplateProcessing pair), one logit each
    {"name": "bert-reranker", "arch": "bert", "act": "gelu", "n_pos": 20, "types": 2,
     "pooler": True, "labels": 1, "long": 25, "pad_word": "[PAD]"},
    {"name": "xlm-roberta-reranker", "arch": "xlm-roberta", "act": "gelu", "n_pos": 22,
     "types": 1, "pad": 1, "labels": 1, "long": 25, "pad_word": "<pad>", "tokenizer": "xlmr"},
]


def pair_groups(limit):
    """(query, documents): a short query against a short, a medium and a long document (only
    the document is cut), then a query longer than the limit against a short and a long document
    (the query alone, then both, cut)."""
    w = lambda *ids: " ".join(f"w{i}" for i in ids)  # noqa: E731
    long_doc = w(*[(7 * k + 5) % (VOCAB - 8) + 8 for k in range(limit + 6)])
    long_query = w(*[(3 * k + 11) % (VOCAB - 8) + 8 for k in range(limit)])
    return [(w(7, 9, 14), [w(21), w(33, 8, 12, 40, 41), long_doc]),
            (long_query, [w(10, 11), long_doc])]


def config_of(case):
    arch = case["arch"]
    n = case.get("labels", 0)
    cls = {"bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta",
           "distilbert": "DistilBert", "modernbert": "ModernBert"}[arch]
    c = {"architectures": [cls + ("ForSequenceClassification" if n else "Model")],
         "model_type": arch, "vocab_size": VOCAB, "max_position_embeddings": case["n_pos"]}
    if arch == "modernbert":
        c.update({"hidden_size": H, "num_hidden_layers": case["layers"],
                  "num_attention_heads": HEADS, "intermediate_size": FFN,
                  "hidden_activation": "gelu", "norm_eps": 1e-5, "norm_bias": case["norm_bias"],
                  "attention_bias": case["attention_bias"], "mlp_bias": case["mlp_bias"],
                  "local_attention": case["local_attention"],
                  "global_attn_every_n_layers": case["global_every"],
                  "global_rope_theta": case["global_theta"],
                  "local_rope_theta": case["local_theta"], "classifier_pooling":
                  case["classifier_pooling"], "classifier_activation": "gelu",
                  "classifier_bias": False, "pad_token_id": 0})
    elif arch == "distilbert":
        c.update({"dim": H, "n_layers": LAYERS, "n_heads": HEADS, "hidden_dim": FFN,
                  "activation": case["act"], "sinusoidal_pos_embds": bool(case.get("sinusoidal")),
                  "pad_token_id": 0})
    else:
        c.update({"hidden_size": H, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
                  "intermediate_size": FFN, "hidden_act": case["act"],
                  "type_vocab_size": case["types"], "layer_norm_eps": 1e-12,
                  "pad_token_id": case.get("pad", 0)})
    if n:
        c["id2label"] = {str(i): f"L{i}" for i in range(n)}
        c["label2id"] = {f"L{i}": i for i in range(n)}
    return c


def write_case(case, out):
    d = os.path.join(out, case["name"])
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    gen = torch.Generator().manual_seed(sum(map(ord, case["name"])))
    t, heads, base = make_tensors(case, gen)
    kind = "bert" if case["arch"] in ("bert", "distilbert", "modernbert") else "roberta"
    kind = case.get("tokenizer", kind)
    stored = {base + k: v for k, v in t.items()
              if not (case.get("sinusoidal") and k == "embeddings.position_embeddings.weight")}
    stored.update(heads)
    write_safetensors(os.path.join(d, "model.safetensors"), stored)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config_of(case), f, indent=1)
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(kind), f)
    st = case.get("st")
    limit = case["n_pos"] - (case["pad"] + 1 if "pad" in case else 0)
    if st:
        mods = [{"idx": 0, "name": "0", "path": "",
                 "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling",
                 "type": "sentence_transformers.models.Pooling"}]
        if st["normalize"]:
            mods.append({"idx": 2, "name": "2", "path": "2_Normalize",
                         "type": "sentence_transformers.models.Normalize"})
            os.makedirs(os.path.join(d, "2_Normalize"))
        with open(os.path.join(d, "modules.json"), "w") as f:
            json.dump(mods, f, indent=1)
        os.makedirs(os.path.join(d, "1_Pooling"))
        modes = ["cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens",
                 "weightedmean_tokens", "lasttoken"]
        want = {"cls": "cls_token", "mean": "mean_tokens", "max": "max_tokens",
                "lasttoken": "lasttoken"}[st["pooling"]]
        pooling = {"word_embedding_dimension": H}
        pooling.update({f"pooling_mode_{m}": m == want for m in modes})
        pooling["include_prompt"] = True
        with open(os.path.join(d, "1_Pooling", "config.json"), "w") as f:
            json.dump(pooling, f, indent=1)
        if "max_seq_length" in st:
            with open(os.path.join(d, "sentence_bert_config.json"), "w") as f:
                json.dump({"max_seq_length": st["max_seq_length"], "do_lower_case": False}, f)
            limit = min(limit, st["max_seq_length"])
    texts = texts_for(case)
    ref = {"texts": texts, "ids": [], "truncated": [], "pooled": {}, "default": [],
           "logits": []}
    default_mode = st["pooling"] if st else "mean"
    default_norm = st["normalize"] if st else True
    with torch.no_grad():
        for text in texts:
            ids, cut = encode(text, kind, limit)
            hidden = forward(case, t, ids)
            ref["ids"].append(ids)
            ref["truncated"].append(cut)
            for mode in ("mean", "cls", "lasttoken", "max"):
                ref["pooled"].setdefault(mode, []).append(pool(hidden, mode).tolist())
            v = pool(hidden, default_mode).unsqueeze(0)
            if default_norm:
                v = F.normalize(v, p=2, dim=1)
            ref["default"].append(v[0].tolist())
            if heads:
                ref["logits"].append(head_logits(case, t, heads, hidden).tolist())
        if heads:
            ref["pairs"] = []
            for query, docs in pair_groups(limit):
                g = {"query": query, "documents": docs, "ids": [], "type_ids": [],
                     "truncated": [], "logits": [], "scores": []}
                for doc in docs:
                    ids, types, cut = encode_pair(query, doc, kind, limit)
                    assert len(ids) <= limit
                    z = head_logits(case, t, heads, forward(case, t, ids, types))
                    g["ids"].append(ids)
                    g["type_ids"].append(types)
                    g["truncated"].append(cut)
                    g["logits"].append(z.tolist())
                    # CrossEncoder's default activation: Sigmoid for one label, else Identity
                    g["scores"].append((torch.sigmoid(z) if z.numel() == 1 else z).tolist())
                ref["pairs"].append(g)
    # The base model's parameters (with its pooler, as BertModel/RobertaModel build it; the
    # sinusoidal table is a parameter in DistilBertModel too).
    ref["parameters"] = sum(v.numel() for v in t.values())
    if case["arch"] in ("bert", "roberta", "xlm-roberta") and not case.get("pooler"):
        ref["parameters"] += H * H + H
    ref["limit"] = limit
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    # Each text must actually reach the case's features.
    assert ref["truncated"][-1] and not any(ref["truncated"][:-1]), case["name"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for case in CASES:
        write_case(case, args.out)


if __name__ == "__main__":
    main()
