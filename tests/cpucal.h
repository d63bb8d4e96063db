/* The figures that calibrate the fake host's CPU model on recorded hosts, computed the same way
 * from a trace (tests/trace.h) and from the fake host sampled like the recorder (4 Hz): over
 * windows of one tool period, what each vCPU ran and waited, and what else ran on its pCPU
 * (docs/EVIDENCE.md#fake-run-queue). */
#ifndef VMB_CPUCAL_H
#define VMB_CPUCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"

/* A guest's workload, as the scenario that was recorded ran it: the duty of each of its vCPUs
 * (1: busy, 0.5: busy half of each 100 ms, 0: idle). */
struct cpucal_duty {
    const char *name;
    double duty;
};

/* The figures gathered over any number of windows (cpucal_window) and sample pairs
 * (cpucal_steps). Each array holds one value per vCPU-window. */
struct cpucal {
    const struct cpucal_duty *duties; /* the guests' workloads (NULL name ends the list) */
    double *busy_sum;                 /* run + delay of a busy vCPU (fraction of the window) */
    double *split;  /* |a - b| / (a + b) of the runs of two busy vCPUs pinned to one pCPU */
    double *excess; /* a part-time vCPU's (run + delay - duty) / run: its wake-up delay ... */
    double *others; /* ... and the load of the other tasks of its pCPU in that window */
    size_t nbusy, nsplit, nexcess, cap_busy, cap_split, cap_excess, cap_others;
    size_t steps, steps_whole; /* vCPU run-time changes, and those in whole 10 ms */
};

/* Adds the window from snapshot A to snapshot B (vCPUs matched by domain name; each pinned to
 * one pCPU in both). Returns 0, or -1 when out of memory. */
int cpucal_window(struct cpucal *c, const struct snap *a, const struct snap *b);

/* Counts the run-time changes of the vCPUs from snapshot A to the next sample B, and those
 * that are whole 10 ms steps. */
void cpucal_steps(struct cpucal *c, const struct snap *a, const struct snap *b);

/* The other tasks' load counts up to this much of a pCPU in their pressure. */
#define CPUCAL_MAX_OTHERS 0.95

/* The pressure of the other tasks of a pCPU that run OTHERS of it: others / (1 - others). */
double cpucal_pressure(double others);

/* Fits EXCESS = wake + queue * pressure(OTHERS) by least squares over the gathered windows.
 * Returns false when there are fewer than two. */
bool cpucal_fit(const struct cpucal *c, double *wake, double *queue);

/* The same fit through the origin (EXCESS = queue * pressure(OTHERS)): QUEUE; 0 without
 * windows. */
double cpucal_fit_queue(const struct cpucal *c);

/* The median of the part-time vCPUs' excess over the windows whose other load is below
 * (ABOVE false) or at least (ABOVE true) LEVEL; -1 when there is none. */
double cpucal_excess_median(const struct cpucal *c, double level, bool above);

/* Frees what cpucal_window allocated; accepts a zeroed struct (duties stay). */
void cpucal_free(struct cpucal *c);

#endif
