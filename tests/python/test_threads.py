"""Python threads: the GIL is released during C calls, and thread pools are safe."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

PROMPTS = ["Once upon a time", "The cat", "Echoes", "A gentle hum", "", "Lily was"]


def _job(model, i):
    with model.session(n_threads=1) as s:
        first = s.generate(PROMPTS[i % len(PROMPTS)], max_new_tokens=16, temperature=0.8,
                           seed=i, ignore_eos=True)
        second = s.generate(" and", max_new_tokens=8, seed=i + 100)
        return first, second


def test_thread_pool_sessions_equal_single_threaded(model):
    expected = [_job(model, i) for i in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda i: _job(model, i), range(12)))
    assert got == expected


def test_thread_pool_stateless_generate_and_stream(model):
    def job(i):
        kw = dict(max_new_tokens=12, temperature=0.7, seed=i)
        if i % 2:
            return "".join(model.stream(PROMPTS[i % len(PROMPTS)], **kw))
        return model.generate(PROMPTS[i % len(PROMPTS)], **kw)

    expected = [model.generate(PROMPTS[i % len(PROMPTS)], max_new_tokens=12, temperature=0.7,
                               seed=i) for i in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(job, range(16))) == expected


def test_busy_session_from_another_thread(hfkit, model):
    """A second thread on a session that is generating gets StateError (HFK_E_BUSY)."""
    started = threading.Event()
    release = threading.Event()
    errors = []

    def on_piece(piece):
        started.set()
        release.wait(5)  # holds the session inside generate (GIL released while waiting)

    with model.session() as s:
        t = threading.Thread(target=lambda: s.generate("", max_new_tokens=3, on_piece=on_piece))
        t.start()
        assert started.wait(5)
        try:
            s.generate("", max_new_tokens=1)
        except hfkit.StateError as e:
            errors.append(e)
        finally:
            release.set()
            t.join()
    assert errors and errors[0].status_name == "HFK_E_BUSY"


def test_cancel_from_another_thread(hfkit, model):
    with model.session() as s:
        got_piece = threading.Event()

        def on_piece(piece):
            got_piece.set()
            time.sleep(0.001)

        timer = threading.Thread(target=lambda: (got_piece.wait(5), s.cancel()))
        timer.start()
        with pytest.raises(hfkit.CancelledError) as info:
            s.generate("", max_new_tokens=120, ignore_eos=True, on_piece=on_piece)
        timer.join()
        assert info.value.status == -11


def test_gil_is_released_during_generate(model):
    """Another Python thread keeps running while generate works in C."""
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.0005)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        begin = len(ticks)
        deadline = time.monotonic() + 0.3
        calls = 0
        while time.monotonic() < deadline:
            model.generate("", max_new_tokens=100, ignore_eos=True)
            calls += 1
        during = len(ticks) - begin
    finally:
        stop.set()
        t.join()
    assert calls > 0
    assert during > 20, f"the ticker thread ran {during} times in 0.3 s of generate calls"
