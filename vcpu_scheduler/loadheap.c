/* An indexed binary heap of pCPUs keyed by their load. */
#include "loadheap.h"

#include <stdbool.h>
#include <stdlib.h>

static bool heap_before(const struct loadheap *hp, int a, int b)
{
    double ka = hp->sign * hp->key[a], kb = hp->sign * hp->key[b];
    return ka < kb || (ka == kb && a < b);
}

static void heap_swap(struct loadheap *hp, int i, int j)
{
    int t = hp->h[i];
    hp->h[i] = hp->h[j];
    hp->h[j] = t;
    hp->pos[hp->h[i]] = i;
    hp->pos[hp->h[j]] = j;
}

static void heap_down(struct loadheap *hp, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < hp->n && heap_before(hp, hp->h[l], hp->h[m]))
            m = l;
        if (r < hp->n && heap_before(hp, hp->h[r], hp->h[m]))
            m = r;
        if (m == i)
            return;
        heap_swap(hp, i, m);
        i = m;
    }
}

static void heap_up(struct loadheap *hp, int i)
{
    while (i > 0 && heap_before(hp, hp->h[i], hp->h[(i - 1) / 2])) {
        heap_swap(hp, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

void loadheap_fix(struct loadheap *hp, int p)
{
    heap_up(hp, hp->pos[p]);
    heap_down(hp, hp->pos[p]);
}

int loadheap_init(struct loadheap *hp, int np, const unsigned char *usable, const double *key,
                  double sign)
{
    hp->h = malloc((size_t)(np > 0 ? np : 1) * sizeof(int));
    hp->pos = malloc((size_t)(np > 0 ? np : 1) * sizeof(int));
    if (!hp->h || !hp->pos)
        return -1;
    hp->n = 0;
    hp->sign = sign;
    hp->key = key;
    for (int p = 0; p < np; p++) {
        hp->pos[p] = -1;
        if (!usable || usable[p]) {
            hp->h[hp->n] = p;
            hp->pos[p] = hp->n++;
        }
    }
    for (int i = hp->n / 2 - 1; i >= 0; i--)
        heap_down(hp, i);
    return 0;
}

void loadheap_free(struct loadheap *hp)
{
    free(hp->h);
    free(hp->pos);
}
