"""response_format and logprobs run on the batching engine: a json_schema request through the
OpenAI path returns output valid against its schema (python3-jsonschema, an independent
validator) while other requests run at the same time, equal to a session's (the same server
with --no-batching, the oracle) for a greedy request, and /metrics shows it went through the engine
(made on the first request it runs, and its sequence steps count every generated token)."""

import concurrent.futures
import json

import jsonschema

from conftest import Server, metrics, post_json, wait_ready

# Bounded: every string, number and array has a limit, so a complete reply always fits.
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 6},
        "legs": {"type": "integer", "minimum": 0, "maximum": 8},
        "mood": {"enum": ["happy", "sad", "calm"]},
        "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]{1,4}$"},
                 "minItems": 1, "maxItems": 2},
    },
    "required": ["name", "legs", "mood", "tags"],
    "additionalProperties": False,
}
MAX_TOKENS = 200
PROMPT = "A small animal described as JSON:"


def schema_body(seed=None):
    body = {"prompt": PROMPT, "max_tokens": MAX_TOKENS, "temperature": 0,
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "animal", "schema": SCHEMA,
                                                "strict": True}}}
    if seed is not None:
        body.update(temperature=1.0, seed=seed)
    return body


def steps_of(m, model):
    return m.get(f'hfkit_engine_sequence_steps_total{{model="{model}"}}')


def test_json_schema_requests_are_batched_on_the_engine_and_validate(long_model):
    # The oracle: the same request on a session of its own (--no-batching: the session pool).
    pool = Server([long_model, "--threads", "1", "--no-batching"])
    try:
        wait_ready(pool)
        status, solo = post_json(pool, "/v1/completions", schema_body())
        assert status == 200, solo
        assert steps_of(metrics(pool), long_model) is None  # no engine there
    finally:
        assert pool.stop() == 0, pool.stderr
    s = Server([long_model, "--parallel", "4", "--threads", "1"])
    try:
        wait_ready(s)
        # The first request of the model is a constrained one: it creates the engine (no
        # engine metrics before), and its reply is the single session's.
        assert steps_of(metrics(s), long_model) is None
        status, data = post_json(s, "/v1/completions", schema_body())
        assert status == 200, data
        choice = data["choices"][0]
        assert choice["finish_reason"] == "stop"
        jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(choice["text"]))
        assert choice["text"] == solo["choices"][0]["text"]
        assert data["usage"] == solo["usage"]
        first_steps = steps_of(metrics(s), long_model)
        assert first_steps >= data["usage"]["completion_tokens"]

        # Constrained (sampled, several seeds) and plain requests at once.
        bodies = [schema_body(seed) for seed in (1, 2, 3)]
        bodies += [{"prompt": p, "max_tokens": 40, "temperature": 0, "logprobs": 2}
                   for p in ("Once upon a time", "The little dog")]
        with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
            replies = list(pool.map(lambda b: post_json(s, "/v1/completions", b), bodies))
        generated = 0
        for b, (status, data) in zip(bodies, replies):
            assert status == 200, data
            generated += data["usage"]["completion_tokens"]
            choice = data["choices"][0]
            if "response_format" in b:
                assert choice["finish_reason"] == "stop", choice
                jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(choice["text"]))
            else:
                assert len(choice["logprobs"]["token_logprobs"]) == 40
        m = metrics(s)
        # Every generated token of every request was a row of an engine step: none ran on a
        # session of its own.
        assert steps_of(m, long_model) - first_steps >= generated
        assert m[f'hfkit_engine_max_batch_sequences{{model="{long_model}"}}'] >= 2
        assert m[f'hfkit_engine_kv_blocks_used{{model="{long_model}"}}'] == 0
        # The three sampled requests share the schema the first one compiled.
        assert m[f'hfkit_engine_constraint_cache_hits_total{{model="{long_model}"}}'] == 3
    finally:
        assert s.stop() == 0, s.stderr
