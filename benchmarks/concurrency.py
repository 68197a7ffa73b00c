"""Many users at once: aggregate tokens/s and time to first token with 1, 4 and 8 simultaneous
questions to one model, through

- ``local``: Parallax's local backend (one llama.cpp worker process, both cores);
- ``server``: the same model behind llama-cpp-python's OpenAI-compatible server
  (``python -m bot.serve``, both cores), reached through the remote backend;
- ``fleet``: two such servers (one core each) as two endpoints of one model: the remote
  backend sends each answer to the least busy one.

- ``llama-server`` (with ``--llama-server PATH``): llama.cpp's own server, one parallel slot a
  user and continuous batching, on the model's file and, with ``--quantize Q8_0`` (or ``Q4_0``,
  comma-separated), on a copy of it requantized by llama.cpp (``llama_model_quantize``): on x86,
  ggml's batched matrix kernels (llamafile's tinyBLAS) take only F32/F16/BF16, Q8_0, Q4_0, Q5_0
  and IQ4_NL weights; SmolLM2's Q4_1 and Qwen's K-quant tensors fall back to one dot product per
  weight row and sequence, which batching barely amortises (docs/performance.md).

llama.cpp's own ``llama-server`` is not installable from a package registry here (build it
from llama-cpp-python's source distribution: docs/performance.md); llama-cpp-python's server
answers one request at a time (it holds one ``Llama`` behind a lock), so it cannot batch. Every
question is asked through the pipeline, as a user's would be (stored, judged).

    .venv/bin/python benchmarks/concurrency.py            # SmolLM2, 256 tokens an answer
    .venv/bin/python benchmarks/concurrency.py --json
    .venv/bin/python benchmarks/concurrency.py --setups llama-server --llama-server PATH \
        --quantize Q8_0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support import free_port, llama_server, remote_entry  # noqa: E402

from bot.catalog import load_catalog, parse_manifest  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.fetch import verify  # noqa: E402
from bot.pipeline import Judged, Pipeline, Token  # noqa: E402

QUESTIONS = ["Write a short essay about the history of {}.",
             "Describe the geography of {} in detail.", "Tell me about the economy of {}."]
PLACES = ["Paris", "Lyon", "Marseille", "Bordeaux", "Lille", "Nantes", "Toulouse", "Nice"]


@contextlib.contextmanager
def started_llama_server(binary: Path, model: Path, slots: int,
                         extra: Sequence[str] = ()) -> Iterator[str]:
    """llama.cpp's server on 127.0.0.1 with ``slots`` parallel slots (512 tokens each)."""
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-a",
         "bench", "-t", "2", "-c", str(512 * slots), "--parallel", str(slots), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"llama-server did not start (exit {proc.poll()})")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


QUANT_TYPES = {"Q8_0": 7, "Q4_0": 2, "Q5_0": 8}  # llama.h's LLAMA_FTYPE_MOSTLY_*


