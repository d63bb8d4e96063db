/* The figures that calibrate the fake host on recorded hosts (docs/EVIDENCE.md#balloon-time).
 *
 * A move is a run of changes of the reported balloon size less than CALIB_MOVE_GAP_S apart;
 * within it, the time between two changes is the host's event interval, and the size between
 * them over that time the balloon's speed (the last change of a move can be a partial one, so
 * the summaries are medians). */
#include "calibrate.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Changes further apart than this belong to two moves (the host sends one event a second). */
#define CALIB_MOVE_GAP_S 1.6

static int push(double **v, size_t *n, size_t *cap, double x)
{
    if (util_grow((void **)v, cap, *n + 1, sizeof(**v)) < 0)
        return -1;
    (*v)[(*n)++] = x;
    return 0;
}

static int add_change(struct calib_balloon *b, double dt, uint64_t from, uint64_t to)
{
    double mib_s = ((double)to - (double)from) / 1024 / dt;

    if (push(&b->gap_s, &b->ngap, &b->cap_gap, dt) < 0)
        return -1;
    if (mib_s < 0)
        return push(&b->inflate, &b->ninflate, &b->cap_inflate, -mib_s);
    return push(&b->deflate, &b->ndeflate, &b->cap_deflate, mib_s);
}

int calib_add(struct calib_balloon *b, const struct calib_point *p, size_t n)
{
    double last_change = -1, last_report = -1;
    uint64_t last_size = 0;

    for (size_t i = 1; i < n; i++) {
        if (p[i].last_update && p[i].last_update != p[i - 1].last_update) {
            if (last_report >= 0 &&
                push(&b->report_s, &b->nreport, &b->cap_report, p[i].t - last_report) < 0)
                return -1;
            last_report = p[i].t;
        }
        if (p[i].shown_kib == p[i - 1].shown_kib)
            continue;
        if (last_change >= 0 && p[i].t - last_change < CALIB_MOVE_GAP_S &&
            add_change(b, p[i].t - last_change, last_size, p[i].shown_kib) < 0)
            return -1;
        last_change = p[i].t;
        last_size = p[i].shown_kib;
    }
    return 0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double calib_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void calib_free(struct calib_balloon *b)
{
    free(b->gap_s);
    free(b->inflate);
    free(b->deflate);
    free(b->report_s);
    memset(b, 0, sizeof(*b));
}
