/* Closed-loop tests of the memory coordinator against the fake host, and a property test of
 * its invariants over random scenarios with hostile guest statistics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "fake_hv.h"
#include "measure.h"
#include "rng.h"
#include "runner.h"
#include "suites.h"
#include "util.h"

#define MIB  FAKE_MIB
#define MAXD 16

/* Ways a guest lies about its statistics. */
enum hostile {
    HONEST,
    UNUSED_ABOVE_ACTUAL,
    AVAILABLE_ABOVE_MAX,
    ALL_ZERO,
    ALL_MAX,
    FLIPPING,
    STALE,
    GARBAGE,
    USABLE_ABOVE_AVAILABLE,
    NO_STATS,
    NHOSTILE
};

struct msim {
    struct fake_host *f;
    struct coord *c;
    struct runner *r;
    struct coord_config cfg;
    int period, ndoms;
    uint64_t reserve;
    enum hostile mode[MAXD];
    uint64_t rng;
    /* figures */
    unsigned starving[MAXD]; /* periods starving while memory was available (measure.h) */
    struct measure_guest mg[MAXD];
    unsigned changes[MAXD]; /* targets set */
    uint64_t lowest_free;   /* lowest host free memory seen (truth) */
    uint64_t start_actual[MAXD];
    unsigned ooms[MAXD];
    bool stats_from_start[MAXD];
    unsigned oom_while_available; /* OOM kills while the host had memory to give */
    uint64_t prev_free;
    uint64_t peak_actual[MAXD];
    uint64_t low_actual[MAXD];   /* lowest balloon size (after the baseline) */
    uint64_t low_headroom[MAXD]; /* lowest MemAvailable (after the baseline) */
    unsigned shrinks[MAXD];      /* shrinking targets set */
    int last_change[MAXD];       /* period of the last target set */
    unsigned stale_changes;      /* targets set on a repeated sample */
    int squeezed_at[MAXD];       /* period of the first squeeze answered (0: none) */
    int deflated_at[MAXD];       /* period of the first deflation seen (0: none) */
    uint64_t deflated_kib[MAXD]; /* its size then */
    unsigned shrinks_held[MAXD]; /* shrinks below it within the hold-down */
    uint64_t low_node_room;      /* lowest free memory of node 1 above its part of the reserve */
    struct coord_report last_rep;
    bool huge[MAXD];              /* backed by huge pages: the host's pool backs it all */
    uint64_t prev_headroom[MAXD]; /* MemAvailable at the previous sample */
    unsigned starving_late[MAXD]; /* starving while available, not at the onset (METRICS.md) */
    bool track_node1;             /* record node 1's lowest free memory */
    unsigned misfits[MAXD];       /* samples reporting more unused memory than the balloon */
    unsigned impossible[MAXD];    /* periods its statistics were judged impossible */
    /* invariant violations */
    unsigned bad_floor, bad_max, bad_step, bad_squeeze, bad_reserve, bad_hostile_growth;
};

static void hostile_hook(void *arg, int dom, double now_s, struct snap_mem *m)
{
    struct msim *s = arg;
    (void)now_s;

    if (dom >= MAXD)
        return;
    switch (s->mode[dom]) {
    case HONEST:
        break;
    case UNUSED_ABOVE_ACTUAL:
        m->unused_kib = m->actual_kib + 1024 * MIB;
        break;
    case AVAILABLE_ABOVE_MAX:
        m->available_kib = m->max_kib * 2;
        break;
    case ALL_ZERO:
        m->unused_kib = m->available_kib = m->usable_kib = 0;
        break;
    case ALL_MAX:
        m->unused_kib = m->available_kib = m->usable_kib = UINT64_MAX;
        m->last_update = UINT64_MAX;
        break;
    case FLIPPING:
        m->unused_kib = (s->period % 2) ? 0 : m->actual_kib;
        break;
    case STALE:
        m->last_update = 12345;
        break;
    case GARBAGE:
        m->unused_kib = rng_next(&s->rng) >> (rng_next(&s->rng) % 64);
        m->available_kib = rng_next(&s->rng) >> (rng_next(&s->rng) % 64);
        m->usable_kib = rng_next(&s->rng) >> (rng_next(&s->rng) % 64);
        m->last_update = rng_next(&s->rng);
        m->flags = SNAP_MEM_BALLOON | SNAP_MEM_RSS |
                   ((uint32_t)rng_next(&s->rng) &
                    (SNAP_MEM_UNUSED | SNAP_MEM_AVAILABLE | SNAP_MEM_USABLE | SNAP_MEM_UPDATE));
        break;
    case USABLE_ABOVE_AVAILABLE:
        m->usable_kib = m->available_kib + 1;
        break;
    case NO_STATS:
        m->flags &= SNAP_MEM_BALLOON | SNAP_MEM_RSS;
        break;
    case NHOSTILE:
        break;
    }
}

static int dom_id(const struct snap *cur, size_t i)
{
    const unsigned char *u = snap_domain(cur, i)->uuid;
    return (u[12] << 24) | (u[13] << 16) | (u[14] << 8) | u[15];
}

