/* Memory policy (pure).
 *
 * Each period, for every guest with trusted and new statistics, with headroom what it can use
 * at once (usable: free memory plus page cache it can drop), used = actual - headroom (its
 * working set) and its smoothed growth rate r (only r > 0 counts):
 *  - starving:  headroom < min_unused, or headroom - r * period * MEM_LOOKAHEAD < min_unused, or
 *               its balloon deflated itself (it ran out). It wants used + min_unused + r *
 *               period * MEM_HORIZON, and at least used + 1.5 * min_unused (the idle level: a
 *               guest that does not grow is not left on the threshold), within [floor, max];
 *  - squeezed:  it holds a floor above its size (its faults or swap-ins rose after a shrink):
 *               it wants back up to the floor, like a starving guest;
 *  - wasteful / idle: its rate is known, it is not growing (r * period * MEM_HORIZON <
 *               min_unused / 2), and headroom > 2 * min_unused (or > 1.5 * min_unused when it
 *               was already shrinking). It gives back down to used + 1.5 * min_unused, never
 *               below the floor or a floor it holds, at most one shrink step per period
 *               (gradual; starting at 2 and stopping at 1.5 times min_unused keeps it from
 *               oscillating). A guest full of page cache is such a guest: its cache is
 *               headroom. It is "wasteful" when another guest starves this period, "idle"
 *               otherwise; a guest under pressure (faults or swap-ins above its usual level) is
 *               not shrunk at all;
 *  - otherwise: unchanged. A guest whose statistics repeat the last report is unchanged; a guest
 *               backed by huge pages is left alone and kept out of the budget.
 * What a guest uses is measured only on settled samples (its balloon still since before the
 * guest's report): while a balloon moves, the host's balloon size and the guest's report
 * describe different moments, so a guest is then never shrunk, and a starving one is given room
 * from the larger of its size and its target. Its rate never spans a balloon move: it comes from
 * two settled samples, or from growth proven against the last one (memderive.c), so a move
 * cannot show as growth (docs/EVIDENCE.md#balloon-time).
 * The budget for growth is the host's free memory minus its reserve, minus memory already
 * promised (targets not yet reached) and memory guests were given but the host may not back
 * yet (uncommitted: it may still be touched). When the starving guests, together with the
 * growing guests that will want room within MEM_HORIZON periods, need more than the budget,
 * memory is short: each starving guest is only offered room for MEM_SHORT_HORIZON periods of
 * growth (so that the first to starve do not take what the next ones will need a period later),
 * that is split in proportion to their shares (weighted max-min fair), and every non-starving
 * trusted guest with more than min_unused unused gives back the excess (reason "short"). Memory
 * given back shows up in the host's free memory, and so in the budget, from the next period on.
 * A guest bound to NUMA nodes grows only by what its nodes have free above their part of the
 * reserve (the reserve split evenly between the nodes measured), less what is promised to
 * guests bound there. Guests with untrusted statistics are never grown and never shrunk.
 */
