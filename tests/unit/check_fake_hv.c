/* Tests of the simulated host itself: the closed-loop tests are only as good as it is. */
#include <string.h>

#include "fake_hv.h"
#include "suites.h"

#define MIB FAKE_MIB

START_TEST(fair_share_and_wait)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct snapshot *s = snapshot_create();
    int a = fake_add_domain(f, "a", 3);

    fake_set_demand(f, a, -1, 1.0);
    fake_set_demand(f, a, 2, 0.3);
    fake_pin(f, a, 0, 0);
    fake_pin(f, a, 1, 0);
    fake_pin(f, a, 2, 1);
    fake_advance(f, 2);
    ck_assert_double_eq_tol(fake_vcpu_run(f, a, 0), 0.5, 1e-9);
    ck_assert_double_eq_tol(fake_vcpu_run(f, a, 1), 0.5, 1e-9);
    ck_assert_double_eq_tol(fake_vcpu_run(f, a, 2), 0.3, 1e-9);
    ck_assert_double_eq_tol(fake_pcpu_busy(f, 0), 1.0, 1e-9);
    ck_assert_double_eq_tol(fake_pcpu_busy(f, 1), 0.3, 1e-9);
    ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
    {
        const struct snap_vcpu *v = snapshot_vcpus(s, snapshot_domain(s, 0));
        ck_assert_uint_eq(v[0].time_ns, 1000000000ull);
        /* A stock kernel: wait reported as 0, the run-queue delay real. */
        ck_assert_uint_eq(v[0].flags & (SNAP_VCPU_WAIT | SNAP_VCPU_DELAY),
                          SNAP_VCPU_WAIT | SNAP_VCPU_DELAY);
        ck_assert_uint_eq(v[0].wait_ns, 0);
        ck_assert_uint_eq(v[0].delay_ns, 1000000000ull);
        ck_assert_uint_eq(v[2].delay_ns, 0);
        ck_assert_int_eq(v[2].pin, 1);
    }
    /* A busy vCPU beside a light one gets what the light one leaves. */
    fake_pin(f, a, 1, 1);
    fake_advance(f, 1);
    ck_assert_double_eq_tol(fake_vcpu_run(f, a, 1), 0.7, 1e-9);
    ck_assert_double_eq_tol(fake_vcpu_run(f, a, 0), 1.0, 1e-9);
    snapshot_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(signal_modes_and_time_granularity)
{
    static const unsigned flags[FAKE_SIGNAL_COUNT] = {
            SNAP_VCPU_WAIT | SNAP_VCPU_DELAY, SNAP_VCPU_WAIT | SNAP_VCPU_DELAY, SNAP_VCPU_DELAY, 0};

    for (int mode = 0; mode < FAKE_SIGNAL_COUNT; mode++) {
        struct fake_host *f = fake_create(1, 1 << 20, 0);
        struct snapshot *s = snapshot_create();
        int a = fake_add_domain(f, "a", 3);
        const struct snap_vcpu *v;

        fake_set_signal(f, (enum fake_signal)mode);
        fake_set_demand(f, a, -1, 1.0);
        fake_advance(f, 1.0);
        fake_advance(f, 0.0155); /* 1.0155 s: a third each, 338.5 ms */
        ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
        v = snapshot_vcpus(s, snapshot_domain(s, 0));
        ck_assert_uint_eq(v[0].flags & (SNAP_VCPU_WAIT | SNAP_VCPU_DELAY), flags[mode]);
        ck_assert_uint_eq(v[0].time_ns, 330000000ull); /* whole 10 ms ticks only */
        if (flags[mode] & SNAP_VCPU_DELAY)
            ck_assert_uint_gt(v[0].delay_ns, 670000000ull);
        if (flags[mode] & SNAP_VCPU_WAIT)
            ck_assert_uint_eq(v[0].wait_ns, mode == FAKE_SIGNAL_WAIT ? v[0].delay_ns : 0);
        snapshot_destroy(s);
        fake_destroy(f);
    }
}
END_TEST

