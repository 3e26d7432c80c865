-- session_times.lua - how long a session's list of tokens is kept after the
-- last token was taken (s): a token lives while its user polls, so longer
-- than any session that is not used.
local SESSION_TOKENS_TTL = 604800
