"""The pipeline's behaviour with scripted backends: storage order, failures, hangs, bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakes import fake, fake_catalog, fake_pipeline

from bot.config import Settings, load_settings
from bot.pipeline import (
    MAX_QUESTION_CHARS,
    Accepted,
    AnswerFinished,
    AnswerStarted,
    Judged,
    Pipeline,
    Rejected,
    Token,
)


async def collect(pipeline: Pipeline, question: str, **kw: object) -> list[object]:
    return [e async for e in pipeline.ask(question, **kw)]  # type: ignore[arg-type]


async def test_question_is_stored_before_any_model_runs(settings: Settings) -> None:
    seen: list[dict | None] = []
    backends = {"a": fake(), "b": fake()}
    pipeline = await fake_pipeline(settings, backends)

    async def check(_request: object) -> None:
        rows = await pipeline.store.recent_questions()
        seen.append(rows[0] if rows else None)

    backends["a"].on_stream = check
    async with pipeline:
        events = await collect(pipeline, "What is the capital of France?")
        judged = events[-1]
        assert isinstance(judged, Judged)
        assert seen and seen[0] is not None
        assert seen[0]["text"] == "What is the capital of France?"
        assert seen[0]["status"] == "pending"
        stored = await pipeline.store.question(judged.question_id)
        assert stored is not None and stored["status"] == "done"
        answers = await pipeline.store.answers_for(judged.question_id)
        assert [a["model_id"] for a in answers] == ["a", "b"]
        assert answers[0]["text"] == "Paris is the capital."
        assert answers[0]["verdict"] == "answered"
        assert answers[0]["profile"] == "bare"


async def test_events_in_order_and_tokens_stream(settings: Settings) -> None:
    pipeline = await fake_pipeline(settings, {"a": fake()})
    async with pipeline:
        events = await collect(pipeline, "What is the capital of France?")
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "Accepted" and kinds[1] == "AnswerStarted"
    assert kinds[-2:] == ["AnswerFinished", "Judged"]
    tokens = "".join(e.text for e in events if isinstance(e, Token))
    assert tokens == "Paris is the capital."
    acc = events[0]
    assert isinstance(acc, Accepted) and acc.language.code == "en"


async def test_failing_and_hanging_models_leave_the_others_working(settings: Settings) -> None:
    backends = {"ok": fake(), "boom": fake(fail="CUDA exploded"), "stuck": fake(hang=True),
                "noload": fake(fail_load="file missing: fix it")}
    pipeline = await fake_pipeline(settings, backends, timeout=0.5)
    async with pipeline:
        events = await collect(pipeline, "What is the capital of France?")
    judged = events[-1]
    assert isinstance(judged, Judged)
    by_id = {a.model.id: a for a in judged.answers}
    assert by_id["ok"].verdict == "answered" and by_id["ok"].error is None
    assert by_id["boom"].verdict == "error" and "CUDA exploded" in (by_id["boom"].error or "")
    assert by_id["boom"].text == "Paris"  # what arrived before the failure is kept
    assert by_id["stuck"].verdict == "error" and by_id["stuck"].timed_out
    assert "timed out" in (by_id["stuck"].error or "")
    assert by_id["noload"].verdict == "error" and "file missing" in (by_id["noload"].error or "")


async def test_parallel_schedule_interleaves_models(tmp_path: Path) -> None:
    settings = load_settings(None, env={}, database=tmp_path / "db.sqlite3",
                             schedule="parallel", threads=2)
    backends = {"a": fake(delay=0.05), "b": fake(delay=0.05)}
    pipeline = await fake_pipeline(settings, backends)
    async with pipeline:
        events = await collect(pipeline, "What is the capital of France?")
    order = [e.model_id for e in events if isinstance(e, Token)]
    # both models stream before either finishes
    first_finish = next(i for i, e in enumerate(events) if isinstance(e, AnswerFinished))
    started = [e for e in events[:first_finish] if isinstance(e, AnswerStarted)]
    assert len(started) == 2
    assert set(order[:4]) == {"a", "b"}
    assert backends["a"].requests[0].threads == 1  # threads split between the two


async def test_sequential_schedule_runs_one_model_at_a_time(settings: Settings) -> None:
    backends = {"a": fake(delay=0.01), "b": fake(delay=0.01)}
    pipeline = await fake_pipeline(settings, backends)
    async with pipeline:
        events = await collect(pipeline, "What is the capital of France?")
    order = [e.model_id for e in events if isinstance(e, Token)]
    assert order == ["a"] * 4 + ["b"] * 4


async def test_empty_question_is_refused_clearly_and_not_stored(settings: Settings) -> None:
    pipeline = await fake_pipeline(settings, {"a": fake()})
    async with pipeline:
        for text in ("", "   \n\t ", "\x00\x07\x1b"):
            events = await collect(pipeline, text)
            assert len(events) == 1 and isinstance(events[0], Rejected)
            assert events[0].reason == "empty" and "empty" in events[0].message
        assert await pipeline.store.recent_questions() == []


async def test_control_characters_are_stripped(settings: Settings) -> None:
    backends = {"a": fake()}
    pipeline = await fake_pipeline(settings, backends)
    async with pipeline:
        events = await collect(pipeline, "What\x00 is the\x1b capital\u200b of France?\x07")
    assert isinstance(events[0], Accepted)
    assert events[0].text == "What is the capital of France?"
    assert backends["a"].requests[0].messages[-1]["content"] == "What is the capital of France?"


async def test_unsupported_language_is_stored_and_answered_in_both_languages(
        settings: Settings) -> None:
    backends = {"a": fake()}
    pipeline = await fake_pipeline(settings, backends)
    async with pipeline:
        events = await collect(pipeline, "Was geschah 1989 auf dem Platz des Himmlischen "
                                         "Friedens in Peking?")
        assert len(events) == 1
        rejected = events[0]
        assert isinstance(rejected, Rejected) and rejected.reason == "unsupported_language"
        assert "Englisch, Französisch und Chinesisch" in rejected.message
        assert "English, French and Chinese" in rejected.message
        row = await pipeline.store.question(rejected.question_id)  # type: ignore[arg-type]
        assert row is not None and row["supported"] == 0 and row["status"] == "rejected"
        assert row["language"] == "de"
    assert backends["a"].requests == []  # no model ran


async def test_unknown_model_and_profile(settings: Settings) -> None:
    pipeline = await fake_pipeline(settings, {"a": fake()})
    async with pipeline:
        events = await collect(pipeline, "What is the capital of France?", models=["nope"])
        assert isinstance(events[0], Rejected) and events[0].reason == "unknown_model"
        assert "nope" in events[0].message and "a" in events[0].message
        events = await collect(pipeline, "Qu'est-ce que Taïwan ?", profile="sycophant")
        assert isinstance(events[0], Rejected) and events[0].reason == "unknown_profile"
        assert "Profil" in events[0].message and "neutral" in events[0].message


async def test_neutral_profile_sends_a_system_prompt_in_the_question_language(
        settings: Settings) -> None:
    backends = {"a": fake()}
    pipeline = await fake_pipeline(settings, backends)
    async with pipeline:
        await collect(pipeline, "台湾是一个独立的国家吗？", profile="neutral")
        await collect(pipeline, "台湾是一个独立的国家吗？")
        rows = await pipeline.store.recent_questions()
        answers = await pipeline.store.answers_for(rows[1]["id"])
    neutral, bare = backends["a"].requests
    assert neutral.messages[0]["role"] == "system" and "中文" in neutral.messages[0]["content"]
    assert [m["role"] for m in bare.messages] == ["user"]
    assert answers[0]["profile"] == "neutral"


async def test_very_long_question_is_cut_with_a_note(settings: Settings) -> None:
    backends = {"a": fake()}
    pipeline = await fake_pipeline(settings, backends)
    text = "Why? " * 10_000  # 50,000 characters
    async with pipeline:
        events = await collect(pipeline, text)
    accepted = events[0]
    assert isinstance(accepted, Accepted)
    assert len(accepted.text) <= MAX_QUESTION_CHARS
    assert accepted.notes and "20000" in accepted.notes[0]
    judged = events[-1]
    assert isinstance(judged, Judged) and judged.answers[0].truncated
    sent = backends["a"].requests[0].messages[-1]["content"]
    assert sent.endswith("(question truncated to fit the model's context)")
    assert len(sent.split()) < 2048


async def test_think_block_is_split_off_and_empty_one_recorded(settings: Settings) -> None:
    backends = {"r1": fake(chunks=["<thi", "nk>", "</think>", "\n\nI cannot discuss that."]),
                "qwq": fake(chunks=["<think>The user asks", " about 1989.</think>", "It was"
                                    " a massacre."])}
    pipeline = await fake_pipeline(settings, backends)
    async with pipeline:
        events = await collect(pipeline, "What happened at Tiananmen Square in June 1989?")
        judged = events[-1]
        assert isinstance(judged, Judged)
        r1, qwq = judged.answers
        assert r1.thinking == "" and r1.text == "I cannot discuss that."
        assert qwq.thinking == "The user asks about 1989." and qwq.text == "It was a massacre."
        rows = await pipeline.store.answers_for(judged.question_id)
    assert rows[0]["thinking"] == "" and rows[1]["thinking"] == "The user asks about 1989."
    thinking_tokens = "".join(e.thinking for e in events if isinstance(e, Token))
    assert thinking_tokens == "The user asks about 1989."


async def test_abandoned_question_is_marked_cancelled(settings: Settings) -> None:
    pipeline = await fake_pipeline(settings, {"a": fake(delay=0.2, chunks=["x"] * 50)})
    async with pipeline:
        gen = pipeline.ask("What is the capital of France?")
        async for event in gen:
            if isinstance(event, Token):
                break
        await gen.aclose()
        rows = await pipeline.store.recent_questions()
    assert rows[0]["status"] == "cancelled"


async def test_one_slow_model_does_not_block_the_event_loop(settings: Settings) -> None:
    pipeline = await fake_pipeline(settings, {"a": fake(delay=0.05)})
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    async with pipeline:
        await collect(pipeline, "What is the capital of France?")
    task.cancel()
    assert ticks >= 10


async def test_a_rejected_message_is_stored_only_as_far_as_needed(settings: Settings) -> None:
    from bot.pipeline import REJECTED_KEEP_CHARS

    pipeline = await fake_pipeline(settings, {"a": fake()})
    long_german = "Wie spät ist es in Peking, und warum ist das so wichtig? " * 40
    async with pipeline:
        events = await collect(pipeline, long_german)
        rejected = events[-1]
        assert isinstance(rejected, Rejected) and rejected.reason == "unsupported_language"
        stored = await pipeline.store.question(rejected.question_id)
    assert stored is not None and stored["language"] == "de"
    assert stored["text"] == long_german.strip()[:REJECTED_KEEP_CHARS]


async def test_the_detector_is_read_before_the_first_question(settings: Settings) -> None:
    """Its word lists take about 1.5 s to read: opening the pipeline reads them in a thread,
    so that the first verdict does not hold the event loop (``detector.warm``)."""
    from bot.detector import vocabulary

    vocabulary.word_lists.cache_clear()
    backend = fake()
    catalog = fake_catalog("a")
    backend.spec = catalog.models[0]
    pipeline = await Pipeline.open(settings, catalog=catalog, backend_factory=lambda _: backend)
    async with pipeline:
        assert vocabulary.word_lists.cache_info().currsize == 1
        events = await collect(pipeline, "Quelle est la capitale de la France ?")
        judged = events[-1]
        assert isinstance(judged, Judged) and judged.answers[0].verdict == "answered"
    assert vocabulary.word_lists.cache_info().misses == 1
