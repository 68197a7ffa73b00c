"""The bot's behaviour: commands, questions, buttons. Thin over the pipeline and the store."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.ext import Application, ContextTypes

from bot.i18n import LANGUAGES, t
from bot.lang import detect
from bot.pipeline import (
    Accepted,
    AnswerFinished,
    AnswerStarted,
    Judged,
    Pipeline,
    Rejected,
    Token,
)
from bot.store import StorageError

from .jobs import Job, Sealer, SealError
from .notices import Notice, Notices
from .render import BODY_LIMIT, answer_message, esc, fit, html_pieces, summary_message
from .throttle import GROUP_PER_MINUTE, ChatGone, ChatPacer, LiveMessage, RateLimit

log = logging.getLogger(__name__)

#: questions one chat (a group) may have waiting at once
PER_CHAT_WAITING = 3
#: command replies one user may get a minute
COMMANDS_PER_MINUTE = 6
#: a group's messages a minute that command replies leave to the answers being streamed
ANSWER_RESERVE = 8
#: a job started this many times without being delivered (it crashes the bot?) is dropped
MAX_ATTEMPTS = 3
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "zh": "中文"}
COMMANDS = ("start", "help", "ask", "models", "profile", "language", "forget", "stats",
            "export")


@dataclass
class ParallaxBot:
    """Everything the handlers share, kept in ``application.bot_data["parallax"]``."""

    pipeline: Pipeline
    operators: frozenset[int]
    queue_limit: int = 8
    queue: list[Job] = field(default_factory=list)
    running: Job | None = None
    pacers: dict[int, ChatPacer] = field(default_factory=dict)
    average_seconds: float = 30.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    id_key_file: Path | None = None
    _salt: bytes = b""
    _key_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    worker: asyncio.Task[None] | None = None
    _pressed: dict[tuple[int, int, str], None] = field(default_factory=dict)
    command_limit: RateLimit = field(default_factory=lambda: RateLimit(COMMANDS_PER_MINUTE))
    #: seconds one question may take, delivery included, before the next chat's turn
    job_deadline: float = 600.0
    _served: dict[int, float] = field(default_factory=dict)
    #: after a restart, a question that was being answered: "resume" (answer it again, in
    #: the same chat) or "tell" (tell the asker it was interrupted)
    on_restart: str = "resume"
    _sealer: Sealer | None = None
    _enqueue_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    notices: Notices = field(default_factory=Notices)

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
    def store(self):
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

    # -- the queue --------------------------------------------------------------------------
    def start_worker(self, app: Application) -> None:
        if self.worker is None:
            self.worker = asyncio.create_task(self._work(app), name="parallax-worker")

    async def stop_worker(self) -> None:
        await self.notices.close()
        if self.worker is not None:
            self.worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.worker
            self.worker = None

    async def _work(self, app: Application) -> None:
        while True:
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            # chats in turn: the waiting job of the chat served longest ago goes first
            job = min(self.queue, key=lambda j: self._served.get(j.chat_id, 0.0))
            self.queue.remove(job)
            self.running = job
            started = asyncio.get_running_loop().time()
            self._served[job.chat_id] = started
            if len(self._served) > 10_000:  # bounded: the chats served longest ago go
                for chat_id in sorted(self._served, key=self._served.__getitem__)[:1000]:
                    del self._served[chat_id]
            try:
                if job.job_id is not None:
                    await self.store.start_job(job.job_id)
                # one chat must not freeze the others: a job that cannot finish in time (a chat
                # in a long flood-wait) ends; its answers are already stored
                async with asyncio.timeout(self.job_deadline):
                    await self.answer(app, job)
            except TimeoutError:
                log.warning("question in chat %s: not delivered within %g s; its answers are "
                            "stored", await self.ref("chat", job.chat_id), self.job_deadline)
            except StorageError as exc:
                log.error("question in chat %s not asked: %s", await self.ref("chat", job.chat_id),
                          exc)
                self.notify(app, job, "tg_storage_error")
            except ChatGone as exc:  # chats are named by their reference, never their id
                log.warning("chat %s is gone (%s): its answers are dropped",
                            await self.ref("chat", job.chat_id), type(exc).__name__)
            except Exception:
                log.exception("question in chat %s failed", await self.ref("chat", job.chat_id))
            finally:
                self.running = None
                spent = asyncio.get_running_loop().time() - started
                self.average_seconds = 0.7 * self.average_seconds + 0.3 * spent
            # delivered, or ended by one of the errors above; a bot that is stopping (the
            # task cancelled) never gets here and keeps the job, to resume it at its restart
            await self._done(job)

    async def _done(self, job: Job) -> None:
        """The job is over: its row goes (a stopping bot keeps it, to resume it)."""
        if job.job_id is not None:
            try:
                await self.store.delete_job(job.job_id)
            except Exception as exc:  # a locked database: the restart will find it answered
                log.error("could not delete a finished job: %s: %s", type(exc).__name__, exc)

    async def recover(self, app: Application) -> None:
        """At start: the jobs a previous run accepted and did not deliver go back in the
        queue, the interrupted ones first (or their askers are told, with on_restart =
        "tell")."""
        if moved := await self.rekey_chat_settings():
            log.info("settings of %d groups now keyed by their references", moved)
        sealer = await self.sealer()
        interrupted: list[Job] = []
        for row in await self.store.jobs():
            try:
                job = sealer.open(row["sealed"], row["user_ref"], row["chat_ref"])
            except SealError as exc:
                log.warning("job %s dropped: %s", row["id"], exc)
                await self.store.delete_job(row["id"])
                continue
            job.job_id, job.question_id = row["id"], row["question_id"]
            if row["attempts"] >= MAX_ATTEMPTS:
                log.warning("job %s dropped after %d attempts", row["id"], row["attempts"])
                self.notify(app, job, "tg_gave_up")
                await self.store.delete_job(row["id"])
            elif job.question_id is None:
                self.queue.append(job)
            elif self.on_restart == "tell":
                self.notify(app, job, "tg_interrupted")
                await self.store.set_question_status(job.question_id, "interrupted")
                await self.store.delete_job(row["id"])
            else:
                job.resumed = True
                interrupted.append(job)
        self.queue[:0] = interrupted
        if self.queue:
            log.info("restart: %d questions back in the queue (%d interrupted)",
                     len(self.queue), len(interrupted))
            self._wake.set()

    async def enqueue(self, app: Application, job: Job) -> None:
        # one at a time: the checks below and the job's place in the queue must not be
        # interleaved with another update's while the job is being stored
        async with self._enqueue_lock:
            await self._enqueue(app, job)

    async def _enqueue(self, app: Application, job: Job) -> None:
        waiting = len(self.queue) + (1 if self.running else 0)
        mine = [j for j in [*self.queue, self.running] if j is not None]
        if any(j.user_id == job.user_id for j in mine):
            # fairness: one running or waiting question a person
            self.notify(app, job, "tg_one_waiting")
            return
        if (len(self.queue) >= self.queue_limit
                or sum(j.chat_id == job.chat_id for j in self.queue) >= PER_CHAT_WAITING):
            seconds = int(self.average_seconds * waiting) + 1
            self.notify(app, job, "tg_busy", waiting=waiting, seconds=seconds)
            return
        user_ref, chat_ref = await self.ref("user", job.user_id), await self.ref("chat",
                                                                                job.chat_id)
        try:  # the queue is kept in the database: a restart finds it
            job.job_id = await self.store.save_job(
                user_ref=user_ref, chat_ref=chat_ref,
                sealed=(await self.sealer()).seal(job, user_ref, chat_ref))
        except sqlite3.Error as exc:
            log.error("question in chat %s not queued: the database cannot be written (%s): "
                      "free disk space, or stop the other process that holds it locked",
                      chat_ref, exc)
            self.notify(app, job, "tg_storage_error")
            return
        self.queue.append(job)
        if waiting:
            self.notify(app, job, "tg_queued", position=waiting + 1)
        self._wake.set()

    def notify(self, app: Application, job: Job, key: str, **values: object) -> None:
        """Tell the asker what became of their question, within the chat's budget, without
        waiting for it (bot/frontends/telegram/notices.py)."""
        self.notices.tell(app.bot, job.chat_id, self.pacer(job.chat_id, job.chat_type),
                          Notice(key, job.ui, job.reply_to, values))

    # -- one question -------------------------------------------------------------------------
    async def answer(self, app: Application, job: Job) -> None:
        bot = app.bot
        pacer = self.pacer(job.chat_id, job.chat_type)
        lives: dict[str, LiveMessage] = {}
        texts: dict[str, str] = {}
        typing = asyncio.create_task(self._typing(app, job.chat_id))
        chat_scope = await self.chat_scope(job.chat_id)
        models = job.models
        profile = job.profile
        if job.chat_type != ChatType.PRIVATE:
            stored = await self.store.get_setting(chat_scope, "models")
            models = models or (json.loads(stored) if stored else None)
            profile = profile or await self.store.get_setting(chat_scope, "profile")
        else:
            profile = profile or await self.store.get_setting(
                f"user:{await self.ref('user', job.user_id)}", "profile")
        # the pipeline runs apart from delivery: a chat that cannot be written to (a long
        # flood-wait) slows only its own messages, and the answers are stored regardless
        events: asyncio.Queue[object] = asyncio.Queue()
        user_ref, chat_ref = await self.ref("user", job.user_id), await self.ref("chat",
                                                                                job.chat_id)

        if job.resumed:
            await pacer.call(lambda: bot.send_message(
                job.chat_id, t(job.ui, "tg_resumed"), reply_to_message_id=job.reply_to),
                must=True)

        async def produce() -> None:
            try:
                async for e in self.pipeline.ask(job.text, models=models, profile=profile,
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
                        await pacer.call(lambda e=event: bot.send_message(
                            job.chat_id, e.message, reply_to_message_id=job.reply_to),
                            must=True)
                    case Accepted():
                        for note in event.notes:
                            await pacer.call(lambda n=note: bot.send_message(
                                job.chat_id, n, reply_to_message_id=job.reply_to), must=True)
                    case AnswerStarted():
                        live = LiveMessage(bot, job.chat_id, pacer, reply_to=job.reply_to)
                        lives[event.model.id] = live
                        texts[event.model.id] = ""
                        await live.start(answer_message(job.ui, event.model, "",
                                                        streaming=True))
                    case Token():
                        texts[event.model_id] += event.text
                        live = lives[event.model_id]
                        spec = self.pipeline.catalog.get(event.model_id)
                        await live.push(answer_message(job.ui, spec, texts[event.model_id],
                                                       streaming=True))
                    case AnswerFinished():
                        a = event.answer
                        await lives[a.model.id].push(answer_message(job.ui, a.model, a.text))
                    case Judged():
                        await self._finish(app, job, event, lives, pacer)
            await producer  # its errors surface here
        finally:
            typing.cancel()
            if not producer.done():  # delivery ended early: the models finish, answers stored
                try:
                    await asyncio.shield(producer)
                except asyncio.CancelledError:
                    producer.cancel()  # cancelled again: the bot is stopping
                    raise

    async def _finish(self, app: Application, job: Job, judged: Judged,
                      lives: dict[str, LiveMessage], pacer: ChatPacer) -> None:
        bot = app.bot
        for a in judged.answers:
            live = lives[a.model.id]
            await live.finish(answer_message(job.ui, a.model, a.text, a))
            rest = fit(a.text.strip(), BODY_LIMIT)[1]
            if rest:  # the rest of a long answer, in more messages
                anchor = live.message.message_id if live.message else None
                for piece in html_pieces(rest, 4000):
                    await pacer.call(lambda p=piece, r=anchor: bot.send_message(
                        job.chat_id, p, parse_mode=ParseMode.HTML, reply_to_message_id=r),
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
        found = self.pipeline.prompts.find_question(judged.question)
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

    async def _typing(self, app: Application, chat_id: int) -> None:
        with contextlib.suppress(Exception):
            while True:
                await app.bot.send_chat_action(chat_id, ChatAction.TYPING)
                await asyncio.sleep(4.5)


def _service(context: ContextTypes.DEFAULT_TYPE) -> ParallaxBot:
    return context.application.bot_data["parallax"]


async def _reply(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str,
                 **kwargs: Any) -> None:
    """Answer a command now or not at all: a handler never waits for a chat's budget (300
    /help in a group would otherwise hold every update slot while the group's 20 messages a
    minute trickle out, and nobody else would get an answer). A user past COMMANDS_PER_MINUTE
    is told once to slow down, then not answered; a reply that does not fit the chat's budget
    now, keeping room for the answers being streamed, is dropped."""
    msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if msg is None or chat is None:
        return
    svc = _service(context)
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


# -- message handlers -----------------------------------------------------------------------
async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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


async def _ask(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    svc = _service(context)
    msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert msg is not None and chat is not None and user is not None
    ui = await svc.ui_language(update, text)
    job = Job(chat_id=chat.id, chat_type=chat.type, user_id=user.id, text=text, ui=ui,
              reply_to=msg.message_id if chat.type != ChatType.PRIVATE else None)
    await svc.enqueue(context.application, job)


async def cmd_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = " ".join(context.args or [])
    if not text.strip():
        ui = await _service(context).ui_language(update)
        await _reply(update, context, t(ui, "tg_ask_usage"))
        return
    await _ask(update, context, text)


async def cmd_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = _service(context)
    ui = await svc.ui_language(update)
    days = svc.pipeline.settings.retention_days  # 0: never
    retention = (t(ui, "tg_retention_days", days=days) if days > 0
                 else t(ui, "tg_retention_never"))
    await _reply(update, context, t(ui, "tg_start", retention=retention),
                 parse_mode=ParseMode.HTML)


async def cmd_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ui = await _service(context).ui_language(update)
    await _reply(update, context, t(ui, "tg_help"))


async def _is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type == ChatType.PRIVATE:
        return True
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in ("creator", "administrator")


async def cmd_models(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The models; in a group, admins can set them: /models ID [ID…] (or /models default)."""
    svc = _service(context)
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
                     f"({esc(m.country_name)}), {esc(m.licence)} · <code>{esc(m.id)}</code>")
    await _reply(update, context, "\n".join(lines), parse_mode=ParseMode.HTML)


