"""Telegram HTML: every model output escaped, messages cut to 4,096 characters cleanly."""

from __future__ import annotations

import html
import re

from bot.catalog import ModelSpec
from bot.i18n import t
from bot.pipeline import Answer
from bot.present import VERDICT_ICON, error_text, reason_text, verdict_label, verdict_word

LIMIT = 4096
#: room kept for the header and footer around an answer's text in its message
BODY_LIMIT = 3500
_TAG = re.compile(r"<[^>]*>")


#: "@name" and "/command" at the start of a word: Telegram turns them into a mention (which
#: notifies that person in a group) and a clickable command, whatever the parse mode
_ENTITY = re.compile(r"(?<![\w/@<])([@/])(?=[A-Za-z0-9_])")
#: U+2060 WORD JOINER: invisible, and a mention or command no longer parses across it
WORD_JOINER = "\u2060"


def esc(text: str) -> str:
    """Escape model (or user) text for parse_mode=HTML (<, > and &, as Telegram asks) and
    defuse mentions and commands in it: a model cannot ping a group member or offer /forget as
    a link (URLs keep their slashes: only a "/" or "@" that starts a word is touched)."""
    return html.escape(_ENTITY.sub(r"\1" + WORD_JOINER, text), quote=False)


def header(model: ModelSpec) -> str:
    return f"<b>{esc(model.name)}</b> · {esc(model.organisation)} {model.flag}"


def stats_line(lang: str, a: Answer) -> str:
    bits = []
    if a.seconds is not None:
        bits.append(f"{a.seconds:.1f} s")
    if a.tokens_per_second:
        bits.append(f"{a.tokens_per_second:.0f} tok/s")
    return " · ".join(bits)


#: what a model's error may not show people in a chat: URLs (a server's address) and file
#: paths (where Parallax is installed); the operator reads them in the log and the database
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w.:/~])~?/(?:[^\s/'\",;:()]+/)*[^\s/'\",;:()]+")


def public_error(error: str) -> str:
    """A model's error as Telegram users see it: what happened, without the server URLs and
    file paths it names, nor the operator's fix ("Fix: parallax models pull …")."""
    text = error.split(" Fix:", 1)[0]
    return _PATH.sub("…", _URL.sub("…", text)).strip()


def answer_message(lang: str, model: ModelSpec, text: str, answer: Answer | None = None,
                   *, streaming: bool = False) -> str:
    """One model's message: header, the answer so far (escaped), then verdict and figures."""
    body, rest = fit(text.strip(), BODY_LIMIT)
    cut = bool(rest)
    parts = [header(model), ""]
    parts.append(esc(body) + (" …" if cut or streaming else "") if body else "…")
    if answer is not None:
        footer = " · ".join(x for x in (verdict_label(lang, answer.verdict),
                                        stats_line(lang, answer)) if x)
        if answer.error:
            parts.append(f"\n⚠️ <i>{esc(public_error(error_text(lang, answer))[:300])}</i>")
        if answer.thinking == "":
            parts.append(f"<i>{esc(t(lang, 'tg_empty_think'))}</i>")
        parts.append(f"\n{footer}")
    return "\n".join(parts)


def summary_message(lang: str, question: str, answers: list[Answer]) -> str:
    lines = [f"<b>{esc(t(lang, 'tg_summary'))}</b> — <i>{esc(question[:200])}</i>", ""]
    for a in answers:
        verdict = esc(verdict_word(lang, a.verdict or "error"))
        line = (f"{VERDICT_ICON.get(a.verdict or '', '')} <b>{esc(a.model.name)}</b> "
                f"({esc(a.model.organisation)} {a.model.flag}): {verdict}")
        reason = a.reasons[0] if a.reasons else None
        if a.error:
            line += f" — <i>{esc(public_error(error_text(lang, a))[:120])}</i>"
        elif reason and a.verdict in ("refused", "evasive", "degenerate"):
            line += f" — {esc(reason_text(lang, reason, quote_limit=120))}"
        lines.append(line)
    return "\n".join(lines)


def plain(html_text: str) -> str:
    """The plain-text fallback of one of our HTML messages."""
    return html.unescape(_TAG.sub("", html_text))


def units(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int) -> tuple[str, str]:
    """(the longest start of ``text`` within ``limit`` UTF-16 units, the rest)."""
    if units(text) <= limit:
        return text, ""
    lo, hi = 0, min(len(text), limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if units(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo], text[lo:]


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Cut plain text into pieces of at most ``limit`` characters, at line or word breaks when
    possible, never inside a character (Python strings are whole code points; Telegram counts
    UTF-16 units, so astral characters count double and are allowed for here)."""
    pieces: list[str] = []
    rest = text
    while units(rest) > limit:
        cut = len(fit(rest, limit)[0])  # the longest prefix that fits
        for sep in ("\n\n", "\n", ". ", "。", " "):
            at = rest.rfind(sep, 0, cut)
            if at > cut // 2:
                cut = at + len(sep)
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def html_pieces(text: str, limit: int = LIMIT) -> list[str]:
    """Escape and split model text so that every piece, once escaped, fits ``limit``."""
    # escaping can only lengthen text (&amp; is 5 characters): split the raw text with room
    room = limit
    while True:
        pieces = [esc(p) for p in split(text, room)]
        if all(units(p) <= limit for p in pieces):
            return pieces
        room = int(room * 0.8)
