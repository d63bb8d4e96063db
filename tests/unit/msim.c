/* A closed loop of the memory coordinator on the fake host, for the coordinator's tests. */
#include "msim.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

const struct fake_mem_load msim_idle = {.base_kib = 64 * MIB};

struct fake_mem_load msim_growth(double rate_mib_s, uint64_t cap_mib, double delay_s)
{
    return (struct fake_mem_load){.base_kib = 64 * MIB,
                                  .rate_kib_s = rate_mib_s * MIB,
                                  .cap_kib = cap_mib * MIB,
                                  .hold_s = -1,
                                  .delay_s = delay_s};
}

/* The fake's statistics hook: guest DOM's sample M as its lie (s->mode) makes it. */
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

/* With MSIM_TRACE set: the report REP about CUR, a line per guest on stderr. */
static void trace(const struct coord_report *rep, const struct snap *cur)
{
    fprintf(stderr, "p%lu host free %llu reserve %llu budget %llu%s\n", rep->period_no,
            (unsigned long long)rep->host_free_kib / MIB,
            (unsigned long long)rep->reserve_kib / MIB, (unsigned long long)rep->budget_kib / MIB,
            rep->short_of_memory ? " short" : "");
    for (size_t i = 0; i < rep->nguests; i++) {
        const struct coord_guest *g = &rep->guests[i];
        fprintf(stderr,
                "p%lu g%zu act %llu head %llu fresh %d settled %d %s/%s tgt %llu rate %.1f "
                "faults %.2f press %d hold %llu\n",
                rep->period_no, i,
                (unsigned long long)snap_domain(cur, g->domain)->mem.actual_kib / MIB,
                (unsigned long long)g->view->headroom_kib / MIB, g->fresh, g->view->settled,
                mem_reason_name(g->decision.reason), coord_distrust_name(g->distrust),
                (unsigned long long)g->decision.target_kib / MIB, g->view->rate_kib_s / MIB,
                g->fault_rate, g->view->pressure, (unsigned long long)g->view->hold_kib / MIB);
    }
}

/* Records what the report says of guest G (domain ID, sample M): its lies, squeezes and
 * deflations. */
static void record_signals(struct msim *s, const struct coord_guest *g, int id,
                           const struct snap_mem *m)
{
    if (id >= MAXD)
        return;
    if (m->unused_kib > m->actual_kib)
        s->misfits[id]++;
    if (g->distrust == COORD_IMPOSSIBLE)
        s->impossible[id]++;
    if (g->squeezed && !s->squeezed_at[id])
        s->squeezed_at[id] = s->period;
    if (g->view->deflated && !s->deflated_at[id]) {
        s->deflated_at[id] = s->period;
        s->deflated_kib[id] = m->actual_kib;
    }
    if (s->deflated_at[id] && g->decision.change && g->decision.target_kib < s->deflated_kib[id] &&
        (s->period - s->deflated_at[id]) * s->cfg.period_s < MEMSIG_HOLD_MIN_S)
        s->shrinks_held[id]++;
}

/* Records the new target of guest G (domain ID) and checks it against the invariants. */
static void record_change(struct msim *s, const struct coord_guest *g, int id)
{
    uint64_t max = fake_max_kib(s->f, id);
    uint64_t target = g->decision.target_kib, committed = mem_committed(g->view);

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
    /* Lies no real guest tells never earn memory (stale statistics look fresh until they have
     * not changed for a while: the stale test covers them). */
    if (id < MAXD && s->mode[id] != HONEST && s->mode[id] != ALL_ZERO && s->mode[id] != FLIPPING &&
        s->mode[id] != GARBAGE && s->mode[id] != STALE && target > committed)
        s->bad_hostile_growth++;
}

