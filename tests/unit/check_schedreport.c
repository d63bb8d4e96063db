/* Tests of the scheduler's metrics: the real scheduler against the fake host, its metrics text
 * checked as a strict Prometheus reader would, with domain names no one should choose. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_hv.h"
#include "metrics.h"
#include "runner.h"
#include "schedreport.h"
#include "suites.h"
#include "testutil.h"

/* Names are user input: quotes, backslashes, newlines, UTF-8 and bytes that are not UTF-8. */
static const char *const names[] = {"web\"1", "back\\slash", "new\nline",
                                    "\xe6\x97\xa5\xe6\x9c\xac", "bad\xff"};
static const char *const escaped[] = {"web\\\"1", "back\\\\slash", "new\\nline",
                                      "\xe6\x97\xa5\xe6\x9c\xac", "bad\xef\xbf\xbd"};

struct ctx {
    struct sched *s;
    struct metrics *m;
    struct schedreport_metrics sm;
    size_t moves;
};

static int step(void *arg, struct hv *hv, const struct snap *prev, const struct snap *cur,
                unsigned long calls)
{
    struct ctx *c = arg;
    struct sched_report rep;
    char why[512];

    ck_assert_int_eq(sched_period(c->s, hv, prev, cur, calls, &rep), 0);
    c->moves += rep.nmoves;
    schedreport_count(&c->sm, &rep);
    schedreport_write_metrics(c->m, &rep, cur, &c->sm);
    ck_assert_msg(testutil_valid_exposition(metrics_text(c->m, NULL), why, sizeof(why)), "%s", why);
    return 0;
}

START_TEST(metrics_of_a_crowded_host)
{
    struct fake_host *f = fake_create(4, 64ull << 20, 0);
    struct sched_config cfg = {.threshold = 0.05};
    struct runner_config rc = {.period_s = 1, .what = HV_SAMPLE_CPU};
    struct ctx c = {.s = sched_create(&cfg), .m = metrics_create(NULL)};
    struct runner *r = runner_create(&rc, fake_hv(f), step, &c);
    const char *text;
    char want[128];

    c.sm.meta = (struct report_meta){"vcpu_scheduler", 1, false, 0, 0};
    c.sm.threshold = 0.05;
    for (int d = 0; d < 5; d++) {
        int id = fake_add_domain(f, names[d], 1);
        fake_set_demand(f, id, 0, 1.0);
        fake_pin(f, id, 0, 0); /* everyone on pCPU 0 */
    }
    quiet_begin();
    for (int period = 0; period < 6; period++) {
        ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE);
        fake_advance(f, 1);
    }
    quiet_end();
    text = metrics_text(c.m, NULL);
    for (int d = 0; d < 5; d++) {
        snprintf(want, sizeof(want), "vmbalance_vcpu_pin{domain=\"%s\",vcpu=\"0\"} ", escaped[d]);
        ck_assert_msg(strstr(text, want), "no '%s' in:\n%s", want, text);
    }
    ck_assert_ptr_nonnull(strstr(text, "vmbalance_pcpu_usage_ratio{pcpu=\"3\"} "));
    ck_assert_ptr_nonnull(strstr(text, "vmbalance_periods_total{program=\"vcpu_scheduler\"} 6\n"));
    ck_assert_uint_gt(c.moves, 0);
    snprintf(want, sizeof(want), "vmbalance_vcpu_pin_changes_total{reason=\"balance\"} %zu\n",
             c.moves);
    ck_assert_msg(strstr(text, want), "no '%s' in:\n%s", want, text);
    ck_assert_ptr_nonnull(strstr(text, "vmbalance_vcpu_pin_failures_total 0\n"));
    runner_destroy(r);
    sched_destroy(c.s);
    metrics_destroy(c.m);
    fake_destroy(f);
}
END_TEST

START_TEST(pin_changes_are_counted_by_reason)
{
    struct sched_move moves[] = {{.from = 0, .to = 1, .result = HV_OK},
                                 {.from = -1, .to = 2, .result = HV_OK},
                                 {.from = 1, .to = 2, .result = HV_GONE},
                                 {.from = 1, .to = 3, .result = HV_FAIL}};
    struct sched_report rep = {.nmoves = 4, .moves = moves, .calls = 7};
    struct schedreport_metrics sm = {0};

    schedreport_count(&sm, &rep);
    schedreport_count(&sm, &rep);
    ck_assert_uint_eq(sm.pins[SCHEDREPORT_PIN_BALANCE], 2);
    ck_assert_uint_eq(sm.pins[SCHEDREPORT_PIN_FLOATING], 2);
    ck_assert_uint_eq(sm.pin_failures, 2); /* a domain gone is no failure */
    ck_assert_uint_eq(sm.meta.periods, 2);
    ck_assert_uint_eq(sm.meta.calls, 14);
}
END_TEST

Suite *schedreport_suite(void)
{
    Suite *s = suite_create("schedreport");
    TCase *t = tcase_create("metrics");

    tcase_add_test(t, metrics_of_a_crowded_host);
    tcase_add_test(t, pin_changes_are_counted_by_reason);
    suite_add_tcase(s, t);
    return s;
}