static int mstep(void *ctx, struct hv *hv, const struct snap *prev, const struct snap *cur,
                 unsigned long calls)
{
    struct msim *s = ctx;
    struct coord_report rep;

    ck_assert_int_eq(coord_period(s->c, hv, prev, cur, calls, &rep), 0);
    s->last_rep = rep;
    s->reserve = rep.reserve_kib;
    if (getenv("MSIM_TRACE"))
        for (size_t i = 0; i < rep.nguests; i++) {
            const struct coord_guest *g = &rep.guests[i];
            fprintf(stderr,
                    "p%lu g%zu act %llu head %llu fresh %d %s/%s tgt %llu rate %.1f faults %.2f "
                    "press %d hold %llu\n",
                    rep.period, i,
                    (unsigned long long)snap_domain(cur, g->domain)->mem.actual_kib / MIB,
                    (unsigned long long)g->view->headroom_kib / MIB, g->fresh,
                    mem_reason_name(g->decision.reason), coord_distrust_name(g->distrust),
                    (unsigned long long)g->decision.target_kib / MIB, g->view->rate_kib_s / MIB,
                    g->fault_rate, g->view->pressure, (unsigned long long)g->view->hold_kib / MIB);
        }
    for (size_t i = 0; i < rep.nguests; i++) {
        const struct coord_guest *g = &rep.guests[i];
        const struct snap_mem *m = &snap_domain(cur, g->domain)->mem;
        int id = dom_id(cur, g->domain);
        uint64_t max = fake_max_kib(s->f, id);
        uint64_t target = g->decision.target_kib, committed = mem_committed(g->view);

        if (id < MAXD && m->unused_kib > m->actual_kib)
            s->misfits[id]++;
        if (id < MAXD && g->distrust == COORD_IMPOSSIBLE)
            s->impossible[id]++;
        if (id < MAXD && g->squeezed && !s->squeezed_at[id])
            s->squeezed_at[id] = s->period;
        if (id < MAXD && g->view->deflated && !s->deflated_at[id]) {
            s->deflated_at[id] = s->period;
            s->deflated_kib[id] = m->actual_kib;
        }
        if (id < MAXD && s->deflated_at[id] && g->decision.change && target < s->deflated_kib[id] &&
            (s->period - s->deflated_at[id]) * s->cfg.period_s < MEMSIG_HOLD_MIN_S)
            s->shrinks_held[id]++;
        if (!g->decision.change)
            continue;
        if (!g->fresh && g->distrust == COORD_TRUSTED)
            s->stale_changes++;
        if (id < MAXD) {
            s->changes[id]++;
            s->last_change[id] = s->period;
            s->shrinks[id] += target < committed;
        }
        if (target > max)
            s->bad_max++;
        if (target < committed) {
            if (target < s->cfg.floor_kib)
                s->bad_floor++;
            if (committed - target > mem_shrink_step(max))
                s->bad_step++;
            /* Never squeeze an honest guest below what it uses plus its minimum unused. */
            if (id < MAXD && s->mode[id] == HONEST &&
                target < fake_used_kib(s->f, id) + s->cfg.min_unused_kib)
                s->bad_squeeze++;
        } else if (target - committed > mem_grow_step(max)) {
            s->bad_step++;
        }
        /* Lies no real guest tells never earn memory (stale statistics look fresh until they
         * have not changed for a while: the stale test covers them). */
        if (id < MAXD && s->mode[id] != HONEST && s->mode[id] != ALL_ZERO &&
            s->mode[id] != FLIPPING && s->mode[id] != GARBAGE && s->mode[id] != STALE &&
            target > committed)
            s->bad_hostile_growth++;
    }
    return 0;
}

static void msim_init_period(struct msim *s, uint64_t ram_mib, uint64_t other_mib,
                             uint64_t reserve_mib, double period_s)
{
    struct runner_config rc = {.period_s = period_s, .what = HV_SAMPLE_MEM};

    memset(s, 0, sizeof(*s));
    s->f = fake_create(4, ram_mib * MIB, other_mib * MIB);
    s->cfg.min_unused_kib = 100 * MIB;
    s->cfg.floor_kib = 200 * MIB;
    s->cfg.reserve_default = reserve_mib == 0;
    s->cfg.reserve_kib = reserve_mib * MIB;
    s->cfg.period_s = period_s;
    s->c = coord_create(&s->cfg);
    s->r = runner_create(&rc, fake_hv(s->f), mstep, s);
    s->lowest_free = UINT64_MAX;
    s->rng = 88172645463325252ull;
    ck_assert(s->f && s->c && s->r);
    fake_set_stats_hook(s->f, hostile_hook, s);
    for (int d = 0; d < MAXD; d++)
        s->low_actual[d] = s->low_headroom[d] = UINT64_MAX;
    s->low_node_room = UINT64_MAX;
}

static void msim_init(struct msim *s, uint64_t ram_mib, uint64_t other_mib, uint64_t reserve_mib)
{
    msim_init_period(s, ram_mib, other_mib, reserve_mib, 1);
}

static void msim_free(struct msim *s)
{
    runner_destroy(s->r);
    coord_destroy(s->c);
    fake_destroy(s->f);
}

