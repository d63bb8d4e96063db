/* Step 4 of placement, after prune: trades of alike vCPUs taken back. A plan that moves vCPU X onto
 * pCPU B while it moves Y, of a demand alike X's, off B changes B's load by no more than the
 * estimates' noise: X goes where Y was going instead and Y stays, one move fewer (two when X came
 * from there). Such trades only chase noise in the estimates against loads no move changes (a
 * background that differs between pCPUs): docs/EVIDENCE.md#alike-trades. */
#include "placement_work.h"

#include <math.h>
#include <stdlib.h>

/* Departures of one pCPU looked at for each vCPU arriving there (bounds the cost on crowded
 * pCPUs). */
#define TRADE_SCAN 64

/* The state of the step: the planned items, where they go, and the moves off each pCPU. */
struct trades {
    struct work *w;
    const struct item *items;
    int *target;
    size_t *first, *dep; /* per pCPU: dep[first[p] .. first[p + 1]) are items moving off it */
    double *change;      /* per pCPU: load change from the plan so far */
};

/* Two demands are alike within the threshold and the estimates' noise of the larger. */
static bool alike(const struct work *w, double a, double b)
{
    return fabs(a - b) <= w->in->threshold + DEMAND_NOISE * fmax(a, b);
}

/* True when pCPU P's load may change by D more and stay within the noise of the plan's. */
static bool within_noise(const struct trades *t, int p, double d)
{
    const struct work *w = t->w;

    return fabs(t->change[p] + d) <= w->in->threshold + DEMAND_NOISE * w->load[p];
}

/* Lists the items moving off each pCPU (counting sort by origin). */
static void list_departures(struct trades *t, size_t n)
{
    int np = t->w->np;

    for (size_t i = 0; i < n; i++) {
        const struct item *it = &t->items[i];
        if (!it->fluid && it->origin >= 0 && t->target[it->v] >= 0 &&
            t->target[it->v] != it->origin)
            t->first[it->origin + 1]++;
    }
    for (int p = 0; p < np; p++)
        t->first[p + 1] += t->first[p];
    for (int p = np; p > 0; p--)
        t->first[p] = t->first[p - 1];
    for (size_t i = 0; i < n; i++) {
        const struct item *it = &t->items[i];
        if (!it->fluid && it->origin >= 0 && t->target[it->v] >= 0 &&
            t->target[it->v] != it->origin)
            t->dep[t->first[it->origin + 1]++] = i;
    }
}

/* True when X (planned onto B) may go where departure Y of B goes instead: alike demands, X
 * allowed there, class quotas kept, and both pCPUs within the noise of the plan. */
static bool may_trade(const struct trades *t, size_t x, size_t y, int b)
{
    const struct work *w = t->w;
    const struct item *ix = &t->items[x], *iy = &t->items[y];
    int c = t->target[iy->v];
    double d = ix->demand - iy->demand;

    if (c == b || !alike(w, ix->demand, iy->demand) ||
        (c != ix->origin && !work_allowed(w, ix, c)) || !within_noise(t, b, -d) ||
        !within_noise(t, c, d))
        return false;
    return ix->cls == iy->cls || (work_has_room(w, c, ix->cls) && work_has_room(w, b, iy->cls));
}

/* Takes back the trade of X (planned onto B) and Y (planned off B to C): X goes to C, Y stays. */
static void take_back(struct trades *t, size_t x, size_t y, int b, int c)
{
    struct work *w = t->w;
    const struct item *ix = &t->items[x], *iy = &t->items[y];
    double d = ix->demand - iy->demand;

    t->target[ix->v] = c;
    t->target[iy->v] = b;
    w->load[b] -= d;
    w->load[c] += d;
    t->change[b] -= d;
    t->change[c] += d;
    work_count_add(w, b, ix->cls, -1);
    work_count_add(w, b, iy->cls, 1);
    work_count_add(w, c, iy->cls, -1);
    work_count_add(w, c, ix->cls, 1);
}

/* The departure of B closest in demand to X that may trade with it, or NONE. */
static size_t partner(const struct trades *t, size_t x, int b)
{
    size_t best = NONE;
    double gap = INFINITY;

    for (size_t k = t->first[b], n = 0; k < t->first[b + 1] && n < TRADE_SCAN; k++, n++) {
        size_t y = t->dep[k];
        double g = fabs(t->items[x].demand - t->items[y].demand);
        if (t->target[t->items[y].v] != b && g < gap && may_trade(t, x, y, b)) {
            gap = g;
            best = y;
        }
    }
    return best;
}

/* Takes back every trade of item X along the pCPUs it is planned onto. */
static void trade_item(struct trades *t, size_t x)
{
    const struct item *ix = &t->items[x];

    for (;;) {
        int b = t->target[ix->v], c;
        size_t y;
        if (ix->fluid || b < 0 || b == ix->origin || (y = partner(t, x, b)) == NONE)
            return;
        c = t->target[t->items[y].v];
        take_back(t, x, y, b, c);
    }
}

int trade_alike(struct work *w, const struct item *items, size_t n, int *target)
{
    size_t np1 = (size_t)w->np + 1;
    struct trades t = {.w = w, .items = items, .target = target};
    int rc = -1;

    t.first = calloc(np1, sizeof(size_t));
    t.dep = malloc((n ? n : 1) * sizeof(size_t));
    t.change = calloc(np1, sizeof(double));
    if (!t.first || !t.dep || !t.change)
        goto cleanup;
    list_departures(&t, n);
    for (size_t i = 0; i < n; i++)
        trade_item(&t, i);
    rc = 0;
cleanup:
    free(t.first);
    free(t.dep);
    free(t.change);
    return rc;
}
