/* Recorded hosts: the lab recorder's traces (format: tests/lab/record.py), loaded and replayed.
 *
 * A snapshot built from a trace holds what the libvirt backend would have put in it at that
 * moment: libvirt's bulk keys mapped as common/libvirt/lv_stats.c maps them (balloon.* in KiB,
 * vcpu.N.time / delay / wait in ns), the host's MemAvailable as its free memory, /proc/stat's
 * busy time per pCPU. */
#define _POSIX_C_SOURCE 200809L
#include "trace.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* One key=value of a record: a number, or text (pin lists). */
struct tkv {
    uint32_t key; /* index in trace.keys */
    int32_t str;  /* offset in trace.text, or -1 for a number */
    uint64_t num;
};

struct tsample {
    double t;
    size_t first, n; /* its kvs: trace.kv[first .. first + n - 1] */
};

struct tevent {
    double t;
    uint64_t kib;
};

struct tdom {
    char *name;
    struct tsample *s;
    size_t ns, cap_s;
    struct tevent *e;
    size_t ne, cap_e;
    struct tsample facts; /* its X record (n 0: none) */
};

struct thost {
    double t;
    uint64_t memavail_kib;
    size_t busy; /* its pCPUs' busy times: trace.busy[busy .. busy + ncpus - 1] */
};

struct tline {
    double t;
    size_t text; /* offset in trace.text */
};

struct trace {
    int ncpus;
    uint64_t memtotal_kib;
    char **keys;
    size_t nkeys, cap_keys;
    struct tkv *kv;
    size_t nkv, cap_kv;
    char *text;
    size_t ntext, cap_text;
    struct tdom *doms;
    size_t ndoms, cap_doms;
    struct thost *hosts;
    size_t nhosts, cap_hosts;
    uint64_t *busy;
    size_t nbusy, cap_busy;
    struct tline *lines;
    size_t nlines, cap_lines;
    struct tsample consts;
};

static const struct {
    const char *name;
    size_t off;
    uint32_t flag;
} mem_keys[] = {
        {"balloon.current", offsetof(struct snap_mem, actual_kib), SNAP_MEM_BALLOON},
        {"balloon.maximum", offsetof(struct snap_mem, max_kib), 0},
        {"balloon.unused", offsetof(struct snap_mem, unused_kib), SNAP_MEM_UNUSED},
        {"balloon.available", offsetof(struct snap_mem, available_kib), SNAP_MEM_AVAILABLE},
        {"balloon.usable", offsetof(struct snap_mem, usable_kib), SNAP_MEM_USABLE},
        {"balloon.rss", offsetof(struct snap_mem, rss_kib), SNAP_MEM_RSS},
        {"balloon.last-update", offsetof(struct snap_mem, last_update), SNAP_MEM_UPDATE},
        {"balloon.disk_caches", offsetof(struct snap_mem, disk_caches_kib), SNAP_MEM_DISK_CACHES},
        {"balloon.major_fault", offsetof(struct snap_mem, major_fault), SNAP_MEM_MAJOR_FAULT},
        {"balloon.minor_fault", offsetof(struct snap_mem, minor_fault), SNAP_MEM_MINOR_FAULT},
        {"balloon.swap_in", offsetof(struct snap_mem, swap_in_kib), SNAP_MEM_SWAP_IN},
        {"balloon.swap_out", offsetof(struct snap_mem, swap_out_kib), SNAP_MEM_SWAP_OUT},
};

#define NMEM_KEYS (sizeof(mem_keys) / sizeof(mem_keys[0]))

/* A domain whose latest sample is older than this (s) is gone at that moment. */
#define TRACE_GONE_S 1.0

static long key_find(const struct trace *t, const char *key)
{
    for (size_t i = 0; i < t->nkeys; i++)
        if (strcmp(t->keys[i], key) == 0)
            return (long)i;
    return -1;
}

static long key_intern(struct trace *t, const char *key)
{
    long k = key_find(t, key);

    if (k >= 0)
        return k;
    if (util_grow((void **)&t->keys, &t->cap_keys, t->nkeys + 1, sizeof(*t->keys)) < 0)
        return -1;
    t->keys[t->nkeys] = strdup(key);
    if (!t->keys[t->nkeys])
        return -1;
    return (long)t->nkeys++;
}

