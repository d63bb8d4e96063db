/* The memory of one simulated guest, as real guests behave (measured in the lab: TCG guests,
 * Debian's 6.1 kernel, QEMU 7.2; docs/BENCHMARKS.md and the README have the figures).
 *
 * - The balloon moves toward its target at a bounded rate, slower inflating than deflating
 *   (measured on the lab's TCG guests: about 40 MiB/s taken, 150 MiB/s given back;
 *   docs/EVIDENCE.md#balloon-time). The size the host reports is not the balloon's own: QEMU
 *   sends a change event at most once a second and libvirt reports the last one's size, so
 *   while the balloon moves the host's figure lags by up to a second. Shrinking, it takes free
 * memory first, then page cache, then (with swap) anonymous memory, which goes to swap; it cannot
 *   take more (the driver's "Out of puff"). A balloon that deflated itself on OOM
 *   (autodeflate) stays deflated until the host sets a new target.
 * - The workload's anonymous memory grows per its script. When it does not fit, the kernel drops
 *   cache, then swaps (if it has swap space), then with autodeflate deflates the balloon (the OOM
 *   notifier), and only then kills the workload (an OOM kill).
 * - A page-cache reader fills free memory with cache up to its span; reads of what is not
 *   cached go to the disk, and count as major faults only when the data is mapped, one per
 *   64 MiB missed (readahead hides most of them: measured 0.5 per second for 30 MiB/s of
 *   misses). A reader as fast as it can re-reads its span at 6,000 MiB/s while its cache holds
 *   all of it, and at the disk's 435 MiB/s once it does not (a loop larger than the cache
 *   defeats it: measured on a lab guest re-reading a 320 MiB disk, 5,978 MiB/s at 512 MiB,
 *   435 MiB/s shrunk to 378 MiB; docs/EVIDENCE.md#reclaim-cost).
 * - Swapped memory is touched again at 20 % of it per second: swap-ins, which bring it back
 *   when there is room, else push other memory out (swap-outs).
 * - Statistics are reported at update times only (last_update, integer seconds of the guest's
 *   clock), and repeat in between, while the balloon size (actual) is the host's and current: a
 *   guest that reports seldom (fake_set_stats_every) can report more free memory than its
 *   balloon now holds (seen on the lab's soak: a guest booted moments before reported 904 MiB
 *   unused in a balloon of 809 MiB that was shrinking). MemAvailable (usable) is MemFree plus
 *   page cache, less half the cache up to 2.6 % of the boot memory, less the kernel's reserve
 *   of 3.4 % of it (a 2 GiB guest: 54 and 70 MiB; measured 54 and 69). With autodeflate the
 *   balloon's pages count as used, so MemTotal (available) stays at the boot size; without, it
 *   shrinks with the balloon.
 * - What the host backs (touched): memory once used stays resident until the balloon takes it;
 *   with free page reporting, memory the guest frees leaves the host at once (measured: within
 *   2 s).
 */
#include "fake_mem.h"

#include <math.h>
#include <string.h>

#define MIN_FREE_KIB   (4 * FAKE_MIB)
#define RESERVE_PCT    3.4 /* MemAvailable below MemFree: the kernel's reserves */
#define CACHE_KEPT_PCT 2.6 /* page cache MemAvailable does not count (low watermark) */
#define FAULT_KIB      (64.0 * FAKE_MIB) /* mapped data missed per major fault */
#define MINOR_KIB      64.0              /* minor fault per 64 KiB touched (fault-around) */
#define SWAP_TOUCH     0.2            /* part of its swapped memory a workload touches per second */
#define FPR_LEFT_KIB   (8 * FAKE_MIB) /* free memory not (yet) reported to the host */
#define HIT_KIB_S      (6000.0 * FAKE_MIB) /* a reader whose cache holds its span */
#define DISK_KIB_S     (435.0 * FAKE_MIB)  /* ... whose cache does not */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static uint64_t pct(uint64_t kib, double p)
{
    return (uint64_t)((double)kib * p / 100);
}

