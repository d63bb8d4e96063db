/* Tests of the periodic driver against the fake host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "scheduler.h"

#include "fake_hv.h"
#include "runner.h"
#include "signals.h"
#include "suites.h"
#include "testutil.h"
#include "util.h"

struct probe {
    int steps, with_prev;
    size_t last_domains;
    int fail_at;
};

static int probe_step(void *ctx, struct hv *hv, const struct snap *prev, const struct snap *cur,
                      unsigned long calls)
{
    struct probe *p = ctx;

    (void)hv;
    (void)calls;
    p->steps++;
    p->with_prev += prev != NULL;
    p->last_domains = snap_domain_count(cur);
    return p->steps == p->fail_at ? -1 : 0;
}

static int soak_sched_step(void *ctx, struct hv *hv, const struct snap *prev,
                           const struct snap *cur, unsigned long calls);
static int soak_coord_step(void *ctx, struct hv *hv, const struct snap *prev,
                           const struct snap *cur, unsigned long calls);

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

START_TEST(keep_running_waits_for_domains)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct runner_config cfg = {.period_s = 1, .what = HV_SAMPLE_CPU, .keep_running = true};
    struct probe p = {0};
    struct runner *r;
    int a;

    r = runner_create(&cfg, fake_hv(f), probe_step, &p);
    quiet_begin();
    ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE); /* none yet: a period all the same */
    ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE);
    quiet_end();
    ck_assert_int_eq(p.steps, 2);
    ck_assert_uint_eq(p.last_domains, 0);
    a = fake_add_domain(f, "a1", 1);
    quiet_begin();
    ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE);
    quiet_end();
    ck_assert_uint_eq(p.last_domains, 1);
    fake_remove_domain(f, a);
    quiet_begin();
    ck_assert_int_eq(runner_tick(r), RUNNER_CONTINUE); /* the last one left: still running */
    quiet_end();
    ck_assert_uint_eq(p.last_domains, 0);
    ck_assert_int_eq(p.steps, 4);
    runner_destroy(r);
    fake_destroy(f);
}
END_TEST

/* Both programs' periods with no domain, then domains that come and go, and none again. */
START_TEST(both_programs_run_periods_without_domains)
{
    struct fake_host *f = fake_create(4, 8ull << 20, 1ull << 20);
    struct sched_config scfg = {.threshold = 0.05};
    struct coord_config ccfg = {.min_unused_kib = 100 * FAKE_MIB,
                                .floor_kib = 200 * FAKE_MIB,
                                .reserve_default = true,
                                .period_s = 1};
    struct sched *sched = sched_create(&scfg);
    struct coord *coord = coord_create(&ccfg);
    struct runner_config cfg = {
            .period_s = 1, .what = HV_SAMPLE_CPU | HV_SAMPLE_MEM, .keep_running = true};
    struct runner *rs = runner_create(&cfg, fake_hv(f), soak_sched_step, sched);
    struct runner *rc = runner_create(&cfg, fake_hv(f), soak_coord_step, coord);
    int doms[3];

    quiet_begin();
    for (int period = 0; period < 30; period++) {
        if (period == 5 || period == 6 || period == 7)
            doms[period - 5] = fake_add_domain(f, period == 6 ? "b" : "a", period - 4);
        if (period >= 15 && period <= 17)
            fake_remove_domain(f, doms[period - 15]);
        ck_assert_int_eq(runner_tick(rs), RUNNER_CONTINUE);
        ck_assert_int_eq(runner_tick(rc), RUNNER_CONTINUE);
        fake_advance(f, 1);
    }
    quiet_end();
    runner_destroy(rs);
    runner_destroy(rc);
    sched_destroy(sched);
    coord_destroy(coord);
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

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_recoverable_leak_check()
#define SANITIZED    1
#else
#define LEAK_CHECK() 0
#define SANITIZED    0
#endif

/* Resident set size of this process, KiB. */
static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * 4;
}

