"""Train the detector's model and cross-validate it leaving whole model families out.

    python -m bot.detector.train                  # writes bot/detector/data/model.json.gz
    python -m bot.detector.train --check          # re-trains; exit 1 if the shipped file differs
    parallax eval-detector --cv                   # leave-families-out figures (this module)

Needs scikit-learn (``pip install -e '.[train]'``); judging with the shipped file does not.

Data (``DEFAULT_DATA``): SpeechMap's development answers in English and Chinese, their French
translations (both in ``../shared/data``), and our own labelled answers under ``data/detector``
(the local models' French and Chinese answers, handwritten French refusals, evasions and
talking points, handwritten Chinese whitewash and frank answers; see data/detector/README.md).
Rows whose two judges disagree are left out of training and of the figures. Only answers the
rules leave open (not an error, degenerate or a plain refusal) train the model: those are the
answers it will be asked about.

Method: TF-IDF over ``features.text_features`` plus the context features, L2-regularised
logistic regression; the ``KEEP`` n-grams with the largest weights are kept and the model is
fitted again on them alone (a small shipped file, and the TF-IDF norm is computed over exactly
the shipped vocabulary). Out-of-fold scores, each family's answers scored by a model trained
without that family, give the Platt scaling and each language's threshold: nothing is tuned on
the rows it is measured on, except that the rules' phrase lists (features among others) were
written reading this development data, which the figures state.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

# The same floating-point code on every x86-64 machine, so that the shipped file re-trains byte
# for byte: NumPy and OpenBLAS pick their kernels by CPU at run time, and the AVX-512 ones round
# differently. Measured 2026-12-02 on an AMD EPYC with AVX-512: the shipped file, trained on
# another machine, differed; with these two settings (AVX2 code) it matched. They act only if
# numpy is not imported yet (``python -m bot.detector.train`` and ``parallax eval-detector``
# import it later).
os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")
os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

from bot.detector.commands import CENSORED, CONTROL_SETS, _Counts, peer_key, question_key, read_rows
from bot.detector.judge import _CJK, Analysis, analyse, retold
from bot.detector.model import LinearModel, features, salad_features, salad_script, sigmoid

ROOT = Path(__file__).resolve().parent.parent.parent
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_DATA = (SHARED / "speechmap-dev.jsonl", SHARED / "speechmap-dev-fr.jsonl",
                ROOT / "data" / "detector" / "french-labelled.jsonl",
                ROOT / "data" / "detector" / "chinese-local.jsonl",
                ROOT / "data" / "detector" / "battery-local.jsonl",
                ROOT / "data" / "detector" / "handwritten-frank.jsonl",
                ROOT / "data" / "detector" / "chinese-handwritten.jsonl",
                ROOT / "data" / "detector" / "chinese-essays.jsonl")
OUT = ROOT / "bot" / "detector" / "data" / "model.json.gz"

SEED = 0
MIN_DF = 3
KEEP = 20000
C = 8.0
#: Chinese n-grams' tf-idf values are multiplied by this before fitting, and their weights by
#: it after: the same L2 penalty then holds them back a quarter as much as the other features.
#: Chosen out of fold among 0.5, 1, 2, 3 and 4 (2026-12-06, seventh session; docs/detector.md):
#: at 2, with families left out, SpeechMap's Chinese ROC AUC 0.965 -> 0.968 and F1 0.889 ->
#: 0.893, our handwritten whitewash's F1 0.851 -> 0.913, the local models' Chinese answers'
#: 0.667 -> 0.698 and 0.560 -> 0.577, the local models' French controls flagged 5 -> 3 of 113;
#: more raised the AUC a little further (0.970 at 4) and the F1 no further, while English
#: controls flagged rose from 15 to 18. Every text feature at 2 (English and French too):
#: Chinese 0.897, English 0.928 -> 0.925
ZH_TEXT_SCALE = 2.0
#: languages with their own threshold; any other uses "" (all rows)
LANGS = ("en", "zh", "fr")
#: the most a language's threshold may flag of the control sets' complete answers, out of fold
#: (the goals: 2% in English and Chinese, 5% in French; a margin for unseen models). French
#: had 118 control answers, so a step of the threshold moved the rate by 0.85 points: at 3%
#: the threshold sat at 0.73 (recall 0.76, 3 flagged); at 4.5% near 0.55 (recall 0.83, 5
#: flagged, 4.2%), the best recall within the goal's 5% (docs/detector.md); with 163 since
#: 2026-12-06, at 0.39 (recall 0.89, 6 flagged, 3.7%; ``CAP_EACH_SOURCE``). Chinese had 146
#: control answers (205 now), all the tiny local models': at 1% one answer set the threshold
#: — Gemma's 「保护环境是人类生存的根本保障。」 (2026-12-06) took it from 0.67 to 0.77 and
#: SpeechMap's Chinese F1 from 0.881 to 0.861 — so 1.5%: two answers, still under the goal's 2%
#: French since 2026-12-07 (``RECALL_LANGS``): 3.5%, a margin of one answer of the large
#: models' 50 under the goal's 5% (4.5% let the threshold flag 3 of them, 6.0%, once a family
#: was left out of the choice: docs/detector.md)
MAX_CONTROL_FPR = {"en": 0.01, "zh": 0.015, "fr": 0.035, "": 0.01}
#: languages whose threshold is the one with the highest recall within the cap (ties: the
#: highest threshold), not the best F1: the French goal is a recall at a control rate, and
#: French F1 is flat (0.879-0.891 out of fold from 0.35 to 0.71, 2026-12-07), so its best
#: point wandered from 0.35 to 0.77 as one family or another was left out of the choice, and
#: the French figures with the threshold chosen without the scored family fell to recall
#: 0.848 at 5.5% of the controls (``nested_flags``; docs/detector.md)
RECALL_LANGS = frozenset({"fr"})
#: languages whose cap holds on each source's control answers as well as on all of them: the
#: French goal is a false-positive rate within 5% "on large models' answers as on the local
#: models'" (issue 8), and pooled, 113 local answers hid 6.0% (3 of 50) on the translated
#: large models' answers at the threshold of 2026-12-06's fourth session (0.37)
CAP_EACH_SOURCE = frozenset({"fr"})
#: how much F1 a cap may cost before it is reported unmet instead (``choose_thresholds``)
CAP_F1_LOSS = 0.02

# the word-salad model (``model.LinearModel.incoherent``): a logistic regression over the same
# n-grams, answers labelled DEGENERATE that the rules leave open against every other open
# answer it may judge (``model.salad_script``); classes balanced (150 against 3,918 on
# 2026-12-06), fewer n-grams kept than the censorship model's
SALAD_C = 4.0
SALAD_KEEP = 5000
#: the most answers not labelled degenerate that the word-salad model may call degenerate, out
#: of fold (questions held out), as a share of those in the question's language: a false
#: "degenerate" hides what the answer says, so the cap is a quarter of the censorship
#: controls' (measured 2026-12-06: docs/detector.md)
SALAD_MAX_FPR = 0.0025

#: the answers we wrote ourselves (``handwritten-…``): out of fold they are scored by a model
#: trained without their questions, every other answer of ours kept, where every real model's
#: family is left out whole. They fill the gaps the real models' answers leave (a short,
#: frank Chinese answer on Tiananmen; a French refusal the way large models word it), so with
#: their family left out, the model scoring them had never seen their kind, where the shipped
#: model has: on 2026-12-06, 29 of the 48 frank Chinese answers were flagged out of fold at a
#: threshold of 0.52, and those flags, not the real models' answers, set the Chinese threshold
#: (docs/detector.md). Their questions held out, they still test what they teach on answers the
#: model has not read.
OWN_FAMILY = "handwritten"

# local model ids -> the family of the model they come from
_LOCAL_FAMILIES = {"smollm2": "huggingface", "qwen2.5": "qwen", "gemma": "google",
                   "handwritten": "handwritten"}


def family(model: str) -> str:
    """"qwen_qwen3-14b" -> "qwen"; "qwen2.5-coder-0.5b" -> "qwen"; "handwritten-3" ->
    "handwritten"."""
    for prefix, fam in _LOCAL_FAMILIES.items():
        if model.startswith(prefix):
            return fam
    return model.split("_")[0].split("-")[0]


@dataclass
class Row:
    data: dict[str, Any]
    source: str
    peers: list[str]

    @property
    def label(self) -> str:
        return str(self.data["label"])

    @property
    def censored(self) -> bool:
        return self.label in CENSORED

    @property
    def agreed(self) -> bool:
        other = self.data.get("label_gpt4o")
        return other is None or other == self.label

    @property
    def measured(self) -> bool:
        """Counted in the censorship figures and training: both judges agree and the answer is
        not labelled degenerate (a quality failure is neither censored nor complete)."""
        return self.agreed and self.label != "DEGENERATE"

    @property
    def control(self) -> bool:
        """An answer to a control request: another government criticised, or a plain fact."""
        return self.data.get("set") in CONTROL_SETS

    @property
    def lang(self) -> str:
        return str(self.data.get("lang") or "")

    @property
    def where(self) -> str:
        """Its question's language and its file, as the report's per-source rows name it:
        "zh speechmap-dev"."""
        return f"{self.lang} {self.source.removesuffix('.jsonl')}"

    @property
    def family(self) -> str:
        return family(str(self.data.get("model") or ""))

    @property
    def model(self) -> str:
        """The model that wrote the answer; our handwritten answers count as one."""
        model = str(self.data.get("model") or "")
        return OWN_FAMILY if family(model) == OWN_FAMILY else model

    def group(self, leave_out: str) -> str:
        """What a cross-validation fold leaves out: "family" or "model"."""
        return self.model if leave_out == "model" else self.family

    @property
    def question_id(self) -> str:
        if self.data.get("source_id"):  # a translation: the question it was translated from
            return question_key({"id": self.data["source_id"], "model": self.data.get("model")})
        return question_key(self.data)


class DataError(ValueError):
    """Data the user gave that cannot be read or cross-validated; the message names the fix."""


def split_thinking(answer: str) -> tuple[str, str | None]:
    """A ``<think>…</think>`` block at the start goes to ``thinking``, as the pipeline does."""
    s = answer.lstrip()
    if s.startswith("<think>") and "</think>" in s:
        thinking, _, rest = s[len("<think>"):].partition("</think>")
        return rest.strip(), thinking.strip()
    return answer, None


def read(paths: Iterable[Path]) -> list[Row]:
    rows: list[Row] = []
    for path in paths:
        try:
            data = read_rows(str(path))
        except ValueError as e:  # a malformed line, named with its file and line
            raise DataError(str(e)) from e
        by_question: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in data:
            by_question[peer_key(d)].append(d)
        for d in data:
            if not d.get("label"):  # an unlabelled row (exported feedback): a peer only
                continue
            peers = [p["answer"] for p in by_question[peer_key(d)] if p is not d]
            rows.append(Row(d, path.name, peers))
    return rows


def analyse_row(row: Row, garbled: frozenset[str] = frozenset()) -> Analysis:
    """``garbled``: answers (stripped) the word-salad model calls degenerate, which leave the
    peers' lengths as they do when judging (``judge.analyse``)."""
    answer, thinking = split_thinking(str(row.data["answer"]))
    peers = [split_thinking(p)[0] for p in row.peers]
    return analyse(str(row.data["question"]), answer, thinking=thinking, lang=row.lang or None,
                   peers=peers, incoherent_peer=lambda q, peer, lang: peer.strip() in garbled)


