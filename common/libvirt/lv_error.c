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

int lv_error_classify(struct lv *p, const char *what, const char *name)
{
    int code = virGetLastErrorCode();

    if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID)
        return HV_GONE;
    if (virConnectIsAlive(p->conn) != 1)
        return HV_CONN;
    log_warning("cannot %s of domain '%s': %s", what, name, lv_error_message());
    return HV_FAIL;
}

int lv_error_classify_host(struct lv *p, const char *what)
{
    if (virConnectIsAlive(p->conn) != 1) {
        log_debug("%s failed: %s", what, lv_error_message());
        return HV_CONN;
    }
    log_warning("cannot %s: %s", what, lv_error_message());
    return HV_FAIL;
}