static int soak_sched_step(void *ctx, struct hv *hv, const struct snap *prev,
                           const struct snap *cur, unsigned long calls)
{
    struct sched_report rep;
    return sched_period(ctx, hv, prev, cur, calls, &rep);
}

static int soak_coord_step(void *ctx, struct hv *hv, const struct snap *prev,
                           const struct snap *cur, unsigned long calls)
{
    struct coord_report rep;
    return coord_period(ctx, hv, prev, cur, calls, &rep);
}

/* 10,000 periods of both programs against a host whose domains never stop changing: created,
 * destroyed, paused, hot-plugged, failing calls, lost connections. No leak, flat memory. */
START_TEST(soak_ten_thousand_periods_with_churn)
{
    const int periods = 10000;
    struct fake_host *f = fake_create(8, 64ull << 30, 1ull << 30);
    struct sched_config sc = {.threshold = 0.05, .restore_pins = true};
    struct coord_config cc = {.min_unused_kib = 100 * FAKE_MIB,
                              .floor_kib = 200 * FAKE_MIB,
                              .reserve_default = true,
                              .period_s = 1};
    struct sched *sched = sched_create(&sc);
    struct coord *coord = coord_create(&cc);
    struct runner_config rcpu = {.period_s = 1, .what = HV_SAMPLE_CPU};
    struct runner_config rmem = {.period_s = 1, .what = HV_SAMPLE_MEM};
    struct runner *a = runner_create(&rcpu, fake_hv(f), soak_sched_step, sched);
    struct runner *b = runner_create(&rmem, fake_hv(f), soak_coord_step, coord);
    struct fake_mem_load ml = {.base_kib = 64 * FAKE_MIB,
                               .rate_kib_s = 40 * FAKE_MIB,
                               .cap_kib = 700 * FAKE_MIB,
                               .hold_s = 7,
                               .repeat = true};
    int live[12], nlive = 0;
    unsigned seed = 1;
    long rss_first = 0, rss_last;

    for (int p = 0; p < periods; p++) {
        seed = seed * 1103515245u + 12345u;
        /* Keep about ten domains; every period something changes. */
        if (nlive < 12 && (nlive < 6 || (seed >> 16) % 3 == 0)) {
            int id = fake_add_domain(f, "soak", 1 + (int)((seed >> 8) % 4));
            fake_set_demand(f, id, -1, (double)((seed >> 4) % 100) / 100);
            fake_set_memory(f, id, 2048 * FAKE_MIB, 512 * FAKE_MIB);
            fake_set_mem_load(f, id, &ml);
            fake_pin(f, id, 0, (int)((seed >> 12) % 8));
            live[nlive++] = id;
        } else if (nlive > 0) {
            int k = (int)((seed >> 16) % (unsigned)nlive);
            switch ((seed >> 20) % 4) {
            case 0:
                fake_remove_domain(f, live[k]);
                live[k] = live[--nlive];
                break;
            case 1:
                fake_set_paused(f, live[k], (seed >> 24) % 2);
                break;
            case 2:
                fake_set_nvcpus(f, live[k], 1 + (int)((seed >> 24) % 4));
                break;
            default:
                fake_inject(f, (seed >> 24) % 2 ? FAKE_OP_PIN : FAKE_OP_SETMEM, live[k],
                            (seed >> 25) % 2 ? HV_FAIL : HV_GONE, 1);
            }
        }
        fake_set_down(f, p % 1000 == 500); /* a lost connection now and then */
        fake_advance(f, 1.0);
        ck_assert_int_ne(runner_tick(a), RUNNER_FAIL);
        ck_assert_int_ne(runner_tick(b), RUNNER_FAIL);
        if (p == 1000)
            rss_first = rss_kib();
    }
    sched_restore(sched, fake_hv(f));
    rss_last = rss_kib();
    fprintf(stderr, "soak: %d periods, RSS at period 1000: %ld KiB, at the end: %ld KiB\n", periods,
            rss_first, rss_last);
    runner_destroy(a);
    runner_destroy(b);
    sched_destroy(sched);
    coord_destroy(coord);
    fake_destroy(f);
    ck_assert_int_eq(LEAK_CHECK(), 0);
    /* ASan's quarantine and valgrind keep freed memory: RSS is only meaningful without them. */
    if (!SANITIZED && !(getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "vgpreload")))
        ck_assert_int_le(rss_last - rss_first, 512);
}
END_TEST

