/* Closed-loop tests: the real scheduler, through the real runner, against the fake host.
 *
 * Period 1 is the baseline sample; each later period first simulates one second with the pins
 * as they are, then samples, decides and acts. "Balanced at period k" means the usage the fake
 * host measured in the second before period k is balanced.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpusim.h"
#include "fake_hv.h"
#include "runner.h"
#include "scheduler.h"
#include "suites.h"

START_TEST(already_balanced_stays_untouched)
{
    struct cpusim m;
    static const int pins[][4] = {{0, 0, 1, 1}, {0, 1, 2, 3}};
    static const int nps[] = {2, 4};

    for (int c = 0; c < 2; c++) {
        cpusim_init(&m, nps[c], false, _i);
        for (int i = 0; i < 4; i++)
            cpusim_add_busy(&m, 1, 1.0, pins[c][i]);
        cpusim_run(&m, 50);
        ck_assert_uint_eq(cpusim_moves(&m, 1, 50), 0);
        ck_assert_uint_eq(fake_calls(m.f, FAKE_OP_PIN), 0);
        for (int p = 2; p <= 50; p++)
            ck_assert_double_le(m.sd[p], 5);
        ck_assert_double_le(cpusim_service_range(&m, 0, 4), 1);
        cpusim_free(&m);
    }
}
END_TEST

START_TEST(eight_on_pcpu0_of_four)
{
    struct cpusim m;

    cpusim_init(&m, 4, false, _i);
    cpusim_add_busy(&m, 8, 1.0, 0);
    cpusim_run(&m, 50);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 3), 6); /* exactly the minimum */
    ck_assert_uint_eq(m.bound[2], 6);
    ck_assert_uint_eq(fake_calls(m.f, FAKE_OP_PIN), 6);
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(cpusim_vcpus_on(&m, 8, p), 2);
    for (int p = 3; p <= 50; p++)
        ck_assert_double_le(m.sd[p], 5);
    ck_assert_uint_eq(cpusim_moves(&m, 3, 50), 0);
    ck_assert_double_le(cpusim_service_range(&m, 0, 8), 1); /* everyone gets half a pCPU */
    cpusim_free(&m);
}
END_TEST

START_TEST(unpinned_heavy_and_light)
{
    struct cpusim m;

    cpusim_init(&m, 4, false, _i);
    for (int i = 0; i < 8; i++)
        cpusim_add_busy(&m, 1, i % 2 ? 0.5 : 1.0, -1);
    cpusim_run(&m, 50);
    for (int p = 2; p <= 50; p++)
        ck_assert_double_le(m.sd[p], 5);
    /* The kernel balances them (fairly): they are left floating. */
    ck_assert_uint_eq(cpusim_moves(&m, 1, 50), 0);
    ck_assert_uint_eq(fake_calls(m.f, FAKE_OP_PIN), 0);
    /* Fairness: equal demand, equal service. */
    double hlo = 2, hhi = 0, llo = 2, lhi = 0;
    for (int d = 0; d < 8; d++) {
        double r = fake_vcpu_run(m.f, d, 0);
        if (d % 2) {
            llo = fmin(llo, r);
            lhi = fmax(lhi, r);
        } else {
            hlo = fmin(hlo, r);
            hhi = fmax(hhi, r);
        }
    }
    ck_assert_double_le((hhi - hlo) * 100, 5);
    ck_assert_double_le((lhi - llo) * 100, 5);
    cpusim_free(&m);
}
END_TEST

START_TEST(floating_pinned_when_the_kernel_does_not_balance)
{
    struct cpusim m;

    /* isolcpus: floating vCPUs stay on pCPU 0. Measured usage 100/0/0/0 against a plan that
     * would give 100 everywhere, for two periods: then they are pinned, once each. */
    cpusim_init(&m, 4, false, _i);
    fake_set_balancer(m.f, false);
    cpusim_add_busy(&m, 4, 1.0, -1);
    cpusim_run(&m, 30);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 2), 0); /* the first decision only watches */
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 4);
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(cpusim_vcpus_on(&m, 4, p), 1);
    for (int p = 5; p <= 30; p++)
        ck_assert_double_le(m.sd[p], 5);
    cpusim_free(&m);
}
END_TEST

START_TEST(floating_served_unequally_is_pinned)
{
    struct cpusim m;

    /* Two busy vCPUs pinned to pCPU 0, one to pCPU 1, one floating that the kernel keeps on
     * pCPU 0: both pCPUs are 100 % busy, and the loads 2 and 2 as the kernel should place it,
     * yet three get a third of a pCPU and one a whole one. Pinning it to pCPU 1 is fair. */
    cpusim_init(&m, 2, false, _i);
    fake_set_balancer(m.f, false);
    cpusim_add_busy(&m, 2, 1.0, 0);
    cpusim_add_busy(&m, 1, 1.0, 1);
    cpusim_add_busy(&m, 1, 1.0, -1);
    cpusim_run(&m, 20);
    ck_assert_int_eq(fake_vcpu_pin(m.f, 3, 0), 1);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 20), 1);
    ck_assert_double_le(cpusim_service_range(&m, 0, 4), 5);
    cpusim_free(&m);
}
END_TEST

