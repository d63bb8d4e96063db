/* A guest's busy vCPUs unstacked: two busy vCPUs of one guest pinned to one pCPU while another
 * pCPU they may use holds fewer busy vCPUs wait for each other for nothing, and the guest gets
 * less than guests whose vCPUs are apart (the lab's cpu-churn: docs/EVIDENCE.md#stacked-guest).
 * One of them moves there, even when the loads only mirror: balance by demand is no worse; and
 * where the plan moves a vCPU of a demand alike off their pCPU, one of them goes instead. The one
 * that moves is one the plan brings there (its move is taken back), else one not sticky. */
#include "placement_work.h"

#include <math.h>
#include <stdlib.h>

/* A vCPU this busy counts in the busy vCPUs of its pCPU. */
#define STACK_BUSY 0.5

/* A planned busy vCPU of a guest: its index, guest and planned pCPU. */
struct member {
    size_t v;
    int group, p;
};

static int by_group_pcpu(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* The planned pCPU of vCPU V: its target, else its pin (-1: floating, the kernel's). */
static int planned(const struct placement_input *in, const struct placement_plan *out, size_t v)
{
    return out->target[v] >= 0 ? out->target[v] : in->vcpus[v].pin;
}

/* The pCPU with the fewest busy vCPUs (COUNT) that vCPU V may go to, fewer than FROM holds and
 * holding none of its guest (MEMBERS[first .. last)); -1 when there is none. */
static int fewer(const struct placement_input *in, const struct placement_plan *out,
                 const unsigned *count, size_t v, int from, const struct member *m, size_t first,
                 size_t last)
{
    const struct placement_vcpu *pv = &in->vcpus[v];
    int best = -1;

    for (int q = 0; q < in->npcpus; q++) {
        bool mine = false;
        if (q == from || count[q] >= count[from] || (in->usable && !in->usable[q]) ||
            (pv->allowed && !((pv->allowed[q / 8] >> (q % 8)) & 1)))
            continue;
        for (size_t k = first; k < last && !mine; k++)
            mine = planned(in, out, m[k].v) == q;
        if (!mine && (best < 0 || count[q] < count[best]))
            best = q;
    }
    return best;
}

/* A vCPU the plan moves off pCPU FROM to a pCPU holding none of the guest of MEMBERS[first ..
 * last), of a demand alike vCPU V's and not of its guest: V can go in its place, the same
 * number of moves. Its index, or NONE. */
static size_t leaving(const struct placement_input *in, const struct placement_plan *out, size_t v,
                      int from, const struct member *m, size_t first, size_t last)
{
    const struct placement_vcpu *pv = &in->vcpus[v];

    for (size_t u = 0; u < in->nvcpus; u++) {
        const struct placement_vcpu *pu = &in->vcpus[u];
        int q = out->target[u];
        bool mine = false;
        if (pu->pin != from || q < 0 || q == from || pu->group == pv->group ||
            fabs(pu->demand - pv->demand) >
                    in->threshold + DEMAND_NOISE * fmax(pu->demand, pv->demand) ||
            (pv->allowed && !((pv->allowed[q / 8] >> (q % 8)) & 1)))
            continue;
        for (size_t k = first; k < last && !mine; k++)
            mine = planned(in, out, m[k].v) == q;
        if (!mine)
            return u;
    }
    return NONE;
}

/* Plans vCPU V onto pCPU Q, keeping OUT's count of moves. */
static void retarget(const struct placement_input *in, struct placement_plan *out, size_t v, int q)
{
    int pin = in->vcpus[v].pin;

    out->nmoves -= out->target[v] >= 0 && out->target[v] != pin;
    out->target[v] = q;
    out->nmoves += q >= 0 && q != pin;
}

/* True when member M may move off the pCPU it is planned on: it is still there and not sticky. */
static bool movable(const struct placement_input *in, const struct placement_plan *out,
                    const struct member *m)
{
    return planned(in, out, m->v) == m->p && !in->vcpus[m->v].sticky;
}

/* Which of two members of a guest planned on one pCPU, A before B, moves apart: one the plan
 * brings there (moving it elsewhere costs no move more), else B, else A; a sticky one stays
 * where it is. NULL when neither may move. */
static const struct member *mover(const struct placement_input *in,
                                  const struct placement_plan *out, const struct member *a,
                                  const struct member *b)
{
    bool ma = movable(in, out, a), mb = movable(in, out, b);

    if (ma && in->vcpus[a->v].pin != a->p && !(mb && in->vcpus[b->v].pin != b->p))
        return a;
    return mb ? b : ma ? a : NULL;
}

/* Moves vCPUs of the runs of one guest on one pCPU in M (N members) apart, per COUNT: to a pCPU
 * with fewer busy vCPUs, or in the place of a vCPU of its class the plan moves away. */
static void unstack(const struct placement_input *in, struct placement_plan *out, unsigned *count,
                    const struct member *m, size_t n)
{
    for (size_t g = 0; g < n;) {
        size_t end = g;
        while (end < n && m[end].group == m[g].group)
            end++;
        for (size_t k = g + 1; k < end; k++) {
            const struct member *mv;
            size_t v;
            int q, from;
            if (m[k].p != m[k - 1].p || !(mv = mover(in, out, &m[k - 1], &m[k])))
                continue;
            v = mv->v;
            from = mv->p;
            q = fewer(in, out, count, v, from, m, g, end);
            if (q < 0) {
                size_t u = leaving(in, out, v, from, m, g, end);
                if (u == NONE)
                    continue;
                retarget(in, out, v, out->target[u]);
                retarget(in, out, u, from); /* it stays: V leaves instead */
                continue;
            }
            retarget(in, out, v, q);
            count[from]--;
            count[q]++;
        }
        g = end;
    }
}

int stack_spread(const struct placement_input *in, struct placement_plan *out)
{
    int np = in->npcpus > 0 ? in->npcpus : 0;
    unsigned *count = calloc((size_t)(np ? np : 1), sizeof(*count));
    struct member *m = malloc((in->nvcpus ? in->nvcpus : 1) * sizeof(*m));
    size_t n = 0;

    if (!count || !m) {
        free(count);
        free(m);
        return -1;
    }
    for (size_t v = 0; v < in->nvcpus; v++) {
        int p = planned(in, out, v);
        if (in->vcpus[v].demand < STACK_BUSY || p < 0 || p >= np)
            continue;
        count[p]++;
        if (in->vcpus[v].group > 0 && in->vcpus[v].pin >= 0)
            m[n++] = (struct member){v, in->vcpus[v].group, p};
    }
    qsort(m, n, sizeof(*m), by_group_pcpu);
    unstack(in, out, count, m, n);
    out->act = out->nmoves > 0;
    free(count);
    free(m);
    return 0;
}
