/* Tests of the metrics writer: the text format, escaping of user input, atomic replacement. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "suites.h"
#include "testutil.h"

/* The text of one gauge sample labelled domain=VALUE. */
static char *sample_text(const char *value)
{
    struct metrics *m = metrics_create(NULL);
    struct metrics_label l = {"domain", value};
    char *copy;

    metrics_family(m, "x", METRICS_GAUGE, "h");
    metrics_sample(m, &l, 1, 1);
    copy = strdup(metrics_text(m, NULL));
    metrics_destroy(m);
    return copy;
}

static void assert_label(const char *value, const char *escaped)
{
    char *text = sample_text(value);
    char want[512];

    snprintf(want, sizeof(want), "# HELP x h\n# TYPE x gauge\nx{domain=\"%s\"} 1\n", escaped);
    ck_assert_str_eq(text, want);
    free(text);
}

START_TEST(escapes_quotes_backslashes_newlines)
{
    assert_label("plain", "plain");
    assert_label("a\"b", "a\\\"b");
    assert_label("a\\b", "a\\\\b");
    assert_label("a\nb", "a\\nb");
    assert_label("\\\"\n", "\\\\\\\"\\n");
    assert_label("", "");
    assert_label("tab\tcr\r{}=,", "tab\tcr\r{}=,"); /* legal inside quotes */
}
END_TEST

START_TEST(utf8_passes_through)
{
    assert_label("caf\xc3\xa9", "caf\xc3\xa9");                           /* é */
    assert_label("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"); /* 日本 */
    assert_label("\xf0\x9f\x99\x82", "\xf0\x9f\x99\x82");                 /* U+1F642 */
    assert_label("\xef\xbf\xbf", "\xef\xbf\xbf");                         /* U+FFFF */
    assert_label("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");                 /* U+10FFFF */
}
END_TEST

#define FFFD "\xef\xbf\xbd"

