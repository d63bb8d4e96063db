/* memory_coordinator: moves memory between guests and the host via their balloons. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "coordinator.h"
#include "log.h"
#include "memreport.h"

enum { KEY_MIN_UNUSED = 256, KEY_FLOOR, KEY_RESERVE, KEY_SHARES, KEY_RECLAIM };

struct options {
    struct coord_config cfg;
    struct coord_share *shares;
    size_t nshares;
};

struct context {
    struct coord *coord;
    const struct cli_common *common;
    const struct coord_config *cfg;
    struct shortfall_pick pick; /* the migration candidate, kept between periods */
    bool short_said;            /* the shortfall was logged and has not ended since */
    struct metrics *metrics;    /* --metrics-file, else NULL */
    struct memreport_metrics counts;
};

static const struct cli_option options[] = {
        {"min-unused", "SIZE", "memory every guest keeps unused (default 100M)", KEY_MIN_UNUSED},
        {"guest-floor", "SIZE", "never shrink a guest below SIZE (default 200M)", KEY_FLOOR},
        {"host-reserve", "SIZE|PCT%",
         "host free memory never given away (default: the\nlarger of 200M and 5% of host memory)",
         KEY_RESERVE},
        {"shares", "NAME=WEIGHT",
         "domains matching NAME (a pattern) get WEIGHT shares\nwhen memory is short (repeatable; default 1 each)",
         KEY_SHARES},
        {"reclaim", "always|when-short",
         "when idle memory returns to the host: always (the\ndefault), or when-short: only while host free memory\nis below twice the host reserve",
         KEY_RECLAIM},
};

static int parse_shares(struct options *o, const char *arg)
{
    const char *eq = strrchr(arg, '=');
    struct coord_share *n;
    char *glob;
    double w;

    if (!eq || eq == arg || !eq[1]) {
        cli_usage_error("'--shares' needs NAME=WEIGHT, not '%s'", arg);
        return -1;
    }
    glob = strndup(arg, (size_t)(eq - arg));
    if (!glob || !cli_glob_valid(glob)) {
        cli_usage_error("invalid domain pattern in '--shares %s'", arg);
        free(glob);
        return -1;
    }
    if (cli_parse_number("shares", eq + 1, 0.001, 1e6, &w) < 0) {
        free(glob);
        return -1;
    }
    n = realloc(o->shares, (o->nshares + 1) * sizeof(*n));
    if (!n) {
        free(glob);
        cli_usage_error("out of memory");
        return -1;
    }
    o->shares = n;
    o->shares[o->nshares].glob = glob;
    o->shares[o->nshares].weight = w;
    o->nshares++;
    return 0;
}

static int handle_option(void *ctx, int key, const char *arg)
{
    struct options *o = ctx;
    size_t len = strlen(arg);

    switch (key) {
    case KEY_MIN_UNUSED:
        return cli_parse_size_kib("min-unused", arg, &o->cfg.min_unused_kib);
    case KEY_FLOOR:
        return cli_parse_size_kib("guest-floor", arg, &o->cfg.floor_kib);
    case KEY_RESERVE:
        o->cfg.reserve_default = false;
        if (len > 1 && arg[len - 1] == '%') {
            char num[64];
            if (len >= sizeof(num)) {
                cli_usage_error("'--host-reserve' needs a size or a percentage, not '%s'", arg);
                return -1;
            }
            memcpy(num, arg, len - 1);
            num[len - 1] = '\0';
            o->cfg.reserve_kib = 0;
            return cli_parse_number("host-reserve", num, 0, 90, &o->cfg.reserve_pct);
        }
        o->cfg.reserve_pct = 0;
        return cli_parse_size_kib("host-reserve", arg, &o->cfg.reserve_kib);
    case KEY_SHARES:
        return parse_shares(o, arg);
    case KEY_RECLAIM:
        if (strcmp(arg, "always") == 0 || strcmp(arg, "when-short") == 0) {
            o->cfg.reclaim = arg[0] == 'a' ? COORD_RECLAIM_ALWAYS : COORD_RECLAIM_WHEN_SHORT;
            return 0;
        }
        cli_usage_error("'--reclaim' takes 'always' or 'when-short', not '%s'", arg);
        return -1;
    default:
        return -1;
    }
}

static int step(void *ctx, struct hv *hv, const struct snap *prev, const struct snap *cur,
                unsigned long calls)
{
    struct context *c = ctx;
    struct coord_report rep;
    struct shortfall sf;

    if (coord_period(c->coord, hv, prev, cur, calls, &rep) < 0) {
        log_error("out of memory");
        return -1;
    }
    shortfall_assess(&c->pick, c->cfg, &rep, cur, &sf);
    if (c->common->json)
        memreport_print_json(stdout, &rep, cur, c->common->dry_run);
    else if (c->common->verbosity >= 0)
        memreport_print_line(stdout, &rep, cur, c->common->dry_run);
    memreport_log_shortfall(&c->short_said, &rep, cur, &sf);
    memreport_count(&c->counts, &rep);
    if (c->metrics)
        memreport_write_metrics(c->metrics, &rep, cur, &sf, &c->counts);
    return 0;
}

int main(int argc, char **argv)
{
    struct options opt = {.cfg = {.min_unused_kib = 100ull * 1024,
                                  .floor_kib = 200ull * 1024,
                                  .reserve_default = true}};
    const struct cli_program prog = {
            .name = "memory_coordinator",
            .summary =
                    "Every PERIOD seconds, read each guest's balloon statistics and move memory:\n"
                    "from wasteful guests and the host to starving guests, back to the host\n"
                    "when guests idle, never starving a guest or the host.",
            .options = options,
            .noptions = sizeof(options) / sizeof(options[0]),
            .handle = handle_option,
            .ctx = &opt,
            .notes = "SIZE takes a unit: K, M, G or T (powers of 1024), e.g. 512M.\n"
                     "Example: memory_coordinator --domains 'lab-*' --guest-floor 256M 2",
    };
    struct cli_common common;
    struct context ctx = {0};
    struct app app = {&common, COORD_SAMPLE, step, &ctx, NULL};
    int status = app_start(&prog, argc, argv, &common);

    if (status >= 0)
        goto cleanup;
    opt.cfg.period_s = common.period_s;
    opt.cfg.dry_run = common.dry_run;
    opt.cfg.observe_first = common.once; /* --once acts once: at its second sample */
    opt.cfg.shares = opt.shares;
    opt.cfg.nshares = opt.nshares;
    ctx.coord = coord_create(&opt.cfg);
    ctx.common = &common;
    ctx.cfg = &opt.cfg;
    ctx.counts.meta = (struct report_meta){prog.name, common.period_s, common.dry_run, 0, 0};
    if (common.metrics_file)
        ctx.metrics = metrics_create(common.metrics_file);
    if (!ctx.coord || (common.metrics_file && !ctx.metrics)) {
        log_error("out of memory");
        status = EXIT_RUNTIME;
        goto cleanup;
    }
    status = app_run(&app);

cleanup:
    metrics_destroy(ctx.metrics);
    coord_destroy(ctx.coord);
    cli_common_free(&common);
    for (size_t i = 0; i < opt.nshares; i++)
        free((char *)opt.shares[i].glob);
    free(opt.shares);
    return status;
}
