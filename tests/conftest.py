"""Shared fixtures: tiny generated GGUF models, real models, pipelines, fake backends."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ggufgen import tiny_manifest, write_tiny_gguf

from bot.backends.base import BackendError, Request, Usage
from bot.catalog import Catalog, ModelSpec, load_catalog, parse_manifest
from bot.config import PROJECT_ROOT, Settings, load_settings
from bot.pipeline import Pipeline
from bot.prompts import Prompts
from bot.store import Store

MODELS_DIR = PROJECT_ROOT / "models"
REAL_MANIFEST = MODELS_DIR / "models.toml"


def real_model_path(model_id: str) -> Path:
    spec = load_catalog(REAL_MANIFEST).get(model_id)
    return spec.local_path(MODELS_DIR)


def require_real_model(model_id: str) -> ModelSpec:
    """The real model's spec, or skip (locally) / fail (in CI) when it was not pulled."""
    import os

    spec = load_catalog(REAL_MANIFEST).get(model_id)
    if not spec.local_path(MODELS_DIR).is_file():
        msg = f"{model_id} is not pulled: run `parallax models pull {model_id}`"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return spec


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("tiny") / "tiny.gguf"
    return path, write_tiny_gguf(path)


@pytest.fixture
def tiny_catalog(tiny_gguf: tuple[Path, str], tmp_path: Path) -> Catalog:
    path, sha = tiny_gguf
    text = tiny_manifest(path, sha, model_id="tiny-a") + tiny_manifest(path, sha,
                                                                        model_id="tiny-b")
    manifest = tmp_path / "models.toml"
    manifest.write_text(text)
    return parse_manifest(text, manifest)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, env={}, database=tmp_path / "parallax.sqlite3",
                         models_dir=tmp_path / "models", threads=1)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "store.sqlite3")
    yield s
    await s.close()


# -- fake backends: scripted answers, failures and hangs, for fast pipeline tests --------------
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


# -- a real OpenAI-compatible server: llama-cpp-python's, on 127.0.0.1 --------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(model: Path, alias: str, *, api_key: str | None = None, threads: int = 1,
                 n_ctx: int = 512) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``python -m llama_cpp.server`` serving ``model`` as ``alias``; yields (process, base
    URL ending in /v1) once it answers, and stops it after."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
         "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
         "--verbose", "false",
         *(["--api_key", api_key] if api_key else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/models", headers=headers, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                pytest.fail(f"llama_cpp.server did not start: {err}")
            time.sleep(0.2)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
