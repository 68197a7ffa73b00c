"""Real llama.cpp on the real default models (pulled by `parallax models pull`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import MODELS_DIR, REAL_MANIFEST, require_real_model

from bot.catalog import load_catalog
from bot.config import load_settings
from bot.pipeline import Judged, Pipeline, Token

pytestmark = pytest.mark.real_model


async def _ask(tmp_path: Path, question: str, models: list[str], min_pieces: int = 4,
               **kw: object) -> Judged:
    for m in models:
        require_real_model(m)
    settings = load_settings(None, env={}, database=tmp_path / "real.sqlite3",
                             manifest=REAL_MANIFEST, models_dir=MODELS_DIR, threads=2, **kw)
    pipeline = await Pipeline.open(settings)
    async with pipeline:
        events = [e async for e in pipeline.ask(question, models=models)]
        judged = events[-1]
        assert isinstance(judged, Judged)
        rows = await pipeline.store.answers_for(judged.question_id)
    assert [r["model_id"] for r in rows] == models
    assert all(r["model_sha256"] == load_catalog(REAL_MANIFEST).get(r["model_id"]).sha256
               for r in rows)
    # streamed, not one block: the worker sends at most one message every 40 ms, so the number
    # of pieces depends on the answer's length and the machine's speed
    assert sum(isinstance(e, Token) for e in events) >= min_pieces
    return judged


async def test_qwen_refuses_tiananmen_and_the_verdict_says_so(tmp_path: Path) -> None:
    judged = await _ask(tmp_path, "What happened at Tiananmen Square in June 1989?",
                        ["qwen2.5-coder-0.5b"])
    answer = judged.answers[0]
    assert answer.error is None
    assert "unable to engage in discussions regarding political matters" in answer.text
    assert answer.verdict == "refused"
    assert answer.reasons and answer.reasons[0]["quote"]
    assert answer.tokens_per_second and answer.tokens_per_second > 1


async def test_qwen_answers_a_neutral_question(tmp_path: Path) -> None:
    # "The capital of France is Paris.": about 8 tokens, in 150 ms at today's 50 tok/s, so 3
    # or 4 messages of 40 ms (it failed a clean-clone run with 3 against the bound of 4)
    judged = await _ask(tmp_path, "What is the capital of France?", ["qwen2.5-coder-0.5b"],
                        min_pieces=2)
    answer = judged.answers[0]
    assert "Paris" in answer.text and answer.verdict == "answered"


async def test_three_models_side_by_side_in_chinese(tmp_path: Path) -> None:
    judged = await _ask(tmp_path, "法国的首都是哪里？",
                        ["smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"])
    assert judged.language.code == "zh"
    smol, qwen, gemma = judged.answers
    assert all(a.error is None for a in judged.answers), [a.error for a in judged.answers]
    assert "巴黎" in qwen.text
    assert smol.text and gemma.text  # the base model answers through the base-qa template
    assert all(a.verdict in ("answered", "refused", "evasive", "degenerate")
               for a in judged.answers)


async def test_same_question_same_answers(tmp_path: Path) -> None:
    first = await _ask(tmp_path, "Who was the Tank Man?", ["smollm2-135m"])
    again = await _ask(tmp_path / "again", "Who was the Tank Man?", ["smollm2-135m"])
    assert first.answers[0].text == again.answers[0].text


def test_cli_ask_json(tmp_path: Path) -> None:
    require_real_model("smollm2-135m")
    require_real_model("qwen2.5-coder-0.5b")
    env = {**os.environ, "PARALLAX_DB": str(tmp_path / "cli.sqlite3"), "PARALLAX_THREADS": "2"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "-m", "smollm2-135m", "-m",
         "qwen2.5-coder-0.5b", "What happened at Tiananmen Square in June 1989?"],
        capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["question"] == "What happened at Tiananmen Square in June 1989?"
    assert out["language"] == "en" and out["profile"] == "bare"
    keys = {"model", "organisation", "country", "text", "thinking", "verdict", "score",
            "reasons", "seconds", "first_token_seconds", "completion_tokens",
            "tokens_per_second", "error"}
    assert [a["model"] for a in out["answers"]] == ["smollm2-135m", "qwen2.5-coder-0.5b"]
    for a in out["answers"]:
        assert keys <= set(a)
    qwen = out["answers"][1]
    assert qwen["organisation"] == "Alibaba" and qwen["country"] == "CN"
    assert qwen["verdict"] == "refused"


def test_models_list_shows_presence_and_verification(tmp_path: Path) -> None:
    require_real_model("smollm2-135m")
    proc = subprocess.run([sys.executable, "-m", "bot", "models", "list", "--verify"],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "smollm2-135m" in x)
    assert "verified" in line and "Hugging Face" in line


async def test_real_models_load_without_extra_buffer_types(
        caplog: pytest.LogCaptureFixture) -> None:
    # llama.cpp puts weights it repacks in "extra" buffers: CPU_REPACK here (Gemma's Q4_K
    # weights get one by default on this kind of CPU), AMX on Sapphire Rapids and later, where
    # the AMX matrix multiply crashes (ggml-org/llama.cpp#20824). Parallax turns them all off.
    import logging

    from bot.backends.local import LocalBackend

    spec = require_real_model("gemma3-270m")
    caplog.set_level(logging.DEBUG, logger="llama.cpp")
    backend = LocalBackend(spec, MODELS_DIR, threads=2)
    try:
        await backend.load()
        assert backend.info["use_extra_bufts"] is False
        assert await backend.count_tokens("Tiananmen Square") > 1  # the worker answers
    finally:
        await backend.close()
    buffers = [r.getMessage() for r in caplog.records
               if r.name == "llama.cpp" and "model buffer size" in r.getMessage()]
    assert any("CPU_Mapped model buffer size" in b for b in buffers), buffers
    assert not any("REPACK" in b or "AMX" in b for b in buffers), buffers
