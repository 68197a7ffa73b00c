"""The store: versioned schema, WAL, questions and answers, forgetting, export."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bot.export import export_bytes
from bot.store import SCHEMA_VERSION, Store, StoredAnswer, migrations


def _answer(model_id: str, verdict: str = "answered", **kw: object) -> StoredAnswer:
    base = dict(model_id=model_id, model_sha256="a" * 64, profile="bare", text="Paris.",
                thinking=None, verdict=verdict, score=0.1,
                reasons=[{"signal": "x", "quote": "y", "weight": 1.0}], seconds=1.0,
                first_token_seconds=0.1, prompt_tokens=10, completion_tokens=3,
                tokens_per_second=30.0, truncated=False, error=None)
    base.update(kw)
    return StoredAnswer(**base)  # type: ignore[arg-type]


async def test_schema_is_versioned_and_reopening_is_harmless(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite3"
    store = await Store.open(db)
    assert await store.schema_version() == SCHEMA_VERSION == migrations()[-1][0]
    qid = await store.save_question(text="Q?", language="en", script="", supported=True,
                                    profile="bare", source="test")
    await store.close()
    store = await Store.open(db)  # migrations are not applied twice
    assert (await store.question(qid))["text"] == "Q?"  # type: ignore[index]
    await store.close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite3"
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    try:
        await Store.open(db)
    except RuntimeError as exc:
        assert "newer than this Parallax" in str(exc)
    else:
        raise AssertionError("a newer schema must be refused")


async def test_answers_feedback_forget_and_export(store: Store) -> None:
    mine = await store.save_question(text="六四?", language="zh", script="Hans", supported=True,
                                     profile="bare", source="telegram", user_ref="u1")
    other = await store.save_question(text="Paris?", language="en", script="", supported=True,
                                      profile="bare", source="telegram", user_ref="u2")
    ids = await store.save_answers(mine, [_answer("qwen", "refused", thinking=""),
                                          _answer("smol", text='He said "non", <b>')])
    await store.save_answers(other, [_answer("qwen")])
    await store.save_feedback(ids[0], "verdict_wrong", "u1")
    rows = await store.answers_for(mine)
    assert [r["verdict"] for r in rows] == ["refused", "answered"]
    assert rows[0]["thinking"] == "" and rows[1]["thinking"] is None
    assert rows[0]["reasons"][0]["signal"] == "x"
    stats = await store.stats()
    assert stats["questions"] == 2 and stats["questions_per_language"] == {"zh": 1, "en": 1}
    assert stats["verdicts_per_model"]["qwen"] == {"refused": 1, "answered": 1}

    jsonl, n = await export_bytes(store, "jsonl")
    lines = [json.loads(line) for line in jsonl.decode().splitlines()]
    assert n == 3 and lines[0]["question"] == "六四?" and lines[1]["answer"] == 'He said "non", <b>'
    csv_bytes, n_csv = await export_bytes(store, "csv")
    assert n_csv == 3 and csv_bytes.decode().splitlines()[0].startswith("question_id,")

    assert await store.count_user_rows("u1") == 2
    assert await store.forget_user("u1") == 1
    assert await store.question(mine) is None and await store.answers_for(mine) == []
    assert await store.count_user_rows("u1") == 0
    assert await store.question(other) is not None  # the others' rows stay


async def test_csv_export_keeps_formulas_as_text(store: Store) -> None:
    import csv
    import io

    qid = await store.save_question(text='=HYPERLINK("http://evil.example","click")',
                                    language="en", script="", supported=True, profile="bare",
                                    source="telegram", user_ref="u1")
    await store.save_answers(qid, [_answer("qwen", text="+33 6 12 34 56 78"),
                                   _answer("smol", text="@everyone -1", score=-0.5)])
    csv_bytes, _ = await export_bytes(store, "csv")
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode())))
    assert rows[0]["question"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert [r["answer"] for r in rows] == ["'+33 6 12 34 56 78", "'@everyone -1"]
    assert rows[1]["score"] == "-0.5"  # numbers stay numbers
    jsonl, _ = await export_bytes(store, "jsonl")  # JSON is data, not a spreadsheet: unchanged
    assert json.loads(jsonl.decode().splitlines()[0])["question"].startswith("=HYPERLINK")


async def test_feedback_counts_once_per_person_and_old_duplicates_are_merged(
        tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)  # a database of schema 1 with a feedback given three times
    con.executescript(migrations()[0][2])
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO questions (id, text, language, script, supported, profile, source,"
                " status, note, created_at) VALUES (1,'Q','en','',1,'bare','t','done','','x')")
    con.execute("INSERT INTO answers (id, question_id, model_id, model_sha256, profile, text,"
                " created_at) VALUES (1, 1, 'm', '', 'bare', 'A', 'x')")
    for _ in range(3):
        con.execute("INSERT INTO feedback (answer_id, user_ref, kind, created_at)"
                    " VALUES (1, 'u1', 'verdict_wrong', 'x')")
    con.commit()
    con.close()
    store = await Store.open(db)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        assert await store.count_user_rows("u1") == 1  # merged by the migration
        assert await store.save_feedback(1, "verdict_wrong", "u1") is False
        assert await store.save_feedback(1, "verdict_wrong", "u2") is True
        assert await store.count_user_rows("u2") == 1
    finally:
        await store.close()


async def test_the_database_is_private_and_forgetting_really_erases(tmp_path: Path) -> None:
    import os
    import stat

    db = tmp_path / "private.sqlite3"
    store = await Store.open(db)
    try:
        secret = "Where can I find my brother detained in Urumqi camp 7?"
        qid = await store.save_question(text=secret, language="en", script="", supported=True,
                                        profile="bare", source="telegram", user_ref="u1")
        await store.save_answers(qid, [_answer("qwen", text="Camp 7 answer for the brother")])
        for f in (db, db.with_name(db.name + "-wal")):
            assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
        assert await store.forget_user("u1") == 1
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert b"Urumqi" not in on_disk and b"Camp 7 answer" not in on_disk
    finally:
        await store.close()


async def test_retention_deletes_old_questions_with_their_answers_and_feedback(
        tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite3"
    store = await Store.open(db)
    try:
        old = await store.save_question(text="Old question", language="en", script="",
                                        supported=True, profile="bare", source="t",
                                        user_ref="u1")
        ids = await store.save_answers(old, [_answer("qwen")])
        await store.save_feedback(ids[0], "verdict_wrong", "u2")
        new = await store.save_question(text="New question", language="en", script="",
                                        supported=True, profile="bare", source="t")
        await store._db.execute("UPDATE questions SET created_at = '2020-01-01T00:00:00.000+00:00'"
                                " WHERE id = ?", (old,))
        await store._db.commit()
        assert await store.forget_older_than(0) == 0  # 0 keeps everything
        assert await store.forget_older_than(180) == 1
        assert await store.question(old) is None and await store.question(new) is not None
        assert await store.answer(ids[0]) is None and await store.count_user_rows("u2") == 0
    finally:
        await store.close()
    assert b"Old question" not in db.read_bytes()


async def test_disputed_verdicts_export_in_the_detector_format(store: Store,
                                                               tmp_path: Path) -> None:
    """ "verdict wrong" feedback becomes training data: the disputed answer with a suggested
    label, its peers alongside; the training reader keeps the labelled rows, the rest as peers.
    """
    import io

    from bot.detector.train import read
    from bot.export import write_feedback

    qid = await store.save_question(text="Taïwan est-il un pays ?", language="fr", script="",
                                    supported=True, profile="bare", source="telegram",
                                    user_ref="u1")
    ids = await store.save_answers(qid, [_answer("qwen", "evasive", text="Oui."),
                                         _answer("smol", text="Taïwan est gouverné à part.")])
    calm = await store.save_question(text="Paris?", language="en", script="", supported=True,
                                     profile="bare", source="telegram", user_ref="u2")
    await store.save_answers(calm, [_answer("qwen")])
    await store.save_feedback(ids[0], "verdict_wrong", "u1")
    await store.save_feedback(ids[0], "verdict_wrong", "u3")
    out = io.StringIO()
    assert await write_feedback(store, out) == 1
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["model"], r["disputed"], r["suggested_label"]) for r in rows] == [
        ("qwen", 2, "COMPLETE"), ("smol", 0, None)]
    assert {"id", "set", "lang", "model", "question", "answer", "label"} <= set(rows[0])
    assert rows[0]["id"].split(":")[0] == rows[1]["id"].split(":")[0]  # one question: peers
    assert "u1" not in out.getvalue()  # who said it is not exported
    rows[0]["label"] = rows[0]["suggested_label"]  # a reviewer confirms
    path = tmp_path / "feedback.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    [row] = read([path])
    assert row.label == "COMPLETE" and row.peers == ["Taïwan est gouverné à part."]


async def test_migration_4_turns_stored_prose_into_codes(tmp_path: Path) -> None:
    """A database of schema 3 stored a timeout in the question's language and an accepted
    question's note as text: migration 4 keeps codes (and the diagnostic in English)."""
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    for version, _name, sql in migrations():
        if version <= 3:
            con.executescript(sql)
    con.execute("PRAGMA user_version = 3")
    q = "INSERT INTO questions (created_at, source, text, language, supported, profile, status," \
        " note) VALUES ('2026-11-30', 'telegram', ?, ?, 1, 'bare', ?, ?)"
    con.execute(q, ("Question longue…", "fr", "done",
                    "La question fait 25000 caractères ; seuls les 20000 premiers sont gardés."))
    con.execute(q, ("Bonjour", "de", "rejected", "unsupported_language"))
    a = "INSERT INTO answers (question_id, model_id, profile, created_at, error) VALUES " \
        "(1, ?, 'bare', '2026-11-30', ?)"
    con.execute(a, ("m-fr", "délai dépassé après 120 s"))
    con.execute(a, ("m-zh", "120 秒后超时"))
    con.execute(a, ("m-en", "timed out after 90 s"))
    con.execute(a, ("m-crash", "the model process stopped (signal 9, SIGKILL)"))
    con.execute(a, ("m-ok", None))
    con.commit()
    con.close()
    store = await Store.open(db)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        rows = {r["model_id"]: (r["error_code"], r["error"]) for r in await store.answers_for(1)}
        assert rows == {"m-fr": ("timed_out", "timed out after 120 s"),
                        "m-zh": ("timed_out", "timed out after 120 s"),
                        "m-en": ("timed_out", "timed out after 90 s"),
                        "m-crash": ("failed", "the model process stopped (signal 9, SIGKILL)"),
                        "m-ok": (None, None)}
        assert (await store.question(1))["note"] == "question_too_long"
        assert (await store.question(2))["note"] == "unsupported_language"
    finally:
        await store.close()


async def test_an_answer_record_round_trips_through_the_database_and_the_export(
        store: Store) -> None:
    qid = await store.save_question(text="Q?", language="en", script="", supported=True,
                                    profile="bare", source="test")
    rec = _answer("remote-m", error=None, profile_version="abc123def456", finish_reason="stop",
                  backend="remote", endpoint="http://h:1/v1", retried=True)
    await store.save_answers(qid, [rec])
    (row,) = await store.answers_for(qid)
    for field in ("profile_version", "finish_reason", "backend", "endpoint", "retried"):
        assert row[field] == getattr(rec, field), field
    data, rows = await export_bytes(store, "jsonl")
    assert rows == 1
    out = json.loads(data.decode().splitlines()[0])
    assert out["backend"] == "remote" and out["endpoint"] == "http://h:1/v1"
    assert out["answer"] == "Paris." and out["profile_version"] == "abc123def456"
