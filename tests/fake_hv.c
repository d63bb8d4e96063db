/* A deterministic simulated host behind the hv ops table.
 *
 * CPU: every advance, floating vCPUs go to the least loaded pCPU their affinity allows (an
 * ideal kernel balancer), then each pCPU is shared max-min fairly (water-filling) among its
 * vCPUs and its background load (or the background first: many host tasks), optionally
 * unevenly among the vCPUs held below their demand (a split that lasts a while and varies, as
 * on real hosts). Delay comes from the run queue, not from
 * demand minus service: a vCPU is runnable for its demand (a duty cycle by the wall clock) and
 * also while it waits to be put back on its pCPU each time it wakes, which costs it a fraction
 * of what it runs, more the more the other tasks of its pCPU run; it waits whenever runnable and
 * not running (docs/EVIDENCE.md#fake-run-queue has the recorded figures). A vCPU may be starved:
 * runnable and not run at all for seconds, its wait accounted whole when it runs again, as the
 * kernel accounts a wait when it ends (docs/EVIDENCE.md#late-waits).
 * Memory: each guest's memory is modelled in fake_mem.c (balloon, workload, page cache, swap,
 * autodeflate, free page reporting, statistics that repeat between updates). The host's free
 * memory is its RAM minus its own use minus what each guest's memory has made resident (guests
 * backed by huge pages take theirs from a pool counted in the host's own use), and each NUMA
 * node's is its RAM minus what is charged to it.
 */
#include "fake_hv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_mem.h"
#include "rng.h"
#include "util.h"

#define MAX_NODES SNAP_MAX_NODES

struct fvcpu {
    struct fake_cpu_load load;
    unsigned char *map;        /* affinity, maplen bytes */
    int pin;                   /* single pCPU of map, or -1 */
    uint64_t time_ns, wait_ns; /* true run time and time waiting for a pCPU */
    double demand, run;        /* last advance */
    int placed;                /* pCPU it ran on in the last advance */
    int held;                  /* pCPU the kernel keeps it on while it floats (-1: none) */
    double split, split_at;    /* its share factor on a saturated pCPU, drawn at split_at */
    double starved_until;      /* runnable but not run until then (fake_set_starved) */
    uint64_t late_ns;          /* its wait while starved, accounted when it runs again */
    bool offline;              /* unplugged: runs nowhere, reported offline */
    unsigned char *defined;    /* the pin of its persistent definition (maplen bytes), or NULL */
    double weight, cap;        /* its guest's CPU weight and its quota (fraction), last advance */
};

struct fdom {
    bool paused;
    char name[64];
    unsigned char uuid[SNAP_UUID_LEN];
    int nvcpus;
    struct fvcpu *v;
    struct fmem mem;
    /* configuration and emulator threads */
    unsigned char *cpuset;  /* <vcpu cpuset>, or NULL */
    uint64_t numa_nodes;    /* strict numatune nodes, or 0 */
    double emu_load;        /* its emulator threads' demand */
    unsigned char *emu_map; /* where they may run, or NULL: anywhere */
    uint64_t emu_time_ns;
    struct snap_tune tune; /* <cputune> and <memtune> as declared */
};

struct injection {
    int dom, status, n;
};

struct fake_host {
    int np;
    size_t maplen;
    double now;
    struct fdom **doms; /* NULL once removed: a removed domain costs one pointer */
    int ndoms, cap;
    double *bg;
    uint64_t *busy_ns;
    double *busy; /* last advance */
    double *scratch_load, *scratch_extra;
    bool *online;     /* per pCPU */
    int *node, *core; /* per pCPU: NUMA node, physical core (SMT siblings share one) */
    enum fake_signal signal;
    bool no_balancer;       /* floating vCPUs stay on the first pCPU of their affinity */
    unsigned char *refused; /* per pCPU: pins including it fail */
    double noise;
    uint64_t rng;
    double wake, queue, split; /* run-queue delay and uneven split (fake_set_run_queue) */
    uint64_t split_rng;
    bool bg_first; /* the background takes its load first (fake_set_background_first) */
    uint64_t ram_kib, other_kib;
    double inflate_rate, deflate_rate; /* the balloon's speeds, KiB/s */
    unsigned vm_kills;                 /* domains killed by their memory cgroup */
    uint64_t overhead_kib;
    uint64_t node_ram[MAX_NODES]; /* 0: no such node (or no NUMA memory model) */
    fake_stats_hook hook;
    void *hook_arg;
    struct hv *hv;
    struct injection inj[FAKE_OP_COUNT];
    unsigned long calls[FAKE_OP_COUNT];
    bool down;
};

/* True when pCPU P is in MAP. */
static bool in_map(const unsigned char *map, int p)
{
    return (map[p / 8] >> (p % 8)) & 1;
}

static const struct hv_ops fake_ops;

/* Scratch of one CPU advance: the placed vCPUs grouped by pCPU, water-filling buffers. */
struct share_scratch {
    int *start, *fill;
    struct fvcpu **list;
    double *dem, *weight, *got;
    bool *done;
};

struct fake_host *fake_create(int npcpus, uint64_t ram_kib, uint64_t other_kib)
{
    struct fake_host *f = calloc(1, sizeof(*f));

    if (!f || npcpus < 1)
        goto fail;
    f->np = npcpus;
    f->maplen = hv_maplen(npcpus);
    f->now = 1000.0;
    f->bg = calloc((size_t)npcpus, sizeof(double));
    f->busy_ns = calloc((size_t)npcpus, sizeof(uint64_t));
    f->busy = calloc((size_t)npcpus, sizeof(double));
    f->scratch_load = calloc((size_t)npcpus, sizeof(double));
    f->scratch_extra = calloc((size_t)npcpus, sizeof(double));
    f->online = calloc((size_t)npcpus, sizeof(bool));
    f->node = calloc((size_t)npcpus, sizeof(int));
    f->core = calloc((size_t)npcpus, sizeof(int));
    for (int p = 0; f->online && f->core && p < npcpus; p++) {
        f->online[p] = true;
        f->core[p] = p;
    }
    f->signal = FAKE_SIGNAL_WAIT_ZERO;
    f->refused = calloc((size_t)npcpus, 1);
    f->rng = 0x9e3779b97f4a7c15ull;
    f->wake = FAKE_WAKE_DELAY;
    f->queue = FAKE_QUEUE_DELAY;
    f->split = 0;
    f->split_rng = 0x2545f4914f6cdd1dull;
    f->ram_kib = ram_kib;
    f->other_kib = other_kib;
    f->inflate_rate = FAKE_INFLATE_KIB_S;
    f->deflate_rate = FAKE_DEFLATE_KIB_S;
    for (int i = 0; i < FAKE_OP_COUNT; i++)
        f->inj[i].dom = -1;
    f->hv = hv_create(&fake_ops, f);
    if (!f->bg || !f->busy_ns || !f->busy || !f->scratch_load || !f->scratch_extra || !f->online ||
        !f->node || !f->core || !f->refused || !f->hv)
        goto fail;
    return f;
fail:
    fake_destroy(f);
    return NULL;
}