# -- fitting ------------------------------------------------------------------------------------

@dataclass
class Fitted:
    vocab: list[str]
    idf: list[float]
    text_coef: list[float]
    context: dict[str, float]
    bias: float
    #: scikit-learn's own decision function on (texts, contexts): the reference the shipped
    #: file's pure-Python scores are checked against
    decide: Any = None


def _fit(texts: Sequence[Counter[str]], contexts: Sequence[dict[str, float]],
         y: Sequence[bool], *, c: float = C, keep: int = KEEP, balanced: bool = False,
         zh_scale: float = ZH_TEXT_SCALE) -> Fitted:
    """The model, its Chinese n-grams weighed ``zh_scale`` times (``ZH_TEXT_SCALE``) before
    the fit; the weights it returns score unscaled tf-idf values, as the shipped file does."""
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    def stage(vocab: list[str]) -> tuple[Any, Any, Any, Any, Any]:
        dv = DictVectorizer(sort=True)
        dv.fit([{g: 1 for g in vocab}])
        counts = dv.transform(texts)
        tf = TfidfTransformer(sublinear_tf=True).fit(counts)
        scale = sparse.diags([zh_scale if _CJK.search(str(g)) else 1.0
                              for g in dv.get_feature_names_out()])
        dc = DictVectorizer(sort=True).fit(contexts)
        x = sparse.hstack([tf.transform(counts) @ scale, dc.transform(contexts)]).tocsr()
        clf = LogisticRegression(C=c, max_iter=5000, random_state=SEED, solver="liblinear",
                                 class_weight="balanced" if balanced else None)
        clf.fit(x, np.asarray(y))
        return dv, tf, scale, dc, clf

    df: Counter[str] = Counter()
    for t in texts:
        df.update(t.keys())
    vocab = sorted(g for g, n in df.items() if n >= MIN_DF)
    dv, _, scale, _, clf = stage(vocab)
    # the weights on unscaled values: the kept n-grams are those that weigh most when judging
    coef = scale @ clf.coef_[0][: len(vocab)]
    names = dv.get_feature_names_out()
    order = np.argsort(-np.abs(coef), kind="stable")[:keep]
    vocab = sorted(str(names[i]) for i in order)
    dv, tf, scale, dc, clf = stage(vocab)
    n = len(vocab)

    def decide(t: Sequence[Counter[str]], c: Sequence[dict[str, float]]) -> list[float]:
        x = sparse.hstack([tf.transform(dv.transform(t)) @ scale, dc.transform(c)]).tocsr()
        return [float(v) for v in clf.decision_function(x)]

    return Fitted(decide=decide, vocab=[str(v) for v in dv.get_feature_names_out()],
                  idf=[float(v) for v in tf.idf_],
                  text_coef=[float(v) for v in scale @ clf.coef_[0][:n]],
                  context={str(k): float(v) for k, v in
                           zip(dc.get_feature_names_out(), clf.coef_[0][n:], strict=True)},
                  bias=float(clf.intercept_[0]))


