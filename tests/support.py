"""What tests share besides fixtures: the real models (skipped locally, failing in CI when not
pulled) and a real OpenAI-compatible server (llama-cpp-python's) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.catalog import ModelSpec, load_catalog
from bot.config import PROJECT_ROOT

MODELS_DIR = PROJECT_ROOT / "models"
REAL_MANIFEST = MODELS_DIR / "models.toml"


def real_model_path(model_id: str) -> Path:
    spec = load_catalog(REAL_MANIFEST).get(model_id)
    return spec.local_path(MODELS_DIR)


def require_real_model(model_id: str) -> ModelSpec:
    """The real model's spec, or skip (locally) / fail (in CI) when it was not pulled."""
    spec = load_catalog(REAL_MANIFEST).get(model_id)
    if not spec.local_path(MODELS_DIR).is_file():
        msg = f"{model_id} is not pulled: run `parallax models pull {model_id}`"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return spec



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(model: Path, alias: str, *, api_key: str | None = None, threads: int = 1,
                 n_ctx: int = 512,
                 interrupt: bool = False) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """llama-cpp-python's server (``python -m bot.serve``: its model parameters are the local
    workers', which an AMX CPU needs) serving ``model`` as ``alias``; yields (process, base
    URL ending in /v1) once it answers, and stops it after. ``interrupt``: the server's own
    default, a new request cutting the answer being streamed (as compose.yaml does not)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.serve", "--model", str(model),
         "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
         "--verbose", "false", "--interrupt_requests", "true" if interrupt else "false",
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


def remote_entry(model_id: str, *endpoints: str, model: str = "tiny-remote",
                 max_tokens: int = 24, timeout_seconds: float = 30, extra: str = "") -> str:
    """A manifest entry (TOML text) for a remote model served at ``endpoints``."""
    listed = ", ".join(f'{{ base_url = "{e}" }}' for e in endpoints)
    return f"""
[[models]]
id = "{model_id}"
name = "Remote {model_id}"
organisation = "Parallax tests"
country = "FR"
max_tokens = {max_tokens}
n_ctx = 512
timeout_seconds = {timeout_seconds:g}
[models.source]
kind = "remote"
model = "{model}"
endpoints = [{listed}]
{extra}"""
