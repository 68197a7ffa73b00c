"""Local llama.cpp models, each in a supervised worker process of its own.

``LocalBackend`` starts ``bot.backends.worker`` (one process per model) and speaks its JSON-lines
protocol over pipes with asyncio, so the event loop never waits on inference and no llama.cpp
code runs in Parallax's own process. Why processes (measured, docs/performance.md): llama.cpp
inference from several OS threads of one process makes every model about 3× slower, and a
native crash would end the whole terminal session or bot.

The contract:

- ``load()`` starts the worker and waits until the model is loaded (idempotent; concurrent
  callers share one start). A worker that died is started again by the next ``load()``.
- A worker that dies — crash, abort, ``SIGKILL``, out-of-memory kill — fails the request in
  flight with a :class:`BackendError` that says how it stopped ("the model process stopped
  (signal 9, SIGKILL)"); the next request starts a new worker.
- A stream that is abandoned (cancelled, timed out) asks the worker to stop between two tokens;
  a worker that does not confirm within ``cancel_grace`` seconds is hung and is killed.
- One generation at a time per model; requests of one model wait their turn.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.backends.base import Request, Usage
from bot.catalog import ModelSpec
from bot.errors import BackendError
from bot.fetch import verify

log = logging.getLogger(__name__)
#: the workers' own output (llama.cpp's log, Python warnings), one line at a time
_worker_log = logging.getLogger("llama.cpp")

#: how the worker is started; tests put another program here to make a worker that crashes
WORKER_ARGV: tuple[str, ...] = (sys.executable, "-m", "bot.backends.worker")
#: the folder that holds the ``bot`` package
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
#: lines of a worker's stderr kept to explain a crash in the log
_STDERR_TAIL = 40
#: protocol lines can be long (a cut question): asyncio's default line limit is 64 KiB
_LINE_LIMIT = 64 * 1024 * 1024


def describe_exit(returncode: int | None) -> str:
    """'signal 9, SIGKILL' or 'exit code 3'."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"signal {-returncode}, {name}"
    return f"exit code {returncode}"


class _Died:
    """Put in every waiting queue when the worker process ends."""

    def __init__(self, message: str) -> None:
        self.message = message


class _Worker:
    """One running worker process and the readers of its two output pipes."""

    def __init__(self, proc: asyncio.subprocess.Process, model_id: str) -> None:
        self.proc = proc
        self.model_id = model_id
        self.waiting: dict[int, asyncio.Queue[Any]] = {}
        self.ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL)
        self.death: str | None = None
        self.expected_exit = False
        self._readers = [asyncio.create_task(self._read_events(), name=f"worker-{model_id}"),
                         asyncio.create_task(self._read_stderr(), name=f"stderr-{model_id}")]

    @property
    def alive(self) -> bool:
        return self.death is None and self.proc.returncode is None

    async def send(self, message: dict[str, Any]) -> None:
        if not self.alive or self.proc.stdin is None:
            raise BackendError(self.death or "the model process is not running")
        try:
            self.proc.stdin.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            await self.proc.wait()
            raise BackendError(self.death or self._death_message()) from exc

    def _death_message(self) -> str:
        return f"the model process stopped ({describe_exit(self.proc.returncode)})"

    async def _read_events(self) -> None:
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("model %s: unreadable worker line %r", self.model_id, line[:200])
                    continue
                kind = event.get("ev")
                if kind in ("ready", "fatal"):
                    if not self.ready.done():
                        self.ready.set_result(event)
                    continue
                q = self.waiting.get(int(event.get("id", -1)))
                if q is not None:
                    q.put_nowait(event)
        except Exception:  # never leave the waiters hanging on a reader bug
            log.exception("model %s: worker reader failed", self.model_id)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()
        for task in self._readers[1:]:  # the whole of stderr, for the log below
            try:
                await asyncio.wait_for(asyncio.shield(task), 2)
            except Exception as exc:  # the log below says how the worker died all the same
                log.debug("model %s: its stderr was not read to the end: %r", self.model_id,
                          exc)
        self.death = self._death_message()
        if not self.expected_exit:
            tail = "\n".join(self.stderr_tail)
            log.warning("model %s: %s; its last output:\n%s", self.model_id, self.death, tail)
        if not self.ready.done():
            self.ready.set_result({"ev": "fatal", "message": self.death, "died": True})
        for q in self.waiting.values():
            q.put_nowait(_Died(self.death))

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self.stderr_tail.append(text)
                _worker_log.debug("[%s] %s", self.model_id, text)

    async def stop(self, grace: float = 5.0) -> None:
        """End the worker: close its input, wait ``grace`` seconds, then kill it."""
        self.expected_exit = True
        if self.proc.returncode is None:
            if self.proc.stdin is not None:
                try:
                    self.proc.stdin.close()
                except Exception as exc:  # a dead pipe: the wait below ends it
                    log.debug("model %s: closing its input failed: %r", self.model_id, exc)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                self.kill()
                await self.proc.wait()
        for task in self._readers:
            try:
                await asyncio.wait_for(task, grace)
            except Exception as exc:  # the process is gone; only its readers lingered
                log.debug("model %s: a reader did not finish: %r", self.model_id, exc)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()


