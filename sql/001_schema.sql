-- 001_schema.sql: the tables. PostgreSQL is the source of truth for concerts,
-- seats, users, balances, reservations and payments; Redis only holds the
-- queue, locks and caches, and can be wiped without losing any of this.

CREATE TABLE concerts (
    id                   bigserial PRIMARY KEY,
    title                text    NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    venue                text    NOT NULL DEFAULT '' CHECK (length(venue) <= 200),
    active_limit         integer NOT NULL CHECK (active_limit BETWEEN 1 AND 1000000),
    active_seconds       integer NOT NULL CHECK (active_seconds BETWEEN 1 AND 86400),
    waiting_idle_seconds integer NOT NULL CHECK (waiting_idle_seconds BETWEEN 1 AND 86400),
    hold_seconds         integer NOT NULL CHECK (hold_seconds BETWEEN 1 AND 3600),
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schedules (
    id          bigserial PRIMARY KEY,
    concert_id  bigint  NOT NULL REFERENCES concerts (id),
    starts_at   timestamptz NOT NULL,
    seat_count  integer NOT NULL CHECK (seat_count BETWEEN 1 AND 1000)
);
CREATE INDEX schedules_concert_starts ON schedules (concert_id, starts_at);

-- A seat is AVAILABLE, HELD by one reservation until held_until, or SOLD.
-- A HELD seat whose held_until has passed counts as AVAILABLE everywhere
-- (reads and new holds), whether or not the cron program has freed it yet.
CREATE TABLE seats (
    schedule_id    bigint  NOT NULL REFERENCES schedules (id),
    seat_no        integer NOT NULL CHECK (seat_no >= 1),
    price          bigint  NOT NULL CHECK (price BETWEEN 0 AND 1000000000),
    status         text    NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'HELD', 'SOLD')),
    reservation_id bigint,
    held_until     timestamptz,
    PRIMARY KEY (schedule_id, seat_no),
    CHECK ((status = 'AVAILABLE') = (reservation_id IS NULL)),
    CHECK ((status = 'HELD') = (held_until IS NOT NULL))
);
CREATE INDEX seats_reservation ON seats (reservation_id) WHERE reservation_id IS NOT NULL;

-- A user's row is created at the first charge; balance always equals the sum
-- of the user's ledger rows.
CREATE TABLE users (
    id         uuid   PRIMARY KEY,
    balance    bigint NOT NULL DEFAULT 0 CHECK (balance BETWEEN 0 AND 1000000000000),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
    id           bigserial PRIMARY KEY,
    user_id      uuid      NOT NULL,
    concert_id   bigint    NOT NULL REFERENCES concerts (id),
    schedule_id  bigint    NOT NULL REFERENCES schedules (id),
    seat_nos     integer[] NOT NULL,
    amount       bigint    NOT NULL CHECK (amount >= 0),
    status       text      NOT NULL CHECK (status IN ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED')),
    expires_at   timestamptz NOT NULL,
    paid_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    lock_owner   text
);
CREATE INDEX reservations_user ON reservations (user_id, id DESC);
CREATE INDEX reservations_held ON reservations (expires_at) WHERE status = 'HELD';
CREATE INDEX reservations_user_schedule ON reservations (user_id, schedule_id) WHERE status IN ('HELD', 'CONFIRMED');

CREATE TABLE payments (
    id             bigserial PRIMARY KEY,
    reservation_id bigint NOT NULL UNIQUE REFERENCES reservations (id),
    user_id        uuid   NOT NULL REFERENCES users (id),
    amount         bigint NOT NULL CHECK (amount >= 0),
    paid_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE balance_ledger (
    id          bigserial PRIMARY KEY,
    user_id     uuid   NOT NULL REFERENCES users (id),
    delta       bigint NOT NULL CHECK (delta <> 0),
    kind        text   NOT NULL CHECK (kind IN ('CHARGE', 'PAYMENT')),
    payment_id  bigint REFERENCES payments (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX balance_ledger_user ON balance_ledger (user_id);

-- Replays for Idempotency-Key: the first response to (scope, owner, key) is
-- kept for 24 hours and returned for every repeat.
CREATE TABLE idempotency_keys (
    scope       text  NOT NULL CHECK (scope IN ('charge', 'payment')),
    owner       text  NOT NULL,
    key         text  NOT NULL,
    status      integer NOT NULL,
    response    text  NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, owner, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
