/* The items (one per planned vCPU or fluid piece) and the working buffers of one placement run. */
#include "placement_work.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

/* By demand descending, then index. */
int work_by_demand_desc(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->demand != y->demand)
        return x->demand > y->demand ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* Doubles ascending. */
int work_by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Lists the vCPUs of each group (W->gstart, W->gv), for spreading a guest's vCPUs. */
static int list_groups(struct work *w)
{
    const struct placement_input *in = w->in;

    for (size_t v = 0; v < in->nvcpus; v++)
        if (in->vcpus[v].group > 0 && (size_t)in->vcpus[v].group + 1 > w->ngroups)
            w->ngroups = (size_t)in->vcpus[v].group + 1;
    w->gstart = calloc(w->ngroups + 2, sizeof(size_t));
    w->gv = malloc((in->nvcpus ? in->nvcpus : 1) * sizeof(size_t));
    if (!w->gstart || !w->gv)
        return -1;
    for (size_t v = 0; v < in->nvcpus; v++)
        if (in->vcpus[v].group > 0)
            w->gstart[in->vcpus[v].group + 2]++;
    for (size_t g = 0; g < w->ngroups; g++)
        w->gstart[g + 2] += w->gstart[g + 1];
    for (size_t v = 0; v < in->nvcpus; v++)
        if (in->vcpus[v].group > 0)
            w->gv[w->gstart[in->vcpus[v].group + 1]++] = v;
    return 0;
}

int work_alloc(struct work *w, const struct placement_input *in, struct placement_plan *out)
{
    size_t n1 = in->nvcpus ? in->nvcpus : 1, np1 = (size_t)(w->np ? w->np : 1);

    out->target = malloc(n1 * sizeof(int));
    w->load = calloc(np1, sizeof(double));
    w->before = calloc(np1, sizeof(double));
    w->kept = malloc(n1 * sizeof(*w->kept));
    w->pending = malloc(n1 * FLUID_PIECES_MAX * sizeof(*w->pending));
    w->all = malloc(n1 * (FLUID_PIECES_MAX + 1) * sizeof(*w->all));
    w->count = calloc(np1 * NCLASS, sizeof(*w->count));
    w->pinned = calloc(np1, sizeof(double));
    w->scratch = calloc(np1, sizeof(double));
    w->scratch2 = calloc(n1 + 2, sizeof(double));
    w->placed = calloc(n1, sizeof(*w->placed));
    w->scratch3 = calloc(np1, sizeof(double));
    w->bucket = calloc(np1 + 1, sizeof(size_t));
    w->order = calloc(n1, sizeof(size_t));
    if (!out->target || !w->load || !w->before || !w->kept || !w->pending || !w->all || !w->count ||
        !w->pinned || !w->scratch || !w->scratch2 || !w->placed || !w->scratch3 || !w->bucket ||
        !w->order)
        return -1;
    return smt_link_siblings(w) < 0 || list_groups(w) < 0 ? -1 : 0;
}

void work_free(struct work *w)
{
    free(w->load);
    free(w->before);
    free(w->kept);
    free(w->pending);
    free(w->count);
    free(w->pinned);
    free(w->scratch);
    free(w->scratch2);
    free(w->placed);
    free(w->scratch3);
    free(w->bucket);
    free(w->order);
    free(w->all);
    free(w->sib);
    free(w->gstart);
    free(w->gv);
}

void work_init_loads(struct work *w)
{
    const struct placement_input *in = w->in;

    for (int p = 0; p < w->np; p++) {
        double bg = in->background && isfinite(in->background[p]) && in->background[p] > 0
                            ? in->background[p]
                            : 0;
        if (in->usable && !in->usable[p])
            continue;
        w->load[p] = w->before[p] = bg;
        w->total += bg;
        w->nusable++;
    }
}

void work_classify(struct work *w, int *target)
{
    const struct placement_input *in = w->in;

    for (size_t v = 0; v < in->nvcpus; v++) {
        double d = in->vcpus[v].demand;
        int pin = in->vcpus[v].pin;
        struct item it;

        it.demand = isfinite(d) ? (d < 0 ? 0 : d > 1 ? 1 : d) : 0;
        it.allowed = in->vcpus[v].allowed;
        it.group = in->vcpus[v].group;
        it.origin = pin >= 0 && pin < w->np && work_allowed(w, &it, pin) ? pin : -1;
        it.cls = work_class_of(it.demand);
        it.sticky = in->vcpus[v].sticky && it.origin >= 0;
        it.fluid = false;
        it.v = v;
        target[v] = pin >= 0 && pin < w->np ? pin : -1;
        if (it.origin >= 0) {
            w->before[pin] += it.demand;
            w->pinned[pin] += it.demand;
            w->kept[w->nkept++] = it;
            w->total += it.demand;
            w->quota[it.cls]++;
        } else if (pin < 0 && it.demand < PLACEMENT_MIN_DEMAND) {
            /* idle and floating: nothing to gain from pinning it */
        } else if (pin < 0 && !in->pin_floating) {
            fluid_add(w, &it);
        } else {
            /* Stranded vCPUs must move; floating ones must get a pin when pin_floating. */
            w->pending[w->npending++] = it;
            w->nmust++;
            w->floating += it.demand;
            w->total += it.demand;
            w->quota[it.cls]++;
        }
    }
    /* quota[] counted the vCPUs of each class; turn counts into per-pCPU quotas (which only
     * matter on an overcommitted host). */
    for (int c = 0; c < NCLASS; c++)
        w->quota[c] = c == 0 || w->nusable == 0 || !w->quotas || !work_overcommitted(w)
                              ? UINT_MAX
                              : (w->quota[c] + (unsigned)w->nusable - 1) / (unsigned)w->nusable;
}