static long text_add(struct trace *t, const char *s)
{
    size_t len = strlen(s) + 1;
    long off = (long)t->ntext;

    if (util_grow((void **)&t->text, &t->cap_text, t->ntext + len, 1) < 0)
        return -1;
    memcpy(t->text + t->ntext, s, len);
    t->ntext += len;
    return off;
}

/* Adds the key=value words of the record in WORDS (N of them) as the kvs of S. */
static int add_kvs(struct trace *t, char **words, size_t n, struct tsample *s)
{
    s->first = t->nkv;
    s->n = 0;
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(words[i], '='), *end;
        struct tkv kv;
        long k;
        if (!eq)
            return -1;
        *eq = '\0';
        k = key_intern(t, words[i]);
        if (k < 0)
            return -1;
        kv.key = (uint32_t)k;
        errno = 0;
        kv.num = strtoull(eq + 1, &end, 10);
        kv.str = -1;
        if (*end || errno || eq[1] == '\0' || eq[1] == '-') {
            long off = text_add(t, eq + 1);
            if (off < 0)
                return -1;
            kv.str = (int32_t)off;
            kv.num = 0;
        }
        if (util_grow((void **)&t->kv, &t->cap_kv, t->nkv + 1, sizeof(*t->kv)) < 0)
            return -1;
        t->kv[t->nkv++] = kv;
        s->n++;
    }
    return 0;
}

static struct tdom *dom_get(struct trace *t, const char *name)
{
    long d = trace_dom_find(t, name);
    struct tdom *dm;

    if (d >= 0)
        return &t->doms[d];
    if (util_grow((void **)&t->doms, &t->cap_doms, t->ndoms + 1, sizeof(*t->doms)) < 0)
        return NULL;
    dm = &t->doms[t->ndoms];
    memset(dm, 0, sizeof(*dm));
    dm->name = strdup(name);
    if (!dm->name)
        return NULL;
    t->ndoms++;
    return dm;
}

static const struct tkv *kv_of(const struct trace *t, const struct tsample *s, const char *key)
{
    long k = key_find(t, key);

    if (k < 0)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (t->kv[s->first + i].key == (uint32_t)k)
            return &t->kv[s->first + i];
    return NULL;
}

static int parse_host(struct trace *t, double at, char **w, size_t n)
{
    struct thost h = {.t = at, .busy = t->nbusy};

    if (util_grow((void **)&t->busy, &t->cap_busy, t->nbusy + (size_t)t->ncpus, sizeof(*t->busy)) <
        0)
        return -1;
    for (int c = 0; c < t->ncpus; c++)
        t->busy[t->nbusy + (size_t)c] = 0;
    for (size_t i = 0; i < n; i++) {
        int cpu;
        unsigned long long v;
        if (sscanf(w[i], "memavail_kib=%llu", &v) == 1)
            h.memavail_kib = v;
        else if (sscanf(w[i], "cpu%d=%llu", &cpu, &v) == 2 && cpu >= 0 && cpu < t->ncpus)
            t->busy[t->nbusy + (size_t)cpu] = v;
    }
    t->nbusy += (size_t)t->ncpus;
    if (util_grow((void **)&t->hosts, &t->cap_hosts, t->nhosts + 1, sizeof(*t->hosts)) < 0)
        return -1;
    t->hosts[t->nhosts++] = h;
    return 0;
}

static int parse_dom(struct trace *t, char kind, double at, char **w, size_t n)
{
    struct tdom *d;
    struct tsample s = {.t = at};

    if (n < 1 || !(d = dom_get(t, w[0])))
        return -1;
    if (kind == 'E') {
        unsigned long long kib;
        if (n < 2 || sscanf(w[1], "balloon=%llu", &kib) != 1 ||
            util_grow((void **)&d->e, &d->cap_e, d->ne + 1, sizeof(*d->e)) < 0)
            return -1;
        d->e[d->ne++] = (struct tevent){.t = at, .kib = kib};
        return 0;
    }
    if (add_kvs(t, w + 1, n - 1, &s) < 0)
        return -1;
    if (kind == 'X') {
        d->facts = s;
        return 0;
    }
    if (util_grow((void **)&d->s, &d->cap_s, d->ns + 1, sizeof(*d->s)) < 0)
        return -1;
    d->s[d->ns++] = s;
    return 0;
}

