/* One period of the vCPU scheduler.
 *
 * Demand estimator: over a period a vCPU ran a fraction `run` of one pCPU and waited, runnable,
 * a fraction `wait` (libvirt's vcpu.N.wait, from the host scheduler's run-queue statistics).
 * Had it had a pCPU of its own it would have run about run + wait, so demand = min(1, run +
 * wait): two busy vCPUs sharing a pCPU each show run 0.5 but demand 1. Where the driver gives
 * no wait time, a vCPU on a saturated pCPU (busy >= 95 %) that got as much as the busiest vCPU
 * there is assumed to want a whole pCPU (its true demand is hidden by the contention). Demand
 * and the background load of each pCPU (busy time not explained by managed vCPUs) are smoothed
 * with an exponential moving average (weight SCHED_ALPHA for the newest period). A vCPU whose
 * estimate swings (its slow average deviation from its slow mean exceeds SCHED_BURSTY) is
 * placed by its slow mean instead, so on/off loads do not make placement chase each burst.
 */
#include "scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carry.h"
#include "log.h"
#include "placement.h"
#include "usage.h"
#include "util.h"

/* A pCPU counts as saturated at this busy fraction (for the estimator without wait times). */
#define SATURATED 0.95

/* Per-vCPU state carried from period to period (indexed like the snapshot's vCPUs). */
struct vstate {
    double demand;    /* fast average of the estimate */
    double mean;      /* slow average */
    double swing;     /* slow average of |estimate - mean|: how bursty it is */
    unsigned samples; /* estimates so far (the slow averages' warm-up) */
    bool known;
    bool remembered;        /* its original affinity is saved for --restore-pins */
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

struct scheduler {
    struct sched_config cfg;
    unsigned long period;
    struct usage usage;
    struct carry state; /* struct vstate per vCPU, this period's and the previous one's */
    double *background; /* per pCPU, smoothed */
    double *usage_buf;  /* per pCPU, this period */
    double *attributed; /* per pCPU: run time of vCPUs pinned there */
    double *maxrun;     /* per pCPU: highest run of a vCPU pinned there */
    unsigned char *usable;
    int npcpus;
    struct sched_vcpu_info *info;
    struct placement_vcpu *pv;
    struct sched_move *moves;
    size_t vcpu_cap;
    struct saved_map *saved;
    size_t nsaved, saved_cap;
};

struct scheduler *sched_create(const struct sched_config *cfg)
{
    struct scheduler *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->cfg = *cfg;
    usage_init(&s->usage);
    carry_init(&s->state, sizeof(struct vstate));
    return s;
}

void sched_destroy(struct scheduler *s)
{
    if (!s)
        return;
    usage_free(&s->usage);
    carry_free(&s->state);
    free(s->background);
    free(s->usage_buf);
    free(s->attributed);
    free(s->maxrun);
    free(s->usable);
    free(s->info);
    free(s->pv);
    free(s->moves);
    for (size_t i = 0; i < s->nsaved; i++)
        free(s->saved[i].map);
    free(s->saved);
    free(s);
}

static int ensure_pcpus(struct scheduler *s, int np)
{
    if (np == s->npcpus)
        return 0;
    free(s->background);
    free(s->usage_buf);
    free(s->attributed);
    free(s->maxrun);
    free(s->usable);
    s->background = calloc((size_t)np, sizeof(double));
    s->usage_buf = calloc((size_t)np, sizeof(double));
    s->attributed = calloc((size_t)np, sizeof(double));
    s->maxrun = calloc((size_t)np, sizeof(double));
    s->usable = malloc((size_t)np);
    if (!s->background || !s->usage_buf || !s->attributed || !s->maxrun || !s->usable) {
        s->npcpus = 0;
        return -1;
    }
    memset(s->usable, 1, (size_t)np);
    s->npcpus = np;
    return 0;
}

static int ensure_vcpus(struct scheduler *s, size_t nv)
{
    size_t n = nv ? nv : 1;

    if (carry_reserve(&s->state, n) < 0)
        return -1;
    if (n <= s->vcpu_cap)
        return 0;
    free(s->info);
    free(s->pv);
    free(s->moves);
    s->info = malloc(n * sizeof(*s->info));
    s->pv = malloc(n * sizeof(*s->pv));
    s->moves = malloc(n * sizeof(*s->moves));
    if (!s->info || !s->pv || !s->moves) {
        s->vcpu_cap = 0;
        return -1;
    }
    s->vcpu_cap = n;
    return 0;
}

/* Saves the current affinity of a vCPU before its first change. */
static void remember(struct scheduler *s, struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
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
static void forget_vanished(struct scheduler *s, const struct snapshot *cur)
{
    size_t out = 0;

    for (size_t i = 0; i < s->nsaved; i++) {
        if (snapshot_find(cur, s->saved[i].uuid) < 0) {
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
    int c = snapshot_uuid_cmp(x->uuid, y->uuid);

    if (c)
        return c;
    if (x->vcpu != y->vcpu)
        return x->vcpu < y->vcpu ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t sched_restore(struct scheduler *s, struct hv *hv)
{
    size_t restored = 0;

    if (s->nsaved > 1)
        qsort(s->saved, s->nsaved, sizeof(*s->saved), saved_cmp);
    for (size_t i = 0; i < s->nsaved; i++) {
        const struct saved_map *m = &s->saved[i];
        /* The oldest record of a vCPU holds its original affinity. */
        if (i > 0 && snapshot_uuid_cmp(m->uuid, s->saved[i - 1].uuid) == 0 &&
            m->vcpu == s->saved[i - 1].vcpu)
            continue;
        if (hv_set_affinity(hv, m->uuid, m->vcpu, m->map, m->maplen) == HV_OK)
            restored++;
    }
    for (size_t i = 0; i < s->nsaved; i++)
        free(s->saved[i].map);
    s->nsaved = 0;
    return restored;
}

/* Measures demand, usage and background for this period into S->info / S->usage_buf. */
static void derive(struct scheduler *s, const struct snapshot *cur)
{
    struct vstate *state = s->state.cur;
    const struct usage *u = &s->usage;
    const struct snap_vcpu *sv = snapshot_all_vcpus(cur);
    size_t nd = snapshot_domain_count(cur);
    int np = s->npcpus;
    bool any_floating_busy = false;

    memset(s->attributed, 0, (size_t)np * sizeof(double));
    memset(s->maxrun, 0, (size_t)np * sizeof(double));
    for (size_t d = 0; d < nd; d++) {
        const struct snap_domain *dom = snapshot_domain(cur, d);
        for (uint32_t k = 0; k < dom->nvcpus; k++) {
            size_t i = dom->vcpu_first + k;
            const struct usage_vcpu *uv = &u->vcpus[i];
            struct sched_vcpu_info *in = &s->info[i];

            in->domain = d;
            in->vcpu = k;
            in->run = uv->valid ? uv->run : 0;
            in->wait = uv->valid && uv->has_wait ? uv->wait : 0;
            in->pin = sv[i].pin >= 0 && sv[i].pin < np ? sv[i].pin : -1;
            in->target = in->pin;
            in->known = uv->valid;
            if (in->pin >= 0) {
                s->attributed[in->pin] += in->run;
                if (in->run > s->maxrun[in->pin])
                    s->maxrun[in->pin] = in->run;
            } else if (in->run >= PLACEMENT_MIN_DEMAND) {
                any_floating_busy = true;
            }
        }
    }

    for (int p = 0; p < np; p++) {
        s->usage_buf[p] = u->has_pcpu ? u->pcpu_busy[p] : fmin(1.0, s->attributed[p]);
        /* Background is what the host counters show beyond managed vCPUs; floating busy vCPUs
         * ran somewhere unknown, so the estimate keeps its old value in such a period. */
        if (u->has_pcpu && !any_floating_busy && u->interval_s > 0) {
            double bg = u->pcpu_busy[p] - s->attributed[p];
            s->background[p] =
                    util_ewma(s->background[p], bg > 0 ? bg : 0, SCHED_ALPHA, s->period > 2);
        }
    }

    for (size_t d = 0; d < nd; d++) {
        const struct snap_domain *dom = snapshot_domain(cur, d);
        for (uint32_t k = 0; k < dom->nvcpus; k++) {
            size_t i = dom->vcpu_first + k;
            const struct usage_vcpu *uv = &u->vcpus[i];
            struct sched_vcpu_info *in = &s->info[i];
            const struct vstate *old = carry_prev(&s->state, uv->prev);
            double raw;

            state[i].remembered = old ? old->remembered : false;
            state[i].moved_at = old ? old->moved_at : 0;
            state[i].cooldown = old ? old->cooldown : 0;
            if (!uv->valid || dom->state != SNAP_RUNNING || (sv[i].flags & SNAP_VCPU_OFFLINE)) {
                state[i].known = uv->valid;
                state[i].demand = state[i].mean = state[i].swing = 0;
                state[i].samples = 0;
                in->demand = 0;
                continue;
            }
            if (uv->has_wait) {
                raw = fmin(1.0, uv->run + uv->wait);
            } else {
                raw = uv->run;
                if (in->pin >= 0 && s->usage_buf[in->pin] >= SATURATED &&
                    uv->run >= 0.9 * s->maxrun[in->pin])
                    raw = 1.0;
            }
            {
                struct vstate *st = &state[i];
                bool have = old && old->known;
                /* The slow averages start as plain running means of the samples so far. */
                unsigned n = have && old->samples < 1000 ? old->samples + 1 : have ? 1000 : 1;
                double a = 1.0 / n > SCHED_SLOW_ALPHA ? 1.0 / n : SCHED_SLOW_ALPHA;
                st->samples = n;
                st->demand = util_ewma(have ? old->demand : 0, raw, SCHED_ALPHA, have);
                st->mean = have ? a * raw + (1 - a) * old->mean : raw;
                st->swing = have ? a * fabs(raw - st->mean) + (1 - a) * old->swing : 0;
                st->known = true;
                /* A bursty vCPU is placed by its long-run mean, not by its latest burst. */
                in->demand = st->swing > SCHED_BURSTY ? st->mean : st->demand;
            }
        }
    }
}

static void log_move(const struct scheduler *s, const struct snapshot *cur,
                     const struct sched_move *m)
{
    const char *name = snapshot_domain_name(cur, snapshot_domain(cur, m->domain));
    char from[16];

    if (m->from >= 0)
        snprintf(from, sizeof(from), "pCPU %d", m->from);
    else
        snprintf(from, sizeof(from), "floating");
    log_info("%s '%s' vCPU %u: %s -> pCPU %d (demand %.0f%%)",
             s->cfg.dry_run ? "would pin" : "pinned", name, m->vcpu, from, m->to, m->demand * 100);
}

int sched_period(struct scheduler *s, struct hv *hv, const struct snapshot *prev,
                 const struct snapshot *cur, unsigned long calls0, struct sched_report *rep)
{
    size_t nv = snapshot_vcpu_count(cur);
    int np = snapshot_npcpus(cur);
    struct placement_input in;
    struct placement_plan plan;
    size_t nmoves = 0, failed = 0;
    struct vstate *state;

    memset(rep, 0, sizeof(*rep));
    s->period++;
    if (ensure_pcpus(s, np) < 0 || ensure_vcpus(s, nv) < 0 ||
        usage_from_snapshots(prev, cur, &s->usage) < 0)
        return -1;
    state = s->state.cur;
    derive(s, cur);

    rep->period = s->period;
    rep->baseline = prev == NULL;
    rep->npcpus = np;
    rep->pcpu_usage = s->usage_buf;
    rep->usage_measured = s->usage.has_pcpu;
    rep->usage_spread = placement_spread(s->usage_buf, NULL, np);
    rep->nvcpus = nv;
    rep->vcpus = s->info;
    rep->moves = s->moves;
    rep->balanced = true;

    if (!rep->baseline) {
        for (size_t i = 0; i < nv; i++) {
            s->pv[i].demand = s->info[i].demand;
            s->pv[i].pin = s->info[i].pin;
            s->pv[i].sticky =
                    state[i].moved_at > 0 && s->period - state[i].moved_at < state[i].cooldown;
        }
        in.npcpus = np;
        in.usable = s->usable;
        in.background = s->background;
        in.nvcpus = nv;
        in.vcpus = s->pv;
        in.threshold = s->cfg.threshold;
        if (placement_plan(&in, &plan) < 0)
            return -1;
        rep->spread_before = plan.spread_before;
        rep->spread_after = plan.spread_after;
        rep->lower_bound = plan.act ? plan.lower_bound : 0;
        rep->balanced = !plan.act;
        for (size_t i = 0; plan.act && i < nv; i++) {
            struct sched_vcpu_info *vi = &s->info[i];
            const struct snap_domain *dom = snapshot_domain(cur, vi->domain);
            struct sched_move *m;

            vi->target = plan.target[i];
            if (vi->target < 0 || vi->target == vi->pin)
                continue;
            m = &s->moves[nmoves++];
            m->domain = vi->domain;
            m->vcpu = vi->vcpu;
            m->from = vi->pin;
            m->to = vi->target;
            m->demand = vi->demand;
            m->result = HV_OK;
            if (!s->cfg.dry_run) {
                if (s->cfg.restore_pins && !state[i].remembered) {
                    remember(s, hv, dom->uuid, vi->vcpu, np);
                    state[i].remembered = true;
                }
                m->result = hv_pin_vcpu(hv, dom->uuid, vi->vcpu, vi->target, np);
                if (m->result == HV_OK) {
                    state[i].moved_at = s->period;
                    /* A vCPU known to be bursty when moved stays longer where it goes. */
                    state[i].cooldown =
                            state[i].swing > SCHED_BURSTY ? SCHED_COOLDOWN_BURSTY : SCHED_COOLDOWN;
                } else if (m->result == HV_GONE)
                    log_debug("'%s' vanished before its vCPU %u could be pinned",
                              snapshot_domain_name(cur, dom), vi->vcpu);
                else if (m->result != HV_OK)
                    failed++;
            }
            if (m->result == HV_OK)
                log_move(s, cur, m);
        }
        placement_plan_free(&plan);
    }
    if (s->nsaved > snapshot_vcpu_count(cur))
        forget_vanished(s, cur);
    rep->nmoves = nmoves;
    rep->failed = failed;
    rep->calls = hv_calls(hv) - calls0;

    carry_swap(&s->state, nv); /* this period's state becomes the previous one */
    return 0;
}
