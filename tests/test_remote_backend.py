"""The OpenAI-compatible remote backend against a real server on 127.0.0.1.

The server is llama-cpp-python's own OpenAI-compatible server (``llama_cpp.server``, started
through ``bot.serve``) running a tiny generated model: the same engine behind HTTP, so the
remote answer must equal the in-process one word for word at temperature 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ggufgen import tiny_manifest
from support import free_port, llama_server, real_model_path, require_real_model

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


def test_bot_serve_builds_models_with_the_workers_parameters() -> None:
    """``bot.serve`` turns extra buffer types off in the server's process, as the workers do,
    once however often it is applied."""
    import llama_cpp.llama as llama_module

    from bot.backends.worker import apply_model_params_override

    low = llama_module.llama_cpp
    original = low.llama_model_default_params
    assert original().use_extra_bufts  # llama.cpp's default: on
    try:
        apply_model_params_override()
        apply_model_params_override()
        assert low.llama_model_default_params().use_extra_bufts is False
        assert low._parallax_default_params is original  # wrapped once, not twice
    finally:
        low.llama_model_default_params = original
        del low._parallax_default_params


@pytest.mark.real_model
def test_a_quantized_model_served_by_bot_serve_answers() -> None:
    """SmolLM2 (Q4_1) over HTTP. On a CPU with AMX the stock ``python -m llama_cpp.server``
    died on the first request (a general protection fault in libggml-cpu, 2026-12-02)."""
    import httpx

    require_real_model("smollm2-135m")
    with llama_server(real_model_path("smollm2-135m"), "smol") as (proc, base):
        r = httpx.post(f"{base}/chat/completions", timeout=120, json={
            "model": "smol", "max_tokens": 12, "temperature": 0,
            "messages": [{"role": "user", "content": "What is the capital of France?"}]})
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"].strip()
        assert proc.poll() is None  # still serving
