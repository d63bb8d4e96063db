/* The demand estimator (derive, pure): what each vCPU would run with a pCPU of its own.
 *
 * Over a period a vCPU ran a fraction `run` of one pCPU and spent a fraction `delay` runnable in
 * the host's run queue, waiting for a pCPU. Had it had a pCPU of its own it would have run about
 * run + delay, so demand = min(1, run + delay): two busy vCPUs sharing a pCPU each show run 0.5 but
 * demand 1. The host reports that queueing time twice, and only one is there on stock
 * kernels: `vcpu.N.delay` (the kernel's sched_info run_delay, always on) and `vcpu.N.wait`
 * (schedstats wait_sum: libvirt reports it as 0 unless kernel.sched_schedstats is on). So delay is
 * preferred; wait is used only once it has been seen to move; a counter that is reported but has
 * never moved while vCPUs visibly contend (a saturated pCPU with two busy vCPUs pinned to it) is
 * taken as unmeasured. Without a usable counter, a vCPU on a saturated pCPU (busy >= 95 %) that got
 * as much as the busiest vCPU there is assumed to want a whole pCPU (its true demand is hidden by
 * the contention). A vCPU that is not runnable the whole period also waits at each wake-up to be
 * put back on its pCPU, more the busier the pCPU: that part of its delay is not demand and is
 * taken off (wake_queueing()). The kernel accounts a wait when it ends: a vCPU waiting seconds
 * without running shows no run and no delay meanwhile, then the whole wait at once, so such a
 * period keeps the estimate, the excess makes up the period before, and a drop counts from the
 * second period that shows it (estimate()). Demand and the background load of each pCPU (busy time
 * not explained by managed vCPUs) are smoothed with an exponential moving average (weight
 * SCHED_ALPHA for the newest period). A vCPU whose estimate swings (its slow average deviation from
 * its slow mean exceeds SCHED_BURSTY) is placed by its slow mean instead, so on/off loads do not
 * make placement chase each burst. A vCPU's quota caps its demand: time the quota throttles shows
 * as run-queue delay (docs/EVIDENCE.md#quota-shows-as-delay), which is no want of a pCPU, and a
 * vCPU that ran up to its quota is "capped": its delay is left out of the delay figures.
 */
#include "sched_state.h"

#include <math.h>
#include <string.h>

#include "util.h"

/* A pCPU counts as saturated at this busy fraction (for the estimator without wait times). */
#define SATURATED 0.95

/* A vCPU runnable (run + delay) this much of a period is busy: all of its delay is demand. */
#define RUNNABLE_ALL 0.95

/* Wake-up queueing: delay per unit run per unit of the other tasks' pressure on the pCPU, and
 * the most of a pCPU their load counts as (docs/EVIDENCE.md#wake-up-queueing). */
#define WAKE_QUEUEING 0.09
#define MAX_OTHERS    0.95

/* A vCPU whose counters stand still keeps its estimate this long (s), then it counts as idle: the
 * longest standstill of a busy vCPU's counters seen in the lab (docs/EVIDENCE.md#late-waits). */
#define STILL_MAX_S 6.5

/* vCPU run time is accounted in steps of this many seconds (clock ticks of /proc/.../stat). */
#define VCPU_TIME_STEP_S 0.01

