"""What every handler of the bot shares: the pipeline, people's and chats' references, the
interface language, each chat's pacing, the queue. One :class:`ParallaxBot` is kept in
``application.bot_data["parallax"]``; handlers reach it as ``context.parallax``
(:class:`ParallaxContext`, python-telegram-bot's typed custom context)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.i18n import LANGUAGES
from bot.lang import detect
from bot.pipeline import Pipeline
from bot.store import Store

from .jobs import Sealer
from .throttle import GROUP_PER_MINUTE, ChatPacer, RateLimit

if TYPE_CHECKING:
    from .queue import JobQueue

#: command replies one user may get a minute
COMMANDS_PER_MINUTE = 6


@dataclass
class ParallaxBot:
    """Everything the handlers share, kept in ``application.bot_data["parallax"]``."""

    pipeline: Pipeline
    operators: frozenset[int]
    id_key_file: Path | None = None
    pacers: dict[int, ChatPacer] = field(default_factory=dict)
    command_limit: RateLimit = field(default_factory=lambda: RateLimit(COMMANDS_PER_MINUTE))
    #: the questions waiting and the one being answered (bot/frontends/telegram/queue.py)
    jobs: JobQueue = field(init=False)
    _salt: bytes = b""
    _key_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _sealer: Sealer | None = None
    _pressed: dict[tuple[int, int, str], None] = field(default_factory=dict)

    def first_press(self, chat_id: int, message_id: int, data: str) -> bool:
        """True the first time a button of a message is pressed (the last 10,000 kept)."""
        key = (chat_id, message_id, data)
        if key in self._pressed:
            return False
        self._pressed[key] = None
        while len(self._pressed) > 10_000:
            del self._pressed[next(iter(self._pressed))]
        return True

    @property
    def store(self) -> Store:
        return self.pipeline.store

    # -- identity -------------------------------------------------------------------------------
    async def ref(self, kind: str, number: int) -> str:
        """An anonymous, stable reference: HMAC of the id with a key kept outside the database
        (``id_key_file``), so a copied database does not reveal who asked what."""
        if not self._salt:
            async with self._key_lock:  # updates are handled concurrently: one creates it
                if not self._salt:
                    self._salt = await self._load_key()
        return hmac.new(self._salt, f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()[:32]

    async def chat_scope(self, chat_id: int) -> str:
        """A group's settings scope: its reference, never its Telegram id."""
        return f"chat:{await self.ref('chat', chat_id)}"

    async def rekey_chat_settings(self) -> int:
        """Settings stored by older versions under a group's raw Telegram id move to its
        reference (at start); returns how many groups moved."""
        moved = 0
        for scope in await self.store.setting_scopes("chat:"):
            raw = scope.removeprefix("chat:")
            if raw.lstrip("-").isdigit():
                await self.store.move_scope(scope, await self.chat_scope(int(raw)))
                moved += 1
        return moved

    async def sealer(self) -> Sealer:
        if self._sealer is None:
            await self.ref("key", 0)  # loads (or creates) the key
            self._sealer = Sealer(self._salt)
        return self._sealer

    async def _load_key(self) -> bytes:
        path = self.id_key_file
        if path is None:
            raise RuntimeError("no id_key_file configured")
        if path.exists():
            return path.read_text(encoding="ascii").strip().encode()
        # a database from before the key file kept the key inside: move it out, so that the
        # references already stored stay the same
        key = await self.store.get_setting("global", "user_salt") or secrets.token_hex(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key + "\n")
        await self.store.set_setting("global", "user_salt", None)
        return key.encode()

    async def ui_language(self, update: Update, text: str | None = None) -> str:
        user = update.effective_user
        if user is not None:
            chosen = await self.store.get_setting(f"user:{await self.ref('user', user.id)}",
                                                  "language")
            if chosen in LANGUAGES:
                return chosen
            code = (user.language_code or "").split("-")[0]
            if code in LANGUAGES:
                return code
        if text:
            lang = detect(text)
            if lang.supported:
                return lang.code
        return "en"

    def pacer(self, chat_id: int, chat_type: str) -> ChatPacer:
        if chat_id not in self.pacers:
            group = chat_type in (ChatType.GROUP, ChatType.SUPERGROUP)
            self.pacers[chat_id] = ChatPacer(GROUP_PER_MINUTE if group else None)
        return self.pacers[chat_id]


class ParallaxContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any],
                                      dict[Any, Any]]):
    """The handlers' context: ``context.parallax`` is the bot's shared services."""

    @property
    def parallax(self) -> ParallaxBot:
        svc: ParallaxBot = self.application.bot_data["parallax"]
        return svc


CONTEXT_TYPES = ContextTypes(context=ParallaxContext)
#: the bot's Application (python-telegram-bot's generic parameters: bot, context, user, chat
#: and bot data, job queue; none of which Parallax's code depends on)
TelegramApp = Application[Any, Any, Any, Any, Any, Any]
