"""`parallax judge` and `parallax eval-detector`."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from bot.detector.judge import judge
from bot.thinking import split_thinking

FLAGGED = ("refused", "evasive")
#: the control sets: other governments criticised, plain facts (one list for this report and
#: the cross-validation's, ``train``: until 2026-12-07 this one left out ``en_control`` and
#: ``zh_other_criticism``, so their complete answers were not counted as controls here)
CONTROL_SETS = frozenset({"us_criticism", "eu_criticism", "russia_criticism", "fr_us_criticism",
                          "fr_eu_criticism", "fr_russia_criticism", "fr_control", "zh_control",
                          "en_control", "zh_other_criticism", "en_other_criticism",
                          "fr_other_criticism"})
#: the labels that count as censored (a DEGENERATE answer is a quality failure)
CENSORED = frozenset({"DENIAL", "EVASIVE"})


def judge_command(src: TextIO, out: TextIO, err: TextIO) -> int:
    """One JSON object a line in, one verdict a line out; bad lines reported, the rest kept."""
    bad = 0
    for number, line in enumerate(src, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            answer = row.get("answer")
            if not isinstance(answer, str):
                raise ValueError("'answer' must be a string")
            peers = row.get("peers") or []
            if not isinstance(peers, list):
                raise ValueError("'peers' must be a list of strings")
            thinking = row.get("thinking")
            if not isinstance(thinking, str):
                # an answer as the model wrote it, its <think> block inline: split as the
                # pipeline splits it, or the reasoning would be judged as the answer
                answer, thinking = split_thinking(answer)
            j = judge(str(row.get("question") or ""), answer, lang=row.get("lang"),
                      peers=[p for p in peers if isinstance(p, str)], thinking=thinking)
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            bad += 1
            err.write(f"line {number}: {exc}\n")
            continue
        out.write(json.dumps({"id": row.get("id"), **j.to_dict()}, ensure_ascii=False) + "\n")
    return 1 if bad else 0


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, flagged: bool, censored: bool) -> None:
        if flagged and censored:
            self.tp += 1
        elif flagged:
            self.fp += 1
        elif censored:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


@dataclass
class Evaluation:
    by_lang: dict[str, _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    by_set: dict[str, _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    by_model: dict[str, _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    #: per language, the answers to sensitive requests not labelled degenerate: the figures
    #: ``--cv`` gives (a quality failure is neither censored nor complete)
    sensitive: dict[str, _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    #: per language, the control answers labelled complete: how many, how many flagged
    controls: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)

    @property
    def control_complete(self) -> int:
        return sum(done for done, _ in self.controls.values())

    @property
    def control_flagged(self) -> int:
        return sum(flagged for _, flagged in self.controls.values())

    @property
    def false_positive_rate(self) -> float:
        return self.control_flagged / self.control_complete if self.control_complete else 0.0


def peer_key(row: dict[str, Any]) -> str:
    """The answers that are each other's peers: those to the same question (``question_key``)
    asked in the same language, as in the bot, where the peers of an answer are the other
    models' answers to the same message. SpeechMap's Chinese requests carry the ids of the
    English ones they translate ("china_criticism_13:…"): until 2026-12-07 (sixth session)
    each Chinese answer had its 19 English siblings among its peers and the other way round.
    The rules leave peers in another language out of the length measure, but not every
    answer's language is told apart, and the others counted as peers given: 15 of the 4,713
    development answers fell in another length bin for it."""
    return question_key(row) + "\x1f" + str(row.get("lang") or "")


def question_key(row: dict[str, Any]) -> str:
    """The question a row answers: its id without the model. Ids are "<question>:<model>",
    and either part may hold a colon — the French translations' questions do
    ("fr:china_criticism_19:qwen_…"), a remote model may be "qwen2.5:7b" — so the row's own
    ``model`` is cut off the end; an id without it is cut at its last colon. (Cut at the
    first colon, the 300 French translations were one question: each answer the peer of the
    other 299.) A row without an id answers its question's text, as do the others that ask
    it in the same words."""
    if row.get("id") is None:
        return "text:" + str(row.get("question"))
    rid, model = str(row["id"]), str(row.get("model") or "")
    if model and rid.endswith(":" + model):
        return rid[: -len(model) - 1]
    return rid.rsplit(":", 1)[0]


def evaluate(rows: Iterable[dict[str, Any]], *, agreed_only: bool = False,
             models: set[str] | None = None) -> Evaluation:
    from bot.detector.train import split_thinking  # train imports this module

    rows = list(rows)
    peers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        peers[peer_key(r)].append(r)
    ev = Evaluation()
    for r in rows:
        if not r.get("label"):  # an unlabelled row (exported feedback, a peer): judged as a peer
            continue
        if agreed_only and r.get("label") != r.get("label_gpt4o"):
            continue
        if models is not None and r.get("model") not in models:
            continue
        others = [split_thinking(p["answer"])[0] for p in peers[peer_key(r)]
                  if p is not r]
        answer, thinking = split_thinking(r["answer"])
        t0 = time.perf_counter()
        j = judge(r["question"], answer, thinking=thinking, lang=r.get("lang"), peers=others)
        ev.seconds.append(time.perf_counter() - t0)
        flagged = j.verdict in FLAGGED
        censored = r["label"] in CENSORED  # a DEGENERATE label is not censorship
        lang = r.get("lang", "?")
        ev.by_lang[lang].add(flagged, censored)
        ev.by_set[r.get("set", "?")].add(flagged, censored)
        ev.by_model[r.get("model", "?")].add(flagged, censored)
        ev.confusion[(j.verdict, r["label"])] += 1
        if r.get("set") in CONTROL_SETS:
            if r["label"] == "COMPLETE":
                ev.controls[lang][0] += 1
                ev.controls[lang][1] += flagged
        elif r["label"] != "DEGENERATE":
            ev.sensitive[lang].add(flagged, censored)
    return ev


def read_rows(path: str) -> list[dict[str, Any]]:
    """The rows of a JSONL file (this report's and ``train.read``'s, for --cv); a line that is
    not a row with a question and an answer raises ``ValueError`` naming the file and the
    line."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}, line {n}: not a JSON object ({e.msg})") from e
            missing = [k for k in ("question", "answer") if not isinstance(row, dict)
                       or not isinstance(row.get(k), str)]
            if missing:
                raise ValueError(f"{path}, line {n}: no {' or '.join(missing)} text "
                                 "(the format: data/detector/README.md)")
            rows.append(row)
    return rows


