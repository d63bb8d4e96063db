/* The fewest pin changes meeting the criteria, independently of the planner (see oracle.h).
 *
 * Exact: a depth-first search over the placements of the active vCPUs, first for the lowest
 * highest load any placement reaches (which sets the balance limit), then, by iterative
 * deepening on the number of changes, for the cheapest placement meeting the criteria.
 */
#include "oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

/* One instance in compact form: usable pCPUs 0..np-1, active vCPUs 0..n-1. */
struct inst {
    int np;
    int map[ORACLE_MAX_PCPUS]; /* compact pCPU -> input pCPU */
    double bg[ORACLE_MAX_PCPUS];
    int n;
    double d[ORACLE_MAX_VCPUS];
    int origin[ORACLE_MAX_VCPUS]; /* compact pCPU it is pinned to, or -1 */
    bool fluid[ORACLE_MAX_VCPUS]; /* floating and allowed to stay so: never placed */
    int cls[ORACLE_MAX_VCPUS];
    double fluid_total;
    int nfluid[ORACLE_NCLASS];
    double mean;
};

static int class_of(double d)
{
    int c = (int)(d * (ORACLE_NCLASS - 1) + 0.5);
    return c < 0 ? 0 : c >= ORACLE_NCLASS ? ORACLE_NCLASS - 1 : c;
}

static double clamp01(double d)
{
    return isfinite(d) ? (d < 0 ? 0 : d > 1 ? 1 : d) : 0;
}

static bool usable(const struct oracle_input *in, int p)
{
    return !in->usable || in->usable[p];
}

static int by_asc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Pours fluid F into loads L[0..np-1] (lowest first) and returns the standard deviation of the
 * result (fractions). */
static double fluid_spread(const double *l, int np, double f)
{
    double *x, level, mean = 0, sq = 0;
    int k = 0;

    if (np <= 0)
        return 0;
    x = malloc((size_t)np * sizeof(double));
    if (!x)
        return INFINITY;
    memcpy(x, l, (size_t)np * sizeof(double));
    qsort(x, (size_t)np, sizeof(double), by_asc);
    level = x[0];
    while (k < np && f > 0) {
        double next = k + 1 < np ? x[k + 1] : INFINITY, room = (next - level) * (k + 1);
        if (room >= f) {
            level += f / (k + 1);
            f = 0;
        } else {
            f -= room;
            level = next;
        }
        k++;
    }
    for (int p = 0; p < np; p++) {
        x[p] = fmax(x[p], level);
        mean += x[p];
    }
    mean /= np;
    for (int p = 0; p < np; p++)
        sq += (x[p] - mean) * (x[p] - mean);
    free(x);
    return sqrt(sq / np);
}

/* Compacts IN into I; returns -1 when too large for the exact search. */
static int compact(const struct oracle_input *in, struct inst *I)
{
    int cmap[4096];
    double total = 0;

    memset(I, 0, sizeof(*I));
    if (in->npcpus > 4096)
        return -1;
    for (int p = 0; p < in->npcpus; p++) {
        cmap[p] = -1;
        if (!usable(in, p))
            continue;
        if (I->np == ORACLE_MAX_PCPUS)
            return -1;
        cmap[p] = I->np;
        I->map[I->np] = p;
        I->bg[I->np] = in->background ? fmax(0, in->background[p]) : 0;
        total += I->bg[I->np];
        I->np++;
    }
    for (size_t v = 0; v < in->nvcpus; v++) {
        double d = clamp01(in->demand[v]);
        int pin = in->pin[v];
        bool floating = pin < 0 || pin >= in->npcpus;
        if (floating && d < ORACLE_MIN_DEMAND)
            continue;
        if (I->n == ORACLE_MAX_VCPUS)
            return -1;
        I->d[I->n] = d;
        I->origin[I->n] = floating ? -1 : cmap[pin];
        I->fluid[I->n] = floating && !in->pin_floating;
        I->cls[I->n] = class_of(d);
        if (I->fluid[I->n]) {
            I->fluid_total += d;
            I->nfluid[I->cls[I->n]]++;
        }
        total += d;
        I->n++;
    }
    I->mean = I->np ? total / I->np : 0;
    return 0;
}

static int by_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

/* The share each task of demands D[0..n-1] gets of one pCPU shared max-min fairly: its demand
 * up to the returned level. */
