"""hfkit.Engine shares compiled constraints between requests: stats()["constraint_cache_hits"]
counts the submits that found theirs compiled, and the text is Model.generate's either way."""

import hfkit

SCHEMA = {"type": "object", "properties": {"mood": {"enum": ["happy", "sad"]}},
          "required": ["mood"], "additionalProperties": False}


def test_engine_counts_the_second_submit_of_a_schema_as_a_cache_hit(model):
    opts = {"max_new_tokens": 24, "temperature": 0, "json_schema": SCHEMA}
    expected = model.generate("Once upon a time", **opts)
    with hfkit.Engine(model, max_sequences=2) as engine:
        assert engine.generate("Once upon a time", **opts) == expected
        assert engine.stats()["constraint_cache_hits"] == 0
        assert engine.generate("Once upon a time", **opts) == expected
        assert engine.stats()["constraint_cache_hits"] == 1
        assert engine.generate("Once upon a time", max_new_tokens=24, temperature=0,
                               regex="(yes|no)!") == model.generate(
            "Once upon a time", max_new_tokens=24, temperature=0, regex="(yes|no)!")
        assert engine.stats()["constraint_cache_hits"] == 1
