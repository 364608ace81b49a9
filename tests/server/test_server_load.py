"""A bounded loopback load test (label slow): rounds of 32 clients x 10 requests at once over
two models, chat and completions, streamed and not, mixed lengths, with some clients hanging up
mid-stream. Every greedy output must equal its solo run (`hfkit run`), with exact usage; nothing
may fail; after each round the server is idle (no request in flight, no slot held, no KV block
in use); and its resident memory stays flat across the rounds after the first (which loads the
models and commits the KV pool's pages)."""

import concurrent.futures
import http.client
import json

from conftest import CHAT_MODEL, Server, hfkit_run_json, wait_ready
from test_server_lifecycle import LONG, wait_idle

PROMPTS = ["Once upon a time", "The little dog", "Echoes of", "In a quiet town"]


def request(server, path, body):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=300)
    conn.request("POST", path, body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    if not body.get("stream"):
        data = r.read()
        conn.close()
        assert r.status == 200, data
        return json.loads(data)
    assert r.status == 200
    if body.get("hang_up"):
        r.readline()
        conn.sock.close()
        conn.close()
        return None
    text, usage, finish = "", None, None
    for line in r.read().split(b"\n"):
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        event = json.loads(line[6:])
        assert "error" not in event, event
        if event.get("usage"):
            usage = event["usage"]
        for c in event["choices"]:
            text += c["delta"].get("content", "") if "delta" in c else c["text"]
            finish = c["finish_reason"] or finish
    conn.close()
    return {"text": text, "usage": usage, "finish_reason": finish}


CLIENTS, REQUESTS, ROUNDS = 32, 10, 3


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_concurrent_clients_get_their_solo_outputs(long_model, template_file):
    s = Server([CHAT_MODEL, long_model, "--chat-template", str(template_file), "--parallel", "3",
                "--queue", "64", "--threads", "1"])
    try:
        wait_ready(s)
        solo = {}
        for i, p in enumerate(PROMPTS):
            n = 5 + 7 * i
            solo[("run", p)] = hfkit_run_json(CHAT_MODEL, p, "--max-tokens", str(n),
                                              "--temperature", "0"), n
            solo[("chat", p)] = hfkit_run_json(CHAT_MODEL, "--chat", p, "--chat-template",
                                               str(template_file), "--max-tokens", str(n),
                                               "--temperature", "0"), n
            solo[("long", p)] = hfkit_run_json(long_model, p, "--max-tokens", str(n),
                                               "--temperature", "0"), n

        jobs = []
        for client in range(CLIENTS):
            for k in range(REQUESTS):
                kind = ("run", "chat", "long")[(client + k) % 3]
                p = PROMPTS[(client * 3 + k) % len(PROMPTS)]
                stream = (client + k) % 2 == 0
                hang_up = client % 8 in (2, 5) and k == 1  # some clients leave mid-stream
                jobs.append((client, kind, p, stream, hang_up))
        hang_ups = sum(1 for j in jobs if j[4])

        def run_client(client):
            results = []
            for (c, kind, p, stream, hang_up) in jobs:
                if c != client:
                    continue
                oracle, n = solo[(kind, p)]
                model = long_model if kind == "long" else CHAT_MODEL
                if hang_up:
                    request(s, "/v1/completions", {"model": long_model, "prompt": p,
                                                   "max_tokens": LONG, "temperature": 0,
                                                   "stream": True, "hang_up": True})
                    continue
                body = {"model": model, "max_tokens": n, "temperature": 0, "stream": stream}
                if stream:
                    body["stream_options"] = {"include_usage": True}
                if kind == "chat":
                    body["messages"] = [{"role": "user", "content": p}]
                    got = request(s, "/v1/chat/completions", body)
                    if not stream:
                        got = {"text": got["choices"][0]["message"]["content"],
                               "usage": got["usage"]}
                else:
                    body["prompt"] = p
                    got = request(s, "/v1/completions", body)
                    if not stream:
                        got = {"text": got["choices"][0]["text"], "usage": got["usage"]}
                results.append((kind, p, stream, got, oracle))
            return results

        rss = []
        for round_ in range(ROUNDS):
            with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
                all_results = [r for rs in pool.map(run_client, range(CLIENTS)) for r in rs]
            assert len(all_results) == len(jobs) - hang_ups
            for kind, p, stream, got, oracle in all_results:
                assert got["text"] == oracle["text"], (round_, kind, p, stream)
                assert got["usage"]["prompt_tokens"] == oracle["n_prompt_tokens"], (kind, p)
                assert got["usage"]["completion_tokens"] == oracle["n_generated_tokens"], (kind, p)
            m = wait_idle(s)
            assert m["hfkit_cancelled_total"] == hang_ups * (round_ + 1)
            assert m["hfkit_queue_depth"] == 0
            assert all(v == 0 for k, v in m.items() if k.startswith("hfkit_model_busy_slots"))
            kv_used = {k: v for k, v in m.items() if k.startswith("hfkit_engine_kv_blocks_used")}
            assert kv_used and all(v == 0 for v in kv_used.values()), kv_used
            failed = {k: v for k, v in m.items()
                      if k.startswith("hfkit_requests_total") and 'status="200"' not in k
                      and 'status="499"' not in k}
            assert failed == {}
            rss.append(rss_bytes(s.proc.pid))
        # Flat after the first round: the same work again holds no more memory (a leak of a
        # request's buffers or of KV blocks would grow it every round).
        assert rss[-1] <= rss[1] * 1.02 + (4 << 20), [r >> 20 for r in rss]
    finally:
        assert s.stop() == 0, s.stderr