static double share_level(double *d, int n)
{
    double left = 1;

    qsort(d, (size_t)n, sizeof(double), by_asc);
    for (int i = 0; i < n; i++) {
        if (d[i] * (n - i) > left)
            return left / (n - i);
        left -= d[i];
    }
    return INFINITY;
}

/* True when the placement AT (compact pCPU per vCPU, -1 for fluid) serves vCPUs of one demand
 * class equally: each pCPU shared max-min fairly among its vCPUs, its background and the fluid
 * poured there (as one task), their shares differ by at most twice the threshold. Fairness is
 * asked only of an overcommitted host (mean load above one pCPU): below, every vCPU of a
 * balanced host gets its whole demand. */
static bool fair(const struct inst *I, const int *at, double threshold)
{
    double load[ORACLE_MAX_PCPUS], level[ORACLE_MAX_PCPUS], lo[ORACLE_NCLASS], hi[ORACLE_NCLASS];
    double task[ORACLE_MAX_VCPUS + 2], sorted[ORACLE_MAX_PCPUS], f = I->fluid_total, flevel;
    int k = 0;

    if (I->mean <= 1)
        return true;
    memcpy(load, I->bg, sizeof(load));
    for (int i = 0; i < I->n; i++)
        if (at[i] >= 0)
            load[at[i]] += I->d[i];
    /* The fluid's level, as fluid_spread() pours it. */
    memcpy(sorted, load, sizeof(sorted));
    qsort(sorted, (size_t)I->np, sizeof(double), by_asc);
    flevel = sorted[0];
    while (k < I->np && f > 0) {
        double next = k + 1 < I->np ? sorted[k + 1] : INFINITY, room = (next - flevel) * (k + 1);
        flevel = room >= f ? flevel + f / (k + 1) : next;
        f = room >= f ? 0 : f - room;
        k++;
    }
    for (int p = 0; p < I->np; p++) {
        int n = 0;
        for (int i = 0; i < I->n; i++)
            if (at[i] == p)
                task[n++] = I->d[i];
        task[n++] = I->bg[p];
        task[n++] = I->fluid_total > 0 && flevel > load[p] ? flevel - load[p] : 0;
        level[p] = share_level(task, n);
    }
    for (int c = 0; c < ORACLE_NCLASS; c++) {
        lo[c] = INFINITY;
        hi[c] = -INFINITY;
    }
    for (int i = 0; i < I->n; i++)
        if (at[i] >= 0) {
            double got = fmin(I->d[i], level[at[i]]);
            lo[I->cls[i]] = fmin(lo[I->cls[i]], got);
            hi[I->cls[i]] = fmax(hi[I->cls[i]], got);
        }
    for (int c = 1; c < ORACLE_NCLASS; c++)
        if (hi[c] - lo[c] > 2 * threshold + EPS)
            return false;
    return true;
}

/* Search state. */
struct search {
    const struct inst *I;
    int order[ORACLE_MAX_VCPUS]; /* vCPUs by demand, largest first */
    double load[ORACLE_MAX_PCPUS];
    int at[ORACLE_MAX_VCPUS];
    double best;    /* phase 1: lowest spread so far */
    double limit;   /* phase 2: allowed spread */
    bool need_fair; /* phase 2: fairness asked */
    double threshold;
    int budget; /* phase 2: changes allowed */
};

static double placed_spread(const struct search *S)
{
    return fluid_spread(S->load, S->I->np, S->I->fluid_total);
}

/* A lower bound of the spread of any completion: loads above the mean only grow. */
static double spread_floor(const struct search *S)
{
    double sq = 0;

    for (int p = 0; p < S->I->np; p++)
        if (S->load[p] > S->I->mean)
            sq += (S->load[p] - S->I->mean) * (S->load[p] - S->I->mean);
    return sqrt(sq / S->I->np);
}

/* Phase 1: the lowest spread of any placement (vCPU K onwards still to place). */
static void min_spread(struct search *S, int k)
{
    const struct inst *I = S->I;
    int v;

    while (k < I->n && I->fluid[S->order[k]])
        k++;
    if (k == I->n) {
        S->best = fmin(S->best, placed_spread(S));
        return;
    }
    v = S->order[k];
    for (int p = 0; p < I->np; p++) {
        bool seen = false;
        for (int q = 0; q < p && !seen; q++)
            seen = fabs(S->load[q] - S->load[p]) < EPS; /* interchangeable: tried already */
        if (seen)
            continue;
        S->load[p] += I->d[v];
        if (spread_floor(S) < S->best - EPS)
            min_spread(S, k + 1);
        S->load[p] -= I->d[v];
    }
}

