"""`hfkit serve` runs concurrent requests to one model as one batch (the C API's engine): a
greedy reply is the same whether its request ran alone or among others, /metrics shows that
steps ran several requests together (logprobs and response_format too), and what the engine
cannot run (GPT-2) still gets its answer from a session of its own."""

import concurrent.futures
import http.client
import json
import subprocess

from conftest import (CHAT_MODEL, CLI, SHARED_DIR, Server, hfkit_run_json, metrics, post_json,
                      wait_ready)

PROMPTS = ["Once upon a time", "The little dog", "Echoes of", "In a quiet town", "A bird"]


def open_stream(server, path, body):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=300)
    conn.request("POST", path, body=json.dumps({**body, "stream": True}).encode(),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    return conn, r


def next_event(r):
    while True:
        line = r.readline()
        assert line, "the stream ended early"
        if line.startswith(b"data: "):
            return line[6:].strip()


def read_stream(conn, r, first=None):
    """The text, finish_reason and usage of a streamed completion (first: an event already read)."""
    text, usage, finish = "", None, None
    events = ([first] if first else []) + [
        line[6:].strip() for line in r.read().split(b"\n") if line.startswith(b"data: ")]
    assert events[-1] == b"[DONE]"
    for e in events[:-1]:
        event = json.loads(e)
        assert "error" not in event, event
        if event.get("usage"):
            usage = event["usage"]
        for c in event["choices"]:
            text += c["text"]
            finish = c["finish_reason"] or finish
    conn.close()
    return {"text": text, "usage": usage, "finish_reason": finish}


def engine_metric(m, name, model):
    return m[f'{name}{{model="{model}"}}']


def test_concurrent_streams_are_batched_and_match_their_solo_runs(long_model):
    s = Server([long_model, "--parallel", "8", "--threads", "1"])
    try:
        wait_ready(s)
        bodies = [{"prompt": p, "max_tokens": 12 + 5 * i, "temperature": 0,
                   "stream_options": {"include_usage": True}} for i, p in enumerate(PROMPTS)]
        # Each request alone first: one request per step.
        solo = [read_stream(*open_stream(s, "/v1/completions", b)) for b in bodies]
        m = metrics(s)
        assert engine_metric(m, "hfkit_engine_max_batch_sequences", long_model) == 1
        assert engine_metric(m, "hfkit_engine_kv_blocks_total", long_model) > 0
        # The independent oracle: a single session (`hfkit run`) gives the same text and counts.
        for b, got in zip(bodies, solo):
            oracle = hfkit_run_json(long_model, b["prompt"], "--max-tokens", str(b["max_tokens"]),
                                    "--temperature", "0")
            assert got["text"] == oracle["text"], b
            assert got["usage"]["prompt_tokens"] == oracle["n_prompt_tokens"]
            assert got["usage"]["completion_tokens"] == oracle["n_generated_tokens"]
            assert got["finish_reason"] == "length"

        # A long request runs (its first token is out) while the others arrive: every one of
        # them joins its batch. Its client then hangs up, which cancels it.
        conn, r = open_stream(s, "/v1/completions",
                              {"prompt": "Hello", "max_tokens": 2000, "temperature": 0})
        next_event(r)
        with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
            together = list(pool.map(
                lambda b: read_stream(*open_stream(s, "/v1/completions", b)), bodies))
        conn.sock.close()
        conn.close()
        assert together == solo
        m = metrics(s)
        assert engine_metric(m, "hfkit_engine_max_batch_sequences", long_model) >= 2
        steps = engine_metric(m, "hfkit_engine_steps_total", long_model)
        assert engine_metric(m, "hfkit_engine_sequence_steps_total", long_model) > steps
        # Back to idle: nothing running, queued or holding KV blocks.
        for _ in range(2000):
            m = metrics(s)
            if m["hfkit_requests_in_flight"] == 0:
                break
        assert m["hfkit_requests_in_flight"] == 0
        assert m["hfkit_cancelled_total"] == 1
        assert m['hfkit_requests_total{endpoint="/v1/completions",status="499"}'] == 1
        assert engine_metric(m, "hfkit_engine_running", long_model) == 0
        assert engine_metric(m, "hfkit_engine_queued", long_model) == 0
        assert engine_metric(m, "hfkit_engine_kv_blocks_used", long_model) == 0
        assert m["hfkit_queue_depth"] == 0
    finally:
        assert s.stop() == 0, s.stderr


def test_a_repeated_prompt_reads_its_prefix_from_the_engine_cache(long_model):
    """The second request with the same long prompt reads its full KV blocks from the engine's
    prefix cache (/metrics counts the tokens) and answers the same text as the first."""
    s = Server([long_model, "--parallel", "2", "--threads", "1"])
    try:
        wait_ready(s)
        body = {"prompt": " ".join(PROMPTS * 6), "max_tokens": 8, "temperature": 0}
        status, first = post_json(s, "/v1/completions", body)
        assert status == 200, first
        m = metrics(s)
        assert engine_metric(m, "hfkit_engine_prefix_cache_hits_total", long_model) == 0
        assert engine_metric(m, "hfkit_engine_kv_blocks_cached", long_model) > 0
        status, second = post_json(s, "/v1/completions", body)
        assert status == 200, second
        assert second["choices"][0]["text"] == first["choices"][0]["text"]
        assert second["usage"] == first["usage"]
        m = metrics(s)
        hits = engine_metric(m, "hfkit_engine_prefix_cache_hits_total", long_model)
        # Every full block but the one holding the last prompt token, whose logits are needed.
        assert 0 < hits < first["usage"]["prompt_tokens"]
        assert engine_metric(m, "hfkit_engine_kv_blocks_used", long_model) == 0
    finally:
        assert s.stop() == 0, s.stderr


def test_chat_on_the_engine_stops_at_the_turn_end(template_file):
    # The Q:/A: template ends an assistant turn with </s>, aidreams260K's EOS: the reply stops
    # there, as a single session's chat turn does.
    s = Server([CHAT_MODEL, "--chat-template", str(template_file), "--parallel", "4",
                "--threads", "1"])
    try:
        wait_ready(s)
        for p in PROMPTS[:3]:
            status, data = post_json(s, "/v1/chat/completions",
                                {"messages": [{"role": "user", "content": p}], "max_tokens": 60,
                                 "temperature": 0})
            assert status == 200, data
            oracle = hfkit_run_json(CHAT_MODEL, "--chat", p, "--chat-template", str(template_file),
                                    "--max-tokens", "60", "--temperature", "0")
            assert data["choices"][0]["message"]["content"] == oracle["text"]
            assert data["usage"]["prompt_tokens"] == oracle["n_prompt_tokens"]
            assert data["usage"]["completion_tokens"] == oracle["n_generated_tokens"]
            want = "stop" if oracle["stop_reason"] in ("eos", "stop_string") else "length"
            assert data["choices"][0]["finish_reason"] == want
        m = metrics(s)
        assert engine_metric(m, "hfkit_engine_steps_total", CHAT_MODEL) > 0
    finally:
        assert s.stop() == 0, s.stderr


def test_what_the_engine_cannot_run_falls_back_to_a_session(long_model):
    gpt2 = str(SHARED_DIR / "models" / "tiny-gpt2")
    s = Server([long_model, gpt2, "--parallel", "2", "--threads", "1"])
    try:
        wait_ready(s)
        # logprobs and response_format run on the engine (made on the first request it runs).
        assert f'hfkit_engine_steps_total{{model="{long_model}"}}' not in metrics(s)
        status, data = post_json(s, "/v1/completions", {"prompt": "Hello", "max_tokens": 4,
                                                   "temperature": 0, "logprobs": 2})
        assert status == 200, data
        assert len(data["choices"][0]["logprobs"]["token_logprobs"]) == 4
        steps = engine_metric(metrics(s), "hfkit_engine_steps_total", long_model)
        assert steps > 0
        status, data = post_json(s, "/v1/completions", {"prompt": "Hello", "max_tokens": 40,
                                                   "temperature": 0,
                                                   "response_format": {"type": "json_object"}})
        assert status == 200, data
        assert engine_metric(metrics(s), "hfkit_engine_steps_total", long_model) > steps
        # GPT-2 has no batched forward: every request of it runs on a session.
        status, data = post_json(s, "/v1/completions", {"model": gpt2, "prompt": "Hello",
                                                   "max_tokens": 3, "temperature": 0})
        assert status == 200, data
        assert data["choices"][0]["text"] == hfkit_run_json(
            gpt2, "Hello", "--max-tokens", "3", "--temperature", "0")["text"]
        m = metrics(s)
        assert f'hfkit_engine_steps_total{{model="{gpt2}"}}' not in m
    finally:
        assert s.stop() == 0, s.stderr


def test_a_kv_budget_below_one_block_fails_the_models_requests_and_names_the_cause():
    # One byte of KV: less than one block of any model. Its requests fail with 503 (the server's
    # settings, not the request, are wrong) rather than run on a session outside the budget;
    # a model the engine does not run (GPT-2) still answers, and so does /health.
    gpt2 = str(SHARED_DIR / "models" / "tiny-gpt2")
    s = Server([CHAT_MODEL, gpt2, "--parallel", "2", "--threads", "1", "--kv-budget", "1"])
    try:
        wait_ready(s)
        for _ in range(2):  # the second request meets the refusal the first one recorded
            status, data = post_json(s, "/v1/completions", {"prompt": "Hello", "max_tokens": 3})
            assert status == 503, data
            assert data["error"]["code"] == "server_misconfigured", data
            assert "kv_budget_bytes 1 is less than one KV block" in data["error"]["message"]
            assert "--kv-budget" in data["error"]["message"]
        status, data = post_json(s, "/v1/completions", {"model": gpt2, "prompt": "Hello",
                                                   "max_tokens": 3, "temperature": 0})
        assert status == 200, data
        assert len(data["choices"][0]["text"]) > 0
        assert f'hfkit_engine_steps_total{{model="{CHAT_MODEL}"}}' not in metrics(s)
    finally:
        assert s.stop() == 0, s.stderr


def test_kv_dtype_bf16_holds_twice_the_blocks_and_answers_as_a_bf16_session(long_model):
    """--kv-dtype bf16: the engine's pool holds twice the blocks of the same --kv-budget, and a
    greedy reply is a BF16-cache session's (`hfkit run --kv-dtype bf16`); GPT-2, run on the
    server's sessions, gets the same cache type. A bad type is a usage error."""
    gpt2 = str(SHARED_DIR / "models" / "tiny-gpt2")
    budget = str(1 << 20)
    blocks = {}
    for kv_dtype in ("f32", "bf16"):
        s = Server([long_model, gpt2, "--parallel", "2", "--threads", "1", "--kv-budget", budget,
                    "--kv-dtype", kv_dtype])
        try:
            wait_ready(s)
            for model in (long_model, gpt2):
                body = {"model": model, "prompt": PROMPTS[0], "max_tokens": 12, "temperature": 0}
                status, data = post_json(s, "/v1/completions", body)
                assert status == 200, data
                oracle = hfkit_run_json(model, PROMPTS[0], "--max-tokens", "12", "--temperature",
                                        "0", "--kv-dtype", kv_dtype)
                assert data["choices"][0]["text"] == oracle["text"], (kv_dtype, model)
            blocks[kv_dtype] = engine_metric(metrics(s), "hfkit_engine_kv_blocks_total",
                                             long_model)
        finally:
            assert s.stop() == 0, s.stderr
    assert blocks["bf16"] == 2 * blocks["f32"] > 0
    out = subprocess.run([CLI, "serve", "--kv-dtype", "q8"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert "--kv-dtype takes f32, f16 or bf16, got 'q8'" in out.stderr
