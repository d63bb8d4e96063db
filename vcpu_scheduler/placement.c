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
 *  5. decide: act only if a move remains and a vCPU must be pinned (stranded on an unusable
 *             pCPU, or floating when pin_floating), SMT doubling is undone, or the plan makes an
 *             unfair host fair or narrows a spread above the threshold, changing some pCPU's
 *             load beyond the estimates' noise (not a mirror); otherwise change nothing.
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

/* A floating vCPU the kernel places is planned in pieces of at most this demand. */
#define FLUID_PIECE      0.125
#define FLUID_PIECES_MAX 8

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
    bool fluid;                   /* a piece of a floating vCPU the kernel places */
    int group;                    /* its domain, or -1 */
    const unsigned char *allowed; /* pCPUs it may go to, or NULL: any usable one */
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
    struct placed *placed;  /* nvcpus: scratch for judging service */
    double *scratch3;       /* np doubles */
    size_t *bucket;         /* np + 1 */
    size_t *order;          /* nvcpus */
    size_t nall;            /* planned items in all */
    bool quotas;            /* class quotas apply (fairness by counts) */
    int *sib;               /* per pCPU: the next SMT sibling of its core (a ring), or NULL */
    size_t ngroups;         /* groups (domains) of the vCPUs */
    size_t *gstart, *gv;    /* vCPU indices by group: gv[gstart[g] .. gstart[g + 1]) */
};

/* True when pCPU P may take one more vCPU of class C. */
static bool has_room(const struct work *w, int p, int c)
{
    return w->count[(size_t)p * NCLASS + (size_t)c] < w->quota[c];
}

/* True when IT may be pinned to pCPU P (usable, allowed): an administrator's restriction. */
static bool allowed(const struct work *w, const struct item *it, int p)
{
    return (!w->in->usable || w->in->usable[p]) &&
           (!it->allowed || ((it->allowed[p / 8] >> (p % 8)) & 1));
}

/* True when IT may go to pCPU P: allowed there, with room in its class. */
static bool may_go(const struct work *w, const struct item *it, int p)
{
    return allowed(w, it, p) && has_room(w, p, it->cls);
}

static void count_add(struct work *w, int p, int c, int delta)
{
    w->count[(size_t)p * NCLASS + (size_t)c] += (unsigned)delta;
}

/* True when the host's demand exceeds its pCPUs on average: only then can vCPUs of equal demand
 * get unequal service on a balanced host (below, each gets its whole demand). */
static bool overcommitted(const struct work *w)
{
    return w->nusable > 0 && w->total > (double)w->nusable;
}

/* A floating vCPU the kernel places is planned as a fluid: small pieces, placed where there is
 * room like the rest, without a class (the kernel's placement is not ours to make fair). */
static void add_fluid(struct work *w, const struct item *it)
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

