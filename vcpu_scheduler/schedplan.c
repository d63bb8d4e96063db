/* The scheduler's planning rules: the plan's inputs, when the kernel's placement of floating vCPUs
 * has fallen short long enough to pin them, and small imbalances acted on only once confirmed. */
#include "sched_state.h"

#include <math.h>
#include <string.h>

#include "share.h"
#include "util.h"

/* Periods after a pin change during which averaged service still tells of the old placement
 * (the averages weigh the newest period 0.5: after 3 periods the old one weighs 1/8). */
#define SETTLE_PERIODS 3

/* Periods running the kernel's placement of floating vCPUs must fall short before they are
 * pinned; longer when all it fell short of is equal service within a class it places alone
 * (docs/EVIDENCE.md#unequal-service-patience). */
#define TROUBLE_PATIENCE 2
#define KERNEL_PATIENCE  3

/* Whether vCPUs of one demand class that has a floating member got service (averaged run time)
 * differing by more than twice the threshold, as the kernel's placement of a floating vCPU may
 * give it (docs/EVIDENCE.md#floating-unequal-service); whether pinning would cure it is asked of
 * the plan (troubled). Nothing is judged within SETTLE_PERIODS of a pin change, nor a vCPU with
 * fewer estimates, as averages still tell of the old placement or of its start
 * (docs/EVIDENCE.md#service-settling). A class whose members all float is the kernel's alone: it
 * is FLOAT_UNFAIR_KERNEL only while this period's service differs too, and the plan waits longer
 * for it (KERNEL_PATIENCE; docs/EVIDENCE.md#unequal-service-patience). */
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
        int c = placement_class(s->pv[i].demand); /* by weighted share where weights differ */
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

/* Counts the demand of vCPU I, left alone, as background where it runs: on its pCPU, or spread
 * over the pCPUs its fixed pin allows (the kernel places it among them). */
static void background_of(struct sched *s, size_t i)
{
    const struct sched_vcpu_info *in = &s->info[i];
    const unsigned char *allowed = hostview_allowed(s->view, i);
    int n = 0;

    if (in->pin >= 0) {
        s->bg_in[in->pin] += in->demand;
        return;
    }
    if (!in->fixed || !allowed)
        return;
    for (int p = 0; p < s->npcpus; p++)
        n += util_bit(allowed, p);
    for (int p = 0; p < s->npcpus && n > 0; p++)
        if (util_bit(allowed, p))
            s->bg_in[p] += in->demand / n;
}

/* Under contention among vCPUs of unequal weights, the plan balances what each would get of the
 * pCPUs left to the planned vCPUs, shared in proportion to weight (share.h), instead of their
 * demands: a pCPU then holds as much weight as its share of the time, and CFS serves each vCPU
 * its weighted share (docs/EVIDENCE.md#shares-proportional). Equal weights, or no contention:
 * their demands, as before. Returns 0, or -1 when out of memory. */
static int weighted_shares(struct sched *s)
{
    const unsigned char *usable = hostview_usable(s->view);
    double capacity = 0, level, w0 = -1;
    bool unequal = false;

    s->weighted = false;
    for (size_t i = 0; i < s->nvcpus; i++) {
        s->info[i].share = s->info[i].left_alone ? s->info[i].demand : s->pv[i].demand;
        s->demand_buf[i] = s->pv[i].demand;
        s->weight_buf[i] = s->info[i].weight;
        if (s->pv[i].demand >= PLACEMENT_MIN_DEMAND) {
            unequal = unequal || (w0 >= 0 && s->info[i].weight != w0);
            w0 = s->info[i].weight;
        }
    }
    if (!unequal)
        return 0;
    for (int p = 0; p < s->npcpus; p++)
        if (usable[p])
            capacity += s->bg_in[p] < 1 ? 1 - s->bg_in[p] : 0;
    level = share_level(s->demand_buf, s->weight_buf, s->nvcpus, capacity);
    if (level < 0)
        return -1;
    s->weighted = isfinite(level);
    for (size_t i = 0; i < s->nvcpus && isfinite(level); i++) {
        s->pv[i].demand = fmin(s->pv[i].demand, level * s->info[i].weight);
        if (!s->info[i].left_alone)
            s->info[i].share = s->pv[i].demand;
    }
    return 0;
}

