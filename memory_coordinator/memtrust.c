/* Trust in a guest's memory statistics (pure).
 *
 * Guest statistics are untrusted input. A guest is left alone (never grown, never shrunk) while
 * it has no balloon, reports no statistics, its statistics stop updating (last_update unchanged
 * for longer than the grace, max(10 s, 3 periods)), or they are impossible (unused above the
 * balloon size, available or usable above the maximum, usable above available, the balloon
 * above its maximum, or values beyond any real machine). Each such state is warned about once
 * per guest, and its recovery is noted once.
 */
#include "memtrust.h"

#include "util.h"

/* Values no real guest reports, whatever its clock: sizes against each other. */
static bool impossible(const struct snap_mem *m)
{
    return ((m->flags & SNAP_MEM_AVAILABLE) && m->available_kib > m->max_kib) ||
           ((m->flags & SNAP_MEM_USABLE) && m->usable_kib > m->max_kib) ||
           ((m->flags & SNAP_MEM_USABLE) && (m->flags & SNAP_MEM_AVAILABLE) &&
            m->usable_kib > m->available_kib);
}

enum coord_distrust memtrust_judge(struct gstate *st, const struct snap_mem *m, bool fits,
                                   const struct coord_clock *k, bool *fresh, double *dt)
{
    *fresh = false;
    *dt = 0;
    if (!(m->flags & SNAP_MEM_BALLOON) || m->max_kib == 0)
        return COORD_NO_BALLOON;
    if (m->actual_kib > m->max_kib || m->max_kib >= UTIL_HUGE_KIB)
        return COORD_IMPOSSIBLE;
    if (!(m->flags & SNAP_MEM_UNUSED))
        return COORD_NO_STATS;
    if (impossible(m))
        return COORD_IMPOSSIBLE;
    *fresh = memsig_clock(&st->sig, m, k->now, dt);
    if (memsig_stale_s(&st->sig, k->now) > k->grace_s)
        return COORD_STALE;
    /* Figures that do not fit the balloon size are a report older than its last move: that
     * sample decides nothing; lasting, they are a lie
     * (docs/EVIDENCE.md#report-older-than-the-balloon). */
    if (memsig_misfit_s(&st->sig, fits, k->now) > k->grace_s)
        return COORD_IMPOSSIBLE;
    return COORD_TRUSTED;
}

/* Whether the report says G's distrust reason this period: a new reason (warned once per
 * guest), or a recovery; WARNED carries the reasons warned about. */
static bool announce(unsigned *warned, enum coord_distrust d)
{
    unsigned bit = 1u << d;
    bool said;

    if (d == COORD_TRUSTED) {
        said = (*warned & ~(1u << COORD_NO_BALLOON)) != 0;
        *warned = 0;
        return said;
    }
    if (*warned & bit)
        return false;
    *warned |= bit;
    return true;
}

void memtrust_track(struct gstate *st, struct coord_guest *g, const struct coord_clock *k)
{
    /* Statistics missing: we turn them on (apply), and expect none for a while. */
    g->enable_stats = g->distrust == COORD_NO_STATS && st->enabled_t < 0;
    if (g->distrust == COORD_NO_STATS && (g->enable_stats || k->now - st->enabled_t < k->grace_s))
        g->announce = false;
    else
        g->announce = announce(&st->warned, g->distrust);
}
