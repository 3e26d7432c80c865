-- 030_accounts.sql: accounts, the sign-in side of a user. A users row is
-- made with its account at sign-up (one statement, see fcgi/accounts.c) and
-- holds the balance; the account holds the email and the password's
-- Argon2id hash (libsodium's text form, which carries its own salt and
-- cost). Sessions live in Redis, not here.

CREATE TABLE accounts (
    -- Checked at commit: sign-up inserts the account first, so an email that
    -- is taken stops the statement before a users row is made.
    user_id       uuid PRIMARY KEY REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    -- Stored with its ASCII letters lowercased (the responder's one rule).
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email !~ '[A-Z]'),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One account per email whatever its letter case; logins look emails up
-- through this index.
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));
