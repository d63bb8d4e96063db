/* Prints what the libvirt backend puts in a snapshot of URI for the facts no program prints yet:
 * per domain, what its definition declares (<memtune>, <cputune>, the pins of its persistent
 * definition) and the bytes read from its disks, one JSON line per domain. The integration tests
 * read it; it also shows what a real host reports ("snapdump qemu:///system").
 *
 * Usage: snapdump URI [SAMPLES]  (SAMPLES samples 0.2 s apart, the last one printed; default 2)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hv.h"
#include "json.h"
#include "log.h"
#include "report.h"
#include "snapshot.h"
#include "util.h"

/* A memory figure of T in MiB when FLAG says it is declared, else null. */
static void kv_limit(struct json *j, const char *key, const struct snap_tune *t, uint32_t flag,
                     uint64_t kib)
{
    json_key(j, key);
    if (t && (t->flags & flag))
        json_uint(j, kib / UTIL_MIB);
    else
        json_null(j);
}

static void print_tune(struct json *j, const struct snap_tune *t)
{
    kv_limit(j, "hard_limit_mib", t, SNAP_TUNE_HARD_LIMIT, t ? t->hard_limit_kib : 0);
    kv_limit(j, "soft_limit_mib", t, SNAP_TUNE_SOFT_LIMIT, t ? t->soft_limit_kib : 0);
    kv_limit(j, "swap_hard_limit_mib", t, SNAP_TUNE_SWAP_HARD_LIMIT,
             t ? t->swap_hard_limit_kib : 0);
    json_kv_uint(j, "shares", t ? t->shares : 0);
    json_kv_bool(j, "shares_declared", t && (t->flags & SNAP_TUNE_SHARES));
    json_key(j, "vcpu_quota_us");
    if (t && (t->flags & SNAP_TUNE_QUOTA))
        json_uint(j, t->vcpu_quota_us);
    else
        json_null(j);
    json_kv_uint(j, "vcpu_period_us", t ? t->vcpu_period_us : 0);
}

/* The CPU list of each vCPU's defined pin (null where it has none). */
static void print_pins(struct json *j, const struct snap *s, const struct snap_domain *d)
{
    const struct snap_vcpu *v = snap_vcpus(s, d);

    json_key(j, "defined_pins");
    json_array_begin(j);
    for (uint32_t k = 0; k < d->nvcpus; k++) {
        char list[256];
        if (!(v[k].flags & SNAP_VCPU_DEFINED_PIN) || !snap_vcpu_defined_pin(s, d, k)) {
            json_null(j);
            continue;
        }
        util_format_cpulist(snap_vcpu_defined_pin(s, d, k), snap_npcpus(s), list, sizeof(list));
        json_string(j, list);
    }
    json_array_end(j);
}

static void print_domain(const struct snap *s, const struct snap_domain *d)
{
    struct json j;

    json_init(&j, stdout);
    json_object_begin(&j);
    report_domain(&j, s, d);
    json_kv_bool(&j, "config_known", d->cfg & SNAP_CFG_KNOWN);
    print_tune(&j, snap_domain_tune(s, d));
    print_pins(&j, s, d);
    json_key(&j, "rd_bytes");
    if (d->cfg & SNAP_CFG_BLOCK_READ)
        json_uint(&j, d->rd_bytes);
    else
        json_null(&j);
    json_object_end(&j);
    json_end_line(&j);
}

int main(int argc, char **argv)
{
    unsigned what = HV_SAMPLE_CPU | HV_SAMPLE_MEM | HV_SAMPLE_BLOCK;
    int samples = argc > 2 ? atoi(argv[2]) : 2, rc = 1;
    struct snap *s = snap_create();
    struct hv *hv;

    if (argc < 2 || argc > 3 || samples < 1) {
        fprintf(stderr, "usage: snapdump URI [SAMPLES]\n");
        return 2;
    }
    log_set_program("snapdump");
    log_set_level(LOG_ERROR); /* the programs' warnings are theirs to test */
    hv = hv_libvirt_open(argv[1]);
    for (int i = 0; hv && s && i < samples; i++) {
        if (i > 0)
            nanosleep(&(struct timespec){0, 200000000}, NULL);
        if (hv_sample(hv, s, what, NULL, NULL) != HV_OK)
            goto cleanup;
    }
    for (size_t i = 0; hv && s && i < snap_domain_count(s); i++)
        print_domain(s, snap_domain(s, i));
    rc = hv && s ? 0 : 1;
cleanup:
    hv_destroy(hv);
    snap_destroy(s);
    return rc;
}