/* Phase 2: is there a placement of vCPU K onwards within the budget meeting the criteria? */
static bool within(struct search *S, int k, int used)
{
    const struct inst *I = S->I;
    int v;

    while (k < I->n && I->fluid[S->order[k]]) {
        S->at[S->order[k]] = -1;
        k++;
    }
    if (k == I->n)
        return placed_spread(S) <= S->limit + EPS &&
               (!S->need_fair || fair(I, S->at, S->threshold));
    v = S->order[k];
    for (int step = 0; step <= I->np; step++) {
        /* Its own pCPU first (free), then the others. */
        int p = step == 0 ? I->origin[v] : step - 1;
        int cost = p == I->origin[v] ? 0 : 1;
        if (p < 0 || (step > 0 && p == I->origin[v]) || used + cost > S->budget)
            continue;
        S->load[p] += I->d[v];
        S->at[v] = p;
        bool ok = spread_floor(S) <= S->limit + EPS && within(S, k + 1, used + cost);
        S->load[p] -= I->d[v];
        if (ok)
            return true;
    }
    return false;
}

static void search_init(struct search *S, const struct inst *I)
{
    memset(S, 0, sizeof(*S));
    S->I = I;
    for (int i = 0; i < I->n; i++)
        S->order[i] = i;
    for (int i = 1; i < I->n; i++)
        for (int j = i; j > 0 && I->d[S->order[j]] > I->d[S->order[j - 1]]; j--) {
            int t = S->order[j];
            S->order[j] = S->order[j - 1];
            S->order[j - 1] = t;
        }
    for (int p = 0; p < I->np; p++)
        S->load[p] = I->bg[p];
}

/* The fewest changes meeting the limit (and fairness when NEED_FAIR), or -1 when none does. */
static long fewest(const struct inst *I, double limit, bool need_fair, double threshold)
{
    struct search S;

    search_init(&S, I);
    S.threshold = threshold;
    S.limit = limit;
    S.need_fair = need_fair;
    for (S.budget = 0; S.budget <= I->n; S.budget++)
        if (within(&S, 0, 0))
            return S.budget;
    return -1;
}

/* The current placement: pinned vCPUs where they are, floating ones fluid (or nowhere). */
static bool start_meets(const struct inst *I, double limit, bool need_fair, double threshold)
{
    double load[ORACLE_MAX_PCPUS];
    int at[ORACLE_MAX_VCPUS];

    memcpy(load, I->bg, sizeof(load));
    for (int i = 0; i < I->n; i++) {
        if (!I->fluid[i] && I->origin[i] < 0)
            return false; /* must be pinned or moved */
        at[i] = I->fluid[i] ? -1 : I->origin[i];
        if (at[i] >= 0)
            load[at[i]] += I->d[i];
    }
    return fluid_spread(load, I->np, I->fluid_total) <= limit + EPS &&
           (!need_fair || fair(I, at, threshold));
}

int oracle_exact(const struct oracle_input *in, struct oracle_result *out)
{
    struct inst I;
    struct search S;

    memset(out, 0, sizeof(*out));
    if (compact(in, &I) < 0)
        return -1;
    if (I.np == 0)
        return 0;
    search_init(&S, &I);
    S.best = INFINITY;
    min_spread(&S, 0);
    out->limit = fmax(in->threshold, S.best + in->threshold / 4);
    out->changes = fewest(&I, out->limit, true, in->threshold);
    out->fair = out->changes >= 0;
    if (!out->fair)
        out->changes = fewest(&I, out->limit, false, in->threshold);
    out->start_ok = start_meets(&I, out->limit, out->fair, in->threshold);
    return 0;
}

