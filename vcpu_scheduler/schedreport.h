/* Output of the vCPU scheduler: one human line or one JSON object per period, on stdout. */
#ifndef VMB_SCHEDREPORT_H
#define VMB_SCHEDREPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "scheduler.h"
#include "snapshot.h"

/* Prints REP (about snapshot CUR) as one concise line. */
void schedreport_print_line(FILE *out, const struct sched_report *rep, const struct snapshot *cur,
                            bool dry_run);

/* Prints REP as one JSON object on one line. */
void schedreport_print_json(FILE *out, const struct sched_report *rep, const struct snapshot *cur,
                            bool dry_run);

#endif
