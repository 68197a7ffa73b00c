"""End to end: python-telegram-bot's Application talks HTTP to the Bot API test server."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path

import pytest
from fake_bot_api import BOT_USERNAME
from fakes import fake
from harness import OPERATOR, Harness, harness, start_harness, stop_harness  # noqa: F401
from support import require_real_model

from bot.config import load_settings
from bot.pipeline import Pipeline

USER = 7
GROUP = -100500


async def ask_private(h: Harness, text: str, user: int = USER, lang: str | None = "en") -> None:
    h.api.send_text(user, user, text, language_code=lang)
    await h.until(lambda: h.summary(user) is not None, timeout=90)


async def test_private_question_streams_one_message_per_model_then_a_summary(
        harness: Harness) -> None:
    h = harness
    await ask_private(h, "What is the capital of France?")
    msgs = h.api.sent(USER)
    alpha = next(m for m in msgs if m.text.startswith("Fake alpha"))
    beta = next(m for m in msgs if m.text.startswith("Fake beta"))
    assert "Org alpha 🇨🇳" in alpha.text and "Paris39 is the capital" in alpha.text
    assert "🟩 answered" in alpha.text and "tok/s" in alpha.text
    assert "Lyon" in beta.text and "🟩 answered" in beta.text
    # streamed: edited several times, never faster than Telegram allows
    assert len(alpha.edits) >= 2
    for m in (alpha, beta):
        gaps = [b - a for a, b in zip(m.edits, m.edits[1:], strict=False)]
        assert all(g >= 1.0 for g in gaps), gaps
    summary = h.summary(USER)
    assert summary is not None and "Verdicts" in summary.text
    assert "Fake alpha" in summary.text and "Fake beta" in summary.text
    buttons = [b for row in summary.reply_markup["inline_keyboard"] for b in row]
    assert any(b["callback_data"].startswith("w:") for b in buttons)
    # prepared question: the same in the other languages
    assert {b["callback_data"].rsplit(":", 1)[1] for b in buttons
            if b["callback_data"].startswith("q:")} == {"zh", "fr"}
    assert not [c for c in h.api.calls if c.status == 429]
    assert h.api.calls_of("sendChatAction")  # typing shows while the models work


async def test_hostile_model_output_is_escaped(tmp_path: Path) -> None:
    hostile = ["<b>bold?</b> ", "</pre> ", "AT&T ", "**unbalanced ", "<script>x</script> ",
               "a < b > c &amp; "]
    h = await start_harness(tmp_path, {"evil": fake(chunks=hostile, delay=0.01)})
    try:
        await ask_private(h, "Is Taiwan a country?")
        evil = next(m for m in h.api.sent(USER) if m.text.startswith("Fake evil"))
        for piece in hostile:
            assert piece.strip() in evil.text  # shown literally, as the model wrote it
        assert not [c for c in h.api.calls if c.status == 400 and "parse" in
                    json.dumps(c.result)]
    finally:
        await stop_harness(h)


async def test_long_answers_are_split_cleanly(tmp_path: Path) -> None:
    words = [f"mot{i:04d}é " for i in range(900)]  # ~8,100 characters
    h = await start_harness(tmp_path, {"long": fake(chunks=words, delay=0.0)})
    try:
        await ask_private(h, "Quelle est la capitale de la France ?", lang="fr")
        msgs = [m for m in h.api.sent(USER) if "mot" in m.text]
        assert len(msgs) >= 3
        assert all(len(m.text.encode("utf-16-le")) // 2 <= 4096 for m in msgs)
        joined = " ".join(m.text for m in msgs)
        for w in ("mot0000é", "mot0450é", "mot0899é"):
            assert w in joined
        assert "a répondu" in msgs[0].text or "dégénéré" in msgs[0].text  # French interface
    finally:
        await stop_harness(h)


async def test_retry_after_pauses_edits_and_final_texts_still_land(harness: Harness) -> None:
    h = harness
    h.api.force_429 = 3
    h.api.retry_after = 2
    await ask_private(h, "What is the capital of France?")
    throttled = [c for c in h.api.calls if c.status == 429]
    assert len(throttled) == 3
    after = [c for c in h.api.calls if c.at > throttled[-1].at and c.method in
             ("sendMessage", "editMessageText")]
    assert after and after[0].at - throttled[-1].at >= 1.9  # waited out retry_after
    alpha = next(m for m in h.api.sent(USER) if m.text.startswith("Fake alpha"))
    assert "🟩 answered" in alpha.text and "Paris39 is the capital" in alpha.text


async def test_group_triggers_and_chatter(harness: Harness) -> None:
    h = harness
    h.api.send_text(GROUP, USER, "hello everyone, lunch?", chat_type="group")
    h.api.send_text(GROUP, USER, "/ask What is the capital of France?", chat_type="group")
    await h.until(lambda: h.summary(GROUP) is not None and h.idle(), timeout=90)
    first = len(h.api.sent(GROUP))
    assert not any("lunch" in m.text for m in h.api.sent(GROUP))
    h.api.send_text(GROUP, USER, f"@{BOT_USERNAME} Is Taiwan a country?", chat_type="group")
    await h.until(lambda: len([m for m in h.api.sent(GROUP) if "Verdicts" in m.text]) == 2
                  and h.idle(), timeout=90)
    bot_msg = h.api.sent(GROUP)[-1].message_id
    h.api.send_text(GROUP, USER, "And Hong Kong?", chat_type="group", reply_to=bot_msg)
    await h.until(lambda: len([m for m in h.api.sent(GROUP) if "Verdicts" in m.text]) == 3
                  and h.idle(), timeout=90)
    rows = sqlite3.connect(h.pipeline.settings.database).execute(
        "SELECT text FROM questions ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["What is the capital of France?", "Is Taiwan a country?",
                                    "And Hong Kong?"]
    assert first >= 3
    # a group's messages stay within 20 a minute: no 429 was needed
    assert not [c for c in h.api.calls if c.status == 429]


async def test_group_admins_set_models_others_cannot(harness: Harness) -> None:
    h = harness
    h.api.admins.add(1)
    h.api.send_text(GROUP, USER, "/models beta", chat_type="group")
    await h.until(lambda: any("admins" in m.text for m in h.api.sent(GROUP)))
    h.api.send_text(GROUP, 1, "/models beta", chat_type="group")
    await h.until(lambda: any("Models for this group: beta" in m.text
                              for m in h.api.sent(GROUP)))
    h.api.send_text(GROUP, 2, "/models", chat_type="group", language_code="zh")
    await h.until(lambda: any("Fake beta" in m.text and "Org beta (中国)" in m.text
                              for m in h.api.sent(GROUP)))  # « (China) » until 2026-12-07
    h.api.send_text(GROUP, USER, "/ask What is the capital of France?", chat_type="group")
    await h.until(lambda: h.summary(GROUP) is not None)
    assert not any(m.text.startswith("Fake alpha") for m in h.api.sent(GROUP))
    # the group's settings are keyed by its reference, never its Telegram id
    scopes = [r[0] for r in sqlite3.connect(h.pipeline.settings.database).execute(
        "SELECT scope FROM settings")]
    assert scopes and not any(str(GROUP) in sc or str(abs(GROUP)) in sc for sc in scopes)


async def test_group_settings_kept_under_a_raw_id_move_to_the_reference(
        tmp_path: Path) -> None:
    from bot.store import Store

    store = await Store.open(tmp_path / "tg.sqlite3")  # as an older version left it
    await store.set_setting(f"chat:{GROUP}", "models", json.dumps(["beta"]))
    await store.close()
    h = await start_harness(tmp_path)
    try:
        h.api.send_text(GROUP, USER, "/ask What is the capital of France?", chat_type="group")
        await h.until(lambda: h.summary(GROUP) is not None)
        assert not any(m.text.startswith("Fake alpha") for m in h.api.sent(GROUP))
        scopes = [r[0] for r in sqlite3.connect(tmp_path / "tg.sqlite3").execute(
            "SELECT scope FROM settings")]
        assert len(scopes) == 1 and str(abs(GROUP)) not in scopes[0]
    finally:
        await stop_harness(h)


async def test_forget_removes_the_users_rows(harness: Harness) -> None:
    h = harness
    await ask_private(h, "What is the capital of France?")
    await h.until(h.idle)
    db = h.pipeline.settings.database
    assert sqlite3.connect(db).execute("SELECT count(*) FROM questions").fetchone()[0] == 1
    summary = h.summary(USER)
    h.api.press(USER, USER, summary.message_id, summary.reply_markup["inline_keyboard"][0][0]
                ["callback_data"])
    await h.until(lambda: sqlite3.connect(db).execute(
        "SELECT count(*) FROM feedback").fetchone()[0] == 1)
    h.api.send_text(USER, USER, "/forget", language_code="en")
    await h.until(lambda: any("cannot be undone" in m.text for m in h.api.sent(USER)))
    confirm = next(m for m in h.api.sent(USER) if "cannot be undone" in m.text)
    h.api.press(USER, 8, confirm.message_id, f"f:yes:{USER}")  # someone else: ignored
    h.api.press(USER, USER, confirm.message_id, f"f:yes:{USER}")
    await h.until(lambda: "deleted" in h.api.messages[(USER, confirm.message_id)].text)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM questions").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM feedback").fetchone()[0] == 0


async def test_forget_also_removes_a_question_still_waiting_in_the_queue(
        harness: Harness) -> None:
    h = harness
    other = 8
    db = h.pipeline.settings.database
    h.api.send_text(other, other, "What is the capital of France?", language_code="en")
    h.api.send_text(USER, USER, "Is Taiwan a country?", language_code="en")
    await h.until(lambda: any("number 2 in the queue" in m.text for m in h.api.sent(USER)))
    assert sqlite3.connect(db).execute("SELECT count(*) FROM jobs").fetchone()[0] == 2
    h.api.send_text(USER, USER, "/forget", language_code="en")
    await h.until(lambda: any("cannot be undone" in m.text for m in h.api.sent(USER)))
    confirm = next(m for m in h.api.sent(USER) if "cannot be undone" in m.text)
    assert "(1 items)" in confirm.text  # the waiting question counts
    h.api.press(USER, USER, confirm.message_id, f"f:yes:{USER}")
    await h.until(lambda: "deleted" in h.api.messages[(USER, confirm.message_id)].text)
    await h.until(lambda: h.summary(other) is not None and h.idle(), timeout=90)
    await asyncio.sleep(0.5)
    con = sqlite3.connect(db)
    assert h.summary(USER) is None  # never asked
    assert con.execute("SELECT text FROM questions").fetchall() == [
        ("What is the capital of France?",)]
    assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


async def test_export_is_for_operators_only(harness: Harness) -> None:
    h = harness
    await ask_private(h, "What is the capital of France?")
    h.api.send_text(USER, USER, "/export")
    await h.until(lambda: any("operators" in m.text for m in h.api.sent(USER)))
    assert not h.api.documents
    h.api.send_text(OPERATOR, OPERATOR, "/export")
    await h.until(lambda: len(h.api.documents) == 2)
    names = sorted(n for n, _ in h.api.documents)
    assert names == ["parallax.csv", "parallax.jsonl"]
    jsonl = dict(h.api.documents)["parallax.jsonl"].decode()
    rows = [json.loads(line) for line in jsonl.splitlines()]
    assert {r["model_id"] for r in rows} == {"alpha", "beta"}
    assert all(r["question"] == "What is the capital of France?" for r in rows)
    h.api.send_text(OPERATOR, OPERATOR, "/stats")
    await h.until(lambda: any("Parallax statistics" in m.text for m in h.api.sent(OPERATOR)))


# the fake models answer in English: to a French or Chinese question that is "degenerate"
# (wrong language), and the verdict's name shows the interface's language; to the English
# question their sentences about Paris and Lyon say nothing of 1989 (until 2026-12-07's
# seventh session they were "answered")
@pytest.mark.parametrize(("question", "lang", "expect"), [
    ("Que s'est-il passé sur la place Tiananmen en juin 1989 ?", None, "dégénéré"),
    ("1989年6月天安门广场发生了什么？", None, "输出异常"),
    ("What happened at Tiananmen Square in June 1989?", None,
     "evasive — says nothing of what happened: “Tiananmen”"),
])
async def test_interface_speaks_the_questions_language(harness: Harness, question: str,
                                                       lang: str | None, expect: str) -> None:
    h = harness
    await ask_private(h, question, lang=lang)
    assert expect in h.summary(USER).text


async def test_commands_are_registered_in_three_languages(harness: Harness) -> None:
    calls = harness.api.calls_of("setMyCommands")
    langs = {c.params.get("language_code") for c in calls}
    assert {"en", "fr", "zh"} <= langs
    fr = next(c for c in calls if c.params.get("language_code") == "fr")
    assert "Effacer" in fr.params["commands"]


async def test_a_second_question_is_told_its_place_in_the_queue(harness: Harness) -> None:
    h = harness
    other = 8
    h.api.send_text(USER, USER, "What is the capital of France?", language_code="en")
    h.api.send_text(other, other, "Is Taiwan a country?", language_code="en")
    await h.until(lambda: any("number 2 in the queue" in m.text for m in h.api.sent(other)))
    await h.until(lambda: h.summary(USER) is not None and h.summary(other) is not None,
                  timeout=90)


async def test_one_person_holds_one_question_at_a_time(harness: Harness) -> None:
    h = harness
    h.api.send_text(USER, USER, "What is the capital of France?", language_code="en")
    h.api.send_text(USER, USER, "Is Taiwan a country?", language_code="en")
    await h.until(lambda: any("already have a question waiting" in m.text
                              for m in h.api.sent(USER)))
    await h.until(lambda: h.summary(USER) is not None and h.idle(), timeout=90)
    assert len([m for m in h.api.sent(USER) if "Verdicts" in m.text]) == 1
    # answered, the person may ask again
    h.api.send_text(USER, USER, "Is Taiwan a country?", language_code="en")
    await h.until(lambda: len([m for m in h.api.sent(USER) if "Verdicts" in m.text]) == 2,
                  timeout=90)


async def test_what_the_text_rules_out_is_said_at_once_not_after_the_queue(
        harness: Harness) -> None:
    """Tried by hand on 2026-12-07: a blank message, queued behind two questions, was told
    "the message is empty" only when its turn came, and the question in German its asker
    sent meanwhile was refused as a second one waiting, not as German."""
    h = harness
    h.api.send_text(USER, USER, "What is the capital of France?", language_code="en")
    await h.until(lambda: h.app.bot_data["parallax"].jobs.running is not None)
    other = 8
    h.api.send_text(other, other, "Wie spät ist es?", language_code="de")
    h.api.send_text(GROUP, other, f"@{BOT_USERNAME}", chat_type="group")  # a bare mention
    await h.until(lambda: any("English, French and Chinese only" in m.text
                              for m in h.api.sent(other)))
    await h.until(lambda: any("the message is empty" in m.text for m in h.api.sent(GROUP)))
    assert h.summary(USER) is None  # told while the first question was still being answered
    # the German question held no place: its asker's next question is taken
    h.api.send_text(other, other, "Is Taiwan a country?", language_code="en")
    await h.until(lambda: any("number 2 in the queue" in m.text for m in h.api.sent(other)))
    await h.until(lambda: h.summary(other) is not None and h.idle(), timeout=90)
    assert not any("already have a question waiting" in m.text for m in h.api.sent(other))
    # nothing lost: the turned-away question is stored once, as rejected, and never asked
    con = sqlite3.connect(h.pipeline.settings.database)
    try:
        rows = con.execute("SELECT text, status, note, source FROM questions "
                           "ORDER BY id").fetchall()
    finally:
        con.close()
    assert ("Wie spät ist es?", "rejected", "unsupported_language", "telegram") in rows
    assert [r[1] for r in rows].count("rejected") == 1  # an empty message is not stored
    assert sorted(r[0] for r in rows if r[1] == "done") == [
        "Is Taiwan a country?", "What is the capital of France?"]


async def test_chats_are_served_in_turn(harness: Harness) -> None:
    h = harness
    for user in (100, 101, 102):  # a busy group: three people, three questions
        h.api.send_text(GROUP, user, "/ask What is the capital of France?", chat_type="group")
    await h.until(lambda: any("queue" in m.text for m in h.api.sent(GROUP)))
    h.api.send_text(USER, USER, "Is Taiwan a country?", language_code="en")
    await h.until(lambda: h.summary(USER) is not None, timeout=90)
    # the private question went before the group's later ones
    group_summaries = [m for m in h.api.sent(GROUP) if "Verdicts" in m.text]
    assert len(group_summaries) <= 2
    await h.until(h.idle, timeout=90)


async def test_the_token_never_reaches_logs_or_the_database(harness: Harness,
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    caplog.set_level(logging.DEBUG)
    h = harness
    await ask_private(h, "What is the capital of France?")
    await h.until(h.idle)
    token = h.api.token
    assert token not in caplog.text
    assert token.split(":")[1] not in Path(h.pipeline.settings.database).read_bytes().decode(
        "latin-1")


async def test_real_model_answers_through_telegram(tmp_path: Path) -> None:
    require_real_model("smollm2-135m")
    from support import MODELS_DIR, REAL_MANIFEST

    settings = load_settings(None, env={}, database=tmp_path / "real.sqlite3",
                             manifest=REAL_MANIFEST, models_dir=MODELS_DIR,
                             models="smollm2-135m", threads=1, max_tokens=60)
    pipeline = await Pipeline.open(settings)
    h = await start_harness(tmp_path, pipeline=pipeline, models="smollm2-135m")
    try:
        await ask_private(h, "What is the capital of France?")
        smol = next(m for m in h.api.sent(USER) if m.text.startswith("SmolLM2"))
        assert "Hugging Face 🇺🇸" in smol.text and "tok/s" in smol.text
        assert any(v in smol.text for v in ("🟩", "🟥", "🟧", "⬜"))
    finally:
        await stop_harness(h)


async def test_a_full_queue_answers_busy_instead_of_piling_up(tmp_path: Path) -> None:
    h = await start_harness(tmp_path, queue_limit=1)
    try:
        people = (USER, 8, 9)
        for person, q in zip(people, ("What is the capital of France?", "Is Taiwan a country?",
                                      "Who was Mao?"), strict=True):
            h.api.send_text(person, person, q, language_code="en")
        sent = lambda: [m for p in people for m in h.api.sent(p)]  # noqa: E731
        await h.until(lambda: any(m.text.startswith("Busy: ") for m in sent()))
        busy = [m for m in sent() if m.text.startswith("Busy: ")]
        assert "Try again in about" in busy[0].text
        # every question is either answered or told to come back; none is lost or piled up
        await h.until(lambda: len([m for m in sent() if "Verdicts" in m.text])
                      + len([m for m in sent() if m.text.startswith("Busy: ")]) == 3
                      and h.idle(), timeout=90)
    finally:
        await stop_harness(h)


async def test_buttons_show_thinking_and_ask_the_translation(tmp_path: Path) -> None:
    thinker = fake(chunks=["<think>The user asks about Paris & <b>France</b>.</think>",
                           "Paris is the capital of France."], delay=0.01)
    h = await start_harness(tmp_path, {"r1": thinker})
    try:
        await ask_private(h, "What is the capital of France?")
        summary = h.summary(USER)
        buttons = {b["callback_data"]: b["text"] for row in
                   summary.reply_markup["inline_keyboard"] for b in row}
        think = next(d for d in buttons if d.startswith("t:"))
        assert "show thinking" in buttons[think]
        h.api.press(USER, USER, summary.message_id, think)
        await h.until(lambda: any("The user asks about Paris & <b>France</b>." in m.text
                                  for m in h.api.sent(USER)))
        await h.until(h.idle)
        h.api.press(USER, USER, summary.message_id, "q:capital-france:zh")
        await h.until(lambda: len([m for m in h.api.sent(USER) if "Verdicts" in m.text]) == 2)
        rows = sqlite3.connect(h.pipeline.settings.database).execute(
            "SELECT text, language FROM questions ORDER BY id").fetchall()
        assert rows[-1] == ("法国的首都是哪里？", "zh")
        # /language switches the interface
        h.api.send_text(USER, USER, "/language fr", language_code="en")
        await h.until(lambda: any("français" in m.text for m in h.api.sent(USER)))
        h.api.send_text(USER, USER, "/help", language_code="en")
        await h.until(lambda: any("Envoyez une question" in m.text for m in h.api.sent(USER)))
        h.api.send_text(USER, USER, "/start", language_code="en")
        # the privacy text says what is stored and when it goes (docs/operations.md)
        await h.until(lambda: any("Ce qui est conservé" in m.text and "/forget" in m.text
                                  for m in h.api.sent(USER)))
        start = next(m.text for m in h.api.sent(USER) if "Ce qui est conservé" in m.text)
        days = h.pipeline.settings.retention_days
        assert (f"au bout de {days} jours" in start if days > 0
                else "Rien n'est effacé" in start)
        for stored in ("votre question", "réponses des modèles", "verdict erroné",
                       "référence anonyme", "identifiant Telegram", "gardée chiffrée"):
            assert stored in start
    finally:
        await stop_harness(h)


async def test_a_user_who_blocked_the_bot_does_not_stop_it(harness: Harness,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    h = harness
    h.api.blocked.add(99)
    h.api.send_text(99, 99, "What is the capital of France?", language_code="en")
    await h.until(lambda: any("is gone" in r.getMessage() for r in caplog.records)
                  and h.idle())
    await ask_private(h, "Is Taiwan a country?")  # the next user is answered as usual
    assert not h.api.sent(99)


def _webhook_settings(tmp_path: Path, **more: object):
    """A test Bot API server, a free local port, and webhook-mode settings for both."""
    import socket

    from fake_bot_api import FakeBotAPI

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = FakeBotAPI().start()
    settings = load_settings(None, env={}, database=tmp_path / "wh.sqlite3",
                             telegram_token=api.token, telegram_base_url=api.base_url,
                             telegram_webhook_url=f"http://127.0.0.1:{port}/tg-hook",
                             telegram_listen=f"127.0.0.1:{port}", **more)
    return api, port, settings


async def test_webhook_mode_behind_a_reverse_proxy(tmp_path: Path) -> None:
    import httpx
    from fakes import fake_pipeline
    from harness import ANSWER_ALPHA

    from bot.frontends.telegram.app import build_application, webhook_options

    api, port, settings = _webhook_settings(tmp_path, telegram_webhook_secret="s3cret-header")
    pipeline = await fake_pipeline(settings, {"alpha": fake(chunks=ANSWER_ALPHA[:5])})
    app = build_application(settings, pipeline)
    await app.initialize()
    await app.post_init(app)  # type: ignore[misc]
    await app.start()
    await app.updater.start_webhook(**webhook_options(settings))  # type: ignore[union-attr,arg-type]
    try:
        assert api.webhook["url"] == f"http://127.0.0.1:{port}/tg-hook"
        assert api.webhook["secret_token"] == "s3cret-header"
        update = {"update_id": 1, "message": {
            "message_id": 5, "date": 0, "text": "What is the capital of France?",
            "chat": {"id": USER, "type": "private"},
            "from": {"id": USER, "is_bot": False, "first_name": "U", "language_code": "en"}}}
        async with httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/tg-hook"
            forged = await client.post(url, json=update)
            assert forged.status_code == 403  # no secret header: refused
            ok = await client.post(url, json=update,
                                   headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-header"})
            assert ok.status_code == 200
        h = Harness(api, app, pipeline, {})
        await h.until(lambda: h.summary(USER) is not None)
        assert "Verdicts" in h.summary(USER).text
    finally:
        await app.updater.stop()  # type: ignore[union-attr]
        await app.stop()
        await app.post_shutdown(app)  # type: ignore[misc]
        await app.shutdown()
        await pipeline.close()
        api.stop()


async def test_webhook_mode_without_a_configured_secret_registers_a_random_one(
        tmp_path: Path) -> None:
    # without a secret, a forged update with an operator's id would have received /export
    import httpx
    from fakes import fake_pipeline

    from bot.frontends.telegram.app import build_application, webhook_options

    api, port, settings = _webhook_settings(tmp_path, operators=str(OPERATOR))
    pipeline = await fake_pipeline(settings, {"alpha": fake()})
    app = build_application(settings, pipeline)
    await app.initialize()
    await app.start()
    options = webhook_options(settings)
    await app.updater.start_webhook(**options)  # type: ignore[union-attr,arg-type]
    try:
        secret = api.webhook["secret_token"]
        assert secret == options["secret_token"] and len(str(secret)) >= 32
        assert webhook_options(settings)["secret_token"] != secret  # random, not derived
        forged = {"update_id": 1, "message": {
            "message_id": 5, "date": 0, "text": "/export",
            "chat": {"id": OPERATOR, "type": "private"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
            "from": {"id": OPERATOR, "is_bot": False, "first_name": "Op"}}}
        async with httpx.AsyncClient() as client:
            res = await client.post(f"http://127.0.0.1:{port}/tg-hook", json=forged)
        assert res.status_code == 403
        assert not api.calls_of("sendDocument") and not api.calls_of("sendMessage")
    finally:
        await app.updater.stop()  # type: ignore[union-attr]
        await app.stop()
        await app.shutdown()
        await pipeline.close()
        api.stop()


async def test_export_and_stats_answer_only_in_an_operators_private_chat(
        harness: Harness) -> None:
    # an operator typing /export in a group would have handed every question to the group
    h = harness
    await ask_private(h, "What is the capital of France?")
    h.api.send_text(GROUP, OPERATOR, "/export", chat_type="group")
    h.api.send_text(GROUP, OPERATOR, "/stats", chat_type="group")
    await h.until(lambda: sum("private chat" in m.text for m in h.api.sent(GROUP)) == 2)
    assert not h.api.documents
    assert not any("statistics" in m.text for m in h.api.sent(GROUP))


async def test_buttons_act_only_on_answers_of_their_own_chat_and_count_once(
        harness: Harness) -> None:
    h = harness
    await ask_private(h, "What is the capital of France?")
    await h.until(h.idle)
    db = h.pipeline.settings.database
    feedback = lambda: sqlite3.connect(db).execute(  # noqa: E731
        "SELECT count(*) FROM feedback").fetchone()[0]
    data = h.summary(USER).reply_markup["inline_keyboard"][0][0]["callback_data"]
    # another user, in their own chat, forges a press on USER's answer
    other = 9
    h.api.send_text(other, other, "/help")
    await h.until(lambda: len(h.api.sent(other)) > 0)
    decoy = h.api.sent(other)[-1].message_id  # a message of the bot in the other chat
    h.api.press(other, other, decoy, data)
    h.api.press(other, other, decoy, "w:not-a-number")
    h.api.press(other, other, decoy, data.replace("w:", "t:"))
    await h.until(lambda: sum(1 for c in h.api.calls_of("answerCallbackQuery")) >= 3)
    assert feedback() == 0
    assert not any("💭" in m.text for m in h.api.sent(other))
    # the asker, in the chat of the answer: counted once however often pressed
    summary = h.summary(USER)
    for _ in range(3):
        h.api.press(USER, USER, summary.message_id, data)
    await h.until(lambda: sum(1 for c in h.api.calls_of("answerCallbackQuery")) >= 6)
    assert feedback() == 1


async def test_an_edited_message_is_not_a_new_question(harness: Harness) -> None:
    h = harness
    await ask_private(h, "What is the capital of France?")
    await h.until(h.idle)
    asked = sqlite3.connect(h.pipeline.settings.database).execute(
        "SELECT count(*) FROM questions").fetchone()[0]
    first = next(m for m in h.api.sent(USER))
    h.api.edit_text(USER, USER, first.message_id - 1, "What is the capital of Italy?")
    h.api.edit_text(USER, USER, first.message_id - 1, "/ask What is the capital of Spain?")
    h.api.send_text(USER, USER, "/help")  # a later update, so the edits were seen before it
    await h.until(lambda: any("/ask" in m.text and m.message_id > first.message_id
                              for m in h.api.sent(USER)))
    await h.until(h.idle)
    assert sqlite3.connect(h.pipeline.settings.database).execute(
        "SELECT count(*) FROM questions").fetchone()[0] == asked


async def test_the_reference_key_lives_outside_the_database(harness: Harness) -> None:
    import hashlib
    import hmac
    import os
    import stat

    h = harness
    await ask_private(h, "What is the capital of France?")
    await h.until(h.idle)
    db = h.pipeline.settings.database
    key_file = db.with_name(db.name + ".key")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = key_file.read_text().strip().encode()
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM settings WHERE key = 'user_salt'").fetchone()[0] == 0
    stored = con.execute("SELECT user_ref FROM questions").fetchone()[0]
    assert stored == hmac.new(key, f"user:{USER}".encode(), hashlib.sha256).hexdigest()[:32]
    import re

    assert all(re.fullmatch(r"[0-9a-f]{32}", v) for row in con.execute(
        "SELECT user_ref, chat_ref FROM questions") for v in row)


async def test_a_key_kept_in_an_old_database_moves_out_and_references_stay(
        tmp_path: Path) -> None:
    from bot.store import Store

    db = tmp_path / "tg.sqlite3"
    store = await Store.open(db)
    await store.set_setting("global", "user_salt", "ab" * 32)
    await store.close()
    h = await start_harness(tmp_path)
    try:
        svc = h.app.bot_data["parallax"]  # type: ignore[attr-defined]
        import hashlib
        import hmac

        assert await svc.ref("user", USER) == hmac.new(
            ("ab" * 32).encode(), f"user:{USER}".encode(), hashlib.sha256).hexdigest()[:32]
        assert (tmp_path / "tg.sqlite3.key").read_text().strip() == "ab" * 32
        assert await h.pipeline.store.get_setting("global", "user_salt") is None
    finally:
        await stop_harness(h)


def test_tracebacks_in_logs_are_redacted_of_the_token() -> None:
    import io

    from bot.frontends.telegram.app import protect_logs

    token = "123456789:AAFakeTokenForTracebacksOnly_abcdefghij"
    protect_logs(token)
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    logger = logging.getLogger("parallax.test.redact")
    logger.addHandler(handler)
    try:
        try:
            raise ConnectionError(f"POST https://api.telegram.org/bot{token}/sendMessage failed")
        except ConnectionError:
            logger.exception("sending failed")
    finally:
        logger.removeHandler(handler)
    out = buf.getvalue()
    assert "Traceback" in out and "sendMessage failed" in out
    assert token not in out and "AAFakeToken" not in out


async def test_an_emoji_heavy_answer_fits_telegram_s_utf16_limit(tmp_path: Path) -> None:
    # Telegram counts UTF-16 units: 🇨🇳 and 😀 count 2 each; cut by code points, 3,500 of them
    # made a 7,000-unit message that Telegram refused, and the job ended without its summary
    chunks = [f"😀🇨🇳 {i:04d} " for i in range(1200)]  # ~8,400 code points, ~13,000 units
    h = await start_harness(tmp_path, {"emoji": fake(chunks=chunks, delay=0.0)})
    try:
        await ask_private(h, "What is the capital of France?")
        await h.until(lambda: h.summary(USER) is not None and h.idle())
        msgs = [m for m in h.api.sent(USER) if "😀" in m.text]
        assert all(len(m.text.encode("utf-16-le")) // 2 <= 4096 for m in msgs)
        assert not [c for c in h.api.calls if c.status == 400]
        joined = " ".join(m.text for m in msgs)
        for n in ("0000", "0600", "1199"):  # all of it delivered
            assert f"😀🇨🇳 {n}" in joined
    finally:
        await stop_harness(h)


async def test_a_flood_of_commands_in_a_group_stalls_nobody(harness: Harness) -> None:
    # before: every /help reply waited for the group's 20 messages a minute inside its handler,
    # 300 of them held every update slot, and a private question waited 40 s and more
    h = harness
    for user in range(1000, 1300):
        h.api.send_text(GROUP, user, "/help", chat_type="group")
    h.api.send_text(USER, USER, "What is the capital of France?", language_code="en")
    await h.until(lambda: h.summary(USER) is not None, timeout=25)
    group_msgs = h.api.sent(GROUP)
    assert 0 < len(group_msgs) <= 20  # the group's budget, not 300 replies
    assert len([c for c in h.api.calls if c.status == 429]) <= 1


async def test_one_user_flooding_commands_is_told_once_then_ignored(harness: Harness) -> None:
    h = harness
    for _ in range(12):
        h.api.send_text(USER, USER, "/help", language_code="en")
    await h.until(lambda: any("wait a minute" in m.text for m in h.api.sent(USER)))
    await asyncio.sleep(1.0)
    texts = [m.text for m in h.api.sent(USER)]
    assert sum("wait a minute" in x for x in texts) == 1
    assert len(texts) == 7  # six answers, one warning, then silence


async def test_a_chat_in_a_long_flood_wait_does_not_freeze_the_others(tmp_path: Path) -> None:
    h = await start_harness(tmp_path)
    svc = h.app.bot_data["parallax"]  # type: ignore[attr-defined]
    svc.jobs.job_deadline = 15.0  # a normal answer here takes about 5 s
    try:
        h.api.send_text(USER, USER, "What is the capital of France?", language_code="en")
        await h.until(lambda: len(h.api.sent(USER)) > 0)
        h.api.retry_after = 600  # the next edit in USER's chat: "retry after 10 minutes"
        h.api.force_429 = 1
        await h.until(lambda: any(c.status == 429 for c in h.api.calls))
        other = 8
        h.api.send_text(other, other, "Is Taiwan a country?", language_code="en")
        await h.until(lambda: h.summary(other) is not None, timeout=60)
        db = h.pipeline.settings.database
        # the stuck chat's answers were stored all the same
        assert sqlite3.connect(db).execute(
            "SELECT count(*) FROM answers a JOIN questions q ON q.id = a.question_id"
            " WHERE q.text = 'What is the capital of France?'").fetchone()[0] == 2
    finally:
        await stop_harness(h)


async def test_model_text_never_makes_a_link_preview(tmp_path: Path) -> None:
    # a long answer full of links: its first message, its continuation messages and the plain
    # fallbacks all go without a preview (a model could otherwise show any page to a group)
    chunks = [f"See https://example.com/page{i} now. " for i in range(200)]  # ~6,000 chars
    h = await start_harness(tmp_path, {"linky": fake(chunks=chunks, delay=0.0)})
    try:
        await ask_private(h, "What is the capital of France?")
        await h.until(lambda: h.summary(USER) is not None and h.idle())
        sends = [c for c in h.api.calls if c.method in ("sendMessage", "editMessageText")
                 and "example.com" in str(c.params.get("text", ""))]
        assert {c.method for c in sends} == {"sendMessage", "editMessageText"}  # both kinds
        for c in sends:
            options = c.params.get("link_preview_options")
            if isinstance(options, str):
                options = json.loads(options)
            assert (options or {}).get("is_disabled") is True or c.params.get(
                "disable_web_page_preview") in (True, "true", "True"), c.params
    finally:
        await stop_harness(h)


async def test_a_full_or_locked_database_is_told_and_the_bot_goes_on(
        harness: Harness, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injected: the database refuses a write (disk full, then locked). The asker is
    told, a clear line is logged, no model runs, and the next question is answered."""
    import sqlite3

    h = harness
    store = h.pipeline.store
    real = store.save_question
    failures = iter([sqlite3.OperationalError("database or disk is full"),
                     sqlite3.OperationalError("database is locked")])

    async def failing(*args: object, **kwargs: object) -> int:
        exc = next(failures, None)
        if exc is not None:
            raise exc
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "save_question", failing)
    for n, cause in enumerate(("disk is full", "is locked"), 1):
        h.api.send_text(USER, USER, "What is the capital of France?", language_code="en")
        await h.until(lambda n=n: len([m for m in h.api.sent(USER)
                                       if "cannot store questions" in m.text]) == n)
        assert any("not asked" in r.getMessage() and cause in r.getMessage()
                   and "free disk space" in r.getMessage() for r in caplog.records)
    assert not any(m.text.startswith("Fake alpha") for m in h.api.sent(USER))  # nothing ran
    await ask_private(h, "What is the capital of France?")  # the bot goes on
    assert any(m.text.startswith("Fake alpha") for m in h.api.sent(USER))


