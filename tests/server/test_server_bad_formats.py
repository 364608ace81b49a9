"""Bad response_format, logprobs and keep_alive values sent raw to `hfkit serve` (no SDK,
which checks some itself): each is a 400 naming the parameter, never a 500, streamed or not;
and one constrained reply, so the sanitizer builds see the whole path (the SDK-driven checks
over many seeds are in test_server_structured.py, release only)."""

import json
import urllib.error
import urllib.request

import jsonschema
import pytest

from conftest import SHARED_DIR, Server, wait_ready

CHAT_MODEL = str(SHARED_DIR / "models" / "tiny-gpt2")
UNSUPPORTED = {"type": "object", "patternProperties": {"^x": {"type": "string"}}}
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9}},
          "required": ["n"], "additionalProperties": False}


@pytest.fixture(scope="module")
def server(template_file):
    s = Server([CHAT_MODEL, "--chat-template", str(template_file), "--threads", "1"])
    wait_ready(s)
    yield s
    assert s.stop() == 0, s.stderr


def post(server, path, body):
    req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


CHAT = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
FORMAT = {"type": "json_schema", "json_schema": {"name": "x", "schema": UNSUPPORTED}}


@pytest.mark.parametrize("path,extra,param", [
    ("/v1/chat/completions", {"response_format": "json"}, "response_format"),
    ("/v1/chat/completions", {"response_format": {"type": "xml"}}, "response_format.type"),
    ("/v1/chat/completions", {"response_format": {}}, "response_format.type"),
    ("/v1/chat/completions", {"response_format": {"type": "json_schema"}},
     "response_format.json_schema"),
    ("/v1/chat/completions",
     {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": 3}}},
     "response_format.json_schema.schema"),
    ("/v1/chat/completions",
     {"response_format": {"type": "json_schema", "json_schema": {"name": 5, "schema": {}}}},
     "response_format.json_schema.name"),
    ("/v1/chat/completions",
     {"response_format": {"type": "json_schema",
                          "json_schema": {"name": "x", "schema": {}, "strict": "yes"}}},
     "response_format.json_schema.strict"),
    ("/v1/chat/completions",
     {"response_format": {"type": "json_schema",
                          "json_schema": {"name": "x", "schema": {"$ref": "#/$defs/none"}}}},
     "response_format.json_schema.schema"),
    ("/v1/chat/completions", {"response_format": FORMAT}, "response_format.json_schema.schema"),
    ("/v1/chat/completions", {"response_format": FORMAT, "stream": True},
     "response_format.json_schema.schema"),
    ("/v1/completions", {"response_format": FORMAT}, "response_format.json_schema.schema"),
    ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ("/v1/chat/completions", {"logprobs": True, "top_logprobs": -1}, "top_logprobs"),
    ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 2.5}, "top_logprobs"),
    ("/v1/chat/completions", {"top_logprobs": 2}, "top_logprobs"),
    ("/v1/chat/completions", {"logprobs": 2}, "logprobs"),
    ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 21, "stream": True},
     "top_logprobs"),
    ("/v1/completions", {"logprobs": 21}, "logprobs"),
    ("/v1/completions", {"logprobs": True}, "logprobs"),
    ("/v1/completions", {"logprobs": 2, "top_logprobs": 2}, "top_logprobs"),
    ("/v1/chat/completions", {"keep_alive": "soon"}, "keep_alive"),
    ("/v1/completions", {"keep_alive": [1]}, "keep_alive"),
])
def test_bad_value_is_400_naming_it(server, path, extra, param):
    body = dict(CHAT) if path == "/v1/chat/completions" else {
        "model": CHAT_MODEL, "prompt": "Hi", "max_tokens": 4}
    status, reply = post(server, path, {**body, **extra})
    assert status == 400, reply
    assert reply["error"]["param"] == param, reply
    assert reply["error"]["type"] == "invalid_request_error", reply


def test_a_constrained_reply_validates(server):
    status, reply = post(server, "/v1/chat/completions", {
        **CHAT, "max_tokens": 40, "temperature": 1, "seed": 1, "logprobs": True,
        "top_logprobs": 2,
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": "n", "schema": SCHEMA, "strict": True}}})
    assert status == 200, reply
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "stop", choice
    jsonschema.validate(json.loads(choice["message"]["content"]), SCHEMA)
    assert len(choice["logprobs"]["content"]) == reply["usage"]["completion_tokens"]


def test_text_format_is_unconstrained(server):
    status, reply = post(server, "/v1/chat/completions",
                         {**CHAT, "temperature": 0, "response_format": {"type": "text"}})
    assert status == 200, reply
    assert reply["choices"][0]["finish_reason"] == "length"
