/* 33-seatmap-cache: the seat map comes from Redis, and PostgreSQL wins.
 *
 * The story: a show of 24 seats. The first read stores its map in Redis.
 * A hold's seats read HELD to another user right after its 201, a
 * cancellation's AVAILABLE, a payment's SOLD, and a hold that runs out
 * AVAILABLE at once. PostgreSQL is then changed behind the map's back:
 * while the map is pinned fresh, the read still shows the map (it does not
 * ask PostgreSQL); unpinned, PostgreSQL's state is what everyone reads
 * within a second. Then a race on every responder: twelve users each hold a
 * seat and at once read the map (each must see its own seat HELD) while
 * readers read; the map is then PostgreSQL's, seat for seat. They cancel
 * while the map is wiped twice: every read is whole, and within a second
 * the map is PostgreSQL's again. No seat is held twice. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <inttypes.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEATS 24
#define RACERS 12
#define READERS 4

static int64_t schedule_id, concert_id;
static char path[96];
static char *tokens[RACERS + 2];

/* "AHS..." for the seats of the map: one letter a seat, by seatNo; "" on
 * any failure. */
static void map_letters(const char *token, char *out)
{
    struct t_resp r;
    struct json_object *seats;

    out[0] = '\0';
    if (t_get(path, token, &r) < 0 || r.status != 200 || !(seats = t_json_at(r.json, "seats"))) {
        t_resp_free(&r);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(seats) && i < SEATS; i++) {
        const char *st = t_json_str(json_object_array_get_idx(seats, i), "status");
        out[i] = st ? st[0] : '?';
        out[i + 1] = '\0';
    }
    t_resp_free(&r);
}

/* The same letters as the stores say (bk_seat: PostgreSQL's seats, by
 * seat_is_free, and the live holds Redis keeps). */
static void pg_letters(char *out)
{
    for (int i = 0; i < SEATS; i++) {
        char *v = bk_seat(schedule_id, i + 1);

        out[i] = v ? v[0] : '?';
        free(v);
    }
    out[SEATS] = '\0';
}

static void map_command(int argc, const char **argv)
{
    if (t_redis_cmd(argc, argv) < 0)
        diag("redis: %s refused", argv[0]);
}

static int phase;   /* 1: hold, 2: cancel */
static int64_t racer_hold[RACERS];

/* Phase 1: racer i holds seat i+1 and reads the map at once: 1 when its
 * seat reads HELD, 2 when the hold was refused, 0 when the map missed it.
 * Phase 2: racer i cancels its hold: 1 when the seat then reads AVAILABLE
 * or the map was wiped meanwhile (it cannot tell), 2 when it had none.
 * Readers (i >= RACERS) read all along: 1 when every read was whole. */
static int race(int i, void *arg)
{
    (void)arg;
    if (i < RACERS && phase == 1) {
        int seat = i + 1;
        char letters[SEATS + 1];
        struct t_resp r;
        if (bk_hold(tokens[i], schedule_id, &seat, 1, &r) != 201) {
            t_resp_free(&r);
            return 2;
        }
        racer_hold[i] = t_json_int(r.json, "reservationId");
        t_resp_free(&r);
        map_letters(tokens[(i + 1) % RACERS], letters);
        return strlen(letters) == SEATS && letters[i] == 'H';
    }
    if (i < RACERS) {
        char rpath[64];
        struct t_resp r;
        long status;
        if (racer_hold[i] <= 0)
            return 2;
        snprintf(rpath, sizeof rpath, "/api/v1/reservations/%" PRId64, racer_hold[i]);
        t_delete(rpath, tokens[i], &r);
        status = r.status;
        t_resp_free(&r);
        return status == 200;
    }
    for (int k = 0; k < 40; k++) {
        char letters[SEATS + 1];
        map_letters(tokens[i % RACERS], letters);
        if (strlen(letters) != SEATS)
            return 0;
    }
    return 1;
}