/* Adds a guest (max, current in MiB) with a memory script; stats on from the start or not. */
static int add_guest(struct msim *s, uint64_t max_mib, uint64_t cur_mib,
                     const struct fake_mem_load *ml, bool stats)
{
    char name[16];
    int id;

    snprintf(name, sizeof(name), "m%d", s->ndoms);
    id = fake_add_domain(s->f, name, 1);
    fake_set_memory(s->f, id, max_mib * MIB, cur_mib * MIB);
    if (ml)
        fake_set_mem_load(s->f, id, ml);
    fake_set_stats(s->f, id, stats);
    if (id < MAXD) {
        s->stats_from_start[id] = stats;
        s->start_actual[id] = cur_mib * MIB;
    }
    s->ndoms++;
    return id;
}

/* Marks the guests starving while memory was available at this sample (tests/measure.h). */
static void count_starving(struct msim *s, uint64_t free_kib)
{
    struct measure_host mh = {.free_kib = free_kib, .reserve_kib = s->reserve};
    unsigned n = 0;
    int nd = s->ndoms < MAXD ? s->ndoms : MAXD;

    for (int d = 0; d < nd; d++) {
        uint64_t act = fake_actual_kib(s->f, d);
        s->mg[d] = (struct measure_guest){.actual_kib = act,
                                          .max_kib = fake_max_kib(s->f, d),
                                          .headroom_kib = fake_usable_kib(s->f, d),
                                          .unbacked_kib =
                                                  s->huge[d] ? 0 : act - fake_touched_kib(s->f, d)};
    }
    measure_starving(s->mg, (size_t)nd, s->cfg.min_unused_kib, &mh, &n);
}

static void msim_run(struct msim *s, int n)
{
    while (s->period < n) {
        uint64_t free_kib;

        if (s->period > 0)
            fake_advance(s->f, s->cfg.period_s);
        free_kib = fake_host_free_kib(s->f);
        if (free_kib < s->lowest_free)
            s->lowest_free = free_kib;
        if (s->period > 1 && free_kib < s->reserve)
            s->bad_reserve++;
        count_starving(s, free_kib);
        if (s->track_node1 && fake_node_free_kib(s->f, 1) < s->low_node_room)
            s->low_node_room = fake_node_free_kib(s->f, 1);
        for (int d = 0; d < s->ndoms && d < MAXD; d++) {
            uint64_t act = fake_actual_kib(s->f, d), used = fake_used_kib(s->f, d);
            if (act > s->peak_actual[d])
                s->peak_actual[d] = act;
            if (s->period > 1 && act < s->low_actual[d])
                s->low_actual[d] = act;
            if (s->period > 1 && fake_usable_kib(s->f, d) < s->low_headroom[d])
                s->low_headroom[d] = fake_usable_kib(s->f, d);
            if (s->period > 2 && s->mg[d].starving_available &&
                s->prev_headroom[d] + 8 * MIB < s->cfg.min_unused_kib * 3 / 2)
                s->starving_late[d]++;
            s->prev_headroom[d] = fake_usable_kib(s->f, d);
            if (s->period > 2 && s->mg[d].starving_available) {
                s->starving[d]++;
                if (getenv("MSIM_DEBUG"))
                    fprintf(stderr,
                            "period %d guest %d starving: actual %llu used %llu target %llu\n",
                            s->period, d, (unsigned long long)act / MIB,
                            (unsigned long long)used / MIB,
                            (unsigned long long)fake_target_kib(s->f, d) / MIB);
            }
            if (fake_oom_kills(s->f, d) > s->ooms[d]) {
                s->ooms[d] = fake_oom_kills(s->f, d);
                if (s->prev_free > s->reserve + 512 * MIB && s->mode[d] == HONEST &&
                    s->stats_from_start[d])
                    s->oom_while_available++;
            }
        }
        s->prev_free = free_kib;
        ck_assert_int_eq(runner_tick(s->r), RUNNER_CONTINUE);
        s->period++;
    }
}

static void assert_invariants(const struct msim *s)
{
    ck_assert_uint_eq(s->bad_floor, 0);
    ck_assert_uint_eq(s->bad_max, 0);
    ck_assert_uint_eq(s->bad_step, 0);
    ck_assert_uint_eq(s->bad_squeeze, 0);
    ck_assert_uint_eq(s->bad_reserve, 0);
    ck_assert_uint_eq(s->bad_hostile_growth, 0);
}

/* Closed-loop scenarios also promise: no honest guest is OOM-killed while memory was free. */
static void assert_fed(const struct msim *s)
{
    assert_invariants(s);
    ck_assert_uint_eq(s->oom_while_available, 0);
}

static const struct fake_mem_load idle = {.base_kib = 64 * MIB};

