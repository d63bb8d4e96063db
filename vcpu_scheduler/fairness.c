/* Fairness (vCPUs of one demand class get equal service) and the lower bound of pin changes. */
#include "placement_work.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The water level of a pCPU shared max-min fairly among tasks of demands D[0..n-1] (sorted
 * ascending): each task gets min(d, level). Unbounded (1e9) when the pCPU is not saturated. */
static double water_level(const double *d, size_t n)
{
    double left = 1.0;

    for (size_t i = 0; i < n; i++) {
        double share = left / (double)(n - i);
        if (d[i] > share)
            return share;
        left -= d[i];
    }
    return 1e9;
}

/* Sorts the K doubles of D ascending (insertion sort: a pCPU holds few vCPUs). */
static void sort_small(double *d, size_t k)
{
    if (k > 32) {
        qsort(d, k, sizeof(double), work_by_double);
        return;
    }
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && d[j] < d[j - 1]; j--) {
            double t = d[j];
            d[j] = d[j - 1];
            d[j - 1] = t;
        }
}

/* True when vCPUs of one demand class would get unequal service with the N vCPUs of PL placed as
 * they say: each pCPU shared max-min fairly among its vCPUs, its background (one task) and
 * FLUID[p], the floating demand the kernel gives it (one task), two vCPUs of a class (demands
 * within 5 %) get shares differing by more than twice the threshold. Only on an overcommitted
 * host. O(n + P): the vCPUs are bucketed by pCPU. */
static bool service_unfair(struct work *w, const struct placed *pl, size_t n, const double *fluid)
{
    double lo[NCLASS], hi[NCLASS];
    double *d = w->scratch2, *level = w->scratch3;
    size_t *first = w->bucket, *order = w->order;

    if (!work_overcommitted(w))
        return false;
    /* Counting sort of the vCPUs by pCPU. */
    memset(first, 0, ((size_t)w->np + 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        first[pl[i].p + 1]++;
    for (int p = 0; p < w->np; p++)
        first[p + 1] += first[p];
    for (size_t i = 0; i < n; i++)
        order[first[pl[i].p]++] = i;
    for (int p = w->np; p > 0; p--)
        first[p] = first[p - 1];
    first[0] = 0;
    for (int p = 0; p < w->np; p++) {
        size_t k = 0;
        for (size_t j = first[p]; j < first[p + 1]; j++)
            d[k++] = pl[order[j]].demand;
        d[k++] = w->before[p] - w->pinned[p]; /* background */
        d[k++] = fluid[p];
        sort_small(d, k);
        level[p] = water_level(d, k);
    }
    for (int c = 0; c < NCLASS; c++) {
        lo[c] = INFINITY;
        hi[c] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        double got = fmin(pl[i].demand, level[pl[i].p]);
        lo[pl[i].cls] = fmin(lo[pl[i].cls], got);
        hi[pl[i].cls] = fmax(hi[pl[i].cls], got);
    }
    for (int c = 1; c < NCLASS; c++)
        if (hi[c] - lo[c] > 2 * w->in->threshold + TIE)
            return true;
    return false;
}

bool fairness_unfair_before(struct work *w, double fluid_level)
{
    struct placed *pl = w->placed;
    double *fluid = w->scratch;

    for (size_t i = 0; i < w->nkept; i++)
        pl[i] = (struct placed){w->kept[i].origin, w->kept[i].cls, w->kept[i].demand};
    for (int p = 0; p < w->np; p++)
        fluid[p] = fluid_level > w->before[p] ? fluid_level - w->before[p] : 0;
    return service_unfair(w, pl, w->nkept, fluid);
}

bool fairness_unfair_after(struct work *w, size_t nall, const int *target)
{
    struct placed *pl = w->placed;
    double *fluid = w->scratch;
    size_t n = 0;

    for (int p = 0; p < w->np; p++)
        fluid[p] = w->load[p] - (w->before[p] - w->pinned[p]);
    for (size_t i = 0; i < nall; i++) {
        const struct item *it = &w->all[i];
        int p = target[it->v];
        if (it->fluid || p < 0)
            continue;
        pl[n++] = (struct placed){p, it->cls, it->demand};
        fluid[p] -= it->demand; /* what is left is fluid */
    }
    return service_unfair(w, pl, n, fluid);
}

/* By origin ascending, then demand descending, then index (sticky or not). */
static int by_origin_largest(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->origin != y->origin)
        return x->origin < y->origin ? -1 : 1;
    if (x->demand != y->demand)
        return x->demand > y->demand ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* On each pCPU, its largest vCPUs must leave until it fits under the plan's
 * highest load, and its vCPUs above their class quota must leave (whichever is more); floating
 * vCPUs with demand need a pin whatever the plan. */
size_t fairness_lower_bound(struct work *w, double max_after)
{
    size_t bound = w->nmust;

    qsort(w->kept, w->nkept, sizeof(*w->kept), by_origin_largest);
    for (size_t i = 0; i < w->nkept;) {
        int p = w->kept[i].origin;
        double cur = w->before[p];
        size_t by_load = 0, by_class = 0;
        unsigned seen[NCLASS] = {0};
        for (; i < w->nkept && w->kept[i].origin == p; i++) {
            int c = w->kept[i].cls;
            if (cur > max_after + TIE) {
                cur -= w->kept[i].demand;
                by_load++;
            }
            if (++seen[c] > w->quota[c])
                by_class++;
        }
        bound += by_load > by_class ? by_load : by_class;
    }
    return bound;
}
