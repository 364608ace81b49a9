"""Issue 20 through Python: logprobs beside the text, the token-level session API, scoring,
fork/truncate and saved sessions. Reference logprobs are numpy log_softmax over logits the
token API returns."""

import math

import numpy as np
import pytest

PROMPT = "Once upon a time, there was"


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def test_generate_returns_logprobs_beside_the_text(model):
    text, lps = model.generate(PROMPT, max_new_tokens=8, ignore_eos=True, logprobs=5)
    assert isinstance(text, str)
    assert len(lps) == 8
    assert model.generate(PROMPT, max_new_tokens=8, ignore_eos=True) == text
    assert "".join(t.token for t in lps) == text  # each token's text as it reads in the output
    with model.session() as ref:
        ref.eval(model.tokenize(PROMPT))
        for step, t in enumerate(lps):
            want = log_softmax(ref.logits())
            assert abs(t.logprob - want[t.id]) < 1e-5, step
            order = np.argsort(-want, kind="stable")[:5]
            assert [a.id for a in t.top_logprobs] == list(order)
            for a in t.top_logprobs:
                assert abs(a.logprob - want[a.id]) < 1e-5
            assert t.id == order[0]  # greedy
            ref.eval([t.id])


def test_logprobs_are_of_the_raw_distribution_not_the_tempered_one(model):
    r = model.generate_result(PROMPT, max_new_tokens=6, ignore_eos=True, temperature=2.0,
                              seed=4, logprobs=True)
    assert r.logprobs is not None and len(r.logprobs) == len(r.tokens) == 6
    with model.session() as ref:
        ref.eval(model.tokenize(PROMPT))
        for t in r.logprobs:
            assert t.top_logprobs == []
            assert abs(t.logprob - log_softmax(ref.logits())[t.id]) < 1e-5
            ref.eval([t.id])
    assert model.generate_result(PROMPT, max_new_tokens=2).logprobs is None


@pytest.mark.parametrize("bad", [21, -1, 2.5, "5"])
def test_bad_logprobs_are_refused(hfkit, model, bad):
    with pytest.raises(hfkit.InvalidArgumentError):
        model.generate(PROMPT, max_new_tokens=1, logprobs=bad)


def test_eval_logits_sample_and_logit_bias(hfkit, model):
    ids = model.tokenize(PROMPT)
    with model.session() as s:
        assert s.eval(ids) is None
        assert s.tokens() == ids
        last = s.logits()
        assert last.shape == (s.n_logits,) and last.dtype == np.float32
        with model.session() as t:
            all_rows = t.eval(ids, all_logits=True)
            assert all_rows.shape == (len(ids), s.n_logits)
            np.testing.assert_allclose(all_rows[-1], last, atol=1e-4)
            np.testing.assert_array_equal(t.logits(), all_rows[-1])
        best = int(np.argmax(last))
        assert s.sample(last) == best
        assert s.sample(last, logit_bias={best: -math.inf}) == int(np.argsort(-last)[1])
        assert s.sample(last, logit_bias={3: 1000.0}) == 3
        with pytest.raises(hfkit.InvalidArgumentError):
            s.sample(last, logit_bias={s.n_logits: 1.0})
        s.set_seed(9)
        a = [s.sample(last, temperature=1.0) for _ in range(30)]
        s.set_seed(9)
        assert [s.sample(last, temperature=1.0) for _ in range(30)] == a
        assert len(set(a)) > 1


def test_generate_tokens_equals_generate_text(model):
    want = model.generate_result(PROMPT, max_new_tokens=7, ignore_eos=True)
    with model.session() as s:
        r = s.generate_tokens(model.tokenize(PROMPT), max_new_tokens=7, ignore_eos=True)
        assert r.tokens == want.tokens
        assert r.text == want.text
        assert s.tokens() == model.tokenize(PROMPT) + want.tokens


def test_score_and_model_score(model):
    ids = model.tokenize(PROMPT)
    with model.session() as s:
        rows = s.eval(ids, all_logits=True)
    with model.session() as s:
        scores = s.score(ids)
    assert math.isnan(scores[0])
    for i in range(1, len(ids)):
        assert abs(scores[i] - log_softmax(rows[i - 1])[ids[i]]) < 1e-5
    whole = model.score(PROMPT)
    assert whole.ids == ids
    np.testing.assert_allclose(whole.logprobs[1:], scores[1:], atol=1e-6)
    assert abs(whole.total - float(np.sum(scores[1:]))) < 1e-4
    cont = model.score(" there was", prompt="Once upon a time,")
    ctx = model.tokenize("Once upon a time,")
    tail = model.tokenize(" there was", False)
    assert cont.ids == tail
    with model.session() as s:
        s.eval(ctx)
        want = s.score(tail)
    assert abs(cont.total - float(np.sum(want))) < 1e-6
    assert cont.total < 0


def test_fork_truncate_save_load(hfkit, model, tmp_path):
    with model.session() as s:
        s.generate(PROMPT, max_new_tokens=5, ignore_eos=True)
        path = tmp_path / "state.hfks"
        s.save(path)
        f = s.fork()
        opts = dict(max_new_tokens=12, ignore_eos=True, temperature=0.8, seed=5)
        a = s.generate_result(" and", **opts)
        b = f.generate_result(" and", **opts)
        assert a.tokens == b.tokens and a.text == b.text
        with model.session() as r:
            r.load(path)
            c = r.generate_result(" and", **opts)
            assert c.tokens == a.tokens and c.text == a.text
        n = len(s.tokens())
        s.truncate(3)
        assert len(s.tokens()) == 3 and n > 3
        with pytest.raises(hfkit.InvalidArgumentError):
            s.truncate(n + 10)
        path.write_bytes(path.read_bytes()[:-3])
        with pytest.raises(hfkit.FormatError):
            f.load(path)
        with pytest.raises(hfkit.NotFoundError):
            f.load(tmp_path / "absent")
        f.close()
