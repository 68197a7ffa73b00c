"""Pictures in Telegram: ``/probe`` (operators) runs the censorship map and posts it, ``/card``
and the picture button draw one question's comparison.

``/probe [models] [languages] [topics] [stop]``: each word is a model id, a language (en, fr,
zh), a battery topic (or ``sensitive`` / ``control``), or ``stop``. One probe at a time, in the
background: before each of its questions it waits until no live question is waiting or being
answered, so people's questions never wait for more than the probe question being asked. It
edits one progress message (every few seconds at most, within the chat's budget), then posts
the heat map and the double-standard chart as photos and the report as a document, in the
operator's interface language. A run stopped by a restart goes on at the next ``/probe`` with
the same words (the run is named after its plan, bot/probe.py).

Pictures are drawn in a thread (matplotlib, off the event loop), one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from telegram import InputFile, Update
from telegram.constants import ChatType

from bot.errors import ParallaxError
from bot.i18n import t
from bot.prompts import BATTERY_LANGUAGES

from .service import ParallaxBot, ParallaxContext, TelegramApp

log = logging.getLogger(__name__)

#: seconds between two edits of the progress message (Telegram: ≥ 1.5 s between edits of a
#: message, and a group's 20 messages a minute are shared)
PROGRESS_EVERY = 6.0
_DRAW = threading.Lock()
T = TypeVar("T")


async def draw(fn: Callable[..., T], *args: Any) -> T:
    """Run a drawing function in a thread, one drawing at a time (pyplot is not
    thread-safe), so the bot keeps answering meanwhile."""
    def locked() -> T:
        with _DRAW:
            return fn(*args)
    return await asyncio.to_thread(locked)


def _operator(update: Update, svc: ParallaxBot) -> bool:
    return update.effective_user is not None and update.effective_user.id in svc.operators


def parse_probe_words(words: list[str], model_ids: set[str],
                      topics: set[str]) -> dict[str, list[str]]:
    """Sort /probe's words into models, languages and topics; raise on a word that is none."""
    out: dict[str, list[str]] = {"models": [], "languages": [], "topics": []}
    for word in (w.strip().lower() for item in words for w in item.split(",")):
        if not word:
            continue
        if word in model_ids:
            out["models"].append(word)
        elif word in BATTERY_LANGUAGES:
            out["languages"].append(word)
        elif word in topics or word in ("sensitive", "control"):
            out["topics"].append(word)
        else:
            raise ParallaxError(word)
    return out


async def cmd_probe(update: Update, context: ParallaxContext) -> None:
    from bot.probe import make_plan

    from .commands import _reply

    svc = context.parallax
    ui = await svc.ui_language(update)
    chat = update.effective_chat
    if chat is None or update.effective_message is None:
        return
    if not _operator(update, svc):
        await _reply(update, context, t(ui, "tg_operators_only"))
        return
    words = list(context.args or [])
    running: asyncio.Task[None] | None = context.application.bot_data.get("probe")
    if words == ["stop"]:
        if running is not None and not running.done():
            running.cancel()
            await _reply(update, context, t(ui, "tg_probe_stopping"))
        else:
            await _reply(update, context, t(ui, "tg_probe_none"))
        return
    if running is not None and not running.done():
        await _reply(update, context, t(ui, "tg_probe_busy"))
        return
    pipeline = svc.pipeline
    try:
        chosen = parse_probe_words(words, {m.id for m in pipeline.catalog.models},
                                   set(pipeline.prompts.topics()))
    except ParallaxError as exc:
        await _reply(update, context, t(ui, "tg_probe_usage", word=str(exc),
                                        topics=", ".join(pipeline.prompts.topics())))
        return
    try:
        plan = await make_plan(pipeline, models=chosen["models"],
                               languages=chosen["languages"], topics=chosen["topics"])
    except ParallaxError as exc:
        await _reply(update, context, str(exc))
        return
    pacer = svc.pacer(chat.id, chat.type)
    message = await pacer.call(partial(
        context.bot.send_message, chat.id,
        t(ui, "tg_probe_started", name=plan.name, questions=len(plan.questions),
          languages=len(plan.languages), models=len(plan.models), total=plan.total)),
        must=True)
    if message is None:  # the chat is gone or its budget is spent: nothing to edit
        return
    task = asyncio.create_task(_run_probe(svc, context.application, plan, chat.id, chat.type,
                                          message.message_id, ui), name="probe")
    context.application.bot_data["probe"] = task


