/* The hypervisor boundary: an ops table with a libvirt implementation and a fake for tests. */
#ifndef VMB_HV_H
#define VMB_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

/* Results of hv calls. */
enum hv_status {
    HV_OK = 0,    /* done */
    HV_GONE = 1,  /* the domain no longer exists or runs: normal, not an error */
    HV_FAIL = -1, /* the call failed (already logged); other domains are unaffected */
    HV_CONN = -2  /* the connection to the hypervisor is lost; reconnect */
};

/* A short description of an hv status for reports: "ok", "domain gone", "failed", ... */
const char *hv_status_name(int status);

/* What hv_sample() collects. */
enum {
    HV_SAMPLE_CPU = 1u << 0, /* vCPU times, waits and pins; per-pCPU busy time */
    HV_SAMPLE_MEM = 1u << 1, /* balloon and guest memory statistics; host memory */
    /* Bytes read from each domain's disks (snap_domain.rd_bytes): QEMU asks every guest's
     * block layer, about 7 ms a guest (docs/EVIDENCE.md#bulk-stats-block). */
    HV_SAMPLE_BLOCK = 1u << 2
};

/* Decides whether a domain is managed, by name. */
typedef bool (*hv_filter_fn)(const char *name, void *arg);

struct hv;

/* The operations every implementation provides. */
struct hv_ops {
    const char *name;
    int (*sample)(struct hv *hv, struct snap *snap, unsigned what, hv_filter_fn filter, void *arg);
    int (*set_affinity)(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                        const unsigned char *map, size_t maplen);
    int (*get_affinity)(struct hv *hv, const unsigned char *uuid, uint32_t vcpu, unsigned char *map,
                        size_t maplen);
    int (*set_memory)(struct hv *hv, const unsigned char *uuid, uint64_t kib);
    int (*set_emulator_affinity)(struct hv *hv, const unsigned char *uuid, const unsigned char *map,
                                 size_t maplen);
    int (*enable_memstats)(struct hv *hv, const unsigned char *uuid, int period_s);
    int (*reconnect)(struct hv *hv);
    void (*close)(struct hv *hv); /* frees the implementation's private data */
};

/* Bytes in a CPU map for NPCPUS pCPUs (libvirt's VIR_CPU_MAPLEN). */
static inline size_t hv_maplen(int npcpus)
{
    return ((size_t)npcpus + 7) / 8;
}

/* Wraps PRIV (owned: freed by ops->close) in a new handle; returns NULL when out of memory. */
struct hv *hv_create(const struct hv_ops *ops, void *priv);

/* Closes and frees HV; accepts NULL. */
void hv_destroy(struct hv *hv);

/* Returns the implementation's private data. */
void *hv_priv(struct hv *hv);

/* Adds N hypervisor round trips to HV's count (for implementations). */
void hv_count_calls(struct hv *hv, unsigned long n);

/* Returns the number of hypervisor round trips made so far. */
unsigned long hv_calls(const struct hv *hv);

/* Fills SNAP (reset and finalized here) with a sample of the managed active domains
 * (FILTER NULL: all). Returns HV_OK, HV_FAIL or HV_CONN. */
int hv_sample(struct hv *hv, struct snap *snap, unsigned what, hv_filter_fn filter, void *arg);

/* Pins vCPU VCPU of the domain UUID to pCPU PCPU of NPCPUS (live). */
int hv_pin_vcpu(struct hv *hv, const unsigned char *uuid, uint32_t vcpu, int pcpu, int npcpus);

/* Sets / gets the affinity MAP (MAPLEN bytes) of a vCPU; get answers from what was last seen. */
int hv_set_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                    const unsigned char *map, size_t maplen);
int hv_get_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu, unsigned char *map,
                    size_t maplen);

/* Sets the pCPUs the emulator threads of domain UUID may run on to MAP (MAPLEN bytes; live). */
int hv_set_emulator_affinity(struct hv *hv, const unsigned char *uuid, const unsigned char *map,
                             size_t maplen);

/* Sets the balloon target of the domain UUID to KIB (live). */
int hv_set_memory(struct hv *hv, const unsigned char *uuid, uint64_t kib);

/* Makes the guest UUID report balloon statistics every PERIOD_S seconds (live). */
int hv_enable_memstats(struct hv *hv, const unsigned char *uuid, int period_s);

/* Tries once to re-establish a lost connection; returns HV_OK or HV_CONN. */
int hv_reconnect(struct hv *hv);

/* Opens the libvirt implementation on URI (NULL: libvirt's default); NULL on failure (logged). */
struct hv *hv_libvirt_open(const char *uri);

/* Makes HV, a libvirt hv, call signals_wake() whenever a domain that FILTER (with ARG; NULL: any)
 * accepts starts: libvirt lifecycle events, registered again after every reconnection. Returns
 * HV_OK, or HV_FAIL when the driver has no events (polling every period still finds new
 * domains). */
int hv_libvirt_watch(struct hv *hv, hv_filter_fn filter, void *arg);

#endif
