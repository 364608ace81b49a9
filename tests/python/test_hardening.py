"""The Python package under hostile input (issue 15, item 13 and the Python bullets): NUL in
strings, wrong stop types, option names from other libraries, what the module exports, prefix
reuse of Model.generate, and the Hub file patterns."""

import fnmatch
import os
import pathlib
import threading
import types

import pytest

from conftest import SHARED_DIR

REPO = "hfkit-test/aidreams260K"


# ---- item 13: a NUL in any string argument is a ValueError -----------------------------------

def nul_calls(hfkit, model_dir, cache):
    d, c = str(model_dir), str(cache)
    offline = dict(cache_dir=c, offline=True)
    return {
        "from_pretrained path": lambda: hfkit.Model.from_pretrained(d + "\x00/x"),
        "from_pretrained id": lambda: hfkit.Model.from_pretrained("gpt2\x00../../etc", **offline),
        "from_pretrained cache_dir": lambda: hfkit.Model.from_pretrained(REPO, cache_dir=c + "\x00x",
                                                                         offline=True),
        "from_pretrained revision": lambda: hfkit.Model.from_pretrained(REPO, revision="main\x00x",
                                                                        **offline),
        "open path": lambda: hfkit.Model.open(d + "\x00/x"),
        "prepare id": lambda: hfkit.prepare("hfkit-test/x\x00y", **offline),
        "prepare token": lambda: hfkit.prepare(REPO, token="hf_\x00x", **offline),
        "prepare endpoint": lambda: hfkit.prepare(REPO, endpoint="http://127.0.0.1:9\x00x",
                                                  **offline),
        "is_downloaded": lambda: hfkit.is_downloaded("gpt2\x00x", cache_dir=c),
        "remove_from_disk": lambda: hfkit.remove_from_disk("gpt2\x00x", cache_dir=c),
        "disk_usage id": lambda: hfkit.disk_usage("gpt2\x00x", cache_dir=c),
        "disk_usage cache_dir": lambda: hfkit.disk_usage(cache_dir=c + "\x00x"),
        "downloaded_models": lambda: hfkit.downloaded_models(cache_dir=c + "\x00x"),
        "inspect": lambda: hfkit.inspect(d + "\x00/x"),
    }


@pytest.mark.parametrize("call", sorted(nul_calls(None, "", "")))
def test_a_nul_in_a_string_argument_is_a_value_error(hfkit, model_dir, tmp_path, call):
    with pytest.raises(ValueError) as info:
        result = nul_calls(hfkit, model_dir, tmp_path)[call]()
        if isinstance(result, hfkit.Model):
            result.close()
    assert not isinstance(info.value, hfkit.HfkitError), info.value  # not a library status
    assert "NUL" in str(info.value)


def test_a_nul_in_a_stop_string_is_a_value_error(hfkit, model):
    with pytest.raises(ValueError, match="NUL"):
        model.generate("Once", max_new_tokens=2, stop=["a\x00b"])


@pytest.mark.parametrize("stop", [[None], ["ok", 3], [b"bytes"]])
def test_a_stop_that_is_not_a_str_is_a_type_error(hfkit, model, stop):
    with pytest.raises(TypeError, match="stop"):
        model.generate("Once", max_new_tokens=2, stop=stop)


# ---- option names from other libraries -------------------------------------------------------

def test_max_tokens_and_repeat_penalty_are_accepted(model):
    greedy = dict(temperature=0)
    ours = model.generate_result("Once upon a time", max_new_tokens=6, **greedy)
    theirs = model.generate_result("Once upon a time", max_tokens=6, **greedy)
    assert (theirs.text, theirs.n_generated_tokens) == (ours.text, 6)
    ours = model.generate("Once upon a time", max_new_tokens=16, repetition_penalty=1.5, **greedy)
    theirs = model.generate("Once upon a time", max_new_tokens=16, repeat_penalty=1.5, **greedy)
    plain = model.generate("Once upon a time", max_new_tokens=16, **greedy)
    assert theirs == ours and ours != plain  # the penalty took effect, under either name


