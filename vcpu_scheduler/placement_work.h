/* The working state of one placement run, shared by the planner's files (private to them). */
#ifndef VMB_PLACEMENT_WORK_H
#define VMB_PLACEMENT_WORK_H

#include <stdbool.h>
#include <stddef.h>

#include "loadheap.h"
#include "placement.h"

/* Loads closer than this are equal (absorbs rounding in measured counters). */
#define TIE 1e-6

/* Estimated demand is uncertain in proportion to its size: demands or loads differ only by more
 * than the threshold plus this fraction of them (docs/EVIDENCE.md#demand-noise). */
#define DEMAND_NOISE 0.05

/* Demand classes, 5 % wide, for fairness: vCPUs of one class are spread evenly. Class 0 (under
 * 2.5 % of a pCPU) is not limited. */
#define NCLASS PLACEMENT_NCLASS

/* A floating vCPU the kernel places is planned in pieces of at most this demand. */
#define FLUID_PIECE      0.125
#define FLUID_PIECES_MAX 8

/* No item: the end of a list. */
#define NONE ((size_t)-1)

/* A vCPU being planned; sorting these keeps qsort free of shared state. */
struct item {
    double demand;
    int origin; /* usable current pin, or -1 */
    int cls;    /* demand class */
    bool sticky;
    bool fluid;                   /* a piece of a floating vCPU the kernel places */
    int group;                    /* its guest, numbered from 1; 0: none */
    const unsigned char *allowed; /* pCPUs it may go to, or NULL: any usable one */
    size_t v;
};

/* A vCPU placed on a pCPU, for judging service. */
struct placed {
    int p;
    int cls;
    double demand;
};

/* Working state of one planning run. */
struct work {
    const struct placement_input *in;
    int np, nusable;
    double *load;         /* per pCPU, as planned */
    double *before;       /* per pCPU, now */
    struct item *kept;    /* pinned to a usable pCPU: candidates to stay */
    struct item *pending; /* to be placed */
    size_t nkept, npending, nmust;
    double floating; /* demand of floating and stranded vCPUs: placed where there is room */
    double total;
    unsigned quota[NCLASS]; /* most vCPUs of a class one pCPU should hold: ceil(n / pCPUs) */
    unsigned *count;        /* np x NCLASS: planned vCPUs of each class on each pCPU */
    struct item *all;       /* scratch: every planned vCPU */
    double *pinned;         /* per pCPU: demand of the vCPUs pinned there now */
    double *scratch;        /* np doubles */
    double *scratch2;       /* nvcpus + 2 doubles */
    struct placed *placed;  /* nvcpus: scratch for judging service */
    double *scratch3;       /* np doubles */
    size_t *bucket;         /* np + 1 */
    size_t *order;          /* nvcpus */
    size_t nall;            /* planned items in all */
    bool quotas;            /* class quotas apply (fairness by counts) */
    double enough;          /* the spread at which refining stops and pruning may undo */
    int *sib;               /* per pCPU: the next SMT sibling of its core (a ring), or NULL */
    size_t ngroups;         /* groups (domains) of the vCPUs */
    size_t *gstart, *gv;    /* vCPU indices by group: gv[gstart[g] .. gstart[g + 1]) */
};

/* The demand class of DEMAND (see placement_class()). */
static inline int work_class_of(double demand)
{
    int c = (int)(demand * (NCLASS - 1) + 0.5);
    return c < 0 ? 0 : c >= NCLASS ? NCLASS - 1 : c;
}

/* True when pCPU P may take one more vCPU of class C. */
static inline bool work_has_room(const struct work *w, int p, int c)
{
    return w->count[(size_t)p * NCLASS + (size_t)c] < w->quota[c];
}

/* True when IT may be pinned to pCPU P (usable, allowed): an administrator's restriction. */
static inline bool work_allowed(const struct work *w, const struct item *it, int p)
{
    return (!w->in->usable || w->in->usable[p]) &&
           (!it->allowed || ((it->allowed[p / 8] >> (p % 8)) & 1));
}

/* True when IT may go to pCPU P: allowed there, with room in its class. */
static inline bool work_may_go(const struct work *w, const struct item *it, int p)
{
    return work_allowed(w, it, p) && work_has_room(w, p, it->cls);
}

/* Counts DELTA more vCPUs of class C on pCPU P. */
static inline void work_count_add(struct work *w, int p, int c, int delta)
{
    w->count[(size_t)p * NCLASS + (size_t)c] += (unsigned)delta;
}

/* True when the host's demand exceeds its pCPUs on average: only then can vCPUs of equal demand
 * get unequal service on a balanced host (below, each gets its whole demand). */
static inline bool work_overcommitted(const struct work *w)
{
    return w->nusable > 0 && w->total > (double)w->nusable;
}

/* work.c: the items and working buffers of one run. */

