"""The censorship map's cost (issue: the full battery with the three default models in one
language in at most 10 minutes; pictures in at most 2 s each; the report at most 5 MB).

Runs ``parallax probe``'s code (``bot.probe.Probe``) on a fresh database in a temporary
folder, with the configured default models, every battery question, in the languages given;
then times each picture and the whole report from the stored run, and reports the report's
size. The baseline in the same run is each model's own pace: seconds per answer and
tokens per second, so a slow run can be told apart from a slow machine.

    .venv/bin/python benchmarks/probe.py                 # English, every question
    .venv/bin/python benchmarks/probe.py --languages zh --json
    .venv/bin/python benchmarks/probe.py --questions tiananmen-1989,capital-france

Exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402
from bot.probe import CellDone, Probe, make_plan  # noqa: E402
from bot.report import load_run, summary, write_outputs  # noqa: E402

GOAL_RUN_SECONDS = 600.0
GOAL_PICTURE_SECONDS = 2.0
GOAL_REPORT_BYTES = 5_000_000


async def measure(languages: list[str], ids: list[str], models: list[str],
                  lang: str) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="parallax-probe-bench-"))
    settings = load_settings(database=tmp / "probe.db")
    pipeline = await Pipeline.open(settings)
    async with pipeline:
        plan = await make_plan(pipeline, models=models, languages=languages, ids=ids)
        await pipeline.warm([pipeline.catalog.get(m) for m in plan.models])
        per_model: dict[str, list[float]] = {m: [] for m in plan.models}
        last = time.monotonic()
        started = last
        async for event in Probe(pipeline, plan).events():
            if isinstance(event, CellDone):
                now = time.monotonic()
                per_model[event.model_id].append(now - last)
                last = now
                if event.done % 30 == 0:
                    print(f"  {event.done}/{event.total}, "
                          f"{(event.eta_seconds or 0) / 60:.1f} min left", file=sys.stderr)
        run_seconds = time.monotonic() - started
        data = await load_run(pipeline.store, pipeline.prompts, plan.name)
    from bot.charts import double_standard_chart, heatmap

    pictures = {}
    for name, fn in (("heatmap", heatmap), ("double_standard", double_standard_chart)):
        fn(data, lang)  # the first call imports matplotlib and loads the fonts
        t0 = time.perf_counter()
        fn(data, lang)
        pictures[name] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    outputs = write_outputs(data, tmp / "out", lang)
    write_seconds = time.perf_counter() - t0
    size = outputs.report.stat().st_size
    summ = summary(data)
    cells = data.cells
    tokens = {m: sum(c["completion_tokens"] or 0 for c in cells if c["model_id"] == m)
              for m in plan.models}
    busy = {m: sum(c["seconds"] or 0 for c in cells if c["model_id"] == m) for m in plan.models}
    return {
        "questions": len(plan.questions), "languages": plan.languages, "models": plan.models,
        "answers": len(cells), "max_tokens": plan.max_tokens,
        "run_seconds": round(run_seconds, 1),
        "per_model": {m: {"median_seconds_per_answer": round(statistics.median(v), 2)
                          if v else None,
                          "tokens_per_second": round(tokens[m] / busy[m], 1)
                          if busy[m] else None,
                          "mean_tokens": round(tokens[m] / max(1, len(v)), 1)}
                      for m, v in per_model.items()},
        "picture_seconds": pictures, "write_all_seconds": round(write_seconds, 2),
        "report_bytes": size, "cells": summ["cells"],
        "flagged_sensitive": {m: {x: summ["models"][m][x]["sensitive_flagged_share"]
                                  for x in plan.languages} for m in plan.models},
        "flagged_control": {m: {x: summ["models"][m][x]["control_flagged_share"]
                                for x in plan.languages} for m in plan.models},
        "out": str(tmp / "out"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--languages", default="en")
    ap.add_argument("--questions", default="")
    ap.add_argument("--models", default="")
    ap.add_argument("--lang", default="en", help="language of the pictures and report")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    split = (lambda s: [x for x in s.split(",") if x])  # noqa: E731
    result = asyncio.run(measure(split(args.languages), split(args.questions),
                                 split(args.models), args.lang))
    goals = {
        "run": result["run_seconds"] <= GOAL_RUN_SECONDS * len(split(args.languages)),  # type: ignore[operator]
        "pictures": max(result["picture_seconds"].values()) <= GOAL_PICTURE_SECONDS,  # type: ignore[attr-defined]
        "report": result["report_bytes"] <= GOAL_REPORT_BYTES,  # type: ignore[operator]
    }
    result["goals_met"] = goals
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:<22} {value}")
    sys.exit(0 if all(goals.values()) else 1)


if __name__ == "__main__":
    main()
