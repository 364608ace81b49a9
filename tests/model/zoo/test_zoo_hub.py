"""Every new decoder architecture of the zoo (make_zoo.py: qwen3, gemma2, gemma3, phi3, phi2,
smollm3, mixtral, qwen3-moe) served by the local Hub (tests/hub/hub_server.py) and loaded by id,
through the hfkit command and the Python package (the C API underneath): the greedy continuation
of the reference prompt is the torch reference's.

The zoo checkpoints have no tokenizer (97 ids); each repo gets a WordLevel one where "t<i>" is
id i (no special tokens, no BOS added), so the prompt text is exactly the reference ids and the
printed continuation reads back as ids."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ["HFK_SOURCE_DIR"])
sys.path.insert(0, str(SOURCE_DIR / "tests" / "hub"))
import hfkit  # noqa: E402
from hub_server import start_subprocess  # noqa: E402

ZOO = Path(os.environ["HFK_ZOO_DIR"])
CASES = {"qwen3": "qwen3", "gemma2": "gemma2", "gemma3": "gemma3_text", "phi3": "phi3",
         "phi2": "phi", "smollm3": "smollm3", "mixtral": "mixtral", "qwen3-moe": "qwen3_moe"}


def word_level_tokenizer(vocab_size):
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
            "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"},
            "post_processor": None,
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": False},
            "model": {"type": "WordLevel", "vocab": {f"t{i}": i for i in range(vocab_size)},
                      "unk_token": "t0"}}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    repos = tmp_path_factory.mktemp("zoo-repos")
    args = []
    for name in CASES:
        d = repos / name
        d.mkdir()
        for f in ("config.json", "model.safetensors"):
            shutil.copyfile(ZOO / name / f, d / f)
        config = json.loads((d / "config.json").read_text())
        (d / "tokenizer.json").write_text(json.dumps(word_level_tokenizer(config["vocab_size"])))
        args += ["--repo", f"zoo-{name}={d}"]
    proc, info = start_subprocess(*args)
    try:
        yield info["endpoint"], tmp_path_factory.mktemp("zoo-hub-cache")
    finally:
        proc.terminate()
        proc.wait(10)


def expected(name):
    ref = json.loads((ZOO / name / "reference.json").read_text())
    want = ref["greedy"]
    eos = json.loads((ZOO / name / "config.json").read_text())["eos_token_id"]
    if eos in want:  # generation stops there
        want = want[:want.index(eos)]
    assert len(want) >= 2, (name, ref["greedy"])
    return " ".join(f"t{i}" for i in ref["ids"]), want


def ids_of(text):
    return [int(t[1:]) for t in text.split()]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_zoo_architecture_loads_by_hub_id_and_continues_as_torch(hub, name):
    endpoint, cache = hub
    prompt, want = expected(name)
    env = dict(os.environ, HF_ENDPOINT=endpoint, HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="0")
    env.pop("HF_TOKEN", None)
    r = subprocess.run([os.environ["HFK_CLI"], "run", f"hfkit-test/zoo-{name}", prompt,
                        "--max-tokens", str(len(want)), "--temperature", "0", "--quiet"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ids_of(r.stdout) == want, r.stdout
    with hfkit.Model.from_pretrained(f"hfkit-test/zoo-{name}", cache_dir=str(cache),
                                     endpoint=endpoint, token="") as model:
        assert model.architecture == CASES[name]
        text = model.generate(prompt, max_new_tokens=len(want), temperature=0.0)
    assert ids_of(text) == want, text
