/* Closed-loop tests of the memory coordinator (tests/unit/msim.h): guest statistics judged before
 * they are used (missing, stale, impossible, late, repeated, partial), and the page cache and
 * pressure read from them. */
#include <stdio.h>

#include "check_coordinator.h"
#include "memsignals.h"
#include "msim.h"

/* One guest cannot have its statistics turned on, the other has them turned on by the
 * coordinator: the first is left alone, the second fed. */
/* A balloon's move as memsignals sees it, one sample a second (docs/EVIDENCE.md#balloon-time):
 * settled only once still since before the sample before and with a new report; the least
 * size the balloon can have held at the guest's report. */
START_TEST(a_balloon_settles_after_its_move)
{
    struct memsig sig = {0};
    struct snap_mem m = {.flags = SNAP_MEM_BALLOON | SNAP_MEM_UNUSED, .max_kib = 2048 * MIB};
    static const struct {
        double t;
        uint64_t shown_mib, target_mib;
        bool fresh, settled;
        uint64_t low_mib;
    } steps[] = {
            {0, 512, 0, true, false, 512},    /* the first sample: nothing before it */
            {1, 512, 0, true, false, 512},    /* unchanged for 1 s: maybe between two events */
            {2, 512, 0, true, true, 512},     /* unchanged for 2 s: still */
            {3, 480, 384, true, false, 384},  /* shrinking toward our target */
            {4, 384, 384, true, false, 384},  /* at the target, first seen now */
            {5, 384, 384, true, true, 384},   /* at the target since the sample before */
            {6, 384, 384, false, false, 384}, /* a repeated report decides nothing */
            {7, 384, 700, true, false, 384},  /* growing toward a new target: not yet seen */
            {8, 600, 700, true, false, 384},  /* growing: the size before bounds it */
            {9, 700, 700, true, false, 600},  /* reached */
            {10, 700, 700, true, true, 700},  /* settled */
            {11, 650, 700, true, false, 0},   /* shrunk by someone else: no bound */
    };

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        m.actual_kib = steps[i].shown_mib * MIB;
        double target_t = steps[i].target_mib == 700 ? 6.5 : 2.5; /* when each was set */
        ck_assert_msg(memsig_settled(&sig, &m, steps[i].target_mib * MIB, target_t, steps[i].fresh,
                                     steps[i].t, 3.0) == steps[i].settled,
                      "at %.0f s", steps[i].t);
        ck_assert_msg(memsig_balloon_low(&sig, steps[i].target_mib * MIB) == steps[i].low_mib * MIB,
                      "at %.0f s: %llu", steps[i].t,
                      (unsigned long long)memsig_balloon_low(&sig, steps[i].target_mib * MIB));
    }
    /* Stuck short of the target (the guest gives no more): still after 3 s unchanged. */
    m.actual_kib = 500 * MIB;
    ck_assert(!memsig_settled(&sig, &m, 300 * MIB, 12, true, 12, 3.0));
    ck_assert(!memsig_settled(&sig, &m, 300 * MIB, 12, true, 14, 3.0));
    ck_assert(memsig_settled(&sig, &m, 300 * MIB, 12, true, 15, 3.0));
}
END_TEST

START_TEST(guest_without_statistics_is_left_alone)
{
    struct msim s;
    struct fake_mem_load grow = msim_growth(30, 1500, 0);

    msim_start(&s, &(struct msim_host){.ram_mib = 16384, .other_mib = 1024});
    msim_guest_without_stats(&s, 2048, 512, &grow); /* cannot turn statistics on */
    msim_guest_without_stats(&s, 2048, 512, &grow); /* turned on by the coordinator */
    fake_inject(s.f, FAKE_OP_MEMSTATS, 0, HV_FAIL, 1000);
    msim_run(&s, 40);
    msim_assert_fed(&s);
    ck_assert_uint_eq(s.changes[0], 0);
    ck_assert_uint_eq(fake_target_kib(s.f, 0), 512 * MIB);
    ck_assert_uint_eq(fake_calls(s.f, FAKE_OP_MEMSTATS), 2); /* asked once each, not per period */
    ck_assert_uint_gt(s.changes[1], 0);
    ck_assert_uint_eq(fake_oom_kills(s.f, 1), 0);
    msim_free(&s);
}
END_TEST

