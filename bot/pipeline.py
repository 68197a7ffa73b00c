"""The one pipeline every front end calls: a question in, typed events out.

``Pipeline.ask`` goes admit → run → judge → store: it cleans the question, detects its
language and stores it before any model runs (``_admit``: ``Accepted`` or ``Rejected``); asks
each model, one after another or all at once per ``settings.schedule``, streaming their
tokens as events (``_run_models``); judges every answer against its peers (``_judge``); stores
the answers and verdicts (``_store_answers``); and ends with a ``Judged`` event.
``Pipeline.run`` returns that final event, for callers that want only the outcome. A model
that fails, hangs or is missing gets an ``error`` answer; the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from bot.backends.base import RESTART, Backend, Request, Usage
from bot.catalog import Catalog, ModelSpec, load_catalog
from bot.config import Settings
from bot.errors import BackendError, ModelFileError, PromptError, StorageError, UnknownModelError
from bot.i18n import t
from bot.lang import SUPPORTED, Language, clean_text, detect
from bot.present import note_text
from bot.prompts import Profile, Prompts
from bot.store import ErrorCode, RejectReason, Store, StoredAnswer
from bot.thinking import ThinkSplitter

log = logging.getLogger(__name__)

#: longer questions are cut before they are stored or sent (each model then fits its context)
MAX_QUESTION_CHARS = 20_000
#: how much of a rejected message is stored (its language, its start)
REJECTED_KEEP_CHARS = 200
#: tokens kept free for the chat template's own tokens around the user's text
TEMPLATE_MARGIN = 48


# -- events ---------------------------------------------------------------------------------
@dataclass
class Answer:
    """One model's answer, filled in as it streams, judged once all answers are in."""

    model: ModelSpec
    profile: str
    text: str = ""
    thinking: str | None = None
    seconds: float | None = None
    first_token_seconds: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_second: float | None = None
    truncated: bool = False
    #: the diagnostic, in English (front ends word it: bot/present.py)
    error: str | None = None
    error_code: ErrorCode | None = None
    timed_out: bool = False
    #: the limit a timed-out answer hit
    timeout_seconds: float | None = None
    profile_version: str = ""
    verdict: str | None = None
    score: float | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    answer_id: int | None = None
    #: the server that answered (remote models) and whether another one failed first
    endpoint: str | None = None
    retried: bool = False
    finish_reason: str | None = None

    def record(self) -> StoredAnswer:
        """The answer's record (bot/store.py): what the database, the export and the JSON
        output hold."""
        return StoredAnswer(
            model_id=self.model.id, model_sha256=self.model.sha256, profile=self.profile,
            profile_version=self.profile_version, text=self.text, thinking=self.thinking,
            verdict=self.verdict, score=self.score, reasons=self.reasons, seconds=self.seconds,
            first_token_seconds=self.first_token_seconds, prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens, tokens_per_second=self.tokens_per_second,
            truncated=self.truncated, finish_reason=self.finish_reason,
            backend="remote" if self.model.is_remote else "local", endpoint=self.endpoint,
            retried=self.retried, error_code=self.error_code, error=self.error)

    def to_json(self) -> dict[str, Any]:
        """``parallax ask --json``: the record, timings rounded, with the model's name and
        origin beside its id."""
        d = asdict(self.record())
        d["model"] = d.pop("model_id")
        for key in ("seconds", "first_token_seconds", "tokens_per_second"):
            d[key] = _round(d[key])
        return {"model": d.pop("model"), "name": self.model.name,
                "organisation": self.model.organisation, "country": self.model.country, **d}


@dataclass(frozen=True)
class Note:
    """Something to tell the asker about an accepted question, as a code and its values
    (an i18n key); stored as its code, shown worded (bot/present.py)."""

    code: str  # question_too_long
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    question_id: int
    text: str
    language: Language
    profile: str
    models: tuple[ModelSpec, ...]
    #: what to tell the asker, worded in their language (the database keeps the codes)
    notes: tuple[str, ...] = ()
    #: the asker's language, which the notes and rejections are worded in: the caller's
    #: ``ui_language``, else the question's when Parallax speaks it, else English
    ui_language: str = "en"


@dataclass(frozen=True)
class Rejected:
    question_id: int | None  # None when nothing was worth storing (an empty message)
    reason: RejectReason
    message: str  # in the asker's language, for the front end to show
    language: Language | None = None


@dataclass(frozen=True)
class AnswerStarted:
    model: ModelSpec


