"""How fast the detector judges: median and p95 milliseconds per answer, on one core.

    python benchmarks/detector_speed.py [../shared/data/speechmap-dev.jsonl]

Each answer is judged with its peers (the other models' answers to the same question), as
`parallax eval-detector` does; the goal is a median under 5 ms.
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
from bot.detector.commands import read_rows


def main() -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    path = sys.argv[1] if len(sys.argv) > 1 else str(
        Path(__file__).resolve().parents[2] / "shared" / "data" / "speechmap-dev.jsonl")
    rows = read_rows(path)
    peers: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        peers[r["id"].split(":")[0]].append(r["answer"])
    times = []
    for r in rows:
        others = [a for a in peers[r["id"].split(":")[0]] if a is not r["answer"]]
        t0 = time.perf_counter()
        judge(r["question"], r["answer"], lang=r.get("lang"), peers=others)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    chars = statistics.median(len(r["answer"]) for r in rows)
    print(f"{len(rows)} answers (median {chars:.0f} characters), one core: median "
          f"{statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms, "
          f"max {times[-1]:.2f} ms; {len(rows) / (sum(times) / 1000):.0f} answers a second")
    return 0 if statistics.median(times) < 5.0 else 1


if __name__ == "__main__":
    sys.exit(main())
