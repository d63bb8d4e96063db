/* Tests of signal handling and deadline sleeping. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "signals.h"
#include "suites.h"
#include "util.h"

START_TEST(deadline_in_the_past_returns_at_once)
{
    ck_assert(signals_sleep_until(util_now_ns() - 1));
    ck_assert(!signals_stop_requested());
}
END_TEST

START_TEST(short_sleep_reaches_its_deadline)
{
    uint64_t t0 = util_now_ns(), deadline = t0 + 20 * 1000000ull;

    ck_assert_int_eq(signals_init(), 0);
    ck_assert(signals_sleep_until(deadline));
    ck_assert_uint_ge(util_now_ns(), deadline);
}
END_TEST

START_TEST(sigterm_interrupts_a_sleep)
{
    ck_assert_int_eq(signals_init(), 0);
    /* Blocked outside the sleep: the signal waits, then ends the sleep at once. */
    kill(getpid(), SIGTERM);
    ck_assert(!signals_sleep_until(util_now_ns() + 60ull * 1000000000ull));
    ck_assert(signals_stop_requested());
}
END_TEST

START_TEST(sighup_is_ignored)
{
    uint64_t deadline;

    ck_assert_int_eq(signals_init(), 0);
    kill(getpid(), SIGHUP);
    deadline = util_now_ns() + 10 * 1000000ull;
    ck_assert(signals_sleep_until(deadline));
    ck_assert(!signals_stop_requested());
}
END_TEST

START_TEST(request_stop)
{
    signals_request_stop();
    ck_assert(signals_stop_requested());
    ck_assert(!signals_sleep_until(util_now_ns() + 1000000000ull));
}
END_TEST

START_TEST(a_wake_ends_the_sleep_that_waits_for_it)
{
    uint64_t t0;

    ck_assert_int_eq(signals_init(), 0);
    signals_wake();
    signals_wake(); /* wake-ups before a sleep count as one */
    t0 = util_now_ns();
    ck_assert_int_eq(signals_sleep_or_wake(t0 + 60ull * 1000000000ull), SIGNALS_WOKEN);
    ck_assert_uint_lt(util_now_ns() - t0, 1000000000ull);
    ck_assert_int_eq(signals_sleep_or_wake(util_now_ns() + 20 * 1000000ull), SIGNALS_DEADLINE);
}
END_TEST

START_TEST(a_plain_sleep_leaves_the_wake_pending)
{
    ck_assert_int_eq(signals_init(), 0);
    signals_wake();
    ck_assert(signals_sleep_until(util_now_ns() + 20 * 1000000ull));
    ck_assert_int_eq(signals_sleep_or_wake(util_now_ns() + 60ull * 1000000000ull), SIGNALS_WOKEN);
}
END_TEST

static void *wake_later(void *arg)
{
    (void)arg;
    usleep(50000);
    signals_wake();
    return NULL;
}

START_TEST(another_thread_wakes_the_sleep)
{
    pthread_t t;
    uint64_t t0;

    ck_assert_int_eq(signals_init(), 0);
    ck_assert_int_eq(signals_thread_create(&t, wake_later, NULL), 0);
    t0 = util_now_ns();
    ck_assert_int_eq(signals_sleep_or_wake(t0 + 60ull * 1000000000ull), SIGNALS_WOKEN);
    ck_assert_uint_lt(util_now_ns() - t0, 5000000000ull);
    pthread_join(t, NULL);
    kill(getpid(), SIGTERM); /* and a stop still ends it */
    ck_assert_int_eq(signals_sleep_or_wake(util_now_ns() + 60ull * 1000000000ull), SIGNALS_STOPPED);
}
END_TEST

static void *report_mask(void *arg)
{
    sigset_t *mask = arg;

    pthread_sigmask(SIG_BLOCK, NULL, mask);
    return NULL;
}

