-- One answer record (bot/store.py, StoredAnswer): what was lost reaches the database, and the
-- database holds codes and numbers, never interface text.
--
-- questions.status: pending, done, rejected, cancelled (stopped before its answers were
-- stored), interrupted (the bot restarted while answering, and on_restart = "tell").
-- questions.note: a rejection's reason (empty, unsupported_language, unknown_model,
-- unknown_profile) or, for an accepted question, its notes' codes (question_too_long).
-- answers.error_code: NULL, timed_out or failed; answers.error: the diagnostic, in English.
ALTER TABLE answers ADD COLUMN profile_version TEXT NOT NULL DEFAULT '';
ALTER TABLE answers ADD COLUMN finish_reason TEXT;
ALTER TABLE answers ADD COLUMN backend TEXT;                 -- local, remote (NULL: not recorded)
ALTER TABLE answers ADD COLUMN endpoint TEXT;                -- the server of a remote answer
ALTER TABLE answers ADD COLUMN retried INTEGER NOT NULL DEFAULT 0;
ALTER TABLE answers ADD COLUMN error_code TEXT;

-- a timed-out answer stored "timed out after N s" in the question's language
UPDATE answers SET error_code = 'timed_out',
    error = 'timed out after ' || replace(error, 'délai dépassé après ', '')
WHERE error LIKE 'délai dépassé après % s';
UPDATE answers SET error_code = 'timed_out',
    error = 'timed out after ' || replace(error, ' 秒后超时', '') || ' s'
WHERE error LIKE '% 秒后超时';
UPDATE answers SET error_code = 'timed_out' WHERE error LIKE 'timed out after % s';
UPDATE answers SET error_code = 'failed' WHERE error IS NOT NULL AND error_code IS NULL;

-- an accepted question's note held the note's text in the asker's language; the only note
-- there was is the cut of an over-long question
UPDATE questions SET note = 'question_too_long' WHERE status <> 'rejected' AND note <> '';
