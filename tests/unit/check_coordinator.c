/* Closed-loop tests of the memory coordinator against the fake host (tests/unit/msim.h): memory
 * goes where it is needed. The suite also runs check_coordinator_stats.c and
 * check_coordinator_props.c. */
#include "check_coordinator.h"
#include "msim.h"
#include "suites.h"

/* Idle guests are shrunk to their idle level and then left alone: never grown, at PERIOD 1 and
 * 2, whatever the phase of their reports, on the balloon as recorded (it moves for seconds, and
 * its size reaches the host up to a second late: docs/EVIDENCE.md#balloon-time). */
START_TEST(idle_guests_are_never_grown)
{
    for (double period = 1; period <= 2; period++) {
        struct msim s;

        msim_start(&s,
                   &(struct msim_host){.ram_mib = 16384, .other_mib = 1024, .period_s = period});
        for (int i = 0; i < 4; i++)
            fake_set_stats_phase(s.f, msim_guest(&s, 2048, 512, &msim_idle), 0.1 + 0.25 * i);
        msim_run(&s, 60);
        msim_assert_invariants(&s);
        for (int d = 0; d < 4; d++) {
            ck_assert_msg(s.changes[d] == s.shrinks[d], "PERIOD %g: guest %d grown %u times",
                          period, d, s.changes[d] - s.shrinks[d]);
            ck_assert_msg(s.last_change[d] < 30, "PERIOD %g: guest %d still moved at period %d",
                          period, d, s.last_change[d]);
            ck_assert_uint_le(fake_usable_kib(s.f, d), 160 * MIB);
            ck_assert_uint_ge(fake_usable_kib(s.f, d), 140 * MIB);
        }
        msim_free(&s);
    }
}
END_TEST

/* A guest already short of headroom when the coordinator starts is grown at its first sample
 * (its rate needs two samples, its headroom does not); with --once the first sample only
 * observes. */
START_TEST(a_guest_short_at_the_first_sample_is_grown_then)
{
    for (int once = 0; once < 2; once++) {
        struct fake_mem_load full = {.base_kib = 400 * MIB}; /* 512 - 400 - its kernel's 70 */
        struct msim s;
        int g;

        msim_start(&s, &(struct msim_host){.ram_mib = 8192,
                                           .other_mib = 1024,
                                           .period_s = 2,
                                           .observe_first = once});
        g = msim_guest(&s, 2048, 512, &full);
        msim_run(&s, 1);
        if (once)
            ck_assert_uint_eq(fake_target_kib(s.f, g), 512 * MIB);
        else
            ck_assert_uint_ge(fake_target_kib(s.f, g), (400 + 60 + 150) * MIB);
        msim_free(&s);
    }
}
END_TEST

/* --reclaim when-short: idle guests keep their memory while the host has more than twice its
 * reserve free, and give it back below that; always (the default) reclaims whatever. */
START_TEST(reclaim_when_short_waits_for_a_short_host)
{
    /* 16 GiB: plenty; 3 GiB with a reserve of 800 MiB: free (about 1.4 GiB) below 1.6 GiB. */
    static const struct {
        uint64_t ram_mib, reserve_mib;
        enum coord_reclaim reclaim;
        bool shrunk;
    } cases[] = {{16384, 0, COORD_RECLAIM_WHEN_SHORT, false},
                 {16384, 0, COORD_RECLAIM_ALWAYS, true},
                 {3072, 800, COORD_RECLAIM_WHEN_SHORT, true}};

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct msim s;

        msim_start(&s, &(struct msim_host){.ram_mib = cases[k].ram_mib,
                                           .other_mib = 1024,
                                           .reserve_mib = cases[k].reserve_mib,
                                           .reclaim = cases[k].reclaim});
        for (int i = 0; i < 4; i++)
            msim_guest(&s, 2048, 512, &msim_idle);
        msim_run(&s, 40);
        msim_assert_invariants(&s);
        for (int d = 0; d < 4; d++)
            ck_assert_msg((s.shrinks[d] > 0) == cases[k].shrunk, "case %zu, guest %d: %u shrinks",
                          k, d, s.shrinks[d]);
        msim_free(&s);
    }
}
END_TEST

