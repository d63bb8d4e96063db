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
    SNAP_VCPU_DELAY = 1u << 2    /* delay_ns is reported */
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
    SNAP_CFG_CPU_TIME = 1u << 6             /* cpu_time_ns is measured */
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
    uint32_t map_off[SNAP_MAP_COUNT]; /* use snap_domain_map() */
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
