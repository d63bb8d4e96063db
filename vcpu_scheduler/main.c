/* vcpu_scheduler: re-pins guest vCPUs every PERIOD seconds so that pCPU usage is balanced. */
#include <stdio.h>

#include "app.h"
#include "log.h"
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
    bool restore_pins;
    struct metrics *metrics; /* --metrics-file, else NULL */
    struct schedreport_metrics counts;
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
    schedreport_count(&c->counts, &rep);
    if (c->metrics)
        schedreport_write_metrics(c->metrics, &rep, cur, &c->counts);
    return 0;
}

static void finish(void *ctx, struct hv *hv)
{
    struct context *c = ctx;

    if (c->restore_pins)
        log_info("restored the original affinity of %zu vCPUs", sched_restore(c->sched, hv));
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
    struct app app = {&common, HV_SAMPLE_CPU, step, &ctx, finish};
    int status = app_start(&prog, argc, argv, &common);

    if (status >= 0)
        goto cleanup;
    cfg.threshold = opt.threshold_pct / 100;
    cfg.dry_run = common.dry_run;
    cfg.restore_pins = opt.restore_pins && !common.dry_run;
    ctx.sched = sched_create(&cfg);
    ctx.common = &common;
    ctx.restore_pins = cfg.restore_pins;
    ctx.counts.meta = (struct report_meta){prog.name, common.period_s, common.dry_run, 0, 0};
    ctx.counts.threshold = cfg.threshold;
    if (common.metrics_file)
        ctx.metrics = metrics_create(common.metrics_file);
    if (!ctx.sched || (common.metrics_file && !ctx.metrics)) {
        log_error("out of memory");
        status = EXIT_RUNTIME;
        goto cleanup;
    }
    status = app_run(&app);

cleanup:
    metrics_destroy(ctx.metrics);
    sched_destroy(ctx.sched);
    cli_common_free(&common);
    return status;
}
