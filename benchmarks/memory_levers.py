"""What two memory levers would save with the three default models loaded (docs/performance.md).

Measures, with each model loaded by ``open_llama()`` (the worker's settings) and having
generated 32 tokens, the PSS summed over the model processes:

- ``exec``: one fresh Python process per model, as Parallax's workers run today;
- ``fork``: one process imports numpy, llama_cpp and the chat formatter, freezes its objects
  (``gc.freeze``), then forks one child per model (a fork server); its own PSS is counted too;

each at ``n_ctx`` 2048 (the manifest's) and 1024. Parallax's own process is not included (about
30 MiB; see benchmarks/speed.py for the whole).

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


def child(model: str, n_ctx: int, ready: Path) -> None:
    from bot.backends.worker import chat_formatter, open_llama

    llama = open_llama({"path": str(ROOT / "models" / f"{model}.gguf"), "n_ctx": n_ctx,
                        "threads": 2, "seed": 0, "kv_cache": "q8_0"}, verbose=False)
    if llama.metadata.get("tokenizer.chat_template"):
        chat_formatter(llama)
    llama.create_completion(llama.tokenize(b"Tell me about Paris, France."), max_tokens=32)
    ready.joinpath(str(os.getpid())).touch()
    time.sleep(3600)


def measure(mode: str, n_ctx: int) -> dict[str, object]:
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
                    child(m, n_ctx, ready)
                finally:
                    os._exit(0)
            pids.append(pid)
    else:
        for m in MODELS:
            pids.append(subprocess.Popen(
                [sys.executable, __file__, "--child", m, str(n_ctx), str(ready)],
                stderr=subprocess.DEVNULL).pid)
    while not all(ready.joinpath(str(p)).exists() for p in pids):
        time.sleep(0.2)
    time.sleep(1.0)
    workers = [pss_kb(p) // 1024 for p in pids]
    server = pss_kb(os.getpid()) // 1024 if mode == "fork" else 0
    for p in pids:
        os.kill(p, 9)
        os.waitpid(p, 0)
    return {"mode": mode, "n_ctx": n_ctx, "workers_mib": workers, "server_mib": server,
            "total_mib": sum(workers) + server}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
        return 0
    # each configuration in a fresh process, so that a fork server's imports do not carry over
    for mode in ("exec", "fork"):
        for n_ctx in (2048, 1024):
            out = subprocess.run([sys.executable, __file__, "--one", mode, str(n_ctx)],
                                 capture_output=True, text=True, check=True).stdout
            print(out.strip())
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        r = measure(sys.argv[2], int(sys.argv[3]))
        print(f"{r['mode']:5} n_ctx {r['n_ctx']:5}  workers {r['workers_mib']} MiB  "
              f"fork server {r['server_mib']} MiB  total {r['total_mib']} MiB")
        sys.exit(0)
    sys.exit(main())
