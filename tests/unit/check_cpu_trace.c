/* Recorded CPU hosts (tests/traces/cpu-*.trace.gz): the fake host's CPU model held against them
 * (docs/EVIDENCE.md#fake-run-queue). Each figure is computed by tests/cpucal.c alike from the
 * trace and from the same host in the fake: the same guests, pins and workloads, each pCPU's
 * other load as recorded, sampled at 4 Hz like the recorder, over windows of one tool period. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpucal.h"
#include "fake_hv.h"
#include "scheduler.h"
#include "suites.h"
#include "trace.h"

#define TRACES    "tests/traces/"
#define PERIOD_S  2.0  /* the recorded tool's period: one window */
#define STEP_S    0.25 /* the recorder's 4 Hz */
#define MAX_EDGES 256

/* The recorded scenarios' workloads (tests/lab/scenarios.py). */
static const struct cpucal_duty alone_duties[] = {
        {"vmlab-1", 1.0}, {"vmlab-2", 0.5}, {"vmlab-3", 0}, {"vmlab-4", 0}, {NULL, 0}};
static const struct cpucal_duty busy_duties[] = {
        {"vmlab-1", 1.0}, {"vmlab-2", 1.0}, {"vmlab-3", 1.0}, {"vmlab-4", 1.0}, {NULL, 0}};

static struct trace *load(const char *name)
{
    char path[256], why[512];
    struct trace *t;

    snprintf(path, sizeof(path), TRACES "%s", name);
    t = trace_load(path, why, sizeof(why));
    ck_assert_msg(t != NULL, "%s", why);
    return t;
}

/* Window edges into OUT: samples of the first domain at least a period apart (the recorder
 * samples every domain in one call, so all share these times). Returns how many. */
static size_t edges(const struct trace *t, double *out)
{
    size_t n = 0;

    for (size_t k = 0; k < trace_nsamples(t, 0) && n < MAX_EDGES; k++) {
        double at = trace_sample_t(t, 0, k);
        if (n == 0 || at - out[n - 1] >= PERIOD_S - 0.1)
            out[n++] = at;
    }
    return n;
}

static struct snap *snap_at(const struct trace *t, double at)
{
    struct snap *s = snap_create();

    ck_assert_int_eq(trace_snap(t, at, HV_SAMPLE_CPU, s), 0);
    return s;
}

/* The recorded figures of T: its windows, and its successive samples' run-time steps. */
static void recorded(const struct trace *t, struct cpucal *c)
{
    double e[MAX_EDGES];
    size_t n = edges(t, e);

    for (size_t k = 0; k + 1 < n; k++) {
        struct snap *a = snap_at(t, e[k]), *b = snap_at(t, e[k + 1]);
        ck_assert_int_eq(cpucal_window(c, a, b), 0);
        snap_destroy(a);
        snap_destroy(b);
    }
    for (size_t k = 0; k + 1 < trace_nsamples(t, 0); k++) {
        struct snap *a = snap_at(t, trace_sample_t(t, 0, k));
        struct snap *b = snap_at(t, trace_sample_t(t, 0, k + 1));
        cpucal_steps(c, a, b);
        snap_destroy(a);
        snap_destroy(b);
    }
}

/* The load on each pCPU of window A..B that is not its pinned vCPUs' run, into OTHERS. */
static void other_load(const struct snap *a, const struct snap *b, double *others)
{
    double dt = ((double)snap_time_ns(b) - (double)snap_time_ns(a)) / 1e9;

    for (int p = 0; p < snap_npcpus(b); p++)
        others[p] = ((double)snap_pcpu_busy(b, p) - (double)snap_pcpu_busy(a, p)) / 1e9 / dt;
    for (size_t i = 0; i < snap_domain_count(b) && i < snap_domain_count(a); i++) {
        const struct snap_domain *db = snap_domain(b, i), *da = snap_domain(a, i);
        for (uint32_t k = 0; k < db->nvcpus && k < da->nvcpus; k++) {
            const struct snap_vcpu *vb = &snap_vcpus(b, db)[k], *va = &snap_vcpus(a, da)[k];
            if (vb->pin >= 0 && vb->pin == va->pin && vb->pin < snap_npcpus(b))
                others[vb->pin] -= (double)(vb->time_ns - va->time_ns) / 1e9 / dt;
        }
    }
}

