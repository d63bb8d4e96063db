/* Steps 3 and 4 of placement: refine the greedy plan with single moves and exchanges between
 * the most and least loaded pCPUs, then prune the moves that gain too little (hysteresis). */
#include "placement_work.h"

#include <math.h>
#include <stdlib.h>

/* vCPUs of one pCPU considered for an exchange (bounds the cost of step 3 on crowded pCPUs). */
#define SWAP_SCAN 64

/* Items of one size bucket scanned for a single move (bounds step 3 on crowded pCPUs). */
#define MOVE_SCAN 16

/* Step 3's view: every movable planned vCPU (sticky ones stay) in doubly linked lists, one per
 * pCPU and size bucket (the demand class of its demand), through item indexes. A best single
 * move then looks at a few buckets near the ideal size, not at every vCPU of the pCPU: each
 * step is O(NCLASS * MOVE_SCAN) however crowded the pCPU. */
struct lists {
    struct work *w;
    struct item *items; /* all planned vCPUs */
    int *target;        /* per vCPU of the input */
    size_t *head;       /* per pCPU and bucket: first item, or NONE */
    size_t *next, *prev;
    double sum, sq; /* of the usable pCPUs' loads, kept up to date: the spread in O(1) */
};

static size_t *head_of(const struct lists *l, int p, int b)
{
    return &l->head[(size_t)p * NCLASS + (size_t)b];
}

static void list_push(struct lists *l, size_t i, int p)
{
    size_t *h = head_of(l, p, work_class_of(l->items[i].demand));

    l->next[i] = *h;
    l->prev[i] = NONE;
    if (*h != NONE)
        l->prev[*h] = i;
    *h = i;
}

static void list_remove(struct lists *l, size_t i, int p)
{
    if (l->prev[i] != NONE)
        l->next[l->prev[i]] = l->next[i];
    else
        *head_of(l, p, work_class_of(l->items[i].demand)) = l->next[i];
    if (l->next[i] != NONE)
        l->prev[l->next[i]] = l->prev[i];
}

/* Moves planned item I from pCPU FROM to TO: lists, target, loads and class counts. */
static void move_item(struct lists *l, size_t i, int from, int to)
{
    const struct item *it = &l->items[i];

    list_remove(l, i, from);
    list_push(l, i, to);
    l->target[it->v] = to;
    l->sq -= l->w->load[from] * l->w->load[from] + l->w->load[to] * l->w->load[to];
    l->w->load[from] -= it->demand;
    l->w->load[to] += it->demand;
    l->sq += l->w->load[from] * l->w->load[from] + l->w->load[to] * l->w->load[to];
    work_count_add(l->w, from, it->cls, -1);
    work_count_add(l->w, to, it->cls, 1);
}

/* A good single move from HI to LO gaining at least the threshold, or NONE: the gain of moving
 * d is gap - |gap - 2d|, largest for d nearest gap / 2, so the buckets are searched outward
 * from that size, one ring past the first candidate. */
static size_t best_move(const struct lists *l, int hi, int lo, double gap)
{
    double best_gain = l->w->in->threshold;
    size_t best = NONE;
    int c0 = work_class_of(gap / 2), last = NCLASS;

    for (int r = 0; r < NCLASS && r <= last; r++) {
        for (int side = 0; side < 2; side++) {
            int b = side ? c0 + r : c0 - r;
            size_t i = b >= 0 && b < NCLASS && (side == 0 || r > 0) ? *head_of(l, hi, b) : NONE;
            for (int k = 0; i != NONE && k < MOVE_SCAN; i = l->next[i], k++) {
                double gain = gap - fabs(gap - 2 * l->items[i].demand);
                if (gain >= best_gain && work_may_go(l->w, &l->items[i], lo)) {
                    best_gain = gain;
                    best = i;
                    last = last < r + 1 ? last : r + 1;
                }
            }
        }
    }
    return best;
}

/* Up to N movable items of pCPU P into OUT; returns how many. */
static size_t items_of(const struct lists *l, int p, size_t *out, size_t n)
{
    size_t k = 0;

    for (int b = NCLASS - 1; b >= 0 && k < n; b--)
        for (size_t i = *head_of(l, p, b); i != NONE && k < n; i = l->next[i])
            out[k++] = i;
    return k;
}

/* The best exchange of a larger vCPU of HI (*BI) for a smaller of LO (*BJ) gaining at least
 * the threshold, among the first SWAP_SCAN of each (largest first); false when there is none. */
static bool best_swap(const struct lists *l, int hi, int lo, double gap, size_t *bi, size_t *bj)
{
    const struct item *items = l->items;
    double best_gain = l->w->in->threshold;
    size_t a[SWAP_SCAN], b[SWAP_SCAN];
    size_t na = items_of(l, hi, a, SWAP_SCAN), nb = items_of(l, lo, b, SWAP_SCAN);

    *bi = *bj = NONE;
    for (size_t x = 0; x < na; x++) {
        for (size_t y = 0; y < nb; y++) {
            size_t i = a[x], j = b[y];
            double delta = items[i].demand - items[j].demand, gain;
            if (delta <= 0 || !work_allowed(l->w, &items[i], lo) ||
                !work_allowed(l->w, &items[j], hi) ||
                (items[i].cls != items[j].cls && (!work_has_room(l->w, lo, items[i].cls) ||
                                                  !work_has_room(l->w, hi, items[j].cls))))

                continue;
            gain = gap - fabs(gap - 2 * delta);
            if (gain >= best_gain) {
                best_gain = gain;
                *bi = i;
                *bj = j;
            }
        }
    }
    return *bi != NONE;
}