static void free_vcpus(struct fdom *d)
{
    for (int k = 0; k < d->nvcpus; k++) {
        free(d->v[k].map);
        free(d->v[k].defined);
    }
    free(d->v);
    d->v = NULL;
    d->nvcpus = 0;
}

void fake_destroy(struct fake_host *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->ndoms; i++) {
        if (f->doms[i]) {
            free_vcpus(f->doms[i]);
            free(f->doms[i]->cpuset);
            free(f->doms[i]->emu_map);
        }
        free(f->doms[i]);
    }
    free(f->doms);
    free(f->bg);
    free(f->busy_ns);
    free(f->busy);
    free(f->scratch_load);
    free(f->scratch_extra);
    free(f->online);
    free(f->node);
    free(f->core);
    free(f->refused);
    hv_destroy(f->hv); /* fake_ops has no close: F is freed here */
    free(f);
}

struct hv *fake_hv(struct fake_host *f)
{
    return f->hv;
}

static struct fdom *dom_at(const struct fake_host *f, int dom)
{
    return dom >= 0 && dom < f->ndoms ? f->doms[dom] : NULL;
}

/* Real vCPU threads were not all started on a 10 ms boundary: each run-time counter starts at
 * its own offset (a hash of the domain and vCPU), so their 10 ms steps do not all fall in the
 * same period. */
static uint64_t phase_ns(const struct fdom *d, int k)
{
    uint64_t h = (((uint64_t)d->uuid[13] << 16 | (uint64_t)d->uuid[14] << 8 | d->uuid[15]) << 16) +
                 (uint64_t)k;

    h = (h ^ (h >> 17)) * 0x9e3779b97f4a7c15ull;
    return (h >> 20) % 10000000ull;
}

static int set_vcpu_count(struct fake_host *f, struct fdom *d, int n)
{
    struct fvcpu *v = calloc((size_t)(n > 0 ? n : 1), sizeof(*v));

    if (!v)
        return -1;
    for (int k = 0; k < n; k++) {
        if (k < d->nvcpus) {
            v[k] = d->v[k];
            d->v[k].map = NULL;
            d->v[k].defined = NULL;
            continue;
        }
        v[k].map = malloc(f->maplen);
        if (!v[k].map) {
            for (int j = 0; j < k; j++)
                free(v[j].map);
            free(v);
            return -1;
        }
        memset(v[k].map, 0, f->maplen);
        for (int p = 0; p < f->np; p++)
            v[k].map[p / 8] |= (unsigned char)(1u << (p % 8));
        v[k].pin = f->np == 1 ? 0 : -1;
        v[k].placed = -1;
        v[k].held = -1;
        v[k].time_ns = phase_ns(d, k);
    }
    free_vcpus(d);
    d->v = v;
    d->nvcpus = n;
    return 0;
}

int fake_add_domain(struct fake_host *f, const char *name, int nvcpus)
{
    struct fdom *d;
    int id;

    if (f->ndoms == f->cap) {
        int ncap = f->cap ? f->cap * 2 : 16;
        struct fdom **nd = realloc(f->doms, (size_t)ncap * sizeof(*nd));
        if (!nd)
            return -1;
        f->doms = nd;
        f->cap = ncap;
    }
    id = f->ndoms;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -1;
    memcpy(d->uuid, "fakehostdom", 11);
    d->uuid[11] = 0;
    d->uuid[12] = (unsigned char)(id >> 24);
    d->uuid[13] = (unsigned char)(id >> 16);
    d->uuid[14] = (unsigned char)(id >> 8);
    d->uuid[15] = (unsigned char)id;
    if (set_vcpu_count(f, d, nvcpus) < 0) {
        free(d);
        return -1;
    }
    f->doms[id] = d;
    f->ndoms++;
    snprintf(d->name, sizeof(d->name), "%s", name);
    fmem_set_size(&d->mem, 1024 * FAKE_MIB, 1024 * FAKE_MIB);
    fmem_set_load(&d->mem, &(struct fake_mem_load){.base_kib = 64 * FAKE_MIB});
    fake_set_cputune(f, id, 0, 0, 0);
    return id;
}

void fake_remove_domain(struct fake_host *f, int dom)
{
    struct fdom *d = dom_at(f, dom);

    if (d) {
        free_vcpus(d);
        free(d->cpuset);
        free(d->emu_map);
        free(d);
        f->doms[dom] = NULL;
    }
}

void fake_set_paused(struct fake_host *f, int dom, bool paused)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        d->paused = paused;
}

void fake_set_nvcpus(struct fake_host *f, int dom, int nvcpus)
{
    struct fdom *d = dom_at(f, dom);

    if (d && nvcpus >= 0)
        set_vcpu_count(f, d, nvcpus);
}

static struct fvcpu *vcpu_at(const struct fake_host *f, int dom, int vcpu)
{
    struct fdom *d = dom_at(f, dom);
    return d && vcpu >= 0 && vcpu < d->nvcpus ? &d->v[vcpu] : NULL;
}

void fake_set_load(struct fake_host *f, int dom, int vcpu, const struct fake_cpu_load *load)
{
    struct fdom *d = dom_at(f, dom);

    if (!d)
        return;
    for (int k = 0; k < d->nvcpus; k++)
        if (vcpu < 0 || k == vcpu)
            d->v[k].load = *load;
}

void fake_set_demand(struct fake_host *f, int dom, int vcpu, double demand)
{
    struct fake_cpu_load l = {.on = demand};
    fake_set_load(f, dom, vcpu, &l);
}

static void set_map_pin(struct fake_host *f, struct fvcpu *v)
{
    int first = -1, count = 0;

    for (int p = 0; p < f->np; p++) {
        if (v->map[p / 8] & (1u << (p % 8))) {
            if (first < 0)
                first = p;
            count++;
        }
    }
    v->pin = count == 1 ? first : -1;
}

void fake_pin(struct fake_host *f, int dom, int vcpu, int pcpu)
{
    struct fvcpu *v = vcpu_at(f, dom, vcpu);

    if (!v)
        return;
    memset(v->map, 0, f->maplen);
    for (int p = 0; p < f->np; p++)
        if (pcpu < 0 || p == pcpu)
            v->map[p / 8] |= (unsigned char)(1u << (p % 8));
    set_map_pin(f, v);
}

void fake_set_background(struct fake_host *f, int p, double load)
{
    if (p >= 0 && p < f->np)
        f->bg[p] = load;
}

