/* Properties of the memory coordinator: its invariants over random scenarios with hostile
 * guests on the fake host (tests/unit/msim.h), and a million random statistics straight through
 * coord_period(). */
#include "check_coordinator.h"
#include "msim.h"
#include "rng.h"
#include "util.h"

/* A guest of a random scenario: its size, workload, statistics and lie. */
struct drawn {
    uint64_t max_mib, cur_mib;
    struct fake_mem_load ml;
    bool stats;
    enum hostile mode;
};

/* A guest drawn from SEED. */
static struct drawn random_guest(uint64_t *seed)
{
    struct drawn d;
    uint64_t cur;

    d.max_mib = 256 + rng_next(seed) % 4096;
    cur = 128 + rng_next(seed) % d.max_mib;
    d.cur_mib = cur > d.max_mib ? d.max_mib : cur;
    d.ml = (struct fake_mem_load){
            .base_kib = (32 + rng_next(seed) % 96) * MIB,
            .delay_s = (double)(rng_next(seed) % 20),
            .rate_kib_s = (double)(rng_next(seed) % 4) * (double)(rng_next(seed) % 80) * MIB,
            .cap_kib = (rng_next(seed) % d.max_mib) * MIB,
            .hold_s = (double)(rng_next(seed) % 30),
            .repeat = rng_next(seed) % 2,
    };
    d.stats = rng_next(seed) % 4 != 0;
    d.mode = rng_next(seed) % 3 == 0 ? (enum hostile)(rng_next(seed) % NHOSTILE) : HONEST;
    return d;
}

/* What the scenarios did, so that their invariants are not kept by doing nothing. */
struct tally {
    unsigned long grown, shrunk; /* targets set on honest guests */
    unsigned long impossible;    /* periods a lying guest's statistics were judged impossible */
    int tight;                   /* scenarios whose host came within 256 MiB of its reserve */
};

/* What guest D could want beyond its size: its workload's peak and the minimum unused. */
static uint64_t want_mib(const struct drawn *d)
{
    uint64_t peak = (d->ml.base_kib + d->ml.cap_kib) / MIB + 100;

    peak = peak < d->max_mib ? peak : d->max_mib;
    return peak > d->cur_mib ? peak - d->cur_mib : 0;
}

/* One scenario drawn from SEED, run for 100 periods: its invariants asserted, what it did added
 * to T. The host has room for the guests as they start, above its reserve, and for a random
 * part of what they could grow, so that some run short (only a host that starts above its
 * reserve can promise to stay there). */
static void random_scenario(uint64_t *seed, struct tally *t)
{
    struct drawn d[8];
    struct msim s;
    uint64_t reserve = 256 + rng_next(seed) % 1024, cur = 0, room = 0;
    int n = 1 + (int)(rng_next(seed) % 8);

    for (int i = 0; i < n; i++) {
        d[i] = random_guest(seed);
        cur += d[i].cur_mib;
        room += want_mib(&d[i]);
    }
    msim_start(&s, &(struct msim_host){.ram_mib = 256 + reserve + cur + rng_next(seed) % (room + 1),
                                       .other_mib = 256,
                                       .reserve_mib = reserve});
    s.rng = rng_next(seed) | 1;
    for (int i = 0; i < n; i++) {
        if (d[i].stats)
            msim_guest(&s, d[i].max_mib, d[i].cur_mib, &d[i].ml);
        else
            msim_guest_without_stats(&s, d[i].max_mib, d[i].cur_mib, &d[i].ml);
        s.mode[i] = d[i].mode;
    }
    msim_run(&s, 100);
    msim_assert_invariants(&s);
    for (int i = 0; i < n; i++) {
        if (s.mode[i] == HONEST) {
            t->grown += s.changes[i] - s.shrinks[i];
            t->shrunk += s.shrinks[i];
        }
        t->impossible += s.impossible[i];
    }
    t->tight += s.lowest_free < s.reserve + 256 * MIB;
    msim_free(&s);
}

/* 100 random hosts of 1 to 8 guests, a third of them lying, 100 periods each: no target below
 * the floor or above the maximum, no step too large, no honest guest squeezed below its use, the
 * reserve held, no lie earning memory; and these were tested where they bind: honest guests
 * grown and shrunk, lies judged impossible, hosts brought near their reserve. */
START_TEST(property_invariants_over_random_hostile_scenarios)
{
    uint64_t seed = 0x5eed1234abcdull;
    struct tally t = {0};

    for (int sc = 0; sc < 100; sc++)
        random_scenario(&seed, &t);
    ck_assert_uint_ge(t.grown, 500);
    ck_assert_uint_ge(t.shrunk, 1000);
    ck_assert_uint_ge(t.impossible, 3000);
    ck_assert_int_ge(t.tight, 5);
}
END_TEST

/* A host whose guests report random, mostly hostile, statistics every period. */
struct garbage_host {
    uint64_t seed;
    unsigned long sets;
};

static uint64_t g_size(uint64_t *s)
{
    switch (rng_next(s) % 6) {
    case 0:
        return 0;
    case 1:
        return UINT64_MAX;
    case 2:
        return rng_next(s) >> (rng_next(s) % 64);
    default:
        return (rng_next(s) % 4096) * MIB;
    }
}

