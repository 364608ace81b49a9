"""keep_alive: `hfkit serve --keep-alive SEC` unloads a model idle for SEC seconds, a
request's `keep_alive` (ollama's: seconds or "30s"/"5m"/"1h", negative = for good) overrides it
for its model, and the next request loads the model again. /health and /metrics show it. No
sleeps as synchronisation: /health is polled with a deadline."""

import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import CHAT_MODEL, CLI, Server, hfkit_run_json, wait_ready

DEADLINE_S = 60


def get(server, path):
    try:
        with urllib.request.urlopen(server.url + path, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(server, path, body):
    req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def health(server):
    status, body = get(server, "/health")
    return status, json.loads(body)["models"][0]


def poll_until(server, predicate):
    """/health until predicate(model entry) holds; every answer on the way must be 200 (an
    unloaded model is available: the next request loads it)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        status, model = health(server)
        assert status == 200, model
        if predicate(model):
            return model
        time.sleep(0.02)  # polling interval, not synchronisation: the deadline decides
    raise AssertionError(f"/health never showed the expected state: {model}")


def completion(server, **extra):
    return post(server, "/v1/completions", {"model": CHAT_MODEL, "prompt": "Once upon a time",
                                            "max_tokens": 6, "temperature": 0, **extra})


def metric(server, name):
    _, text = get(server, "/metrics")
    m = re.search(r"^" + re.escape(name) + r"\{model=\"[^\"]*\"\} (\d+)$", text, re.M)
    assert m, text
    return int(m.group(1))


@pytest.fixture(scope="module")
def oracle():
    return hfkit_run_json(CHAT_MODEL, "Once upon a time", "--max-tokens", "6",
                          "--temperature", "0")["text"]


def test_idle_model_is_unloaded_and_reloaded(oracle):
    server = Server([CHAT_MODEL, "--keep-alive", "0.3", "--threads", "1"])
    try:
        wait_ready(server)
        first = poll_until(server, lambda m: m["state"] == "unloaded")
        assert first["unloads"] >= 1 and first["loads"] == 1
        assert metric(server, "hfkit_model_unloads_total") >= 1
        _, text = get(server, "/metrics")
        assert re.search(r'^hfkit_model_ready\{model="[^"]*",state="unloaded"\} 0$', text, re.M)
        # The next request loads it again and answers as before.
        status, body = completion(server)
        assert status == 200, body
        assert body["choices"][0]["text"] == oracle
        again = poll_until(server, lambda m: m["loads"] == 2 and m["state"] == "unloaded")
        assert again["unloads"] >= 2
        assert metric(server, "hfkit_model_loads_total") == 2
    finally:
        status = server.stop()
    assert status == 0, server.stderr


def test_request_keep_alive_zero_unloads_after_the_request(oracle):
    server = Server([CHAT_MODEL, "--threads", "1"])  # default: never unloads
    try:
        wait_ready(server)
        status, model = health(server)
        assert model["state"] == "ready" and model["unloads"] == 0
        status, body = completion(server, keep_alive=0)
        assert status == 200 and body["choices"][0]["text"] == oracle, body
        poll_until(server, lambda m: m["state"] == "unloaded" and m["unloads"] == 1)
        # A duration string, as ollama takes it; "-1" keeps it loaded for good.
        status, body = completion(server, keep_alive="0s")
        assert status == 200 and body["choices"][0]["text"] == oracle, body
        poll_until(server, lambda m: m["state"] == "unloaded" and m["unloads"] == 2)
        status, body = completion(server, keep_alive=-1)
        assert status == 200, body
        assert health(server)[1]["loads"] == 3
    finally:
        status = server.stop()
    assert status == 0, server.stderr


@pytest.fixture(scope="module")
def plain_server():
    server = Server([CHAT_MODEL, "--threads", "1"])
    wait_ready(server)
    yield server
    assert server.stop() == 0, server.stderr


@pytest.mark.parametrize("value", ["soon", "5d", [], True, "nan"])
def test_bad_keep_alive_is_400(plain_server, value):
    status, body = completion(plain_server, keep_alive=value)
    assert status == 400, body
    assert body["error"]["param"] == "keep_alive"


@pytest.mark.parametrize("value", ["-1", "x", ""])
def test_bad_keep_alive_option_is_a_usage_error(value):
    out = subprocess.run([CLI, "serve", CHAT_MODEL, "--keep-alive", value, "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert "--keep-alive" in out.stderr


def test_unloads_racing_with_requests_lose_none(oracle):
    """Clients that each ask for an unload right after their request (keep_alive 0) race with
    one another's loads: every request still gets the same greedy answer."""
    from concurrent.futures import ThreadPoolExecutor
    server = Server([CHAT_MODEL, "--threads", "1", "--parallel", "2"])
    try:
        wait_ready(server)
        with ThreadPoolExecutor(6) as pool:
            replies = list(pool.map(lambda _: completion(server, keep_alive=0), range(24)))
        for status, body in replies:
            assert status == 200, body
            assert body["choices"][0]["text"] == oracle
        model = poll_until(server, lambda m: m["state"] == "unloaded" and m["busy"] == 0)
        assert model["unloads"] >= 1 and model["loads"] == model["unloads"]
    finally:
        status = server.stop()
    assert status == 0, server.stderr
