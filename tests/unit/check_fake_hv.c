/* Tests of the simulated host itself: the closed-loop tests are only as good as it is. */
#include <string.h>

#include "fake_hv.h"
#include "suites.h"

#define MIB FAKE_MIB

START_TEST(fair_share_and_wait)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct snap *s = snap_create();
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
        const struct snap_vcpu *v = snap_vcpus(s, snap_domain(s, 0));
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
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(weights_quota_and_defined_pins)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct snap *s = snap_create();
    int h = fake_add_domain(f, "heavy", 1), l = fake_add_domain(f, "light", 1);
    int q = fake_add_domain(f, "capped", 2);
    const struct snap_tune *t;
    const struct snap_vcpu *v;

    /* Twice the shares, twice the time on a shared pCPU. */
    fake_set_cputune(f, h, 2048, 0, 0);
    fake_set_demand(f, h, -1, 1.0);
    fake_set_demand(f, l, -1, 1.0);
    fake_pin(f, h, 0, 0);
    fake_pin(f, l, 0, 0);
    /* A quota of a quarter: it runs a quarter, and waits for the rest as the kernel says. */
    fake_set_cputune(f, q, 0, 25000, 100000);
    fake_set_demand(f, q, -1, 1.0);
    fake_define_pin(f, q, 0, "1");
    ck_assert_int_eq(fake_vcpu_pin(f, q, 0), 1); /* applied live at once */
    fake_pin(f, q, 1, 1);
    fake_set_memtune(f, q, 1100 * MIB, 900 * MIB, 0);
    fake_advance(f, 3);
    ck_assert_double_eq_tol(fake_vcpu_run(f, h, 0), 2.0 / 3, 1e-9);
    ck_assert_double_eq_tol(fake_vcpu_run(f, l, 0), 1.0 / 3, 1e-9);
    ck_assert_double_eq_tol(fake_vcpu_run(f, q, 0), 0.25, 1e-9);
    ck_assert_double_eq_tol(fake_vcpu_run(f, q, 1), 0.25, 1e-9);
    ck_assert_double_eq_tol(fake_pcpu_busy(f, 1), 0.5, 1e-9);
    /* A live pin leaves the definition's pin as it was. */
    fake_pin(f, q, 0, 0);
    ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
    t = snap_domain_tune(s, snap_domain(s, 0));
    ck_assert_uint_eq(t->shares, 2048);
    ck_assert_uint_eq(t->flags, SNAP_TUNE_SHARES);
    t = snap_domain_tune(s, snap_domain(s, 1));
    ck_assert_uint_eq(t->shares, SNAP_DEFAULT_SHARES);
    ck_assert_uint_eq(t->flags, 0);
    t = snap_domain_tune(s, snap_domain(s, 2));
    ck_assert_uint_eq(t->flags, SNAP_TUNE_QUOTA | SNAP_TUNE_HARD_LIMIT | SNAP_TUNE_SOFT_LIMIT);
    ck_assert_uint_eq(t->vcpu_quota_us, 25000);
    ck_assert_uint_eq(t->hard_limit_kib, 1100 * MIB);
    v = snap_vcpus(s, snap_domain(s, 2));
    ck_assert_uint_eq(v[0].flags & SNAP_VCPU_DEFINED_PIN, SNAP_VCPU_DEFINED_PIN);
    ck_assert_uint_eq(v[1].flags & SNAP_VCPU_DEFINED_PIN, 0);
    ck_assert_int_eq(v[0].pin, 0);
    ck_assert_uint_eq(snap_vcpu_defined_pin(s, snap_domain(s, 2), 0)[0], 0x02);
    ck_assert_uint_eq(v[0].delay_ns, 2250000000ull);
    ck_assert_ptr_null(snap_vcpu_defined_pin(s, snap_domain(s, 0), 0));
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(signal_modes_and_time_granularity)
{
    static const unsigned flags[FAKE_SIGNAL_COUNT] = {
            SNAP_VCPU_WAIT | SNAP_VCPU_DELAY, SNAP_VCPU_WAIT | SNAP_VCPU_DELAY, SNAP_VCPU_DELAY, 0};

    for (int mode = 0; mode < FAKE_SIGNAL_COUNT; mode++) {
        struct fake_host *f = fake_create(1, 1 << 20, 0);
        struct snap *s = snap_create();
        int a = fake_add_domain(f, "a", 3);
        const struct snap_vcpu *v;

        fake_set_signal(f, (enum fake_signal)mode);
        fake_set_demand(f, a, -1, 1.0);
        fake_advance(f, 1.0);
        fake_advance(f, 0.0155); /* 1.0155 s: a third each, 338.5 ms */
        ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
        v = snap_vcpus(s, snap_domain(s, 0));
        ck_assert_uint_eq(v[0].flags & (SNAP_VCPU_WAIT | SNAP_VCPU_DELAY), flags[mode]);
        ck_assert_uint_eq(v[0].time_ns, 330000000ull); /* whole 10 ms ticks only */
        if (flags[mode] & SNAP_VCPU_DELAY)
            ck_assert_uint_gt(v[0].delay_ns, 670000000ull);
        if (flags[mode] & SNAP_VCPU_WAIT)
            ck_assert_uint_eq(v[0].wait_ns, mode == FAKE_SIGNAL_WAIT ? v[0].delay_ns : 0);
        snap_destroy(s);
        fake_destroy(f);
    }
}
END_TEST

