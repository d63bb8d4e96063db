/* Per-item state carried from one sample to the next. */
#include "carry.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void carry_init(struct carry *c, size_t size)
{
    memset(c, 0, sizeof(*c));
    c->size = size;
}

void carry_free(struct carry *c)
{
    free(c->cur);
    free(c->prev);
    carry_init(c, c->size);
}

int carry_reserve(struct carry *c, size_t n)
{
    return util_grow(&c->cur, &c->cap_cur, n ? n : 1, c->size);
}

const void *carry_prev(const struct carry *c, long i)
{
    return i >= 0 && (size_t)i < c->nprev ? (const char *)c->prev + (size_t)i * c->size : NULL;
}

void carry_swap(struct carry *c, size_t n)
{
    void *b = c->prev;
    size_t cap = c->cap_prev;

    c->prev = c->cur;
    c->cap_prev = c->cap_cur;
    c->nprev = n;
    c->cur = b;
    c->cap_cur = cap;
}