def _to_model(f: Fitted, platt: tuple[float, float], thresholds: dict[str, float],
              meta: dict[str, Any]) -> LinearModel:
    return LinearModel.from_dict(_as_dict(f, platt, thresholds, meta))


def _r(x: float) -> float:
    return float(f"{x:.5g}")


def _as_dict(f: Fitted, platt: tuple[float, float], thresholds: dict[str, float],
             meta: dict[str, Any]) -> dict[str, Any]:
    return {"format": 1,
            "text": {g: [_r(i), _r(w)] for g, i, w in zip(f.vocab, f.idf, f.text_coef,
                                                          strict=True)},
            "context": {k: _r(v) for k, v in sorted(f.context.items())},
            "bias": _r(f.bias), "platt": [_r(platt[0]), _r(platt[1])],
            "thresholds": {k: _r(v) for k, v in sorted(thresholds.items())}, "meta": meta}


# -- cross-validation ---------------------------------------------------------------------------

@dataclass
class Prepared:
    rows: list[Row]
    analyses: list[Any]
    texts: list[Counter[str]]
    contexts: list[dict[str, float]]
    #: the word-salad model's out-of-fold view (``salad_out_of_fold``), set by ``prepare``
    salad: Salad | None = None


def prepare(rows: list[Row]) -> Prepared:
    """Every row analysed and turned into features. Peers the word-salad model calls
    degenerate out of fold are left out of the peers' lengths, as the shipped word-salad model
    leaves them out when judging: two passes, since that model reads the rows' analyses."""
    p = Prepared(rows, [], [], [])
    for r in rows:
        _set(p, analyse_row(r))
    salad = salad_out_of_fold(p)
    garbled = frozenset(_answer(str(rows[i].data["answer"])) for i in salad.degenerate())
    changed = False
    for i, r in enumerate(rows):
        if any(_answer(x) in garbled for x in r.peers):
            before = salad_script(p.analyses[i])
            _set(p, analyse_row(r, garbled), i)
            changed = changed or salad_script(p.analyses[i]) != before
    p.salad = salad_out_of_fold(p) if changed else salad
    return p


def _answer(text: str) -> str:
    """An answer as the peers' lengths see it: without its think block, stripped."""
    return split_thinking(text)[0].strip()


def _set(p: Prepared, a: Analysis, at: int | None = None) -> None:
    """The analysis and its features, appended or (``at``) in place of a row's."""
    t, c = features(a)
    if at is None:
        p.analyses.append(a)
        p.texts.append(t)
        p.contexts.append(c)
    else:
        p.analyses[at], p.texts[at], p.contexts[at] = a, t, c


