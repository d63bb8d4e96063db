/* The state of one scheduler (struct sched), shared by the files of a period (private to them). */
#ifndef VMB_SCHED_STATE_H
#define VMB_SCHED_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carry.h"
#include "hostview.h"
#include "hv.h"
#include "numa.h"
#include "placement.h"
#include "scheduler.h"
#include "snapshot.h"
#include "usage.h"

/* What is known of a run-queue counter (delay or wait) on this host. */
enum proof {
    UNPROVEN, /* reported, never seen to move */
    REAL,     /* seen to move: measured */
    DEAD      /* reported, but still at 0 while vCPUs visibly contend: not measured */
};

/* Per-vCPU state carried from period to period (indexed like the snapshot's vCPUs). */
struct vstate {
    double demand;    /* fast average of the estimate */
    double mean;      /* slow average */
    double swing;     /* slow average of |estimate - mean|: how bursty it is */
    double run_avg;   /* fast average of its run time (what it got) */
    unsigned samples; /* estimates so far (the slow averages' warm-up) */
    double owed;      /* what the period read short of a pCPU, which the next may account late */
    double value;     /* the demand its averages gave, before a drop is held */
    double used;      /* the demand the plan used */
    double still_s;   /* how long its counters have stood still (s) */
    bool known;
    bool remembered;    /* its original affinity is saved for --restore-pins */
    bool warned_alone;  /* "may go nowhere" said */
    bool said_fixed;    /* "pinned in its definition" said (-v) */
    double said_weight; /* the weight and cap said (-v) for its guest, on its vCPU 0 */
    double said_cap;
    unsigned long moved_at; /* period of its last pin change by us (0: never) */
    unsigned cooldown;      /* periods it stays put after that change */
};

/* An original affinity saved for --restore-pins. */
struct saved_map {
    unsigned char uuid[SNAP_UUID_LEN];
    uint32_t vcpu;
    size_t seq;
    size_t maplen;
    unsigned char *map;
};

/* A domain whose emulator threads we pinned. */
struct emu_saved {
    unsigned char uuid[SNAP_UUID_LEN];
    unsigned char *map; /* its emulator affinity before we pinned it, or NULL: all */
    bool failed;        /* the host refused: not tried again */
};

/* The scheduler: its configuration, what it carries between periods and this period's facts. */
struct sched {
    struct sched_config cfg;
    unsigned long period;
    struct usage usage;
    struct carry state;       /* struct vstate per vCPU, this period's and the previous one's */
    double *background;       /* per pCPU, smoothed */
    double *usage_buf;        /* per pCPU, this period */
    double *attributed;       /* per pCPU: run time of vCPUs pinned there */
    double *maxrun;           /* per pCPU: highest run of a vCPU pinned there */
    unsigned char *contended; /* per pCPU: busy vCPUs pinned there (0, 1, 2 or more) */
    double *bg_in;            /* per pCPU: the background the plan sees */
    double *wsum;             /* per pCPU: scratch, the weights of contending vCPUs there */
    unsigned char *online;    /* per pCPU: online this period */
    struct hostview *view;
    int *home;    /* per vCPU: home node for the plan */
    bool *strict; /* per vCPU: bound to its home node */
    size_t nhome_cap;
    struct numa_result numa;
    size_t emulator_pins;
    unsigned char *emulator_cpus; /* --emulator-cpus, cfg.maplen bytes, or NULL */
    struct emu_saved *emu;
    size_t nemu, cap_emu;
    int npcpus;
    struct sched_vcpu_info *info;
    struct placement_vcpu *pv;
    double *demand_buf, *weight_buf; /* per vCPU: scratch for the weighted shares */
    struct sched_move *moves;
    size_t vcpu_cap;
    /* This period: */
    size_t ndomains;
    double *emulator; /* per domain: emulator load, or -1 */
    size_t cap_emulator;
    bool floating_busy; /* a floating vCPU ran */
    bool weighted;      /* the plan counts weighted shares (unequal weights contend) */
    bool pin_floating;  /* the plan may pin floating vCPUs */
    enum sched_signal signal;
    size_t delay_measured;
    double delay_max, delay_mean;
    size_t nvcpus, nmoves, failed, lower_bound;
    double spread_before, spread_after;
    bool balanced;
    struct saved_map *saved;
    size_t nsaved, saved_cap;
    enum proof delay_proof, wait_proof;
    enum sched_signal last_signal; /* of the previous period, for the -v log */
    unsigned troubled;       /* periods running the kernel fell short placing floating vCPUs */
    bool wanted;             /* last period's plan wanted to act on a small imbalance, and waited */
    unsigned long last_move; /* period of the last pin change made (0: none) */
    bool waiting;            /* this period's small imbalance waits for confirmation */
    bool warned_unusable;    /* "no usable pCPU" said */
};

/* demand.c: derive (pure): the snapshots to this period's facts in S->info (each vCPU's run,
 * delay, pin and demand), S->usage_buf and S->background. */
void demand_derive(struct sched *s, const struct snap *cur);

/* pins.c: the original affinities saved for --restore-pins. */

/* Saves the current affinity of vCPU VCPU of domain UUID before its first change. */
void pins_remember(struct sched *s, struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                   int npcpus);

/* Forgets saved affinities of domains that are gone (a long run with churn must not grow). */
void pins_forget_vanished(struct sched *s, const struct snap *cur);

/* Puts back every saved vCPU affinity and forgets them all; returns how many were put back. */
size_t pins_restore(struct sched *s, struct hv *hv);

/* emulator.c: emulator threads, measured and pinned to --emulator-cpus. */

/* Each domain's emulator load this period into S->emulator. Returns 0, or -1 (out of memory). */
int emulator_derive(struct sched *s, const struct snap *cur);

/* Pins each managed domain's emulator threads to --emulator-cpus (live), remembering their
 * affinity for --restore-pins. */
void emulator_apply(struct sched *s, struct hv *hv, const struct snap *cur);

/* Puts back the emulator affinity of every domain whose emulator threads we pinned; returns
 * how many. */
size_t emulator_restore(struct sched *s, struct hv *hv);

/* schedplan.c: plan (pure): the placement policy on this period's facts (vCPUs fixed by their
 * definition left out, weighted shares under contention); the pin changes go to S->moves.
 * Returns 0, or -1 when out of memory. */
int schedplan_run(struct sched *s);

/* schedapply.c: apply: the only hypervisor writes, the planned pins (none in a dry run). */
void schedapply_run(struct sched *s, struct hv *hv, const struct snap *cur);

#endif
