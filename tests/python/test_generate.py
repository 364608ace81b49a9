"""Generation through the Python binding equals the C API's output and the reference."""

import gc
import math
import subprocess
import sys

import pytest

from conftest import SHARED_DIR, SOURCE_DIR


def reference_text(model_dir, n=None):
    """The reference greedy text, decoded by the same independent decoder the C, libffi and
    Rust consumers are checked against (tests/examples/reference_text.py)."""
    forward = SHARED_DIR / "reference" / "forward" / "aidreams260K" / "forward_bos_f32.json"
    args = [sys.executable, str(SOURCE_DIR / "tests" / "examples" / "reference_text.py"),
            str(model_dir), str(forward)]
    if n is not None:
        args.append(str(n))
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def test_properties(model):
    assert model.architecture == "llama"
    assert model.context_length == 128
    assert model.vocab_size == 512
    assert model.is_generator
    assert model.embedding_dim == 0
    assert model.labels == []
    assert "llama" in repr(model)


def test_greedy_from_bos_equals_reference(model, model_dir, reference):
    result = model.generate_result("", max_new_tokens=len(reference))
    assert result.text == reference_text(model_dir)
    assert result.text.startswith('"Echoes of vectors unfold, a gentle hum of precision,')
    assert result.n_generated_tokens == len(reference)
    assert result.tokens == reference  # the very ids of the torch reference
    assert result.n_prompt_tokens == 1  # BOS
    assert result.stop_reason == "max_tokens"
    assert result.n_reused_tokens == 0
    assert 0 < result.prefill_tokens_per_s < float("inf")
    assert 0 < result.decode_tokens_per_s < float("inf")
    assert 0 < result.time_to_first_token_ms < 60_000
    # The same ids, as the C API's tokenizer decodes them.
    assert model.detokenize(reference) == result.text


def test_generate_returns_str(model, model_dir):
    assert model.generate("", max_new_tokens=10) == reference_text(model_dir, 10)


def test_stream_pieces_join_to_the_text(model, reference):
    full = model.generate("", max_new_tokens=len(reference))
    pieces = list(model.stream("", max_new_tokens=len(reference)))
    assert len(pieces) > 1
    assert "".join(pieces) == full


def test_on_piece_receives_every_piece(model):
    pieces = []
    text = model.generate("Once upon a time", max_new_tokens=20, on_piece=pieces.append)
    assert "".join(pieces) == text


def test_on_piece_true_stops(model):
    pieces = []

    def on_piece(p):
        pieces.append(p)
        return len(pieces) >= 3

    r = model.generate_result("", max_new_tokens=40, on_piece=on_piece)
    assert r.stop_reason == "callback"
    assert len(pieces) == 3
    assert r.text == "".join(pieces)


def test_callback_exception_is_reraised_with_traceback(model):
    def exploding_callback(piece):
        raise LookupError("boom from the callback")

    with pytest.raises(LookupError, match="boom from the callback") as info:
        model.generate("", max_new_tokens=10, on_piece=exploding_callback)
    names = [entry.name for entry in info.traceback]
    assert "exploding_callback" in names
    # The session went back to the pool in a usable state.
    assert model.generate("", max_new_tokens=3) != ""


def test_stream_break_cancels_and_session_is_reusable(model):
    with model.session() as s:
        stream = s.stream("", max_new_tokens=60, ignore_eos=True)
        first = next(stream)
        assert first
        stream.close()
        s.reset()
        assert s.generate("", max_new_tokens=5) == model.generate("", max_new_tokens=5)


def test_stop_string(model, reference):
    full = model.generate("", max_new_tokens=len(reference))
    cut = full.index("gentle")
    r = model.generate_result("", max_new_tokens=len(reference), stop=["gentle"])
    assert r.text == full[:cut]
    assert r.stop_reason == "stop_string"


