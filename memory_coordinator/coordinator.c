/* One period of the memory coordinator.
 *
 * Guest statistics are untrusted input. A guest is left alone (never grown, never shrunk)
 * while it has no balloon, reports no statistics, its statistics stop updating (last_update
 * unchanged for longer than max(10 s, 3 periods)), or they are impossible (unused above the
 * balloon size, available or usable above the maximum, usable above available, the balloon
 * above its maximum, or values beyond any real machine). Each such state is warned about once
 * per guest, and its recovery is noted once. A sample that repeats the guest's last report
 * (last_update unchanged) decides nothing; rates are per second of the guest's own clock.
 * Consumption rates rise at once with faster growth and decay with an exponential moving
 * average (weight COORD_ALPHA), so that growth is fed early and a pause is not mistaken for the
 * end of it; they reset whenever statistics were untrusted. Faults and swap-ins that rise after
 * a shrink (memsignals.c) and a balloon that deflated itself (actual grew beyond the target we
 * set) set a floor that is held for a while. Guests backed by huge pages are left alone.
 */
#include "coordinator.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carry.h"
#include "log.h"
#include "util.h"

/* Seconds before missing statistics are warned about, after enabling them. */
#define STATS_GRACE_MIN_S 10.0

/* Per-guest state carried from period to period (wide fields first: no padding). */
struct gstate {
    double rate;           /* smoothed growth rate of its used memory (when rate_ok) */
    uint64_t last_used;    /* its growing part at the last new sample (when have_used) */
    uint64_t target;       /* the target we set last (0: none, or no longer a promise) */
    uint64_t last_actual;  /* balloon size at the last sample (when actual_ok) */
    double enabled_t;      /* when we turned statistics on (< 0: not by us) */
    uint64_t overhead_kib; /* upper bound of the hypervisor's own resident memory for it */
    struct memsig sig;     /* statistics clock, pressure, held floor */
    unsigned warned;       /* bit per enum coord_distrust already warned about */
    unsigned noted;        /* COORD_NOTE_* already said */
    bool rate_ok, have_used, actual_ok;
    bool shrinking; /* we shrank it at its last decision (a fresh sample) */
    bool overhead_ok;
};

