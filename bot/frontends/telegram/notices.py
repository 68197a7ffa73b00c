"""Telling askers what became of their question — busy, one already waiting, its place in the
queue, turned away (empty, unsupported language) — without ever making a handler wait, and
without losing the telling.

A handler hands the notice over and returns. One sender per chat delivers them within the
chat's budget (:class:`ChatPacer`, which waits out ``RetryAfter``). In a group, Telegram allows
20 messages a minute for everything, answers included: a flood of questions there would spend
the whole budget on "busy" replies (measured with ``benchmarks/telegram_load.py``: 8 of 120
questions were never told anything, their replies refused with 429). So while the group's
budget is spent, notices wait, and those that pile up leave as one message ("Busy: 7 questions
were not taken…"), keeping the room answers need. Every notice is delivered or merged, none is
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from functools import partial

from telegram import Bot

from bot.i18n import t

from .throttle import ChatGone, ChatPacer

log = logging.getLogger(__name__)

#: a group's messages a minute that notices leave to the answers being streamed
RESERVE = 8
#: the notices that say a question was not taken (what a merged notice counts)
NOT_TAKEN = ("tg_busy", "tg_one_waiting")
#: the notice of a question turned away before the queue (empty, unsupported language): its
#: text is the pipeline's own message
TURNED_AWAY = "turned_away"


@dataclass
class Notice:
    key: str  # an i18n key
    ui: str
    reply_to: int | None
    values: dict[str, object] = field(default_factory=dict)
    text: str | None = None  # said as it is, instead of the key's text (a question turned away)

    def say(self) -> str:
        return self.text if self.text is not None else t(self.ui, self.key, **self.values)


class Notices:
    def __init__(self) -> None:
        self._pending: dict[int, list[Notice]] = {}
        self._senders: dict[int, asyncio.Task[None]] = {}
        self.merged = 0  # notices sent as part of a merged one (for the log and tests)

    @property
    def idle(self) -> bool:
        """Nothing left to tell."""
        return not any(self._pending.values()) and all(t.done() for t in self._senders.values())

    def tell(self, bot: Bot, chat_id: int, pacer: ChatPacer, notice: Notice) -> None:
        """Queue ``notice`` for the chat; returns at once."""
        self._pending.setdefault(chat_id, []).append(notice)
        task = self._senders.get(chat_id)
        if task is None or task.done():
            self._senders[chat_id] = asyncio.create_task(self._send(bot, chat_id, pacer),
                                                         name=f"notices-{len(self._senders)}")

    async def _send(self, bot: Bot, chat_id: int, pacer: ChatPacer) -> None:
        try:
            while self._pending.get(chat_id):
                reserve = RESERVE if pacer.per_minute is not None else 0
                while (wait := pacer.wait_time(reserve=reserve)) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(min(wait, 5.0))  # the budget frees with time
                batch = self._pending.pop(chat_id, [])
                if not batch:
                    break
                text, reply_to = self._text(batch)
                if text:
                    await pacer.call(partial(bot.send_message, chat_id, text,
                                             reply_to_message_id=reply_to), must=True)
        except ChatGone:
            self._pending.pop(chat_id, None)
        except Exception:
            log.exception("notices could not be sent")
        finally:
            with contextlib.suppress(KeyError):
                if self._senders[chat_id] is asyncio.current_task():
                    del self._senders[chat_id]

    def _text(self, batch: list[Notice]) -> tuple[str, int | None]:
        if len(batch) == 1:
            n = batch[0]
            return n.say(), n.reply_to
        # several piled up while the chat's budget was spent: one message says it all. A
        # queue position is stale by now; what was not taken is counted, with the latest
        # wait, after why questions were turned away (each reason once)
        not_taken = [n for n in batch if n.key in NOT_TAKEN]
        turned_away = [n for n in batch if n.key == TURNED_AWAY]
        parts = list(dict.fromkeys(n.say() for n in turned_away))
        if len(not_taken) == 1:  # told as it is, not as "1 questions were not taken"
            parts.append(not_taken[0].say())
        elif not_taken:
            last = not_taken[-1]
            busy = [n for n in not_taken if n.key == "tg_busy"]
            seconds = busy[-1].values.get("seconds", 60) if busy else 60
            parts.append(t(last.ui, "tg_not_taken", count=len(not_taken), seconds=seconds))
        if not parts:
            return "", None
        self.merged += len(not_taken) + len(turned_away)
        last_told = (not_taken or turned_away)[-1]
        return "\n\n".join(parts), last_told.reply_to

    async def close(self) -> None:
        tasks = list(self._senders.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
