"""Notices (busy, one waiting, queue place) never wait in a handler and are never lost: while a
group's budget is spent they wait, and those that pile up leave as one message (before, a flood
of questions in a group lost its "busy" replies to 429s: benchmarks/telegram_load.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.frontends.telegram.notices import TURNED_AWAY, Notice, Notices
from bot.frontends.telegram.throttle import ChatPacer

GROUP = -100500


class RecordingBot:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, int | None]] = []

    async def send_message(self, chat_id: int, text: str, reply_to_message_id: int | None = None,
                           **_: Any) -> None:
        self.sent.append((chat_id, text, reply_to_message_id))


async def test_a_notice_goes_at_once_when_the_chat_has_room() -> None:
    bot, notices = RecordingBot(), Notices()
    notices.tell(bot, GROUP, ChatPacer(20), Notice("tg_queued", "en", 11, {"position": 2}))
    for _ in range(100):
        if notices.idle:
            break
        await asyncio.sleep(0.01)
    assert bot.sent == [(GROUP, "Your question is number 2 in the queue.", 11)]


async def test_notices_piling_up_in_a_spent_group_leave_as_one_message() -> None:
    now = [1000.0]
    pacer = ChatPacer(20, clock=lambda: now[0])
    for _ in range(20):  # the group's whole minute is spent on answers
        pacer.record()
    bot, notices = RecordingBot(), Notices()
    for i, (key, values) in enumerate([("tg_busy", {"waiting": 4, "seconds": 90}),
                                       ("tg_queued", {"position": 3}),
                                       ("tg_one_waiting", {}),
                                       ("tg_busy", {"waiting": 4, "seconds": 120})]):
        notices.tell(bot, GROUP, pacer, Notice(key, "fr", 100 + i, values))  # returns at once
    await asyncio.sleep(0.2)
    assert bot.sent == [] and not notices.idle  # waiting for room, not dropped
    now[0] += 61.0  # a minute later the budget has room again
    for _ in range(100):
        if notices.idle:
            break
        await asyncio.sleep(0.1)
    # the three not taken, told in one message (the stale queue place is left out), in the
    # asker's language, replying to the latest, with the latest wait
    assert bot.sent == [(GROUP, "Occupé : 3 questions posées ici à l'instant n'ont pas été "
                                "prises. Réessayez dans 120 s environ.", 103)]
    assert notices.merged == 3


async def test_questions_turned_away_in_a_spent_group_say_why_in_the_merged_message() -> None:
    now = [1000.0]
    pacer = ChatPacer(20, clock=lambda: now[0])
    for _ in range(20):
        pacer.record()
    bot, notices = RecordingBot(), Notices()
    unsupported = "Sorry, Parallax understands questions in English, French and Chinese only."
    for i, notice in enumerate([Notice(TURNED_AWAY, "en", None, text=unsupported),
                                Notice("tg_one_waiting", "en", None),
                                Notice(TURNED_AWAY, "en", None, text=unsupported),
                                Notice(TURNED_AWAY, "en", None, text="Please ask a question: "
                                                                     "the message is empty.")]):
        notice.reply_to = 200 + i
        notices.tell(bot, GROUP, pacer, notice)
    await asyncio.sleep(0.2)
    now[0] += 61.0
    for _ in range(100):
        if notices.idle:
            break
        await asyncio.sleep(0.1)
    # each reason once, then what was not taken — one question told as it is, not as "1
    # questions were not taken"; replying to the latest not taken
    assert bot.sent == [(GROUP, unsupported + "\n\nPlease ask a question: the message is empty."
                                "\n\nYou already have a question waiting: ask the next one "
                                "once it is answered.", 201)]
    assert notices.merged == 4
