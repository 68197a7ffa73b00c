"""How often a question's language is told right: English, French or Chinese, and never turned
away as another language.

    python benchmarks/language_id.py

The questions: every distinct question of ../shared/data/speechmap-dev.jsonl and
speechmap-dev-fr.jsonl, of our data files (data/detector/, eval/ included) with the language
they were asked in, and tests/data/short-questions.json (two to six words). The goal: 99.5% or
better, none of them turned away. Prints the count, the share right and every miss.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.detector.commands import read_rows
from bot.lang import detect

ROOT = Path(__file__).resolve().parent.parent


def questions() -> dict[str, str]:
    """Each distinct question and the language it was asked in."""
    shared = ROOT.parent / "shared" / "data"
    files = [shared / "speechmap-dev.jsonl", shared / "speechmap-dev-fr.jsonl",
             *sorted((ROOT / "data" / "detector").rglob("*.jsonl"))]
    found: dict[str, str] = {}
    for path in files:
        if not path.exists():
            print(f"(not found, skipped: {path})")
            continue
        for row in read_rows(str(path)):
            if row.get("lang") in ("en", "fr", "zh"):
                found[row["question"]] = row["lang"]
    short = json.loads((ROOT / "tests" / "data" / "short-questions.json").read_text())
    for lang in ("en", "fr", "zh"):
        found.update(dict.fromkeys(short[lang], lang))
    return found


def main() -> int:
    asked = questions()
    misses = []
    for question, lang in asked.items():
        got = detect(question)
        if got.code != lang or not got.supported:
            misses.append((question, lang, got.code, got.supported))
    right = len(asked) - len(misses)
    turned_away = sum(not supported for *_, supported in misses)
    print(f"{len(asked)} questions: {right} right ({right / len(asked):.1%}), "
          f"{turned_away} turned away")
    for question, lang, code, supported in misses:
        print(f"  {lang} read as {code}{'' if supported else ' (turned away)'}: {question}")
    return 0 if right / len(asked) >= 0.995 and not turned_away else 1


if __name__ == "__main__":
    raise SystemExit(main())
