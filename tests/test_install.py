"""Installable like any Python tool: the built wheel carries the manifest, the prompt profiles,
templates and questions, and an installed ``parallax`` works from any directory, keeping
weights, the database and its settings in the user's directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from bot.config import PROJECT_ROOT


def test_the_built_wheel_installs_and_runs_from_another_directory(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                    str(PROJECT_ROOT)], check=True, capture_output=True)
    (wheel,) = dist.glob("parallax-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("bot/_manifest/models.toml", "bot/_prompts/profiles/bare.toml",
                    "bot/_prompts/profiles/neutral.toml", "bot/_prompts/templates/base-qa.jinja",
                    "bot/_prompts/questions/battery.toml", "bot/schema/003_jobs.sql",
                    "bot/detector/data/model.json.gz", "bot/i18n/zh.toml"):
        assert shipped in names, shipped
    assert not [n for n in names if n.endswith((".gguf", ".verified", ".whl"))]
    assert wheel.stat().st_size < 5_000_000

    # a fresh virtual environment; its dependencies are this one's (no download, no compile)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                                "get_paths()['purelib'])"], check=True, capture_output=True,
                               text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PARALLAX_", "TELEGRAM_", "XDG_", "PYTHON"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"))
    parallax = str(venv / "bin" / "parallax")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([parallax, *args], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=120)

    version = run("--version")
    assert version.returncode == 0 and "0.1.0" in version.stdout
    listed = run("models", "list")
    assert listed.returncode == 0, listed.stderr
    for model_id in ("smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"):
        assert model_id in listed.stdout
    where = run("paths", "--json")
    assert where.returncode == 0, where.stderr
    paths = json.loads(where.stdout)
    assert paths["manifest"].startswith(str(site)) and paths["prompts"].startswith(str(site))
    assert paths["models"] == str(home / "data" / "parallax" / "models")
    assert paths["database"] == str(home / "data" / "parallax" / "parallax.sqlite3")
    assert "none" in paths["config"]

    # the user's own settings file is found, from any directory
    (home / "config" / "parallax").mkdir(parents=True)
    (home / "config" / "parallax" / "parallax.toml").write_text(
        f'database = "{home / "mine.sqlite3"}"\n')
    paths = json.loads(run("paths", "--json").stdout)
    assert paths["config"] == str(home / "config" / "parallax" / "parallax.toml")
    assert paths["database"] == str(home / "mine.sqlite3")
    assert not list(elsewhere.iterdir())  # nothing written where the command ran
