/* Output pieces both programs share. */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <time.h>

#include "cli.h"

void report_begin(struct json *j, FILE *out, unsigned long period_no, const struct snap *cur,
                  bool baseline, bool dry_run)
{
    json_init(j, out);
    json_object_begin(j);
    json_kv_uint(j, "period", period_no);
    json_kv_double(j, "time", (double)snap_time_ns(cur) / 1e9, 3);
    json_kv_bool(j, "baseline", baseline);
    json_kv_bool(j, "dry_run", dry_run);
}

void report_domain(struct json *j, const struct snap *cur, const struct snap_domain *d)
{
    char uuid[SNAP_UUID_STRLEN];

    snap_uuid_format(d->uuid, uuid);
    json_kv_string(j, "domain", snap_domain_name(cur, d));
    json_kv_string(j, "uuid", uuid);
}

void report_end(struct json *j, unsigned long calls)
{
    json_kv_uint(j, "calls", calls);
    json_object_end(j);
    json_end_line(j);
}

void report_meta_count(struct report_meta *meta, unsigned long calls)
{
    meta->periods++;
    meta->calls += calls;
}

/* Seconds since the epoch, for a collector to tell a stale file from a fresh one. */
static double wall_clock_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void report_metrics_common(struct metrics *m, const struct report_meta *meta,
                           const struct snap *cur)
{
    struct metrics_label l[] = {{"program", meta->program}, {"version", cli_version()}};

    metrics_family(m, "vmbalance_build_info", METRICS_GAUGE,
                   "Always 1: the program writing these metrics and its version.");
    metrics_sample(m, l, 2, 1);
    metrics_family(m, "vmbalance_period_seconds", METRICS_GAUGE, "Seconds between two periods.");
    metrics_sample(m, l, 1, meta->period_s);
    metrics_family(m, "vmbalance_last_period_timestamp_seconds", METRICS_GAUGE,
                   "Time of the last period, in seconds since the epoch.");
    metrics_sample(m, l, 1, wall_clock_s());
    metrics_family(m, "vmbalance_dry_run", METRICS_GAUGE,
                   "1 when the program decides but changes nothing (--dry-run).");
    metrics_sample(m, l, 1, meta->dry_run);
    metrics_family(m, "vmbalance_managed_domains", METRICS_GAUGE,
                   "Active domains the program manages.");
    metrics_sample(m, l, 1, (double)snap_domain_count(cur));
    metrics_family(m, "vmbalance_periods_total", METRICS_COUNTER, "Periods run.");
    metrics_sample(m, l, 1, (double)meta->periods);
    metrics_family(m, "vmbalance_hypervisor_calls_total", METRICS_COUNTER,
                   "Round trips to the hypervisor.");
    metrics_sample(m, l, 1, (double)meta->calls);
}

const char *report_label_slug(const char *reason, char *buf, size_t size)
{
    size_t n = 0;
    bool gap = false;

    for (const char *p = reason; *p && n + 2 < size; p++) {
        char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (gap && n > 0)
                buf[n++] = '_';
            buf[n++] = c;
            gap = false;
        } else if (c >= 'A' && c <= 'Z') {
            if (gap && n > 0)
                buf[n++] = '_';
            buf[n++] = (char)(c - 'A' + 'a');
            gap = false;
        } else {
            gap = true;
        }
    }
    buf[n] = '\0';
    return buf;
}