struct coord {
    struct coord_config cfg;
    unsigned long period;
    long *dom_prev; /* per domain of the current sample: its index in the previous one, or -1 */
    size_t cap_dom;
    struct carry state; /* struct gstate per guest, this period's and the previous one's */
    struct mem_guest *mg;
    struct coord_guest *info;
    size_t cap_mg, cap_info;
    /* This period: */
    size_t n;
    double now;
    struct mem_host host;
    const struct snap *cur;
    uint64_t host_total_kib, reserve_kib;
    struct mem_plan plan;
    bool planned;
    size_t changes, failed;
    uint64_t granted_kib, reclaimed_kib;
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

struct mem_config coord_policy_config(const struct coord_config *cfg, uint64_t reserve_kib)
{
    return (struct mem_config){.min_unused_kib = cfg->min_unused_kib,
                               .floor_kib = cfg->floor_kib,
                               .host_reserve_kib = reserve_kib,
                               .period_s = cfg->period_s};
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
    mem_plan_free(&c->plan);
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

/* Seconds after which statistics that stopped updating are stale, and after which statistics
 * still missing since we enabled them are warned about. */
static double stats_grace_s(const struct coord *c)
{
    return fmax(STATS_GRACE_MIN_S, 3 * c->cfg.period_s);
}

/* Seconds within which a rise of pressure answers a shrink, and a floor is held. */
static double squeeze_window_s(const struct coord *c)
{
    return fmax(MEMSIG_SQUEEZE_MIN_S, MEMSIG_SQUEEZE_PERIODS * c->cfg.period_s);
}

static double hold_s(const struct coord *c)
{
    return fmax(MEMSIG_HOLD_MIN_S, MEMSIG_HOLD_PERIODS * c->cfg.period_s);
}

/* A sample's headroom, read once per guest and period (memsig_headroom). */
struct headroom {
    uint64_t kib;
    enum memsig_source from;
    bool fits; /* the figures fit the balloon size */
};

/* Judges a guest's statistics M (FITS: they fit its balloon size); takes their clock (*FRESH,
 * *DT: see memsig_clock). */
static enum coord_distrust judge(const struct coord *c, struct gstate *st, const struct snap_mem *m,
                                 bool fits, bool *fresh, double *dt)
{
    *fresh = false;
    *dt = 0;
    if (!(m->flags & SNAP_MEM_BALLOON) || m->max_kib == 0)
        return COORD_NO_BALLOON;
    if (m->actual_kib > m->max_kib || m->max_kib >= UTIL_HUGE_KIB)
        return COORD_IMPOSSIBLE;
    if (!(m->flags & SNAP_MEM_UNUSED))
        return COORD_NO_STATS;
    if (((m->flags & SNAP_MEM_AVAILABLE) && m->available_kib > m->max_kib) ||
        ((m->flags & SNAP_MEM_USABLE) && m->usable_kib > m->max_kib) ||
        ((m->flags & SNAP_MEM_USABLE) && (m->flags & SNAP_MEM_AVAILABLE) &&
         m->usable_kib > m->available_kib))
        return COORD_IMPOSSIBLE;
    *fresh = memsig_clock(&st->sig, m, c->now, dt);
    if (memsig_stale_s(&st->sig, c->now) > stats_grace_s(c))
        return COORD_STALE;
    /* Figures that do not fit the balloon size are a report older than its last move (the
     * guest reports every few seconds, the balloon size is the host's and current; seen on a
     * guest booted moments before): that sample decides nothing. Lasting, they are a lie. */
    if (memsig_misfit_s(&st->sig, fits, c->now) > stats_grace_s(c))
        return COORD_IMPOSSIBLE;
    return COORD_TRUSTED;
}

/* What the report must say about a guest's statistics this period: a new distrust reason
 * (warned once per guest), a recovery, or nothing (COORD_TRUSTED, announce false). */
static void track_distrust(struct gstate *st, struct coord_guest *g)
{
    unsigned bit = 1u << g->distrust;

    g->announce = false;
    if (g->distrust == COORD_TRUSTED) {
        g->announce = (st->warned & ~(1u << COORD_NO_BALLOON)) != 0;
        st->warned = 0;
        return;
    }
    if (st->warned & bit)
        return;
    st->warned |= bit;
    g->announce = true;
}

/* Updates ST's smoothed growth rate of USED memory (of a guest of MAX_KIB), DT seconds after
 * the previous new sample. */
static void update_rate(struct gstate *st, uint64_t used, uint64_t max_kib, double dt)
{
    if (st->have_used && dt > 0) {
        double r = ((double)used - (double)st->last_used) / dt;
        double lim = (double)max_kib / dt;
        /* The first interval of a growth holds on average half of it (it starts anywhere in
         * the interval): twice that is the estimate of its rate (measured in the lab: a guest
         * growing 25 MiB/s first showed 10.6 MiB/s, and was fed too little). */
        if (r > 0 && (!st->rate_ok || st->rate <= 0))
            r *= 2;
        r = r > lim ? lim : r < -lim ? -lim : r;
        /* Fast attack, slow decay: growth is answered at once, calm comes slowly. */
        st->rate = st->rate_ok && r <= st->rate ? util_ewma(st->rate, r, COORD_ALPHA, true) : r;
        st->rate_ok = true;
    }
    st->last_used = used;
    st->have_used = true;
}

/* Memory the guest was given but the host may not back yet: its balloon size minus the part of
 * its process's resident size that is guest memory. The resident size also holds the
 * hypervisor's own overhead, which is at most the smallest (rss - used) seen. */
static uint64_t uncommitted(struct gstate *st, const struct snap_mem *m, const struct mem_guest *mg)
{
    uint64_t backed;

    if (!(m->flags & SNAP_MEM_RSS))
        return mg->trusted ? m->unused_kib : 0;
    if (mg->trusted) {
        uint64_t used = m->actual_kib - m->unused_kib;
        uint64_t over = m->rss_kib > used ? m->rss_kib - used : 0;
        if (!st->overhead_ok || over < st->overhead_kib)
            st->overhead_kib = over;
        st->overhead_ok = true;
    }
    backed = m->rss_kib;
    if (st->overhead_ok)
        backed = backed > st->overhead_kib ? backed - st->overhead_kib : 0;
    return mg->actual_kib > backed ? mg->actual_kib - backed : 0;
}

/* True when the balloon of the guest with sample M grew beyond the target we set (or, with none
 * set, by itself): it deflated on OOM (autodeflate), or someone else resized it. */
static bool deflated_itself(const struct gstate *st, const struct snap_mem *m)
{
    return st->actual_ok && m->actual_kib > st->last_actual + MEM_MIN_CHANGE_KIB &&
           (st->target == 0 || m->actual_kib > st->target + MEM_MIN_CHANGE_KIB);
}

/* The memory of sample M whose growth is the guest's growth: neither free nor page cache where
 * it reports its caches (a cache filling up makes its kernel count half of the new cache, up to
 * its low watermark, as not available: measured 110 MiB less usable in 2 s on a lab guest that
 * started reading; that is not growth), else all it cannot give up at once. */
static uint64_t growing_part(const struct snap_mem *m, uint64_t headroom)
{
    if ((m->flags & SNAP_MEM_DISK_CACHES) && m->disk_caches_kib <= m->actual_kib - m->unused_kib)
        return m->actual_kib - m->unused_kib - m->disk_caches_kib;
    return m->actual_kib - headroom;
}

/* Signals of trusted guest G (policy view MG) with sample M (new when FRESH, DT s after the last)
 * and its headroom HR: growth and pressure rates, squeezes and deflations and the floors they
 * hold. */
static void derive_signals(struct coord *c, struct gstate *st, struct coord_guest *g,
                           struct mem_guest *mg, const struct snap_mem *m, double dt,
                           const struct headroom *hr)
{
    if (!hr->fits)
        g->fresh = false; /* the balloon moved since the guest's report: wait for the next */
    mg->headroom_kib = hr->kib;
    g->headroom_from = hr->from;
    if (g->fresh) {
        update_rate(st, growing_part(m, mg->headroom_kib), m->max_kib, dt);
        memsig_rates(&st->sig, m, dt, c->now, squeeze_window_s(c));
    }
    if (deflated_itself(st, m)) {
        mg->deflated = true;
        g->deflated_from_kib = st->last_actual;
        st->target = 0; /* not a promise any more: never inflate it back into the next OOM */
        memsig_hold(&st->sig, c->now, m->actual_kib, hold_s(c));
    }
    g->squeezed = memsig_squeeze(&st->sig, c->now, squeeze_window_s(c), hold_s(c));
    g->rates_ok = st->sig.rates_ok;
    g->fault_rate = st->sig.fault_rate;
    g->swap_in_rate = st->sig.swap_in_rate;
    mg->pressure = st->sig.pressure;
    mg->hold_kib = st->sig.hold_kib;
    mg->rate_kib_s = st->rate_ok ? st->rate : 0;
    mg->rate_known = st->rate_ok;
    mg->fresh = g->fresh;
}

/* Facts about guest G (domain D) to say once: its headroom's source, its balloon's features. */
static void take_notes(struct gstate *st, struct coord_guest *g, const struct snap_domain *d)
{
    unsigned n = 0;

    if (g->distrust == COORD_TRUSTED && g->headroom_from == MEMSIG_UNUSED_CACHES)
        n |= COORD_NOTE_NO_USABLE;
    if (g->distrust == COORD_TRUSTED && g->headroom_from == MEMSIG_UNUSED)
        n |= COORD_NOTE_UNUSED_ONLY;
    if ((d->cfg & SNAP_CFG_KNOWN) && g->distrust != COORD_NO_BALLOON) {
        if (!(d->cfg & SNAP_CFG_AUTODEFLATE))
            n |= COORD_NOTE_NO_AUTODEFLATE;
        if (!(d->cfg & SNAP_CFG_FREE_PAGE_REPORTING))
            n |= COORD_NOTE_NO_FPR;
        if (d->cfg & SNAP_CFG_HUGEPAGES)
            n |= COORD_NOTE_HUGEPAGES;
    }
    g->notes = n & ~st->noted;
    st->noted |= n;
}

/* The policy's view of guest I (judged already), domain D with headroom HR. */
static void policy_guest(struct coord *c, size_t i, const struct snap_domain *d, double dt,
                         const struct headroom *hr)
{
    const struct snap_mem *m = &d->mem;
    struct gstate *st = (struct gstate *)c->state.cur + i;
    struct mem_guest *mg = &c->mg[i];
    struct coord_guest *g = &c->info[i];

    memset(mg, 0, sizeof(*mg));
    mg->max_kib = m->max_kib < UTIL_HUGE_KIB ? m->max_kib : 0;
    mg->actual_kib = m->actual_kib < mg->max_kib ? m->actual_kib : mg->max_kib;
    mg->weight = weight_for(c, snap_domain_name(c->cur, d));
    mg->shrinking = st->shrinking;
    mg->trusted = g->distrust == COORD_TRUSTED;
    mg->fixed = (d->cfg & SNAP_CFG_HUGEPAGES) != 0;
    mg->nodes = (d->cfg & SNAP_CFG_NUMA_STRICT) ? d->numa_nodes : 0;
    if (mg->trusted) {
        derive_signals(c, st, g, mg, m, dt, hr);
    } else {
        st->rate_ok = st->have_used = false;
        st->rate = 0;
        memsig_reset_rates(&st->sig);
    }
    mg->target_kib = st->target > mg->actual_kib && st->target <= mg->max_kib ? st->target : 0;
    mg->uncommitted_kib = mg->fixed ? 0 : uncommitted(st, m, mg);
    st->last_actual = m->actual_kib;
    st->actual_ok = true;
}

/* derive, one guest: its statistics judged, its state carried, its policy view. */
static void derive_guest(struct coord *c, const struct snap *cur, size_t i)
{
    const struct snap_domain *d = snap_domain(cur, i);
    struct gstate *st = (struct gstate *)c->state.cur + i;
    const struct gstate *old = carry_prev(&c->state, c->dom_prev[i]);
    struct coord_guest *g = &c->info[i];
    struct headroom hr;
    double dt;

    if (old) {
        *st = *old;
    } else {
        memset(st, 0, sizeof(*st));
        st->enabled_t = -1;
    }
    memset(g, 0, sizeof(*g));
    g->domain = i;
    g->view = &c->mg[i];
    hr.fits = memsig_headroom(&d->mem, &hr.kib, &hr.from);
    g->distrust = judge(c, st, &d->mem, hr.fits, &g->fresh, &dt);
    /* Statistics missing: we turn them on (apply), and expect none for a while. */
    g->enable_stats = g->distrust == COORD_NO_STATS && st->enabled_t < 0;
    if (!(g->distrust == COORD_NO_STATS &&
          (g->enable_stats || c->now - st->enabled_t < stats_grace_s(c))))
        track_distrust(st, g);
    policy_guest(c, i, d, dt, &hr);
    take_notes(st, g, d);
    g->decision.target_kib = mem_committed(g->view);
    g->decision.reason = g->view->fixed     ? MEM_HUGEPAGES
                         : g->view->trusted ? MEM_KEEP
                                            : MEM_UNTRUSTED;
}

/* derive (pure): the host's memory and every guest's facts for the policy. */
static void derive(struct coord *c, const struct snap *prev, const struct snap *cur)
{
    c->now = (double)snap_time_ns(cur) / 1e9;
    c->host.known = snap_has_host_memory(cur);
    c->host.free_kib = snap_host_free_kib(cur);
    c->host_total_kib = snap_host_total_kib(cur);
    c->reserve_kib = coord_reserve_kib(&c->cfg, c->host_total_kib);
    c->host.node_known = 0;
    for (int n = 0; n < MEM_MAX_NODES; n++)
        if (snap_node_free_kib(cur, n, &c->host.node_free_kib[n]))
            c->host.node_known |= 1ull << n;
    c->cur = cur;
    snap_match(prev, cur, c->dom_prev);
    for (size_t i = 0; i < c->n; i++)
        derive_guest(c, cur, i);
}

/* plan (pure): the memory policy; each guest's decision goes to its info. */
static int plan(struct coord *c)
{
    struct mem_config mc = coord_policy_config(&c->cfg, c->reserve_kib);

    if (mem_plan(&mc, &c->host, c->mg, c->n, &c->plan) < 0)
        return -1;
    c->planned = true;
    for (size_t i = 0; i < c->n; i++) {
        struct coord_guest *g = &c->info[i];
        struct gstate *st = (struct gstate *)c->state.cur + i;
        const struct mem_decision *dec = &c->plan.d[i];
        uint64_t committed = mem_committed(g->view);

        g->decision = *dec;
        /* A repeated sample decides nothing, not even that a shrink has ended. */
        if (c->mg[i].fresh || !c->mg[i].trusted)
            st->shrinking = dec->target_kib < committed;
        /* Nothing is written that would not change: not the target already set. */
        g->decision.change = dec->change && dec->target_kib != st->target;
        if (!g->decision.change)
            continue;
        if (st->shrinking)
            memsig_note_shrink(&st->sig, c->now, committed);
        c->changes++;
        if (dec->target_kib > committed)
            c->granted_kib += dec->target_kib - committed;
        else
            c->reclaimed_kib += committed - dec->target_kib;
    }
    return 0;
}

/* Logs the new target of guest G of sample M, named NAME. */
static void log_change(const struct coord *c, const char *name, const struct coord_guest *g,
                       const struct snap_mem *m)
{
    bool grow = g->decision.target_kib > m->actual_kib;

    log_info("%s%s '%s' %.0f -> %.0f MiB (%s: %.0f MiB headroom, %+.1f MiB/s)",
             c->cfg.dry_run ? "would " : "", grow ? "grow" : "shrink", name,
             (double)m->actual_kib / UTIL_MIB, (double)g->decision.target_kib / UTIL_MIB,
             mem_reason_name(g->decision.reason), (double)g->view->headroom_kib / UTIL_MIB,
             g->view->rate_kib_s / UTIL_MIB);
}

/* Turns on the balloon statistics of guest I. */
static void apply_stats(struct coord *c, struct hv *hv, const struct snap *cur, size_t i)
{
    const struct snap_domain *d = snap_domain(cur, i);
    struct gstate *st = (struct gstate *)c->state.cur + i;

    st->enabled_t = c->now;
    if (hv_enable_memstats(hv, d->uuid, stats_period(c)) == HV_OK)
        log_info("enabled memory statistics of '%s' (every %d s)", snap_domain_name(cur, d),
                 stats_period(c));
}

/* Sets the balloon target of guest I as planned. */
static void apply_target(struct coord *c, struct hv *hv, const struct snap *cur, size_t i)
{
    const struct snap_domain *d = snap_domain(cur, i);
    struct coord_guest *g = &c->info[i];
    struct gstate *st = (struct gstate *)c->state.cur + i;

    g->result = HV_OK;
    if (!c->cfg.dry_run) {
        g->result = hv_set_memory(hv, d->uuid, g->decision.target_kib);
        if (g->result == HV_OK)
            st->target = g->decision.target_kib;
        else if (g->result == HV_GONE)
            log_debug("'%s' vanished before its balloon could be set", snap_domain_name(cur, d));
        else
            c->failed++;
    }
    if (g->result == HV_OK)
        log_change(c, snap_domain_name(cur, d), g, &d->mem);
}

/* apply: the only hypervisor writes: statistics periods and balloon targets. */
static void apply(struct coord *c, struct hv *hv, const struct snap *cur)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->info[i].enable_stats)
            apply_stats(c, hv, cur, i);
        if (c->info[i].decision.change)
            apply_target(c, hv, cur, i);
    }
}

