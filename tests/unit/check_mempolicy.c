/* Tests of the pure memory policy. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mempolicy.h"
#include "memsignals.h"
#include "rng.h"
#include "suites.h"
#include "util.h"

#define MIB 1024ull

static const struct mem_config cfg = {.min_unused_kib = 100 * MIB,
                                      .floor_kib = 200 * MIB,
                                      .host_reserve_kib = 1024 * MIB,
                                      .period_s = 1};

/* A trusted guest of MAX_MIB using USED_MIB of ACTUAL_MIB, growing RATE MiB/s. */
static struct mem_guest guest(uint64_t actual_mib, uint64_t used_mib, uint64_t max_mib,
                              double rate_mib_s)
{
    struct mem_guest g = {.actual_kib = actual_mib * MIB,
                          .max_kib = max_mib * MIB,
                          .headroom_kib = (actual_mib - used_mib) * MIB,
                          .rate_kib_s = rate_mib_s * MIB,
                          .rate_known = true,
                          .weight = 1,
                          .trusted = true,
                          .fresh = true,
                          .settled = true};
    return g;
}

static struct mem_host plenty = {.free_kib = 16384 * MIB, .known = true};

START_TEST(starving_guest_gets_room_to_grow)
{
    struct mem_guest g[] = {guest(512, 450, 2048, 20)};
    struct mem_plan p;

    ck_assert_int_eq(mem_plan(&cfg, &plenty, g, 1, &p), 0);
    ck_assert_int_eq(p.d[0].reason, MEM_STARVING);
    /* used 450 + 100 unused + 4 periods x 20 MiB */
    ck_assert_uint_eq(p.d[0].target_kib, (450 + 100 + 80) * MIB);
    ck_assert(p.d[0].change);
    ck_assert_uint_eq(p.starving, 1);
    ck_assert_uint_eq(p.granted_kib, 118 * MIB);
    mem_plan_free(&p);
}
END_TEST

START_TEST(about_to_starve_counts_as_starving)
{
    /* 150 MiB unused, but 60 MiB/s growth leaves 90 by the next period. */
    struct mem_guest g[] = {guest(600, 450, 2048, 60)};
    struct mem_plan p;

    mem_plan(&cfg, &plenty, g, 1, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_STARVING);
    mem_plan_free(&p);
}
END_TEST

START_TEST(two_periods_of_warning)
{
    /* 180 MiB unused at 50 MiB/s: above the minimum after one period, below it after two. */
    struct mem_guest g[] = {guest(600, 420, 2048, 50), guest(600, 380, 2048, 50)};
    struct mem_plan p;

    mem_plan(&cfg, &plenty, g, 2, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_STARVING);
    ck_assert_uint_eq(p.d[0].target_kib, (420 + 100 + 4 * 50) * MIB);
    ck_assert_int_eq(p.d[1].reason, MEM_KEEP); /* 220 MiB: fine for two periods */
    mem_plan_free(&p);
}
END_TEST

START_TEST(growth_is_bounded_by_step_and_maximum)
{
    struct mem_guest g[] = {guest(512, 500, 4096, 500), guest(1000, 990, 1024, 10)};
    struct mem_plan p;

    mem_plan(&cfg, &plenty, g, 2, &p);
    ck_assert_uint_eq(p.d[0].target_kib, 512 * MIB + mem_grow_step(4096 * MIB));
    ck_assert_uint_eq(p.d[1].target_kib, 1024 * MIB);
    mem_plan_free(&p);
    g[1].actual_kib = 1024 * MIB;
    g[1].headroom_kib = 10 * MIB;
    mem_plan(&cfg, &plenty, g, 2, &p);
    ck_assert_int_eq(p.d[1].reason, MEM_AT_MAX);
    ck_assert(!p.d[1].change);
    mem_plan_free(&p);
}
END_TEST

START_TEST(idle_guest_returns_memory_gradually)
{
    struct mem_guest g[] = {guest(2048, 100, 2048, 0)};
    struct mem_plan p;
    uint64_t step = mem_shrink_step(2048 * MIB);

    mem_plan(&cfg, &plenty, g, 1, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_IDLE);
    ck_assert_uint_eq(p.d[0].target_kib, 2048 * MIB - step);
    mem_plan_free(&p);
    /* Near the end: down to used + 1.5 x min_unused, here above the floor. */
    g[0] = guest(320, 100, 2048, 0);
    mem_plan(&cfg, &plenty, g, 1, &p);
    ck_assert_uint_eq(p.d[0].target_kib, 250 * MIB);
    mem_plan_free(&p);
    /* Never below the floor. */
    g[0] = guest(300, 20, 2048, 0);
    mem_plan(&cfg, &plenty, g, 1, &p);
    ck_assert_uint_eq(p.d[0].target_kib, 200 * MIB);
    mem_plan_free(&p);
    /* Inside the hysteresis band (unused between 1.5 and 2 x min_unused): left alone. */
    g[0] = guest(380, 200, 2048, 0);
    mem_plan(&cfg, &plenty, g, 1, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_KEEP);
    ck_assert(!p.d[0].change);
    mem_plan_free(&p);
}
END_TEST

