-- 020_outcomes.sql: functions move to sql/functions.sql (applied on every
-- migrate run), and Idempotency-Keys remember the request they answered.
--
-- 010 created the functions once; functions.sql now creates them all again
-- after the run-once migrations. Their results changed from
-- (http_status, http_body) to outcome words and data, which CREATE OR REPLACE
-- cannot do, and some are gone or renamed: every function 010 made is
-- dropped here, so an upgraded database and a fresh one end up the same.
DROP FUNCTION IF EXISTS booking_time(timestamptz);
DROP FUNCTION IF EXISTS booking_error(text, text);
DROP FUNCTION IF EXISTS booking_reservation_json(reservations);
DROP FUNCTION IF EXISTS booking_hold(uuid, bigint, bigint, integer[], text);
DROP FUNCTION IF EXISTS booking_cancel(uuid, bigint, bigint);
DROP FUNCTION IF EXISTS booking_list(uuid);
DROP FUNCTION IF EXISTS booking_key_claim(text, text, text);
DROP FUNCTION IF EXISTS booking_key_done(text, text, text, integer, text, boolean);
DROP FUNCTION IF EXISTS booking_charge(uuid, bigint, text);
DROP FUNCTION IF EXISTS booking_token_owner(text);
DROP FUNCTION IF EXISTS booking_payment_replay(text, text);
DROP FUNCTION IF EXISTS booking_pay_now(uuid, bigint, bigint);
DROP FUNCTION IF EXISTS booking_pay(uuid, bigint, bigint, text, text);
DROP FUNCTION IF EXISTS booking_expire(integer);
DROP FUNCTION IF EXISTS booking_forget_keys(integer);

-- A stored answer is now its outcome word (the responders turn it into the
-- status, as for any answer) instead of an HTTP status. Every committed key
-- holds a success: refusals are never stored, and a claim (status 0) only
-- exists inside the transaction that made it.
ALTER TABLE idempotency_keys ADD COLUMN outcome text;
DELETE FROM idempotency_keys WHERE status = 0;
UPDATE idempotency_keys SET outcome = CASE scope WHEN 'charge' THEN 'charged' ELSE 'paid' END;
ALTER TABLE idempotency_keys DROP COLUMN status;
ALTER TABLE idempotency_keys ALTER COLUMN response DROP NOT NULL;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_answered
    CHECK ((outcome IS NULL) = (response IS NULL));
COMMENT ON COLUMN idempotency_keys.outcome IS
    'the first request''s outcome word; NULL while that request is still running (the key is claimed)';
COMMENT ON COLUMN idempotency_keys.response IS
    'the first request''s answer body, replayed byte for byte; NULL while claimed';

-- The canonical form of the request a key first answered. A repeat with
-- another request is refused (IDEMPOTENCY_KEY_REUSED). Keys stored before
-- this column existed have none and replay for any request, as they did;
-- they are gone within 24 hours.
ALTER TABLE idempotency_keys ADD COLUMN fingerprint text;
COMMENT ON COLUMN idempotency_keys.fingerprint IS
    'the canonical request the key first answered (see sql/functions.sql); NULL for keys older than this column';
