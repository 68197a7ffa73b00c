"""Scripted stand-ins for models: answers, failures and hangs on demand, for fast pipeline and
Telegram tests (the real engine is tested apart, on generated tiny GGUF models and the real
models)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.backends.base import Request, Usage
from bot.catalog import Catalog, ModelSpec, parse_manifest
from bot.config import PROJECT_ROOT, Settings
from bot.errors import BackendError
from bot.pipeline import Pipeline
from bot.prompts import Prompts
from bot.store import Store


@dataclass
class FakeBackend:
    spec: ModelSpec
    chunks: list[str] = field(default_factory=lambda: ["Paris ", "is ", "the ", "capital."])
    delay: float = 0.0
    fail: str | None = None  # raise BackendError with this message while streaming
    fail_load: str | None = None
    hang: bool = False
    on_stream: Callable[[Request], object] | None = None
    requests: list[Request] = field(default_factory=list)
    loaded: bool = False
    closed: bool = False

    async def load(self) -> None:
        if self.fail_load:
            raise BackendError(self.fail_load)
        self.loaded = True

    async def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def cut(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])

    async def stream(self, request: Request, usage: Usage) -> AsyncIterator[str]:
        self.requests.append(request)
        if self.on_stream is not None:
            result = self.on_stream(request)
            if asyncio.iscoroutine(result):
                await result
        usage.prompt_tokens = 10
        for i, chunk in enumerate(self.chunks):
            if self.hang:
                await asyncio.sleep(3600)
            if self.fail and i == 1:
                raise BackendError(self.fail)
            await asyncio.sleep(self.delay)
            usage.completion_tokens += 1
            yield chunk
        usage.finish_reason = "stop"

    async def close(self) -> None:
        self.closed = True


def fake_catalog(*ids: str, timeout: float = 30.0) -> Catalog:
    text = "".join(f"""
[[models]]
id = "{i}"
name = "Fake {i}"
organisation = "Org {i}"
country = "CN"
sha256 = "{'0' * 64}"
file = "{i}.gguf"
default = true
timeout_seconds = {timeout}
[models.source]
kind = "path"
path = "/nonexistent/{i}.gguf"
""" for i in ids)
    return parse_manifest(text, Path("/tmp/fake-models.toml"))


async def fake_pipeline(settings: Settings, backends: dict[str, FakeBackend],
                        timeout: float = 30.0) -> Pipeline:
    catalog = fake_catalog(*backends, timeout=timeout)
    for spec in catalog.models:
        backends[spec.id].spec = spec
    store = await Store.open(settings.database)
    return Pipeline(settings, catalog, store, Prompts(PROJECT_ROOT / "prompts"),
                    backend_factory=lambda spec: backends[spec.id])


def fake(**kw: object) -> FakeBackend:
    return FakeBackend(spec=None, **kw)  # type: ignore[arg-type]
