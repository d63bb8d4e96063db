/* What one guest's statistics say beyond its sizes (pure): its headroom and where it comes
 * from, whether the sample is new (the guest's own clock), its major fault and swap-in rates
 * against their usual level (pressure), and the floors held after a squeeze. */
#ifndef VMB_MEMSIGNALS_H
#define VMB_MEMSIGNALS_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot.h"

/* A rise of pressure within max(MEMSIG_SQUEEZE_PERIODS periods, MEMSIG_SQUEEZE_MIN_S) of a shrink
 * is a squeeze: the statistics and the balloon take a few seconds to show a shrink's effect. */
#define MEMSIG_SQUEEZE_PERIODS 5
#define MEMSIG_SQUEEZE_MIN_S   10.0

/* After a squeeze (or a balloon that deflated itself) the size it is grown back to is held as
 * its floor for max(MEMSIG_HOLD_PERIODS periods, MEMSIG_HOLD_MIN_S), twice as long at each
 * further squeeze (up to MEMSIG_HOLD_MAX_TIMES), then decays by MEMSIG_HOLD_DECAY_KIB_S: a
 * guest whose shrink cost it work is left its memory, and reclaimed later, slowly, once it no
 * longer needs it (docs/EVIDENCE.md#reclaim-cost). */
#define MEMSIG_HOLD_PERIODS     30
#define MEMSIG_HOLD_MIN_S       60.0
#define MEMSIG_HOLD_MAX_TIMES   16
#define MEMSIG_HOLD_DECAY_KIB_S 1024.0

/* Read pressure: the guest's disk reads (host-side, KiB per second) at least this many and
 * twice its usual rate: its page cache no longer holds what it reads again. */
#define MEMSIG_READ_MIN_KIB_S (16.0 * 1024)

/* Pressure: major faults per second at least this many and twice the guest's usual rate, or
 * swap-ins (KiB per second) at least this many and twice its usual rate. */
#define MEMSIG_FAULTS_MIN    0.2
#define MEMSIG_SWAP_IN_MIN   256.0
#define MEMSIG_BASE_ALPHA    0.1 /* weight of a new rate in the usual level */
#define MEMSIG_RATE_ABSURD   1e7 /* faults or KiB per second no guest reaches: garbage */
#define MEMSIG_SHRINK_MEMORY 8   /* recent shrinks remembered */

/* The balloon is still when the size the host reports has not changed for this long (the
 * host learns of a moving balloon once a second: docs/EVIDENCE.md#balloon-time), and a change
 * of less than MEMSIG_STILL_KIB is no move. A balloon that has not reached the target we set
 * is moving, unless it stopped short of it (stuck) for the coordinator's stuck time. */
#define MEMSIG_STILL_S       1.5
#define MEMSIG_STILL_KIB     1024
#define MEMSIG_AT_TARGET_KIB (2ull * 1024)

/* Where a guest's headroom comes from. */
enum memsig_source {
    MEMSIG_USABLE,        /* usable (MemAvailable): free plus reclaimable cache */
    MEMSIG_UNUSED_CACHES, /* no usable: unused plus disk caches */
    MEMSIG_UNUSED         /* neither: unused (MemFree) alone */
};

/* One guest's signals, carried from period to period (zero it for a new guest). */
struct memsig {
    /* The guest's statistics clock. */
    uint64_t last_update;
    double update_changed_t; /* host time it last advanced */
    double sample_t;         /* host time of the last fresh sample */
    double misfit_t;         /* host time its figures stopped fitting its balloon (if misfit) */
    /* Fault and swap-in counters of the last fresh sample. */
    uint64_t major_fault, swap_in_kib;
    double fault_rate, swap_in_rate; /* per second, newest */
    double fault_base, swap_in_base; /* usual level */
    /* Shrinks and held floors. */
    double shrink_t[MEMSIG_SHRINK_MEMORY];
    uint64_t shrink_from[MEMSIG_SHRINK_MEMORY];
    uint64_t hold_kib;  /* floor held now, 0: none */
    uint64_t hold_from; /* ... as it was when set (it decays after hold_until) */
    double hold_until;
    /* Disk reads (host side: no lag). */
    uint64_t rd_bytes; /* counter at the last sample (when rd_ok) */
    double rd_t;       /* ... its host time */
    double read_rate;  /* KiB per second, newest */
    double read_base;  /* usual level */
    bool rd_ok, read_base_ok;
    bool read_pressure; /* reads above their usual level */
    unsigned nshrinks;  /* total recorded; the ring holds the last MEMSIG_SHRINK_MEMORY */
    unsigned squeezes;
    bool have_update; /* last_update was seen */
    bool clock_moves; /* ... and has advanced at least once (else the sample time is used) */
    bool misfit;      /* its figures do not fit its balloon size (memsig_headroom false) */
    /* The balloon as the host reports it. */
    uint64_t shown_kib;        /* its size at the last sample */
    uint64_t shown_before_kib; /* ... at the sample before */
    double shown_t;            /* host time that size was first seen */
    double seen_t;             /* host time of the last sample */
    bool shown_ok;             /* shown_kib and seen_t hold a sample */
    bool counters_ok;
    bool rates_ok;
    bool base_ok;
    bool pressure;
};

