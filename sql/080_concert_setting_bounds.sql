-- 080_concert_setting_bounds.sql: active_seconds and waiting_idle_seconds
-- are 10..86,400, as the API reference says and the admin API and the config
-- file have always held them to; their CHECKs allowed 1..86,400. A row
-- below 10 could only have been written behind the API's back: it is raised
-- to 10 so the new CHECKs hold.
UPDATE concerts SET active_seconds = 10 WHERE active_seconds < 10;
UPDATE concerts SET waiting_idle_seconds = 10 WHERE waiting_idle_seconds < 10;

ALTER TABLE concerts
    DROP CONSTRAINT concerts_active_seconds_check,
    ADD CONSTRAINT concerts_active_seconds_check CHECK (active_seconds BETWEEN 10 AND 86400),
    DROP CONSTRAINT concerts_waiting_idle_seconds_check,
    ADD CONSTRAINT concerts_waiting_idle_seconds_check CHECK (waiting_idle_seconds BETWEEN 10 AND 86400);
