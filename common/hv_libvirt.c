/* The libvirt implementation of the hypervisor boundary: the only code that includes libvirt. */
#define _POSIX_C_SOURCE 200809L
#include "hv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

/* Domains whose cached affinity is re-read each period, to notice changes made by others. */
#define AFFINITY_REFRESH_PER_PERIOD 4

/* What we remember about a domain between periods. */
struct dom_entry {
    unsigned char uuid[SNAP_UUID_LEN];
    virDomainPtr dom;     /* own reference */
    uint32_t nmaps;       /* vCPUs the cached maps describe */
    unsigned char *maps;  /* nmaps * maplen bytes: the affinity of each vCPU */
    bool maps_ok;         /* maps reflect the domain */
    bool seen;            /* present in the current sample */
    bool memstats_warned; /* "cannot enable statistics" already said */
    bool memstats_seen;   /* the last sample had the guest's balloon statistics */
};

struct lv {
    char *uri;
    virConnectPtr conn;
    int npcpus;
    size_t maplen;
    unsigned char *online; /* per pCPU: 1 when usable */
    int cpu_nparams;       /* fields virNodeGetCPUStats returns, 0 when unsupported */
    int mem_nparams;       /* fields virNodeGetMemoryStats returns, 0 when unsupported */
    uint64_t host_total_kib;
    bool bulk_cpu_ok;       /* the bulk API returns vCPU stats */
    bool bulk_mem_ok;       /* the bulk API returns balloon stats */
    bool bulk_ok;           /* virConnectGetAllDomainStats works at all */
    bool host_mem_warned;   /* "host memory unknown" already said */
    bool local;             /* the host is this machine: read /proc directly */
    struct dom_entry *doms; /* sorted by uuid */
    size_t ndoms, cap_doms;
    size_t refresh_cursor;
    virNodeCPUStatsPtr cpu_st;    /* scratch: cpu_nparams entries */
    virNodeMemoryStatsPtr mem_st; /* scratch: mem_nparams entries */
    virVcpuInfoPtr vinfo;         /* scratch for virDomainGetVcpus */
    uint32_t vinfo_cap;
};

/*
 * libvirt's event loop runs in a thread of its own, so that keepalive works: the client pings
 * libvirtd after KEEPALIVE_INTERVAL_S seconds of silence and closes the connection when
 * KEEPALIVE_COUNT pings in a row go unanswered. A libvirtd that hangs (stopped, deadlocked)
 * then fails the call in progress within about (KEEPALIVE_COUNT + 1) * KEEPALIVE_INTERVAL_S
 * seconds, like a libvirtd that died, instead of wedging the program for ever. The thread
 * also answers libvirtd's own keepalive pings while the program sleeps between periods.
 *
 * Its 1 s timer runs the stop watchdog of loop.c (loop_watchdog_tick), which ends the program
 * when a stop signal stays unanswered because the main thread is stuck in a libvirt call
 * (reconnecting to a hung libvirtd is not covered by keepalive).
 */
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT      3

static struct {
    bool started;
    pthread_t thread;
    atomic_bool quit;
    int timer; /* the 1 s tick of the stop watchdog */
} events = {.timer = -1};

static void watchdog_tick(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
    loop_watchdog_tick();
}

static void *event_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&events.quit))
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

