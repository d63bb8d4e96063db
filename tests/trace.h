/* Recorded hosts: a trace written by the lab's recorder (tests/lab/record.py), loaded whole,
 * and replayed as what the tools would have read at any moment: a snapshot, or an hv whose
 * samples come from the trace (its writes are recorded, not acted on: an open loop). */
#ifndef VMB_TRACE_H
#define VMB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "snapshot.h"

struct trace;

/* Loads the trace at PATH (gzip-compressed when it ends in ".gz"); returns NULL (with the reason
 * in WHY, SIZE bytes) when it cannot be read or a line is malformed. Free with trace_free(). */
struct trace *trace_load(const char *path, char *why, size_t size);

/* Frees T; accepts NULL. */
void trace_free(struct trace *t);

/* The host's pCPU count, memory (KiB) and the recording's constants (NULL when absent). */
int trace_ncpus(const struct trace *t);
uint64_t trace_memtotal_kib(const struct trace *t);
const char *trace_const(const struct trace *t, const char *key);

/* Time (s) of the first and the last sample. */
double trace_start(const struct trace *t);
double trace_end(const struct trace *t);

/* Domains in the trace (in order of first appearance) and their names. */
size_t trace_ndoms(const struct trace *t);
const char *trace_dom_name(const struct trace *t, size_t dom);
/* The index of the domain called NAME, or -1. */
long trace_dom_find(const struct trace *t, const char *name);

/* Samples of domain DOM: how many, the time of sample K, and a value of it. */
size_t trace_nsamples(const struct trace *t, size_t dom);
double trace_sample_t(const struct trace *t, size_t dom, size_t k);
/* The number KEY (libvirt's name, "balloon.current", "vcpu.0.time") of sample K into *V;
 * false when the sample has no such number. */
bool trace_u64(const struct trace *t, size_t dom, size_t k, const char *key, uint64_t *v);
/* The text KEY ("pin.0") of sample K, or NULL. */
const char *trace_str(const struct trace *t, size_t dom, size_t k, const char *key);
/* The latest sample of DOM at or before time AT, or -1. */
long trace_sample_at(const struct trace *t, size_t dom, double at);
/* A definition fact of DOM ("autodeflate": 0/1), false when unknown. */
bool trace_fact(const struct trace *t, size_t dom, const char *key, uint64_t *v);

/* Balloon-change events of DOM: how many, and event K's time and size (KiB). */
size_t trace_nevents(const struct trace *t, size_t dom);
void trace_event(const struct trace *t, size_t dom, size_t k, double *at, uint64_t *kib);

/* The tool's log lines stamped in the trace: how many, line K's time and text. */
size_t trace_nlines(const struct trace *t);
double trace_line_t(const struct trace *t, size_t k);
const char *trace_line(const struct trace *t, size_t k);

/* Fills SNAP (reset and finalized here) with what a tool sampling at time AT would have read:
 * per domain its latest sample at or before AT (domains not sampled yet, or whose last sample
 * is more than 2 s older than the host's, are gone), the host's latest. WHAT: HV_SAMPLE_*.
 * Returns 0, or -1 when out of memory. */
int trace_snap(const struct trace *t, double at, unsigned what, struct snap *snap);

/* The UUID a trace gives domain NAME (stable: derived from the name). */
void trace_uuid(const char *name, unsigned char *uuid);

/* An hv whose samples are trace_snap() of T at *CLOCK (advanced by the caller). Writes
 * succeed and are counted (trace_hv_writes), never acted on. T must outlive it; destroy it with
 * hv_destroy(). Returns NULL when out of memory. */
struct hv *trace_hv(const struct trace *t, const double *clock);

/* One write an open-loop replay made. */
struct trace_write {
    double at; /* *CLOCK when it was made */
    unsigned char uuid[SNAP_UUID_LEN];
    bool memory;   /* a balloon target (else a pin) */
    uint64_t kib;  /* the target */
    uint32_t vcpu; /* the vCPU pinned ... */
    int pcpu;      /* ... to this pCPU (-1: several) */
};

/* The writes made through HV (a trace_hv) so far. */
size_t trace_hv_nwrites(struct hv *hv);
const struct trace_write *trace_hv_write(struct hv *hv, size_t k);

#endif
