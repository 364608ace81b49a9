"""Errors raise the exception tree with the C status code, name and message."""

import os
import re
import shutil

import pytest

from conftest import SOURCE_DIR


def header_codes():
    """Every HFK_E_* code declared in the public header."""
    text = (SOURCE_DIR / "capi" / "include" / "hfkit" / "hfkit.h").read_text()
    return {int(v): k for k, v in re.findall(r"\b(HFK_E_[A-Z_]+)\s*=\s*(-\d+)", text)}


def test_missing_directory(hfkit, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(hfkit.NotFoundError) as info:
        hfkit.Model.from_pretrained(missing)
    e = info.value
    assert e.status == -6
    assert e.status_name == "HFK_E_NOT_FOUND"
    assert str(missing) in str(e)
    assert isinstance(e, FileNotFoundError)
    assert isinstance(e, hfkit.HfkitError)


def _checkpoint_copy(model_dir, tmp_path):
    d = tmp_path / "ckpt"
    d.mkdir()
    for name in os.listdir(model_dir):
        if name.endswith(".json"):
            shutil.copy(model_dir / name, d / name)
    return d


def test_malformed_config(hfkit, model_dir, tmp_path):
    d = _checkpoint_copy(model_dir, tmp_path)
    os.symlink(model_dir / "model.safetensors", d / "model.safetensors")
    (d / "config.json").write_text('{"model_type": "llama", "hidden_size": ')
    with pytest.raises(hfkit.FormatError) as info:
        hfkit.Model.from_pretrained(d)
    assert info.value.status == -9
    assert info.value.status_name == "HFK_E_FORMAT"
    assert "config.json" in str(info.value)


def test_truncated_safetensors(hfkit, model_dir, tmp_path):
    d = _checkpoint_copy(model_dir, tmp_path)
    data = (model_dir / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(hfkit.FormatError) as info:
        hfkit.Model.from_pretrained(d)
    assert info.value.status == -9
    assert "safetensors" in str(info.value)


def test_every_status_code_is_mapped(hfkit):
    from hfkit import _errors, _hfkit

    codes = header_codes()
    assert len(codes) >= 28
    for code, name in codes.items():
        assert _hfkit.status_name(code) == name
        assert code in _errors.STATUS_CLASSES, name
        e = _errors._from_status(code, name, "detail")
        assert isinstance(e, hfkit.HfkitError)
        assert (e.status, e.status_name, e.message) == (code, name, "detail")
        assert name in str(e) and "detail" in str(e)
    # An unknown (future) code is still an HfkitError.
    e = _errors._from_status(-1234, "HFK_E_UNKNOWN", "x")
    assert type(e) is hfkit.HfkitError


@pytest.mark.parametrize(
    "code, cls",
    [
        (-6, "NotFoundError"),
        (-15, "GatedRepoError"),
        (-5, "AuthError"),
        (-9, "FormatError"),
        (-8, "UnsupportedError"),
        (-11, "CancelledError"),
        (-10, "ContextFullError"),
        (-4, "NetworkError"),
        (-7, "ChecksumError"),
    ],
)
def test_named_classes(hfkit, code, cls):
    from hfkit import _errors

    assert type(_errors._from_status(code, "X", "")) is getattr(hfkit, cls)


def test_gated_is_an_auth_error(hfkit):
    assert issubclass(hfkit.GatedRepoError, hfkit.AuthError)
    assert issubclass(hfkit.NotFoundError, FileNotFoundError)


def test_exceptions_pickle(hfkit):
    import pickle

    from hfkit import _errors

    e = pickle.loads(pickle.dumps(_errors._from_status(-6, "HFK_E_NOT_FOUND", "gone")))
    assert (type(e), e.status, e.status_name, e.message) == (
        hfkit.NotFoundError, -6, "HFK_E_NOT_FOUND", "gone")


def test_progress_callback(hfkit, model_dir):
    seen = []
    with hfkit.Model.from_pretrained(model_dir, on_progress=seen.append):
        pass
    assert seen, "on_progress was never called"
    assert all(isinstance(p, hfkit.Progress) for p in seen)
    assert seen[-1].phase in ("loading", "ready")


def test_progress_true_cancels(hfkit, model_dir):
    with pytest.raises(hfkit.CancelledError) as info:
        hfkit.Model.from_pretrained(model_dir, on_progress=lambda p: True)
    assert info.value.status == -11


def test_progress_exception_propagates(hfkit, model_dir):
    def on_progress(p):
        raise KeyError("from progress")

    with pytest.raises(KeyError, match="from progress"):
        hfkit.Model.from_pretrained(model_dir, on_progress=on_progress)


def test_open_without_blocking(hfkit, model_dir):
    with hfkit.Model.open(model_dir) as m:
        assert m.state in ("pending", "loading", "ready")
        assert m.wait(timeout=60) is True
        assert m.state == "ready"
        assert m.progress.phase == "ready"
        assert m.architecture == "llama"
        assert m.generate("", max_new_tokens=5)


def test_open_failure_raises_on_wait(hfkit, model_dir, tmp_path):
    d = _checkpoint_copy(model_dir, tmp_path)
    (d / "config.json").write_text("{")
    with hfkit.Model.open(d) as m:
        with pytest.raises(hfkit.FormatError) as info:
            m.wait()
        assert info.value.status == -9
        assert m.state == "failed"


def test_hub_cache_functions_on_an_empty_cache(hfkit, tmp_path):
    cache = tmp_path / "hub-cache"
    cache.mkdir()
    assert hfkit.is_downloaded("org/model", cache_dir=cache) is False
    assert hfkit.disk_usage(cache_dir=cache) == 0
    assert hfkit.downloaded_models(cache_dir=cache) == []
    with pytest.raises(hfkit.NotFoundError):
        hfkit.remove_from_disk("org/model", cache_dir=cache)
    with pytest.raises(hfkit.HfkitError) as info:  # offline and not cached
        hfkit.prepare("org/model", cache_dir=cache, offline=True)
    assert info.value.status in (-21, -6)
    with pytest.raises(hfkit.HfkitError) as info:
        hfkit.Model.from_pretrained("org/model", cache_dir=cache, offline=True)
    assert info.value.status in (-21, -6)
