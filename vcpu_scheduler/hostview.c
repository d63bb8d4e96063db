/* What the vCPU scheduler may do on this host this period (see hostview.h).
 *
 * A pCPU is usable when it is online, in --cpus (or, without --cpus, not one of the
 * --emulator-cpus). A vCPU may go to the usable pCPUs of its guest's allowed map (its
 * <vcpu cpuset>, cut to its strict NUMA nodes), less the pCPUs the host refused it; with none,
 * or while its guest's configuration is unknown, or while it is offline, it is left alone. A
 * vCPU its guest's persistent definition pins (<cputune><vcpupin>, as dedicated-CPU policies
 * write it) is fixed: the administrator's, never re-pinned, whether to one pCPU or to several;
 * a live pin (an earlier run, virsh vcpupin --live) is ours to change
 * (docs/EVIDENCE.md#persistent-definition-pins). Its weight is its
 * guest's shares, its cap its <cputune> quota over its period. Its
 * home node is the node its memory is bound to, else the node of its pin, else the node holding
 * most of its guest's pinned vCPUs. A guest's emulator load is its threads' time beyond its
 * vCPUs' (cpu.time minus the vCPU times), spread over the pCPUs its emulator threads may use.
 */
#include "hostview.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A pin the host refused. */
struct refusal {
    unsigned char uuid[SNAP_UUID_LEN];
    uint32_t vcpu;
    int pcpu;
};

struct hostview {
    struct hostview_config cfg; /* with its own copies of the maps */
    int np;
    size_t maplen;
    unsigned char *usable;
    int *node, *core;
    double *emu_load;
    size_t cap_p;
    /* Per vCPU of the current sample: */
    const unsigned char **allowed;
    unsigned char *abuf; /* the restricted vCPUs' maps, maplen bytes each */
    bool *stranded, *strict, *fixed;
    double *weight, *cap;
    int *home;
    size_t cap_v, cap_abuf;
    double *emulator; /* per domain */
    size_t cap_d;
    struct refusal *refused; /* sorted by uuid, vcpu, pcpu */
    size_t nrefused, cap_refused;
};

static unsigned char *copy_map(const unsigned char *m, size_t len)
{
    unsigned char *c;

    if (!m)
        return NULL;
    c = malloc(len ? len : 1);
    if (c)
        memcpy(c, m, len);
    return c;
}

struct hostview *hostview_create(const struct hostview_config *cfg)
{
    struct hostview *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    h->cfg = *cfg;
    h->cfg.cpus = copy_map(cfg->cpus, cfg->maplen);
    h->cfg.emulator_cpus = copy_map(cfg->emulator_cpus, cfg->maplen);
    if ((cfg->cpus && !h->cfg.cpus) || (cfg->emulator_cpus && !h->cfg.emulator_cpus)) {
        hostview_destroy(h);
        return NULL;
    }
    return h;
}

void hostview_destroy(struct hostview *h)
{
    if (!h)
        return;
    free((void *)h->cfg.cpus);
    free((void *)h->cfg.emulator_cpus);
    free(h->usable);
    free(h->node);
    free(h->core);
    free(h->emu_load);
    free(h->allowed);
    free(h->abuf);
    free(h->stranded);
    free(h->strict);
    free(h->fixed);
    free(h->weight);
    free(h->cap);
    free(h->home);
    free(h->emulator);
    free(h->refused);
    free(h);
}

/* True when bit P of the configuration map M (or none) is set. */
static bool in_map(const struct hostview *h, const unsigned char *m, int p)
{
    return m && (size_t)p / 8 < h->cfg.maplen && util_bit(m, p);
}

static int size_pcpus(struct hostview *h, const struct snap *cur)
{
    size_t np = (size_t)snap_npcpus(cur);

    h->np = (int)np;
    h->maplen = snap_maplen(cur);
    if (np > h->cap_p) {
        size_t cap = h->cap_p;
        if (util_grow((void **)&h->usable, &cap, np, 1) < 0)
            return -1;
        cap = h->cap_p;
        if (util_grow((void **)&h->node, &cap, np, sizeof(int)) < 0)
            return -1;
        cap = h->cap_p;
        if (util_grow((void **)&h->core, &cap, np, sizeof(int)) < 0)
            return -1;
        cap = h->cap_p;
        if (util_grow((void **)&h->emu_load, &cap, np, sizeof(double)) < 0)
            return -1;
        h->cap_p = cap;
    }
    return 0;
}

