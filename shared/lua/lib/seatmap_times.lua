-- seatmap_times.lua - how long a seat map is trusted before PostgreSQL is
-- asked again, and kept (ms); and how long a map that was dropped, or never
-- made, keeps its version, so a load that started before a change cannot
-- store what it read.
local MAP_FRESH_MS, MAP_TTL_MS, MAP_GONE_TTL_MS = 1000, 3600000, 60000