@dataclass(frozen=True)
class Token:
    model: ModelSpec
    text: str  # visible text added
    thinking: str = ""  # thinking text added
    #: everything this model streamed so far is void: its answer starts again here (a remote
    #: endpoint failed mid-answer and another one answers)
    restart: bool = False

    @property
    def model_id(self) -> str:
        return self.model.id


@dataclass(frozen=True)
class AnswerFinished:
    answer: Answer


@dataclass(frozen=True)
class Judged:
    question_id: int
    question: str
    language: Language
    profile: str
    answers: tuple[Answer, ...]

    def to_json(self) -> dict[str, Any]:
        return {"question_id": self.question_id, "question": self.question,
                "language": self.language.code, "profile": self.profile,
                "answers": [a.to_json() for a in self.answers]}


@dataclass(frozen=True)
class ModelCheck:
    """Whether a model can answer now (``parallax models check``)."""

    model: ModelSpec
    ok: bool
    load_seconds: float | None = None
    first_token_seconds: float | None = None
    tokens_per_second: float | None = None
    completion_tokens: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model.id, "ok": self.ok, "default": self.model.default,
                "backend": "remote" if self.model.is_remote else "local",
                "load_seconds": _round(self.load_seconds),
                "first_token_seconds": _round(self.first_token_seconds),
                "tokens_per_second": _round(self.tokens_per_second),
                "completion_tokens": self.completion_tokens, "error": self.error}


Event = Accepted | Rejected | AnswerStarted | Token | AnswerFinished | Judged


@dataclass(frozen=True)
class _Admitted:
    """What ``_admit`` decided: the first event, and the profile an accepted question uses."""

    event: Accepted | Rejected
    profile: Profile | None = None
BackendFactory = Callable[[ModelSpec], Backend]
_DONE = object()


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


