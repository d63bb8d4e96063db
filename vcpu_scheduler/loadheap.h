/* An indexed binary heap of pCPUs keyed by their load, for the planner's least and most loaded. */
#ifndef VMB_LOADHEAP_H
#define VMB_LOADHEAP_H

/* A min-heap (sign 1) or a max-heap (sign -1) of pCPUs; ties go to the lower pCPU number. The
 * keys are the caller's, read where they are: after a key changes, call loadheap_fix(). */
struct loadheap {
    int *h;   /* heap of pCPU numbers; h[0] is the top */
    int *pos; /* position of each pCPU in h, or -1 */
    int n;
    double sign;
    const double *key;
};

/* Fills HP with the usable pCPUs of NP (USABLE: nonzero per usable pCPU, NULL: all) keyed by
 * KEY, a min-heap for SIGN 1 or a max-heap for -1. Returns 0, or -1 when out of memory (free
 * HP with loadheap_free() either way). */
int loadheap_init(struct loadheap *hp, int np, const unsigned char *usable, const double *key,
                  double sign);

/* Restores the heap after the key of pCPU P changed. */
void loadheap_fix(struct loadheap *hp, int p);

/* Frees what loadheap_init() allocated; accepts a zeroed heap. */
void loadheap_free(struct loadheap *hp);

#endif
