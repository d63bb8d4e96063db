/* The host as libvirt (or, on this machine, /proc) reports it: pCPUs, their busy time, memory. */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xmlscan.h"

/* The topology the capabilities describe, gathered while scanning them. */
struct topo_scan {
    struct lv *p;
    int cell;   /* the cell being read */
    int max_id; /* highest CPU id seen */
};

static bool topo_cpu(void *arg, const struct xmlscan_elem *e)
{
    struct topo_scan *t = arg;
    const char *id = xmlscan_get(e, "id");
    int cpu, socket, die, core;

    if (xmlscan_is(e, "capabilities/host/topology/cells/cell") && id)
        t->cell = atoi(id);
    if (!xmlscan_is(e, "capabilities/host/topology/cells/cell/cpus/cpu") || !id)
        return true;
    cpu = atoi(id);
    t->max_id = cpu > t->max_id ? cpu : t->max_id;
    if (cpu < 0 || cpu >= t->p->npcpus)
        return true;
    socket = xmlscan_get(e, "socket_id") ? atoi(xmlscan_get(e, "socket_id")) : 0;
    die = xmlscan_get(e, "die_id") ? atoi(xmlscan_get(e, "die_id")) : 0;
    core = xmlscan_get(e, "core_id") ? atoi(xmlscan_get(e, "core_id")) : cpu;
    t->p->node[cpu] = t->cell;
    /* Threads of one physical core share socket, die and core ids. */
    t->p->core[cpu] = (socket * 64 + die) * 65536 + core;
    return true;
}

/* Reads each pCPU's NUMA node and physical core from the capabilities; without a topology,
 * one node and a core per pCPU. Returns the highest CPU id the capabilities name, or -1. */
static int read_topology(struct lv *p, struct hv *hv)
{
    struct topo_scan t = {p, 0, -1};
    char *caps;

    for (int c = 0; c < p->npcpus; c++) {
        p->node[c] = 0;
        p->core[c] = -1 - c;
    }
    hv_count_calls(hv, 1);
    caps = virConnectGetCapabilities(p->conn);
    if (!caps) {
        log_debug("no host capabilities: %s", lv_error_message());
        return -1;
    }
    if (xmlscan_walk(caps, topo_cpu, &t) < 0)
        log_warning("cannot read the host topology: malformed capabilities");
    free(caps);
    return t.max_id;
}

/* Sizes the per-pCPU arrays for P->npcpus pCPUs; 0 or -1. */
static int size_pcpus(struct lv *p)
{
    size_t n;

    if (p->npcpus < 1)
        return -1;
    n = (size_t)p->npcpus;
    free(p->online);
    free(p->node);
    free(p->core);
    free(p->cpumap);
    p->maplen = VIR_CPU_MAPLEN(p->npcpus);
    p->online = calloc(n, 1);
    p->node = calloc(n, sizeof(int));
    p->core = calloc(n, sizeof(int));
    p->cpumap = calloc(p->maplen, 1);
    return p->online && p->node && p->core && p->cpumap ? 0 : -1;
}

/* Takes MAP (PRESENT pCPUs, libvirt's online map; NULL: every pCPU) as the online set. */
static void take_online(struct lv *p, const unsigned char *map, int present)
{
    memset(p->cpumap, 0, p->maplen);
    for (int c = 0; c < p->npcpus; c++) {
        p->online[c] = map ? c < present && VIR_CPU_USED(map, c) : 1;
        if (p->online[c])
            VIR_USE_CPU(p->cpumap, c);
    }
}

