/* The figures that calibrate the fake host on recorded hosts, computed the same way from a
 * trace (tests/trace.h) and from the fake host sampled like the recorder samples (4 Hz): how a
 * balloon moves as the host reports it, how often a guest reports its statistics. */
#ifndef VMB_CALIBRATE_H
#define VMB_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

/* One sample of one guest: the balloon size the host reports and the guest's statistics clock. */
struct calib_point {
    double t;             /* host seconds */
    uint64_t shown_kib;   /* balloon.current */
    uint64_t last_update; /* balloon.last-update (0: none) */
};

/* Pairs of successive changes of the reported balloon size within one move, and statistics
 * reports, gathered over any number of guests (calib_add), then summarised. */
struct calib_balloon {
    double *gap_s;    /* seconds between two changes of one move */
    double *inflate;  /* MiB/s between two changes of a move that took memory */
    double *deflate;  /* ... that gave memory back */
    double *report_s; /* seconds between two reports */
    size_t ngap, ninflate, ndeflate, nreport, cap_gap, cap_inflate, cap_deflate, cap_report;
};

/* Adds the N samples P (ascending times) of one guest. Returns 0, or -1 when out of memory. */
int calib_add(struct calib_balloon *b, const struct calib_point *p, size_t n);

/* The median of the N values V (sorted in place); 0 when N is 0. */
double calib_median(double *v, size_t n);

/* Frees what calib_add allocated; accepts a zeroed struct. */
void calib_free(struct calib_balloon *b);

#endif
