"""What a probe run found, read from the database: the cells, the summary, and the files
``parallax probe`` and ``parallax report RUN`` write (``results.jsonl``, ``summary.json``,
``heatmap.png``, ``double_standard.png``, ``report.html``).

Apart from the front ends and the detector: this module reads stored runs through the store's
named queries (``Store.run``, ``Store.run_cells``) and never runs a model. Words come from
bot/i18n in the reader's language; the files' figures are the same in every language.

Definitions, used everywhere the run is shown:

- a cell is one model's latest answer to one battery question in one language;
- a cell is *flagged* when its verdict is ``refused`` or ``evasive`` (talking points are
  evasive); the flagged share of a topic is flagged / judged, where judged leaves out errors
  (the model failed) and not-yet-asked cells, and keeps ``degenerate`` answers (a model that
  loops is not censoring, and must not look as if it were);
- a *double standard* is a question a model answered in one language and refused or evaded in
  another.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ParallaxError
from bot.prompts import PreparedQuestion, Prompts, Topic
from bot.store import Store

FLAGGED = ("refused", "evasive")


class ReportError(ParallaxError):
    """A run that cannot be reported (unknown, or with nothing stored)."""


@dataclass(frozen=True)
class RunData:
    run: dict[str, Any]
    cells: list[dict[str, Any]]
    questions: dict[str, PreparedQuestion]  # prepared id -> question (the battery's)
    topics: dict[str, Topic]
    _by_key: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict,
                                                                 init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_key.update({(c["prepared_id"], c["language"], c["model_id"]): c
                             for c in self.cells})

    @property
    def models(self) -> list[str]:
        return list(self.run["models"])

    @property
    def languages(self) -> list[str]:
        return list(self.run["languages"])

    def topic_order(self) -> list[str]:
        """The run's topics, sensitive first, in the battery's order."""
        used = {self.topic_of(qid) for qid in planned_questions(self)}
        names = [n for n in self.topics if n in used]
        names += sorted(used - set(names))
        return sorted(names, key=lambda n: self.kind_of(n) != "sensitive")

    def topic_of(self, prepared_id: str) -> str:
        q = self.questions.get(prepared_id)
        return q.topic if q else "unknown"

    def kind_of(self, topic: str) -> str:
        t = self.topics.get(topic)
        return t.kind if t else "sensitive"

    def topic_label(self, topic: str, lang: str) -> str:
        t = self.topics.get(topic)
        return t.label(lang) if t else topic

    def question_text(self, prepared_id: str, lang: str) -> str:
        q = self.questions.get(prepared_id)
        if q and lang in q.texts:
            return q.texts[lang]
        return next((c["question"] for c in self.cells if c["prepared_id"] == prepared_id),
                    prepared_id)

    def cell(self, prepared_id: str, lang: str, model: str) -> dict[str, Any] | None:
        return self._by_key.get((prepared_id, lang, model))


async def load_run(store: Store, prompts: Prompts, ref: str | int) -> RunData:
    run = await store.run(ref)
    if run is None:
        names = [r["name"] for r in await store.runs()][:10]
        known = ", ".join(names) if names else "none yet: run parallax probe"
        raise ReportError(f"no probe run {ref!r}; runs: {known}")
    cells = await store.run_cells(int(run["id"]))
    return RunData(run, cells, {q.id: q for q in prompts.questions()}, prompts.topics())


def verdict_of(cell: dict[str, Any] | None) -> str:
    """The cell's verdict: ``missing`` when not asked, ``error`` when the model failed."""
    if cell is None:
        return "missing"
    if cell.get("error_code"):
        return "error"
    return str(cell.get("verdict") or "error")


# -- the summary ----------------------------------------------------------------------------
def judged_count(counts: Counter[str]) -> int:
    """How many of these cells hold a verdict (not an error, and asked)."""
    return sum(n for v, n in counts.items() if v not in ("error", "missing"))


def share(counts: Counter[str]) -> float | None:
    """The flagged share: flagged / judged; None when nothing was judged."""
    judged = judged_count(counts)
    if not judged:
        return None
    return sum(counts[v] for v in FLAGGED) / judged


def topic_counts(data: RunData) -> dict[tuple[str, str, str], Counter[str]]:
    """(language, model, topic) -> verdict counts over the plan's questions."""
    out: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    asked = planned_questions(data)
    for lang in data.languages:
        for model in data.models:
            for qid in asked:
                out[(lang, model, data.topic_of(qid))][verdict_of(data.cell(qid, lang, model))] += 1
    return out


def planned_questions(data: RunData) -> list[str]:
    """The ids of the questions the run planned (the battery's, as it is now), then any it
    holds answers to that the battery no longer has."""
    topics, ids = data.run["topics"], data.run.get("questions") or []
    planned = [q.id for q in data.questions.values()
               if (not topics or q.topic in topics or q.kind in topics)
               and (not ids or q.id in ids)]
    stored = {c["prepared_id"] for c in data.cells}
    return planned + sorted(stored - set(planned))


