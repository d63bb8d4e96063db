/* One period of the memory coordinator: the guests' statistics judged (memtrust.c), their
 * signals derived (memderive.c), targets planned (mempolicy.c), applied, and reported (coordlog.c).
 */
#include "coordinator.h"

#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "carry.h"
#include "coordlog.h"
#include "coordstate.h"
#include "log.h"
#include "memderive.h"
#include "memtrust.h"
#include "util.h"

/* Seconds before missing statistics are warned about, after enabling them. */
#define STATS_GRACE_MIN_S 10.0

/* A balloon short of its target that has not moved for max(STUCK_MIN_S, STUCK_PERIODS
 * periods) has stopped (the guest cannot give more, or ignores it). */
#define STUCK_MIN_S   3.0
#define STUCK_PERIODS 2

/* A balloon that has not moved toward the target we set for max(IGNORE_MIN_S, IGNORE_PERIODS
 * periods) ignores it (no driver, or a stuck one). */
#define IGNORE_MIN_S   10.0
#define IGNORE_PERIODS 5

struct coord {
    struct coord_config cfg;
    unsigned long period;
    long *dom_prev; /* per domain of the current sample: its index in the previous one, or -1 */
    size_t cap_dom;
    struct carry state;       /* struct gstate per guest, this period's and the previous one's */
    struct mem_guest *mg;     /* per guest: the policy's view of it (this period) */
    struct coord_guest *info; /* per guest: what the report says of it (this period) */
    size_t cap_mg, cap_info;
    /* This period: */
    size_t n;
    struct coord_clock clock;
    struct mem_host host;
    uint64_t host_total_kib, reserve_kib;
};

const char *coord_distrust_name(enum coord_distrust d)
{
    switch (d) {
    case COORD_TRUSTED:
        return "trusted";
    case COORD_NO_BALLOON:
        return "no balloon";
    case COORD_NO_STATS:
        return "no statistics";
    case COORD_STALE:
        return "stale statistics";
    case COORD_IMPOSSIBLE:
        return "impossible statistics";
    }
    return "?";
}

uint64_t coord_reserve_kib(const struct coord_config *cfg, uint64_t total_kib)
{
    if (cfg->reserve_default) {
        uint64_t pct = (uint64_t)((double)total_kib * COORD_RESERVE_PCT / 100);
        return pct > COORD_RESERVE_MIN_KIB ? pct : COORD_RESERVE_MIN_KIB;
    }
    if (cfg->reserve_pct > 0)
        return (uint64_t)((double)total_kib * cfg->reserve_pct / 100);
    return cfg->reserve_kib;
}

/* With --reclaim when-short: the host free memory below which idle memory is reclaimed (never
 * 0, which the policy reads as always). */
static uint64_t reclaim_level(uint64_t reserve_kib)
{
    uint64_t level = COORD_RECLAIM_RESERVES * reserve_kib;
    return level ? level : 1;
}

struct mem_config coord_policy_config(const struct coord_config *cfg, uint64_t reserve_kib)
{
    return (struct mem_config){.min_unused_kib = cfg->min_unused_kib,
                               .floor_kib = cfg->floor_kib,
                               .host_reserve_kib = reserve_kib,
                               .period_s = cfg->period_s,
                               .reclaim_below_kib = cfg->reclaim == COORD_RECLAIM_WHEN_SHORT
                                                            ? reclaim_level(reserve_kib)
                                                            : 0};
}

struct coord *coord_create(const struct coord_config *cfg)
{
    struct coord *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->cfg = *cfg;
    carry_init(&c->state, sizeof(struct gstate));
    return c;
}

void coord_destroy(struct coord *c)
{
    if (!c)
        return;
    carry_free(&c->state);
    free(c->dom_prev);
    free(c->mg);
    free(c->info);
    free(c);
}

static int ensure(struct coord *c, size_t n)
{
    size_t n1 = n ? n : 1;

    if (carry_reserve(&c->state, n1) < 0 ||
        util_grow((void **)&c->dom_prev, &c->cap_dom, n1, sizeof(*c->dom_prev)) < 0 ||
        util_grow((void **)&c->mg, &c->cap_mg, n1, sizeof(*c->mg)) < 0 ||
        util_grow((void **)&c->info, &c->cap_info, n1, sizeof(*c->info)) < 0)
        return -1;
    return 0;
}

