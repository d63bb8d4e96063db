/* Tests of the shared command line: value parsers, patterns and whole argument vectors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "suites.h"
#include "testutil.h"

START_TEST(period_accepts_positive_decimals)
{
    static const struct {
        const char *in;
        double want;
    } ok[] = {{"2", 2}, {"0.5", 0.5}, {"1e1", 10}, {"86400", 86400}, {"0.1", 0.1}, {"3.", 3}};
    double v;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(cli_parse_period(ok[i].in, &v) == 0, "'%s' refused", ok[i].in);
        ck_assert_double_eq_tol(v, ok[i].want, 1e-12);
    }
}
END_TEST

START_TEST(period_refuses_everything_else)
{
    static const char *const bad[] = {"",     "0",     "-1",   "abc",   "5s",
                                      "1..2", "1e999", "inf",  "nan",   "0x10",
                                      " 2",   "2 ",    "0.05", "86401", "18446744073709551616",
                                      "+2",   ".",     "1e",   "2^64",  "1,5"};
    double v = 42;

    quiet_begin();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = cli_parse_period(bad[i], &v);
        quiet_end();
        ck_assert_msg(rc == -1, "'%s' accepted", bad[i]);
        quiet_begin();
    }
    quiet_end();
    ck_assert_double_eq(v, 42);
}
END_TEST

START_TEST(size_units)
{
    static const struct {
        const char *in;
        uint64_t kib;
    } ok[] = {{"100M", 102400},      {"1G", 1048576},  {"512K", 512},  {"1.5G", 1572864},
              {"2048KiB", 2048},     {"0", 0},         {"1024B", 1},   {"2g", 2097152},
              {"1T", 1073741824ull}, {"64MiB", 65536}, {"1e3K", 1000}, {"0M", 0}};
    uint64_t v;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(cli_parse_size_kib("x", ok[i].in, &v) == 0, "'%s' refused", ok[i].in);
        ck_assert_msg(v == ok[i].kib, "'%s' gave %llu", ok[i].in, (unsigned long long)v);
    }
}
END_TEST

START_TEST(size_refusals)
{
    static const char *const bad[] = {"",    "M",     "100",   "100X",  "-5M",  "1e999G",
                                      "5MM", "1..2M", "2^64",  "nanM",  "infG", " 5M",
                                      "5 M", "5M ",   "2000T", "0x10M", "1e",   "K5"};
    uint64_t v = 7;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        quiet_begin();
        rc = cli_parse_size_kib("x", bad[i], &v);
        quiet_end();
        ck_assert_msg(rc == -1, "'%s' accepted", bad[i]);
    }
    ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(number_range)
{
    double v;

    ck_assert_int_eq(cli_parse_number("t", "5", 0.1, 100, &v), 0);
    ck_assert_double_eq(v, 5);
    quiet_begin();
    ck_assert_int_eq(cli_parse_number("t", "0", 0.1, 100, &v), -1);
    ck_assert_int_eq(cli_parse_number("t", "101", 0.1, 100, &v), -1);
    ck_assert_int_eq(cli_parse_number("t", "-1", 0.1, 100, &v), -1);
    ck_assert_int_eq(cli_parse_number("t", "5%x", 0.1, 100, &v), -1);
    quiet_end();
}
END_TEST

START_TEST(globs)
{
    const char *g[] = {"lab-*", "db[0-9]"};

    ck_assert(cli_glob_valid("lab-*"));
    ck_assert(cli_glob_valid("[ab]c"));
    ck_assert(cli_glob_valid("x\\*"));
    ck_assert(cli_glob_valid("[]]"));
    ck_assert(!cli_glob_valid(""));
    ck_assert(!cli_glob_valid("[abc"));
    ck_assert(!cli_glob_valid("abc\\"));
    ck_assert(cli_match_any(g, 2, "lab-1"));
    ck_assert(cli_match_any(g, 2, "db7"));
    ck_assert(!cli_match_any(g, 2, "db10"));
    ck_assert(!cli_match_any(g, 2, "other"));
    ck_assert(cli_match_any(NULL, 0, "anything"));
}
END_TEST

/* A program with one option for the whole-vector tests. */
static int seen_key, seen_count;
static char seen_arg[64];

static int handle(void *ctx, int key, const char *arg)
{
    (void)ctx;
    seen_key = key;
    seen_count++;
    snprintf(seen_arg, sizeof(seen_arg), "%s", arg ? arg : "");
    if (arg && strcmp(arg, "bad") == 0) {
        cli_usage_error("bad value");
        return -1;
    }
    return 0;
}

static const struct cli_option opts[] = {{"knob", "N", "a knob", 300},
                                         {"flag", NULL, "a flag", 301}};

static int parse(struct cli_common *c, int argc, const char **argv)
{
    const struct cli_program p = {"prog", "summary", opts, 2, handle, NULL, NULL};
    int rc;

    seen_key = seen_count = 0;
    quiet_begin();
    rc = cli_parse(&p, argc, (char **)argv, c);
    quiet_end();
    return rc;
}

