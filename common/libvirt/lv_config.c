/* Domain configuration facts: what an administrator set in a domain's XML that the policies
 * must respect (<vcpu cpuset>, a strict <numatune>, the balloon's features, huge pages, and with
 * lv_tune.c <cputune>, <memtune> and the persistent definition's vCPU pins), where its emulator
 * threads run, and its disks. Read when a domain is first seen, again when a tunable event says
 * it changed, and a few domains a period again to notice other changes (libvirt sends no event
 * for <memtune>: docs/EVIDENCE.md#tunable-events). */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "xmlscan.h"

/* Domains seen for the first time whose configuration is read in one period (the rest wait for
 * the next periods; the policies leave a domain alone until its configuration is known). */
#define CONFIG_NEW_PER_PERIOD 256

/* Domains whose configuration is read again each period, to notice changes. */
#define CONFIG_REFRESH_PER_PERIOD 2

/* What the XML says, gathered while scanning it. */
struct facts {
    uint32_t cfg;
    char cpuset[1024];      /* <vcpu cpuset>, "" when none */
    char nodeset[256];      /* strict <numatune><memory nodeset>, "" when none */
    char emulatorpin[1024]; /* <cputune><emulatorpin cpuset> */
    char disks[1024];       /* <devices><disk><target dev>, each NUL-terminated */
    size_t disks_len;
    uint32_t ndisks;
    bool too_long;
};

/* Adds the target name of a disk (E, its <target>) to F. */
static void add_disk(struct facts *f, const struct xmlscan_elem *e)
{
    const char *dev = xmlscan_get(e, "dev");
    size_t len = dev ? strlen(dev) + 1 : 0;

    if (len <= 1)
        return;
    if (f->disks_len + len > sizeof(f->disks)) {
        f->too_long = true;
        return;
    }
    memcpy(f->disks + f->disks_len, dev, len);
    f->disks_len += len;
    f->ndisks++;
}

static void copy_attr(struct facts *f, const struct xmlscan_elem *e, const char *name, char *out,
                      size_t len)
{
    const char *v = xmlscan_get(e, name);

    if (!v)
        return;
    if (strlen(v) >= len) {
        f->too_long = true;
        return;
    }
    memcpy(out, v, strlen(v) + 1);
}

static bool is_on(const struct xmlscan_elem *e, const char *name)
{
    const char *v = xmlscan_get(e, name);
    return v && strcmp(v, "on") == 0;
}

static bool facts_fn(void *arg, const struct xmlscan_elem *e)
{
    struct facts *f = arg;

    if (xmlscan_is(e, "domain/vcpu")) {
        copy_attr(f, e, "cpuset", f->cpuset, sizeof(f->cpuset));
    } else if (xmlscan_is(e, "domain/numatune/memory")) {
        const char *mode = xmlscan_get(e, "mode");
        if (!mode || strcmp(mode, "strict") == 0) /* strict is libvirt's default mode */
            copy_attr(f, e, "nodeset", f->nodeset, sizeof(f->nodeset));
    } else if (xmlscan_is(e, "domain/devices/memballoon")) {
        if (is_on(e, "autodeflate"))
            f->cfg |= SNAP_CFG_AUTODEFLATE;
        if (is_on(e, "freePageReporting"))
            f->cfg |= SNAP_CFG_FREE_PAGE_REPORTING;
    } else if (xmlscan_is(e, "domain/memoryBacking/hugepages")) {
        f->cfg |= SNAP_CFG_HUGEPAGES;
    } else if (xmlscan_is(e, "domain/cputune/emulatorpin")) {
        copy_attr(f, e, "cpuset", f->emulatorpin, sizeof(f->emulatorpin));
    } else if (xmlscan_is(e, "domain/devices/disk/target")) {
        add_disk(f, e);
    }
    return true;
}

/* Keeps the disk names of F in E; false when out of memory. */
static bool disks_from(struct lv_dom *e, const struct facts *f)
{
    free(e->disks);
    e->disks = NULL;
    e->ndisks = 0;
    if (!f->ndisks)
        return true;
    e->disks = malloc(f->disks_len);
    if (!e->disks)
        return false;
    memcpy(e->disks, f->disks, f->disks_len);
    e->ndisks = f->ndisks;
    return true;
}

/* Makes *MAP a map of P's size (allocated when missing); false when out of memory. */
static bool own_map(const struct lv *p, unsigned char **map)
{
    if (!*map)
        *map = calloc(p->maplen, 1);
    return *map != NULL;
}

