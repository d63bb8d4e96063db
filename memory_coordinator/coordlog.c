/* What the memory coordinator logs about its guests. */
#include "coordlog.h"

#include "log.h"
#include "util.h"

/* Warns that guest NAME (sample M) is left alone for distrust reason D, or notes its recovery. */
static void warn_distrust(enum coord_distrust d, const char *name, const struct snap_mem *m)
{
    switch (d) {
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

/* Says the facts NOTES (COORD_NOTE_*) about guest NAME. */
static void say_notes(unsigned notes, const char *name)
{
    if (notes & COORD_NOTE_NO_USABLE)
        log_info("'%s' does not report usable memory: judging it on unused memory plus disk "
                 "caches",
                 name);
    if (notes & COORD_NOTE_UNUSED_ONLY)
        log_warning("'%s' reports neither usable memory nor disk caches: judging it on unused "
                    "memory alone (its page cache will look like use)",
                    name);
    if (notes & COORD_NOTE_HUGEPAGES)
        log_warning("'%s' is backed by huge pages, which its balloon cannot return to the host: "
                    "leaving its size alone",
                    name);
    if (notes & COORD_NOTE_NO_AUTODEFLATE)
        log_warning("'%s' has no deflate-on-OOM balloon (<memballoon autodeflate='on'>): a "
                    "sudden surge can be OOM-killed before the next period",
                    name);
    if (notes & COORD_NOTE_NO_FPR)
        log_warning("'%s' has no free page reporting (<memballoon freePageReporting='on'>): "
                    "memory it frees stays on the host until its balloon takes it",
                    name);
}

/* Facts about what guest G (named NAME) declares, or how its balloon behaves, said once. */
static void say_limits(const struct coord_guest *g, const char *name)
{
    if (g->notes & COORD_NOTE_OVER_CAP)
        log_warning("'%s' may grow to %.0f MiB (<memory>), but its memory limit of %.0f MiB "
                    "(<memtune>) holds the hypervisor's own memory too: it is grown to %.0f MiB "
                    "at most",
                    name, (double)g->view->max_kib / UTIL_MIB, (double)g->limit_kib / UTIL_MIB,
                    (double)g->view->cap_kib / UTIL_MIB);
    if (g->notes & COORD_NOTE_IGNORES)
        log_warning("'%s' does not follow its balloon (target %.0f MiB, still at %.0f MiB): "
                    "leaving it alone, its memory counted as its own",
                    name, (double)g->ignored_kib / UTIL_MIB,
                    (double)g->view->actual_kib / UTIL_MIB);
}

/* The events of guest G's signals this period (sample M, named NAME): a squeeze answered, a
 * deflation adopted. */
static void say_events(const struct coord_guest *g, const struct snap_mem *m, const char *name)
{
    if (g->view->deflated)
        log_info("'%s' deflated its balloon itself (%.0f -> %.0f MiB): starving at that size, "
                 "held there for %.0f s",
                 name, (double)g->deflated_from_kib / UTIL_MIB, (double)m->actual_kib / UTIL_MIB,
                 g->hold_for_s);
    if (g->squeezed && g->reads_ok && g->read_rate >= MEMSIG_READ_MIN_KIB_S &&
        g->read_rate > 2 * g->read_base)
        log_info("'%s' reads its disk again after a shrink (%.0f MiB/s, usually %.0f): growing it "
                 "back to %.0f MiB, held for %.0f s, then let go slowly",
                 name, g->read_rate / 1024, g->read_base / 1024,
                 (double)g->view->hold_kib / UTIL_MIB, g->hold_for_s);
    else if (g->squeezed)
        log_info("'%s' faults after a shrink (%.1f major faults/s, %.0f KiB/s swapped in): "
                 "growing it back to %.0f MiB, held for %.0f s, then let go slowly",
                 name, g->fault_rate, g->swap_in_rate, (double)g->view->hold_kib / UTIL_MIB,
                 g->hold_for_s);
}

void coordlog_guest(const struct coord_guest *g, const struct snap_domain *d, const char *name)
{
    if (g->announce)
        warn_distrust(g->distrust, name, &d->mem);
    say_notes(g->notes, name);
    say_limits(g, name);
    say_events(g, &d->mem, name);
}

void coordlog_change(const struct coord_guest *g, const struct snap_mem *m, const char *name,
                     bool dry_run)
{
    double from = (double)m->actual_kib / UTIL_MIB, to = (double)g->decision.target_kib / UTIL_MIB;
    double headroom = (double)g->view->headroom_kib / UTIL_MIB;
    double rate = g->view->rate_kib_s / UTIL_MIB;
    const char *why = mem_reason_name(g->decision.reason);
    bool grow = g->decision.target_kib > m->actual_kib;

    if (dry_run && grow)
        log_info("would grow '%s' %.0f -> %.0f MiB (%s: %.0f MiB headroom, %+.1f MiB/s)", name,
                 from, to, why, headroom, rate);
    else if (dry_run)
        log_info("would shrink '%s' %.0f -> %.0f MiB (%s: %.0f MiB headroom, %+.1f MiB/s)", name,
                 from, to, why, headroom, rate);
    else if (grow)
        log_info("grow '%s' %.0f -> %.0f MiB (%s: %.0f MiB headroom, %+.1f MiB/s)", name, from, to,
                 why, headroom, rate);
    else
        log_info("shrink '%s' %.0f -> %.0f MiB (%s: %.0f MiB headroom, %+.1f MiB/s)", name, from,
                 to, why, headroom, rate);
}
