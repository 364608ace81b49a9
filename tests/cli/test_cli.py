"""The hfkit command end to end, against the local Hub server on loopback (issue 10).

Each test gets its own cache (HF_HUB_CACHE) and talks to the Hub named by HF_ENDPOINT, as a
user would; nothing inside hfkit is replaced. The terminal test runs the command on a
pseudo-terminal and presses Ctrl-C there.
"""

import hashlib
import json
import os
import pathlib
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from hfk_paths import SHARED_DIR, SOURCE_DIR  # noqa: E402

CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "hub"))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "examples"))
import hub_server  # noqa: E402
from reference_text import decode  # noqa: E402

# Exit codes, as `hfkit --help` documents them.
OK, USAGE, NOT_FOUND, AUTH, NETWORK, INTERRUPTED = 0, 2, 3, 4, 5, 130
MODEL = "hfkit-test/aidreams260K"
SLOW_BPS = 150_000  # hfkit-test/slow: about 6 s for its 0.9 MB of weights


@pytest.fixture(scope="module")
def hub():
    proc, info = hub_server.start_subprocess("--slow-bps", str(SLOW_BPS), "--stall-interval", "20",
                                             shared_dir=str(SHARED_DIR))
    yield info
    proc.kill()
    proc.wait()


@pytest.fixture()
def env(hub, tmp_path):
    e = dict(os.environ)
    e.update(HF_ENDPOINT=hub["endpoint"], HF_HUB_CACHE=str(tmp_path / "cache"),
             HF_HOME=str(tmp_path / "hf_home"), HF_TOKEN="")
    e.pop("HF_HUB_OFFLINE", None)
    return e


def hfkit(env, *args, timeout=120):
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def blobs(env, repo):
    d = pathlib.Path(env["HF_HUB_CACHE"]) / ("models--" + repo.replace("/", "--")) / "blobs"
    return sorted(d.iterdir()) if d.is_dir() else []


def test_every_command_has_help():
    top = subprocess.run([CLI, "--help"], capture_output=True, text=True)
    assert top.returncode == OK
    for cmd in ["run", "chat", "template", "embed", "pull", "ls", "rm", "du", "inspect"]:
        assert f"  {cmd} " in top.stdout, f"`hfkit --help` does not list {cmd}"
        r = subprocess.run([CLI, cmd, "--help"], capture_output=True, text=True)
        assert r.returncode == OK, (cmd, r.stderr)
        assert r.stdout.startswith(f"usage: hfkit {cmd}"), (cmd, r.stdout)
    r = subprocess.run([CLI, "frobnicate"], capture_output=True, text=True)
    assert r.returncode == USAGE and "unknown command" in r.stderr
    r = subprocess.run([CLI, "pull", "--no-such-option", MODEL], capture_output=True, text=True)
    assert r.returncode == USAGE and "--no-such-option" in r.stderr


def test_pull_ls_du_rm(env):
    r = hfkit(env, "pull", MODEL)
    assert r.returncode == OK, r.stderr
    snapshot = pathlib.Path(r.stdout.strip())
    assert snapshot.is_dir() and (snapshot / "config.json").is_file()
    assert str(snapshot).startswith(env["HF_HUB_CACHE"])
    # Not a terminal: plain progress lines, no carriage returns.
    assert "downloading 100%" in r.stderr and "\r" not in r.stderr, r.stderr

    r = hfkit(env, "ls", "--json")
    assert r.returncode == OK
    [entry] = json.loads(r.stdout)
    assert entry["repo_id"] == MODEL and entry["revisions"][0]["refs"] == ["main"]
    r = hfkit(env, "ls")
    assert MODEL in r.stdout and "main" in r.stdout

    on_disk = sum(b.stat().st_size for b in blobs(env, MODEL))
    r = hfkit(env, "du", MODEL, "--json")
    assert r.returncode == OK and json.loads(r.stdout) == {"model": MODEL, "bytes": on_disk}
    r = hfkit(env, "du")
    assert r.returncode == OK and f"({on_disk} bytes)" in r.stdout

    # A second pull downloads nothing.
    before = len(hub_log_cdn(env))
    r = hfkit(env, "pull", MODEL, "--json")
    assert r.returncode == OK and json.loads(r.stdout)["path"] == str(snapshot)
    assert len(hub_log_cdn(env)) == before, "the weights were downloaded again"
    # --force downloads them again.
    r = hfkit(env, "pull", MODEL, "--force", "--quiet")
    assert r.returncode == OK, r.stderr
    assert len(hub_log_cdn(env)) == before + 1, "--force did not download the weights again"

    r = hfkit(env, "rm", MODEL)
    assert r.returncode == OK and "removed" in r.stdout
    assert json.loads(hfkit(env, "ls", "--json").stdout) == []
    r = hfkit(env, "du", MODEL)
    assert r.returncode == NOT_FOUND and "not in the cache" in r.stderr
    r = hfkit(env, "rm", MODEL)
    assert r.returncode == NOT_FOUND, r.stderr


