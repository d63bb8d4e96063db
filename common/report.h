/* Output pieces both programs share: the JSON period header, a domain's identity, and the
 * metrics every program writes. */
#ifndef VMB_REPORT_H
#define VMB_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "json.h"
#include "metrics.h"
#include "snapshot.h"

/* Starts J on OUT with one period's object: "period" (PERIOD_NO, 1 for the first sample),
 * "time" (monotonic seconds of CUR), "baseline" and "dry_run". Close it with report_end(). */
void report_begin(struct json *j, FILE *out, unsigned long period_no, const struct snap *cur,
                  bool baseline, bool dry_run);

/* Writes the "domain" (name) and "uuid" keys of D, a domain of CUR. */
void report_domain(struct json *j, const struct snap *cur, const struct snap_domain *d);

/* Writes "calls" and closes the period's object and its line. */
void report_end(struct json *j, unsigned long calls);

/* A program as its metrics describe it: its configuration and what it counted so far. */
struct report_meta {
    const char *program; /* its name: the "program" label of the families both programs write */
    double period_s;
    bool dry_run;
    unsigned long periods; /* periods run */
    unsigned long calls;   /* hypervisor round trips made */
};

/* Counts one period of CALLS hypervisor round trips into META. */
void report_meta_count(struct report_meta *meta, unsigned long calls);

/* Writes the families both programs have (labelled with the program: both files go to the
 * same collector): version, period, time of the last period, dry run, managed domains of CUR,
 * periods and hypervisor calls. */
void report_metrics_common(struct metrics *m, const struct report_meta *meta,
                           const struct snap *cur);

/* Writes REASON as a label value fit for a metric: lower case, '_' for anything else
 * ("starving, short of memory" -> "starving_short_of_memory") into BUF of SIZE bytes. */
const char *report_label_slug(const char *reason, char *buf, size_t size);

#endif
