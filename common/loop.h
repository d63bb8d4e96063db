/* Signals, sleeping to absolute deadlines, and waking a sleep early from another thread: the only
 * code that touches signal state. */
#ifndef VMB_LOOP_H
#define VMB_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Installs handlers: SIGINT/SIGTERM request a stop, SIGHUP is ignored (and logged), SIGPIPE
 * is ignored (a lost libvirtd connection is an error, not a death).
 * The three are blocked except while sleeping, so none is lost. Call after log_set_program():
 * it also prepares the stop watchdog's message. Returns 0 or -1. */
int loop_init_signals(void);

/* The stop watchdog, called once a second by a thread other than the main one: when a stop
 * signal has stayed pending for 5 s (the main thread is stuck in a call outside its sleep),
 * writes a warning to stderr and ends the process with _exit(0). Async-signal-safe. */
void loop_watchdog_tick(void);

/* Starts a thread that takes no signal (they are for the main thread's sleep); returns 0 or
 * an error number, like pthread_create(). */
int loop_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg);

/* Returns true once a stop was requested (by a signal or loop_request_stop()). */
bool loop_stop_requested(void);

/* Requests a stop, as SIGTERM would. */
void loop_request_stop(void);

/* Returns the monotonic clock in nanoseconds. */
uint64_t loop_now_ns(void);

/* Sleeps until the monotonic time DEADLINE_NS or a stop request.
 * Returns true when the deadline was reached, false on a stop request. */
bool loop_sleep_until(uint64_t deadline_ns);

/* How loop_sleep_or_wake() ended. */
enum loop_end {
    LOOP_STOPPED,  /* a stop was requested */
    LOOP_DEADLINE, /* the deadline was reached */
    LOOP_WOKEN     /* loop_wake() was called (since the last sleep that saw it) */
};

/* Sleeps like loop_sleep_until(), and also ends when loop_wake() is called. */
enum loop_end loop_sleep_or_wake(uint64_t deadline_ns);

/* Ends the main thread's loop_sleep_or_wake() early (or the next one). Safe from any thread
 * and from signal handlers. Needs loop_init_signals() first; a no-op before. */
void loop_wake(void);

#endif