def hub_log_cdn(env):
    out = subprocess.run(["curl", "-s", env["HF_ENDPOINT"] + "/_log"], capture_output=True,
                         check=True)
    return [e for e in json.loads(out.stdout) if e["host"] == "cdn"]


def test_run_a_hub_id_prints_the_reference_text(env):
    forward = SHARED_DIR / "reference" / "forward" / "aidreams260K" / "forward_bos_f32.json"
    tokenizer = json.loads((SOURCE_DIR / "models" / "aidreams260K" / "tokenizer.json").read_text())
    expected = decode(tokenizer, json.loads(forward.read_text())["greedy"][:24])
    r = hfkit(env, "run", MODEL, "", "--max-tokens", "24", "--temperature", "0")
    assert r.returncode == OK, r.stderr
    assert r.stdout == expected + "\n"
    assert "downloading" in r.stderr and "loading" in r.stderr
    # The bundled model, without MODEL, says the same.
    r = hfkit(env, "run", "", "--max-tokens", "24", "--temperature", "0", "--quiet")
    assert r.returncode == OK and r.stdout == expected + "\n" and r.stderr == ""


def test_inspect_one_model_reads_headers_only(env):
    r = hfkit(env, "inspect", "hfkit-test/tiny-gpt2", "--json")
    assert r.returncode == OK, r.stderr
    [info] = json.loads(r.stdout)
    assert info["parameters"] == 102_714 and info["parameters_exact"] is True
    weights_file = SHARED_DIR / "models" / "tiny-gpt2" / "model.safetensors"
    weights = weights_file.stat().st_size
    sha = hashlib.sha256(weights_file.read_bytes()).hexdigest()  # the CDN names blobs by hash
    weight_requests = [e for e in hub_log_cdn(env) if sha in e["path"]]
    assert weight_requests and all(e.get("range") for e in weight_requests), weight_requests
    sent = sum(e["bytes"] for e in weight_requests)
    assert sent < weights / 100, "inspect downloaded more than the header bytes"
    assert not any(b.name.endswith(".incomplete") or b.stat().st_size >= weights
                   for b in blobs(env, "hfkit-test/tiny-gpt2"))
    r = hfkit(env, "inspect", "hfkit-test/tiny-gpt2")
    assert r.returncode == OK
    assert "102714" in r.stdout and "exact" in r.stdout and "kv cache per token" in r.stdout


def test_inspect_a_list_continues_past_failures(env, tmp_path):
    listing = tmp_path / "models.txt"
    listing.write_text("# models to check\n"
                       "hfkit-test/tiny-gpt2   # a small one\n"
                       "\n"
                       "hfkit-test/gated\n"
                       "hfkit-test/no-such-model\n"
                       f"{SHARED_DIR / 'models' / 'aidreams260K'}\n")
    r = hfkit(env, "inspect", "--file", str(listing), "--json")
    assert r.returncode == AUTH, "the exit code is the first failure's (gated)"
    out = json.loads(r.stdout)
    assert [o["source"] for o in out] == ["hfkit-test/tiny-gpt2", "hfkit-test/gated",
                                          "hfkit-test/no-such-model",
                                          str(SHARED_DIR / "models" / "aidreams260K")]
    assert out[1]["error"]["status"] == "HFK_E_GATED"
    assert out[2]["error"]["status"] == "HFK_E_NOT_FOUND"
    assert out[3]["model_type"] == "llama" and out[3]["download_bytes"] == 0
    # Without --json: a table of the ones that worked, errors on stderr.
    r = hfkit(env, "inspect", "--file", str(listing))
    lines = r.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["MODEL", "TYPE", "PARAMS"]
    assert [line.split("\t")[0] for line in lines[1:]] == [
        "hfkit-test/tiny-gpt2", str(SHARED_DIR / "models" / "aidreams260K")]
    assert "gated" in r.stderr and "no-such-model" in r.stderr


def test_error_messages_and_exit_codes(env):
    r = hfkit(env, "pull", "hfkit-test/no-such-model")
    assert r.returncode == NOT_FOUND
    assert "not found" in r.stderr and "HFK_E_NOT_FOUND" in r.stderr
    r = hfkit(env, "pull", "hfkit-test/gated")
    assert r.returncode == AUTH
    assert "gated" in r.stderr and "token" in r.stderr
    r = hfkit(env, "run", "hfkit-test/gated", "hi")
    assert r.returncode == AUTH and "gated" in r.stderr
    # No network: nothing listens on port 1. The retries' backoff is shortened (1 s base by
    # default: 15 s of sleeping here); that the waits grow is tested in tests/hub (Faults.*).
    unreachable = dict(env, HF_ENDPOINT="http://127.0.0.1:1", HFK_HUB_RETRY_BASE_MS="20")
    r = hfkit(unreachable, "pull", MODEL)
    assert r.returncode == NETWORK
    assert "cannot reach the Hub" in r.stderr and "HFK_E_NETWORK" in r.stderr
    # Offline and not cached.
    r = hfkit(env, "pull", MODEL, "--offline")
    assert r.returncode == NETWORK and "HFK_E_OFFLINE" in r.stderr
    r = hfkit(env, "run", "/no/such/model", "hi")
    assert r.returncode == NOT_FOUND
    r = hfkit(env, "run", "--max-tokens", "many", "hi")
    assert r.returncode == USAGE and "whole number" in r.stderr


