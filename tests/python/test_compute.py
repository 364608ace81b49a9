"""compute (issue 22): Model.session(compute="bf16") and generate(..., compute="bf16") on the
trained default model loaded as BF16 weights keep the exact mode's greedy text (the prompt is
longer than four tokens, so its prefill runs in BF16 where the CPU has AVX512_BF16); unknown
names are refused before any work."""

import pytest

PROMPT = "Once upon a time, there was a little girl named Lily. She"


def test_bf16_compute_generates_the_exact_text(hfkit, model_dir):
    with hfkit.Model.from_pretrained(model_dir, n_threads=1, quantize="bf16") as m:
        want = m.generate_result(PROMPT, max_new_tokens=24).tokens
        assert m.generate_result(PROMPT, max_new_tokens=24, compute="bf16").tokens == want
        assert "".join(m.stream(PROMPT, max_new_tokens=24, compute="bf16")) == m.generate(
            PROMPT, max_new_tokens=24)
        with m.session(compute="bf16", kv_dtype="bf16") as s:
            assert s.generate_result(PROMPT, max_new_tokens=24).tokens == want


@pytest.mark.parametrize("bad", ["bf8", "BF16", "f16", "", 1, b"bf16"])
def test_unknown_compute_is_refused(hfkit, model_dir, bad):
    with hfkit.Model.from_pretrained(model_dir, n_threads=1) as m:
        with pytest.raises(hfkit.InvalidArgumentError, match="compute"):
            m.session(compute=bad)
        with pytest.raises(hfkit.InvalidArgumentError, match="compute"):
            m.generate("", max_new_tokens=2, compute=bad)
