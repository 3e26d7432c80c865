-- 910_demo_accounts.sql: demo accounts for the local stack (./dev up, which
-- prints these emails and passwords when it starts). Applied once, like
-- 900_demo.sql and only by ./dev up (never on a real host). A file of its
-- own so a local stack made before accounts existed gets them too. The
-- hashes are Argon2id at the default cost (2 passes, 19 MiB), made once:
--   minji@example.com  demo-pass-minji
--   jisoo@example.com  demo-pass-jisoo
--   hana@example.com   demo-pass-hana
INSERT INTO users (id) VALUES
    ('7d1e5a52-3c4b-4f0e-9a61-2b8f0c9d1e01'),
    ('7d1e5a52-3c4b-4f0e-9a61-2b8f0c9d1e02'),
    ('7d1e5a52-3c4b-4f0e-9a61-2b8f0c9d1e03');
INSERT INTO accounts (user_id, email, password_hash) VALUES
    ('7d1e5a52-3c4b-4f0e-9a61-2b8f0c9d1e01', 'minji@example.com',
     '$argon2id$v=19$m=19456,t=2,p=1$LLuK3teTLNoVM/NrYiGyAg$1M+dpzZ25rdvGdREU1pwSRsPWpHTXMOlPvXLC8KSjdU'),
    ('7d1e5a52-3c4b-4f0e-9a61-2b8f0c9d1e02', 'jisoo@example.com',
     '$argon2id$v=19$m=19456,t=2,p=1$lF2BLf96A5t/MIDacg4Sbg$8T2AxDF2LGpKVXr2edssb1PE0t5Cs1PiQvzidxVSP4U'),
    ('7d1e5a52-3c4b-4f0e-9a61-2b8f0c9d1e03', 'hana@example.com',
     '$argon2id$v=19$m=19456,t=2,p=1$rhiwVzmdv+MF5RiK5CqRfw$zkPxO0FQJYWQcQal4q+rYlzFknCK1gC1ssHa8Fec2/s');
