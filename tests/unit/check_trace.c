/* Recorded hosts: the trace reader (tests/trace.c) on the traces kept in tests/traces/. */
#include <stdio.h>
#include <string.h>

#include "suites.h"
#include "trace.h"

#define TRACES "tests/traces/"

static struct trace *load(const char *name)
{
    char path[256], why[512];
    struct trace *t;

    snprintf(path, sizeof(path), TRACES "%s", name);
    t = trace_load(path, why, sizeof(why));
    ck_assert_msg(t != NULL, "%s", why);
    return t;
}

START_TEST(reads_a_trace)
{
    struct trace *t = load("mem-one-grows.trace.gz");
    long d = trace_dom_find(t, "vmlab-1");
    struct snap *s = snap_create();
    uint64_t v = 0;

    ck_assert_int_gt(trace_ncpus(t), 0);
    ck_assert_int_ge(d, 0);
    ck_assert_int_gt(trace_nsamples(t, (size_t)d), 100);
    ck_assert(trace_u64(t, (size_t)d, 0, "balloon.maximum", &v));
    ck_assert_uint_eq(v, 2048 * 1024);
    ck_assert_int_eq(trace_snap(t, trace_start(t) + 10, HV_SAMPLE_MEM | HV_SAMPLE_CPU, s), 0);
    ck_assert_uint_eq(snap_domain_count(s), 4);
    ck_assert(snap_domain(s, 0)->mem.flags & SNAP_MEM_USABLE);
    ck_assert_uint_eq(snap_domain(s, 0)->mem.max_kib, 2048 * 1024);
    snap_destroy(s);
    trace_free(t);
}
END_TEST

START_TEST(rejects_what_is_not_a_trace)
{
    char why[256];
    const char *path = "build/not-a-trace.txt";
    FILE *f = fopen(path, "w");

    ck_assert(f != NULL);
    fputs("C ncpus=2\nD 1.0\nQ what\n", f);
    fclose(f);
    ck_assert(trace_load(path, why, sizeof(why)) == NULL);
    ck_assert_msg(strstr(why, "line 2") != NULL, "%s", why);
    ck_assert(trace_load("build/no-such-trace", why, sizeof(why)) == NULL);
    remove(path);
}
END_TEST

Suite *trace_suite(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("reader");

    tcase_add_test(tc, reads_a_trace);
    tcase_add_test(tc, rejects_what_is_not_a_trace);
    suite_add_tcase(s, tc);
    return s;
}
