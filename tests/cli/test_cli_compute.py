"""Issue 22 through the command: --compute bf16 with BF16 weights (--quant bf16) keeps the
greedy text of the exact mode on the trained default model (prompts of more than four tokens:
the prefill runs in BF16), with `run` and `chat`; an unknown mode is a usage error before any
load."""

import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("HFK_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
MODEL = str(SOURCE_DIR / "models" / "aidreams260K")
PROMPT = "Once upon a time, there was a little girl named Lily. She"


def run(*args, stdin=None):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120,
                          input=stdin)


@pytest.mark.parametrize("quant", ["bf16", "auto"])
def test_bf16_compute_keeps_the_greedy_text(quant):
    args = ("run", MODEL, PROMPT, "--quiet", "--temperature", "0", "--max-tokens", "24",
            "--quant", quant)
    exact = run(*args)
    assert exact.returncode == 0, exact.stderr
    r = run(*args, "--compute", "bf16")
    assert r.returncode == 0, r.stderr
    assert r.stdout == exact.stdout
    assert run(*args, "--compute", "f32").stdout == exact.stdout


def test_unknown_compute_is_a_usage_error():
    for cmd in ("run", "chat"):
        r = run(cmd, MODEL, "hello", "--quiet", "--compute", "fp16") if cmd == "run" else run(
            cmd, MODEL, "--compute", "fp16", stdin="")
        assert r.returncode != 0
        assert "--compute takes f32 or bf16, got 'fp16'" in r.stderr, (cmd, r.stderr)
