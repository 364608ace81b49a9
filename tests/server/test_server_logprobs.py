"""logprobs through `hfkit serve` (chat: logprobs/top_logprobs in OpenAI's content[] shape;
legacy completions: logprobs N as tokens/token_logprobs/top_logprobs/text_offset), plain and
streamed, driven by the official OpenAI SDK. The values must equal what the C API returns for
the same greedy request (hfk_session_last_logprobs, read here through the Python binding),
and out-of-range values are 400s naming the parameter."""

import json

import pytest

from conftest import CHAT_MODEL, TEMPLATE, Server, node_script, wait_ready

import hfkit  # noqa: E402  (PYTHONPATH: the build's python package, set by CTest)

KEY = "k-logprobs"
# The server runs every request on its batching engine, whose batched forward is another kernel
# path than the oracle session's forward(): the same tokens, logprobs equal within float
# rounding (a few 1e-7 here; the engine's own definition is checked bit-tight against a
# log-softmax of its logits in tests/engine/test_engine_constrain.cpp).
TOLERANCE = 1e-5
TOP = 5
MAX_TOKENS = 8


@pytest.fixture(scope="module")
def results(template_file):
    server = Server([CHAT_MODEL, "--chat-template", str(template_file), "--api-key", KEY,
                     "--threads", "1"])
    try:
        wait_ready(server)
        out = node_script("logprobs_client.mjs", {"baseURL": server.url, "apiKey": KEY,
                                                  "model": CHAT_MODEL, "top": TOP,
                                                  "maxTokens": MAX_TOKENS})
    finally:
        status = server.stop()
    assert status == 0, server.stderr
    return out


def c_api_logprobs(prompt, add_special_tokens=True):
    """The same greedy request on one C API session (the Python binding's generate_result
    reads hfk_session_last_logprobs)."""
    with hfkit.Model.from_pretrained(CHAT_MODEL) as model:
        with model.session() as s:
            r = s.generate_result(prompt, max_new_tokens=MAX_TOKENS, temperature=0,
                                  logprobs=TOP, add_special_tokens=add_special_tokens)
    return r


def chat_oracle():
    with hfkit.Model.from_pretrained(CHAT_MODEL) as model:
        rendered = model.apply_chat_template([{"role": "user", "content": "Hello"}],
                                             chat_template=TEMPLATE, add_generation_prompt=True,
                                             tokenize=False)
    # The template writes the BOS itself: no special tokens added, as the chat call does.
    return c_api_logprobs(rendered, add_special_tokens=False)


def same(got, want, exact):
    """float32 from the C API is exact through JSON; see TOLERANCE for the inexact case."""
    if exact:
        return got == want
    return len(got) == len(want) and all(abs(a - b) <= TOLERANCE for a, b in zip(got, want))


def check_chat_content(content, oracle, text, exact):
    assert len(content) == len(oracle.logprobs) == MAX_TOKENS
    joined = "".join(t["token"] for t in content)
    # The chat reply is the message as parsed from the turn: without the space the template's
    # "A:" is followed by.
    assert joined.endswith(text) and joined[:len(joined) - len(text)].isspace(), (joined, text)
    for got, want in zip(content, oracle.logprobs):
        assert same([got["logprob"]], [want.logprob], exact)
        assert got["bytes"] == list(got["token"].encode("utf-8"))
        assert same([a["logprob"] for a in got["top_logprobs"]],
                    [a.logprob for a in want.top_logprobs], exact)
        assert [a["token"] for a in got["top_logprobs"]] == [a.token for a in want.top_logprobs]
        for a in got["top_logprobs"]:
            assert a["bytes"] == list(a["token"].encode("utf-8"))
        # Greedy: the chosen token is the most likely one.
        assert got["top_logprobs"][0]["logprob"] == got["logprob"]


def test_chat_logprobs_equal_the_c_api(results):
    oracle = chat_oracle()
    r = results["chat"]
    assert r["content"] == oracle.text
    assert r["usage"]["prompt_tokens"] == oracle.n_prompt_tokens
    check_chat_content(r["logprobs"]["content"], oracle, r["content"], exact=False)


def test_streamed_chat_logprobs_equal_the_c_api(results):
    oracle = chat_oracle()
    r = results["chat_stream"]
    assert r["content"] == oracle.text
    check_chat_content(r["logprobs"], oracle, r["content"], exact=False)


def test_chat_logprobs_without_top_and_without_logprobs(results):
    content = results["chat_no_top"]["content"]
    assert len(content) == MAX_TOKENS
    assert all(t["top_logprobs"] == [] for t in content)
    assert results["chat_none"] is None


def check_legacy(lp, oracle, text):
    assert lp["tokens"] == [t.token for t in oracle.logprobs]
    assert "".join(lp["tokens"]) == text
    assert same(lp["token_logprobs"], [t.logprob for t in oracle.logprobs], exact=False)
    want_top = [{a.token: a.logprob for a in reversed(t.top_logprobs)} for t in oracle.logprobs]
    assert len(lp["top_logprobs"]) == len(want_top)
    for got, want in zip(lp["top_logprobs"], want_top):
        assert got.keys() == want.keys()
        assert same([got[k] for k in want], list(want.values()), exact=False)
    offsets = [0]
    for t in lp["tokens"][:-1]:
        offsets.append(offsets[-1] + len(t))
    assert lp["text_offset"] == offsets


def test_legacy_completion_logprobs_equal_the_c_api(results):
    oracle = c_api_logprobs("Once upon a time")
    assert results["completion"]["text"] == oracle.text
    check_legacy(results["completion"]["logprobs"], oracle, oracle.text)


def test_streamed_legacy_completion_logprobs_equal_the_c_api(results):
    oracle = c_api_logprobs("Once upon a time")
    assert results["completion_stream"]["text"] == oracle.text
    check_legacy(results["completion_stream"]["logprobs"], oracle, oracle.text)


@pytest.mark.parametrize("case,param", [("bad_top", "top_logprobs"),
                                        ("negative_top", "top_logprobs"),
                                        ("top_without_logprobs", "top_logprobs"),
                                        ("bad_legacy", "logprobs"),
                                        ("bad_logprobs_type", "logprobs")])
def test_out_of_range_is_400(results, case, param):
    assert results[case] == {"status": 400, "param": param}
