/* Domain lifecycle events: a managed domain that starts wakes the main loop, so that its
 * baseline is sampled at once instead of up to a period later. */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "log.h"
#include "signals.h"

/* Runs in libvirt's event thread (lv_events.c): only reads P's filter, set before registering,
 * and wakes the main thread. */
static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    const struct lv *p = opaque;
    const char *name;

    (void)conn;
    (void)detail;
    if (event != VIR_DOMAIN_EVENT_STARTED)
        return 0;
    name = virDomainGetName(dom);
    if (!name || (p->watch_filter && !p->watch_filter(name, p->watch_arg)))
        return 0;
    log_debug("domain '%s' started", name);
    signals_wake();
    return 0;
}

void lv_watch_register(struct lv *p, struct hv *hv)
{
    int id;

    if (!p->watch || !p->conn || p->watch_registered)
        return;
    hv_count_calls(hv, 1);
    id = virConnectDomainEventRegisterAny(p->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                          VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), p, NULL);
    if (id < 0) {
        log_info("no domain events on this connection (%s); new domains are found every period",
                 lv_error_message());
        virResetLastError();
        return;
    }
    p->watch_id = id;
    p->watch_registered = true;
}

void lv_watch_deregister(struct lv *p)
{
    if (!p->watch_registered)
        return;
    p->watch_registered = false;
    /* On a lost connection this fails; the callback goes with the connection. */
    if (p->conn && virConnectDomainEventDeregisterAny(p->conn, p->watch_id) < 0)
        virResetLastError();
}

int hv_libvirt_watch(struct hv *hv, hv_filter_fn filter, void *arg)
{
    struct lv *p = hv_priv(hv);

    p->watch_filter = filter;
    p->watch_arg = arg;
    p->watch = true;
    lv_watch_register(p, hv);
    return p->watch_registered ? HV_OK : HV_FAIL;
}