static double weight_for(const struct coord *c, const char *name)
{
    for (size_t i = 0; i < c->cfg.nshares; i++)
        if (fnmatch(c->cfg.shares[i].glob, name, 0) == 0)
            return c->cfg.shares[i].weight;
    return 1.0;
}

/* Statistics reporting period to ask guests for: about half our period, 1 to 10 s. */
static int stats_period(const struct coord *c)
{
    double p = c->cfg.period_s / 2;
    return p < 1 ? 1 : p > 10 ? 10 : (int)p;
}

/* The clock at NOW, with the spans of CFG's period. */
static struct coord_clock clock_at(const struct coord_config *cfg, double now)
{
    return (struct coord_clock){
            .now = now,
            .grace_s = fmax(STATS_GRACE_MIN_S, 3 * cfg->period_s),
            .window_s = fmax(MEMSIG_SQUEEZE_MIN_S, MEMSIG_SQUEEZE_PERIODS * cfg->period_s),
            .hold_s = fmax(MEMSIG_HOLD_MIN_S, MEMSIG_HOLD_PERIODS * cfg->period_s),
            .stuck_s = fmax(STUCK_MIN_S, STUCK_PERIODS * cfg->period_s),
            .ignore_s = fmax(IGNORE_MIN_S, IGNORE_PERIODS * cfg->period_s),
            .cold_kib = cfg->min_unused_kib};
}

static struct gstate *state_of(struct coord *c, size_t i)
{
    return (struct gstate *)c->state.cur + i;
}

/* derive, one guest of CUR: its state carried in, its statistics judged, its signals derived. */
static void derive_guest(struct coord *c, const struct snap *cur, size_t i)
{
    const struct gstate *old = carry_prev(&c->state, c->dom_prev[i]);
    struct gstate *st = state_of(c, i);
    struct coord_guest *g = &c->info[i];
    struct memderive_sample s = {.d = snap_domain(cur, i)};

    if (old) {
        *st = *old;
    } else {
        memset(st, 0, sizeof(*st));
        st->enabled_t = -1;
    }
    memset(g, 0, sizeof(*g));
    g->domain = i;
    g->view = &c->mg[i];
    s.fits = memsig_headroom(&s.d->mem, &s.headroom_kib, &s.headroom_from);
    s.weight = weight_for(c, snap_domain_name(cur, s.d));
    s.tune = snap_domain_tune(cur, s.d);
    g->distrust = memtrust_judge(st, &s.d->mem, s.fits, &c->clock, &g->fresh, &s.dt);
    memtrust_track(st, g, &c->clock);
    memderive_guest(st, &s, &c->clock, g, &c->mg[i]);
}

/* derive (pure): the host's memory and every guest's facts for the policy. */
static void derive(struct coord *c, const struct snap *prev, const struct snap *cur)
{
    c->clock = clock_at(&c->cfg, (double)snap_time_ns(cur) / 1e9);
    c->host.known = snap_has_host_memory(cur);
    c->host.free_kib = snap_host_free_kib(cur);
    c->host_total_kib = snap_host_total_kib(cur);
    c->reserve_kib = coord_reserve_kib(&c->cfg, c->host_total_kib);
    c->host.node_known = 0;
    for (int n = 0; n < MEM_MAX_NODES; n++)
        if (snap_node_free_kib(cur, n, &c->host.node_free_kib[n]))
            c->host.node_known |= 1ull << n;
    snap_match(prev, cur, c->dom_prev);
    for (size_t i = 0; i < c->n; i++)
        derive_guest(c, cur, i);
}

/* Takes the policy's decision DEC for guest I, counting its change in REP. */
static void take_decision(struct coord *c, size_t i, const struct mem_decision *dec,
                          struct coord_report *rep)
{
    struct coord_guest *g = &c->info[i];
    struct gstate *st = state_of(c, i);
    uint64_t committed = mem_committed(g->view);

