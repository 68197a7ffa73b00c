"""The OpenAI-compatible remote backend against a real server on 127.0.0.1.

The server is llama-cpp-python's own OpenAI-compatible server (``llama_cpp.server``) running
a tiny generated model: the same engine behind HTTP, so the remote answer must equal the
in-process one word for word at temperature 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ggufgen import tiny_manifest
from support import free_port, llama_server

from bot.catalog import Catalog, parse_manifest
from bot.config import Settings
from bot.pipeline import Judged, Pipeline, Token
from bot.prompts import Prompts
from bot.store import Store


@pytest.fixture(scope="module")
def server(tiny_gguf: tuple[Path, str]) -> Iterator[str]:
    with llama_server(tiny_gguf[0], "tiny-remote") as (_proc, base):
        yield base


def _catalog(tiny: tuple[Path, str], base: str, tmp_path: Path) -> Catalog:
    remote = f"""
[[models]]
id = "remote"
name = "Tiny over HTTP"
organisation = "Parallax tests"
country = "FR"
max_tokens = 24
n_ctx = 512
[models.source]
kind = "remote"
base_url = "{base}"
model = "tiny-remote"

[[models]]
id = "down"
name = "A server that is down"
organisation = "Parallax tests"
country = "FR"
timeout_seconds = 5
[models.source]
kind = "remote"
base_url = "http://127.0.0.1:{free_port()}/v1"
"""
    # the same settings as the server, which runs llama.cpp's default f16 KV cache
    text = tiny_manifest(tiny[0], tiny[1], model_id="local", extra='kv_cache = "f16"') + remote
    return parse_manifest(text, tmp_path / "models.toml")


async def test_remote_answers_like_local_and_a_dead_server_is_an_error(
        server: str, tiny_gguf: tuple[Path, str], tmp_path: Path, settings: Settings) -> None:
    catalog = _catalog(tiny_gguf, server, tmp_path)
    store = await Store.open(settings.database)
    pipeline = Pipeline(settings, catalog, store, Prompts(settings.prompts_dir))
    async with pipeline:
        events = [e async for e in pipeline.ask("What happened in Beijing in 1989?",
                                                models=["local", "remote", "down"])]
    judged = events[-1]
    assert isinstance(judged, Judged)
    local, remote, down = judged.answers
    assert local.error is None and remote.error is None, (local.error, remote.error)
    assert remote.text and remote.text == local.text
    # llama_cpp.server sends no usage in its stream: tokens are counted from the chunks
    assert remote.completion_tokens == 24
    assert sum(1 for e in events if isinstance(e, Token) and e.model_id == "remote") > 3
    assert down.verdict == "error" and "ConnectError" in (down.error or "")