static int parse_line_record(struct trace *t, double at, const char *rest)
{
    long off = text_add(t, rest);

    if (off < 0 ||
        util_grow((void **)&t->lines, &t->cap_lines, t->nlines + 1, sizeof(*t->lines)) < 0)
        return -1;
    t->lines[t->nlines++] = (struct tline){.t = at, .text = (size_t)off};
    return 0;
}

static int parse_consts(struct trace *t, char **w, size_t n)
{
    const struct tkv *kv;

    if (add_kvs(t, w, n, &t->consts) < 0)
        return -1;
    kv = kv_of(t, &t->consts, "ncpus");
    t->ncpus = kv && kv->str < 0 && kv->num > 0 && kv->num <= 4096 ? (int)kv->num : 0;
    kv = kv_of(t, &t->consts, "memtotal_kib");
    t->memtotal_kib = kv && kv->str < 0 ? kv->num : 0;
    return t->ncpus > 0 ? 0 : -1;
}

/* Parses one line (modified in place). */
static int parse_line(struct trace *t, char *line)
{
    char *w[4096], *save = NULL, *p, *rest;
    size_t n = 0;
    double at;
    char kind = line[0];

    if (kind == '#' || kind == '\0' || kind == '\n')
        return 0;
    line[strcspn(line, "\n")] = '\0';
    if (kind == 'C') {
        for (p = strtok_r(line + 1, " ", &save); p && n < 4096; p = strtok_r(NULL, " ", &save))
            w[n++] = p;
        return parse_consts(t, w, n);
    }
    if (line[1] != ' ' || t->ncpus == 0)
        return -1;
    at = strtod(line + 2, &rest);
    if (rest == line + 2 || (*rest != ' ' && *rest != '\0'))
        return -1;
    if (kind == 'T')
        return parse_line_record(t, at, *rest ? rest + 1 : rest);
    for (p = strtok_r(rest, " ", &save); p && n < 4096; p = strtok_r(NULL, " ", &save))
        w[n++] = p;
    if (kind == 'H')
        return parse_host(t, at, w, n);
    if (kind == 'D' || kind == 'E' || kind == 'X')
        return parse_dom(t, kind, at, w, n);
    return -1;
}

/* Opens PATH for reading, through gzip when it ends in ".gz" (*PIPED set). */
static FILE *open_trace(const char *path, bool *piped)
{
    size_t n = strlen(path);
    char cmd[1200];

    *piped = n > 3 && strcmp(path + n - 3, ".gz") == 0;
    if (!*piped)
        return fopen(path, "r");
    if (strchr(path, '\'') || n > 1000 || access(path, R_OK) != 0)
        return NULL;
    snprintf(cmd, sizeof(cmd), "gzip -dc -- '%s'", path);
    return popen(cmd, "r");
}

struct trace *trace_load(const char *path, char *why, size_t size)
{
    bool piped = false;
    FILE *f = open_trace(path, &piped);
    struct trace *t = calloc(1, sizeof(*t));
    char *line = NULL;
    size_t cap = 0;
    unsigned long no = 0;

    if (!f || !t) {
        snprintf(why, size, "cannot open '%s': %s", path, f ? "out of memory" : strerror(errno));
        goto fail;
    }
    while (getline(&line, &cap, f) > 0) {
        no++;
        if (parse_line(t, line) < 0) {
            snprintf(why, size, "'%s' line %lu is not a trace record", path, no);
            goto fail;
        }
    }
    if (t->nhosts == 0) {
        snprintf(why, size, "'%s' holds no sample", path);
        goto fail;
    }
    free(line);
    if ((piped ? pclose(f) : fclose(f)) != 0) {
        snprintf(why, size, "'%s' could not be read whole", path);
        trace_free(t);
        return NULL;
    }
    return t;

fail:
    free(line);
    if (f)
        (void)(piped ? pclose(f) : fclose(f));
    trace_free(t);
    return NULL;
}

