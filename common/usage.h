/* Usage between two snapshots: per-vCPU and per-pCPU busy fractions, matched by UUID. */
#ifndef VMB_USAGE_H
#define VMB_USAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"

/* One vCPU of the newer snapshot over the interval. */
struct usage_vcpu {
    double run;   /* fraction of one pCPU it ran, 0..1 */
    double wait;  /* fraction of the interval it waited for a pCPU, 0..1 (0 unless has_wait) */
    double delay; /* fraction of the interval it spent in the run queue, 0..1 (0 unless has_delay)
                   */
    double wait_late;  /* how far wait grew beyond the interval (0 mostly: see delay_late) */
    double delay_late; /* ... and delay: the kernel accounts a wait when it ends, so a wait that
                          began in earlier intervals shows whole in the one it ended in */
    long prev;         /* its index in the older snapshot's vCPU array, or -1 */
    bool valid;        /* false for a vCPU seen for the first time (a baseline) */
    bool has_wait;     /* wait is reported in both samples (it may still be a counter stuck at 0) */
    bool has_delay;    /* delay is reported in both samples */
};

/* Usage over one interval; initialise with usage_init(), free with usage_free(). */
struct usage {
    double interval_s;
    int npcpus;
    bool has_pcpu;     /* pcpu_busy is measured */
    double *pcpu_busy; /* per pCPU busy fraction 0..1 */
    size_t nvcpus;     /* = snap_vcpu_count(newer) */
    struct usage_vcpu *vcpus;
    long *dom_prev; /* per domain of the newer snapshot: index in the older one, or -1 */
    size_t ndomains;
    size_t cap_pcpu, cap_vcpu, cap_dom;
};

/* Prepares U for use. */
void usage_init(struct usage *u);

/* Frees the arrays of U; accepts a zeroed U. */
void usage_free(struct usage *u);

/* Computes usage from PREV (may be NULL: everything is a baseline) to CUR, both finalized.
 * Returns 0, or -1 when out of memory. */
int usage_from_snapshots(const struct snap *prev, const struct snap *cur, struct usage *u);

#endif