START_TEST(unequal_service_at_the_start_alone_pins_nothing)
{
    struct cpusim m;

    /* As floating_served_unequally_is_pinned, but the kernel balances from period 2 on: the
     * first interval's unequal service (a third of a pCPU against a whole one) tells of the
     * start, not of the kernel's placement, and is not a reason to pin
     * (docs/EVIDENCE.md#service-settling). */
    cpusim_init(&m, 2, false, _i);
    fake_set_balancer(m.f, false);
    cpusim_add_busy(&m, 1, 1.0, 0);
    cpusim_add_busy(&m, 1, 1.0, 1);
    cpusim_add_busy(&m, 2, 1.0, -1);
    cpusim_run(&m, 2);
    ck_assert_double_ge(cpusim_service_range(&m, 0, 4), 50); /* unfair in the first interval */
    fake_set_balancer(m.f, true);
    cpusim_run(&m, 30);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 0);
    ck_assert_uint_eq(fake_calls(m.f, FAKE_OP_PIN), 0);
    cpusim_free(&m);
}
END_TEST

/* The lab's cpu-mixed on the fake host: two busy and two half-busy floating guests on 2 pCPUs,
 * balanced by the kernel, until it keeps one busy and both half-busy guests on pCPU 0 for
 * HELD periods (from period 10): the busy ones get a third of a pCPU and a whole one. (With
 * run time alone, signal mode none, a vCPU served a third looks a third busy: not tested.) */
static void held_unequally(struct cpusim *m, int mode, int held, int until)
{
    cpusim_init(m, 2, false, mode);
    cpusim_add_busy(m, 2, 1.0, -1);
    cpusim_add_busy(m, 2, 0.5, -1);
    cpusim_run(m, 9);
    for (int d = 0; d < 4; d++)
        fake_set_held(m->f, d, 0, d == 1 ? 1 : 0);
    cpusim_run(m, 10);
    ck_assert_double_ge(cpusim_service_range(m, 0, 2), 50);
    cpusim_run(m, 9 + held);
    for (int d = 0; d < 4; d++)
        fake_set_held(m->f, d, 0, -1);
    cpusim_run(m, until);
}

START_TEST(kernel_placed_class_served_unequally_for_two_periods_is_left_floating)
{
    struct cpusim m;

    /* Every member of the class floats: its unequal service is the kernel's passing swing
     * (docs/EVIDENCE.md#unequal-service-patience). */
    held_unequally(&m, _i, 2, 30);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 0);
    ck_assert_uint_eq(fake_calls(m.f, FAKE_OP_PIN), 0);
    cpusim_free(&m);
}
END_TEST

START_TEST(kernel_placed_class_served_unequally_for_long_is_pinned)
{
    struct cpusim m;

    /* The same swing that lasts: pinned, and fair from then on. */
    held_unequally(&m, _i, 10, 30);
    ck_assert_uint_gt(cpusim_moves(&m, 10, 19), 0);
    ck_assert_double_le(cpusim_service_range(&m, 0, 2), 5);
    ck_assert_double_le(cpusim_service_range(&m, 2, 4), 5);
    cpusim_free(&m);
}
END_TEST

START_TEST(three_plus_one_is_two_plus_two_at_the_first_decision)
{
    struct cpusim m;

    /* The case: four busy 1-vCPU guests, three pinned to pCPU 0 and one to pCPU 1. */
    cpusim_init(&m, 2, false, _i);
    cpusim_add_busy(&m, 3, 1.0, 0);
    cpusim_add_busy(&m, 1, 1.0, 1);
    cpusim_run(&m, 30);
    ck_assert_uint_eq(m.moves[2], 1);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 1);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 4, 0), 2);
    ck_assert_double_le(cpusim_service_range(&m, 0, 4), 1);
    cpusim_free(&m);
}
END_TEST

START_TEST(three_busy_one_light_on_two)
{
    struct cpusim m;

    cpusim_init(&m, 2, false, _i);
    cpusim_add_busy(&m, 3, 1.0, 0);
    cpusim_add_busy(&m, 1, 0.3, 0);
    cpusim_run(&m, 50);
    ck_assert_double_le(cpusim_service_range(&m, 0, 3), 25);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 50), 2);
    ck_assert_uint_eq(m.bound[2], 2);
    ck_assert_uint_eq(cpusim_moves(&m, 3, 50), 0);
    for (int p = 3; p <= 50; p++)
        ck_assert_double_le(m.sd[p], 5);
    cpusim_free(&m);
}
END_TEST

START_TEST(three_plus_one_is_made_fair)
{
    /* 3+1 gives 100 % on both pCPUs (std dev 0) but 33/33/33 against 100: unfair. */
    struct cpusim m;
    static const int pins[] = {0, 0, 0, 1};

    cpusim_init(&m, 2, false, _i);
    for (int i = 0; i < 4; i++)
        cpusim_add_busy(&m, 1, 1.0, pins[i]);
    cpusim_run(&m, 30);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 1);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 4, 0), 2);
    ck_assert_double_le(cpusim_service_range(&m, 0, 4), 1);
    cpusim_free(&m);
}
END_TEST

