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
#include "usage.h"
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
    struct usage usage;
    struct carry state; /* struct gstate per guest, this period's and the previous one's */
    struct mem_guest *mg;
    struct coord_guest *info;
    size_t cap;
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
    usage_init(&c->usage);
    carry_init(&c->state, sizeof(struct gstate));
    return c;
}

void coord_destroy(struct coordinator *c)
{
    if (!c)
        return;
    usage_free(&c->usage);
    carry_free(&c->state);
    free(c->mg);
    free(c->info);
    free(c);
}

static int ensure(struct coordinator *c, size_t n)
{
    size_t n1 = n ? n : 1;

    if (carry_reserve(&c->state, n1) < 0)
        return -1;
    if (n1 <= c->cap)
        return 0;
    struct mem_guest *mg = realloc(c->mg, n1 * sizeof(*mg));
    if (mg)
        c->mg = mg;
    struct coord_guest *in = realloc(c->info, n1 * sizeof(*in));
    if (in)
        c->info = in;
    if (!mg || !in)
        return -1;
    c->cap = n1;
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

/* Judges a guest's statistics; updates staleness tracking in ST. */
static enum coord_distrust judge(const struct coordinator *c, struct gstate *st,
                                 const struct snap_mem *m, double now)
{
    double stale_after = fmax(STATS_GRACE_MIN_S, 3 * c->cfg.period_s);

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
            st->update_changed_t = now;
        } else if (now - st->update_changed_t > stale_after) {
            return COORD_STALE;
        }
    }
    return COORD_TRUSTED;
}

