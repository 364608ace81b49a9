"""Models loaded by Hub id bring their own chat template (issue 16): the local Hub
(tests/hub/hub_server.py) serves aidreams260K with a real template in tokenizer_config.json (a
string, or named templates), chat_template.jinja or chat_template.json; apply_chat_template and
chat on the downloaded model must render what python3-jinja2 (configured as transformers
configures it, tests/chat/jinja_oracle.py) renders for the template transformers would pick."""

import json
import re
import sys

import pytest

from conftest import SHARED_DIR, SOURCE_DIR

sys.path.insert(0, str(SOURCE_DIR / "tests" / "chat"))
import jinja_oracle  # noqa: E402

TEMPLATES = SHARED_DIR / "reference" / "chat" / "templates"
QWEN, GEMMA, LLAMA = "Qwen-Qwen2.5-7B-Instruct", "google-gemma-2-2b-it", "meta-llama-Llama-3.1-8B-Instruct"
# The special tokens transformers passes to the template: aidreams260K's tokenizer_config.
SPECIAL = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def conversations():
    convs = json.loads((SHARED_DIR / "reference" / "chat" / "conversations.json").read_text())
    return [c["messages"] for c in convs]


def oracle(template_name, messages, add_generation_prompt, tools=None):
    """(rendered text, None) or (None, the error message) from python3-jinja2."""
    source = (TEMPLATES / (template_name + ".jinja")).read_text(encoding="utf-8")
    req = {"messages": messages, "add_generation_prompt": add_generation_prompt, "tools": tools}
    try:
        return jinja_oracle.render(jinja_oracle.make_env(), source, SPECIAL, req), None
    except jinja_oracle.Raised as e:
        return None, str(e)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("chat-hub-cache")


def load(hfkit, endpoint, cache, repo):
    return hfkit.Model.from_pretrained(repo, cache_dir=str(cache), endpoint=endpoint, token="")


# repo -> the template transformers picks for a conversation without tools: a config string,
# the config's "default" of a named list, chat_template.jinja over the config's string,
# chat_template.json.
@pytest.mark.parametrize("repo,template", [
    ("hfkit-test/chat-config", QWEN), ("hfkit-test/chat-named", GEMMA),
    ("hfkit-test/chat-jinja", LLAMA), ("hfkit-test/chat-json", GEMMA)])
def test_a_hub_model_renders_its_own_template_like_jinja2(hfkit, endpoint, cache, repo, template):
    with load(hfkit, endpoint, cache, repo) as model:
        rendered = 0
        for messages in conversations():
            for gen in (False, True):
                want, error = oracle(template, messages, gen)
                if error is not None:  # e.g. Gemma refuses a system message
                    with pytest.raises(hfkit.FormatError, match="^" + re.escape(error)):
                        model.apply_chat_template(messages, add_generation_prompt=gen, tokenize=False)
                    continue
                got = model.apply_chat_template(messages, add_generation_prompt=gen, tokenize=False)
                assert got == want, (repo, messages, gen)
                rendered += 1
        assert rendered >= 10


def test_named_templates_pick_tool_use_when_tools_are_given(hfkit, endpoint, cache):
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    with load(hfkit, endpoint, cache, "hfkit-test/chat-named") as model:
        want, _ = oracle(QWEN, messages, True, tools=TOOLS)
        assert model.apply_chat_template(messages, tools=TOOLS, add_generation_prompt=True,
                                         tokenize=False) == want
        want, _ = oracle(GEMMA, messages, True)
        assert model.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) == want


def test_chat_on_a_hub_model_uses_its_template(hfkit, endpoint, cache):
    """Model.chat (and its stream) with the repo's template gives the same turn as the same
    template passed explicitly to the same weights; the prompt holds the template's tokens."""
    messages = [{"role": "user", "content": "Once upon a time"}]
    # chat_template.json's Gemma 2 template: short enough for aidreams260K's 128-token context.
    gemma = (TEMPLATES / (GEMMA + ".jinja")).read_text(encoding="utf-8")
    with load(hfkit, endpoint, cache, "hfkit-test/chat-json") as model:
        want, _ = oracle(GEMMA, messages, True)
        assert model.apply_chat_template(messages, add_generation_prompt=True) == \
            model.tokenize(want, add_special_tokens=False)
        own = model.chat(messages, max_new_tokens=16)
        assert own == model.chat(messages, chat_template=gemma, max_new_tokens=16)
        stream = model.chat(messages, max_new_tokens=16, stream=True)
        assert "".join(stream) == own["content"] and stream.message == own
