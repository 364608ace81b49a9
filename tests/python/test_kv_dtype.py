"""kv_dtype (issue 18): Model.session(kv_dtype=...) and generate(..., kv_dtype=...) give the F32
cache's greedy text on the trained default model; unknown names are refused before any work."""

import pytest


@pytest.mark.parametrize("kv", ["f16", "bf16"])
def test_half_precision_cache_generates_the_f32_text(hfkit, model_dir, kv):
    with hfkit.Model.from_pretrained(model_dir, n_threads=1) as m:
        want = m.generate_result("", max_new_tokens=24).tokens
        assert m.generate_result("", max_new_tokens=24, kv_dtype=kv).tokens == want
        assert "".join(m.stream("", max_new_tokens=24, kv_dtype=kv)) == m.generate(
            "", max_new_tokens=24)
        with m.session(kv_dtype=kv) as s:
            assert s.generate_result("", max_new_tokens=24).tokens == want


@pytest.mark.parametrize("bad", ["bf8", "F16", "", 1, b"f16"])
def test_unknown_kv_dtype_is_refused(hfkit, model_dir, bad):
    with hfkit.Model.from_pretrained(model_dir, n_threads=1) as m:
        with pytest.raises(hfkit.InvalidArgumentError, match="kv_dtype"):
            m.session(kv_dtype=bad)
        with pytest.raises(hfkit.InvalidArgumentError, match="kv_dtype"):
            m.generate("", max_new_tokens=2, kv_dtype=bad)