/* While its balloon moves (statistics not settled), a guest is never shrunk, and a starving one
 * is given room from the larger of its size and its target. */
START_TEST(a_moving_balloon_decides_only_on_direct_evidence)
{
    struct mem_guest g[] = {guest(2048, 100, 2048, 0)};
    struct mem_plan p;

    g[0].settled = false; /* idle, with 1.9 GiB of headroom: not shrunk while it moves */
    mem_plan(&cfg, &plenty, g, 1, &p);
    ck_assert(!p.d[0].change);
    mem_plan_free(&p);
    /* Below min_unused it starves whatever the balloon does, and is given room from the larger
     * of its size and its target: 600 - 60 used + 150. */
    g[0] = guest(500, 440, 2048, 0);
    g[0].target_kib = 600 * MIB;
    g[0].settled = false;
    mem_plan(&cfg, &plenty, g, 1, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_STARVING);
    ck_assert_uint_eq(p.d[0].target_kib, (600 - 60 + 150) * MIB);
    mem_plan_free(&p);
}
END_TEST

/* The last MiB: a starving guest within the smallest change of its maximum is given all of it
 * (the lab's guest at 2,040 of 2,048 MiB with 95 MiB unused was left there). */
START_TEST(the_last_mib_are_given)
{
    struct mem_guest g[] = {guest(2041, 1990, 2048, 0)};
    struct mem_plan p;

    mem_plan(&cfg, &plenty, g, 1, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_STARVING);
    ck_assert(p.d[0].change);
    ck_assert_uint_eq(p.d[0].target_kib, 2048 * MIB);
    mem_plan_free(&p);
}
END_TEST

START_TEST(no_shrinking_before_the_rate_is_known_or_while_growing)
{
    struct mem_guest g[] = {guest(2048, 100, 2048, 0), guest(2048, 100, 2048, 30)};
    struct mem_plan p;

    g[0].rate_known = false;
    mem_plan(&cfg, &plenty, g, 2, &p);
    ck_assert(!p.d[0].change);
    ck_assert(!p.d[1].change);
    mem_plan_free(&p);
}
END_TEST

START_TEST(wasteful_when_someone_starves)
{
    struct mem_guest g[] = {guest(2048, 100, 2048, 0), guest(512, 500, 2048, 10)};
    struct mem_plan p;

    mem_plan(&cfg, &plenty, g, 2, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_WASTEFUL);
    ck_assert_int_eq(p.d[1].reason, MEM_STARVING);
    mem_plan_free(&p);
}
END_TEST

START_TEST(budget_respects_reserve_and_promises)
{
    /* 2 GiB free, 1 GiB reserve, 300 MiB promised to g0, 200 MiB untouched in g1. */
    struct mem_host host = {.free_kib = 2048 * MIB, .known = true};
    struct mem_guest g[] = {guest(512, 500, 2048, 100), guest(1024, 1000, 2048, 100)};
    struct mem_plan p;

    g[0].target_kib = 812 * MIB;
    g[1].uncommitted_kib = 200 * MIB;
    mem_plan(&cfg, &host, g, 2, &p);
    ck_assert_uint_eq(p.budget_kib, (2048 - 1024 - 300 - 200) * MIB);
    ck_assert_uint_le(p.granted_kib, p.budget_kib);
    ck_assert(p.short_of_memory);
    mem_plan_free(&p);
}
END_TEST

START_TEST(shares_split_a_short_budget)
{
    struct mem_host host = {.free_kib = (1024 + 400) * MIB, .known = true};
    struct mem_guest g[] = {guest(1024, 1000, 4096, 100), guest(1024, 1000, 4096, 100),
                            guest(1024, 1000, 4096, 0)};
    struct mem_plan p;

    g[0].weight = 1;
    g[1].weight = 3;
    g[2].weight = NAN; /* sanitised to 1 */
    /* g2 needs only 100 + 0 - 24 = 76 MiB; the rest splits 1:3. */
    mem_plan(&cfg, &host, g, 3, &p);
    ck_assert_uint_eq(p.granted_kib, 400 * MIB);
    uint64_t g0 = p.d[0].target_kib - 1024 * MIB, g1 = p.d[1].target_kib - 1024 * MIB;
    ck_assert_uint_eq(p.d[2].target_kib, (1000 + 100) * MIB);
    ck_assert(fabs((double)g1 / (double)g0 - 3.0) < 0.01);
    ck_assert_int_eq(p.d[0].reason, MEM_STARVING_SHORT);
    mem_plan_free(&p);
}
END_TEST

