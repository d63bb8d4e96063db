/* Domain statistics: one bulk call for every domain, per-domain calls for what it lacks. */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <libvirt/libvirt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

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

/* Where each memory statistic goes in struct snap_mem, with its flag: by its virDomainMemoryStats()
 * tag, and by its name in a bulk record (after "balloon."). */
static const struct {
    const char *name; /* bulk field */
    size_t off;       /* of a uint64_t in struct snap_mem */
    int tag;          /* VIR_DOMAIN_MEMORY_STAT_*, or -1: bulk only */
    uint32_t flag;
} mem_fields[] = {
        {"current", offsetof(struct snap_mem, actual_kib), VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON,
         SNAP_MEM_BALLOON},
        {"maximum", offsetof(struct snap_mem, max_kib), -1, 0},
        {"unused", offsetof(struct snap_mem, unused_kib), VIR_DOMAIN_MEMORY_STAT_UNUSED,
         SNAP_MEM_UNUSED},
        {"available", offsetof(struct snap_mem, available_kib), VIR_DOMAIN_MEMORY_STAT_AVAILABLE,
         SNAP_MEM_AVAILABLE},
        {"usable", offsetof(struct snap_mem, usable_kib), VIR_DOMAIN_MEMORY_STAT_USABLE,
         SNAP_MEM_USABLE},
        {"rss", offsetof(struct snap_mem, rss_kib), VIR_DOMAIN_MEMORY_STAT_RSS, SNAP_MEM_RSS},
        {"last-update", offsetof(struct snap_mem, last_update), VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE,
         SNAP_MEM_UPDATE},
        {"disk_caches", offsetof(struct snap_mem, disk_caches_kib),
         VIR_DOMAIN_MEMORY_STAT_DISK_CACHES, SNAP_MEM_DISK_CACHES},
        {"major_fault", offsetof(struct snap_mem, major_fault), VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT,
         SNAP_MEM_MAJOR_FAULT},
        {"minor_fault", offsetof(struct snap_mem, minor_fault), VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT,
         SNAP_MEM_MINOR_FAULT},
        {"swap_in", offsetof(struct snap_mem, swap_in_kib), VIR_DOMAIN_MEMORY_STAT_SWAP_IN,
         SNAP_MEM_SWAP_IN},
        {"swap_out", offsetof(struct snap_mem, swap_out_kib), VIR_DOMAIN_MEMORY_STAT_SWAP_OUT,
         SNAP_MEM_SWAP_OUT},
        {"hugetlb_pgalloc", offsetof(struct snap_mem, hugetlb_pgalloc),
         VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC, SNAP_MEM_HUGETLB},
        {"hugetlb_pgfail", offsetof(struct snap_mem, hugetlb_pgfail),
         VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL, SNAP_MEM_HUGETLB},
};

#define NMEM_FIELDS (sizeof(mem_fields) / sizeof(mem_fields[0]))

static void store_mem(struct snap_mem *m, size_t k, uint64_t val)
{
    memcpy((char *)m + mem_fields[k].off, &val, sizeof(val));
    m->flags |= mem_fields[k].flag;
}

/* Fills the memory part of D from a virDomainMemoryStats() answer, but for the balloon size:
 * that one is live there (QEMU's query-balloon), while the bulk statistics and
 * virDomainGetInfo give the size of the last balloon-change event, up to a second older; every
 * sample takes the event's, so that sizes of one source are compared
 * (docs/EVIDENCE.md#balloon-size-sources). */
static void mem_from_stats(struct snap_mem *m, const virDomainMemoryStatStruct *st, int n)
{
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < NMEM_FIELDS; k++)
            if (mem_fields[k].tag == st[i].tag) {
                if (st[i].tag != VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON)
                    store_mem(m, k, st[i].val);
                break;
            }
}

/* The last domain added to SNAP: the one being sampled. */
static struct snap_domain *last_domain(struct snap *snap)
{
    return snap_domain_mut(snap, snap_domain_count(snap) - 1);
}

