"""The bot's queue: one question answered at a time, chats served in turn, kept in the
database so that a restart finds it (``jobs``, bot/frontends/telegram/jobs.py).

Rules, each in one place here: one running or waiting question a person, ``PER_CHAT_WAITING``
waiting a chat, ``queue_limit`` in all ("busy, try again in about N s" past it); the chat served
longest ago goes next; a job's delivery has a deadline (``job_deadline``) while its models run
apart and always store their answers; askers are told what became of their question through
:class:`Notices`, never by a handler waiting for a chat's budget. A job's row is deleted once
it is over, and kept when the bot stops, so that the next start answers it (``recover``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from dataclasses import dataclass, field

from bot.errors import StorageError

from .delivery import deliver
from .jobs import Job, SealError
from .notices import Notice, Notices
from .service import ParallaxBot, TelegramApp
from .throttle import ChatGone

log = logging.getLogger(__name__)

#: questions one chat (a group) may have waiting at once
PER_CHAT_WAITING = 3
#: a job started this many times without being delivered (it crashes the bot?) is dropped
MAX_ATTEMPTS = 3


@dataclass
class JobQueue:
    svc: ParallaxBot
    queue_limit: int = 8
    #: seconds one question may take, delivery included, before the next chat's turn
    job_deadline: float = 600.0
    #: after a restart, a question that was being answered: "resume" (answer it again, in
    #: the same chat) or "tell" (tell the asker it was interrupted)
    on_restart: str = "resume"
    queue: list[Job] = field(default_factory=list)
    running: Job | None = None
    average_seconds: float = 30.0
    notices: Notices = field(default_factory=Notices)
    worker: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: set while nothing is waiting or running (a probe asks its questions then)
    _quiet: asyncio.Event = field(default_factory=asyncio.Event)
    _served: dict[int, float] = field(default_factory=dict)
    _enqueue_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def idle(self) -> bool:
        """Nothing running, waiting, or left to tell."""
        return self.running is None and not self.queue and self.notices.idle

    async def wait_quiet(self) -> None:
        """Return once no question is waiting or being answered."""
        while self.running is not None or self.queue:
            self._quiet.clear()  # the worker sets it once it has nothing left to do
            await self._quiet.wait()

    def start_worker(self, app: TelegramApp) -> None:
        if self.worker is None:
            self.worker = asyncio.create_task(self._work(app), name="parallax-worker")

    async def stop_worker(self) -> None:
        await self.notices.close()
        if self.worker is not None:
            self.worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.worker
            self.worker = None

    async def _work(self, app: TelegramApp) -> None:
        while True:
            if not self.queue:
                self._quiet.set()
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
                    await self.svc.store.start_job(job.job_id)
                # one chat must not freeze the others: a job that cannot finish in time (a chat
                # in a long flood-wait) ends; its answers are already stored
                async with asyncio.timeout(self.job_deadline):
                    await deliver(self.svc, app, job)
            except TimeoutError:
                log.warning("question in chat %s: not delivered within %g s; its answers are "
                            "stored", await self.svc.ref("chat", job.chat_id), self.job_deadline)
            except StorageError as exc:
                log.error("question in chat %s not asked: %s",
                          await self.svc.ref("chat", job.chat_id), exc)
                self.notify(app, job, "tg_storage_error")
            except ChatGone as exc:  # chats are named by their reference, never their id
                log.warning("chat %s is gone (%s): its answers are dropped",
                            await self.svc.ref("chat", job.chat_id), type(exc).__name__)
            except Exception:
                log.exception("question in chat %s failed", await self.svc.ref("chat", job.chat_id))
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
                await self.svc.store.delete_job(job.job_id)
            except Exception as exc:  # a locked database: the restart will find it answered
                log.error("could not delete a finished job: %s: %s", type(exc).__name__, exc)

    async def recover(self, app: TelegramApp) -> None:
        """At start: the jobs a previous run accepted and did not deliver go back in the
        queue, the interrupted ones first (or their askers are told, with on_restart =
        "tell")."""
        if moved := await self.svc.rekey_chat_settings():
            log.info("settings of %d groups now keyed by their references", moved)
        sealer = await self.svc.sealer()
        interrupted: list[Job] = []
        for row in await self.svc.store.jobs():
            try:
                job = sealer.open(row["sealed"], row["user_ref"], row["chat_ref"])
            except SealError as exc:
                log.warning("job %s dropped: %s", row["id"], exc)
                await self.svc.store.delete_job(row["id"])
                continue
            job.job_id, job.question_id = row["id"], row["question_id"]
            if row["attempts"] >= MAX_ATTEMPTS:
                log.warning("job %s dropped after %d attempts", row["id"], row["attempts"])
                self.notify(app, job, "tg_gave_up")
                await self.svc.store.delete_job(row["id"])
            elif job.question_id is None:
                self.queue.append(job)
            elif self.on_restart == "tell":
                self.notify(app, job, "tg_interrupted")
                await self.svc.store.set_question_status(job.question_id, "interrupted")
                await self.svc.store.delete_job(row["id"])
            else:
                job.resumed = True
                interrupted.append(job)
        self.queue[:0] = interrupted
        if self.queue:
            log.info("restart: %d questions back in the queue (%d interrupted)",
                     len(self.queue), len(interrupted))
            self._quiet.clear()
            self._quiet.clear()
        self._wake.set()

    async def enqueue(self, app: TelegramApp, job: Job) -> None:
        # one at a time: the checks below and the job's place in the queue must not be
        # interleaved with another update's while the job is being stored
        async with self._enqueue_lock:
            await self._enqueue(app, job)

    async def _enqueue(self, app: TelegramApp, job: Job) -> None:
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
        user_ref, chat_ref = await self.svc.ref("user", job.user_id), await self.svc.ref("chat",
                                                                                job.chat_id)
        try:  # the queue is kept in the database: a restart finds it
            job.job_id = await self.svc.store.save_job(
                user_ref=user_ref, chat_ref=chat_ref,
                sealed=(await self.svc.sealer()).seal(job, user_ref, chat_ref))
        except sqlite3.Error as exc:
            log.error("question in chat %s not queued: the database cannot be written (%s): "
                      "free disk space, or stop the other process that holds it locked",
                      chat_ref, exc)
            self.notify(app, job, "tg_storage_error")
            return
        self.queue.append(job)
        if waiting:
            self.notify(app, job, "tg_queued", position=waiting + 1)
        self._quiet.clear()
        self._wake.set()

    def notify(self, app: TelegramApp, job: Job, key: str, text: str | None = None,
               **values: object) -> None:
        """Tell the asker what became of their question, within the chat's budget, without
        waiting for it (bot/frontends/telegram/notices.py); ``text``: said as it is."""
        self.notices.tell(app.bot, job.chat_id, self.svc.pacer(job.chat_id, job.chat_type),
                          Notice(key, job.ui, job.reply_to, values, text))
