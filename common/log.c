/* Logging to stderr with levels. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *program = "vmbalance";
static enum log_level max_level = LOG_INFO;

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
    fprintf(stderr, "%s: %s: %s\n", program, names[level], line);
}