uint64_t fmem_anon_ram(const struct fmem *m)
{
    return sub_sat(m->used_kib, m->swapped_kib);
}

/* Free memory of the guest (MemFree). */
static uint64_t free_of(const struct fmem *m)
{
    return sub_sat(m->actual_kib, fmem_anon_ram(m) + m->cache_kib);
}

uint64_t fmem_usable(const struct fmem *m)
{
    uint64_t kept = min_u64(m->cache_kib / 2, pct(m->max_kib, CACHE_KEPT_PCT));

    return sub_sat(free_of(m) + m->cache_kib, kept + pct(m->max_kib, RESERVE_PCT));
}

void fmem_set_size(struct fmem *m, uint64_t max_kib, uint64_t current_kib)
{
    m->max_kib = max_kib;
    m->actual_kib = m->target_kib = m->shown_kib = min_u64(current_kib, max_kib);
    m->shown_t = -1e9;
    m->touched_kib = min_u64(m->touched_kib, m->actual_kib);
    m->cache_kib = min_u64(m->cache_kib, sub_sat(m->actual_kib, m->used_kib + MIN_FREE_KIB));
}

void fmem_set_target(struct fmem *m, uint64_t kib)
{
    m->target_kib = kib;
    m->deflated = false;
}

void fmem_set_load(struct fmem *m, const struct fake_mem_load *load)
{
    m->ml = *load;
    m->used_kib = load->base_kib;
    m->swapped_kib = 0;
    m->touched_kib = m->touched_kib > m->used_kib ? m->touched_kib : m->used_kib;
    m->phase = load->rate_kib_s <= 0 ? FMEM_IDLE : load->delay_s > 0 ? FMEM_DELAY : FMEM_GROW;
    m->phase_t = 0;
}

/* Makes anonymous memory and cache fit the balloon: cache goes first, then anonymous memory
 * to swap (the balloon never takes more than that; see balloon_step). */
static void fit(struct fmem *m)
{
    uint64_t anon = fmem_anon_ram(m);

    if (anon + MIN_FREE_KIB > m->actual_kib) {
        uint64_t out = anon + MIN_FREE_KIB - m->actual_kib;
        m->swapped_kib += out;
        m->swap_out_kib += (double)out;
        anon = fmem_anon_ram(m);
    }
    m->cache_kib = min_u64(m->cache_kib, sub_sat(m->actual_kib, anon + MIN_FREE_KIB));
}

/* The balloon moves toward its target by at most GIVE (deflating) or TAKE (inflating). */
static void balloon_step(struct fmem *m, double give, double take)
{
    uint64_t step = (uint64_t)take;

    if (m->stuck) {
        fit(m);
        return;
    }
    if (m->actual_kib < m->target_kib) {
        m->actual_kib = min_u64(m->actual_kib + (uint64_t)give, m->target_kib);
    } else if (m->actual_kib > m->target_kib && !m->deflated) {
        uint64_t anon = fmem_anon_ram(m);
        uint64_t swappable =
                min_u64(sub_sat(m->swap_kib, m->swapped_kib), sub_sat(anon, m->ml.base_kib));
        uint64_t floor = anon - swappable + MIN_FREE_KIB;
        uint64_t down = sub_sat(m->actual_kib, (uint64_t)step);

        down = down > m->target_kib ? down : m->target_kib;
        down = down > floor ? down : floor;
        m->actual_kib = min_u64(down, m->actual_kib);
    }
    m->actual_kib = min_u64(m->actual_kib, m->max_kib);
    fit(m);
}

/* The workload wants WANT KiB of anonymous memory: swap, deflate, or kill when it does not fit.
 * Returns false when it was killed. */
