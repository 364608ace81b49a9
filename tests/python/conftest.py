"""Shared fixtures: where the shared data is, the default model, and the reference outputs."""

import json
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from hfk_paths import SHARED_DIR, SOURCE_DIR  # noqa: E402, F401 - re-exported to the tests

DEFAULT_MODEL = SOURCE_DIR / "models" / "aidreams260K"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (leak loop, Ctrl-C)")


@pytest.fixture(scope="session")
def hfkit():
    import hfkit as module

    return module


@pytest.fixture(scope="session")
def model_dir():
    assert (DEFAULT_MODEL / "config.json").is_file(), f"default model missing: {DEFAULT_MODEL}"
    return DEFAULT_MODEL


@pytest.fixture(scope="session")
def reference():
    """The reference greedy continuation from BOS of the default model (ids)."""
    path = SHARED_DIR / "reference" / "forward" / "aidreams260K" / "forward_bos_f32.json"
    data = json.loads(path.read_text())
    return data["greedy"]


@pytest.fixture()
def model(hfkit, model_dir):
    with hfkit.Model.from_pretrained(model_dir, n_threads=1) as m:
        yield m


@pytest.fixture(scope="module")
def endpoint():
    """A local Hub (tests/hub/hub_server.py) on loopback for the module's tests: its URL."""
    server = SOURCE_DIR / "tests" / "hub" / "hub_server.py"
    proc = subprocess.Popen([sys.executable, str(server), "--shared-dir", str(SHARED_DIR)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line, "hub_server.py did not start"
        yield f"http://127.0.0.1:{json.loads(line)['port']}"
    finally:
        proc.terminate()
        proc.wait(10)