def requantize(source: Path, out: Path, kind: str) -> Path:
    """A copy of ``source`` with its weights requantized to ``kind`` by llama.cpp itself.

    Same tokenizer, chat template and metadata; every weight matrix rounded to the new type
    (from Q4_1 or Q5_0 to Q8_0 the loss is below the original rounding's)."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[kind]
    params.allow_requantize = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params)
    if rc != 0:
        raise SystemExit(f"llama_model_quantize({source.name} -> {kind}) failed: {rc}")
    return out


async def run_users(pipeline: Pipeline, model_id: str, users: int,
                    questions: int) -> dict[str, float]:
    """The same ``questions`` asked by ``users`` people at once, each asking their next one
    when their answer is complete: every count does the same work, so the aggregate tokens/s
    compare like with like (one user asks them one after another)."""
    loop = asyncio.get_running_loop()
    todo = list(range(questions))

    async def one(i: int) -> tuple[float | None, int]:
        q = QUESTIONS[i % len(QUESTIONS)].format(PLACES[i % len(PLACES)])
        start, first, tokens = loop.time(), None, 0
        async for e in pipeline.ask(q, models=[model_id], source="batch"):
            if isinstance(e, Token) and first is None and e.text:
                first = loop.time() - start
            if isinstance(e, Judged):
                tokens = e.answers[0].completion_tokens or 0
                assert e.answers[0].error is None, e.answers[0].error
        return first, tokens

    async def user() -> list[tuple[float | None, int]]:
        done = []
        while todo:
            done.append(await one(todo.pop(0)))
        return done

    t0, cpu0 = loop.time(), time.process_time()
    results = [r for rs in await asyncio.gather(*(user() for _ in range(users))) for r in rs]
    wall, cpu = loop.time() - t0, time.process_time() - cpu0
    ttfts = sorted(r[0] for r in results if r[0] is not None)
    tokens = sum(r[1] for r in results)

    def pct(q: float) -> float:
        return round(ttfts[min(len(ttfts) - 1, int(q * len(ttfts)))], 2)

    return {"users": users, "tokens": tokens, "wall_s": round(wall, 2),
            "aggregate_tps": round(tokens / wall, 1), "ttft_p50_s": pct(0.5),
            "ttft_p95_s": pct(0.95), "parallax_cpu_s": round(cpu, 2)}


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--max-tokens", type=int, default=None,
                    help="tokens an answer at most (default: the model's, from the manifest)")
    ap.add_argument("--users", default="1,4,8")
    ap.add_argument("--rounds", type=int, default=3,
                    help="measure each count this many times and report the median run "
                         "(a shared machine's speed drifts by tens of percent)")
    ap.add_argument("--llama-server", type=Path, metavar="PATH",
                    help="also measure llama.cpp's llama-server binary at PATH (parallel slots, "
                         "continuous batching): see docs/performance.md for building it")
    ap.add_argument("--quantize", default="", metavar="TYPES",
                    help="with --llama-server, also serve a copy of the model requantized to "
                         f"each of these ({', '.join(QUANT_TYPES)}; comma-separated)")
    ap.add_argument("--server-args", default="", metavar="ARGS",
                    help="more llama-server flags, e.g. '-fa on' (split on spaces)")
    ap.add_argument("--setups", default="local,server,fleet,llama-server",
                    help="which setups to measure (comma-separated)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    setups = set(args.setups.split(","))
    kinds = [k for k in args.quantize.split(",") if k]
    if unknown := [k for k in kinds if k not in QUANT_TYPES]:
        ap.error(f"--quantize: unknown type {unknown[0]!r}; choose among {', '.join(QUANT_TYPES)}")
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    counts = [int(x) for x in args.users.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="parallax-conc-"))
    catalog = load_catalog(load_settings(None, env={}).manifest)
    spec = catalog.get(args.model)
    args.max_tokens = args.max_tokens or spec.max_tokens
    settings = load_settings(None, env={}, database=tmp / "c.sqlite3", threads=2,
                             max_tokens=args.max_tokens)
    path = verify(spec, settings.resolved_models_dir)
    rows: list[dict[str, object]] = []

    async def measure(setup: str, pipeline: Pipeline, model_id: str) -> None:
        # warm: loaded, every slot used once
        await run_users(pipeline, model_id, max(counts), max(counts))
        runs: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
        for _ in range(args.rounds):  # interleaved, so a slow spell of the machine hits all
            for n in counts:
                runs[n].append(await run_users(pipeline, model_id, n, max(counts)))
        for n in counts:
            r = sorted(runs[n], key=lambda x: x["aggregate_tps"])[len(runs[n]) // 2]  # median
            # each round's n users against the same round's one user (paired: drift cancels)
            ratios = sorted(x["aggregate_tps"] / o["aggregate_tps"]
                            for x, o in zip(runs[n], runs[counts[0]], strict=True))
            rows.append({"setup": setup, **r, "vs_one_user": round(ratios[len(ratios) // 2], 2),
                         "vs_one_user_runs": [round(x, 2) for x in ratios]})
            say(f"{setup:17} users {n}: {r['aggregate_tps']:6.1f} tok/s aggregate, TTFT p50 "
                f"{r['ttft_p50_s']} s, p95 {r['ttft_p95_s']} s")

    async def measure_served(setup: str, entry: str, *bases: str) -> None:
        """``measure`` through the remote backend, ``entry`` served at ``bases``."""
        text = remote_entry(entry, *bases, model="bench", max_tokens=args.max_tokens,
                            timeout_seconds=600)
        pipeline = await Pipeline.open(settings, catalog=parse_manifest(text, tmp / "m.toml"))
        async with pipeline:
            await measure(setup, pipeline, entry)

    if "local" in setups:
        pipeline = await Pipeline.open(settings, catalog=catalog)
        async with pipeline:
            await measure("local", pipeline, args.model)
    if "server" in setups:
        with llama_server(path, "bench", threads=2) as (_p, base):
            await measure_served("server", "server", base)
    if "fleet" in setups:
        with llama_server(path, "bench", threads=1) as (_p, a), \
                llama_server(path, "bench", threads=1) as (_q, b):
            await measure_served("fleet", "fleet", a, b)

    if args.llama_server and "llama-server" in setups:
        files = [("llama-server", path)] + [
            (f"llama-server {k}", requantize(path, tmp / f"{args.model}-{k}.gguf", k))
            for k in kinds]
        for setup, file in files:
            with started_llama_server(args.llama_server, file, max(counts),
                                      args.server_args.split()) as base:
                await measure_served(setup, "batching", base)

    if args.json:
        print(json.dumps({"model": args.model, "max_tokens": args.max_tokens,
                          "rounds": args.rounds, "rows": rows}))
    else:
        say(f"\n{'setup':18}{'users':>6}{'tok/s':>9}{'x one user':>12}{'TTFT p50':>10}"
            f"{'TTFT p95':>10}")
        for r in rows:
            say(f"{r['setup']:18}{r['users']:>6}{r['aggregate_tps']:>9}{r['vs_one_user']:>12}"
                f"{r['ttft_p50_s']:>10}{r['ttft_p95_s']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