START_TEST(short_budget_is_not_taken_by_the_first_to_starve)
{
    /* 300 MiB to give. g0 starves now (wants 100 + 4 x 50 MiB of room); g1 and g2 grow as fast
     * but still have 210 MiB unused: they starve next period. g0 gets room for two periods of
     * growth only, and the rest stays for them. */
    struct mem_host host = {.free_kib = (1024 + 300) * MIB, .known = true};
    struct mem_guest g[] = {guest(1000, 910, 2048, 50), guest(1000, 790, 2048, 50),
                            guest(1000, 790, 2048, 50)};
    struct mem_plan p;

    mem_plan(&cfg, &host, g, 3, &p);
    ck_assert(p.short_of_memory);
    ck_assert_int_eq(p.d[0].reason, MEM_STARVING_SHORT);
    ck_assert_uint_eq(p.d[0].target_kib, (910 + 100 + 2 * 50) * MIB);
    ck_assert(!p.d[1].change && !p.d[2].change);
    mem_plan_free(&p);
    /* A period later (g0 has what it was given): g1 and g2 starve, and there is room for them. */
    host.free_kib -= 110 * MIB;
    g[0] = guest(1110, 960, 2048, 50);
    g[1] = guest(1000, 840, 2048, 50);
    g[2] = guest(1000, 840, 2048, 50);
    mem_plan(&cfg, &host, g, 3, &p);
    ck_assert_uint_eq(p.d[1].target_kib, (840 + 100 + 2 * 50) * MIB);
    ck_assert_uint_eq(p.d[2].target_kib, (840 + 100 + 2 * 50) * MIB);
    ck_assert_uint_le(p.granted_kib, p.budget_kib);
    mem_plan_free(&p);
}
END_TEST

START_TEST(short_of_memory_reclaims_excess)
{
    struct mem_host host = {.free_kib = 1000 * MIB, .known = true}; /* below the reserve */
    struct mem_guest g[] = {guest(800, 500, 2048, 0), guest(512, 500, 2048, 10),
                            guest(350, 250, 2048, 0)};
    struct mem_plan p;

    mem_plan(&cfg, &host, g, 3, &p);
    ck_assert(p.short_of_memory);
    ck_assert_uint_eq(p.granted_kib, 0);
    ck_assert_int_eq(p.d[0].reason, MEM_SHORT);
    ck_assert_uint_eq(p.d[0].target_kib, 800 * MIB - mem_shrink_step(2048 * MIB));
    ck_assert_int_eq(p.d[1].reason, MEM_STARVING_SHORT);
    ck_assert(!p.d[2].change); /* exactly min_unused unused: nothing to spare */
    mem_plan_free(&p);
}
END_TEST

/* A short host shrinks first the guests above their soft limit, toward it; the others keep their
 * size that period. */
START_TEST(a_short_host_shrinks_toward_soft_limits_first)
{
    struct mem_host host = {.free_kib = 1000 * MIB, .known = true}; /* below the reserve */
    struct mem_guest g[] = {guest(1024, 300, 2048, 0), guest(1024, 300, 2048, 0)};
    struct mem_plan p;

    g[0].soft_kib = 900 * MIB;  /* above it: shrunk, not below it */
    g[1].soft_kib = 1800 * MIB; /* below it: left this period */
    mem_plan(&cfg, &host, g, 2, &p);
    ck_assert(p.short_of_memory);
    ck_assert_int_eq(p.d[0].reason, MEM_SHORT);
    ck_assert_uint_eq(p.d[0].target_kib, 900 * MIB);
    ck_assert(!p.d[1].change);
    mem_plan_free(&p);
    /* With nobody above a soft limit, both give back their excess, as without soft limits. */
    g[0].soft_kib = 1800 * MIB;
    mem_plan(&cfg, &host, g, 2, &p);
    ck_assert(p.d[0].change && p.d[1].change);
    ck_assert_uint_eq(p.d[0].target_kib, 1024 * MIB - mem_shrink_step(2048 * MIB));
    mem_plan_free(&p);
}
END_TEST

/* A guest at its memory limit is capped, not starving, and never grown past it. */
START_TEST(a_guest_at_its_cap_is_capped_not_starving)
{
    struct mem_guest g[] = {guest(800, 780, 2048, 20), guest(700, 690, 2048, 0)};
    struct mem_plan p;

    g[0].cap_kib = 800 * MIB;
    g[1].cap_kib = 760 * MIB; /* room for 60 MiB more, no further */
    mem_plan(&cfg, &plenty, g, 2, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_AT_CAP);
    ck_assert(!p.d[0].change);
    ck_assert_int_eq(p.d[1].reason, MEM_STARVING);
    ck_assert_uint_eq(p.d[1].target_kib, 760 * MIB);
    ck_assert_uint_eq(p.starving, 1);
    mem_plan_free(&p);
    ck_assert_uint_eq(mem_limit_kib(&g[0]), 800 * MIB);
    g[0].cap_kib = 4096 * MIB; /* above its maximum: the maximum binds */
    ck_assert_uint_eq(mem_limit_kib(&g[0]), 2048 * MIB);
}
END_TEST

START_TEST(unknown_host_gives_nothing_takes_nothing_in_its_name)
{
    struct mem_host host = {.known = false};
    struct mem_guest g[] = {guest(512, 500, 2048, 10), guest(680, 500, 2048, 0)};
    struct mem_plan p;

    mem_plan(&cfg, &host, g, 2, &p);
    ck_assert(!p.short_of_memory);
    ck_assert_uint_eq(p.granted_kib, 0);
    ck_assert_int_eq(p.d[0].reason, MEM_STARVING_SHORT);
    ck_assert_int_eq(p.d[1].reason, MEM_KEEP); /* 180 unused: not idle, and no "short" */
    mem_plan_free(&p);
}
END_TEST

