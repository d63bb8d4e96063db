/* The domain cache: a reference and the vCPU affinity maps of every domain, kept between periods.
 */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <libvirt/libvirt.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Domains whose cached affinity is re-read each period, to notice changes made by others. */
#define AFFINITY_REFRESH_PER_PERIOD 4

static void entry_clear(struct lv_dom *e)
{
    if (e->dom)
        virDomainFree(e->dom);
    free(e->maps);
    free(e->allowed);
    free(e->emulator);
    free(e->disks);
    free(e->pins);
    memset(e, 0, sizeof(*e));
}

void lv_cache_clear(struct lv *p)
{
    for (size_t i = 0; i < p->ndoms; i++)
        entry_clear(&p->doms[i]);
    p->ndoms = 0;
}

/* Binary search of the N sorted entries DOMS for UUID. */
static struct lv_dom *find_sorted(struct lv_dom *doms, size_t n, const unsigned char *uuid)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(doms[mid].uuid, uuid, SNAP_UUID_LEN);
        if (c == 0)
            return &doms[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

struct lv_dom *lv_cache_find(struct lv *p, const unsigned char *uuid)
{
    return find_sorted(p->doms, p->ndoms, uuid);
}

static int entry_cmp(const void *a, const void *b)
{
    return memcmp(((const struct lv_dom *)a)->uuid, ((const struct lv_dom *)b)->uuid,
                  SNAP_UUID_LEN);
}

struct lv_dom *lv_cache_get(struct lv *p, virDomainPtr dom, const unsigned char *uuid,
                            size_t sorted)
{
    struct lv_dom *e = find_sorted(p->doms, sorted, uuid);

    for (size_t i = sorted; !e && i < p->ndoms; i++)
        if (memcmp(p->doms[i].uuid, uuid, SNAP_UUID_LEN) == 0)
            e = &p->doms[i];
    if (e)
        return e;
    if (util_grow((void **)&p->doms, &p->cap_doms, p->ndoms + 1, sizeof(*p->doms)) < 0)
        return NULL;
    e = &p->doms[p->ndoms++];
    memset(e, 0, sizeof(*e));
    memcpy(e->uuid, uuid, SNAP_UUID_LEN);
    if (virDomainRef(dom) == 0)
        e->dom = dom;
    return e;
}

void lv_cache_commit(struct lv *p)
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
int lv_cache_reset_maps(const struct lv *p, struct lv_dom *e, uint32_t nvcpus)
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
int lv_cache_read_affinity(struct lv *p, struct lv_dom *e, uint32_t nvcpus, const char *name)
{
    if (nvcpus == 0)
        return HV_OK;
    if (lv_cache_reset_maps(p, e, nvcpus) < 0)
        return HV_FAIL;
    if (virDomainGetVcpuPinInfo(e->dom, (int)nvcpus, e->maps, (int)p->maplen,
                                VIR_DOMAIN_AFFECT_LIVE) < 0)
        return lv_error_classify(p, LV_CALL_READ_AFFINITY, name);
    e->maps_ok = true;
    return HV_OK;
}

/* Derives each vCPU's pin (the one allowed pCPU, or -1) from E's maps. */
void lv_cache_apply_affinity(const struct lv *p, const struct lv_dom *e, struct snap_vcpu *v,
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

int lv_cache_refresh_affinity(struct lv *p, struct hv *hv, struct snap *snap)
{
    size_t nd = snap_domain_count(snap);

    for (size_t n = 0; n < AFFINITY_REFRESH_PER_PERIOD && n < nd; n++) {
        struct snap_domain *d;
        struct lv_dom *e;
        int rc;

        p->refresh_cursor = (p->refresh_cursor + 1) % nd;
        d = snap_domain_mut(snap, p->refresh_cursor);
        e = lv_cache_find(p, d->uuid);
        if (!e || d->nvcpus == 0)
            continue;
        hv_count_calls(hv, 1);
        rc = lv_cache_read_affinity(p, e, d->nvcpus, snap_domain_name(snap, d));
        if (rc == HV_CONN)
            return rc;
        if (rc == HV_OK)
            lv_cache_apply_affinity(p, e, snap_vcpus_mut(snap, d), d->nvcpus);
    }
    return HV_OK;
}
