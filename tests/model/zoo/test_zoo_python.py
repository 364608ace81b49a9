"""A sparse MoE architecture (Mixtral, make_zoo.py's mixtral-tok case) through the Python package
(and so the C API under it): greedy text from BOS equals the torch reference's, at 1 and 2
threads, and the model reports its architecture."""
import json
import os
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ["HFK_SOURCE_DIR"])
sys.path.insert(0, str(SOURCE_DIR / "tests" / "examples"))
from reference_text import decode  # noqa: E402

import hfkit  # noqa: E402

MODEL = Path(os.environ["HFK_ZOO_DIR"]) / "mixtral-tok"


@pytest.mark.parametrize("threads", [1, 2])
def test_mixtral_generates_the_torch_greedy_text(threads):
    ref = json.loads((MODEL / "reference.json").read_text())
    tokenizer = json.loads((MODEL / "tokenizer.json").read_text())
    n = len(ref["greedy_from_bos"])
    assert n >= 4, ref["greedy_from_bos"]
    with hfkit.Model.from_pretrained(MODEL, n_threads=threads) as model:
        assert model.architecture == "mixtral"
        result = model.generate_result("", max_new_tokens=n)
    assert result.text == decode(tokenizer, ref["greedy_from_bos"])
    assert result.n_generated_tokens == n