class LocalBackend:
    def __init__(self, spec: ModelSpec, models_dir: Path, threads: int, *,
                 load_timeout: float = 300.0, cancel_grace: float = 5.0,
                 send_interval: float | None = None,
                 worker_argv: Sequence[str] | None = None, release_rows: bool = True) -> None:
        self.spec = spec
        self.models_dir = models_dir
        self.threads = threads
        self.load_timeout = load_timeout
        self.cancel_grace = cancel_grace
        self.send_interval = send_interval  # None: the worker's own (worker.SEND_INTERVAL)
        self.worker_argv = tuple(worker_argv or WORKER_ARGV)
        # the worker drops the pre-faulted pages of tensors read by rows (worker.py, "memory");
        # False keeps llama.cpp's own behaviour, for the benchmark's baseline
        self.release_rows = release_rows
        self.info: dict[str, Any] = {}  # the worker's "ready" event: pid, use_extra_bufts, …
        self._worker: _Worker | None = None
        self._started = 0  # workers started so far
        self._start_lock = asyncio.Lock()
        self._turn = asyncio.Lock()  # one request at a time
        self._ids = itertools.count(1)
        self._draining: set[asyncio.Task[None]] = set()

    @property
    def restarts(self) -> int:
        """Workers started after the first one."""
        return max(self._started - 1, 0)

    @property
    def pid(self) -> int | None:
        """The worker's process id, while one runs."""
        w = self._worker
        return w.proc.pid if w is not None and w.alive else None

    # -- the worker's life -------------------------------------------------------------------
    async def load(self) -> None:
        await self._ready_worker()

    async def _ready_worker(self) -> _Worker:
        async with self._start_lock:
            w = self._worker
            if w is not None and w.alive:
                return w
            path = await asyncio.to_thread(verify, self.spec, self.models_dir)  # pinned only
            self._worker = w = await self._start(path)
            return w

    async def _start(self, path: Path) -> _Worker:
        config = {"path": str(path), "n_ctx": self.spec.n_ctx, "threads": self.threads,
                  "seed": self.spec.seed, "chat": self.spec.template_name is None,
                  "kv_cache": self.spec.kv_cache, "release_rows": self.release_rows,
                  **({} if self.send_interval is None else {"send_interval": self.send_interval}),
                  "model_id": self.spec.id}
        env = dict(os.environ)
        # the worker imports bot.backends.worker: the same package, from any directory
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_PARENT,
                                                          env.get("PYTHONPATH")]))
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.worker_argv, json.dumps(config), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
                limit=_LINE_LIMIT, start_new_session=True)  # Ctrl-C reaches Parallax only
        except OSError as exc:
            raise BackendError(
                f"model {self.spec.id!r}: could not start its process: {exc}") from exc
        self._started += 1
        w = _Worker(proc, self.spec.id)
        try:
            ready = await asyncio.wait_for(asyncio.shield(w.ready), self.load_timeout)
        except TimeoutError:
            w.kill()
            await w.stop()
            raise BackendError(f"model {self.spec.id!r}: loading took more than "
                               f"{self.load_timeout:g} s; the model process was stopped") from None
        except asyncio.CancelledError:
            await w.stop(grace=0)
            raise
        if ready.get("ev") != "ready":
            await w.stop()
            if ready.get("died"):
                raise BackendError(f"model {self.spec.id!r}: {ready['message']} while loading "
                                   f"{path.name}")
            raise BackendError(
                f"model {self.spec.id!r}: llama.cpp could not load {path}: {ready['message']}. "
                f"Fix: parallax models pull {self.spec.id}")
        self.info = ready
        log.info("model %s: worker %s ready", self.spec.id, ready.get("pid"))
        return w

    async def close(self) -> None:
        """Stop the worker (a request still in flight ends with an error)."""
        w, self._worker = self._worker, None
        if w is not None:
            await w.stop()

    # -- requests ----------------------------------------------------------------------------
    async def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        """One request, one reply (count, cut)."""
        async with self._turn:
            w = await self._ready_worker()
            rid = next(self._ids)
            q: asyncio.Queue[Any] = asyncio.Queue()
            w.waiting[rid] = q
            try:
                await w.send({**message, "id": rid})
                reply = await q.get()
            finally:
                w.waiting.pop(rid, None)
        if isinstance(reply, _Died):
            raise BackendError(reply.message)
        if reply.get("ev") == "error":
            raise BackendError(f"model {self.spec.id!r}: {reply['message']}")
        return dict(reply)

    async def count_tokens(self, text: str) -> int:
        return int((await self._call({"op": "count", "text": text}))["n"])

    async def cut(self, text: str, max_tokens: int) -> str:
        reply = await self._call({"op": "cut", "text": text, "max_tokens": max_tokens})
        return str(reply["text"])

    async def stream(self, request: Request, usage: Usage) -> AsyncIterator[str]:
        await self._turn.acquire()
        handed_over = False
        try:
            w = await self._ready_worker()
            rid = next(self._ids)
            q: asyncio.Queue[Any] = asyncio.Queue()
            w.waiting[rid] = q
            body = asdict(request)
            body["stop"] = list(request.stop)
            body["threads"] = request.threads or self.threads
            finished = False
            try:
                await w.send({"op": "generate", "id": rid, **body})
                while True:
                    event = await q.get()
                    if isinstance(event, _Died):
                        raise BackendError(event.message)
                    match event.get("ev"):
                        case "token":
                            usage.completion_tokens = int(event["n"])
                            usage.prompt_tokens = int(event["prompt_tokens"])
                            yield str(event["text"])
                        case "done":
                            usage.prompt_tokens = int(event["prompt_tokens"])
                            usage.completion_tokens = int(event["completion_tokens"])
                            usage.finish_reason = str(event["finish_reason"])
                            finished = True
                            return
                        case "error":
                            finished = True
                            raise BackendError(f"model {self.spec.id!r}: {event['message']}")
            finally:
                if not finished and w.alive:
                    # abandoned mid-answer: stop the worker between two tokens, and hand the
                    # turn over once it confirms (or once it is killed as hung)
                    handed_over = True
                    usage.finish_reason = "cancelled"
                    task = asyncio.create_task(self._drain(w, rid, q),
                                               name=f"drain-{self.spec.id}")
                    self._draining.add(task)  # the loop holds tasks weakly
                    task.add_done_callback(self._draining.discard)
                else:
                    w.waiting.pop(rid, None)
        finally:
            if not handed_over:
                self._turn.release()

    async def _drain(self, w: _Worker, rid: int, q: asyncio.Queue[Any]) -> None:
        try:
            with contextlib.suppress(BackendError):
                await w.send({"op": "cancel", "id": rid})
            deadline = asyncio.get_running_loop().time() + self.cancel_grace
            while True:
                left = deadline - asyncio.get_running_loop().time()
                event = await asyncio.wait_for(q.get(), max(left, 0))
                if isinstance(event, _Died) or event.get("ev") in ("done", "error"):
                    return
        except TimeoutError:
            log.warning("model %s: no answer %g s after it was asked to stop; killing its "
                        "process (pid %s)", self.spec.id, self.cancel_grace, w.proc.pid)
            w.expected_exit = True
            w.kill()
            await w.proc.wait()
        finally:
            w.waiting.pop(rid, None)
            self._turn.release()