# -- the pipeline ---------------------------------------------------------------------------
class Pipeline:
    def __init__(self, settings: Settings, catalog: Catalog, store: Store, prompts: Prompts,
                 backend_factory: BackendFactory | None = None) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.prompts = prompts
        self._factory = backend_factory or self._default_backend
        self._backends: dict[str, Backend] = {}

    @classmethod
    async def open(cls, settings: Settings, *, catalog: Catalog | None = None,
                   backend_factory: BackendFactory | None = None) -> Pipeline:
        catalog = catalog or load_catalog(settings.manifest)
        store = await Store.open(settings.database)
        # the detector's model and word lists read now, in a thread: read at the first
        # verdict, they held the event loop for about 1.5 s
        from bot.detector import warm

        await asyncio.to_thread(warm)
        expired = await store.forget_older_than(settings.retention_days)
        if expired:
            log.info("retention: deleted %d questions older than %d days", expired,
                     settings.retention_days)
        return cls(settings, catalog, store, Prompts(Path(settings.prompts_dir)), backend_factory)

    async def close(self) -> None:
        # every model at once: a local model's worker process takes a moment to exit
        results = await asyncio.gather(*(b.close() for b in self._backends.values()),
                                       return_exceptions=True)
        for backend, result in zip(self._backends.values(), results, strict=True):
            if isinstance(result, BaseException):
                log.warning("closing model %s failed: %s", backend.spec.id, result)
        self._backends.clear()
        await self.store.close()

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _default_backend(self, spec: ModelSpec) -> Backend:
        if spec.is_remote:
            from bot.backends.remote import RemoteBackend

            return RemoteBackend(spec)
        from bot.backends.local import LocalBackend

        return LocalBackend(spec, self.settings.resolved_models_dir,
                            self.settings.resolved_threads)

    def backend(self, spec: ModelSpec) -> Backend:
        if spec.id not in self._backends:
            self._backends[spec.id] = self._factory(spec)
        return self._backends[spec.id]

    async def warm(self, specs: Sequence[ModelSpec]) -> dict[str, str | None]:
        """Load models ahead of the first question; returns model id -> error (None if ok)."""
        async def one(spec: ModelSpec) -> str | None:
            try:
                await self.backend(spec).load()
            except (BackendError, ModelFileError) as exc:
                return str(exc)
            return None
        results = await asyncio.gather(*(one(s) for s in specs))
        return {s.id: r for s, r in zip(specs, results, strict=True)}

    async def check(self, spec: ModelSpec, question: str = "Say hello.",
                    max_tokens: int = 8) -> ModelCheck:
        """Load the model (a local one in its worker; a remote one is reached) and generate a
        few tokens through the path every question takes; nothing is stored."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        timeout = self._timeout(spec)
        try:
            async with asyncio.timeout(timeout):
                await self.backend(spec).load()
        except TimeoutError:
            return ModelCheck(spec, False, error=f"loading took more than {timeout:g} s")
        except (BackendError, ModelFileError) as exc:
            return ModelCheck(spec, False, error=str(exc))
        load_seconds = loop.time() - started
        answer = Answer(model=spec, profile="bare")
        await self._run_one(answer, question, detect(question), self.prompts.profile("bare"),
                            self.settings.resolved_threads, asyncio.Queue(),
                            max_tokens=max_tokens)
        ok = answer.error is None and bool(answer.completion_tokens)
        return ModelCheck(spec, ok, load_seconds, answer.first_token_seconds,
                          answer.tokens_per_second, answer.completion_tokens,
                          answer.error or (None if ok else "no token generated"))

    def _timeout(self, spec: ModelSpec) -> float:
        """The seconds one model may take: the setting when given, else the model's own."""
        return self.settings.timeout_seconds or spec.timeout_seconds

    async def _preload(self, spec: ModelSpec) -> None:
        try:
            await self.backend(spec).load()
        except Exception as exc:  # the model's own turn loads it again and reports the error
            log.debug("model %s: loading ahead failed: %s", spec.id, exc)

    # -- ask ---------------------------------------------------------------------------------
    async def ask(self, raw: str, *, models: Sequence[str] | None = None,
                  profile: str | None = None, source: str = "terminal",
                  user_ref: str | None = None, chat_ref: str | None = None,
                  ui_language: str | None = None, job_id: int | None = None,
                  resume: int | None = None, language: str | None = None,
                  max_tokens: int | None = None, run_id: int | None = None,
                  prepared_id: str | None = None) -> AsyncIterator[Event]:
        """``job_id``: a queued job (the Telegram bot's) linked to the stored question in the
        same transaction. ``resume``: the id of a question stored earlier whose answers never
        were (its process was killed): answered again under that id if it is still there,
        stored anew otherwise. ``language``: the question's language when the caller knows it
        (a prepared question), instead of detecting it. ``max_tokens``: each answer's limit,
        instead of the settings' or the model's. ``run_id`` and ``prepared_id``: the probe run
        and the battery question this is (bot/probe.py)."""
        admitted = await self._admit(raw, models=models, profile=profile, source=source,
                                     user_ref=user_ref, chat_ref=chat_ref,
                                     ui_language=ui_language, job_id=job_id, resume=resume,
                                     language=language, run_id=run_id,
                                     prepared_id=prepared_id)
        yield admitted.event
        if isinstance(admitted.event, Rejected):
            return
        accepted, prof = admitted.event, admitted.profile
        assert prof is not None
        answers = [Answer(model=s, profile=accepted.profile, profile_version=prof.version)
                   for s in accepted.models]
        finished = False
        try:
            async for event in self._run_models(accepted, prof, answers, max_tokens):
                yield event
            self._judge(accepted.text, accepted.language, answers)
            await self._store_answers(accepted.question_id, answers)
            finished = True
            yield Judged(accepted.question_id, accepted.text, accepted.language,
                         accepted.profile, tuple(answers))
        finally:
            if not finished:
                try:
                    await self.store.set_question_status(accepted.question_id, "cancelled")
                except Exception as exc:  # it stays "pending": the answers were not stored
                    log.warning("question %s: could not be marked cancelled: %s",
                                accepted.question_id, exc)

    async def run(self, raw: str, **options: Any) -> Judged | Rejected:
        """``ask`` for callers that want only the outcome: the final ``Judged``, or the
        ``Rejected`` that ended it (the same options as ``ask``)."""
        outcome: Judged | Rejected | None = None
        async for event in self.ask(raw, **options):
            if isinstance(event, Judged | Rejected):
                outcome = event
        assert outcome is not None
        return outcome

    async def screen(self, raw: str, *, source: str = "terminal", user_ref: str | None = None,
                     chat_ref: str | None = None,
                     ui_language: str | None = None) -> Rejected | None:
        """The checks on the text alone, for a front end that queues questions before asking
        them: an empty message or one in an unsupported language is turned away now — stored,
        as ``ask`` stores it — rather than after its wait in the queue, where it also held its
        asker's one place (the Telegram bot, tried by hand on 2026-12-07: a blank message
        behind two questions was told "the message is empty" only when its turn came, and the
        question in German its asker sent meanwhile was refused as a second one waiting, not
        as German). None: the text may be asked; ``ask`` checks everything again (models and
        profile too) when its turn comes."""
        text = clean_text(raw)
        if text and detect(text).supported:
            return None
        admitted = await self._admit(raw, models=None, profile=None, source=source,
                                     user_ref=user_ref, chat_ref=chat_ref,
                                     ui_language=ui_language, job_id=None, resume=None)
        assert isinstance(admitted.event, Rejected)
        return admitted.event

    # -- the steps of ask ------------------------------------------------------------------
    async def _admit(self, raw: str, *, models: Sequence[str] | None, profile: str | None,
                     source: str, user_ref: str | None, chat_ref: str | None,
                     ui_language: str | None, job_id: int | None,
                     resume: int | None, language: str | None = None,
                     run_id: int | None = None, prepared_id: str | None = None) -> _Admitted:
        """Clean the text, detect its language, choose the models and the profile, and store
        the question — rejected ones too, before any model runs: a question that cannot be
        stored is not asked."""
        text = clean_text(raw)
        if not text:
            return _Admitted(Rejected(None, "empty", t(ui_language, "empty_question")))
        notes: list[Note] = []
        lang = (Language(language, True, "Hans" if language == "zh" else "")
                if language in SUPPORTED else detect(text))
        ui = ui_language or (lang.code if lang.supported else "en")
        if len(text) > MAX_QUESTION_CHARS:
            notes.append(Note("question_too_long", {"length": len(text),
                                                    "limit": MAX_QUESTION_CHARS}))
            text = text[:MAX_QUESTION_CHARS]
        profile_name = profile or self.settings.profile
        problem: tuple[RejectReason, str] | None = None
        specs: list[ModelSpec] = []
        prof: Profile | None = None
        try:
            prof = self.prompts.profile(profile_name)
        except PromptError:
            problem = ("unknown_profile", t(ui, "unknown_profile", profile=profile_name,
                                            known=", ".join(self.prompts.profile_names())))
        try:
            specs = self.catalog.select(list(models or self.settings.models))
        except UnknownModelError as exc:
            problem = problem or ("unknown_model", t(ui, "unknown_model", model=exc.model_id,
                                                     known=", ".join(exc.known)))
        if not lang.supported:
            problem = ("unsupported_language", lang.unsupported_message())
        try:
            if resume is not None and not problem and await self.store.reopen_question(resume):
                qid = resume
            else:
                qid = await self.store.save_question(
                    # a rejected message is kept only as far as needed to study what was
                    # rejected
                    text=text[:REJECTED_KEEP_CHARS] if problem else text,
                    language=lang.code, script=lang.script,
                    supported=lang.supported, profile=profile_name, source=source,
                    user_ref=user_ref, chat_ref=chat_ref,
                    status="rejected" if problem else "pending",
                    note=problem[0] if problem else "; ".join(n.code for n in notes),
                    job_id=job_id, run_id=run_id, prepared_id=prepared_id)
        except sqlite3.Error as exc:
            raise self._storage_error(exc) from exc
        if problem or prof is None:
            reason, message = problem or ("unknown_profile", "")
            return _Admitted(Rejected(qid, reason, message, lang))
        return _Admitted(Accepted(qid, text, lang, profile_name, tuple(specs),
                                  tuple(note_text(ui, n) for n in notes), ui), prof)

    async def _run_models(self, accepted: Accepted, prof: Profile, answers: list[Answer],
                          max_tokens: int | None = None) -> AsyncIterator[Event]:
        """Ask every model, one after another or all at once (``settings.schedule``), and
        yield their events as they come; each model's failure stays in its own answer."""
        specs, text, language = accepted.models, accepted.text, accepted.language
        queue: asyncio.Queue[object] = asyncio.Queue()
        threads = self.settings.resolved_threads
        parallel = self.settings.schedule == "parallel" and len(specs) > 1
        per_model_threads = max(1, threads // len(specs)) if parallel else threads

        async def run_all() -> None:
            # every model starts loading now (each in its own process), so a model's load
            # overlaps the models answering before it; _run_one reports any load error
            loads = [asyncio.create_task(self._preload(s)) for s in specs]
            try:
                if parallel:
                    await asyncio.gather(*(self._run_one(a, text, language, prof, per_model_threads,
                                                         queue, max_tokens) for a in answers))
                else:
                    for a in answers:
                        await self._run_one(a, text, language, prof, per_model_threads, queue,
                                            max_tokens)
            finally:
                for load in loads:
                    load.cancel()
                queue.put_nowait(_DONE)

        task = asyncio.create_task(run_all(), name=f"ask-{accepted.question_id}")
        try:
            while (event := await queue.get()) is not _DONE:
                yield cast(Event, event)  # the queue holds events, then _DONE
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _store_answers(self, question_id: int, answers: list[Answer]) -> None:
        try:
            ids = await self.store.save_answers(question_id, (a.record() for a in answers))
        except sqlite3.Error as exc:
            raise self._storage_error(exc) from exc
        for a, answer_id in zip(answers, ids, strict=True):
            a.answer_id = answer_id

    def _storage_error(self, exc: sqlite3.Error) -> StorageError:
        return StorageError(
            f"the database {self.settings.database} cannot be written ({exc}): free disk space, "
            "or stop the other process that holds it locked, then ask again")

    async def _run_one(self, answer: Answer, text: str, language: Language, prof: Profile,
                       threads: int, queue: asyncio.Queue[object],
                       max_tokens: int | None = None) -> None:
        spec = answer.model
        queue.put_nowait(AnswerStarted(spec))
        loop = asyncio.get_running_loop()
        timeout = self._timeout(spec)
        splitter = ThinkSplitter()
        usage = Usage()
        started = first = None
        try:
            async with asyncio.timeout(timeout):
                backend = self.backend(spec)
                await backend.load()
                request, answer.truncated = await self._request(backend, spec, text, language,
                                                                prof, threads, max_tokens)
                started = loop.time()
                stream = backend.stream(request, usage)
                # backends' streams are async generators: closing one stops the model at once
                async with contextlib.aclosing(cast(AsyncGenerator[str, None], stream)):
                    async for chunk in stream:
                        if chunk is RESTART:
                            splitter = ThinkSplitter()
                            first = None
                            queue.put_nowait(Token(spec, "", "", restart=True))
                            continue
                        if first is None:
                            first = loop.time()
                        visible, thinking = splitter.feed(chunk)
                        if visible or thinking:
                            queue.put_nowait(Token(spec, visible, thinking))
        except TimeoutError:
            answer.timed_out, answer.timeout_seconds = True, timeout
            answer.error_code, answer.error = "timed_out", f"timed out after {timeout:g} s"
        except (BackendError, ModelFileError, PromptError) as exc:
            answer.error_code, answer.error = "failed", str(exc)
        except Exception as exc:  # one model's failure never stops the others
            log.exception("model %s failed", spec.id)
            answer.error_code, answer.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            end = loop.time()
            splitter.finish()
            answer.text = splitter.visible.strip()
            answer.thinking = None if splitter.thinking is None else splitter.thinking.strip()
            if started is not None:
                answer.seconds = end - started
                answer.first_token_seconds = None if first is None else first - started
            answer.prompt_tokens = usage.prompt_tokens or None
            answer.completion_tokens = usage.completion_tokens or None
            answer.endpoint, answer.retried = usage.endpoint or None, usage.retried
            answer.finish_reason = usage.finish_reason or None
            if first is not None and usage.completion_tokens > 1 and end > first:
                answer.tokens_per_second = (usage.completion_tokens - 1) / (end - first)
            queue.put_nowait(AnswerFinished(answer))

    async def _request(self, backend: Backend, spec: ModelSpec, text: str, language: Language,
                       prof: Profile, threads: int,
                       max_tokens: int | None = None) -> tuple[Request, bool]:
        """Build the request, cutting the question so prompt + answer fit the context."""
        max_tokens = max_tokens or self.settings.max_tokens or spec.max_tokens
        system = prof.system_for(language.code)
        template = self.prompts.template(spec.template_name) if spec.template_name else None
        fixed = await backend.count_tokens(system) if system else 0
        if template is not None:
            fixed += await backend.count_tokens(template.render("", system, language.code))
        budget = spec.n_ctx - max_tokens - TEMPLATE_MARGIN - fixed
        truncated = await backend.count_tokens(text) > budget
        if truncated:
            note = t(language.code, "truncated_note")
            text = await backend.cut(text, budget - await backend.count_tokens(note)) + note
        common: dict[str, Any] = dict(
            max_tokens=max_tokens, temperature=spec.temperature, top_p=spec.top_p,
            repeat_penalty=spec.repeat_penalty, seed=spec.seed, threads=threads)
        if template is not None:
            prompt = template.render(text, system, language.code)
            return Request(prompt=prompt, stop=(*template.stop, *spec.stop), **common), truncated
        return Request(messages=prof.messages(text, language.code), stop=spec.stop,
                       **common), truncated

    @staticmethod
    def _judge(question: str, language: Language, answers: list[Answer]) -> None:
        from bot.detector import judge

        for a in answers:
            peers = [b.text for b in answers if b is not a and b.error is None]
            j = judge(question, a.text, thinking=a.thinking, lang=language.code, peers=peers,
                      error=a.error)
            a.verdict, a.score = j.verdict, round(j.score, 3)
            a.reasons = [r.to_dict() for r in j.reasons]
