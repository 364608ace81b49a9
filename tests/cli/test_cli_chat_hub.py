"""`hfkit template`, `hfkit run --chat` and `hfkit chat` on a model given BY HUB ID use that
repo's own chat template (issue 16). The local Hub (tests/hub/hub_server.py) serves aidreams260K
with a real template in tokenizer_config.json, chat_template.jinja or chat_template.json; the
rendering must equal python3-jinja2's (tests/chat/jinja_oracle.py, transformers' environment)."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("HFK_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SHARED_DIR = pathlib.Path(os.environ.get("HFK_SHARED_DIR", SOURCE_DIR.parent / "shared"))
CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "hub"))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "chat"))
import hub_server  # noqa: E402
import jinja_oracle  # noqa: E402

OK = 0
TEMPLATES = SHARED_DIR / "reference" / "chat" / "templates"
SPECIAL = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}  # aidreams260K's
MESSAGES = [{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "{{ not a template }} ✓"}]


@pytest.fixture(scope="module")
def env():
    proc, info = hub_server.start_subprocess(shared_dir=str(SHARED_DIR))
    root = pathlib.Path(tempfile.mkdtemp(prefix="hfkit-cli-chat-hub-"))
    e = dict(os.environ)
    e.update(HF_ENDPOINT=info["endpoint"], HF_HUB_CACHE=str(root / "cache"),
             HF_HOME=str(root / "hf_home"), HF_TOKEN="")
    e.pop("HF_HUB_OFFLINE", None)
    yield e
    proc.kill()
    proc.wait()
    shutil.rmtree(root, ignore_errors=True)


def hfkit(env, *args, stdin=None):
    return subprocess.run([CLI, *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)


def oracle(template_name, messages, add_generation_prompt):
    source = (TEMPLATES / (template_name + ".jinja")).read_text(encoding="utf-8")
    return jinja_oracle.render(jinja_oracle.make_env(), source, SPECIAL,
                               {"messages": messages, "add_generation_prompt": add_generation_prompt})


@pytest.mark.parametrize("repo,template", [
    ("hfkit-test/chat-config", "Qwen-Qwen2.5-7B-Instruct"),
    ("hfkit-test/chat-jinja", "meta-llama-Llama-3.1-8B-Instruct"),
    ("hfkit-test/chat-json", "google-gemma-2-2b-it")])
def test_template_of_a_hub_id_is_the_repos_own(env, tmp_path, repo, template):
    msgs = tmp_path / "m.json"
    msgs.write_text(json.dumps(MESSAGES, ensure_ascii=False), encoding="utf-8")
    r = hfkit(env, "template", repo, "--messages", str(msgs), "--add-generation-prompt")
    assert r.returncode == OK, r.stderr
    assert r.stdout == oracle(template, MESSAGES, True)


def test_run_chat_and_chat_on_a_hub_id_use_its_template(env, tmp_path):
    """`run --chat` on the Hub id gives the same greedy turn (prompt tokens and text) as the same
    weights given the repo's template explicitly; `chat` on the Hub id does not refuse (a model
    without a template does) and saves the turn."""
    repo, gemma = "hfkit-test/chat-json", TEMPLATES / "google-gemma-2-2b-it.jinja"
    r = hfkit(env, "run", repo, "--chat", "Once upon a time", "--max-tokens", "8", "--json")
    assert r.returncode == OK, r.stderr
    own = json.loads(r.stdout)
    r = hfkit(env, "run", str(SHARED_DIR / "models" / "aidreams260K"), "--chat", "Once upon a time",
              "--chat-template", str(gemma), "--max-tokens", "8", "--json")
    assert r.returncode == OK, r.stderr
    given = json.loads(r.stdout)
    assert own["n_prompt_tokens"] == given["n_prompt_tokens"] and own["text"] == given["text"]

    saved = tmp_path / "conv.json"
    r = hfkit(env, "chat", repo, "--max-tokens", "8", stdin=f"Once upon a time\n/save {saved}\n/quit\n")
    assert r.returncode == OK, r.stderr
    conv = json.loads(saved.read_text())
    assert [m["role"] for m in conv] == ["user", "assistant"]
    assert conv[1]["content"] == own["text"]