def double_standards(data: RunData) -> dict[str, list[dict[str, Any]]]:
    """model -> the questions it answered in one language and refused or evaded in another,
    each with its verdict per language."""
    out: dict[str, list[dict[str, Any]]] = {m: [] for m in data.models}
    if len(data.languages) < 2:
        return out
    for model in data.models:
        for qid in planned_questions(data):
            verdicts = {lang: verdict_of(data.cell(qid, lang, model)) for lang in data.languages}
            answered = [lang for lang, v in verdicts.items() if v == "answered"]
            flagged = [lang for lang, v in verdicts.items() if v in FLAGGED]
            if answered and flagged:
                out[model].append({"question": qid, "topic": data.topic_of(qid),
                                   "verdicts": verdicts, "answered_in": answered,
                                   "flagged_in": flagged})
    return out


def summary(data: RunData) -> dict[str, Any]:
    """``summary.json``: the run, and per model and language the verdict counts and flagged
    share, overall, on sensitive topics, on controls, and per topic; the double standards."""
    counts = topic_counts(data)
    run = data.run
    per_model: dict[str, Any] = {}
    for model in data.models:
        per_lang: dict[str, Any] = {}
        for lang in data.languages:
            by_kind: dict[str, Counter[str]] = defaultdict(Counter)
            topics: dict[str, Any] = {}
            for topic in data.topic_order():
                c = counts.get((lang, model, topic), Counter())
                by_kind[data.kind_of(topic)] += c
                topics[topic] = {"counts": dict(c), "flagged_share": _r(share(c))}
            total = by_kind["sensitive"] + by_kind["control"]
            per_lang[lang] = {
                "counts": dict(total), "flagged_share": _r(share(total)),
                "sensitive_flagged_share": _r(share(by_kind["sensitive"])),
                "control_flagged_share": _r(share(by_kind["control"])),
                "topics": topics}
        per_model[model] = per_lang
    doubles = double_standards(data)
    planned = sum(sum(c.values()) for c in counts.values())
    missing = sum(c["missing"] for c in counts.values())
    return {
        "run": {"id": run["id"], "name": run["name"], "created_at": run["created_at"],
                "updated_at": run["updated_at"], "status": run["status"],
                "profile": run["profile"], "models": data.models,
                "languages": data.languages, "topics": run["topics"],
                "questions": run.get("questions") or [],
                "max_tokens": run["max_tokens"]},
        "definitions": {"flagged": list(FLAGGED),
                        "flagged_share": "flagged / judged (errors and cells not asked left "
                                         "out; degenerate answers kept)",
                        "double_standard": "answered in one language, refused or evasive in "
                                           "another"},
        "cells": {"planned": planned, "stored": planned - missing, "missing": missing,
                  "errors": sum(c["error"] for c in counts.values())},
        "models": per_model,
        "double_standards": {m: {"count": len(v), "questions": v} for m, v in doubles.items()},
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def result_rows(data: RunData) -> list[dict[str, Any]]:
    """``results.jsonl``: one row per stored cell."""
    rows = []
    for c in sorted(data.cells, key=lambda c: (c["prepared_id"], c["language"], c["model_id"])):
        rows.append({"run": data.run["name"], "question": c["prepared_id"],
                     "topic": data.topic_of(c["prepared_id"]),
                     "kind": data.kind_of(data.topic_of(c["prepared_id"])),
                     "language": c["language"], "model": c["model_id"],
                     "question_text": c["question"], "answer": c["text"],
                     "thinking": c["thinking"], "verdict": verdict_of(c), "score": c["score"],
                     "reasons": c["reasons"], "error": c["error"],
                     "truncated": c["truncated"], "answer_id": c["answer_id"],
                     "question_id": c["question_id"]})
    return rows


# -- the files ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outputs:
    results: Path
    summary: Path
    heatmap: Path
    double_standard: Path
    report: Path

    def all(self) -> list[Path]:
        return [self.results, self.summary, self.heatmap, self.double_standard, self.report]


def write_outputs(data: RunData, out_dir: Path, lang: str = "en") -> Outputs:
    """Write every file of the run into ``out_dir`` (made if needed), pictures and report in
    ``lang``."""
    from bot.charts import double_standard_chart, heatmap
    from bot.html_report import render_report

    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = Outputs(out_dir / "results.jsonl", out_dir / "summary.json",
                      out_dir / "heatmap.png", out_dir / "double_standard.png",
                      out_dir / "report.html")
    with outputs.results.open("w", encoding="utf-8") as fh:
        for row in result_rows(data):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    summ = summary(data)
    outputs.summary.write_text(json.dumps(summ, ensure_ascii=False, indent=2) + "\n",
                               encoding="utf-8")
    heat_png = heatmap(data, lang).png
    ds_png = double_standard_chart(data, lang).png
    outputs.heatmap.write_bytes(heat_png)
    outputs.double_standard.write_bytes(ds_png)
    outputs.report.write_text(render_report(data, summ, lang, heat_png, ds_png),
                              encoding="utf-8")
    return outputs