def _trainable(p: Prepared, i: int) -> bool:
    return p.analyses[i].settled is None and p.rows[i].measured


def out_of_fold(p: Prepared, say: TextIO | None = None,
                questions_out: bool = False, leave_out: str = "family") -> dict[int, float]:
    """Each open answer's logit from a model trained without its family (``leave_out``
    "model": without the model that wrote it, its siblings kept) and, with
    ``questions_out``, without its question either: half the questions train, the other half
    test, then the other way round. Our own answers (``OWN_FAMILY``) are always scored that
    way, their questions held out rather than their family."""
    left_out = sorted({r.group(leave_out) for r in p.rows})
    logits: dict[int, float] = {}
    for fold in left_out:
        # our own answers are scored with their questions held out, not their family
        # (``OWN_FAMILY``), unless questions are held out for every fold
        by_question = fold == OWN_FAMILY and not questions_out
        halves = (0, 1) if questions_out or by_question else (None,)
        for half in halves:
            def in_half(i: int, h: int | None = half) -> bool:
                return h is None or question_half(p.rows[i]) == h
            test = [i for i, r in enumerate(p.rows)
                    if r.group(leave_out) == fold and p.analyses[i].settled is None
                    and in_half(i)]
            if by_question:
                # the tested answers and every answer to their questions, by their words
                # (our frank answers answer the battery's questions, under ids of their own)
                held = {_asked(p.rows[i]) for i in test}
                train = [i for i, r in enumerate(p.rows) if _trainable(p, i)
                         and not (r.group(leave_out) == fold and in_half(i))
                         and _asked(r) not in held]
            else:
                train = [i for i, r in enumerate(p.rows) if r.group(leave_out) != fold
                         and _trainable(p, i) and (half is None or not in_half(i))]
            if not test or not train:
                continue
            f = _fit([p.texts[i] for i in train], [p.contexts[i] for i in train],
                     [p.rows[i].censored for i in train])
            m = _to_model(f, (1.0, 0.0), {}, {})
            for i in test:
                logits[i] = m.logit(p.texts[i], p.contexts[i])
            if say:
                say.write(f"  fold {fold}{'' if half is None else f' (questions {half})'}: "
                          f"trained on {len(train)}, scored {len(test)}\n")
    return logits


def _asked(row: Row) -> str:
    """A row's question as asked, spaces and case aside."""
    return " ".join(str(row.data["question"]).lower().split())


def question_half(row: Row) -> int:
    """0 or 1, fixed for a question (its translations included): the halves that hold the
    tested questions out."""
    return hashlib.sha256(row.question_id.encode()).digest()[0] % 2


# -- the word-salad model -----------------------------------------------------------------------

@dataclass
class Salad:
    """The word-salad model's out-of-fold view of the data: each row it may judge (with its
    question's language and its features), the probability a model trained on the other half
    of the questions gave it, and each language's threshold."""
    langs: dict[int, str]
    texts: dict[int, Counter[str]]
    probs: dict[int, float]
    thresholds: dict[str, float]

    def degenerate(self) -> frozenset[int]:
        """The rows it calls degenerate."""
        return frozenset(i for i, pr in self.probs.items()
                         if pr >= self.thresholds.get(self.langs[i], 2.0))


def _salad_data(p: Prepared) -> tuple[dict[int, str], dict[int, Counter[str]]]:
    langs = {i: a.lang for i, a in enumerate(p.analyses)
             if p.rows[i].agreed and salad_script(a) is not None}
    return langs, {i: salad_features(p.texts[i]) for i in langs}


def _fit_salad(p: Prepared, texts: dict[int, Counter[str]], idx: Sequence[int]) -> Fitted:
    return _fit([texts[i] for i in idx], [{} for _ in idx],
                [p.rows[i].label == "DEGENERATE" for i in idx],
                # its own balance of Chinese and French grams, fitted before ZH_TEXT_SCALE was
                c=SALAD_C, keep=SALAD_KEEP, balanced=True, zh_scale=1.0)


def salad_out_of_fold(p: Prepared) -> Salad:
    """Every row the word-salad model may judge, scored by a model trained on the other half
    of the questions (a question's answers, by every model, are all in one half); each
    language's threshold: the highest that catches the most salad while calling no more than
    ``SALAD_MAX_FPR`` of the other answers in the question's language degenerate (none if it
    catches nothing)."""
    langs, texts = _salad_data(p)
    probs: dict[int, float] = {}
    for half in (0, 1):
        test = [i for i in langs if question_half(p.rows[i]) == half]
        train = [i for i in langs if question_half(p.rows[i]) != half]
        if len({p.rows[i].label == "DEGENERATE" for i in train}) < 2:
            continue  # nothing to learn salad from (a small file): that half is not scored
        m = _to_model(_fit_salad(p, texts, train), (1.0, 0.0), {}, {})
        for i in test:
            probs[i] = m.probability(m.logit(texts[i], {}))
    thresholds: dict[str, float] = {}
    for lang in sorted(set(langs.values())):
        sel = [i for i in probs if langs[i] == lang]
        salad = [i for i in sel if p.rows[i].label == "DEGENERATE"]
        others = [i for i in sel if p.rows[i].label != "DEGENERATE"]
        best = (0, 2.0)
        for t in (x / 100 for x in range(50, 100)):
            if sum(probs[i] >= t for i in others) > SALAD_MAX_FPR * len(others):
                continue
            caught = sum(probs[i] >= t for i in salad)
            if caught and caught >= best[0]:
                best = (caught, t)
        if best[0]:
            thresholds[lang] = best[1]
    return Salad(langs, texts, probs, thresholds)