int lv_host_read_cpus(struct lv *p, struct hv *hv)
{
    virNodeInfo info;
    unsigned char *map = NULL;
    unsigned int online = 0;
    int present, max_id;

    if (virNodeGetInfo(p->conn, &info) < 0) {
        log_error("cannot read host information: %s", lv_error_message());
        return -1;
    }
    present = virNodeGetCPUMap(p->conn, &map, &online, 0);
    hv_count_calls(hv, 2);
    /* Ids need not be contiguous, nor all online: the map covers every id any source names. */
    p->npcpus = (int)info.cpus > present ? (int)info.cpus : present;
    if (p->npcpus < 1 || size_pcpus(p) < 0) {
        free(map);
        log_error("the host reports no CPUs");
        return -1;
    }
    max_id = read_topology(p, hv);
    if (max_id >= p->npcpus) {
        p->npcpus = max_id + 1;
        if (size_pcpus(p) < 0) {
            free(map);
            return -1;
        }
        read_topology(p, hv);
    }
    take_online(p, present > 0 ? map : NULL, present);
    free(map);
    p->host_total_kib = info.memory;
    return 0;
}

int lv_host_check_online(struct lv *p, struct hv *hv)
{
    unsigned char *map = NULL;
    unsigned int online = 0;
    int present;
    char was[256], now[256];

    hv_count_calls(hv, 1);
    present = virNodeGetCPUMap(p->conn, &map, &online, 0);
    if (present < 0) {
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
        return HV_OK; /* no map: keep what we have */
    }
    if (present > p->npcpus) {
        /* More CPUs than the maps cover (hot-added): size everything again; cached maps
         * of the old size go. */
        free(map);
        lv_cache_clear(p);
        return lv_host_read_cpus(p, hv) < 0 ? HV_FAIL : HV_OK;
    }
    if (memcmp(map, p->cpumap, VIR_CPU_MAPLEN(present)) != 0 ||
        (size_t)VIR_CPU_MAPLEN(present) != p->maplen) {
        util_format_cpulist(p->cpumap, p->npcpus, was, sizeof(was));
        take_online(p, map, present);
        util_format_cpulist(p->cpumap, p->npcpus, now, sizeof(now));
        if (strcmp(was, now) != 0) {
            log_info("online pCPUs changed from %s to %s", was, now);
            read_topology(p, hv);
        }
    }
    free(map);
    return HV_OK;
}

void lv_host_topology_into(const struct lv *p, struct snap *snap)
{
    for (int c = 0; c < p->npcpus; c++)
        snap_set_pcpu_topology(snap, c, p->online[c], p->node[c], p->core[c]);
}

void lv_host_probe(struct lv *p, struct hv *hv)
{
    int n = 0;

    p->cpu_nparams = 0;
    free(p->cpu_st);
    p->cpu_st = NULL;
    if (virNodeGetCPUStats(p->conn, 0, NULL, &n, 0) == 0 && n > 0 &&
        (p->cpu_st = calloc((size_t)n, sizeof(*p->cpu_st))))
        p->cpu_nparams = n;
    else
        log_debug("per-pCPU statistics unavailable: %s", lv_error_message());
    n = 0;
    p->mem_nparams = 0;
    free(p->mem_st);
    p->mem_st = NULL;
    if (virNodeGetMemoryStats(p->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) == 0 &&
        n > 0 && (p->mem_st = calloc((size_t)n, sizeof(*p->mem_st))))
        p->mem_nparams = n;
    else
        log_debug("host memory statistics unavailable: %s", lv_error_message());
    hv_count_calls(hv, 2);
    p->bulk_ok = true;
}

/* Reads every online pCPU's busy time from /proc/stat into SNAP (what virNodeGetCPUStats reads
 * too, without one round trip per pCPU). Returns false when unreadable. */
static bool read_proc_stat(const struct lv *p, struct snap *snap)
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
        snap_set_pcpu_busy(snap, cpu,
                           (uint64_t)((double)(user + nice + sys + irq + softirq) * ns_per_tick));
        seen++;
    }
    fclose(f);
    return seen > 0;
}

