/* 23-queue-race: a ticket drop - a thousand users ask for a token at once.
 *
 * The story: one user holds the only active slot of a concert. Then 50
 * processes (the users and their sessions made beforehand, directly in the
 * stores), released together, each issue tokens for 20 new users through
 * the front end. Every one gets 201 WAITING, the positions handed out are
 * exactly 1..1000 with no gap and no duplicate, Redis holds 1000 waiting
 * tokens, and asking again gives each user the same place. Then 20 processes
 * ask for the same new user at once: exactly one 201, the rest 200, all with
 * one token and one place. Finally a concert with activeLimit 10 takes 200
 * users at once: exactly 10 ACTIVE, the rest at 1..190; when three slots
 * free and the first 30 in line all poll at once, exactly the first three
 * are admitted and everyone else moves up by three. */
#include "tap.h"
#include "testlib.h"
#include "queue_token.h"

#include <inttypes.h>
#include <sys/mman.h>

#define PROCS 50
#define PER_PROC 20
#define TOTAL (PROCS * PER_PROC)
#define SAME_PROCS 20
#define LIMIT 10
#define L_PROCS 50
#define L_PER 4
#define L_TOTAL (L_PROCS * L_PER)
#define POLLERS 30

struct shared {
    int64_t concert_id;
    int position[TOTAL];
    long status[TOTAL];
    char user[TOTAL][37];
    char token[TOTAL][QUEUE_TOKEN_MAX + 1];
    long same_status[SAME_PROCS];
    char same_token[SAME_PROCS][QUEUE_TOKEN_MAX + 1];
    int same_position[SAME_PROCS];
    char same_user[37];
    int64_t limited_id;
    char l_user[L_TOTAL][37];
    long l_status[L_TOTAL];
    int l_position[L_TOTAL];      /* 0 when ACTIVE, -1 on failure */
    char l_token[L_TOTAL][QUEUE_TOKEN_MAX + 1];
    int poll_index[POLLERS];      /* who polls: the users at positions 1..30 */
    int poll_position[POLLERS];   /* 0 when ACTIVE after the poll */
};

static struct shared *sh;

static int issue_batch(int proc, void *arg)
{
    (void)arg;
    for (int j = 0; j < PER_PROC; j++) {
        int k = proc * PER_PROC + j;
        struct t_resp r;
        char *tok;
        const char *status;

        tok = t_issue_token(sh->concert_id, sh->user[k], &r);
        status = t_json_str(r.json, "status");
        sh->status[k] = r.status;
        sh->position[k] = status && strcmp(status, "WAITING") == 0 ? (int)t_json_int(r.json, "position") : -1;
        if (tok)
            snprintf(sh->token[k], sizeof sh->token[k], "%s", tok);
        free(tok);
        t_resp_free(&r);
    }
    return 0;
}

static int issue_same(int proc, void *arg)
{
    struct t_resp r;
    char *tok;

    (void)arg;
    tok = t_issue_token(sh->concert_id, sh->same_user, &r);
    sh->same_status[proc] = r.status;
    sh->same_position[proc] = (int)t_json_int(r.json, "position");
    if (tok)
        snprintf(sh->same_token[proc], sizeof sh->same_token[proc], "%s", tok);
    free(tok);
    t_resp_free(&r);
    return 0;
}

static int issue_limited(int proc, void *arg)
{
    (void)arg;
    for (int j = 0; j < L_PER; j++) {
        int k = proc * L_PER + j;
        struct t_resp r;
        char *tok;
        const char *status;

        tok = t_issue_token(sh->limited_id, sh->l_user[k], &r);
        status = t_json_str(r.json, "status");
        sh->l_status[k] = r.status;
        sh->l_position[k] = !status ? -1 : strcmp(status, "ACTIVE") == 0 ? 0 : (int)t_json_int(r.json, "position");
        if (tok)
            snprintf(sh->l_token[k], sizeof sh->l_token[k], "%s", tok);
        free(tok);
        t_resp_free(&r);
    }
    return 0;
}

static int poll_one(int i, void *arg)
{
    struct t_resp r;
    const char *status;

    (void)arg;
    t_get("/api/v1/queue/status", sh->l_token[sh->poll_index[i]], &r);
    status = t_json_str(r.json, "status");
    sh->poll_position[i] = !status ? -1 : strcmp(status, "ACTIVE") == 0 ? 0 : (int)t_json_int(r.json, "position");
    t_resp_free(&r);
    return 0;
}

