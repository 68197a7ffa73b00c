"""Shared fixtures: tiny generated GGUF models, settings, a store. Scripted backends live in
fakes.py, real-model and server helpers in support.py (both importable: pyproject.toml puts
tests/ on pytest's path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ggufgen import tiny_manifest, write_tiny_gguf

from bot.catalog import Catalog, parse_manifest
from bot.config import Settings, load_settings
from bot.store import Store


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