/* Registers and starts libvirt's event loop; once per process, before the first connection. */
static int events_start(void)
{
    sigset_t all, old;
    int rc;

    if (events.started)
        return 0;
    if (virEventRegisterDefaultImpl() < 0)
        return -1;
    events.timer = virEventAddTimeout(1000, watchdog_tick, NULL, NULL);
    if (events.timer < 0)
        return -1;
    /* The thread takes no signal: they are for the main thread's sleep. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&events.thread, NULL, event_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        virEventRemoveTimeout(events.timer);
        events.timer = -1;
        return -1;
    }
    events.started = true;
    return 0;
}

/* Stops the event loop thread (after the last connection is closed). */
static void events_stop(void)
{
    if (!events.started)
        return;
    atomic_store(&events.quit, true);
    virEventUpdateTimeout(events.timer, 0); /* wakes the loop now */
    pthread_join(events.thread, NULL);
    virEventRemoveTimeout(events.timer);
    events.timer = -1;
    events.started = false;
    atomic_store(&events.quit, false);
}

static void silent_error(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

static const char *last_error(void)
{
    if (virGetLastErrorCode() == VIR_ERR_OK)
        return "the driver gave no reason";
    return virGetLastErrorMessage();
}

/* Classifies the last libvirt error of a call about one domain. */
static int classify(struct lv *p, const char *what, const char *name)
{
    int code = virGetLastErrorCode();

    if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID)
        return HV_GONE;
    if (virConnectIsAlive(p->conn) != 1)
        return HV_CONN;
    log_warning("cannot %s of domain '%s': %s", what, name, last_error());
    return HV_FAIL;
}

/* Classifies the last libvirt error of a host-wide call. */
static int classify_host(struct lv *p, const char *what)
{
    if (virConnectIsAlive(p->conn) != 1) {
        log_debug("%s failed: %s", what, last_error());
        return HV_CONN;
    }
    log_warning("cannot %s: %s", what, last_error());
    return HV_FAIL;
}

static void entry_clear(struct dom_entry *e)
{
    if (e->dom)
        virDomainFree(e->dom);
    free(e->maps);
    memset(e, 0, sizeof(*e));
}

static void cache_clear(struct lv *p)
{
    for (size_t i = 0; i < p->ndoms; i++)
        entry_clear(&p->doms[i]);
    p->ndoms = 0;
}

static struct dom_entry *cache_find(struct lv *p, const unsigned char *uuid)
{
    size_t lo = 0, hi = p->ndoms;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(p->doms[mid].uuid, uuid, SNAP_UUID_LEN);
        if (c == 0)
            return &p->doms[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int entry_cmp(const void *a, const void *b)
{
    return memcmp(((const struct dom_entry *)a)->uuid, ((const struct dom_entry *)b)->uuid,
                  SNAP_UUID_LEN);
}

/* Returns the entry for DOM, adding one (taking a new reference) at the end when missing.
 * Entries added this way are unsorted until cache_commit(). */
static struct dom_entry *cache_get(struct lv *p, virDomainPtr dom, const unsigned char *uuid,
                                   size_t sorted)
{
    struct dom_entry *e;
    size_t n = p->ndoms;

    p->ndoms = sorted;
    e = cache_find(p, uuid);
    p->ndoms = n;
    if (!e) {
        for (size_t i = sorted; i < n; i++)
            if (memcmp(p->doms[i].uuid, uuid, SNAP_UUID_LEN) == 0)
                return &p->doms[i];
    }
    if (e)
        return e;
    if (p->ndoms == p->cap_doms) {
        size_t ncap = p->cap_doms ? p->cap_doms * 2 : 16;
        struct dom_entry *nd = realloc(p->doms, ncap * sizeof(*nd));
        if (!nd)
            return NULL;
        p->doms = nd;
        p->cap_doms = ncap;
    }
    e = &p->doms[p->ndoms++];
    memset(e, 0, sizeof(*e));
    memcpy(e->uuid, uuid, SNAP_UUID_LEN);
    if (virDomainRef(dom) == 0)
        e->dom = dom;
    return e;
}

/* Drops entries not seen in this sample and sorts the rest. */
static void cache_commit(struct lv *p)
{
    size_t out = 0;

    for (size_t i = 0; i < p->ndoms; i++) {
        if (!p->doms[i].seen) {
            entry_clear(&p->doms[i]);
            continue;
        }
        p->doms[i].seen = false;
        p->doms[out++] = p->doms[i];
    }
    p->ndoms = out;
    if (p->ndoms > 1)
        qsort(p->doms, p->ndoms, sizeof(*p->doms), entry_cmp);
}

/* Makes E's map buffer hold NVCPUS zeroed maps (reallocated only when the count changes). */
static int reset_maps(const struct lv *p, struct dom_entry *e, uint32_t nvcpus)
{
    if (!e->maps || e->nmaps != nvcpus) {
        unsigned char *maps = realloc(e->maps, (size_t)nvcpus * p->maplen);
        if (!maps)
            return -1;
        e->maps = maps;
        e->nmaps = nvcpus;
    }
    e->maps_ok = false;
    memset(e->maps, 0, (size_t)nvcpus * p->maplen);
    return 0;
}

/* Reads the pin maps of E's NVCPUS vCPUs with one call. */
static int read_affinity(struct lv *p, struct dom_entry *e, uint32_t nvcpus, const char *name)
{
    if (nvcpus == 0)
        return HV_OK;
    if (reset_maps(p, e, nvcpus) < 0)
        return HV_FAIL;
    if (virDomainGetVcpuPinInfo(e->dom, (int)nvcpus, e->maps, (int)p->maplen,
                                VIR_DOMAIN_AFFECT_LIVE) < 0)
        return classify(p, "read the vCPU affinity", name);
    e->maps_ok = true;
    return HV_OK;
}

/* Derives each vCPU's pin (the one allowed pCPU, or -1) from E's maps. */
static void apply_affinity(const struct lv *p, const struct dom_entry *e, struct snap_vcpu *v,
                           uint32_t nvcpus)
{
    for (uint32_t k = 0; k < nvcpus; k++) {
        const unsigned char *map;
        int first = -1, count = 0;

        v[k].pin = -1;
        if (!e->maps_ok || k >= e->nmaps)
            continue;
        map = e->maps + (size_t)k * p->maplen;
        for (int c = 0; c < p->npcpus && count < 2; c++) {
            if (VIR_CPU_USABLE(map, p->maplen, 0, c)) {
                if (first < 0)
                    first = c;
                count++;
            }
        }
        if (count == 1)
            v[k].pin = first;
    }
}

/* Reads the pCPU count and which pCPUs are online. */
static int read_host_cpus(struct lv *p, struct hv *hv)
{
    virNodeInfo info;
    unsigned char *map = NULL;
    unsigned int online = 0;
    int present;

    if (virNodeGetInfo(p->conn, &info) < 0) {
        log_error("cannot read host information: %s", last_error());
        return -1;
    }
    present = virNodeGetCPUMap(p->conn, &map, &online, 0);
    hv_count_calls(hv, 2);
    free(p->online);
    p->online = NULL;
    /* Trust the CPU map only when it agrees with the node info (the test driver's does not). */
    if (present > 0 && online == info.cpus) {
        p->npcpus = present;
    } else {
        p->npcpus = (int)info.cpus;
        free(map);
        map = NULL;
    }
    if (p->npcpus < 1) {
        free(map);
        log_error("the host reports no CPUs");
        return -1;
    }
    p->maplen = VIR_CPU_MAPLEN(p->npcpus);
    p->online = calloc((size_t)p->npcpus, 1);
    if (!p->online) {
        free(map);
        return -1;
    }
    for (int c = 0; c < p->npcpus; c++)
        p->online[c] = map ? (VIR_CPU_USED(map, c) != 0) : 1;
    free(map);
    p->host_total_kib = info.memory;
    return 0;
}

/* Probes which optional host-wide calls the driver supports. */
static void probe_node(struct lv *p, struct hv *hv)
{
    int n = 0;

    p->cpu_nparams = 0;
    free(p->cpu_st);
    p->cpu_st = NULL;
    if (virNodeGetCPUStats(p->conn, 0, NULL, &n, 0) == 0 && n > 0 &&
        (p->cpu_st = calloc((size_t)n, sizeof(*p->cpu_st))))
        p->cpu_nparams = n;
    else
        log_debug("per-pCPU statistics unavailable: %s", last_error());
    n = 0;
    p->mem_nparams = 0;
    free(p->mem_st);
    p->mem_st = NULL;
    if (virNodeGetMemoryStats(p->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) == 0 &&
        n > 0 && (p->mem_st = calloc((size_t)n, sizeof(*p->mem_st))))
        p->mem_nparams = n;
    else
        log_debug("host memory statistics unavailable: %s", last_error());
    hv_count_calls(hv, 2);
    p->bulk_ok = true;
    p->bulk_cpu_ok = true;
    p->bulk_mem_ok = true;
}

/* Reads every online pCPU's busy time from /proc/stat into SNAP (what virNodeGetCPUStats reads
 * too, without one round trip per pCPU). Returns false when unreadable. */
static bool read_proc_stat(const struct lv *p, struct snapshot *snap)
{
    FILE *f = fopen("/proc/stat", "r");
    double ns_per_tick = 1e9 / (double)sysconf(_SC_CLK_TCK);
    char line[512];
    int seen = 0;

    if (!f)
        return false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long user, nice, sys, idle, iowait, irq, softirq;
        int cpu;
        if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
            continue;
        if (sscanf(line + 3, "%d %llu %llu %llu %llu %llu %llu %llu", &cpu, &user, &nice, &sys,
                   &idle, &iowait, &irq, &softirq) != 8 ||
            cpu < 0 || cpu >= p->npcpus)
            continue;
        /* libvirt's "user" is user + nice, its "kernel" system + irq + softirq. */
        snapshot_set_pcpu_busy(
                snap, cpu, (uint64_t)((double)(user + nice + sys + irq + softirq) * ns_per_tick));
        seen++;
    }
    fclose(f);
    return seen > 0;
}

static int sample_pcpus(struct lv *p, struct hv *hv, struct snapshot *snap)
{
    virNodeCPUStatsPtr st = p->cpu_st;
    int n;

    if (p->local && read_proc_stat(p, snap))
        return HV_OK;
    if (p->cpu_nparams <= 0) {
        snapshot_clear_pcpu(snap);
        return HV_OK;
    }
    for (int c = 0; c < p->npcpus; c++) {
        uint64_t busy = 0;

        if (!p->online[c])
            continue;
        n = p->cpu_nparams;
        hv_count_calls(hv, 1);
        if (virNodeGetCPUStats(p->conn, c, st, &n, 0) < 0) {
            int rc = classify_host(p, "read per-pCPU statistics");
            snapshot_clear_pcpu(snap);
            return rc == HV_CONN ? HV_CONN : HV_OK;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(st[i].field, VIR_NODE_CPU_STATS_KERNEL) == 0 ||
                strcmp(st[i].field, VIR_NODE_CPU_STATS_USER) == 0)
                busy += st[i].value;
        snapshot_set_pcpu_busy(snap, c, busy);
    }
    return HV_OK;
}

/* Reads MemTotal and MemAvailable (KiB) from /proc/meminfo; returns false when unreadable. */
static bool read_meminfo(uint64_t *total, uint64_t *avail)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    int found = 0;

    if (!f)
        return false;
    while (found < 2 && fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "MemTotal: %llu kB", &v) == 1) {
            *total = v;
            found++;
        } else if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            *avail = v;
            found++;
        }
    }
    fclose(f);
    return found == 2;
}

