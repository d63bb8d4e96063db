/* Per-item state carried from one sample to the next: two buffers, swapped every period. */
#ifndef VMB_CARRY_H
#define VMB_CARRY_H

#include <stddef.h>

/* Initialise with carry_init(); free with carry_free(). */
struct carry {
    void *cur, *prev; /* this period's items / the previous period's */
    size_t size;      /* bytes per item */
    size_t cap_cur, cap_prev, nprev;
};

/* Prepares C for items of SIZE bytes. */
void carry_init(struct carry *c, size_t size);

/* Frees both buffers; accepts an initialised, unused C. */
void carry_free(struct carry *c);

/* Makes room for N items in the current buffer (contents undefined). Returns 0 or -1. */
int carry_reserve(struct carry *c, size_t n);

/* Returns previous item I, or NULL when I is not one (e.g. -1 for a new item). */
const void *carry_prev(const struct carry *c, long i);

/* The current period's first N items become the previous ones. */
void carry_swap(struct carry *c, size_t n);

#endif
