"""`hfkit chat` with a chat template on a pseudo-terminal, its refusal for a model without one,
and `hfkit template` (issue 16). Runs on the shared aidreams260K checkpoint, given a template."""

import json
import os
import pathlib
import pty
import select
import subprocess
import time

SOURCE_DIR = pathlib.Path(os.environ.get("HFK_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SHARED_DIR = pathlib.Path(os.environ.get("HFK_SHARED_DIR", SOURCE_DIR.parent / "shared"))
CLI = os.environ.get("HFK_CLI", str(SOURCE_DIR / "build" / "examples" / "cli" / "hfkit"))
MODEL = str(SHARED_DIR / "models" / "aidreams260K")
OK, USAGE = 0, 2
TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}\n"
            "{% elif m.role == 'user' %}Q: {{ m.content }}\n{% else %}A:{{ m.content }}</s>\n"
            "{% endif %}{% endfor %}{% if add_generation_prompt %}A:{% endif %}")


def read_until(fd, needle, timeout=60):
    text = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and needle not in text.decode("utf-8", "replace"):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
    return text.decode("utf-8", "replace")


def test_chat_on_a_terminal_with_a_template(tmp_path):
    tpl = tmp_path / "t.jinja"
    tpl.write_text(TEMPLATE)
    saved = tmp_path / "conv.json"
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(CLI, [CLI, "chat", MODEL, "--chat-template", str(tpl), "--system", "Be brief.",
                       "--max-tokens", "6"])
    seen = read_until(fd, "> ")
    assert seen.endswith("> "), seen
    os.write(fd, b"Hello there\n")
    seen = read_until(fd, "\n> ")
    assert "\n> " in seen, seen
    os.write(fd, b"And then?\n")
    seen = read_until(fd, "\n> ")
    assert "\n> " in seen, seen
    os.write(fd, f"/save {saved}\n".encode())
    seen = read_until(fd, "saved to")
    assert "conversation saved" in seen, seen
    os.write(fd, b"/reset\n")
    assert "conversation cleared" in read_until(fd, "cleared")
    os.write(fd, b"/quit\n")
    read_until(fd, "\x00", timeout=5)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == OK, status
    conv = json.loads(saved.read_text())
    assert [m["role"] for m in conv] == ["system", "user", "assistant", "user", "assistant"]
    assert conv[0]["content"] == "Be brief." and conv[3]["content"] == "And then?"
    assert all("</s>" not in m["content"] for m in conv)


def test_chat_refuses_a_model_without_a_template():
    r = subprocess.run([CLI, "chat", MODEL], input="hi\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == USAGE
    assert "has no chat template" in r.stderr and "--chat-template" in r.stderr
    r = subprocess.run([CLI, "chat", MODEL, "--no-template", "--max-tokens", "3"], input="hi\n/quit\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == OK, r.stderr


def test_template_command_prints_the_rendering(tmp_path):
    msgs = tmp_path / "m.json"
    msgs.write_text(json.dumps([{"role": "system", "content": "You are a helpful assistant."},
                                {"role": "user", "content": "What is the capital of France?"}]))
    r = subprocess.run([CLI, "template", str(SHARED_DIR / "tokenizers" / "qwen2"), "--messages", str(msgs)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == OK, r.stderr
    # The independent reference (@huggingface/jinja) for the same conversation and tokenizer.
    ref = [json.loads(line) for line in (SHARED_DIR / "reference/chat/qwen2.jsonl").read_text().splitlines()[1:]]
    case = next(c for c in ref if c["name"] == "system_user" and not c["add_generation_prompt"])
    assert r.stdout == case["rendered"]
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([{"type": "function", "function": {"name": "f", "parameters": {}}}]))
    r = subprocess.run([CLI, "template", str(SHARED_DIR / "tokenizers" / "qwen2"), "--messages", str(msgs),
                        "--tools", str(tools), "--add-generation-prompt", "--chat-template",
                        str(SHARED_DIR / "reference/chat/templates/Qwen-Qwen2.5-7B-Instruct.jinja")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == OK, r.stderr
    assert '{"type": "function", "function": {"name": "f", "parameters": {}}}' in r.stdout and r.stdout.endswith("<|im_start|>assistant\n")


def test_run_chat_is_one_templated_turn(tmp_path):
    tpl = tmp_path / "t.jinja"
    tpl.write_text(TEMPLATE)
    r = subprocess.run([CLI, "run", MODEL, "--chat", "Hello", "--system", "Be brief.", "--chat-template",
                        str(tpl), "--max-tokens", "5", "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == OK, r.stderr
    out = json.loads(r.stdout)
    assert out["n_prompt_tokens"] > 0 and "</s>" not in out["text"]
    r = subprocess.run([CLI, "run", MODEL, "--chat", "Hello", "--quiet"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != OK and "no chat template" in r.stderr
