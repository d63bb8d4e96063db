/* The shared measures (see measure.h and docs/METRICS.md). */
#include "measure.h"

unsigned measure_starving(struct measure_guest *g, size_t n, uint64_t min_unused_kib,
                          const struct measure_host *host, unsigned *while_available)
{
    uint64_t shortfall = 0, unbacked = 0;
    unsigned starving = 0;
    bool available;

    for (size_t i = 0; i < n; i++) {
        g[i].starving_available = false;
        unbacked += g[i].unbacked_kib;
        if (g[i].headroom_kib >= min_unused_kib)
            continue;
        starving++;
        shortfall += min_unused_kib - g[i].headroom_kib;
    }
    available = host->free_kib >= host->reserve_kib + unbacked + shortfall;
    *while_available = 0;
    for (size_t i = 0; available && i < n; i++) {
        uint64_t s = min_unused_kib - g[i].headroom_kib;
        if (g[i].headroom_kib < min_unused_kib && g[i].actual_kib + s <= g[i].max_kib) {
            g[i].starving_available = true;
            (*while_available)++;
        }
    }
    return starving;
}

double measure_changes_ratio(unsigned long changes, unsigned long bound)
{
    if (bound == 0)
        return changes ? (double)changes + 1 : 1.0;
    return (double)changes / (double)bound;
}
