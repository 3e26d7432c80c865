-- 060_seatmap.sql: booking_hold and booking_pay name what they changed for
-- the seat map kept in Redis (shared/seatmap.c): the hold's reservation and
-- end, the payment's show and seats. New result columns need the old
-- functions dropped; functions.sql makes them again in this transaction.
DROP FUNCTION IF EXISTS booking_hold(uuid, bigint, bigint, integer[], text);
DROP FUNCTION IF EXISTS booking_pay(uuid, bigint, bigint, text, text);
DROP FUNCTION IF EXISTS booking_pay_now(uuid, bigint, bigint);
