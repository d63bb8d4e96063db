/* A guest's measures in the memory policy's terms (pure): what it uses and has been promised,
 * the most it may hold (its maximum, or its memory cap when lower), the room it wants for a
 * number of periods of growth, the steps a target moves by, and the names of the reasons. The
 * policy (mempolicy.c) and the shortfall estimate (shortfall.c) both judge by these.
 */
#include "mempolicy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

uint64_t mem_committed(const struct mem_guest *g)
{
    /* A pending target above the maximum is not a promise anyone made: ignore it. */
    if (g->target_kib > g->actual_kib && g->target_kib <= g->max_kib)
        return g->target_kib;
    return g->actual_kib;
}

uint64_t mem_limit_kib(const struct mem_guest *g)
{
    return g->cap_kib && g->cap_kib < g->max_kib ? g->cap_kib : g->max_kib;
}

uint64_t mem_grow_step(uint64_t max_kib)
{
    uint64_t s = max_kib / 4;
    return s > 256 * UTIL_MIB ? s : 256 * UTIL_MIB;
}

uint64_t mem_shrink_step(uint64_t max_kib)
{
    uint64_t s = max_kib / 16;
    return s > 64 * UTIL_MIB ? s : 64 * UTIL_MIB;
}

const char *mem_reason_name(enum mem_reason r)
{
    switch (r) {
    case MEM_KEEP:
        return "keep";
    case MEM_STARVING:
        return "starving";
    case MEM_STARVING_SHORT:
        return "starving, short of memory";
    case MEM_AT_MAX:
        return "starving, at maximum";
    case MEM_WASTEFUL:
        return "wasteful";
    case MEM_IDLE:
        return "idle";
    case MEM_SHORT:
        return "host short of memory";
    case MEM_UNTRUSTED:
        return "untrusted statistics";
    case MEM_SQUEEZED:
        return "squeezed";
    case MEM_DEFLATED:
        return "deflated itself";
    case MEM_PRESSURE:
        return "under pressure";
    case MEM_HUGEPAGES:
        return "huge pages";
    case MEM_AT_CAP:
        return "capped";
    case MEM_IGNORES:
        return "ignores its balloon";
    }
    return "?";
}

void mem_plan_free(struct mem_plan *plan)
{
    free(plan->d);
    memset(plan, 0, sizeof(*plan));
}

double mem_growth_per_period(const struct mem_config *cfg, const struct mem_guest *g)
{
    double r = g->rate_kib_s;

    if (!isfinite(r) || r <= 0)
        return 0;
    r *= cfg->period_s;
    return r > (double)g->max_kib ? (double)g->max_kib : r;
}

uint64_t mem_used_kib(const struct mem_guest *g)
{
    return g->headroom_kib < g->actual_kib ? g->actual_kib - g->headroom_kib : 0;
}

uint64_t mem_room_for(const struct mem_config *cfg, const struct mem_guest *g, uint64_t used,
                      double grow, int periods)
{
    double want = (double)used + (double)cfg->min_unused_kib + grow * periods;

    return want >= (double)mem_limit_kib(g) ? mem_limit_kib(g) : (uint64_t)want;
}
