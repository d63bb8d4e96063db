/* Output of the vCPU scheduler. */
#include "schedreport.h"

#include "report.h"

/* Above this many pCPUs the human line summarises usage instead of listing it. */
#define LIST_MAX 16

/* The number of online pCPUs of CUR. */
static int online_count(const struct snapshot *cur)
{
    int n = 0;

    for (int p = 0; p < snapshot_npcpus(cur); p++)
        n += snapshot_pcpu_online(cur, p);
    return n;
}

/* Usage of the online pCPUs: listed on small hosts, else summarised. */
static void print_usage(FILE *out, const struct sched_report *rep, const struct snapshot *cur)
{
    int n = online_count(cur);

    if (n <= LIST_MAX) {
        fputs("pCPU usage", out);
        for (int p = 0; p < rep->npcpus; p++)
            if (snapshot_pcpu_online(cur, p))
                fprintf(out, " %.0f", rep->pcpu_usage[p] * 100);
        fputs(" %", out);
    } else {
        double lo = 1, hi = 0, sum = 0;
        for (int p = 0; p < rep->npcpus; p++) {
            double u = rep->pcpu_usage[p];
            if (!snapshot_pcpu_online(cur, p))
                continue;
            lo = u < lo ? u : lo;
            hi = u > hi ? u : hi;
            sum += u;
        }
        fprintf(out, "pCPU usage min/avg/max %.0f/%.0f/%.0f %%", lo * 100, sum / n * 100, hi * 100);
    }
    fprintf(out, " (std dev %.1f)", rep->usage_spread * 100);
}

void schedreport_print_line(FILE *out, const struct sched_report *rep, const struct snapshot *cur,
                            bool dry_run)
{
    fprintf(out, "period %lu: ", rep->period);
    if (rep->baseline) {
        int online = online_count(cur);
        fprintf(out, "baseline of %zu vCPUs in %zu domains on %d pCPUs", rep->nvcpus,
                snapshot_domain_count(cur), online);
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

void schedreport_print_json(FILE *out, const struct sched_report *rep, const struct snapshot *cur,
                            bool dry_run)
{
    struct json j;

    report_begin(&j, out, rep->period, cur, rep->baseline, dry_run);
    json_kv_bool(&j, "usage_measured", rep->usage_measured);
    json_key(&j, "pcpus");
    json_array_begin(&j);
    for (int p = 0; p < rep->npcpus; p++) {
        json_object_begin(&j);
        json_kv_int(&j, "cpu", p);
        json_kv_double(&j, "usage", rep->pcpu_usage[p] * 100, 1);
        json_kv_bool(&j, "online", snapshot_pcpu_online(cur, p));
        json_kv_bool(&j, "usable", rep->pcpu_usable && rep->pcpu_usable[p]);
        json_kv_int(&j, "node", snapshot_pcpu_node(cur, p));
        json_kv_int(&j, "core", snapshot_pcpu_core(cur, p));
        json_object_end(&j);
    }
    json_array_end(&j);
    json_kv_double(&j, "usage_spread", rep->usage_spread * 100, 2);
    json_kv_string(&j, "signal", rep->baseline ? "baseline" : sched_signal_name(rep->signal));
    json_key(&j, "delay_max");
    if (rep->delay_measured)
        json_double(&j, rep->delay_max * 100, 1);
    else
        json_null(&j);
    json_key(&j, "delay_mean");
    if (rep->delay_measured)
        json_double(&j, rep->delay_mean * 100, 1);
    else
        json_null(&j);
    json_kv_double(&j, "demand_spread_before", rep->spread_before * 100, 2);
    json_kv_double(&j, "demand_spread_after", rep->spread_after * 100, 2);
    json_key(&j, "vcpus");
    json_array_begin(&j);
    for (size_t i = 0; i < rep->nvcpus; i++) {
        const struct sched_vcpu_info *v = &rep->vcpus[i];
        json_object_begin(&j);
        report_domain(&j, cur, snapshot_domain(cur, v->domain));
        json_kv_uint(&j, "vcpu", v->vcpu);
        json_kv_double(&j, "run", v->run * 100, 1);
        json_kv_double(&j, "wait", v->wait * 100, 1);
        json_key(&j, "delay");
        if (v->delay >= 0)
            json_double(&j, v->delay * 100, 1);
        else
            json_null(&j);
        json_kv_string(&j, "signal", v->known ? sched_signal_name(v->signal) : "baseline");
        json_kv_double(&j, "demand", v->demand * 100, 1);
        kv_pin(&j, "pin", v->pin);
        kv_pin(&j, "target", v->target);
        kv_pin(&j, "home_node", v->home);
        json_kv_bool(&j, "left_alone", v->left_alone);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "moves");
    json_array_begin(&j);
    for (size_t i = 0; i < rep->nmoves; i++) {
        const struct sched_move *m = &rep->moves[i];
        json_object_begin(&j);
        json_kv_string(&j, "domain", snapshot_domain_name(cur, snapshot_domain(cur, m->domain)));
        json_kv_uint(&j, "vcpu", m->vcpu);
        kv_pin(&j, "from", m->from);
        json_kv_int(&j, "to", m->to);
        kv_pin(&j, "node_from", m->node_from);
        json_kv_int(&j, "node_to", m->node_to);
        json_kv_double(&j, "demand", m->demand * 100, 1);
        json_kv_string(&j, "result", hv_status_name(m->result));
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "domains");
    json_array_begin(&j);
    for (size_t d = 0; d < rep->ndomains; d++) {
        json_object_begin(&j);
        report_domain(&j, cur, snapshot_domain(cur, d));
        json_key(&j, "emulator");
        if (rep->emulator && rep->emulator[d] >= 0)
            json_double(&j, rep->emulator[d] * 100, 1);
        else
            json_null(&j);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_kv_int(&j, "nodes", rep->nnodes);
    json_kv_uint(&j, "crossed_nodes", rep->crossed);
    json_kv_uint(&j, "emulator_pins", rep->emulator_pins);
    json_kv_bool(&j, "pin_floating", rep->pin_floating);
    json_kv_uint(&j, "lower_bound", rep->lower_bound);
    json_kv_bool(&j, "balanced", rep->balanced);
    json_kv_bool(&j, "waiting", rep->waiting);
    report_end(&j, rep->calls);
}