/* The run time and delay of vCPU K of the first domain in a new sample of F, in ns. */
static void counters(struct fake_host *f, int k, uint64_t *time_ns, uint64_t *delay_ns)
{
    struct snap *s = snap_create();

    ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
    *time_ns = snap_vcpus(s, snap_domain(s, 0))[k].time_ns;
    *delay_ns = snap_vcpus(s, snap_domain(s, 0))[k].delay_ns;
    snap_destroy(s);
}

/* A starved vCPU (docs/EVIDENCE.md#late-waits): while the kernel does not run it, its run time
 * and delay stand still and the vCPU beside it gets the whole pCPU; its wait shows whole in the
 * first advance it runs in. */
START_TEST(starved_vcpu_waits_are_accounted_when_they_end)
{
    struct fake_host *f = fake_create(1, 1 << 20, 0);
    int a = fake_add_domain(f, "a", 2);
    uint64_t t0, d0, t1, d1, t2, d2;

    fake_set_demand(f, a, -1, 1.0);
    fake_advance(f, 1);
    counters(f, 0, &t0, &d0);
    fake_set_starved(f, a, 0, 2);
    fake_advance(f, 1);
    fake_advance(f, 1);
    counters(f, 0, &t1, &d1);
    ck_assert_uint_eq(t1, t0);
    ck_assert_uint_eq(d1, d0);
    ck_assert_double_eq_tol(fake_vcpu_run(f, a, 1), 1.0, 1e-9);
    fake_advance(f, 1);
    counters(f, 0, &t2, &d2);
    ck_assert_uint_eq(t2 - t1, 500000000ull);
    ck_assert_uint_eq(d2 - d1, 2500000000ull); /* 2 s starved, then half of this second */
    fake_destroy(f);
}
END_TEST

