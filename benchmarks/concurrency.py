"""Many users at once: aggregate tokens/s and time to first token with 1, 4 and 8 simultaneous
questions to one model, through

- ``local``: Parallax's local backend (one llama.cpp worker process, both cores);
- ``server``: the same model behind llama-cpp-python's OpenAI-compatible server
  (``python -m llama_cpp.server``, both cores), reached through the remote backend;
- ``fleet``: two such servers (one core each) as two endpoints of one model: the remote
  backend sends each answer to the least busy one.

llama.cpp's own ``llama-server`` (parallel slots, continuous batching) is not installable from a
package registry here; llama-cpp-python's server answers one request at a time (it holds one
``Llama`` behind a lock), so it cannot batch. Every question is asked through the pipeline, as
a user's would be (stored, judged).

    .venv/bin/python benchmarks/concurrency.py            # SmolLM2, 64 tokens an answer
    .venv/bin/python benchmarks/concurrency.py --json
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
from collections.abc import Iterator
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
def started_llama_server(binary: Path, model: Path, slots: int) -> Iterator[str]:
    """llama.cpp's server on 127.0.0.1 with ``slots`` parallel slots (512 tokens each)."""
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-a",
         "bench", "-t", "2", "-c", str(512 * slots), "--parallel", str(slots)],
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


async def run_users(pipeline: Pipeline, model_id: str, users: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()

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

    t0 = loop.time()
    results = await asyncio.gather(*(one(i) for i in range(users)))
    wall = loop.time() - t0
    ttfts = sorted(r[0] for r in results if r[0] is not None)
    tokens = sum(r[1] for r in results)

    def pct(q: float) -> float:
        return round(ttfts[min(len(ttfts) - 1, int(q * len(ttfts)))], 2)

    return {"users": users, "tokens": tokens, "wall_s": round(wall, 2),
            "aggregate_tps": round(tokens / wall, 1), "ttft_p50_s": pct(0.5),
            "ttft_p95_s": pct(0.95)}


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--users", default="1,4,8")
    ap.add_argument("--llama-server", type=Path, metavar="PATH",
                    help="also measure llama.cpp's llama-server binary at PATH (parallel slots, "
                         "continuous batching): see docs/performance.md for building it")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    counts = [int(x) for x in args.users.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="parallax-conc-"))
    settings = load_settings(None, env={}, database=tmp / "c.sqlite3", threads=2,
                             max_tokens=args.max_tokens)
    catalog = load_catalog(settings.manifest)
    spec = catalog.get(args.model)
    path = verify(spec, settings.resolved_models_dir)
    rows: list[dict[str, object]] = []

    async def measure(setup: str, pipeline: Pipeline, model_id: str) -> None:
        await run_users(pipeline, model_id, 1)  # warm: loaded, caches touched
        for n in counts:
            r = await run_users(pipeline, model_id, n)
            rows.append({"setup": setup, **r})
            say(f"{setup:7} users {n}: {r['aggregate_tps']:6.1f} tok/s aggregate, TTFT p50 "
                f"{r['ttft_p50_s']} s, p95 {r['ttft_p95_s']} s")

    pipeline = await Pipeline.open(settings, catalog=catalog)
    async with pipeline:
        await measure("local", pipeline, args.model)
    with llama_server(path, "bench", threads=2) as (_p, base):
        text = remote_entry("server", base, model="bench", max_tokens=args.max_tokens,
                            timeout_seconds=600)
        pipeline = await Pipeline.open(settings, catalog=parse_manifest(text, tmp / "m.toml"))
        async with pipeline:
            await measure("server", pipeline, "server")
    with llama_server(path, "bench", threads=1) as (_p, a), \
            llama_server(path, "bench", threads=1) as (_q, b):
        text = remote_entry("fleet", a, b, model="bench", max_tokens=args.max_tokens,
                            timeout_seconds=600)
        pipeline = await Pipeline.open(settings, catalog=parse_manifest(text, tmp / "m.toml"))
        async with pipeline:
            await measure("fleet", pipeline, "fleet")

    if args.llama_server:
        slots = max(counts)
        with started_llama_server(args.llama_server, path, slots) as base:
            text = remote_entry("batching", base, model="bench", max_tokens=args.max_tokens,
                                timeout_seconds=600)
            pipeline = await Pipeline.open(settings,
                                           catalog=parse_manifest(text, tmp / "m.toml"))
            async with pipeline:
                await measure("llama-server", pipeline, "batching")

    one = {r["setup"]: r["aggregate_tps"] for r in rows if r["users"] == counts[0]}
    for r in rows:
        r["vs_one_user"] = round(float(r["aggregate_tps"]) / float(one[r["setup"]]), 2)
    if args.json:
        print(json.dumps({"model": args.model, "max_tokens": args.max_tokens, "rows": rows}))
    else:
        say(f"\n{'setup':8}{'users':>6}{'tok/s':>9}{'x one user':>12}{'TTFT p50':>10}"
            f"{'TTFT p95':>10}")
        for r in rows:
            say(f"{r['setup']:8}{r['users']:>6}{r['aggregate_tps']:>9}{r['vs_one_user']:>12}"
                f"{r['ttft_p50_s']:>10}{r['ttft_p95_s']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
