"""Model.chat(..., stream=True): the pieces of one assistant turn as they are produced."""

import threading

import pytest

# Assistant turns end with "</s>" (the aidreams260K tokenizer's EOS), as in test_chat.py.
TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}Q: {{ m.content }}\n"
            "{% else %}A:{{ m.content }}</s>\n{% endif %}{% endfor %}"
            "{% if add_generation_prompt %}A:{% endif %}")
MESSAGES = [{"role": "user", "content": "Once upon a time"}]


@pytest.fixture(scope="module")
def model(hfkit, model_dir):
    with hfkit.Model.from_pretrained(str(model_dir)) as m:
        yield m


def test_streamed_pieces_join_to_the_non_streaming_reply(hfkit, model):
    whole = model.chat(MESSAGES, chat_template=TEMPLATE, max_new_tokens=40)
    stream = model.chat(MESSAGES, chat_template=TEMPLATE, max_new_tokens=40, stream=True)
    assert isinstance(stream, hfkit.ChatStream)
    assert stream.message is None  # nothing generated before the iteration
    pieces = list(stream)
    assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == whole["content"]
    assert stream.message == whole


def test_breaking_early_cancels_and_frees_the_session(model):
    whole = model.chat(MESSAGES, chat_template=TEMPLATE, max_new_tokens=40)
    stream = model.chat(MESSAGES, chat_template=TEMPLATE, max_new_tokens=200, ignore_eos=True,
                        stream=True)
    for _ in stream:
        break
    stream.close()
    assert stream.message is None
    assert not any(t.name == "hfkit-stream" for t in threading.enumerate())
    # The pooled session is usable again and starts from a fresh conversation.
    assert model.chat(MESSAGES, chat_template=TEMPLATE, max_new_tokens=40) == whole


def test_stream_parses_reasoning_like_the_non_streaming_call(model):
    # A template that opens a <think> block: the reply's text up to </think> (if the model
    # writes one) is reasoning; either way the streamed message equals the non-streaming one.
    tpl = TEMPLATE + "<think>"
    whole = model.chat(MESSAGES, chat_template=tpl, max_new_tokens=30)
    stream = model.chat(MESSAGES, chat_template=tpl, max_new_tokens=30, stream=True)
    text = "".join(stream)
    assert stream.message == whole
    assert whole["content"] == text  # this tiny model writes no </think>: nothing split off


def test_stream_errors_surface_from_the_iteration(hfkit, model):
    stream = model.chat(MESSAGES, chat_template="{{ raise_exception('no chat') }}", stream=True)
    with pytest.raises(hfkit.FormatError, match="no chat"):
        next(stream)
    with pytest.raises(TypeError):
        model.chat(MESSAGES, chat_template=TEMPLATE, stream=True, on_piece=print)
