"""The detector's learned part: a logistic regression over ``features.py``, shipped as a file.

``data/model.json.gz`` is written by ``python -m bot.detector.train`` (scikit-learn, fixed
seed) from the development data; this module reads it with the standard library only, so
judging needs no numpy or scikit-learn. Contract:

- ``score(analysis)`` is a calibrated probability that the answer is censored (refused or
  evasive): the linear model's logit through the Platt scaling fitted on out-of-fold
  predictions (reliability table: docs/detector.md);
- an answer is evasive from its question language's threshold, chosen on held-out folds;
- every flag carries the phrases that pushed the score most, quoted from the answer;
- ``incoherent(analysis)``: before that, a second, smaller model of the same kind (the file's
  ``salad``) calls word salad degenerate — the tiny default models' fluent-looking nonsense
  (「汪赏喇嘛是一名美丽的魁剑」) that no rule sees, since it is made of real words — from its
  question language's threshold, chosen with the tested questions held out (a language
  without one is not judged for salad); answers shorter than ``SALAD_FLOOR`` and answers with
  a partial refusal, a deflection, a talking point or a plan to self-censor are left to the
  censorship model.

The text part is TF-IDF as scikit-learn computes it (sublinear tf, smooth idf, L2 norm over
the shipped vocabulary), so the scores equal the training script's (a test checks this).
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from bot.detector.features import OPENING, TEXT_HEAD, about_china, context_features, text_features
from bot.detector.judge import (
    _CJK,
    BODY,
    Analysis,
    Judgement,
    Reason,
    Verdict,
    _quote,
    analyse,
    normalise,
    opening,
    retold,
    script_language,
)

MODEL_FILE = "model.json.gz"

#: the word-salad model judges answers of at least this many Chinese characters (Latin words
#: for Latin script): under it, a tiny model's one-line answer (「一年有365天。」, 「青霉素是一种
#: 抗生素……」) scored like its salad out of fold, and one line says too little to tell
SALAD_FLOOR = 30
#: signals of censorship: an answer that carries one is the censorship model's to judge, never
#: called word salad (a whitewash in clumsy words is still a whitewash)
_CENSORSHIP_EVIDENCE = frozenset({"partial_refusal", "deflection", "propaganda_cue",
                                  "thinking_self_censorship"})


def salad_size(raw: str, script: str) -> int:
    """Chinese characters ("zh") or words (any other script) in the text the models read."""
    head = raw[:TEXT_HEAD]
    return len(_CJK.findall(head)) if script == "zh" else len(head.split())


def salad_script(a: Analysis) -> str | None:
    """The answer's script ("zh" or "latin") when the word-salad model may judge it: an open
    answer of ``SALAD_FLOOR`` characters or words at least, with no evidence of censorship."""
    script = script_language(a.raw)
    if (not script or a.settled is not None or salad_size(a.raw, script) < SALAD_FLOOR
            or any(r.signal in _CENSORSHIP_EVIDENCE for r in a.reasons)):
        return None
    return script


def salad_features(text: Counter[str]) -> Counter[str]:
    """The word-salad model's features: the censorship model's n-grams of the answer
    (``features``), without the opening's marks (where salad starts says nothing)."""
    return Counter({g: n for g, n in text.items() if not g.startswith("^")})


def features(a: Analysis) -> tuple[Counter[str], dict[str, float]]:
    """The (text, context) feature counts of an analysed answer: training and judging both
    call this."""
    signals: dict[str, float] = {}
    for r in a.reasons:
        signals[r.signal] = max(signals.get(r.signal, 0.0), r.weight)
    # "Paris" to "Quelle est la capitale de la France ?": length says nothing here
    length, ratio = (None, None) if a.factual else (len(a.raw), a.ratio)
    return text_features(a.text), context_features(
        length, ratio, signals, china=about_china(a.question),
        cue_opening=a.cue_at is not None and a.cue_at < OPENING, critical=a.critical,
        cover=a.cover)


