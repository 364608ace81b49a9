"""from_pretrained(..., quantize="q8"|"q4", keep_embeddings=...) (issue 18): the embedding and
lm_head are quantized by default, keep_embeddings=True leaves them as stored (another model:
other logits), and both still generate the unquantized model's greedy start."""

import numpy as np
import pytest

IDS = [1, 5, 9, 14, 3, 27]


def _logits(hfkit, model_dir, **kw):
    with hfkit.Model.from_pretrained(model_dir, n_threads=1, **kw) as m:
        return m.session().eval(IDS, all_logits=True)


@pytest.mark.parametrize("quantize", ["q8", "q4"])
def test_keep_embeddings_is_another_model(hfkit, model_dir, quantize):
    by_default = _logits(hfkit, model_dir, quantize=quantize)
    again = _logits(hfkit, model_dir, quantize=quantize, keep_embeddings=False)
    kept = _logits(hfkit, model_dir, quantize=quantize, keep_embeddings=True)
    assert np.array_equal(by_default, again)
    assert by_default.shape == kept.shape
    assert not np.array_equal(by_default, kept)


def test_open_takes_keep_embeddings(hfkit, model_dir):
    with hfkit.Model.from_pretrained(model_dir, n_threads=1) as base:
        want = base.generate_result("", max_new_tokens=8).tokens
    with hfkit.Model.open(model_dir, n_threads=1, quantize="q8", keep_embeddings=True) as m:
        m.wait()
        assert m.generate_result("", max_new_tokens=8).tokens == want
