"""Prompt profiles, completion templates and prepared questions, read from ``prompts/``.

The prepared questions (``prompts/questions/*.toml``) are the battery ``parallax probe`` asks:
each has an id, a topic and its text in English, French and Chinese; each topic says whether it
is sensitive or a control, which government it concerns, and its label in the three languages.
A file that breaks these rules is refused with an error that names it (``PromptError``).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.errors import PromptError

Message = dict[str, str]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    system: dict[str, str] = field(default_factory=dict)

    def system_for(self, language: str) -> str:
        return self.system.get(language) or self.system.get("en", "")

    @property
    def version(self) -> str:
        """What the profile says, as a short digest: stored with every answer, so that an
        edited profile's answers are not mistaken for the old one's."""
        text = json.dumps(self.system, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def messages(self, question: str, language: str) -> list[Message]:
        system = self.system_for(language)
        msgs: list[Message] = [{"role": "system", "content": system}] if system else []
        msgs.append({"role": "user", "content": question})
        return msgs


@dataclass(frozen=True)
class Template:
    name: str
    source: str
    stop: tuple[str, ...]

    def render(self, question: str, system: str, language: str) -> str:
        env = ImmutableSandboxedEnvironment(keep_trailing_newline=False)
        return env.from_string(self.source).render(
            question=question, system=system, language=language)


#: the languages every prepared question is written in
BATTERY_LANGUAGES = ("en", "fr", "zh")
TopicKind = Literal["sensitive", "control"]


@dataclass(frozen=True)
class Topic:
    name: str
    kind: TopicKind
    about: str  # the government concerned: china, russia, us, france, other; none (controls)
    labels: dict[str, str]  # language -> label

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels.get("en") or self.name


@dataclass(frozen=True)
class PreparedQuestion:
    id: str
    topic: str
    texts: dict[str, str]  # language -> text
    kind: TopicKind = "sensitive"


@dataclass(frozen=True)
class Prompts:
    root: Path

    def profile_names(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "profiles").glob("*.toml"))

    def profile(self, name: str) -> Profile:
        return _load_profile(self.root, name)

    def template(self, name: str) -> Template:
        return _load_template(self.root, name)

    def questions(self) -> list[PreparedQuestion]:
        return _load_battery(self.root)[1]

    def topics(self) -> dict[str, Topic]:
        """Every topic, in the order the files give them."""
        return _load_battery(self.root)[0]

    def find_question(self, text: str) -> tuple[PreparedQuestion, str] | None:
        """The prepared question whose text (in any language) is ``text``, and that language."""
        key = _normalise(text)
        for q in self.questions():
            for lang, t in q.texts.items():
                if _normalise(t) == key:
                    return q, lang
        return None


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


@lru_cache(maxsize=32)
def _load_profile(root: Path, name: str) -> Profile:
    path = root / "profiles" / f"{name}.toml"
    if not name.isidentifier() or not path.is_file():
        known = ", ".join(sorted(p.stem for p in (root / "profiles").glob("*.toml")))
        raise PromptError(f"unknown prompt profile {name!r}; known profiles: {known}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return Profile(name=name, description=str(data.get("description", "")),
                   system={k: str(v) for k, v in (data.get("system") or {}).items()})


@lru_cache(maxsize=32)
def _load_template(root: Path, name: str) -> Template:
    path = root / "templates" / f"{name}.jinja"
    if not path.is_file():
        raise PromptError(f"completion template {path} does not exist")
    stop_file = path.with_suffix(".stop")
    stop = tuple(line for line in stop_file.read_text(encoding="utf-8").splitlines()
                 if line.strip()) if stop_file.is_file() else ()
    return Template(name=name, source=path.read_text(encoding="utf-8"), stop=stop)


@lru_cache(maxsize=4)
def _load_battery(root: Path) -> tuple[dict[str, Topic], list[PreparedQuestion]]:
    topics: dict[str, Topic] = {}
    raw: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted((root / "questions").glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise PromptError(f"{path}: not valid TOML ({exc})") from exc
        for name, t in (data.get("topics") or {}).items():
            kind = t.get("kind")
            if kind not in ("sensitive", "control"):
                raise PromptError(f"{path}: topic {name!r} needs kind = \"sensitive\" or "
                                  "\"control\"")
            topics[name] = Topic(name, kind, str(t.get("about", "none")),
                                 {lang: str(t[lang]) for lang in BATTERY_LANGUAGES
                                  if t.get(lang)})
        raw.extend((path, q) for q in data.get("questions", []))
    out: list[PreparedQuestion] = []
    seen: set[str] = set()
    for path, q in raw:
        qid = str(q.get("id", ""))
        if not qid or qid in seen:
            raise PromptError(f"{path}: every question needs an id of its own ({qid!r})")
        seen.add(qid)
        missing = [lang for lang in BATTERY_LANGUAGES if not str(q.get(lang, "")).strip()]
        if missing:
            raise PromptError(f"{path}: question {qid!r} has no text in {', '.join(missing)}")
        topic = str(q.get("topic", ""))
        if topic not in topics:
            raise PromptError(f"{path}: question {qid!r} has topic {topic!r}, which no "
                              "[topics] table defines")
        out.append(PreparedQuestion(id=qid, topic=topic, kind=topics[topic].kind,
                                    texts={lang: str(q[lang]) for lang in BATTERY_LANGUAGES}))
    return topics, out
