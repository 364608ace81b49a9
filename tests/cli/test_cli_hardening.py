"""The hfkit command under hostile input (issue 15, items 3, 14, 15, 25, 27, 30).

Everything here runs offline on the bundled model (models/aidreams260K) or on small checkpoints
made in a temporary directory; nothing needs the Hub server.
"""

import json
import os
import pathlib
import pty
import re
import struct
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("HFK_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SHARED_DIR = pathlib.Path(os.environ.get("HFK_SHARED_DIR", SOURCE_DIR.parent / "shared"))
CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
MODEL_DIR = SOURCE_DIR / "models" / "aidreams260K"
HEADER = SOURCE_DIR / "capi" / "include" / "hfkit" / "hfkit.h"
USAGE, BAD_MODEL = 2, 6


@pytest.fixture()
def env(tmp_path):
    e = dict(os.environ)
    e.update(HF_HUB_CACHE=str(tmp_path / "cache"), HF_HOME=str(tmp_path / "hf_home"),
             HF_HUB_OFFLINE="1", HF_TOKEN="")
    return e


def hfkit(env, *args, stdin=subprocess.DEVNULL, input=None, timeout=120):
    if input is not None:
        stdin = None
    return subprocess.run([CLI, *args], env=env, stdin=stdin, input=input, capture_output=True,
                          timeout=timeout)


def on_a_terminal(env, *args):
    """Runs hfkit with its stdin on a pseudo-terminal (stdout and stderr stay pipes)."""
    master, slave = pty.openpty()
    try:
        return hfkit(env, *args, stdin=slave, timeout=60)
    finally:
        os.close(slave)
        os.close(master)


def text_of(r):
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)["text"]


# ---- item 14: every numeric option is parsed whole, with its range --------------------------

OUT_OF_RANGE = [
    ("run", "--max-tokens", "4294967296"),  # was truncated to 0: nothing generated, exit 0
    ("run", "--max-tokens", "-1"),
    ("run", "--max-tokens", "12abc"),
    ("run", "--ctx-size", "4294967360"),  # was wrapped to 64
    ("run", "--seed", "18446744073709551616"),
    ("run", "--seed", "-1"),
    ("run", "--top-k", "-5"),
    ("run", "--threads", "4294967297"),
    ("run", "--temperature", "nan"),
    ("run", "--temperature", "-0.5"),
    ("run", "--top-p", "1.5"),
    ("run", "--min-p", "2"),
    ("run", "--repeat-penalty", "0"),
    ("run", "--presence-penalty", "inf"),
    ("chat", "--ctx-size", "4294967360"),
    ("chat", "--max-tokens", "99999999999"),
    ("embed", "--threads", "-3"),
    ("inspect", "--context", "4294967296000000000000"),
    ("inspect", "--batch", "0"),
    ("inspect", "--kv-bytes", "3"),
]


@pytest.mark.parametrize("command,option,value", OUT_OF_RANGE)
def test_a_numeric_option_out_of_range_is_a_usage_error_naming_it(env, command, option, value):
    args = {"run": [str(MODEL_DIR), "Once"], "chat": [str(MODEL_DIR)],
            "embed": [str(MODEL_DIR), "text"], "inspect": [str(MODEL_DIR)]}[command]
    r = hfkit(env, command, *args, option, value)
    assert r.returncode == USAGE, (r.returncode, r.stdout, r.stderr)
    assert option.encode() in r.stderr and value.encode() in r.stderr, r.stderr


def test_the_largest_seed_is_not_saturated(env):
    def run(seed):
        return text_of(hfkit(env, "run", str(MODEL_DIR), "Once upon a time", "--json",
                             "--max-tokens", "32", "--temperature", "1", "--seed", seed))
    top = run("18446744073709551615")
    assert top == run("18446744073709551615"), "the same seed must give the same text"
    assert top != run("9223372036854775807"), "2^64-1 was saturated to 2^63-1"


# ---- item 25: one table from status to exit code --------------------------------------------

def header_statuses():
    body = HEADER.read_text()
    found = re.findall(r"^\s*(HFK_(?:OK|E_[A-Z_]+))\s*=\s*(-?\d+)", body, re.M)
    assert len(found) > 20, "the status enum of hfkit.h was not found"
    return {name: int(value) for name, value in found}


def readme_exit_table():
    """README's exit-code table: {status name: exit code}."""
    text = (SOURCE_DIR / "README.md").read_text()
    table = {}
    for code, statuses in re.findall(r"^\|\s*(\d+)\s*\|[^|]*\|([^|]*)\|\s*$", text, re.M):
        for name in re.findall(r"HFK_(?:OK|E_[A-Z_]+)", statuses):
            assert name not in table, f"{name} is listed twice in the README's exit-code table"
            table[name] = int(code)
    return table


