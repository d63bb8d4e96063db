/* The periodic driver both programs share: sample, hand over to the program, reconnect when lost.
 */
#ifndef VMB_RUNNER_H
#define VMB_RUNNER_H

#include <stdbool.h>

#include "hv.h"
#include "snapshot.h"

/* One period's work of a program, given the previous sample (NULL on the first one) and the
 * current one. CALLS is hv_calls() before this period's sample. Returns 0, or -1 to stop with a
 * runtime failure (already logged). */
typedef int (*runner_step_fn)(void *ctx, struct hv *hv, const struct snap *prev,
                              const struct snap *cur, unsigned long calls);

struct runner_config {
    double period_s;     /* seconds between samples */
    bool once;           /* stop after the first step that had a previous sample */
    unsigned what;       /* HV_SAMPLE_* */
    hv_filter_fn filter; /* which domains are managed (NULL: all) */
    void *filter_arg;
    bool keep_running; /* with no managed domain, go on (calling the step) instead of finishing */
    bool wake_early;   /* signals_wake() means a managed domain started: sample early for it */
};

enum runner_status {
    RUNNER_CONTINUE, /* call again next period */
    RUNNER_DONE,     /* finished normally: no managed domain left (unless keep_running), or
                        --once done */
    RUNNER_FAIL      /* a runtime failure (logged) */
};

struct runner;

/* Returns a runner driving STEP(CTX) over HV (neither owned), or NULL when out of memory. */
struct runner *runner_create(const struct runner_config *cfg, struct hv *hv, runner_step_fn step,
                             void *ctx);

/* Frees R; accepts NULL. */
void runner_destroy(struct runner *r);

/* Runs one period now: sample (or try to reconnect) and call the step. */
enum runner_status runner_tick(struct runner *r);

/* Ticks at absolute deadlines until done, failed, or a stop signal. With wake_early, a
 * signals_wake() brings the next tick forward: at once when no domain is managed, else no sooner
 * than half a period after the last one (a short period is a noisy one); the deadlines then
 * restart from that tick. Returns 0 (done or stopped) or 1 (runtime failure): the program's
 * exit status. */
int runner_run(struct runner *r);

/* Returns true while the connection is lost. */
bool runner_disconnected(const struct runner *r);

#endif
