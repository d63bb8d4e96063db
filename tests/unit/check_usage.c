/* Tests of usage between snapshots. */
#include <string.h>

#include "snapshot.h"
#include "suites.h"
#include "usage.h"

#define S 1000000000ull

static void uuid_of(unsigned char *u, int n)
{
    memset(u, 0, SNAP_UUID_LEN);
    u[0] = (unsigned char)n;
}

/* Adds domain N with two vCPUs whose counters are T0/T1 ns (wait W0/W1, or none if ~0). */
static void add(struct snap *s, int n, uint64_t t0, uint64_t t1, uint64_t w)
{
    unsigned char u[SNAP_UUID_LEN];
    struct snap_domain *d;
    struct snap_vcpu *v;

    uuid_of(u, n);
    d = snap_add_domain(s, u, "d", 2);
    v = snap_vcpus_mut(s, d);
    v[0].time_ns = t0;
    v[1].time_ns = t1;
    if (w != ~0ull) {
        v[0].wait_ns = w;
        v[0].flags = SNAP_VCPU_WAIT;
    }
}

START_TEST(fractions_match_by_uuid)
{
    struct snap *a = snap_create(), *b = snap_create();
    struct usage u;

    usage_init(&u);
    snap_reset(a, 10 * S, 2);
    snap_set_pcpu_busy(a, 0, 1 * S);
    snap_set_pcpu_busy(a, 1, 0);
    add(a, 1, 0, 0, 0);
    add(a, 2, 5 * S, 5 * S, ~0ull);
    snap_finalize(a);

    snap_reset(b, 12 * S, 2);
    snap_set_pcpu_busy(b, 0, 3 * S);        /* 2 s busy in 2 s: 100 % */
    snap_set_pcpu_busy(b, 1, S / 2);        /* 25 % */
    add(b, 3, 0, 0, ~0ull);                 /* new: baseline */
    add(b, 2, 6 * S, 5 * S + S / 2, ~0ull); /* 50 %, 25 % */
    add(b, 1, 2 * S, S, S);                 /* 100 % with 50 % wait, 50 % */
    snap_finalize(b);

    ck_assert_int_eq(usage_from_snapshots(a, b, &u), 0);
    ck_assert_double_eq_tol(u.interval_s, 2.0, 1e-9);
    ck_assert(u.has_pcpu);
    ck_assert_double_eq_tol(u.pcpu_busy[0], 1.0, 1e-9);
    ck_assert_double_eq_tol(u.pcpu_busy[1], 0.25, 1e-9);
    ck_assert_uint_eq(u.nvcpus, 6);
    /* vCPU indexes follow the order domains were added: uuid 3 (0-1), 2 (2-3), 1 (4-5). */
    ck_assert(u.vcpus[4].valid && u.vcpus[4].has_wait);
    ck_assert_double_eq_tol(u.vcpus[4].run, 1.0, 1e-9);
    ck_assert_double_eq_tol(u.vcpus[4].wait, 0.5, 1e-9);
    ck_assert_double_eq_tol(u.vcpus[5].run, 0.5, 1e-9);
    ck_assert(!u.vcpus[5].has_wait);
    ck_assert_double_eq_tol(u.vcpus[2].run, 0.5, 1e-9);
    ck_assert_double_eq_tol(u.vcpus[3].run, 0.25, 1e-9);
    ck_assert(!u.vcpus[0].valid && !u.vcpus[1].valid);
    ck_assert_int_eq(u.vcpus[0].prev, -1);
    /* domains are sorted by UUID: 1, 2, 3 */
    ck_assert_int_eq(u.dom_prev[2], -1);
    ck_assert_int_eq(u.dom_prev[1], 1);
    ck_assert_int_eq(u.vcpus[2].prev, 2);
    ck_assert_int_eq(u.vcpus[4].prev, 0);
    usage_free(&u);
    snap_destroy(a);
    snap_destroy(b);
}
END_TEST

START_TEST(baseline_reset_and_hotplug)
{
    struct snap *a = snap_create(), *b = snap_create();
    unsigned char uu[SNAP_UUID_LEN];
    struct usage u;

    usage_init(&u);
    snap_reset(a, 10 * S, 2);
    add(a, 1, 5 * S, 5 * S, ~0ull);
    snap_finalize(a);
    ck_assert_int_eq(usage_from_snapshots(NULL, a, &u), 0);
    ck_assert(!u.vcpus[0].valid && !u.has_pcpu);

    /* Counter went back (domain restarted) and a vCPU was hot-plugged. */
    snap_reset(b, 11 * S, 2);
    uuid_of(uu, 1);
    struct snap_domain *d = snap_add_domain(b, uu, "d", 3);
    snap_vcpus_mut(b, d)[0].time_ns = 1;
    snap_vcpus_mut(b, d)[1].time_ns = 5 * S + 3 * S; /* more than the interval: clamped */
    snap_finalize(b);
    ck_assert_int_eq(usage_from_snapshots(a, b, &u), 0);
    ck_assert(!u.vcpus[0].valid);
    ck_assert(u.vcpus[1].valid);
    ck_assert_double_eq(u.vcpus[1].run, 1.0);
    ck_assert(!u.vcpus[2].valid);
    usage_free(&u);
    usage_free(&u);
    snap_destroy(a);
    snap_destroy(b);
}
END_TEST

START_TEST(no_time_passed_is_all_baseline)
{
    struct snap *a = snap_create();
    struct usage u;

    usage_init(&u);
    snap_reset(a, 10 * S, 1);
    add(a, 1, 5, 5, ~0ull);
    snap_finalize(a);
    ck_assert_int_eq(usage_from_snapshots(a, a, &u), 0);
    ck_assert(!u.vcpus[0].valid);
    ck_assert(!u.has_pcpu);
    usage_free(&u);
    snap_destroy(a);
}
END_TEST

Suite *usage_suite(void)
{
    Suite *s = suite_create("usage");
    TCase *t = tcase_create("deltas");

    tcase_add_test(t, fractions_match_by_uuid);
    tcase_add_test(t, baseline_reset_and_hotplug);
    tcase_add_test(t, no_time_passed_is_all_baseline);
    suite_add_tcase(s, t);
    return s;
}