START_TEST(one_grows_three_idle)
{
    struct msim s;
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 50 * MIB,
                                 .cap_kib = 1800 * MIB,
                                 .hold_s = -1,
                                 .delay_s = 3};

    msim_init(&s, 16384, 1024, 0);
    add_guest(&s, 2048, 512, &grow, true);
    for (int i = 0; i < 3; i++)
        add_guest(&s, 2048, 512, &idle, true);
    msim_run(&s, 80);
    assert_fed(&s);
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
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 40 * MIB,
                                 .cap_kib = 1900 * MIB,
                                 .hold_s = -1,
                                 .delay_s = 3};
    uint64_t total = 0;

    msim_init(&s, 6144, 1024, 1024);
    fake_set_overhead(s.f, 150 * MIB); /* QEMU's own memory, as in the TCG lab */
    for (int i = 0; i < 4; i++)
        add_guest(&s, 2048, 512, &grow, true);
    msim_run(&s, 120);
    assert_fed(&s);
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
    struct fake_mem_load first = {.base_kib = 64 * MIB,
                                  .rate_kib_s = 60 * MIB,
                                  .cap_kib = 1500 * MIB,
                                  .hold_s = 20,
                                  .delay_s = 3};
    struct fake_mem_load second = {.base_kib = 64 * MIB,
                                   .rate_kib_s = 40 * MIB,
                                   .cap_kib = 1800 * MIB,
                                   .hold_s = -1,
                                   .delay_s = 60};
    uint64_t a_peak;

    /* 4.5 GiB: the guests' kernels keep 70 MiB each beyond their workloads. */
    msim_init(&s, 4608, 512, 1024);
    add_guest(&s, 2048, 512, &first, true);
    add_guest(&s, 2048, 512, &second, true);
    add_guest(&s, 2048, 512, &idle, true);
    add_guest(&s, 2048, 512, &idle, true);
    msim_run(&s, 50);
    a_peak = fake_actual_kib(s.f, 0);
    ck_assert_uint_ge(a_peak, 1500 * MIB);
    msim_run(&s, 160);
    assert_fed(&s);
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

/* A guest reading its disk fills its free memory with page cache: little unused, plenty usable
 * (as measured on a lab guest). It is not grown, and its cache is reclaimed like idle memory,
 * at the same pace; the guest that grows beside it never starves. */
START_TEST(cache_heavy_guest_is_not_grown_and_is_reclaimed)
{
    struct msim s;
    struct fake_cache_load reader = {.rate_kib_s = 40 * MIB, .span_kib = 2048 * MIB};
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 25 * MIB,
                                 .cap_kib = 1500 * MIB,
                                 .hold_s = -1,
                                 .delay_s = 5};
    int r, g;
    unsigned shrink_periods;

    msim_init(&s, 8192, 1024, 0);
    r = add_guest(&s, 2048, 1024, &idle, true);
    fake_set_cache_load(s.f, r, &reader);
    g = add_guest(&s, 2048, 512, &grow, true);
    msim_run(&s, 30);
    /* The cache fills what the reader has: MemFree low, MemAvailable high. */
    msim_run(&s, 120);
    assert_fed(&s);
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
START_TEST(cache_filling_is_not_growth)
{
    struct msim s;
    struct fake_cache_load reader = {.rate_kib_s = 40 * MIB, .span_kib = 2048 * MIB, .delay_s = 20};
    uint64_t idle_size;
    int r;

    msim_init_period(&s, 8192, 1024, 0, 2);
    r = add_guest(&s, 2048, 512, &idle, true);
    fake_set_cache_load(s.f, r, &reader);
    msim_run(&s, 9);
    ck_assert_uint_le(fake_usable_kib(s.f, r), 150 * MIB); /* idle size, before reading */
    idle_size = fake_actual_kib(s.f, r);
    s.peak_actual[r] = 0;
    msim_run(&s, 40);
    assert_fed(&s);
    ck_assert_uint_gt(fake_cache_kib(s.f, r), 100 * MIB);
    ck_assert_uint_le(s.peak_actual[r], idle_size + 2048 * MIB * 26 / 1000 + MEM_MIN_CHANGE_KIB);
    ck_assert_uint_le(s.starving[r], 1); /* the sample that first shows the drop */
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

    msim_init(&s, 8192, 1024, 0);
    a = add_guest(&s, 2048, 768, &idle, true);
    b = add_guest(&s, 2048, 768, &idle, true);
    fake_set_stats_kind(s.f, a, FAKE_STATS_NO_USABLE);
    fake_set_stats_kind(s.f, b, FAKE_STATS_UNUSED_ONLY);
    fake_set_cache_load(s.f, a, &reader);
    fake_set_cache_load(s.f, b, &reader);
    msim_run(&s, 60);
    assert_invariants(&s);
    ck_assert_uint_le(s.peak_actual[a], 768 * MIB);
    ck_assert_uint_lt(fake_actual_kib(s.f, a), 600 * MIB);
    ck_assert_int_eq(s.last_rep.guests[a].headroom_from, MEMSIG_UNUSED_CACHES);
    ck_assert_int_eq(s.last_rep.guests[b].headroom_from, MEMSIG_UNUSED);
    ck_assert_uint_gt(s.peak_actual[b], 768 * MIB); /* its cache looks like use */
    msim_free(&s);
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

    msim_init(&s, 8192, 1024, 0);
    h = add_guest(&s, 2048, 1024, &idle, true);
    fake_set_cache_load(s.f, h, &hot);
    add_guest(&s, 2048, 512, &idle, true);
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
    assert_fed(&s);
    msim_free(&s);
}
END_TEST

/* A guest backed by huge pages: its resident size excludes them (they come from the host's
 * pool), and ballooning cannot return them. It is left alone, and the budget is not driven
 * negative by it: the others are fed. */
