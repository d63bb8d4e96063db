/* The hypervisor boundary: dispatch through the ops table. */
#include "hv.h"

#include <stdlib.h>
#include <string.h>

struct hv {
    const struct hv_ops *ops;
    void *priv;
    unsigned long calls;
};

const char *hv_status_name(int status)
{
    switch (status) {
    case HV_OK:
        return "ok";
    case HV_GONE:
        return "domain gone";
    case HV_CONN:
        return "connection lost";
    default:
        return "failed";
    }
}

struct hv *hv_create(const struct hv_ops *ops, void *priv)
{
    struct hv *hv = calloc(1, sizeof(*hv));

    if (!hv)
        return NULL;
    hv->ops = ops;
    hv->priv = priv;
    return hv;
}

void hv_destroy(struct hv *hv)
{
    if (!hv)
        return;
    if (hv->ops->close)
        hv->ops->close(hv);
    free(hv);
}

void *hv_priv(struct hv *hv)
{
    return hv->priv;
}

void hv_count_calls(struct hv *hv, unsigned long n)
{
    hv->calls += n;
}

unsigned long hv_calls(const struct hv *hv)
{
    return hv->calls;
}

int hv_sample(struct hv *hv, struct snap *snap, unsigned what, hv_filter_fn filter, void *arg)
{
    int rc = hv->ops->sample(hv, snap, what, filter, arg);

    if (rc == HV_OK)
        snap_finalize(snap);
    return rc;
}

int hv_pin_vcpu(struct hv *hv, const unsigned char *uuid, uint32_t vcpu, int pcpu, int npcpus)
{
    unsigned char stackmap[64];
    size_t len = hv_maplen(npcpus);
    unsigned char *map = len <= sizeof(stackmap) ? stackmap : calloc(len, 1);
    int rc;

    if (!map)
        return HV_FAIL;
    if (pcpu < 0 || pcpu >= npcpus) {
        rc = HV_FAIL;
        goto cleanup;
    }
    memset(map, 0, len);
    map[pcpu / 8] = (unsigned char)(1u << (pcpu % 8));
    rc = hv->ops->set_affinity(hv, uuid, vcpu, map, len);
cleanup:
    if (map != stackmap)
        free(map);
    return rc;
}

int hv_set_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu,
                    const unsigned char *map, size_t maplen)
{
    return hv->ops->set_affinity(hv, uuid, vcpu, map, maplen);
}

int hv_get_affinity(struct hv *hv, const unsigned char *uuid, uint32_t vcpu, unsigned char *map,
                    size_t maplen)
{
    return hv->ops->get_affinity(hv, uuid, vcpu, map, maplen);
}

int hv_set_emulator_affinity(struct hv *hv, const unsigned char *uuid, const unsigned char *map,
                             size_t maplen)
{
    return hv->ops->set_emulator_affinity ? hv->ops->set_emulator_affinity(hv, uuid, map, maplen)
                                          : HV_FAIL;
}

int hv_set_memory(struct hv *hv, const unsigned char *uuid, uint64_t kib)
{
    return hv->ops->set_memory(hv, uuid, kib);
}

int hv_enable_memstats(struct hv *hv, const unsigned char *uuid, int period_s)
{
    return hv->ops->enable_memstats(hv, uuid, period_s);
}

int hv_reconnect(struct hv *hv)
{
    return hv->ops->reconnect ? hv->ops->reconnect(hv) : HV_CONN;
}
