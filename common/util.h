/* Small pieces both programs and their tests share: units, smoothing, the clock, growing arrays,
 * CPU lists. */
#ifndef VMB_UTIL_H
#define VMB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* KiB in a MiB: sizes are KiB throughout, MiB only in messages and reports. */
#define UTIL_MIB 1024ull

/* Sizes at or above this many KiB (4 PiB) are impossible: no real machine has them. */
#define UTIL_HUGE_KIB (1ull << 42)

/* Exponential moving average: ALPHA is the weight of NOW; without an old value, NOW itself. */
static inline double util_ewma(double old, double now, double alpha, bool have_old)
{
    return have_old ? alpha * now + (1 - alpha) * old : now;
}

/* Returns the monotonic clock in nanoseconds: the one clock of samples, deadlines and sleeps. */
uint64_t util_now_ns(void);

/* Makes *BUF (of *CAP elements of SIZE bytes) hold at least NEED elements, doubling; the
 * contents are kept. Returns 0, or -1 when out of memory (BUF and CAP unchanged). */
int util_grow(void **buf, size_t *cap, size_t need, size_t size);

/* Parses a CPU list ("0-3,8,10-11", libvirt's "^N" exclusions too) into MAP (bit per CPU,
 * MAPLEN bytes, cleared first). Returns the number of CPUs set, or -1 when S is malformed or
 * names a CPU beyond the map. */
/* The standard deviation of X[0..N-1], of the entries whose MASK is set (all when MASK is
 * NULL); 0 when none is. */
double util_stddev(const double *x, const unsigned char *mask, int n);

int util_parse_cpulist(const char *s, unsigned char *map, size_t maplen);

/* Writes MAP (NBITS bits) as a CPU list ("0-3,8") into BUF (LEN bytes, truncated with "..."). */
void util_format_cpulist(const unsigned char *map, int nbits, char *buf, size_t len);

/* True when bit I of MAP is set. */
static inline bool util_bit(const unsigned char *map, int i)
{
    return (map[i / 8] >> (i % 8)) & 1;
}

#endif
