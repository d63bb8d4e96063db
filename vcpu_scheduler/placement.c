/* vCPU placement policy (pure): plans pins that balance estimated demand with the fewest changes.
 *
 * The projected load of a pCPU is its background load plus the estimated demand of the vCPUs
 * pinned to it. A plan is good when these loads are even (small standard deviation): that
 * balances usage and, because demand rather than measured usage is balanced, also gives vCPUs
 * of equal demand equal service (four busy vCPUs on two pCPUs end up 2+2, never 3+1).
 *
 * Fairness also asks that vCPUs of equal demand be spread evenly: demands fall in classes 5 %
 * wide, and a pCPU should hold at most ceil(n / pCPUs) of the n vCPUs of a class (its quota;
 * fairness.c judges service).
 *
 * Floating vCPUs (affinity over several pCPUs) are the kernel's to place, and it fills the
 * least loaded pCPUs first: their demand is projected as a fluid that levels the lowest loads
 * (fluid.c). They are planned like the others (so that the pinned ones make room for them), but
 * pinned only when the input says the kernel has failed to balance them (pin_floating);
 * otherwise their place in the plan is virtual and costs nothing.
 *
 * Planning, O(V log V + V log P) in the usual case, on the items of work.c:
 *  1. keep:   on every pCPU keep its current vCPUs while they fit under the ideal load
 *             T = total / pCPUs plus half the threshold and within their class quota (a lone
 *             vCPU larger than T stays too; so do vCPUs moved recently, "sticky", which damps
 *             chasing bursty loads) (greedy.c);
 *  2. place:  the displaced vCPUs and floating ones with demand, largest first, each on the
 *             least loaded pCPU with room in its class, its current pCPU on ties (LPT, greedy.c);
 *  3. refine: while moving one vCPU from the most to the least loaded pCPU, or else exchanging
 *             a larger vCPU of the one for a smaller of the other, narrows their gap by at
 *             least the threshold, do so, until the spread is within half the threshold (within
 *             the threshold when keeping everything: the fewest moves) (refine.c);
 *  4. prune:  undo every move that narrows the load gap between its two pCPUs by less than the
 *             threshold (hysteresis: no move for a small gain) (refine.c); take back trades of
 *             vCPUs of alike demand, which only chase the estimates' noise (trade.c); then, with
 *             SMT siblings, busy vCPUs doubled on a core while a core idles move there (smt.c);
 *  5. decide: act only if a move remains and a vCPU must be pinned (stranded on an unusable
 *             pCPU, or floating when pin_floating), SMT doubling is undone, or the plan makes an
 *             unfair host fair or narrows a spread above the threshold, changing some pCPU's
 *             load beyond the estimates' noise (not a mirror); otherwise change nothing (here);
 *  6. apart:  a guest's busy vCPUs left on one pCPU while another holds fewer busy vCPUs are
 *             moved apart, mirror or not, the plan's own move taken back first (stack.c).
 * Steps 1-4 run three times: keeping each pCPU's largest vCPUs first (best balance when large
 * vCPUs must spread), its smallest first (fewest moves: to bring a pCPU under a load, moving
 * its largest vCPUs moves the fewest), and everything (fewest moves when a few suffice). The
 * plan with fewer moves wins unless its load spread is
 * worse by more than a quarter of the threshold, and among plans balanced alike (within the
 * threshold) the one with fewer moves wins: a 4-move plan is not taken over a 1-move one for a
 * balance finer than users can feel.
 */
#include "placement.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loadheap.h"
#include "placement_work.h"
#include "util.h"

/* How step 1 chooses what each pCPU keeps. */
enum variant {
    KEEP_LARGEST,  /* its largest vCPUs that fit: the best balance when large ones must spread */
    KEEP_SMALLEST, /* its smallest ones: fewest moves when a pCPU sheds much of its load */
    KEEP_ALL,      /* everything: fewest moves when a few moves suffice (steps 2-4 only) */
    NVARIANTS
};

int placement_class(double demand)
{
    return work_class_of(demand);
}

double placement_spread(const double *load, const unsigned char *usable, int npcpus)
{
    return util_stddev(load, usable, npcpus);
}

