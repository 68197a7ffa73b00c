"""The README's two set-up commands are the ones CI runs."""

from __future__ import annotations

import re

from bot.config import PROJECT_ROOT


def _commands() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", setup, re.S)


def test_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    main, tests = _commands()
    assert "parallax models pull" in main and "parallax chat" in main
    ci = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()
    assert "pytest" in tests
