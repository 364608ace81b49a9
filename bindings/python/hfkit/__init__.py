"""hfkit: Hugging Face checkpoints on the CPU, from Python.

A thin layer over the hfkit C API (``libhfkit.so``, through the ``_hfkit`` extension)::

    import hfkit

    with hfkit.Model.from_pretrained("models/aidreams260K") as model:
        print(model.generate("", max_new_tokens=20))
        for piece in model.stream("Once upon a time", max_new_tokens=20):
            print(piece, end="", flush=True)
        with model.session() as chat:          # multi-turn: the KV cache is kept
            chat.generate("Hello")
            chat.generate(" and then")

Loads and generation run with the GIL released; Ctrl-C stops a running generate
(KeyboardInterrupt); errors raise :class:`HfkitError` subclasses carrying ``.status``.

Generation options (keyword arguments of every ``generate``/``generate_result``/``stream``):
``max_new_tokens``, ``temperature``, ``top_k``, ``top_p``, ``min_p``, ``repetition_penalty``
(``None``: the model's generation_config.json, else transformers' defaults: greedy unless the
model asks for sampling), ``presence_penalty``, ``frequency_penalty`` (0: off), ``seed``,
``stop`` (a list of strings; the text ends before the first match), ``add_special_tokens``
(``None``: the tokenizer's default, e.g. BOS on a fresh prompt), ``ignore_eos``,
``logit_bias`` (``{id: bias}``, added to the logits; ``-inf`` bans an id) and ``logprobs``
(``True`` or N in 0..20: each generated token's logprob and its N best alternatives, from the
model's raw distribution: no temperature, penalty, top-k/p or bias applied; ``generate`` then
returns ``(text, logprobs)``, a list of :class:`TokenLogprob`).
Structured output (at most one): ``json_schema`` (a dict or JSON text; ``{}`` is any JSON
value), ``grammar`` (GBNF text, llama.cpp's syntax) or ``regex`` (the whole text matches): only
tokens that keep the text a valid prefix are sampled, and a text the tokens or the context cut
short ends with ``stop_reason`` ``"constraint_incomplete"`` (capi/README.md, "Constrained
decoding", lists the supported subsets).
``Model.generate``/``generate_result``/``stream`` also take ``kv_dtype`` (None or "f32", "f16",
"bf16": the KV cache's element type; F16/BF16 halve it; such calls use a fresh session, only F32
sessions are pooled), as do ``Model.session`` and ``Session``; and ``compute`` (None or "f32":
exact, the default; "bf16": prefills against BF16 weights round the activations to BF16 and
use the CPU's BF16 dot products, faster within the error the README measures; exact where the
weights are not BF16 or the CPU lacks AVX512_BF16).
``max_tokens`` and ``repeat_penalty`` (llama.cpp, OpenAI) are accepted for ``max_new_tokens``
and ``repetition_penalty``. Every string argument is a C string underneath: one with a NUL
character raises ValueError.

Hub ids ("org/name") are downloaded into the Hugging Face cache by ``Model.from_pretrained``
and ``prepare``; ``Model.open`` loads without blocking; ``is_downloaded``,
``remove_from_disk``, ``downloaded_models`` and ``disk_usage`` manage the cache.
"""

from __future__ import annotations

import json as _json
import os as _os
import queue as _queue
import threading as _threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Union

import numpy as _np

from . import _hfkit
from ._errors import (
    AuthError,
    BufferTooSmallError,
    CallbackError,
    CancelledError,
    ChecksumError,
    ContextFullError,
    FormatError,
    GatedRepoError,
    HfkitError,
    HfkitIOError,
    InternalError,
    InvalidArgumentError,
    NetworkError,
    NotFoundError,
    NumericError,
    OutOfMemoryError,
    ResourceError,
    StateError,
    UnsupportedError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "BufferTooSmallError",
    "CallbackError",
    "CancelledError",
    "ChatStream",
    "ChecksumError",
    "ContextFullError",
    "Engine",
    "EngineResult",
    "FormatError",
    "GatedRepoError",
    "GenerationResult",
    "HfkitError",
    "ScoredText",
    "TokenLogprob",
    "TopLogprob",
    "HfkitIOError",
    "InternalError",
    "InvalidArgumentError",
    "Model",
    "ModelStatus",
    "NetworkError",
    "NotFoundError",
    "NumericError",
    "OutOfMemoryError",
    "Progress",
    "ResourceError",
    "Session",
    "StateError",
    "UnsupportedError",
    "abi_version",
    "disk_usage",
    "downloaded_models",
    "inspect",
    "is_downloaded",
    "library_version",
    "prepare",
    "remove_from_disk",
]

if _hfkit.abi_version() != _hfkit.HEADER_ABI_VERSION:  # pragma: no cover - a broken install
    raise ImportError(
        f"hfkit: the loaded libhfkit has ABI {_hfkit.abi_version()} but this extension was "
        f"built against ABI {_hfkit.HEADER_ABI_VERSION}; rebuild the Python package"
    )


def library_version() -> str:
    """The version of the loaded libhfkit shared library, e.g. ``"0.1.0"``."""
    return _hfkit.version()


def abi_version() -> int:
    """The ABI version (SONAME major) of the loaded libhfkit."""
    return _hfkit.abi_version()


_PathLike = Union[str, "_os.PathLike[str]"]


def _patterns(patterns: Union[None, str, Sequence[str]], what: str) -> Optional[List[str]]:
    if patterns is None:
        return None
    if isinstance(patterns, str):
        return [patterns]
    out = list(patterns)
    for p in out:
        if not isinstance(p, str):
            raise TypeError(f"{what} must be str patterns, not {type(p).__name__}")
    return out


