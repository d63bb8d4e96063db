/* Trust in a guest's memory statistics (pure; private to the memory coordinator): judged every
 * period, each reason warned about once per guest, and its recovery noted once. */
#ifndef VMB_MEMTRUST_H
#define VMB_MEMTRUST_H

#include <stdbool.h>

#include "coordinator.h"
#include "coordstate.h"
#include "snapshot.h"

/* Judges the statistics of sample M at clock K (FITS: memsig_headroom says they fit its balloon),
 * taking their clock into ST: *FRESH and *DT as memsig_clock gives them. */
enum coord_distrust memtrust_judge(struct gstate *st, const struct snap_mem *m, bool fits,
                                   const struct coord_clock *k, bool *fresh, double *dt);

/* For guest G, judged at clock K: whether its statistics are turned on this period (none yet,
 * never by us) and whether its distrust reason, or its recovery, is said this period. */
void memtrust_track(struct gstate *st, struct coord_guest *g, const struct coord_clock *k);

#endif
