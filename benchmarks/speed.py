"""Parallax against llama-cpp-python in a fresh process, on the same machine, in one run.

The baseline for each model is a fresh Python process that holds only that model and calls
``Llama.create_chat_completion(stream=True)`` with the same settings as Parallax (context,
threads, seed, temperature 0, repeat penalty, model parameters). Parallax is measured the way a
user meets it: one long-running pipeline with every model loaded, each question asked of all
the models in turn, so every model is measured *after the other models have answered*. The two
sides alternate round by round, so they share the machine's noise.

Then: memory once every round is done (each model has answered 1 + 3 × rounds questions, as in
a session), summed over every process (Parallax and its workers; PSS counts a page shared by
several processes once), and the two schedules (sequential / parallel) on one question.

    python benchmarks/speed.py                      # the default models, 3 rounds
    python benchmarks/speed.py --rounds 5 --model qwen2.5-coder-0.5b --json

Exits 1 if a model's speed is under 95% of the baseline, its time to first token more than
10% (and 20 ms) above it, or the memory over 1.0 GiB (MEMORY_GOAL_MIB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.catalog import ModelSpec, load_catalog  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.fetch import verify  # noqa: E402
from bot.pipeline import AnswerFinished, Judged, Pipeline, Token  # noqa: E402

# Long answers: every run stops at max_tokens on both sides, so both count the same tokens.
QUESTIONS = [
    "Write a long, detailed essay on the history of the French Revolution.",
    "Write a long, detailed essay on the causes of the First World War.",
    "Write a long, detailed essay on the history of the city of Paris.",
]

#: the baseline: llama-cpp-python alone in a fresh process, the same settings as a worker
DIRECT = r"""
import json, sys, time
from bot.backends.worker import open_llama
cfg = json.loads(sys.argv[1])
llama = open_llama(cfg, verbose=False)
out = []
for q in cfg["questions"]:
    t0 = time.perf_counter(); first = None; finish = None
    for chunk in llama.create_chat_completion(
            messages=[{"role": "user", "content": q}], max_tokens=cfg["max_tokens"],
            temperature=cfg["temperature"], top_p=cfg["top_p"],
            repeat_penalty=cfg["repeat_penalty"], seed=cfg["seed"], stream=True):
        choice = chunk["choices"][0]
        if first is None and (choice.get("delta") or {}).get("content"):
            first = time.perf_counter()
        finish = choice.get("finish_reason") or finish
    end = time.perf_counter()
    assert first is not None and finish == "length", finish
    out.append({"tps": (cfg["max_tokens"] - 1) / (end - first), "ttft": first - t0})