START_TEST(refused_pcpus_fail_pins)
{
    struct fake_host *f = fake_create(4, 1 << 20, 0);
    struct snap *s = snap_create();
    const unsigned char *u;
    int a = fake_add_domain(f, "a", 1);

    fake_refuse_pcpu(f, 2, true);
    ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
    u = snap_domain(s, 0)->uuid;
    ck_assert_int_eq(hv_pin_vcpu(fake_hv(f), u, 0, 2, 4), HV_FAIL);
    ck_assert_int_eq(fake_vcpu_pin(f, a, 0), -1);
    ck_assert_int_eq(hv_pin_vcpu(fake_hv(f), u, 0, 3, 4), HV_OK);
    ck_assert_int_eq(fake_vcpu_pin(f, a, 0), 3);
    snap_destroy(s);
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
    struct snap *s = snap_create();
    int a = fake_add_domain(f, "a", 1), b = fake_add_domain(f, "b", 1);

    fake_set_memory(f, a, 2048 * MIB, 512 * MIB);
    fake_set_mem_load(f, a, &ml);
    fake_set_memory(f, b, 2048 * MIB, 512 * MIB);
    fake_set_mem_load(f, b, &idle);
    fake_set_balloon_rate(f, 1024 * MIB); /* what is tested here is where it stops, not when */
    ck_assert_uint_eq(fake_host_free_kib(f), (4096 - 512 - 200) * MIB);
    fake_advance(f, 2);
    ck_assert_uint_eq(fake_used_kib(f, a), 300 * MIB);
    ck_assert_uint_eq(fake_host_free_kib(f), (4096 - 512 - 400) * MIB);
    /* The balloon cannot take memory in use. */
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    ck_assert_int_eq(hv_set_memory(fake_hv(f), snap_domain(s, 1)->uuid, 50 * MIB), HV_OK);
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
    ck_assert_int_eq(hv_set_memory(fake_hv(f), snap_domain(s, 0)->uuid, 4096 * MIB), HV_FAIL);
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(stats_only_after_enabling)
{
    struct fake_host *f = fake_create(1, 4096 * MIB, 0);
    struct snap *s = snap_create();
    int a = fake_add_domain(f, "a", 1);
    const unsigned char *uuid;

    fake_set_memory(f, a, 1024 * MIB, 512 * MIB);
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    ck_assert_uint_eq(snap_domain(s, 0)->mem.flags, SNAP_MEM_BALLOON | SNAP_MEM_RSS);
    ck_assert_uint_eq(snap_domain(s, 0)->mem.actual_kib, 512 * MIB);
    uuid = snap_domain(s, 0)->uuid;
    ck_assert_int_eq(hv_enable_memstats(fake_hv(f), uuid, 2), HV_OK);
    fake_advance(f, 1);
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    ck_assert(!(snap_domain(s, 0)->mem.flags & SNAP_MEM_UNUSED));
    fake_advance(f, 1);
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    ck_assert(snap_domain(s, 0)->mem.flags & SNAP_MEM_UNUSED);
    ck_assert_uint_eq(snap_domain(s, 0)->mem.unused_kib, (512 - 64) * MIB);
    ck_assert(snap_has_host_memory(s));
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

/* Samples F and returns domain 0's memory as libvirt would report it. */
static struct snap_mem mem_of(struct fake_host *f, struct snap *s)
{
    ck_assert_int_eq(hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL), HV_OK);
    return snap_domain(s, 0)->mem;
}

START_TEST(page_cache_fills_free_memory_and_goes_first)
{
    struct fake_host *f = fake_create(1, 8192 * MIB, 0);
    struct snap *s = snap_create();
    int a = fake_add_domain(f, "a", 1);
    struct fake_cache_load reader = {.rate_kib_s = 40 * MIB, .span_kib = 2048 * MIB};
    struct snap_mem m;

    fake_set_memory(f, a, 2048 * MIB, 512 * MIB);
    fake_set_stats(f, a, true);
    fake_set_cache_load(f, a, &reader);
    fake_advance(f, 30);
    m = mem_of(f, s);
    /* As measured on a lab guest reading its disk: MemFree low, MemAvailable high. */
    ck_assert_uint_lt(m.unused_kib, 100 * MIB);
    ck_assert_uint_gt(m.usable_kib, 200 * MIB);
    ck_assert_uint_gt(m.disk_caches_kib, 300 * MIB);
    ck_assert_uint_lt(m.usable_kib, m.unused_kib + m.disk_caches_kib);
    ck_assert_uint_eq(m.major_fault, 0); /* buffered reads are not faults */
    /* Squeezed, the balloon takes the cache; the workload does not notice. */
    ck_assert_int_eq(hv_set_memory(fake_hv(f), snap_domain(s, 0)->uuid, 300 * MIB), HV_OK);
    fake_advance(f, 212.0 / 40 + 0.5); /* 212 MiB at the balloon's 40 MiB/s */
    ck_assert_uint_eq(fake_actual_kib(f, a), 300 * MIB);
    ck_assert_uint_lt(fake_cache_kib(f, a), 240 * MIB);
    ck_assert_uint_eq(fake_oom_kills(f, a), 0);
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(statistics_repeat_between_updates)
{
    struct fake_host *f = fake_create(1, 8192 * MIB, 0);
    struct snap *s = snap_create();
    int a = fake_add_domain(f, "a", 1);
    struct fake_mem_load grow = {
            .base_kib = 64 * MIB, .rate_kib_s = 20 * MIB, .cap_kib = 1000 * MIB, .hold_s = -1};
    struct snap_mem m1, m2;

    fake_set_memory(f, a, 2048 * MIB, 1024 * MIB);
    fake_set_mem_load(f, a, &grow);
    fake_set_stats(f, a, true);
    m1 = mem_of(f, s);
    ck_assert_int_eq(hv_enable_memstats(fake_hv(f), snap_domain(s, 0)->uuid, 4), HV_OK);
    fake_advance(f, 4.5);
    m1 = mem_of(f, s);
    fake_advance(f, 2);
    m2 = mem_of(f, s);
    /* 2 s later, the guest has not reported again: the same figures, the same last_update. */
    ck_assert_uint_eq(m1.last_update, m2.last_update);
    ck_assert_uint_eq(m1.unused_kib, m2.unused_kib);
    fake_advance(f, 2);
    m2 = mem_of(f, s);
    ck_assert_uint_eq(m2.last_update, m1.last_update + 4);
    ck_assert_uint_lt(m2.unused_kib, m1.unused_kib);
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(squeezed_working_set_faults_and_swaps)
{
    struct fake_host *f = fake_create(1, 8192 * MIB, 0);
    struct snap *s = snap_create();
    int a = fake_add_domain(f, "mapped", 1), b = fake_add_domain(f, "swapper", 1);
    struct fake_cache_load hot = {.rate_kib_s = 40 * MIB, .span_kib = 300 * MIB, .mapped = true};
    struct fake_mem_load held = {
            .base_kib = 64 * MIB, .rate_kib_s = 100 * MIB, .cap_kib = 400 * MIB, .hold_s = -1};
    double faults, swapins;

    fake_set_memory(f, a, 2048 * MIB, 512 * MIB);
    fake_set_cache_load(f, a, &hot);
    fake_set_memory(f, b, 2048 * MIB, 1024 * MIB);
    fake_set_mem_load(f, b, &held);
    fake_set_swap(f, b, 1024 * MIB);
    fake_advance(f, 20);
    faults = fake_major_faults(f, a);
    fake_advance(f, 20);
    ck_assert(fake_major_faults(f, a) - faults < 1); /* the span fits: no more faults */
    ck_assert(fake_swap_ins_kib(f, b) == 0);
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    hv_set_memory(fake_hv(f), snap_domain(s, 0)->uuid, 250 * MIB);
    hv_set_memory(fake_hv(f), snap_domain(s, 1)->uuid, 300 * MIB);
    faults = fake_major_faults(f, a);
    fake_advance(f, 20);
    /* Below its working set: the mapped reader faults, the swapper swaps (no OOM kill). */
    ck_assert(fake_major_faults(f, a) - faults > 3); /* ~0.25 a second: 16 MiB/s missed */
    ck_assert_uint_eq(fake_actual_kib(f, b), 300 * MIB);
    ck_assert_uint_gt(fake_swapped_kib(f, b), 100 * MIB);
    swapins = fake_swap_ins_kib(f, b);
    fake_advance(f, 5);
    ck_assert(fake_swap_ins_kib(f, b) - swapins > 100 * MIB);
    ck_assert_uint_eq(fake_oom_kills(f, b), 0);
    /* Given its memory back, the swapped memory returns and the swap-ins stop. */
    hv_set_memory(fake_hv(f), snap_domain(s, 1)->uuid, 1024 * MIB);
    fake_advance(f, 60);
    ck_assert_uint_eq(fake_swapped_kib(f, b), 0);
    swapins = fake_swap_ins_kib(f, b);
    fake_advance(f, 5);
    ck_assert(fake_swap_ins_kib(f, b) == swapins);
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(autodeflate_instead_of_oom)
{
    struct fake_host *f = fake_create(1, 8192 * MIB, 0);
    struct snap *s = snap_create();
    int a = fake_add_domain(f, "a", 1);
    struct fake_mem_load surge = {
            .base_kib = 64 * MIB, .rate_kib_s = 80 * MIB, .cap_kib = 1000 * MIB, .hold_s = -1};
    struct snap_mem m;

    fake_set_memory(f, a, 2048 * MIB, 300 * MIB);
    fake_set_balloon_features(f, a, true, false);
    fake_set_mem_load(f, a, &surge);
    fake_set_stats(f, a, true);
    fake_advance(f, 10);
    ck_assert_uint_eq(fake_oom_kills(f, a), 0);
    ck_assert_uint_gt(fake_deflations(f, a), 0);
    ck_assert_uint_ge(fake_actual_kib(f, a), (64 + 800) * MIB);
    ck_assert_uint_eq(fake_target_kib(f, a), 300 * MIB); /* not re-inflated toward it */
    m = mem_of(f, s);
    ck_assert(snap_domain(s, 0)->cfg & SNAP_CFG_AUTODEFLATE);
    ck_assert_uint_gt(m.available_kib, m.actual_kib); /* MemTotal stays at the boot size */
    /* It deflates just enough: its workload and the kernel's minimum free memory. */
    fake_advance(f, 20);
    ck_assert_uint_eq(fake_actual_kib(f, a), (1064 + 4) * MIB);
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(free_page_reporting_hugepages_and_numa)
{
    struct fake_host *f = fake_create(2, 8192 * MIB, 1024 * MIB);
    struct snap *s = snap_create();
    int a = fake_add_domain(f, "fpr", 1), b = fake_add_domain(f, "plain", 1);
    int c = fake_add_domain(f, "huge", 1);
    struct fake_mem_load burst = {
            .base_kib = 64 * MIB, .rate_kib_s = 100 * MIB, .cap_kib = 300 * MIB, .hold_s = 1};
    uint64_t free0;

    for (int d = 0; d < 3; d++) {
        fake_set_memory(f, d, 2048 * MIB, 1024 * MIB);
        fake_set_mem_load(f, d, &burst);
    }
    fake_set_balloon_features(f, a, false, true);
    fake_set_hugepages(f, c, true);
    fake_set_node_ram(f, 0, 4096 * MIB);
    fake_set_node_ram(f, 1, 4096 * MIB);
    fake_set_numa(f, b, 2);
    free0 = fake_host_free_kib(f);
    fake_advance(f, 10);
    /* Both used 364 MiB and freed 300: with free page reporting the host has it back. */
    ck_assert_uint_le(fake_touched_kib(f, a), (64 + 8) * MIB);
    ck_assert_uint_ge(fake_touched_kib(f, b), 364 * MIB);
    /* Huge pages come from the host's pool: not in its resident size, not off free memory. */
    hv_sample(fake_hv(f), s, HV_SAMPLE_MEM, NULL, NULL);
    ck_assert_uint_eq(snap_domain(s, 2)->mem.rss_kib, 0);
    ck_assert(snap_domain(s, 2)->cfg & SNAP_CFG_HUGEPAGES);
    ck_assert_uint_eq(free0 - fake_host_free_kib(f),
                      fake_touched_kib(f, a) + fake_touched_kib(f, b) - 2 * 64 * MIB);
    /* The bound guest's memory is node 1's; the host's own fills node 0 first. */
    {
        uint64_t n0, n1;
        ck_assert(snap_node_free_kib(s, 0, &n0) && snap_node_free_kib(s, 1, &n1));
        ck_assert_uint_eq(n1, 4096 * MIB - fake_touched_kib(f, b));
        ck_assert_uint_eq(n0 + n1, fake_host_free_kib(f));
    }
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(guests_without_usable)
{
    struct fake_host *f = fake_create(1, 8192 * MIB, 0);
    struct snap *s = snap_create();
    int a = fake_add_domain(f, "a", 1);
    struct snap_mem m;

    fake_set_memory(f, a, 2048 * MIB, 512 * MIB);
    fake_set_stats(f, a, true);
    fake_set_stats_kind(f, a, FAKE_STATS_NO_USABLE);
    fake_advance(f, 2);
    m = mem_of(f, s);
    ck_assert(!(m.flags & SNAP_MEM_USABLE) && (m.flags & SNAP_MEM_DISK_CACHES));
    fake_set_stats_kind(f, a, FAKE_STATS_UNUSED_ONLY);
    fake_advance(f, 2);
    m = mem_of(f, s);
    ck_assert(!(m.flags & (SNAP_MEM_USABLE | SNAP_MEM_DISK_CACHES)) && (m.flags & SNAP_MEM_UNUSED));
    snap_destroy(s);
    fake_destroy(f);
}
END_TEST

START_TEST(faults_and_removal)
{
    struct fake_host *f = fake_create(2, 1 << 20, 0);
    struct snap *s = snap_create();
    int a = fake_add_domain(f, "a", 1);
    unsigned char uuid[SNAP_UUID_LEN];

    hv_sample(fake_hv(f), s, HV_SAMPLE_CPU, NULL, NULL);
    memcpy(uuid, snap_domain(s, 0)->uuid, SNAP_UUID_LEN);
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
    ck_assert_uint_eq(snap_domain_count(s), 0);
    snap_destroy(s);
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
    tcase_add_test(cpu, weights_quota_and_defined_pins);
    tcase_add_test(cpu, starved_vcpu_waits_are_accounted_when_they_end);
    tcase_add_test(cpu, refused_pcpus_fail_pins);
    tcase_add_test(cpu, floating_vcpus_spread_and_background_counts);
    tcase_add_test(cpu, bursty_and_changing_loads);
    tcase_add_test(cpu, faults_and_removal);
    tcase_add_test(mem, memory_growth_balloon_and_oom);
    tcase_add_test(mem, stats_only_after_enabling);
    tcase_add_test(mem, page_cache_fills_free_memory_and_goes_first);
    tcase_add_test(mem, statistics_repeat_between_updates);
    tcase_add_test(mem, squeezed_working_set_faults_and_swaps);
    tcase_add_test(mem, autodeflate_instead_of_oom);
    tcase_add_test(mem, free_page_reporting_hugepages_and_numa);
    tcase_add_test(mem, guests_without_usable);
    suite_add_tcase(s, cpu);
    suite_add_tcase(s, mem);
    return s;
}