void fake_set_signal(struct fake_host *f, enum fake_signal mode)
{
    f->signal = mode;
}

const char *fake_signal_name(enum fake_signal mode)
{
    static const char *const names[] = {"wait", "wait-zero", "delay-only", "none"};
    return mode < FAKE_SIGNAL_COUNT ? names[mode] : "?";
}

void fake_set_pcpu(struct fake_host *f, int p, bool online, int node, int core)
{
    if (p < 0 || p >= f->np)
        return;
    f->online[p] = online;
    f->node[p] = node;
    f->core[p] = core;
}

/* Parses LIST ("0-3,8") into a new map of F's size; NULL for NULL or a bad list. */
static unsigned char *list_map(const struct fake_host *f, const char *list)
{
    unsigned char *m;

    if (!list)
        return NULL;
    m = calloc(f->maplen, 1);
    if (m && util_parse_cpulist(list, m, f->maplen) < 0) {
        free(m);
        m = NULL;
    }
    return m;
}

void fake_set_cpuset(struct fake_host *f, int dom, const char *list)
{
    struct fdom *d = dom_at(f, dom);

    if (!d)
        return;
    free(d->cpuset);
    d->cpuset = list_map(f, list);
    /* As libvirt does at start: vCPUs not pinned otherwise run within the CPU set. */
    for (int k = 0; d->cpuset && k < d->nvcpus; k++)
        if (d->v[k].pin < 0)
            memcpy(d->v[k].map, d->cpuset, f->maplen);
}

void fake_set_numa(struct fake_host *f, int dom, uint64_t nodes)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        d->numa_nodes = nodes;
}

void fake_set_emulator(struct fake_host *f, int dom, double load, const char *list)
{
    struct fdom *d = dom_at(f, dom);

    if (!d)
        return;
    d->emu_load = load;
    free(d->emu_map);
    d->emu_map = list_map(f, list);
}

int fake_emulator_pin(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    int first = -1, n = 0;

    for (int p = 0; d && d->emu_map && p < f->np; p++)
        if (in_map(d->emu_map, p)) {
            first = first < 0 ? p : first;
            n++;
        }
    return n == 1 ? first : n > 1 ? -2 : -1;
}

void fake_define_pin(struct fake_host *f, int dom, int vcpu, const char *list)
{
    struct fvcpu *v = vcpu_at(f, dom, vcpu);

    if (!v)
        return;
    free(v->defined);
    v->defined = list_map(f, list);
    if (v->defined) {
        memcpy(v->map, v->defined, f->maplen);
        set_map_pin(f, v);
    }
}

void fake_set_cputune(struct fake_host *f, int dom, uint32_t shares, uint64_t quota_us,
                      uint64_t period_us)
{
    struct fdom *d = dom_at(f, dom);

    if (!d)
        return;
    /* As the libvirt backend reports it: the host's default weight when none is declared. */
    d->tune.shares = shares ? shares : SNAP_DEFAULT_SHARES;
    d->tune.vcpu_quota_us = quota_us;
    d->tune.vcpu_period_us = period_us ? period_us : 100000;
    d->tune.flags &= ~(uint32_t)(SNAP_TUNE_SHARES | SNAP_TUNE_QUOTA);
    d->tune.flags |= (shares ? SNAP_TUNE_SHARES : 0u) | (quota_us ? SNAP_TUNE_QUOTA : 0u);
}

void fake_set_memtune(struct fake_host *f, int dom, uint64_t hard_kib, uint64_t soft_kib,
                      uint64_t swap_kib)
{
    struct fdom *d = dom_at(f, dom);

    if (!d)
        return;
    d->tune.hard_limit_kib = hard_kib;
    d->tune.soft_limit_kib = soft_kib;
    d->tune.swap_hard_limit_kib = swap_kib;
    d->tune.flags &= (uint32_t)(SNAP_TUNE_SHARES | SNAP_TUNE_QUOTA);
    d->tune.flags |= (hard_kib ? SNAP_TUNE_HARD_LIMIT : 0u) |
                     (soft_kib ? SNAP_TUNE_SOFT_LIMIT : 0u) |
                     (swap_kib ? SNAP_TUNE_SWAP_HARD_LIMIT : 0u);
}

void fake_set_vcpu_online(struct fake_host *f, int dom, int vcpu, bool online)
{
    struct fvcpu *v = vcpu_at(f, dom, vcpu);

    if (v)
        v->offline = !online;
}

void fake_set_held(struct fake_host *f, int dom, int vcpu, int pcpu)
{
    struct fvcpu *v = vcpu_at(f, dom, vcpu);

    if (v)
        v->held = pcpu >= 0 && pcpu < f->np ? pcpu : -1;
}

void fake_set_starved(struct fake_host *f, int dom, int vcpu, double seconds)
{
    struct fvcpu *v = vcpu_at(f, dom, vcpu);

    if (v)
        v->starved_until = f->now + seconds;
}

void fake_set_balancer(struct fake_host *f, bool on)
{
    f->no_balancer = !on;
}

void fake_refuse_pcpu(struct fake_host *f, int p, bool refuse)
{
    if (p >= 0 && p < f->np)
        f->refused[p] = refuse;
}

void fake_set_noise(struct fake_host *f, double amplitude, uint64_t seed)
{
    f->noise = amplitude;
    f->rng = seed ? seed : 1;
}

void fake_set_run_queue(struct fake_host *f, double wake, double queue, double split)
{
    f->wake = wake > 0 ? wake : 0;
    f->queue = queue > 0 ? queue : 0;
    f->split = split > 0 ? (split < 1 ? split : 1) : 0;
}

void fake_set_background_first(struct fake_host *f, bool first)
{
    f->bg_first = first;
}

void fake_set_memory(struct fake_host *f, int dom, uint64_t max_kib, uint64_t current_kib)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        fmem_set_size(&d->mem, max_kib, current_kib);
}

void fake_set_mem_load(struct fake_host *f, int dom, const struct fake_mem_load *load)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        fmem_set_load(&d->mem, load);
}

void fake_set_cache_load(struct fake_host *f, int dom, const struct fake_cache_load *load)
{
    struct fdom *d = dom_at(f, dom);

    if (d) {
        d->mem.cl = *load;
        d->mem.cache_t = 0;
    }
}

void fake_set_swap(struct fake_host *f, int dom, uint64_t swap_kib)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        d->mem.swap_kib = swap_kib;
}

void fake_set_balloon_features(struct fake_host *f, int dom, bool autodeflate,
                               bool free_page_reporting)
{
    struct fdom *d = dom_at(f, dom);

    if (d) {
        d->mem.autodeflate = autodeflate;
        d->mem.free_page_reporting = free_page_reporting;
    }
}

