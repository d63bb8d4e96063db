/* Private to the libvirt implementation of hv (common/libvirt/): its state and the functions its
 * files share. Only these files include <libvirt/libvirt.h>. */
#ifndef VMB_LV_H
#define VMB_LV_H

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "snapshot.h"

/* What we remember about a domain between periods. */
struct lv_dom {
    unsigned char uuid[SNAP_UUID_LEN];
    virDomainPtr dom;     /* own reference */
    uint32_t nmaps;       /* vCPUs the cached maps describe */
    unsigned char *maps;  /* nmaps * maplen bytes: the affinity of each vCPU */
    bool maps_ok;         /* maps reflect the domain */
    bool seen;            /* present in the current sample */
    bool memstats_warned; /* "cannot enable statistics" already said */
    bool memstats_seen;   /* the last sample had the guest's balloon statistics */
    /* Its configuration (lv_config.c), read when first seen and now and then: */
    bool cfg_read;
    uint32_t cfg;            /* SNAP_CFG_* */
    uint64_t numa_nodes;     /* strict numatune nodes */
    unsigned char *allowed;  /* maplen bytes: <vcpu cpuset> cut by strict nodes, or NULL */
    unsigned char *emulator; /* maplen bytes: where its emulator threads run, or NULL */
    char *disks;             /* its disks' target names ("vda"), each NUL-terminated, or NULL */
    uint32_t ndisks;
    bool block_warned;     /* "cannot read the disk statistics" already said */
    struct snap_tune tune; /* lv_tune.c: its <cputune> and <memtune> */
    unsigned char *pins;   /* lv_tune.c: npins maps, its persistent definition's vCPU pins */
    uint32_t npins;
};

/* The private data of a libvirt hv; hv_libvirt.c creates and frees it. */
struct lv {
    char *uri;
    virConnectPtr conn;
    int npcpus;
    size_t maplen;
    unsigned char *online; /* per pCPU: 1 when online */
    int *node, *core;      /* per pCPU: NUMA node and physical core (from the capabilities) */
    unsigned char *cpumap; /* scratch: the last online map libvirt gave, maplen bytes */
    int cpu_nparams;       /* fields virNodeGetCPUStats returns, 0 when unsupported */
    int mem_nparams;       /* fields virNodeGetMemoryStats returns, 0 when unsupported */
    uint64_t host_total_kib;
    bool bulk_ok;         /* virConnectGetAllDomainStats works at all */
    bool host_mem_warned; /* "host memory unknown" already said */
    bool local;           /* the host is this machine: read /proc directly */
    struct lv_dom *doms;  /* the domain cache, sorted by uuid (lv_cache.c) */
    size_t ndoms, cap_doms;
    size_t refresh_cursor;
    size_t config_cursor;
    virNodeCPUStatsPtr cpu_st;    /* scratch: cpu_nparams entries */
    virNodeMemoryStatsPtr mem_st; /* scratch: mem_nparams entries */
    virVcpuInfoPtr vinfo;         /* scratch for virDomainGetVcpus */
    size_t vinfo_cap;
    struct snap_vcpu *rec_vcpus; /* scratch: the vCPUs of one bulk record, by id (lv_stats.c) */
    size_t rec_vcpus_cap;
    uint32_t default_shares;   /* lv_tune.c: the CPU weight of guests that declare none ... */
    bool shares_probed;        /* ... asked (0: unknown) */
    bool tunable_registered;   /* lv_tunable.c: the tunable event callback is registered ... */
    int tunable_id;            /* ... its callback id */
    hv_filter_fn watch_filter; /* lv_watch.c: the domains whose start wakes the loop ... */
    void *watch_arg;           /* ... (the filter's argument) */
    bool watch;                /* ... watched at all (hv_libvirt_watch() was called) */
    bool watch_registered;     /* ... the lifecycle callback is registered on conn */
    int watch_id;              /* ... its callback id */
};