def _hub(revision: Optional[str] = None, cache_dir: Optional[_PathLike] = None,
         token: Optional[str] = None, endpoint: Optional[str] = None,
         offline: Optional[bool] = None, allow_patterns: Union[None, str, Sequence[str]] = None,
         ignore_patterns: Union[None, str, Sequence[str]] = None) -> "_hfkit.HubOptions":
    """Hub options for the C API; None leaves the library default (HF_* environment
    variables, then huggingface_hub's defaults). Patterns are fnmatch patterns of the files
    to fetch (None: what a model needs: config, tokenizer, safetensors) and to skip."""
    h = _hfkit.HubOptions()
    h.allow_patterns = _patterns(allow_patterns, "allow_patterns")
    h.ignore_patterns = _patterns(ignore_patterns, "ignore_patterns")
    h.revision = revision
    h.cache_dir = None if cache_dir is None else _os.fspath(cache_dir)
    h.token = token
    h.endpoint = endpoint
    h.offline = -1 if offline is None else int(bool(offline))
    return h


def _progress_callback(on_progress: Optional[Callable[["Progress"], Any]]) -> Any:
    if on_progress is None:
        return None
    user = on_progress

    def callback(t: tuple) -> Any:
        return user(Progress(_PHASES.get(t[0], str(t[0])), *t[1:]))

    return callback


def prepare(repo_id: str, revision: Optional[str] = None, cache_dir: Optional[_PathLike] = None,
            token: Optional[str] = None, on_progress: Optional[Callable[["Progress"], Any]] = None,
            *, endpoint: Optional[str] = None, offline: Optional[bool] = None,
            verify: bool = False, force_download: bool = False,
            allow_patterns: Union[None, str, Sequence[str]] = None,
            ignore_patterns: Union[None, str, Sequence[str]] = None) -> str:
    """Downloads what a Hub model needs into the Hugging Face cache (nothing if it is complete)
    and returns its snapshot directory. ``on_progress(Progress)`` follows the download;
    returning True cancels (:class:`CancelledError`). ``verify=True`` re-hashes the cached
    files and downloads again any that do not match; ``force_download=True`` downloads every
    file again (an open model keeps its old mapping). ``allow_patterns`` /
    ``ignore_patterns`` (fnmatch, as huggingface_hub's) choose other files than the ones a
    model needs. When the Hub cannot be asked (unreachable, a refused token) a complete cached
    snapshot is returned with a ``UserWarning`` saying so; ``verify`` and ``force_download``
    never fall back (they raise, e.g. :class:`AuthError`). The GIL is released meanwhile."""
    hub = _hub(revision, cache_dir, token, endpoint, offline, allow_patterns, ignore_patterns)
    hub.verify = verify
    hub.force_download = force_download
    return _hfkit.prepare(repo_id, hub, _progress_callback(on_progress))


def is_downloaded(repo_id: str, revision: Optional[str] = None,
                  cache_dir: Optional[_PathLike] = None) -> bool:
    """True when a complete snapshot of the revision is in the cache (never uses the network)."""
    return _hfkit.is_downloaded(repo_id, _hub(revision, cache_dir))


def remove_from_disk(repo_id: str, revision: Optional[str] = None,
                     cache_dir: Optional[_PathLike] = None, force: bool = False) -> None:
    """Removes a model from the cache (one revision, or all when revision is None). A model
    loaded in this process is refused (:class:`StateError`, HFK_E_IN_USE) unless ``force``; one
    being downloaded is refused whatever ``force`` says; :class:`NotFoundError` when it is not in
    the cache (catch it if "absent afterwards" is all you need)."""
    _hfkit.remove_from_disk(repo_id, _hub(revision, cache_dir), force)


def disk_usage(repo_id: Optional[str] = None, cache_dir: Optional[_PathLike] = None) -> int:
    """Bytes the cache uses for ``repo_id``, or for the whole cache when it is None."""
    return _hfkit.disk_usage(repo_id, _hub(None, cache_dir))


def downloaded_models(cache_dir: Optional[_PathLike] = None) -> List[Dict[str, Any]]:
    """The models in the cache: a list of ``{"repo_id", "repo_type", "size_on_disk", "complete",
    "revisions": [{"commit", "refs", "size_on_disk", "files", "complete"}]}``. ``complete``:
    the revision loads without the network (an interrupted download is listed as False)."""
    models: List[Dict[str, Any]] = _json.loads(_hfkit.downloaded_models(_hub(None, cache_dir)))
    return models


def inspect(model: _PathLike, context_length: int = 0, batch: int = 1,
            kv_bytes_per_element: int = 2, revision: Optional[str] = None,
            cache_dir: Optional[_PathLike] = None, token: Optional[str] = None, *,
            endpoint: Optional[str] = None, offline: Optional[bool] = None) -> Dict[str, Any]:
    """Will this model run here? Parameters, weight bytes per precision, KV cache, resident
    estimate and fit, from ``config.json`` and the safetensors headers of a Hub id (read with
    HTTP Range requests; the weights are never downloaded), a local directory or a config.json.
    Returns the library's JSON object as a dict (keys as ``hfk_model_info`` plus
    ``weight_bytes``, ``parameters_by_dtype``, ``weight_files`` and ``notes``). Gated
    repositories raise :class:`GatedRepoError`. The GIL is released meanwhile."""
    info: Dict[str, Any] = _json.loads(_hfkit.inspect(
        _os.fspath(model), context_length, batch, kv_bytes_per_element,
        _hub(revision, cache_dir, token, endpoint, offline)))
    return info


_PHASES = {1: "resolving", 2: "downloading", 3: "loading", 4: "ready"}
_STOP_REASONS = {
    0: "none",
    1: "eos",
    2: "stop_string",
    3: "max_tokens",
    4: "context_full",
    5: "callback",
    6: "cancelled",
    7: "constraint_incomplete",
}


class Progress(NamedTuple):
    """Progress of a long call, passed to ``on_progress``.

    ``phase`` is ``"resolving"``, ``"downloading"``, ``"loading"`` or ``"ready"``; ``fraction``
    is 0..1 of the phase or -1 when unknown; byte and file counts are for downloads (-1 while
    unknown); ``file_name`` is the file being worked on, or None.
    """

    phase: str
    fraction: float
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int
    file_name: Optional[str]