/* The fake host of trace T: its guests (in the trace's order, so that the snapshots list them
 * alike), their vCPUs' pins at the first sample and C's workloads. */
static struct fake_host *fake_of(const struct trace *t, const struct cpucal *c)
{
    struct fake_host *f = fake_create(trace_ncpus(t), 8192 * FAKE_MIB, 1024 * FAKE_MIB);

    ck_assert(f != NULL);
    /* The recorded hosts' other load was other engineers' parallel builds: many tasks. */
    fake_set_background_first(f, true);
    fake_set_run_queue(f, FAKE_WAKE_DELAY, FAKE_QUEUE_DELAY, FAKE_SPLIT);
    for (size_t d = 0; d < trace_ndoms(t); d++) {
        uint64_t nv = 1;
        double duty = 0;
        int id;
        trace_u64(t, d, 0, "vcpu.current", &nv);
        id = fake_add_domain(f, trace_dom_name(t, d), (int)nv);
        for (const struct cpucal_duty *w = c->duties; w->name; w++)
            if (strcmp(w->name, trace_dom_name(t, d)) == 0)
                duty = w->duty;
        for (int k = 0; k < (int)nv; k++) {
            char key[32];
            uint64_t pin;
            snprintf(key, sizeof(key), "pin.%d", k);
            /* A single pCPU reads as a number; a list ("0-1") as text: floating. */
            fake_pin(f, id, k, trace_u64(t, d, 0, key, &pin) ? (int)pin : -1);
            fake_set_demand(f, id, k, duty);
        }
    }
    return f;
}

static struct snap *fake_snap(struct fake_host *f)
{
    struct snap *s = snap_create();

    ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
    return s;
}

/* The figures of trace T's host replayed in the fake: window by window, each pCPU's other
 * load as recorded (the fake's background), sampled every STEP_S. */
static void replayed(const struct trace *t, struct cpucal *c)
{
    double e[MAX_EDGES], others[64];
    size_t n = edges(t, e);
    struct fake_host *f = fake_of(t, c);
    struct snap *start = fake_snap(f);

    for (size_t k = 0; k + 1 < n; k++) {
        struct snap *a = snap_at(t, e[k]), *b = snap_at(t, e[k + 1]), *prev = start;
        int steps = (int)lround((e[k + 1] - e[k]) / STEP_S);
        other_load(a, b, others);
        for (int p = 0; p < trace_ncpus(t); p++)
            fake_set_background(f, p, others[p] > 0 ? others[p] : 0);
        prev = fake_snap(f);
        for (int s = 0; s < steps; s++) {
            struct snap *next;
            fake_advance(f, (e[k + 1] - e[k]) / steps);
            next = fake_snap(f);
            cpucal_steps(c, prev, next);
            if (prev != start)
                snap_destroy(prev);
            prev = next;
        }
        ck_assert_int_eq(cpucal_window(c, start, prev), 0);
        snap_destroy(start);
        start = prev;
        snap_destroy(a);
        snap_destroy(b);
    }
    snap_destroy(start);
    fake_destroy(f);
}

static double median_of(const double *v, size_t n)
{
    double *w = malloc((n ? n : 1) * sizeof(*w)), m = 0;

    ck_assert(w != NULL);
    memcpy(w, v, n * sizeof(*w));
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && w[j] < w[j - 1]; j--) {
            double x = w[j];
            w[j] = w[j - 1];
            w[j - 1] = x;
        }
    if (n)
        m = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
    free(w);
    return m;
}

/* Both figures of trace NAME with workloads DUTIES: recorded into REC, replayed into FAKE. */
static void both(const char *name, const struct cpucal_duty *duties, struct cpucal *rec,
                 struct cpucal *fake)
{
    struct trace *t = load(name);

    rec->duties = fake->duties = duties;
    recorded(t, rec);
    replayed(t, fake);
    trace_free(t);
}

