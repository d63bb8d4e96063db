/* The figures that calibrate the fake host's CPU model on recorded hosts
 * (docs/EVIDENCE.md#fake-run-queue).
 *
 * In a window, a vCPU pinned to one pCPU ran `run` and waited `delay` (fractions of the window);
 * the other tasks of its pCPU ran the pCPU's busy time less the runs of the vCPUs pinned there.
 * A busy vCPU is runnable all the time (run + delay near 1); two busy vCPUs sharing a pCPU split
 * it unevenly; a part-time vCPU (a duty cycle by the wall clock) is runnable for its duty and
 * also while it waits, at each wake-up, to be put back on its pCPU: that excess, per unit it
 * ran, grows with the pressure of the other tasks of its pCPU, their load over what they leave
 * (others / (1 - others), as the time a task takes grows on a shared processor). */
#include "cpucal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* vCPU run time is accounted in steps of this many ns. */
#define STEP_NS 10000000ull

/* A part-time vCPU's excess is measured only when it ran at least this much of the window. */
#define MIN_RUN 0.05

/* Windows of at most this many pCPUs are judged. */
#define MAX_PCPUS 64

double cpucal_pressure(double others)
{
    double o = others < 0 ? 0 : others > CPUCAL_MAX_OTHERS ? CPUCAL_MAX_OTHERS : others;

    return o / (1 - o);
}

static int push(double **v, size_t *n, size_t *cap, double x)
{
    if (util_grow((void **)v, cap, *n + 1, sizeof(**v)) < 0)
        return -1;
    (*v)[(*n)++] = x;
    return 0;
}

/* The duty of domain NAME's vCPUs; -1 when the workloads do not say. */
static double duty_of(const struct cpucal *c, const char *name)
{
    for (const struct cpucal_duty *d = c->duties; d && d->name; d++)
        if (strcmp(d->name, name) == 0)
            return d->duty;
    return -1;
}

/* The domain of A called NAME, or NULL. */
static const struct snap_domain *find(const struct snap *a, const char *name)
{
    for (size_t i = 0; i < snap_domain_count(a); i++)
        if (strcmp(snap_domain_name(a, snap_domain(a, i)), name) == 0)
            return snap_domain(a, i);
    return NULL;
}

/* One vCPU of a window: where it was pinned, what it ran and waited, its duty. */
struct wv {
    int p;
    double run, delay, duty;
};

/* The vCPUs of the window A..B pinned to one pCPU in both, into OUT (at most MAX); returns
 * how many. */
static size_t window_vcpus(const struct cpucal *c, const struct snap *a, const struct snap *b,
                           double dt, struct wv *out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < snap_domain_count(b); i++) {
        const struct snap_domain *db = snap_domain(b, i);
        const char *name = snap_domain_name(b, db);
        const struct snap_domain *da = find(a, name);
        for (uint32_t k = 0; da && k < db->nvcpus && k < da->nvcpus && n < max; k++) {
            const struct snap_vcpu *vb = &snap_vcpus(b, db)[k], *va = &snap_vcpus(a, da)[k];
            if (vb->pin < 0 || vb->pin != va->pin || vb->pin >= snap_npcpus(b) ||
                vb->time_ns < va->time_ns || vb->delay_ns < va->delay_ns)
                continue;
            out[n++] =
                    (struct wv){vb->pin, (double)(vb->time_ns - va->time_ns) / 1e9 / dt,
                                (double)(vb->delay_ns - va->delay_ns) / 1e9 / dt, duty_of(c, name)};
        }
    }
    return n;
}

