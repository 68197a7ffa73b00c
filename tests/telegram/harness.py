"""Harness: the real python-telegram-bot Application against the Bot API test server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_bot_api import FakeBotAPI
from fakes import FakeBackend, fake, fake_pipeline

from bot.config import load_settings
from bot.frontends.telegram.app import build_application
from bot.pipeline import Pipeline

OPERATOR = 42
_WORDS = ("art bread cinema dance fashion gardens history islands jazz kings lace music novels "
          "opera painting quays rivers science theatre universities velvet wine bridges cafes "
          "markets museums parks poetry sculpture silk stations towers trade squares libraries "
          "bakeries cathedrals festivals fountains harbours").split()
#: varied text, streamed word by word over about 2 s: a loop would be judged degenerate, and
#: one sentence said forty times with a new number each time is a loop (judge.loop_share)
ANSWER_ALPHA = [f"Paris{i} is the capital of {_WORDS[i]} and {_WORDS[(i + 7) % 40]}. "
                for i in range(40)]
ANSWER_BETA = [f"Lyon{i} was known for {_WORDS[(i + 3) % 40]} and {_WORDS[(i + 11) % 40]}. "
               for i in range(40)]


@dataclass
class Harness:
    api: FakeBotAPI
    app: object
    pipeline: Pipeline
    backends: dict[str, FakeBackend]

    async def until(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("timed out waiting for the bot")

    def summary(self, chat_id: int):
        return next((m for m in reversed(self.api.sent(chat_id)) if m.reply_markup
                     and "inline_keyboard" in m.reply_markup
                     and any(b["callback_data"].startswith("w:")
                             for row in m.reply_markup["inline_keyboard"] for b in row)), None)

    def idle(self) -> bool:
        svc = self.app.bot_data["parallax"]  # type: ignore[attr-defined]
        return svc.jobs.running is None and not svc.jobs.queue


async def start_harness(tmp_path: Path, backends: dict[str, FakeBackend] | None = None,
                        pipeline: Pipeline | None = None, **settings_kw: object) -> Harness:
    api = FakeBotAPI().start()
    settings = load_settings(None, env={}, database=tmp_path / "tg.sqlite3",
                             telegram_token=api.token, telegram_base_url=api.base_url,
                             operators=str(OPERATOR), **settings_kw)
    if pipeline is None:
        backends = backends or {"alpha": fake(delay=0.05, chunks=ANSWER_ALPHA),
                                "beta": fake(delay=0.05, chunks=ANSWER_BETA)}
        pipeline = await fake_pipeline(settings, backends)
    app = build_application(settings, pipeline)
    await app.initialize()
    await app.post_init(app)  # type: ignore[misc]
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)  # type: ignore[union-attr]
    return Harness(api, app, pipeline, backends or {})


async def stop_harness(h: Harness) -> None:
    app = h.app
    await app.updater.stop()  # type: ignore[attr-defined]
    await app.stop()  # type: ignore[attr-defined]
    await app.post_stop(app)  # type: ignore[attr-defined]
    await app.post_shutdown(app)  # type: ignore[attr-defined]
    await app.shutdown()  # type: ignore[attr-defined]
    await h.pipeline.close()
    h.api.stop()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await start_harness(tmp_path)
    yield h
    await stop_harness(h)