/* A guest capped by its memory cgroup (<memtune> hard limit 1100 MiB, maximum 2048, the
 * hypervisor's own 150 MiB and 8 MiB a GiB) growing past it: grown to its cap less the
 * hypervisor's memory and a margin, then "capped", not starving; its memory cgroup never kills
 * it (the coordinator of before grew it until the host killed the VM: issue 18). */
START_TEST(a_capped_guest_is_never_grown_into_its_kill)
{
    struct fake_mem_load grow = msim_growth(25, 1700, 3);
    uint64_t peak_resident = 0;
    int capped = 0, starving_at_cap = 0;
    struct msim s;
    int g;

    msim_start(&s, &(struct msim_host){.ram_mib = 16384, .other_mib = 1024, .period_s = 2});
    fake_set_overhead(s.f, 150 * MIB);
    g = msim_guest(&s, 2048, 512, &grow);
    fake_set_memtune(s.f, g, 1100 * MIB, 0, 0);
    for (int p = 1; p <= 60; p++) {
        msim_run(&s, p);
        if (fake_resident_kib(s.f, g) > peak_resident)
            peak_resident = fake_resident_kib(s.f, g);
        capped += s.last_rep.guests[0].decision.reason == MEM_AT_CAP;
        starving_at_cap +=
                s.last_rep.guests[0].decision.reason == MEM_AT_CAP && s.last_rep.starving > 0;
    }
    ck_assert_uint_eq(fake_vm_kills(s.f), 0);
    ck_assert_uint_lt(peak_resident, 1100 * MIB);
    ck_assert_uint_gt(s.peak_actual[g], 700 * MIB); /* it was grown, up to its cap */
    ck_assert_int_gt(capped, 0);
    ck_assert_int_eq(starving_at_cap, 0);
    msim_free(&s);
}
END_TEST

/* A guest whose balloon ignores its targets is left alone once seen not to follow (max(10 s, 5
 * periods)), and warned of; the others go on. */
START_TEST(a_balloon_that_ignores_its_target_is_left_alone)
{
    struct msim s;
    int g;

    msim_start(&s, &(struct msim_host){.ram_mib = 16384, .other_mib = 1024, .period_s = 1});
    g = msim_guest(&s, 2048, 1024, &msim_idle);
    msim_guest(&s, 2048, 1024, &msim_idle);
    fake_set_balloon_stuck(s.f, g, true);
    msim_run(&s, 40);
    ck_assert_uint_eq(fake_actual_kib(s.f, g), 1024 * MIB);
    ck_assert_int_eq(s.last_rep.guests[0].decision.reason, MEM_IGNORES);
    ck_assert_uint_le(s.changes[g], 1);                    /* one target, then no more */
    ck_assert_uint_lt(fake_actual_kib(s.f, 1), 600 * MIB); /* the other is reclaimed */
    msim_free(&s);
}
END_TEST

START_TEST(one_grows_three_idle)
{
    struct msim s;
    struct fake_mem_load grow = msim_growth(50, 1800, 3);

    msim_start(&s, &(struct msim_host){.ram_mib = 16384, .other_mib = 1024});
    msim_guest(&s, 2048, 512, &grow);
    for (int i = 0; i < 3; i++)
        msim_guest(&s, 2048, 512, &msim_idle);
    msim_run(&s, 80);
    msim_assert_fed(&s);
    ck_assert_uint_eq(s.starving[0], 0);
    ck_assert_uint_eq(fake_oom_kills(s.f, 0), 0);
    ck_assert_uint_ge(fake_actual_kib(s.f, 0), (64 + 1800 + 100) * MIB);
    for (int d = 1; d < 4; d++) {
        /* Shrunk to 1.5 x min-unused of headroom (MemAvailable), not below the floor. */
        ck_assert_uint_le(fake_usable_kib(s.f, d), 150 * MIB);
        ck_assert_uint_ge(fake_usable_kib(s.f, d), 140 * MIB);
        ck_assert_uint_ge(fake_actual_kib(s.f, d), 200 * MIB);
        ck_assert_uint_eq(s.starving[d], 0);
    }
    msim_free(&s);
}
END_TEST