/* Six guests, each lying its own way, start growing at 15 s: none is grown. */
START_TEST(stale_and_impossible_statistics_are_not_trusted)
{
    static const enum hostile modes[] = {STALE,   UNUSED_ABOVE_ACTUAL,    AVAILABLE_ABOVE_MAX,
                                         ALL_MAX, USABLE_ABOVE_AVAILABLE, NO_STATS};
    struct msim s;
    struct fake_mem_load grow = msim_growth(30, 1500, 15);
    int n = (int)(sizeof(modes) / sizeof(modes[0]));
    unsigned stale_changes;

    msim_start(&s, &(struct msim_host){.ram_mib = 32768, .other_mib = 1024});
    for (int i = 0; i < n; i++) {
        msim_guest(&s, 2048, 1024, &grow);
        s.mode[i] = modes[i];
    }
    msim_run(&s, 14);
    stale_changes = s.changes[0];
    msim_run(&s, 60);
    msim_assert_fed(&s);
    for (int i = 0; i < n; i++) {
        ck_assert_uint_le(fake_target_kib(s.f, i), 1024 * MIB);
        if (modes[i] != STALE)
            ck_assert_uint_eq(s.changes[i], 0);
    }
    /* A guest that keeps reporting more unused memory than its balloon holds is a liar, not
     * late: it is called so once the statistics grace has passed. */
    ck_assert_uint_gt(s.impossible[1], 0);
    ck_assert_uint_eq(s.last_rep.guests[1].distrust, COORD_IMPOSSIBLE);
    /* The stale guest could be shrunk while its statistics looked fresh (10 s); never after,
     * not even when it starts growing at 15 s. */
    ck_assert_uint_eq(s.changes[0], stale_changes);
    msim_free(&s);
}
END_TEST

/* A guest that reports seldom (a guest booted moments before, on the lab's soak) can report
 * more free memory than its balloon holds once the balloon has moved: such a sample is older
 * than the balloon, not impossible. It decides nothing, and the guest is still shrunk to its
 * idle level, without a warning. */
START_TEST(statistics_older_than_the_balloon_are_not_impossible)
{
    struct msim s;
    int g;

    msim_start(&s, &(struct msim_host){.ram_mib = 16384, .other_mib = 1024, .period_s = 2});
    g = msim_guest_without_stats(&s, 2048, 1074, &msim_idle);
    fake_set_stats_every(s.f, g, 5);
    msim_run(&s, 60);
    msim_assert_fed(&s);
    ck_assert_uint_gt(s.misfits[g], 0); /* the case arose */
    ck_assert_uint_eq(s.impossible[g], 0);
    ck_assert_uint_eq(s.last_rep.guests[g].distrust, COORD_TRUSTED);
    ck_assert_uint_eq(s.stale_changes, 0);
    ck_assert_uint_le(fake_usable_kib(s.f, g), 150 * MIB);
    ck_assert_uint_ge(fake_usable_kib(s.f, g), 140 * MIB);
    msim_free(&s);
}
END_TEST

/* With PERIOD below the guest's statistics period most samples repeat the last report: they
 * decide nothing, and growth is measured on the guest's clock, not halved by the repeats. */
START_TEST(repeated_samples_decide_nothing)
{
    struct msim s;
    struct fake_mem_load grow = msim_growth(30, 1500, 5);
    int g;

    /* Statistics stay every 1 s. */
    msim_start(&s, &(struct msim_host){.ram_mib = 8192, .other_mib = 1024, .period_s = 0.5});
    g = msim_guest(&s, 2048, 512, &grow);
    msim_run(&s, 40);
    ck_assert_uint_eq(s.stale_changes, 0);
    ck_assert(s.last_rep.guests[g].view->rate_kib_s > 25 * MIB);
    ck_assert(s.last_rep.guests[g].view->rate_kib_s < 36 * MIB);
    msim_run(&s, 120);
    msim_assert_fed(&s);
    ck_assert_uint_eq(s.starving[g], 0);
    msim_free(&s);
}
END_TEST