static void warn_distrust(const struct coord_guest *g, const char *name, const struct snap_mem *m)
{
    switch (g->distrust) {
    case COORD_TRUSTED:
        log_info("memory statistics of '%s' are usable again", name);
        break;
    case COORD_NO_BALLOON:
        log_warning("'%s' has no memory balloon; leaving it alone", name);
        break;
    case COORD_NO_STATS:
        log_warning("'%s' reports no memory statistics; leaving it alone", name);
        break;
    case COORD_STALE:
        log_warning("memory statistics of '%s' stopped updating; leaving it alone", name);
        break;
    case COORD_IMPOSSIBLE:
        log_warning("'%s' reports impossible memory statistics (balloon %.0f of %.0f MiB, "
                    "unused %.0f MiB); leaving it alone",
                    name, (double)m->actual_kib / UTIL_MIB, (double)m->max_kib / UTIL_MIB,
                    (double)m->unused_kib / UTIL_MIB);
        break;
    }
}

static void say_notes(const struct coord_guest *g, const char *name)
{
    if (g->notes & COORD_NOTE_NO_USABLE)
        log_info("'%s' does not report usable memory: judging it on unused memory plus disk "
                 "caches",
                 name);
    if (g->notes & COORD_NOTE_UNUSED_ONLY)
        log_warning("'%s' reports neither usable memory nor disk caches: judging it on unused "
                    "memory alone (its page cache will look like use)",
                    name);
    if (g->notes & COORD_NOTE_HUGEPAGES)
        log_warning("'%s' is backed by huge pages, which its balloon cannot return to the host: "
                    "leaving its size alone",
                    name);
    if (g->notes & COORD_NOTE_NO_AUTODEFLATE)
        log_warning("'%s' has no deflate-on-OOM balloon (<memballoon autodeflate='on'>): a "
                    "sudden surge can be OOM-killed before the next period",
                    name);
    if (g->notes & COORD_NOTE_NO_FPR)
        log_warning("'%s' has no free page reporting (<memballoon freePageReporting='on'>): "
                    "memory it frees stays on the host until its balloon takes it",
                    name);
}

