"""A model's crash, kill or hang never takes Parallax down: each local model runs in a worker
process of its own, supervised by ``LocalBackend`` (real llama.cpp, tiny generated models)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from ggufgen import tiny_manifest

from bot.backends.base import Request, Usage
from bot.backends.local import LocalBackend, describe_exit
from bot.catalog import Catalog, parse_manifest
from bot.config import Settings
from bot.errors import BackendError
from bot.pipeline import Judged, Pipeline, Token
from bot.prompts import Prompts
from bot.store import Store

QUESTION = "What happened at Tiananmen Square in June 1989?"


def three_models(tiny_gguf: tuple[Path, str], tmp_path: Path, max_tokens: int = 300) -> Catalog:
    path, sha = tiny_gguf
    text = "".join(tiny_manifest(path, sha, model_id=i, max_tokens=max_tokens)
                   for i in ("tiny-a", "tiny-b", "tiny-c"))
    return parse_manifest(text, tmp_path / "models.toml")


async def open_pipeline(settings: Settings, catalog: Catalog,
                        **backend_options: float) -> tuple[Pipeline, dict[str, LocalBackend]]:
    backends: dict[str, LocalBackend] = {}

    def factory(spec):  # the real local backend, with test-sized grace periods
        backends[spec.id] = LocalBackend(spec, settings.resolved_models_dir, 1,
                                         **backend_options)
        return backends[spec.id]

    store = await Store.open(settings.database)
    return Pipeline(settings, catalog, store, Prompts(settings.prompts_dir), factory), backends


async def ask_and_act(pipeline: Pipeline, backends: dict[str, LocalBackend], victim: str,
                      sig: signal.Signals) -> Judged:
    """Ask; send ``sig`` to ``victim``'s worker as soon as its first token arrives."""
    sent = False
    judged = None
    async for event in pipeline.ask(QUESTION):
        if isinstance(event, Token) and event.model_id == victim and not sent:
            pid = backends[victim].pid
            assert pid is not None and pid != os.getpid()
            os.kill(pid, sig)
            sent = True
        if isinstance(event, Judged):
            judged = event
    assert sent and judged is not None
    return judged


async def test_sigkill_mid_answer_is_that_model_s_error_and_the_others_finish(
        tiny_gguf: tuple[Path, str], tmp_path: Path, settings: Settings) -> None:
    pipeline, backends = await open_pipeline(settings, three_models(tiny_gguf, tmp_path))
    async with pipeline:
        judged = await ask_and_act(pipeline, backends, "tiny-b", signal.SIGKILL)
        by_id = {a.model.id: a for a in judged.answers}
        assert by_id["tiny-b"].verdict == "error"
        assert by_id["tiny-b"].error is not None
        assert "the model process stopped (signal 9, SIGKILL)" in by_id["tiny-b"].error
        for ok in ("tiny-a", "tiny-c"):
            assert by_id[ok].error is None, by_id[ok].error
            assert by_id[ok].completion_tokens == 300  # a whole answer, not cut short
        stored = await pipeline.store.answers_for(judged.question_id)
        assert len(stored) == 3
        assert all((a["verdict"] == "error") == (a["model_id"] == "tiny-b") for a in stored)

        # the next question is answered by a new worker
        old_pid_gone = backends["tiny-b"].pid is None
        again = await pipeline.run(QUESTION, models=["tiny-b"])
        assert isinstance(again, Judged)
        answer = again.answers[0]
        assert answer.error is None and answer.completion_tokens == 300
        assert old_pid_gone and backends["tiny-b"].restarts == 1


async def test_a_hung_model_times_out_is_killed_and_restarted(
        tiny_gguf: tuple[Path, str], tmp_path: Path, settings: Settings) -> None:
    from dataclasses import replace

    settings = replace(settings, timeout_seconds=3.0)
    pipeline, backends = await open_pipeline(settings, three_models(tiny_gguf, tmp_path),
                                             cancel_grace=1.0)
    async with pipeline:
        judged = await ask_and_act(pipeline, backends, "tiny-a", signal.SIGSTOP)
        by_id = {a.model.id: a for a in judged.answers}
        assert by_id["tiny-a"].timed_out and "timed out" in (by_id["tiny-a"].error or "")
        assert by_id["tiny-b"].error is None and by_id["tiny-c"].error is None
        # the hung worker did not confirm the cancel: it was killed, and a new one answers
        again = await pipeline.run(QUESTION, models=["tiny-a"])
        assert isinstance(again, Judged) and again.answers[0].error is None
        assert backends["tiny-a"].restarts == 1


