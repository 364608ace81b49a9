"""Continuous batching: :class:`Engine` runs requests from many threads (or asyncio tasks) over
one model in batched steps (the C API's ``hfk_engine``, capi/include/hfkit/hfkit.h)."""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Sequence, Union

from . import _hfkit

Prompt = Union[str, Sequence[int]]


class EngineResult:
    """What a finished request produced."""

    __slots__ = ("text", "stop_reason", "n_prompt_tokens", "n_generated_tokens",
                 "time_to_first_token_ms", "logprobs")

    def __init__(self, t: tuple, model: Any = None):
        (self.text, self.stop_reason, self.n_prompt_tokens, self.n_generated_tokens,
         self.time_to_first_token_ms, lp) = t
        # With the logprobs option: a list of hfkit.TokenLogprob (as Model.generate gives).
        self.logprobs: Optional[List[Any]] = None
        if lp is not None:
            from . import _token_logprobs
            prev, ids, lps, top_ids, top_lps = lp
            self.logprobs = _token_logprobs(model, prev if prev >= 0 else None, ids, lps,
                                            top_ids, top_lps)

    def __repr__(self) -> str:
        return (f"EngineResult(text={self.text!r}, stop_reason={self.stop_reason}, "
                f"n_generated_tokens={self.n_generated_tokens})")


class Engine:
    """A batching engine over a loaded generator model (Llama-like decoders).

    ``submit`` returns a request id at once (any thread); ``result`` waits for it; ``stream``
    yields its pieces (a blocking iterator, GIL released while it waits) and ``astream`` is the
    asyncio form (each wait runs in a worker thread, so the event loop never blocks). A greedy
    request's text is the same alone or among many. A full queue raises
    :class:`hfkit.StateError` (status ``HFK_E_BUSY``): try again later. ``kv_dtype`` (None or
    "f32", "f16", "bf16") is what the KV pool stores, as a :class:`hfkit.Session`'s cache:
    16-bit halves a block's bytes, so a budget holds twice the tokens.
    """

    def __init__(self, model: Any, max_sequences: int = 8, max_batch_tokens: int = 256,
                 kv_budget_bytes: int = 0, n_threads: int = 0, max_queued: int = 64,
                 n_ctx: int = 0, kv_block_tokens: int = 16, kv_dtype: Optional[str] = None):
        from . import _kv_dtype
        self._model = model._handle()
        self._native = _hfkit.Engine(self._model, max_sequences, max_batch_tokens,
                                     kv_budget_bytes, n_threads, max_queued, n_ctx,
                                     kv_block_tokens, _kv_dtype(kv_dtype))

    def submit(self, prompt: Prompt, **options: Any) -> int:
        """Queues a request (text, or token ids); options as :meth:`hfkit.Model.generate`."""
        from . import _gen_options
        return self._native.submit(_prompt(prompt), _gen_options(options), False)

    def result(self, request_id: int) -> EngineResult:
        """Waits for a request and returns its result (raises its error, e.g. CancelledError)."""
        return EngineResult(self._native.wait(request_id), self._model)

    def generate(self, prompt: Prompt, **options: Any) -> str:
        """submit + result: the generated text."""
        return self.result(self.submit(prompt, **options)).text

    def cancel(self, request_id: int) -> bool:
        """Cancels a request (any thread); False if it had already ended."""
        return self._native.cancel(request_id)

    def stream(self, prompt: Prompt, **options: Any) -> Iterator[str]:
        """Yields the pieces of one request as they are produced; leaving the loop early
        cancels it."""
        from . import _gen_options
        rid = self._native.submit(_prompt(prompt), _gen_options(options), True)
        done = False
        try:
            while True:
                piece = self._native.next_piece(rid)
                if piece is None:
                    break
                yield piece
            done = True
            self._native.wait(rid)  # raises the request's error, if any
        finally:
            if not done and not self._native.closed:
                self._native.cancel(rid)
                try:
                    self._native.wait(rid)
                except Exception:  # the cancel's own CancelledError
                    pass

    async def astream(self, prompt: Prompt, **options: Any) -> AsyncIterator[str]:
        """The asyncio form of :meth:`stream`: ``async for piece in engine.astream(...)``."""
        from . import _gen_options
        rid = self._native.submit(_prompt(prompt), _gen_options(options), True)
        done = False
        try:
            while True:
                piece = await asyncio.to_thread(self._native.next_piece, rid)
                if piece is None:
                    break
                yield piece
            done = True
            await asyncio.to_thread(self._native.wait, rid)
        finally:
            if not done and not self._native.closed:
                self._native.cancel(rid)
                try:
                    await asyncio.to_thread(self._native.wait, rid)
                except Exception:
                    pass

    def stats(self) -> Dict[str, int]:
        """Queue depth, running requests, the last step's batch, KV blocks used/total/cached,
        prefix_cache_hits (prompt tokens read from cached blocks), constraint_cache_hits
        (submits whose constraint was already compiled), ..."""
        return self._native.stats()

    def close(self) -> None:
        """Cancels every request and frees the engine (idempotent)."""
        self._native.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _prompt(prompt: Prompt) -> Any:
    if isinstance(prompt, str):
        return prompt
    return [int(i) for i in prompt]
