"""Parallax against llama-cpp-python called directly, on the same machine, in one run.

For each model: generation speed (tokens/s after the first token) and time to first token,
through Parallax's pipeline and through ``Llama.create_chat_completion(stream=True)`` with the
same settings, alternating runs to share the machine's noise; then peak memory with all the
models loaded, and the two schedules (sequential / parallel) on one question.

    python benchmarks/speed.py                      # the default models, 3 rounds
    python benchmarks/speed.py --rounds 5 --model qwen2.5-coder-0.5b

Prints a table and the ratios; exits 1 if Parallax is under 95% of the direct speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.catalog import ModelSpec, load_catalog
from bot.config import load_settings
from bot.fetch import verify
from bot.pipeline import Judged, Pipeline

# Long answers: every run stops at max_tokens on both sides, so both count the same tokens.
QUESTIONS = [
    "Write a long, detailed essay on the history of the French Revolution.",
    "Write a long, detailed essay on the causes of the First World War.",
    "Write a long, detailed essay on the history of the city of Paris.",
]


def direct_run(llama: object, spec: ModelSpec, question: str, max_tokens: int,
               threads: int) -> tuple[float, float, int]:
    """(tokens/s after the first token, time to first token, tokens) with llama-cpp directly."""
    t0 = time.perf_counter()
    first = None
    finish = None
    for chunk in llama.create_chat_completion(  # type: ignore[attr-defined]
            messages=[{"role": "user", "content": question}], max_tokens=max_tokens,
            temperature=spec.temperature, top_p=spec.top_p, repeat_penalty=spec.repeat_penalty,
            seed=spec.seed, stream=True):
        choice = chunk["choices"][0]
        if first is None and (choice.get("delta") or {}).get("content"):
            first = time.perf_counter()
        finish = choice.get("finish_reason") or finish
    end = time.perf_counter()
    assert first is not None and finish == "length", finish
    return (max_tokens - 1) / (end - first), first - t0, max_tokens


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", help="model id (repeatable)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()

    settings = load_settings(None, env={}, database=Path("/tmp/parallax-bench.sqlite3"),
                             threads=args.threads, max_tokens=args.max_tokens)
    catalog = load_catalog(settings.manifest)
    specs = catalog.select(args.model)
    from llama_cpp import Llama

    print(f"threads={args.threads} max_tokens={args.max_tokens} rounds={args.rounds}")
    rows = []
    pipeline = await Pipeline.open(settings)
    async with pipeline:
        errors = await pipeline.warm(specs)
        if any(errors.values()):
            print(errors)
            return 2
        peak_parallax_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        for spec in specs:
            if spec.template_name:  # a base model: compare raw completion, not chat
                continue
            direct = Llama(model_path=str(verify(spec, settings.resolved_models_dir)),
                           n_ctx=spec.n_ctx, n_threads=args.threads,
                           n_threads_batch=args.threads, seed=spec.seed, verbose=False)
            p_tps, p_ttft, d_tps, d_ttft = [], [], [], []
            for r in range(args.rounds):
                for q in QUESTIONS:
                    # alternate the order each round so neither side always runs "warm"
                    order = ("p", "d") if r % 2 == 0 else ("d", "p")
                    for side in order:
                        if side == "d":
                            tps, ttft, _ = direct_run(direct, spec, q, args.max_tokens,
                                                      args.threads)
                            d_tps.append(tps)
                            d_ttft.append(ttft)
                        else:
                            judged = [e async for e in pipeline.ask(q, models=[spec.id],
                                                                    source="bench")][-1]
                            assert isinstance(judged, Judged)
                            a = judged.answers[0]
                            assert a.error is None, a.error
                            assert a.completion_tokens == args.max_tokens, a.completion_tokens
                            p_tps.append(a.tokens_per_second or 0.0)
                            p_ttft.append(a.first_token_seconds or 0.0)
            direct.close()
            rows.append((spec.id, statistics.median(p_tps), statistics.median(d_tps),
                         statistics.median(p_ttft), statistics.median(d_ttft)))

        print(f"\npeak RSS with {len(specs)} models loaded in Parallax: "
              f"{peak_parallax_mb:.0f} MB")
        print(f"\n{'model':22} {'parallax tok/s':>15} {'direct tok/s':>13} {'ratio':>7} "
              f"{'parallax TTFT':>14} {'direct TTFT':>12}")
        worst = 1.0
        for model_id, p, d, pt, dt in rows:
            worst = min(worst, p / d)
            print(f"{model_id:22} {p:15.1f} {d:13.1f} {p / d:7.1%} {pt:13.3f}s {dt:11.3f}s")

    # schedules: time to the first complete answer, and to all answers
    print("\nschedules on one question, all default models:")
    for schedule in ("sequential", "parallel"):
        s = load_settings(None, env={}, database=Path("/tmp/parallax-bench.sqlite3"),
                          threads=args.threads, max_tokens=args.max_tokens, schedule=schedule)
        p = await Pipeline.open(s)
        async with p:
            await p.warm(specs)
            t0 = time.perf_counter()
            first_done = first_token_all = None
            started_tokens: set[str] = set()
            async for e in p.ask(QUESTIONS[0], models=[m.id for m in specs], source="bench"):
                name = type(e).__name__
                if name == "Token":
                    started_tokens.add(e.model_id)  # type: ignore[union-attr]
                    if len(started_tokens) == len(specs) and first_token_all is None:
                        first_token_all = time.perf_counter() - t0
                if name == "AnswerFinished" and first_done is None:
                    first_done = time.perf_counter() - t0
            total = time.perf_counter() - t0
        print(f"  {schedule:10}  first full answer {first_done:6.2f} s   every model started "
              f"{first_token_all or float('nan'):6.2f} s   all answers {total:6.2f} s")
    print(f"\nworst Parallax/direct speed ratio: {worst:.1%} (goal >= 95%)")
    return 0 if worst >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