async def test_a_worker_that_crashes_while_loading_is_an_error_then_retried(
        tiny_gguf: tuple[Path, str], tmp_path: Path, settings: Settings) -> None:
    pipeline, backends = await open_pipeline(settings, three_models(tiny_gguf, tmp_path, 20))
    crash = (sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    async with pipeline:
        pipeline.backend(pipeline.catalog.get("tiny-c")).worker_argv = crash
        judged = await pipeline.run(QUESTION)
        assert isinstance(judged, Judged)
        by_id = {a.model.id: a for a in judged.answers}
        assert by_id["tiny-c"].verdict == "error"
        assert "the model process stopped (signal 11, SIGSEGV) while loading" in (
            by_id["tiny-c"].error or "")
        assert by_id["tiny-a"].error is None and by_id["tiny-b"].error is None
        # mended (here: the real worker again), the next question loads it afresh
        backends["tiny-c"].worker_argv = LocalBackend(
            pipeline.catalog.get("tiny-c"), tmp_path, 1).worker_argv
        again = await pipeline.run(QUESTION, models=["tiny-c"])
        assert isinstance(again, Judged) and again.answers[0].error is None


async def test_killed_between_questions_the_next_question_restarts_it(
        tiny_catalog: Catalog, tmp_path: Path) -> None:
    backend = LocalBackend(tiny_catalog.get("tiny-a"), tmp_path, threads=1)
    try:
        await backend.load()
        first_pid = backend.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        assert backend.pid is None  # noticed without being asked
        usage = Usage()
        text = "".join([c async for c in backend.stream(
            Request(messages=[{"role": "user", "content": "again"}], max_tokens=8), usage)])
        assert text and usage.completion_tokens == 8
        assert backend.pid not in (None, first_pid) and backend.restarts == 1
    finally:
        await backend.close()
    assert backend.pid is None


async def test_counting_tokens_after_a_crash_is_a_clear_error_not_a_hang(
        tiny_catalog: Catalog, tmp_path: Path) -> None:
    backend = LocalBackend(tiny_catalog.get("tiny-a"), tmp_path, threads=1)
    try:
        usage = Usage()
        stream = backend.stream(Request(messages=[{"role": "user", "content": "go"}],
                                        max_tokens=400), usage)
        got = []
        try:
            async with asyncio.timeout(20):
                async for chunk in stream:
                    got.append(chunk)
                    if len(got) == 2:
                        os.kill(backend.pid or 0, signal.SIGABRT)
        except BackendError as exc:
            assert "signal 6, SIGABRT" in str(exc)
        else:
            raise AssertionError("the stream ended without an error")
        assert await backend.count_tokens("Paris") >= 1  # a new worker
    finally:
        await backend.close()


def test_exit_descriptions_name_the_signal() -> None:
    assert describe_exit(-9) == "signal 9, SIGKILL"
    assert describe_exit(-11) == "signal 11, SIGSEGV"
    assert describe_exit(3) == "exit code 3"


async def test_workers_run_llama_cpp_without_extra_buffer_types(
        tiny_catalog: Catalog, tmp_path: Path) -> None:
    # llama.cpp's AMX kernels (an "extra buffer type") crash on prompts longer than one token
    # (ggml-org/llama.cpp#20824): every worker must load with use_extra_bufts off
    backend = LocalBackend(tiny_catalog.get("tiny-a"), tmp_path, threads=1)
    try:
        await backend.load()
        assert backend.info["use_extra_bufts"] is False
    finally:
        await backend.close()


def test_model_params_override_turns_extra_buffer_types_off() -> None:
    import llama_cpp

    from bot.backends.worker import model_params_override

    params = llama_cpp.llama_model_default_params()
    assert params.use_extra_bufts  # llama.cpp's default is on: the override is needed
    assert model_params_override(params).use_extra_bufts is False


async def test_parallax_itself_never_imports_llama_cpp(tmp_path: Path) -> None:
    # inference lives in the workers: the parent process stays free of llama.cpp's threads
    code = ("import sys, asyncio\n"
            "from bot.pipeline import Pipeline\n"
            "from bot.backends.local import LocalBackend\n"
            "from bot.frontends.terminal import ask_and_render\n"
            "print('llama_cpp' in sys.modules)\n")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code,
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert out.strip() == b"False"
