"""Embeddings: one float32 buffer filled in place, equal to the torch reference."""

import json
import os

import numpy as np
import pytest

from conftest import SHARED_DIR

BERT = SHARED_DIR / "models" / "tiny" / "tiny-bert-f32"
REFERENCE = SHARED_DIR / "reference" / "forward" / "tiny-bert-f32"


def _word_level_checkpoint(tmp_path):
    """tiny-bert-f32 ships no tokenizer and its reference was computed from ids. Pair its
    weights with a WordLevel tokenizer where the word "t<i>" is id i and nothing is added, so
    a text encodes to exactly the reference ids."""
    d = tmp_path / "tiny-bert-wordlevel"
    d.mkdir()
    for name in ("config.json", "model.safetensors"):
        os.symlink(BERT / name, d / name)
    vocab_size = json.loads((BERT / "config.json").read_text())["vocab_size"]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": {f"t{i}": i for i in range(vocab_size)},
                  "unk_token": "t0"},
    }
    (d / "tokenizer.json").write_text(json.dumps(tokenizer))
    return d


def _text(ids):
    return " ".join(f"t{i}" for i in ids)


@pytest.fixture()
def bert(hfkit, tmp_path):
    with hfkit.Model.from_pretrained(_word_level_checkpoint(tmp_path), n_threads=1) as m:
        yield m


def test_embeddings_match_reference(bert):
    many = json.loads((REFERENCE / "forward_f32.json").read_text())
    one = json.loads((REFERENCE / "forward_single_f32.json").read_text())
    assert bert.tokenize(_text(many["ids"])) == many["ids"]
    out = bert.embed([_text(many["ids"]), _text(one["ids"])])
    assert out.dtype == np.float32
    assert out.shape == (2, bert.embedding_dim) == (2, 32)
    np.testing.assert_allclose(out[0], many["mean_pooled_normalized"], atol=1e-4)
    np.testing.assert_allclose(out[1], one["mean_pooled_normalized"], atol=1e-4)


def test_embed_is_one_buffer(bert):
    out = bert.embed(["t5 t6", "t7", "t8 t9 t10"])
    # numpy owns the one buffer the library wrote into: no view on a temporary, no copy.
    assert out.flags.owndata and out.flags.c_contiguous and out.flags.writeable
    assert out.base is None
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_embed_options(bert):
    raw = bert.embed("t5 t6 t7", normalize=False)
    assert raw.shape == (1, 32)
    assert abs(float(np.linalg.norm(raw)) - 1.0) > 1e-3
    cls = bert.embed("t5 t6 t7", pooling="cls", normalize=False)
    assert not np.allclose(cls, raw)
    assert bert.embed([]).shape == (0, 32)


def test_embed_errors(hfkit, bert, model):
    with pytest.raises(hfkit.UnsupportedError) as info:
        model.embed(["hello"])
    assert info.value.status == -8
    with pytest.raises(hfkit.InvalidArgumentError):
        bert.embed(["t1"], pooling="weightedmean")


def test_a_long_text_is_truncated_with_a_flag_not_refused(bert):
    # As sentence-transformers does: cut to the model's positions (64 here), flagged.
    ids = [5 + i % 50 for i in range(200)]
    vectors, truncated = bert.embed([_text(ids), "t5"], return_truncated=True)
    assert truncated.tolist() == [True, False]
    np.testing.assert_allclose(vectors[0], bert.embed(_text(ids[:64]))[0], atol=1e-6)
    with pytest.raises(TypeError):
        bert.embed([b"bytes"])


def test_classify_without_head(hfkit, bert):
    assert bert.labels == []
    with pytest.raises(hfkit.UnsupportedError):
        bert.classify(["t5 t6"])


def test_bert_cannot_generate(hfkit, bert):
    assert not bert.is_generator
    with pytest.raises(hfkit.UnsupportedError):
        bert.generate("t1")
