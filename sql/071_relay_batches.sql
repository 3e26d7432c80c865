-- 071_relay_batches.sql: which publishing batch sent each outbox row, so the
-- relay can tell how far a Redis that lost its latest writes (restarted
-- from an older copy, a failover to a replica that had not received them)
-- still reaches. Each batch takes the next number of outbox_batch; the relay
-- writes it, after the batch's XADDs and in the same pipeline, to a marker
-- key beside each stream it wrote to, and on the rows it marks sent. A
-- marker that names an earlier batch than PostgreSQL's rows say was sent
-- means Redis lost what came after it: those rows are published again.
ALTER TABLE outbox ADD COLUMN sent_batch bigint;
CREATE SEQUENCE outbox_batch;
CREATE INDEX outbox_sent_batch ON outbox (topic, sent_batch) WHERE sent_batch IS NOT NULL;
-- Replaced in functions.sql: marking sent now records the batch, and
-- republishing goes by topic and batch.
DROP FUNCTION IF EXISTS outbox_mark_sent(bigint[]);
DROP FUNCTION IF EXISTS outbox_republish();
