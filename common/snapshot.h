/* One sample of the host: pCPU counters, host memory, and every managed domain's vCPUs and memory.
 */
#ifndef VMB_SNAPSHOT_H
#define VMB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_UUID_LEN    16
#define SNAP_UUID_STRLEN 37 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

/* Flags of a vCPU sample. */
enum {
    SNAP_VCPU_WAIT = 1u << 0,    /* wait_ns is reported (it may be stuck at 0: see usage.h) */
    SNAP_VCPU_OFFLINE = 1u << 1, /* vCPU exists but is offline (not running) */
    SNAP_VCPU_DELAY = 1u << 2,   /* delay_ns is reported */
    /* Its domain's persistent definition pins it (<cputune><vcpupin> in the inactive XML): the
     * administrator's pin, to the pCPUs of snap_vcpu_defined_pin(); live pins do not count. */
    SNAP_VCPU_DEFINED_PIN = 1u << 3
};

/* One vCPU: cumulative counters and its affinity. */
struct snap_vcpu {
    uint64_t time_ns;  /* cumulative run time */
    uint64_t wait_ns;  /* cumulative time runnable but waiting for a pCPU (schedstats wait_sum) */
    uint64_t delay_ns; /* cumulative run-queue delay (sched_info run_delay: the guest's steal) */
    int32_t pin;       /* the one pCPU its affinity allows, or -1 when several */
    uint32_t flags;    /* SNAP_VCPU_* */
};

/* Which memory figures a domain sample holds (guest-reported ones are untrusted). */
enum {
    SNAP_MEM_BALLOON = 1u << 0,     /* actual_kib and max_kib */
    SNAP_MEM_UNUSED = 1u << 1,      /* unused_kib */
    SNAP_MEM_AVAILABLE = 1u << 2,   /* available_kib */
    SNAP_MEM_USABLE = 1u << 3,      /* usable_kib */
    SNAP_MEM_RSS = 1u << 4,         /* rss_kib (host side) */
    SNAP_MEM_UPDATE = 1u << 5,      /* last_update */
    SNAP_MEM_DISK_CACHES = 1u << 6, /* disk_caches_kib */
    SNAP_MEM_MAJOR_FAULT = 1u << 7, /* major_fault */
    SNAP_MEM_MINOR_FAULT = 1u << 8, /* minor_fault */
    SNAP_MEM_SWAP_IN = 1u << 9,     /* swap_in_kib */
    SNAP_MEM_SWAP_OUT = 1u << 10,   /* swap_out_kib */
    SNAP_MEM_HUGETLB = 1u << 11     /* hugetlb_pgalloc and hugetlb_pgfail */
};

/* Memory of one domain, in KiB. */
struct snap_mem {
    uint64_t actual_kib;      /* balloon current size */
    uint64_t max_kib;         /* balloon maximum (the domain's <memory>) */
    uint64_t unused_kib;      /* guest: memory left completely unused */
    uint64_t available_kib;   /* guest: total memory it sees */
    uint64_t usable_kib;      /* guest: memory available without swapping */
    uint64_t rss_kib;         /* host: resident size of the guest process */
    uint64_t last_update;     /* guest: timestamp of its last statistics update (its clock, s) */
    uint64_t disk_caches_kib; /* guest: page cache it can drop at once (includes buffers) */
    uint64_t major_fault;     /* guest: cumulative page faults that waited for I/O */
    uint64_t minor_fault;     /* guest: cumulative other page faults */
    uint64_t swap_in_kib;     /* guest: cumulative data read from swap */
    uint64_t swap_out_kib;    /* guest: cumulative data written to swap */
    uint64_t hugetlb_pgalloc; /* guest: cumulative huge page allocations inside the guest */
    uint64_t hugetlb_pgfail;  /* guest: ... that failed */
    uint32_t flags;           /* SNAP_MEM_* */
};

enum snap_state { SNAP_RUNNING = 0, SNAP_PAUSED = 1, SNAP_OTHER = 2 };

/* What a domain's configuration says (its XML, read when first seen and now and then). */
enum {
    SNAP_CFG_KNOWN = 1u << 0,               /* the configuration was read */
    SNAP_CFG_CPUSET = 1u << 1,              /* its vCPUs may only run on its allowed map */
    SNAP_CFG_NUMA_STRICT = 1u << 2,         /* <numatune><memory mode='strict'>: numa_nodes */
    SNAP_CFG_AUTODEFLATE = 1u << 3,         /* <memballoon autodeflate='on'> */
    SNAP_CFG_FREE_PAGE_REPORTING = 1u << 4, /* <memballoon freePageReporting='on'> */
    SNAP_CFG_HUGEPAGES = 1u << 5,           /* <memoryBacking><hugepages/> */
    SNAP_CFG_CPU_TIME = 1u << 6,            /* cpu_time_ns is measured */
    SNAP_CFG_BLOCK_READ = 1u << 7           /* rd_bytes is measured (HV_SAMPLE_BLOCK) */
};