START_TEST(pcpu_counts_one_and_three)
{
    struct cpusim m;

    cpusim_init(&m, 1, false, _i);
    cpusim_add_busy(&m, 4, 1.0, -1);
    cpusim_run(&m, 20);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 20), 0); /* nowhere to go */
    cpusim_free(&m);

    cpusim_init(&m, 3, false, _i);
    cpusim_add_busy(&m, 6, 1.0, 0);
    cpusim_run(&m, 20);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 20), 4);
    for (int p = 0; p < 3; p++)
        ck_assert_int_eq(cpusim_vcpus_on(&m, 6, p), 2);
    ck_assert_uint_eq(cpusim_moves(&m, 3, 20), 0);
    ck_assert_double_le(m.sd[3], 5);
    cpusim_free(&m);
}
END_TEST

START_TEST(pcpu_count_64_random_pins)
{
    struct cpusim m;
    unsigned seed = 7;
    int count[64] = {0};
    size_t bound = 0;

    cpusim_init(&m, 64, false, _i);
    for (int i = 0; i < 128; i++) {
        seed = seed * 1103515245u + 12345u;
        int p = (int)((seed >> 16) % 64);
        cpusim_add_busy(&m, 1, 1.0, p);
        count[p]++;
    }
    for (int p = 0; p < 64; p++)
        bound += count[p] > 2 ? (size_t)(count[p] - 2) : 0;
    cpusim_run(&m, 20);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 20), bound);
    ck_assert_uint_eq(m.bound[2], bound);
    for (int p = 3; p <= 20; p++)
        ck_assert_double_le(m.sd[p], 5);
    ck_assert_uint_eq(cpusim_moves(&m, 3, 20), 0);
    cpusim_free(&m);
}
END_TEST

START_TEST(pcpu_count_256_all_on_one)
{
    struct cpusim m;

    cpusim_init(&m, 256, false, _i);
    for (int i = 0; i < 512; i++) {
        int id = fake_add_domain(m.f, "big", 1);
        fake_set_demand(m.f, id, 0, 1.0);
        fake_pin(m.f, id, 0, 0);
    }
    cpusim_run(&m, 10);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 10), 510);
    ck_assert_double_le(m.sd[3], 5);
    ck_assert_uint_eq(cpusim_moves(&m, 3, 10), 0);
    cpusim_free(&m);
}
END_TEST

START_TEST(multi_vcpu_domains)
{
    struct cpusim m;
    int a, b, c;

    cpusim_init(&m, 4, false, _i);
    a = fake_add_domain(m.f, "a", 4);
    b = fake_add_domain(m.f, "b", 3);
    c = fake_add_domain(m.f, "c", 1);
    fake_set_demand(m.f, a, -1, 1.0);
    fake_set_demand(m.f, b, -1, 1.0);
    fake_set_demand(m.f, c, -1, 1.0);
    for (int k = 0; k < 4; k++)
        fake_pin(m.f, a, k, 0);
    for (int k = 0; k < 3; k++)
        fake_pin(m.f, b, k, 0);
    fake_pin(m.f, c, 0, 1);
    cpusim_run(&m, 30);
    /* 7 on pCPU 0 and 1 on pCPU 1 -> 2 each: 5 of pCPU 0's leave. */
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 5);
    ck_assert_double_le(m.sd[3], 5);
    ck_assert_uint_eq(cpusim_moves(&m, 3, 30), 0);
    for (int k = 0; k < 4; k++)
        ck_assert_double_eq_tol(fake_vcpu_run(m.f, a, k), 0.5, 0.01);
    cpusim_free(&m);
}
END_TEST

START_TEST(churn_domains_come_and_go)
{
    struct cpusim m;
    int next;

    cpusim_init(&m, 4, false, _i);
    cpusim_add_busy(&m, 4, 1.0, 0);
    cpusim_run(&m, 5);
    /* Every other period a busy floating domain appears and an old one goes. */
    next = 0;
    for (int round = 0; round < 10; round++) {
        int id = fake_add_domain(m.f, "new", 1);
        fake_set_demand(m.f, id, 0, 1.0);
        fake_remove_domain(m.f, next++);
        cpusim_run(&m, m.period + 2);
    }
    /* A multi-vCPU domain grows a vCPU (hot-plug) and another is paused. */
    {
        int hp = fake_add_domain(m.f, "hotplug", 1);
        fake_set_demand(m.f, hp, 0, 1.0);
        cpusim_run(&m, m.period + 2);
        fake_set_nvcpus(m.f, hp, 2);
        fake_set_demand(m.f, hp, 1, 1.0);
        fake_set_paused(m.f, next, true);
        cpusim_run(&m, m.period + 2);
    }
    ck_assert(!m.moved_new_domain); /* a new vCPU's first period is a baseline */
    cpusim_run(&m, m.period + 10);
    ck_assert_uint_eq(cpusim_moves(&m, m.period - 6, m.period), 0);
    ck_assert_uint_eq(m.failed, 0);
    cpusim_free(&m);
}
END_TEST

/* The busy vCPUs the fake ran on pCPU P in its last advance: of domain A (2 vCPUs) and of the
 * one-vCPU domains ONE[0..n) (-1: not there). */
