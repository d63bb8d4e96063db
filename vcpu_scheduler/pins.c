/* The vCPU affinities saved before our first change of each, for --restore-pins. */
#include "sched_state.h"

#include <stdlib.h>
#include <string.h>

void pins_remember(struct sched *s, struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                   int npcpus)
{
    size_t maplen = hv_maplen(npcpus);
    unsigned char *map = calloc(maplen, 1);

    if (!map)
        return;
    if (hv_get_affinity(hv, uuid, vcpu, map, maplen) != HV_OK) {
        free(map);
        return;
    }
    if (s->nsaved == s->saved_cap) {
        size_t ncap = s->saved_cap ? s->saved_cap * 2 : 64;
        struct saved_map *n = realloc(s->saved, ncap * sizeof(*n));
        if (!n) {
            free(map);
            return;
        }
        s->saved = n;
        s->saved_cap = ncap;
    }
    memcpy(s->saved[s->nsaved].uuid, uuid, SNAP_UUID_LEN);
    s->saved[s->nsaved].vcpu = vcpu;
    s->saved[s->nsaved].seq = s->nsaved;
    s->saved[s->nsaved].maplen = maplen;
    s->saved[s->nsaved].map = map;
    s->nsaved++;
}

void pins_forget_vanished(struct sched *s, const struct snap *cur)
{
    size_t out = 0;

    for (size_t i = 0; i < s->nsaved; i++) {
        if (snap_find(cur, s->saved[i].uuid) < 0) {
            free(s->saved[i].map);
            continue;
        }
        s->saved[out++] = s->saved[i];
    }
    s->nsaved = out;
}

static int saved_cmp(const void *a, const void *b)
{
    const struct saved_map *x = a, *y = b;
    int c = snap_uuid_cmp(x->uuid, y->uuid);

    if (c)
        return c;
    if (x->vcpu != y->vcpu)
        return x->vcpu < y->vcpu ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t pins_restore(struct sched *s, struct hv *hv)
{
    size_t restored = 0;

    if (s->nsaved > 1)
        qsort(s->saved, s->nsaved, sizeof(*s->saved), saved_cmp);
    for (size_t i = 0; i < s->nsaved; i++) {
        const struct saved_map *m = &s->saved[i];
        /* The oldest record of a vCPU holds its original affinity. */
        if (i > 0 && snap_uuid_cmp(m->uuid, s->saved[i - 1].uuid) == 0 &&
            m->vcpu == s->saved[i - 1].vcpu)
            continue;
        if (hv_set_affinity(hv, m->uuid, m->vcpu, m->map, m->maplen) == HV_OK)
            restored++;
    }
    for (size_t i = 0; i < s->nsaved; i++)
        free(s->saved[i].map);
    s->nsaved = 0;
    return restored;
}
