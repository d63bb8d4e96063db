/* Usage between two snapshots (pure). */
#include "usage.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void usage_init(struct usage *u)
{
    memset(u, 0, sizeof(*u));
}

void usage_free(struct usage *u)
{
    free(u->pcpu_busy);
    free(u->vcpus);
    free(u->dom_prev);
    usage_init(u);
}

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* Fraction of DT_NS represented by the counter going from A to B, unclamped; -1 when it went
 * back. */
static double counter_growth(uint64_t a, uint64_t b, double dt_ns)
{
    if (b < a)
        return -1;
    return (double)(b - a) / dt_ns;
}

/* The same, clamped to 0..1. */
static double counter_fraction(uint64_t a, uint64_t b, double dt_ns)
{
    double f = counter_growth(a, b, dt_ns);

    return f < 0 ? -1 : clamp01(f);
}

/* The fraction of DT_NS a vCPU's optional counter (FLAG: wait or delay) grew from P to C into
 * *OUT (at most 1) and its growth beyond DT_NS into *LATE; false when either sample lacks it or
 * it went back. */
static bool counter(const struct snap_vcpu *p, const struct snap_vcpu *c, unsigned flag,
                    double dt_ns, double *out, double *late)
{
    double f;

    if (!(p->flags & c->flags & flag))
        return false;
    f = flag == SNAP_VCPU_WAIT ? counter_growth(p->wait_ns, c->wait_ns, dt_ns)
                               : counter_growth(p->delay_ns, c->delay_ns, dt_ns);
    if (f < 0)
        return false;
    *out = clamp01(f);
    *late = f > 1 ? f - 1 : 0;
    return true;
}

int usage_from_snapshots(const struct snap *prev, const struct snap *cur, struct usage *u)
{
    size_t nd = snap_domain_count(cur), nv = snap_vcpu_count(cur);
    int np = snap_npcpus(cur);
    double dt_ns = 0;

    if (util_grow((void **)&u->pcpu_busy, &u->cap_pcpu, (size_t)np, sizeof(double)) < 0 ||
        util_grow((void **)&u->vcpus, &u->cap_vcpu, nv ? nv : 1, sizeof(struct usage_vcpu)) < 0 ||
        util_grow((void **)&u->dom_prev, &u->cap_dom, nd ? nd : 1, sizeof(long)) < 0)
        return -1;
    u->npcpus = np;
    u->nvcpus = nv;
    u->ndomains = nd;
    memset(u->pcpu_busy, 0, (size_t)np * sizeof(double));
    for (size_t i = 0; i < nv; i++)
        u->vcpus[i] = (struct usage_vcpu){.prev = -1};
    if (prev && snap_time_ns(cur) > snap_time_ns(prev))
        dt_ns = (double)(snap_time_ns(cur) - snap_time_ns(prev));
    u->interval_s = dt_ns / 1e9;

    u->has_pcpu = dt_ns > 0 && snap_has_pcpu(prev) && snap_has_pcpu(cur) && snap_npcpus(prev) == np;
    for (int c = 0; u->has_pcpu && c < np; c++) {
        double f = counter_fraction(snap_pcpu_busy(prev, c), snap_pcpu_busy(cur, c), dt_ns);
        if (f < 0)
            u->has_pcpu = false;
        else
            u->pcpu_busy[c] = f;
    }

    snap_match(dt_ns > 0 ? prev : NULL, cur, u->dom_prev);
    for (size_t i = 0; i < nd; i++) {
        const struct snap_domain *d = snap_domain(cur, i);
        const struct snap_domain *pd;
        const struct snap_vcpu *cv, *pv;

        if (u->dom_prev[i] < 0)
            continue;
        pd = snap_domain(prev, (size_t)u->dom_prev[i]);
        cv = snap_vcpus(cur, d);
        pv = snap_vcpus(prev, pd);
        for (uint32_t k = 0; k < d->nvcpus && k < pd->nvcpus; k++) {
            struct usage_vcpu *uv = &u->vcpus[d->vcpu_first + k];
            double run = counter_fraction(pv[k].time_ns, cv[k].time_ns, dt_ns);

            if (run < 0)
                continue; /* counter reset: the domain restarted under the same UUID */
            uv->run = run;
            uv->prev = (long)pd->vcpu_first + (long)k;
            uv->valid = true;
            uv->has_wait =
                    counter(&pv[k], &cv[k], SNAP_VCPU_WAIT, dt_ns, &uv->wait, &uv->wait_late);
            uv->has_delay =
                    counter(&pv[k], &cv[k], SNAP_VCPU_DELAY, dt_ns, &uv->delay, &uv->delay_late);
        }
    }
    return 0;
}
