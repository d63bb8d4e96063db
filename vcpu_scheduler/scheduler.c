/* One period of the vCPU scheduler.
 *
 * Demand estimator: over a period a vCPU ran a fraction `run` of one pCPU and spent a fraction
 * `delay` runnable in the host's run queue, waiting for a pCPU. Had it had a pCPU of its own it
 * would have run about run + delay, so demand = min(1, run + delay): two busy vCPUs sharing a
 * pCPU each show run 0.5 but demand 1. The host reports that queueing time twice, and only one
 * is there on stock kernels: `vcpu.N.delay` (the kernel's sched_info run_delay, always on) and
 * `vcpu.N.wait` (schedstats wait_sum: libvirt reports it as 0 unless kernel.sched_schedstats
 * is on). So delay is preferred; wait is used only once it has been seen to move; a counter
 * that is reported but has never moved while vCPUs visibly contend (a saturated pCPU with two
 * busy vCPUs pinned to it) is taken as unmeasured. Without a usable counter, a vCPU on a
 * saturated pCPU (busy >= 95 %) that got as much as the busiest vCPU there is assumed to want
 * a whole pCPU (its true demand is hidden by the contention). Demand and the background load
 * of each pCPU (busy time not explained by managed vCPUs) are smoothed with an exponential
 * moving average (weight SCHED_ALPHA for the newest period). A vCPU whose estimate swings (its
 * slow average deviation from its slow mean exceeds SCHED_BURSTY) is placed by its slow mean
 * instead, so on/off loads do not make placement chase each burst.
 */
#include "scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carry.h"
#include "hostview.h"
#include "log.h"
#include "numa.h"
#include "placement.h"
#include "usage.h"
#include "util.h"

/* A pCPU counts as saturated at this busy fraction (for the estimator without wait times). */
#define SATURATED 0.95

/* Periods after a pin change during which averaged service still tells of the old placement
 * (the averages weigh the newest period 0.5: after 3 periods the old one weighs 1/8). */
#define SETTLE_PERIODS 3

/* Periods running the kernel's placement of floating vCPUs must fall short before they are
 * pinned; longer when all it fell short of is equal service within a class it places alone. */
#define TROUBLE_PATIENCE 2
#define KERNEL_PATIENCE  3

/* vCPU run time is accounted in steps of this many seconds (clock ticks of /proc/.../stat). */
#define VCPU_TIME_STEP_S 0.01

/* What is known of a run-queue counter (delay or wait) on this host. */
enum proof {
    UNPROVEN, /* reported, never seen to move */
    REAL,     /* seen to move: measured */
    DEAD      /* reported, but still at 0 while vCPUs visibly contend: not measured */
};

/* Per-vCPU state carried from period to period (indexed like the snapshot's vCPUs). */
struct vstate {
    double demand;    /* fast average of the estimate */
    double mean;      /* slow average */
    double swing;     /* slow average of |estimate - mean|: how bursty it is */
    double run_avg;   /* fast average of its run time (what it got) */
    unsigned samples; /* estimates so far (the slow averages' warm-up) */
    bool known;
    bool remembered;        /* its original affinity is saved for --restore-pins */
    bool warned_alone;      /* "may go nowhere" said */
    unsigned long moved_at; /* period of its last pin change by us (0: never) */
    unsigned cooldown;      /* periods it stays put after that change */
};

/* An original affinity saved for --restore-pins. */
struct saved_map {
    unsigned char uuid[SNAP_UUID_LEN];
    uint32_t vcpu;
    size_t seq;
    size_t maplen;
    unsigned char *map;
};

struct sched {
    struct sched_config cfg;
    unsigned long period;
    struct usage usage;
    struct carry state;       /* struct vstate per vCPU, this period's and the previous one's */
    double *background;       /* per pCPU, smoothed */
    double *usage_buf;        /* per pCPU, this period */
    double *attributed;       /* per pCPU: run time of vCPUs pinned there */
    double *maxrun;           /* per pCPU: highest run of a vCPU pinned there */
    unsigned char *contended; /* per pCPU: busy vCPUs pinned there (0, 1, 2 or more) */
    double *bg_in;            /* per pCPU: the background the plan sees */
    unsigned char *online;    /* per pCPU: online this period */
    struct hostview *view;
    int *home;    /* per vCPU: home node for the plan */
    bool *strict; /* per vCPU: bound to its home node */
    size_t nhome_cap;
    struct numa_result numa;
    size_t emulator_pins;
    unsigned char *emulator_cpus; /* --emulator-cpus, cfg.maplen bytes, or NULL */
    struct emu_saved {
        unsigned char uuid[SNAP_UUID_LEN];
        unsigned char *map; /* its emulator affinity before we pinned it, or NULL: all */
        bool failed;        /* the host refused: not tried again */
    } * emu;
    size_t nemu, cap_emu;
    int npcpus;
    struct sched_vcpu_info *info;
    struct placement_vcpu *pv;
    struct sched_move *moves;
    size_t vcpu_cap;
    /* This period: */
    size_t ndomains;
    double *emulator; /* per domain: emulator load, or -1 */
    size_t cap_emulator;
    bool floating_busy; /* a floating vCPU ran */
    bool pin_floating;  /* the plan may pin floating vCPUs */
    enum sched_signal signal;
    size_t delay_measured;
    double delay_max, delay_mean;
    size_t nvcpus, nmoves, failed, lower_bound;
    double spread_before, spread_after;
    bool balanced;
    struct saved_map *saved;
    size_t nsaved, saved_cap;
    enum proof delay_proof, wait_proof;
    enum sched_signal last_signal; /* of the previous period, for the -v log */
    unsigned troubled;       /* periods running the kernel fell short placing floating vCPUs */
    bool wanted;             /* last period's plan wanted to act */
    unsigned long last_move; /* period of the last pin change made (0: none) */
    bool waiting;            /* this period's small imbalance waits for confirmation */
    bool warned_unusable;    /* "no usable pCPU" said */
};

