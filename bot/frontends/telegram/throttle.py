"""Pacing Telegram sends and edits: by time, by size, within the per-chat limits.

Telegram allows about one edit a second per message and 20 messages a minute in a group (edits
included, shared by every model answering there), and answers ``RetryAfter`` past that. A
:class:`ChatPacer` keeps one chat's budget; a :class:`LiveMessage` is one streamed message:
intermediate edits are skipped when too soon, unchanged, or over budget, and the final text is
always delivered, waiting out any ``RetryAfter``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.frontends.telegram.render import plain

log = logging.getLogger(__name__)
T = TypeVar("T")

#: no faster than this between two edits of one message
EDIT_INTERVAL = 1.5
#: at least this much new text before an intermediate edit (besides the time rule)
MIN_NEW_CHARS = 12
#: a group's messages per minute, sends and edits together
GROUP_PER_MINUTE = 20
#: the longest wait between two tries of a request that must land, while Telegram answers
#: 5xx or times out (1, 2, 4 … seconds; the job's deadline bounds the whole)
MAX_BACKOFF = 30.0


def _seconds(retry_after: int | float | timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


class ChatGone(Exception):
    """The bot was blocked or the chat deleted: stop writing there."""


class ChatPacer:
    def __init__(self, per_minute: int | None, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self.paused_until = 0.0
        self.sent: deque[float] = deque()
        self.retry_afters = 0

    def _trim(self, now: float) -> None:
        while self.sent and now - self.sent[0] >= 60.0:
            self.sent.popleft()

    def wait_time(self, reserve: int = 0) -> float:
        """Seconds until one more request may go (0: now). ``reserve`` keeps room for finals."""
        now = self.clock()
        wait = max(0.0, self.paused_until - now)
        if self.per_minute is not None:
            self._trim(now)
            if len(self.sent) >= self.per_minute - reserve:
                idx = len(self.sent) - (self.per_minute - reserve)
                wait = max(wait, 60.0 - (now - self.sent[max(idx, 0)]) + 0.05)
        return wait

    def record(self) -> None:
        self.sent.append(self.clock())

    def pause(self, seconds: float) -> None:
        self.retry_afters += 1
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    async def call(self, fn: Callable[[], Awaitable[T]], *, must: bool) -> T | None:
        """Run one request within the budget. ``must``: wait and retry until it lands."""
        failures = 0
        while True:
            wait = self.wait_time()
            if wait > 0:
                if not must:
                    return None
                await asyncio.sleep(wait)
                continue
            self.record()
            try:
                return await fn()
            except RetryAfter as exc:
                self.pause(_seconds(exc.retry_after))
                log.info("RetryAfter %.1f s: every edit in this chat waits", self.wait_time())
                if not must:
                    return None
            except NetworkError as exc:
                # Telegram answering 5xx, a timeout, the connection down (TimedOut is one):
                # for a while, usually; what must land is tried again, less and less often
                if not must:
                    return None
                failures += 1
                delay = min(MAX_BACKOFF, 2.0 ** (failures - 1))
                log.warning("Telegram request failed (%s: %s); trying again in %g s",
                            type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
            except Forbidden as exc:
                raise ChatGone(str(exc)) from exc
            except BadRequest as exc:
                if "chat not found" in str(exc).lower():
                    raise ChatGone(str(exc)) from exc
                raise


class RateLimit:
    """At most ``limit`` events per ``window`` seconds for each key (a user): the first event
    over the limit is told so ("warn"), the others get nothing ("silent") until the window
    has room again."""

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.events: dict[object, deque[float]] = {}
        self.warned: set[object] = set()

    def check(self, key: object) -> str:
        now = self.clock()
        times = self.events.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            self.warned.discard(key)
            if len(self.events) > 10_000:  # forget idle keys
                for k in [k for k, v in self.events.items() if not v or now - v[-1] >= self.window]:
                    del self.events[k]
            return "ok"
        if key in self.warned:
            return "silent"
        self.warned.add(key)
        return "warn"


class LiveMessage:
    """One message that grows as a model streams, edited within the limits."""

    def __init__(self, bot: Bot, chat_id: int, pacer: ChatPacer, *,
                 reply_to: int | None = None, interval: float = EDIT_INTERVAL) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.pacer = pacer
        self.reply_to = reply_to
        self.interval = interval
        self.message: Message | None = None
        self.shown = ""
        self.last_edit = 0.0
        self.edits = 0

    async def start(self, text: str) -> None:
        self.message = await self.pacer.call(lambda: self._send(text), must=True)
        self.shown = text
        self.last_edit = self.pacer.clock()

    async def _send(self, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
        try:
            return await self.bot.send_message(self.chat_id, text, parse_mode=ParseMode.HTML,
                                               reply_to_message_id=self.reply_to,
                                               reply_markup=markup,
                                               disable_web_page_preview=True)
        except BadRequest as exc:
            if "parse" not in str(exc).lower():
                raise
            return await self.bot.send_message(self.chat_id, plain(text),
                                               reply_to_message_id=self.reply_to,
                                               reply_markup=markup)

    async def _edit(self, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        """True once the message shows ``text`` ("message is not modified" included)."""
        assert self.message is not None
        try:
            await self.bot.edit_message_text(
                text, self.chat_id, self.message.message_id, parse_mode=ParseMode.HTML,
                reply_markup=markup, disable_web_page_preview=True)
        except BadRequest as exc:
            msg = str(exc).lower()
            if "not modified" in msg:
                return True
            if "parse" not in msg:
                raise
            await self.bot.edit_message_text(plain(text), self.chat_id,
                                             self.message.message_id, reply_markup=markup)
        return True

    async def push(self, text: str) -> None:
        """An intermediate state: edited only if it is time, the text grew enough, and the
        chat's budget has room (keeping some for the final edits)."""
        if self.message is None or text == self.shown:
            return
        now = self.pacer.clock()
        if now - self.last_edit < self.interval or len(text) - len(self.shown) < MIN_NEW_CHARS:
            return
        if self.pacer.wait_time(reserve=4) > 0:
            return
        self.last_edit = now
        if await self.pacer.call(lambda: self._edit(text), must=False):
            self.shown = text
            self.edits += 1

    async def finish(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """The final text: always delivered (waits for the interval and any RetryAfter)."""
        if self.message is None:
            self.message = await self.pacer.call(lambda: self._send(text, markup), must=True)
            self.shown = text
            return
        if text == self.shown and markup is None:
            return
        wait = self.interval - (self.pacer.clock() - self.last_edit)
        if wait > 0:
            await asyncio.sleep(wait)
        await self.pacer.call(lambda: self._edit(text, markup), must=True)
        self.shown = text
        self.last_edit = self.pacer.clock()
        self.edits += 1
