-- 040_waiting_room.sql: what operators steer a drop with. admission_per_minute
-- caps admissions in any 60 seconds on top of active_limit (NULL: no cap);
-- paused stops admissions altogether; opens_at is the pre-queue's opening
-- time (NULL: open at once). The queue reads them through its Redis cache of
-- the concert's facts, read again once a second.
ALTER TABLE concerts
    ADD COLUMN opens_at timestamptz,
    ADD COLUMN admission_per_minute integer CHECK (admission_per_minute BETWEEN 1 AND 1000000),
    ADD COLUMN paused boolean NOT NULL DEFAULT false;

-- concert_create gains the new settings (functions.sql makes it again).
DROP FUNCTION IF EXISTS concert_create(text, text, integer, integer, integer, integer, timestamptz[],
                                       integer[], bigint[]);
