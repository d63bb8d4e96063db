/* Output of the vCPU scheduler. */
#include "schedreport.h"

#include <math.h>

#include "report.h"
#include "util.h"

/* Above this many pCPUs the human line summarises usage instead of listing it. */
#define LIST_MAX 16

/* The number of online pCPUs of CUR. */
static int online_count(const struct snap *cur)
{
    int n = 0;

    for (int p = 0; p < snap_npcpus(cur); p++)
        n += snap_pcpu_online(cur, p);
    return n;
}

/* Usage of the online pCPUs: listed on small hosts, else summarised. */
static void print_usage(FILE *out, const struct sched_report *rep, const struct snap *cur)
{
    int n = online_count(cur);

    if (n <= LIST_MAX) {
        fputs("pCPU usage", out);
        for (int p = 0; p < rep->npcpus; p++)
            if (snap_pcpu_online(cur, p))
                fprintf(out, " %.0f", rep->pcpu_usage[p] * 100);
        fputs(" %", out);
    } else {
        double lo = 1, hi = 0, sum = 0;
        for (int p = 0; p < rep->npcpus; p++) {
            double u = rep->pcpu_usage[p];
            if (!snap_pcpu_online(cur, p))
                continue;
            lo = u < lo ? u : lo;
            hi = u > hi ? u : hi;
            sum += u;
        }
        fprintf(out, "pCPU usage min/avg/max %.0f/%.0f/%.0f %%", lo * 100, sum / n * 100, hi * 100);
    }
    fprintf(out, " (std dev %.1f)", rep->usage_spread * 100);
}

void schedreport_print_line(FILE *out, const struct sched_report *rep, const struct snap *cur,
                            bool dry_run)
{
    fprintf(out, "period %lu: ", rep->period_no);
    if (rep->baseline) {
        int online = online_count(cur);
        fprintf(out, "baseline of %zu vCPUs in %zu domains on %d pCPUs", rep->nvcpus,
                snap_domain_count(cur), online);
        if (online < rep->npcpus)
            fprintf(out, " (%d offline)", rep->npcpus - online);
        if (rep->nnodes > 1)
            fprintf(out, " in %d NUMA nodes", rep->nnodes);
        fputc('\n', out);
        fflush(out);
        return;
    }
    print_usage(out, rep, cur);
    fprintf(out, ", %zu vCPUs", rep->nvcpus);
    if (rep->delay_measured)
        fprintf(out, " (delay max %.0f %%, mean %.0f %%)", rep->delay_max * 100,
                rep->delay_mean * 100);
    fputs(": ", out);
    if (rep->balanced)
        fputs("balanced, no change", out);
    else if (rep->waiting)
        fprintf(out, "demand std dev %.1f, no change unless it lasts", rep->spread_before * 100);
    else
        fprintf(out, "%s%zu pin change%s (minimum %zu), demand std dev %.1f -> %.1f",
                dry_run ? "would make " : "", rep->nmoves, rep->nmoves == 1 ? "" : "s",
                rep->lower_bound, rep->spread_before * 100, rep->spread_after * 100);
    if (rep->failed)
        fprintf(out, ", %zu failed", rep->failed);
    fputc('\n', out);
    fflush(out);
}

static void kv_pin(struct json *j, const char *key, int pin)
{
    json_key(j, key);
    if (pin >= 0)
        json_int(j, pin);
    else
        json_null(j);
}

/* A percentage, or null (json writes NAN as null) when not measured. */
static double pct_or_null(bool measured, double fraction)
{
    return measured ? fraction * 100 : NAN;
}

static void json_pcpus(struct json *j, const struct sched_report *rep, const struct snap *cur)
{
    json_key(j, "pcpus");
    json_array_begin(j);
    for (int p = 0; p < rep->npcpus; p++) {
        json_object_begin(j);
        json_kv_int(j, "cpu", p);
        json_kv_double(j, "usage", rep->pcpu_usage[p] * 100, 1);
        json_kv_bool(j, "online", snap_pcpu_online(cur, p));
        json_kv_bool(j, "usable", rep->pcpu_usable && rep->pcpu_usable[p]);
        json_kv_int(j, "node", snap_pcpu_node(cur, p));
        json_kv_int(j, "core", snap_pcpu_core(cur, p));
        json_object_end(j);
    }
    json_array_end(j);
}

