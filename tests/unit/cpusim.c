/* The closed-loop harness of the scheduler tests (see cpusim.h). */
#include "cpusim.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static int step(void *ctx, struct hv *hv, const struct snap *prev, const struct snap *cur,
                unsigned long calls)
{
    struct cpusim *m = ctx;
    struct sched_report rep;

    ck_assert_int_eq(sched_period(m->s, hv, prev, cur, calls, &rep), 0);
    for (size_t d = 0; d < snap_domain_count(cur); d++) {
        const unsigned char *u = snap_domain(cur, d)->uuid;
        int id = (u[12] << 24) | (u[13] << 16) | (u[14] << 8) | u[15];
        if (id < 64 && m->first_seen[id] == 0)
            m->first_seen[id] = m->period + 1;
        if (id < 64)
            m->emulator[id] = rep.emulator ? rep.emulator[d] : -1;
    }
    for (size_t i = 0; i < rep.nmoves; i++) {
        const unsigned char *u = snap_domain(cur, rep.moves[i].domain)->uuid;
        int id = (u[12] << 24) | (u[13] << 16) | (u[14] << 8) | u[15];
        if (id < 64 && m->first_seen[id] == m->period + 1)
            m->moved_new_domain = true;
        if (rep.moves[i].result == HV_GONE)
            m->gone++;
    }
    m->failed += rep.failed;
    m->crossed += rep.crossed;
    m->emulator_pins += rep.emulator_pins;
    m->nlast = rep.nmoves < 64 ? rep.nmoves : 64;
    memcpy(m->last_moves, rep.moves, m->nlast * sizeof(*rep.moves));
    if (m->period + 1 <= CPUSIM_MAXP) {
        m->moves[m->period + 1] = rep.nmoves;
        m->bound[m->period + 1] = rep.lower_bound;
    }
    return 0;
}

void cpusim_init_cfg(struct cpusim *m, int npcpus, int mode, const struct sched_config *cfg)
{
    struct runner_config rc = {.period_s = 1, .what = HV_SAMPLE_CPU};

    memset(m, 0, sizeof(*m));
    m->f = fake_create(npcpus, 64ull << 30, 0);
    ck_assert(m->f);
    fake_set_signal(m->f, (enum fake_signal)mode);
    m->cfg = *cfg;
    if (m->cfg.threshold <= 0)
        m->cfg.threshold = 0.05;
    m->s = sched_create(&m->cfg);
    m->r = runner_create(&rc, fake_hv(m->f), step, m);
    ck_assert(m->f && m->s && m->r);
}

/* Every closed-loop test runs once per signal mode of the fake host (the loop index). */
void cpusim_init(struct cpusim *m, int npcpus, bool dry_run, int mode)
{
    struct sched_config cfg = {.threshold = 0.05, .dry_run = dry_run, .restore_pins = true};

    cpusim_init_cfg(m, npcpus, mode, &cfg);
}

void cpusim_free(struct cpusim *m)
{
    runner_destroy(m->r);
    sched_destroy(m->s);
    fake_destroy(m->f);
}

/* Runs periods up to and including period N. */
void cpusim_run(struct cpusim *m, int n)
{
    while (m->period < n) {
        if (m->period > 0)
            fake_advance(m->f, 1.0);
        m->sd[m->period + 1] = m->period > 0 ? fake_usage_spread(m->f) : 0;
        ck_assert_int_eq(runner_tick(m->r), RUNNER_CONTINUE);
        m->period++;
    }
}

size_t cpusim_moves(const struct cpusim *m, int from, int to)
{
    size_t n = 0;
    for (int p = from; p <= to; p++)
        n += m->moves[p];
    return n;
}

/* Adds N one-vCPU domains with DEMAND, pinned to PIN (-1: floating); returns the first id. */
int cpusim_add_busy(struct cpusim *m, int n, double demand, int pin)
{
    int first = -1;

    for (int i = 0; i < n; i++) {
        char name[32];
        int id;
        snprintf(name, sizeof(name), "g%d", i);
        id = fake_add_domain(m->f, name, 1);
        fake_set_demand(m->f, id, 0, demand);
        fake_pin(m->f, id, 0, pin);
        if (first < 0)
            first = id;
    }
    return first;
}

int cpusim_vcpus_on(const struct cpusim *m, int ndom, int pcpu)
{
    int c = 0;
    for (int d = 0; d < ndom; d++)
        c += fake_vcpu_pin(m->f, d, 0) == pcpu;
    return c;
}

/* Largest difference in service between vCPUs of domains [from, to). */
double cpusim_service_range(const struct cpusim *m, int from, int to)
{
    double lo = 2, hi = -1;
    for (int d = from; d < to; d++) {
        double r = fake_vcpu_run(m->f, d, 0);
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
    }
    return (hi - lo) * 100;
}