class ModelStatus(NamedTuple):
    """What ``Model.open(on_state=...)`` passes on every state change and progress step.

    ``state`` is ``"pending"``, ``"downloading"``, ``"loading"``, ``"ready"`` or ``"failed"``;
    ``error`` the status code when failed (0 otherwise); ``load_fraction`` 0..1 while loading;
    byte and file counts are for the download (``bytes_total`` -1 while unknown).
    """

    state: str
    error: int
    load_fraction: float
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int


class TopLogprob(NamedTuple):
    """One alternative at a generation step: its id, its text alone, its logprob."""

    id: int
    token: str
    logprob: float


class TokenLogprob(NamedTuple):
    """A generated token (``id``, its text alone) and its natural-log probability under the
    model's raw distribution, with the ``top_logprobs`` most likely ids at that step."""

    id: int
    token: str
    logprob: float
    top_logprobs: List[TopLogprob]


class ScoredText(NamedTuple):
    """:meth:`Model.score`'s answer: the text's ids, ``log p`` of each (NaN for the first id of
    a text scored without a prompt) and their sum (the log-likelihood, NaNs left out)."""

    ids: List[int]
    logprobs: List[float]
    total: float


@dataclass(frozen=True)
class GenerationResult:
    """What :meth:`Session.generate_result` returns: the text and how the call went.

    ``stop_reason`` is one of ``"eos"``, ``"stop_string"``, ``"max_tokens"``,
    ``"context_full"``, ``"callback"`` (``on_piece`` returned True), ``"constraint_incomplete"``
    (``json_schema``/``grammar``/``regex`` given, and the tokens or the context ran out before
    the text was complete: it is not valid output). Token counts are for this
    call; ``n_reused_tokens`` of the prompt came from the KV cache. Speeds are tokens/second.
    ``tokens`` are the generated ids (EOS excluded).
    """

    text: str
    stop_reason: str
    n_prompt_tokens: int
    n_reused_tokens: int
    n_generated_tokens: int
    time_to_first_token_ms: float
    prefill_tokens_per_s: float
    decode_tokens_per_s: float
    tokens: List[int]
    logprobs: Optional[List[TokenLogprob]] = None  # with the logprobs option


_OPTION_NAMES = (
    "max_new_tokens",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stop",
    "add_special_tokens",
    "ignore_eos",
    "logit_bias",
    "logprobs",
    "json_schema",
    "grammar",
    "regex",
)


# Names other libraries use for the same option (llama.cpp, OpenAI, Ollama), accepted where
# they mean exactly what ours do. transformers' max_length counts the prompt too, so it is not.
_OPTION_ALIASES = {
    "max_tokens": "max_new_tokens",
    "repeat_penalty": "repetition_penalty",
}
_NOT_ALIASES = {
    "max_length": "max_length counts the prompt too (transformers); use max_new_tokens",
    "n_predict": "use max_new_tokens (or max_tokens)",
}


def _gen_options(options: Dict[str, Any]) -> "_hfkit.GenOptions":
    """Turns keyword options into the C struct's values; None means "the model's default"."""
    options = dict(options)
    for alias, name in _OPTION_ALIASES.items():
        if alias in options:
            if name in options:
                raise TypeError(f"{alias} and {name} are the same option: give one of them")
            options[name] = options.pop(alias)
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        hints = "".join(f" ({n}: {_NOT_ALIASES[n]})" for n in unknown if n in _NOT_ALIASES)
        aliases = ", ".join(f"{a} = {n}" for a, n in _OPTION_ALIASES.items())
        raise TypeError(
            f"unknown generation option(s) {', '.join(unknown)}{hints}; "
            f"known: {', '.join(_OPTION_NAMES)} (also {aliases})"
        )
    o = _hfkit.GenOptions()
    for name in ("max_new_tokens", "top_k"):
        v = options.get(name)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InvalidArgumentError(f"{name} must be an int >= 0, not {v!r}", -1, "HFK_E_INVALID_ARG")
            setattr(o, name, v)
    for name in ("temperature", "top_p", "min_p", "repetition_penalty"):
        v = options.get(name)
        if v is not None:
            setattr(o, name, float(v))  # the library validates ranges and names the field
    for name in ("presence_penalty", "frequency_penalty"):
        v = options.get(name)
        if v is not None:
            setattr(o, name, float(v))
    seed = options.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
            raise InvalidArgumentError(f"seed must be an int in [0, 2**64), not {seed!r}", -1, "HFK_E_INVALID_ARG")
        o.seed = seed
    stop = options.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        stop = list(stop)
        for s in stop:
            if not isinstance(s, str):
                raise TypeError(f"stop strings must be str, not {type(s).__name__}")
        o.stop = stop  # NUL inside one is a ValueError from the binding
    special = options.get("add_special_tokens")
    if special is not None:
        o.add_special_tokens = 1 if special else 0
    o.ignore_eos = bool(options.get("ignore_eos", False))
    bias = options.get("logit_bias")
    if bias is not None:
        ids, values = [], []
        for k, v in dict(bias).items():
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < 2**31:
                raise InvalidArgumentError(f"logit_bias keys must be token ids, not {k!r}", -1,
                                           "HFK_E_INVALID_ARG")
            ids.append(k)
            values.append(float(v))
        o.logit_bias_ids = ids
        o.logit_bias_values = values
    lp = options.get("logprobs")
    if lp is not None and lp is not False:
        top = 0 if lp is True else lp
        if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 20:
            raise InvalidArgumentError(f"logprobs must be True or an int in [0, 20], not {lp!r}",
                                       -1, "HFK_E_INVALID_ARG")
        o.logprobs = True
        o.top_logprobs = top
    _constraint_options(o, options)
    return o


def _constraint_options(o: "_hfkit.GenOptions", options: Dict[str, Any]) -> None:
    """json_schema (a dict or JSON text; {} is any JSON value), grammar (GBNF), regex."""
    given = [n for n in ("json_schema", "grammar", "regex") if options.get(n) is not None]
    if len(given) > 1:
        raise TypeError(f"give at most one of json_schema, grammar, regex (got {', '.join(given)})")
    if not given:
        return
    name = given[0]
    value = options[name]
    if name == "json_schema":
        if not isinstance(value, str):
            value = _json.dumps(value)
        o.constraint_kind = 3
    else:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {type(value).__name__}")
        o.constraint_kind = 1 if name == "grammar" else 4
    o.constraint = value


