/* 2k-store-contexts: one program holds two PostgreSQL and two Redis
 * connections at once, each a context with its own settings and errors.
 *
 * The story: two db contexts with different session settings are two
 * backends, each with its own settings, beside the process's default one.
 * A transaction on the first holds a lock the second cannot take until it
 * commits. The first LISTENs and the second's NOTIFY wakes it. When the
 * first's backend is ended inside a transaction, its later statements fail
 * instead of running, outside the transaction, on a fresh connection (the
 * relay counts on that); once the transaction is ended it reconnects with
 * its settings, and the second never noticed. Then two rds contexts with
 * different timeouts: one pauses Redis's writes, the other's write times
 * out (its reply is lost: it may have run), while the first's reads go on
 * and its errors stay its own; a third context, on a port nobody listens to, is
 * unreachable, and the default context is untouched by all of it. */
#include "tap.h"
#include "testlib.h"
#include "db.h"
#include "rds.h"

#include <stdlib.h>
#include <string.h>

#define LOCK_KEY "2023112601"
#define CHANNEL "t2k_ctx"
#define WRITE_KEY "{t2k}:late"
#define TEXT_KEY "{t2k}:text"

static const char whoami_sql[] = "SELECT current_setting('application_name') || ' ' || pg_backend_pid()";
static const char pid_sql[] = "SELECT pg_backend_pid()";
static const char try_lock_sql[] = "SELECT pg_try_advisory_xact_lock(" LOCK_KEY ")";
static const char notify_sql[] = "SELECT pg_notify('" CHANNEL "', 'hello')";
static const char terminate_sql[] = "SELECT pg_terminate_backend($1::integer, 5000)";

/* The first column of the first row of sql on db (malloc'd), or NULL. */
static char *value_on(struct db *db, const char *sql, int nparams, const char *const *params, db_rc *rc)
{
    PGresult *res = NULL;
    char *text = NULL;

    *rc = db_query_on(db, sql, nparams, params, &res);
    if (*rc == DB_OK && PQntuples(res) == 1)
        text = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return text;
}

static int starts_with(const char *text, const char *prefix)
{
    return text && strncmp(text, prefix, strlen(prefix)) == 0;
}

static int same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static void two_databases(const char *conninfo)
{
    struct db *a = db_open(conninfo), *b = db_open(conninfo);
    char *who_a, *who_b, *pid_a, *pid_b, *text;
    const char *params[1];
    db_rc rc;

    if (!a || !b || db_set_session(a, "SET application_name = 't2k-a'; LISTEN " CHANNEL) < 0 ||
        db_set_session(b, "SET application_name = 't2k-b'") < 0)
        bail_out("cannot make two db contexts");

    step("two contexts, two backends, each with its own settings");
    who_a = value_on(a, whoami_sql, 0, NULL, &rc);
    who_b = value_on(b, whoami_sql, 0, NULL, &rc);
    pid_a = value_on(a, pid_sql, 0, NULL, &rc);
    pid_b = value_on(b, pid_sql, 0, NULL, &rc);
    ok(starts_with(who_a, "t2k-a "), "the first runs with its settings (%s)", who_a ? who_a : "none");
    ok(starts_with(who_b, "t2k-b "), "the second with its own (%s)", who_b ? who_b : "none");
    ok(pid_a && pid_b && !same(pid_a, pid_b), "on two backends (%s, %s)", pid_a ? pid_a : "-", pid_b ? pid_b : "-");
    is_int(db_ping(), DB_OK, "and the default context answers beside them");

    step("a transaction on one is not the other's");
    is_int(db_begin(a), DB_OK, "the first begins");
    text = value_on(a, try_lock_sql, 0, NULL, &rc);
    ok(same(text, "t"), "and takes a transaction lock");
    free(text);
    text = value_on(b, try_lock_sql, 0, NULL, &rc);
    ok(same(text, "f"), "the second cannot take it while that transaction is open");
    free(text);
    is_int(db_commit(a), DB_OK, "the first commits");
    text = value_on(b, try_lock_sql, 0, NULL, &rc);
    ok(same(text, "t"), "now the second can");
    free(text);

    step("the first LISTENs, the second NOTIFYs");
    is_int(db_wait_notify(a, 100), 0, "nothing waits at first");
    text = value_on(b, notify_sql, 0, NULL, &rc);
    is_int(rc, DB_OK, "the second notifies");
    free(text);
    is_int(db_wait_notify(a, 5000), 1, "the first is woken by it");

    step("the first's backend ends inside a transaction");
    is_int(db_begin(a), DB_OK, "the first begins");
    params[0] = pid_a;
    text = value_on(b, terminate_sql, 1, params, &rc);
    ok(same(text, "t"), "the second ends the first's backend");
    free(text);
    text = value_on(a, pid_sql, 0, NULL, &rc);
    ok(!text && rc == DB_UNAVAILABLE, "the first's next statement is not run on a fresh connection (rc %d)", rc);
    free(text);
    text = value_on(a, pid_sql, 0, NULL, &rc);
    ok(!text && rc == DB_UNAVAILABLE, "nor the one after it");
    is_int(db_commit(a), DB_UNAVAILABLE, "COMMIT: nothing committed, the transaction went with its connection");
    free(text);
    text = value_on(a, whoami_sql, 0, NULL, &rc);
    ok(starts_with(text, "t2k-a ") && !same(text, who_a),
       "after it, the first reconnects, with its settings, to a new backend (%s)", text ? text : "none");
    free(text);
    text = value_on(b, whoami_sql, 0, NULL, &rc);
    ok(same(text, who_b), "the second kept its connection throughout");
    free(text);
    is_int(db_ping(), DB_OK, "and so did the default context");

    free(who_a);
    free(who_b);
    free(pid_a);
    free(pid_b);
    db_free(a);
    db_free(b);
}