/* Usable pCPUs and the topology. */
static void derive_pcpus(struct hostview *h, const struct snap *cur)
{
    for (int p = 0; p < h->np; p++) {
        bool in = h->cfg.cpus ? in_map(h, h->cfg.cpus, p) : !in_map(h, h->cfg.emulator_cpus, p);
        h->usable[p] = snap_pcpu_online(cur, p) && in;
        h->node[p] = snap_pcpu_node(cur, p);
        h->core[p] = snap_pcpu_core(cur, p);
        h->emu_load[p] = 0;
    }
}

static int refusal_cmp(const struct refusal *a, const unsigned char *uuid, uint32_t vcpu, int p)
{
    int c = snap_uuid_cmp(a->uuid, uuid);
    if (c)
        return c;
    if (a->vcpu != vcpu)
        return a->vcpu < vcpu ? -1 : 1;
    return a->pcpu < p ? -1 : a->pcpu > p;
}

/* The index of the first refusal not before (UUID, VCPU, P). */
static size_t refusal_at(const struct hostview *h, const unsigned char *uuid, uint32_t vcpu, int p)
{
    size_t lo = 0, hi = h->nrefused;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (refusal_cmp(&h->refused[mid], uuid, vcpu, p) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void hostview_refuse(struct hostview *h, const unsigned char *uuid, uint32_t vcpu, int p)
{
    size_t i = refusal_at(h, uuid, vcpu, p);

    if (i < h->nrefused && refusal_cmp(&h->refused[i], uuid, vcpu, p) == 0)
        return;
    if (util_grow((void **)&h->refused, &h->cap_refused, h->nrefused + 1, sizeof(*h->refused)) < 0)
        return; /* out of memory: it is retried, no worse than before */
    memmove(&h->refused[i + 1], &h->refused[i], (h->nrefused - i) * sizeof(*h->refused));
    memcpy(h->refused[i].uuid, uuid, SNAP_UUID_LEN);
    h->refused[i].vcpu = vcpu;
    h->refused[i].pcpu = p;
    h->nrefused++;
}

void hostview_forget(struct hostview *h, const struct snap *cur)
{
    size_t out = 0;

    for (size_t i = 0; i < h->nrefused; i++)
        if (snap_find(cur, h->refused[i].uuid) >= 0)
            h->refused[out++] = h->refused[i];
    h->nrefused = out;
}

/* True when vCPU K of domain D is pinned in its guest's persistent definition. */
static bool defined_pin(const struct snap *cur, const struct snap_domain *d, uint32_t k)
{
    return (snap_vcpus(cur, d)[k].flags & SNAP_VCPU_DEFINED_PIN) &&
           snap_vcpu_defined_pin(cur, d, k);
}

/* Whether vCPU K of domain D needs a map of its own: its guest restricts or pins it, or the host
 * refused it a pCPU. */
static bool restricted(const struct hostview *h, const struct snap *cur,
                       const struct snap_domain *d, uint32_t k)
{
    size_t i = refusal_at(h, d->uuid, k, -1);

    return snap_domain_map(cur, d, SNAP_MAP_ALLOWED) || defined_pin(cur, d, k) ||
           (i < h->nrefused && snap_uuid_cmp(h->refused[i].uuid, d->uuid) == 0 &&
            h->refused[i].vcpu == k);
}

/* The usable pCPUs of vCPU K of D's defined pin, into MAP. */
static void pinned_map(const struct hostview *h, const struct snap *cur,
                       const struct snap_domain *d, uint32_t k, unsigned char *map)
{
    const unsigned char *pin = snap_vcpu_defined_pin(cur, d, k);

    memset(map, 0, h->maplen);
    for (int p = 0; p < h->np; p++)
        if (h->usable[p] && util_bit(pin, p))
            map[p / 8] |= (unsigned char)(1u << (p % 8));
}

/* D's weight and cap (see hostview.h). */
static void tune_of(const struct snap *cur, const struct snap_domain *d, double *weight,
                    double *cap)
{
    const struct snap_tune *t = snap_domain_tune(cur, d);

    *weight = t && t->shares ? (double)t->shares : SNAP_DEFAULT_SHARES;
    *cap = 1;
    if (t && (t->flags & SNAP_TUNE_QUOTA) && t->vcpu_period_us > 0 &&
        t->vcpu_quota_us < t->vcpu_period_us)
        *cap = (double)t->vcpu_quota_us / (double)t->vcpu_period_us;
}

/* Builds vCPU K of domain D's own map into MAP: its guest's map and the usable pCPUs, less the
 * refused ones. Returns how many pCPUs it has. */
static int own_map(const struct hostview *h, const struct snap *cur, const struct snap_domain *d,
                   uint32_t k, unsigned char *map)
{
    const unsigned char *dm = snap_domain_map(cur, d, SNAP_MAP_ALLOWED);
    int n = 0;

    memset(map, 0, h->maplen);
    for (int p = 0; p < h->np; p++)
        if (h->usable[p] && (!dm || util_bit(dm, p)))
            map[p / 8] |= (unsigned char)(1u << (p % 8));
    for (size_t i = refusal_at(h, d->uuid, k, -1);
         i < h->nrefused && snap_uuid_cmp(h->refused[i].uuid, d->uuid) == 0 &&
         h->refused[i].vcpu == k;
         i++)
        if (h->refused[i].pcpu >= 0 && h->refused[i].pcpu < h->np)
            map[h->refused[i].pcpu / 8] &= (unsigned char)~(1u << (h->refused[i].pcpu % 8));
    for (int p = 0; p < h->np; p++)
        n += util_bit(map, p);
    return n;
}

static int size_vcpus(struct hostview *h, const struct snap *cur)
{
    size_t nv = snap_vcpu_count(cur), nd = snap_domain_count(cur), n1 = nv ? nv : 1;
    size_t restricted_n = 0, cap;

    for (size_t di = 0; di < nd; di++) {
        const struct snap_domain *d = snap_domain(cur, di);
        for (uint32_t k = 0; k < d->nvcpus; k++)
            restricted_n += restricted(h, cur, d, k);
    }
    if (n1 > h->cap_v) {
        cap = h->cap_v;
        if (util_grow((void **)&h->allowed, &cap, n1, sizeof(*h->allowed)) < 0)
            return -1;
        cap = h->cap_v;
        if (util_grow((void **)&h->stranded, &cap, n1, sizeof(bool)) < 0)
            return -1;
        cap = h->cap_v;
        if (util_grow((void **)&h->strict, &cap, n1, sizeof(bool)) < 0)
            return -1;
        cap = h->cap_v;
        if (util_grow((void **)&h->home, &cap, n1, sizeof(int)) < 0)
            return -1;
        cap = h->cap_v;
        if (util_grow((void **)&h->fixed, &cap, n1, sizeof(bool)) < 0)
            return -1;
        cap = h->cap_v;
        if (util_grow((void **)&h->weight, &cap, n1, sizeof(double)) < 0)
            return -1;
        cap = h->cap_v;
        if (util_grow((void **)&h->cap, &cap, n1, sizeof(double)) < 0)
            return -1;
        h->cap_v = cap;
    }
    return util_grow((void **)&h->abuf, &h->cap_abuf, (restricted_n ? restricted_n : 1) * h->maplen,
                     1) < 0 ||
                           util_grow((void **)&h->emulator, &h->cap_d, nd ? nd : 1,
                                     sizeof(double)) < 0
                   ? -1
                   : 0;
}

/* The lowest node of MASK with a usable pCPU, or -1. */
static int first_node(const struct hostview *h, uint64_t mask)
{
    int best = -1;

    for (int p = 0; p < h->np; p++)
        if (h->usable[p] && h->node[p] >= 0 && h->node[p] < 64 && ((mask >> h->node[p]) & 1) &&
            (best < 0 || h->node[p] < best))
            best = h->node[p];
    return best;
}

/* The node holding most of domain D's pinned (usable) vCPUs, or -1. */
static int guest_node(const struct hostview *h, const struct snap *cur, const struct snap_domain *d)
{
    const struct snap_vcpu *v = snap_vcpus(cur, d);
    int best = -1, best_n = 0;

    for (uint32_t k = 0; k < d->nvcpus; k++) {
        int node, n = 0;
        if (v[k].pin < 0 || v[k].pin >= h->np || !h->usable[v[k].pin])
            continue;
        node = h->node[v[k].pin];
        for (uint32_t j = 0; j < d->nvcpus; j++)
            n += v[j].pin >= 0 && v[j].pin < h->np && h->usable[v[j].pin] &&
                 h->node[v[j].pin] == node;
        if (n > best_n) {
            best = node;
            best_n = n;
        }
    }
    return best;
}

/* Allowed map, left-alone and fixed flags, weight, cap and home node of every vCPU of domain D.
 */
static void derive_domain(struct hostview *h, const struct snap *cur, const struct snap_domain *d,
                          size_t *nbuf)
{
    const struct snap_vcpu *v = snap_vcpus(cur, d);
    bool strict = (d->cfg & SNAP_CFG_NUMA_STRICT) != 0;
    int gnode = strict ? first_node(h, d->numa_nodes) : guest_node(h, cur, d);
    double weight, cap;

    tune_of(cur, d, &weight, &cap);
    for (uint32_t k = 0; k < d->nvcpus; k++) {
        size_t i = d->vcpu_first + k;
        int n = 1;

        h->allowed[i] = NULL;
        h->fixed[i] = defined_pin(cur, d, k);
        h->weight[i] = weight;
        h->cap[i] = cap;
        if (restricted(h, cur, d, k)) {
            unsigned char *map = h->abuf + (*nbuf)++ * h->maplen;
            n = own_map(h, cur, d, k, map);
            if (h->fixed[i])
                pinned_map(h, cur, d, k, map);
            h->allowed[i] = map;
        }
        h->stranded[i] =
                n == 0 || !(d->cfg & SNAP_CFG_KNOWN) || (v[k].flags & SNAP_VCPU_OFFLINE) != 0;
        h->strict[i] = strict && gnode >= 0;
        h->home[i] = strict || v[k].pin < 0 || v[k].pin >= h->np || !h->usable[v[k].pin]
                             ? gnode
                             : h->node[v[k].pin];
    }
}

/* Domain DI's emulator load, spread over the online pCPUs its emulator threads may use. */
static void derive_emulator(struct hostview *h, const struct snap *prev, const struct snap *cur,
                            const struct usage *u, size_t di)
{
    const struct snap_domain *d = snap_domain(cur, di), *pd;
    const unsigned char *em = snap_domain_map(cur, d, SNAP_MAP_EMULATOR);
    double load, vcpus = 0;
    int n = 0;

    h->emulator[di] = -1;
    if (!prev || !u || u->interval_s <= 0 || u->dom_prev[di] < 0 || !(d->cfg & SNAP_CFG_CPU_TIME))
        return;
    pd = snap_domain(prev, (size_t)u->dom_prev[di]);
    if (!(pd->cfg & SNAP_CFG_CPU_TIME) || d->cpu_time_ns < pd->cpu_time_ns)
        return;
    for (uint32_t k = 0; k < d->nvcpus; k++)
        vcpus += u->vcpus[d->vcpu_first + k].valid ? u->vcpus[d->vcpu_first + k].run : 0;
    load = (double)(d->cpu_time_ns - pd->cpu_time_ns) / (u->interval_s * 1e9) - vcpus;
    h->emulator[di] = load > 0 ? load : 0;
    for (int p = 0; p < h->np; p++)
        n += snap_pcpu_online(cur, p) && (!em || util_bit(em, p));
    for (int p = 0; p < h->np && n > 0; p++)
        if (snap_pcpu_online(cur, p) && (!em || util_bit(em, p)))
            h->emu_load[p] += h->emulator[di] / n;
}

int hostview_derive(struct hostview *h, const struct snap *prev, const struct snap *cur,
                    const struct usage *u)
{
    size_t nd = snap_domain_count(cur), nbuf = 0;

    if (size_pcpus(h, cur) < 0)
        return -1;
    derive_pcpus(h, cur);
    if (size_vcpus(h, cur) < 0)
        return -1;
    for (size_t di = 0; di < nd; di++) {
        derive_domain(h, cur, snap_domain(cur, di), &nbuf);
        derive_emulator(h, prev, cur, u, di);
    }
    return 0;
}

const unsigned char *hostview_usable(const struct hostview *h)
{
    return h->usable;
}

const int *hostview_node(const struct hostview *h)
{
    return h->node;
}

const int *hostview_core(const struct hostview *h)
{
    return h->cfg.smt ? h->core : NULL;
}

const unsigned char *hostview_allowed(const struct hostview *h, size_t v)
{
    return h->allowed[v];
}

bool hostview_stranded(const struct hostview *h, size_t v)
{
    return h->stranded[v];
}

bool hostview_fixed(const struct hostview *h, size_t v)
{
    return h->fixed[v];
}

double hostview_weight(const struct hostview *h, size_t v)
{
    return h->weight[v];
}

double hostview_cap(const struct hostview *h, size_t v)
{
    return h->cap[v];
}

int hostview_home(const struct hostview *h, size_t v)
{
    return h->home[v];
}

bool hostview_strict(const struct hostview *h, size_t v)
{
    return h->strict[v];
}

double hostview_emulator(const struct hostview *h, size_t d)
{
    return h->emulator[d];
}

const double *hostview_emulator_load(const struct hostview *h)
{
    return h->emu_load;
}