START_TEST(all_four_grow_until_the_reserve)
{
    struct msim s;
    struct fake_mem_load grow = msim_growth(40, 1900, 3);
    uint64_t total = 0;

    msim_start(&s, &(struct msim_host){.ram_mib = 6144, .other_mib = 1024, .reserve_mib = 1024});
    fake_set_overhead(s.f, 150 * MIB); /* QEMU's own memory, as in the TCG lab */
    for (int i = 0; i < 4; i++)
        msim_guest(&s, 2048, 512, &grow);
    msim_run(&s, 120);
    msim_assert_fed(&s);
    ck_assert_uint_ge(s.lowest_free, 1024 * MIB); /* the reserve holds */
    /* Fed until memory ran out: the host came close to its reserve. */
    ck_assert_uint_le(s.lowest_free, (1024 + 768) * MIB);
    for (int d = 0; d < 4; d++) {
        total += s.peak_actual[d];
        ck_assert_uint_gt(s.peak_actual[d], 800 * MIB); /* everyone got a fair part */
        ck_assert_uint_eq(s.starving[d], 0);
    }
    ck_assert_uint_ge(total, (6144 - 1024 - 1024 - 600 - 768) * MIB);
    msim_free(&s);
}
END_TEST

START_TEST(memory_moves_from_a_freeing_guest_to_a_growing_one)
{
    struct msim s;
    struct fake_mem_load first = msim_growth(60, 1500, 3), second = msim_growth(40, 1800, 60);
    uint64_t a_peak;

    first.hold_s = 20; /* then frees it all */
    /* 4.5 GiB: the guests' kernels keep 70 MiB each beyond their workloads. */
    msim_start(&s, &(struct msim_host){.ram_mib = 4608, .other_mib = 512, .reserve_mib = 1024});
    msim_guest(&s, 2048, 512, &first);
    msim_guest(&s, 2048, 512, &second);
    msim_guest(&s, 2048, 512, &msim_idle);
    msim_guest(&s, 2048, 512, &msim_idle);
    msim_run(&s, 50);
    a_peak = fake_actual_kib(s.f, 0);
    ck_assert_uint_ge(a_peak, 1500 * MIB);
    msim_run(&s, 160);
    msim_assert_fed(&s);
    /* The first gave back what it freed; the second got what it needed. */
    ck_assert_uint_le(fake_usable_kib(s.f, 0), 150 * MIB);
    ck_assert_uint_ge(fake_actual_kib(s.f, 1), (64 + 1800 + 64) * MIB);
    ck_assert_uint_eq(fake_oom_kills(s.f, 0), 0);
    ck_assert_uint_eq(fake_oom_kills(s.f, 1), 0);
    /* Without the first's memory the host could not have fed the second. */
    ck_assert_uint_gt(fake_actual_kib(s.f, 1) + a_peak, (4608 - 512 - 1024) * MIB);
    ck_assert_uint_ge(s.lowest_free, 1024 * MIB);
    msim_free(&s);
}
END_TEST

/* A guest backed by huge pages: its resident size excludes them (they come from the host's
 * pool), and ballooning cannot return them. It is left alone, and the budget is not driven
 * negative by it: the others are fed. */
START_TEST(hugepage_guest_is_left_alone_and_the_others_fed)
{
    struct msim s;
    struct fake_mem_load grow = msim_growth(30, 1200, 3);
    int h;

    /* A 4 GiB huge page pool. */
    msim_start(&s, &(struct msim_host){.ram_mib = 12288, .other_mib = 1024 + 4096});
    h = msim_guest(&s, 4096, 4096, &msim_idle);
    fake_set_hugepages(s.f, h, true);
    s.huge[h] = true;
    msim_guest(&s, 2048, 512, &grow);
    msim_guest(&s, 2048, 512, &grow);
    msim_run(&s, 80);
    msim_assert_fed(&s);
    ck_assert_uint_eq(s.changes[h], 0);
    ck_assert_uint_eq(fake_actual_kib(s.f, h), 4096 * MIB);
    ck_assert_int_eq(s.last_rep.guests[h].decision.reason, MEM_HUGEPAGES);
    for (int d = 1; d < 3; d++) {
        ck_assert_uint_eq(s.starving[d], 0);
        ck_assert_uint_eq(fake_oom_kills(s.f, d), 0);
        ck_assert_uint_ge(fake_actual_kib(s.f, d), (64 + 1200 + 100) * MIB);
    }
    ck_assert(!s.last_rep.short_of_memory);
    msim_free(&s);
}
END_TEST

