/* The main() skeleton both programs share: options, logging, signals, connection, periods. */
#ifndef VMB_APP_H
#define VMB_APP_H

#include "cli.h"
#include "hv.h"
#include "runner.h"

/* What a program runs once its options are parsed. */
struct app {
    const struct cli_common *common;
    unsigned what;       /* HV_SAMPLE_* its periods need */
    runner_step_fn step; /* one period */
    void *ctx;
    /* Called after the last period while still connected (may be NULL): cleanup that needs the
     * hypervisor, such as restoring pins. */
    void (*finish)(void *ctx, struct hv *hv);
};

/* Installs the signal handlers, parses ARGV for P into C and sets the log level from -v/-q.
 * Returns -1 to go on, or the exit status to return at once (after help, version or a usage
 * error). Free C with cli_common_free() in every case. */
int app_start(const struct cli_program *p, int argc, char **argv, struct cli_common *c);

/* Connects to the hypervisor and runs periods until done or stopped.
 * Returns the exit status (EXIT_DONE or EXIT_RUNTIME). */
int app_run(const struct app *a);

#endif
