/* 16-request-log: every request leaves one JSON line in its responder
 * group's request log, and the client and the log share its id.
 *
 * A request that sends X-Request-Id gets the same id back, and the line
 * with that id names the group, the method, the path without its query,
 * the status and a duration. One that sends none, or one unfit to log
 * (a space, 200 characters), gets a new id, made by nginx (or by the
 * responder behind Apache), and the unfit one is written nowhere. Requests
 * about a concert carry its id in the line: a token issued for it, a poll
 * with its token. What the client sends in secret never reaches any log:
 * not the password of a sign-up or login, not the session login answers
 * with, not the queue token, not a query string. */
#include "tap.h"
#include "testlib.h"
#include "11-accounts.h"

#include <inttypes.h>
#include <unistd.h>

/* The request-log line with this id, parsed (NULL when none within two
 * seconds: the responder writes it just after answering). */
static struct json_object *log_line(const char *request_id)
{
    char needle[256], dir[1024];
    const char *var = getenv("CONCERT_VAR");

    snprintf(needle, sizeof needle, "\"requestId\":\"%s\"", request_id);
    snprintf(dir, sizeof dir, "%s/log", var ? var : ".");
    for (int attempt = 0; attempt < 40; attempt++) {
        DIR *d = opendir(dir);
        struct dirent *e;

        while (d && (e = readdir(d))) {
            char path[2048], line[8192];
            FILE *f;
            size_t n = strlen(e->d_name);

            if (n < 13 || strcmp(e->d_name + n - 13, ".requests.log") != 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            f = fopen(path, "r");
            while (f && fgets(line, sizeof line, f)) {
                if (strstr(line, needle)) {
                    fclose(f);
                    closedir(d);
                    return json_tokener_parse(line);
                }
            }
            if (f)
                fclose(f);
        }
        if (d)
            closedir(d);
        usleep(50000);
    }
    return NULL;
}

static int same_text(const char *got, const char *want)
{
    return got && strcmp(got, want) == 0;
}

static int is_hex32(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 32;
}

static int logged_nowhere(const char *secret, const char *what)
{
    char dir[1024], found[2048] = "";

    snprintf(dir, sizeof dir, "%s/log", getenv("CONCERT_VAR") ? getenv("CONCERT_VAR") : ".");
    t_grep_logs(dir, secret, found, sizeof found);
    return ok(found[0] == '\0', "%s is in no log%s", what, found);
}

int main(void)
{
    char id[64], hex[17], user[37], email[128], password[] = "a long enough password 16";
    struct t_resp r;
    struct json_object *line;
    int64_t concert, sched[1];

    t_init();
    plan(17);

    /* An id of the client's own comes back and names the line. */
    ac_random_hex(hex, 8);
    snprintf(id, sizeof id, "t16-%s", hex);
    {
        char header[128];
        const char *headers[] = {header, NULL};
        snprintf(header, sizeof header, "X-Request-Id: %s", id);
        t_request("GET", "/healthz?probe=1", headers, NULL, &r);
    }
    ok(same_text(r.request_id, id), "the client's X-Request-Id comes back with the answer (%s)", r.request_id);
    t_resp_free(&r);
    line = log_line(id);
    ok(line != NULL, "and names one line of the request log");
    ok(line && strcmp(t_json_str(line, "group") ? t_json_str(line, "group") : "", "admin") == 0 &&
           strcmp(t_json_str(line, "method") ? t_json_str(line, "method") : "", "GET") == 0 &&
           t_json_int(line, "status") == 200,
       "the line has the group, the method and the status (admin, GET, 200)");
    ok(same_text(line ? t_json_str(line, "path") : NULL, "/healthz"), "the path, without its query");
    ok(line && t_json_str(line, "time") && strlen(t_json_str(line, "time")) == 20,
       "an RFC 3339 time (%s)", line && t_json_str(line, "time") ? t_json_str(line, "time") : "none");
    {
        struct json_object *d = NULL;
        ok(line && json_object_object_get_ex(line, "durationMs", &d) && json_object_get_double(d) >= 0 &&
               !json_object_object_get_ex(line, "concertId", NULL),
           "a duration in milliseconds, and no concert for a request about none");
    }
    json_object_put(line);

    /* None sent: a new one. Unfit: a new one, and the unfit one unlogged. */
    t_request("GET", "/healthz", NULL, NULL, &r);
    ok(is_hex32(r.request_id) && (line = log_line(r.request_id)) != NULL,
       "without X-Request-Id the answer has a new id (%s), in the log too", r.request_id);
    json_object_put(line);
    t_resp_free(&r);
    {
        char header[300], unfit[220];
        const char *headers[] = {header, NULL};

        ac_random_hex(hex, 8);
        snprintf(unfit, sizeof unfit, "t16 unfit %s", hex);
        snprintf(header, sizeof header, "X-Request-Id: %s", unfit);
        t_request("GET", "/healthz", headers, NULL, &r);
        ok(is_hex32(r.request_id), "an id with a space is replaced by a new one (%s)", r.request_id);
        t_resp_free(&r);
        logged_nowhere(unfit, "the replaced id");
        memset(unfit, 'a', 200);
        unfit[200] = '\0';
        snprintf(header, sizeof header, "X-Request-Id: %s", unfit);
        t_request("GET", "/healthz", headers, NULL, &r);
        ok(is_hex32(r.request_id), "so is one of 200 characters");
        t_resp_free(&r);
    }

    /* Requests about a concert name it. */
    concert = t_create_concert(10, 600, 600, 300, 1, 5, 1000, sched);
    t_user(user);
    {
        char *token = t_issue_token(concert, user, &r);
        struct json_object *issued = log_line(r.request_id);

        ok(r.status == 201 && issued && t_json_int(issued, "concertId") == concert &&
               strcmp(t_json_str(issued, "group") ? t_json_str(issued, "group") : "", "queue") == 0,
           "a token issued for concert %" PRId64 " is logged with it (queue, %ld)", concert, r.status);
        json_object_put(issued);
        t_resp_free(&r);
        t_get("/api/v1/queue/status?token=leak", token, &r);
        line = log_line(r.request_id);
        ok(line && t_json_int(line, "concertId") == concert && t_json_int(line, "status") == 200 &&
               strcmp(t_json_str(line, "path") ? t_json_str(line, "path") : "", "/api/v1/queue/status") == 0,
           "a poll with its token too, without the query");
        json_object_put(line);
        t_resp_free(&r);
        logged_nowhere(token, "the queue token");
        free(token);
    }

    /* Secrets stay out. */
    ac_email("t16", email);
    free(ac_account(email, password));
    {
        char *session = ac_session(email, password);
        ok(session != NULL, "signed up and logged in");
        logged_nowhere(password, "the password");
        if (session)
            logged_nowhere(session, "the session");
        else
            ok(0, "the session is in no log (no session)");
        free(session);
    }
    logged_nowhere(t_admin_key(), "the admin key");
    return done_testing();
}
