/* The periodic driver both programs share. */
#include "runner.h"

#include <stdlib.h>

#include "log.h"
#include "signals.h"
#include "util.h"

/* Longest wait between reconnection attempts, in seconds. */
#define RECONNECT_MAX_S 60.0

struct runner {
    struct runner_config cfg;
    struct hv *hv;
    runner_step_fn step;
    void *ctx;
    struct snap *prev, *cur;
    bool have_prev;
    bool disconnected;
    unsigned long backoff;    /* periods to wait before the next reconnection attempt */
    unsigned long wait_ticks; /* periods left before that attempt */
    bool idle;                /* keep_running, and the last sample had no managed domain */
    uint64_t last_tick_ns;    /* when the last tick started */
};

struct runner *runner_create(const struct runner_config *cfg, struct hv *hv, runner_step_fn step,
                             void *ctx)
{
    struct runner *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->cfg = *cfg;
    r->hv = hv;
    r->step = step;
    r->ctx = ctx;
    r->prev = snap_create();
    r->cur = snap_create();
    if (!r->prev || !r->cur) {
        runner_destroy(r);
        return NULL;
    }
    return r;
}

void runner_destroy(struct runner *r)
{
    if (!r)
        return;
    snap_destroy(r->prev);
    snap_destroy(r->cur);
    free(r);
}

bool runner_disconnected(const struct runner *r)
{
    return r->disconnected;
}

static void lost(struct runner *r)
{
    double max_ticks = RECONNECT_MAX_S / r->cfg.period_s;

    if (!r->disconnected) {
        log_warning("lost the connection to the hypervisor; reconnecting");
        r->disconnected = true;
        r->backoff = 1;
    } else if ((double)r->backoff * 2 <= (max_ticks < 1 ? 1 : max_ticks)) {
        r->backoff *= 2;
    }
    r->wait_ticks = r->backoff;
}

/* Says when the managed domains run out or come back. Returns false when that ends the run. */
static bool note_domains(struct runner *r)
{
    size_t n = snap_domain_count(r->cur);

    if (n == 0 && !r->cfg.keep_running) {
        log_info("no active managed domain left; exiting");
        return false;
    }
    if (n == 0 && !r->idle)
        log_info("no active managed domain; waiting for one");
    else if (n == 1 && r->idle)
        log_info("1 active managed domain");
    else if (n > 1 && r->idle)
        log_info("%zu active managed domains", n);
    r->idle = n == 0;
    return true;
}

enum runner_status runner_tick(struct runner *r)
{
    unsigned long calls = hv_calls(r->hv);
    int rc;

    r->last_tick_ns = util_now_ns();
    if (r->disconnected) {
        if (r->wait_ticks > 1) {
            r->wait_ticks--;
            return RUNNER_CONTINUE;
        }
        if (hv_reconnect(r->hv) != HV_OK) {
            lost(r);
            return RUNNER_CONTINUE;
        }
        log_info("reconnected to the hypervisor");
        r->disconnected = false;
    }
    rc = hv_sample(r->hv, r->cur, r->cfg.what, r->cfg.filter, r->cfg.filter_arg);
    if (rc == HV_CONN) {
        lost(r);
        return RUNNER_CONTINUE;
    }
    if (rc != HV_OK) {
        log_error("cannot sample the host");
        return RUNNER_FAIL;
    }
    if (!note_domains(r))
        return RUNNER_DONE;
    if (r->step(r->ctx, r->hv, r->have_prev ? r->prev : NULL, r->cur, calls) < 0)
        return RUNNER_FAIL;
    {
        struct snap *t = r->prev;
        r->prev = r->cur;
        r->cur = t;
    }
    if (r->cfg.once && r->have_prev)
        return RUNNER_DONE;
    r->have_prev = true;
    return RUNNER_CONTINUE;
}

/* Sleeps until *DEADLINE, or earlier on a wake-up (see runner_run()), which moves *DEADLINE.
 * Returns false on a stop request. */
static bool sleep_to_tick(struct runner *r, uint64_t *deadline, uint64_t period_ns)
{
    uint64_t now, earliest;

    if (!r->cfg.wake_early)
        return signals_sleep_until(*deadline);
    switch (signals_sleep_or_wake(*deadline)) {
    case SIGNALS_STOPPED:
        return false;
    case SIGNALS_DEADLINE:
        return true;
    case SIGNALS_WOKEN:
        break;
    }
    now = util_now_ns();
    earliest = r->idle ? now : r->last_tick_ns + period_ns / 2;
    earliest = earliest > now ? earliest : now;
    if (earliest < *deadline) {
        log_debug("a managed domain started: next sample in %.1f s",
                  (double)(earliest - now) / 1e9);
        *deadline = earliest;
    }
    return signals_sleep_until(*deadline);
}

int runner_run(struct runner *r)
{
    uint64_t period_ns = (uint64_t)(r->cfg.period_s * 1e9);
    uint64_t deadline = util_now_ns();

    for (;;) {
        enum runner_status st;
        uint64_t now;

        if (signals_stop_requested())
            return 0;
        st = runner_tick(r);
        if (st == RUNNER_DONE)
            return 0;
        if (st == RUNNER_FAIL)
            return 1;
        deadline += period_ns;
        now = util_now_ns();
        if (deadline <= now) {
            /* The period overran: skip the missed deadlines instead of bursting. */
            uint64_t missed = (now - deadline) / period_ns + 1;
            log_debug("period overran; skipping %llu deadline(s)", (unsigned long long)missed);
            deadline += missed * period_ns;
        }
        if (!sleep_to_tick(r, &deadline, period_ns))
            return 0;
    }
}
