"""The official OpenAI SDK (npm `openai`, tests/server/js) drives `hfkit serve`: chat (plain
and streamed), text completions, embeddings and models. Greedy text must equal what one session
gives for the same prompt (`hfkit run`), usage must count exactly, and embeddings must match
the torch reference of tests/model."""

import json

import numpy as np
import pytest

from conftest import (BERT_REFERENCE, CHAT_MODEL, TEMPLATE, Server, hfkit_run_json, node_script,
                      wait_ready)

KEY = "sk-test-0123456789"


@pytest.fixture(scope="module")
def sdk_results(template_file, bert_dir):
    server = Server([CHAT_MODEL, str(bert_dir), "--chat-template", str(template_file),
                     "--api-key", KEY, "--parallel", "2", "--threads", "1"])
    try:
        wait_ready(server)
        many = json.loads((BERT_REFERENCE / "forward_f32.json").read_text())
        one = json.loads((BERT_REFERENCE / "forward_single_f32.json").read_text())
        texts = [" ".join(f"t{i}" for i in ref["ids"]) for ref in (many, one)]
        chat_oracle = hfkit_run_json(CHAT_MODEL, "--chat", "Hello", "--chat-template",
                                     str(template_file), "--max-tokens", "8", "--temperature", "0")
        # A stop string from inside the greedy reply: the SDK's reply must stop right before it.
        stop = chat_oracle["text"][3:6]
        results = node_script("sdk_client.mjs", {
            "baseURL": server.url, "apiKey": KEY, "chatModel": CHAT_MODEL,
            "bertModel": str(bert_dir), "bertTexts": texts, "stop": stop})
    finally:
        status = server.stop()
    assert status == 0, server.stderr
    return {"results": results, "chat_oracle": chat_oracle, "stop": stop,
            "bert_refs": (many, one), "template": template_file}


def test_models_are_listed(sdk_results, bert_dir):
    r = sdk_results["results"]
    assert r["models"] == [CHAT_MODEL, str(bert_dir)]
    assert r["retrieved"] == CHAT_MODEL


def test_chat_equals_one_session(sdk_results):
    r, oracle = sdk_results["results"], sdk_results["chat_oracle"]
    assert oracle["n_generated_tokens"] == 8 and oracle["stop_reason"] == "max_tokens"
    for key in ("chat", "chat_stream"):
        got = r[key]
        assert got["text"] == oracle["text"], key
        assert got["role"] == "assistant"
        assert got["finish_reason"] == "length"
        assert got["usage"] == {"prompt_tokens": oracle["n_prompt_tokens"],
                                "completion_tokens": 8,
                                "total_tokens": oracle["n_prompt_tokens"] + 8}, key
    assert r["chat"]["object"] == "chat.completion"
    # role chunk + one per piece + the finish chunk + the usage chunk
    assert r["chat_stream"]["chunks"] >= 4


def test_chat_stop_string(sdk_results):
    r, oracle, stop = sdk_results["results"], sdk_results["chat_oracle"], sdk_results["stop"]
    assert r["chat_stop"]["finish_reason"] == "stop"
    assert r["chat_stop"]["text"] == oracle["text"][:oracle["text"].index(stop)]


def test_completions_equal_one_session(sdk_results):
    r = sdk_results["results"]
    oracle = hfkit_run_json(CHAT_MODEL, "Once upon a time", "--max-tokens", "6",
                            "--temperature", "0")
    assert r["completion"]["text"] == oracle["text"]
    assert r["completion_stream"]["text"] == oracle["text"]
    assert r["completion"]["finish_reason"] == r["completion_stream"]["finish_reason"] == "length"
    assert r["completion"]["usage"] == {"prompt_tokens": oracle["n_prompt_tokens"],
                                        "completion_tokens": 6,
                                        "total_tokens": oracle["n_prompt_tokens"] + 6}


def test_embeddings_match_reference(sdk_results):
    r = sdk_results["results"]["embeddings"]
    many, one = sdk_results["bert_refs"]
    assert r["indices"] == [0, 1]
    for enc in ("base64", "float"):
        got = r[enc]
        assert len(got) == 2 and len(got[0]) == 32
        np.testing.assert_allclose(got[0], many["mean_pooled_normalized"], atol=1e-4)
        np.testing.assert_allclose(got[1], one["mean_pooled_normalized"], atol=1e-4)
    # base64 carries the same float32 bits as the float list (which is printed exactly).
    assert np.array_equal(np.float32(r["base64"]), np.float32(r["float"]))
    n = len(many["ids"]) + len(one["ids"])  # the WordLevel tokenizer adds nothing
    assert r["usage"] == {"prompt_tokens": n, "total_tokens": n}


def test_sdk_sees_errors(sdk_results):
    r = sdk_results["results"]
    assert r["unknown_model"]["status"] == 404
    assert r["unknown_model"]["code"] == "model_not_found"
    assert r["unknown_model"]["name"] == "NotFoundError"
    assert r["bad_temperature"]["status"] == 400
    assert r["bad_temperature"]["param"] == "temperature"
    assert r["wrong_key"]["status"] == 401
    assert r["wrong_key"]["name"] == "AuthenticationError"
