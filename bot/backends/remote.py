"""OpenAI-compatible HTTP backend: llama.cpp's llama-server, vLLM, Ollama, llama_cpp.server.

A deployment can spread models over machines: each manifest entry with ``source.kind =
"remote"`` names a server's ``base_url`` (``http://host:port/v1``) and the model name it serves.
Chat models use ``/chat/completions``, base models (``chat_format = "template:..."``) use
``/completions``; both stream server-sent events.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx

from bot.backends.base import BackendError, Request, Usage
from bot.catalog import ModelSpec

#: a rough, safe characters-per-token figure used to fit text when no tokenizer is at hand
_CHARS_PER_TOKEN = 3


class RemoteBackend:
    def __init__(self, spec: ModelSpec, client: httpx.AsyncClient | None = None) -> None:
        self.spec = spec
        self._client = client
        self._own_client = client is None

    async def load(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))

    def _headers(self) -> dict[str, str]:
        env = self.spec.source.api_key_env
        key = os.environ.get(env, "") if env else ""
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def count_tokens(self, text: str) -> int:
        """An estimate (no tokenizer at hand): about three characters a token, rounded up."""
        return -(-len(text) // _CHARS_PER_TOKEN)

    async def cut(self, text: str, max_tokens: int) -> str:
        return text[: max(max_tokens, 1) * _CHARS_PER_TOKEN]

    async def stream(self, request: Request, usage: Usage) -> AsyncIterator[str]:
        await self.load()
        assert self._client is not None
        body: dict[str, Any] = {
            "model": self.spec.source.model, "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens, "temperature": request.temperature,
            "top_p": request.top_p, "seed": request.seed,
            "repeat_penalty": request.repeat_penalty,  # llama.cpp and vLLM honour it
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.prompt is not None:
            url, body["prompt"] = f"{self.spec.source.base_url}/completions", request.prompt
        else:
            url, body["messages"] = (f"{self.spec.source.base_url}/chat/completions",
                                     request.messages)
        counted = 0
        try:
            async with self._client.stream("POST", url, json=body,
                                           headers=self._headers()) as resp:
                if resp.status_code != 200:
                    detail = (await resp.aread()).decode("utf-8", "replace")[:300]
                    raise BackendError(f"{url} answered HTTP {resp.status_code}: {detail}")
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        event = json.loads(data)
                    except json.JSONDecodeError:
                        continue
                    if event.get("usage"):
                        usage.prompt_tokens = int(event["usage"].get("prompt_tokens") or 0)
                        usage.completion_tokens = int(
                            event["usage"].get("completion_tokens") or 0)
                    for choice in event.get("choices") or []:
                        text = ((choice.get("delta") or {}).get("content")
                                if request.prompt is None else choice.get("text")) or ""
                        if text:
                            counted += 1
                            yield text
                        if choice.get("finish_reason"):
                            usage.finish_reason = str(choice["finish_reason"])
        except httpx.HTTPError as exc:
            raise BackendError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if not usage.completion_tokens:
            usage.completion_tokens = counted

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
        self._client = None
