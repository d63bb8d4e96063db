/* A guest's signals and the policy's view of it this period (pure).
 *
 * A sample that repeats the guest's last report (last_update unchanged) decides nothing; rates
 * are per second of the guest's own clock. Consumption rates rise at once with faster growth and
 * decay with an exponential moving average (weight COORD_ALPHA), so that growth is fed early and
 * a pause is not mistaken for the end of it; they reset whenever statistics were untrusted.
 * Faults and swap-ins that rise after a shrink (memsignals.c) and a balloon that deflated itself
 * (actual grew beyond the target we set) set a floor that is held for a while. Guests backed by
 * huge pages are left alone.
 */
#include "memderive.h"

#include <string.h>

#include "util.h"

/* Seconds from the settled sample ST's used memory was last measured in to sample M at host
 * time NOW: on the guest's clock, unless it jumped (as memsig_clock). */
static double since_used(const struct gstate *st, const struct snap_mem *m, double now)
{
    double host_dt = now - st->used_t, guest_dt = -1;

    if ((m->flags & SNAP_MEM_UPDATE) && st->used_update && m->last_update > st->used_update)
        guest_dt = (double)(m->last_update - st->used_update);
    return guest_dt > 0 && guest_dt <= 2 * host_dt + 2 ? guest_dt : host_dt;
}

/* Updates ST's smoothed growth rate from USED memory (of a guest of MAX_KIB) measured in the
 * settled sample M at host time NOW: rates come only from settled samples, never across a
 * balloon move (docs/EVIDENCE.md#balloon-time). */
static void update_rate(struct gstate *st, uint64_t used, const struct snap_mem *m, double now)
{
    double dt = st->have_used ? since_used(st, m, now) : 0;
    uint64_t max_kib = m->max_kib;

    if (st->have_used && dt > 0) {
        double r = ((double)used - (double)st->last_used) / dt;
        double lim = (double)max_kib / dt;
        /* The first interval of a growth holds on average half of it (it starts anywhere in
         * the interval): twice that is its rate (docs/EVIDENCE.md#first-interval-of-growth). */
        if (r > 0 && (!st->rate_ok || st->rate <= 0))
            r *= 2;
        r = r > lim ? lim : r < -lim ? -lim : r;
        /* Fast attack, slow decay: growth is answered at once, calm comes slowly. */
        st->rate = st->rate_ok && r <= st->rate ? util_ewma(st->rate, r, COORD_ALPHA, true) : r;
        st->rate_ok = true;
    }
    st->last_used = used;
    st->used_t = now;
    st->used_update = (m->flags & SNAP_MEM_UPDATE) ? m->last_update : 0;
    st->have_used = true;
}

/* Memory the guest was given but the host may not back yet: its balloon size minus the part of
 * its process's resident size that is guest memory. The resident size also holds the
 * hypervisor's own overhead, which is at most the smallest (rss - used) seen on a settled
 * sample. */
