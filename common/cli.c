/* Command-line handling both programs share. */
#define _GNU_SOURCE
#include "cli.h"

#include <ctype.h>
#include <fnmatch.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#ifndef VMB_VERSION
#define VMB_VERSION "0.0.0"
#endif

/* Keys of the common options without a short form. */
enum { KEY_DOMAINS = 1, KEY_ONCE, KEY_DRY_RUN, KEY_JSON, KEY_KEEP_RUNNING, KEY_METRICS_FILE };

static const char *prog_name = "vmbalance";

static const struct cli_option common_before[] = {
        {"connect", "URI",
         "hypervisor connection URI\n(default: $LIBVIRT_DEFAULT_URI, else " CLI_DEFAULT_URI ")",
         'c'},
        {"domains", "GLOB",
         "manage only active domains whose name matches GLOB\n(shell pattern; repeatable; default: all)",
         KEY_DOMAINS},
};

static const struct cli_option common_after[] = {
        {"once", NULL, "sample, wait PERIOD, decide and act once, then exit", KEY_ONCE},
        {"dry-run", NULL, "decide and log, but change nothing", KEY_DRY_RUN},
        {"json", NULL, "print one JSON object per period on stdout", KEY_JSON},
        {"keep-running", NULL,
         "with no managed domain left, wait for one instead\nof exiting (for services; new domains are seen\nas they start)",
         KEY_KEEP_RUNNING},
        {"metrics-file", "PATH",
         "write Prometheus metrics to PATH every period\n(replaced atomically: for node_exporter's textfile\ncollector)",
         KEY_METRICS_FILE},
        {"verbose", NULL, "log more detail (repeatable)", 'v'},
        {"quiet", NULL, "print only warnings and errors", 'q'},
        {"help", NULL, "show this help and exit", 'h'},
        {"version", NULL, "show the version and exit", 'V'},
};

const char *cli_version(void)
{
    return VMB_VERSION;
}

void cli_usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    /* clang-analyzer 14 misses the va_start above: */
    vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap);
    fprintf(stderr, "%s%s: error: %s (see '%s --help')\n", log_priority_prefix(LOG_ERROR),
            prog_name, msg, prog_name);
}

