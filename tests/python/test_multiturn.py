"""Multi-turn equivalence through the Python binding (issue 23): the second turn of a session
that keeps its KV cache equals a fresh session's generation over the concatenated text, greedy
and seeded, including histories whose tokens diverge from the cached ones mid-way (turn one cut
by a stop string: its tokens stay in the cache, the conversation continues with other text)."""

import pytest

from conftest import DEFAULT_MODEL, SHARED_DIR

GREEDY = {"temperature": 0.0, "ignore_eos": True}
SEEDED = {"temperature": 0.9, "top_p": 0.95, "seed": 20261205, "ignore_eos": True}

# (turn one, turn two, stop strings for turn one taken from the model's greedy and seeded
# continuations of turn one: the text is cut before them while their first tokens stay cached)
CASES = {
    DEFAULT_MODEL: [
        ("Once upon a time", " Then the dog said", None),
        ("One day", " Lily was happy.", ["unfold like petals", "edges sharpen, a"]),
        ("The cat sat", "\nThe end.", ["gentle hum of", "secrets, Hkindling"]),
        ("", " Bob went home", ["vectors unfold, a", "knowledge later,"]),
        # an empty second prompt continues the cut text; the stop strings start on a token
        # boundary, so the new conversation is a prefix of the cache and its last token must
        # run again
        ("One day", "", [" unfold like petals", " edges sharpen, a"]),
    ],
    SHARED_DIR / "models" / "tiny-gpt2": [
        ("Hello, my dog is cute", " and", ["stairs stairs stairs", "basatorial?????"]),
        ("A", "B", ["factors factors factors", "eclipse structure openly"]),
        ("A", "", [" factors factors factors", " eclipse structure openly"]),
    ],
}


def first_difference(a, b):
    i = 0
    while i < len(a) and i < len(b) and a[i] == b[i]:
        i += 1
    return i


@pytest.fixture(scope="module", params=list(CASES), ids=lambda p: p.name)
def loaded(request, hfkit):
    with hfkit.Model.from_pretrained(request.param, n_threads=1) as m:
        yield m, CASES[request.param]


@pytest.mark.parametrize("options", [GREEDY, SEEDED], ids=["greedy", "seeded"])
def test_second_turn_equals_a_fresh_session(loaded, options):
    model, cases = loaded
    mid_way = 0
    for first, second, stop in cases:
        with model.session(n_threads=1) as s:
            one = s.generate_result(first, max_new_tokens=24, stop=stop, **options)
            cached = model.tokenize(first) + one.tokens[:-1]
            two = s.generate_result(second, max_new_tokens=16, **options)
        conversation = first + one.text + second
        with model.session(n_threads=1) as fresh:
            want = fresh.generate_result(conversation, max_new_tokens=16, **options)
        where = (first, second, stop)
        assert two.tokens == want.tokens, where
        assert two.text == want.text, where
        ids = model.tokenize(conversation)
        assert two.n_prompt_tokens == len(ids), where
        d = first_difference(cached, ids)
        assert two.n_reused_tokens == min(d, len(ids) - 1), where
        if not second:  # these cases are there for a conversation wholly inside the cache
            assert d == len(ids), where
        if len(cached) - d >= 2:
            mid_way += 1
    # Else a session that trusted its cache would pass too.
    assert mid_way >= 1, "no case diverged from the cached tokens mid-way"
