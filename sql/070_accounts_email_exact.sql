-- 070_accounts_email_exact.sql: an email is found by exact equality on its
-- stored form (ASCII letters lowercased, every other character as sent),
-- the form the failed-login limit is keyed on. The unique index on
-- lower(email) went further: under a UTF-8 locale lower() also folds
-- non-ASCII letters (U+212A KELVIN SIGN to 'k', U+0130 to 'i'), so logins
-- looked up through it let many spellings of one email find the account,
-- each with a failure budget of its own. Stored emails are unique under
-- lower(), so they are unique as they are too.

DROP INDEX accounts_email_key;
ALTER TABLE accounts ADD CONSTRAINT accounts_email_key UNIQUE (email);