const char *sched_signal_name(enum sched_signal sig)
{
    switch (sig) {
    case SCHED_SIGNAL_DELAY:
        return "delay";
    case SCHED_SIGNAL_WAIT:
        return "wait";
    case SCHED_SIGNAL_SATURATION:
        return "saturation";
    case SCHED_SIGNAL_COUNT:
        break;
    }
    return "?";
}

struct sched *sched_create(const struct sched_config *cfg)
{
    struct sched *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->last_signal = SCHED_SIGNAL_COUNT;
    usage_init(&s->usage);
    carry_init(&s->state, sizeof(struct vstate));
    s->view = hostview_create(
            &(struct hostview_config){cfg->cpus, cfg->emulator_cpus, cfg->maplen, cfg->smt});
    if (!s->view) {
        sched_destroy(s);
        return NULL;
    }
    s->cfg.cpus = NULL; /* the view holds its own copy */
    if (cfg->emulator_cpus) {
        s->emulator_cpus = malloc(cfg->maplen ? cfg->maplen : 1);
        if (!s->emulator_cpus) {
            sched_destroy(s);
            return NULL;
        }
        memcpy(s->emulator_cpus, cfg->emulator_cpus, cfg->maplen);
    }
    s->cfg.emulator_cpus = NULL;
    return s;
}

void sched_destroy(struct sched *s)
{
    if (!s)
        return;
    usage_free(&s->usage);
    carry_free(&s->state);
    free(s->background);
    free(s->usage_buf);
    free(s->attributed);
    free(s->maxrun);
    free(s->contended);
    free(s->bg_in);
    free(s->online);
    hostview_destroy(s->view);
    free(s->home);
    free(s->strict);
    for (size_t i = 0; i < s->nemu; i++)
        free(s->emu[i].map);
    free(s->emu);
    free(s->emulator_cpus);
    free(s->emulator);
    free(s->info);
    free(s->pv);
    free(s->moves);
    for (size_t i = 0; i < s->nsaved; i++)
        free(s->saved[i].map);
    free(s->saved);
    free(s);
}

static int ensure_pcpus(struct sched *s, int np)
{
    if (np == s->npcpus)
        return 0;
    free(s->background);
    free(s->usage_buf);
    free(s->attributed);
    free(s->maxrun);
    free(s->contended);
    free(s->bg_in);
    free(s->online);
    s->online = calloc((size_t)np, 1);
    s->contended = calloc((size_t)np, 1);
    s->bg_in = calloc((size_t)np, sizeof(double));
    s->background = calloc((size_t)np, sizeof(double));
    s->usage_buf = calloc((size_t)np, sizeof(double));
    s->attributed = calloc((size_t)np, sizeof(double));
    s->maxrun = calloc((size_t)np, sizeof(double));
    if (!s->background || !s->usage_buf || !s->attributed || !s->maxrun || !s->contended ||
        !s->bg_in || !s->online) {
        s->npcpus = 0;
        return -1;
    }
    s->npcpus = np;
    return 0;
}

static int ensure_vcpus(struct sched *s, size_t nv)
{
    size_t n = nv ? nv : 1;

    if (carry_reserve(&s->state, n) < 0)
        return -1;
    if (n <= s->vcpu_cap)
        return 0;
    free(s->info);
    free(s->pv);
    free(s->moves);
    free(s->home);
    free(s->strict);
    s->info = malloc(n * sizeof(*s->info));
    s->pv = calloc(n, sizeof(*s->pv));
    s->moves = malloc(n * sizeof(*s->moves));
    s->home = malloc(n * sizeof(*s->home));
    s->strict = malloc(n * sizeof(*s->strict));
    if (!s->info || !s->pv || !s->moves || !s->home || !s->strict) {
        s->vcpu_cap = 0;
        return -1;
    }
    s->vcpu_cap = n;
    return 0;
}

/* Saves the current affinity of a vCPU before its first change. */
static void remember(struct sched *s, struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                     int npcpus)
{
    size_t maplen = hv_maplen(npcpus);
    unsigned char *map = calloc(maplen, 1);

    if (!map)
        return;
    if (hv_get_affinity(hv, uuid, vcpu, map, maplen) != HV_OK) {
        free(map);
        return;
    }
    if (s->nsaved == s->saved_cap) {
        size_t ncap = s->saved_cap ? s->saved_cap * 2 : 64;
        struct saved_map *n = realloc(s->saved, ncap * sizeof(*n));
        if (!n) {
            free(map);
            return;
        }
        s->saved = n;
        s->saved_cap = ncap;
    }
    memcpy(s->saved[s->nsaved].uuid, uuid, SNAP_UUID_LEN);
    s->saved[s->nsaved].vcpu = vcpu;
    s->saved[s->nsaved].seq = s->nsaved;
    s->saved[s->nsaved].maplen = maplen;
    s->saved[s->nsaved].map = map;
    s->nsaved++;
}

/* Forgets saved affinities of domains that are gone (a long run with churn must not grow). */
static void forget_vanished(struct sched *s, const struct snap *cur)
{
    size_t out = 0;

    for (size_t i = 0; i < s->nsaved; i++) {
        if (snap_find(cur, s->saved[i].uuid) < 0) {
            free(s->saved[i].map);
            continue;
        }
        s->saved[out++] = s->saved[i];
    }
    s->nsaved = out;
}