/* Why vCPU V (sampled as SV, of domain D) is left alone, or NULL when it is not. */
static const char *left_alone_why(const struct sched_vcpu_info *v, const struct snap_vcpu *sv,
                                  const struct snap_domain *d)
{
    if (!v->left_alone)
        return NULL;
    if (v->fixed)
        return "pinned in its definition";
    if (sv->flags & SNAP_VCPU_OFFLINE)
        return "offline";
    if (!(d->cfg & SNAP_CFG_KNOWN))
        return "configuration not read yet";
    return "no usable pCPU allowed";
}

/* What vCPU V of domain D declares: its definition's pin, weight and quota, and what the plan
 * counted for it. */
static void json_declared(struct json *j, const struct sched_vcpu_info *v, const struct snap *cur,
                          const struct snap_domain *d)
{
    const struct snap_vcpu *sv = &snap_vcpus(cur, d)[v->vcpu];
    const char *why = left_alone_why(v, sv, d);
    char list[256];

    json_key(j, "left_alone_why");
    if (why)
        json_string(j, why);
    else
        json_null(j);
    json_kv_bool(j, "fixed", v->fixed);
    json_key(j, "defined_pin");
    if (sv->flags & SNAP_VCPU_DEFINED_PIN && snap_vcpu_defined_pin(cur, d, v->vcpu)) {
        util_format_cpulist(snap_vcpu_defined_pin(cur, d, v->vcpu), snap_npcpus(cur), list,
                            sizeof(list));
        json_string(j, list);
    } else {
        json_null(j);
    }
    json_kv_double(j, "shares", v->weight, 0);
    json_kv_double(j, "cap", pct_or_null(v->cap < 1, v->cap), 1);
    json_kv_bool(j, "capped", v->capped);
    json_kv_double(j, "share", v->share * 100, 1);
}

static void json_vcpus(struct json *j, const struct sched_report *rep, const struct snap *cur)
{
    json_key(j, "vcpus");
    json_array_begin(j);
    for (size_t i = 0; i < rep->nvcpus; i++) {
        const struct sched_vcpu_info *v = &rep->vcpus[i];
        json_object_begin(j);
        report_domain(j, cur, snap_domain(cur, v->domain));
        json_kv_uint(j, "vcpu", v->vcpu);
        json_kv_double(j, "run", v->run * 100, 1);
        json_kv_double(j, "wait", v->wait * 100, 1);
        json_kv_double(j, "delay", pct_or_null(v->delay >= 0, v->delay), 1);
        json_kv_string(j, "signal", v->known ? sched_signal_name(v->signal) : "baseline");
        json_kv_double(j, "demand", v->demand * 100, 1);
        kv_pin(j, "pin", v->pin);
        kv_pin(j, "target", v->target);
        kv_pin(j, "home_node", v->home);
        json_kv_bool(j, "left_alone", v->left_alone);
        json_declared(j, v, cur, snap_domain(cur, v->domain));
        json_object_end(j);
    }
    json_array_end(j);
}

static void json_moves(struct json *j, const struct sched_report *rep, const struct snap *cur)
{
    json_key(j, "moves");
    json_array_begin(j);
    for (size_t i = 0; i < rep->nmoves; i++) {
        const struct sched_move *m = &rep->moves[i];
        json_object_begin(j);
        json_kv_string(j, "domain", snap_domain_name(cur, snap_domain(cur, m->domain)));
        json_kv_uint(j, "vcpu", m->vcpu);
        kv_pin(j, "from", m->from);
        json_kv_int(j, "to", m->to);
        kv_pin(j, "node_from", m->node_from);
        json_kv_int(j, "node_to", m->node_to);
        json_kv_double(j, "demand", m->demand * 100, 1);
        json_kv_string(j, "result", hv_status_name(m->result));
        json_object_end(j);
    }
    json_array_end(j);
}

/* Domain D's <cputune> figures: its CPU shares (declared or the host's default), its vCPU
 * quota as a percentage of a pCPU. */
static void json_cputune(struct json *j, const struct snap *cur, const struct snap_domain *d)
{
    const struct snap_tune *t = snap_domain_tune(cur, d);
    bool quota = t && (t->flags & SNAP_TUNE_QUOTA) && t->vcpu_period_us > 0;

    json_key(j, "shares");
    if (t && t->shares)
        json_uint(j, t->shares);
    else
        json_null(j);
    json_kv_bool(j, "shares_declared", t && (t->flags & SNAP_TUNE_SHARES));
    json_kv_double(j, "vcpu_quota",
                   pct_or_null(quota, quota ? (double)t->vcpu_quota_us / t->vcpu_period_us : 0), 1);
}

