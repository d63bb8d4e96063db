/* NUMA-aware placement (pure): a vCPU stays on the node that holds its memory (its home) and
 * crosses to another node only when its node is overloaded by more than the threshold while
 * another has room; within each node the placement policy plans as on a flat host. */
#ifndef VMB_NUMA_H
#define VMB_NUMA_H

#include <stdbool.h>
#include <stddef.h>

#include "placement.h"

struct numa_input {
    const struct placement_input *flat; /* the whole host: pCPUs, usable, background, vCPUs */
    const int *node;                    /* per pCPU: its NUMA node (>= 0) */
    int *home;          /* per vCPU: its home node, -1 when it has none; re-homed vCPUs updated */
    const bool *strict; /* per vCPU: its memory is bound to its home: it never crosses */
};

/* What crossing nodes did this period. */
struct numa_result {
    size_t crossed; /* vCPUs given a new home node */
    int nnodes;     /* nodes with usable pCPUs */
};

/* Plans IN into OUT (as placement_plan(): OUT->target allocated here, free it with
 * placement_plan_free()) and fills R. Returns 0, or -1 when out of memory. */
int numa_plan(const struct numa_input *in, struct placement_plan *out, struct numa_result *r);

#endif