def _wants_logprobs(options: Dict[str, Any]) -> bool:
    lp = options.get("logprobs")
    return lp is not None and lp is not False


def _logprobs(native: "_hfkit.Session", model: "_hfkit.Model", tokens: List[int],
              n_prompt: int) -> List[TokenLogprob]:
    """The logprobs of the last generate, each id with its text as it reads in the output: the
    decoding of (previous id, id) minus that of the previous id, so that a SentencePiece
    word's leading space is kept (a partial UTF-8 character reads as U+FFFD)."""
    lps, top_ids, top_lps = native.last_logprobs()
    seq = native.tokens()
    prev = seq[n_prompt - 1] if 0 < n_prompt <= len(seq) else None
    return _token_logprobs(model, prev, tokens, lps, top_ids, top_lps)


def _token_logprobs(model: "_hfkit.Model", prev: Optional[int], tokens: List[int],
                    lps: List[float], top_ids: List[List[int]],
                    top_lps: List[List[float]]) -> List[TokenLogprob]:
    """Each id with its text as it reads after `prev` (the prompt's last id) in the output."""
    cache: Dict[Any, str] = {}

    def text(ctx: Optional[int], i: int) -> str:
        key = (ctx, i)
        if key not in cache:
            if ctx is None:
                cache[key] = model.detokenize([i], False)
            else:
                head = model.detokenize([ctx], False)
                both = model.detokenize([ctx, i], False)
                cache[key] = (both[len(head):] if both.startswith(head)
                              else model.detokenize([i], False))
        return cache[key]

    out = []
    for i, lp, ti, tl in zip(tokens, lps, top_ids, top_lps):
        out.append(TokenLogprob(i, text(prev, i), lp,
                                [TopLogprob(a, text(prev, a), b) for a, b in zip(ti, tl)]))
        prev = i
    return out


def _result(t: tuple, tokens: List[int],
            logprobs: Optional[List[TokenLogprob]] = None) -> GenerationResult:
    return GenerationResult(
        text=t[0],
        stop_reason=_STOP_REASONS.get(t[1], str(t[1])),
        n_prompt_tokens=t[2],
        n_reused_tokens=t[3],
        n_generated_tokens=t[4],
        time_to_first_token_ms=t[5],
        prefill_tokens_per_s=t[6],
        decode_tokens_per_s=t[7],
        tokens=tokens,
        logprobs=logprobs,
    )


_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def _stream(native: "_hfkit.Session", prompt: str, opts: "_hfkit.GenOptions") -> Iterator[str]:
    """Runs one generate on a worker thread and yields its pieces as they arrive."""
    return _stream_call(native, lambda on_piece: native.generate(prompt, opts, on_piece))


def _stream_call(native: "_hfkit.Session", call: Callable[[Callable[[str], bool]], Any],
                 result: Optional[List[Any]] = None) -> Iterator[str]:
    """Runs ``call(on_piece)`` (a generate or a chat turn of ``native``) on a worker thread and
    yields its pieces as they arrive; the call's return value is appended to ``result``.

    The worker releases the GIL inside the C call and takes it back per piece to queue it. If
    the consumer stops early (break, close(), an exception, Ctrl-C while waiting), the piece
    callback answers "stop" and the session is cancelled; the worker is joined before the
    generator finishes, so the session is free again afterwards.
    """
    pieces: "_queue.SimpleQueue[object]" = _queue.SimpleQueue()
    stop = _threading.Event()

    def on_piece(piece: str) -> bool:
        pieces.put(piece)
        return stop.is_set()

    def run() -> None:
        try:
            returned = call(on_piece)
            if result is not None:
                result.append(returned)
            pieces.put(_DONE)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer thread
            pieces.put(_Failure(e))

    worker = _threading.Thread(target=run, name="hfkit-stream", daemon=True)
    worker.start()
    try:
        while True:
            item = pieces.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        if worker.is_alive():
            stop.set()
            native.cancel()
        worker.join()


