/* One period of the vCPU scheduler: derive demand, plan placement, apply pins, report. */
#ifndef VMB_SCHEDULER_H
#define VMB_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "snapshot.h"

/* Smoothing of demand and background load: weight of the newest measurement. */
#define SCHED_ALPHA 0.5

/* Slow averages that recognise bursty vCPUs: weight of the newest period, and the average
 * deviation (fraction of a pCPU) above which a vCPU counts as bursty. */
#define SCHED_SLOW_ALPHA 0.1
#define SCHED_BURSTY     0.15

/* A vCPU moved less than this many periods ago stays where it is (damps chasing bursts). */
#define SCHED_COOLDOWN 5

/* ... and a bursty one this many: its mean keeps drifting, and chasing it helps nobody. */
#define SCHED_COOLDOWN_BURSTY 30

/* Where a vCPU's demand estimate came from this period. */
enum sched_signal {
    SCHED_SIGNAL_DELAY,      /* run + run-queue delay (vcpu.N.delay; always on) */
    SCHED_SIGNAL_WAIT,       /* run + wait (vcpu.N.wait; real only with schedstats) */
    SCHED_SIGNAL_SATURATION, /* run, or a whole pCPU for the busiest on a saturated pCPU */
    SCHED_SIGNAL_COUNT
};

/* A word for a signal, for logs and JSON ("delay", "wait", "saturation"). */
const char *sched_signal_name(enum sched_signal s);

struct sched_config {
    double threshold;                   /* balance tolerance, fraction (0.05 = 5 points) */
    bool dry_run;                       /* decide and report, change nothing */
    bool restore_pins;                  /* remember original affinities for sched_restore() */
    const unsigned char *cpus;          /* --cpus: pCPUs vCPUs may be pinned to (NULL: all) */
    const unsigned char *emulator_cpus; /* --emulator-cpus: emulator threads go there (NULL) */
    size_t maplen;                      /* bytes of those maps (copied) */
    bool smt;                           /* --smt cores (else ignore) */
};

/* One vCPU of the current sample. */
struct sched_vcpu_info {
    size_t domain; /* index in the current snapshot */
    uint32_t vcpu;
    double run, wait, demand; /* fractions of one pCPU */
    double delay;             /* fraction of the period it waited in the run queue, or -1 */
    enum sched_signal signal; /* what its demand came from */
    int pin;                  /* single pCPU, or -1 */
    int target;               /* planned pCPU, or -1 (left as is) */
    int home;                 /* its home NUMA node, or -1 */
    bool known;               /* measured at least once (false: baseline) */
    bool left_alone;          /* fixed, or nowhere it may go (or offline, or config unknown) */
    bool fixed;               /* pinned in its guest's persistent definition: never re-pinned */
    double weight;            /* its guest's CPU shares */
    double cap;               /* the most of a pCPU its quota lets it run (1: no quota) */
    bool capped;              /* it ran up to its cap: its delay is mostly the quota's */
    double share;             /* what the plan counts for it (fraction): its demand, or under
                               * contention among unequal weights its weighted fair share */
};

/* One pin change decided this period. */
struct sched_move {
    size_t index;  /* of the vCPU in the current snapshot */
    size_t domain; /* index in the current snapshot */
    uint32_t vcpu;
    int from, to;           /* from is -1 for a floating vCPU */
    int node_from, node_to; /* their NUMA nodes (node_from -1 for a floating vCPU) */
    double demand;
    int result; /* HV_* of the pin call; HV_OK in a dry run */
};

/* What happened in one period; valid until the next sched_period() or sched_destroy(). */
struct sched_report {
    unsigned long period_no; /* 1 for the first sample */
    bool baseline;           /* first sample: nothing measured yet */
    int npcpus;
    const double *pcpu_usage;         /* per pCPU busy fraction */
    const unsigned char *pcpu_usable; /* per pCPU: vCPUs may be pinned there */
    const int *pcpu_node;             /* per pCPU: its NUMA node */
    int nnodes;                       /* NUMA nodes with usable pCPUs */
    size_t crossed;                   /* vCPUs whose home node changed this period */
    size_t ndomains;
    const double *emulator; /* per domain of the sample: emulator load (fraction), or -1 */
    size_t emulator_pins;   /* domains whose emulator threads were pinned this period */
    bool usage_measured;    /* from host counters (else attributed from pinned vCPUs) */
    double usage_spread;    /* std dev of pcpu_usage over pCPUs, fraction */
    double spread_before;   /* std dev of projected demand load before the plan */
    double spread_after;    /* ... after it */
    size_t nvcpus;
    const struct sched_vcpu_info *vcpus;
    enum sched_signal signal; /* the signal most measured vCPUs' demand came from */
    size_t delay_measured;    /* vCPUs whose delay is measured (the capped aside) ... */
    double delay_max;         /* ... the largest of their delays (fraction) */
    double delay_mean;        /* ... and their mean */
    size_t nmoves;
    const struct sched_move *moves;
    size_t lower_bound;  /* fewest pin changes a plan this balanced needs */
    size_t failed;       /* pin changes that failed */
    bool balanced;       /* nothing to change */
    bool waiting;        /* a small imbalance, acted on if it lasts another period */
    bool pin_floating;   /* floating vCPUs may be pinned: the kernel's placement fell short */
    unsigned long calls; /* hypervisor round trips this period */
};

struct sched;

/* Returns a new scheduler, or NULL when out of memory. */
struct sched *sched_create(const struct sched_config *cfg);

/* Frees S; accepts NULL. */
void sched_destroy(struct sched *s);

/* Runs one period on CUR (PREV: the previous sample, or NULL) and acts through HV.
 * CALLS0 is hv_calls() before CUR was sampled. Fills REP. Returns 0, or -1 (out of memory). */
int sched_period(struct sched *s, struct hv *hv, const struct snap *prev, const struct snap *cur,
                 unsigned long calls0, struct sched_report *rep);

/* Puts back the affinity every vCPU had before its first pin change (--restore-pins).
 * Returns the number of vCPUs restored. */
size_t sched_restore(struct sched *s, struct hv *hv);

#endif