START_TEST(threads_take_no_signal)
{
    sigset_t in_thread, before, after;
    pthread_t t;

    pthread_sigmask(SIG_BLOCK, NULL, &before);
    sigemptyset(&in_thread);
    ck_assert_int_eq(signals_thread_create(&t, report_mask, &in_thread), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(sigismember(&in_thread, SIGINT), 1);
    ck_assert_int_eq(sigismember(&in_thread, SIGTERM), 1);
    ck_assert_int_eq(sigismember(&in_thread, SIGUSR1), 1);
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    ck_assert_int_eq(sigismember(&after, SIGUSR1), sigismember(&before, SIGUSR1));
}
END_TEST

/* In a child: a stop signal pending (or not) for TICKS watchdog ticks; when BEFORE > 0, first
 * BEFORE ticks with one pending, then a sleep that takes it and a tick with none. Returns the
 * child's exit status (7 when it outlived the ticks) and its stderr in ERR. */
static int run_watchdog(bool stop, int before, int ticks, char *err, size_t errlen)
{
    int fd[2], status = -1;
    ssize_t n, got = 0;
    pid_t pid;

    ck_assert_int_eq(pipe(fd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], STDERR_FILENO);
        log_set_program("check_signals");
        if (signals_init() < 0)
            _exit(3);
        for (int i = 0; i < before; i++) {
            kill(getpid(), SIGTERM);
            signals_watchdog_tick();
        }
        if (before > 0) {
            if (signals_sleep_until(util_now_ns() + 1000000000ull)) /* takes the signal */
                _exit(4);
            signals_watchdog_tick(); /* nothing pending */
        }
        if (stop)
            kill(getpid(), SIGTERM);
        for (int i = 0; i < ticks; i++)
            signals_watchdog_tick();
        _exit(7);
    }
    close(fd[1]);
    while (got + 1 < (ssize_t)errlen && (n = read(fd[0], err + got, errlen - 1 - (size_t)got)) > 0)
        got += n;
    err[got] = '\0';
    close(fd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(watchdog_ends_a_stop_pending_five_seconds)
{
    char err[256];

    ck_assert_int_eq(run_watchdog(true, 0, 5, err, sizeof(err)), 0);
    ck_assert_str_eq(err, "check_signals: warning: stop requested but the hypervisor has not "
                          "answered for 5 s; exiting without waiting for it\n");
}
END_TEST

START_TEST(watchdog_waits_out_the_grace)
{
    char err[256];

    ck_assert_int_eq(run_watchdog(true, 0, 4, err, sizeof(err)), 7);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(run_watchdog(false, 0, 10, err, sizeof(err)), 7);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(watchdog_counts_again_after_a_stop_is_taken)
{
    char err[256];

    /* Four ticks pending, taken by a sleep, a tick without, then four more: never five in a row. */
    ck_assert_int_eq(run_watchdog(true, 4, 4, err, sizeof(err)), 7);
    ck_assert_str_eq(err, "");
}
END_TEST

Suite *signals_suite(void)
{
    Suite *s = suite_create("signals");
    TCase *t = tcase_create("signals");

    /* Each test runs in its own process (Check's fork mode) so signal state does not leak;
     * without fork mode they would interfere, so they are skipped there. */
    const char *fork_env = getenv("CK_FORK");

    if (!fork_env || strcmp(fork_env, "no") != 0) {
        tcase_add_test(t, deadline_in_the_past_returns_at_once);
        tcase_add_test(t, short_sleep_reaches_its_deadline);
        tcase_add_test(t, sigterm_interrupts_a_sleep);
        tcase_add_test(t, sighup_is_ignored);
        tcase_add_test(t, request_stop);
        tcase_add_test(t, a_wake_ends_the_sleep_that_waits_for_it);
        tcase_add_test(t, a_plain_sleep_leaves_the_wake_pending);
        tcase_add_test(t, another_thread_wakes_the_sleep);
    }
    suite_add_tcase(s, t);
    /* These run the watchdog in a child of their own: safe in either mode. */
    t = tcase_create("watchdog");
    tcase_add_test(t, threads_take_no_signal);
    tcase_add_test(t, watchdog_ends_a_stop_pending_five_seconds);
    tcase_add_test(t, watchdog_waits_out_the_grace);
    tcase_add_test(t, watchdog_counts_again_after_a_stop_is_taken);
    suite_add_tcase(s, t);
    return s;
}