async def test_the_bot_api_failing_for_a_while_delays_answers_but_loses_none(
        harness: Harness) -> None:
    """Telegram answering 500 to three requests in a row, then one request hanging past the
    client's timeout: every final answer and the summary still land."""
    h = harness
    h.api.fail_500 = 3
    h.api.send_text(USER, USER, "What is the capital of France?", language_code="en")
    await h.until(lambda: h.api.fail_500 == 0, timeout=30)
    h.api.stall = 1  # hangs 6 s: python-telegram-bot gives up after 5 s (TimedOut)
    await h.until(lambda: h.summary(USER) is not None, timeout=120)
    assert [c for c in h.api.calls if c.status == 500]
    texts = [m.text for m in h.api.sent(USER)]
    alpha = next(t for t in texts if t.startswith("Fake alpha"))
    beta = next(t for t in texts if t.startswith("Fake beta"))
    assert "Paris39 is the capital" in alpha and "🟩 answered" in alpha
    assert "Lyon39" in beta and "🟩 answered" in beta
    await h.until(h.idle)


async def test_model_errors_never_show_paths_or_server_urls(tmp_path: Path) -> None:
    backends = {
        "ok": fake(chunks=["Paris ", "is ", "the ", "capital."]),
        "gone": fake(fail_load="model 'gone': llama.cpp could not load /srv/parallax/models/"
                               "gone.gguf: bad magic. Fix: parallax models pull gone"),
        "far": fake(fail="model 'far': cannot reach http://10.1.2.3:8080/v1 (ConnectError)"),
    }
    h = await start_harness(tmp_path, backends)
    try:
        await ask_private(h, "What is the capital of France?")
        texts = [m.text for m in h.api.sent(USER)]
        shown = "\n".join(texts)
        assert "could not load" in shown and "cannot reach" in shown  # what happened, said
        for secret in ("/srv", "parallax/models", "gone.gguf", "http://", "10.1.2.3",
                       "models pull"):
            assert secret not in shown, secret
        # the operator still has the whole message, in the database
        errors = [r[0] for r in sqlite3.connect(tmp_path / "tg.sqlite3").execute(
            "SELECT error FROM answers WHERE error IS NOT NULL")]
        assert any("/srv/parallax/models/gone.gguf" in e for e in errors)
    finally:
        await stop_harness(h)


async def test_the_running_bot_keeps_a_heartbeat_for_health_checks(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    beat = tmp_path / "run" / "heartbeat"
    h = await start_harness(tmp_path, heartbeat_file=str(beat))
    try:
        await h.until(beat.exists, timeout=10)
        env = {"PARALLAX_HEARTBEAT_FILE": str(beat), "PARALLAX_CONFIG": ""}
        ok = CliRunner().invoke(cli, ["health"], env=env)
        assert ok.exit_code == 0 and "ok" in ok.output
        beat.write_text("1000\n")  # a bot that stopped beating long ago
        stale = CliRunner().invoke(cli, ["health"], env=env)
        assert stale.exit_code == 1 and "old" in stale.output
    finally:
        await stop_harness(h)
    missing = CliRunner().invoke(cli, ["health"], env={"PARALLAX_HEARTBEAT_FILE": str(
        tmp_path / "none"), "PARALLAX_CONFIG": ""})
    assert missing.exit_code == 1 and "is `parallax bot` running" in missing.output
