/* The measures the unit tests, the simulator (bench) and the lab share, each defined once here
 * (the lab's Python mirrors these formulas; docs/METRICS.md states them). */
#ifndef VMB_MEASURE_H
#define VMB_MEASURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One guest at one sample, as the host and the guest's true workload see it (KiB). */
struct measure_guest {
    uint64_t actual_kib;   /* balloon size */
    uint64_t max_kib;      /* its maximum */
    uint64_t headroom_kib; /* memory it can use at once: its MemAvailable (free plus the page
                              cache it can drop, less its kernel's reserves) */
    uint64_t unbacked_kib; /* part of actual the host has not backed yet (the guest may touch it) */
    bool starving_available; /* out: starving while memory was available at this sample */
};

/* One sample of the host's memory (KiB). */
struct measure_host {
    uint64_t free_kib;    /* host free (available) memory */
    uint64_t reserve_kib; /* the coordinator's host reserve */
};

/* Starving guests at one sample: headroom below MIN_UNUSED_KIB. Of those, the ones starving
 * while memory was available are returned in *WHILE_AVAILABLE: every starving guest of the
 * sample counts when the host's free memory above its reserve covers
 * the shortfall of all of them after what is already given to guests but not yet backed (the
 * guests may touch it any time), and the guest could have been grown by its shortfall (it is
 * below its maximum by at least that); each such guest's starving_available is set. Returns the
 * number of starving guests. */
unsigned measure_starving(struct measure_guest *g, size_t n, uint64_t min_unused_kib,
                          const struct measure_host *host, unsigned *while_available);

/* Pin changes against the fewest needed: CHANGES / BOUND (1.0 when both are 0; BOUND 0 with
 * changes counts as CHANGES + 1, so that unneeded changes always show). */
double measure_changes_ratio(unsigned long changes, unsigned long bound);

#endif