static int busy_on(const struct cpusim *m, int p, int a, const int *one, int n)
{
    int c = (fake_vcpu_placed(m->f, a, 0) == p) + (fake_vcpu_placed(m->f, a, 1) == p);

    for (int i = 0; i < n; i++)
        c += one[i] >= 0 && fake_vcpu_placed(m->f, one[i], 0) == p;
    return c;
}

/* True when guest A's two busy vCPUs ran on one pCPU while the other pCPU ran fewer busy
 * vCPUs. */
static bool stacked(const struct cpusim *m, int a, const int *one, int n)
{
    int p = fake_vcpu_placed(m->f, a, 0);

    return p >= 0 && p == fake_vcpu_placed(m->f, a, 1) &&
           busy_on(m, 1 - p, a, one, n) < busy_on(m, p, a, one, n);
}

/* The lab's cpu-churn in the calibrated fake (the recorded uneven split on): a busy 2-vCPU guest
 * A and a busy guest B pinned to pCPU 0, a busy guest C on pCPU 1 destroyed after period 12, a
 * busy floating guest D started after period 20. From two periods after each event on, A's
 * vCPUs are never stacked while the other pCPU runs fewer busy vCPUs (issue 17, item 2); at the
 * end the four busy vCPUs run 2 and 2 (fair by placement, as at the start: the split makes one
 * period's service uneven), at most one pin change beyond the one the start needs and one per
 * event, none in the last 30 periods. */
START_TEST(churn_ends_fair)
{
    struct cpusim m;
    int a, one[3] = {-1, -1, -1}; /* B, C, D */

    cpusim_init(&m, 2, false, _i);
    fake_set_run_queue(m.f, FAKE_WAKE_DELAY, FAKE_QUEUE_DELAY, FAKE_SPLIT);
    a = fake_add_domain(m.f, "a", 2);
    fake_set_demand(m.f, a, -1, 1.0);
    fake_pin(m.f, a, 0, 0);
    fake_pin(m.f, a, 1, 0);
    one[0] = cpusim_add_busy(&m, 1, 1.0, 0);
    one[1] = cpusim_add_busy(&m, 1, 1.0, 1);
    for (int k = 1; k <= 80; k++) {
        int p;
        cpusim_run(&m, k);
        p = fake_vcpu_placed(m.f, a, 0);
        ck_assert_msg(k < 4 || (k >= 13 && k < 15) || (k >= 21 && k < 23) ||
                              !stacked(&m, a, one, 3),
                      "period %d: guest a's vCPUs stacked on pCPU %d, %d busy vCPUs on the other",
                      k, p, busy_on(&m, 1 - p, a, one, 3));
        if (k == 12) {
            fake_remove_domain(m.f, one[1]);
            one[1] = -1;
        }
        if (k == 20)
            one[2] = cpusim_add_busy(&m, 1, 1.0, -1);
    }
    ck_assert_int_eq(busy_on(&m, 0, a, one, 3), 2);
    ck_assert_int_eq(busy_on(&m, 1, a, one, 3), 2);
    ck_assert_uint_le(cpusim_moves(&m, 1, 80), 1 + 2 + 1);
    ck_assert_uint_eq(cpusim_moves(&m, 50, 80), 0);
    cpusim_free(&m);
}
END_TEST

/* churn_ends_fair as a lab run of it went on a loaded host (docs/EVIDENCE.md#late-waits): guest
 * A's two vCPUs starved from the start for 6 s, their wait accounted whole when they run again,
 * and other load on pCPU 1. A is busy from the period it runs in: one pin change apart at the
 * start, and none after but D's pin; A never stacked while the other pCPU runs fewer busy vCPUs.
 * (Its estimate rose from 0.25 to 0.92 over 22 periods, and once C was gone A's two vCPUs were
 * exchanged for nothing.) */
START_TEST(churn_after_a_starved_start_ends_fair)
{
    struct cpusim m;
    int a, one[3] = {-1, -1, -1}; /* B, C, D */

    cpusim_init(&m, 2, false, _i);
    fake_set_run_queue(m.f, FAKE_WAKE_DELAY, FAKE_QUEUE_DELAY, FAKE_SPLIT);
    fake_set_background(m.f, 1, 0.2);
    a = fake_add_domain(m.f, "a", 2);
    fake_set_demand(m.f, a, -1, 1.0);
    fake_pin(m.f, a, 0, 0);
    fake_pin(m.f, a, 1, 0);
    one[0] = cpusim_add_busy(&m, 1, 1.0, 0);
    one[1] = cpusim_add_busy(&m, 1, 1.0, 1);
    fake_set_starved(m.f, a, 0, 6);
    fake_set_starved(m.f, a, 1, 6);
    for (int k = 1; k <= 80; k++) {
        int p;
        cpusim_run(&m, k);
        p = fake_vcpu_placed(m.f, a, 0);
        ck_assert_msg(k < 9 || (k >= 13 && k < 15) || (k >= 21 && k < 23) ||
                              !stacked(&m, a, one, 3),
                      "period %d: guest a's vCPUs stacked on pCPU %d, %d busy vCPUs on the other",
                      k, p, busy_on(&m, 1 - p, a, one, 3));
        if (k == 12) {
            fake_remove_domain(m.f, one[1]);
            one[1] = -1;
        }
        if (k == 20)
            one[2] = cpusim_add_busy(&m, 1, 1.0, -1);
    }
    ck_assert_int_eq(busy_on(&m, 0, a, one, 3), 2);
    ck_assert_int_eq(busy_on(&m, 1, a, one, 3), 2);
    ck_assert_uint_le(cpusim_moves(&m, 1, 80), 1 + 1);
    ck_assert_uint_eq(cpusim_moves(&m, 50, 80), 0);
    cpusim_free(&m);
}
END_TEST