void fake_set_hugepages(struct fake_host *f, int dom, bool on)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        d->mem.hugepages = on;
}

void fake_set_stats_kind(struct fake_host *f, int dom, enum fake_stats_kind kind)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        d->mem.kind = kind;
}

void fake_set_stats_every(struct fake_host *f, int dom, double seconds)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        d->mem.stats_every = seconds > 0 ? seconds : 0;
}

void fake_set_node_ram(struct fake_host *f, int node, uint64_t ram_kib)
{
    if (node >= 0 && node < MAX_NODES)
        f->node_ram[node] = ram_kib;
}

void fake_set_stats(struct fake_host *f, int dom, bool enabled)
{
    struct fdom *d = dom_at(f, dom);

    if (!d)
        return;
    d->mem.stats_on = false;
    d->mem.have_stats = false;
    if (enabled)
        fmem_enable_stats(&d->mem, f->now, 1, true);
}

void fake_set_overhead(struct fake_host *f, uint64_t kib)
{
    f->overhead_kib = kib;
}

void fake_set_balloon_rate(struct fake_host *f, double kib_s)
{
    f->inflate_rate = f->deflate_rate = kib_s;
}

void fake_set_balloon_rates(struct fake_host *f, double inflate_kib_s, double deflate_kib_s)
{
    f->inflate_rate = inflate_kib_s;
    f->deflate_rate = deflate_kib_s;
}

void fake_set_stats_phase(struct fake_host *f, int dom, double phase_s)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        fmem_set_stats_phase(&d->mem, f->now, phase_s);
}

uint64_t fake_shown_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.shown_kib : 0;
}

void fake_set_stats_hook(struct fake_host *f, fake_stats_hook hook, void *arg)
{
    f->hook = hook;
    f->hook_arg = arg;
}

void fake_inject(struct fake_host *f, enum fake_op op, int dom, int status, int n)
{
    f->inj[op].dom = dom;
    f->inj[op].status = status;
    f->inj[op].n = n;
}

void fake_set_down(struct fake_host *f, bool down)
{
    f->down = down;
}

/* Returns an injected status for OP on DOM, or HV_OK. */
static int injected(struct fake_host *f, enum fake_op op, int dom)
{
    struct injection *in = &f->inj[op];

    if (in->n > 0 && (in->dom < 0 || in->dom == dom)) {
        in->n--;
        return in->status;
    }
    return HV_OK;
}

/* Deterministic, uniform in [-1, 1): xorshift64* of state *RNG. */
static double next_uniform(uint64_t *rng)
{
    return (double)(rng_star(rng) >> 11) / (double)(1ull << 52) - 1.0;
}

static double next_noise(struct fake_host *f)
{
    return next_uniform(&f->rng);
}

static double load_at(const struct fake_cpu_load *l, double t)
{
    double cycle;

    if (l->change_at > 0 && t < l->change_at)
        return l->before;
    if (l->off_s <= 0 || l->on_s <= 0)
        return l->on;
    cycle = fmod(t - (l->change_at > 0 ? l->change_at : 0), l->on_s + l->off_s);
    return cycle < l->on_s ? l->on : l->off;
}

/* Shares one pCPU of capacity CAP among tasks of DEMAND[0..n-1] in proportion to their WEIGHT
 * (max-min fairly when the weights are equal, as CFS does): GOT out; DONE is scratch. */
