/* Logging to stderr with levels. */
#include "log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *program = "vmbalance";
static enum log_level max_level = LOG_INFO;
static bool journal; /* stderr is the journal: lines start with their priority */

void log_set_program(const char *name)
{
    if (name)
        program = name;
}

const char *log_program(void)
{
    return program;
}

void log_set_level(enum log_level level)
{
    max_level = level;
}

enum log_level log_get_level(void)
{
    return max_level;
}

bool log_enabled(enum log_level level)
{
    return level <= max_level;
}

bool log_journal_matches(const char *env, int fd)
{
    uintmax_t dev, ino;
    struct stat st;
    char tail;

    /* As sd_journal_stream_fd() readers do: the variable alone is inherited by children whose
     * stderr goes elsewhere; only the same device and inode say it is still the journal. */
    if (!env || sscanf(env, "%ju:%ju%c", &dev, &ino, &tail) != 2 || fstat(fd, &st) < 0)
        return false;
    return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void log_detect_journal(void)
{
    journal = log_journal_matches(getenv("JOURNAL_STREAM"), STDERR_FILENO);
}

void log_set_journal(bool on)
{
    journal = on;
}

const char *log_priority_prefix(enum log_level level)
{
    static const char *const prefixes[] = {"<3>", "<4>", "<6>", "<7>"};

    return journal && (unsigned)level <= LOG_DEBUG ? prefixes[level] : "";
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    va_list ap;

    if (!log_enabled(level))
        return;
    va_start(ap, fmt);
    /* clang-analyzer 14 misses the va_start above: */
    vsnprintf(line, sizeof(line), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap);
    /* One fprintf per line so concurrent writers do not interleave within a line. */
    fprintf(stderr, "%s%s: %s: %s\n", log_priority_prefix(level), program, names[level], line);
}