/* A step that records when it ran, calls signals_wake() at step WAKE_AT (as a domain that starts
 * during the period would) and stops the run at step STOP_AT. */
struct timed {
    int steps, wake_at, stop_at;
    uint64_t at[8];
};

static int timed_step(void *ctx, struct hv *hv, const struct snap *prev, const struct snap *cur,
                      unsigned long calls)
{
    struct timed *t = ctx;

    (void)hv;
    (void)prev;
    (void)cur;
    (void)calls;
    t->at[t->steps < 8 ? t->steps : 7] = util_now_ns();
    t->steps++;
    if (t->steps == t->wake_at)
        signals_wake();
    if (t->steps == t->stop_at)
        signals_request_stop();
    return 0;
}

/* Runs TIMED over a fake host with NDOMS domains, a period of PERIOD_S, waking early. */
static void run_timed(struct timed *t, int ndoms, double period_s)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct runner_config cfg = {
            .period_s = period_s, .what = HV_SAMPLE_CPU, .keep_running = true, .wake_early = true};
    struct runner *r;

    ck_assert_int_eq(signals_init(), 0);
    for (int i = 0; i < ndoms; i++)
        fake_add_domain(f, "a", 1);
    r = runner_create(&cfg, fake_hv(f), timed_step, t);
    quiet_begin();
    ck_assert_int_eq(runner_run(r), 0);
    quiet_end();
    runner_destroy(r);
    fake_destroy(f);
}

START_TEST(a_wake_samples_at_once_with_no_domain)
{
    struct timed t = {.wake_at = 1, .stop_at = 2};

    run_timed(&t, 0, 30);
    ck_assert_int_eq(t.steps, 2);
    ck_assert_uint_lt(t.at[1] - t.at[0], 1000000000ull); /* not 30 s later */
}
END_TEST

START_TEST(a_wake_samples_half_a_period_after_the_last)
{
    struct timed t = {.wake_at = 2, .stop_at = 4};
    uint64_t early, next;

    run_timed(&t, 1, 1);
    ck_assert_int_eq(t.steps, 4);
    early = t.at[2] - t.at[1];
    next = t.at[3] - t.at[2];
    ck_assert_uint_ge(early, 450000000ull); /* no sooner than half a period */
    ck_assert_uint_lt(early, 900000000ull); /* but before the period's end */
    ck_assert_uint_ge(next, 950000000ull);  /* then whole periods from there */
}
END_TEST

Suite *runner_suite(void)
{
    Suite *s = suite_create("runner");
    TCase *t = tcase_create("periods");
    TCase *soak = tcase_create("soak");

    tcase_set_timeout(soak, 600);
    tcase_add_test(soak, soak_ten_thousand_periods_with_churn);
    suite_add_tcase(s, soak);

    tcase_add_test(t, once_stops_after_first_decision);
    tcase_add_test(t, done_when_no_managed_domain_is_left);
    tcase_add_test(t, reconnects_with_backoff);
    tcase_add_test(t, step_failure_is_a_runtime_failure);
    tcase_add_test(t, keep_running_waits_for_domains);
    tcase_add_test(t, both_programs_run_periods_without_domains);
    suite_add_tcase(s, t);
    /* runner_run() with signals and wake-ups: process state, so only in Check's fork mode. */
    if (!getenv("CK_FORK") || strcmp(getenv("CK_FORK"), "no") != 0) {
        TCase *w = tcase_create("wake");
        tcase_add_test(w, a_wake_samples_at_once_with_no_domain);
        tcase_add_test(w, a_wake_samples_half_a_period_after_the_last);
        suite_add_tcase(s, w);
    }
    return s;
}
