"""The detector's lexicons: data files under ``data/``, one per language, read once."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources

Patterns = tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Lexicon:
    refusal: Patterns
    deflection: Patterns
    propaganda: Patterns
    critical: Patterns
    subjects: tuple[tuple[str, ...], ...]


def _load() -> Lexicon:
    data = resources.files("bot.detector").joinpath("data")
    kinds: dict[str, list[re.Pattern[str]]] = {
        "refusal": [], "deflection": [], "propaganda": [], "critical": []}
    # every language's phrases are checked in every answer: models often answer a Chinese
    # question in English, and the other way round
    for lang in ("en", "fr", "zh"):
        table = json.loads(data.joinpath(f"{lang}.json").read_text(encoding="utf-8"))
        for kind, patterns in kinds.items():
            patterns.extend(re.compile(p) for p in table.get(kind, []))
    subjects = json.loads(data.joinpath("subjects.json").read_text(encoding="utf-8"))
    return Lexicon(refusal=tuple(kinds["refusal"]), deflection=tuple(kinds["deflection"]),
                   propaganda=tuple(kinds["propaganda"]), critical=tuple(kinds["critical"]),
                   subjects=tuple(tuple(g) for g in subjects["groups"]))


LEXICON = _load()
