/* A guest's signals and the policy's view of it this period (pure; private to the memory
 * coordinator): from its sample, judged already, and the state it carries between periods. */
#ifndef VMB_MEMDERIVE_H
#define VMB_MEMDERIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "coordinator.h"
#include "coordstate.h"
#include "mempolicy.h"
#include "snapshot.h"

/* One guest's sample, as derive reads it. */
struct memderive_sample {
    const struct snap_domain *d;
    uint64_t headroom_kib;            /* memsig_headroom of its statistics ... */
    enum memsig_source headroom_from; /* ... where that was read */
    bool fits;                        /* ... and whether they fit its balloon size */
    double dt;                        /* seconds of its clock since its last new sample */
    double weight;                    /* its share when memory is short */
    const struct snap_tune *tune;     /* what its definition declares (NULL: unknown) */
};

/* Derives guest G (its distrust and freshness judged) from sample S at clock K: the policy's
 * view of it into MG, its signals, notes and baseline decision into G; updates ST. */
void memderive_guest(struct gstate *st, const struct memderive_sample *s,
                     const struct coord_clock *k, struct coord_guest *g, struct mem_guest *mg);

#endif
