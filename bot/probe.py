"""Probe runs: the battery (``prompts/questions/``) asked to chosen models in chosen languages,
as one named, resumable run.

A run is the batch form of a question: ``Probe.events`` drives the same ``Pipeline.ask`` that
live questions take, once per (battery question, language), asking only the models whose cell
is not done yet (a cell is done when its latest answer has no error). So a second run of the
same plan asks nothing that is done, a run stopped half-way (Ctrl-C, a kill) goes on where it
stopped, and a model that fails mid-run leaves its cells as errors while the others complete;
running the plan again asks those cells again. Every answer is an ordinary stored question and
answer (source ``probe``) linked to its run and battery question (bot/schema/005_runs.sql).

The events are typed, for front ends to render (the terminal's progress bar, the bot's
progress message): ``ProbeStarted``, one ``CellDone`` per answer, ``ProbeFinished``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.errors import ParallaxError
from bot.pipeline import AnswerFinished, Pipeline, Rejected
from bot.prompts import BATTERY_LANGUAGES, PreparedQuestion, Prompts

#: answers are cut at this many tokens unless the plan says otherwise: the start of an answer
#: is what tells a refusal, an evasion or a talking point, and the full battery must fit in
#: minutes (docs/performance.md, benchmarks/probe.py)
PROBE_MAX_TOKENS = 96


class ProbeError(ParallaxError):
    """A probe that cannot be run as asked (unknown topic or run, a plan that differs from
    the run it names)."""


@dataclass(frozen=True)
class Plan:
    """What a run asks: every question of ``questions`` in every language, to every model."""

    name: str
    models: tuple[str, ...]
    languages: tuple[str, ...]
    topics: tuple[str, ...]  # () = every topic
    ids: tuple[str, ...]  # () = every question of the topics
    profile: str
    max_tokens: int
    questions: tuple[PreparedQuestion, ...]

    @property
    def total(self) -> int:
        return len(self.questions) * len(self.languages) * len(self.models)


def select_questions(prompts: Prompts, topics: Sequence[str] = (),
                     ids: Sequence[str] = ()) -> list[PreparedQuestion]:
    """The battery's questions of the given topics (a topic may also be "sensitive" or
    "control"), or with the given ids; all of them when neither is given."""
    known = prompts.topics()
    questions = prompts.questions()
    for topic in topics:
        if topic not in known and topic not in ("sensitive", "control"):
            raise ProbeError(f"unknown topic {topic!r}; topics: sensitive, control, "
                             + ", ".join(known))
    by_id = {q.id: q for q in questions}
    for qid in ids:
        if qid not in by_id:
            raise ProbeError(f"unknown battery question {qid!r} (ids are in prompts/questions/)")
    chosen = [q for q in questions
              if (not topics or q.topic in topics or q.kind in topics)
              and (not ids or q.id in ids)]
    if not chosen:
        raise ProbeError("no battery question matches the topics given")
    return chosen


def plan_name(models: Sequence[str], languages: Sequence[str], topics: Sequence[str],
              ids: Sequence[str], profile: str, max_tokens: int) -> str:
    """The run a plan is by default: the same plan has the same name, so running it again
    goes on with it."""
    key = json.dumps([sorted(models), list(languages), sorted(topics), sorted(ids), profile,
                      max_tokens])
    return "probe-" + hashlib.sha256(key.encode()).hexdigest()[:8]


async def make_plan(pipeline: Pipeline, *, models: Sequence[str] = (),
                    languages: Sequence[str] = (), topics: Sequence[str] = (),
                    ids: Sequence[str] = (), profile: str | None = None,
                    max_tokens: int | None = None, name: str | None = None,
                    new: bool = False) -> Plan:
    """The plan for these options. A ``name`` that is already a run goes on with that run's
    own settings (options that contradict them are an error); ``new`` starts a fresh run
    whose name carries the time."""
    store = pipeline.store
    existing = await store.run(name) if name else None
    if existing is not None and not new:
        given = {"models": list(models), "languages": list(languages),
                 "topics": list(topics), "questions": list(ids), "profile": profile,
                 "max_tokens": max_tokens}
        for key, value in given.items():
            if value and value != existing[key]:
                raise ProbeError(f"run {existing['name']!r} was made with {key} "
                                 f"{existing[key]}, not {value}: name another run with --run")
        models, languages = existing["models"], existing["languages"]
        topics, ids = existing["topics"], existing["questions"]
        profile, max_tokens = existing["profile"], existing["max_tokens"]
    try:
        specs = pipeline.catalog.select(list(models or pipeline.settings.models))
    except ParallaxError as exc:
        raise ProbeError(str(exc)) from exc
    chosen_languages = tuple(languages or BATTERY_LANGUAGES)
    for lang in chosen_languages:
        if lang not in BATTERY_LANGUAGES:
            raise ProbeError(f"unknown language {lang!r}; the battery is in "
                             + ", ".join(BATTERY_LANGUAGES))
    profile = profile or pipeline.settings.profile
    pipeline.prompts.profile(profile)  # an unknown profile is refused here (PromptError)
    max_tokens = max_tokens or PROBE_MAX_TOKENS
    questions = select_questions(pipeline.prompts, topics, ids)
    model_ids = tuple(s.id for s in specs)
    if name is None or new:
        base = name or plan_name(model_ids, chosen_languages, topics, ids, profile,
                                 max_tokens)
        name = base if not new else f"{base}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    return Plan(name, model_ids, chosen_languages, tuple(topics), tuple(ids), profile,
                max_tokens, tuple(questions))


# -- events ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeStarted:
    run_id: int
    name: str
    total: int  # cells in the plan
    done: int  # cells already done (a run going on)


@dataclass(frozen=True)
class CellDone:
    prepared_id: str
    language: str
    model_id: str
    verdict: str | None
    error: str | None
    done: int
    total: int
    #: seconds left at the pace of this run's questions so far (None before the first)
    eta_seconds: float | None


@dataclass(frozen=True)
class ProbeFinished:
    run_id: int
    name: str
    done: int
    errors: int  # cells whose latest answer is an error
    total: int
    seconds: float


ProbeEvent = ProbeStarted | CellDone | ProbeFinished


@dataclass
class Probe:
    pipeline: Pipeline
    plan: Plan
    source: str = "probe"
    #: called between two questions: the bot awaits its live questions here, so that a
    #: probe never holds the models for more than one question at a time
    between: Any = None
    _run_id: int | None = field(default=None, init=False)

    async def _open_run(self) -> int:
        store, plan = self.pipeline.store, self.plan
        run = await store.run(plan.name)
        if run is None:
            return await store.create_run(
                name=plan.name, profile=plan.profile, models=list(plan.models),
                languages=list(plan.languages), topics=list(plan.topics),
                questions=list(plan.ids), max_tokens=plan.max_tokens)
        await store.set_run_status(int(run["id"]), "running")
        return int(run["id"])

    async def events(self) -> AsyncIterator[ProbeEvent]:
        plan, store = self.plan, self.pipeline.store
        run_id = self._run_id = await self._open_run()
        done_cells = {(c["prepared_id"], c["language"], c["model_id"])
                      for c in await store.run_cells(run_id) if c["error_code"] is None}
        wanted = {(q.id, lang, m) for q in plan.questions for lang in plan.languages
                  for m in plan.models}
        done = len(done_cells & wanted)
        yield ProbeStarted(run_id, plan.name, plan.total, done)
        started = time.monotonic()
        asked_cells = 0
        finished = False
        try:
            for lang in plan.languages:
                for q in plan.questions:
                    missing = [m for m in plan.models if (q.id, lang, m) not in done_cells]
                    if not missing:
                        continue
                    if self.between is not None:
                        await self.between()
                    async for event in self.pipeline.ask(
                            q.texts[lang], models=missing, profile=plan.profile,
                            source=self.source, language=lang, max_tokens=plan.max_tokens,
                            run_id=run_id, prepared_id=q.id):
                        if isinstance(event, Rejected):
                            raise ProbeError(f"{q.id} ({lang}) was not asked: {event.message}")
                        if isinstance(event, AnswerFinished):
                            answer = event.answer
                            asked_cells += 1
                            done += answer.error is None
                            left = plan.total - done
                            pace = (time.monotonic() - started) / asked_cells
                            yield CellDone(q.id, lang, answer.model.id, answer.verdict,
                                           answer.error, done, plan.total, pace * left)
            finished = True
        finally:
            cells = [c for c in await store.run_cells(run_id)
                     if (c["prepared_id"], c["language"], c["model_id"]) in wanted]
            errors = sum(c["error_code"] is not None for c in cells)
            status = "done" if finished and not errors else "stopped"
            await store.set_run_status(run_id, status)
        yield ProbeFinished(run_id, plan.name, len(cells) - errors, errors, plan.total,
                            time.monotonic() - started)

    async def run(self) -> ProbeFinished:
        last: ProbeFinished | None = None
        async for event in self.events():
            if isinstance(event, ProbeFinished):
                last = event
        assert last is not None
        return last