/* A guest shrunk to its idle size starts growing at 25 MiB/s anywhere within a period (PERIOD 2,
 * statistics every 1 s, as in the lab): the sample that first shows the growth may find it
 * starving (the onset), but never the next one: the first interval of a growth shows on average
 * half of it, and the coordinator feeds it for twice that. */
START_TEST(growth_from_idle_is_fed_after_its_onset)
{
    for (int k = 0; k < 8; k++) {
        struct fake_mem_load grow = msim_growth(25, 1000, 20 + k * 0.25);
        struct msim s;
        int g;

        msim_start(&s, &(struct msim_host){.ram_mib = 8192, .other_mib = 1024, .period_s = 2});
        g = msim_guest(&s, 2048, 512, &grow);
        msim_run(&s, 40);
        msim_assert_fed(&s);
        ck_assert_uint_eq(s.starving_late[g], 0);
        ck_assert_uint_le(s.starving[g], 1);
        msim_free(&s);
    }
}
END_TEST

/* A guest that jumps from idle to 80 or 200 MiB/s (PERIOD 2): with autodeflate its balloon
 * deflates instead of an OOM kill, the coordinator takes the new size as starving and never
 * inflates it back; without autodeflate the faster jump is OOM-killed (the limit that
 * remains: docs/BENCHMARKS.md). */
START_TEST(sudden_onset_with_and_without_autodeflate)
{
    static const double rates[] = {80, 200};

    for (int k = 0; k < 4; k++) {
        struct fake_mem_load surge = msim_growth(rates[k / 2], 1200, 20);
        bool ad = k % 2;
        struct msim s;
        int g;

        msim_start(&s, &(struct msim_host){.ram_mib = 8192, .other_mib = 1024, .period_s = 2});
        g = msim_guest(&s, 2048, 512, &surge);
        fake_set_balloon_features(s.f, g, ad, ad);
        msim_run(&s, 9); /* idle: shrunk to its idle size */
        ck_assert_uint_le(fake_usable_kib(s.f, g), 150 * MIB);
        msim_run(&s, 60);
        msim_assert_invariants(&s);
        /* Deflated: its new size is held (60 s), never inflated back into the next OOM. */
        ck_assert_uint_eq(s.shrinks_held[g], 0);
        if (ad || rates[k / 2] < 100) {
            ck_assert_uint_eq(fake_oom_kills(s.f, g), 0);
            ck_assert_uint_ge(fake_actual_kib(s.f, g), (64 + 1200) * MIB);
        } else {
            ck_assert_uint_gt(fake_oom_kills(s.f, g), 0);
        }
        if (ad && rates[k / 2] > 100) {
            ck_assert_uint_gt(fake_deflations(s.f, g), 0);
            ck_assert_int_gt(s.deflated_at[g], 0);
        }
        msim_free(&s);
    }
}
END_TEST

/* With free page reporting, what a guest frees leaves the host's resident size: the host's free
 * memory rises, but the guest may touch it again at once. The budget keeps counting it as the
 * guest's, so that the reserve holds while guests free and grow again on a tight host. */
START_TEST(free_page_reporting_keeps_the_budget_right)
{
    struct msim s;
    struct fake_mem_load cycle = msim_growth(60, 900, 3);

    cycle.hold_s = 4; /* then frees it all, and grows again */
    cycle.repeat = true;
    msim_start(&s, &(struct msim_host){.ram_mib = 4096, .other_mib = 512, .reserve_mib = 768});
    for (int i = 0; i < 4; i++) {
        int g = msim_guest(&s, 2048, 512, &cycle);
        fake_set_balloon_features(s.f, g, false, true);
    }
    msim_run(&s, 150);
    msim_assert_invariants(&s); /* the reserve held, every period */
    ck_assert_uint_ge(s.lowest_free, 768 * MIB);
    msim_free(&s);
}
END_TEST