static bool make_room(struct fmem *m, uint64_t want)
{
    uint64_t need = sub_sat(want, m->swapped_kib) + MIN_FREE_KIB;

    if (need <= m->actual_kib)
        return true;
    if (m->swap_kib > m->swapped_kib) {
        uint64_t out = min_u64(need - m->actual_kib, m->swap_kib - m->swapped_kib);
        m->swapped_kib += out;
        m->swap_out_kib += (double)out;
        need -= out;
    }
    if (need > m->actual_kib && m->autodeflate && m->actual_kib < m->max_kib) {
        m->actual_kib = min_u64(need, m->max_kib);
        m->deflated = true;
        m->deflations++;
    }
    return need <= m->actual_kib;
}

/* The anonymous workload's script over DT. */
static void workload_step(struct fmem *m, double dt)
{
    const struct fake_mem_load *ml = &m->ml;
    uint64_t want;

    m->short_mem = false;
    switch (m->phase) {
    case FMEM_DELAY:
        m->phase_t += dt;
        if (m->phase_t >= ml->delay_s) {
            m->phase = FMEM_GROW;
            m->phase_t = 0;
        }
        break;
    case FMEM_GROW:
        want = m->used_kib + (uint64_t)(ml->rate_kib_s * dt);
        if (want >= ml->base_kib + ml->cap_kib) {
            want = ml->base_kib + ml->cap_kib;
            m->phase = FMEM_HOLD;
            m->phase_t = 0;
        }
        if (!make_room(m, want)) {
            m->short_mem = true; /* the guest kernel kills the workload */
            m->oom++;
            m->used_kib = ml->base_kib;
            m->swapped_kib = min_u64(m->swapped_kib, m->used_kib);
            m->phase = FMEM_IDLE;
        } else {
            m->minor_fault += (double)(want - m->used_kib) / 4;
            m->used_kib = want;
        }
        break;
    case FMEM_HOLD:
        m->phase_t += dt;
        if (ml->hold_s >= 0 && m->phase_t >= ml->hold_s) {
            m->used_kib = ml->base_kib;
            m->swapped_kib = min_u64(m->swapped_kib, m->used_kib);
            m->phase = ml->repeat ? FMEM_GROW : FMEM_IDLE;
            m->phase_t = 0;
        }
        break;
    case FMEM_IDLE:
        break;
    }
}

/* Swapped memory touched again over DT: read back when there is room, else swapped out anew. */
static void swap_step(struct fmem *m, double dt)
{
    uint64_t in = (uint64_t)ceil((double)m->swapped_kib * SWAP_TOUCH * dt);
    uint64_t room = sub_sat(m->actual_kib, fmem_anon_ram(m) + MIN_FREE_KIB);

    if (in == 0)
        return;
    in = min_u64(in, m->swapped_kib);
    m->swap_in_kib += (double)in;
    m->major_fault += (double)in / 4; /* a swap-in is a major fault per page */
    if (in <= room)
        m->swapped_kib -= in;
    else
        m->swap_out_kib += (double)in;
}

/* The page-cache reader over DT. */
static void cache_step(struct fmem *m, double dt)
{
    const struct fake_cache_load *cl = &m->cl;
    double read, miss, hit;
    uint64_t room;

    m->cache_t += dt;
    if (cl->rate_kib_s == 0 || cl->span_kib == 0 || m->cache_t < cl->delay_s)
        return;
    if (cl->rate_kib_s < 0) { /* as fast as it can: all from the cache, or all from the disk */
        hit = m->cache_kib >= cl->span_kib ? 1 : 0;
        read = (hit ? HIT_KIB_S : DISK_KIB_S) * dt;
    } else {
        read = cl->rate_kib_s * dt;
        hit = fmin(1.0, (double)m->cache_kib / (double)cl->span_kib);
    }
    miss = read * (1 - hit);
    m->read_kib += read;
    m->disk_read_kib += miss;
    room = sub_sat(m->actual_kib, fmem_anon_ram(m) + MIN_FREE_KIB);
    m->cache_kib = min_u64(min_u64(m->cache_kib + (uint64_t)ceil(miss), cl->span_kib), room);
    if (cl->mapped) {
        m->major_fault += miss / FAULT_KIB;
        m->minor_fault += read / MINOR_KIB;
    }
}