    g->decision = *dec;
    rep->capped += dec->reason == MEM_AT_CAP;
    /* A repeated sample, or one taken while the balloon moves, decides nothing, not even that
     * a shrink has ended. */
    if ((g->view->fresh && g->view->settled) || !g->view->trusted)
        st->shrinking = dec->target_kib < committed;
    /* Nothing is written that would not change: not the target already set. */
    g->decision.change = dec->change && dec->target_kib != st->target;
    if (!g->decision.change)
        return;
    if (st->shrinking)
        memsig_note_shrink(&st->sig, c->clock.now, committed);
    rep->changes++;
    if (dec->target_kib > committed)
        rep->granted_kib += dec->target_kib - committed;
    else
        rep->reclaimed_kib += committed - dec->target_kib;
}

/* plan (pure): the memory policy; each guest's decision goes to its info, the plan's figures
 * to REP. */
static int plan(struct coord *c, struct coord_report *rep)
{
    struct mem_config mc = coord_policy_config(&c->cfg, c->reserve_kib);
    struct mem_plan p;

    if (mem_plan(&mc, &c->host, c->mg, c->n, &p) < 0)
        return -1;
    rep->starving = p.starving;
    rep->short_of_memory = p.short_of_memory;
    rep->budget_kib = p.budget_kib;
    for (size_t i = 0; i < c->n; i++)
        take_decision(c, i, &p.d[i], rep);
    mem_plan_free(&p);
    return 0;
}

/* Turns on the balloon statistics of guest I. */
static void apply_stats(struct coord *c, struct hv *hv, const struct snap *cur, size_t i)
{
    const struct snap_domain *d = snap_domain(cur, i);

    state_of(c, i)->enabled_t = c->clock.now;
    if (hv_enable_memstats(hv, d->uuid, stats_period(c)) == HV_OK)
        log_info("enabled memory statistics of '%s' (every %d s)", snap_domain_name(cur, d),
                 stats_period(c));
}

/* Sets the balloon target of guest I as planned; a refusal counts in REP. */
static void apply_target(struct coord *c, struct hv *hv, const struct snap *cur, size_t i,
                         struct coord_report *rep)
{
    const struct snap_domain *d = snap_domain(cur, i);
    struct coord_guest *g = &c->info[i];

    g->result = HV_OK;
    if (!c->cfg.dry_run) {
        g->result = hv_set_memory(hv, d->uuid, g->decision.target_kib);
        if (g->result == HV_OK) {
            state_of(c, i)->target = g->decision.target_kib;
            state_of(c, i)->target_t = c->clock.now;
        } else if (g->result == HV_GONE)
            log_debug("'%s' vanished before its balloon could be set", snap_domain_name(cur, d));
        else
            rep->failed++;
    }
    if (g->result == HV_OK)
        coordlog_change(g, &d->mem, snap_domain_name(cur, d), c->cfg.dry_run);
}

/* apply: the only hypervisor writes: statistics periods and balloon targets. */
static void apply(struct coord *c, struct hv *hv, const struct snap *cur, struct coord_report *rep)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->info[i].enable_stats)
            apply_stats(c, hv, cur, i);
        if (c->info[i].decision.change)
            apply_target(c, hv, cur, i, rep);
    }
}

/* report: what derive found about each guest, and the period's figures. */
static void report(const struct coord *c, const struct snap *cur, bool baseline,
                   struct coord_report *rep)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct snap_domain *d = snap_domain(cur, i);
        coordlog_guest(&c->info[i], d, snap_domain_name(cur, d));
    }
    rep->period_no = c->period;
    rep->baseline = baseline;
    rep->host_known = c->host.known;
    rep->host_free_kib = c->host.free_kib;
    rep->host_total_kib = c->host_total_kib;
    rep->reserve_kib = c->reserve_kib;
    rep->nguests = c->n;
    rep->guests = c->info;
}

int coord_period(struct coord *c, struct hv *hv, const struct snap *prev, const struct snap *cur,
                 unsigned long calls0, struct coord_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    c->period++;
    c->n = snap_domain_count(cur);
    if (ensure(c, c->n) < 0)
        return -1;
    derive(c, prev, cur);
    /* The first sample decides too: a guest already short of headroom is grown at once (rates
     * need two samples, so nothing else is decided then); with --once it only observes. */
    if ((prev || !c->cfg.observe_first) && plan(c, rep) < 0)
        return -1;
    apply(c, hv, cur, rep);
    report(c, cur, prev == NULL, rep);
    rep->calls = hv_calls(hv) - calls0;
    carry_swap(&c->state, c->n); /* this period's state becomes the previous one */
    return 0;
}
