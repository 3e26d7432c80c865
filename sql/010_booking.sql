-- 010_booking.sql: seat holds, cancellation, balance charges, payments and
-- the cron program's clean-up, each a plpgsql function so that a request does
-- its whole PostgreSQL work in one round trip and one transaction.
--
-- Business outcomes are returned, never raised: each request function gives
-- (http_status, http_body) with the contract's JSON body ready to send, so the
-- responder only passes it on. A raised error means a bug or an outage.
--
-- Lock order, the same everywhere, so no two transactions can deadlock:
--   1. the per-(user, schedule) advisory lock (holds only),
--   2. a reservation row (payment, cancel, expiry; holds create new ones),
--   3. seat rows, always in (schedule_id, seat_no) order,
--   4. the user's row (payment debit, charge).
-- A hold never locks an existing reservation row: it only takes over seats
-- whose hold has run out, after locking those seats.

-- RFC 3339 UTC with whole seconds (fractions cut), or NULL for NULL.
CREATE FUNCTION booking_time(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- The contract's error body.
CREATE FUNCTION booking_error(code text, message text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('error', json_build_object('code', code, 'message', message))::text
$$;

-- A reservation as the list (and a cancellation) shows it. A HELD row whose
-- hold has run out reads EXPIRED at once, whether or not cron has run.
CREATE FUNCTION booking_reservation_json(r reservations) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'reservationId', r.id,
        'concertId', r.concert_id,
        'scheduleId', r.schedule_id,
        'seatNos', to_json(r.seat_nos),
        'amount', r.amount,
        'status', CASE WHEN r.status = 'HELD' AND r.expires_at <= now() THEN 'EXPIRED' ELSE r.status END,
        'expiresAt', booking_time(r.expires_at),
        'paidAt', booking_time(r.paid_at))
$$;

-- Holds p_seats (sorted, distinct, 1..4 of them) of p_schedule for p_user,
-- all or nothing. p_concert is the concert of the caller's queue token;
-- p_owner the random owner of the Redis seat locks (kept so cancellation can
-- release them). sold_seats names requested seats that are SOLD, so the
-- caller can remember them in Redis and turn later crowds away there.
CREATE FUNCTION booking_hold(p_user uuid, p_concert bigint, p_schedule bigint, p_seats integer[],
                             p_owner text,
                             OUT http_status integer, OUT http_body text, OUT sold_seats integer[])
LANGUAGE plpgsql AS $$
DECLARE
    v_concert bigint;
    v_hold    integer;
    v_mine    bigint;
    v_found   integer;
    v_amount  bigint;
    v_busy    integer[];
    v_expires timestamptz;
    v_id      bigint;
BEGIN
    sold_seats := '{}';
    SELECT s.concert_id, c.hold_seconds INTO v_concert, v_hold
      FROM schedules s JOIN concerts c ON c.id = s.concert_id
     WHERE s.id = p_schedule;
    IF NOT FOUND THEN
        http_status := 404; http_body := booking_error('NOT_FOUND', 'no such schedule');
        RETURN;
    END IF;
    IF v_concert <> p_concert THEN
        http_status := 403;
        http_body := booking_error('TOKEN_WRONG_CONCERT', 'the queue token was issued for another concert');
        RETURN;
    END IF;

    -- One user's holds on one schedule run one at a time, so two at once
    -- cannot both pass the per-user limit. The two-key form keeps these locks
    -- apart from any one-key advisory lock elsewhere.
    PERFORM pg_advisory_xact_lock(hashtext('booking_hold'), hashtext(p_user::text || '/' || p_schedule::text));
    SELECT coalesce(sum(cardinality(r.seat_nos)), 0) INTO v_mine
      FROM reservations r
     WHERE r.user_id = p_user AND r.schedule_id = p_schedule
       AND (r.status = 'CONFIRMED' OR (r.status = 'HELD' AND r.expires_at > now()));
    IF v_mine + cardinality(p_seats) > 4 THEN
        http_status := 409;
        http_body := booking_error('HOLD_LIMIT', format(
            'at most 4 seats per user and schedule: %s already held or bought', v_mine));
        RETURN;
    END IF;

    -- Lock the seats in seat order, then judge them as they are now.
    PERFORM 1 FROM seats s
      WHERE s.schedule_id = p_schedule AND s.seat_no = ANY (p_seats)
      ORDER BY s.seat_no FOR UPDATE;
    SELECT count(*), coalesce(sum(s.price), 0),
           array_agg(s.seat_no ORDER BY s.seat_no)
               FILTER (WHERE NOT (s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.held_until <= now()))),
           coalesce(array_agg(s.seat_no ORDER BY s.seat_no) FILTER (WHERE s.status = 'SOLD'), '{}')
      INTO v_found, v_amount, v_busy, sold_seats
      FROM seats s
     WHERE s.schedule_id = p_schedule AND s.seat_no = ANY (p_seats);
    IF v_found <> cardinality(p_seats) THEN
        http_status := 404; http_body := booking_error('NOT_FOUND', 'no such seat number in this schedule');
        RETURN;
    END IF;
    IF v_busy IS NOT NULL THEN
        http_status := 409;
        http_body := booking_error('SEAT_UNAVAILABLE', format('seat %s is held or sold', array_to_string(v_busy, ', ')));
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

    http_status := 201;
    http_body := json_build_object(
        'reservationId', v_id, 'scheduleId', p_schedule, 'seatNos', to_json(p_seats),
        'amount', v_amount, 'status', 'HELD', 'expiresAt', booking_time(v_expires))::text;