#include "mempolicy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* True when G's figures cannot be acted upon at all. */
static bool impossible(const struct mem_guest *g)
{
    return g->max_kib == 0 || g->max_kib >= UTIL_HUGE_KIB || g->actual_kib > g->max_kib ||
           g->headroom_kib > g->actual_kib;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* a + b, saturating (sizes come from configuration and guests: never wrap). */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Target for shrinking G toward KEEP_KIB (its used memory plus headroom), bounded. */
static uint64_t shrink_target(const struct mem_config *cfg, const struct mem_guest *g,
                              uint64_t keep_kib)
{
    uint64_t committed = mem_committed(g);
    uint64_t step = mem_shrink_step(g->max_kib);
    uint64_t t = max_u64(keep_kib, cfg->floor_kib);

    if (committed > step && t < committed - step)
        t = committed - step;
    return t;
}

/* A guest's share weight, sanitised. */
static double weight_of(const struct mem_guest *g)
{
    return isfinite(g->weight) && g->weight > 0 ? g->weight : 1;
}

/* Splits BUDGET among guests in proportion to their weights, none getting more than its NEED
 * (weighted max-min fairness); writes GIVE. */
static void split_by_shares(const struct mem_guest *guests, const uint64_t *need, uint64_t *give,
                            size_t n, uint64_t budget)
{
    double left = (double)budget;

    for (size_t i = 0; i < n; i++)
        give[i] = 0;
    for (;;) {
        double wsum = 0, level;
        bool saturated = false;

        for (size_t i = 0; i < n; i++)
            if (give[i] < need[i])
                wsum += weight_of(&guests[i]);
        if (wsum <= 0 || left < 1)
            return;
        level = left / wsum;
        /* Everyone whose remaining need fits under the level gets it all. */
        for (size_t i = 0; i < n; i++) {
            if (give[i] < need[i] && (double)(need[i] - give[i]) <= level * weight_of(&guests[i])) {
                left -= (double)(need[i] - give[i]);
                give[i] = need[i];
                saturated = true;
            }
        }
        if (saturated)
            continue;
        /* Nobody fits: each takes its share of the level. */
        for (size_t i = 0; i < n; i++)
            if (give[i] < need[i])
                give[i] += (uint64_t)(level * weight_of(&guests[i]));
        return;
    }
}

/* Working state of one plan. */
struct work {
    const struct mem_config *cfg;
    const struct mem_guest *guests;
    size_t n;
    struct mem_plan *out;
    uint64_t *need;   /* per guest: growth a starving guest wants */
    uint64_t *urgent; /* ... the part of it for MEM_SHORT_HORIZON periods */
    uint64_t *give;   /* ... what it gets */
    uint64_t total_need;
    uint64_t soon_need; /* what growing guests that do not starve yet will want */
    bool any_starving;
    bool reclaim_idle;               /* idle memory returns to the host this period (--reclaim) */
    double node_room[MEM_MAX_NODES]; /* memory each measured node can still give */
    uint64_t node_known;
};

/* Memory G holds that the host may still have to back: promised growth and what it has not
 * touched yet. */
static uint64_t held_by(const struct mem_guest *g)
{
    uint64_t actual = min_u64(g->actual_kib, UTIL_HUGE_KIB);

    return min_u64(mem_committed(g), UTIL_HUGE_KIB) - actual + min_u64(g->uncommitted_kib, actual);
}

/* The lowest node of NODES that has a measure in W, or -1. */
static int first_known(const struct work *w, uint64_t nodes)
{
    uint64_t m = nodes & w->node_known;

    return m ? __builtin_ctzll(m) : -1;
}

/* Each measured node's room: its free memory less its part of the reserve and less what guests
 * bound to it hold. */
static void node_rooms(struct work *w, const struct mem_host *host)
{
    int nknown = 0;

    w->node_known = host->node_known;
    for (int n = 0; n < MEM_MAX_NODES; n++)
        nknown += (int)((w->node_known >> n) & 1);
    for (int n = 0; n < MEM_MAX_NODES; n++)
        if ((w->node_known >> n) & 1)
            w->node_room[n] =
                    (double)host->node_free_kib[n] - (double)w->cfg->host_reserve_kib / nknown;
    for (size_t i = 0; i < w->n && w->node_known; i++) {
        const struct mem_guest *g = &w->guests[i];
        int n = g->fixed || g->ignores ? -1 : first_known(w, g->nodes);
        if (n >= 0)
            w->node_room[n] -= (double)held_by(g);
    }
}

/* Caps GIVE for guest G by what its nodes can give, and takes it from them. */
static uint64_t node_cap(struct work *w, const struct mem_guest *g, uint64_t give)
{
    uint64_t m = g->nodes & w->node_known, left;
    double room = 0;

    if (!m)
        return give; /* not bound, or its nodes unmeasured: the host's budget alone */
    for (int n = 0; n < MEM_MAX_NODES; n++)
        if (((m >> n) & 1) && w->node_room[n] > 0)
            room += w->node_room[n];
    give = (double)give > room ? (uint64_t)room : give;
    left = give;
    for (int n = 0; n < MEM_MAX_NODES && left > 0; n++) {
        if (((m >> n) & 1) && w->node_room[n] > 0) {
            uint64_t take = min_u64(left, (uint64_t)w->node_room[n]);
            w->node_room[n] -= (double)take;
            left -= take;
        }
    }
    return give;
}

/* Budget: free memory above the reserve, less what is promised or not yet touched. Without a
 * measure of host memory nothing is given, and nothing is taken in its name. */
static double budget_of(const struct work *w, const struct mem_host *host)
{
    uint64_t held = 0;

    for (size_t i = 0; i < w->n; i++)
        if (!w->guests[i].fixed)
            held += held_by(&w->guests[i]);
    return host->known ? (double)host->free_kib - (double)w->cfg->host_reserve_kib - (double)held
                       : 0;
}

/* A starving guest I: how much it needs to grow (and how much urgently). */
static void starving(struct work *w, size_t i, uint64_t used, double grow)
{
    const struct mem_config *cfg = w->cfg;
    const struct mem_guest *g = &w->guests[i];
    struct mem_decision *d = &w->out->d[i];
    uint64_t committed = mem_committed(g), limit = mem_limit_kib(g);
    uint64_t t = mem_room_for(cfg, g, used, grow, MEM_HORIZON);

    /* At its memory limit a guest is capped, not starving: no more can be given to it. */
    if (limit < g->max_kib && committed >= limit && !g->deflated) {
        d->reason = MEM_AT_CAP;
        return;
    }
    /* At least the idle level of headroom: not left on the threshold of starving. */
    t = max_u64(t, sat_add(sat_add(used, cfg->min_unused_kib), cfg->min_unused_kib / 2));
    t = max_u64(t, cfg->floor_kib);
    t = min_u64(t, limit);
    t = min_u64(t, committed + mem_grow_step(g->max_kib));
    /* Within the smallest change of its limit, a starving guest is given all of it. */
    if (t > committed && limit - committed < MEM_MIN_CHANGE_KIB)
        t = limit;
    w->out->starving++;
    w->any_starving = true;
    d->reason = g->deflated ? MEM_DEFLATED : MEM_STARVING;
    if (t > committed) {
        uint64_t u = min_u64(mem_room_for(cfg, g, used, grow, MEM_SHORT_HORIZON), t);

        w->need[i] = t - committed;
        w->total_need += w->need[i];
        u = max_u64(u, min_u64(cfg->floor_kib, t));
        w->urgent[i] = u > committed ? u - committed : 0;
    } else if (committed >= g->max_kib && !g->deflated) {
        d->reason = MEM_AT_MAX;
    }
}

/* Guest I holds a floor above its size (squeezed): it wants back up to it, as a starving guest
 * wants room, and all of it at once. */
static void held_back(struct work *w, size_t i)
{
    const struct mem_guest *g = &w->guests[i];
    struct mem_decision *d = &w->out->d[i];
    uint64_t committed = mem_committed(g);
    uint64_t t =
            min_u64(min_u64(g->hold_kib, mem_limit_kib(g)), committed + mem_grow_step(g->max_kib));

    if (t <= committed)
        return;
    if (t - committed > w->need[i]) {
        w->total_need += t - committed - w->need[i];
        w->need[i] = t - committed;
    }
    w->urgent[i] = max_u64(w->urgent[i], t - committed);
    if (d->reason != MEM_DEFLATED)
        d->reason = MEM_SQUEEZED;
}

/* What G uses now: its balloon size less its headroom once settled; while its balloon moves,
 * the guest's report (newer than the size the host reports) is set against the larger of that
 * size and the target it moves to, so that a starving guest is not given too little. */
static uint64_t used_now(const struct mem_guest *g)
{
    struct mem_guest at = *g;

    if (!g->settled)
        at.actual_kib = max_u64(g->actual_kib, mem_committed(g));
    return mem_used_kib(&at);
}

/* Classifies every guest: untrusted, starving (with its need), growing soon, or kept. */
static void classify(struct work *w)
{
    for (size_t i = 0; i < w->n; i++) {
        const struct mem_guest *g = &w->guests[i];
        struct mem_decision *d = &w->out->d[i];
        uint64_t committed = mem_committed(g);
        double grow;

        d->target_kib = committed;
        d->reason = MEM_KEEP;
        if (g->fixed || g->ignores) {
            d->reason = g->fixed ? MEM_HUGEPAGES : MEM_IGNORES;
            continue;
        }
        if (!g->trusted || impossible(g)) {
            d->reason = MEM_UNTRUSTED;
            continue;
        }
        if (!g->fresh)
            continue; /* a repeat of its last report: nothing new to decide on */
        grow = mem_growth_per_period(w->cfg, g);
        if (g->deflated ||
            (double)g->headroom_kib < (double)w->cfg->min_unused_kib + grow * MEM_LOOKAHEAD) {
            starving(w, i, used_now(g), grow);
        } else if (grow > 0 && g->settled) {
            uint64_t want = mem_room_for(w->cfg, g, mem_used_kib(g), grow, MEM_HORIZON);
            if (want > committed)
                w->soon_need = sat_add(w->soon_need, want - committed);
        }
        if (g->hold_kib > committed)
            held_back(w, i);
    }
}

/* Grows the starving and squeezed guests by what they were given (and their nodes allow). */
static void grow_starving(struct work *w)
{
    for (size_t i = 0; i < w->n; i++) {
        struct mem_decision *d = &w->out->d[i];
        uint64_t give;

        if (w->need[i] == 0)
            continue;
        give = node_cap(w, &w->guests[i], w->give[i]);
        d->target_kib = mem_committed(&w->guests[i]) + give;
        w->out->granted_kib += give;
        if (give < w->need[i] && d->reason == MEM_STARVING)
            d->reason = MEM_STARVING_SHORT;
    }
}

/* True when guest G, holding more than its soft limit, is shrunk first when memory is short. */
static bool above_soft(const struct mem_guest *g)
{
    return g->soft_kib && mem_committed(g) > g->soft_kib;
}

/* When memory is short: where G (using USED) is shrunk to: toward what it uses and its minimum
 * unused memory, not below its soft limit while it is above it; and, while any guest is above
 * its soft limit (ANY_ABOVE_SOFT), the others are left as they are this period. */
static uint64_t short_target(const struct mem_config *cfg, const struct mem_guest *g, uint64_t used,
                             bool any_above_soft)
{
    uint64_t t = shrink_target(cfg, g, sat_add(used, cfg->min_unused_kib));

    if (above_soft(g))
        return max_u64(t, g->soft_kib);
    return any_above_soft ? mem_committed(g) : t;
}

/* Shrinks the guests that keep more unused memory than they need. */
static void shrink_others(struct work *w)
{
    const struct mem_config *cfg = w->cfg;
    uint64_t half = cfg->min_unused_kib / 2;
    bool any_above_soft = false;

    for (size_t i = 0; i < w->n; i++)
        any_above_soft |= w->out->short_of_memory && w->out->d[i].reason == MEM_KEEP &&
                          w->guests[i].fresh && w->guests[i].settled && above_soft(&w->guests[i]);
    for (size_t i = 0; i < w->n; i++) {
        const struct mem_guest *g = &w->guests[i];
        struct mem_decision *d = &w->out->d[i];
        uint64_t committed = mem_committed(g), used = mem_used_kib(g), room = g->headroom_kib;
        double grow = mem_growth_per_period(cfg, g);
        bool steady = g->rate_known && grow * MEM_HORIZON < (double)cfg->min_unused_kib / 2;
        uint64_t t = committed;

        if (d->reason != MEM_KEEP || !g->fresh || !g->settled)
            continue; /* nothing new, or its balloon still moves: what it uses is not known */
        if (w->out->short_of_memory && room > cfg->min_unused_kib && steady) {
            t = short_target(cfg, g, used, any_above_soft);
            d->reason = MEM_SHORT;
        } else if (w->reclaim_idle && steady &&
                   (room > sat_add(cfg->min_unused_kib, cfg->min_unused_kib) ||
                    (g->shrinking && room > sat_add(cfg->min_unused_kib, half)))) {
            t = shrink_target(cfg, g, sat_add(sat_add(used, cfg->min_unused_kib), half));
            d->reason = w->any_starving ? MEM_WASTEFUL : MEM_IDLE;
        }
        t = max_u64(t, g->hold_kib);
        if (t < committed && g->pressure) {
            d->reason = MEM_PRESSURE; /* shrinking it now would make it thrash */
            t = committed;
        }
        if (t < committed) {
            d->target_kib = t;
            w->out->reclaimed_kib += committed - t;
        } else if (d->reason != MEM_PRESSURE) {
            d->reason = MEM_KEEP;
        }
    }
}

/* Drops changes too small to be worth a balloon change (the balloon stops a page or so short),
 * and marks the rest. */
static void drop_small(struct work *w)
{
    for (size_t i = 0; i < w->n; i++) {
        struct mem_decision *d = &w->out->d[i];
        uint64_t committed = mem_committed(&w->guests[i]);
        uint64_t delta =
                d->target_kib > committed ? d->target_kib - committed : committed - d->target_kib;
        /* A grow to the guest's maximum is made however small: the last MiB are its need. */
        bool to_max = d->target_kib > committed && d->target_kib == mem_limit_kib(&w->guests[i]);

        if (delta < MEM_MIN_CHANGE_KIB && d->target_kib != committed && !to_max) {
            if (d->target_kib > committed)
                w->out->granted_kib -= delta;
            else
                w->out->reclaimed_kib -= delta;
            d->target_kib = committed;
            if (d->reason == MEM_WASTEFUL || d->reason == MEM_IDLE || d->reason == MEM_SHORT)
                d->reason = MEM_KEEP;
        }
        d->change = d->target_kib != committed;
    }
}

int mem_plan(const struct mem_config *cfg, const struct mem_host *host,
             const struct mem_guest *guests, size_t n, struct mem_plan *out)
{
    struct work w = {.cfg = cfg, .guests = guests, .n = n, .out = out};
    size_t n1 = n ? n : 1;
    double budget;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->d = calloc(n1, sizeof(*out->d));
    w.need = calloc(3 * n1, sizeof(*w.need)); /* need, urgent, give */
    if (!out->d || !w.need)
        goto cleanup;
    w.urgent = w.need + n1;
    w.give = w.need + 2 * n1;

    budget = budget_of(&w, host);
    w.reclaim_idle =
            cfg->reclaim_below_kib == 0 || (host->known && host->free_kib < cfg->reclaim_below_kib);
    node_rooms(&w, host);
    classify(&w);
    /* Short: the budget does not cover the starving guests and those about to join them. */
    out->short_of_memory =
            host->known && ((double)w.total_need + (double)w.soon_need > budget || budget < 0);
    out->budget_kib = budget > 0 ? (uint64_t)budget : 0;
    if (w.total_need > 0) {
        if (host->known && !out->short_of_memory)
            memcpy(w.give, w.need, n * sizeof(*w.give));
        else
            split_by_shares(guests, w.urgent, w.give, n, out->budget_kib);
    }
    grow_starving(&w);
    shrink_others(&w);
    drop_small(&w);
    rc = 0;

cleanup:
    if (rc < 0)
        mem_plan_free(out);
    free(w.need);
    return rc;
}
