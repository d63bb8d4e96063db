/* Floating vCPUs the kernel places, planned as a fluid that fills the least loaded pCPUs first
 * (as the kernel's balancer does) in small pieces without a class. */
#include "placement_work.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

void fluid_add(struct work *w, const struct item *it)
{
    int k = (int)ceil(it->demand / FLUID_PIECE);

    for (int i = 0; i < k; i++) {
        struct item piece = *it;
        piece.demand = it->demand / k;
        piece.cls = 0;
        piece.fluid = true;
        w->pending[w->npending++] = piece;
    }
    w->floating += it->demand;
    w->total += it->demand;
}

int fluid_levels(const struct work *w, double *l, double *level_out)
{
    const unsigned char *usable = w->in->usable;
    double left = w->floating, level;
    int n = 0, k = 0;

    for (int p = 0; p < w->np; p++)
        if (!usable || usable[p])
            l[n++] = w->before[p];
    qsort(l, (size_t)n, sizeof(double), work_by_double);
    /* Raise the lowest K loads together until the fluid runs out. */
    level = n ? l[0] : 0;
    while (k < n && left > 0) {
        double next = k + 1 < n ? l[k + 1] : INFINITY;
        double room = (next - level) * (k + 1);
        if (room >= left) {
            level += left / (k + 1);
            left = 0;
        } else {
            left -= room;
            level = next;
        }
        k++;
    }
    for (int i = 0; i < n; i++)
        l[i] = l[i] < level ? level : l[i];
    *level_out = k > 0 ? level : -INFINITY;
    return n;
}

double fluid_spread(const struct work *w, double *level_out)
{
    int n = fluid_levels(w, w->scratch, level_out);

    return util_stddev(w->scratch, NULL, n);
}