void trace_free(struct trace *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nkeys; i++)
        free(t->keys[i]);
    for (size_t i = 0; i < t->ndoms; i++) {
        free(t->doms[i].name);
        free(t->doms[i].s);
        free(t->doms[i].e);
    }
    free(t->keys);
    free(t->kv);
    free(t->text);
    free(t->doms);
    free(t->hosts);
    free(t->busy);
    free(t->lines);
    free(t);
}

int trace_ncpus(const struct trace *t)
{
    return t->ncpus;
}

uint64_t trace_memtotal_kib(const struct trace *t)
{
    return t->memtotal_kib;
}

const char *trace_const(const struct trace *t, const char *key)
{
    const struct tkv *kv = kv_of(t, &t->consts, key);

    return kv && kv->str >= 0 ? t->text + kv->str : NULL;
}

double trace_start(const struct trace *t)
{
    return t->hosts[0].t;
}

double trace_end(const struct trace *t)
{
    return t->hosts[t->nhosts - 1].t;
}

size_t trace_ndoms(const struct trace *t)
{
    return t->ndoms;
}

const char *trace_dom_name(const struct trace *t, size_t dom)
{
    return t->doms[dom].name;
}

long trace_dom_find(const struct trace *t, const char *name)
{
    for (size_t i = 0; i < t->ndoms; i++)
        if (strcmp(t->doms[i].name, name) == 0)
            return (long)i;
    return -1;
}

size_t trace_nsamples(const struct trace *t, size_t dom)
{
    return t->doms[dom].ns;
}

double trace_sample_t(const struct trace *t, size_t dom, size_t k)
{
    return t->doms[dom].s[k].t;
}

bool trace_u64(const struct trace *t, size_t dom, size_t k, const char *key, uint64_t *v)
{
    const struct tkv *kv = kv_of(t, &t->doms[dom].s[k], key);

    if (!kv || kv->str >= 0)
        return false;
    *v = kv->num;
    return true;
}

const char *trace_str(const struct trace *t, size_t dom, size_t k, const char *key)
{
    const struct tkv *kv = kv_of(t, &t->doms[dom].s[k], key);

    return kv && kv->str >= 0 ? t->text + kv->str : NULL;
}

bool trace_fact(const struct trace *t, size_t dom, const char *key, uint64_t *v)
{
    const struct tkv *kv = kv_of(t, &t->doms[dom].facts, key);

    if (!kv || kv->str >= 0)
        return false;
    *v = kv->num;
    return true;
}

/* The last index of the ascending times T0[0 .. N-1] (each STRIDE bytes apart) at or before AT,
 * or -1. */
static long last_at(const void *base, size_t n, size_t stride, double at)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        double tm;
        memcpy(&tm, (const char *)base + mid * stride, sizeof(tm));
        if (tm <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

long trace_sample_at(const struct trace *t, size_t dom, double at)
{
    return last_at(t->doms[dom].s, t->doms[dom].ns, sizeof(struct tsample), at);
}

size_t trace_nevents(const struct trace *t, size_t dom)
{
    return t->doms[dom].ne;
}

void trace_event(const struct trace *t, size_t dom, size_t k, double *at, uint64_t *kib)
{
    *at = t->doms[dom].e[k].t;
    *kib = t->doms[dom].e[k].kib;
}

size_t trace_nlines(const struct trace *t)
{
    return t->nlines;
}

double trace_line_t(const struct trace *t, size_t k)
{
    return t->lines[k].t;
}

const char *trace_line(const struct trace *t, size_t k)
{
    return t->text + t->lines[k].text;
}

void trace_uuid(const char *name, unsigned char *uuid)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    memcpy(uuid, "tracedom", 8);
    for (int i = 0; i < 8; i++)
        uuid[8 + i] = (unsigned char)(h >> (8 * i));
}

/* The single pCPU of the CPU list TEXT ("3"), or -1 for several ("0-1", "0,2") or none. */
static int single_cpu(const char *text)
{
    char *end;
    long v;

    if (!text || !*text || *text == '-')
        return -1;
    v = strtol(text, &end, 10);
    return *end == '\0' && v >= 0 && v < 65536 ? (int)v : -1;
}

