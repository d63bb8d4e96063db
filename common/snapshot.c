/* Snapshot storage: flat arrays reused from sample to sample. */
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct snap {
    uint64_t time_ns;
    int npcpus;
    bool has_pcpu;
    uint64_t *pcpu_busy;
    struct pcpu_topo {
        bool online;
        int node, core;
    } * topo;
    int pcpu_cap;
    unsigned char *maps; /* domains' pCPU maps */
    size_t maps_len, maps_cap;
    struct snap_tune *tunes; /* what domains declare (snap_domain.tune_idx) */
    size_t ntunes, tunes_cap;
    bool has_host_mem;
    uint64_t host_total_kib;
    uint64_t host_free_kib;
    uint64_t node_known; /* bit n: node_free_kib[n] was recorded */
    uint64_t node_free_kib[SNAP_MAX_NODES];
    struct snap_domain *domains;
    size_t ndomains, domains_cap;
    struct snap_vcpu *vcpus;
    size_t nvcpus, vcpus_cap;
    char *names;
    size_t names_len, names_cap;
};

struct snap *snap_create(void)
{
    return calloc(1, sizeof(struct snap));
}

void snap_destroy(struct snap *s)
{
    if (!s)
        return;
    free(s->pcpu_busy);
    free(s->topo);
    free(s->maps);
    free(s->tunes);
    free(s->domains);
    free(s->vcpus);
    free(s->names);
    free(s);
}

int snap_reset(struct snap *s, uint64_t time_ns, int npcpus)
{
    if (npcpus < 1)
        return -1;
    if (npcpus > s->pcpu_cap) {
        uint64_t *b = realloc(s->pcpu_busy, (size_t)npcpus * sizeof(*b));
        struct pcpu_topo *t;
        if (!b)
            return -1;
        s->pcpu_busy = b;
        t = realloc(s->topo, (size_t)npcpus * sizeof(*t));
        if (!t)
            return -1;
        s->topo = t;
        s->pcpu_cap = npcpus;
    }
    memset(s->pcpu_busy, 0, (size_t)npcpus * sizeof(*s->pcpu_busy));
    for (int c = 0; c < npcpus; c++)
        s->topo[c] = (struct pcpu_topo){true, 0, c};
    s->maps_len = 0;
    s->ntunes = 0;
    s->time_ns = time_ns;
    s->npcpus = npcpus;
    s->has_pcpu = true;
    s->has_host_mem = false;
    s->host_total_kib = 0;
    s->host_free_kib = 0;
    s->node_known = 0;
    s->ndomains = 0;
    s->nvcpus = 0;
    s->names_len = 0;
    return 0;
}

void snap_set_pcpu_busy(struct snap *s, int cpu, uint64_t busy_ns)
{
    if (cpu >= 0 && cpu < s->npcpus)
        s->pcpu_busy[cpu] = busy_ns;
}

void snap_set_pcpu_topology(struct snap *s, int cpu, bool online, int node, int core)
{
    if (cpu >= 0 && cpu < s->npcpus)
        s->topo[cpu] = (struct pcpu_topo){online, node, core};
}

void snap_clear_pcpu(struct snap *s)
{
    s->has_pcpu = false;
}

void snap_set_host_memory(struct snap *s, uint64_t total_kib, uint64_t free_kib)
{
    s->has_host_mem = true;
    s->host_total_kib = total_kib;
    s->host_free_kib = free_kib;
}

void snap_set_node_free(struct snap *s, int node, uint64_t free_kib)
{
    if (node < 0 || node >= SNAP_MAX_NODES)
        return;
    s->node_free_kib[node] = free_kib;
    s->node_known |= 1ull << node;
}

