/* The memory of one simulated guest (private to the fake host): its balloon, its workload's
 * anonymous memory, its page cache, swap, and what its kernel reports, as the lab measured real
 * guests (docs in fake_mem.c). */
#ifndef VMB_FAKE_MEM_H
#define VMB_FAKE_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "fake_hv.h"
#include "snapshot.h"

enum fmem_phase { FMEM_DELAY, FMEM_GROW, FMEM_HOLD, FMEM_IDLE };

struct fmem {
    uint64_t max_kib, actual_kib, target_kib;
    uint64_t shown_kib;   /* the balloon size the host reports: actual at its last change event */
    double shown_t;       /* when that event was sent */
    uint64_t used_kib;    /* the workload's anonymous memory, swapped part included */
    uint64_t swapped_kib; /* ... of which in swap */
    uint64_t swap_kib;    /* the guest's swap space */
    uint64_t cache_kib;   /* page cache */
    uint64_t touched_kib; /* guest memory the host backs (resident) */
    struct fake_mem_load ml;
    enum fmem_phase phase;
    double phase_t;
    struct fake_cache_load cl;
    double cache_t; /* seconds since the cache load was set */
    bool autodeflate, free_page_reporting, hugepages;
    bool deflated; /* deflated itself on OOM: it does not inflate again until a new target */
    bool stuck;    /* ignores its targets */
    double major_fault, minor_fault, swap_in_kib, swap_out_kib; /* cumulative */
    double read_kib, disk_read_kib; /* its reader's reads, and those that went to the disk */
    unsigned oom, deflations;
    bool short_mem; /* its workload was short of memory in the last step */
    /* Statistics: reported at update times only, as a real balloon driver does. */
    bool stats_on;
    double stats_period, next_stats;
    double stats_every; /* reports at most this often, whatever is asked (0: as asked) */
    enum fake_stats_kind kind;
    bool have_stats;
    struct snap_mem stats; /* the guest's figures at its last update */
};

/* Sets the maximum and the current balloon size. */
void fmem_set_size(struct fmem *m, uint64_t max_kib, uint64_t current_kib);

/* Sets a new balloon target (the guest inflates again after a deflation). */
void fmem_set_target(struct fmem *m, uint64_t kib);

/* Sets the workload's anonymous memory script. */
void fmem_set_load(struct fmem *m, const struct fake_mem_load *load);

/* Turns statistics on at time NOW, every PERIOD_S seconds; FIRST_NOW: one report at once. */
void fmem_enable_stats(struct fmem *m, double now, double period_s, bool first_now);

/* Moves the next report to NOW + PHASE_S (then every period from there). */
void fmem_set_stats_phase(struct fmem *m, double now, double phase_s);

/* Simulates DT seconds ending at time T with a balloon that inflates (takes memory from the
 * guest) at INFLATE_KIB_S and deflates at DEFLATE_KIB_S. */
void fmem_step(struct fmem *m, double t, double dt, double inflate_kib_s, double deflate_kib_s);

/* Seconds between two balloon change events (QEMU throttles BALLOON_CHANGE to one a second;
 * libvirt's balloon.current is the last one's size). */
#define FMEM_EVENT_S 1.0

/* The guest's MemAvailable now: free memory plus page cache it can drop, less its kernel's
 * reserve (what headroom means in docs/METRICS.md). */
uint64_t fmem_usable(const struct fmem *m);

/* Memory the guest cannot give up without swapping: its anonymous memory in RAM. */
uint64_t fmem_anon_ram(const struct fmem *m);

#endif
