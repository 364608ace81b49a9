"""Structured output through `hfkit serve`'s response_format, driven by the official OpenAI
SDK: every reply the server calls complete ("stop") parses and validates against its schema
with an independent validator (Debian's python3-jsonschema), over many seeds with sampling on,
in chat (plain and streamed, and the SDK's beta parse helper) and text completions. A reply cut
by max_tokens is "length" (the SDK's parse helper then raises, as with OpenAI), and a schema
the library cannot express is a 400 naming the parameter, streamed or not (more bad values, sent
raw, in test_server_bad_formats.py)."""

import json

import jsonschema
import pytest

from conftest import SHARED_DIR, Server, node_script, wait_ready

KEY = "k-structured"
# Random weights, the real GPT-2 vocabulary (50257 tokens, many spanning several JSON symbols)
# and a 1024-token context: room for any reply the schema allows.
CHAT_MODEL = str(SHARED_DIR / "models" / "tiny-gpt2")
# Every string, number and array is bounded, and the grammar's whitespace is at most one
# space, so a complete reply is at most a few hundred bytes: MAX_TOKENS (one byte per token at
# worst) always suffices, and every reply must end "stop".
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "mood": {"enum": ["happy", "sad", "calm"]},
        "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "minItems": 1,
                 "maxItems": 3},
        "pet": {"anyOf": [{"$ref": "#/$defs/pet"}, {"type": "null"}]},
        "ok": {"type": "boolean"},
    },
    "required": ["name", "age", "mood", "tags", "pet", "ok"],
    "additionalProperties": False,
    "$defs": {
        "tag": {"type": "string", "pattern": "^[a-z]{1,5}$"},
        "pet": {"type": "object",
                "properties": {"kind": {"const": "cat"},
                               "legs": {"type": "integer", "minimum": 0, "maximum": 4}},
                "required": ["kind", "legs"], "additionalProperties": False},
    },
}
MAX_TOKENS = 600
SEEDS = list(range(1, 21))
UNSUPPORTED = {"type": "object", "patternProperties": {"^x": {"type": "string"}}}


@pytest.fixture(scope="module")
def results(template_file):
    server = Server([CHAT_MODEL, "--chat-template", str(template_file), "--api-key", KEY,
                     "--parallel", "2", "--threads", "1"])
    try:
        wait_ready(server)
        out = node_script("structured_client.mjs", {
            "baseURL": server.url, "apiKey": KEY, "model": CHAT_MODEL, "schema": SCHEMA,
            "seeds": SEEDS, "maxTokens": MAX_TOKENS, "unsupportedSchema": UNSUPPORTED})
    finally:
        status = server.stop()
    assert status == 0, server.stderr
    return out


def validate(content):
    value = json.loads(content)
    jsonschema.Draft202012Validator(SCHEMA).validate(value)
    return value


def test_chat_replies_validate_over_many_seeds(results):
    replies = results["chat"]
    assert [r["seed"] for r in replies] == SEEDS
    for r in replies:
        assert r["finish"] == "stop", r
        validate(r["content"])
    # Sampling is on: the seeds give different objects.
    assert len({r["content"] for r in replies}) > len(replies) // 2


def test_streamed_replies_validate(results):
    for r in results["chat_stream"]:
        assert r["finish"] == "stop", r
        validate(r["content"])
    # A stream carries the same text as the plain reply with the same seed.
    plain = {r["seed"]: r["content"] for r in results["chat"]}
    for r in results["chat_stream"]:
        assert r["content"] == plain[r["seed"]]


def test_text_completions_validate(results):
    for r in results["completion"]:
        assert r["finish"] == "stop", r
        validate(r["content"])


def test_json_object_is_an_object(results):
    replies = results["json_object"]
    assert len(replies) == 8
    for r in replies:
        assert r["content"].lstrip().startswith("{"), r  # an object's prefix, even when cut
        if r["finish"] == "stop":
            assert isinstance(json.loads(r["content"]), dict), r
        else:
            assert r["finish"] == "length", r
    # Fixed seeds give fixed samples: at least one of them completes.
    assert any(r["finish"] == "stop" for r in replies)


def test_sdk_parse_helper(results):
    assert results["has_parse"], "openai 4.104.0 has beta.chat.completions.parse"
    parsed = results["parsed"]
    assert parsed["parsed"] == validate(parsed["content"])
    assert results["parse_cut"] == {"error": "LengthFinishReasonError"}


def test_cut_by_max_tokens_is_length(results):
    cut = results["cut"]
    assert cut["finish"] == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut["content"])


def test_unsupported_schema_is_400_naming_the_parameter(results):
    for key in ("unsupported", "unsupported_stream"):
        err = results[key]
        assert err["status"] == 400, err
        assert err["param"] == "response_format.json_schema.schema", err
        assert "patternProperties" in err["message"], err
