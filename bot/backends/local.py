"""In-process llama-cpp-python backend.

Each model is loaded once (mmap) and owned by one worker thread: llama.cpp contexts are not
thread-safe, and a dedicated thread per model means one model never blocks another. Tokens are
handed to the event loop through an ``asyncio.Queue`` with ``call_soon_threadsafe``, so the loop
never waits on inference. Cancellation is a flag the worker checks between tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bot.backends.base import BackendError, Request, Usage
from bot.catalog import ModelSpec
from bot.fetch import verify

_END = object()


class LocalBackend:
    def __init__(self, spec: ModelSpec, models_dir: Path, threads: int) -> None:
        self.spec = spec
        self.models_dir = models_dir
        self.threads = threads
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{spec.id}")
        self._llama: Any = None
        self._load_lock = asyncio.Lock()
        self._threads_now = threads

    async def load(self) -> None:
        async with self._load_lock:
            if self._llama is None:
                loop = asyncio.get_running_loop()
                self._llama = await loop.run_in_executor(self._executor, self._load_sync)

    def _load_sync(self) -> Any:
        path = verify(self.spec, self.models_dir)  # never load an unpinned file
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - a broken install
            raise BackendError(f"llama-cpp-python is not installed: {exc}") from exc
        try:
            return Llama(model_path=str(path), n_ctx=self.spec.n_ctx, n_threads=self.threads,
                         n_threads_batch=self.threads, seed=self.spec.seed, use_mmap=True,
                         verbose=False)
        except Exception as exc:  # llama-cpp raises ValueError/RuntimeError on bad files
            raise BackendError(
                f"model {self.spec.id!r}: llama.cpp could not load {path}: {exc}. "
                f"Fix: parallax models pull {self.spec.id}") from exc

    # -- context fitting -------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        if self._llama is None:
            raise BackendError("count_tokens() before load()")
        return len(self._llama.tokenize(text.encode(), add_bos=False))

    def cut(self, text: str, max_tokens: int) -> str:
        tokens = self._llama.tokenize(text.encode(), add_bos=False)[: max(max_tokens, 1)]
        return self._llama.detokenize(tokens).decode("utf-8", errors="ignore")

    # -- generation --------------------------------------------------------------------------
    async def stream(self, request: Request, usage: Usage) -> AsyncIterator[str]:
        await self.load()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under us
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                self._generate(request, usage, cancel, put)
            except BaseException as exc:
                put(exc)
            finally:
                put(_END)

        future = loop.run_in_executor(self._executor, work)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise BackendError(f"{type(item).__name__}: {item}") from item
                yield item  # type: ignore[misc]
        finally:
            cancel.set()
            if not future.done():
                future.add_done_callback(lambda f: f.exception())  # retrieve, never raise

    def _set_threads(self, n: int) -> None:
        if n <= 0 or n == self._threads_now:
            return
        import llama_cpp

        llama_cpp.llama_set_n_threads(self._llama.ctx, n, n)
        self._threads_now = n

    def _generate(self, request: Request, usage: Usage, cancel: threading.Event,
                  put: Any) -> None:
        llama = self._llama
        self._set_threads(request.threads or self.threads)
        common: dict[str, Any] = dict(
            max_tokens=request.max_tokens, temperature=request.temperature,
            top_p=request.top_p, repeat_penalty=request.repeat_penalty, seed=request.seed,
            stop=list(request.stop) or None, stream=True)
        if request.prompt is not None:
            usage.prompt_tokens = len(llama.tokenize(request.prompt.encode(), add_bos=True))
            chunks = llama.create_completion(request.prompt, **common)
            get = _completion_text
        else:
            chunks = llama.create_chat_completion(messages=request.messages, **common)
            get = _chat_text
        before = 0
        counted = 0
        try:
            for chunk in chunks:
                if cancel.is_set():
                    usage.finish_reason = "cancelled"
                    break
                choice = chunk["choices"][0]
                if before == 0:
                    before = llama.n_tokens  # prompt evaluated: what is in the context now
                    if not usage.prompt_tokens:
                        usage.prompt_tokens = before
                text = get(choice)
                if text:
                    counted += 1
                    put(text)
                if choice.get("finish_reason"):
                    usage.finish_reason = str(choice["finish_reason"])
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        # tokens generated: what the context grew by; on "length" the last sampled token is
        # never evaluated, on "stop" the end-of-generation token is not text
        grown = 0
        if before:
            grown = llama.n_tokens - before + (1 if usage.finish_reason == "length" else 0)
        usage.completion_tokens = max(grown, counted)

    async def close(self) -> None:
        llama, self._llama = self._llama, None
        if llama is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, llama.close)
        self._executor.shutdown(wait=False, cancel_futures=True)


def _chat_text(choice: dict[str, Any]) -> str:
    return (choice.get("delta") or {}).get("content") or ""


def _completion_text(choice: dict[str, Any]) -> str:
    return choice.get("text") or ""
