"""`hfkit serve` over time: model states in /health, the bounded queue (503 when full), a
client hanging up mid-stream (its generation stops), /metrics, and SIGTERM (running requests
finish, or are cancelled after --shutdown-timeout; exit 0)."""

import http.client
import json
import time

from conftest import CHAT_MODEL, Server, get, hfkit_run_json, metrics, post, wait_ready

LONG = 1900  # tokens: tiny-random-llama never says EOS from "Hello" and takes seconds for this


def open_stream(server, body):
    """Starts a streamed request; returns the connection and response after its first event."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
    conn.request("POST", "/v1/completions", body=json.dumps({**body, "stream": True}).encode(),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("text/event-stream")
    first = r.readline()
    assert first.startswith(b"data: {"), first
    return conn, r, first


def read_events(r, first=b""):
    """Reads the rest of an SSE stream: the data payloads, in order."""
    text = first + r.read()
    return [line[len(b"data: "):].decode() for line in text.split(b"\n")
            if line.startswith(b"data: ")]


def wait_idle(server, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = metrics(server)
        if m["hfkit_requests_in_flight"] == 0:
            return m
        time.sleep(0.05)
    raise AssertionError("requests still in flight")


def test_health_reports_model_states(tmp_path, template_file):
    missing = str(tmp_path / "no-such-model")
    s = Server([missing, CHAT_MODEL, "--chat-template", str(template_file)])
    try:
        # The first model loads at start, and fails: /health stays 503 and says why.
        deadline = time.monotonic() + 60
        while True:
            status, data = get(s, "/health")
            health = json.loads(data)
            if health["models"][0]["state"] == "failed" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == 503
        assert health["status"] == "unavailable"
        assert health["models"][0]["state"] == "failed" and health["models"][0]["error"]
        assert health["models"][1]["state"] == "not_loaded"  # loads on first use
        status, data = post(s, "/v1/completions", {"model": missing, "prompt": "a"})
        assert status == 503
        assert json.loads(data)["error"]["code"] == "model_load_failed"
        status, data = post(s, "/v1/completions",
                            {"model": CHAT_MODEL, "prompt": "Once", "max_tokens": 2})
        assert status == 200, data
        assert json.loads(get(s, "/health")[1])["models"][1]["state"] == "ready"
    finally:
        assert s.stop() == 0, s.stderr


def test_queue_full_and_disconnect(long_model):
    s = Server([long_model, "--parallel", "1", "--queue", "0", "--threads", "1"])
    try:
        wait_ready(s)
        body = {"prompt": "Hello", "max_tokens": LONG, "temperature": 0}
        conn, r, _ = open_stream(s, body)
        # The one slot is taken and nothing may wait: 503 in OpenAI's shape, at once.
        status, data = post(s, "/v1/completions", {"prompt": "Hi", "max_tokens": 2})
        assert status == 503, data
        assert json.loads(data)["error"]["code"] == "server_busy"
        assert metrics(s)["hfkit_requests_in_flight"] == 1
        # The client hangs up: its generation stops long before LONG tokens.
        conn.sock.close()
        conn.close()
        m = wait_idle(s)
        assert m["hfkit_cancelled_total"] == 1
        assert m["hfkit_completion_tokens_total"] < LONG
        assert m['hfkit_requests_total{endpoint="/v1/completions",status="503"}'] == 1
        status, data = post(s, "/v1/completions",
                            {"prompt": "Hello", "max_tokens": 3, "temperature": 0})
        assert status == 200, data
        assert json.loads(data)["choices"][0]["text"] == hfkit_run_json(
            long_model, "Hello", "--max-tokens", "3", "--temperature", "0")["text"]
        m = metrics(s)
        assert m["hfkit_time_to_first_token_seconds_count"] >= 2
        assert m['hfkit_requests_total{endpoint="/v1/completions",status="200"}'] == 1
        assert m['hfkit_requests_total{endpoint="/v1/completions",status="499"}'] == 1
    finally:
        assert s.stop() == 0, s.stderr


def test_sigterm_lets_a_running_request_finish(long_model):
    s = Server([long_model, "--threads", "1", "--shutdown-timeout", "300"])
    wait_ready(s)
    conn, r, first = open_stream(s, {"prompt": "Hello", "max_tokens": 1000, "temperature": 0,
                                     "stream_options": {"include_usage": True}})
    s.terminate()
    events = read_events(r, first)
    conn.close()
    assert s.stop() == 0, s.stderr
    assert events[-1] == "[DONE]"
    usage = json.loads(events[-2])["usage"]
    assert usage["completion_tokens"] == 1000
    assert json.loads(events[-3])["choices"][0]["finish_reason"] == "length"


def test_sigterm_refuses_what_waits_in_the_engine_queue(long_model):
    """A request the batching engine queued but never started gets 503 shutting_down at
    SIGTERM, as one in the pool's queue does; the running one still finishes."""
    import threading
    s = Server([long_model, "--threads", "1", "--parallel", "1", "--queue", "4",
                "--shutdown-timeout", "300"])
    wait_ready(s)
    conn, r, first = open_stream(s, {"prompt": "Hello", "max_tokens": 300, "temperature": 0,
                                     "stream_options": {"include_usage": True}})
    queued = {}
    t = threading.Thread(target=lambda: queued.update(reply=post(
        s, "/v1/completions", {"prompt": "Hi", "max_tokens": 5, "temperature": 0})))
    t.start()
    deadline = time.monotonic() + 60
    while metrics(s).get('hfkit_engine_queued{model="%s"}' % long_model, 0) < 1:
        assert time.monotonic() < deadline, metrics(s)
        time.sleep(0.02)
    s.terminate()
    t.join(120)
    status, data = queued["reply"]
    assert status == 503, data
    assert json.loads(data)["error"]["code"] == "shutting_down"
    events = read_events(r, first)
    conn.close()
    assert s.stop() == 0, s.stderr
    assert json.loads(events[-2])["usage"]["completion_tokens"] == 300


def test_sigterm_cancels_after_the_deadline(long_model):
    s = Server([long_model, "--threads", "1", "--shutdown-timeout", "0"])
    wait_ready(s)
    conn, r, first = open_stream(s, {"prompt": "Hello", "max_tokens": LONG, "temperature": 0})
    s.terminate()
    events = read_events(r, first)
    conn.close()
    assert s.stop() == 0, s.stderr
    assert events[-1] == "[DONE]"
    err = json.loads(events[-2])["error"]
    assert err["code"] == "shutting_down"
    pieces = [json.loads(e)["choices"][0]["text"] for e in events[:-2]]
    assert len(pieces) < LONG


def test_second_signal_cancels_at_once(long_model):
    s = Server([long_model, "--threads", "1", "--shutdown-timeout", "300"])
    wait_ready(s)
    conn, r, first = open_stream(s, {"prompt": "Hello", "max_tokens": LONG, "temperature": 0})
    s.terminate()
    assert "stopping" in s.proc.stderr.readline()  # the first signal was handled
    s.proc.send_signal(15)
    events = read_events(r, first)
    conn.close()
    assert s.stop() == 0, s.stderr
    assert json.loads(events[-2])["error"]["code"] == "shutting_down"
    assert len(events) - 2 < LONG
