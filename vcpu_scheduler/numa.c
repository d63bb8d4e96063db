/* NUMA-aware placement (pure).
 *
 * Each vCPU has a home node: the node its memory is bound to (a strict numatune), else the node
 * of the pCPU it is pinned to, else the node holding most of its guest's vCPUs; floating vCPUs
 * without one get the least loaded node (largest first). A node's load is the mean projected
 * load of its usable pCPUs. While the most loaded node exceeds the least loaded by more than the
 * threshold, the vCPU of the first that best narrows the gap moves its home to the second
 * (floating ones first: they cost no pin change; vCPUs bound to their node never). Then each
 * node is planned on its own pCPUs with the flat policy; a vCPU given a new home is stranded
 * there and placed. The plans' figures are merged over the whole host.
 */
#define _GNU_SOURCE
#include "numa.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The pieces of one plan: per node and in all. */
struct state {
    const struct numa_input *in;
    int np, nnodes;
    size_t nv;
    double *load;   /* per node: background and home demand */
    int *cap;       /* per node: usable pCPUs */
    double *demand; /* per vCPU, sanitised */
};

static double clamp01(double d)
{
    return isfinite(d) ? (d < 0 ? 0 : d > 1 ? 1 : d) : 0;
}

static bool usable(const struct placement_input *f, int p)
{
    return !f->usable || f->usable[p];
}

/* True when vCPU V may run somewhere on node N. */
static bool fits_node(const struct state *S, size_t v, int n)
{
    const struct placement_input *f = S->in->flat;
    const unsigned char *a = f->vcpus[v].allowed;

    if (!a)
        return S->cap[n] > 0;
    for (int p = 0; p < S->np; p++)
        if (S->in->node[p] == n && usable(f, p) && (!a || ((a[p / 8] >> (p % 8)) & 1)))
            return true;
    return false;
}

static double avg(const struct state *S, int n)
{
    return S->load[n] / S->cap[n];
}

/* The usable node of lowest (LOWEST) or highest mean load that vCPU V fits (V: (size_t)-1 for
 * any), or -1. */
static int extreme_node(const struct state *S, bool lowest, size_t v)
{
    int best = -1;

    for (int n = 0; n < S->nnodes; n++) {
        if (S->cap[n] == 0 || (v != (size_t)-1 && !fits_node(S, v, n)))
            continue;
        if (best < 0 || (lowest ? avg(S, n) < avg(S, best) : avg(S, n) > avg(S, best)))
            best = n;
    }
    return best;
}

static int by_demand_desc(const void *a, const void *b, void *arg)
{
    const double *d = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return d[x] > d[y] ? -1 : d[x] < d[y] ? 1 : (x > y) - (x < y);
}

/* Node loads from the background and the homes; homeless floating vCPUs with demand get the
 * least loaded node they fit, largest first. */
static int home_all(struct state *S)
{
    const struct placement_input *f = S->in->flat;
    size_t *order = malloc((S->nv ? S->nv : 1) * sizeof(size_t)), n = 0;

    if (!order)
        return -1;
    for (int p = 0; p < S->np; p++)
        if (usable(f, p)) {
            S->cap[S->in->node[p]]++;
            S->load[S->in->node[p]] += f->background ? fmax(0, f->background[p]) : 0;
        }
    for (size_t v = 0; v < S->nv; v++) {
        int h = S->in->home[v];
        S->demand[v] = clamp01(f->vcpus[v].demand);
        if (h >= 0 && h < S->nnodes && S->cap[h] > 0)
            S->load[h] += S->demand[v];
        else if (S->demand[v] >= PLACEMENT_MIN_DEMAND || f->vcpus[v].pin >= 0)
            order[n++] = v;
        else
            S->in->home[v] = -1;
    }
    qsort_r(order, n, sizeof(size_t), by_demand_desc, S->demand);
    for (size_t i = 0; i < n; i++) {
        int to = extreme_node(S, true, order[i]);
        S->in->home[order[i]] = to;
        if (to >= 0)
            S->load[to] += S->demand[order[i]];
    }
    free(order);
    return 0;
}