/* How far below its cap a vCPU that ran up to it may show: one step of run time, or 2 %. */
static double capped_slack(const struct sched *s)
{
    double tick = s->usage.interval_s > 0 ? VCPU_TIME_STEP_S / s->usage.interval_s : 0;

    return fmax(tick, 0.02);
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
            in->fixed = hostview_fixed(s->view, i);
            in->left_alone = hostview_stranded(s->view, i) || in->fixed;
            in->weight = hostview_weight(s->view, i);
            in->cap = hostview_cap(s->view, i);
            in->capped = in->cap < 1 && uv->valid && in->run >= in->cap - capped_slack(s);
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

/* The part of a vCPU's run-queue delay that is not demand: a vCPU that is not runnable the
 * whole period (run + delay under RUNNABLE_ALL) waits at each wake-up to be put back on its
 * pCPU, WAKE_QUEUEING per unit it runs times the pressure of the other tasks there (their load
 * over what they leave); measured on recorded hosts (docs/EVIDENCE.md#wake-up-queueing). Known
 * only for a vCPU pinned to one pCPU whose busy time is measured. */
static double wake_queueing(const struct sched *s, const struct usage_vcpu *uv,
                            const struct sched_vcpu_info *in)
{
    double others;

    if (in->pin < 0 || !s->usage.has_pcpu || uv->run + uv->delay >= RUNNABLE_ALL)
        return 0;
    others = fmin(MAX_OTHERS, fmax(0, s->usage.pcpu_busy[in->pin] - uv->run));
    return uv->run * WAKE_QUEUEING * others / (1 - others);
}

/* The raw demand estimate of vCPU IN this period and the signal it came from (see the top of
 * this file). */
static double raw_demand(const struct sched *s, const struct usage_vcpu *uv,
                         struct sched_vcpu_info *in)
{
    double tick = s->usage.interval_s > 0 ? VCPU_TIME_STEP_S / s->usage.interval_s : 0;

    if (uv->has_delay && s->delay_proof != DEAD) {
        in->signal = SCHED_SIGNAL_DELAY;
        return uv->run + uv->delay + uv->delay_late - wake_queueing(s, uv, in);
    }
    if (uv->has_wait && s->wait_proof == REAL) {
        in->signal = SCHED_SIGNAL_WAIT;
        return uv->run + uv->wait + uv->wait_late;
    }
    in->signal = SCHED_SIGNAL_SATURATION;
    /* Run time comes in 10 ms steps: "as much as the busiest" allows for one step. */
    if (in->pin >= 0 && s->usage_buf[in->pin] >= SATURATED &&
        uv->run + tick >= 0.9 * s->maxrun[in->pin])
        return 1.0;
    return uv->run;
}

/* True when the counters UV of vCPU IN, whose demand came from a run-queue counter, stood still
 * over the period: it neither ran nor had a wait accounted. That tells nothing of its demand: it
 * slept, or it waited all along and the kernel accounts the wait when it ends
 * (docs/EVIDENCE.md#late-waits). */
static bool stood_still(const struct usage_vcpu *uv, const struct sched_vcpu_info *in)
{
    return in->signal != SCHED_SIGNAL_SATURATION && uv->run <= 0 && uv->delay <= 0 && uv->wait <= 0;
}

/* The estimate of this period from RAW, what its counters accounted: a period that reads short
 * of a whole pCPU may have ended in a wait that the next period accounts (ST->owed), and what
 * the next reads beyond its length repays that, as if this one had read it
 * (docs/EVIDENCE.md#late-waits). */
static double repay_late(struct vstate *st, const struct vstate *old, double raw)
{
    double owed = old && old->known ? old->owed : 0, repaid = raw > 1 ? fmin(raw - 1, owed) : 0;

    st->owed = raw < 1 ? 1 - fmax(0, raw) : 0;
    return fmin(raw, 1) + repaid;
}

/* Folds RAW into the averages of ST (OLD: last period's state, or NULL) and returns the demand
 * they give: the fast average, or the slow mean for a bursty vCPU. RAW may exceed 1 where it
 * repays the period before; the swing sees at most a whole pCPU. */
static double smooth_demand(struct vstate *st, const struct vstate *old, double raw)
{
    bool have = old && old->known;
    /* The slow averages start as plain running means of the samples so far. */
    unsigned n = have && old->samples < 1000 ? old->samples + 1 : have ? 1000 : 1;
    double a = 1.0 / n > SCHED_SLOW_ALPHA ? 1.0 / n : SCHED_SLOW_ALPHA;

    st->samples = n;
    st->demand = util_ewma(have ? old->demand : 0, raw, SCHED_ALPHA, have);
    st->mean = have ? a * raw + (1 - a) * old->mean : raw;
    st->swing = have ? a * fabs(fmin(1, raw) - fmin(1, st->mean)) + (1 - a) * old->swing : 0;
    st->known = true;
    /* A bursty vCPU is placed by its long-run mean, not by its latest burst; so is a steady one
     * whose fast average is within twice its usual swing of that mean, as one period's estimate
     * is that noisy (docs/EVIDENCE.md#demand-noise); beyond that band the change is real, and
     * the fast average leads. */
    if (st->swing > SCHED_BURSTY || fabs(st->demand - st->mean) <= 2 * st->swing)
        return fmin(1, st->mean);
    return fmin(1, st->demand);
}

/* The demand of vCPU IN this period from its counters UV, its state carried from OLD (or NULL)
 * into ST. A period its counters stood still keeps the estimate (up to STILL_MAX_S, then it is
 * idle), and a drop counts from the second period that shows it: one period reads short while
 * a wait goes on (docs/EVIDENCE.md#late-waits). */
static double estimate(const struct sched *s, const struct usage_vcpu *uv,
                       struct sched_vcpu_info *in, struct vstate *st, const struct vstate *old)
{
    bool have = old && old->known;
    double raw = fmin(in->cap, raw_demand(s, uv, in));
    double run_avg = util_ewma(have ? old->run_avg : 0, uv->run, SCHED_ALPHA, have);

    if (stood_still(uv, in) && (!have || old->still_s + s->usage.interval_s <= STILL_MAX_S)) {
        if (have) {
            *st = *old;
            st->still_s += s->usage.interval_s;
        } else {
            memset(st, 0, sizeof(*st));
        }
        st->run_avg = run_avg;
        return st->used;
    }
    st->run_avg = run_avg;
    st->still_s = 0;
    st->value = smooth_demand(st, old, repay_late(st, old, raw));
    st->used = have ? fmax(st->value, old->value) : st->value;
    return st->used;
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

            if (!uv->valid || dom->state != SNAP_RUNNING || (sv[i].flags & SNAP_VCPU_OFFLINE)) {
                memset(st, 0, sizeof(*st));
                st->known = uv->valid;
                in->demand = 0;
            } else {
                in->demand =
                        fmin(in->cap, estimate(s, uv, in, st, old)); /* declared: holds at once */
            }
            st->remembered = old ? old->remembered : false;
            st->warned_alone = old ? old->warned_alone : false;
            st->said_fixed = old ? old->said_fixed : false;
            st->said_weight = old ? old->said_weight : 0;
            st->said_cap = old ? old->said_cap : 0;
            st->moved_at = old ? old->moved_at : 0;
            st->cooldown = old ? old->cooldown : 0;
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
        if (in->delay >= 0 && !in->capped) {
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

void demand_derive(struct sched *s, const struct snap *cur)
{
    for (int p = 0; p < s->npcpus; p++)
        s->online[p] = snap_pcpu_online(cur, p);
    s->floating_busy = derive_vcpus(s, cur);
    derive_pcpus(s, s->floating_busy);
    prove_signals(s, s->nvcpus);
    derive_demand(s, cur);
    for (size_t i = 0; i < s->nvcpus; i++)
        s->info[i].share = s->info[i].demand; /* the plan may count weighted shares instead */
    derive_summary(s);
}
