/* What one guest's statistics say beyond its sizes (pure).
 *
 * Headroom: usable (MemAvailable) where the guest reports it, else unused plus disk caches,
 * else unused alone: a guest reading files fills its free memory with page cache, which its
 * kernel gives back at once (docs/EVIDENCE.md#headroom-page-cache).
 *
 * Clock: the guest reports every stats period and libvirt repeats the last report in between;
 * last_update (whole seconds of the guest's clock) tells them apart. A repeat is no news: no
 * rate, no decision. Rates are per second of the guest's clock between two reports.
 *
 * Pressure: major faults (page faults that waited for I/O) and swap-ins per second, each against
 * the guest's usual level (learnt from calm samples), with a low threshold: a squeezed guest
 * shows few major faults (docs/EVIDENCE.md#faults-of-a-squeeze).
 */
#include "memsignals.h"

#include <math.h>

#include "util.h"

const char *memsig_source_name(enum memsig_source src)
{
    switch (src) {
    case MEMSIG_USABLE:
        return "usable";
    case MEMSIG_UNUSED_CACHES:
        return "unused+disk_caches";
    case MEMSIG_UNUSED:
        return "unused";
    }
    return "?";
}

bool memsig_headroom(const struct snap_mem *m, uint64_t *kib, enum memsig_source *src)
{
    uint64_t h;

    *kib = 0;
    if (m->flags & SNAP_MEM_USABLE) {
        *src = MEMSIG_USABLE;
        h = m->usable_kib;
    } else if (m->flags & SNAP_MEM_DISK_CACHES) {
        *src = MEMSIG_UNUSED_CACHES;
        if (m->disk_caches_kib > m->actual_kib)
            return false;
        h = m->unused_kib + m->disk_caches_kib;
    } else {
        *src = MEMSIG_UNUSED;
        h = m->unused_kib;
    }
    *kib = h < m->actual_kib ? h : m->actual_kib;
    return h <= m->actual_kib && m->unused_kib <= m->actual_kib;
}

bool memsig_clock(struct memsig *s, const struct snap_mem *m, double now, double *dt)
{
    double guest_dt = -1, host_dt;

    *dt = 0;
    if (m->flags & SNAP_MEM_UPDATE) {
        if (!s->have_update || m->last_update != s->last_update) {
            if (s->have_update) {
                s->clock_moves = true;
                guest_dt = (double)m->last_update - (double)s->last_update;
            }
            s->have_update = true;
            s->last_update = m->last_update;
            s->update_changed_t = now;
        } else if (s->clock_moves) {
            return false; /* a repeat of the last report */
        }
    }
    host_dt = s->sample_t > 0 && now > s->sample_t ? now - s->sample_t : 0;
    /* The guest's clock, unless it jumped (set back, or far ahead of the host's). */
    if (host_dt > 0)
        *dt = guest_dt > 0 && guest_dt <= 2 * host_dt + 2 ? guest_dt : host_dt;
    s->sample_t = now;
    return true;
}

double memsig_stale_s(const struct memsig *s, double now)
{
    return s->have_update ? now - s->update_changed_t : 0;
}

double memsig_misfit_s(struct memsig *s, bool fits, double now)
{
    if (fits) {
        s->misfit = false;
        return 0;
    }
    if (!s->misfit) {
        s->misfit = true;
        s->misfit_t = now;
    }
    return now - s->misfit_t;
}

/* Whether the balloon of S, reporting size KIB at NOW, is still: at the target we set, or not
 * moving toward one and unchanged for MEMSIG_STILL_S, or stuck short of it for STUCK_S. */
static bool still(const struct memsig *s, uint64_t kib, uint64_t target_kib, double target_t,
                  double now, double stuck_s)
{
    uint64_t off = kib > target_kib ? kib - target_kib : target_kib - kib;
    double unchanged = now - s->shown_t;

    if (target_kib && off <= MEMSIG_AT_TARGET_KIB)
        return true;
    if (target_kib)
        return unchanged >= stuck_s && now - target_t >= stuck_s;
    return unchanged >= MEMSIG_STILL_S;
}