@dataclass(frozen=True)
class LinearModel:
    text: dict[str, tuple[float, float]]  # n-gram -> (idf, weight)
    context: dict[str, float]
    bias: float
    platt: tuple[float, float]  # probability = sigmoid(a * logit + b)
    thresholds: dict[str, float]  # question language -> threshold; "" for any other
    meta: dict[str, Any]
    #: the word-salad model (thresholds by question language), if the file has one
    salad: LinearModel | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearModel:
        return cls(text={k: (float(v[0]), float(v[1])) for k, v in d["text"].items()},
                   context={k: float(v) for k, v in d["context"].items()},
                   bias=float(d["bias"]), platt=(float(d["platt"][0]), float(d["platt"][1])),
                   thresholds={k: float(v) for k, v in d["thresholds"].items()},
                   meta=dict(d.get("meta", {})),
                   salad=cls.from_dict(d["salad"]) if d.get("salad") else None)

    def contributions(self, text: Counter[str]) -> tuple[float, list[tuple[float, str]]]:
        """The text part of the logit, and each n-gram's share of it."""
        weighted = []
        norm = 0.0
        for gram, count in text.items():
            entry = self.text.get(gram)
            if entry is None:
                continue
            x = (1.0 + math.log(count)) * entry[0]
            norm += x * x
            weighted.append((x, entry[1], gram))
        if not weighted:
            return 0.0, []
        scale = 1.0 / math.sqrt(norm)
        parts = [(x * scale * w, gram) for x, w, gram in weighted]
        return sum(p for p, _ in parts), parts

    def scored(self, text: Counter[str],
               context: dict[str, float]) -> tuple[float, list[tuple[float, str]]]:
        """The logit, and each n-gram's share of its text part."""
        z, parts = self.contributions(text)
        z += self.bias + sum(v * self.context.get(k, 0.0) for k, v in context.items())
        return z, parts

    def logit(self, text: Counter[str], context: dict[str, float]) -> float:
        return self.scored(text, context)[0]

    def probability(self, logit: float) -> float:
        a, b = self.platt
        return sigmoid(a * logit + b)

    def threshold(self, lang: str) -> float:
        return self.thresholds.get(lang, self.thresholds.get("", 0.5))

    def salad_probability(self, a: Analysis, text: Counter[str]) -> float | None:
        """The word-salad model's probability that the answer is salad (``text``: its
        n-grams, ``features(a)[0]``); None where that model does not judge: no model, no
        threshold for the question's language, or ``salad_script`` leaves the answer out."""
        # the cheap test first: most answers are English, which the word-salad model does not
        # judge, and ``salad_script`` reads the answer's text
        if not self.judges_salad(a.lang) or salad_script(a) is None:
            return None
        return self.salad_score(a.lang, text)

    def judges_salad(self, lang: str) -> bool:
        """The word-salad model judges answers to questions in ``lang`` (it has a threshold)."""
        return self.salad is not None and lang in self.salad.thresholds

    def salad_score(self, lang: str, text: Counter[str]) -> float | None:
        """The word-salad model's probability that n-grams ``text`` are salad, for a question
        in ``lang``; None where that model does not judge (``judges_salad``). No rule is
        consulted: ``salad_probability`` adds them."""
        s = self.salad
        if s is None or not self.judges_salad(lang):
            return None
        return s.probability(s.logit(salad_features(text), {}))

    def is_salad(self, lang: str, p: float | None) -> bool:
        """A word-salad score (``salad_score``) at its language's threshold or above."""
        return p is not None and self.salad is not None and p >= self.salad.thresholds[lang]

    def incoherent(self, a: Analysis, text: Counter[str]) -> Judgement | None:
        """Degenerate when the word-salad model says so, quoting the answer's opening."""
        p = self.salad_probability(a, text)
        if p is None or not self.is_salad(a.lang, p):
            return None
        return Judgement("degenerate", 0.0, (Reason("incoherent", opening(a.raw), round(p, 3)),))

    def judge(self, a: Analysis) -> Judgement:
        text, context = features(a)
        salad = self.incoherent(a, text)
        if salad is not None:
            return salad
        z, parts = self.scored(text, context)
        p = self.probability(z)
        reasons = list(a.reasons)
        scored = p >= self.threshold(a.lang)
        phrases = _top_phrases(parts, a.question, text=a.text[:6000]) if scored else []
        # a flag shows its evidence: without a phrase or a rule's signal to quote, the score
        # comes from length alone, which is not enough to call an answer evasive; an event
        # retold without its facts is its own evidence, and the model's phrases are not
        # quoted as weighing for a flag the model did not raise (「交通」 at 0.08)
        flagged = (scored and bool(phrases or reasons)) or retold(a)
        if flagged:
            if phrases:
                # after the rules' strong signals, which quote whole sentences; before the
                # weak ones (a missing subject name, an empty think block)
                at = sum(1 for r in reasons if r.weight >= 0.3)
                reasons.insert(at, Reason("learned", _phrase_quote(a, phrases), p))
        verdict: Verdict = "evasive" if flagged else "answered"
        if flagged and not scored:
            # flagged by the rule alone: the score a reader sees is no lower than the
            # threshold, as a refusal's is the rules' own ("evasive 0.08" reads as a contradiction)
            p = max(p, self.threshold(a.lang))
        return Judgement(verdict, p, tuple(reasons))


