/* Memory policy (pure): balloon targets that feed starving guests from the host and from
 * wasteful guests, return idle memory (and page cache) to the host, give squeezed guests back
 * what they lost, and never break a floor, maximum or the host reserve. */
#ifndef VMB_MEMPOLICY_H
#define VMB_MEMPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Periods of growth a starving guest is given room for, beyond its minimum unused memory. */
#define MEM_HORIZON 4

/* A guest starves when its unused memory would fall below the minimum within this many periods
 * at its current rate. Two, not one: growth that starts just before a sample shows in it only
 * in part, and the balloon needs time to deliver, so one period of warning is too late. */
#define MEM_LOOKAHEAD 2

/* When memory is short, the periods of growth a starving guest is given room for: what is left
 * stays for the guests that start starving next period instead of going to the first ones. */
#define MEM_SHORT_HORIZON 2

/* Smaller target changes are not made (KiB): they are rounding, not decisions. */
#define MEM_MIN_CHANGE_KIB (8ull * 1024)

/* NUMA nodes the policy knows (bits of mem_guest.nodes). */
#define MEM_MAX_NODES 64

/* Reasons for a target. */
enum mem_reason {
    MEM_KEEP = 0,       /* no change */
    MEM_STARVING,       /* grown: unused below the minimum now or within a period */
    MEM_STARVING_SHORT, /* starving, but memory is short: grown less than it needs (or not at all)
                         */
    MEM_AT_MAX,         /* starving, but already at its maximum */
    MEM_WASTEFUL,       /* shrunk: much more unused than it needs, while others starve */
    MEM_IDLE,           /* shrunk: memory it does not use returns to the host */
    MEM_SHORT,          /* shrunk: the host or starving guests are short of memory */
    MEM_UNTRUSTED,      /* left alone: its statistics are missing, stale or impossible */
    MEM_SQUEEZED,       /* grown back: faults or swap-ins rose after a shrink (its floor is held) */
    MEM_DEFLATED,  /* its balloon deflated itself (OOM): starving at its new size, held there */
    MEM_PRESSURE,  /* not shrunk: its faults or swap-ins are above its usual level */
    MEM_HUGEPAGES, /* left alone: backed by huge pages, which ballooning cannot return */
    MEM_AT_CAP,    /* short of headroom, but at its memory limit (<memtune>): "capped", not
                      starving; growing it would have the host kill it */
    MEM_IGNORES    /* left alone, out of the budget: its balloon does not follow its target */
};

struct mem_config {
    uint64_t min_unused_kib;    /* memory a guest keeps unused */
    uint64_t floor_kib;         /* never shrink a guest below this */
    uint64_t host_reserve_kib;  /* host free memory never given away */
    double period_s;            /* seconds between decisions */
    uint64_t reclaim_below_kib; /* idle memory is reclaimed only while host free memory is below
                                   this (0: always); a short host reclaims whatever */
};

/* One guest, as the policy sees it. */
struct mem_guest {
    uint64_t actual_kib;      /* balloon size now (<= max) */
    uint64_t max_kib;         /* its maximum */
    uint64_t target_kib;      /* the target set earlier and still pending, or 0 */
    uint64_t headroom_kib;    /* memory it can use at once: usable, free plus cache (trusted) */
    uint64_t uncommitted_kib; /* part of actual the host has not backed yet (may still be) */
    double rate_kib_s;        /* smoothed growth of its used memory (if trusted) */
    bool rate_known;          /* rate_kib_s is measured (else no shrinking yet) */
    bool shrinking;           /* it was shrunk at its last decision (hysteresis: carry on) */
    double weight;            /* share when memory is short (> 0) */
    bool trusted;             /* its statistics are usable */
    bool fresh;               /* its statistics are new this period (else nothing new is decided) */
    bool settled;             /* ... and made while its balloon was still: what it uses is
                                 measured (else only direct evidence decides: its headroom
                                 below the minimum, pressure, a deflation) */
    bool pressure;            /* major faults or swap-ins above its usual level: never shrunk */
    bool deflated;            /* its balloon deflated itself: starving at its new size */
    uint64_t hold_kib;        /* floor held after a squeeze or a deflation (0: none): grown back
                                 to it, never shrunk below it */
    bool fixed;               /* backed by huge pages: size left alone, out of the budget */
    uint64_t nodes;           /* NUMA nodes its memory must come from (bit n: node n; 0: any) */
    uint64_t cap_kib;         /* the most its balloon may hold: its memory cgroup's limit less
                                 the hypervisor's own memory and a margin (0: no limit) */
    uint64_t soft_kib;        /* where it is shrunk toward first when memory is short (0: none) */
    bool ignores;             /* its balloon does not follow its target: its memory is its own */
};

struct mem_host {
    uint64_t free_kib;                     /* host free (available) memory now */
    bool known;                            /* free_kib was measured */
    uint64_t node_free_kib[MEM_MAX_NODES]; /* free memory of each NUMA node */
    uint64_t node_known;                   /* bit n: node_free_kib[n] was measured */
};

/* The decision for one guest. */
struct mem_decision {
    uint64_t target_kib; /* balloon target; equals the guest's committed size when unchanged */
    enum mem_reason reason;
    bool change; /* target differs from what is already set */
};

struct mem_plan {
    struct mem_decision *d; /* per guest */
    uint64_t budget_kib;    /* memory that could be given this period (0 when short) */
    uint64_t granted_kib;   /* total growth of targets */
    uint64_t reclaimed_kib; /* total shrinking of targets */
    size_t starving;        /* guests below (or about to fall below) their minimum unused */
    bool short_of_memory;   /* demand exceeded the budget, or the host is below its reserve */
};

/* A guest's measures, implemented in memguest.c. */

/* Returns the size a guest is entitled to now: its pending target, else its actual size. */
uint64_t mem_committed(const struct mem_guest *g);

/* Memory G uses (KiB): what it cannot give up at once, its size less its headroom (or 0). */
uint64_t mem_used_kib(const struct mem_guest *g);

/* G's growth in one period of CFG (KiB): its positive rate, sanitised, at most its maximum. */
double mem_growth_per_period(const struct mem_config *cfg, const struct mem_guest *g);

/* Room for G's USED memory, its minimum unused and PERIODS periods of growth GROW, up to its
 * maximum (KiB): what a starving guest is grown to. */
uint64_t mem_room_for(const struct mem_config *cfg, const struct mem_guest *g, uint64_t used,
                      double grow, int periods);

/* The most G's balloon may hold: its maximum, or its memory limit (cap_kib) when lower. */
uint64_t mem_limit_kib(const struct mem_guest *g);

/* Largest change of a target in one period, growing / shrinking, for a guest of MAX_KIB. */
uint64_t mem_grow_step(uint64_t max_kib);
uint64_t mem_shrink_step(uint64_t max_kib);

/* Decides targets for N guests. OUT->d is allocated here; free with mem_plan_free().
 * Returns 0, or -1 when out of memory. */
int mem_plan(const struct mem_config *cfg, const struct mem_host *host,
             const struct mem_guest *guests, size_t n, struct mem_plan *out);

/* Frees what mem_plan() allocated; accepts a zeroed plan. */
void mem_plan_free(struct mem_plan *plan);

/* A word for a reason, for logs and JSON. */
const char *mem_reason_name(enum mem_reason r);

#endif
