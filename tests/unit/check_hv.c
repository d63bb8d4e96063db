/* Tests of the hv dispatch layer, with a recording implementation. */
#include <stdlib.h>
#include <string.h>

#include "hv.h"
#include "suites.h"

struct rec {
    unsigned char map[256];
    size_t maplen;
    uint32_t vcpu;
    uint64_t kib;
    int period_s;
    int closed;
    unsigned sample_what;
};

static int r_sample(struct hv *hv, struct snap *snap, unsigned what, hv_filter_fn filter, void *arg)
{
    struct rec *r = hv_priv(hv);
    unsigned char u[SNAP_UUID_LEN] = {2};
    unsigned char v[SNAP_UUID_LEN] = {1};

    r->sample_what = what;
    hv_count_calls(hv, 3);
    snap_reset(snap, 1, 4);
    if (!filter || filter("b", arg))
        snap_add_domain(snap, u, "b", 1);
    snap_add_domain(snap, v, "a", 1);
    return HV_OK;
}

static int r_set_aff(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                     const unsigned char *map, size_t maplen)
{
    struct rec *r = hv_priv(hv);
    (void)uuid;
    r->vcpu = vcpu;
    r->maplen = maplen;
    memcpy(r->map, map, maplen);
    return HV_OK;
}

static int r_get_aff(struct hv *hv, const unsigned char *uuid, uint32_t vcpu, unsigned char *map,
                     size_t maplen)
{
    (void)hv;
    (void)uuid;
    memset(map, (int)vcpu, maplen);
    return HV_OK;
}

static int r_set_mem(struct hv *hv, const unsigned char *uuid, uint64_t kib)
{
    (void)uuid;
    ((struct rec *)hv_priv(hv))->kib = kib;
    return HV_OK;
}

static int r_stats(struct hv *hv, const unsigned char *uuid, int period_s)
{
    (void)uuid;
    ((struct rec *)hv_priv(hv))->period_s = period_s;
    return HV_GONE;
}

static void r_close(struct hv *hv)
{
    ((struct rec *)hv_priv(hv))->closed++;
}

static const struct hv_ops rec_ops = {.name = "rec",
                                      .sample = r_sample,
                                      .set_affinity = r_set_aff,
                                      .get_affinity = r_get_aff,
                                      .set_memory = r_set_mem,
                                      .enable_memstats = r_stats,
                                      .close = r_close};

static bool only_a(const char *name, void *arg)
{
    (void)arg;
    return strcmp(name, "a") == 0;
}

START_TEST(dispatch_and_counts)
{
    struct rec r = {0};
    struct hv *hv = hv_create(&rec_ops, &r);
    struct snap *s = snap_create();
    unsigned char u[SNAP_UUID_LEN] = {0}, map[4];

    ck_assert_int_eq(hv_sample(hv, s, HV_SAMPLE_MEM, only_a, NULL), HV_OK);
    ck_assert_uint_eq(r.sample_what, HV_SAMPLE_MEM);
    ck_assert_uint_eq(snap_domain_count(s), 1);
    ck_assert_uint_eq(hv_calls(hv), 3);
    ck_assert_int_eq(hv_sample(hv, s, HV_SAMPLE_CPU, NULL, NULL), HV_OK);
    /* finalized: sorted by UUID */
    ck_assert_str_eq(snap_domain_name(s, snap_domain(s, 0)), "a");
    ck_assert_int_eq(hv_set_memory(hv, u, 4096), HV_OK);
    ck_assert_uint_eq(r.kib, 4096);
    ck_assert_int_eq(hv_enable_memstats(hv, u, 5), HV_GONE);
    ck_assert_int_eq(r.period_s, 5);
    ck_assert_int_eq(hv_get_affinity(hv, u, 3, map, sizeof(map)), HV_OK);
    ck_assert_uint_eq(map[3], 3);
    ck_assert_int_eq(hv_reconnect(hv), HV_CONN); /* no reconnect op */
    hv_destroy(hv);
    ck_assert_int_eq(r.closed, 1);
    hv_destroy(NULL);
    snap_destroy(s);
}
END_TEST

START_TEST(pin_builds_single_cpu_maps)
{
    struct rec r = {0};
    struct hv *hv = hv_create(&rec_ops, &r);
    unsigned char u[SNAP_UUID_LEN] = {0};

    ck_assert_uint_eq(hv_maplen(1), 1);
    ck_assert_uint_eq(hv_maplen(8), 1);
    ck_assert_uint_eq(hv_maplen(9), 2);
    ck_assert_uint_eq(hv_maplen(1024), 128);
    ck_assert_int_eq(hv_pin_vcpu(hv, u, 2, 9, 12), HV_OK);
    ck_assert_uint_eq(r.vcpu, 2);
    ck_assert_uint_eq(r.maplen, 2);
    ck_assert_uint_eq(r.map[0], 0);
    ck_assert_uint_eq(r.map[1], 0x02);
    /* A large host: the map does not fit the stack buffer. */
    ck_assert_int_eq(hv_pin_vcpu(hv, u, 0, 1500, 2048), HV_OK);
    ck_assert_uint_eq(r.maplen, 256);
    for (size_t i = 0; i < 256; i++)
        ck_assert_uint_eq(r.map[i], i == 187 ? 0x10 : 0);
    ck_assert_int_eq(hv_pin_vcpu(hv, u, 0, 12, 12), HV_FAIL);
    ck_assert_int_eq(hv_pin_vcpu(hv, u, 0, -1, 12), HV_FAIL);
    hv_destroy(hv);
}
END_TEST

Suite *hv_suite(void)
{
    Suite *s = suite_create("hv");
    TCase *t = tcase_create("dispatch");

    tcase_add_test(t, dispatch_and_counts);
    tcase_add_test(t, pin_builds_single_cpu_maps);
    suite_add_tcase(s, t);
    return s;
}