START_TEST(hugepage_guest_is_left_alone_and_the_others_fed)
{
    struct msim s;
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 30 * MIB,
                                 .cap_kib = 1200 * MIB,
                                 .hold_s = -1,
                                 .delay_s = 3};
    int h;

    msim_init(&s, 12288, 1024 + 4096, 0); /* a 4 GiB huge page pool */
    h = add_guest(&s, 4096, 4096, &idle, true);
    fake_set_hugepages(s.f, h, true);
    s.huge[h] = true;
    add_guest(&s, 2048, 512, &grow, true);
    add_guest(&s, 2048, 512, &grow, true);
    msim_run(&s, 80);
    assert_fed(&s);
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
        struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                     .rate_kib_s = 25 * MIB,
                                     .cap_kib = 1000 * MIB,
                                     .hold_s = -1,
                                     .delay_s = 20 + k * 0.25};
        struct msim s;
        int g;

        msim_init_period(&s, 8192, 1024, 0, 2);
        g = add_guest(&s, 2048, 512, &grow, true);
        msim_run(&s, 40);
        assert_fed(&s);
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
        struct fake_mem_load surge = {.base_kib = 64 * MIB,
                                      .rate_kib_s = rates[k / 2] * MIB,
                                      .cap_kib = 1200 * MIB,
                                      .hold_s = -1,
                                      .delay_s = 20};
        bool ad = k % 2;
        struct msim s;
        int g;

        msim_init_period(&s, 8192, 1024, 0, 2);
        g = add_guest(&s, 2048, 512, &surge, true);
        fake_set_balloon_features(s.f, g, ad, ad);
        msim_run(&s, 9); /* idle: shrunk to its idle size */
        ck_assert_uint_le(fake_usable_kib(s.f, g), 150 * MIB);
        msim_run(&s, 60);
        assert_invariants(&s);
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
    struct fake_mem_load cycle = {.base_kib = 64 * MIB,
                                  .rate_kib_s = 60 * MIB,
                                  .cap_kib = 900 * MIB,
                                  .hold_s = 4,
                                  .repeat = true,
                                  .delay_s = 3};

    msim_init(&s, 4096, 512, 768);
    for (int i = 0; i < 4; i++) {
        int g = add_guest(&s, 2048, 512, &cycle, true);
        fake_set_balloon_features(s.f, g, false, true);
    }
    msim_run(&s, 150);
    assert_invariants(&s); /* the reserve held, every period */
    ck_assert_uint_ge(s.lowest_free, 768 * MIB);
    msim_free(&s);
}
END_TEST

/* A guest bound to NUMA node 1 grows only from node 1's free memory; the unbound one is fed
 * from the rest. */
START_TEST(strict_numa_guest_grows_from_its_node)
{
    struct msim s;
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 30 * MIB,
                                 .cap_kib = 1800 * MIB,
                                 .hold_s = -1,
                                 .delay_s = 3};
    int bound, free_one;

    msim_init(&s, 8192, 1024, 512);
    fake_set_node_ram(s.f, 0, 6144 * MIB);
    fake_set_node_ram(s.f, 1, 2048 * MIB - 512 * MIB);
    fake_set_node_ram(s.f, 2, 512 * MIB);
    bound = add_guest(&s, 2048, 512, &grow, true);
    fake_set_numa(s.f, bound, 1u << 1);
    free_one = add_guest(&s, 2048, 512, &grow, true);
    s.track_node1 = true;
    msim_run(&s, 100);
    assert_invariants(&s);
    /* Node 1 (1.5 GiB) never gave more than it had above its part of the reserve (a third). */
    ck_assert_uint_ge(s.low_node_room + 8 * MIB, 512 * MIB / 3);
    ck_assert_uint_lt(fake_actual_kib(s.f, bound), 1536 * MIB);
    ck_assert_uint_eq(s.starving[free_one], 0);
    ck_assert_uint_ge(fake_actual_kib(s.f, free_one), (64 + 1800 + 100) * MIB);
    msim_free(&s);
}
END_TEST

/* With PERIOD below the guest's statistics period most samples repeat the last report: they
 * decide nothing, and growth is measured on the guest's clock, not halved by the repeats. */
START_TEST(repeated_samples_decide_nothing)
{
    struct msim s;
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 30 * MIB,
                                 .cap_kib = 1500 * MIB,
                                 .hold_s = -1,
                                 .delay_s = 5};
    int g;

    msim_init_period(&s, 8192, 1024, 0, 0.5); /* statistics stay every 1 s */
    g = add_guest(&s, 2048, 512, &grow, true);
    msim_run(&s, 40);
    ck_assert_uint_eq(s.stale_changes, 0);
    ck_assert(s.last_rep.guests[g].view->rate_kib_s > 25 * MIB);
    ck_assert(s.last_rep.guests[g].view->rate_kib_s < 36 * MIB);
    msim_run(&s, 120);
    assert_fed(&s);
    ck_assert_uint_eq(s.starving[g], 0);
    msim_free(&s);
}
END_TEST

