"""The one module that owns SQL. aiosqlite, WAL mode, versioned schema with migrations.

Migrations are the files ``bot/schema/NNN_name.sql``, applied in order inside a transaction;
``PRAGMA user_version`` records the last one applied.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import aiosqlite


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every schema file, in order."""
    out = []
    for entry in resources.files("bot.schema").iterdir():
        m = re.match(r"^(\d+)_(\w+)\.sql$", entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(out)


SCHEMA_VERSION = max(v for v, _, _ in migrations())


#: what a question's status may be (bot/schema/004_answer_record.sql)
QuestionStatus = Literal["pending", "done", "rejected", "cancelled", "interrupted"]
#: why a question was not asked (stored in questions.note)
RejectReason = Literal["empty", "unsupported_language", "unknown_model", "unknown_profile"]
#: what kind of failure an answer's error is
ErrorCode = Literal["timed_out", "failed"]


@dataclass(frozen=True)
class StoredAnswer:
    """One model's answer as it is recorded: the one definition of an answer's record. The
    ``answers`` columns written (``save_answers``), the export's answer columns (``bot/export.py``)
    and ``parallax ask --json`` (``Answer.to_json``) all derive from these fields."""

    model_id: str
    model_sha256: str
    profile: str
    text: str
    thinking: str | None
    verdict: str | None
    score: float | None
    reasons: list[dict[str, Any]]
    seconds: float | None
    first_token_seconds: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    tokens_per_second: float | None
    truncated: bool
    error: str | None  # the diagnostic, in English
    error_code: ErrorCode | None = None
    profile_version: str = ""  # a digest of the profile's system prompts (bot/prompts.py)
    finish_reason: str | None = None
    backend: str = "local"  # local, remote
    endpoint: str | None = None  # the server of a remote answer
    retried: bool = False  # another endpoint failed first


#: the record's fields, in order: the answers table's columns
ANSWER_FIELDS = tuple(f.name for f in fields(StoredAnswer))
#: their names in an export, where a question's text sits beside the answer's
EXPORT_NAMES = {"text": "answer"}
#: an export's columns: the question's, then the answer's record
EXPORT_COLUMNS = ("question_id", "created_at", "source", "question", "language", "script",
                  "supported", "question_profile", "status", "note", "answer_id",
                  *(EXPORT_NAMES.get(c, c) for c in ANSWER_FIELDS))


def _column(value: Any) -> Any:
    """A record's value as SQLite stores it: lists as JSON, booleans as 0 / 1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


class Store:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # people's political questions: readable by the owner only. SQLite gives its -wal
            # and -shm files the database file's permissions.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        db = await aiosqlite.connect(str(path))
        db.row_factory = aiosqlite.Row
        # deleted rows are overwritten with zeros, not left in free pages (/forget, retention)
        await db.execute("PRAGMA secure_delete=ON")
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        store = cls(db)
        try:
            await store.migrate()
        except BaseException:
            await db.close()  # its worker thread would otherwise keep the process alive
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    async def migrate(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        if current > SCHEMA_VERSION:
            raise RuntimeError(f"the database is at schema version {current}, newer than this "
                               f"Parallax ({SCHEMA_VERSION}): upgrade Parallax")
        for version, _name, sql in migrations():
            if version <= current:
                continue
            script = f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
            try:
                await self._db.executescript(script)
            except BaseException:
                await self._db.rollback()
                raise
            current = version
        return current

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # -- questions --------------------------------------------------------------------------
    async def save_question(self, *, text: str, language: str, script: str, supported: bool,
                            profile: str, source: str, user_ref: str | None = None,
                            chat_ref: str | None = None, status: QuestionStatus = "pending",
                            note: str = "", job_id: int | None = None,
                            run_id: int | None = None, prepared_id: str | None = None) -> int:
        """Store a question; with ``job_id``, link that queued job to it in the same
        transaction (a job is never started without its question, nor the reverse); with
        ``run_id`` and ``prepared_id``, the probe run and the battery question it asks."""
        cur = await self._db.execute(
            "INSERT INTO questions (created_at, source, user_ref, chat_ref, text, language,"
            " script, supported, profile, status, note, run_id, prepared_id)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (_now(), source, user_ref, chat_ref, text, language, script, int(supported),
             profile, status, note, run_id, prepared_id))
        assert cur.lastrowid is not None
        if job_id is not None:
            await self._db.execute("UPDATE jobs SET question_id = ? WHERE id = ?",
                                   (cur.lastrowid, job_id))
        await self._db.commit()
        return cur.lastrowid

    async def reopen_question(self, question_id: int) -> bool:
        """Make a question that was stopped before its answers were stored (the process was
        killed, or stopped) pending again, to be answered under the same id. False if it is
        gone (forgotten, expired) or already answered."""
        cur = await self._db.execute(
            "UPDATE questions SET status = 'pending' WHERE id = ? AND status IN"
            " ('pending', 'cancelled') AND NOT EXISTS"
            " (SELECT 1 FROM answers WHERE question_id = ?)", (question_id, question_id))
        await self._db.commit()
        return cur.rowcount == 1

    async def set_question_status(self, question_id: int, status: QuestionStatus,
                                  note: str = "") -> None:
        await self._db.execute("UPDATE questions SET status = ?, note = ? WHERE id = ?",
                               (status, note, question_id))
        await self._db.commit()

    async def save_answers(self, question_id: int, answers: Iterable[StoredAnswer]) -> list[int]:
        ids = []
        now = _now()
        sql = (f"INSERT INTO answers (question_id, created_at, {', '.join(ANSWER_FIELDS)})"
               f" VALUES ({', '.join('?' * (len(ANSWER_FIELDS) + 2))})")
        for a in answers:
            cur = await self._db.execute(
                sql, (question_id, now, *(_column(v) for v in astuple(a))))
            assert cur.lastrowid is not None
            ids.append(cur.lastrowid)
        await self._db.execute("UPDATE questions SET status = 'done' WHERE id = ?",
                               (question_id,))
        await self._db.commit()
        return ids

    async def question(self, question_id: int) -> dict[str, Any] | None:
        async with self._db.execute("SELECT * FROM questions WHERE id = ?",
                                    (question_id,)) as cur:
            row = await cur.fetchone()
        return dict(row) if row else None

    async def answers_for(self, question_id: int) -> list[dict[str, Any]]:
        async with self._db.execute(
                "SELECT * FROM answers WHERE question_id = ? ORDER BY id", (question_id,)) as cur:
            rows = await cur.fetchall()
        return [_answer_row(r) for r in rows]

    async def answer(self, answer_id: int) -> dict[str, Any] | None:
        async with self._db.execute("SELECT * FROM answers WHERE id = ?", (answer_id,)) as cur:
            row = await cur.fetchone()
        return _answer_row(row) if row else None

    async def answer_in_chat(self, answer_id: int, chat_ref: str) -> dict[str, Any] | None:
        """The answer, only if its question was asked in the chat ``chat_ref``."""
        async with self._db.execute(
                "SELECT a.* FROM answers a JOIN questions q ON q.id = a.question_id"
                " WHERE a.id = ? AND q.chat_ref = ?", (answer_id, chat_ref)) as cur:
            row = await cur.fetchone()
        return _answer_row(row) if row else None

    async def question_in_chat(self, question_id: int, chat_ref: str
                               ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """A question and its answers, only if it was asked in the chat ``chat_ref``."""
        async with self._db.execute("SELECT * FROM questions WHERE id = ? AND chat_ref = ?",
                                    (question_id, chat_ref)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return dict(row), await self.answers_for(question_id)

    async def latest_answered_in_chat(self, chat_ref: str) -> int | None:
        """The id of the latest question of this chat that has its answers."""
        async with self._db.execute(
                "SELECT max(id) FROM questions WHERE chat_ref = ? AND status = 'done'",
                (chat_ref,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    async def recent_questions(self, limit: int = 20) -> list[dict[str, Any]]:
        async with self._db.execute(
                "SELECT * FROM questions ORDER BY id DESC LIMIT ?", (limit,)) as cur:
            return [dict(r) for r in await cur.fetchall()]

    # -- probe runs (bot/probe.py) ----------------------------------------------------------
    async def create_run(self, *, name: str, profile: str, models: list[str],
                         languages: list[str], topics: list[str], questions: list[str],
                         max_tokens: int | None) -> int:
        now = _now()
        cur = await self._db.execute(
            "INSERT INTO runs (name, created_at, updated_at, profile, models, languages, topics,"
            " questions, max_tokens, status) VALUES (?,?,?,?,?,?,?,?,?, 'running')",
            (name, now, now, profile, json.dumps(models), json.dumps(languages),
             json.dumps(topics), json.dumps(questions), max_tokens))
        await self._db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def run(self, ref: str | int) -> dict[str, Any] | None:
        """A run by its name, or by its number."""
        sql = "SELECT * FROM runs WHERE name = ?"
        args: tuple[Any, ...] = (str(ref),)
        if isinstance(ref, int) or str(ref).isdigit():
            sql += " OR id = ? ORDER BY name = ? DESC"
            args = (str(ref), int(ref), str(ref))
        async with self._db.execute(sql + " LIMIT 1", args) as cur:
            row = await cur.fetchone()
        return _run_row(row) if row else None

    async def runs(self) -> list[dict[str, Any]]:
        """Every run, newest first, with how many answers it holds."""
        async with self._db.execute(
                "SELECT r.*, (SELECT count(*) FROM answers a JOIN questions q"
                " ON q.id = a.question_id WHERE q.run_id = r.id) AS answers"
                " FROM runs r ORDER BY r.id DESC") as cur:
            return [_run_row(r) for r in await cur.fetchall()]

    async def set_run_status(self, run_id: int, status: str) -> None:
        await self._db.execute("UPDATE runs SET status = ?, updated_at = ? WHERE id = ?",
                               (status, _now(), run_id))
        await self._db.commit()

    async def run_cells(self, run_id: int) -> list[dict[str, Any]]:
        """A run's cells: for each battery question, language and model, the latest answer
        (an answer asked again after an error replaces it), with its question's text."""
        async with self._db.execute(
                "SELECT q.prepared_id, q.language, q.text AS question, q.id AS question_id,"
                " a.id AS answer_id, a.model_id, a.text, a.thinking, a.verdict, a.score,"
                " a.reasons, a.error_code, a.error, a.truncated, a.finish_reason, a.seconds,"
                " a.completion_tokens, a.created_at"
                " FROM answers a JOIN questions q ON q.id = a.question_id"
                " WHERE q.run_id = ? ORDER BY a.id", (run_id,)) as cur:
            rows = await cur.fetchall()
        latest: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in rows:
            d = _answer_row(r)
            latest[(d["prepared_id"], d["language"], d["model_id"])] = d
        return list(latest.values())

    # -- the bot's queue ---------------------------------------------------------------------
    async def save_job(self, *, user_ref: str, chat_ref: str, sealed: bytes) -> int:
        cur = await self._db.execute(
            "INSERT INTO jobs (created_at, user_ref, chat_ref, sealed) VALUES (?,?,?,?)",
            (_now(), user_ref, chat_ref, sealed))
        await self._db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def jobs(self) -> list[dict[str, Any]]:
        """Every job not yet delivered, oldest first: id, question_id (None while it waits),
        attempts, sealed."""
        async with self._db.execute(
                "SELECT id, user_ref, chat_ref, question_id, attempts, sealed FROM jobs"
                " ORDER BY id") as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def start_job(self, job_id: int) -> None:
        await self._db.execute("UPDATE jobs SET attempts = attempts + 1 WHERE id = ?",
                               (job_id,))
        await self._db.commit()

    async def delete_job(self, job_id: int) -> None:
        await self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        await self._db.commit()

    async def integrity(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: "ok" for a sound database."""
        async with self._db.execute("PRAGMA integrity_check") as cur:
            rows = await cur.fetchall()
        return "; ".join(str(r[0]) for r in rows)

    # -- feedback, per-chat settings, forgetting -------------------------------------------
    async def save_feedback(self, answer_id: int, kind: str, user_ref: str | None,
                            comment: str = "") -> bool:
        """Record one person's feedback on one answer; False if they had given it already."""
        cur = await self._db.execute(
            "INSERT INTO feedback (answer_id, user_ref, kind, comment, created_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
            (answer_id, user_ref, kind, comment, _now()))
        await self._db.commit()
        return cur.rowcount == 1

    async def get_setting(self, scope: str, key: str) -> str | None:
        async with self._db.execute("SELECT value FROM settings WHERE scope = ? AND key = ?",
                                    (scope, key)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def set_setting(self, scope: str, key: str, value: str | None) -> None:
        if value is None:
            await self._db.execute("DELETE FROM settings WHERE scope = ? AND key = ?",
                                   (scope, key))
        else:
            await self._db.execute(
                "INSERT INTO settings (scope, key, value) VALUES (?,?,?)"
                " ON CONFLICT(scope, key) DO UPDATE SET value = excluded.value",
                (scope, key, value))
        await self._db.commit()

    async def setting_scopes(self, prefix: str) -> list[str]:
        async with self._db.execute(
                "SELECT DISTINCT scope FROM settings WHERE substr(scope, 1, ?) = ?",
                (len(prefix), prefix)) as cur:
            return [str(r[0]) for r in await cur.fetchall()]

    async def move_scope(self, old: str, new: str) -> None:
        """Rename a settings scope (its values win over any already under ``new``)."""
        await self._db.execute("DELETE FROM settings WHERE scope = ? AND key IN"
                               " (SELECT key FROM settings WHERE scope = ?)", (new, old))
        await self._db.execute("UPDATE settings SET scope = ? WHERE scope = ?", (new, old))
        await self._db.commit()

    async def count_user_rows(self, user_ref: str) -> int:
        async with self._db.execute(
                "SELECT (SELECT count(*) FROM questions WHERE user_ref = ?)"
                " + (SELECT count(*) FROM feedback WHERE user_ref = ?)"
                " + (SELECT count(*) FROM jobs WHERE user_ref = ? AND question_id IS NULL)",
                (user_ref, user_ref, user_ref)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def forget_user(self, user_ref: str) -> int:
        """Delete every question (with its answers), feedback, setting and waiting job of one
        user."""
        async with self._db.execute(
                "SELECT (SELECT count(*) FROM questions WHERE user_ref = ?)"
                " + (SELECT count(*) FROM jobs WHERE user_ref = ? AND question_id IS NULL)",
                (user_ref, user_ref)) as cur:
            row = await cur.fetchone()
        n = int(row[0]) if row else 0
        await self._db.execute("DELETE FROM feedback WHERE user_ref = ?", (user_ref,))
        await self._db.execute("DELETE FROM jobs WHERE user_ref = ?", (user_ref,))
        await self._db.execute("DELETE FROM questions WHERE user_ref = ?", (user_ref,))
        await self._db.execute("DELETE FROM settings WHERE scope = ?", (f"user:{user_ref}",))
        await self._db.commit()
        # the deleted pages live on in the write-ahead log until a checkpoint copies them
        # (zeroed, with secure_delete) into the database and empties the log
        await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n

    async def forget_older_than(self, days: int) -> int:
        """Delete the questions (with their answers and feedback) of more than ``days`` days
        ago; 0 keeps everything. Returns how many questions were deleted."""
        if days <= 0:
            return 0
        cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
        cur = await self._db.execute("DELETE FROM questions WHERE created_at < ?", (cutoff,))
        await self._db.commit()
        if cur.rowcount:
            await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return cur.rowcount

    # -- study and export ------------------------------------------------------------------
    async def export_rows(self) -> AsyncIterator[dict[str, Any]]:
        """One row per answer joined with its question (questions with no answer: one row)."""
        answer_columns = ", ".join(f"a.{c} AS {EXPORT_NAMES.get(c, c)}" for c in ANSWER_FIELDS)
        sql = (
            "SELECT q.id AS question_id, q.created_at, q.source, q.text AS question,"
            " q.language, q.script, q.supported, q.profile AS question_profile, q.status,"
            f" q.note, a.id AS answer_id, {answer_columns}"
            " FROM questions q LEFT JOIN answers a ON a.question_id = q.id"
            " ORDER BY q.id, a.id")
        async with self._db.execute(sql) as cur:
            async for row in cur:
                d = dict(row)
                if d.get("reasons") is not None:
                    d["reasons"] = json.loads(d["reasons"])
                yield d

    async def feedback_rows(self) -> AsyncIterator[dict[str, Any]]:
        """Every answer to a question where someone said a verdict was wrong, with how many
        said so (0 for the peers, which the detector needs beside the disputed answer)."""
        sql = (
            "SELECT q.id AS question_id, q.text AS question, q.language, a.model_id,"
            " a.text AS answer, a.thinking, a.verdict, a.score,"
            " (SELECT count(*) FROM feedback f WHERE f.answer_id = a.id"
            "  AND f.kind = 'verdict_wrong') AS disputed"
            " FROM questions q JOIN answers a ON a.question_id = q.id"
            " WHERE q.id IN (SELECT a2.question_id FROM feedback f2"
            "  JOIN answers a2 ON a2.id = f2.answer_id WHERE f2.kind = 'verdict_wrong')"
            " AND a.error IS NULL ORDER BY q.id, a.id")
        async with self._db.execute(sql) as cur:
            async for row in cur:
                yield dict(row)

    async def stats(self) -> dict[str, Any]:
        """Questions per day and per language, verdict counts per model."""
        out: dict[str, Any] = {}
        async with self._db.execute(
                "SELECT substr(created_at, 1, 10) AS day, count(*) FROM questions"
                " GROUP BY day ORDER BY day") as cur:
            out["questions_per_day"] = {r[0]: r[1] for r in await cur.fetchall()}
        async with self._db.execute(
                "SELECT language, count(*) FROM questions GROUP BY language"
                " ORDER BY count(*) DESC") as cur:
            out["questions_per_language"] = {r[0]: r[1] for r in await cur.fetchall()}
        async with self._db.execute(
                "SELECT model_id, coalesce(verdict, 'none'), count(*) FROM answers"
                " GROUP BY model_id, verdict ORDER BY model_id") as cur:
            per: dict[str, dict[str, int]] = {}
            for model_id, verdict, n in await cur.fetchall():
                per.setdefault(model_id, {})[verdict] = n
            out["verdicts_per_model"] = per
        async with self._db.execute("SELECT count(*) FROM questions") as cur:
            row = await cur.fetchone()
            out["questions"] = int(row[0]) if row else 0
        return out


def _run_row(row: aiosqlite.Row) -> dict[str, Any]:
    d = dict(row)
    for key in ("models", "languages", "topics", "questions"):
        d[key] = json.loads(d[key])
    return d


def _answer_row(row: aiosqlite.Row) -> dict[str, Any]:
    d = dict(row)
    d["reasons"] = json.loads(d["reasons"]) if d.get("reasons") else []
    d["truncated"] = bool(d.get("truncated"))
    d["retried"] = bool(d.get("retried"))
    return d

