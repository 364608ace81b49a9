"""from_pretrained(..., quantize=...) (issue 18): each format loads and generates, greedy text from
BOS starts as the unquantized model's, and unknown names are refused before any load."""

import pytest


@pytest.mark.parametrize("quantize", ["auto", "f32", "bf16", "q8", "q4"])
def test_quantized_models_generate(hfkit, model_dir, quantize):
    with hfkit.Model.from_pretrained(model_dir, n_threads=1) as base:
        want = base.generate_result("", max_new_tokens=8).tokens
    with hfkit.Model.from_pretrained(model_dir, n_threads=1, quantize=quantize) as m:
        assert m.generate_result("", max_new_tokens=8).tokens == want


@pytest.mark.parametrize("bad", ["q5", "Q8", "", 8, b"q8"])
def test_unknown_quantize_is_refused(hfkit, model_dir, bad):
    with pytest.raises(hfkit.InvalidArgumentError, match="quantize"):
        hfkit.Model.from_pretrained(model_dir, quantize=bad)
    with pytest.raises(ValueError):
        hfkit.Model.open(model_dir, quantize=bad)