/* One sample in progress, as the domain statistics see it. */
struct lv_sampling {
    struct lv *p;
    struct hv *hv;
    struct snap *snap;
    unsigned what;       /* HV_SAMPLE_* */
    size_t sorted;       /* cache entries sorted before this sample */
    hv_filter_fn filter; /* NULL: every domain */
    void *arg;           /* FILTER's argument */
};

/* lv_error.c: stops libvirt from printing its errors on stderr (they are ours to report). */
void lv_error_silence(void);

/* lv_error.c: the last libvirt error, as text. */
const char *lv_error_message(void);

/* The libvirt calls about one domain whose failures lv_error_classify() reports: each has a
 * message of its own ("cannot pin a vCPU of domain 'NAME': REASON"). */
enum lv_dom_call {
    LV_CALL_PIN_VCPU,      /* virDomainPinVcpu */
    LV_CALL_PIN_EMULATOR,  /* virDomainPinEmulator */
    LV_CALL_SET_BALLOON,   /* virDomainSetMemoryFlags */
    LV_CALL_READ_AFFINITY, /* virDomainGetVcpuPinInfo */
    LV_CALL_READ_CONFIG,   /* virDomainGetXMLDesc */
    LV_CALL_READ_INFO,     /* virDomainGetInfo */
    LV_CALL_READ_VCPUS,    /* virDomainGetVcpus */
    LV_CALL_READ_MEMSTATS, /* virDomainMemoryStats */
    LV_CALL_READ_BLOCK     /* virDomainBlockStats */
};

/* The host-wide libvirt calls whose failures lv_error_classify_host() reports. */
enum lv_host_call {
    LV_CALL_LIST_DOMAINS,   /* virConnectListAllDomains */
    LV_CALL_READ_PCPU_STATS /* virNodeGetCPUStats */
};

/* lv_error.c: classifies the last libvirt error of call OP about domain NAME, warning about
 * what is not a lost domain or connection. Returns HV_GONE, HV_CONN or HV_FAIL. */
int lv_error_classify(struct lv *p, enum lv_dom_call op, const char *name);

/* lv_error.c: lv_error_classify() that warns only while *WARNED is false, and sets it. */
int lv_error_classify_once(struct lv *p, enum lv_dom_call op, const char *name, bool *warned);

/* lv_error.c: classifies the last libvirt error of host-wide call OP, warning unless the
 * connection is lost. Returns HV_CONN or HV_FAIL. */
int lv_error_classify_host(struct lv *p, enum lv_host_call op);

/* lv_events.c: starts libvirt's event loop in a thread (once, before the first connection);
 * returns 0 or -1. */
int lv_events_start(void);

/* lv_events.c: stops the event loop thread (after the last connection is closed). */
void lv_events_stop(void);

/* lv_events.c: turns keepalive on for CONN (where the driver has it). */
void lv_events_keepalive(virConnectPtr conn);

/* lv_watch.c: registers the lifecycle event callback on P's new connection, when watching. */
void lv_watch_register(struct lv *p, struct hv *hv);

/* lv_watch.c: deregisters it before the connection closes. */
void lv_watch_deregister(struct lv *p);

/* lv_tunable.c: registers the callback of tunable events on P's new connection: a domain whose
 * <cputune> changes live (shares, vCPU quota or period) is read again at the next sample. */
void lv_tunable_register(struct lv *p, struct hv *hv);

/* lv_tunable.c: deregisters it before the connection closes. */
void lv_tunable_deregister(struct lv *p);

/* lv_tunable.c: true (once) when a tunable event asked to read domain UUID again. */
bool lv_tunable_take(const unsigned char *uuid);

/* lv_tunable.c: forgets every request (the connection closes). */
void lv_tunable_clear(void);

/* lv_cache.c: forgets every domain (dropping their references); keeps the array. */
void lv_cache_clear(struct lv *p);

/* lv_cache.c: returns the sorted entry for UUID, or NULL. */
struct lv_dom *lv_cache_find(struct lv *p, const unsigned char *uuid);

/* lv_cache.c: returns the entry for DOM, adding one (with a new reference) when missing, or
 * NULL when out of memory. Entries before SORTED are sorted; added ones not until commit. */
