"""`tools` in a chat request reach the chat template: /v1/chat/completions with tools and a
template that lists them replies exactly as one session does (`hfkit run --chat`) with a
template that has the same tool list written in, and `hfkit template` renders both alike."""

import http.client
import json
import subprocess

from conftest import CHAT_MODEL, CLI, Server, hfkit_run_json, wait_ready

TOOLS_TEMPLATE = ("{{ bos_token }}{% if tools %}Tools: {% for t in tools %}{{ t.function.name }} "
                  "{% endfor %}{% endif %}{% for m in messages %}Q: {{ m.content }}\n"
                  "{% endfor %}{% if add_generation_prompt %}A:{% endif %}")
WRITTEN_IN = ("{{ bos_token }}Tools: get_weather {% for m in messages %}Q: {{ m.content }}\n"
              "{% endfor %}{% if add_generation_prompt %}A:{% endif %}")
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}]
USER = "Once upon a time"


def render(tmp_path, template, tools):
    (tmp_path / "m.json").write_text(json.dumps([{"role": "user", "content": USER}]))
    (tmp_path / "t.json").write_text(json.dumps(tools))
    out = subprocess.run([CLI, "template", CHAT_MODEL, "--messages", str(tmp_path / "m.json"),
                          "--tools", str(tmp_path / "t.json"), "--add-generation-prompt",
                          "--chat-template", str(template)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_tools_reach_the_template(tmp_path):
    with_tools = tmp_path / "tools.jinja"
    with_tools.write_text(TOOLS_TEMPLATE)
    written_in = tmp_path / "written.jinja"
    written_in.write_text(WRITTEN_IN)
    assert "get_weather" in render(tmp_path, with_tools, TOOLS)
    assert render(tmp_path, with_tools, TOOLS) == render(tmp_path, written_in, [])
    oracle = hfkit_run_json(CHAT_MODEL, "--chat", USER, "--chat-template", str(written_in),
                            "--max-tokens", "6", "--temperature", "0")
    assert oracle["n_generated_tokens"] == 6

    s = Server([CHAT_MODEL, "--chat-template", str(with_tools), "--threads", "1"])
    try:
        wait_ready(s)
        replies = []
        for tools in (TOOLS, None):
            body = {"messages": [{"role": "user", "content": USER}], "max_tokens": 6,
                    "temperature": 0}
            if tools:
                body["tools"] = tools
            conn = http.client.HTTPConnection(s.host, s.port, timeout=60)
            conn.request("POST", "/v1/chat/completions", body=json.dumps(body).encode())
            r = conn.getresponse()
            replies.append((r.status, json.loads(r.read())))
            conn.close()
    finally:
        assert s.stop() == 0, s.stderr
    (status, body), (_, without) = replies
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == oracle["text"]
    assert body["usage"]["prompt_tokens"] == oracle["n_prompt_tokens"]
    assert body["usage"]["completion_tokens"] == 6
    # Without tools the template writes no tool line: a shorter prompt.
    assert without["usage"]["prompt_tokens"] < body["usage"]["prompt_tokens"]
