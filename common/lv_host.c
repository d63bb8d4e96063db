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

int lv_host_read_cpus(struct lv *p, struct hv *hv)
{
    virNodeInfo info;
    unsigned char *map = NULL;
    unsigned int online = 0;
    int present;

    if (virNodeGetInfo(p->conn, &info) < 0) {
        log_error("cannot read host information: %s", lv_last_error());
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
        log_debug("per-pCPU statistics unavailable: %s", lv_last_error());
    n = 0;
    p->mem_nparams = 0;
    free(p->mem_st);
    p->mem_st = NULL;
    if (virNodeGetMemoryStats(p->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) == 0 &&
        n > 0 && (p->mem_st = calloc((size_t)n, sizeof(*p->mem_st))))
        p->mem_nparams = n;
    else
        log_debug("host memory statistics unavailable: %s", lv_last_error());
    hv_count_calls(hv, 2);
    p->bulk_ok = true;
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

int lv_host_sample_pcpus(struct lv *p, struct hv *hv, struct snapshot *snap)
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
            int rc = lv_classify_host(p, "read per-pCPU statistics");
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

int lv_host_sample_memory(struct lv *p, struct hv *hv, struct snapshot *snap)
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
                        lv_last_error());
        p->host_mem_warned = true;
        return HV_OK;
    }
    snapshot_set_host_memory(snap, p->host_total_kib, fr / 1024);
    return HV_OK;
}
