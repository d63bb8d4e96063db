/* The closed-loop harness of the scheduler tests: the real scheduler, through the real runner,
 * against the fake host. Period 1 is the baseline sample; each later period first simulates
 * one second with the pins as they are, then samples, decides and acts. */
#ifndef VMB_CPUSIM_H
#define VMB_CPUSIM_H

#include <stdbool.h>
#include <stddef.h>

#include "fake_hv.h"
#include "runner.h"
#include "scheduler.h"

#define CPUSIM_MAXP 200

struct cpusim {
    struct fake_host *f;
    struct sched *s;
    struct runner *r;
    struct sched_config cfg;
    int period;                    /* periods run */
    size_t moves[CPUSIM_MAXP + 1]; /* pin changes decided in each period */
    size_t bound[CPUSIM_MAXP + 1]; /* their lower bound */
    double sd[CPUSIM_MAXP + 1];    /* measured pCPU usage std dev before each period, points */
    size_t failed, gone;
    int first_seen[64];    /* period each fake domain first appeared in a sample */
    bool moved_new_domain; /* a domain was moved in its first period */
    size_t crossed;        /* vCPUs whose home node changed */
    size_t emulator_pins;
    struct sched_move last_moves[64]; /* the moves of the last period (at most 64 kept) */
    double emulator[64];              /* emulator load of each domain id, last period (-1) */
    size_t nlast;
};

/* A host of NPCPUS pCPUs in signal MODE; DRY_RUN as --dry-run (restore_pins on). */
void cpusim_init(struct cpusim *m, int npcpus, bool dry_run, int mode);

/* The same with the scheduler configuration CFG (threshold 0.05 when 0). */
void cpusim_init_cfg(struct cpusim *m, int npcpus, int mode, const struct sched_config *cfg);

void cpusim_free(struct cpusim *m);

/* Runs periods up to and including period N. */
void cpusim_run(struct cpusim *m, int n);

/* Pin changes decided from period FROM to TO. */
size_t cpusim_moves(const struct cpusim *m, int from, int to);

/* Adds N one-vCPU domains with DEMAND, pinned to PIN (-1: floating); returns the first id. */
int cpusim_add_busy(struct cpusim *m, int n, double demand, int pin);

/* vCPU 0 of the first NDOM domains pinned to PCPU. */
int cpusim_vcpus_on(const struct cpusim *m, int ndom, int pcpu);

/* Largest difference in service (points) between vCPU 0 of domains [FROM, TO). */
double cpusim_service_range(const struct cpusim *m, int from, int to);

#endif
