/* 81-fault-kill: responders killed with SIGKILL under load.
 *
 * 12 clients walk users through the booking journey (faultlib.h) while,
 * every half second, one responder process of a group (reservations,
 * payments, balance, queue, catalog, accounts; both instances) is killed with
 * SIGKILL, and then a whole instance (spawn-fcgi's multiwatch and all its
 * children) is killed and started again as systemd would (./dev _fault
 * responders-start). Each responder serves one request at a time, so a
 * killed process had at most one request in flight: the clients may see at
 * most one error per killed process (nginx's 503 with Retry-After for a POST
 * it must not resend; a GET it sends to the other instance), and none after.
 * multiwatch must bring every killed process back, no POST may take effect
 * twice (charges without an Idempotency-Key would show it in the ledger),
 * and the invariants of faultlib.h must hold. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define CLIENTS 12

#define CHILD_KILLS 12

int main(void)
{
    static const char *const groups[] = {"reservations", "payments", "balance", "queue", "catalog", "accounts"};
    struct f_load L;
    struct f_tally all, after;
    pid_t killed[CHILD_KILLS], parents[CHILD_KILLS];
    int nkilled = 0, children_per = 0, restored = 0;
    long allowed, errors, t_end_faults;
    pid_t inst, inst_children[16];
    int n_inst = 0;

    f_require_stack();
    plan(F_CHECKS + 7);

    if (!ok(f_load_start(&L, "kill", CLIENTS, 1000, 0) == 0, "load of %d clients started", CLIENTS))
        return done_testing();
    t_sleep_ms(1500);

    for (int k = 0; k < CHILD_KILLS; k++) {
        char name[64];
        pid_t mw, kids[16];
        int n;
        snprintf(name, sizeof name, "%s-%d", groups[k % 6], 1 + (k / 6) % 2);
        mw = f_multiwatch(name);
        n = mw > 0 ? f_children(mw, kids, 16) : 0;
        if (n > children_per)
            children_per = n;
        if (n > 0) {
            pid_t victim = kids[(unsigned)k * 7u % (unsigned)n];
            if (kill(victim, SIGKILL) == 0) {
                killed[nkilled] = victim;
                parents[nkilled] = mw;
                nkilled++;
            }
        }
        t_sleep_ms(500);
    }
    diag("killed %d responder processes (SIGKILL), %d per instance before", nkilled, children_per);

    /* A whole instance: multiwatch and its children (their process group). */
    inst = f_multiwatch("reservations-2");
    if (inst > 0) {
        n_inst = f_children(inst, inst_children, 16);
        kill(-inst, SIGKILL);
    }
    t_sleep_ms(1500);
    diag("instance reservations-2 after SIGKILL: %s", f_multiwatch("reservations-2") > 0 ? "still there" : "gone");
    ok(f_dev("responders-start") == 0 && f_multiwatch("reservations-2") > 0,
       "./dev _fault responders-start started it again");
    t_end_faults = f_load_ms(&L);
    t_sleep_ms(2500);
    f_load_stop(&L);

    f_diag_tally(&L, "whole run", 0, 1L << 40);
    f_tally(&L, -1, 0, 1L << 40, &all);
    errors = all.total - all.ok - all.business;
    allowed = nkilled + n_inst;
    ok(errors <= allowed, "clients saw at most one error per killed process: %ld errors, %d processes killed",
       errors, (int)allowed);
    ok(all.unavailable_bad == 0 && all.transport == 0 && all.other == 0 && all.unauth == 0,
       "every error was a JSON 503 with Retry-After (bad 503 %ld, transport %ld, other %ld, 401 %ld)",
       all.unavailable_bad, all.transport, all.other, all.unauth);
    f_tally(&L, -1, t_end_faults + 500, 1L << 40, &after);
    ok(after.total > 0 && after.ok + after.business == after.total,
       "after the faults every request succeeds (%ld of %ld)", after.ok + after.business, after.total);

    /* multiwatch restarts what died: each instance has its processes again,
     * none of them a killed one. */
    for (int i = 0; i < nkilled; i++) {
        pid_t kids[16];
        int n = 0, back = 0;
        if (parents[i] == inst) {   /* its multiwatch was killed with it */
            restored++;
            continue;
        }
        for (int tries = 0; tries < 50; tries++) {
            n = f_children(parents[i], kids, 16);
            back = n == children_per;
            for (int j = 0; j < n; j++)
                if (kids[j] == killed[i])
                    back = 0;
            if (back)
                break;
            t_sleep_ms(100);
        }
        restored += back;
    }
    ok(nkilled > 0 && restored == nkilled, "multiwatch brought back every killed process (%d of %d)",
       restored, nkilled);
    {
        pid_t now = f_multiwatch("reservations-2"), kids[16];
        int n = 0;
        for (int tries = 0; now > 0 && tries < 50 && (n = f_children(now, kids, 16)) < children_per; tries++)
            t_sleep_ms(100);
        ok(inst > 0 && n_inst > 0 && now > 0 && now != inst && n == children_per,
           "the killed instance (%d processes) was started again (pid %d, %d processes)", n_inst, (int)now, n);
    }
    f_check_state(&L, f_tap_report);
    f_load_free(&L);
    return done_testing();
}
