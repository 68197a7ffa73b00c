"""``python -m bot.serve``: llama-cpp-python's OpenAI-compatible server with Parallax's model
parameters. Takes exactly the arguments of ``python -m llama_cpp.server``.

Why not the stock server: on CPUs with AMX (Sapphire Rapids and later) llama.cpp's extra
buffer types send matrix multiplies through its AMX kernels, which crash on any prompt longer
than one token (ggml-org/llama.cpp#20824). Parallax's local workers turn them off
(``bot.backends.worker.USE_EXTRA_BUFTS``); ``llama_cpp.server`` has no option for it, so on
such a machine every request to it ended the server (a general protection fault in
libggml-cpu: SmolLM2 and Qwen2.5-Coder served this way from a pip install, which compiles
llama.cpp for its machine, measured 2026-12-02; the Docker image is compiled without native
CPU features and has no AMX kernels). This launcher applies the workers' override, then runs
the stock server unchanged: compose.yaml's ``llm`` service, the tests and the benchmarks start
it, so a served model is loaded as a local one is. Needs the ``server`` extra
(``pip install 'parallax[server]'``)."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from llama_cpp.server.__main__ import main as serve
    except ImportError as e:  # uvicorn / fastapi missing: the extra is not installed
        sys.exit(f"bot.serve needs llama-cpp-python's server: pip install 'parallax[server]' "
                 f"({e})")
    from bot.backends.worker import apply_model_params_override

    apply_model_params_override()
    serve()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
