"""Streaming one question's answers into its chat: one message per model, edited as the model
writes within the chat's budget (:mod:`throttle`), then a summary of the verdicts with the
buttons. The pipeline runs apart from delivery: a chat that cannot be written to slows only
its own messages, and the answers are stored regardless."""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ChatAction, ChatType, ParseMode

from bot.i18n import t
from bot.pipeline import Accepted, AnswerFinished, AnswerStarted, Judged, Rejected, Token

from .jobs import Job
from .render import BODY_LIMIT, answer_message, fit, html_pieces, summary_message
from .service import ParallaxBot, TelegramApp
from .throttle import ChatPacer, LiveMessage

log = logging.getLogger(__name__)
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "zh": "中文"}


async def deliver(svc: ParallaxBot, app: TelegramApp, job: Job) -> None:
    """Ask the job's question and stream its answers into its chat: one message per model,
    edited within the chat's budget, then the summary with its buttons."""
    bot = app.bot
    pacer = svc.pacer(job.chat_id, job.chat_type)
    lives: dict[str, LiveMessage] = {}
    texts: dict[str, str] = {}
    typing = asyncio.create_task(_typing(app, job.chat_id))
    chat_scope = await svc.chat_scope(job.chat_id)
    models = job.models
    profile = job.profile
    if job.chat_type != ChatType.PRIVATE:
        stored = await svc.store.get_setting(chat_scope, "models")
        models = models or (json.loads(stored) if stored else None)
        profile = profile or await svc.store.get_setting(chat_scope, "profile")
    else:
        profile = profile or await svc.store.get_setting(
            f"user:{await svc.ref('user', job.user_id)}", "profile")
    # the pipeline runs apart from delivery: a chat that cannot be written to (a long
    # flood-wait) slows only its own messages, and the answers are stored regardless
    events: asyncio.Queue[object] = asyncio.Queue()
    user_ref, chat_ref = await svc.ref("user", job.user_id), await svc.ref("chat",
                                                                            job.chat_id)

    if job.resumed:
        await pacer.call(lambda: bot.send_message(
            job.chat_id, t(job.ui, "tg_resumed"), reply_to_message_id=job.reply_to),
            must=True)

    async def produce() -> None:
        try:
            async for e in svc.pipeline.ask(job.text, models=models, profile=profile,
                                             source="telegram", user_ref=user_ref,
                                             chat_ref=chat_ref, ui_language=job.ui,
                                             job_id=job.job_id, resume=job.question_id):
                events.put_nowait(e)
        finally:
            events.put_nowait(None)

    producer = asyncio.create_task(produce(), name=f"ask-{chat_ref[:8]}")
    try:
        while (event := await events.get()) is not None:
            match event:
                case Rejected():
                    await pacer.call(partial(bot.send_message, job.chat_id, event.message,
                                             reply_to_message_id=job.reply_to), must=True)
                case Accepted():
                    for note in event.notes:
                        await pacer.call(partial(bot.send_message, job.chat_id, note,
                                                 reply_to_message_id=job.reply_to), must=True)
                case AnswerStarted():
                    live = LiveMessage(bot, job.chat_id, pacer, reply_to=job.reply_to)
                    lives[event.model.id] = live
                    texts[event.model.id] = ""
                    await live.start(answer_message(job.ui, event.model, "",
                                                    streaming=True))
                case Token():
                    if event.restart:  # another endpoint answers from the start
                        texts[event.model_id] = ""
                    texts[event.model_id] += event.text
                    live = lives[event.model_id]
                    await live.push(answer_message(job.ui, event.model, texts[event.model_id],
                                                   streaming=True))
                case AnswerFinished():
                    a = event.answer
                    await lives[a.model.id].push(answer_message(job.ui, a.model, a.text))
                case Judged():
                    await _finish(svc, app, job, event, lives, pacer)
        await producer  # its errors surface here
    finally:
        typing.cancel()
        if not producer.done():  # delivery ended early: the models finish, answers stored
            try:
                await asyncio.shield(producer)
            except asyncio.CancelledError:
                producer.cancel()  # cancelled again: the bot is stopping
                raise

async def _finish(svc: ParallaxBot, app: TelegramApp, job: Job, judged: Judged,
                  lives: dict[str, LiveMessage], pacer: ChatPacer) -> None:
    bot = app.bot
    for a in judged.answers:
        live = lives[a.model.id]
        await live.finish(answer_message(job.ui, a.model, a.text, a))
        rest = fit(a.text.strip(), BODY_LIMIT)[1]
        if rest:  # the rest of a long answer, in more messages
            anchor = live.message.message_id if live.message else None
            for piece in html_pieces(rest, 4000):
                await pacer.call(partial(bot.send_message, job.chat_id, piece,
                                         parse_mode=ParseMode.HTML, reply_to_message_id=anchor),
                                 must=True)
    rows = []
    for a in judged.answers:
        if a.answer_id is None:
            continue
        row = [InlineKeyboardButton(t(job.ui, "tg_wrong_button", model=a.model.name)[:60],
                                    callback_data=f"w:{a.answer_id}")]
        if a.thinking:
            row.append(InlineKeyboardButton(
                t(job.ui, "tg_thinking_button", model=a.model.name)[:60],
                callback_data=f"t:{a.answer_id}"))
        rows.append(row)
    rows.append([InlineKeyboardButton(t(job.ui, "tg_card_button"),
                                      callback_data=f"c:{judged.question_id}")])
    found = svc.pipeline.prompts.find_question(judged.question)
    if found is not None:
        prepared, lang = found
        rows.append([InlineKeyboardButton(t(job.ui, "tg_same_in",
                                            language=LANGUAGE_NAMES[other]),
                                          callback_data=f"q:{prepared.id}:{other}")
                     for other in ("zh", "en", "fr") if other != lang
                     and other in prepared.texts])
    summary = LiveMessage(bot, job.chat_id, pacer, reply_to=job.reply_to)
    await summary.finish(summary_message(job.ui, judged.question, list(judged.answers)),
                         InlineKeyboardMarkup(rows) if rows else None)

async def _typing(app: TelegramApp, chat_id: int) -> None:
    try:
        while True:
            await app.bot.send_chat_action(chat_id, ChatAction.TYPING)
            await asyncio.sleep(4.5)
    except Exception as exc:  # only the typing indicator stops; the answers go on
        log.debug("typing indicator stopped: %r", exc)
