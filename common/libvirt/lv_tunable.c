/* Tunable events: a domain whose <cputune> figures change live (virsh schedinfo --live) is read
 * again at the next sample instead of in its turn. libvirt sends none for <memtune> changes:
 * those wait for the domain's turn (docs/EVIDENCE.md#tunable-events). */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "log.h"

/* Domains a sample can be asked to read again; further requests wait for their turn. */
#define TUNABLE_MAX 64

/* The requests, from libvirt's event thread (lv_events.c) to the main thread. */
static struct {
    pthread_mutex_t lock;
    unsigned char uuid[TUNABLE_MAX][SNAP_UUID_LEN];
    size_t n;
    atomic_bool any; /* n > 0: lets a sample skip the lock */
} requests = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* True when PARAMS name a figure lv_tune.c reads (not a pin: every pin change sends one). */
static bool tune_changed(const virTypedParameter *params, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(params[i].field, VIR_DOMAIN_TUNABLE_CPU_CPU_SHARES) == 0 ||
            strcmp(params[i].field, VIR_DOMAIN_TUNABLE_CPU_VCPU_PERIOD) == 0 ||
            strcmp(params[i].field, VIR_DOMAIN_TUNABLE_CPU_VCPU_QUOTA) == 0)
            return true;
    return false;
}

/* Runs in libvirt's event thread: queues DOM to be read again. */
static void on_tunable(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                       int nparams, void *opaque)
{
    unsigned char uuid[SNAP_UUID_LEN];
    bool queued = false;

    (void)conn;
    (void)opaque;
    if (!tune_changed(params, nparams) || virDomainGetUUID(dom, uuid) < 0)
        return;
    pthread_mutex_lock(&requests.lock);
    for (size_t i = 0; i < requests.n && !queued; i++)
        queued = memcmp(requests.uuid[i], uuid, SNAP_UUID_LEN) == 0;
    if (!queued && requests.n < TUNABLE_MAX)
        memcpy(requests.uuid[requests.n++], uuid, SNAP_UUID_LEN);
    atomic_store(&requests.any, requests.n > 0);
    pthread_mutex_unlock(&requests.lock);
}

void lv_tunable_register(struct lv *p, struct hv *hv)
{
    int id;

    if (!p->conn || p->tunable_registered)
        return;
    hv_count_calls(hv, 1);
    id = virConnectDomainEventRegisterAny(p->conn, NULL, VIR_DOMAIN_EVENT_ID_TUNABLE,
                                          VIR_DOMAIN_EVENT_CALLBACK(on_tunable), NULL, NULL);
    if (id < 0) {
        log_debug("no tunable events on this connection (%s); <cputune> changes are seen in "
                  "each domain's turn",
                  lv_error_message());
        virResetLastError();
        return;
    }
    p->tunable_id = id;
    p->tunable_registered = true;
}

void lv_tunable_deregister(struct lv *p)
{
    if (!p->tunable_registered)
        return;
    p->tunable_registered = false;
    /* On a lost connection this fails; the callback goes with the connection. */
    if (p->conn && virConnectDomainEventDeregisterAny(p->conn, p->tunable_id) < 0)
        virResetLastError();
}

bool lv_tunable_take(const unsigned char *uuid)
{
    bool found = false;

    if (!atomic_load(&requests.any))
        return false;
    pthread_mutex_lock(&requests.lock);
    for (size_t i = 0; i < requests.n && !found; i++) {
        if (memcmp(requests.uuid[i], uuid, SNAP_UUID_LEN) != 0)
            continue;
        memmove(requests.uuid[i], requests.uuid[--requests.n], SNAP_UUID_LEN);
        found = true;
    }
    atomic_store(&requests.any, requests.n > 0);
    pthread_mutex_unlock(&requests.lock);
    return found;
}

void lv_tunable_clear(void)
{
    pthread_mutex_lock(&requests.lock);
    requests.n = 0;
    atomic_store(&requests.any, false);
    pthread_mutex_unlock(&requests.lock);
}
