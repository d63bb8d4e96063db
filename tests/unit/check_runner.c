/* Tests of the periodic driver against the fake host. */
#include <string.h>

#include "fake_hv.h"
#include "runner.h"
#include "suites.h"
#include "testutil.h"

struct probe {
    int steps, with_prev;
    size_t last_domains;
    int fail_at;
};

static int probe_step(void *ctx, struct hv *hv, const struct snapshot *prev,
                      const struct snapshot *cur, unsigned long calls)
{
    struct probe *p = ctx;

    (void)hv;
    (void)calls;
    p->steps++;
    p->with_prev += prev != NULL;
    p->last_domains = snapshot_domain_count(cur);
    return p->steps == p->fail_at ? -1 : 0;
}

static bool named_a(const char *name, void *arg)
{
    (void)arg;
    return name[0] == 'a';
}

START_TEST(once_stops_after_first_decision)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct runner_config cfg = {.period_s = 1, .once = true, .what = HV_SAMPLE_CPU};
    struct probe p = {0};
    struct runner *r;

    fake_add_domain(f, "a1", 1);
    r = runner_create(&cfg, fake_hv(f), probe_step, &p);
    ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE);
    fake_advance(f, 1);
    ck_assert_int_eq(runner_tick(r), RUNNER_DONE);
    ck_assert_int_eq(p.steps, 2);
    ck_assert_int_eq(p.with_prev, 1);
    runner_destroy(r);
    fake_destroy(f);
}
END_TEST

START_TEST(done_when_no_managed_domain_is_left)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct runner_config cfg = {.period_s = 1, .what = HV_SAMPLE_CPU, .filter = named_a};
    struct probe p = {0};
    struct runner *r;
    int a, b;

    a = fake_add_domain(f, "a1", 1);
    b = fake_add_domain(f, "b1", 1);
    r = runner_create(&cfg, fake_hv(f), probe_step, &p);
    ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE);
    ck_assert_uint_eq(p.last_domains, 1);
    fake_remove_domain(f, a);
    ck_assert_int_eq(runner_tick(r), RUNNER_DONE); /* b1 is not managed */
    ck_assert_int_eq(p.steps, 1);
    (void)b;
    runner_destroy(r);
    fake_destroy(f);
}
END_TEST

START_TEST(reconnects_with_backoff)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct runner_config cfg = {.period_s = 10, .what = HV_SAMPLE_CPU};
    struct probe p = {0};
    struct runner *r;
    unsigned long samples;

    fake_add_domain(f, "a1", 1);
    r = runner_create(&cfg, fake_hv(f), probe_step, &p);
    ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE);
    fake_set_down(f, true);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE); /* never exits while down */
    ck_assert(runner_disconnected(r));
    ck_assert_int_eq(p.steps, 1);
    fake_set_down(f, false);
    samples = fake_calls(f, FAKE_OP_SAMPLE);
    /* Backoff is capped at 60 s = 6 periods: back within 6 ticks. */
    for (int i = 0; i < 6 && p.steps == 1; i++)
        runner_tick(r);
    ck_assert(!runner_disconnected(r));
    ck_assert_int_eq(p.steps, 2);
    ck_assert_int_eq(p.with_prev, 1); /* the old sample still serves as the baseline */
    ck_assert_uint_eq(fake_calls(f, FAKE_OP_SAMPLE), samples + 1);
    runner_destroy(r);
    fake_destroy(f);
}
END_TEST

START_TEST(step_failure_is_a_runtime_failure)
{
    struct fake_host *f = fake_create(1, 1 << 20, 0);
    struct runner_config cfg = {.period_s = 1, .what = HV_SAMPLE_MEM};
    struct probe p = {.fail_at = 2};
    struct runner *r;

    fake_add_domain(f, "a", 1);
    r = runner_create(&cfg, fake_hv(f), probe_step, &p);
    ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE);
    ck_assert_int_eq(runner_tick(r), RUNNER_FAIL);
    fake_inject(f, FAKE_OP_SAMPLE, -1, HV_FAIL, 1);
    quiet_begin();
    enum runner_status st = runner_tick(r);
    quiet_end();
    ck_assert_int_eq(st, RUNNER_FAIL);
    runner_destroy(r);
    runner_destroy(NULL);
    fake_destroy(f);
}
END_TEST

Suite *runner_suite(void)
{
    Suite *s = suite_create("runner");
    TCase *t = tcase_create("periods");

    tcase_add_test(t, once_stops_after_first_decision);
    tcase_add_test(t, done_when_no_managed_domain_is_left);
    tcase_add_test(t, reconnects_with_backoff);
    tcase_add_test(t, step_failure_is_a_runtime_failure);
    suite_add_tcase(s, t);
    return s;
}
