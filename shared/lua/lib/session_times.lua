-- session_times.lua - how long a session's overflow set of tokens is kept
-- after the last token was put in it (s): a token lives while its user
-- polls, so longer than any session that is not used. And how many token
-- ids a session's own value holds at most before the rest go to that set.
local SESSION_TOKENS_TTL = 604800
local SESSION_IDS_MAX = 8