/* A guest bound to NUMA node 1 grows only from node 1's free memory; the unbound one is fed
 * from the rest. */
START_TEST(strict_numa_guest_grows_from_its_node)
{
    struct msim s;
    struct fake_mem_load grow = msim_growth(30, 1800, 3);
    int bound, free_one;

    msim_start(&s, &(struct msim_host){.ram_mib = 8192, .other_mib = 1024, .reserve_mib = 512});
    fake_set_node_ram(s.f, 0, 6144 * MIB);
    fake_set_node_ram(s.f, 1, 2048 * MIB - 512 * MIB);
    fake_set_node_ram(s.f, 2, 512 * MIB);
    bound = msim_guest(&s, 2048, 512, &grow);
    fake_set_numa(s.f, bound, 1u << 1);
    free_one = msim_guest(&s, 2048, 512, &grow);
    s.track_node1 = true;
    msim_run(&s, 100);
    msim_assert_invariants(&s);
    /* Node 1 (1.5 GiB) never gave more than it had above its part of the reserve (a third). */
    ck_assert_uint_ge(s.low_node_room + 8 * MIB, 512 * MIB / 3);
    ck_assert_uint_lt(fake_actual_kib(s.f, bound), 1536 * MIB);
    ck_assert_uint_eq(s.starving[free_one], 0);
    ck_assert_uint_ge(fake_actual_kib(s.f, free_one), (64 + 1800 + 100) * MIB);
    msim_free(&s);
}
END_TEST

START_TEST(reserve_options)
{
    struct coord_config c = {.reserve_default = true};

    ck_assert_uint_eq(coord_reserve_kib(&c, 1024 * MIB), 200 * MIB);
    ck_assert_uint_eq(coord_reserve_kib(&c, 24576 * MIB), 24576 * MIB / 20);
    c.reserve_default = false;
    c.reserve_pct = 10;
    ck_assert_uint_eq(coord_reserve_kib(&c, 10000 * MIB), 1000 * MIB);
    c.reserve_pct = 0;
    c.reserve_kib = 12345;
    ck_assert_uint_eq(coord_reserve_kib(&c, 10000 * MIB), 12345);
}
END_TEST

/* Two equally hungry guests on a short host: m0 weighs 3, and gets more. */
START_TEST(shares_split_a_short_host)
{
    static const struct coord_share shares[] = {{"m0", 3}};
    struct fake_mem_load grow = msim_growth(50, 1800, 3);
    struct msim s;

    msim_start(&s, &(struct msim_host){.ram_mib = 4096,
                                       .other_mib = 512,
                                       .reserve_mib = 1024,
                                       .shares = shares,
                                       .nshares = 1});
    msim_guest(&s, 4096, 256, &grow);
    msim_guest(&s, 4096, 256, &grow);
    msim_run(&s, 60);
    msim_assert_invariants(&s);
    ck_assert_uint_gt(s.peak_actual[0], s.peak_actual[1]);
    msim_free(&s);
}
END_TEST

/* A dry run sets no balloon, and still says what it would do. */
START_TEST(dry_run_sets_nothing)
{
    struct fake_mem_load grow = msim_growth(50, 1800, 3);
    struct msim s;

    msim_start(&s, &(struct msim_host){.ram_mib = 16384, .other_mib = 1024, .dry_run = true});
    msim_guest(&s, 2048, 512, &grow);
    msim_guest(&s, 2048, 1024, &msim_idle);
    msim_run(&s, 20);
    ck_assert_uint_eq(fake_calls(s.f, FAKE_OP_SETMEM), 0);
    ck_assert_uint_gt(s.changes[0] + s.changes[1], 0); /* it still says what it would do */
    msim_free(&s);
}
END_TEST

