"""hfkit.Engine's prefix cache: a prompt run twice gives the same text, the second time reading
its prefix from cached KV blocks (stats: prefix_cache_hits in tokens, kv_blocks_cached: the
prompt's and the reply's full blocks, the last generated token never being run)."""

import hfkit

PROMPT = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the "
          "sunshine with her dog.")


def test_engine_repeated_prompt_reads_its_prefix_from_the_cache(model):
    expected = model.generate(PROMPT, max_new_tokens=12, temperature=0, ignore_eos=True)
    with hfkit.Engine(model, max_sequences=2, kv_block_tokens=4) as engine:
        first = engine.generate(PROMPT, max_new_tokens=12, temperature=0, ignore_eos=True)
        cold = engine.stats()
        second = engine.generate(PROMPT, max_new_tokens=12, temperature=0, ignore_eos=True)
        warm = engine.stats()
    assert first == expected
    assert second == expected
    n_prompt = len(model.tokenize(PROMPT))
    assert cold["prefix_cache_hits"] == 0
    assert cold["kv_blocks_cached"] == (n_prompt + 12 - 1) // 4
    assert warm["prefix_cache_hits"] == (n_prompt - 1) // 4 * 4
    assert warm["kv_blocks_used"] == 0
    assert warm["kv_blocks_cached"] == (n_prompt + 12 - 1) // 4