int lv_host_sample_pcpus(struct lv *p, struct hv *hv, struct snap *snap)
{
    virNodeCPUStatsPtr st = p->cpu_st;
    int n;

    if (p->local && read_proc_stat(p, snap))
        return HV_OK;
    if (p->cpu_nparams <= 0) {
        snap_clear_pcpu(snap);
        return HV_OK;
    }
    for (int c = 0; c < p->npcpus; c++) {
        uint64_t busy = 0;

        if (!p->online[c])
            continue;
        n = p->cpu_nparams;
        hv_count_calls(hv, 1);
        if (virNodeGetCPUStats(p->conn, c, st, &n, 0) < 0) {
            int rc = lv_error_classify_host(p, LV_CALL_READ_PCPU_STATS);
            snap_clear_pcpu(snap);
            return rc == HV_CONN ? HV_CONN : HV_OK;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(st[i].field, VIR_NODE_CPU_STATS_KERNEL) == 0 ||
                strcmp(st[i].field, VIR_NODE_CPU_STATS_USER) == 0)
                busy += st[i].value;
        snap_set_pcpu_busy(snap, c, busy);
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

/* A real driver (not the test driver) and a URI without a remote host. */
bool lv_host_is_local(virConnectPtr conn)
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

/* True when a domain of SNAP is bound to NUMA nodes (strict numatune). */
static bool any_strict(const struct snap *snap)
{
    for (size_t i = 0; i < snap_domain_count(snap); i++)
        if (snap_domain(snap, i)->cfg & SNAP_CFG_NUMA_STRICT)
            return true;
    return false;
}

/* Records each NUMA node's free memory (virNodeGetCellsFreeMemory: the nodes' MemFree) when a
 * domain is bound to nodes; it can only grow from theirs. Returns HV_*. */
static int sample_nodes(struct lv *p, struct hv *hv, struct snap *snap)
{
    unsigned long long fr[SNAP_MAX_NODES];
    int ncells = 1, n;

    if (!any_strict(snap))
        return HV_OK;
    for (int c = 0; c < p->npcpus; c++)
        if (p->node[c] >= ncells)
            ncells = p->node[c] + 1;
    ncells = ncells > SNAP_MAX_NODES ? SNAP_MAX_NODES : ncells;
    hv_count_calls(hv, 1);
    n = virNodeGetCellsFreeMemory(p->conn, fr, 0, ncells);
    if (n < 0) {
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
        log_debug("free memory per NUMA node unavailable: %s", lv_error_message());
        return HV_OK;
    }
    for (int i = 0; i < n; i++)
        snap_set_node_free(snap, i, fr[i] / 1024);
    return HV_OK;
}

/* Records the host's total and free memory. */
static int sample_host(struct lv *p, struct hv *hv, struct snap *snap)
{
    virNodeMemoryStatsPtr st = p->mem_st;
    uint64_t total = 0, avail = 0;
    int n = p->mem_nparams;

    /* On this machine, MemAvailable: the kernel's own estimate of what can be used without
     * swapping, where libvirt's free + buffers + cached also counts memory that cannot be
     * reclaimed (docs/EVIDENCE.md#host-memory-memavailable). */
    if (p->local && read_meminfo(&total, &avail)) {
        snap_set_host_memory(snap, total, avail);
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
            snap_set_host_memory(snap, total ? total : p->host_total_kib, avail);
            return HV_OK;
        }
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
    }
    /* Fallback: free memory of all NUMA cells, which may miss memory the kernel has not onlined
     * (docs/EVIDENCE.md#host-memory-memavailable). */
    hv_count_calls(hv, 1);
    unsigned long long fr = virNodeGetFreeMemory(p->conn);
    if (fr == 0) {
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
        if (!p->host_mem_warned)
            log_warning("the host's free memory is unknown (%s); no guest will be grown",
                        lv_error_message());
        p->host_mem_warned = true;
        return HV_OK;
    }
    snap_set_host_memory(snap, p->host_total_kib, fr / 1024);
    return HV_OK;
}

int lv_host_sample_memory(struct lv *p, struct hv *hv, struct snap *snap)
{
    int rc = sample_host(p, hv, snap);

    return rc == HV_OK ? sample_nodes(p, hv, snap) : rc;
}
