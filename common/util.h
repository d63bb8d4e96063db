/* Small pieces both programs and their tests share: units, smoothing, growing arrays. */
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

/* Makes *BUF (of *CAP elements of SIZE bytes) hold at least NEED elements, doubling; the
 * contents are kept. Returns 0, or -1 when out of memory (BUF and CAP unchanged). */
int util_grow(void **buf, size_t *cap, size_t need, size_t size);

#endif
