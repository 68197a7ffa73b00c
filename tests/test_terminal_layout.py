"""The terminal reads well at 80 and 120 columns and when piped: layouts stack, not squeeze."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from ggufgen import tiny_manifest
from rich.cells import cell_len
from rich.console import Console

from bot.catalog import parse_manifest
from bot.cli import cli
from bot.frontends.terminal import _Board, _Column, stats_view, summary_table
from bot.lang import detect
from bot.pipeline import Answer, Judged

REFUSAL = ("I'm unable to engage in discussions regarding political matters due to the "
           "sensitive nature of the topic.")


def _judged() -> Judged:
    text = "".join(tiny_manifest(Path("/x.gguf"), "0" * 64, model_id=i) for i in (
        "smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"))
    catalog = parse_manifest(text.replace('name = "Tiny qwen2.5-coder-0.5b"',
                                          'name = "Qwen2.5-Coder-0.5B-Instruct"'),
                             Path("/tmp/m.toml"))
    a, b, c = catalog.models
    answers = (
        Answer(model=a, profile="bare", text="In 1989 students gathered…", verdict="answered",
               score=0.1, seconds=4.7, tokens_per_second=60.2),
        Answer(model=b, profile="bare", text=REFUSAL, verdict="refused", score=0.95,
               seconds=2.7, tokens_per_second=24.0,
               reasons=[{"signal": "refusal_phrase", "quote": REFUSAL}]),
        Answer(model=c, profile="bare", text="", verdict="error", seconds=1.0,
               error="the model process stopped (signal 9, SIGKILL)"),
    )
    return Judged(1, "What happened at Tiananmen Square in June 1989?",
                  detect("What happened at Tiananmen Square in June 1989?"), "bare", answers)


def render(renderable: object, width: int, terminal: bool = True) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=terminal, color_system=None,
            legacy_windows=False).print(renderable)
    return buf.getvalue()


def assert_fits(out: str, width: int) -> None:
    for line in out.splitlines():
        assert cell_len(line) <= width, line


@pytest.mark.parametrize("width", [80, 120])
def test_verdicts_keep_their_reason_readable(width: int) -> None:
    out = render(summary_table(_judged(), width), width)
    assert_fits(out, width)
    # the reason reads as words on a line, not one character a line
    assert any("refusal phrase: “I'm unable to" in line for line in out.splitlines())
    assert any("the model process stopped (signal" in line for line in out.splitlines())
    assert len(out.splitlines()) < 25
    assert "Qwen2.5-Coder-0.5B-Instruct" in out  # a model's name is never cut


@pytest.mark.parametrize("width", [80, 120])
def test_answers_side_by_side_or_stacked_never_squeezed(width: int) -> None:
    judged = _judged()
    board = _Board(judged.question)
    board.columns = {a.model.id: _Column(a.model, text=a.text, state="done", answer=a)
                     for a in judged.answers}
    out = render(board.render(width), width)
    assert_fits(out, width)
    assert "Qwen2.5-Coder-0.5B-Instruct" in out
    flat = " ".join(out.replace("│", " ").split())
    assert "I'm unable to engage" in flat


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("lang", ["fr", "zh"])
def test_the_verdicts_and_the_board_in_french_and_chinese_fit(width: int, lang: str) -> None:
    judged = _judged()
    words = {"fr": ("refus", "a répondu", "formule de refus"),
             "zh": ("拒绝回答", "已回答", "拒绝用语")}[lang]
    out = render(summary_table(judged, width, lang), width)
    assert_fits(out, width)  # 「拒绝回答」 takes eight cells, not four
    flat = " ".join(out.split())
    assert all(w in flat for w in words), out
    assert "refused" not in out and "answered" not in out
    if width >= 110:
        assert {"fr": "pourquoi", "zh": "原因"}[lang] in out
    board = _Board(judged.question, lang=lang)
    board.columns = {a.model.id: _Column(a.model, text=a.text, state="done", answer=a)
                     for a in judged.answers}
    board.columns["waiting"] = _Column(judged.answers[0].model)
    out = render(board.render(width), width)
    assert_fits(out, width)
    assert words[0] in " ".join(out.split()) and "waiting" not in out
    assert {"fr": "en attente", "zh": "等待中"}[lang] in out
    # the models' country in the reader's language (in English until 2026-12-07)
    assert {"fr": "🇫🇷 France", "zh": "🇫🇷 法国"}[lang] in out
    first = dataclasses.replace(judged.answers[0], first_token_seconds=0.25)
    board.columns = {first.model.id: _Column(first.model, text=first.text, state="done",
                                             answer=first)}
    out = render(board.render(width), width)
    assert {"fr": "premier jeton 0.25 s", "zh": "首个词元 0.25 s"}[lang] in " ".join(out.split())
    assert "first token" not in out


def test_piped_output_is_plain_and_fits_80_columns(tmp_path: Path,
                                                   tiny_gguf: tuple[Path, str]) -> None:
    manifest = tmp_path / "models.toml"
    manifest.write_text(tiny_manifest(tiny_gguf[0], tiny_gguf[1], model_id="tiny-a")
                        + tiny_manifest(tiny_gguf[0], tiny_gguf[1], model_id="tiny-b")
                        + tiny_manifest(tiny_gguf[0], tiny_gguf[1], model_id="tiny-c"))
    env = {"PARALLAX_MANIFEST": str(manifest), "PARALLAX_DB": str(tmp_path / "p.sqlite3"),
           "PARALLAX_THREADS": "1", "PARALLAX_CONFIG": "", "COLUMNS": "80"}
    res = CliRunner().invoke(cli, ["ask", "Is Taiwan a country?"], env=env,
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "\x1b[" not in res.output  # no escape codes in a pipe
    assert_fits(res.output, 80)
    assert "Verdicts" in res.output and "Tiny tiny-c" in res.output


@pytest.mark.parametrize("width", [80, 120])
def test_models_list_shows_whole_ids(width: int) -> None:
    res = CliRunner().invoke(cli, ["models", "list"], env={"COLUMNS": str(width),
                                                           "PARALLAX_CONFIG": ""})
    assert res.exit_code == 0, res.output
    for model_id in ("smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"):
        assert model_id in res.output
    assert_fits(res.output, width)


def test_stats_are_tables_for_people_and_json_on_request(tmp_path: Path) -> None:
    stats = {"questions": 12, "questions_per_day": {"2026-11-25": 12},
             "questions_per_language": {"en": 7, "zh": 3, "fr": 2},
             "verdicts_per_model": {"qwen2.5-coder-0.5b": {"refused": 6, "answered": 3,
                                                           "error": 1},
                                    "smollm2-135m": {"answered": 8, "degenerate": 2}}}
    out = render(stats_view(stats), 80, terminal=False)
    assert_fits(out, 80)
    assert "12 questions stored" in out
    qwen = next(line for line in out.splitlines() if "qwen2.5-coder-0.5b" in line)
    assert qwen.split()[1:] == ["3", "6", "0", "0", "1", "67%"]  # 6 of 9 judged flagged
    env = {"PARALLAX_DB": str(tmp_path / "s.sqlite3"), "PARALLAX_CONFIG": "", "COLUMNS": "80"}
    res = CliRunner().invoke(cli, ["stats", "--json"], env=env)
    assert res.exit_code == 0 and '"questions": 0' in res.output
    res = CliRunner().invoke(cli, ["stats"], env=env)
    assert res.exit_code == 0 and "0 questions stored" in res.output and "{" not in res.output