/* True when the connection's hypervisor runs on this machine (so /proc/meminfo is its host):
 * a real driver (not the test driver) and a URI without a remote host. */
static bool host_is_local(virConnectPtr conn)
{
    const char *type = virConnectGetType(conn);
    char *uri = virConnectGetURI(conn);
    const char *auth;
    bool local = false;

    if (type && strcasecmp(type, "Test") != 0 && uri && (auth = strstr(uri, "://"))) {
        auth += 3;
        local = *auth == '/' || strncmp(auth, "localhost/", 10) == 0;
    }
    free(uri);
    return local;
}

static int sample_host_memory(struct lv *p, struct hv *hv, struct snapshot *snap)
{
    virNodeMemoryStatsPtr st = p->mem_st;
    uint64_t total = 0, avail = 0;
    int n = p->mem_nparams;

    /* On this machine, MemAvailable is the kernel's own estimate of what can be used without
     * swapping; libvirt offers only free + buffers + cached, which also counts memory that
     * cannot be reclaimed (shared memory, for one). */
    if (p->local && read_meminfo(&total, &avail)) {
        snapshot_set_host_memory(snap, total, avail);
        return HV_OK;
    }
    if (n > 0) {
        hv_count_calls(hv, 1);
        if (virNodeGetMemoryStats(p->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, st, &n, 0) == 0) {
            for (int i = 0; i < n; i++) {
                if (strcmp(st[i].field, VIR_NODE_MEMORY_STATS_TOTAL) == 0)
                    total = st[i].value;
                else if (strcmp(st[i].field, VIR_NODE_MEMORY_STATS_FREE) == 0 ||
                         strcmp(st[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) == 0 ||
                         strcmp(st[i].field, VIR_NODE_MEMORY_STATS_CACHED) == 0)
                    avail += st[i].value; /* free + buffers + page cache */
            }
            snapshot_set_host_memory(snap, total ? total : p->host_total_kib, avail);
            return HV_OK;
        }
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
    }
    /* Fallback: free memory of all NUMA cells (may miss memory the kernel has not onlined). */
    hv_count_calls(hv, 1);
    unsigned long long fr = virNodeGetFreeMemory(p->conn);
    if (fr == 0) {
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
        if (!p->host_mem_warned)
            log_warning("the host's free memory is unknown (%s); no guest will be grown",
                        last_error());
        p->host_mem_warned = true;
        return HV_OK;
    }
    snapshot_set_host_memory(snap, p->host_total_kib, fr / 1024);
    return HV_OK;
}

/* Parses "vcpu.N.field" into N and the field; returns false for other names. */
static bool parse_vcpu_field(const char *name, uint32_t *idx, const char **field)
{
    char *end;
    unsigned long n;

    if (strncmp(name, "vcpu.", 5) != 0 || name[5] < '0' || name[5] > '9')
        return false;
    n = strtoul(name + 5, &end, 10);
    if (*end != '.' || n > 65535)
        return false;
    *idx = (uint32_t)n;
    *field = end + 1;
    return true;
}

static uint64_t param_u64(const virTypedParameter *t)
{
    switch (t->type) {
    case VIR_TYPED_PARAM_INT:
        return t->value.i < 0 ? 0 : (uint64_t)t->value.i;
    case VIR_TYPED_PARAM_UINT:
        return t->value.ui;
    case VIR_TYPED_PARAM_LLONG:
        return t->value.l < 0 ? 0 : (uint64_t)t->value.l;
    case VIR_TYPED_PARAM_ULLONG:
        return t->value.ul;
    default:
        return 0;
    }
}

static enum snap_state map_state(int st)
{
    if (st == VIR_DOMAIN_RUNNING)
        return SNAP_RUNNING;
    if (st == VIR_DOMAIN_PAUSED)
        return SNAP_PAUSED;
    return SNAP_OTHER;
}

/* Fills the memory part of D from a virDomainMemoryStats() answer. */
static void mem_from_stats(struct snap_mem *m, const virDomainMemoryStatStruct *st, int n)
{
    for (int i = 0; i < n; i++) {
        switch (st[i].tag) {
        case VIR_DOMAIN_MEMORY_STAT_UNUSED:
            m->unused_kib = st[i].val;
            m->flags |= SNAP_MEM_UNUSED;
            break;
        case VIR_DOMAIN_MEMORY_STAT_AVAILABLE:
            m->available_kib = st[i].val;
            m->flags |= SNAP_MEM_AVAILABLE;
            break;
        case VIR_DOMAIN_MEMORY_STAT_USABLE:
            m->usable_kib = st[i].val;
            m->flags |= SNAP_MEM_USABLE;
            break;
        case VIR_DOMAIN_MEMORY_STAT_RSS:
            m->rss_kib = st[i].val;
            m->flags |= SNAP_MEM_RSS;
            break;
        case VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE:
            m->last_update = st[i].val;
            m->flags |= SNAP_MEM_UPDATE;
            break;
        case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON:
            m->actual_kib = st[i].val;
            break;
        default:
            break;
        }
    }
}

/* Per-domain fallback for what the bulk call did not give. Returns an hv status. */
static int sample_domain_slow(struct lv *p, struct hv *hv, struct snapshot *snap,
                              struct dom_entry *e, const char *name, unsigned what, bool need_cpu,
                              bool need_mem)
{
    virDomainInfo info;
    struct snap_domain *d;
    long idx = (long)snapshot_domain_count(snap) - 1;

    hv_count_calls(hv, 1);
    if (virDomainGetInfo(e->dom, &info) < 0)
        return classify(p, "read information", name);
    d = snapshot_domain_mut(snap, (size_t)idx);
    d->state = map_state(info.state);
    if (need_cpu && (what & HV_SAMPLE_CPU)) {
        uint32_t nv = info.nrVirtCpu;
        virVcpuInfoPtr vi;
        int got;

        if (nv != d->nvcpus) {
            /* Re-add the domain with the right number of vCPUs. */
            unsigned char uuid[SNAP_UUID_LEN];
            memcpy(uuid, d->uuid, SNAP_UUID_LEN);
            snapshot_drop_last(snap);
            d = snapshot_add_domain(snap, uuid, name, nv);
            if (!d)
                return HV_FAIL;
            d->state = map_state(info.state);
        }
        if (nv > 0) {
            if (nv > p->vinfo_cap) {
                virVcpuInfoPtr n = realloc(p->vinfo, nv * sizeof(*n));
                if (!n)
                    return HV_FAIL;
                p->vinfo = n;
                p->vinfo_cap = nv;
            }
            vi = p->vinfo;
            if (reset_maps(p, e, nv) < 0)
                return HV_FAIL;
            hv_count_calls(hv, 1);
            got = virDomainGetVcpus(e->dom, vi, (int)nv, e->maps, (int)p->maplen);
            if (got < 0)
                return classify(p, "read vCPU statistics", name);
            e->maps_ok = true;
            struct snap_vcpu *v = snapshot_vcpus_mut(snap, d);
            for (int i = 0; i < got; i++) {
                uint32_t k = vi[i].number;
                if (k >= nv)
                    continue;
                v[k].time_ns = vi[i].cpuTime;
                if (vi[i].state == VIR_VCPU_OFFLINE)
                    v[k].flags |= SNAP_VCPU_OFFLINE;
            }
            apply_affinity(p, e, v, nv);
        }
    }
    if (need_mem && (what & HV_SAMPLE_MEM)) {
        virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
        int n;

        d->mem.actual_kib = info.memory;
        d->mem.max_kib = info.maxMem;
        d->mem.flags |= SNAP_MEM_BALLOON;
        hv_count_calls(hv, 1);
        n = virDomainMemoryStats(e->dom, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
        if (n < 0) {
            int rc = classify(p, "read memory statistics", name);
            if (rc != HV_FAIL)
                return rc;
            n = 0; /* keep the balloon size; no guest statistics this period */
        }
        uint64_t actual = d->mem.actual_kib;
        mem_from_stats(&d->mem, st, n);
        if (d->mem.actual_kib == 0)
            d->mem.actual_kib = actual;
    }
    return HV_OK;
}

/* Adds one domain from a bulk record (or from a plain handle when REC is NULL). */
static int add_domain(struct lv *p, struct hv *hv, struct snapshot *snap, virDomainPtr dom,
                      const virDomainStatsRecord *rec, unsigned what, size_t sorted,
                      hv_filter_fn filter, void *arg)
{
    const char *name = virDomainGetName(dom);
    unsigned char uuid[SNAP_UUID_LEN];
    struct dom_entry *e;
    struct snap_domain *d;
    uint32_t nvcpus = 0;
    bool has_vcpu = false, has_balloon = false;
    int rc;

    if (!name || virDomainGetUUID(dom, uuid) < 0)
        return HV_OK;
    if (filter && !filter(name, arg))
        return HV_OK;
    e = cache_get(p, dom, uuid, sorted);
    if (!e || !e->dom)
        return HV_FAIL;
    e->seen = true;

    if (rec) {
        for (int i = 0; i < rec->nparams; i++) {
            const virTypedParameter *t = &rec->params[i];
            uint32_t k;
            const char *f;

            if (strcmp(t->field, "vcpu.current") == 0) {
                has_vcpu = true;
            } else if (strncmp(t->field, "balloon.", 8) == 0) {
                has_balloon = has_balloon || strcmp(t->field, "balloon.current") == 0;
            } else if (parse_vcpu_field(t->field, &k, &f) && k + 1 > nvcpus) {
                nvcpus = k + 1;
            }
        }
    }
    if (!(what & HV_SAMPLE_CPU) || !has_vcpu)
        nvcpus = 0;
    d = snapshot_add_domain(snap, uuid, name, nvcpus);
    if (!d)
        return HV_FAIL;

    if (rec) {
        struct snap_vcpu *v = snapshot_vcpus_mut(snap, d);
        for (int i = 0; i < rec->nparams; i++) {
            const virTypedParameter *t = &rec->params[i];
            uint64_t val = param_u64(t);
            uint32_t k;
            const char *f;

            if (strcmp(t->field, "state.state") == 0) {
                d->state = map_state((int)val);
            } else if (nvcpus && parse_vcpu_field(t->field, &k, &f) && k < nvcpus) {
                if (strcmp(f, "time") == 0) {
                    v[k].time_ns = val;
                } else if (strcmp(f, "wait") == 0) {
                    v[k].wait_ns = val;
                    v[k].flags |= SNAP_VCPU_WAIT;
                } else if (strcmp(f, "state") == 0 && val != VIR_VCPU_RUNNING) {
                    v[k].flags |= SNAP_VCPU_OFFLINE;
                }
            } else if (strcmp(t->field, "balloon.current") == 0) {
                d->mem.actual_kib = val;
                d->mem.flags |= SNAP_MEM_BALLOON;
            } else if (strcmp(t->field, "balloon.maximum") == 0) {
                d->mem.max_kib = val;
            } else if (strcmp(t->field, "balloon.unused") == 0) {
                d->mem.unused_kib = val;
                d->mem.flags |= SNAP_MEM_UNUSED;
            } else if (strcmp(t->field, "balloon.available") == 0) {
                d->mem.available_kib = val;
                d->mem.flags |= SNAP_MEM_AVAILABLE;
            } else if (strcmp(t->field, "balloon.usable") == 0) {
                d->mem.usable_kib = val;
                d->mem.flags |= SNAP_MEM_USABLE;
            } else if (strcmp(t->field, "balloon.rss") == 0) {
                d->mem.rss_kib = val;
                d->mem.flags |= SNAP_MEM_RSS;
            } else if (strcmp(t->field, "balloon.last-update") == 0) {
                d->mem.last_update = val;
                d->mem.flags |= SNAP_MEM_UPDATE;
            }
        }
        if (nvcpus) {
            if (!e->maps_ok || e->nmaps != nvcpus) {
                rc = read_affinity(p, e, nvcpus, name);
                hv_count_calls(hv, 1);
                if (rc != HV_OK)
                    goto fail;
            }
            apply_affinity(p, e, v, nvcpus);
        }
    }

    /* With NOWAIT, a domain busy with another client's job (a monitor, virsh, the other
     * program) comes back with its balloon size but without the guest's statistics. When the
     * guest reported them last period, ask it directly (this waits for the job) rather than
     * take it for a guest that stopped reporting. */
    bool stats_skipped = has_balloon && e->memstats_seen && !(d->mem.flags & SNAP_MEM_UNUSED);
    bool need_cpu = (what & HV_SAMPLE_CPU) && !has_vcpu;
    bool need_mem = (what & HV_SAMPLE_MEM) && (!has_balloon || stats_skipped);
    if (need_cpu || need_mem) {
        rc = sample_domain_slow(p, hv, snap, e, name, what, need_cpu, need_mem);
        if (rc != HV_OK)
            goto fail;
    }
    if (what & HV_SAMPLE_MEM) {
        const struct snap_domain *last = snapshot_domain(snap, snapshot_domain_count(snap) - 1);
        e->memstats_seen = (last->mem.flags & SNAP_MEM_UNUSED) != 0;
    }
    return HV_OK;

fail:
    /* One domain failing (or vanishing) does not stop the others: leave it out this period. */
    snapshot_drop_last(snap);
    e->seen = rc != HV_GONE;
    return rc == HV_CONN ? HV_CONN : HV_OK;
}

/* Re-reads the affinity of a few cached domains, so changes made by others are seen. */
static int refresh_some_affinity(struct lv *p, struct hv *hv, struct snapshot *snap)
{
    size_t nd = snapshot_domain_count(snap);

    for (size_t n = 0; n < AFFINITY_REFRESH_PER_PERIOD && n < nd; n++) {
        struct snap_domain *d;
        struct dom_entry *e;
        int rc;

        p->refresh_cursor = (p->refresh_cursor + 1) % nd;
        d = snapshot_domain_mut(snap, p->refresh_cursor);
        e = cache_find(p, d->uuid);
        if (!e || d->nvcpus == 0)
            continue;
        hv_count_calls(hv, 1);
        rc = read_affinity(p, e, d->nvcpus, snapshot_domain_name(snap, d));
        if (rc == HV_CONN)
            return rc;
        if (rc == HV_OK)
            apply_affinity(p, e, snapshot_vcpus_mut(snap, d), d->nvcpus);
    }
    return HV_OK;
}

static int lv_sample(struct hv *hv, struct snapshot *snap, unsigned what, hv_filter_fn filter,
                     void *arg)
{
    struct lv *p = hv_priv(hv);
    int rc = HV_OK;
    size_t sorted = p->ndoms;
    bool bulk_done = false;

    if (!p->conn)
        return HV_CONN;
    if (snapshot_reset(snap, loop_now_ns(), p->npcpus) < 0)
        return HV_FAIL;

    if (p->bulk_ok) {
        virDomainStatsRecordPtr *recs = NULL;
        unsigned int stats = VIR_DOMAIN_STATS_STATE;
        int n;

        if (what & HV_SAMPLE_CPU)
            stats |= VIR_DOMAIN_STATS_VCPU;
        if (what & HV_SAMPLE_MEM)
            stats |= VIR_DOMAIN_STATS_BALLOON;
        hv_count_calls(hv, 1);
        n = virConnectGetAllDomainStats(p->conn, stats, &recs,
                                        VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                                VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
        if (n < 0) {
            if (virConnectIsAlive(p->conn) != 1)
                return HV_CONN;
            log_debug("bulk statistics unavailable (%s); using per-domain calls", last_error());
            p->bulk_ok = false;
        } else {
            for (int i = 0; i < n && rc == HV_OK; i++)
                rc = add_domain(p, hv, snap, recs[i]->dom, recs[i], what, sorted, filter, arg);
            virDomainStatsRecordListFree(recs);
            bulk_done = true;
        }
    }
    if (!bulk_done && rc == HV_OK) {
        virDomainPtr *doms = NULL;
        int n;

        hv_count_calls(hv, 1);
        n = virConnectListAllDomains(p->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0)
            return classify_host(p, "list domains");
        for (int i = 0; i < n; i++) {
            if (rc == HV_OK)
                rc = add_domain(p, hv, snap, doms[i], NULL, what, sorted, filter, arg);
            virDomainFree(doms[i]);
        }
        free(doms);
    }
    if (rc != HV_OK)
        return rc;
    cache_commit(p);
    /* Time of the domain counters; the node counters below are read right after. */
    if (what & HV_SAMPLE_CPU) {
        rc = sample_pcpus(p, hv, snap);
        if (rc == HV_OK && bulk_done)
            rc = refresh_some_affinity(p, hv, snap);
    }
    if (rc == HV_OK && (what & HV_SAMPLE_MEM))
        rc = sample_host_memory(p, hv, snap);
    return rc;
}

static struct dom_entry *entry_for(struct lv *p, const unsigned char *uuid)
{
    struct dom_entry *e = p->conn ? cache_find(p, uuid) : NULL;
    return e && e->dom ? e : NULL;
}

static int lv_set_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                           const unsigned char *map, size_t maplen)
{
    struct lv *p = hv_priv(hv);
    struct dom_entry *e = entry_for(p, uuid);

    if (!e)
        return p->conn ? HV_GONE : HV_CONN;
    hv_count_calls(hv, 1);
    /* virDomainPinVcpu changes the live state; the test driver refuses the Flags variant. */
    if (virDomainPinVcpu(e->dom, vcpu, (unsigned char *)map, (int)maplen) < 0)
        return classify(p, "pin a vCPU", virDomainGetName(e->dom));
    if (e->maps_ok && vcpu < e->nmaps && maplen == p->maplen)
        memcpy(e->maps + (size_t)vcpu * p->maplen, map, maplen);
    return HV_OK;
}

static int lv_get_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                           unsigned char *map, size_t maplen)
{
    struct lv *p = hv_priv(hv);
    struct dom_entry *e = entry_for(p, uuid);

    if (!e || !e->maps_ok || vcpu >= e->nmaps)
        return HV_GONE;
    memset(map, 0, maplen);
    memcpy(map, e->maps + (size_t)vcpu * p->maplen, maplen < p->maplen ? maplen : p->maplen);
    return HV_OK;
}

static int lv_set_memory(struct hv *hv, const unsigned char *uuid, uint64_t kib)
{
    struct lv *p = hv_priv(hv);
    struct dom_entry *e = entry_for(p, uuid);

    if (!e)
        return p->conn ? HV_GONE : HV_CONN;
    if (kib > ULONG_MAX)
        return HV_FAIL;
    hv_count_calls(hv, 1);
    if (virDomainSetMemoryFlags(e->dom, (unsigned long)kib, VIR_DOMAIN_AFFECT_LIVE) < 0)
        return classify(p, "set the balloon target", virDomainGetName(e->dom));
    return HV_OK;
}

static int lv_enable_memstats(struct hv *hv, const unsigned char *uuid, int period_s)
{
    struct lv *p = hv_priv(hv);
    struct dom_entry *e = entry_for(p, uuid);

    if (!e)
        return p->conn ? HV_GONE : HV_CONN;
    hv_count_calls(hv, 1);
    if (virDomainSetMemoryStatsPeriod(e->dom, period_s, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        int code = virGetLastErrorCode();
        if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID)
            return HV_GONE;
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
        if (!e->memstats_warned)
            log_warning("cannot enable memory statistics of domain '%s': %s",
                        virDomainGetName(e->dom), last_error());
        e->memstats_warned = true;
        return HV_FAIL;
    }
    return HV_OK;
}

static void disconnect(struct lv *p)
{
    cache_clear(p);
    if (p->conn)
        virConnectClose(p->conn);
    p->conn = NULL;
}

/* Opens the connection and reads what does not change while connected. */
static int connect_to(struct lv *p, struct hv *hv)
{
    hv_count_calls(hv, 1);
    p->conn = virConnectOpenAuth(p->uri, virConnectAuthPtrDefault, 0);
    if (!p->conn)
        return -1;
    /* Drivers in this process (test:///) have no keepalive and need none. */
    if (virConnectSetKeepAlive(p->conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0) {
        log_debug("no keepalive on this connection: %s", last_error());
        virResetLastError();
    }
    if (read_host_cpus(p, hv) < 0) {
        disconnect(p);
        return -1;
    }
    probe_node(p, hv);
    p->local = host_is_local(p->conn);
    return 0;
}

static int lv_reconnect(struct hv *hv)
{
    struct lv *p = hv_priv(hv);

    disconnect(p);
    if (connect_to(p, hv) < 0) {
        log_debug("reconnect to '%s' failed: %s", p->uri ? p->uri : "default", last_error());
        return HV_CONN;
    }
    return HV_OK;
}

static void lv_close(struct hv *hv)
{
    struct lv *p = hv_priv(hv);

    if (!p)
        return;
    disconnect(p);
    events_stop();
    free(p->doms);
    free(p->online);
    free(p->cpu_st);
    free(p->mem_st);
    free(p->vinfo);
    free(p->uri);
    free(p);
}

static const struct hv_ops lv_ops = {
        .name = "libvirt",
        .sample = lv_sample,
        .set_affinity = lv_set_affinity,
        .get_affinity = lv_get_affinity,
        .set_memory = lv_set_memory,
        .enable_memstats = lv_enable_memstats,
        .reconnect = lv_reconnect,
        .close = lv_close,
};

struct hv *hv_libvirt_open(const char *uri)
{
    struct lv *p = calloc(1, sizeof(*p));
    struct hv *hv;

    if (!p)
        return NULL;
    virSetErrorFunc(NULL, silent_error);
    if (virInitialize() < 0) {
        free(p);
        log_error("cannot initialise libvirt");
        return NULL;
    }
    if (events_start() < 0) {
        free(p);
        log_error("cannot start libvirt's event loop: %s", last_error());
        return NULL;
    }
    if (uri && !(p->uri = strdup(uri))) {
        free(p);
        events_stop();
        return NULL;
    }
    hv = hv_create(&lv_ops, p);
    if (!hv) {
        free(p->uri);
        free(p);
        events_stop();
        return NULL;
    }
    if (connect_to(p, hv) < 0) {
        log_error("cannot connect to '%s': %s", uri ? uri : "the default hypervisor", last_error());
        hv_destroy(hv);
        return NULL;
    }
    return hv;
}
