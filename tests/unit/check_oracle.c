/* The independent optimum (tests/oracle.c) on known cases, and the planner against it on
 * thousands of random small hosts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "placement.h"
#include "suites.h"

static long exact(int np, size_t n, const double *d, const int *pin, bool pin_floating,
                  struct oracle_result *r)
{
    struct oracle_input in = {.npcpus = np,
                              .nvcpus = n,
                              .demand = d,
                              .pin = pin,
                              .threshold = 0.05,
                              .pin_floating = pin_floating};

    ck_assert_int_eq(oracle_exact(&in, r), 0);
    return r->changes;
}

START_TEST(known_optima)
{
    struct oracle_result r;
    const double busy[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    const int three_one[] = {0, 0, 0, 1}, all0[8] = {0}, even[] = {0, 0, 1, 1};
    const int floating[] = {-1, -1, -1, -1}, two_float[] = {0, 0, -1, -1};

    ck_assert_int_eq(exact(2, 4, busy, three_one, false, &r), 1);
    ck_assert(!r.start_ok);
    ck_assert_int_eq(exact(4, 8, busy, all0, false, &r), 6);
    ck_assert_int_eq(exact(2, 4, busy, even, false, &r), 0);
    ck_assert(r.start_ok);
    /* Three busy on two pCPUs: 2 + 1 is as balanced as it gets. */
    ck_assert_int_eq(exact(2, 3, busy, all0, false, &r), 1);
    ck_assert_double_eq_tol(r.limit, 0.5 + 0.05 / 4, 1e-9);
    /* Floating ones are the kernel's, unless they must be pinned. */
    ck_assert_int_eq(exact(2, 4, busy, floating, false, &r), 0);
    ck_assert(r.start_ok);
    ck_assert_int_eq(exact(2, 4, busy, floating, true, &r), 4);
    ck_assert_int_eq(exact(2, 4, busy, two_float, false, &r), 0);
}
END_TEST

START_TEST(fairness_by_service)
{
    struct oracle_result r;
    /* Loads 3 and 3, but three busy vCPUs share pCPU 0 (a third each) while the fourth shares
     * pCPU 1 with four half-busy ones (a fifth): unfair. Two busy and two halves on each pCPU
     * serve every busy vCPU alike: three changes. */
    const double d[] = {1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5};
    const int pin[] = {0, 0, 0, 1, 1, 1, 1, 1};

    ck_assert_int_eq(exact(2, 8, d, pin, false, &r), 3);
    ck_assert(r.fair);
    ck_assert(!r.start_ok);
}
END_TEST

START_TEST(bound_is_below_the_optimum)
{
    uint64_t seed = 7;

    for (int t = 0; t < 300; t++) {
        double d[10];
        int pin[10], np = 2 + (int)(seed % 3);
        struct oracle_result r;
        struct oracle_input in = {
                .npcpus = np, .nvcpus = 10, .demand = d, .pin = pin, .threshold = 0.05};
        for (int i = 0; i < 10; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            d[i] = (double)((seed >> 33) % 101) / 100;
            pin[i] = (int)((seed >> 20) % (uint64_t)(np + 1)) - 1;
        }
        in.pin_floating = t % 2;
        ck_assert_int_eq(oracle_exact(&in, &r), 0);
        ck_assert_int_le(oracle_bound(&in), r.changes);
    }
}
END_TEST

/* A random small host: NP pCPUs (some with background), N vCPUs of demands from a few classes
 * or anywhere, pinned at random or floating. */
static void random_host(uint64_t *seed, int *np, size_t *n, double *d, int *pin, double *bg)
{
    static const double classes[] = {1.0, 1.0, 0.75, 0.5, 0.5, 0.3, 0.1, 0.0};
#define NEXT() (*seed = *seed * 6364136223846793005ull + 1442695040888963407ull, *seed >> 33)

    *np = 2 + (int)(NEXT() % 3);
    *n = 1 + NEXT() % (*np == 4 ? 10 : 12);
    for (int p = 0; p < *np; p++)
        bg[p] = NEXT() % 4 == 0 ? (double)(NEXT() % 40) / 100 : 0;
    for (size_t i = 0; i < *n; i++) {
        d[i] = NEXT() % 3 ? classes[NEXT() % 8] : (double)(NEXT() % 101) / 100;
        pin[i] = NEXT() % 5 == 0 ? -1 : (int)(NEXT() % (uint64_t)*np);
        if (NEXT() % 3 == 0)
            pin[i] = 0; /* crowd the first pCPU */
    }
#undef NEXT
}

