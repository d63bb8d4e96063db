/* The libvirt implementation of the hypervisor boundary: its ops and the connection. With the
 * other files of common/libvirt/, the only code that includes libvirt. */
#define _POSIX_C_SOURCE 200809L
#include "hv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lv.h"
#include "util.h"

static int lv_sample(struct hv *hv, struct snap *snap, unsigned what, hv_filter_fn filter,
                     void *arg)
{
    struct lv *p = hv_priv(hv);
    struct lv_sampling s = {p, hv, snap, what, p->ndoms, filter, arg};
    bool bulk_done;
    int rc = HV_OK;

    if (!p->conn)
        return HV_CONN;
    if ((what & HV_SAMPLE_CPU) && (rc = lv_host_check_online(p, hv)) != HV_OK)
        return rc;
    s.sorted = p->ndoms; /* the check may have emptied the cache */
    if (snap_reset(snap, util_now_ns(), p->npcpus) < 0)
        return HV_FAIL;
    lv_host_topology_into(p, snap);
    rc = lv_stats_sample_domains(&s, &bulk_done);
    if (rc != HV_OK)
        return rc;
    lv_cache_commit(p);
    rc = lv_config_refresh(p, hv, snap);
    if (rc != HV_OK)
        return rc;
    /* Time of the domain counters; the node counters below are read right after. */
    if (what & HV_SAMPLE_CPU) {
        rc = lv_host_sample_pcpus(p, hv, snap);
        if (rc == HV_OK && bulk_done)
            rc = lv_cache_refresh_affinity(p, hv, snap);
    }
    if (rc == HV_OK && (what & HV_SAMPLE_MEM))
        rc = lv_host_sample_memory(p, hv, snap);
    return rc;
}

static struct lv_dom *entry_for(struct lv *p, const unsigned char *uuid)
{
    struct lv_dom *e = p->conn ? lv_cache_find(p, uuid) : NULL;
    return e && e->dom ? e : NULL;
}

static int lv_set_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                           const unsigned char *map, size_t maplen)
{
    struct lv *p = hv_priv(hv);
    struct lv_dom *e = entry_for(p, uuid);

    if (!e)
        return p->conn ? HV_GONE : HV_CONN;
    hv_count_calls(hv, 1);
    /* virDomainPinVcpu changes the live state; the test driver refuses the Flags variant
     * (docs/EVIDENCE.md#test-driver-pin-flags). */
    if (virDomainPinVcpu(e->dom, vcpu, (unsigned char *)map, (int)maplen) < 0)
        return lv_error_classify(p, LV_CALL_PIN_VCPU, virDomainGetName(e->dom));
    if (e->maps_ok && vcpu < e->nmaps && maplen == p->maplen)
        memcpy(e->maps + (size_t)vcpu * p->maplen, map, maplen);
    return HV_OK;
}

static int lv_get_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                           unsigned char *map, size_t maplen)
{
    struct lv *p = hv_priv(hv);
    struct lv_dom *e = entry_for(p, uuid);

    if (!e || !e->maps_ok || vcpu >= e->nmaps)
        return HV_GONE;
    memset(map, 0, maplen);
    memcpy(map, e->maps + (size_t)vcpu * p->maplen, maplen < p->maplen ? maplen : p->maplen);
    return HV_OK;
}

static int lv_set_emulator_affinity(struct hv *hv, const unsigned char *uuid,
                                    const unsigned char *map, size_t maplen)
{
    struct lv *p = hv_priv(hv);
    struct lv_dom *e = entry_for(p, uuid);

    if (!e)
        return p->conn ? HV_GONE : HV_CONN;
    hv_count_calls(hv, 1);
    if (virDomainPinEmulator(e->dom, (unsigned char *)map, (int)maplen, VIR_DOMAIN_AFFECT_LIVE) < 0)
        return lv_error_classify(p, LV_CALL_PIN_EMULATOR, virDomainGetName(e->dom));
    if (!e->emulator)
        e->emulator = calloc(p->maplen, 1);
    if (e->emulator && maplen == p->maplen)
        memcpy(e->emulator, map, maplen);
    return HV_OK;
}

