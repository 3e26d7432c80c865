-- 090_hold_list.sql: the reservation list is merged in C from PostgreSQL's
-- rows (booking_list_rows) and the holds Redis keeps (shared/hold.h), so the
-- function that built the whole list in SQL goes.
DROP FUNCTION IF EXISTS booking_list(uuid);