static void fill_vcpus(const struct trace *t, size_t d, size_t k, struct snap_vcpu *v, uint32_t n)
{
    char key[64];

    for (uint32_t i = 0; i < n; i++) {
        uint64_t x;
        snprintf(key, sizeof(key), "vcpu.%u.time", i);
        v[i].time_ns = trace_u64(t, d, k, key, &x) ? x : 0;
        snprintf(key, sizeof(key), "vcpu.%u.delay", i);
        if (trace_u64(t, d, k, key, &x)) {
            v[i].delay_ns = x;
            v[i].flags |= SNAP_VCPU_DELAY;
        }
        snprintf(key, sizeof(key), "vcpu.%u.wait", i);
        if (trace_u64(t, d, k, key, &x)) {
            v[i].wait_ns = x;
            v[i].flags |= SNAP_VCPU_WAIT;
        }
        snprintf(key, sizeof(key), "pin.%u", i);
        v[i].pin = single_cpu(trace_str(t, d, k, key));
        if (v[i].pin < 0 && trace_u64(t, d, k, key, &x) && x < 65536)
            v[i].pin = (int32_t)x;
    }
}

static void fill_mem(const struct trace *t, size_t d, size_t k, struct snap_mem *m)
{
    for (size_t i = 0; i < NMEM_KEYS; i++) {
        uint64_t x;
        if (trace_u64(t, d, k, mem_keys[i].name, &x)) {
            memcpy((char *)m + mem_keys[i].off, &x, sizeof(x));
            m->flags |= mem_keys[i].flag;
        }
    }
}

static uint32_t config_of(const struct trace *t, size_t d)
{
    uint64_t v;
    uint32_t cfg = 0;

    if (t->doms[d].facts.n == 0)
        return 0;
    cfg = SNAP_CFG_KNOWN;
    if (trace_fact(t, d, "autodeflate", &v) && v)
        cfg |= SNAP_CFG_AUTODEFLATE;
    if (trace_fact(t, d, "free_page_reporting", &v) && v)
        cfg |= SNAP_CFG_FREE_PAGE_REPORTING;
    if (trace_fact(t, d, "hugepages", &v) && v)
        cfg |= SNAP_CFG_HUGEPAGES;
    return cfg;
}

/* Adds domain D as of its sample K to SNAP. */
static int add_domain(const struct trace *t, size_t d, size_t k, unsigned what, struct snap *snap)
{
    unsigned char uuid[SNAP_UUID_LEN];
    uint64_t nv = 0, state = 1;
    struct snap_domain *sd;

    trace_u64(t, d, k, "vcpu.current", &nv);
    trace_u64(t, d, k, "state.state", &state);
    trace_uuid(t->doms[d].name, uuid);
    sd = snap_add_domain(snap, uuid, t->doms[d].name,
                         (what & HV_SAMPLE_CPU) && nv < 4096 ? (uint32_t)nv : 0);
    if (!sd)
        return -1;
    sd->state = state == 1 ? SNAP_RUNNING : state == 3 ? SNAP_PAUSED : SNAP_OTHER;
    sd->cfg = config_of(t, d);
    if (what & HV_SAMPLE_CPU)
        fill_vcpus(t, d, k, snap_vcpus_mut(snap, sd), sd->nvcpus);
    if (what & HV_SAMPLE_MEM)
        fill_mem(t, d, k, &sd->mem);
    return 0;
}

/* trace_snap() of the domains FILTER (with ARG; NULL: all) accepts. */
static int snap_of(const struct trace *t, double at, unsigned what, hv_filter_fn filter, void *arg,
                   struct snap *snap)
{
    long h = last_at(t->hosts, t->nhosts, sizeof(*t->hosts), at);
    const struct thost *host = &t->hosts[h < 0 ? 0 : h];

    if (snap_reset(snap, (uint64_t)(at > 0 ? at * 1e9 : 0), t->ncpus) < 0)
        return -1;
    for (int c = 0; c < t->ncpus; c++)
        snap_set_pcpu_busy(snap, c, t->busy[host->busy + (size_t)c]);
    if (what & HV_SAMPLE_MEM)
        snap_set_host_memory(snap, t->memtotal_kib, host->memavail_kib);
    for (size_t d = 0; d < t->ndoms; d++) {
        long k = trace_sample_at(t, d, at);
        if (k < 0 || t->doms[d].s[k].t < at - TRACE_GONE_S ||
            (filter && !filter(t->doms[d].name, arg)))
            continue;
        if (add_domain(t, d, (size_t)k, what, snap) < 0)
            return -1;
    }
    snap_finalize(snap);
    return 0;
}

