/* Logging to stderr with levels; the one place programs print diagnostics. When stderr is the
 * systemd journal, every line starts with its sd-daemon priority ("<4>"), so that
 * `journalctl -p warning` sees warnings and errors. */
#ifndef VMB_LOG_H
#define VMB_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_ERROR = 0,
    LOG_WARNING = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

/* Sets the program name printed before every message (not copied: keep it alive). */
void log_set_program(const char *name);

/* Returns the program name messages start with. */
const char *log_program(void);

/* Sets the most verbose level printed; default LOG_INFO. */
void log_set_level(enum log_level level);

/* Returns the current level. */
enum log_level log_get_level(void);

/* Returns true when messages at LEVEL would be printed. */
bool log_enabled(enum log_level level);

/* Returns true when the stream JOURNAL_STREAM describes (ENV: "DEVICE:INODE", as systemd sets
 * it) is the file open on FD: FD is connected to the journal. */
bool log_journal_matches(const char *env, int fd);

/* Turns the priority prefixes on when stderr is the journal ($JOURNAL_STREAM), off otherwise. */
void log_detect_journal(void);

/* Turns the priority prefixes on or off. */
void log_set_journal(bool on);

/* Returns what a line at LEVEL starts with for the journal: "<3>" (error), "<4>" (warning),
 * "<6>" (info) or "<7>" (debug); "" when stderr is not the journal. */
const char *log_priority_prefix(enum log_level level);

/* Prints one line "PROGRAM: level: message" to stderr when LEVEL is enabled. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)   log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