/* The vCPU homed at H that best narrows the gap to L when moved there, or (size_t)-1. */
static size_t best_crossing(const struct state *S, int h, int l)
{
    const struct placement_input *f = S->in->flat;
    double gap = avg(S, h) - avg(S, l), best_gap = gap;
    size_t best = (size_t)-1;
    bool best_floating = false;

    for (size_t v = 0; v < S->nv; v++) {
        double d = S->demand[v], after;
        bool floating = f->vcpus[v].pin < 0;
        if (S->in->home[v] != h || S->in->strict[v] || d <= 0 || !fits_node(S, v, l))
            continue;
        after = fabs((S->load[h] - d) / S->cap[h] - (S->load[l] + d) / S->cap[l]);
        /* Floating ones first (free); then whichever narrows the gap most. */
        if (after < gap - 1e-9 &&
            ((floating && !best_floating) || (floating == best_floating && after < best_gap))) {
            best = v;
            best_gap = after;
            best_floating = floating;
        }
    }
    return best;
}

/* Moves homes from the most to the least loaded node while they differ by more than the
 * threshold. */
static void cross(struct state *S, struct numa_result *r)
{
    for (size_t iter = 0; iter < S->nv; iter++) {
        int h = extreme_node(S, false, (size_t)-1), l = extreme_node(S, true, (size_t)-1);
        size_t v;
        if (h < 0 || l < 0 || h == l || avg(S, h) - avg(S, l) <= S->in->flat->threshold)
            return;
        v = best_crossing(S, h, l);
        if (v == (size_t)-1)
            return;
        S->load[h] -= S->demand[v];
        S->load[l] += S->demand[v];
        S->in->home[v] = l;
        r->crossed++;
    }
}

/* Running sums for merging spreads over nodes: sum of n, of n * mean, of n * (sd^2 + mean^2). */
struct moments {
    double n, m, q;
};

static void add_moments(struct moments *mo, double n, double mean, double sd)
{
    mo->n += n;
    mo->m += n * mean;
    mo->q += n * (sd * sd + mean * mean);
}

static double merged_sd(const struct moments *mo)
{
    double mean = mo->n > 0 ? mo->m / mo->n : 0;
    return mo->n > 0 ? sqrt(fmax(0, mo->q / mo->n - mean * mean)) : 0;
}

/* Merges node plan PN (its vCPUs IDX[0..k-1] of the flat input) into OUT. */
static void merge(struct placement_plan *out, const struct placement_plan *pn, const size_t *idx,
                  size_t k, struct moments mo[3])
{
    for (size_t i = 0; i < k; i++)
        out->target[idx[i]] = pn->target[i];
    out->nmoves += pn->act ? pn->nmoves : 0;
    out->must_place += pn->must_place;
    out->lower_bound += pn->act ? pn->lower_bound : 0;
    out->act = out->act || pn->act;
    out->unfair_before = out->unfair_before || pn->unfair_before;
    out->unfair_after = out->unfair_after || (pn->act ? pn->unfair_after : pn->unfair_before);
    out->doubled_before += pn->doubled_before;
    out->doubled_after += pn->act ? pn->doubled_after : pn->doubled_before;
    out->max_after = fmax(out->max_after, pn->max_after);
    add_moments(&mo[0], pn->nusable, pn->mean, pn->spread_before);
    add_moments(&mo[1], pn->nusable, pn->mean, pn->act ? pn->spread_after : pn->spread_before);
    add_moments(&mo[2], pn->nusable, pn->usage_mean, pn->usage_after);
}

/* Scratch of one node's plan: its usable pCPUs, and its vCPUs (IDX[i] in the flat input is
 * SUB[i]; K of them). */
struct node_scratch {
    unsigned char *usable;
    size_t *idx;
    struct placement_vcpu *sub;
    size_t k;
};

