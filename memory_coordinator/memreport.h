/* Output of the memory coordinator: one human line or one JSON object per period, on stdout. */
#ifndef VMB_MEMREPORT_H
#define VMB_MEMREPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "coordinator.h"
#include "snapshot.h"

/* Prints REP (about snapshot CUR) as one concise line. */
void memreport_print_line(FILE *out, const struct coord_report *rep, const struct snapshot *cur,
                          bool dry_run);

/* Prints REP as one JSON object on one line. */
void memreport_print_json(FILE *out, const struct coord_report *rep, const struct snapshot *cur,
                          bool dry_run);

#endif
