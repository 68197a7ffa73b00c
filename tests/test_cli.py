"""The command line on tiny models: ask, --json, bad input, models list, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from ggufgen import tiny_manifest

from bot.cli import cli


@pytest.fixture
def env(tiny_gguf: tuple[Path, str], tmp_path: Path) -> dict[str, str]:
    manifest = tmp_path / "models.toml"
    manifest.write_text(tiny_manifest(tiny_gguf[0], tiny_gguf[1], model_id="tiny-a")
                        + tiny_manifest(tiny_gguf[0], tiny_gguf[1], model_id="tiny-b"))
    return {"PARALLAX_MANIFEST": str(manifest), "PARALLAX_DB": str(tmp_path / "cli.sqlite3"),
            "PARALLAX_THREADS": "1", "PARALLAX_CONFIG": ""}


def run(env: dict[str, str], *args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)


def test_ask_shows_every_model_side_by_side_and_the_verdicts(env: dict[str, str]) -> None:
    res = run(env, "ask", "What happened at Tiananmen Square in June 1989?")
    assert res.exit_code == 0, res.output
    assert "Tiny tiny-a" in res.output and "Tiny tiny-b" in res.output
    assert "Verdicts" in res.output and "Parallax tests" in res.output
    assert "tok/s" in res.output


def test_ask_json_has_the_documented_shape(env: dict[str, str]) -> None:
    res = run(env, "ask", "--json", "-m", "tiny-b", "Que s'est-il passé à Tiananmen ?")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["language"] == "fr" and out["profile"] == "bare"
    (answer,) = out["answers"]
    assert answer["model"] == "tiny-b" and answer["completion_tokens"] == 24
    assert answer["verdict"] in ("answered", "degenerate", "evasive", "refused")


def test_ask_exits_1_when_every_model_failed_and_0_when_one_answered(
        env: dict[str, str], tmp_path: Path, tiny_gguf: tuple[Path, str]) -> None:
    manifest = Path(env["PARALLAX_MANIFEST"])
    missing = tmp_path / "gone.gguf"
    manifest.write_text(manifest.read_text()
                        + tiny_manifest(missing, tiny_gguf[1], model_id="tiny-gone"))
    res = run(env, "ask", "--json", "-m", "tiny-gone", "Is Taiwan a country?")
    assert res.exit_code == 1, res.output
    (answer,) = json.loads(res.output)["answers"]
    assert answer["verdict"] == "error" and "gone.gguf" in answer["error"]
    res = run(env, "ask", "-m", "tiny-gone", "Is Taiwan a country?")  # the table, the same code
    assert res.exit_code == 1
    res = run(env, "ask", "--json", "-m", "tiny-gone", "-m", "tiny-a", "Is Taiwan a country?")
    assert res.exit_code == 0


ENGLISH = ("answered", "refused", "evasive", "degenerate")
FRENCH = ("a répondu", "refus", "évasif", "dégénéré")


def _verdict_words(out: str, words: tuple[str, ...]) -> list[str]:
    return [w for w in words if w in out]


def test_the_screen_speaks_the_locale_else_the_questions_language(env: dict[str, str]) -> None:
    # the order the Telegram bot follows: the person's choice (--lang), their language (the
    # locale's), the question's; "C.UTF-8" names no language
    plain = {**env, "LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8", "COLUMNS": "80"}
    res = run(plain, "ask", "-m", "tiny-a", "Que s'est-il passé à Tiananmen en 1989 ?")
    assert res.exit_code == 0, res.output
    assert _verdict_words(res.output, FRENCH) and not _verdict_words(res.output, ENGLISH)
    res = run(plain, "ask", "-m", "tiny-a", "1989年天安门广场发生了什么？")
    assert "结论" in res.output and not _verdict_words(res.output, ENGLISH), res.output
    res = run(plain, "ask", "--lang", "en", "-m", "tiny-a", "Que s'est-il passé à Tiananmen ?")
    assert _verdict_words(res.output, ENGLISH) and not _verdict_words(res.output, FRENCH[2:])
    french = {**plain, "LANG": "fr_FR.UTF-8"}
    res = run(french, "ask", "-m", "tiny-a", "What happened at Tiananmen in 1989?")
    assert _verdict_words(res.output, FRENCH) and not _verdict_words(res.output, ENGLISH)
    # a rejection is worded in the same language as the screen
    res = run(french, "ask", "-m", "nope", "What happened at Tiananmen in 1989?")
    assert res.exit_code == 2 and "Modèle inconnu" in res.output, res.output


def test_chat_answers_each_question_in_the_screens_language(env: dict[str, str]) -> None:
    plain = {**env, "LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8", "COLUMNS": "80"}
    res = run(plain, "chat", "-m", "tiny-a", "-m", "tiny-b",
              stdin="Que s'est-il passé à Tiananmen ?\n\n/models\nIs Taiwan a country?\n/quit\n")
    assert res.exit_code == 0, res.output
    first, second = res.output.split("Is Taiwan a country?")[-2:]
    assert _verdict_words(first, FRENCH) and not _verdict_words(first, ENGLISH[2:])
    assert _verdict_words(second, ENGLISH), second
    assert "tiny-b" in first  # /models lists them
    res = run(plain, "chat", "--lang", "zh", "-m", "tiny-a", stdin="Is Taiwan a country?\n")
    assert res.exit_code == 0 and "请用中文" in res.output and "结论" in res.output, res.output


def test_question_from_stdin(env: dict[str, str]) -> None:
    res = run(env, "ask", "--json", "-", stdin="Is Taiwan a country?\n")
    assert res.exit_code == 0 and json.loads(res.output)["question"] == "Is Taiwan a country?"


@pytest.mark.parametrize(("args", "needle"), [
    (["ask", "   "], "empty"),
    (["ask", "-m", "gpt-5", "Is Taiwan a country?"], "Unknown model gpt-5"),
    (["ask", "-p", "flattery", "Is Taiwan a country?"], "Unknown prompt profile flattery"),
    (["ask", "Wie spät ist es in Peking?"], "English, French and Chinese"),
])
def test_bad_input_gets_a_clear_answer_and_exit_code_2(env: dict[str, str], args: list[str],
                                                        needle: str) -> None:
    res = run(env, *args)
    assert res.exit_code == 2
    assert needle in res.output


def test_json_rejection_is_json(env: dict[str, str]) -> None:
    res = run(env, "ask", "--json", "Wie spät ist es in Peking?")
    assert res.exit_code == 2
    out = json.loads(res.output)
    assert out["error"]["reason"] == "unsupported_language" and out["language"] == "de"


def test_a_broken_manifest_is_named(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[models]]\nid = "x"\nname = "X"\norganisation = "O"\ncountry = "FR"\n'
                   'sha256 = "nothex"\n[models.source]\nkind = "path"\npath = "x.gguf"\n')
    res = run({**env, "PARALLAX_MANIFEST": str(bad)}, "models", "list")
    assert res.exit_code == 2 and "'sha256' must be 64 hex digits" in res.output


def test_models_list_and_export(env: dict[str, str]) -> None:
    res = run({**env, "COLUMNS": "200"}, "models", "list", "--verify")
    assert res.exit_code == 0 and res.output.count("verified") >= 2
    assert run(env, "ask", "--json", "Is Taiwan a country?").exit_code == 0
    res = run(env, "export", "--format", "jsonl")
    rows = [json.loads(line) for line in res.output.splitlines() if line.startswith("{")]
    assert {r["model_id"] for r in rows} == {"tiny-a", "tiny-b"}
    assert all(r["question"] == "Is Taiwan a country?" for r in rows)


def test_bot_without_a_token_explains_how_to_get_one(env: dict[str, str]) -> None:
    res = run({**env, "TELEGRAM_BOT_TOKEN": ""}, "bot")
    assert res.exit_code == 2 and "@BotFather" in res.output


def test_models_check_loads_and_generates_and_fails_on_an_unusable_default(
        tiny_gguf: tuple[Path, str], tmp_path: Path, env: dict[str, str]) -> None:
    res = run(env, "models", "check", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [m["model"] for m in out["models"]] == ["tiny-a", "tiny-b"]
    for m in out["models"]:
        assert m["ok"] and m["backend"] == "local" and m["completion_tokens"] == 8
        assert m["load_seconds"] > 0 and m["first_token_seconds"] is not None
    # a default model whose file is missing: unusable, named, exit code 1
    manifest = Path(env["PARALLAX_MANIFEST"])
    manifest.write_text(manifest.read_text() + tiny_manifest(
        tmp_path / "gone.gguf", "0" * 64, model_id="gone"))
    res = run(env, "models", "check")
    assert res.exit_code == 1
    assert "gone" in res.output and "unusable" in res.output and "ok" in res.output
    assert "Default models that cannot answer: gone" in " ".join(res.output.split())
    # a model that is not a default does not fail the check
    base = manifest.read_text().split("\n[[models]]\nid = \"gone\"")[0]
    manifest.write_text(base + tiny_manifest(tmp_path / "gone.gguf", "0" * 64,
                                             model_id="gone").replace("default = true",
                                                                      "default = false"))
    res = run(env, "models", "check", "--json")
    out = json.loads(res.output)
    assert res.exit_code == 0 and out["unusable_defaults"] == []
    assert [m["ok"] for m in out["models"]] == [True, True, False]


def test_every_parallax_error_exits_2_with_its_message(env: dict[str, str],
                                                        tmp_path: Path) -> None:
    """One exit code policy: a settings error and a manifest error alike (it was 1 and 2)."""
    bad_setting = run({**env, "PARALLAX_SCHEDULE": "sideways"}, "models", "list")
    assert bad_setting.exit_code == 2
    assert "Error:" in bad_setting.output and "PARALLAX_SCHEDULE" in bad_setting.output
    no_manifest = run({**env, "PARALLAX_MANIFEST": str(tmp_path / "none.toml")}, "ask", "Hi?")
    assert no_manifest.exit_code == 2 and "does not exist" in no_manifest.output
    unknown = run(env, "ask", "-m", "nope", "--json", "Is Taiwan a country?")
    assert unknown.exit_code == 2
