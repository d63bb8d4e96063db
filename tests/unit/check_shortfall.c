/* Tests of the memory shortfall and the choice of the guest to migrate. */
#include <stdio.h>
#include <string.h>

#include "shortfall.h"
#include "suites.h"

#define MIB 1024ull /* KiB */
#define NG  6

/* A host with NG domains (UUIDs in index order) and a report about some of them. */
struct world {
    struct snap *snap;
    struct coord_guest g[NG];
    struct mem_guest view[NG]; /* what the policy saw of each */
    struct coord_report rep;
    struct coord_config cfg;
    struct shortfall_pick pick;
};

static void world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->snap = snap_create();
    ck_assert_int_eq(snap_reset(w->snap, 0, 1), 0);
    for (int i = 0; i < NG; i++) {
        unsigned char uuid[SNAP_UUID_LEN] = {0};
        char name[16];
        uuid[15] = (unsigned char)(i + 1);
        snprintf(name, sizeof(name), "g%d", i);
        ck_assert_ptr_nonnull(snap_add_domain(w->snap, uuid, name, 0));
    }
    snap_finalize(w->snap);
    w->cfg = (struct coord_config){
            .min_unused_kib = 100 * MIB, .floor_kib = 200 * MIB, .period_s = 1};
    w->rep.host_known = true;
    w->rep.guests = w->g;
}

static void world_free(struct world *w)
{
    snap_destroy(w->snap);
}

/* Sets report guest I to domain DOM: size ACTUAL MiB (of 4096) with HEADROOM MiB it can use at
 * once, growing RATE MiB/s, decided REASON (trusted statistics), no target pending. */
static void guest(struct world *w, size_t i, size_t dom, uint64_t actual, uint64_t headroom,
                  double rate, enum mem_reason reason)
{
    struct coord_guest *g = &w->g[i];
    struct mem_guest *v = &w->view[i];

    memset(g, 0, sizeof(*g));
    memset(v, 0, sizeof(*v));
    v->actual_kib = actual * MIB;
    v->max_kib = 4096 * MIB;
    v->headroom_kib = headroom * MIB;
    v->rate_kib_s = rate * MIB;
    v->trusted = true;
    g->domain = dom;
    g->view = v;
    g->decision.target_kib = actual * MIB;
    g->decision.reason = reason;
    g->distrust = COORD_TRUSTED;
    if (i >= w->rep.nguests)
        w->rep.nguests = i + 1;
}

/* Guest I is untrusted (its statistics missing): it needs and gives nothing, but it holds ACTUAL.
 */
static void untrusted(struct world *w, size_t i, size_t dom, uint64_t actual)
{
    guest(w, i, dom, actual, 0, 0, MEM_UNTRUSTED);
    w->g[i].distrust = COORD_NO_STATS;
}

static struct shortfall assess(struct world *w)
{
    struct shortfall sf;

    shortfall_assess(&w->pick, &w->cfg, &w->rep, w->snap, &sf);
    return sf;
}

START_TEST(nothing_short_nothing_to_migrate)
{
    struct world w;
    struct shortfall sf;

    world_init(&w);
    guest(&w, 0, 0, 1024, 500, 0, MEM_KEEP);
    guest(&w, 1, 1, 1024, 20, 0, MEM_STARVING); /* needs 1004 + 100 - 1024 = 80 MiB */
    w.rep.budget_kib = 100 * MIB;               /* the host gives it */
    sf = assess(&w);
    ck_assert(sf.known);
    ck_assert_uint_eq(sf.need_kib, 80 * MIB);
    ck_assert_uint_eq(sf.shortfall_kib, 0);
    ck_assert_int_eq(sf.candidate, -1);
    w.rep.budget_kib = 0; /* the other guest gives it: 1024 - (524 + 100) = 400 MiB spare */
    sf = assess(&w);
    ck_assert_uint_eq(sf.guests_kib, 400 * MIB);
    ck_assert_uint_eq(sf.shortfall_kib, 0);
    ck_assert_int_eq(sf.candidate, -1);
    world_free(&w);
}
END_TEST

START_TEST(unknown_host_or_baseline_is_not_assessed)
{
    struct world w;
    struct shortfall sf;

    world_init(&w);
    guest(&w, 0, 0, 1024, 0, 100, MEM_STARVING);
    w.rep.host_known = false;
    sf = assess(&w);
    ck_assert(!sf.known);
    ck_assert_uint_eq(sf.shortfall_kib, 0);
    w.rep.host_known = true;
    w.rep.baseline = true;
    sf = assess(&w);
    ck_assert(!sf.known);
    ck_assert_int_eq(sf.candidate, -1);
    world_free(&w);
}
END_TEST

