"""hfkit.Engine with json_schema/regex and logprobs: the same text as Model.generate (a
session) and its logprobs, each token with the same text, among other requests."""

from concurrent.futures import ThreadPoolExecutor

import hfkit

SCHEMA = {"type": "object", "properties": {"mood": {"enum": ["happy", "sad"]},
                                           "legs": {"type": "integer", "minimum": 0,
                                                    "maximum": 8}},
          "required": ["mood", "legs"], "additionalProperties": False}
CASES = [("Once upon a time", {"json_schema": SCHEMA}),
         ("The cat", {"regex": "[a-z]+( [a-z]+){1,3}\\."}),
         ("Lily was", {})]


def test_engine_constraints_and_logprobs_equal_model_generate(model):
    opts = {"max_new_tokens": 24, "temperature": 0, "logprobs": 3}
    expected = [model.generate(p, **opts, **c) for p, c in CASES]
    with hfkit.Engine(model, max_sequences=4, max_batch_tokens=8) as engine:
        with ThreadPoolExecutor(max_workers=len(CASES) + 1) as pool:
            plain = pool.submit(engine.generate, "The sky", max_new_tokens=30, temperature=0)
            got = list(pool.map(
                lambda pc: engine.result(engine.submit(pc[0], **opts, **pc[1])), CASES))
            assert plain.result() == model.generate("The sky", max_new_tokens=30, temperature=0)
        assert engine.stats()["kv_blocks_used"] == 0
    for (text, lps), r in zip(expected, got):
        assert r.text == text
        assert r.logprobs is not None and len(r.logprobs) == len(lps) > 0
        for a, b in zip(r.logprobs, lps):
            assert (a.id, a.token) == (b.id, b.token)
            assert abs(a.logprob - b.logprob) < 1e-5
            assert [t.id for t in a.top_logprobs] == [t.id for t in b.top_logprobs]
            assert [t.token for t in a.top_logprobs] == [t.token for t in b.top_logprobs]
    # Without the option: none.
    with hfkit.Engine(model) as engine:
        assert engine.result(engine.submit("The cat", max_new_tokens=4)).logprobs is None