def test_every_status_has_the_documented_exit_code(env):
    statuses = header_statuses()
    documented = readme_exit_table()
    assert set(documented) == set(statuses), (
        f"README misses {sorted(set(statuses) - set(documented))}, "
        f"lists unknown {sorted(set(documented) - set(statuses))}")
    # The README's categories (0 ok, 1 error, 2 usage, 3 not found, 4 gated or bad token,
    # 5 network or offline, 6 bad model, 130 Ctrl-C) applied to the statuses the issue names.
    for name, code in {"HFK_OK": 0, "HFK_E_INVALID_ARG": 2, "HFK_E_NOT_FOUND": 3,
                       "HFK_E_GATED": 4, "HFK_E_AUTH": 4, "HFK_E_OFFLINE": 5,
                       "HFK_E_NETWORK": 5, "HFK_E_FORMAT": 6, "HFK_E_UNSUPPORTED": 6,
                       "HFK_E_NUMERIC": 6, "HFK_E_CANCELLED": 130}.items():
        assert documented[name] == code, (name, documented[name], code)
    r = hfkit(env, "help", "exit-codes")
    assert r.returncode == 0, r.stderr
    table = {}
    for line in r.stdout.decode().splitlines():
        name, value, code = line.split()[:3]
        table[name] = (int(value), int(code))
    assert set(table) == set(statuses)
    for name, value in statuses.items():
        assert table[name] == (value, documented[name]), (name, table[name], documented[name])


