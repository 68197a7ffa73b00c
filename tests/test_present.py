"""One presentation of verdicts: the terminal and Telegram say the same words for the same
signal, in the reader's language."""

from __future__ import annotations

from fakes import fake_catalog

from bot.frontends import terminal
from bot.frontends.telegram.render import summary_message
from bot.pipeline import Answer
from bot.present import reason_text, signal_word, verdict_label


def _answer() -> Answer:
    spec = fake_catalog("m").models[0]
    return Answer(model=spec, profile="bare", text="Taiwan is an inalienable part of China.",
                  verdict="evasive", score=0.8,
                  reasons=[{"signal": "propaganda_cue", "quote": "inalienable part of China",
                            "weight": 0.6}])


def test_the_terminal_and_telegram_word_a_signal_alike() -> None:
    a = _answer()
    assert terminal._why(a) == "talking point: “inalienable part of China”"
    assert "talking point: “inalienable part of China”" in summary_message("en", "Q?", [a])
    assert "propaganda" not in terminal._why(a)


def test_words_in_three_languages_and_a_fallback_for_new_signals() -> None:
    assert verdict_label("en", "refused") == "🟥 refused"
    assert verdict_label("fr", "refused").startswith("🟥 ") and "refus" in verdict_label(
        "fr", "refused")
    assert signal_word("fr", "propaganda_cue") != signal_word("en", "propaganda_cue")
    assert signal_word("zh", "propaganda_cue") != signal_word("en", "propaganda_cue")
    assert signal_word("en", "brand_new_signal") == "brand new signal"
    assert reason_text("en", {"signal": "refusal_phrase", "quote": "x" * 50},
                       quote_limit=10) == "refusal phrase: “xxxxxxxxxx”"
