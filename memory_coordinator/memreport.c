/* Output of the memory coordinator. */
#include "memreport.h"

#include "report.h"
#include "util.h"

void memreport_print_line(FILE *out, const struct coord_report *rep, const struct snapshot *cur,
                          bool dry_run)
{
    (void)cur;
    fprintf(out, "period %lu: ", rep->period);
    if (rep->host_known)
        fprintf(out, "host free %.0f MiB (reserve %.0f)", (double)rep->host_free_kib / UTIL_MIB,
                (double)rep->reserve_kib / UTIL_MIB);
    else
        fputs("host free unknown", out);
    if (rep->baseline) {
        fprintf(out, ", %zu guests: baseline\n", rep->nguests);
        fflush(out);
        return;
    }
    fprintf(out, ", %zu guests, %zu starving", rep->nguests, rep->starving);
    if (rep->changes)
        fprintf(out, "; %s%zu change%s: +%.0f MiB given, -%.0f MiB taken",
                dry_run ? "would make " : "", rep->changes, rep->changes == 1 ? "" : "s",
                (double)rep->granted_kib / UTIL_MIB, (double)rep->reclaimed_kib / UTIL_MIB);
    else
        fputs("; no change", out);
    if (rep->short_of_memory)
        fputs(", short of memory", out);
    if (rep->failed)
        fprintf(out, ", %zu failed", rep->failed);
    fputc('\n', out);
    fflush(out);
}

static void mib(struct json *j, const char *key, uint64_t kib)
{
    json_kv_double(j, key, (double)kib / UTIL_MIB, 1);
}

/* A configuration fact: true/false, or null while the configuration is not read. */
static void cfg_flag(struct json *j, const char *key, bool known, uint32_t set)
{
    json_key(j, key);
    if (known)
        json_bool(j, set != 0);
    else
        json_null(j);
}

/* What guest G (domain D) can use and what its signals and balloon say. */
static void guest_signals(struct json *j, const struct coord_guest *g, const struct snap_domain *d)
{
    bool trusted = g->distrust == COORD_TRUSTED, known = (d->cfg & SNAP_CFG_KNOWN) != 0;

    json_key(j, "headroom_mib");
    if (trusted)
        json_double(j, (double)g->headroom_kib / UTIL_MIB, 1);
    else
        json_null(j);
    json_kv_string(j, "headroom_from", trusted ? memsig_source_name(g->headroom_from) : "none");
    json_key(j, "disk_caches_mib");
    if (trusted && (d->mem.flags & SNAP_MEM_DISK_CACHES))
        json_double(j, (double)d->mem.disk_caches_kib / UTIL_MIB, 1);
    else
        json_null(j);
    json_kv_bool(j, "fresh", g->fresh);
    json_key(j, "major_faults_s");
    if (g->rates_ok)
        json_double(j, g->fault_rate, 2);
    else
        json_null(j);
    json_key(j, "swap_in_kib_s");
    if (g->rates_ok)
        json_double(j, g->swap_in_rate, 1);
    else
        json_null(j);
    json_kv_bool(j, "pressure", g->pressure);
    mib(j, "hold_mib", g->hold_kib);
    cfg_flag(j, "autodeflate", known, d->cfg & SNAP_CFG_AUTODEFLATE);
    cfg_flag(j, "free_page_reporting", known, d->cfg & SNAP_CFG_FREE_PAGE_REPORTING);
    cfg_flag(j, "hugepages", known, d->cfg & SNAP_CFG_HUGEPAGES);
}

void memreport_print_json(FILE *out, const struct coord_report *rep, const struct snapshot *cur,
                          bool dry_run)
{
    struct json j;

    report_begin(&j, out, rep->period, cur, rep->baseline, dry_run);
    json_kv_bool(&j, "host_known", rep->host_known);
    mib(&j, "host_free_mib", rep->host_free_kib);
    mib(&j, "host_total_mib", rep->host_total_kib);
    mib(&j, "host_reserve_mib", rep->reserve_kib);
    json_key(&j, "guests");
    json_array_begin(&j);
    for (size_t i = 0; i < rep->nguests; i++) {
        const struct coord_guest *g = &rep->guests[i];
        json_object_begin(&j);
        report_domain(&j, cur, snapshot_domain(cur, g->domain));
        mib(&j, "actual_mib", g->actual_kib);
        mib(&j, "max_mib", g->max_kib);
        json_key(&j, "unused_mib");
        if (g->distrust == COORD_TRUSTED)
            json_double(&j, (double)g->unused_kib / UTIL_MIB, 1);
        else
            json_null(&j);
        json_kv_double(&j, "rate_mib_s", g->rate_kib_s / UTIL_MIB, 2);
        guest_signals(&j, g, snapshot_domain(cur, g->domain));
        mib(&j, "target_mib", g->target_kib);
        json_kv_string(&j, "reason", mempolicy_reason_name(g->reason));
        json_kv_string(&j, "statistics", coord_distrust_name(g->distrust));
        json_kv_bool(&j, "change", g->change);
        if (g->change)
            json_kv_string(&j, "result", hv_status_name(g->result));
        json_object_end(&j);
    }
    json_array_end(&j);
    json_kv_uint(&j, "starving", rep->starving);
    json_kv_uint(&j, "changes", rep->changes);
    mib(&j, "budget_mib", rep->budget_kib);
    mib(&j, "granted_mib", rep->granted_kib);
    mib(&j, "reclaimed_mib", rep->reclaimed_kib);
    json_kv_bool(&j, "short_of_memory", rep->short_of_memory);
    report_end(&j, rep->calls);
}
