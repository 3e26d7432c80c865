/* 23-queue-race: a ticket drop - a thousand users ask for a token at once.
 *
 * The story: one user holds the only active slot of a concert. Then 50
 * processes, released together, each issue tokens for 20 new users through
 * the front end. Every one gets 201 WAITING, the positions handed out are
 * exactly 1..1000 with no gap and no duplicate, Redis holds 1000 waiting
 * tokens, and asking again gives each user the same place. Then 20 processes
 * ask for the same new user at once: exactly one 201, the rest 200, all with
 * one token and one place. */
#include "tap.h"
#include "testlib.h"

#include <inttypes.h>
#include <sys/mman.h>

#define PROCS 50
#define PER_PROC 20
#define TOTAL (PROCS * PER_PROC)
#define SAME_PROCS 20

struct shared {
    int64_t concert_id;
    int position[TOTAL];
    long status[TOTAL];
    char user[TOTAL][37];
    char token[TOTAL][65];
    long same_status[SAME_PROCS];
    char same_token[SAME_PROCS][65];
    int same_position[SAME_PROCS];
    char same_user[37];
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

        t_uuid(sh->user[k]);
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
        skip_all("no shared memory");
    memset(sh, 0, sizeof *sh);
    sh->concert_id = t_create_concert(1, 600, 600, 300, 1, 10, 1000, NULL);
    if (sh->concert_id < 0)
        skip_all("cannot create a concert through the admin API");
    t_uuid(first_user);
    first = t_active_token(sh->concert_id, first_user);
    ok(first != NULL, "the first user holds the only active slot");

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
    t_uuid(sh->same_user);
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
    free(first);
    return done_testing();
}