START_TEST(untrusted_and_impossible_guests_are_left_alone)
{
    struct mem_guest g[] = {guest(512, 500, 2048, 10), guest(512, 100, 2048, 0),
                            guest(512, 100, 2048, 0)};
    struct mem_plan p;

    g[0].trusted = false;
    g[1].headroom_kib = 4096 * MIB; /* unused > actual */
    g[2].rate_kib_s = NAN;
    mem_plan(&cfg, &plenty, g, 3, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_UNTRUSTED);
    ck_assert_int_eq(p.d[1].reason, MEM_UNTRUSTED);
    ck_assert(!p.d[0].change && !p.d[1].change);
    ck_assert_uint_eq(p.d[0].target_kib, 512 * MIB);
    ck_assert_int_eq(p.d[2].reason, MEM_IDLE); /* a NaN rate counts as no growth */
    mem_plan_free(&p);
    ck_assert_int_eq(mem_plan(&cfg, &plenty, NULL, 0, &p), 0);
    mem_plan_free(&p);
}
END_TEST

START_TEST(pressure_blocks_shrinking_and_holds_are_floors)
{
    struct mem_guest g[] = {guest(2048, 100, 2048, 0), guest(500, 300, 2048, 0),
                            guest(2048, 100, 2048, 0), guest(1500, 100, 2048, 0)};
    struct mem_plan p;

    g[0].pressure = true;       /* idle, but faulting: not shrunk */
    g[1].hold_kib = 900 * MIB;  /* squeezed: back up to its floor at once */
    g[2].fresh = false;         /* a repeat of its last report: nothing new */
    g[3].hold_kib = 1450 * MIB; /* idle above its floor: shrunk only down to it */
    mem_plan(&cfg, &plenty, g, 4, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_PRESSURE);
    ck_assert(!p.d[0].change);
    ck_assert_int_eq(p.d[1].reason, MEM_SQUEEZED);
    ck_assert_uint_eq(p.d[1].target_kib, 900 * MIB);
    ck_assert_int_eq(p.d[2].reason, MEM_KEEP);
    ck_assert(!p.d[2].change);
    ck_assert_int_eq(p.d[3].reason, MEM_IDLE);
    ck_assert_uint_eq(p.d[3].target_kib, 1450 * MIB);
    mem_plan_free(&p);
}
END_TEST

START_TEST(deflated_hugepage_and_bound_guests)
{
    struct mem_guest g[] = {guest(900, 300, 2048, 0), guest(4096, 100, 4096, 0),
                            guest(512, 480, 2048, 100)};
    struct mem_host h = {.free_kib = 4096 * MIB, .known = true};
    struct mem_plan p;

    g[0].deflated = true;              /* plenty of headroom now, but it ran out */
    g[1].fixed = true;                 /* huge pages: out of the budget, left alone */
    g[1].uncommitted_kib = 4000 * MIB; /* its RSS excludes the huge pages */
    g[2].nodes = 1u << 1;              /* bound to node 1, which has 300 MiB free */
    h.node_known = 3;
    h.node_free_kib[0] = 3796 * MIB;
    h.node_free_kib[1] = 300 * MIB;
    mem_plan(&cfg, &h, g, 3, &p);
    ck_assert_int_eq(p.d[0].reason, MEM_DEFLATED);
    ck_assert_uint_ge(p.d[0].target_kib, 900 * MIB);
    ck_assert_int_eq(p.d[1].reason, MEM_HUGEPAGES);
    ck_assert(!p.d[1].change);
    ck_assert(!p.short_of_memory);
    /* Node 1: 300 MiB free less half the 1 GiB reserve: nothing to give. */
    ck_assert_uint_eq(p.d[2].target_kib, 512 * MIB);
    h.node_free_kib[1] = 800 * MIB; /* 288 MiB above its part of the reserve */
    mem_plan_free(&p);
    mem_plan(&cfg, &h, g, 3, &p);
    ck_assert_uint_eq(p.d[2].target_kib, (512 + 288) * MIB);
    mem_plan_free(&p);
}
END_TEST

static struct snap_mem sample(uint64_t actual_mib, uint64_t last_update)
{
    struct snap_mem m = {.actual_kib = actual_mib * MIB,
                         .max_kib = 2048 * MIB,
                         .unused_kib = 70 * MIB,
                         .usable_kib = 290 * MIB,
                         .disk_caches_kib = 340 * MIB,
                         .last_update = last_update,
                         .flags = SNAP_MEM_BALLOON | SNAP_MEM_UNUSED | SNAP_MEM_USABLE |
                                  SNAP_MEM_DISK_CACHES | SNAP_MEM_UPDATE | SNAP_MEM_MAJOR_FAULT |
                                  SNAP_MEM_SWAP_IN};
    return m;
}

