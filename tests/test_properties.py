"""Properties that must hold for any input: any Unicode, any length (hypothesis)."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.detector import judge
from bot.frontends.telegram.render import (
    LIMIT,
    WORD_JOINER,
    esc,
    fit,
    html_pieces,
    split,
    units,
)
from bot.lang import clean_text, detect

#: every code point but surrogates, which cannot reach Python from Telegram or a terminal
any_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=3000)
#: text heavy in what Telegram counts twice (astral characters) and in what HTML escapes
tricky = st.lists(st.sampled_from(["😀", "🇨🇳", "&", "<", ">", "é", "中", " ", "\n", "a", "𝕏"]),
                  max_size=6000).map("".join)


@given(st.one_of(any_text, tricky), st.integers(min_value=8, max_value=LIMIT))
@settings(max_examples=150, deadline=None)
def test_split_pieces_fit_and_lose_nothing_but_spaces_at_the_cuts(text: str, limit: int) -> None:
    pieces = split(text, limit)
    assert all(units(p) <= limit for p in pieces)
    assert "".join("".join(p.split()) for p in pieces) == "".join(text.split())


@given(st.one_of(any_text, tricky), st.integers(min_value=16, max_value=LIMIT))
@settings(max_examples=150, deadline=None)
def test_escaped_pieces_fit_and_unescape_to_the_text(text: str, limit: int) -> None:
    pieces = html_pieces(text, limit)
    assert all(units(p) <= limit for p in pieces)
    assert all("<" not in p and ">" not in p for p in pieces)  # no markup from model text
    back = "".join(html.unescape(p) for p in pieces)
    # nothing lost but spaces at the cuts; the one thing added is the invisible word joiner
    # that defuses "/command" and "@mention" (esc), which hypothesis found as "/0" in 2026-12
    def bare(s: str) -> str:
        return "".join(s.replace(WORD_JOINER, "").split())
    assert bare(back) == bare(text)


@given(st.one_of(any_text, tricky), st.integers(min_value=0, max_value=5000))
@settings(max_examples=150, deadline=None)
def test_fit_takes_the_longest_start_that_fits(text: str, limit: int) -> None:
    head, rest = fit(text, limit)
    assert head + rest == text and units(head) <= limit
    assert not rest or units(head + rest[0]) > limit


@given(any_text)
@settings(max_examples=150, deadline=None)
def test_escaping_is_reversible(text: str) -> None:
    """Escaping loses nothing: unescaped, it is the text again, but for the invisible word
    joiners that defuse mentions and commands."""
    import re

    def without_joiners(s: str) -> str:
        return re.sub("([@/])\u2060", r"\1", s)

    assert without_joiners(html.unescape(esc(text))) == without_joiners(text)


@given(any_text)
@settings(max_examples=200, deadline=None)
def test_language_detection_answers_any_text(text: str) -> None:
    lang = detect(clean_text(text))
    assert lang.code and isinstance(lang.supported, bool)
    assert lang.supported == (lang.code in ("en", "fr", "zh"))


@given(any_text, any_text, st.sampled_from(["en", "fr", "zh"]))
@settings(max_examples=100, deadline=None)
def test_the_detector_gives_a_verdict_for_any_text(question: str, answer: str, lang: str) -> None:
    verdict = judge(question, answer, lang=lang, peers=[answer[:100], "Paris."])
    assert verdict.verdict in ("answered", "refused", "evasive", "degenerate", "error")
    assert 0.0 <= verdict.score <= 1.0


def test_model_text_cannot_mention_people_or_offer_commands() -> None:
    from bot.frontends.telegram.render import WORD_JOINER, esc

    out = esc("Ask @everyone to send /forget, see https://example.org/a/b or mail a@b.example")
    assert f"@{WORD_JOINER}everyone" in out and f"/{WORD_JOINER}forget" in out
    assert "https://example.org/a/b" in out and "a@b.example" in out  # links and mails intact
    assert esc("<b>") == "&lt;b&gt;"
