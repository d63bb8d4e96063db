/* vCPU placement policy (pure).
 *
 * The projected load of a pCPU is its background load plus the estimated demand of the vCPUs
 * pinned to it. A plan is good when these loads are even (small standard deviation): that
 * balances usage and, because demand rather than measured usage is balanced, also gives vCPUs
 * of equal demand equal service (four busy vCPUs on two pCPUs end up 2+2, never 3+1).
 *
 * Fairness also asks that vCPUs of equal demand be spread evenly: demands fall in classes 5 %
 * wide, and a pCPU should hold at most ceil(n / pCPUs) of the n vCPUs of a class (its quota).
 *
 * Floating vCPUs (affinity over several pCPUs) are the kernel's to place, and it fills the
 * least loaded pCPUs first: their demand is projected as a fluid that levels the lowest loads.
 * They are planned like the others (so that the pinned ones make room for them), but pinned
 * only when the input says the kernel has failed to balance them (pin_floating); otherwise
 * their place in the plan is virtual and costs nothing.
 *
 * Planning, O(V log V + V log P) in the usual case:
 *  1. keep:   on every pCPU keep its current vCPUs while they fit under the ideal load
 *             T = total / pCPUs plus half the threshold and within their class quota (a lone
 *             vCPU larger than T stays too; so do vCPUs moved recently, "sticky", which damps
 *             chasing bursty loads);
 *  2. place:  the displaced vCPUs and floating ones with demand, largest first, each on the
 *             least loaded pCPU with room in its class, its current pCPU on ties (LPT);
 *  3. refine: while moving one vCPU from the most to the least loaded pCPU, or else exchanging
 *             a larger vCPU of the one for a smaller of the other, narrows their gap by at
 *             least the threshold, do so;
 *  4. prune:  undo every move that narrows the load gap between its two pCPUs by less than the
 *             threshold (hysteresis: no move for a small gain);
 *  5. decide: act only if the projected load spread exceeds the threshold, a class is spread
 *             unevenly, or a vCPU must be pinned (stranded on an unusable pCPU, or floating
 *             when pin_floating), and a move remains; otherwise change nothing.
 * Steps 1-4 run twice: keeping each pCPU's largest vCPUs first (best balance when large
 * vCPUs must spread) and its smallest first (fewest moves: to bring a pCPU under a load, moving
 * its largest vCPUs moves the fewest). The plan with fewer moves wins unless its load spread is
 * worse by more than a quarter of the threshold.
 */
#include "placement.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Loads closer than this are equal (absorbs rounding in measured counters). */
#define TIE 1e-6

/* Demand classes, 5 % wide, for fairness: vCPUs of one class are spread evenly. Class 0 (under
 * 2.5 % of a pCPU) is not limited. */
#define NCLASS PLACEMENT_NCLASS

/* Heap entries searched for a pCPU with room in a class (the smallest loads live near the top). */
#define QUOTA_SCAN 63

static int class_of(double demand)
{
    int c = (int)(demand * (NCLASS - 1) + 0.5);
    return c < 0 ? 0 : c >= NCLASS ? NCLASS - 1 : c;
}

int placement_class(double demand)
{
    return class_of(demand);
}

/* Indexed binary heap of pCPUs keyed by load: a min-heap (sign 1) or a max-heap (sign -1);
 * ties go to the lower pCPU number. */
struct heap {
    int *h;   /* heap of pCPU numbers */
    int *pos; /* position of each pCPU in h, or -1 */
    int n;
    double sign;
    const double *key;
};

static bool heap_before(const struct heap *hp, int a, int b)
{
    double ka = hp->sign * hp->key[a], kb = hp->sign * hp->key[b];
    return ka < kb || (ka == kb && a < b);
}

static void heap_swap(struct heap *hp, int i, int j)
{
    int t = hp->h[i];
    hp->h[i] = hp->h[j];
    hp->h[j] = t;
    hp->pos[hp->h[i]] = i;
    hp->pos[hp->h[j]] = j;
}

static void heap_down(struct heap *hp, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < hp->n && heap_before(hp, hp->h[l], hp->h[m]))
            m = l;
        if (r < hp->n && heap_before(hp, hp->h[r], hp->h[m]))
            m = r;
        if (m == i)
            return;
        heap_swap(hp, i, m);
        i = m;
    }
}

