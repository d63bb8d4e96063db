/* Recorded hosts: the trace reader (tests/trace.c) on the traces kept in tests/traces/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "coordinator.h"
#include "fake_hv.h"
#include "suites.h"
#include "testutil.h"
#include "trace.h"
#include "util.h"

#define TRACES "tests/traces/"
#define MIB    FAKE_MIB

static struct trace *load(const char *name)
{
    char path[256], why[512];
    struct trace *t;

    snprintf(path, sizeof(path), TRACES "%s", name);
    t = trace_load(path, why, sizeof(why));
    ck_assert_msg(t != NULL, "%s", why);
    return t;
}

/* The names in the space-separated LIST, for membership tests. */
static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* What one open-loop replay of the coordinator decided. */
struct mem_replay {
    unsigned periods;
    unsigned grows_of_idle; /* targets above the balloon size set for a guest in IDLE as
                               starving (not as deflated or squeezed: a replay cannot tell its
                               recorded tool's grows from a balloon that deflated itself) */
    unsigned shrinks;
    unsigned starving_idle; /* periods an idle guest was judged starving */
    char first_grow[256];   /* the first grow of an idle guest, for the failure message */
};

/* Replays the coordinator at PERIOD_S seconds, its first sample OFFSET_S after the trace's
 * start, over the trace T; IDLE lists the guests that ran nothing. */
static void replay_coordinator(const struct trace *t, double period_s, double offset_s,
                               const char *idle, struct mem_replay *out)
{
    struct coord_config cfg = {.min_unused_kib = 100 * UTIL_MIB,
                               .floor_kib = 200 * UTIL_MIB,
                               .reserve_default = true,
                               .period_s = period_s};
    struct coord *c = coord_create(&cfg);
    double clock = trace_start(t) + offset_s;
    struct hv *hv = trace_hv(t, &clock);
    struct snap *prev = snap_create(), *cur = snap_create(), *tmp;

    ck_assert(c && hv && prev && cur);
    memset(out, 0, sizeof(*out));
    for (bool first = true; clock <= trace_end(t); clock += period_s, first = false) {
        struct coord_report rep;
        unsigned long calls = hv_calls(hv);
        ck_assert_int_eq(hv_sample(hv, cur, HV_SAMPLE_MEM, NULL, NULL), HV_OK);
        quiet_begin();
        ck_assert_int_eq(coord_period(c, hv, first ? NULL : prev, cur, calls, &rep), 0);
        quiet_end();
        out->periods++;
        for (size_t i = 0; i < rep.nguests; i++) {
            const struct coord_guest *g = &rep.guests[i];
            const struct mem_decision *d = &g->decision;
            const char *name = snap_domain_name(cur, snap_domain(cur, g->domain));
            bool is_idle = listed(idle, name);
            if (is_idle && (d->reason == MEM_STARVING || d->reason == MEM_STARVING_SHORT))
                out->starving_idle++;
            if (!d->change)
                continue;
            if (d->target_kib < g->view->actual_kib)
                out->shrinks++;
            else if (is_idle && (d->reason == MEM_STARVING || d->reason == MEM_STARVING_SHORT) &&
                     out->grows_of_idle++ == 0)
                snprintf(out->first_grow, sizeof(out->first_grow),
                         "at %.1f s: %s %.0f -> %.0f MiB (%s, %.0f MiB headroom, %+.1f MiB/s)",
                         clock, name, (double)g->view->actual_kib / 1024,
                         (double)d->target_kib / 1024, mem_reason_name(d->reason),
                         (double)g->view->headroom_kib / 1024, g->view->rate_kib_s / 1024);
        }
        tmp = prev;
        prev = cur;
        cur = tmp;
    }
    snap_destroy(prev);
    snap_destroy(cur);
    hv_destroy(hv);
    coord_destroy(c);
}

START_TEST(reads_a_trace)
{
    struct trace *t = load("mem-one-grows.trace.gz");
    long d = trace_dom_find(t, "vmlab-1");
    struct snap *s = snap_create();
    uint64_t v = 0;

    ck_assert_int_gt(trace_ncpus(t), 0);
    ck_assert_int_ge(d, 0);
    ck_assert_int_gt(trace_nsamples(t, (size_t)d), 100);
    ck_assert(trace_u64(t, (size_t)d, 0, "balloon.maximum", &v));
    ck_assert_uint_eq(v, 2048 * 1024);
    ck_assert_int_eq(trace_snap(t, trace_start(t) + 10, HV_SAMPLE_MEM | HV_SAMPLE_CPU, s), 0);
    ck_assert_uint_eq(snap_domain_count(s), 4);
    ck_assert(snap_domain(s, 0)->mem.flags & SNAP_MEM_USABLE);
    ck_assert_uint_eq(snap_domain(s, 0)->mem.max_kib, 2048 * 1024);
    snap_destroy(s);
    trace_free(t);
}
END_TEST