/* A busy vCPU is runnable all the time: run + delay is the whole window, recorded and fake. */
START_TEST(busy_vcpu_is_runnable_all_the_time)
{
    struct cpucal rec = {0}, fake = {0};
    double r, m;

    both("cpu-alone.trace.gz", alone_duties, &rec, &fake);
    both("cpu-balanced.trace.gz", busy_duties, &rec, &fake);
    r = median_of(rec.busy_sum, rec.nbusy);
    m = median_of(fake.busy_sum, fake.nbusy);
    printf("cpu calibration: a busy vCPU's run + delay per window: recorded %.3f (%zu windows), "
           "fake %.3f\n",
           r, rec.nbusy, m);
    fflush(stdout);
    ck_assert_uint_ge(rec.nbusy, 100);
    ck_assert_double_le(fabs(r - m), 0.05);
    cpucal_free(&rec);
    cpucal_free(&fake);
}
END_TEST

/* Two busy vCPUs pinned to one pCPU split it unevenly from window to window: the median
 * |a - b| / (a + b) of their runs, recorded and fake, within 0.05. */
START_TEST(shared_pcpu_splits_unevenly)
{
    struct cpucal rec = {0}, fake = {0};
    double r, m;

    both("cpu-balanced.trace.gz", busy_duties, &rec, &fake);
    r = median_of(rec.split, rec.nsplit);
    m = median_of(fake.split, fake.nsplit);
    printf("cpu calibration: the uneven split of a shared pCPU, median |a - b| / (a + b): "
           "recorded %.3f (%zu windows), fake %.3f (FAKE_SPLIT %.2f)\n",
           r, rec.nsplit, m, FAKE_SPLIT);
    fflush(stdout);
    ck_assert_uint_ge(rec.nsplit, 50);
    ck_assert_double_le(fabs(r - m), 0.05);
    cpucal_free(&rec);
    cpucal_free(&fake);
}
END_TEST

/* A part-time vCPU waits at each wake-up: its excess of run + delay over its duty, per unit it
 * ran, against the pressure of the other tasks of its pCPU (others / (1 - others)). Fitted on
 * the recorded windows through the origin, the slope is the fake's FAKE_QUEUE_DELAY (within
 * 0.02); with an intercept the recorded fit's is negative, so no wake-up cost apart from the
 * queueing shows at the recorded loads (FAKE_WAKE_DELAY 0). The median excess, recorded and
 * fake, over all windows and over those of more than the median pressure, within 0.05. */
START_TEST(part_time_vcpu_waits_to_wake)
{
    struct cpucal rec = {0}, fake = {0};
    double rw, rq, rq0, level, r, m, rh, mh;

    both("cpu-alone.trace.gz", alone_duties, &rec, &fake);
    ck_assert(cpucal_fit(&rec, &rw, &rq));
    rq0 = cpucal_fit_queue(&rec);
    level = median_of(rec.others, rec.nexcess);
    r = median_of(rec.excess, rec.nexcess);
    m = median_of(fake.excess, fake.nexcess);
    rh = cpucal_excess_median(&rec, level, true);
    mh = cpucal_excess_median(&fake, level, true);
    printf("cpu calibration: a 50 %% vCPU's wake-up delay per unit run against the others' "
           "pressure: recorded slope %.3f through the origin (with an intercept: %.3f + %.3f "
           "x), %zu windows, others %.2f in the median; FAKE_QUEUE_DELAY %.3f, FAKE_WAKE_DELAY "
           "%.3f; median excess recorded %.3f, fake %.3f; above the median others recorded "
           "%.3f, fake %.3f\n",
           rq0, rw, rq, rec.nexcess, level, FAKE_QUEUE_DELAY, FAKE_WAKE_DELAY, r, m, rh, mh);
    fflush(stdout);
    ck_assert_uint_ge(rec.nexcess, 20);
    ck_assert_double_le(fabs(rq0 - FAKE_QUEUE_DELAY), 0.02);
    ck_assert_double_le(rw, FAKE_WAKE_DELAY + 0.02);
    ck_assert_double_le(fabs(r - m), 0.05);
    ck_assert_double_le(fabs(rh - mh), 0.05);
    cpucal_free(&rec);
    cpucal_free(&fake);
}
END_TEST

/* vCPU run time changes in whole 10 ms steps, recorded and fake. */
START_TEST(run_time_in_10ms_steps)
{
    struct cpucal rec = {0}, fake = {0};

    both("cpu-alone.trace.gz", alone_duties, &rec, &fake);
    printf("cpu calibration: vCPU run-time changes in whole 10 ms: recorded %zu of %zu, fake %zu "
           "of %zu\n",
           rec.steps_whole, rec.steps, fake.steps_whole, fake.steps);
    fflush(stdout);
    ck_assert_uint_ge(rec.steps, 100);
    ck_assert_uint_eq(rec.steps_whole, rec.steps);
    ck_assert_uint_eq(fake.steps_whole, fake.steps);
    cpucal_free(&rec);
    cpucal_free(&fake);
}
END_TEST