print(json.dumps(out))
"""


def direct_round(spec: ModelSpec, path: Path, max_tokens: int, threads: int) -> list[dict]:
    cfg = {"path": str(path), "n_ctx": spec.n_ctx, "threads": threads, "seed": spec.seed,
           "kv_cache": spec.kv_cache,
           "max_tokens": max_tokens, "temperature": spec.temperature, "top_p": spec.top_p,
           "repeat_penalty": spec.repeat_penalty, "questions": QUESTIONS}
    res = subprocess.run([sys.executable, "-c", DIRECT, json.dumps(cfg)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


#: the engine issue's goal: the three default models loaded, every process counted
MEMORY_GOAL_MIB = 1024


def memory_kb(pid: int) -> dict[str, int]:
    """Resident and proportional set size, and peak resident size, of one process (kB)."""
    out = {"rss": 0, "pss": 0, "hwm": 0}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                out[key.lower()] = int(rest.split()[0])
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                out["hwm"] = int(line.split()[1])
    return out


async def parallax_round(pipeline: Pipeline, specs: list[ModelSpec], max_tokens: int,
                         results: dict[str, dict[str, list[float]]]) -> None:
    for q in QUESTIONS:
        judged = await pipeline.run(q, models=[s.id for s in specs], source="bench")
        assert isinstance(judged, Judged)
        for a in judged.answers:
            assert a.error is None, a.error
            if a.model.template_name:  # a base model: no chat baseline to compare with
                continue
            assert a.completion_tokens == max_tokens, (a.model.id, a.completion_tokens)
            results[a.model.id]["tps"].append(a.tokens_per_second or 0.0)
            results[a.model.id]["ttft"].append(a.first_token_seconds or 0.0)


async def schedules(specs: list[ModelSpec], threads: int, max_tokens: int,
                    db: Path) -> dict[str, dict[str, float]]:
    out = {}
    for schedule in ("sequential", "parallel"):
        s = load_settings(None, env={}, database=db, threads=threads, max_tokens=max_tokens,
                          schedule=schedule)
        p = await Pipeline.open(s)
        async with p:
            await p.warm(specs)
            # one question first, so both schedules start from workers that have answered
            [e async for e in p.ask(QUESTIONS[1], models=[m.id for m in specs])]
            t0 = time.perf_counter()
            first_done = every_started = first_token = None
            started: set[str] = set()
            async for e in p.ask(QUESTIONS[0], models=[m.id for m in specs], source="bench"):
                if isinstance(e, Token):
                    if first_token is None and e.text:
                        first_token = time.perf_counter() - t0
                    started.add(e.model_id)
                    if len(started) == len(specs) and every_started is None:
                        every_started = time.perf_counter() - t0
                if isinstance(e, AnswerFinished) and first_done is None:
                    first_done = time.perf_counter() - t0
            total = time.perf_counter() - t0
        out[schedule] = {"first_visible_token_s": round(first_token or 0, 3),
                         "first_full_answer_s": round(first_done or 0, 2),
                         "every_model_started_s": round(every_started or 0, 2),
                         "all_answers_s": round(total, 2)}
    return out


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", help="model id (repeatable)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    db = Path(tempfile.mkdtemp(prefix="parallax-bench-")) / "bench.sqlite3"
    settings = load_settings(None, env={}, database=db, threads=args.threads,
                             max_tokens=args.max_tokens, schedule="sequential")
    catalog = load_catalog(settings.manifest)
    specs = catalog.select(args.model)
    chat = [s for s in specs if not s.template_name]
    paths = {s.id: verify(s, settings.resolved_models_dir) for s in chat}
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    say(f"threads={args.threads} max_tokens={args.max_tokens} rounds={args.rounds} "
        f"models={','.join(s.id for s in specs)}")

    results = {s.id: {"tps": [], "ttft": []} for s in chat}
    baseline = {s.id: {"tps": [], "ttft": []} for s in chat}
    memory: dict[str, object] = {}
    pss_total = 0
    pipeline = await Pipeline.open(settings)
    async with pipeline:
        errors = await pipeline.warm(specs)
        if any(errors.values()):
            say(errors)
            return 2
        # a first question to every model: from here on each has answered, as in a session
        await pipeline.run(QUESTIONS[2], models=[s.id for s in specs])
        for r in range(args.rounds):
            sides = ("parallax", "direct") if r % 2 == 0 else ("direct", "parallax")
            for side in sides:
                if side == "parallax":
                    await parallax_round(pipeline, specs, args.max_tokens, results)
                    continue
                for s in chat:
                    for row in await asyncio.to_thread(direct_round, s, paths[s.id],
                                                       args.max_tokens, args.threads):
                        baseline[s.id]["tps"].append(row["tps"])
                        baseline[s.id]["ttft"].append(row["ttft"])
            say(f"round {r + 1}/{args.rounds} done")
        procs = {"parallax": os.getpid()}
        for s in specs:
            pid = getattr(pipeline.backend(s), "pid", None)
            if pid:
                procs[s.id] = pid
        per = {name: memory_kb(pid) for name, pid in procs.items()}
        pss_total = round(sum(m["pss"] for m in per.values()) / 1024)
        memory = {"processes": per, "total_pss_mib": pss_total,
                  "total_rss_mib": round(sum(m["rss"] for m in per.values()) / 1024),
                  "total_peak_rss_mib": round(sum(m["hwm"] for m in per.values()) / 1024)}

    rows = []
    ok = True
    for s in chat:
        p_tps, d_tps = statistics.median(results[s.id]["tps"]), statistics.median(
            baseline[s.id]["tps"])
        p_ttft, d_ttft = statistics.median(results[s.id]["ttft"]), statistics.median(
            baseline[s.id]["ttft"])
        speed_ok = p_tps >= 0.95 * d_tps
        ttft_ok = p_ttft <= max(1.10 * d_ttft, d_ttft + 0.02)
        ok = ok and speed_ok and ttft_ok
        rows.append({"model": s.id, "parallax_tps": round(p_tps, 1),
                     "fresh_process_tps": round(d_tps, 1), "speed_ratio": round(p_tps / d_tps, 3),
                     "parallax_ttft_s": round(p_ttft, 3), "fresh_process_ttft_s": round(d_ttft, 3),
                     "ttft_ratio": round(p_ttft / d_ttft, 3), "ok": speed_ok and ttft_ok})
    memory_ok = pss_total <= MEMORY_GOAL_MIB
    memory["ok"] = memory_ok
    ok = ok and memory_ok
    sched = await schedules(specs, args.threads, args.max_tokens, db)
    report = {"threads": args.threads, "max_tokens": args.max_tokens, "rounds": args.rounds,
              "models": rows, "memory": memory, "schedules": sched, "ok": ok}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if ok else 1

    print(f"\n{'model':20} {'parallax tok/s':>14} {'fresh tok/s':>11} {'ratio':>6} "
          f"{'parallax TTFT':>13} {'fresh TTFT':>10} {'ratio':>6}")
    for row in rows:
        print(f"{row['model']:20} {row['parallax_tps']:14.1f} {row['fresh_process_tps']:11.1f} "
              f"{row['speed_ratio']:6.1%} {row['parallax_ttft_s']:12.3f}s "
              f"{row['fresh_process_ttft_s']:9.3f}s {row['ttft_ratio']:6.1%}")
    pss = pss_total
    print(f"\nmemory with {len(specs)} models loaded, after the rounds, summed over "
          f"{len(memory['processes'])} processes: PSS {pss} MiB ({pss * 2**20 / 1e9:.2f} GB), "
          f"RSS {memory['total_rss_mib']} MiB, peak RSS {memory['total_peak_rss_mib']} MiB")
    for name, m in memory["processes"].items():
        print(f"  {name:20} PSS {m['pss'] / 1024:6.0f} MiB  RSS {m['rss'] / 1024:6.0f} MiB")
    print("\nschedules on one question, all models, after a first question:")
    for name, v in sched.items():
        print(f"  {name:10}  first token {v['first_visible_token_s']:5.2f} s   "
              f"first full answer {v['first_full_answer_s']:6.2f} s   every model "
              f"started {v['every_model_started_s']:6.2f} s   all answers "
              f"{v['all_answers_s']:6.2f} s")
    speed_ok = all(row["ok"] for row in rows)
    print("\ngoal: speed >= 95% and time to first token within 10% of a fresh process: "
          + ("met" if speed_ok else "NOT met"))
    print(f"goal: memory <= {MEMORY_GOAL_MIB} MiB (1.0 GiB) over every process: "
          + ("met" if memory["ok"] else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