START_TEST(guest_without_statistics_is_left_alone)
{
    struct msim s;
    struct fake_mem_load grow = {
            .base_kib = 64 * MIB, .rate_kib_s = 30 * MIB, .cap_kib = 1500 * MIB, .hold_s = -1};

    msim_init(&s, 16384, 1024, 0);
    add_guest(&s, 2048, 512, &grow, false); /* cannot turn statistics on */
    add_guest(&s, 2048, 512, &grow, false); /* statistics turned on by the coordinator */
    fake_inject(s.f, FAKE_OP_MEMSTATS, 0, HV_FAIL, 1000);
    msim_run(&s, 40);
    assert_fed(&s);
    ck_assert_uint_eq(s.changes[0], 0);
    ck_assert_uint_eq(fake_target_kib(s.f, 0), 512 * MIB);
    ck_assert_uint_eq(fake_calls(s.f, FAKE_OP_MEMSTATS), 2); /* asked once each, not per period */
    ck_assert_uint_gt(s.changes[1], 0);
    ck_assert_uint_eq(fake_oom_kills(s.f, 1), 0);
    msim_free(&s);
}
END_TEST

START_TEST(stale_and_impossible_statistics_are_not_trusted)
{
    static const enum hostile modes[] = {STALE,   UNUSED_ABOVE_ACTUAL,    AVAILABLE_ABOVE_MAX,
                                         ALL_MAX, USABLE_ABOVE_AVAILABLE, NO_STATS};
    struct msim s;
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 30 * MIB,
                                 .cap_kib = 1500 * MIB,
                                 .hold_s = -1,
                                 .delay_s = 15};
    int n = (int)(sizeof(modes) / sizeof(modes[0]));

    msim_init(&s, 32768, 1024, 0);
    for (int i = 0; i < n; i++) {
        add_guest(&s, 2048, 1024, &grow, true);
        s.mode[i] = modes[i];
    }
    msim_run(&s, 14);
    unsigned stale_changes = s.changes[0];
    msim_run(&s, 60);
    assert_fed(&s);
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

    msim_init_period(&s, 16384, 1024, 0, 2);
    g = add_guest(&s, 2048, 1074, &idle, false);
    fake_set_stats_every(s.f, g, 5);
    msim_run(&s, 60);
    assert_fed(&s);
    ck_assert_uint_gt(s.misfits[g], 0); /* the case arose */
    ck_assert_uint_eq(s.impossible[g], 0);
    ck_assert_uint_eq(s.last_rep.guests[g].distrust, COORD_TRUSTED);
    ck_assert_uint_eq(s.stale_changes, 0);
    ck_assert_uint_le(fake_usable_kib(s.f, g), 150 * MIB);
    ck_assert_uint_ge(fake_usable_kib(s.f, g), 140 * MIB);
    msim_free(&s);
}
END_TEST

START_TEST(property_invariants_over_random_hostile_scenarios)
{
    uint64_t seed = 0x5eed1234abcdull;
    long steps = 0;

    for (int sc = 0; sc < 100; sc++) {
        struct msim s;
        uint64_t ram = 2048 + rng_next(&seed) % 14336;
        uint64_t reserve = 256 + rng_next(&seed) % 1024;
        int n = 1 + (int)(rng_next(&seed) % 8);

        msim_init(&s, ram, 256, reserve);
        s.rng = rng_next(&seed) | 1;
        for (int i = 0; i < n; i++) {
            uint64_t max = 256 + rng_next(&seed) % 4096;
            uint64_t cur = 128 + rng_next(&seed) % max;
            struct fake_mem_load ml = {
                    .base_kib = (32 + rng_next(&seed) % 96) * MIB,
                    .delay_s = (double)(rng_next(&seed) % 20),
                    .rate_kib_s =
                            (double)(rng_next(&seed) % 4) * (double)(rng_next(&seed) % 80) * MIB,
                    .cap_kib = (rng_next(&seed) % max) * MIB,
                    .hold_s = (double)(rng_next(&seed) % 30),
                    .repeat = rng_next(&seed) % 2,
            };
            add_guest(&s, max, cur > max ? max : cur, &ml, rng_next(&seed) % 4 != 0);
            s.mode[i] =
                    rng_next(&seed) % 3 == 0 ? (enum hostile)(rng_next(&seed) % NHOSTILE) : HONEST;
        }
        /* Only a host that is not overcommitted at the start (guests' current sizes fit above
         * the reserve) can promise to stay there: guests may use what they already have. */
        uint64_t sum = 0;
        for (int i = 0; i < n; i++)
            sum += fake_actual_kib(s.f, i);
        if ((ram - 256) * MIB < sum + reserve * MIB) {
            msim_free(&s);
            sc--;
            continue;
        }
        msim_run(&s, 100);
        steps += s.period;
        assert_invariants(&s);
        msim_free(&s);
    }
    ck_assert_int_ge(steps, 10000);
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

START_TEST(dry_run_and_shares)
{
    struct msim s;
    struct coord_share shares[] = {{"m0", 3}};
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 50 * MIB,
                                 .cap_kib = 1800 * MIB,
                                 .hold_s = -1,
                                 .delay_s = 3};
    struct runner_config rc = {.period_s = 1, .what = HV_SAMPLE_MEM};

    /* Shares: two equally hungry guests on a short host; m0 weighs 3. */
    msim_init(&s, 4096, 512, 1024);
    coord_destroy(s.c);
    runner_destroy(s.r);
    s.cfg.shares = shares;
    s.cfg.nshares = 1;
    s.c = coord_create(&s.cfg);
    s.r = runner_create(&rc, fake_hv(s.f), mstep, &s);
    add_guest(&s, 4096, 256, &grow, true);
    add_guest(&s, 4096, 256, &grow, true);
    msim_run(&s, 60);
    assert_invariants(&s);
    ck_assert_uint_gt(s.peak_actual[0], s.peak_actual[1]);
    msim_free(&s);

    msim_init(&s, 16384, 1024, 0);
    coord_destroy(s.c);
    runner_destroy(s.r);
    s.cfg.dry_run = true;
    s.c = coord_create(&s.cfg);
    s.r = runner_create(&rc, fake_hv(s.f), mstep, &s);
    add_guest(&s, 2048, 512, &grow, true);
    add_guest(&s, 2048, 1024, &idle, true);
    msim_run(&s, 20);
    ck_assert_uint_eq(fake_calls(s.f, FAKE_OP_SETMEM), 0);
    ck_assert_uint_gt(s.changes[0] + s.changes[1], 0); /* it still says what it would do */
    msim_free(&s);
}
END_TEST

