"""The encoder zoo (make_encoders.py: BERT, RoBERTa, XLM-RoBERTa, DistilBERT, some shaped as
sentence-transformers repositories) against its torch references, through the Python API (which
is the C API underneath), the hfkit command, and the local Hub by id: embeddings with the
repository's pooling and with each explicit pooling, truncation flags, classifier logits, and
`inspect` parameter counts."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SOURCE_DIR = Path(os.environ["HFK_SOURCE_DIR"])
ZOO = Path(os.environ["HFK_ENCODER_ZOO_DIR"])
sys.path.insert(0, str(SOURCE_DIR / "tests" / "hub"))
import hfkit  # noqa: E402

EMBED_CASES = ["bert-st-cls", "roberta-st-mean", "xlm-roberta-st-lasttoken",
               "distilbert-st-max", "distilbert-sinusoidal", "modernbert-st-cls",
               "modernbert-biased"]
CLASSIFIER_CASES = ["roberta-reranker", "bert-classifier", "distilbert-st-max",
                    "modernbert-st-cls", "modernbert-biased"]
ALL_CASES = sorted({*EMBED_CASES, *CLASSIFIER_CASES})


def ref(name):
    return json.loads((ZOO / name / "reference.json").read_text())


def close(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    for g, w in zip(got.reshape(len(got), -1), want.reshape(len(want), -1)):
        cos = g @ w / (np.linalg.norm(g) * np.linalg.norm(w))
        assert cos > 0.99999, cos


@pytest.mark.parametrize("name", EMBED_CASES)
def test_the_repository_pooling_is_what_sentence_transformers_gives(name):
    r = ref(name)
    with hfkit.Model.from_pretrained(str(ZOO / name), n_threads=1) as m:
        for text, ids in zip(r["texts"], r["ids"]):
            if len(m.tokenize(text, True)) <= r["limit"]:
                assert m.tokenize(text, True) == ids
        vectors, truncated = m.embed(r["texts"], return_truncated=True)
    close(vectors, r["default"])
    assert truncated.tolist() == r["truncated"]
    assert r["truncated"] == [False, False, False, True]


@pytest.mark.parametrize("name", EMBED_CASES)
@pytest.mark.parametrize("pooling", ["mean", "cls", "lasttoken", "max"])
def test_an_explicit_pooling_overrides_the_repository(name, pooling):
    r = ref(name)
    with hfkit.Model.from_pretrained(str(ZOO / name), n_threads=1) as m:
        raw = m.embed(r["texts"], pooling=pooling, normalize=False)
        unit = m.embed(r["texts"], pooling=pooling, normalize=True)
    want = np.asarray(r["pooled"][pooling])
    close(raw, want)
    close(unit, want / np.linalg.norm(want, axis=1, keepdims=True))


@pytest.mark.parametrize("name", CLASSIFIER_CASES)
def test_classifier_logits_equal_the_torch_head(name):
    r = ref(name)
    with hfkit.Model.from_pretrained(str(ZOO / name), n_threads=2) as m:
        logits = m.classify_logits(r["texts"][:3])
        probs = m.classify(r["texts"][:3])
    want = np.asarray(r["logits"][:3])
    close(logits, want)
    e = np.exp(want - want.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(axis=1, keepdims=True), atol=1e-5)


def test_architecture_names():
    for name, arch in [("roberta-st-mean", "roberta"), ("xlm-roberta-st-lasttoken", "xlm-roberta"),
                       ("distilbert-sinusoidal", "distilbert"),
                       ("modernbert-biased", "modernbert")]:
        with hfkit.Model.from_pretrained(str(ZOO / name)) as m:
            assert m.architecture == arch
            assert not m.is_generator


def cli(*args, **env):
    full = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(ZOO / "hf-home"))
    full.update(env)
    return subprocess.run([os.environ["HFK_CLI"], *args], capture_output=True, text=True,
                          env=full, timeout=120)


@pytest.mark.parametrize("name", ["xlm-roberta-st-lasttoken", "distilbert-st-max",
                                  "modernbert-st-cls"])
def test_cli_embed_uses_the_repository_pooling_and_warns_on_truncation(name):
    r = ref(name)
    out = cli("embed", str(ZOO / name), *r["texts"], "--json", "--threads", "1")
    assert out.returncode == 0, out.stderr
    close(json.loads(out.stdout), r["default"])
    assert "TEXT 4 was truncated" in out.stderr
    assert "TEXT 1 " not in out.stderr
    out = cli("embed", str(ZOO / name), *r["texts"], "--json", "--pooling", "cls",
              "--no-normalize")
    assert out.returncode == 0, out.stderr
    close(json.loads(out.stdout), r["pooled"]["cls"])


@pytest.mark.parametrize("name", ALL_CASES)
def test_inspect_counts_the_base_model_parameters_from_the_config(name, tmp_path):
    # config.json alone: the count comes from the family's formula, not from weight headers.
    (tmp_path / "config.json").write_text((ZOO / name / "config.json").read_text())
    out = cli("inspect", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    [info] = json.loads(out.stdout)
    assert info["parameters_source"] == "config", info
    assert info["parameters"] == ref(name)["parameters"], info


def test_a_sentence_transformers_repo_loads_from_the_local_hub_by_id(tmp_path):
    from hub_server import start_subprocess

    name = "xlm-roberta-st-lasttoken"
    proc, info = start_subprocess("--repo", f"{name}={ZOO / name}")
    try:
        env = {"HF_ENDPOINT": info["endpoint"], "HF_HUB_CACHE": str(tmp_path / "cache"),
               "HF_HUB_OFFLINE": "0"}
        r = ref(name)
        out = cli("embed", f"hfkit-test/{name}", *r["texts"], "--json", **env)
        assert out.returncode == 0, out.stderr
        close(json.loads(out.stdout), r["default"])
        snap = next((tmp_path / "cache").glob("models--hfkit-test--*/snapshots/*"))
        assert (snap / "1_Pooling" / "config.json").is_file()
        assert (snap / "modules.json").is_file()
    finally:
        proc.terminate()
        proc.wait(10)
