"""Assemble the Telegram application: one place, the ``Application.builder()`` chain."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from pathlib import Path
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    filters,
)

from bot.config import Settings
from bot.errors import UnknownModelError
from bot.pipeline import Pipeline

from . import buttons, commands
from .queue import JobQueue
from .service import CONTEXT_TYPES, ParallaxBot, TelegramApp

log = logging.getLogger(__name__)


class RedactToken(logging.Filter):
    """Never let the bot token reach a log: python-telegram-bot and httpx put it in URLs."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.patterns = [re.escape(token)] if token else []
        self.patterns.append(r"bot\d{5,}:[A-Za-z0-9_-]{20,}")
        self.regex = re.compile("|".join(self.patterns))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.regex.sub("bot<token>", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            # a traceback quotes exception messages, which can hold the URL with the token:
            # format it now, redacted; handlers print exc_text as it is
            record.exc_text = self.regex.sub(
                "bot<token>", logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.regex.sub("bot<token>", record.stack_info)
        return True


_protected: set[str] = set()


def protect_logs(token: str) -> None:
    """Quiet the HTTP loggers and redact the token from every log record, whichever logger
    or handler it goes through: the record factory rewrites it as it is made."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    if token in _protected:
        return
    _protected.add(token)
    redact = RedactToken(token)
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact.filter(record)
        return record

    logging.setLogRecordFactory(factory)


def build_application(settings: Settings, pipeline: Pipeline) -> TelegramApp:
    token = settings.telegram_token.get()
    protect_logs(token)
    # model text is never a link preview, whichever message carries it
    builder = ApplicationBuilder().token(token).concurrent_updates(True).defaults(
        Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True))).context_types(
        CONTEXT_TYPES)
    if settings.telegram_base_url:
        base = settings.telegram_base_url.rstrip("/")
        builder = builder.base_url(base).base_file_url(base.replace("/bot", "/file/bot", 1))
    service = ParallaxBot(pipeline=pipeline, operators=frozenset(settings.operators),
                          id_key_file=settings.resolved_id_key_file)
    service.jobs = JobQueue(service, queue_limit=settings.queue_limit,
                            on_restart=settings.telegram_on_restart)

    async def post_init(app: TelegramApp) -> None:
        await service.jobs.recover(app)  # what a previous run accepted and did not deliver
        service.jobs.start_worker(app)
        await commands.register_commands(app)
        # the models load in the background, each in its own process: the bot answers
        # /start and /help at once, and a question asked meanwhile waits for its models
        app.bot_data["warming"] = asyncio.create_task(warm(pipeline, settings),
                                                      name="warm-models")
        app.bot_data["retention"] = asyncio.create_task(retention(pipeline, settings),
                                                        name="retention")
        if settings.heartbeat_file:
            app.bot_data["heartbeat"] = asyncio.create_task(
                heartbeat(settings.heartbeat_file), name="heartbeat")

    async def post_stop(app: TelegramApp) -> None:
        for name in ("warming", "retention", "heartbeat", "probe"):
            task = app.bot_data.get(name)
            if task is not None and not task.done():
                task.cancel()
        probe = app.bot_data.get("probe")
        if probe is not None:  # it tells its chat it stopped: a moment, while the bot can
            await asyncio.wait({probe}, timeout=5)

    async def post_shutdown(_app: TelegramApp) -> None:
        await service.jobs.stop_worker()

    app = builder.post_init(post_init).post_stop(post_stop).post_shutdown(post_shutdown).build()
    app.bot_data["parallax"] = service
    # new messages only: editing a question must not ask it again
    new = filters.UpdateType.MESSAGE
    for name in commands.COMMANDS:
        app.add_handler(CommandHandler(name, getattr(commands, f"cmd_{name}"), filters=new))
    for pattern, handler in buttons.PATTERNS:
        app.add_handler(CallbackQueryHandler(handler, pattern=pattern))
    app.add_handler(CallbackQueryHandler(buttons.on_unknown))
    app.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND, commands.on_text))
    app.add_error_handler(_on_error)
    return app


async def _on_error(update: object, context: object) -> None:
    error = getattr(context, "error", None)
    log.error("update failed: %s: %s", type(error).__name__, error)


async def heartbeat(path: Path, every: float = 10.0) -> None:
    """The bot's event loop is alive: the file's time is refreshed every ``every`` seconds (a
    container's health check reads its age: ``parallax health``)."""
    def beat() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{time.time():.0f}\n", encoding="ascii")

    while True:
        try:
            await asyncio.to_thread(beat)
        except OSError as exc:
            log.warning("heartbeat %s not written: %s", path, exc)
        await asyncio.sleep(every)


async def retention(pipeline: Pipeline, settings: Settings, every: float = 3600.0) -> None:
    """A long-running bot deletes expired questions every hour (the pipeline did at start)."""
    while settings.retention_days > 0:
        await asyncio.sleep(every)
        try:
            n = await pipeline.store.forget_older_than(settings.retention_days)
        except Exception as exc:  # a locked or full disk: said in the log, tried next hour
            log.error("retention failed: %s: %s", type(exc).__name__, exc)
        else:
            if n:
                log.info("retention: deleted %d questions older than %d days", n,
                         settings.retention_days)


async def warm(pipeline: Pipeline, settings: Settings) -> None:
    """Load the configured models ahead of the first question; log the ones that fail."""
    try:
        specs = pipeline.catalog.select(list(settings.models) or None)
    except UnknownModelError as exc:
        log.error("%s", exc)
        return
    errors = await pipeline.warm(specs)
    for model_id, err in errors.items():
        if err:
            log.warning("model %s unavailable: %s", model_id, err)
        else:
            log.info("model %s loaded", model_id)


#: what the bot asks Telegram for: messages and button presses, nothing else (no edits)
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


def webhook_options(settings: Settings) -> dict[str, Any]:
    """run_webhook/start_webhook arguments from the settings (webhook mode)."""
    from urllib.parse import urlparse

    host, _, port = settings.telegram_listen.rpartition(":")
    path = urlparse(settings.telegram_webhook_url).path.lstrip("/")
    # without a secret anyone who finds the URL can post forged updates (an operator's id
    # would receive /export): with none configured, a random one is registered for this run
    secret = settings.telegram_webhook_secret.get() or secrets.token_urlsafe(32)
    return {"listen": host or "127.0.0.1", "port": int(port), "url_path": path,
            "webhook_url": settings.telegram_webhook_url, "secret_token": secret}


def run_polling(settings: Settings) -> None:
    """`parallax bot`: load the models, then poll Telegram until interrupted — or, when
    ``telegram_webhook_url`` is set, serve Telegram's webhook on ``telegram_listen``."""
    protect_logs(settings.telegram_token.get())  # before anything can log

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pipeline = loop.run_until_complete(Pipeline.open(settings))
    app = build_application(settings, pipeline)
    try:
        if settings.telegram_webhook_url:
            app.run_webhook(allowed_updates=ALLOWED_UPDATES, close_loop=False,
                            **webhook_options(settings))
        else:
            app.run_polling(allowed_updates=ALLOWED_UPDATES, close_loop=False)
    finally:
        loop.run_until_complete(pipeline.close())
        loop.close()
