/* The fewest pin changes any placement meeting the balance and fairness criteria needs, computed
 * independently of the planner (vcpu_scheduler/placement.c): an exact search for small hosts and
 * a relaxation bound for large ones. docs/METRICS.md states the criteria.
 *
 * A placement puts every active vCPU (pinned, or floating with demand >= ORACLE_MIN_DEMAND) on a
 * usable pCPU; a floating vCPU may instead stay floating when the input does not ask for floating
 * vCPUs to be pinned: its demand is then a fluid that fills the least loaded pCPUs. Its cost is the
 * number of vCPUs whose pin changes (a floating vCPU that gets a pin counts one).
 *  - balanced: the standard deviation of the projected pCPU loads (background + demand, fluid
 *    included) is at most max(threshold, the lowest any placement reaches + threshold / 4);
 *  - fair: on an overcommitted host (mean load above one pCPU), vCPUs of one demand class (5 %
 *    wide, idle class excluded) get shares that differ by at most twice the threshold, each pCPU
 *    shared max-min fairly among its vCPUs, its background and the floating demand poured there
 *    (so four busy vCPUs on two pCPUs are 2+2, not 3+1); where no balanced placement is fair,
 *    fairness is not asked.
 */
#ifndef VMB_ORACLE_H
#define VMB_ORACLE_H

#include <stdbool.h>
#include <stddef.h>

#define ORACLE_MIN_DEMAND 0.02
#define ORACLE_NCLASS     21

/* The largest instance oracle_exact() solves: vCPUs to place, usable pCPUs. */
#define ORACLE_MAX_VCPUS 14
#define ORACLE_MAX_PCPUS 4

struct oracle_input {
    int npcpus;
    const unsigned char *usable; /* per pCPU, nonzero when usable (NULL: all) */
    const double *background;    /* per pCPU (NULL: none) */
    size_t nvcpus;
    const double *demand; /* per vCPU, 0..1 */
    const int *pin;       /* per vCPU: its pCPU, or -1 when floating */
    double threshold;
    bool pin_floating; /* floating vCPUs with demand must get a pin */
};

struct oracle_result {
    long changes;  /* fewest changes meeting the criteria */
    double limit;  /* the highest load spread (std dev) a balanced placement may have */
    bool fair;     /* fairness was asked (some balanced placement is fair) */
    bool start_ok; /* the current placement already meets the criteria */
};

/* Solves IN exactly (at most ORACLE_MAX_VCPUS active vCPUs on ORACLE_MAX_PCPUS usable pCPUs).
 * Returns 0, or -1 when IN is too large. */
int oracle_exact(const struct oracle_input *in, struct oracle_result *out);

/* A lower bound on the changes of any placement meeting the balance criterion, for any size:
 * load pinned to a pCPU stays there unless shed, so enough of the largest vCPUs must be shed
 * that the squared excesses above the mean fit the allowed spread (greedy over the largest
 * gains: exact for this relaxation); floating vCPUs that must be pinned count one each. */
long oracle_bound(const struct oracle_input *in);

/* True when TARGET (per vCPU: its pCPU, or -1 to stay floating) meets the criteria with the
 * limits of R (from oracle_exact). */
bool oracle_meets(const struct oracle_input *in, const struct oracle_result *r, const int *target);

/* The number of vCPUs TARGET changes (a floating vCPU given a pin counts one). */
long oracle_changes(const struct oracle_input *in, const int *target);

#endif
