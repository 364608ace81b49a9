"""Structured output, end to end through the C API: seeded samples from a trained model
(aidreams260K, 512 tokens), a random one with GPT-2's real 50k vocabulary (tiny-gpt2) and a
random Llama with Llama 2's byte-fallback vocabulary, constrained by JSON Schemas, regexes and
a GBNF grammar. Every sample is checked by an independent oracle: Debian's python3-jsonschema
(with its format checker), Python's re.fullmatch, Python's own parser (ast). The schemas are
bounded, so every sample must also complete within max_new_tokens."""

import ast
import json
import os
import re

import jsonschema
import pytest

from conftest import SHARED_DIR, SOURCE_DIR

SCHEMAS = [
    {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 10},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "tags": {"type": "array", "items": {"enum": ["a", "b\u00e9", "c"]}, "maxItems": 3},
        "active": {"type": "boolean"}},
     "required": ["name", "age"], "additionalProperties": False},
    {"type": "array", "items": {"type": "integer", "minimum": -50, "exclusiveMaximum": 50},
     "minItems": 1, "maxItems": 5},
    {"enum": ["red", "green", {"x": 1}, None, 3.5]},
    {"type": ["string", "null"], "format": "date"},
    {"type": "object", "properties": {
        "id": {"type": "string", "format": "uuid"},
        "score": {"type": "number", "minimum": 0, "maximum": 10}},
     "required": ["id", "score"], "additionalProperties": False},
    {"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"},
    {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 9},
               {"type": "string", "maxLength": 3}]},
    {"$defs": {"pt": {"type": "object", "properties": {"x": {"type": "integer", "minimum": -9,
                                                             "maximum": 9},
                                                       "y": {"type": "integer", "minimum": 0,
                                                             "maximum": 99}},
                      "required": ["x", "y"], "additionalProperties": False}},
     "type": "object", "properties": {"a": {"$ref": "#/$defs/pt"}, "b": {"$ref": "#/$defs/pt"},
                                      "label": {"const": "seg"}},
     "required": ["a", "b", "label"], "additionalProperties": False},
]

REGEXES = [r"[a-z]{3,8}@[a-z]{2,5}\.(com|org)", r"\d{1,3}(\.\d{1,3}){3}", r"(yes|no|maybe)!?"]

EXPR_GRAMMAR = r"""
root ::= expr
expr ::= term (("+" | "-") term){0,3}
term ::= num | "(" expr ")"
num  ::= [1-9] [0-9]{0,2}
"""


def _models(tmp_path_factory):
    llama = tmp_path_factory.mktemp("tiny-random-llama")
    src = SHARED_DIR / "models" / "tiny-random-llama"
    for name in ("config.json", "model.safetensors"):
        os.symlink(src / name, llama / name)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        os.symlink(SHARED_DIR / "tokenizers" / "llama2" / name, llama / name)
    return {
        "aidreams260K": SOURCE_DIR / "models" / "aidreams260K",
        "tiny-gpt2": SHARED_DIR / "models" / "tiny-gpt2",
        "tiny-random-llama": llama,
    }


@pytest.fixture(scope="module")
def models(hfkit, tmp_path_factory):
    loaded = {name: hfkit.Model.from_pretrained(str(path))
              for name, path in _models(tmp_path_factory).items()}
    yield loaded
    for m in loaded.values():
        m.close()


# Samples per (model, schema): thousands in all, seconds on the tiny models.
SAMPLES = {"aidreams260K": 40, "tiny-gpt2": 30, "tiny-random-llama": 10}


def _run(session, n, **options):
    out = []
    for seed in range(n):
        session.reset()  # each sample from the start (the compiled constraint stays cached)
        r = session.generate_result("", temperature=1.0, seed=seed, max_new_tokens=120,
                                    **options)
        out.append(r)
    return out


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_json_schema_samples_validate(models, name):
    model = models[name]
    checker = jsonschema.FormatChecker()
    with model.session() as s:
        for schema in SCHEMAS:
            validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
            for r in _run(s, SAMPLES[name], json_schema=schema):
                assert r.stop_reason == "eos", (schema, r.text, r.stop_reason)
                value = json.loads(r.text)
                errors = [e.message for e in validator.iter_errors(value)]
                assert not errors, (schema, r.text, errors)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_regex_and_grammar_samples_match(models, name):
    model = models[name]
    with model.session() as s:
        for pattern in REGEXES:
            for r in _run(s, SAMPLES[name], regex=pattern):
                assert r.stop_reason == "eos", (pattern, r.text)
                assert re.fullmatch(pattern, r.text), (pattern, r.text)
        for r in _run(s, SAMPLES[name], grammar=EXPR_GRAMMAR):
            assert r.stop_reason == "eos", r.text
            tree = ast.parse(r.text, mode="eval")  # Python's parser agrees it is an expression
            assert isinstance(tree.body, (ast.BinOp, ast.Constant)), r.text


def test_any_json_value_parses_or_says_incomplete(models):
    with models["tiny-gpt2"].session() as s:
        results = _run(s, 40, json_schema={})
    complete = [r for r in results if r.stop_reason != "constraint_incomplete"]
    assert complete, "no sample completed"
    for r in results:
        if r.stop_reason == "constraint_incomplete":
            continue
        assert r.stop_reason in ("eos", "max_tokens"), r.stop_reason
        json.loads(r.text)


def test_a_constraint_cut_short_has_its_own_stop_reason(models, hfkit):
    schema = {"type": "string", "minLength": 40}
    r = models["aidreams260K"].generate_result("", json_schema=schema, max_new_tokens=5)
    assert r.stop_reason == "constraint_incomplete"
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    # Unconstrained, the same budget is simply max_tokens.
    r = models["aidreams260K"].generate_result("", max_new_tokens=5, ignore_eos=True)
    assert r.stop_reason == "max_tokens"


def test_greedy_constrained_output_is_deterministic_and_streams_the_same_text(models):
    m = models["tiny-gpt2"]
    a = m.generate_result("Hi", json_schema=SCHEMAS[0])
    b = m.generate_result("Hi", json_schema=SCHEMAS[0])
    assert a.text == b.text and a.stop_reason == "eos"
    assert "".join(m.stream("Hi", json_schema=SCHEMAS[0])) == a.text


def test_bad_constraints_are_invalid_argument_naming_the_place(models, hfkit):
    m = models["aidreams260K"]
    with pytest.raises(hfkit.InvalidArgumentError, match=r"#/properties/a/multipleOf"):
        m.generate("", json_schema={"type": "object",
                                    "properties": {"a": {"type": "integer", "multipleOf": 2}}})
    with pytest.raises(hfkit.InvalidArgumentError, match=r"line 2, column 7"):
        m.generate("", grammar='root ::= "a"\nx ::= [b-a]')
    with pytest.raises(hfkit.InvalidArgumentError, match=r"offset 1"):
        m.generate("", regex="a)")
    with pytest.raises(TypeError, match="at most one"):
        m.generate("", regex="a", grammar='root ::= "a"')
    # The model still works after a refused constraint.
    assert m.generate_result("", regex="ok", max_new_tokens=10).text == "ok"
