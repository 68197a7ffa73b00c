"""Does a stronger local model's surprise tell word salad from real answers? Measure it.

    python scripts/measure_fluency.py                      # the judge: qwen2.5-coder-0.5b
    python scripts/measure_fluency.py --judge smollm2-135m --limit 100

Each labelled answer of our own data (data/detector/*.jsonl) and a random sample of
SpeechMap's (../shared/data: 150 Chinese, 80 French and 60 English answers; ``--sample`` scales
them) is read by the judge model, teacher-forced after "Question: …\nAnswer: ", and its first
``--tokens`` tokens scored: the mean natural-log probability per token. Printed: the
percentiles of that mean per language, source and label (``caught``: the rules already call
it degenerate; ``missed``: labelled degenerate, judged otherwise), then, per threshold, how
many answers labelled degenerate fall under it and how many others do (the false positives).
A measurement for docs/detector.md, not part of the detector: it loads a model and costs
about a second per answer on two cores.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.catalog import load_catalog
from bot.config import load_settings
from bot.detector.model import model
from bot.detector.train import DEFAULT_DATA, Row, analyse_row, read, split_thinking

THRESHOLDS = (-4.5, -5.0, -5.5, -6.0, -6.5)


def mean_logprob(llama: Any, question: str, answer: str, tokens: int) -> float | None:
    import numpy as np

    ctx = list(llama.tokenize(f"Question: {question[:300]}\nAnswer: ".encode(), add_bos=False))
    ans = list(llama.tokenize(answer.encode(), add_bos=False))[:tokens]
    if not ans:
        return None
    llama.reset()
    llama.eval(ctx + ans)
    # row i of the scores predicts token i + 1
    logits = np.asarray(llama.scores[len(ctx) - 1: len(ctx) + len(ans) - 1], dtype=np.float64)
    top = logits.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float((logits[np.arange(len(ans)), ans] - lse).mean())


def verdict(row: Row) -> str:
    a = analyse_row(row)
    return a.settled.verdict if a.settled is not None else model().judge(a).verdict


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", default="qwen2.5-coder-0.5b", help="a manifest model id")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--sample", type=float, default=1.0,
                    help="scales the SpeechMap sample (150 zh, 80 fr, 60 en answers)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None,
                    help="score only this many of the answers, drawn at random (a quick run)")
    args = ap.parse_args(argv)
    settings = load_settings()
    spec = load_catalog(settings.manifest).get(args.judge)
    import llama_cpp

    # every position's logits, which generation never needs (open_llama keeps only the last)
    llama = llama_cpp.Llama(model_path=str(spec.local_path(settings.resolved_models_dir)),
                            n_ctx=512, n_threads=2, logits_all=True, verbose=False)
    rows = read(DEFAULT_DATA)
    rng = random.Random(args.seed)
    ours = [r for r in rows if not r.source.startswith("speechmap")]
    speechmap = [r for r in rows if r.source.startswith("speechmap")]
    todo = ours[:]
    for lang, n in (("zh", 150), ("fr", 80), ("en", 60)):
        pool = [r for r in speechmap if r.lang == lang]
        todo += rng.sample(pool, min(round(n * args.sample), len(pool)))
    groups: dict[tuple[str, ...], list[float]] = defaultdict(list)
    scored: list[tuple[str, bool, float]] = []
    if args.limit is not None:
        todo = rng.sample(todo, min(args.limit, len(todo)))
    for n, r in enumerate(todo, 1):
        answer, _ = split_thinking(str(r.data["answer"]))
        m = mean_logprob(llama, str(r.data["question"]), answer, args.tokens)
        if m is None:
            continue
        degenerate = r.label == "DEGENERATE"
        state = ""
        if degenerate or r.source != "speechmap-dev.jsonl":
            state = "caught" if verdict(r) == "degenerate" else ("missed" if degenerate else "")
        source = "speechmap" if r.source.startswith("speechmap") else r.family
        groups[(r.lang, source, r.label, state)].append(m)
        scored.append((r.lang, degenerate, m))
        if n % 100 == 0:
            print(f"… {n}/{len(todo)}", file=sys.stderr)

    def pct(v: list[float], q: float) -> float:
        s = sorted(v)
        return s[min(int(q * len(s)), len(s) - 1)]

    print(f"judge {args.judge}, first {args.tokens} tokens, mean log-probability per token")
    for g in sorted(groups):
        v = groups[g]
        print(f"  {' '.join(x for x in g if x):40s} n={len(v):4d}  p5 {pct(v, .05):6.2f}  "
              f"median {pct(v, .5):6.2f}  p95 {pct(v, .95):6.2f}")
    for lang in ("zh", "fr", "en"):
        deg = [m for ln, d, m in scored if ln == lang and d]
        other = [m for ln, d, m in scored if ln == lang and not d]
        for th in THRESHOLDS:
            print(f"  {lang} under {th}: degenerate {sum(m < th for m in deg)}/{len(deg)}, "
                  f"others {sum(m < th for m in other)}/{len(other)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
