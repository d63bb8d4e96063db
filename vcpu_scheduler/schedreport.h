/* Output of the vCPU scheduler: one human line or one JSON object per period, on stdout, and
 * the metrics file. */
#ifndef VMB_SCHEDREPORT_H
#define VMB_SCHEDREPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "metrics.h"
#include "report.h"
#include "scheduler.h"
#include "snapshot.h"

/* Why a vCPU was pinned: to balance the pCPUs (it was pinned elsewhere), or to pin a busy
 * vCPU whose affinity allowed several pCPUs. */
enum schedreport_pin_reason { SCHEDREPORT_PIN_BALANCE, SCHEDREPORT_PIN_FLOATING, SCHEDREPORT_PINS };

/* What the scheduler's metrics need beyond one period's report: the program's configuration
 * and its counts since it started. */
struct schedreport_metrics {
    struct report_meta meta;
    double threshold;                     /* --threshold, as a fraction */
    unsigned long pins[SCHEDREPORT_PINS]; /* pin changes made (planned, in a dry run) */
    unsigned long pin_failures;           /* pin changes the hypervisor refused */
};

/* Prints REP (about snapshot CUR) as one concise line. */
void schedreport_print_line(FILE *out, const struct sched_report *rep, const struct snap *cur,
                            bool dry_run);

/* Prints REP as one JSON object on one line. */
void schedreport_print_json(FILE *out, const struct sched_report *rep, const struct snap *cur,
                            bool dry_run);

/* Adds REP's period, calls and pin changes to SM's counts. */
void schedreport_count(struct schedreport_metrics *sm, const struct sched_report *rep);

/* Builds REP (about CUR) and SM's counts as this period's metrics in M and writes M's file. */
void schedreport_write_metrics(struct metrics *m, const struct sched_report *rep,
                               const struct snap *cur, const struct schedreport_metrics *sm);

#endif
