"""How fast the detector judges: median and p95 milliseconds per answer, on one core.

    python benchmarks/detector_speed.py [../shared/data/speechmap-dev.jsonl]

Each answer is judged with its peers (the other models' answers to the same question), as
`parallax eval-detector` does; the goals: a median under 5 ms, and a 100,000-character
answer under 50 ms.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.detector import judge
from bot.detector.commands import peer_key, read_rows


def main() -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    path = sys.argv[1] if len(sys.argv) > 1 else str(
        Path(__file__).resolve().parents[2] / "shared" / "data" / "speechmap-dev.jsonl")
    rows = read_rows(path)
    peers: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        peers[peer_key(r)].append(r["answer"])
    # the lexicons, the model and the word lists are read once, before timing
    judge("What is read first?", "the lexicons and the model and the word lists", lang="en")
    times = []
    for r in rows:
        others = [a for a in peers[peer_key(r)] if a is not r["answer"]]
        t0 = time.perf_counter()
        judge(r["question"], r["answer"], lang=r.get("lang"), peers=others)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    chars = statistics.median(len(r["answer"]) for r in rows)
    print(f"{len(rows)} answers (median {chars:.0f} characters), one core: median "
          f"{statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms, "
          f"max {times[-1]:.2f} ms; {len(rows) / (sum(times) / 1000):.0f} answers a second")
    # the longest answers: 100,000 characters of prose, of Chinese, of a loop
    sample = rows[0]["answer"]
    long_answers = {"prose": (sample * (100_000 // max(len(sample), 1) + 1))[:100_000],
                    "chinese": ("天安门广场的抗议活动在一九八九年六月被军队镇压。" * 5000)
                    [:100_000],
                    "loop": ("I cannot answer. " * 10_000)[:100_000]}
    # each judged three times, the median and the slowest shown: one call in which a full
    # garbage collection of the interpreter lands took 9-15 ms where the others take 2-4
    # (2026-12-06, seventh session: "chinese" read 3.3 ms at one commit and 14.6 ms at the
    # next, where only the model file had changed, and with it when the collector ran)
    worst = 0.0
    for name, answer in long_answers.items():
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            judge("What happened in June 1989?", answer, peers=[sample, sample])
            runs.append((time.perf_counter() - t0) * 1000)
        worst = max(worst, *runs)
        print(f"a 100,000-character answer ({name}): {statistics.median(runs):.1f} ms "
              f"(slowest of 3: {max(runs):.1f} ms)")
    print("goals: median under 5 ms, a 100,000-character answer under 50 ms: "
          + ("met" if statistics.median(times) < 5.0 and worst < 50 else "NOT met"))
    return 0 if statistics.median(times) < 5.0 and worst < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
