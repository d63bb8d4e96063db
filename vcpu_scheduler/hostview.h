/* What the vCPU scheduler may do on this host this period (pure): which pCPUs it may use, where
 * each vCPU may go (its guest's <vcpu cpuset>, its strict NUMA nodes, pins the host refused,
 * nowhere when its guest's definition pins it), each vCPU's home node, weight and quota, and the
 * load of each guest's emulator threads. */
#ifndef VMB_HOSTVIEW_H
#define VMB_HOSTVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"
#include "usage.h"

/* The administrator's choices (copied). Maps have one bit per pCPU, MAPLEN bytes; a pCPU beyond
 * a map is not in it. */
struct hostview_config {
    const unsigned char *cpus;          /* --cpus: pCPUs it may pin vCPUs to (NULL: all) */
    const unsigned char *emulator_cpus; /* --emulator-cpus: pCPUs for emulator threads (NULL) */
    size_t maplen;                      /* bytes of both maps */
    bool smt;                           /* fill physical cores before sibling threads */
};

struct hostview;

/* Returns a new view, or NULL when out of memory. */
struct hostview *hostview_create(const struct hostview_config *cfg);

/* Frees H; accepts NULL. */
void hostview_destroy(struct hostview *h);

/* Derives this period's view from CUR (U: usage from the previous sample, which is PREV, or
 * NULL). Returns 0, or -1 when out of memory. */
int hostview_derive(struct hostview *h, const struct snap *prev, const struct snap *cur,
                    const struct usage *u);

/* Per pCPU: 1 when vCPUs may be pinned there (online, in --cpus, not an emulator pCPU). */
const unsigned char *hostview_usable(const struct hostview *h);

/* Per pCPU: its NUMA node, and its physical core (NULL when SMT is ignored). */
const int *hostview_node(const struct hostview *h);
const int *hostview_core(const struct hostview *h);

/* vCPU V of CUR (index in the snapshot): the pCPUs it may be pinned to (NULL: every usable
 * one), whether it may go nowhere (left alone), its home node (-1: none) and whether its memory
 * binds it to that node. */
const unsigned char *hostview_allowed(const struct hostview *h, size_t v);
bool hostview_stranded(const struct hostview *h, size_t v);

/* vCPU V of CUR: whether its guest's persistent definition pins it (dedicated: never re-pinned;
 * hostview_allowed() is then the usable pCPUs of that pin), its CPU weight (its guest's shares,
 * SNAP_DEFAULT_SHARES when unknown) and the most of a pCPU its quota lets it run (1: none). */
bool hostview_fixed(const struct hostview *h, size_t v);
double hostview_weight(const struct hostview *h, size_t v);
double hostview_cap(const struct hostview *h, size_t v);
int hostview_home(const struct hostview *h, size_t v);
bool hostview_strict(const struct hostview *h, size_t v);

/* Domain D of CUR: its emulator threads' load (fraction of one pCPU), or -1 when unmeasured. */
double hostview_emulator(const struct hostview *h, size_t d);

/* Per pCPU: the emulator load counted there (each domain's spread over where it may run). */
const double *hostview_emulator_load(const struct hostview *h);

/* Learns that the host refuses to pin vCPU VCPU of domain UUID to pCPU P (a cgroup cpuset):
 * from the next derive on, P is not allowed for it. */
void hostview_refuse(struct hostview *h, const unsigned char *uuid, uint32_t vcpu, int p);

/* Forgets what it learned of domains no longer in CUR. */
void hostview_forget(struct hostview *h, const struct snap *cur);

#endif