START_TEST(shortfall_is_what_neither_host_nor_guests_give)
{
    struct world w;
    struct shortfall sf;

    world_init(&w);
    /* Starving and growing 100 MiB/s: wants 1024 + 100 + 2 * 100 = 1324 MiB: needs 300. */
    guest(&w, 0, 0, 1024, 0, 100, MEM_STARVING_SHORT);
    guest(&w, 1, 1, 600, 150, 0, MEM_SHORT);  /* wants 450 + 100: can give 50 */
    untrusted(&w, 2, 2, 2048);                /* gives nothing */
    guest(&w, 3, 3, 4096, 0, 50, MEM_AT_MAX); /* starving at its maximum: the host cannot help */
    w.rep.budget_kib = 50 * MIB;
    sf = assess(&w);
    ck_assert_uint_eq(sf.need_kib, 300 * MIB);
    ck_assert_uint_eq(sf.host_kib, 50 * MIB);
    ck_assert_uint_eq(sf.guests_kib, 50 * MIB);
    ck_assert_uint_eq(sf.shortfall_kib, 200 * MIB);
    /* Moving any of them relieves it all; the smallest is the least to copy. */
    for (size_t i = 0; i < 4; i++)
        ck_assert_uint_eq(shortfall_relief(&w.cfg, &w.rep, &sf, i), 200 * MIB);
    ck_assert_int_eq(sf.candidate, 1);
    ck_assert_uint_eq(sf.relief_kib, 200 * MIB);
    world_free(&w);
}
END_TEST

START_TEST(page_cache_is_headroom_and_held_guests_give_nothing)
{
    struct world w;
    struct shortfall sf;

    world_init(&w);
    /* Starving, growing 100 MiB/s: wants 1024 + 100 + 200 = 1324 MiB: needs 300. */
    guest(&w, 0, 0, 1024, 0, 100, MEM_STARVING_SHORT);
    /* 20 MiB free but 620 MiB it can use at once (page cache): uses 380, wants 480, gives 520. */
    guest(&w, 1, 1, 1000, 620, 0, MEM_SHORT);
    /* Under pressure, squeezed, deflated, huge pages: plenty of headroom, none of it given. */
    guest(&w, 2, 2, 1000, 700, 0, MEM_PRESSURE);
    guest(&w, 3, 3, 1000, 700, 0, MEM_SQUEEZED);
    guest(&w, 4, 4, 1000, 700, 0, MEM_DEFLATED);
    guest(&w, 5, 5, 1000, 700, 0, MEM_HUGEPAGES);
    sf = assess(&w);
    ck_assert_uint_eq(sf.need_kib, 300 * MIB);
    ck_assert_uint_eq(sf.guests_kib, 520 * MIB);
    ck_assert_uint_eq(sf.shortfall_kib, 0);
    /* Without the cache guest nothing covers the need. */
    w.g[1].decision.reason = MEM_PRESSURE;
    sf = assess(&w);
    ck_assert_uint_eq(sf.guests_kib, 0);
    ck_assert_uint_eq(sf.shortfall_kib, 300 * MIB);
    world_free(&w);
}
END_TEST

START_TEST(candidate_relieves_the_most)
{
    struct world w;
    struct shortfall sf;

    world_init(&w);
    /* Wants 1024 + 100 + 2 * 1500, capped at its 4096 MiB maximum: needs 3072. */
    guest(&w, 0, 0, 1024, 0, 1500, MEM_STARVING_SHORT);
    guest(&w, 1, 1, 600, 150, 0, MEM_SHORT); /* gives 50 */
    untrusted(&w, 2, 2, 2048);
    w.rep.budget_kib = 50 * MIB;
    sf = assess(&w);
    ck_assert_uint_eq(sf.shortfall_kib, (3072 - 100) * MIB);
    /* Moving the starving guest removes its need; the others only return their size. */
    ck_assert_uint_eq(shortfall_relief(&w.cfg, &w.rep, &sf, 0), sf.shortfall_kib);
    ck_assert_uint_eq(shortfall_relief(&w.cfg, &w.rep, &sf, 1), 550 * MIB); /* 600 - 50 */
    ck_assert_uint_eq(shortfall_relief(&w.cfg, &w.rep, &sf, 2), 2048 * MIB);
    ck_assert_int_eq(sf.candidate, 0);
    world_free(&w);
}
END_TEST

/* Starving guests in the report, one per need in NEEDS (MiB, each of size 1024 MiB and
 * growing): with no budget and nothing to give back, the shortfall is the sum of the needs and
 * moving guest i relieves need_i + 1024 MiB, in part only. DOMS gives their domains. */
static struct shortfall starving_set(struct world *w, const size_t *doms, const double *needs,
                                     size_t n)
{
    w->rep.nguests = 0;
    for (size_t i = 0; i < n; i++) {
        /* wants used + 100 + 2 periods of growth: need = 100 + 2 * rate */
        guest(w, i, doms[i], 1024, 0, (needs[i] - 100) / 2, MEM_STARVING_SHORT);
        w->view[i].max_kib = 65536 * MIB;
    }
    w->rep.budget_kib = 0;
    return assess(w);
}