def write_safetensors(path, tensors):
    """tensors: {name: (dtype, shape, bytes)}; the format's own layout, written by hand."""
    header, offset, blobs = {}, 0, []
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def read_safetensors(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    return {k: (v["dtype"], v["shape"], data[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
            for k, v in header.items()}


def test_a_model_that_computes_nan_exits_bad_model(env, tmp_path):
    model = tmp_path / "nan-model"
    model.mkdir()
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        if (MODEL_DIR / f).exists():
            (model / f).write_bytes((MODEL_DIR / f).read_bytes())
    tensors = read_safetensors(MODEL_DIR / "model.safetensors")
    nan = struct.pack("<f", float("nan"))
    poisoned = {k: (d, s, nan * (len(b) // 4) if "norm" in k and d == "F32" else b)
                for k, (d, s, b) in tensors.items()}
    assert poisoned != tensors, "no norm weight to poison"
    write_safetensors(model / "model.safetensors", poisoned)
    r = hfkit(env, "run", str(model), "Once upon a time", "--max-tokens", "4", "--quiet")
    assert b"HFK_E_NUMERIC" in r.stderr, r.stderr
    assert r.returncode == BAD_MODEL, r.returncode


def test_a_model_and_tokenizer_that_do_not_match_exit_bad_model(env, tmp_path):
    model = tmp_path / "mismatch"
    model.mkdir()
    (model / "config.json").write_bytes((MODEL_DIR / "config.json").read_bytes())
    (model / "model.safetensors").symlink_to(MODEL_DIR / "model.safetensors")
    for f in ("tokenizer.json", "tokenizer_config.json"):  # 32000 ids for a 512-row embedding
        (model / f).write_bytes((SHARED_DIR / "tokenizers" / "llama2" / f).read_bytes())
    r = hfkit(env, "run", str(model), "Once upon", "--max-tokens", "4", "--quiet")
    assert r.returncode == BAD_MODEL, (r.returncode, r.stderr)


# ---- item 27: names from the disk never reach the terminal raw; JSON is valid UTF-8 ----------

def fake_cached_model(cache, dir_name):
    """A one-file snapshot under a directory name given as bytes (pathlib takes only str)."""
    d = os.path.join(os.fsencode(cache), dir_name)
    commit = b"a" * 40
    os.makedirs(os.path.join(d, b"snapshots", commit))
    os.makedirs(os.path.join(d, b"refs"))
    with open(os.path.join(d, b"refs", b"main"), "wb") as f:
        f.write(commit)
    with open(os.path.join(d, b"snapshots", commit, b"config.json"), "wb") as f:
        f.write(b"{}")


def test_ls_escapes_control_sequences_and_its_json_is_utf8(env, tmp_path):
    cache = env["HF_HUB_CACHE"]
    fake_cached_model(cache, b"models--evil--x\x1b]0;pwned\x07\x1b[2Jy")
    fake_cached_model(cache, b"models--bad--\xff\xfe-utf8")
    r = hfkit(env, "ls")
    assert r.returncode == 0, r.stderr
    assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout, r.stdout
    assert b"evil/x\\x1b]0;pwned\\x07\\x1b[2Jy" in r.stdout, r.stdout
    r.stdout.decode("utf-8")  # strict: raises on an invalid byte
    r = hfkit(env, "ls", "--json")
    assert r.returncode == 0, r.stderr
    ids = sorted(m["repo_id"] for m in json.loads(r.stdout.decode("utf-8")))
    assert ids == ["bad/\ufffd\ufffd-utf8", "evil/x\x1b]0;pwned\x07\x1b[2Jy"], ids


def test_inspect_json_is_utf8_for_a_path_that_is_not(env, tmp_path):
    found = tmp_path / os.fsdecode(b"model-\xff")
    found.mkdir()
    (found / "config.json").write_bytes((MODEL_DIR / "config.json").read_bytes())
    missing = tmp_path / os.fsdecode(b"missing-\xfe")
    r = hfkit(env, "inspect", "--json", str(found), str(missing))
    out = json.loads(r.stdout.decode("utf-8"))
    assert [o["source"].endswith(s) for o, s in zip(out, ["model-\ufffd", "missing-\ufffd"])] == [True, True], out
    assert "error" in out[1] and "error" not in out[0], out
    # The human form does not print the raw byte either.
    r = hfkit(env, "inspect", str(found))
    assert r.returncode == 0, r.stderr
    assert b"model-\\xff" in r.stdout, r.stdout
    r.stdout.decode("utf-8")


# ---- item 30: the C API's vocabulary ---------------------------------------------------------

def test_run_json_uses_the_c_api_names(env):
    body = HEADER.read_text()
    struct_text = re.search(r"typedef struct hfk_gen_result \{(.*?)\} hfk_gen_result;", body, re.S)
    fields = re.findall(r"^\s*\w+\s+(\w+);", struct_text.group(1), re.M)
    fields = [f for f in fields if f != "struct_size"]
    assert "n_prompt_tokens" in fields and "stop_reason" in fields, fields
    r = hfkit(env, "run", str(MODEL_DIR), "Once upon a time", "--json", "--max-tokens", "3",
              "--temperature", "0", "--quiet")
    out = json.loads(r.stdout)
    assert set(fields) <= set(out), sorted(set(fields) - set(out))
    assert out["stop_reason"] == "max_tokens", out  # HFK_STOP_MAX_TOKENS, as Python names it


def test_rm_help_does_not_contradict_itself(env):
    r = hfkit(env, "rm", "--help")
    assert r.returncode == 0
    assert b"every revision" in r.stdout and b"default main" not in r.stdout, r.stdout


# ---- item 3: a lone model is not a prompt; stdin is ------------------------------------------

def test_a_lone_model_on_a_terminal_is_a_missing_prompt(env):
    for model in (str(MODEL_DIR), "hfkit-test/aidreams260K", "gpt2"):
        r = on_a_terminal(env, "run", model)
        assert r.returncode == USAGE, (model, r.returncode, r.stdout, r.stderr)
        assert b"prompt is missing" in r.stderr, r.stderr


def test_a_lone_model_with_empty_stdin_is_a_missing_prompt(env):
    r = hfkit(env, "run", str(MODEL_DIR), stdin=subprocess.DEVNULL)
    assert r.returncode == USAGE and b"prompt is missing" in r.stderr, (r.returncode, r.stderr)


def test_the_prompt_comes_from_stdin(env):
    greedy = ("--json", "--max-tokens", "12", "--temperature", "0")
    expected = text_of(hfkit(env, "run", str(MODEL_DIR), "Once upon a time", *greedy))
    assert text_of(hfkit(env, "run", str(MODEL_DIR), *greedy, input=b"Once upon a time\n")) == expected
    assert text_of(hfkit(env, "run", str(MODEL_DIR), "-", *greedy, input=b"Once upon a time")) == expected
    # "-" alone: the bundled model, prompt from stdin.
    env = dict(env, HFK_DEFAULT_MODEL=str(MODEL_DIR))
    assert text_of(hfkit(env, "run", "-", *greedy, input=b"Once upon a time\n")) == expected
    # A lone word that is no model stays the prompt of the bundled model.
    assert text_of(hfkit(env, "run", "Once upon a time", *greedy)) == expected


# ---- item 15: bounded line input -------------------------------------------------------------

def test_inspect_file_refuses_a_line_over_one_mib(env, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"x" * (2 << 20))  # no newline, as /dev/zero
    r = hfkit(env, "inspect", "--file", str(listing), timeout=60)
    assert r.returncode == USAGE, (r.returncode, r.stderr[:300])
    assert b"longer than 1 MiB" in r.stderr, r.stderr[:300]


def test_chat_refuses_a_line_longer_than_the_context_can_hold(env):
    r = hfkit(env, "chat", str(MODEL_DIR), "--no-template", "--max-tokens", "2", input=b"y" * (1 << 20),
              timeout=60)
    assert r.returncode == USAGE, (r.returncode, r.stderr[-300:])
    assert b"cannot fit the context" in r.stderr, r.stderr[-300:]


def test_a_prompt_on_stdin_longer_than_the_context_is_refused(env):
    r = hfkit(env, "run", str(MODEL_DIR), "-", input=b"z" * (1 << 20), timeout=60)
    assert r.returncode == USAGE and b"longer than" in r.stderr, (r.returncode, r.stderr[-300:])
