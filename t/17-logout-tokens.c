/* 17-logout-tokens: logging out takes back what the session could spend.
 *
 * The story: a concert lets one user in at a time. Ann is in (ACTIVE) with
 * a token she took with her session, holds two seats and has a balance;
 * Ben waits first in line. Ann logs out. At once:
 *   - her token is 401 for a poll, a hold and a payment (which charges
 *     nothing), and a retried logout is 401;
 *   - her hold is CANCELLED where it is kept and its seats AVAILABLE, on
 *     the seat map and to Ben, who holds one of them right away;
 *   - her slot went to Ben, ACTIVE on his next poll.
 * Cal, who only lets his session run out, keeps his token (a user waiting in
 * a long line polls with the token alone). Dee takes a token while another
 * process logs her session out, again and again: no token given to her
 * outlives her logout. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int64_t concert, sched[1];

static long poll_status(const char *token, struct t_resp *out)
{
    t_get("/api/v1/queue/status", token, out);
    return out->status;
}

static const char *seat_state(const char *token, int seat_no)
{
    static char state[16];
    char path[96];
    struct t_resp r;
    struct json_object *seats;

    snprintf(state, sizeof state, "?");
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", sched[0]);
    if (t_get(path, token, &r) == 0 && r.status == 200 && (seats = t_json_at(r.json, "seats")) &&
        (size_t)seat_no <= json_object_array_length(seats)) {
        const char *s = t_json_str(json_object_array_get_idx(seats, (size_t)seat_no - 1), "status");
        snprintf(state, sizeof state, "%s", s ? s : "?");
    }
    t_resp_free(&r);
    return state;
}

static int64_t pg_int1(const char *sql, const char *p1)
{
    const char *p[] = {p1};
    return t_pg_int(sql, 1, p);
}

/* Dee's race: the child takes tokens with her session while the parent
 * logs it out; the child writes each token it was given to a pipe. */
static int race_round(int fd_out)
{
    char dee[37];
    char session[SESSION_TEXT_LEN + 1];
    pid_t pid;
    int fds[2], status, given = 0, live = 0;
    struct t_resp r;

    t_user(dee);
    snprintf(session, sizeof session, "%s", t_session(dee));
    if (pipe(fds) < 0)
        bail_out("pipe");
    pid = fork();
    if (pid == 0) {
        char body[64];
        close(fds[0]);
        snprintf(body, sizeof body, "{\"concertId\":%" PRId64 "}", concert);
        for (int i = 0; i < 20; i++) {
            struct t_resp c;
            t_post("/api/v1/queue/tokens", session, body, &c);
            if ((c.status == 200 || c.status == 201) && t_json_str(c.json, "token"))
                dprintf(fds[1], "%s\n", t_json_str(c.json, "token"));
            t_resp_free(&c);
        }
        _exit(0);
    }
    close(fds[1]);
    t_sleep_ms(5 + (fd_out % 7));
    t_delete("/api/v1/sessions/current", session, &r);
    t_resp_free(&r);
    waitpid(pid, &status, 0);
    {
        FILE *f = fdopen(fds[0], "r");
        char line[256];
        while (f && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            given++;
            if (poll_status(line, &r) != 401)
                live++;
            t_resp_free(&r);
        }
        if (f)
            fclose(f);
    }
    return live > 0 ? -1 : given;
}

