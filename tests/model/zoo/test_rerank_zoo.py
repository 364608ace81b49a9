"""Cross-encoder rerankers of the encoder zoo (make_encoders.py: BERT with token types 1 for the
document, XLM-RoBERTa with a TemplateProcessing pair, a two-label BERT) through Python's
Model.rerank, `hfkit rerank` and the local Hub by id, against the torch references of each
(query, document) pair: CrossEncoder's scores (sigmoid of one logit), raw logits, and which
pairs were truncated. The C API side (and more architectures) is test_rerank_api."""
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

RERANKERS = ["bert-reranker", "xlm-roberta-reranker"]


def ref(name):
    return json.loads((ZOO / name / "reference.json").read_text())


def close(got, want):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               atol=1e-4, rtol=0)


def cli(*args, **env):
    full = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(ZOO / "hf-home"))
    full.update(env)
    return subprocess.run([os.environ["HFK_CLI"], *args], capture_output=True, text=True,
                          env=full, timeout=120)


@pytest.mark.parametrize("name", RERANKERS)
def test_rerank_gives_the_cross_encoder_scores(name):
    r = ref(name)
    with hfkit.Model.from_pretrained(str(ZOO / name), n_threads=2) as m:
        for g in r["pairs"]:
            scores, truncated = m.rerank(g["query"], g["documents"], return_truncated=True)
            assert scores.shape == (len(g["documents"]),)
            close(scores, [s[0] for s in g["scores"]])
            assert truncated.tolist() == g["truncated"]
            close(m.rerank(g["query"], g["documents"], sigmoid=False),
                  [z[0] for z in g["logits"]])
    # The references reach every truncation case: the document alone, the query alone, both.
    assert [g["truncated"] for g in r["pairs"]] == [[False, False, True], [True, True]]


def test_a_head_with_several_labels_gives_a_row_of_logits_per_document():
    r = ref("bert-classifier")
    g = r["pairs"][0]
    with hfkit.Model.from_pretrained(str(ZOO / "bert-classifier")) as m:
        logits = m.rerank(g["query"], g["documents"])
        assert logits.shape == (len(g["documents"]), 2)
        close(logits, g["logits"])
        close(m.rerank(g["query"], g["documents"], sigmoid=True),
              1 / (1 + np.exp(-np.asarray(g["logits"]))))


def test_rerank_needs_a_classifier_head_and_c_strings():
    with hfkit.Model.from_pretrained(str(ZOO / "xlm-roberta-st-lasttoken")) as m:
        with pytest.raises(hfkit.UnsupportedError):
            m.rerank("w7", ["w8"])
    with hfkit.Model.from_pretrained(str(ZOO / "bert-reranker")) as m:
        with pytest.raises(ValueError, match="the query contains a NUL"):
            m.rerank("w7\0w8", ["w8"])
        with pytest.raises(ValueError, match="a document contains a NUL"):
            m.rerank("w7", ["w8", "w9\0"])
        assert m.rerank("w7", []).shape == (0,)


@pytest.mark.parametrize("name", RERANKERS)
def test_cli_rerank_prints_the_scores_and_warns_on_truncation(name):
    g = ref(name)["pairs"][0]
    out = cli("rerank", str(ZOO / name), g["query"], *g["documents"], "--json")
    assert out.returncode == 0, out.stderr
    close(json.loads(out.stdout), [s[0] for s in g["scores"]])
    assert "DOCUMENT 3 was truncated" in out.stderr
    assert "DOCUMENT 1 " not in out.stderr
    out = cli("rerank", str(ZOO / name), g["query"], *g["documents"], "--logits")
    assert out.returncode == 0, out.stderr
    close([float(line) for line in out.stdout.split()], [z[0] for z in g["logits"]])


def test_cli_rerank_usage_and_help():
    out = cli("rerank", str(ZOO / "bert-reranker"), "only a query")
    assert out.returncode == 2
    assert "rerank takes MODEL QUERY DOCUMENT" in out.stderr
    out = cli("rerank", "--help")
    assert out.returncode == 0 and out.stdout.startswith("usage: hfkit rerank"), out.stdout
    assert "  rerank " in cli("--help").stdout


def test_a_reranker_loads_from_the_local_hub_by_id(tmp_path):
    from hub_server import start_subprocess

    name = "xlm-roberta-reranker"
    proc, info = start_subprocess("--repo", f"{name}={ZOO / name}")
    try:
        env = {"HF_ENDPOINT": info["endpoint"], "HF_HUB_CACHE": str(tmp_path / "cache"),
               "HF_HUB_OFFLINE": "0"}
        g = ref(name)["pairs"][1]
        out = cli("rerank", f"hfkit-test/{name}", g["query"], *g["documents"], "--json", **env)
        assert out.returncode == 0, out.stderr
        close(json.loads(out.stdout), [s[0] for s in g["scores"]])
    finally:
        proc.terminate()
        proc.wait(10)
