"""New architectures (make_zoo.py's qwen3-tok, phi2-tok, gemma3-mm-tok and the sparse MoE
mixtral-tok cases) through the Python package (the C API underneath): the architecture is named,
and greedy generation from BOS at 1 and 2 threads prints the torch reference's text."""
import json
import os
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ["HFK_SOURCE_DIR"])
sys.path.insert(0, str(SOURCE_DIR / "tests" / "examples"))
import hfkit  # noqa: E402
from reference_text import decode  # noqa: E402

ZOO = Path(os.environ["HFK_ZOO_DIR"])


@pytest.mark.parametrize("name,architecture", [("qwen3-tok", "qwen3"), ("phi2-tok", "phi"),
                                                ("gemma3-mm-tok", "gemma3_text"),
                                                ("mixtral-tok", "mixtral")])
def test_greedy_text_matches_torch(name, architecture):
    model_dir = ZOO / name
    ref = json.loads((model_dir / "reference.json").read_text())
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text())
    expected = decode(tokenizer, ref["greedy_from_bos"])
    n = len(ref["greedy_from_bos"])
    assert n >= 4, ref["greedy_from_bos"]
    with hfkit.Model.from_pretrained(model_dir, offline=True) as model:
        assert model.architecture == architecture
        for threads in (1, 2):
            session = model.session(n_threads=threads)
            try:
                assert session.generate("", max_new_tokens=n, temperature=0.0) == expected
            finally:
                session.close()