END;
$$;

-- Cancels a live hold of p_user. Also returns what the caller needs to
-- release the Redis seat locks (owner, concert, schedule, seats).
CREATE FUNCTION booking_cancel(p_user uuid, p_concert bigint, p_id bigint,
                               OUT http_status integer, OUT http_body text, OUT out_owner text,
                               OUT out_concert bigint, OUT out_schedule bigint, OUT out_seats integer[])
LANGUAGE plpgsql AS $$
DECLARE
    r reservations;
BEGIN
    SELECT * INTO r FROM reservations WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR r.user_id <> p_user THEN
        http_status := 404; http_body := booking_error('NOT_FOUND', 'no such reservation');
        RETURN;
    END IF;
    IF r.concert_id <> p_concert THEN
        http_status := 403;
        http_body := booking_error('TOKEN_WRONG_CONCERT', 'the queue token was issued for another concert');
        RETURN;
    END IF;
    IF r.status = 'CONFIRMED' THEN
        http_status := 409; http_body := booking_error('RESERVATION_NOT_PAYABLE', 'the reservation is already paid');
        RETURN;
    END IF;
    IF r.status = 'CANCELLED' THEN
        http_status := 409; http_body := booking_error('RESERVATION_NOT_PAYABLE', 'the reservation is already cancelled');
        RETURN;
    END IF;
    IF r.status = 'EXPIRED' OR r.expires_at <= now() THEN
        http_status := 410; http_body := booking_error('HOLD_EXPIRED', 'the hold has already run out');
        RETURN;
    END IF;

    PERFORM 1 FROM seats s
      WHERE s.reservation_id = r.id AND s.status = 'HELD'
      ORDER BY s.schedule_id, s.seat_no FOR UPDATE;
    UPDATE seats s SET status = 'AVAILABLE', reservation_id = NULL, held_until = NULL
     WHERE s.reservation_id = r.id AND s.status = 'HELD';
    UPDATE reservations SET status = 'CANCELLED' WHERE id = r.id RETURNING * INTO r;

    http_status := 200;
    http_body := booking_reservation_json(r)::text;
    out_owner := r.lock_owner;
    out_concert := r.concert_id;
    out_schedule := r.schedule_id;
    out_seats := r.seat_nos;
END;
$$;