static void json_domains(struct json *j, const struct sched_report *rep, const struct snap *cur)
{
    json_key(j, "domains");
    json_array_begin(j);
    for (size_t d = 0; d < rep->ndomains; d++) {
        json_object_begin(j);
        report_domain(j, cur, snap_domain(cur, d));
        json_kv_double(j, "emulator",
                       pct_or_null(rep->emulator && rep->emulator[d] >= 0,
                                   rep->emulator ? rep->emulator[d] : 0),
                       1);
        json_cputune(j, cur, snap_domain(cur, d));
        json_object_end(j);
    }
    json_array_end(j);
}

void schedreport_print_json(FILE *out, const struct sched_report *rep, const struct snap *cur,
                            bool dry_run)
{
    struct json j;

    report_begin(&j, out, rep->period_no, cur, rep->baseline, dry_run);
    json_kv_bool(&j, "usage_measured", rep->usage_measured);
    json_pcpus(&j, rep, cur);
    json_kv_double(&j, "usage_spread", rep->usage_spread * 100, 2);
    json_kv_string(&j, "signal", rep->baseline ? "baseline" : sched_signal_name(rep->signal));
    json_kv_double(&j, "delay_max", pct_or_null(rep->delay_measured, rep->delay_max), 1);
    json_kv_double(&j, "delay_mean", pct_or_null(rep->delay_measured, rep->delay_mean), 1);
    json_kv_double(&j, "demand_spread_before", rep->spread_before * 100, 2);
    json_kv_double(&j, "demand_spread_after", rep->spread_after * 100, 2);
    json_vcpus(&j, rep, cur);
    json_moves(&j, rep, cur);
    json_domains(&j, rep, cur);
    json_kv_int(&j, "nodes", rep->nnodes);
    json_kv_uint(&j, "crossed_nodes", rep->crossed);
    json_kv_uint(&j, "emulator_pins", rep->emulator_pins);
    json_kv_bool(&j, "pin_floating", rep->pin_floating);
    json_kv_uint(&j, "lower_bound", rep->lower_bound);
    json_kv_bool(&j, "balanced", rep->balanced);
    json_kv_bool(&j, "waiting", rep->waiting);
    report_end(&j, rep->calls);
}

void schedreport_count(struct schedreport_metrics *sm, const struct sched_report *rep)
{
    report_meta_count(&sm->meta, rep->calls);
    for (size_t i = 0; i < rep->nmoves; i++) {
        const struct sched_move *mv = &rep->moves[i];
        if (mv->result == HV_OK)
            sm->pins[mv->from < 0 ? SCHEDREPORT_PIN_FLOATING : SCHEDREPORT_PIN_BALANCE]++;
        else if (mv->result != HV_GONE)
            sm->pin_failures++;
    }
}

/* A per-vCPU metric: GET gives the value of vCPU V (sampled as SV), or false when it has none
 * this period. Adding a per-vCPU metric is a getter and a line in vcpu_families. */
struct vcpu_family {
    const char *name;
    enum metrics_type type;
    const char *help;
    bool (*get)(const struct sched_vcpu_info *v, const struct snap_vcpu *sv, double *out);
};

static bool vcpu_run(const struct sched_vcpu_info *v, const struct snap_vcpu *sv, double *out)
{
    (void)sv;
    *out = v->run;
    return v->known;
}

static bool vcpu_delay(const struct sched_vcpu_info *v, const struct snap_vcpu *sv, double *out)
{
    (void)sv;
    *out = v->delay;
    return v->known && v->delay >= 0;
}

static bool vcpu_demand(const struct sched_vcpu_info *v, const struct snap_vcpu *sv, double *out)
{
    (void)sv;
    *out = v->demand;
    return v->known;
}

static bool vcpu_pin(const struct sched_vcpu_info *v, const struct snap_vcpu *sv, double *out)
{
    (void)sv;
    *out = v->pin;
    return true;
}

static bool vcpu_time(const struct sched_vcpu_info *v, const struct snap_vcpu *sv, double *out)
{
    (void)v;
    *out = (double)sv->time_ns / 1e9;
    return true;
}

static bool vcpu_delay_total(const struct sched_vcpu_info *v, const struct snap_vcpu *sv,
                             double *out)
{
    (void)v;
    *out = (double)sv->delay_ns / 1e9;
    return (sv->flags & SNAP_VCPU_DELAY) != 0;
}

