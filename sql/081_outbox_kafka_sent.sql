-- 081_outbox_kafka_sent.sql: when each outbox row's delivery to Kafka was
-- reported, kept apart from sent_at (Redis Streams). A Redis that lost its
-- streams or their markers has rows marked unsent again for Redis alone: a
-- row Kafka already stored is not sent there again (it was, every one of
-- the last day, whenever Redis came back empty), and a batch Kafka stored
-- while Redis refused its XADDs is not sent to Kafka on every retry.
ALTER TABLE outbox ADD COLUMN kafka_sent_at timestamptz;
-- What was sent before this column counts as delivered to Kafka too (when
-- the relay published there, every row it marked sent was stored): after
-- the upgrade a lost stream does not send the last day to Kafka again.
UPDATE outbox SET kafka_sent_at = sent_at WHERE sent_at IS NOT NULL;
-- Replaced in functions.sql: the claim says which rows Kafka still lacks.
DROP FUNCTION IF EXISTS outbox_claim(integer);
