/* Command-line handling both programs share: common options, value parsers, help and errors. */
#ifndef VMB_CLI_H
#define VMB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_DEFAULT_URI "qemu:///system"
#define CLI_PERIOD_MIN  0.1
#define CLI_PERIOD_MAX  86400.0

/* Exit statuses, as documented in the man pages. */
enum { EXIT_DONE = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* The options every program has, after parsing. Strings point into argv (not owned). */
struct cli_common {
    const char *uri;    /* -c, else $LIBVIRT_DEFAULT_URI, else CLI_DEFAULT_URI */
    const char **globs; /* --domains, repeatable; owned array: cli_common_free() */
    size_t nglobs, cap_globs;
    bool once, dry_run, json;
    bool keep_running;        /* --keep-running: wait for managed domains instead of exiting */
    const char *metrics_file; /* --metrics-file, or NULL */
    int verbosity;            /* -1 quiet, 0 normal, 1+ verbose */
    double period_s;
};

/* A program-specific option. */
struct cli_option {
    const char *name; /* long name, without "--" */
    const char *arg;  /* argument name shown in help, or NULL for a flag */
    const char *help; /* help text; '\n' starts a continuation line */
    int key;          /* passed to the handler; must be >= 256 */
};

/* What cli_parse() needs to know about a program. */
struct cli_program {
    const char *name;    /* program name, e.g. "vcpu_scheduler" */
    const char *summary; /* one sentence on what it does */
    const struct cli_option *options;
    size_t noptions;
    /* Handles a program option; returns 0, or -1 after cli_usage_error(). */
    int (*handle)(void *ctx, int key, const char *arg);
    void *ctx;
    const char *notes; /* extra help paragraph (may be NULL) */
};

/* Results of cli_parse(). */
enum { CLI_RUN = 0, CLI_EXIT_OK = 1, CLI_EXIT_USAGE = 2 };

/* Parses ARGV into OUT. Prints help/version (CLI_EXIT_OK) or a one-line usage error
 * (CLI_EXIT_USAGE) itself. Free OUT with cli_common_free() in every case. */
int cli_parse(const struct cli_program *prog, int argc, char **argv, struct cli_common *out);

/* Frees what cli_parse() allocated in C; accepts a zeroed C. */
void cli_common_free(struct cli_common *c);

/* Prints "PROGRAM: error: MESSAGE (see 'PROGRAM --help')" to stderr. */
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a period in seconds (a plain decimal number within the allowed range). */
int cli_parse_period(const char *s, double *out);

/* Parses a plain decimal number (digits, optional fraction and exponent) within [MIN, MAX]
 * for option OPT. */
int cli_parse_number(const char *opt, const char *s, double min, double max, double *out);

/* Parses a size with a unit (B, K, M, G, T; KiB etc. also accepted) into KiB, for OPT. */
int cli_parse_size_kib(const char *opt, const char *s, uint64_t *kib);

/* Returns true when GLOB is a usable fnmatch(3) pattern (non-empty, brackets closed). */
bool cli_glob_valid(const char *glob);

/* Returns true when NAME matches one of the N GLOBS (N == 0 matches everything). */
bool cli_match_any(const char *const *globs, size_t n, const char *name);

/* hv_filter_fn adapter over a struct cli_common's --domains globs. */
bool cli_filter_domains(const char *name, void *common);

/* The version string of the project. */
const char *cli_version(void);

#endif