START_TEST(failing_balloon_call_does_not_stop_the_others)
{
    struct msim s;
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 30 * MIB,
                                 .cap_kib = 1200 * MIB,
                                 .hold_s = -1,
                                 .delay_s = 3};

    msim_init(&s, 16384, 1024, 0);
    add_guest(&s, 2048, 512, &grow, true);
    add_guest(&s, 2048, 512, &grow, true);
    /* Every balloon call for guest 0 fails (a wedged domain, say); guest 1 is still fed. */
    fake_inject(s.f, FAKE_OP_SETMEM, 0, HV_FAIL, 1000000);
    msim_run(&s, 60);
    ck_assert_uint_eq(fake_target_kib(s.f, 0), 512 * MIB);
    ck_assert_uint_ge(fake_actual_kib(s.f, 1), (64 + 1200 + 64) * MIB);
    ck_assert_uint_eq(fake_oom_kills(s.f, 1), 0);
    msim_free(&s);
}
END_TEST

START_TEST(churn_and_reconnection)
{
    struct msim s;
    struct fake_mem_load grow = {.base_kib = 64 * MIB,
                                 .rate_kib_s = 30 * MIB,
                                 .cap_kib = 800 * MIB,
                                 .hold_s = 10,
                                 .repeat = true};
    int next = 0;

    msim_init(&s, 16384, 1024, 0);
    for (int i = 0; i < 4; i++)
        add_guest(&s, 2048, 512, &grow, i % 2 == 0);
    for (int round = 0; round < 8; round++) {
        msim_run(&s, s.period + 5);
        fake_remove_domain(s.f, next++); /* destroyed between periods */
        add_guest(&s, 2048, 512, &grow, round % 2 == 0);
        fake_set_paused(s.f, next, round % 2 == 0); /* paused and resumed */
        if (round == 3) {
            fake_set_down(s.f, true); /* libvirtd restarts */
            msim_run(&s, s.period + 3);
            fake_set_down(s.f, false);
        }
    }
    msim_run(&s, s.period + 20);
    assert_invariants(&s);
    msim_free(&s);
}
END_TEST

/* A host whose guests report random, mostly hostile, statistics every period. */
struct garbage_host {
    uint64_t seed;
    unsigned long sets;
};

static uint64_t g_size(uint64_t *s)
{
    switch (rng_next(s) % 6) {
    case 0:
        return 0;
    case 1:
        return UINT64_MAX;
    case 2:
        return rng_next(s) >> (rng_next(s) % 64);
    default:
        return (rng_next(s) % 4096) * MIB;
    }
}

static int garbage_sample(struct hv *hv, struct snap *snap, unsigned what, hv_filter_fn filter,
                          void *arg)
{
    struct garbage_host *g = hv_priv(hv);
    (void)what;
    (void)filter;
    (void)arg;

    snap_reset(snap, (uint64_t)(rng_next(&g->seed) % 1000000) * 1000000000ull, 4);
    snap_set_host_memory(snap, g_size(&g->seed), g_size(&g->seed));
    for (int n = 0; n < 2; n++)
        if (rng_next(&g->seed) % 2)
            snap_set_node_free(snap, n, g_size(&g->seed));
    for (int i = 0; i < 10; i++) {
        unsigned char uuid[SNAP_UUID_LEN] = {0};
        struct snap_domain *d;
        uuid[0] = (unsigned char)i;
        d = snap_add_domain(snap, uuid, "garbage", 0);
        d->mem.actual_kib = g_size(&g->seed);
        d->mem.max_kib = g_size(&g->seed);
        d->mem.unused_kib = g_size(&g->seed);
        d->mem.available_kib = g_size(&g->seed);
        d->mem.usable_kib = g_size(&g->seed);
        d->mem.rss_kib = g_size(&g->seed);
        d->mem.last_update = rng_next(&g->seed) % 4;
        d->mem.disk_caches_kib = g_size(&g->seed);
        d->mem.major_fault =
                rng_next(&g->seed) % 3 ? rng_next(&g->seed) % 1000 : rng_next(&g->seed);
        d->mem.swap_in_kib =
                rng_next(&g->seed) % 3 ? rng_next(&g->seed) % 1000 : rng_next(&g->seed);
        d->mem.flags = (uint32_t)rng_next(&g->seed) & 0xfff;
        d->cfg = (uint32_t)rng_next(&g->seed) & 0x3f;
        d->numa_nodes = rng_next(&g->seed) % 4;
    }
    return HV_OK;
}