int main(void)
{
    char ann[37], ben[37], cal[37], ann_session[SESSION_TEXT_LEN + 1], path[160], body[96], key[SESSION_KEY_SIZE];
    const char *del[] = {"DEL", key};
    char *ann_token, *ben_token, *cal_token;
    int seats[] = {3, 4}, one[] = {4};
    int64_t reservation, balance;
    struct t_resp r;

    t_init();
    concert = t_create_concert_or_bail(1, 600, 600, 300, 1, 10, 1000, sched);
    t_user(ann);
    t_user(ben);
    t_user(cal);
    snprintf(ann_session, sizeof ann_session, "%s", t_session(ann));
    ann_token = t_active_token(concert, ann);
    ok(ann_token != NULL, "Ann is in (ACTIVE), with a token taken with her session");
    snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", ann);
    t_post_as(ann, path, "{\"amount\":5000}", &r);
    t_resp_free(&r);
    reservation = bk_hold_id(ann_token, sched[0], seats, 2);
    ok(reservation > 0, "Ann holds seats 3 and 4");
    ok(strcmp(seat_state(ann_token, 3), "HELD") == 0, "seat 3 reads HELD");
    ben_token = t_issue_token(concert, ben, &r);
    ok(r.status == 201 && t_json_int(r.json, "position") == 1, "Ben waits first in line (%ld)", r.status);
    t_resp_free(&r);

    /* --- Ann logs out ------------------------------------------------------ */
    t_delete("/api/v1/sessions/current", ann_session, &r);
    ok(r.status == 204, "Ann logs out: 204 (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);

    ok(poll_status(ann_token, &r) == 401 && strcmp(t_error_code(&r), "TOKEN_INVALID") == 0,
       "her token is 401 TOKEN_INVALID for a poll (%ld)", r.status);
    t_resp_free(&r);
    ok(bk_hold(ann_token, sched[0], (int[]){7}, 1, &r) == 401, "and for a hold (%ld)", r.status);
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"reservationId\":%" PRId64 "}", reservation);
    t_post("/api/v1/payments", ann_token, body, &r);
    ok(r.status == 401, "and for a payment of her hold (%ld)", r.status);
    t_resp_free(&r);
    balance = pg_int1("SELECT balance FROM users WHERE id = $1::uuid", ann);
    is_int(balance, 5000, "her balance is untouched");
    t_delete("/api/v1/sessions/current", ann_session, &r);
    ok(r.status == 401, "a second logout with the ended session: 401 (%ld)", r.status);
    t_resp_free(&r);

    /* The hold lives in Redis until it is paid (shared/hold.h): its stored
     * state is read there. */
    bk_is(bk_status(reservation), "CANCELLED", "her hold is CANCELLED where it is kept");
    bk_is(bk_seat(sched[0], 3), "AVAILABLE", "seat 3 is AVAILABLE");
    bk_is(bk_seat(sched[0], 4), "AVAILABLE", "and seat 4");

    ok(poll_status(ben_token, &r) == 200 && t_json_str(r.json, "status") &&
       strcmp(t_json_str(r.json, "status"), "ACTIVE") == 0, "her slot went to Ben: ACTIVE on his next poll");
    t_resp_free(&r);
    ok(strcmp(seat_state(ben_token, 3), "AVAILABLE") == 0 && strcmp(seat_state(ben_token, 4), "AVAILABLE") == 0,
       "Ben's seat map reads seats 3 and 4 AVAILABLE");
    ok(bk_hold(ben_token, sched[0], one, 1, &r) == 201, "and Ben holds seat 4 at once (%ld %s)", r.status,
       r.body ? r.body : "");
    t_resp_free(&r);

    /* --- a session that only runs out ends nothing else --------------------- */
    {
        char cal_session[SESSION_TEXT_LEN + 1];
        snprintf(cal_session, sizeof cal_session, "%s", t_session(cal));
        cal_token = t_issue_token(concert, cal, &r);
        ok(r.status == 201, "Cal takes a token and waits (%ld)", r.status);
        t_resp_free(&r);
        session_key(cal_session, key);
        ok(t_redis_int(2, del) == 1, "Cal's session runs out (its key gone, as at its TTL)");
        ok(poll_status(cal_token, &r) == 200, "Cal's token still polls: 200 (%ld)", r.status);
        t_resp_free(&r);
    }

    /* --- a token taken while the session logs out -------------------------- */
    {
        int rounds = 12, given = 0, failed = 0;
        for (int i = 0; i < rounds; i++) {
            int n = race_round(i);
            if (n < 0)
                failed++;
            else
                given += n;
        }
        ok(failed == 0, "%d rounds of tokens taken while the session logs out: every token given is 401 after"
           " the logout (%d given, %d rounds with a live one)", rounds, given, failed);
    }

    free(ann_token);
    free(ben_token);
    free(cal_token);
    return done_testing();
}