/* Allocates W's arrays (and OUT's target) for IN; returns 0 or -1 (free W with work_free()). */
int work_alloc(struct work *w, const struct placement_input *in, struct placement_plan *out);

/* Frees W's arrays; accepts a zeroed work. */
void work_free(struct work *w);

/* Starts every usable pCPU's load at its background load. */
void work_init_loads(struct work *w);

/* Sorts the vCPUs into kept, pending (must place) and ignored (idle floating); TARGET starts
 * at each vCPU's pin. */
void work_classify(struct work *w, int *target);

/* qsort orders: items by demand descending, then index; doubles ascending. */
int work_by_demand_desc(const void *a, const void *b);
int work_by_double(const void *a, const void *b);

/* greedy.c: steps 1 (keep) and 2 (place). */

/* 1. keep: each pCPU keeps its sticky vCPUs, then its largest (or smallest) vCPUs while they
 * fit under IDEAL + TOL; the others become pending. Leaves W->kept sorted by origin and largest
 * first. */
void greedy_keep(struct work *w, double ideal, double tol, bool smallest_first);

/* 2. place: the pending vCPUs, largest first, on the least loaded pCPU of MINH with room in
 * their class (their own pCPU on ties), into TARGET. */
void greedy_place(struct work *w, struct loadheap *minh, int *target);

/* refine.c: steps 3 (refine) and 4 (prune) on the NITEMS planned vCPUs ITEMS. */

/* 3. refine: moves single vCPUs (or exchanges two) from the most to the least loaded pCPU while
 * that narrows their gap by at least the threshold, until the spread is within half the
 * threshold. Returns 0, or -1 when out of memory. */
int refine_moves(struct work *w, struct loadheap *minh, struct item *items, size_t nitems,
                 int *target);

/* 4. prune: undoes the moves that narrow their gap by less than the threshold, or that the
 * spread does without, smallest first. */
void refine_prune(struct work *w, const struct item *items, size_t nitems, int *target);

/* fluid.c: the floating vCPUs the kernel places, as a fluid. */

/* Adds floating vCPU IT to W's pending items as a fluid: small pieces, placed where there is room
 * like the rest, without a class (the kernel's placement is not ours to make fair). */
void fluid_add(struct work *w, const struct item *it);

/* The usable pCPUs' loads now with the floating demand poured in, sorted ascending into L;
 * returns how many, and the fluid's level in *LEVEL_OUT (-INFINITY when there is none). */
int fluid_levels(const struct work *w, double *l, double *level_out);

/* The spread of fluid_levels() (the level in *LEVEL_OUT). */
double fluid_spread(const struct work *w, double *level_out);

/* fairness.c: equal service within demand classes, and the lower bound of pin changes. */

/* Unequal service now: the pinned vCPUs where they are, the floating demand poured up to
 * FLUID_LEVEL. */
bool fairness_unfair_before(struct work *w, double fluid_level);

/* Unequal service as planned (NALL planned items in W->all, placed per TARGET). */
bool fairness_unfair_after(struct work *w, size_t nall, const int *target);

/* The fewest pin changes any plan whose highest load is MAX_AFTER needs. */
size_t fairness_lower_bound(struct work *w, double max_after);

/* trade.c: step 4 after prune, trades of alike vCPUs taken back. */

/* Where the plan (TARGET, the N planned ITEMS) moves a vCPU onto a pCPU while it moves one of a
 * demand alike off it, the first goes where the second was going and the second stays, as long
 * as every pCPU's load stays within the estimates' noise of the plan's. Returns 0, or -1 when
 * out of memory. */
int trade_alike(struct work *w, const struct item *items, size_t n, int *target);

/* smt.c: SMT siblings. */

/* Links the pCPUs of each physical core in a ring (W->sib) when the input has cores; returns 0
 * or -1 (out of memory). */
int smt_link_siblings(struct work *w);

/* The load of the other threads of P's physical core (0 without SMT information). */
double smt_sibling_load(const struct work *w, int p);

/* Busy threads beyond the first of each physical core under LOAD, up to the number of idle cores:
 * what moving busy vCPUs onto idle cores would undo (0 without SMT information). */
size_t smt_doubled(const struct work *w, const double *load);

/* Busy vCPUs fill physical cores before sibling threads: of each core running two busy vCPUs
 * while another core is idle, one moves there (the thread loads stay the same: the balance is
 * untouched). Returns 0, or -1 when out of memory. */
int smt_repair(struct work *w, const struct item *items, size_t n, int *target);

/* stack.c: a guest's busy vCPUs apart. */

/* Where plan OUT (or, when it does not act, the present) leaves two busy vCPUs of one guest on
 * one pCPU while another pCPU one of them may use holds fewer busy vCPUs, moves it there (OUT
 * then acts). Returns 0, or -1 when out of memory. */
int stack_spread(const struct placement_input *in, struct placement_plan *out);

#endif
