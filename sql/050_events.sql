-- 050_events.sql: the transactional outbox. Every change of a reservation, a
-- payment or a balance writes its event here in the same transaction (the
-- triggers in functions.sql), so an event exists if and only if its change
-- committed. The relay (relay/) publishes unsent rows to the Redis Streams
-- named by topic, in id order, and marks them sent; the cron program deletes
-- sent rows after a day. event_id is what consumers see as eventId: the same
-- on every redelivery of the row.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    topic       text        NOT NULL CHECK (topic IN ('reservation-events', 'payment-events')),
    type        text        NOT NULL,
    concert_id  bigint,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    data        jsonb       NOT NULL,
    sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