START_TEST(headroom_sources)
{
    struct snap_mem m = sample(512, 1);
    enum memsig_source src;
    uint64_t h;

    /* The page-cache reader measured in the lab: 70 unused, 340 cache, 290 usable. */
    ck_assert(memsig_headroom(&m, &h, &src));
    ck_assert_int_eq(src, MEMSIG_USABLE);
    ck_assert_uint_eq(h, 290 * MIB);
    m.flags &= ~(uint32_t)SNAP_MEM_USABLE;
    ck_assert(memsig_headroom(&m, &h, &src));
    ck_assert_int_eq(src, MEMSIG_UNUSED_CACHES);
    ck_assert_uint_eq(h, 410 * MIB);
    m.flags &= ~(uint32_t)SNAP_MEM_DISK_CACHES;
    ck_assert(memsig_headroom(&m, &h, &src));
    ck_assert_int_eq(src, MEMSIG_UNUSED);
    ck_assert_uint_eq(h, 70 * MIB);
    /* Figures above the balloon size: the balloon moved since the report. */
    m = sample(250, 1);
    ck_assert(!memsig_headroom(&m, &h, &src));
    m.flags &= ~(uint32_t)SNAP_MEM_USABLE;
    m.disk_caches_kib = 4096 * MIB;
    ck_assert(!memsig_headroom(&m, &h, &src));
}
END_TEST

START_TEST(statistics_clock)
{
    struct memsig s = {0};
    struct snap_mem m = sample(512, 100);
    double dt;

    ck_assert(memsig_clock(&s, &m, 10, &dt));
    ck_assert(dt == 0);
    ck_assert(memsig_clock(&s, &m, 11, &dt)); /* never seen it move: cannot tell a repeat */
    ck_assert(dt == 1);
    m.last_update = 101;
    ck_assert(memsig_clock(&s, &m, 12, &dt));
    ck_assert(memsig_clock(&s, &m, 12.5, &dt) == false); /* a repeat of the last report */
    m.last_update = 103;
    ck_assert(memsig_clock(&s, &m, 13, &dt));
    ck_assert(dt == 2);     /* the guest's clock: 2 s, though the host saw 1 */
    m.last_update = 100000; /* the guest's clock jumped: the host's time instead */
    ck_assert(memsig_clock(&s, &m, 14, &dt));
    ck_assert(dt == 1);
    ck_assert(memsig_stale_s(&s, 30) == 16);
    m.flags &= ~(uint32_t)SNAP_MEM_UPDATE; /* no clock at all: every sample is new */
    ck_assert(memsig_clock(&s, &m, 15, &dt) && memsig_clock(&s, &m, 16, &dt));
}
END_TEST

START_TEST(pressure_against_the_usual_level)
{
    struct memsig s = {0};
    struct snap_mem m = sample(512, 0);

    /* A guest that always faults 5 a second is not under pressure: that is its level. */
    for (int t = 0; t < 20; t++) {
        m.major_fault = (uint64_t)t * 5;
        memsig_rates(&s, &m, 1, t, 10);
    }
    ck_assert(s.rates_ok && !s.pressure);
    ck_assert(fabs(s.fault_base - 5) < 0.5);
    /* Twice its level and more: pressure. */
    m.major_fault += 15;
    memsig_rates(&s, &m, 1, 20, 10);
    ck_assert(s.pressure);
    /* Counters that go back (a reboot): no rate, no pressure. */
    m.major_fault = 3;
    memsig_rates(&s, &m, 1, 21, 10);
    ck_assert(!s.rates_ok && !s.pressure);
    /* Absurd rates are garbage, not pressure. */
    m.major_fault += 100000000;
    memsig_rates(&s, &m, 1, 22, 10);
    ck_assert(!s.rates_ok && !s.pressure);
    /* A calm guest: a few swap-ins do not count, 1 MiB/s does. */
    memset(&s, 0, sizeof(s));
    m = sample(512, 0);
    memsig_rates(&s, &m, 1, 0, 10);
    m.swap_in_kib += 100;
    memsig_rates(&s, &m, 1, 1, 10);
    ck_assert(!s.pressure);
    m.swap_in_kib += 1024;
    memsig_rates(&s, &m, 1, 2, 10);
    ck_assert(s.pressure);
}
END_TEST

