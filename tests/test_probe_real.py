"""The censorship map end to end: ``parallax probe`` on a slice of the battery with the real
SmolLM2, run twice (the second goes on, asking nothing), ``parallax report``, and the report
opened in headless Chromium (Debian's ``chromium``; ``scripts/system-deps`` installs it)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import require_real_model

ROOT = Path(__file__).resolve().parents[1]
PARALLAX = [sys.executable, "-m", "bot"]


def _run(args: list[str], db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
    return subprocess.run([*PARALLAX, "--db", str(db), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    require_real_model("smollm2-135m")
    tmp = tmp_path_factory.mktemp("probe")
    db = tmp / "probe.sqlite3"
    args = ["probe", "-m", "smollm2-135m", "-l", "en,zh", "-q",
            "tiananmen-1989,capital-france", "--max-tokens", "24", "--run", "slice"]
    first = _run([*args, "-o", str(tmp / "out")], db, tmp)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "4 answers planned, 0 done already" in first.stdout
    return tmp, db, first.stdout


def test_probe_writes_the_map_of_real_answers(probed: tuple[Path, Path, str]) -> None:
    tmp, db, out = probed
    files = {p.name for p in (tmp / "out").iterdir()}
    assert files == {"results.jsonl", "summary.json", "heatmap.png", "double_standard.png",
                     "report.html"}
    rows = [json.loads(x) for x in (tmp / "out" / "results.jsonl").read_text().splitlines()]
    assert {(r["question"], r["language"]) for r in rows} == {
        (q, lang) for q in ("tiananmen-1989", "capital-france") for lang in ("en", "zh")}
    assert all(r["model"] == "smollm2-135m" and r["answer"] and r["verdict"] != "error"
               for r in rows)
    summ = json.loads((tmp / "out" / "summary.json").read_text())
    assert summ["cells"] == {"planned": 4, "stored": 4, "missing": 0, "errors": 0}
    assert summ["run"]["max_tokens"] == 24
    with sqlite3.connect(db) as con:
        tokens = [r[0] for r in con.execute("SELECT completion_tokens FROM answers")]
        runs = con.execute("SELECT name, status FROM runs").fetchall()
    assert tokens and max(tokens) <= 24
    assert runs == [("slice", "done")]
    assert "4/4 answers" in out


def test_a_second_probe_asks_nothing_and_report_rebuilds(probed: tuple[Path, Path, str]
                                                         ) -> None:
    tmp, db, _ = probed
    again = _run(["probe", "--run", "slice", "-o", str(tmp / "again")], db, tmp)
    assert again.returncode == 0, again.stderr
    assert "4 answers planned, 4 done already" in again.stdout
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM answers").fetchone()[0] == 4
    listed = _run(["report"], db, tmp)
    assert "slice" in listed.stdout and "done" in listed.stdout
    rebuilt = _run(["report", "slice", "--lang", "zh", "-o", str(tmp / "zh")], db, tmp)
    assert rebuilt.returncode == 0, rebuilt.stderr
    page = (tmp / "zh" / "report.html").read_text(encoding="utf-8")
    assert "Parallax 审查地图" in page
    missing = _run(["report", "nope"], db, tmp)
    assert missing.returncode == 2 and "no probe run 'nope'; runs: slice" in missing.stderr


def test_ask_draws_the_comparison_card(tmp_path: Path) -> None:
    from PIL import Image

    require_real_model("smollm2-135m")
    out = tmp_path / "card.png"
    done = _run(["ask", "-m", "smollm2-135m", "--card", str(out),
                 "Quelle est la capitale de la France ?"], tmp_path / "c.sqlite3", tmp_path)
    assert done.returncode == 0, done.stderr
    image = Image.open(out)
    assert image.format == "PNG" and image.size[0] >= 700
    assert f"card written to {out}" in done.stderr


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--enable-logging=stderr", "--v=0", "--virtual-time-budget=4000"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("headless Chromium is needed to check the report: run scripts/system-deps "
                    "(Debian: apt-get install chromium), as the README's test command does")
    return path


def test_the_report_opens_in_chromium_without_errors(probed: tuple[Path, Path, str]) -> None:
    tmp, _, _ = probed
    browser = _chromium()
    page = tmp / "out" / "report.html"
    anchor = "cell-zh-smollm2_135m-tiananmen"
    assert f'id="{anchor}"' in page.read_text(encoding="utf-8")
    profile = tmp / "chromium-profile"
    shot = tmp / "report.png"
    base = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run([*base, "--dump-dom", f"{page.as_uri()}#{anchor}"],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    # the link's target, the answers behind a cell, is opened by the page's script
    opened = f'<details id="{anchor}" open="" class="target">'
    assert opened in dom.stdout
    assert "1989" in dom.stdout and "smollm2-135m" in dom.stdout
    shots = subprocess.run([*base, "--window-size=1200,2000", f"--screenshot={shot}",
                            page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shots.returncode == 0 and shot.stat().st_size > 20_000, shots.stderr[-2000:]
    keep = os.environ.get("PARALLAX_KEEP_SCREENSHOT")
    if keep:  # for a person to look at: PARALLAX_KEEP_SCREENSHOT=/tmp/report.png pytest …
        shutil.copy(shot, keep)