START_TEST(parse_full_vector)
{
    const char *argv[] = {"prog",      "-c", "test:///default", "--domains", "a*",
                          "--domains", "b*", "--once",          "--dry-run", "--json",
                          "-v",        "-v", "--knob",          "3",         "1.5",
                          NULL};
    struct cli_common c;

    ck_assert_int_eq(parse(&c, 15, argv), CLI_RUN);
    ck_assert_str_eq(c.uri, "test:///default");
    ck_assert_uint_eq(c.nglobs, 2);
    ck_assert_str_eq(c.globs[1], "b*");
    ck_assert(c.once && c.dry_run && c.json);
    ck_assert_int_eq(c.verbosity, 2);
    ck_assert_double_eq(c.period_s, 1.5);
    ck_assert_int_eq(seen_key, 300);
    ck_assert_str_eq(seen_arg, "3");
    cli_common_free(&c);
}
END_TEST

START_TEST(parse_default_uri_from_environment)
{
    const char *argv[] = {"prog", "2", NULL};
    struct cli_common c;

    setenv("LIBVIRT_DEFAULT_URI", "test:///env", 1);
    ck_assert_int_eq(parse(&c, 2, argv), CLI_RUN);
    ck_assert_str_eq(c.uri, "test:///env");
    cli_common_free(&c);
    unsetenv("LIBVIRT_DEFAULT_URI");
    ck_assert_int_eq(parse(&c, 2, argv), CLI_RUN);
    ck_assert_str_eq(c.uri, CLI_DEFAULT_URI);
    ck_assert_int_eq(c.verbosity, 0);
    cli_common_free(&c);
}
END_TEST

START_TEST(parse_help_and_version_exit_ok)
{
    const char *h[] = {"prog", "--help", NULL}, *v[] = {"prog", "-V", NULL};
    struct cli_common c;

    ck_assert_int_eq(parse(&c, 2, h), CLI_EXIT_OK);
    cli_common_free(&c);
    ck_assert_int_eq(parse(&c, 2, v), CLI_EXIT_OK);
    cli_common_free(&c);
}
END_TEST

START_TEST(parse_usage_errors)
{
    static const char *const cases[][5] = {
            {"prog", NULL},                                  /* missing PERIOD */
            {"prog", "1", "2", NULL},                        /* extra argument */
            {"prog", "--nope", "1", NULL},                   /* unknown option */
            {"prog", "-x", "1", NULL},                       /* unknown short option */
            {"prog", "-5", NULL},                            /* negative period */
            {"prog", "--domains", NULL},                     /* missing value */
            {"prog", "--domains", "", "1", NULL},            /* empty pattern */
            {"prog", "--domains", "[x", "1", NULL},          /* bad pattern */
            {"prog", "-c", "", "1", NULL},                   /* empty URI */
            {"prog", "--knob", "bad", "1", NULL},            /* program option refused */
            {"prog", "--knob", NULL},                        /* program option without value */
            {"prog", "0", NULL},                             /* zero period */
            {"prog", "--once=yes", "1", NULL},               /* flag with a value */
            {"prog", "--metrics-file", "", "1", NULL},       /* empty path */
            {"prog", "--metrics-file", NULL},                /* missing path */
            {"prog", "--once", "--keep-running", "1", NULL}, /* a service that stops */
    };
    struct cli_common c;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int argc = 0;
        while (cases[i][argc])
            argc++;
        ck_assert_msg(parse(&c, argc, (const char **)cases[i]) == CLI_EXIT_USAGE,
                      "case %zu accepted", i);
        cli_common_free(&c);
    }
}
END_TEST

START_TEST(parse_service_options)
{
    const char *argv[] = {"prog", "--keep-running", "--metrics-file", "/x/y.prom", "2", NULL};
    const char *plain[] = {"prog", "2", NULL};
    struct cli_common c;

    ck_assert_int_eq(parse(&c, 5, argv), CLI_RUN);
    ck_assert(c.keep_running && !c.once);
    ck_assert_str_eq(c.metrics_file, "/x/y.prom");
    cli_common_free(&c);
    ck_assert_int_eq(parse(&c, 2, plain), CLI_RUN);
    ck_assert(!c.keep_running);
    ck_assert_ptr_null(c.metrics_file);
    cli_common_free(&c);
}
END_TEST

START_TEST(parse_quiet)
{
    const char *argv[] = {"prog", "-q", "--flag", "3", NULL};
    struct cli_common c;

    ck_assert_int_eq(parse(&c, 4, argv), CLI_RUN);
    ck_assert_int_eq(c.verbosity, -1);
    ck_assert_int_eq(seen_key, 301);
    cli_common_free(&c);
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *values = tcase_create("values");
    TCase *vectors = tcase_create("vectors");

    tcase_add_test(values, period_accepts_positive_decimals);
    tcase_add_test(values, period_refuses_everything_else);
    tcase_add_test(values, size_units);
    tcase_add_test(values, size_refusals);
    tcase_add_test(values, number_range);
    tcase_add_test(values, globs);
    tcase_add_test(vectors, parse_full_vector);
    tcase_add_test(vectors, parse_default_uri_from_environment);
    tcase_add_test(vectors, parse_help_and_version_exit_ok);
    tcase_add_test(vectors, parse_usage_errors);
    tcase_add_test(vectors, parse_quiet);
    tcase_add_test(vectors, parse_service_options);
    suite_add_tcase(s, values);
    suite_add_tcase(s, vectors);
    return s;
}
