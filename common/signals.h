/* Signals, the stop watchdog, sleeping to absolute deadlines, and waking a sleep early from
 * another thread: the only code that touches signal state (the loop that sleeps is runner.c). */
#ifndef VMB_SIGNALS_H
#define VMB_SIGNALS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Installs handlers: SIGINT/SIGTERM request a stop, SIGHUP is ignored (and logged), SIGPIPE
 * is ignored (a lost libvirtd connection is an error, not a death).
 * The three are blocked except while sleeping, so none is lost. Call after log_set_program():
 * it also prepares the stop watchdog's message. Returns 0 or -1. */
int signals_init(void);

/* The stop watchdog, called once a second by a thread other than the main one: when a stop
 * signal has stayed pending for 5 s (the main thread is stuck in a call outside its sleep),
 * writes a warning to stderr and ends the process with _exit(0). Async-signal-safe. */
void signals_watchdog_tick(void);

/* Starts a thread that takes no signal (they are for the main thread's sleep); returns 0 or
 * an error number, like pthread_create(). */
int signals_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg);

/* Returns true once a stop was requested (by a signal or signals_request_stop()). */
bool signals_stop_requested(void);

/* Requests a stop, as SIGTERM would. */
void signals_request_stop(void);

/* Sleeps until the monotonic time DEADLINE_NS or a stop request.
 * Returns true when the deadline was reached, false on a stop request. */
bool signals_sleep_until(uint64_t deadline_ns);

/* How signals_sleep_or_wake() ended. */
enum signals_end {
    SIGNALS_STOPPED,  /* a stop was requested */
    SIGNALS_DEADLINE, /* the deadline was reached */
    SIGNALS_WOKEN     /* signals_wake() was called (since the last sleep that saw it) */
};

/* Sleeps like signals_sleep_until(), and also ends when signals_wake() is called. */
enum signals_end signals_sleep_or_wake(uint64_t deadline_ns);

/* Ends the main thread's signals_sleep_or_wake() early (or the next one). Safe from any thread
 * and from signal handlers. Needs signals_init() first; a no-op before. */
void signals_wake(void);

#endif
