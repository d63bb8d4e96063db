/* Small shared pieces. */
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t util_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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

/* Reads a CPU number at *S (advancing it); -1 when there is none or it is absurd. */
static long read_cpu(const char **s)
{
    long n = 0;

    if (!isdigit((unsigned char)**s))
        return -1;
    while (isdigit((unsigned char)**s)) {
        n = n * 10 + (**s - '0');
        if (n > 1000000)
            return -1;
        (*s)++;
    }
    return n;
}

int util_parse_cpulist(const char *s, unsigned char *map, size_t maplen)
{
    long nbits = (long)maplen * 8;
    int count = 0;

    memset(map, 0, maplen);
    if (!s || !*s)
        return -1;
    for (;;) {
        bool exclude = *s == '^';
        long lo, hi;
        s += exclude;
        lo = read_cpu(&s);
        hi = lo;
        if (lo >= 0 && *s == '-' && !exclude) {
            s++;
            hi = read_cpu(&s);
        }
        if (lo < 0 || hi < lo || hi >= nbits)
            return -1;
        for (long c = lo; c <= hi; c++) {
            unsigned char bit = (unsigned char)(1u << (c % 8));
            if (exclude)
                map[c / 8] &= (unsigned char)~bit;
            else
                map[c / 8] |= bit;
        }
        if (*s == '\0')
            break;
        if (*s != ',')
            return -1;
        s++;
    }
    for (long c = 0; c < nbits; c++)
        count += util_bit(map, (int)c);
    return count;
}

void util_format_cpulist(const unsigned char *map, int nbits, char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (int c = 0; c < nbits; c++) {
        int end = c;
        int n;
        if (!util_bit(map, c))
            continue;
        while (end + 1 < nbits && util_bit(map, end + 1))
            end++;
        n = end > c ? snprintf(buf + used, len - used, "%s%d-%d", used ? "," : "", c, end)
                    : snprintf(buf + used, len - used, "%s%d", used ? "," : "", c);
        if (n < 0 || (size_t)n >= len - used) {
            if (len > 4)
                memcpy(buf + len - 4, "...", 4);
            return;
        }
        used += (size_t)n;
        c = end;
    }
}

double util_stddev(const double *x, const unsigned char *mask, int n)
{
    double sum = 0, sq = 0;
    int k = 0;

    for (int i = 0; i < n; i++) {
        if (mask && !mask[i])
            continue;
        sum += x[i];
        k++;
    }
    if (k == 0)
        return 0;
    for (int i = 0; i < n; i++) {
        double d;
        if (mask && !mask[i])
            continue;
        d = x[i] - sum / k;
        sq += d * d;
    }
    return sqrt(sq / k);
}