/* The lab's cpu-balanced on a loaded host whose kernel now and then leaves a TCG guest's vCPU
 * runnable and not run for seconds, its wait accounted whole when it runs again
 * (docs/EVIDENCE.md#late-waits): four busy guests pinned two per pCPU, other load on pCPU 0, a
 * guest of pCPU 1 starved for one or two periods every ten. Fair and balanced by placement from
 * the start: no pin change in 60 periods (the estimates read such a period as a drop in demand,
 * and the first guest of pCPU 0 was exchanged for the starved one). */
START_TEST(late_waits_move_nothing)
{
    struct cpusim m;

    cpusim_init(&m, 2, false, _i);
    fake_set_run_queue(m.f, FAKE_WAKE_DELAY, FAKE_QUEUE_DELAY, FAKE_SPLIT);
    fake_set_background(m.f, 0, 0.3);
    cpusim_add_busy(&m, 2, 1.0, 0);
    cpusim_add_busy(&m, 2, 1.0, 1);
    for (int k = 1; k <= 60; k++) {
        cpusim_run(&m, k);
        if (k % 10 == 5)
            fake_set_starved(m.f, 2 + (k / 10) % 2, 0, k % 20 == 5 ? 1 : 2);
    }
    ck_assert_uint_eq(cpusim_moves(&m, 1, 60), 0);
    cpusim_free(&m);
}
END_TEST

/* Own moves are not demand (issue 17, item 1): on random small hosts whose vCPUs change their
 * demand once (so the averages are still settling when the scheduler acts), no plan acts in
 * the period right after our own moves; what it wanted then waits for the next period. Before,
 * 62 of 300 such hosts moved in two periods running; now none, with 3 % fewer pin changes in
 * all and the same balance at the end (docs/EVIDENCE.md#own-moves). */
START_TEST(no_move_right_after_own_moves)
{
    for (unsigned seed = 1; seed <= 60; seed++) {
        struct cpusim m;
        int np = 2 + (int)(seed % 3), n = 3 + (int)(seed % 7);
        cpusim_init(&m, np, false, FAKE_SIGNAL_WAIT_ZERO);
        for (int i = 0; i < n; i++) {
            unsigned u = (unsigned)i;
            double before = 0.1 + 0.1 * (double)((seed * 13 + u * 7) % 9);
            int id = cpusim_add_busy(&m, 1, before, (int)((seed + u * 3) % (unsigned)np));
            struct fake_cpu_load l = {.on = 0.1 + 0.1 * (double)((seed * 5 + u * 11) % 9),
                                      .change_at = 3.5 + (double)(i % 3),
                                      .before = before};
            fake_set_load(m.f, id, 0, &l);
        }
        fake_set_noise(m.f, 0.03, seed);
        cpusim_run(&m, 30);
        for (int p = 2; p < 30; p++)
            ck_assert_msg(m.moves[p] == 0 || m.moves[p + 1] == 0,
                          "host %u: pin changes in periods %d and %d", seed, p, p + 1);
        cpusim_free(&m);
    }
}
END_TEST

START_TEST(domain_vanishing_between_sample_and_act)
{
    struct cpusim m;

    cpusim_init(&m, 2, false, _i);
    cpusim_add_busy(&m, 4, 1.0, 0);
    fake_inject(m.f, FAKE_OP_PIN, -1, HV_GONE, 1);
    cpusim_run(&m, 2);
    ck_assert_uint_eq(m.gone, 1);
    ck_assert_uint_eq(m.failed, 0);
    cpusim_run(&m, 10);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 4, 0), 2);
    cpusim_free(&m);
}
END_TEST

START_TEST(failing_pin_does_not_stop_the_others)
{
    struct cpusim m;

    cpusim_init(&m, 4, false, _i);
    cpusim_add_busy(&m, 8, 1.0, 0);
    fake_inject(m.f, FAKE_OP_PIN, -1, HV_FAIL, 1); /* the first pin fails */
    cpusim_run(&m, 2);
    ck_assert_uint_eq(m.failed, 1);
    ck_assert_uint_eq(fake_calls(m.f, FAKE_OP_PIN), 6);
    cpusim_run(&m, 10);
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(cpusim_vcpus_on(&m, 8, p), 2);
    cpusim_free(&m);
}
END_TEST