struct lv_dom *lv_cache_get(struct lv *p, virDomainPtr dom, const unsigned char *uuid,
                            size_t sorted);

/* lv_cache.c: drops the entries not seen in this sample and sorts the rest. */
void lv_cache_commit(struct lv *p);

/* lv_cache.c: makes E's map buffer hold NVCPUS zeroed maps; returns 0 or -1. */
int lv_cache_reset_maps(const struct lv *p, struct lv_dom *e, uint32_t nvcpus);

/* lv_cache.c: reads the affinity of E's NVCPUS vCPUs (domain NAME); returns HV_*. */
int lv_cache_read_affinity(struct lv *p, struct lv_dom *e, uint32_t nvcpus, const char *name);

/* lv_cache.c: sets each vCPU's pin in V[0 .. NVCPUS-1] from E's cached maps. */
void lv_cache_apply_affinity(const struct lv *p, const struct lv_dom *e, struct snap_vcpu *v,
                             uint32_t nvcpus);

/* lv_cache.c: re-reads the affinity of a few domains of SNAP, to see changes made by others. */
int lv_cache_refresh_affinity(struct lv *p, struct hv *hv, struct snap *snap);

/* lv_host.c: reads the pCPU count, the online pCPUs and the host's memory; 0 or -1 (logged). */
int lv_host_read_cpus(struct lv *p, struct hv *hv);

/* lv_host.c: finds which optional host-wide calls the driver has. */
void lv_host_probe(struct lv *p, struct hv *hv);

/* lv_host.c: true when CONN's hypervisor runs on this machine (its /proc is the host's). */
bool lv_host_is_local(virConnectPtr conn);

/* lv_host.c: records every pCPU's busy time / the host's memory in SNAP; returns HV_*. */
int lv_host_sample_pcpus(struct lv *p, struct hv *hv, struct snap *snap);
int lv_host_sample_memory(struct lv *p, struct hv *hv, struct snap *snap);

/* lv_host.c: re-reads which pCPUs are online (one call); on a change, re-reads the topology and
 * says so. Returns HV_*. */
int lv_host_check_online(struct lv *p, struct hv *hv);

/* lv_host.c: records every pCPU's topology in SNAP. */
void lv_host_topology_into(const struct lv *p, struct snap *snap);

/* lv_config.c: reads the configuration facts of E (domain NAME) into E; returns HV_*. */
int lv_config_read(struct lv *p, struct hv *hv, struct lv_dom *e, const char *name);

/* lv_tune.c: reads E's <cputune> and <memtune> from XML, its live definition (domain NAME),
 * into E->tune; the host's default CPU weight is asked once per connection. Returns HV_OK. */
int lv_tune_from_xml(struct lv *p, struct hv *hv, struct lv_dom *e, const char *xml,
                     const char *name);

/* lv_tune.c: reads the vCPU pins of E's persistent definition (none for a transient domain)
 * into E->pins. Returns HV_*. */
int lv_tune_read_pins(struct lv *p, struct hv *hv, struct lv_dom *e, const char *name);

/* lv_tune.c: copies E's tune and definition pins into D (of SNAP, its vCPUs sampled). Returns
 * 0, or -1 when out of memory. */
int lv_tune_into(const struct lv *p, const struct lv_dom *e, struct snap *snap,
                 struct snap_domain *d);

/* lv_config.c: copies E's configuration facts into D, the last domain of SNAP. */
int lv_config_into(const struct lv *p, const struct lv_dom *e, struct snap *snap,
                   struct snap_domain *d);

/* lv_config.c: reads the configuration of domains not read yet (at most a batch) and of a few
 * others (changes made by others), then copies them into SNAP. Returns HV_*. */
int lv_config_refresh(struct lv *p, struct hv *hv, struct snap *snap);

/* lv_stats.c: adds every managed active domain to S->snap (one bulk call, else per-domain
 * calls); *BULK_DONE tells whether the bulk call answered. Returns HV_*. */
int lv_stats_sample_domains(const struct lv_sampling *s, bool *bulk_done);

#endif