struct snap_domain *snap_add_domain(struct snap *s, const unsigned char *uuid, const char *name,
                                    uint32_t nvcpus)
{
    size_t namelen = strlen(name) + 1;
    struct snap_domain *d;

    if (s->nvcpus + nvcpus > UINT32_MAX || s->names_len + namelen > UINT32_MAX)
        return NULL;
    if (util_grow((void **)&s->domains, &s->domains_cap, s->ndomains + 1, sizeof(*s->domains)) <
                0 ||
        util_grow((void **)&s->vcpus, &s->vcpus_cap, s->nvcpus + nvcpus, sizeof(*s->vcpus)) < 0 ||
        util_grow((void **)&s->names, &s->names_cap, s->names_len + namelen, 1) < 0)
        return NULL;
    d = &s->domains[s->ndomains++];
    memset(d, 0, sizeof(*d));
    memcpy(d->uuid, uuid, SNAP_UUID_LEN);
    d->name_off = (uint32_t)s->names_len;
    memcpy(s->names + s->names_len, name, namelen);
    s->names_len += namelen;
    d->vcpu_first = (uint32_t)s->nvcpus;
    d->nvcpus = nvcpus;
    d->state = SNAP_RUNNING;
    for (int m = 0; m < SNAP_MAP_COUNT; m++)
        d->map_off[m] = UINT32_MAX;
    d->pins_off = UINT32_MAX;
    d->tune_idx = UINT32_MAX;
    for (uint32_t i = 0; i < nvcpus; i++) {
        struct snap_vcpu *v = &s->vcpus[s->nvcpus + i];
        memset(v, 0, sizeof(*v));
        v->pin = -1;
    }
    s->nvcpus += nvcpus;
    return d;
}

void snap_drop_last(struct snap *s)
{
    struct snap_domain *d;

    if (s->ndomains == 0)
        return;
    d = &s->domains[--s->ndomains];
    s->nvcpus = d->vcpu_first;
    s->names_len = d->name_off;
    for (int m = 0; m < SNAP_MAP_COUNT; m++)
        if (d->map_off[m] != UINT32_MAX && d->map_off[m] < s->maps_len)
            s->maps_len = d->map_off[m];
    if (d->pins_off != UINT32_MAX && d->pins_off < s->maps_len)
        s->maps_len = d->pins_off;
    if (d->tune_idx != UINT32_MAX && d->tune_idx < s->ntunes)
        s->ntunes = d->tune_idx;
}

size_t snap_maplen(const struct snap *s)
{
    return ((size_t)s->npcpus + 7) / 8;
}

/* Appends LEN bytes of MAPS (NULL: zeros) to S's map buffer at *OFF; returns 0, or -1 when out
 * of memory. */
static int add_maps(struct snap *s, const unsigned char *maps, size_t len, uint32_t *off)
{
    if (s->maps_len + len >= UINT32_MAX ||
        util_grow((void **)&s->maps, &s->maps_cap, s->maps_len + len, 1) < 0)
        return -1;
    if (maps)
        memcpy(s->maps + s->maps_len, maps, len);
    else
        memset(s->maps + s->maps_len, 0, len);
    *off = (uint32_t)s->maps_len;
    s->maps_len += len;
    return 0;
}

int snap_set_domain_map(struct snap *s, struct snap_domain *d, enum snap_map which,
                        const unsigned char *map)
{
    return add_maps(s, map, snap_maplen(s), &d->map_off[which]);
}

int snap_set_defined_pins(struct snap *s, struct snap_domain *d, const unsigned char *maps,
                          uint32_t n)
{
    size_t len = snap_maplen(s), have = (size_t)(n < d->nvcpus ? n : d->nvcpus) * len;

    if (d->nvcpus == 0)
        return 0;
    if (add_maps(s, NULL, (size_t)d->nvcpus * len, &d->pins_off) < 0)
        return -1;
    memcpy(s->maps + d->pins_off, maps, have);
    return 0;
}

const unsigned char *snap_vcpu_defined_pin(const struct snap *s, const struct snap_domain *d,
                                           uint32_t k)
{
    if (d->pins_off == UINT32_MAX || k >= d->nvcpus)
        return NULL;
    return s->maps + d->pins_off + (size_t)k * snap_maplen(s);
}

int snap_set_domain_tune(struct snap *s, struct snap_domain *d, const struct snap_tune *t)
{
    if (d->tune_idx != UINT32_MAX && d->tune_idx < s->ntunes) {
        s->tunes[d->tune_idx] = *t;
        return 0;
    }
    if (s->ntunes + 1 >= UINT32_MAX ||
        util_grow((void **)&s->tunes, &s->tunes_cap, s->ntunes + 1, sizeof(*s->tunes)) < 0)
        return -1;
    s->tunes[s->ntunes] = *t;
    d->tune_idx = (uint32_t)s->ntunes++;
    return 0;
}

const struct snap_tune *snap_domain_tune(const struct snap *s, const struct snap_domain *d)
{
    return d->tune_idx < s->ntunes ? &s->tunes[d->tune_idx] : NULL;
}

const unsigned char *snap_domain_map(const struct snap *s, const struct snap_domain *d,
                                     enum snap_map which)
{
    return d->map_off[which] == UINT32_MAX ? NULL : s->maps + d->map_off[which];
}

