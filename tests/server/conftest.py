"""Starts `hfkit serve --port 0` on loopback for the server tests and stops it with SIGTERM,
checking it exits 0 (the graceful shutdown is part of what every test exercises)."""

import http.client
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("HFK_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SHARED_DIR = pathlib.Path(os.environ.get("HFK_SHARED_DIR", SOURCE_DIR.parent / "shared"))
CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
CHAT_MODEL = str(SHARED_DIR / "models" / "aidreams260K")
BERT = SHARED_DIR / "models" / "tiny" / "tiny-bert-f32"
BERT_REFERENCE = SHARED_DIR / "reference" / "forward" / "tiny-bert-f32"
# aidreams260K has no chat template; this one writes Q:/A: turns (as tests/cli does).
TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}\n"
            "{% elif m.role == 'user' %}Q: {{ m.content }}\n{% else %}A:{{ m.content }}</s>\n"
            "{% endif %}{% endfor %}{% if add_generation_prompt %}A:{% endif %}")


def word_level_bert(directory: pathlib.Path) -> pathlib.Path:
    """tiny-bert-f32 ships no tokenizer and its reference was computed from ids: pair its weights
    with a WordLevel tokenizer where "t<i>" is id i, so a text encodes to the reference ids."""
    d = directory / "tiny-bert-wordlevel"
    d.mkdir()
    for name in ("config.json", "model.safetensors"):
        os.symlink(BERT / name, d / name)
    vocab_size = json.loads((BERT / "config.json").read_text())["vocab_size"]
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": {f"t{i}": i for i in range(vocab_size)},
                  "unk_token": "t0"},
    }
    (d / "tokenizer.json").write_text(json.dumps(tokenizer))
    return d


class Server:
    def __init__(self, args, env=None):
        self.proc = subprocess.Popen([CLI, "serve", *args, "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://([^:\s]+):(\d+)", line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"no listening line: {line!r} {self.proc.stderr.read()}")
        self.host, self.port = m.group(1), int(m.group(2))
        self.url = f"http://{self.host}:{self.port}"
        self.stderr = ""
        self.signalled = False

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)
        self.signalled = True

    def stop(self, timeout=60):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None and not self.signalled:
            self.terminate()
        try:
            _, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        return self.proc.returncode


def wait_ready(server, timeout=60):
    """Polls /health until it answers 200 (the first model is loaded)."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=5) as r:
                if r.status == 200:
                    return json.loads(r.read())
        except urllib.error.HTTPError as e:
            assert e.code == 503, e.code
        time.sleep(0.05)
    raise AssertionError("the server never became ready")


def get(server, path, timeout=60):
    """GET path: (status, body bytes)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    conn.request("GET", path)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def post(server, path, body, timeout=300):
    """POST body as JSON: (status, body bytes)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    conn.request("POST", path, body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def post_json(server, path, body, timeout=300):
    """POST body as JSON: (status, the reply parsed)."""
    status, data = post(server, path, body, timeout)
    return status, json.loads(data)


def metrics(server):
    """/metrics as {series (name and labels): value}."""
    status, data = get(server, "/metrics")
    assert status == 200
    out = {}
    for line in data.decode().splitlines():
        m = re.match(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


@pytest.fixture(scope="module")
def long_model(tmp_path_factory):
    """tiny-random-llama (2048 positions, random weights: it rarely ends by itself) with the
    llama2 tokenizer it uses."""
    d = tmp_path_factory.mktemp("trl") / "tiny-random-llama"
    d.mkdir()
    for name in ("config.json", "model.safetensors"):
        os.symlink(SHARED_DIR / "models" / "tiny-random-llama" / name, d / name)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        os.symlink(SHARED_DIR / "tokenizers" / "llama2" / name, d / name)
    return str(d)


@pytest.fixture(scope="module")
def template_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("tpl") / "qa.jinja"
    p.write_text(TEMPLATE)
    return p


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return word_level_bert(tmp_path_factory.mktemp("bert"))


def hfkit_run_json(*args):
    """The single-session oracle: `hfkit run ... --json`."""
    out = subprocess.run([CLI, "run", *args, "--json", "--threads", "1"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def node_script(name, config, timeout=120):
    js_dir = pathlib.Path(__file__).parent / "js"
    out = subprocess.run(["node", str(js_dir / name), json.dumps(config)], capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)
