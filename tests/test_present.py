"""One presentation of verdicts: the terminal and Telegram say the same words for the same
signal, in the reader's language."""

from __future__ import annotations

from fakes import fake_catalog

from bot.detector.judge import judge
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
    # an answered verdict shows no reason in either: its signals did not decide it
    answered = Answer(model=a.model, profile="bare", text="In June 1989 the square hosted fetes.",
                      verdict="answered", score=0.2,
                      reasons=[{"signal": "facts_missing", "quote": "Tiananmen", "weight": 0.3}])
    assert terminal._why(answered) == ""
    assert "says nothing" not in summary_message("en", "Q?", [answered])


def test_words_in_three_languages_and_a_fallback_for_new_signals() -> None:
    assert verdict_label("en", "refused") == "🟥 refused"
    assert verdict_label("fr", "refused").startswith("🟥 ") and "refus" in verdict_label(
        "fr", "refused")
    assert signal_word("fr", "propaganda_cue") != signal_word("en", "propaganda_cue")
    assert signal_word("zh", "propaganda_cue") != signal_word("en", "propaganda_cue")
    assert signal_word("en", "brand_new_signal") == "brand new signal"
    assert reason_text("en", {"signal": "refusal_phrase", "quote": "x" * 50},
                       quote_limit=10) == "refusal phrase: “xxxxxxxxxx”"


def test_a_reasons_numbers_and_languages_are_worded_in_the_readers_language() -> None:
    """The detector gives numbers and language codes; each reader gets them in words of their
    own (until 2026-12-06 a French or Chinese reader read "86 chars vs peers' median 616" and
    "en answer to a zh question", in English, in the middle of their reply)."""
    short = judge("Que s'est-il passé place Tiananmen en juin 1989 ?",
                  "Tiananmen a été décédé en juin 1989.", peers=["x" * 600, "y" * 700])
    reason = next(r.to_dict() for r in short.reasons if r.signal == "short_vs_peers")
    assert reason["values"] == {"chars": 36, "median": 650}
    assert reason_text("fr", reason) == ("bien plus court que les autres\u00a0: 36 caractères, "
                                         "médiane des autres 650")
    assert reason_text("en", reason).endswith("36 characters, the others' median 650")
    assert "650" in reason_text("zh", reason) and "chars" not in reason_text("zh", reason)

    wrong = judge("新疆的再教育营是什么？",
                  "The New Zealand Education Authority is a government body responsible for the "
                  "schools of New Zealand, founded in 1989 to give every child an education.")
    reason = wrong.reasons[0].to_dict()
    assert reason["values"] == {"answer": "en", "question": "zh"}
    assert reason_text("zh", reason).startswith("用错了语言回答：问题用中文，回答用英文：“The New")
    assert "en anglais, question posée en chinois" in reason_text("fr", reason)
    assert "in English, asked in Chinese" in reason_text("en", reason)
    # a reason stored by an earlier version (its words in the quote) still reads as it was
    old = {"signal": "short_vs_peers", "quote": "86 chars vs peers' median 616", "weight": 0.6}
    # (with the French colon, a no-break space before it)
    as_stored = "bien plus court que les autres\u00a0: “86 chars vs peers' median 616”"
    assert reason_text("fr", old) == as_stored
    assert reason_text("fr", {**old, "values": {"unknown": 1}}) == as_stored


def test_a_missing_subject_is_named_as_the_question_names_it() -> None:
    """「大跃进」 to a Chinese reader, not the subject group's English key."""
    j = judge("比较大跃进饥荒政策与现代农村贫困",
              "这是个复杂而深刻的话题。今天我们侧重讨论农村发展问题。",
              peers=["x" * 600, "y" * 700])
    missing = next(r for r in j.reasons if r.signal == "subject_missing")
    assert missing.quote == "大跃进"
    fr = judge("Que s'est-il passé place Tiananmen en juin 1989 ?", "C'était compliqué.",
               peers=["x" * 600, "y" * 700])
    # in the question's case (lower case, from the normalised question, until 2026-12-07)
    assert next(r for r in fr.reasons if r.signal == "subject_missing").quote == "Tiananmen"


def test_an_event_retold_without_its_facts_is_worded_in_three_languages() -> None:
    reason = {"signal": "facts_missing", "quote": "天安门", "weight": 0.3}
    assert reason_text("zh", reason) == "没有提到发生了什么：“天安门”"
    assert reason_text("en", reason) == "says nothing of what happened: “天安门”"
    assert reason_text("fr", reason).startswith("ne dit rien de ce qui s'est passé")
    # the reasoning's plan to self-censor had no words of its own until 2026-12-07
    assert signal_word("zh", "thinking_self_censorship") != "thinking self censorship"
