/* The host's memory shortfall (pure).
 *
 * Every trusted guest wants room for its used memory, its minimum unused memory and
 * MEM_SHORT_HORIZON periods of growth (within its floor and maximum): what the policy offers a
 * starving guest when memory is short. A starving guest needs what it wants beyond the size it
 * is entitled to (its committed size); any other trusted guest could give back what it holds
 * beyond what it wants. The host gives its budget (free memory above the reserve, less what is
 * promised or not backed yet). What the starving guests need beyond both is the shortfall:
 * ballooning cannot cover it, moving a guest to another host can. Moving guest i away returns
 * its committed size to the host, removes its need and what it could give back. A shortfall under
 * SHORTFALL_MIN_KIB is rounding and counts as none.
 */
#include "shortfall.h"

#include <string.h>

#include "mempolicy.h"
#include "util.h"

static int64_t pos(int64_t v)
{
    return v > 0 ? v : 0;
}

static bool starving(const struct coord_guest *g)
{
    return g->distrust == COORD_TRUSTED &&
           (g->decision.reason == MEM_STARVING || g->decision.reason == MEM_STARVING_SHORT ||
            g->decision.reason == MEM_AT_MAX);
}

/* Guests whose memory the policy does not take: huge pages, pressure, a squeeze answered, a
 * balloon that deflated itself. */
static bool held(const struct coord_guest *g)
{
    enum mem_reason r = g->decision.reason;

    return r == MEM_HUGEPAGES || r == MEM_PRESSURE || r == MEM_SQUEEZED || r == MEM_DEFLATED;
}

/* What trusted guest G wants (KiB): the room the policy gives a starving guest for
 * MEM_SHORT_HORIZON periods of growth (what it uses being its size less its headroom, the
 * definition of docs/METRICS.md), within [floor, max]. */
static int64_t want_of(const struct mem_config *mc, const struct mem_guest *g)
{
    uint64_t want =
            mem_room_for(mc, g, mem_used_kib(g), mem_growth_per_period(mc, g), MEM_SHORT_HORIZON);

    want = want > mc->floor_kib ? want : mc->floor_kib;
    return (int64_t)(want < g->max_kib ? want : g->max_kib);
}

/* Guest G's need (starving) or what it could give back (other trusted guests), in KiB, under the
 * policy's configuration MC. */
static void need_and_surplus(const struct mem_config *mc, const struct coord_guest *g,
                             int64_t *need, int64_t *surplus)
{
    int64_t want, committed = (int64_t)mem_committed(g->view);

    *need = *surplus = 0;
    if (g->distrust != COORD_TRUSTED || g->view->max_kib == 0 ||
        g->view->max_kib >= UTIL_HUGE_KIB || (held(g) && !starving(g)))
        return;
    want = want_of(mc, g->view);
    if (starving(g))
        *need = pos(want - committed);
    else
        *surplus = pos(committed - want);
}

void shortfall_compute(const struct coord_config *cfg, const struct coord_report *rep,
                       struct shortfall *out)
{
    struct mem_config mc = coord_policy_config(cfg, rep->reserve_kib);
    int64_t need = 0, surplus = 0;

    memset(out, 0, sizeof(*out));
    out->candidate = -1;
    out->known = rep->host_known && !rep->baseline;
    if (!out->known)
        return;
    for (size_t i = 0; i < rep->nguests; i++) {
        int64_t n, s;
        need_and_surplus(&mc, &rep->guests[i], &n, &s);
        need += n;
        surplus += s;
    }
    out->need_kib = (uint64_t)need;
    out->guests_kib = (uint64_t)surplus;
    out->host_kib = rep->budget_kib;
    out->shortfall_kib = (uint64_t)pos(need - (int64_t)rep->budget_kib - surplus);
    if (out->shortfall_kib < SHORTFALL_MIN_KIB)
        out->shortfall_kib = 0;
}

uint64_t shortfall_relief(const struct coord_config *cfg, const struct coord_report *rep,
                          const struct shortfall *sf, size_t i)
{
    const struct coord_guest *g = &rep->guests[i];
    struct mem_config mc = coord_policy_config(cfg, rep->reserve_kib);
    int64_t n, s, left;

    if (sf->shortfall_kib == 0)
        return 0;
    need_and_surplus(&mc, g, &n, &s);
    left = pos(((int64_t)sf->need_kib - n) -
               ((int64_t)sf->host_kib + (int64_t)mem_committed(g->view)) -
               ((int64_t)sf->guests_kib - s));
    return sf->shortfall_kib - (uint64_t)left;
}

/* The guest whose migration relieves the most; of equals, the smallest (the least to copy),
 * then the first. Returns its index (its relief in *RELIEF), or -1 when none relieves. */
static long best_candidate(const struct coord_config *cfg, const struct coord_report *rep,
                           const struct shortfall *sf, uint64_t *relief)
{
    long best = -1;

    *relief = 0;
    for (size_t i = 0; i < rep->nguests; i++) {
        uint64_t r = shortfall_relief(cfg, rep, sf, i);
        if (r == 0)
            continue;
        if (best < 0 || r > *relief ||
            (r == *relief &&
             mem_committed(rep->guests[i].view) < mem_committed(rep->guests[best].view))) {
            best = (long)i;
            *relief = r;
        }
    }
    return best;
}

/* The index in REP of the guest with UUID, or -1. */
static long find_guest(const struct coord_report *rep, const struct snap *cur,
                       const unsigned char *uuid)
{
    for (size_t i = 0; i < rep->nguests; i++)
        if (snap_uuid_cmp(snap_domain(cur, rep->guests[i].domain)->uuid, uuid) == 0)
            return (long)i;
    return -1;
}

static void adopt(struct shortfall_pick *p, const struct coord_report *rep, const struct snap *cur,
                  long i)
{
    memcpy(p->uuid, snap_domain(cur, rep->guests[i].domain)->uuid, SNAP_UUID_LEN);
    p->have = true;
    p->challenge = 0;
}

void shortfall_assess(struct shortfall_pick *p, const struct coord_config *cfg,
                      const struct coord_report *rep, const struct snap *cur, struct shortfall *out)
{
    uint64_t best_relief, held_relief = 0, margin;
    long best, held = -1;

    shortfall_compute(cfg, rep, out);
    best = out->shortfall_kib ? best_candidate(cfg, rep, out, &best_relief) : -1;
    if (best < 0) {
        p->challenge = 0; /* the candidate stays remembered for the next shortfall */
        return;
    }
    if (p->have)
        held = find_guest(rep, cur, p->uuid);
    if (held >= 0)
        held_relief = shortfall_relief(cfg, rep, out, (size_t)held);
    margin = out->shortfall_kib / 100 * SHORTFALL_MARGIN_PCT;
    margin = margin > SHORTFALL_MARGIN_MIN_KIB ? margin : SHORTFALL_MARGIN_MIN_KIB;
    if (held < 0 || held_relief == 0) {
        adopt(p, rep, cur, best);
        held = best;
    } else if (best != held && best_relief >= held_relief + margin) {
        if (++p->challenge >= SHORTFALL_PERIODS) {
            adopt(p, rep, cur, best);
            held = best;
        }
    } else {
        p->challenge = 0;
    }
    out->candidate = held;
    out->relief_kib = shortfall_relief(cfg, rep, out, (size_t)held);
}
