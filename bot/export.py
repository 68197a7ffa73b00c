"""Export what Parallax collected: one row per answer, as JSONL or CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, TextIO

from bot.store import EXPORT_COLUMNS, Store

#: one row an answer: the question's columns, then the answer's record (bot/store.py)
COLUMNS = EXPORT_COLUMNS


async def write_jsonl(store: Store, out: TextIO) -> int:
    n = 0
    async for row in store.export_rows():
        out.write(json.dumps({k: row.get(k) for k in COLUMNS}, ensure_ascii=False) + "\n")
        n += 1
    return n


#: a cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
#: (OWASP, "CSV Injection"): a question like "=HYPERLINK(...)" must stay text
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with ' to stay text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


async def write_csv(store: Store, out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    n = 0
    async for row in store.export_rows():
        flat: dict[str, Any] = dict(row)
        if isinstance(flat.get("reasons"), list):
            flat["reasons"] = json.dumps(flat["reasons"], ensure_ascii=False)
        writer.writerow({k: neutralise(v) for k, v in flat.items()})
        n += 1
    return n


async def export_bytes(store: Store, fmt: str) -> tuple[bytes, int]:
    buf = io.StringIO()
    n = await (write_csv(store, buf) if fmt == "csv" else write_jsonl(store, buf))
    return buf.getvalue().encode("utf-8"), n


#: what a "verdict wrong" most likely means: the reviewer confirms or corrects it
_SUGGESTED = {"refused": "COMPLETE", "evasive": "COMPLETE", "answered": "EVASIVE"}


async def write_feedback(store: Store, out: TextIO) -> int:
    """The answers people said were judged wrong, in the detector's data format
    (``data/detector/*.jsonl``, SpeechMap's fields): ``label`` is left empty for a reviewer to
    fill in from ``suggested_label``, and the other answers to the same question come along
    as the peers (``disputed`` 0). ``python -m bot.detector.train`` trains on the labelled
    rows and uses the others as peers only."""
    n = 0
    async for row in store.feedback_rows():
        disputed = int(row["disputed"])
        out.write(json.dumps({
            "id": f"feedback_{row['question_id']}:{row['model_id']}", "set": "feedback",
            "lang": row["language"], "model": row["model_id"], "question": row["question"],
            "answer": row["answer"], "thinking": row["thinking"], "verdict": row["verdict"],
            "score": row["score"], "disputed": disputed,
            "suggested_label": _SUGGESTED.get(row["verdict"]) if disputed else None,
            "label": None, "label_gpt4o": None}, ensure_ascii=False) + "\n")
        n += disputed > 0
    return n