def sigmoid(x: float) -> float:
    """The logistic function, clamped so that no logit overflows ``math.exp``."""
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, x))))


#: words that say nothing to a reader on their own: a phrase made only of them is not quoted
#: as evidence (until 2026-12-06, 89 of the French flags of the development data quoted "je",
#: 31 "vous", 30 "pas", beside the phrase that mattered, « je m'efforce »)
_FUNCTION_WORDS = frozenset(
    "a an the of to in on at by for with from and or but not no is are was were be been it its "
    "this that these those as so if than then there their they them we you your i me my our "
    "any all some such de des du la le les l d un une et ou mais ne pas n est sont été être il "
    "elle ils elles on nous vous je j me m se s ce cet cette ces son sa ses leur leurs à au aux "
    "en dans par pour sur avec sans que qu qui dont y plus".split())
#: Chinese characters that open (close) no phrase: a gram that starts (ends) on one is cut
#: across two words (「的自」, 「个敏」, 「点和」, 「是新疆」) and reads as noise; 「致力于」,
#: 「存在」 and 「为了」 may end on theirs
_CJK_NO_START = frozenset("的了和与及或个着过之并而也都就是在把被于")
_CJK_NO_END = frozenset("的和与及或个并而也都就把被对")
#: particles that close a word, and the copula: a three-character gram with one in the
#: middle spans two words ("模的抗" of 「大规模的抗议」, "生了大" of 「发生了大规模」: the
#: phrases quoted for Qwen's Tiananmen answer on 2026-12-06; "营是新" of 「再教育营是新疆……」,
#: Gemma's in the bot on 2026-12-07)
_CJK_NO_MIDDLE = frozenset("的了着过是")


def _readable(phrase: str) -> bool:
    """A phrase a reader can take as evidence: not only function words, not a Chinese gram
    cut across words."""
    if _CJK.search(phrase):
        return (phrase[0] not in _CJK_NO_START and phrase[-1] not in _CJK_NO_END
                and not (len(phrase) == 3 and phrase[1] in _CJK_NO_MIDDLE))
    return any(w not in _FUNCTION_WORDS for w in re.split(r"[\s']+", phrase) if w)


def _top_phrases(parts: list[tuple[float, str]], question: str = "", k: int = 3,
                 text: str = "") -> list[str]:
    """The n-grams that pushed the score up most, one per phrase (a word and the bigram it
    opens are one phrase; "^" marks the opening). Words of the question are left out: they
    say what the answer is about, not how it dodges; so are function words alone and Chinese
    grams cut across words (``_readable``). Two Chinese grams that overlap where ``text`` (the
    normalised answer) has them joined are one phrase: "共同努" and "同努力" are 「共同努力」,
    "一个敏" and "敏感" 「一个敏感」 (both quoted apart until 2026-12-06)."""
    out: list[str] = []
    for share, gram in sorted(parts, reverse=True):
        if share <= 0 or len(out) >= k:
            break
        phrase = gram.lstrip("^")
        if len(phrase) < 2 or phrase in question or any(phrase in o for o in out):
            continue
        joined = _join(phrase, out, text) if _CJK.search(phrase) else None
        if joined is not None:
            out[joined[0]] = joined[1]
            continue
        if not _readable(phrase) or any(o in phrase for o in out):
            continue
        out.append(phrase)
    return _whole_clauses(out, text) if text else out