static int garbage_sample(struct hv *hv, struct snap *snap, unsigned what, hv_filter_fn filter,
                          void *arg)
{
    struct garbage_host *g = hv_priv(hv);
    (void)what;
    (void)filter;
    (void)arg;

    snap_reset(snap, (uint64_t)(rng_next(&g->seed) % 1000000) * 1000000000ull, 4);
    snap_set_host_memory(snap, g_size(&g->seed), g_size(&g->seed));
    for (int n = 0; n < 2; n++)
        if (rng_next(&g->seed) % 2)
            snap_set_node_free(snap, n, g_size(&g->seed));
    for (int i = 0; i < 10; i++) {
        unsigned char uuid[SNAP_UUID_LEN] = {0};
        struct snap_domain *d;
        uuid[0] = (unsigned char)i;
        d = snap_add_domain(snap, uuid, "garbage", 0);
        d->mem.actual_kib = g_size(&g->seed);
        d->mem.max_kib = g_size(&g->seed);
        d->mem.unused_kib = g_size(&g->seed);
        d->mem.available_kib = g_size(&g->seed);
        d->mem.usable_kib = g_size(&g->seed);
        d->mem.rss_kib = g_size(&g->seed);
        d->mem.last_update = rng_next(&g->seed) % 4;
        d->mem.disk_caches_kib = g_size(&g->seed);
        d->mem.major_fault =
                rng_next(&g->seed) % 3 ? rng_next(&g->seed) % 1000 : rng_next(&g->seed);
        d->mem.swap_in_kib =
                rng_next(&g->seed) % 3 ? rng_next(&g->seed) % 1000 : rng_next(&g->seed);
        d->mem.flags = (uint32_t)rng_next(&g->seed) & 0xfff;
        d->cfg = (uint32_t)rng_next(&g->seed) & 0x3f;
        d->numa_nodes = rng_next(&g->seed) % 4;
    }
    return HV_OK;
}

static int garbage_set_memory(struct hv *hv, const unsigned char *uuid, uint64_t kib)
{
    (void)uuid;
    (void)kib;
    ((struct garbage_host *)hv_priv(hv))->sets++;
    return HV_OK;
}

static int garbage_ok(struct hv *hv, const unsigned char *uuid, int period)
{
    (void)hv;
    (void)uuid;
    (void)period;
    return HV_OK;
}

static const struct hv_ops garbage_ops = {.name = "garbage",
                                          .sample = garbage_sample,
                                          .set_memory = garbage_set_memory,
                                          .enable_memstats = garbage_ok};

/* 100,000 periods of 10 guests = 1,000,000 random statistics through the whole coordinator
 * (sanitising, rates, policy): impossible statistics never move a balloon, and no target is
 * above the maximum or (when shrinking) below the floor. */
START_TEST(fuzz_a_million_random_statistics)
{
    struct garbage_host gh = {.seed = 0xfeedfacecafebeefull};
    struct hv *hv = hv_create(&garbage_ops, &gh);
    struct coord_config cfg = {.min_unused_kib = 100 * MIB,
                               .floor_kib = 200 * MIB,
                               .reserve_default = true,
                               .period_s = 1};
    struct coord *c = coord_create(&cfg);
    struct snap *a = snap_create(), *b = snap_create();
    unsigned long inputs = 0;

    for (int p = 0; p < 100000; p++) {
        struct coord_report rep;
        ck_assert_int_eq(hv_sample(hv, b, HV_SAMPLE_MEM, NULL, NULL), HV_OK);
        ck_assert_int_eq(coord_period(c, hv, p ? a : NULL, b, 0, &rep), 0);
        for (size_t i = 0; i < rep.nguests; i++) {
            const struct coord_guest *g = &rep.guests[i];
            const struct snap_mem *m = &snap_domain(b, g->domain)->mem;
            bool bad = (m->flags & SNAP_MEM_UNUSED) && m->unused_kib > m->actual_kib;
            bad = bad || m->actual_kib > m->max_kib || m->max_kib >= UTIL_HUGE_KIB;
            bad = bad || ((m->flags & SNAP_MEM_AVAILABLE) && m->available_kib > m->max_kib);
            bad = bad || ((m->flags & SNAP_MEM_USABLE) && m->usable_kib > m->max_kib);
            inputs++;
            if (!g->decision.change)
                continue;
            ck_assert(!bad);
            ck_assert_int_eq(g->distrust, COORD_TRUSTED);
            ck_assert_uint_le(g->decision.target_kib, m->max_kib);
            if (g->decision.target_kib < mem_committed(g->view))
                ck_assert_uint_ge(g->decision.target_kib, cfg.floor_kib);
        }
        {
            struct snap *t = a;
            a = b;
            b = t;
        }
    }
    ck_assert_uint_eq(inputs, 1000000);
    coord_destroy(c);
    hv_destroy(hv);
    snap_destroy(a);
    snap_destroy(b);
}
END_TEST

TCase *coordinator_properties_tcase(void)
{
    TCase *t = tcase_create("properties");

    tcase_add_test(t, property_invariants_over_random_hostile_scenarios);
    tcase_add_test(t, fuzz_a_million_random_statistics);
    tcase_set_timeout(t, 600);
    return t;
}