static int lv_set_memory(struct hv *hv, const unsigned char *uuid, uint64_t kib)
{
    struct lv *p = hv_priv(hv);
    struct lv_dom *e = entry_for(p, uuid);

    if (!e)
        return p->conn ? HV_GONE : HV_CONN;
    if (kib > ULONG_MAX)
        return HV_FAIL;
    hv_count_calls(hv, 1);
    if (virDomainSetMemoryFlags(e->dom, (unsigned long)kib, VIR_DOMAIN_AFFECT_LIVE) < 0)
        return lv_error_classify(p, LV_CALL_SET_BALLOON, virDomainGetName(e->dom));
    return HV_OK;
}

static int lv_enable_memstats(struct hv *hv, const unsigned char *uuid, int period_s)
{
    struct lv *p = hv_priv(hv);
    struct lv_dom *e = entry_for(p, uuid);

    if (!e)
        return p->conn ? HV_GONE : HV_CONN;
    hv_count_calls(hv, 1);
    if (virDomainSetMemoryStatsPeriod(e->dom, period_s, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        int code = virGetLastErrorCode();
        if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID)
            return HV_GONE;
        if (virConnectIsAlive(p->conn) != 1)
            return HV_CONN;
        if (!e->memstats_warned)
            log_warning("cannot enable memory statistics of domain '%s': %s",
                        virDomainGetName(e->dom), lv_error_message());
        e->memstats_warned = true;
        return HV_FAIL;
    }
    return HV_OK;
}

static void disconnect(struct lv *p)
{
    lv_cache_clear(p);
    lv_watch_deregister(p);
    lv_tunable_deregister(p);
    lv_tunable_clear();
    p->shares_probed = false;
    p->default_shares = 0;
    if (p->conn)
        virConnectClose(p->conn);
    p->conn = NULL;
}

/* Opens the connection and reads what does not change while connected. */
static int connect_to(struct lv *p, struct hv *hv)
{
    hv_count_calls(hv, 1);
    p->conn = virConnectOpenAuth(p->uri, virConnectAuthPtrDefault, 0);
    if (!p->conn)
        return -1;
    lv_events_keepalive(p->conn);
    if (lv_host_read_cpus(p, hv) < 0) {
        disconnect(p);
        return -1;
    }
    lv_host_probe(p, hv);
    p->local = lv_host_is_local(p->conn);
    lv_watch_register(p, hv);
    lv_tunable_register(p, hv);
    return 0;
}

static int lv_reconnect(struct hv *hv)
{
    struct lv *p = hv_priv(hv);

    disconnect(p);
    if (connect_to(p, hv) < 0) {
        log_debug("reconnect to '%s' failed: %s", p->uri ? p->uri : "default", lv_error_message());
        return HV_CONN;
    }
    return HV_OK;
}

static void lv_close(struct hv *hv)
{
    struct lv *p = hv_priv(hv);

    if (!p)
        return;
    disconnect(p);
    lv_events_stop();
    free(p->doms);
    free(p->online);
    free(p->node);
    free(p->core);
    free(p->cpumap);
    free(p->cpu_st);
    free(p->mem_st);
    free(p->vinfo);
    free(p->rec_vcpus);
    free(p->uri);
    free(p);
}

static const struct hv_ops lv_ops = {
        .name = "libvirt",
        .sample = lv_sample,
        .set_affinity = lv_set_affinity,
        .get_affinity = lv_get_affinity,
        .set_memory = lv_set_memory,
        .set_emulator_affinity = lv_set_emulator_affinity,
        .enable_memstats = lv_enable_memstats,
        .reconnect = lv_reconnect,
        .close = lv_close,
};

struct hv *hv_libvirt_open(const char *uri)
{
    struct lv *p = calloc(1, sizeof(*p));
    struct hv *hv;

    if (!p)
        return NULL;
    lv_error_silence();
    if (virInitialize() < 0) {
        free(p);
        log_error("cannot initialise libvirt");
        return NULL;
    }
    if (lv_events_start() < 0) {
        free(p);
        log_error("cannot start libvirt's event loop: %s", lv_error_message());
        return NULL;
    }
    if (uri && !(p->uri = strdup(uri))) {
        free(p);
        lv_events_stop();
        return NULL;
    }
    hv = hv_create(&lv_ops, p);
    if (!hv) {
        free(p->uri);
        free(p);
        lv_events_stop();
        return NULL;
    }
    if (connect_to(p, hv) < 0) {
        log_error("cannot connect to '%s': %s", uri ? uri : "the default hypervisor",
                  lv_error_message());
        hv_destroy(hv);
        return NULL;
    }
    return hv;
}