static void water_fill(const double *demand, const double *weight, double *got, bool *done, int n,
                       double cap)
{
    double remaining = cap, total = 0, wleft = 0;

    if (n <= 0)
        return;
    for (int i = 0; i < n; i++) {
        total += demand[i];
        wleft += weight[i];
    }
    if (total <= cap) {
        for (int i = 0; i < n; i++)
            got[i] = demand[i];
        return;
    }
    memset(done, 0, (size_t)n * sizeof(bool));
    /* Repeatedly satisfy everyone below their share at the current level. */
    for (bool changed = true; changed && wleft > 0;) {
        double level = remaining / wleft;
        changed = false;
        for (int i = 0; i < n; i++) {
            if (!done[i] && demand[i] <= level * weight[i]) {
                got[i] = demand[i];
                remaining -= demand[i];
                wleft -= weight[i];
                done[i] = true;
                changed = true;
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (!done[i])
            got[i] = wleft > 0 ? remaining * weight[i] / wleft : 0;
}

/* The CPU weight of D's vCPUs: its guest's shares (a guest's weight is not split among its busy
 * vCPUs here, as CFS group scheduling would); background tasks weigh SNAP_DEFAULT_SHARES. */
static double vcpu_weight(const struct fdom *d)
{
    return d->tune.shares ? (double)d->tune.shares : SNAP_DEFAULT_SHARES;
}

/* The most of a pCPU each of D's vCPUs may run: its quota per period, or a whole pCPU. */
static double vcpu_cap(const struct fdom *d)
{
    double q = (d->tune.flags & SNAP_TUNE_QUOTA) && d->tune.vcpu_period_us
                       ? (double)d->tune.vcpu_quota_us / (double)d->tune.vcpu_period_us
                       : 1.0;
    return q < 1.0 ? q : 1.0;
}

/* This advance's demand of every vCPU; pinned ones (to an online pCPU) count toward it. */
static void place_pinned(struct fake_host *f, double *load)
{
    for (int i = 0; i < f->ndoms; i++) {
        struct fdom *d = f->doms[i];
        if (!d)
            continue;
        for (int k = 0; k < d->nvcpus; k++) {
            struct fvcpu *v = &d->v[k];
            double dem = d->paused || v->offline ? 0 : load_at(&v->load, f->now - 1000.0);
            if (f->noise > 0 && dem > 0)
                dem += f->noise * next_noise(f);
            v->demand = dem < 0 ? 0 : dem > 1 ? 1 : dem;
            v->weight = vcpu_weight(d);
            v->cap = vcpu_cap(d);
            v->placed = v->pin >= 0 && f->online[v->pin] ? v->pin : -1;
            if (v->offline)
                v->placed = -2; /* nowhere */
            if (v->placed >= 0)
                load[v->placed] += fmin(v->demand, v->cap);
        }
    }
}

/* Floating vCPUs (and those pinned to an offline pCPU, whose affinity the kernel breaks): each
 * to the least loaded online pCPU of its affinity (the first one without a balancer). */
static void place_floating(struct fake_host *f, double *load)
{
    for (int i = 0; i < f->ndoms; i++) {
        struct fdom *d = f->doms[i];
        for (int k = 0; d && k < d->nvcpus; k++) {
            struct fvcpu *v = &d->v[k];
            int best = -1;
            if (v->placed >= 0 || v->placed == -2)
                continue;
            if (v->held >= 0 && f->online[v->held] && in_map(v->map, v->held))
                best = v->held;
            for (int pass = 0; pass < 2 && best < 0; pass++)
                for (int p = 0; p < f->np; p++)
                    if (f->online[p] && (pass || in_map(v->map, p)) &&
                        (best < 0 || (!f->no_balancer && load[p] < load[best])))
                        best = p;
            v->placed = best;
            if (best >= 0)
                load[best] += fmin(v->demand, v->cap);
        }
    }
}

/* Emulator threads: each domain's load spread over the online pCPUs its emulator may use, as
 * background there; they always get it. */
static void place_emulators(struct fake_host *f, double *extra, double dt)
{
    for (int p = 0; p < f->np; p++)
        extra[p] = 0;
    for (int i = 0; i < f->ndoms; i++) {
        struct fdom *d = f->doms[i];
        int n = 0;
        if (!d || d->paused || d->emu_load <= 0)
            continue;
        for (int p = 0; p < f->np; p++)
            n += f->online[p] && (!d->emu_map || in_map(d->emu_map, p));
        for (int p = 0; p < f->np && n > 0; p++)
            if (f->online[p] && (!d->emu_map || in_map(d->emu_map, p)))
                extra[p] += d->emu_load / n;
        d->emu_time_ns += (uint64_t)(d->emu_load * dt * 1e9);
    }
}

/* The capacity of pCPU P this advance: with SMT, threads of one core share about 1.3 cores of
 * throughput, so a thread whose siblings are busy runs at 0.65 of a core. */
static double capacity(const struct fake_host *f, const double *load, int p)
{
    double sib = 0;

    for (int q = 0; q < f->np; q++)
        if (q != p && f->core[q] == f->core[p] && f->online[q])
            sib += load[q];
    return 1.0 - 0.35 * (sib < 1 ? sib : 1) * (load[p] < 1 ? load[p] : 1);
}

/* The uneven split of a saturated pCPU: each of the N vCPUs LIST held below its demand (GOT
 * under DEM) gets its share scaled by 1 + split * u, u uniform in [-1, 1) drawn for the vCPU
 * every FAKE_SPLIT_HOLD_S, the sum of their shares kept and none above its demand. */
static void split_unevenly(struct fake_host *f, struct fvcpu **list, const double *dem, double *got,
                           int n)
{
    double sum = 0, scaled = 0;

    if (f->split <= 0)
        return;
    for (int j = 0; j < n; j++) {
        struct fvcpu *v = list[j];
        if (got[j] >= dem[j] - 1e-9)
            continue;
        if (v->split_at <= 0 || f->now >= v->split_at + FAKE_SPLIT_HOLD_S) {
            v->split = next_uniform(&f->split_rng);
            v->split_at = f->now;
        }
        sum += got[j];
        got[j] *= 1 + f->split * v->split;
        scaled += got[j];
    }
    for (int j = 0; j < n && scaled > 0; j++)
        if (got[j] < dem[j] - 1e-9 || got[j] > dem[j])
            got[j] = fmin(dem[j], got[j] * sum / scaled);
}

/* The run-queue delay of a vCPU that wanted DEM and got GOT (fractions of the advance) on a
 * pCPU whose other tasks ran OTHERS: runnable for its demand, and waiting to be put back on
 * its pCPU at each wake-up, per unit it runs wake + queue * the others' pressure (their load
 * over what they leave, counted up to 0.95: as on a shared processor); never more than the
 * time it did not run. */
static double run_queue_delay(const struct fake_host *f, double dem, double got, double others)
{
    double o = others < 0 ? 0 : others > 0.95 ? 0.95 : others;
    double wait = (dem > got ? dem - got : 0) + got * (f->wake + f->queue * o / (1 - o));

    return fmin(wait, 1 - got > 0 ? 1 - got : 0);
}

/* True when V is starved for the whole advance of DT from now. */
static bool starved(const struct fake_host *f, const struct fvcpu *v, double dt)
{
    return f->now + dt <= v->starved_until + 1e-9;
}

/* Accounts DELAY (a fraction of the advance DT) of vCPU V: a starved one's wait waits with it,
 * and comes whole with the first advance it runs in. */
static void account_wait(const struct fake_host *f, struct fvcpu *v, double delay, double dt)
{
    uint64_t ns = (uint64_t)(delay * dt * 1e9);

    if (starved(f, v, dt)) {
        v->late_ns += (uint64_t)(v->demand * dt * 1e9);
        return;
    }
    v->wait_ns += ns + v->late_ns;
    v->late_ns = 0;
}

/* Shares pCPU P among its N vCPUs LIST and its background BG. */
static void share_pcpu(struct fake_host *f, int p, struct fvcpu **list, int n, double bg,
                       double cap, double dt, struct share_scratch *sc)
{
    double busy = 0;

    for (int j = 0; j < n; j++) {
        sc->dem[j] = starved(f, list[j], dt) ? 0 : fmin(list[j]->demand, list[j]->cap);
        sc->weight[j] = list[j]->weight;
    }
    sc->dem[n] = bg;
    sc->weight[n] = SNAP_DEFAULT_SHARES;
    if (f->bg_first) { /* many host tasks: they take theirs, the vCPUs share the rest */
        sc->got[n] = fmin(bg, cap);
        water_fill(sc->dem, sc->weight, sc->got, sc->done, n, cap - sc->got[n]);
    } else {
        water_fill(sc->dem, sc->weight, sc->got, sc->done, n + 1, cap);
    }
    split_unevenly(f, list, sc->dem, sc->got, n);
    for (int j = 0; j <= n; j++)
        busy += sc->got[j];
    for (int j = 0; j < n; j++) {
        struct fvcpu *v = list[j];
        /* Its wanting, queueing and what its quota throttles count as waiting, as the kernel
         * reports them. */
        double delay = run_queue_delay(f, v->demand, sc->got[j], busy - sc->got[j]);
        v->run = sc->got[j];
        v->time_ns += (uint64_t)(sc->got[j] * dt * 1e9);
        account_wait(f, v, delay, dt);
    }
    f->busy[p] = busy > 1 ? 1 : busy;
    f->busy_ns[p] += (uint64_t)(f->busy[p] * dt * 1e9);
}

/* Groups the placed vCPUs by pCPU into SC (counting sort); false when out of memory. */
static bool group_by_pcpu(struct fake_host *f, struct share_scratch *sc)
{
    size_t total = 0;

    for (int i = 0; i < f->ndoms; i++)
        if (f->doms[i])
            total += (size_t)f->doms[i]->nvcpus;
    sc->start = calloc((size_t)f->np + 1, sizeof(int));
    sc->fill = calloc((size_t)f->np + 1, sizeof(int));
    sc->list = malloc((total ? total : 1) * sizeof(*sc->list));
    sc->dem = malloc((total + 2) * sizeof(double));
    sc->weight = malloc((total + 2) * sizeof(double));
    sc->got = malloc((total + 2) * sizeof(double));
    sc->done = malloc(total + 2);
    if (!sc->start || !sc->fill || !sc->list || !sc->dem || !sc->weight || !sc->got || !sc->done)
        return false;
    for (int i = 0; i < f->ndoms; i++)
        for (int k = 0; f->doms[i] && k < f->doms[i]->nvcpus; k++)
            if (f->doms[i]->v[k].placed >= 0)
                sc->start[f->doms[i]->v[k].placed + 1]++;
    for (int p = 0; p < f->np; p++)
        sc->start[p + 1] += sc->start[p];
    for (int i = 0; i < f->ndoms; i++) {
        for (int k = 0; f->doms[i] && k < f->doms[i]->nvcpus; k++) {
            struct fvcpu *v = &f->doms[i]->v[k];
            if (v->placed >= 0)
                sc->list[sc->start[v->placed] + sc->fill[v->placed]++] = v;
            else
                v->run = 0;
        }
    }
    return true;
}

static void free_scratch(struct share_scratch *sc)
{
    free(sc->start);
    free(sc->fill);
    free(sc->list);
    free(sc->dem);
    free(sc->weight);
    free(sc->got);
    free(sc->done);
}

static void advance_cpu(struct fake_host *f, double dt)
{
    double *load = f->scratch_load, *extra = f->scratch_extra;
    struct share_scratch sc = {0};

    place_emulators(f, extra, dt);
    for (int p = 0; p < f->np; p++)
        load[p] = f->online[p] ? f->bg[p] + extra[p] : 0;
    place_pinned(f, load);
    place_floating(f, load);
    if (group_by_pcpu(f, &sc)) {
        for (int p = 0; p < f->np; p++) {
            int n = sc.start[p + 1] - sc.start[p];
            if (!f->online[p]) {
                f->busy[p] = 0;
                continue;
            }
            share_pcpu(f, p, sc.list + sc.start[p], n, f->bg[p] + extra[p], capacity(f, load, p),
                       dt, &sc);
        }
    }
    free_scratch(&sc);
}

static void enforce_memtune(struct fake_host *f);

void fake_advance(struct fake_host *f, double seconds)
{
    /* Memory moves in steps of at most 0.25 s so growth and the balloon interleave. */
    double left = seconds;

    advance_cpu(f, seconds);
    while (left > 1e-9) {
        double dt = left < 0.25 ? left : 0.25;
        left -= dt;
        for (int i = 0; i < f->ndoms; i++)
            if (f->doms[i])
                fmem_step(&f->doms[i]->mem, f->now + seconds - left, dt, f->inflate_rate,
                          f->deflate_rate);
        enforce_memtune(f);
    }
    f->now += seconds;
}

double fake_now(const struct fake_host *f)
{
    return f->now;
}

int fake_npcpus(const struct fake_host *f)
{
    return f->np;
}

int fake_vcpu_pin(const struct fake_host *f, int dom, int vcpu)
{
    const struct fvcpu *v = vcpu_at(f, dom, vcpu);
    return v ? v->pin : -1;
}

int fake_vcpu_placed(const struct fake_host *f, int dom, int vcpu)
{
    const struct fvcpu *v = vcpu_at(f, dom, vcpu);
    return v ? v->placed : -1;
}

double fake_vcpu_run(const struct fake_host *f, int dom, int vcpu)
{
    const struct fvcpu *v = vcpu_at(f, dom, vcpu);
    return v ? v->run : 0;
}

double fake_vcpu_demand(const struct fake_host *f, int dom, int vcpu)
{
    const struct fvcpu *v = vcpu_at(f, dom, vcpu);
    return v ? v->demand : 0;
}

double fake_pcpu_busy(const struct fake_host *f, int p)
{
    return p >= 0 && p < f->np ? f->busy[p] : 0;
}

double fake_usage_spread(const struct fake_host *f)
{
    double sum = 0, sq = 0;

    for (int p = 0; p < f->np; p++)
        sum += f->busy[p];
    for (int p = 0; p < f->np; p++) {
        double d = f->busy[p] - sum / f->np;
        sq += d * d;
    }
    return sqrt(sq / f->np) * 100;
}

unsigned long fake_calls(const struct fake_host *f, enum fake_op op)
{
    return f->calls[op];
}

uint64_t fake_actual_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.actual_kib : 0;
}

uint64_t fake_target_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.target_kib : 0;
}

uint64_t fake_used_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.used_kib : 0;
}