/* The figures of pCPU P in a window: its vCPUs V (N of them) and its busy fraction BUSY. */
static int pcpu_figures(struct cpucal *c, const struct wv *v, size_t n, int p, double busy)
{
    double others = busy, runs[2];
    size_t nbusy = 0, npart = 0, part = 0;

    for (size_t i = 0; i < n; i++) {
        if (v[i].p != p)
            continue;
        others -= v[i].run;
        if (v[i].duty >= 1) {
            if (nbusy < 2)
                runs[nbusy] = v[i].run;
            nbusy++;
            if (push(&c->busy_sum, &c->nbusy, &c->cap_busy, v[i].run + v[i].delay) < 0)
                return -1;
        } else if (v[i].duty > 0) {
            npart++;
            part = i;
        }
    }
    if (nbusy == 2 && npart == 0 && runs[0] + runs[1] > 0.02 &&
        push(&c->split, &c->nsplit, &c->cap_split, fabs(runs[0] - runs[1]) / (runs[0] + runs[1])) <
                0)
        return -1;
    if (npart == 1 && nbusy == 0 && v[part].run >= MIN_RUN) {
        double ex = (v[part].run + v[part].delay - v[part].duty) / v[part].run;
        size_t n_others = c->nexcess;
        if (push(&c->excess, &c->nexcess, &c->cap_excess, ex) < 0 ||
            push(&c->others, &n_others, &c->cap_others, others > 0 ? others : 0) < 0)
            return -1;
    }
    return 0;
}

int cpucal_window(struct cpucal *c, const struct snap *a, const struct snap *b)
{
    double dt = ((double)snap_time_ns(b) - (double)snap_time_ns(a)) / 1e9;
    size_t nv = snap_vcpu_count(b), n;
    struct wv *v;
    int rc = 0;

    if (dt <= 0 || nv == 0 || snap_npcpus(b) > MAX_PCPUS || snap_npcpus(a) != snap_npcpus(b))
        return 0;
    v = malloc(nv * sizeof(*v));
    if (!v)
        return -1;
    n = window_vcpus(c, a, b, dt, v, nv);
    for (int p = 0; p < snap_npcpus(b) && rc == 0; p++) {
        double busy = ((double)snap_pcpu_busy(b, p) - (double)snap_pcpu_busy(a, p)) / 1e9 / dt;
        rc = pcpu_figures(c, v, n, p, busy);
    }
    free(v);
    return rc;
}

void cpucal_steps(struct cpucal *c, const struct snap *a, const struct snap *b)
{
    for (size_t i = 0; i < snap_domain_count(b); i++) {
        const struct snap_domain *db = snap_domain(b, i);
        const struct snap_domain *da = find(a, snap_domain_name(b, db));
        for (uint32_t k = 0; da && k < db->nvcpus && k < da->nvcpus; k++) {
            uint64_t tb = snap_vcpus(b, db)[k].time_ns, ta = snap_vcpus(a, da)[k].time_ns;
            if (tb <= ta)
                continue;
            c->steps++;
            c->steps_whole += (tb - ta) % STEP_NS == 0;
        }
    }
}

bool cpucal_fit(const struct cpucal *c, double *wake, double *queue)
{
    double n = (double)c->nexcess, sx = 0, sy = 0, sxx = 0, sxy = 0, den;

    if (c->nexcess < 2)
        return false;
    for (size_t i = 0; i < c->nexcess; i++) {
        double x = cpucal_pressure(c->others[i]);
        sx += x;
        sy += c->excess[i];
        sxx += x * x;
        sxy += x * c->excess[i];
    }
    den = n * sxx - sx * sx;
    *queue = fabs(den) > 1e-12 ? (n * sxy - sx * sy) / den : 0;
    *wake = (sy - *queue * sx) / n;
    return true;
}

double cpucal_fit_queue(const struct cpucal *c)
{
    double sxx = 0, sxy = 0;

    for (size_t i = 0; i < c->nexcess; i++) {
        double x = cpucal_pressure(c->others[i]);
        sxx += x * x;
        sxy += x * c->excess[i];
    }
    return sxx > 0 ? sxy / sxx : 0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cpucal_excess_median(const struct cpucal *c, double level, bool above)
{
    double *v = malloc((c->nexcess ? c->nexcess : 1) * sizeof(*v)), m = -1;
    size_t n = 0;

    if (!v)
        return -1;
    for (size_t i = 0; i < c->nexcess; i++)
        if ((c->others[i] >= level) == above)
            v[n++] = c->excess[i];
    if (n > 0) {
        qsort(v, n, sizeof(*v), by_value);
        m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
    free(v);
    return m;
}

void cpucal_free(struct cpucal *c)
{
    const struct cpucal_duty *duties = c->duties;

    free(c->busy_sum);
    free(c->split);
    free(c->excess);
    free(c->others);
    memset(c, 0, sizeof(*c));
    c->duties = duties;
}
