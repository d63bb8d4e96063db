/* What the stages of the memory coordinator share (private to memory_coordinator/): the state
 * carried for each guest from period to period, and the period's clock. */
#ifndef VMB_COORDSTATE_H
#define VMB_COORDSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "memsignals.h"

/* Per-guest state carried from period to period (wide fields first: no padding). */
struct gstate {
    double rate;           /* smoothed growth rate of its used memory (when rate_ok) */
    uint64_t last_used;    /* its growing part at the last settled sample (when have_used) */
    uint64_t target;       /* the target we set last (0: none, or no longer a promise) */
    double target_t;       /* ... when */
    double used_t;         /* host time of the settled sample last_used comes from */
    uint64_t used_update;  /* ... its statistics clock (last_update; 0: none) */
    uint64_t last_actual;  /* balloon size at the last sample (when actual_ok) */
    double enabled_t;      /* when we turned statistics on (< 0: not by us) */
    uint64_t overhead_kib; /* upper bound of the hypervisor's own resident memory for it */
    struct memsig sig;     /* statistics clock, pressure, held floor */
    unsigned warned;       /* bit per enum coord_distrust already warned about */
    unsigned noted;        /* COORD_NOTE_* already said */
    bool rate_ok, have_used, actual_ok;
    bool shrinking;      /* we shrank it at its last decision (a fresh sample) */
    bool used_by_caches; /* last_used left its page cache out (it reports disk caches) */
    bool ignores;        /* its balloon ignores its targets: left alone */
    bool overhead_ok;
};

/* The period's clock, and the spans of time that scale with the period (seconds). */
struct coord_clock {
    double now;        /* host time of the sample */
    double grace_s;    /* statistics unchanged this long are stale; missing this long after we
                          enabled them, they are warned about */
    double window_s;   /* a rise of pressure this soon after a shrink is a squeeze */
    double hold_s;     /* a floor (after a squeeze or a deflation) is held this long */
    double stuck_s;    /* a balloon short of its target, unchanged this long, has stopped */
    double ignore_s;   /* a balloon that has not moved toward its target this long ignores it */
    uint64_t cold_kib; /* a guest with this much unused has room for its cache (min-unused) */
};

#endif