/* What late accounting shows in recorded hosts: for busy vCPUs (run + delay at least 0.9 of the
 * trace), each standstill of its counters of half a second or more and the excess of the next
 * sample's run + delay over its interval, less the standstill; for the others, that excess. */
struct late {
    double busy[64], idle[64];
    size_t nbusy, nidle;
    double longest; /* the longest standstill of a busy vCPU (s) */
};

/* Run time and delay (s) of vCPU K of domain DOM at sample I of T; false when absent. */
static bool counters_at(const struct trace *t, size_t dom, size_t i, int k, double *run,
                        double *delay)
{
    char kt[32], kd[32];
    uint64_t a, b;

    snprintf(kt, sizeof(kt), "vcpu.%d.time", k);
    snprintf(kd, sizeof(kd), "vcpu.%d.delay", k);
    if (!trace_u64(t, dom, i, kt, &a) || !trace_u64(t, dom, i, kd, &b))
        return false;
    *run = (double)a / 1e9;
    *delay = (double)b / 1e9;
    return true;
}

/* Adds the standstills of vCPU K of domain DOM of T to L. */
static void late_of(const struct trace *t, size_t dom, int k, struct late *l)
{
    size_t n = trace_nsamples(t, dom);
    double r0, d0, r1, d1, still = 0, total = 0, runnable = 0;
    double ex[64];
    double len[64];
    size_t m = 0;

    for (size_t i = 1; i < n; i++) {
        double dt = trace_sample_t(t, dom, i) - trace_sample_t(t, dom, i - 1);
        if (!counters_at(t, dom, i - 1, k, &r0, &d0) || !counters_at(t, dom, i, k, &r1, &d1))
            continue;
        total += dt;
        runnable += (r1 - r0) + (d1 - d0);
        if (r1 == r0 && d1 == d0) {
            still += dt;
            continue;
        }
        if (still >= 0.45 && m < 64) {
            ex[m] = (r1 - r0) + (d1 - d0) - dt;
            len[m++] = still;
        }
        still = 0;
    }
    for (size_t i = 0; i < m; i++) {
        bool busy = total > 0 && runnable / total >= 0.9;
        if (busy && l->nbusy < 64) {
            l->busy[l->nbusy++] = ex[i] - len[i];
            l->longest = fmax(l->longest, len[i]);
        } else if (!busy && l->nidle < 64) {
            l->idle[l->nidle++] = ex[i];
        }
    }
}

/* The kernel accounts a vCPU's wait when it ends (docs/EVIDENCE.md#late-waits): a busy vCPU's run
 * time and delay stand still for seconds now and then on a loaded host, and the sample after
 * holds the whole wait (run + delay beyond its interval by at least the standstill, less 0.05 s;
 * a little more in the median, as the wait began before the counters stood still). An idle
 * vCPU's counters stand still too, and nothing follows. The fake's starved vCPU
 * (fake_set_starved) shows its wait the same way. */
START_TEST(busy_vcpu_waits_are_accounted_when_they_end)
{
    static const char *const names[] = {"cpu-churn.trace.gz", "cpu-churn-late.trace.gz",
                                        "cpu-balanced.trace.gz", "cpu-alone.trace.gz"};
    struct late l = {0};
    double lo = INFINITY, busy, idle;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct trace *t = load(names[i]);
        for (size_t d = 0; d < trace_ndoms(t); d++)
            for (int k = 0; k < 2; k++)
                late_of(t, d, k, &l);
        trace_free(t);
    }
    for (size_t i = 0; i < l.nbusy; i++)
        lo = fmin(lo, l.busy[i]);
    busy = median_of(l.busy, l.nbusy);
    idle = median_of(l.idle, l.nidle);
    printf("cpu calibration: a busy vCPU's counters stood still for 0.45-%.2f s %zu times; the "
           "sample after held that much more than its interval plus %.2f s in the median (at "
           "least %+.2f s); an idle vCPU's %zu times, and the sample after %+.2f s\n",
           l.longest, l.nbusy, busy, lo, l.nidle, idle);
    fflush(stdout);
    ck_assert_uint_ge(l.nbusy, 15);
    ck_assert_double_ge(lo, -0.05);
    ck_assert_double_le(busy, 0.25);
    ck_assert_double_ge(l.longest, 6.0);
    ck_assert_uint_ge(l.nidle, 1);
    ck_assert_double_le(idle, 0);
}
END_TEST