async def _run_probe(svc: ParallaxBot, app: TelegramApp, plan: Any, chat_id: int,
                     chat_type: str, message_id: int, ui: str) -> None:
    from bot.probe import CellDone, Probe, ProbeFinished, ProbeStarted
    from bot.report import load_run, write_outputs

    bot = app.bot
    pacer = svc.pacer(chat_id, chat_type)
    shown = ""
    last_edit = 0.0

    async def edit(text: str, must: bool = False) -> None:
        nonlocal shown, last_edit
        if text == shown:  # an edit that changes nothing is refused by Telegram
            return
        shown, last_edit = text, time.monotonic()
        await pacer.call(partial(bot.edit_message_text, text, chat_id=chat_id,
                                 message_id=message_id), must=must)

    finished: ProbeFinished | None = None
    try:
        async for event in Probe(svc.pipeline, plan, between=svc.jobs.wait_quiet).events():
            if isinstance(event, ProbeStarted | CellDone):
                done = event.done
                eta = getattr(event, "eta_seconds", None)
                if time.monotonic() - last_edit >= PROGRESS_EVERY and \
                        pacer.wait_time(reserve=4) == 0:
                    left = "" if eta is None else t(ui, "tg_probe_left",
                                                    minutes=max(1, round(eta / 60)))
                    await edit(t(ui, "tg_probe_progress", name=plan.name, done=done,
                                 total=plan.total, left=left))
            elif isinstance(event, ProbeFinished):
                finished = event
        assert finished is not None
        data = await load_run(svc.store, svc.pipeline.prompts, finished.run_id)
        folder = Path(tempfile.mkdtemp(prefix="parallax-probe-"))
        outputs = await draw(write_outputs, data, folder, ui)
        await edit(t(ui, "tg_probe_done", name=plan.name, done=finished.done,
                     total=finished.total, errors=finished.errors), must=True)
        for path, caption in ((outputs.heatmap, "chart_heatmap_title"),
                              (outputs.double_standard, "chart_double_standard_title")):
            await pacer.call(partial(bot.send_photo, chat_id,
                                     InputFile(path.read_bytes(), filename=path.name),
                                     caption=t(ui, caption)[:1024]), must=True)
        await pacer.call(partial(bot.send_document, chat_id,
                                 InputFile(outputs.report.read_bytes(),
                                           filename=f"{plan.name}.html"),
                                 caption=t(ui, "report_title", name=plan.name)[:1024]),
                         must=True)
    except asyncio.CancelledError:
        # it must land (a RetryAfter right after a progress edit is waited out); a bot that is
        # stopping gives it a few seconds (app.py, post_stop)
        await asyncio.shield(edit(t(ui, "tg_probe_stopped", name=plan.name), must=True))
        raise
    except Exception:
        log.exception("probe %s failed", plan.name)
        await edit(t(ui, "tg_probe_failed", name=plan.name), must=True)


# -- one question's card ----------------------------------------------------------------------
async def _send_card(svc: ParallaxBot, bot: Any, chat_id: int, chat_type: str,
                     question_id: int, ui: str, reply_to: int | None) -> bool:
    from bot.charts import card, columns_from_rows

    found = await svc.store.question_in_chat(question_id, await svc.ref("chat", chat_id))
    if found is None:
        return False
    question, answers = found
    columns = columns_from_rows(answers, svc.pipeline.catalog)
    chart = await draw(card, question["text"], columns, ui)
    pacer = svc.pacer(chat_id, chat_type)
    await pacer.call(partial(bot.send_photo, chat_id,
                             InputFile(chart.png, filename="parallax.png"),
                             reply_to_message_id=reply_to), must=True)
    return True


async def on_card(update: Update, context: ParallaxContext) -> None:
    """``c:<question id>``: the question's comparison as one picture, in this chat."""
    svc = context.parallax
    query = update.callback_query
    assert query is not None and query.data is not None
    ui = await svc.ui_language(update)
    rest = query.data.partition(":")[2]
    if not rest.isdigit() or query.message is None:
        await query.answer()
        return
    if not svc.first_press(query.message.chat.id, query.message.message_id, query.data):
        await query.answer()
        return
    await query.answer(t(ui, "tg_card_drawing"))
    chat = query.message.chat
    if not await _send_card(svc, context.bot, chat.id, chat.type, int(rest), ui,
                            query.message.message_id):
        await context.bot.send_message(chat.id, t(ui, "tg_gone_question"))


async def cmd_card(update: Update, context: ParallaxContext) -> None:
    """The picture of the latest question answered in this chat."""
    from .commands import _reply

    svc = context.parallax
    ui = await svc.ui_language(update)
    chat, msg = update.effective_chat, update.effective_message
    if chat is None or msg is None:
        return
    latest = await svc.store.latest_answered_in_chat(await svc.ref("chat", chat.id))
    if latest is None:
        await _reply(update, context, t(ui, "tg_card_none"))
        return
    await _send_card(svc, context.bot, chat.id, chat.type, latest, ui,
                     msg.message_id if chat.type != ChatType.PRIVATE else None)