/* The headroom of memory sample M (trusted statistics) into *KIB, never above its balloon size
 * (0 when its disk caches alone are), and where it comes from. Returns false when the figures do
 * not fit the balloon size (headroom or free memory above it: the balloon moved since the guest's
 * last report), so that the sample decides nothing. */
bool memsig_headroom(const struct snap_mem *m, uint64_t *kib, enum memsig_source *src);

/* Takes the statistics clock of M at host time NOW. Returns true when the sample is new: its
 * last_update advanced (or, for a guest whose clock never moved, always); *DT is then the
 * seconds since the previous new sample on the guest's clock (0 for the first). */
bool memsig_clock(struct memsig *s, const struct snap_mem *m, double now, double *dt);

/* Seconds since the statistics clock last advanced at host time NOW (0 when never seen). */
double memsig_stale_s(const struct memsig *s, double now);

/* Seconds at host time NOW that the guest's figures have not fitted its balloon size (FITS:
 * memsig_headroom of this sample; a report older than the balloon's last move, or a liar), 0 when
 * they fit. */
double memsig_misfit_s(struct memsig *s, bool fits, double now);

/* The balloon move in sample M (taken at host time NOW) of a guest whose last target was
 * TARGET_KIB (0: none), set at TARGET_T: tracks the size the host reports, and returns whether
 * the sample is settled: the balloon has been still since before the previous sample (at the
 * target, unchanged for MEMSIG_STILL_S, or stopped short of the target for STUCK_S) and the
 * report is new (FRESH), so made after it stopped. Only settled samples measure what the guest
 * uses: in others the host's balloon size and the guest's report describe different moments. */
bool memsig_settled(struct memsig *s, const struct snap_mem *m, uint64_t target_kib,
                    double target_t, bool fresh, double now, double stuck_s);

/* The least the balloon can have held when the guest made the report of the last sample: the
 * size the host reported at the sample before when the balloon was still or growing (the
 * reported size lags below a growing balloon), the target TARGET_KIB we set when it was
 * shrinking toward it (0: none), or 0 when that is not known (a shrink nobody here asked for). */
uint64_t memsig_balloon_low(const struct memsig *s, uint64_t target_kib);

/* Updates the fault and swap-in rates from a new sample M, DT seconds after the previous one,
 * and judges pressure; the usual level learns only from calm samples outside a squeeze window
 * (WINDOW_S after a shrink). */
void memsig_rates(struct memsig *s, const struct snap_mem *m, double dt, double now,
                  double window_s);

/* Forgets the rates (statistics untrusted, or counters reset by a reboot). */
void memsig_reset_rates(struct memsig *s);

/* Records that the guest was shrunk at NOW from FROM_KIB. */
void memsig_note_shrink(struct memsig *s, double now, uint64_t from_kib);

/* Updates the disk read rate from the host's cumulative read counter BYTES at host time NOW
 * (KNOWN false: not measured, which forgets it) and judges read pressure; the usual level learns
 * only from calm samples outside a squeeze window (WINDOW_S after a shrink). COLD: the guest's
 * new report shows free memory its cache has not taken: its reads are first reads, never
 * pressure, and within the window their rate is at least its usual level. */
void memsig_reads(struct memsig *s, bool known, uint64_t bytes, double now, double window_s,
                  bool cold);

/* At NOW: when pressure (faults, swap-ins or reads) rose within WINDOW_S of a shrink, holds the
 * size before the oldest of those shrinks for HOLD_S times the squeezes so far (doubling) and
 * returns true (a squeeze). An expired hold decays. */
bool memsig_squeeze(struct memsig *s, double now, double window_s, double hold_s);

/* Holds KIB as the floor from NOW for HOLD_S (a balloon that deflated itself). */
void memsig_hold(struct memsig *s, double now, uint64_t kib, double hold_s);

/* A word for a headroom source. */
const char *memsig_source_name(enum memsig_source src);

#endif