static const struct vcpu_family vcpu_families[] = {
        {"vmbalance_vcpu_usage_ratio", METRICS_GAUGE,
         "Fraction of one pCPU the vCPU ran in the last period.", vcpu_run},
        {"vmbalance_vcpu_delay_ratio", METRICS_GAUGE,
         "Fraction of the last period the vCPU was runnable but waited for a pCPU: the steal "
         "time its guest sees (CPU ready).",
         vcpu_delay},
        {"vmbalance_vcpu_demand_ratio", METRICS_GAUGE,
         "Estimated demand of the vCPU (smoothed), as a fraction of one pCPU.", vcpu_demand},
        {"vmbalance_vcpu_pin", METRICS_GAUGE,
         "The pCPU the vCPU is pinned to, or -1 when its affinity allows several.", vcpu_pin},
        {"vmbalance_vcpu_time_seconds_total", METRICS_COUNTER,
         "Time the vCPU ran (libvirt vcpu.N.time).", vcpu_time},
        {"vmbalance_vcpu_delay_seconds_total", METRICS_COUNTER,
         "Time the vCPU waited in the host's run queue (libvirt vcpu.N.delay): the steal time "
         "its guest sees.",
         vcpu_delay_total},
};

static void write_vcpu_family(struct metrics *m, const struct vcpu_family *f,
                              const struct sched_report *rep, const struct snap *cur)
{
    const struct snap_vcpu *sv = snap_all_vcpus(cur);
    bool started = false;

    for (size_t i = 0; i < rep->nvcpus; i++) {
        const struct sched_vcpu_info *v = &rep->vcpus[i];
        char id[16];
        double x;

        if (!f->get(v, &sv[i], &x))
            continue;
        if (!started)
            metrics_family(m, f->name, f->type, f->help);
        started = true;
        snprintf(id, sizeof(id), "%u", v->vcpu);
        metrics_sample(m,
                       (const struct metrics_label[]){
                               {"domain", snap_domain_name(cur, snap_domain(cur, v->domain))},
                               {"vcpu", id}},
                       2, x);
    }
}

/* The host-wide figures of the period: per-pCPU usage, how balanced it is. */
static void write_pcpus(struct metrics *m, const struct sched_report *rep,
                        const struct schedreport_metrics *sm)
{
    metrics_single(m, "vmbalance_balance_threshold_ratio", METRICS_GAUGE,
                   "The balance tolerance (--threshold): the largest acceptable standard deviation "
                   "of pCPU load, as a fraction of one pCPU.",
                   sm->threshold);
    if (rep->baseline)
        return;
    metrics_family(m, "vmbalance_pcpu_usage_ratio", METRICS_GAUGE,
                   "Fraction of the last period the pCPU was busy.");
    for (int p = 0; p < rep->npcpus; p++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", p);
        metrics_sample(m, (const struct metrics_label[]){{"pcpu", id}}, 1, rep->pcpu_usage[p]);
    }
    metrics_single(m, "vmbalance_pcpu_usage_spread_ratio", METRICS_GAUGE,
                   "Standard deviation of pCPU usage in the last period, as a fraction of one "
                   "pCPU: how far from balanced the host is.",
                   rep->usage_spread);
    metrics_single(m, "vmbalance_pcpu_balanced", METRICS_GAUGE,
                   "1 when the last period found nothing to change: balanced within the threshold, "
                   "or no pin change would help.",
                   rep->balanced);
}

static void write_pin_counts(struct metrics *m, const struct schedreport_metrics *sm)
{
    static const char *const reasons[SCHEDREPORT_PINS] = {"balance", "floating"};

    metrics_family(m, "vmbalance_vcpu_pin_changes_total", METRICS_COUNTER,
                   "vCPU pin changes made, by reason: balance (moved from another pCPU) or "
                   "floating (a busy vCPU allowed on several pCPUs pinned to one).");
    for (int r = 0; r < SCHEDREPORT_PINS; r++)
        metrics_sample(m, (const struct metrics_label[]){{"reason", reasons[r]}}, 1,
                       (double)sm->pins[r]);
    metrics_single(m, "vmbalance_vcpu_pin_failures_total", METRICS_COUNTER,
                   "vCPU pin changes the hypervisor refused.", (double)sm->pin_failures);
}

void schedreport_write_metrics(struct metrics *m, const struct sched_report *rep,
                               const struct snap *cur, const struct schedreport_metrics *sm)
{
    metrics_begin(m);
    report_metrics_common(m, &sm->meta, cur);
    write_pcpus(m, rep, sm);
    for (size_t f = 0; f < sizeof(vcpu_families) / sizeof(vcpu_families[0]); f++)
        write_vcpu_family(m, &vcpu_families[f], rep, cur);
    write_pin_counts(m, sm);
    metrics_write(m);
}