START_TEST(squeeze_holds_what_recent_shrinks_took)
{
    struct memsig s = {0};

    memsig_note_shrink(&s, 0, 1000 * MIB);
    memsig_note_shrink(&s, 5, 900 * MIB);
    memsig_note_shrink(&s, 8, 800 * MIB);
    ck_assert(!memsig_squeeze(&s, 12, 10, 60)); /* no pressure: nothing */
    s.pressure = true;
    /* The shrinks within 10 s of t = 12: those of t = 5 and 8; back to before t = 5. */
    ck_assert(memsig_squeeze(&s, 12, 10, 60));
    ck_assert_uint_eq(s.hold_kib, 900 * MIB);
    ck_assert(!memsig_squeeze(&s, 13, 10, 60)); /* answered once */
    ck_assert_uint_eq(s.hold_kib, 900 * MIB);
    s.pressure = false;
    /* Past its time the floor decays, 1 MiB a second, to none. */
    ck_assert(!memsig_squeeze(&s, 72.5, 10, 60));
    ck_assert_uint_eq(s.hold_kib, 900 * MIB - 512);
    ck_assert(!memsig_squeeze(&s, 72 + 900 + 1, 10, 60));
    ck_assert_uint_eq(s.hold_kib, 0);
    /* A second squeeze is held twice as long (the guest paid for a shrink once already). */
    memsig_note_shrink(&s, 1000, 800 * MIB);
    s.read_pressure = true;
    ck_assert(memsig_squeeze(&s, 1005, 10, 60));
    s.read_pressure = false;
    ck_assert(!memsig_squeeze(&s, 1124, 10, 60));
    ck_assert_uint_eq(s.hold_kib, 800 * MIB);
    ck_assert(!memsig_squeeze(&s, 1126, 10, 60));
    ck_assert_uint_eq(s.hold_kib, 799 * MIB);
    /* A deflation holds the size it reached. */
    memsig_hold(&s, 2000, 700 * MIB, 60);
    ck_assert_uint_eq(s.hold_kib, 700 * MIB);
}
END_TEST

/* A random value in [0, limit] (any limit, UINT64_MAX included). */
static uint64_t fz_upto(uint64_t *s, uint64_t limit)
{
    return limit == UINT64_MAX ? rng_next(s) : rng_next(s) % (limit + 1);
}

/* A hostile or plausible 64-bit size, KiB; only plausible ones in a PLAUSIBLE plan. */
static uint64_t fz_size(uint64_t *s, bool plausible)
{
    switch (plausible ? 7 : rng_next(s) % 8) {
    case 0:
        return 0;
    case 1:
        return UINT64_MAX;
    case 2:
        return UINT64_MAX - rng_next(s) % 1024;
    case 3:
        return rng_next(s);
    case 4:
        return rng_next(s) >> (rng_next(s) % 64);
    default:
        return (rng_next(s) % 8192) * MIB;
    }
}

static double fz_rate(uint64_t *s, bool plausible)
{
    switch (plausible ? 7 : rng_next(s) % 8) {
    case 0:
        return NAN;
    case 1:
        return INFINITY;
    case 2:
        return -INFINITY;
    case 3:
        return -1e300;
    case 4:
        return 1e300;
    default:
        return ((double)(rng_next(s) % 2000) - 1000) * MIB / 10;
    }
}

/* A random guest, many of its values ones no guest should report unless PLAUSIBLE. */
static struct mem_guest fz_guest(uint64_t *seed, bool plausible)
{
    struct mem_guest g;
    bool p = plausible;

    g.max_kib = rng_next(seed) % 3 ? (256 + rng_next(seed) % 8192) * MIB : fz_size(seed, p);
    g.actual_kib = rng_next(seed) % 3 ? fz_upto(seed, g.max_kib) : fz_size(seed, p);
    g.target_kib = rng_next(seed) % 2 ? 0 : fz_size(seed, p);
    g.headroom_kib = rng_next(seed) % 3 ? fz_upto(seed, g.actual_kib) : fz_size(seed, p);
    g.uncommitted_kib = p ? fz_upto(seed, g.actual_kib / 8) : fz_size(seed, p);
    g.rate_kib_s = fz_rate(seed, p);
    g.weight = rng_next(seed) % 4 ? 1 : fz_rate(seed, p);
    g.trusted = rng_next(seed) % 5 != 0;
    g.rate_known = rng_next(seed) % 5 != 0;
    g.shrinking = rng_next(seed) % 2;
    g.fresh = rng_next(seed) % 5 != 0;
    g.settled = rng_next(seed) % 3 != 0;
    g.pressure = rng_next(seed) % 5 == 0;
    g.deflated = rng_next(seed) % 7 == 0;
    g.fixed = rng_next(seed) % 9 == 0;
    g.hold_kib = rng_next(seed) % 4 ? 0 : fz_size(seed, p);
    g.nodes = rng_next(seed) % 3 ? 0 : rng_next(seed) % 16;
    g.cap_kib = rng_next(seed) % 4 ? 0 : fz_upto(seed, g.max_kib + g.max_kib / 4);
    g.soft_kib = rng_next(seed) % 4 ? 0 : fz_upto(seed, g.max_kib);
    g.ignores = rng_next(seed) % 11 == 0;
    return g;
}

/* The budget as mem_plan promises it, computed apart: free memory above the reserve, less what
 * guests (not fixed) hold beyond their balloons and have not touched. */
static double fz_budget(const struct mem_config *c, const struct mem_host *h,
                        const struct mem_guest *g, int n)
{
    uint64_t held = 0;

    for (int i = 0; i < n; i++) {
        uint64_t actual = g[i].actual_kib < UTIL_HUGE_KIB ? g[i].actual_kib : UTIL_HUGE_KIB;
        uint64_t com = mem_committed(&g[i]);
        if (g[i].fixed)
            continue; /* out of the budget */
        held += (com < UTIL_HUGE_KIB ? com : UTIL_HUGE_KIB) - actual +
                (g[i].uncommitted_kib < actual ? g[i].uncommitted_kib : actual);
    }
    return h->known ? (double)h->free_kib - (double)c->host_reserve_kib - (double)held : 0;
}