def test_sampling_is_deterministic_per_seed(model):
    a = model.generate("Once", max_new_tokens=30, temperature=0.9, top_k=40, seed=1234)
    b = model.generate("Once", max_new_tokens=30, temperature=0.9, top_k=40, seed=1234)
    c = model.generate("Once", max_new_tokens=30, temperature=0.9, top_k=40, seed=99)
    assert a == b
    assert a != c or a == ""  # different seeds practically always differ


def test_bad_options(hfkit, model):
    with pytest.raises(TypeError, match="max_length"):  # max_tokens is an accepted alias
        model.generate("", max_length=3)
    with pytest.raises(hfkit.InvalidArgumentError) as info:
        model.generate("", temperature=math.nan)
    assert info.value.status == -1
    assert "temperature" in str(info.value)
    with pytest.raises(hfkit.InvalidArgumentError):
        model.generate("", top_p=0.0)
    with pytest.raises(hfkit.InvalidArgumentError):
        model.generate("", max_new_tokens=-5)
    with pytest.raises(TypeError):
        model.generate(123)
    with pytest.raises(ValueError):
        model.generate("a\0b")


def test_prompt_longer_than_context(hfkit, model):
    with pytest.raises(hfkit.ContextFullError) as info:
        model.generate("hello " * 400, max_new_tokens=1)
    assert info.value.status == -10
    assert info.value.status_name == "HFK_E_CONTEXT_FULL"


def test_session_keeps_the_conversation(model):
    with model.session() as s:
        first = s.generate_result("Once upon a time", max_new_tokens=5)
        second = s.generate_result(" there", max_new_tokens=5)
        assert first.n_generated_tokens == 5
        assert second.n_prompt_tokens >= 1
        s.reset()
        again = s.generate_result("Once upon a time", max_new_tokens=5)
        assert again.text == first.text
        assert 0 < again.n_reused_tokens < again.n_prompt_tokens  # reset keeps computed tokens


def test_tokenize_detokenize(model):
    ids = model.tokenize("Echoes of vectors")
    assert ids[0] == 1  # BOS
    assert model.tokenize("Echoes of vectors", add_special_tokens=False) == ids[1:]
    assert model.detokenize(ids) == "Echoes of vectors"
    assert "<s>" in model.detokenize(ids, skip_special_tokens=False)
    long_text = "é" * 3000  # more ids than bytes/… exercises the resize path
    assert len(model.tokenize(long_text)) > 0


def test_detokenize_out_of_vocab(hfkit, model):
    with pytest.raises(hfkit.InvalidArgumentError) as info:
        model.detokenize([100000])
    assert info.value.status == -1


def test_close_and_context_manager(hfkit, model_dir):
    with hfkit.Model.from_pretrained(model_dir) as m:
        s = m.session()
        assert not m.closed
    assert m.closed
    with pytest.raises(hfkit.StateError) as info:
        m.generate("")
    assert info.value.status_name == "HFK_E_STATE"
    with pytest.raises(hfkit.StateError):
        _ = m.architecture
    m.close()  # idempotent
    # A session outlives model.close(): the C model is reference-counted.
    assert s.generate("", max_new_tokens=3)
    s.close()
    with pytest.raises(hfkit.StateError):
        s.generate("")
    s.close()


def test_session_keeps_model_alive(hfkit, model_dir):
    m = hfkit.Model.from_pretrained(model_dir)
    s = hfkit.Session(m)
    del m
    gc.collect()
    assert s.model.architecture == "llama"
    assert s.generate("", max_new_tokens=3)
    s.close()


def test_native_session_keep_alive(hfkit, model_dir):
    # py::keep_alive on the extension's Session: the native model object stays alive too.
    from hfkit import _hfkit

    native = _hfkit.Model.load(str(model_dir), 0, None, _hfkit.HubOptions())
    session = _hfkit.Session(native)
    count = sys.getrefcount(native)
    assert count >= 3  # native, the getrefcount arg, and the session's keep_alive
    del native
    gc.collect()
    assert session.generate("", _hfkit.GenOptions())[0] != ""
    session.close()


def test_versions(hfkit):
    assert hfkit.library_version().count(".") == 2
    assert hfkit.abi_version() == 0
