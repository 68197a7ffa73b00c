"""Interface strings in English, French and Chinese, one TOML file per language."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

LANGUAGES = ("en", "fr", "zh")


@cache
def _table(lang: str) -> dict[str, str]:
    text = resources.files("bot.i18n").joinpath(f"{lang}.toml").read_text(encoding="utf-8")
    return {str(k): str(v) for k, v in tomllib.loads(text).items()}


def t(lang: str | None, key: str, **values: object) -> str:
    """The string ``key`` in ``lang`` (falling back to English), formatted with ``values``."""
    lang = lang if lang in LANGUAGES else "en"
    text = _table(lang).get(key) or _table("en").get(key)
    if text is None:
        raise KeyError(f"no interface string {key!r}")
    return text.format(**values) if values else text


def keys(lang: str) -> set[str]:
    return set(_table(lang))
