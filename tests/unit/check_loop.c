/* Tests of signal handling and deadline sleeping. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "suites.h"

START_TEST(deadline_in_the_past_returns_at_once)
{
    ck_assert(loop_sleep_until(loop_now_ns() - 1));
    ck_assert(!loop_stop_requested());
}
END_TEST

START_TEST(short_sleep_reaches_its_deadline)
{
    uint64_t t0 = loop_now_ns(), deadline = t0 + 20 * 1000000ull;

    ck_assert_int_eq(loop_init_signals(), 0);
    ck_assert(loop_sleep_until(deadline));
    ck_assert_uint_ge(loop_now_ns(), deadline);
}
END_TEST

START_TEST(sigterm_interrupts_a_sleep)
{
    ck_assert_int_eq(loop_init_signals(), 0);
    /* Blocked outside the sleep: the signal waits, then ends the sleep at once. */
    kill(getpid(), SIGTERM);
    ck_assert(!loop_sleep_until(loop_now_ns() + 60ull * 1000000000ull));
    ck_assert(loop_stop_requested());
}
END_TEST

START_TEST(sighup_is_ignored)
{
    uint64_t deadline;

    ck_assert_int_eq(loop_init_signals(), 0);
    kill(getpid(), SIGHUP);
    deadline = loop_now_ns() + 10 * 1000000ull;
    ck_assert(loop_sleep_until(deadline));
    ck_assert(!loop_stop_requested());
}
END_TEST

START_TEST(request_stop)
{
    loop_request_stop();
    ck_assert(loop_stop_requested());
    ck_assert(!loop_sleep_until(loop_now_ns() + 1000000000ull));
}
END_TEST

Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
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
    }
    suite_add_tcase(s, t);
    return s;
}
