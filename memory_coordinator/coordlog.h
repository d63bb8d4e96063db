/* What the memory coordinator logs about its guests (private to the memory coordinator): the
 * trust in their statistics, facts said once, the events of their signals, their new targets. */
#ifndef VMB_COORDLOG_H
#define VMB_COORDLOG_H

#include <stdbool.h>

#include "coordinator.h"
#include "coordstate.h"
#include "snapshot.h"

/* Logs what derive found about guest G (domain D, named NAME): a distrust reason or recovery to
 * announce, facts to note once, a squeeze answered or a deflation adopted. */
void coordlog_guest(const struct coord_guest *g, const struct snap_domain *d, const char *name);

/* Logs the new target of guest G (sample M, named NAME), set or, in a DRY_RUN, planned. */
void coordlog_change(const struct coord_guest *g, const struct snap_mem *m, const char *name,
                     bool dry_run);

#endif
