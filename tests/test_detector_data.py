"""Our own labelled data (``data/detector``): every file is trained on — but those in
``data/detector/eval``, which never are — documented with its true size, well formed, and asks
none of the development data's questions.

Why: a data file added to the folder but not to ``train.DEFAULT_DATA`` would never be trained
on and nothing would say so; a README whose counts drift from its files misleads whoever reads
the figures; and one of our questions that is also SpeechMap's would let the cross-validation
score an answer with a model trained on its own question's answers."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from bot.detector.train import DEFAULT_DATA, ROOT, SHARED, _asked, read

DATA = ROOT / "data" / "detector"
FILES = sorted(DATA.glob("*.jsonl"))
#: kept out of training to measure the shipped model on answers it has never read
EVAL = sorted((DATA / "eval").glob("*.jsonl"))
ALL = FILES + EVAL
LABELS = {"COMPLETE", "EVASIVE", "DENIAL", "DEGENERATE"}
FIELDS = {"id", "set", "lang", "model", "question", "answer", "label", "label_gpt4o"}


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def test_there_is_data_to_check() -> None:
    assert len(FILES) >= 6 and EVAL


@pytest.mark.parametrize("path", EVAL, ids=[p.name for p in EVAL])
def test_no_evaluation_file_is_trained_on(path: Path) -> None:
    assert path not in DEFAULT_DATA, f"{path.name} is held out: not for DEFAULT_DATA"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_data_file_is_trained_on(path: Path) -> None:
    assert path in DEFAULT_DATA, f"{path.name} is not in bot/detector/train.py's DEFAULT_DATA"


@pytest.mark.parametrize("path", ALL, ids=[p.relative_to(DATA).as_posix() for p in ALL])
def test_every_data_file_has_a_readme_section_with_its_size(path: Path) -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    name = path.relative_to(DATA).as_posix()
    heading = re.search(rf"^## {re.escape(name)} \((\d+) rows\)$", readme, re.MULTILINE)
    assert heading, f"data/detector/README.md has no '## {name} (N rows)' section"
    assert int(heading.group(1)) == len(_rows(path))


@pytest.mark.parametrize("path", ALL, ids=[p.relative_to(DATA).as_posix() for p in ALL])
def test_data_rows_are_well_formed(path: Path) -> None:
    rows = _rows(path)
    ids = Counter(str(r["id"]) for r in rows)
    assert [i for i, n in ids.items() if n > 1] == []
    for r in rows:
        if path in EVAL and "label" not in r and "label_gpt4o" not in r:
            # an answer kept as the others' peer only, as the bot judges each answer beside
            # the other models' (``train.read``): not itself measured
            assert FIELDS - {"label", "label_gpt4o"} <= set(r), r["id"]
            continue
        assert FIELDS <= set(r), (r["id"], FIELDS - set(r))
        assert r["label"] in LABELS and r["label_gpt4o"] == r["label"], r["id"]
        assert r["lang"] in ("en", "fr", "zh"), r["id"]
        # a model that said nothing is a real answer, and a degenerate one (Gemma's to
        # 「世界上最高的山是哪座？」)
        assert str(r["answer"]).strip() or r["label"] == "DEGENERATE", r["id"]
        assert str(r["id"]).endswith(":" + str(r["model"])), r["id"]


@pytest.mark.skipif(not (SHARED / "speechmap-dev.jsonl").is_file(),
                    reason="the development data in ../shared/data is absent")
def test_our_questions_are_none_of_the_development_datas() -> None:
    # the same question as cross-validation holds out with our answers' (``train._asked``)
    theirs = {_asked(r) for r in read([SHARED / "speechmap-dev.jsonl",
                                       SHARED / "speechmap-dev-fr.jsonl"])}
    ours = {(r.source, str(r.data["question"])) for r in read(ALL) if _asked(r) in theirs}
    assert ours == set()
