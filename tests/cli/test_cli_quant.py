"""Issue 18 through the command: --quant q8|q4 loads the default model quantized and generates the
unquantized model's greedy start; --kv-dtype f16|bf16 keeps its greedy text; an unknown format or
type is a usage error before any load."""

import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("HFK_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
MODEL = str(SOURCE_DIR / "models" / "aidreams260K")


def run(*args):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("quant", ["q8", "q4", "bf16"])
def test_quant_generates_the_greedy_start(quant):
    args = ("run", MODEL, "Echoes of", "--quiet", "--temperature", "0", "--max-tokens", "8")
    plain = run(*args)
    assert plain.returncode == 0, plain.stderr
    r = run(*args, "--quant", quant)
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout


def test_unknown_quant_is_a_usage_error():
    r = run("run", MODEL, "hello", "--quiet", "--quant", "q5")
    assert r.returncode != 0
    assert "--quant takes auto, f32, bf16, q8 or q4" in r.stderr, r.stderr


@pytest.mark.parametrize("kv", ["f16", "bf16", "f32"])
def test_kv_dtype_keeps_the_greedy_text(kv):
    args = ("run", MODEL, "Echoes of", "--quiet", "--temperature", "0", "--max-tokens", "24")
    plain = run(*args)
    assert plain.returncode == 0, plain.stderr
    r = run(*args, "--kv-dtype", kv)
    assert r.returncode == 0, r.stderr
    assert r.stdout == plain.stdout


def test_unknown_kv_dtype_is_a_usage_error():
    r = run("run", MODEL, "hello", "--quiet", "--kv-dtype", "q8")
    assert r.returncode != 0
    assert "--kv-dtype takes f32, f16 or bf16" in r.stderr, r.stderr
