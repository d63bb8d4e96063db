/* One period of the vCPU scheduler: derive demand, plan placement, apply pins, report; and its
 * lifecycle. */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "placement.h"
#include "sched_state.h"
#include "util.h"

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
    free(s->wsum);
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
    free(s->demand_buf);
    free(s->weight_buf);
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
    free(s->wsum);
    free(s->online);
    s->online = calloc((size_t)np, 1);
    s->wsum = calloc((size_t)np, sizeof(double));
    s->contended = calloc((size_t)np, 1);
    s->bg_in = calloc((size_t)np, sizeof(double));
    s->background = calloc((size_t)np, sizeof(double));
    s->usage_buf = calloc((size_t)np, sizeof(double));
    s->attributed = calloc((size_t)np, sizeof(double));
    s->maxrun = calloc((size_t)np, sizeof(double));
    if (!s->background || !s->usage_buf || !s->attributed || !s->maxrun || !s->contended ||
        !s->bg_in || !s->wsum || !s->online) {
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
    free(s->demand_buf);
    free(s->weight_buf);
    free(s->moves);
    free(s->home);
    free(s->strict);
    s->info = malloc(n * sizeof(*s->info));
    s->pv = calloc(n, sizeof(*s->pv));
    s->demand_buf = malloc(n * sizeof(*s->demand_buf));
    s->weight_buf = malloc(n * sizeof(*s->weight_buf));
    s->moves = malloc(n * sizeof(*s->moves));
    s->home = malloc(n * sizeof(*s->home));
    s->strict = malloc(n * sizeof(*s->strict));
    if (!s->info || !s->pv || !s->demand_buf || !s->weight_buf || !s->moves || !s->home ||
        !s->strict) {
        s->vcpu_cap = 0;
        return -1;
    }
    s->vcpu_cap = n;
    return 0;
}

size_t sched_restore(struct sched *s, struct hv *hv)
{
    size_t restored = pins_restore(s, hv);

    return restored + emulator_restore(s, hv);
}

/* Says once per vCPU that it may go nowhere (its guest's allowed pCPUs are not usable here). */
static void warn_alone(struct sched *s, const struct snap *cur)
{
    struct vstate *state = s->state.cur;
    const struct snap_vcpu *sv = snap_all_vcpus(cur);

    for (size_t i = 0; i < s->nvcpus; i++) {
        const struct sched_vcpu_info *in = &s->info[i];
        const struct snap_domain *d = snap_domain(cur, in->domain);
        bool nowhere = in->left_alone && !in->fixed && (d->cfg & SNAP_CFG_KNOWN) &&
                       !(sv[i].flags & SNAP_VCPU_OFFLINE);
        if (nowhere && !state[i].warned_alone)
            log_warning("'%s' vCPU %u may run on no usable pCPU (its CPU set, NUMA nodes, "
                        "--cpus or refused pins); leaving it alone",
                        snap_domain_name(cur, d), in->vcpu);
        state[i].warned_alone = nowhere;
    }
}

/* Says (-v) once per vCPU that its guest's definition pins it, and when that ends. */
static void say_fixed(struct sched *s, const struct snap *cur)
{
    struct vstate *state = s->state.cur;

    for (size_t i = 0; i < s->nvcpus; i++) {
        const struct sched_vcpu_info *in = &s->info[i];
        const struct snap_domain *d = snap_domain(cur, in->domain);
        const unsigned char *pin = snap_vcpu_defined_pin(cur, d, in->vcpu);
        char list[64];

        if (in->fixed == state[i].said_fixed)
            continue;
        state[i].said_fixed = in->fixed;
        if (!in->fixed) {
            log_debug("'%s' vCPU %u is no longer pinned in its definition; it may be moved",
                      snap_domain_name(cur, d), in->vcpu);
            continue;
        }
        util_format_cpulist(pin, s->npcpus, list, sizeof(list));
        log_debug("'%s' vCPU %u is pinned to pCPU %s in its definition: dedicated, never moved",
                  snap_domain_name(cur, d), in->vcpu, list);
    }
}

/* Says (-v) a guest's CPU weight and quota when first seen (unless the defaults) and when they
 * change. */
static void say_tune(struct sched *s, const struct snap *cur)
{
    struct vstate *state = s->state.cur;

    for (size_t i = 0; i < s->nvcpus; i++) {
        const struct sched_vcpu_info *in = &s->info[i];
        const char *name = snap_domain_name(cur, snap_domain(cur, in->domain));
        bool first = state[i].said_weight == 0;

        if (in->vcpu != 0 || (state[i].said_weight == in->weight && state[i].said_cap == in->cap))
            continue;
        state[i].said_weight = in->weight;
        state[i].said_cap = in->cap;
        if (first && in->weight == SNAP_DEFAULT_SHARES && in->cap >= 1)
            continue;
        if (in->cap < 1)
            log_debug("'%s' has CPU shares %.0f and a quota of %.0f%% of a pCPU per vCPU", name,
                      in->weight, in->cap * 100);
        else
            log_debug("'%s' has CPU shares %.0f and no quota", name, in->weight);
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

/* Says (-v) what the demand of most vCPUs comes from now. */
static void log_signal(enum sched_signal sig)
{
    switch (sig) {
    case SCHED_SIGNAL_DELAY:
        log_debug("demand from run time + run-queue delay (vcpu.N.delay)");
        break;
    case SCHED_SIGNAL_WAIT:
        log_debug("demand from run time + wait (vcpu.N.wait, schedstats)");
        break;
    default:
        log_debug("demand from run time only: no usable wait counter (saturation rule)");
        break;
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
    demand_derive(s, cur);
    warn_unusable(s);
    if (emulator_derive(s, cur) < 0 || (prev && schedplan_run(s) < 0))
        return -1;
    schedapply_run(s, hv, cur);
    warn_alone(s, cur);
    say_fixed(s, cur);
    say_tune(s, cur);
    report(s, prev == NULL, rep);
    if (prev && s->signal != s->last_signal)
        log_signal(s->signal);
    s->last_signal = prev ? s->signal : s->last_signal;
    rep->calls = hv_calls(hv) - calls0;

    if (s->nsaved > s->nvcpus)
        pins_forget_vanished(s, cur);
    hostview_forget(s->view, cur);
    carry_swap(&s->state, s->nvcpus); /* this period's state becomes the previous one */
    return 0;
}
