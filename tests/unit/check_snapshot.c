/* Tests of snapshot storage. */
#include <stdio.h>
#include <string.h>

#include "snapshot.h"
#include "suites.h"

static void uuid_of(unsigned char *u, int n)
{
    memset(u, 0, SNAP_UUID_LEN);
    u[0] = (unsigned char)n;
    u[15] = 0xab;
}

START_TEST(add_sort_find)
{
    struct snap *s = snap_create();
    unsigned char u[SNAP_UUID_LEN];
    const int order[] = {5, 1, 9, 3};

    ck_assert_int_eq(snap_reset(s, 100, 4), 0);
    for (int i = 0; i < 4; i++) {
        char name[8];
        struct snap_domain *d;
        snprintf(name, sizeof(name), "d%d", order[i]);
        uuid_of(u, order[i]);
        d = snap_add_domain(s, u, name, (uint32_t)order[i]);
        ck_assert_ptr_nonnull(d);
        snap_vcpus_mut(s, d)[0].time_ns = (uint64_t)order[i];
    }
    snap_finalize(s);
    ck_assert_uint_eq(snap_domain_count(s), 4);
    ck_assert_uint_eq(snap_vcpu_count(s), 18);
    for (size_t i = 1; i < 4; i++)
        ck_assert_int_lt(snap_uuid_cmp(snap_domain(s, i - 1)->uuid, snap_domain(s, i)->uuid), 0);
    uuid_of(u, 9);
    ck_assert_int_ge(snap_find(s, u), 0);
    {
        const struct snap_domain *d = snap_domain(s, (size_t)snap_find(s, u));
        ck_assert_str_eq(snap_domain_name(s, d), "d9");
        ck_assert_uint_eq(d->nvcpus, 9);
        ck_assert_uint_eq(snap_vcpus(s, d)[0].time_ns, 9);
        ck_assert_int_eq(snap_vcpus(s, d)[3].pin, -1);
    }
    uuid_of(u, 2);
    ck_assert_int_eq(snap_find(s, u), -1);
    snap_destroy(s);
}
END_TEST

START_TEST(duplicates_and_drop)
{
    struct snap *s = snap_create();
    unsigned char u[SNAP_UUID_LEN];

    snap_reset(s, 1, 2);
    uuid_of(u, 1);
    snap_add_domain(s, u, "first", 1);
    snap_add_domain(s, u, "again", 1);
    uuid_of(u, 2);
    snap_add_domain(s, u, "dropped", 3);
    snap_drop_last(s);
    snap_finalize(s);
    ck_assert_uint_eq(snap_domain_count(s), 1);
    ck_assert_str_eq(snap_domain_name(s, snap_domain(s, 0)), "first");
    ck_assert_uint_eq(snap_vcpu_count(s), 2);
    snap_destroy(s);
}
END_TEST

START_TEST(reset_reuses_and_clears)
{
    struct snap *s = snap_create();
    unsigned char u[SNAP_UUID_LEN];

    ck_assert_int_eq(snap_reset(s, 1, 0), -1);
    snap_reset(s, 1, 8);
    snap_set_pcpu_busy(s, 7, 77);
    snap_set_pcpu_busy(s, 8, 88); /* out of range: ignored */
    snap_set_host_memory(s, 1000, 500);
    uuid_of(u, 1);
    snap_add_domain(s, u, "x", 2);
    ck_assert(snap_has_pcpu(s));
    ck_assert_uint_eq(snap_pcpu_busy(s, 7), 77);
    ck_assert(snap_has_host_memory(s));
    snap_reset(s, 2, 4);
    ck_assert_uint_eq(snap_domain_count(s), 0);
    ck_assert_uint_eq(snap_vcpu_count(s), 0);
    ck_assert(!snap_has_host_memory(s));
    ck_assert_uint_eq(snap_pcpu_busy(s, 3), 0);
    ck_assert_int_eq(snap_npcpus(s), 4);
    snap_clear_pcpu(s);
    ck_assert(!snap_has_pcpu(s));
    snap_destroy(s);
    snap_destroy(NULL);
}
END_TEST

START_TEST(declared_pins_and_tune_survive_sorting)
{
    struct snap *s = snap_create();
    unsigned char u[SNAP_UUID_LEN], pins[3] = {0x02, 0x00, 0x0c};
    struct snap_tune t = {.hard_limit_kib = 1126400,
                          .shares = 2048,
                          .flags = SNAP_TUNE_HARD_LIMIT | SNAP_TUNE_SHARES};
    const struct snap_domain *d;
    struct snap_domain *w;

    snap_reset(s, 1, 4); /* one byte per map */
    uuid_of(u, 9);
    w = snap_add_domain(s, u, "late", 3);
    ck_assert_int_eq(snap_set_defined_pins(s, w, pins, 2), 0); /* vCPU 2: none */
    ck_assert_int_eq(snap_set_domain_tune(s, w, &t), 0);
    uuid_of(u, 1);
    w = snap_add_domain(s, u, "plain", 1);
    ck_assert_ptr_null(snap_domain_tune(s, w));
    ck_assert_ptr_null(snap_vcpu_defined_pin(s, w, 0));
    uuid_of(u, 5);
    w = snap_add_domain(s, u, "dropped", 2);
    t.shares = 1;
    ck_assert_int_eq(snap_set_domain_tune(s, w, &t), 0);
    ck_assert_int_eq(snap_set_defined_pins(s, w, pins, 1), 0);
    snap_drop_last(s);
    snap_finalize(s);
    d = snap_domain(s, 1);
    ck_assert_str_eq(snap_domain_name(s, d), "late");
    ck_assert_uint_eq(snap_vcpu_defined_pin(s, d, 0)[0], 0x02);
    ck_assert_uint_eq(snap_vcpu_defined_pin(s, d, 1)[0], 0x00);
    ck_assert_uint_eq(snap_vcpu_defined_pin(s, d, 2)[0], 0x00);
    ck_assert_ptr_null(snap_vcpu_defined_pin(s, d, 3));
    ck_assert_uint_eq(snap_domain_tune(s, d)->hard_limit_kib, 1126400);
    ck_assert_uint_eq(snap_domain_tune(s, d)->shares, 2048);
    ck_assert_ptr_null(snap_domain_tune(s, snap_domain(s, 0)));
    /* A second record replaces the first. */
    t.shares = 512;
    ck_assert_int_eq(snap_set_domain_tune(s, snap_domain_mut(s, 1), &t), 0);
    ck_assert_uint_eq(snap_domain_tune(s, d)->shares, 512);
    snap_reset(s, 2, 4);
    uuid_of(u, 1);
    w = snap_add_domain(s, u, "again", 1);
    ck_assert_ptr_null(snap_domain_tune(s, w));
    snap_destroy(s);
}
END_TEST

START_TEST(uuid_text)
{
    unsigned char u[SNAP_UUID_LEN];
    char buf[SNAP_UUID_STRLEN];

    for (int i = 0; i < SNAP_UUID_LEN; i++)
        u[i] = (unsigned char)(i * 17);
    snap_uuid_format(u, buf);
    ck_assert_str_eq(buf, "00112233-4455-6677-8899-aabbccddeeff");
}
END_TEST

Suite *snapshot_suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *t = tcase_create("storage");

    tcase_add_test(t, add_sort_find);
    tcase_add_test(t, duplicates_and_drop);
    tcase_add_test(t, reset_reuses_and_clears);
    tcase_add_test(t, declared_pins_and_tune_survive_sorting);
    tcase_add_test(t, uuid_text);
    suite_add_tcase(s, t);
    return s;
}
