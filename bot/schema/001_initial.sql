-- Parallax schema, version 1.
CREATE TABLE questions (
    id          INTEGER PRIMARY KEY,
    created_at  TEXT    NOT NULL,              -- ISO 8601, UTC
    source      TEXT    NOT NULL,              -- terminal, telegram, batch, test
    user_ref    TEXT,                          -- an anonymous reference to the asker (never a name)
    chat_ref    TEXT,
    text        TEXT    NOT NULL,
    language    TEXT    NOT NULL,              -- en, fr, zh, another code, unknown
    script      TEXT    NOT NULL DEFAULT '',   -- Hans / Hant for Chinese
    supported   INTEGER NOT NULL,              -- 1 if the language is supported
    profile     TEXT    NOT NULL,
    status      TEXT    NOT NULL,              -- pending, done, rejected, cancelled, interrupted (004)
    note        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX questions_user ON questions(user_ref);
CREATE INDEX questions_created ON questions(created_at);

CREATE TABLE answers (
    id                   INTEGER PRIMARY KEY,
    question_id          INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    model_id             TEXT    NOT NULL,
    model_sha256         TEXT    NOT NULL DEFAULT '',
    profile              TEXT    NOT NULL,
    text                 TEXT    NOT NULL DEFAULT '',
    thinking             TEXT,                 -- NULL: no think block; '': an empty one
    verdict              TEXT,
    score                REAL,
    reasons              TEXT    NOT NULL DEFAULT '[]',   -- JSON list
    seconds              REAL,
    first_token_seconds  REAL,
    prompt_tokens        INTEGER,
    completion_tokens    INTEGER,
    tokens_per_second    REAL,
    truncated            INTEGER NOT NULL DEFAULT 0,
    error                TEXT,
    created_at           TEXT    NOT NULL
);
CREATE INDEX answers_question ON answers(question_id);
CREATE INDEX answers_model ON answers(model_id);

CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY,
    answer_id   INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    user_ref    TEXT,
    kind        TEXT    NOT NULL,              -- e.g. verdict_wrong
    comment     TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL
);
CREATE INDEX feedback_user ON feedback(user_ref);

CREATE TABLE settings (
    scope  TEXT NOT NULL,                      -- e.g. chat:<id>, user:<ref>
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
