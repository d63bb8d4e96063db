/* libvirt's errors: silenced on stderr, read as text, and classified as a lost domain, a lost
 * connection or a failure (logged). */
#define _POSIX_C_SOURCE 200809L
#include "lv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "log.h"

static void silent_error(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

void lv_error_silence(void)
{
    virSetErrorFunc(NULL, silent_error);
}

const char *lv_error_message(void)
{
    if (virGetLastErrorCode() == VIR_ERR_OK)
        return "the driver gave no reason";
    return virGetLastErrorMessage();
}

/* Warns that call OP about domain NAME failed, with libvirt's reason. */
static void warn_domain(enum lv_dom_call op, const char *name)
{
    const char *why = lv_error_message();

    switch (op) {
    case LV_CALL_PIN_VCPU:
        log_warning("cannot pin a vCPU of domain '%s': %s", name, why);
        break;
    case LV_CALL_PIN_EMULATOR:
        log_warning("cannot pin the emulator threads of domain '%s': %s", name, why);
        break;
    case LV_CALL_SET_BALLOON:
        log_warning("cannot set the balloon target of domain '%s': %s", name, why);
        break;
    case LV_CALL_READ_AFFINITY:
        log_warning("cannot read the vCPU affinity of domain '%s': %s", name, why);
        break;
    case LV_CALL_READ_CONFIG:
        log_warning("cannot read the configuration of domain '%s': %s", name, why);
        break;
    case LV_CALL_READ_INFO:
        log_warning("cannot read information of domain '%s': %s", name, why);
        break;
    case LV_CALL_READ_VCPUS:
        log_warning("cannot read vCPU statistics of domain '%s': %s", name, why);
        break;
    case LV_CALL_READ_MEMSTATS:
        log_warning("cannot read memory statistics of domain '%s': %s", name, why);
        break;
    case LV_CALL_READ_BLOCK:
        log_warning("cannot read the disk statistics of domain '%s': %s", name, why);
        break;
    }
}

int lv_error_classify_once(struct lv *p, enum lv_dom_call op, const char *name, bool *warned)
{
    int code = virGetLastErrorCode();

    if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID)
        return HV_GONE;
    if (virConnectIsAlive(p->conn) != 1)
        return HV_CONN;
    if (!*warned)
        warn_domain(op, name);
    *warned = true;
    return HV_FAIL;
}

int lv_error_classify(struct lv *p, enum lv_dom_call op, const char *name)
{
    bool warned = false;

    return lv_error_classify_once(p, op, name, &warned);
}

/* Says that host-wide call OP failed: a warning, or a debug line when the connection is LOST
 * (the runner says that). */
static void say_host(enum lv_host_call op, bool lost)
{
    const char *why = lv_error_message();

    switch (op) {
    case LV_CALL_LIST_DOMAINS:
        if (lost)
            log_debug("listing domains failed: %s", why);
        else
            log_warning("cannot list domains: %s", why);
        break;
    case LV_CALL_READ_PCPU_STATS:
        if (lost)
            log_debug("reading per-pCPU statistics failed: %s", why);
        else
            log_warning("cannot read per-pCPU statistics: %s", why);
        break;
    }
}

int lv_error_classify_host(struct lv *p, enum lv_host_call op)
{
    bool lost = virConnectIsAlive(p->conn) != 1;

    say_host(op, lost);
    return lost ? HV_CONN : HV_FAIL;
}
