"""issue 15's Hub and cache defects through the hfkit command (pull, run, inspect, ls, du, rm).

Same setup as test_cli.py: the local Hub server on loopback, a cache per test. The read-only
cache tests need root (a read-only bind mount in a private mount namespace) or an unprivileged
user (setpriv); where a mechanism is missing they are skipped with the reason, never passed.
"""

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
import hub_server  # noqa: E402

OK, ERROR, USAGE, NOT_FOUND, AUTH, NETWORK, BAD_MODEL = 0, 1, 2, 3, 4, 5, 6
MODEL = "hfkit-test/aidreams260K"
BAD_TOKEN = "hf_thisIsNotAValidTokenXXXXXXXXXXXXXXXXXXX"


@pytest.fixture(scope="module")
def hub():
    proc, info = hub_server.start_subprocess(shared_dir=str(SHARED_DIR))
    yield info
    proc.kill()
    proc.wait()


@pytest.fixture()
def cache_root():
    # Not pytest's tmp_path (mode 0700 under /tmp/pytest-of-root): an unprivileged user must be
    # able to read this cache.
    d = pathlib.Path(tempfile.mkdtemp(prefix="hfkit-cli-hub-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture()
def env(hub, cache_root):
    e = dict(os.environ)
    e.update(HF_ENDPOINT=hub["endpoint"], HF_HUB_CACHE=str(cache_root / "cache"),
             HF_HOME=str(cache_root / "hf_home"), HF_TOKEN="")
    e.pop("HF_HUB_OFFLINE", None)
    return e


def hfkit(env, *args, prefix=(), timeout=120):
    return subprocess.run([*prefix, CLI, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def repo_dir(env, repo):
    return pathlib.Path(env["HF_HUB_CACHE"]) / ("models--" + repo.replace("/", "--"))


def pull(env, repo=MODEL):
    r = hfkit(env, "pull", repo)
    assert r.returncode == OK, r.stderr
    return pathlib.Path(r.stdout.strip())


# ---- item 2 -----------------------------------------------------------------------------------
def test_force_and_verify_with_a_bad_token_fail_and_the_implicit_check_warns(env):
    pull(env)
    bad = dict(env, HF_TOKEN=BAD_TOKEN)
    for flag in ("--force", "--verify"):
        r = hfkit(bad, "pull", MODEL, flag)
        assert r.returncode == AUTH, (flag, r.returncode, r.stderr)
        assert "HFK_E_AUTH" in r.stderr and BAD_TOKEN not in r.stderr
        assert r.stdout == ""
    r = hfkit(bad, "pull", MODEL)
    assert r.returncode == OK, r.stderr
    assert "warning" in r.stderr and "without checking for updates" in r.stderr, r.stderr
    # Loading goes through the same implicit check: it runs the cached copy and says so.
    r = hfkit(bad, "run", MODEL, "Once upon a time", "--max-tokens", "3")
    assert r.returncode == OK, r.stderr
    assert "warning" in r.stderr and "without checking for updates" in r.stderr, r.stderr
    r = hfkit(env, "run", MODEL, "Once upon a time", "--max-tokens", "3")
    assert r.returncode == OK and "warning" not in r.stderr, r.stderr


def test_gated_with_a_token_without_access_does_not_ask_for_a_token(env, hub):
    r = hfkit(dict(env, HF_TOKEN=hub["token_no_access"]), "pull", "hfkit-test/gated")
    assert r.returncode == AUTH
    assert "HFK_E_GATED" in r.stderr and "no access" in r.stderr and "pass a token" not in r.stderr
    r = hfkit(env, "pull", "hfkit-test/gated")
    assert r.returncode == AUTH and "pass a token" in r.stderr


# ---- item 8 -----------------------------------------------------------------------------------
def test_pickle_only_repo_is_refused_everywhere_before_any_download(env):
    for cmd in (["pull", "hfkit-test/pickle-only"], ["run", "hfkit-test/pickle-only", "Hello"]):
        r = hfkit(env, *cmd)
        assert r.returncode == BAD_MODEL, (cmd, r.returncode, r.stderr)
        assert "pickle" in r.stderr and "HFK_E_UNSUPPORTED" in r.stderr, (cmd, r.stderr)
    assert not repo_dir(env, "hfkit-test/pickle-only").exists(), "a refused repo left a folder"
    r = hfkit(env, "inspect", "hfkit-test/pickle-only")
    assert r.returncode == OK, r.stderr
    supported = [line for line in r.stdout.splitlines() if line.strip().startswith("supported")]
    assert len(supported) == 1 and "no" in supported[0] and "pickle" in supported[0], r.stdout


# ---- item 9 -----------------------------------------------------------------------------------
def test_pull_repairs_a_blob_truncated_in_place(env):
    snapshot = pull(env)
    weights = snapshot / "model.safetensors"
    original = (SHARED_DIR / "models" / "aidreams260K" / "model.safetensors").read_bytes()
    os.truncate(weights.resolve(), len(original) // 3)
    r = hfkit(env, "pull", MODEL)
    assert r.returncode == OK, r.stderr
    assert weights.read_bytes() == original


# ---- item 10 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("repo", ["hfkit-test/nosiblings", "hfkit-test/badsiblings"])
def test_a_listing_without_usable_files_is_an_error(env, repo):
    r = hfkit(env, "pull", repo)
    assert r.returncode == BAD_MODEL, (r.returncode, r.stderr)
    assert "HFK_E_FORMAT" in r.stderr and r.stdout == ""


# ---- item 11 ----------------------------------------------------------------------------------
def _read_only_prefix(path):
    """A command prefix that runs the rest with `path` mounted read-only, or a skip reason."""
    if os.geteuid() != 0:
        return None, "needs root for a bind mount"
    if shutil.which("unshare") is None:
        return None, "unshare(1) is not installed"
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(path)]
    probe = subprocess.run(prefix + ["sh", "-c", 'touch "$0"/probe', str(path)],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        os.unlink(path / "probe")
        return None, "the bind mount did not become read-only"
    if "Read-only file system" not in probe.stderr:
        return None, "cannot make a read-only bind mount here: " + probe.stderr.strip()
    return prefix, None


def test_a_complete_model_in_a_read_only_mount_pulls_and_runs_online(env):
    pull(env)
    cache = pathlib.Path(env["HF_HUB_CACHE"])
    prefix, why = _read_only_prefix(cache)
    if prefix is None:
        pytest.skip(why)
    r = hfkit(env, "pull", MODEL, prefix=prefix)
    assert r.returncode == OK, r.stderr
    assert "warning" not in r.stderr, r.stderr
    r = hfkit(env, "run", MODEL, "Once upon a time", "--max-tokens", "3", prefix=prefix)
    assert r.returncode == OK, r.stderr
    assert r.stdout.strip() != ""


def test_a_complete_model_in_a_cache_not_writable_by_the_user_pulls_and_runs(env):
    pull(env)
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv(1) is not installed")
    prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = subprocess.run(prefix + [CLI, "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the hfkit binary cannot run as nobody here: " + probe.stderr.strip()[:200])
    r = hfkit(env, "pull", MODEL, prefix=prefix)
    assert r.returncode == OK, r.stderr
    r = hfkit(env, "run", MODEL, "Once upon a time", "--max-tokens", "3", prefix=prefix)
    assert r.returncode == OK, r.stderr


# ---- item 16 ----------------------------------------------------------------------------------
def test_without_home_or_a_home_directory_the_cache_is_refused_by_name(env, cache_root):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to run as a user without a passwd entry")
    e = {k: v for k, v in env.items()
         if k not in ("HOME", "HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "HUGGINGFACE_HUB_CACHE")}
    uid = "54321"  # no passwd entry: no home directory anywhere
    prefix = ["setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups"]
    r = hfkit(e, "ls", prefix=prefix)
    if "cannot" in r.stderr and "exec" in r.stderr:
        pytest.skip("the hfkit binary cannot run as uid " + uid + ": " + r.stderr.strip()[:200])
    assert r.returncode != OK, r.stdout
    assert "HF_HUB_CACHE" in r.stderr and "HF_HOME" in r.stderr, r.stderr
    assert not pathlib.Path("/.cache/huggingface").exists() or "/.cache" not in r.stdout


# ---- item 21 ----------------------------------------------------------------------------------
def test_ls_marks_an_incomplete_revision(env):
    snapshot = pull(env)
    r = hfkit(env, "ls", "--json")
    assert r.returncode == OK
    models = json.loads(r.stdout)
    assert models[0]["complete"] is True and models[0]["revisions"][0]["complete"] is True
    assert "[incomplete]" not in hfkit(env, "ls").stdout
    (snapshot / "model.safetensors").unlink()
    models = json.loads(hfkit(env, "ls", "--json").stdout)
    assert models[0]["complete"] is False and models[0]["revisions"][0]["complete"] is False
    assert "[incomplete]" in hfkit(env, "ls").stdout


# ---- item 23 ----------------------------------------------------------------------------------
def test_rm_of_a_model_not_in_the_cache_is_not_found(env):
    r = hfkit(env, "rm", "hfkit-test/never-pulled")
    assert r.returncode == NOT_FOUND and "not in the cache" in r.stderr


# ---- item 28 ----------------------------------------------------------------------------------
def test_du_and_rm_ignore_symlinks_leading_out_of_the_cache(env, cache_root):
    snapshot = pull(env)
    before = json.loads(hfkit(env, "du", MODEL, "--json").stdout)["bytes"]
    outside = cache_root / "outside.txt"
    outside.write_text("nineteen bytes here")
    (snapshot / "extra.txt").symlink_to(outside)
    assert json.loads(hfkit(env, "du", MODEL, "--json").stdout)["bytes"] == before
    r = hfkit(env, "rm", MODEL, "--json")
    assert r.returncode == OK, r.stderr
    assert json.loads(r.stdout) == [{"model": MODEL, "freed": before}]
    assert outside.read_text() == "nineteen bytes here"
