/* Tests of the shared small pieces: CPU lists, growth, smoothing. */
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "util.h"

START_TEST(cpulists)
{
    unsigned char map[16];
    char buf[64];

    ck_assert_int_eq(util_parse_cpulist("2-31,34-63", map, 8), 60);
    ck_assert(!util_bit(map, 1) && util_bit(map, 2) && util_bit(map, 31) && !util_bit(map, 32));
    util_format_cpulist(map, 64, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2-31,34-63");
    ck_assert_int_eq(util_parse_cpulist("0-3,^2", map, 1), 3);
    util_format_cpulist(map, 8, buf, sizeof(buf));
    ck_assert_str_eq(buf, "0-1,3");
    ck_assert_int_eq(util_parse_cpulist("0,2,4", map, 1), 3);
    ck_assert_int_eq(util_parse_cpulist("5", map, 1), 1);
    /* Malformed, or beyond the map. */
    static const char *bad[] = {"",  "a",   "1-",  "-1",          "3-1", "1,,2", "1 ,2",
                                "8", "0-8", "1;2", "99999999999", ",1",  "1,"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(util_parse_cpulist(bad[i], map, 1) < 0, "accepted '%s'", bad[i]);
    ck_assert_int_lt(util_parse_cpulist(NULL, map, 1), 0);
    /* A long list is cut with "...". */
    ck_assert_int_eq(util_parse_cpulist("0,2,4,6,8,10,12,14,16,18,20,22", map, 16), 12);
    util_format_cpulist(map, 128, buf, 12);
    ck_assert_int_le(strlen(buf), 11);
    ck_assert_str_eq(buf + strlen(buf) - 3, "...");
}
END_TEST

START_TEST(grow_and_ewma)
{
    int *a = NULL;
    size_t cap = 0;

    ck_assert_int_eq(util_grow((void **)&a, &cap, 100, sizeof(int)), 0);
    ck_assert_uint_ge(cap, 100);
    a[99] = 7;
    ck_assert_int_eq(util_grow((void **)&a, &cap, 1000, sizeof(int)), 0);
    ck_assert_int_eq(a[99], 7);
    ck_assert_int_eq(util_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof(int)), -1);
    free(a);
    ck_assert_double_eq(util_ewma(1, 3, 0.5, true), 2);
    ck_assert_double_eq(util_ewma(1, 3, 0.5, false), 3);
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *t = tcase_create("util");

    tcase_add_test(t, cpulists);
    tcase_add_test(t, grow_and_ewma);
    suite_add_tcase(s, t);
    return s;
}
