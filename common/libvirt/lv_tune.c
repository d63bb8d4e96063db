/* What a domain declares about its CPU and memory use: <memtune> and <cputune> (shares, vCPU
 * quota and period) of its live definition, as libvirt applies them to its cgroups, and the vCPU
 * pins of its persistent definition (the administrator's, which live pins do not change:
 * docs/EVIDENCE.md#persistent-definition-pins). */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "xmlscan.h"

/* The kernel's and libvirt's CFS bandwidth period when <cputune><period> is not given (us). */
#define DEFAULT_VCPU_PERIOD_US 100000

/* Parses TEXT as a whole unsigned decimal number into *OUT; false when it is not one. */
static bool parse_u64(const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!text || text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Bytes in one UNIT of a libvirt memory size (NULL: KiB, libvirt's default); 0 when unknown. */
static uint64_t unit_bytes(const char *unit)
{
    static const struct {
        const char *name;
        uint64_t bytes;
    } units[] = {{"b", 1},          {"bytes", 1},        {"KB", 1000},
                 {"k", 1ull << 10}, {"KiB", 1ull << 10}, {"MB", 1000000},
                 {"M", 1ull << 20}, {"MiB", 1ull << 20}, {"GB", 1000000000},
                 {"G", 1ull << 30}, {"GiB", 1ull << 30}, {"TB", 1000000000000ull},
                 {"T", 1ull << 40}, {"TiB", 1ull << 40}};

    if (!unit)
        return 1024;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(unit, units[i].name) == 0)
            return units[i].bytes;
    return 0;
}

/* The memory size of E's text and unit in KiB; false when it cannot be read. */
static bool size_kib(const struct xmlscan_elem *e, uint64_t *kib)
{
    uint64_t v, unit = unit_bytes(xmlscan_get(e, "unit"));

    if (!unit || !parse_u64(e->text, &v) || (v > 0 && unit > UINT64_MAX / v))
        return false;
    *kib = v * unit / 1024;
    return true;
}

/* What the live definition says, gathered while scanning it. */
struct tune_scan {
    struct snap_tune t;
    bool unreadable; /* a value could not be read */
};

/* One <memtune> limit: its value into *KIB and FLAG into the scan's flags. */
static void memtune_limit(struct tune_scan *ts, const struct xmlscan_elem *e, uint64_t *kib,
                          uint32_t flag)
{
    if (!size_kib(e, kib)) {
        ts->unreadable = true;
        return;
    }
    ts->t.flags |= flag;
}

/* One <cputune> figure in microseconds (or a weight): its value into *OUT, FLAG when positive. */
static void cputune_value(struct tune_scan *ts, const struct xmlscan_elem *e, uint64_t *out,
                          uint32_t flag)
{
    /* A negative quota (-1) is libvirt's "no limit". */
    if (e->text[0] == '-')
        return;
    if (!parse_u64(e->text, out)) {
        ts->unreadable = true;
        return;
    }
    if (*out > 0)
        ts->t.flags |= flag;
}

static bool tune_fn(void *arg, const struct xmlscan_elem *e)
{
    struct tune_scan *ts = arg;
    uint64_t shares = 0;

    if (!e->text)
        return true;
    if (xmlscan_is(e, "domain/memtune/hard_limit"))
        memtune_limit(ts, e, &ts->t.hard_limit_kib, SNAP_TUNE_HARD_LIMIT);
    else if (xmlscan_is(e, "domain/memtune/soft_limit"))
        memtune_limit(ts, e, &ts->t.soft_limit_kib, SNAP_TUNE_SOFT_LIMIT);
    else if (xmlscan_is(e, "domain/memtune/swap_hard_limit"))
        memtune_limit(ts, e, &ts->t.swap_hard_limit_kib, SNAP_TUNE_SWAP_HARD_LIMIT);
    else if (xmlscan_is(e, "domain/cputune/quota"))
        cputune_value(ts, e, &ts->t.vcpu_quota_us, SNAP_TUNE_QUOTA);
    else if (xmlscan_is(e, "domain/cputune/period"))
        cputune_value(ts, e, &ts->t.vcpu_period_us, 0);
    else if (xmlscan_is(e, "domain/cputune/shares")) {
        cputune_value(ts, e, &shares, SNAP_TUNE_SHARES);
        ts->t.shares = shares > UINT32_MAX ? UINT32_MAX : (uint32_t)shares;
    }
    return true;
}

/* The CPU weight of guests that declare none, asked once per connection of the first such
 * domain E: what its cgroup has (1024 with cgroup v1, 100 with v2), or 0 when the driver does
 * not say. */
static uint32_t default_shares(struct lv *p, struct hv *hv, struct lv_dom *e)
{
    virTypedParameterPtr params = NULL;
    char *type;
    bool typed;
    int n = 0;

    if (p->shares_probed)
        return p->default_shares;
    p->shares_probed = true;
    hv_count_calls(hv, 2);
    type = virDomainGetSchedulerType(e->dom, &n); /* how many parameters there are */
    typed = type != NULL;
    free(type);
    if (!typed || n <= 0 || !(params = calloc((size_t)n, sizeof(*params))) ||
        virDomainGetSchedulerParametersFlags(e->dom, params, &n, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        log_debug("the host's default CPU weight is unknown: %s", lv_error_message());
        virResetLastError();
        free(params);
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (strcmp(params[i].field, VIR_DOMAIN_SCHEDULER_CPU_SHARES) == 0 &&
            params[i].type == VIR_TYPED_PARAM_ULLONG && params[i].value.ul <= UINT32_MAX)
            p->default_shares = (uint32_t)params[i].value.ul;
    virTypedParamsClear(params, n);
    free(params);
    log_debug("guests that declare no CPU shares have %u", p->default_shares);
    return p->default_shares;
}

int lv_tune_from_xml(struct lv *p, struct hv *hv, struct lv_dom *e, const char *xml,
                     const char *name)
{
    struct tune_scan ts = {0};

    if (xmlscan_walk_text(xml, tune_fn, &ts) < 0 || ts.unreadable)
        log_warning("cannot read all of the <cputune> and <memtune> of domain '%s'", name);
    if (!(ts.t.flags & SNAP_TUNE_SHARES))
        ts.t.shares = default_shares(p, hv, e);
    if (ts.t.vcpu_period_us == 0)
        ts.t.vcpu_period_us = DEFAULT_VCPU_PERIOD_US;
    e->tune = ts.t;
    return HV_OK;
}

/* The vCPU pins of a persistent definition, gathered while scanning it. */
struct pins_scan {
    const struct lv *p;
    unsigned char *maps; /* n maps, vCPU by vCPU (empty: not pinned) */
    size_t cap;          /* maps allocated */
    uint32_t n;          /* vCPUs up to the highest pinned one */
    bool unreadable;
};

/* vCPU ids from this one on are not read from a definition's pins (libvirt's own limit is far
 * below). */
#define MAX_VCPU_ID 65536

/* Makes PS hold maps for vCPUs 0 .. K (new ones empty); false when out of memory. */
static bool pins_reach(struct pins_scan *ps, uint32_t k)
{
    size_t len = ps->p->maplen;

    if (k < ps->n)
        return true;
    if (util_grow((void **)&ps->maps, &ps->cap, (size_t)k + 1, len) < 0)
        return false;
    memset(ps->maps + (size_t)ps->n * len, 0, ((size_t)k + 1 - ps->n) * len);
    ps->n = k + 1;
    return true;
}

static bool pins_fn(void *arg, const struct xmlscan_elem *e)
{
    struct pins_scan *ps = arg;
    const char *cpuset = xmlscan_get(e, "cpuset");
    size_t len = ps->p->maplen;
    uint64_t k = MAX_VCPU_ID;

    if (!xmlscan_is(e, "domain/cputune/vcpupin"))
        return true;
    if (!parse_u64(xmlscan_get(e, "vcpu"), &k) || k >= MAX_VCPU_ID || !cpuset ||
        !pins_reach(ps, (uint32_t)k) ||
        util_parse_cpulist(cpuset, ps->maps + (size_t)k * len, len) <= 0) {
        ps->unreadable = true;
        if (k < ps->n)
            memset(ps->maps + (size_t)k * len, 0, len);
    }
    return true;
}

/* Reads the persistent definition of E (domain NAME) for its vCPU pins into E->pins. */
static int read_pins(struct lv *p, struct hv *hv, struct lv_dom *e, const char *name)
{
    struct pins_scan ps = {p, NULL, 0, 0, false};
    char *xml;

    hv_count_calls(hv, 1);
    xml = virDomainGetXMLDesc(e->dom, VIR_DOMAIN_XML_INACTIVE);
    if (!xml)
        return lv_error_classify(p, LV_CALL_READ_CONFIG, name);
    if (xmlscan_walk(xml, pins_fn, &ps) < 0 || ps.unreadable)
        log_warning("cannot read all of the vCPU pins of the definition of domain '%s'", name);
    free(xml);
    e->pins = ps.maps;
    e->npins = ps.n;
    return HV_OK;
}

int lv_tune_read_pins(struct lv *p, struct hv *hv, struct lv_dom *e, const char *name)
{
    int persistent;

    free(e->pins);
    e->pins = NULL;
    e->npins = 0;
    /* A transient domain's "inactive" XML is its live one, live pins included: only a
     * persistent definition says what the administrator pinned. */
    hv_count_calls(hv, 1);
    persistent = virDomainIsPersistent(e->dom);
    if (persistent < 0)
        return lv_error_classify(p, LV_CALL_READ_CONFIG, name);
    return persistent ? read_pins(p, hv, e, name) : HV_OK;
}

int lv_tune_into(const struct lv *p, const struct lv_dom *e, struct snap *snap,
                 struct snap_domain *d)
{
    struct snap_vcpu *v = snap_vcpus_mut(snap, d);
    bool any = false;

    if (snap_set_domain_tune(snap, d, &e->tune) < 0)
        return -1;
    for (uint32_t k = 0; k < d->nvcpus && k < e->npins; k++) {
        const unsigned char *m = e->pins + (size_t)k * p->maplen;
        bool pinned = false;
        for (size_t b = 0; b < p->maplen; b++)
            pinned = pinned || m[b];
        if (pinned)
            v[k].flags |= SNAP_VCPU_DEFINED_PIN;
        any = any || pinned;
    }
    return any ? snap_set_defined_pins(snap, d, e->pins, e->npins) : 0;
}
