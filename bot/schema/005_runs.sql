-- Probe runs (bot/probe.py): a named batch of prepared questions asked in chosen languages to
-- chosen models. Each question a run asks is an ordinary question row (source 'probe') that
-- names its run and the battery question it asks, so that live questions and probes share
-- one schema, and a run's cells are its questions' answers.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    profile     TEXT    NOT NULL,
    models      TEXT    NOT NULL,               -- JSON list of model ids
    languages   TEXT    NOT NULL,               -- JSON list: en, fr, zh
    topics      TEXT    NOT NULL DEFAULT '[]',  -- JSON list; [] = every topic
    questions   TEXT    NOT NULL DEFAULT '[]',  -- JSON list of battery ids; [] = all of the topics
    max_tokens  INTEGER,
    status      TEXT    NOT NULL                -- running, done, stopped
);

ALTER TABLE questions ADD COLUMN run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE;
ALTER TABLE questions ADD COLUMN prepared_id TEXT;   -- the battery question's id
CREATE INDEX questions_run ON questions(run_id, prepared_id, language);
