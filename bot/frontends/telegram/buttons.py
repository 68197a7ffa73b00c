"""The buttons under an answer's summary and /forget's confirmation: one handler a button, each
registered with its own ``CallbackQueryHandler(pattern=…)`` (``PATTERNS``).

Callback data comes from the client and may be forged: a button acts only on an answer that
belongs to the chat it is pressed in, and /forget's confirmation only for the person who asked
for it.
"""

from __future__ import annotations

from typing import Any

from telegram import CallbackQuery, Update
from telegram.constants import ParseMode

from bot.i18n import t

from .jobs import Job
from .render import esc, html_pieces
from .service import ParallaxContext


async def _own_answer(update: Update, context: ParallaxContext,
                      ui: str) -> tuple[CallbackQuery, dict[str, Any]] | None:
    """The pressed button's answer, if it belongs to this chat (data ``X:<answer id>``)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    rest = query.data.partition(":")[2]
    if not rest.isdigit() or query.message is None:
        await query.answer()
        return None
    svc = context.parallax
    answer = await svc.store.answer_in_chat(int(rest),
                                            await svc.ref("chat", query.message.chat.id))
    if answer is None:
        await query.answer(t(ui, "tg_gone_question"))
        return None
    return query, answer


async def on_verdict_wrong(update: Update, context: ParallaxContext) -> None:
    """``w:<answer id>``: this person says the verdict is wrong (counted once a person)."""
    svc = context.parallax
    if update.effective_user is None:
        return
    ui = await svc.ui_language(update)
    found = await _own_answer(update, context, ui)
    if found is None:
        return
    query, answer = found
    await svc.store.save_feedback(answer["id"], "verdict_wrong",
                                  await svc.ref("user", update.effective_user.id))
    known = {m.id for m in svc.pipeline.catalog.models}
    model = (svc.pipeline.catalog.get(answer["model_id"]).name
             if answer["model_id"] in known else answer["model_id"])
    await query.answer(t(ui, "tg_wrong_thanks", model=model), show_alert=False)


async def on_show_thinking(update: Update, context: ParallaxContext) -> None:
    """``t:<answer id>``: the answer's <think> text, in as many messages as it takes."""
    svc = context.parallax
    ui = await svc.ui_language(update)
    found = await _own_answer(update, context, ui)
    if found is None:
        return
    query, answer = found
    await query.answer()
    assert query.message is not None
    chat_id = query.message.chat.id
    if not answer.get("thinking"):
        await context.bot.send_message(chat_id, t(ui, "tg_no_thinking"))
        return
    title = t(ui, "tg_thinking_title", model=answer["model_id"])
    for i, piece in enumerate(html_pieces(answer["thinking"], 3900)):
        prefix = f"💭 <b>{esc(title)}</b>\n\n" if i == 0 else ""
        await context.bot.send_message(chat_id, prefix + piece, parse_mode=ParseMode.HTML)


async def on_same_question(update: Update, context: ParallaxContext) -> None:
    """``q:<prepared question id>:<language>``: ask the same prepared question in another
    language (a button pressed twice asks once)."""
    svc = context.parallax
    query = update.callback_query
    if query is None or query.data is None or update.effective_user is None:
        return
    ui = await svc.ui_language(update)
    qid, _, lang = query.data.partition(":")[2].partition(":")
    prepared = next((q for q in svc.pipeline.prompts.questions() if q.id == qid), None)
    await query.answer()
    if prepared is None or lang not in prepared.texts or query.message is None:
        return
    if not svc.first_press(query.message.chat.id, query.message.message_id, query.data):
        return  # pressed twice: asked once
    chat = query.message.chat
    await svc.jobs.enqueue(context.application, Job(
        chat_id=chat.id, chat_type=chat.type, user_id=update.effective_user.id,
        text=prepared.texts[lang], ui=ui, reply_to=None))


async def on_forget(update: Update, context: ParallaxContext) -> None:
    """``f:yes|no:<user id>``: /forget's confirmation, for the person who asked only."""
    svc = context.parallax
    query = update.callback_query
    user = update.effective_user
    if query is None or query.data is None or user is None:
        return
    ui = await svc.ui_language(update)
    answer_kind, _, owner = query.data.partition(":")[2].partition(":")
    await query.answer()
    if str(user.id) != owner:
        return  # only the user who asked may confirm
    if answer_kind == "yes":
        # their waiting questions go too, from the queue as from the database
        svc.jobs.queue[:] = [j for j in svc.jobs.queue if j.user_id != user.id]
        n = await svc.store.forget_user(await svc.ref("user", user.id))
        text = t(ui, "tg_forget_done", count=n)
    else:
        text = t(ui, "tg_forget_cancelled")
    if query.message is not None:
        pacer = svc.pacer(query.message.chat.id, query.message.chat.type)
        await pacer.call(lambda: query.edit_message_text(text), must=True)


async def on_unknown(update: Update, context: ParallaxContext) -> None:
    """Any other data (stale or forged): the press is acknowledged, nothing happens."""
    if update.callback_query is not None:
        await update.callback_query.answer()


from .pictures import on_card  # noqa: E402

#: callback data pattern -> handler
PATTERNS = (
    (r"^c:", on_card),
    (r"^w:", on_verdict_wrong),
    (r"^t:", on_show_thinking),
    (r"^q:", on_same_question),
    (r"^f:", on_forget),
)
