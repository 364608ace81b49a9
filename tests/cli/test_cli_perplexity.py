"""`hfkit perplexity` on the command line (issue 20): output shapes and exit codes. Its numbers
are checked against torch in tests/model/zoo/test_perplexity_torch.py."""

import json
import math
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from hfk_paths import SOURCE_DIR  # noqa: E402

CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
MODEL = str(SOURCE_DIR / "models" / "aidreams260K")


def run(*args):
    return subprocess.run([CLI, "perplexity", *args], capture_output=True, text=True)


def test_json_and_plain_output(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("Once upon a time, there was a little girl. She liked to play.")
    r = run(MODEL, str(f), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["n_scored"] == d["n_tokens"] > 5 and d["n_chunks"] == 1
    assert math.isclose(d["perplexity"], math.exp(d["nll"]), rel_tol=1e-9)
    assert d["perplexity"] > 1
    plain = run(MODEL, str(f))
    assert plain.returncode == 0 and plain.stdout.startswith("perplexity ")


def test_errors_have_their_exit_codes(tmp_path):
    assert run(MODEL).returncode == 2
    assert run(MODEL, str(tmp_path / "absent.txt")).returncode == 3
    f = tmp_path / "t.txt"
    f.write_text("Once upon a time")
    assert run(MODEL, str(f), "--ctx", "1").returncode == 2
    assert run(MODEL, str(f), "--ctx", "100000").returncode == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert run(MODEL, str(empty), "--no-bos").returncode == 2