static void warn_distrust(struct gstate *st, enum coord_distrust d, const char *name,
                          const struct snap_mem *m)
{
    unsigned bit = 1u << d;

    if (d == COORD_TRUSTED) {
        if (st->warned & ~(1u << COORD_NO_BALLOON))
            log_info("memory statistics of '%s' are usable again", name);
        st->warned = 0;
        return;
    }
    if (st->warned & bit)
        return;
    st->warned |= bit;
    switch (d) {
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
    case COORD_TRUSTED:
        break;
    }
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

int coord_period(struct coordinator *c, struct hv *hv, const struct snapshot *prev,
                 const struct snapshot *cur, unsigned long calls0, struct coord_report *rep)
{
    size_t n = snapshot_domain_count(cur);
    double now = (double)snapshot_time_ns(cur) / 1e9;
    struct mem_config mc;
    struct mem_host host;
    struct mem_plan plan;

    memset(rep, 0, sizeof(*rep));
    c->period++;
    if (ensure(c, n) < 0 || usage_from_snapshots(prev, cur, &c->usage) < 0)
        return -1;

    rep->period = c->period;
    rep->host_known = snapshot_has_host_memory(cur);
    rep->host_free_kib = snapshot_host_free_kib(cur);
    rep->host_total_kib = snapshot_host_total_kib(cur);
    rep->reserve_kib = coord_reserve_kib(&c->cfg, rep->host_total_kib);
    rep->nguests = n;
    rep->guests = c->info;

    for (size_t i = 0; i < n; i++) {
        const struct snap_domain *d = snapshot_domain(cur, i);
        const char *name = snapshot_domain_name(cur, d);
        const struct snap_mem *m = &d->mem;
        long pi = c->usage.dom_prev[i];
        struct gstate *st = (struct gstate *)c->state.cur + i;
        const struct gstate *old = carry_prev(&c->state, pi);
        struct coord_guest *g = &c->info[i];
        struct mem_guest *mg = &c->mg[i];
        enum coord_distrust dis;

        if (old) {
            *st = *old;
        } else {
            memset(st, 0, sizeof(*st));
            st->enabled_t = -1;
        }
        dis = judge(c, st, m, now);
        if (dis == COORD_NO_STATS && st->enabled_t < 0) {
            int r = hv_enable_memstats(hv, d->uuid, stats_period(c));
            st->enabled_t = now;
            if (r == HV_OK)
                log_info("enabled memory statistics of '%s' (every %d s)", name, stats_period(c));
        }
        /* Right after enabling, missing statistics are expected: no warning yet. */
        if (!(dis == COORD_NO_STATS && st->enabled_t >= 0 &&
              now - st->enabled_t < fmax(STATS_GRACE_MIN_S, 3 * c->cfg.period_s)))
            warn_distrust(st, dis, name, m);

        memset(g, 0, sizeof(*g));
        g->domain = i;
        g->actual_kib = m->actual_kib;
        g->max_kib = m->max_kib;
        g->unused_kib = m->unused_kib;
        g->distrust = dis;

        memset(mg, 0, sizeof(*mg));
        mg->max_kib = m->max_kib < UTIL_HUGE_KIB ? m->max_kib : 0;
        mg->actual_kib = m->actual_kib < mg->max_kib ? m->actual_kib : mg->max_kib;
        mg->target_kib = st->target > mg->actual_kib && st->target <= mg->max_kib ? st->target : 0;
        mg->weight = weight_for(c, name);
        mg->shrinking = st->shrinking;
        mg->trusted = dis == COORD_TRUSTED;
        if (mg->trusted) {
            uint64_t used = m->actual_kib - m->unused_kib;
            mg->unused_kib = m->unused_kib;
            if (st->last_used_t > 0 && now > st->last_used_t) {
                double dt = now - st->last_used_t;
                double r = ((double)used - (double)st->last_used) / dt;
                double lim = (double)m->max_kib / dt;
                r = r > lim ? lim : r < -lim ? -lim : r;
                /* Fast attack, slow decay: growth is answered at once, calm comes slowly. */
                st->rate = st->rate_ok && r <= st->rate ? util_ewma(st->rate, r, COORD_ALPHA, true)
                                                        : r;
                st->rate_ok = true;
            }
            st->last_used = used;
            st->last_used_t = now;
            mg->rate_kib_s = st->rate_ok ? st->rate : 0;
            mg->rate_known = st->rate_ok;
        } else {
            st->rate_ok = false;
            st->rate = 0;
            st->last_used_t = 0;
        }
        g->rate_kib_s = mg->rate_kib_s;
        /* Memory the guest was given but the host may not back yet: its balloon size minus the
         * part of its process's resident size that is guest memory. The resident size also
         * holds the hypervisor's own overhead, which is at most the smallest (rss - used) seen. */
        if (m->flags & SNAP_MEM_RSS) {
            if (mg->trusted) {
                uint64_t used = m->actual_kib - m->unused_kib;
                uint64_t over = m->rss_kib > used ? m->rss_kib - used : 0;
                if (!st->overhead_ok || over < st->overhead_kib)
                    st->overhead_kib = over;
                st->overhead_ok = true;
            }
            uint64_t backed = m->rss_kib;
            if (st->overhead_ok)
                backed = backed > st->overhead_kib ? backed - st->overhead_kib : 0;
            mg->uncommitted_kib = mg->actual_kib > backed ? mg->actual_kib - backed : 0;
        } else {
            mg->uncommitted_kib = mg->trusted ? mg->unused_kib : 0;
        }
    }

    mc.min_unused_kib = c->cfg.min_unused_kib;
    mc.floor_kib = c->cfg.floor_kib;
    mc.host_reserve_kib = rep->reserve_kib;
    mc.period_s = c->cfg.period_s;
    host.free_kib = rep->host_free_kib;
    host.known = rep->host_known;
    rep->baseline = prev == NULL;
    if (rep->baseline) {
        /* The first sample only observes: rates need two, and --once acts once. */
        for (size_t i = 0; i < n; i++) {
            c->info[i].target_kib = mempolicy_committed(&c->mg[i]);
            c->info[i].committed_kib = c->info[i].target_kib;
            c->info[i].reason = c->mg[i].trusted ? MEM_KEEP : MEM_UNTRUSTED;
        }
        rep->calls = hv_calls(hv) - calls0;
        goto swap;
    }
    if (mempolicy_plan(&mc, &host, c->mg, n, &plan) < 0)
        return -1;
    rep->starving = plan.starving;
    rep->short_of_memory = plan.short_of_memory;
    rep->budget_kib = plan.budget_kib;

    for (size_t i = 0; i < n; i++) {
        const struct snap_domain *d = snapshot_domain(cur, i);
        struct coord_guest *g = &c->info[i];
        struct gstate *st = (struct gstate *)c->state.cur + i;
        const struct mem_decision *dec = &plan.d[i];
        uint64_t committed = mempolicy_committed(&c->mg[i]);

        g->reason = dec->reason;
        g->target_kib = dec->target_kib;
        g->committed_kib = committed;
        st->shrinking = dec->target_kib < committed;
        /* Nothing is written that would not change: not the target already set. */
        if (!dec->change || dec->target_kib == st->target)
            continue;
        g->change = true;
        rep->changes++;
        if (dec->target_kib > committed)
            rep->granted_kib += dec->target_kib - committed;
        else
            rep->reclaimed_kib += committed - dec->target_kib;
        g->result = HV_OK;
        if (!c->cfg.dry_run) {
            g->result = hv_set_memory(hv, d->uuid, dec->target_kib);
            if (g->result == HV_OK)
                st->target = dec->target_kib;
            else if (g->result == HV_GONE)
                log_debug("'%s' vanished before its balloon could be set",
                          snapshot_domain_name(cur, d));
            else
                rep->failed++;
        }
        if (g->result == HV_OK)
            log_change(c, snapshot_domain_name(cur, d), g);
    }
    mempolicy_plan_free(&plan);
    rep->calls = hv_calls(hv) - calls0;

swap:
    carry_swap(&c->state, n); /* this period's state becomes the previous one */
    return 0;
}