/* The events of guest G's signals this period (sample M): a squeeze answered, a deflation
 * adopted. */
static void say_events(const struct coord *c, const struct coord_guest *g, const char *name,
                       const struct snap_mem *m)
{
    if (g->view->deflated)
        log_info("'%s' deflated its balloon itself (%.0f -> %.0f MiB): starving at that size, "
                 "held there for %.0f s",
                 name, (double)g->deflated_from_kib / UTIL_MIB, (double)m->actual_kib / UTIL_MIB,
                 hold_s(c));
    if (g->squeezed)
        log_info("'%s' faults after a shrink (%.1f major faults/s, %.0f KiB/s swapped in): "
                 "growing it back to %.0f MiB, held for %.0f s",
                 name, g->fault_rate, g->swap_in_rate, (double)g->view->hold_kib / UTIL_MIB,
                 hold_s(c));
}

/* report: the warnings derive decided on, and the period's figures. */
static void report(const struct coord *c, const struct snap *cur, bool baseline,
                   struct coord_report *rep)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct snap_domain *d = snap_domain(cur, i);
        const char *name = snap_domain_name(cur, d);
        if (c->info[i].announce)
            warn_distrust(&c->info[i], name, &d->mem);
        say_notes(&c->info[i], name);
        say_events(c, &c->info[i], name, &d->mem);
    }
    memset(rep, 0, sizeof(*rep));
    rep->period = c->period;
    rep->baseline = baseline;
    rep->host_known = c->host.known;
    rep->host_free_kib = c->host.free_kib;
    rep->host_total_kib = c->host_total_kib;
    rep->reserve_kib = c->reserve_kib;
    rep->nguests = c->n;
    rep->guests = c->info;
    rep->starving = c->planned ? c->plan.starving : 0;
    rep->short_of_memory = c->planned && c->plan.short_of_memory;
    rep->budget_kib = c->planned ? c->plan.budget_kib : 0;
    rep->changes = c->changes;
    rep->failed = c->failed;
    rep->granted_kib = c->granted_kib;
    rep->reclaimed_kib = c->reclaimed_kib;
}

int coord_period(struct coord *c, struct hv *hv, const struct snap *prev, const struct snap *cur,
                 unsigned long calls0, struct coord_report *rep)
{
    c->period++;
    c->n = snap_domain_count(cur);
    c->changes = c->failed = 0;
    c->granted_kib = c->reclaimed_kib = 0;
    c->planned = false;
    mem_plan_free(&c->plan);
    if (ensure(c, c->n) < 0)
        return -1;
    derive(c, prev, cur);
    /* The first sample only observes: rates need two, and --once acts once. */
    if (prev && plan(c) < 0)
        return -1;
    apply(c, hv, cur);
    report(c, cur, prev == NULL, rep);
    rep->calls = hv_calls(hv) - calls0;
    carry_swap(&c->state, c->n); /* this period's state becomes the previous one */
    return 0;
}