/* vCPU VCPU of domain DOM over the last SECONDS of F: what it ran and waited (fractions). */
static void measure(struct fake_host *f, int dom, double seconds, double *run, double *delay)
{
    struct snap *a = fake_snap(f), *b;

    fake_advance(f, seconds);
    b = fake_snap(f);
    *run = (double)(snap_all_vcpus(b)[dom].time_ns - snap_all_vcpus(a)[dom].time_ns) / 1e9 /
           seconds;
    *delay = (double)(snap_all_vcpus(b)[dom].delay_ns - snap_all_vcpus(a)[dom].delay_ns) / 1e9 /
             seconds;
    snap_destroy(a);
    snap_destroy(b);
}

/* The fake's delay comes from its run queue, not from demand minus service: two part-time
 * vCPUs served in full on one pCPU still wait at each wake-up, per unit they run
 * FAKE_QUEUE_DELAY times the others' pressure; a busy vCPU waits whenever it does not run. */
START_TEST(fake_delay_is_not_demand_minus_service)
{
    struct fake_host *f = fake_create(2, 8192 * FAKE_MIB, 1024 * FAKE_MIB);
    int a = fake_add_domain(f, "a", 1), b = fake_add_domain(f, "b", 1);
    int c = fake_add_domain(f, "c", 1);
    double run, delay;

    fake_pin(f, a, 0, 0);
    fake_pin(f, b, 0, 0);
    fake_pin(f, c, 0, 1);
    fake_set_demand(f, a, 0, 0.5);
    fake_set_demand(f, b, 0, 0.4);
    fake_set_demand(f, c, 0, 1.0);
    fake_set_background(f, 1, 0.1);
    measure(f, a, 10, &run, &delay);
    ck_assert_double_eq_tol(run, 0.5, 0.01);
    ck_assert_double_eq_tol(delay, 0.5 * FAKE_QUEUE_DELAY * 0.4 / 0.6, 0.002);
    ck_assert_double_gt(delay, 0.01);
    measure(f, c, 10, &run, &delay);
    ck_assert_double_eq_tol(run + delay, 1.0, 0.01);
    ck_assert_double_eq_tol(delay, 0.1, 0.01);
    fake_destroy(f);
}
END_TEST

/* With the recorded split, two busy vCPUs sharing a pCPU get unequal runs that sum to it, and
 * each waits whenever it does not run: run + delay stays the whole period. */
START_TEST(fake_split_keeps_the_estimate)
{
    struct fake_host *f = fake_create(1, 8192 * FAKE_MIB, 1024 * FAKE_MIB);
    int a = fake_add_domain(f, "a", 1), b = fake_add_domain(f, "b", 1);
    double ra, da, rb, db, spread = 0;

    fake_set_run_queue(f, FAKE_WAKE_DELAY, FAKE_QUEUE_DELAY, FAKE_SPLIT);
    fake_set_demand(f, a, 0, 1.0);
    fake_set_demand(f, b, 0, 1.0);
    for (int k = 0; k < 10; k++) {
        struct snap *s0 = fake_snap(f), *s1;
        fake_advance(f, 2);
        s1 = fake_snap(f);
        ra = (double)(snap_all_vcpus(s1)[a].time_ns - snap_all_vcpus(s0)[a].time_ns) / 2e9;
        da = (double)(snap_all_vcpus(s1)[a].delay_ns - snap_all_vcpus(s0)[a].delay_ns) / 2e9;
        rb = (double)(snap_all_vcpus(s1)[b].time_ns - snap_all_vcpus(s0)[b].time_ns) / 2e9;
        db = (double)(snap_all_vcpus(s1)[b].delay_ns - snap_all_vcpus(s0)[b].delay_ns) / 2e9;
        ck_assert_double_eq_tol(ra + rb, 1.0, 0.011);
        ck_assert_double_eq_tol(ra + da, 1.0, 0.011);
        ck_assert_double_eq_tol(rb + db, 1.0, 0.011);
        spread = fmax(spread, fabs(ra - rb));
        snap_destroy(s0);
        snap_destroy(s1);
    }
    ck_assert_double_gt(spread, 0.1);
    fake_destroy(f);
}
END_TEST

