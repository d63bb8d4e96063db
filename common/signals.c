/* Signals, the stop watchdog, and sleeping to absolute deadlines until a signal or a wake-up. */
#define _GNU_SOURCE
#include "signals.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t hup_flag;
static sigset_t sleep_mask; /* the mask in force while sleeping: our signals unblocked */
static bool signals_ready;
static int wake_fd = -1; /* an eventfd: signals_wake() makes it readable, the sleep polls it */

/*
 * The stop watchdog. SIGINT and SIGTERM are blocked except while the main thread sleeps, so a
 * stop signal stays pending while the main thread is inside a hypervisor call. When one has been
 * pending for STOP_GRACE_S seconds the main thread is stuck in a call the hypervisor does not
 * answer: the program says so and exits 0 at once rather than wait for it.
 */
#define STOP_GRACE_S 5

static char watchdog_msg[160]; /* what the watchdog prints, made before it may be needed */
static unsigned pending_s;     /* seconds a stop signal has been pending (watchdog thread only) */

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        hup_flag = 1;
    else
        stop_flag = 1;
}

int signals_init(void)
{
    struct sigaction sa;
    sigset_t block;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
        sigaction(SIGHUP, &sa, NULL) < 0)
        return -1;
    /* A write to a connection whose libvirtd died must fail with EPIPE, not kill us. */
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -1;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &block, &sleep_mask) < 0)
        return -1;
    sigdelset(&sleep_mask, SIGINT);
    sigdelset(&sleep_mask, SIGTERM);
    sigdelset(&sleep_mask, SIGHUP);
    snprintf(watchdog_msg, sizeof(watchdog_msg),
             "%s%s: warning: stop requested but the hypervisor has not answered for %d s; "
             "exiting without waiting for it\n",
             log_priority_prefix(LOG_WARNING), log_program(), STOP_GRACE_S);
    if (wake_fd < 0)
        wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0)
        return -1;
    signals_ready = true;
    return 0;
}

int signals_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void signals_watchdog_tick(void)
{
    sigset_t pending;

    if (sigpending(&pending) == 0 &&
        (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1)) {
        if (++pending_s >= STOP_GRACE_S) {
            ssize_t n = write(STDERR_FILENO, watchdog_msg, strlen(watchdog_msg));
            (void)n;
            _exit(0);
        }
    } else {
        pending_s = 0;
    }
}

bool signals_stop_requested(void)
{
    return stop_flag != 0;
}

void signals_request_stop(void)
{
    stop_flag = 1;
}

void signals_wake(void)
{
    uint64_t one = 1;

    if (wake_fd >= 0 && write(wake_fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is full, so a wake-up is pending anyway. */
    }
}

/* Empties the wake-up counter; returns true when a wake-up was pending. */
static bool take_wake(void)
{
    uint64_t n;

    return wake_fd >= 0 && read(wake_fd, &n, sizeof(n)) == (ssize_t)sizeof(n);
}

/* Sleeps until DEADLINE_NS, a stop request or (when WAKE) signals_wake(). */
static enum signals_end sleep_until(uint64_t deadline_ns, bool wake)
{
    struct pollfd pfd = {.fd = wake_fd, .events = POLLIN};
    nfds_t nfds = wake && wake_fd >= 0 ? 1 : 0;

    for (;;) {
        uint64_t now = util_now_ns();
        struct timespec ts;

        if (hup_flag) {
            hup_flag = 0;
            log_info("SIGHUP ignored (there is no configuration to reload)");
        }
        if (stop_flag)
            return SIGNALS_STOPPED;
        if (nfds && take_wake())
            return SIGNALS_WOKEN;
        if (now >= deadline_ns)
            return SIGNALS_DEADLINE;
        ts.tv_sec = (time_t)((deadline_ns - now) / 1000000000ull);
        ts.tv_nsec = (long)((deadline_ns - now) % 1000000000ull);
        /* ppoll unblocks our signals atomically: a signal cannot slip in before the sleep. */
        if (ppoll(nfds ? &pfd : NULL, nfds, &ts, signals_ready ? &sleep_mask : NULL) < 0 &&
            errno != EINTR)
            return stop_flag ? SIGNALS_STOPPED : SIGNALS_DEADLINE;
    }
}

bool signals_sleep_until(uint64_t deadline_ns)
{
    return sleep_until(deadline_ns, false) == SIGNALS_DEADLINE;
}

enum signals_end signals_sleep_or_wake(uint64_t deadline_ns)
{
    return sleep_until(deadline_ns, true);
}
