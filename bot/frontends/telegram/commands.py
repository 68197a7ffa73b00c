"""The bot's commands and questions: what people type. Thin over the pipeline and the store.

A command replies now or not at all (``_reply``); a question becomes a :class:`Job` in the
queue (bot/frontends/telegram/queue.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ChatType, ParseMode

from bot.errors import StorageError
from bot.i18n import LANGUAGES, t
from bot.present import country_name

from .jobs import Job
from .notices import TURNED_AWAY
from .render import esc
from .service import ParallaxBot, ParallaxContext, TelegramApp

log = logging.getLogger(__name__)

#: a group's messages a minute that command replies leave to the answers being streamed
ANSWER_RESERVE = 8
COMMANDS = ("start", "help", "ask", "models", "profile", "language", "forget", "card", "stats",
            "export", "probe")


async def _reply(update: Update, context: ParallaxContext, text: str,
                 **kwargs: Any) -> None:
    """Answer a command now or not at all: a handler never waits for a chat's budget (300
    /help in a group would otherwise hold every update slot while the group's 20 messages a
    minute trickle out, and nobody else would get an answer). A user past COMMANDS_PER_MINUTE
    is told once to slow down, then not answered; a reply that does not fit the chat's budget
    now, keeping room for the answers being streamed, is dropped."""
    msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if msg is None or chat is None:
        return
    svc = context.parallax
    verdict = svc.command_limit.check(user.id if user else chat.id)
    if verdict == "silent":
        return
    if verdict == "warn":
        text, kwargs = t(await svc.ui_language(update), "tg_slow_down"), {}
    pacer = svc.pacer(chat.id, chat.type)
    if pacer.wait_time(reserve=ANSWER_RESERVE) > 0:
        log.debug("a command reply was dropped: the chat's budget is spent")
        return
    await pacer.call(lambda: msg.reply_text(text, **kwargs), must=False)


async def on_text(update: Update, context: ParallaxContext) -> None:
    """A question: any text in a private chat; in a group a mention or a reply to the bot."""
    msg = update.effective_message
    chat = update.effective_chat
    if msg is None or chat is None or update.effective_user is None or not msg.text:
        return
    text = msg.text
    if chat.type != ChatType.PRIVATE:
        me = context.bot.username or ""
        mention = f"@{me}".lower()
        replied = (msg.reply_to_message is not None and msg.reply_to_message.from_user
                   is not None and msg.reply_to_message.from_user.id == context.bot.id)
        if mention and mention in text.lower():
            text = text.replace(f"@{me}", " ").replace(mention, " ").strip()
        elif not replied:
            return  # other chatter
    await _ask(update, context, text)


async def _ask(update: Update, context: ParallaxContext, text: str) -> None:
    svc = context.parallax
    msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert msg is not None and chat is not None and user is not None
    ui = await svc.ui_language(update, text)
    job = Job(chat_id=chat.id, chat_type=chat.type, user_id=user.id, text=text, ui=ui,
              reply_to=msg.message_id if chat.type != ChatType.PRIVATE else None)
    # what the text alone rules out is said now, not after a wait in the queue
    try:
        rejected = await svc.pipeline.screen(text, source="telegram",
                                             user_ref=await svc.ref("user", user.id),
                                             chat_ref=await svc.ref("chat", chat.id),
                                             ui_language=ui)
    except StorageError as exc:
        log.error("a question was not taken: %s", exc)
        svc.jobs.notify(context.application, job, "tg_storage_error")
        return
    if rejected is not None:
        svc.jobs.notify(context.application, job, TURNED_AWAY, text=rejected.message)
        return
    await svc.jobs.enqueue(context.application, job)


async def cmd_ask(update: Update, context: ParallaxContext) -> None:
    text = " ".join(context.args or [])
    if not text.strip():
        ui = await context.parallax.ui_language(update)
        await _reply(update, context, t(ui, "tg_ask_usage"))
        return
    await _ask(update, context, text)


async def cmd_start(update: Update, context: ParallaxContext) -> None:
    svc = context.parallax
    ui = await svc.ui_language(update)
    days = svc.pipeline.settings.retention_days  # 0: never
    retention = (t(ui, "tg_retention_days", days=days) if days > 0
                 else t(ui, "tg_retention_never"))
    await _reply(update, context, t(ui, "tg_start", retention=retention),
                 parse_mode=ParseMode.HTML)


async def cmd_help(update: Update, context: ParallaxContext) -> None:
    ui = await context.parallax.ui_language(update)
    await _reply(update, context, t(ui, "tg_help"))


async def _is_admin(update: Update, context: ParallaxContext) -> bool:
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type == ChatType.PRIVATE:
        return True
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in ("creator", "administrator")


async def cmd_models(update: Update, context: ParallaxContext) -> None:
    """The models; in a group, admins can set them: /models ID [ID…] (or /models default)."""
    svc = context.parallax
    ui = await svc.ui_language(update)
    chat = update.effective_chat
    assert chat is not None and update.effective_message is not None
    args = context.args or []
    scope = await svc.chat_scope(chat.id) if chat.type != ChatType.PRIVATE else None
    if args and scope:
        if not await _is_admin(update, context):
            await _reply(update, context, t(ui, "tg_admins_only"))
            return
        if args == ["default"]:
            await svc.store.set_setting(scope, "models", None)
            chosen = [m.id for m in svc.pipeline.catalog.defaults()]
        else:
            try:
                chosen = [m.id for m in svc.pipeline.catalog.select(args)]
            except KeyError as exc:
                await _reply(update, context, str(exc))
                return
            await svc.store.set_setting(scope, "models", json.dumps(chosen))
        await _reply(update, context, t(ui, "tg_group_models_set",
                                                    models=", ".join(chosen)))
        return
    stored = await svc.store.get_setting(scope, "models") if scope else None
    specs = svc.pipeline.catalog.select(json.loads(stored) if stored else None)
    lines = [f"<b>{esc(t(ui, 'tg_models_title'))}</b>"]
    for m in specs:
        lines.append(f"{m.flag} <b>{esc(m.name)}</b> — {esc(m.organisation)} "
                     f"({esc(country_name(ui, m.country))}), {esc(m.licence)} · "
                     f"<code>{esc(m.id)}</code>")
    await _reply(update, context, "\n".join(lines), parse_mode=ParseMode.HTML)


async def cmd_profile(update: Update, context: ParallaxContext) -> None:
    svc = context.parallax
    ui = await svc.ui_language(update)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None and update.effective_message is not None
    scope = (await svc.chat_scope(chat.id) if chat.type != ChatType.PRIVATE
             else f"user:{await svc.ref('user', user.id)}")
    names = svc.pipeline.prompts.profile_names()
    args = context.args or []
    if len(args) == 1 and args[0] in names:
        if not await _is_admin(update, context):
            await _reply(update, context, t(ui, "tg_admins_only"))
            return
        await svc.store.set_setting(scope, "profile", args[0])
        await _reply(update, context, t(ui, "tg_profile_set", profile=args[0]))
        return
    now = await svc.store.get_setting(scope, "profile") or svc.pipeline.settings.profile
    await _reply(update, context, t(ui, "tg_profile_usage", profile=now))


async def cmd_language(update: Update, context: ParallaxContext) -> None:
    svc = context.parallax
    user = update.effective_user
    assert user is not None and update.effective_message is not None
    args = context.args or []
    if len(args) == 1 and args[0] in LANGUAGES:
        await svc.store.set_setting(f"user:{await svc.ref('user', user.id)}", "language",
                                    args[0])
        await _reply(update, context, t(args[0], "tg_language_set"))
        return
    ui = await svc.ui_language(update)
    await _reply(update, context, t(ui, "tg_language_usage"))


async def cmd_forget(update: Update, context: ParallaxContext) -> None:
    svc = context.parallax
    ui = await svc.ui_language(update)
    user = update.effective_user
    assert user is not None and update.effective_message is not None
    count = await svc.store.count_user_rows(await svc.ref("user", user.id))
    markup = InlineKeyboardMarkup([[
        InlineKeyboardButton(t(ui, "tg_forget_yes"), callback_data=f"f:yes:{user.id}"),
        InlineKeyboardButton(t(ui, "tg_forget_no"), callback_data=f"f:no:{user.id}")]])
    await _reply(update, context, t(ui, "tg_forget_confirm", count=count),
                                              reply_markup=markup)


def _operator(update: Update, svc: ParallaxBot) -> bool:
    return update.effective_user is not None and update.effective_user.id in svc.operators


async def _operator_in_private(update: Update, context: ParallaxContext,
                               svc: ParallaxBot, ui: str) -> bool:
    """/stats and /export: an operator, in a private chat (never into a group's view)."""
    if not _operator(update, svc):
        await _reply(update, context, t(ui, "tg_operators_only"))
        return False
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await _reply(update, context, t(ui, "tg_operators_private"))
        return False
    return True


async def cmd_stats(update: Update, context: ParallaxContext) -> None:
    svc = context.parallax
    ui = await svc.ui_language(update)
    assert update.effective_message is not None
    if not await _operator_in_private(update, context, svc, ui):
        return
    stats = await svc.store.stats()
    lines = [f"<b>{esc(t(ui, 'tg_stats_title'))}</b>",
             f"questions: {stats['questions']}",
             "per day: " + esc(", ".join(f"{d} {n}" for d, n in
                                         list(stats["questions_per_day"].items())[-7:])),
             "per language: " + esc(", ".join(f"{k} {v}" for k, v in
                                              stats["questions_per_language"].items()))]
    for model, verdicts in stats["verdicts_per_model"].items():
        total = sum(verdicts.values()) or 1
        rates = ", ".join(f"{v} {n / total:.0%}" for v, n in sorted(verdicts.items()))
        lines.append(f"<code>{esc(model)}</code>: {esc(rates)}")
    await _reply(update, context, "\n".join(lines), parse_mode=ParseMode.HTML)


async def cmd_export(update: Update, context: ParallaxContext) -> None:
    from bot.export import export_bytes

    svc = context.parallax
    ui = await svc.ui_language(update)
    chat = update.effective_chat
    assert update.effective_message is not None and chat is not None
    if not await _operator_in_private(update, context, svc, ui):
        return
    for fmt in ("jsonl", "csv"):
        data, rows = await export_bytes(svc.store, fmt)
        await context.bot.send_document(chat.id, InputFile(data, filename=f"parallax.{fmt}"),
                                        caption=t(ui, "tg_export_caption", rows=rows))


from .pictures import cmd_card, cmd_probe  # noqa: E402  (the commands' table is here)

__all__ = ["cmd_card", "cmd_probe"]


async def register_commands(app: TelegramApp) -> None:
    """Command descriptions, in each interface language."""
    for lang in (None, "en", "fr", "zh"):
        commands = [BotCommand(c, t(lang or "en", f"cmd_{c}")) for c in COMMANDS]
        try:
            await app.bot.set_my_commands(commands, language_code=lang)
        except Exception as exc:  # the commands still work, without their descriptions
            log.warning("command descriptions (%s) not registered: %s", lang or "default", exc)