static int garbage_set_memory(struct hv *hv, const unsigned char *uuid, uint64_t kib)
{
    (void)uuid;
    (void)kib;
    ((struct garbage_host *)hv_priv(hv))->sets++;
    return HV_OK;
}

static int garbage_ok(struct hv *hv, const unsigned char *uuid, int period)
{
    (void)hv;
    (void)uuid;
    (void)period;
    return HV_OK;
}

static const struct hv_ops garbage_ops = {.name = "garbage",
                                          .sample = garbage_sample,
                                          .set_memory = garbage_set_memory,
                                          .enable_memstats = garbage_ok};

/* 100,000 periods of 10 guests = 1,000,000 random statistics through the whole coordinator
 * (sanitising, rates, policy): impossible statistics never move a balloon, and no target is
 * above the maximum or (when shrinking) below the floor. */
START_TEST(fuzz_a_million_random_statistics)
{
    struct garbage_host gh = {.seed = 0xfeedfacecafebeefull};
    struct hv *hv = hv_create(&garbage_ops, &gh);
    struct coord_config cfg = {.min_unused_kib = 100 * MIB,
                               .floor_kib = 200 * MIB,
                               .reserve_default = true,
                               .period_s = 1};
    struct coord *c = coord_create(&cfg);
    struct snap *a = snap_create(), *b = snap_create();
    unsigned long inputs = 0;

    for (int p = 0; p < 100000; p++) {
        struct coord_report rep;
        ck_assert_int_eq(hv_sample(hv, b, HV_SAMPLE_MEM, NULL, NULL), HV_OK);
        ck_assert_int_eq(coord_period(c, hv, p ? a : NULL, b, 0, &rep), 0);
        for (size_t i = 0; i < rep.nguests; i++) {
            const struct coord_guest *g = &rep.guests[i];
            const struct snap_mem *m = &snap_domain(b, g->domain)->mem;
            bool bad = (m->flags & SNAP_MEM_UNUSED) && m->unused_kib > m->actual_kib;
            bad = bad || m->actual_kib > m->max_kib || m->max_kib >= UTIL_HUGE_KIB;
            bad = bad || ((m->flags & SNAP_MEM_AVAILABLE) && m->available_kib > m->max_kib);
            bad = bad || ((m->flags & SNAP_MEM_USABLE) && m->usable_kib > m->max_kib);
            inputs++;
            if (!g->decision.change)
                continue;
            ck_assert(!bad);
            ck_assert_int_eq(g->distrust, COORD_TRUSTED);
            ck_assert_uint_le(g->decision.target_kib, m->max_kib);
            if (g->decision.target_kib < mem_committed(g->view))
                ck_assert_uint_ge(g->decision.target_kib, cfg.floor_kib);
        }
        {
            struct snap *t = a;
            a = b;
            b = t;
        }
    }
    ck_assert_uint_eq(inputs, 1000000);
    coord_destroy(c);
    hv_destroy(hv);
    snap_destroy(a);
    snap_destroy(b);
}
END_TEST

Suite *coordinator_suite(void)
{
    Suite *s = suite_create("coordinator");
    TCase *loop = tcase_create("closed loop");
    TCase *prop = tcase_create("properties");

    tcase_add_test(loop, one_grows_three_idle);
    tcase_add_test(loop, all_four_grow_until_the_reserve);
    tcase_add_test(loop, memory_moves_from_a_freeing_guest_to_a_growing_one);
    tcase_add_test(loop, guest_without_statistics_is_left_alone);
    tcase_add_test(loop, stale_and_impossible_statistics_are_not_trusted);
    tcase_add_test(loop, statistics_older_than_the_balloon_are_not_impossible);
    tcase_add_test(loop, reserve_options);
    tcase_add_test(loop, dry_run_and_shares);
    tcase_add_test(loop, failing_balloon_call_does_not_stop_the_others);
    tcase_add_test(loop, churn_and_reconnection);
    tcase_add_test(loop, cache_heavy_guest_is_not_grown_and_is_reclaimed);
    tcase_add_test(loop, cache_filling_is_not_growth);
    tcase_add_test(loop, guests_without_usable_fall_back);
    tcase_add_test(loop, squeezed_guest_is_given_back_its_memory_and_held);
    tcase_add_test(loop, hugepage_guest_is_left_alone_and_the_others_fed);
    tcase_add_test(loop, sudden_onset_with_and_without_autodeflate);
    tcase_add_test(loop, growth_from_idle_is_fed_after_its_onset);
    tcase_add_test(loop, strict_numa_guest_grows_from_its_node);
    tcase_add_test(loop, free_page_reporting_keeps_the_budget_right);
    tcase_add_test(loop, repeated_samples_decide_nothing);
    tcase_add_test(prop, property_invariants_over_random_hostile_scenarios);
    tcase_add_test(prop, fuzz_a_million_random_statistics);
    tcase_set_timeout(prop, 600);
    suite_add_tcase(s, loop);
    suite_add_tcase(s, prop);
    return s;
}
