/* The main() skeleton both programs share. */
#include "app.h"

#include "log.h"
#include "signals.h"

int app_start(const struct cli_program *p, int argc, char **argv, struct cli_common *c)
{
    int rc;

    log_set_program(p->name);
    log_detect_journal();
    /* From here on a stop signal is only recorded, and acted on at the first sleep. */
    if (signals_init() < 0) {
        log_error("cannot install signal handlers");
        return EXIT_RUNTIME;
    }
    rc = cli_parse(p, argc, argv, c);
    if (rc != CLI_RUN)
        return rc == CLI_EXIT_OK ? EXIT_DONE : EXIT_USAGE;
    log_set_level(c->verbosity < 0 ? LOG_WARNING : c->verbosity == 0 ? LOG_INFO : LOG_DEBUG);
    return -1;
}

int app_run(const struct app *a)
{
    struct runner_config rc = {
            .period_s = a->common->period_s,
            .once = a->common->once,
            .what = a->what,
            .filter = cli_filter_domains,
            .filter_arg = (void *)a->common,
            .keep_running = a->common->keep_running,
            .wake_early = a->common->keep_running,
    };
    struct runner *runner = NULL;
    struct hv *hv = NULL;
    int status = EXIT_RUNTIME;

    if (signals_stop_requested())
        return EXIT_DONE;
    hv = hv_libvirt_open(a->common->uri);
    if (!hv)
        goto cleanup;
    /* A service takes a new domain's baseline as it starts; polling stays the fallback. */
    if (a->common->keep_running)
        hv_libvirt_watch(hv, cli_filter_domains, (void *)a->common);
    runner = runner_create(&rc, hv, a->step, a->ctx);
    if (!runner) {
        log_error("out of memory");
        goto cleanup;
    }
    status = runner_run(runner);
    if (a->finish && !runner_disconnected(runner))
        a->finish(a->ctx, hv);

cleanup:
    runner_destroy(runner);
    hv_destroy(hv);
    return status;
}