static void print_option(FILE *out, const struct cli_option *o)
{
    char left[64];
    const char *h = o->help;
    size_t n;

    if (o->key < 256 && isalpha(o->key))
        snprintf(left, sizeof(left), "-%c, --%s%s%s", o->key, o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    else
        snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    n = strcspn(h, "\n");
    fprintf(out, "  %-24s %.*s\n", left, (int)n, h);
    while (h[n] == '\n') {
        h += n + 1;
        n = strcspn(h, "\n");
        fprintf(out, "  %-24s %.*s\n", "", (int)n, h);
    }
}

static void print_help(const struct cli_program *p)
{
    FILE *out = stdout;

    fprintf(out, "Usage: %s [OPTIONS] PERIOD\n%s\n\n", p->name, p->summary);
    fprintf(out, "PERIOD is in seconds: a positive number such as 2 or 0.5 (%g to %g).\n\n",
            CLI_PERIOD_MIN, CLI_PERIOD_MAX);
    fputs("Options:\n", out);
    for (size_t i = 0; i < sizeof(common_before) / sizeof(common_before[0]); i++)
        print_option(out, &common_before[i]);
    for (size_t i = 0; i < p->noptions; i++)
        print_option(out, &p->options[i]);
    for (size_t i = 0; i < sizeof(common_after) / sizeof(common_after[0]); i++)
        print_option(out, &common_after[i]);
    if (p->notes)
        fprintf(out, "\n%s\n", p->notes);
    fputs("\nSignals: SIGINT and SIGTERM stop it cleanly (exit 0); SIGHUP is ignored.\n"
          "Exit status: 0 done (no managed domain left, unless --keep-running; a stop\n"
          "signal; or --once), 1 runtime failure (e.g. cannot connect), 2 usage error.\n",
          out);
    fprintf(out, "See %s(8).\n", p->name);
}

static void add_long(struct option *lo, size_t *n, const struct cli_option *o)
{
    lo[*n].name = o->name;
    lo[*n].has_arg = o->arg ? required_argument : no_argument;
    lo[*n].flag = NULL;
    lo[*n].val = o->key;
    (*n)++;
}

/* Returns the text of a long option name for KEY, for error messages. */
static const char *option_name(const struct cli_program *p, int key)
{
    for (size_t i = 0; i < sizeof(common_before) / sizeof(common_before[0]); i++)
        if (common_before[i].key == key)
            return common_before[i].name;
    for (size_t i = 0; i < p->noptions; i++)
        if (p->options[i].key == key)
            return p->options[i].name;
    return "?";
}

static bool looks_negative_number(const char *s)
{
    return s && s[0] == '-' && (isdigit((unsigned char)s[1]) || s[1] == '.');
}

/* Returns getopt_long()'s table of every option of P (free it), or NULL when out of memory. */
static struct option *long_options(const struct cli_program *p)
{
    size_t n = 0, total = sizeof(common_before) / sizeof(common_before[0]) + p->noptions +
                          sizeof(common_after) / sizeof(common_after[0]) + 1;
    struct option *lo = calloc(total, sizeof(*lo));

    if (!lo)
        return NULL;
    for (size_t i = 0; i < sizeof(common_before) / sizeof(common_before[0]); i++)
        add_long(lo, &n, &common_before[i]);
    for (size_t i = 0; i < p->noptions; i++)
        add_long(lo, &n, &p->options[i]);
    for (size_t i = 0; i < sizeof(common_after) / sizeof(common_after[0]); i++)
        add_long(lo, &n, &common_after[i]);
    return lo;
}

/* One command line being parsed. */
struct cmdline {
    const struct cli_program *prog;
    struct cli_common *out;
    int argc;
    char **argv;
};

/* Adds a --domains pattern; returns CLI_RUN or CLI_EXIT_USAGE (said). */
static int add_glob(struct cli_common *out, const char *glob)
{
    if (!cli_glob_valid(glob)) {
        cli_usage_error("invalid domain pattern '%s' for '--domains'", glob);
        return CLI_EXIT_USAGE;
    }
    if (util_grow((void **)&out->globs, &out->cap_globs, out->nglobs + 1, sizeof(*out->globs)) <
        0) {
        cli_usage_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    out->globs[out->nglobs++] = glob;
    return CLI_RUN;
}

/* Says what is wrong with the option getopt_long() refused (C is ':' or '?') at PREV_OPTIND. */
static void option_error(const struct cmdline *cl, int c, int prev_optind)
{
    const char *bad = cl->argv[optind - 1];

    if (c == ':') {
        if (optopt >= 256 || optopt == 'c')
            cli_usage_error("option '--%s' needs a value", option_name(cl->prog, optopt));
        else
            cli_usage_error("option '%s' needs a value", cl->argv[prev_optind]);
    } else if (prev_optind < cl->argc && looks_negative_number(cl->argv[prev_optind])) {
        cli_usage_error("PERIOD must be a positive number of seconds, not '%s'",
                        cl->argv[prev_optind]);
    } else if (optopt && optopt < 256 && bad && bad[0] == '-' && bad[1] != '-') {
        cli_usage_error("unknown option '-%c'", optopt);
    } else {
        cli_usage_error("unknown option '%s'", bad ? bad : "?");
    }
}

/* Applies option C (with optarg) found at PREV_OPTIND. Returns CLI_RUN to go on, else what
 * cli_parse() returns (help and version printed, errors said). */
static int apply_option(const struct cmdline *cl, int c, int prev_optind)
{
    struct cli_common *out = cl->out;

    switch (c) {
    case 'c':
        if (!*optarg) {
            cli_usage_error("option '--connect' needs a non-empty URI");
            return CLI_EXIT_USAGE;
        }
        out->uri = optarg;
        return CLI_RUN;
    case KEY_DOMAINS:
        return add_glob(out, optarg);
    case KEY_ONCE:
        out->once = true;
        return CLI_RUN;
    case KEY_DRY_RUN:
        out->dry_run = true;
        return CLI_RUN;
    case KEY_JSON:
        out->json = true;
        return CLI_RUN;
    case KEY_KEEP_RUNNING:
        out->keep_running = true;
        return CLI_RUN;
    case KEY_METRICS_FILE:
        if (!*optarg) {
            cli_usage_error("option '--metrics-file' needs a non-empty PATH");
            return CLI_EXIT_USAGE;
        }
        out->metrics_file = optarg;
        return CLI_RUN;
    case 'v':
        out->verbosity = out->verbosity < 0 ? 1 : out->verbosity + 1;
        return CLI_RUN;
    case 'q':
        out->verbosity = -1;
        return CLI_RUN;
    case 'h':
        print_help(cl->prog);
        return CLI_EXIT_OK;
    case 'V':
        printf("%s (vmbalance) %s\n", cl->prog->name, VMB_VERSION);
        return CLI_EXIT_OK;
    case ':':
    case '?':
        option_error(cl, c, prev_optind);
        return CLI_EXIT_USAGE;
    default:
        if (c >= 256 && cl->prog->handle)
            return cl->prog->handle(cl->prog->ctx, c, optarg) < 0 ? CLI_EXIT_USAGE : CLI_RUN;
        cli_usage_error("unknown option '%s'", cl->argv[prev_optind]);
        return CLI_EXIT_USAGE;
    }
}

/* Reads the one positional argument, PERIOD, at optind; then settles the default URI. */
static int parse_positional(const struct cmdline *cl)
{
    const char *env;

    if (optind >= cl->argc) {
        cli_usage_error("missing PERIOD (seconds between samples)");
        return CLI_EXIT_USAGE;
    }
    if (optind + 1 < cl->argc) {
        cli_usage_error("unexpected argument '%s' after PERIOD", cl->argv[optind + 1]);
        return CLI_EXIT_USAGE;
    }
    if (cli_parse_period(cl->argv[optind], &cl->out->period_s) < 0)
        return CLI_EXIT_USAGE;
    if (cl->out->once && cl->out->keep_running) {
        cli_usage_error("'--once' and '--keep-running' exclude each other");
        return CLI_EXIT_USAGE;
    }
    if (!cl->out->uri) {
        env = getenv("LIBVIRT_DEFAULT_URI");
        cl->out->uri = env && *env ? env : CLI_DEFAULT_URI;
    }
    return CLI_RUN;
}

int cli_parse(const struct cli_program *p, int argc, char **argv, struct cli_common *out)
{
    struct cmdline cl;
    struct option *lo;
    int rc = CLI_RUN;

    memset(out, 0, sizeof(*out));
    cl = (struct cmdline){p, out, argc, argv};
    prog_name = p->name;
    lo = long_options(p);
    if (!lo) {
        fprintf(stderr, "%s: error: out of memory\n", p->name);
        return CLI_EXIT_USAGE;
    }
    opterr = 0;
    optind = 1;
    while (rc == CLI_RUN) {
        int prev_optind = optind;
        int c = getopt_long(argc, argv, ":c:vqhV", lo, NULL);

        if (c == -1)
            break;
        rc = apply_option(&cl, c, prev_optind);
    }
    if (rc == CLI_RUN)
        rc = parse_positional(&cl);
    free(lo);
    return rc;
}

void cli_common_free(struct cli_common *c)
{
    free(c->globs);
    c->globs = NULL;
    c->nglobs = 0;
    c->cap_globs = 0;
}

/* Checks S is a plain decimal: digits, optional fraction, optional exponent; nothing else. */
static bool plain_decimal(const char *s, size_t len)
{
    size_t i = 0, digits = 0;

    while (i < len && isdigit((unsigned char)s[i])) {
        i++;
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && isdigit((unsigned char)s[i])) {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t ed = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        while (i < len && isdigit((unsigned char)s[i])) {
            i++;
            ed++;
        }
        if (ed == 0)
            return false;
    }
    return i == len;
}

/* Converts the first LEN chars of S (already checked) to a double; false if not finite. */
static bool to_double(const char *s, size_t len, double *out)
{
    char buf[128];

    if (len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    return isfinite(*out);
}

int cli_parse_period(const char *s, double *out)
{
    double v;

    if (!plain_decimal(s, strlen(s)) || !to_double(s, strlen(s), &v) || v <= 0) {
        cli_usage_error("PERIOD must be a positive number of seconds, not '%s'", s);
        return -1;
    }
    if (v < CLI_PERIOD_MIN || v > CLI_PERIOD_MAX) {
        cli_usage_error("PERIOD '%s' is out of range (%g to %g seconds)", s, CLI_PERIOD_MIN,
                        CLI_PERIOD_MAX);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_number(const char *opt, const char *s, double min, double max, double *out)
{
    double v;

    if (!plain_decimal(s, strlen(s)) || !to_double(s, strlen(s), &v)) {
        cli_usage_error("'--%s' needs a number, not '%s'", opt, s);
        return -1;
    }
    if (v < min || v > max) {
        cli_usage_error("'--%s' value '%s' is out of range (%g to %g)", opt, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_size_kib(const char *opt, const char *s, uint64_t *kib)
{
    size_t len = strlen(s), num = 0;
    const char *unit;
    double v, mult;

    while (num < len &&
           (isdigit((unsigned char)s[num]) || s[num] == '.' || s[num] == 'e' || s[num] == 'E' ||
            ((s[num] == '+' || s[num] == '-') && num > 0 &&
             (s[num - 1] == 'e' || s[num - 1] == 'E'))))
        num++;
    /* "1e" would swallow a unit-less exponent; let the unit be a trailing letter instead. */
    while (num > 0 && (s[num - 1] == 'e' || s[num - 1] == 'E'))
        num--;
    unit = s + num;
    if (num == 0 || !plain_decimal(s, num) || !to_double(s, num, &v)) {
        cli_usage_error("'--%s' needs a size such as 512M or 2G, not '%s'", opt, s);
        return -1;
    }
    if (strcasecmp(unit, "B") == 0)
        mult = 1.0 / 1024;
    else if (!strcasecmp(unit, "K") || !strcasecmp(unit, "KiB") || !strcasecmp(unit, "KB") ||
             (*unit == '\0' && v == 0)) /* a bare 0 needs no unit */
        mult = 1;
    else if (!strcasecmp(unit, "M") || !strcasecmp(unit, "MiB") || !strcasecmp(unit, "MB"))
        mult = 1024;
    else if (!strcasecmp(unit, "G") || !strcasecmp(unit, "GiB") || !strcasecmp(unit, "GB"))
        mult = 1024.0 * 1024;
    else if (!strcasecmp(unit, "T") || !strcasecmp(unit, "TiB") || !strcasecmp(unit, "TB"))
        mult = 1024.0 * 1024 * 1024;
    else {
        cli_usage_error("'--%s' size '%s' needs a unit: B, K, M, G or T (e.g. 512M)", opt, s);
        return -1;
    }
    v *= mult;
    /* 1 PiB is far beyond any host; larger values are typing errors. */
    if (!isfinite(v) || v > 1024.0 * 1024 * 1024 * 1024) {
        cli_usage_error("'--%s' size '%s' is too large", opt, s);
        return -1;
    }
    *kib = (uint64_t)(v + 0.5);
    return 0;
}

bool cli_glob_valid(const char *g)
{
    if (!g || !*g || strlen(g) > 1024)
        return false;
    for (const char *p = g; *p; p++) {
        if (*p == '\\') {
            if (!p[1])
                return false;
            p++;
        } else if (*p == '[') {
            const char *q = p + 1;
            if (*q == '!' || *q == '^')
                q++;
            if (*q == ']')
                q++;
            while (*q && *q != ']')
                q++;
            if (!*q)
                return false;
            p = q;
        }
    }
    return true;
}

bool cli_match_any(const char *const *globs, size_t n, const char *name)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (fnmatch(globs[i], name, 0) == 0)
            return true;
    return false;
}

bool cli_filter_domains(const char *name, void *common)
{
    const struct cli_common *c = common;
    return cli_match_any(c->globs, c->nglobs, name);
}
