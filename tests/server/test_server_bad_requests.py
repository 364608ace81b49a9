"""Bad requests against `hfkit serve`, sent raw (http.client and sockets): each gets its HTTP
status and an OpenAI-shaped JSON error naming the parameter, never a 500, and the server keeps
serving after every one of them."""

import http.client
import json
import socket

import pytest

from conftest import CHAT_MODEL, Server, wait_ready

KEY = "k-bad-requests"
MAX_BODY = 200000  # room for the 10,000 stop strings, which the parser must refuse


@pytest.fixture(scope="module")
def server(template_file):
    s = Server([CHAT_MODEL, "--chat-template", str(template_file), "--api-key", KEY,
                "--max-body", str(MAX_BODY), "--read-timeout", "1", "--threads", "1"])
    wait_ready(s)
    yield s
    assert s.stop() == 0, s.stderr


def post(server, path, body, key=KEY, headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    h.update(headers or {})
    conn.request("POST", path, body=body if isinstance(body, bytes) else json.dumps(body).encode(),
                 headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def chat_body(**extra):
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hello"}],
            "max_tokens": 4, "temperature": 0}
    body.update(extra)
    return body


def assert_error(status, data, want_status, param=None, code=None):
    assert status == want_status, (status, data)
    err = json.loads(data)["error"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str)
    if param is not None:
        assert err["param"] == param, err
    if code is not None:
        assert err["code"] == code, err
    return err


def assert_still_serving(server):
    status, data = post(server, "/v1/chat/completions", chat_body())
    assert status == 200, data
    assert json.loads(data)["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize("body, param", [
    (b'{"model": "x", "messages": [', None),                    # truncated JSON
    (b'not json at all', None),
    (b'[1, 2, 3]', None),                                        # not an object
    (b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}', None),  # invalid UTF-8
    (b'{"messages": "Hello"}', "messages"),
    (b'{"messages": []}', "messages"),
    (b'{}', "messages"),
    (b'{"messages": [{"content": "hi"}]}', "messages[0].role"),
    (b'{"messages": [{"role": "user", "content": 5}]}', "messages[0].content"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": "5"}', "max_tokens"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": -1}', "max_tokens"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e30}', "max_tokens"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 0}',
     "max_completion_tokens"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "temperature": true}', "temperature"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "temperature": -0.5}', "temperature"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "top_p": 0}', "top_p"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "presence_penalty": 3}',
     "presence_penalty"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "seed": "one"}', "seed"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "stop": 5}', "stop"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "stop": [""]}', "stop"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}', "stream"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "n": 2}', "n"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "model": 7}', "model"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "tools": {}}', "tools"),
])
def test_bad_chat_bodies_are_400(server, body, param):
    status, data = post(server, "/v1/chat/completions", body)
    assert_error(status, data, 400, param=param)


def test_ten_thousand_stop_strings(server):
    status, data = post(server, "/v1/chat/completions",
                        chat_body(stop=[f"s{i}" for i in range(10000)]))
    assert "10000" in assert_error(status, data, 400, param="stop")["message"]
    assert_still_serving(server)


def test_deep_nesting(server):
    body = b'{"messages": [{"role": "user", "content": "hi"}], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, data = post(server, "/v1/chat/completions", body)
    assert "nests deeper" in assert_error(status, data, 400)["message"]
    assert_still_serving(server)


def test_completion_and_embedding_bodies(server):
    assert_error(*post(server, "/v1/completions", {"prompt": 5}), 400, param="prompt")
    assert_error(*post(server, "/v1/completions", {"prompt": "a", "echo": True}), 400, param="echo")
    assert_error(*post(server, "/v1/completions", {"prompt": "a", "max_tokens": -3}), 400,
                 param="max_tokens")
    assert_error(*post(server, "/v1/embeddings", {"input": [1, 2, 3]}), 400, param="input")
    # The chat model is a generator: embeddings on it are the client's mistake.
    assert_error(*post(server, "/v1/embeddings", {"input": "hi"}), 400, param="model")


def test_prompt_longer_than_context(server):
    # aidreams260K has 128 positions; one token per "a " at least.
    status, data = post(server, "/v1/completions", {"prompt": "a " * 400, "max_tokens": 2})
    assert_error(status, data, 400, param="prompt", code="context_length_exceeded")
    assert_still_serving(server)


def test_unknown_model_is_404(server):
    status, data = post(server, "/v1/chat/completions", chat_body(model="nope/nothing"))
    assert_error(status, data, 404, param="model", code="model_not_found")


def test_unknown_route_is_404_json(server):
    status, data = post(server, "/v1/nothing", {})
    assert_error(status, data, 404)


def test_missing_and_wrong_key_are_401(server):
    assert_error(*post(server, "/v1/chat/completions", chat_body(), key=None), 401,
                 code="invalid_api_key")
    assert_error(*post(server, "/v1/chat/completions", chat_body(), key=KEY + "x"), 401)
    assert_error(*post(server, "/v1/chat/completions", chat_body(), key=KEY[:-1]), 401)
    assert_error(*post(server, "/v1/chat/completions", chat_body(),
                       headers={"Authorization": "Basic " + KEY}), 401)
    # /health stays open (probes carry no key); /metrics does not.
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200
    conn.close()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    assert r.status == 401
    r.read()
    conn.close()
    assert_still_serving(server)


def test_huge_body_is_413(server):
    body = json.dumps(chat_body(messages=[{"role": "user", "content": "x" * (MAX_BODY * 2)}]))
    status, data = post(server, "/v1/chat/completions", body.encode())
    assert_error(status, data, 413)
    assert_still_serving(server)


def test_slowloris_partial_headers(server):
    """A client that sends half a request and then nothing is dropped after the read timeout;
    meanwhile, and afterwards, everyone else is served."""
    slow = socket.create_connection((server.host, server.port), timeout=60)
    slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le")
    assert_still_serving(server)
    # The server closes the connection (recv returns b"" or the reset): no reply was owed.
    try:
        rest = slow.recv(65536)
    except ConnectionResetError:
        rest = b""
    assert rest == b"" or rest.startswith(b"HTTP/1.1 4"), rest
    slow.close()
    assert_still_serving(server)


def test_oversized_header_is_refused(server):
    s = socket.create_connection((server.host, server.port), timeout=60)
    s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    s.close()
    # cpp-httplib refuses a header line over 8 KiB: either a 4xx or a closed connection,
    # never the models list.
    assert b"\"object\"" not in data
    assert data == b"" or data.startswith(b"HTTP/1.1 4"), data[:200]
    assert_still_serving(server)