/* Guests whose kernels report less: unused plus disk caches still sees the cache as headroom;
 * unused alone cannot, and grows a reader (the limit the warning names). */
START_TEST(guests_without_usable_fall_back)
{
    struct msim s;
    struct fake_cache_load reader = {.rate_kib_s = 40 * MIB, .span_kib = 2048 * MIB};
    int a, b;

    msim_start(&s, &(struct msim_host){.ram_mib = 8192, .other_mib = 1024});
    a = msim_guest(&s, 2048, 768, &msim_idle);
    b = msim_guest(&s, 2048, 768, &msim_idle);
    fake_set_stats_kind(s.f, a, FAKE_STATS_NO_USABLE);
    fake_set_stats_kind(s.f, b, FAKE_STATS_UNUSED_ONLY);
    fake_set_cache_load(s.f, a, &reader);
    fake_set_cache_load(s.f, b, &reader);
    msim_run(&s, 60);
    msim_assert_invariants(&s);
    ck_assert_uint_le(s.peak_actual[a], 768 * MIB);
    ck_assert_uint_lt(fake_actual_kib(s.f, a), 600 * MIB);
    ck_assert_int_eq(s.last_rep.guests[a].headroom_from, MEMSIG_UNUSED_CACHES);
    ck_assert_int_eq(s.last_rep.guests[b].headroom_from, MEMSIG_UNUSED);
    ck_assert_uint_gt(s.peak_actual[b], 768 * MIB); /* its cache looks like use */
    msim_free(&s);
}
END_TEST

/* A guest reading its disk fills its free memory with page cache: little unused, plenty usable
 * (as measured on a lab guest). It is not grown, and its cache is reclaimed like idle memory,
 * at the same pace; the guest that grows beside it never starves. */
START_TEST(cache_heavy_guest_is_not_grown_and_is_reclaimed)
{
    struct msim s;
    struct fake_cache_load reader = {.rate_kib_s = 40 * MIB, .span_kib = 2048 * MIB};
    struct fake_mem_load grow = msim_growth(25, 1500, 5);
    int r, g;
    unsigned shrink_periods;

    msim_start(&s, &(struct msim_host){.ram_mib = 8192, .other_mib = 1024});
    r = msim_guest(&s, 2048, 1024, &msim_idle);
    fake_set_cache_load(s.f, r, &reader);
    g = msim_guest(&s, 2048, 512, &grow);
    msim_run(&s, 30);
    /* The cache fills what the reader has: MemFree low, MemAvailable high. */
    msim_run(&s, 120);
    msim_assert_fed(&s);
    ck_assert_uint_gt(fake_cache_kib(s.f, r), 0);
    ck_assert_uint_le(s.peak_actual[r], 1024 * MIB); /* never grown beyond its start */
    ck_assert_uint_le(fake_usable_kib(s.f, r), 150 * MIB);
    ck_assert_uint_ge(fake_usable_kib(s.f, r), 100 * MIB);
    ck_assert_uint_eq(s.starving[g], 0);
    ck_assert_uint_eq(s.starving[r], 0);
    ck_assert_uint_eq(fake_oom_kills(s.f, g), 0);
    ck_assert_uint_ge(fake_actual_kib(s.f, g), (64 + 1500 + 100) * MIB);
    /* Reclaimed at the idle pace: one shrink step (1/16 of its maximum) a period. */
    shrink_periods = s.shrinks[r];
    ck_assert_uint_ge((uint64_t)shrink_periods * mem_shrink_step(2048 * MIB),
                      1024 * MIB - fake_actual_kib(s.f, r));
    msim_free(&s);
}
END_TEST

