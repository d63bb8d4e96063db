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
    SNAP_MEM_BALLOON = 1u << 0,   /* actual_kib and max_kib */
    SNAP_MEM_UNUSED = 1u << 1,    /* unused_kib */
    SNAP_MEM_AVAILABLE = 1u << 2, /* available_kib */
    SNAP_MEM_USABLE = 1u << 3,    /* usable_kib */
    SNAP_MEM_RSS = 1u << 4,       /* rss_kib (host side) */
    SNAP_MEM_UPDATE = 1u << 5     /* last_update */
};

/* Memory of one domain, in KiB. */
struct snap_mem {
    uint64_t actual_kib;    /* balloon current size */
    uint64_t max_kib;       /* balloon maximum (the domain's <memory>) */
    uint64_t unused_kib;    /* guest: memory left completely unused */
    uint64_t available_kib; /* guest: total memory it sees */
    uint64_t usable_kib;    /* guest: memory available without swapping */
    uint64_t rss_kib;       /* host: resident size of the guest process */
    uint64_t last_update;   /* guest: timestamp of its last statistics update */
    uint32_t flags;         /* SNAP_MEM_* */
};

enum snap_state { SNAP_RUNNING = 0, SNAP_PAUSED = 1, SNAP_OTHER = 2 };

/* One domain; its vCPUs are snapshot_vcpus(s, d)[0 .. nvcpus-1]. */
struct snap_domain {
    unsigned char uuid[SNAP_UUID_LEN];
    uint32_t name_off; /* use snapshot_domain_name() */
    uint32_t vcpu_first;
    uint32_t nvcpus;
    enum snap_state state;
    struct snap_mem mem;
};

/* Opaque container; create with snapshot_create(), free with snapshot_destroy(). */
struct snapshot;

/* Returns a new empty snapshot, or NULL when out of memory. */
struct snapshot *snapshot_create(void);

/* Frees S and everything it holds; accepts NULL. */
void snapshot_destroy(struct snapshot *s);

/* Empties S for a new sample taken at TIME_NS on a host of NPCPUS pCPUs; keeps its buffers. */
int snapshot_reset(struct snapshot *s, uint64_t time_ns, int npcpus);

/* Records pCPU CPU's cumulative busy time. */
void snapshot_set_pcpu_busy(struct snapshot *s, int cpu, uint64_t busy_ns);

/* Marks the per-pCPU counters as unavailable in this sample. */
void snapshot_clear_pcpu(struct snapshot *s);

/* Records host memory: total and free (available) in KiB. */
void snapshot_set_host_memory(struct snapshot *s, uint64_t total_kib, uint64_t free_kib);

/* Appends a domain with NVCPUS zeroed vCPUs (pin -1); returns it, or NULL when out of memory.
 * The pointer (and the vCPU array) stay valid only until the next snapshot_add_domain(). */
struct snap_domain *snapshot_add_domain(struct snapshot *s, const unsigned char *uuid,
                                        const char *name, uint32_t nvcpus);

/* Drops the most recently added domain (a sample that failed half way). */
void snapshot_drop_last(struct snapshot *s);

/* Sorts domains by UUID and drops duplicates; call once all domains are added. */
void snapshot_finalize(struct snapshot *s);

uint64_t snapshot_time_ns(const struct snapshot *s);
int snapshot_npcpus(const struct snapshot *s);
bool snapshot_has_pcpu(const struct snapshot *s);
uint64_t snapshot_pcpu_busy(const struct snapshot *s, int cpu);
bool snapshot_has_host_memory(const struct snapshot *s);
uint64_t snapshot_host_total_kib(const struct snapshot *s);
uint64_t snapshot_host_free_kib(const struct snapshot *s);

size_t snapshot_domain_count(const struct snapshot *s);
size_t snapshot_vcpu_count(const struct snapshot *s);
const struct snap_domain *snapshot_domain(const struct snapshot *s, size_t i);
struct snap_domain *snapshot_domain_mut(struct snapshot *s, size_t i);
const char *snapshot_domain_name(const struct snapshot *s, const struct snap_domain *d);

/* Returns the vCPUs of D (a domain of S). */
const struct snap_vcpu *snapshot_vcpus(const struct snapshot *s, const struct snap_domain *d);
struct snap_vcpu *snapshot_vcpus_mut(struct snapshot *s, const struct snap_domain *d);

/* Returns all vCPUs of S, in domain order (index = vcpu_first + n). */
const struct snap_vcpu *snapshot_all_vcpus(const struct snapshot *s);

/* Returns the index of the domain with UUID in a finalized S, or -1. */
long snapshot_find(const struct snapshot *s, const unsigned char *uuid);

/* Matches the domains of CUR to those of PREV (both finalized; PREV may be NULL): DOM_PREV[i]
 * (snapshot_domain_count(CUR) entries) is the index in PREV of CUR's domain i, or -1. */
void snapshot_match(const struct snapshot *prev, const struct snapshot *cur, long *dom_prev);

/* Formats UUID as text into BUF (SNAP_UUID_STRLEN bytes). */
void snapshot_uuid_format(const unsigned char *uuid, char *buf);

/* Compares two UUIDs like memcmp. */
int snapshot_uuid_cmp(const unsigned char *a, const unsigned char *b);

#endif