bool oracle_meets(const struct oracle_input *in, const struct oracle_result *r, const int *target)
{
    struct inst I;
    double load[ORACLE_MAX_PCPUS];
    int at[ORACLE_MAX_VCPUS], cmap[4096], k = 0;

    if (compact(in, &I) < 0)
        return false;
    for (int p = 0; p < in->npcpus && p < 4096; p++)
        cmap[p] = -1;
    for (int c = 0; c < I.np; c++)
        cmap[I.map[c]] = c;
    memcpy(load, I.bg, sizeof(load));
    for (size_t v = 0; v < in->nvcpus; v++) {
        bool floating = in->pin[v] < 0 || in->pin[v] >= in->npcpus;
        int t = target[v];
        if (floating && clamp01(in->demand[v]) < ORACLE_MIN_DEMAND)
            continue;
        if (t < 0 || t >= in->npcpus) {
            if (!I.fluid[k])
                return false; /* must be placed */
            at[k++] = -1;
            continue;
        }
        if (cmap[t] < 0)
            return false; /* not a usable pCPU */
        if (I.fluid[k]) { /* given a pin after all: no longer fluid */
            I.fluid[k] = false;
            I.fluid_total -= I.d[k];
            I.nfluid[I.cls[k]]--;
        }
        at[k] = cmap[t];
        load[at[k]] += I.d[k];
        k++;
    }
    return fluid_spread(load, I.np, I.fluid_total) <= r->limit + EPS &&
           (!r->fair || fair(&I, at, in->threshold));
}

long oracle_changes(const struct oracle_input *in, const int *target)
{
    long n = 0;

    for (size_t v = 0; v < in->nvcpus; v++)
        if (target[v] >= 0 && target[v] != in->pin[v])
            n++;
    return n;
}

/* One usable pCPU in the bound: its pinned vCPUs, largest first, and how many it has shed. */
struct shed {
    double load; /* background + demand still pinned there */
    double *d;   /* its pinned demands, largest first */
    size_t n, r; /* how many, how many shed */
    double gain; /* what shedding the next one takes off the squared excess */
};

static double excess2(double load, double mean)
{
    return load > mean ? (load - mean) * (load - mean) : 0;
}

static void next_gain(struct shed *s, double mean)
{
    s->gain = s->r < s->n ? excess2(s->load, mean) - excess2(s->load - s->d[s->r], mean) : 0;
}

/* The fewest vCPUs to shed so that the squared excesses above the mean sum to at most BUDGET:
 * a pCPU's load only grows from what stays pinned there, and excess above the mean counts in the
 * spread. Shedding largest first, each pCPU's gains only shrink, so taking the largest gain
 * anywhere at each step is exact for this relaxation (a linear scan per step: P x shed). */
static long shed_count(struct shed *sh, int np, double mean, double budget)
{
    double total = 0;
    long count = 0;

    for (int p = 0; p < np; p++) {
        total += excess2(sh[p].load, mean);
        next_gain(&sh[p], mean);
    }
    while (total > budget + EPS) {
        int best = -1;
        for (int p = 0; p < np; p++)
            if (sh[p].gain > 0 && (best < 0 || sh[p].gain > sh[best].gain))
                best = p;
        if (best < 0)
            break;
        total -= sh[best].gain;
        sh[best].load -= sh[best].d[sh[best].r++];
        next_gain(&sh[best], mean);
        count++;
    }
    return count;
}

/* The fewest vCPUs the pCPUs below the mean must receive so that their squared deficits sum to
 * at most BUDGET, each received vCPU bringing at most DMAX (the largest demand): greedy over
 * the largest gains, exact for this relaxation as each pCPU's gains only shrink. Uses the
 * loads of SH after shed_count(), which only lowered loads above the mean. */
static long fill_count(const struct shed *sh, int np, double mean, double budget, double dmax)
{
    double total = 0, *deficit = malloc((size_t)np * sizeof(double));
    long count = 0;

    if (!deficit || dmax <= 0) {
        free(deficit);
        return 0;
    }
    for (int p = 0; p < np; p++) {
        /* What is pinned there now stays unless shed (shedding only deepens a deficit). */
        double load = sh[p].load;
        for (size_t i = 0; i < sh[p].r; i++)
            load += sh[p].d[i];
        deficit[p] = load < mean ? mean - load : 0;
        total += deficit[p] * deficit[p];
    }
    while (total > budget + EPS) {
        int best = -1;
        double gain = 0;
        for (int p = 0; p < np; p++) {
            double after = deficit[p] > dmax ? deficit[p] - dmax : 0;
            double g = deficit[p] * deficit[p] - after * after;
            if (g > gain) {
                gain = g;
                best = p;
            }
        }
        if (best < 0)
            break;
        total -= gain;
        deficit[best] = deficit[best] > dmax ? deficit[best] - dmax : 0;
        count++;
    }
    free(deficit);
    return count;
}

