/* 05-rand-fork: a process that draws and then forks gives its child draws
 * of its own. rand.c keeps a pool of getrandom words per process; a child
 * made by fork(2) starts with a copy of its parent's pool, so both would
 * shuffle alike (the responders exec fresh, but the cron and tools fork).
 * Parent and child shuffle after the fork; the same order both times says
 * the pool was shared. */
#include "tap.h"
#include "rand.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 64

static const char *names[N];

static int shuffled(char *order, size_t cap)
{
    const char *items[N];
    size_t used = 0;

    memcpy(items, names, sizeof items);
    if (rand_shuffle(items, N) < 0)
        return -1;
    for (int i = 0; i < N && used + 4 < cap; i++)
        used += (size_t)snprintf(order + used, cap - used, "%s,", items[i]);
    return 0;
}

int main(void)
{
    static char storage[N][4];
    char mine[N * 4 + 1], childs[N * 4 + 1] = "";
    int fds[2], status = 0;
    ssize_t got = 0;
    pid_t pid;

    plan(3);
    for (int i = 0; i < N; i++) {
        snprintf(storage[i], sizeof storage[i], "%d", i);
        names[i] = storage[i];
    }
    ok(shuffled(mine, sizeof mine) == 0, "the parent shuffles before it forks (its pool is filled)");
    if (pipe(fds) < 0)
        bail_out("pipe failed");
    pid = fork();
    if (pid < 0)
        bail_out("fork failed");
    if (pid == 0) {
        char order[N * 4 + 1];
        close(fds[0]);
        if (shuffled(order, sizeof order) == 0 && write(fds[1], order, strlen(order)) < 0)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    for (ssize_t n; (n = read(fds[0], childs + got, sizeof childs - 1 - (size_t)got)) > 0;)
        got += n;
    childs[got] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    ok(shuffled(mine, sizeof mine) == 0 && got > 0, "parent and child each shuffle after the fork");
    ok(strcmp(mine, childs) != 0, "in different orders: the child drew from a pool of its own");
    return done_testing();
}
