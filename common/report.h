/* Output pieces both programs share: the JSON period header and a domain's identity. */
#ifndef VMB_REPORT_H
#define VMB_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "json.h"
#include "snapshot.h"

/* Starts J on OUT with one period's object: period, time (monotonic seconds of CUR), baseline
 * and dry_run. Close it with report_end(). */
void report_begin(struct json *j, FILE *out, unsigned long period, const struct snapshot *cur,
                  bool baseline, bool dry_run);

/* Writes the "domain" (name) and "uuid" keys of D, a domain of CUR. */
void report_domain(struct json *j, const struct snapshot *cur, const struct snap_domain *d);

/* Writes "calls" and closes the period's object and its line. */
void report_end(struct json *j, unsigned long calls);

#endif
