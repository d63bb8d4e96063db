/* Steps 1 and 2 of placement, greedy: each pCPU keeps what fits, the rest goes largest first to
 * the least loaded pCPU it may use (LPT). */
#include "placement_work.h"

#include <stdlib.h>

/* Heap entries searched for a pCPU with room in a class (the smallest loads live near the top). */
#define QUOTA_SCAN 63

/* By origin ascending, sticky first, then demand descending, then index. */
static int by_origin_demand(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->origin != y->origin)
        return x->origin < y->origin ? -1 : 1;
    if (x->sticky != y->sticky)
        return x->sticky ? -1 : 1;
    if (x->demand != y->demand)
        return x->demand > y->demand ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* By origin ascending, sticky first, then demand ascending, then index. */
static int by_origin_demand_asc(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->origin != y->origin || x->sticky != y->sticky)
        return by_origin_demand(a, b);
    if (x->demand != y->demand)
        return x->demand < y->demand ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

void greedy_keep(struct work *w, double ideal, double tol, bool smallest_first)
{
    qsort(w->kept, w->nkept, sizeof(*w->kept),
          smallest_first ? by_origin_demand_asc : by_origin_demand);
    for (size_t i = 0; i < w->nkept;) {
        int p = w->kept[i].origin;
        bool any = false;
        for (; i < w->nkept && w->kept[i].origin == p; i++) {
            double d = w->kept[i].demand;
            int c = w->kept[i].cls;
            if (w->kept[i].sticky || (work_has_room(w, p, c) && (w->load[p] + d <= ideal + tol ||
                                                                 (!any && w->load[p] < ideal)))) {
                w->load[p] += d;
                work_count_add(w, p, c, 1);
                any = true;
            } else {
                w->pending[w->npending++] = w->kept[i];
            }
        }
    }
    if (smallest_first)
        qsort(w->kept, w->nkept, sizeof(*w->kept), by_origin_demand);
}

/* True when pCPU P holds another vCPU of IT's group (TARGET: where planned vCPUs go). */
static bool holds_group(const struct work *w, const struct item *it, int p, const int *target)
{
    if (it->group <= 0 || (size_t)it->group >= w->ngroups)
        return false;
    for (size_t k = w->gstart[it->group]; k < w->gstart[it->group + 1]; k++)
        if (w->gv[k] != it->v && target[w->gv[k]] == p)
            return true;
    return false;
}

/* How good pCPU P is for IT among pCPUs of (nearly) equal load: without SMT siblings at work
 * and without another vCPU of its guest first. Smaller is better. */
static double tie_rank(const struct work *w, const struct item *it, int p, const int *target)
{
    return (w->in->core ? smt_sibling_load(w, p) : 0) + (holds_group(w, it, p, target) ? 10 : 0);
}

/* The least loaded pCPU IT may go to, among the first heap entries, else among all pCPUs;
 * nearly equal loads go by tie_rank(). -1 when it may go nowhere. */
static int least_loaded(const struct work *w, const struct loadheap *minh, const struct item *it,
                        const int *target)
{
    int best = -1, lim = minh->n < QUOTA_SCAN ? minh->n : QUOTA_SCAN;
    double best_rank = 0;

    /* Nothing to break ties by: the top of the heap, when it may take IT. */
    if (lim > 0 && !w->in->core && it->group <= 0 && work_may_go(w, it, minh->h[0]))
        return minh->h[0];
    for (int k = 0; k < lim; k++) {
        int p = minh->h[k];
        double rank;
        if (!work_may_go(w, it, p))
            continue;
        if (best >= 0 && w->load[p] > w->load[best] + TIE)
            continue;
        rank = tie_rank(w, it, p, target);
        if (best < 0 || w->load[p] < w->load[best] - TIE || rank < best_rank ||
            (rank == best_rank && p < best)) {
            best = p;
            best_rank = rank;
        }
    }
    if (best >= 0)
        return best;
    /* Restricted (or full): look at every pCPU, room first, then anywhere allowed. */
    for (int pass = 0; pass < 2 && best < 0; pass++)
        for (int p = 0; p < w->np; p++)
            if ((pass ? work_allowed(w, it, p) : work_may_go(w, it, p)) &&
                (best < 0 || w->load[p] < w->load[best]))
                best = p;
    return best;
}

void greedy_place(struct work *w, struct loadheap *minh, int *target)
{
    qsort(w->pending, w->npending, sizeof(*w->pending), work_by_demand_desc);
    for (size_t i = 0; i < w->npending && minh->n > 0; i++) {
        const struct item *it = &w->pending[i];
        int c = it->cls, p = least_loaded(w, minh, it, target), o = it->origin;
        if (o >= 0 && (p < 0 || w->load[o] <= w->load[p] + TIE) && work_has_room(w, o, c))
            p = o;
        if (p < 0)
            continue; /* nowhere it may go: it stays as it is */
        target[it->v] = p;
        w->load[p] += w->pending[i].demand;
        work_count_add(w, p, c, 1);
        loadheap_fix(minh, p);
    }
}