int main(void)
{
    int results[PROCS];
    char *first, key[64];
    char first_user[37];
    static unsigned char seen[TOTAL + 1];
    int created = 0, dup = 0, missing = 0, bad = 0, mismatched = 0;

    t_init();
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        bail_out("no shared memory");
    memset(sh, 0, sizeof *sh);
    sh->concert_id = t_create_concert_or_bail(1, 600, 600, 300, 1, 10, 1000, NULL);
    first = t_active_user(sh->concert_id, first_user);
    ok(first != NULL, "the first user holds the only active slot");

    /* The users (and their sessions) exist before the race: only the
     * issuing races. */
    for (int k = 0; k < TOTAL; k++)
        t_user(sh->user[k]);
    ok(t_race(PROCS, issue_batch, NULL, results) == 0, "%d processes x %d users issued concurrently", PROCS, PER_PROC);
    for (int k = 0; k < TOTAL; k++) {
        if (sh->status[k] == 201)
            created++;
        if (sh->position[k] < 1 || sh->position[k] > TOTAL)
            bad++;
        else if (seen[sh->position[k]]++)
            dup++;
    }
    for (int p = 1; p <= TOTAL; p++)
        if (!seen[p])
            missing++;
    is_int(created, TOTAL, "every one of the %d got 201", TOTAL);
    is_int(bad, 0, "every one is WAITING with a position in 1..%d", TOTAL);
    is_int(dup, 0, "no position handed out twice");
    is_int(missing, 0, "no position skipped: exactly 1..%d", TOTAL);
    snprintf(key, sizeof key, "{c:%" PRId64 "}:waiting", sh->concert_id);
    {
        const char *zcard[] = {"ZCARD", key};
        is_int(t_redis_int(2, zcard), TOTAL, "Redis holds %d waiting tokens", TOTAL);
    }
    snprintf(key, sizeof key, "{c:%" PRId64 "}:active", sh->concert_id);
    {
        const char *zcard[] = {"ZCARD", key};
        is_int(t_redis_int(2, zcard), 1, "still one active token");
    }

    /* Asking again, in arrival order, gives the same token and place. */
    for (int k = 0; k < TOTAL; k += 37) {
        struct t_resp r;
        char *tok = t_issue_token(sh->concert_id, sh->user[k], &r);
        if (r.status != 200 || !tok || strcmp(tok, sh->token[k]) != 0 ||
            t_json_int(r.json, "position") != sh->position[k])
            mismatched++;
        free(tok);
        t_resp_free(&r);
    }
    is_int(mismatched, 0, "a sample of users asking again keep token and place");

    /* One user, twenty concurrent requests. */
    t_user(sh->same_user);
    ok(t_race(SAME_PROCS, issue_same, NULL, results) == 0, "%d concurrent requests for one user", SAME_PROCS);
    {
        int n201 = 0, n200 = 0, same = 1;
        for (int i = 0; i < SAME_PROCS; i++) {
            if (sh->same_status[i] == 201)
                n201++;
            else if (sh->same_status[i] == 200)
                n200++;
            if (strcmp(sh->same_token[i], sh->same_token[0]) != 0 || sh->same_position[i] != TOTAL + 1)
                same = 0;
        }
        is_int(n201, 1, "exactly one 201");
        is_int(n200, SAME_PROCS - 1, "the rest 200");
        ok(same && sh->same_token[0][0], "one token, one place (%d), for all of them", TOTAL + 1);
    }

    /* --- activeLimit 10 under a crowd -------------------------------------- */
    sh->limited_id = t_create_concert(LIMIT, 600, 600, 300, 1, 10, 1000, NULL);
    ok(sh->limited_id > 0, "a concert with activeLimit %d", LIMIT);
    for (int k = 0; k < L_TOTAL; k++)
        t_user(sh->l_user[k]);
    ok(t_race(L_PROCS, issue_limited, NULL, results) == 0, "%d users issued concurrently", L_TOTAL);
    {
        int active = 0, failed = 0, gaps = 0, k;
        static unsigned char at[L_TOTAL + 1];
        int by_position[L_TOTAL + 1];
        char key2[64];
        const char *zcard[] = {"ZCARD", key2};

        for (k = 0; k < L_TOTAL; k++) {
            if (sh->l_status[k] != 201 || sh->l_position[k] < 0 || sh->l_position[k] > L_TOTAL - LIMIT)
                failed++;
            else if (sh->l_position[k] == 0)
                active++;
            else if (at[sh->l_position[k]]++ == 0)
                by_position[sh->l_position[k]] = k;
        }
        for (int p = 1; p <= L_TOTAL - LIMIT; p++)
            if (at[p] != 1)
                gaps++;
        is_int(failed, 0, "all 201, each ACTIVE or at a position");
        is_int(active, LIMIT, "exactly activeLimit (%d) ACTIVE", LIMIT);
        is_int(gaps, 0, "the others hold positions 1..%d, each once", L_TOTAL - LIMIT);
        snprintf(key2, sizeof key2, "{c:%" PRId64 "}:active", sh->limited_id);
        is_int(t_redis_int(2, zcard), LIMIT, "Redis agrees: %d active tokens", LIMIT);

        /* Three active users finish (their slots removed in Redis). */
        {
            int freed = 0;
            for (k = 0; k < L_TOTAL && freed < 3; k++) {
                if (sh->l_position[k] == 0 && !failed) {
                    const char *zrem[] = {"ZREM", key2, t_token_id(sh->l_token[k])};
                    freed += t_redis_int(3, zrem) == 1;
                }
            }
            is_int(freed, 3, "three active slots freed");
        }
        if (failed || gaps) {
            ok(0, "positions were wrong; the admission race cannot be checked");
            free(first);
            return done_testing();
        }
        for (int i = 0; i < POLLERS; i++)
            sh->poll_index[i] = by_position[i + 1];
        ok(t_race(POLLERS, poll_one, NULL, results) == 0, "the first %d in line poll at once", POLLERS);
        {
            int right = 1;
            for (int i = 0; i < POLLERS; i++) {
                int want = i < 3 ? 0 : i + 1 - 3;
                if (sh->poll_position[i] != want) {
                    diag("position %d polled: got %d, expected %d", i + 1, sh->poll_position[i], want);
                    right = 0;
                }
            }
            ok(right, "exactly positions 1-3 became ACTIVE; 4..%d moved up to 1..%d", POLLERS, POLLERS - 3);
        }
        is_int(t_redis_int(2, zcard), LIMIT, "still exactly %d active tokens", LIMIT);
    }
    free(first);
    return done_testing();
}