/* How often each outcome, and each bound, was met: a bound never met is not tested. */
struct fz_count {
    unsigned long kept, grown, shrunk;
    unsigned long to_max, by_grow_step;
    unsigned long node_bound;   /* bound guests grown while their nodes had less than a step */
    unsigned long budget_bound; /* plans whose growth came within 64 MiB of the budget */
    unsigned long to_floor, to_hold, to_use, by_shrink_step;
};

/* Free memory of the measured nodes of a guest bound to NODES (-1: not bound or none
 * measured). */
static double fz_node_room(const struct mem_host *h, uint64_t nodes)
{
    double room = 0;

    if (!(nodes & h->node_known))
        return -1;
    for (int n = 0; n < 4; n++)
        if ((nodes & h->node_known) >> n & 1)
            room += (double)h->node_free_kib[n];
    return room;
}

/* Checks growth D of guest G, counted in K. */
static void fz_check_growth(const struct mem_host *h, const struct mem_guest *g,
                            const struct mem_decision *d, struct fz_count *k)
{
    uint64_t com = mem_committed(g), step = mem_grow_step(g->max_kib);
    double room = fz_node_room(h, g->nodes);

    if (d->target_kib - com > step)
        ck_abort_msg("grown %" PRIu64 " KiB, more than its step %" PRIu64, d->target_kib - com,
                     step);
    /* A bound guest grows only by what its measured nodes have free. */
    if (room >= 0 && (double)(d->target_kib - com) > room + 1)
        ck_abort_msg("grown %" PRIu64 " KiB, its nodes had %.0f", d->target_kib - com, room);
    k->grown++;
    k->to_max += d->target_kib == g->max_kib;
    k->by_grow_step += d->target_kib - com == step;
    k->node_bound += room >= 0 && room < (double)step;
}

/* Checks shrink D of guest G under C, counted in K: never while under pressure or deflated, never
 * below its hold, the floor, or what it uses plus its minimum unused, never by more than a step. */
static void fz_check_shrink(const struct mem_config *c, const struct mem_guest *g,
                            const struct mem_decision *d, struct fz_count *k)
{
    uint64_t com = mem_committed(g), t = d->target_kib, step = mem_shrink_step(g->max_kib);
    uint64_t use = g->actual_kib - g->headroom_kib + c->min_unused_kib;

    if (g->pressure || g->deflated)
        ck_abort_msg("shrunk under pressure or deflated");
    if (t < g->hold_kib || t < c->floor_kib || t < use || com - t > step)
        ck_abort_msg("shrunk %" PRIu64 " -> %" PRIu64 " KiB: hold %" PRIu64 ", floor %" PRIu64
                     ", use + min unused %" PRIu64 ", step %" PRIu64,
                     com, t, g->hold_kib, c->floor_kib, use, step);
    k->shrunk++;
    k->to_floor += t == c->floor_kib;
    k->to_hold += t == g->hold_kib;
    k->to_use += t == use;
    k->by_shrink_step += com - t == step;
}

/* Checks decision D of guest G (under C, host H), counted in K; returns its growth. Check's
 * assertions are costly: each is made only once failed. */
static uint64_t fz_check(const struct mem_config *c, const struct mem_host *h,
                         const struct mem_guest *g, const struct mem_decision *d,
                         struct fz_count *k)
{
    uint64_t com = mem_committed(g);

    if (!d->change) {
        if (d->target_kib != com)
            ck_abort_msg("unchanged, yet a target %" PRIu64 " not its %" PRIu64, d->target_kib,
                         com);
        k->kept++;
        return 0;
    }
    if (!g->trusted || !g->fresh || g->fixed || g->ignores)
        ck_abort_msg("an untrusted, repeated, fixed or ignoring guest changed");
    /* A guest whose balloon still moves is never shrunk. */
    if (d->target_kib < com && !g->settled)
        ck_abort_msg("a moving balloon shrunk");
    if (d->target_kib > g->max_kib || g->max_kib >= UTIL_HUGE_KIB)
        ck_abort_msg("target %" PRIu64 " above its maximum %" PRIu64, d->target_kib, g->max_kib);
    if (d->target_kib > com) {
        /* Never grown past its memory limit (its cap, where it is below its maximum). */
        if (d->target_kib > mem_limit_kib(g))
            ck_abort_msg("grown to %" PRIu64 " past its limit %" PRIu64, d->target_kib,
                         mem_limit_kib(g));
        fz_check_growth(h, g, d, k);
        return d->target_kib - com;
    }
    fz_check_shrink(c, g, d, k);
    return 0;
}

/* One random plan of N guests from SEED: options, host and guests, most values hostile unless
 * PLAUSIBLE; every decision checked, and the growth within the budget. */
