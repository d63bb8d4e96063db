/* Output pieces both programs share. */
#include "report.h"

void report_begin(struct json *j, FILE *out, unsigned long period, const struct snapshot *cur,
                  bool baseline, bool dry_run)
{
    json_init(j, out);
    json_object_begin(j);
    json_kv_uint(j, "period", period);
    json_kv_double(j, "time", (double)snapshot_time_ns(cur) / 1e9, 3);
    json_kv_bool(j, "baseline", baseline);
    json_kv_bool(j, "dry_run", dry_run);
}

void report_domain(struct json *j, const struct snapshot *cur, const struct snap_domain *d)
{
    char uuid[SNAP_UUID_STRLEN];

    snapshot_uuid_format(d->uuid, uuid);
    json_kv_string(j, "domain", snapshot_domain_name(cur, d));
    json_kv_string(j, "uuid", uuid);
}

void report_end(struct json *j, unsigned long calls)
{
    json_kv_uint(j, "calls", calls);
    json_object_end(j);
    json_end_line(j);
}