START_TEST(rejects_what_is_not_a_trace)
{
    char why[256];
    const char *path = "build/not-a-trace.txt";
    FILE *f = fopen(path, "w");

    ck_assert(f != NULL);
    fputs("C ncpus=2\nD 1.0\nQ what\n", f);
    fclose(f);
    ck_assert(trace_load(path, why, sizeof(why)) == NULL);
    ck_assert_msg(strstr(why, "line 2") != NULL, "%s", why);
    ck_assert(trace_load("build/no-such-trace", why, sizeof(why)) == NULL);
    remove(path);
}
END_TEST

/* The figures of every guest of trace T into B. */
static void calib_trace(const struct trace *t, struct calib_balloon *b)
{
    for (size_t d = 0; d < trace_ndoms(t); d++) {
        size_t n = trace_nsamples(t, d);
        struct calib_point *p = calloc(n ? n : 1, sizeof(*p));
        ck_assert(p != NULL);
        for (size_t k = 0; k < n; k++) {
            p[k].t = trace_sample_t(t, d, k);
            trace_u64(t, d, k, "balloon.current", &p[k].shown_kib);
            trace_u64(t, d, k, "balloon.last-update", &p[k].last_update);
        }
        ck_assert_int_eq(calib_add(b, p, n), 0);
        free(p);
    }
}

/* The fake host's figures: two guests shrunk twice, two grown twice, as the coordinator moved
 * the recorded guests, sampled at 4 Hz like the recorder. */
