"""Model.apply_chat_template (transformers' signature and return types) and Model.chat."""

import json

import pytest

from conftest import SHARED_DIR

# Assistant turns end with "</s>" (the aidreams260K tokenizer's EOS).
TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}Q: {{ m.content }}\n"
            "{% else %}A:{{ m.content }}</s>\n{% endif %}{% endfor %}"
            "{% if add_generation_prompt %}A:{% endif %}")


@pytest.fixture(scope="module")
def model(hfkit, model_dir):
    with hfkit.Model.from_pretrained(str(model_dir)) as m:
        yield m


def qwen2_template():
    cfg = json.loads((SHARED_DIR / "tokenizers/qwen2/tokenizer_config.json").read_text())
    return cfg["chat_template"]


def test_apply_chat_template_text_matches_the_reference(model):
    convs = json.loads((SHARED_DIR / "reference/chat/conversations.json").read_text())
    ref = [json.loads(line) for line in (SHARED_DIR / "reference/chat/qwen2.jsonl").read_text().splitlines()[1:]]
    for case in ref[:6]:
        if "rendered" not in case:
            continue
        text = model.apply_chat_template(convs[case["index"]]["messages"], chat_template=qwen2_template(),
                                         add_generation_prompt=case["add_generation_prompt"], tokenize=False)
        assert isinstance(text, str)
        assert text == case["rendered"], case["name"]


def test_apply_chat_template_tokenizes_without_special_tokens(model):
    msgs = [{"role": "user", "content": "Hello"}]
    text = model.apply_chat_template(msgs, chat_template=TEMPLATE, tokenize=False, add_generation_prompt=True)
    ids = model.apply_chat_template(msgs, chat_template=TEMPLATE, add_generation_prompt=True)
    assert isinstance(ids, list) and all(isinstance(i, int) for i in ids)
    assert ids == model.tokenize(text, add_special_tokens=False)


def test_template_errors_raise(hfkit, model):
    with pytest.raises(hfkit.NotFoundError):  # aidreams260K carries no template
        model.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
    with pytest.raises(hfkit.FormatError, match=r"^nope \[HFK_E_FORMAT\]$"):
        model.apply_chat_template([], chat_template="{{ raise_exception('nope') }}", tokenize=False)


def test_extra_kwargs_are_template_variables(model):
    tpl = "{{ 'on' if enable_thinking else 'off' }}|{{ tools is none }}"
    assert model.apply_chat_template([], chat_template=tpl, tokenize=False, enable_thinking=True) == "on|True"
    assert model.apply_chat_template([], chat_template=tpl, tokenize=False, enable_thinking=False,
                                     tools=[]) == "off|False"


def test_chat_returns_the_assistant_message(model):
    msg = model.chat([{"role": "user", "content": "Once upon a time"}], chat_template=TEMPLATE,
                     max_new_tokens=12)
    assert msg["role"] == "assistant" and isinstance(msg["content"], str)
    assert "</s>" not in msg["content"]


def test_parsing_of_reasoning_and_tool_calls(hfkit):
    from hfkit._chat import parse_assistant

    m = parse_assistant("<think>\nLet me see.\n</think>\n\nParis.")
    assert m == {"role": "assistant", "reasoning_content": "Let me see.", "content": "Paris."}
    m = parse_assistant('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>')
    assert m["tool_calls"] == [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert m["content"] == ""
    m = parse_assistant('{"name": "search", "parameters": {"q": "x"}}')  # Llama 3.1 JSON call
    assert m["tool_calls"][0]["function"] == {"name": "search", "arguments": {"q": "x"}}
    assert parse_assistant("plain {text}") == {"role": "assistant", "content": "plain {text}"}
