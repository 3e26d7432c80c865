/* 25-queue-nowrite: a crowd in the queue writes nothing to PostgreSQL.
 *
 * The story: forty users take tokens for a concert, ask again and poll a
 * few times each, some with the concert's cache just emptied (which may
 * read PostgreSQL once). The users (and their sessions: checking a session
 * reads Redis only) are made before the count starts. PostgreSQL's next
 * transaction id does not move: no write transaction happened anywhere in
 * the database cluster, and the users' rows are as sign-up left them.
 *
 * A transaction id is handed out only to a transaction that writes, so
 * comparing pg_current_snapshot()'s xmax before and after is an exact,
 * immediate check (statistics counters are flushed lazily). Autovacuum's
 * ANALYZE or the cron program may write at any moment, so a round that
 * saw a write is tried again; a real writer would write in every round. */
#include "tap.h"
#include "testlib.h"

#include <inttypes.h>

#define USERS 40
#define ROUNDS 3

static const char next_xid[] = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text";

static int crowd(int64_t concert_id, char users[USERS][37], int *failures)
{
    char key[64];
    const char *del[] = {"DEL", key};

    snprintf(key, sizeof key, "{c:%" PRId64 "}:conf", concert_id);
    for (int i = 0; i < USERS; i++) {
        struct t_resp r;
        char *tok;

        if (i % 10 == 0)
            t_redis_cmd(2, del);   /* a cold cache: at most a read */
        tok = t_issue_token(concert_id, users[i], &r);
        if (r.status != 201)
            (*failures)++;
        t_resp_free(&r);
        free(t_issue_token(concert_id, users[i], &r));
        if (r.status != 200)
            (*failures)++;
        t_resp_free(&r);
        for (int k = 0; k < 3; k++) {
            t_get("/api/v1/queue/status", tok, &r);
            if (r.status != 200)
                (*failures)++;
            t_resp_free(&r);
        }
        free(tok);
    }
    return 0;
}

int main(void)
{
    char users[ROUNDS][USERS][37];
    int64_t concert_id, before, after = 0;
    int failures = 0, round, clean = 0;

    t_init();
    concert_id = t_create_concert_or_bail(3, 600, 600, 300, 1, 10, 1000, NULL);

    for (round = 0; round < ROUNDS; round++)
        for (int i = 0; i < USERS; i++)
            t_user(users[round][i]);
    for (round = 0; round < ROUNDS && !clean; round++) {
        before = t_pg_int(next_xid, 0, NULL);
        crowd(concert_id, users[round], &failures);
        after = t_pg_int(next_xid, 0, NULL);
        if (before > 0 && after == before)
            clean = 1;
        else
            diag("round %d: next transaction id moved from %" PRId64 " to %" PRId64 " (a write somewhere)",
                 round + 1, before, after);
    }
    {
        /* The control: a write through the API does move it. */
        int64_t x0 = t_pg_int(next_xid, 0, NULL), x1;
        t_create_concert(1, 600, 600, 300, 1, 1, 0, NULL);
        x1 = t_pg_int(next_xid, 0, NULL);
        ok(x0 > 0 && x1 > x0, "control: creating a concert moves the next transaction id (%" PRId64 " -> %" PRId64 ")",
           x0, x1);
    }
    is_int(failures, 0, "every issue was 201, every repeat 200 and every poll 200");
    ok(clean, "issuing, re-issuing and polling (%d requests a round) wrote nothing to PostgreSQL", USERS * 5);
    {
        int64_t rows = 0;
        for (int k = 0; k < round; k++)
            for (int i = 0; i < USERS; i++) {
                const char *p[] = {users[k][i]};
                rows += t_pg_int("SELECT count(*) FROM users WHERE id = $1 AND balance = 0", 1, p);
            }
        is_int(rows, round * USERS, "every queued user's row is as sign-up left it (balance 0)");
    }
    return done_testing();
}