static void fz_plan(uint64_t *seed, bool plausible, struct fz_count *k)
{
    enum { N = 10 };
    bool p = plausible;
    struct mem_config c = {.min_unused_kib = rng_next(seed) % 2 ? 100 * MIB : fz_size(seed, p),
                           .floor_kib = rng_next(seed) % 2 ? 200 * MIB : fz_size(seed, p),
                           .host_reserve_kib = rng_next(seed) % 2 ? 1024 * MIB : fz_size(seed, p),
                           .period_s = rng_next(seed) % 2 ? 1 : 1e-3};
    struct mem_host h = {.free_kib = fz_size(seed, p), .known = rng_next(seed) % 4 != 0};
    struct mem_guest g[N];
    double budget;
    uint64_t grown = 0;
    struct mem_plan plan;

    for (int i = 0; i < N; i++)
        g[i] = fz_guest(seed, p);
    for (int n = 0; n < 4; n++) {
        h.node_free_kib[n] = p ? (rng_next(seed) % 2048) * MIB : fz_size(seed, p);
        if (rng_next(seed) % 2)
            h.node_known |= 1ull << n;
    }
    ck_assert_int_eq(mem_plan(&c, &h, g, N, &plan), 0);
    budget = fz_budget(&c, &h, g, N);
    for (int i = 0; i < N; i++)
        grown += fz_check(&c, &h, &g[i], &plan.d[i], k);
    /* Growth never exceeds what the host can give above its reserve. */
    if ((double)grown > (budget > 0 ? budget : 0) + 1)
        ck_abort_msg("grown %" PRIu64 " KiB, the budget was %.0f", grown, budget);
    k->budget_bound += grown > 0 && (double)grown + (double)(64 * MIB) >= budget;
    mem_plan_free(&plan);
}

/* 1,000,000 random guests, 10 to a plan, three plans in four with values no guest should
 * report: the invariants hold for every decision (and UBSan, in the sanitizer build, sees no
 * UB); and each was met where it binds: guests kept, grown and shrunk, grown to their maximum,
 * by a whole step, near what their nodes or the host's budget had, shrunk to the floor, to
 * their hold, to their use plus the minimum unused, by a whole step. */
START_TEST(fuzz_a_million_hostile_guests_bounds_held_and_met)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    struct fz_count k = {0};

    for (int plan = 0; plan < 100000; plan++)
        fz_plan(&seed, plan % 4 == 0, &k);
    ck_assert_uint_ge(k.kept, 500000);
    ck_assert_uint_ge(k.grown, 20000);
    ck_assert_uint_ge(k.shrunk, 10000);
    ck_assert_uint_ge(k.to_max, 5000);
    ck_assert_uint_ge(k.by_grow_step, 10000);
    ck_assert_uint_ge(k.node_bound, 100);
    ck_assert_uint_ge(k.budget_bound, 500);
    ck_assert_uint_ge(k.to_floor, 200);
    ck_assert_uint_ge(k.to_hold, 50);
    ck_assert_uint_ge(k.to_use, 500);
    ck_assert_uint_ge(k.by_shrink_step, 5000);
}
END_TEST

Suite *mempolicy_suite(void)
{
    Suite *s = suite_create("mempolicy");
    TCase *t = tcase_create("decisions");

    tcase_add_test(t, starving_guest_gets_room_to_grow);
    tcase_add_test(t, about_to_starve_counts_as_starving);
    tcase_add_test(t, two_periods_of_warning);
    tcase_add_test(t, growth_is_bounded_by_step_and_maximum);
    tcase_add_test(t, idle_guest_returns_memory_gradually);
    tcase_add_test(t, a_moving_balloon_decides_only_on_direct_evidence);
    tcase_add_test(t, the_last_mib_are_given);
    tcase_add_test(t, a_short_host_shrinks_toward_soft_limits_first);
    tcase_add_test(t, a_guest_at_its_cap_is_capped_not_starving);
    tcase_add_test(t, no_shrinking_before_the_rate_is_known_or_while_growing);
    tcase_add_test(t, wasteful_when_someone_starves);
    tcase_add_test(t, budget_respects_reserve_and_promises);
    tcase_add_test(t, shares_split_a_short_budget);
    tcase_add_test(t, short_budget_is_not_taken_by_the_first_to_starve);
    tcase_add_test(t, short_of_memory_reclaims_excess);
    tcase_add_test(t, unknown_host_gives_nothing_takes_nothing_in_its_name);
    tcase_add_test(t, untrusted_and_impossible_guests_are_left_alone);
    tcase_add_test(t, pressure_blocks_shrinking_and_holds_are_floors);
    tcase_add_test(t, deflated_hugepage_and_bound_guests);
    suite_add_tcase(s, t);
    {
        TCase *sig = tcase_create("signals");
        tcase_add_test(sig, headroom_sources);
        tcase_add_test(sig, statistics_clock);
        tcase_add_test(sig, pressure_against_the_usual_level);
        tcase_add_test(sig, squeeze_holds_what_recent_shrinks_took);
        suite_add_tcase(s, sig);
    }
    {
        TCase *fz = tcase_create("hostile inputs");
        tcase_set_timeout(fz, 600);
        tcase_add_test(fz, fuzz_a_million_hostile_guests_bounds_held_and_met);
        suite_add_tcase(s, fz);
    }
    return s;
}