START_TEST(without_wait_times)
{
    struct cpusim m;

    cpusim_init(&m, 4, false, _i);
    fake_set_signal(m.f, FAKE_SIGNAL_NONE);
    cpusim_add_busy(&m, 8, 1.0, 0);
    cpusim_run(&m, 30);
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(cpusim_vcpus_on(&m, 8, p), 2);
    ck_assert_double_le(m.sd[5], 5);
    ck_assert_uint_eq(cpusim_moves(&m, 5, 30), 0);
    cpusim_free(&m);
}
END_TEST

START_TEST(noise_does_not_cause_moves)
{
    struct cpusim m;

    cpusim_init(&m, 4, false, _i);
    for (int i = 0; i < 8; i++)
        cpusim_add_busy(&m, 1, 0.6, i / 2);
    fake_set_noise(m.f, 0.05, 42);
    cpusim_run(&m, 100);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 100), 0);
    cpusim_free(&m);
}
END_TEST

/* Three busy vCPUs on two pCPUs: 2+1 is as good as it gets, and 1+2 is only its mirror. With
 * demand estimates that vary by 20 % (as a loaded host gives), nothing moves once 2+1. */
START_TEST(odd_busy_count_is_not_mirrored)
{
    struct cpusim m;

    cpusim_init(&m, 2, false, _i);
    cpusim_add_busy(&m, 3, 1.0, 0);
    fake_set_noise(m.f, 0.2, 7);
    cpusim_run(&m, 100);
    /* 2+1 either way: neither pCPU left without a busy vCPU. */
    ck_assert_int_ge(cpusim_vcpus_on(&m, 3, 0), 1);
    ck_assert_int_ge(cpusim_vcpus_on(&m, 3, 1), 1);
    ck_assert_uint_le(cpusim_moves(&m, 1, 100), 1);
    cpusim_free(&m);
}
END_TEST

START_TEST(bursty_load_settles)
{
    struct cpusim m;
    struct fake_cpu_load l = {.on = 1.0, .off = 0.0, .on_s = 1, .off_s = 1};

    cpusim_init(&m, 4, false, _i);
    cpusim_add_busy(&m, 8, 1.0, 0);
    for (int d = 4; d < 8; d++)
        fake_set_load(m.f, d, 0, &l);
    cpusim_run(&m, 60);
    ck_assert_uint_le(cpusim_moves(&m, 1, 60), 10);
    ck_assert_uint_eq(cpusim_moves(&m, 20, 60), 0);
    cpusim_free(&m);
}
END_TEST

START_TEST(dry_run_changes_nothing)
{
    struct cpusim m;

    cpusim_init(&m, 4, true, _i);
    cpusim_add_busy(&m, 8, 1.0, 0);
    cpusim_run(&m, 5);
    ck_assert_uint_eq(fake_calls(m.f, FAKE_OP_PIN), 0);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 8, 0), 8);
    for (int p = 2; p <= 5; p++)
        ck_assert_uint_eq(m.moves[p], 6); /* still says what it would do */
    cpusim_free(&m);
}
END_TEST

START_TEST(restore_pins_puts_back_original_affinity)
{
    struct cpusim m;

    cpusim_init(&m, 4, false, _i);
    cpusim_add_busy(&m, 8, 1.0, 0);
    cpusim_add_busy(&m, 1, 1.0, -1);
    cpusim_run(&m, 10);
    ck_assert_int_ne(cpusim_vcpus_on(&m, 8, 0), 8);
    ck_assert_int_eq(fake_vcpu_pin(m.f, 8, 0), -1); /* the kernel balances it: left floating */
    /* 9 busy on 4 pCPUs: 2 or 3 stay on pCPU 0; every vCPU that was changed is restored. */
    size_t moved = cpusim_moves(&m, 1, 10);
    ck_assert_uint_ge(moved, 5);
    ck_assert_uint_le(moved, 6);
    ck_assert_uint_eq(sched_restore(m.s, fake_hv(m.f)), moved);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 8, 0), 8);
    cpusim_free(&m);
}
END_TEST

START_TEST(background_load_is_respected)
{
    struct cpusim m;

    cpusim_init(&m, 4, false, _i);
    fake_set_background(m.f, 0, 1.0);
    cpusim_add_busy(&m, 3, 1.0, 0);
    cpusim_run(&m, 20);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 3, 0), 0);
    ck_assert_uint_eq(cpusim_moves(&m, 6, 20), 0);
    cpusim_free(&m);
}
END_TEST

START_TEST(dedicated_vcpu_among_busy_ones)
{
    struct cpusim m;
    int d;

    /* The case: a vCPU its persistent definition pins to pCPU 1 (as dedicated-CPU
     * policies write it), three busy guests live-pinned beside it. 2+2 without moving it. */
    for (int first = 0; first < 2; first++) {
        cpusim_init(&m, 2, false, _i);
        if (!first)
            cpusim_add_busy(&m, 3, 1.0, 1);
        d = cpusim_add_busy(&m, 1, 1.0, -1);
        fake_define_pin(m.f, d, 0, "1");
        if (first)
            cpusim_add_busy(&m, 3, 1.0, 1);
        cpusim_run(&m, 30);
        ck_assert_int_eq(fake_vcpu_pin(m.f, d, 0), 1);
        ck_assert_int_eq(cpusim_vcpus_on(&m, 4, 0), 2);
        ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 2);
        ck_assert_double_le(cpusim_service_range(&m, 0, 4), 1);
        cpusim_free(&m);
    }
}
END_TEST

