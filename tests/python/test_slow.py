"""Slow checks: no reference leaks over 1,000 generate calls; Ctrl-C stops a long generate."""

import gc
import os
import signal
import sys
import threading
import time
import tracemalloc

import pytest

from conftest import SHARED_DIR

pytestmark = pytest.mark.slow


def test_no_leaks_over_1000_generate_calls(hfkit, model):
    prompt = "Once upon a time"
    pieces = []

    def on_piece(p):
        pieces.append(p)

    def call(i):
        pieces.clear()
        if i % 4 == 0:
            text = "".join(model.stream(prompt, max_new_tokens=3))
        elif i % 4 == 1:
            text = model.generate_result(prompt, max_new_tokens=3, stop=["zz"]).text
        else:
            text = model.generate(prompt, max_new_tokens=3, on_piece=on_piece, seed=i)
        assert isinstance(text, str)

    for i in range(50):  # warm up: caches, the session pool, interned strings
        call(i)
    gc.collect()
    refs = (sys.getrefcount(model), sys.getrefcount(prompt), sys.getrefcount(on_piece))
    objects = len(gc.get_objects())
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(1000):
        call(i)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(f"\n1,000 calls: {len(gc.get_objects()) - objects} more gc objects, heap {grown:+d} bytes")
    assert (sys.getrefcount(model), sys.getrefcount(prompt), sys.getrefcount(on_piece)) == refs
    assert len(gc.get_objects()) - objects < 50
    assert grown < 64 * 1024, f"Python heap grew by {grown} bytes over 1,000 calls"


def test_no_leaks_on_errors(hfkit, model, tmp_path):
    def boom(p):
        raise ValueError("x")

    for _ in range(20):
        with pytest.raises(ValueError):
            model.generate("", max_new_tokens=3, on_piece=boom)
    gc.collect()
    objects = len(gc.get_objects())
    for _ in range(300):
        with pytest.raises(ValueError):
            model.generate("", max_new_tokens=3, on_piece=boom)
        with pytest.raises(hfkit.NotFoundError):
            hfkit.Model.from_pretrained(tmp_path / "missing")
    gc.collect()
    assert len(gc.get_objects()) - objects < 50


def _long_context_model(tmp_path):
    """tiny-random-llama (32000 vocab) with its context raised from 2048 to 16384 tokens and a
    WordLevel tokenizer ("t<i>" is id i): long enough that one generate takes seconds on one
    thread (a whole 2048-token context took 0.19 s on a Zen 5 core). The weights are the
    checkpoint's; RoPE has no table to outgrow. (Its own Llama-2 tokenizer is not needed to
    measure Ctrl-C.)"""
    import json

    d = tmp_path / "tiny-random-llama"
    d.mkdir()
    llama = SHARED_DIR / "models" / "tiny-random-llama"
    os.symlink(llama / "model.safetensors", d / "model.safetensors")
    config = json.loads((llama / "config.json").read_text())
    config["max_position_embeddings"] = 16384
    (d / "config.json").write_text(json.dumps(config))
    vocab_size = config["vocab_size"]
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": {f"t{i}": i for i in range(vocab_size)},
                  "unk_token": "t0"},
    }
    (d / "tokenizer.json").write_text(json.dumps(tokenizer))
    return d


def test_keyboard_interrupt_stops_a_long_generate(hfkit, tmp_path):
    """SIGINT from a timer thread while the main thread is inside the C generate call: the piece
    trampoline sees it with PyErr_CheckSignals, stops the generation, and the binding raises
    KeyboardInterrupt after the C call returns -- within 1 s of the signal."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread only")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not Python's default handler here")
    with hfkit.Model.from_pretrained(_long_context_model(tmp_path), n_threads=1) as m:
        budget = m.context_length - 8
        # Calibrate: the whole generate must take clearly longer than the signal delay.
        t0 = time.monotonic()
        m.generate("t1 t2", max_new_tokens=200, ignore_eos=True)
        per_token = (time.monotonic() - t0) / 200
        full = per_token * budget
        # The signal comes at a quarter of the run, so the run must be long enough to tell apart.
        assert full > 0.2, f"a {budget}-token generate takes only {full:.2f} s: test too weak"
        delay = min(0.3, full / 4)

        sent = []

        def interrupt():
            sent.append(time.monotonic())
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

        timer = threading.Timer(delay, interrupt)
        start = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            # No Python callback of ours runs here: only the binding's trampoline can see it.
            m.generate("t1 t2", max_new_tokens=budget, ignore_eos=True)
        returned = time.monotonic()
        timer.join()
        assert sent, "the timer never fired"
        latency = returned - sent[0]
        print(f"\nCtrl-C: generate of {budget} tokens ({full:.2f} s) returned {latency * 1000:.1f} ms "
              f"after SIGINT")
        assert latency < 1.0, f"generate returned {latency:.2f} s after SIGINT"
        assert returned - start < full, "the generate ran to its end: the signal did not stop it"
        # The model is still usable afterwards.
        assert m.generate("t1 t2", max_new_tokens=3)