int trace_snap(const struct trace *t, double at, unsigned what, struct snap *snap)
{
    return snap_of(t, at, what, NULL, NULL, snap);
}

/* ---- the replay hv ---- */

struct trace_hvp {
    const struct trace *t;
    const double *clock;
    struct trace_write *w;
    size_t nw, cap_w;
};

static int replay_sample(struct hv *hv, struct snap *snap, unsigned what, hv_filter_fn filter,
                         void *arg)
{
    struct trace_hvp *p = hv_priv(hv);

    hv_count_calls(hv, 1);
    return snap_of(p->t, *p->clock, what, filter, arg, snap) < 0 ? HV_FAIL : HV_OK;
}

static int record_write(struct hv *hv, const unsigned char *uuid, bool memory, uint64_t kib,
                        uint32_t vcpu, int pcpu)
{
    struct trace_hvp *p = hv_priv(hv);

    hv_count_calls(hv, 1);
    if (util_grow((void **)&p->w, &p->cap_w, p->nw + 1, sizeof(*p->w)) < 0)
        return HV_FAIL;
    p->w[p->nw] = (struct trace_write){
            .at = *p->clock, .memory = memory, .kib = kib, .vcpu = vcpu, .pcpu = pcpu};
    memcpy(p->w[p->nw].uuid, uuid, SNAP_UUID_LEN);
    p->nw++;
    return HV_OK;
}

static int replay_set_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                               const unsigned char *map, size_t maplen)
{
    int pcpu = -1, n = 0;

    for (size_t b = 0; b < maplen * 8; b++)
        if (map[b / 8] & (1u << (b % 8))) {
            pcpu = (int)b;
            n++;
        }
    return record_write(hv, uuid, false, 0, vcpu, n == 1 ? pcpu : -1);
}

static int replay_get_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                               unsigned char *map, size_t maplen)
{
    (void)uuid;
    (void)vcpu;
    hv_count_calls(hv, 1);
    memset(map, 0xff, maplen); /* the trace keeps pins as lists: all pCPUs is what it allows */
    return HV_OK;
}

static int replay_set_memory(struct hv *hv, const unsigned char *uuid, uint64_t kib)
{
    return record_write(hv, uuid, true, kib, 0, -1);
}

static int replay_set_emulator(struct hv *hv, const unsigned char *uuid, const unsigned char *map,
                               size_t maplen)
{
    (void)uuid;
    (void)map;
    (void)maplen;
    hv_count_calls(hv, 1);
    return HV_OK;
}

static int replay_enable_memstats(struct hv *hv, const unsigned char *uuid, int period_s)
{
    (void)uuid;
    (void)period_s;
    hv_count_calls(hv, 1);
    return HV_OK;
}

static int replay_reconnect(struct hv *hv)
{
    (void)hv;
    return HV_OK;
}

static void replay_close(struct hv *hv)
{
    struct trace_hvp *p = hv_priv(hv);

    if (p) {
        free(p->w);
        free(p);
    }
}

static const struct hv_ops replay_ops = {
        .name = "trace",
        .sample = replay_sample,
        .set_affinity = replay_set_affinity,
        .get_affinity = replay_get_affinity,
        .set_memory = replay_set_memory,
        .set_emulator_affinity = replay_set_emulator,
        .enable_memstats = replay_enable_memstats,
        .reconnect = replay_reconnect,
        .close = replay_close,
};

struct hv *trace_hv(const struct trace *t, const double *clock)
{
    struct trace_hvp *p = calloc(1, sizeof(*p));
    struct hv *hv;

    if (!p)
        return NULL;
    p->t = t;
    p->clock = clock;
    hv = hv_create(&replay_ops, p);
    if (!hv)
        free(p);
    return hv;
}

size_t trace_hv_nwrites(struct hv *hv)
{
    return ((struct trace_hvp *)hv_priv(hv))->nw;
}

const struct trace_write *trace_hv_write(struct hv *hv, size_t k)
{
    return &((struct trace_hvp *)hv_priv(hv))->w[k];
}
