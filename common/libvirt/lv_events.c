/* libvirt's event loop in a thread of its own, for keepalive; its timer ticks the stop watchdog. */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "log.h"
#include "signals.h"

/*
 * libvirt's event loop runs in a thread of its own, so that keepalive works: the client pings
 * libvirtd after KEEPALIVE_INTERVAL_S seconds of silence and closes the connection when
 * KEEPALIVE_COUNT pings in a row go unanswered. A libvirtd that hangs (stopped, deadlocked)
 * then fails the call in progress within about (KEEPALIVE_COUNT + 1) * KEEPALIVE_INTERVAL_S
 * seconds, like a libvirtd that died, instead of wedging the program for ever
 * (docs/EVIDENCE.md#keepalive-hung-libvirtd). The thread also answers libvirtd's own keepalive
 * pings while the program sleeps between periods.
 *
 * Its 1 s timer runs the stop watchdog of signals.c (signals_watchdog_tick), which ends the program
 * when a stop signal stays unanswered because the main thread is stuck in a libvirt call
 * (reconnecting to a hung libvirtd is not covered by keepalive).
 */
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT      3

static struct {
    bool started;
    pthread_t thread;
    atomic_bool quit;
    int timer; /* the 1 s tick of the stop watchdog */
} events = {.timer = -1};

static void watchdog_tick(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
    signals_watchdog_tick();
}

static void *event_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&events.quit))
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

int lv_events_start(void)
{
    if (events.started)
        return 0;
    if (virEventRegisterDefaultImpl() < 0)
        return -1;
    events.timer = virEventAddTimeout(1000, watchdog_tick, NULL, NULL);
    if (events.timer < 0)
        return -1;
    if (signals_thread_create(&events.thread, event_thread, NULL) != 0) {
        virEventRemoveTimeout(events.timer);
        events.timer = -1;
        return -1;
    }
    events.started = true;
    return 0;
}

void lv_events_stop(void)
{
    if (!events.started)
        return;
    atomic_store(&events.quit, true);
    virEventUpdateTimeout(events.timer, 0); /* wakes the loop now */
    pthread_join(events.thread, NULL);
    virEventRemoveTimeout(events.timer);
    events.timer = -1;
    events.started = false;
    atomic_store(&events.quit, false);
}

void lv_events_keepalive(virConnectPtr conn)
{
    /* Drivers in this process (test:///) have no keepalive and need none. */
    if (virConnectSetKeepAlive(conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0) {
        log_debug("no keepalive on this connection: %s", lv_error_message());
        virResetLastError();
    }
}