int main(void)
{
    char users[RACERS + 2][37], letters[SEATS + 1], want[SEATS + 1], key[80], sid[24];
    const char *p[] = {sid};
    int64_t held;
    int results[RACERS + READERS];

    t_init();
    plan(16);
    concert_id = t_create_concert_or_bail(RACERS + 2, 600, 600, 2, 1, SEATS, 1000, &schedule_id);
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", schedule_id);
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seatmap:%" PRId64, concert_id, schedule_id);
    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    for (int i = 0; i < RACERS + 2; i++) {
        t_user(users[i]);
        tokens[i] = t_active_token(concert_id, users[i]);
        if (!tokens[i])
            bail_out("no ACTIVE token for a user");
    }

    map_letters(tokens[0], letters);
    {
        const char *argv[] = {"HEXISTS", key, "_ok"};
        ok(strcmp(letters, "AAAAAAAAAAAAAAAAAAAAAAAA") == 0 && t_redis_int(3, argv) == 1,
           "the first read stores the map in Redis (%s)", letters);
    }

    /* --- every change tells the map before its answer ------------------- */
    {
        int seats[2] = {3, 4};
        held = bk_hold_id(tokens[0], schedule_id, seats, 2);
        map_letters(tokens[1], letters);
        ok(held > 0 && strncmp(letters, "AAHH", 4) == 0, "right after the 201, another user reads the seats HELD");
    }
    {
        struct t_resp r;
        char rpath[64];
        snprintf(rpath, sizeof rpath, "/api/v1/reservations/%" PRId64, held);
        t_delete(rpath, tokens[0], &r);
        map_letters(tokens[1], letters);
        ok(r.status == 200 && strncmp(letters, "AAAA", 4) == 0, "right after the cancellation they read AVAILABLE");
        t_resp_free(&r);
    }
    {
        int seats[1] = {5};
        held = bk_hold_id(tokens[RACERS], schedule_id, seats, 1);
        bk_charge(users[RACERS], 5000, NULL, NULL);
        ok(bk_pay(tokens[RACERS], held, NULL, NULL) == 201, "a seat is paid for");
        map_letters(tokens[1], letters);
        ok(letters[4] == 'S', "right after the 201 it reads SOLD (%c)", letters[4] ? letters[4] : '-');
    }
    {
        int seats[1] = {6};
        held = bk_hold_id(tokens[RACERS + 1], schedule_id, seats, 1);
        map_letters(tokens[1], letters);
        ok(letters[5] == 'H', "a two-second hold reads HELD");
        t_sleep_ms(3100);
        {
            /* Pinned fresh: this read cannot have asked PostgreSQL. */
            const char *pin[] = {"HSET", key, "_fresh", "99999999999999"};
            map_command(4, pin);
        }
        map_letters(tokens[1], letters);
        ok(letters[5] == 'A', "once it has run out it reads AVAILABLE, from the map alone, no cron run");
    }

    /* --- PostgreSQL changed behind the map's back ------------------------ */
    t_pg_int("UPDATE seats SET status = 'SOLD', reservation_id = 0 WHERE schedule_id = $1::bigint AND seat_no = 24"
             " RETURNING 1", 1, p);
    map_letters(tokens[1], letters);
    ok(letters[23] == 'A', "while the map is pinned fresh, reads come from it (seat 24 still AVAILABLE)");
    {
        const char *unpin[] = {"HSET", key, "_fresh", "0"};
        double t0, waited;
        map_command(4, unpin);
        t0 = t_now_s();
        /* The unpinned map is due at once; a natural one within a second. */
        do {
            map_letters(tokens[1], letters);
            waited = t_now_s() - t0;
        } while (letters[23] != 'S' && waited < 3);
        ok(letters[23] == 'S', "unpinned, PostgreSQL's SOLD is read (after %.0f ms)", waited * 1000);
    }
    t_pg_int("UPDATE seats SET status = 'AVAILABLE', reservation_id = NULL WHERE schedule_id = $1::bigint"
             " AND seat_no = 24 RETURNING 1", 1, p);
    {
        double t0, waited;
        t0 = t_now_s();
        do {
            map_letters(tokens[1], letters);
            waited = t_now_s() - t0;
            t_sleep_ms(20);
        } while (letters[23] != 'A' && waited < 3);
        ok(letters[23] == 'A' && waited < 1.5, "a change PostgreSQL alone knows is read within a second (%.0f ms)",
           waited * 1000);
    }

    /* --- the race on every responder ------------------------------------ */
    {
        int seen = 0, refused = 0, whole = 1;
        phase = 1;
        t_race(RACERS + READERS, race, NULL, results);
        for (int i = 0; i < RACERS; i++) {
            seen += results[i] == 1;
            refused += results[i] == 2;
        }
        for (int i = RACERS; i < RACERS + READERS; i++)
            whole &= results[i] == 1;
        ok(seen + refused == RACERS && refused <= 1,
           "each racer read its own seat HELD right after its 201, whichever responders served them"
           " (%d of %d; %d refused: seat 5 is sold)", seen, RACERS, refused);
        ok(whole, "readers meanwhile always got a whole map");
    }
    pg_letters(want);
    map_letters(tokens[0], letters);
    ok(strlen(want) == SEATS && strcmp(letters, want) == 0, "then the map is PostgreSQL's, seat for seat (%s)",
       letters);

    /* --- the map wiped twice while the holds are cancelled --------------- */
    {
        pid_t wiper;
        int cancelled = 0, whole = 1;
        double t0, waited;
        phase = 2;
        /* The racers' holds, as their lists show them (the racers were
         * processes of their own). */
        for (int i = 0; i < RACERS; i++) {
            char list[640];
            struct t_resp lr;

            snprintf(list, sizeof list, "/api/v1/users/%s/reservations", users[i]);
            racer_hold[i] = 0;
            if (t_get_as(users[i], list, &lr) == 0 && lr.status == 200 &&
                t_json_str(lr.json, "reservations.0.status") &&
                strcmp(t_json_str(lr.json, "reservations.0.status"), "HELD") == 0)
                racer_hold[i] = t_json_int(lr.json, "reservations.0.reservationId");
            t_resp_free(&lr);
        }
        wiper = fork();
        if (wiper == 0) {
            const char *del[] = {"DEL", key};
            t_sleep_ms(20);
            t_redis_cmd(2, del);
            t_sleep_ms(40);
            t_redis_cmd(2, del);
            _exit(0);
        }
        t_race(RACERS + READERS, race, NULL, results);
        waitpid(wiper, NULL, 0);
        for (int i = 0; i < RACERS; i++)
            cancelled += results[i] == 1;
        for (int i = RACERS; i < RACERS + READERS; i++)
            whole &= results[i] == 1;
        ok(whole && cancelled == RACERS - 1, "through two wipes every read was whole (%d holds cancelled)", cancelled);
        /* A load that read PostgreSQL before a cancellation and stored
         * after a wipe erased the map's version is not caught: PostgreSQL
         * wins at the next check, within a second. */
        pg_letters(want);
        t0 = t_now_s();
        do {
            map_letters(tokens[0], letters);
            waited = t_now_s() - t0;
            if (strcmp(letters, want) != 0)
                t_sleep_ms(20);
        } while (strcmp(letters, want) != 0 && waited < 3);
        ok(strlen(want) == SEATS && strcmp(letters, want) == 0 && waited < 1.5,
           "and the map is PostgreSQL's again within a second (%.0f ms; %s)", waited * 1000, letters);
    }
    ok(t_pg_int("SELECT count(*) FROM (SELECT seat_no FROM reservations r, unnest(r.seat_nos) seat_no"
                " WHERE r.schedule_id = $1::bigint AND (r.status = 'CONFIRMED' OR (r.status = 'HELD'"
                " AND NOT hold_ran_out(r.expires_at))) GROUP BY seat_no HAVING count(*) > 1) x", 1, p) == 0,
       "no seat is held or sold twice");
    return done_testing();
}
