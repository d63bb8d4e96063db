/* Tests of logging: the journal's priority prefixes. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "suites.h"

/* "DEVICE:INODE" of FD, as systemd writes JOURNAL_STREAM; INO_DELTA changes the inode. */
static void stream_of(int fd, long ino_delta, char *buf, size_t size)
{
    struct stat st;

    ck_assert_int_eq(fstat(fd, &st), 0);
    snprintf(buf, size, "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino + ino_delta);
}

START_TEST(journal_stream_must_be_this_file)
{
    FILE *f = tmpfile();
    FILE *other = tmpfile();
    char env[64], tail[80];

    stream_of(fileno(f), 0, env, sizeof(env));
    ck_assert(log_journal_matches(env, fileno(f)));
    ck_assert(!log_journal_matches(env, fileno(other))); /* inherited, but stderr went elsewhere */
    stream_of(fileno(f), 1, env, sizeof(env));
    ck_assert(!log_journal_matches(env, fileno(f)));
    stream_of(fileno(f), 0, env, sizeof(env));
    snprintf(tail, sizeof(tail), "%sx", env);
    ck_assert(!log_journal_matches(tail, fileno(f)));
    ck_assert(!log_journal_matches(NULL, fileno(f)));
    ck_assert(!log_journal_matches("", fileno(f)));
    ck_assert(!log_journal_matches("12", fileno(f)));
    ck_assert(!log_journal_matches("a:b", fileno(f)));
    ck_assert(!log_journal_matches(env, -1));
    fclose(f);
    fclose(other);
}
END_TEST

START_TEST(prefixes_only_for_the_journal)
{
    log_set_journal(false);
    ck_assert_str_eq(log_priority_prefix(LOG_ERROR), "");
    ck_assert_str_eq(log_priority_prefix(LOG_WARNING), "");
    log_set_journal(true);
    ck_assert_str_eq(log_priority_prefix(LOG_ERROR), "<3>");
    ck_assert_str_eq(log_priority_prefix(LOG_WARNING), "<4>");
    ck_assert_str_eq(log_priority_prefix(LOG_INFO), "<6>");
    ck_assert_str_eq(log_priority_prefix(LOG_DEBUG), "<7>");
    log_set_journal(false);
}
END_TEST

/* Logs one line at each level to a file standing in for stderr; returns what was written. */
static char *log_lines(bool journal_env)
{
    char path[] = "/tmp/vmb-log.XXXXXX", env[64], *buf = calloc(1, 1024);
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    enum log_level level = log_get_level();
    const char *program = log_program();
    FILE *f;

    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    stream_of(fd, 0, env, sizeof(env));
    if (journal_env)
        setenv("JOURNAL_STREAM", env, 1);
    else
        unsetenv("JOURNAL_STREAM");
    log_detect_journal();
    log_set_program("t");
    log_set_level(LOG_DEBUG);
    log_error("e %d", 1);
    log_warning("w");
    log_info("i");
    log_debug("d");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    log_set_level(level);
    log_set_program(program);
    log_set_journal(false);
    unsetenv("JOURNAL_STREAM");
    f = fdopen(fd, "r");
    rewind(f);
    ck_assert_uint_gt(fread(buf, 1, 1023, f), 0);
    fclose(f);
    unlink(path);
    return buf;
}

START_TEST(lines_carry_their_priority_in_the_journal)
{
    char *text = log_lines(true);

    ck_assert_str_eq(text, "<3>t: error: e 1\n<4>t: warning: w\n<6>t: info: i\n<7>t: debug: d\n");
    free(text);
    text = log_lines(false);
    ck_assert_str_eq(text, "t: error: e 1\nt: warning: w\nt: info: i\nt: debug: d\n");
    free(text);
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *t = tcase_create("journal");

    tcase_add_test(t, journal_stream_must_be_this_file);
    tcase_add_test(t, prefixes_only_for_the_journal);
    tcase_add_test(t, lines_carry_their_priority_in_the_journal);
    suite_add_tcase(s, t);
    return s;
}
