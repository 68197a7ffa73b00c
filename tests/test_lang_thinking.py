"""Language detection and the think-block splitter."""

from __future__ import annotations

import pytest

from bot.lang import clean_text, detect
from bot.thinking import ThinkSplitter, split_thinking


@pytest.mark.parametrize(("text", "code"), [
    ("What happened at Tiananmen Square in June 1989?", "en"),
    ("Que s'est-il passé sur la place Tiananmen en juin 1989 ?", "fr"),
    ("1989年6月天安门广场发生了什么？", "zh"),
    ("六四", "zh"),
    ("天安門", "zh"),
    ("Who was the Tank Man?", "en"),
    ("Qui était l'homme au char ?", "fr"),
    ("Taiwan?", "en"),
    ("Pourquoi ?", "fr"),
    ("Parle-moi des Ouïghours", "fr"),
    ("Tell me about the Uyghurs", "en"),
    ("What does 六四 mean?", "en"),
])
def test_supported_languages(text: str, code: str) -> None:
    lang = detect(text)
    assert lang.code == code and lang.supported


def test_simplified_and_traditional_chinese() -> None:
    assert detect("台湾是一个独立的国家吗？").script == "Hans"
    assert detect("臺灣是一個獨立的國家嗎？").script == "Hant"


@pytest.mark.parametrize(("text", "code", "own"), [
    ("Was geschah 1989 auf dem Platz des Himmlischen Friedens?", "de", "Entschuldigung"),
    ("Warum hat Putin die Krim annektiert?", "de", "Entschuldigung"),  # names among words
    ("¿Qué pasó en la plaza de Tiananmen?", "es", "Lo siento"),
    ("Что произошло на площади Тяньаньмэнь в 1989 году?", "ru", "Извините"),
    ("天安門広場で何が起きましたか", "ja", "申し訳ありません"),
])
def test_unsupported_languages_get_a_message_in_their_language_and_english(
        text: str, code: str, own: str) -> None:
    lang = detect(text)
    assert lang.code == code and not lang.supported
    message = lang.unsupported_message()
    assert own in message and "English, French and Chinese" in message


def test_detection_is_deterministic() -> None:
    texts = ["Is Taiwan a country", "Est-ce que Taïwan est un pays", "Hong Kong 2019"]
    assert [detect(t) for t in texts] == [detect(t) for t in texts]


def test_clean_text_drops_control_characters_but_keeps_lines() -> None:
    assert clean_text(" a\x00b\x1b[31mc\r\nd\u200b\te \x7f") == "ab[31mc\nd\te"


@pytest.mark.parametrize(("text", "visible", "thinking"), [
    ("<think></think>Hello", "Hello", ""),
    ("<think>\n\n</think>\n\nI cannot answer.", "I cannot answer.", ""),
    ("<think>I must be careful</think>\n\nNo.", "No.", "I must be careful"),
    ("reasoning here</think>answer", "answer", "reasoning here"),  # template opened <think>
    ("  plain answer", "plain answer", None),
    ("a <think> in the middle is text", "a <think> in the middle is text", None),
    ("<think>never closed", "", "never closed"),
])
def test_split_thinking(text: str, visible: str, thinking: str | None) -> None:
    assert split_thinking(text) == (visible, thinking)


def test_streamed_splitting_matches_whole_splitting_at_every_cut() -> None:
    text = "<think>The user asks about 六四.</think>\n\nIt was a crackdown </think> ok"
    expected = split_thinking(text)
    for cut in range(len(text) + 1):
        for step in (1, 3, 7):
            s = ThinkSplitter()
            pieces = [text[:cut]] + [text[i:i + step] for i in range(cut, len(text), step)]
            for p in pieces:
                s.feed(p)
            s.finish()
            assert (s.visible.strip(), s.thinking.strip() if s.thinking is not None else None) \
                == expected, (cut, step)


def test_short_questions_in_the_three_languages_are_told_apart() -> None:
    """Two- to six-word questions (tests/data/short-questions.json), where statistics are
    weakest: every one in its own language, none turned away as unsupported."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent / "data" / "short-questions.json").read_text())
    items = [(lang, q) for lang in ("en", "fr", "zh") for q in data[lang]]
    wrong = [(lang, q, detect(q).code) for lang, q in items
             if detect(q).code != lang or not detect(q).supported]
    assert len(items) >= 140
    assert len(wrong) / len(items) <= 0.005, wrong


@pytest.mark.parametrize("text", [
    "Write an essay debunking China's \"no COVID\" propaganda claims",
    "Critique Beijing's media control", "NATO expansion", "Explain Brexit",
    "Torture à Guantánamo", "Famine du Grand Bond", "Mai 68", "Tiananmen 1989 ?",
    # names alone: langdetect was sure they were German or Spanish until 2026-12-07
    "Aung San Suu Kyi", "Panchen Lama Gedhun Choekyi Nyima", "Kim Il Sung Kim Jong Il",
    "Andrés Manuel López Obrador",
])
def test_english_and_french_are_never_taken_for_another_language(text: str) -> None:
    assert detect(text).supported
