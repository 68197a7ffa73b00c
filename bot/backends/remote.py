"""OpenAI-compatible HTTP backend: llama.cpp's llama-server, vLLM, Ollama, llama_cpp.server.

A deployment spreads models over machines: a manifest entry with ``source.kind = "remote"``
names one or more **endpoints** (``base_url`` ``http://host:port/v1``, the model's name there,
the environment variable holding its API key, timeouts). Chat models use
``/chat/completions``, base models (``chat_format = "template:..."``) ``/completions``; both
stream server-sent events.

The contract with several endpoints:

- each answer goes to the least busy endpoint that is up (fewest answers in flight, then the
  manifest's order);
- an endpoint that fails — refuses the connection, answers an HTTP error, sends garbage, goes
  silent past its ``read_timeout``, or stops mid-answer — is marked down for a while (5 s,
  doubling with each failure in a row, at most 5 minutes) and the answer is asked **once more**
  of another endpoint, from the start. Text already streamed is taken back with
  :data:`RESTART`, so the user sees one answer; ``usage.retried`` marks it;
- when every endpoint is down, the one that comes back soonest is tried anyway.

Reasoning models served remotely send their thinking either inside the text (``<think>…
</think>``, split by the pipeline like a local model's) or in a separate ``reasoning_content``
field, which is turned into the same ``<think>…</think>`` text here: one splitter, one
record, an empty think block included.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from bot.backends.base import RESTART, Request, Usage
from bot.catalog import Endpoint, ModelSpec
from bot.errors import BackendError

log = logging.getLogger(__name__)

#: a rough, safe characters-per-token figure used to fit text when no tokenizer is at hand
_CHARS_PER_TOKEN = 3
#: how long a failed endpoint rests: 5 s, doubling with each failure in a row, at most 5 min
BACKOFF_FIRST, BACKOFF_MAX = 5.0, 300.0


@dataclass
class _State:
    endpoint: Endpoint
    in_flight: int = 0
    failures: int = 0
    down_until: float = 0.0

    def up(self, now: float) -> bool:
        return self.down_until <= now


class RemoteBackend:
    def __init__(self, spec: ModelSpec, client: httpx.AsyncClient | None = None,
                 clock: Any = time.monotonic) -> None:
        self.spec = spec
        self._client = client
        self._own_client = client is None
        self.clock = clock
        endpoints = spec.source.endpoints or (Endpoint(spec.source.base_url, spec.source.model,
                                                       spec.source.api_key_env),)
        self.states = [_State(e) for e in endpoints]

    async def load(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))

    async def count_tokens(self, text: str) -> int:
        """An estimate (no tokenizer at hand): about three characters a token, rounded up."""
        return -(-len(text) // _CHARS_PER_TOKEN)

    async def cut(self, text: str, max_tokens: int) -> str:
        return text[: max(max_tokens, 1) * _CHARS_PER_TOKEN]

    # -- choosing an endpoint ------------------------------------------------------------------
    def _pick(self, exclude: _State | None = None) -> _State | None:
        now = self.clock()
        candidates = [s for s in self.states if s is not exclude]
        if not candidates:
            return None
        up = [s for s in candidates if s.up(now)]
        if up:  # least busy first; the manifest's order breaks ties
            return min(up, key=lambda s: s.in_flight)
        return min(candidates, key=lambda s: s.down_until)  # all down: the soonest back

    def _failed(self, state: _State, error: str) -> None:
        state.failures += 1
        rest = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (state.failures - 1))
        state.down_until = self.clock() + rest
        log.warning("model %s: endpoint %s failed (%s); resting it %g s", self.spec.id,
                    state.endpoint.base_url, error, rest)

    # -- one answer ----------------------------------------------------------------------------
    async def stream(self, request: Request, usage: Usage) -> AsyncIterator[str]:
        await self.load()
        state = self._pick()
        assert state is not None
        tried: list[str] = []
        while True:
            usage.endpoint = state.endpoint.base_url
            sent = False
            failure: BackendError | None = None
            state.in_flight += 1
            try:
                async for chunk in self._stream_one(state.endpoint, request, usage):
                    sent = True
                    yield chunk
                state.failures = 0
                return
            except BackendError as exc:
                failure = exc
            finally:
                state.in_flight -= 1  # this endpoint's answer is over, however it ended
            self._failed(state, str(failure))
            tried.append(str(failure))
            other = self._pick(exclude=state) if len(tried) == 1 else None
            if other is None:
                raise BackendError(" ; then ".join(tried)) from failure
            log.info("model %s: asking %s instead", self.spec.id, other.endpoint.base_url)
            if sent:
                yield RESTART  # take back what the failed endpoint streamed
            usage.retried = True
            usage.completion_tokens = usage.prompt_tokens = 0
            usage.finish_reason = ""
            state = other

    async def _stream_one(self, endpoint: Endpoint, request: Request,
                          usage: Usage) -> AsyncIterator[str]:
        assert self._client is not None
        body: dict[str, Any] = {
            "model": endpoint.model, "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens, "temperature": request.temperature,
            "top_p": request.top_p, "seed": request.seed,
            "repeat_penalty": request.repeat_penalty,  # llama.cpp and vLLM honour it
        }
        if request.temperature <= 0:
            # Greedy: the same answer (penalties, then the most likely token, as
            # llama-cpp-python samples locally at temperature 0), but llama-server's default
            # chain (top_k 40, top_p, min_p, ...) then runs on one candidate instead of the
            # whole vocabulary, for every token of every slot, on its one sampling thread.
            # vLLM and llama-cpp-python accept top_k too. Measured: docs/performance.md.
            body["top_k"] = 1
        if request.stop:
            body["stop"] = list(request.stop)
        if request.prompt is not None:
            url, body["prompt"] = f"{endpoint.base_url}/completions", request.prompt
        else:
            url, body["messages"] = f"{endpoint.base_url}/chat/completions", request.messages
        key = os.environ.get(endpoint.api_key_env, "") if endpoint.api_key_env else ""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        timeout = httpx.Timeout(endpoint.connect_timeout, read=endpoint.read_timeout or None)
        counted = 0
        events = 0
        opened = thinking = False  # a reasoning_content block began / is still open
        try:
            async with self._client.stream("POST", url, json=body, headers=headers,
                                           timeout=timeout) as resp:
                if resp.status_code != 200:
                    detail = (await resp.aread()).decode("utf-8", "replace")[:300]
                    hint = (" (check the API key in the environment variable "
                            f"{endpoint.api_key_env or '…'})"
                            if resp.status_code in (401, 403) else "")
                    raise BackendError(f"{url} answered HTTP {resp.status_code}{hint}: {detail}")
                done = False
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    try:
                        event = json.loads(data)
                    except json.JSONDecodeError:
                        raise BackendError(f"{url} sent something that is not a server-sent "
                                           f"JSON event: {data[:80]!r}") from None
                    if not isinstance(event, dict):
                        raise BackendError(f"{url} sent an event that is not an object")
                    events += 1
                    if event.get("usage"):
                        usage.prompt_tokens = int(event["usage"].get("prompt_tokens") or 0)
                        usage.completion_tokens = int(
                            event["usage"].get("completion_tokens") or 0)
                    for choice in event.get("choices") or []:
                        if request.prompt is None:
                            delta = choice.get("delta") or {}
                            reasoning = delta.get("reasoning_content")
                            content = str(delta.get("content") or "")
                            text = ""
                            if reasoning is not None and not opened:
                                # the server splits the thinking off: mark it as a local
                                # model's would be (an empty block included)
                                opened = thinking = True
                                text = "<think>"
                            if reasoning:
                                text += str(reasoning)
                            if content and thinking:
                                thinking = False
                                text += "</think>"
                            text += content
                        else:
                            text = choice.get("text") or ""
                        if text:
                            counted += 1
                            yield text
                        if choice.get("finish_reason"):
                            usage.finish_reason = str(choice["finish_reason"])
                if not done and not usage.finish_reason:
                    raise BackendError(f"{url} stopped mid-answer")
                if not usage.finish_reason:
                    # Every OpenAI-compatible server ends a whole answer with a finish_reason
                    # ("stop", "length"); llama-cpp-python's server, by default, ends a stream
                    # it interrupts for a newer request with a bare [DONE] (measured: two
                    # users at once, the first answer cut after a few tokens).
                    raise BackendError(
                        f"{url} ended the answer without a finish reason: it was cut off (a "
                        "llama-cpp-python server interrupts an answer when another request "
                        "arrives: start it with --interrupt_requests false)")
                if thinking:
                    yield "</think>"
        except httpx.HTTPError as exc:
            raise BackendError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if not events:
            raise BackendError(f"{url} answered no event")
        if not usage.completion_tokens:
            usage.completion_tokens = counted

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
        self._client = None


async def served_models(base_url: str, api_key: str = "") -> list[str]:
    """The model names an OpenAI-compatible server lists at ``/models``."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            resp = await client.get(f"{base_url.rstrip('/')}/models", headers=headers)
            resp.raise_for_status()
            data = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise BackendError(f"{base_url}/models: {type(exc).__name__}: {exc}") from exc
    return [str(m["id"]) for m in data.get("data") or [] if isinstance(m, dict) and "id" in m]