/* Plans node N into PN: its usable pCPUs and the vCPUs homed there. */
static int plan_node(const struct state *S, int n, struct node_scratch *ns,
                     struct placement_plan *pn)
{
    const struct placement_input *f = S->in->flat;
    struct placement_input in = *f;

    ns->k = 0;
    for (int p = 0; p < S->np; p++)
        ns->usable[p] = usable(f, p) && S->in->node[p] == n;
    for (size_t v = 0; v < S->nv; v++)
        if (S->in->home[v] == n) {
            ns->idx[ns->k] = v;
            ns->sub[ns->k++] = f->vcpus[v];
        }
    in.usable = ns->usable;
    in.vcpus = ns->sub;
    in.nvcpus = ns->k;
    return placement_plan(&in, pn);
}

static int plan_nodes(struct state *S, struct placement_plan *out)
{
    size_t nv1 = S->nv ? S->nv : 1;
    struct node_scratch ns = {.usable = malloc((size_t)(S->np ? S->np : 1)),
                              .idx = malloc(nv1 * sizeof(size_t)),
                              .sub = malloc(nv1 * sizeof(struct placement_vcpu))};
    struct moments mo[3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    int rc = -1;

    if (!ns.usable || !ns.idx || !ns.sub)
        goto cleanup;
    for (size_t v = 0; v < S->nv; v++)
        out->target[v] = S->in->flat->vcpus[v].pin >= 0 ? S->in->flat->vcpus[v].pin : -1;
    for (int n = 0; n < S->nnodes; n++) {
        struct placement_plan pn;
        if (S->cap[n] == 0)
            continue;
        if (plan_node(S, n, &ns, &pn) < 0)
            goto cleanup;
        merge(out, &pn, ns.idx, ns.k, mo);
        placement_plan_free(&pn);
    }
    out->spread_before = merged_sd(&mo[0]);
    out->spread_after = merged_sd(&mo[1]);
    out->usage_after = merged_sd(&mo[2]);
    out->nusable = (int)mo[0].n;
    out->mean = mo[0].n > 0 ? mo[0].m / mo[0].n : 0;
    out->usage_mean = mo[2].n > 0 ? mo[2].m / mo[2].n : 0;
    rc = 0;
cleanup:
    free(ns.usable);
    free(ns.idx);
    free(ns.sub);
    return rc;
}

int numa_plan(const struct numa_input *in, struct placement_plan *out, struct numa_result *r)
{
    const struct placement_input *f = in->flat;
    struct state S = {.in = in, .np = f->npcpus > 0 ? f->npcpus : 0, .nv = f->nvcpus};
    int rc = -1, nodes = 0;

    memset(r, 0, sizeof(*r));
    memset(out, 0, sizeof(*out));
    for (int p = 0; p < S.np; p++)
        if (usable(f, p) && in->node[p] + 1 > S.nnodes)
            S.nnodes = in->node[p] + 1;
    S.load = calloc((size_t)(S.nnodes ? S.nnodes : 1), sizeof(double));
    S.cap = calloc((size_t)(S.nnodes ? S.nnodes : 1), sizeof(int));
    S.demand = calloc(S.nv ? S.nv : 1, sizeof(double));
    out->target = malloc((S.nv ? S.nv : 1) * sizeof(int));
    if (!S.load || !S.cap || !S.demand || !out->target || home_all(&S) < 0)
        goto cleanup;
    for (int n = 0; n < S.nnodes; n++)
        nodes += S.cap[n] > 0;
    r->nnodes = nodes;
    if (nodes <= 1) {
        /* One node: the flat policy, as it is. */
        free(out->target);
        rc = placement_plan(f, out);
        goto cleanup;
    }
    cross(&S, r);
    rc = plan_nodes(&S, out);
cleanup:
    if (rc < 0)
        placement_plan_free(out);
    free(S.load);
    free(S.cap);
    free(S.demand);
    return rc;
}
