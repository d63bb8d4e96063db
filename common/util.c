/* Small shared pieces. */
#include "util.h"

#include <stdlib.h>

int util_grow(void **buf, size_t *cap, size_t need, size_t size)
{
    size_t ncap;
    void *nbuf;

    if (need <= *cap && *buf)
        return 0;
    ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / size)
            return -1;
        ncap *= 2;
    }
    nbuf = realloc(*buf, ncap * size);
    if (!nbuf)
        return -1;
    *buf = nbuf;
    *cap = ncap;
    return 0;
}
