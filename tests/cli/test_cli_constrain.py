"""`hfkit run --json-schema FILE / --grammar FILE / --regex RE` on local models: the output
validates (python3-jsonschema, re.fullmatch), a cut-short output says so (exit 1, stop_reason
constraint_incomplete), and bad constraints are usage errors naming the place."""

import json
import os
import pathlib
import re
import subprocess
import sys

import jsonschema

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from hfk_paths import SHARED_DIR, SOURCE_DIR  # noqa: E402

CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
MODEL = str(SOURCE_DIR / "models" / "aidreams260K")
GPT2 = str(SHARED_DIR / "models" / "tiny-gpt2")
USAGE = 2


def run(*args):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([CLI, "run", *args], env=env, capture_output=True, text=True, timeout=120)


def test_json_schema_file_output_validates(tmp_path):
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1,
                                                     "maximum": 99},
                                               "s": {"enum": ["x", "y"]}},
              "required": ["n", "s"], "additionalProperties": False}
    f = tmp_path / "schema.json"
    f.write_text(json.dumps(schema))
    for seed in range(5):
        p = run(GPT2, "Hi", "--json-schema", str(f), "--temperature", "1", "--seed", str(seed),
                "--json", "--quiet")
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["stop_reason"] == "eos"
        jsonschema.validate(json.loads(out["text"]), schema)


def test_grammar_file_and_regex(tmp_path):
    g = tmp_path / "yesno.gbnf"
    g.write_text('root ::= ("yes" | "no") "!"\n')
    p = run(MODEL, "Once", "--grammar", str(g), "--temperature", "1", "--seed", "3")
    assert p.returncode == 0, p.stderr
    assert p.stdout.rstrip("\n") in ("yes!", "no!")
    p = run(MODEL, "Once", "--regex", r"[a-z]{2}-\d{2}", "--json", "--quiet")
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"[a-z]{2}-\d{2}", json.loads(p.stdout)["text"])


def test_cut_short_is_reported_and_exits_1():
    p = run(MODEL, "Once", "--regex", "a{50}", "--max-tokens", "3", "--json", "--quiet")
    assert p.returncode == 1
    assert json.loads(p.stdout)["stop_reason"] == "constraint_incomplete"
    assert "incomplete" in p.stderr


def test_bad_constraints_are_usage_errors(tmp_path):
    g = tmp_path / "bad.gbnf"
    g.write_text('root ::= "a" | \nroot2 ::= [z-a]\n')
    p = run(MODEL, "Once", "--grammar", str(g))
    assert p.returncode == USAGE
    assert "line 2, column 11" in p.stderr
    p = run(MODEL, "Once", "--regex", "a", "--grammar", str(g))
    assert p.returncode == USAGE and "at most one" in p.stderr
    p = run(MODEL, "Once", "--json-schema", str(tmp_path / "missing.json"))
    assert p.returncode == USAGE and "cannot read" in p.stderr
