/* One period of the memory coordinator.
 *
 * Guest statistics are untrusted input. A guest is left alone (never grown, never shrunk)
 * while it has no balloon, reports no statistics, its statistics stop updating (last_update
 * unchanged for longer than max(10 s, 3 periods)), or they are impossible (unused above the
 * balloon size, available or usable above the maximum, usable above available, the balloon
 * above its maximum, or values beyond any real machine). Each such state is warned about once
 * per guest, and its recovery is noted once. Consumption rates rise at once with faster growth
 * and decay with an exponential moving average (weight COORD_ALPHA), so that growth is fed
 * early and a pause is not mistaken for the end of it; they reset whenever statistics were
 * untrusted.
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

/* Per-guest state carried from period to period. */
struct gstate {
    bool rate_ok;
    double rate;
    uint64_t last_used;
    double last_used_t;
    bool have_update;
    uint64_t last_update;
    double update_changed_t;
    uint64_t target;  /* the target we set last (0: none) */
    double enabled_t; /* when we turned statistics on (< 0: not by us) */
    bool shrinking;   /* we shrank it last period */
    bool overhead_ok;
    uint64_t overhead_kib; /* upper bound of the hypervisor's own resident memory for it */
    unsigned warned;       /* bit per enum coord_distrust already warned about */
};

