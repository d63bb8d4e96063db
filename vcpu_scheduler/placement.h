/* vCPU placement policy (pure): plan pins that balance estimated demand with the fewest changes. */
#ifndef VMB_PLACEMENT_H
#define VMB_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>

/* Floating vCPUs with less demand than this are left floating (fraction of one pCPU). */
#define PLACEMENT_MIN_DEMAND 0.02

/* One vCPU as the policy sees it. A floating vCPU (pin -1) is placed by the host's kernel,
 * which fills the least loaded pCPUs: the plan counts its demand where the kernel would put it
 * and pins it only when the input allows (pin_floating). */
struct placement_vcpu {
    double demand; /* estimated demand, fraction of one pCPU (0..1) */
    int pin;       /* the single pCPU it is pinned to, or -1 when its affinity allows several */
    bool sticky;   /* moved recently: stays on its (usable) pCPU this time */
    const unsigned char *allowed; /* pCPUs it may be pinned to (bit per pCPU; NULL: any) */
    int group; /* its guest, numbered from 1: a guest's vCPUs are spread; 0: none */
};

struct placement_input {
    int npcpus;
    const unsigned char *usable; /* per pCPU: nonzero when vCPUs may go there (NULL: all) */
    const double *background;    /* per pCPU load not from these vCPUs (NULL: none) */
    size_t nvcpus;
    const struct placement_vcpu *vcpus;
    double threshold;  /* balance tolerance as a fraction: 0.05 = 5 percentage points */
    bool pin_floating; /* floating vCPUs may be pinned (else the kernel places them) */
    const int *core;   /* per pCPU: its physical core, SMT siblings share one (NULL: none) */
};

/* The decision. */
struct placement_plan {
    int *target;           /* per vCPU: the pCPU to pin it to, or -1 to leave it as it is */
    size_t nmoves;         /* vCPUs whose target differs from their pin */
    size_t must_place;     /* floating (or stranded) vCPUs with demand that need a pin */
    size_t lower_bound;    /* pin changes any plan as balanced and fair as this one needs */
    double spread_before;  /* std dev of the projected pCPU load now (fraction) */
    double spread_after;   /* the same after the plan */
    double usage_after;    /* the std dev of min(1, load) after the plan: projected usage */
    double max_after;      /* highest projected pCPU load after the plan */
    bool unfair_before;    /* vCPUs of a demand class would be served unequally now */
    bool unfair_after;     /* ... after the plan */
    int nusable;           /* usable pCPUs ... */
    double mean;           /* ... and their mean projected load (the spreads' mean) */
    double usage_mean;     /* ... and mean of min(1, load) after the plan */
    size_t doubled_before; /* busy vCPUs sharing a physical core while a core is idle, now */
    size_t doubled_after;  /* ... after the plan */
    bool act;              /* false when already balanced: target == pin everywhere */
};

/* Plans placement for IN into OUT (OUT->target allocated here). Returns 0, or -1 when out of
 * memory. Free with placement_plan_free(). */
int placement_plan(const struct placement_input *in, struct placement_plan *out);

/* Frees what placement_plan() allocated; accepts a zeroed plan. */
void placement_plan_free(struct placement_plan *plan);

/* The demand class of DEMAND: classes are 5 % wide; vCPUs of one class count as equal. */
int placement_class(double demand);

/* Number of demand classes (class 0, under 2.5 % of a pCPU, is idle). */
#define PLACEMENT_NCLASS 21

/* Standard deviation of LOAD over the usable pCPUs (fractions in, fraction out). */
double placement_spread(const double *load, const unsigned char *usable, int npcpus);

#endif
