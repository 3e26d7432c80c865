-- functions.sql: every function of the database. Applied after the run-once
-- migrations (sql/0*.sql) on every migrate run, in the same transaction, so
-- each function is CREATE OR REPLACE and changing one is an ordinary diff of
-- this file. Tables, and anything else that holds data, stay in the numbered
-- migrations. CREATE OR REPLACE cannot change a function's arguments or
-- result columns: a change of those needs a migration that drops the old
-- function first (as 020 does for what 010 made).
--
-- The rules every statement shares live here once each: hold_ran_out,
-- seat_is_free, sales_open, seats_per_user_max, retention_period,
-- idempotency_key_expired, utc_text and utc_text_ms. The catalog's and the
-- cron program's statements call them too. The C side's copies of their
-- numbers (shared/contract_limits.h, shared/utc.c) and the Lua's are
-- checked equal to these by t/8a-audit.sh.
--
-- Request functions do a request's whole PostgreSQL work in one round trip
-- and one transaction. They return outcomes and data, never HTTP:
--   outcome  one word for what happened ('held', 'seat_unavailable', ...);
--            shared/outcome.c turns each word into a status, an error code
--            and a message;
--   body     the answer's JSON on success, NULL for a refusal;
--   detail   what a refusal's message names (seat numbers, a count, an
--            amount), or NULL;
-- then whatever else the caller needs. A refusal changes nothing. A raised
-- error means a bug or an outage.
--
-- Lock order, the same everywhere, so no two transactions can deadlock:
--   1. the per-(user, schedule) advisory lock (holds only),
--   2. a reservation row (payment, cancel, expiry; holds create new ones),
--   3. seat rows, always in (schedule_id, seat_no) order,
--   4. the user's row (payment debit, charge).
-- A hold never locks an existing reservation row: it only takes over seats
-- whose hold has run out, after locking those seats.

-- --- Shared rules --------------------------------------------------------------
-- Each is one SQL expression that the planner inlines where it is called, so
-- a rule costs nothing over writing it out (and indexes still apply).

