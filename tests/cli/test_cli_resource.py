"""Issue 15 item 1 through the command: --ctx-size reaches the memory check (the refusal names
the context it assumed) and --skip-resource-check turns the check off."""

import json
import os
import pathlib
import shutil
import subprocess

SOURCE_DIR = pathlib.Path(os.environ.get("HFK_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))


def huge_kv_model(tmp_path):
    """The default model with a config whose KV cache is 512 MiB per token (1024 layers of 2^16
    wide keys and values). Its weights do not match this config: past the check, the load fails
    on the weights instead."""
    d = tmp_path / "huge"
    shutil.copytree(SOURCE_DIR / "models" / "aidreams260K", d)
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(num_hidden_layers=1024, hidden_size=1 << 16, max_position_embeddings=1 << 24)
    (d / "config.json").write_text(json.dumps(cfg))
    return str(d)


def run(*args):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_ctx_size_reaches_the_memory_check(tmp_path):
    model = huge_kv_model(tmp_path)
    r = run("run", model, "hello", "--quiet")
    assert r.returncode != 0
    assert "context of 4096 tokens" in r.stderr, r.stderr
    assert "--skip-resource-check" in r.stderr, r.stderr
    r = run("run", model, "hello", "--quiet", "--ctx-size", "100000")
    assert r.returncode != 0
    assert "context of 100000 tokens" in r.stderr, r.stderr


def test_skip_resource_check_turns_the_check_off(tmp_path):
    model = huge_kv_model(tmp_path)
    r = run("run", model, "hello", "--quiet", "--skip-resource-check")
    assert r.returncode != 0  # the weights do not match the config
    assert "needs about" not in r.stderr, r.stderr
    assert "safetensors" in r.stderr or "shape" in r.stderr, r.stderr
    assert "--skip-resource-check" in run("run", "--help").stdout