static void two_redis(int port)
{
    struct rds *patient = rds_new("127.0.0.1", port, 5000);
    struct rds *hasty = rds_new("127.0.0.1", port, 300);
    struct rds *nowhere = rds_new("127.0.0.1", t_unused_port(), 300);
    const char *id[] = {"CLIENT", "ID"};
    const char *pause[] = {"CLIENT", "PAUSE", "1500", "WRITE"};
    const char *set_late[] = {"SET", WRITE_KEY, "late"};
    const char *get_late[] = {"GET", WRITE_KEY};
    const char *set_text[] = {"SET", TEXT_KEY, "words"};
    const char *incr_text[] = {"INCR", TEXT_KEY};
    const char *del[] = {"DEL", WRITE_KEY, TEXT_KEY};
    redisReply *r1, *r2;
    long long id1 = -1, id2 = -2;

    if (!patient || !hasty || !nowhere)
        bail_out("cannot make the rds contexts");
    rds_init("127.0.0.1", port, 2000);
    t_redis_cmd(3, del);

    step("two rds contexts, two connections");
    r1 = rds_command_on(patient, 2, id, NULL);
    r2 = rds_command_on(hasty, 2, id, NULL);
    if (r1 && r1->type == REDIS_REPLY_INTEGER)
        id1 = r1->integer;
    if (r2 && r2->type == REDIS_REPLY_INTEGER)
        id2 = r2->integer;
    ok(id1 >= 0 && id2 >= 0 && id1 != id2, "two client ids (%lld, %lld)", id1, id2);
    if (r1)
        freeReplyObject(r1);
    if (r2)
        freeReplyObject(r2);
    is_int(rds_ping(), 0, "and the default context answers beside them");

    step("one pauses writes: the other's write times out, its own reads go on");
    r1 = rds_command_on(patient, 4, pause, NULL);
    ok(r1 != NULL, "the patient one pauses Redis's writes for 1.5 s");
    if (r1)
        freeReplyObject(r1);
    r2 = rds_command_on(hasty, 3, set_late, NULL);
    ok(r2 == NULL, "the hasty one's SET gets no reply within its 300 ms");
    is_int(rds_last_error(hasty), RDS_REPLY_LOST, "its error: the reply was lost (the SET may run)");
    if (r2)
        freeReplyObject(r2);
    r1 = rds_command_on(patient, 2, get_late, NULL);
    ok(r1 && r1->type == REDIS_REPLY_NIL, "during the pause the patient one's GET is answered");
    if (r1)
        freeReplyObject(r1);
    is_int(rds_last_error(patient), RDS_OK, "its last command went well");
    t_sleep_ms(1600);
    is_int(rds_ping_on(hasty), 0, "the hasty one reconnects and answers");
    is_int(rds_last_error(hasty), RDS_OK, "its error is cleared");

    step("each context keeps its own error");
    r1 = rds_command_on(patient, 3, set_text, NULL);
    if (r1)
        freeReplyObject(r1);
    r1 = rds_command_on(patient, 2, incr_text, NULL);
    ok(r1 == NULL, "INCR of a word is refused");
    is_int(rds_last_error(patient), RDS_SERVER_ERROR, "the patient one's error: Redis refused");
    is_int(rds_last_error(hasty), RDS_OK, "the hasty one's is still none");
    ok(rds_ping_on(nowhere) < 0, "a context on a port nobody listens to gets no answer");
    is_int(rds_last_error(nowhere), RDS_UNREACHABLE, "its error: unreachable");
    is_int(rds_last_error(patient), RDS_SERVER_ERROR, "the others' errors are untouched by it");
    ok(rds_ping() == 0 && !rds_reply_lost(), "and the default context answers, nothing lost");

    t_redis_cmd(3, del);
    rds_free(patient);
    rds_free(hasty);
    rds_free(nowhere);
    rds_close();
}

int main(void)
{
    const char *port = getenv("CONCERT_REDIS_PORT");
    const char *conninfo = getenv("CONCERT_PG") ? getenv("CONCERT_PG") : "";

    t_init();
    plan(36);
    db_init(conninfo);
    two_databases(conninfo);
    two_redis(port ? atoi(port) : 6379);
    db_close();
    return done_testing();
}