static void calib_fake(struct calib_balloon *b)
{
    struct fake_host *f = fake_create(2, 24576 * MIB, 1024 * MIB);
    struct hv *hv = fake_hv(f);
    struct snap *s = snap_create();
    static const uint64_t plan[4][2] = {{384, 280}, {400, 300}, {776, 1200}, {900, 1500}};
    struct calib_point p[4][160];
    int dom[4];

    for (int i = 0; i < 4; i++) {
        char name[16]; /* "g" and any int: -O1 (make SAN=1) does not bound i */
        struct fake_mem_load idle = {.base_kib = 110 * MIB};
        snprintf(name, sizeof(name), "g%d", i);
        dom[i] = fake_add_domain(f, name, 1);
        fake_set_memory(f, dom[i], 2048 * MIB, 512 * MIB);
        fake_set_mem_load(f, dom[i], &idle);
        fake_set_stats(f, dom[i], true);
        fake_set_stats_phase(f, dom[i], 0.25 * i);
    }
    for (int k = 0; k < 160; k++) {
        ck_assert_int_eq(hv_sample(hv, s, HV_SAMPLE_MEM, NULL, NULL), HV_OK);
        for (int i = 0; i < 4; i++) {
            const struct snap_mem *m = &snap_domain(s, (size_t)i)->mem;
            p[i][k] = (struct calib_point){fake_now(f), m->actual_kib, m->last_update};
            if (k == 8 || k == 60)
                ck_assert_int_eq(
                        hv_set_memory(hv, snap_domain(s, (size_t)i)->uuid, plan[i][k == 60] * MIB),
                        HV_OK);
        }
        fake_advance(f, 0.25);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(calib_add(b, p[i], 160), 0);
    snap_destroy(s);
    fake_destroy(f);
}

/* The fake host's balloon against the recorded one (mem-one-grows, TCG guests): the host's view
 * changes once a second (within 0.15 s), a report comes once a second (within 0.15 s), the
 * balloon takes and gives memory at the recorded median speeds (within 40 %: they vary with the
 * guest's load and where a move ends in the second). */
START_TEST(fake_balloon_moves_as_recorded)
{
    struct trace *t = load("mem-one-grows.trace.gz");
    struct calib_balloon rec = {0}, fake = {0};
    double r[4], k[4];

    calib_trace(t, &rec);
    calib_fake(&fake);
    ck_assert_uint_gt(rec.ninflate, 10);
    ck_assert_uint_gt(rec.ndeflate, 10);
    r[0] = calib_median(rec.gap_s, rec.ngap), k[0] = calib_median(fake.gap_s, fake.ngap);
    r[1] = calib_median(rec.report_s, rec.nreport),
    k[1] = calib_median(fake.report_s, fake.nreport);
    r[2] = calib_median(rec.inflate, rec.ninflate),
    k[2] = calib_median(fake.inflate, fake.ninflate);
    r[3] = calib_median(rec.deflate, rec.ndeflate),
    k[3] = calib_median(fake.deflate, fake.ndeflate);
    printf("balloon, recorded vs fake: change every %.2f / %.2f s, report every %.2f / %.2f s, "
           "inflate %.1f / %.1f MiB/s, deflate %.1f / %.1f MiB/s\n",
           r[0], k[0], r[1], k[1], r[2], k[2], r[3], k[3]);
    ck_assert_double_eq_tol(k[0], r[0], 0.15);
    ck_assert_double_eq_tol(k[1], r[1], 0.15);
    ck_assert_double_eq_tol(k[2], r[2], 0.4 * r[2]);
    ck_assert_double_eq_tol(k[3], r[3], 0.4 * r[3]);
    calib_free(&rec);
    calib_free(&fake);
    trace_free(t);
}
END_TEST

/* The idle guests of a recorded mem-one-grows (shrunk and, by the coordinator of the time,
 * grown back on its own balloon moves), replayed at PERIOD 1 and 2 and at every quarter-second
 * phase: never judged starving, so never grown as starving, and still shrunk. */
START_TEST(idle_guests_of_a_recorded_host_are_never_grown)
{
    struct trace *t = load("mem-one-grows.trace.gz");

    for (double period = 1; period <= 2; period++)
        for (double off = 0; off < period; off += 0.25) {
            struct mem_replay r;
            replay_coordinator(t, period, off, "vmlab-2 vmlab-3 vmlab-4", &r);
            ck_assert_msg(r.grows_of_idle == 0, "PERIOD %g, phase %.2f s: %u grows, first %s",
                          period, off, r.grows_of_idle, r.first_grow);
            ck_assert_msg(r.starving_idle == 0, "PERIOD %g, phase %.2f s: %u starving", period, off,
                          r.starving_idle);
            ck_assert_uint_gt(r.periods, 50);
        }
    trace_free(t);
}
END_TEST

/* Idle guests shrunk by the coordinator at PERIOD 1 (recorded with the rule of settled samples):
 * replayed at PERIOD 1 and 2 and at every quarter-second phase, none is ever judged starving or
 * grown, and the replays shrink them (an open loop: the recorded balloons move as the recorded
 * coordinator asked, so a replay that meets them moving may find nothing left to shrink). */
START_TEST(idle_shrink_trace_yields_no_grow)
{
    struct trace *t = load("mem-idle-p1.trace.gz");
    unsigned shrinks = 0;

    for (double period = 1; period <= 2; period++)
        for (double off = 0; off < period; off += 0.25) {
            struct mem_replay r;
            replay_coordinator(t, period, off, "vmlab-1 vmlab-2 vmlab-3 vmlab-4", &r);
            ck_assert_msg(r.grows_of_idle == 0, "PERIOD %g, phase %.2f s: %u grows, first %s",
                          period, off, r.grows_of_idle, r.first_grow);
            ck_assert_msg(r.starving_idle == 0, "PERIOD %g, phase %.2f s: %u starving", period, off,
                          r.starving_idle);
            shrinks += r.shrinks;
        }
    ck_assert_uint_gt(shrinks, 0);
    trace_free(t);
}
END_TEST

/* A page-cache reader (vmlab-1) beside a grower (vmlab-2) and two idle guests, recorded: the
 * reader and the idle guests are never grown as starving, and the grower is. */
START_TEST(page_cache_trace_grows_only_the_grower)
{
    struct trace *t = load("mem-page-cache.trace.gz");

    for (double off = 0; off < 2; off += 0.5) {
        struct mem_replay r, g;
        replay_coordinator(t, 2, off, "vmlab-1 vmlab-3 vmlab-4", &r);
        ck_assert_msg(r.grows_of_idle == 0, "phase %.2f s: %u grows, first %s", off,
                      r.grows_of_idle, r.first_grow);
        replay_coordinator(t, 2, off, "vmlab-2", &g);
        ck_assert_msg(g.grows_of_idle > 0, "phase %.2f s: the grower never grown", off);
    }
    trace_free(t);
}
END_TEST

Suite *trace_suite(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("reader");

    tcase_add_test(tc, reads_a_trace);
    tcase_add_test(tc, rejects_what_is_not_a_trace);
    suite_add_tcase(s, tc);
    tc = tcase_create("replay");
    tcase_add_test(tc, idle_guests_of_a_recorded_host_are_never_grown);
    tcase_add_test(tc, idle_shrink_trace_yields_no_grow);
    tcase_add_test(tc, page_cache_trace_grows_only_the_grower);
    suite_add_tcase(s, tc);
    tc = tcase_create("calibration");
    tcase_add_test(tc, fake_balloon_moves_as_recorded);
    suite_add_tcase(s, tc);
    return s;
}
