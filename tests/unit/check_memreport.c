/* Tests of the coordinator's metrics: the real coordinator against the fake host running short
 * of memory, its metrics text checked as a strict Prometheus reader would, and its shortfall and
 * migration candidate followed period by period. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_hv.h"
#include "memreport.h"
#include "metrics.h"
#include "runner.h"
#include "suites.h"
#include "testutil.h"

#define MIB     FAKE_MIB
#define NGUESTS 4

static const char *const names[NGUESTS] = {"db \"main\"", "c:\\vm", "two\nlines",
                                           "\xd0\xb3\xd0\xbe\xd1\x81\xd1\x82\xff"};

struct ctx {
    struct coord *c;
    struct coord_config cfg;
    struct metrics *m;
    struct memreport_metrics mm;
    struct shortfall_pick pick;
    bool said, ever_said;  /* the shortfall is being logged / was logged once */
    int periods_short;     /* periods with a shortfall */
    int candidate_changes; /* times the candidate differed from the previous period's */
    unsigned char last[SNAP_UUID_LEN];
    bool have_last;
};

static void follow_candidate(struct ctx *c, const struct coord_report *rep, const struct snap *cur,
                             const struct shortfall *sf)
{
    const unsigned char *u;

    if (sf->shortfall_kib == 0)
        return;
    c->periods_short++;
    ck_assert_int_ge(sf->candidate, 0);
    u = snap_domain(cur, rep->guests[sf->candidate].domain)->uuid;
    if (c->have_last && memcmp(u, c->last, SNAP_UUID_LEN) != 0)
        c->candidate_changes++;
    memcpy(c->last, u, SNAP_UUID_LEN);
    c->have_last = true;
}

static int step(void *arg, struct hv *hv, const struct snap *prev, const struct snap *cur,
                unsigned long calls)
{
    struct ctx *c = arg;
    struct coord_report rep;
    struct shortfall sf;
    char why[512];

    ck_assert_int_eq(coord_period(c->c, hv, prev, cur, calls, &rep), 0);
    shortfall_assess(&c->pick, &c->cfg, &rep, cur, &sf);
    memreport_log_shortfall(&c->said, &rep, cur, &sf);
    c->ever_said |= c->said;
    memreport_count(&c->mm, &rep);
    memreport_write_metrics(c->m, &rep, cur, &sf, &c->mm);
    ck_assert_msg(testutil_valid_exposition(metrics_text(c->m, NULL), why, sizeof(why)), "%s", why);
    follow_candidate(c, &rep, cur, &sf);
    return 0;
}

START_TEST(metrics_of_a_host_short_of_memory)
{
    /* 3 GiB, 0.5 GiB for the host itself; four guests that grow 20 to 35 MiB/s toward 1.8 GiB
     * each: the host runs out, the guests starve, some are OOM-killed, others grow again. */
    struct fake_host *f = fake_create(4, 3072 * MIB, 512 * MIB);
    struct ctx c = {.cfg = {.min_unused_kib = 100 * MIB,
                            .floor_kib = 200 * MIB,
                            .reserve_default = true,
                            .period_s = 1},
                    .m = metrics_create(NULL)};
    struct runner_config rc = {.period_s = 1, .what = COORD_SAMPLE};
    struct runner *r;
    const char *text;

    c.c = coord_create(&c.cfg);
    c.mm.meta = (struct report_meta){"memory_coordinator", 1, false, 0, 0};
    r = runner_create(&rc, fake_hv(f), step, &c);
    for (int d = 0; d < NGUESTS; d++) {
        struct fake_mem_load ml = {.base_kib = 300 * MIB,
                                   .delay_s = 1,
                                   .rate_kib_s = (20.0 + 5 * d) * MIB,
                                   .cap_kib = 1500 * MIB,
                                   .hold_s = -1};
        int id = fake_add_domain(f, names[d], 1);
        fake_set_memory(f, id, 2048 * MIB, 512 * MIB);
        fake_set_mem_load(f, id, &ml);
        fake_set_stats(f, id, true);
    }
    quiet_begin();
    for (int period = 0; period < 60; period++) {
        ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE);
        fake_advance(f, 1);
    }
    quiet_end();
    text = metrics_text(c.m, NULL);
    ck_assert_ptr_nonnull(
            strstr(text, "vmbalance_guest_memory_actual_bytes{domain=\"db \\\"main\\\"\"} "));
    ck_assert_ptr_nonnull(strstr(text, "{domain=\"c:\\\\vm\"} "));
    ck_assert_ptr_nonnull(strstr(text, "{domain=\"two\\nlines\"} "));
    ck_assert_ptr_nonnull(
            strstr(text, "{domain=\"\xd0\xb3\xd0\xbe\xd1\x81\xd1\x82\xef\xbf\xbd\"} "));
    ck_assert_ptr_nonnull(strstr(text, "vmbalance_host_memory_shortfall_bytes "));
    ck_assert_ptr_nonnull(strstr(text, "vmbalance_memory_resizes_total{reason=\"starving\"} "));
    /* The host ran short, the candidate was named, and it did not change every period. */
    ck_assert_int_ge(c.periods_short, 3);
    ck_assert_int_le(c.candidate_changes, 1);
    ck_assert(c.ever_said && !c.said); /* said when it started, and that it ended */
    runner_destroy(r);
    coord_destroy(c.c);
    metrics_destroy(c.m);
    fake_destroy(f);
}
END_TEST

START_TEST(resizes_are_counted_by_reason)
{
    struct coord_guest g[] = {
            {.decision = {.change = true, .reason = MEM_STARVING}, .result = HV_OK},
            {.decision = {.change = true, .reason = MEM_IDLE}, .result = HV_OK},
            {.decision = {.change = false, .reason = MEM_IDLE}, .result = HV_OK},
            {.decision = {.change = true, .reason = MEM_IDLE}, .result = HV_GONE},
            {.decision = {.change = true, .reason = MEM_SHORT}, .result = HV_FAIL}};
    struct coord_report rep = {.nguests = 5, .guests = g, .calls = 3};
    struct memreport_metrics mm = {0};

    memreport_count(&mm, &rep);
    ck_assert_uint_eq(mm.resizes[MEM_STARVING], 1);
    ck_assert_uint_eq(mm.resizes[MEM_IDLE], 1);
    ck_assert_uint_eq(mm.resizes[MEM_SHORT], 0);
    ck_assert_uint_eq(mm.resize_failures, 1);
    ck_assert_uint_eq(mm.meta.calls, 3);
}
END_TEST

Suite *memreport_suite(void)
{
    Suite *s = suite_create("memreport");
    TCase *t = tcase_create("metrics");

    tcase_set_timeout(t, 60);
    tcase_add_test(t, metrics_of_a_host_short_of_memory);
    tcase_add_test(t, resizes_are_counted_by_reason);
    suite_add_tcase(s, t);
    return s;
}