bool memsig_settled(struct memsig *s, const struct snap_mem *m, uint64_t target_kib,
                    double target_t, bool fresh, double now, double stuck_s)
{
    uint64_t kib = m->actual_kib;
    uint64_t moved = kib > s->shown_kib ? kib - s->shown_kib : s->shown_kib - kib;
    double before = s->shown_ok ? s->seen_t : now;

    s->shown_before_kib = s->shown_ok ? s->shown_kib : kib;
    if (!s->shown_ok || moved >= MEMSIG_STILL_KIB) {
        s->shown_kib = kib;
        s->shown_t = now;
    }
    s->shown_ok = true;
    s->seen_t = now;
    /* The report is new since the sample before: made after that one, which already saw the
     * balloon where it is now. */
    return fresh && s->shown_t <= before && still(s, kib, target_kib, target_t, now, stuck_s);
}

uint64_t memsig_balloon_low(const struct memsig *s, uint64_t target_kib)
{
    uint64_t before = s->shown_before_kib, now = s->shown_kib;

    /* Going down, the reported size lags above the balloon: only the target we set bounds it
     * (a shrink nobody here asked for: no bound). */
    if (now < before)
        return target_kib && target_kib <= now + MEMSIG_AT_TARGET_KIB ? target_kib : 0;
    /* A shrink we asked for may have begun since the last event. */
    if (target_kib && target_kib + MEMSIG_AT_TARGET_KIB < now)
        return target_kib;
    /* Still, or going up: the reported size lags below the balloon. */
    return before;
}

void memsig_reset_rates(struct memsig *s)
{
    s->counters_ok = s->rates_ok = s->base_ok = s->pressure = false;
    s->fault_rate = s->swap_in_rate = 0;
}

/* The time of the latest recorded shrink (only when nshrinks > 0). */
static double last_shrink_t(const struct memsig *s)
{
    return s->shrink_t[(s->nshrinks - 1) % MEMSIG_SHRINK_MEMORY];
}

/* Pressure from the newest rates; the usual level learns from calm samples away from shrinks. */
static void judge_pressure(struct memsig *s, double now, double window_s)
{
    bool recent = s->nshrinks > 0 && now - last_shrink_t(s) <= window_s;

    if (!s->base_ok) {
        s->fault_base = s->fault_rate;
        s->swap_in_base = s->swap_in_rate;
        s->base_ok = true;
    }
    s->pressure = (s->fault_rate >= MEMSIG_FAULTS_MIN && s->fault_rate > 2 * s->fault_base) ||
                  (s->swap_in_rate >= MEMSIG_SWAP_IN_MIN && s->swap_in_rate > 2 * s->swap_in_base);
    if (!s->pressure && !recent) {
        s->fault_base = util_ewma(s->fault_base, s->fault_rate, MEMSIG_BASE_ALPHA, true);
        s->swap_in_base = util_ewma(s->swap_in_base, s->swap_in_rate, MEMSIG_BASE_ALPHA, true);
    }
}

void memsig_rates(struct memsig *s, const struct snap_mem *m, double dt, double now,
                  double window_s)
{
    uint64_t maj = (m->flags & SNAP_MEM_MAJOR_FAULT) ? m->major_fault : 0;
    uint64_t sin = (m->flags & SNAP_MEM_SWAP_IN) ? m->swap_in_kib : 0;

    if (!(m->flags & (SNAP_MEM_MAJOR_FAULT | SNAP_MEM_SWAP_IN))) {
        memsig_reset_rates(s);
        return;
    }
    if (s->counters_ok && (maj < s->major_fault || sin < s->swap_in_kib)) {
        memsig_reset_rates(s); /* counters went back: the guest rebooted (or lies) */
    } else if (s->counters_ok && dt > 0) {
        double fr = (double)(maj - s->major_fault) / dt, sr = (double)(sin - s->swap_in_kib) / dt;
        s->rates_ok = fr < MEMSIG_RATE_ABSURD && sr < MEMSIG_RATE_ABSURD;
        s->fault_rate = s->rates_ok ? fr : 0;
        s->swap_in_rate = s->rates_ok ? sr : 0;
        s->pressure = false;
        if (s->rates_ok)
            judge_pressure(s, now, window_s);
    }
    s->counters_ok = true;
    s->major_fault = maj;
    s->swap_in_kib = sin;
}

