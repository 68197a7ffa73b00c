"""Verdicts and their reasons in words, one way for every front end (terminal, Telegram,
reports), in English, French and Chinese: the detector and the database hold codes
(``refused``, ``propaganda_cue``); this module turns them into what people read.
"""

from __future__ import annotations

from typing import Any

from bot.i18n import t

#: a verdict's mark, the same everywhere
VERDICT_ICON = {"answered": "🟩", "refused": "🟥", "evasive": "🟧", "degenerate": "⬜",
                "error": "⚠️"}
#: the verdicts in the order tables show them
VERDICTS = tuple(VERDICT_ICON)


def _known(lang: str, key: str) -> str | None:
    try:
        return t(lang, key)
    except KeyError:
        return None


def verdict_word(lang: str, verdict: str | None) -> str:
    """"refused", « refus », 「拒绝回答」; "" for no verdict."""
    if not verdict:
        return ""
    return _known(lang, "verdict_" + verdict) or verdict


def verdict_label(lang: str, verdict: str | None) -> str:
    """The mark and the word: "🟥 refused"."""
    if not verdict:
        return ""
    return f"{VERDICT_ICON.get(verdict, '')} {verdict_word(lang, verdict)}"


def signal_word(lang: str, signal: str) -> str:
    """A detector signal in words: ``propaganda_cue`` is "talking point" in English."""
    return _known(lang, "signal_" + signal) or signal.replace("_", " ")


def note_text(lang: str, note: Any) -> str:
    """An accepted question's note (``pipeline.Note``: a code and its values) in words."""
    if _known(lang, note.code) is None:
        return str(note.code)
    return t(lang, note.code, **note.values)


def error_text(lang: str, answer: Any) -> str:
    """An answer's error in words: a timeout in the reader's language, any other failure as
    its diagnostic (which names the file, server or fix an operator needs)."""
    if answer.error_code == "timed_out" and answer.timeout_seconds is not None:
        return t(lang, "timed_out", seconds=f"{answer.timeout_seconds:g}")
    return str(answer.error or "")


def country_name(lang: str, code: str) -> str:
    """A model's country code in words: "CN" is "China", « Chine », 「中国」 (until 2026-12-07
    in English whatever the reader's language: « Hugging Face (United States) » in /models); a
    code we have no name for as it is."""
    return _known(lang, "country_" + code) or code


def language_name(lang: str, code: str) -> str:
    """A language code in words: "zh" is "Chinese", « chinois », 「中文」."""
    return _known(lang, "chart_language_" + code) or code


def _detail(lang: str, signal: str, values: Any) -> str | None:
    """A reason's numbers and language codes (``Reason.values``) in words, or None."""
    if not isinstance(values, dict) or _known(lang, "reason_" + signal) is None:
        return None
    words = {k: language_name(lang, v) if k in ("answer", "question") else v
             for k, v in values.items()}
    try:
        return t(lang, "reason_" + signal, **words)
    except (KeyError, IndexError, ValueError):  # a stored row from another version
        return None


def reason_text(lang: str, reason: dict[str, Any], quote_limit: int | None = None) -> str:
    """A reason as people read it: "talking point: “…”", "far shorter than the others: 41
    characters, the others' median 680" (the quote cut to ``quote_limit`` characters when
    given)."""
    signal = str(reason["signal"])
    text = signal_word(lang, signal)
    detail = _detail(lang, signal, reason.get("values"))
    quote = str(reason.get("quote") or "")
    # each language's colon: "refusal phrase: “…”", « formule de refus : “…” » (a no-break
    # space before it), 「拒绝用语：“…”」 (full width)
    colon = t(lang, "reason_colon")
    if detail:
        text += f"{colon}{detail}"
    if quote:
        text += f"{colon}“{quote[:quote_limit] if quote_limit else quote}”"
    return text
