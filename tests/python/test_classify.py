"""Encoders end to end: CLS pooling against the torch reference, and the classification success
path on a tiny-bert copy given a classifier head here (built with numpy at test time)."""

import json
import os
import struct

import numpy as np
import pytest

from conftest import SHARED_DIR

BERT = SHARED_DIR / "models" / "tiny" / "tiny-bert-f32"
REFERENCE = SHARED_DIR / "reference" / "forward" / "tiny-bert-f32"
LABELS = ["negative", "neutral", "positive"]
REFERENCE_FILES = ["forward_f32.json", "forward_single_f32.json"]


def _word_level_tokenizer(vocab_size):
    """tiny-bert ships no tokenizer and its reference was computed from ids: "t<i>" is id i."""
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": {f"t{i}": i for i in range(vocab_size)},
                  "unk_token": "t0"},
    }


def _text(ids):
    return " ".join(f"t{i}" for i in ids)


def _append_tensors(src, dst, tensors):
    """Writes dst = the safetensors file src plus F32 `tensors` ({name: array}) after its data:
    8-byte little-endian header length, JSON header (space-padded to 8 bytes), data."""
    raw = src.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = bytearray(raw[8 + n:])
    for name, array in tensors.items():
        a = np.ascontiguousarray(array, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [len(data), len(data) + a.nbytes]}
        data += a.tobytes()
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    dst.write_bytes(struct.pack("<Q", len(text)) + text + bytes(data))


def _head(dim):
    rng = np.random.default_rng(20241123)
    return (rng.normal(0.0, 0.6, size=(len(LABELS), dim)).astype(np.float32),
            np.array([0.25, -0.5, 0.1], dtype=np.float32))


@pytest.fixture()
def classifier_dir(tmp_path):
    cfg = json.loads((BERT / "config.json").read_text())
    cfg["architectures"] = ["BertForSequenceClassification"]
    cfg["id2label"] = {str(i): name for i, name in enumerate(LABELS)}
    cfg["label2id"] = {name: i for i, name in enumerate(LABELS)}
    d = tmp_path / "tiny-bert-classifier"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg))
    w, b = _head(cfg["hidden_size"])
    _append_tensors(BERT / "model.safetensors", d / "model.safetensors",
                    {"classifier.weight": w, "classifier.bias": b})
    (d / "tokenizer.json").write_text(json.dumps(_word_level_tokenizer(cfg["vocab_size"])))
    return d


def _softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def test_classify_matches_softmax_of_the_head_on_the_reference_pooled_output(hfkit,
                                                                              classifier_dir):
    refs = [json.loads((REFERENCE / f).read_text()) for f in REFERENCE_FILES]
    w, b = _head(json.loads((BERT / "config.json").read_text())["hidden_size"])
    want = np.stack([_softmax(w.astype(np.float64) @ np.array(r["pooled"]) + b) for r in refs])
    # A head that is near-uniform or saturated would prove little.
    assert (want.max(axis=1) - want.min(axis=1) > 0.05).all() and (want < 0.999).all(), want
    with hfkit.Model.from_pretrained(classifier_dir, n_threads=1) as m:
        assert m.labels == LABELS
        assert not m.is_generator
        got = m.classify([_text(r["ids"]) for r in refs])
        assert got.dtype == np.float32 and got.shape == (len(refs), len(LABELS))
        np.testing.assert_allclose(got, want, atol=1e-4)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
        # A single str is one text.
        np.testing.assert_allclose(m.classify(_text(refs[0]["ids"])), want[:1], atol=1e-4)


def test_cls_pooling_matches_the_reference_first_hidden_state(hfkit, tmp_path):
    d = tmp_path / "tiny-bert-wordlevel"
    d.mkdir()
    for name in ("config.json", "model.safetensors"):
        os.symlink(BERT / name, d / name)
    vocab = json.loads((BERT / "config.json").read_text())["vocab_size"]
    (d / "tokenizer.json").write_text(json.dumps(_word_level_tokenizer(vocab)))
    refs = [json.loads((REFERENCE / f).read_text()) for f in REFERENCE_FILES]
    first = np.array([r["last_hidden_state_first"] for r in refs])
    norms = np.linalg.norm(first, axis=1, keepdims=True)
    assert (np.abs(norms - 1.0) > 1e-2).all(), "the reference is already unit norm"
    with hfkit.Model.from_pretrained(d, n_threads=1) as m:
        texts = [_text(r["ids"]) for r in refs]
        raw = m.embed(texts, pooling="cls", normalize=False)
        np.testing.assert_allclose(raw, first, atol=1e-4)
        unit = m.embed(texts, pooling="cls", normalize=True)
        np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(unit, first / norms, atol=1e-4)