uint64_t fake_touched_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.touched_kib : 0;
}

uint64_t fake_max_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.max_kib : 0;
}

/* Memory domain D makes resident on the host (its huge pages come from the host's pool). */
/* The hypervisor's own memory for D: the fixed overhead, and FAKE_OVERHEAD_PER_GIB for each
 * GiB of guest memory it backs (page tables, the guest's memory map). */
static uint64_t overhead_of(const struct fake_host *f, const struct fdom *d)
{
    if (!f->overhead_kib)
        return 0;
    return f->overhead_kib + d->mem.touched_kib / (1024 * FAKE_MIB) * FAKE_OVERHEAD_PER_GIB_KIB;
}

static uint64_t resident_of(const struct fake_host *f, const struct fdom *d)
{
    return (d->mem.hugepages ? 0 : d->mem.touched_kib) + overhead_of(f, d);
}

/* The memory cgroup of each domain with a hard limit: a process past it is killed, the whole
 * virtual machine (the host's kernel, as seen in the lab: issue 18). */
static void enforce_memtune(struct fake_host *f)
{
    for (int i = 0; i < f->ndoms; i++) {
        struct fdom *d = f->doms[i];
        if (d && (d->tune.flags & SNAP_TUNE_HARD_LIMIT) &&
            resident_of(f, d) > d->tune.hard_limit_kib) {
            f->vm_kills++;
            fake_remove_domain(f, i);
        }
    }
}

uint64_t fake_host_free_kib(const struct fake_host *f)
{
    uint64_t used = f->other_kib;

    for (int i = 0; i < f->ndoms; i++)
        if (f->doms[i])
            used += resident_of(f, f->doms[i]);
    return used < f->ram_kib ? f->ram_kib - used : 0;
}

/* The first node of NODES, or -1. */
static int first_node(uint64_t nodes)
{
    for (int n = 0; n < MAX_NODES; n++)
        if ((nodes >> n) & 1)
            return n;
    return -1;
}