void placement_plan_free(struct placement_plan *plan)
{
    free(plan->target);
    memset(plan, 0, sizeof(*plan));
}

/* The spread of min(1, load) after the plan: the pCPU usage the plan projects. */
static double capped_spread(const struct work *w, double *mean)
{
    double *u = w->scratch, sum = 0;
    int n = 0;

    for (int p = 0; p < w->np; p++) {
        u[p] = w->load[p] < 1 ? w->load[p] : 1;
        if (!w->in->usable || w->in->usable[p]) {
            sum += u[p];
            n++;
        }
    }
    *mean = n ? sum / n : 0;
    return placement_spread(u, w->in->usable, w->np);
}

/* Steps 1-4 once classified: keep, place, refine, prune. */
static int steps(struct work *w, enum variant variant, struct placement_plan *out)
{
    const struct placement_input *in = w->in;
    struct loadheap minh = {0};
    size_t nall;
    int rc = -1;

    greedy_keep(w, variant == KEEP_ALL ? INFINITY : w->total / w->nusable, in->threshold / 2,
                variant == KEEP_SMALLEST);
    if (loadheap_init(&minh, w->np, in->usable, w->load, 1) < 0)
        goto cleanup;
    greedy_place(w, &minh, out->target);
    /* Every planned vCPU: kept ones and placed ones. */
    memcpy(w->all, w->kept, w->nkept * sizeof(*w->all));
    nall = w->nkept;
    for (size_t i = 0; i < w->npending; i++)
        if (w->pending[i].origin < 0)
            w->all[nall++] = w->pending[i];
    if (refine_moves(w, &minh, w->all, nall, out->target) < 0)
        goto cleanup;
    refine_prune(w, w->all, nall, out->target);
    w->nall = nall;
    if (trade_alike(w, w->all, nall, out->target) < 0)
        goto cleanup;
    if (w->sib && smt_repair(w, w->all, nall, out->target) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    loadheap_free(&minh);
    return rc;
}

/* True when the plan changes some pCPU's load, rank for rank (both sorted; floating demand as the
 * kernel would spread it, on both sides), by more than the threshold and the noise of that load,
 * so that a plan which only mirrors the loads (2+1 becoming 1+2) is not taken for a better one
 * (docs/EVIDENCE.md#mirrored-plans). */
static bool loads_change(const struct work *w)
{
    double *a = w->scratch, *b = w->scratch3, level;
    size_t n = (size_t)fluid_levels(w, a, &level), k = 0;

    for (int p = 0; p < w->np; p++)
        if (!w->in->usable || w->in->usable[p])
            b[k++] = w->load[p];
    qsort(b, k, sizeof(double), work_by_double);
    for (size_t i = 0; i < n && i < k; i++)
        if (fabs(a[i] - b[i]) >= w->in->threshold + DEMAND_NOISE * fmax(a[i], b[i]))
            return true;
    return false;
}

/* 5. decide: moves are worth it to pin what must be pinned, to undo SMT doubling, or to make an
 * unfair host fair or bring a spread above the threshold down by a quarter of the threshold at
 * least, while changing some pCPU's load beyond the noise (loads_change: not a mirror). */
static bool worth_acting(const struct work *w, const struct placement_plan *out)
{
    double th = w->in->threshold;
    bool fairer = out->unfair_before && !out->unfair_after;
    bool evener = out->spread_before > th && out->spread_after <= out->spread_before - th / 4;

    if (out->nmoves == 0)
        return false;
    if (w->nmust > 0 || out->doubled_after < out->doubled_before)
        return true;
    return (fairer || evener) && loads_change(w);
}

/* One planning run (steps 1-4) into OUT; VARIANT picks what step 1 keeps, QUOTAS whether class
 * quotas apply; FIRST (may be NULL) is an earlier run on the same input, whose view of the
 * present is reused. */
static int plan_once(const struct placement_input *in, enum variant variant, bool quotas,
                     const struct placement_plan *first, struct placement_plan *out)
{
    struct work w = {.in = in,
                     .np = in->npcpus > 0 ? in->npcpus : 0,
                     .quotas = quotas,
                     .enough = variant == KEEP_ALL ? in->threshold : in->threshold / 2};
    double level;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (work_alloc(&w, in, out) < 0)
        goto cleanup;
    work_init_loads(&w);
    work_classify(&w, out->target);
    if (w.nusable == 0) {
        rc = 0; /* nowhere to place anything: change nothing */
        goto cleanup;
    }
    if (first) { /* the same for every variant */
        out->spread_before = first->spread_before;
        out->unfair_before = first->unfair_before;
        out->doubled_before = first->doubled_before;
    } else {
        out->spread_before = fluid_spread(&w, &level);
        out->unfair_before = fairness_unfair_before(&w, level);
        out->doubled_before = smt_doubled(&w, w.before);
    }
    out->must_place = w.nmust;
    if (steps(&w, variant, out) < 0)
        goto cleanup;

    out->unfair_after = fairness_unfair_after(&w, w.nall, out->target);
    for (size_t v = 0; v < in->nvcpus; v++) {
        if (in->vcpus[v].pin < 0 && !in->pin_floating)
            out->target[v] = -1; /* its place in the plan is the kernel's to take */
        if (out->target[v] >= 0 && out->target[v] != in->vcpus[v].pin)
            out->nmoves++;
    }
    out->spread_after = placement_spread(w.load, in->usable, w.np);
    out->usage_after = capped_spread(&w, &out->usage_mean);
    out->nusable = w.nusable;
    out->mean = w.nusable ? w.total / w.nusable : 0;
    out->doubled_after = smt_doubled(&w, w.load);
    out->act = worth_acting(&w, out);
    for (int p = 0; p < w.np; p++)
        if ((!in->usable || in->usable[p]) && w.load[p] > out->max_after)
            out->max_after = w.load[p];
    out->lower_bound = fairness_lower_bound(&w, out->max_after);
    rc = 0;

cleanup:
    if (rc < 0)
        placement_plan_free(out);
    work_free(&w);
    return rc;
}

/* True when plan A is better than plan B: it acts where B does not; it is fair where B is not;
 * both are balanced alike (each spread within the threshold, or within a quarter of it of the
 * other's: balance finer than that is not worth a move) and A needs fewer moves; or A's spread
 * is better by more than a quarter of the threshold. */
static bool better(const struct placement_plan *a, const struct placement_plan *b, double th)
{
    double alike = fmax(th, fmin(a->spread_after, b->spread_after) + th / 4);

    if (a->act != b->act)
        return a->act;
    if (!a->act)
        return false;
    if (a->unfair_after != b->unfair_after)
        return !a->unfair_after;
    if (a->spread_after <= alike && b->spread_after <= alike)
        return a->nmoves < b->nmoves;
    return a->spread_after < b->spread_after - th / 4;
}

/* Plans the variants from FIRST on (with or without class quotas) and keeps the best in OUT. */
static int try_variants(const struct placement_input *in, int first, bool quotas,
                        struct placement_plan *out)
{
    struct placement_plan other;

    for (int v = first; v < NVARIANTS; v++) {
        if (plan_once(in, (enum variant)v, quotas, out, &other) < 0)
            return -1;
        if (better(&other, out, in->threshold)) {
            placement_plan_free(out);
            *out = other;
        } else {
            placement_plan_free(&other);
        }
    }
    return 0;
}

/* One move is tried instead of a plan of several on hosts this small (vCPUs times pCPUs): each
 * candidate costs a planning run. */
#define ONE_MOVE_MAX 256

/* True when the present placement with one vCPU moved (CAND, judged as plan_once() judges the
 * present) stands as well as plan PL: nothing left to pin, fair if PL is, SMT doubling no
 * worse, balanced as well (within the threshold, or within a quarter of it of PL's spread),
 * and no further move worth making from there. */
static bool one_reaches(const struct placement_plan *cand, const struct placement_plan *pl,
                        double th)
{
    return cand->must_place == 0 && !cand->act && (!cand->unfair_before || pl->unfair_after) &&
           cand->doubled_before <= pl->doubled_after &&
           cand->spread_before <= fmax(th, pl->spread_after + th / 4);
}

/* Replaces plan OUT by the single move of vCPU I to pCPU P, whose standing CAND measured. */
static void take_one(const struct placement_input *in, size_t i, int p,
                     const struct placement_plan *cand, struct placement_plan *out)
{
    for (size_t v = 0; v < in->nvcpus; v++)
        out->target[v] =
                in->vcpus[v].pin >= 0 && in->vcpus[v].pin < in->npcpus ? in->vcpus[v].pin : -1;
    out->target[i] = p;
    out->nmoves = 1;
    out->lower_bound = out->lower_bound < 1 ? out->lower_bound : 1;
    out->spread_after = cand->spread_before;
    out->unfair_after = cand->unfair_before;
    out->doubled_after = cand->doubled_before;
}

/* Where plan OUT makes several moves on a small host, a single move that reaches its standing
 * replaces it (plan a good assignment, reach it with the fewest moves: docs/BENCHMARKS.md, the
 * planner against the exact optimum). Returns 0, or -1 when out of memory. */
static int one_move(const struct placement_input *in, struct placement_plan *out)
{
    struct placement_input moved = *in;
    struct placement_vcpu *v;
    int rc = 0;

    if (!out->act || out->nmoves < 2 || out->must_place > 0 ||
        in->nvcpus * (size_t)in->npcpus > ONE_MOVE_MAX)
        return 0;
    v = malloc(in->nvcpus * sizeof(*v));
    if (!v)
        return -1;
    memcpy(v, in->vcpus, in->nvcpus * sizeof(*v));
    moved.vcpus = v;
    for (size_t i = 0; i < in->nvcpus && rc == 0; i++) {
        int from = v[i].pin;
        if (from < 0 || v[i].sticky || v[i].demand < PLACEMENT_MIN_DEMAND)
            continue;
        for (int p = 0; p < in->npcpus && rc == 0; p++) {
            struct placement_plan cand;
            if (p == from || (in->usable && !in->usable[p]) ||
                (v[i].allowed && !((v[i].allowed[p / 8] >> (p % 8)) & 1)))
                continue;
            v[i].pin = p;
            rc = plan_once(&moved, KEEP_ALL, false, NULL, &cand);
            if (rc == 0 && one_reaches(&cand, out, in->threshold)) {
                take_one(in, i, p, &cand, out);
                placement_plan_free(&cand);
                free(v);
                return 0;
            }
            placement_plan_free(&cand);
        }
        v[i].pin = from;
    }
    free(v);
    return rc;
}

/* Makes OUT the plan that changes nothing. */
static void keep_present(const struct placement_input *in, struct placement_plan *out)
{
    int np = in->npcpus > 0 ? in->npcpus : 0;

    for (size_t v = 0; v < in->nvcpus; v++)
        out->target[v] = in->vcpus[v].pin >= 0 && in->vcpus[v].pin < np ? in->vcpus[v].pin : -1;
    out->nmoves = 0;
    out->spread_after = out->spread_before;
    out->unfair_after = out->unfair_before;
    out->doubled_after = out->doubled_before;
}

int placement_plan(const struct placement_input *in, struct placement_plan *out)
{
    if (plan_once(in, KEEP_LARGEST, false, NULL, out) < 0)
        return -1;
    /* The other variants, when there is anything to act on; class quotas (fairness by counts)
     * when no plan without them is fair. */
    if (out->must_place + out->unfair_before + out->doubled_before +
                (out->spread_before > in->threshold) >
        0) {
        if (try_variants(in, KEEP_SMALLEST, false, out) < 0 ||
            ((out->unfair_after || (!out->act && out->unfair_before)) &&
             try_variants(in, KEEP_LARGEST, true, out) < 0) ||
            one_move(in, out) < 0) {
            placement_plan_free(out);
            return -1;
        }
    }
    if (!out->act)
        keep_present(in, out);
    if (stack_spread(in, out) < 0) {
        placement_plan_free(out);
        return -1;
    }
    if (!out->act) /* the stack rule took back all the plan did */
        keep_present(in, out);
    return 0;
}
