/* Tests of weighted fair shares (weighted water-filling). */
#include <math.h>

#include "share.h"
#include "suites.h"

START_TEST(demands_that_fit_are_served)
{
    const double d[] = {0.5, 1.0, 0.2}, w[] = {1024, 2048, 100};

    ck_assert(isinf(share_level(d, w, 3, 2.0)));
    ck_assert(isinf(share_level(d, w, 0, 0)));
}
END_TEST

START_TEST(shares_in_proportion_to_weight)
{
    /* Two of weight 2, two of weight 1, all busy, on two pCPUs: 2/3 and 1/3. */
    const double d[] = {1, 1, 1, 1}, w[] = {2048, 2048, 1024, 1024};
    double l = share_level(d, w, 4, 2.0);

    ck_assert_double_eq_tol(fmin(d[0], l * w[0]), 2.0 / 3, 1e-9);
    ck_assert_double_eq_tol(fmin(d[2], l * w[2]), 1.0 / 3, 1e-9);
}
END_TEST

START_TEST(the_small_keep_what_they_want)
{
    /* A light vCPU gets its 0.2; the heavy and busy ones share the rest 2:1. */
    const double d[] = {1, 0.2, 1}, w[] = {2048, 1024, 1024};
    double l = share_level(d, w, 3, 1.4);

    ck_assert_double_eq_tol(fmin(d[1], l * w[1]), 0.2, 1e-9);
    ck_assert_double_eq_tol(fmin(d[0], l * w[0]), 0.8, 1e-9);
    ck_assert_double_eq_tol(fmin(d[2], l * w[2]), 0.4, 1e-9);
    /* Capacity that cannot serve anything: nothing. */
    ck_assert_double_eq_tol(share_level(d, w, 3, -1), 0, 1e-12);
}
END_TEST

START_TEST(heavy_ones_capped_by_demand)
{
    /* The heavy one wants only 0.3 though it could have 2/3: the other gets the rest. */
    const double d[] = {0.3, 1}, w[] = {2048, 1024};
    double l = share_level(d, w, 2, 1.0);

    ck_assert_double_eq_tol(fmin(d[0], l * w[0]), 0.3, 1e-9);
    ck_assert_double_eq_tol(fmin(d[1], l * w[1]), 0.7, 1e-9);
}
END_TEST

Suite *share_suite(void)
{
    Suite *s = suite_create("share");
    TCase *t = tcase_create("water-filling");

    tcase_add_test(t, demands_that_fit_are_served);
    tcase_add_test(t, shares_in_proportion_to_weight);
    tcase_add_test(t, the_small_keep_what_they_want);
    tcase_add_test(t, heavy_ones_capped_by_demand);
    suite_add_tcase(s, t);
    return s;
}