struct coordinator {
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

struct coordinator *coord_create(const struct coord_config *cfg)
{
    struct coordinator *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->cfg = *cfg;
    carry_init(&c->state, sizeof(struct gstate));
    return c;
}

void coord_destroy(struct coordinator *c)
{
    if (!c)
        return;
    mempolicy_plan_free(&c->plan);
    carry_free(&c->state);
    free(c->dom_prev);
    free(c->mg);
    free(c->info);
    free(c);
}

static int ensure(struct coordinator *c, size_t n)
{
    size_t n1 = n ? n : 1;

    if (carry_reserve(&c->state, n1) < 0 ||
        util_grow((void **)&c->dom_prev, &c->cap_dom, n1, sizeof(*c->dom_prev)) < 0 ||
        util_grow((void **)&c->mg, &c->cap_mg, n1, sizeof(*c->mg)) < 0 ||
        util_grow((void **)&c->info, &c->cap_info, n1, sizeof(*c->info)) < 0)
        return -1;
    return 0;
}

static double weight_for(const struct coordinator *c, const char *name)
{
    for (size_t i = 0; i < c->cfg.nshares; i++)
        if (fnmatch(c->cfg.shares[i].glob, name, 0) == 0)
            return c->cfg.shares[i].weight;
    return 1.0;
}

/* Statistics reporting period to ask guests for: about half our period, 1 to 10 s. */
static int stats_period(const struct coordinator *c)
{
    double p = c->cfg.period_s / 2;
    return p < 1 ? 1 : p > 10 ? 10 : (int)p;
}

/* Seconds after which statistics that stopped updating are stale, and after which statistics
 * still missing since we enabled them are warned about. */
static double stats_grace_s(const struct coordinator *c)
{
    return fmax(STATS_GRACE_MIN_S, 3 * c->cfg.period_s);
}

/* Judges a guest's statistics; updates staleness tracking in ST. */
static enum coord_distrust judge(const struct coordinator *c, struct gstate *st,
                                 const struct snap_mem *m)
{
    if (!(m->flags & SNAP_MEM_BALLOON) || m->max_kib == 0)
        return COORD_NO_BALLOON;
    if (m->actual_kib > m->max_kib || m->max_kib >= UTIL_HUGE_KIB)
        return COORD_IMPOSSIBLE;
    if (!(m->flags & SNAP_MEM_UNUSED))
        return COORD_NO_STATS;
    if (m->unused_kib > m->actual_kib ||
        ((m->flags & SNAP_MEM_AVAILABLE) && m->available_kib > m->max_kib) ||
        ((m->flags & SNAP_MEM_USABLE) && m->usable_kib > m->max_kib) ||
        ((m->flags & SNAP_MEM_USABLE) && (m->flags & SNAP_MEM_AVAILABLE) &&
         m->usable_kib > m->available_kib))
        return COORD_IMPOSSIBLE;
    if (m->flags & SNAP_MEM_UPDATE) {
        if (!st->have_update || m->last_update != st->last_update) {
            st->have_update = true;
            st->last_update = m->last_update;
            st->update_changed_t = c->now;
        } else if (c->now - st->update_changed_t > stats_grace_s(c)) {
            return COORD_STALE;
        }
    }
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

/* Updates ST's smoothed growth rate of used memory from a trusted sample M. */
static void update_rate(const struct coordinator *c, struct gstate *st, const struct snap_mem *m)
{
    uint64_t used = m->actual_kib - m->unused_kib;

    if (st->last_used_t > 0 && c->now > st->last_used_t) {
        double dt = c->now - st->last_used_t;
        double r = ((double)used - (double)st->last_used) / dt;
        double lim = (double)m->max_kib / dt;
        r = r > lim ? lim : r < -lim ? -lim : r;
        /* Fast attack, slow decay: growth is answered at once, calm comes slowly. */
        st->rate = st->rate_ok && r <= st->rate ? util_ewma(st->rate, r, COORD_ALPHA, true) : r;
        st->rate_ok = true;
    }
    st->last_used = used;
    st->last_used_t = c->now;
}

/* Memory the guest was given but the host may not back yet: its balloon size minus the part of
 * its process's resident size that is guest memory. The resident size also holds the
 * hypervisor's own overhead, which is at most the smallest (rss - used) seen. */
static uint64_t uncommitted(struct gstate *st, const struct snap_mem *m, const struct mem_guest *mg)
{
    uint64_t backed;

    if (!(m->flags & SNAP_MEM_RSS))
        return mg->trusted ? mg->unused_kib : 0;
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

/* The policy's view of guest I (judged already), named NAME, with memory sample M. */
static void policy_guest(struct coordinator *c, size_t i, const char *name,
                         const struct snap_mem *m)
{
    struct gstate *st = (struct gstate *)c->state.cur + i;
    struct mem_guest *mg = &c->mg[i];
    const struct coord_guest *g = &c->info[i];

    memset(mg, 0, sizeof(*mg));
    mg->max_kib = m->max_kib < UTIL_HUGE_KIB ? m->max_kib : 0;
    mg->actual_kib = m->actual_kib < mg->max_kib ? m->actual_kib : mg->max_kib;
    mg->target_kib = st->target > mg->actual_kib && st->target <= mg->max_kib ? st->target : 0;
    mg->weight = weight_for(c, name);
    mg->shrinking = st->shrinking;
    mg->trusted = g->distrust == COORD_TRUSTED;
    if (mg->trusted) {
        mg->unused_kib = m->unused_kib;
        update_rate(c, st, m);
        mg->rate_kib_s = st->rate_ok ? st->rate : 0;
        mg->rate_known = st->rate_ok;
    } else {
        st->rate_ok = false;
        st->rate = 0;
        st->last_used_t = 0;
    }
    mg->uncommitted_kib = uncommitted(st, m, mg);
}

/* derive, one guest: its statistics judged, its state carried, its policy view. */
static void derive_guest(struct coordinator *c, const struct snapshot *cur, size_t i)
{
    const struct snap_domain *d = snapshot_domain(cur, i);
    struct gstate *st = (struct gstate *)c->state.cur + i;
    const struct gstate *old = carry_prev(&c->state, c->dom_prev[i]);
    struct coord_guest *g = &c->info[i];

    if (old) {
        *st = *old;
    } else {
        memset(st, 0, sizeof(*st));
        st->enabled_t = -1;
    }
    memset(g, 0, sizeof(*g));
    g->domain = i;
    g->actual_kib = d->mem.actual_kib;
    g->max_kib = d->mem.max_kib;
    g->unused_kib = d->mem.unused_kib;
    g->distrust = judge(c, st, &d->mem);
    /* Statistics missing: we turn them on (apply), and expect none for a while. */
    g->enable_stats = g->distrust == COORD_NO_STATS && st->enabled_t < 0;
    if (!(g->distrust == COORD_NO_STATS &&
          (g->enable_stats || c->now - st->enabled_t < stats_grace_s(c))))
        track_distrust(st, g);
    policy_guest(c, i, snapshot_domain_name(cur, d), &d->mem);
    g->rate_kib_s = c->mg[i].rate_kib_s;
    g->committed_kib = g->target_kib = mempolicy_committed(&c->mg[i]);
    g->reason = c->mg[i].trusted ? MEM_KEEP : MEM_UNTRUSTED;
}

/* derive (pure): the host's memory and every guest's facts for the policy. */
static void derive(struct coordinator *c, const struct snapshot *prev, const struct snapshot *cur)
{
    c->now = (double)snapshot_time_ns(cur) / 1e9;
    c->host.known = snapshot_has_host_memory(cur);
    c->host.free_kib = snapshot_host_free_kib(cur);
    c->host_total_kib = snapshot_host_total_kib(cur);
    c->reserve_kib = coord_reserve_kib(&c->cfg, c->host_total_kib);
    snapshot_match(prev, cur, c->dom_prev);
    for (size_t i = 0; i < c->n; i++)
        derive_guest(c, cur, i);
}

/* plan (pure): the memory policy; each guest's decision goes to its info. */
static int plan(struct coordinator *c)
{
    struct mem_config mc = {.min_unused_kib = c->cfg.min_unused_kib,
                            .floor_kib = c->cfg.floor_kib,
                            .host_reserve_kib = c->reserve_kib,
                            .period_s = c->cfg.period_s};

    if (mempolicy_plan(&mc, &c->host, c->mg, c->n, &c->plan) < 0)
        return -1;
    c->planned = true;
    for (size_t i = 0; i < c->n; i++) {
        struct coord_guest *g = &c->info[i];
        struct gstate *st = (struct gstate *)c->state.cur + i;
        const struct mem_decision *dec = &c->plan.d[i];

        g->reason = dec->reason;
        g->target_kib = dec->target_kib;
        st->shrinking = dec->target_kib < g->committed_kib;
        /* Nothing is written that would not change: not the target already set. */
        g->change = dec->change && dec->target_kib != st->target;
        if (!g->change)
            continue;
        c->changes++;
        if (dec->target_kib > g->committed_kib)
            c->granted_kib += dec->target_kib - g->committed_kib;
        else
            c->reclaimed_kib += g->committed_kib - dec->target_kib;
    }
    return 0;
}

static void log_change(const struct coordinator *c, const char *name, const struct coord_guest *g)
{
    bool grow = g->target_kib > g->actual_kib;

    log_info("%s%s '%s' %.0f -> %.0f MiB (%s: %.0f MiB unused, %+.1f MiB/s)",
             c->cfg.dry_run ? "would " : "", grow ? "grow" : "shrink", name,
             (double)g->actual_kib / UTIL_MIB, (double)g->target_kib / UTIL_MIB,
             mempolicy_reason_name(g->reason), (double)g->unused_kib / UTIL_MIB,
             g->rate_kib_s / UTIL_MIB);
}

/* Turns on the balloon statistics of guest I. */
static void apply_stats(struct coordinator *c, struct hv *hv, const struct snapshot *cur, size_t i)
{
    const struct snap_domain *d = snapshot_domain(cur, i);
    struct gstate *st = (struct gstate *)c->state.cur + i;

    st->enabled_t = c->now;
    if (hv_enable_memstats(hv, d->uuid, stats_period(c)) == HV_OK)
        log_info("enabled memory statistics of '%s' (every %d s)", snapshot_domain_name(cur, d),
                 stats_period(c));
}

/* Sets the balloon target of guest I as planned. */
static void apply_target(struct coordinator *c, struct hv *hv, const struct snapshot *cur, size_t i)
{
    const struct snap_domain *d = snapshot_domain(cur, i);
    struct coord_guest *g = &c->info[i];
    struct gstate *st = (struct gstate *)c->state.cur + i;

    g->result = HV_OK;
    if (!c->cfg.dry_run) {
        g->result = hv_set_memory(hv, d->uuid, g->target_kib);
        if (g->result == HV_OK)
            st->target = g->target_kib;
        else if (g->result == HV_GONE)
            log_debug("'%s' vanished before its balloon could be set",
                      snapshot_domain_name(cur, d));
        else
            c->failed++;
    }
    if (g->result == HV_OK)
        log_change(c, snapshot_domain_name(cur, d), g);
}

/* apply: the only hypervisor writes: statistics periods and balloon targets. */
static void apply(struct coordinator *c, struct hv *hv, const struct snapshot *cur)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->info[i].enable_stats)
            apply_stats(c, hv, cur, i);
        if (c->info[i].change)
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

/* report: the warnings derive decided on, and the period's figures. */
static void report(const struct coordinator *c, const struct snapshot *cur, bool baseline,
                   struct coord_report *rep)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct snap_domain *d = snapshot_domain(cur, i);
        if (c->info[i].announce)
            warn_distrust(&c->info[i], snapshot_domain_name(cur, d), &d->mem);
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

int coord_period(struct coordinator *c, struct hv *hv, const struct snapshot *prev,
                 const struct snapshot *cur, unsigned long calls0, struct coord_report *rep)
{
    c->period++;
    c->n = snapshot_domain_count(cur);
    c->changes = c->failed = 0;
    c->granted_kib = c->reclaimed_kib = 0;
    c->planned = false;
    mempolicy_plan_free(&c->plan);
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
