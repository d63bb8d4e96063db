/* Tests of the state carried from period to period. */
#include "carry.h"
#include "suites.h"

START_TEST(swap_and_look_back)
{
    struct carry c;
    int *cur;

    carry_init(&c, sizeof(int));
    ck_assert_ptr_null(carry_prev(&c, 0));
    ck_assert_int_eq(carry_reserve(&c, 3), 0);
    cur = c.cur;
    for (int i = 0; i < 3; i++)
        cur[i] = 10 + i;
    carry_swap(&c, 3);
    ck_assert_int_eq(*(const int *)carry_prev(&c, 2), 12);
    ck_assert_ptr_null(carry_prev(&c, 3));
    ck_assert_ptr_null(carry_prev(&c, -1));
    /* The next period grows: the old values stay readable while the new ones are written. */
    ck_assert_int_eq(carry_reserve(&c, 100), 0);
    cur = c.cur;
    for (int i = 0; i < 100; i++)
        cur[i] = i < 3 ? *(const int *)carry_prev(&c, i) * 2 : i;
    carry_swap(&c, 100);
    ck_assert_int_eq(*(const int *)carry_prev(&c, 1), 22);
    ck_assert_int_eq(*(const int *)carry_prev(&c, 99), 99);
    carry_swap(&c, 0); /* a period with nothing */
    ck_assert_ptr_null(carry_prev(&c, 0));
    carry_free(&c);
    carry_free(&c);
}
END_TEST

Suite *carry_suite(void)
{
    Suite *s = suite_create("carry");
    TCase *t = tcase_create("buffers");

    tcase_add_test(t, swap_and_look_back);
    suite_add_tcase(s, t);
    return s;
}
