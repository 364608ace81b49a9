"""A client that hangs up on a NON-streaming request cancels its generation (streams already
did): the server notices at the next generated piece, stops, counts the request as 499 and
the generation as cancelled. The client sends its request and closes the socket at once, so the
server finds the connection closed at its first piece; /metrics is polled with a deadline."""

import json
import re
import socket
import time
import urllib.request

import pytest

from conftest import CHAT_MODEL, Server, hfkit_run_json, wait_ready

MAX_TOKENS = 100


def metrics(server):
    with urllib.request.urlopen(server.url + "/metrics", timeout=30) as r:
        return r.read().decode()


def value(text, pattern):
    m = re.search(r"^" + pattern + r" (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def poll_metric(server, pattern, want, deadline_s=60):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        text = metrics(server)
        if value(text, pattern) == want:
            return text
        time.sleep(0.02)  # polling interval; the deadline decides
    raise AssertionError(f"{pattern} never reached {want}:\n{text}")


def request_bytes(server):
    body = json.dumps({"model": CHAT_MODEL, "prompt": "Once upon a time",
                       "max_tokens": MAX_TOKENS, "temperature": 0}).encode()
    return (f"POST /v1/completions HTTP/1.1\r\nHost: {server.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.fixture(scope="module")
def server():
    # The greedy reply runs to MAX_TOKENS (no EOS before), so a full generation is unmistakable.
    oracle = hfkit_run_json(CHAT_MODEL, "Once upon a time", "--max-tokens", str(MAX_TOKENS),
                            "--temperature", "0")
    assert oracle["n_generated_tokens"] == MAX_TOKENS, oracle
    s = Server([CHAT_MODEL, "--threads", "1"])
    wait_ready(s)
    yield s
    assert s.stop() == 0, s.stderr


def test_hangup_cancels_a_non_streaming_request(server):
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(request_bytes(server))
    text = poll_metric(server, r'hfkit_requests_total\{endpoint="/v1/completions",status="499"\}',
                       1)
    assert value(text, "hfkit_cancelled_total") == 1
    assert value(text, "hfkit_completion_tokens_total") < MAX_TOKENS
    # A client that stays gets the whole reply.
    with socket.create_connection((server.host, server.port), timeout=60) as sock:
        sock.sendall(request_bytes(server))
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(65536)
        head, body = reply.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        while len(body) < length:
            body += sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head
    body = json.loads(body)
    assert body["usage"]["completion_tokens"] == MAX_TOKENS
    text = poll_metric(server, r'hfkit_requests_total\{endpoint="/v1/completions",status="200"\}',
                       1)
    assert value(text, "hfkit_cancelled_total") == 1
