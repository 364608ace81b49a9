"""Chat templates from Python: ``Model.apply_chat_template`` (transformers' signature) and
``Model.chat``, which returns the assistant message with ``tool_calls`` and
``reasoning_content`` parsed where the model family's format is known."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from . import _hfkit

_THINK = re.compile(r"^\s*(?:<think>)?(.*?)</think>\s*", re.S)
_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)


def _conversation(messages: Sequence[Dict[str, Any]], tools: Optional[Sequence[Dict[str, Any]]],
                  documents: Optional[Sequence[Dict[str, Any]]], add_generation_prompt: bool,
                  continue_final_message: bool, kwargs: Dict[str, Any]) -> str:
    conv: Dict[str, Any] = {
        "messages": list(messages),
        "add_generation_prompt": bool(add_generation_prompt),
        "continue_final_message": bool(continue_final_message),
        "extra": kwargs,
    }
    if tools is not None:
        conv["tools"] = list(tools)
    if documents is not None:
        conv["documents"] = list(documents)
    return json.dumps(conv, ensure_ascii=False)


def apply_chat_template(model: Any, conversation: Sequence[Dict[str, Any]],
                        tools: Optional[Sequence[Dict[str, Any]]] = None,
                        documents: Optional[Sequence[Dict[str, Any]]] = None,
                        chat_template: Optional[str] = None, add_generation_prompt: bool = False,
                        continue_final_message: bool = False, tokenize: bool = True,
                        **kwargs: Any) -> Union[str, List[int]]:
    """Renders ``conversation`` with the model's chat template (or ``chat_template``, the
    Jinja source). Returns the token ids (tokenized without adding special tokens, as
    transformers does) or, with ``tokenize=False``, the text. Extra keyword arguments become
    template variables (e.g. ``enable_thinking=False``)."""
    text = _hfkit.chat_render(model._handle(), _conversation(
        conversation, tools, documents, add_generation_prompt, continue_final_message, kwargs),
        chat_template)
    if not tokenize:
        return text
    return model.tokenize(text, add_special_tokens=False)


def parse_assistant(text: str) -> Dict[str, Any]:
    """The assistant message of a reply: ``<think>...</think>`` goes to reasoning_content,
    Qwen/Hermes ``<tool_call>{json}</tool_call>`` blocks and a Llama 3.1 JSON call
    (``{"name": ..., "parameters": ...}``) to tool_calls."""
    msg: Dict[str, Any] = {"role": "assistant"}
    content = text
    m = _THINK.match(content)
    if m and "</think>" in content:
        msg["reasoning_content"] = m.group(1).strip()
        content = content[m.end():]
    calls = []
    for block in _TOOL_CALL.findall(content):
        try:
            call = json.loads(block)
        except ValueError:
            continue
        if isinstance(call, dict) and "name" in call:
            calls.append({"type": "function", "function": {
                "name": call["name"], "arguments": call.get("arguments", call.get("parameters", {}))}})
    if calls:
        content = _TOOL_CALL.sub("", content).strip()
    else:
        stripped = content.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            try:
                call = json.loads(stripped)
            except ValueError:
                call = None
            if isinstance(call, dict) and "name" in call and ("parameters" in call or "arguments" in call):
                calls.append({"type": "function", "function": {
                    "name": call["name"], "arguments": call.get("parameters", call.get("arguments"))}})
                content = ""
    msg["content"] = content
    if calls:
        msg["tool_calls"] = calls
    return msg


class ChatStream:
    """The pieces of one streamed assistant turn (``Model.chat(..., stream=True)``).

    Iterate to receive the text as it is produced; the pieces join to the raw reply (the
    end-of-turn marker stripped), the text the non-streaming call parses. Once the iteration
    is over, :attr:`message` holds the parsed assistant message (as ``chat`` returns it).
    Breaking out early (or :meth:`close`) cancels the generation; ``message`` then stays None.
    """

    def __init__(self, pieces: Iterator[str], result: List[Any]):
        self._pieces = pieces
        self._result = result
        self.message: Optional[Dict[str, Any]] = None

    def __iter__(self) -> "ChatStream":
        return self

    def __next__(self) -> str:
        try:
            return next(self._pieces)
        except StopIteration:
            if self.message is None and self._result:
                self.message = parse_assistant(self._result[0][0])
            raise

    def close(self) -> None:
        """Stops the generation (if still running) and frees the session."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


def chat(model: Any, messages: Sequence[Dict[str, Any]], stream: bool = False,
         tools: Optional[Sequence[Dict[str, Any]]] = None, chat_template: Optional[str] = None,
         template_kwargs: Optional[Dict[str, Any]] = None, on_piece: Any = None,
         **gen: Any) -> Union[Dict[str, Any], ChatStream]:
    """One assistant turn for ``messages``: renders them with the chat template, generates
    until the end of the turn and returns the assistant message (``content``, and
    ``tool_calls``/``reasoning_content`` when the reply has them). Generation options as
    ``generate``; ``on_piece(piece)`` receives the text as it is produced.

    With ``stream=True`` it returns a :class:`ChatStream` instead: an iterator of the text
    pieces (generated on a worker thread with the GIL released, as ``Model.stream``), whose
    ``message`` is the parsed assistant message once the iteration is over."""
    from . import _gen_options  # late: the package imports this module
    conv = _conversation(messages, tools, None, True, False, template_kwargs or {})
    opts = _gen_options(gen)
    if stream:
        if on_piece is not None:
            raise TypeError("Model.chat(stream=True) yields the pieces: on_piece is not taken")
        result: List[Any] = []
        return ChatStream(_stream_chat(model, conv, chat_template, opts, result), result)
    s = model._take_session()
    try:
        t = s.chat(conv, chat_template, opts, on_piece)
    finally:
        model._give_back(s)
    return parse_assistant(t[0])


def _stream_chat(model: Any, conv: str, chat_template: Optional[str], opts: Any,
                 result: List[Any]) -> Iterator[str]:
    from . import _stream_call
    s = model._take_session()
    try:
        yield from _stream_call(s, lambda piece: s.chat(conv, chat_template, opts, piece), result)
    finally:
        model._give_back(s)
