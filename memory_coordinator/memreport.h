/* Output of the memory coordinator: one human line or one JSON object per period, on stdout, and
 * the metrics file. */
#ifndef VMB_MEMREPORT_H
#define VMB_MEMREPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "coordinator.h"
#include "metrics.h"
#include "report.h"
#include "shortfall.h"
#include "snapshot.h"

/* Reasons a balloon target can have (enum mem_reason), for counts by reason. */
#define MEMREPORT_REASONS (MEM_UNTRUSTED + 1)

/* What the coordinator's metrics need beyond one period's report: the program's configuration
 * and its counts since it started. */
struct memreport_metrics {
    struct report_meta meta;
    unsigned long resizes[MEMREPORT_REASONS]; /* balloon targets set (planned, in a dry run) */
    unsigned long resize_failures;            /* targets the hypervisor refused */
};

/* Prints REP (about snapshot CUR) as one concise line. */
void memreport_print_line(FILE *out, const struct coord_report *rep, const struct snap *cur,
                          bool dry_run);

/* Prints REP as one JSON object on one line. */
void memreport_print_json(FILE *out, const struct coord_report *rep, const struct snap *cur,
                          bool dry_run);

/* Logs SF (of REP, about CUR) when a shortfall starts (with the migration candidate) and when it
 * ends; *SAID carries whether one is going on. */
void memreport_log_shortfall(bool *said, const struct coord_report *rep, const struct snap *cur,
                             const struct shortfall *sf);

/* Adds REP's period, calls and balloon changes to MM's counts. */
void memreport_count(struct memreport_metrics *mm, const struct coord_report *rep);

/* Builds REP (about CUR), its shortfall SF and MM's counts as this period's metrics in M and
 * writes M's file. */
void memreport_write_metrics(struct metrics *m, const struct coord_report *rep,
                             const struct snap *cur, const struct shortfall *sf,
                             const struct memreport_metrics *mm);

#endif