/* Reads the vCPU times and pins of E (domain NAME; INFO just read) with virDomainGetVcpus. */
static int slow_vcpus(const struct lv_sampling *s, struct lv_dom *e, const char *name,
                      const virDomainInfo *info)
{
    struct lv *p = s->p;
    uint32_t nv = info->nrVirtCpu;
    struct snap_domain *d = last_domain(s->snap);
    struct snap_vcpu *v;
    int got;

    if (nv != d->nvcpus) {
        /* Re-add the domain with the right number of vCPUs. */
        unsigned char uuid[SNAP_UUID_LEN];
        memcpy(uuid, d->uuid, SNAP_UUID_LEN);
        snap_drop_last(s->snap);
        d = snap_add_domain(s->snap, uuid, name, nv);
        if (!d)
            return HV_FAIL;
        d->state = map_state(info->state);
    }
    if (nv == 0)
        return HV_OK;
    if (util_grow((void **)&p->vinfo, &p->vinfo_cap, nv, sizeof(*p->vinfo)) < 0 ||
        lv_cache_reset_maps(p, e, nv) < 0)
        return HV_FAIL;
    hv_count_calls(s->hv, 1);
    got = virDomainGetVcpus(e->dom, p->vinfo, (int)nv, e->maps, (int)p->maplen);
    if (got < 0)
        return lv_error_classify(p, LV_CALL_READ_VCPUS, name);
    e->maps_ok = true;
    v = snap_vcpus_mut(s->snap, d);
    for (int i = 0; i < got; i++) {
        uint32_t k = p->vinfo[i].number;
        if (k >= nv)
            continue;
        v[k].time_ns = p->vinfo[i].cpuTime;
        if (p->vinfo[i].state == VIR_VCPU_OFFLINE)
            v[k].flags |= SNAP_VCPU_OFFLINE;
    }
    lv_cache_apply_affinity(p, e, v, nv);
    return HV_OK;
}