-- A user's reservations, newest first (the 200 newest).
CREATE FUNCTION booking_list(p_user uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('reservations', coalesce(json_agg(x.j ORDER BY x.id DESC), '[]'::json))::text
      FROM (SELECT r.id, booking_reservation_json(r) AS j FROM reservations r
             WHERE r.user_id = p_user ORDER BY r.id DESC LIMIT 200) x
$$;

-- Claims an Idempotency-Key inside the caller's transaction. Returns NULL
-- when the key is new (now claimed: the caller must finish it with
-- booking_key_done), or the stored (status, response) of the first request.
-- A concurrent repeat waits on the unique key until the first transaction
-- ends, then sees its outcome: replayed if it was stored, claimed afresh if
-- the first one let the key go. Keys older than 24 hours count as new.
CREATE FUNCTION booking_key_claim(p_scope text, p_owner text, p_key text,
                                  OUT http_status integer, OUT http_body text)
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM idempotency_keys k
     WHERE k.scope = p_scope AND k.owner = p_owner AND k.key = p_key
       AND k.created_at < now() - interval '24 hours';
    LOOP
        INSERT INTO idempotency_keys (scope, owner, key, status, response)
        VALUES (p_scope, p_owner, p_key, 0, '')
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            RETURN;
        END IF;
        SELECT k.status, k.response INTO http_status, http_body
          FROM idempotency_keys k
         WHERE k.scope = p_scope AND k.owner = p_owner AND k.key = p_key;
        IF FOUND THEN
            RETURN;
        END IF;
        -- The key went away between the two statements: claim it again.
    END LOOP;
END;
$$;

-- Ends a claim: keeps a success for replay, lets the key go otherwise (an
-- error changed nothing, so a retry is judged afresh).
CREATE FUNCTION booking_key_done(p_scope text, p_owner text, p_key text, p_status integer, p_body text,
                                 p_keep boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_keep THEN
        UPDATE idempotency_keys k SET status = p_status, response = p_body
         WHERE k.scope = p_scope AND k.owner = p_owner AND k.key = p_key;
    ELSE
        DELETE FROM idempotency_keys k
         WHERE k.scope = p_scope AND k.owner = p_owner AND k.key = p_key;
    END IF;
END;
$$;

-- Adds p_amount (1..1e9) to p_user's balance, creating the user's row at the
-- first charge, with one ledger row. p_key: the Idempotency-Key or NULL.
CREATE FUNCTION booking_charge(p_user uuid, p_amount bigint, p_key text,
                               OUT http_status integer, OUT http_body text)
LANGUAGE plpgsql AS $$
DECLARE
    v_balance bigint;
BEGIN
    IF p_key IS NOT NULL THEN
        SELECT c.http_status, c.http_body INTO http_status, http_body
          FROM booking_key_claim('charge', p_user::text, p_key) c;
        IF http_status IS NOT NULL THEN
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
        http_status := 409;
        http_body := booking_error('BALANCE_LIMIT', 'the charge would push the balance over 1,000,000,000,000');
    ELSE
        INSERT INTO balance_ledger (user_id, delta, kind) VALUES (p_user, p_amount, 'CHARGE');
        http_status := 200;
        http_body := json_build_object('userId', p_user, 'balance', v_balance)::text;
    END IF;

    IF p_key IS NOT NULL THEN
        PERFORM booking_key_done('charge', p_user::text, p_key, http_status, http_body, http_status = 200);
    END IF;
END;
$$;

-- The owner under which a payment's Idempotency-Key is kept: a digest of the
-- queue token (the token itself is a secret and is never stored).
CREATE FUNCTION booking_token_owner(p_token text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(p_token, 'UTF8')), 'hex')
$$;

-- The stored first response to a payment with this token and key, for a
-- retry that arrives after the token has ended; no row when there is none.
CREATE FUNCTION booking_payment_replay(p_token text, p_key text,
                                       OUT http_status integer, OUT http_body text)
RETURNS SETOF record
LANGUAGE sql STABLE AS $$
    SELECT k.status, k.response FROM idempotency_keys k
     WHERE k.scope = 'payment' AND k.owner = booking_token_owner(p_token) AND k.key = p_key
       AND k.status <> 0 AND k.created_at >= now() - interval '24 hours'
$$;

-- The payment itself (see booking_pay).
CREATE FUNCTION booking_pay_now(p_user uuid, p_concert bigint, p_id bigint,
                                OUT http_status integer, OUT http_body text)
LANGUAGE plpgsql AS $$
DECLARE
    r       reservations;
    v_seats integer;
    v_pid   bigint;
BEGIN
    SELECT * INTO r FROM reservations WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR r.user_id <> p_user THEN
        http_status := 404; http_body := booking_error('NOT_FOUND', 'no such reservation');
        RETURN;
    END IF;
    IF r.concert_id <> p_concert THEN
        http_status := 403;
        http_body := booking_error('TOKEN_WRONG_CONCERT', 'the queue token was issued for another concert');
        RETURN;
    END IF;
    IF r.status = 'CONFIRMED' THEN
        http_status := 409; http_body := booking_error('RESERVATION_NOT_PAYABLE', 'the reservation is already paid');
        RETURN;
    END IF;
    IF r.status = 'CANCELLED' THEN
        http_status := 409; http_body := booking_error('RESERVATION_NOT_PAYABLE', 'the reservation is cancelled');
        RETURN;
    END IF;
    IF r.status = 'EXPIRED' OR r.expires_at <= now() THEN
        http_status := 410; http_body := booking_error('HOLD_EXPIRED', 'the hold ran out before payment');
        RETURN;
    END IF;

    -- Lock the seats (seat order) and make sure every one is still ours: a
    -- hold that started after our expiry may have taken one over.
    SELECT count(*) INTO v_seats FROM (
        SELECT 1 FROM seats s
         WHERE s.reservation_id = r.id AND s.status = 'HELD'
         ORDER BY s.schedule_id, s.seat_no FOR UPDATE) x;
    IF v_seats <> cardinality(r.seat_nos) THEN
        http_status := 410; http_body := booking_error('HOLD_EXPIRED', 'the hold ran out before payment');
        RETURN;
    END IF;

    -- The debit refuses itself when the balance is short: nothing changed yet.
    IF r.amount > 0 THEN
        UPDATE users u SET balance = u.balance - r.amount
         WHERE u.id = p_user AND u.balance >= r.amount;
        IF NOT FOUND THEN
            http_status := 402;
            http_body := booking_error('INSUFFICIENT_BALANCE', format('the balance is less than the amount due (%s)', r.amount));
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

    http_status := 201;
    http_body := json_build_object(
        'paymentId', v_pid, 'reservationId', r.id, 'userId', p_user, 'amount', r.amount,
        'status', 'PAID', 'paidAt', booking_time(now()))::text;
END;
$$;

-- Pays reservation p_id for p_user with a queue token of p_concert, in one
-- transaction: balance debited, seats SOLD, reservation CONFIRMED, payment
-- and ledger rows written, and the Idempotency-Key (if any) stored with the
-- response. p_token only names the key's owner (as a digest).
CREATE FUNCTION booking_pay(p_user uuid, p_concert bigint, p_id bigint, p_token text, p_key text,
                            OUT http_status integer, OUT http_body text)
LANGUAGE plpgsql AS $$
DECLARE
    v_owner text;
BEGIN
    IF p_key IS NOT NULL THEN
        v_owner := booking_token_owner(p_token);
        SELECT c.http_status, c.http_body INTO http_status, http_body
          FROM booking_key_claim('payment', v_owner, p_key) c;
        IF http_status IS NOT NULL THEN
            RETURN;
        END IF;
    END IF;
    SELECT p.http_status, p.http_body INTO http_status, http_body
      FROM booking_pay_now(p_user, p_concert, p_id) p;
    IF p_key IS NOT NULL THEN
        PERFORM booking_key_done('payment', v_owner, p_key, http_status, http_body, http_status = 201);
    END IF;
END;
$$;

-- Cron: marks up to p_batch run-out holds EXPIRED and frees the seats they
-- still hold, in one transaction. Rows a payment (or another cron) has locked
-- are skipped, so an expiry never waits for, or undoes, a payment in flight.
CREATE FUNCTION booking_expire(p_batch integer, OUT expired integer, OUT freed integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
BEGIN
    SELECT array_agg(x.id) INTO v_ids FROM (
        SELECT r.id FROM reservations r
         WHERE r.status = 'HELD' AND r.expires_at <= now()
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

-- Cron: deletes up to p_batch Idempotency-Keys older than 24 hours.
CREATE FUNCTION booking_forget_keys(p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    DELETE FROM idempotency_keys k
     WHERE (k.scope, k.owner, k.key) IN (
        SELECT o.scope, o.owner, o.key FROM idempotency_keys o
         WHERE o.created_at < now() - interval '24 hours'
         LIMIT p_batch FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;
