/* Weighted fair shares (see share.h). */
#include "share.h"

#include <math.h>
#include <stdlib.h>

/* A vCPU: its demand, its weight and the level at which it has all it demands. */
struct claim {
    double demand, weight, full;
};

static int by_full(const void *a, const void *b)
{
    double x = ((const struct claim *)a)->full, y = ((const struct claim *)b)->full;
    return x < y ? -1 : x > y;
}

double share_level(const double *demand, const double *weight, size_t n, double capacity)
{
    struct claim *c;
    double left = capacity > 0 ? capacity : 0, wleft = 0, total = 0, level = INFINITY;
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        total += demand[i] > 0 ? demand[i] : 0;
    if (total <= left)
        return INFINITY;
    c = malloc((n ? n : 1) * sizeof(*c));
    if (!c)
        return -1;
    for (size_t i = 0; i < n; i++) {
        double d = demand[i] > 0 ? demand[i] : 0, w = weight[i] > 0 ? weight[i] : 1;
        c[k++] = (struct claim){d, w, d / w};
        wleft += w;
    }
    qsort(c, k, sizeof(*c), by_full);
    /* The vCPUs that want least for their weight are served in full while that fits. */
    for (size_t i = 0; i < k; i++) {
        if (c[i].full > left / wleft) {
            level = left / wleft;
            break;
        }
        left -= c[i].demand;
        wleft -= c[i].weight;
    }
    free(c);
    return level;
}