/* A reader that starts reading once shrunk to its idle size: while its cache fills, its kernel
 * counts half of the new cache (up to its low watermark) as not available, so its headroom drops
 * fast for a period or two (measured in the lab: 110 MiB in 2 s). That is not growth: it is not
 * grown ahead of it (4 periods at that rate). It is only given back the part of its headroom
 * that its kernel now keeps (the low watermark: 53 MiB of a 2 GiB guest), to stay at its idle
 * level. */
/* A reader whose 320 MiB disk fits its cache at 512 MiB, re-reading it as fast as it can, beside
 * three idle guests (PERIOD 2, 150 s): with the coordinator it keeps at least 90 % of what it
 * reads without it (a dry run: the same host, nothing applied), and the idle guests are still
 * reclaimed (docs/EVIDENCE.md#reclaim-cost). */
START_TEST(hot_cache_reader_keeps_its_throughput)
{
    double read[2];
    unsigned idle_shrinks = 0;

    for (int dry = 0; dry < 2; dry++) {
        struct fake_cache_load hot = {.rate_kib_s = FAKE_READ_MAX, .span_kib = 320 * MIB};
        struct msim s;
        int r;

        msim_start(&s, &(struct msim_host){
                               .ram_mib = 16384, .other_mib = 1024, .period_s = 2, .dry_run = dry});
        r = msim_guest(&s, 2048, 512, &msim_idle);
        fake_set_cache_load(s.f, r, &hot);
        for (int i = 0; i < 3; i++)
            msim_guest(&s, 2048, 512, &msim_idle);
        msim_run(&s, 75);
        read[dry] = fake_read_kib(s.f, r);
        for (int d = 1; d < 4 && !dry; d++)
            idle_shrinks += fake_actual_kib(s.f, d) < 400 * MIB;
        msim_free(&s);
    }
    printf("hot cache: the reader read %.0f MiB with the coordinator, %.0f without (%.2f)\n",
           read[0] / MIB, read[1] / MIB, read[0] / read[1]);
    ck_assert_msg(read[0] >= 0.9 * read[1], "read %.0f MiB with the coordinator, %.0f without",
                  read[0] / MIB, read[1] / MIB);
    ck_assert_uint_eq(idle_shrinks, 3);
}
END_TEST

START_TEST(cache_filling_is_not_growth)
{
    struct msim s;
    struct fake_cache_load reader = {.rate_kib_s = 40 * MIB, .span_kib = 2048 * MIB, .delay_s = 20};
    uint64_t idle_size;
    int r;

    msim_start(&s, &(struct msim_host){.ram_mib = 8192, .other_mib = 1024, .period_s = 2});
    r = msim_guest(&s, 2048, 512, &msim_idle);
    fake_set_cache_load(s.f, r, &reader);
    msim_run(&s, 9);
    ck_assert_uint_le(fake_usable_kib(s.f, r), 150 * MIB); /* idle size, before reading */
    idle_size = fake_actual_kib(s.f, r);
    s.peak_actual[r] = 0;
    msim_run(&s, 40);
    msim_assert_fed(&s);
    ck_assert_uint_gt(fake_cache_kib(s.f, r), 100 * MIB);
    ck_assert_uint_le(s.peak_actual[r], idle_size + 2048 * MIB * 26 / 1000 + MEM_MIN_CHANGE_KIB);
    ck_assert_uint_le(s.starving[r], 1); /* the sample that first shows the drop */
    msim_free(&s);
}
END_TEST

/* A reader of a disk larger than any cache (40 MiB/s of 2 GiB) that starts reading just after
 * its first shrink: its reads rise after a shrink, but it still has free memory for its cache
 * while they do (first reads, its own level), so it is not squeezed: never grown back, and
 * shrunk on to its idle level (the lab's mem-page-cache, where it was grown back). */
