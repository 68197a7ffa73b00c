"""In-process llama-cpp-python backend.

Each model is loaded once (mmap) and owned by one worker thread: llama.cpp contexts are not
thread-safe, and a dedicated thread per model means one model never blocks another. Tokens are
handed to the event loop through an ``asyncio.Queue`` with ``call_soon_threadsafe``, so the loop
never waits on inference. Cancellation is a flag the worker checks between tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from llama_cpp import StoppingCriteriaList

from bot.backends.base import BackendError, Request, Usage
from bot.catalog import ModelSpec
from bot.fetch import verify

_END = object()
#: With ``verbose=False`` llama-cpp-python silences llama.cpp by pointing the process's stdout
#: and stderr file descriptors at /dev/null while it loads a model: every thread's output is
#: lost meanwhile, and two loads at once can leave the process silent for good
#: (llama-cpp-python issue #1874). So Parallax loads with ``verbose=True``, routes llama.cpp's
#: log to Python logging (logger "llama.cpp", DEBUG), hides the Python-level prints of the
#: constructor, and lets one load run at a time.
_LIFECYCLE = threading.Lock()
_llama_log = logging.getLogger("llama.cpp")
_log_bridge: Any = None


def _install_log_bridge() -> None:
    global _log_bridge
    if _log_bridge is not None:
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def bridge(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        if _llama_log.isEnabledFor(logging.DEBUG):
            _llama_log.debug("%s", text.decode("utf-8", "replace").rstrip("\n"))

    llama_cpp.llama_log_set(bridge, ctypes.c_void_p(0))
    _log_bridge = bridge  # keep the C callback alive


class LocalBackend:
    def __init__(self, spec: ModelSpec, models_dir: Path, threads: int) -> None:
        self.spec = spec
        self.models_dir = models_dir
        self.threads = threads
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{spec.id}")
        self._llama: Any = None
        self._load_lock = asyncio.Lock()
        self._threads_now = threads
        self._formatter: Any = None

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
            with _LIFECYCLE, contextlib.redirect_stderr(io.StringIO()):
                _install_log_bridge()
                llama = Llama(model_path=str(path), n_ctx=self.spec.n_ctx,
                              n_threads=self.threads, n_threads_batch=self.threads,
                              seed=self.spec.seed, use_mmap=True, verbose=True)
            llama.verbose = False  # no timing prints while generating
        except Exception as exc:  # llama-cpp raises ValueError/RuntimeError on bad files
            raise BackendError(
                f"model {self.spec.id!r}: llama.cpp could not load {path}: {exc}. "
                f"Fix: parallax models pull {self.spec.id}") from exc
        if self.spec.template_name is None:
            self._formatter = _chat_formatter(llama, self.spec.id)
        return llama

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
        calls = 0

        def tick(_input_ids: Any, _logits: Any) -> bool:
            # llama-cpp-python calls this once after every sampled token, and once more at the
            # end: an exact token count, and a way to stop even while text is held back
            nonlocal calls
            if calls == 0:
                usage.prompt_tokens = llama.n_tokens  # the prompt is evaluated, nothing else
            calls += 1
            return cancel.is_set()

        stop = list(request.stop)
        criteria: list[Any] = [tick]
        if request.prompt is not None:
            prompt: str | list[int] = request.prompt
        else:
            # the model's own chat template (from the pinned GGUF), exactly as
            # create_chat_completion applies it, but through create_completion so that the
            # stopping criteria above are honoured
            result = self._formatter(messages=request.messages)
            prompt = llama.tokenize(result.prompt.encode("utf-8"),
                                    add_bos=not result.added_special, special=True)
            if result.stop:
                stop += [result.stop] if isinstance(result.stop, str) else list(result.stop)
            if result.stopping_criteria is not None:
                criteria += list(result.stopping_criteria)
        chunks = llama.create_completion(
            prompt, max_tokens=request.max_tokens, temperature=request.temperature,
            top_p=request.top_p, repeat_penalty=request.repeat_penalty, seed=request.seed,
            stop=stop or None, stream=True, stopping_criteria=StoppingCriteriaList(criteria))
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                text = choice.get("text") or ""
                if text:
                    put(text)
                if choice.get("finish_reason"):
                    usage.finish_reason = str(choice["finish_reason"])
                if cancel.is_set():
                    break
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if cancel.is_set():
            usage.finish_reason = "cancelled"
        # tokens sampled, the end-of-generation token included (the last call is the final one)
        usage.completion_tokens = max(calls - 1, 0)

    async def close(self) -> None:
        llama, self._llama = self._llama, None
        if llama is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, llama.close)
        self._executor.shutdown(wait=False, cancel_futures=True)


def _chat_formatter(llama: Any, model_id: str) -> Any:
    """The Jinja chat formatter of the GGUF's own template (built as llama-cpp-python does)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise BackendError(
            f"model {model_id!r}: the GGUF file has no chat template. Fix: set chat_format = "
            f"\"template:base-qa\" (or another prompts/templates/ file) in the manifest")
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = llama._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llama._model.token_get_text(bos_id) if bos_id != -1 else ""
    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                               stop_token_ids=[eos_id])