/* The runner's step: one period of the coordinator, its report recorded. */
static int step(void *ctx, struct hv *hv, const struct snap *prev, const struct snap *cur,
                unsigned long calls)
{
    struct msim *s = ctx;
    struct coord_report rep;

    ck_assert_int_eq(coord_period(s->c, hv, prev, cur, calls, &rep), 0);
    s->last_rep = rep;
    s->reserve = rep.reserve_kib;
    if (getenv("MSIM_TRACE"))
        trace(&rep, cur);
    for (size_t i = 0; i < rep.nguests; i++) {
        const struct coord_guest *g = &rep.guests[i];
        int id = dom_id(cur, g->domain);

        record_signals(s, g, id, &snap_domain(cur, g->domain)->mem);
        if (g->decision.change)
            record_change(s, g, id);
    }
    return 0;
}

void msim_start(struct msim *s, const struct msim_host *h)
{
    double period_s = h->period_s > 0 ? h->period_s : 1;
    struct runner_config rc = {.period_s = period_s, .what = COORD_SAMPLE};

    memset(s, 0, sizeof(*s));
    s->f = fake_create(4, h->ram_mib * MIB, h->other_mib * MIB);
    s->cfg.min_unused_kib = 100 * MIB;
    s->cfg.floor_kib = 200 * MIB;
    s->cfg.reserve_default = h->reserve_mib == 0;
    s->cfg.reserve_kib = h->reserve_mib * MIB;
    s->cfg.period_s = period_s;
    s->cfg.dry_run = h->dry_run;
    s->cfg.shares = h->shares;
    s->cfg.nshares = h->nshares;
    s->cfg.reclaim = h->reclaim;
    s->cfg.observe_first = h->observe_first;
    s->c = coord_create(&s->cfg);
    s->r = runner_create(&rc, fake_hv(s->f), step, s);
    s->lowest_free = UINT64_MAX;
    s->rng = 88172645463325252ull;
    ck_assert(s->f && s->c && s->r);
    fake_set_stats_hook(s->f, hostile_hook, s);
    for (int d = 0; d < MAXD; d++)
        s->low_actual[d] = s->low_headroom[d] = UINT64_MAX;
    s->low_node_room = UINT64_MAX;
}

void msim_free(struct msim *s)
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

int msim_guest(struct msim *s, uint64_t max_mib, uint64_t cur_mib, const struct fake_mem_load *load)
{
    return add_guest(s, max_mib, cur_mib, load, true);
}

int msim_guest_without_stats(struct msim *s, uint64_t max_mib, uint64_t cur_mib,
                             const struct fake_mem_load *load)
{
    return add_guest(s, max_mib, cur_mib, load, false);
}

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

/* Records the truth about guest D at this sample, before the coordinator sees it. */
static void record_truth(struct msim *s, int d)
{
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
            fprintf(stderr, "period %d guest %d starving: actual %llu used %llu target %llu\n",
                    s->period, d, (unsigned long long)act / MIB, (unsigned long long)used / MIB,
                    (unsigned long long)fake_target_kib(s->f, d) / MIB);
    }
    if (fake_oom_kills(s->f, d) > s->ooms[d]) {
        s->ooms[d] = fake_oom_kills(s->f, d);
        if (s->prev_free > s->reserve + 512 * MIB && s->mode[d] == HONEST && s->stats_from_start[d])
            s->oom_while_available++;
    }
}

void msim_run(struct msim *s, int n)
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
        for (int d = 0; d < s->ndoms && d < MAXD; d++)
            record_truth(s, d);
        s->prev_free = free_kib;
        ck_assert_int_eq(runner_tick(s->r), RUNNER_CONTINUE);
        s->period++;
    }
}

void msim_assert_invariants(const struct msim *s)
{
    ck_assert_uint_eq(s->bad_floor, 0);
    ck_assert_uint_eq(s->bad_max, 0);
    ck_assert_uint_eq(s->bad_step, 0);
    ck_assert_uint_eq(s->bad_squeeze, 0);
    ck_assert_uint_eq(s->bad_reserve, 0);
    ck_assert_uint_eq(s->bad_hostile_growth, 0);
}

void msim_assert_fed(const struct msim *s)
{
    msim_assert_invariants(s);
    ck_assert_uint_eq(s->oom_while_available, 0);
}