/* Sorts vCPUs into kept, pending (must place) and ignored (idle floating). */
static void classify(struct work *w, int *target)
{
    const struct placement_input *in = w->in;

    for (size_t v = 0; v < in->nvcpus; v++) {
        double d = in->vcpus[v].demand;
        int pin = in->vcpus[v].pin;
        struct item it;

        it.demand = isfinite(d) ? (d < 0 ? 0 : d > 1 ? 1 : d) : 0;
        it.allowed = in->vcpus[v].allowed;
        it.group = in->vcpus[v].group;
        it.origin = pin >= 0 && pin < w->np && allowed(w, &it, pin) ? pin : -1;
        it.cls = class_of(it.demand);
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
            add_fluid(w, &it);
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
        w->quota[c] = c == 0 || w->nusable == 0 || !w->quotas || !overcommitted(w)
                              ? UINT_MAX
                              : (w->quota[c] + (unsigned)w->nusable - 1) / (unsigned)w->nusable;
}

/* How step 1 chooses what each pCPU keeps. */
enum variant {
    KEEP_LARGEST,  /* its largest vCPUs that fit: the best balance when large ones must spread */
    KEEP_SMALLEST, /* its smallest ones: fewest moves when a pCPU sheds much of its load */
    KEEP_ALL,      /* everything: fewest moves when a few moves suffice (steps 2-4 only) */
    NVARIANTS
};

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

/* The load of the other threads of P's physical core (0 without SMT information). */
static double sibling_load(const struct work *w, int p)
{
    double l = 0;

    if (!w->sib)
        return 0;
    for (int q = w->sib[p]; q != p; q = w->sib[q])
        l += w->load[q];
    return l;
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
    return (w->in->core ? sibling_load(w, p) : 0) + (holds_group(w, it, p, target) ? 10 : 0);
}

/* The least loaded pCPU IT may go to, among the first heap entries, else among all pCPUs;
 * nearly equal loads go by tie_rank(). -1 when it may go nowhere. */
static int least_loaded(const struct work *w, const struct heap *minh, const struct item *it,
                        const int *target)
{
    int best = -1, lim = minh->n < QUOTA_SCAN ? minh->n : QUOTA_SCAN;
    double best_rank = 0;

    /* Nothing to break ties by: the top of the heap, when it may take IT. */
    if (lim > 0 && !w->in->core && it->group <= 0 && may_go(w, it, minh->h[0]))
        return minh->h[0];
    for (int k = 0; k < lim; k++) {
        int p = minh->h[k];
        double rank;
        if (!may_go(w, it, p))
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
            if ((pass ? allowed(w, it, p) : may_go(w, it, p)) &&
                (best < 0 || w->load[p] < w->load[best]))
                best = p;
    return best;
}

/* 2. place the pending vCPUs, largest first, on the least loaded pCPU with room in their
 * class (their own pCPU on ties). */
static void place(struct work *w, struct heap *minh, int *target)
{
    qsort(w->pending, w->npending, sizeof(*w->pending), by_demand_desc);
    for (size_t i = 0; i < w->npending && minh->n > 0; i++) {
        const struct item *it = &w->pending[i];
        int c = it->cls, p = least_loaded(w, minh, it, target), o = it->origin;
        if (o >= 0 && (p < 0 || w->load[o] <= w->load[p] + TIE) && has_room(w, o, c))
            p = o;
        if (p < 0)
            continue; /* nowhere it may go: it stays as it is */
        target[it->v] = p;
        w->load[p] += w->pending[i].demand;
        count_add(w, p, c, 1);
        heap_fix(minh, p);
    }
}

/* vCPUs of one pCPU considered for an exchange (bounds the cost of step 3 on crowded pCPUs). */
#define SWAP_SCAN 64

#define NONE ((size_t)-1)

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
    size_t *h = head_of(l, p, class_of(l->items[i].demand));

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
        *head_of(l, p, class_of(l->items[i].demand)) = l->next[i];
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
    count_add(l->w, from, it->cls, -1);
    count_add(l->w, to, it->cls, 1);
}

/* A good single move from HI to LO gaining at least the threshold, or NONE: the gain of moving
 * d is gap - |gap - 2d|, largest for d nearest gap / 2, so the buckets are searched outward
 * from that size, one ring past the first candidate. */
static size_t best_move(const struct lists *l, int hi, int lo, double gap)
{
    double best_gain = l->w->in->threshold;
    size_t best = NONE;
    int c0 = class_of(gap / 2), last = NCLASS;

    for (int r = 0; r < NCLASS && r <= last; r++) {
        for (int side = 0; side < 2; side++) {
            int b = side ? c0 + r : c0 - r;
            size_t i = b >= 0 && b < NCLASS && (side == 0 || r > 0) ? *head_of(l, hi, b) : NONE;
            for (int k = 0; i != NONE && k < MOVE_SCAN; i = l->next[i], k++) {
                double gain = gap - fabs(gap - 2 * l->items[i].demand);
                if (gain >= best_gain && may_go(l->w, &l->items[i], lo)) {
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
            if (delta <= 0 || !allowed(l->w, &items[i], lo) || !allowed(l->w, &items[j], hi) ||
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

/* The spread of the planned loads, from the sums L keeps. */
static double spread_of(const struct lists *l)
{
    double n = l->w->nusable, m = l->sum / n;

    return sqrt(fmax(0, l->sq / n - m * m));
}

/* 3. refine: move single vCPUs from the most to the least loaded pCPU while that narrows
 * their gap by at least the threshold, until the spread is within half the threshold. ITEMS
 * are all planned vCPUs. */
static int refine(struct work *w, struct heap *minh, struct item *items, size_t nitems, int *target)
{
    int np = w->np;
    struct lists l = {.w = w, .items = items, .target = target};
    struct heap maxh = {0};
    int rc = -1;

    l.head = malloc((size_t)(np > 0 ? np : 1) * NCLASS * sizeof(size_t));
    l.next = malloc((nitems ? nitems : 1) * sizeof(size_t));
    l.prev = malloc((nitems ? nitems : 1) * sizeof(size_t));
    if (!l.head || !l.next || !l.prev || heap_init(&maxh, np, w->in->usable, w->load, -1) < 0)
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

        /* Balanced enough (half the threshold): more moves would gain nothing users feel. */
        if (spread_of(&l) <= w->in->threshold / 2 || !refine_step(&l, hi, lo))
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

/* 4. prune: undo moves that narrow their gap by less than the threshold, or that the spread
 * does without, smallest first. ITEMS are all planned vCPUs. */
static void prune(struct work *w, const struct item *items, size_t nitems, int *target)
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
         * does without (it stays within half the threshold). */
        if (has_room(w, o, moved[i].cls) &&
            (fabs((lo + d) - (lt - d)) - fabs(lo - lt) < w->in->threshold ||
             sqrt(fmax(0, sq_undone / n - (sum / n) * (sum / n))) <= w->in->threshold / 2)) {
            w->load[o] += d;
            w->load[t] -= d;
            sq = sq_undone;
            count_add(w, t, moved[i].cls, -1);
            count_add(w, o, moved[i].cls, 1);
            target[moved[i].v] = o;
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
/* The loads now, with the floating demand as a fluid that raises the lowest ones together (the
 * kernel's placement), into L sorted ascending; returns how many (usable pCPUs), and the fluid's
 * level in *LEVEL_OUT (-INFINITY when there is none). */
static int fluid_levels(const struct work *w, double *l, double *level_out)
{
    const unsigned char *usable = w->in->usable;
    double left = w->floating, level;
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
    return n;
}

static double fluid_spread(const struct work *w, double *level_out)
{
    int n = fluid_levels(w, w->scratch, level_out);

    return placement_spread(w->scratch, NULL, n);
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

/* A vCPU placed on a pCPU, for judging service. */
struct placed {
    int p;
    int cls;
    double demand;
};

/* Sorts the K doubles of D ascending (insertion sort: a pCPU holds few vCPUs). */
static void sort_small(double *d, size_t k)
{
    if (k > 32) {
        qsort(d, k, sizeof(double), by_double);
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

    if (!overcommitted(w))
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

/* Unequal service now: the pinned vCPUs where they are, the floating demand poured up to
 * FLUID_LEVEL. */
static bool unfair_before(struct work *w, double fluid_level)
{
    struct placed *pl = w->placed;
    double *fluid = w->scratch;

    for (size_t i = 0; i < w->nkept; i++)
        pl[i] = (struct placed){w->kept[i].origin, w->kept[i].cls, w->kept[i].demand};
    for (int p = 0; p < w->np; p++)
        fluid[p] = fluid_level > w->before[p] ? fluid_level - w->before[p] : 0;
    return service_unfair(w, pl, w->nkept, fluid);
}

/* Unequal service as planned (NALL planned items in W->all, placed per TARGET). */
static bool unfair_after(struct work *w, size_t nall, const int *target)
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

/* The spread of min(1, load) after the plan: the pCPU usage the plan projects. */
static double capped_spread(const struct work *w, double *mean)
{
    double *u = w->scratch, sum = 0;
    int n = 0;

    for (int p = 0; p < w->np; p++) {
        u[p] = w->load[p] < 1 ? w->load[p] : 1;
        if (!w->in->usable || w->in->usable[p]) {
            sum += u[p];
            n++;
        }
    }
    *mean = n ? sum / n : 0;
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

static int link_siblings(struct work *w);
static int list_groups(struct work *w);
static int smt_repair(struct work *w, const struct item *items, size_t n, int *target);

/* Allocates W's arrays (and OUT's target) for IN; returns 0 or -1. */
static int work_alloc(struct work *w, const struct placement_input *in, struct placement_plan *out)
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
    return link_siblings(w) < 0 || list_groups(w) < 0 ? -1 : 0;
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
    free(w->placed);
    free(w->scratch3);
    free(w->bucket);
    free(w->order);
    free(w->all);
    free(w->sib);
    free(w->gstart);
    free(w->gv);
}

static const int *cmp_core; /* for by_core: qsort has no argument (set just before it) */

static int by_core(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    if (cmp_core[x] != cmp_core[y])
        return cmp_core[x] < cmp_core[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Links the pCPUs of each physical core in a ring (W->sib), when the input has cores. */
static int link_siblings(struct work *w)
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
static int steps(struct work *w, enum variant variant, struct placement_plan *out)
{
    const struct placement_input *in = w->in;
    struct heap minh = {0};
    size_t nall;
    int rc = -1;

    keep(w, variant == KEEP_ALL ? INFINITY : w->total / w->nusable, in->threshold / 2,
         variant == KEEP_SMALLEST);
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
    w->nall = nall;
    if (w->sib && smt_repair(w, w->all, nall, out->target) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    heap_free(&minh);
    return rc;
}

/* A pCPU this loaded runs a busy vCPU (two of them on sibling threads slow each other down:
 * a thread whose sibling is busy runs at about 0.65 of a core); one less loaded than IDLE is
 * idle (SMT). */
#define BUSY 0.75
#define IDLE 0.1

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

/* Busy threads beyond the first of each physical core, up to the number of idle cores: what
 * moving busy vCPUs onto idle cores would undo (0 without SMT information). */
static size_t doubled(const struct work *w, const double *load)
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
            if (may_go(w, it, q)) {
                idle_core[p] = 0;
                return q;
            }
            q = w->sib[q];
        } while (q != p);
    }
    return -1;
}

/* 5. SMT: busy vCPUs fill physical cores before sibling threads. For each core running two busy
 * vCPUs while another core is idle, one of them moves there (the thread loads stay the same:
 * the balance is untouched). */
static int smt_repair(struct work *w, const struct item *items, size_t n, int *target)
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
            count_add(w, t, items[i].cls, -1);
            count_add(w, to, items[i].cls, 1);
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

/* One planning run (steps 1-4) into OUT; VARIANT picks what step 1 keeps, QUOTAS whether class
 * quotas apply; FIRST (may be NULL) is an earlier run on the same input, whose view of the
 * present is reused. */
/* Estimated demand is uncertain in proportion to its size (a vCPU alone on a pCPU shows what it
 * runs, 90-99 % for one that wants it all, while two sharing one show exactly 100 %): a pCPU's
 * load differs from another's only by more than the threshold plus this fraction of it. */
#define DEMAND_NOISE 0.05

/* True when the plan changes some pCPU's load, rank for rank (both sorted; floating demand as the
 * kernel would spread it, on both sides), by more than the threshold and the noise of that load. A
 * plan that only mirrors the loads (three busy vCPUs on two pCPUs, 2+1 becoming 1+2) changes
 * nothing users feel, yet its estimated spread may look better: a lab run swapped such vCPUs back
 * and forth every few periods. */
static bool loads_change(const struct work *w)
{
    double *a = w->scratch, *b = w->scratch3, level;
    size_t n = (size_t)fluid_levels(w, a, &level), k = 0;

    for (int p = 0; p < w->np; p++)
        if (!w->in->usable || w->in->usable[p])
            b[k++] = w->load[p];
    qsort(b, k, sizeof(double), by_double);
    for (size_t i = 0; i < n && i < k; i++)
        if (fabs(a[i] - b[i]) >= w->in->threshold + DEMAND_NOISE * fmax(a[i], b[i]))
            return true;
    return false;
}

/* 5. decide: moves are worth it to pin what must be pinned, to undo SMT doubling, or to make an
 * unfair host fair or bring a spread above the threshold down by a quarter of the threshold at
 * least, while changing some pCPU's load beyond the noise (loads_change: not a mirror). */
static bool worth_acting(const struct work *w, const struct placement_plan *out)
{
    double th = w->in->threshold;
    bool fairer = out->unfair_before && !out->unfair_after;
    bool evener = out->spread_before > th && out->spread_after <= out->spread_before - th / 4;

    if (out->nmoves == 0)
        return false;
    if (w->nmust > 0 || out->doubled_after < out->doubled_before)
        return true;
    return (fairer || evener) && loads_change(w);
}

static int plan_once(const struct placement_input *in, enum variant variant, bool quotas,
                     const struct placement_plan *first, struct placement_plan *out)
{
    struct work w = {.in = in, .np = in->npcpus > 0 ? in->npcpus : 0, .quotas = quotas};
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
    if (first) { /* the same for every variant */
        out->spread_before = first->spread_before;
        out->unfair_before = first->unfair_before;
        out->doubled_before = first->doubled_before;
    } else {
        out->spread_before = fluid_spread(&w, &level);
        out->unfair_before = unfair_before(&w, level);
        out->doubled_before = doubled(&w, w.before);
    }
    out->must_place = w.nmust;
    if (steps(&w, variant, out) < 0)
        goto cleanup;

    out->unfair_after = unfair_after(&w, w.nall, out->target);
    for (size_t v = 0; v < in->nvcpus; v++) {
        if (in->vcpus[v].pin < 0 && !in->pin_floating)
            out->target[v] = -1; /* its place in the plan is the kernel's to take */
        if (out->target[v] >= 0 && out->target[v] != in->vcpus[v].pin)
            out->nmoves++;
    }
    out->spread_after = placement_spread(w.load, in->usable, w.np);
    out->usage_after = capped_spread(&w, &out->usage_mean);
    out->nusable = w.nusable;
    out->mean = w.nusable ? w.total / w.nusable : 0;
    out->doubled_after = doubled(&w, w.load);
    out->act = worth_acting(&w, out);
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

/* True when plan A is better than plan B: it acts where B does not; it is fair where B is not;
 * it needs fewer moves at a spread at most a quarter of the threshold worse; or its spread is
 * better by more than that. */
static bool better(const struct placement_plan *a, const struct placement_plan *b, double th)
{
    if (a->act != b->act)
        return a->act;
    if (!a->act)
        return false;
    if (a->unfair_after != b->unfair_after)
        return !a->unfair_after;
    if (a->nmoves < b->nmoves && a->spread_after <= b->spread_after + th / 4)
        return true;
    return a->spread_after < b->spread_after - th / 4;
}

/* Plans the variants from FIRST on (with or without class quotas) and keeps the best in OUT. */
static int try_variants(const struct placement_input *in, int first, bool quotas,
                        struct placement_plan *out)
{
    struct placement_plan other;

    for (int v = first; v < NVARIANTS; v++) {
        if (plan_once(in, (enum variant)v, quotas, out, &other) < 0)
            return -1;
        if (better(&other, out, in->threshold)) {
            placement_plan_free(out);
            *out = other;
        } else {
            placement_plan_free(&other);
        }
    }
    return 0;
}

int placement_plan(const struct placement_input *in, struct placement_plan *out)
{
    int np = in->npcpus > 0 ? in->npcpus : 0;

    if (plan_once(in, KEEP_LARGEST, false, NULL, out) < 0)
        return -1;
    /* The other variants, when there is anything to act on; class quotas (fairness by counts)
     * when no plan without them is fair. */
    if (out->must_place + out->unfair_before + out->doubled_before +
                (out->spread_before > in->threshold) >
        0) {
        if (try_variants(in, KEEP_SMALLEST, false, out) < 0 ||
            ((out->unfair_after || (!out->act && out->unfair_before)) &&
             try_variants(in, KEEP_LARGEST, true, out) < 0)) {
            placement_plan_free(out);
            return -1;
        }
    }
    if (!out->act) {
        for (size_t v = 0; v < in->nvcpus; v++)
            out->target[v] = in->vcpus[v].pin >= 0 && in->vcpus[v].pin < np ? in->vcpus[v].pin : -1;
        out->nmoves = 0;
        out->spread_after = out->spread_before;
        out->unfair_after = out->unfair_before;
        out->doubled_after = out->doubled_before;
    }
    return 0;
}