START_TEST(dedicated_vcpu_pinned_elsewhere_live_stays_there)
{
    struct cpusim m;
    int d;

    /* An earlier run moved the dedicated vCPU to pCPU 0 live: it is not moved back nor further;
     * its load counts where it runs, and the others make room. */
    cpusim_init(&m, 2, false, _i);
    d = cpusim_add_busy(&m, 1, 1.0, -1);
    fake_define_pin(m.f, d, 0, "1");
    fake_pin(m.f, d, 0, 0);
    cpusim_add_busy(&m, 3, 1.0, 0);
    cpusim_run(&m, 30);
    ck_assert_int_eq(fake_vcpu_pin(m.f, d, 0), 0);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 4, 0), 2);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 2);
    cpusim_free(&m);
}
END_TEST

START_TEST(dedicated_vcpus_of_a_set_float_within_it)
{
    struct cpusim m;
    int d;

    /* A definition pinning two busy vCPUs to two pCPUs of four: the kernel places them there,
     * they are never pinned to one of them, and their load counts on both: two busy guests on
     * pCPU 0 go to the two pCPUs left free. */
    cpusim_init(&m, 4, false, _i);
    d = fake_add_domain(m.f, "dedicated", 2);
    fake_set_demand(m.f, d, -1, 1.0);
    fake_define_pin(m.f, d, 0, "0-1");
    fake_define_pin(m.f, d, 1, "0-1");
    cpusim_add_busy(&m, 2, 1.0, 0);
    cpusim_run(&m, 30);
    ck_assert_int_eq(fake_vcpu_pin(m.f, d, 0), -1);
    ck_assert_int_eq(fake_vcpu_pin(m.f, d, 1), -1);
    ck_assert_int_ge(fake_vcpu_pin(m.f, 1, 0), 2);
    ck_assert_int_ge(fake_vcpu_pin(m.f, 2, 0), 2);
    ck_assert_int_ne(fake_vcpu_pin(m.f, 1, 0), fake_vcpu_pin(m.f, 2, 0));
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 2);
    cpusim_free(&m);
}
END_TEST

/* One-vCPU busy guests with SHARES, pinned to PIN; returns the first id. */
static int add_weighted(struct cpusim *m, int n, uint32_t shares, int pin)
{
    int first = cpusim_add_busy(m, n, 1.0, pin);

    for (int i = 0; i < n; i++)
        fake_set_cputune(m->f, first + i, shares, 0, 0);
    return first;
}

START_TEST(two_weights_share_in_proportion)
{
    struct cpusim m;

    /* Twice the shares on one pCPU with twice the shares beside them: each gets as much as a
     * guest with half its weight. Pairing heavy with light gives the heavy twice the time. */
    cpusim_init(&m, 2, false, _i);
    add_weighted(&m, 2, 2048, 0);
    add_weighted(&m, 2, 1024, 1);
    cpusim_run(&m, 30);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 2);
    ck_assert_uint_eq(cpusim_moves(&m, 4, 30), 0);
    ck_assert_int_eq(fake_vcpu_pin(m.f, 0, 0) + fake_vcpu_pin(m.f, 1, 0), 1);
    for (int d = 0; d < 2; d++) {
        ck_assert_double_eq_tol(fake_vcpu_run(m.f, d, 0), 2.0 / 3, 0.01);
        ck_assert_double_eq_tol(fake_vcpu_run(m.f, d + 2, 0), 1.0 / 3, 0.01);
    }
    cpusim_free(&m);
}
END_TEST

START_TEST(heavier_guest_never_served_less)
{
    struct cpusim m;

    /* Three busy guests on two pCPUs, the heavy one sharing: it gets 2/3 while the light one
     * alone gets a whole pCPU. The heavy one alone, the light ones together: 1 and 1/2. */
    cpusim_init(&m, 2, false, _i);
    add_weighted(&m, 1, 2048, 0);
    add_weighted(&m, 1, 1024, 0);
    add_weighted(&m, 1, 1024, 1);
    cpusim_run(&m, 30);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 1);
    ck_assert_double_eq_tol(fake_vcpu_run(m.f, 0, 0), 1.0, 0.01);
    ck_assert_double_eq_tol(fake_vcpu_run(m.f, 1, 0), 0.5, 0.01);
    ck_assert_double_eq_tol(fake_vcpu_run(m.f, 2, 0), 0.5, 0.01);
    cpusim_free(&m);
}
END_TEST

START_TEST(weight_even_placement_does_not_chase_background)
{
    struct cpusim m;

    /* Heavy with light on each pCPU (weights 200 and 100, small beside other work's 1024); then
     * other work takes most of pCPU 0. Moving a guest off it would balance the loads as
     * counted, and put three guests' weight on pCPU 1 and one on pCPU 0 (seen in a lab run,
     * where that work floated): nothing moves. */
    cpusim_init(&m, 2, false, _i);
    add_weighted(&m, 1, 200, 0);
    add_weighted(&m, 1, 100, 0);
    add_weighted(&m, 1, 200, 1);
    add_weighted(&m, 1, 100, 1);
    cpusim_run(&m, 10);
    fake_set_background(m.f, 0, 1.0);
    cpusim_run(&m, 40);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 40), 0);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 4, 0), 2);
    cpusim_free(&m);
}
END_TEST