START_TEST(failing_balloon_call_does_not_stop_the_others)
{
    struct msim s;
    struct fake_mem_load grow = msim_growth(30, 1200, 3);

    msim_start(&s, &(struct msim_host){.ram_mib = 16384, .other_mib = 1024});
    msim_guest(&s, 2048, 512, &grow);
    msim_guest(&s, 2048, 512, &grow);
    /* Every balloon call for guest 0 fails (a wedged domain, say); guest 1 is still fed. */
    fake_inject(s.f, FAKE_OP_SETMEM, 0, HV_FAIL, 1000000);
    msim_run(&s, 60);
    ck_assert_uint_eq(fake_target_kib(s.f, 0), 512 * MIB);
    ck_assert_uint_ge(fake_actual_kib(s.f, 1), (64 + 1200 + 64) * MIB);
    ck_assert_uint_eq(fake_oom_kills(s.f, 1), 0);
    msim_free(&s);
}
END_TEST

/* A guest of 2048 MiB at 512 running LOAD, with its statistics on (STATS) or not. */
static void add_churning(struct msim *s, const struct fake_mem_load *load, bool stats)
{
    if (stats)
        msim_guest(s, 2048, 512, load);
    else
        msim_guest_without_stats(s, 2048, 512, load);
}

/* Guests destroyed, created (half of them without statistics), paused and resumed between
 * periods, and libvirtd restarting: the invariants hold throughout. */
START_TEST(churn_and_reconnection)
{
    struct msim s;
    struct fake_mem_load grow = msim_growth(30, 800, 0);
    int next = 0;

    grow.hold_s = 10; /* then frees it all, and grows again */
    grow.repeat = true;
    msim_start(&s, &(struct msim_host){.ram_mib = 16384, .other_mib = 1024});
    for (int i = 0; i < 4; i++)
        add_churning(&s, &grow, i % 2 == 0);
    for (int round = 0; round < 8; round++) {
        msim_run(&s, s.period + 5);
        fake_remove_domain(s.f, next++); /* destroyed between periods */
        add_churning(&s, &grow, round % 2 == 0);
        fake_set_paused(s.f, next, round % 2 == 0); /* paused and resumed */
        if (round == 3) {
            fake_set_down(s.f, true); /* libvirtd restarts */
            msim_run(&s, s.period + 3);
            fake_set_down(s.f, false);
        }
    }
    msim_run(&s, s.period + 20);
    msim_assert_invariants(&s);
    msim_free(&s);
}
END_TEST

TCase *coordinator_feeding_tcase(void)
{
    TCase *t = tcase_create("closed loop");

    tcase_add_test(t, idle_guests_are_never_grown);
    tcase_add_test(t, a_guest_short_at_the_first_sample_is_grown_then);
    tcase_add_test(t, reclaim_when_short_waits_for_a_short_host);
    tcase_add_test(t, a_capped_guest_is_never_grown_into_its_kill);
    tcase_add_test(t, a_balloon_that_ignores_its_target_is_left_alone);
    tcase_add_test(t, one_grows_three_idle);
    tcase_add_test(t, all_four_grow_until_the_reserve);
    tcase_add_test(t, memory_moves_from_a_freeing_guest_to_a_growing_one);
    tcase_add_test(t, hugepage_guest_is_left_alone_and_the_others_fed);
    tcase_add_test(t, growth_from_idle_is_fed_after_its_onset);
    tcase_add_test(t, sudden_onset_with_and_without_autodeflate);
    tcase_add_test(t, free_page_reporting_keeps_the_budget_right);
    tcase_add_test(t, strict_numa_guest_grows_from_its_node);
    tcase_add_test(t, reserve_options);
    tcase_add_test(t, shares_split_a_short_host);
    tcase_add_test(t, dry_run_sets_nothing);
    tcase_add_test(t, failing_balloon_call_does_not_stop_the_others);
    tcase_add_test(t, churn_and_reconnection);
    return t;
}

Suite *coordinator_suite(void)
{
    Suite *s = suite_create("coordinator");

    suite_add_tcase(s, coordinator_feeding_tcase());
    suite_add_tcase(s, coordinator_statistics_tcase());
    suite_add_tcase(s, coordinator_properties_tcase());
    return s;
}