START_TEST(planner_against_the_optimum)
{
    enum { CASES = 3000 };
    uint64_t seed = 2026;
    double worst = 1, sum_ratio = 0;
    long planned = 0, missed = 0, missed_fair = 0, missed_idle = 0, harm = 0, acted = 0;

    for (int t = 0; t < CASES; t++) {
        double d[12], bg[4];
        int pin[12], np;
        size_t n;
        struct placement_vcpu v[12];
        struct placement_plan pl;
        struct oracle_result r;

        random_host(&seed, &np, &n, d, pin, bg);
        struct oracle_input oi = {.npcpus = np,
                                  .background = bg,
                                  .nvcpus = n,
                                  .demand = d,
                                  .pin = pin,
                                  .threshold = 0.05,
                                  .pin_floating = t % 4 == 0};
        struct placement_input in = {.npcpus = np,
                                     .background = bg,
                                     .nvcpus = n,
                                     .vcpus = v,
                                     .threshold = 0.05,
                                     .pin_floating = oi.pin_floating};
        for (size_t i = 0; i < n; i++)
            v[i] = (struct placement_vcpu){.demand = d[i], .pin = pin[i]};
        ck_assert_int_eq(oracle_exact(&oi, &r), 0);
        ck_assert_int_eq(placement_plan(&in, &pl), 0);
        long changes = oracle_changes(&oi, pl.target);
        /* Do no harm: where nothing needs changing, nothing changes. */
        if (r.start_ok && changes > 0) {
            harm++;
            if (getenv("ORACLE_DEBUG")) {
                printf("harm: np %d pf %d bg", np, oi.pin_floating);
                for (int p = 0; p < np; p++)
                    printf(" %.2f", bg[p]);
                printf(" |");
                for (size_t i = 0; i < n; i++)
                    printf(" %.2f@%d->%d", d[i], pin[i], pl.target[i]);
                printf(" | limit %.3f fair %d spread %.3f unfair %d\n", r.limit, r.fair,
                       pl.spread_before, pl.unfair_before);
            }
        }
        if (!r.start_ok && !oracle_meets(&oi, &r, pl.target)) {
            /* The plan does not reach the criteria (or does not act). */
            struct oracle_result nofair = r;
            nofair.fair = false;
            missed++;
            missed_fair += oracle_meets(&oi, &nofair, pl.target);
            missed_idle += !pl.act;
            if (getenv("ORACLE_DEBUG") && missed < 15) {
                printf("miss: np %d pf %d act %d bg", np, oi.pin_floating, pl.act);
                for (int p = 0; p < np; p++)
                    printf(" %.2f", bg[p]);
                printf(" |");
                for (size_t i = 0; i < n; i++)
                    printf(" %.2f@%d->%d", d[i], pin[i], pl.target[i]);
                printf(" | opt %ld limit %.3f fair %d spread %.3f->%.3f unfair %d\n", r.changes,
                       r.limit, r.fair, pl.spread_before, pl.spread_after, pl.unfair_before);
            }
        } else if (!r.start_ok) {
            double ratio = r.changes ? (double)changes / (double)r.changes : 1;
            ck_assert_int_ge(changes, r.changes); /* nobody beats the optimum */
            if (getenv("ORACLE_DEBUG") && ratio >= 3) {
                printf("ratio %.1f: np %d pf %d bg", ratio, np, oi.pin_floating);
                for (int p = 0; p < np; p++)
                    printf(" %.2f", bg[p]);
                printf(" |");
                for (size_t i = 0; i < n; i++)
                    printf(" %.2f@%d->%d", d[i], pin[i], pl.target[i]);
                printf(" | opt %ld limit %.3f fair %d spread %.3f->%.3f unfair %d\n", r.changes,
                       r.limit, r.fair, pl.spread_before, pl.spread_after, pl.unfair_before);
            }
            worst = fmax(worst, ratio);
            sum_ratio += ratio;
            planned++;
        }
        acted += pl.act;
        placement_plan_free(&pl);
    }
    printf("planner vs optimum: %d random hosts (2-4 pCPUs, 1-12 vCPUs): %ld acted; %ld needed "
           "change and were solved, changes/optimum mean %.3f, worst %.2f; %ld not brought to "
           "the criteria (%ld balanced but unfair, %ld left alone); %ld changed what needed no "
           "change\n",
           CASES, acted, planned, planned ? sum_ratio / (double)planned : 0, worst, missed,
           missed_fair, missed_idle, harm);
    /* Guards of today's figures (docs/BENCHMARKS.md): never harm, near the optimum on average,
     * and the criteria reached in at least three cases of four that need a change. The oracle
     * knows demands exactly; the planner leaves alone a plan that changes no pCPU's load by more
     * than the threshold and 5 % of it (estimates on a real host are that noisy), which the
     * oracle counts as missed: some 19 % of the cases, all with small gains. */
    ck_assert_int_eq(harm, 0);
    ck_assert_double_le(sum_ratio / (double)planned, 1.05);
    ck_assert_double_le(worst, 3.0);
    ck_assert_int_le(missed * 4, planned + missed);
}
END_TEST

Suite *oracle_suite(void)
{
    Suite *s = suite_create("oracle");
    TCase *t = tcase_create("optimum");

    tcase_set_timeout(t, 600);
    tcase_add_test(t, known_optima);
    tcase_add_test(t, fairness_by_service);
    tcase_add_test(t, bound_is_below_the_optimum);
    tcase_add_test(t, planner_against_the_optimum);
    suite_add_tcase(s, t);
    return s;
}