/* One refinement step between the most loaded pCPU HI and the least loaded LO: the best
 * single move, or else the best exchange. Returns false when neither helps enough. */
static bool refine_step(struct lists *l, int hi, int lo)
{
    double gap = l->w->load[hi] - l->w->load[lo];
    size_t i, j;

    if (hi == lo || gap < l->w->in->threshold)
        return false;
    i = best_move(l, hi, lo, gap);
    if (i != NONE) {
        move_item(l, i, hi, lo);
        return true;
    }
    if (!best_swap(l, hi, lo, gap, &i, &j))
        return false;
    move_item(l, i, hi, lo);
    move_item(l, j, lo, hi);
    return true;
}

/* The spread of the planned loads, from the sums L keeps. */
static double spread_of(const struct lists *l)
{
    double n = l->w->nusable, m = l->sum / n;

    return sqrt(fmax(0, l->sq / n - m * m));
}

/* By demand ascending, then index descending (the reverse of work_by_demand_desc()). */
static int by_demand_asc(const void *a, const void *b)
{
    return -work_by_demand_desc(a, b);
}

int refine_moves(struct work *w, struct loadheap *minh, struct item *items, size_t nitems,
                 int *target)
{
    int np = w->np;
    struct lists l = {.w = w, .items = items, .target = target};
    struct loadheap maxh = {0};
    int rc = -1;

    l.head = malloc((size_t)(np > 0 ? np : 1) * NCLASS * sizeof(size_t));
    l.next = malloc((nitems ? nitems : 1) * sizeof(size_t));
    l.prev = malloc((nitems ? nitems : 1) * sizeof(size_t));
    if (!l.head || !l.next || !l.prev || loadheap_init(&maxh, np, w->in->usable, w->load, -1) < 0)
        goto cleanup;
    for (size_t k = 0; k < (size_t)np * NCLASS; k++)
        l.head[k] = NONE;
    for (int p = 0; p < np; p++) {
        if (!w->in->usable || w->in->usable[p]) {
            l.sum += w->load[p];
            l.sq += w->load[p] * w->load[p];
        }
    }
    /* Sticky vCPUs stay where they are: they are not in the lists. */
    for (size_t i = 0; i < nitems; i++)
        if (!items[i].sticky)
            list_push(&l, i, target[items[i].v]);
    for (size_t iter = 0; iter < nitems + (size_t)np && maxh.n > 0 && minh->n > 0; iter++) {
        int hi = maxh.h[0], lo = minh->h[0];

        /* Balanced enough: more moves would gain nothing users feel. */
        if (spread_of(&l) <= w->enough || !refine_step(&l, hi, lo))
            break;
        loadheap_fix(minh, hi);
        loadheap_fix(minh, lo);
        loadheap_fix(&maxh, hi);
        loadheap_fix(&maxh, lo);
    }
    rc = 0;
cleanup:
    loadheap_free(&maxh);
    free(l.head);
    free(l.next);
    free(l.prev);
    return rc;
}

void refine_prune(struct work *w, const struct item *items, size_t nitems, int *target)
{
    struct item *moved = w->pending; /* scratch by now */
    double n = w->nusable, sum = 0, sq = 0;
    size_t nmoved = 0;

    for (int p = 0; p < w->np; p++)
        if (!w->in->usable || w->in->usable[p]) {
            sum += w->load[p];
            sq += w->load[p] * w->load[p];
        }
    for (size_t i = 0; i < nitems; i++)
        if (items[i].origin >= 0 && target[items[i].v] != items[i].origin)
            moved[nmoved++] = items[i];
    qsort(moved, nmoved, sizeof(*moved), by_demand_asc);
    for (size_t i = 0; i < nmoved; i++) {
        double d = moved[i].demand, lo, lt, sq_undone;
        int o = moved[i].origin, t = target[moved[i].v];
        lo = w->load[o];
        lt = w->load[t];
        sq_undone = sq - lo * lo - lt * lt + (lo + d) * (lo + d) + (lt - d) * (lt - d);
        /* Undo a move that gains its pair of pCPUs less than the threshold, or one the spread
         * does without (it stays balanced enough). */
        if (work_has_room(w, o, moved[i].cls) &&
            (fabs((lo + d) - (lt - d)) - fabs(lo - lt) < w->in->threshold ||
             sqrt(fmax(0, sq_undone / n - (sum / n) * (sum / n))) <= w->enough)) {
            w->load[o] += d;
            w->load[t] -= d;
            sq = sq_undone;
            work_count_add(w, t, moved[i].cls, -1);
            work_count_add(w, o, moved[i].cls, 1);
            target[moved[i].v] = o;
        }
    }
}