/* What the host backs: once touched, resident until the balloon takes it; with free page
 * reporting, only what the guest holds (and a little free memory not reported yet). */
static void resident_step(struct fmem *m)
{
    uint64_t held = fmem_anon_ram(m) + m->cache_kib;

    if (m->free_page_reporting)
        m->touched_kib = held + min_u64(free_of(m), FPR_LEFT_KIB);
    else if (m->touched_kib < held)
        m->touched_kib = held;
    m->touched_kib = min_u64(m->touched_kib, m->actual_kib);
}

/* Records what the guest reports at time T. */
static void report(struct fmem *m, double t)
{
    struct snap_mem *s = &m->stats;
    uint64_t total = sub_sat(m->max_kib, pct(m->max_kib, RESERVE_PCT));

    if (!m->autodeflate)
        total = sub_sat(total, m->max_kib - m->actual_kib);
    memset(s, 0, sizeof(*s));
    s->unused_kib = free_of(m);
    s->available_kib = total;
    s->usable_kib = fmem_usable(m);
    s->disk_caches_kib = m->cache_kib;
    s->major_fault = (uint64_t)m->major_fault;
    s->minor_fault = (uint64_t)m->minor_fault;
    s->swap_in_kib = (uint64_t)m->swap_in_kib;
    s->swap_out_kib = (uint64_t)m->swap_out_kib;
    s->last_update = (uint64_t)floor(t);
    s->flags = SNAP_MEM_UNUSED | SNAP_MEM_AVAILABLE | SNAP_MEM_USABLE | SNAP_MEM_UPDATE |
               SNAP_MEM_DISK_CACHES | SNAP_MEM_MAJOR_FAULT | SNAP_MEM_MINOR_FAULT |
               SNAP_MEM_SWAP_IN | SNAP_MEM_SWAP_OUT | SNAP_MEM_HUGETLB;
    if (m->kind != FAKE_STATS_FULL)
        s->flags &= ~(uint32_t)SNAP_MEM_USABLE;
    if (m->kind == FAKE_STATS_UNUSED_ONLY)
        s->flags &= ~(uint32_t)SNAP_MEM_DISK_CACHES;
    m->have_stats = true;
}

void fmem_enable_stats(struct fmem *m, double now, double period_s, bool first_now)
{
    period_s = period_s > 0 ? period_s : 1;
    period_s = period_s > m->stats_every ? period_s : m->stats_every;
    if (!m->stats_on || period_s != m->stats_period) {
        m->stats_period = period_s;
        m->next_stats = now + m->stats_period;
    }
    m->stats_on = true;
    if (first_now)
        report(m, now - 1);
}

/* The host's view of the balloon at time T: a change event when the size moved and the last
 * event is at least FMEM_EVENT_S old. */
static void show_step(struct fmem *m, double t)
{
    if (m->shown_kib != m->actual_kib && t - m->shown_t >= FMEM_EVENT_S - 1e-9) {
        m->shown_kib = m->actual_kib;
        m->shown_t = t;
    }
}

void fmem_set_stats_phase(struct fmem *m, double now, double phase_s)
{
    m->next_stats = now + phase_s;
}

void fmem_step(struct fmem *m, double t, double dt, double inflate_kib_s, double deflate_kib_s)
{
    balloon_step(m, deflate_kib_s * dt, inflate_kib_s * dt);
    workload_step(m, dt);
    swap_step(m, dt);
    cache_step(m, dt);
    fit(m);
    resident_step(m);
    show_step(m, t);
    if (m->stats_on && t + 1e-9 >= m->next_stats) {
        report(m, t);
        while (m->next_stats <= t + 1e-9)
            m->next_stats += m->stats_period;
    }
}