/* ---- open-loop replay: the scheduler's derive and plan steps on recorded hosts ---- */

#define MAX_PERIODS 64

/* What a replay of a trace saw: per period each vCPU's demand, by its guest's name. */
struct replay {
    size_t periods;
    size_t writes; /* ... all decisions */
    char names[8][16];
    double demand[8][MAX_PERIODS]; /* vCPU 0 of each guest (by order of first appearance) */
    size_t nnames;
};

static size_t name_slot(struct replay *r, const char *name)
{
    for (size_t i = 0; i < r->nnames; i++)
        if (strcmp(r->names[i], name) == 0)
            return i;
    ck_assert_uint_lt(r->nnames, 8);
    snprintf(r->names[r->nnames], sizeof(r->names[0]), "%s", name);
    return r->nnames++;
}

/* Replays trace NAME through the scheduler (threshold 5 points), sampling it where the recorded
 * tool logged each period (its "period N:" lines), its pins written to the replay hv only. */
static void replay(const char *name, struct replay *r)
{
    struct trace *t = load(name);
    double clock = 0;
    struct hv *hv = trace_hv(t, &clock);
    struct sched_config cfg = {.threshold = 0.05};
    struct sched *sc = sched_create(&cfg);
    struct snap *prev = NULL;

    memset(r, 0, sizeof(*r));
    ck_assert(hv != NULL && sc != NULL);
    for (size_t k = 0; k < trace_nlines(t) && r->periods < MAX_PERIODS; k++) {
        struct sched_report rep;
        struct snap *cur;
        if (strncmp(trace_line(t, k), "period ", 7) != 0)
            continue;
        clock = trace_line_t(t, k) - 0.1;
        cur = snap_create();
        ck_assert_int_eq(hv_sample(hv, cur, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
        ck_assert_int_eq(sched_period(sc, hv, prev, cur, 0, &rep), 0);
        for (size_t i = 0; i < rep.nvcpus; i++)
            if (rep.vcpus[i].vcpu == 0)
                r->demand[name_slot(r,
                                    snap_domain_name(cur, snap_domain(cur, rep.vcpus[i].domain)))]
                         [r->periods] = rep.vcpus[i].demand;
        r->writes = trace_hv_nwrites(hv);
        r->periods++;
        snap_destroy(prev);
        prev = cur;
    }
    snap_destroy(prev);
    sched_destroy(sc);
    hv_destroy(hv);
    trace_free(t);
}

/* The median demand of guest NAME's vCPU 0 over the replay's periods from the third on. */
static double replayed_demand(struct replay *r, const char *name)
{
    size_t i = name_slot(r, name);

    ck_assert_uint_gt(r->periods, 3);
    return median_of(&r->demand[i][2], r->periods - 2);
}

/* Two busy guests pinned to each pCPU of a loaded host ran 7-49 % each, with the rest of each
 * period in delay: their demand is a whole pCPU each, and 2+2 is left alone. */
START_TEST(shared_pcpu_trace_yields_whole_demand)
{
    struct replay r;

    replay("cpu-balanced.trace.gz", &r);
    printf("cpu replay: cpu-balanced, %zu periods: demand (median) vmlab-1 %.2f vmlab-2 %.2f "
           "vmlab-3 %.2f vmlab-4 %.2f; %zu pin changes\n",
           r.periods, replayed_demand(&r, "vmlab-1"), replayed_demand(&r, "vmlab-2"),
           replayed_demand(&r, "vmlab-3"), replayed_demand(&r, "vmlab-4"), r.writes);
    fflush(stdout);
    ck_assert_uint_ge(r.periods, 30);
    ck_assert_double_ge(replayed_demand(&r, "vmlab-1"), 0.9);
    ck_assert_double_ge(replayed_demand(&r, "vmlab-2"), 0.9);
    ck_assert_double_ge(replayed_demand(&r, "vmlab-3"), 0.9);
    ck_assert_double_ge(replayed_demand(&r, "vmlab-4"), 0.9);
    ck_assert_uint_eq(r.writes, 0);
}
END_TEST

/* A busy guest and a 50 % guest each alone on a pCPU of a loaded host: demands 1 and 0.5 (the
 * 50 % guest's wake-up queueing taken off), nothing moved. */
START_TEST(part_time_trace_yields_its_duty)
{
    struct replay r;
    double busy, part;

    replay("cpu-alone.trace.gz", &r);
    busy = replayed_demand(&r, "vmlab-1");
    part = replayed_demand(&r, "vmlab-2");
    printf("cpu replay: cpu-alone, %zu periods: demand (median) busy %.2f, 50 %% guest %.2f; %zu "
           "pin changes\n",
           r.periods, busy, part, r.writes);
    fflush(stdout);
    ck_assert_double_ge(busy, 0.9);
    ck_assert_double_eq_tol(part, 0.5, 0.05);
    ck_assert_uint_eq(r.writes, 0);
}
END_TEST

/* The time of the last sample of T before any vCPU 0's pin differs from its first sample's. */
static double before_first_move(const struct trace *t)
{
    double last = trace_start(t);

    for (size_t k = 0; k < trace_nsamples(t, 0); k++) {
        double at = trace_sample_t(t, 0, k);
        for (size_t d = 0; d < trace_ndoms(t); d++) {
            uint64_t p0 = 0, pk = 0;
            long kk = trace_sample_at(t, d, at);
            if (kk >= 0 && trace_u64(t, d, 0, "pin.0", &p0) &&
                (!trace_u64(t, d, (size_t)kk, "pin.0", &pk) || pk != p0))
                return last;
        }
        last = at;
    }
    return last;
}

/* Three busy guests on pCPU 0 and one on pCPU 1 of a loaded host (other load 0.6-0.9 of each
 * pCPU): the first decision, on the recorder's samples before the recorded tool's own moves,
 * makes one pin change. The recorded tool made three on its own samples, which the recorder's
 * do not reproduce (no window of them makes the planner of that day move more than one): the
 * planner's fewest-moves fix is held by the oracle suite. */
START_TEST(three_one_trace_is_fixed_in_one_move)
{
    struct trace *t = load("cpu-three-one.trace.gz");
    double clock = before_first_move(t);
    struct hv *hv = trace_hv(t, &clock);
    struct sched_config cfg = {.threshold = 0.05};
    struct sched *sc = sched_create(&cfg);
    struct snap *a = snap_create(), *b = snap_create();
    struct sched_report rep;
    double end = clock;

    clock = end - PERIOD_S;
    ck_assert_int_eq(hv_sample(hv, a, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
    ck_assert_int_eq(sched_period(sc, hv, NULL, a, 0, &rep), 0);
    clock = end;
    ck_assert_int_eq(hv_sample(hv, b, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
    ck_assert_int_eq(sched_period(sc, hv, a, b, 0, &rep), 0);
    printf("cpu replay: cpu-three-one, the first decision at %.2f s: %zu pin change(s)\n", end,
           trace_hv_nwrites(hv));
    fflush(stdout);
    ck_assert_uint_eq(trace_hv_nwrites(hv), 1);
    snap_destroy(a);
    snap_destroy(b);
    sched_destroy(sc);
    hv_destroy(hv);
    trace_free(t);
}
END_TEST

Suite *cpu_trace_suite(void)
{
    Suite *s = suite_create("cpu_trace");
    TCase *cal = tcase_create("calibration");
    TCase *rp = tcase_create("replay");

    tcase_add_test(cal, busy_vcpu_is_runnable_all_the_time);
    tcase_add_test(cal, shared_pcpu_splits_unevenly);
    tcase_add_test(cal, part_time_vcpu_waits_to_wake);
    tcase_add_test(cal, run_time_in_10ms_steps);
    tcase_add_test(cal, busy_vcpu_waits_are_accounted_when_they_end);
    tcase_add_test(cal, fake_delay_is_not_demand_minus_service);
    tcase_add_test(cal, fake_split_keeps_the_estimate);
    suite_add_tcase(s, cal);
    tcase_add_test(rp, shared_pcpu_trace_yields_whole_demand);
    tcase_add_test(rp, part_time_trace_yields_its_duty);
    tcase_add_test(rp, three_one_trace_is_fixed_in_one_move);
    suite_add_tcase(s, rp);
    return s;
}
