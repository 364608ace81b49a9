"""Issue 15 item 1: the memory check sizes the KV cache for the context the caller will use, and
its override is reachable from Python (n_ctx=, skip_resource_check=)."""

import json
import shutil

import pytest


def huge_kv_model(tmp_path, model_dir):
    """The default model with a config whose KV cache is 512 MiB per token (1024 layers of 2^16
    wide keys and values): refused for any real context. The weights do not match this config,
    so a load that gets past the check fails with FormatError."""
    d = tmp_path / "huge"
    shutil.copytree(model_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(num_hidden_layers=1024, hidden_size=1 << 16, max_position_embeddings=1 << 24)
    (d / "config.json").write_text(json.dumps(cfg))
    return str(d)


def test_the_refusal_names_the_context_it_assumed(hfkit, tmp_path, model_dir):
    path = huge_kv_model(tmp_path, model_dir)
    with pytest.raises(hfkit.ResourceError) as info:
        hfkit.Model.from_pretrained(path, n_threads=1)
    assert "context of 4096 tokens" in str(info.value)
    with pytest.raises(hfkit.ResourceError) as info:
        hfkit.Model.from_pretrained(path, n_threads=1, n_ctx=100000)
    assert "context of 100000 tokens" in str(info.value)


def test_skip_resource_check_reaches_the_library(hfkit, tmp_path, model_dir):
    path = huge_kv_model(tmp_path, model_dir)
    with pytest.raises(hfkit.FormatError):  # past the check: the weights do not fit the config
        hfkit.Model.from_pretrained(path, n_threads=1, skip_resource_check=True)
    m = hfkit.Model.open(path, n_threads=1, skip_resource_check=True)
    with pytest.raises(hfkit.FormatError):
        m.wait()
    m.close()


def test_n_ctx_is_the_default_context_of_sessions(hfkit, model_dir):
    with hfkit.Model.from_pretrained(model_dir, n_threads=1, n_ctx=16) as model:
        with pytest.raises(hfkit.ContextFullError):
            model.generate("word " * 40, max_new_tokens=1)


def test_n_ctx_must_be_an_int(hfkit, model_dir):
    with pytest.raises(hfkit.InvalidArgumentError):
        hfkit.Model.from_pretrained(model_dir, n_ctx=2**40)