START_TEST(equal_weights_change_nothing)
{
    struct cpusim m;

    /* Declared shares, all equal: as without them. */
    cpusim_init(&m, 2, false, _i);
    add_weighted(&m, 3, 4096, 0);
    add_weighted(&m, 1, 4096, 1);
    cpusim_run(&m, 30);
    ck_assert_uint_eq(m.moves[2], 1);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 1);
    ck_assert_double_le(cpusim_service_range(&m, 0, 4), 1);
    cpusim_free(&m);
}
END_TEST

START_TEST(capped_vcpu_leaves_room)
{
    struct cpusim m;
    int c;

    /* A vCPU with a quota of a quarter of a pCPU is alone on pCPU 0, two busy guests share pCPU
     * 1. Its delay (what its quota throttles) is no demand: pCPU 0 has room for one of them. */
    cpusim_init(&m, 2, false, _i);
    c = cpusim_add_busy(&m, 1, 1.0, 0);
    fake_set_cputune(m.f, c, 0, 25000, 100000);
    cpusim_add_busy(&m, 2, 1.0, 1);
    cpusim_run(&m, 30);
    ck_assert_int_eq(fake_vcpu_pin(m.f, c, 0), 0);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 30), 1);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 3, 0), 2);
    ck_assert_double_eq_tol(fake_vcpu_run(m.f, c, 0), 0.25, 0.01);
    cpusim_free(&m);
}
END_TEST

Suite *scheduler_suite(void)
{
    Suite *s = suite_create("scheduler");
    TCase *steady = tcase_create("closed loop");
    TCase *faults = tcase_create("churn and faults");
    TCase *opts = tcase_create("options");
    TCase *declared = tcase_create("declared pins, weights and quotas");

    tcase_add_loop_test(steady, already_balanced_stays_untouched, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, eight_on_pcpu0_of_four, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, unpinned_heavy_and_light, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, three_busy_one_light_on_two, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, floating_pinned_when_the_kernel_does_not_balance, 0,
                        FAKE_SIGNAL_COUNT);
    /* Without a run-queue counter a floating vCPU's demand is only what it ran: unseen. */
    tcase_add_loop_test(steady, floating_served_unequally_is_pinned, 0, FAKE_SIGNAL_NONE);
    tcase_add_loop_test(steady, unequal_service_at_the_start_alone_pins_nothing, 0,
                        FAKE_SIGNAL_NONE);
    tcase_add_loop_test(steady,
                        kernel_placed_class_served_unequally_for_two_periods_is_left_floating, 0,
                        FAKE_SIGNAL_NONE);
    tcase_add_loop_test(steady, kernel_placed_class_served_unequally_for_long_is_pinned, 0,
                        FAKE_SIGNAL_NONE);
    tcase_add_loop_test(steady, three_plus_one_is_two_plus_two_at_the_first_decision, 0,
                        FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, three_plus_one_is_made_fair, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, pcpu_counts_one_and_three, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, pcpu_count_64_random_pins, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, pcpu_count_256_all_on_one, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, multi_vcpu_domains, 0, FAKE_SIGNAL_COUNT);
    tcase_add_test(steady, without_wait_times);
    tcase_add_loop_test(steady, noise_does_not_cause_moves, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, odd_busy_count_is_not_mirrored, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, bursty_load_settles, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(steady, background_load_is_respected, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(faults, churn_domains_come_and_go, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(faults, churn_ends_fair, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(faults, churn_after_a_starved_start_ends_fair, 0, FAKE_SIGNAL_NONE);
    tcase_add_loop_test(faults, late_waits_move_nothing, 0, FAKE_SIGNAL_NONE);
    tcase_add_test(steady, no_move_right_after_own_moves);
    tcase_add_loop_test(faults, domain_vanishing_between_sample_and_act, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(faults, failing_pin_does_not_stop_the_others, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(opts, dry_run_changes_nothing, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(opts, restore_pins_puts_back_original_affinity, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(declared, dedicated_vcpu_among_busy_ones, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(declared, dedicated_vcpu_pinned_elsewhere_live_stays_there, 0,
                        FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(declared, dedicated_vcpus_of_a_set_float_within_it, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(declared, two_weights_share_in_proportion, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(declared, heavier_guest_never_served_less, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(declared, equal_weights_change_nothing, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(declared, weight_even_placement_does_not_chase_background, 0,
                        FAKE_SIGNAL_COUNT);
    /* Without a run-queue counter a capped vCPU shows what it ran: nothing to tell. */
    tcase_add_loop_test(declared, capped_vcpu_leaves_room, 0, FAKE_SIGNAL_COUNT);
    suite_add_tcase(s, steady);
    suite_add_tcase(s, faults);
    suite_add_tcase(s, opts);
    suite_add_tcase(s, declared);
    return s;
}