void memsig_note_shrink(struct memsig *s, double now, uint64_t from_kib)
{
    unsigned k = s->nshrinks % MEMSIG_SHRINK_MEMORY;

    s->shrink_t[k] = now;
    s->shrink_from[k] = from_kib;
    s->nshrinks++;
}

void memsig_hold(struct memsig *s, double now, uint64_t kib, double hold_s)
{
    if (kib > s->hold_kib || now >= s->hold_until)
        s->hold_kib = s->hold_from = kib;
    s->hold_until = now + hold_s;
}

/* A hold past its time decays: less MEMSIG_HOLD_DECAY_KIB_S a second since, to none. */
static void decay_hold(struct memsig *s, double now)
{
    double left;

    if (!s->hold_kib || now < s->hold_until)
        return;
    left = (double)s->hold_from - MEMSIG_HOLD_DECAY_KIB_S * (now - s->hold_until);
    s->hold_kib = left > 0 ? (uint64_t)left : 0;
}

void memsig_reads(struct memsig *s, bool known, uint64_t bytes, double now, double window_s,
                  bool cold)
{
    bool recent = s->nshrinks > 0 && now - last_shrink_t(s) <= window_s;

    if (!known || (s->rd_ok && bytes < s->rd_bytes)) {
        s->rd_ok = s->read_base_ok = s->read_pressure = false;
        s->read_rate = 0;
        if (!known)
            return;
    } else if (s->rd_ok && now > s->rd_t) {
        s->read_rate = (double)(bytes - s->rd_bytes) / 1024 / (now - s->rd_t);
        if (!s->read_base_ok) {
            s->read_base = s->read_rate;
            s->read_base_ok = true;
        }
        /* Reads while the guest still has free memory for its cache are first reads, which no
         * shrink caused; right after a shrink their level is the guest's own
         * (docs/EVIDENCE.md#reclaim-cost). */
        s->read_pressure =
                !cold && s->read_rate >= MEMSIG_READ_MIN_KIB_S && s->read_rate > 2 * s->read_base;
        if (cold && recent && s->read_rate > s->read_base)
            s->read_base = s->read_rate;
        else if (!s->read_pressure && !recent)
            s->read_base = util_ewma(s->read_base, s->read_rate, MEMSIG_BASE_ALPHA, true);
    }
    s->rd_ok = true;
    s->rd_bytes = bytes;
    s->rd_t = now;
}

bool memsig_squeeze(struct memsig *s, double now, double window_s, double hold_s)
{
    unsigned n = s->nshrinks < MEMSIG_SHRINK_MEMORY ? s->nshrinks : MEMSIG_SHRINK_MEMORY;
    unsigned times = 1;
    uint64_t from = 0;

    decay_hold(s, now);
    if (!s->pressure && !s->read_pressure)
        return false;
    /* The size before the oldest shrink within the window: what the shrinks that may have
     * caused it took. */
    for (unsigned k = 0; k < n; k++) {
        unsigned idx = (s->nshrinks - 1 - k) % MEMSIG_SHRINK_MEMORY;
        if (now - s->shrink_t[idx] > window_s)
            break;
        from = s->shrink_from[idx];
    }
    if (!from)
        return false;
    for (unsigned k = 0; k < s->squeezes && times < MEMSIG_HOLD_MAX_TIMES; k++)
        times *= 2;
    memsig_hold(s, now, from, hold_s * times);
    s->nshrinks = 0; /* those shrinks are answered */
    s->squeezes++;
    return true;
}
