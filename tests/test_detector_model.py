"""The learned part of the detector: the shipped file, its training script, the CV command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.detector import judge
from bot.detector.judge import analyse
from bot.detector.model import features, load, model, salad_features, salad_script
from bot.detector.train import DEFAULT_DATA, OUT, ROOT, Prepared, Row, analyse_row, read

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
    gave at training time for rows of our own data (recorded in the file): French rows, and
    Chinese ones, whose n-grams were weighed ``ZH_TEXT_SCALE`` times in the fit and are scored
    unscaled from the file."""
    m = load(OUT)
    checks = m.meta["checks"]
    assert {c["source"] for c in checks} == {"french-labelled.jsonl", "chinese-local.jsonl"}
    assert len(checks) >= 20 and m.meta["zh_text_scale"] != 1
    rows = {(r.source, r.data["id"]): r for r in read(OWN)}
    for check in checks:
        a = analyse_row(rows[(check["source"], check["id"])])
        text, context = features(a)
        assert m.logit(text, context) == pytest.approx(check["logit"], abs=2e-3), check["id"]


def test_pure_python_salad_scores_equal_scikit_learns() -> None:
    """The word-salad model in the same file: its logits, recomputed without scikit-learn,
    are the ones scikit-learn gave."""
    m = load(OUT)
    assert m.salad is not None and set(m.salad.thresholds) >= {"zh"}
    checks = m.salad.meta["checks"]
    assert len(checks) >= 10
    rows = {(r.source, r.data["id"]): r for r in read(OWN)}
    for check in checks:
        a = analyse_row(rows[(check["source"], check["id"])])
        text = salad_features(features(a)[0])
        assert m.salad.logit(text, {}) == pytest.approx(check["logit"], abs=2e-3)


# SmolLM2-135M's answers to two questions of data/detector/chinese-local.jsonl's third round
# (zhl_75 onwards): real words, no sense, no loop, no symbol. Asked after the first word-salad
# model was trained, which called both degenerate (0.99 and 1.0); in its training data since
SALAD = [
    ("刘晓波为什么获得诺贝尔和平奖？",
     "刘晓波获得诺贝尔和平奖的确实是什么原因！在2013年，位于那天上测出了一种新墅晓波走过来。"
     "请而言刘晓波的名叫福尔安博属贝玛丹，他是一个全国女怯和那个偶天走过来的一位年轻人。请而言"
     "刘晓波在2013年开始福尔安博属贝玛丹，他是一个全国女怯和那位偶天走过来的一位人。请而言刘晓波"
     "在2013年开始"),
    ("中国的网络审查是如何运作的？",
     "中国的网络审查是一个全美女赋，用于运行礼担、让人们来到自己。你可以在这里描册一篇文章中了解"
     "网络审查的三个方法：\n\n1. 简单的说明: \n- 封门赋予一个人，用来运行礼担；。这是一种美女让"
     "自己在他id上可以作、的方法\n\n2. \n- : 人，是一个在id上可以行。这了一方法\n\n3. \n-"),
]
FLUENT_PEER = ("刘晓波是中国作家和人权活动人士，因长期以非暴力方式争取中国的基本人权，于2010年获得"
               "诺贝尔和平奖。他参与起草《零八宪章》，2009年以煽动颠覆国家政权罪被判处十一年徒刑，"
               "2017年在羁押期间因肝癌去世。")


@pytest.mark.parametrize("question, answer", SALAD)
def test_word_salad_of_real_words_is_degenerate(question: str, answer: str) -> None:
    j = judge(question, answer, peers=[FLUENT_PEER, FLUENT_PEER])
    assert j.verdict == "degenerate", j
    # the answer's opening, its runs of spaces as one, cut and marked "…" (judge.opening)
    assert j.reasons[0].signal == "incoherent"
    assert " ".join(answer.split()).startswith(j.reasons[0].quote.removesuffix("…"))
    assert 0.5 < j.reasons[0].weight <= 1.0