START_TEST(reader_starting_after_a_shrink_is_not_squeezed)
{
    for (double delay = 4; delay <= 8; delay += 2) {
        struct fake_cache_load reader = {
                .rate_kib_s = 40 * MIB, .span_kib = 2048 * MIB, .delay_s = delay};
        struct msim s;
        uint64_t before;
        int r, n = 0;

        msim_start(&s, &(struct msim_host){.ram_mib = 8192, .other_mib = 1024, .period_s = 2});
        r = msim_guest(&s, 2048, 512, &msim_idle);
        fake_set_cache_load(s.f, r, &reader);
        while (fake_actual_kib(s.f, r) >= 512 * MIB && n++ < 10)
            msim_run(&s, s.period + 1);
        before = fake_actual_kib(s.f, r);
        ck_assert_uint_lt(before, 512 * MIB); /* shrunk before it reads */
        s.peak_actual[r] = 0;
        msim_run(&s, s.period + 40);
        msim_assert_fed(&s);
        ck_assert_uint_gt(fake_cache_kib(s.f, r), 100 * MIB);
        ck_assert_msg(s.peak_actual[r] <= before,
                      "reading from %.0f s: grown to %llu MiB from %llu", delay,
                      (unsigned long long)(s.peak_actual[r] / MIB),
                      (unsigned long long)(before / MIB));
        ck_assert_uint_le(fake_actual_kib(s.f, r), 400 * MIB);
        msim_free(&s);
    }
}
END_TEST

/* A guest whose hot data is mapped (a database) looks idle: its cache is headroom. Shrunk below
 * its working set, it faults; it is given back what the shrinks took within 2 periods, and not
 * squeezed again while that floor is held. */
START_TEST(squeezed_guest_is_given_back_its_memory_and_held)
{
    struct msim s;
    struct fake_cache_load hot = {.rate_kib_s = 200 * MIB, .span_kib = 600 * MIB, .mapped = true};
    int h, sq, hold = (int)MEMSIG_HOLD_MIN_S;
    uint64_t back;

    msim_start(&s, &(struct msim_host){.ram_mib = 8192, .other_mib = 1024});
    h = msim_guest(&s, 2048, 1024, &msim_idle);
    fake_set_cache_load(s.f, h, &hot);
    msim_guest(&s, 2048, 512, &msim_idle);
    fake_advance(s.f, 30); /* it ran before the coordinator: its data is cached */
    msim_run(&s, 40);
    sq = s.squeezed_at[h];
    ck_assert_int_gt(sq, 0);
    ck_assert_uint_gt(fake_major_faults(s.f, h), 0);
    /* Within 2 periods it is back at the size before the shrinks that hurt. */
    back = s.last_rep.guests[h].view->hold_kib;
    ck_assert_uint_ge(back, 700 * MIB);
    msim_run(&s, sq + 2);
    ck_assert_uint_ge(fake_actual_kib(s.f, h), back);
    /* Held: no shrink below it until the hold-down ends. */
    s.low_actual[h] = UINT64_MAX;
    msim_run(&s, sq + hold - 1);
    ck_assert_uint_ge(s.low_actual[h], back);
    ck_assert_int_le(s.last_change[h], sq + 2);
    ck_assert_uint_eq(fake_oom_kills(s.f, h), 0);
    msim_assert_fed(&s);
    msim_free(&s);
}
END_TEST

TCase *coordinator_statistics_tcase(void)
{
    TCase *t = tcase_create("statistics");

    tcase_add_test(t, a_balloon_settles_after_its_move);
    tcase_add_test(t, guest_without_statistics_is_left_alone);
    tcase_add_test(t, stale_and_impossible_statistics_are_not_trusted);
    tcase_add_test(t, statistics_older_than_the_balloon_are_not_impossible);
    tcase_add_test(t, repeated_samples_decide_nothing);
    tcase_add_test(t, guests_without_usable_fall_back);
    tcase_add_test(t, cache_heavy_guest_is_not_grown_and_is_reclaimed);
    tcase_add_test(t, cache_filling_is_not_growth);
    tcase_add_test(t, hot_cache_reader_keeps_its_throughput);
    tcase_add_test(t, reader_starting_after_a_shrink_is_not_squeezed);
    tcase_add_test(t, squeezed_guest_is_given_back_its_memory_and_held);
    return t;
}
