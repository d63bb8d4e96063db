/* vcpu_scheduler: re-pins guest vCPUs every PERIOD seconds so that pCPU usage is balanced. */
#include <stdio.h>

#include "cli.h"
#include "hv.h"
#include "log.h"
#include "loop.h"
#include "runner.h"
#include "schedreport.h"
#include "scheduler.h"

enum { KEY_THRESHOLD = 256, KEY_RESTORE_PINS };

struct options {
    double threshold_pct;
    bool restore_pins;
};

struct context {
    struct scheduler *sched;
    const struct cli_common *common;
};

static const struct cli_option options[] = {
        {"threshold", "PCT",
         "balance tolerance: pCPU usage std dev in percentage\npoints, and the least gain a pin change must bring\n(default 5)",
         KEY_THRESHOLD},
        {"restore-pins", NULL,
         "on exit, put back the affinity each changed vCPU had\nwhen first seen", KEY_RESTORE_PINS},
};

static int handle_option(void *ctx, int key, const char *arg)
{
    struct options *o = ctx;

    switch (key) {
    case KEY_THRESHOLD:
        return cli_parse_number("threshold", arg, 0.1, 100, &o->threshold_pct);
    case KEY_RESTORE_PINS:
        o->restore_pins = true;
        return 0;
    default:
        return -1;
    }
}

static int step(void *ctx, struct hv *hv, const struct snapshot *prev, const struct snapshot *cur,
                unsigned long calls)
{
    struct context *c = ctx;
    struct sched_report rep;

    if (sched_period(c->sched, hv, prev, cur, calls, &rep) < 0) {
        log_error("out of memory");
        return -1;
    }
    if (c->common->json)
        schedreport_print_json(stdout, &rep, cur, c->common->dry_run);
    else if (c->common->verbosity >= 0)
        schedreport_print_line(stdout, &rep, cur, c->common->dry_run);
    return 0;
}

int main(int argc, char **argv)
{
    struct options opt = {.threshold_pct = 5.0, .restore_pins = false};
    const struct cli_program prog = {
            .name = "vcpu_scheduler",
            .summary = "Every PERIOD seconds, measure guest vCPU and host pCPU usage and re-pin\n"
                       "vCPUs so that pCPU usage is balanced, with as few pin changes as possible.",
            .options = options,
            .noptions = sizeof(options) / sizeof(options[0]),
            .handle = handle_option,
            .ctx = &opt,
            .notes = "Example: vcpu_scheduler --domains 'lab-*' 2",
    };
    struct cli_common common;
    struct sched_config cfg;
    struct context ctx = {0};
    struct runner_config rc = {0};
    struct runner *runner = NULL;
    struct hv *hv = NULL;
    int status;

    log_set_program(prog.name);
    status = cli_parse(&prog, argc, argv, &common);
    if (status != CLI_RUN) {
        cli_common_free(&common);
        return status == CLI_EXIT_OK ? EXIT_DONE : EXIT_USAGE;
    }
    log_set_level(common.verbosity < 0    ? LOG_WARNING
                  : common.verbosity == 0 ? LOG_INFO
                                          : LOG_DEBUG);
    status = EXIT_RUNTIME;
    if (loop_init_signals() < 0) {
        log_error("cannot install signal handlers");
        goto cleanup;
    }
    hv = hv_libvirt_open(common.uri);
    if (!hv)
        goto cleanup;
    cfg.threshold = opt.threshold_pct / 100;
    cfg.dry_run = common.dry_run;
    cfg.restore_pins = opt.restore_pins && !common.dry_run;
    ctx.sched = sched_create(&cfg);
    ctx.common = &common;
    rc.period_s = common.period_s;
    rc.once = common.once;
    rc.what = HV_SAMPLE_CPU;
    rc.filter = cli_filter_domains;
    rc.filter_arg = &common;
    if (ctx.sched)
        runner = runner_create(&rc, hv, step, &ctx);
    if (!runner) {
        log_error("out of memory");
        goto cleanup;
    }
    status = runner_run(runner);
    if (cfg.restore_pins && !runner_disconnected(runner))
        log_info("restored the original affinity of %zu vCPUs", sched_restore(ctx.sched, hv));

cleanup:
    runner_destroy(runner);
    sched_destroy(ctx.sched);
    hv_destroy(hv);
    cli_common_free(&common);
    return status;
}