static void heap_up(struct heap *hp, int i)
{
    while (i > 0 && heap_before(hp, hp->h[i], hp->h[(i - 1) / 2])) {
        heap_swap(hp, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* Restores the heap after the key of pCPU P changed. */
static void heap_fix(struct heap *hp, int p)
{
    heap_up(hp, hp->pos[p]);
    heap_down(hp, hp->pos[p]);
}

static int heap_init(struct heap *hp, int np, const unsigned char *usable, const double *key,
                     double sign)
{
    hp->h = malloc((size_t)(np > 0 ? np : 1) * sizeof(int));
    hp->pos = malloc((size_t)(np > 0 ? np : 1) * sizeof(int));
    if (!hp->h || !hp->pos)
        return -1;
    hp->n = 0;
    hp->sign = sign;
    hp->key = key;
    for (int p = 0; p < np; p++) {
        hp->pos[p] = -1;
        if (!usable || usable[p]) {
            hp->h[hp->n] = p;
            hp->pos[p] = hp->n++;
        }
    }
    for (int i = hp->n / 2 - 1; i >= 0; i--)
        heap_down(hp, i);
    return 0;
}

static void heap_free(struct heap *hp)
{
    free(hp->h);
    free(hp->pos);
}

double placement_spread(const double *load, const unsigned char *usable, int npcpus)
{
    double sum = 0, sq = 0;
    int n = 0;

    for (int p = 0; p < npcpus; p++) {
        if (usable && !usable[p])
            continue;
        sum += load[p];
        n++;
    }
    if (n == 0)
        return 0;
    for (int p = 0; p < npcpus; p++) {
        double d;
        if (usable && !usable[p])
            continue;
        d = load[p] - sum / n;
        sq += d * d;
    }
    return sqrt(sq / n);
}

/* A vCPU being planned; sorting these keeps qsort free of shared state. */
struct item {
    double demand;
    int origin; /* usable current pin, or -1 */
    int cls;    /* demand class */
    bool sticky;
    size_t v;
};

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

/* By demand descending, then index. */
static int by_demand_desc(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->demand != y->demand)
        return x->demand > y->demand ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* By demand ascending, then index. */
static int by_demand_asc(const void *a, const void *b)
{
    return -by_demand_desc(a, b);
}

void placement_plan_free(struct placement_plan *plan)
{
    free(plan->target);
    memset(plan, 0, sizeof(*plan));
}

/* Working state of one planning run. */
struct work {
    const struct placement_input *in;
    int np, nusable;
    double *load;         /* per pCPU, as planned */
    double *before;       /* per pCPU, now */
    struct item *kept;    /* pinned to a usable pCPU: candidates to stay */
    struct item *pending; /* to be placed */
    size_t nkept, npending, nmust;
    double floating; /* demand of floating and stranded vCPUs: placed where there is room */
    double total;
    unsigned quota[NCLASS]; /* most vCPUs of a class one pCPU should hold: ceil(n / pCPUs) */
    unsigned *count;        /* np x NCLASS: planned vCPUs of each class on each pCPU */
    struct item *all;       /* scratch: every planned vCPU */
    double *pinned;         /* per pCPU: demand of the vCPUs pinned there now */
    double *scratch;        /* np doubles */
    double *scratch2;       /* nvcpus + 2 doubles */
};

/* True when pCPU P may take one more vCPU of class C. */
static bool has_room(const struct work *w, int p, int c)
{
    return w->count[(size_t)p * NCLASS + (size_t)c] < w->quota[c];
}

static void count_add(struct work *w, int p, int c, int delta)
{
    w->count[(size_t)p * NCLASS + (size_t)c] += (unsigned)delta;
}

/* Sorts vCPUs into kept, pending (must place) and ignored (idle floating). */
static void classify(struct work *w, int *target)
{
    const struct placement_input *in = w->in;

    for (size_t v = 0; v < in->nvcpus; v++) {
        double d = in->vcpus[v].demand;
        int pin = in->vcpus[v].pin;
        struct item it;

        it.demand = isfinite(d) ? (d < 0 ? 0 : d > 1 ? 1 : d) : 0;
        it.origin = pin >= 0 && pin < w->np && (!in->usable || in->usable[pin]) ? pin : -1;
        it.cls = class_of(it.demand);
        it.sticky = in->vcpus[v].sticky && it.origin >= 0;
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
        } else {
            w->pending[w->npending++] = it;
            /* Stranded vCPUs must move; floating ones need a pin only when allowed. */
            if (pin >= 0 || in->pin_floating)
                w->nmust++;
            w->floating += it.demand;
            w->total += it.demand;
            w->quota[it.cls]++;
        }
    }
    /* quota[] counted the vCPUs of each class; turn counts into per-pCPU quotas. */
    for (int c = 0; c < NCLASS; c++)
        w->quota[c] = c == 0 || w->nusable == 0
                              ? UINT_MAX
                              : (w->quota[c] + (unsigned)w->nusable - 1) / (unsigned)w->nusable;
}

/* 1. keep: each pCPU keeps its sticky vCPUs, then its largest (or smallest) vCPUs while they
 * fit under the ideal load. Leaves KEPT sorted by origin and largest first. */
static void keep(struct work *w, double ideal, double tol, bool smallest_first)
{
    qsort(w->kept, w->nkept, sizeof(*w->kept),
          smallest_first ? by_origin_demand_asc : by_origin_demand);
    for (size_t i = 0; i < w->nkept;) {
        int p = w->kept[i].origin;
        bool any = false;
        for (; i < w->nkept && w->kept[i].origin == p; i++) {
            double d = w->kept[i].demand;
            int c = w->kept[i].cls;
            if (w->kept[i].sticky || (has_room(w, p, c) && (w->load[p] + d <= ideal + tol ||
                                                            (!any && w->load[p] < ideal)))) {
                w->load[p] += d;
                count_add(w, p, c, 1);
                any = true;
            } else {
                w->pending[w->npending++] = w->kept[i];
            }
        }
    }
    if (smallest_first)
        qsort(w->kept, w->nkept, sizeof(*w->kept), by_origin_demand);
}

/* The least loaded pCPU with room for class C among the first heap entries, else the least
 * loaded pCPU of all. */
static int least_loaded(const struct work *w, const struct heap *minh, int c)
{
    int best = -1, lim = minh->n < QUOTA_SCAN ? minh->n : QUOTA_SCAN;

    if (has_room(w, minh->h[0], c))
        return minh->h[0];
    for (int k = 1; k < lim; k++) {
        int p = minh->h[k];
        bool better;
        if (!has_room(w, p, c))
            continue;
        better = best < 0 || w->load[p] < w->load[best];
        if (!better && w->load[p] == w->load[best])
            better = p < best; /* ties: the lower pCPU, as the heap orders them */
        if (better)
            best = p;
    }
    return best >= 0 ? best : minh->h[0];
}

/* 2. place the pending vCPUs, largest first, on the least loaded pCPU with room in their
 * class (their own pCPU on ties). */
static void place(struct work *w, struct heap *minh, int *target)
{
    qsort(w->pending, w->npending, sizeof(*w->pending), by_demand_desc);
    for (size_t i = 0; i < w->npending && minh->n > 0; i++) {
        int c = w->pending[i].cls, p = least_loaded(w, minh, c), o = w->pending[i].origin;
        if (o >= 0 && w->load[o] <= w->load[p] + TIE && has_room(w, o, c))
            p = o;
        target[w->pending[i].v] = p;
        w->load[p] += w->pending[i].demand;
        count_add(w, p, c, 1);
        heap_fix(minh, p);
    }
}

/* vCPUs of one pCPU considered for an exchange (bounds the cost of step 3 on crowded pCPUs). */
#define SWAP_SCAN 64

#define NONE ((size_t)-1)

/* Step 3's view: every planned vCPU in a doubly linked list per pCPU (through item indexes). */
struct lists {
    struct work *w;
    struct item *items; /* all planned vCPUs */
    int *target;        /* per vCPU of the input */
    int *head;          /* per pCPU: first item, or -1 */
    size_t *next, *prev;
};

static size_t first_of(const struct lists *l, int p)
{
    return l->head[p] >= 0 ? (size_t)l->head[p] : NONE;
}

static void list_push(struct lists *l, size_t i, int p)
{
    l->next[i] = first_of(l, p);
    l->prev[i] = NONE;
    if (l->head[p] >= 0)
        l->prev[l->head[p]] = i;
    l->head[p] = (int)i;
}

/* Moves planned item I from pCPU FROM to TO: lists, target, loads and class counts. */
static void move_item(struct lists *l, size_t i, int from, int to)
{
    const struct item *it = &l->items[i];

    if (l->prev[i] != NONE)
        l->next[l->prev[i]] = l->next[i];
    else
        l->head[from] = l->next[i] != NONE ? (int)l->next[i] : -1;
    if (l->next[i] != NONE)
        l->prev[l->next[i]] = l->prev[i];
    list_push(l, i, to);
    l->target[it->v] = to;
    l->w->load[from] -= it->demand;
    l->w->load[to] += it->demand;
    count_add(l->w, from, it->cls, -1);
    count_add(l->w, to, it->cls, 1);
}

/* The best single move from HI to LO gaining at least the threshold, or NONE. */
static size_t best_move(const struct lists *l, int hi, int lo, double gap)
{
    double best_gain = l->w->in->threshold;
    size_t best = NONE;

    for (size_t i = first_of(l, hi); i != NONE; i = l->next[i]) {
        double gain = gap - fabs(gap - 2 * l->items[i].demand);
        if (l->items[i].sticky || !has_room(l->w, lo, l->items[i].cls))
            continue;
        if (gain >= best_gain) {
            best_gain = gain;
            best = i;
        }
    }
    return best;
}

/* The best exchange of a larger vCPU of HI (*BI) for a smaller of LO (*BJ) gaining at least
 * the threshold; returns false when there is none. */
static bool best_swap(const struct lists *l, int hi, int lo, double gap, size_t *bi, size_t *bj)
{
    const struct item *items = l->items;
    double best_gain = l->w->in->threshold;
    size_t si = 0;

    *bi = *bj = NONE;
    for (size_t i = first_of(l, hi); i != NONE && si < SWAP_SCAN; i = l->next[i], si++) {
        size_t sj = 0;
        if (items[i].sticky)
            continue;
        for (size_t j = first_of(l, lo); j != NONE && sj < SWAP_SCAN; j = l->next[j], sj++) {
            double delta = items[i].demand - items[j].demand, gain;
            if (items[j].sticky || delta <= 0 ||
                (items[i].cls != items[j].cls &&
                 (!has_room(l->w, lo, items[i].cls) || !has_room(l->w, hi, items[j].cls))))
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

/* 3. refine: move single vCPUs from the most to the least loaded pCPU while that narrows
 * their gap by at least the threshold. ITEMS are all planned vCPUs. */
static int refine(struct work *w, struct heap *minh, struct item *items, size_t nitems, int *target)
{
    int np = w->np;
    struct lists l = {.w = w, .items = items, .target = target};
    struct heap maxh = {0};
    int rc = -1;

    l.head = malloc((size_t)(np > 0 ? np : 1) * sizeof(int));
    l.next = malloc((nitems ? nitems : 1) * sizeof(size_t));
    l.prev = malloc((nitems ? nitems : 1) * sizeof(size_t));
    if (!l.head || !l.next || !l.prev || heap_init(&maxh, np, w->in->usable, w->load, -1) < 0)
        goto cleanup;
    for (int p = 0; p < np; p++)
        l.head[p] = -1;
    for (size_t i = 0; i < nitems; i++)
        list_push(&l, i, target[items[i].v]);
    for (size_t iter = 0; iter < nitems + (size_t)np && maxh.n > 0 && minh->n > 0; iter++) {
        int hi = maxh.h[0], lo = minh->h[0];

        if (!refine_step(&l, hi, lo))
            break;
        heap_fix(minh, hi);
        heap_fix(minh, lo);
        heap_fix(&maxh, hi);
        heap_fix(&maxh, lo);
    }
    rc = 0;
cleanup:
    heap_free(&maxh);
    free(l.head);
    free(l.next);
    free(l.prev);
    return rc;
}

/* 4. prune: undo moves that narrow their gap by less than the threshold, smallest first.
 * ITEMS are all planned vCPUs; reordered. */
static void prune(struct work *w, struct item *items, size_t nitems, int *target)
{
    size_t nmoved = 0;

    for (size_t i = 0; i < nitems; i++)
        if (items[i].origin >= 0 && target[items[i].v] != items[i].origin)
            items[nmoved++] = items[i];
    qsort(items, nmoved, sizeof(*items), by_demand_asc);
    for (size_t i = 0; i < nmoved; i++) {
        double d = items[i].demand;
        int o = items[i].origin, t = target[items[i].v];
        double gap_now = fabs(w->load[o] - w->load[t]);
        double gap_undone = fabs((w->load[o] + d) - (w->load[t] - d));
        if (gap_undone - gap_now < w->in->threshold && has_room(w, o, items[i].cls)) {
            w->load[o] += d;
            w->load[t] -= d;
            count_add(w, t, items[i].cls, -1);
            count_add(w, o, items[i].cls, 1);
            target[items[i].v] = o;
        }
    }
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

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The spread of the loads now, with the floating (and stranded) demand as a fluid that fills
 * the least loaded pCPUs first, as the kernel's balancer does. */
static double fluid_spread(const struct work *w, double *level_out)
{
    const unsigned char *usable = w->in->usable;
    double *l = w->scratch, left = w->floating, level;
    int n = 0, k = 0;

    for (int p = 0; p < w->np; p++)
        if (!usable || usable[p])
            l[n++] = w->before[p];
    qsort(l, (size_t)n, sizeof(double), by_double);
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
    return placement_spread(l, NULL, n);
}

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

/* By origin ascending, then demand ascending. */
static int by_origin_asc(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->origin != y->origin)
        return x->origin < y->origin ? -1 : 1;
    return x->demand < y->demand ? -1 : x->demand > y->demand;
}

/* True when vCPUs of one demand class would get unequal service now: each pCPU shared max-min
 * fairly among its pinned vCPUs, its background and the floating demand the kernel would give
 * it, two vCPUs of a class (demands within 5 %) differ by more than twice the threshold. */
static bool unfair(struct work *w, const double *fluid_level)
{
    double lo[NCLASS], hi[NCLASS];
    double *d = w->scratch2;

    memcpy(w->all, w->kept, w->nkept * sizeof(*w->all));
    qsort(w->all, w->nkept, sizeof(*w->all), by_origin_asc);
    for (int c = 0; c < NCLASS; c++) {
        lo[c] = INFINITY;
        hi[c] = -INFINITY;
    }
    for (size_t i = 0; i < w->nkept;) {
        int p = w->all[i].origin;
        size_t j = i, n = 0;
        double level;

        for (; j < w->nkept && w->all[j].origin == p; j++)
            d[n++] = w->all[j].demand;
        d[n++] = w->before[p] - w->pinned[p]; /* background */
        d[n++] = *fluid_level > w->before[p] ? *fluid_level - w->before[p] : 0;
        qsort(d, n, sizeof(double), by_double);
        level = water_level(d, n);
        for (; i < j; i++) {
            int c = w->all[i].cls;
            double got = fmin(w->all[i].demand, level);
            lo[c] = fmin(lo[c], got);
            hi[c] = fmax(hi[c], got);
        }
    }
    for (int c = 1; c < NCLASS; c++)
        if (hi[c] - lo[c] > 2 * w->in->threshold)
            return true;
    return false;
}

/* The spread of min(1, load) after the plan: the pCPU usage the plan projects. */
static double capped_spread(const struct work *w)
{
    double *u = w->scratch;

    for (int p = 0; p < w->np; p++)
        u[p] = w->load[p] < 1 ? w->load[p] : 1;
    return placement_spread(u, w->in->usable, w->np);
}

/* Lower bound: on each pCPU, its largest vCPUs must leave until it fits under the plan's
 * highest load, and its vCPUs above their class quota must leave (whichever is more); floating
 * vCPUs with demand need a pin whatever the plan. */
static size_t lower_bound(struct work *w, double max_after)
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

/* Allocates W's arrays (and OUT's target) for IN; returns 0 or -1. */
static int work_alloc(struct work *w, const struct placement_input *in, struct placement_plan *out)
{
    size_t n1 = in->nvcpus ? in->nvcpus : 1, np1 = (size_t)(w->np ? w->np : 1);

    out->target = malloc(n1 * sizeof(int));
    w->load = calloc(np1, sizeof(double));
    w->before = calloc(np1, sizeof(double));
    w->kept = malloc(n1 * sizeof(*w->kept));
    w->pending = malloc(n1 * sizeof(*w->pending));
    w->all = malloc(n1 * sizeof(*w->all));
    w->count = calloc(np1 * NCLASS, sizeof(*w->count));
    w->pinned = calloc(np1, sizeof(double));
    w->scratch = calloc(np1, sizeof(double));
    w->scratch2 = calloc(n1 + 2, sizeof(double));
    if (!out->target || !w->load || !w->before || !w->kept || !w->pending || !w->all || !w->count ||
        !w->pinned || !w->scratch || !w->scratch2)
        return -1;
    return 0;
}

static void work_free(struct work *w)
{
    free(w->load);
    free(w->before);
    free(w->kept);
    free(w->pending);
    free(w->count);
    free(w->pinned);
    free(w->scratch);
    free(w->scratch2);
    free(w->all);
}

/* Starts every usable pCPU's load at its background load. */
static void init_loads(struct work *w)
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

/* Steps 1-4 once classified: keep, place, refine, prune. */
static int steps(struct work *w, bool smallest_first, struct placement_plan *out)
{
    const struct placement_input *in = w->in;
    struct heap minh = {0};
    size_t nall;
    int rc = -1;

    keep(w, w->total / w->nusable, in->threshold / 2, smallest_first);
    if (heap_init(&minh, w->np, in->usable, w->load, 1) < 0)
        goto cleanup;
    place(w, &minh, out->target);
    /* Every planned vCPU: kept ones and placed ones. */
    memcpy(w->all, w->kept, w->nkept * sizeof(*w->all));
    nall = w->nkept;
    for (size_t i = 0; i < w->npending; i++)
        if (w->pending[i].origin < 0)
            w->all[nall++] = w->pending[i];
    if (refine(w, &minh, w->all, nall, out->target) < 0)
        goto cleanup;
    prune(w, w->all, nall, out->target);
    rc = 0;
cleanup:
    heap_free(&minh);
    return rc;
}

/* One planning run (steps 1-4) into OUT; SMALLEST_FIRST picks the keep order. */
static int plan_once(const struct placement_input *in, bool smallest_first,
                     struct placement_plan *out)
{
    struct work w = {.in = in, .np = in->npcpus > 0 ? in->npcpus : 0};
    double level;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (work_alloc(&w, in, out) < 0)
        goto cleanup;
    init_loads(&w);
    classify(&w, out->target);
    if (w.nusable == 0) {
        rc = 0; /* nowhere to place anything: change nothing */
        goto cleanup;
    }
    out->spread_before = fluid_spread(&w, &level);
    out->unfair_before = unfair(&w, &level);
    out->must_place = w.nmust;
    if (steps(&w, smallest_first, out) < 0)
        goto cleanup;

    for (size_t v = 0; v < in->nvcpus; v++) {
        if (in->vcpus[v].pin < 0 && !in->pin_floating)
            out->target[v] = -1; /* its place in the plan is the kernel's to take */
        if (out->target[v] >= 0 && out->target[v] != in->vcpus[v].pin)
            out->nmoves++;
    }
    out->spread_after = placement_spread(w.load, in->usable, w.np);
    out->usage_after = capped_spread(&w);
    out->act = out->nmoves > 0 &&
               (w.nmust > 0 || out->unfair_before || out->spread_before > in->threshold);
    for (int p = 0; p < w.np; p++)
        if ((!in->usable || in->usable[p]) && w.load[p] > out->max_after)
            out->max_after = w.load[p];
    out->lower_bound = lower_bound(&w, out->max_after);
    rc = 0;

cleanup:
    if (rc < 0)
        placement_plan_free(out);
    work_free(&w);
    return rc;
}

int placement_plan(const struct placement_input *in, struct placement_plan *out)
{
    struct placement_plan other;
    int np = in->npcpus > 0 ? in->npcpus : 0;

    if (plan_once(in, false, out) < 0)
        return -1;
    if (out->act) {
        if (plan_once(in, true, &other) < 0) {
            placement_plan_free(out);
            return -1;
        }
        if (other.act && other.nmoves < out->nmoves &&
            other.spread_after <= out->spread_after + in->threshold / 4) {
            placement_plan_free(out);
            *out = other;
        } else {
            placement_plan_free(&other);
        }
    }
    if (!out->act) {
        for (size_t v = 0; v < in->nvcpus; v++)
            out->target[v] = in->vcpus[v].pin >= 0 && in->vcpus[v].pin < np ? in->vcpus[v].pin : -1;
        out->nmoves = 0;
        out->spread_after = out->spread_before;
    }
    return 0;
}