/* Which figures a domain's struct snap_tune holds. */
enum {
    SNAP_TUNE_HARD_LIMIT = 1u << 0,      /* hard_limit_kib: <memtune><hard_limit> */
    SNAP_TUNE_SOFT_LIMIT = 1u << 1,      /* soft_limit_kib: <memtune><soft_limit> */
    SNAP_TUNE_SWAP_HARD_LIMIT = 1u << 2, /* swap_hard_limit_kib: <memtune><swap_hard_limit> */
    SNAP_TUNE_SHARES = 1u << 3,          /* shares is declared: <cputune><shares> */
    SNAP_TUNE_QUOTA = 1u << 4            /* vcpu_quota_us: <cputune><quota> (and <period>) */
};

/* The CPU weight of a domain whose weight is unknown (cgroup v1's default, libvirt's example). */
#define SNAP_DEFAULT_SHARES 1024

/* What a domain's live definition declares about its CPU and memory (<cputune>, <memtune>), as
 * libvirt applies it to the domain's cgroups. Memory limits cover the whole QEMU process. */
struct snap_tune {
    uint64_t hard_limit_kib;      /* its memory cgroup's limit: past it the kernel kills the VM */
    uint64_t soft_limit_kib;      /* reclaimed down to this first when the host is short */
    uint64_t swap_hard_limit_kib; /* limit of its memory plus swap */
    uint64_t vcpu_quota_us;       /* run time each vCPU may have per vcpu_period_us */
    uint64_t vcpu_period_us; /* the quota's period (libvirt's and the kernel's default 100 ms) */
    uint32_t shares;         /* CPU weight against other guests: declared, else the host's
                              * default for guests (0: unknown) */
    uint32_t flags;          /* SNAP_TUNE_* */
};

/* The pCPU maps a domain may carry. */
enum snap_map {
    SNAP_MAP_ALLOWED,  /* pCPUs its vCPUs may run on: <vcpu cpuset>, cut by a strict numatune */
    SNAP_MAP_EMULATOR, /* pCPUs its emulator threads may run on now */
    SNAP_MAP_COUNT
};

/* One domain; its vCPUs are snap_vcpus(s, d)[0 .. nvcpus-1]. */
struct snap_domain {
    unsigned char uuid[SNAP_UUID_LEN];
    uint32_t name_off; /* use snap_domain_name() */
    uint32_t vcpu_first;
    uint32_t nvcpus;
    enum snap_state state;
    struct snap_mem mem;
    uint32_t cfg;                     /* SNAP_CFG_* */
    uint64_t numa_nodes;              /* NUMA nodes its memory is bound to (bit n: node n) */
    uint64_t cpu_time_ns;             /* cumulative time of all its threads (vCPUs, emulator) */
    uint64_t rd_bytes;                /* cumulative bytes read from all its disks */
    uint32_t map_off[SNAP_MAP_COUNT]; /* use snap_domain_map() */
    uint32_t pins_off;                /* use snap_vcpu_defined_pin() */
    uint32_t tune_idx;                /* use snap_domain_tune() */
};

/* Opaque container; create with snap_create(), free with snap_destroy(). */
struct snap;

/* Returns a new empty snapshot, or NULL when out of memory. */
struct snap *snap_create(void);

/* Frees S and everything it holds; accepts NULL. */
void snap_destroy(struct snap *s);

/* Empties S for a new sample taken at TIME_NS on a host of NPCPUS pCPUs; keeps its buffers. */
int snap_reset(struct snap *s, uint64_t time_ns, int npcpus);

/* Records pCPU CPU's cumulative busy time. */
void snap_set_pcpu_busy(struct snap *s, int cpu, uint64_t busy_ns);

/* Records pCPU CPU's place in the host: online or not, its NUMA node, its physical core (pCPUs
 * of one core are SMT siblings). Before this call every pCPU is online, node 0, its own core. */
void snap_set_pcpu_topology(struct snap *s, int cpu, bool online, int node, int core);

/* Marks the per-pCPU counters as unavailable in this sample. */
void snap_clear_pcpu(struct snap *s);

/* Records host memory: total and free (available) in KiB. */
void snap_set_host_memory(struct snap *s, uint64_t total_kib, uint64_t free_kib);

/* NUMA nodes whose free memory a snapshot can hold (ids 0 .. SNAP_MAX_NODES - 1, as the bits of
 * snap_domain.numa_nodes). */
#define SNAP_MAX_NODES 64