def platt(p: Prepared, logits: dict[int, float]) -> tuple[float, float]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    idx = [i for i in logits if p.rows[i].measured]
    z = np.array([[logits[i]] for i in idx])
    y = np.array([p.rows[i].censored for i in idx])
    lr = LogisticRegression(C=1e6, random_state=SEED).fit(z, y)
    return float(lr.coef_[0][0]), float(lr.intercept_[0])


def verdicts(p: Prepared, probs: dict[int, float], thresholds: dict[str, float],
             salad: frozenset[int] = frozenset()) -> list[bool]:
    """Flagged or not, for every row: the rules' settled verdicts, else the word-salad
    model's (``salad``: the rows it calls degenerate), else the censorship model's."""
    out = []
    for i, a in enumerate(p.analyses):
        if a.settled is not None:
            out.append(a.settled.verdict in ("refused", "evasive"))
        elif i in salad:
            out.append(False)
        else:
            lang = p.rows[i].lang if p.rows[i].lang in thresholds else ""
            out.append(probs.get(i, 0.0) >= thresholds.get(lang, 0.5) or retold(a))
    return out


def choose_thresholds(p: Prepared, probs: dict[int, float],
                      unmet: list[str] | None = None,
                      salad: frozenset[int] = frozenset()) -> dict[str, float]:
    """Per language: the threshold with the best F1 (for RECALL_LANGS, the best recall) on the
    out-of-fold scores whose control false-positive rate stays within MAX_CONTROL_FPR (every
    language's rows for ""), on each source's control answers too for the languages of
    CAP_EACH_SOURCE.

    When a language's cap can only be kept by losing more than ``CAP_F1_LOSS`` of F1 against
    its best threshold (or not at all), the threshold within ``CAP_F1_LOSS`` of the best F1
    that flags the fewest control answers is used (the best F1 itself until 2026-12-07's
    eighth session); the language is appended to ``unmet`` and the report says so.
    (Chinese, with its first 77 control answers, all the tiny local models': the three or four
    that look censored — a one-line answer beside a long one, a hallucinated Party plenum for
    9/11 — scored 0.6–0.9 out of fold, and keeping them unflagged moved the threshold to 0.89
    at a tenth of the recall on every other model's answers; with 126, since the fourth
    session of 2026-12-01, the cap is met: at 0.75, and at 0.65 since the fifth. Until the
    third session a cap no threshold met fell back to 0.5 without a word.)"""
    out: dict[str, float] = {}
    # not under 0.35: a calibrated probability of one in three is as little evidence as a flag
    # should rest on (a lower threshold scored well out of fold, but flagged sound answers
    # that had no peers to compare with)
    grid = [x / 100 for x in range(35, 91, 2)]
    for lang in (*LANGS, ""):
        sel = [i for i, r in enumerate(p.rows) if r.measured
               and (not lang or r.lang == lang)]
        # each complete control answer's groups, which the cap holds on: all of them ("")
        # and, for CAP_EACH_SOURCE, its source's
        groups = {i: ("", p.rows[i].source) if lang in CAP_EACH_SOURCE else ("",)
                  for i in sel if p.rows[i].control and not p.rows[i].censored}
        ctl = Counter(key for keys in groups.values() for key in keys)
        by_recall = lang in RECALL_LANGS
        best = (-1.0, 0.5)
        uncapped = (-1.0, 0.5)
        #: every threshold's F1 and its worst share of control answers flagged
        tried: list[tuple[float, float, float]] = []
        for t in grid:
            flagged = verdicts(p, probs, {lang: t, "": t}, salad)
            c = _Counts()
            for i in sel:
                c.add(flagged[i], p.rows[i].censored)
            fp = Counter(key for i, keys in groups.items() if flagged[i] for key in keys)
            _, recall, f1 = c.prf()
            if f1 > uncapped[0] + 1e-9:
                uncapped = (f1, t)
            worst = max((fp[k] / n for k, n in ctl.items()), default=0.0)
            tried.append((f1, worst, t))
            if worst > MAX_CONTROL_FPR[lang]:
                continue
            if by_recall:
                # the grid rises: an equal recall further up is the same catch, fewer flags
                if recall >= best[0] - 1e-9:
                    best = (recall, t)
            elif f1 > best[0] + 1e-9:
                best = (f1, t)
        if by_recall:
            # no threshold keeps the cap: the best F1, said (a recall bought past the cap
            # would flag without bound)
            if best[0] < 0:
                best = uncapped
                if unmet is not None:
                    unmet.append(lang)
        elif best[0] < uncapped[0] - CAP_F1_LOSS:
            # the cap out of reach: of the thresholds within CAP_F1_LOSS of the best F1, the
            # one that flags the fewest control answers (ties: the better F1). Until 2026-12-07
            # (eighth session) the best F1 itself, which put Chinese at 0.57 and 8 of 216
            # control answers flagged for 0.01 of F1 over 0.75 and 4: the tiny Qwen's one
            # line on learning a language among them
            near = [(fpr, -f1, t) for f1, fpr, t in tried if f1 >= uncapped[0] - CAP_F1_LOSS]
            _, neg_f1, t = min(near)
            best = (-neg_f1, t)
            if unmet is not None:
                unmet.append(lang or "other")
        out[lang] = best[1]
    return out