def read_pty(fd, until, timeout):
    """Reads from the pty until `until(text)` holds or the time is up; returns the text."""
    text = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(text.decode("utf-8", "replace")):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            text += chunk
    return text.decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_and_ctrl_c_leaves_a_resumable_download(env):
    repo = "hfkit-test/slow"
    pid, fd = pty.fork()
    if pid == 0:  # the child: hfkit on the pseudo-terminal
        os.execve(CLI, [CLI, "pull", repo], env)
    # The bar redraws in place (\r) with a percentage, bytes, rate and ETA.
    seen = read_pty(fd, lambda t: t.count("\r") >= 3 and "ETA" in t, 30)
    assert "\r" in seen and "ETA" in seen, seen
    assert "pulling hfkit-test/slow: downloading" in seen and "[#" in seen, seen
    assert "kB/s" in seen, seen

    # The bar may move on the small files alone: Ctrl-C only once the weights have bytes on disk.
    def weights_started(_):
        for b in blobs(env, repo):
            try:
                if b.name.endswith(".incomplete") and b.stat().st_size > 0:
                    return True
            except FileNotFoundError:  # a small file published meanwhile
                pass
        return False

    seen += read_pty(fd, weights_started, 30)
    assert weights_started(seen), blobs(env, repo)
    assert "downloading 100%" not in seen, "the download finished before Ctrl-C: too fast"
    os.write(fd, b"\x03")  # Ctrl-C, typed on the terminal: SIGINT to the foreground group
    rest = read_pty(fd, lambda t: "interrupted" in t, 20)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WIFEXITED(status), f"hfkit died of a signal: {status}"
    assert os.WEXITSTATUS(status) == INTERRUPTED, rest
    assert "run the same command again to resume" in rest
    partial = [b for b in blobs(env, repo) if b.name.endswith(".incomplete")]
    assert len(partial) == 1 and partial[0].stat().st_size > 0, blobs(env, repo)
    kept = partial[0].stat().st_size

    # The same command resumes from where it stopped (an HTTP Range request) and completes.
    r = hfkit(env, "pull", repo)
    assert r.returncode == OK, r.stderr
    ranges = [e["range"] for e in hub_log_cdn(env) if "/slow/" in e["path"] and e.get("range")]
    assert f"bytes={kept}-" in ranges, ranges
    assert not any(b.name.endswith(".incomplete") for b in blobs(env, repo))
    weights = SHARED_DIR / "models" / "aidreams260K" / "model.safetensors"
    assert (pathlib.Path(r.stdout.strip()) / "model.safetensors").read_bytes() == weights.read_bytes()


def test_sigterm_during_a_pull_is_an_interruption_too(env):
    proc = subprocess.Popen([CLI, "pull", "hfkit-test/slow"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == INTERRUPTED, err


def test_pull_verify_replaces_a_damaged_file(env):
    r = hfkit(env, "pull", MODEL, "--quiet")
    assert r.returncode == OK, r.stderr
    weights = pathlib.Path(r.stdout.strip()) / "model.safetensors"
    good = weights.read_bytes()
    blob = weights.resolve()
    blob.chmod(0o644)
    with open(blob, "r+b") as f:  # flip one byte in the cached blob
        f.seek(1000)
        f.write(bytes([good[1000] ^ 0xFF]))
    assert hfkit(env, "pull", MODEL, "--quiet").returncode == OK
    assert weights.read_bytes() != good, "a plain pull only stats the cache"
    r = hfkit(env, "pull", MODEL, "--verify")
    assert r.returncode == OK, r.stderr
    assert weights.read_bytes() == good


def test_ctrl_c_during_a_stalled_transfer_still_exits_promptly(env):
    # hfkit-test/stall sends 64 KiB, then a byte every few seconds: no progress arrives, so the
    # cancel cannot ride on a progress callback; the command must still leave within seconds.
    proc = subprocess.Popen([CLI, "pull", "hfkit-test/stall"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == INTERRUPTED, err
    assert time.monotonic() - t0 < 6, "Ctrl-C waited for the stalled transfer"
    assert any(b.name.endswith(".incomplete") for b in blobs(env, "hfkit-test/stall"))