int snap_uuid_cmp(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SNAP_UUID_LEN);
}

static int domain_cmp(const void *a, const void *b)
{
    const struct snap_domain *x = a, *y = b;
    int c = snap_uuid_cmp(x->uuid, y->uuid);

    if (c)
        return c;
    return x->vcpu_first < y->vcpu_first ? -1 : x->vcpu_first > y->vcpu_first;
}

void snap_finalize(struct snap *s)
{
    size_t out = 0;

    if (s->ndomains > 1)
        qsort(s->domains, s->ndomains, sizeof(*s->domains), domain_cmp);
    /* A domain listed twice (a racing driver) keeps its first record. */
    for (size_t i = 0; i < s->ndomains; i++) {
        if (out > 0 && snap_uuid_cmp(s->domains[out - 1].uuid, s->domains[i].uuid) == 0)
            continue;
        s->domains[out++] = s->domains[i];
    }
    s->ndomains = out;
}

uint64_t snap_time_ns(const struct snap *s)
{
    return s->time_ns;
}

int snap_npcpus(const struct snap *s)
{
    return s->npcpus;
}

bool snap_has_pcpu(const struct snap *s)
{
    return s->has_pcpu;
}

uint64_t snap_pcpu_busy(const struct snap *s, int cpu)
{
    return cpu >= 0 && cpu < s->npcpus ? s->pcpu_busy[cpu] : 0;
}

bool snap_pcpu_online(const struct snap *s, int cpu)
{
    return cpu >= 0 && cpu < s->npcpus && s->topo[cpu].online;
}

int snap_pcpu_node(const struct snap *s, int cpu)
{
    return cpu >= 0 && cpu < s->npcpus ? s->topo[cpu].node : 0;
}

int snap_pcpu_core(const struct snap *s, int cpu)
{
    return cpu >= 0 && cpu < s->npcpus ? s->topo[cpu].core : cpu;
}

bool snap_has_host_memory(const struct snap *s)
{
    return s->has_host_mem;
}

uint64_t snap_host_total_kib(const struct snap *s)
{
    return s->host_total_kib;
}

uint64_t snap_host_free_kib(const struct snap *s)
{
    return s->host_free_kib;
}

bool snap_node_free_kib(const struct snap *s, int node, uint64_t *free_kib)
{
    if (node < 0 || node >= SNAP_MAX_NODES || !((s->node_known >> node) & 1))
        return false;
    *free_kib = s->node_free_kib[node];
    return true;
}

size_t snap_domain_count(const struct snap *s)
{
    return s->ndomains;
}

size_t snap_vcpu_count(const struct snap *s)
{
    return s->nvcpus;
}

const struct snap_domain *snap_domain(const struct snap *s, size_t i)
{
    return &s->domains[i];
}

struct snap_domain *snap_domain_mut(struct snap *s, size_t i)
{
    return &s->domains[i];
}

const char *snap_domain_name(const struct snap *s, const struct snap_domain *d)
{
    return s->names + d->name_off;
}

const struct snap_vcpu *snap_vcpus(const struct snap *s, const struct snap_domain *d)
{
    return s->vcpus + d->vcpu_first;
}

struct snap_vcpu *snap_vcpus_mut(struct snap *s, const struct snap_domain *d)
{
    return s->vcpus + d->vcpu_first;
}

const struct snap_vcpu *snap_all_vcpus(const struct snap *s)
{
    return s->vcpus;
}

long snap_find(const struct snap *s, const unsigned char *uuid)
{
    size_t lo = 0, hi = s->ndomains;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = snap_uuid_cmp(s->domains[mid].uuid, uuid);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void snap_match(const struct snap *prev, const struct snap *cur, long *dom_prev)
{
    size_t np = prev ? prev->ndomains : 0, j = 0;

    /* Both domain arrays are sorted by UUID: walk them together. */
    for (size_t i = 0; i < cur->ndomains; i++) {
        const unsigned char *uuid = cur->domains[i].uuid;

        while (j < np && snap_uuid_cmp(prev->domains[j].uuid, uuid) < 0)
            j++;
        dom_prev[i] = j < np && snap_uuid_cmp(prev->domains[j].uuid, uuid) == 0 ? (long)j : -1;
    }
}

void snap_uuid_format(const unsigned char *u, char *buf)
{
    snprintf(buf, SNAP_UUID_STRLEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
}
