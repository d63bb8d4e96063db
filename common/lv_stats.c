/* Domain statistics: one bulk call for every domain, per-domain calls for what it lacks. */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <libvirt/libvirt.h>
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
        return lv_classify(p, "read information", name);
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
            if (util_grow((void **)&p->vinfo, &p->vinfo_cap, nv, sizeof(*p->vinfo)) < 0)
                return HV_FAIL;
            vi = p->vinfo;
            if (lv_cache_reset_maps(p, e, nv) < 0)
                return HV_FAIL;
            hv_count_calls(hv, 1);
            got = virDomainGetVcpus(e->dom, vi, (int)nv, e->maps, (int)p->maplen);
            if (got < 0)
                return lv_classify(p, "read vCPU statistics", name);
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
            lv_cache_apply_affinity(p, e, v, nv);
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
            int rc = lv_classify(p, "read memory statistics", name);
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
    e = lv_cache_get(p, dom, uuid, sorted);
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
                rc = lv_cache_read_affinity(p, e, nvcpus, name);
                hv_count_calls(hv, 1);
                if (rc != HV_OK)
                    goto fail;
            }
            lv_cache_apply_affinity(p, e, v, nvcpus);
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

/* Adds every active domain from one bulk call; *DONE is false when the driver has none. */
static int sample_bulk(const struct lv_sampling *s, bool *done)
{
    struct lv *p = s->p;
    virDomainStatsRecordPtr *recs = NULL;
    unsigned int stats = VIR_DOMAIN_STATS_STATE;
    int rc = HV_OK, n;

    if (s->what & HV_SAMPLE_CPU)
        stats |= VIR_DOMAIN_STATS_VCPU;
    if (s->what & HV_SAMPLE_MEM)
        stats |= VIR_DOMAIN_STATS_BALLOON;
    hv_count_calls(s->hv, 1);
    n = virConnectGetAllDomainStats(p->conn, stats, &recs,
                                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                            VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (n < 0) {
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
        log_debug("bulk statistics unavailable (%s); using per-domain calls", lv_last_error());
        p->bulk_ok = false;
        return HV_OK;
    }
    for (int i = 0; i < n && rc == HV_OK; i++)
        rc = add_domain(p, s->hv, s->snap, recs[i]->dom, recs[i], s->what, s->sorted, s->filter,
                        s->arg);
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
        return lv_classify_host(s->p, "list domains");
    for (int i = 0; i < n; i++) {
        if (rc == HV_OK)
            rc = add_domain(s->p, s->hv, s->snap, doms[i], NULL, s->what, s->sorted, s->filter,
                            s->arg);
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
