/* Prometheus text-format metrics, built in memory and written to a file atomically. */
#ifndef VMB_METRICS_H
#define VMB_METRICS_H

#include <stdbool.h>
#include <stddef.h>

enum metrics_type { METRICS_GAUGE, METRICS_COUNTER };

/* One label of a sample: NAME (a constant [a-z_]+) and VALUE (any text: escaped here). */
struct metrics_label {
    const char *name;
    const char *value;
};

/* Opaque; create with metrics_create(), free with metrics_destroy(). */
struct metrics;

/* Returns a writer for the file PATH (copied; NULL: in memory only, for tests), or NULL when
 * out of memory. */
struct metrics *metrics_create(const char *path);

/* Frees M; accepts NULL. */
void metrics_destroy(struct metrics *m);

/* Empties M's text for a new period. */
void metrics_begin(struct metrics *m);

/* Starts the family NAME: its HELP and TYPE lines. Its samples follow, before the next family. */
void metrics_family(struct metrics *m, const char *name, enum metrics_type type, const char *help);

/* Adds a sample of the current family with the N LABELS (N may be 0) and VALUE. */
void metrics_sample(struct metrics *m, const struct metrics_label *labels, size_t n, double value);

/* Adds a family of one sample without labels: the common case of a host-wide figure. */
void metrics_single(struct metrics *m, const char *name, enum metrics_type type, const char *help,
                    double value);

/* Returns the text built since metrics_begin() (NUL-terminated); *LEN gets its length. */
const char *metrics_text(const struct metrics *m, size_t *len);

/* Replaces the file with the text: writes PATH.tmp.PID in the same directory, syncs it and
 * renames it over PATH, so a reader sees the old file or the new one, never a part. Returns 0,
 * or -1 when it failed (a warning the first time, until a write succeeds again). */
int metrics_write(struct metrics *m);

#endif