/* Records the free memory of NUMA node NODE in KiB (ignored for ids beyond SNAP_MAX_NODES). */
void snap_set_node_free(struct snap *s, int node, uint64_t free_kib);

/* Appends a domain with NVCPUS zeroed vCPUs (pin -1); returns it, or NULL when out of memory.
 * The pointer (and the vCPU array) stay valid only until the next snap_add_domain(). */
struct snap_domain *snap_add_domain(struct snap *s, const unsigned char *uuid, const char *name,
                                    uint32_t nvcpus);

/* Stores MAP (hv_maplen(npcpus) bytes) as D's map WHICH; D must be the last domain added.
 * Returns 0, or -1 when out of memory. */
int snap_set_domain_map(struct snap *s, struct snap_domain *d, enum snap_map which,
                        const unsigned char *map);

/* Returns D's map WHICH (hv_maplen(npcpus) bytes), or NULL when it has none (all pCPUs). */
const unsigned char *snap_domain_map(const struct snap *s, const struct snap_domain *d,
                                     enum snap_map which);

/* Stores MAPS (N maps of hv_maplen(npcpus) bytes: vCPUs 0 .. N-1 of D; D's vCPUs beyond them
 * get empty maps) as the pins D's persistent definition gives its vCPUs (those with
 * SNAP_VCPU_DEFINED_PIN). Returns 0, or -1 when out of memory. */
int snap_set_defined_pins(struct snap *s, struct snap_domain *d, const unsigned char *maps,
                          uint32_t n);

/* Returns the map vCPU K of D is pinned to in its persistent definition, or NULL when D has no
 * defined pins (check SNAP_VCPU_DEFINED_PIN: a vCPU without one has an empty map). */
const unsigned char *snap_vcpu_defined_pin(const struct snap *s, const struct snap_domain *d,
                                           uint32_t k);

/* Records T as what D's definition declares (<cputune>, <memtune>). Returns 0, or -1 when out
 * of memory. */
int snap_set_domain_tune(struct snap *s, struct snap_domain *d, const struct snap_tune *t);

/* Returns what D's definition declares, or NULL when nothing was recorded. */
const struct snap_tune *snap_domain_tune(const struct snap *s, const struct snap_domain *d);

/* Drops the most recently added domain (a sample that failed half way). */
void snap_drop_last(struct snap *s);

/* Sorts domains by UUID and drops duplicates; call once all domains are added. */
void snap_finalize(struct snap *s);

uint64_t snap_time_ns(const struct snap *s);
int snap_npcpus(const struct snap *s);
bool snap_has_pcpu(const struct snap *s);
bool snap_pcpu_online(const struct snap *s, int cpu);
int snap_pcpu_node(const struct snap *s, int cpu);
int snap_pcpu_core(const struct snap *s, int cpu);
/* Bytes of a pCPU map of S (one bit per pCPU). */
size_t snap_maplen(const struct snap *s);
uint64_t snap_pcpu_busy(const struct snap *s, int cpu);
bool snap_has_host_memory(const struct snap *s);
uint64_t snap_host_total_kib(const struct snap *s);
uint64_t snap_host_free_kib(const struct snap *s);
/* The free memory of NUMA node NODE into *FREE_KIB; false when this sample has none for it. */
bool snap_node_free_kib(const struct snap *s, int node, uint64_t *free_kib);

size_t snap_domain_count(const struct snap *s);
size_t snap_vcpu_count(const struct snap *s);
const struct snap_domain *snap_domain(const struct snap *s, size_t i);
struct snap_domain *snap_domain_mut(struct snap *s, size_t i);
const char *snap_domain_name(const struct snap *s, const struct snap_domain *d);

/* Returns the vCPUs of D (a domain of S). */
const struct snap_vcpu *snap_vcpus(const struct snap *s, const struct snap_domain *d);
struct snap_vcpu *snap_vcpus_mut(struct snap *s, const struct snap_domain *d);

/* Returns all vCPUs of S, in domain order (index = vcpu_first + n). */
const struct snap_vcpu *snap_all_vcpus(const struct snap *s);

/* Returns the index of the domain with UUID in a finalized S, or -1. */
long snap_find(const struct snap *s, const unsigned char *uuid);

/* Matches the domains of CUR to those of PREV (both finalized; PREV may be NULL): DOM_PREV[i]
 * (snap_domain_count(CUR) entries) is the index in PREV of CUR's domain i, or -1. */
void snap_match(const struct snap *prev, const struct snap *cur, long *dom_prev);

/* Formats UUID as text into BUF (SNAP_UUID_STRLEN bytes). */
void snap_uuid_format(const unsigned char *uuid, char *buf);

/* Compares two UUIDs like memcmp. */
int snap_uuid_cmp(const unsigned char *a, const unsigned char *b);

#endif