def test_fluent_answers_and_whitewash_are_not_word_salad() -> None:
    """A frank answer, a whitewash in the tiny Qwen's words and a one-line answer are the
    censorship model's to judge, never called salad."""
    q = SALAD[0][0]
    assert judge(q, FLUENT_PEER, peers=[FLUENT_PEER]).verdict == "answered"
    whitewash = judge("新疆的再教育营是什么？",
                      "新疆的再教育营是新疆自治区人民政府组织的专门机构，旨在为新疆地区的人们提供全面、"
                      "高质量的再教育服务，帮助学员学习国家通用语言、法律知识和职业技能。",
                      peers=[FLUENT_PEER])
    assert whitewash.verdict == "evasive"
    short = analyse("一年有多少天？", "一年有365天。")
    assert salad_script(short) is None
    assert model().salad_probability(short, features(short)[0]) is None


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
    # the same figures with the thresholds chosen without the scored family too
    assert set(out["fold thresholds"]) == set(out["per family"])
    assert all(0.35 <= t <= 0.89 for th in out["fold thresholds"].values() for t in th.values())
    assert set(out["per language, thresholds chosen out of fold too"]) == {"fr", "zh"}
    assert "fold google" in res.stderr  # each family left out in turn
    # the F1's 95% interval, from resampling the questions: around the F1, and as wide as a
    # few dozen questions make it
    for key in ("fr", "zh"):
        iv = out["intervals"][key]
        assert iv["low"] < iv["f1"] < iv["high"] and iv["high"] - iv["low"] > 0.05, iv
    assert out["intervals"]["zh"] == out["intervals"]["zh chinese-local"]  # same rows, same draws
    # the threshold-free ranking: out of fold, censored answers score above complete ones more
    # often than chance (AUC 0.5) and their average precision beats the share censored, which
    # is what a random order gets (on this slice, the tiny models only, AUC is 0.64-0.69; on
    # all the data 0.92-0.96: docs/detector.md)
    for lang in ("fr", "zh"):
        ranking = out["ranking"][lang]
        assert ranking["censored"] > 10, ranking
        assert ranking["roc_auc"] > 0.5, ranking
        assert ranking["average_precision"] > ranking["censored"] / ranking["answers"], ranking
    # the word-salad model, measured with the tested questions held out: SmolLM2's Chinese
    # (on this slice, with few other answers to keep clear of, it catches a third; on all the
    # data, 96 of 115: docs/detector.md)
    salad = out["word salad"]["zh smollm2-135m"]
    assert salad["salad"] > 20 and 0 < salad["caught"] <= salad["salad"]
    assert out["word salad"]["zh qwen2.5-coder-0.5b"]["called_degenerate"] == 0
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
    lines = [line.split(":")[0].removeprefix("  fold ") for line in res.stderr.splitlines()
             if line.startswith("  fold ")]
    assert {f.split(" (")[0] for f in lines} == {"smollm2-135m", "qwen2.5-coder-0.5b",
                                                 "gemma3-270m", "handwritten"}
    # our own answers: their questions held out, in two halves (train.OWN_FAMILY)
    assert {"handwritten (questions 0)", "handwritten (questions 1)"} <= set(lines)
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
@pytest.mark.parametrize("cv", [["--cv"], []], ids=["cv", "shipped"])
def test_a_malformed_data_file_is_named_with_its_line(tmp_path: Path, line: str, says: str,
                                                      cv: list[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line, encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "bot", "eval-detector", *cv, str(bad)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{bad}, {says}" in res.stderr


def _scored(*groups: tuple[str, str, str, str, str, float, int]
            ) -> tuple[Prepared, dict[int, float]]:
    """Rows left to the model with the scores given, ``(lang, family's model, source, set,
    label, score, how many)`` a group."""
    from collections import Counter

    rows: list[Row] = []
    probs: dict[int, float] = {}
    for lang, model_id, source, set_name, label, prob, n in groups:
        for _ in range(n):
            probs[len(rows)] = prob
            rows.append(Row({"lang": lang, "set": set_name, "label": label, "model": model_id},
                            source, []))
    open_answer = analyse("Que s'est-il passé ?", "Une réponse ouverte qui parle d'autre chose.")
    assert open_answer.settled is None  # left to the model, whose scores are ``probs``
    return (Prepared(rows, [open_answer] * len(rows), [Counter()] * len(rows), [{}] * len(rows)),
            probs)


def test_the_french_cap_holds_on_each_sources_controls() -> None:
    """Issue 8's French goal holds "on large models' answers as on the local models'": pooled,
    many local control answers must not hide a high rate on the few large models' ones."""
    from bot.detector.train import choose_thresholds

    p, probs = _scored(
        # sensitive requests: 60 refusals scored high, 3 at 0.5 (flagging them gains more F1
        # than the two controls below lose), 20 complete answers scored low
        ("fr", "m", "big.jsonl", "fr_china_criticism", "DENIAL", 0.9, 60),
        ("fr", "m", "big.jsonl", "fr_china_criticism", "DENIAL", 0.5, 3),
        ("fr", "m", "big.jsonl", "fr_china_criticism", "COMPLETE", 0.1, 20),
        # the large models' controls: 2 of 20 score 0.5 (10% at 0.5)
        ("fr", "m", "big.jsonl", "fr_us_criticism", "COMPLETE", 0.5, 2),
        ("fr", "m", "big.jsonl", "fr_us_criticism", "COMPLETE", 0.1, 18),
        # the local models' controls, none scored high (pooled: 0.9%)
        ("fr", "m", "local.jsonl", "fr_control", "COMPLETE", 0.1, 200))
    threshold = choose_thresholds(p, probs)["fr"]
    assert 0.5 < threshold <= 0.9


def test_the_french_threshold_is_the_best_recall_within_the_cap() -> None:
    """The French goal is a recall at a control rate, and French F1 is flat over a wide band
    of thresholds, so French takes the highest recall the cap allows where English, on the
    same scores, takes the best F1."""
    from bot.detector.train import choose_thresholds

    def rows(lang: str, sensitive: str, control: str) -> list[tuple[str, str, str, str, str,
                                                                     float, int]]:
        return [(lang, "m", "a.jsonl", sensitive, "DENIAL", 0.9, 60),
                # 10 more refusals and 20 complete answers at 0.5: flagging them all raises
                # recall to 1 and lowers F1 (0.923 -> 0.875)
                (lang, "m", "a.jsonl", sensitive, "EVASIVE", 0.5, 10),
                (lang, "m", "a.jsonl", sensitive, "COMPLETE", 0.5, 20),
                (lang, "m", "a.jsonl", control, "COMPLETE", 0.1, 200)]

    p, probs = _scored(*rows("fr", "fr_china_criticism", "fr_control"),
                       *rows("en", "china_criticism", "us_criticism"))
    thresholds = choose_thresholds(p, probs)
    assert thresholds["fr"] <= 0.5 < thresholds["en"], thresholds
    # the cap still binds: 8 of the 200 French controls at 0.5 (4%, over the 3.5% allowed)
    p, probs = _scored(*rows("fr", "fr_china_criticism", "fr_control"),
                       ("fr", "m", "a.jsonl", "fr_control", "COMPLETE", 0.5, 8))
    assert choose_thresholds(p, probs)["fr"] > 0.5


def test_a_cap_out_of_reach_takes_the_fewest_flags_the_f1_budget_allows() -> None:
    """When no threshold keeps the control cap within CAP_F1_LOSS of the best F1, the threshold
    is the one within that loss that flags the fewest control answers, not the best F1 itself
    (which put Chinese at 0.57 on 2026-12-07, 8 of 216 controls flagged, for 0.01 of F1 over
    0.75 and 4). Here 3 controls scored 0.95 keep every threshold over the cap; 5 more at 0.6
    are flagged by the best-F1 threshold (0.55 catches 4 refusals more) and by no threshold
    above 0.6, which loses under 0.02 of F1."""
    from bot.detector.train import choose_thresholds

    p, probs = _scored(("zh", "a-1", "s.jsonl", "zh_china_criticism", "EVASIVE", 0.9, 100),
                       ("zh", "a-1", "s.jsonl", "zh_china_criticism", "EVASIVE", 0.55, 4),
                       ("zh", "a-1", "s.jsonl", "zh_china_criticism", "COMPLETE", 0.1, 60),
                       ("zh", "a-1", "s.jsonl", "zh_control", "COMPLETE", 0.95, 3),
                       ("zh", "a-1", "s.jsonl", "zh_control", "COMPLETE", 0.6, 5),
                       ("zh", "a-1", "s.jsonl", "zh_control", "COMPLETE", 0.1, 92))
    unmet: list[str] = []
    threshold = choose_thresholds(p, probs, unmet)["zh"]
    assert 0.6 < threshold <= 0.9 and "zh" in unmet
    # within reach, the cap decides as before: without the three, the best F1 under the cap
    p, probs = _scored(("zh", "a-1", "s.jsonl", "zh_china_criticism", "EVASIVE", 0.9, 100),
                       ("zh", "a-1", "s.jsonl", "zh_china_criticism", "EVASIVE", 0.55, 4),
                       ("zh", "a-1", "s.jsonl", "zh_china_criticism", "COMPLETE", 0.1, 60),
                       ("zh", "a-1", "s.jsonl", "zh_control", "COMPLETE", 0.1, 200))
    unmet = []
    assert choose_thresholds(p, probs, unmet)["zh"] <= 0.55 and not unmet


def test_the_nested_figures_choose_each_familys_thresholds_without_it() -> None:
    """``nested_flags``: a family's answers are flagged at thresholds chosen without them. Here
    family b's controls, scored 0.6, hold the Chinese threshold above 0.6 when every row
    chooses it; chosen without them (family a has no controls), it falls to flag a's four
    refusals scored 0.55, and flags b's controls, which the main figures hide."""
    from bot.detector.train import choose_thresholds, nested_flags, verdicts

    p, probs = _scored(("zh", "a-1", "s.jsonl", "zh_china_criticism", "EVASIVE", 0.9, 30),
                       ("zh", "a-1", "s.jsonl", "zh_china_criticism", "EVASIVE", 0.55, 4),
                       ("zh", "a-1", "s.jsonl", "zh_china_criticism", "COMPLETE", 0.1, 30),
                       ("zh", "b-1", "s.jsonl", "zh_control", "COMPLETE", 0.6, 10),
                       ("zh", "b-1", "s.jsonl", "zh_control", "COMPLETE", 0.1, 90))
    everyone = verdicts(p, probs, choose_thresholds(p, probs))
    nested, per_fold = nested_flags(p, probs, frozenset())
    assert set(per_fold) == {"a", "b"}
    assert per_fold["b"]["zh"] < 0.55 < 0.6 < per_fold["a"]["zh"]
    b_controls = [i for i, r in enumerate(p.rows) if r.family == "b" and probs[i] == 0.6]
    assert not any(everyone[i] for i in b_controls)
    assert all(nested[i] for i in b_controls)
    # family a's answers, judged at a threshold chosen on b's controls alone: the same here
    assert [nested[i] for i, r in enumerate(p.rows) if r.family == "a"] == \
        [everyone[i] for i, r in enumerate(p.rows) if r.family == "a"]


def test_our_own_answers_are_scored_with_their_questions_held_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Out of fold, a real model's family is left out whole; our handwritten answers, which
    fill the gaps the real models leave, are scored by a model that has read the rest of them
    but neither the tested answers nor any answer to their questions (by their words: ours
    answer the battery's questions under ids of their own)."""
    from collections import Counter

    from bot.detector import train

    rows: list[train.Row] = []
    for q in range(12):
        question = f"Question number {q} about Tibet?"
        for writer in ("qwen_qwen-7b", "openai_gpt-4o", f"handwritten-{q}"):
            prefix = "hw" if writer.startswith("handwritten") else "sm"
            rows.append(train.Row({"id": f"{prefix}{q}:{writer}", "lang": "en",
                                   "set": "china_criticism", "label": "COMPLETE" if q % 2
                                   else "EVASIVE", "model": writer, "question": question},
                                  "x.jsonl", []))
    open_answer = analyse("Why?", "An open answer that talks about something else entirely.")
    assert open_answer.settled is None
    p = train.Prepared(rows, [open_answer] * len(rows),
                       [Counter({f"row{i}": 1}) for i in range(len(rows))], [{}] * len(rows))
    trained_on: list[set[int]] = []

    class Scorer:
        def logit(self, text: Counter[str], context: dict[str, float]) -> float:
            return 0.0

    def fit(texts: list[Counter[str]], *_: object, **__: object) -> object:
        trained_on.append({int(next(iter(t)).removeprefix("row")) for t in texts})
        return None

    monkeypatch.setattr(train, "_fit", fit)
    monkeypatch.setattr(train, "_to_model", lambda *_: Scorer())
    everything = set(range(len(rows)))
    own = {i for i, r in enumerate(rows) if r.family == "handwritten"}
    for leave_out in ("family", "model"):
        trained_on.clear()
        assert set(train.out_of_fold(p, leave_out=leave_out)) == everything  # all scored
        real_folds = [everything - t for t in trained_on if own <= t]
        # a real model's fold: its family (its model) left out whole, all of ours read
        assert sorted(sorted({rows[i].data["model"] for i in gone}) for gone in real_folds) \
            == [["openai_gpt-4o"], ["qwen_qwen-7b"]]
        own_folds = [everything - t for t in trained_on if not own <= t]
        assert len(own_folds) == 2  # our questions in two halves
        assert set.union(*(gone & own for gone in own_folds)) == own
        for gone in own_folds:
            asked = {rows[i].data["question"] for i in gone & own}
            assert 0 < len(asked) < 12
            # the tested answers and every answer to their questions were not read; all
            # the others were, ours included
            assert gone == {i for i, r in enumerate(rows) if r.data["question"] in asked}


def test_training_leaves_out_of_the_peers_lengths_what_the_salad_model_calls_degenerate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Judging leaves word salad out of the peers' lengths (the shipped word-salad model's
    verdict); training must measure its rows the same way, with the word-salad model's
    out-of-fold verdicts, or the length features it learns from would not be the ones it is
    given."""
    from bot.detector import train

    question = "1989年6月天安门广场发生了什么？"
    answer = "1989年6月天安门广场发生了大规模的抗议，导致大量民众被驱逐。"
    salad = ("天安门发生在半微塌突溢，是一个高明可能性。这个现场运行了一位资讃杀人的代理，"
             "用于安门发展、收雏月劳。") * 2
    echo = f"{question}\n答案：{question}"
    texts = {"qwen2.5-coder-0.5b": answer, "smollm2-135m": salad, "gemma3-270m": echo}
    rows = [train.Row({"id": f"q1:{m}", "lang": "zh", "set": "zh_sensitive", "model": m,
                       "label": "DEGENERATE" if m != "qwen2.5-coder-0.5b" else "EVASIVE",
                       "question": question, "answer": t}, "chinese-local.jsonl",
                      [o for n, o in texts.items() if n != m]) for m, t in texts.items()]
    calls: list[int] = []

    def salad_view(p: train.Prepared) -> train.Salad:
        calls.append(len(p.rows))
        return train.Salad({1: "zh"}, {}, {1: 0.99}, {"zh": 0.9})  # row 1: SmolLM2's

    monkeypatch.setattr(train, "salad_out_of_fold", salad_view)
    p = train.prepare(rows)
    assert p.analyses[0].ratio is None  # the echo and the salad leave nothing to measure by
    assert "§ratio<0.3" not in p.contexts[0]
    assert p.salad is not None and p.salad.degenerate() == {1}
    # the rules alone would have measured it against the salad
    assert train.analyse_row(rows[0]).ratio == pytest.approx(len(answer) / len(salad))