/* Reads the balloon and guest memory statistics of E (domain NAME, INFO just read). */
static int slow_memory(const struct lv_sampling *s, struct lv_dom *e, const char *name,
                       const virDomainInfo *info)
{
    virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
    struct snap_domain *d = last_domain(s->snap);
    int n;

    d->mem.actual_kib = info->memory;
    d->mem.max_kib = info->maxMem;
    d->mem.flags |= SNAP_MEM_BALLOON;
    hv_count_calls(s->hv, 1);
    n = virDomainMemoryStats(e->dom, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
    if (n < 0) {
        int rc = lv_error_classify(s->p, LV_CALL_READ_MEMSTATS, name);
        if (rc != HV_FAIL)
            return rc;
        n = 0; /* keep the balloon size; no guest statistics this period */
    }
    mem_from_stats(&d->mem, st, n);
    return HV_OK;
}

/* Reads the bytes read from E's disks (domain NAME) with one call per disk into the last domain
 * of the sample. A disk that fails is left out; the sum is measured when one answered. */
static int slow_block(const struct lv_sampling *s, struct lv_dom *e, const char *name)
{
    struct snap_domain *d = last_domain(s->snap);
    const char *disk = e->disks;

    for (uint32_t i = 0; i < e->ndisks; i++, disk += strlen(disk) + 1) {
        virDomainBlockStatsStruct st;
        hv_count_calls(s->hv, 1);
        if (virDomainBlockStats(e->dom, disk, &st, sizeof(st)) < 0) {
            int rc = lv_error_classify_once(s->p, LV_CALL_READ_BLOCK, name, &e->block_warned);
            if (rc != HV_FAIL)
                return rc;
            continue;
        }
        if (st.rd_bytes >= 0) {
            d->rd_bytes += (uint64_t)st.rd_bytes;
            d->cfg |= SNAP_CFG_BLOCK_READ;
        }
    }
    return HV_OK;
}

/* Per-domain fallback for what the bulk call did not give. Returns an hv status. */
static int sample_domain_slow(const struct lv_sampling *s, struct lv_dom *e, const char *name,
                              bool need_cpu, bool need_mem)
{
    virDomainInfo info;
    int rc = HV_OK;

    if (!need_cpu && !need_mem)
        return HV_OK;
    hv_count_calls(s->hv, 1);
    if (virDomainGetInfo(e->dom, &info) < 0)
        return lv_error_classify(s->p, LV_CALL_READ_INFO, name);
    last_domain(s->snap)->state = map_state(info.state);
    if (need_cpu)
        rc = slow_vcpus(s, e, name, &info);
    if (rc == HV_OK && need_mem)
        rc = slow_memory(s, e, name, &info);
    return rc;
}

/* One bulk record, parsed. Its vCPUs are p->rec_vcpus[0 .. nvcpus-1], indexed by id. */
struct record {
    enum snap_state state;
    bool has_cpu_time;   /* "cpu.time" was there */
    uint64_t cpu_time;   /* of all the domain's threads, ns */
    bool has_vcpu;       /* "vcpu.current" was there */
    uint32_t nvcpus;     /* the highest vCPU id seen, plus one */
    struct snap_mem mem; /* SNAP_MEM_BALLOON when "balloon.current" was there */
    bool has_block;      /* "block.count" was there */
    bool has_rd;         /* a "block.N.rd.bytes" was there ... */
    uint64_t rd_bytes;   /* ... and their sum */
};

/* Adds "block.N.rd.bytes" to R's sum; other block fields are not read. */
static void parse_block(struct record *r, const char *name, uint64_t val)
{
    const char *dot;

    if (strcmp(name, "block.count") == 0) {
        r->has_block = true;
        return;
    }
    dot = strchr(name + 6, '.');
    if (name[6] < '0' || name[6] > '9' || !dot || strcmp(dot, ".rd.bytes") != 0)
        return;
    r->rd_bytes += val;
    r->has_rd = true;
}

static void parse_balloon(struct snap_mem *m, const char *field, uint64_t val)
{
    for (size_t k = 0; k < NMEM_FIELDS; k++) {
        if (strcmp(field, mem_fields[k].name) == 0) {
            store_mem(m, k, val);
            return;
        }
    }
}

/* Records FIELD of vCPU K in P's scratch, growing it to K + 1 vCPUs; -1 when out of memory. */
static int parse_vcpu(struct lv *p, struct record *r, uint32_t k, const char *field, uint64_t val)
{
    struct snap_vcpu *v;

    if (k >= r->nvcpus) {
        if (util_grow((void **)&p->rec_vcpus, &p->rec_vcpus_cap, (size_t)k + 1,
                      sizeof(*p->rec_vcpus)) < 0)
            return -1;
        /* An id the record skips is a vCPU that is not online (unplugged). */
        for (uint32_t i = r->nvcpus; i <= k; i++)
            p->rec_vcpus[i] = (struct snap_vcpu){.pin = -1, .flags = SNAP_VCPU_OFFLINE};
        r->nvcpus = k + 1;
    }
    v = &p->rec_vcpus[k];
    if (strcmp(field, "time") == 0) {
        v->time_ns = val;
    } else if (strcmp(field, "wait") == 0) {
        v->wait_ns = val; /* 0 unless the kernel keeps schedstats */
        v->flags |= SNAP_VCPU_WAIT;
    } else if (strcmp(field, "delay") == 0) {
        v->delay_ns = val; /* run_delay of /proc/PID/task/TID/schedstat */
        v->flags |= SNAP_VCPU_DELAY;
    } else if (strcmp(field, "state") == 0) {
        /* Running or blocked (halted) is online; only offline is not. */
        if (val == VIR_VCPU_OFFLINE)
            v->flags |= SNAP_VCPU_OFFLINE;
        else
            v->flags &= ~(uint32_t)SNAP_VCPU_OFFLINE;
    }
    return 0;
}

static void parse_cpu_time(struct record *r, uint64_t val)
{
    r->cpu_time = val;
    r->has_cpu_time = true;
}

/* Parses each typed parameter of REC (NULL: an empty record) once into R; -1 when out of
 * memory. */
static int parse_record(struct lv *p, const virDomainStatsRecord *rec, struct record *r)
{
    memset(r, 0, sizeof(*r));
    r->state = SNAP_RUNNING;
    for (int i = 0; rec && i < rec->nparams; i++) {
        const virTypedParameter *t = &rec->params[i];
        uint64_t val = param_u64(t);
        uint32_t k;
        const char *f;

        if (strcmp(t->field, "state.state") == 0)
            r->state = map_state((int)val);
        else if (strcmp(t->field, "vcpu.current") == 0)
            r->has_vcpu = true;
        else if (strcmp(t->field, "cpu.time") == 0)
            parse_cpu_time(r, val);
        else if (strncmp(t->field, "balloon.", 8) == 0)
            parse_balloon(&r->mem, t->field + 8, val);
        else if (strncmp(t->field, "block.", 6) == 0)
            parse_block(r, t->field, val);
        else if (parse_vcpu_field(t->field, &k, &f) && parse_vcpu(p, r, k, f, val) < 0)
            return -1;
    }
    return 0;
}

/* Copies R's vCPUs (NVCPUS of them) into D, with the pins of E's cached (or fresh) maps. */
static int record_vcpus(const struct lv_sampling *s, struct lv_dom *e, struct snap_domain *d,
                        uint32_t nvcpus)
{
    struct snap_vcpu *v = snap_vcpus_mut(s->snap, d);
    int rc;

    memcpy(v, s->p->rec_vcpus, nvcpus * sizeof(*v));
    if (!e->maps_ok || e->nmaps != nvcpus) {
        rc = lv_cache_read_affinity(s->p, e, nvcpus, snap_domain_name(s->snap, d));
        hv_count_calls(s->hv, 1);
        if (rc != HV_OK)
            return rc;
    }
    lv_cache_apply_affinity(s->p, e, v, nvcpus);
    return HV_OK;
}

/* Asks domain NAME directly for what its record R lacked. */
static int complete_record(const struct lv_sampling *s, struct lv_dom *e, const char *name,
                           const struct record *r)
{
    bool has_balloon = (r->mem.flags & SNAP_MEM_BALLOON) != 0;
    /* With NOWAIT, a domain busy with another client's job comes back with its balloon size
     * but without the guest's statistics: when the guest reported them last period, ask it
     * directly (this waits for the job) (docs/EVIDENCE.md#bulk-stats-nowait). */
    bool stats_skipped = has_balloon && e->memstats_seen && !(r->mem.flags & SNAP_MEM_UNUSED);
    bool need_cpu = (s->what & HV_SAMPLE_CPU) && !r->has_vcpu;
    bool need_mem = (s->what & HV_SAMPLE_MEM) && (!has_balloon || stats_skipped);
    /* Without a job (NOWAIT, another client's job) or without the group (drivers that lack it)
     * the record names disks without their figures, or none: ask each disk
     * (docs/EVIDENCE.md#bulk-stats-block). */
    bool need_block = (s->what & HV_SAMPLE_BLOCK) && !r->has_rd && e->ndisks > 0;
    int rc = sample_domain_slow(s, e, name, need_cpu, need_mem);

    return rc == HV_OK && need_block ? slow_block(s, e, name) : rc;
}

/* Adds domain NAME of entry E to the snapshot from its parsed record R. */
static int add_from_record(const struct lv_sampling *s, struct lv_dom *e, const char *name,
                           const struct record *r)
{
    uint32_t nvcpus = (s->what & HV_SAMPLE_CPU) && r->has_vcpu ? r->nvcpus : 0;
    struct snap_domain *d = snap_add_domain(s->snap, e->uuid, name, nvcpus);
    int rc = HV_OK;

    if (!d)
        return HV_FAIL;
    d->state = r->state;
    d->mem = r->mem;
    if (r->has_cpu_time) {
        d->cpu_time_ns = r->cpu_time;
        d->cfg |= SNAP_CFG_CPU_TIME;
    }
    if (r->has_rd && (s->what & HV_SAMPLE_BLOCK)) {
        d->rd_bytes = r->rd_bytes;
        d->cfg |= SNAP_CFG_BLOCK_READ;
    }
    if (nvcpus)
        rc = record_vcpus(s, e, d, nvcpus);
    if (rc == HV_OK)
        rc = complete_record(s, e, name, r);
    if (rc != HV_OK) {
        /* One domain failing (or vanishing) does not stop the others: leave it out this
         * period. */
        snap_drop_last(s->snap);
        e->seen = rc != HV_GONE;
        return rc == HV_CONN ? HV_CONN : HV_OK;
    }
    if (s->what & HV_SAMPLE_MEM)
        e->memstats_seen = (last_domain(s->snap)->mem.flags & SNAP_MEM_UNUSED) != 0;
    return HV_OK;
}

/* Adds one domain from a bulk record (or from a plain handle when REC is NULL). */
static int add_domain(const struct lv_sampling *s, virDomainPtr dom,
                      const virDomainStatsRecord *rec)
{
    const char *name = virDomainGetName(dom);
    unsigned char uuid[SNAP_UUID_LEN];
    struct lv_dom *e;
    struct record r;

    if (!name || virDomainGetUUID(dom, uuid) < 0)
        return HV_OK;
    if (s->filter && !s->filter(name, s->arg))
        return HV_OK;
    e = lv_cache_get(s->p, dom, uuid, s->sorted);
    if (!e || !e->dom)
        return HV_FAIL;
    e->seen = true;
    if (parse_record(s->p, rec, &r) < 0)
        return HV_FAIL;
    return add_from_record(s, e, name, &r);
}

/* Adds every active domain from one bulk call; *DONE is false when the driver has none. */
static int sample_bulk(const struct lv_sampling *s, bool *done)
{
    struct lv *p = s->p;
    virDomainStatsRecordPtr *recs = NULL;
    unsigned int stats = VIR_DOMAIN_STATS_STATE;
    int rc = HV_OK, n;

    if (s->what & HV_SAMPLE_CPU)
        stats |= VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_CPU_TOTAL;
    if (s->what & HV_SAMPLE_MEM)
        stats |= VIR_DOMAIN_STATS_BALLOON;
    if (s->what & HV_SAMPLE_BLOCK)
        stats |= VIR_DOMAIN_STATS_BLOCK;
    hv_count_calls(s->hv, 1);
    n = virConnectGetAllDomainStats(p->conn, stats, &recs,
                                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                            VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (n < 0) {
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
        log_debug("bulk statistics unavailable (%s); using per-domain calls", lv_error_message());
        p->bulk_ok = false;
        return HV_OK;
    }
    for (int i = 0; i < n && rc == HV_OK; i++)
        rc = add_domain(s, recs[i]->dom, recs[i]);
    virDomainStatsRecordListFree(recs);
    *done = true;
    return rc;
}

/* Adds every active domain with per-domain calls. */
static int sample_listed(const struct lv_sampling *s)
{
    virDomainPtr *doms = NULL;
    int rc = HV_OK, n;

    hv_count_calls(s->hv, 1);
    n = virConnectListAllDomains(s->p->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0)
        return lv_error_classify_host(s->p, LV_CALL_LIST_DOMAINS);
    for (int i = 0; i < n; i++) {
        if (rc == HV_OK)
            rc = add_domain(s, doms[i], NULL);
        virDomainFree(doms[i]);
    }
    free(doms);
    return rc;
}

int lv_stats_sample_domains(const struct lv_sampling *s, bool *bulk_done)
{
    int rc = HV_OK;

    *bulk_done = false;
    if (s->p->bulk_ok)
        rc = sample_bulk(s, bulk_done);
    if (!*bulk_done && rc == HV_OK)
        rc = sample_listed(s);
    return rc;
}