START_TEST(candidate_is_not_a_different_guest_every_period)
{
    static const size_t doms[] = {0, 1, 2};
    struct world w;
    struct shortfall sf;

    world_init(&w);
    sf = starving_set(&w, doms, (const double[]){1000, 1030, 1000}, 3);
    ck_assert_uint_eq(sf.shortfall_kib, 3030 * MIB);
    ck_assert_uint_eq(shortfall_relief(&w.cfg, &w.rep, &sf, 0), 2024 * MIB);
    ck_assert_int_eq(sf.candidate, 1);
    ck_assert_uint_eq(sf.relief_kib, 2054 * MIB);
    /* Needs that wobble by less than the margin: the candidate stays. */
    for (int period = 0; period < 20; period++) {
        double a = period % 2 ? 1030 : 1000, b = period % 2 ? 1000 : 1030;
        sf = starving_set(&w, doms, (const double[]){a, b, 1000}, 3);
        ck_assert_int_eq(sf.candidate, 1);
    }
    world_free(&w);
}
END_TEST

START_TEST(a_clearly_better_guest_takes_over_after_several_periods)
{
    static const size_t doms[] = {0, 1, 2};
    struct world w;
    struct shortfall sf;

    world_init(&w);
    ck_assert_int_eq(starving_set(&w, doms, (const double[]){1000, 1030, 1000}, 3).candidate, 1);
    /* Guest 0 now relieves 3024 MiB against 2054: more than the margin (10 % of 4030). */
    for (int period = 1; period < SHORTFALL_PERIODS; period++)
        ck_assert_int_eq(starving_set(&w, doms, (const double[]){2000, 1030, 1000}, 3).candidate,
                         1);
    /* One period back to close: the count starts again. */
    ck_assert_int_eq(starving_set(&w, doms, (const double[]){1000, 1030, 1000}, 3).candidate, 1);
    for (int period = 1; period < SHORTFALL_PERIODS; period++)
        ck_assert_int_eq(starving_set(&w, doms, (const double[]){2000, 1030, 1000}, 3).candidate,
                         1);
    sf = starving_set(&w, doms, (const double[]){2000, 1030, 1000}, 3);
    ck_assert_int_eq(sf.candidate, 0);
    ck_assert_uint_eq(sf.relief_kib, 3024 * MIB);
    world_free(&w);
}
END_TEST

START_TEST(a_candidate_that_left_is_replaced_at_once)
{
    struct world w;
    struct shortfall sf;

    world_init(&w);
    sf = starving_set(&w, (const size_t[]){0, 1, 2}, (const double[]){1000, 1030, 1000}, 3);
    ck_assert_int_eq(sf.candidate, 1);
    /* Domain 1 is gone (migrated, or shut down): the report holds domains 0 and 2. */
    sf = starving_set(&w, (const size_t[]){0, 2}, (const double[]){1500, 1600}, 2);
    ck_assert_int_eq(sf.candidate, 1); /* report index 1: domain 2 */
    ck_assert_uint_eq(w.g[sf.candidate].domain, 2);
    world_free(&w);
}
END_TEST

START_TEST(the_candidate_is_remembered_through_a_pause)
{
    static const size_t doms[] = {0, 1, 2};
    struct world w;
    struct shortfall sf;

    world_init(&w);
    ck_assert_int_eq(starving_set(&w, doms, (const double[]){1000, 1030, 1000}, 3).candidate, 1);
    w.rep.budget_kib = 10000 * MIB; /* the host can cover it for a period */
    sf = assess(&w);
    ck_assert_uint_eq(sf.shortfall_kib, 0);
    ck_assert_int_eq(sf.candidate, -1);
    /* Short again, guest 0 now slightly ahead: the remembered candidate comes back. */
    ck_assert_int_eq(starving_set(&w, doms, (const double[]){1040, 1030, 1000}, 3).candidate, 1);
    world_free(&w);
}
END_TEST

Suite *shortfall_suite(void)
{
    Suite *s = suite_create("shortfall");
    TCase *t = tcase_create("assess");

    tcase_add_test(t, nothing_short_nothing_to_migrate);
    tcase_add_test(t, unknown_host_or_baseline_is_not_assessed);
    tcase_add_test(t, shortfall_is_what_neither_host_nor_guests_give);
    tcase_add_test(t, page_cache_is_headroom_and_held_guests_give_nothing);
    tcase_add_test(t, candidate_relieves_the_most);
    tcase_add_test(t, candidate_is_not_a_different_guest_every_period);
    tcase_add_test(t, a_clearly_better_guest_takes_over_after_several_periods);
    tcase_add_test(t, a_candidate_that_left_is_replaced_at_once);
    tcase_add_test(t, the_candidate_is_remembered_through_a_pause);
    suite_add_tcase(s, t);
    return s;
}
