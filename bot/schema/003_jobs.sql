-- The Telegram bot's queue lives here, so that a bot killed (even with SIGKILL) finishes, when
-- it starts again, the questions it had accepted. A job is deleted once its answers are
-- delivered. ``sealed`` holds what delivery needs (the chat, the asker, the message to reply
-- to, the text) encrypted with a key derived from the id key file, never in the clear: a copy
-- of the database does not say who is waiting for what.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    created_at   TEXT    NOT NULL,
    user_ref     TEXT    NOT NULL,             -- the asker's reference (/forget deletes by it)
    chat_ref     TEXT    NOT NULL,
    question_id  INTEGER REFERENCES questions(id) ON DELETE CASCADE,   -- set once it runs
    attempts     INTEGER NOT NULL DEFAULT 0,   -- times it was started (a restart adds one)
    sealed       BLOB    NOT NULL
);
CREATE INDEX jobs_user ON jobs(user_ref);