static uint64_t uncommitted(struct gstate *st, const struct snap_mem *m, const struct mem_guest *mg)
{
    uint64_t backed;

    if (!(m->flags & SNAP_MEM_RSS))
        return mg->trusted ? m->unused_kib : 0;
    if (mg->trusted && mg->settled) { /* a moving balloon's size is not its report's */
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
 * it reports its caches (a filling cache is not growth, though its kernel counts part of it as
 * not available: docs/EVIDENCE.md#cache-filling-is-not-growth), else all it cannot give up at
 * once. *BY_CACHES says which of the two it was. */
static uint64_t growing_part(const struct snap_mem *m, uint64_t headroom, bool *by_caches)
{
    *by_caches = (m->flags & SNAP_MEM_DISK_CACHES) && m->unused_kib <= m->actual_kib &&
                 m->disk_caches_kib <= m->actual_kib - m->unused_kib;
    if (*by_caches)
        return m->actual_kib - m->unused_kib - m->disk_caches_kib;
    return m->actual_kib > headroom ? m->actual_kib - headroom : 0;
}

/* While its balloon moves, the growth proven since the last settled sample raises ST's rate:
 * what the guest uses at least now (its report set against the least its balloon can have held,
 * BALLOON_LOW), less what it used then. A bound that a balloon move cannot inflate: a shrink
 * makes it smaller, never larger (docs/EVIDENCE.md#balloon-time). */
static void prove_growth(struct gstate *st, const struct snap_mem *m, uint64_t balloon_low,
                         double now)
{
    struct snap_mem at = *m;
    uint64_t used;
    bool caches;
    double dt = st->have_used ? since_used(st, m, now) : 0, r;

    if (dt <= 0 || balloon_low == 0 || m->unused_kib >= balloon_low)
        return;
    at.actual_kib = balloon_low;
    used = growing_part(&at, m->usable_kib < balloon_low ? m->usable_kib : balloon_low, &caches);
    if (caches != st->used_by_caches || used <= st->last_used)
        return; /* measured another way than the last settled sample, or no growth */
    r = (double)(used - st->last_used) / dt;
    if (!st->rate_ok || r > st->rate) {
        st->rate = r;
        st->rate_ok = true;
    }
}

/* Signals of trusted guest G (policy view MG) from sample S at clock K: headroom, growth and
 * pressure rates, squeezes and deflations and the floors they hold. */
static void signals(struct gstate *st, const struct memderive_sample *s,
                    const struct coord_clock *k, struct coord_guest *g, struct mem_guest *mg)
{
    const struct snap_mem *m = &s->d->mem;

    if (!s->fits)
        g->fresh = false; /* the balloon moved since the guest's report: wait for the next */
    mg->headroom_kib = s->headroom_kib;
    g->headroom_from = s->headroom_from;
    mg->settled =
            memsig_settled(&st->sig, m, st->target, st->target_t, g->fresh, k->now, k->stuck_s);
    if (g->fresh)
        memsig_rates(&st->sig, m, s->dt, k->now, k->window_s);
    memsig_reads(&st->sig, (s->d->cfg & SNAP_CFG_BLOCK_READ) != 0, s->d->rd_bytes, k->now,
                 k->window_s, g->fresh && m->unused_kib >= k->cold_kib);
    if (mg->settled) {
        bool caches;
        update_rate(st, growing_part(m, mg->headroom_kib, &caches), m, k->now);
        st->used_by_caches = caches;
    } else if (g->fresh)
        prove_growth(st, m, memsig_balloon_low(&st->sig, st->target), k->now);
    if (deflated_itself(st, m)) {
        mg->deflated = true;
        g->deflated_from_kib = st->last_actual;
        st->target = 0; /* not a promise any more: never inflate it back into the next OOM */
        memsig_hold(&st->sig, k->now, m->actual_kib, k->hold_s);
    }
    g->squeezed = memsig_squeeze(&st->sig, k->now, k->window_s, k->hold_s);
    g->rates_ok = st->sig.rates_ok;
    g->fault_rate = st->sig.fault_rate;
    g->swap_in_rate = st->sig.swap_in_rate;
    g->reads_ok = st->sig.rd_ok && st->sig.read_base_ok;
    g->read_rate = st->sig.read_rate;
    g->read_base = st->sig.read_base;
    g->hold_for_s =
            st->sig.hold_kib && st->sig.hold_until > k->now ? st->sig.hold_until - k->now : 0;
    mg->pressure = st->sig.pressure || st->sig.read_pressure;
    mg->hold_kib = st->sig.hold_kib;
    mg->rate_kib_s = st->rate_ok ? st->rate : 0;
    mg->rate_known = st->rate_ok;
    mg->fresh = g->fresh;
}

/* Forgets ST's rates: its statistics are not trusted this period. */
static void forget_rates(struct gstate *st)
{
    st->rate_ok = st->have_used = false;
    st->rate = 0;
    memsig_reset_rates(&st->sig);
}

/* What a guest's memory limit leaves its balloon: the limit less the hypervisor's own memory
 * (its bound, else OVERHEAD_GUESS_KIB before one is measured) and a margin of max(64 MiB, 5 %)
 * for what that bound misses (docs/EVIDENCE.md#memory-caps). */
#define OVERHEAD_GUESS_KIB (256ull * 1024)
#define CAP_MARGIN_MIN_KIB (64ull * 1024)
#define CAP_MARGIN_PERCENT 5

/* The limits of guest G as its definition TUNE declares them (NULL: none known) into MG: its
 * hard limit (or swap hard limit) as a cap on its balloon, its soft limit as where a short host
 * shrinks it toward first. */
static void declared_limits(const struct gstate *st, const struct snap_tune *tune,
                            struct coord_guest *g, struct mem_guest *mg)
{
    uint64_t over = st->overhead_ok ? st->overhead_kib : OVERHEAD_GUESS_KIB, margin;

    if (!tune)
        return;
    if (tune->flags & SNAP_TUNE_HARD_LIMIT)
        g->limit_kib = tune->hard_limit_kib;
    else if (tune->flags & SNAP_TUNE_SWAP_HARD_LIMIT)
        g->limit_kib = tune->swap_hard_limit_kib;
    if (g->limit_kib) {
        margin = g->limit_kib / 100 * CAP_MARGIN_PERCENT;
        margin = margin > CAP_MARGIN_MIN_KIB ? margin : CAP_MARGIN_MIN_KIB;
        mg->cap_kib = g->limit_kib > over + margin ? g->limit_kib - over - margin : 1;
    }
    if ((tune->flags & SNAP_TUNE_SOFT_LIMIT) && tune->soft_limit_kib > over)
        mg->soft_kib = tune->soft_limit_kib - over;
}

/* Whether the balloon of a guest (sample M, state ST) ignores the target we set: not reached
 * (by more than the smallest change) and not moved since it was set, for IGNORE_S; it no longer
 * does once it moves. */
static bool ignores_balloon(struct gstate *st, const struct snap_mem *m, double now,
                            double ignore_s)
{
    uint64_t off =
            m->actual_kib > st->target ? m->actual_kib - st->target : st->target - m->actual_kib;

    if (st->sig.shown_t > st->target_t || !st->target || off <= MEM_MIN_CHANGE_KIB)
        st->ignores = false;
    else if (now - st->target_t >= ignore_s)
        st->ignores = true;
    return st->ignores;
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
    if (g->view->cap_kib && g->view->cap_kib < g->view->max_kib)
        n |= COORD_NOTE_OVER_CAP;
    if (g->view->ignores)
        n |= COORD_NOTE_IGNORES;
    g->notes = n & ~st->noted;
    st->noted |= n;
}

void memderive_guest(struct gstate *st, const struct memderive_sample *s,
                     const struct coord_clock *k, struct coord_guest *g, struct mem_guest *mg)
{
    const struct snap_domain *d = s->d;
    const struct snap_mem *m = &d->mem;

    memset(mg, 0, sizeof(*mg));
    mg->max_kib = m->max_kib < UTIL_HUGE_KIB ? m->max_kib : 0;
    mg->actual_kib = m->actual_kib < mg->max_kib ? m->actual_kib : mg->max_kib;
    mg->weight = s->weight;
    mg->shrinking = st->shrinking;
    mg->trusted = g->distrust == COORD_TRUSTED;
    mg->fixed = (d->cfg & SNAP_CFG_HUGEPAGES) != 0;
    mg->nodes = (d->cfg & SNAP_CFG_NUMA_STRICT) ? d->numa_nodes : 0;
    if (mg->trusted)
        signals(st, s, k, g, mg);
    else
        forget_rates(st);
    declared_limits(st, s->tune, g, mg);
    mg->ignores = mg->trusted && !mg->fixed && ignores_balloon(st, m, k->now, k->ignore_s);
    g->ignored_kib = mg->ignores ? st->target : 0;
    mg->target_kib = st->target > mg->actual_kib && st->target <= mg->max_kib && !mg->ignores
                             ? st->target
                             : 0;
    mg->uncommitted_kib = mg->fixed ? 0 : uncommitted(st, m, mg);
    st->last_actual = m->actual_kib;
    st->actual_ok = true;
    take_notes(st, g, d);
    g->decision.target_kib = mem_committed(mg);
    g->decision.reason = mg->fixed     ? MEM_HUGEPAGES
                         : mg->ignores ? MEM_IGNORES
                         : mg->trusted ? MEM_KEEP
                                       : MEM_UNTRUSTED;
}