/* The plan's view of each vCPU and of the background: vCPUs left alone (fixed, nowhere they may
 * go, offline, or their guest's configuration not known yet) are not planned, their demand
 * stays as background where they run; under contention among unequal weights the others count
 * with their weighted fair shares. Returns 0, or -1 when out of memory. */
static int plan_inputs(struct sched *s)
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
            background_of(s, i);
            pv->demand = 0;
            pv->pin = -1;
            s->home[i] = -1;
        }
    }
    return weighted_shares(s);
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

/* The spread (largest minus smallest) over the usable pCPUs of the weights of the busy vCPUs
 * planned there, where TARGET (NULL: their pins now) puts them. */
static double weight_spread(struct sched *s, const int *target)
{
    const unsigned char *usable = hostview_usable(s->view);
    double lo = INFINITY, hi = -INFINITY;

    memset(s->wsum, 0, (size_t)s->npcpus * sizeof(double));
    for (size_t i = 0; i < s->nvcpus; i++) {
        int p = target ? target[i] : s->info[i].pin;
        if (p >= 0 && p < s->npcpus && !s->info[i].left_alone &&
            s->info[i].demand >= PLACEMENT_MIN_DEMAND)
            s->wsum[p] += s->info[i].weight;
    }
    for (int p = 0; p < s->npcpus; p++) {
        if (!usable[p])
            continue;
        lo = fmin(lo, s->wsum[p]);
        hi = fmax(hi, s->wsum[p]);
    }
    return hi > lo ? hi - lo : 0;
}

/* True when PL, under weighted shares, only trades an even spread of weight for the balance of
 * a background it counts where it ran: the plan would spread the busy vCPUs' weights more
 * unevenly than they are. Other work on the host floats, and the kernel moves it to the
 * pCPU of least weight: chasing it broke a weight-even placement in a lab run
 * (docs/EVIDENCE.md#shares-proportional). */
static bool uneven_weights(struct sched *s, const struct placement_plan *pl)
{
    if (!s->weighted || !pl->act || pl->must_place > 0)
        return false;
    return weight_spread(s, pl->target) > weight_spread(s, NULL) + 1e-9;
}

/* True when PL acts on a small imbalance alone: no vCPU to place, no class served unequally, and
 * a load spread under twice the threshold, which one period's demand noise can make; such a plan
 * must be wanted two periods running (docs/EVIDENCE.md#small-imbalance-confirmation). */
static bool small_imbalance(const struct sched *s, const struct placement_plan *pl)
{
    return pl->act && pl->must_place == 0 && !pl->unfair_before &&
           pl->spread_before < 2 * s->cfg.threshold;
}

/* True when PL would act in the period right after our own moves with nothing that must be
 * pinned: the estimates it rests on were still settling (a demand that changed is seen half
 * in a period) or span the move, so it must be wanted again the next period
 * (docs/EVIDENCE.md#own-moves). */
static bool after_own_moves(const struct sched *s, const struct placement_plan *pl)
{
    return pl->act && pl->must_place == 0 && s->last_move > 0 && s->last_move + 1 == s->period;
}

/* The kernel places floating vCPUs; they are pinned only when its placement has fallen short
 * for two periods running (three when it is only unequal service within a class of floating
 * vCPUs alone). A small imbalance is acted on when it lasts two periods, neither of them the
 * one that made our last moves. */
int schedplan_run(struct sched *s)
{
    struct placement_plan pl, pinned;
    struct numa_result nr;
    unsigned patience;
    int now;

    if (plan_inputs(s) < 0 || plan_with(s, false, &pl, &s->numa) < 0)
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
    pl.act = pl.act && !uneven_weights(s, &pl);
    s->waiting = (small_imbalance(s, &pl) || after_own_moves(s, &pl)) && !s->wanted;
    /* A wish is confirmed only by the next period's: one this period acted on is spent, and the
     * period after our own moves starts over (issue 17: own moves are not demand). */
    s->wanted = s->waiting;
    pl.act = pl.act && !s->waiting;
    s->spread_before = pl.spread_before;
    s->spread_after = pl.act ? pl.spread_after : pl.spread_before;
    s->lower_bound = pl.act ? pl.lower_bound : 0;
    s->balanced = !pl.act && !s->waiting;
    record_moves(s, &pl);
    placement_plan_free(&pl);
    return 0;
}
