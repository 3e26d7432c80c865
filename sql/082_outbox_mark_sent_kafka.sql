-- 082_outbox_mark_sent_kafka.sql: marking a batch sent records Kafka's
-- delivery in the same UPDATE (functions.sql's outbox_mark_sent takes a
-- third argument), so the two-argument form goes.
DROP FUNCTION IF EXISTS outbox_mark_sent(bigint[], bigint);
