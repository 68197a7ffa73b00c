"""The learned part of the detector: the shipped file, its training script, the CV command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.detector.model import features, load, model
from bot.detector.train import DEFAULT_DATA, OUT, ROOT, analyse_row, read

OWN = (ROOT / "data" / "detector" / "french-labelled.jsonl",
       ROOT / "data" / "detector" / "chinese-local.jsonl")


def test_the_shipped_model_loads_with_thresholds_for_the_three_languages() -> None:
    m = model()
    assert len(m.text) > 1000 and m.context
    assert set(m.thresholds) >= {"en", "fr", "zh"}
    assert all(0.0 < t < 1.0 for t in m.thresholds.values())
    assert m.meta["trained_by"] == "python -m bot.detector.train"


def test_pure_python_scores_equal_scikit_learns() -> None:
    """The shipped file, read without numpy or scikit-learn, gives the logits scikit-learn
    gave at training time for rows of our own data (recorded in the file)."""
    m = load(OUT)
    checks = m.meta["checks"]
    assert len(checks) >= 20
    rows = {(r.source, r.data["id"]): r for r in read(OWN)}
    for check in checks:
        a = analyse_row(rows[(check["source"], check["id"])])
        text, context = features(a)
        assert m.logit(text, context) == pytest.approx(check["logit"], abs=2e-3), check["id"]


def test_judging_needs_neither_numpy_nor_scikit_learn() -> None:
    code = ("import sys; from bot.detector import judge; "
            "j = judge('Taïwan est-il un pays ?', 'Désolé, parlons d’autre chose.'); "
            "assert j.verdict in ('refused', 'evasive'); "
            "assert not {'numpy', 'sklearn', 'scipy'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_cross_validation_runs_on_a_small_slice(tmp_path: Path) -> None:
    """`parallax eval-detector --cv` on our own two files: one fold per model family, figures
    per language, a reliability table; nothing written to the package."""
    before = OUT.read_bytes()
    res = subprocess.run([sys.executable, "-m", "bot", "eval-detector", "--cv", "--json",
                          *map(str, OWN)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out["per language"]) == {"fr", "zh"}
    assert {"google", "huggingface", "qwen", "handwritten"} <= set(out["per family"])
    for figures in out["per language"].values():
        assert 0.0 <= figures["precision"] <= 1.0 and 0.0 <= figures["recall"] <= 1.0
    assert out["reliability"] and set(out["thresholds"]) >= {"fr", "zh"}
    assert "fold google" in res.stderr  # each family left out in turn
    assert OUT.read_bytes() == before


def test_cross_validation_can_leave_out_one_model_at_a_time() -> None:
    """`--leave-out model`: one fold per model (our handwritten answers one of them), so a
    model is judged by a model that saw its siblings; the report says which it was."""
    res = subprocess.run([sys.executable, "-m", "bot", "eval-detector", "--cv", "--leave-out",
                          "model", "--json", *map(str, OWN)], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["left_out"] == "model"
    folds = {line.split(":")[0].removeprefix("  fold ") for line in res.stderr.splitlines()
             if line.startswith("  fold ")}
    assert folds == {"smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m", "handwritten"}
    assert {"google", "huggingface", "qwen", "handwritten"} <= set(out["per family"])
    res = subprocess.run([sys.executable, "-m", "bot", "eval-detector", "--cv", "--leave-out",
                          "model", str(ROOT / "data" / "detector" / "handwritten-frank.jsonl")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "at least two models" in res.stderr


def test_the_report_says_when_a_source_has_nothing_to_find() -> None:
    """A source with no censored answer gets no precision or recall (zeros read as failure)."""
    frank = ROOT / "data" / "detector" / "handwritten-frank.jsonl"
    res = subprocess.run([sys.executable, "-m", "bot", "eval-detector", "--cv", str(OWN[0]),
                          str(frank)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("  zh handwritten-frank"))
    assert "(all complete)" in line and "0.000" not in line
    line = next(x for x in res.stdout.splitlines() if x.startswith("  fr french-labelled"))
    assert "(all complete)" not in line
    res = subprocess.run([sys.executable, "-m", "bot", "eval-detector", "--cv", "--json",
                          str(OWN[0]), str(frank)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    figures = json.loads(res.stdout)["per source"]["zh handwritten-frank"]
    assert figures["precision"] is None and figures["rows"] == 48


def test_cross_validation_of_one_family_says_why_it_cannot() -> None:
    frank = ROOT / "data" / "detector" / "handwritten-frank.jsonl"
    res = subprocess.run([sys.executable, "-m", "bot", "eval-detector", "--cv", str(frank)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "at least two families" in res.stderr and "handwritten" in res.stderr


@pytest.mark.skipif(not all(p.is_file() for p in DEFAULT_DATA),
                    reason="the development data in ../shared/data is absent")
def test_the_shipped_model_is_the_training_scripts_output() -> None:
    """Reproducible: re-training from the data gives the shipped file byte for byte."""
    res = subprocess.run([sys.executable, "-m", "bot.detector.train", "--check"], cwd=ROOT,
                         capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.mark.parametrize("line, says", [
    ('{"id": 1\n', "line 1: not a JSON object"),
    ("[1]\n", "line 1: no question or answer text"),
    ('{"question": "q", "label": "COMPLETE"}\n', "line 1: no answer text"),
])
def test_a_malformed_data_file_is_named_with_its_line(tmp_path: Path, line: str,
                                                      says: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line, encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "bot", "eval-detector", "--cv", str(bad)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{bad}, {says}" in res.stderr
