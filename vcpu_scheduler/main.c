/* vcpu_scheduler: re-pins guest vCPUs every PERIOD seconds so that pCPU usage is balanced. */
#include <stdio.h>

#include <string.h>

#include "app.h"
#include "log.h"
#include "schedreport.h"
#include "scheduler.h"
#include "util.h"

enum { KEY_THRESHOLD = 256, KEY_RESTORE_PINS, KEY_CPUS, KEY_EMULATOR_CPUS, KEY_SMT };

/* The largest CPU id --cpus and --emulator-cpus take, plus one. */
#define MAX_CPUS 16384

struct options {
    double threshold_pct;
    bool restore_pins;
    bool smt;
    unsigned char cpus[MAX_CPUS / 8], emulator_cpus[MAX_CPUS / 8];
    bool has_cpus, has_emulator_cpus;
};

struct context {
    struct sched *sched;
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
         "on exit, put back the affinity each changed vCPU (and\nemulator) had when first seen",
         KEY_RESTORE_PINS},
        {"cpus", "LIST",
         "pCPUs vCPUs may be pinned to, as taskset -c takes them\n(e.g. 2-31,34-63; default: all online ones but\nthe --emulator-cpus)",
         KEY_CPUS},
        {"emulator-cpus", "LIST",
         "pin the emulator threads of managed domains to these\npCPUs (housekeeping), and keep vCPUs off them",
         KEY_EMULATOR_CPUS},
        {"smt", "MODE",
         "cores: busy vCPUs fill physical cores before sibling\nthreads (default); ignore: treat threads as cores",
         KEY_SMT},
};

/* Parses a CPU list for option OPT into MAP. */
static int parse_cpus(const char *opt, const char *arg, unsigned char *map, bool *has)
{
    if (util_parse_cpulist(arg, map, MAX_CPUS / 8) <= 0) {
        cli_usage_error("'--%s' needs a CPU list such as 0-3,8 (CPUs below %d), not '%s'", opt,
                        MAX_CPUS, arg);
        return -1;
    }
    *has = true;
    return 0;
}

static int handle_option(void *ctx, int key, const char *arg)
{
    struct options *o = ctx;

    switch (key) {
    case KEY_THRESHOLD:
        return cli_parse_number("threshold", arg, 0.1, 100, &o->threshold_pct);
    case KEY_RESTORE_PINS:
        o->restore_pins = true;
        return 0;
    case KEY_CPUS:
        return parse_cpus("cpus", arg, o->cpus, &o->has_cpus);
    case KEY_EMULATOR_CPUS:
        return parse_cpus("emulator-cpus", arg, o->emulator_cpus, &o->has_emulator_cpus);
    case KEY_SMT:
        if (strcmp(arg, "cores") != 0 && strcmp(arg, "ignore") != 0) {
            cli_usage_error("'--smt' takes 'cores' or 'ignore', not '%s'", arg);
            return -1;
        }
        o->smt = strcmp(arg, "cores") == 0;
        return 0;
    default:
        return -1;
    }
}

static int step(void *ctx, struct hv *hv, const struct snap *prev, const struct snap *cur,
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
    static struct options opt = {.threshold_pct = 5.0, .smt = true};
    const struct cli_program prog = {
            .name = "vcpu_scheduler",
            .summary = "Every PERIOD seconds, measure guest vCPU and host pCPU usage and re-pin\n"
                       "vCPUs so that pCPU usage is balanced, with as few pin changes as possible.",
            .options = options,
            .noptions = sizeof(options) / sizeof(options[0]),
            .handle = handle_option,
            .ctx = &opt,
            .notes = "LIST is a CPU list as taskset -c takes it: 0-3,8,10-11.\n"
                     "A vCPU pinned in its domain's persistent definition (<cputune><vcpupin>)\n"
                     "is never moved; <cputune> shares weigh fairness, a vCPU quota caps demand.\n"
                     "Example: vcpu_scheduler --domains 'lab-*' 2\n"
                     "Example: vcpu_scheduler --emulator-cpus 0,64 --cpus 1-63,65-127 2",
    };
    struct cli_common common;
    struct sched_config cfg;
    struct context ctx = {0};
    struct app app = {&common, HV_SAMPLE_CPU, step, &ctx, finish};
    int status = app_start(&prog, argc, argv, &common);

    if (status >= 0)
        goto cleanup;
    cfg = (struct sched_config){.threshold = opt.threshold_pct / 100,
                                .dry_run = common.dry_run,
                                .restore_pins = opt.restore_pins && !common.dry_run,
                                .cpus = opt.has_cpus ? opt.cpus : NULL,
                                .emulator_cpus = opt.has_emulator_cpus ? opt.emulator_cpus : NULL,
                                .maplen = MAX_CPUS / 8,
                                .smt = opt.smt};
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