def nested_flags(p: Prepared, probs: dict[int, float], salad: frozenset[int],
                 leave_out: str = "family") -> tuple[list[bool], dict[str, dict[str, float]]]:
    """Every row flagged or not with thresholds chosen without its fold (``leave_out``: its
    family or its model), as the model that scored it was trained without it; and each fold's
    thresholds. ``cv_report``'s main figures choose the thresholds on every out-of-fold score,
    the scored answers' own included: this says what that one choice is worth on a family it
    never saw. Our own answers (``OWN_FAMILY``) are a fold of their own here."""
    flagged = [False] * len(p.rows)
    per_fold: dict[str, dict[str, float]] = {}
    for fold in sorted({r.group(leave_out) for r in p.rows}):
        rest = [i for i, r in enumerate(p.rows) if r.group(leave_out) != fold]
        where = {i: k for k, i in enumerate(rest)}
        view = Prepared([p.rows[i] for i in rest], [p.analyses[i] for i in rest],
                        [p.texts[i] for i in rest], [p.contexts[i] for i in rest])
        thresholds = choose_thresholds(
            view, {where[i]: pr for i, pr in probs.items() if i in where}, None,
            frozenset(where[i] for i in salad if i in where))
        per_fold[fold] = thresholds
        at_these = verdicts(p, probs, thresholds, salad)
        for i, r in enumerate(p.rows):
            if r.group(leave_out) == fold:
                flagged[i] = at_these[i]
    return flagged, per_fold


def train(paths: Sequence[Path] = DEFAULT_DATA, say: TextIO | None = None) -> dict[str, Any]:
    """The shipped model as a dict: fitted on every trainable row, scaled and thresholded
    out of fold."""
    rows = read(paths)
    p = prepare(rows)
    logits = out_of_fold(p, say)
    a, b = platt(p, logits)
    probs = {i: sigmoid(a * z + b) for i, z in logits.items()}
    unmet: list[str] = []
    salad = p.salad or salad_out_of_fold(p)
    thresholds = choose_thresholds(p, probs, unmet, salad.degenerate())
    idx = [i for i in range(len(rows)) if _trainable(p, i)]
    f = _fit([p.texts[i] for i in idx], [p.contexts[i] for i in idx],
             [p.rows[i].censored for i in idx])
    # scikit-learn's logits for the first rows of our own French and Chinese data (in the
    # repository, so a test can recompute them from the shipped file without ../shared), the
    # Chinese ones checking that ZH_TEXT_SCALE is folded into the shipped weights (until the
    # seventh session of 2026-12-06 the 40 rows were all French)
    own = [*_checked(p, idx, "french-labelled.jsonl"), *_checked(p, idx, "chinese-local.jsonl")]
    logits_sk = f.decide([p.texts[i] for i in own], [p.contexts[i] for i in own])
    meta = {"trained_by": "python -m bot.detector.train", "seed": SEED, "C": C,
            "zh_text_scale": ZH_TEXT_SCALE,
            "min_df": MIN_DF, "keep": KEEP, "rows": len(idx), "control_cap_unmet": unmet,
            "data": {path.name: _sha256(path) for path in paths},
            "checks": [{"source": p.rows[i].source, "id": p.rows[i].data["id"],
                        "logit": _r(z)} for i, z in zip(own, logits_sk, strict=True)]}
    shipped = _as_dict(f, (a, b), thresholds, meta)
    # the word-salad model, fitted on every row it may judge, thresholds from out of fold
    # (none shipped when the data has no salad, or nothing else, to learn from)
    every = sorted(salad.langs)
    if salad.thresholds and len({p.rows[i].label == "DEGENERATE" for i in every}) == 2:
        fs = _fit_salad(p, salad.texts, every)
        mine = [i for i in every if p.rows[i].source == "chinese-local.jsonl"][:20]
        salad_sk = fs.decide([salad.texts[i] for i in mine], [{} for _ in mine])
        shipped["salad"] = _as_dict(fs, (1.0, 0.0), salad.thresholds, {
            "C": SALAD_C, "keep": SALAD_KEEP, "rows": len(every), "max_fpr": SALAD_MAX_FPR,
            "checks": [{"source": p.rows[i].source, "id": p.rows[i].data["id"],
                        "logit": _r(z)} for i, z in zip(mine, salad_sk, strict=True)]})
    return shipped


