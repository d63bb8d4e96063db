/* SMT siblings: busy vCPUs fill physical cores before sibling threads. */
#include "placement_work.h"

#include <stdlib.h>

/* A pCPU this loaded runs a busy vCPU (two of them on sibling threads slow each other down:
 * a thread whose sibling is busy runs at about 0.65 of a core); one less loaded than IDLE is
 * idle (SMT). */
#define BUSY 0.75
#define IDLE 0.1

static const int *cmp_core; /* for by_core: qsort has no argument (set just before it) */

static int by_core(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    if (cmp_core[x] != cmp_core[y])
        return cmp_core[x] < cmp_core[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

int smt_link_siblings(struct work *w)
{
    int *order;

    if (!w->in->core || w->np == 0)
        return 0;
    order = malloc((size_t)w->np * sizeof(int));
    w->sib = malloc((size_t)w->np * sizeof(int));
    if (!order || !w->sib) {
        free(order);
        return -1;
    }
    for (int p = 0; p < w->np; p++)
        order[p] = p;
    cmp_core = w->in->core;
    qsort(order, (size_t)w->np, sizeof(int), by_core);
    for (int i = 0, start = 0; i < w->np; i++) {
        bool last = i + 1 == w->np || w->in->core[order[i + 1]] != w->in->core[order[i]];
        w->sib[order[i]] = last ? order[start] : order[i + 1];
        if (last)
            start = i + 1;
    }
    free(order);
    return 0;
}

double smt_sibling_load(const struct work *w, int p)
{
    double l = 0;

    if (!w->sib)
        return 0;
    for (int q = w->sib[p]; q != p; q = w->sib[q])
        l += w->load[q];
    return l;
}

/* True when P is the first pCPU of its core's sibling ring (each core visited once). */
static bool core_leader(const struct work *w, int p)
{
    for (int q = w->sib[p]; q != p; q = w->sib[q])
        if (q < p)
            return false;
    return true;
}

/* Counts the busy threads of P's core (LOAD per pCPU) and whether its usable threads are all
 * idle (and there is one). */
static int core_busy(const struct work *w, int p, const double *load, bool *idle)
{
    int busy = 0, q = p, usable = 0;

    *idle = true;
    do {
        if (!w->in->usable || w->in->usable[q]) {
            usable++;
            busy += load[q] >= BUSY;
            *idle = *idle && load[q] < IDLE;
        }
        q = w->sib[q];
    } while (q != p);
    *idle = *idle && usable > 0;
    return busy;
}

size_t smt_doubled(const struct work *w, const double *load)
{
    size_t extra = 0, idle = 0;

    for (int p = 0; w->sib && p < w->np; p++) {
        bool is_idle;
        int busy;
        if (!core_leader(w, p))
            continue;
        busy = core_busy(w, p, load, &is_idle);
        extra += busy > 1 ? (size_t)(busy - 1) : 0;
        idle += is_idle;
    }
    return extra < idle ? extra : idle;
}

/* A movable busy vCPU of ITEMS planned on pCPU T (HEAD/NEXT: per-pCPU lists), or NONE. */
static size_t busy_item_on(const struct item *items, const int *head, const size_t *next, int t)
{
    for (size_t i = head[t] >= 0 ? (size_t)head[t] : NONE; i != NONE; i = next[i])
        if (!items[i].sticky && !items[i].fluid && items[i].demand >= BUSY)
            return i;
    return NONE;
}

/* A thread of an idle core that ITEM may go to (clearing that core's idle mark), or -1. */
static int idle_thread_for(struct work *w, const struct item *it, unsigned char *idle_core)
{
    for (int p = 0; p < w->np; p++) {
        int q = p;
        if (!idle_core[p])
            continue;
        do {
            if (work_may_go(w, it, q)) {
                idle_core[p] = 0;
                return q;
            }
            q = w->sib[q];
        } while (q != p);
    }
    return -1;
}

int smt_repair(struct work *w, const struct item *items, size_t n, int *target)
{
    int *head = malloc((size_t)w->np * sizeof(int));
    size_t *next = malloc((n ? n : 1) * sizeof(size_t));
    unsigned char *idle_core = calloc((size_t)w->np, 1);
    int rc = -1;

    if (!head || !next || !idle_core)
        goto cleanup;
    for (int p = 0; p < w->np; p++) {
        bool is_idle = false;
        head[p] = -1;
        if (core_leader(w, p))
            core_busy(w, p, w->load, &is_idle);
        idle_core[p] = is_idle;
    }
    for (size_t i = 0; i < n; i++) {
        int t = target[items[i].v];
        if (t >= 0 && !items[i].fluid) {
            next[i] = head[t] >= 0 ? (size_t)head[t] : NONE;
            head[t] = (int)i;
        }
    }
    for (int p = 0; p < w->np; p++) {
        bool skip;
        int q = w->sib[p];
        if (!core_leader(w, p) || core_busy(w, p, w->load, &skip) < 2)
            continue;
        /* Every busy thread of this core but the first gives up its busy vCPU, if it can. */
        for (bool first = true; q != p || first; q = w->sib[q], first = false) {
            int t = first ? p : q;
            size_t i;
            int to;
            if (core_busy(w, p, w->load, &skip) < 2 || w->load[t] < BUSY)
                continue;
            i = busy_item_on(items, head, next, t);
            if (i == NONE || (to = idle_thread_for(w, &items[i], idle_core)) < 0)
                continue;
            target[items[i].v] = to;
            w->load[t] -= items[i].demand;
            w->load[to] += items[i].demand;
            work_count_add(w, t, items[i].cls, -1);
            work_count_add(w, to, items[i].cls, 1);
            head[t] = -1; /* its list is stale now; one move per thread is enough */
        }
    }
    rc = 0;
cleanup:
    free(head);
    free(next);
    free(idle_core);
    return rc;
}