static int saved_cmp(const void *a, const void *b)
{
    const struct saved_map *x = a, *y = b;
    int c = snap_uuid_cmp(x->uuid, y->uuid);

    if (c)
        return c;
    if (x->vcpu != y->vcpu)
        return x->vcpu < y->vcpu ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Puts back the emulator affinity of every domain whose emulator threads we pinned; returns
 * how many. */
static size_t restore_emulators(struct sched *s, struct hv *hv)
{
    size_t len = hv_maplen(s->npcpus), n = 0;

    for (size_t i = 0; i < s->nemu; i++) {
        if (s->emu[i].map && !s->emu[i].failed &&
            hv_set_emulator_affinity(hv, s->emu[i].uuid, s->emu[i].map, len) == HV_OK)
            n++;
        free(s->emu[i].map);
    }
    s->nemu = 0;
    return n;
}

size_t sched_restore(struct sched *s, struct hv *hv)
{
    size_t restored = 0;

    if (s->nsaved > 1)
        qsort(s->saved, s->nsaved, sizeof(*s->saved), saved_cmp);
    for (size_t i = 0; i < s->nsaved; i++) {
        const struct saved_map *m = &s->saved[i];
        /* The oldest record of a vCPU holds its original affinity. */
        if (i > 0 && snap_uuid_cmp(m->uuid, s->saved[i - 1].uuid) == 0 &&
            m->vcpu == s->saved[i - 1].vcpu)
            continue;
        if (hv_set_affinity(hv, m->uuid, m->vcpu, m->map, m->maplen) == HV_OK)
            restored++;
    }
    for (size_t i = 0; i < s->nsaved; i++)
        free(s->saved[i].map);
    s->nsaved = 0;
    return restored + restore_emulators(s, hv);
}

/* derive, part 1: each vCPU's run, wait and pin this period, the run time attributed to each
 * pCPU by its pinned vCPUs and the largest of them. Returns true when a floating vCPU was busy. */
static bool derive_vcpus(struct sched *s, const struct snap *cur)
{
    const struct usage *u = &s->usage;
    const struct snap_vcpu *sv = snap_all_vcpus(cur);
    size_t nd = snap_domain_count(cur);
    int np = s->npcpus;
    bool any_floating_busy = false;

    memset(s->attributed, 0, (size_t)np * sizeof(double));
    memset(s->maxrun, 0, (size_t)np * sizeof(double));
    for (size_t d = 0; d < nd; d++) {
        const struct snap_domain *dom = snap_domain(cur, d);
        for (uint32_t k = 0; k < dom->nvcpus; k++) {
            size_t i = dom->vcpu_first + k;
            const struct usage_vcpu *uv = &u->vcpus[i];
            struct sched_vcpu_info *in = &s->info[i];

            in->domain = d;
            in->vcpu = k;
            in->run = uv->valid ? uv->run : 0;
            in->wait = uv->valid && uv->has_wait ? uv->wait : 0;
            in->delay = !uv->valid                              ? -1
                        : uv->has_delay                         ? uv->delay
                        : s->wait_proof == REAL && uv->has_wait ? uv->wait
                                                                : -1;
            in->signal = SCHED_SIGNAL_SATURATION;
            in->pin = sv[i].pin >= 0 && sv[i].pin < np ? sv[i].pin : -1;
            in->target = in->pin;
            in->known = uv->valid;
            in->left_alone = hostview_stranded(s->view, i);
            in->home = hostview_home(s->view, i);
            if (in->pin >= 0) {
                s->attributed[in->pin] += in->run;
                if (in->run > s->maxrun[in->pin])
                    s->maxrun[in->pin] = in->run;
            } else if (in->run >= PLACEMENT_MIN_DEMAND) {
                any_floating_busy = true;
            }
        }
    }
    return any_floating_busy;
}

/* derive, part 2: per-pCPU usage, and background load (busy time not explained by managed
 * vCPUs). Floating busy vCPUs ran somewhere unknown: the background keeps its old value then. */
static void derive_pcpus(struct sched *s, bool any_floating_busy)
{
    const struct usage *u = &s->usage;

    const double *emu = hostview_emulator_load(s->view);

    for (int p = 0; p < s->npcpus; p++) {
        s->attributed[p] += emu[p]; /* emulator threads: measured, not background */
        s->usage_buf[p] = u->has_pcpu ? u->pcpu_busy[p] : fmin(1.0, s->attributed[p]);
        if (u->has_pcpu && !any_floating_busy && u->interval_s > 0) {
            double bg = u->pcpu_busy[p] - s->attributed[p];
            s->background[p] =
                    util_ewma(s->background[p], bg > 0 ? bg : 0, SCHED_ALPHA, s->period > 2);
        }
    }
}

/* Learns from this period whether the delay and wait counters are real: a counter is real once
 * it moves; one that never moved is dead when two busy vCPUs pinned to a saturated pCPU show
 * none of it (they certainly waited for each other). */
static void prove_signals(struct sched *s, size_t nv)
{
    const struct usage_vcpu *uv = s->usage.vcpus;
    unsigned char *contended = s->contended;
    bool delay_seen = false;

    memset(contended, 0, (size_t)s->npcpus);
    for (size_t i = 0; i < nv; i++) {
        const struct sched_vcpu_info *in = &s->info[i];
        if (!uv[i].valid)
            continue;
        if (uv[i].has_delay && uv[i].delay > 0)
            s->delay_proof = REAL;
        if (uv[i].has_wait && uv[i].wait > 0)
            s->wait_proof = REAL;
        if (in->pin >= 0 && in->run >= PLACEMENT_MIN_DEMAND && contended[in->pin] < 2)
            contended[in->pin]++;
    }
    for (size_t i = 0; s->delay_proof == UNPROVEN && i < nv; i++) {
        int p = s->info[i].pin;
        if (uv[i].valid && uv[i].has_delay && p >= 0 && contended[p] >= 2 &&
            s->usage_buf[p] >= SATURATED)
            delay_seen = true;
    }
    if (delay_seen)
        s->delay_proof = DEAD; /* contention, and not a nanosecond of delay anywhere */
}

/* The raw demand estimate of vCPU IN this period and the signal it came from (see the top of
 * this file). */
static double raw_demand(const struct sched *s, const struct usage_vcpu *uv,
                         struct sched_vcpu_info *in)
{
    double tick = s->usage.interval_s > 0 ? VCPU_TIME_STEP_S / s->usage.interval_s : 0;

    if (uv->has_delay && s->delay_proof != DEAD) {
        in->signal = SCHED_SIGNAL_DELAY;
        return fmin(1.0, uv->run + uv->delay);
    }
    if (uv->has_wait && s->wait_proof == REAL) {
        in->signal = SCHED_SIGNAL_WAIT;
        return fmin(1.0, uv->run + uv->wait);
    }
    in->signal = SCHED_SIGNAL_SATURATION;
    /* Run time comes in 10 ms steps: "as much as the busiest" allows for one step. */
    if (in->pin >= 0 && s->usage_buf[in->pin] >= SATURATED &&
        uv->run + tick >= 0.9 * s->maxrun[in->pin])
        return 1.0;
    return uv->run;
}

/* Folds RAW (and the run time RUN) into the averages of ST (OLD: last period's state, or NULL)
 * and returns the demand the plan uses: the fast average, or the slow mean for a bursty vCPU. */
static double smooth_demand(struct vstate *st, const struct vstate *old, double raw, double run)
{
    bool have = old && old->known;
    /* The slow averages start as plain running means of the samples so far. */
    unsigned n = have && old->samples < 1000 ? old->samples + 1 : have ? 1000 : 1;
    double a = 1.0 / n > SCHED_SLOW_ALPHA ? 1.0 / n : SCHED_SLOW_ALPHA;

    st->samples = n;
    st->run_avg = util_ewma(have ? old->run_avg : 0, run, SCHED_ALPHA, have);
    st->demand = util_ewma(have ? old->demand : 0, raw, SCHED_ALPHA, have);
    st->mean = have ? a * raw + (1 - a) * old->mean : raw;
    st->swing = have ? a * fabs(raw - st->mean) + (1 - a) * old->swing : 0;
    st->known = true;
    /* A bursty vCPU is placed by its long-run mean, not by its latest burst; so is a steady one
     * whose fast average is within twice its usual swing of that mean: one period's estimate
     * of a busy vCPU varies by 10-20 % on a loaded host, and placing by it mirrors and swaps
     * vCPUs back and forth. Beyond that band the change is real, and the fast average leads. */
    if (st->swing > SCHED_BURSTY || fabs(st->demand - st->mean) <= 2 * st->swing)
        return st->mean;
    return st->demand;
}

/* derive, part 3: each vCPU's demand, carrying its state from the previous period. */
static void derive_demand(struct sched *s, const struct snap *cur)
{
    struct vstate *state = s->state.cur;
    const struct snap_vcpu *sv = snap_all_vcpus(cur);
    size_t nd = snap_domain_count(cur);

    for (size_t d = 0; d < nd; d++) {
        const struct snap_domain *dom = snap_domain(cur, d);
        for (uint32_t k = 0; k < dom->nvcpus; k++) {
            size_t i = dom->vcpu_first + k;
            const struct usage_vcpu *uv = &s->usage.vcpus[i];
            struct sched_vcpu_info *in = &s->info[i];
            const struct vstate *old = carry_prev(&s->state, uv->prev);
            struct vstate *st = &state[i];

            st->remembered = old ? old->remembered : false;
            st->warned_alone = old ? old->warned_alone : false;
            st->moved_at = old ? old->moved_at : 0;
            st->cooldown = old ? old->cooldown : 0;
            if (!uv->valid || dom->state != SNAP_RUNNING || (sv[i].flags & SNAP_VCPU_OFFLINE)) {
                st->known = uv->valid;
                st->demand = st->mean = st->swing = st->run_avg = 0;
                st->samples = 0;
                in->demand = 0;
                continue;
            }
            in->demand = smooth_demand(st, old, raw_demand(s, uv, in), uv->run);
        }
    }
}

/* The signal most measured vCPUs' demand came from, and their delay figures. */
static void derive_summary(struct sched *s)
{
    size_t count[SCHED_SIGNAL_COUNT] = {0};
    double sum = 0;

    s->signal = SCHED_SIGNAL_SATURATION;
    s->delay_measured = 0;
    s->delay_max = 0;
    for (size_t i = 0; i < s->nvcpus; i++) {
        const struct sched_vcpu_info *in = &s->info[i];
        if (!in->known)
            continue;
        count[in->signal]++;
        if (in->delay >= 0) {
            s->delay_measured++;
            sum += in->delay;
            s->delay_max = fmax(s->delay_max, in->delay);
        }
    }
    for (int g = 0; g < SCHED_SIGNAL_COUNT; g++)
        if (count[g] > count[s->signal])
            s->signal = (enum sched_signal)g;
    s->delay_mean = s->delay_measured ? sum / (double)s->delay_measured : 0;
}

/* Says once per vCPU that it may go nowhere (its guest's allowed pCPUs are not usable here). */
static void warn_alone(struct sched *s, const struct snap *cur)
{
    struct vstate *state = s->state.cur;
    const struct snap_vcpu *sv = snap_all_vcpus(cur);

    for (size_t i = 0; i < s->nvcpus; i++) {
        const struct sched_vcpu_info *in = &s->info[i];
        const struct snap_domain *d = snap_domain(cur, in->domain);
        bool nowhere =
                in->left_alone && (d->cfg & SNAP_CFG_KNOWN) && !(sv[i].flags & SNAP_VCPU_OFFLINE);
        if (nowhere && !state[i].warned_alone)
            log_warning("'%s' vCPU %u may run on no usable pCPU (its CPU set, NUMA nodes, "
                        "--cpus or refused pins); leaving it alone",
                        snap_domain_name(cur, d), in->vcpu);
        state[i].warned_alone = nowhere;
    }
}

/* Says once that no pCPU is usable (--cpus names no online pCPU, or all are emulator pCPUs). */
static void warn_unusable(struct sched *s)
{
    const unsigned char *usable = hostview_usable(s->view);
    int n = 0;

    for (int p = 0; p < s->npcpus; p++)
        n += usable[p];
    if (n == 0 && !s->warned_unusable)
        log_warning("no usable pCPU (--cpus names no online pCPU, or every online pCPU is an "
                    "--emulator-cpus one); no vCPU will be pinned");
    s->warned_unusable = n == 0;
}

/* Each domain's emulator load. */
static int derive_emulator(struct sched *s, const struct snap *cur)
{
    s->ndomains = snap_domain_count(cur);
    if (util_grow((void **)&s->emulator, &s->cap_emulator, s->ndomains ? s->ndomains : 1,
                  sizeof(double)) < 0)
        return -1;
    for (size_t d = 0; d < s->ndomains; d++)
        s->emulator[d] = hostview_emulator(s->view, d);
    return 0;
}

/* derive (pure): snapshots to this period's facts in S->info, S->usage_buf, S->background. */
static void derive(struct sched *s, const struct snap *cur)
{
    for (int p = 0; p < s->npcpus; p++)
        s->online[p] = snap_pcpu_online(cur, p);
    s->floating_busy = derive_vcpus(s, cur);
    derive_pcpus(s, s->floating_busy);
    prove_signals(s, s->nvcpus);
    derive_demand(s, cur);
    derive_summary(s);
}

/* Whether vCPUs of one demand class that has a floating member got service (averaged run
 * time) differing by more than twice the threshold. The kernel may serve a floating vCPU worse or
 * better than the fluid the plan assumes: a lab guest started unpinned beside pinned busy ones
 * got 45 % of a pCPU while they got 23-32 %. Whether pinning would cure it is asked of the plan
 * (troubled). Averages tell of where vCPUs were before a pin change for a few periods after it,
 * and a vCPU's first periods tell of its start (its guest booting, its load starting): neither
 * is judged (a CI run pinned four floating vCPUs at period 3: two busy guests got 65 and 86 %
 * in their first interval, 70 and 69 % in the next, and the average still told of the first).
 * A class whose members all float is the kernel's alone, and its balancer swings for a period
 * or two (a CI run of cpu-mixed: two busy guests served 56-57 % against 67-69 % for two
 * periods): it is FLOAT_UNFAIR_KERNEL only while this period's service differs too, and the
 * plan waits longer for it (KERNEL_PATIENCE). */
enum float_unfair { FLOAT_FAIR, FLOAT_UNFAIR, FLOAT_UNFAIR_KERNEL };

static enum float_unfair floating_unfair(const struct sched *s)
{
    const struct vstate *state = s->state.cur;
    double lo[PLACEMENT_NCLASS], hi[PLACEMENT_NCLASS], now_lo[PLACEMENT_NCLASS],
            now_hi[PLACEMENT_NCLASS];
    bool floating[PLACEMENT_NCLASS] = {false}, pinned[PLACEMENT_NCLASS] = {false};
    enum float_unfair u = FLOAT_FAIR;

    if (s->last_move > 0 && s->period - s->last_move <= SETTLE_PERIODS)
        return FLOAT_FAIR;
    for (int c = 0; c < PLACEMENT_NCLASS; c++) {
        lo[c] = now_lo[c] = 2;
        hi[c] = now_hi[c] = -1;
    }
    for (size_t i = 0; i < s->nvcpus; i++) {
        const struct sched_vcpu_info *in = &s->info[i];
        int c = placement_class(in->demand);
        if (!in->known || c == 0 || in->left_alone || state[i].samples < SETTLE_PERIODS)
            continue;
        floating[c] = floating[c] || in->pin < 0;
        pinned[c] = pinned[c] || in->pin >= 0;
        lo[c] = fmin(lo[c], state[i].run_avg);
        hi[c] = fmax(hi[c], state[i].run_avg);
        now_lo[c] = fmin(now_lo[c], s->usage.vcpus[i].run);
        now_hi[c] = fmax(now_hi[c], s->usage.vcpus[i].run);
    }
    for (int c = 1; c < PLACEMENT_NCLASS; c++) {
        if (!floating[c] || hi[c] - lo[c] <= 2 * s->cfg.threshold)
            continue;
        if (pinned[c])
            return FLOAT_UNFAIR;
        if (now_hi[c] - now_lo[c] > 2 * s->cfg.threshold)
            u = FLOAT_UNFAIR_KERNEL;
    }
    return u;
}

/* The plan's view of each vCPU and of the background: vCPUs left alone (nowhere they may go,
 * offline, or their guest's configuration not known yet) are not planned; a pinned one's
 * demand stays as background on its pCPU. */
static void plan_inputs(struct sched *s)
{
    const struct vstate *state = s->state.cur;
    const double *emu = hostview_emulator_load(s->view);

    for (int p = 0; p < s->npcpus; p++)
        s->bg_in[p] = s->background[p] + emu[p];
    for (size_t i = 0; i < s->nvcpus; i++) {
        const struct sched_vcpu_info *in = &s->info[i];
        struct placement_vcpu *pv = &s->pv[i];

        pv->demand = in->demand;
        pv->pin = in->pin;
        pv->allowed = hostview_allowed(s->view, i);
        pv->group = (int)in->domain + 1;
        pv->sticky = state[i].moved_at > 0 && s->period - state[i].moved_at < state[i].cooldown;
        s->home[i] = in->home;
        s->strict[i] = hostview_strict(s->view, i);
        if (in->left_alone) {
            if (in->pin >= 0)
                s->bg_in[in->pin] += in->demand;
            pv->demand = 0;
            pv->pin = -1;
            s->home[i] = -1;
        }
    }
}

/* Plans with numa_plan(); PIN_FLOATING lets it pin floating vCPUs. */
static int plan_with(struct sched *s, bool pin_floating, struct placement_plan *pl,
                     struct numa_result *nr)
{
    struct placement_input in = {.npcpus = s->npcpus,
                                 .usable = hostview_usable(s->view),
                                 .background = s->bg_in,
                                 .nvcpus = s->nvcpus,
                                 .vcpus = s->pv,
                                 .threshold = s->cfg.threshold,
                                 .pin_floating = pin_floating,
                                 .core = hostview_core(s->view)};
    struct numa_input ni = {&in, hostview_node(s->view), s->home, s->strict};

    for (size_t i = 0; i < s->nvcpus; i++)
        s->home[i] = s->pv[i].demand > 0 || s->pv[i].pin >= 0 ? s->info[i].home : -1;
    return numa_plan(&ni, pl, nr);
}

/* True when the measured usage spread is above the one PL projects (the kernel's placement of
 * floating vCPUs fell short of the fluid the plan assumes). */
static bool spread_short(const struct sched *s, const struct placement_plan *pl)
{
    return s->usage.has_pcpu && placement_spread(s->usage_buf, hostview_usable(s->view),
                                                 s->npcpus) > pl->usage_after + s->cfg.threshold;
}

/* Plans with floating vCPUs pinned into *PINNED (its NUMA figures in *NR) when the kernel's
 * placement of them fell short of PL this period: the usage spread, or a class with floating
 * members served unequally where pinning would make it fair (more busy vCPUs than fit evenly is
 * nobody's fault); *PATIENCE is how many periods running it must fall short before the plan
 * pins. Returns 1 when it fell short (PINNED holds the plan), 0 when not, -1 when out of
 * memory. */
static int troubled(struct sched *s, const struct placement_plan *pl, struct placement_plan *pinned,
                    struct numa_result *nr, unsigned *patience)
{
    bool spread;
    enum float_unfair unfair = FLOAT_FAIR;

    *patience = TROUBLE_PATIENCE;
    if (!s->floating_busy)
        return 0;
    spread = spread_short(s, pl);
    if (!spread)
        unfair = floating_unfair(s);
    if (!spread && unfair == FLOAT_FAIR)
        return 0;
    if (unfair == FLOAT_UNFAIR_KERNEL)
        *patience = KERNEL_PATIENCE;
    if (plan_with(s, true, pinned, nr) < 0)
        return -1;
    if (unfair != FLOAT_FAIR && pinned->unfair_after) {
        placement_plan_free(pinned);
        return 0;
    }
    return 1;
}

/* Records the pin changes of PL in S->moves. */
static void record_moves(struct sched *s, const struct placement_plan *pl)
{
    const int *node = hostview_node(s->view);

    for (size_t i = 0; pl->act && i < s->nvcpus; i++) {
        struct sched_vcpu_info *vi = &s->info[i];
        struct sched_move *m;

        vi->target = pl->target[i];
        if (vi->target < 0 || vi->target == vi->pin)
            continue;
        m = &s->moves[s->nmoves++];
        m->index = i;
        m->domain = vi->domain;
        m->vcpu = vi->vcpu;
        m->from = vi->pin;
        m->to = vi->target;
        m->node_from = vi->pin >= 0 ? node[vi->pin] : -1;
        m->node_to = node[vi->target];
        m->demand = vi->demand;
        m->result = HV_OK;
    }
}

/* True when PL acts on a small imbalance alone: no vCPU to place, no class served unequally,
 * and a load spread under twice the threshold. One period's demand estimate of a busy vCPU
 * varies by some 10 % (guest scheduling, TCG, other host load): acting on such a spread at
 * once swaps vCPUs back and forth, so it must be seen two periods running. */
static bool small_imbalance(const struct sched *s, const struct placement_plan *pl)
{
    return pl->act && pl->must_place == 0 && !pl->unfair_before &&
           pl->spread_before < 2 * s->cfg.threshold;
}

/* plan (pure): the placement policy on this period's facts; the pin changes go to S->moves.
 * The kernel places floating vCPUs; they are pinned only when its placement has fallen short
 * for two periods running (three when it is only unequal service within a class of floating
 * vCPUs alone). A small imbalance is acted on when it lasts two periods. */
static int plan(struct sched *s)
{
    struct placement_plan pl, pinned;
    struct numa_result nr;
    unsigned patience;
    int now;

    plan_inputs(s);
    if (plan_with(s, false, &pl, &s->numa) < 0)
        return -1;
    if ((now = troubled(s, &pl, &pinned, &nr, &patience)) < 0) {
        placement_plan_free(&pl);
        return -1;
    }
    s->troubled = now ? s->troubled + 1 : 0;
    s->pin_floating = now && s->troubled >= patience;
    if (s->pin_floating) {
        placement_plan_free(&pl);
        pl = pinned;
        s->numa = nr;
    } else if (now) {
        placement_plan_free(&pinned);
    }
    s->waiting = small_imbalance(s, &pl) && !s->wanted;
    s->wanted = pl.act;
    pl.act = pl.act && !s->waiting;
    s->spread_before = pl.spread_before;
    s->spread_after = pl.act ? pl.spread_after : pl.spread_before;
    s->lower_bound = pl.act ? pl.lower_bound : 0;
    s->balanced = !pl.act && !s->waiting;
    record_moves(s, &pl);
    placement_plan_free(&pl);
    return 0;
}

/* What a signal is, for the -v log. */
static const char *signal_source(enum sched_signal sig)
{
    switch (sig) {
    case SCHED_SIGNAL_DELAY:
        return "run time + run-queue delay (vcpu.N.delay)";
    case SCHED_SIGNAL_WAIT:
        return "run time + wait (vcpu.N.wait, schedstats)";
    default:
        return "run time only: no usable wait counter (saturation rule)";
    }
}

static void log_move(const struct sched *s, const struct snap *cur, const struct sched_move *m)
{
    const char *name = snap_domain_name(cur, snap_domain(cur, m->domain));
    char from[16];

    if (m->from >= 0)
        snprintf(from, sizeof(from), "pCPU %d", m->from);
    else
        snprintf(from, sizeof(from), "floating");
    if (m->node_from >= 0 && m->node_from != m->node_to)
        log_info("%s '%s' vCPU %u: %s -> pCPU %d (node %d -> %d, demand %.0f%%)",
                 s->cfg.dry_run ? "would pin" : "pinned", name, m->vcpu, from, m->to, m->node_from,
                 m->node_to, m->demand * 100);
    else
        log_info("%s '%s' vCPU %u: %s -> pCPU %d (demand %.0f%%)",
                 s->cfg.dry_run ? "would pin" : "pinned", name, m->vcpu, from, m->to,
                 m->demand * 100);
}

/* Pins one planned move through HV and records its result. */
static void apply_move(struct sched *s, struct hv *hv, const struct snap *cur, struct sched_move *m)
{
    struct vstate *st = (struct vstate *)s->state.cur + m->index;
    const struct snap_domain *dom = snap_domain(cur, m->domain);

    if (s->cfg.restore_pins && !st->remembered) {
        remember(s, hv, dom->uuid, m->vcpu, s->npcpus);
        st->remembered = true;
    }
    m->result = hv_pin_vcpu(hv, dom->uuid, m->vcpu, m->to, s->npcpus);
    if (m->result == HV_OK) {
        st->moved_at = s->last_move = s->period;
        /* A vCPU known to be bursty when moved stays longer where it goes. */
        st->cooldown = st->swing > SCHED_BURSTY ? SCHED_COOLDOWN_BURSTY : SCHED_COOLDOWN;
    } else if (m->result == HV_GONE) {
        log_debug("'%s' vanished before its vCPU %u could be pinned", snap_domain_name(cur, dom),
                  m->vcpu);
    } else {
        s->failed++;
        if (m->result == HV_FAIL) {
            /* The host refuses it (a cgroup cpuset): learned, not retried every period. */
            hostview_refuse(s->view, dom->uuid, m->vcpu, m->to);
            log_warning("the host refused pCPU %d to '%s' vCPU %u; not trying it again", m->to,
                        snap_domain_name(cur, dom), m->vcpu);
        }
    }
}

/* The record of domain UUID's emulator pin, added when missing (NULL when out of memory). */
static struct emu_saved *emu_record(struct sched *s, const unsigned char *uuid)
{
    for (size_t i = 0; i < s->nemu; i++)
        if (snap_uuid_cmp(s->emu[i].uuid, uuid) == 0)
            return &s->emu[i];
    if (util_grow((void **)&s->emu, &s->cap_emu, s->nemu + 1, sizeof(*s->emu)) < 0)
        return NULL;
    memset(&s->emu[s->nemu], 0, sizeof(s->emu[s->nemu]));
    memcpy(s->emu[s->nemu].uuid, uuid, SNAP_UUID_LEN);
    return &s->emu[s->nemu++];
}

/* The --emulator-cpus map at the host's size into MAP; false when it names no online pCPU. */
static bool emulator_target(const struct sched *s, const struct snap *cur, unsigned char *map)
{
    size_t len = snap_maplen(cur);
    bool any = false;

    memset(map, 0, len);
    for (int p = 0; p < s->npcpus && (size_t)p / 8 < s->cfg.maplen; p++)
        if (s->emulator_cpus && util_bit(s->emulator_cpus, p) && snap_pcpu_online(cur, p)) {
            map[p / 8] |= (unsigned char)(1u << (p % 8));
            any = true;
        }
    return any;
}

/* Pins domain D's emulator threads to WANT (LEN bytes), remembering what they had. */
static void pin_emulator(struct sched *s, struct hv *hv, const struct snap *cur,
                         const struct snap_domain *d, const unsigned char *want)
{
    size_t len = snap_maplen(cur);
    const unsigned char *now = snap_domain_map(cur, d, SNAP_MAP_EMULATOR);
    struct emu_saved *e = emu_record(s, d->uuid);
    char list[128];
    int rc;

    if (!e || e->failed)
        return;
    if (!e->map && s->cfg.restore_pins && (e->map = calloc(len, 1))) {
        /* What it had; unknown, the online pCPUs (libvirt's default). */
        for (int p = 0; p < s->npcpus; p++)
            if (now ? util_bit(now, p) : snap_pcpu_online(cur, p))
                e->map[p / 8] |= (unsigned char)(1u << (p % 8));
    }
    rc = hv_set_emulator_affinity(hv, d->uuid, want, len);
    util_format_cpulist(want, s->npcpus, list, sizeof(list));
    if (rc == HV_OK) {
        s->emulator_pins++;
        log_info("pinned the emulator threads of '%s' to pCPUs %s", snap_domain_name(cur, d), list);
    } else if (rc == HV_FAIL) {
        e->failed = true;
        log_warning("cannot pin the emulator threads of '%s' to pCPUs %s; not trying again",
                    snap_domain_name(cur, d), list);
    }
}

/* apply, emulator threads: each managed domain's go to --emulator-cpus (live). */
static void apply_emulator(struct sched *s, struct hv *hv, const struct snap *cur)
{
    size_t len = snap_maplen(cur);
    unsigned char *want = calloc(len, 1);

    if (want && emulator_target(s, cur, want)) {
        for (size_t di = 0; di < snap_domain_count(cur); di++) {
            const struct snap_domain *d = snap_domain(cur, di);
            const unsigned char *now = snap_domain_map(cur, d, SNAP_MAP_EMULATOR);
            if ((d->cfg & SNAP_CFG_KNOWN) && !(now && memcmp(now, want, len) == 0))
                pin_emulator(s, hv, cur, d, want);
        }
    }
    free(want);
}

/* apply: the only hypervisor writes, the planned pins (none in a dry run). */
static void apply(struct sched *s, struct hv *hv, const struct snap *cur)
{
    s->emulator_pins = 0;
    if (!s->cfg.dry_run && s->emulator_cpus)
        apply_emulator(s, hv, cur);
    for (size_t i = 0; i < s->nmoves; i++) {
        struct sched_move *m = &s->moves[i];

        if (!s->cfg.dry_run)
            apply_move(s, hv, cur, m);
        if (m->result == HV_OK)
            log_move(s, cur, m);
    }
}

/* report: what this period measured, planned and applied. */
static void report(const struct sched *s, bool baseline, struct sched_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    rep->period_no = s->period;
    rep->baseline = baseline;
    rep->npcpus = s->npcpus;
    rep->pcpu_usage = s->usage_buf;
    rep->usage_measured = s->usage.has_pcpu;
    rep->usage_spread = placement_spread(s->usage_buf, s->online, s->npcpus);
    rep->spread_before = s->spread_before;
    rep->spread_after = s->spread_after;
    rep->nvcpus = s->nvcpus;
    rep->vcpus = s->info;
    rep->signal = s->signal;
    rep->delay_measured = s->delay_measured;
    rep->delay_max = s->delay_max;
    rep->delay_mean = s->delay_mean;
    rep->nmoves = s->nmoves;
    rep->moves = s->moves;
    rep->lower_bound = s->lower_bound;
    rep->failed = s->failed;
    rep->balanced = s->balanced;
    rep->waiting = s->waiting;
    rep->pin_floating = s->pin_floating;
    rep->pcpu_usable = hostview_usable(s->view);
    rep->pcpu_node = hostview_node(s->view);
    rep->nnodes = s->numa.nnodes;
    rep->crossed = s->numa.crossed;
    rep->ndomains = s->ndomains;
    rep->emulator = s->emulator;
    rep->emulator_pins = s->emulator_pins;
}

int sched_period(struct sched *s, struct hv *hv, const struct snap *prev, const struct snap *cur,
                 unsigned long calls0, struct sched_report *rep)
{
    s->period++;
    s->nvcpus = snap_vcpu_count(cur);
    s->nmoves = s->failed = s->lower_bound = 0;
    s->pin_floating = false;
    memset(&s->numa, 0, sizeof(s->numa));
    s->spread_before = s->spread_after = 0;
    s->balanced = true;
    s->waiting = false;
    if (ensure_pcpus(s, snap_npcpus(cur)) < 0 || ensure_vcpus(s, s->nvcpus) < 0 ||
        usage_from_snapshots(prev, cur, &s->usage) < 0 ||
        hostview_derive(s->view, prev, cur, &s->usage) < 0)
        return -1;
    derive(s, cur);
    warn_unusable(s);
    if (derive_emulator(s, cur) < 0 || (prev && plan(s) < 0))
        return -1;
    apply(s, hv, cur);
    warn_alone(s, cur);
    report(s, prev == NULL, rep);
    if (prev && s->signal != s->last_signal)
        log_debug("demand from %s", signal_source(s->signal));
    s->last_signal = prev ? s->signal : s->last_signal;
    rep->calls = hv_calls(hv) - calls0;

    if (s->nsaved > s->nvcpus)
        forget_vanished(s, cur);
    hostview_forget(s->view, cur);
    carry_swap(&s->state, s->nvcpus); /* this period's state becomes the previous one */
    return 0;
}