/* The pCPUs E's vCPUs may run on: <vcpu cpuset>, cut by the CPUs of strict NUMA nodes. */
static void allowed_from(struct lv *p, struct lv_dom *e, const struct facts *f, const char *name)
{
    free(e->allowed);
    e->allowed = NULL;
    e->numa_nodes = 0;
    if (f->nodeset[0]) {
        unsigned char nodes[8];
        if (util_parse_cpulist(f->nodeset, nodes, sizeof(nodes)) < 0) {
            log_warning("cannot read the NUMA nodes '%s' of domain '%s'", f->nodeset, name);
        } else {
            memcpy(&e->numa_nodes, nodes, sizeof(e->numa_nodes));
            e->cfg |= SNAP_CFG_NUMA_STRICT;
        }
    }
    if (!f->cpuset[0] && !(e->cfg & SNAP_CFG_NUMA_STRICT))
        return;
    if (!own_map(p, &e->allowed))
        return;
    if (!f->cpuset[0] || util_parse_cpulist(f->cpuset, e->allowed, p->maplen) < 0) {
        if (f->cpuset[0])
            log_warning("cannot read the CPU set '%s' of domain '%s'", f->cpuset, name);
        memset(e->allowed, 0xff, p->maplen);
    }
    for (int c = 0; c < p->npcpus && (e->cfg & SNAP_CFG_NUMA_STRICT); c++)
        if (p->node[c] < 0 || p->node[c] >= 64 || !((e->numa_nodes >> p->node[c]) & 1))
            e->allowed[c / 8] &= (unsigned char)~(1u << (c % 8));
    e->cfg |= SNAP_CFG_CPUSET;
}

/* Where E's emulator threads may run now: the live pin, else the XML's, else anywhere. */
static void emulator_from(struct lv *p, struct hv *hv, struct lv_dom *e, const struct facts *f)
{
    if (!own_map(p, &e->emulator))
        return;
    hv_count_calls(hv, 1);
    if (virDomainGetEmulatorPinInfo(e->dom, e->emulator, (int)p->maplen, VIR_DOMAIN_AFFECT_LIVE) >=
        0)
        return;
    virResetLastError();
    if (!f->emulatorpin[0] || util_parse_cpulist(f->emulatorpin, e->emulator, p->maplen) < 0) {
        free(e->emulator);
        e->emulator = NULL;
    }
}

int lv_config_read(struct lv *p, struct hv *hv, struct lv_dom *e, const char *name)
{
    struct facts f = {0};
    char *xml;
    int rc;

    hv_count_calls(hv, 1);
    xml = virDomainGetXMLDesc(e->dom, 0);
    if (!xml)
        return lv_error_classify(p, LV_CALL_READ_CONFIG, name);
    if (xmlscan_walk(xml, facts_fn, &f) < 0 || f.too_long)
        log_warning("cannot read all of the configuration of domain '%s'", name);
    rc = lv_tune_from_xml(p, hv, e, xml, name);
    free(xml);
    if (rc == HV_OK)
        rc = lv_tune_read_pins(p, hv, e, name);
    if (rc != HV_OK)
        return rc;
    e->cfg = f.cfg;
    allowed_from(p, e, &f, name);
    emulator_from(p, hv, e, &f);
    if (!disks_from(e, &f))
        return HV_FAIL;
    e->cfg_read = true;
    return HV_OK;
}

int lv_config_into(const struct lv *p, const struct lv_dom *e, struct snap *snap,
                   struct snap_domain *d)
{
    if (!e->cfg_read)
        return 0;
    d->cfg |= e->cfg | SNAP_CFG_KNOWN;
    d->numa_nodes = e->numa_nodes;
    if (e->allowed && snap_set_domain_map(snap, d, SNAP_MAP_ALLOWED, e->allowed) < 0)
        return -1;
    if (e->emulator && snap_set_domain_map(snap, d, SNAP_MAP_EMULATOR, e->emulator) < 0)
        return -1;
    return lv_tune_into(p, e, snap, d);
}

/* Reads the configuration of domain I of SNAP when it is new (within *BUDGET), when a tunable
 * event asked for it, or FORCE. */
static int maybe_read(struct lv *p, struct hv *hv, struct snap *snap, size_t i, bool force,
                      size_t *budget)
{
    struct snap_domain *d = snap_domain_mut(snap, i);
    struct lv_dom *e = lv_cache_find(p, d->uuid);

    if (!e || !e->dom)
        return HV_OK;
    force = lv_tunable_take(d->uuid) || force;
    if ((e->cfg_read && !force) || (!e->cfg_read && *budget == 0))
        return HV_OK;
    if (!e->cfg_read)
        (*budget)--;
    return lv_config_read(p, hv, e, snap_domain_name(snap, d));
}

int lv_config_refresh(struct lv *p, struct hv *hv, struct snap *snap)
{
    size_t nd = snap_domain_count(snap), budget = CONFIG_NEW_PER_PERIOD;
    int rc;

    for (size_t i = 0; i < nd; i++)
        if ((rc = maybe_read(p, hv, snap, i, false, &budget)) == HV_CONN)
            return rc;
    for (size_t n = 0; n < CONFIG_REFRESH_PER_PERIOD && n < nd; n++) {
        p->config_cursor = (p->config_cursor + 1) % nd;
        if ((rc = maybe_read(p, hv, snap, p->config_cursor, true, &budget)) == HV_CONN)
            return rc;
    }
    lv_tunable_clear(); /* what is left asks about domains not managed */
    for (size_t i = 0; i < nd; i++) {
        struct snap_domain *d = snap_domain_mut(snap, i);
        const struct lv_dom *e = lv_cache_find(p, d->uuid);
        if (e && lv_config_into(p, e, snap, d) < 0)
            return HV_FAIL;
    }
    return HV_OK;
}