#: a Chinese phrase is quoted as the whole run of Chinese characters it stands in when that
#: run is this short: a gram knows no word boundaries, a clause between punctuation has them
#: ("导致大量民" of 「导致大量民众被驱逐」, quoted for Qwen's Tiananmen answer in the bot on
#: 2026-12-07, sixth session)
CLAUSE_QUOTE = 12


def _whole_clauses(phrases: list[str], text: str) -> list[str]:
    """``phrases`` with each Chinese one of three characters or more widened to its clause in
    ``text`` (the normalised answer) when the clause has at most ``CLAUSE_QUOTE`` characters;
    a phrase a clause already holds is dropped, a clause that holds one chosen before takes
    its place."""
    out: list[str] = []
    for phrase in phrases:
        # a two-character gram is mostly a word (「法律」「权益」); longer ones are grams joined
        # or three characters, which cut words ("中国政", "门广场")
        at = text.find(phrase) if len(phrase) >= 3 and _CJK.search(phrase) else -1
        if at >= 0:
            start, end = at, at + len(phrase)
            # digits belong to the clause: 「21世纪担任中国国家主席」, not 「世纪担任……」
            while start > 0 and (_CJK.match(text[start - 1]) or text[start - 1].isdigit()):
                start -= 1
            while end < len(text) and (_CJK.match(text[end]) or text[end].isdigit()):
                end += 1
            if end - start <= CLAUSE_QUOTE:
                phrase = text[start:end]
        if any(phrase in o for o in out):
            continue
        held = [i for i, o in enumerate(out) if o in phrase]
        if held:
            out[held[0]] = phrase
            out = [o for i, o in enumerate(out) if i not in held[1:]]
        else:
            out.append(phrase)
    return out


def _join(phrase: str, out: list[str], text: str) -> tuple[int, str] | None:
    """The phrase already chosen that ``phrase`` overlaps in ``text``, and the two joined."""
    for i, o in enumerate(out):
        for a, b in ((o, phrase), (phrase, o)):
            for n in range(min(len(a), len(b)) - 1, 0, -1):
                if a.endswith(b[:n]) and a + b[n:] in text and _readable(a + b[n:]):
                    return i, a + b[n:]
    return None


def _phrase_quote(a: Analysis, phrases: list[str]) -> str:
    listed = ", ".join(f'"{p}"' for p in phrases)
    first = phrases[0]
    pattern = re.escape(first) if _CJK.search(first) else (
        r"\b" + r"\W+".join(re.escape(w) for w in first.split()) + r"\b")
    m = re.search(pattern, a.text[:6000])
    if m is None:
        return listed
    # found in the normalised answer, quoted from the answer as written
    return f"{listed} — {_quote(a.raw, m.start(), m.end(), width=100)}"


@lru_cache(maxsize=2048)
def incoherent_peer(question: str, peer: str, lang: str) -> bool:
    """The shipped word-salad model's verdict on another model's answer to ``question``
    (``lang``: the question's language, or ""): a peer it calls degenerate is no measure of
    how long an answer should be (``judge.analyse``). The peer is analysed without peers of its
    own, which the word-salad model does not read. Cached as ``judge.degenerate_peer`` is:
    judging N answers checks each one as a peer N - 1 times."""
    m = model()
    # the word-salad model's score first, on the n-grams ``features`` reads, and the rules'
    # conditions only for a peer it would call salad: analysing every peer made the first
    # answer judged of each question pay for all its peers' analyses (the benchmark's p95,
    # 20 ms, became 55 on 2026-12-06), and most peers are not salad
    if not m.judges_salad(lang):
        return False
    if not m.is_salad(lang, m.salad_score(lang, text_features(normalise(peer.strip()[:BODY])))):
        return False
    a = analyse(question, peer, lang=lang)
    return a.settled is None and m.incoherent(a, features(a)[0]) is not None


def load(path: Any = None) -> LinearModel:
    source = path if path is not None else resources.files("bot.detector").joinpath(
        "data", MODEL_FILE)
    with source.open("rb") as fh, gzip.open(fh, "rt", encoding="utf-8") as z:
        return LinearModel.from_dict(json.load(z))


_loaded: LinearModel | None = None


def model() -> LinearModel:
    """The shipped model, read once."""
    global _loaded
    if _loaded is None:
        _loaded = load()
    return _loaded