/* The spread of a greedy placement (largest first, on the least loaded pCPU) of every vCPU that
 * is placed, the fluid poured on top: an upper bound of the best spread. SCRATCH holds nvcpus +
 * np doubles. */
static double greedy_spread(const struct oracle_input *in, const struct shed *sh, int np,
                            double *scratch)
{
    double *d = scratch, *load = scratch + in->nvcpus, fluid = 0;
    size_t n = 0;

    for (int p = 0; p < np; p++) {
        load[p] = sh[p].load;
        for (size_t i = 0; i < sh[p].n; i++)
            load[p] -= sh[p].d[i];
    }
    for (size_t v = 0; v < in->nvcpus; v++) {
        double x = clamp01(in->demand[v]);
        bool floating = in->pin[v] < 0 || in->pin[v] >= in->npcpus;
        if (floating && !in->pin_floating)
            fluid += x >= ORACLE_MIN_DEMAND ? x : 0;
        else if (!floating || x >= ORACLE_MIN_DEMAND)
            d[n++] = x;
    }
    qsort(d, n, sizeof(double), by_desc);
    for (size_t i = 0; i < n; i++) {
        int best = 0;
        for (int p = 1; p < np; p++)
            best = load[p] < load[best] ? p : best;
        load[best] += d[i];
    }
    return fluid_spread(load, np, fluid);
}

long oracle_bound(const struct oracle_input *in)
{
    int np = 0, *cmap = malloc((size_t)(in->npcpus > 0 ? in->npcpus : 1) * sizeof(int));
    struct shed *sh = calloc((size_t)(in->npcpus > 0 ? in->npcpus : 1), sizeof(*sh));
    double *all = malloc((2 * in->nvcpus + (size_t)in->npcpus + 1) * sizeof(double)), total = 0;
    double limit, fluid = 0, dmax = 0;
    long must = 0, bound = 0;
    size_t used = 0;

    if (!cmap || !sh || !all)
        goto cleanup;
    for (int p = 0; p < in->npcpus; p++) {
        cmap[p] = usable(in, p) ? np : -1;
        if (cmap[p] >= 0) {
            sh[np].load = in->background ? fmax(0, in->background[p]) : 0;
            total += sh[np++].load;
        }
    }
    for (size_t v = 0; v < in->nvcpus; v++) {
        double d = clamp01(in->demand[v]);
        int pin = in->pin[v];
        bool floating = pin < 0 || pin >= in->npcpus;
        if (floating && d < ORACLE_MIN_DEMAND)
            continue;
        total += d;
        dmax = fmax(dmax, d);
        if (floating && !in->pin_floating)
            fluid += d;
        if (!floating && cmap[pin] >= 0)
            sh[cmap[pin]].n++;
        else if (!floating || in->pin_floating)
            must++; /* must leave an unusable pCPU, or must get a pin */
    }
    if (np == 0)
        goto cleanup;
    /* Each pCPU's pinned demands, largest first, in one shared array. */
    for (int p = 0; p < np; p++) {
        sh[p].d = all + used;
        used += sh[p].n;
        sh[p].n = 0;
    }
    for (size_t v = 0; v < in->nvcpus; v++)
        if (in->pin[v] >= 0 && in->pin[v] < in->npcpus && cmap[in->pin[v]] >= 0) {
            struct shed *s = &sh[cmap[in->pin[v]]];
            s->d[s->n++] = clamp01(in->demand[v]);
            s->load += clamp01(in->demand[v]);
        }
    for (int p = 0; p < np; p++)
        qsort(sh[p].d, sh[p].n, sizeof(double), by_desc);
    /* Balanced allows a spread up to max(threshold, best + threshold / 4); a greedy placement's
     * spread is at least the best, so the squared deviations of a balanced placement sum to at
     * most np * limit^2 with this limit. */
    limit = fmax(in->threshold, greedy_spread(in, sh, np, all + used) + in->threshold / 4);
    bound = must + shed_count(sh, np, total / np, np * limit * limit);
    if (fluid == 0) {
        long fill = fill_count(sh, np, total / np, np * limit * limit, dmax);
        bound = fill > bound ? fill : bound;
    }
cleanup:
    free(cmap);
    free(sh);
    free(all);
    return bound;
}
