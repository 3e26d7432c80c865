-- 900_demo.sql: demo data for the local stack (./dev up): a few concerts,
-- several future shows each, 50 seats a show. Applied once, like a migration,
-- and only by ./dev up (never on a real host: deploy applies 0xx files only).
WITH c AS (
    INSERT INTO concerts (title, venue, active_limit, active_seconds, waiting_idle_seconds, hold_seconds)
    VALUES ('아이유 콘서트 HER', '잠실 올림픽주경기장', 100, 1800, 600, 300),
           ('BTS Yet To Come', '부산 아시아드 주경기장', 100, 1800, 600, 300),
           ('Seoul Philharmonic: Mahler 2', '예술의전당 콘서트홀', 50, 1800, 600, 300)
    RETURNING id
), s AS (
    INSERT INTO schedules (concert_id, starts_at, seat_count)
    SELECT c.id, date_trunc('day', now()) + make_interval(days => 14 * n) + interval '19 hours 30 minutes', 50
    FROM c CROSS JOIN generate_series(1, 4) AS n
    RETURNING id
)
INSERT INTO seats (schedule_id, seat_no, price)
SELECT s.id, seat_no, CASE WHEN seat_no <= 10 THEN 150000 WHEN seat_no <= 30 THEN 110000 ELSE 80000 END
FROM s CROSS JOIN generate_series(1, 50) AS seat_no;