def _texts(texts: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(texts, str):
        return [texts]
    return list(texts)


_STATES = {0: "pending", 1: "downloading", 2: "loading", 3: "ready", 4: "failed"}


def _check_local(path: str) -> str:
    """A string that is clearly a filesystem path (absolute, ./, ../, ~) is never a Hub id: a
    missing one is NotFoundError, as for a missing directory. A NUL is a ValueError (C strings
    end there: 'dir\\0/x' would name 'dir')."""
    if "\0" in path:
        raise ValueError("the model path or id contains a NUL character")
    if path.startswith(("/", "./", "../", "~")) or path in (".", ".."):
        if not _os.path.isdir(_os.path.expanduser(path)):
            raise NotFoundError(f"model directory not found: {path}", -6, "HFK_E_NOT_FOUND")
        return _os.path.expanduser(path)
    return path


def _int_option(name: str, value: Any) -> int:
    """An int argument that fits the C API's int32_t, else InvalidArgumentError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or not -2**31 <= value < 2**31:
        raise InvalidArgumentError(f"{name} must be an int in [-2**31, 2**31), not {value!r}",
                                   -1, "HFK_E_INVALID_ARG")
    return value


_QUANTIZATIONS = {None: 0, "auto": 0, "f32": 1, "bf16": 2, "q8": 3, "q4": 4}


def _quantization(name: Optional[str]) -> int:
    """from_pretrained's ``quantize`` as an HFK_QUANT_* value, else InvalidArgumentError."""
    if not (name is None or isinstance(name, str)) or name not in _QUANTIZATIONS:
        raise InvalidArgumentError(
            f"quantize must be None, 'auto', 'f32', 'bf16', 'q8' or 'q4', not {name!r}", -1,
            "HFK_E_INVALID_ARG")
    return _QUANTIZATIONS[name]


_KV_DTYPES = {None: 0, "f32": 0, "f16": 1, "bf16": 2}


_COMPUTES = {None: 0, "f32": 0, "bf16": 1}


def _compute(name: Optional[str]) -> int:
    """A session's ``compute`` as an HFK_COMPUTE_* value, else InvalidArgumentError."""
    if not (name is None or isinstance(name, str)) or name not in _COMPUTES:
        raise InvalidArgumentError(
            f"compute must be None, 'f32' or 'bf16', not {name!r}", -1, "HFK_E_INVALID_ARG")
    return _COMPUTES[name]


def _kv_dtype(name: Optional[str]) -> int:
    """A session's ``kv_dtype`` as an HFK_KV_* value, else InvalidArgumentError."""
    if not (name is None or isinstance(name, str)) or name not in _KV_DTYPES:
        raise InvalidArgumentError(
            f"kv_dtype must be None, 'f32', 'f16' or 'bf16', not {name!r}", -1,
            "HFK_E_INVALID_ARG")
    return _KV_DTYPES[name]


class Session:
    """A conversation on a generator model: its own KV cache and sampler state.

    Successive :meth:`generate` calls append to the conversation (the tokens already in the
    cache are not recomputed); :meth:`reset` forgets it. A session is used by one thread at a
    time (another thread gets :class:`StateError`, HFK_E_BUSY); :meth:`cancel` may be called
    from any thread. The session keeps its model alive. Use it as a context manager, or call
    :meth:`close`, to free it deterministically.
    """

    def __init__(self, model: "Model", n_ctx: int = 0, n_threads: int = 0,
                 kv_dtype: Optional[str] = None, compute: Optional[str] = None):
        """Opens a session on ``model``; ``n_ctx``/``n_threads`` <= 0 take the model's values.
        ``kv_dtype`` is what the KV cache stores: None or "f32" (the default), "f16" or "bf16"
        (half the bytes; keys and values rounded when stored). ``compute``: None or "f32"
        (exact, the default) or "bf16" (BF16 prefill products with BF16 weights)."""
        self._model = model
        self._native: Optional[_hfkit.Session] = _hfkit.Session(
            model._handle(), n_ctx, n_threads, _kv_dtype(kv_dtype), _compute(compute))

    @property
    def model(self) -> "Model":
        """The model this session runs on."""
        return self._model

    def _handle(self) -> "_hfkit.Session":
        if self._native is None:
            raise StateError("the session is closed", -13, "HFK_E_STATE")
        return self._native

    def generate(self, prompt: str, on_piece: Optional[Callable[[str], Any]] = None,
                 **options: Any) -> Any:
        """Appends ``prompt`` to the conversation and returns the generated text (with the
        ``logprobs`` option: ``(text, [TokenLogprob, ...])``).

        ``on_piece(piece)`` is called with each piece of text as it is produced (on this
        thread); returning True stops the generation. See the module docstring for options.
        """
        r = self.generate_result(prompt, on_piece=on_piece, **options)
        return (r.text, r.logprobs) if _wants_logprobs(options) else r.text

    def generate_result(self, prompt: str, on_piece: Optional[Callable[[str], Any]] = None,
                        **options: Any) -> GenerationResult:
        """Like :meth:`generate`, but returns a :class:`GenerationResult` (text, stop reason,
        token counts and speeds, logprobs)."""
        opts = _gen_options(options)
        native = self._handle()
        t = native.generate(prompt, opts, on_piece)
        return self._finish(t, opts)

    def _finish(self, t: tuple, opts: "_hfkit.GenOptions") -> GenerationResult:
        native = self._handle()
        tokens = native.last_tokens()
        lps = _logprobs(native, self._model._handle(), tokens, t[2]) if opts.logprobs else None
        return _result(t, tokens, lps)

    # ---- the token level (capi/README.md, "Tokens") ------------------------------------
    def generate_tokens(self, ids: Sequence[int], on_piece: Optional[Callable[[str], Any]] = None,
                        **options: Any) -> GenerationResult:
        """Generates after the session's tokens plus ``ids`` (no text is tokenized). Every
        generated id (EOS excluded) joins the session's :meth:`tokens`."""
        opts = _gen_options(options)
        t = self._handle().generate_tokens(list(ids), opts, on_piece)
        return self._finish(t, opts)

    @property
    def n_logits(self) -> int:
        """Width of the logits: the ids the tokenizer can decode."""
        return self._handle().n_logits

    def tokens(self) -> List[int]:
        """The ids the session holds (after a text generate, the last generated id is not
        among them yet)."""
        return self._handle().tokens()

    def eval(self, ids: Sequence[int], all_logits: bool = False) -> Optional[_np.ndarray]:
        """Runs ``ids`` after the session's tokens. With ``all_logits``, returns the logits of
        every position, a float32 array (len(ids), n_logits)."""
        return self._handle().eval(list(ids), all_logits)

    def logits(self) -> _np.ndarray:
        """The logits after the session's last token (float32, n_logits)."""
        return self._handle().logits()

    def sample(self, logits: Any, **options: Any) -> int:
        """Samples an id from ``logits`` with the library's sampler chain (``temperature``,
        ``top_k``, ``top_p``, ``min_p``, penalties, ``logit_bias``; greedy by default) and the
        session's generator (:meth:`set_seed`; saved with the session)."""
        return self._handle().sample(_np.ascontiguousarray(logits, dtype=_np.float32),
                                     _gen_options(options))

    def set_seed(self, seed: int) -> None:
        """Reseeds the session's generator."""
        self._handle().set_seed(seed)

    def score(self, ids: Sequence[int]) -> _np.ndarray:
        """``log p(ids[i] | tokens, ids[:i])`` per id, float64 (NaN for the first id of an
        empty session); the ids are evaluated into the session."""
        return self._handle().score(list(ids))

    def truncate(self, n_tokens: int) -> None:
        """Keeps the first ``n_tokens`` tokens; the logits are those after them again."""
        self._handle().truncate(_int_option("n_tokens", n_tokens))

    def fork(self) -> "Session":
        """A new session holding a copy of this one's state (one prefix, several
        continuations)."""
        child = Session.__new__(Session)
        child._model = self._model
        child._native = self._handle().fork()
        return child

    def save(self, path: _PathLike) -> None:
        """Saves the state (KV cache, tokens, text, logits, generator) to ``path``."""
        self._handle().save(_os.fspath(path))

    def load(self, path: _PathLike) -> None:
        """Restores a state saved by :meth:`save` on the same model; a file from another
        model, truncated or corrupt raises (and leaves the session unchanged)."""
        self._handle().load(_os.fspath(path))

    def stream(self, prompt: str, **options: Any) -> Iterator[str]:
        """Generates like :meth:`generate` and yields the pieces of text as they are produced.

        Stopping early (``break``) cancels the generation. The pieces join to the text that
        :meth:`generate` would return.
        """
        opts = _gen_options(options)
        return _stream(self._handle(), prompt, opts)

    def reset(self) -> None:
        """Forgets the conversation: the next generate starts from an empty context."""
        self._handle().reset()

    def cancel(self) -> None:
        """Stops a generate running on another thread (it raises :class:`CancelledError`)."""
        if self._native is not None:
            self._native.cancel()

    def close(self) -> None:
        """Frees the session now (idempotent). Later calls raise :class:`StateError`."""
        if self._native is not None:
            self._native.close()
            self._native = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._native is None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Model:
    """A loaded checkpoint: a text generator (Llama, GPT-2, Qwen2, ...) or an encoder (BERT).

    A model is immutable and may be used from many threads at once. Use it as a context
    manager, or call :meth:`close`, to free its memory deterministically (sessions still open
    on it keep it alive until they close).
    """

    # Idle sessions kept for the stateless Model.generate/stream calls (one per concurrent
    # caller), so that repeated calls do not reallocate a KV cache each time.
    _MAX_IDLE_SESSIONS = 4

    def __init__(self, native: "_hfkit.Model"):
        """Wraps a native handle; use :meth:`from_pretrained` to load a model."""
        self._native: Optional[_hfkit.Model] = native
        self._idle: List[_hfkit.Session] = []
        self._lock = _threading.Lock()

    @classmethod
    def from_pretrained(
        cls,
        id_or_path: Union[str, "_os.PathLike[str]"],
        revision: Optional[str] = None,
        cache_dir: Optional[Union[str, "_os.PathLike[str]"]] = None,
        token: Optional[str] = None,
        on_progress: Optional[Callable[[Progress], Any]] = None,
        n_threads: int = 0,
        *,
        endpoint: Optional[str] = None,
        offline: Optional[bool] = None,
        n_ctx: int = 0,
        skip_resource_check: bool = False,
        allow_patterns: Union[None, str, Sequence[str]] = None,
        ignore_patterns: Union[None, str, Sequence[str]] = None,
        quantize: Optional[str] = None,
        keep_embeddings: bool = False,
    ) -> "Model":
        """Loads a model (blocking; the GIL is released meanwhile).

        ``id_or_path`` is a local checkpoint directory (config.json, *.safetensors, tokenizer
        files) or a Hub id ("gpt2", "org/name"), downloaded first into the Hugging Face cache
        (``revision``, ``cache_dir``, ``token``, ``endpoint``, ``offline``; None: the HF_*
        environment variables, then huggingface_hub's defaults; ``allow_patterns`` /
        ``ignore_patterns``: fnmatch patterns of the files to fetch and to skip).
        ``on_progress(Progress)`` follows the download and the load on this thread; returning
        True cancels (:class:`CancelledError`), raising cancels with that exception.
        ``n_threads`` <= 0 uses one thread per core.
        ``n_ctx`` is the context (tokens) sessions on this model use: the memory check sizes
        the KV cache for it (<= 0: min(the model's context length, 4096)) and it is the default
        of :meth:`session`. ``skip_resource_check=True`` loads even when the model looks too big
        for the available memory (:class:`ResourceError` otherwise).
        ``quantize`` is how weight matrices are held: None or "auto" (as stored), "f32",
        "bf16", "q8" (int8 blocks of 32, an F16 scale each) or "q4" (4-bit blocks of 32, an F16
        scale and minimum); norms and biases stay as stored, and "q8"/"q4" quantize the
        embedding and lm_head too (as llama.cpp's files do) unless ``keep_embeddings=True``,
        which keeps them as stored (higher precision, more bytes read per token). A model
        loaded with another ``quantize`` or ``keep_embeddings`` is a different model
        (:class:`InvalidArgumentError` for an unknown name).

        Raises :class:`NotFoundError` (status -6) for a missing directory or repository,
        :class:`FormatError` for a malformed checkpoint, :class:`UnsupportedError` for an
        unsupported architecture, and the Hub's errors (:class:`GatedRepoError`,
        :class:`AuthError`, :class:`NetworkError`, :class:`ChecksumError`, ...).
        """
        path = _check_local(_os.fspath(id_or_path))
        native = _hfkit.Model.load(path, n_threads, _progress_callback(on_progress),
                                   _hub(revision, cache_dir, token, endpoint, offline,
                                        allow_patterns, ignore_patterns),
                                   _int_option("n_ctx", n_ctx), bool(skip_resource_check),
                                   _quantization(quantize), bool(keep_embeddings))
        return cls(native)

    @classmethod
    def open(
        cls,
        id_or_path: _PathLike,
        revision: Optional[str] = None,
        cache_dir: Optional[_PathLike] = None,
        token: Optional[str] = None,
        n_threads: int = 0,
        *,
        endpoint: Optional[str] = None,
        offline: Optional[bool] = None,
        n_ctx: int = 0,
        skip_resource_check: bool = False,
        on_state: Optional[Callable[[ModelStatus], Any]] = None,
        allow_patterns: Union[None, str, Sequence[str]] = None,
        ignore_patterns: Union[None, str, Sequence[str]] = None,
        quantize: Optional[str] = None,
        keep_embeddings: bool = False,
    ) -> "Model":
        """Opens a model without blocking: a library worker downloads and loads it while this
        returns at once. Follow it with :attr:`state` / :attr:`progress`, or :meth:`wait`, or
        pass ``on_state(ModelStatus)``: called from the library's worker thread on every state
        change and progress step (it may read the model's state, but must not wait on it);
        returning True cancels the opening, and an exception it raises is reported as
        unraisable and cancels too. :meth:`close` cancels a download or load in flight.
        ``n_ctx``, ``skip_resource_check``, ``quantize`` and ``keep_embeddings`` as for
        :meth:`from_pretrained`."""
        path = _check_local(_os.fspath(id_or_path))
        callback = None
        if on_state is not None:
            user = on_state

            def callback(t: tuple) -> Any:
                return user(ModelStatus(_STATES.get(t[0], str(t[0])), *t[1:]))

        return cls(_hfkit.Model.open(path, n_threads,
                                     _hub(revision, cache_dir, token, endpoint, offline,
                                          allow_patterns, ignore_patterns),
                                     _int_option("n_ctx", n_ctx), bool(skip_resource_check),
                                     callback, _quantization(quantize), bool(keep_embeddings)))

    @property
    def state(self) -> str:
        """"pending", "downloading", "loading", "ready" or "failed"."""
        return _STATES.get(self._handle().status()[0], "unknown")

    @property
    def progress(self) -> Progress:
        """Download / load progress of a model from :meth:`open`."""
        st = self._handle().status()
        phase = {1: "downloading", 2: "loading", 3: "ready"}.get(st[0], "resolving")
        fraction = st[2] if st[0] == 2 else (1.0 if st[0] == 3 else -1.0)
        return Progress(phase, fraction, st[3], st[4], st[5], st[6], None)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until the model is ready: True, or False when ``timeout`` seconds ran out.
        A failed open raises its error here (e.g. :class:`NotFoundError`). Ctrl-C works."""
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        return self._handle().wait(ms)

    def _handle(self) -> "_hfkit.Model":
        if self._native is None:
            raise StateError("the model is closed", -13, "HFK_E_STATE")
        return self._native

    # ---- properties --------------------------------------------------------------------
    @property
    def architecture(self) -> str:
        """The architecture: "llama", "gpt2", "mistral", "qwen2", "bert", "roberta",
        "xlm-roberta", "distilbert", "modernbert", "qwen3", "gemma", "gemma2", "gemma3_text",
        "smollm3", "phi3", "phi", "mixtral" or "qwen3_moe"."""
        return self._handle().architecture

    @property
    def is_generator(self) -> bool:
        """True for text generators (causal LMs), False for encoders."""
        return self._handle().is_generator

    @property
    def context_length(self) -> int:
        """The maximum number of tokens in a session's context."""
        return self._handle().context_length

    @property
    def vocab_size(self) -> int:
        """The number of token ids, added tokens included."""
        return self._handle().vocab_size

    @property
    def embedding_dim(self) -> int:
        """The width of one embedding vector (0 for a generator)."""
        return self._handle().embedding_dim

    @property
    def labels(self) -> List[str]:
        """The class names of a sequence-classification checkpoint ([] without a head)."""
        return self._handle().labels

    # ---- tokenizer ---------------------------------------------------------------------
    def tokenize(self, text: str, add_special_tokens: bool = True) -> List[int]:
        """Encodes ``text`` into token ids (with BOS / [CLS]...[SEP] if add_special_tokens)."""
        return self._handle().tokenize(text, add_special_tokens)

    def detokenize(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Decodes token ids into text. An id outside the vocabulary raises
        :class:`InvalidArgumentError`."""
        return self._handle().detokenize(list(ids), skip_special_tokens)

    # ---- generation --------------------------------------------------------------------
    def session(self, n_ctx: int = 0, n_threads: int = 0,
                kv_dtype: Optional[str] = None, compute: Optional[str] = None) -> Session:
        """Opens a :class:`Session` for a multi-turn conversation (``kv_dtype``, ``compute``:
        as :class:`Session`)."""
        return Session(self, n_ctx, n_threads, kv_dtype, compute)

    def _take_session(self, kv_dtype: int = 0, compute: int = 0) -> "_hfkit.Session":
        native = self._handle()
        if kv_dtype != 0 or compute != 0:  # only F32 exact sessions are pooled
            return _hfkit.Session(native, 0, 0, kv_dtype, compute)
        with self._lock:
            s = self._idle.pop() if self._idle else None
        if s is None:
            return _hfkit.Session(native, 0, 0)
        try:
            s.reset()
        except BaseException:
            s.close()
            raise
        return s

    def _give_back(self, s: "_hfkit.Session", kv_dtype: int = 0, compute: int = 0) -> None:
        if kv_dtype != 0 or compute != 0:
            s.close()
            return
        with self._lock:
            if self._native is not None and len(self._idle) < self._MAX_IDLE_SESSIONS:
                self._idle.append(s)
                return
        s.close()

    def generate(self, prompt: str, on_piece: Optional[Callable[[str], Any]] = None,
                 **options: Any) -> Any:
        """Generates a continuation of ``prompt`` (a fresh context each call) and returns it.
        The pooled session keeps its computed tokens, so a prompt that repeats the beginning of
        the previous one is not recomputed (``n_reused_tokens``).

        ``on_piece(piece)`` receives each piece as it is produced; returning True stops.
        Thread-safe: concurrent calls use separate sessions. See the module docstring for
        the options.
        """
        r = self.generate_result(prompt, on_piece=on_piece, **options)
        return (r.text, r.logprobs) if _wants_logprobs(options) else r.text

    def generate_result(self, prompt: str, on_piece: Optional[Callable[[str], Any]] = None,
                        **options: Any) -> GenerationResult:
        """Like :meth:`generate`, but returns a :class:`GenerationResult`."""
        kv = _kv_dtype(options.pop("kv_dtype", None))
        compute = _compute(options.pop("compute", None))
        opts = _gen_options(options)
        s = self._take_session(kv, compute)
        try:
            t = s.generate(prompt, opts, on_piece)
            tokens = s.last_tokens()
            lps = _logprobs(s, self._handle(), tokens, t[2]) if opts.logprobs else None
            return _result(t, tokens, lps)
        finally:
            self._give_back(s, kv, compute)

    def score(self, text: str, prompt: Optional[str] = None) -> ScoredText:
        """Scores ``text`` without sampling. Without ``prompt``: every token of ``text``
        (tokenized with special tokens, so BOS gives the first word its context). With
        ``prompt``: the continuation ``text`` after ``prompt`` (the prompt's ids with special
        tokens, then the text's ids without, as lm-evaluation-harness does); ``total`` is its
        log-likelihood."""
        native = self._handle()
        s = _hfkit.Session(native, 0, 0)
        try:
            if prompt is None:
                ids = native.tokenize(text, True)
            else:
                s.eval(native.tokenize(prompt, True), False)
                ids = native.tokenize(text, False)
            lps = [float(x) for x in s.score(ids)]
        finally:
            s.close()
        return ScoredText(ids, lps, float(sum(x for x in lps if x == x)))

    def stream(self, prompt: str, **options: Any) -> Iterator[str]:
        """Generates like :meth:`generate` and yields the text pieces as they are produced.

        Breaking out of the loop cancels the generation.
        """
        kv = _kv_dtype(options.pop("kv_dtype", None))
        compute = _compute(options.pop("compute", None))
        opts = _gen_options(options)
        s = self._take_session(kv, compute)
        try:
            yield from _stream(s, prompt, opts)
        finally:
            self._give_back(s, kv, compute)

    # ---- encoders ----------------------------------------------------------------------
    def embed(
        self,
        texts: Union[str, Sequence[str]],
        pooling: Optional[str] = None,
        normalize: Optional[bool] = None,
        n_threads: int = 0,
        return_truncated: bool = False,
    ) -> Any:
        """Embeds texts with an encoder model: a float32 array of shape (len(texts), dim).

        By default the pooling and normalisation are the repository's, as sentence-transformers
        reads them (``modules.json``, ``1_Pooling/config.json``, a ``Normalize`` module; mean
        pooling and L2-normalised without them). ``pooling`` ("mean", "cls", "lasttoken", "max")
        and ``normalize`` override them. A text longer than the model's maximum
        (``sentence_bert_config.json``'s ``max_seq_length``, else its positions) is truncated,
        as sentence-transformers does; with ``return_truncated`` the result is a pair
        ``(array, flags)`` where ``flags[i]`` says whether text i was. The library writes
        straight into the returned array (no copy). A single str is one text.
        """
        modes = {None: -1, "mean": 0, "cls": 1, "lasttoken": 2, "max": 3}
        if pooling not in modes:
            raise InvalidArgumentError(
                f"pooling must be 'mean', 'cls', 'lasttoken', 'max' or None, not {pooling!r}",
                -1,
                "HFK_E_INVALID_ARG",
            )
        norm = -1 if normalize is None else (1 if normalize else 0)
        vectors, truncated = self._handle().embed(_texts(texts), modes[pooling], norm, n_threads)
        return (vectors, truncated) if return_truncated else vectors

    def classify(self, texts: Union[str, Sequence[str]]) -> _np.ndarray:
        """Class probabilities of a sequence-classification checkpoint: a float32 array of
        shape (len(texts), len(labels)); the names are :attr:`labels`. Raises
        :class:`UnsupportedError` when the checkpoint has no classifier head."""
        return self._handle().classify(_texts(texts))

    def classify_logits(self, texts: Union[str, Sequence[str]]) -> _np.ndarray:
        """The classifier head's raw logits (no softmax), shape (len(texts), len(labels)): what
        transformers' ``*ForSequenceClassification`` returns; a one-label reranker's logit is its
        score."""
        return self._handle().classify_logits(_texts(texts))

    def rerank(
        self,
        query: str,
        documents: Union[str, Sequence[str]],
        sigmoid: Optional[bool] = None,
        n_threads: int = 0,
        return_truncated: bool = False,
    ) -> Any:
        """Scores documents against a query with a cross-encoder (``*ForSequenceClassification``
        on the pair, as sentence-transformers' ``CrossEncoder.predict``): a float32 array of
        shape (len(documents),) for a one-label reranker (higher is more relevant), or
        (len(documents), len(labels)) for a head with several labels.

        Each pair is tokenized with the tokenizer's pair template (BERT: ``[CLS] query [SEP]
        document [SEP]``, the document's token types 1) and cut longest first to the model's
        maximum, as transformers' ``truncation=True``; with ``return_truncated`` the result is
        ``(scores, flags)``. ``sigmoid``: None (default) applies it to a one-label head's logit
        only, as CrossEncoder does; True to every logit; False gives raw logits. The GIL is
        released while the pairs run. A single str is one document.
        """
        act = -1 if sigmoid is None else (1 if sigmoid else 0)
        scores, truncated = self._handle().rerank(query, _texts(documents), act, n_threads)
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        return (scores, truncated) if return_truncated else scores

    # ---- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        """Frees the model now (idempotent). Later calls raise :class:`StateError`; open
        sessions keep working until they are closed."""
        with self._lock:
            idle, self._idle = self._idle, []
            native, self._native = self._native, None
        for s in idle:
            s.close()
        if native is not None:
            native.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._native is None

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._native is None:
            return "<hfkit.Model closed>"
        return f"<hfkit.Model {self.architecture} context={self.context_length}>"


# Chat templates (issue 16): Model.apply_chat_template and Model.chat.
from . import _chat  # noqa: E402
from ._chat import ChatStream  # noqa: E402

Model.apply_chat_template = _chat.apply_chat_template  # type: ignore[attr-defined]
Model.chat = _chat.chat  # type: ignore[attr-defined]
# Continuous batching (issue 19): many requests over one model in batched steps.
from ._engine import Engine, EngineResult  # noqa: E402