uint64_t fake_node_free_kib(const struct fake_host *f, int node)
{
    uint64_t charged[MAX_NODES] = {0}, rest = f->other_kib;

    if (node < 0 || node >= MAX_NODES || f->node_ram[node] == 0)
        return 0;
    for (int i = 0; i < f->ndoms; i++) {
        const struct fdom *d = f->doms[i];
        int n = d ? first_node(d->numa_nodes) : -1;
        if (d && n >= 0 && f->node_ram[n])
            charged[n] += resident_of(f, d);
        else if (d)
            rest += resident_of(f, d);
    }
    /* The host's own memory and unbound guests' fill the nodes in order. */
    for (int n = 0; n < MAX_NODES && rest > 0; n++) {
        uint64_t room = f->node_ram[n] > charged[n] ? f->node_ram[n] - charged[n] : 0;
        uint64_t take = rest < room ? rest : room;
        charged[n] += take;
        rest -= take;
    }
    return f->node_ram[node] > charged[node] ? f->node_ram[node] - charged[node] : 0;
}

uint64_t fake_host_ram_kib(const struct fake_host *f)
{
    return f->ram_kib;
}

unsigned fake_oom_kills(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.oom : 0;
}

unsigned fake_deflations(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.deflations : 0;
}

uint64_t fake_usable_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? fmem_usable(&d->mem) : 0;
}

uint64_t fake_cache_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.cache_kib : 0;
}

uint64_t fake_swapped_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.swapped_kib : 0;
}

double fake_major_faults(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.major_fault : 0;
}

double fake_swap_ins_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.swap_in_kib : 0;
}

unsigned fake_vm_kills(const struct fake_host *f)
{
    return f->vm_kills;
}

uint64_t fake_resident_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? resident_of(f, d) : 0;
}

void fake_set_balloon_stuck(struct fake_host *f, int dom, bool stuck)
{
    struct fdom *d = dom_at(f, dom);

    if (d)
        d->mem.stuck = stuck;
}

double fake_read_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.read_kib : 0;
}

double fake_disk_read_kib(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d ? d->mem.disk_read_kib : 0;
}

bool fake_wants_more(const struct fake_host *f, int dom)
{
    const struct fdom *d = dom_at(f, dom);
    return d && d->mem.short_mem;
}

/* ---- the hv ops ---- */

static struct fdom *dom_by_uuid(struct fake_host *f, const unsigned char *uuid, int *id)
{
    int n;

    if (memcmp(uuid, "fakehostdom", 11) != 0)
        return NULL;
    n = (uuid[12] << 24) | (uuid[13] << 16) | (uuid[14] << 8) | uuid[15];
    *id = n;
    return dom_at(f, n);
}

/* What the host reports of vCPU V: run time in 10 ms steps (the kernel's accounting as libvirt
 * sees it), run-queue delay always, wait time per the signal mode. */
static void sample_vcpu(const struct fake_host *f, const struct fvcpu *v, struct snap_vcpu *sv)
{
    const uint64_t tick = 10000000ull;

    sv->time_ns = v->time_ns / tick * tick;
    sv->pin = v->pin;
    sv->flags = v->offline ? SNAP_VCPU_OFFLINE : 0;
    if (f->signal != FAKE_SIGNAL_NONE) {
        sv->delay_ns = v->wait_ns;
        sv->flags |= SNAP_VCPU_DELAY;
    }
    if (f->signal == FAKE_SIGNAL_WAIT || f->signal == FAKE_SIGNAL_WAIT_ZERO) {
        sv->wait_ns = f->signal == FAKE_SIGNAL_WAIT ? v->wait_ns : 0;
        sv->flags |= SNAP_VCPU_WAIT;
    }
}

/* What the domain's configuration says: its CPU set cut by its strict NUMA nodes, the nodes,
 * where its emulator threads run. */
static int sample_config(const struct fake_host *f, const struct fdom *d, struct snap *snap,
                         struct snap_domain *sd)
{
    unsigned char *allowed = NULL;
    int rc = 0;

    sd->cfg = SNAP_CFG_KNOWN;
    if (d->mem.autodeflate)
        sd->cfg |= SNAP_CFG_AUTODEFLATE;
    if (d->mem.free_page_reporting)
        sd->cfg |= SNAP_CFG_FREE_PAGE_REPORTING;
    if (d->mem.hugepages)
        sd->cfg |= SNAP_CFG_HUGEPAGES;
    sd->numa_nodes = d->numa_nodes;
    if (d->numa_nodes)
        sd->cfg |= SNAP_CFG_NUMA_STRICT;
    if (d->cpuset || d->numa_nodes) {
        allowed = calloc(f->maplen, 1);
        if (!allowed)
            return -1;
        for (int p = 0; p < f->np; p++)
            if ((!d->cpuset || in_map(d->cpuset, p)) &&
                (!d->numa_nodes || ((d->numa_nodes >> f->node[p]) & 1)))
                allowed[p / 8] |= (unsigned char)(1u << (p % 8));
        sd->cfg |= SNAP_CFG_CPUSET;
        rc = snap_set_domain_map(snap, sd, SNAP_MAP_ALLOWED, allowed);
    }
    if (rc == 0 && d->emu_map)
        rc = snap_set_domain_map(snap, sd, SNAP_MAP_EMULATOR, d->emu_map);
    free(allowed);
    if (rc == 0)
        rc = snap_set_domain_tune(snap, sd, &d->tune);
    return rc;
}

/* The pins of D's persistent definition, into SD (its vCPUs sampled) of SNAP. */
static int sample_defined_pins(const struct fake_host *f, const struct fdom *d, struct snap *snap,
                               struct snap_domain *sd)
{
    struct snap_vcpu *sv = snap_vcpus_mut(snap, sd);
    unsigned char *maps;
    bool any = false;
    int rc;

    for (uint32_t k = 0; k < sd->nvcpus; k++)
        any = any || d->v[k].defined;
    if (!any)
        return 0;
    maps = calloc(sd->nvcpus, f->maplen);
    if (!maps)
        return -1;
    for (uint32_t k = 0; k < sd->nvcpus; k++) {
        if (!d->v[k].defined)
            continue;
        memcpy(maps + (size_t)k * f->maplen, d->v[k].defined, f->maplen);
        sv[k].flags |= SNAP_VCPU_DEFINED_PIN;
    }
    rc = snap_set_defined_pins(snap, sd, maps, sd->nvcpus);
    free(maps);
    return rc;
}

/* What libvirt reports of domain D's (number I) memory: balloon and resident size now, the
 * guest's statistics as of its last update. */
static void sample_mem(const struct fake_host *f, const struct fdom *d, int i, struct snap_mem *m)
{
    if (d->mem.stats_on && d->mem.have_stats)
        *m = d->mem.stats;
    m->actual_kib = d->mem.shown_kib;
    m->max_kib = d->mem.max_kib;
    m->rss_kib = resident_of(f, d);
    m->flags |= SNAP_MEM_BALLOON | SNAP_MEM_RSS;
    if (f->hook)
        f->hook(f->hook_arg, i, f->now - 1000.0, m);
}

