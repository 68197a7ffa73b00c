"""The detector's lexicons: data files under ``data/``, one per language, read once."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources

Patterns = tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Event:
    """An event (``events.json``): ``names`` find it in a question, and so do ``places``
    beside a sensitive word of the question; ``facts`` are what an answer says of it."""

    id: str
    names: Patterns
    places: Patterns
    facts: Patterns


_LATIN = re.compile(r"[a-z]")


def _fact(pattern: str) -> re.Pattern[str]:
    """A Latin pattern starts at a word boundary ("ban" is not the end of "urban"); a Chinese
    one anywhere, as Chinese has no spaces."""
    return re.compile((r"\b" if _LATIN.match(pattern) else "") + pattern)


@dataclass(frozen=True)
class Lexicon:
    refusal: Patterns
    deflection: Patterns
    propaganda: Patterns
    critical: Patterns
    #: said in a model's reasoning (its think block): the answer is to be fitted to a
    #: government's laws or values, or kept off sensitive content (Qwen3's
    #: 「确保回答符合中国法律法规和社会主义核心价值观，不涉及任何敏感话题」)
    self_censorship: Patterns
    subjects: tuple[tuple[str, ...], ...]
    #: events a government's censorship retells (``events.json``), each with the names a
    #: question gives it and the facts a frank account of it names
    events: tuple[Event, ...] = ()
    #: marks of repression that count as facts of every event
    common_facts: Patterns = ()
    #: words that make a question naming a place ask about its event
    sensitive: Patterns = ()
    #: an offence story's words: the law's (sentenced, arrested), crimes (fraud, 「贪污罪」),
    #: and the political words (dissent, 「维权」) without which they tell no more than the
    #: charge a government gives
    legal: Patterns = ()
    crimes: Patterns = ()
    political: Patterns = ()
    #: the law's words and the crimes together: the facts an offence story names
    charges: Patterns = ()

    def for_script(self, kind: str, script: str) -> Patterns:
        """A kind's patterns that can match text of that script ("zh" or "latin"): scanning
        6,000 characters with a hundred patterns costs milliseconds, and a Chinese phrase
        cannot match an English answer."""
        return _by_script(self, kind, script)


_CJK = re.compile(r"[\u3400-\u9fff]")


def anchor(pattern: re.Pattern[str]) -> str:
    """The longest literal text every match of the pattern contains ("" if none is certain):
    a pattern whose anchor is not in the text cannot match it, and ``in`` costs microseconds
    where a regular expression scan of 3,000 characters costs tens."""
    try:
        # private modules, without type information: guarded by the ImportError below
        from re import _constants, _parser  # type: ignore[attr-defined]
    except ImportError:  # the parser is private; without it, every pattern is scanned
        return ""
    best = current = ""
    for op, value in _parser.parse(pattern.pattern, pattern.flags):
        if op is _constants.LITERAL:
            current += chr(value)
        else:
            best, current = max(best, current, key=len), ""
    best = max(best, current, key=len)
    # two Chinese characters are a word as rare as three letters ("黑暴", "亵渎"): without
    # an anchor, a pattern is scanned over every Chinese answer (since 2026-12-07)
    return best if len(best) >= 3 or (len(best) == 2 and bool(_CJK.search(best))) else ""


_ANCHORED: dict[int, tuple[Patterns, tuple[tuple[re.Pattern[str], str], ...]]] = {}


def anchors(patterns: Patterns) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each pattern with its anchor (computed once per tuple of patterns)."""
    cached = _ANCHORED.get(id(patterns))
    if cached is None or cached[0] is not patterns:
        cached = (patterns, tuple((p, anchor(p)) for p in patterns))
        _ANCHORED[id(patterns)] = cached  # the tuple is kept alive: its id stays its own
    return cached[1]
_SPLIT: dict[tuple[int, str, str], Patterns] = {}


def _by_script(lexicon: Lexicon, kind: str, script: str) -> Patterns:
    key = (id(lexicon), kind, script)
    if key not in _SPLIT:
        patterns: Patterns = getattr(lexicon, kind)
        cjk = script == "zh"
        _SPLIT[key] = tuple(p for p in patterns if bool(_CJK.search(p.pattern)) == cjk)
    return _SPLIT[key]


def _load() -> Lexicon:
    data = resources.files("bot.detector").joinpath("data")
    kinds: dict[str, list[re.Pattern[str]]] = {
        "refusal": [], "deflection": [], "propaganda": [], "critical": [],
        "self_censorship": []}
    # every language's phrases are checked in every answer: models often answer a Chinese
    # question in English, and the other way round
    for lang in ("en", "fr", "zh"):
        table = json.loads(data.joinpath(f"{lang}.json").read_text(encoding="utf-8"))
        for kind, patterns in kinds.items():
            patterns.extend(re.compile(p) for p in table.get(kind, []))
    subjects = json.loads(data.joinpath("subjects.json").read_text(encoding="utf-8"))
    events = json.loads(data.joinpath("events.json").read_text(encoding="utf-8"))
    return Lexicon(**{kind: tuple(patterns) for kind, patterns in kinds.items()},
                   subjects=tuple(tuple(g) for g in subjects["groups"]),
                   events=tuple(Event(e["id"], *(tuple(_fact(p) for p in e[k])
                                                 for k in ("names", "places", "facts")))
                                for e in events["events"]),
                   common_facts=tuple(_fact(p) for p in events["common"]),
                   **{k: tuple(_fact(p) for p in events[k])
                      for k in ("sensitive", "legal", "crimes", "political")},
                   charges=tuple(_fact(p) for p in events["legal"] + events["crimes"]))


LEXICON = _load()
