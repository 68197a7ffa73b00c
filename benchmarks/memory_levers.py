"""What the memory levers save with the three default models loaded (docs/performance.md).

Each model is loaded by ``open_llama()`` (the worker's settings) and answers the same 12
questions (4 of the battery, in English, French and Chinese, 48 tokens each), so that the rows
of the token embedding a session reads are back; then the PSS is summed over the model
processes, for:

- ``exec``: one fresh Python process per model, as Parallax's workers run;
- ``fork``: one process imports numpy, llama_cpp and the chat formatter, freezes its objects
  (``gc.freeze``), then forks one child per model (a fork server); its own PSS is counted too;
- ``rows``: ``release_row_tensors()`` after loading (the token embedding's pages are dropped,
  and only the rows read come back);
- ``gc``: ``release_garbage()`` after each answer (the per-answer sampler's reference cycle);
  a worker does both;

at ``n_ctx`` 2048 (the manifest's) and 1024. Parallax's own process is not included (about
30 MiB; benchmarks/speed.py measures the whole).

    .venv/bin/python benchmarks/memory_levers.py
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODELS = ["smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"]


def pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def questions() -> list[str]:
    import tomllib

    battery = tomllib.loads((ROOT / "prompts" / "questions" / "battery.toml").read_text())
    ids = ("tiananmen-1989", "xinjiang-camps", "geo-australia", "cn-tang-dynasty")
    picked = [q for q in battery["questions"] if q["id"] in ids]
    return [q[lang] for q in picked for lang in ("en", "fr", "zh")]


def child(model: str, n_ctx: int, levers: str, ready: Path) -> None:
    from bot.backends import worker

    path = str(ROOT / "models" / f"{model}.gguf")
    llama = worker.open_llama({"path": path, "n_ctx": n_ctx, "threads": 1, "seed": 0,
                        "kv_cache": "q8_0"}, verbose=False)
    if "rows" in levers:
        worker.release_row_tensors(path)
    chat = bool(llama.metadata.get("tokenizer.chat_template"))
    formatter = worker.chat_formatter(llama) if chat else None
    for q in questions():
        prompt = (formatter(messages=[{"role": "user", "content": q}]).prompt
                  if formatter else f"Question: {q}\nAnswer:")
        llama.create_completion(llama.tokenize(prompt.encode(), add_bos=formatter is None,
                                               special=formatter is not None),
                                max_tokens=48, temperature=0.0)
        if "gc" in levers:
            worker.release_garbage()
    ready.joinpath(str(os.getpid())).touch()
    time.sleep(3600)


def measure(mode: str, n_ctx: int, levers: str) -> dict[str, object]:
    ready = Path(tempfile.mkdtemp(prefix="parallax-mem-"))
    pids: list[int] = []
    if mode == "fork":
        import llama_cpp
        import llama_cpp.llama_chat_format  # noqa: F401
        import numpy  # noqa: F401

        gc.collect()
        gc.freeze()
        for m in MODELS:
            pid = os.fork()
            if pid == 0:
                try:
                    child(m, n_ctx, levers, ready)
                finally:
                    os._exit(0)
            pids.append(pid)
    else:
        for m in MODELS:
            pids.append(subprocess.Popen(
                [sys.executable, __file__, "--child", m, str(n_ctx), levers, str(ready)],
                stderr=subprocess.DEVNULL).pid)
    while not all(ready.joinpath(str(p)).exists() for p in pids):
        time.sleep(0.2)
    time.sleep(1.0)
    workers = [pss_kb(p) // 1024 for p in pids]
    server = pss_kb(os.getpid()) // 1024 if mode == "fork" else 0
    for p in pids:
        os.kill(p, 9)
        os.waitpid(p, 0)
    return {"mode": mode, "n_ctx": n_ctx, "levers": levers, "workers_mib": workers,
            "server_mib": server,
            "total_mib": sum(workers) + server}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4], Path(sys.argv[5]))
        return 0
    # each configuration in a fresh process, so that a fork server's imports do not carry over
    for mode, n_ctx, levers in (("exec", 2048, "none"), ("exec", 2048, "rows"),
                                ("exec", 2048, "rows+gc"), ("fork", 2048, "rows+gc"),
                                ("exec", 1024, "rows+gc"), ("fork", 1024, "rows+gc")):
        out = subprocess.run([sys.executable, __file__, "--one", mode, str(n_ctx), levers],
                             capture_output=True, text=True, check=True).stdout
        print(out.strip())
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        r = measure(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        print(f"{r['mode']:5} n_ctx {r['n_ctx']:5}  levers {r['levers']:8} "
              f"workers {r['workers_mib']} MiB  "
              f"fork server {r['server_mib']} MiB  total {r['total_mib']} MiB")
        sys.exit(0)
    sys.exit(main())
