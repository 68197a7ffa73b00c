-- One feedback row per person, answer and kind: pressing "verdict wrong?" twice counts once.
DELETE FROM feedback WHERE id NOT IN (
    SELECT min(id) FROM feedback GROUP BY answer_id, coalesce(user_ref, ''), kind);
CREATE UNIQUE INDEX feedback_once ON feedback(answer_id, coalesce(user_ref, ''), kind);