START_TEST(refused_pcpus_fail_pins)
{
    struct fake_host *f = fake_create(4, 1 << 20, 0);
    struct snapshot *s = snapshot_create();
    const unsigned char *u;
    int a = fake_add_domain(f, "a", 1);

    fake_refuse_pcpu(f, 2, true);
    ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
    u = snapshot_domain(s, 0)->uuid;
    ck_assert_int_eq(hv_pin_vcpu(fake_hv(f), u, 0, 2, 4), HV_FAIL);
    ck_assert_int_eq(fake_vcpu_pin(f, a, 0), -1);
    ck_assert_int_eq(hv_pin_vcpu(fake_hv(f), u, 0, 3, 4), HV_OK);
    ck_assert_int_eq(fake_vcpu_pin(f, a, 0), 3);
    snapshot_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(floating_vcpus_spread_and_background_counts)
{
    struct fake_host *f = fake_create(4, 1 << 20, 0);
    int a = fake_add_domain(f, "a", 4);

    fake_set_demand(f, a, -1, 1.0);
    fake_set_background(f, 3, 1.0);
    fake_advance(f, 1);
    for (int p = 0; p < 4; p++)
        ck_assert_double_eq_tol(fake_pcpu_busy(f, p), 1.0, 1e-9);
    /* Three floating vCPUs take the idle pCPUs; the fourth shares pCPU 0 (the first of the
     * equally loaded ones), not the pCPU of the background task. */
    double total = 0;
    for (int k = 0; k < 4; k++)
        total += fake_vcpu_run(f, a, k);
    ck_assert_double_eq_tol(total, 3.0, 1e-9);
    ck_assert_double_eq_tol(fake_vcpu_run(f, a, 0), 0.5, 1e-9);
    fake_destroy(f);
}
END_TEST

START_TEST(bursty_and_changing_loads)
{
    struct fake_host *f = fake_create(1, 1 << 20, 0);
    int a = fake_add_domain(f, "a", 1);
    struct fake_cpu_load l = {
            .on = 0.8, .off = 0.1, .on_s = 2, .off_s = 1, .change_at = 3, .before = 0.5};

    fake_set_load(f, a, 0, &l);
    double want[] = {0.5, 0.5, 0.5, 0.8, 0.8, 0.1, 0.8};
    for (int i = 0; i < 7; i++) {
        fake_advance(f, 1);
        ck_assert_double_eq_tol(fake_vcpu_demand(f, a, 0), want[i], 1e-9);
    }
    fake_destroy(f);
}
END_TEST

START_TEST(memory_growth_balloon_and_oom)
{
    struct fake_host *f = fake_create(1, 4096 * MIB, 512 * MIB);
    struct fake_mem_load ml = {
            .base_kib = 100 * MIB, .rate_kib_s = 100 * MIB, .cap_kib = 1000 * MIB, .hold_s = -1};
    struct fake_mem_load idle = {.base_kib = 100 * MIB};
    struct snapshot *s = snapshot_create();
    int a = fake_add_domain(f, "a", 1), b = fake_add_domain(f, "b", 1);

    fake_set_memory(f, a, 2048 * MIB, 512 * MIB);
    fake_set_mem_load(f, a, &ml);
    fake_set_memory(f, b, 2048 * MIB, 512 * MIB);
    fake_set_mem_load(f, b, &idle);
    ck_assert_uint_eq(fake_host_free_kib(f), (4096 - 512 - 200) * MIB);
    fake_advance(f, 2);
    ck_assert_uint_eq(fake_used_kib(f, a), 300 * MIB);
    ck_assert_uint_eq(fake_host_free_kib(f), (4096 - 512 - 400) * MIB);
    /* The balloon cannot take memory in use. */
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    ck_assert_int_eq(hv_set_memory(fake_hv(f), snapshot_domain(s, 1)->uuid, 50 * MIB), HV_OK);
    fake_advance(f, 1);
    ck_assert_uint_eq(fake_target_kib(f, b), 50 * MIB);
    ck_assert_uint_eq(fake_actual_kib(f, b), 104 * MIB);
    ck_assert_uint_eq(fake_oom_kills(f, b), 0);
    /* Growing past what the guest has kills the workload. */
    ck_assert_uint_eq(fake_oom_kills(f, a), 0);
    fake_advance(f, 2);
    ck_assert_uint_eq(fake_oom_kills(f, a), 1);
    ck_assert_uint_eq(fake_used_kib(f, a), 100 * MIB);
    /* Above the maximum is refused, as libvirt does. */
    ck_assert_int_eq(hv_set_memory(fake_hv(f), snapshot_domain(s, 0)->uuid, 4096 * MIB), HV_FAIL);
    snapshot_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(stats_only_after_enabling)
{
    struct fake_host *f = fake_create(1, 4096 * MIB, 0);
    struct snapshot *s = snapshot_create();
    int a = fake_add_domain(f, "a", 1);
    const unsigned char *uuid;

    fake_set_memory(f, a, 1024 * MIB, 512 * MIB);
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    ck_assert_uint_eq(snapshot_domain(s, 0)->mem.flags, SNAP_MEM_BALLOON | SNAP_MEM_RSS);
    ck_assert_uint_eq(snapshot_domain(s, 0)->mem.actual_kib, 512 * MIB);
    uuid = snapshot_domain(s, 0)->uuid;
    ck_assert_int_eq(hv_enable_memstats(fake_hv(f), uuid, 2), HV_OK);
    fake_advance(f, 1);
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    ck_assert(!(snapshot_domain(s, 0)->mem.flags & SNAP_MEM_UNUSED));
    fake_advance(f, 1);
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    ck_assert(snapshot_domain(s, 0)->mem.flags & SNAP_MEM_UNUSED);
    ck_assert_uint_eq(snapshot_domain(s, 0)->mem.unused_kib, (512 - 64) * MIB);
    ck_assert(snapshot_has_host_memory(s));
    snapshot_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(faults_and_removal)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct snapshot *s = snapshot_create();
    int a = fake_add_domain(f, "a", 1);
    unsigned char uuid[SNAP_UUID_LEN];

    hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL);
    memcpy(uuid, snapshot_domain(s, 0)->uuid, SNAP_UUID_LEN);
    fake_inject(f, FAKE_OP_PIN, a, HV_FAIL, 1);
    ck_assert_int_eq(hv_pin_vcpu(fake_hv(f), uuid, 0, 1, 2), HV_FAIL);
    ck_assert_int_eq(hv_pin_vcpu(fake_hv(f), uuid, 0, 1, 2), HV_OK);
    ck_assert_int_eq(fake_vcpu_pin(f, a, 0), 1);
    ck_assert_int_eq(hv_pin_vcpu(fake_hv(f), uuid, 5, 1, 2), HV_FAIL);
    fake_set_down(f, true);
    ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL), HV_CONN);
    ck_assert_int_eq(hv_reconnect(fake_hv(f)), HV_CONN);
    fake_set_down(f, false);
    ck_assert_int_eq(hv_reconnect(fake_hv(f)), HV_OK);
    fake_remove_domain(f, a);
    ck_assert_int_eq(hv_pin_vcpu(fake_hv(f), uuid, 0, 0, 2), HV_GONE);
    hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL);
    ck_assert_uint_eq(snapshot_domain_count(s), 0);
    snapshot_destroy(s);
    fake_destroy(f);
}
END_TEST

Suite *fake_hv_suite(void)
{
    Suite *s = suite_create("fake_hv");
    TCase *cpu = tcase_create("cpu");
    TCase *mem = tcase_create("memory");

    tcase_add_test(cpu, fair_share_and_wait);
    tcase_add_test(cpu, signal_modes_and_time_granularity);
    tcase_add_test(cpu, refused_pcpus_fail_pins);
    tcase_add_test(cpu, floating_vcpus_spread_and_background_counts);
    tcase_add_test(cpu, bursty_and_changing_loads);
    tcase_add_test(cpu, faults_and_removal);
    tcase_add_test(mem, memory_growth_balloon_and_oom);
    tcase_add_test(mem, stats_only_after_enabling);
    suite_add_tcase(s, cpu);
    suite_add_tcase(s, mem);
    return s;
}
