"""Nothing lost: a real ``parallax bot`` process killed with SIGKILL while it streams an answer
finishes, once started again on the same database, the questions it had accepted, in the same
chats (real SmolLM2, the Bot API test server on 127.0.0.1)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fake_bot_api import FakeBotAPI
from support import require_real_model

from bot.config import PROJECT_ROOT

ASKER, WAITER = 700123457, 800654321
LONG = "Write a long essay about the history of Paris, France."
SECOND = "What is the capital of France?"


def start_bot(api: FakeBotAPI, db: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """``parallax bot`` in a process of its own. Answers of up to 600 tokens (SmolLM2 writes
    its essay for several seconds): time to kill it mid-answer, with a second question
    queued, however fast the machine."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PARALLAX_",
                                                                         "TELEGRAM_"))}
    environ.update(TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_BASE_URL=api.base_url,
                   PARALLAX_DB=str(db), PARALLAX_MODELS="smollm2-135m",
                   PARALLAX_MAX_TOKENS="600", PARALLAX_THREADS="2", **env)
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", "bot"], cwd=PROJECT_ROOT,
                                env=environ, stdout=out, stderr=subprocess.STDOUT)


def wait(predicate, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the bot exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"timed out; the bot's log:\n{log.read_text()[-3000:]}")


def summaries(api: FakeBotAPI, chat: int) -> list[str]:
    return [m.text for m in api.sent(chat) if "Verdicts" in m.text]


def db_rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_bot_killed_mid_answer_finishes_its_questions_after_a_restart(tmp_path: Path) -> None:
    require_real_model("smollm2-135m")
    api = FakeBotAPI().start()
    db, log = tmp_path / "bot.sqlite3", tmp_path / "bot.log"
    bot = start_bot(api, db, log)
    try:
        api.send_text(ASKER, ASKER, LONG, language_code="en")
        # streaming has begun: the answer's message exists and was edited at least once
        wait(lambda: any(m.text.startswith("SmolLM2") and m.edits for m in api.sent(ASKER)),
             180, bot, log)
        api.send_text(WAITER, WAITER, SECOND, language_code="en")
        wait(lambda: any("number 2 in the queue" in m.text for m in api.sent(WAITER)), 30,
             bot, log)
        bot.kill()  # SIGKILL: no clean-up of any kind
        bot.wait()
        assert not summaries(api, ASKER) and not summaries(api, WAITER)

        # the database survived, and remembers both questions
        assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
        jobs = db_rows(db, "SELECT question_id IS NOT NULL FROM jobs ORDER BY id")
        assert jobs == [(1,), (0,)]  # the one being answered, the one waiting
        raw = db_rows(db, "SELECT sealed FROM jobs")
        for (sealed,) in raw:  # delivery details are sealed, no id or text in the clear
            assert str(ASKER).encode() not in sealed and b"Paris" not in sealed
            assert b"chat_id" not in sealed

        bot = start_bot(api, db, log)
        wait(lambda: summaries(api, ASKER) and summaries(api, WAITER), 240, bot, log)
        asker = [m.text for m in api.sent(ASKER)]
        assert any("restarted while it was answering" in t for t in asker)
        assert len(summaries(api, ASKER)) == 1 and len(summaries(api, WAITER)) == 1
        # one stored question each, answered under the id it had before the kill
        rows = db_rows(db, "SELECT text, status, (SELECT count(*) FROM answers a"
                           " WHERE a.question_id = q.id) FROM questions q ORDER BY id")
        assert rows == [(LONG, "done", 1), (SECOND, "done", 1)]
        wait(lambda: not db_rows(db, "SELECT id FROM jobs"), 10, bot, log)
    finally:
        stop(bot)
        api.stop()
    text = log.read_text()
    assert api.token not in text and "Traceback" not in text


def test_with_on_restart_tell_the_asker_is_told_and_the_waiting_question_answered(
        tmp_path: Path) -> None:
    require_real_model("smollm2-135m")
    api = FakeBotAPI().start()
    db, log = tmp_path / "bot.sqlite3", tmp_path / "bot.log"
    bot = start_bot(api, db, log, PARALLAX_ON_RESTART="tell")
    try:
        api.send_text(ASKER, ASKER, LONG, language_code="fr")
        wait(lambda: any(m.text.startswith("SmolLM2") for m in api.sent(ASKER)), 180, bot, log)
        api.send_text(WAITER, WAITER, SECOND, language_code="en")
        wait(lambda: any("number 2 in the queue" in m.text for m in api.sent(WAITER)), 30,
             bot, log)
        bot.kill()
        bot.wait()
        bot = start_bot(api, db, log, PARALLAX_ON_RESTART="tell")
        wait(lambda: summaries(api, WAITER), 240, bot, log)
        wait(lambda: any("interrompue" in m.text for m in api.sent(ASKER)), 30, bot, log)
        assert not summaries(api, ASKER)
        assert db_rows(db, "SELECT status FROM questions ORDER BY id") == [("interrupted",),
                                                                           ("done",)]
    finally:
        stop(bot)
        api.stop()


def test_a_sealed_job_opens_only_with_its_key_and_on_its_own_row() -> None:
    from bot.frontends.telegram.jobs import Job, Sealer, SealError

    job = Job(chat_id=-100123456789, chat_type="supergroup", user_id=ASKER, text="六四？",
              ui="zh", reply_to=55, models=["smollm2-135m"], profile="neutral")
    sealer = Sealer(b"k" * 64)
    sealed = sealer.seal(job, "user-ref", "chat-ref")
    assert sealer.open(sealed, "user-ref", "chat-ref") == job
    assert "六四".encode() not in sealed and b"100123456789" not in sealed
    for bad in (lambda: Sealer(b"other key").open(sealed, "user-ref", "chat-ref"),
                lambda: sealer.open(sealed, "another-user", "chat-ref"),  # moved to a row
                lambda: sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "user-ref",
                                    "chat-ref"),
                lambda: sealer.open(b"plain text", "user-ref", "chat-ref")):
        try:
            bad()
        except SealError:
            continue
        raise AssertionError("a sealed job opened where it must not")
