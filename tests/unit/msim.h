/* A closed loop of the memory coordinator on the fake host, for the coordinator's tests: a host
 * and its guests built per scenario, the coordinator run period by period, and what scenarios
 * assert recorded per guest as it runs (starving as tests/measure.h defines it). */
#ifndef VMB_MSIM_H
#define VMB_MSIM_H

#include <stdbool.h>
#include <stdint.h>

#include "coordinator.h"
#include "fake_hv.h"
#include "measure.h"
#include "runner.h"

#define MIB  FAKE_MIB
#define MAXD 16 /* guests whose figures are recorded */

/* Ways a guest lies about its statistics. */
enum hostile {
    HONEST,
    UNUSED_ABOVE_ACTUAL,
    AVAILABLE_ABOVE_MAX,
    ALL_ZERO,
    ALL_MAX,
    FLIPPING,
    STALE,
    GARBAGE,
    USABLE_ABOVE_AVAILABLE,
    NO_STATS,
    NHOSTILE
};

/* A scenario's host and the coordinator's options (min-unused 100 MiB, floor 200 MiB). */
struct msim_host {
    uint64_t ram_mib;
    uint64_t other_mib;   /* what the host itself uses (and any huge page pool) */
    uint64_t reserve_mib; /* --host-reserve (0: the default) */
    double period_s;      /* PERIOD (0: 1 s) */
    bool dry_run;
    const struct coord_share *shares; /* --shares (must outlive the run) */
    size_t nshares;
    enum coord_reclaim reclaim; /* --reclaim (default always) */
    bool observe_first;         /* the first sample only observes (--once) */
};

struct msim {
    struct fake_host *f;
    struct coord *c;
    struct runner *r;
    struct coord_config cfg;
    int period, ndoms;
    uint64_t reserve;
    enum hostile mode[MAXD];
    uint64_t rng; /* the garbage liars' numbers */
    /* figures */
    unsigned starving[MAXD]; /* periods starving while memory was available (measure.h) */
    struct measure_guest mg[MAXD];
    unsigned changes[MAXD]; /* targets set */
    uint64_t lowest_free;   /* lowest host free memory seen (truth) */
    uint64_t start_actual[MAXD];
    unsigned ooms[MAXD];
    bool stats_from_start[MAXD];
    unsigned oom_while_available; /* OOM kills while the host had memory to give */
    uint64_t prev_free;
    uint64_t peak_actual[MAXD];
    uint64_t low_actual[MAXD];   /* lowest balloon size (after the baseline) */
    uint64_t low_headroom[MAXD]; /* lowest MemAvailable (after the baseline) */
    unsigned shrinks[MAXD];      /* shrinking targets set */
    int last_change[MAXD];       /* period of the last target set */
    unsigned stale_changes;      /* targets set on a repeated sample */
    int squeezed_at[MAXD];       /* period of the first squeeze answered (0: none) */
    int deflated_at[MAXD];       /* period of the first deflation seen (0: none) */
    uint64_t deflated_kib[MAXD]; /* its size then */
    unsigned shrinks_held[MAXD]; /* shrinks below it within the hold-down */
    uint64_t low_node_room;      /* lowest free memory of node 1 above its part of the reserve */
    struct coord_report last_rep;
    bool huge[MAXD];              /* backed by huge pages: the host's pool backs it all */
    uint64_t prev_headroom[MAXD]; /* MemAvailable at the previous sample */
    unsigned starving_late[MAXD]; /* starving while available, not at the onset (METRICS.md) */
    bool track_node1;             /* record node 1's lowest free memory */
    unsigned misfits[MAXD];       /* samples reporting more unused memory than the balloon */
    unsigned impossible[MAXD];    /* periods its statistics were judged impossible */
    /* invariant violations */
    unsigned bad_floor, bad_max, bad_step, bad_squeeze, bad_reserve, bad_hostile_growth;
};

/* A guest's own use of memory: the idle kernel's 64 MiB. */
extern const struct fake_mem_load msim_idle;

/* A workload that, after DELAY_S idle, grows RATE_MIB_S up to CAP_MIB beyond the idle kernel's
 * 64 MiB and holds it. */
struct fake_mem_load msim_growth(double rate_mib_s, uint64_t cap_mib, double delay_s);

/* Starts S: host H, no guest yet. Free with msim_free(). */
void msim_start(struct msim *s, const struct msim_host *h);
void msim_free(struct msim *s);

/* Adds a guest of MAX_MIB at CUR_MIB running LOAD (NULL: none), its balloon statistics on; the
 * id of its domain. */
int msim_guest(struct msim *s, uint64_t max_mib, uint64_t cur_mib,
               const struct fake_mem_load *load);

/* The same guest with its statistics off (the coordinator turns them on). */
int msim_guest_without_stats(struct msim *s, uint64_t max_mib, uint64_t cur_mib,
                             const struct fake_mem_load *load);

/* Runs periods until period N (the first one is the baseline). */
void msim_run(struct msim *s, int n);

/* Every run promises: no target below the floor or above the maximum, no step too large, no
 * honest guest squeezed below its use, the reserve held, no lie earning memory. */
void msim_assert_invariants(const struct msim *s);

/* ... and closed-loop scenarios: no honest guest OOM-killed while memory was free. */
void msim_assert_fed(const struct msim *s);

#endif
