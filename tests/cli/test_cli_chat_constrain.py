"""`hfkit chat --json-schema FILE / --grammar FILE / --regex RE` constrain every assistant turn,
as `hfkit run` does its one reply: each reply of a multi-turn chat validates against the schema
(python3-jsonschema) or matches the grammar / regex in full."""

import json
import os
import pathlib
import re
import subprocess

import jsonschema

SOURCE_DIR = pathlib.Path(os.environ.get("HFK_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
SHARED_DIR = pathlib.Path(os.environ.get("HFK_SHARED_DIR", SOURCE_DIR.parent / "shared"))
MODEL = str(SOURCE_DIR / "models" / "aidreams260K")
# Random weights, GPT-2's vocabulary and a 1024-token context: room for three JSON turns
# (aidreams260K's context is 128 tokens).
GPT2 = str(SHARED_DIR / "models" / "tiny-gpt2")
USAGE = 2
# aidreams260K has no chat template: Q:/A: turns (as tests/server does).
TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}\n"
            "{% elif m.role == 'user' %}Q: {{ m.content }}\n{% else %}A:{{ m.content }}</s>\n"
            "{% endif %}{% endfor %}{% if add_generation_prompt %}A:{% endif %}")
SCHEMA = {"type": "object",
          "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 99},
                         "s": {"enum": ["x", "y"]},
                         "w": {"type": "string", "maxLength": 6}},
          "required": ["n", "s", "w"], "additionalProperties": False}
LINES = ["Hello", "And again?", "Once more"]


def chat(args, lines=LINES, model=MODEL):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    r = subprocess.run([CLI, "chat", model, "--threads", "1", *args],
                       input="".join(l + "\n" for l in lines) + "/quit\n", env=env,
                       capture_output=True, text=True, timeout=120)
    return r


def replies(r, n=len(LINES)):
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = r.stdout
    # "> " REPLY "\n" per turn, then the last prompt "> "
    assert out.startswith("> ") and out.endswith("\n> "), out
    got = out[2:-3].split("\n> ")
    assert len(got) == n, out
    return got


def test_every_templated_turn_validates_against_the_schema(tmp_path):
    tpl = tmp_path / "qa.jinja"
    tpl.write_text(TEMPLATE)
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    for seed in range(2):
        r = chat(["--chat-template", str(tpl), "--json-schema", str(schema), "--temperature",
                  "1", "--seed", str(seed), "--max-tokens", "200"], model=GPT2)
        for reply in replies(r):
            jsonschema.validate(json.loads(reply), SCHEMA)
        assert "incomplete" not in r.stderr


def test_every_plain_turn_matches_the_regex_and_grammar(tmp_path):
    r = chat(["--no-template", "--regex", r"[a-z]{2}-\d{2}", "--temperature", "1", "--seed", "5"])
    for reply in replies(r):
        assert re.fullmatch(r"[a-z]{2}-\d{2}", reply), reply
    g = tmp_path / "yesno.gbnf"
    g.write_text('root ::= ("yes" | "no") "!"\n')
    r = chat(["--no-template", "--grammar", str(g), "--temperature", "1", "--seed", "2"])
    for reply in replies(r):
        assert reply in ("yes!", "no!"), reply


def test_a_cut_short_turn_is_reported_and_the_chat_goes_on():
    r = chat(["--no-template", "--regex", "a{50}", "--max-tokens", "3"], lines=["Hi", "Hi"])
    assert len(replies(r, 2)) == 2
    assert r.stderr.count("incomplete") == 2, r.stderr


def test_constraint_usage_errors(tmp_path):
    r = chat(["--regex", "a", "--grammar", str(tmp_path / "g.gbnf")])
    assert r.returncode == USAGE and "at most one" in r.stderr, r.stderr
    r = chat(["--json-schema", str(tmp_path / "missing.json")])
    assert r.returncode == USAGE and "cannot read" in r.stderr, r.stderr