-- A hold ends at its end time (a reservation's expires_at, a seat's
-- held_until, the expiresAt clients see): from that instant on it has run
-- out. Its seats are free, the reservation reads EXPIRED and can no longer be
-- paid or cancelled, all at the same instant, whether or not cron has run.
CREATE OR REPLACE FUNCTION hold_ran_out(p_until timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_until <= now()
$$;

-- Whether a seat can be held, and reads AVAILABLE to clients.
CREATE OR REPLACE FUNCTION seat_is_free(p_status text, p_held_until timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_status = 'AVAILABLE' OR (p_status = 'HELD' AND hold_ran_out(p_held_until))
$$;

-- A show is on sale until it starts: the catalog lists it, and it takes
-- holds and payments. Admin refuses to create one that is not.
CREATE OR REPLACE FUNCTION sales_open(p_starts_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_starts_at > now()
$$;

-- Seats one user may hold or have bought on one schedule (HOLD_LIMIT).
CREATE OR REPLACE FUNCTION seats_per_user_max() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT 4
$$;

-- How long Idempotency-Keys are kept, and events stay in their streams (so
-- how long the outbox keeps what it sent, and how far back a lost stream is
-- published again).
CREATE OR REPLACE FUNCTION retention_period() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT interval '24 hours'
$$;

-- An Idempotency-Key older than the retention period counts as new even
-- before cron deletes it.
CREATE OR REPLACE FUNCTION idempotency_key_expired(p_created_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_created_at < now() - retention_period()
$$;

-- RFC 3339 UTC with whole seconds (fractions cut), or NULL for NULL: every
-- time an answer shows.
CREATE OR REPLACE FUNCTION utc_text(p_time timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- The same with milliseconds (fractions past them cut): events' occurredAt.
CREATE OR REPLACE FUNCTION utc_text_ms(p_time timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT replace(utc_text(p_time), 'Z', to_char(p_time AT TIME ZONE 'UTC', '.MS"Z"'))
$$;

-- --- Concerts --------------------------------------------------------------------

-- Creates a concert with its schedules and every seat, in one transaction.
-- The arrays hold one entry per schedule, in the order given; each startsAt
-- is kept to the whole second and must still be on sale (outcome
-- 'starts_in_past', detail: the 0-based index of the first that is not).
CREATE OR REPLACE FUNCTION concert_create(p_title text, p_venue text, p_active_limit integer,
                                          p_active_seconds integer, p_idle_seconds integer,
                                          p_hold_seconds integer, p_starts timestamptz[],
                                          p_seat_counts integer[], p_prices bigint[],
                                          p_admission_per_minute integer, p_paused boolean,
                                          p_opens_at timestamptz,
                                          OUT outcome text, OUT body text, OUT detail text,
                                          OUT new_concert_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_past bigint;
    v_schedule_ids bigint[];
BEGIN
    SELECT min(u.ord) INTO v_past
      FROM unnest(p_starts) WITH ORDINALITY AS u(starts_at, ord)
     WHERE NOT sales_open(date_trunc('second', u.starts_at));
    IF v_past IS NOT NULL THEN
        outcome := 'starts_in_past';
        detail := (v_past - 1)::text;
        RETURN;
    END IF;

    INSERT INTO concerts (title, venue, active_limit, active_seconds, waiting_idle_seconds, hold_seconds,
                          admission_per_minute, paused, opens_at)
    VALUES (p_title, p_venue, p_active_limit, p_active_seconds, p_idle_seconds, p_hold_seconds,
            p_admission_per_minute, p_paused, date_trunc('second', p_opens_at))
    RETURNING id INTO new_concert_id;
    -- Schedule ids are drawn up front so each schedule's seats are written
    -- in the same statement.
    WITH src AS MATERIALIZED (
        SELECT nextval(pg_get_serial_sequence('schedules', 'id')) AS id, u.ord,
               date_trunc('second', u.starts_at) AS starts_at, u.seat_count, u.price
          FROM unnest(p_starts, p_seat_counts, p_prices) WITH ORDINALITY AS u(starts_at, seat_count, price, ord)
    ), new_schedules AS (
        INSERT INTO schedules (id, concert_id, starts_at, seat_count)
        SELECT src.id, new_concert_id, src.starts_at, src.seat_count FROM src
    ), new_seats AS (
        INSERT INTO seats (schedule_id, seat_no, price)
        SELECT src.id, n, src.price FROM src CROSS JOIN LATERAL generate_series(1, src.seat_count) AS n
    )
    SELECT array_agg(src.id ORDER BY src.ord) INTO v_schedule_ids FROM src;

    outcome := 'created';
    body := json_build_object('concertId', new_concert_id, 'scheduleIds', to_json(v_schedule_ids))::text;
END;
$$;

-- A concert's settings as the admin API shows them.
CREATE OR REPLACE FUNCTION concert_settings_json(c concerts) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('concertId', c.id, 'title', c.title, 'venue', c.venue,
                             'activeLimit', c.active_limit, 'activeSeconds', c.active_seconds,
                             'waitingIdleSeconds', c.waiting_idle_seconds, 'holdSeconds', c.hold_seconds,
                             'admissionPerMinute', c.admission_per_minute,
                             'opensAt', utc_text(c.opens_at), 'paused', c.paused)
$$;

-- Outcome 'found' with the settings, or 'concert_not_found'.
CREATE OR REPLACE FUNCTION concert_settings(p_concert bigint, OUT outcome text, OUT body text, OUT detail text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT concert_settings_json(c)::text INTO body FROM concerts c WHERE c.id = p_concert;
    outcome := CASE WHEN body IS NULL THEN 'concert_not_found' ELSE 'found' END;
END;
$$;

-- A concert's shows still to come that have a seat left, soonest first, as
-- GET /api/v1/concerts/{id}/schedules answers them; concert_found is false
-- when there is no such concert. Read-only: it may run on the standby.
CREATE OR REPLACE FUNCTION show_list(p_concert bigint, OUT concert_found boolean, OUT body text)
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM concerts WHERE id = p_concert),
           json_build_object('concertId', p_concert, 'schedules', coalesce(json_agg(json_build_object(
               'scheduleId', x.id, 'startsAt', utc_text(x.starts_at),
               'totalSeats', x.total, 'availableSeats', x.available) ORDER BY x.starts_at, x.id), '[]'::json))::text
      FROM (SELECT s.id, s.starts_at, count(*) AS total,
                   count(*) FILTER (WHERE seat_is_free(st.status, st.held_until)) AS available
              FROM schedules s JOIN seats st ON st.schedule_id = s.id
             WHERE s.concert_id = p_concert AND sales_open(s.starts_at)
             GROUP BY s.id, s.starts_at) x
     WHERE x.available > 0
$$;

-- Changes the settings named in p_set (the API's field names) to the values
-- given, leaving the others as they are; a NULL admission cap removes it,
-- a NULL opening time opens the pre-queue at once.
-- Tokens and holds that exist keep their end times: those were fixed when
-- they began. Outcome 'updated' with the settings after the change, or
-- 'concert_not_found'.
CREATE OR REPLACE FUNCTION concert_update(p_concert bigint, p_set text[], p_active_limit integer,
                                          p_active_seconds integer, p_idle_seconds integer,
                                          p_hold_seconds integer, p_admission_per_minute integer,
                                          p_paused boolean, p_opens_at timestamptz,
                                          OUT outcome text, OUT body text, OUT detail text)
LANGUAGE plpgsql AS $$
DECLARE
    c concerts;
BEGIN
    UPDATE concerts SET
        active_limit = CASE WHEN 'activeLimit' = ANY (p_set) THEN p_active_limit ELSE active_limit END,
        active_seconds = CASE WHEN 'activeSeconds' = ANY (p_set) THEN p_active_seconds ELSE active_seconds END,
        waiting_idle_seconds = CASE WHEN 'waitingIdleSeconds' = ANY (p_set) THEN p_idle_seconds
                                    ELSE waiting_idle_seconds END,
        hold_seconds = CASE WHEN 'holdSeconds' = ANY (p_set) THEN p_hold_seconds ELSE hold_seconds END,
        admission_per_minute = CASE WHEN 'admissionPerMinute' = ANY (p_set) THEN p_admission_per_minute
                                    ELSE admission_per_minute END,
        paused = CASE WHEN 'paused' = ANY (p_set) THEN p_paused ELSE paused END,
        opens_at = CASE WHEN 'opensAt' = ANY (p_set) THEN date_trunc('second', p_opens_at) ELSE opens_at END
     WHERE id = p_concert
    RETURNING * INTO c;
    IF NOT FOUND THEN
        outcome := 'concert_not_found';
        RETURN;
    END IF;
    outcome := 'updated';
    body := concert_settings_json(c)::text;
END;
$$;

-- --- Reservations ------------------------------------------------------------------

-- A reservation as the list (and a cancellation) shows it. A HELD row whose
-- hold has run out reads EXPIRED at once, whether or not cron has run.
CREATE OR REPLACE FUNCTION booking_reservation_json(r reservations) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'reservationId', r.id,
        'concertId', r.concert_id,
        'scheduleId', r.schedule_id,
        'seatNos', to_json(r.seat_nos),
        'amount', r.amount,
        'status', CASE WHEN r.status = 'HELD' AND hold_ran_out(r.expires_at) THEN 'EXPIRED' ELSE r.status END,
        'expiresAt', utc_text(r.expires_at),
        'paidAt', utc_text(r.paid_at))
$$;

-- Why p_user, acting with a queue token of p_concert, cannot treat r as a
-- live hold of theirs: NULL when it is one, else the refusal. Cancellation
-- and payment both start here. r is all NULL when there is no such row.
CREATE OR REPLACE FUNCTION booking_refusal(r reservations, p_user uuid, p_concert bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN r.id IS NULL OR r.user_id <> p_user THEN 'reservation_not_found'
        WHEN r.concert_id <> p_concert THEN 'wrong_concert'
        WHEN r.status = 'CONFIRMED' THEN 'already_paid'
        WHEN r.status = 'CANCELLED' THEN 'already_cancelled'
        WHEN r.status = 'EXPIRED' OR hold_ran_out(r.expires_at) THEN 'hold_expired'
    END
$$;

-- Seats each buyer of p_schedule has bought: what a hold kept in Redis
-- (shared/hold.h) counts toward the per-user limit besides the user's
-- holds, read whole when Redis does not know it.
CREATE OR REPLACE FUNCTION booking_bought_all(p_schedule bigint, OUT user_id uuid, OUT bought bigint)
RETURNS SETOF record
LANGUAGE sql STABLE AS $$
    SELECT r.user_id, sum(cardinality(r.seat_nos))
      FROM reservations r
     WHERE r.schedule_id = p_schedule AND r.status = 'CONFIRMED'
     GROUP BY r.user_id
$$;

-- Holds p_seats (sorted, distinct, 1..4 of them) of p_schedule for p_user,
-- all or nothing. p_concert is the concert of the caller's queue token;
-- p_owner the random owner of the Redis seat locks (kept so cancellation can
-- release them). sold_seats names requested seats that are SOLD, so the
-- caller can remember them in Redis and turn later crowds away there.
-- held_reservation and held_until_ms (the hold's end in Unix milliseconds)
-- are what the Redis seat map records of a hold.
-- Outcomes: held; schedule_not_found, wrong_concert, sales_closed,
-- hold_limit (detail: seats already held or bought), seat_not_found,
-- seat_unavailable (detail: the busy seat numbers).
CREATE OR REPLACE FUNCTION booking_hold(p_user uuid, p_concert bigint, p_schedule bigint, p_seats integer[],
                                        p_owner text,
                                        OUT outcome text, OUT body text, OUT detail text,
                                        OUT sold_seats integer[], OUT held_reservation bigint,
                                        OUT held_until_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_concert bigint;
    v_hold    integer;
    v_starts  timestamptz;
    v_mine    bigint;
    v_found   integer;
    v_amount  bigint;
    v_busy    integer[];
    v_expires timestamptz;
    v_id      bigint;
BEGIN
    sold_seats := '{}';
    -- One user's holds on one schedule run one at a time, so two at once
    -- cannot both pass the per-user limit. The two-key form keeps these locks
    -- apart from any one-key advisory lock elsewhere. Taken in a statement of
    -- its own: the next one's snapshot then sees every hold that held it.
    PERFORM pg_advisory_xact_lock(hashtext('booking_hold'), hashtext(p_user::text || '/' || p_schedule::text));

    -- Everything the hold is judged on, in one statement: the show, the
    -- user's seats on it, and the requested seats, locked in seat order and
    -- judged as they are now (the innermost query locks; the one around it
    -- reads what it locked). No row: no such schedule.
    SELECT sc.concert_id, c.hold_seconds, sc.starts_at,
           (SELECT coalesce(sum(cardinality(r.seat_nos)), 0)
              FROM reservations r
             WHERE r.user_id = p_user AND r.schedule_id = p_schedule
               AND (r.status = 'CONFIRMED' OR (r.status = 'HELD' AND NOT hold_ran_out(r.expires_at)))),
           k.found, k.amount, k.busy, k.sold
      INTO v_concert, v_hold, v_starts, v_mine, v_found, v_amount, v_busy, sold_seats
      FROM schedules sc
      JOIN concerts c ON c.id = sc.concert_id
     CROSS JOIN LATERAL (
           SELECT count(*) AS found, coalesce(sum(s.price), 0) AS amount,
                  array_agg(s.seat_no ORDER BY s.seat_no) FILTER (WHERE NOT seat_is_free(s.status, s.held_until)) AS busy,
                  coalesce(array_agg(s.seat_no ORDER BY s.seat_no) FILTER (WHERE s.status = 'SOLD'), '{}') AS sold
             FROM (SELECT l.seat_no, l.price, l.status, l.held_until
                     FROM seats l
                    WHERE l.schedule_id = sc.id AND l.seat_no = ANY (p_seats)
                    ORDER BY l.seat_no FOR UPDATE) s) k
     WHERE sc.id = p_schedule;
    IF NOT FOUND THEN
        sold_seats := '{}';
        outcome := 'schedule_not_found';
        RETURN;
    END IF;
    IF v_concert <> p_concert THEN
        sold_seats := '{}';
        outcome := 'wrong_concert';
        RETURN;
    END IF;
    IF NOT sales_open(v_starts) THEN
        sold_seats := '{}';
        outcome := 'sales_closed';
        RETURN;
    END IF;
    IF v_mine + cardinality(p_seats) > seats_per_user_max() THEN
        sold_seats := '{}';
        outcome := 'hold_limit';
        detail := v_mine::text;
        RETURN;
    END IF;
    IF v_found <> cardinality(p_seats) THEN
        outcome := 'seat_not_found';
        RETURN;
    END IF;
    IF v_busy IS NOT NULL THEN
        outcome := 'seat_unavailable';
        detail := array_to_string(v_busy, ', ');
        RETURN;
    END IF;

    -- The hold ends on a whole second (rounded up), so the expiresAt the
    -- client sees is exact and the hold lasts at least holdSeconds.
    v_expires := date_trunc('second', now() + interval '999999 microseconds') + make_interval(secs => v_hold);
    INSERT INTO reservations (user_id, concert_id, schedule_id, seat_nos, amount, status, expires_at, lock_owner)
    VALUES (p_user, v_concert, p_schedule, p_seats, v_amount, 'HELD', v_expires, p_owner)
    RETURNING id INTO v_id;
    UPDATE seats s SET status = 'HELD', reservation_id = v_id, held_until = v_expires
     WHERE s.schedule_id = p_schedule AND s.seat_no = ANY (p_seats);

    outcome := 'held';
    held_reservation := v_id;
    held_until_ms := floor(extract(epoch FROM v_expires) * 1000)::bigint;
    body := json_build_object(
        'reservationId', v_id, 'scheduleId', p_schedule, 'seatNos', to_json(p_seats),
        'amount', v_amount, 'status', 'HELD', 'expiresAt', utc_text(v_expires))::text;
END;
$$;

-- Cancels a live hold of p_user. Cancelling one's own cancelled reservation
-- again is the same success with the same body (a retry whose first answer
-- was lost), and changes nothing: its seats may be someone else's by now.
-- The locks_* columns name the Redis seat locks to release (by their owner,
-- so a repeat can only release locks that are still this hold's).
-- Outcomes: cancelled; reservation_not_found, wrong_concert, already_paid,
-- hold_expired.
CREATE OR REPLACE FUNCTION booking_cancel(p_user uuid, p_concert bigint, p_id bigint,
                                          OUT outcome text, OUT body text, OUT detail text,
                                          OUT locks_owner text, OUT locks_concert bigint,
                                          OUT locks_schedule bigint, OUT locks_seats integer[])
LANGUAGE plpgsql AS $$
DECLARE
    r reservations;
BEGIN
    SELECT * INTO r FROM reservations WHERE id = p_id FOR UPDATE;
    outcome := booking_refusal(r, p_user, p_concert);
    IF outcome IS NULL THEN
        PERFORM 1 FROM seats s
          WHERE s.reservation_id = r.id AND s.status = 'HELD'
          ORDER BY s.schedule_id, s.seat_no FOR UPDATE;
        UPDATE seats s SET status = 'AVAILABLE', reservation_id = NULL, held_until = NULL
         WHERE s.reservation_id = r.id AND s.status = 'HELD';
        UPDATE reservations SET status = 'CANCELLED' WHERE id = r.id RETURNING * INTO r;
    ELSIF outcome <> 'already_cancelled' THEN
        RETURN;
    END IF;

    outcome := 'cancelled';
    body := booking_reservation_json(r)::text;
    locks_owner := r.lock_owner;
    locks_concert := r.concert_id;
    locks_schedule := r.schedule_id;
    locks_seats := r.seat_nos;
END;
$$;

-- A logout's end of a user's live holds of p_concert (contract: logout ends
-- the session's queue tokens, and their HELD reservations are cancelled):
-- each through booking_cancel, so a hold ends by one rule whichever way.
-- One row a cancelled reservation, with what Redis must be told (its seat
-- locks, its seats on the seat map); holds already run out, paid or
-- cancelled are left as they are.
CREATE OR REPLACE FUNCTION booking_cancel_holds(p_user uuid, p_concert bigint)
RETURNS TABLE (reservation_id bigint, locks_owner text, locks_concert bigint, locks_schedule bigint,
               locks_seats integer[])
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    c record;
BEGIN
    FOR v_id IN
        SELECT r.id FROM reservations r
         WHERE r.user_id = p_user AND r.concert_id = p_concert AND r.status = 'HELD'
           AND NOT hold_ran_out(r.expires_at)
         ORDER BY r.id
    LOOP
        SELECT * INTO c FROM booking_cancel(p_user, p_concert, v_id);
        IF c.outcome = 'cancelled' THEN
            reservation_id := v_id;
            locks_owner := c.locks_owner;
            locks_concert := c.locks_concert;
            locks_schedule := c.locks_schedule;
            locks_seats := c.locks_seats;
            RETURN NEXT;
        END IF;
    END LOOP;
END;
$$;

-- A user's reservations PostgreSQL keeps (the 200 newest), newest first by
-- when each was made (a paid Redis hold keeps its hold's time), with that
-- time in Unix ms: the reservation list merges them with the holds Redis
-- keeps (shared/hold.h).
CREATE OR REPLACE FUNCTION booking_list_rows(p_user uuid, OUT id bigint, OUT created_ms bigint, OUT reservation text)
RETURNS SETOF record
LANGUAGE sql STABLE AS $$
    SELECT r.id, floor(extract(epoch FROM r.created_at) * 1000)::bigint, booking_reservation_json(r)::text
      FROM reservations r
     WHERE r.user_id = p_user
     ORDER BY r.created_at DESC, r.id DESC
     LIMIT 200
$$;

-- The seat map as the Redis cache keeps it (shared/seatmap.c): per seat its
-- number and "price,letter,until,owner", the letter for how it reads now (A
-- available, H held, S sold); a held seat's until is when its hold runs out
-- (Unix ms), from which on the cache reads it AVAILABLE, as seat_is_free
-- does, and owner its reservation. One row with a NULL seat for a show
-- without seats; none for no such show.
CREATE OR REPLACE FUNCTION seatmap_rows(p_schedule bigint,
                                        OUT concert_id bigint, OUT seat_no integer, OUT cached text)
RETURNS SETOF record
LANGUAGE sql STABLE AS $$
    SELECT s.concert_id, st.seat_no,
           st.price || ',' ||
           CASE WHEN seat_is_free(st.status, st.held_until) THEN 'A,0,0'
                WHEN st.status = 'SOLD' THEN 'S,0,' || st.reservation_id
                ELSE 'H,' || floor(extract(epoch FROM st.held_until) * 1000)::bigint || ',' || st.reservation_id
           END
      FROM schedules s LEFT JOIN seats st ON st.schedule_id = s.id
     WHERE s.id = p_schedule
     ORDER BY st.seat_no
$$;

-- --- Idempotency-Keys ------------------------------------------------------------
-- A key is scoped by (scope, owner): a charge's owner is the user, a
-- payment's a digest of the queue token. The first request with a key that
-- succeeds is stored with its outcome, its body and its fingerprint, the
-- canonical form of the request:
--   charge:  'charge user=<userId> amount=<amount>'
--   payment: 'payment reservationId=<reservationId>'
-- (the parsed values, so spacing and field order in the JSON do not
-- matter). A repeat with the same fingerprint gets the stored answer; with
-- another it is refused as key_reused and changes nothing. Refusals are not
-- stored: they changed nothing, so a retry is judged afresh.

CREATE OR REPLACE FUNCTION booking_charge_fingerprint(p_user uuid, p_amount bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'charge user=' || p_user::text || ' amount=' || p_amount::text
$$;

CREATE OR REPLACE FUNCTION booking_payment_fingerprint(p_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'payment reservationId=' || p_id::text
$$;

-- The owner under which a payment's Idempotency-Key is kept: a digest of the
-- queue token (the token itself is a secret and is never stored).
CREATE OR REPLACE FUNCTION booking_token_owner(p_token text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(p_token, 'UTF8')), 'hex')
$$;

-- The answer to a repeat of a finished, stored key: the first request's
-- outcome and body when p_fingerprint is the same request (or the key
-- predates fingerprints), key_reused when it is another; no row when the
-- key is not stored (never used, refused, or older than the retention period).
CREATE OR REPLACE FUNCTION booking_key_replay(p_scope text, p_owner text, p_key text, p_fingerprint text,
                                              OUT outcome text, OUT body text)
RETURNS SETOF record
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN k.fingerprint <> p_fingerprint THEN 'key_reused' ELSE k.outcome END,
           CASE WHEN k.fingerprint <> p_fingerprint THEN NULL ELSE k.response END
      FROM idempotency_keys k
     WHERE k.scope = p_scope AND k.owner = p_owner AND k.key = p_key
       AND k.outcome IS NOT NULL AND NOT idempotency_key_expired(k.created_at)
$$;

-- Claims a key inside the caller's transaction. outcome NULL: the key was
-- new and is now claimed (the caller must finish it with booking_key_done).
-- Otherwise the answer booking_key_replay gives. A concurrent repeat waits
-- on the unique key until the first transaction ends, then sees its
-- outcome: replayed (or key_reused) if it was stored, claimed afresh if the
-- first one let the key go.
CREATE OR REPLACE FUNCTION booking_key_claim(p_scope text, p_owner text, p_key text, p_fingerprint text,
                                             OUT outcome text, OUT body text)
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM idempotency_keys k
     WHERE k.scope = p_scope AND k.owner = p_owner AND k.key = p_key
       AND idempotency_key_expired(k.created_at);
    -- A miss (nothing to insert, nothing to replay) means the key went away
    -- between the two statements: try again. Three in a row mean a claim
    -- was committed unfinished, a bug: fail rather than loop.
    FOR attempt IN 1 .. 3 LOOP
        INSERT INTO idempotency_keys (scope, owner, key, fingerprint)
        VALUES (p_scope, p_owner, p_key, p_fingerprint)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            RETURN;
        END IF;
        SELECT k.outcome, k.body INTO outcome, body
          FROM booking_key_replay(p_scope, p_owner, p_key, p_fingerprint) k;
        IF FOUND THEN
            RETURN;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'an Idempotency-Key could be neither claimed nor replayed';
END;
$$;

-- Ends a claim: keeps a success for replay, lets the key go otherwise.
CREATE OR REPLACE FUNCTION booking_key_done(p_scope text, p_owner text, p_key text, p_outcome text,
                                            p_body text, p_keep boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_keep THEN
        UPDATE idempotency_keys k SET outcome = p_outcome, response = p_body
         WHERE k.scope = p_scope AND k.owner = p_owner AND k.key = p_key;
    ELSE
        DELETE FROM idempotency_keys k
         WHERE k.scope = p_scope AND k.owner = p_owner AND k.key = p_key;
    END IF;
END;
$$;

-- --- Balance ---------------------------------------------------------------------

-- GET /api/v1/users/{userId}/balance's answer: 0 for a user never charged.
-- Read-only: it may run on the standby.
CREATE OR REPLACE FUNCTION balance_json(p_user uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('userId', p_user, 'balance',
                             coalesce((SELECT balance FROM users WHERE id = p_user), 0))::text
$$;

-- Adds p_amount (1..1e9) to p_user's balance, creating the user's row at the
-- first charge, with one ledger row. p_key: the Idempotency-Key or NULL.
-- Outcomes: charged; balance_limit, key_reused.
CREATE OR REPLACE FUNCTION booking_charge(p_user uuid, p_amount bigint, p_key text,
                                          OUT outcome text, OUT body text, OUT detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_balance bigint;
BEGIN
    IF p_key IS NOT NULL THEN
        SELECT c.outcome, c.body INTO outcome, body
          FROM booking_key_claim('charge', p_user::text, p_key, booking_charge_fingerprint(p_user, p_amount)) c;
        IF outcome IS NOT NULL THEN
            RETURN;
        END IF;
    END IF;

    -- The upsert refuses (returns no row) when the sum would pass the cap;
    -- the row lock it takes serializes concurrent charges of one user.
    INSERT INTO users AS u (id, balance) VALUES (p_user, p_amount)
    ON CONFLICT (id) DO UPDATE SET balance = u.balance + excluded.balance
        WHERE u.balance + excluded.balance <= 1000000000000
    RETURNING u.balance INTO v_balance;
    IF NOT FOUND THEN
        outcome := 'balance_limit';
    ELSE
        INSERT INTO balance_ledger (user_id, delta, kind) VALUES (p_user, p_amount, 'CHARGE');
        outcome := 'charged';
        body := json_build_object('userId', p_user, 'balance', v_balance)::text;
    END IF;

    IF p_key IS NOT NULL THEN
        PERFORM booking_key_done('charge', p_user::text, p_key, outcome, body, outcome = 'charged');
    END IF;
END;
$$;

-- --- Payments --------------------------------------------------------------------

-- The stored answer to a payment with this token and key, for a retry that
-- arrives after the token has ended: the first answer when p_id is the
-- reservation it paid, key_reused when it is another; no row when there is
-- none.
CREATE OR REPLACE FUNCTION booking_payment_replay(p_token text, p_key text, p_id bigint,
                                                  OUT outcome text, OUT body text, OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE AS $$
    SELECT k.outcome, k.body, NULL::text
      FROM booking_key_replay('payment', booking_token_owner(p_token), p_key, booking_payment_fingerprint(p_id)) k
$$;

-- The payment itself (see booking_pay); sold_schedule and sold_seat_nos
-- name the seats it SOLD, for the Redis seat map. Outcomes: paid;
-- reservation_not_found, wrong_concert, already_paid, already_cancelled,
-- hold_expired, sales_closed, insufficient_balance (detail: the amount due).
CREATE OR REPLACE FUNCTION booking_pay_now(p_user uuid, p_concert bigint, p_id bigint,
                                           OUT outcome text, OUT body text, OUT detail text,
                                           OUT sold_schedule bigint, OUT sold_seat_nos integer[])
LANGUAGE plpgsql AS $$
DECLARE
    r       reservations;
    v_seats integer;
    v_pid   bigint;
BEGIN
    SELECT * INTO r FROM reservations WHERE id = p_id FOR UPDATE;
    outcome := booking_refusal(r, p_user, p_concert);
    IF outcome IS NOT NULL THEN
        RETURN;
    END IF;
    IF NOT sales_open((SELECT s.starts_at FROM schedules s WHERE s.id = r.schedule_id)) THEN
        outcome := 'sales_closed';
        RETURN;
    END IF;

    -- Lock the seats (seat order) and make sure every one is still ours: a
    -- hold that started after our expiry may have taken one over.
    SELECT count(*) INTO v_seats FROM (
        SELECT 1 FROM seats s
         WHERE s.reservation_id = r.id AND s.status = 'HELD'
         ORDER BY s.schedule_id, s.seat_no FOR UPDATE) x;
    IF v_seats <> cardinality(r.seat_nos) THEN
        outcome := 'hold_expired';
        RETURN;
    END IF;

    -- The debit refuses itself when the balance is short: nothing changed yet.
    IF r.amount > 0 THEN
        UPDATE users u SET balance = u.balance - r.amount
         WHERE u.id = p_user AND u.balance >= r.amount;
        IF NOT FOUND THEN
            outcome := 'insufficient_balance';
            detail := r.amount::text;
            RETURN;
        END IF;
    ELSE
        -- A free ticket still needs the user's row for the payment.
        INSERT INTO users (id) VALUES (p_user) ON CONFLICT DO NOTHING;
    END IF;

    UPDATE seats s SET status = 'SOLD', held_until = NULL
     WHERE s.reservation_id = r.id AND s.status = 'HELD';
    UPDATE reservations SET status = 'CONFIRMED', paid_at = now() WHERE id = r.id;
    INSERT INTO payments (reservation_id, user_id, amount, paid_at)
    VALUES (r.id, p_user, r.amount, now()) RETURNING id INTO v_pid;
    IF r.amount > 0 THEN
        INSERT INTO balance_ledger (user_id, delta, kind, payment_id)
        VALUES (p_user, -r.amount, 'PAYMENT', v_pid);
    END IF;

    outcome := 'paid';
    sold_schedule := r.schedule_id;
    sold_seat_nos := r.seat_nos;
    body := json_build_object(
        'paymentId', v_pid, 'reservationId', r.id, 'userId', p_user, 'amount', r.amount,
        'status', 'PAID', 'paidAt', utc_text(now()))::text;
END;
$$;

-- The payment of a hold kept in Redis (shared/hold.h), which PostgreSQL
-- has not seen: the hold's facts come from Redis (its schedule, seats,
-- amount and end), and the reservation is written here, CONFIRMED, with
-- the id Redis gave it. In one transaction, as booking_pay_now: the seats
-- SOLD (each seat's row is unique, and one already SOLD refuses the
-- payment: two payments never sell one seat, whatever Redis says), the
-- balance debited, the reservation, payment and ledger rows written (the
-- outbox's reservation.confirmed and payment.completed with them). A
-- second payment of the same id waits for the first (the advisory lock)
-- and then finds its reservation. Outcomes: paid; reservation_not_found,
-- wrong_concert, already_paid (booking_refusal of the row already there),
-- hold_expired (its end has come, or a seat was sold or held here
-- meanwhile: a hold Redis lost), sales_closed, insufficient_balance
-- (detail: the amount). The row keeps the hold's own creation time
-- (p_created_ms), by which the reservation list orders it.
CREATE OR REPLACE FUNCTION booking_pay_hold_now(p_user uuid, p_concert bigint, p_id bigint, p_schedule bigint,
                                                p_seats integer[], p_amount bigint, p_expires_ms bigint,
                                                p_created_ms bigint,
                                                OUT outcome text, OUT body text, OUT detail text)
LANGUAGE plpgsql AS $$
DECLARE
    r         reservations;
    v_expires timestamptz := to_timestamp(p_expires_ms / 1000.0);
    v_sold    integer;
    v_found   integer;
    v_pid     bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('booking_pay_hold'), hashtext(p_id::text));
    SELECT * INTO r FROM reservations WHERE id = p_id;
    IF FOUND THEN
        outcome := coalesce(booking_refusal(r, p_user, p_concert), 'already_paid');
        RETURN;
    END IF;
    IF hold_ran_out(v_expires) THEN
        outcome := 'hold_expired';
        RETURN;
    END IF;
    IF NOT sales_open((SELECT s.starts_at FROM schedules s WHERE s.id = p_schedule)) THEN
        outcome := 'sales_closed';
        RETURN;
    END IF;
    SELECT count(*), count(*) FILTER (WHERE NOT seat_is_free(x.status, x.held_until)) INTO v_found, v_sold FROM (
        SELECT s.status, s.held_until FROM seats s
         WHERE s.schedule_id = p_schedule AND s.seat_no = ANY (p_seats)
         ORDER BY s.schedule_id, s.seat_no FOR UPDATE) x;
    IF v_found <> cardinality(p_seats) OR v_sold > 0 THEN
        outcome := 'hold_expired';
        RETURN;
    END IF;
    IF p_amount > 0 THEN
        UPDATE users u SET balance = u.balance - p_amount
         WHERE u.id = p_user AND u.balance >= p_amount;
        IF NOT FOUND THEN
            outcome := 'insufficient_balance';
            detail := p_amount::text;
            RETURN;
        END IF;
    ELSE
        INSERT INTO users (id) VALUES (p_user) ON CONFLICT DO NOTHING;
    END IF;

    INSERT INTO reservations (id, user_id, concert_id, schedule_id, seat_nos, amount, status, expires_at, paid_at,
                              created_at)
    VALUES (p_id, p_user, p_concert, p_schedule, p_seats, p_amount, 'CONFIRMED', v_expires, now(),
            to_timestamp(p_created_ms / 1000.0));
    UPDATE seats s SET status = 'SOLD', reservation_id = p_id, held_until = NULL
     WHERE s.schedule_id = p_schedule AND s.seat_no = ANY (p_seats);
    INSERT INTO payments (reservation_id, user_id, amount, paid_at)
    VALUES (p_id, p_user, p_amount, now()) RETURNING id INTO v_pid;
    IF p_amount > 0 THEN
        INSERT INTO balance_ledger (user_id, delta, kind, payment_id)
        VALUES (p_user, -p_amount, 'PAYMENT', v_pid);
    END IF;

    outcome := 'paid';
    body := json_build_object(
        'paymentId', v_pid, 'reservationId', p_id, 'userId', p_user, 'amount', p_amount,
        'status', 'PAID', 'paidAt', utc_text(now()))::text;
END;
$$;

-- Pays reservation p_id for p_user with a queue token of p_concert, in one
-- transaction: balance debited, seats SOLD, reservation CONFIRMED, payment
-- and ledger rows written, and the Idempotency-Key (if any) stored with the
-- answer. p_token only names the key's owner (as a digest). A hold kept in
-- Redis comes with its facts (p_schedule, p_seats, p_amount, p_expires_ms:
-- booking_pay_hold_now); without them (NULL) the reservation is
-- PostgreSQL's own (booking_pay_now). sold_schedule and sold_seat_nos name
-- the seats sold. Outcomes: those of the two, and key_reused.
CREATE OR REPLACE FUNCTION booking_pay_hold(p_user uuid, p_concert bigint, p_id bigint, p_token text, p_key text,
                                            p_schedule bigint, p_seats integer[], p_amount bigint,
                                            p_expires_ms bigint, p_created_ms bigint,
                                            OUT outcome text, OUT body text, OUT detail text,
                                            OUT sold_schedule bigint, OUT sold_seat_nos integer[])
LANGUAGE plpgsql AS $$
DECLARE
    v_owner text;
BEGIN
    IF p_key IS NOT NULL THEN
        v_owner := booking_token_owner(p_token);
        SELECT c.outcome, c.body INTO outcome, body
          FROM booking_key_claim('payment', v_owner, p_key, booking_payment_fingerprint(p_id)) c;
        IF outcome IS NOT NULL THEN
            RETURN;
        END IF;
    END IF;
    IF p_schedule IS NULL THEN
        SELECT p.outcome, p.body, p.detail, p.sold_schedule, p.sold_seat_nos
          INTO outcome, body, detail, sold_schedule, sold_seat_nos
          FROM booking_pay_now(p_user, p_concert, p_id) p;
    ELSE
        SELECT p.outcome, p.body, p.detail INTO outcome, body, detail
          FROM booking_pay_hold_now(p_user, p_concert, p_id, p_schedule, p_seats, p_amount, p_expires_ms,
                                    p_created_ms) p;
        IF outcome = 'paid' THEN
            sold_schedule := p_schedule;
            sold_seat_nos := p_seats;
        END IF;
    END IF;
    IF p_key IS NOT NULL THEN
        PERFORM booking_key_done('payment', v_owner, p_key, outcome, body, outcome = 'paid');
    END IF;
END;
$$;

-- booking_pay_hold for a reservation PostgreSQL holds itself.
CREATE OR REPLACE FUNCTION booking_pay(p_user uuid, p_concert bigint, p_id bigint, p_token text, p_key text,
                                       OUT outcome text, OUT body text, OUT detail text,
                                       OUT sold_schedule bigint, OUT sold_seat_nos integer[])
LANGUAGE sql AS $$
    SELECT * FROM booking_pay_hold(p_user, p_concert, p_id, p_token, p_key, NULL, NULL, NULL, NULL, NULL)
$$;

-- --- Cron ------------------------------------------------------------------------

-- Marks up to p_batch run-out holds EXPIRED and frees the seats they still
-- hold, in one transaction. Rows a payment (or another cron) has locked are
-- skipped, so an expiry never waits for, or undoes, a payment in flight.
CREATE OR REPLACE FUNCTION booking_expire(p_batch integer, OUT expired integer, OUT freed integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
BEGIN
    SELECT array_agg(x.id) INTO v_ids FROM (
        SELECT r.id FROM reservations r
         WHERE r.status = 'HELD' AND hold_ran_out(r.expires_at)
         ORDER BY r.expires_at LIMIT p_batch
           FOR UPDATE SKIP LOCKED) x;
    expired := coalesce(cardinality(v_ids), 0);
    freed := 0;
    IF expired = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM seats s
      WHERE s.reservation_id = ANY (v_ids) AND s.status = 'HELD'
      ORDER BY s.schedule_id, s.seat_no FOR UPDATE;
    UPDATE seats s SET status = 'AVAILABLE', reservation_id = NULL, held_until = NULL
     WHERE s.reservation_id = ANY (v_ids) AND s.status = 'HELD';
    GET DIAGNOSTICS freed = ROW_COUNT;
    UPDATE reservations SET status = 'EXPIRED' WHERE id = ANY (v_ids);
END;
$$;

-- Deletes up to p_batch Idempotency-Keys older than the retention period.
CREATE OR REPLACE FUNCTION booking_forget_keys(p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    DELETE FROM idempotency_keys k
     WHERE (k.scope, k.owner, k.key) IN (
        SELECT o.scope, o.owner, o.key FROM idempotency_keys o
         WHERE idempotency_key_expired(o.created_at)
         LIMIT p_batch FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;

-- --- Events (the outbox) -------------------------------------------------------------
--
-- Triggers write each change's event in the change's own transaction; one
-- NOTIFY a transaction wakes the relay at commit. A purchase writes, in
-- this order: reservation.held (the hold), balance.charged (the charge),
-- reservation.confirmed and payment.completed (the payment).

-- The NOTIFY only when no earlier row waits unsent: a relay waits for one
-- only once it found nothing to publish, and goes on without waiting while
-- it finds rows; so under load (a row always waiting) the commits skip the
-- NOTIFY, whose commit-time queue lock would make every writing
-- transaction wait for the others. A row committed while the relay waits
-- either sent the NOTIFY or saw an earlier unsent row whose transaction
-- did, or that the relay has yet to take.
CREATE OR REPLACE FUNCTION outbox_write(p_topic text, p_type text, p_concert bigint, p_data jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO outbox (topic, type, concert_id, data) VALUES (p_topic, p_type, p_concert, p_data)
        RETURNING id INTO v_id;
    IF NOT EXISTS (SELECT 1 FROM outbox o WHERE o.sent_at IS NULL AND o.id < v_id) THEN
        PERFORM pg_notify('outbox', '');
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION outbox_reservation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status = OLD.status THEN
        RETURN NULL;
    END IF;
    PERFORM outbox_write('reservation-events',
        'reservation.' || CASE NEW.status WHEN 'HELD' THEN 'held' WHEN 'CONFIRMED' THEN 'confirmed'
                                          WHEN 'CANCELLED' THEN 'cancelled' ELSE 'expired' END,
        NEW.concert_id,
        jsonb_build_object('reservationId', NEW.id, 'userId', NEW.user_id, 'scheduleId', NEW.schedule_id,
                           'seatNos', to_jsonb(NEW.seat_nos), 'amount', NEW.amount, 'status', NEW.status,
                           'expiresAt', utc_text(NEW.expires_at)));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION outbox_payment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM outbox_write('payment-events', 'payment.completed',
        (SELECT r.concert_id FROM reservations r WHERE r.id = NEW.reservation_id),
        jsonb_build_object('paymentId', NEW.id, 'reservationId', NEW.reservation_id, 'userId', NEW.user_id,
                           'amount', NEW.amount, 'paidAt', utc_text(NEW.paid_at)));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION outbox_charge() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM outbox_write('payment-events', 'balance.charged', NULL,
        jsonb_build_object('ledgerId', NEW.id, 'userId', NEW.user_id, 'amount', NEW.delta));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER reservations_outbox AFTER INSERT OR UPDATE OF status ON reservations
    FOR EACH ROW EXECUTE FUNCTION outbox_reservation();
CREATE OR REPLACE TRIGGER payments_outbox AFTER INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION outbox_payment();
CREATE OR REPLACE TRIGGER balance_ledger_outbox AFTER INSERT ON balance_ledger
    FOR EACH ROW WHEN (NEW.kind = 'CHARGE') EXECUTE FUNCTION outbox_charge();

-- One relay at a time publishes or checks what Redis holds: a
-- transaction-level advisory lock, held until the caller's transaction
-- ends. false when another relay holds it.
-- The relay's lag, for /metrics: the outbox rows not yet published and how
-- long the oldest has waited (0 when none).
CREATE OR REPLACE FUNCTION outbox_lag(OUT unsent bigint, OUT oldest_seconds double precision)
LANGUAGE sql STABLE AS $$
    SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(o.occurred_at)), 0)::double precision
      FROM outbox o
     WHERE o.sent_at IS NULL;
$$;

CREATE OR REPLACE FUNCTION outbox_lock() RETURNS boolean
LANGUAGE sql AS $$
    SELECT pg_try_advisory_xact_lock(hashtext('concert outbox relay'));
$$;

-- The relay's batch: up to p_limit unsent rows in id order, locked until the
-- caller's transaction ends, for one relay at a time (outbox_lock):
-- several relays never publish a row twice in the normal case, and a later
-- change never overtakes an earlier one. None when another relay holds the
-- lock. to_kafka: Kafka has not stored the row yet (a row marked unsent
-- again because Redis lost it goes to Redis alone).
CREATE OR REPLACE FUNCTION outbox_claim(p_limit integer)
RETURNS TABLE (id bigint, event_id uuid, topic text, type text, concert_id bigint, occurred_at text,
               data text, to_kafka boolean)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT outbox_lock() THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT o.id, o.event_id, o.topic, o.type, o.concert_id,
               utc_text_ms(o.occurred_at), o.data::text, o.kafka_sent_at IS NULL
          FROM outbox o
         WHERE o.sent_at IS NULL
         ORDER BY o.id
         LIMIT p_limit
           FOR UPDATE;
END;
$$;

-- The number of the batch being published (outbox_claim's caller takes one
-- for a batch of rows, and writes it to the streams' markers).
CREATE OR REPLACE FUNCTION outbox_next_batch() RETURNS bigint
LANGUAGE sql AS $$
    SELECT nextval('outbox_batch');
$$;

-- The last batch that sent a row of topic p_topic, or -1 when none has.
CREATE OR REPLACE FUNCTION outbox_last_batch(p_topic text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(o.sent_batch), -1) FROM outbox o WHERE o.topic = p_topic AND o.sent_batch IS NOT NULL;
$$;

-- Marks rows published to the streams, by batch p_batch, and (p_kafka)
-- stored by Kafka too, in one UPDATE: a second one would write each row
-- again. Returns how many.
CREATE OR REPLACE FUNCTION outbox_mark_sent(p_ids bigint[], p_batch bigint, p_kafka boolean) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    UPDATE outbox o SET sent_at = now(), sent_batch = p_batch,
           kafka_sent_at = CASE WHEN p_kafka THEN coalesce(o.kafka_sent_at, clock_timestamp()) ELSE o.kafka_sent_at END
     WHERE o.id = ANY (p_ids) AND o.sent_at IS NULL;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;

-- Marks rows stored by Kafka (their delivery reports came), once: the time
-- is when the relay heard so, which makes kafka_sent_at - occurred_at the
-- relay's lag to Kafka. Kept when Redis then refuses the batch or loses it
-- later: Kafka's progress is its own. Returns how many.
CREATE OR REPLACE FUNCTION outbox_mark_kafka_sent(p_ids bigint[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    UPDATE outbox o SET kafka_sent_at = clock_timestamp() WHERE o.id = ANY (p_ids) AND o.kafka_sent_at IS NULL;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;

-- Deletes up to p_batch rows sent longer ago than the retention period (the
-- streams keep them at least that long).
CREATE OR REPLACE FUNCTION outbox_forget_sent(p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    DELETE FROM outbox o
     WHERE o.id IN (SELECT s.id FROM outbox s
                     WHERE s.sent_at IS NOT NULL AND s.sent_at < now() - retention_period()
                     LIMIT p_batch FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;

-- The rows of topic p_topic that Redis has lost, marked unsent again for the
-- relay to publish once more (same event_id): those sent in a batch after
-- p_batch, the last batch the topic's marker in Redis names (Redis was
-- restarted from an older copy, or a replica that had not received the
-- last writes took over), or with p_batch NULL (no marker: Redis lost the
-- stream whole) every one sent within the retention period. Returns how many, and
-- the last batch of the topic's rows still marked sent (0: none), which a
-- missing marker may now be set to. Call it holding outbox_lock, so that no
-- batch is published between reading the marker and this. Only Redis's
-- side: kafka_sent_at stays, and Kafka is not sent the rows again.
CREATE OR REPLACE FUNCTION outbox_republish_after(p_topic text, p_batch bigint,
                                                  OUT republished integer, OUT last_batch bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_batch IS NULL THEN
        UPDATE outbox o SET sent_at = NULL, sent_batch = NULL
         WHERE o.topic = p_topic AND o.sent_at > now() - retention_period();
    ELSE
        UPDATE outbox o SET sent_at = NULL, sent_batch = NULL
         WHERE o.topic = p_topic AND o.sent_batch > p_batch;
    END IF;
    GET DIAGNOSTICS republished = ROW_COUNT;
    SELECT coalesce(max(o.sent_batch), 0) INTO last_batch
      FROM outbox o WHERE o.topic = p_topic AND o.sent_batch IS NOT NULL;
END;
$$;