def test_an_option_given_twice_or_unknown_is_a_type_error_that_lists_the_names(model):
    with pytest.raises(TypeError, match="same option"):
        model.generate("Once", max_tokens=2, max_new_tokens=2)
    with pytest.raises(TypeError) as info:
        model.generate("Once", max_length=20)
    text = str(info.value)
    assert "max_length" in text and "max_new_tokens" in text and "max_tokens" in text, text


# ---- what the module exports -----------------------------------------------------------------

def test_the_module_does_not_export_its_imports(hfkit):
    leaked = [n for n in dir(hfkit)
              if not n.startswith("_") and isinstance(getattr(hfkit, n), types.ModuleType)]
    assert leaked == [], leaked
    assert not hasattr(hfkit, "np") and not hasattr(hfkit, "json")


# ---- Model.generate reuses the prefix of a repeated prompt -----------------------------------

PROMPT = "Once upon a time, there was a little girl named Lily."


def test_model_generate_reuses_a_repeated_prompt(hfkit, model):
    first = model.generate_result(PROMPT, max_new_tokens=8, temperature=0)
    again = model.generate_result(PROMPT, max_new_tokens=8, temperature=0)
    assert first.n_reused_tokens == 0
    assert again.n_reused_tokens == again.n_prompt_tokens - 1, again  # all but the last token
    assert again.text == first.text and again.tokens == first.tokens


def test_model_generate_still_starts_a_fresh_context(hfkit, model, model_dir):
    model.generate(PROMPT, max_new_tokens=8, temperature=0)
    after = model.generate_result("The cat", max_new_tokens=8, temperature=0)
    with hfkit.Model.from_pretrained(model_dir, n_threads=1) as fresh:
        alone = fresh.generate_result("The cat", max_new_tokens=8, temperature=0)
    assert after.n_prompt_tokens == alone.n_prompt_tokens  # not appended to the last prompt
    assert after.tokens == alone.tokens and after.text == alone.text


def test_session_reset_keeps_the_computed_prefix(model):
    with model.session() as s:
        first = s.generate_result(PROMPT, max_new_tokens=4, temperature=0)
        s.reset()
        again = s.generate_result(PROMPT, max_new_tokens=4, temperature=0)
    assert again.n_prompt_tokens == first.n_prompt_tokens  # a new conversation
    assert again.n_reused_tokens == again.n_prompt_tokens - 1
    assert again.tokens == first.tokens


# ---- the Hub's file patterns -----------------------------------------------------------------

def test_prepare_fetches_only_the_allowed_files(hfkit, endpoint, tmp_path):
    snapshot = pathlib.Path(hfkit.prepare(REPO, cache_dir=tmp_path, endpoint=endpoint, token="",
                                          allow_patterns=["*.json"],
                                          ignore_patterns="tokenizer*"))
    names = sorted(p.name for p in snapshot.iterdir())
    served = os.listdir(SHARED_DIR / "models" / "aidreams260K")  # what the local Hub serves
    want = sorted(n for n in served
                  if fnmatch.fnmatch(n, "*.json") and not fnmatch.fnmatch(n, "tokenizer*"))
    assert "config.json" in want and names == want, (names, want)


def test_patterns_must_be_strings(hfkit, tmp_path):
    with pytest.raises(TypeError, match="allow_patterns must be str patterns"):
        hfkit.prepare(REPO, cache_dir=tmp_path, offline=True, allow_patterns=[None])


# ---- the state callback of Model.open --------------------------------------------------------

def test_open_reports_its_states_to_a_callback_on_the_worker_thread(hfkit, model_dir):
    seen = []
    finished = threading.Event()

    def on_state(status):
        assert isinstance(status, hfkit.ModelStatus)
        seen.append((status.state, threading.get_ident()))
        if status.state in ("ready", "failed"):
            finished.set()

    with hfkit.Model.open(model_dir, n_threads=1, on_state=on_state) as m:
        assert m.wait(60)
        assert finished.wait(60), seen
        assert m.generate("Once", max_new_tokens=2)
    states = [s for s, _ in seen]
    assert states[-1] == "ready" and "loading" in states, states
    assert threading.get_ident() not in {t for _, t in seen}


def test_a_true_return_from_on_state_cancels_the_open(hfkit, model_dir):
    with hfkit.Model.open(model_dir, n_threads=1, on_state=lambda status: True) as m:
        with pytest.raises(hfkit.CancelledError):
            m.wait(60)