def report(ev: Evaluation, out: TextIO) -> None:
    def line(name: str, c: _Counts) -> str:
        p, r, f = c.prf()
        return f"  {name:22} {c.n:6} {c.tp + c.fn:8} {p:9.3f} {r:7.3f} {f:6.3f}"

    header = f"  {'':22} {'rows':>6} {'censored':>8} {'precision':>9} {'recall':>7} {'F1':>6}"
    out.write("flagged (refused or evasive) against labelled DENIAL or EVASIVE\n\n"
              "per language\n" + header + "\n")
    for lang in sorted(ev.by_lang):
        out.write(line(lang, ev.by_lang[lang]) + "\n")
    if ev.sensitive:
        out.write("\nper language, sensitive requests (answers labelled degenerate left out, as "
                  "--cv does); control answers labelled complete, flagged\n" + header
                  + f" {'controls':>12}\n")
        for lang in sorted(ev.sensitive):
            done, flagged = ev.controls.get(lang, (0, 0))
            out.write(line(lang, ev.sensitive[lang]) + f" {f'{flagged}/{done}':>12}\n")
    out.write("\nper set\n" + header + "\n")
    for name in sorted(ev.by_set):
        out.write(line(name, ev.by_set[name]) + "\n")
    if len(ev.by_model) > 1:
        out.write("\nper model (how far the rules carry from one model to another)\n"
                  + header + "\n")
        for name in sorted(ev.by_model):
            out.write(line(name[:22], ev.by_model[name]) + "\n")
    controls = ", ".join(sorted({r for r in ev.by_set if r in CONTROL_SETS}))
    out.write(f"\nfalse-positive rate on COMPLETE answers of {controls or 'no control set'}: "
              f"{ev.false_positive_rate:.2%} ({ev.control_flagged}/{ev.control_complete})\n")
    labels = sorted({label for _, label in ev.confusion})
    verdicts = ["answered", "refused", "evasive", "degenerate", "error"]
    out.write("\nconfusion (rows: verdict, columns: label)\n")
    out.write(f"  {'':12}" + "".join(f"{lab:>11}" for lab in labels) + "\n")
    for v in verdicts:
        out.write(f"  {v:12}" + "".join(f"{ev.confusion[(v, lab)]:11}" for lab in labels) + "\n")
    if ev.seconds:
        ms = sorted(s * 1000 for s in ev.seconds)
        out.write(f"\nspeed: median {ms[len(ms) // 2]:.2f} ms, p95 {ms[int(len(ms) * 0.95)]:.2f} ms"
                  f" per answer ({len(ms)} answers)\n")


def eval_command(path: str, out: TextIO, *, agreed_only: bool = False,
                 models: set[str] | None = None) -> int:
    report(evaluate(read_rows(path), agreed_only=agreed_only, models=models), out)
    return 0
