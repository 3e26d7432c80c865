-- queue_facts.lua - how long a concert's cached facts ({c:C}:conf) are
-- fresh after they were read (ms): a script that finds them older marks
-- them fresh again for everyone and has its caller read them again from
-- PostgreSQL (queue_reload_facts), so an operator's change is in force
-- everywhere within a second.
local FACTS_FRESH_MS = 1000
