"""Runs a consumer program and compares its stdout with the reference greedy text.

Usage: run_and_compare.py MODEL_DIR FORWARD_JSON N [--env K=V ...] -- COMMAND ARGS...
The expected text is the first N reference ids decoded by reference_text.py (no hfkit
involved). Exit 0 when stdout equals it exactly; otherwise prints both and exits 1.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_text import decode  # noqa: E402


def main() -> int:
    sep = sys.argv.index("--")
    model_dir, forward, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    env = dict(os.environ)
    opts = sys.argv[4:sep]
    while opts:
        if opts[0] != "--env" or len(opts) < 2:
            raise SystemExit(f"bad option {opts[0]}")
        key, _, value = opts[1].partition("=")
        env[key] = value
        opts = opts[2:]
    cmd = sys.argv[sep + 1:]
    with open(f"{model_dir}/tokenizer.json", encoding="utf-8") as f:
        expected = decode(json.load(f), json.load(open(forward))["greedy"][:n])
    r = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
    got = r.stdout.decode("utf-8", errors="replace")
    sys.stderr.write(r.stderr.decode("utf-8", errors="replace"))
    if r.returncode != 0:
        print(f"FAIL: {cmd[0]} exited {r.returncode}")
        return 1
    if got != expected:
        print(f"FAIL: output differs from the reference\n  got:      {got!r}\n  expected: {expected!r}")
        return 1
    print(f"ok: {os.path.basename(cmd[0])} printed the reference text ({n} tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