async def cmd_profile(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = _service(context)
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


async def cmd_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = _service(context)
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


async def cmd_forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = _service(context)
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


async def _operator_in_private(update: Update, context: ContextTypes.DEFAULT_TYPE,
                               svc: ParallaxBot, ui: str) -> bool:
    """/stats and /export: an operator, in a private chat (never into a group's view)."""
    if not _operator(update, svc):
        await _reply(update, context, t(ui, "tg_operators_only"))
        return False
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await _reply(update, context, t(ui, "tg_operators_private"))
        return False
    return True


async def cmd_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = _service(context)
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


async def cmd_export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    from bot.export import export_bytes

    svc = _service(context)
    ui = await svc.ui_language(update)
    chat = update.effective_chat
    assert update.effective_message is not None and chat is not None
    if not await _operator_in_private(update, context, svc, ui):
        return
    for fmt in ("jsonl", "csv"):
        data, rows = await export_bytes(svc.store, fmt)
        await context.bot.send_document(chat.id, InputFile(data, filename=f"parallax.{fmt}"),
                                        caption=t(ui, "tg_export_caption", rows=rows))


# -- buttons --------------------------------------------------------------------------------
async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = _service(context)
    query = update.callback_query
    if query is None or query.data is None or update.effective_user is None:
        return
    ui = await svc.ui_language(update)
    user_ref = await svc.ref("user", update.effective_user.id)
    kind, _, rest = query.data.partition(":")
    answer: dict[str, Any] | None = None
    if kind in ("w", "t"):
        # callback data comes from the client: a button acts only on an answer of this chat
        if not rest.isdigit() or query.message is None:
            await query.answer()
            return
        answer = await svc.store.answer_in_chat(
            int(rest), await svc.ref("chat", query.message.chat.id))
        if answer is None:
            await query.answer(t(ui, "tg_gone_question"))
            return
    if kind == "w":
        assert answer is not None
        await svc.store.save_feedback(answer["id"], "verdict_wrong", user_ref)  # once a person
        model = svc.pipeline.catalog.get(answer["model_id"]).name \
            if answer["model_id"] in {m.id for m in svc.pipeline.catalog.models} \
            else answer["model_id"]
        await query.answer(t(ui, "tg_wrong_thanks", model=model), show_alert=False)
    elif kind == "t":
        assert answer is not None
        await query.answer()
        if not answer.get("thinking"):
            await context.bot.send_message(query.message.chat.id,
                                           t(ui, "tg_no_thinking"))
            return
        title = t(ui, "tg_thinking_title", model=answer["model_id"])
        for i, piece in enumerate(html_pieces(answer["thinking"], 3900)):
            prefix = f"💭 <b>{esc(title)}</b>\n\n" if i == 0 else ""
            await context.bot.send_message(query.message.chat.id,
                                           prefix + piece, parse_mode=ParseMode.HTML)
    elif kind == "q":
        qid, _, lang = rest.partition(":")
        prepared = next((q for q in svc.pipeline.prompts.questions() if q.id == qid), None)
        await query.answer()
        if prepared is None or lang not in prepared.texts or query.message is None:
            return
        if not svc.first_press(query.message.chat.id, query.message.message_id, query.data):
            return  # pressed twice: asked once
        chat = query.message.chat
        await svc.enqueue(context.application, Job(
            chat_id=chat.id, chat_type=chat.type, user_id=update.effective_user.id,
            text=prepared.texts[lang], ui=ui, reply_to=None))
    elif kind == "f":
        answer_kind, _, owner = rest.partition(":")
        if str(update.effective_user.id) != owner:
            await query.answer()
            return  # only the user who asked may confirm
        await query.answer()
        if answer_kind == "yes":
            # their waiting questions go too, from the queue as from the database
            svc.queue[:] = [j for j in svc.queue if j.user_id != update.effective_user.id]
            n = await svc.store.forget_user(user_ref)
            text = t(ui, "tg_forget_done", count=n)
        else:
            text = t(ui, "tg_forget_cancelled")
        if query.message is not None:
            pacer = svc.pacer(query.message.chat.id, query.message.chat.type)
            await pacer.call(lambda: query.edit_message_text(text), must=True)


async def register_commands(app: Application) -> None:
    """Command descriptions, in each interface language."""
    for lang in (None, "en", "fr", "zh"):
        commands = [BotCommand(c, t(lang or "en", f"cmd_{c}")) for c in COMMANDS]
        with contextlib.suppress(Exception):
            await app.bot.set_my_commands(commands, language_code=lang)

