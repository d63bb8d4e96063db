/* One period of the memory coordinator: sanitise guest statistics, decide targets, apply. */
#ifndef VMB_COORDINATOR_H
#define VMB_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "mempolicy.h"
#include "memsignals.h"
#include "snapshot.h"

/* What the coordinator samples: memory, and disk reads, which tell what a shrink costs a guest
 * (docs/EVIDENCE.md#reclaim-cost). */
#define COORD_SAMPLE (HV_SAMPLE_MEM | HV_SAMPLE_BLOCK)

/* Smoothing of consumption rates: weight of the newest measurement. */
#define COORD_ALPHA 0.5

/* Default host reserve: the larger of these. */
#define COORD_RESERVE_MIN_KIB (200ull * 1024)
#define COORD_RESERVE_PCT     5.0

/* A --shares rule: domains whose name matches GLOB weigh WEIGHT (first match wins). */
struct coord_share {
    const char *glob;
    double weight;
};

/* When idle memory returns to the host (--reclaim). */
enum coord_reclaim {
    COORD_RECLAIM_ALWAYS,    /* whatever the host has */
    COORD_RECLAIM_WHEN_SHORT /* only while host free memory is below twice the reserve */
};

/* With --reclaim when-short, idle memory is reclaimed below this many times the host reserve. */
#define COORD_RECLAIM_RESERVES 2

struct coord_config {
    uint64_t min_unused_kib;
    uint64_t floor_kib;
    uint64_t reserve_kib; /* fixed host reserve, when reserve_pct is 0 */
    double reserve_pct;   /* host reserve as a percentage of host memory (0: use reserve_kib) */
    bool reserve_default; /* no --host-reserve: max(200 MiB, 5 %) */
    double period_s;
    bool dry_run;
    const struct coord_share *shares;
    size_t nshares;
    enum coord_reclaim reclaim; /* --reclaim */
    bool observe_first;         /* the first sample only observes (--once acts once) */
};

/* Why a guest's statistics are not trusted. */
enum coord_distrust {
    COORD_TRUSTED = 0,
    COORD_NO_BALLOON, /* no balloon device: nothing to do */
    COORD_NO_STATS,   /* no guest statistics (yet) */
    COORD_STALE,      /* statistics stopped updating */
    COORD_IMPOSSIBLE  /* values no real guest reports */
};

/* Facts about a guest said once (bits of coord_guest.notes). */
enum {
    COORD_NOTE_NO_USABLE = 1u << 0,      /* judged on unused plus disk caches */
    COORD_NOTE_UNUSED_ONLY = 1u << 1,    /* judged on unused alone */
    COORD_NOTE_NO_AUTODEFLATE = 1u << 2, /* its balloon does not deflate on OOM */
    COORD_NOTE_NO_FPR = 1u << 3,         /* its balloon does not report free pages */
    COORD_NOTE_HUGEPAGES = 1u << 4,      /* backed by huge pages: left alone */
    COORD_NOTE_OVER_CAP = 1u << 5,       /* its maximum is above what its memory limit allows */
    COORD_NOTE_IGNORES = 1u << 6         /* its balloon ignores its targets: left alone */
};

/* One guest this period: its statistics judged, what the policy saw of it, what it decided. Its
 * sizes and raw statistics are those of its domain in the snapshot. */
struct coord_guest {
    size_t domain;                /* index in the current snapshot */
    const struct mem_guest *view; /* the policy's view: sizes, headroom, rate, pressure, hold */
    enum coord_distrust distrust;
    bool announce;                    /* its distrust reason (or recovery) is new: said once */
    bool enable_stats;                /* its balloon statistics are turned on this period */
    bool fresh;                       /* its statistics are new (not a repeat of the last report) */
    enum memsig_source headroom_from; /* where view->headroom_kib was read (trusted statistics) */
    bool rates_ok;                    /* fault_rate and swap_in_rate are measured */
    double fault_rate, swap_in_rate;  /* major faults and swap-in KiB per second */
    bool reads_ok;                    /* read_rate is measured (the host's disk statistics) */
    double read_rate, read_base;      /* its disk reads, KiB per second, now and usually */
    double hold_for_s;                /* how much longer its floor is held whole (0: none) */
    bool squeezed;                /* its pressure rose after a shrink: grown back (this period) */
    uint64_t deflated_from_kib;   /* its balloon deflated itself (view->deflated) from this size */
    uint64_t limit_kib;           /* its declared memory limit (<memtune>), 0: none */
    uint64_t ignored_kib;         /* the target its balloon ignores (view->ignores) */
    unsigned notes;               /* COORD_NOTE_* said this period */
    struct mem_decision decision; /* this period's target (else its committed size: the
                                     baseline) and reason; change: a new target to set */
    int result;                   /* HV_* of setting it (HV_OK in a dry run) */
};

/* What happened in one period; valid until the next coord_period() or coord_destroy(). */
struct coord_report {
    unsigned long period_no; /* 1 for the first sample */
    bool baseline;           /* first sample: observed only, nothing decided */
    bool host_known;
    uint64_t host_free_kib, host_total_kib, reserve_kib;
    size_t nguests;
    const struct coord_guest *guests;
    size_t starving, changes, failed;
    size_t capped; /* guests short of headroom at their memory limit (<memtune>) */
    uint64_t granted_kib, reclaimed_kib;
    uint64_t budget_kib; /* memory that could be given this period */
    bool short_of_memory;
    unsigned long calls;
};

struct coord;

/* Returns a new coordinator (CFG is copied; shares must outlive it), or NULL. */
struct coord *coord_create(const struct coord_config *cfg);

/* Frees C; accepts NULL. */
void coord_destroy(struct coord *c);

/* Runs one period on CUR (PREV: previous sample or NULL) and acts through HV. CALLS0 is
 * hv_calls() before CUR was sampled. Returns 0, or -1 when out of memory. */
int coord_period(struct coord *c, struct hv *hv, const struct snap *prev, const struct snap *cur,
                 unsigned long calls0, struct coord_report *rep);

/* A word for a distrust reason. */
const char *coord_distrust_name(enum coord_distrust d);

/* The host reserve CFG gives for a host of TOTAL_KIB. */
uint64_t coord_reserve_kib(const struct coord_config *cfg, uint64_t total_kib);

/* The policy's configuration for CFG with a host reserve of RESERVE_KIB. */
struct mem_config coord_policy_config(const struct coord_config *cfg, uint64_t reserve_kib);

#endif
