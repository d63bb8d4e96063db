/* Output of the memory coordinator. */
#include "memreport.h"

#include "json.h"

#define MIB 1024.0

void memreport_print_line(FILE *out, const struct coord_report *rep, const struct snapshot *cur,
                          bool dry_run)
{
    (void)cur;
    fprintf(out, "period %lu: ", rep->period);
    if (rep->host_known)
        fprintf(out, "host free %.0f MiB (reserve %.0f)", (double)rep->host_free_kib / MIB,
                (double)rep->reserve_kib / MIB);
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
                (double)rep->granted_kib / MIB, (double)rep->reclaimed_kib / MIB);
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
    json_key(j, key);
    json_double(j, (double)kib / MIB, 1);
}

void memreport_print_json(FILE *out, const struct coord_report *rep, const struct snapshot *cur,
                          bool dry_run)
{
    struct json j;
    char uuid[SNAP_UUID_STRLEN];

    json_init(&j, out);
    json_object_begin(&j);
    json_key(&j, "period");
    json_uint(&j, rep->period);
    json_key(&j, "time");
    json_double(&j, (double)snapshot_time_ns(cur) / 1e9, 3);
    json_key(&j, "baseline");
    json_bool(&j, rep->baseline);
    json_key(&j, "dry_run");
    json_bool(&j, dry_run);
    json_key(&j, "host_known");
    json_bool(&j, rep->host_known);
    mib(&j, "host_free_mib", rep->host_free_kib);
    mib(&j, "host_total_mib", rep->host_total_kib);
    mib(&j, "host_reserve_mib", rep->reserve_kib);
    json_key(&j, "guests");
    json_array_begin(&j);
    for (size_t i = 0; i < rep->nguests; i++) {
        const struct coord_guest *g = &rep->guests[i];
        const struct snap_domain *d = snapshot_domain(cur, g->domain);
        json_object_begin(&j);
        json_key(&j, "domain");
        json_string(&j, snapshot_domain_name(cur, d));
        snapshot_uuid_format(d->uuid, uuid);
        json_key(&j, "uuid");
        json_string(&j, uuid);
        mib(&j, "actual_mib", g->actual_kib);
        mib(&j, "max_mib", g->max_kib);
        json_key(&j, "unused_mib");
        if (g->distrust == COORD_TRUSTED)
            json_double(&j, (double)g->unused_kib / MIB, 1);
        else
            json_null(&j);
        json_key(&j, "rate_mib_s");
        json_double(&j, g->rate_kib_s / MIB, 2);
        mib(&j, "target_mib", g->target_kib);
        json_key(&j, "reason");
        json_string(&j, mempolicy_reason_name(g->reason));
        json_key(&j, "statistics");
        json_string(&j, coord_distrust_name(g->distrust));
        json_key(&j, "change");
        json_bool(&j, g->change);
        if (g->change) {
            json_key(&j, "result");
            json_string(&j, g->result == HV_OK     ? "ok"
                            : g->result == HV_GONE ? "domain gone"
                                                   : "failed");
        }
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "starving");
    json_uint(&j, rep->starving);
    json_key(&j, "changes");
    json_uint(&j, rep->changes);
    mib(&j, "granted_mib", rep->granted_kib);
    mib(&j, "reclaimed_mib", rep->reclaimed_kib);
    json_key(&j, "short_of_memory");
    json_bool(&j, rep->short_of_memory);
    json_key(&j, "calls");
    json_uint(&j, rep->calls);
    json_object_end(&j);
    json_end_line(&j);
}
