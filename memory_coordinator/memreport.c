/* Output of the memory coordinator. */
#include "memreport.h"

#include "log.h"
#include "report.h"
#include "util.h"

/* The balloon changes of REP (made, or planned in a DRY_RUN), for the period's line. */
static void print_changes(FILE *out, const struct coord_report *rep, bool dry_run)
{
    double given = (double)rep->granted_kib / UTIL_MIB,
           taken = (double)rep->reclaimed_kib / UTIL_MIB;

    if (rep->changes == 0)
        fputs("; no change", out);
    else if (dry_run && rep->changes == 1)
        fprintf(out, "; would make 1 change: +%.0f MiB given, -%.0f MiB taken", given, taken);
    else if (dry_run)
        fprintf(out, "; would make %zu changes: +%.0f MiB given, -%.0f MiB taken", rep->changes,
                given, taken);
    else if (rep->changes == 1)
        fprintf(out, "; 1 change: +%.0f MiB given, -%.0f MiB taken", given, taken);
    else
        fprintf(out, "; %zu changes: +%.0f MiB given, -%.0f MiB taken", rep->changes, given, taken);
}

void memreport_print_line(FILE *out, const struct coord_report *rep, const struct snap *cur,
                          bool dry_run)
{
    (void)cur;
    fprintf(out, "period %lu: ", rep->period_no);
    if (rep->host_known)
        fprintf(out, "host free %.0f MiB (reserve %.0f)", (double)rep->host_free_kib / UTIL_MIB,
                (double)rep->reserve_kib / UTIL_MIB);
    else
        fputs("host free unknown", out);
    if (rep->baseline && rep->changes == 0 && rep->starving == 0) {
        fprintf(out, ", %zu guests: baseline\n", rep->nguests);
        fflush(out);
        return;
    }
    fprintf(out, ", %zu guests, %zu starving", rep->nguests, rep->starving);
    if (rep->capped)
        fprintf(out, ", %zu capped", rep->capped);
    print_changes(out, rep, dry_run);
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
        json_double(j, (double)g->view->headroom_kib / UTIL_MIB, 1);
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
    json_key(j, "disk_read_mib_s");
    if (g->reads_ok)
        json_double(j, g->read_rate / 1024, 1);
    else
        json_null(j);
    json_kv_bool(j, "pressure", g->view->pressure);
    mib(j, "hold_mib", g->view->hold_kib);
    json_key(j, "memory_limit_mib"); /* <memtune>: the guest's memory cgroup */
    if (g->limit_kib)
        json_double(j, (double)g->limit_kib / UTIL_MIB, 1);
    else
        json_null(j);
    json_key(j, "cap_mib"); /* ... what it leaves the balloon */
    if (g->view->cap_kib)
        json_double(j, (double)g->view->cap_kib / UTIL_MIB, 1);
    else
        json_null(j);
    json_key(j, "soft_limit_mib");
    if (g->view->soft_kib)
        json_double(j, (double)g->view->soft_kib / UTIL_MIB, 1);
    else
        json_null(j);
    json_kv_bool(j, "ignores_balloon", g->view->ignores);
    cfg_flag(j, "autodeflate", known, d->cfg & SNAP_CFG_AUTODEFLATE);
    cfg_flag(j, "free_page_reporting", known, d->cfg & SNAP_CFG_FREE_PAGE_REPORTING);
    cfg_flag(j, "hugepages", known, d->cfg & SNAP_CFG_HUGEPAGES);
}