static int fake_sample(struct hv *hv, struct snap *snap, unsigned what, hv_filter_fn filter,
                       void *arg)
{
    struct fake_host *f = hv_priv(hv);
    int rc;

    if (f->down)
        return HV_CONN;
    f->calls[FAKE_OP_SAMPLE]++;
    hv_count_calls(hv, 1);
    rc = injected(f, FAKE_OP_SAMPLE, -1);
    if (rc != HV_OK)
        return rc;
    if (snap_reset(snap, (uint64_t)(f->now * 1e9), f->np) < 0)
        return HV_FAIL;
    for (int p = 0; p < f->np; p++) {
        snap_set_pcpu_busy(snap, p, f->busy_ns[p]);
        snap_set_pcpu_topology(snap, p, f->online[p], f->node[p], f->core[p]);
    }
    for (int i = 0; i < f->ndoms; i++) {
        struct fdom *d = f->doms[i];
        struct snap_domain *sd;
        if (!d || (filter && !filter(d->name, arg)))
            continue;
        sd = snap_add_domain(snap, d->uuid, d->name,
                             (what & HV_SAMPLE_CPU) ? (uint32_t)d->nvcpus : 0);
        if (!sd)
            return HV_FAIL;
        sd->state = d->paused ? SNAP_PAUSED : SNAP_RUNNING;
        if (sample_config(f, d, snap, sd) < 0)
            return HV_FAIL;
        if (what & HV_SAMPLE_CPU) {
            struct snap_vcpu *sv = snap_vcpus_mut(snap, sd);
            sd->cpu_time_ns = d->emu_time_ns;
            sd->cfg |= SNAP_CFG_CPU_TIME;
            for (int k = 0; k < d->nvcpus; k++) {
                sample_vcpu(f, &d->v[k], &sv[k]);
                sd->cpu_time_ns += d->v[k].time_ns;
            }
            if (sample_defined_pins(f, d, snap, sd) < 0)
                return HV_FAIL;
        }
        if (what & HV_SAMPLE_MEM)
            sample_mem(f, d, i, &sd->mem);
        if (what & HV_SAMPLE_BLOCK) { /* QEMU's count of what the guest read from its disks */
            sd->rd_bytes = (uint64_t)(d->mem.disk_read_kib * 1024);
            sd->cfg |= SNAP_CFG_BLOCK_READ;
        }
    }
    if (what & HV_SAMPLE_MEM) {
        snap_set_host_memory(snap, f->ram_kib, fake_host_free_kib(f));
        for (int n = 0; n < MAX_NODES; n++)
            if (f->node_ram[n])
                snap_set_node_free(snap, n, fake_node_free_kib(f, n));
    }
    return HV_OK;
}

/* The start every per-domain call shares: connection, counting, lookup, injected faults.
 * Returns HV_OK with *D set, or the status the call must return. */
static int begin_call(struct hv *hv, enum fake_op op, const unsigned char *uuid, struct fdom **d)
{
    struct fake_host *f = hv_priv(hv);
    int id = -1;

    if (f->down)
        return HV_CONN;
    f->calls[op]++;
    hv_count_calls(hv, 1);
    *d = dom_by_uuid(f, uuid, &id);
    if (!*d)
        return HV_GONE;
    return injected(f, op, id);
}

static int fake_set_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                             const unsigned char *map, size_t maplen)
{
    struct fake_host *f = hv_priv(hv);
    struct fdom *d = NULL;
    int rc = begin_call(hv, FAKE_OP_PIN, uuid, &d);

    if (rc != HV_OK)
        return rc;
    if (vcpu >= (uint32_t)d->nvcpus || maplen == 0)
        return HV_FAIL;
    for (int p = 0; p < f->np && (size_t)p / 8 < maplen; p++)
        if ((f->refused[p] || !f->online[p]) && (map[p / 8] & (1u << (p % 8))))
            return HV_FAIL; /* as libvirt when the cgroup's cpuset excludes P, or P is offline */
    memset(d->v[vcpu].map, 0, f->maplen);
    memcpy(d->v[vcpu].map, map, maplen < f->maplen ? maplen : f->maplen);
    set_map_pin(f, &d->v[vcpu]);
    return HV_OK;
}

static int fake_get_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                             unsigned char *map, size_t maplen)
{
    struct fake_host *f = hv_priv(hv);
    int id;
    struct fdom *d = dom_by_uuid(f, uuid, &id);

    if (!d || vcpu >= (uint32_t)d->nvcpus)
        return HV_GONE;
    memset(map, 0, maplen);
    memcpy(map, d->v[vcpu].map, maplen < f->maplen ? maplen : f->maplen);
    return HV_OK;
}

static int fake_set_memory_op(struct hv *hv, const unsigned char *uuid, uint64_t kib)
{
    struct fdom *d = NULL;
    int rc = begin_call(hv, FAKE_OP_SETMEM, uuid, &d);

    if (rc != HV_OK)
        return rc;
    if (kib > d->mem.max_kib)
        return HV_FAIL; /* as libvirt: cannot exceed the maximum */
    fmem_set_target(&d->mem, kib);
    return HV_OK;
}

static int fake_enable_memstats(struct hv *hv, const unsigned char *uuid, int period_s)
{
    struct fake_host *f = hv_priv(hv);
    struct fdom *d = NULL;
    int rc = begin_call(hv, FAKE_OP_MEMSTATS, uuid, &d);

    if (rc != HV_OK)
        return rc;
    fmem_enable_stats(&d->mem, f->now, period_s, false);
    return HV_OK;
}

static int fake_set_emulator_affinity(struct hv *hv, const unsigned char *uuid,
                                      const unsigned char *map, size_t maplen)
{
    struct fake_host *f = hv_priv(hv);
    struct fdom *d = NULL;
    int rc = begin_call(hv, FAKE_OP_EMULATOR, uuid, &d);

    if (rc != HV_OK)
        return rc;
    if (!d->emu_map && !(d->emu_map = calloc(f->maplen, 1)))
        return HV_FAIL;
    memset(d->emu_map, 0, f->maplen);
    memcpy(d->emu_map, map, maplen < f->maplen ? maplen : f->maplen);
    return HV_OK;
}

static int fake_reconnect(struct hv *hv)
{
    struct fake_host *f = hv_priv(hv);
    return f->down ? HV_CONN : HV_OK;
}

static const struct hv_ops fake_ops = {
        .name = "fake",
        .sample = fake_sample,
        .set_affinity = fake_set_affinity,
        .get_affinity = fake_get_affinity,
        .set_memory = fake_set_memory_op,
        .set_emulator_affinity = fake_set_emulator_affinity,
        .enable_memstats = fake_enable_memstats,
        .reconnect = fake_reconnect,
        .close = NULL,
};