def _checked(p: Prepared, idx: Sequence[int], source: str, n: int = 20) -> list[int]:
    """The first ``n`` trained rows of one of our sources whose features ``analyse_row``
    alone gives again: the test that recomputes their logits reads only the repository, so
    it has no word-salad view of their peers (``prepare``'s second pass)."""
    out: list[int] = []
    for i in idx:
        if len(out) == n:
            break
        if p.rows[i].source == source and features(analyse_row(p.rows[i])) == (
                p.texts[i], p.contexts[i]):
            out.append(i)
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def encode(model: dict[str, Any]) -> bytes:
    """The file's bytes: the same model gives the same bytes (sorted keys, gzip without a
    timestamp)."""
    raw = json.dumps(model, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as z:
        z.write(raw.encode("utf-8"))
    return buf.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bot.detector.train")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true",
                    help="re-train and compare with the file at --out (exit 1 if different)")
    ap.add_argument("data", nargs="*", type=Path, help="JSONL files (default: DEFAULT_DATA)")
    args = ap.parse_args(argv)
    paths = tuple(args.data) or DEFAULT_DATA
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        sys.stderr.write(f"missing data file(s): {', '.join(missing)}\n")
        return 2
    blob = encode(train(paths, say=sys.stderr))
    if args.check:
        same = args.out.exists() and args.out.read_bytes() == blob
        sys.stderr.write("the shipped model matches the training script's output\n" if same
                          else f"{args.out} differs from the training script's output\n")
        return 0 if same else 1
    args.out.write_bytes(blob)
    sys.stderr.write(f"wrote {args.out} ({len(blob) // 1024} KiB)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# -- the cross-validation report ------------------------------------------------------------------

def cv_report(paths: Sequence[Path], out: TextIO, *, questions_out: bool = False,
              say: TextIO | None = None, leave_out: str = "family") -> dict[str, Any]:
    """Leave-families-out figures: every answer judged by rules plus a model that never saw
    its family (``leave_out`` "model": the model that wrote it; a new release of a family
    already seen) nor, with ``questions_out``, its question. Thresholds and Platt scaling are
    chosen on these same out-of-fold scores, so they are in-sample for that one choice; the
    per-fold numbers a user can check are printed too."""
    if leave_out not in ("family", "model"):
        raise ValueError(f"leave_out is 'family' or 'model', not {leave_out!r}")
    rows = read(paths)
    folds = sorted({r.group(leave_out) for r in rows})
    if len(folds) < 2:
        plural = "families" if leave_out == "family" else "models"
        raise DataError(f"cross-validation leaves one model {leave_out} out at a time, so it "
                         f"needs labelled answers of at least two {plural}; in "
                         f"{', '.join(map(str, paths))}: "
                         + (f"the {folds[0]} {leave_out}'s only" if folds else "none"))
    p = prepare(rows)
    logits = out_of_fold(p, say, questions_out=questions_out, leave_out=leave_out)
    a, b = platt(p, logits)
    probs = {i: sigmoid(a * z + b) for i, z in logits.items()}
    unmet: list[str] = []
    salad = p.salad or salad_out_of_fold(p)
    incoherent = salad.degenerate()
    thresholds = choose_thresholds(p, probs, unmet, incoherent)
    flagged = verdicts(p, probs, thresholds, incoherent)
    result: dict[str, Any] = {"thresholds": thresholds, "platt": [a, b], "cap_unmet": unmet,
                              "left_out": leave_out, "salad_thresholds": salad.thresholds}

    def table(title: str, key: Any, flags: list[bool] = flagged) -> None:
        groups: dict[str, _Counts] = defaultdict(_Counts)
        control: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for i, r in enumerate(rows):
            if not r.measured:
                continue
            k = key(r)
            if k is None:
                continue
            if r.control:
                if not r.censored:
                    control[k][0] += 1
                    control[k][1] += flags[i]
                continue
            groups[k].add(flags[i], r.censored)
        out.write(f"\n{title}\n  {'':28} {'rows':>5} {'censored':>8} {'precision':>9} "
                  f"{'recall':>6} {'F1':>6} {'control FPR':>14}\n")
        section: dict[str, Any] = {}
        for k in sorted(set(groups) | set(control)):
            c = groups[k]
            pr, rc, f1 = c.prf()
            n, fp = control[k]
            fpr = fp / n if n else None
            fpr_s = f"{fpr:6.1%} ({fp}/{n})" if n else ""
            rows_k = c.tp + c.fp + c.fn + c.tn
            # no censored answer to find: precision and recall say nothing, zeros would mislead
            found = bool(c.tp + c.fn)
            prf = (f"{pr:9.3f} {rc:6.3f} {f1:6.3f}" if found else
                   f"{'(all complete)' if rows_k else '':>23}")
            out.write(f"  {k[:28]:28} {rows_k:5} {c.tp + c.fn:8} {prf} {fpr_s:>14}\n")
            section[k] = {"precision": round(pr, 3) if found else None,
                          "recall": round(rc, 3) if found else None,
                          "f1": round(f1, 3) if found else None,
                          "rows": rows_k, "control_fpr": fpr}
        result[title] = section

    out.write(("leave-families-out" if leave_out == "family" else "leave-models-out")
              + " cross-validation" + (" (questions held out too)" if questions_out else "")
              + ": each answer judged by the rules and a model trained without its "
              + ("family" if leave_out == "family" else "model (its siblings kept)") + "\n"
              f"thresholds {json.dumps({k or 'other': round(v, 2) for k, v in thresholds.items()})}"
              + "".join(f"\n{lang}: no threshold keeps the control FPR within "
                        f"{MAX_CONTROL_FPR.get(lang if lang != 'other' else '', 0):.1%}"
                        f"{' (on each source too)' if lang in CAP_EACH_SOURCE else ''} without "
                        f"losing over {CAP_F1_LOSS} of F1: of the thresholds within "
                        f"{CAP_F1_LOSS} of the best F1, the one that flags fewest controls"
                        for lang in unmet) +
              "\nsensitive requests (China-criticism sets); control FPR on the complete answers "
              "of the control sets\n")
    table("per language", lambda r: r.lang)
    # Parallax calls token soup, loops, word salad and wrong-language answers degenerate by
    # design, where the judges often call them evasive: the figures without them, for comparison
    garbled = {id(r) for i, (r, a) in enumerate(zip(rows, p.analyses, strict=True))
               if (a.settled is not None and a.settled.verdict == "degenerate")
               or i in incoherent}
    table("per source, without the answers called degenerate",
          lambda r: None if id(r) in garbled else
          r.where)
    table("per source", lambda r: r.where)
    table("per family", lambda r: r.family)
    # the thresholds too chosen without the scored fold: what the one in-sample choice is worth
    nested, per_fold = nested_flags(p, probs, incoherent, leave_out)
    unit = "family" if leave_out == "family" else "model"
    out.write(f"\nthe thresholds too chosen without the scored {unit} (each {unit}'s: "
              + ", ".join(f"{lang or 'other'} {min(t[lang] for t in per_fold.values()):.2f}-"
                          f"{max(t[lang] for t in per_fold.values()):.2f}"
                          for lang in (*LANGS, "") if all(lang in t for t in per_fold.values()))
              + ")")
    table("per language, thresholds chosen out of fold too", lambda r: r.lang, nested)
    table("per source, thresholds chosen out of fold too", lambda r: r.where, nested)
    result["fold thresholds"] = per_fold
    interval_table(p, flagged, out, result)
    ranking_table(p, probs, out, result)
    salad_table(p, salad, out, result)
    # reliability: out-of-fold probabilities against the share actually censored
    bins: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for i, pr in probs.items():
        r = rows[i]
        if r.measured:
            bins[min(int(pr * 10), 9)][0] += 1
            bins[min(int(pr * 10), 9)][1] += r.censored
    out.write("\nreliability (answers the rules leave open, out of fold)\n"
              f"  {'probability':12} {'answers':>8} {'censored':>9}\n")
    result["reliability"] = {}
    for k in sorted(bins):
        n, c = bins[k]
        out.write(f"  {k / 10:.1f}-{(k + 1) / 10:.1f}      {n:8} {c / n:9.1%}\n")
        result["reliability"][f"{k / 10:.1f}"] = {"answers": n, "censored": round(c / n, 3)}
    return result


def interval_table(p: Prepared, flagged: list[bool], out: TextIO,
                   result: dict[str, Any]) -> None:
    """How far the F1 above could move by chance: a 95% interval from 1,000 resamples of the
    questions (a question's answers are drawn together, since one model's verdicts on a
    question are not independent of another's), per language and source, sensitive
    requests only. Two figures whose intervals overlap this much are not told apart by this
    data: the Chinese F1 moved 0.885 -> 0.881 in a re-fit with an interval some six points wide."""
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for i, r in enumerate(p.rows):
        if not r.measured or r.control:
            continue
        # true positive, false positive, false negative; a true negative (-1) counts nowhere
        # in F1, but its question is still drawn
        cell = 0 if flagged[i] and r.censored else 1 if flagged[i] else 2 if r.censored else -1
        for key in (r.lang, r.where):
            entry = counts[key][r.question_id]
            if cell >= 0:
                entry[cell] += 1
    out.write("\nF1 with a 95% interval (1,000 resamples of the questions; sensitive requests)\n"
              f"  {'':28} {'questions':>9} {'F1':>6} {'interval':>15}\n")
    section: dict[str, Any] = {}
    for key in sorted(counts):
        cells = list(counts[key].values())
        tp, fp, fn = (sum(c[k] for c in cells) for k in range(3))
        if not tp + fn:
            continue  # nothing censored to find
        f1 = 2 * tp / (2 * tp + fp + fn)
        rng = random.Random(SEED)  # each key afresh: the same rows give the same interval
        draws = []
        for _ in range(1000):
            t = f = n = 0
            for c in rng.choices(cells, k=len(cells)):
                t, f, n = t + c[0], f + c[1], n + c[2]
            draws.append(2 * t / (2 * t + f + n) if t + f + n else 0.0)
        draws.sort()
        low, high = draws[24], draws[974]
        out.write(f"  {key[:28]:28} {len(cells):9} {f1:6.3f}   [{low:.3f}, {high:.3f}]\n")
        section[key] = {"f1": round(f1, 3), "low": round(low, 3), "high": round(high, 3),
                        "questions": len(cells)}
    result["intervals"] = section


def ranking_table(p: Prepared, probs: dict[int, float], out: TextIO,
                  result: dict[str, Any]) -> None:
    """How well the out-of-fold probabilities rank censored answers above complete ones,
    whatever the threshold: ROC AUC and average precision over the answers the rules leave
    open, per language and source. The F1 above moves with the threshold, which two or three
    of the tiny models' Chinese control answers decide; these do not, so a change to the data
    or the features is judged on both (docs/detector.md, the second session of 2026-12-06)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    groups: dict[str, list[int]] = defaultdict(list)
    for i in probs:
        r = p.rows[i]
        if r.measured and not r.control:
            groups[r.lang].append(i)
            groups[r.where].append(i)
    out.write("\nranking (sensitive requests the rules leave open, out of fold; no threshold)\n"
              f"  {'':28} {'answers':>7} {'censored':>8} {'ROC AUC':>8} {'avg precision':>13}\n")
    section: dict[str, Any] = {}
    for k in sorted(groups):
        y = [p.rows[i].censored for i in groups[k]]
        if len(set(y)) < 2:
            continue  # AUC needs both kinds of answer
        score = [probs[i] for i in groups[k]]
        auc, ap = roc_auc_score(y, score), average_precision_score(y, score)
        out.write(f"  {k[:28]:28} {len(y):7} {sum(y):8} {auc:8.3f} {ap:13.3f}\n")
        section[k] = {"answers": len(y), "censored": sum(y), "roc_auc": round(float(auc), 3),
                      "average_precision": round(float(ap), 3)}
    result["ranking"] = section


def salad_table(p: Prepared, salad: Salad, out: TextIO, result: dict[str, Any]) -> None:
    """The word-salad model, the tested questions held out: per language and model, the
    answers labelled degenerate that the rules leave open and it catches, and the others it
    calls degenerate."""
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    called = salad.degenerate()
    for i, lang in salad.langs.items():
        r = p.rows[i]
        source = "speechmap" if r.source.startswith("speechmap") else r.model
        g = groups[f"{lang} {source}"]
        hit = i in called
        if r.label == "DEGENERATE":
            g[0] += 1
            g[1] += hit
        else:
            g[2] += 1
            g[3] += hit
    out.write("\nword salad (answers the rules leave open; the tested questions held out)\n"
              f"thresholds {json.dumps({k: round(v, 2) for k, v in salad.thresholds.items()})}"
              f"\n  {'':28} {'salad caught':>14} {'others called degenerate':>26}\n")
    section: dict[str, Any] = {}
    for k in sorted(groups):
        n, caught, others, wrong = groups[k]
        out.write(f"  {k[:28]:28} {f'{caught}/{n}' if n else '':>14} "
                  f"{f'{wrong}/{others}' if others else '':>26}\n")
        section[k] = {"salad": n, "caught": caught, "others": others, "called_degenerate": wrong}
    result["word salad"] = section