START_TEST(invalid_utf8_is_replaced)
{
    assert_label("a\xff"
                 "b",
                 "a" FFFD "b");
    assert_label("\x80", FFFD);                            /* a lone continuation byte */
    assert_label("\xc0\xaf", FFFD FFFD);                   /* overlong '/' */
    assert_label("\xe0\x80\xaf", FFFD FFFD FFFD);          /* overlong, 3 bytes */
    assert_label("\xed\xa0\x80", FFFD FFFD FFFD);          /* a UTF-16 surrogate */
    assert_label("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* above U+10FFFF */
    assert_label("x\xe6\x97", "x" FFFD FFFD);              /* cut short at the end */
    assert_label("\xe6\x97\"", FFFD FFFD "\\\"");          /* cut short by a quote */
}
END_TEST

START_TEST(help_escapes_backslash_and_newline_only)
{
    struct metrics *m = metrics_create(NULL);

    metrics_family(m, "y_total", METRICS_COUNTER, "a \"b\" \\ c\nd");
    metrics_sample(m, NULL, 0, 3);
    ck_assert_str_eq(metrics_text(m, NULL),
                     "# HELP y_total a \"b\" \\\\ c\\nd\n# TYPE y_total counter\ny_total 3\n");
    metrics_destroy(m);
}
END_TEST

static void assert_value(double v, const char *text)
{
    struct metrics *m = metrics_create(NULL);
    char want[128];

    metrics_single(m, "v", METRICS_GAUGE, "h", v);
    snprintf(want, sizeof(want), "# HELP v h\n# TYPE v gauge\nv %s\n", text);
    ck_assert_str_eq(metrics_text(m, NULL), want);
    metrics_destroy(m);
}

START_TEST(numbers)
{
    assert_value(0, "0");
    assert_value(-0.0, "0");
    assert_value(1, "1");
    assert_value(-1, "-1");
    assert_value(0.5, "0.5");
    assert_value(0.1, "0.1");
    assert_value(9007199254740993.0, "9007199254740992"); /* 2^53 + 1 is not a double */
    assert_value(1125899906842624.0, "1125899906842624"); /* 1 PiB in bytes: in full */
    assert_value(1e20, "1e+20");
    assert_value(1.5e-9, "1.5e-09");
    assert_value(NAN, "NaN");
    assert_value(INFINITY, "+Inf");
    assert_value(-INFINITY, "-Inf");
}
END_TEST

START_TEST(families_and_samples)
{
    struct metrics *m = metrics_create(NULL);
    struct metrics_label l[] = {{"domain", "d"}, {"vcpu", "1"}};
    size_t len;

    metrics_sample(m, NULL, 0, 1); /* no family yet: ignored */
    ck_assert_str_eq(metrics_text(m, &len), "");
    ck_assert_uint_eq(len, 0);
    metrics_family(m, "a", METRICS_GAUGE, "A.");
    metrics_sample(m, l, 2, 2);
    metrics_sample(m, l, 1, 3);
    ck_assert_str_eq(metrics_text(m, &len), "# HELP a A.\n# TYPE a gauge\n"
                                            "a{domain=\"d\",vcpu=\"1\"} 2\na{domain=\"d\"} 3\n");
    ck_assert_uint_eq(len, strlen(metrics_text(m, NULL)));
    metrics_begin(m);
    ck_assert_str_eq(metrics_text(m, NULL), "");
    metrics_sample(m, NULL, 0, 1); /* begin forgets the family too */
    ck_assert_str_eq(metrics_text(m, NULL), "");
    ck_assert_int_eq(metrics_write(m), 0); /* no file: nothing to do */
    metrics_destroy(m);
    metrics_destroy(NULL);
}
END_TEST

/* A fresh directory under /tmp for one test; the caller removes it. */
static char *temp_dir(void)
{
    char *dir = strdup("/tmp/vmb-metrics.XXXXXX");

    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

START_TEST(writes_the_file_readable_by_all)
{
    char *dir = temp_dir(), path[256], tmp[300], *text;
    struct metrics *m;
    struct stat st;
    mode_t old = umask(077);

    snprintf(path, sizeof(path), "%s/x.prom", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    m = metrics_create(path);
    metrics_single(m, "a", METRICS_GAUGE, "A.", 1);
    ck_assert_int_eq(metrics_write(m), 0);
    text = read_all(path);
    ck_assert_str_eq(text, "# HELP a A.\n# TYPE a gauge\na 1\n");
    free(text);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0644); /* a collector running as another user reads it */
    ck_assert_int_ne(access(tmp, F_OK), 0);     /* no temporary file left behind */
    metrics_begin(m);
    metrics_single(m, "b", METRICS_GAUGE, "B.", 2);
    ck_assert_int_eq(metrics_write(m), 0);
    text = read_all(path);
    ck_assert_str_eq(text, "# HELP b B.\n# TYPE b gauge\nb 2\n");
    free(text);
    umask(old);
    metrics_destroy(m);
    unlink(path);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(a_failed_write_is_survived)
{
    char *dir = temp_dir(), sub[256], path[300], *text;
    struct metrics *m;

    snprintf(sub, sizeof(sub), "%s/missing", dir);
    snprintf(path, sizeof(path), "%s/x.prom", sub);
    m = metrics_create(path);
    metrics_single(m, "a", METRICS_GAUGE, "A.", 1);
    quiet_begin();
    ck_assert_int_eq(metrics_write(m), -1);
    ck_assert_int_eq(metrics_write(m), -1);
    quiet_end();
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    quiet_begin();
    ck_assert_int_eq(metrics_write(m), 0); /* the directory appeared: written again */
    quiet_end();
    text = read_all(path);
    ck_assert_str_eq(text, "# HELP a A.\n# TYPE a gauge\na 1\n");
    free(text);
    metrics_destroy(m);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
    free(dir);
}
END_TEST

/* Atomic replacement: a writer rewrites the file with texts of very different sizes while a
 * reader reads it over and over; every read must be one whole text, never a part or a mix. */
struct race {
    const char *path;
    atomic_bool done;
    int reads, bad;
};

/* Text K: K + 1 samples of x, then the count of them as the last line. */
static void build_version(struct metrics *m, int k)
{
    metrics_begin(m);
    metrics_family(m, "x", METRICS_GAUGE, "h");
    for (int i = 0; i <= k; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        metrics_sample(m, (const struct metrics_label[]){{"i", id}}, 1, k);
    }
    metrics_single(m, "count", METRICS_GAUGE, "h", k + 1);
}

/* Returns true when TEXT is a whole version. */
static bool whole(const char *text)
{
    const char *last;
    int samples = 0, count = -1;

    for (const char *p = text; (p = strstr(p, "\nx{")); p++)
        samples++;
    last = strstr(text, "\ncount ");
    if (!last || sscanf(last, "\ncount %d", &count) != 1)
        return false;
    return count == samples && text[strlen(text) - 1] == '\n';
}

static void *reader(void *arg)
{
    struct race *r = arg;

    while (!atomic_load(&r->done)) {
        char *text = read_all(r->path);
        if (!text)
            continue; /* before the first write */
        r->reads++;
        if (!whole(text))
            r->bad++;
        free(text);
    }
    return NULL;
}

START_TEST(a_reader_never_sees_a_partial_file)
{
    char *dir = temp_dir(), path[256];
    struct race r = {.path = path};
    struct metrics *m;
    pthread_t t;

    snprintf(path, sizeof(path), "%s/race.prom", dir);
    m = metrics_create(path);
    ck_assert_int_eq(pthread_create(&t, NULL, reader, &r), 0);
    for (int i = 0; i < 400; i++) {
        build_version(m, (i * 7919) % 3000); /* from one line to about 100 KiB, in any order */
        ck_assert_int_eq(metrics_write(m), 0);
    }
    atomic_store(&r.done, true);
    pthread_join(t, NULL);
    ck_assert_int_gt(r.reads, 0);
    ck_assert_int_eq(r.bad, 0);
    metrics_destroy(m);
    unlink(path);
    rmdir(dir);
    free(dir);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *t = tcase_create("format");
    TCase *f = tcase_create("file");

    tcase_add_test(t, escapes_quotes_backslashes_newlines);
    tcase_add_test(t, utf8_passes_through);
    tcase_add_test(t, invalid_utf8_is_replaced);
    tcase_add_test(t, help_escapes_backslash_and_newline_only);
    tcase_add_test(t, numbers);
    tcase_add_test(t, families_and_samples);
    suite_add_tcase(s, t);
    tcase_set_timeout(f, 120);
    tcase_add_test(f, writes_the_file_readable_by_all);
    tcase_add_test(f, a_failed_write_is_survived);
    tcase_add_test(f, a_reader_never_sees_a_partial_file);
    suite_add_tcase(s, f);
    return s;
}
