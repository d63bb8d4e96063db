/* The host's memory shortfall (pure): what starving guests need that neither the host nor the
 * other guests can give, and the guest whose migration to another host would relieve it most.
 * Ballooning comes first; the shortfall is what is left for a cluster manager to solve. */
#ifndef VMB_SHORTFALL_H
#define VMB_SHORTFALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator.h"
#include "snapshot.h"

/* A smaller shortfall counts as none: it is rounding (the policy makes no change under
 * MEM_MIN_CHANGE_KIB), not a reason to move a guest. */
#define SHORTFALL_MIN_KIB (16ull * 1024)

/* A challenger replaces the candidate only when its migration would relieve more than the
 * candidate's by this share of the shortfall (and at least SHORTFALL_MARGIN_MIN_KIB), for
 * SHORTFALL_PERIODS periods in a row: the candidate is not a different guest every period. */
#define SHORTFALL_MARGIN_PCT     10
#define SHORTFALL_MARGIN_MIN_KIB (64ull * 1024)
#define SHORTFALL_PERIODS        3

/* One period's assessment. */
struct shortfall {
    bool known;             /* the host's free memory is measured and the period decided */
    uint64_t need_kib;      /* growth starving guests need (MEM_SHORT_HORIZON periods of it) */
    uint64_t host_kib;      /* what the host can give: the plan's budget */
    uint64_t guests_kib;    /* what the other guests could give back, down to their minimum
                               unused memory and their floor */
    uint64_t shortfall_kib; /* need - host - guests, or 0 (also when under SHORTFALL_MIN_KIB) */
    long candidate;         /* guest (index in the report) to migrate, or -1: none needed */
    uint64_t relief_kib;    /* how much of the shortfall its migration relieves */
};

/* The candidate carried from period to period. Zero it before the first period. */
struct shortfall_pick {
    unsigned char uuid[SNAP_UUID_LEN];
    bool have;          /* a candidate was chosen (it is remembered while no shortfall) */
    unsigned challenge; /* periods in a row another guest beat it by the margin */
};

/* Computes the shortfall of REP (decided with CFG) into OUT, without a candidate. */
void shortfall_compute(const struct coord_config *cfg, const struct coord_report *rep,
                       struct shortfall *out);

/* Returns how much of SF's shortfall moving guest I of REP away would relieve (KiB). */
uint64_t shortfall_relief(const struct coord_config *cfg, const struct coord_report *rep,
                          const struct shortfall *sf, size_t i);

/* Assesses REP (about CUR, decided with CFG) into OUT: the shortfall and the candidate, kept
 * stable through P. */
void shortfall_assess(struct shortfall_pick *p, const struct coord_config *cfg,
                      const struct coord_report *rep, const struct snap *cur,
                      struct shortfall *out);

#endif