void memreport_print_json(FILE *out, const struct coord_report *rep, const struct snap *cur,
                          bool dry_run)
{
    struct json j;

    report_begin(&j, out, rep->period_no, cur, rep->baseline, dry_run);
    json_kv_bool(&j, "host_known", rep->host_known);
    mib(&j, "host_free_mib", rep->host_free_kib);
    mib(&j, "host_total_mib", rep->host_total_kib);
    mib(&j, "host_reserve_mib", rep->reserve_kib);
    json_key(&j, "guests");
    json_array_begin(&j);
    for (size_t i = 0; i < rep->nguests; i++) {
        const struct coord_guest *g = &rep->guests[i];
        const struct snap_domain *d = snap_domain(cur, g->domain);
        json_object_begin(&j);
        report_domain(&j, cur, d);
        mib(&j, "actual_mib", d->mem.actual_kib);
        mib(&j, "max_mib", d->mem.max_kib);
        json_key(&j, "unused_mib");
        if (g->distrust == COORD_TRUSTED)
            json_double(&j, (double)d->mem.unused_kib / UTIL_MIB, 1);
        else
            json_null(&j);
        json_kv_double(&j, "rate_mib_s", g->view->rate_kib_s / UTIL_MIB, 2);
        guest_signals(&j, g, d);
        mib(&j, "target_mib", g->decision.target_kib);
        json_kv_string(&j, "reason", mem_reason_name(g->decision.reason));
        json_kv_string(&j, "statistics", coord_distrust_name(g->distrust));
        json_kv_bool(&j, "change", g->decision.change);
        if (g->decision.change)
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

void memreport_count(struct memreport_metrics *mm, const struct coord_report *rep)
{
    report_meta_count(&mm->meta, rep->calls);
    for (size_t i = 0; i < rep->nguests; i++) {
        const struct coord_guest *g = &rep->guests[i];
        if (!g->decision.change)
            continue;
        if (g->result == HV_OK && g->decision.reason < MEMREPORT_REASONS)
            mm->resizes[g->decision.reason]++;
        else if (g->result != HV_OK && g->result != HV_GONE)
            mm->resize_failures++;
    }
}

static double bytes(uint64_t kib)
{
    return (double)kib * 1024;
}

/* A per-guest metric: GET gives the value of guest G (domain D), or false when it has none.
 * Adding a per-guest metric is a getter and a line in guest_families. */
struct guest_family {
    const char *name;
    const char *help;
    bool (*get)(const struct coord_guest *g, const struct snap_domain *d, double *out);
};

static bool guest_actual(const struct coord_guest *g, const struct snap_domain *d, double *out)
{
    (void)g;
    *out = bytes(d->mem.actual_kib);
    return (d->mem.flags & SNAP_MEM_BALLOON) != 0;
}

static bool guest_max(const struct coord_guest *g, const struct snap_domain *d, double *out)
{
    (void)g;
    *out = bytes(d->mem.max_kib);
    return (d->mem.flags & SNAP_MEM_BALLOON) != 0;
}

static bool guest_target(const struct coord_guest *g, const struct snap_domain *d, double *out)
{
    *out = bytes(g->decision.target_kib);
    return (d->mem.flags & SNAP_MEM_BALLOON) != 0;
}

static bool guest_unused(const struct coord_guest *g, const struct snap_domain *d, double *out)
{
    *out = bytes(d->mem.unused_kib);
    return g->distrust == COORD_TRUSTED;
}

static bool guest_usable(const struct coord_guest *g, const struct snap_domain *d, double *out)
{
    *out = bytes(d->mem.usable_kib);
    return g->distrust == COORD_TRUSTED && (d->mem.flags & SNAP_MEM_USABLE);
}

static bool guest_headroom(const struct coord_guest *g, const struct snap_domain *d, double *out)
{
    (void)d;
    *out = bytes(g->view->headroom_kib);
    return g->distrust == COORD_TRUSTED;
}

static const struct guest_family guest_families[] = {
        {"vmbalance_guest_memory_actual_bytes",
         "Balloon size of the guest: the memory it has now (libvirt balloon.current).",
         guest_actual},
        {"vmbalance_guest_memory_maximum_bytes",
         "Largest balloon size of the guest (libvirt balloon.maximum).", guest_max},
        {"vmbalance_guest_memory_target_bytes",
         "Balloon size the coordinator holds the guest to: this period's target, else the "
         "pending one, else its size.",
         guest_target},
        {"vmbalance_guest_memory_unused_bytes",
         "Memory the guest leaves completely unused (its MemFree; trusted statistics only).",
         guest_unused},
        {"vmbalance_guest_memory_usable_bytes",
         "Usable headroom: memory the guest can use without swapping, free plus reclaimable "
         "cache (its MemAvailable; trusted statistics only).",
         guest_usable},
        {"vmbalance_guest_memory_headroom_bytes",
         "Headroom the coordinator decides on: MemAvailable, else MemFree plus disk caches, "
         "else MemFree (docs/METRICS.md; trusted statistics only).",
         guest_headroom},
};

static struct metrics_label domain_label(const struct snap *cur, size_t domain)
{
    return (struct metrics_label){"domain", snap_domain_name(cur, snap_domain(cur, domain))};
}

static void write_guest_family(struct metrics *m, const struct guest_family *f,
                               const struct coord_report *rep, const struct snap *cur)
{
    bool started = false;

    for (size_t i = 0; i < rep->nguests; i++) {
        const struct coord_guest *g = &rep->guests[i];
        struct metrics_label l = domain_label(cur, g->domain);
        double x;

        if (!f->get(g, snap_domain(cur, g->domain), &x))
            continue;
        if (!started)
            metrics_family(m, f->name, METRICS_GAUGE, f->help);
        started = true;
        metrics_sample(m, &l, 1, x);
    }
}

/* Each guest's decision and the trust in its statistics: one series per guest, value 1, whose
 * "reason" label is the current one. */
static void write_guest_states(struct metrics *m, const struct coord_report *rep,
                               const struct snap *cur)
{
    char slug[64];

    if (rep->nguests == 0)
        return;
    metrics_family(m, "vmbalance_guest_memory_state", METRICS_GAUGE,
                   "Always 1: the coordinator's decision for the guest this period, as its reason "
                   "label (keep, starving, starving_short_of_memory, wasteful, idle, ...).");
    for (size_t i = 0; i < rep->nguests; i++) {
        const struct coord_guest *g = &rep->guests[i];
        struct metrics_label l[] = {
                domain_label(cur, g->domain),
                {"reason",
                 report_label_slug(mem_reason_name(g->decision.reason), slug, sizeof(slug))}};
        metrics_sample(m, l, 2, 1);
    }
    metrics_family(m, "vmbalance_guest_statistics_state", METRICS_GAUGE,
                   "Always 1: whether the guest's memory statistics are trusted, as its reason "
                   "label (trusted, no_balloon, no_statistics, stale_statistics, "
                   "impossible_statistics).");
    for (size_t i = 0; i < rep->nguests; i++) {
        const struct coord_guest *g = &rep->guests[i];
        struct metrics_label l[] = {domain_label(cur, g->domain),
                                    {"reason", report_label_slug(coord_distrust_name(g->distrust),
                                                                 slug, sizeof(slug))}};
        metrics_sample(m, l, 2, 1);
    }
}

/* The host's memory; what this period decided about it. */
static void write_host(struct metrics *m, const struct coord_report *rep)
{
    if (rep->host_known) {
        metrics_single(m, "vmbalance_host_memory_free_bytes", METRICS_GAUGE,
                       "Host memory available for guests (the host's MemAvailable).",
                       bytes(rep->host_free_kib));
        metrics_single(m, "vmbalance_host_memory_total_bytes", METRICS_GAUGE, "Host memory.",
                       bytes(rep->host_total_kib));
        metrics_single(m, "vmbalance_host_memory_reserve_bytes", METRICS_GAUGE,
                       "Host free memory never given to guests (--host-reserve).",
                       bytes(rep->reserve_kib));
    }
    if (rep->baseline)
        return;
    metrics_single(m, "vmbalance_host_memory_budget_bytes", METRICS_GAUGE,
                   "Memory the host could give guests this period: free memory above the reserve, "
                   "less what is promised or not backed yet.",
                   bytes(rep->budget_kib));
    metrics_single(m, "vmbalance_host_memory_short", METRICS_GAUGE,
                   "1 when starving guests, with those about to starve, need more than the host "
                   "can give.",
                   rep->short_of_memory);
    metrics_single(m, "vmbalance_guests_starving", METRICS_GAUGE,
                   "Guests below, or about to fall below, their minimum unused memory.",
                   (double)rep->starving);
}

/* What ballooning cannot cover, and the guest to move to another host for it. */
static void write_shortfall(struct metrics *m, const struct coord_report *rep,
                            const struct snap *cur, const struct shortfall *sf)
{
    struct metrics_label l;

    if (!sf->known)
        return;
    metrics_single(m, "vmbalance_host_memory_shortfall_bytes", METRICS_GAUGE,
                   "Memory starving guests need that neither the host nor the other guests can "
                   "give: ballooning is not enough, a guest should move to another host.",
                   bytes(sf->shortfall_kib));
    if (sf->candidate < 0)
        return;
    l = domain_label(cur, rep->guests[sf->candidate].domain);
    metrics_family(m, "vmbalance_migration_candidate_info", METRICS_GAUGE,
                   "Always 1, while there is a shortfall: the guest whose migration would relieve "
                   "the host most (kept unless another beats it clearly for several periods).");
    metrics_sample(m, &l, 1, 1);
    metrics_family(m, "vmbalance_migration_candidate_relief_bytes", METRICS_GAUGE,
                   "How much of the shortfall migrating the candidate would relieve.");
    metrics_sample(m, &l, 1, bytes(sf->relief_kib));
}

static void write_resize_counts(struct metrics *m, const struct memreport_metrics *mm)
{
    char slug[64];

    metrics_family(m, "vmbalance_memory_resizes_total", METRICS_COUNTER,
                   "Balloon targets set, by reason (starving, starving_short_of_memory, wasteful, "
                   "idle, host_short_of_memory).");
    for (int r = 0; r < MEMREPORT_REASONS; r++) {
        if (r == MEM_KEEP || r == MEM_UNTRUSTED || r == MEM_AT_MAX)
            continue; /* reasons that never change a target */
        metrics_sample(m,
                       (const struct metrics_label[]){
                               {"reason", report_label_slug(mem_reason_name((enum mem_reason)r),
                                                            slug, sizeof(slug))}},
                       1, (double)mm->resizes[r]);
    }
    metrics_single(m, "vmbalance_memory_resize_failures_total", METRICS_COUNTER,
                   "Balloon targets the hypervisor refused.", (double)mm->resize_failures);
}

void memreport_write_metrics(struct metrics *m, const struct coord_report *rep,
                             const struct snap *cur, const struct shortfall *sf,
                             const struct memreport_metrics *mm)
{
    metrics_begin(m);
    report_metrics_common(m, &mm->meta, cur);
    write_host(m, rep);
    write_shortfall(m, rep, cur, sf);
    for (size_t f = 0; f < sizeof(guest_families) / sizeof(guest_families[0]); f++)
        write_guest_family(m, &guest_families[f], rep, cur);
    write_guest_states(m, rep, cur);
    write_resize_counts(m, mm);
    metrics_write(m);
}

void memreport_log_shortfall(bool *said, const struct coord_report *rep, const struct snap *cur,
                             const struct shortfall *sf)
{
    if (!sf->known)
        return;
    if (sf->shortfall_kib > 0 && !*said && sf->candidate >= 0) {
        log_warning("starving guests need %.0f MiB more than the host and the other guests can "
                    "give; migrating '%s' to another host would relieve %.0f MiB",
                    (double)sf->shortfall_kib / UTIL_MIB,
                    snap_domain_name(cur, snap_domain(cur, rep->guests[sf->candidate].domain)),
                    (double)sf->relief_kib / UTIL_MIB);
        *said = true;
    } else if (sf->shortfall_kib == 0 && *said) {
        log_info("the memory shortfall is over: ballooning covers what guests need");
        *said = false;
    }
}
